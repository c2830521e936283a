"""The run configuration: what a simulation of a canonical network does, in neutral terms.

:class:`RunConfig` is what the simulator (:mod:`nethub.sim`) consumes: duration, time step,
temperature, initial voltage, seeds, recording requests (spikes, traces, LFP/dipoles), engine
choice, synapse merging and solver options. It is validated on construction (errors name the
field path) and round-trips through :meth:`RunConfig.to_dict` / :meth:`RunConfig.from_dict`
exactly (JSON-able); every run stores the one it used (``results/<run>/run_config``).

Formats map their own run documents onto it at the faces: NetPyNE's ``simConfig`` through the
declared table :data:`nethub.specs.runmap.NETPYNE_RUN_TABLE`; SONATA's simulation config and a
LEMS ``Simulation`` map onto the same fields (docs/simulate.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .errors import SpecError

__all__ = ["RunConfig", "CellSelection", "TraceRequest", "LfpRequest", "ENGINES",
           "LFP_METHODS", "DEFAULT_SEED", "COST_MODELS", "normal_variable"]

#: ``engine`` values: CoreNEURON when the model allows it, NEURON, or CoreNEURON (forced)
ENGINES = ("auto", "neuron", "coreneuron")
#: ``LfpRequest.method`` values (see :mod:`nethub.sim.lfp`)
LFP_METHODS = ("line", "point", "root")
#: ``cost_model`` values: per-mechanism work estimates, or segments + incoming connections
#: (:func:`nethub.sim.partition.estimate_costs`)
COST_MODELS = ("work", "count")
#: the value of a named seed a run does not give (NetPyNE's default for each of its seeds)
DEFAULT_SEED = 1


# ------------------------------------------------------------------------------ checks
def _fail(path: str, what: str, value: Any) -> SpecError:
    return SpecError(f"{path}: expected {what}, got {type(value).__name__} {value!r}")


def _number(value: Any, path: str, *, positive: bool = False, nonneg: bool = False) -> float:
    what = "positive number" if positive else "non-negative number" if nonneg else "number"
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, what, value)
    if not math.isfinite(value) or (positive and not value > 0) or (nonneg and value < 0):
        raise _fail(path, f"finite {what}", value)
    return float(value)


def _flag(value: Any, path: str) -> bool:
    if type(value).__name__ not in ("bool", "bool_"):
        raise _fail(path, "True or False", value)
    return bool(value)


def _int(value: Any, path: str) -> int:
    if isinstance(value, np.integer):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, "whole number", value)
    return int(value)


def _name(value: Any, path: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _fail(path, "non-empty string", value)
    return value


def _jsonable(value: Any, path: str) -> Any:
    """``value`` as JSON gives it back (tuples become lists); SpecError if it is not JSON."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{path}: not JSON-compatible ({exc})") from None


def _json_dict(value: Any, path: str) -> dict:
    if not isinstance(value, Mapping):
        raise _fail(path, "dict", value)
    return _jsonable(dict(value), path)


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


# ---------------------------------------------------------------------------- selections
@dataclass(frozen=True)
class CellSelection:
    """Cells chosen by population names, gids and (population, cell index) pairs (a union),
    or all cells.

    Attributes
    ----------
    all : bool
    gids : tuple of int
    populations : tuple of str
    pop_cells : tuple of (str, tuple of int)
        A population and indices of cells within it (the cells' ``source_id``).
    """

    all: bool = False
    gids: tuple[int, ...] = ()
    populations: tuple[str, ...] = ()
    pop_cells: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        self.check("CellSelection")

    def check(self, path: str) -> None:
        _set(self, "all", _flag(self.all, f"{path}.all"))
        _set(self, "gids", tuple(_int(g, f"{path}.gids[{i}]") for i, g in enumerate(self.gids)))
        _set(self, "populations", tuple(_name(p, f"{path}.populations[{i}]")
                                        for i, p in enumerate(self.populations)))
        pairs = []
        for i, pair in enumerate(self.pop_cells):
            where = f"{path}.pop_cells[{i}]"
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise _fail(where, "[population, [indices]]", pair)
            pairs.append((_name(pair[0], where + "[0]"),
                          tuple(_int(j, f"{where}[1][{k}]") for k, j in enumerate(pair[1]))))
        _set(self, "pop_cells", tuple(pairs))

    def is_empty(self) -> bool:
        """Whether the selection chooses no cell at all."""
        return not (self.all or self.gids or self.populations or self.pop_cells)

    def to_dict(self) -> dict:
        return {"all": self.all, "gids": list(self.gids), "populations": list(self.populations),
                "pop_cells": [[p, list(ix)] for p, ix in self.pop_cells]}

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "CellSelection") -> CellSelection:
        data = _known(data, cls, path)
        return _built(cls, path, **data)


