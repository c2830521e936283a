"""SONATA export round trips: SONATA -> store A -> SONATA -> store B -> SONATA -> store C.

B and C have the same content hash (the export is a fixed point of import + export); A and B
differ only in the verbatim source documents each import embeds (the configs that were read:
the original ones for A, the exported ones for B), so their hashes without those are equal.
The same for a NetPyNE-built store (its B is what a SONATA import of the export gives)."""

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
from .export_nets import export, netpyne_net, stored, without_sources


def _chain(first, tmp_path):
    a = stored(first, tmp_path / "A.h5")
    cfg_a, lost = export(a, tmp_path / "sa")
    b = stored(nethub.load(cfg_a), tmp_path / "B.h5")
    cfg_b, _ = export(b, tmp_path / "sb")
    c = stored(nethub.load(cfg_b), tmp_path / "C.h5")
    return a, b, c, lost


@pytest.mark.parametrize("config", ["300_intfire/config.json", "9_cells/simulation_config.json"])
def test_sonata_round_trip_keeps_the_hash(config, tmp_path):
    a, b, c, lost = _chain(nethub.load(FIXTURES / config), tmp_path)
    assert b.content_hash() == c.content_hash()
    assert without_sources(a).content_hash() == without_sources(b).content_hash()
    assert a.cells.equals(b.cells) and a.connections.equals(b.connections)
    # the node type CSVs travel verbatim; the exported configs replace the original ones
    csv = {n: f.data for n, f in a.files.items() if n.endswith("_node_types.csv")}
    assert csv and all(b.files[n].data == d for n, d in csv.items())
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
        assert any("model_type 'biophysical' not supported yet" in s
                   for s in nethub.read(tmp_path / "sa" / "simulation_config.json").lost)
    else:
        assert lost == []


def test_netpyne_store_round_trip(tmp_path):
    a, b, c, lost = _chain(netpyne_net(), tmp_path)
    assert b.content_hash() == c.content_hash()
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
