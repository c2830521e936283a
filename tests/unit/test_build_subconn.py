"""Unit tests of nethub.builder.subconn (NetPyNE's subConnParams), without NEURON or NetPyNE.

Expected values are worked out by hand from NetPyNE 1.1's ``netpyne/network/subconn.py`` on a
straight cell (soma 20 µm, dend 100 µm in 4 segments, along +y), or were printed by NEURON 9.0
(path distances on a tree with interior and flipped connections).
"""

from __future__ import annotations

import copy
import math
import random
import sys
import types

import numpy as np
import pytest

from nethub.builder import build, subconn
from nethub.builder.secgeom import _Topology
from nethub.builder.subconn import _py_sum, parse_rule
from nethub.celltypes import CompartmentalCell, Section
from nethub.errors import SpecError

N_PRE = 12  # presynaptic NetStims, gids 1..12 (the post cell is gid 0)


def _cell(pt3d: bool = True, weight_norm: bool = False) -> dict:
    secs = {
        "soma": {"geom": {"L": 20.0, "diam": 20.0, "nseg": 1}},
        "dend": {"geom": {"L": 100.0, "diam": 2.0, "nseg": 4},
                 "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0}},
    }
    if pt3d:
        secs["soma"]["geom"]["pt3d"] = [[0, 0, 0, 20], [0, 20, 0, 20]]
        secs["dend"]["geom"]["pt3d"] = [[0, 20, 0, 2], [0, 120, 0, 2]]
    if weight_norm:
        secs["soma"]["weightNorm"] = [2.0]
        secs["dend"]["weightNorm"] = [1.0, 2.0, 3.0, 4.0]
    return {"secs": secs, "secLists": {"all": ["soma", "dend"]}}


def _spec(density, *, sub=None, conn=None, cell=None, net=None) -> dict:
    """One post cell at the origin, N_PRE NetStims each connected once (soma, AMPA)."""
    rule = {"preConds": {"pop": "S"}, "postConds": {"pop": "E"}, "sec": "all",
            "density": density, **(sub or {})}
    return {
        "cellParams": {"PYR": cell or _cell()},
        "popParams": {"E": {"cellType": "PYR", "cellsList": [{"x": 0, "y": 0, "z": 0}]},
                      "S": {"cellModel": "NetStim", "numCells": N_PRE, "rate": 10}},
        "synMechParams": {"AMPA": {"mod": "Exp2Syn"}, "NMDA": {"mod": "Exp2Syn"}},
        "connParams": {"S->E": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"},
                                "connList": [[i, 0] for i in range(N_PRE)], "weight": 0.01,
                                "synMech": "AMPA", "sec": "soma", **(conn or {})}},
        "subConnParams": {"r": rule},
        **(net or {}),
    }


def _places(net_params, cfg=None) -> list[tuple[int, str, float, str, float]]:
    """(pre gid, sec, loc, synMech, weight) of every connection, sorted by pre gid and mech."""
    c = build(net_params, cfg or {}).connections
    rows = zip(np.asarray(c["pre_gid"]).tolist(), c["post_sec"].values(),
               np.asarray(c["post_loc"]).tolist(), c["syn_mech"].values(),
               np.asarray(c["weight"]).tolist())
    return sorted(rows, key=lambda r: (r[0], r[3]))


def _string_order() -> list[int]:
    """The pre gids in NetPyNE's sort order 'soma0.5' + str(preGid): 1, 10, 11, 12, 2, ..."""
    return sorted(range(1, N_PRE + 1), key=lambda g: "soma0.5" + str(g))


def _expect(slots: list[tuple[str, float]]) -> dict[int, tuple[str, float]]:
    return dict(zip(_string_order(), slots))


# ----------------------------------------------------------------------------- densities
def test_uniform_evenly_spaced_with_netpyne_reversed_locs():
    got = {g: (s, loc) for g, s, loc, _, _ in _places(_spec("uniform"))}
    # total 120 µm, 12 synapses: centres 5, 15, ..., 115; loc = (cum - abs) / L
    slots = [("soma", 0.75), ("soma", 0.25)] + [("dend", (120 - a) / 100)
                                                 for a in range(25, 120, 10)]
    want = _expect(slots)
    assert got.keys() == want.keys()
    for g in got:
        assert got[g][0] == want[g][0] and got[g][1] == pytest.approx(want[g][1], abs=1e-12)


def test_uniform_needs_no_geometry_and_is_deterministic():
    a = _places(_spec("uniform", cell=_cell(pt3d=False)))
    b = _places(_spec("uniform", cell=_cell(pt3d=True)))
    assert a == b


