"""Share one synapse point process among the connections that may share it.

NetPyNE creates one synapse object per connection (``oneSynPerNetcon``); with 100 inputs per
cell that makes a run 12–14x slower than one shared synapse per cell, place and type. For a
*linear* mechanism (:mod:`nethub.nmodl.linearity`) N NetCons onto one instance give the same
conductance as N instances, so connections with the same

- post gid, synMech and post section,
- segment of ``post_loc`` (NEURON puts a point process at the centre of the segment that
  contains ``x``: ``min(int(nseg*x), nseg-1)``; ``x = 0`` and ``x = 1`` are the end nodes),

share one object, provided the mechanism is linear, its parameters are plain numbers (no
per-synapse string expressions), it has no ``pointerParams`` or ``selfNetCon``, and the
connection has no plasticity (``plast`` missing), uses ``weight_index`` 0 and is not among the
rows the caller keeps apart (the engine: synapses whose variables are recorded). Segments come
from the cell type's ``nseg`` or the cell's own (cells column ``param.secs.<sec>.geom.nseg``).

The result is exact in real arithmetic; in floating point the order of summation changes, so
spike times may move by round-off (tests/simulation/test_merge_engine.py: small deterministic
networks of each synapse class within 1e-6 ms, 300 noisy HH cells for 1 s with rates within 1 %
and correlating above 0.99; measured: identical spikes in all of them and in NetPyNE's
tutorials tut4, tut5, tut_gap and HybridTut).

:func:`plan_merge` works on numpy columns only (no NEURON): about a second for 10M rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, PointCell
from ..network import Network
from ..nmodl import find_mod_source, is_linear
from ..runconfig import RunConfig
from ..store import read_network
from ..table import Categorical, Table
from . import synparams, synshare

__all__ = ["MergePlan", "plan_merge", "mech_mergeable", "segment_keys", "store_savings",
           "NO_OBJECT"]

logger = logging.getLogger(__name__)

#: ``syn_index`` of a row whose NetCon targets the cell's own point process (an artificial cell,
#: or a section with a ``vref`` point process such as Izhi2007b): no synapse object is made.
NO_OBJECT = -1
#: synMech parameters that are not set on the point process (as ``engine._SYN_RESERVED``)
_RESERVED = frozenset({"mod", "loc", "selfNetCon", "pointerParams", "shape", "plast"})


@dataclass
class MergePlan:
    """Which synapse object each connection row uses.

    Attributes
    ----------
    syn_index : ndarray of int64
        Per connection row, the id of its synapse object: dense ``0 .. n_objects-1`` in order
        of first use (row order), or ``NO_OBJECT`` (-1) when the NetCon targets the cell's own
        point process.
    n_objects : int
        Number of synapse objects to create.
    first_row : ndarray of int64
        For each object id, the row that first uses it: create object ``k`` as the synapse of
        row ``first_row[k]`` (its cell, synMech, section and location).
    report : dict
        ``enabled``, ``n_connections``, ``n_objects``, ``saved`` (objects saved per synMech),
        ``not_merged`` (synMech → reason it is never merged) and ``rows_not_merged``
        (reason → number of rows of otherwise mergeable synMechs kept apart).
    """

    syn_index: np.ndarray
    n_objects: int
    first_row: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def merged(self) -> bool:
        """Whether any object is shared."""
        return int(np.count_nonzero(self.syn_index >= 0)) > self.n_objects

    def describe(self) -> str:
        """One line for the log: connections, objects, savings and what was not merged."""
        r = self.report
        text = f"{r['n_connections']} connections onto {self.n_objects} synapse objects"
        if r["saved"]:
            text += " (saved: " + ", ".join(f"{k} {v}" for k, v in r["saved"].items()) + ")"
        if r["not_merged"]:
            text += "; not merged: " + "; ".join(f"{k}: {v}" for k, v in r["not_merged"].items())
        if r["rows_not_merged"]:
            text += "; rows kept apart: " + ", ".join(
                f"{v} ({k})" for k, v in r["rows_not_merged"].items())
        return text


def mech_mergeable(net: Network, name: str) -> tuple[bool, str]:
    """Whether connections through synMech ``name`` may share one point process, and why."""
    mech = net.syn_mechs.get(name)
    if mech is None:
        return False, f"synMech '{name}' is not defined"
    if mech.pointer is not None:
        return False, "pointer connection (gap junction or graded synapse)"
    if mech.self_netcon is not None:
        return False, "has selfNetCon (per-synapse NetCon from the cell)"
    exprs = [k for k, v in mech.params.items() if k not in _RESERVED and isinstance(v, str)]
    if exprs:
        return False, (f"parameter(s) {', '.join(sorted(exprs))} are per-synapse string "
                       "expressions")
    odd = [k for k, v in mech.params.items() if k not in _RESERVED
           and not isinstance(v, (int, float, bool))]
    if odd:
        return False, f"parameter(s) {', '.join(sorted(odd))} are not plain numbers"
    return is_linear(mech.model, find_mod_source(mech.model, net.mod_files))


def segment_keys(loc: np.ndarray, nseg: np.ndarray) -> np.ndarray:
    """NEURON's node of a point process at ``loc`` (0..1) on a section of ``nseg`` segments:
    ``min(int(nseg*x), nseg-1)`` inside the section (``node_index``), -1 at ``x = 0`` and
    ``nseg`` at ``x = 1`` (the end nodes, where NEURON places a point process at exactly 0 or
    1)."""
    loc = np.asarray(loc, dtype=np.float64)
    nseg = np.asarray(nseg, dtype=np.int64)
    key = (nseg * loc).astype(np.int64)
    np.minimum(key, nseg - 1, out=key)
    key[loc == 0.0] = -1
    at_end = loc == 1.0
    key[at_end] = np.broadcast_to(nseg, key.shape)[at_end]
    return key


def plan_merge(net: Network, config: RunConfig | None = None,
               conns: Table | None = None,
               keep_apart: Mapping[str, np.ndarray] | None = None) -> MergePlan:
    """Assign each connection row (of ``conns``, default ``net.connections``, e.g. one rank's
    rows) the synapse object it uses.

    ``net.cells`` must hold every post cell of the rows (a rank's network holds its own
    cells). With ``config.merge_synapses`` false every row gets its own object, as in
    NetPyNE; with ``config.share_synapses`` (NetPyNE's ``oneSynPerNetcon=False``) the rows
    merging leaves apart share by exact location. ``keep_apart`` maps a reason to a boolean
    mask of rows that must keep their own object (e.g. synapses whose variables are recorded).
    """
    conns = net.connections if conns is None else conns
    n = len(conns)
    config = config or RunConfig()
    enabled = config.merge_synapses
    report: dict[str, Any] = {"enabled": enabled, "n_connections": n, "saved": {},
                              "not_merged": {}, "rows_not_merged": {}}
    mech: Categorical = conns["syn_mech"]  # type: ignore[assignment]
    sec: Categorical = conns["post_sec"]  # type: ignore[assignment]
    post = np.asarray(conns["post_gid"], dtype=np.int64)
    cell_row, ct_code = _post_cells(net, post)
    ct_names = net.cells["cell_type"].categories  # type: ignore[union-attr]
    nseg_lut, no_object_lut = _section_tables(net, ct_names, sec.categories)
    # (cell type, section) class of each row; section code -1 (missing) is the last column
    n_sec = len(sec.categories) + 1
    klass = ct_code * n_sec + (sec.codes.astype(np.int64) % n_sec)
    no_object = no_object_lut.ravel().take(klass)
    rep = np.arange(n, dtype=np.int64)
    rep[no_object] = NO_OBJECT

    mech_ok = np.zeros(len(mech.categories) + 1, dtype=bool)  # last slot: code -1 (missing)
    for code, name in enumerate(mech.categories):
        ok, reason = mech_mergeable(net, name) if enabled else (False, "merging is switched off")
        mech_ok[code] = ok
        if not ok:
            report["not_merged"][name] = reason
    nseg = nseg_lut.ravel().take(klass)
    _per_cell_nseg(net, sec, cell_row, nseg)
    loc = np.asarray(conns["post_loc"], dtype=np.float64)
    cand = mech_ok.take(mech.codes) & ~no_object
    _count(report, "no post section, unknown section or nseg", cand & (nseg == 0))
    cand &= nseg > 0
    _count(report, "post_loc outside 0..1", cand & ~((loc >= 0) & (loc <= 1)))
    cand &= (loc >= 0) & (loc <= 1)
    cand &= _row_filters(conns, cand, report)
    own = synparams.own_rows(conns)  # param.<name> rows keep their object (and are not shared)
    if own is not None:
        _count(report, "own synapse parameters (param.*)", cand & own)
        cand &= ~own
    for reason, mask in (keep_apart or {}).items():
        mask = np.asarray(mask, dtype=bool)
        _count(report, reason, cand & mask)
        cand &= ~mask
    if cand.any():
        idx = np.flatnonzero(cand)
        seg = segment_keys(loc[idx], nseg[idx])
        key = _pack([cell_row[idx], mech.codes[idx], sec.codes[idx], seg + 1])
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        rep[idx] = idx[first][inverse.reshape(-1)]
    if config.share_synapses:  # NetPyNE's oneSynPerNetcon=False: the rows merging left apart
        report["oneSynPerNetcon"] = False
        free = ~cand & ~no_object if own is None else ~cand & ~no_object & ~own
        synshare.share_rows(rep, free, cell_row, mech.codes, sec.codes, loc)
    plan = _finish(rep, report)
    _savings(plan, mech)
    return plan


def _finish(rep: np.ndarray, report: dict) -> MergePlan:
    """Dense object ids in order of first use from each row's representative row."""
    n = len(rep)
    has = rep >= 0
    is_first = np.zeros(n, dtype=bool)
    is_first[has] = rep[has] == np.flatnonzero(has)
    ids = np.cumsum(is_first, dtype=np.int64) - 1
    syn_index = np.full(n, NO_OBJECT, dtype=np.int64)
    syn_index[has] = ids[rep[has]]
    first_row = np.flatnonzero(is_first).astype(np.int64)
    report["n_objects"] = int(len(first_row))
    return MergePlan(syn_index, int(len(first_row)), first_row, report)


def _savings(plan: MergePlan, mech: Categorical) -> None:
    """``report['saved']``: objects saved per synMech (rows with an object minus objects)."""
    k = len(mech.categories) + 1
    codes = mech.codes.astype(np.int64) % k  # missing (-1) → last slot
    rows = np.bincount(codes[plan.syn_index >= 0], minlength=k)
    objs = np.bincount(codes[plan.first_row], minlength=k)
    for code, name in enumerate(mech.categories):
        if rows[code] > objs[code]:
            plan.report["saved"][name] = int(rows[code] - objs[code])


def _post_cells(net: Network, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's post cell: its row in ``net.cells`` and its cell-type code (looked up once per
    run of equal post gids; the store keeps connections sorted by post gid)."""
    if len(post) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    gids = np.asarray(net.cells["gid"], dtype=np.int64)
    if not len(gids):
        raise ValueError("connections given but net.cells is empty")
    starts = np.flatnonzero(np.r_[True, post[1:] != post[:-1]])
    values = post[starts]
    order = np.argsort(gids, kind="stable")
    pos = np.minimum(np.searchsorted(gids, values, sorter=order), len(gids) - 1)
    row = order[pos]
    bad = gids[row] != values
    if np.any(bad):
        missing = np.unique(values[bad])[:5].tolist()
        raise ValueError(f"connections target gid(s) {missing} that are not in net.cells")
    codes = np.asarray(net.cells["cell_type"].codes, dtype=np.int64)  # type: ignore[union-attr]
    lengths = np.diff(np.r_[starts, len(post)])
    return np.repeat(row, lengths), np.repeat(codes[row], lengths)


def _section_tables(net: Network, ct_names: list[str], sec_names: list[str]):
    """Per (cell type, section category; last column: no section): nseg (0 when the section
    is unknown) and whether the NetCon targets the cell's own point process (an artificial
    cell, or a section with a ``vref`` point process) so that no synapse object is made."""
    nseg = np.zeros((len(ct_names), len(sec_names) + 1), dtype=np.int64)
    no_object = np.zeros(nseg.shape, dtype=bool)
    for c, name in enumerate(ct_names):
        ct = net.cell_types.get(name)
        if isinstance(ct, PointCell):
            no_object[c, :] = True
            continue
        if not isinstance(ct, CompartmentalCell):
            continue
        for s, sname in enumerate(sec_names):
            section = ct.sections.get(sname)
            if section is None:
                continue
            value = section.geom.get("nseg", 1)
            nseg[c, s] = int(value) if isinstance(value, (int, float)) else 0
            no_object[c, s] = any("vref" in pp for pp in section.point_processes)
    return nseg, no_object


def _per_cell_nseg(net: Network, sec: Categorical, cell_row: np.ndarray,
                   nseg: np.ndarray) -> None:
    """Per-cell segment counts (cells columns ``param.secs.<sec>.geom.nseg``, NaN: the cell
    type's) replace the cell type's in ``nseg``; a value that is not a plain number makes the
    rows unmergeable (nseg 0)."""
    for code, name in enumerate(sec.categories):
        col_name = f"param.secs.{name}.geom.nseg"
        if col_name not in net.cells:
            continue
        rows = np.flatnonzero(sec.codes == code)
        col = net.cells[col_name]
        if not isinstance(col, np.ndarray) or col.dtype.kind not in "fiu":
            nseg[rows] = 0
            continue
        vals = np.asarray(col, dtype=np.float64)[cell_row[rows]]
        own = ~np.isnan(vals)
        nseg[rows[own]] = vals[own].astype(np.int64)


def _row_filters(conns: Table, cand: np.ndarray, report: dict) -> np.ndarray:
    """Rows of mergeable synMechs that still need their own object: plasticity, a weight
    index other than 0."""
    keep = np.ones(len(cand), dtype=bool)
    if "plast" in conns:
        plast = conns["plast"]
        has = plast.codes >= 0 if isinstance(plast, Categorical) else \
            np.array([p is not None for p in plast])
        _count(report, "plasticity", cand & has)
        keep &= ~has
    if "weight_index" in conns:
        widx = np.asarray(conns["weight_index"])
        nonzero = widx != 0
        _count(report, "weight_index other than 0", cand & nonzero)
        keep &= ~nonzero
    return keep


def _count(report: dict, reason: str, mask: np.ndarray) -> None:
    k = int(np.count_nonzero(mask))
    if k:
        report["rows_not_merged"][reason] = report["rows_not_merged"].get(reason, 0) + k


def _pack(cols: list[np.ndarray]) -> np.ndarray:
    """Non-negative integer columns packed into one int64 key (or rows of a 2-D array when
    they do not fit in 63 bits)."""
    cols = [np.asarray(c, dtype=np.int64) for c in cols]
    bits = [max(int(c.max()).bit_length(), 1) if len(c) else 1 for c in cols]
    if sum(bits) > 63:
        stacked = np.stack(cols, axis=1)
        _, inv = np.unique(stacked, axis=0, return_inverse=True)
        return inv.reshape(-1).astype(np.int64)
    key = np.zeros(len(cols[0]), dtype=np.int64)
    for c, b in zip(cols, bits):
        key = (key << b) | c
    return key


def store_savings(path: str | os.PathLike) -> dict[str, Any] | None:
    """What merging would save on the network of a store (for ``nethub info``).

    Returns
    -------
    dict or None
        ``n_connections``, ``n_objects`` (synapse objects with merging), ``n_unmerged``
        (objects without it, NetPyNE's count), ``saved`` (per synMech) and ``not_merged``
        (synMech → reason); ``None`` when the store has no connections or cannot be planned.
    """
    net = read_network(path)
    if len(net.connections) == 0:
        return None
    try:
        plan = plan_merge(net)
    except ValueError as exc:  # connections onto cells the store does not hold
        logger.warning("%s: synapse merging not estimated: %s", path, exc)
        return None
    r = plan.report
    return {"n_connections": r["n_connections"], "n_objects": plan.n_objects,
            "n_unmerged": plan.n_objects + sum(r["saved"].values()),
            "saved": dict(r["saved"]), "not_merged": dict(r["not_merged"])}
