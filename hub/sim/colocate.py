"""Cells that must share a rank, and deals of cells that keep them together (pure numpy/h5py).

Two kinds of link work in NEURON only between cells of one process:

* **live pointer connections** (``pointer_conns`` column ``live`` = 1; NeuroML gap junctions and
  graded synapses): the target mechanism's POINTER is set with ``h.setpointer`` to the source
  cell's variable and reads it live, within the step, after the step's events (an iaf reset)
  -- jNeuroML's semantics. ``ParallelContext.source_var``/``target_var`` (NetPyNE's, any
  rank) copies the value once per step after the voltage update, one step before such a reset
  is seen (``nrn_fixed_step``: ``deliver_net_events``, matrix set-up and solve, update, then
  the transfer in ``nonvint``).
* **connections with a delay below dt** (LEMS ``synapticConnection``: delay 0): NEURON's spike
  exchange between ranks needs every inter-rank delay >= dt ("usable mindelay is 0"), but its
  minimum delay is taken over the connections from other ranks only (``set_mindelay`` over
  ``gid2in_``, with one thread, fixed step or CVode), so a local NetCon with delay 0 runs, on
  NEURON and on CoreNEURON.

:func:`colocation_pairs` reads those links from a store; :func:`group_labels` makes the
connected components of the link graph; :func:`grouped_deal` and :func:`grouped_round_robin`
deal whole components (the usual deal of :mod:`nethub.sim.distribute`, NetPyNE's round robin)
instead of cells. A store without such links gets exactly the usual deal.
"""

from __future__ import annotations

import json
import logging
import os

import h5py
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import StoreError
from ..store import open_store
from .distribute import deal

__all__ = ["LIVE", "colocation_pairs", "group_labels", "grouped_deal", "grouped_round_robin",
           "largest_group_share"]

logger = logging.getLogger(__name__)

#: the ``pointer_conns`` column that marks live (``h.setpointer``) connections
LIVE = "live"
#: rows of one column read at a time (bounded memory on large connection tables)
_BLOCK = 1 << 20


def colocation_pairs(store: str | os.PathLike, dt: float | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Gid pairs ``(a, b)`` whose cells must be on one rank: the pre and post cells of live
    pointer connections and, with ``dt``, of connections whose delay is below ``dt`` (NaN
    delays are not short: the validator reports them)."""
    with open_store(store) as f:
        net = f["network"]
        gids = _column(net["cells"], "gid")
        pairs = [_pairs(net["pointer_conns"], gids, LIVE, lambda x: x != 0)]
        if dt is not None:
            pairs.append(_pairs(net["connections"], gids, "delay", lambda x: x < dt))
    a = np.concatenate([p[0] for p in pairs])
    b = np.concatenate([p[1] for p in pairs])
    return a, b


def _meta(group: h5py.Group) -> list[str]:
    return [m["name"] for m in json.loads(group.attrs["columns"])]


def _column(group: h5py.Group, name: str) -> np.ndarray:
    return group[f"c{_meta(group).index(name)}"][()]


def _pairs(group: h5py.Group, cell_gids: np.ndarray, column: str, select
           ) -> tuple[np.ndarray, np.ndarray]:
    """(pre gid, post gid) of the rows of a CSR-indexed table where ``select(column)``; the
    column is read in blocks, the pre gids only at the selected rows."""
    empty = np.zeros(0, dtype=np.int64)
    names = _meta(group)
    if column not in names or int(group.attrs["n_rows"]) == 0:
        return empty, empty
    ds = group[f"c{names.index(column)}"]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "iuf":
        raise StoreError(f"{ds.name}: column {column!r} of {group.name} must be numeric "
                         "(nethub validate)")
    rows = np.concatenate([np.flatnonzero(select(ds[s:s + _BLOCK])) + s
                           for s in range(0, ds.shape[0], _BLOCK)])
    if len(rows) == 0:
        return empty, empty
    pre = group[f"c{names.index('pre_gid')}"][()][rows]
    offsets = group["post_offsets"][()]
    post = np.asarray(cell_gids)[np.searchsorted(offsets, rows, side="right") - 1]
    return pre.astype(np.int64), post.astype(np.int64)


def group_labels(gids: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each of the sorted ``gids``, the first row (in gid order) of its connected component
    of the graph with edges ``a[i] - b[i]``: ``labels == arange(n)`` when nothing links
    cells. Gids of ``a``/``b`` that are not in ``gids`` are ignored (the validator reports
    them)."""
    gids = np.asarray(gids)
    n = len(gids)
    ia, ib = np.searchsorted(gids, a), np.searchsorted(gids, b)
    ok = (ia < n) & (ib < n)
    ok[ok] &= (gids[ia[ok]] == a[ok]) & (gids[ib[ok]] == b[ok])
    ia, ib = ia[ok], ib[ok]
    keep = ia != ib
    if not keep.any():
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int32), (ia[keep], ib[keep])),
                       shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    _, first = np.unique(comp, return_index=True)  # component ids -> their first row
    return first[comp].astype(np.int64)


def grouped_deal(costs: np.ndarray, labels: np.ndarray, nhost: int) -> list[np.ndarray]:
    """Rows of each rank (sorted), every group of ``labels`` (:func:`group_labels`) whole:
    :func:`~nethub.sim.distribute.deal` of the groups, taken in the order of their first rows
    with their summed costs. Without groups (``labels == arange(n)``) it is ``deal(costs)``."""
    costs = np.asarray(costs, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(costs)
    if np.array_equal(labels, np.arange(n)):
        return deal(costs, nhost)
    firsts, unit = np.unique(labels, return_inverse=True)
    per_rank = deal(np.bincount(unit, weights=costs, minlength=len(firsts)), nhost)
    owner = np.empty(len(firsts), dtype=np.int64)
    for r, units in enumerate(per_rank):
        owner[units] = r
    row_owner = owner[unit]
    return [np.flatnonzero(row_owner == r) for r in range(nhost)]


def grouped_round_robin(gids: np.ndarray, labels: np.ndarray, rank: int, nhost: int
                        ) -> np.ndarray:
    """NetPyNE's round robin (row ``i`` of the sorted gids on rank ``i % nhost``), each group
    on the rank of its first row. Without groups it is ``gids[rank::nhost]``."""
    gids = np.asarray(gids)
    return gids[np.asarray(labels) % nhost == rank]


def largest_group_share(costs: np.ndarray, labels: np.ndarray) -> tuple[int, float]:
    """Cells of the costliest group and its share of the total cost (0..1)."""
    costs = np.asarray(costs, dtype=np.float64)
    if len(costs) == 0:
        return 0, 0.0
    _, unit = np.unique(labels, return_inverse=True)
    load = np.bincount(unit, weights=costs)
    top = int(np.argmax(load))
    total = float(costs.sum())
    return int(np.sum(unit == top)), (float(load[top]) / total if total > 0 else 0.0)
