"""Which gids this rank simulates (reads only the store's index)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .distribute import block_bounds, cell_costs

__all__ = ["local_gids"]


def local_gids(store: Path, rank: int, nhost: int) -> np.ndarray:
    """The contiguous, cost-balanced block of gids of ``rank`` (see nethub.sim.distribute)."""
    from ..store import read_cell_index

    idx = read_cell_index(store)
    costs = cell_costs(idx["n_segments"], idx["n_incoming"])
    b = block_bounds(costs, nhost)
    return idx["gids"][b[rank]:b[rank + 1]]
