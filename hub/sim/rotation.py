"""Per-cell rotations of 3-D points (cells columns ``rot_x``, ``rot_y``, ``rot_z``).

The convention (``docs/store.md`` §3.1): a cell's points ``p`` (relative to its position) become
``Rx(rot_x) · Ry(rot_y) · Rz(rot_z) · p`` -- rotated about z first, then y, then x, BMTK's order
for SONATA's ``rotation_angle_*axis`` -- where each elementary rotation turns by the angle in
NetPyNE's sense (that of ``rotateCellsRandomly`` about y: ``x' = x cos a - z sin a``,
``z' = x sin a + z cos a``), i.e. the right-handed rotation by ``-angle``. NaN means 0.

A cell with only ``rot_y`` is rotated with exactly the arithmetic NetPyNE uses (bit for bit).
"""

from __future__ import annotations

import numpy as np

from ..columns import ROTATION_COLUMNS
from ..table import Table

__all__ = ["cell_angles", "row_angles", "rotate_points"]


def cell_angles(cells: Table) -> np.ndarray | None:
    """An (n, 3) array of (rot_x, rot_y, rot_z) per cell (NaN: none), or None without any
    rotation column."""
    if not any(c in cells for c in ROTATION_COLUMNS):
        return None
    n = len(cells)
    return np.column_stack([np.asarray(cells[c], dtype=np.float64) if c in cells
                            else np.full(n, np.nan) for c in ROTATION_COLUMNS])


def row_angles(angles: np.ndarray | None, row: int) -> tuple[float, float, float] | None:
    """One cell's (rot_x, rot_y, rot_z) with NaN as 0, or None when it has no rotation at all
    (every angle NaN)."""
    if angles is None:
        return None
    a = angles[row]
    if np.all(np.isnan(a)):
        return None
    return tuple(0.0 if np.isnan(v) else float(v) for v in a)  # type: ignore[return-value]


def rotate_points(pt3d: np.ndarray, angles: tuple[float, float, float]) -> np.ndarray:
    """``pt3d`` (n, 4: x, y, z, diam) rotated by ``angles`` (rot_x, rot_y, rot_z)."""
    rx, ry, rz = angles
    pts = pt3d.copy()
    x, y, z = pt3d[:, 0], pt3d[:, 1], pt3d[:, 2]
    if rz != 0.0:
        c, s = np.cos(rz), np.sin(rz)
        x, y = x * c + y * s, -x * s + y * c
    if ry != 0.0 or (rx == 0.0 and rz == 0.0):  # NetPyNE's rotateCellsRandomly arithmetic
        c, s = np.cos(ry), np.sin(ry)
        x, z = x * c - z * s, x * s + z * c
    if rx != 0.0:
        c, s = np.cos(rx), np.sin(rx)
        y, z = y * c + z * s, -y * s + z * c
    pts[:, 0], pts[:, 1], pts[:, 2] = x, y, z
    return pts
