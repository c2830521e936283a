"""NeuroML2 / LEMS networks of abstract cells -> canonical :class:`Network` + :class:`RunConfig`.

Populations (sizes, instance locations) of abstract cells and spike sources
(:mod:`nethub.converters.neuroml_cells`: one-section cells holding the POINT_PROCESS jNeuroML
generates), chemical projections (``connection`` / ``connectionWD``) onto the generated
synapse mechanisms, input lists (``input`` / ``inputW``) and explicit inputs of current,
clamp and synaptic input sources, LEMS run settings and output files. Works on the
already-read objects (a ``LemsModel`` and an ``NmodlResult`` of :mod:`nethub.formats.neuroml`,
duck-typed: converters do not import formats). Anything not carried (detailed cells, ...) is a
reported loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..celltypes import Population, StimSource, SynMech
from ..embedded import EmbeddedFile
from ..errors import FormatError
from ..network import Network
from ..runconfig import CellSelection, RunConfig, TraceRequest
from ..table import Table
from . import nml_cells_net
from .neuroml_cells import ABSTRACT_CELLS, SECTION, SOURCE_CELLS, cell_type, components
from .neuroml_inputs import TIMED, timed_rows, timed_source
from .neuroml_outputs import OUTPUTS_KEY, output_requests
from .neuroml_pointcell import point_cells, without_cells
from .neuroml_pointers import POINTER_SYNAPSES, pointer_rows

__all__ = ["ABSTRACT_CELLS", "SECTION", "to_network"]

_SYNAPSES = ("exp_one_synapses", "exp_two_synapses", "exp_three_synapses", "alpha_synapses",
             "alpha_current_synapses", "blocking_plastic_synapses", "double_synapses",
             "exp_cond_synapses", "alpha_cond_synapses", "exp_curr_synapses",
             "alpha_curr_synapses")
#: Input components imported as stim sources (point processes on the target cell's soma);
#: random ones draw from per-instance NEURON-9 streams seeded by the simulator
#: (:mod:`nethub.sim.randomids`).
_SOURCES = ("pulse_generators", "pulse_generator_dls", "sine_generators", "sine_generator_dls",
            "ramp_generators", "ramp_generator_dls", "compound_inputs", "compound_input_dls",
            "voltage_clamps", "voltage_clamp_triples", "timed_synaptic_inputs",
            "poisson_firing_synapses", "transient_poisson_firing_synapses")


@dataclass
class _Ctx:
    lost: list[str]
    mods: dict[str, str]


def _note(lost: list[str], what: str, n: int) -> None:
    if n:
        lost.append(f"{what} ({n})")


def _cells(net: Any, types: dict, ctx: _Ctx) -> tuple[Table, dict[str, np.ndarray], dict]:
    """The cells table and the gid of each population's instance ids."""
    cols: dict[str, list] = {k: [] for k in ("gid", "pop", "cell_type", "x", "y", "z",
                                             "nml.population", "nml.instance",
                                             "source_pop", "source_id")}
    gids: dict[str, dict[int, int]] = {}
    pops: dict[str, Population] = {}
    for pop in net.populations.values():
        if pop.component not in types:
            _note(ctx.lost, f"population {pop.id!r}: cell {pop.component!r} is not an "
                  "abstract cell nethub imports yet; not carried", pop.size)
            continue
        start = len(cols["gid"])
        ids = np.asarray(pop.ids, dtype=np.int64)
        gids[pop.id] = {int(i): start + k for k, i in enumerate(ids)}
        loc = pop.locations if pop.locations is not None else np.zeros((len(ids), 3))
        cols["gid"] += range(start, start + len(ids))
        cols["pop"] += [pop.id] * len(ids)
        cols["cell_type"] += [pop.component] * len(ids)
        for k, axis in enumerate("xyz"):
            cols[axis] += np.asarray(loc, dtype=np.float64)[:, k].tolist()
        cols["nml.population"] += [pop.id] * len(ids)
        cols["nml.instance"] += ids.tolist()
        cols["source_pop"] += [pop.id] * len(ids)  # the format-neutral source identity
        cols["source_id"] += ids.tolist()
        pops[pop.id] = Population(name=pop.id, cell_type=pop.component, size=len(ids))
    arrays = {k: np.asarray(v, dtype=np.float64) if k in "xyz" else
              (np.asarray(v, dtype=np.int64) if k in ("gid", "nml.instance", "source_id") else v)
              for k, v in cols.items()}
    arrays["source_format"] = ["neuroml"] * len(arrays["gid"])
    return Table(arrays), gids, pops


