"""Where on the postsynaptic cell each connection's synapses go (NetPyNE's
``CompartCell.addConn`` and its helpers), vectorized per (post cell type, synsPerConn) group.
"""

from __future__ import annotations

import logging
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, PointCell
from ..errors import SpecError
from ..limits import check_memory
from ..specs.schema import netparam
from ..table import Categorical
from .budget import BYTES_PER_CONN
from .draws import random_section_index

__all__ = ["place_synapses", "section_labels", "distribute_uniformly", "concat_categoricals"]

logger = logging.getLogger(__name__)


def section_labels(cell: CompartmentalCell, sec: Any, where: str = "") -> list[str]:
    """NetPyNE's ``_setConnSections``: the candidate sections of a connection.

    Like NetPyNE, an unknown section name falls back to the soma (or the first section) and
    unknown names in a list are dropped; NetPyNE says so only with ``cfg.verbose``, nethub
    always logs a warning naming ``where`` and the cell type."""
    secs = cell.sections
    if not sec or (isinstance(sec, str) and sec not in secs and sec not in cell.section_lists):
        fallback = ["soma"] if "soma" in secs else [next(iter(secs))] if secs else []
        if sec:
            _warn_sections(cell, [sec], where, f"uses {fallback[0]!r} instead" if fallback
                           else "connects nothing")
        return fallback
    if isinstance(sec, list) or sec in cell.section_lists:
        names = list(sec) if isinstance(sec, list) else list(cell.section_lists[sec])
        missing = [s for s in names if s not in secs]
        if missing:
            _warn_sections(cell, missing, where, "leaves them out")
        return [s for s in names if s in secs]
    return [sec]


def _warn_sections(cell: CompartmentalCell, names: list, where: str, action: str) -> None:
    logger.warning("%s: cell type %r has no section or section list %s (known: %s); NetPyNE "
                   "%s", where or "sec", cell.name, ", ".join(repr(s) for s in names),
                   ", ".join(sorted([*cell.sections, *cell.section_lists])), action)


def distribute_uniformly(cell: CompartmentalCell, labels: list[str], n: int
                         ) -> tuple[list[str], list[float]]:
    """NetPyNE's ``_distributeSynsUniformly``: n synapses evenly along the summed length."""
    lengths = []
    for s in labels:
        L = cell.sections[s].geom.get("L")
        lengths.append(float(L) if isinstance(L, Number) else 1.0)
    total = sum(lengths)
    cum = np.cumsum(lengths)
    absl = np.arange(n) * (total / n) + total / n / 2
    idx = np.searchsorted(cum, absl, side="left")
    return [labels[i] for i in idx], [float((cum[i] - a) / lengths[i]) for a, i in zip(absl, idx)]


def _vref_target(cell: CompartmentalCell, labels: list[str], mech: str):
    """A point process with ``vref`` on the only section is the target (Izhikevich-style)."""
    if len(labels) != 1:
        return None, 0
    for pp in cell.sections[labels[0]].point_processes:
        if "vref" in pp:
            syn_list = pp.get("synList") or []
            return pp["label"], (syn_list.index(mech) if mech in syn_list else 0)
    return None, 0


def _as_pair_array(v: Any, n: int, default: float) -> np.ndarray:
    if v is None:
        return np.full(n, default, dtype=np.float64)
    return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()


def concat_categoricals(parts: list[Categorical]) -> Categorical:
    """One Categorical from several (categories merged in order of first appearance)."""
    cats: dict[str, int] = {}
    for p in parts:
        for c in p.categories:
            cats.setdefault(c, len(cats))
    codes = []
    for p in parts:
        remap = np.array([cats[c] for c in p.categories] + [-1], dtype=np.int32)
        codes.append(remap[p.codes])
    return Categorical(np.concatenate(codes) if codes else np.zeros(0, np.int32), list(cats))


def _sec_column(labels, codes: np.ndarray) -> Categorical:
    """Section names ``labels[codes]`` as a Categorical (labels may repeat)."""
    cats = list(dict.fromkeys(labels))
    lut = np.array([cats.index(lab) for lab in labels], dtype=np.int32)
    return Categorical(lut[codes], cats)


def _weight_norm(cell: CompartmentalCell, secs: Categorical, locs: np.ndarray, w: np.ndarray
                 ) -> np.ndarray:
    for name, sec in cell.sections.items():
        wn = sec.weight_norm
        if not isinstance(wn, list) or not wn:
            continue
        on = secs.codes == secs.code_of(name)
        if on.any():
            nseg = int(sec.geom.get("nseg", 1))
            idx = np.round(locs[on] * nseg).astype(np.int64) - 1
            w[on] = w[on] * np.asarray(wn, dtype=np.float64)[idx]
    return w


