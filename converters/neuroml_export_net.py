"""A store without embedded NeuroML (NetPyNE-built, HOC, SONATA ...) -> NeuroML export parts.

Cell types, synapses and stimuli become NeuroML components (:mod:`.neuroml_export_cells`);
each population keeps its cells (instance ids in gid order, locations); connections become
``connectionWD`` rows grouped by (rule, pre population, post population, synapse) with the
pre/post segment and fractionAlong of their (section, loc); IClamp stimuli become
``pulseGenerator`` input lists; NetStim / VecStim stimuli become a population of spike sources
(one per stimulated cell) projecting onto their targets through the stimulus' synapse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network
from ..table import Categorical
from .neuroml_export_cells import (
    cell_component,
    spike_array,
    stim_component,
    synapse_component,
)
from .neuroml_export_gap import gap_projections

__all__ = ["native_parts", "run_values", "trace_outputs"]


def _cats(col: Any) -> np.ndarray:
    vals = list(col.values()) if isinstance(col, Categorical) else [str(x) for x in col]
    return np.asarray(vals, dtype=object)


def run_values(net: Network) -> dict[str, Any]:
    """duration, dt, v_init, temperature, threshold and the simConfig's trace requests."""
    cfg = (net.spec or {}).get("simConfig") or {}
    hp = cfg.get("hParams") or {}
    nparams = (net.spec or {}).get("netParams") or {}
    out = {"duration": float(cfg.get("duration", 1000.0)), "dt": float(cfg.get("dt", 0.025)),
           "v_init": float(hp.get("v_init", -65.0)), "celsius": float(hp.get("celsius", 6.3)),
           "threshold": float(nparams.get("defaultThreshold", 10.0)),
           "traces": cfg.get("recordTraces") or {}, "record_cells": cfg.get("recordCells") or [],
           "record_step": float(cfg.get("recordStep", 0.1))}
    rc = net.run_config
    if rc is not None:
        out.update(duration=float(rc.duration), dt=float(rc.dt), v_init=float(rc.v_init),
                   celsius=float(rc.temperature), record_step=float(rc.record_step))
        if rc.spike_threshold is not None:
            out["threshold"] = float(rc.spike_threshold)
    return out


def _vecstims(net: Network, name: str) -> dict[int, str] | None:
    """Per-cell ``spikeArray`` components of the VecStim cells of type ``name`` (their spike
    times as the builder drew them, ``params.spkTimes``), or None."""
    cells = net.cells
    if "params.spkTimes" not in cells:
        return None
    col = cells["params.spkTimes"]
    rows = np.flatnonzero(_cats(cells["cell_type"]) == name)
    gids = np.asarray(cells["gid"], np.int64)
    offsets, values = np.asarray(col.offsets), np.asarray(col.values, np.float64)
    return {int(gids[r]): spike_array(f"{name}_{int(gids[r])}",
                                      values[offsets[r]:offsets[r + 1]])
            for r in rows}


def _cell_types(net: Network, run: dict, lost: list[str]) -> tuple[dict, dict]:
    comps: dict[str, str] = {}
    morphs: dict[str, Any] = {}
    for name, ct in net.cell_types.items():
        if ct.kind == "point" and ct.model == "VecStim":
            per_cell = _vecstims(net, name)
            if per_cell:
                comps.update({f"{name}_{g}": x for g, x in per_cell.items()})
                comps[name] = ""  # marker: one spikeArray per cell
                morphs[name] = None
                continue
        c, morph, lo = cell_component(ct, run["threshold"], run["v_init"], run["duration"])
        lost += lo
        if name not in c:
            continue
        comps.update(c)
        morphs[name] = morph
    return comps, morphs


