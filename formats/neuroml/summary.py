"""Typed, vectorized summary of a NeuroML2 network: populations, projections and inputs.

The libNeuroML object tree is kept as the full document; this summary gives what a converter
needs in bulk as numpy arrays with fixed dtypes (ids ``int64``, positions and the rest
``float64``; delays in ms). :func:`summarize_network` builds it from libNeuroML objects (XML
files); :mod:`.h5read` builds the same structures straight from ``.nml.h5`` datasets.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from ._common import NeuroMLError, quantity

logger = logging.getLogger(__name__)

__all__ = ["CONNECTION_FIELDS", "INPUT_FIELDS", "InputListSummary", "NetworkSummary",
           "PopulationSummary", "ProjectionSummary", "ExplicitInputSummary",
           "summarize_network", "summarize_population", "empty_columns"]

#: Columns of a projection's connection arrays (ids and segments int64, the rest float64).
CONNECTION_FIELDS = ("id", "pre_cell", "post_cell", "pre_segment", "post_segment",
                     "pre_fraction", "post_fraction", "weight", "delay")
#: Columns of an input list's arrays.
INPUT_FIELDS = ("id", "target_cell", "segment", "fraction", "weight")
_INT_FIELDS = frozenset({"id", "pre_cell", "post_cell", "pre_segment", "post_segment",
                         "target_cell", "segment"})
#: Defaults of missing columns, as NeuroML2 defines them.
DEFAULTS = {"pre_segment": 0, "post_segment": 0, "segment": 0, "pre_fraction": 0.5,
            "post_fraction": 0.5, "fraction": 0.5, "weight": 1.0, "delay": 0.0}


def empty_columns(fields: tuple[str, ...], n: int) -> dict[str, np.ndarray]:
    """Columns of ``n`` rows filled with their defaults (``id`` = 0..n-1)."""
    out = {}
    for name in fields:
        if name == "id":
            out[name] = np.arange(n, dtype=np.int64)
        else:
            dtype = np.int64 if name in _INT_FIELDS else np.float64
            out[name] = np.full(n, DEFAULTS.get(name, -1), dtype=dtype)
    return out


@dataclass
class PopulationSummary:
    """One population: ``ids`` (int64, n) and ``locations`` (float64, n x 3, or None)."""

    id: str
    component: str
    size: int
    ids: np.ndarray
    locations: np.ndarray | None = None
    type: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class ProjectionSummary:
    """One projection; ``kind`` is ``"chemical"``, ``"electrical"`` or ``"continuous"``.

    ``columns`` maps each name of :data:`CONNECTION_FIELDS` to an array of one entry per
    connection. ``synapse`` is the projection's synapse (chemical), or the gap-junction /
    post component (electrical / continuous); ``pre_component`` is set for continuous ones.
    """

    id: str
    kind: str
    pre_population: str
    post_population: str
    synapse: str | None
    columns: dict[str, np.ndarray]
    pre_component: str | None = None

    def __len__(self) -> int:
        return len(self.columns["pre_cell"])


@dataclass
class InputListSummary:
    """One inputList; ``columns`` maps :data:`INPUT_FIELDS` to arrays."""

    id: str
    component: str
    population: str
    columns: dict[str, np.ndarray]
    destination: str | None = None

    def __len__(self) -> int:
        return len(self.columns["target_cell"])


@dataclass
class ExplicitInputSummary:
    """One ``explicitInput``: input component onto ``population[cell]``."""

    input: str
    population: str
    cell: int
    destination: str | None = None


@dataclass
class NetworkSummary:
    """A network's populations, projections (all kinds) and inputs, by id, in file order."""

    id: str
    temperature_degC: float | None
    populations: dict[str, PopulationSummary]
    projections: dict[str, ProjectionSummary]
    input_lists: dict[str, InputListSummary]
    explicit_inputs: list[ExplicitInputSummary]

    @property
    def n_cells(self) -> int:
        """Total number of cells."""
        return sum(p.size for p in self.populations.values())

    @property
    def n_connections(self) -> int:
        """Total number of connections over all projections."""
        return sum(len(p) for p in self.projections.values())


def temperature(text: str | None, where: str) -> float | None:
    """A network temperature such as ``"6.3 degC"`` in degrees Celsius (None if unset)."""
    if text is None or text == "":
        return None
    value, unit = quantity(text, where)
    if unit == "degC":
        return value
    if unit == "K":
        return value - 273.15
    raise NeuroMLError(f"{where}: temperature {text!r} must be in degC or K")


