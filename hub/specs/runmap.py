"""NetPyNE's ``simConfig`` mapped onto :class:`nethub.runconfig.RunConfig` by a declared table.

:data:`NETPYNE_RUN_TABLE` has one row per simConfig key the simulator honours: the RunConfig
field it becomes, its unit, the value used when a simConfig lacks the key (what nethub's
simulator always did), and what is lost. Every other simConfig key is kept verbatim with the
run (``RunConfig.native``, stored as the run's ``sim_config``), e.g. ``analysis`` for the
figures. NetPyNE's own defaults (:data:`NETPYNE_SEEDS`, :data:`NETPYNE_HPARAMS`) are declared
here, from the simConfig catalogue, for the builder and the converters.

The faces call :func:`merged_simconfig` (stored simConfig + a run's overrides) and
:func:`runconfig_from_netpyne`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..celltypes import jsonable
from ..errors import SpecError
from ..runconfig import CellSelection, LfpRequest, RunConfig, TraceRequest
from .schema import SIMCONFIG_KEYS

__all__ = ["NETPYNE_RUN_TABLE", "NETPYNE_UNMAPPED", "UNMAPPED_KINDS", "ABSENT",
           "RunRow", "NETPYNE_SEEDS", "NETPYNE_HPARAMS", "EXACT_KEY",
           "MERGE_KEY", "CORE_KEY", "merged_simconfig", "runconfig_from_netpyne",
           "selection_from_netpyne", "traces_from_netpyne", "engine_mode", "is_exact",
           "apply_exact"]

#: NetPyNE's default seeds (``cfg.seeds``) and ``hParams``, declared once for every layer
NETPYNE_SEEDS: dict[str, int] = dict(SIMCONFIG_KEYS["seeds"].default)
NETPYNE_HPARAMS: dict[str, float] = dict(SIMCONFIG_KEYS["hParams"].default)

#: nethub's own simConfig keys
EXACT_KEY = "nethubExact"
MERGE_KEY = "nethubMergeSynapses"
CORE_KEY = "nethubCoreneuron"


@dataclass(frozen=True)
class RunRow:
    """One simConfig key the simulator honours."""

    key: str  # simConfig key
    field: str  # RunConfig field path
    unit: str
    absent: Any  # used when the simConfig lacks the key
    lost: str = ""  # what RunConfig does not keep ("" if nothing)


NETPYNE_RUN_TABLE: tuple[RunRow, ...] = (
    RunRow("duration", "duration", "ms", 1000.0),
    RunRow("dt", "dt", "ms", 0.025),
    RunRow("hParams.celsius", "temperature", "degC", NETPYNE_HPARAMS["celsius"]),
    RunRow("hParams.v_init", "v_init", "mV", NETPYNE_HPARAMS["v_init"]),
    RunRow("hParams.*", "neuron_globals", "", {"clamp_resist": NETPYNE_HPARAMS["clamp_resist"]}),
    RunRow("seeds", "seeds", "", {}, "seeds not given stay unset (DEFAULT_SEED at run time)"),
    RunRow("recordCellsSpikes", "record_spikes", "", -1),
    RunRow("recordCells", "trace_cells", "", []),
    RunRow("analysis.plotTraces.include", "trace_cells", "", [],
           "the figure itself stays in native (drawn by nethub run)"),
    RunRow("recordTraces", "traces", "", {}),
    RunRow("recordStep", "record_step", "ms", 0.1,
           "one interval for every trace and the LFP (RunConfig traces may have their own)"),
    RunRow("recordLFP", "lfp.electrodes", "um", []),
    RunRow("recordDipole", "lfp.dipole", "", False),
    RunRow("saveLFPCells", "lfp.lfp_cells", "", False),
    RunRow("saveLFPPops", "lfp.lfp_pops", "", False),
    RunRow("saveDipoleCells", "lfp.dipole_cells", "", False),
    RunRow("saveDipolePops", "lfp.dipole_pops", "", False),
    RunRow("saveIMembrane", "lfp.imembrane_cells", "", False),
    RunRow("nethubLFPMethod", "lfp.method", "", "line"),
    RunRow("nethubLFPSigma", "lfp.sigma", "S/m", 0.3),
    RunRow("nethubCoreneuron", "engine", "", "auto"),
    RunRow("coreneuron", "engine", "", False, "True forces CoreNEURON unless nethubCoreneuron"),
    RunRow("nethubExact", "exact", "", False),
    RunRow("nethubMergeSynapses", "merge_synapses", "", True),
    RunRow("oneSynPerNetcon", "share_synapses", "", True, "inverted: False shares synapses"),
    RunRow("gpu", "gpu", "", False),
    RunRow("cvode_active", "cvode_active", "", False),
    RunRow("cvode_atol", "cvode_atol", "", 0.001),
    RunRow("cache_efficient", "cache_efficient", "", False),
    RunRow("rand123GlobalIndex", "random123_global_index", "", None),
    RunRow("random123", "netstim_random123", "", False),
    RunRow("pt3dRelativeToCellLocation", "pt3d_relative_to_cell", "", True),
    RunRow("invertedYCoord", "invert_y", "", True),
    RunRow("progressBar", "progress_bar", "", None, "0/1/2 (transient/persistent): a flag"),
    RunRow("printRunTime", "print_run_time", "", False, "an interval (s): a flag"),
)

#: Why a simConfig key of the catalogue has no row in :data:`NETPYNE_RUN_TABLE`
UNMAPPED_KINDS = ("build", "analysis", "output", "not-simulated", "derived")

_BUILD = "read when the spec is built (nethub.builder); the store holds its effect"
_OUTPUT = "NetPyNE's own output files and printing; nethub writes the run into the store"
_UNSUPPORTED = "reported when asked for (nethub.specs.unsupported; run meta not_simulated)"

#: simConfig key -> (kind, reason) for every catalogued key the run table does not map; with the
#: table it covers :data:`nethub.specs.schema.SIMCONFIG_KEYS` exactly (tests/unit)
NETPYNE_UNMAPPED: dict[str, tuple[str, str]] = {
    "allowConnsWithWeight0": ("build", _BUILD),
    "allowSelfConns": ("build", _BUILD),
    "connRandomSecFromList": ("build", _BUILD),
    "distributeSynsUniformly": ("build", _BUILD),
    "createNEURONObj": ("build", "checked with the spec; the simulator always creates NEURON "
                                 "objects"),
    "createPyStruct": ("build", "the builder always writes the canonical tables"),
    "compactConnFormat": ("build", "a layout of NetPyNE's Python structures; the store has its "
                                   "own"),
    "includeParamsLabel": ("build", "the connections table always keeps the rule label"),
    "validateNetParams": ("build", "nethub always validates a spec when it builds it"),
    "validateNetParamsMechs": ("build", "nethub always validates a spec when it builds it"),
    "checkErrors": ("build", "nethub always validates a spec when it builds it"),
    "checkErrorsVerbose": ("build", "nethub always validates a spec when it builds it"),
    "printSynsAfterRule": ("build", "a build-time printout; nethub logs instead"),
    "printPopAvgRates": ("analysis", "nethub.analysis computes rates from the stored spikes"),
    "timing": ("analysis", "every run stores its seconds per phase (results timing)"),
    "saveTiming": ("analysis", "every run stores its seconds per phase (results timing)"),
    "verbose": ("output", "logging level: nethub -v / -vv"),
    "exitOnError": ("output", "nethub raises errors; it never exits"),
    "backupCfgFile": ("output", _OUTPUT),
    "filename": ("output", _OUTPUT),
    "saveFolder": ("output", _OUTPUT),
    "simLabel": ("output", _OUTPUT),
    "timestampFilename": ("output", _OUTPUT),
    "intervalFolder": ("output", _OUTPUT),
    "saveCSV": ("output", _OUTPUT),
    "saveCellConns": ("output", _OUTPUT),
    "saveCellSecs": ("output", _OUTPUT),
    "saveDat": ("output", _OUTPUT),
    "saveDataInclude": ("output", _OUTPUT),
    "saveDpk": ("output", _OUTPUT),
    "saveHDF5": ("output", _OUTPUT),
    "saveJson": ("output", _OUTPUT),
    "saveMat": ("output", _OUTPUT),
    "savePickle": ("output", _OUTPUT),
    "saveTxt": ("output", _OUTPUT),
    "gatherOnlySimData": ("output", "rank 0 always gathers the simulated data only"),
    "recordSpikesGids": ("output", "spikes are always stored with their gids"),
    "recordTime": ("output", "traces are always stored with their sample times"),
    "addSynMechs": ("not-simulated", _UNSUPPORTED),
    "use_local_dt": ("not-simulated", _UNSUPPORTED),
    "recordDipolesHNN": ("not-simulated", _UNSUPPORTED),
    "recordStim": ("not-simulated", _UNSUPPORTED),
    "saveWeights": ("not-simulated", _UNSUPPORTED),
    "dump_coreneuron_model": ("not-simulated", _UNSUPPORTED),
    "tstop": ("derived", "NetPyNE sets it from duration (RunConfig.duration)"),
    "use_fast_imem": ("derived", "switched on whenever the run records LFP, dipoles or "
                                 "membrane currents (RunConfig.lfp)"),
}


#: simConfig key -> the value used when a simConfig lacks it (the table's ``absent`` column)
ABSENT: dict[str, Any] = {row.key: row.absent for row in NETPYNE_RUN_TABLE}


# -------------------------------------------------------------------------------- exact
def is_exact(cfg: Mapping[str, Any] | None) -> bool:
    """Whether ``cfg`` (a simConfig dict) asks for exact mode (:mod:`nethub.sim.exact`).

    Raises
    ------
    SpecError
        ``nethubExact`` is not a boolean.
    """
    val = (cfg or {}).get(EXACT_KEY, False)
    if not isinstance(val, (bool, np.bool_)):
        raise SpecError(f"simConfig['{EXACT_KEY}']: {val!r} is not valid (valid: True, False)")
    return bool(val)


def apply_exact(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` with exact mode's settings when it asks for it (unchanged otherwise).

    Raises
    ------
    SpecError
        Exact mode together with ``nethubMergeSynapses=True``, ``nethubCoreneuron=True`` or
        NetPyNE's ``coreneuron=True``: they contradict each other.
    """
    if not is_exact(cfg):
        return cfg
    clashes = [f"{k}={cfg[k]!r}" for k in (MERGE_KEY, CORE_KEY, "coreneuron")
               if cfg.get(k) is True]
    if clashes:
        raise SpecError(f"simConfig['{EXACT_KEY}']=True (NetPyNE's spikes bit for bit: one "
                        f"synapse per connection on NEURON) contradicts {', '.join(clashes)}")
    return {**cfg, MERGE_KEY: False, CORE_KEY: False}


