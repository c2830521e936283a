"""Grouping connections onto shared synapse objects (no NEURON)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, SynMech
from nethub.network import Network
from nethub.runconfig import RunConfig
from nethub.sim.merge import NO_OBJECT, mech_mergeable, plan_merge, segment_keys
from nethub.table import Categorical

STDP_MOD = """
NEURON { POINT_PROCESS STDPSyn  NONSPECIFIC_CURRENT i }
PARAMETER { tau = 2 (ms) e = 0 }
ASSIGNED { v i }
STATE { g }
BREAKPOINT { SOLVE s METHOD cnexp  i = g*(v - e) }
DERIVATIVE s { g' = -g/tau }
NET_RECEIVE(w, A, tlast) {
    INITIAL { A = 0 tlast = -1e9 }
    g = g + w*(1 + A)
    A = A*0.9
    tlast = t
}
"""


def make_net(conns: dict, nseg: int = 3, **changes) -> Network:
    izh = Section(geom={"L": 10, "nseg": 1},
                  point_processes=[{"mod": "Izhi2007b", "loc": 0.5, "vref": "V", "label": "iz"}])
    kw = dict(
        cell_types={
            "PYR": CompartmentalCell("PYR", sections={
                "soma": Section(geom={"L": 20, "diam": 20, "nseg": 1}),
                "dend": Section(geom={"L": 300, "diam": 2, "nseg": nseg}, parent="soma"),
            }),
            "IZ": CompartmentalCell("IZ", sections={"soma": izh}),
            "art": PointCell("art", model="IntFire1"),
        },
        syn_mechs={
            "AMPA": SynMech("AMPA", "Exp2Syn", {"tau1": 0.1, "tau2": 5.0, "e": 0}),
            "GABA": SynMech("GABA", "ExpSyn", {"tau": 8.0, "e": -80}),
            "NMDA": SynMech("NMDA", "MyNMDA", {"tau": 80}),
            "STDP": SynMech("STDP", "STDPSyn", {}),
            "EXPR": SynMech("EXPR", "Exp2Syn", {"tau2": "2 + post_ynorm"}),
            "GAP": SynMech("GAP", "ElectSyn", {}, pointer={"source_var": "v"}),
        },
        populations={"E": Population("E", "PYR", 3)},
        cells={"gid": [10, 11, 12, 20, 30], "pop": ["E", "E", "E", "I", "A"],
               "cell_type": ["PYR", "PYR", "PYR", "IZ", "art"]},
        connections=conns,
        mod_files={"stdp.mod": STDP_MOD},
    )
    kw.update(changes)
    return Network(**kw)


def conn_table(rows: list[tuple]) -> dict:
    """rows of (post_gid, syn_mech, post_sec, post_loc[, weight_index, plast])."""
    out = {"pre_gid": [], "post_gid": [], "syn_mech": [], "post_sec": [], "post_loc": [],
           "weight": [], "weight_index": [], "plast": []}
    for k, r in enumerate(rows):
        post, mech, sec, loc = r[:4]
        out["pre_gid"].append(1000 + k)
        out["post_gid"].append(post)
        out["syn_mech"].append(mech)
        out["post_sec"].append(sec)
        out["post_loc"].append(loc)
        out["weight"].append(0.01)
        out["weight_index"].append(r[4] if len(r) > 4 else 0)
        out["plast"].append(r[5] if len(r) > 5 else None)
    for key in ("pre_gid", "post_gid", "weight_index"):
        out[key] = np.asarray(out[key], dtype=np.int64)
    for key in ("post_loc", "weight"):
        out[key] = np.asarray(out[key], dtype=np.float64)
    return out


def test_segment_keys_follow_neuron_node_index():
    loc = np.array([0.0, 0.1, 1 / 3, 0.34, 0.5, 2 / 3, 0.9, 1.0, 0.5])
    nseg = np.array([3, 3, 3, 3, 3, 3, 3, 3, 1])
    # int(3*x) clipped to 2; the ends are their own nodes
    assert segment_keys(loc, nseg).tolist() == [-1, 0, 1, 1, 1, 2, 2, 3, 0]


def test_same_cell_segment_and_mechanism_share_one_object():
    net = make_net(conn_table([
        (10, "AMPA", "dend", 0.1),   # 0: object 0
        (10, "AMPA", "dend", 0.2),   # same segment (nseg 3: [0, 1/3)) → 0
        (10, "AMPA", "dend", 0.5),   # segment 1 → 1
        (10, "GABA", "dend", 0.1),   # other mechanism → 2
        (11, "AMPA", "dend", 0.1),   # other cell → 3
        (10, "AMPA", "soma", 0.5),   # other section → 4
        (10, "AMPA", "soma", 0.9),   # soma has nseg 1 → 4
        (10, "AMPA", "dend", 0.0),   # end node → 5
        (10, "AMPA", "dend", 1.0),   # other end node → 6
        (10, "AMPA", "dend", 0.3),   # segment 0 again → 0
    ]))
    plan = plan_merge(net)
    assert plan.syn_index.tolist() == [0, 0, 1, 2, 3, 4, 4, 5, 6, 0]
    assert plan.n_objects == 7
    assert plan.first_row.tolist() == [0, 2, 3, 4, 5, 7, 8]
    assert plan.merged
    assert plan.report["saved"] == {"AMPA": 3}
    assert plan.report["n_objects"] == 7 and plan.report["n_connections"] == 10
    assert plan.describe() == "10 connections onto 7 synapse objects (saved: AMPA 3)"


def test_rows_that_keep_their_own_object():
    net = make_net(conn_table([
        (10, "AMPA", "dend", 0.1),
        (10, "AMPA", "dend", 0.1, 1),               # weight_index 1
        (10, "AMPA", "dend", 0.1, 0, '{"hebbian": {}}'),  # plasticity
        (10, "NMDA", "dend", 0.1),                  # unknown mechanism (no source)
        (10, "NMDA", "dend", 0.1),
        (10, "STDP", "dend", 0.1),                  # per-connection state
        (10, "STDP", "dend", 0.1),
        (10, "EXPR", "dend", 0.1),                  # per-synapse expression
        (10, "EXPR", "dend", 0.1),
        (10, "AMPA", "dend", 0.15),
    ]))
    plan = plan_merge(net)
    assert plan.syn_index.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    rep = plan.report
    assert rep["rows_not_merged"] == {"weight_index other than 0": 1, "plasticity": 1}
    assert set(rep["not_merged"]) == {"NMDA", "STDP", "EXPR"}
    assert "no NMODL source" in rep["not_merged"]["NMDA"]
    assert "per-connection" in rep["not_merged"]["STDP"]
    assert "string expressions" in rep["not_merged"]["EXPR"]
    assert "rows kept apart: 1 (plasticity), 1 (weight_index other than 0)" in plan.describe()


def test_targets_without_objects():
    net = make_net(conn_table([
        (30, "AMPA", None, 0.5),    # artificial cell: the NetCon targets the cell itself
        (20, "AMPA", "soma", 0.5),  # Izhi2007b section with vref: the cell's point process
        (10, "AMPA", "dend", 0.5),
        (20, "AMPA", "soma", 0.5),
        (10, "AMPA", "dend", 0.5),
    ]))
    plan = plan_merge(net)
    assert plan.syn_index.tolist() == [NO_OBJECT, NO_OBJECT, 0, NO_OBJECT, 0]
    assert plan.n_objects == 1 and plan.first_row.tolist() == [2]


def test_missing_section_or_location_keeps_own_object():
    net = make_net(conn_table([
        (10, "AMPA", None, 0.5),
        (10, "AMPA", None, 0.5),
        (10, "AMPA", "axon", 0.5),
        (10, "AMPA", "dend", float("nan")),
        (10, "AMPA", "dend", float("nan")),
    ]))
    plan = plan_merge(net)
    assert plan.syn_index.tolist() == [0, 1, 2, 3, 4]
    assert sum(plan.report["rows_not_merged"].values()) == 5


def test_switch_off():
    net = make_net(conn_table([(10, "AMPA", "dend", 0.1)] * 4))
    plan = plan_merge(net, RunConfig(merge_synapses=False))
    assert plan.syn_index.tolist() == [0, 1, 2, 3]
    assert not plan.merged and plan.report["enabled"] is False
    assert plan.report["not_merged"]["AMPA"] == "merging is switched off"
    assert plan_merge(net, RunConfig()).syn_index.tolist() == [0, 0, 0, 0]


def test_mech_mergeable_reasons():
    net = make_net(conn_table([]))
    assert mech_mergeable(net, "AMPA")[0] and mech_mergeable(net, "GABA")[0]
    assert "pointer" in mech_mergeable(net, "GAP")[1]
    assert "not defined" in mech_mergeable(net, "nope")[1]
    net.syn_mechs["SELF"] = SynMech("SELF", "ExpSyn", {}, self_netcon={"threshold": -20})
    assert "selfNetCon" in mech_mergeable(net, "SELF")[1]
    net.syn_mechs["LIST"] = SynMech("LIST", "ExpSyn", {"tau": [1, 2]})
    assert "not plain numbers" in mech_mergeable(net, "LIST")[1]


def test_unknown_post_gid_is_an_error():
    net = make_net(conn_table([(99, "AMPA", "dend", 0.1)]))
    with pytest.raises(ValueError, match="99"):
        plan_merge(net)


def test_empty_table():
    plan = plan_merge(make_net(conn_table([])))
    assert plan.n_objects == 0 and len(plan.syn_index) == 0 and not plan.merged


def test_rank_subset_of_rows():
    net = make_net(conn_table([(10, "AMPA", "dend", 0.1), (11, "AMPA", "dend", 0.1),
                               (11, "AMPA", "dend", 0.2)]))
    plan = plan_merge(net, conns=net.connections.take(np.array([1, 2])))
    assert plan.syn_index.tolist() == [0, 0]


def brute_force(net: Network) -> list[int]:
    """Reference grouping with a dict, row by row."""
    c = net.connections
    nseg = {"soma": 1, "dend": 3}
    ids: dict[tuple, int] = {}
    out = []
    for post, mech, sec, loc in zip(c["post_gid"].tolist(), c["syn_mech"].values(),
                                    c["post_sec"].values(), c["post_loc"].tolist()):
        n = nseg[sec]
        seg = -1 if loc == 0 else n if loc == 1 else min(int(n * loc), n - 1)
        out.append(ids.setdefault((post, mech, sec, seg), len(ids)))
    return out


def test_matches_brute_force_on_random_rows():
    rng = np.random.default_rng(5)
    n = 3000
    locs = rng.choice(np.r_[0.0, 1.0, 1 / 3, 2 / 3, rng.random(40)], n)
    rows = [(int(rng.choice([10, 11, 12])), str(rng.choice(["AMPA", "GABA"])),
             str(rng.choice(["soma", "dend"])), float(x)) for x in locs]
    net = make_net(conn_table(rows))
    assert plan_merge(net).syn_index.tolist() == brute_force(net)


@pytest.mark.slow
def test_ten_million_rows_in_seconds():
    n_cells, n = 10_000, 10_000_000
    rng = np.random.default_rng(0)
    sec = Categorical(rng.integers(0, 2, n).astype(np.int32), ["soma", "dend"])
    conns = {"pre_gid": rng.integers(0, n_cells, n),
             "post_gid": np.sort(rng.integers(0, n_cells, n)),
             "syn_mech": Categorical(rng.integers(0, 2, n).astype(np.int32), ["AMPA", "GABA"]),
             "post_sec": sec, "post_loc": rng.random(n), "weight": np.full(n, 0.01)}
    net = make_net(conns, nseg=5, cells={"gid": np.arange(n_cells), "pop": ["E"] * n_cells,
                                         "cell_type": ["PYR"] * n_cells})
    t = time.process_time()  # CPU time: the shared machine's load does not count against it
    plan = plan_merge(net)
    elapsed = time.process_time() - t
    # per cell: 2 mechanisms × (1 soma + 5 dend segments) objects at most
    assert plan.n_objects <= n_cells * 12
    assert plan.n_objects > n_cells * 11
    assert elapsed < 10, f"{elapsed:.1f} s of CPU"


def test_keep_apart_rows():
    net = make_net(conn_table([(10, "AMPA", "dend", 0.1)] * 3 + [(11, "AMPA", "dend", 0.1)] * 2))
    keep = {"synMech recorded": np.array([True, True, True, False, False])}
    plan = plan_merge(net, keep_apart=keep)
    assert plan.syn_index.tolist() == [0, 1, 2, 3, 3]
    assert plan.report["rows_not_merged"] == {"synMech recorded": 3}


def test_per_cell_nseg_column():
    """``param.secs.dend.geom.nseg`` (per cell, NaN: the cell type's 3) decides the segment."""
    net = make_net(conn_table([(10, "AMPA", "dend", 0.1), (10, "AMPA", "dend", 0.3),
                               (11, "AMPA", "dend", 0.1), (11, "AMPA", "dend", 0.3),
                               (12, "AMPA", "dend", 0.1), (12, "AMPA", "dend", 0.3)]))
    net.cells["param.secs.dend.geom.nseg"] = np.array([1.0, 9.0, np.nan, np.nan, np.nan])
    # cell 10: one segment; cell 11: 0.1 and 0.3 in segments 0 and 2; cell 12: type's 3
    assert plan_merge(net).syn_index.tolist() == [0, 0, 1, 2, 3, 3]