def _known(data: Any, cls: type, path: str) -> dict:
    if not isinstance(data, Mapping):
        raise _fail(path, "dict", data)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"{path}: unknown field(s) {', '.join(map(str, unknown))} "
                        f"(valid: {', '.join(sorted(names))})")
    return dict(data)


def _built(cls: type, path: str, **kw: Any) -> Any:
    """``cls(**kw)`` with errors naming ``path``."""
    obj = object.__new__(cls)
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        _set(obj, f.name, kw.get(f.name, default))
    obj.check(path)
    return obj


def _selection(value: Any, path: str, optional: bool = False) -> CellSelection | None:
    if value is None and optional:
        return None
    if isinstance(value, CellSelection):
        value.check(path)
        return value
    return CellSelection.from_dict(value, path)


# ------------------------------------------------------------------------------ traces
def normal_variable(name: str) -> str:
    """A variable name without NEURON's pointer prefix: ``'_ref_v'`` is ``'v'``."""
    return name[5:] if name.startswith("_ref_") and len(name) > 5 else name


@dataclass(frozen=True)
class TraceRequest:
    """One recorded variable on every selected cell (NetPyNE's ``recordTraces`` entry, a
    SONATA report, a LEMS ``OutputColumn``).

    Attributes
    ----------
    label : str
    variable : str
        NEURON name of the variable (``'v'``, ``'ina'``, ``'i'`` of a synapse, ...); NEURON's
        pointer spelling ``'_ref_v'`` is taken as ``'v'``.
    sec : str or None
        Section name; None: the cell itself (point cells), every synapse of ``syn_mech``, or
        (with ``all_segments``) every section.
    loc : float
        Position along the section (0..1).
    all_segments : bool
        Record at the centre of every segment of ``sec`` (of every section when ``sec`` is
        None) instead of at ``loc``.
    mech, syn_mech, point_process, stim : str or None
        The variable belongs to this density mechanism, synMech, point process or stimulus.
    index : int
        Which of several matching synapses/stimuli at the segment (the first: 0).
    conds : dict or None
        Cell conditions, as NetPyNE's ``conds`` (:func:`nethub.selection.match_conds`).
    cells : CellSelection or None
        Cells this trace is recorded on; None: ``RunConfig.trace_cells`` (``conds`` narrows
        either).
    step : float or None
        Sampling interval (ms, > 0); None: ``RunConfig.record_step``.
    start, end : float or None
        Keep the samples at times ``start <= t <= end`` (ms); None: from the start / to the
        end of the run.
    """

    label: str
    variable: str = "v"
    sec: str | None = None
    loc: float = 0.5
    mech: str | None = None
    syn_mech: str | None = None
    point_process: str | None = None
    stim: str | None = None
    index: int = 0
    conds: dict | None = None
    all_segments: bool = False
    cells: CellSelection | None = None
    step: float | None = None
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        self.check(f"TraceRequest[{self.label!r}]")

    def check(self, path: str) -> None:
        _name(self.label, f"{path}.label")
        _set(self, "variable", normal_variable(_name(self.variable, f"{path}.variable")))
        for key in ("sec", "mech", "syn_mech", "point_process", "stim"):
            _name(getattr(self, key), f"{path}.{key}", optional=True)
        loc = _number(self.loc, f"{path}.loc")
        if not 0 <= loc <= 1:
            raise _fail(f"{path}.loc", "number in [0, 1]", self.loc)
        _set(self, "loc", loc)
        _set(self, "index", _int(self.index, f"{path}.index"))
        if self.conds is not None:
            _set(self, "conds", _json_dict(self.conds, f"{path}.conds"))
        _set(self, "all_segments", _flag(self.all_segments, f"{path}.all_segments"))
        if self.all_segments and (self.syn_mech or self.point_process or self.stim):
            raise SpecError(f"{path}.all_segments: records a section or density mechanism "
                            "variable at every segment; not with syn_mech, point_process or "
                            "stim")
        _set(self, "cells", _selection(self.cells, f"{path}.cells", optional=True))
        if self.step is not None:
            _set(self, "step", _number(self.step, f"{path}.step", positive=True))
        for key in ("start", "end"):
            if getattr(self, key) is not None:
                _set(self, key, _number(getattr(self, key), f"{path}.{key}", nonneg=True))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise SpecError(f"{path}.end: {self.end} is before start {self.start}")

    @property
    def owners(self) -> tuple[str, ...]:
        """The mechanism / synMech / point process / stimulus names given, in that order."""
        return tuple(x for x in (self.mech, self.syn_mech, self.point_process, self.stim)
                     if x is not None)

    @property
    def recorded_name(self) -> str:
        """The name stored in the trace index: ``'<owner>.<variable>'`` or ``variable``."""
        var = self.variable
        for owner in self.owners:
            var = f"{owner}.{var}"
        return var

    def sampling(self, record_step: float) -> tuple[float, float | None, float | None]:
        """(interval, start, end) of this trace in a run whose ``record_step`` is given."""
        return (record_step if self.step is None else self.step, self.start, self.end)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["cells"] = None if self.cells is None else self.cells.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "TraceRequest") -> TraceRequest:
        data = _known(data, cls, path)
        if "label" not in data:
            raise SpecError(f"{path}.label: missing")
        return _built(cls, path, **data)