def place_synapses(ctx, cr, pre, post, item, mech: str, per: dict, types: dict) -> dict:
    """Expand pairs into synapse rows: pre/post row indices, sec, loc, weight, delay, and the
    index of each row's pair in ``pre``/``post`` (rows come grouped by post cell type)."""
    ct_col = ctx.cells["cell_type"]
    codes = ct_col.codes[post]
    spc = per["synsPerConn"]
    spc_arr = (np.ones(len(pre), dtype=np.int64) if spc is None else
               np.broadcast_to(np.round(np.asarray(spc, dtype=np.float64)).astype(np.int64),
                               (len(pre),)))
    if len(spc_arr):
        check_memory(float(spc_arr.astype(np.float64).sum()) * BYTES_PER_CONN,
                     f"{cr.where}['synsPerConn']: {len(pre):,} connections with up to "
                     f"{int(spc_arr.max()):,} synapses each")
    out: dict[str, list] = {k: [] for k in ("pre", "post", "sec", "loc", "weight", "delay",
                                            "weight_index", "pair")}
    groups = _groups(codes, spc_arr)
    for code, s, sel in groups:
        cell = types[ct_col.categories[code]]
        if sel is None:  # one group: every pair, no copies
            rows = _group(ctx, cr, pre, post, per, cell, s, mech)
            rows["pair"] = np.arange(len(pre)) if s == 1 else np.repeat(np.arange(len(pre)), s)
        else:
            rows = _group(ctx, cr, pre[sel], post[sel], {k: _take(v, sel) for k, v in
                                                         per.items()}, cell, s, mech)
            rows["pair"] = np.repeat(sel, len(rows["pre"]) // max(len(sel), 1))
        for k in out:
            out[k].append(rows[k])
    secs = out.pop("sec")
    rows = {k: (v[0] if len(v) == 1 else np.concatenate(v) if v else np.zeros(0))
            for k, v in out.items()}
    rows["sec"] = secs[0] if len(secs) == 1 else concat_categoricals(secs)
    return rows


def _groups(codes: np.ndarray, spc_arr: np.ndarray) -> list[tuple[int, int, Any]]:
    """(cell type code, synsPerConn, pair indices or None for all pairs) of each group."""
    if not len(codes):
        return []
    if codes.min() == codes.max() and spc_arr.min() == spc_arr.max():
        return [(int(codes[0]), int(spc_arr[0]), None)]
    out = []
    for code in np.unique(codes):
        for s in np.unique(spc_arr[codes == code]):
            out.append((int(code), int(s), np.flatnonzero((codes == code) & (spc_arr == s))))
    return out


def _take(v: Any, sel: np.ndarray) -> Any:
    if isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype != object:
        return v[sel] if len(v) > 1 or len(sel) == 1 else v
    return v


def _scale(ctx, cell, post: np.ndarray) -> float | np.ndarray:
    """NetPyNE's weight scale of each pair: ``scaleConnWeightModels[cellModel]`` of the post
    cell (its population's ``cellModel`` tag, else its cell type's), else ``scaleConnWeight``."""
    default = float(netparam(ctx.net, "scaleConnWeight"))
    models = ctx.net.get("scaleConnWeightModels")
    if not isinstance(models, dict) or not models:
        return default
    pops = ctx.cells["pop"]
    type_model = cell.tags.get("cellModel") if cell is not None else None
    pop_params = ctx.net.get("popParams") or {}
    lut = [float(models[m]) if m in models else default
           for m in ((pop_params.get(p) or {}).get("cellModel", type_model)
                     for p in pops.categories)]
    return np.asarray(lut + [default], dtype=np.float64)[pops.codes[post]]


def _group(ctx, cr, pre, post, per, cell, s: int, mech: str) -> dict:
    n = len(pre)
    net = ctx.net
    scale = _scale(ctx, cell, post)
    weight = per["weight"]
    delay = per["delay"]
    if isinstance(cell, PointCell) or not getattr(cell, "sections", None):
        w = _as_pair_array(weight, n, netparam(net, "defaultWeight")) * scale
        return dict(pre=pre, post=post, sec=Categorical(np.full(n, -1), []),
                    loc=np.full(n, np.nan), weight=w,
                    delay=_as_pair_array(delay, n, netparam(net, "defaultDelay")),
                    weight_index=np.zeros(n, dtype=np.int32))
    labels = section_labels(cell, cr.rule.get("sec"), f"{cr.where}['sec']")
    if not labels:
        raise SpecError(f"{cr.where}['sec']: no valid section on cell type '{cell.name}'")
    pointp, widx = _vref_target(cell, labels, mech)
    loc = per["loc"]
    if pointp is not None:
        if s > 1:
            raise SpecError(f"{cr.where}: synsPerConn > 1 is not allowed on cells whose voltage "
                            f"lives in a point process ('{cell.name}')")
        secs, locs = [labels[0]], [_scalar_loc(loc)]
    elif s == 1:
        secs, locs = _single(ctx, cr, cell, labels, loc, pre, post)
    else:
        secs, locs = _multi(ctx, cr, cell, labels, loc, s)
    return _expand(ctx, pre, post, secs, locs, weight, delay, s, scale, cell, widx, cr)


def _scalar_loc(loc: Any) -> float:
    if loc is None:
        return 0.5
    if isinstance(loc, list):
        return float(loc[0])
    return loc


def _single(ctx, cr, cell, labels, loc, pre, post):
    """One synapse: the first candidate section, or a random one (connRandomSecFromList)."""
    locs = loc if isinstance(loc, list) else [0.5 if loc is None else loc]
    rand_sec = cr.rule.get("connRandomSecFromList", ctx.cfg.get("connRandomSecFromList", True))
    if rand_sec and len(labels) > 1:
        if len(locs) > 1 and len(locs) != len(labels):
            raise SpecError(f"{cr.where}['loc']: with connRandomSecFromList and one synapse, "
                            "give one loc per section")
        locs = locs * len(labels) if len(locs) == 1 else locs

        pos = random_section_index(ctx.gids[post], ctx.gids[pre], len(labels))
        return _sec_column(labels, pos), np.array([_num(v, cr) for v in locs])[pos]
    return [labels[0]], [locs[0]]


def _multi(ctx, cr, cell, labels, loc, s):
    if len(labels) == 1:
        if isinstance(loc, list):
            if len(loc) != s:
                raise SpecError(f"{cr.where}['loc']: needs synsPerConn ({s}) values")
            return [labels[0]] * s, list(loc)
        return [labels[0]] * s, [i / s + 1 / s / 2 for i in range(s)]
    uniform = cr.rule.get("distributeSynsUniformly", ctx.cfg.get("distributeSynsUniformly",
                                                                 True))
    if uniform:
        return distribute_uniformly(cell, labels, s)
    if cr.rule.get("connRandomSecFromList", ctx.cfg.get("connRandomSecFromList", True)):
        raise SpecError(f"{cr.where}: synsPerConn > 1 with connRandomSecFromList and "
                        "distributeSynsUniformly=False is not supported yet")
    locs = loc if isinstance(loc, list) else [0.5 if loc is None else loc] * s
    if len(labels) != s or len(locs) != s:
        raise SpecError(f"{cr.where}: with connRandomSecFromList=False, give synsPerConn ({s}) "
                        "sections and locations")
    return labels, locs


def _expand(ctx, pre, post, secs, locs, weight, delay, s, scale, cell, widx, cr) -> dict:
    """Rows for n pairs × s synapses (secs/locs per synapse, or per pair when arrays)."""
    n = len(pre)
    per_pair = isinstance(secs, Categorical)
    k = 1 if per_pair else len(secs)
    reps = s if not per_pair else 1
    rep_pre, rep_post = (pre, post) if reps == 1 else (np.repeat(pre, reps),
                                                       np.repeat(post, reps))
    if per_pair:
        sec_arr, loc_arr = secs, locs
    else:
        labels = list(secs[:s] if k >= s else secs * s)[:s]
        sec_arr = _sec_column(labels, np.tile(np.arange(len(labels)), n))
        if isinstance(locs[0], np.ndarray):
            loc_arr = np.repeat(locs[0], reps)
        else:
            per_syn = np.array([_num(v, cr) for v in (list(locs) if s > 1 else [locs[0]])],
                               dtype=np.float64)
            loc_arr = np.tile(per_syn, n) if s > 1 else np.full(n, per_syn[0])
    w = _syn_values(weight, n, s, netparam(ctx.net, "defaultWeight"), "weight", cr)
    if np.ndim(scale):  # per pair (scaleConnWeightModels); rows come pair-major
        w *= np.repeat(scale, len(w) // n) if n else 1.0
    elif scale != 1:
        w *= scale
    d = _syn_values(delay, n, s, netparam(ctx.net, "defaultDelay"), "delay", cr)
    w = _weight_norm(cell, sec_arr, loc_arr, w)
    return dict(pre=rep_pre, post=rep_post, sec=sec_arr, loc=loc_arr, weight=w, delay=d,
                weight_index=np.full(len(rep_pre), widx, dtype=np.int32))


def _num(v: Any, cr) -> float:
    if isinstance(v, Number):
        return float(v)
    raise SpecError(f"{cr.where}['loc']: expected a number, got {v!r}")


def _syn_values(v: Any, n: int, s: int, default: float, key: str, cr) -> np.ndarray:
    if v is None:
        return np.full(n * s, float(default))
    if isinstance(v, list):
        if len(v) != s:
            raise SpecError(f"{cr.where}['{key}']: a list must have synsPerConn ({s}) values")
        return np.tile(np.asarray(v, dtype=np.float64), n)
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n * s, float(arr))
    return np.repeat(np.broadcast_to(arr, (n,)), s)
