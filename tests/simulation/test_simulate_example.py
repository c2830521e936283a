"""End-to-end: the bundled example built from specs, simulated in NEURON, on 1 and 2 ranks,
against NetPyNE 1.1 simulating the very same spec file. nethub runs with its defaults, synapse
merging on (393 connections onto 90 synapse objects): the spikes stay NetPyNE's within 1e-9 ms."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import nethub
from nethub.examples import example_path
from nethub.runner import simulate
from nethub.validate import validate_store

from .conftest import netpyne_spikes, serial_env

pytestmark = pytest.mark.neuron


@pytest.fixture(scope="module")
def serial_run(example_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "run.h5"
    return simulate(example_store, output=out), out


def test_spikes_identical_to_netpyne(serial_run):
    res, _ = serial_run
    t, g = netpyne_spikes(example_path())
    assert len(res.spike_times) == len(t) > 50
    np.testing.assert_array_equal(res.spike_gids, g)
    assert np.max(np.abs(res.spike_times - t)) <= 1e-9


def test_two_ranks_bit_identical(serial_run, example_store, tmp_path):
    res1, _ = serial_run
    res2 = simulate(example_store, nprocs=2, output=tmp_path / "mpi.h5")
    assert res2.nranks == 2
    np.testing.assert_array_equal(res1.spike_times, res2.spike_times)
    np.testing.assert_array_equal(res1.spike_gids, res2.spike_gids)
    assert res1.traces.index.equals(res2.traces.index)
    np.testing.assert_array_equal(res1.traces.data, res2.traces.data)


def test_results_in_store(serial_run):
    res, path = serial_run
    assert not [f for f in validate_store(path) if f.level == "error"]
    again = nethub.load_results(path)
    assert again.equals(res)
    assert res.duration == 500.0
    assert set(res.timing) >= {"read", "cells", "connections", "simulate", "gather"}
    assert res.versions["neuron"]
    assert len(res.traces) == 2 and res.traces.data.shape[1] == 5000
    df = res.spikes
    assert list(df.columns) == ["time", "gid"] and df["time"].is_monotonic_increasing


def test_cli_run_and_plots(example_store, tmp_path):
    store = tmp_path / "s.h5"
    shutil.copy(example_store, store)
    exe = [sys.executable, "-m", "nethub"]
    run = subprocess.run(exe + ["run", str(store)], capture_output=True, text=True,
                         env=serial_env(), check=False)
    assert run.returncode == 0, run.stderr
    assert "spikes" in run.stdout
    for kind in ("raster", "traces"):
        png = tmp_path / f"{kind}.png"
        p = subprocess.run(exe + ["plot", kind, str(store), "-o", str(png)], capture_output=True,
                           text=True, env=serial_env(), check=False)
        assert p.returncode == 0, p.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(nethub.store.list_runs(store)) == 1
