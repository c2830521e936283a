"""SONATA edges onto biophysical cells: synapse placement, weights and synapse mechanisms as
BMTK's bionet makes them (``biocell.py``, ``morphology.py``, ``default_setters``).

- **Preselected** edges (a ``sec_id``/``afferent_section_id`` column, or no ``nsyns``): one
  synapse on section ``all[sec_id]`` at ``sec_x``/``afferent_section_pos``.
- **Drawn** edges (``nsyns`` with ``target_sections`` + ``distance_range``): ``nsyns`` synapses,
  each on a segment drawn with probability proportional to its length inside the distance
  range, by ``numpy.random.RandomState(gid).choice`` -- one stream per target cell, consumed
  phase by phase (the recurrent edges, then each spikes input), edge population by edge
  population and edge by edge in the target index order: the same draws as BMTK.
- **Weight**: ``syn_weight`` through the edge's ``weight_function`` (``wmax`` and the default:
  as it is; ``gaussianLL``: ``w0 * exp(-(Δ/σ)²)`` of the nodes' ``tuning_angle``); every
  synapse of an edge gets it (no ``nsyns`` factor, no ``sign``: those are point-cell rules).
- **Synapse dynamics** JSON with ``model_template`` ``exp2syn``/``Exp2Syn`` ->
  ``SynMech(model="Exp2Syn", params={"e": erev, "tau1", "tau2"})``, one per file; BMTK's other
  built-in templates (``expsyn``, ``stp1syn``..``stp5syn``, ...) through
  :mod:`nethub.converters.sonata_bio_syn`.

Vectorized over edges; the only Python loop is one per target cell (one RandomState each).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..celltypes import CompartmentalCell, SynMech
from ..errors import ConversionError
from .sonata_bio import _mechanisms, segments_of
from .sonata_bio_syn import TEMPLATES, bmtk_synmech, provided_processes

__all__ = ["place_edges", "find_segments", "draw_segments"]

#: BMTK's ``Morphology.sec_type_swc``.
SEC_TYPE = {"soma": 1, "somatic": 1, "axon": 2, "axonal": 2, "dend": 3, "basal": 3,
            "apic": 4, "apical": 4}
#: BMTK's synapse templates nethub maps onto Exp2Syn (``synapse_models.py``).
_EXP2SYN = ("exp2syn", "Exp2Syn")
#: Weight functions that return ``syn_weight`` unchanged.
_PLAIN_WEIGHT = ("wmax", "default_weight_fnc", "set_syn_weight")
#: Loss messages of converters/sonata.py that this module makes untrue for its edges.
_CARRIED = "(section placement onto cells without sections: not carried)"


def find_segments(segs: dict[str, np.ndarray], sections: list[str],
                  distance_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """BMTK's ``Morphology.find_sections``: candidate segments and their probabilities."""
    dmin, dmax = distance_range[0], distance_range[1]
    length = segs["length"]
    d0 = segs["dist"] - length / 2.0
    d1 = segs["dist"] + length / 2.0
    frac = np.maximum(0, (np.minimum(d1, dmax) - np.maximum(d0, dmin))) / length
    ix_drange = np.where(frac > 0)
    labels = np.array([], dtype=int)
    for name in sections:
        labels = np.append(labels, np.where(segs["type"] == SEC_TYPE[name]))
    tar = np.intersect1d(ix_drange, labels)
    tl = length[tar] * frac[tar]
    return tar, tl / np.sum(tl)


def draw_segments(seed: int, cands: list[tuple[np.ndarray, np.ndarray]],
                  counts: np.ndarray) -> np.ndarray:
    """The segments ``RandomState(seed).choice(cand, n, p=prob)`` gives, call after call.

    ``cands[i]`` is the (segments, probabilities) of call *i*, ``counts[i]`` its ``n``;
    calls without candidates draw nothing (BMTK returns before drawing). One
    ``random_sample`` for all calls gives the same numbers as the consecutive calls.
    """
    counts = np.asarray(counts, dtype=np.int64)
    has = np.array([len(c[0]) > 0 for c in cands], dtype=bool)
    u = np.random.RandomState(seed).random_sample(int(counts[has].sum()))
    out = np.full(int(counts.sum()), -1, dtype=np.int64)
    pos_u = pos_o = 0
    for (tar, prob), n, ok in zip(cands, counts.tolist(), has.tolist(), strict=True):
        if ok and n:
            cdf = prob.cumsum()
            cdf /= cdf[-1]
            out[pos_o:pos_o + n] = tar[cdf.searchsorted(u[pos_u:pos_u + n], side="right")]
            pos_u += n
        pos_o += n
    return out