def _gid_of(gids: dict[str, dict[int, int]], pop: str, cells: np.ndarray, where: str
            ) -> np.ndarray:
    table = gids[pop]  # cell id -> gid; looked up for all cells at once
    ids = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
    order = np.argsort(ids, kind="stable")
    cells = np.asarray(cells, dtype=np.int64).reshape(-1)
    pos = np.minimum(np.searchsorted(ids[order], cells), max(len(ids) - 1, 0))
    found = ids[order][pos] == cells if len(ids) else np.zeros(len(cells), dtype=bool)
    if not found.all():
        bad = int(cells[np.flatnonzero(~found)[0]])
        raise FormatError(f"{where}: no cell {bad} in population {pop!r}")
    gid = np.fromiter(table.values(), dtype=np.int64, count=len(table))
    return gid[order][pos]


def _connections(net: Any, gids: dict, syns: dict, pointers: dict, ctx: _Ctx
                 ) -> tuple[Table, Table]:
    """Chemical connections, and the pointer connections of electrical / continuous
    projections (:mod:`nethub.converters.neuroml_pointers`)."""
    parts: list[dict[str, Any]] = []
    ptr: list[dict[str, Any]] = []
    for proj in net.projections.values():
        n = len(proj.columns["id"])
        if proj.pre_population not in gids or proj.post_population not in gids:
            _note(ctx.lost, f"projection {proj.id!r}: between cells not carried; dropped", n)
            continue
        known = pointers if proj.kind != "chemical" else syns
        needed = [proj.synapse] + ([proj.pre_component] if proj.kind == "continuous" else [])
        missing = [m for m in needed if m not in known]
        if missing:
            _note(ctx.lost, f"{proj.kind} projection {proj.id!r}: synapse {missing[0]!r} is "
                  "not one nethub imports (or has no NMODL); dropped", n)
            continue
        c, where = proj.columns, f"projection {proj.id!r}"
        pre = _gid_of(gids, proj.pre_population, c["pre_cell"], where)
        post = _gid_of(gids, proj.post_population, c["post_cell"], where)
        if proj.kind != "chemical":
            ptr += pointer_rows(proj, pre, post, pointers, SECTION)
            continue
        parts.append({"pre_gid": pre, "post_gid": post,
                      "syn_mech": [proj.synapse] * n, "post_sec": [SECTION] * n,
                      "post_loc": np.full(n, 0.5), "weight": np.asarray(c["weight"], float),
                      "delay": np.asarray(c["delay"], float),
                      "rule": [proj.id] * n})
    return _concat(parts), _concat(ptr)


def _concat(parts: list[dict[str, Any]]) -> Table:
    """One table of row blocks; a column missing from a block is NaN (numbers) or None."""
    if not parts:
        return Table()
    keys = list(dict.fromkeys(k for p in parts for k in p))
    numeric = {k for p in parts for k, v in p.items() if isinstance(v, np.ndarray)}
    out: dict[str, Any] = {}
    for key in keys:
        vals = []
        for p in parts:
            n = len(p["gid"] if "gid" in p else p["pre_gid"])
            vals.append(p.get(key, np.full(n, np.nan) if key in numeric else [None] * n))
        out[key] = np.concatenate(vals) if key in numeric else sum((list(v) for v in vals), [])
    return Table(out)


def _stims(net: Any, gids: dict, sources: dict, timed: dict, ctx: _Ctx) -> Table:
    parts: list[dict[str, Any]] = []
    for il in net.input_lists.values():
        n = len(il.columns["id"])
        if il.population not in gids or il.component not in {**sources, **timed}:
            _note(ctx.lost, f"input list {il.id!r}: source {il.component!r} or its cells "
                  "not carried; dropped", n)
            continue
        where = f"input list {il.id!r}"
        targets = _gid_of(gids, il.population, il.columns["target_cell"], where)
        if il.component in timed:
            parts.append(timed_rows(timed[il.component], targets,
                                    _weights(il.columns["weight"]), il.id, SECTION))
            continue
        # inputW: jNeuroML sets the input's 'weight' (1 for plain inputs)
        parts.append({"source": [il.component] * n,
                      "param.weight": _weights(il.columns["weight"]), "gid": targets,
                      "sec": [SECTION] * n, "loc": np.full(n, 0.5), "rule": [il.id] * n})
    parts += _explicit_inputs(net.explicit_inputs, gids, sources, ctx)
    return _concat(parts)


