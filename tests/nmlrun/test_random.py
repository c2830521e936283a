"""NeuroML2 random spike sources on NEURON 9 (fixtures/neuroml/ours/Random.net.nml):
spikeGeneratorPoisson, spikeGeneratorRefPoisson and PyNN SpikeSourcePoisson populations,
poissonFiringSynapse and transientPoissonFiringSynapse inputs. jNeuroML's NMODL for them does
not compile on NEURON 9; nethub's RANDOM rewrites do, and the simulator seeds each instance
from (LEMS seed, gid, index) (nethub.sim.randomids), so spikes do not change with the number of
ranks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import nethub
from nethub.formats.neuroml.plugin import NeuroMLFormat

from .conftest import FIXTURES, nethub_run, serial_env

LEMS = FIXTURES / "ours" / "LEMS_Random.xml"
#: gids: poisPop 0-2, refPop 3-4, pynnPop 5-6, rnd 7-9, rgPop 10-11
SOURCES = {"poisPop": (0, 1, 2), "refPop": (3, 4), "pynnPop": (5, 6)}


@pytest.fixture(scope="module")
def serial(ours_copy):
    store = ours_copy / "random.h5"
    nethub_run(ours_copy / LEMS.name, store)
    return store, nethub.load_results(store), (ours_copy / "results" / "random.spikes")


def test_import_and_rewrite():
    net, run, lost = NeuroMLFormat().read_run(LEMS)
    assert lost == []
    for name in ("poisGen", "refPoisGen", "pynnPois", "pfs", "tpfs", "rg"):
        text = net.mod_files[f"{name}.mod"]
        assert "RANDOM rng" in text and "VERBATIM" not in text, name
        assert "setRandomIds" in text
    assert list(net.stim_targets["source"].values()) == ["pfs"] * 3 + ["tpfs"] * 2
    assert net.run_config.seeds == {"lems": 4321}


def test_sources_fire_at_their_rates(serial):
    _store, res, _ = serial
    gids, t = res.spike_gids, res.spike_times
    for g in SOURCES["poisPop"] + SOURCES["refPop"]:  # 60 Hz for 200 ms: ~12 spikes
        assert 3 <= np.sum(gids == g) <= 30, g
    for g in SOURCES["pynnPop"]:  # 50 Hz from 10 to 160 ms
        tt = t[gids == g]
        assert 2 <= len(tt) <= 25 and tt.min() >= 10 and tt.max() <= 160, g
    ref_isi = np.diff(np.sort(t[gids == 3]))
    assert ref_isi.min() >= 5  # spikeGeneratorRefPoisson: minimumISI 5 ms
    for g in (7, 8, 9):  # each target has Poisson firing synapses on top
        assert np.sum(gids == g) >= 5, g
    for g in (10, 11):  # spikeGeneratorRandom: ISIs uniform in [10, 40] ms
        isi = np.diff(np.sort(t[gids == g]))
        assert len(isi) >= 3 and isi.min() >= 10 - 1e-9 and isi.max() <= 40 + 1e-9, g
    streams = [tuple(np.round(t[gids == g], 6)) for g in range(12)]
    assert len(set(streams)) == 12  # no two instances share a stream


def test_events_file(serial):
    _store, res, path = serial
    lines = path.read_text().splitlines()
    ids = {int(ln.split("\t")[0]) for ln in lines}
    assert ids == {0, 1, 2, 10, 11, 12, 13}
    first = lines[0].split("\t")
    assert float(first[1]) * 1000 == pytest.approx(
        np.min(res.spike_times[np.isin(res.spike_gids, [7, 8, 9, 0, 3, 5])]))


def test_two_ranks_same_spikes(serial, tmp_path):
    store, ref, _ = serial
    res = nethub.simulate(store, nprocs=2, output=tmp_path / "np2.h5")
    assert res.nranks == 2 and len(ref.spike_times) > 50
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    np.testing.assert_array_equal(res.spike_gids, ref.spike_gids)


def test_seed_changes_the_draws(serial, tmp_path):
    """A run with another seed (simConfig override; in a child process, as every run here:
    NEURON keeps the mechanisms a process loaded) draws other spikes."""
    store, ref, _ = serial
    cfg = tmp_path / "seed.json"
    cfg.write_text('{"seeds": {"lems": 99}}')
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", str(store), "--cfg", str(cfg),
                           "-o", str(tmp_path / "s99.h5")], env=serial_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = nethub.load_results(tmp_path / "s99.h5")
    assert res.seeds.get("lems", res.run_config.get("seeds", {}).get("lems")) == 99
    assert not (len(res.spike_times) == len(ref.spike_times)
                and np.array_equal(res.spike_times, ref.spike_times))


@pytest.mark.mpi
def test_ranks_equal_serial_under_mpiexec(tmp_path_factory):
    """Under ``mpiexec -n 2 python -m pytest -m mpi tests/nmlrun/test_random.py``."""
    from nethub.runner import store_run_config
    from nethub.sim import _neuron, run_store

    h, pc = _neuron()
    if int(pc.nhost()) < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    path = None
    if int(pc.id()) == 0:
        path = str(tmp_path_factory.mktemp("mpi") / "random.h5")
        nethub.convert(LEMS, path)
    path = pc.py_broadcast(path, 0)
    res = run_store(path, store_run_config(path))
    if int(pc.id()) != 0:
        assert res is None
        return
    serial = path.replace(".h5", ".serial.h5")
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", path, "-o", serial],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = nethub.load_results(serial)
    assert res.nranks == 2 and ref.nranks == 1 and len(ref.spike_times) > 50
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    np.testing.assert_array_equal(res.spike_gids, ref.spike_gids)