def _as_list(value: Any) -> list | None:
    """A target_sections / distance_range value (list, array, or its CSV text)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            got = json.loads(text.replace("'", '"'))
        except ValueError:
            try:
                return [0.0, float(text)]  # BMTK: a single number is [0, d]
            except ValueError:
                return None
        return got if isinstance(got, list) else [0.0, float(got)]
    return list(np.asarray(value).tolist())


def _weights(tab: pd.DataFrame, src_ta: np.ndarray, trg_ta: np.ndarray, where: str,
             lost: list[str]) -> np.ndarray:
    w = pd.to_numeric(tab["syn_weight"]).to_numpy(float) if "syn_weight" in tab \
        else np.zeros(len(tab))
    if "weight_function" not in tab:
        return w
    wf = tab["weight_function"].astype(object).where(tab["weight_function"].notna(), "")
    wf = wf.astype(str).to_numpy()
    gauss = wf == "gaussianLL"
    if gauss.any():
        sigma = pd.to_numeric(tab["weight_sigma"]).to_numpy(float) if "weight_sigma" in tab \
            else np.full(len(tab), np.nan)
        delta = np.abs(np.abs(np.abs(180.0 - np.abs(trg_ta - src_ta) % 360.0) - 90.0) - 90.0)
        w = np.where(gauss, w * np.exp(-(delta / sigma) ** 2), w)
    other = sorted(set(wf[~gauss]) - {"", *_PLAIN_WEIGHT})
    if other:
        lost.append(f"{where}: weight_function {other} unknown to nethub; syn_weight used")
    return w


def _syn_mechs(tab: pd.DataFrame, circuit: Any, net: Any, where: str,
               lost: list[str]) -> np.ndarray:
    """The SynMech name of each row (made from its dynamics_params and model_template)."""
    def col(k: str) -> pd.Series:
        if k not in tab:
            return pd.Series([""] * len(tab), index=tab.index)
        return tab[k].astype(object).where(tab[k].notna(), "").astype(str)
    keys = pd.DataFrame({"t": col("model_template"), "d": col("dynamics_params")})
    out = np.empty(len(tab), dtype=object)
    for (templ, dyn), rows in keys.groupby(["t", "d"], sort=True).indices.items():
        out[rows] = _one_mech(templ, dyn, circuit, net, where, lost)
    return out


def _one_mech(templ: str, dyn: str, circuit: Any, net: Any, where: str,
              lost: list[str]) -> str:
    params = circuit.synapse_params.get(dyn) or {}
    name = Path(dyn).stem if dyn else "syn"
    if templ not in _EXP2SYN and not name.endswith(f".{templ or 'none'}"):  # export's names
        name = f"{name}.{templ or 'none'}"
    if name in net.syn_mechs:
        return name
    prov = {"format": "sonata", "dynamics_params": dyn or None, "model_template": templ}
    if templ in _EXP2SYN:
        p = {"e": float(params.get("erev", 0.0)), "tau1": float(params.get("tau1", 0.1)),
             "tau2": float(params.get("tau2", 10.0))}
        missing = [k for k in ("erev", "tau1", "tau2") if k not in params]
        if missing:
            lost.append(f"{where}: synapse {dyn or '(no dynamics_params)'} lacks {missing}; "
                        "Exp2Syn defaults used")
        net.syn_mechs[name] = SynMech(name, "Exp2Syn", p, provenance=prov)
    elif templ in TEMPLATES:
        provided = provided_processes(_mechanisms(circuit, net))
        try:
            mech, notes = bmtk_synmech(name, templ, params, dyn, provided)
        except ConversionError as exc:
            raise ConversionError(f"{where}: {exc}") from None
        lost.extend(f"{where}: {n}" for n in notes)
        net.syn_mechs[name] = mech
    else:
        lost.append(f"{where}: synapse model_template {templ!r} is not one of BMTK's built-in "
                    "templates (a BMTK run script registers such a function with "
                    "@bionet.synapse_model: user code nethub does not run); made as NEURON "
                    f"point process {templ!r} with {dyn}'s numeric values")
        net.syn_mechs[name] = SynMech(name, templ or "Exp2Syn",
                                      {k: v for k, v in params.items()
                                       if isinstance(v, (int, float))}, provenance=prov)
    return name


def _phases(circuit: Any) -> list[list[str]]:
    """BMTK's build phases: recurrent edge populations, then one per spikes input."""
    virtual = set()
    for name, pop in circuit.nodes.items():
        tab = pop.table()
        if "model_type" in tab and (tab["model_type"].astype(str) == "virtual").all():
            virtual.add(name)
    names = list(circuit.edges)
    phases = [[n for n in names if circuit.edges[n].source_population not in virtual]]
    for spikes in circuit.spike_inputs.values():
        phases.append([n for pop in circuit.nodes if pop in spikes for n in names
                       if circuit.edges[n].source_population == pop])
    return phases


