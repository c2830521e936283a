"""Safe writes to a store shared by several processes: a lock file, checks before work starts,
and the temporary files of interrupted writes.

Locking
    Writers that change a store in place (appending a run, compacting) hold an exclusive
    ``flock`` on ``STORE.lock`` (``model.h5`` -> ``model.h5.lock``), created beside the store
    and left there. Readers hold a shared lock on it when it exists. A writer waits for the
    others (and says so once in the log), so two ``nethub run`` on one store both keep their
    runs, with or without HDF5's own file locking (``HDF5_USE_FILE_LOCKING``). On a file system
    without working ``flock``, writing stops with :class:`~nethub.errors.StoreLockError`;
    ``NETHUB_LOCKING=FALSE`` writes without the lock (only when nothing else writes the store).

Temporary files
    Atomic whole-file writes go through ``.NAME.PID@HOST.XXXXXX.nhtmp`` beside the target
    (:func:`temp_prefix`). Files of a writer whose process is gone (same host) are removed by
    the next write beside the same target (:func:`clean_stale_temps`);
    :func:`stale_temps` lists them for ``nethub validate``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from .errors import StoreAccessError, StoreLockError

__all__ = ["store_lock", "lock_path", "check_writable", "temp_prefix", "stale_temps",
           "clean_stale_temps", "signals_deferred", "LOCKING_ENV", "TEMP_SUFFIX"]

logger = logging.getLogger(__name__)

LOCKING_ENV = "NETHUB_LOCKING"
TEMP_SUFFIX = ".nhtmp"
_HELD: dict[str, list] = {}  # realpath of the lock file -> [fd, exclusive, depth]
_GUARD = threading.Lock()
_TERMINATE = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP")
                   if hasattr(signal, n))
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL)


def lock_path(store: str | os.PathLike) -> Path:
    """``STORE.lock``: the lock file of a store."""
    store = Path(store)
    return store.with_name(store.name + ".lock")


def _locking() -> bool:
    return os.environ.get(LOCKING_ENV, "TRUE").strip().upper() not in ("FALSE", "0", "NO", "OFF")


@contextlib.contextmanager
def store_lock(store: str | os.PathLike, exclusive: bool = True) -> Iterator[None]:
    """Hold the store's lock (exclusive: create the lock file; shared: only if it exists).

    Re-entrant within a process. Waits while another process holds a conflicting lock.

    Raises
    ------
    StoreAccessError
        The lock file cannot be created (the folder is not writable).
    StoreLockError
        The file system does not support locking.
    """
    if not _locking():
        yield
        return
    lp = lock_path(store)
    key = os.path.realpath(lp)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held[2] += 1
    if held is not None:
        try:
            if exclusive and not held[1]:
                _flock(held[0], lp, True)
                held[1] = True
            yield
        finally:
            with _GUARD:
                held[2] -= 1
        return
    fd = _open_lock(lp, exclusive)
    if fd is None:
        yield
        return
    try:
        _flock(fd, lp, exclusive)
        with _GUARD:
            _HELD[key] = [fd, exclusive, 1]
        try:
            yield
        finally:
            with _GUARD:
                del _HELD[key]
    finally:
        os.close(fd)  # closing releases the lock


def _open_lock(lp: Path, exclusive: bool) -> int | None:
    try:
        return os.open(lp, os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY, 0o666)
    except FileNotFoundError:
        if exclusive:
            raise StoreAccessError(f"{lp.parent}: no such folder") from None
        return None  # no lock file: no writer has ever appended to this store
    except PermissionError:
        if exclusive:
            with contextlib.suppress(OSError):
                return os.open(lp, os.O_RDONLY)  # flock works on a read-only descriptor
            raise StoreAccessError(
                f"{lp}: cannot create the store's lock file (permission denied): the folder "
                f"must be writable to add runs to the store; write elsewhere with -o "
                f"NEW.h5") from None
        return None
    except OSError as exc:
        if exclusive:
            raise StoreAccessError(f"{lp}: cannot create the store's lock file "
                                   f"({exc.strerror or exc})") from exc
        return None


def _flock(fd: int, lp: Path, exclusive: bool) -> None:
    op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, op | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        logger.warning("%s: another process is using the store; waiting for it", lp)
    except OSError as exc:
        _no_flock(lp, exc)
    try:
        fcntl.flock(fd, op)
    except OSError as exc:
        _no_flock(lp, exc)


def _no_flock(lp: Path, exc: OSError) -> None:
    if exc.errno in _NO_FLOCK:
        raise StoreLockError(
            f"{lp}: the file system does not support file locking ({exc.strerror}); set "
            f"{LOCKING_ENV}=FALSE to write without a lock, only if no other process writes "
            f"this store at the same time") from exc
    raise StoreLockError(f"{lp}: cannot lock the store ({exc.strerror or exc})") from exc


def check_writable(out: str | os.PathLike, store: str | os.PathLike | None = None) -> None:
    """Check, before any work, that results can be written to ``out`` (appended in place when
    ``out`` is ``store`` or exists, else written as a new file), including its lock.

    Raises
    ------
    StoreAccessError
        ``out`` or its folder is not writable, or ``out`` is not a file.
    StoreLockError
        The store cannot be locked.
    """
    out = Path(out)
    folder = out.parent if str(out.parent) else Path(".")
    if out.exists():
        if not out.is_file():
            raise StoreAccessError(f"{out}: not a file")
        if not os.access(out, os.W_OK):
            raise StoreAccessError(
                f"{out}: the store is read-only (no permission to write it): a run's results "
                f"could not be stored; make it writable (chmod u+w {out}) or write a copy "
                f"with -o NEW.h5")
        in_place = store is None or os.path.realpath(out) == os.path.realpath(store)
        if in_place:
            _probe_lock(out)  # lock problems show now, not after the run
            return
    if not folder.is_dir():
        raise StoreAccessError(f"{folder}: no such folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreAccessError(f"{folder}: the folder is read-only (no permission to write "
                               f"there): cannot write {out.name}; choose another -o path")


def _probe_lock(store: Path) -> None:
    """Create the lock file and try the lock without waiting (busy is fine: the writer will
    wait for it when it writes)."""
    if not _locking() or os.path.realpath(lock_path(store)) in _HELD:
        return
    lp = lock_path(store)
    fd = _open_lock(lp, True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass
    except OSError as exc:
        _no_flock(lp, exc)
    finally:
        os.close(fd)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """While a store is changed in place: SIGINT, SIGTERM and SIGHUP wait until the body is
    done (HDF5 has no journal: a write cut short can damage the file), then take effect.
    Only in the main thread (elsewhere Python cannot handle signals); SIGKILL cannot wait."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []

    def defer(signum, frame):  # noqa: ARG001
        if not got:
            logger.warning("signal %d: finishing the write to the store first", signum)
        got.append(signum)

    old = {s: signal.signal(s, defer) for s in _TERMINATE}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if got:
            signal.raise_signal(got[0])  # now acted on as it would have been


