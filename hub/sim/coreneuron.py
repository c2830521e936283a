"""Running a model on CoreNEURON (bundled in NEURON 9's wheel): can it, and how.

What was verified on NEURON 9.0.2 (what works, what aborts, how the stop time and traces are
handled) is in docs/simulate.md ("What was verified on CoreNEURON").

:func:`coreneuron_eligible` checks a model before it is run; :func:`prepare_mechanisms`
compiles and loads the mechanisms for CoreNEURON instead of
:func:`nethub.sim.mechanisms.prepare_mechanisms`; :func:`psolve` runs. :func:`choose_engine`
and :func:`confirm_engine` decide, on every rank alike, which simulator runs a model
(``RunConfig.engine``: ``'auto'``, the default, runs CoreNEURON whenever the model allows it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..errors import MissingMechanismError, SimulationError
from ..network import Network
from ..nmodl import coreneuron_blockers, declared_mechanisms
from ..nmodl.compile import build_in_cache, cache_dir, cache_key
from ..runconfig import RunConfig
from . import fastsyn, templatecells
from .mechanisms import (
    BUNDLED,
    _mech_names,
    load_library,
    missing_message,
    model_mod_files,
    on_rank0,
    required_mechanisms,
    used_mechanisms,
)
from .record import trace_gids

__all__ = ["CORENEURON_BUILTIN", "NEURON_ONLY_BUILTIN", "CFG_KEY", "CoreMechs", "EngineChoice",
           "coreneuron_eligible", "compile_mechanisms", "prepare_mechanisms",
           "probe_mechanisms", "probe_cached", "psolve", "available",
           "choose_engine", "confirm_engine", "enabled", "stop_times"]

logger = logging.getLogger(__name__)

#: Mechanisms in the wheel's CoreNEURON library (share/modfile: exp2syn, expsyn, hh, netstim,
#: passive, pattern, stim, svclmp); ions are built in too.
CORENEURON_BUILTIN = frozenset({"hh", "pas", "ExpSyn", "Exp2Syn", "NetStim", "PatternStim",
                                "IClamp", "SEClamp"})
#: NEURON built-ins that CoreNEURON lacks (psolve aborts or raises).
NEURON_ONLY_BUILTIN = frozenset({"IntFire1", "IntFire2", "IntFire4", "AlphaSynapse", "VClamp",
                                 "OClamp", "APCount", "extracellular", "fastpas",
                                 "PointProcessMark", "LinearMechanism"})


def available() -> tuple[bool, str]:
    """Whether this NEURON has CoreNEURON."""
    try:
        from neuron import config, coreneuron  # noqa: F401
    except ImportError:
        return False, "this NEURON has no CoreNEURON (neuron.coreneuron is missing)"
    if not config.arguments.get("NRN_ENABLE_CORENEURON", False):
        return False, "this NEURON was built without CoreNEURON"
    return True, "CoreNEURON available"


# ---------------------------------------------------------------------------- eligibility
def coreneuron_eligible(net: Network, config: RunConfig | None = None, h: Any = None, *,
                        traces_per_step: bool = False) -> tuple[bool, str]:
    """Whether CoreNEURON can run this (rank's) model, with every reason it cannot.

    Parameters
    ----------
    net : Network
        The model (a rank's part of it is enough; reduce the answer over the ranks, e.g.
        ``pc.allreduce(ok, 3)``, so that all ranks choose alike).
    config : RunConfig, optional
        The run (``cvode_active``, ``gpu``, traces, ``record_step``, ``dt``, ...); default
        ``RunConfig()``.
    h : hoc module, optional
        When given after the model is instantiated, NEURON's own state is checked too
        (cvode, extracellular sections, instances of NEURON-only point processes).
    traces_per_step : bool
        Whether traces are recorded every step (``vec.record(ref)``) rather than with a
        recording step, which CoreNEURON does not send back.

    Returns
    -------
    (bool, str)
        ``(True, 'eligible ...')`` or ``(False, 'reason; reason; ...')``.
    """
    reasons: list[str] = []
    ok, why = available()
    if not ok:
        reasons.append(why)
    reasons += _config_reasons(config or RunConfig(), net, traces_per_step)
    reasons += _mechanism_reasons(net)
    reasons += _model_reasons(net)
    reasons += templatecells.core_reasons(net)  # run-mode 'template' cell types (issue 14)
    if h is not None:
        reasons += _runtime_reasons(h)
    if reasons:
        return False, "; ".join(dict.fromkeys(reasons))
    density, point = required_mechanisms(net)
    custom = sorted((set(density) | set(point)) & set(_user_mechanisms(net)))
    note = (f" (user mechanisms {', '.join(custom)} need nrnivmodl -coreneuron: "
            "nethub.sim.coreneuron.prepare_mechanisms)" if custom else "")
    return True, "eligible for CoreNEURON" + note


#: CoreNEURON's own maximum step (its ``--mindelay`` default; NEURON's ``nrncore_arg`` does not
#: pass ``pc.set_maxstep``): measured, LEMS Ex9 at dt 10 ms fails, at 5 ms runs
CORE_MAX_STEP = 10.0


def _config_reasons(config: RunConfig, net: Network, per_step: bool) -> list[str]:
    out = []
    if config.cvode_active:
        out.append("cvode_active: CoreNEURON has only the fixed-step method")
    if config.gpu:
        from neuron import config

        if not config.arguments.get("CORENRN_ENABLE_GPU", False):
            out.append("gpu: this NEURON's CoreNEURON was built without GPU support")
    if _records_traces(net, config):
        dt = config.dt
        if not per_step:
            out.append("recordTraces with Vector.record(ref, recordStep): CoreNEURON returns "
                       "only one sample (nrn#2101); record every step and keep every k-th")
        else:
            out += [f"recordStep {step} is not a multiple of dt {dt}"
                    for step in dict.fromkeys(t.sampling(config.record_step)[0]
                                              for t in config.traces)
                    if abs(step / dt - round(step / dt)) > 1e-9]
        out += [f"recordTraces['{label}'] records {var!r}, which is not a RANGE variable: "
                "CoreNEURON ignores the recording" for label, var in _unrecordable(config)]
    lfp = config.lfp
    for key, asked in (("recordLFP", bool(lfp.electrodes)), ("recordDipole", lfp.dipole),
                       ("saveIMembrane", not lfp.imembrane_cells.is_empty())):
        if asked:
            out.append(f"{key}: needs Python calls during the run, which CoreNEURON skips")
    tstop, dt = config.duration, config.dt
    if dt >= CORE_MAX_STEP:
        out.append(f"dt {dt:g} ms: CoreNEURON exchanges spikes at most every "
                   f"{CORE_MAX_STEP:g} ms (NEURON does not hand it pc.set_maxstep) and "
                   "refuses a step not below that ('usable mindelay is 0')")
    if stop_times(tstop, dt, gaps=len(net.pointer_conns) > 0) is None:
        out.append(f"duration {tstop:g} ms at dt {dt:g}: NEURON hands CoreNEURON its stop time "
                   "printed with 6 significant digits, which would not end the run at NEURON's "
                   "last step")
    return out


def _neuron_steps(tstop: float, dt: float) -> int:
    """Time steps NEURON's ``pc.psolve(tstop)`` takes from t = 0 (``ncs2nrn_integrate`` of
    ``tstop * (1 + 1e-11)``)."""
    return int(tstop * (1 + 1e-11) / dt + 1e-9)


def stop_times(tstop: float, dt: float, chunks: int = 1, gaps: bool = True
               ) -> list[float] | None:
    """``pc.psolve`` arguments (one per chunk) that make CoreNEURON take exactly the time
    steps NEURON's ``pc.psolve(tstop)`` takes from t = 0, or None.

    NEURON hands CoreNEURON the stop time printed with ``%g`` (``neuron/coreneuron.py``:
    6 significant digits: 12345.67 ms runs to 12345.7), and CoreNEURON on one rank lacks
    NEURON's ``tstop * (1 + 1e-11)`` allowance, so with gap junctions (step by step while
    ``t <= tstop - dt``) a run whose ``t`` accumulates above the grid ends a step early
    (tut_gap: dt 0.1, 500 ms). Aiming half a step past the wanted last step, at a value
    ``%g`` keeps within a quarter step of that, is exact either way; failing that (10 s and
    more at dt 0.025), a stop time ``%g`` keeps exactly serves a model without gap junctions
    run in one piece (CoreNEURON then takes ``int(tstop/dt + 1e-9)`` steps).
    """
    steps = _neuron_steps(tstop, dt)
    out = []
    for k in range(1, chunks + 1):
        mine = round(steps * k / chunks)
        x = float(f"{(mine + 0.5) * dt:g}")
        if not (mine + 0.25) * dt < x < (mine + 0.75) * dt:
            break
        out.append(x)
    else:
        return out
    x = float(f"{tstop:g}")
    if chunks == 1 and not gaps and steps > 3 and int(x / dt + 1e-9) == steps:
        return [x]
    return None


#: Section variables a ``sec(loc)._ref_<var>`` trace may name that CoreNEURON cannot record
#: (not RANGE variables: "PlayRecord ... ignored because not a Range Variable"; measured for
#: diam on NEURON 9.0.2, whose ``cm`` and ``v`` record fine).
SECTION_VARS = frozenset({"diam", "L", "Ra", "nseg", "rallbranch"})


def _unrecordable(config: RunConfig) -> list[tuple[str, str]]:
    """(label, var) of trace requests on a section variable CoreNEURON cannot record."""
    return [(t.label, t.variable) for t in config.traces
            if t.variable in SECTION_VARS and not t.owners]


def _records_traces(net: Network, config: RunConfig) -> bool:
    return bool(config.traces) and len(trace_gids(net, config)) > 0


def _user_mechanisms(net: Network) -> dict[str, str]:
    """Mechanism name → mod file name, for the model's .mod files (plus bundled VecStim)."""
    out = {}
    for fname, text in net.mod_files.items():
        for name in sorted(declared_mechanisms(text)):
            out[name] = fname
    for name, fname in BUNDLED.items():
        out.setdefault(name, fname)
    return out


