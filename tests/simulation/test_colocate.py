"""Co-location of linked cells in the deal of cells over ranks (nethub.sim.colocate): live
pointer connections and connections with a delay below dt keep their cells on one rank; a
store without such links is dealt exactly as before. No NEURON needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

import nethub
from nethub.celltypes import CompartmentalCell, Population, Section, SynMech
from nethub.network import Network
from nethub.sim.colocate import (
    colocation_pairs,
    group_labels,
    grouped_deal,
    grouped_round_robin,
    largest_group_share,
)
from nethub.sim.distribute import deal
from nethub.sim.exact import round_robin
from nethub.sim.partition import estimate_costs, local_gids

from .test_load_balance import hetero_spec


def test_group_labels_are_first_rows_of_components():
    gids = np.array([3, 5, 8, 10, 12, 20])
    # 3-12 and 12-20 join rows 0, 4, 5; 5-8 joins rows 1, 2; 10 alone; 99 unknown: ignored
    labels = group_labels(gids, np.array([3, 12, 5, 99, 10]), np.array([12, 20, 8, 3, 10]))
    assert labels.tolist() == [0, 1, 1, 3, 0, 0]
    assert group_labels(gids, np.zeros(0, int), np.zeros(0, int)).tolist() == list(range(6))
    # many rows between the same cells (both directions of gap junctions, repeated links)
    assert group_labels(gids[:3], np.full(300, 3), np.full(300, 5)).tolist() == [0, 0, 2]


def test_grouped_deal_without_groups_is_the_deal():
    costs = np.random.default_rng(1).gamma(1.0, 2.0, 500)
    for nhost in (2, 3, 7):
        got = grouped_deal(costs, np.arange(500), nhost)
        for a, b in zip(got, deal(costs, nhost)):
            np.testing.assert_array_equal(a, b)


def test_grouped_deal_keeps_groups_whole_and_balances():
    rng = np.random.default_rng(2)
    n = 400
    costs = rng.uniform(1, 3, n)
    a, b = rng.integers(0, n, 60), rng.integers(0, n, 60)  # scattered pairs, a few chains
    labels = group_labels(np.arange(n), a, b)
    for nhost in (2, 4):
        parts = grouped_deal(costs, labels, nhost)
        rows = np.concatenate(parts)
        np.testing.assert_array_equal(np.sort(rows), np.arange(n))  # every cell once
        owner = np.empty(n, int)
        for r, p in enumerate(parts):
            owner[p] = r
            assert np.all(np.diff(p) > 0)  # sorted rows
        assert np.all(owner[a] == owner[b])
        loads = np.array([costs[p].sum() for p in parts])
        assert loads.max() / loads.mean() < 1.05


def test_grouped_round_robin():
    gids = np.arange(10, 20)
    assert np.array_equal(grouped_round_robin(gids, np.arange(10), 1, 3), round_robin(gids, 1, 3))
    labels = group_labels(gids, np.array([11, 14]), np.array([17, 18]))  # rows 1+7, 4+8
    parts = [grouped_round_robin(gids, labels, r, 3).tolist() for r in range(3)]
    assert parts == [[10, 13, 16, 19], [11, 14, 17, 18], [12, 15]]


def test_largest_group_share():
    labels = np.array([0, 1, 0, 3])
    assert largest_group_share(np.array([1.0, 1, 2, 1]), labels) == (2, 0.6)


def _linked_net() -> Network:
    """12 one-section cells; live gap junction 0<->11 (two rows), a transfer gap junction 3<->4,
    a connection 5 -> 9 with delay 0 and others with delay 2."""
    ct = CompartmentalCell("C", sections={"soma": Section(geom={"L": 10, "diam": 10})})
    live = {"pre_gid": [11, 0, 4, 3], "post_gid": [0, 11, 3, 4], "syn_mech": ["gap"] * 4,
            "pre_sec": ["soma"] * 4, "post_sec": ["soma"] * 4, "live": [1, 1, 0, 0]}
    return Network(
        cell_types={"C": ct}, populations={"P": Population("P", "C", 12)},
        syn_mechs={"syn": SynMech("syn", "ExpSyn"), "gap": SynMech("gap", "gap")},
        cells={"gid": np.arange(12), "pop": ["P"] * 12, "cell_type": ["C"] * 12},
        connections={"pre_gid": [5, 1, 2, 7], "post_gid": [9, 6, 10, 2],
                     "syn_mech": ["syn"] * 4, "delay": [0.0, 2.0, 2.0, 2.0]},
        pointer_conns=live)


@pytest.fixture(scope="module")
def linked_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("colocate") / "linked.h5"
    nethub.save(_linked_net(), path)
    return path


def test_pairs_from_the_store(linked_store):
    a, b = colocation_pairs(linked_store)
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 11), (11, 0)]  # live rows only
    a, b = colocation_pairs(linked_store, dt=0.025)
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 11), (5, 9), (11, 0)]
    assert len(colocation_pairs(linked_store, dt=2.5)[0]) == 6  # every delay-2 row too


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("nhost", [2, 3, 4])
def test_linked_cells_share_a_rank(linked_store, exact, nhost):
    parts = [local_gids(linked_store, r, nhost, exact=exact, dt=0.025) for r in range(nhost)]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(12))
    owner = {g: r for r, p in enumerate(parts) for g in p.tolist()}
    assert owner[0] == owner[11] and owner[5] == owner[9]
    assert all(len(p) for p in parts)  # still spread over every rank
    if exact:  # each group on the round-robin rank of its first gid, the rest round robin
        assert owner[0] == 0 and owner[5] == 5 % nhost
        assert all(owner[g] == g % nhost for g in range(12) if g not in (9, 11))


@pytest.fixture(scope="module")
def hetero_store(tmp_path_factory):
    net, cfg = hetero_spec()
    path = tmp_path_factory.mktemp("hetero") / "hetero.h5"
    nethub.save(nethub.build(net, cfg), path)
    return path


def test_unlinked_store_is_dealt_as_before(hetero_store):
    """No live pointers, every delay >= dt: the same deal (work-based and round robin) with
    the run's dt as without it, and the extra read of the delay column is cheap."""
    gids, costs = estimate_costs(hetero_store)
    t = time.perf_counter()
    a, _ = colocation_pairs(hetero_store, dt=0.025)
    spent = time.perf_counter() - t
    assert len(a) == 0 and spent < 0.5
    for nhost in (2, 4):
        for r in range(nhost):
            np.testing.assert_array_equal(local_gids(hetero_store, r, nhost, dt=0.025),
                                          gids[deal(costs, nhost)[r]])
            np.testing.assert_array_equal(
                local_gids(hetero_store, r, nhost, exact=True, dt=0.025),
                round_robin(gids, r, nhost))
