"""Validation of canonical stores and in-memory networks, as a list of located findings.

:func:`validate_store` checks a store file against ``docs/store.md`` (layout, table integrity,
CSR indexes, references between tables and model documents, results); :func:`check_network`
applies the same logical checks to an in-memory :class:`~nethub.network.Network`. Neither
raises for bad input: every problem becomes a :class:`Finding` naming where it is.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from .celltypes import Population, StimSource, SynMech, cell_type_from_dict
from .errors import NethubError
from .mechsource import mod_file_findings
from .network import TABLE_SCHEMAS, Network
from .ranges import ValueHook, cell_type_findings, column_findings
from .results import TRACE_COLUMNS
from .schemachecks import check_files_group, kind_of, point_type_names, table_checks
from .store import INDEXED, MODEL_DOCS, RUN_DOCS, open_store, read_network
from .storemaint import storage_findings
from .table import Categorical, ColumnSpec, Ragged, Table
from .verifycheck import integrity_findings

__all__ = ["Finding", "validate_store", "check_network", "ERROR", "WARNING"]

ERROR = "error"
WARNING = "warning"

#: Categorical columns whose used values must name an entry of a model document.
NAME_REFS = (
    ("cells", "pop", "populations"),
    ("cells", "cell_type", "cell_types"),
    ("connections", "syn_mech", "syn_mechs"),
    ("pointer_conns", "syn_mech", "syn_mechs"),
    ("stim_targets", "source", "stim_sources"),
    ("stim_targets", "syn_mech", "syn_mechs"),
)
#: Columns whose values must be gids of the cells table.
GID_REFS = (
    ("connections", "pre_gid"),
    ("connections", "post_gid"),
    ("pointer_conns", "pre_gid"),
    ("pointer_conns", "post_gid"),
    ("stim_targets", "gid"),
)
_MODEL_FROM_DICT = {"syn_mechs": SynMech.from_dict, "populations": Population.from_dict,
                    "stim_sources": StimSource.from_dict, "cell_types": cell_type_from_dict}
_SHOW = 5  # how many offending values a message lists


@dataclass(frozen=True)
class Finding:
    """One problem: ``level`` is ``'error'`` (readers fail or the model is inconsistent) or
    ``'warning'`` (readable, but suspicious); ``path`` is the HDF5 path (stores) or
    ``table/column`` (in-memory networks)."""

    level: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()} {self.path}: {self.message}"


class _Report:
    def __init__(self) -> None:
        self.findings: list[Finding] = []

    def error(self, path: str, message: str) -> None:
        self.findings.append(Finding(ERROR, path, message))

    def warning(self, path: str, message: str) -> None:
        self.findings.append(Finding(WARNING, path, message))

    @property
    def n_errors(self) -> int:
        return sum(f.level == ERROR for f in self.findings)

    @contextlib.contextmanager
    def guard(self, path: str) -> Iterator[None]:
        """Turn any exception in the body into an error finding at ``path``."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a validator reports, it never raises
            self.error(path, f"cannot be checked ({type(exc).__name__}: {exc})")


@dataclass
class _TableView:
    """Lazily loaded columns of one table, each with the path findings should name."""

    n: int
    paths: dict[str, str] = field(default_factory=dict)
    loaders: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.loaders[name]() if name in self.loaders else None


def _first(values: np.ndarray | list) -> str:
    vals = list(values[:_SHOW])
    more = ", ..." if len(values) > _SHOW else ""
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in vals) + more


def _check_declared(rep: _Report, path: str, name: str, spec: ColumnSpec, kind: str) -> None:
    want = spec.kind if spec.kind in ("category", "ragged") else np.dtype(spec.kind).name
    if kind != want:
        rep.error(path, f"declared column '{name}' must be {want}, found {kind}")


# ============================================================================ logical checks
def _check_gids(rep: _Report, path: str, gids: np.ndarray, must_sort: bool) -> None:
    if gids.dtype.kind not in "iu":
        rep.error(path, f"gids must be integers, found {gids.dtype}")
        return
    if must_sort and len(gids) > 1 and np.any(gids[1:] < gids[:-1]):
        rep.error(path, "the cells table is not sorted by gid")
    uniq, counts = np.unique(gids, return_counts=True)
    if np.any(counts > 1):
        rep.error(path, f"duplicate gid(s): {_first(uniq[counts > 1])}")


