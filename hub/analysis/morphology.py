"""Cell shapes as 3-D line segments, for drawing (``plot_shape``).

Sections with 3-D points use them; sections without get a stick layout from ``L`` and the
topology (the root along y, each child leaving its parent's attachment point at an angle that
depends on its rank among the siblings). NEURON's ``define_shape`` lays them out differently;
the layout only draws the cell, it does not enter any computation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import AnalysisError, RunData, Selection, cell_types

__all__ = ["cell_segments", "section_points", "section_values", "is_simulated"]


def section_points(cell) -> dict[str, np.ndarray]:
    """``name -> (n, 3)`` points of every section of a compartmental cell type (relative to
    the cell position)."""
    secs = cell.sections
    pts: dict[str, np.ndarray] = {}
    children: dict[str | None, list[str]] = {}
    for name, sec in secs.items():
        children.setdefault(sec.parent if sec.parent in secs else None, []).append(name)

    def place(name: str, start: np.ndarray, angle: float) -> None:
        sec = secs[name]
        if sec.pt3d is not None and len(sec.pt3d):
            pts[name] = np.asarray(sec.pt3d)[:, :3]
        else:
            length = float(sec.geom.get("L", 10.0) or 10.0)
            direction = np.array([np.sin(angle), np.cos(angle), 0.0])
            pts[name] = np.vstack([start, start + length * direction])
        kids = children.get(name, [])
        for i, kid in enumerate(kids):
            p = pts[name]
            x = secs[kid].parent_x
            at = p[0] + (p[-1] - p[0]) * x
            spread = (i - (len(kids) - 1) / 2) * 0.6
            place(kid, at, angle + spread + (np.pi if x < 0.5 else 0.0))

    for i, root in enumerate(children.get(None, [])):
        length = float(secs[root].geom.get("L", 10.0) or 10.0)
        place(root, np.array([0.0, -length / 2, 0.0]) + i * np.array([5.0, 0, 0]), 0.0)
    return pts


def _section_value(sec, color_by: str) -> float:
    if "." in color_by:
        mech, _, param = color_by.partition(".")
        val = sec.mechs.get(mech, {}).get(param)
    else:
        val = sec.geom.get(color_by)
    if isinstance(val, (list, tuple)):
        val = float(np.mean(val)) if len(val) else None
    try:
        return float(val) if val is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _synapse_counts(rd: RunData, gids: np.ndarray) -> dict[tuple[int, str], int]:
    """Incoming connections per (gid, post section) (NetPyNE's ``cvar='numSyns'``)."""
    conns = rd.connections(("post_sec",))
    conns = conns[np.isin(conns["post_gid"].to_numpy(), gids)]
    counts = conns.groupby(["post_gid", conns["post_sec"].astype(str)]).size()
    return {(int(g), str(s)): int(n) for (g, s), n in counts.items()}


def is_simulated(color_by: str | None) -> bool:
    """Whether ``color_by`` names a recorded variable (``'trace:<var>'``, ``'imembrane'``)."""
    return bool(color_by) and (color_by == "imembrane" or color_by.startswith("trace:"))


def _reduce(time: np.ndarray, data: np.ndarray, at: float | None) -> np.ndarray:
    """Per row: the sample at time ``at`` (the last one at or before it), else the mean."""
    if data.shape[-1] == 0:
        return np.full(data.shape[:-1], np.nan)
    if at is None:
        return data.mean(axis=-1)
    if not time[0] <= at <= time[-1]:
        raise AnalysisError(f"shape colouring: time {at} ms is outside the recorded "
                            f"{time[0]}..{time[-1]} ms")
    return data[..., max(int(np.searchsorted(time, at, side="right")) - 1, 0)]


def _imembrane(rd: RunData, gid: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(time, (n_times, n_segments) nA) stored by ``saveIMembrane`` for one cell, or None."""
    if rd._results is not None:
        arr = rd._results.lfp_extra.get(f"imembrane/{gid}")
        return None if arr is None else (rd._results.lfp_time, np.asarray(arr))
    import h5py

    with h5py.File(rd.path, "r") as f:
        g = f[f"results/{rd.run}"].get("lfp")
        if g is None or f"imembrane/{gid}" not in g:
            return None
        arr = g[f"imembrane/{gid}"][()]
        return rd._lfp_parts(g["lfp_time"][()] if "lfp_time" in g else None, arr, None)[:2]


def _imembrane_values(rd, cell, gid: int, sel: Selection, at) -> dict[str, float]:
    """Each section's total transmembrane current (sum over its segments, nA)."""
    got = _imembrane(rd, gid)
    if got is None:
        return {}
    time, arr = got
    lo, hi = rd._time_slice(time, sel)
    nseg = [int(sec.geom.get("nseg", 1) or 1) for sec in cell.sections.values()]
    if sum(nseg) != arr.shape[1]:
        raise AnalysisError(f"{rd._where()}: lfp/imembrane/{gid} has {arr.shape[1]} segments, "
                            f"the cell type's sections {sum(nseg)} (nseg set per cell?)")
    per_seg = _reduce(time[lo:hi], arr[lo:hi].T, at)
    bounds = np.cumsum([0, *nseg])
    return {name: float(per_seg[a:b].sum())
            for name, a, b in zip(cell.sections, bounds[:-1], bounds[1:])}


def section_values(rd: RunData, types: dict, cells, color_by: str, time_range=None,
                   at: float | None = None) -> dict[tuple[int, str], float]:
    """``(gid, section) -> value`` of a recorded variable, time-averaged over ``time_range``
    (default: the whole run) or taken at time ``at`` (ms).

    ``color_by``: ``'trace:<var>'`` (a ``recordTraces`` variable, e.g. ``'trace:v'``; a
    section with several traces of it gets their mean) or ``'imembrane'`` (each section's
    total transmembrane current in nA, from ``saveIMembrane``). Sections without a recording
    are left out (drawn grey).
    """
    sel = Selection(time_range=time_range)
    out: dict[tuple[int, str], float] = {}
    gids = [int(g) for g in cells["gid"]]
    if color_by == "imembrane":
        for gid, ct in zip(gids, cells["cell_type"]):
            vals = _imembrane_values(rd, types[str(ct)], gid, sel, at)
            out.update({(gid, name): v for name, v in vals.items()})
        return out
    var = color_by.partition(":")[2]
    idx = rd.trace_index()
    rows = np.flatnonzero(np.isin(idx["gid"].to_numpy(), gids)
                          & (idx["var"].astype(str).to_numpy() == var))
    if len(rows) == 0:
        return out
    time, data = rd.traces(rows, sel)
    vals = _reduce(time, data, at)
    sub = pd.DataFrame({"gid": idx["gid"].to_numpy()[rows],
                        "sec": idx["sec"].astype(str).to_numpy()[rows], "val": vals})
    for (gid, sec), v in sub.groupby(["gid", "sec"])["val"].mean().items():
        out[(int(gid), str(sec))] = float(v)
    return out


def cell_segments(rd: RunData, pops=None, gids=None, color_by: str | None = None,
                  max_cells: int = 50, time_range=None, at: float | None = None):
    """Segments ``(n, 2, 3)`` (µm, absolute), one value per segment (``color_by``; see
    :func:`section_values` for recorded variables) and the population of each segment, for
    at most ``max_cells`` compartmental cells."""
    types = cell_types(rd)
    cells = rd.cells(["cell_type", "x", "y", "z"])
    keep = np.isin(cells["gid"].to_numpy(), rd.select_gids(Selection(pops, gids)))
    cells = cells[keep]
    cells = cells[[hasattr(types.get(str(c)), "sections") for c in cells["cell_type"]]]
    cells = cells.iloc[:max_cells]
    syns = _synapse_counts(rd, cells["gid"].to_numpy()) if color_by == "numSyns" else {}
    if is_simulated(color_by):
        syns = section_values(rd, types, cells, color_by, time_range, at)
    segs, vals, pops_of = [], [], []
    shapes: dict[str, dict] = {}
    for row in cells.itertuples(index=False):
        ct = str(row.cell_type)
        if ct not in shapes:
            shapes[ct] = section_points(types[ct])
        origin = np.array([row.x, row.y, row.z])
        for name, p in shapes[ct].items():
            p = p + origin
            n = len(p) - 1
            segs.append(np.stack([p[:-1], p[1:]], axis=1))
            if color_by == "numSyns":
                val = float(syns.get((int(row.gid), name), 0))
            elif is_simulated(color_by):
                val = syns.get((int(row.gid), name), float("nan"))
            else:
                val = _section_value(types[ct].sections[name], color_by) if color_by else 0.0
            vals += [val] * n
            pops_of += [str(row.pop)] * n
    arr = np.concatenate(segs) if segs else np.zeros((0, 2, 3))
    return arr, np.asarray(vals, dtype=float), pops_of
