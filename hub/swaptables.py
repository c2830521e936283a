"""Replacing the cell type of some cells of a network, and undoing it (the model-level part of
``nethub swap``; :mod:`nethub.cellswap` finds the new type and is the API and command line).

A swap keeps gids, positions and every connection; it changes, for the chosen cells only:

- the ``cell_type`` column (and the NetPyNE ``cellType`` / ``cellModel`` tag columns when there
  are: the new name / its model, None for a compartmental type), the
  population's ``cell_type`` (None when only part of it is swapped) and its ``cellType`` /
  ``cellModel`` tags;
- the per-cell values that belonged to the old type (cells columns ``params.*`` and
  ``param.secs.*``: NaN / empty for those cells);
- where the connections and stimuli onto them land (:class:`SynMap`): onto an artificial cell no
  section (the row's synaptic mechanism stays, unused, as a NetPyNE build keeps it); onto a
  compartmental one the mapped section (default: the
  same name when the new type has it, else its spike-source section), location (kept with the
  section, else ``SynMap.loc``) and mechanism (default: the row's own).

Everything it changes is recorded in ``provenance['swaps']`` (JSON), so :func:`undo_swap` gives
back the original network exactly: the same tables, cell types, populations, mod files and
provenance, hence the same ``content_hash``. The arrays are handled whole (numpy), never per
cell or per connection in Python.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .celltypes import CellType, PointCell
from .errors import ConversionError
from .network import Network
from .table import Categorical, Ragged, Table

__all__ = ["SynMap", "swap_cell_type", "undo_swap", "last_swap", "old_types", "SWAPS_KEY"]

#: provenance key of the list of swap records (oldest first)
SWAPS_KEY = "swaps"
_TAG_COLUMN = "cellType"
_MODEL_COLUMN = "cellModel"


@dataclass
class SynMap:
    """Where connections and stimuli onto swapped cells land on the new cell type.

    Attributes
    ----------
    sec : dict of str to str
        Old section name -> new section name; ``'*'`` for any other.
    syn_mech : dict of str to str
        Old synaptic mechanism -> new one; ``'*'`` for any other (and for rows that had none,
        i.e. onto artificial cells).
    loc : float
        Location of rows whose section changes (default 0.5).
    weight : float or None
        Factor on the weights of the rows onto the swapped cells (None: unchanged), e.g.
        conductances (µS) onto HH cells -> the dimensionless weights of IntFire cells.
    """

    sec: dict[str, str] = field(default_factory=dict)
    syn_mech: dict[str, str] = field(default_factory=dict)
    loc: float = 0.5
    weight: float | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None, where: str = "syn_map") -> SynMap:
        """From ``{'sec': {...}, 'synMech': {...}, 'loc': x}`` (``syn_mech`` also accepted)."""
        d = dict(d or {})
        unknown = set(d) - {"sec", "synMech", "syn_mech", "loc", "weight"}
        if unknown:
            raise ConversionError(f"{where}: unknown key(s) {sorted(unknown)} (valid: sec, "
                                  "synMech, loc, weight)")
        weight = d.get("weight")
        if weight is not None and (isinstance(weight, bool) or
                                   not isinstance(weight, (int, float))):
            raise ConversionError(f"{where}['weight']: {weight!r} is not a number")
        loc = float(d.get("loc", 0.5))
        if not 0 <= loc <= 1:
            raise ConversionError(f"{where}['loc']: {loc} is not in [0, 1]")
        mechs = d.get("synMech", d.get("syn_mech")) or {}
        return cls({str(k): str(v) for k, v in (d.get("sec") or {}).items()},
                   {str(k): str(v) for k, v in mechs.items()}, loc,
                   None if weight is None else float(weight))


# ----------------------------------------------------------------------------- columns
def _cat_assign(col: Categorical, rows: np.ndarray, values: np.ndarray) -> Categorical:
    """``col`` with ``values`` (str or None, object array) put at ``rows``."""
    values = np.asarray(values, dtype=object)
    cats = list(col.categories)
    pos = {c: i for i, c in enumerate(cats)}
    missing = np.array([v is None for v in values.tolist()], dtype=bool) if len(values) else \
        np.zeros(0, dtype=bool)
    strs = np.where(missing, "", values).astype(str)
    uniq, inv = np.unique(strs, return_inverse=True)
    ucodes = np.empty(len(uniq), dtype=np.int32)
    for k, u in enumerate(uniq.tolist()):  # one per distinct value
        if u not in pos:
            pos[u] = len(cats)
            cats.append(u)
        ucodes[k] = pos[u]
    codes = col.codes.copy()
    new = ucodes[inv] if len(values) else np.zeros(0, dtype=np.int32)
    codes[rows] = np.where(missing, -1, new)
    return Categorical(codes, cats)


def _values(col: Any, rows: np.ndarray) -> list:
    """JSON-able values of ``col`` at ``rows`` (NaN as None; Ragged rows as lists)."""
    if isinstance(col, Categorical):
        return col.values()[rows].tolist()
    if isinstance(col, Ragged):
        return [col.row(int(r)).tolist() for r in rows.tolist()]
    arr = np.asarray(col)[rows]
    if arr.dtype.kind == "f":
        return [None if np.isnan(v) else v for v in arr.tolist()]
    return arr.tolist()


def _ragged_assign(col: Ragged, rows: np.ndarray, lists: list[list]) -> Ragged:
    """``col`` with rows ``rows`` replaced by ``lists`` (vectorized scatter)."""
    n = len(col)
    lengths = col.lengths()
    owner = np.repeat(np.arange(n), lengths)
    keep = ~np.isin(owner, rows)
    new_len = np.array([len(x) for x in lists], dtype=np.int64)
    new_vals = np.asarray([v for x in lists for v in x], dtype=col.values.dtype)
    vals = np.concatenate([col.values[keep], new_vals])
    own = np.concatenate([owner[keep], np.repeat(rows, new_len)])
    order = np.argsort(own, kind="stable")
    counts = np.bincount(own, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Ragged(vals[order], offsets)


def _put(col: Any, rows: np.ndarray, values: list) -> Any:
    """``col`` (any column kind) with JSON ``values`` put back at ``rows``."""
    if isinstance(col, Categorical):
        return _cat_assign(col, rows, np.asarray(values, dtype=object))
    if isinstance(col, Ragged):
        return _ragged_assign(col, rows, values)
    out = np.array(col, copy=True)
    if out.dtype.kind == "f":
        out[rows] = np.array([np.nan if v is None else v for v in values], dtype=out.dtype)
    else:
        out[rows] = np.asarray(values, dtype=out.dtype)
    return out


def _cleared(col: Any, rows: np.ndarray) -> Any:
    """``col`` with no value at ``rows`` (NaN, empty list or missing)."""
    if isinstance(col, Ragged):
        return _ragged_assign(col, rows, [[] for _ in range(len(rows))])
    if isinstance(col, Categorical):
        return _cat_assign(col, rows, np.full(len(rows), None, dtype=object))
    out = np.array(col, dtype=np.float64, copy=True)
    out[rows] = np.nan
    return out


def _copy_table(t: Table) -> Table:
    return Table(dict(t.columns), t.schema, n=len(t))


# ----------------------------------------------------------------------------- mapping
def _map_names(old: np.ndarray, table: Mapping[str, str], keep: set[str] | None,
               default: str | None) -> np.ndarray:
    """Map each distinct old name: the table's entry (or ``'*'``), else the old name when
    ``keep`` holds it (None: any non-missing name), else ``default``."""
    out = np.empty(len(old), dtype=object)
    for name in set(old.tolist()):  # one per distinct name
        if name is not None and name in table:
            new = table[name]
        elif "*" in table:
            new = table["*"]
        elif name is not None and (keep is None or name in keep):
            new = name
        else:
            new = default
        out[old == name if name is not None else np.array([v is None for v in old])] = new
    return out


def _landing(new_type: CellType, secs: np.ndarray, locs: np.ndarray, mechs: np.ndarray,
             syn_map: SynMap, valid_mechs: set[str], where: str
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(section, location, synaptic mechanism) of rows landing on ``new_type``."""
    n = len(secs)
    if isinstance(new_type, PointCell):  # the cell is the target; the mechanism is kept
        return np.full(n, None, dtype=object), locs.copy(), mechs.copy()
    names = set(new_type.sections)
    default = (new_type.spike_source or (next(iter(new_type.sections)), 0.5))[0]
    new_secs = _map_names(secs, syn_map.sec, names, default)
    bad = sorted({s for s in new_secs.tolist() if s not in names})
    if bad:
        raise ConversionError(f"{where}: section(s) {bad} of the section map are not in cell "
                              f"type {new_type.name!r} (its sections: {sorted(names)})")
    new_locs = np.where(new_secs == secs, locs, syn_map.loc).astype(np.float64)
    new_mechs = _map_names(mechs, syn_map.syn_mech, None, None)
    if any(m is None for m in new_mechs.tolist()):
        raise ConversionError(
            f"{where}: rows onto compartmental cell type {new_type.name!r} need a synaptic "
            f"mechanism; give one with syn_map synMech '*' (valid: {sorted(valid_mechs)})")
    unknown = sorted({m for m in new_mechs.tolist() if m not in valid_mechs})
    if unknown:
        raise ConversionError(f"{where}: unknown synaptic mechanism(s) {unknown} (valid: "
                              f"{sorted(valid_mechs)})")
    return new_secs, new_locs, new_mechs


