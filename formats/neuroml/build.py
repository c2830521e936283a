"""libNeuroML ``Network`` objects from a vectorized :class:`NetworkSummary`.

The reverse of :func:`.summary.summarize_network`: used to write XML for networks read from
``.nml.h5`` (whose document holds libNeuroML's lazy containers) and by exporters that hold
arrays. One libNeuroML object per cell / connection / input, as NeuroML XML needs.
"""

from __future__ import annotations

import numpy as np

from ._common import format_float
from .summary import NetworkSummary, PopulationSummary, ProjectionSummary

__all__ = ["network_from_summary", "SUMMARY_ATTR"]

#: Attribute under which :mod:`.h5read` keeps a network's summary on its libNeuroML container.
SUMMARY_ATTR = "nethub_summary"


def _cell_refs(pop: PopulationSummary, cells: np.ndarray) -> list[str]:
    if pop.locations is not None:
        return [f"../{pop.id}/{int(c)}/{pop.component}" for c in cells]
    return [f"../{pop.id}[{int(c)}]" for c in cells]


def _population(pop: PopulationSummary):
    import neuroml

    out = neuroml.Population(id=pop.id, component=pop.component, size=pop.size, type=pop.type,
                             properties=[neuroml.Property(tag=k, value=v)
                                         for k, v in pop.properties.items()])
    if pop.locations is not None:
        out.type = "populationList"
        out.instances = [neuroml.Instance(id=int(i), location=neuroml.Location(
            x=float(x), y=float(y), z=float(z))) for i, (x, y, z) in zip(pop.ids, pop.locations)]
    return out


def _rows(proj: ProjectionSummary, pops: dict[str, PopulationSummary]) -> list[dict]:
    """Keyword arguments of each connection (old format ``preCellId`` for chemical ones,
    new format ``preCell`` for electrical / continuous instances)."""
    c = proj.columns
    pre = _cell_refs(pops[proj.pre_population], c["pre_cell"])
    post = _cell_refs(pops[proj.post_population], c["post_cell"])
    tail = "_id" if proj.kind == "chemical" else ""
    return [{"id": int(c["id"][k]), f"pre_cell{tail}": pre[k], f"post_cell{tail}": post[k],
             f"pre_segment{tail}": int(c["pre_segment"][k]),
             f"post_segment{tail}": int(c["post_segment"][k]),
             "pre_fraction_along": float(c["pre_fraction"][k]),
             "post_fraction_along": float(c["post_fraction"][k])} for k in range(len(pre))]


def _projection(proj: ProjectionSummary, pops: dict[str, PopulationSummary]):
    import neuroml

    rows, c = _rows(proj, pops), proj.columns
    common = dict(id=proj.id, presynaptic_population=proj.pre_population,
                  postsynaptic_population=proj.post_population)
    if proj.kind == "chemical":
        out = neuroml.Projection(synapse=proj.synapse, **common)
        if np.any(c["weight"] != 1.0) or np.any(c["delay"] != 0.0):
            out.connection_wds = [
                neuroml.ConnectionWD(weight=float(w), delay=f"{format_float(d)}ms", **r)
                for r, w, d in zip(rows, c["weight"], c["delay"])]
        else:
            out.connections = [neuroml.Connection(**r) for r in rows]
        return out
    if proj.kind == "electrical":
        out = neuroml.ElectricalProjection(**common)
        out.electrical_connection_instance_ws = [
            neuroml.ElectricalConnectionInstanceW(synapse=proj.synapse, weight=float(w), **r)
            for r, w in zip(rows, c["weight"])]
        return out
    out = neuroml.ContinuousProjection(**common)
    out.continuous_connection_instance_ws = [
        neuroml.ContinuousConnectionInstanceW(pre_component=proj.pre_component,
                                              post_component=proj.synapse, weight=float(w), **r)
        for r, w in zip(rows, c["weight"])]
    return out


def _input_list(il, pops: dict[str, PopulationSummary]):
    import neuroml

    c = il.columns
    refs = _cell_refs(pops[il.population], c["target_cell"])
    out = neuroml.InputList(id=il.id, component=il.component, populations=il.population)
    out.input_ws = [neuroml.InputW(id=int(i), target=t, destination=il.destination or "synapses",
                                   segment_id=int(s), fraction_along=float(f), weight=float(w))
                    for i, t, s, f, w in zip(c["id"], refs, c["segment"], c["fraction"],
                                             c["weight"])]
    if not np.any(c["weight"] != 1.0):
        out.input = [neuroml.Input(id=x.id, target=x.target, destination=x.destination,
                                   segment_id=x.segment_id, fraction_along=x.fraction_along)
                     for x in out.input_ws]
        out.input_ws = []
    return out


def network_from_summary(net: NetworkSummary, notes: str | None = None):
    """A plain libNeuroML ``Network`` (no lazy containers) holding ``net``'s arrays.

    Chemical projections use ``connectionWD`` when any weight differs from 1 or delay from 0;
    electrical / continuous ones use the weighted instance forms; input lists ``inputW`` when
    any weight differs from 1. Explicit inputs are kept.
    """
    # libNeuroML is the optional "neuroml" extra: imported when NeuroML objects are built.
    import neuroml

    out = neuroml.Network(id=net.id, notes=notes)
    if net.temperature_degC is not None:
        out.type = "networkWithTemperature"
        out.temperature = f"{format_float(net.temperature_degC)} degC"
    out.populations = [_population(p) for p in net.populations.values()]
    for proj in net.projections.values():
        getattr(out, {"chemical": "projections", "electrical": "electrical_projections",
                      "continuous": "continuous_projections"}[proj.kind]).append(
            _projection(proj, net.populations))
    out.input_lists = [_input_list(il, net.populations) for il in net.input_lists.values()]
    out.explicit_inputs = [neuroml.ExplicitInput(target=f"{e.population}[{e.cell}]",
                                                 input=e.input, destination=e.destination)
                           for e in net.explicit_inputs]
    return out
