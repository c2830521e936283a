"""Compiled NMODL mechanisms, cached, for the simulator and the converters alike.

:func:`compiled_library` compiles a set of sources (``.mod`` files and the files they include,
name to text) with ``nrnivmodl`` once per machine into ``$NETHUB_CACHE/mech/<key>/`` (default
``~/.cache/nethub``), ``key`` the sha256 of the sources, the NEURON version and the platform, and
returns the shared library, which any process can load with ``h.nrn_load_dll`` (loading into
the simulator's NEURON is :mod:`nethub.sim.mechanisms`). A build runs in a temporary folder
renamed into place, under a lock file, so concurrent compiles of one set (two processes, MPI
ranks) end with one valid library. On failure :func:`run_nrnivmodl` raises
:class:`~nethub.errors.SimulationError` with the *first* error (NMODL's "Couldn't open",
"... at line N in file F", or the C++ compiler's ``file:line:col: error:``) located in the
``.mod`` file, a hint, and the path of the full log (also logged at DEBUG).

No NEURON import: ``nrnivmodl`` runs as a subprocess, found on ``PATH`` or beside the Python
executable, and the NEURON version is read from the installed package's metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from ..errors import SimulationError, SpecError
from ..mechsource import require_trust, safe_relative
from .text import includes

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, the rename still keeps one build
    fcntl = None

__all__ = ["cache_dir", "cache_key", "compiled_library", "compile_mod_files", "build_in_cache",
           "find_library", "nrnivmodl", "neuron_version", "platform_tag", "write_sources",
           "run_nrnivmodl", "first_error"]

logger = logging.getLogger(__name__)

#: distributions that install NEURON (the version is read from the first one installed)
_NEURON_DISTS = ("neuron", "neuron-nightly", "neuron-gpu", "neuron-gpu-nightly")


# ---------------------------------------------------------------------------- the cache
def cache_dir() -> Path:
    """Where compiled mechanisms are kept: ``$NETHUB_CACHE/mech`` (default ``~/.cache/nethub``)."""
    root = os.environ.get("NETHUB_CACHE") or Path.home() / ".cache" / "nethub"
    return Path(root) / "mech"


def nrnivmodl() -> str:
    """The ``nrnivmodl`` executable (on ``PATH`` or beside this Python), without importing
    NEURON.

    Raises
    ------
    SimulationError
        NEURON is not installed.
    """
    exe = shutil.which("nrnivmodl") or str(Path(sys.executable).parent / "nrnivmodl")
    if not Path(exe).exists():
        raise SimulationError("nrnivmodl not found: pip install 'nethub[neuron]'")
    return exe


@lru_cache(maxsize=1)
def neuron_version() -> str:
    """The installed NEURON's version, from package metadata (else ``nrniv --version``), without
    importing NEURON; ``"unknown"`` when neither tells."""
    for dist in _NEURON_DISTS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            return importlib.metadata.version(dist)
    nrniv = shutil.which("nrniv") or str(Path(sys.executable).parent / "nrniv")
    try:
        out = subprocess.run([nrniv, "--version"], capture_output=True, text=True, timeout=60,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"VERSION\s+(\S+)", out)
    return m.group(1) if m else "unknown"


def platform_tag() -> str:
    """The platform a library is built for (``linux-x86_64``, ``darwin-arm64``, ...)."""
    return f"{sys.platform}-{platform.machine()}"


def cache_key(mod_files: Mapping[str, str], variant: str = "") -> str:
    """sha256 (first 32 hex digits) of the sources (names and texts), the NEURON version, the
    platform and the build ``variant``, followed by ``-variant`` when there is one (e.g.
    ``"core"`` for ``nrnivmodl -coreneuron``)."""
    h = hashlib.sha256(f"nethub-mech\0{variant}\0{neuron_version()}\0{platform_tag()}\0"
                       .encode())
    for name in sorted(mod_files):
        h.update(name.encode() + b"\0" + mod_files[name].encode() + b"\0")
    return h.hexdigest()[:32] + (f"-{variant}" if variant else "")


def find_library(folder: Path) -> Path | None:
    """The ``libnrnmech`` shared library nrnivmodl built in ``folder``, or None."""
    if not folder.is_dir():
        return None
    for pattern in ("*/.libs/libnrnmech.so", "*/libnrnmech.so", "*/.libs/libnrnmech.dylib",
                    "*/libnrnmech.dylib"):
        for cand in folder.glob(pattern):
            return cand
    return None


def compiled_library(mod_files: Mapping[str, str], *, trusted: bool) -> Path:
    """The shared library of these mechanism sources, compiled once into the cache.

    Parameters
    ----------
    mod_files : mapping of str to str
        ``.mod`` files and the files they include, name (relative path) to text, as
        ``Network.mod_files`` holds them.
    trusted : bool
        The user's explicit trust in native code (VERBATIM blocks), remembered as ``--trust``
        is. Without it, sources with native code pass only when trusted before
        (:func:`nethub.mechsource.require_trust`).

    Returns
    -------
    Path
        The library, for ``h.nrn_load_dll`` in any process on this machine.

    Raises
    ------
    UntrustedCodeError
        Native code not trusted; nothing is compiled.
    SimulationError
        nrnivmodl is missing or fails (first error located, full log path).
    SpecError
        No sources given.
    """
    if not mod_files:
        raise SpecError("no mechanism sources to compile")
    require_trust(mod_files, trusted)
    return compile_mod_files(mod_files)


def compile_mod_files(mod_files: Mapping[str, str]) -> Path:
    """:func:`compiled_library` without the trust check, for callers that made it already
    (the simulator checks on rank 0 before any rank compiles)."""
    folder = build_in_cache(mod_files, done=lambda f: find_library(f) is not None)
    lib = find_library(folder)
    if lib is None:  # pragma: no cover - build_in_cache checked it
        raise SimulationError(f"nrnivmodl produced no library in {folder}")
    return lib


def build_in_cache(mod_files: Mapping[str, str], *, args: Sequence[str] = (), variant: str = "",
                   done: Callable[[Path], bool]) -> Path:
    """The cache folder holding ``nrnivmodl *args`` built on these sources, built if
    ``done(folder)`` is false: in a temporary folder beside it, under a lock file, then renamed
    into place (a concurrent build of the same key waits for the lock and uses the result)."""
    key = cache_key(mod_files, variant)
    target = cache_dir() / key
    if done(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{key}.lock"):
        if not done(target):
            _build(mod_files, list(args), target)
    if not done(target):
        raise SimulationError(f"nrnivmodl produced no library in {target}")
    return target


def _build(mod_files: Mapping[str, str], args: list[str], target: Path) -> None:
    """Build in a temporary folder, then rename it to ``target`` (the caller holds the lock)."""
    for stale in target.parent.glob(f".{target.name}.*"):  # left by a killed build
        if stale.is_dir() and fcntl is not None:  # without a lock it may be another's build
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        write_sources(Path(tmp), mod_files)
        run_nrnivmodl([nrnivmodl(), *args], Path(tmp), mod_files,
                      target.parent / f"{target.name}.log")
        if target.exists():  # a folder without its library (removed by hand, say)
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race (no lock on this system): use its build
            pass
    logger.info("compiled %d mechanism file(s) into %s", len(mod_files), target)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created) while the block runs."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------- running nrnivmodl
_PORTING = ("NEURON 9 compiles mechanisms as C++: see "
            "https://nrn.readthedocs.io/en/latest/guide/porting_mechanisms_to_cpp.html")


def write_sources(folder: Path, files: Mapping[str, str]) -> None:
    """Write ``files`` (name -> text) into ``folder``; names that would leave it are skipped."""
    for name, text in files.items():
        rel = safe_relative(name)
        if name.endswith(".mod") or rel is None:
            target = folder / Path(name.replace("\\", "/")).name
        else:
            target = folder / rel
        if rel is None:
            logger.warning("mechanism file name %r leaves its folder; written as %s", name,
                           target.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def run_nrnivmodl(cmd: list[str], folder: Path, files: Mapping[str, str], log_path: Path
                  ) -> None:
    """Run ``cmd`` (nrnivmodl and its arguments) in ``folder``; on failure write the whole
    output to ``log_path`` and raise SimulationError with :func:`first_error`."""
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    logger.debug("%s output:\n%s", " ".join(Path(c).name for c in cmd), output)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output)
        where = f"full log: {log_path}"
    except OSError:
        where = "full log at DEBUG level (-vv)"
    raise SimulationError(f"{Path(cmd[0]).name} failed: {first_error(output, files)} ({where})")


def first_error(output: str, files: Mapping[str, str]) -> str:
    """The first compiler error in nrnivmodl's ``output``, located and with a hint."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = re.search(r"Couldn't open:?\s*(\S+)", line)
        if m:
            return _missing_include(m.group(1), files)
        m = re.search(r"at line (\d+) in file (\S+?)\s*$", line)
        if m:
            shown = [s for s in lines[i + 1:i + 3] if s.strip()]
            detail = " ".join(s.strip() for s in lines[max(0, i - 3):i + 1]
                              if s.strip() and s.strip() != "syntax error:")
            return (f"{m.group(2)} line {m.group(1)}: {detail}"
                    + (f" near {shown[0].strip()!r}" if shown else "")
                    + "; check the NMODL syntax there")
        m = re.search(r"([\w.-]+)\.(?:cpp|c):(\d+):(?:\d+:)?\s*(?:fatal )?error:\s*(.*)", line)
        if m:
            return (f"{m.group(1)}.mod (translated to {m.group(1)}.cpp, line {m.group(2)}): "
                    f"{m.group(3)}; {_PORTING}")
    for line in lines:
        if re.search(r"\berror\b", line, re.IGNORECASE) and not line.startswith(("make:",
                                                                                 "NOTE")):
            return line.strip()
    tail = [s for s in lines if s.strip()][-3:]
    return " / ".join(s.strip() for s in tail) or "no output"


def _missing_include(name: str, files: Mapping[str, str]) -> str:
    users = sorted(k for k, t in files.items() if name in includes(t))
    who = f"{', '.join(users)} INCLUDEs" if users else "a mechanism INCLUDEs"
    return (f"{who} {name!r}, which is missing; put {name} beside the .mod file that "
            "includes it and build or run the spec again (nethub carries included files found "
            "there; --mod DIR names the folder)")