def _remap_rows(table: Table, gid_col: str, cols: tuple[str, str, str], gids: np.ndarray,
                new_type: CellType, syn_map: SynMap, valid: set[str], where: str
                ) -> tuple[Table, dict]:
    """Rows of ``table`` onto ``gids`` moved onto ``new_type``; the old values recorded."""
    rows = np.flatnonzero(np.isin(np.asarray(table[gid_col]), gids)) if len(table) else \
        np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        return table, {}
    sec_c, loc_c, mech_c = cols
    scaled = syn_map.weight is not None
    old = {c: _values(table[c], rows) for c in (*cols, *(("weight",) if scaled else ()))}
    secs, locs, mechs = _landing(
        new_type, table[sec_c].values()[rows], np.asarray(table[loc_c], dtype=np.float64)[rows],
        table[mech_c].values()[rows], syn_map, valid, where)
    out = _copy_table(table)
    out[sec_c] = _cat_assign(table[sec_c], rows, secs)
    out[loc_c] = _put(table[loc_c], rows, locs.tolist())
    out[mech_c] = _cat_assign(table[mech_c], rows, mechs)
    if scaled:
        w = np.array(table["weight"], dtype=np.float64, copy=True)
        w[rows] *= syn_map.weight
        out["weight"] = w
    return out, {"rows": rows.tolist(), "old": old}