def summarize_population(pop, where: str) -> PopulationSummary:
    """Summary of a libNeuroML ``Population`` (instance list or plain size)."""
    instances = list(pop.instances)
    props = {p.tag: p.value for p in pop.properties}
    if instances:
        ids = np.array([int(i.id) for i in instances], dtype=np.int64)
        locs = np.array([[float(i.location.x), float(i.location.y), float(i.location.z)]
                         if i.location is not None else [np.nan] * 3 for i in instances],
                        dtype=np.float64).reshape(-1, 3)
        if pop.size is not None and int(pop.size) != len(ids):  # jNeuroML: the instances
            logger.warning("%s: size=%s but %d <instance> elements; the instances are used, "
                           "as jNeuroML does", where, pop.size, len(ids))
        return PopulationSummary(pop.id, pop.component, len(ids), ids, locs, pop.type, props)
    if pop.size is None:
        raise NeuroMLError(f"{where}: population has neither a size nor instances")
    size = int(pop.size)
    return PopulationSummary(pop.id, pop.component, size, np.arange(size, dtype=np.int64),
                             None, pop.type, props)


def _connection_columns(conns: list, where: str, with_delay: bool) -> dict[str, np.ndarray]:
    """Connection arrays from libNeuroML connection objects (one list comprehension each)."""
    cols = empty_columns(CONNECTION_FIELDS, len(conns))
    if not conns:
        return cols
    try:
        cols["id"] = np.array([k if c.id is None else int(c.id) for k, c in enumerate(conns)],
                              dtype=np.int64)
        cols["pre_cell"] = np.array([c.get_pre_cell_id() for c in conns], dtype=np.int64)
        cols["post_cell"] = np.array([c.get_post_cell_id() for c in conns], dtype=np.int64)
        cols["pre_segment"] = np.array([c.get_pre_segment_id() for c in conns], np.int64)
        cols["post_segment"] = np.array([c.get_post_segment_id() for c in conns], np.int64)
        cols["pre_fraction"] = np.array([c.get_pre_fraction_along() for c in conns], float)
        cols["post_fraction"] = np.array([c.get_post_fraction_along() for c in conns], float)
        if hasattr(conns[0], "weight"):
            cols["weight"] = np.array([float(c.weight) for c in conns], dtype=np.float64)
        if with_delay:
            cols["delay"] = np.array([c.get_delay_in_ms() for c in conns], dtype=np.float64)
    except (TypeError, ValueError, AttributeError) as exc:
        raise NeuroMLError(f"{where}: bad connection attribute: {exc}") from exc
    return cols


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if len(p["pre_cell"])] or parts[:1]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _chemical(proj, where: str) -> ProjectionSummary:
    cols = _concat([_connection_columns(list(proj.connections), where, False),
                    _connection_columns(list(proj.connection_wds), where, True)])
    return ProjectionSummary(proj.id, "chemical", proj.presynaptic_population,
                             proj.postsynaptic_population, proj.synapse, cols)


def _first(lists: list[list], attr: str) -> str | None:
    for items in lists:
        if items:
            return getattr(items[0], attr)
    return None


def _electrical(proj, where: str) -> ProjectionSummary:
    lists = [list(proj.electrical_connections), list(proj.electrical_connection_instances),
             list(proj.electrical_connection_instance_ws)]
    cols = _concat([_connection_columns(c, where, False) for c in lists])
    return ProjectionSummary(proj.id, "electrical", proj.presynaptic_population,
                             proj.postsynaptic_population, _first(lists, "synapse"), cols)


def _continuous(proj, where: str) -> ProjectionSummary:
    lists = [list(proj.continuous_connections), list(proj.continuous_connection_instances),
             list(proj.continuous_connection_instance_ws)]
    cols = _concat([_connection_columns(c, where, False) for c in lists])
    return ProjectionSummary(proj.id, "continuous", proj.presynaptic_population,
                             proj.postsynaptic_population, _first(lists, "post_component"),
                             cols, pre_component=_first(lists, "pre_component"))


