"""Detailed NeuroML cells in a network: their cell types, and connections / inputs placed on
the (section, x) jNeuroML's NEURON export puts them on.

The two hooks :mod:`.neuroml` calls (kept out of that module so that abstract cells and
detailed cells evolve apart):

- :func:`detailed_types` -- the ``CompartmentalCell`` of every ``<cell>`` a population of the
  network uses (:func:`.nml_cells.detailed_cell`);
- :func:`place_on_segments` -- after the network is built with every target on ``soma(0.5)``,
  moves the rows of connections (``post_sec`` / ``post_loc`` from ``postSegmentId`` /
  ``postFractionAlong``) and inputs (``sec`` / ``loc`` from ``segmentId`` / ``fractionAlong``)
  onto detailed cells to jNeuroML's location, sets the network temperature, and gives each
  connection whose presynaptic point reads ``v`` at another node than the cell's spike
  detector that point (``spike_sec`` / ``spike_loc``: jNeuroML listens on ``v`` there).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..table import Categorical
from .nml_cells import detailed_cell, safe_name
from .nml_morph import Morphology, build_morphology, location_from_tag

__all__ = ["TRACE_VARIABLES", "detailed_types", "place_on_segments", "safe_name",
           "segment_location", "trace_spec", "trace_target"]


def _used(doc: Any, net: Any) -> list[Any]:
    comps = {p.component for p in net.populations.values()}
    cells = [*(getattr(doc, "cells", None) or []), *(getattr(doc, "cell2_ca_poolses", None) or [])]
    return [c for c in cells if c.id in comps]


def detailed_types(doc: Any, net: Any, lost: list[str]) -> dict[str, CompartmentalCell]:
    """Cell types of the detailed cells the network's populations use.

    Parameters
    ----------
    doc : neuroml.NeuroMLDocument
        The merged document.
    net : NetworkSummary
        The network (``populations`` with ``component``).
    lost : list of str
        Losses are appended here.

    Returns
    -------
    dict of str to CompartmentalCell
        By cell id.
    """
    out = {}
    for cell in _used(doc, net):
        dc = detailed_cell(cell, doc)
        lost.extend(dc.lost)
        out[cell.id] = dc.cell_type
    return out


def _morphologies(doc: Any, net: Any) -> dict[str, Morphology]:
    out = {}
    for cell in _used(doc, net):
        morph = cell.morphology
        if morph is None:
            morph = next(m for m in doc.morphology if m.id == cell.morphology_attr)
        out[cell.id] = build_morphology(cell, morph)
    return out


def segment_location(morph: Morphology, segment: int, fraction: float = 0.5
                     ) -> tuple[str, float]:
    """jNeuroML's (section, x) of ``fraction`` along ``segment`` (e.g. for a LEMS quantity
    ``pop/0/cell/5/v``: segment 5); see :meth:`.nml_morph.Morphology.location`."""
    return morph.location(segment, fraction)


def _strings(col: Any) -> list:
    return col.values().tolist() if isinstance(col, Categorical) else list(col)


def _place(table: Any, rule_col: str, sec_col: str, loc_col: str, rows_of: dict) -> None:
    """Overwrite ``sec_col`` / ``loc_col`` of the rows whose ``rule`` is a key of
    ``rows_of`` (value: (section names, xs) for those rows, in table order)."""
    if table is None or len(table) == 0 or rule_col not in table:
        return
    rules = np.asarray(_strings(table[rule_col]), dtype=object)
    secs = np.asarray(_strings(table[sec_col]), dtype=object)
    locs = np.array(table[loc_col], dtype=np.float64)
    for rule, (names, xs) in rows_of.items():
        idx = np.flatnonzero(rules == rule)
        k = len(idx) // len(xs) if len(xs) else 0
        if k < 1 or k * len(xs) != len(idx):
            continue  # not the rows of this projection / input list (dropped or other)
        if k > 1:  # a timedSynapticInput: k spikes per input, consecutive (timed_rows)
            names, xs = np.repeat(np.asarray(names, dtype=object), k), np.repeat(xs, k)
        secs[idx] = names
        locs[idx] = xs
    table[sec_col] = secs.tolist()
    table[loc_col] = locs


def _place_points(table: Any, points: dict) -> None:
    """The optional ``spike_sec`` / ``spike_loc`` columns (missing / NaN: the detector) of the
    rows of the projections in ``points`` (written only when some point is off the detector,
    so that other networks keep their content hash)."""
    n = len(table)
    secs = np.full(n, None, dtype=object)
    locs = np.full(n, np.nan)
    rules = np.asarray(_strings(table["rule"]), dtype=object)
    for rule, (names, xs) in points.items():
        idx = np.flatnonzero(rules == rule)
        if len(idx) == len(xs):
            secs[idx] = names
            locs[idx] = xs
    table["spike_sec"] = Categorical.from_values(secs.tolist())
    table["spike_loc"] = locs


def place_on_segments(out: Any, net: Any, doc: Any, run_config: Any, lost: list[str]) -> Any:
    """Move connection and input targets on detailed cells to jNeuroML's (section, x).

    Parameters
    ----------
    out : Network
        The converted network (changed in place).
    net : NetworkSummary
        The NeuroML network it comes from.
    doc : neuroml.NeuroMLDocument
        The merged document.
    run_config : RunConfig
        Its run configuration.
    lost : list of str
        Losses are appended here.

    Returns
    -------
    RunConfig
        ``run_config`` with ``temperature`` := the network's temperature (if it has one; also
        written into ``out.spec['simConfig']['hParams']['celsius']``).
    """
    temp = getattr(net, "temperature_degC", None)
    if temp is not None:  # jNeuroML sets h.celsius from the network's temperature
        if run_config is not None:
            run_config = dataclasses.replace(run_config, temperature=float(temp))
        if out.spec is not None and "simConfig" in out.spec:
            out.spec["simConfig"].setdefault("hParams", {})["celsius"] = float(temp)
    morphs = _morphologies(doc, net)
    if morphs:
        _place_all(out, net, morphs, lost)
        if run_config is not None and run_config.traces:
            run_config = dataclasses.replace(
                run_config, traces=_synapse_traces(out, run_config.traces, morphs))
    return run_config


def _synapse_traces(out: Any, traces: tuple, morphs: dict[str, Morphology]) -> tuple:
    """Synapse-variable traces (LEMS ``pop[i]/synapses:syn:k/g``) on detailed cells: on the
    (section, x) of the cell's ``k``-th ``syn`` (its connections, then its inputs, in table
    order, as jNeuroML creates them), ``index`` among the ``syn``s there."""
    cells = out.cells
    row_of = {int(g): i for i, g in enumerate(np.asarray(cells["gid"]).tolist())}
    types = _strings(cells["cell_type"])
    tables = [(t, g, s, x) for t, g, s, x in ((out.connections, "post_gid", "post_sec",
                                                 "post_loc"),
                                                (out.stim_targets, "gid", "sec", "loc"))
              if t is not None and len(t) and "syn_mech" in t]
    done = []
    for tr in traces:
        gids = tr.cells.gids if tr.cells is not None else ()
        if tr.syn_mech is None or len(gids) != 1 or types[row_of[int(gids[0])]] not in morphs:
            done.append(tr)
            continue
        locs: list[tuple[str, float]] = []
        for table, gcol, scol, lcol in tables:
            rows = np.flatnonzero((np.asarray(table[gcol]) == gids[0]) & (np.asarray(
                _strings(table["syn_mech"]), dtype=object) == tr.syn_mech))
            secs = np.asarray(_strings(table[scol]), dtype=object)[rows]
            locs += list(zip(secs.tolist(), np.asarray(table[lcol])[rows].tolist()))
        if tr.index >= len(locs):
            done.append(tr)  # no such synapse: recorded as NaN, as before
            continue
        sec, x = locs[tr.index]
        done.append(dataclasses.replace(tr, sec=sec, loc=float(x),
                                        index=locs[:tr.index].count((sec, x))))
    return tuple(done)


def node_index(x: np.ndarray, nseg: int) -> np.ndarray:
    """NEURON's node of ``sec(x)`` as ``&v(x)`` reads it: ``-1`` at the 0 end, ``nseg`` at the
    1 end, else the segment ``min(int(x * nseg), nseg - 1)``."""
    x = np.asarray(x, dtype=np.float64)
    inner = np.minimum((x * nseg).astype(np.int64), nseg - 1)
    return np.where(x <= 0.0, -1, np.where(x >= 1.0, nseg, inner))


def on_detector(morph: Morphology, names: list[str], xs: np.ndarray) -> np.ndarray:
    """Which presynaptic points ``(names[i], xs[i])`` read ``v`` at the node of the cell's
    spike detector (0.5 of the first segment's section): they spike as the detector does;
    the others get their own spike source (``spike_sec`` / ``spike_loc``)."""
    sec = morph.seg_section[morph.first_segment]
    nseg = int(morph.sections[sec]["nseg"] or 1)
    return (np.asarray(names, dtype=object) == sec) & (
        node_index(xs, nseg) == node_index(np.array([0.5]), nseg)[0])


def off_detector(morph: Morphology, names: list[str], xs: np.ndarray) -> int:
    """How many presynaptic points ``(names[i], xs[i])`` read ``v`` at another node than the
    cell's spike detector (:func:`on_detector`)."""
    return int(len(xs) - np.count_nonzero(on_detector(morph, names, xs)))


def _place_all(out: Any, net: Any, morphs: dict[str, Morphology], lost: list[str]) -> None:
    comp = {p.id: p.component for p in net.populations.values()}
    conns: dict[str, tuple] = {}
    points: dict[str, tuple] = {}
    n_ptr = 0
    for proj in net.projections.values():
        c = proj.columns
        post = morphs.get(comp.get(proj.post_population))
        if post is not None and proj.kind == "chemical":
            conns[proj.id] = post.locations(c["post_segment"], c["post_fraction"])
        pre = morphs.get(comp.get(proj.pre_population))
        if pre is not None and len(c["id"]):
            names, xs = pre.locations(c["pre_segment"], c["pre_fraction"])
            off = ~on_detector(pre, names, xs)
            if off.any() and proj.kind != "chemical":
                n_ptr += int(np.count_nonzero(off))
            elif off.any():  # jNeuroML listens to v there: a spike source of its own
                points[proj.id] = (np.where(off, np.asarray(names, dtype=object), None).tolist(),
                                   np.where(off, xs, np.nan))
    if n_ptr:
        lost.append("electrical/continuous connections from a presynaptic point other than "
                    "the cell's spike detector (nethub reads v at soma(0.5)) "
                    f"({n_ptr})")
    _place(out.connections, "rule", "post_sec", "post_loc", conns)
    if points:
        _place_points(out.connections, points)
    stims: dict[str, tuple] = {}
    for il in net.input_lists.values():
        morph = morphs.get(comp.get(il.population))
        if morph is not None:
            segs = np.asarray(il.columns["segment"], dtype=np.int64)
            segs = np.where(segs == 0, morph.first_segment, segs)  # jNeuroML: 0 = first
            stims[il.id] = morph.locations(segs, il.columns["fraction"])
    _place(out.stim_targets, "rule", "sec", "loc", stims)
    _place_explicit(out, morphs)


def _place_explicit(out: Any, morphs: dict[str, Morphology]) -> None:
    """``explicitInput`` rows on detailed cells: jNeuroML's segment 0 (the first segment),
    fraction 0.5; found by each row's cell, as abstract and detailed targets may mix."""
    table = out.stim_targets
    if table is None or len(table) == 0 or "rule" not in table:
        return
    rows = np.flatnonzero(np.asarray(_strings(table["rule"]), dtype=object) == "explicitInput")
    if len(rows) == 0:
        return
    cells = out.cells
    row_of = {int(g): i for i, g in enumerate(np.asarray(cells["gid"]).tolist())}
    types = _strings(cells["cell_type"])
    secs = np.asarray(_strings(table["sec"]), dtype=object)
    locs = np.array(table["loc"], dtype=np.float64)
    for r in rows.tolist():
        morph = morphs.get(types[row_of[int(table["gid"][r])]])
        if morph is not None:
            secs[r], locs[r] = morph.location(morph.first_segment, 0.5)
    table["sec"] = secs.tolist()
    table["loc"] = locs


#: LEMS quantities of a detailed cell's segment -> NEURON range variable (jNeuroML's names)
TRACE_VARIABLES = {"v": "v", "caConc": "cai", "ca2Conc": "ca2i"}


def trace_target(net: Any, quantity: str) -> tuple[int, str, float, str]:
    """Where jNeuroML's NEURON export records a LEMS quantity of a detailed cell.

    Parameters
    ----------
    net : Network
        The converted network (cells with ``nml.population`` / ``nml.instance``, cell types
        with the ``nml.segments`` tag).
    quantity : str
        ``pop/i/cell/segment/var``, ``pop/i/cell/var`` or ``pop[i]/var`` (segment 0), ``var``
        one of :data:`TRACE_VARIABLES`, or a channel density's variable (see
        :func:`trace_spec`).

    Returns
    -------
    (int, str, float, str)
        gid, section, x (the segment's middle, as jNeuroML records it) and NEURON variable
        (a mechanism's range variable with its ``_<mechanism>`` suffix, as in HOC).

    Raises
    ------
    KeyError
        If the quantity is not of this form, or names no cell / segment of the network.
    """
    gid, sec, x, var, mech = trace_spec(net, quantity)
    return gid, sec, x, var if mech is None else f"{var}_{mech}"


def trace_spec(net: Any, quantity: str) -> tuple[int, str, float, str, str | None]:
    """:func:`trace_target` with the mechanism apart: ``(gid, section, x, variable, mech)``.

    Besides ``v`` / ``caConc`` (``mech`` None), the variables of a channel density
    ``.../<biophysics>/membraneProperties/<density id>/...`` as jNeuroML's NEURON export
    records them: ``gDensity`` -> ``gion``, ``iDensity`` -> ``i__<mech>``, and a path inside
    the ion channel (``<ionChannel>/m/q``) -> its parts joined by ``_`` (``m_q``), all of
    ``mech`` = the density's ion channel (NEURON name).
    """
    parts = quantity.replace("[", "/").replace("]", "").strip("/").split("/")
    tail: list[str] = []
    if "membraneProperties" in parts:
        k = parts.index("membraneProperties")
        parts, tail = parts[:k - 1] + ["v"], parts[k + 1:]
    if len(parts) not in (3, 4, 5) or parts[-1] not in TRACE_VARIABLES:
        raise KeyError(f"{quantity!r} is not pop/i/cell[/segment]/v, caConc or "
                       ".../membraneProperties/<density>/...")
    pop, idx = parts[0], int(parts[1])
    seg = int(parts[3]) if len(parts) == 5 else 0
    cells = net.cells
    hit = np.flatnonzero((np.asarray(_strings(cells["nml.population"]), dtype=object) == pop)
                         & (np.asarray(cells["nml.instance"]) == idx))
    if len(hit) == 0:
        raise KeyError(f"{quantity!r}: no cell {idx} in population {pop!r}")
    row = int(hit[0])
    ct = net.cell_types[_strings(cells["cell_type"])[row]]
    tag = ct.tags.get("nml.segments")
    if tag is None:
        raise KeyError(f"{quantity!r}: cell type {ct.name!r} is not a detailed NeuroML cell")
    sec, x = location_from_tag(tag, seg, 0.5)
    gid = int(cells["gid"][row])
    if not tail:
        return gid, sec, x, TRACE_VARIABLES[parts[-1]], None
    var, mech = _density_variable(ct, tail, quantity)
    return gid, sec, x, var, mech


def _density_variable(ct: CompartmentalCell, tail: list[str], quantity: str
                      ) -> tuple[str, str]:
    """(variable, mechanism) of ``<density id>/gDensity|iDensity|<ionChannel>/...``."""
    densities = ct.tags.get("nml.densities") or {}
    if not tail or tail[0] not in densities:
        raise KeyError(f"{quantity!r}: no channel density {tail[0] if tail else ''!r} in "
                       f"cell {ct.name!r}")
    mech = densities[tail[0]]
    rest = tail[1:]
    if rest == ["gDensity"]:
        return "gion", mech
    if rest == ["iDensity"]:
        return f"i__{mech}", mech
    if len(rest) >= 2 and safe_name(rest[0]) == mech:
        return "_".join(rest[1:]), mech
    raise KeyError(f"{quantity!r}: not gDensity, iDensity or a variable of ion channel "
                   f"{mech!r}")
