"""Fixes found by sweeping the public BMTK/SONATA examples (docs/sonata.md, Circuits checked)."""

from __future__ import annotations

import numpy as np
import pytest

from nethub.formats.sonata.frames import before_end
from nethub.formats.sonata.nodes import read_nodes
from nethub.formats.sonata.nodesets import resolve_node_set
from nethub.results import Traces, trace_index

from .conftest import FIXTURES

NET = FIXTURES / "300_intfire" / "network"


@pytest.fixture(scope="module")
def pops():
    out = {}
    for p in ("v1", "lgn"):
        out.update(read_nodes(NET / f"{p}_nodes.h5", NET / f"{p}_node_types.csv"))
    return out


def test_list_of_numbers_is_node_ids(pops):
    """bio_14cells' reports say "cells": [0, 1, ...]: BMTK's NodeSet takes a list as node ids
    of every population; a list of names stays a compound node set."""
    got = resolve_node_set([0, 3, np.int64(7)], {}, pops)
    want = resolve_node_set({"node_id": [0, 3, 7]}, {}, pops)
    assert sorted(got) == sorted(want) == ["lgn", "v1"]
    for k in got:
        assert got[k].tolist() == want[k].tolist() == [0, 3, 7]
    both = resolve_node_set(["a", "b"], {"a": {"population": "v1"}, "b": [1, 2]}, pops)
    assert both["v1"].size == len(pops["v1"]) and both["lgn"].tolist() == [1, 2]


def _traces(time: np.ndarray) -> Traces:
    index = trace_index(["sonata:v"], [0], ["soma"], [0.5], ["v"])
    return Traces(index, time, np.arange(len(time), dtype=float)[None, :])


def test_report_frames_end_before_tstop():
    """A SONATA report of tstop ms at dt has tstop/dt frames, however float time was summed."""
    summed = np.cumsum(np.r_[0.0, np.full(10000, 0.1)])  # t += dt: ends above 1000
    exact = np.arange(5001) * 0.1  # ends at 500.0
    for t, tstop in ((summed, 1000.0), (exact, 500.0)):
        out = before_end(_traces(t), tstop)
        assert out.data.shape == (1, round(tstop / 0.1)) and out.time[-1] < tstop
        np.testing.assert_array_equal(out.data[0], np.arange(round(tstop / 0.1)))
    whole = _traces(exact[:100])
    assert before_end(whole, 500.0) is whole and before_end(whole, None) is whole


def test_inline_node_sets_block(tmp_path):
    """bio_advanced_stimuli's configs define their node sets inline (``"node_sets": {...}``);
    BMTK uses that block instead of a node_sets_file."""
    import json
    import shutil

    from nethub.formats.sonata import read_circuit

    src = FIXTURES / "300_intfire"
    shutil.copytree(src, tmp_path / "c")
    cfg = tmp_path / "c" / "simulation_config.json"
    doc = json.loads(cfg.read_text())
    doc["network"] = str(tmp_path / "c" / "circuit_config.json")
    doc["node_sets"] = {"first_v1": {"population": "v1", "node_id": [0, 1]}}
    cfg.write_text(json.dumps(doc))
    circ = read_circuit(cfg)
    assert list(circ.node_sets) == ["first_v1"]
    assert circ.select("first_v1")["v1"].tolist() == [0, 1]


def _mixed_copy(tmp_path, weight_function: str):
    """fixtures/sonata/bio with node 2 an IntFire1 cell (bio_14cells' v1 mixes both kinds in
    one population) and a tuning angle per node type."""
    import json
    import shutil

    root = tmp_path / weight_function
    shutil.copytree(FIXTURES / "bio", root, ignore=shutil.ignore_patterns("output*"))
    net = root / "network"
    (net / "bio_node_types.csv").write_text(
        "node_type_id dynamics_params model_type morphology model_template model_processing "
        "pop_name tuning_angle\n"
        "100 cell_params.json biophysical cell_a.swc ctdb:Biophys1.hoc aibs_perisomatic A 0\n"
        "101 if1.json point_process NULL nrn:IntFire1 NULL B 30\n")
    et = (net / "bio_bio_edge_types.csv").read_text().splitlines()
    et[0] += " weight_sigma"
    et[1] = et[1].replace(" wmax ", f" {weight_function} ") + " 50.0"
    et[2] += " 50.0"
    (net / "bio_bio_edge_types.csv").write_text("\n".join(et) + "\n")
    comp = root / "components" / "point_neuron_models"
    comp.mkdir()
    (comp / "if1.json").write_text(json.dumps({"tau": 0.02, "refrac": 0.003}))
    cfg = root / "simulation_config.json"
    doc = json.loads(cfg.read_text())
    doc["components"]["point_neuron_models_dir"] = "$COMPONENTS_DIR/point_neuron_models"
    cfg.write_text(json.dumps(doc))
    return cfg


def test_gaussian_weights_on_point_targets(tmp_path):
    """BMTK's PointProcessCell applies the edge's weight function too: an IntFire1 target in a
    population with biophysical cells gets syn_weight * gaussianLL * sign * nsyns."""
    import nethub

    got = {}
    for wf in ("wmax", "gaussianLL"):
        net = nethub.load(_mixed_copy(tmp_path, wf))
        cells = net.cells_df()
        cells = cells[cells["sonata.population"] == "bio"].set_index("sonata.node_id")
        gid = cells["gid"].to_dict()
        angle = cells["sonata.tuning_angle"].to_dict()  # the nodes file's (HDF5 wins)
        conns = net.connections_df()
        mine = conns[conns["pre_gid"] == gid[0]]
        got[wf] = [mine.loc[mine["post_gid"] == gid[n], "weight"].to_numpy() for n in (2, 1)]

    def factor(trg: float, src: float) -> float:  # BMTK's gaussianLL, sigma 50
        delta = abs(abs(abs(180.0 - abs(trg - src) % 360.0) - 90.0) - 90.0)
        return float(np.exp(-(delta / 50.0) ** 2))
    assert len(got["wmax"][0]) == 1 and len(got["wmax"][1]) >= 1
    for k, node in enumerate((2, 1)):  # the IntFire1 target, then a biophysical one
        f = factor(angle[node], angle[0])
        assert f < 0.99
        np.testing.assert_allclose(got["gaussianLL"][k], got["wmax"][k] * f, rtol=1e-6)