def _check_refs(rep: _Report, gids: np.ndarray | None, views: Mapping[str, _TableView],
                names: Mapping[str, set[str] | None], where: Callable[[str], str]) -> None:
    """Gid columns must hold gids of the cells table; name columns names of model entries."""
    if gids is not None:
        known = np.unique(gids)
        for tname, cname in GID_REFS:
            view = views.get(tname)
            if view is None or cname not in view.paths:
                continue
            with rep.guard(view.paths[cname]):
                vals = np.asarray(view.get(cname))
                bad = np.unique(vals[~np.isin(vals, known)])
                if len(bad):
                    rep.error(view.paths[cname], f"{len(bad)} {cname} value(s) not in the cells "
                              f"table: {_first(bad)}")
    for tname, cname, doc in NAME_REFS:
        view, model = views.get(tname), names.get(doc)
        if view is None or model is None or cname not in view.paths:
            continue
        with rep.guard(view.paths[cname]):
            col = view.get(cname)
            if not isinstance(col, Categorical):
                continue  # a wrongly typed column is reported by the structural checks
            used = [col.categories[i] for i in np.unique(col.codes[col.codes >= 0])]
            missing = [u for u in used if u not in model]
            if missing:
                rep.error(view.paths[cname], f"{cname} name(s) {_first(missing)} not in "
                          f"{where(doc)} (known: {', '.join(sorted(model)) or 'none'})")


def _check_model_entries(rep: _Report, doc: str, entries: Any, path: str) -> set[str] | None:
    """Parse one model document (cell_types, syn_mechs, ...); returns its names if usable."""
    if not isinstance(entries, dict):
        rep.error(path, f"{doc} must be a JSON object of name to entry, "
                  f"found {type(entries).__name__}")
        return None
    for key, entry in entries.items():
        try:
            obj = _MODEL_FROM_DICT[doc](dict(entry))
        except Exception as exc:  # noqa: BLE001
            rep.error(path, f"{doc} entry {key!r} does not parse ({type(exc).__name__}: {exc})")
            continue
        if obj.name != key:
            rep.warning(path, f"{doc} entry {key!r} is named {obj.name!r} inside")
    return set(entries)


def _check_population_types(rep: _Report, pops: Any, cell_types: set[str] | None,
                            path: str) -> None:
    if not isinstance(pops, dict) or cell_types is None:
        return
    for key, p in pops.items():
        ct = p.get("cell_type") if isinstance(p, dict) else getattr(p, "cell_type", None)
        if ct is not None and ct not in cell_types:
            rep.error(path, f"population {key!r} has cell type {ct!r}, which is not defined")


# ============================================================================ in memory
def check_network(net: Network, values: bool = True) -> list[Finding]:
    """The logical checks of :func:`validate_store` on an in-memory network.

    Paths are ``table/column`` (e.g. ``'connections/pre_gid'``) or ``model/<document>``.
    ``values=False`` skips the value ranges (:mod:`nethub.ranges`): structure only.
    """
    rep = _Report()
    with rep.guard("model"):
        meta = net.metadata()
        with rep.guard("model"):
            json.dumps(meta, allow_nan=True)
        names = {}
        for doc in _MODEL_FROM_DICT:
            with rep.guard(f"model/{doc}"):
                names[doc] = _check_model_entries(rep, doc, meta[doc], f"model/{doc}")
        _check_population_types(rep, meta["populations"], names.get("cell_types"),
                                "model/populations")
        _check_mod_files(rep, net.cell_types, set(net.mod_files), "model/mod_files")
        views = {}
        for tname, schema in TABLE_SCHEMAS.items():
            with rep.guard(tname):
                views[tname] = _memory_view(rep, tname, getattr(net, tname), schema)
        gids = None
        with rep.guard("cells/gid"):
            gids = np.asarray(net.cells["gid"])
            _check_gids(rep, "cells/gid", gids, must_sort=False)
        _check_refs(rep, gids, views, names, lambda doc: f"model/{doc}")
        with rep.guard("cells/cell_type"):
            table_checks(rep, views, gids, net.connections["post_gid"],
                         point_type_names(net.cell_types), semantic=values)
        if values:
            _check_values(rep, views)
            for where, msg in cell_type_findings(net.cell_types):
                rep.error("model/cell_types", f"{where}: {msg}")
    return rep.findings


