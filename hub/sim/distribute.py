"""How cells are dealt to MPI ranks (pure numpy; no NEURON).

Scheme (:func:`deal`): cells are taken in gid order and cut into ``nhost`` contiguous blocks so
that the most loaded rank carries as little estimated work as any contiguous cut allows
(:func:`block_bounds`); each rank then reads one contiguous slice of the store (one read per
column). When even the best contiguous cut leaves a rank more than :data:`TOLERANCE` above
what any deal could reach (a few heavy cells next to each other, e.g. 8 large cells on 4 ranks),
the cells are cut into 2, 4, ... 32 pieces per rank (a piece: consecutive light cells, or one
heavy cell), dealt largest first to the least loaded rank: each rank then reads a few slices.
The deal depends only on the store and ``nhost``; spikes do not depend on it.

The cost of a cell estimates its work per time step, in units of one segment's node (matrix row
and capacitance, about 20 ns on a 2020s x86 core with NEURON 9):

- per segment ``1 +`` the weights of its density mechanisms (:data:`DENSITY_WEIGHTS`);
- its own point processes (:data:`POINT_WEIGHTS`) and a spike detector
  (:data:`SPIKE_DETECTOR`);
- an artificial cell (NetStim, IntFire*, VecStim, ...) :data:`ARTIFICIAL_CELL` (they are
  event-driven: no work per step);
- per incoming connection :data:`NETCON` (event delivery) plus its share of a synapse object:
  with synapse merging several connections share one object (:mod:`nethub.sim.merge`);
- per stimulus target :data:`STIM` (an IClamp, or a NetStim with its NetCon and synapse).

The weights were measured once (``h.LoadBalance().ExperimentalMechComplex()`` gives similar
ratios: hh ≈ 2.5 capacitance nodes). A mechanism not in the tables is weighted from the number
of STATE variables of its NMODL source (:func:`nethub.nmodl.mod_weight`), or a default.
"""

from __future__ import annotations

import heapq

import numpy as np

from ..celltypes import CellType, CompartmentalCell
from ..nmodl import mod_weight

__all__ = ["DENSITY_WEIGHTS", "POINT_WEIGHTS", "ARTIFICIAL_CELL", "SPIKE_DETECTOR", "NETCON",
           "STIM", "type_cost", "cell_costs", "count_costs", "block_bounds",
           "block_loads", "imbalance", "deal", "rank_gids", "TOLERANCE"]

#: per segment, relative to the segment's node (measured: 2000 segments, dt 0.025, NEURON 9.0)
DENSITY_WEIGHTS: dict[str, float] = {"pas": 0.3, "hh": 2.6, "fastpas": 0.8,
                                     "extracellular": 13.0}
#: per instance, same unit
POINT_WEIGHTS: dict[str, float] = {"Exp2Syn": 1.0, "ExpSyn": 0.65, "AlphaSynapse": 0.75,
                                   "IClamp": 0.85, "SEClamp": 1.1, "VClamp": 1.6,
                                   "APCount": 0.3}
#: an artificial cell (NetStim, IntFire1/2/4, VecStim: no work per step; a small floor)
ARTIFICIAL_CELL = 0.05
#: threshold detection on a compartmental cell's spike source, per step
SPIKE_DETECTOR = 0.65
#: per incoming connection: event delivery (about 10-50 Hz presynaptic rates)
NETCON = 0.01
#: per stimulus target (IClamp, or NetStim + NetCon + synapse object)
STIM = 1.0
#: a deal may exceed the lower bound max(mean, largest cell) by this factor before cells are
#: dealt in more pieces than ranks
TOLERANCE = 1.05
#: pieces per rank tried when contiguous blocks are not balanced enough
_PIECES = (2, 4, 8, 16, 32)
def _mech_weight(name: str, point: bool, mod_source) -> float:
    table = POINT_WEIGHTS if point else DENSITY_WEIGHTS
    if name in table:
        return table[name]
    return mod_weight(mod_source(name) if mod_source else None, point)


