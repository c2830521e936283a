"""Running ``nrnivmodl`` on a set of sources, and saying briefly why it failed.

:func:`write_sources` lays the sources out in a build folder (``.mod`` files by file name,
included files under their relative paths, never outside the folder). :func:`run_nrnivmodl`
runs the compiler there; on failure it raises :class:`~nethub.errors.SimulationError` with the
*first* error (NMODL's "Couldn't open", "... at line N in file F", or the C++ compiler's
``file:line:col: error:``) located in the ``.mod`` file, a hint, and the path of the full log
(also logged at DEBUG).
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..errors import SimulationError
from ..mechsource import includes, safe_relative

__all__ = ["write_sources", "run_nrnivmodl", "first_error"]

logger = logging.getLogger(__name__)

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
