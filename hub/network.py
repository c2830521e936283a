"""The canonical in-memory network: columnar tables plus typed model descriptions.

No NEURON, mpi4py or matplotlib here (a test enforces it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .celltypes import (
    CellType,
    Population,
    StimSource,
    SynMech,
    json_equal,
    jsonable,
)
from .columns import (
    CELL_COLUMNS,
    CONN_COLUMNS,
    DRAWS_COLUMN,
    GID_DTYPE,
    OPTIONAL_COLUMNS,
    POINTER_COLUMNS,
    ROTATION_COLUMN,
    ROTATION_COLUMNS,
    STIM_COLUMNS,
    SYN_PARAM_PREFIX,
    TABLE_SCHEMAS,
    param_column,
    syn_param_column,
)
from .embedded import EmbeddedFile, check_role
from .runconfig import RunConfig
from .table import Categorical, Ragged, Table

__all__ = [
    "Network",
    "EmbeddedFile",
    "CELL_COLUMNS",
    "CONN_COLUMNS",
    "POINTER_COLUMNS",
    "STIM_COLUMNS",
    "OPTIONAL_COLUMNS",
    "GID_DTYPE",
    "DRAWS_COLUMN",
    "ROTATION_COLUMN",
    "ROTATION_COLUMNS",
    "SYN_PARAM_PREFIX",
    "param_column",
    "syn_param_column",
]


def _as_table(value: Table | Mapping | pd.DataFrame | None, schema) -> Table:
    if value is None:
        return Table(schema=schema)
    if isinstance(value, Table):
        if value.schema != schema:
            return Table(value.columns, schema, n=len(value))
        return value
    if isinstance(value, pd.DataFrame):
        cols = {}
        for k in value.columns:
            s = value[k]
            if isinstance(s.dtype, pd.CategoricalDtype):
                cols[k] = Categorical(s.cat.codes.to_numpy(), [str(c) for c in s.cat.categories])
            elif s.dtype == object and len(s) and isinstance(s.iloc[0], (list, np.ndarray)):
                cols[k] = Ragged.from_lists(list(s))
            elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):  # missing → None
                cols[k] = np.where(s.isna().to_numpy(), None, s.to_numpy(dtype=object))
            else:
                cols[k] = s.to_numpy()
        return Table(cols, schema, n=len(value))
    return Table(dict(value), schema)


@dataclass(eq=False)
class Network:
    """A network model and instance in nethub's canonical form.

    Attributes
    ----------
    cell_types : dict of str to CellType
    syn_mechs : dict of str to SynMech
    populations : dict of str to Population
    stim_sources : dict of str to StimSource
    cells, connections, pointer_conns, stim_targets : Table
        Columnar tables; see ``CELL_COLUMNS``, ``CONN_COLUMNS``, ``POINTER_COLUMNS``,
        ``STIM_COLUMNS``. Extra columns are allowed (per-cell parameters, tags, ...).
    spec : dict or None
        The original high-level spec ``{'netParams': ..., 'simConfig': ...}``.
    mod_files : dict of str to str
        NMODL sources the model needs, by file name, and the files they INCLUDE (``.inc``,
        ``.h``) by their path relative to the ``.mod`` file's folder.
    params : dict
        Network-wide parameters (e.g. ``sizeX``, ``defaultThreshold``, ``celsius``).
    provenance : dict
        Where the network came from (creator, source files, conversion notes).
    rxd : dict or None
        Reaction-diffusion specification, kept as given.
    files : dict of str to EmbeddedFile
        Files the model carries verbatim (morphologies, templates, parameter JSON, the source
        documents of an import, ...), in order, by their name inside the model; see
        :meth:`add_file`, :meth:`files_with_role` and :mod:`nethub.embedded`. NMODL sources
        stay in ``mod_files``.
    run_config : RunConfig or None
        The run configuration the model arrived with (a SONATA simulation config, ...), used
        by ``nethub run`` when the model has no NetPyNE simConfig; None: none. Stored as
        ``/model/run_config``; not network content, so not part of :meth:`content_hash`.
    """

    cell_types: dict[str, CellType] = field(default_factory=dict)
    syn_mechs: dict[str, SynMech] = field(default_factory=dict)
    populations: dict[str, Population] = field(default_factory=dict)
    stim_sources: dict[str, StimSource] = field(default_factory=dict)
    cells: Table = None  # type: ignore[assignment]
    connections: Table = None  # type: ignore[assignment]
    pointer_conns: Table = None  # type: ignore[assignment]
    stim_targets: Table = None  # type: ignore[assignment]
    spec: dict[str, Any] | None = None
    mod_files: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    rxd: dict[str, Any] | None = None
    files: dict[str, EmbeddedFile] = field(default_factory=dict)
    run_config: RunConfig | None = None

    def __post_init__(self) -> None:
        for name, schema in TABLE_SCHEMAS.items():
            setattr(self, name, _as_table(getattr(self, name), schema))
        self.files = _checked_files(self.files)
        if self.run_config is not None and not isinstance(self.run_config, RunConfig):
            raise TypeError("run_config must be a nethub.runconfig.RunConfig or None, got "
                            f"{type(self.run_config).__name__}")

    # ------------------------------------------------------------------ files
    def add_file(self, name: str, data: bytes | str, role: str,
                 original_name: str | None = None) -> EmbeddedFile:
        """Embed a file (replacing one of the same name) and return it.

        Parameters
        ----------
        name : str
            Path inside the model, e.g. ``"morphologies/pyr.swc"``.
        data : bytes or str
            The content (text is stored as UTF-8).
        role : str
            One of :data:`nethub.embedded.FILE_ROLES` or ``"x-<name>"``. Role ``"mod"`` puts
            the text into ``mod_files`` (where the simulator compiles it from).
        original_name : str, optional
            The path on the user's disk; default ``name``.
        """
        ef = EmbeddedFile(name, check_role(role), original_name or name, data)
        if role == "mod":
            self.mod_files[name] = ef.text()
            return ef
        self.files[name] = ef
        return ef

    def files_with_role(self, role: str) -> list[EmbeddedFile]:
        """The embedded files of one role, in order (for ``"mod"``: ``mod_files`` as files)."""
        check_role(role)
        if role == "mod":
            return [EmbeddedFile(k, "mod", k, v.encode("utf-8"))
                    for k, v in self.mod_files.items()]
        return [f for f in self.files.values() if f.role == role]

    # ------------------------------------------------------------------ views
    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_connections(self) -> int:
        return len(self.connections)

    @property
    def gids(self) -> np.ndarray:
        return self.cells["gid"]  # type: ignore[return-value]

    def cells_df(self) -> pd.DataFrame:
        """The cells table as a pandas DataFrame."""
        return self.cells.to_pandas()

    def connections_df(self) -> pd.DataFrame:
        """The connections table as a pandas DataFrame."""
        return self.connections.to_pandas()

    def pop_gids(self, pop: str) -> np.ndarray:
        """The gids of population ``pop``."""
        col = self.cells["pop"]
        return self.gids[col.codes == col.code_of(pop)]  # type: ignore[union-attr]

    def summary(self) -> dict[str, Any]:
        """Counts per population and cell type (what ``nethub info`` prints)."""
        pops = {}
        pop_col: Categorical = self.cells["pop"]  # type: ignore[assignment]
        counts = np.bincount(pop_col.codes[pop_col.codes >= 0], minlength=len(pop_col.categories))
        ct_col: Categorical = self.cells["cell_type"]  # type: ignore[assignment]
        for code, (name, n) in enumerate(zip(pop_col.categories, counts)):
            p = self.populations.get(name)
            pops[name] = {"cells": int(n), "cell_type": p.cell_type if p else None}
            if p is not None and p.cell_type is None:  # mixed (schema 2): the per-cell types
                used = np.unique(ct_col.codes[(pop_col.codes == code) & (ct_col.codes >= 0)])
                pops[name]["cell_types"] = [ct_col.categories[c] for c in used.tolist()]
        return {
            "populations": pops,
            "cell_types": {k: v.kind for k, v in self.cell_types.items()},
            "syn_mechs": sorted(self.syn_mechs),
            "n_cells": self.n_cells,
            "n_connections": self.n_connections,
            "n_pointer_conns": len(self.pointer_conns),
            "n_stim_targets": len(self.stim_targets),
            "n_stim_sources": len(self.stim_sources),
            "mod_files": sorted(self.mod_files),
            **({"files": _role_counts(self.files)} if self.files else {}),
        }

    # ------------------------------------------------------- canonical order
    def canonical(self) -> Network:
        """The same network with cells sorted by gid and connection-like tables by target gid.

        Sorting is stable, so rows of the same target keep their relative order. This is the
        order the store keeps; ``read(write(net)) == net.canonical()``.
        """
        changes = {}
        for tname, key in (("cells", "gid"), ("connections", "post_gid"),
                           ("pointer_conns", "post_gid"), ("stim_targets", "gid")):
            table = getattr(self, tname)
            keys = np.asarray(table[key])
            if len(keys) > 1 and np.any(keys[1:] < keys[:-1]):
                changes[tname] = table.take(np.argsort(keys, kind="stable"))
        return self.replace(**changes) if changes else self

    def replace(self, **changes: Any) -> Network:
        """A shallow copy with some attributes replaced."""
        kw = {f: getattr(self, f) for f in self.__dataclass_fields__}
        kw.update(changes)
        return Network(**kw)

    def metadata(self) -> dict[str, Any]:
        """Everything but the tables, as JSON-able data (what the store keeps as JSON)."""
        return jsonable({
            "cell_types": {k: v.to_dict() for k, v in self.cell_types.items()},
            "syn_mechs": {k: v.to_dict() for k, v in self.syn_mechs.items()},
            "populations": {k: v.to_dict() for k, v in self.populations.items()},
            "stim_sources": {k: v.to_dict() for k, v in self.stim_sources.items()},
            "spec": self.spec,
            "params": self.params,
            "provenance": self.provenance,
            "rxd": self.rxd,
        })

    def equals(self, other: object) -> bool:
        """Exact equality of model and tables (NaN equals NaN; column order matters)."""
        if not isinstance(other, Network):
            return False
        if not json_equal(self.metadata(), other.metadata()):
            return False
        if self.mod_files != other.mod_files:
            return False
        if (self.run_config is None) != (other.run_config is None) or (
                self.run_config is not None and not json_equal(
                    self.run_config.to_dict(), other.run_config.to_dict())):  # type: ignore[union-attr]
            return False
        if [(f.meta(), f.data) for f in self.files.values()] != [
                (f.meta(), f.data) for f in other.files.values()]:
            return False
        return all(getattr(self, t).equals(getattr(other, t)) for t in TABLE_SCHEMAS)

    def content_hash(self) -> str:
        """A SHA-256 over the canonical form of the model and tables (provenance and
        ``run_config`` excluded: how a model is run is not network content).

        Two networks with the same hash simulate identically; it is recorded with every run.
        """
        net = self.canonical()
        h = hashlib.sha256()
        meta = net.metadata()
        meta.pop("provenance")
        h.update(json.dumps(meta, sort_keys=True, allow_nan=True).encode())
        h.update(json.dumps(net.mod_files, sort_keys=True).encode())
        if net.files:  # only then: networks without files keep their schema-1 hash
            h.update(json.dumps([[f.name, f.role, f.sha256] for f in net.files.values()]
                                ).encode())
        for tname in TABLE_SCHEMAS:
            table = getattr(net, tname)
            h.update(f"{tname}:{len(table)}".encode())
            for cname, col in table.columns.items():
                h.update(cname.encode())
                _hash_column(h, col)
        return h.hexdigest()

    def __repr__(self) -> str:
        return (
            f"Network({self.n_cells} cells in {len(self.populations)} populations, "
            f"{len(self.cell_types)} cell types, {self.n_connections} connections, "
            f"{len(self.stim_targets)} stim targets)"
        )


def _checked_files(files: Mapping[str, EmbeddedFile] | None) -> dict[str, EmbeddedFile]:
    """``files`` as a dict keyed by each file's own name; mod files belong in mod_files."""
    out: dict[str, EmbeddedFile] = {}
    for key, ef in dict(files or {}).items():
        if not isinstance(ef, EmbeddedFile):
            raise TypeError(f"files[{key!r}] must be an EmbeddedFile, got {type(ef).__name__}")
        if key != ef.name:
            raise ValueError(f"files[{key!r}] is named {ef.name!r}: the key must be its name")
        if ef.role == "mod":
            raise ValueError(f"files[{key!r}]: NMODL sources go into Network.mod_files "
                             "(Network.add_file(..., role='mod') puts them there)")
        out[key] = ef
    return out


def _role_counts(files: Mapping[str, EmbeddedFile]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in files.values():
        counts[f.role] = counts.get(f.role, 0) + 1
    return counts


def _hash_column(h, col) -> None:
    # The arrays are fed through the buffer protocol (no byte copies); the digest is the same as
    # hashing ``dtype.str.encode() + arr.tobytes()``.
    if isinstance(col, Categorical):
        col = col.normalized()
        h.update(json.dumps(col.categories).encode())
        h.update(np.ascontiguousarray(col.codes))
    elif isinstance(col, Ragged):
        h.update(col.values.dtype.str.encode())
        h.update(np.ascontiguousarray(col.values))
        h.update(np.ascontiguousarray(col.offsets))
    else:
        h.update(col.dtype.str.encode())
        h.update(np.ascontiguousarray(col))
