"""BMTK's current clamps from files (``csv``, ``nwb``) and a report of two variables, against
BMTK 1.2's output (``fixtures/sonata/bio_files``, made by its ``make_bio_files.py``): the
simulation config imported as it is, simulated, the reports written by the SONATA results
writer and read back with libsonata."""

from __future__ import annotations

import dataclasses
import json

import h5py
import libsonata
import numpy as np
import pytest

import nethub
from nethub.errors import FormatError
from nethub.formats.sonata import write_run_outputs
from nethub.formats.sonata.clampfiles import read_clamp_waveform
from nethub.formats.sonata.results import variable_units
from nethub.store import write_network

from .conftest import FIXTURES

FILES = FIXTURES / "bio_files"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    net = nethub.load(FILES / "simulation_config.json")
    tmp = tmp_path_factory.mktemp("clampfiles")
    write_network(net, tmp / "net.h5")
    res = nethub.simulate(tmp / "net.h5", net.run_config, output=tmp / "run.h5")
    written = write_run_outputs(tmp / "run.h5", out_dir=tmp / "sonata")
    return net, res, written


def _bmtk_report(name):
    with h5py.File(FILES / "bmtk_output" / f"{name}.h5") as f:
        grp = f["report/bio"]
        return grp["data"][()], list(grp["mapping/node_ids"][()]), grp["data"].attrs["variable"]


def test_waveforms_as_bmtk_reads_them(run):
    net, _, _ = run
    csv = net.stim_sources["sonata:csv_clamp"].params
    # BMTK prepends 0 at t = 0 (onset 20 ms = one interval), plays every 20 ms, stops at the
    # last timestamp (its amplitude is 0)
    assert csv["play.dt"] == 20.0 and csv["del"] == 0.0 and csv["dur"] == 280.0
    assert csv["play.amp"][:3] == [0.0, 0.05, 0.07] and len(csv["play.amp"]) == 15
    nwb = net.stim_sources["sonata:nwb_clamp"].params
    with h5py.File(FILES / "inputs" / "sweeps.nwb") as f:
        data = f["epochs/Sweep_5/stimulus/timeseries/data"][()] * 1e9
    assert nwb["play.dt"] == 0.5  # downsampled from 0.25 ms
    np.testing.assert_array_equal(nwb["play.amp"], data[::2])
    st = net.stim_targets.to_pandas()
    assert st.groupby("source", observed=True)["gid"].apply(list).to_dict() == {
        "sonata:csv_clamp": [1], "sonata:nwb_clamp": [0, 2], "sonata:hold": [1]}
    # BMTK's SEClamp: NEURON's default rs (1 MOhm) in the first step, then switched after
    # every step: 1e21 outside [delay, delay + duration], 'resistance' inside
    hold = net.stim_sources["sonata:hold"].params
    assert (hold["dur1"], hold["amp1"], hold["dur2"], hold["amp2"], hold["rs"]) == (
        60.0, 0.0, 30.0, -70.0, 1.0)
    assert hold["play.rs"] == [1.0, 1e21, 0.01, 1e21] and hold["play.continuous"] == 0
    np.testing.assert_allclose(hold["play.t"], [0.0, 0.025, 60.025, 90.05])


def _assert_bmtk_spikes(res):
    with h5py.File(FILES / "bmtk_output" / "spikes.h5") as f:
        nodes, times = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    for gid in range(3):  # bio is the first population: gid = node_id
        want = np.sort(times[nodes == gid])
        got = np.sort(res.spike_times[res.spike_gids == gid])
        assert len(got) == len(want) > 0
        assert np.abs(got - want).max() <= 0.2  # measured 2.8e-14 ms


def test_two_ranks_give_bmtks_spikes(run, tmp_path):
    net, _, _ = run
    write_network(net, tmp_path / "net.h5")
    rc = dataclasses.replace(net.run_config, traces=())
    _assert_bmtk_spikes(nethub.simulate(tmp_path / "net.h5", rc, nprocs=2,
                                        output=tmp_path / "run.h5"))


