"""Unit tests of nethub.builder.cellexpr: cellParams expressions, NEURON's distances, rotation.

The values NetPyNE itself gives are checked in ``tests/faithfulness/test_cellexpr_netpyne.py``;
here the expected numbers come from hand computation and from nethub.random123 streams.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from nethub.builder import build
from nethub.builder.cellexpr import (
    Morphology,
    rotation_angles,
    with_diversity_ranges,
)
from nethub.errors import SpecError
from nethub.network import DRAWS_COLUMN, ROTATION_COLUMN, param_column
from nethub.random123 import Random123Stream as Stream
from nethub.random123 import netpyne_hash_str
from nethub.table import Ragged

CELL_STREAM = netpyne_hash_str("cellParams")


def _morph(secs: dict) -> Morphology:
    """secs: name -> (L, nseg, parent, parent_x, child_x), in creation order."""
    m = Morphology()
    for name in secs:
        m.add(name)
    for name, (_, _, parent, px, cx) in secs.items():
        if parent is not None:
            m.connect(name, parent, px, cx)
    for name, (L, nseg, *_) in secs.items():
        m.set_geom(name, "L", L)
        m.set_geom(name, "nseg", nseg)
    return m


def _draws(stream: Stream, n_cells: int, m: int) -> np.ndarray:
    """(cell, k): the k-th uniform draw of each cell's stream."""
    return np.stack([stream.uniform01(np.full(n_cells, k)) for k in range(m)], axis=1)


def _net(cell_rule: dict, n: int = 3, **extra) -> dict:
    return {"popParams": {"P": {"cellType": "C", "numCells": n}},
            "cellParams": {"C": cell_rule}, **extra}


def _soma(**mechs) -> dict:
    return {"geom": {"L": 20, "diam": 20, "nseg": 1}, "mechs": mechs}


# ------------------------------------------------------------------------------ Morphology
def test_path_distance_from_soma_centre_to_segment_centres():
    m = _morph({"soma": (20.0, 1, None, 0, 0), "dend": (100.0, 4, "soma", 1.0, 0.0)})
    got = [m.path_distance("dend", (i + 0.5) / 4) for i in range(4)]
    assert got == [10.0 + 100.0 * (i + 0.5) / 4 for i in range(4)]
    assert m.path_distance("soma", 0.5) == 0.0
    assert m.path_distance("dend", 1.0) == 110.0
    assert m.path_distance("dend", 0.0) == 10.0  # the dend's 0 end is the soma's 1 end


def test_path_distance_reversed_child_counts_from_its_connected_end():
    m = _morph({"soma": (20.0, 1, None, 0, 0), "dend": (100.0, 4, "soma", 1.0, 1.0)})
    got = [m.path_distance("dend", (i + 0.5) / 4) for i in range(4)]
    assert got == [10.0 + 100.0 * (3 - i + 0.5) / 4 for i in range(4)]


def test_path_distance_middle_connection_uses_the_parents_node():
    # a child at soma(0.3) with soma nseg=3 hangs on node int(3*0.3) = 0, centre 1/6
    m = _morph({"soma": (30.0, 3, None, 0, 0), "dend": (50.0, 1, "soma", 0.3, 0.0)})
    assert m.path_distance("dend", 0.5) == abs(30.0 * (0.5 / 3) - 30.0 * (1.5 / 3)) + 25.0


def test_origin_of_an_even_nseg_soma_is_the_node_after_the_centre():
    # NEURON maps soma(0.5) with nseg=2 to node 1, centre 0.75: the origin is there
    m = _morph({"soma": (40.0, 2, None, 0, 0), "dend": (10.0, 1, "soma", 1.0, 0.0)})
    assert m.path_distance("dend", 0.5) == 5.0 + (40.0 - 30.0)


def test_child_at_its_parents_start_hangs_on_the_grandparent():
    m = _morph({"soma": (20.0, 1, None, 0, 0), "a": (100.0, 1, "soma", 1.0, 0.0),
                "b": (40.0, 2, "a", 0.0, 0.0)})
    assert m.path_distance("b", 0.25) == 10.0 + 10.0
    assert m.path_distance("b", 0.75) == 10.0 + 30.0


def test_distance_through_a_common_ancestor_when_soma_is_not_the_root():
    m = _morph({"trunk": (60.0, 3, None, 0, 0), "soma": (20.0, 1, "trunk", 1.0, 0.0),
                "side": (30.0, 1, "trunk", 0.5, 0.0)})
    # soma(0.5) -> trunk(1): 10, trunk(1) -> node 1 of trunk (x=0.5): 60 - 30, then 15
    assert m.path_distance("side", 0.5) == 10.0 + 15.0 + (60.0 - 30.0)


