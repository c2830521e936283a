"""Compartmental cell type -> NeuroML ``<morphology>`` (issue 13 item 4).

Each section becomes one or more segments: one per pair of consecutive 3-D points when the
section has ``pt3d``, else one cylinder of length ``L`` and diameter ``diam``. Each section
gets a segment group of its own name holding its segments, with the
``numberInternalDivisions`` property set to its ``nseg``; a child's first segment names its
parent segment and ``fractionAlong`` (where on the parent section it attaches). Section lists
become segment groups that include the sections' groups, and ``all`` holds every section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Morphology", "group_of", "morphology", "num", "section_length", "section_order"]


def num(x: Any) -> str:
    """Shortest exact text of a float (``repr``), integers without ``.0``."""
    x = float(x)
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


@dataclass
class Morphology:
    """A cell's NeuroML morphology and its (section, x) -> (segment, fractionAlong) map.

    Attributes
    ----------
    xml : str
        The ``<morphology>`` element.
    sections : dict of str to (ndarray, ndarray)
        Per section: its segment ids (int64) and cumulative arc fractions at each segment's
        distal end (float64, last = 1).
    groups : list of str
        Segment group ids (one per section, per section list, and ``all``).
    """

    xml: str
    sections: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)

    def locate(self, sec: np.ndarray, loc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment ids and fractions along them of points ``(sec[i], loc[i])``.

        Unknown sections map to segment 0 at fraction 0.5 (the soma centre, as NetPyNE
        does for point cells)."""
        sec = np.asarray(sec, dtype=object)
        loc = np.clip(np.asarray(loc, dtype=np.float64), 0.0, 1.0)
        seg = np.zeros(len(sec), dtype=np.int64)
        frac = np.full(len(sec), 0.5)
        for name in np.unique(sec.astype(str)):
            if name not in self.sections:
                continue
            rows = sec.astype(str) == name
            ids, ends = self.sections[name]
            starts = np.concatenate([[0.0], ends[:-1]])
            k = np.minimum(np.searchsorted(ends, loc[rows], side="left"), len(ids) - 1)
            width = np.where(ends[k] > starts[k], ends[k] - starts[k], 1.0)
            seg[rows] = ids[k]
            frac[rows] = np.clip((loc[rows] - starts[k]) / width, 0.0, 1.0)
        return seg, frac


def group_of(section: str) -> str:
    """The segment group of a section's properties (``<section>_group``)."""
    return f"{section}_group"


def section_order(sections: dict[str, Any]) -> list[str]:
    """Sections with every parent before its children (roots in stored order)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in seen or name in path:
            return
        parent = sections[name].parent
        if parent in sections:
            visit(parent, path + (name,))
        seen.add(name)
        done.append(name)

    for name in sections:
        visit(name, ())
    return done


def _points(sec: Any) -> np.ndarray:
    """``(n, 4)`` points x, y, z, diam of a section (a cylinder along x without pt3d)."""
    if sec.pt3d is not None and len(sec.pt3d) >= 2:
        return np.asarray(sec.pt3d, dtype=np.float64)
    length = float(sec.geom.get("L", 100.0))
    diam = float(sec.geom.get("diam", 500.0))
    return np.array([[0.0, 0.0, 0.0, diam], [length, 0.0, 0.0, diam]])


def section_length(sec: Any) -> float:
    """The exported section's length (µm): its 3-D path length, as NEURON computes ``L``."""
    pts = _points(sec)
    return float(np.linalg.norm(np.diff(pts[:, :3], axis=0), axis=1).sum())


def _point_xml(tag: str, p: np.ndarray) -> str:
    return (f'<{tag} x="{num(p[0])}" y="{num(p[1])}" z="{num(p[2])}" '
            f'diameter="{num(p[3])}"/>')


def morphology(cell_id: str, sections: dict[str, Any],
               section_lists: dict[str, list[str]] | None = None,
               group_extras: dict[str, str] | None = None) -> Morphology:
    """The NeuroML morphology of a compartmental cell type.

    Parameters
    ----------
    cell_id : str
    sections : dict of str to Section
    section_lists : dict of str to list of str, optional
    group_extras : dict of str to str, optional
        XML appended to a section's property group (``<section>_group``), by section:
        its ``inhomogeneousParameter`` for non-uniform densities.

    Returns
    -------
    Morphology
    """
    segs: list[str] = []
    groups: list[str] = []
    out = Morphology(xml="")
    offset: dict[str, np.ndarray] = {}
    next_id = 0
    for name in section_order(sections):
        sec = sections[name]
        pts = _points(sec).copy()
        parent = sec.parent if sec.parent in out.sections else None
        if parent is not None:
            pseg, pfrac = out.locate(np.array([parent]), np.array([sec.parent_x]))
            pts[:, :3] += offset[parent] - pts[0, :3]
        lengths = np.linalg.norm(np.diff(pts[:, :3], axis=0), axis=1)
        total = lengths.sum()
        ends = (np.cumsum(lengths) / total if total > 0
                else np.linspace(1.0 / len(lengths), 1.0, len(lengths)))
        ids = np.arange(next_id, next_id + len(lengths), dtype=np.int64)
        for k, sid in enumerate(ids):
            if k == 0 and parent is not None:
                par = (f'<parent segment="{int(pseg[0])}" '
                       f'fractionAlong="{num(pfrac[0])}"/>')
            elif k > 0:
                par = f'<parent segment="{int(sid - 1)}"/>'
            else:
                par = ""
            prox = _point_xml("proximal", pts[k]) if k == 0 else ""
            segs.append(f'<segment id="{int(sid)}" name="{name}_{k}">{par}{prox}'
                        f'{_point_xml("distal", pts[k + 1])}</segment>')
        next_id += len(lengths)
        out.sections[name] = (ids, ends)
        offset[name] = pts[-1, :3]
        nseg = int(sec.geom.get("nseg", 1))
        members = "".join(f'<member segment="{int(s)}"/>' for s in ids)
        groups.append(f'<segmentGroup id="{name}" neuroLexId="sao864921383">'
                      f'<property tag="numberInternalDivisions" value="{nseg}"/>'
                      f'{members}</segmentGroup>')
        out.groups.append(name)
    for lst, names in (section_lists or {}).items():
        if lst in out.sections or lst == "all":
            continue
        inc = "".join(f'<include segmentGroup="{n}"/>' for n in names if n in out.sections)
        groups.append(f'<segmentGroup id="{lst}">{inc}</segmentGroup>')
        out.groups.append(lst)
    for name in out.sections:  # jnml makes a section of each group above: the cell's
        # properties (densities, cm, Ra) go on groups that include them
        extra = (group_extras or {}).get(name, "")
        groups.append(f'<segmentGroup id="{group_of(name)}">'
                      f'<include segmentGroup="{name}"/>{extra}</segmentGroup>')
    inc = "".join(f'<include segmentGroup="{n}"/>' for n in out.sections)
    groups.append(f'<segmentGroup id="all">{inc}</segmentGroup>')
    out.groups.append("all")
    out.xml = (f'<morphology id="morphology_{cell_id}">{"".join(segs)}{"".join(groups)}'
               '</morphology>')
    return out