def _mechanism_reasons(net: Network) -> list[str]:
    out = []
    density, point = required_mechanisms(net)
    user = _user_mechanisms(net)
    for name, where in {**density, **point}.items():
        if name in CORENEURON_BUILTIN:
            continue
        if name in NEURON_ONLY_BUILTIN:
            out.append(f"'{name}' (used by {where}) is a NEURON built-in that CoreNEURON lacks")
        elif name not in user:
            out.append(f"'{name}' (used by {where}) has no .mod file in the model")
    used = set(density) | set(point)
    for fname, text in net.mod_files.items():
        if used & declared_mechanisms(text):
            out += [f"{fname}: {r}" for r in coreneuron_blockers(text)]
    return out


def _model_reasons(net: Network) -> list[str]:
    out = []
    if net.rxd:
        out.append("reaction-diffusion (rxd) is not supported by CoreNEURON")
    for name, ct in net.cell_types.items():
        if not isinstance(ct, CompartmentalCell):
            continue
        src = ct.spike_source[0] if ct.spike_source else next(iter(ct.sections), None)
        sec = ct.sections.get(src) if src is not None else None
        for pp in (sec.point_processes if sec is not None else []):
            if "vref" in pp:
                out.append(f"cell type '{name}': spike detector on point-process variable "
                           f"{pp['mod']}.{pp['vref']} (CoreNEURON takes only voltage sources)")
                break
        for sname, s in ct.sections.items():
            if "extracellular" in s.mechs:
                out.append(f"cell type '{name}' section '{sname}': the extracellular mechanism")
                break
    played = sorted(n for n, src in net.stim_sources.items()
                    if any(str(k).startswith("play.") for k in src.params))
    if played:
        out.append(f"stim sources {played[:3]}: a waveform played into the stim (Vector.play; "
                   "CoreNEURON transfers only continuous play into section mechanisms)")
    col = "params.dynamicRates.intervals"
    if col in net.cells and len(net.cells):
        values = net.cells[col]
        lengths = values.lengths() if hasattr(values, "lengths") else np.zeros(0)
        if np.any(lengths > 0):
            out.append("dynamicRates: Vector.play into NetStim.interval (CoreNEURON transfers "
                       "only continuous play into section mechanisms; NEURON aborts)")
    return out


