"""SONATA export round trips: SONATA -> store A -> SONATA -> store B -> SONATA -> store C.

A, B and C have the same content hash: the export writes the store's source documents (the
configs and type CSVs its import read) back verbatim under ``sources/`` and the import of an
unchanged export embeds them again (``nethub.formats.sonata.sources``). For a NetPyNE-built
store B and C have the same hash (the export is a fixed point of import + export); A has other
columns and no source documents.
"""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

import nethub
from nethub.converters.sonata_export import intfire1_seconds, network_to_sonata
from nethub.errors import FormatError

from .conftest import FIXTURES
from .export_nets import export, netpyne_net, stored


def _chain(first, tmp_path):
    a = stored(first, tmp_path / "A.h5")
    cfg_a, lost = export(a, tmp_path / "sa")
    b = stored(nethub.load(cfg_a), tmp_path / "B.h5")
    cfg_b, _ = export(b, tmp_path / "sb")
    c = stored(nethub.load(cfg_b), tmp_path / "C.h5")
    return a, b, c, lost


@pytest.mark.parametrize("config", ["300_intfire/config.json", "9_cells/simulation_config.json",
                                    "own_point/simulation_config.json"])
def test_sonata_round_trip_keeps_the_hash(config, tmp_path):
    a, b, c, lost = _chain(nethub.load(FIXTURES / config), tmp_path)
    assert a.content_hash() == b.content_hash() == c.content_hash()
    assert a.cells.equals(b.cells) and a.connections.equals(b.connections)
    # the source documents travel verbatim: B embeds A's configs and type CSVs
    assert [f.meta() for f in a.files.values()] == [f.meta() for f in b.files.values()]
    assert a.files_with_role("sonata-config") and a.files_with_role("type-table")
    sim = libsonata.SimulationConfig.from_file(
        str(tmp_path / "sa" / "simulation_config_libsonata.json"))
    circ = libsonata.CircuitConfig.from_file(sim.network)
    assert circ.node_populations == set(a.populations)
    if config.startswith("9_cells"):  # biophysical placeholders: re-reported, not silent
        assert "population cortex: 9 ['biophysical'] cells were imported as placeholders; " \
            "written with their SONATA properties but without templates or morphologies " \
            "(BMTK cannot build them)" in lost
        # its reports name biophysical cells only (placeholders here): not written, reported
        # (as the embedded config's reports, or once the store carries a RunConfig, as
        # traces without cells)
        assert any("reports ['calcium_concentration', 'membrane_potential'] are not written"
                   in s for s in lost) or "trace 'sonata:membrane_potential' selects no " \
            "cells; no report written" in lost
        assert any("biophysical cells not built" in s
                   for s in nethub.read(tmp_path / "sa" / "simulation_config.json").lost)
    else:
        assert lost == []


def test_biophysical_round_trip_keeps_the_hash(tmp_path):
    """The bio fixture (morphology, dynamics_params, mechanisms, multi-synapse edges): the
    split edges keep their ids (``nethub_edge_id``), Exp2Syn its ``erev``, the mod files
    their names (BMTK's ``mechanisms/modfiles`` layout)."""
    a = stored(nethub.load(FIXTURES / "bio" / "simulation_config.json"), tmp_path / "A.h5")
    cfg, _ = export(a, tmp_path / "sa")
    b = stored(nethub.load(cfg), tmp_path / "B.h5")
    assert a.content_hash() == b.content_hash()
    assert a.connections.equals(b.connections) and a.mod_files == b.mod_files
    with h5py.File(tmp_path / "sa" / "network" / "inp_to_bio_edges.h5") as f:
        kept = f["edges/inp_to_bio/0/nethub_edge_id"][:]
    assert len(set(kept.tolist())) < len(kept)  # one exported edge per synapse


def test_edited_export_embeds_what_was_read(tmp_path):
    """Change an exported config and its import embeds the files it read, as any import."""
    a = nethub.load(FIXTURES / "own_point" / "simulation_config.json")
    cfg, _ = export(a, tmp_path / "sa")
    sim = json.loads(cfg.read_text())
    sim["run"]["tstop"] = 50.0
    cfg.write_text(json.dumps(sim))
    b = nethub.load(cfg)
    assert b.run_config.duration == 50.0
    assert b.files["simulation_config.json"].data == cfg.read_bytes()
    assert b.content_hash() != a.content_hash()
    # the record stays: the untouched circuit config alone still stands for A's documents
    # only if A came from a circuit config; A came from a simulation config, so no
    assert nethub.load(tmp_path / "sa" / "circuit_config.json").files[
        "circuit_config.json"].data == (tmp_path / "sa" / "circuit_config.json").read_bytes()