def _node_col(cells: pd.DataFrame, col: str, gids: np.ndarray) -> np.ndarray:
    if col not in cells:
        return np.full(len(gids), np.nan)
    vals = pd.to_numeric(cells[col], errors="coerce").to_numpy(float)
    return vals[np.searchsorted(cells["gid"].to_numpy(), gids)]


def place_edges(circuit: Any, conns: list[pd.DataFrame], cells: pd.DataFrame, net: Any,
                lost: list[str]) -> list[pd.DataFrame]:
    """Connections onto biophysical cells placed, weighted and typed as BMTK does.

    Parameters
    ----------
    circuit : SonataCircuit
    conns : list of DataFrame
        One per edge population (in ``circuit.edges`` order), one row per edge, as the
        point-neuron mapping made them (``pre_gid``, ``post_gid``, ``weight``, ``delay``,
        ``sonata.edge_population``, ``sonata.edge_id``).
    cells : DataFrame
        The cells (``gid``, ``cell_type``, ``sonata.*`` node properties).
    net : Network
        Its compartmental cell types; receives the synaptic mechanisms.
    lost : list of str

    Returns
    -------
    list of DataFrame
        Rows onto biophysical cells replaced by one row per synapse with ``syn_mech``,
        ``post_sec``, ``post_loc``; the other rows as they were.
    """
    ctype = cells["cell_type"].to_numpy(dtype=object)
    gid_sorted = cells["gid"].to_numpy()
    kinds = {k: isinstance(v, CompartmentalCell) for k, v in net.cell_types.items()}
    is_bio = pd.Series(ctype).map(kinds).fillna(False).to_numpy(bool)
    if not is_bio.any():
        return conns
    segs = segments_of(circuit)
    plans = {}
    for (ep_name, ep), frame in zip(circuit.edges.items(), conns, strict=True):
        rows = np.searchsorted(gid_sorted, frame["post_gid"].to_numpy())
        bio = is_bio[rows]
        if bio.any():
            plans[ep_name] = _plan(ep, frame, bio, ctype[rows], cells, circuit, net, lost)
    drawn = _draw(circuit, plans, segs)
    out = []
    for ep_name, frame in zip(circuit.edges, conns, strict=True):
        if ep_name not in plans:
            out.append(frame)
            continue
        out.append(_expand(frame, plans[ep_name], drawn[ep_name], segs, net))
        _forget(lost, ep_name, bool(plans[ep_name]["bio"].all()))
    return _categorical(out, [circuit.edges[n].name if n in plans else None
                              for n in circuit.edges], net)


def _categorical(frames: list[pd.DataFrame], placed: list, net: Any) -> list[pd.DataFrame]:
    """String columns of the placed frames as pandas categoricals with shared categories, so
    that their concatenation stays categorical (the table hand-over is then vectorized)."""
    cats = {"syn_mech": sorted(net.syn_mechs),
            "post_sec": sorted({s for ct in net.cell_types.values()
                                if isinstance(ct, CompartmentalCell) for s in ct.sections}),
            "sonata.edge_population": sorted({f["sonata.edge_population"].iloc[0]
                                              for f in frames if len(f)})}
    for k in cats:  # never lose a value to a missing category
        cats[k] = sorted(set(cats[k]).union(*(set(pd.unique(f[k].dropna()))
                                              for f, n in zip(frames, placed, strict=True)
                                              if n is not None and k in f)))
    out = []
    for frame, name in zip(frames, placed, strict=True):
        if name is not None:
            frame = frame.assign(**{k: pd.Categorical(frame[k], categories=v)
                                    for k, v in cats.items() if k in frame})
        out.append(frame)
    return out


def _forget(lost: list[str], ep_name: str, all_bio: bool) -> None:
    """Drop the point-neuron mapping's loss notes that this module made untrue."""
    def carried(m: str) -> bool:
        if m.startswith(f"edge population {ep_name}:") and _CARRIED in m:
            return True
        # _weights applied the weight functions to every row (unknown ones it reports)
        return (m.startswith(f"edges {ep_name}: weight_function ")
                and m.endswith("taken as wmax")
                or m.startswith(f"edge population {ep_name}: edges key 'weight_sigma'"))
    lost[:] = [m for m in lost if not carried(m)]


