"""NeuroML2 morphology -> NEURON sections, exactly as jNeuroML's NEURON export builds them.

jNeuroML (``org.neuroml.export.neuron.JSONCellSerializer`` + ``cell.vm``, and
``org.neuroml.model.util.CellUtils``) makes one section per *unbranched non-overlapping*
segment group (``neuroLexId="sao864921383"``) when a cell has any, else one section per
segment. This module reproduces its sections (names, order, ``pt3d``, parent and
``fractionAlong``, ``nseg`` from ``numberInternalDivisions``), its section lists and its
segment -> (section, x) mapping used for connections, inputs and recordings:

- per-group sections: ``pt3d`` is the first segment's proximal point then every distal point;
  ``x`` of (segment, fraction) is the path length to that point over the group's length
  (``CellUtils.getFractionAlongSegGroupLength``), rounded to float32 as jNeuroML passes it;
- per-segment sections: named after the segment (``section_<id>`` without a name), ``pt3d``
  written *distal then proximal* (as jNeuroML does), ``x`` = the fraction along itself;
- a section of one segment whose proximal and distal points coincide is stretched along y by
  its diameter (jNeuroML's "spherical" soma), which also changes the lengths used for ``x``.

Works on libNeuroML ``Cell`` objects (duck-typed: converters do not import formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FormatError

__all__ = ["UNBRANCHED", "Morphology", "build_morphology", "f32", "f32_array",
           "location_from_tag", "segment_x"]

#: NeuroLex id of jNeuroML's "unbranched non-overlapping" segment groups (one section each).
UNBRANCHED = "sao864921383"


@dataclass
class Morphology:
    """Sections of one NeuroML cell as jNeuroML's NEURON export makes them.

    Attributes
    ----------
    sections : dict
        Section name -> ``{"pt3d": ndarray (n, 4), "parent": str or None, "parent_x": float,
        "nseg": int}`` in jNeuroML's creation order.
    section_lists : dict
        Segment group id -> section names (``all`` = every section), jNeuroML's SectionLists.
    group_sections : dict
        Every segment group id (including the per-section ones) -> section names it covers.
    seg_section : dict
        Segment id -> section name.
    seg_range : dict
        Segment id -> (start, length) on its section and the section's length (µm), to
        map a fraction along the segment onto ``x`` (only for per-group sections).
    per_group : bool
        Whether sections come from unbranched segment groups.
    first_segment : int
        Id of the cell's first segment (jNeuroML's spike detector is at 0.5 of its section).
    """

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    section_lists: dict[str, list[str]] = field(default_factory=dict)
    group_sections: dict[str, list[str]] = field(default_factory=dict)
    seg_section: dict[int, str] = field(default_factory=dict)
    seg_range: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    per_group: bool = False
    first_segment: int = 0

    def location(self, segment: int, fraction: float = 0.5) -> tuple[str, float]:
        """jNeuroML's (section, x) of a point ``fraction`` along segment ``segment``."""
        sec = self.seg_section.get(int(segment))
        if sec is None:
            raise KeyError(segment)
        if not self.per_group:
            return sec, f32(fraction)
        return sec, segment_x(*self.seg_range[int(segment)], fraction)

    def to_tag(self) -> dict[str, Any]:
        """The segment -> (section, x) mapping as JSON (a cell type's ``nml.segments`` tag),
        for :func:`location_from_tag`: ``ids``, ``sections``, and for per-group sections the
        path length ``start`` and ``length`` of each segment on its section and the section's
        ``total`` length (µm; 0 for a section of one segment)."""
        ids = sorted(self.seg_section)
        rng = [self.seg_range.get(i, (0.0, 0.0, 0.0)) for i in ids]
        return {"per_group": self.per_group, "ids": ids,
                "sections": [self.seg_section[i] for i in ids],
                "start": [r[0] for r in rng], "length": [r[1] for r in rng],
                "total": [r[2] for r in rng]}

    def locations(self, segments: np.ndarray, fractions: np.ndarray
                  ) -> tuple[list[str], np.ndarray]:
        """:meth:`location` of many points, vectorized (no Python step per point: one
        lookup per distinct segment, :func:`f32_array` for ``x``)."""
        segs = np.asarray(segments, dtype=np.int64).reshape(-1)
        fr = np.asarray(fractions, dtype=np.float64).reshape(-1)
        if not len(segs):
            return [], np.zeros(0)
        useg, inverse = np.unique(segs, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        ids = useg.tolist()
        for s in ids:
            if s not in self.seg_section:
                raise KeyError(s)
        names = np.array([self.seg_section[s] for s in ids], dtype=object)[inverse].tolist()
        if not self.per_group:
            return names, f32_array(fr)
        start, length, total = np.array([self.seg_range[s] for s in ids],
                                        dtype=np.float64).reshape(-1, 3)[inverse].T
        along = start + fr.astype(np.float32).astype(np.float64) * length
        x = np.where(total == 0.0, fr, along / np.where(total == 0.0, 1.0, total))
        return names, f32_array(x)


def f32(value: float) -> float:
    """A value as jNeuroML writes it into its HOC/Python code: rounded to a Java ``float``
    and printed shortest (``Float.toString``), then read back by NEURON as a double."""
    return float(str(np.float32(value)))


def f32_array(values: np.ndarray) -> np.ndarray:
    """:func:`f32` of many values at once (numpy's shortest float32 text, the same as
    ``str(np.float32(v))``, parsed as doubles)."""
    return np.asarray(values, dtype=np.float64).astype(np.float32).astype(str).astype(
        np.float64)


def segment_x(start: float, length: float, total: float, fraction: float) -> float:
    """``x`` of ``fraction`` along a segment of ``length`` starting at path length ``start`` of
    a section of length ``total`` (``CellUtils.getFractionAlongSegGroupLength``, as jNeuroML
    writes it); ``total == 0``: a section of one segment, ``x`` is the fraction itself."""
    if total == 0.0:
        return f32(fraction)
    return f32((start + float(np.float32(fraction)) * length) / total)


def location_from_tag(tag: dict[str, Any], segment: int, fraction: float = 0.5
                      ) -> tuple[str, float]:
    """jNeuroML's (section, x) of ``fraction`` along ``segment`` from a cell type's
    ``nml.segments`` tag (:meth:`Morphology.to_tag`).

    Raises
    ------
    KeyError
        If the cell has no segment ``segment``.
    """
    i = tag["ids"].index(int(segment)) if int(segment) in tag["ids"] else None
    if i is None:
        raise KeyError(segment)
    if not tag["per_group"]:
        return tag["sections"][i], f32(fraction)
    return tag["sections"][i], segment_x(tag["start"][i], tag["length"][i], tag["total"][i],
                                         fraction)


def _point(p: Any) -> list[float]:
    return [float(p.x), float(p.y), float(p.z), float(p.diameter)]


def _group_segments(groups: dict[str, Any], gid: str, seen: tuple[str, ...] = ()) -> list[int]:
    """``CellUtils.getSegmentIdsInGroup``: members, then included groups' (recursively)."""
    if gid in seen:
        raise FormatError(f"segment group {gid!r} includes itself ({' -> '.join(seen)})")
    grp = groups.get(gid)
    if grp is None:
        raise FormatError(f"no segment group {gid!r}")
    out = [int(m.segments) for m in grp.members]
    for inc in grp.includes:
        out += _group_segments(groups, inc.segment_groups, (*seen, gid))
    return out


def _n_divisions(grp: Any) -> int | None:
    for prop in getattr(grp, "properties", None) or []:
        if prop.tag == "numberInternalDivisions":
            return int(prop.value)
    return None


def _dist(a: list[float], b: list[float]) -> float:
    return float(np.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2))


