"""NetPyNE saved output (JSON, pickle with trust, MAT) passes the conformance kit.

What the NetPyNE layout cannot hold, and each write reports: the network's provenance; with a
run, the run metadata (versions, timing, ranks, network hash), the spec's simConfig (the run's
is written) and what a trace records (sec, loc, var are not in ``recordTraces``). MAT files
also drop names starting with '_' and turn booleans into 1/0.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import nethub
from nethub.testing import RoundTripTests, example_results, losses_match, with_v2_features

from .nets import tutorial

PROVENANCE = "provenance of the network"
RUN_LOSSES = (
    "run metadata (software versions, timing, ranks, network hash): no place in NetPyNE's "
    "simData",
    "the spec's simConfig: NetPyNE files hold one simConfig, the run's (with the simulator's "
    "defaults filled in) is written",
    "traces ['V_soma']: what they record (sec, loc, var) is not in simConfig['recordTraces']",
)
RUN_IGNORED = ["traces.index.sec", "versions", "timing", "nranks", "network_hash"]


class NetpyneCase(RoundTripTests):
    expected_losses = (PROVENANCE,)
    expected_result_losses = RUN_LOSSES
    compare = {"ignore": ["provenance"]}
    compare_with_results = {"ignore": ["provenance", "spec.simConfig"]}
    results_compare = {"ignore": RUN_IGNORED}

    def networks(self):
        return [tutorial("doc_code/tut2.py"), tutorial("doc_code/tut6.py")]


class TestNetpyneJson(NetpyneCase):
    format_name = "netpyne-json"
    suffix = ".json"


class TestNetpynePickle(NetpyneCase):
    format_name = "netpyne-pickle"
    suffix = ".pkl"
    read_options = {"trusted": True}


MAT_LOSSES = (
    re.escape("MAT field names cannot start with '_' or a digit or be longer than 63 "
              "characters: '_labelid' and what it holds dropped (") + r"\d+ value\(s\)\)",
    r"booleans come back from MATLAB as 1/0 \(\d+ value\(s\)\)",
)


def matlab(value):
    """What MATLAB gives back: booleans as 1/0, no fields named '_...'."""
    if isinstance(value, dict):
        return {k: matlab(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [matlab(v) for v in value]
    return int(value) if isinstance(value, bool) else value


class TestNetpyneMat(NetpyneCase):
    format_name = "netpyne-mat"
    suffix = ".mat"
    expected_losses = (PROVENANCE, *(re.compile(p) for p in MAT_LOSSES))

    def expected_network(self, network):
        return network.replace(spec=matlab(network.spec), params=matlab(network.params))


def test_mat_mixed_lists(tmp_path):
    """Lists a numeric or char array would change are MAT cell arrays: tut6's
    ``[['S', 0], ['M', 0]]`` and ``[0, 0.2]`` come back exactly, not as a padded char matrix
    and ``[0.0, 0.2]``; ragged and text-holding nested lists too."""
    net = tutorial("doc_code/tut6.py")
    odd = {"mixed": [0, 0.2], "pairs": [["S", 0], ["M", 0]], "ragged": [[1, 2], [3, 4, 5]],
           "words": [["ab", "c"], ["d", "efg"]], "nested": [[0.5, 1], [[2, "x"], 3.25]]}
    net = net.replace(spec={**net.spec, "simConfig": {**net.spec["simConfig"], "odd": odd}})
    lost = nethub.save(net, tmp_path / "net.mat")
    case = TestNetpyneMat()
    assert losses_match(lost, case.losses(net, [])) == []
    back = nethub.read(tmp_path / "net.mat").network
    assert case.network_differences(back, net) == []
    assert back.spec["simConfig"]["odd"] == odd
    include = back.spec["simConfig"]["analysis"]["plotTraces"]["include"]
    assert include == [["S", 0], ["M", 0]] and type(include[0][1]) is int


@pytest.mark.parametrize("suffix", [".json", ".pkl", ".mat"])
@pytest.mark.parametrize("label", ["(absent)", None, "", "baseline"])
def test_run_name_kept_in_sim_label(tmp_path, suffix, label):
    """A run's name travels as simConfig['simLabel'] (NetPyNE's name of the simulation); the
    run's simConfig reads back as it was (no simLabel, None, an empty one, or the name)."""
    net = tutorial("doc_code/tut2.py")
    run = example_results(net, name="baseline")
    if label != "(absent)":
        run.sim_config = {**run.sim_config, "simLabel": label}
    path = tmp_path / f"net{suffix}"
    lost = nethub.save((net, [run]), path)
    assert not [m for m in lost if "run name" in m]
    back = nethub.read(path, trusted=True) if suffix == ".pkl" else nethub.read(path)
    assert back.results[0].name == "baseline"
    assert back.results[0].sim_config == run.sim_config


def test_run_name_in_conflict_with_sim_label_is_reported(tmp_path):
    net = tutorial("doc_code/tut2.py")
    run = example_results(net, name="baseline")
    run.sim_config = {**run.sim_config, "simLabel": "tut2"}
    lost = nethub.save((net, [run]), tmp_path / "net.json")
    assert "run name 'baseline': not kept (simConfig['simLabel'], NetPyNE's name of the run, " \
        "holds 'tut2')" in lost
    back = nethub.read(tmp_path / "net.json").results[0]
    assert back.name == "netpyne" and back.sim_config["simLabel"] == "tut2"