def _populations(net: Network, ok: dict) -> tuple[list[dict], dict]:
    """Populations (one per pop of exportable cells) and per gid: population, instance."""
    cells = net.cells
    gids = np.asarray(cells["gid"], dtype=np.int64)
    pops, types = _cats(cells["pop"]), _cats(cells["cell_type"])
    xyz = np.stack([np.asarray(cells[c], dtype=np.float64) for c in "xyz"], axis=1)
    pop_of = np.full(len(gids), None, dtype=object)
    inst = np.full(len(gids), -1, dtype=np.int64)
    out = []
    for pop in dict.fromkeys(pops):
        rows = np.flatnonzero(pops == pop)
        for ctype in dict.fromkeys(types[rows]):
            if ctype not in ok:
                continue
            sub = rows[types[rows] == ctype]
            pid = pop if len(set(types[rows])) == 1 else f"{pop}_{ctype}"
            if ok[ctype] == "":  # one component (and population) per cell
                for r in sub:
                    comp = f"{ctype}_{int(gids[r])}"
                    pop_of[r], inst[r] = comp, 0
                    out.append({"id": comp, "component": comp, "ids": np.zeros(1, np.int64),
                                "locations": xyz[[r]], "gids": gids[[r]]})
                continue
            pop_of[sub] = pid
            inst[sub] = np.arange(len(sub))
            out.append({"id": pid, "component": ctype, "ids": np.arange(len(sub)),
                        "locations": xyz[sub], "gids": gids[sub]})
    order = np.argsort(gids)
    return out, {"gids": gids[order], "pop": pop_of[order], "inst": inst[order]}


