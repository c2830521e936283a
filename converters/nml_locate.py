"""From a detailed NeuroML cell's (section, x) back to (segment, fractionAlong): the inverse
of jNeuroML's mapping (:func:`.nml_morph.location_from_tag`), for the export of stores
imported from NeuroML: presynaptic points (``spike_sec`` / ``spike_loc`` connection columns),
postsynaptic points (``post_sec`` / ``post_loc``) and input points (stim ``sec`` / ``loc``).

A point whose section has no segment in the cell's tag, or whose (segment, fraction) does
not map back to its stored ``x`` (beyond float32 rounding), is moved to the nearest point
that does (the section's nearest segment point, else the cell's first segment at 0.5) and
counted, so the export reports it as a loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network
from ..table import Categorical
from .nml_morph import f32_array

__all__ = ["segments_from_tag", "pre_points", "post_points", "input_points"]


def segments_from_tag(tag: dict[str, Any], secs: list[str], xs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Segment ids and fractions along them of points ``(secs[i], xs[i])`` of a cell with the
    ``nml.segments`` tag ``tag``: the segment whose path-length range on its section holds
    ``x * total`` (a section of one segment: that segment, fraction ``x``); fractions are
    rounded to the shortest float32 text (jNeuroML's Java float: the same point).

    Raises
    ------
    KeyError
        If a section has no segment in the tag.
    """
    ids, names = np.asarray(tag["ids"], np.int64), np.asarray(tag["sections"], dtype=object)
    start, length, total = (np.asarray(tag[k], np.float64) for k in ("start", "length", "total"))
    xs = np.asarray(xs, np.float64)
    seg, frac = np.zeros(len(xs), np.int64), xs.copy()
    for name in dict.fromkeys(secs):
        rows = np.flatnonzero(np.asarray(secs, dtype=object) == name)
        cand = np.flatnonzero(names == name)
        if not len(cand):
            raise KeyError(name)
        if not tag["per_group"] or total[cand[0]] == 0.0:  # x is the fraction
            seg[rows] = ids[cand[0]]
            continue
        cand = cand[np.argsort(start[cand], kind="stable")]
        p = xs[rows] * total[cand[0]]
        k = np.clip(np.searchsorted(start[cand], p, side="right") - 1, 0, len(cand) - 1)
        seg[rows] = ids[cand[k]]
        width = np.where(length[cand[k]] > 0.0, length[cand[k]], 1.0)
        # jNeuroML reads fractions as Java floats: the shortest float32 text is the same
        # point and writes 0.6, not 0.6000000000000001
        frac[rows] = f32_array(np.clip((p - start[cand[k]]) / width, 0.0, 1.0))
    return seg, frac


def pre_points(net: Network) -> tuple[np.ndarray, np.ndarray] | None:
    """``(preSegmentId, preFractionAlong)`` of every connection (0 / 0.5: the cell's spike
    detector) when the store has presynaptic points, else None."""
    c = net.connections
    if "spike_loc" not in c or len(c) == 0:
        return None
    loc = np.asarray(c["spike_loc"], np.float64)
    rows = np.flatnonzero(~np.isnan(loc))
    seg, frac = np.zeros(len(c), np.int64), np.full(len(c), 0.5)
    if not len(rows):
        return seg, frac
    cells = net.cells
    ct: Categorical = cells["cell_type"]  # type: ignore[assignment]
    gids = np.asarray(cells["gid"], np.int64)
    order = np.argsort(gids)
    pos = order[np.searchsorted(gids, np.asarray(c["pre_gid"], np.int64)[rows], sorter=order)]
    types = ct.values()[pos]
    secs = np.asarray(c["spike_sec"].values(), dtype=object)[rows]
    for t in dict.fromkeys(types.tolist()):
        sub = types == t
        tag = (net.cell_types[t].tags or {}).get("nml.segments")
        if tag is not None:
            seg[rows[sub]], frac[rows[sub]] = segments_from_tag(tag, secs[sub].tolist(),
                                                                loc[rows[sub]])
    return seg, frac


