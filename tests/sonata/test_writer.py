"""Round trip: read SONATA -> write with our writer -> read with libsonata, BMTK and us."""

from __future__ import annotations

import libsonata
import numpy as np
import pandas as pd
import pytest
from bmtk.simulator.core.simulation_config import SimulationConfig
from bmtk.utils import sonata as bmtk_sonata

from nethub.errors import FormatError
from nethub.formats.sonata.config import load_config
from nethub.formats.sonata.edges import read_edges
from nethub.formats.sonata.nodes import read_nodes
from nethub.formats.sonata.nodesets import load_node_sets, resolve_node_set
from nethub.formats.sonata.types import write_types_csv
from nethub.formats.sonata.writer import edge_index, write_circuit, write_nodes

from .conftest import FIXTURES


def _read_circuit(config):
    cfg = load_config(config)
    nodes, edges = {}, {}
    for entry in cfg.nodes:
        nodes.update(read_nodes(entry.h5_file, entry.types_file))
    for entry in cfg.edges:
        edges.update(read_edges(entry.h5_file, entry.types_file))
    return nodes, edges


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    nodes, edges = _read_circuit(FIXTURES / "300_intfire" / "circuit_config.json")
    out = tmp_path_factory.mktemp("w") / "export"
    props = {"v1": {"type": "point_neuron"}, "lgn": {"type": "virtual"},
             "tw": {"type": "virtual"}}
    path = write_circuit(out, nodes, edges, population_properties=props,
                         node_sets={"inh": {"model_name": "LIF_inh"}, "lgn": {"population": "lgn"}},
                         simulation={"run": {"tstop": 50.0, "dt": 0.1}})
    return nodes, edges, out, path


def test_libsonata_reads_the_export(written):
    nodes, edges, out, path = written
    sim = libsonata.SimulationConfig.from_file(str(path))
    assert sim.run.random_seed == 0 and sim.run.tstop == 50.0
    circ = libsonata.CircuitConfig.from_file(sim.network)
    assert circ.node_populations == set(nodes) and circ.edge_populations == set(edges)
    for name, pop in edges.items():
        lib = circ.edge_population(name)
        sel = libsonata.Selection(np.arange(lib.size))
        assert np.array_equal(lib.source_nodes(sel), pop.source_node_ids)
        assert np.array_equal(lib.target_nodes(sel), pop.target_node_ids)
        for node in (0, 5, 17):
            assert lib.afferent_edges([node]).flatten().tolist() == np.flatnonzero(
                pop.target_node_ids == node).tolist()
            assert lib.efferent_edges([node]).flatten().tolist() == np.flatnonzero(
                pop.source_node_ids == node).tolist()
    assert np.array_equal(circ.edge_population("v1_to_v1").get_attribute(
        "nsyns", libsonata.Selection([[0, 5]])), edges["v1_to_v1"].attributes["nsyns"][:5])
    sets = libsonata.NodeSets.from_file(str(out / "node_sets.json"))
    assert sets.materialize("lgn", circ.node_population("lgn")).flatten().tolist() == list(
        range(len(nodes["lgn"])))


def test_bmtk_reads_the_export(written, monkeypatch):
    nodes, edges, out, path = written
    monkeypatch.chdir(out)  # BMTK resolves "./..." against the working directory
    conf = SimulationConfig.from_json(str(path))
    assert conf["run"]["tstop"] == 50.0 and conf["node_sets"]["inh"] == {"model_name": "LIF_inh"}
    for entry in conf["networks"]["nodes"]:
        f = bmtk_sonata.File(data_files=entry["nodes_file"],
                             data_type_files=entry["node_types_file"])
        (name,) = f.nodes.population_names
        df = f.nodes[name].to_dataframe()
        ours = nodes[name].table()
        assert df.index.tolist() == ours["node_id"].tolist()
        for col in nodes[name].types.columns:
            assert df[col].tolist() == ours[col].tolist(), col
    entry = conf["networks"]["edges"][0]
    f = bmtk_sonata.File(data_files=entry["edges_file"], data_type_files=entry["edge_types_file"])
    (name,) = f.edges.population_names
    pop = f.edges[name]
    got = sorted((int(e.source_node_id), int(e.target_node_id), e["syn_weight"], int(e["nsyns"]))
                 for e in pop.get_target(3))
    t = edges[name].table()
    t = t[t["target_node_id"] == 3]
    assert got == sorted(zip(t["source_node_id"], t["target_node_id"], t["syn_weight"],
                             t["nsyns"]))


