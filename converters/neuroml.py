"""NeuroML2 / LEMS networks of abstract cells -> canonical :class:`Network` + :class:`RunConfig`.

The first slice of issue 13: populations (sizes, instance locations), abstract point cells
(``izhikevich2007Cell``, ``iafCell``, ``iafRefCell``, ``izhikevichCell``) as one-section cells
holding the POINT_PROCESS jNeuroML generates (``L = diam = 10 µm``, ``cm`` from the cell's
``C`` as jNeuroML computes it), chemical projections (``connection`` / ``connectionWD``) onto
the generated synapse mechanisms, input lists of current / spike sources, LEMS run settings
and output files. Works on the already-read objects (a ``LemsModel`` and an ``NmodlResult`` of
:mod:`nethub.formats.neuroml`, duck-typed: converters do not import formats). Anything not
carried (detailed cells, electrical / continuous projections, explicit inputs) is a loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, Population, Section, StimSource, SynMech
from ..embedded import EmbeddedFile
from ..errors import FormatError
from ..network import Network
from ..runconfig import CellSelection, RunConfig
from ..table import Table
from . import nml_cells_net

__all__ = ["ABSTRACT_CELLS", "SECTION", "to_network"]

#: NeuroML abstract cell elements imported as point cells (libNeuroML document attributes).
ABSTRACT_CELLS = ("izhikevich2007_cells", "iaf_cells", "iaf_ref_cells", "izhikevich_cells")
#: Name of the one section of an abstract cell (jNeuroML's section is the population's).
SECTION = "soma"
#: jNeuroML's section for abstract cells: L = diam = 10 µm.
_SIDE_UM = 10.0
#: jNeuroML's cm (µF/cm²) for an ``izhikevichCell`` (no capacitance of its own).
_IZH_CM = 318.31
_SYNAPSES = ("exp_one_synapses", "exp_two_synapses")
#: Input components imported as stim sources: deterministic current sources only. Random
#: sources (poissonFiringSynapse, ...) need per-instance stream ids the simulator does not set
#: yet; they are reported as losses.
_SOURCES = ("pulse_generators",)
_DETAILED = ("cells",)


@dataclass
class _Ctx:
    lost: list[str]
    mods: dict[str, str]


def _capacitance_pf(cell: Any) -> float | None:
    """The cell's ``C`` in pF, None when it has none (``izhikevichCell``)."""
    text = getattr(cell, "C", None)
    if text is None:
        return None
    units = {"pF": 1.0, "nF": 1e3, "uF": 1e6, "F": 1e12}
    for unit in sorted(units, key=len, reverse=True):
        if str(text).strip().endswith(unit):
            return float(str(text).strip()[: -len(unit)]) * units[unit]
    raise FormatError(f"cell {cell.id!r}: capacitance C={text!r} has an unknown unit")


def _threshold_mv(cell: Any) -> float:
    """jNeuroML's spike-detection threshold: ``thresh`` of iaf cells, else 0 mV."""
    text = getattr(cell, "thresh", None)
    if text is None or type(cell).__name__ == "IzhikevichCell":
        return 0.0
    units = {"mV": 1.0, "V": 1e3}
    for unit in ("mV", "V"):
        if str(text).strip().endswith(unit):
            return float(str(text).strip()[: -len(unit)]) * units[unit]
    raise FormatError(f"cell {cell.id!r}: threshold thresh={text!r} has an unknown unit")


def _cell_type(cell: Any, ctx: _Ctx) -> CompartmentalCell:
    if cell.id not in ctx.mods:
        raise FormatError(f"cell {cell.id!r}: jNeuroML generated no NMODL for it")
    area = math.pi * _SIDE_UM * _SIDE_UM
    cpf = _capacitance_pf(cell)
    geom: dict[str, Any] = {"L": _SIDE_UM, "diam": _SIDE_UM}
    # jNeuroML: cm (µF/cm²) = C / area, so that the section's capacitance is the cell's C
    # izhikevichCell has no C: jNeuroML uses cm = 318.31 (org.neuroml.export issue 60)
    geom["cm"] = cpf * 100.0 / area if cpf is not None else _IZH_CM
    pp = {"label": cell.id, "mod": cell.id, "loc": 0.5}
    thr = _threshold_mv(cell)
    sec = Section(geom=geom, point_processes=[pp], threshold=thr)
    return CompartmentalCell(name=cell.id, sections={SECTION: sec}, spike_source=(SECTION, 0.5),
                             threshold=thr, mod_files=[f"{cell.id}.mod"],
                             tags={"nml.type": type(cell).__name__})


def _components(doc: Any, attrs: tuple[str, ...]) -> dict[str, Any]:
    return {c.id: c for a in attrs for c in getattr(doc, a, None) or []}


def _note(lost: list[str], what: str, n: int) -> None:
    if n:
        lost.append(f"{what} ({n})")


def _cells(net: Any, types: dict, ctx: _Ctx) -> tuple[Table, dict[str, np.ndarray], dict]:
    """The cells table and the gid of each population's instance ids."""
    cols: dict[str, list] = {k: [] for k in ("gid", "pop", "cell_type", "x", "y", "z",
                                             "nml.population", "nml.instance")}
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
        pops[pop.id] = Population(name=pop.id, cell_type=pop.component, size=len(ids))
    arrays = {k: np.asarray(v, dtype=np.float64) if k in "xyz" else
              (np.asarray(v, dtype=np.int64) if k in ("gid", "nml.instance") else v)
              for k, v in cols.items()}
    return Table(arrays), gids, pops