def engine_mode(cfg: Mapping[str, Any]) -> str:
    """``'auto'``, ``'coreneuron'`` or ``'neuron'``: simConfig ``nethubCoreneuron`` if set, else
    NetPyNE's ``coreneuron: True`` forces CoreNEURON, else ``'auto'``."""
    val = cfg.get(CORE_KEY, "auto")
    if val is None or (isinstance(val, str) and val == "auto"):
        return "coreneuron" if cfg.get("coreneuron") is True else "auto"
    if isinstance(val, (bool, np.bool_)):
        return "coreneuron" if val else "neuron"
    raise SpecError(f"simConfig['{CORE_KEY}']: {val!r} is not valid (valid: 'auto', True, False)")


# ------------------------------------------------------------------------------ merging
def merged_simconfig(stored: Mapping | None, overrides: Mapping | None) -> dict[str, Any]:
    """The simConfig a run uses: the stored one updated with the run's overrides, with
    ``duration``, ``dt`` and ``hParams`` completed and exact mode applied."""
    base = dict(stored or {})
    base.update(overrides or {})
    base.setdefault("duration", ABSENT["duration"])
    base.setdefault("dt", ABSENT["dt"])
    hp = dict(NETPYNE_HPARAMS)
    hp.update(base.get("hParams") or {})
    base["hParams"] = hp
    return apply_exact(base)


