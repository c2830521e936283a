"""The dealing of cells to ranks: contiguous, complete, optimally balanced for the cost model;
and the cost model itself (per-mechanism weights, synapse objects, artificial cells)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethub.celltypes import CompartmentalCell, PointCell, Section
from nethub.nmodl import DEFAULT_DENSITY, mod_weight
from nethub.sim import distribute as d
from nethub.sim.distribute import (
    block_bounds,
    block_loads,
    cell_costs,
    count_costs,
    deal,
    imbalance,
    rank_gids,
    type_cost,
)

costs_lists = st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=0, max_size=300)


def _target_cut_max(costs: np.ndarray, nhost: int) -> float:
    """Largest block of the former rule: cut where the cumulative cost first reaches r/nhost."""
    cum = np.concatenate([[0.0], np.cumsum(costs)])
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, nhost) / nhost, side="left")
    b = np.maximum.accumulate(np.concatenate([[0], cuts, [len(costs)]]))
    return float(block_loads(costs, b).max())


def _best_max(costs: np.ndarray, nhost: int) -> float:
    """Brute force: the smallest largest block over every contiguous cut."""
    n = len(costs)
    best = np.inf
    for cuts in itertools.combinations_with_replacement(range(n + 1), nhost - 1):
        best = min(best, block_loads(costs, np.array([0, *cuts, n])).max())
    return float(best)


@settings(max_examples=200, deadline=None)
@given(costs_lists, st.integers(min_value=1, max_value=17))
def test_blocks_cover_and_balance(costs, nhost):
    costs = np.asarray(costs)
    b = block_bounds(costs, nhost)
    assert len(b) == nhost + 1 and b[0] == 0 and b[-1] == len(costs)
    assert np.all(np.diff(b) >= 0)
    if len(costs):
        loads = block_loads(costs, b)
        assert loads.max() <= costs.sum() / nhost + costs.max() + 1e-6 * (1 + costs.sum())
        assert loads.max() <= _target_cut_max(costs, nhost) * (1 + 1e-9) + 1e-9


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=100.0), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=4))
def test_blocks_optimal_for_contiguous(costs, nhost):
    costs = np.asarray(costs)
    got = block_loads(costs, block_bounds(costs, nhost)).max()
    assert got <= _best_max(costs, nhost) * (1 + 1e-8) + 1e-12


def test_blocks_spread_equal_cells():
    # 10 equal cells on 4 ranks: 3,2,3,2 (cuts near the quarter marks), not 3,3,3,1
    b = block_bounds(np.ones(10), 4)
    assert np.diff(b).tolist() in ([3, 2, 3, 2], [2, 3, 2, 3], [3, 2, 2, 3], [2, 3, 3, 2])
    assert imbalance(np.ones(10), b) == pytest.approx(1.2)


def test_one_heavy_cell_gets_its_own_rank():
    costs = np.r_[np.ones(30), 40.0, np.ones(30)]
    b = block_bounds(costs, 2)
    assert block_loads(costs, b).max() == 70.0  # heavy cell + 30 light ones: the optimum
    b4 = block_bounds(costs, 4)
    assert block_loads(costs, b4).max() == 40.0


def _runs(rows: np.ndarray) -> int:
    return int(len(rows) > 0) + int(np.count_nonzero(np.diff(rows) != 1))


@settings(max_examples=200, deadline=None)
@given(costs_lists, st.integers(min_value=1, max_value=9))
def test_deal_complete_and_no_worse_than_blocks(costs, nhost):
    costs = np.asarray(costs)
    parts = deal(costs, nhost)
    assert len(parts) == nhost
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(costs)))
    assert all(np.all(np.diff(p) > 0) for p in parts)
    loads = np.array([costs[p].sum() for p in parts])
    blocks = block_loads(costs, block_bounds(costs, nhost))
    assert loads.max() <= blocks.max() * (1 + 1e-9) + 1e-9
    floor = max(costs.sum() / nhost, costs.max()) if len(costs) else 0.0
    if len(costs) and blocks.max() <= d.TOLERANCE * floor:  # contiguous is good enough: kept
        assert max(_runs(p) for p in parts) <= 1


def test_deal_splits_adjacent_heavy_cells():
    # light cells, 8 heavy ones side by side, light cells: 4 contiguous blocks cannot balance
    costs = np.r_[np.full(60, 0.05), np.full(8, 200.0), np.full(80, 6.0)]
    blocks = block_loads(costs, block_bounds(costs, 4))
    assert blocks.max() / blocks.mean() > 1.15
    parts = deal(costs, 4)
    loads = np.array([costs[p].sum() for p in parts])
    assert loads.max() / loads.mean() < 1.03
    assert max(_runs(p) for p in parts) <= 8  # a few slices each
    # the same on 2 ranks is fine contiguous: one block each
    assert [_runs(p) for p in deal(costs, 2)] == [1, 1]


def test_rank_gids_partition():
    gids = np.array([7, 3, 11, 5, 1, 9])
    costs = count_costs([1, 1, 1, 1, 1, 1], [0, 10, 0, 0, 0, 0])
    parts = [rank_gids(gids, costs, r, 3) for r in range(3)]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.sort(gids))
    assert all(np.all(np.diff(p) > 0) for p in parts)


def test_bad_nhost():
    with pytest.raises(ValueError):
        block_bounds(np.ones(3), 0)


def test_empty_and_fewer_cells_than_ranks():
    assert block_bounds(np.zeros(0), 3).tolist() == [0, 0, 0, 0]
    b = block_bounds(np.ones(2), 4)
    assert b[0] == 0 and b[-1] == 2 and block_loads(np.ones(2), b).max() == 1.0


# ----------------------------------------------------------------------------- cost model
HH_MOD = """
NEURON { SUFFIX myhh USEION na READ ena WRITE ina }
STATE { m h (1) n <1e-4> }  : three states
"""
SYN_MOD = """
COMMENT
STATE { x y z }
ENDCOMMENT
NEURON { POINT_PROCESS MySyn }
STATE { A (uS) B (uS) }
"""


def _cell(**secs) -> CompartmentalCell:
    return CompartmentalCell("c", sections={k: Section(**v) for k, v in secs.items()})


def test_type_cost_single_compartment_hh():
    c = _cell(soma={"geom": {"nseg": 1}, "mechs": {"hh": {}}})
    assert type_cost(c) == pytest.approx(d.SPIKE_DETECTOR + 1 + d.DENSITY_WEIGHTS["hh"])


def test_type_cost_counts_segments_mechanisms_and_point_processes():
    c = _cell(soma={"geom": {"nseg": 1}, "mechs": {"hh": {}},
                    "point_processes": [{"mod": "IClamp", "loc": 0.5}]},
              dend={"geom": {"nseg": 11}, "mechs": {"pas": {}, "hh": {}}, "parent": "soma"})
    want = (d.SPIKE_DETECTOR + (1 + 2.6) + d.POINT_WEIGHTS["IClamp"] + 11 * (1 + 0.3 + 2.6))
    assert type_cost(c) == pytest.approx(want)
    bare = _cell(soma={"geom": {"nseg": 1}}, dend={"geom": {"nseg": 11}})
    assert type_cost(c) > 3 * type_cost(bare)


def test_unknown_mechanisms_weighted_from_their_source():
    assert mod_weight(HH_MOD, point=False) == pytest.approx(0.3 + 0.75 * 3)
    assert mod_weight(SYN_MOD, point=True) == pytest.approx(0.5 + 0.25 * 2)
    assert mod_weight(None, point=False) == DEFAULT_DENSITY
    c = _cell(soma={"geom": {"nseg": 2}, "mechs": {"myhh": {}}})
    src = {"myhh": HH_MOD}.get
    assert type_cost(c, src) == pytest.approx(d.SPIKE_DETECTOR + 2 * (1 + 2.55))
    assert type_cost(c) == pytest.approx(d.SPIKE_DETECTOR + 2 * (1 + DEFAULT_DENSITY))


def test_artificial_cells_are_cheap():
    hh = _cell(soma={"geom": {"nseg": 1}, "mechs": {"hh": {}}})
    assert type_cost(PointCell("ns", model="NetStim")) == d.ARTIFICIAL_CELL
    assert d.ARTIFICIAL_CELL < type_cost(hh) / 50


def test_cell_costs_formula():
    got = cell_costs([5.0, 5.0], [100, 100], [100, 2], syn_weight=1.0, n_stims=[0, 1])
    np.testing.assert_allclose(got, [5 + 100 * d.NETCON + 100, 5 + 100 * d.NETCON + 2 + d.STIM])
