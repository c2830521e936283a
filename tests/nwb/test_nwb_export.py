"""What nethub writes to NWB from a real run, seen by the NWB tools themselves: nwbinspector
finds nothing CRITICAL, pynwb reads the Units table, traces, LFP and provenance where
docs/nwb.md says they are, and Neo's NWBIO reads the same spikes."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nethub

from .conftest import ELECTRODES

pytestmark = pytest.mark.neuron
pynwb = pytest.importorskip("pynwb")


def _inspect(path, config=None):
    from nwbinspector import inspect_nwbfile, load_config

    cfg = load_config(config) if config else None
    return list(inspect_nwbfile(nwbfile_path=str(path), config=cfg))


def _critical(messages):
    return [f"{m.check_function_name}: {m.message}" for m in messages
            if m.importance.name in ("CRITICAL", "PYNWB_VALIDATION", "ERROR")]


def test_nwbinspector_finds_nothing_critical(nwb_file):
    msgs = _inspect(nwb_file)
    assert _critical(msgs) == []
    # what it still suggests (documented in docs/nwb.md)
    assert {m.check_function_name for m in msgs} <= {
        "check_experimenter_exists", "check_institution", "check_keywords",
        "check_subject_species_exists", "check_processing_module_name"}


def test_dandi_config_passes_with_the_modelled_species(run_store, tmp_path):
    """DANDI's stricter configuration asks for a species: the user names the animal the model
    stands for (write option ``subject``) and who made it (``metadata``)."""
    path = tmp_path / "dandi.nwb"
    nethub.convert(run_store[1], path, write_options={
        "subject": {"species": "Mus musculus"},
        "metadata": {"experimenter": ["Doe, Jane"], "institution": "Nowhere Institute"}})
    assert _critical(_inspect(path, "dandi")) == []


def test_pynwb_reads_units_traces_lfp_and_provenance(run_store, nwb_file):
    res = nethub.load_results(run_store[1])
    net = nethub.load(run_store[0])
    with pynwb.NWBHDF5IO(str(nwb_file), "r") as io:
        f = io.read()
        units = f.units.to_dataframe()
        assert units.index.tolist() == net.gids.tolist() == units["gid"].tolist()
        pops = net.cells.to_pandas().set_index("gid")["pop"]
        assert units["population"].tolist() == pops.loc[units.index].tolist()
        assert set(units["cell_type"]) == {"BS"}
        for gid, times in units["spike_times"].items():
            np.testing.assert_allclose(times * 1000, res.spike_times[res.spike_gids == gid],
                                       rtol=1e-15)
        assert f.units.resolution == pytest.approx(0.025e-3)
        # traces: one TimeSeries per label, columns described in processing/nethub/trace_sites
        v = f.acquisition["V_soma"]
        assert (v.unit, v.conversion, v.rate) == ("volts", 1e-3, 2000.0)
        sites = f.processing["nethub"]["trace_sites"].to_dataframe()
        vs = sites[sites.series == "V_soma"].sort_values("column")
        assert vs.gid.tolist() == net.gids.tolist() and set(vs.sec) == {"soma"}
        for col, gid in zip(vs.column, vs.gid):
            np.testing.assert_array_equal(v.data[:, col], res.traces.get("V_soma", gid))
        # the cell of a trace is a row of the Units table
        linked = f.processing["nethub"]["trace_sites"]["unit"]
        assert [linked[i]["gid"].iloc[0] for i in range(len(sites))] == sites.gid.tolist()
        dend = [k for k in f.acquisition if k.startswith("V_dend")]
        assert len(dend) == 1 and f.acquisition[dend[0]].rate == 4000.0
        # LFP: an ElectricalSeries in processing/ecephys/LFP, electrodes at the positions
        lfp = f.processing["ecephys"]["LFP"]["lfp"]
        np.testing.assert_array_equal(lfp.data[:], res.lfp)
        assert lfp.conversion == 1e-3 and lfp.unit == "volts"
        el = f.electrodes.to_dataframe()
        np.testing.assert_array_equal(el[["rel_x", "rel_y", "rel_z"]].to_numpy(),
                                      np.array(ELECTRODES))
        np.testing.assert_array_equal(f.processing["nethub"]["dipole"].data[:], res.dipole)
        prov = json.loads(f.scratch["nethub_provenance"].data)
        assert prov["network_hash"] == res.network_hash == net.content_hash()
        assert prov["run"] == res.name and prov["run_config"] == res.run_config
        assert prov["source"]["sha256"] and prov["nethub_version"] == nethub.__version__
        assert ["nethub", nethub.__version__] in [list(x) for x in f.was_generated_by]
        assert res.network_hash in f.experiment_description


def test_neo_nwbio_reads_the_same_spikes(run_store, nwb_file):
    neo = pytest.importorskip("neo")
    res = nethub.load_results(run_store[1])
    io = neo.io.NWBIO(str(nwb_file), mode="r")
    try:
        block = io.read_all_blocks()[0]
    finally:
        io.close()
    trains = block.segments[0].spiketrains
    gids = np.unique(np.concatenate([nethub.load(run_store[0]).gids, res.spike_gids]))
    assert len(trains) == len(gids)
    for gid, st in zip(gids, trains):
        assert str(st.units.dimensionality) == "s"
        np.testing.assert_array_equal(st.magnitude, res.spike_times[res.spike_gids == gid] / 1e3)
        assert float(st.t_stop.magnitude) == 0.05
    signals = {s.name: s for s in block.segments[0].analogsignals}
    assert str(signals["V_soma"].units.dimensionality) == "mV"


def test_sonata_node_ids_are_units_columns(tmp_path):
    """A SONATA import keeps its populations and node ids as Units columns (real import of the
    trimmed 300_intfire example, fixtures/sonata/README.md, and a real run)."""
    from pathlib import Path

    cfg = Path(__file__).resolve().parents[2] / "fixtures/sonata/300_intfire/circuit_config.json"
    store = tmp_path / "intfire.h5"
    nethub.convert(cfg, store)
    nethub.simulate(store, {"duration": 5.0})
    nethub.convert(store, tmp_path / "intfire.nwb")
    cells = nethub.load(store).cells.to_pandas().set_index("gid")
    with pynwb.NWBHDF5IO(str(tmp_path / "intfire.nwb"), "r") as io:
        units = io.read().units.to_dataframe()
    assert units["sonata_node_id"].tolist() == cells.loc[units.index, "sonata.node_id"].tolist()
    assert units["sonata_population"].tolist() == cells.loc[units.index, "source_pop"].tolist()
    assert units["source_id"].tolist() == units["sonata_node_id"].tolist()
    assert set(units["sonata_population"]) == {"v1", "lgn", "tw"}