# --------------------------------------------------------------------------------- LFP
@dataclass(frozen=True)
class LfpRequest:
    """Extracellular recordings (LFPykit; :mod:`nethub.sim.lfp`).

    Attributes
    ----------
    electrodes : tuple of (x, y, z)
        Electrode positions (µm); empty: no LFP.
    dipole : bool
        Record the current dipole.
    method : str
        Line source (``'line'``), point source or root-point (:data:`LFP_METHODS`).
    sigma : float
        Extracellular conductivity (S/m).
    lfp_cells, dipole_cells, imembrane_cells : CellSelection
        Cells whose own LFP / dipole / transmembrane currents are kept.
    lfp_pops, dipole_pops : CellSelection
        Populations (``populations`` or ``all``) whose summed LFP / dipole is kept.
    """

    electrodes: tuple[tuple[float, float, float], ...] = ()
    dipole: bool = False
    method: str = "line"
    sigma: float = 0.3
    lfp_cells: CellSelection = field(default_factory=CellSelection)
    dipole_cells: CellSelection = field(default_factory=CellSelection)
    imembrane_cells: CellSelection = field(default_factory=CellSelection)
    lfp_pops: CellSelection = field(default_factory=CellSelection)
    dipole_pops: CellSelection = field(default_factory=CellSelection)

    def __post_init__(self) -> None:
        self.check("LfpRequest")

    def check(self, path: str) -> None:
        elec = []
        for i, xyz in enumerate(self.electrodes):
            where = f"{path}.electrodes[{i}]"
            if not isinstance(xyz, (list, tuple)) or len(xyz) != 3:
                raise _fail(where, "[x, y, z]", xyz)
            elec.append(tuple(_number(v, f"{where}[{k}]") for k, v in enumerate(xyz)))
        _set(self, "electrodes", tuple(elec))
        _set(self, "dipole", _flag(self.dipole, f"{path}.dipole"))
        _name(self.method, f"{path}.method")  # its value is checked where it is used
        _set(self, "sigma", _number(self.sigma, f"{path}.sigma", positive=True))
        for key in ("lfp_cells", "dipole_cells", "imembrane_cells", "lfp_pops", "dipole_pops"):
            _set(self, key, _selection(getattr(self, key), f"{path}.{key}"))

    def wanted(self) -> bool:
        """Whether anything extracellular is recorded (LFP, dipole or membrane currents)."""
        return bool(self.electrodes) or self.dipole or not self.imembrane_cells.is_empty()

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["electrodes"] = [list(e) for e in self.electrodes]
        for key in ("lfp_cells", "dipole_cells", "imembrane_cells", "lfp_pops", "dipole_pops"):
            out[key] = out[key].to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "LfpRequest") -> LfpRequest:
        return _built(cls, path, **_known(data, cls, path))