def _check_values(rep: _Report, views: Mapping[str, _TableView]) -> None:
    """Finiteness and ranges of every float column of an in-memory network
    (:data:`nethub.ranges.COLUMN_RANGES`); stores are checked as read (:class:`_ValueHook`)."""
    for tname, view in views.items():
        if view is None:
            continue
        rules = view.get("rule") if "rule" in view.paths else None
        for cname, path in view.paths.items():
            with rep.guard(path):
                for msg in column_findings(tname, cname, view.get(cname), rules):
                    rep.error(path, msg)


def _memory_view(rep: _Report, tname: str, table: Table, schema: Mapping[str, ColumnSpec]
                 ) -> _TableView:
    view = _TableView(len(table))
    for name, col in table.columns.items():
        path = f"{tname}/{name}"
        if len(col) != len(table):
            rep.error(path, f"column has {len(col)} rows, the table {len(table)}")
            continue
        if isinstance(col, Categorical):
            _check_categorical(rep, path, col.codes, col.categories)
        elif isinstance(col, Ragged):
            _check_offsets(rep, path, col.offsets, len(table) + 1, len(col.values))
        if name in schema:
            _check_declared(rep, path, name, schema[name], kind_of(col))
        view.paths[name] = path
        view.loaders[name] = (lambda c=col: c)
    return view


def _check_mod_files(rep: _Report, cell_types: Mapping[str, Any], carried: set[str],
                     path: str) -> None:
    for key, ct in cell_types.items():
        needed = ct.get("mod_files", []) if isinstance(ct, dict) else ct.mod_files
        missing = [m for m in needed or [] if m not in carried]
        if missing:
            rep.warning(path, f"cell type {key!r} needs mod file(s) {_first(missing)} that are "
                        "not carried")


# ============================================================================ structure
def _check_categorical(rep: _Report, path: str, codes: np.ndarray, categories: list[str]) -> bool:
    ok = True
    if len(set(categories)) != len(categories):
        rep.error(path, "categories are not unique")
        ok = False
    if codes.size and (codes.min() < -1 or codes.max() >= len(categories)):
        rep.error(path, f"codes outside [-1, {len(categories)}) "
                  f"(min {codes.min()}, max {codes.max()})")
        ok = False
    return ok


def _check_offsets(rep: _Report, path: str, offsets: np.ndarray, n: int, end: int) -> bool:
    """CSR/ragged offsets: ``n`` entries, integers, start 0, non-decreasing, last == ``end``."""
    problems = []
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu":
        problems.append(f"must be a 1-D integer array, found {offsets.dtype} {offsets.shape}")
    elif len(offsets) != n:
        problems.append(f"has {len(offsets)} entries, expected {n}")
    else:
        if offsets[0] != 0:
            problems.append(f"starts at {offsets[0]}, not 0")
        if np.any(np.diff(offsets) < 0):
            problems.append("decreases")
        if offsets[-1] != end:
            problems.append(f"ends at {offsets[-1]}, expected {end}")
    for p in problems:
        rep.error(path, p)
    return not problems


def _dataset(rep: _Report, parent: h5py.Group, name: str, path: str) -> h5py.Dataset | None:
    node = parent.get(name)
    if node is None:
        rep.error(path, "missing")
    elif not isinstance(node, h5py.Dataset):
        rep.error(path, "must be a dataset")
    else:
        return node
    return None