def _plan(ep: Any, frame: pd.DataFrame, bio: np.ndarray, ctypes: np.ndarray,
          cells: pd.DataFrame, circuit: Any, net: Any, lost: list[str]) -> dict:
    tab = ep.table().reset_index(drop=True)
    where = f"{ep.source}: edges {ep.name}"
    n = len(tab)
    sec_id = np.full(n, np.nan)
    sec_x = np.full(n, np.nan)
    for ids, xs in (("afferent_section_id", "afferent_section_pos"), ("sec_id", "sec_x")):
        if ids in tab:  # sec_id/sec_x win where both are given (BMTK checks them first)
            v = pd.to_numeric(tab[ids]).to_numpy(float)
            sec_id = np.where(np.isnan(v), sec_id, v)
            if xs in tab:
                x = pd.to_numeric(tab[xs]).to_numpy(float)
                sec_x = np.where(np.isnan(v), sec_x, x)
    nsyns = pd.to_numeric(tab["nsyns"]).to_numpy(float) if "nsyns" in tab \
        else np.full(n, np.nan)
    pre = ~np.isnan(sec_id) | np.isnan(nsyns)
    src_ta = _node_col(cells, "sonata.tuning_angle", frame["pre_gid"].to_numpy())
    trg_ta = _node_col(cells, "sonata.tuning_angle", frame["post_gid"].to_numpy())
    weight = _weights(tab, src_ta, trg_ta, where, lost)
    w0 = pd.to_numeric(tab["syn_weight"]).to_numpy(float) if "syn_weight" in tab \
        else np.zeros(n)
    mechs = np.full(n, None, dtype=object)  # only synapses onto biophysical cells are made
    mechs[bio] = _syn_mechs(tab[bio].reset_index(drop=True), circuit, net, where, lost)
    bad = bio & pre & np.isnan(sec_id)
    if bad.any():
        lost.append(f"{where}: {int(bad.sum())} edges onto biophysical cells have neither a "
                    "section id nor nsyns; put on the soma (soma[0](0.5))")
    id_key = "sec_id" if "sec_id" in tab else "afferent_section_id"
    return {"bio": bio, "pre": pre, "post": frame["post_gid"].to_numpy(), "sec_id": sec_id,
            "id_key": id_key,
            "sec_x": np.where(np.isnan(sec_x), 0.5, sec_x),
            "nsyns": np.where(pre, 1, np.nan_to_num(nsyns)).astype(np.int64),
            "weight": weight,
            # point targets of the same population: the weight function applies too (BMTK's
            # PointProcessCell.set_syn_connection), as a factor on the point mapping's weight
            "wfactor": np.divide(weight, w0, out=np.ones(n), where=w0 != 0),
            "syn_mech": mechs,
            "ctype": ctypes,
            "sections": tab["target_sections"].to_numpy(object) if "target_sections" in tab
            else np.full(n, None, object),
            "range": tab["distance_range"].to_numpy(object) if "distance_range" in tab
            else np.full(n, None, object),
            "where": where, "lost": lost}