# --------------------------------------------------------------------- store schema v2 content
#: What a write of ``with_v2_features(tut2)`` (40 cells, 240 connections) reports beside the
#: provenance: each v2 addition NetPyNE files have no place for, with its count.
V2_LOSSES = (
    "connections column 'param.tau2': no place in conns; dropped (120 connections)",
    "connections column 'nml.segment_id': no place in conns; dropped (240 connections)",
    "embedded file 'morphologies/pyr.swc' (morphology): not carried by NetPyNE files",
    "embedded file 'params/ampa.json' (params): not carried by NetPyNE files",
    "synaptic mechanism 'exc': tags and provenance not carried by NetPyNE files",
    "stimulation source 'bkg': tags and provenance not carried by NetPyNE files",
    "cells column 'rot_x': kept as a cell tag, which NetPyNE's loader does not apply to the "
    "cell's pt3d (14 cells)",
    "cells column 'rot_y': dropped; the saved pt3d are rotated by it (20 cells)",
    "cells column 'rot_z': kept as a cell tag, which NetPyNE's loader does not apply to the "
    "cell's pt3d (10 cells)",
)


def without_v2_losses(net):
    """``net`` as NetPyNE files give it back: what V2_LOSSES names removed (rot_x, rot_z and
    sonata.node_type_id are carried, as cell tags, back to nethub)."""
    def bare(docs):
        return {k: dataclasses.replace(v, tags={}, provenance={}) for k, v in docs.items()}

    tags = ("rot_x", "rot_z", "sonata.node_type_id")  # cell tags come before the per-cell
    cells = {}                                          # parameters NetPyNE's rules make
    for k, v in net.cells.columns.items():
        if k.startswith("param.secs.") and tags[0] not in cells:
            cells.update((t, net.cells[t]) for t in tags)
        if k != "rot_y" and k not in cells:
            cells[k] = v
    conns = {k: v for k, v in net.connections.columns.items()
             if k not in ("param.tau2", "nml.segment_id")}
    return net.replace(files={}, syn_mechs=bare(net.syn_mechs),
                       stim_sources=bare(net.stim_sources), cells=cells, connections=conns)


class NetpyneV2Case(NetpyneCase):
    expected_losses = (PROVENANCE, *V2_LOSSES)

    def networks(self):
        return [with_v2_features(tutorial("doc_code/tut2.py"))]

    def expected_network(self, network):
        return without_v2_losses(network)


class TestNetpyneJsonV2(NetpyneV2Case):
    format_name = "netpyne-json"
    suffix = ".json"


class TestNetpynePickleV2(NetpyneV2Case):
    format_name = "netpyne-pickle"
    suffix = ".pkl"
    read_options = {"trusted": True}


class TestNetpyneMatV2(NetpyneV2Case):
    format_name = "netpyne-mat"
    suffix = ".mat"
    expected_losses = (*NetpyneV2Case.expected_losses, *TestNetpyneMat.expected_losses[1:])

    def expected_network(self, network):
        return TestNetpyneMat.expected_network(self, without_v2_losses(network))


def test_example_network_v2_in_netpyne_json(tmp_path):
    """nethub.testing's example (a mixed population, a connection onto an IntFire1 cell
    without synMech, per-format columns, rotations, files): what is not carried is named."""
    from nethub.testing import example_network

    net = example_network()
    lost = nethub.save(net, tmp_path / "net.json")
    assert [m for m in lost if "pyr.swc" in m or "ampa.json" in m or "tau2" in m
            or "segment_id" in m or "rot_" in m or "tags" in m or "point cells" in m] == [
        "connections column 'param.tau2': no place in conns; dropped (2 connections)",
        "connections column 'nml.segment_id': no place in conns; dropped (6 connections)",
        "embedded file 'morphologies/pyr.swc' (morphology): not carried by NetPyNE files",
        "embedded file 'params/ampa.json' (params): not carried by NetPyNE files",
        "synaptic mechanism 'AMPA': tags and provenance not carried by NetPyNE files",
        "stimulation source 'bg': tags and provenance not carried by NetPyNE files",
        "cells column 'rot_x': kept as a cell tag, which NetPyNE's loader does not apply to "
        "the cell's pt3d (3 cells)",
        "cells column 'rot_y': dropped; the saved pt3d are rotated by it (3 cells)",
        "cells column 'rot_z': kept as a cell tag, which NetPyNE's loader does not apply to "
        "the cell's pt3d (2 cells)",
        "1 connection(s) onto point cells are written, but NetPyNE 1.1's loader does not "
        "re-create them (PointCell has no addConnsNEURONObj)"]
    back = nethub.read(tmp_path / "net.json").network
    assert back.populations["E"].cell_type is None
    rows = back.cells["pop"].values() == "E"
    assert sorted(set(back.cells["cell_type"].values()[rows])) == ["BAS", "PYR"]
    conn = back.connections.take(np.flatnonzero(back.connections["post_gid"] == 5))
    assert conn["syn_mech"].values().tolist() == [None] and conn["weight"].tolist() == [0.5]
    for col in ("rot_x", "rot_z", "sonata.node_type_id"):
        np.testing.assert_array_equal(back.cells[col], net.cells[col])
