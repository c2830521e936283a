"""Detailed <-> point swaps (:func:`nethub.swap`): HH cells swapped to NEURON's IntFire1 run as
the same network built with IntFire1 cells does (the same spikes), connections onto them lose
their section; IntFire1 swapped to HH lands on the soma with a synapse map; partial
selections, per-cell parameters, refusals; swapping back restores the content hash."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
from nethub.errors import ConversionError
from nethub.swaptables import undo_swap
from nethub.table import Categorical

HH = {"secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
                        "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003,
                                         "el": -70}}}}}
CFG = {"duration": 150, "dt": 0.025, "nethubExact": True}


def _spec(e_pop: dict) -> dict:
    conn = {"synMech": "exc", "probability": 0.3}
    return {
        "popParams": {"E": e_pop, "S": {"cellModel": "NetStim", "numCells": 10, "rate": 40,
                                        "noise": 0.5}},
        "cellParams": {"PYR": HH},
        "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2, "e": 0}},
        "connParams": {
            "S->E": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"}, "weight": 0.4,
                     "delay": 2, **conn},
            "E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"}, "weight": 0.2,
                     "delay": 5, **conn}},
    }


def _column(net, table, name):
    col = getattr(net, table)[name]
    return col.values() if isinstance(col, Categorical) else np.asarray(col)


def test_hh_to_intfire_and_back(tmp_path):
    hh = nethub.build(_spec({"cellType": "PYR", "numCells": 20}), CFG)
    point = nethub.build(_spec({"cellModel": "IntFire1", "numCells": 20}), CFG)
    swapped = nethub.swap(hh, "IntFire1", pop="E", name="E")  # built-in IntFire1
    assert swapped.cell_types["E"].model == "IntFire1"
    assert swapped.populations["E"].cell_type == "E"
    onto_e = np.asarray(swapped.connections["post_gid"]) < 20
    assert onto_e.sum() > 50
    assert set(_column(swapped, "connections", "post_sec")[onto_e].tolist()) == {None}
    for t in ("cells", "connections"):  # what NEURON gets is what a point-cell build gives
        for c in ("gid", "x", "y", "z", "pre_gid", "post_gid", "weight", "delay",
                  "post_sec", "syn_mech", "cellModel"):
            if c in getattr(point, t):
                a = _column(point.canonical(), t, c)
                assert np.array_equal(a, _column(swapped, t, c),
                                      equal_nan=a.dtype.kind == "f"), (t, c)
    r_swapped = nethub.simulate(swapped, output=tmp_path / "a.h5")
    r_point = nethub.simulate(point, output=tmp_path / "b.h5")
    assert np.sum(r_point.spike_gids < 20) > 10  # the IntFire1 cells fire
    np.testing.assert_array_equal(r_swapped.spike_times, r_point.spike_times)
    np.testing.assert_array_equal(r_swapped.spike_gids, r_point.spike_gids)
    back = nethub.swap(swapped, "PYR", pop="E")
    assert back.content_hash() == hh.content_hash() and "swaps" not in back.provenance


def test_point_to_hh_with_a_synapse_map(tmp_path):
    point = nethub.build(_spec({"cellModel": "IntFire1", "numCells": 20}), CFG)
    # rows onto artificial cells without a mechanism (as SONATA/NeuroML imports have them)
    bare = point.replace(connections=point.connections.take(np.arange(len(point.connections))))
    bare.connections["syn_mech"] = Categorical.from_values([None] * len(bare.connections))
    with pytest.raises(ConversionError, match=r"need a synaptic mechanism.*valid: \['exc'\]"):
        nethub.swap(bare, "HH", pop="E")
    with pytest.raises(ConversionError, match=r"section\(s\) \['dend'\].*'HH'"):
        nethub.swap(point, "HH", pop="E", syn_map={"sec": {"*": "dend"}})
    hh = nethub.swap(bare, "HH", pop="E", syn_map={"synMech": {"*": "exc"}, "loc": 0.3})
    onto_e = np.asarray(hh.connections["post_gid"]) < 20
    assert set(_column(hh, "connections", "post_sec")[onto_e].tolist()) == {"soma"}
    assert set(_column(hh, "connections", "syn_mech")[onto_e].tolist()) == {"exc"}
    assert set(np.asarray(hh.connections["post_loc"])[onto_e].tolist()) == {0.3}
    res = nethub.simulate(hh, output=tmp_path / "hh.h5")
    assert np.sum(res.spike_gids < 20) > 10
    path = tmp_path / "hh_store.h5"
    nethub.save(hh, path)
    assert nethub.unswap(path).content_hash() == bare.content_hash()


def test_selection_per_cell_params_and_refusals():
    net = nethub.build(_spec({"cellType": "PYR", "numCells": 20}), CFG)
    # a NetStim population swapped to IntFire2: its per-cell NetStim values are cleared
    half = nethub.swap(net, "IntFire2", select={"pop": "S", "gid": [20, 21, 22, 23, 24]})
    assert half.populations["S"].cell_type is None  # mixed now
    rate = np.asarray(half.cells["params.rate"])
    assert np.isnan(rate[20:25]).all() and not np.isnan(rate[25:30]).any()
    assert undo_swap(half).content_hash() == net.content_hash()
    # swapping further keeps a history; each undo takes one step back
    twice = nethub.swap(half, "IntFire4", select={"gid": [0, 1]})
    assert len(twice.provenance["swaps"]) == 2
    assert undo_swap(undo_swap(twice)).content_hash() == net.content_hash()
    # a factor on the weights onto the swapped cells (conductance -> IntFire weight)
    scaled = nethub.swap(net, "IntFire1", pop="E", syn_map={"weight": 2.5})
    canon = net.canonical()  # swaps give the store's row order
    onto = np.asarray(canon.connections["post_gid"]) < 20
    w0, w1 = np.asarray(canon.connections["weight"]), np.asarray(scaled.connections["weight"])
    np.testing.assert_array_equal(w1[onto], w0[onto] * 2.5)
    np.testing.assert_array_equal(w1[~onto], w0[~onto])
    assert undo_swap(scaled).content_hash() == net.content_hash()
    with pytest.raises(ConversionError, match="unknown key"):
        nethub.swap(net, "IntFire1", pop="E", syn_map={"weigth": 2})
    with pytest.raises(ConversionError, match="unknown cell type 'Nope'"):
        nethub.swap(net, "Nope", pop="E")
    with pytest.raises(ConversionError, match="unknown population 'X'"):
        nethub.swap(net, "HH", pop="X")
    with pytest.raises(ConversionError, match="choose the cells"):
        nethub.swap(net, "HH")
    with pytest.raises(ConversionError, match="no swap to undo"):
        nethub.unswap(net)
    with pytest.raises(ConversionError, match="already has a different cell type 'PYR'"):
        nethub.swap(net, "PYR", pop="S", source={"cellModel": "IntFire1"})
