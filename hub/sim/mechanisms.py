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

__all__ = ["cache_dir", "compile_mod_files", "load_mechanisms", "check_mechanisms"]

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


def check_mechanisms(h, needed: dict[str, str]) -> None:
    """Stop before simulating when a mechanism is unknown to NEURON.

    ``needed`` maps a mechanism name to where it is used ("cell type 'PYR', section 'dend'").
    """
    missing = []
    for name, where in needed.items():
        if not hasattr(h, name) and not _is_density_mech(h, name):
            missing.append(f"'{name}' (used by {where})")
    if missing:
        raise MissingMechanismError(
            "unknown NEURON mechanism(s): " + "; ".join(missing)
            + ". Add their .mod files to the model (Network.mod_files) or compile them."
        )


def _is_density_mech(h, name: str) -> bool:
    ms = h.MechanismStandard(name, 0) if _mech_type_exists(h, name) else None
    return ms is not None


def _mech_type_exists(h, name: str) -> bool:
    mt = h.MechanismType(0)
    for i in range(int(mt.count())):
        mt.select(i)
        ref = h.ref("")
        mt.selected(ref)
        if ref[0] == name:
            return True
    return False
