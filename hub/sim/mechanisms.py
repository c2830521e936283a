"""NMODL mechanisms loaded into the simulator's NEURON.

A store carries the .mod sources it needs (``Network.mod_files``); ``load_mechanisms`` compiles
them once into the cache of :mod:`nethub.nmodl.compile` and loads the library with
``h.nrn_load_dll`` on every rank. Under MPI, rank 0 compiles while the others wait
(:func:`on_rank0`), then every rank loads the cached library.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import MissingMechanismError, NethubError, SimulationError
from ..mechsource import require_trust, shadowed_by_cwd, with_includes
from ..nmodl import declared_mechanisms
from ..nmodl.compile import compile_mod_files
from .mechorigin import check_loadable, record

__all__ = ["load_mechanisms", "load_library", "prepare_mechanisms", "required_mechanisms",
           "used_mechanisms", "model_mod_files", "on_rank0", "BUNDLED", "check_trust",
           "missing_message"]

_T = TypeVar("_T")

logger = logging.getLogger(__name__)

_LOADED: set[str] = set()


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


def load_library(h, lib: Path, mod_files: dict[str, str]) -> None:
    """``nrn_load_dll`` once per process, and not at all when NEURON already has every
    mechanism the files declare (the same files loaded from the other build: plain nrnivmodl
    or ``nrnivmodl -coreneuron``; loading both would define them twice). A name loaded
    before from other content raises :class:`~nethub.sim.mechorigin.MechanismClashError`."""
    if str(lib) in _LOADED:
        return
    names = set().union(*(declared_mechanisms(t) for t in mod_files.values()))
    known = _mech_names(h, 0) | _mech_names(h, 1)
    check_loadable(mod_files, lib, known)
    if names and names <= known:
        logger.debug("mechanisms %s already loaded; %s not loaded", sorted(names), lib)
        shadowed = shadowed_by_cwd(mod_files)
        if shadowed:
            logger.warning("the mechanisms compiled in %s/ (NEURON loads them by itself in this "
                           "folder) differ from the model's sources and are used instead: %s; "
                           "run from another folder, or run nrnivmodl there again",
                           Path.cwd(), ", ".join(shadowed))
    else:
        h.nrn_load_dll(str(lib))
    _LOADED.add(str(lib))
    record(mod_files, lib)


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
    does not use is left out: it may not even translate) with the files they INCLUDE, plus
    nethub's bundled source of any mechanism in ``used`` that no file declares (except those
    in ``skip_bundled``)."""
    mods = {f: t for f, t in net.mod_files.items() if declared_mechanisms(t) & used}
    mods = with_includes(mods, net.mod_files)
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
        raise MissingMechanismError(missing_message(missing))


def missing_message(missing: list[str]) -> str:
    """The error text for mechanisms NEURON does not know, saying how to provide them."""
    return ("unknown NEURON mechanism(s): " + "; ".join(missing)
            + ". Give the folder of their .mod files: nethub run|build SPEC --mod DIR "
            "(mod_dirs=[DIR] in Python), or keep them in a mod/ or mods/ folder beside the "
            "spec or at the model root (NetPyNE's layout), or name it as mod_folder in "
            "index.npjson; they are then stored with the model (Network.mod_files).")


def check_trust(net, pc: Any = None, trusted: bool = False) -> None:
    """Refuse the native code among the sources the model would compile unless trusted
    (:func:`nethub.mechsource.require_trust`): rank 0 decides (what this process trusts) and
    remembers, and every rank raises its error alike."""
    mods = model_mod_files(net, used_mechanisms(net, pc))
    on_rank0(pc, lambda: require_trust(mods, trusted))