def _runtime_reasons(h: Any) -> list[str]:
    out = []
    cv = h.CVode()
    if cv.active():
        out.append("cvode is active: CoreNEURON has only the fixed-step method")
    if cv.use_local_dt():
        out.append("cvode local time steps are on")
    for name in sorted(NEURON_ONLY_BUILTIN - {"extracellular", "fastpas", "LinearMechanism"}):
        if hasattr(h, name) and int(h.List(name).count()) > 0:
            out.append(f"the model has {name} objects, which CoreNEURON lacks")
    if int(h.List("LinearMechanism").count()) > 0:
        out.append("the model has LinearMechanism objects")
    for sec in h.allsec():
        if sec.has_membrane("extracellular"):
            out.append(f"section {sec.name()} has the extracellular mechanism")
            break
    return out


# ---------------------------------------------------------------------------- mechanisms
@dataclass(frozen=True)
class CoreMechs:
    """A mechanism library built with ``nrnivmodl -coreneuron``."""

    nrnmech: Path  # for NEURON: h.nrn_load_dll
    corenrnmech: Path  # for CoreNEURON: $CORENEURONLIB
    names: tuple[str, ...]  # mechanisms its .mod files declare


def compile_mechanisms(mod_files: dict[str, str]) -> CoreMechs:
    """Compile (once, cached by content) the .mod sources for NEURON and CoreNEURON."""
    names = tuple(sorted(set().union(*(declared_mechanisms(t) for t in mod_files.values()))))
    folder = build_in_cache(mod_files, args=["-coreneuron", "."], variant="core",
                            done=lambda f: _find_libs(f, names) is not None)
    libs = _find_libs(folder, names)
    if libs is None:  # pragma: no cover - build_in_cache checked it
        raise SimulationError(f"nrnivmodl -coreneuron produced no libraries in {folder}")
    return libs


