"""Store upkeep without NEURON: the lock file, temporary files of interrupted writes, dead space
and ``nethub compact``."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from nethub import cli
from nethub.celltypes import PointCell, Population
from nethub.errors import StoreAccessError
from nethub.network import Network
from nethub.results import Results, Traces, empty_traces
from nethub.store import append_run, list_runs, read_results, write_network
from nethub.storelock import (
    check_writable,
    lock_path,
    stale_temps,
    store_lock,
    temp_prefix,
)
from nethub.storemaint import compact, space_report
from nethub.validate import validate_store


def small_network(n: int = 20) -> Network:
    return Network(
        cell_types={"A": PointCell("A", model="IntFire1", params={"tau": 10.0})},
        populations={"P": Population("P", "A", n)},
        cells={"gid": np.arange(n), "pop": ["P"] * n, "cell_type": ["A"] * n},
    )


def a_run(n_traces: int = 0, n_t: int = 0) -> Results:
    traces = empty_traces()
    if n_traces:
        from nethub.results import trace_index

        traces = Traces(trace_index(["V"] * n_traces, np.arange(n_traces), ["soma"] * n_traces,
                                    [0.5] * n_traces, ["v"] * n_traces),
                        np.arange(n_t, dtype=float), np.random.default_rng(0).random(
                            (n_traces, n_t)))
    return Results(spike_times=np.array([1.0, 2.0]), spike_gids=np.array([0, 1]),
                   traces=traces, sim_config={"duration": 10.0})


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "model.h5"
    write_network(small_network(), path, content_hash=True)
    append_run(path, a_run(), name="kept")
    return path


def test_append_waits_for_the_lock_and_keeps_both(store, caplog):
    # another process holds the lock (a thread of this one would share it: re-entrant)
    code = ("import sys, time; from nethub.storelock import store_lock\n"
            f"with store_lock({str(store)!r}):\n"
            "    print('held', flush=True); time.sleep(1.0)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    t = time.monotonic()
    append_run(store, a_run(), name="second")
    assert time.monotonic() - t > 0.5  # waited for the other process
    assert proc.wait() == 0
    assert "another process is using the store; waiting for it" in caplog.text
    assert [r["name"] for r in list_runs(store)] == ["kept", "second"]


def test_lock_file_is_beside_the_store_and_flock_held(store):
    with store_lock(store, exclusive=True):
        fd = os.open(lock_path(store), os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    assert lock_path(store).name == "model.h5.lock"


def test_check_writable_names_the_problem(store, tmp_path):
    check_writable(store, store)
    check_writable(tmp_path / "new.h5")
    with pytest.raises(StoreAccessError, match="no such folder"):
        check_writable(tmp_path / "missing" / "new.h5")
    with pytest.raises(StoreAccessError, match="not a file"):
        check_writable(tmp_path)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temp_files_reported_then_cleaned(store, capsys):
    folder = store.parent
    dead = folder / f".model.h5.{_dead_pid()}@{temp_prefix(store).split('@')[1]}abc.nhtmp"
    live = folder / f"{temp_prefix(store)}def.nhtmp"  # this process: still writing
    unknown = folder / ".model.h5.k2j3h4.nhtmp"  # an older nethub's name
    remote = folder / ".model.h5.123@elsewhere.xyz.nhtmp"
    for p in (dead, live, unknown, remote):
        p.write_bytes(b"partial")
    names = {p.name for p, _ in stale_temps(store)}
    assert names == {dead.name, unknown.name, remote.name}
    findings = [f for f in validate_store(store) if "temporary file" in f.message]
    assert len(findings) == 3 and all(f.level == "warning" for f in findings)
    assert any("is gone" in f.message for f in findings)
    assert any("host elsewhere" in f.message for f in findings)
    write_network(small_network(), store)  # the next write beside it removes the dead one
    assert not dead.exists() and live.exists() and unknown.exists() and remote.exists()


def test_dead_space_reported_and_compacted(store, capsys):
    big = a_run(n_traces=20, n_t=40_000)  # 6.4 MB of traces
    append_run(store, big, name="big")
    append_run(store, a_run(), name="later")
    with h5py.File(store, "r+") as f:
        del f["results/big"]
        f["results"].create_group(".partial_run_0009").create_dataset("x", data=np.ones(10))
        before_attrs = dict(f.attrs)
        net_hash = f["network"].attrs["content_hash"]
    findings = validate_store(store)
    messages = [(f.path, f.message) for f in findings]
    assert all(f.level == "warning" for f in findings), messages
    assert any(p == "/" and "dead space" in m and "nethub compact" in m for p, m in messages)
    assert any(p == "/results/.partial_run_0009" for p, _ in messages)
    size = store.stat().st_size
    kept = read_results(store, "later")

    code = cli.main(["compact", str(store)])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith(f"compacted {store}: ")
    assert store.stat().st_size < size - 6_000_000
    assert validate_store(store) == []
    with h5py.File(store, "r") as f:
        assert dict(f.attrs) == before_attrs
        assert f["network"].attrs["content_hash"] == net_hash
        assert sorted(f["results"]) == ["kept", "later"]
        assert space_report(f, store.stat().st_size)["partial_runs"] == []
    assert read_results(store, "later").equals(kept)
    assert [r["name"] for r in list_runs(store)] == ["kept", "later"]


def test_compact_to_another_file(store, tmp_path):
    out = tmp_path / "small.h5"
    sizes = compact(store, out)
    assert sizes["after"] == out.stat().st_size
    assert read_results(out, "kept").equals(read_results(store, "kept"))


def _read_only(path, on: bool) -> None:
    """chmod for an ordinary user; root writes anywhere, unless the folder is immutable."""
    root = os.geteuid() == 0
    if root and not on:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    os.chmod(path, 0o555 if on else 0o755)
    if root and on:
        subprocess.run(["chattr", "+i", str(path)], check=True)


def test_lock_file_that_cannot_be_created_is_refused_early(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "model.h5"
    write_network(small_network(), path)
    _read_only(folder, True)
    try:
        with pytest.raises(StoreAccessError) as info:
            check_writable(path, path)
        append_error = None
        try:
            append_run(path, a_run())
        except StoreAccessError as exc:
            append_error = str(exc)
    finally:
        _read_only(folder, False)
    assert str(info.value) == (
        f"{lock_path(path)}: cannot create the store's lock file (permission denied): the "
        f"folder must be writable to add runs to the store; write elsewhere with -o NEW.h5")
    assert append_error == str(info.value)
    assert list_runs(path) == []  # still readable, unchanged


def test_sigterm_during_an_append_waits_for_it(store):
    # the traces arrive in blocks; after the first, the process sends itself SIGTERM
    code = f"""
import os, signal, sys
import numpy as np
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_store_upkeep import a_run
from nethub.store import append_run

run = a_run(n_traces=4, n_t=1000)
def blocks():
    yield run.traces.index.take(slice(0, 2)), run.traces.data[:2]
    os.kill(os.getpid(), signal.SIGTERM)
    yield run.traces.index.take(slice(2, 4)), run.traces.data[2:]
append_run({str(store)!r}, run, name="cut", trace_blocks=blocks())
print("not reached")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert "not reached" not in proc.stdout
    assert [r["name"] for r in list_runs(store)] == ["kept", "cut"]
    assert read_results(store, "cut").traces.data.shape == (4, 1000)
    assert validate_store(store) == []
