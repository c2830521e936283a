"""Cell shapes as 3-D line segments, for drawing (``plot_shape``).

Sections with 3-D points use them; sections without get a stick layout from ``L`` and the
topology (the root along y, each child leaving its parent's attachment point at an angle that
depends on its rank among the siblings). NEURON's ``define_shape`` lays them out differently;
the layout only draws the cell, it does not enter any computation.
"""

from __future__ import annotations

import numpy as np

from .data import RunData, Selection, cell_types

__all__ = ["cell_segments", "section_points"]


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


def cell_segments(rd: RunData, pops=None, gids=None, color_by: str | None = None,
                  max_cells: int = 50):
    """Segments ``(n, 2, 3)`` (µm, absolute), one value per segment (``color_by``) and the
    population of each segment, for at most ``max_cells`` compartmental cells."""
    types = cell_types(rd)
    cells = rd.cells(["cell_type", "x", "y", "z"])
    keep = np.isin(cells["gid"].to_numpy(), rd.select_gids(Selection(pops, gids)))
    cells = cells[keep]
    cells = cells[[hasattr(types.get(str(c)), "sections") for c in cells["cell_type"]]]
    cells = cells.iloc[:max_cells]
    syns = _synapse_counts(rd, cells["gid"].to_numpy()) if color_by == "numSyns" else {}
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
            else:
                val = _section_value(types[ct].sections[name], color_by) if color_by else 0.0
            vals += [val] * n
            pops_of += [str(row.pop)] * n
    arr = np.concatenate(segs) if segs else np.zeros((0, 2, 3))
    return arr, np.asarray(vals, dtype=float), pops_of