def _core_target(mod_files: dict[str, str]) -> Path:
    """The cache folder of these sources' ``nrnivmodl -coreneuron`` build."""
    return cache_dir() / cache_key(mod_files, "core")


def _find_libs(folder: Path, names: tuple[str, ...]) -> CoreMechs | None:
    for arch in folder.glob("*/libcorenrnmech.so") if folder.is_dir() else []:
        nrn = arch.parent / "libnrnmech.so"
        if nrn.exists():
            return CoreMechs(nrn, arch, names)
    return None


def prepare_mechanisms(h: Any, net: Network, mods: dict[str, str] | None = None
                       ) -> CoreMechs | None:
    """Like :func:`nethub.sim.mechanisms.prepare_mechanisms` (use one or the other, before any
    mechanism is loaded), but compiled for CoreNEURON too, loaded into NEURON and announced to
    CoreNEURON through ``$CORENEURONLIB``. ``None`` when the model needs no .mod file.
    ``mods``: the .mod sources to build (default: the model's, plus bundled VecStim if used)."""
    density, point = required_mechanisms(net)
    mods = model_mod_files(net, set(density) | set(point)) if mods is None else mods
    libs = None
    if mods:
        libs = compile_mechanisms(mods)
        load_library(h, libs.nrnmech, mods)
        os.environ["CORENEURONLIB"] = str(libs.corenrnmech)
    have = _mech_names(h, 0) | _mech_names(h, 1)
    missing = [f"'{m}' (used by {w})" for m, w in {**density, **point}.items() if m not in have]
    if missing:
        raise MissingMechanismError(missing_message(missing))
    return libs


_PROBE = r"""
import json, os, sys
from neuron import h, coreneuron
nrnmech, corenrnmech, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
h.nrn_load_dll(nrnmech)
os.environ["CORENEURONLIB"] = corenrnmech
pc = h.ParallelContext()
sec = h.Section(name="probe")
sec.insert("hh")
pc.set_gid2node(0, 0)
pc.cell(0, h.NetCon(sec(0.5)._ref_v, None, sec=sec))
keep = []
for name in names:
    mt = h.MechanismType(1)
    mt.select(name)
    ref = h.ref("")
    index = mt.selected(ref)
    if ref[0] != name:  # not a point process (select keeps the last selection)
        sec.insert(name)
    elif mt.is_artificial(index):
        keep.append(getattr(h, name)())
    else:
        keep.append(getattr(h, name)(sec(0.5)))
h.CVode().cache_efficient(1)
h.finitialize(-65)
coreneuron.enable = True
coreneuron.verbose = 0
pc.psolve(4 * h.dt)
print("PROBE-OK")
"""


def probe_mechanisms(libs: CoreMechs, names: list[str] | None = None,
                     timeout: float = 300) -> tuple[bool, str]:
    """Instantiate each mechanism once and take a few CoreNEURON steps in a subprocess (a
    failing transfer aborts the process, so it cannot be tried in the simulating one)."""
    names = list(libs.names if names is None else names)
    env = dict(os.environ)
    env.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    env.pop("CORENEURONLIB", None)
    for k in list(env):
        if k.startswith(("PMI_", "HYDRA_", "OMPI_", "MPI_LOCAL")):
            env.pop(k)
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(libs.nrnmech),
                               str(libs.corenrnmech), json.dumps(names)],
                              capture_output=True, text=True, env=env, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return False, f"the CoreNEURON probe of {names} did not finish in {timeout:g} s"
    text = proc.stdout + proc.stderr
    if proc.returncode == 0 and "PROBE-OK" in text:
        return True, f"CoreNEURON ran {', '.join(names)}"
    errors = [line.strip() for line in text.splitlines()
              if "rror" in line or "ssert" in line or "does not exist" in line]
    detail = "; ".join(errors[:4]) or f"exit code {proc.returncode}"
    return False, f"CoreNEURON cannot run {', '.join(names)}: {detail}"