def _group(rep: _Report, parent: h5py.Group, name: str, path: str) -> h5py.Group | None:
    node = parent.get(name)
    if node is None:
        rep.error(path, "missing group")
    elif not isinstance(node, h5py.Group):
        rep.error(path, "must be a group")
    else:
        return node
    return None


def _vector(rep: _Report, parent: h5py.Group, name: str, path: str, n: int | None,
            kinds: str = "biuf") -> np.ndarray | None:
    """Read a 1-D dataset, checking its length and dtype kind."""
    ds = _dataset(rep, parent, name, path)
    if ds is None:
        return None
    if ds.ndim != 1 or ds.dtype.kind not in kinds:
        rep.error(path, f"must be a 1-D dataset of kind {kinds!r}, found {ds.dtype} {ds.shape}")
        return None
    if n is not None and ds.shape[0] != n:
        rep.error(path, f"has {ds.shape[0]} rows, expected {n}")
        return None
    return ds[()]


def _strings(ds: h5py.Dataset) -> list[str]:
    raw = ds[()]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(raw).reshape(-1)]


def _read_json_doc(rep: _Report, parent: h5py.Group, name: str, path: str) -> tuple[bool, Any]:
    ds = _dataset(rep, parent, name, path)
    if ds is None:
        return False, None
    try:
        if ds.shape != () or ds.dtype.kind not in "OS":
            raise ValueError(f"must be a scalar string dataset, found {ds.dtype} {ds.shape}")
        raw = ds[()]
        return True, json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except Exception as exc:  # noqa: BLE001
        rep.error(path, f"not a JSON document ({type(exc).__name__}: {exc})")
        return False, None


def _table_group(rep: _Report, g: h5py.Group, gpath: str,
                 schema: Mapping[str, ColumnSpec] | None, allowed: tuple[str, ...] = (),
                 on_array: Callable[[str, str, np.ndarray], None] | None = None
                 ) -> _TableView | None:
    """Check one table group; returns a view of its readable columns or None. ``on_array``
    sees every array column as it is read (name, path, data), so it is read once."""
    n = g.attrs.get("n_rows")
    if not isinstance(n, (int, np.integer)) or n < 0:
        rep.error(gpath, f"attribute 'n_rows' missing or not a non-negative integer ({n!r})")
        return None
    try:
        raw = g.attrs["columns"]
        meta = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        if not isinstance(meta, list) or not all(
                isinstance(m, dict) and isinstance(m.get("name"), str)
                and m.get("kind") in ("array", "category", "ragged") for m in meta):
            raise ValueError("must be a list of {name, kind, dtype} objects")
    except Exception as exc:  # noqa: BLE001
        rep.error(gpath, f"attribute 'columns' missing or invalid ({type(exc).__name__}: {exc})")
        return None
    names = [m["name"] for m in meta]
    if len(set(names)) != len(names):
        rep.error(gpath, "column names in 'columns' are not unique")
    view = _TableView(int(n))
    for i, m in enumerate(meta):
        key, path = f"c{i}", f"{gpath}/c{i}"
        with rep.guard(path):
            kind = _column(rep, g, key, path, m, int(n), on_array)
            if kind is None:
                continue
            if schema is not None and m["name"] in schema:
                _check_declared(rep, path, m["name"], schema[m["name"]], kind)
            view.paths[m["name"]] = path
            view.loaders[m["name"]] = _loader(g, key, m["kind"])
    known = {f"c{i}" for i in range(len(meta))} | set(allowed)
    for extra in sorted(set(g) - known):
        rep.warning(f"{gpath}/{extra}", "not described by the 'columns' attribute; ignored")
    return view