def _weights(values: Any) -> np.ndarray:
    """inputW weights as the stim's ``weight`` parameter; NaN (not set: the mechanism's
    default 1) where the weight is 1, so that inputs without a ``weight`` keep working."""
    w = np.asarray(values, dtype=np.float64)
    return np.where(w == 1.0, np.nan, w)


def _explicit_inputs(inputs: list, gids: dict, sources: dict, ctx: _Ctx) -> list[dict]:
    kept = [e for e in inputs if e.population in gids and e.input in sources]
    _note(ctx.lost, "explicitInput: source or cell not carried; dropped",
          len(inputs) - len(kept))
    if not kept:
        return []
    n = len(kept)
    return [{"source": [e.input for e in kept],
             "gid": np.array([_gid_of(gids, e.population, np.array([e.cell]),
                                      "explicitInput")[0] for e in kept], dtype=np.int64),
             "param.weight": np.full(n, np.nan),
             "sec": [SECTION] * n, "loc": np.full(n, 0.5), "rule": ["explicitInput"] * n}]


def _output_files(sim: Any, pops: dict) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ef in sim.event_output_files:
        names = sorted({s.select.split("/")[0].split("[")[0] for s in ef.selections} & set(pops))
        out.append({"path": ef.file_name, "kind": "events", "format": ef.format.lower(),
                    "cells": {"populations": names},
                    "selections": [{"id": s.id, "select": s.select, "port": s.event_port}
                                   for s in ef.selections]})
    for of in sim.output_files:
        out.append({"path": of.file_name, "kind": "traces", "format": "lems-dat",
                    "columns": [{"id": c.id, "trace": c.quantity.split("/")[-1],
                                 "quantity": c.quantity} for c in of.columns]})
    return out


def _trace_requests(traces: dict) -> tuple[TraceRequest, ...]:
    """The OutputFile columns (simConfig ``recordTraces`` entries) as trace requests, each on
    its one cell."""
    owners = {"pointp": "point_process", "synMech": "syn_mech", "mech": "mech"}
    out = []
    for label, e in traces.items():
        kw = {owners[k]: e[k] for k in owners if k in e}
        out.append(TraceRequest(label=label, variable=e["var"], sec=e["sec"], loc=e["loc"],
                                index=int(e.get("index", 0)),
                                cells=CellSelection(gids=tuple(e["conds"]["gid"])), **kw))
    return tuple(out)


def _run_config(sim: Any, pops: dict, traces: dict, files: list[dict]) -> RunConfig:
    """The LEMS run as a RunConfig (stored as ``Network.run_config``). ``invert_y`` off:
    jNeuroML's ``position(x, y, z)`` adds ``y`` to the 3-D points (NetPyNE subtracts it), and
    NEURON's float32 points then round as jNeuroML's do (ACnet2: identical traces)."""
    if sim is None:  # a NeuroML file without a LEMS Simulation: nethub's defaults
        return RunConfig(record_spikes=CellSelection(all=True), invert_y=False)
    seeds = {} if sim.seed is None else {"lems": int(sim.seed)}
    gids = sorted({g for e in traces.values() for g in e["conds"]["gid"]})
    return RunConfig(duration=float(sim.length_ms), dt=float(sim.step_ms), seeds=seeds,
                     record_spikes=CellSelection(all=True), traces=_trace_requests(traces),
                     trace_cells=CellSelection(gids=tuple(gids)),
                     record_step=float(sim.step_ms), invert_y=False,
                     extras={"output_files": _output_files(sim, pops), OUTPUTS_KEY: files})


def _embedded(files: list[Path], root: Path, role_of) -> dict[str, EmbeddedFile]:
    out = {}
    for f in files:
        name = f"neuroml/{f.resolve().relative_to(root).as_posix()}"
        out[name] = EmbeddedFile(name=name, role=role_of(f), original_name=str(f),
                                 data=f.read_bytes())
    return out


def _source_files(lems: Any) -> dict[str, EmbeddedFile]:
    files = [Path(lems.path), *[Path(p) for p in lems.includes]]
    files += [Path(p) for p in lems.neuroml.files if Path(p) not in files]
    files = list(dict.fromkeys(f.resolve() for f in files))
    common = Path(str(Path(files[0]).parent))
    for f in files:
        while not str(f).startswith(str(common)):
            common = common.parent
    root = common
    lems_path = Path(lems.path).resolve()
    return _embedded(files, root, lambda f: "lems" if f == lems_path else "neuroml")