# ----------------------------------------------------------------------------- temporary files
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def temp_prefix(target: str | os.PathLike) -> str:
    """Prefix of a temporary file beside ``target``: ``.NAME.PID@HOST.``."""
    return f".{Path(target).name}.{os.getpid()}@{_host()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temps(target: str | os.PathLike) -> list[tuple[Path, str]]:
    """Temporary files of writes to ``target`` whose writer is gone (or unknown), each with why.

    A file whose writer is alive on this host is in use and not listed.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    head = f".{target.name}."
    found = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(head) and n.endswith(TEMP_SUFFIX)]
    except OSError:
        return []
    for name in sorted(names):
        owner = name[len(head):].split(".", 1)[0]
        pid_s, _, host = owner.partition("@")
        if not (pid_s.isdigit() and host):
            found.append((folder / name, "left by an interrupted write (writer unknown)"))
        elif host != _host():
            found.append((folder / name, f"left by process {pid_s} on host {host} (still "
                                         f"writing, or interrupted)"))
        elif not _pid_alive(int(pid_s)):
            found.append((folder / name, f"left by an interrupted write (process {pid_s} "
                                         f"is gone)"))
    return found


def clean_stale_temps(target: str | os.PathLike) -> int:
    """Remove the temporary files beside ``target`` whose writer (on this host) is gone."""
    removed = 0
    for path, why in stale_temps(target):
        if "is gone" in why:
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
                logger.info("removed %s (%s)", path, why)
    return removed