def _column(rep: _Report, g: h5py.Group, key: str, path: str, m: dict, n: int,
            on_array: Callable[[str, str, np.ndarray], None] | None = None) -> str | None:
    """Check one column member; returns its kind (a dtype name, 'category' or 'ragged')."""
    if m["kind"] == "array":
        data = _vector(rep, g, key, path, n)
        if data is None:
            return None
        _check_dtype(rep, path, m, data.dtype)
        if on_array is not None:
            on_array(m["name"], path, data)
        return data.dtype.name
    sub = _group(rep, g, key, path)
    if sub is None:
        return None
    if m["kind"] == "category":
        codes = _vector(rep, sub, "codes", f"{path}/codes", n, kinds="iu")
        cats_ds = _dataset(rep, sub, "categories", f"{path}/categories")
        if codes is None or cats_ds is None:
            return None
        if cats_ds.ndim != 1 or cats_ds.dtype.kind not in "OS":
            rep.error(f"{path}/categories", "must be a 1-D string dataset")
            return None
        ok = _check_categorical(rep, path, codes, _strings(cats_ds))
        return "category" if ok else None
    values = _vector(rep, sub, "values", f"{path}/values", None)
    offsets = _vector(rep, sub, "offsets", f"{path}/offsets", None, kinds="iu")
    if values is None or offsets is None:
        return None
    _check_dtype(rep, path, m, values.dtype)
    ok = _check_offsets(rep, f"{path}/offsets", offsets, n + 1, len(values))
    return "ragged" if ok else None


def _check_dtype(rep: _Report, path: str, m: dict, found: np.dtype) -> None:
    try:
        declared = np.dtype(m.get("dtype"))
    except TypeError:
        rep.warning(path, f"'columns' declares an unknown dtype {m.get('dtype')!r}")
        return
    if declared != found:
        rep.warning(path, f"'columns' declares dtype {declared}, the data is {found}")


def _loader(g: h5py.Group, key: str, kind: str) -> Callable[[], Any]:
    def load() -> Any:
        node = g[key]
        if kind == "category":
            return Categorical(node["codes"][()], _strings(node["categories"]))
        if kind == "ragged":
            return Ragged(node["values"][()], node["offsets"][()])
        return node[()]
    return load


# ============================================================================ store
def validate_store(path: str | os.PathLike, *, dt: float | None = None,
                   for_run: bool = False, values: bool = True) -> list[Finding]:
    """Check a store file against the specification (``docs/store.md``).

    Never raises for a bad file: a file that is missing, not HDF5, truncated, of another kind or
    of a newer schema gives one error at ``'/'``.

    Parameters
    ----------
    path : path-like
    dt : float, optional
        Time step of a planned run: connection delays below it are errors (NEURON needs the
        minimum delay >= dt to exchange spikes between ranks).
    for_run : bool
        Only what a simulation depends on: skip the stored results and the content hash.
    values : bool
        Check value ranges (:mod:`nethub.ranges`: finite weights, delays >= 0, locations in
        [0, 1], positive geometry, ...); ``False``: structure only.

    Returns
    -------
    list of Finding
        Empty for a valid store; errors first in the order found, then warnings.
    """
    rep = _Report()
    try:
        with open_store(path) as f:
            with rep.guard("/"):
                _validate_open(rep, f, dt, for_run, values)
            with rep.guard("/"):  # dead space, interrupted appends, stale temporary files
                for where, message in storage_findings(path, f):
                    rep.warning(where, message)
    except Exception as exc:  # noqa: BLE001
        return [Finding(ERROR, "/", str(exc) or type(exc).__name__)]
    if rep.n_errors == 0 and not for_run:
        with rep.guard("/network"):
            _check_content_hash(rep, path)
    if not for_run:  # the hashes recorded with the runs name what changed, whatever else is
        with rep.guard("/results"), open_store(path) as f:
            seen = {x.path for x in rep.findings if x.level == ERROR}  # missing members
            for item in integrity_findings(f):
                gone = item["where"] in seen and item["what"].endswith((": removed", ": added"))
                if item["level"] == ERROR and not gone:
                    rep.error(item["where"], f"{item['what']} since run {item['run']!r} was "
                              "written (integrity hashes)")
    return sorted(rep.findings, key=lambda x: x.level != ERROR)