class _Builder:
    def __init__(self, cell: Any, morph: Any) -> None:
        self.cell_id = cell.id
        self.segs = {int(s.id): s for s in morph.segments}
        self.order = [int(s.id) for s in morph.segments]
        # mutable copies: jNeuroML moves the distal point of "spherical" sections in place
        self.prox = {i: (_point(s.proximal) if s.proximal is not None else None)
                     for i, s in self.segs.items()}
        self.dist = {i: _point(s.distal) for i, s in self.segs.items()}
        self.groups = {g.id: g for g in morph.segment_groups}
        self.members = {g: _group_segments(self.groups, g) for g in self.groups}
        self.member_sets = {g: frozenset(v) for g, v in self.members.items()}
        self.out = Morphology(first_segment=self.order[0])

    def parent(self, i: int) -> tuple[int | None, float]:
        par = self.segs[i].parent
        if par is None or par.segments is None:
            return None, 1.0
        return int(par.segments), float(par.fraction_along)

    def where(self, what: str) -> str:
        return f"cell {self.cell_id!r}: {what}"

    # ------------------------------------------------------------ per-group sections
    def per_group(self) -> None:
        out = self.out
        out.per_group = True
        secs = [g for g in self.groups if self.groups[g].neuro_lex_id == UNBRANCHED]
        for gid in secs:
            for s in self.members[gid]:
                out.seg_section.setdefault(s, gid)
        for gid in secs:
            out.sections[gid] = self.group_section(gid, secs)
        for gid in secs:
            self.ranges(gid)

    def group_section(self, gid: str, secs: list[str]) -> dict[str, Any]:
        here = self.members[gid]
        pts: list[list[float]] = []
        last = -1
        for s in here:
            par, _ = self.parent(s)
            if par is None or par not in self.member_sets[gid]:
                prox = self.prox[s]
                if prox is None and par is not None and last == -1:
                    prox = self.dist[par]
                if prox is None:
                    raise FormatError(self.where(f"segment {s} has no proximal point"))
                pts.append(list(prox))
            elif par != last:
                raise FormatError(self.where(f"segment group {gid!r}: segment {s} does not "
                                             f"follow its parent {par} (jNeuroML needs them "
                                             "in order)"))
            else:
                prox = None
            dist = self.dist[s]
            if prox is not None and prox == dist and len(here) == 1:
                dist[1] += dist[3]  # jNeuroML: spherical -> cylinder along y
            pts.append(list(dist))
            last = s
        sec: dict[str, Any] = {"pt3d": np.array(pts, dtype=np.float64), "parent": None,
                               "parent_x": 1.0, "nseg": _n_divisions(self.groups[gid])}
        par, fract = self.parent(here[0])
        if par is not None:
            sec["parent"], sec["parent_x"] = self.attach(gid, here[0], par, fract, secs)
        return sec

    def attach(self, gid: str, first: int, par: int, fract: float, secs: list[str]
               ) -> tuple[str, float]:
        if abs(fract - 1) < 1e-4:
            fract = 1.0
        sec_set = set(secs)
        for g in self.groups:  # jNeuroML looks through every group, in document order
            segs = self.members[g]
            if fract not in (0.0, 1.0) and len(segs) > 1:
                raise FormatError(self.where(
                    f"segment {first}: fractionAlong {fract} on a parent in a group of "
                    f"several segments ({g!r}); jNeuroML cannot export this"))
            if g in sec_set and par in self.member_sets[g]:
                if (fract == 1 and segs[-1] == par) or (fract == 0 and segs[0] == par):
                    return g, fract
                return g, self.fraction_along(g, par, fract)
        raise FormatError(self.where(f"section {gid!r}: parent segment {par} is in no "
                                     "unbranched segment group"))

    def lengths(self, gid: str) -> list[tuple[int, float]]:
        out, last = [], None
        for s in self.members[gid]:
            if last is None and self.prox[s] is not None:
                p = self.prox[s]
            else:
                par, _ = self.parent(s)
                if last is None or par != last:
                    raise FormatError(self.where(f"segment group {gid!r} is not a "
                                                 "connected path"))
                p = self.dist[last]
            out.append((s, _dist(p, self.dist[s])))
            last = s
        return out

    def fraction_along(self, gid: str, seg: int, fract: float) -> float:
        if len(self.members[gid]) == 1:
            return fract
        lens = self.lengths(gid)
        total = sum(v for _, v in lens)
        acc = 0.0
        for s, v in lens:
            if s == seg:
                return (acc + float(np.float32(fract)) * v) / total
            acc += v
        raise FormatError(self.where(f"segment {seg} is not in {gid!r}"))

    def ranges(self, gid: str) -> None:
        if len(self.members[gid]) == 1:
            self.out.seg_range[self.members[gid][0]] = (0.0, 0.0, 0.0)
            return
        lens = self.lengths(gid)
        total = sum(v for _, v in lens)
        acc = 0.0
        for s, v in lens:
            self.out.seg_range[s] = (acc, v, total)
            acc += v

    # ------------------------------------------------------------ per-segment sections
    def per_segment(self) -> None:
        out = self.out
        for s in self.order:
            seg = self.segs[s]
            name = seg.name if seg.name else f"section_{s}"
            out.seg_section[s] = name
            par, fract = self.parent(s)
            p0 = self.dist[s]
            p1 = self.prox[s] if self.prox[s] is not None else (
                self.dist[par] if par is not None else None)
            if p1 is None:
                raise FormatError(self.where(f"root segment {s} has no proximal point"))
            if p0 == p1:
                p1[1] += p0[3]  # jNeuroML: spherical -> cylinder along y (moves the point)
            out.sections[name] = {
                "pt3d": np.array([p0, p1], dtype=np.float64),
                "parent": out.seg_section.get(par) if par is not None else None,
                "parent_x": fract, "nseg": None}

    # ------------------------------------------------------------ section lists
    def section_lists(self) -> None:
        out = self.out
        for gid in self.groups:
            names = [out.seg_section[s] for s in self.members[gid] if s in out.seg_section]
            out.group_sections[gid] = list(dict.fromkeys(names))
        for gid, grp in self.groups.items():
            if gid == "all" or (out.per_group and grp.neuro_lex_id == UNBRANCHED):
                continue
            # jNeuroML writes members as "segments", which its cell.vm never reads: a
            # group's SectionList holds only what it includes (member-only groups are empty)
            names = []
            for inc in grp.includes:
                names += out.group_sections[inc.segment_groups]
            out.section_lists[gid] = names
        out.section_lists["all"] = list(dict.fromkeys(out.seg_section[s] for s in self.order
                                                      if s in out.seg_section))
        out.group_sections["all"] = out.section_lists["all"]
        missing = [s for s in self.order if s not in out.seg_section]
        if missing:
            raise FormatError(self.where(f"segment(s) {missing[:5]} are in no unbranched "
                                         "segment group (jNeuroML would drop them)"))


def build_morphology(cell: Any, morphology: Any | None = None) -> Morphology:
    """jNeuroML's NEURON sections of a NeuroML ``cell``.

    Parameters
    ----------
    cell : neuroml.Cell
        The cell (its ``id`` names errors).
    morphology : neuroml.Morphology, optional
        Its morphology (default ``cell.morphology``; given for cells referring to a
        top-level ``<morphology>`` by id).

    Returns
    -------
    Morphology
        Sections, section lists and the segment -> (section, x) mapping.
    """
    morph = morphology if morphology is not None else cell.morphology
    if morph is None or not morph.segments:
        raise FormatError(f"cell {cell.id!r}: no morphology (segments)")
    b = _Builder(cell, morph)
    if any(g.neuro_lex_id == UNBRANCHED for g in morph.segment_groups):
        b.per_group()
    else:
        b.per_segment()
    b.section_lists()
    return b.out