def probe_cached(libs: CoreMechs, names: list[str]) -> tuple[bool, str]:
    """:func:`probe_mechanisms`, its answer kept beside the compiled libraries (one probe per
    mod set and mechanism list, ever)."""
    names = sorted(names)
    # "2": the probe tells density mechanisms from point processes by name since
    key = hashlib.sha256(("2\0" + "\0".join(names)).encode()).hexdigest()[:12]
    path = libs.corenrnmech.parent.parent / f"probe-{key}.json"
    try:
        ok, why = json.loads(path.read_text())
        return bool(ok), str(why)
    except (OSError, ValueError):
        pass
    ok, why = probe_mechanisms(libs, names)
    try:
        path.write_text(json.dumps([ok, why]))
    except OSError:  # a read-only cache: probe again next time
        logger.debug("could not write %s", path)
    return ok, why


# ---------------------------------------------------------------------------- choosing
#: NetPyNE simConfig key of ``RunConfig.engine`` (named in messages): ``'auto'`` (default:
#: CoreNEURON when the model allows it), ``True`` (CoreNEURON, an error naming the reasons when
#: it cannot) or ``False`` (NEURON); mapped by :func:`nethub.specs.runmap.engine_mode`.
CFG_KEY = "nethubCoreneuron"


@dataclass
class EngineChoice:
    """Which simulator runs the model, and why (written to the run's meta)."""

    mode: str  # 'auto', 'coreneuron' (forced) or 'neuron' (forced)
    core: bool  # CoreNEURON runs
    reason: str

    def meta(self) -> dict[str, str]:
        return {"engine": "coreneuron" if self.core else "neuron", "engine_mode": self.mode,
                "engine_reason": self.reason}


def _agree(pc: Any, ok: bool, why: str) -> tuple[bool, str]:
    """All ranks' answers combined: eligible only if every rank is, with every reason."""
    if pc is None or int(pc.nhost()) == 1:
        return ok, why
    whys = pc.py_allgather("" if ok else why)
    bad = [r for w in whys if w for r in w.split("; ")]
    return (True, why) if not bad else (False, "; ".join(dict.fromkeys(bad)))


def choose_engine(h: Any, pc: Any, net: Network, config: RunConfig) -> EngineChoice:
    """Decide before the model is built (collective over the ranks) and, when CoreNEURON is
    chosen, compile (rank 0 first), probe and load its mechanisms; otherwise load nothing
    (use :func:`nethub.sim.mechanisms.prepare_mechanisms`).

    Raises
    ------
    SimulationError
        CoreNEURON is forced (``nethubCoreneuron=True`` or ``coreneuron=True``) but the model
        cannot run on it; the message lists every reason.
    """
    mode = config.engine
    if mode == "neuron":
        return EngineChoice(mode, False, f"simConfig {CFG_KEY}=False")
    ok, why = _agree(pc, *coreneuron_eligible(net, config, traces_per_step=True))
    if ok:
        ok, why = _core_mechanisms(h, pc, net, "the model is eligible for CoreNEURON")
    return _decided(mode, ok, why)


def _decided(mode: str, ok: bool, why: str) -> EngineChoice:
    if ok:
        return EngineChoice(mode, True, why)
    if mode == "coreneuron":
        raise SimulationError(f"CoreNEURON was requested (simConfig {CFG_KEY}=True or "
                              f"coreneuron=True) but cannot run this model: {why}")
    return EngineChoice(mode, False, why)