def test_1dmap_counts_and_shortfall():
    dens = {"type": "1Dmap", "gridY": [0, 200], "gridValues": [1, 1]}
    got = {g: (s, loc) for g, s, loc, _, _ in _places(_spec(dens))}
    # density 1: 20 (soma) + 25 per dend segment; x 0.1 -> 2, 2.5 -> 2 (half even) each;
    # 2 missing go to the first two dend segments (largest remainders, stable)
    slots = ([("soma", 0.5)] * 2 + [("dend", 0.125)] * 3 + [("dend", 0.375)] * 3
             + [("dend", 0.625)] * 2 + [("dend", 0.875)] * 2)
    assert got == _expect(slots)


def test_1dmap_fixed_soma_y_shifts_the_grid():
    # cell at y=100 (NEURON y = -100): without fixedSomaY the grid is absolute
    dens = {"type": "1Dmap", "gridY": [-100, 100], "gridValues": [0, 2]}
    net = _spec(dens)
    net["popParams"]["E"]["cellsList"] = [{"x": 0, "y": 100, "z": 0}]
    absolute = [s for _, s, _, _, _ in _places(net)]
    net["subConnParams"]["r"]["density"] = {**dens, "fixedSomaY": 0}
    shifted = [s for _, s, _, _, _ in _places(net)]
    assert absolute != shifted


def test_2dmap_gradient_in_y():
    dens = {"type": "2Dmap", "gridX": [-50, 50], "gridY": [0, 120],
            "gridValues": [[0, 1.2], [0, 1.2]]}
    got = [(s, loc) for _, s, loc, _, _ in _places(_spec(dens))]
    # sigma = y / 100 at segment centres y = 10 | 32.5 57.5 82.5 107.5 -> x L/nseg:
    # 2 | 8.125 14.375 20.625 26.875, scaled by 12/72: 0 | 1 2 3 4 (+1 to the 2 largest
    # remainders: the last two dend segments)
    counts = {k: got.count(k) for k in set(got)}
    assert counts == {("dend", 0.125): 1, ("dend", 0.375): 2, ("dend", 0.625): 4,
                      ("dend", 0.875): 5}


@pytest.mark.parametrize("coord", ["path", "cartesian"])
def test_distance_nearest_segment_last_tie(coord):
    # from soma(0.5): dend centres at 22.5 47.5 72.5 97.5; target 60: 47.5 and 72.5 tie
    dens = {"type": "distance", "ref_sec": "soma", "ref_seg": 0.5, "target_distance": 60,
            "coord": coord}
    assert {(s, loc) for _, s, loc, _, _ in _places(_spec(dens))} == {("dend", 0.625)}


def test_distance_out_of_reach_keeps_ref_and_clamps_loc():
    dens = {"type": "distance", "ref_sec": "dend", "ref_seg": 1, "target_distance": 1}
    assert {(s, loc) for _, s, loc, _, _ in _places(_spec(dens))} == {("dend", 0.99999)}


def test_distance_default_ref_sec_is_soma():
    dens = {"type": "distance", "target_distance": 60}
    assert {(s, loc) for _, s, loc, _, _ in _places(_spec(dens))} == {("dend", 0.625)}


def test_define_cell_shapes_stylized_matches_points():
    dens = {"type": "distance", "ref_sec": "soma", "target_distance": 60, "coord": "cartesian"}
    styl = _spec(dens, cell=_cell(pt3d=False), net={"defineCellShapes": True})
    assert _places(styl) == _places(_spec(dens))


def test_map_without_points_needs_define_cell_shapes():
    dens = {"type": "1Dmap", "gridY": [0, 200], "gridValues": [1, 1]}
    with pytest.raises(SpecError, match="no 3-D points"):
        build(_spec(dens, cell=_cell(pt3d=False)), {})


# ----------------------------------------------------------------------------- connections
def test_group_syn_mechs_move_partners_together():
    net = _spec("uniform", sub={"groupSynMechs": ["AMPA", "NMDA"]},
                conn={"synMech": ["AMPA", "NMDA"]})
    got = _places(net)
    by_pre = {}
    for g, s, loc, mech, _ in got:
        by_pre.setdefault(g, {})[mech] = (s, loc)
    assert all(v["AMPA"] == v["NMDA"] for v in by_pre.values())
    assert len({v["AMPA"] for v in by_pre.values()}) == N_PRE  # 12 leads, 12 places


def test_without_grouping_each_synmech_gets_a_place():
    net = _spec("uniform", conn={"synMech": ["AMPA", "NMDA"]})
    assert len({(s, loc) for _, s, loc, _, _ in _places(net)}) == 2 * N_PRE


def test_weight_norm_follows_the_synapse():
    dens = {"type": "distance", "ref_sec": "soma", "target_distance": 60}
    got = _places(_spec(dens, cell=_cell(weight_norm=True)))
    # built on soma: 0.01 * 2; moved to dend(0.625): / 2 * weightNorm[round(2.5) - 1 = 1]
    assert {w for *_, w in got} == {0.01 * 2.0 / 2.0 * 2.0}