def test_our_reader_gives_back_the_same(written):
    nodes, edges, out, path = written
    nodes2, edges2 = _read_circuit(path)
    for name in nodes:
        pd.testing.assert_frame_equal(nodes2[name].table(), nodes[name].table(),
                                      check_dtype=False)
    for name in edges:
        pd.testing.assert_frame_equal(edges2[name].table(), edges[name].table(),
                                      check_dtype=False)
        assert edges2[name].index_spelling == "node_id_to_ranges"


def test_population_types_default_from_model_type(tmp_path):
    nodes, _ = _read_circuit(FIXTURES / "300_intfire" / "circuit_config.json")
    write_circuit(tmp_path / "c", nodes)
    circ = libsonata.CircuitConfig.from_file(str(tmp_path / "c" / "circuit_config.json"))
    assert circ.node_population_properties("v1").type == "point_neuron"
    assert circ.node_population_properties("lgn").type == "virtual"


def test_edge_index_runs():
    ranges, r2e = edge_index(np.array([2, 0, 2, 2, 0]), 4)
    assert ranges.tolist() == [[0, 2], [0, 0], [2, 4], [0, 0]]
    assert r2e.tolist() == [[1, 2], [4, 5], [0, 1], [2, 4]]


def test_failed_write_leaves_nothing(tmp_path, written):
    nodes, edges, _, _ = written
    bad = {"v1_to_v1": edges["v1_to_v1"]}
    with pytest.raises(FormatError, match="node population 'v1'.*not written"):
        write_circuit(tmp_path / "x", {"lgn": nodes["lgn"]}, bad)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    with pytest.raises(FormatError, match="not empty"):
        write_circuit(tmp_path / "full", nodes)
    write_circuit(tmp_path / "full", {"lgn": nodes["lgn"]}, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == [
        "circuit_config.json", "network", "node_sets.json"]


def test_bmtk_filters_match_our_node_sets(written, monkeypatch):
    """BMTK's node filter (what its node sets use; pandas<3, see requirements-test.txt)
    selects the nodes our resolver selects, on the exported files."""
    nodes, _, out, _ = written
    f = bmtk_sonata.File(data_files=str(out / "network/v1_nodes.h5"),
                         data_type_files=str(out / "network/v1_node_types.csv"))
    got = sorted(int(n.node_id) for n in f.nodes["v1"].filter(model_name="LIF_inh"))
    ours = resolve_node_set("inh", load_node_sets(out / "node_sets.json"), nodes)
    assert got == ours["v1"].tolist() and len(got) > 0


def test_two_group_population_exported_for_libsonata(tmp_path):
    """A population libsonata cannot open (two node groups) is written as one group that
    libsonata reads with the same values (strings, @library labels, dynamics_params)."""
    from .test_nodes_edges import _two_group_file

    types = _two_group_file(tmp_path / "n.h5")
    (pop,) = read_nodes(tmp_path / "n.h5", types).values()
    write_nodes(tmp_path / "out.h5", {"cells": pop})
    lib = libsonata.NodeStorage(str(tmp_path / "out.h5")).open_population("cells")
    sel = libsonata.Selection(np.arange(4))
    # rows whose group lacked model_name get their type's value (HDF5 wins on reading)
    assert list(lib.get_attribute("model_name", sel)) == ["hdf_a", "csv_two", "hdf_c", "csv_two"]
    assert list(lib.get_attribute("layer", sel)) == ["", "L4", "", "L5"]
    assert np.array_equal(lib.get_attribute("x", sel), pop.attributes["x"], equal_nan=True)
    assert np.array_equal(lib.get_dynamics_attribute("tau", sel),
                          pop.dynamics_params["tau"], equal_nan=True)
    write_types_csv(tmp_path / "out.csv", pop.types, "node_type_id")
    (back,) = read_nodes(tmp_path / "out.h5", tmp_path / "out.csv").values()
    merged = back.table()
    assert merged["model_name"].tolist() == pop.table()["model_name"].tolist()
    assert merged["model_type"].tolist()[0] == "point process"
