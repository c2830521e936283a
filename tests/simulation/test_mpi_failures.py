"""MPI runs fail together and promptly, never hang; the launcher ends its job when stopped.

- A store whose categorical codes are out of range only in the rows rank 1 reads (the issue's
  reproduction) ends both ranks with rank 1's message naming the file and the HDF5 path.
- A failure injected on one rank at the start of every phase (test hook ``NETHUB_TEST_FAIL``,
  a real hoc error in two of them) ends the job with that rank's message; nothing is stored.
- ``--timeout`` and SIGTERM/SIGKILL to the launcher end mpiexec and every rank; nothing is
  appended afterwards.
- ``test_ranks_raise_the_same_error`` (marker ``mpi``, run under ``mpiexec -n 2``): in process,
  every rank raises the same RankError; only rank 0's is not quiet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest

from .conftest import serial_env

NETHUB = [sys.executable, "-m", "nethub"]
#: long enough that a 2-rank run is still simulating when stopped (the model: 50 cells)
LONG = {"duration": 1_000_000.0}


def _env(**extra: str) -> dict[str, str]:
    env = serial_env()
    env.pop("NETHUB_TEST_FAIL", None)
    env["NETHUB_MPI_GRACE"] = "1"
    env.update(extra)
    return env


def _n_runs(path: Path) -> int:
    with h5py.File(path, "r") as f:
        return len(f["results"])


def _nethub(*args, env=None, timeout=90) -> tuple[int, str, float]:
    t = time.monotonic()
    proc = subprocess.run([*NETHUB, *map(str, args)], env=env or _env(), capture_output=True,
                          text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t


@pytest.fixture
def store(example_store, tmp_path) -> Path:
    path = tmp_path / "model.h5"
    shutil.copyfile(example_store, path)
    return path


def _error_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith("nethub: error:")]


@pytest.mark.neuron
def test_bad_codes_on_one_rank_fail_both(store):
    from nethub.sim.partition import local_gids

    rows = local_gids(store, 1, 2)  # gids are 0..n-1: rank 1's gids are its rows
    with h5py.File(store, "r+") as f:
        codes = f["network/cells/c1/codes"]  # the 'pop' column
        data = codes[()]
        data[rows] = 99
        codes[...] = data
    rc, out, _ = _nethub("run", store, "--np", 2)  # the pre-run validation refuses it
    assert rc == 1 and len(_error_lines(out)) == 1, out
    assert "codes outside" in _error_lines(out)[0]
    # --unchecked: the read itself fails, on rank 1 only
    rc, out, took = _nethub("run", store, "--np", 2, "--unchecked")
    assert rc == 1, out
    lines = _error_lines(out)
    assert len(lines) == 1, out
    assert "rank 1 failed in read" in lines[0] and str(store) in lines[0]
    assert "/network/cells" in lines[0] and "out of range" in lines[0]
    assert "Traceback" not in out
    assert took < 60
    assert _n_runs(store) == 0


@pytest.mark.neuron
@pytest.mark.parametrize("fail", ["mechanisms:1", "cells:1:hoc", "connections:1", "setup:1",
                                  "run:1:hoc", "run:0", "gather:1"])
def test_failure_on_one_rank_in_each_phase(store, fail):
    phase, rank = fail.split(":")[:2]
    rc, out, took = _nethub("run", store, "--np", 2, env=_env(NETHUB_TEST_FAIL=fail))
    assert rc == 1, out
    lines = _error_lines(out)
    assert len(lines) == 1, out
    assert lines[0].startswith(f"nethub: error: rank {rank} failed in {phase}: ")
    if fail.endswith("hoc"):
        assert "hoc error: injected hoc failure" in lines[0]
        assert "NEURON: injected hoc failure" in out  # NEURON's own message, streamed
    else:
        assert "injected failure" in lines[0]
    assert "Traceback" not in out and took < 60
    assert _n_runs(store) == 0


def _job_processes(launcher_pid: int) -> list[int]:
    tag = f"NETHUB_LAUNCHER_PID={launcher_pid}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                env = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if tag in env:
                pids.append(int(entry.name))
    return pids


def _start_long_run(store: Path, tmp_path: Path, *extra: str) -> subprocess.Popen:
    cfg = tmp_path / "long.json"
    cfg.write_text(json.dumps(LONG))
    proc = subprocess.Popen([*NETHUB, "run", str(store), "--np", "2", "--cfg", str(cfg), *extra],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while len(_job_processes(proc.pid)) < 3:  # mpiexec, its proxy, the ranks
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(2)  # into the simulation
    return proc


@pytest.mark.neuron
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_launcher_ends_every_rank(store, tmp_path, sig):
    proc = _start_long_run(store, tmp_path)
    assert _job_processes(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _job_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _job_processes(proc.pid) == []
    if sig == signal.SIGTERM:
        assert proc.returncode == 1
        assert _error_lines(err) == ["nethub: error: stopped by SIGTERM: mpiexec and every "
                                     "rank ended"]
    time.sleep(1.5)
    assert _n_runs(store) == 0


@pytest.mark.neuron
def test_timeout_ends_the_job(store, tmp_path):
    t = time.monotonic()
    proc = _start_long_run(store, tmp_path, "--timeout", "6")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "ran longer than the timeout of 6 s" in err and "Traceback" not in err
    assert time.monotonic() - t < 30
    assert _job_processes(proc.pid) == []
    assert _n_runs(store) == 0


@pytest.mark.neuron
def test_timeout_in_the_api_with_one_rank(store):
    from nethub.errors import SimulationError
    from nethub.runner import simulate

    with pytest.raises(SimulationError, match="timeout of 2 s"):
        simulate(store, LONG, timeout=2)
    assert _n_runs(store) == 0
    res = simulate(store, {"duration": 50.0}, timeout=120)  # a run within its time
    assert res.duration == 50.0 and _n_runs(store) == 1


@pytest.mark.mpi
def test_ranks_raise_the_same_error(tmp_path_factory):
    from nethub.runner import store_run_config
    from nethub.sim import _neuron, run_store
    from nethub.sim.agree import RankError

    h, pc = _neuron()
    rank = int(pc.id())
    if int(pc.nhost()) < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    path = None
    if rank == 0:
        import nethub
        from nethub.examples import example_path

        path = str(tmp_path_factory.mktemp("mpifail") / "model.h5")
        nethub.save(nethub.build(*nethub.load_spec(example_path())), path)
    path = pc.py_broadcast(path, 0)
    os.environ["NETHUB_TEST_FAIL"] = "cells:1"
    try:
        with pytest.raises(RankError) as info:
            run_store(path, store_run_config(path, {"duration": 10.0}))
    finally:
        del os.environ["NETHUB_TEST_FAIL"]
    err = info.value
    assert (err.rank, err.phase, err.quiet) == (1, "cells", rank != 0)
    assert str(err).startswith("rank 1 failed in cells: injected failure")
    messages = pc.py_allgather(str(err))
    assert messages[0] == messages[1]
    # the next run in the same processes works
    res = run_store(path, store_run_config(path, {"duration": 10.0}))
    assert (res is None) == (rank != 0)


@pytest.mark.neuron
def test_error_outside_the_phases_on_one_rank_ends_the_job(tmp_path):
    code = ("from nethub.sim import _neuron\n"
            "from nethub.sim.agree import abort_alone\n"
            "h, pc = _neuron()\n"
            "if int(pc.id()) == 1:\n"
            "    try:\n"
            "        raise ValueError('only on rank 1')\n"
            "    except ValueError as exc:\n"
            "        abort_alone(exc)\n"
            "pc.barrier()  # rank 0 would wait here forever\n")
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    t = time.monotonic()
    errors = tmp_path / "errors.txt"  # the launcher's channel (nethub.sim.launch)
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, "-c", code],
                          env={**_env(), "NETHUB_ERROR_FILE": str(errors)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    # the error file always has it; mpiexec's forwarding of the aborted rank's stderr can lose
    # its last bytes on a loaded machine (seen once in CI), so stderr is not required
    assert "rank 1 failed in preparation: only on rank 1" in errors.read_text()
    assert time.monotonic() - t < 30
