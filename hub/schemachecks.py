"""Validation rules of store schema version 2 (used by :mod:`nethub.validate`).

Each function reports through ``error(path, message)`` / ``warning(path, message)`` callables,
for stores (HDF5 paths) and in-memory networks (``table/column`` paths) alike:

- every cell has a cell type, and a population may mix types (checked per cell, not per
  population);
- a connection without a ``syn_mech`` must target an artificial (point) cell;
- extra columns: ``param.<name>`` synapse parameters and the rotations are float columns,
  namespaced per-format columns ``<namespace>.<name>`` have a lowercase namespace;
- ``/model/files``: one uint8 dataset per file with its attributes, a valid role, a unique name
  and a matching sha256.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import h5py
import numpy as np

from .columns import (
    OPTIONAL_COLUMNS,
    ROTATION_COLUMNS,
    SYN_PARAM_PREFIX,
    TABLE_SCHEMAS,
    column_category,
)
from .embedded import check_file_name, check_role, sha256_hex
from .table import Categorical, Ragged

__all__ = ["check_cell_types", "check_syn_mech_targets", "check_column_names",
           "check_files_group", "point_type_names", "table_checks", "kind_of"]

Report = Callable[[str, str], None]
_SHOW = 5
_FILE_ATTRS = ("name", "role", "original_name", "sha256")


def _first(values: list) -> str:
    more = ", ..." if len(values) > _SHOW else ""
    return ", ".join(repr(v) for v in values[:_SHOW]) + more


def point_type_names(cell_types: Mapping[str, Any]) -> set[str]:
    """Names of the artificial (point) cell types, from typed objects or their dicts."""
    out = set()
    for name, ct in cell_types.items():
        kind = ct.get("kind") if isinstance(ct, dict) else getattr(ct, "kind", None)
        if kind == "point":
            out.add(name)
    return out


def check_cell_types(error: Report, path: str, cell_type: Any) -> None:
    """Every cell must have a cell type (its existence is checked with the other names)."""
    if not isinstance(cell_type, Categorical):
        return
    missing = int(np.count_nonzero(cell_type.codes < 0))
    if missing:
        error(path, f"{missing} cell(s) have no cell type (the cell type is per cell; "
              "populations may mix types)")


def check_syn_mech_targets(error: Report, path: str, syn_mech: Any, post_gid: np.ndarray,
                           gids: np.ndarray, cell_type: Any, point_types: set[str]) -> None:
    """Connections without a synaptic mechanism must target artificial cells."""
    if not isinstance(syn_mech, Categorical) or not isinstance(cell_type, Categorical):
        return
    rows = np.flatnonzero(syn_mech.codes < 0)
    if not len(rows) or not len(gids):
        return
    order = np.argsort(gids, kind="stable")
    pos = np.searchsorted(gids, post_gid[rows], sorter=order)
    pos = order[np.minimum(pos, len(gids) - 1)]
    known = gids[pos] == post_gid[rows]
    is_point = np.array([c in point_types for c in cell_type.categories] + [False], dtype=bool)
    codes = cell_type.codes[pos]
    bad = known & ~is_point[codes]
    if bad.any():
        targets = np.unique(post_gid[rows][bad]).tolist()
        error(path, f"{int(bad.sum())} connection(s) without a syn_mech target compartmental "
              f"cell(s) {_first(targets)}: only artificial (point) cells take a NetCon "
              "directly")


def check_column_names(error: Report, warning: Report, table: str, columns: Mapping[str, str],
                       kinds: Mapping[str, str]) -> None:
    """Extra columns by name: ``param.*`` synapse parameters and rotations must be float;
    a dotted name with an upper-case prefix is probably a mis-spelt namespace."""
    for name, path in columns.items():
        cat = column_category(table, name)
        kind = kinds.get(name, "")
        if cat == "optional" and name in ROTATION_COLUMNS and not kind.startswith("float"):
            error(path, f"'{name}' must be a float column (radians), found {kind}")
        elif cat == "optional" and name in OPTIONAL_COLUMNS.get(table, {}) and kind in (
                "category", "ragged") and OPTIONAL_COLUMNS[table][name].kind != kind:
            error(path, f"'{name}' must be a numeric column, found {kind}")
        elif cat == "optional" and OPTIONAL_COLUMNS.get(table, {}).get(name) is not None and (
                OPTIONAL_COLUMNS[table][name].kind == "category" != kind):
            error(path, f"'{name}' must be a category column, found {kind}")
        elif cat == "param" and table == "connections" and not kind.startswith("float"):
            error(path, f"synapse parameter column '{name}' must be float (NaN: the "
                  f"mechanism's value), found {kind}")
        elif cat == "param" and table == "connections" and "." in name[len(SYN_PARAM_PREFIX):]:
            error(path, f"synapse parameter column '{name}' must be 'param.<name>' with a "
                  "plain parameter name")
        elif cat == "other" and "." in name and name.split(".", 1)[0].lower() != name.split(
                ".", 1)[0]:
            warning(path, f"'{name}' looks like a per-format column, but namespaces are "
                    "lowercase ('<namespace>.<name>', e.g. 'sonata.node_type_id')")


def table_checks(rep: Any, views: Mapping[str, Any], gids: np.ndarray | None,
                 post_gid: np.ndarray | None, point_types: set[str] | None,
                 semantic: bool = True) -> None:
    """Schema-2 rules on the table views of :mod:`nethub.validate` (``rep`` has ``error``,
    ``warning``, ``guard``): extra column names and kinds; with ``semantic`` (what a
    simulation needs, checked with the values) also a type per cell and connections without
    syn_mech onto artificial cells only."""
    for tname, view in views.items():
        if view is None:
            continue
        extra = {k: p for k, p in view.paths.items() if k not in TABLE_SCHEMAS[tname]}
        kinds = {}
        for k in extra:
            if column_category(tname, k) not in ("optional", "param"):
                continue  # only these have a required kind: no other column is loaded
            with rep.guard(extra[k]):
                kinds[k] = kind_of(view.get(k))
        check_column_names(rep.error, rep.warning, tname, extra, kinds)
    cells = views.get("cells")
    if not semantic or cells is None or "cell_type" not in cells.paths:
        return
    cell_type = cells.get("cell_type")
    check_cell_types(rep.error, cells.paths["cell_type"], cell_type)
    conns = views.get("connections")
    if conns is None or "syn_mech" not in conns.paths or gids is None or post_gid is None \
            or point_types is None:
        return
    check_syn_mech_targets(rep.error, conns.paths["syn_mech"], conns.get("syn_mech"),
                           np.asarray(post_gid), gids, cell_type, point_types)


def kind_of(col: Any) -> str:
    """A column's kind as validation names it: ``category``, ``ragged`` or a dtype name."""
    if isinstance(col, Categorical):
        return "category"
    if isinstance(col, Ragged):
        return "ragged"
    return np.asarray(col).dtype.name