# ------------------------------------------------------------------------------ mapping
def selection_from_netpyne(spec: Any) -> CellSelection:
    """NetPyNE's cell selection (``recordCells``: gids, population names, ``(pop, index)``,
    ``'all'``/``'allCells'``, or a list of them) as a :class:`CellSelection`."""
    if spec is None or spec is False or (hasattr(spec, "__len__") and len(spec) == 0):
        return CellSelection()
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        items = [spec]
    every, gids, pops, pairs = False, [], [], []
    for item in items:
        if isinstance(item, str) and item in ("all", "allCells"):
            every = True
        elif isinstance(item, (int, np.integer)):
            gids.append(int(item))
        elif isinstance(item, str):
            pops.append(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            idx = item[1] if isinstance(item[1], (list, tuple)) else [item[1]]
            pairs.append((item[0], tuple(int(i) for i in idx)))
    return CellSelection(all=every, gids=tuple(gids), populations=tuple(pops),
                         pop_cells=tuple(pairs))


def _union(a: CellSelection, b: CellSelection) -> CellSelection:
    return CellSelection(all=a.all or b.all, gids=a.gids + b.gids,
                         populations=a.populations + b.populations,
                         pop_cells=a.pop_cells + b.pop_cells)


def _trace_cells(cfg: Mapping) -> CellSelection:
    """``recordCells`` plus the cells of ``analysis['plotTraces']['include']`` (else
    ``iplotTraces``), which NetPyNE's ``setupRecording`` records too."""
    analysis = cfg.get("analysis") or {}
    plot: Any = []
    for key in ("plotTraces", "iplotTraces"):
        if isinstance(analysis.get(key), dict) and "include" in analysis[key]:
            plot = analysis[key]["include"]
            break
    cells = selection_from_netpyne(cfg.get("recordCells"))
    return _union(cells, selection_from_netpyne(list(plot))) if plot else cells


_OWNERS = (("mech", "mech"), ("synMech", "syn_mech"), ("pointp", "point_process"),
           ("stim", "stim"))


def traces_from_netpyne(record_traces: Mapping | None) -> tuple[TraceRequest, ...]:
    """NetPyNE's ``recordTraces`` (label -> ``{'sec', 'loc', 'var', 'mech'|'synMech'|'pointp'|
    'stim', 'index', 'conds'}``) as trace requests."""
    out = []
    for label, spec in (record_traces or {}).items():
        where = f"simConfig.recordTraces[{label!r}]"
        if not isinstance(spec, Mapping):
            raise SpecError(f"{where}: expected a trace dict, got {type(spec).__name__}")
        kw = {field: str(spec[key]) for key, field in _OWNERS if key in spec}
        if "sec" in spec:
            kw["sec"] = spec["sec"]
        out.append(TraceRequest(label=label, variable=spec.get("var", "v"),
                                loc=float(spec.get("loc", 0.5)), index=int(spec.get("index", 0)),
                                conds=None if spec.get("conds") is None else dict(spec["conds"]),
                                **kw))
    return tuple(out)


def _pops(sel: Any) -> CellSelection:
    return CellSelection(all=True) if sel is True else CellSelection(
        populations=tuple(sel or []))


def _cells(sel: Any) -> CellSelection:
    return selection_from_netpyne(["all"] if sel is True else sel) if sel else CellSelection()


def _lfp(get) -> LfpRequest:
    elec = np.asarray(get("recordLFP") or [], dtype=float).reshape(-1, 3)
    return LfpRequest(
        electrodes=tuple(tuple(float(v) for v in row) for row in elec),
        dipole=bool(get("recordDipole")), method=get("nethubLFPMethod"),
        sigma=float(get("nethubLFPSigma")), lfp_cells=_cells(get("saveLFPCells")),
        dipole_cells=_cells(get("saveDipoleCells")),
        imembrane_cells=_cells(get("saveIMembrane")), lfp_pops=_pops(get("saveLFPPops")),
        dipole_pops=_pops(get("saveDipolePops")))


def _getter(cfg: Mapping):
    """``cfg[key]``, or the table's value for a simConfig that lacks the key."""
    return lambda key: cfg.get(key, ABSENT[key])


def runconfig_from_netpyne(cfg: Mapping[str, Any], run_meta: Mapping | None = None
                           ) -> RunConfig:
    """The :class:`RunConfig` of a run whose simConfig is ``cfg`` (as :func:`merged_simconfig`
    gives it: checked with :func:`nethub.specs.values.check_run_config` first).

    Parameters
    ----------
    cfg : Mapping
        The run's complete simConfig; kept verbatim as ``RunConfig.native``.
    run_meta : Mapping, optional
        Entries for the run's meta (e.g. ``{'not_simulated': [...]}``).
    """
    cfg = dict(cfg)
    hp = dict(cfg.get("hParams") or NETPYNE_HPARAMS)
    get = _getter(cfg)
    which = get("recordCellsSpikes")
    return RunConfig(
        duration=float(cfg["duration"]), dt=float(cfg["dt"]),
        temperature=hp.pop("celsius", NETPYNE_HPARAMS["celsius"]),
        v_init=hp.pop("v_init", NETPYNE_HPARAMS["v_init"]), neuron_globals=hp,
        seeds=jsonable(cfg.get("seeds") or {}),
        record_spikes=None if which == -1 or which is None else selection_from_netpyne(which),
        traces=traces_from_netpyne(cfg.get("recordTraces")), trace_cells=_trace_cells(cfg),
        record_step=float(get("recordStep")), lfp=_lfp(get),
        engine=engine_mode(cfg), exact=is_exact(cfg),
        merge_synapses=bool(get(MERGE_KEY)), share_synapses=get("oneSynPerNetcon") is False,
        gpu=bool(get("gpu")), cvode_active=bool(get("cvode_active")),
        cache_efficient=bool(get("cache_efficient")), cvode_atol=float(get("cvode_atol")),
        random123_global_index=int(get("rand123GlobalIndex") or 0),
        netstim_random123=bool(get("random123")),
        pt3d_relative_to_cell=bool(get("pt3dRelativeToCellLocation")),
        invert_y=bool(get("invertedYCoord")),
        progress_bar=bool(get("progressBar")), print_run_time=bool(get("printRunTime")),
        run_meta=dict(run_meta or {}), native=jsonable(copy.deepcopy(cfg)))