def _validate_open(rep: _Report, f: h5py.File, dt: float | None = None,
                   for_run: bool = False, values: bool = True) -> None:
    for key in ("creator", "created"):
        if key not in f.attrs:
            rep.warning("/", f"root attribute '{key}' is missing")
    names = {}
    model = _group(rep, f, "model", "/model")
    if model is not None:
        names = _validate_model(rep, model, values)
    net = _group(rep, f, "network", "/network")
    gids = None
    if net is not None:
        gids = _validate_network(rep, net, names, dt, values)
    if for_run:
        return
    if "results" not in f:
        rep.warning("/results", "missing group (readers treat it as no runs)")
    else:
        res = _group(rep, f, "results", "/results")
        if res is not None:
            stored_hash = _network_hash_for_runs(f, net, res)
            for name in res:
                with rep.guard(f"/results/{name}"):
                    _validate_run(rep, res, name, gids, stored_hash)


def _validate_model(rep: _Report, model: h5py.Group, values: bool = True
                    ) -> dict[str, set[str] | None]:
    docs: dict[str, Any] = {}
    for doc in MODEL_DOCS:
        with rep.guard(f"/model/{doc}"):
            ok, docs[doc] = _read_json_doc(rep, model, doc, f"/model/{doc}")
            if not ok:
                docs[doc] = None
            elif doc in ("spec", "rxd") and docs[doc] is not None and not isinstance(
                    docs[doc], dict):
                rep.error(f"/model/{doc}", "must be a JSON object or null")
            elif doc in ("params", "provenance") and not isinstance(docs[doc], dict):
                rep.error(f"/model/{doc}", "must be a JSON object")
    names: dict[str, set[str] | None] = {}
    for doc in _MODEL_FROM_DICT:
        if docs.get(doc) is not None:
            with rep.guard(f"/model/{doc}"):
                names[doc] = _check_model_entries(rep, doc, docs[doc], f"/model/{doc}")
    _check_population_types(rep, docs.get("populations"), names.get("cell_types"),
                            "/model/populations")
    if values and isinstance(docs.get("cell_types"), dict):
        with rep.guard("/model/cell_types"):
            for where, msg in cell_type_findings(docs["cell_types"]):
                rep.error("/model/cell_types", f"{where}: {msg}")
    if isinstance(docs.get("cell_types"), dict):
        names["point_cell_types"] = point_type_names(docs["cell_types"])
    if "files" in model:
        with rep.guard("/model/files"):
            check_files_group(rep.error, model["files"], "/model/files")
    elif int(model.file.attrs.get("schema_version", 1)) >= 2:
        rep.error("/model/files", "missing group (required from schema version 2)")
    mods = _group(rep, model, "mod_files", "/model/mod_files")
    if mods is not None:
        carried = _validate_mod_files(rep, mods)
        if isinstance(docs.get("cell_types"), dict):
            cts = {k: v for k, v in docs["cell_types"].items() if isinstance(v, dict)}
            _check_mod_files(rep, cts, carried, "/model/mod_files")
    return names


def _validate_mod_files(rep: _Report, mods: h5py.Group) -> set[str]:
    seen: set[str] = set()
    texts: dict[str, str] = {}
    paths: dict[str, str] = {}
    for key in mods:
        path = f"/model/mod_files/{key}"
        with rep.guard(path):
            ds = _dataset(rep, mods, key, path)
            if ds is None:
                continue
            name = ds.attrs.get("name")
            if isinstance(name, bytes):
                name = name.decode()
            if not isinstance(name, str) or ds.shape != () or ds.dtype.kind not in "OS":
                rep.error(path, "a mod file must be a scalar string dataset with a 'name' "
                          "attribute")
                continue
            if name in seen:
                rep.error(path, f"mod file name {name!r} is carried twice")
            seen.add(name)
            texts[name] = (_strings(ds) or [""])[0]  # must decode as UTF-8
            paths[name] = path

    for key, message in mod_file_findings(texts):
        rep.warning(paths[key], message)
    return seen


