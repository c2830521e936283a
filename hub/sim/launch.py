"""Run a simulation job (``mpiexec -n N python -m nethub run ...``) as a child process group.

- The ranks' output is copied line by line, as it comes, to ``output`` (default: stderr). The
  ranks' own ``nethub: error: ...`` lines are held back and become the
  :class:`~nethub.errors.SimulationError` raised here (one message, not N copies).
- ``timeout`` (seconds) ends the job and raises a SimulationError saying so.
- SIGINT, SIGTERM or SIGHUP to this process (or any exception while waiting) ends mpiexec and
  every rank before this function returns: the job is tagged with an environment variable
  (:data:`JOB_ENV`) that MPI passes to every rank, so that ranks are found even though MPICH's
  Hydra starts them in sessions of their own. The ranks also stop by themselves when this
  process disappears (see :func:`watch_launcher`), so no run is appended afterwards.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from ..errors import SimulationError

__all__ = ["run_job", "watch_launcher", "JOB_ENV", "LAUNCHER_ENV", "ERROR_FILE_ENV"]

logger = logging.getLogger(__name__)

#: tags every process of a job (value: a unique token)
JOB_ENV = "NETHUB_JOB"
#: pid of the launching process, for the ranks' watchdog
LAUNCHER_ENV = "NETHUB_LAUNCHER_PID"
#: file where a rank that aborts the job also leaves its message (MPICH may drop the output a
#: rank wrote just before MPI_Abort when the machine is busy)
ERROR_FILE_ENV = "NETHUB_ERROR_FILE"
_ERROR_PREFIX = "nethub: error: "
#: what a rank that aborts the job logs (nethub.sim.agree)
_RANK_FAILED = re.compile(r"^(?:nethub: ERROR: )?(rank \d+ failed in \w+: .*?)"
                          r"(?: \(the other ranks are blocked in a collective.*)?$")
_QUIET = re.compile(r"^(numprocs=\d+|Abort\(-?\d+\) on node \d+ .*)$")
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class _Stopped(BaseException):
    """A signal asked this process to stop while it waited for the job."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def run_job(cmd: Sequence[str], env: dict[str, str], timeout: float | None = None,
            output: IO[str] | None = None) -> None:
    """Run ``cmd`` to its end, streaming its output; raise if it fails, times out or is stopped.

    Raises
    ------
    SimulationError
        The job exited non-zero (with the ranks' error message), ran longer than ``timeout``,
        or this process received SIGTERM/SIGHUP.
    KeyboardInterrupt
        SIGINT (Ctrl-C); the job is ended first.
    """
    token = uuid.uuid4().hex
    fd, error_file = tempfile.mkstemp(prefix="nethub-job-", suffix=".err")
    os.close(fd)
    env = {**env, JOB_ENV: token, LAUNCHER_ENV: str(os.getpid()), ERROR_FILE_ENV: error_file}
    try:
        _run(cmd, env, token, timeout, output, error_file)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(error_file)


