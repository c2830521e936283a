"""Running a model on CoreNEURON (bundled in NEURON 9's wheel): can it, and how.

What was verified on NEURON 9.0.2 (wheel, CPU; see tests/simulation/test_coreneuron.py):

- The sequence ``cvode.cache_efficient(1)``, ``pc.set_maxstep(10)``, ``h.finitialize(v_init)``,
  ``coreneuron.enable = True``, ``pc.psolve(tstop)`` gives spikes identical to NEURON's (HH cells,
  ExpSyn/Exp2Syn, NetStims, ``pc.gid_connect``, 1 and 2 MPI ranks). The model is transferred
  after ``finitialize``: Python ``FInitializeHandler`` callbacks run in NEURON before the
  transfer and their effect is kept (per-section ``vinit``).
- CoreNEURON's own mechanisms are the 8 the wheel compiles in (:data:`CORENEURON_BUILTIN`).
  NEURON's other built-ins (IntFire1/2/4, AlphaSynapse, VClamp, APCount, ...) make ``psolve``
  abort the process ("mechanism does not exist").
- User .mod files (and nethub's VecStim) need ``nrnivmodl -coreneuron``, which builds both
  ``libnrnmech.so`` and ``libcorenrnmech.so`` (about a minute); NEURON loads the first with
  ``nrn_load_dll`` and CoreNEURON the second from ``$CORENEURONLIB`` (read at ``psolve``, so
  setting ``os.environ`` in the running process works). A library built without
  ``-coreneuron`` makes ``psolve`` abort. Some mod files compile but still abort at transfer
  ("X is a different MOD file than used by NEURON": files with POINTER variables, NetPyNE's
  izhi2007b.mod): :func:`probe_mechanisms` finds them in a subprocess.
- NetStim noise: ``noiseFromRandom123`` and ``noiseFromRandom`` with an ``h.Random`` set to
  ``Random123`` both work (NEURON 9's NetStim copies the Random123 stream ids either way).
- Gap junctions through ``pc.source_var``/``pc.target_var`` (ElectSyn) work.
- Not available: cvode (hoc error "CoreNEURON can only use fixed step method"); the
  extracellular mechanism (hoc error); ``Vector.play`` other than continuous
  (``play(ref, tvec, 1)``) into a section's mechanism — step play and any play into an
  artificial cell (NetPyNE's ``dynamicRates``) abort; NetCon spike sources on a point-process
  variable (hoc error "source not a voltage"); ``Vector.record`` with a recording step or time
  vector (only one sample comes back, nrn#2101: record every step, ``vec.record(ref)``, and
  keep every k-th sample); ``cvode.event`` Python callbacks during the run (silently never
  called).

:func:`coreneuron_eligible` checks a model before it is run; :func:`prepare_mechanisms`
compiles and loads the mechanisms for CoreNEURON instead of
:func:`nethub.sim.mechanisms.prepare_mechanisms`; :func:`psolve` runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..errors import MissingMechanismError, SimulationError
from ..network import Network
from .mechanisms import BUNDLED, _mech_names, _nrnivmodl, cache_dir, required_mechanisms

__all__ = ["CORENEURON_BUILTIN", "NEURON_ONLY_BUILTIN", "CoreMechs", "coreneuron_eligible",
           "compile_mechanisms", "prepare_mechanisms", "probe_mechanisms", "psolve",
           "available"]

logger = logging.getLogger(__name__)

#: Mechanisms in the wheel's CoreNEURON library (share/modfile: exp2syn, expsyn, hh, netstim,
#: passive, pattern, stim, svclmp); ions are built in too.
CORENEURON_BUILTIN = frozenset({"hh", "pas", "ExpSyn", "Exp2Syn", "NetStim", "PatternStim",
                                "IClamp", "SEClamp"})
#: NEURON built-ins that CoreNEURON lacks (psolve aborts or raises).
NEURON_ONLY_BUILTIN = frozenset({"IntFire1", "IntFire2", "IntFire4", "AlphaSynapse", "VClamp",
                                 "OClamp", "APCount", "extracellular", "fastpas",
                                 "PointProcessMark", "LinearMechanism"})
_MECH_DECL = re.compile(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_]\w*)")


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
def coreneuron_eligible(net: Network, cfg: dict[str, Any], h: Any = None, *,
                        traces_per_step: bool = False) -> tuple[bool, str]:
    """Whether CoreNEURON can run this (rank's) model, with every reason it cannot.

    Parameters
    ----------
    net : Network
        The model (a rank's part of it is enough; reduce the answer over the ranks, e.g.
        ``pc.allreduce(ok, 3)``, so that all ranks choose alike).
    cfg : dict
        The simConfig (``cvode_active``, ``gpu``, ``recordTraces``, ``recordStep``, ``dt``, ...).
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
    reasons += _config_reasons(cfg, net, traces_per_step)
    reasons += _mechanism_reasons(net)
    reasons += _model_reasons(net)
    if h is not None:
        reasons += _runtime_reasons(h)
    if reasons:
        return False, "; ".join(dict.fromkeys(reasons))
    density, point = required_mechanisms(net)
    custom = sorted((set(density) | set(point)) & set(_user_mechanisms(net)))
    note = (f" (user mechanisms {', '.join(custom)} need nrnivmodl -coreneuron: "
            "nethub.sim.coreneuron.prepare_mechanisms)" if custom else "")
    return True, "eligible for CoreNEURON" + note


def _config_reasons(cfg: dict[str, Any], net: Network, per_step: bool) -> list[str]:
    out = []
    if cfg.get("cvode_active"):
        out.append("cvode_active: CoreNEURON has only the fixed-step method")
    if cfg.get("gpu"):
        from neuron import config

        if not config.arguments.get("CORENRN_ENABLE_GPU", False):
            out.append("gpu: this NEURON's CoreNEURON was built without GPU support")
    if _records_traces(net, cfg):
        step, dt = float(cfg.get("recordStep", 0.1)), float(cfg.get("dt", 0.025))
        if not per_step:
            out.append("recordTraces with Vector.record(ref, recordStep): CoreNEURON returns "
                       "only one sample (nrn#2101); record every step and keep every k-th")
        elif abs(step / dt - round(step / dt)) > 1e-9:
            out.append(f"recordStep {step} is not a multiple of dt {dt}")
    for key in ("recordLFP", "recordDipole", "recordDipolesHNN"):
        if cfg.get(key):
            out.append(f"{key}: needs Python calls during the run, which CoreNEURON skips")
    return out


def _records_traces(net: Network, cfg: dict[str, Any]) -> bool:
    if not cfg.get("recordTraces"):
        return False
    try:
        from .record import trace_gids
    except ImportError:  # pragma: no cover - record.py is always there
        return True
    return len(trace_gids(net, cfg)) > 0


def _user_mechanisms(net: Network) -> dict[str, str]:
    """Mechanism name → mod file name, for the model's .mod files (plus bundled VecStim)."""
    out = {}
    for fname, text in net.mod_files.items():
        for name in _MECH_DECL.findall(_strip(text)):
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
        if used & set(_MECH_DECL.findall(_strip(text))):
            out += [f"{fname}: {r}" for r in _mod_file_reasons(text)]
    return out


def _strip(text: str) -> str:
    text = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
    return re.sub(r":[^\n]*", "", text)


def _mod_file_reasons(text: str) -> list[str]:
    """Known blockers in an NMODL source (the probe finds the rest)."""
    code = _strip(text)
    neuron_block = re.search(r"\bNEURON\s*\{([^}]*)\}", code)
    out = []
    if neuron_block and re.search(r"\bPOINTER\b", neuron_block.group(1)):
        out.append("POINTER variables (CoreNEURON aborts: 'different MOD file'; use "
                   "pc.target_var with a RANGE variable, or BBCOREPOINTER)")
    verbatim = " ".join(re.findall(r"(?ms)\bVERBATIM\b(.*?)\bENDVERBATIM\b", code))
    if re.search(r"\b(nrn_random_pick|nrn_random_arg|hoc_Random|nrn_get_random_arg|"
                 r"random_pick)\b", verbatim):
        out.append("draws from a HOC Random object in VERBATIM (CoreNEURON needs Random123 "
                   "through RANDOM or nrnran123)")
    outside = re.sub(r"(?ms)\bVERBATIM\b.*?\bENDVERBATIM\b", "", code)
    if re.search(r"\b(scop_random|exprand|normrand|unirand)\s*\(", outside):
        out.append("uses NEURON's scop random generator (CoreNEURON needs Random123)")
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
    h = hashlib.sha256(b"coreneuron\0")
    for name in sorted(mod_files):
        h.update(name.encode() + b"\0" + mod_files[name].encode() + b"\0")
    target = cache_dir() / f"{h.hexdigest()[:20]}-core"
    names = tuple(sorted({n for t in mod_files.values() for n in _MECH_DECL.findall(_strip(t))}))
    libs = _find_libs(target, names)
    if libs is not None:
        return libs
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".core.") as tmp:
        for name, text in mod_files.items():
            (Path(tmp) / Path(name).name).write_text(text)
        proc = subprocess.run([_nrnivmodl(), "-coreneuron", "."], cwd=tmp, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise SimulationError(f"nrnivmodl -coreneuron failed for {sorted(mod_files)}:\n"
                                  f"{tail}")
        try:
            os.replace(tmp, target)
        except OSError:  # another process won the race; use its result
            pass
    libs = _find_libs(target, names)
    if libs is None:
        raise SimulationError(f"nrnivmodl -coreneuron produced no libraries in {target}")
    logger.info("compiled %d mechanism file(s) for CoreNEURON into %s", len(mod_files), target)
    return libs


def _find_libs(folder: Path, names: tuple[str, ...]) -> CoreMechs | None:
    for arch in folder.glob("*/libcorenrnmech.so") if folder.is_dir() else []:
        nrn = arch.parent / "libnrnmech.so"
        if nrn.exists():
            return CoreMechs(nrn, arch, names)
    return None


_LOADED: dict[str, CoreMechs] = {}


def prepare_mechanisms(h: Any, net: Network) -> CoreMechs | None:
    """Like :func:`nethub.sim.mechanisms.prepare_mechanisms` (use one or the other, before any
    mechanism is loaded), but compiled for CoreNEURON too, loaded into NEURON and announced to
    CoreNEURON through ``$CORENEURONLIB``. ``None`` when the model needs no .mod file."""
    density, point = required_mechanisms(net)
    mods = dict(net.mod_files)
    declared = {n for t in mods.values() for n in _MECH_DECL.findall(_strip(t))}
    for name, fname in BUNDLED.items():
        if name in point and name not in declared:
            mods[fname] = (Path(__file__).parent / "mod" / fname).read_text()
    libs = None
    if mods:
        libs = compile_mechanisms(mods)
        if str(libs.nrnmech) not in _LOADED:
            h.nrn_load_dll(str(libs.nrnmech))
            _LOADED[str(libs.nrnmech)] = libs
        os.environ["CORENEURONLIB"] = str(libs.corenrnmech)
    have = _mech_names(h, 0) | _mech_names(h, 1)
    missing = [f"'{m}' (used by {w})" for m, w in {**density, **point}.items() if m not in have]
    if missing:
        raise MissingMechanismError(
            "unknown NEURON mechanism(s): " + "; ".join(missing)
            + ". Add their .mod files to the model (Network.mod_files) and run again.")
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
    if mt.selected() >= 0 and mt.is_artificial(mt.selected()):
        keep.append(getattr(h, name)())
    elif mt.selected() >= 0:
        keep.append(getattr(h, name)(sec(0.5)))
    else:
        sec.insert(name)
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


# ---------------------------------------------------------------------------- running
def psolve(h: Any, pc: Any, tstop: float, *, gpu: bool = False, verbose: int = 0) -> None:
    """``pc.psolve(tstop)`` on CoreNEURON.

    Call it where ``pc.psolve`` would be called: after ``cvode.cache_efficient(1)`` (which
    must come before ``h.finitialize``), ``pc.set_maxstep``, ``pc.setup_transfer`` and
    ``h.finitialize(v_init)``. ``coreneuron.enable`` is switched off again afterwards so that
    later NEURON runs in this process are plain.
    """
    from neuron import coreneuron

    if not h.CVode().cache_efficient():
        raise SimulationError("CoreNEURON needs cvode.cache_efficient(1) before finitialize")
    coreneuron.enable = True
    coreneuron.gpu = bool(gpu)
    coreneuron.verbose = int(verbose)
    try:
        pc.psolve(float(tstop))
    finally:
        coreneuron.enable = False