# ----------------------------------------------------------------------------- swap
def swap_cell_type(net: Network, rows: np.ndarray, new_type: CellType, *,
                   syn_map: SynMap | None = None, mod_files: Mapping[str, str] | None = None,
                   files: Mapping[str, Any] | None = None, note: str = "") -> Network:
    """A copy of ``net`` whose cells ``rows`` (boolean mask of the cells table) have
    ``new_type``; see the module docstring.

    Parameters
    ----------
    net : Network
    rows : ndarray of bool
        The cells to swap (rows of ``net.cells``). The result is in canonical row order
        (:meth:`Network.canonical`, the store's), which the record refers to.
    new_type : CellType
        The new cell type, under its own name (added to ``cell_types``, or already there and
        equal).
    syn_map : SynMap, optional
    mod_files, files : dict, optional
        NMODL sources and embedded files the new type needs (added when missing).
    note : str
        Where the new type came from (kept in the record).

    Raises
    ------
    ConversionError
        No cell chosen, a clashing cell type / mod file, pointer connections on the chosen
        cells, or an impossible synapse mapping.
    """
    syn_map = syn_map or SynMap()
    rows = np.asarray(rows, dtype=bool)
    canon = net.canonical()  # the store's row order, which the record's row numbers refer to
    if canon is not net:
        rows = np.isin(np.asarray(canon.cells["gid"]), np.asarray(net.cells["gid"])[rows])
        net = canon
    idx = np.flatnonzero(rows)
    if len(idx) == 0:
        raise ConversionError("swap: the selection chooses no cell")
    name = new_type.name
    existing = net.cell_types.get(name)
    if existing is not None and not existing.equals(new_type):
        raise ConversionError(f"swap: the network already has a different cell type {name!r}; "
                              "give the new one another name")
    gids = np.asarray(net.cells["gid"])[idx]
    ptr = net.pointer_conns
    if len(ptr) and (np.isin(np.asarray(ptr["post_gid"]), gids).any()
                     or np.isin(np.asarray(ptr["pre_gid"]), gids).any()):
        raise ConversionError("swap: the chosen cells have gap junctions / pointer "
                              "connections, which cannot be moved onto another cell type")
    rec: dict[str, Any] = {"new_type": name, "added_type": existing is None, "note": note,
                           "gids": gids.tolist(), "syn_map": {"sec": syn_map.sec,
                                                              "synMech": syn_map.syn_mech,
                                                              "loc": syn_map.loc,
                                                              "weight": syn_map.weight}}
    cells, rec["cells"] = _swap_cells(net.cells, idx, new_type)
    valid = set(net.syn_mechs)
    conns, rec["connections"] = _remap_rows(
        net.connections, "post_gid", ("post_sec", "post_loc", "syn_mech"), gids, new_type,
        syn_map, valid, "swap: connections")
    stims, rec["stim_targets"] = _remap_rows(
        net.stim_targets, "gid", ("sec", "loc", "syn_mech"), gids, new_type, syn_map, valid,
        "swap: stim_targets")
    pops, rec["populations"] = _swap_pops(net, cells, new_type)
    mods, rec["added_mod_files"] = _add_files(net.mod_files, mod_files or {}, "mod file",
                                              lambda a, b: a == b)
    embedded, rec["added_files"] = _add_files(net.files, files or {}, "file",
                                              lambda a, b: a.sha256 == b.sha256)
    cell_types = dict(net.cell_types)
    cell_types.setdefault(name, copy.deepcopy(new_type))
    prov = copy.deepcopy(net.provenance)
    prov[SWAPS_KEY] = [*prov.get(SWAPS_KEY, []), rec]
    return net.replace(cells=cells, connections=conns, stim_targets=stims, populations=pops,
                       cell_types=cell_types, mod_files=mods, files=embedded, provenance=prov)


