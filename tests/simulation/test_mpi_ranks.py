"""The same store on 1, 2 and 4 ranks gives bit-identical spikes and traces.

- ``test_ranks_equal_serial`` runs under ``mpiexec -n 2 python -m pytest -m mpi
  tests/simulation`` (any rank count >= 2 works): each rank reads its own share of the store;
  rank 0 compares with a serial run of the same store.
- ``test_one_two_four_ranks`` is a normal test that launches ``mpiexec -n 2`` and ``-n 4``
  itself (MPICH's Hydra runs 4 ranks on 2 cores without an oversubscription flag).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from .conftest import serial_env

#: short runs keep 4 ranks on 2 cores to a few seconds
DURATION = 200.0


def _assert_same(res, ref) -> None:
    assert len(ref.spike_times) > 50
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    np.testing.assert_array_equal(res.spike_gids, ref.spike_gids)
    assert res.traces.index.equals(ref.traces.index)
    np.testing.assert_array_equal(res.traces.data, ref.traces.data)


@pytest.mark.mpi
def test_ranks_equal_serial(tmp_path_factory):
    from nethub.runner import store_run_config
    from nethub.sim import _neuron, run_store

    h, pc = _neuron()
    nhost, rank = int(pc.nhost()), int(pc.id())
    if nhost < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    import nethub
    from nethub.examples import example_path

    # rank 0 builds the store; everybody uses the same path
    path = None
    if rank == 0:
        net_params, cfg = nethub.load_spec(example_path())
        path = str(tmp_path_factory.mktemp("mpi") / "example.h5")
        nethub.save(nethub.build(net_params, cfg), path)
    path = pc.py_broadcast(path, 0)
    res = run_store(path, store_run_config(path))
    if rank != 0:
        assert res is None
        return
    serial = path.replace(".h5", ".serial.h5")
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", path, "-o", serial],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    ref = nethub.load_results(serial)
    assert res.nranks == nhost and ref.nranks == 1
    _assert_same(res, ref)


@pytest.mark.neuron
def test_one_two_four_ranks(example_store, tmp_path):
    from nethub.runner import simulate

    cfg = {"duration": DURATION}
    ref = simulate(example_store, cfg, output=tmp_path / "np1.h5")
    assert ref.nranks == 1 and ref.duration == DURATION
    for n in (2, 4):
        res = simulate(example_store, cfg, nprocs=n, output=tmp_path / f"np{n}.h5")
        assert res.nranks == n
        _assert_same(res, ref)