def test_string_sort_key_and_rules_in_order():
    dens = {"type": "distance", "ref_sec": "soma", "target_distance": 60}
    net = _spec(dens)
    net["subConnParams"]["r2"] = {"preConds": {"pop": "S"}, "postConds": {"pop": "E"},
                                  "sec": "all", "density": "uniform"}
    got = {g: (s, loc) for g, s, loc, _, _ in _places(net)}
    # after r: all at dend 0.625, so r2 sorts by 'dend0.625' + str(gid): string order again
    slots = [("soma", 0.75), ("soma", 0.25)] + [("dend", (120 - a) / 100)
                                                 for a in range(25, 120, 10)]
    for g, (s, loc) in _expect(slots).items():
        assert got[g][0] == s and got[g][1] == pytest.approx(loc, abs=1e-12)


def test_no_rules_returns_the_same_table():
    net = _spec("uniform")
    del net["subConnParams"]
    base = build(net, {}).connections
    net["subConnParams"] = {}
    assert build(net, {}).connections.equals(base)


def test_unmatched_pre_cells_change_nothing():
    net = _spec("uniform", sub={"preConds": {"pop": "E"}})
    assert {(s, loc) for _, s, loc, _, _ in _places(net)} == {("soma", 0.5)}


# ----------------------------------------------------------------------------- internals
def test_path_distance_matches_neuron():
    secs = {
        "soma": Section(geom={"L": 20.0, "nseg": 3}),
        "dend": Section(geom={"L": 150.0, "nseg": 5}, parent="soma", parent_x=0.6),
        "d2": Section(geom={"L": 70.0, "nseg": 3}, parent="dend", parent_x=0.42, child_x=1.0),
        "ax": Section(geom={"L": 33.0, "nseg": 1}, parent="soma", parent_x=0.0),
    }
    topo = _Topology(CompartmentalCell(name="T", sections=secs), "t")
    L = [np.array([secs[n].geom["L"]]) for n in topo.names]
    i = topo.index
    points = [("soma", 0.5), ("soma", 0.1), ("soma", 0.0), ("soma", 1.0), ("dend", 0.25),
              ("d2", 0.5), ("d2", 0.2), ("ax", 0.5)]
    targets = [("soma", 0.5), ("soma", 0.1), ("soma", 0), ("soma", 1), ("dend", 0.25),
               ("dend", 0.3), ("dend", 1), ("d2", 0.5), ("d2", 0.2), ("d2", 0), ("d2", 1),
               ("ax", 0.5), ("ax", 1)]
    neuron = {  # h.distance(a, b) printed by NEURON 9.0.2 (rounded to 1e-6)
        ("soma", 0.5): [0, 6.666667, 10, 10, 45, 45, 150, 110, 133.333333, 145, 75, 26.5, 43],
        ("soma", 0.0): [10, 3.333333, 0, 20, 55, 55, 160, 120, 143.333333, 155, 85, 16.5, 33],
        ("d2", 0.2): [133.333333, 140, 143.333333, 143.333333, 88.333333, 88.333333,
                      133.333333, 23.333333, 0, 11.666667, 58.333333, 159.833333, 176.333333],
        ("ax", 0.5): [26.5, 19.833333, 16.5, 36.5, 71.5, 71.5, 176.5, 136.5, 159.833333, 171.5,
                      101.5, 0, 16.5],
    }
    for (a, xa) in points:
        if (a, xa) not in neuron:
            continue
        got = [topo.distance(L, i[a], topo.ratio(i[a], xa), i[b], topo.ratio(i[b], xb))[0]
               for b, xb in targets]
        assert got == pytest.approx(neuron[(a, xa)], abs=1e-6)


def test_py_sum_is_pythons_sum():
    rng = random.Random(3)
    rows = [[rng.uniform(-1, 1) * 10 ** rng.randint(-8, 8) for _ in range(17)] for _ in range(50)]
    got = _py_sum(np.array(rows))
    assert got.tolist() == [sum(r) for r in rows]
    if sys.version_info < (3, 12):  # sequential there
        assert got.tolist() == [float(np.cumsum(r)[-1]) for r in rows]


def _neumaier(xs: list[float]) -> float:
    """CPython 3.12+'s ``sum`` of floats (bltinmodule.c), written out."""
    f, c = xs[0], 0.0
    for x in xs[1:]:
        t = f + x
        c += (f - t) + x if abs(f) >= abs(x) else (x - t) + f
        f = t
    return f + c if c and math.isfinite(c) else f


