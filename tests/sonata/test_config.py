"""SONATA configs: manifest substitution, both dialects, old config.json, located errors."""

from __future__ import annotations

import json

import pytest

from nethub.errors import FormatError
from nethub.formats.sonata.config import load_config

from .conftest import FIXTURES


def test_old_config_json_merges_circuit_and_simulation():
    root = FIXTURES / "300_intfire"
    cfg = load_config(root / "config.json")
    assert [s.name for s in cfg.sources] == ["config.json", "circuit_config.json",
                                             "simulation_config.json"]
    assert [n.h5_file for n in cfg.nodes] == [root / "network" / f"{p}_nodes.h5"
                                              for p in ("v1", "lgn", "tw")]
    assert cfg.edges[0].types_file == root / "network" / "v1_v1_edge_types.csv"
    assert cfg.run["tstop"] == 3000.0 and cfg.conditions["celsius"] == 34.0
    assert cfg.inputs["LGN_spikes"]["input_file"] == str(root / "inputs" / "lgn_spikes.h5")
    assert cfg.output_path("spikes_file") == root / "output" / "spikes.h5"
    assert cfg.node_sets_file == root / "node_sets.json"
    # "../shared_components" is resolved against the config's folder, not the working dir
    assert cfg.components["mechanisms_dir"] == str(FIXTURES / "shared_components" / "mechanisms")


def test_simulation_config_includes_its_network():
    root = FIXTURES / "9_cells"
    cfg = load_config(root / "simulation_config.json")
    assert len(cfg.nodes) == 3 and len(cfg.edges) == 2
    assert cfg.reports["membrane_potential"]["variable_name"] == "v"
    assert cfg.output_path("membrane_potential.h5") == root / "output" / "membrane_potential.h5"


def test_libsonata_dialect_populations_blocks_and_null_types():
    root = FIXTURES / "libsonata" / "config"
    cfg = load_config(root / "circuit_config.json")
    (nodes,) = cfg.nodes
    assert nodes.types_file is None
    assert nodes.h5_file == FIXTURES / "libsonata" / "nodes1.h5"
    assert nodes.populations["nodes-B"]["spatial_segment_index_dir"] == str(
        root / "spatial_segment_index_dir")
    sim = load_config(root / "simulation_config.json")
    assert sim.run["random_seed"] == 201506 and sim.node_set == "Column"
    assert sim.output_path("spikes_file") == root / "some" / "path" / "output" / "out.h5"


def _write(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_nested_manifest_braces_and_typed_values(tmp_path):
    doc = {"manifest": {"$NET": "${BASE}/net", "$BASE": "./model", "$STEP": 0.025},
           "run": {"dt": "$STEP", "tstop": 10},
           "networks": {"nodes": [{"nodes_file": "$NET/n.h5", "node_types_file": None}]}}
    cfg = load_config(_write(tmp_path / "c.json", doc))
    assert cfg.run["dt"] == 0.025
    assert cfg.nodes[0].h5_file == tmp_path / "model" / "net" / "n.h5"
    cfg = load_config(_write(tmp_path / "c.json", doc), variables={"STEP": 0.1})
    assert cfg.run["dt"] == 0.1


@pytest.mark.parametrize("doc, message", [
    ({"manifest": {"$A": "$B/x", "$B": "$A/y"}}, "cycle"),
    ({"run": {"tstop": "$NOPE"}}, "run.tstop uses $NOPE"),
    ({"networks": {"nodes": [{"node_types_file": "t.csv"}]}}, "networks.nodes[0].nodes_file"),
    ({"run": [1]}, "'run' must be a JSON object"),
])
def test_errors_name_file_and_key_path(tmp_path, doc, message):
    path = _write(tmp_path / "bad.json", doc)
    with pytest.raises(FormatError, match="bad.json") as info:
        cfg = load_config(path)
        cfg.nodes, cfg.run  # noqa: B018 - properties validate on access
    assert message in str(info.value)


def test_unreadable_and_self_including_configs(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(FormatError, match="x.json"):
        load_config(tmp_path / "x.json")
    _write(tmp_path / "loop.json", {"network": "./loop.json"})
    with pytest.raises(FormatError, match="include each other"):
        load_config(tmp_path / "loop.json")


def test_which_values_are_paths(tmp_path):
    doc = {"output": {"output_dir": "out", "spikes_file": "s.h5"},
           "reports": {"v": {"file_name": "v.h5", "variable_name": "v"}},
           "inputs": {"replay": {"spike_file": "in/r.h5", "node_set": "All"}},
           "networks": {"nodes": [{"nodes_file": "n.h5", "populations": {"p": {
               "alternate_morphologies": {"h5v1": "morph/h5"}, "type": "biophysical"}}}]}}
    cfg = load_config(_write(tmp_path / "s.json", doc))
    assert cfg.output["spikes_file"] == "s.h5"
    assert cfg.output_path("spikes_file") == tmp_path / "out" / "s.h5"
    assert cfg.reports["v"]["file_name"] == "v.h5"
    assert cfg.inputs["replay"]["spike_file"] == str(tmp_path / "in" / "r.h5")
    assert cfg.inputs["replay"]["node_set"] == "All"
    props = cfg.nodes[0].populations["p"]
    assert props == {"alternate_morphologies": {"h5v1": str(tmp_path / "morph" / "h5")},
                     "type": "biophysical"}