def type_cost(ct: CellType, mod_source=None) -> float:
    """Work per step of one cell of type ``ct``, without its connections and stimuli.

    ``mod_source(name)`` returns the NMODL text of a mechanism not in the tables (or None).
    """
    if not isinstance(ct, CompartmentalCell):
        return ARTIFICIAL_CELL
    cost = SPIKE_DETECTOR
    for sec in ct.sections.values():
        nseg = _nseg(sec.geom.get("nseg", 1))
        cost += nseg * (1.0 + sum(_mech_weight(m, False, mod_source) for m in sec.mechs))
        for pp in [*sec.point_processes, *sec.syn_mechs]:
            cost += _mech_weight(str(pp.get("mod", "")), True, mod_source)
    return cost


def _nseg(value) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):  # an unresolved expression: count one segment
        return 1


def cell_costs(base: np.ndarray, n_incoming: np.ndarray, n_syn_objects: np.ndarray,
               syn_weight: float = POINT_WEIGHTS["Exp2Syn"],
               n_stims: np.ndarray | int = 0) -> np.ndarray:
    """Cost per cell: ``base`` (its type's :func:`type_cost`) + :data:`NETCON` per incoming
    connection + ``syn_weight`` per synapse object + :data:`STIM` per stimulus target."""
    return (np.asarray(base, float) + NETCON * np.asarray(n_incoming, float)
            + syn_weight * np.asarray(n_syn_objects, float) + STIM * np.asarray(n_stims, float))


def count_costs(n_segments: np.ndarray, n_incoming: np.ndarray) -> np.ndarray:
    """The former estimate, kept for comparison: segments plus incoming connections (>= 1)."""
    return np.maximum(1.0, np.asarray(n_segments, float) + np.asarray(n_incoming, float))


def block_bounds(costs: np.ndarray, nhost: int) -> np.ndarray:
    """Row boundaries ``b`` (length nhost+1): rank r gets rows ``b[r]:b[r+1]``.

    The largest block cost is the smallest any cut into ``nhost`` contiguous blocks can reach
    (so at most the mean plus one cell's cost); among such cuts, each cut lies as close as
    possible to where the cumulative cost reaches ``r/nhost`` of the total.
    """
    costs = np.asarray(costs, dtype=np.float64)
    if nhost < 1:
        raise ValueError("nhost must be >= 1")
    n = len(costs)
    cum = np.concatenate([[0.0], np.cumsum(costs)])
    if n == 0 or nhost == 1:
        return np.array([0] + [n] * nhost, dtype=np.int64)
    limit = _min_bottleneck(cum, nhost)
    # the last k blocks can hold rows lo[k]: (backward greedy under the limit)
    lo = np.zeros(nhost + 1, dtype=np.int64)
    lo[0] = n
    for k in range(1, nhost + 1):
        lo[k] = np.searchsorted(cum, cum[lo[k - 1]] - limit, side="left")
    targets = cum[-1] * np.arange(1, nhost) / nhost
    near = np.searchsorted(cum, targets, side="left")
    near -= (near > 0) & (np.abs(cum[np.maximum(near - 1, 0)] - targets)
                          <= np.abs(cum[np.minimum(near, n)] - targets))
    bounds = np.zeros(nhost + 1, dtype=np.int64)
    bounds[-1] = n
    for r in range(1, nhost):
        hi = np.searchsorted(cum, cum[bounds[r - 1]] + limit, side="right") - 1
        bounds[r] = min(max(near[r - 1], lo[nhost - r], bounds[r - 1]), hi)
    return bounds


def _blocks_needed(cum: np.ndarray, limit: float, nhost: int) -> int:
    """Blocks the forward greedy cut needs when no block may exceed ``limit`` (nhost+1 = more)."""
    start, n = 0, len(cum) - 1
    for k in range(1, nhost + 1):
        start = int(np.searchsorted(cum, cum[start] + limit, side="right")) - 1
        if start >= n:
            return k
    return nhost + 1


