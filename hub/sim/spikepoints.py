"""Spike sources at presynaptic points other than a cell's spike detector.

A NeuroML connection names a presynaptic segment and fraction; jNeuroML's NEURON export gives
each connection its own ``NetCon(&v(x), syn, threshold, delay, weight)`` there, so the spike is
detected where the connection leaves the cell (an axon's far end spikes later than the soma).
The connections table carries such a point in its optional ``spike_sec`` / ``spike_loc``
columns (``docs/store.md``); a row without them (NaN) listens to the cell's spike source.

ParallelContext has one spike source per id, so every distinct ``(pre gid, spike_sec,
spike_loc)`` of the whole table gets an extra source: ids after the largest cell gid, in the
sorted order of those triples (:func:`assign_ids`), the same on every rank. The rank owning
the pre cell creates it (``NetCon(sec(x)._ref_v, None)`` with the cell's threshold), and the
rows are connected to it instead of the cell's gid. The extra sources' spikes are not the
cell's: :class:`nethub.sim.record.Recorder` drops them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..errors import SimulationError

__all__ = ["Key", "assign_ids", "local_keys", "attach"]

#: (pre gid, section, x) of an extra spike source
Key = tuple[int, str, float]


def local_keys(conns: Any) -> tuple[np.ndarray, list[Key], np.ndarray]:
    """Rows of this rank's connections with a presynaptic point, their distinct keys (sorted)
    and each row's index into those keys (vectorized: one step per distinct point)."""
    none = np.zeros(0, dtype=np.int64)
    if len(conns) == 0 or "spike_loc" not in conns:
        return none, [], none
    loc = np.asarray(conns["spike_loc"], dtype=np.float64)
    rows = np.flatnonzero(~np.isnan(loc))
    if not len(rows):
        return rows, [], none
    sec = conns["spike_sec"]
    codes = np.asarray(sec.codes, dtype=np.int64)[rows]
    if np.any(codes < 0):
        raise SimulationError(f"{int(np.count_nonzero(codes < 0))} connection(s) have a "
                              "spike_loc but no spike_sec")
    rec = np.rec.fromarrays([np.asarray(conns["pre_gid"], dtype=np.int64)[rows], codes,
                             loc[rows]], names="gid,code,loc")
    uniq, inverse = np.unique(rec, return_inverse=True)
    keys = [(int(g), str(sec.categories[c]), float(x)) for g, c, x in uniq.tolist()]
    return rows, keys, np.asarray(inverse, dtype=np.int64).reshape(-1)


def assign_ids(keys: list[Key], max_gid: int) -> dict[Key, int]:
    """Source id of each distinct key: ``max_gid + 1``, ``+ 2``, ... in sorted key order
    (deterministic: every rank computes the same ids from the same keys)."""
    return {k: max_gid + 1 + i for i, k in enumerate(sorted(set(keys)))}


def attach(eng: Any) -> np.ndarray:
    """Create this rank's extra spike sources and point the connection rows that use them at
    their ids (``eng.net.connections['pre_gid']``). Collective under MPI (every rank calls
    it). Returns the ids of all extra sources (sorted; empty without any)."""
    conns = eng.net.connections
    rows, keys, inverse = local_keys(conns)
    local = (keys, max(eng.cells, default=-1))
    every = eng.pc.py_allgather(local) if eng.nhost > 1 else [local]
    ids = assign_ids([k for ks, _ in every for k in ks], max(m for _, m in every))
    if not ids:
        return np.zeros(0, dtype=np.int64)
    types = eng.net.cells["cell_type"].values()  # once: a row lookup per source below
    for key, sid in ids.items():
        if key[0] in eng.cells:
            _source(eng, key, sid, eng.net.cell_types[types[eng._row(key[0])]])
    if len(rows):
        pre = np.array(conns["pre_gid"], dtype=np.int64)
        pre[rows] = np.array([ids[k] for k in keys], dtype=np.int64)[inverse]
        conns["pre_gid"] = pre
    return np.array(sorted(ids.values()), dtype=np.int64)


def _source(eng: Any, key: Key, sid: int, ct: Any) -> None:
    """The spike source ``sid`` at ``key`` (its cell is on this rank; cell type ``ct``)."""
    gid, sec_name, x = key
    secs = eng.cells[gid].secs
    if sec_name not in secs:
        raise SimulationError(f"connections from gid {gid} listen to v at {sec_name}({x:g}), "
                              "but the cell has no such section (spike_sec column)")
    hsec = secs[sec_name]
    nc = eng.h.NetCon(hsec(x)._ref_v, None, sec=hsec)
    nc.threshold = _threshold(eng, ct)
    eng.pc.set_gid2node(sid, eng.rank)
    eng.pc.cell(sid, nc, 1)
    eng.keep.append(nc)


def _threshold(eng: Any, ct: Any) -> float:
    """The cell's spike threshold (its spike source section's, else the run's default)."""
    if isinstance(ct, CompartmentalCell) and ct.sections:
        sec_name = (ct.spike_source or (next(iter(ct.sections)), 0.5))[0]
        thr = ct.sections[sec_name].threshold
        if thr is not None:
            return float(thr)
    return float(eng.default_threshold)