def to_network(lems: Any, nmodl: Any, network: str | None = None
               ) -> tuple[Network, RunConfig, list[str]]:
    """A network of abstract NeuroML cells and its run configuration.

    Parameters
    ----------
    lems : nethub.formats.neuroml.LemsModel
        The LEMS Simulation read by ``read_lems`` (or any object with its ``path``,
        ``simulation`` (None: no LEMS file, default run settings), ``includes`` and
        ``neuroml`` attributes).
    nmodl : nethub.formats.neuroml.NmodlResult
        Its mechanisms (``generate_nmodl``); every file becomes ``Network.mod_files`` and an
        embedded file of role ``mod``.
    network : str, optional
        The network id (default: the simulation's target).

    Returns
    -------
    (Network, RunConfig, list of str)
        The network, its run configuration, and the losses.
    """
    sim = lems.simulation
    nets = lems.neuroml.networks
    net_id = network or (sim.target if sim is not None else next(iter(nets), None))
    if net_id not in nets:
        raise FormatError(f"{lems.path}: no network {net_id!r} (networks: {sorted(nets)})")
    net = nets[net_id]
    ctx = _Ctx(lost=[], mods={Path(k).stem: v for k, v in nmodl.mod_files.items()})
    used = {p.component for p in net.populations.values()}
    points = {cid: c for cid, c in point_cells(
        [lems.path, *lems.includes, *lems.neuroml.files]).items() if cid in used}
    doc = without_cells(lems.neuroml.document, points)  # <cell type="pointCellCondBased">
    types = {cid: cell_type(c, ctx.mods) for cid, c in components(doc, ABSTRACT_CELLS).items()
             if cid in used}
    types.update({cid: cell_type(c, ctx.mods, source=True)
                  for cid, c in components(doc, SOURCE_CELLS).items() if cid in used})
    types.update(nml_cells_net.detailed_types(doc, net, ctx.lost))  # nml-cells: detailed cells
    types.update({cid: cell_type(c, ctx.mods) for cid, c in points.items()})
    syns = {s: SynMech(name=s, model=nml_cells_net.safe_name(s))  # <id>_nml2 for built-in names
            for s in components(doc, _SYNAPSES) if nml_cells_net.safe_name(s) in ctx.mods}
    timed = components(doc, (TIMED,))
    sources = {s: StimSource(name=s, model=nml_cells_net.safe_name(s))  # IClamp_nml2
               for s in components(doc, _SOURCES) if nml_cells_net.safe_name(s) in ctx.mods}
    pointers = {k: type(c).__name__ for k, c in components(doc, POINTER_SYNAPSES).items()
                if k in ctx.mods}
    syns.update({k: SynMech(name=k, model=k) for k in pointers})
    cells, gids, pops = _cells(net, types, ctx)
    conns, ptr = _connections(net, gids, syns, pointers, ctx)
    files = _source_files(lems)
    detailed = frozenset(k for k, t in types.items() if "nml.segments" in (t.tags or {}))
    where = SimpleNamespace(cells=cells, cell_types=types)  # what trace_target reads
    traces, outputs = ({}, []) if sim is None else output_requests(
        sim, gids, {p.id: p.component for p in net.populations.values()}, ctx.mods, ctx.lost,
        detailed=lambda q: nml_cells_net.trace_spec(where, q), detailed_components=detailed)
    stim_sources = {**sources, **{k: timed_source(c) for k, c in timed.items()}}
    out = Network(cell_types=types, syn_mechs=syns, populations=pops, stim_sources=stim_sources,
                  cells=cells, connections=conns, pointer_conns=ptr,
                  stim_targets=_stims(net, gids, sources, timed, ctx),
                  mod_files=dict(nmodl.mod_files), files=files,
                  provenance={"source_format": "neuroml", "network": net_id,
                              "lems": str(lems.path)})
    run = _run_config(sim, pops, traces, outputs)
    run = nml_cells_net.place_on_segments(out, net, doc, run, ctx.lost)  # nml-cells: (sec, x)
    if sim is not None:  # the LEMS run travels with the model (Network.run_config)
        out.run_config = run
    return out, run, ctx.lost