def test_disconnected_sections_are_1e20_apart():
    m = _morph({"soma": (20.0, 1, None, 0, 0), "lone": (10.0, 1, None, 0, 0)})
    assert m.path_distance("lone", 0.5) == 1e20


def test_origin_naming():
    m = Morphology()
    for name in ("dend", "soma_1", "somb"):
        m.add(name)
    assert m.origin() == "soma_1"
    m.add("soma")
    assert m.origin() == "soma"
    m2 = Morphology()
    for name in ("dend", "axon"):
        m2.add(name)
    assert m2.origin() == "dend"


def test_euclidean_distance_along_pt3d_and_L_from_float32_points():
    m = Morphology()
    for name in ("soma", "dend"):
        m.add(name)
    m.connect("dend", "soma", 1.0, 0.0)
    m.set_pt3d("soma", [[0, 0, 0, 10], [0, 10, 0, 10]])
    m.set_pt3d("dend", [[0, 10, 0, 1], [0.1, 60, 0, 1], [0.1, 110.3, 0, 1]])
    pts = np.array([[0, 10, 0], [0.1, 60, 0], [0.1, 110.3, 0]], dtype=np.float32)
    step = np.diff(pts, axis=0).astype(np.float64)
    assert m.secs["dend"].L == float(np.cumsum(np.sqrt((step ** 2).sum(axis=1)))[-1])
    assert m.euclidean_distance("dend", 1.0) == pytest.approx(
        np.hypot(0.1, 110.3 - 5.0), rel=1e-7)
    assert m.euclidean_distance("soma", 0.5) == 0.0


def test_euclidean_distance_needs_pt3d():
    m = _morph({"soma": (20.0, 1, None, 0, 0), "dend": (100.0, 4, "soma", 1.0, 0.0)})
    with pytest.raises(SpecError, match="here.*dist_euclidean.*'soma' has no pt3d"):
        m.euclidean_distance("dend", 0.5, "here")


# ------------------------------------------------------------------------------ resolution
def test_morphology_only_expressions_become_per_segment_lists_in_the_type():
    rule = {"secs": {"soma": _soma(pas={"g": 1e-4, "e": -70}),
                     "dend": {"geom": {"L": 100, "diam": 1, "nseg": "2 + 1"},
                              "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
                              "mechs": {"pas": {"g": "1e-4*exp(-dist_path/100)", "e": "-65"}}}}}
    net = build(_net(rule), {})
    dend = net.cell_types["C"].sections["dend"]
    assert dend.geom["nseg"] == 3 and isinstance(dend.geom["nseg"], int)
    want = [1e-4 * np.exp(-(100.0 * ((i + 0.5) / 3) + 10.0) / 100) for i in range(3)]
    assert dend.mechs["pas"]["g"] == want
    assert dend.mechs["pas"]["e"] == -65.0
    assert not [c for c in net.cells.extra_columns if c.startswith("param.")]
    assert DRAWS_COLUMN not in net.cells and ROTATION_COLUMN not in net.cells


def test_vars_and_random_values_follow_the_cells_stream_in_netpyne_order():
    rule = {"vars": {"g0": "uniform(1, 2)", "k": 3},
            "secs": {"soma": {"geom": {"L": 20, "diam": 20, "nseg": 2},
                              "mechs": {"hh": {"gnabar": "g0*k", "gkbar": "uniform(0, 1)"}},
                              "pointps": {"st": {"mod": "IClamp", "loc": 0.5, "amp": "negexp(2)",
                                                 "del": "gid", "dur": 5}}}}}
    net = build(_net(rule, n=4), {"seeds": {"cell": 7}})
    gids = np.asarray(net.cells["gid"])
    s = Stream(CELL_STREAM, gids, 7)
    u = _draws(s, 4, 4)
    soma = net.cell_types["C"].sections["soma"]
    assert soma.mechs["hh"]["gnabar"] == "g0*k"
    np.testing.assert_array_equal(net.cells[param_column("soma", "mechs", "hh", "gnabar")],
                                  (1 + u[:, 0]) * 3)
    gk = net.cells[param_column("soma", "mechs", "hh", "gkbar")]
    assert isinstance(gk, Ragged) and gk.lengths().tolist() == [2] * 4
    np.testing.assert_array_equal(gk.values.reshape(4, 2), u[:, 1:3])
    amp = net.cells[param_column("soma", "pointps", "st", "amp")]
    np.testing.assert_array_equal(amp, s.negexp(2.0, n=1, start=3).reshape(-1))
    np.testing.assert_array_equal(net.cells[param_column("soma", "pointps", "st", "del")],
                                  gids.astype(float))
    assert soma.point_processes[0]["del"] == "gid" and soma.point_processes[0]["dur"] == 5
    assert net.cells[DRAWS_COLUMN].tolist() == [4] * 4