def x_from_tag(tag: dict[str, Any], seg: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """jNeuroML's ``x`` of points ``frac`` along segments ``seg`` (vectorized
    :func:`.nml_morph.location_from_tag`; every segment must be in the tag)."""
    ids = np.asarray(tag["ids"], np.int64)
    order = np.argsort(ids)
    i = order[np.searchsorted(ids, np.asarray(seg, np.int64), sorter=order)]
    frac = np.asarray(frac, np.float64)
    if not tag["per_group"]:
        return f32_array(frac)
    start, length, total = (np.asarray(tag[k], np.float64)[i] for k in
                            ("start", "length", "total"))
    along = start + frac.astype(np.float32).astype(np.float64) * length
    return f32_array(np.where(total == 0.0, frac, along / np.where(total == 0.0, 1.0, total)))


def _nearest(tag: dict[str, Any], secs: list[str], xs: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`segments_from_tag`, with points of unknown sections put at the cell's first
    segment (0.5); the number of points that do not map back to their own ``x``."""
    known = set(tag["sections"])
    sec_arr = np.asarray(secs, dtype=object)
    ok = np.fromiter((s in known for s in secs), bool, len(secs))
    seg = np.full(len(secs), int(min(tag["ids"])), np.int64)
    frac = np.full(len(secs), 0.5)
    if ok.any():
        seg[ok], frac[ok] = segments_from_tag(tag, sec_arr[ok].tolist(), xs[ok])
    back = x_from_tag(tag, seg[ok], frac[ok])
    moved = int((~ok).sum()) + int(np.sum(~np.isclose(back, f32_array(xs[ok]), rtol=0.0,
                                                      atol=1e-6)))
    return seg, frac, moved


def _points(net: Network, gids: np.ndarray, secs: np.ndarray, locs: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, int]:
    """(segment, fraction) of points ``(secs, locs)`` on cells ``gids`` (0 / 0.5 on cells
    without an ``nml.segments`` tag: point and single-section cells) and how many moved."""
    n = len(gids)
    seg, frac, moved = np.zeros(n, np.int64), np.full(n, 0.5), 0
    if not n:
        return seg, frac, moved
    cells = net.cells
    ct: Categorical = cells["cell_type"]  # type: ignore[assignment]
    cg = np.asarray(cells["gid"], np.int64)
    order = np.argsort(cg)
    types = ct.values()[order[np.searchsorted(cg, np.asarray(gids, np.int64), sorter=order)]]
    for t in dict.fromkeys(types.tolist()):
        tag = (net.cell_types[t].tags or {}).get("nml.segments")
        if tag is None:
            continue
        sub = np.flatnonzero(types == t)
        s, f, m = _nearest(tag, secs[sub].tolist(), locs[sub])
        seg[sub], frac[sub], moved = s, f, moved + m
    return seg, frac, moved


def _strings(col: Any, n: int, fill: str) -> np.ndarray:
    if col is None:
        return np.full(n, fill, dtype=object)
    vals = col.values() if isinstance(col, Categorical) else col
    return np.asarray(vals, dtype=object)


def post_points(net: Network) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(postSegmentId, postFractionAlong, moved)`` of every connection from its
    ``post_sec`` / ``post_loc``, or None when no postsynaptic cell has an ``nml.segments`` tag
    (point cells: segment 0 is right)."""
    c = net.connections
    if len(c) == 0 or "post_sec" not in c or not _any_tag(net):
        return None
    loc = (np.asarray(c["post_loc"], np.float64) if "post_loc" in c
           else np.full(len(c), 0.5))
    return _points(net, np.asarray(c["post_gid"], np.int64),
                   _strings(c["post_sec"], len(c), "soma"), np.nan_to_num(loc, nan=0.5))


def input_points(net: Network) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``(segmentId, fractionAlong, moved)`` of every stim target row from its ``sec`` /
    ``loc``, or None as :func:`post_points`."""
    st = net.stim_targets
    if len(st) == 0 or "sec" not in st or not _any_tag(net):
        return None
    loc = np.asarray(st["loc"], np.float64) if "loc" in st else np.full(len(st), 0.5)
    return _points(net, np.asarray(st["gid"], np.int64), _strings(st["sec"], len(st), "soma"),
                   np.nan_to_num(loc, nan=0.5))


def _any_tag(net: Network) -> bool:
    return any((ct.tags or {}).get("nml.segments") is not None
               for ct in net.cell_types.values())