def _swap_cells(cells: Table, idx: np.ndarray, new_type: CellType) -> tuple[Table, dict]:
    out = _copy_table(cells)
    rec: dict[str, Any] = {"rows": idx.tolist(), "old": {}}
    model = new_type.model if isinstance(new_type, PointCell) else None
    for col, value in (("cell_type", new_type.name), (_TAG_COLUMN, new_type.name),
                       (_MODEL_COLUMN, model)):
        if col in cells:
            values = np.full(len(idx), value, dtype=object)
            rec["old"][col] = _values(cells[col], idx)
            out[col] = (_cat_assign(cells[col], idx, values)
                        if isinstance(cells[col], Categorical) else
                        _put(cells[col], idx, values.tolist()))
    for col in cells.extra_columns:  # per-cell values of the old type
        if col.startswith(("params.", "param.secs.")):
            rec["old"][col] = _values(cells[col], idx)
            out[col] = _cleared(cells[col], idx)
    return out, rec


def _swap_pops(net: Network, cells: Table, new_type: CellType) -> tuple[dict, dict]:
    pops = dict(net.populations)
    pop_col: Categorical = cells["pop"]  # type: ignore[assignment]
    ct_col: Categorical = cells["cell_type"]  # type: ignore[assignment]
    code = ct_col.code_of(new_type.name)
    old: dict[str, Any] = {}
    touched = np.unique(pop_col.codes[ct_col.codes == code])
    for c in touched.tolist():
        pname = pop_col.categories[c]
        pop = pops.get(pname)
        if pop is None:
            continue
        old[pname] = pop.to_dict()
        pop = copy.deepcopy(pop)
        whole = bool(np.all(ct_col.codes[pop_col.codes == c] == code))
        pop.cell_type = new_type.name if whole else None
        if whole and "cellType" in pop.tags:
            pop.tags["cellType"] = new_type.name
        if whole and isinstance(new_type, PointCell):
            pop.tags["cellModel"] = new_type.model
        elif whole:
            pop.tags.pop("cellModel", None)
        pops[pname] = pop
    return pops, old