def test_position_dependent_values_are_per_cell_scalars():
    rule = {"secs": {"soma": {"geom": {"L": "10 + y/10", "diam": 20},
                              "mechs": {"pas": {"g": "1e-5*(1 + xnorm)", "e": -70}}}}}
    net = build(_net(rule, sizeX=50), {})
    x = np.asarray(net.cells["x"])
    np.testing.assert_array_equal(net.cells[param_column("soma", "mechs", "pas", "g")],
                                  1e-5 * (1 + x / 50))
    np.testing.assert_array_equal(net.cells[param_column("soma", "geom", "L")],
                                  10 + np.asarray(net.cells["y"]) / 10)
    assert net.cell_types["C"].sections["soma"].geom["L"] == "10 + y/10"


def test_per_cell_geometry_makes_later_distances_per_cell():
    rule = {"secs": {"soma": {"geom": {"L": "uniform(10, 30)", "diam": 20}},
                     "dend": {"geom": {"L": 100, "nseg": 2},
                              "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
                              "mechs": {"pas": {"g": "dist_path"}}}}}
    net = build(_net(rule), {})
    L = np.asarray(net.cells[param_column("soma", "geom", "L")])
    g = net.cells[param_column("dend", "mechs", "pas", "g")]
    np.testing.assert_array_equal(g.values.reshape(3, 2),
                                  np.stack([L * 0.5 + 25.0, L * 0.5 + 75.0], axis=1))


def test_sections_see_the_geometry_as_it_stands_when_they_are_evaluated():
    # 'dend' comes before 'soma' in the dict: NetPyNE evaluates dend's expression while the
    # soma still has NEURON's default L = 100
    rule = {"secs": {"dend": {"geom": {"L": 50, "nseg": 1},
                              "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
                              "mechs": {"pas": {"g": "dist_path"}}},
                     "soma": _soma()}}
    net = build(_net(rule), {})
    assert net.cell_types["C"].sections["dend"].mechs["pas"]["g"] == 50.0 + 25.0


def test_stacked_rules_draw_in_rule_order_and_the_last_rule_wins():
    net = build({
        "popParams": {"P": {"cellType": "A", "numCells": 3}},
        "cellParams": {
            "A": {"vars": {"v": "uniform(0, 1)"},
                  "secs": {"soma": _soma(pas={"g": "v", "e": "uniform(-80, -60)"})}},
            "B": {"conds": {"pop": "P"}, "vars": {"w": "uniform(5, 6)"},
                  "secs": {"soma": {"mechs": {"pas": {"g": "w"}}}}}}}, {})
    assert list(net.cell_types) == ["A+B"]
    s = Stream(CELL_STREAM, np.asarray(net.cells["gid"]), 1)
    u = _draws(s, 3, 3)
    g = net.cells[param_column("soma", "mechs", "pas", "g")]
    e = net.cells[param_column("soma", "mechs", "pas", "e")]
    np.testing.assert_array_equal(e, -80 + 20 * u[:, 1])
    np.testing.assert_array_equal(g, 5 + u[:, 2])
    assert net.cells[DRAWS_COLUMN].tolist() == [3] * 3


def test_netparams_numbers_are_variables():
    rule = {"secs": {"soma": _soma(pas={"g": "gscale*2"})}}
    net = build(_net(rule, gscale=1.5e-5), {})
    assert net.cell_types["C"].sections["soma"].mechs["pas"]["g"] == 3e-5