def test_py_sum_neumaier_from_python_312(monkeypatch):
    monkeypatch.setattr(subconn, "sys", types.SimpleNamespace(version_info=(3, 12, 0)))
    rng = random.Random(5)
    rows = [[rng.uniform(-1, 1) * 10 ** rng.randint(-12, 12) for _ in range(9)] for _ in range(200)]
    assert _py_sum(np.array(rows)).tolist() == [_neumaier(r) for r in rows]


# ----------------------------------------------------------------------------- errors
_OK = {"preConds": {}, "postConds": {}, "density": "uniform"}
_MAP = {"type": "2Dmap", "gridX": [0, 1], "gridY": [0, 1], "gridValues": [[1, 1], [1, 1]]}


@pytest.mark.parametrize("rule, where", [
    ({**_OK, "dens": "uniform"}, "subConnParams['x']: unknown key"),
    ({"postConds": {}, "density": "uniform"}, "subConnParams['x']['preConds']"),
    ({**_OK, "density": None}, "subConnParams['x']['density']: required"),
    ({**_OK, "density": "gaussian"}, "subConnParams['x']['density']: required"),
    ({**_OK, "density": {"type": "3Dmap"}}, "subConnParams['x']['density']['type']"),
    ({**_OK, "density": {**_MAP, "gridZ": [1]}}, "subConnParams['x']['density']: unknown key"),
    ({**_OK, "density": {**_MAP, "gridY": 5}}, "subConnParams['x']['density']['gridY']"),
    ({**_OK, "density": {**_MAP, "gridX": [0]}}, "subConnParams['x']['density']['gridX']"),
    ({**_OK, "density": {**_MAP, "gridValues": [[1, 1]]}},
     "subConnParams['x']['density']['gridValues']"),
    ({**_OK, "density": {"type": "1Dmap", "gridY": [0, 1], "gridValues": [1]}},
     "subConnParams['x']['density']['gridValues']"),
    ({**_OK, "density": {"type": "1Dmap", "gridY": [0, 1], "gridValues": [1, 1],
                         "fixedSomaY": "top"}}, "subConnParams['x']['density']['fixedSomaY']"),
    ({**_OK, "density": {"type": "distance", "coord": "polar"}},
     "subConnParams['x']['density']['coord']"),
    ({**_OK, "density": {"type": "distance", "ref_seg": 2}},
     "subConnParams['x']['density']['ref_seg']"),
    ({**_OK, "density": {"type": "distance", "target_distance": "far"}},
     "subConnParams['x']['density']['target_distance']"),
    ({**_OK, "sec": 3}, "subConnParams['x']['sec']"),
    ({**_OK, "groupSynMechs": "AMPA"}, "subConnParams['x']['groupSynMechs']"),
    ({**_OK, "groupSynMechs": ["A", "B", "C"]}, "subConnParams['x']['groupSynMechs']"),
])
def test_rule_errors_name_the_key(rule, where):
    with pytest.raises(SpecError) as err:
        parse_rule("x", rule)
    assert str(err.value).startswith(where)


def test_rule_not_a_dict():
    with pytest.raises(SpecError, match=r"subConnParams\['x'\]: expected a dict"):
        parse_rule("x", ["uniform"])


@pytest.mark.parametrize("change, match", [
    (lambda n: n["subConnParams"]["r"].update(sec=["soma", "apical"]),
     r"subConnParams\['r'\]\['sec'\]: section\(s\) \['apical'\]"),
    (lambda n: n["subConnParams"]["r"].update(postConds={}),
     r"subConnParams\['r'\]\['postConds'\]: matches cells of type 'S'"),
    (lambda n: n["subConnParams"]["r"].update(
        density={"type": "distance", "ref_sec": "axon"}),
     r"subConnParams\['r'\]\['density'\]\['ref_sec'\]: no section 'axon'"),
    (lambda n: n["cellParams"]["PYR"]["secs"].update(
        {"body": n["cellParams"]["PYR"]["secs"].pop("soma")}) or
     n["cellParams"]["PYR"]["secs"]["dend"]["topol"].update(parentSec="body") or
     n["cellParams"]["PYR"].update(secLists={"all": ["body", "dend"]}) or
     n["subConnParams"]["r"].update(density={"type": "1Dmap", "gridY": [0, 1],
                                             "gridValues": [1, 1]}),
     r"subConnParams\['r'\]\['density'\]: cell type 'PYR' has no section named 'soma'"),
    (lambda n: n["subConnParams"]["r"].update(
        density={"type": "1Dmap", "gridY": [500, 500, 600], "gridValues": [1, 1, 1]}),
     r"subConnParams\['r'\]\['density'\]\['gridY'\]: the two nearest"),
])
def test_build_errors(change, match):
    net = copy.deepcopy(_spec("uniform"))
    change(net)
    with pytest.raises(SpecError, match=match):
        build(net, {})
