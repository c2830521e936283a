"""Biophysical end to end against BMTK with current clamps and a soma membrane report
(``fixtures/sonata/bio/simulation_config_iclamp.json``: a step on every ``bio`` cell and two
pulses, given as lists, on node 1; BMTK 1.2's spikes and report in ``output_iclamp/``): the
simulation config imported as it is, simulated on 1 and 2 ranks, the report written by the
SONATA results writer and read back with libsonata."""

from __future__ import annotations

import h5py
import libsonata
import numpy as np
import pytest

import nethub
from nethub.formats.sonata import write_run_outputs
from nethub.store import write_network

from .conftest import FIXTURES

BIO = FIXTURES / "bio"


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    net = nethub.load(BIO / "simulation_config_iclamp.json")
    path = tmp_path_factory.mktemp("iclamp") / "bio.h5"
    write_network(net, path)
    return net, path


def _bmtk():
    with h5py.File(BIO / "output_iclamp" / "spikes.h5") as f:
        spikes = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    with h5py.File(BIO / "output_iclamp" / "membrane_potential.h5") as f:
        report = f["report/bio/data"][()], list(f["report/bio/mapping/node_ids"][()])
    return spikes, report


def test_clamps_are_imported(stored):
    net, _ = stored
    src = net.stim_sources
    assert {k: (s.model, s.params) for k, s in src.items()} == {
        "sonata:step": ("IClamp", {"amp": 0.12, "del": 40.0, "dur": 80.0}),
        "sonata:pulses:0": ("IClamp", {"amp": 0.3, "del": 150.0, "dur": 30.0}),
        "sonata:pulses:1": ("IClamp", {"amp": -0.1, "del": 220.0, "dur": 40.0})}
    st = net.stim_targets.to_pandas()
    assert sorted(st.loc[st["source"] == "sonata:step", "gid"]) == [0, 1, 2]
    assert list(st.loc[st["source"] == "sonata:pulses:0", "gid"]) == [1]


@pytest.mark.parametrize("nprocs", [1, 2])
def test_spikes_and_report_are_bmtks(stored, nprocs, tmp_path):
    net, path = stored
    out = tmp_path / "run.h5"
    res = nethub.simulate(path, net.run_config, nprocs=nprocs, output=out)
    (nodes, times), (data, ids) = _bmtk()
    for gid in range(3):  # bio is the first population: gid = node_id
        want = np.sort(times[nodes == gid])
        got = np.sort(res.spike_times[res.spike_gids == gid])
        assert len(got) == len(want) > 0
        assert np.abs(got - want).max() <= 0.2
    written = write_run_outputs(out, out_dir=tmp_path / "sonata")
    rep = libsonata.ElementReportReader(str(written["membrane_potential"]))["bio"]
    assert sorted(rep.get_node_ids()) == [0, 1, 2]
    for node in range(3):
        mine = np.asarray(rep.get(node_ids=[node]).data)[:, 0]
        # row i: the value at t = (i + 1) dt in both (BMTK records after each step);
        # nethub's recorder keeps no sample at t = tstop, BMTK's last row
        ref = data[:-1, ids.index(node)]
        assert len(mine) == len(ref)
        rms = np.sqrt(np.mean((mine - ref) ** 2))
        assert rms < 0.01, (node, rms)  # issue 12 asks 0.5 mV; measured 1.8e-6 mV
