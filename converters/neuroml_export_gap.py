"""NetPyNE gap junctions (pointer connections) -> NeuroML ``electricalProjection`` (issue 13
item 4).

A NetPyNE gap junction is a pair of pointer connections: on each cell a point process (e.g.
NetPyNE's ``ElectSyn``) whose ``vpeer`` reads the other cell's ``v``, with the connection's
weight as the mechanism's ``weight``. When the mechanism's NMODL (in the store) computes
``i = weight * g * (v - vpeer)``, it is exactly NeuroML's ``gapJunction`` (jNeuroML puts one on
each cell, ``i = weight * conductance * (v - vpeer)``): the pair becomes one
``electricalConnectionInstanceW`` (pre/post segment and fractionAlong of the two ends, the
weight) in an ``electricalProjection`` per (rule, pre population, post population, mechanism),
and the mechanism a ``<gapJunction conductance="g uS">``.

Reported as losses: pointer connections of other mechanisms (graded synapses, gap junctions of
another formula or whose NMODL is not in the store), one-directional rows (NeuroML's gap
junctions act on both cells), rows whose cells were not exported.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..network import Network
from ..table import Categorical
from .neuroml_export_morph import num

__all__ = ["gap_conductance", "gap_projections", "native_gap_projections"]

_CURRENT = re.compile(r"\bi\s*=\s*(?:weight\s*\*\s*g|g\s*\*\s*weight)\s*\*\s*\(\s*v\s*-\s*"
                      r"vpeer\s*\)")
_NEURON = re.compile(r"\bPOINT_PROCESS\s+(\w+)")
_PARAM_G = re.compile(r"\bPARAMETER\s*\{[^}]*?\bg\s*=\s*([-+0-9.eE]+)", re.S)
_BLOCK_COMMENT = re.compile(r"\bCOMMENT\b.*?\bENDCOMMENT\b", re.S)
_LINE_COMMENT = re.compile(r"[:?][^\n]*")


def _col(table: Any, name: str, n: int, fill: Any) -> np.ndarray:
    if name not in table:
        return np.full(n, fill)
    col = table[name]
    return np.asarray(list(col.values()) if isinstance(col, Categorical) else col)


def _mod_text(net: Network, model: str) -> str | None:
    """The NMODL text of POINT_PROCESS ``model`` in the store, comments removed."""
    for text in (net.mod_files or {}).values():
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        clean = _LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", str(text)))
        m = _NEURON.search(clean)
        if m and m.group(1) == model:
            return clean
    return None


def gap_conductance(net: Network, mech: str) -> tuple[float | None, str]:
    """The conductance (µS) of a gap-junction synaptic mechanism, or None and why not."""
    s = net.syn_mechs.get(mech)
    if s is None:
        return None, f"pointer mechanism {mech!r} is not a synaptic mechanism of the store"
    ptr = s.pointer or {}
    if ptr.get("source_var", "v") != "v" or ptr.get("target_var", "vpeer") != "vpeer":
        return None, f"{mech!r} ({s.model}) reads {ptr.get('source_var')!r} into " \
                     f"{ptr.get('target_var')!r}, not v into vpeer"
    text = _mod_text(net, s.model)
    if text is None:
        return None, f"{mech!r}: the NMODL of {s.model!r} is not in the store (cannot tell " \
                     "whether it is a gap junction)"
    if not _CURRENT.search(text):
        return None, f"{mech!r}: {s.model} does not compute i = weight * g * (v - vpeer)"
    g = (s.params or {}).get("g")
    if g is None:
        m = _PARAM_G.search(text)
        g = float(m.group(1)) if m else None
    if g is None or isinstance(g, str):
        return None, f"{mech!r}: no numeric conductance g"
    return float(g), ""


def _mirrors(pre, post, psec, qsec, ploc, qloc, w) -> np.ndarray:
    """For each row, whether the opposite row (post -> pre, same ends and weight) exists."""
    names = {n: k for k, n in enumerate(dict.fromkeys([*psec, *qsec]))}
    ps = np.array([names[n] for n in psec], np.int64)
    qs = np.array([names[n] for n in qsec], np.int64)
    a = np.stack([pre, post, ps, qs, ploc.view(np.int64), qloc.view(np.int64),
                  w.view(np.int64)], axis=1)
    b = np.stack([post, pre, qs, ps, qloc.view(np.int64), ploc.view(np.int64),
                  w.view(np.int64)], axis=1)
    both = np.unique(np.concatenate([a, b]), axis=0, return_inverse=True)[1].ravel()
    ka, kb = both[: len(a)], both[len(a):]
    return np.isin(ka, kb)


def gap_projections(net: Network, lookup: Any, locate: Any, lost: list[str]
                    ) -> tuple[dict[str, str], list[dict]]:
    """``gapJunction`` components and electrical projections of the store's gap junctions.

    Parameters
    ----------
    net : Network
    lookup : callable
        gids -> (population, instance, exported) arrays of the exported cells.
    locate : callable
        (gids, sections, locs) -> (segment ids, fractions along) on the exported cells.
    lost : list of str
        Losses are appended here.

    Returns
    -------
    (dict of str to str, list of dict)
        Components by id; projections (``kind`` ``"electrical"``).
    """
    pc = net.pointer_conns
    n = 0 if pc is None else len(pc)
    if n == 0:
        return {}, []
    mech = _col(pc, "syn_mech", n, "").astype(str)
    comps, ok = {}, np.zeros(n, bool)
    for m in dict.fromkeys(mech.tolist()):
        g, why = gap_conductance(net, m)
        rows = mech == m
        if g is None:
            lost.append(f"pointer connections of {why}; not exported ({int(rows.sum())})")
            continue
        comps[m] = f'<gapJunction id="{m}" conductance="{num(g)}uS"/>'
        ok |= rows
    pre, post = np.asarray(pc["pre_gid"], np.int64), np.asarray(pc["post_gid"], np.int64)
    psec, qsec = _col(pc, "pre_sec", n, "soma").astype(str), _col(pc, "post_sec", n,
                                                                   "soma").astype(str)
    ploc = _col(pc, "pre_loc", n, 0.5).astype(np.float64)
    qloc = _col(pc, "post_loc", n, 0.5).astype(np.float64)
    w = _col(pc, "weight", n, 1.0).astype(np.float64)
    w = np.where(np.isnan(w), 1.0, w)
    mirrored = _mirrors(pre, post, psec, qsec, ploc, qloc, w)
    one_way = ok & ~mirrored
    if one_way.any():
        lost.append("gap junctions: NeuroML's act on both cells; one-directional pointer "
                    f"connections not exported ({int(one_way.sum())})")
    keep = ok & mirrored & (pre < post)  # each pair once, from the lower gid
    ppop, pinst, pok = lookup(pre)
    qpop, qinst, qok = lookup(post)
    if (keep & ~(pok & qok)).any():
        lost.append("gap junctions between cells not exported: dropped "
                    f"({int((keep & ~(pok & qok)).sum())})")
    keep &= pok & qok
    pseg, pfrac = locate(pre, psec, ploc)
    qseg, qfrac = locate(post, qsec, qloc)
    rule = _col(pc, "rule", n, "gap").astype(str)
    projs = []
    for key in dict.fromkeys(zip(rule[keep], ppop[keep], qpop[keep], mech[keep])):
        rows = np.flatnonzero(keep & (rule == key[0]) & (ppop == key[1]) & (qpop == key[2])
                              & (mech == key[3]))
        pid = "_".join(map(str, key)).replace(" ", "_").replace("->", "_to_")
        projs.append({"id": pid, "kind": "electrical", "pre": key[1], "post": key[2],
                      "synapse": key[3],
                      "columns": {"pre_cell": pinst[rows], "post_cell": qinst[rows],
                                  "pre_segment": pseg[rows], "pre_fraction": pfrac[rows],
                                  "post_segment": qseg[rows], "post_fraction": qfrac[rows],
                                  "weight": w[rows]}})
    used = {p["synapse"] for p in projs}
    return {k: v for k, v in comps.items() if k in used}, projs


def native_gap_projections(net: Network, where: dict, gap_ids: set[str], lost: list[str]
                           ) -> list[dict]:
    """Electrical projections of a store imported from NeuroML, rebuilt from its pointer rows.

    The NeuroML import writes each ``electricalProjection`` as two row blocks under its id
    (``rule``): the gap junction on the post cells reading the pre cells, then on the pre
    cells reading the post cells (``neuroml_pointers``). The second block is the projection in
    its own direction and order; the first must mirror it. Rows of other mechanisms
    (graded synapses of continuous projections) are losses.

    Parameters
    ----------
    net : Network
    where : dict
        ``{gid: (population, instance id)}`` of the exported cells.
    gap_ids : set of str
        Ids of the ``gapJunction`` components in the store's embedded NeuroML.
    lost : list of str
    """
    pc = net.pointer_conns
    n = 0 if pc is None else len(pc)
    if n == 0:
        return []
    mech = _col(pc, "syn_mech", n, "").astype(str)
    rule = _col(pc, "rule", n, "gap").astype(str)
    pre, post = np.asarray(pc["pre_gid"], np.int64), np.asarray(pc["post_gid"], np.int64)
    w = _col(pc, "weight", n, 1.0).astype(np.float64)
    w = np.where(np.isnan(w), 1.0, w)
    other = ~np.isin(mech, list(gap_ids))
    if other.any():
        lost.append("pointer connections of other components than gap junctions (graded "
                    f"synapses): not exported ({int(other.sum())})")
    out = []
    for r in dict.fromkeys(rule[~other].tolist()):
        rows = np.flatnonzero((rule == r) & ~other)
        half = len(rows) // 2
        a, b = rows[:half], rows[half:]
        if (len(rows) % 2 or len(set(mech[rows])) != 1 or np.any(pre[a] != post[b])
                or np.any(post[a] != pre[b]) or np.any(w[a] != w[b])):
            lost.append(f"gap junction rows of {r!r} are not the two mirrored blocks of an "
                        f"electricalProjection; not exported ({len(rows)})")
            continue
        if not all(int(g) in where for g in np.concatenate([pre[b], post[b]])):
            lost.append(f"gap junctions of {r!r}: cells not exported; dropped ({half})")
            continue
        pops = {(where[int(p)][0], where[int(q)][0]) for p, q in zip(pre[b], post[b])}
        if len(pops) != 1:
            lost.append(f"gap junctions of {r!r} join several population pairs; not "
                        f"exported ({half})")
            continue
        (ppop, qpop), = pops
        out.append({"id": r, "kind": "electrical", "pre": ppop, "post": qpop,
                    "synapse": str(mech[b[0]]),
                    "columns": {"pre_cell": np.array([where[int(g)][1] for g in pre[b]]),
                                "post_cell": np.array([where[int(g)][1] for g in post[b]]),
                                "weight": w[b]}})
    return out