def test_spikes_and_reports_are_bmtks(run):
    _, res, written = run
    _assert_bmtk_spikes(res)
    v, ids, _ = _bmtk_report("membrane_potential")
    # BMTK 1.2 writes every variable of a list into one dataset, each overwriting the one
    # before: its file holds the last variable (ik) labelled with the first (ina)
    last, ids2, label = _bmtk_report("currents")
    assert label == "ina" and ids == [0, 2] and ids2 == [1]
    for key, ref, var, nodes in (("membrane_potential", v, "v", ids),
                                 ("currents.ik", last, "ik", ids2)):
        rep = libsonata.ElementReportReader(str(written[key]))["bio"]
        assert sorted(rep.get_node_ids()) == nodes
        for node in nodes:
            mine = np.asarray(rep.get(node_ids=[node]).data)[:, 0]
            want = ref[:, nodes.index(node)]
            # row i: the value at t = (i + 1) dt in both; nethub's recorder keeps no sample
            # at t = tstop, BMTK's last row
            assert len(mine) == len(want) - 1
            want = want[:-1]
            scale = 1.0 if var == "v" else np.abs(want).max()
            # measured: v 1.3e-6 mV RMS (float32 storage), ik 1.0e-8 mA/cm2 (peak 0.75)
            assert np.sqrt(np.mean((mine - want) ** 2)) / scale < 1e-4, (key, node)
    ina = libsonata.ElementReportReader(str(written["currents"]))["bio"]
    assert np.asarray(ina.get(node_ids=[1]).data).min() < 0  # sodium current: inward
    assert {"membrane_potential", "currents", "currents.ik"} <= set(written)
    assert ina.data_units == "mA/cm2" and libsonata.ElementReportReader(
        str(written["membrane_potential"]))["bio"].data_units == "mV"


def test_units_of_variables():
    assert [variable_units(v) for v in ("v", "ik", "i_membrane_", "sonata:x.i", "cai", "nao",
                                        "m_hh")] == ["mV", "mA/cm2", "nA", "nA", "mM", "mM", ""]


def test_bad_clamp_files_name_file_and_key(tmp_path):
    bad = tmp_path / "amps.csv"
    bad.write_text("time amps\n0 0.1\n10 0\n")
    where = "cfg.json: inputs.c"
    with pytest.raises(FormatError, match=r"amps.csv has no column 'timestamps'"):
        read_clamp_waveform({"input_type": "csv", "file": str(bad)}, where)
    with pytest.raises(FormatError, match=r"inputs.c.file: .*missing.csv does not exist"):
        read_clamp_waveform({"input_type": "csv", "file": str(tmp_path / "missing.csv")},
                            where)
    with pytest.raises(FormatError, match=r"has no sweep /epochs/Sweep_7"):
        read_clamp_waveform({"input_type": "nwb", "file": str(FILES / "inputs" / "sweeps.nwb"),
                             "sweep_id": 7}, where)


def test_csv_onset_off_the_grid(tmp_path):
    # onset 30 ms, interval 20 ms: BMTK 1.2 means a 10 ms grid (and raises there); nethub
    # plays it and says so
    path = tmp_path / "a.csv"
    path.write_text("timestamps,amps\n30,0.2\n50,0.1\n")
    wave = read_clamp_waveform({"input_type": "file", "file": str(path), "separator": ","},
                               "c: inputs.x")
    assert wave.dt == 10.0 and wave.delay == 0.0 and wave.dur == 60.0
    np.testing.assert_array_equal(wave.amps, [0, 0, 0, 0.2, 0.2, 0.1, 0.1])
    assert any("10 ms grid" in n for n in wave.notes)
    assert any("not 0" in n for n in wave.notes)


def test_sim_config_names_the_report_files(run):
    net, _, _ = run
    files = {c["id"]: f["path"] for f in net.run_config.extras["output_files"]
             for c in f.get("columns", [])}
    assert set(files) == {"membrane_potential", "currents", "currents.ik"}
    assert files["currents.ik"].endswith("output/currents_ik.h5")
    assert json.loads((FILES / "simulation_config.json").read_text())["reports"]["currents"][
        "variable_name"] == ["ina", "ik"]


def test_export_writes_csv_clamps_and_reports_the_others(run, tmp_path):
    net, _, _ = run
    lost = nethub.save(net, tmp_path / "out", format="sonata")
    assert "stimulus 'sonata:nwb_clamp' (2 targets): a played amplitude waveform BMTK's " \
        "CSV clamp cannot express; not written" in lost
    cfg = json.loads((tmp_path / "out" / "simulation_config.json").read_text())
    assert not any(i.get("input_type") == "current_clamp" for i in cfg["inputs"].values())
    csv = cfg["inputs"]["sonata:csv_clamp_bio"]
    assert (csv["input_type"], csv["module"]) == ("csv", "IClamp")
    # read back (BMTK's reader logic) into the same played clamp
    back = nethub.load(tmp_path / "out" / "simulation_config.json")
    assert back.stim_sources["sonata:sonata:csv_clamp_bio"].params == \
        net.stim_sources["sonata:csv_clamp"].params
    # libsonata has no file clamp: its dialect leaves it out, and libsonata reads the rest
    lib = libsonata.SimulationConfig.from_file(
        str(tmp_path / "out" / "simulation_config_libsonata.json"))
    assert "sonata:csv_clamp_bio" not in lib.list_input_names


def test_played_clamps_are_not_for_coreneuron(run):
    from nethub.sim.coreneuron import coreneuron_eligible  # test only: NEURON is there

    net, res, _ = run
    ok, why = coreneuron_eligible(net, net.run_config)
    assert not ok and "a waveform played into the stim (Vector.play" in why
