"""NMODL mechanisms: compiled on demand into a cache keyed by their content hash.

A store carries the .mod sources it needs (``Network.mod_files``); ``load_mechanisms`` compiles
them once with ``nrnivmodl`` into ``$NETHUB_CACHE/mech/<hash>/`` (default
``~/.cache/nethub``) and loads the library with ``h.nrn_load_dll`` on every rank. Under MPI,
rank 0 compiles while the others wait (:func:`on_rank0`), then every rank loads the cached
library.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import MissingMechanismError, NethubError, SimulationError

__all__ = ["cache_dir", "compile_mod_files", "load_mechanisms", "prepare_mechanisms",
           "required_mechanisms", "used_mechanisms", "model_mod_files", "on_rank0", "BUNDLED"]

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

_LOADED: set[str] = set()


def cache_dir() -> Path:
    root = os.environ.get("NETHUB_CACHE") or Path.home() / ".cache" / "nethub"
    return Path(root) / "mech"


def _mod_hash(mod_files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(mod_files):
        h.update(name.encode() + b"\0" + mod_files[name].encode() + b"\0")
    return h.hexdigest()[:20]


def _nrnivmodl() -> str:
    exe = shutil.which("nrnivmodl") or str(Path(sys.executable).parent / "nrnivmodl")
    if not Path(exe).exists():
        raise SimulationError("nrnivmodl not found: pip install 'nethub[neuron]'")
    return exe


def compile_mod_files(mod_files: dict[str, str]) -> Path:
    """Compile (once) and return the path of the shared library for these .mod sources."""
    key = _mod_hash(mod_files)
    target = cache_dir() / key
    lib = _find_lib(target)
    if lib is not None:
        return lib
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{key}.") as tmp:
        for name, text in mod_files.items():
            (Path(tmp) / Path(name).name).write_text(text)
        proc = subprocess.run([_nrnivmodl()], cwd=tmp, capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise SimulationError(f"nrnivmodl failed for {sorted(mod_files)}:\n{tail}")
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race; use its result
            pass
    lib = _find_lib(target)
    if lib is None:
        raise SimulationError(f"nrnivmodl produced no library in {target}")
    logger.info("compiled %d mechanism file(s) into %s", len(mod_files), target)
    return lib


def _find_lib(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    for cand in folder.glob("*/.libs/libnrnmech.so"):
        return cand
    for cand in folder.glob("*/libnrnmech.so"):
        return cand
    return None


def on_rank0(pc: Any, work: Callable[[], _T]) -> _T:
    """``work()`` on rank 0 while the other ranks wait (e.g. a compile into the shared cache),
    its result broadcast to every rank; a nethub error raised on rank 0 is raised on all."""
    if pc is None or int(pc.nhost()) == 1:
        return work()
    result, error = None, None
    if int(pc.id()) == 0:
        try:
            result = work()
        except NethubError as exc:
            error = (type(exc), str(exc))
        except OSError as exc:  # the others would wait forever
            error = (SimulationError, f"{type(exc).__name__}: {exc}")
    result, error = pc.py_broadcast((result, error), 0)
    if error is not None:
        raise error[0](error[1])
    return result


def declared_mechanisms(text: str) -> set[str]:
    """Mechanism names an NMODL source declares (SUFFIX, POINT_PROCESS, ARTIFICIAL_CELL)."""
    code = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
    code = re.sub(r":[^\n]*", "", code)
    return set(re.findall(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_]\w*)",
                          code))


def load_library(h, lib: Path, mod_files: dict[str, str]) -> None:
    """``nrn_load_dll`` once per process, and not at all when NEURON already has every
    mechanism the files declare (the same files loaded from the other build: plain nrnivmodl
    or ``nrnivmodl -coreneuron``; loading both would define them twice)."""
    if str(lib) in _LOADED:
        return
    names = set().union(*(declared_mechanisms(t) for t in mod_files.values()))
    if names and names <= (_mech_names(h, 0) | _mech_names(h, 1)):
        logger.debug("mechanisms %s already loaded; %s not loaded", sorted(names), lib)
    else:
        h.nrn_load_dll(str(lib))
    _LOADED.add(str(lib))


def load_mechanisms(h, mod_files: dict[str, str], pc: Any = None) -> None:
    """Compile if needed (on rank 0 first when ``pc`` is given) and load the mechanisms into
    this NEURON process."""
    if not mod_files:
        return
    on_rank0(pc, lambda: compile_mod_files(mod_files))
    load_library(h, compile_mod_files(mod_files), mod_files)


#: Mechanisms nethub can compile itself when a model needs them (file in hub/sim/mod/).
BUNDLED = {"VecStim": "vecevent.mod"}


def required_mechanisms(net) -> tuple[dict[str, str], dict[str, str]]:
    """(density mechanisms, point processes) the network uses, each mapped to where."""
    from ..celltypes import CompartmentalCell, PointCell

    density: dict[str, str] = {}
    point: dict[str, str] = {}
    for name, ct in net.cell_types.items():
        if isinstance(ct, PointCell):
            point.setdefault(ct.model, f"cell type '{name}'")
            continue
        assert isinstance(ct, CompartmentalCell)
        for sname, sec in ct.sections.items():
            for mech in sec.mechs:
                density.setdefault(mech, f"cell type '{name}', section '{sname}'")
            for pp in sec.point_processes:
                point.setdefault(pp["mod"], f"cell type '{name}', section '{sname}'")
    for name, sm in net.syn_mechs.items():
        point.setdefault(sm.model, f"synMech '{name}'")
    for name, src in net.stim_sources.items():
        point.setdefault(src.model, f"stim source '{name}'")
    from .plasticity import plasticity_mechanisms

    for name, where in plasticity_mechanisms(net.connections).items():
        point.setdefault(name, where)
    return density, point


def _mech_names(h, kind: int) -> set[str]:
    mt = h.MechanismType(kind)
    names = set()
    for i in range(int(mt.count())):
        mt.select(i)
        ref = h.ref("")
        mt.selected(ref)
        names.add(ref[0])
    return names


def used_mechanisms(net, pc: Any = None) -> set[str]:
    """Names of the mechanisms the model uses (on any rank, when ``pc`` is given)."""
    density, point = required_mechanisms(net)
    used = set(density) | set(point)
    if pc is not None and int(pc.nhost()) > 1:  # a rank's cells may use what others don't
        used = set().union(*pc.py_allgather(sorted(used)))
    return used


def model_mod_files(net, used: set[str], skip_bundled: set[str] = frozenset()) -> dict[str, str]:
    """The model's .mod sources that declare a mechanism in ``used`` (a file it carries but
    does not use is left out: it may not even translate), plus nethub's bundled source of any
    mechanism in ``used`` that no file declares (except those in ``skip_bundled``)."""
    mods = {f: t for f, t in net.mod_files.items() if declared_mechanisms(t) & used}
    declared = set().union(*(declared_mechanisms(t) for t in mods.values()))
    for name, fname in BUNDLED.items():
        if name in used and name not in declared and name not in skip_bundled:
            mods[fname] = (Path(__file__).parent / "mod" / fname).read_text()
    return mods


def prepare_mechanisms(h, net, pc: Any = None) -> None:
    """Compile and load the .mod files of the mechanisms the model uses (plus bundled ones it
    needs), then stop with MissingMechanismError naming the mechanism and where it is used if
    any is still unknown. With ``pc``, rank 0 compiles while the other ranks wait."""
    density, point = required_mechanisms(net)
    known = _mech_names(h, 0) | _mech_names(h, 1)
    mods = model_mod_files(net, used_mechanisms(net, pc), skip_bundled=known)
    load_mechanisms(h, mods, pc)
    have_density, have_point = _mech_names(h, 0), _mech_names(h, 1)
    missing = [f"'{m}' (used by {w})" for m, w in density.items() if m not in have_density]
    missing += [f"'{m}' (used by {w})" for m, w in point.items() if m not in have_point]
    if missing:
        raise MissingMechanismError(
            "unknown NEURON mechanism(s): " + "; ".join(missing)
            + ". Add their .mod files to the model (Network.mod_files) and run again."
        )
