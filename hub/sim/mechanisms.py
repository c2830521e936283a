"""NMODL mechanisms: compiled on demand into a cache keyed by their content hash.

A store carries the .mod sources it needs (``Network.mod_files``); ``load_mechanisms`` compiles
them once with ``nrnivmodl`` into ``$NETHUB_CACHE/mech/<hash>/`` (default
``~/.cache/nethub``) and loads the library with ``h.nrn_load_dll`` on every rank.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import MissingMechanismError, SimulationError

__all__ = ["cache_dir", "compile_mod_files", "load_mechanisms", "prepare_mechanisms",
           "required_mechanisms", "BUNDLED"]

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


def load_mechanisms(h, mod_files: dict[str, str]) -> None:
    """Compile if needed and load the mechanisms into this NEURON process."""
    if not mod_files:
        return
    lib = compile_mod_files(mod_files)
    if str(lib) in _LOADED:
        return
    h.nrn_load_dll(str(lib))
    _LOADED.add(str(lib))


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


def prepare_mechanisms(h, net) -> None:
    """Compile and load the model's .mod files (plus bundled ones it needs), then stop with
    MissingMechanismError naming the mechanism and where it is used if any is still unknown."""
    density, point = required_mechanisms(net)
    mods = dict(net.mod_files)
    known = _mech_names(h, 0) | _mech_names(h, 1)
    for name, fname in BUNDLED.items():
        provided = any(f"SUFFIX {name}" in t or f"CELL {name}" in t or f"PROCESS {name}" in t
                       for t in mods.values())
        if name in point and name not in known and not provided:
            mods[fname] = (Path(__file__).parent / "mod" / fname).read_text()
    load_mechanisms(h, mods)
    have_density, have_point = _mech_names(h, 0), _mech_names(h, 1)
    missing = [f"'{m}' (used by {w})" for m, w in density.items() if m not in have_density]
    missing += [f"'{m}' (used by {w})" for m, w in point.items() if m not in have_point]
    if missing:
        raise MissingMechanismError(
            "unknown NEURON mechanism(s): " + "; ".join(missing)
            + ". Add their .mod files to the model (Network.mod_files) and run again."
        )