def _draw(circuit: Any, plans: dict, segs: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per edge population: (synapses per row, their segments in row order). One stream per
    target cell, seeded once (BMTK's ``_init_connections`` runs once) and consumed phase after
    phase; the draws are turned into segments per (cell type, sections, range) at once."""
    parts = []
    for ph, phase in enumerate(_phases(circuit)):
        for order, name in enumerate(phase):
            if name in plans:
                rows = np.flatnonzero(plans[name]["bio"] & ~plans[name]["pre"])
                parts.append((ph, order, name, rows))
    names = list(plans)
    out = {n: (np.zeros(len(plans[n]["bio"]), np.int64), np.zeros(0, np.int64))
           for n in names}
    parts = [x for x in parts if len(x[3])]
    if not parts:
        return out

    def cat(f) -> np.ndarray:
        return np.concatenate([f(*x) for x in parts])
    ph = cat(lambda a, b, n, r: np.full(len(r), a))
    od = cat(lambda a, b, n, r: np.full(len(r), b))
    epi = cat(lambda a, b, n, r: np.full(len(r), names.index(n)))
    row = cat(lambda a, b, n, r: r)
    post = cat(lambda a, b, n, r: plans[n]["post"][r]).astype(np.int64)
    nsyn = cat(lambda a, b, n, r: plans[n]["nsyns"][r])
    keys = pd.DataFrame({k: cat(lambda a, b, n, r, k=k: plans[n][k][r]).astype(str)
                         for k in ("ctype", "sections", "range")})
    codes = keys.groupby(list(keys), sort=False).ngroup().to_numpy()
    firsts = np.unique(codes, return_index=True)[1]
    cands = [_candidates(plans[names[epi[i]]], int(row[i]), segs) for i in firsts]
    has = np.array([len(c[0]) > 0 for c in cands])[codes]
    for i, name in enumerate(names):
        empty = int(((epi == i) & ~has & (nsyn > 0)).sum())
        if empty:
            plans[name]["empty"] = empty
    n_eff = np.where(has, nsyn, 0)
    order = np.lexsort((row, od, ph, post))
    cells, start = np.unique(post[order], return_index=True)
    totals = np.add.reduceat(n_eff[order], start)
    u = np.concatenate([np.random.RandomState(int(g)).random_sample(int(t))  # per cell
                        for g, t in zip(cells.tolist(), totals.tolist(), strict=True)])
    owner = np.repeat(order, n_eff[order])
    seg = np.empty(len(u), dtype=np.int64)
    dkey = codes[owner]
    for k, (tar, prob) in enumerate(cands):
        m = dkey == k
        if m.any():
            cdf = prob.cumsum()
            cdf /= cdf[-1]
            seg[m] = tar[cdf.searchsorted(u[m], side="right")]
    back = np.lexsort((np.arange(len(u)), row[owner], epi[owner]))
    seg, ep_of = seg[back], epi[owner][back]
    for i, name in enumerate(names):
        cnt = np.zeros(len(plans[name]["bio"]), np.int64)
        mine = epi == i
        cnt[row[mine]] = n_eff[mine]
        out[name] = (cnt, seg[ep_of == i])
    return out


def _candidates(p: dict, r: int, segs: dict) -> tuple[np.ndarray, np.ndarray]:
    table = segs.get(p["ctype"][r])
    sections = _as_list(p["sections"][r])
    rng = _as_list(p["range"][r])
    if table is None or not sections or rng is None:
        return np.zeros(0, np.int64), np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return find_segments(table, [str(s) for s in sections], (float(rng[0]), float(rng[1])))


def _expand(frame: pd.DataFrame, p: dict, drawn: tuple[np.ndarray, np.ndarray],
            segs: dict, net: Any) -> pd.DataFrame:
    """One row per synapse for the biophysical rows; the rest unchanged."""
    n = len(frame)
    bio = p["bio"]
    drawn_rows = bio & ~p["pre"]
    counts = np.ones(n, dtype=np.int64)
    counts[drawn_rows] = drawn[0][drawn_rows]
    if p.get("empty"):
        p["lost"].append(f"{p['where']}: {p['empty']} edges found no segment in their "
                         "target_sections/distance_range (no synapse, as BMTK)")
    rep = np.repeat(np.arange(n), counts)
    out = frame.iloc[rep].reset_index(drop=True)
    post_sec = np.full(len(rep), None, dtype=object)
    post_loc = np.full(len(rep), np.nan)
    seg_of = np.full(len(rep), -1, dtype=np.int64)
    seg_of[drawn_rows[rep]] = drawn[1]
    bio_rep = bio[rep]
    pre_rep = p["pre"][rep] & bio_rep
    for ct in set(p["ctype"][bio].tolist()):
        cell = net.cell_types[ct]
        names = np.array(cell.section_lists.get("all", list(cell.sections)), dtype=object)
        mine = bio_rep & (p["ctype"][rep] == ct)
        sid = p["sec_id"][rep]
        pm = mine & pre_rep & ~np.isnan(sid)
        bad = pm & ((sid < 0) | (sid >= len(names)))
        if bad.any():
            raise ConversionError(f"{p['where']}: {p['id_key']} {int(sid[bad][0])} (edge id "
                                  f"{int(out['sonata.edge_id'].to_numpy()[bad][0])}) is no "
                                  f"section of cell type {ct} ({len(names)} sections)")
        post_sec[pm] = names[sid[pm].astype(np.int64)]
        post_loc[pm] = p["sec_x"][rep][pm]
        soma = mine & pre_rep & np.isnan(sid)
        post_sec[soma] = cell.spike_source[0] if cell.spike_source else names[0]
        post_loc[soma] = 0.5
        dm = mine & ~pre_rep
        if dm.any():
            table = segs[ct]
            post_sec[dm] = names[table["sec_id"][seg_of[dm]]]
            post_loc[dm] = table["x"][seg_of[dm]]
    out["weight"] = np.where(bio_rep, p["weight"][rep],
                             out["weight"].to_numpy() * p["wfactor"][rep])
    out["syn_mech"] = np.where(bio_rep, p["syn_mech"][rep], None)
    out["post_sec"] = post_sec
    out["post_loc"] = np.where(bio_rep, post_loc, 0.5)
    return out