def _validate_network(rep: _Report, net: h5py.Group, names: Mapping[str, set[str] | None],
                      dt: float | None = None, values: bool = True) -> np.ndarray | None:
    views: dict[str, _TableView] = {}
    gids = None
    post_gid = None
    cells = _group(rep, net, "cells", "/network/cells")
    if cells is not None:
        with rep.guard("/network/cells"):
            hook = ValueHook("cells", dt) if values else None
            views["cells"] = _table_group(rep, cells, "/network/cells", TABLE_SCHEMAS["cells"],
                                          on_array=hook)
            if hook is not None and views["cells"] is not None:
                hook.report(rep.error, lambda: views["cells"].get("rule")
                            if "rule" in views["cells"].paths else None)
        view = views.get("cells")
        if view is not None and "gid" not in view.paths:
            rep.error("/network/cells", "the cells table has no (valid) gid column")
        elif view is not None:
            with rep.guard(view.paths["gid"]):
                gids = np.asarray(view.get("gid"))
                _check_gids(rep, view.paths["gid"], gids, must_sort=True)
    for tname, target in INDEXED.items():
        gpath = f"/network/{tname}"
        g = _group(rep, net, tname, gpath)
        if g is None:
            continue
        with rep.guard(gpath):
            hook = ValueHook(tname, dt) if values else None
            view = _table_group(rep, g, gpath, TABLE_SCHEMAS[tname], allowed=("post_offsets",),
                                on_array=hook)
            if view is None:
                continue
            if hook is not None:
                hook.report(rep.error, lambda v=view: v.get("rule") if "rule" in v.paths
                            else None)
            views[tname] = view
            if target in view.paths:
                rep.warning(view.paths[target], f"'{target}' is implied by post_offsets and "
                            "must not be stored; readers ignore it")
                del view.paths[target]
            offsets = _vector(rep, g, "post_offsets", f"{gpath}/post_offsets", None, kinds="iu")
            if offsets is not None and gids is not None:
                ok = _check_offsets(rep, f"{gpath}/post_offsets", offsets, len(gids) + 1,
                                    view.n)
                if ok and tname == "connections":
                    post_gid = np.repeat(gids, np.diff(offsets))
    _check_refs(rep, gids, views, names, lambda doc: f"/model/{doc}")
    with rep.guard("/network"):
        table_checks(rep, views, gids, post_gid, names.get("point_cell_types"),  # type: ignore[arg-type]
                     semantic=values)
    return gids



def _validate_run(rep: _Report, res: h5py.Group, name: str, gids: np.ndarray | None,
                  stored_hash: Any) -> None:
    path = f"/results/{name}"
    if name.startswith("."):
        rep.warning(path, "hidden group (an interrupted append?); readers ignore it")
        return
    g = _group(rep, res, name, path)
    if g is None:
        return
    for attr in ("order", "network_hash", "nranks", "created"):
        if attr not in g.attrs:
            rep.warning(path, f"attribute '{attr}' is missing")
    for doc in RUN_DOCS:
        with rep.guard(f"{path}/{doc}"):
            _read_json_doc(rep, g, doc, f"{path}/{doc}")
    _validate_spikes(rep, g, path, gids)
    _validate_traces(rep, g, path, gids)
    for key in (g["trace_groups"] if isinstance(g.get("trace_groups"), h5py.Group) else ()):
        _validate_traces(rep, g["trace_groups"], f"{path}/trace_groups", gids, key)
    if "lfp" in g:
        _validate_lfp(rep, g, path)
    run_hash = g.attrs.get("network_hash")
    run_hash = run_hash.decode() if isinstance(run_hash, bytes) else run_hash
    stored_hash = stored_hash.decode() if isinstance(stored_hash, bytes) else stored_hash
    if run_hash and stored_hash and run_hash != stored_hash:
        rep.warning(path, f"results were produced from a different network (network_hash "
                    f"{run_hash[:12]}..., /network content_hash {stored_hash[:12]}...)")


