"""Traces with their own sampling interval, time window, cells and segments (RunConfig
TraceRequest ``step``/``start``/``end``/``cells``/``all_segments``, a synMech's variable, a
mechanism variable) hold the values NEURON's ``Vector.record(ref, step)`` gives for the same
network written by hand (tests/simulation/plain_neuron_net.py), on 1 rank, on 2 ranks
launched by ``simulate`` and on 2 ranks under ``mpiexec -n 2 python -m pytest -m mpi``. The
traces at other intervals are stored in the run's ``trace_groups`` (docs/store.md §6)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import nethub
from nethub.results import trace_group_name
from nethub.runconfig import CellSelection, RunConfig, TraceRequest
from nethub.store import list_runs
from nethub.validate import validate_store

from .conftest import serial_env
from .test_plain_neuron import spec

HERE = Path(__file__).parent
#: merged synapses on the other cells change the sums' round-off only
ATOL = 1e-9


def _config() -> RunConfig:
    two, one = CellSelection(gids=(1, 2)), CellSelection(gids=(2,))
    return RunConfig(duration=300.0, dt=0.025, temperature=6.3, v_init=-65.0, traces=(
        TraceRequest("V", "v", sec="soma", loc=0.5, cells=two),
        TraceRequest("Vd", "_ref_v", sec="dend", all_segments=True, step=0.5, cells=one),
        TraceRequest("g", "g", sec="dend", loc=0.5, syn_mech="exc", step=0.5, start=50.0,
                     end=200.0, cells=one),
        TraceRequest("m", "m", sec="soma", mech="hh", step=0.25, cells=one)))


def _reference() -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "plain_neuron_net.py"), "traces"],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _store(path: Path) -> Path:
    net_params, cfg = spec()
    nethub.save(nethub.build(net_params, cfg), path)
    return path


def _check(res, ref: dict) -> None:
    t01, t025, t05 = (np.array(ref["time"][k]) for k in ("0.1", "0.25", "0.5"))
    assert len(t01) > 2990 and len(t025) > 1190 and len(t05) > 590  # as NEURON samples
    tr = ref["traces"]
    np.testing.assert_array_equal(res.traces.time, t01)
    np.testing.assert_array_equal(res.traces.index["gid"], [1, 2])
    np.testing.assert_allclose(res.traces.data, tr["V"], rtol=0, atol=ATOL)
    assert sorted(res.trace_groups) == sorted(
        trace_group_name(*k) for k in ((0.5, None, None), (0.5, 50.0, 200.0), (0.25, None, None)))
    vd = res.trace_groups["dt_0.5"]
    np.testing.assert_array_equal(vd.time, t05)
    np.testing.assert_array_equal(vd.index["loc"], [0.1, 0.3, 0.5, 0.7, 0.9])
    assert set(vd.index["sec"].values()) == {"dend"}
    np.testing.assert_allclose(vd.data, tr["Vd"], rtol=0, atol=ATOL)
    g = res.trace_groups[trace_group_name(0.5, 50.0, 200.0)]
    window = (t05 >= 50.0) & (t05 <= 200.0)
    np.testing.assert_array_equal(g.time, t05[window])
    assert g.index["var"].values().tolist() == ["exc.g"] and np.max(g.data) > 0
    np.testing.assert_allclose(g.data, np.array(tr["g"])[:, window], rtol=0, atol=ATOL)
    m = res.trace_groups["dt_0.25"]
    np.testing.assert_array_equal(m.time, t025)
    np.testing.assert_allclose(m.data, tr["m"], rtol=0, atol=ATOL)


@pytest.mark.neuron
def test_intervals_on_one_and_two_ranks(tmp_path):
    ref = _reference()
    store = _store(tmp_path / "plain.h5")
    one = nethub.simulate(store, _config(), output=tmp_path / "one.h5")
    _check(one, ref)
    assert one.equals(nethub.load_results(tmp_path / "one.h5"))
    assert validate_store(tmp_path / "one.h5") == []
    assert list_runs(tmp_path / "one.h5")[0]["n_traces"] == 2 + 5 + 1 + 1
    with h5py.File(tmp_path / "one.h5", "r+") as f:  # a group is checked as traces/ is
        del f[f"results/{one.name}/trace_groups/dt_0.5/time"]
    found = validate_store(tmp_path / "one.h5")
    assert [x.path for x in found] == [f"/results/{one.name}/trace_groups/dt_0.5/time"]
    two = nethub.simulate(store, _config(), nprocs=2, output=tmp_path / "two.h5")
    assert two.nranks == 2 and two.run_config["nranks"] == 2
    _check(two, ref)


@pytest.mark.mpi
def test_intervals_under_mpiexec(tmp_path_factory):
    from nethub.sim import _neuron, run_store

    h, pc = _neuron()
    nhost, rank = int(pc.nhost()), int(pc.id())
    if nhost < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    path = str(_store(tmp_path_factory.mktemp("iv") / "plain.h5")) if rank == 0 else None
    path = pc.py_broadcast(path, 0)
    res = run_store(path, _config())
    if rank != 0:
        assert res is None
        return
    assert res.nranks == nhost
    _check(res, _reference())


@pytest.mark.neuron
def test_intervals_on_coreneuron(tmp_path):
    """CoreNEURON records every step; each group is thinned to NEURON's samples."""
    config = dataclasses.replace(_config(), engine="coreneuron")
    res = nethub.simulate(_store(tmp_path / "plain.h5"), config, output=tmp_path / "core.h5")
    assert res.meta["engine"] == "coreneuron"
    _check(res, _reference())