def _gid_of(gids: dict[str, dict[int, int]], pop: str, cells: np.ndarray, where: str
            ) -> np.ndarray:
    table = gids[pop]
    try:
        return np.array([table[int(c)] for c in cells], dtype=np.int64)
    except KeyError as exc:
        raise FormatError(f"{where}: no cell {exc.args[0]} in population {pop!r}") from None


def _connections(net: Any, gids: dict, syns: dict, ctx: _Ctx) -> Table:
    parts: list[dict[str, Any]] = []
    for proj in net.projections.values():
        if proj.kind != "chemical":
            _note(ctx.lost, f"{proj.kind} projection {proj.id!r}: not imported yet",
                  len(proj.columns["id"]))
            continue
        if proj.pre_population not in gids or proj.post_population not in gids:
            _note(ctx.lost, f"projection {proj.id!r}: between cells not carried; dropped",
                  len(proj.columns["id"]))
            continue
        if proj.synapse not in syns:
            _note(ctx.lost, f"projection {proj.id!r}: synapse {proj.synapse!r} is not an "
                  "expOne/expTwoSynapse; dropped", len(proj.columns["id"]))
            continue
        c, n = proj.columns, len(proj.columns["id"])
        where = f"projection {proj.id!r}"
        parts.append({"pre_gid": _gid_of(gids, proj.pre_population, c["pre_cell"], where),
                      "post_gid": _gid_of(gids, proj.post_population, c["post_cell"], where),
                      "syn_mech": [proj.synapse] * n, "post_sec": [SECTION] * n,
                      "post_loc": np.full(n, 0.5), "weight": np.asarray(c["weight"], float),
                      "delay": np.asarray(c["delay"], float),
                      "rule": [proj.id] * n})
    return _concat(parts)


def _concat(parts: list[dict[str, Any]]) -> Table:
    if not parts:
        return Table()
    out: dict[str, Any] = {}
    for key in parts[0]:
        vals = [p[key] for p in parts]
        out[key] = np.concatenate(vals) if isinstance(vals[0], np.ndarray) else sum(vals, [])
    return Table(out)


def _stims(net: Any, gids: dict, sources: dict, ctx: _Ctx) -> Table:
    parts: list[dict[str, Any]] = []
    for il in net.input_lists.values():
        n = len(il.columns["id"])
        if il.population not in gids or il.component not in sources:
            _note(ctx.lost, f"input list {il.id!r}: source {il.component!r} or its cells "
                  "not carried; dropped", n)
            continue
        weights = np.asarray(il.columns["weight"], float)
        if np.any(weights != 1.0):
            _note(ctx.lost, f"input list {il.id!r}: inputW weights not applied yet",
                  int(np.sum(weights != 1.0)))
        parts.append({"source": [il.component] * n,
                      "gid": _gid_of(gids, il.population, il.columns["target_cell"],
                                     f"input list {il.id!r}"),
                      "sec": [SECTION] * n, "loc": np.full(n, 0.5), "rule": [il.id] * n})
    parts += _explicit_inputs(net.explicit_inputs, gids, sources, ctx)
    return _concat(parts)


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


def _run_config(sim: Any, pops: dict, lost: list[str]) -> RunConfig:
    if sim is None:  # a NeuroML file without a LEMS Simulation: nethub's defaults
        return RunConfig(record_spikes=CellSelection(all=True))
    if sim.output_files:
        _note(lost, "LEMS OutputFile columns: trace requests not made yet (kept in "
              "extras['output_files'])", sum(len(o.columns) for o in sim.output_files))
    seeds = {} if sim.seed is None else {"lems": int(sim.seed)}
    return RunConfig(duration=float(sim.length_ms), dt=float(sim.step_ms), seeds=seeds,
                     record_spikes=CellSelection(all=True),
                     extras={"output_files": _output_files(sim, pops)})


def _run_spec(sim: Any) -> dict[str, Any] | None:
    """The LEMS run length and step as a stored simConfig (``Network.spec``), so that
    ``nethub run`` on the imported model (or its store) runs what the LEMS file asks for."""
    if sim is None:
        return None
    return {"simConfig": {"duration": float(sim.length_ms), "dt": float(sim.step_ms)}}


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
    doc = lems.neuroml.document
    types = {cid: _cell_type(c, ctx) for cid, c in _components(doc, ABSTRACT_CELLS).items()
             if any(p.component == cid for p in net.populations.values())}
    types.update(nml_cells_net.detailed_types(doc, net, ctx.lost))  # nml-cells: detailed cells
    syns = {s: SynMech(name=s, model=s) for s in _components(doc, _SYNAPSES) if s in ctx.mods}
    sources = {s: StimSource(name=s, model=s) for s in _components(doc, _SOURCES)
               if s in ctx.mods}
    cells, gids, pops = _cells(net, types, ctx)
    files = _source_files(lems)
    out = Network(cell_types=types, syn_mechs=syns, populations=pops, stim_sources=sources,
                  cells=cells, connections=_connections(net, gids, syns, ctx),
                  stim_targets=_stims(net, gids, sources, ctx),
                  mod_files=dict(nmodl.mod_files), files=files, spec=_run_spec(sim),
                  provenance={"source_format": "neuroml", "network": net_id,
                              "lems": str(lems.path)})
    run = _run_config(sim, pops, ctx.lost)
    run = nml_cells_net.place_on_segments(out, net, doc, run, ctx.lost)  # nml-cells: (sec, x)
    return out, run, ctx.lost