# ---------------------------------------------------------------------------- RunConfig
_ENGINE_FLAGS = ("exact", "merge_synapses", "share_synapses", "gpu", "cvode_active",
                 "cache_efficient", "netstim_random123", "pt3d_relative_to_cell",
                 "invert_y", "progress_bar", "print_run_time")


@dataclass(frozen=True)
class RunConfig:
    """A typed, validated run configuration (see the module docstring and docs/simulate.md).

    Attributes
    ----------
    duration : float
        Simulated time (ms, >= 0; 0 only instantiates).
    dt : float
        Integration time step (ms, > 0).
    temperature : float
        NEURON's ``celsius`` (°C).
    v_init : float
        Initial membrane potential (mV).
    neuron_globals : dict
        Further NEURON globals set before the run (e.g. ``clamp_resist``), in order.
    seeds : dict of str to number
        Named seeds (``stim``: NetStim noise; ``cell``: per-cell parameter draws); a missing
        one is :data:`DEFAULT_SEED`.
    spike_threshold : float or None
        Spike detection threshold (mV) of cells that declare none; None: the model's.
    record_spikes : CellSelection or None
        Cells whose spikes are recorded; None: every cell.
    traces : tuple of TraceRequest
    trace_cells : CellSelection
        Cells on which the traces are recorded (each trace further narrowed by its conds).
    record_step : float
        Sampling interval (ms, > 0) of traces and LFP.
    lfp : LfpRequest
    engine : str
        :data:`ENGINES`.
    exact : bool
        NetPyNE's spikes bit for bit (no merging, NEURON, round-robin deal; nethub.sim.exact).
    merge_synapses : bool
        Linear synapses of one type on one segment share one point process.
    share_synapses : bool
        Connections onto one synapse site share one point process (NetPyNE's
        ``oneSynPerNetcon=False``).
    gpu, cvode_active, cache_efficient : bool
        CoreNEURON on GPU; variable time step; NEURON's cache-efficient layout.
    cvode_atol : float
        Absolute tolerance of the variable step method.
    random123_global_index : int
        Global index of every Random123 stream.
    netstim_random123 : bool
        NetStim noise through ``noiseFromRandom123`` (else an ``h.Random``).
    pt3d_relative_to_cell, invert_y : bool
        3-D points are shifted to the cell position; y is depth (negated).
    progress_bar, print_run_time : bool
        Show a progress bar (rank 0 on a terminal); log the run time.
    nranks : int
        MPI ranks (>= 1) the run asks for; a stored run holds the number it ran on.
    timeout : float or None
        Seconds after which the launched job is stopped and the run fails; None: no limit.
    cost_model : str
        How cells are dealt to ranks by their estimated cost (:data:`COST_MODELS`; exact
        mode deals round robin).
    run_meta : dict
        Entries added to the run's meta as given (e.g. ``not_simulated``).
    native : dict
        The source format's own run document, kept with the run as ``sim_config``.
    extras : dict
        Format-specific leftovers no field holds (the simulator ignores them).
    """

    duration: float = 1000.0
    dt: float = 0.025
    temperature: float = 6.3
    v_init: float = -65.0
    neuron_globals: dict = field(default_factory=lambda: {"clamp_resist": 0.001})
    seeds: dict = field(default_factory=dict)
    spike_threshold: float | None = None
    record_spikes: CellSelection | None = None
    traces: tuple[TraceRequest, ...] = ()
    trace_cells: CellSelection = field(default_factory=CellSelection)
    record_step: float = 0.1
    lfp: LfpRequest = field(default_factory=LfpRequest)
    engine: str = "auto"
    exact: bool = False
    merge_synapses: bool = True
    share_synapses: bool = False
    gpu: bool = False
    cvode_active: bool = False
    cache_efficient: bool = False
    cvode_atol: float = 0.001
    random123_global_index: int = 0
    netstim_random123: bool = False
    pt3d_relative_to_cell: bool = True
    invert_y: bool = True
    progress_bar: bool = False
    print_run_time: bool = False
    nranks: int = 1
    timeout: float | None = None
    cost_model: str = "work"
    run_meta: dict = field(default_factory=dict)
    native: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check("RunConfig")

    def check(self, path: str = "RunConfig") -> None:
        """Validate and normalise every field; SpecError naming the field path."""
        _set(self, "duration", _number(self.duration, f"{path}.duration", nonneg=True))
        _set(self, "dt", _number(self.dt, f"{path}.dt", positive=True))
        _set(self, "record_step", _number(self.record_step, f"{path}.record_step",
                                          positive=True))
        for key in ("temperature", "v_init"):
            _set(self, key, _number(getattr(self, key), f"{path}.{key}"))
        _set(self, "cvode_atol", _number(self.cvode_atol, f"{path}.cvode_atol", nonneg=True))
        if self.spike_threshold is not None:
            _set(self, "spike_threshold", _number(self.spike_threshold,
                                                  f"{path}.spike_threshold"))
        glob = _json_dict(self.neuron_globals, f"{path}.neuron_globals")
        for k in glob:
            if k in ("celsius", "v_init"):
                raise SpecError(f"{path}.neuron_globals.{k}: set by "
                                f"{'temperature' if k == 'celsius' else 'v_init'}")
        _set(self, "neuron_globals", glob)
        seeds = _json_dict(self.seeds, f"{path}.seeds")
        for k, v in seeds.items():
            _number(v, f"{path}.seeds.{k}")
        _set(self, "seeds", seeds)
        _set(self, "record_spikes", _selection(self.record_spikes, f"{path}.record_spikes",
                                               optional=True))
        _set(self, "trace_cells", _selection(self.trace_cells, f"{path}.trace_cells"))
        _set(self, "traces", _traces(self.traces, f"{path}.traces"))
        lfp = self.lfp if isinstance(self.lfp, LfpRequest) else LfpRequest.from_dict(
            self.lfp, f"{path}.lfp")
        lfp.check(f"{path}.lfp")
        _set(self, "lfp", lfp)
        if self.engine not in ENGINES:
            raise _fail(f"{path}.engine", f"one of {', '.join(ENGINES)}", self.engine)
        for key in _ENGINE_FLAGS:
            _set(self, key, _flag(getattr(self, key), f"{path}.{key}"))
        if self.exact and (self.merge_synapses or self.engine != "neuron"):
            raise SpecError(f"{path}.exact: exact mode needs merge_synapses=False and "
                            f"engine='neuron' (got {self.merge_synapses}, {self.engine!r})")
        _set(self, "random123_global_index", _int(self.random123_global_index,
                                                  f"{path}.random123_global_index"))
        self._check_mpi(path)
        for key in ("run_meta", "native", "extras"):
            _set(self, key, _json_dict(getattr(self, key), f"{path}.{key}"))
        check_extras(self.extras, f"{path}.extras")

    def _check_mpi(self, path: str) -> None:
        nranks = _int(self.nranks, f"{path}.nranks")
        if nranks < 1:
            raise _fail(f"{path}.nranks", "whole number >= 1", self.nranks)
        _set(self, "nranks", nranks)
        if self.timeout is not None:
            _set(self, "timeout", _number(self.timeout, f"{path}.timeout", positive=True))
        if self.cost_model not in COST_MODELS:
            raise _fail(f"{path}.cost_model", f"one of {', '.join(COST_MODELS)}",
                        self.cost_model)

    # ------------------------------------------------------------------ helpers
    def seed(self, name: str) -> Any:
        """The named seed, :data:`DEFAULT_SEED` when not given."""
        return self.seeds.get(name, DEFAULT_SEED)

    def hoc_globals(self) -> dict[str, Any]:
        """Every NEURON global the run sets: ``celsius``, ``v_init`` and :attr:`neuron_globals`."""
        return {"celsius": self.temperature, "v_init": self.v_init, **self.neuron_globals}

    def records_traces(self) -> bool:
        return bool(self.traces)

    def trace_sampling(self) -> list[tuple[float, float | None, float | None]]:
        """The distinct (interval, start, end) of the traces, the run's own
        ``(record_step, None, None)`` first (the store's ``traces`` group), then in order of
        first use (``trace_groups``, docs/store.md §6)."""
        out = [(self.record_step, None, None)]
        for t in self.traces:
            key = t.sampling(self.record_step)
            if key not in out:
                out.append(key)
        return out

    # ------------------------------------------------------------------ (de)serialising
    def to_dict(self) -> dict:
        """A JSON-able dict; :meth:`from_dict` gives back an equal RunConfig."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["record_spikes"] = None if self.record_spikes is None else self.record_spikes.to_dict()
        out["trace_cells"] = self.trace_cells.to_dict()
        out["traces"] = [t.to_dict() for t in self.traces]
        out["lfp"] = self.lfp.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping, path: str = "RunConfig") -> RunConfig:
        """Build from :meth:`to_dict`'s output (missing fields take their defaults)."""
        return _built(cls, path, **_known(data, cls, path))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str, path: str = "RunConfig") -> RunConfig:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SpecError(f"{path}: not JSON ({exc})") from None
        return cls.from_dict(data, path)


