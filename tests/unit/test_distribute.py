"""The dealing of cells to ranks: contiguous, complete, balanced by cost."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethub.sim.distribute import block_bounds, cell_costs, rank_gids


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.5, max_value=1e4), min_size=0, max_size=300),
       st.integers(min_value=1, max_value=17))
def test_blocks_cover_and_balance(costs, nhost):
    costs = np.asarray(costs)
    b = block_bounds(costs, nhost)
    assert len(b) == nhost + 1 and b[0] == 0 and b[-1] == len(costs)
    assert np.all(np.diff(b) >= 0)
    if len(costs):
        loads = np.add.reduceat(np.r_[costs, 0.0], b[:-1])[: nhost] * (np.diff(b) > 0)
        assert loads.max() <= costs.sum() / nhost + costs.max() + 1e-6


def test_rank_gids_partition():
    gids = np.array([7, 3, 11, 5, 1, 9])
    costs = cell_costs([1, 1, 1, 1, 1, 1], [0, 10, 0, 0, 0, 0])
    parts = [rank_gids(gids, costs, r, 3) for r in range(3)]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.sort(gids))
    assert all(np.all(np.diff(p) > 0) for p in parts)


def test_bad_nhost():
    with pytest.raises(ValueError):
        block_bounds(np.ones(3), 0)
