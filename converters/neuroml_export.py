"""Canonical :class:`Network` -> a NeuroML2 export plan (first slice of issue 13 item 4).

What this slice exports: networks whose cells, synapses and inputs are NeuroML components the
store already holds -- stores imported from NeuroML / LEMS (their NeuroML and LEMS files are
embedded, ``neuroml/...``). Each component (cell, synapse, input) is copied verbatim from the
embedded file that defines it; populations (instance ids and locations), chemical connections
(grouped by their ``rule``, the projection id; pre and post segment and fractionAlong on
detailed cells, :mod:`.nml_locate`), input lists (per rule: targets, their segment and
fractionAlong, ``inputW`` weights) and the LEMS run (length, step, seed) are rebuilt from the
store's tables; the ``ComponentType``s the components use come along.

Not exported yet, reported as losses: cell types, synapses and stim sources without a NeuroML
component in the store (NetPyNE cells and mechanisms: no NeuroML equivalents known yet),
pointer connections of graded synapses, timedSynapticInputs. Electrical projections are
rebuilt from their pointer rows (:func:`.neuroml_export_gap.native_gap_projections`).

The plan is plain data (numpy arrays, XML text); :mod:`nethub.formats.neuroml.export` turns it
into a NeuroML document and a LEMS file.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..network import Network
from ..table import Categorical
from .neuroml_export_gap import native_gap_projections
from .neuroml_export_net import native_parts
from .nml_locate import input_points, post_points, pre_points

__all__ = ["ExportPlan", "export_plan"]

_NML_PREFIX = "neuroml/"
#: the prefixes annotations use (jNeuroML skips annotation elements by these prefixes, not by
#: namespace: ``ns1:isDescribedBy`` is "no such type"); ElementTree's registry is global, and
#: these are the conventional names of these namespaces
for _prefix, _uri in (("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
                      ("bqbiol", "http://biomodels.net/biology-qualifiers/"),
                      ("bqmodel", "http://biomodels.net/model-qualifiers/")):
    ET.register_namespace(_prefix, _uri)


@dataclass
class ExportPlan:
    """What a NeuroML export writes.

    Attributes
    ----------
    network_id : str
    temperature : float or None
        degC.
    components : dict of str to str
        ``{id: XML text of the element}`` (cells, synapses, inputs), copied verbatim.
    populations : list of dict
        ``id, component, ids (int64), locations (n x 3 float64 or None)``.
    projections : list of dict
        ``id, synapse, pre, post`` (population ids) and ``columns`` (``pre_cell, post_cell,
        weight, delay``); ``kind`` ``"electrical"`` for gap junctions (default chemical).
    input_lists : list of dict
        ``id, component, population, target_cell (int64), weight (float64)``.
    run : dict
        ``duration, dt`` (ms) and ``seed`` (or None).
    outputs : list of dict
        LEMS OutputFiles: ``id, file, columns`` (``(column id, quantity)`` pairs).
    """

    network_id: str
    temperature: float | None = None
    components: dict[str, str] = field(default_factory=dict)
    populations: list[dict] = field(default_factory=list)
    projections: list[dict] = field(default_factory=list)
    input_lists: list[dict] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    outputs: list[dict] = field(default_factory=list)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _embedded_components(net: Network, types: dict[str, ET.Element] | None = None
                         ) -> dict[str, ET.Element]:
    """Top-level NeuroML elements with an id in the store's embedded NeuroML / LEMS files
    (and their ``ComponentType`` definitions into ``types``, by name)."""
    out: dict[str, ET.Element] = {}
    for name, f in sorted(net.files.items()):
        if not name.startswith(_NML_PREFIX) or f.role not in ("neuroml", "lems"):
            continue
        if f.data[:1] != b"<" and b"<" not in f.data[:200]:
            continue  # .nml.h5 and other binary files: their components are in XML elsewhere
        if b"<!DOCTYPE" in f.data or b"<!ENTITY" in f.data:
            continue
        try:
            root = ET.fromstring(f.data)
        except ET.ParseError:
            continue
        for el in root:
            if types is not None and isinstance(el.tag, str) and \
                    _local(el.tag) == "ComponentType" and el.get("name"):
                types.setdefault(el.get("name"), el)
            if isinstance(el.tag, str) and el.get("id") and _local(el.tag) not in (
                    "network", "Simulation", "Target", "Include", "include", "ComponentType"):
                out.setdefault(el.get("id"), el)
    return out


def _xml(el: ET.Element) -> str:
    el = _strip(el)
    return ET.tostring(el, encoding="unicode")


def _strip(el: ET.Element) -> ET.Element:
    """``el`` with NeuroML / LEMS tags unqualified; elements of other namespaces (an
    annotation's ``rdf:RDF``) keep theirs, so jNeuroML still skips them as foreign."""
    if _foreign(el.tag):
        out = copy.deepcopy(el)
        out.tail = None
        return out
    out = ET.Element(_local(el.tag), dict(el.attrib))
    out.text, out.tail = el.text, None
    out.extend(_strip(c) for c in el if isinstance(c.tag, str))
    return out


def _foreign(tag: str) -> bool:
    ns = tag[1:].split("}", 1)[0] if tag.startswith("{") else ""
    return bool(ns) and "neuroml" not in ns.lower() and "lems" not in ns.lower()


def _cats(col: Any) -> list[str]:
    return list(col.values()) if isinstance(col, Categorical) else [str(x) for x in col]


def _populations(net: Network, keep: set[str]) -> tuple[list[dict], dict[int, tuple]]:
    """Populations of exportable cells and ``{gid: (population, instance id)}``."""
    cells = net.cells
    gids = np.asarray(cells["gid"], dtype=np.int64)
    pops = _cats(cells["nml.population"]) if "nml.population" in cells else _cats(cells["pop"])
    inst = (np.asarray(cells["nml.instance"], dtype=np.int64) if "nml.instance" in cells
            else None)
    types = _cats(cells["cell_type"])
    xyz = np.stack([np.asarray(cells[c], dtype=np.float64) for c in "xyz"], axis=1)
    where: dict[int, tuple] = {}
    out = []
    for pop in dict.fromkeys(pops):
        rows = np.flatnonzero(np.asarray(pops) == pop)
        comp = types[rows[0]]
        if comp not in keep:
            continue
        ids = inst[rows] if inst is not None else np.arange(len(rows), dtype=np.int64)
        where.update({int(g): (pop, int(i)) for g, i in zip(gids[rows], ids)})
        has_xyz = bool(np.any(xyz[rows] != 0))
        out.append({"id": pop, "component": comp, "ids": ids,
                    "locations": xyz[rows] if has_xyz else None})
    return out, where


def _projections(net: Network, where: dict, syns: set[str], lost: list[str]) -> list[dict]:
    c = net.connections
    if len(c) == 0:
        return []
    rules, mechs = _cats(c["rule"]), _cats(c["syn_mech"])
    pre, post = np.asarray(c["pre_gid"]), np.asarray(c["post_gid"])
    weight, delay = np.asarray(c["weight"], float), np.asarray(c["delay"], float)
    points = pre_points(net)  # connections leaving from their own point (spike_sec/_loc)
    posts = post_points(net)  # where they land on detailed cells (post_sec/_loc)
    if posts is not None and posts[2]:
        lost.append(f"connections: {posts[2]} postsynaptic point(s) with no exact segment "
                    "point on their cell; moved to the nearest one")
    out = []
    for rule in dict.fromkeys(rules):
        rows = np.flatnonzero(np.asarray(rules) == rule)
        ok = [r for r in rows if mechs[r] in syns and int(pre[r]) in where
              and int(post[r]) in where]
        if len(ok) < len(rows):
            lost.append(f"connections of rule {rule!r}: synapse or cells without a NeuroML "
                        f"component; dropped ({len(rows) - len(ok)})")
        groups: dict[tuple, list[int]] = {}
        for r in ok:
            key = (where[int(pre[r])][0], where[int(post[r])][0], mechs[r])
            groups.setdefault(key, []).append(r)
        for k, (key, rs) in enumerate(groups.items()):
            rs = np.asarray(rs)
            out.append({"id": rule if len(groups) == 1 else f"{rule}_{k}", "pre": key[0],
                        "post": key[1], "synapse": key[2],
                        "columns": {"pre_cell": np.array([where[int(g)][1] for g in pre[rs]]),
                                    "post_cell": np.array([where[int(g)][1] for g in post[rs]]),
                                    "weight": weight[rs], "delay": delay[rs]}})
            if points is not None:
                out[-1]["columns"].update(pre_segment=points[0][rs], pre_fraction=points[1][rs])
            if posts is not None:
                out[-1]["columns"].update(post_segment=posts[0][rs], post_fraction=posts[1][rs])
    return out


def _input_lists(net: Network, where: dict, sources: set[str], lost: list[str]) -> list[dict]:
    st = net.stim_targets
    if len(st) == 0:
        return []
    rules, srcs = _cats(st["rule"]), _cats(st["source"])
    gids = np.asarray(st["gid"])
    w = (np.asarray(st["param.weight"], float) if "param.weight" in st
         else np.full(len(st), np.nan))
    points = input_points(net)  # where inputs sit on detailed cells (sec/loc)
    if points is not None and points[2]:
        lost.append(f"stimuli: {points[2]} input point(s) with no exact segment point on "
                    "their cell; moved to the nearest one")
    out = []
    for key in dict.fromkeys(zip(rules, srcs)):
        rows = np.flatnonzero([(r, s) == key for r, s in zip(rules, srcs)])
        ok = [r for r in rows if srcs[r] in sources and int(gids[r]) in where]
        if len(ok) < len(rows):
            lost.append(f"stimuli of rule {key[0]!r} (source {key[1]!r}): no NeuroML input "
                        f"component or cell; dropped ({len(rows) - len(ok)})")
        if not ok:
            continue
        if (net.stim_sources[key[1]].tags or {}).get("nml.type") == "timedSynapticInput":
            ok = list(dict.fromkeys(ok, None))
            firsts: dict[int, int] = {}
            for r in ok:
                firsts.setdefault(int(gids[r]), r)
            ok = list(firsts.values())  # one input per target: its rows are its spikes
        pops = {where[int(gids[r])][0] for r in ok}
        for k, pop in enumerate(sorted(pops)):
            rs = [r for r in ok if where[int(gids[r])][0] == pop]
            name = key[0] if len(pops) == 1 else f"{key[0]}_{k}"
            if key[0] == "explicitInput":  # written back as explicitInput elements
                name = f"explicitInput_{key[1]}_{pop}"
            out.append({"id": name, "component": key[1], "population": pop,
                        "explicit": key[0] == "explicitInput",
                        "target_cell": np.array([where[int(gids[r])][1] for r in rs]),
                        "weight": np.where(np.isnan(w[rs]), 1.0, w[rs])})
            if points is not None:
                out[-1].update(segment=points[0][rs], fraction=points[1][rs])
    return out


def _timed(source: Any, found: dict) -> bool:
    """A timedSynapticInput imported as single-spike NetStims (its component is in store)."""
    return (source.tags or {}).get("nml.type") == "timedSynapticInput" and source.name in found


def _with_references(ids: set[str], found: dict[str, ET.Element]) -> list[str]:
    """``ids`` and the components their elements name (a doubleSynapse's synapses, a
    timedSynapticInput's synapse, ...), in the order of the embedded files."""
    todo, seen = list(ids), set(ids)
    while todo:
        el = found[todo.pop()]
        for node in el.iter():
            for value in node.attrib.values():
                if value in found and value not in seen and value != el.get("id"):
                    seen.add(value)
                    todo.append(value)
    return [k for k in found if k in seen]


def _component_types(comps: list[str], found: dict[str, ET.Element],
                     types: dict[str, ET.Element]) -> list[str]:
    """The embedded ``ComponentType``s the components ``comps`` use (an element's ``type``, a
    type's ``extends`` and its children's ``type``s, recursively), in file order: a channel
    with its own rate types (``Ca_pyr_h_tau_tau``) cannot be read without them."""
    todo = [found[c] for c in comps]
    seen: set[str] = set()
    while todo:
        for node in todo.pop().iter():
            for key in ("type", "extends"):
                name = node.get(key)
                if name in types and name not in seen:
                    seen.add(name)
                    todo.append(types[name])
    return [k for k in types if k in seen]


def export_plan(net: Network) -> tuple[ExportPlan, list[str]]:
    """The NeuroML export of ``net`` and what it cannot carry (losses).

    Parameters
    ----------
    net : Network

    Returns
    -------
    (ExportPlan, list of str)
    """
    lost: list[str] = []
    types: dict[str, ET.Element] = {}
    found = _embedded_components(net, types)
    if net.cell_types and not any(name in found for name in net.cell_types):
        return _native_plan(net)  # no NeuroML in the store: cells from their NEURON form
    cell_ok = {name for name in net.cell_types if name in found}
    for name in sorted(set(net.cell_types) - cell_ok):
        lost.append(f"cell type {name!r}: no NeuroML component in the store (export of "
                    "NetPyNE/HOC cells is not done yet); its cells are dropped")
    syn_ok = {name for name, s in net.syn_mechs.items() if s.model in found}
    src_ok = {name for name, s in net.stim_sources.items()
              if (s.model in found and s.model != "NetStim") or _timed(s, found)}
    pops, where = _populations(net, cell_ok)
    projs = _projections(net, where, syn_ok, lost)
    inputs = _input_lists(net, where, src_ok, lost)
    gap_ids = {k for k, el in found.items() if _local(el.tag) == "gapJunction"}
    projs += native_gap_projections(net, where, gap_ids, lost)
    used = ({p["component"] for p in pops} | {p["synapse"] for p in projs}
            | {i["component"] for i in inputs})
    models = {**{k: k for k in cell_ok}, **{k: net.syn_mechs[k].model for k in syn_ok},
              **{k: k if _timed(net.stim_sources[k], found) else net.stim_sources[k].model
                 for k in src_ok}}
    keep = _with_references({models[k] for k in used}, found)
    comps = {f"ComponentType:{t}": _xml(types[t]) for t in _component_types(keep, found, types)}
    comps.update({c: _xml(found[c]) for c in keep})
    run = _run_settings(net)
    prov = net.provenance or {}
    plan = ExportPlan(network_id=str(prov.get("network") or "network"),
                      components=comps, populations=pops, projections=projs,
                      input_lists=inputs,
                      run=run)
    return plan, lost


def _run_settings(net: Network) -> dict[str, Any]:
    """LEMS length, step and seed: the model's own RunConfig (``Network.run_config``, as a
    NeuroML or SONATA import brings), else its stored simConfig, else NetPyNE's defaults."""
    if net.run_config is not None:
        rc = net.run_config
        return {"duration": float(rc.duration), "dt": float(rc.dt),
                "seed": (rc.seeds or {}).get("lems")}
    cfg = (net.spec or {}).get("simConfig") or {}
    return {"duration": float(cfg.get("duration", 1000.0)), "dt": float(cfg.get("dt", 0.025)),
            "seed": (cfg.get("seeds") or {}).get("lems")}


def _native_plan(net: Network) -> tuple[ExportPlan, list[str]]:
    """The export of a store without embedded NeuroML (:mod:`.neuroml_export_net`)."""
    parts, lost = native_parts(net)
    run = parts["run"]
    prov = net.provenance or {}
    seed = _run_settings(net)["seed"]
    plan = ExportPlan(network_id=str(prov.get("network") or "network"),
                      temperature=parts["temperature"], components=parts["components"],
                      populations=parts["populations"], projections=parts["projections"],
                      input_lists=parts["input_lists"], outputs=parts["outputs"],
                      run={"duration": run["duration"], "dt": run["dt"], "seed": seed})
    return plan, lost
