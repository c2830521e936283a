"""From a detailed NeuroML cell's (section, x) back to (segment, fractionAlong): the inverse
of jNeuroML's mapping (:func:`.nml_morph.location_from_tag`), for the export of presynaptic
points (``spike_sec`` / ``spike_loc`` connection columns) of stores imported from NeuroML."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..network import Network
from ..table import Categorical

__all__ = ["segments_from_tag", "pre_points"]


def segments_from_tag(tag: dict[str, Any], secs: list[str], xs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Segment ids and fractions along them of points ``(secs[i], xs[i])`` of a cell with the
    ``nml.segments`` tag ``tag``: the segment whose path-length range on its section holds
    ``x * total`` (a section of one segment: that segment, fraction ``x``).

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
        frac[rows] = np.clip((p - start[cand[k]]) / width, 0.0, 1.0)
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
