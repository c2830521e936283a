"""HDF5 morphologies (BBP / MorphIO "H5 v1") as the text NEURON's Import3d reads.

NEURON's Import3d reads SWC and NeuroLucida files, not HDF5. An H5 v1 morphology
(``/points``: x, y, z, diameter; ``/structure``: first point, section type, parent section;
optional ``/metadata`` with ``version`` 1.1-1.3 and ``/perimeters``) holds the same tree as
the NeuroLucida (ASC) or SWC file it was converted from; MorphIO writes every child section
starting at its parent's last point (:func:`_own_points`). :func:`h5_to_text` writes that
tree back:

* a soma of several points (MorphIO: a soma contour) -> NeuroLucida text with a
  ``CellBody`` contour and one nested tree per neurite (child sections without the copied
  branch point, as in the ASC file);
* a soma of one point -> SWC text (the copied branch points dropped the same way, radius =
  diameter / 2).

Coordinates are written as the shortest decimal that reads back to the stored value in the
stored precision (float32 files: ``0.001``, not ``0.0010000000474974513``), so Import3d
reads the numbers the original text file had. Imported by :mod:`nethub.sim.morphread` (the
child process); pure numpy/h5py, no NEURON.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

__all__ = ["h5_to_text", "read_h5"]

#: NeuroLucida tree names of the section types Import3d knows (2 axon, 3 dendrite, 4 apical).
_ASC_TREE = {2: "Axon", 3: "Dendrite", 4: "Apical"}


def read_h5(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 4) and structure (m, 3) of an H5 v1 morphology.

    Raises
    ------
    ValueError
        Not an H5 v1 morphology (H5 v2 ``/neuron1`` files are named as such), or
        inconsistent offsets; the message names the file and dataset.
    """
    with h5py.File(path, "r") as f:
        if "points" not in f or "structure" not in f:
            kind = "an H5 v2 morphology (/neuron1; deprecated, convert it to v1 with " \
                "MorphIO)" if "neuron1" in f else "not an H5 morphology"
            raise ValueError(f"{path}: {kind}: /points and /structure are needed")
        pts, st = f["points"], f["structure"]
        if pts.ndim != 2 or pts.shape[1] != 4:
            raise ValueError(f"{path}: /points must have 4 columns (x, y, z, d), has shape "
                             f"{pts.shape}")
        if st.ndim != 2 or st.shape[1] != 3:
            raise ValueError(f"{path}: /structure must have 3 columns (start, type, parent), "
                             f"has shape {st.shape}")
        points, structure = pts[()], st[()].astype(np.int64)
    starts = structure[:, 0]
    if len(starts) and (np.any(np.diff(starts) <= 0) or starts[0] != 0
                        or starts[-1] >= len(points)):
        raise ValueError(f"{path}: /structure start offsets must increase from 0 within "
                         f"{len(points)} points")
    if np.any(structure[:, 2] >= np.arange(len(structure))):
        raise ValueError(f"{path}: /structure parents must precede their children")
    return points, structure


def _fmt(values: np.ndarray) -> list[str]:
    """Shortest decimal strings that read back to each value in its own precision."""
    return [np.format_float_positional(v, unique=True, trim="-") for v in values]


def _sections(points: np.ndarray, structure: np.ndarray) -> list[np.ndarray]:
    ends = np.append(structure[1:, 0], len(points))
    return [points[s:e] for s, e in zip(structure[:, 0], ends, strict=True)]


def _own_points(secs: list[np.ndarray], structure: np.ndarray, i: int,
                swc: bool = False) -> np.ndarray:
    """Section ``i``'s points without the branch point the converter to HDF5 added.

    Each child section of an HDF5 morphology starts at its parent's last position. Reading a
    NeuroLucida file, MorphIO adds that point with the child's first diameter unless the file
    had it; an SWC child shares its parent's point (and diameter). So the first point is
    dropped when Import3d makes the same point itself: in NeuroLucida text (``swc=False``)
    when its diameter is the next point's, in SWC text when it is the parent's last
    point's; otherwise it was in the source file and is kept."""
    parent = structure[i, 2]
    pts = secs[i]
    if parent < 0 or structure[parent, 1] == 1 or len(pts) < 2 \
            or not np.array_equal(pts[0, :3], secs[parent][-1, :3]):
        return pts
    same = secs[parent][-1, 3] if swc else pts[1, 3]
    return pts[1:] if pts[0, 3] == same else pts