def check_files_group(error: Report, g: Any, gpath: str) -> int:
    """Check ``/model/files`` of a store; returns the number of good files."""
    if not isinstance(g, h5py.Group):
        error(gpath, "must be a group")
        return 0
    names: set[str] = set()
    good = 0
    for key in g:
        if key.startswith("."):
            continue
        path = f"{gpath}/{key}"
        ds = g[key]
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype != np.uint8:
            error(path, "an embedded file must be a 1-D uint8 dataset")
            continue
        meta = {}
        for attr in _FILE_ATTRS:
            val = ds.attrs.get(attr)
            meta[attr] = val.decode() if isinstance(val, bytes) else val
        missing = [a for a in _FILE_ATTRS if not isinstance(meta[a], str)]
        if missing:
            error(path, f"string attribute(s) {', '.join(missing)} missing")
            continue
        ok = True
        for check, what in ((check_role, "role"), (check_file_name, "name")):
            try:
                check(meta[what])
            except ValueError as exc:
                error(path, str(exc))
                ok = False
        if meta["name"] in names:
            error(path, f"embedded file name {meta['name']!r} is used twice")
            ok = False
        names.add(meta["name"])
        actual = sha256_hex(ds[()].tobytes())
        if actual != meta["sha256"]:
            error(path, f"content of {meta['name']!r} does not match its sha256 (corrupt)")
            ok = False
        good += ok
    return good