def _traces(value: Any, path: str) -> tuple[TraceRequest, ...]:
    if not isinstance(value, (list, tuple)):
        raise _fail(path, "list of traces", value)
    out, seen = [], set()
    for i, t in enumerate(value):
        where = f"{path}[{i}]"
        t = t if isinstance(t, TraceRequest) else TraceRequest.from_dict(t, where)
        t.check(where)
        if t.label in seen:
            raise SpecError(f"{where}.label: {t.label!r} is used twice")
        seen.add(t.label)
        out.append(t)
    return tuple(out)


# ------------------------------------------------------------------------- output files
#: ``extras['output_files'][i]['kind']`` values: sampled columns, or spike events
OUTPUT_KINDS = ("traces", "events")


def check_extras(extras: Mapping, path: str = "RunConfig.extras") -> None:
    """Check the documented part of ``extras``: ``output_files``, the files a run document asks
    for (LEMS ``OutputFile``/``EventOutputFile``, SONATA ``output``); docs/simulate.md.

    Each entry is ``{"path": str, "kind": "traces"|"events", "format": str (optional),
    "columns": [{"id": str, "trace": label, "gid": int (optional), "quantity": str (optional)},
    ...]}`` for traces, or ``{"path", "kind": "events", "format", "cells": CellSelection dict
    (optional), "ids": {gid: event id} (optional)}`` for spike events. Other keys of
    ``extras`` are free (the simulator ignores them all).
    """
    files = extras.get("output_files")
    if files is None:
        return
    where = f"{path}.output_files"
    if not isinstance(files, list):
        raise _fail(where, "list of output file dicts", files)
    for i, entry in enumerate(files):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise _fail(at, "dict", entry)
        _name(entry.get("path"), f"{at}.path")
        if entry.get("kind") not in OUTPUT_KINDS:
            raise _fail(f"{at}.kind", f"one of {', '.join(OUTPUT_KINDS)}", entry.get("kind"))
        if "format" in entry:
            _name(entry["format"], f"{at}.format")
        if "cells" in entry:
            CellSelection.from_dict(entry["cells"], f"{at}.cells")
        columns = entry.get("columns", [])
        if not isinstance(columns, list):
            raise _fail(f"{at}.columns", "list of column dicts", columns)
        for k, col in enumerate(columns):
            _check_column(col, f"{at}.columns[{k}]")


def _check_column(col: Any, at: str) -> None:
    if not isinstance(col, Mapping):
        raise _fail(at, "dict", col)
    _name(col.get("id"), f"{at}.id")
    _name(col.get("trace"), f"{at}.trace")
    if "gid" in col:
        _int(col["gid"], f"{at}.gid")
    if "quantity" in col:
        _name(col["quantity"], f"{at}.quantity")