def _run(cmd: Sequence[str], env: dict[str, str], token: str, timeout: float | None,
         output: IO[str] | None, error_file: str) -> None:
    errors: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=30)
    stopping = threading.Event()  # set when this process ends the job: its noise is not shown
    proc = subprocess.Popen(list(cmd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            start_new_session=True, preexec_fn=functools.partial(
                                _die_with_parent, signal.SIGTERM, _prctl()))
    reader = threading.Thread(target=_copy_lines, daemon=True,
                              args=(proc.stdout, output or sys.stderr, errors, tail, stopping))
    reader.start()
    try:
        with _signals_raise():
            rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stopping.set()
        _end(proc, token)
        raise SimulationError(f"the simulation ran longer than the timeout of {timeout:g} s "
                              f"and was stopped (mpiexec and every rank ended)") from None
    except _Stopped as stop:
        stopping.set()
        _end(proc, token)
        if stop.signum == signal.SIGINT:
            raise KeyboardInterrupt from None
        raise SimulationError(f"stopped by {signal.Signals(stop.signum).name}: mpiexec and "
                              f"every rank ended") from None
    except BaseException:
        _end(proc, token)
        raise
    finally:
        reader.join(timeout=5)
        if not reader.is_alive():
            proc.stdout.close()
    if rc != 0:
        _end(proc, token)  # leftovers of a failed job, if any
        raise SimulationError(_failure(cmd, rc, errors or _left_words(error_file), tail))


def _left_words(error_file: str) -> list[str]:
    """The messages that aborting ranks wrote to the job's error file (nethub.sim.agree)."""
    try:
        text = Path(error_file).read_text(errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        m = _RANK_FAILED.match(line)
        if m:
            out.append(m.group(1))
    return out


def _prctl():
    """libc's ``prctl`` (Linux), or None."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(sig: int = signal.SIGTERM, prctl=None) -> None:
    """Linux: this process gets ``sig`` when its parent ends (even by SIGKILL)."""
    prctl = prctl or _prctl()
    if prctl is not None:
        prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG


def _copy_lines(stream, output: IO[str], errors: list[str], tail,
                stopping: threading.Event) -> None:
    for line in stream:
        text = line.rstrip("\n")
        rank_failed = _RANK_FAILED.match(text)
        if text.startswith(_ERROR_PREFIX) or rank_failed:
            errors.append(rank_failed.group(1) if rank_failed else text[len(_ERROR_PREFIX):])
            continue
        tail.append(text)
        if stopping.is_set() or _QUIET.match(text):  # NEURON's banner; MPICH's echo of an
            # abort nethub explains; what MPICH says when this process ends the job
            continue
        with contextlib.suppress(OSError, ValueError):
            output.write(line)
            output.flush()


def _failure(cmd: Sequence[str], rc: int, errors: list[str], tail) -> str:
    if errors:
        return errors[0]
    quiet = [ln for ln in tail if _QUIET.match(ln) and not ln.startswith("numprocs")]
    return (f"the simulation job failed (exit code {rc}) without a nethub error; its output "
            f"is above{': ' + quiet[-1] if quiet else ''} ({' '.join(cmd[:3])} ...)")


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While waiting: SIGINT/SIGTERM/SIGHUP raise :class:`_Stopped` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise _Stopped(signum)

    old = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _end(proc: subprocess.Popen, token: str, grace: float = 3.0) -> None:
    """End mpiexec (it ends its ranks), then any process of the job still there."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    deadline = time.monotonic() + grace
    sig = signal.SIGTERM
    while True:
        left = _job_pids(token)
        if not left:
            break
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        for pid in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        time.sleep(0.05)
        if sig == signal.SIGKILL and time.monotonic() > deadline + grace:
            logger.warning("processes %s of the MPI job did not end", sorted(left))
            break
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


def _job_pids(token: str) -> list[int]:
    """Processes (of this user) whose environment carries the job's token."""
    tag = f"{JOB_ENV}={token}".encode()
    pids = []
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return pids
    me = os.getpid()
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            env = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if tag in env.split(b"\0") and state != "Z":
            pids.append(int(entry.name))
    return pids


def watch_launcher(interval: float = 1.0) -> None:
    """In a rank of a launched job: end this process when the launcher is gone (e.g. killed
    with SIGKILL, which it cannot pass on), so that no orphaned rank runs or writes on.

    mpiexec gets SIGTERM when the launcher ends; the rank gets SIGKILL when its parent ends;
    a thread also checks that the launcher is alive (between NEURON calls)."""
    pid = os.environ.get(LAUNCHER_ENV, "")
    if not pid.isdigit() or os.environ.get("_NETHUB_WATCHING") == pid:
        return
    os.environ["_NETHUB_WATCHING"] = pid
    # MPICH's proxy (this rank's parent) ends when mpiexec does, which ends when the launcher
    # does (it gets SIGTERM then); a rank blocked in NEURON (holding the GIL) ends with it
    _die_with_parent(signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                logger.error("the launching process %s is gone: ending this rank", pid)
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="nethub-launcher-watch").start()