def _validate_spikes(rep: _Report, g: h5py.Group, path: str, gids: np.ndarray | None) -> None:
    with rep.guard(f"{path}/spikes"):
        sp = _group(rep, g, "spikes", f"{path}/spikes")
        if sp is None:
            return
        t = _vector(rep, sp, "time", f"{path}/spikes/time", None, kinds="f")
        gid = _vector(rep, sp, "gid", f"{path}/spikes/gid", None, kinds="iu")
        if t is None or gid is None:
            return
        if len(t) != len(gid):
            rep.error(f"{path}/spikes", f"{len(t)} spike times but {len(gid)} spike gids")
            return
        if len(t) > 1 and np.any(t[1:] < t[:-1]):
            rep.error(f"{path}/spikes/time", "spike times are not sorted")
        if gids is not None:
            bad = np.unique(gid[~np.isin(gid, gids)])
            if len(bad):
                rep.warning(f"{path}/spikes/gid", f"{len(bad)} spiking gid(s) not in the cells "
                            f"table: {_first(bad)}")


def _validate_traces(rep: _Report, g: h5py.Group, path: str, gids: np.ndarray | None,
                     name: str = "traces") -> None:
    tpath = f"{path}/{name}"
    with rep.guard(tpath):
        tr = _group(rep, g, name, tpath)
        if tr is None:
            return
        index = _group(rep, tr, "index", f"{tpath}/index")
        view = None
        if index is not None:
            view = _table_group(rep, index, f"{tpath}/index", TRACE_COLUMNS)
        time = _vector(rep, tr, "time", f"{tpath}/time", None, kinds="f")
        data = _dataset(rep, tr, "data", f"{tpath}/data")
        if view is None or time is None or data is None:
            return
        if data.shape != (view.n, len(time)):
            rep.error(f"{tpath}/data", f"shape {data.shape}, expected (index rows, times) = "
                      f"({view.n}, {len(time)})")
        if gids is not None and "gid" in view.paths:
            tg = np.asarray(view.get("gid"))
            bad = np.unique(tg[~np.isin(tg, gids)])
            if len(bad):
                rep.warning(view.paths["gid"], f"traces of gid(s) not in the cells table: "
                            f"{_first(bad)}")


def _validate_lfp(rep: _Report, g: h5py.Group, path: str) -> None:
    lpath = f"{path}/lfp"
    with rep.guard(lpath):
        lfp = _group(rep, g, "lfp", lpath)
        data = _dataset(rep, lfp, "data", f"{lpath}/data") if lfp is not None else None
        if data is None:
            return
        if data.ndim != 2:
            rep.error(f"{lpath}/data", f"must be 2-D (times, electrodes), found {data.shape}")
            return
        if "lfp_time" in lfp:
            t = _vector(rep, lfp, "lfp_time", f"{lpath}/lfp_time", None, kinds="f")
            if t is not None and len(t) != data.shape[0]:
                rep.error(f"{lpath}/lfp_time", f"{len(t)} times for {data.shape[0]} LFP samples")
        if "electrodes" in lfp:
            el = _dataset(rep, lfp, "electrodes", f"{lpath}/electrodes")
            if el is not None and el.shape != (data.shape[1], 3):
                rep.error(f"{lpath}/electrodes", f"shape {el.shape}, expected "
                          f"({data.shape[1]}, 3)")


def _network_hash_for_runs(f: h5py.File, net: h5py.Group | None, res: h5py.Group) -> Any:
    """The hash the runs' ``network_hash`` are checked against: the recorded attribute, or
    (when the store has not recorded it yet and some run names one) the recomputed hash."""
    if net is None:
        return None
    stored = net.attrs.get("content_hash")
    if stored is not None or not any(
            isinstance(res[k], h5py.Group) and res[k].attrs.get("network_hash") for k in res):
        return stored
    try:
        return read_network(f.filename).content_hash()
    except NethubError:
        return None  # the damage is reported where it is found


def _check_content_hash(rep: _Report, path: str | os.PathLike) -> None:
    """Recompute the network's content hash and compare it with the recorded one."""
    with open_store(path) as f:
        recorded = f["network"].attrs.get("content_hash")
    if recorded is None:
        return
    recorded = recorded.decode() if isinstance(recorded, bytes) else str(recorded)
    actual = read_network(path).content_hash()
    if actual != recorded:
        rep.warning("/network", f"content_hash attribute {recorded[:12]}... differs from the "
                    f"stored network's hash {actual[:12]}... (edited after writing, or "
                    "written by another nethub version)")
