"""MPI ranks fail together: an error on one rank ends every rank with that rank's message.

A simulation under MPI is a sequence of collective phases (read, mechanisms, cells,
connections, setup, run, gather, write). Each phase runs inside :func:`phase`; at its end the
ranks agree (one small allreduce on a private communicator) whether any of them failed. If one
did, every rank raises the same :class:`RankError` naming the failing rank, the phase and its
message (which names the file and key path when the error did); only rank 0 reports it
(:attr:`RankError.quiet` is true on the others, and the command line prints nothing for them).

A rank that fails in the middle of a phase may leave the others blocked in a collective inside
that phase (NEURON's spike exchange in ``psolve``, a ``py_allgather`` in building). The failing
rank therefore waits at most :data:`GRACE_ENV` seconds (default 5) for the others to reach the
agreement; if they do not, it logs its message (``rank R failed in PHASE: ...``) and aborts the
MPI job, which ends every rank. Either way the job never hangs.

Test hook: the environment variable ``NETHUB_TEST_FAIL="PHASE:RANK"`` (or
``"PHASE:RANK:hoc"`` for a real hoc error) makes rank RANK fail at the start of PHASE. It
exists only so that tests can inject a failure on one rank; nothing else reads it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..errors import SimulationError

__all__ = ["phase", "RankError", "abort_alone", "PHASES", "GRACE_ENV", "TEST_FAIL_ENV"]

logger = logging.getLogger(__name__)

#: the phases of :func:`nethub.sim.run_store`, in order
PHASES = ("read", "mechanisms", "cells", "connections", "setup", "run", "gather", "write")
#: seconds a failed rank waits for the others before aborting the job
GRACE_ENV = "NETHUB_MPI_GRACE"
#: test hook only: "PHASE:RANK[:hoc]" injects a failure (see module docs)
TEST_FAIL_ENV = "NETHUB_TEST_FAIL"
_COMM: dict[str, Any] = {}


class RankError(SimulationError):
    """A rank failed in a phase of an MPI run; raised alike on every rank.

    Attributes
    ----------
    rank : int
        The (lowest) rank that failed.
    phase : str
    quiet : bool
        True on ranks other than 0: rank 0 reports the error, the others stay silent.
    """

    def __init__(self, message: str, rank: int, phase: str, quiet: bool) -> None:
        super().__init__(message)
        self.rank, self.phase, self.quiet = rank, phase, quiet


@contextlib.contextmanager
def phase(pc: Any, name: str) -> Iterator[None]:
    """Run the body on every rank, then agree across ranks whether any rank failed.

    Raises
    ------
    RankError
        On every rank, when the body raised on any rank (the original exception is the
        ``__cause__`` on the rank where it happened).
    """
    nhost = int(pc.nhost()) if pc is not None else 1
    rank = int(pc.id()) if pc is not None else 0
    if nhost == 1:
        _test_hook(name, rank, pc)
        yield
        return
    _comm()  # created (a collective) on entering the first phase, where all ranks are
    try:
        _test_hook(name, rank, pc)
        yield
    except Exception as exc:  # noqa: BLE001 - every error must reach the other ranks
        _fail_together(pc, name, rank, exc)
    else:
        _agree(pc, name, rank, None)


def describe(exc: BaseException) -> str:
    """One line for an exception: its message (hoc's prefixes removed), else its type."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in ("hocobj_call error: ", "hoc_execerror: "):
        text = text.replace(prefix, "")
    if isinstance(exc, RuntimeError) and not isinstance(exc, SimulationError):
        text = f"hoc error: {text}" if "hoc" in str(exc) else text
    if isinstance(exc, (MemoryError, RecursionError, OverflowError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def _fail_together(pc: Any, name: str, rank: int, exc: Exception) -> None:
    if isinstance(exc, RankError):  # already agreed (a nested phase)
        raise exc
    _agree(pc, name, rank, exc)
    raise AssertionError("unreachable")  # pragma: no cover - _agree raises


def _agree(pc: Any, name: str, rank: int, exc: Exception | None) -> None:
    message = f"rank {rank} failed in {name}: {describe(exc)}" if exc is not None else None
    comm = _comm()
    if comm is None:  # no mpi4py: NEURON's collectives (no grace: cannot be timed)
        failed = int(pc.allreduce(1.0 if exc is not None else 0.0, 2)) > 0
    else:
        failed = _allreduce_with_grace(comm, exc is not None, message)
    if not failed:
        return
    messages = comm.allgather(message) if comm is not None else pc.py_allgather(message)
    first = next(r for r, m in enumerate(messages) if m is not None)
    err = RankError(messages[first], first, name, quiet=rank != 0)
    raise err from exc


def _comm():
    """A private duplicate of MPI_COMM_WORLD (None without mpi4py)."""
    if "comm" not in _COMM:
        try:
            from mpi4py import MPI
        except ImportError:
            _COMM["comm"] = None
        else:
            _COMM["comm"] = MPI.COMM_WORLD.Dup()
    return _COMM["comm"]


def _grace() -> float:
    try:
        return max(0.0, float(os.environ.get(GRACE_ENV, "5")))
    except ValueError:
        return 5.0


def _allreduce_with_grace(comm: Any, failed: bool, message: str | None) -> bool:
    """Whether any rank failed; a failed rank aborts the job when the others do not come."""
    import numpy as np
    from mpi4py import MPI

    send = np.array([1 if failed else 0], dtype=np.int32)
    recv = np.zeros(1, dtype=np.int32)
    req = comm.Iallreduce(send, recv, op=MPI.MAX)
    if not failed:
        req.Wait()
        return bool(recv[0])
    deadline = time.monotonic() + _grace()
    while not req.Test():
        if time.monotonic() > deadline:
            _last_words(f"{message} (the other ranks are blocked in a collective: ending "
                        f"the MPI job)")
            MPI.COMM_WORLD.Abort(1)
        time.sleep(0.005)
    return True


def abort_alone(exc: BaseException) -> None:
    """In an MPI job of 2+ ranks: end the whole job after an error that escaped the phases
    (its rank cannot know whether the others wait for it in a collective; exiting alone would
    leave them, and this rank's ``MPI_Finalize``, waiting forever). Returns otherwise."""
    if isinstance(exc, RankError):
        return
    try:
        from mpi4py import MPI
    except ImportError:
        return
    if not MPI.Is_initialized() or MPI.Is_finalized() or MPI.COMM_WORLD.Get_size() < 2:
        return
    _last_words(f"rank {MPI.COMM_WORLD.Get_rank()} failed in preparation: {describe(exc)}")
    MPI.COMM_WORLD.Abort(1)


def _last_words(message: str) -> None:
    """Log ``message`` before MPI_Abort ends this process (it cannot be raised): to stderr
    when no logging handler is configured, since it must reach the user or the launcher."""
    logger.error(message)
    handled = False
    lg: logging.Logger | None = logger
    while lg is not None:
        handled = handled or any(not isinstance(h, logging.NullHandler) for h in lg.handlers)
        lg = lg.parent if lg.propagate else None
    if not handled:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"nethub: ERROR: {message}\n")
    error_file = os.environ.get("NETHUB_ERROR_FILE")  # the launcher's (nethub.sim.launch)
    if error_file:
        with contextlib.suppress(OSError), open(error_file, "a", encoding="utf-8") as fh:
            fh.write(message.replace("\n", " ") + "\n")
    for lg in (logging.getLogger(), logging.getLogger("nethub")):
        for handler in lg.handlers:
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _test_hook(name: str, rank: int, pc: Any) -> None:
    """Test hook only (``NETHUB_TEST_FAIL``): fail here when asked to."""
    spec = os.environ.get(TEST_FAIL_ENV)
    if not spec:
        return
    parts = spec.split(":")
    if len(parts) < 2 or parts[0] != name or parts[1] != str(rank):
        return
    if parts[2:] == ["hoc"] and pc is not None:
        from . import _neuron  # nethub.sim imports this module

        _neuron()[0].execerror("injected hoc failure", f"(test hook, {name}, rank {rank})")
    raise SimulationError(f"injected failure (test hook {TEST_FAIL_ENV}={spec})")