def _add_files(have: Mapping[str, Any], new: Mapping[str, Any], what: str, same
               ) -> tuple[dict, list[str]]:
    out = dict(have)
    added = []
    for k, v in new.items():
        if k in out:
            if not same(out[k], v):
                raise ConversionError(f"swap: {what} {k!r} of the new cell type differs from "
                                      "the network's own")
            continue
        out[k] = v
        added.append(k)
    return out, added


# ----------------------------------------------------------------------------- undo
def last_swap(net: Network) -> dict[str, Any] | None:
    """The record of the latest swap of ``net`` (None if it has none)."""
    swaps = net.provenance.get(SWAPS_KEY) or []
    return swaps[-1] if swaps else None


def undo_swap(net: Network) -> Network:
    """``net`` as it was before its latest swap (:func:`swap_cell_type`), exactly.

    Raises
    ------
    ConversionError
        The network has no swap record, or its tables changed since.
    """
    rec = last_swap(net)
    if rec is None:
        raise ConversionError("undo swap: the network has no swap to undo (provenance has no "
                              f"'{SWAPS_KEY}')")
    net = net.canonical()
    cells = _restore(net.cells, rec["cells"], "cells")
    gids = np.asarray(net.cells["gid"])[np.asarray(rec["cells"]["rows"], dtype=np.int64)]
    if gids.tolist() != rec["gids"]:
        raise ConversionError("undo swap: the cells table changed since the swap")
    conns = _restore(net.connections, rec["connections"], "connections")
    stims = _restore(net.stim_targets, rec["stim_targets"], "stim_targets")
    pops = dict(net.populations)
    for pname, d in rec["populations"].items():
        pops[pname] = type(pops[pname]).from_dict(copy.deepcopy(d))
    cell_types = dict(net.cell_types)
    if rec["added_type"]:
        cell_types.pop(rec["new_type"], None)
    mods = {k: v for k, v in net.mod_files.items() if k not in rec["added_mod_files"]}
    files = {k: v for k, v in net.files.items() if k not in rec["added_files"]}
    prov = copy.deepcopy(net.provenance)
    prov[SWAPS_KEY] = prov[SWAPS_KEY][:-1]
    if not prov[SWAPS_KEY]:
        del prov[SWAPS_KEY]
    return net.replace(cells=cells, connections=conns, stim_targets=stims, populations=pops,
                       cell_types=cell_types, mod_files=mods, files=files, provenance=prov)


def _restore(table: Table, rec: Mapping[str, Any], what: str) -> Table:
    if not rec:
        return table
    rows = np.asarray(rec["rows"], dtype=np.int64)
    if len(rows) and rows.max() >= len(table):
        raise ConversionError(f"undo swap: the {what} table changed since the swap")
    out = _copy_table(table)
    for col, values in rec["old"].items():
        out[col] = _put(table[col], rows, values)
    return out


def old_types(rec: Mapping[str, Any]) -> set[str]:
    """The cell types the swapped cells had before the swap ``rec``."""
    return {v for v in rec["cells"]["old"].get("cell_type", []) if v is not None}

