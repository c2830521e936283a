"""Runs never lose results: concurrent appends, read-only stores, a spec beside a store.

Real ``nethub run`` processes on the example model (50 cells, short runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from nethub.storelock import lock_path, store_lock

from .conftest import serial_env

NETHUB = [sys.executable, "-m", "nethub"]


@pytest.fixture
def store(example_store, tmp_path) -> Path:
    path = tmp_path / "model.h5"
    shutil.copyfile(example_store, path)
    return path


@pytest.fixture
def short_cfg(tmp_path) -> Path:
    cfg = tmp_path / "short.json"
    cfg.write_text(json.dumps({"duration": 100.0}))
    return cfg


def _runs(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted(f["results"])


def _start(store: Path, cfg: Path, tmp_path: Path, i: int, env: dict) -> tuple:
    err = open(tmp_path / f"err{i}.txt", "w+")  # noqa: SIM115 - closed by the test
    proc = subprocess.Popen([*NETHUB, "run", str(store), "--cfg", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=err, text=True)
    return proc, err


@pytest.mark.neuron
@pytest.mark.parametrize("hdf5_locking", ["TRUE", "FALSE"])
def test_concurrent_runs_wait_for_each_other_and_both_are_stored(store, short_cfg, tmp_path,
                                                                  hdf5_locking):
    env = {**serial_env(), "HDF5_USE_FILE_LOCKING": hdf5_locking}
    lock_path(store).touch()
    with store_lock(store, exclusive=False):  # readers pass, writers wait: both simulate first
        procs = [_start(store, short_cfg, tmp_path, i, env) for i in range(2)]
        deadline = time.monotonic() + 90
        while not all("waiting for it" in Path(e.name).read_text() for _, e in procs):
            assert all(p.poll() is None for p, _ in procs), [Path(e.name).read_text()
                                                            for _, e in procs]
            assert time.monotonic() < deadline
            time.sleep(0.1)
    for p, e in procs:
        assert p.wait(timeout=60) == 0, Path(e.name).read_text()
        e.close()
    assert _runs(store) == ["run_0000", "run_0001"]
    import nethub

    a, b = (nethub.load_results(store, name) for name in ("run_0000", "run_0001"))
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    assert len(a.spike_times) > 0


@pytest.mark.neuron
def test_concurrent_runs_started_together_are_both_stored(store, short_cfg, tmp_path):
    procs = [_start(store, short_cfg, tmp_path, i, serial_env()) for i in range(2)]
    for p, e in procs:
        assert p.wait(timeout=90) == 0, Path(e.name).read_text()
        e.close()
    assert _runs(store) == ["run_0000", "run_0001"]


def _read_only(path: Path, on: bool) -> None:
    """chmod for an ordinary user; root writes any file, unless it is immutable (chattr)."""
    root = os.geteuid() == 0
    if root and not on:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    os.chmod(path, (0o555 if on else 0o755) if path.is_dir() else (0o444 if on else 0o644))
    if root and on:
        subprocess.run(["chattr", "+i", str(path)], check=True)


@pytest.mark.neuron
def test_read_only_store_refused_before_simulating(store):
    _read_only(store, True)
    try:
        t = time.monotonic()
        proc = subprocess.run([*NETHUB, "-v", "run", str(store)], env=serial_env(),
                              capture_output=True, text=True, timeout=120, check=False)
        took = time.monotonic() - t
    finally:
        _read_only(store, False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        f"nethub: error: {store}: the store is read-only (no permission to write it): a "
        f"run's results could not be stored; make it writable (chmod u+w {store}) or write "
        f"a copy with -o NEW.h5")
    assert "simulating" not in proc.stderr and took < 30
    assert _runs(store) == []


@pytest.mark.neuron
def test_read_only_folder_refused_before_building(store, tmp_path):
    from nethub.examples import example_path

    folder = tmp_path / "ro"
    folder.mkdir()
    spec = folder / "model.py"
    shutil.copyfile(example_path(), spec)
    _read_only(folder, True)
    try:
        proc = subprocess.run([*NETHUB, "run", str(spec)], env=serial_env(),
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        _read_only(folder, False)
    assert proc.returncode == 1
    assert proc.stderr == (f"nethub: error: {folder}: the folder is read-only (no permission "
                           f"to write there): cannot write model.h5; choose another -o path\n")


@pytest.mark.neuron
def test_run_spec_never_replaces_an_existing_store(store, short_cfg, tmp_path):
    from nethub.examples import example_path

    spec = tmp_path / "model.py"
    shutil.copyfile(example_path(), spec)
    before = store.read_bytes()
    proc = subprocess.run([*NETHUB, "run", str(spec)], env=serial_env(), capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"nethub: error: {store} already exists; running {spec} would replace that store and "
        f"its runs. Run the store itself to add a run to it (nethub run {store}), write "
        f"elsewhere with -o NEW.h5, or replace it with --overwrite\n")
    assert store.read_bytes() == before
    proc = subprocess.run([*NETHUB, "run", str(spec), "--overwrite", "--cfg", str(short_cfg)],
                          env=serial_env(), capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert _runs(store) == ["run_0000"]


def test_results_never_replace_another_store(store, tmp_path):
    import nethub
    from nethub.errors import SimulationError
    from nethub.runner import simulate

    other = tmp_path / "other.h5"
    shutil.copyfile(store, other)
    before = other.read_bytes()
    with pytest.raises(SimulationError, match=f"^{other} already exists; running {store} with "
                                              f"-o {other} would replace that store and its "
                                              f"runs. Add the run to {store} itself"):
        simulate(store, output=other)
    with pytest.raises(SimulationError, match="running the network would replace"):
        simulate(nethub.load(store), output=other)
    assert other.read_bytes() == before