def _asc_points(pts: np.ndarray, indent: str) -> list[str]:
    cols = [_fmt(pts[:, k]) for k in range(4)]
    return [f"{indent}({x} {y} {z} {d})" for x, y, z, d in zip(*cols, strict=True)]


def _asc_tree(secs, structure, children, i: int, indent: str) -> list[str]:
    lines = _asc_points(_own_points(secs, structure, i), indent)
    kids = children.get(i, [])
    if kids:
        lines.append(f"{indent}(")
        for k, c in enumerate(kids):
            if k:
                lines.append(f"{indent}|")
            lines += _asc_tree(secs, structure, children, c, indent + "  ")
        lines.append(f"{indent})")
    return lines


def _children(structure: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, p in enumerate(structure[:, 2]):
        out.setdefault(int(p), []).append(i)
    return out


def _to_asc(points, structure, path) -> str:
    secs = _sections(points, structure)
    soma = [i for i in range(len(structure)) if structure[i, 1] == 1]
    children = _children(structure)
    lines = [f"; written by nethub from {Path(path).name} (H5 v1) for NEURON's Import3d"]
    for i in soma:
        lines += ['("CellBody"', " (CellBody)", *_asc_points(secs[i], " "), ")"]
    roots = [i for i in range(len(structure)) if structure[i, 1] != 1
             and (structure[i, 2] < 0 or structure[structure[i, 2], 1] == 1)]
    for i in roots:
        kind = int(structure[i, 1])
        if kind not in _ASC_TREE:
            raise ValueError(f"{path}: /structure row {i}: section type {kind} has no "
                             "NeuroLucida tree (known: 2 axon, 3 dendrite, 4 apical)")
        lines += [f"( ({_ASC_TREE[kind]})", *_asc_tree(secs, structure, children, i, "  "),
                  ")"]
    return "\n".join(lines) + "\n"


def _to_swc(points, structure, path) -> str:
    secs = _sections(points, structure)
    rows: list[tuple] = []
    last: dict[int, int] = {}  # section -> SWC id of its last point
    for i in range(len(structure)):
        kind, parent = int(structure[i, 1]), int(structure[i, 2])
        pts = _own_points(secs, structure, i, swc=True)
        prev = -1 if parent < 0 else last[parent]
        if kind != 1 and parent >= 0 and structure[parent, 1] == 1:
            prev = 1  # neurites hang on the soma's point
        for p in pts:
            rows.append((len(rows) + 1, kind, p, prev))
            prev = len(rows)
        last[i] = prev
    lines = [f"# written by nethub from {Path(path).name} (H5 v1) for NEURON's Import3d"]
    for rid, kind, p, parent in rows:
        x, y, z, r = _fmt(np.array([p[0], p[1], p[2], p[3] / 2], dtype=points.dtype))
        lines.append(f"{rid} {kind} {x} {y} {z} {r} {parent}")
    return "\n".join(lines) + "\n"


def h5_to_text(path: str | Path) -> tuple[str, str]:
    """The text Import3d reads for an H5 v1 morphology.

    Parameters
    ----------
    path : path
        The ``.h5`` file.

    Returns
    -------
    (suffix, text)
        ``(".asc", NeuroLucida text)`` for a soma contour, ``(".swc", SWC text)`` for a
        one-point soma or no soma.
    """
    points, structure = read_h5(path)
    soma = np.flatnonzero(structure[:, 1] == 1)
    n_soma = sum(len(s) for s in _sections(points, structure)[: len(soma)]) if len(soma) \
        else 0
    if len(soma) and np.any(soma != np.arange(len(soma))):
        raise ValueError(f"{path}: /structure: the soma must come first")
    if n_soma > 1:
        return ".asc", _to_asc(points, structure, path)
    return ".swc", _to_swc(points, structure, path)