def _input_list(il, where: str) -> InputListSummary:
    inputs = list(il.input) + list(il.input_ws)
    cols = empty_columns(INPUT_FIELDS, len(inputs))
    if inputs:
        try:
            cols["id"] = np.array([k if i.id is None else int(i.id) for k, i in enumerate(inputs)],
                                  dtype=np.int64)
            cols["target_cell"] = np.array([i.get_target_cell_id() for i in inputs], np.int64)
            cols["segment"] = np.array([i.get_segment_id() for i in inputs], dtype=np.int64)
            cols["fraction"] = np.array([i.get_fraction_along() for i in inputs], float)
            cols["weight"] = np.array([float(getattr(i, "weight", 1.0)) for i in inputs],
                                      dtype=np.float64)
        except (TypeError, ValueError, AttributeError) as exc:
            raise NeuroMLError(f"{where}: bad input attribute: {exc}") from exc
    dest = inputs[0].destination if inputs else None
    return InputListSummary(il.id, il.component, _input_population(il, inputs, where), cols,
                            dest)


def _input_population(il, inputs: list, where: str) -> str:
    """The input list's population; when every input's target names one other population
    (``../pop/i/cell``), that one, as jNeuroML places inputs by their target paths
    (PospischilEtAl2008's ``Ca.test.net.nml``, WangBuzsaki1996's ``WangBuzsaki2Cells.xml``)."""
    named = {m.group(1) or m.group(3) for m in
             (_TARGET.match(str(i.target or "").strip()) for i in inputs) if m is not None}
    if len(named) == 1 and il.populations not in named:
        pop = named.pop()
        logger.warning("%s: population %r, but its inputs target %r; %r is used, as jNeuroML "
                       "does", where, il.populations, pop, pop)
        return pop
    return il.populations


def _explicit(ei, where: str) -> ExplicitInputSummary:
    """An explicitInput; its target is ``pop[i]`` or ``pop/i/cell`` (both accepted by
    jNeuroML; libNeuroML's getters read only the first)."""
    m = _TARGET.match(str(ei.target or "").strip())
    if m is None:
        raise NeuroMLError(f"{where}: bad explicitInput target {ei.target!r}")
    pop = m.group(1) or m.group(3)
    cell = m.group(2) or m.group(4)
    return ExplicitInputSummary(ei.input, pop, int(cell), ei.destination)


_TARGET = re.compile(r"^(?:\.\./)?(?:([^/\[\]]+)\[(\d+)\]|([^/\[\]]+)/(\d+)(?:/[^/]+)?)$")


def summarize_network(net, source: str) -> NetworkSummary:
    """Vectorized summary of a libNeuroML ``Network``; errors name ``source`` and the element."""
    base = f"{source}: network {net.id!r}"
    pops = {p.id: summarize_population(p, f"{base}/population {p.id!r}")
            for p in net.populations}
    projs: dict[str, ProjectionSummary] = {}
    for proj in net.projections:
        projs[proj.id] = _chemical(proj, f"{base}/projection {proj.id!r}")
    for proj in net.electrical_projections:
        projs[proj.id] = _electrical(proj, f"{base}/electricalProjection {proj.id!r}")
    for proj in net.continuous_projections:
        projs[proj.id] = _continuous(proj, f"{base}/continuousProjection {proj.id!r}")
    inputs = {il.id: _input_list(il, f"{base}/inputList {il.id!r}") for il in net.input_lists}
    explicit = [_explicit(ei, f"{base}/explicitInput[{k}]")
                for k, ei in enumerate(net.explicit_inputs)]
    summary = NetworkSummary(net.id, temperature(net.temperature, base), pops, projs, inputs,
                             explicit)
    check_references(summary, base)
    return summary


def check_references(summary: NetworkSummary, where: str) -> None:
    """Every projection / input list names existing populations and cell ids within them."""
    pops = summary.populations

    def check(pop: str, cells: np.ndarray, what: str) -> None:
        if pop not in pops:
            raise NeuroMLError(f"{where}/{what}: unknown population {pop!r} "
                               f"(populations: {', '.join(pops) or 'none'})")
        bad = ~np.isin(cells, pops[pop].ids)
        if bad.any():
            raise NeuroMLError(f"{where}/{what}: cell id {int(cells[bad][0])} is not in "
                               f"population {pop!r} (size {pops[pop].size})")

    for proj in summary.projections.values():
        check(proj.pre_population, proj.columns["pre_cell"], f"projection {proj.id!r}")
        check(proj.post_population, proj.columns["post_cell"], f"projection {proj.id!r}")
    for il in summary.input_lists.values():
        check(il.population, il.columns["target_cell"], f"inputList {il.id!r}")
