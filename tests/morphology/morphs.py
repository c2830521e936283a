"""Synthetic morphologies for the tests, generated here (no fetched data): a small SWC tree
(three-point soma, basal dendrites, an apical tuft, an axon) and a NeuroLucida ASC file with a
contour cell body, and one without (NetPyNE's morphology loader refuses contours)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def swc_rows(seed: int = 3) -> list[tuple]:
    """SWC rows (id, type, x, y, z, radius, parent), deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = [(1, 1, 0.0, 0.0, 0.0, 10.0, -1), (2, 1, 0.0, -10.0, 0.0, 10.0, 1),
                         (3, 1, 0.0, 10.0, 0.0, 10.0, 1)]

    def branch(parent: int, kind: int, start, direction, depth: int, npts: int) -> None:
        pos, p = np.asarray(start, float), parent
        for i in range(npts):
            pos = pos + direction * 8 + rng.normal(0, 1, 3)
            radius = max(0.3, 2.0 - 0.3 * depth - 0.05 * i)
            rows.append((len(rows) + 1, kind, *np.round(pos, 3).tolist(), round(radius, 3), p))
            p = len(rows)
        if depth < 2:
            for s in (-1, 1):
                d = direction + s * np.array([0.5, 0.3, 0.1])
                branch(p, kind, pos, d / np.linalg.norm(d), depth + 1, 3)

    branch(1, 3, (0, 0, 0), np.array([1.0, 0, 0]), 0, 4)
    branch(1, 3, (0, 0, 0), np.array([-1.0, 0.2, 0]) / np.hypot(1, 0.2), 1, 4)
    branch(3, 4, (0, 10, 0), np.array([0, 1.0, 0]), 0, 4)
    branch(2, 2, (0, -10, 0), np.array([0, -1.0, 0]), 1, 4)
    return rows


def write_swc(folder: Path, name: str = "cell.swc") -> Path:
    path = Path(folder) / name
    path.write_text("# synthetic test cell (nethub tests/morphology/morphs.py)\n" +
                    "".join(" ".join(str(v) for v in r) + "\n" for r in swc_rows()))
    return path


def _tree(kind: str, pts: list[tuple], fork: list[list[tuple]]) -> str:
    lines = [f"( ({kind})"] + [f"  ({x:g} {y:g} {z:g} {d:g})" for x, y, z, d in pts]
    if fork:
        lines.append("  (")
        for i, b in enumerate(fork):
            if i:
                lines.append("  |")
            lines += [f"    ({x:g} {y:g} {z:g} {d:g})" for x, y, z, d in b]
        lines.append("  )")
    return "\n".join(lines + [")"]) + "\n"


#: An ASC soma outline (a closed contour around the origin, 14 µm across).
_CONTOUR = [(7.0 * np.cos(a), 7.0 * np.sin(a), 0.0, 0.0)
            for a in np.linspace(0, 2 * np.pi, 9)[:-1]]


def write_asc(folder: Path, name: str = "cell.asc", contour: bool = True) -> Path:
    """A NeuroLucida file: (with ``contour``) a CellBody outline, then a dendrite with a fork,
    an apical dendrite and an axon."""
    text = ""
    if contour:
        text += "(\"CellBody\"\n (Color Red)\n (CellBody)\n" + "".join(
            f" ({x:.3f} {y:.3f} {z:.3f} {d:g})\n" for x, y, z, d in _CONTOUR) + ")\n"
    start = 7.0 if contour else 0.0
    text += _tree("Dendrite", [(start, 0, 0, 2.0), (20, 2, 0, 1.8), (35, 3, 1, 1.6)],
                  [[(35, 3, 1, 1.2), (50, 12, 2, 1.0), (62, 20, 2, 0.8)],
                   [(35, 3, 1, 1.2), (52, -8, 0, 1.0), (70, -15, -1, 0.7)]])
    text += _tree("Apical", [(0, start, 0, 3.0), (1, 30, 0, 2.5), (2, 60, 1, 2.0),
                             (2, 90, 2, 1.5)], [])
    text += _tree("Axon", [(0, -start, 0, 1.0), (0, -30, 1, 0.8), (1, -80, 2, 0.6)], [])
    path = Path(folder) / name
    path.write_text(text)
    return path