def _min_bottleneck(cum: np.ndarray, nhost: int) -> float:
    """Smallest feasible largest-block cost (bisection; relative precision 1e-9)."""
    costs = np.diff(cum)
    lo = max(cum[-1] / nhost, float(costs.max()))
    hi = cum[-1] / nhost + float(costs.max())
    hi *= 1.0 + 1e-12
    for _ in range(100):  # bounded: tiny (subnormal) costs stop halving
        if hi - lo <= 1e-9 * hi:
            break
        mid = 0.5 * (lo + hi)
        if _blocks_needed(cum, mid, nhost) <= nhost:
            hi = mid
        else:
            lo = mid
    return hi * (1.0 + 1e-12)


def block_loads(costs: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Summed cost of each block."""
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(costs, dtype=np.float64))])
    return cum[bounds[1:]] - cum[bounds[:-1]]


def imbalance(costs: np.ndarray, bounds: np.ndarray) -> float:
    """Largest block cost over the mean block cost (1.0 is perfect)."""
    loads = block_loads(costs, bounds)
    return float(loads.max() / loads.mean()) if loads.sum() > 0 else 1.0


def deal(costs: np.ndarray, nhost: int) -> list[np.ndarray]:
    """Rows (sorted) of each of ``nhost`` ranks: contiguous blocks unless they cannot balance
    within :data:`TOLERANCE` (see the module docstring)."""
    costs = np.asarray(costs, dtype=np.float64)
    b = block_bounds(costs, nhost)
    pieces, owner = b, np.arange(nhost)
    best = block_loads(costs, b).max() if len(costs) else 0.0
    floor = max(costs.sum() / nhost, costs.max()) if len(costs) else 0.0
    for k in _PIECES:
        step = costs.sum() / (k * nhost) if len(costs) else 0.0
        if best <= TOLERANCE * floor or not step > 0:
            break
        pb = _pieces(costs, step)
        loads = block_loads(costs, pb)
        own = _largest_first(loads, nhost)
        top = np.bincount(own, weights=loads, minlength=nhost).max()
        if top < best * (1 - 1e-9):
            pieces, owner, best = pb, own, top
    return [np.concatenate([np.arange(pieces[i], pieces[i + 1], dtype=np.int64)
                            for i in np.flatnonzero(owner == r)] or [np.zeros(0, np.int64)])
            for r in range(nhost)]


def _pieces(costs: np.ndarray, step: float) -> np.ndarray:
    """Bounds of contiguous pieces: cut where the cumulative cost passes each multiple of
    ``step``, and around every cell costing more than ``step`` (it stands alone)."""
    cum = np.concatenate([[0.0], np.cumsum(costs)])
    cuts = np.searchsorted(cum, np.arange(1, int(cum[-1] // step) + 1) * step, side="left")
    heavy = np.flatnonzero(costs > step)
    return np.unique(np.concatenate([[0, len(costs)], cuts, heavy, heavy + 1]))


def _largest_first(loads: np.ndarray, nhost: int) -> np.ndarray:
    """Owner rank of each piece: largest piece first to the least loaded rank (ties: lowest
    piece, lowest rank), so every rank computes the same deal."""
    heap = [(0.0, r) for r in range(nhost)]
    owner = np.zeros(len(loads), dtype=np.int64)
    for i in np.argsort(-loads, kind="stable"):
        load, r = heapq.heappop(heap)
        owner[i] = r
        heapq.heappush(heap, (load + float(loads[i]), r))
    return owner


def rank_gids(gids: np.ndarray, costs: np.ndarray, rank: int, nhost: int) -> np.ndarray:
    """The gids (sorted) that ``rank`` of ``nhost`` simulates."""
    order = np.argsort(gids, kind="stable")
    rows = deal(np.asarray(costs)[order], nhost)[rank]
    return np.asarray(gids)[order][rows]