def test_libsonata_nodes_round_trip(tmp_path):
    """libsonata's own nodes1.h5: nodes-A (node_type_id -1, no types table, @library and
    typed attributes) and nodes-B (no datasets: 0 nodes) import with losses, export, and
    import again to the same hash; libsonata reads the export."""
    cfg = tmp_path / "circuit_config.json"
    cfg.write_text(json.dumps({"networks": {"nodes": [
        {"nodes_file": str(FIXTURES / "libsonata" / "nodes1.h5"), "node_types_file": None}],
        "edges": []}}))
    doc = nethub.read(cfg)
    assert doc.network.populations["nodes-B"].size == 0
    assert any("'nodes-B' has no datasets" in s for s in doc.lost)
    assert any("A-enum" in s for s in doc.lost)  # what cannot be read is reported
    a = stored(doc.network, tmp_path / "A.h5")
    export(a, tmp_path / "sa")
    b = stored(nethub.load(tmp_path / "sa" / "circuit_config.json"), tmp_path / "B.h5")
    assert a.content_hash() == b.content_hash()
    nodes = libsonata.NodeStorage(str(tmp_path / "sa" / "network" / "nodes-A_nodes.h5"))
    pop = nodes.open_population("nodes-A")
    sel = libsonata.Selection([[0, 6]])
    assert pop.size == 6 and list(pop.get_attribute("attr-Z", sel)) == [
        "aa", "bb", "cc", "dd", "ee", "ff"]
    assert list(pop.get_attribute("E-mapping-good", sel)) == list(
        a.cells_df()["sonata.E-mapping-good"].astype(str))
    empty = libsonata.NodeStorage(str(tmp_path / "sa" / "network" / "nodes-B_nodes.h5"))
    assert empty.open_population("nodes-B").size == 0


def test_netpyne_store_round_trip(tmp_path):
    a, b, c, lost = _chain(netpyne_net(), tmp_path)
    assert b.content_hash() == c.content_hash()
    assert not a.files and [f.meta() for f in b.files.values()] == [
        f.meta() for f in c.files.values()]  # B's documents: the first export's configs
    assert "the high-level spec (netParams/simConfig): format 'sonata' cannot hold it" in lost
    assert "connections column 'rule': connection rule label; not written (78 connections)" \
        in lost
    ca, cb = a.cells_df(), b.cells_df()
    assert cb["sonata.population"].tolist() == ca["pop"].tolist()
    assert cb["sonata.node_id"].tolist() == ca["source_id"].tolist()
    assert np.array_equal(ca[["x", "y", "z"]].to_numpy(), cb[["x", "y", "z"]].to_numpy())
    for name, ct in a.cell_types.items():  # IntFire1 tau/refrac survive ms -> s -> ms exactly
        (mine,) = {cb.loc[i, "cell_type"] for i in np.flatnonzero(ca["cell_type"] == name)}
        assert b.cell_types[mine].model == ct.model
        if ct.model == "IntFire1":
            assert b.cell_types[mine].params == ct.params
    ka = a.connections_df().sort_values(
        ["post_gid", "pre_gid"]).reset_index(drop=True)
    kb = b.connections_df().sort_values(["post_gid", "pre_gid"]).reset_index(drop=True)
    assert ka[["pre_gid", "post_gid", "weight", "delay"]].equals(
        kb[["pre_gid", "post_gid", "weight", "delay"]])
    spk = cb[cb["sonata.population"] == "S"]["params.spkTimes"]
    assert all(list(t) == [5.0, 20.0, 40.0, 61.5, 80.2, 95.0, 120.0, 150.5] for t in spk)
    sim = json.loads((tmp_path / "sa" / "simulation_config.json").read_text())
    assert sim["run"] == {"tstop": 200.0, "dt": 0.025, "random_seed": 2, "nsteps_block": 5000}
    assert sim["conditions"] == {"celsius": 30.0, "v_init": -70.0}


def test_intfire1_seconds_invert_the_importer_exactly():
    ms = np.array([12.0, 3.0, 24.4, 0.1, 7.3, 1e-3, 33.333333333333336, 5e5])
    assert np.array_equal(intfire1_seconds(ms) * 1000.0, ms)
    assert intfire1_seconds(24.4) * 1000.0 == 24.4


def test_losses_are_reported(tmp_path):
    """NetStim/IntFire2 cells, pointer connections and non-IClamp stimuli are reported."""
    net = nethub.build({
        "popParams": {"E": {"cellModel": "IntFire2", "numCells": 3, "ib": 0.2},
                      "P": {"cellModel": "NetStim", "numCells": 2, "rate": 20, "noise": 1}},
        "synMechParams": {"exc": {"mod": "ExpSyn"}},
        "connParams": {"P->E": {"preConds": {"pop": "P"}, "postConds": {"pop": "E"},
                                "weight": 0.1, "delay": 1.0}}},
        {"duration": 10})
    exp = network_to_sonata(net)
    text = "\n".join(exp.lost)
    assert "nrn:IntFire2 is no BMTK bionet template" in text
    assert "NetStim cell type 'P' has no SONATA equivalent" in text
    assert "per-cell list parameters ['params.noise_ids'] are not written" in text
    conns = netpyne_net().connections_df()
    conns.loc[:4, "threshold"] = -10.0
    conns["weight_index"] = np.where(np.arange(len(conns)) < 2, 1, 0)
    lost = network_to_sonata(netpyne_net().replace(connections=conns)).lost
    assert "connections column 'threshold': per-connection spike threshold; not written " \
        "(5 connections)" in lost
    assert "connections column 'weight_index': NetCon weight index other than 0; not " \
        "written (2 connections)" in lost
    cells = netpyne_net().cells_df()
    cells["pop"] = cells["pop"].astype(str).replace({"E": "L2/3"})
    lost = network_to_sonata(netpyne_net().replace(cells=cells)).lost
    assert "population 'L2/3' is written as 'L2_3' (a SONATA population name is an HDF5 " \
        "group name)" in lost
    with h5py.File(exp_path := tmp_path / "x.h5", "w"):
        pass
    with pytest.raises(FormatError, match="exists and is not empty"):
        nethub.save(net, exp_path.parent, format="sonata")
