"""How cells are dealt to MPI ranks (pure numpy; no NEURON).

Scheme: cells are taken in gid order and cut into ``nhost`` contiguous blocks of nearly equal
estimated cost (a cell's cost is its number of segments plus its incoming connections), so that
each rank reads one contiguous slice of the store (one read per column) and the work is balanced.
The scheme depends only on the store and ``nhost``; spikes do not depend on it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["block_bounds", "rank_gids", "cell_costs"]


def cell_costs(n_segments: np.ndarray, n_incoming: np.ndarray) -> np.ndarray:
    """Estimated cost per cell: segments plus incoming connections (at least 1)."""
    return np.maximum(1.0, np.asarray(n_segments, float) + np.asarray(n_incoming, float))


def block_bounds(costs: np.ndarray, nhost: int) -> np.ndarray:
    """Row boundaries ``b`` (length nhost+1): rank r gets rows ``b[r]:b[r+1]``.

    Each cut falls where the cumulative cost first reaches ``r/nhost`` of the total, so no rank
    has more than the average plus one cell's cost.
    """
    costs = np.asarray(costs, dtype=np.float64)
    n = len(costs)
    if nhost < 1:
        raise ValueError("nhost must be >= 1")
    cum = np.concatenate([[0.0], np.cumsum(costs)])
    targets = cum[-1] * np.arange(1, nhost) / nhost
    cuts = np.searchsorted(cum, targets, side="left")
    bounds = np.concatenate([[0], np.clip(cuts, 0, n), [n]]).astype(np.int64)
    return np.maximum.accumulate(bounds)


def rank_gids(gids: np.ndarray, costs: np.ndarray, rank: int, nhost: int) -> np.ndarray:
    """The gids (sorted) that ``rank`` of ``nhost`` simulates."""
    order = np.argsort(gids, kind="stable")
    b = block_bounds(np.asarray(costs)[order], nhost)
    return np.asarray(gids)[order][b[rank]:b[rank + 1]]