@pytest.mark.parametrize("where, edit, match", [
    ("nseg L", lambda r: r["secs"]["soma"]["geom"].update(nseg="1 + 2*int(L/40)"),
     r"cellParams\['C'\]\['secs'\]\['soma'\]\['geom'\]\['nseg'\].*'L'"),
    ("ions", lambda r: r["secs"]["soma"].update(ions={"na": {"e": "50 + x"}}),
     r"\['soma'\]\['ions'\]\['na'\]\['e'\]: a string expression is not allowed"),
    ("topol", lambda r: r["secs"]["dend"]["topol"].update(parentX="0.5"),
     r"\['dend'\]\['topol'\]\['parentX'\]"),
    ("list", lambda r: r["secs"]["soma"]["mechs"]["pas"].update(g=[1, "x"]),
     r"\['pas'\]\['g'\]\[1\]"),
    ("pointp loc", lambda r: r["secs"]["soma"].update(
        pointps={"st": {"mod": "IClamp", "loc": "x"}}), r"\['pointps'\]\['st'\]\['loc'\]"),
    ("vinit", lambda r: r["secs"]["soma"].update(vinit="-65"), r"\['soma'\]\['vinit'\]"),
    ("nseg per cell", lambda r: r["secs"]["soma"]["geom"].update(nseg="1 + 2*int(x > 50)"),
     r"\['nseg'\]: nseg must be the same for every cell"),
    ("nseg fraction", lambda r: r["secs"]["soma"]["geom"].update(nseg="2.5"),
     r"\['nseg'\]: nseg must be an integer"),
    ("euclidean", lambda r: r["secs"]["dend"]["mechs"]["pas"].update(g="dist_euclidean"),
     r"\['dend'\]\['mechs'\]\['pas'\]\['g'\]: dist_euclidean needs 3-D points"),
    ("var uses dist", lambda r: r.update(vars={"a": "dist_path*2"}),
     r"\['vars'\]\['a'\].*'dist_path'"),
    ("unknown parent", lambda r: r["secs"]["dend"]["topol"].update(parentSec="nope"),
     r"\['dend'\]\['topol'\]\['parentSec'\]: unknown section 'nope'"),
])
def test_errors_name_the_key_path(where, edit, match):
    rule = {"secs": {"soma": _soma(pas={"g": 1e-4}),
                     "dend": {"geom": {"L": 100},
                              "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
                              "mechs": {"pas": {"g": 1e-4}}}}}
    rule = copy.deepcopy(rule)
    edit(rule)
    with pytest.raises(SpecError, match=match):
        build(_net(rule), {})


# ------------------------------------------------------------------------------ rotation
def test_rotation_true_draws_netpynes_angle_per_compartmental_cell():
    spec = _net({"secs": {"soma": _soma()}}, n=4, rotateCellsRandomly=True)
    spec["popParams"]["S"] = {"cellModel": "NetStim", "numCells": 2, "rate": 10}
    net = build(spec, {})
    rot = np.asarray(net.cells[ROTATION_COLUMN])
    want = Stream(np.arange(4), 0, 0).uniform(0.0, 6.2832, n=1).reshape(-1)
    np.testing.assert_array_equal(rot[:4], want)
    assert np.isnan(rot[4:]).all()


def test_rotation_range_uses_the_same_draw():
    gids = np.arange(10, 20)
    u = Stream(gids, 0, 0).uniform01(np.zeros(10, dtype=np.int64))
    np.testing.assert_array_equal(rotation_angles(gids, [0.5, 1.5]), 0.5 + 1.0 * u)
    np.testing.assert_array_equal(rotation_angles(gids, True), 6.2832 * u)
    assert ROTATION_COLUMN not in build(_net({"secs": {"soma": _soma()}}), {}).cells


# ------------------------------------------------------------------------------ diversity
def test_diversity_ranges_follow_netpyne():
    params = {"A": {"conds": {"cellType": "PYR"}, "diversityFraction": 0.25, "secs": {}},
              "B": {"conds": {"cellType": "PYR"}, "diversityFraction": 0.75, "secs": {}},
              "C": {"conds": {"cellType": "INT"}, "diversityFraction": 0.5, "secs": {}},
              "D": {"secs": {}}}
    out = with_diversity_ranges(params)
    assert out["A"]["conds"]["fraction"] == [0, 0.25 - 1e-12]
    assert out["B"]["conds"]["fraction"] == [0.25 - 1e-12, 1.0 - 1e-12]
    assert out["C"]["conds"]["fraction"] == [0, 0.5 - 1e-12]
    assert "conds" not in out["D"] and "fraction" not in params["A"]["conds"]


def test_final_morphology_of_a_type_reads_per_cell_geometry():
    rule = {"secs": {"soma": {"geom": {"L": "10 + x/10", "diam": 20}},
                     "dend": {"geom": {"L": 100, "nseg": 2},
                              "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0}}}}
    net = build(_net(rule), {})
    ct = net.cell_types["C"]
    x = np.asarray(net.cells["x"])
    for row in range(3):
        m = Morphology.of_cell_type(ct, net.cells, row)
        assert m.path_distance("dend", 0.25) == 25.0 + ((10 + x[row] / 10) - (10 + x[row] / 10)
                                                       * 0.5)
    with pytest.raises(SpecError, match="section 'soma': L differs between cells"):
        Morphology.of_cell_type(ct)
