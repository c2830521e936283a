"""The order in which rank 0 receives trace rows: the serial run's order whatever the deal."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nethub.sim.record import trace_schedule


def _delivered(rank_gids):
    return np.concatenate([rank_gids[r][lo:hi] for r, lo, hi in trace_schedule(rank_gids)]
                          or [np.zeros(0, dtype=np.int64)])


def test_contiguous_blocks_one_round_per_rank():
    g = [np.array([0, 0, 1, 2]), np.array([3, 4, 4]), np.array([], dtype=np.int64)]
    assert trace_schedule(g) == [(0, 0, 4), (1, 0, 3)]


def test_sliced_deal_restores_gid_order():
    g = [np.array([0, 1, 5, 5, 6]), np.array([2, 3, 4, 7])]
    assert trace_schedule(g) == [(0, 0, 2), (1, 0, 3), (0, 2, 5), (1, 3, 4)]
    assert _delivered(g).tolist() == [0, 1, 2, 3, 4, 5, 5, 6, 7]


def test_no_traces():
    assert trace_schedule([np.zeros(0, dtype=np.int64)] * 3) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), max_size=40), st.integers(1, 4))
def test_any_deal_gives_serial_order(cells, nhost):
    """Cells (gid = position) dealt to ranks at random, each with 1-3 trace rows."""
    owner = [o % nhost for o, _ in cells]
    rank_gids = [np.array([g for g, (o, k) in enumerate(cells) if owner[g] == r
                           for _ in range(k)], dtype=np.int64) for r in range(nhost)]
    serial = np.array([g for g, (_, k) in enumerate(cells) for _ in range(k)], dtype=np.int64)
    assert _delivered(rank_gids).tolist() == serial.tolist()