def _lookup(where: dict, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(population, instance, found) of gids ``g``."""
    k = np.clip(np.searchsorted(where["gids"], g), 0, max(len(where["gids"]) - 1, 0))
    found = (where["gids"][k] == g) & (where["pop"][k] != None)  # noqa: E711
    return where["pop"][k], where["inst"][k], found


def _seg(morphs: dict, types: np.ndarray, sec: np.ndarray, loc: np.ndarray):
    seg = np.zeros(len(types), dtype=np.int64)
    frac = np.full(len(types), 0.5)
    for t in np.unique(types.astype(str)):
        m = morphs.get(t)
        if m is None:
            continue
        rows = types == t
        seg[rows], frac[rows] = m.locate(sec[rows], loc[rows])
    return seg, frac


def _col(table: Any, name: str, n: int, fill: Any) -> np.ndarray:
    if name in table:
        col = table[name]
        return _cats(col) if isinstance(col, Categorical) else np.asarray(col)
    return np.full(n, fill)


def _projections(net: Network, where: dict, morphs: dict, types_of: dict, syns: set,
                 lost: list[str]) -> list[dict]:
    c = net.connections
    n = len(c)
    if n == 0:
        return []
    pre, post = np.asarray(c["pre_gid"], np.int64), np.asarray(c["post_gid"], np.int64)
    ppop, pinst, pok = _lookup(where, pre)
    qpop, qinst, qok = _lookup(where, post)
    mech = _cats(c["syn_mech"])
    ok = pok & qok & np.isin(mech, list(syns))
    if not ok.all():
        lost.append(f"connections: {int((~ok).sum())} of {n} have a cell or synapse "
                    "without a NeuroML equivalent; dropped")
    plast = c["plast"] if "plast" in c else None
    if plast is not None and (np.any(plast.codes >= 0) if isinstance(plast, Categorical)
                              else len(plast) and np.any(np.asarray(plast, dtype=bool))):
        lost.append("connections: plasticity is not exported")
    rule = _col(c, "rule", n, "conn").astype(str)
    psec, ploc = _col(c, "pre_sec", n, "soma"), _col(c, "pre_loc", n, 0.5).astype(float)
    spike = ~np.isnan(_col(c, "spike_loc", n, np.nan).astype(float))  # its own spike point
    psec = np.where(spike, _col(c, "spike_sec", n, None), psec)
    ploc = np.where(spike, _col(c, "spike_loc", n, np.nan).astype(float), ploc)
    pseg, pfrac = _seg(morphs, types_of["pre"](pre), psec, ploc)
    qseg, qfrac = _seg(morphs, types_of["pre"](post), _col(c, "post_sec", n, "soma"),
                       _col(c, "post_loc", n, 0.5).astype(float))
    weight, delay = np.asarray(c["weight"], float), np.asarray(c["delay"], float)
    codes = np.stack([np.unique(col.astype(str), return_inverse=True)[1].ravel()
                      for col in (rule, ppop, qpop, mech)], axis=1)
    _u, first, group = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    out = []
    for g in np.argsort(first):  # groups in the order of their first connection
        rows = np.flatnonzero(ok & (group == g))
        if len(rows) == 0:
            continue
        r, a, b, m = rule[rows[0]], ppop[rows[0]], qpop[rows[0]], mech[rows[0]]
        out.append({"id": f"{r}_{a}_{b}_{m}".replace(" ", "_").replace("->", "_to_"),
                    "pre": a, "post": b, "synapse": m,
                    "columns": {"pre_cell": pinst[rows], "post_cell": qinst[rows],
                                "pre_segment": pseg[rows], "pre_fraction": pfrac[rows],
                                "post_segment": qseg[rows], "post_fraction": qfrac[rows],
                                "weight": weight[rows], "delay": delay[rows]}})
    return out


def _stims(net: Network, where: dict, morphs: dict, types_of: dict, syns: set,
           run: dict, lost: list[str]) -> tuple[dict, list, list, list]:
    """Stimuli: (components, spike-source populations, their projections, input lists)."""
    st = net.stim_targets
    comps: dict[str, str] = {}
    pops, projs, inputs = [], [], []
    if len(st) == 0:
        return comps, pops, projs, inputs
    n = len(st)
    src, gid = _cats(st["source"]), np.asarray(st["gid"], np.int64)
    rule = _col(st, "rule", n, "stim").astype(str)
    tpop, tinst, tok = _lookup(where, gid)
    seg, frac = _seg(morphs, types_of["pre"](gid), _col(st, "sec", n, "soma"),
                     _col(st, "loc", n, 0.5).astype(float))
    mech = _col(st, "syn_mech", n, "")
    weight = _col(st, "weight", n, 1.0).astype(float)
    delay = _col(st, "delay", n, 0.0).astype(float)
    for name in dict.fromkeys(src):
        s = net.stim_sources[name]
        xml, lo = stim_component(name, s.model, s.params, run["duration"],
                                 f"stim source {name!r}")
        lost += lo
        rows_all = src == name
        if xml is None:
            continue
        comps[name] = xml
        for key in dict.fromkeys(zip(rule[rows_all], tpop[rows_all])):
            rows = np.flatnonzero(rows_all & (rule == key[0]) & (tpop == key[1]) & tok)
            if len(rows) == 0:
                continue
            base = f"{key[0]}_{key[1]}".replace(" ", "_").replace("->", "_to_")
            if s.model == "IClamp":
                inputs.append({"id": base, "component": name, "population": key[1],
                               "target_cell": tinst[rows], "segment": seg[rows],
                               "fraction": frac[rows], "weight": np.ones(len(rows))})
                continue
            good = rows[np.isin(mech[rows], list(syns))]
            if len(good) < len(rows):
                lost.append(f"stimuli {key[0]!r}: {len(rows) - len(good)} targets through a "
                            "synapse without NeuroML equivalent; dropped")
            for m in dict.fromkeys(mech[good]):
                g = good[mech[good] == m]
                pid = f"{base}_{m}_src"
                pops.append({"id": pid, "component": name, "ids": np.arange(len(g)),
                             "locations": None})
                projs.append({"id": f"{base}_{m}", "pre": pid, "post": key[1], "synapse": m,
                              "columns": {"pre_cell": np.arange(len(g)),
                                          "post_cell": tinst[g], "post_segment": seg[g],
                                          "post_fraction": frac[g], "weight": weight[g],
                                          "delay": delay[g]}})
    return comps, pops, projs, inputs


def _recorded_gids(net: Network, record_cells: Any) -> np.ndarray:
    """gids of NetPyNE's ``recordCells`` (gids, population names, ``'all'``, (pop, index))."""
    gids = np.asarray(net.cells["gid"], np.int64)
    pops = _cats(net.cells["pop"])
    keep = np.zeros(len(gids), bool)
    for item in record_cells if isinstance(record_cells, (list, tuple)) else [record_cells]:
        if item == "all":
            keep[:] = True
        elif isinstance(item, str):
            keep |= pops == item
        elif isinstance(item, (int, np.integer)):
            keep |= gids == int(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            rows = np.flatnonzero(pops == item[0])
            idx = item[1] if isinstance(item[1], (list, tuple)) else [item[1]]
            keep[rows[[i for i in idx if 0 <= int(i) < len(rows)]]] = True
    return np.sort(gids[keep])


def trace_outputs(net: Network, run: dict, where: dict, morphs: dict, comp_of: Any,
                  lost: list[str]) -> list[dict]:
    """LEMS OutputFiles of the simConfig's voltage traces on its recorded cells.

    Returns
    -------
    list of dict
        ``id, file, columns`` (list of ``(column id, LEMS quantity)``).
    """
    gids = _recorded_gids(net, run["record_cells"])
    if len(gids) == 0 or not run["traces"]:
        return []
    pop, inst, found = _lookup(where, gids)
    out = []
    for label, req in run["traces"].items():
        if not isinstance(req, dict) or req.get("var") != "v" or "mech" in req \
                or "synMech" in req:
            lost.append(f"trace {label!r}: only membrane voltages are exported as LEMS "
                        "OutputFiles")
            continue
        cols = []
        for g, p, i, ok in zip(gids, pop, inst, found):
            if not ok:
                continue
            comp = comp_of(np.array([g]))[0]
            morph = morphs.get(comp)
            if morph is None:
                quantity = f"{p}/{int(i)}/{comp}/v"
            else:
                seg, _f = morph.locate(np.array([req.get("sec", "soma")]),
                                       np.array([float(req.get("loc", 0.5))]))
                quantity = f"{p}/{int(i)}/{comp}/{int(seg[0])}/v"
            cols.append((f"{label}_{int(g)}", quantity))
        if cols:
            out.append({"id": label, "file": f"{net_id(net)}.{label}.dat", "columns": cols})
    return out


def net_id(net: Network) -> str:
    """The exported network's id (the source's network name, else ``network``)."""
    return str((net.provenance or {}).get("network") or "network")


def native_parts(net: Network) -> tuple[dict[str, Any], list[str]]:
    """Components, populations, projections, input lists and run values of ``net``.

    Returns
    -------
    (dict, list of str)
        ``components, populations, projections, input_lists, outputs, temperature, run`` and
        the
        losses.
    """
    lost: list[str] = []
    run = run_values(net)
    comps, morphs = _cell_types(net, run, lost)
    syn_comps = {}
    for name, s in net.syn_mechs.items():
        if s.pointer:  # gap junctions / graded synapses: neuroml_export_gap
            continue
        xml, lo = synapse_component(name, s.model, s.params)
        lost += lo
        if xml is not None:
            syn_comps[name] = xml
    pops, where = _populations(net, comps)
    types = _cats(net.cells["cell_type"])
    order = np.argsort(np.asarray(net.cells["gid"], np.int64))

    def type_of(g: np.ndarray) -> np.ndarray:
        k = np.clip(np.searchsorted(where["gids"], g), 0, len(order) - 1)
        return types[order][k]

    types_of = {"pre": type_of}
    projs = _projections(net, where, morphs, types_of, set(syn_comps), lost)
    stim_comps, spops, sprojs, inputs = _stims(net, where, morphs, types_of, set(syn_comps),
                                               run, lost)
    gap_comps, gaps = gap_projections(
        net, lambda g: _lookup(where, g),
        lambda g, sec, loc: _seg(morphs, type_of(g), sec, loc), lost)
    used_syn = {p["synapse"] for p in projs + sprojs}
    components = {**{k: v for k, v in syn_comps.items() if k in used_syn}, **gap_comps,
                  **{k: v for k, v in comps.items() if v}, **stim_comps}
    has_hh = any(k in comps for k in ("hh_na", "hh_k"))
    outputs = trace_outputs(net, run, where, morphs, type_of, lost)
    return {"components": components, "populations": pops + spops,
            "projections": projs + sprojs + gaps, "input_lists": inputs, "outputs": outputs,
            "temperature": (run["celsius"] if has_hh or any(morphs.values())
                            else None), "run": run}, lost
