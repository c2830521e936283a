"""End to end: a population with two node groups of different attribute sets, an ``@library``
enumeration and per-node ``dynamics_params`` overrides, imported and simulated (the override
decides which IntFire1 cell fires)."""

from __future__ import annotations

import json

import h5py
import numpy as np

import nethub
from nethub.formats.sonata import write_spikes


def _circuit(tmp_path):
    net = tmp_path / "network"
    net.mkdir()
    (tmp_path / "point").mkdir()
    (tmp_path / "point" / "base.json").write_text(json.dumps({"tau": 0.02, "refrac": 0.003}))
    with h5py.File(net / "p_nodes.h5", "w") as f:
        pop = f.create_group("nodes/p")
        pop["node_type_id"] = np.array([1, 1], np.uint32)
        pop["node_group_id"] = np.array([0, 1], np.uint32)
        pop["node_group_index"] = np.array([0, 0], np.uint32)
        pop["0/x"] = np.array([5.0])
        pop["0/dynamics_params/tau"] = np.array([0.001])  # s: 1 ms, forgets fast
        pop["1/layer"] = np.array([1], np.int32)
        pop["1/@library/layer"] = np.array(["L4", "L5"], dtype=h5py.string_dtype())
        pop["1/dynamics_params/tau"] = np.array([0.1])  # s: 100 ms, sums the two inputs
    (net / "p_types.csv").write_text("node_type_id model_type model_template dynamics_params\n"
                                     "1 point_process nrn:IntFire1 base.json\n")
    with h5py.File(net / "v_nodes.h5", "w") as f:
        f["nodes/v/node_type_id"] = np.array([9], np.uint32)
    (net / "v_types.csv").write_text("node_type_id model_type\n9 virtual\n")
    with h5py.File(net / "v_p_edges.h5", "w") as f:
        e = f.create_group("edges/v_to_p")
        e.create_dataset("source_node_id", data=np.array([0, 0], np.uint64)).attrs[
            "node_population"] = "v"
        e.create_dataset("target_node_id", data=np.array([0, 1], np.uint64)).attrs[
            "node_population"] = "p"
        e["edge_type_id"] = np.array([5, 5], np.uint32)
        e["edge_group_id"] = np.array([0, 0], np.uint32)
        e["edge_group_index"] = np.array([0, 1], np.uint32)
        e["0/syn_weight"] = np.array([0.6, 0.6])
    (net / "v_p_types.csv").write_text("edge_type_id delay\n5 1.0\n")
    write_spikes(tmp_path / "v.h5", {"v": (np.array([0, 0]), np.array([10.0, 15.0]))})
    sim = {"manifest": {"$NET": "./network"},
           "components": {"point_neuron_models_dir": "./point"},
           "networks": {"nodes": [{"nodes_file": "$NET/p_nodes.h5",
                                   "node_types_file": "$NET/p_types.csv"},
                                  {"nodes_file": "$NET/v_nodes.h5",
                                   "node_types_file": "$NET/v_types.csv"}],
                        "edges": [{"edges_file": "$NET/v_p_edges.h5",
                                   "edge_types_file": "$NET/v_p_types.csv"}]},
           "run": {"tstop": 40.0, "dt": 0.025},
           "inputs": {"v": {"input_type": "spikes", "module": "sonata",
                            "input_file": "./v.h5", "node_set": "v"}},
           "output": {"output_dir": "./output"}}
    (tmp_path / "simulation_config.json").write_text(json.dumps(sim))
    return tmp_path / "simulation_config.json"


def test_groups_library_and_overrides(tmp_path):
    config = _circuit(tmp_path)
    net = nethub.load(config)
    cells = net.cells_df()
    p = cells[cells["pop"] == "p"]
    assert p["sonata.layer"].isna().tolist() == [True, False]  # @library, group 1 only
    assert p["sonata.layer"].iloc[1] == "L5"
    assert p["x"].tolist() == [5.0, 0.0]
    assert p["params.tau"].tolist() == [1.0, 100.0]  # s -> ms, per node
    assert net.cell_types["p_1"].params == {"tau": 20.0, "refrac": 3.0}
    nethub.simulate(config, output=tmp_path / "run.h5")
    spikes = nethub.spikes_by_node(tmp_path / "run.h5")
    assert spikes[["population", "node_id"]].values.tolist() == [["p", 1]]
    assert np.isclose(spikes["timestamp"][0], 16.0)


def test_population_without_node_types(tmp_path):
    """BBP-style nodes without node_type_id and without a types CSV: the model is per node, and
    nodes of different models become different cell types."""
    config = _circuit(tmp_path)
    with h5py.File(tmp_path / "network" / "q_nodes.h5", "w") as f:
        pop = f.create_group("nodes/q")
        pop["0/model_type"] = np.array(["point_process", "virtual", "point_process"],
                                       dtype=h5py.string_dtype())
        pop["0/model_template"] = np.array(["nrn:IntFire1", "", "nrn:IntFire1"],
                                           dtype=h5py.string_dtype())
    sim = json.loads(config.read_text())
    sim["networks"]["nodes"].append({"nodes_file": "$NET/q_nodes.h5", "node_types_file": None})
    config.write_text(json.dumps(sim))
    net = nethub.load(config)
    cells = net.cells_df()
    q = cells[cells["pop"] == "q"]
    assert q["sonata.node_id"].tolist() == [0, 1, 2]
    types = q["cell_type"].tolist()
    assert types[0] == types[2] != types[1]
    assert net.cell_types[types[0]].model == "IntFire1"
    assert net.cell_types[types[1]].model == "VecStim"
