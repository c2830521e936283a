"""libsonata's test data ``edges1.h5``: its ``edges-AC`` population holds only two empty groups
(no ``source_node_id``, ``target_node_id``, type ids or attributes; libsonata lists it and
cannot open it). nethub reads it as 0 edges and says so, as it reads ``nodes-B``; the whole
file with ``nodes1.h5`` is refused with an error naming file, population and ids, because
``edges-AB`` targets node ids of ``nodes-B``, which has no nodes."""

from __future__ import annotations

import json

import h5py
import libsonata
import pytest

import nethub
from nethub.errors import FormatError
from nethub.formats.sonata.edges import read_edges

from .conftest import FIXTURES

LIB = FIXTURES / "libsonata"


def test_edges_ac_is_an_empty_population():
    pops = read_edges(LIB / "edges1.h5")
    ac = pops["edges-AC"]
    assert len(ac) == 0 and (ac.source_population, ac.target_population) == ("", "")
    assert ac.skipped == [f"{LIB / 'edges1.h5'}: edge population 'edges-AC' has no datasets "
                          "(no source_node_id, target_node_id or attributes): read as 0 edges"]
    assert len(pops["edges-AB"]) == 6
    storage = libsonata.EdgeStorage(str(LIB / "edges1.h5"))
    assert "edges-AC" in storage.population_names
    with pytest.raises(libsonata.SonataError, match="single-group"):
        storage.open_population("edges-AC")


def _circuit(tmp_path, edges_file):
    cfg = tmp_path / "circuit_config.json"
    cfg.write_text(json.dumps({"networks": {
        "nodes": [{"nodes_file": str(LIB / "nodes1.h5"), "node_types_file": None}],
        "edges": [{"edges_file": str(edges_file), "edge_types_file": None}]}}))
    return cfg


def test_edges_ac_imports_as_no_connections(tmp_path):
    only_ac = tmp_path / "edges_ac.h5"
    with h5py.File(LIB / "edges1.h5") as src, h5py.File(only_ac, "w") as dst:
        src.copy(src["edges/edges-AC"], dst.require_group("edges"), "edges-AC")
    doc = nethub.read(_circuit(tmp_path, only_ac))
    assert len(doc.network.connections) == 0 and len(doc.network.cells) == 6
    assert any("'edges-AC' has no datasets" in s and "read as 0 edges" in s
               for s in doc.lost)


def test_whole_libsonata_circuit_error_names_file_and_population(tmp_path):
    with pytest.raises(FormatError, match=r"edges1.h5: edges edges-AB target_node_id: node "
                                          r"ids \[0, 1, 2\] are not in node population "
                                          r"'nodes-B'"):
        nethub.read(_circuit(tmp_path, LIB / "edges1.h5"))


def test_simulation_config_without_network_names_the_configs_beside_it():
    # Allen's 300_intfire: simulation_config.json has no 'network'; config.json joins the two
    with pytest.raises(FormatError, match=r"simulation_config.json: names no node files .*"
                                          r"\(beside it: circuit_config.json, config.json\)"):
        nethub.read(FIXTURES / "300_intfire" / "simulation_config.json")
