"""Which NMODL mechanism this process loaded from which source, so that no run uses another's.

NEURON knows a mechanism by its name only, and a loaded library stays loaded: a second store
whose ``.mod`` file declares a name already loaded from different content would either fail
in ``nrn_load_dll`` ("name already exists") or, when every name is known already, silently run
with the first store's mechanism. :func:`record` remembers, per process, the content (hash of
the declaring file and the files it INCLUDEs), file, library and store of every mechanism
loaded; :func:`conflicts` says what a new set of sources cannot load here, and
:func:`check_loadable` raises :class:`MechanismClashError` for it. ``nethub.simulate`` runs such
a store in a new process instead (docs/simulate.md, "Mechanisms of several stores in one
process").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import SimulationError
from ..mechsource import with_includes
from ..nmodl import declared_mechanisms

__all__ = ["MechanismClashError", "Origin", "check_loadable", "conflicts", "note_store",
           "record"]


class MechanismClashError(SimulationError):
    """A mechanism name is already loaded in this process from other content."""


@dataclass(frozen=True)
class Origin:
    """Where a loaded mechanism came from."""

    digest: str
    file: str
    library: str
    store: str

    def describe(self) -> str:
        """``file.mod of store S (library L)``, for messages."""
        where = f" of {self.store}" if self.store else ""
        lib = f" (library {self.library})" if self.library else ""
        return f"{self.file}{where}{lib}"


_ORIGIN: dict[str, Origin] = {}
_STORE: list[str] = [""]  # the store this process runs now (for messages)


def note_store(store: str | Path) -> None:
    """Name the store whose mechanisms are loaded next (``run_store`` calls it)."""
    _STORE[0] = str(store)


def _origins(mod_files: Mapping[str, str], library: str) -> dict[str, Origin]:
    """Every mechanism ``mod_files`` declare, with the hash of its file and includes."""
    out: dict[str, Origin] = {}
    for fname in sorted(mod_files):
        names = declared_mechanisms(mod_files[fname])
        if not names:
            continue
        h = hashlib.sha256()
        for part, text in sorted(with_includes({fname: mod_files[fname]}, mod_files).items()):
            h.update(part.encode() + b"\0" + text.encode() + b"\0")
        origin = Origin(h.hexdigest(), fname, library, _STORE[0])
        out.update(dict.fromkeys(names, origin))
    return out


def conflicts(mod_files: Mapping[str, str], library: str | Path = "",
              known: set[str] | None = None) -> list[str]:
    """Why ``mod_files`` (compiled into ``library``) cannot be loaded in this process: one
    line per mechanism loaded before from other content, or, given the names ``known`` to
    NEURON and when the library would be loaded (not every name known yet), per mechanism it
    would define a second time (``known`` None: content only, e.g. for all the files of a
    store, of which a run loads only those it uses). Empty when loading is fine (identical
    content is)."""
    new = _origins(mod_files, str(library))
    out = [f"'{name}' from {o.describe()} differs from the one loaded before from "
           f"{_ORIGIN[name].describe()}"
           for name, o in sorted(new.items())
           if name in _ORIGIN and _ORIGIN[name].digest != o.digest]
    if out:
        return out
    again = sorted(n for n in new if n in _ORIGIN)
    if again and len(again) < len(new) and known is not None and not set(new) <= known:
        out = [f"'{n}' (loaded before from {_ORIGIN[n].describe()}) would be defined again "
               f"by {new[n].describe()}, which also holds mechanisms not loaded yet"
               for n in again]
    return out


def check_loadable(mod_files: Mapping[str, str], library: str | Path,
                   known: set[str] | None = None) -> None:
    """Raise :class:`MechanismClashError` when :func:`conflicts` finds any."""
    found = conflicts(mod_files, library, known)
    if found:
        raise MechanismClashError(
            "NEURON mechanism name clash in this process: " + "; ".join(found) + ". NEURON "
            "keeps one mechanism per name for the life of a process, so this model would "
            "run with the wrong one. Run it in a new process: `nethub run STORE`, or "
            "nethub.simulate (which does so by itself outside an MPI job)")


def record(mod_files: Mapping[str, str], library: str | Path) -> None:
    """Remember the mechanisms ``mod_files`` declare as loaded from ``library`` (the first
    origin of a name stays)."""
    for name, origin in _origins(mod_files, str(library)).items():
        _ORIGIN.setdefault(name, origin)