def _core_mechanisms(h: Any, pc: Any, net: Network, why: str) -> tuple[bool, str]:
    """Compile and probe on rank 0, then load on every rank; (False, reason) if that fails."""
    used = used_mechanisms(net, pc)
    mods = fastsyn.plan(used, model_mod_files(net, used))  # the same on every rank
    used |= {fastsyn.NAME} if fastsyn.FILE in mods else set()
    ok, clash = _agree(pc, *_library_clash(_core_target(mods) if mods else None))
    if not ok:
        return False, clash
    if mods:
        def build() -> tuple[bool, str]:
            failed = _core_target(mods).with_suffix(".failed")  # NMODL's refusal, kept
            if failed.exists():
                raise SimulationError(failed.read_text())
            try:
                libs = compile_mechanisms(mods)
            except SimulationError as exc:
                with contextlib.suppress(OSError):
                    failed.write_text(str(exc))
                raise
            names = sorted(used & set(libs.names))
            return probe_cached(libs, names) if names else (True, "")

        try:
            ok, probe = on_rank0(pc, build)
        except SimulationError as exc:
            return False, _short(str(exc))
        if not ok:
            return False, probe
    if fastsyn.apply(net, mods):  # same arithmetic, fewer exp: said in the run's meta
        why += f"; its {fastsyn.BUILTIN} synapses run as {fastsyn.NAME} (nethub.sim.fastsyn)"
    prepare_mechanisms(h, net, mods)
    return True, why


#: the CoreNEURON mechanism library this process loaded (CoreNEURON dlopens one, at the first
#: CoreNEURON psolve, and keeps it: a later $CORENEURONLIB is not read)
_PROCESS: dict[str, str] = {}


def _library_clash(needed: Path | None) -> tuple[bool, str]:
    """Whether this process can run a model needing the library built in folder ``needed``
    (None: only CoreNEURON's built-in mechanisms, which every library has) on CoreNEURON."""
    loaded = _PROCESS.get("library")
    if loaded is None and _coreneuron_loaded():
        loaded = "a mechanism library loaded outside nethub"
    if loaded is None or needed is None or Path(loaded).is_relative_to(needed):
        return True, ""
    return False, (f"this process already ran CoreNEURON with {loaded}, and CoreNEURON loads "
                   "one mechanism library per process; simulate in a new process (nethub "
                   "run, or nethub.simulate from a fresh Python)")


def _coreneuron_loaded() -> bool:
    import ctypes

    try:
        ctypes.CDLL(None).corenrn_embedded_run  # noqa: B018 - a lookup, for its error
    except AttributeError:
        return False
    return True


def _short(message: str) -> str:
    """A compiler failure in two lines: what failed and its last error message."""
    lines = message.splitlines()
    errors = [line.strip() for line in lines[1:] if "error" in line.lower()
              and not line.lstrip().startswith(("make", "subprocess", "raise"))]
    return lines[0].rstrip(":") + (f": {errors[-1]}" if errors else "")


def confirm_engine(h: Any, pc: Any, choice: EngineChoice) -> EngineChoice:
    """After the model is built: NEURON's own state (cvode, NEURON-only objects, extracellular)
    checked on every rank. The mechanisms loaded for CoreNEURON serve NEURON as well."""
    if not choice.core:
        return choice
    reasons = _runtime_reasons(h)
    ok, why = _agree(pc, not reasons, "; ".join(reasons))
    return choice if ok else _decided(choice.mode, False, why)


# ---------------------------------------------------------------------------- running
@contextmanager
def enabled(*, gpu: bool = False, verbose: int = 0) -> Iterator[None]:
    """``pc.psolve`` calls inside run on CoreNEURON; plain NEURON again afterwards."""
    from neuron import coreneuron

    if "library" not in _PROCESS and not _coreneuron_loaded():  # this psolve will load it
        _PROCESS["library"] = os.environ.get("CORENEURONLIB") or "its built-in mechanisms"
    coreneuron.enable = True
    coreneuron.gpu = bool(gpu)
    coreneuron.verbose = int(verbose)
    try:
        yield
    finally:
        coreneuron.enable = False


def psolve(h: Any, pc: Any, tstop: float, *, gpu: bool = False, verbose: int = 0) -> None:
    """``pc.psolve(tstop)`` on CoreNEURON.

    Call it where ``pc.psolve`` would be called: after ``cvode.cache_efficient(1)`` (which
    must come before ``h.finitialize``), ``pc.set_maxstep``, ``pc.setup_transfer`` and
    ``h.finitialize(v_init)``. ``coreneuron.enable`` is switched off again afterwards so that
    later NEURON runs in this process are plain.
    """
    if not h.CVode().cache_efficient():
        raise SimulationError("CoreNEURON needs cvode.cache_efficient(1) before finitialize")
    with enabled(gpu=gpu, verbose=verbose):
        pc.psolve(float(tstop))
