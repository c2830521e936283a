"""Run under ``mpiexec -n 2 python -m pytest -m mpi tests/simulation``: each rank reads its own
share of the store; rank 0 compares the spikes with a serial run of the same store."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from .conftest import serial_env

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_serial(tmp_path_factory):
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
    res = run_store(path)
    if rank != 0:
        assert res is None
        return
    serial = path.replace(".h5", ".serial.h5")
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", path, "-o", serial],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    ref = nethub.load_results(serial)
    assert res.nranks == 2 and ref.nranks == 1
    assert len(ref.spike_times) > 50
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    np.testing.assert_array_equal(res.spike_gids, ref.spike_gids)
    np.testing.assert_array_equal(res.traces.data, ref.traces.data)
