"""``subConnParams``: after all connections exist, move the synapses of matching connections over
the dendrites of their post cells, as NetPyNE 1.1 does (``netpyne/network/subconn.py``).

For each rule (in order) and each post cell matching ``postConds`` (in gid order), the cell's
connections from cells matching ``preConds`` -- in NetPyNE's creation order, without the partners
``groupSynMechs`` ties to a leading synapse -- are sorted by NetPyNE's *string* key
``sec + str(loc) + str(preGid)`` and given, in that order, the places the rule's density makes:

``'uniform'``
    evenly spaced along the summed section lengths (NetPyNE's ``_distributeSynsUniformly``). No
    random numbers: NetPyNE's subConnParams draw none, for any density.
``{'type': '1Dmap' | '2Dmap', ...}``
    a count per segment proportional to the grid density (``gridValues`` over ``gridY``, or over
    ``gridX`` x ``gridY``) interpolated between the two nearest grid lines at the segment's 3-D
    position, times its length; ``fixedSomaY`` shifts ``gridY`` by the soma's y, ``gridX`` is
    always relative to the soma's x. Counts are rounded; the shortfall goes to the segments
    rounded down most. Surplus places stay unused and a shortfall leaves the last connections
    where they were, as in NetPyNE.
``{'type': 'distance', ...}``
    every synapse on the segment whose path (NEURON ``distance``) or cartesian distance from
    ``ref_sec(ref_seg)`` is nearest ``target_distance`` (ties: the last segment), if within
    ``target_distance``, else ``ref_sec(ref_seg)`` itself.

A new location of exactly 0 or 1 becomes 1e-5 or 0.99999; weights follow ``weightNorm``.

Geometry is NEURON's, reproduced in numpy and bit-identical to it: 3-D points are stored as
float32 (``pt3d`` plus the cell position, y negated when ``invertedYCoord``), arc lengths are
accumulated in double from float32 differences, ``L`` of a section with points is its arc length,
positions interpolate the points like NetPyNE's ``posFromLoc``, and path distances follow
NEURON's ``topol_distance`` on its nodes (segment centres and ends). With
``netParams.defineCellShapes`` NEURON's ``define_shape`` (float32, libm ``cosf``/``sinf``/
``atan2f``) and NetPyNE's ``updateShape`` (x and y swapped, moved to the cell) are reproduced
for cells without any points; cells with points are shifted onto their parents' connection points
as ``define_shape`` does. A cell type mixing sections with and without points under
``defineCellShapes`` is not supported (NetPyNE then mixes two coordinate frames).

Differences from NetPyNE, where it fails: a ``'distance'`` rule without a valid ``ref_sec`` uses
the cell's origin section (``soma``), as its docs say (NetPyNE 1.1 raises UnboundLocalError);
rules NetPyNE cannot run (no soma for maps, point-cell post cells, sections missing from a
``sec`` list, ``groupSynMechs`` partners lost or missing) are a SpecError. Pointer connections
(gap junctions) are not moved (NetPyNE moves them with the others when the same cells match).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import math
import sys
from collections import defaultdict, deque
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..errors import SpecError
from ..table import Categorical, Table
from .conds import match_conds
from .conns import default_conn_func

__all__ = ["apply_subconn", "SUBCONN_KEYS", "DENSITY_KEYS"]

logger = logging.getLogger(__name__)

#: Keys of one subConnParams rule and of its ``density`` dict (NetPyNE 1.1).
SUBCONN_KEYS = frozenset({"preConds", "postConds", "sec", "groupSynMechs", "density"})
DENSITY_KEYS = frozenset({"type", "gridX", "gridY", "fixedSomaY", "gridValues", "ref_sec",
                          "ref_seg", "target_distance", "coord"})
_DENSITIES = ("uniform", "1Dmap", "2Dmap", "distance")
_DEF_L = 100.0  # NEURON's default section length (µm)
_F32 = np.float32


# ------------------------------------------------------------------------------- rule parsing
@dataclass
class SubConnRule:
    """One validated subConnParams rule."""

    label: str
    pre_conds: dict
    post_conds: dict
    sec: Any
    group: list[str]
    kind: str
    density: dict

    @property
    def where(self) -> str:
        return f"subConnParams['{self.label}']"


def _is_num(v: Any) -> bool:
    return isinstance(v, Number) and not isinstance(v, bool)


def _num_list(v: Any, where: str, min_len: int = 2) -> list:
    if not isinstance(v, (list, tuple)) or len(v) < min_len or not all(map(_is_num, v)):
        raise SpecError(f"{where}: expected a list of at least {min_len} numbers, got {v!r}")
    return list(v)


def parse_rule(label: str, rule: Any) -> SubConnRule:
    """Validate one subConnParams rule (key paths in every error)."""
    where = f"subConnParams['{label}']"
    if not isinstance(rule, dict):
        raise SpecError(f"{where}: expected a dict, got {type(rule).__name__}")
    unknown = set(rule) - SUBCONN_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)} "
                        f"(valid: {', '.join(sorted(SUBCONN_KEYS))})")
    for key in ("preConds", "postConds"):
        if not isinstance(rule.get(key), dict):
            raise SpecError(f"{where}['{key}']: required, a dict of conditions")
    sec = rule.get("sec")
    if sec is not None and not isinstance(sec, str) and not (
            isinstance(sec, (list, tuple)) and all(isinstance(s, str) for s in sec)):
        raise SpecError(f"{where}['sec']: expected a section/secList name or a list of names")
    group = rule.get("groupSynMechs") or []
    if not isinstance(group, (list, tuple)) or not all(isinstance(g, str) for g in group):
        raise SpecError(f"{where}['groupSynMechs']: expected a list of synMech names")
    if len(group) > 2:
        raise SpecError(f"{where}['groupSynMechs']: at most 2 mechanisms (NetPyNE 1.1 moves only "
                        "the last partner of a larger group and leaves the others broken)")
    kind, density = _parse_density(rule.get("density"), f"{where}['density']")
    return SubConnRule(label, rule["preConds"], rule["postConds"],
                       list(sec) if isinstance(sec, tuple) else sec, list(group), kind, density)


def _parse_density(d: Any, where: str) -> tuple[str, dict]:
    if d == "uniform":
        return "uniform", {}
    if not isinstance(d, dict):
        raise SpecError(f"{where}: required, 'uniform' or a dict with 'type' "
                        f"(valid: {', '.join(_DENSITIES)}), got {d!r}")
    unknown = set(d) - DENSITY_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)} "
                        f"(valid: {', '.join(sorted(DENSITY_KEYS))})")
    kind = d.get("type")
    if kind not in _DENSITIES[1:]:
        raise SpecError(f"{where}['type']: unknown density type {kind!r} "
                        f"(valid: {', '.join(_DENSITIES[1:])}; or density='uniform')")
    out = dict(d)
    if kind in ("1Dmap", "2Dmap"):
        out["gridY"] = _num_list(d.get("gridY"), f"{where}['gridY']")
        vals = d.get("gridValues")
        if kind == "2Dmap":
            out["gridX"] = _num_list(d.get("gridX"), f"{where}['gridX']")
            ok = (isinstance(vals, (list, tuple)) and len(vals) == len(out["gridX"]) and all(
                isinstance(r, (list, tuple)) and len(r) == len(out["gridY"])
                and all(map(_is_num, r)) for r in vals))
            if not ok:
                raise SpecError(f"{where}['gridValues']: expected len(gridX) lists of "
                                "len(gridY) numbers (gridValues[ix][iy])")
        elif _num_list(vals, f"{where}['gridValues']", 1) and len(vals) != len(out["gridY"]):
            raise SpecError(f"{where}['gridValues']: needs one value per gridY value")
        out["gridValues"] = [list(r) for r in vals] if kind == "2Dmap" else list(vals)
        if "fixedSomaY" in d and not _is_num(d["fixedSomaY"]):
            raise SpecError(f"{where}['fixedSomaY']: expected a number")
        return kind, out
    for key in ("ref_seg", "target_distance"):
        if key in d and not _is_num(d[key]):
            raise SpecError(f"{where}['{key}']: expected a number, got {d[key]!r}")
    if not 0 <= d.get("ref_seg", 0.5) <= 1:
        raise SpecError(f"{where}['ref_seg']: must be within [0, 1]")
    if "ref_sec" in d and not isinstance(d["ref_sec"], str):
        raise SpecError(f"{where}['ref_sec']: expected a section name")
    if d.get("coord", "path") not in ("path", "cartesian"):
        raise SpecError(f"{where}['coord']: unknown {d['coord']!r} (valid: cartesian, path)")
    return kind, out


# ------------------------------------------------------------------------------- topology
class _Topology:
    """A cell type's section tree as NEURON holds it (sections connected in ``sections`` order):
    orientation, sibling order and the BFS order ``topol_distance`` climbs by."""

    def __init__(self, cell: CompartmentalCell, where: str) -> None:
        self.names = list(cell.sections)
        self.index = {n: i for i, n in enumerate(self.names)}
        secs = [cell.sections[n] for n in self.names]
        self.nseg = [int(s.geom.get("nseg", 1)) for s in secs]
        self.parent = []
        for n, s in zip(self.names, secs):
            if s.parent is not None and s.parent not in self.index:
                raise SpecError(f"{where}: section '{n}' has unknown parent '{s.parent}'")
            self.parent.append(-1 if s.parent is None else self.index[s.parent])
        self.parent_x = [float(s.parent_x) for s in secs]
        self.flipped = [False] * len(secs)
        self.children: list[list[int]] = [[] for _ in secs]
        for i, s in enumerate(secs):  # NEURON's connectsec_impl + nrn_add_sibling_list
            p = self.parent[i]
            if p < 0:
                continue
            if self.flipped[i] != (float(s.child_x) == 1.0):
                self.children[i].reverse()
                self.flipped[i] = not self.flipped[i]
            x, kids = self._ncp_abs(i), self.children[p]
            kids.insert(next((k for k, c in enumerate(kids) if x <= self._ncp_abs(c)),
                             len(kids)), i)
        self.bfs = [i for i, p in enumerate(self.parent) if p < 0]
        for s in self.bfs:  # the list grows while iterated: breadth first
            self.bfs.extend(self.children[s])
        self.order = {s: k for k, s in enumerate(self.bfs)}
        self.attach = [self.ratio(p, self.parent_x[i]) if p >= 0 else 0.0
                       for i, p in enumerate(self.parent)]

    def _ncp_abs(self, c: int) -> float:
        x = self.parent_x[c]
        return 1.0 - x if self.flipped[self.parent[c]] else x

    def seg_x(self, s: int) -> np.ndarray:
        n = self.nseg[s]
        return (np.arange(n) + 0.5) / n

    def ratio(self, s: int, x: float) -> float:
        """Arc fraction of NEURON's node at ``x`` (``node_exact``), from the connection end;
        0 is the parent's node."""
        n, flipped = self.nseg[s], self.flipped[s]
        if x <= 0.0 or x >= 1.0:
            x = min(max(x, 0.0), 1.0)
            x = 1.0 - x if flipped else x
            return 0.0 if x == 0.0 else 1.0
        i = int(n * x)
        i = n - 1 if i == n else i
        i = n - i - 1 if flipped else i
        return (i + 0.5) / n

    def distance(self, L: list, s1: int, r1: float, s2: int, r2: float) -> np.ndarray:
        """NEURON's ``h.distance(sec1(x1), sec2(x2))`` (``topol_distance``), per cell (``L[s]``
        are arrays of section lengths over cells)."""

        def nd(s: int, r: float):
            return 0.0 if r == 0.0 else L[s] * r

        d = np.zeros_like(L[0])
        while s1 != s2:
            if s1 < 0 or (s2 >= 0 and self.order[s2] > self.order[s1]):
                d = d + nd(s2, r2)
                r2, s2 = self.attach[s2], self.parent[s2]
            else:
                d = d + nd(s1, r1)
                r1, s1 = self.attach[s1], self.parent[s1]
        if s1 < 0:
            return np.full_like(d, 1e20)
        if r1 != r2:
            x1 = np.broadcast_to(nd(s1, r1), d.shape)
            x2 = np.broadcast_to(nd(s2, r2), d.shape)
            d = d + np.where(x1 < x2, x2 - x1, x1 - x2)
        return d


# ------------------------------------------------------------------------------- geometry
class _Libm:
    """libm's float32 trigonometry, which NEURON's ``define_shape`` uses (numpy's differs)."""

    _lib = None

    @classmethod
    def get(cls):
        if cls._lib is None:
            name = ctypes.util.find_library("m") or "libm.so.6"
            try:
                lib = ctypes.CDLL(name)
                for f in ("cosf", "sinf"):
                    getattr(lib, f).restype = ctypes.c_float
                    getattr(lib, f).argtypes = [ctypes.c_float]
                lib.atan2f.restype = ctypes.c_float
                lib.atan2f.argtypes = [ctypes.c_float, ctypes.c_float]
                cls._lib = lib
            except (OSError, AttributeError):  # pragma: no cover - no C math library
                logger.warning("libm not found: define_shape emulated with numpy's float32 "
                               "trigonometry (may differ from NEURON in the last bits)")
                cls._lib = False
        return cls._lib

    @classmethod
    def call(cls, name: str, *args: float) -> float:
        lib = cls.get()
        if lib:
            return float(getattr(lib, name)(*args))
        fn = {"cosf": np.cos, "sinf": np.sin, "atan2f": np.arctan2}[name]
        return float(fn(*map(_F32, args)))


def _arcs(pts: np.ndarray) -> np.ndarray:
    """NEURON's ``nrn_pt3dmodified``: float32 differences, double sums."""
    d = (pts[:, 1:] - pts[:, :-1]).astype(np.float64)
    step = np.sqrt(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2])
    return np.concatenate([np.zeros((len(pts), 1)), np.cumsum(step, axis=1)], axis=1)


class _Geometry:
    """NEURON's section lengths and 3-D points for the cells ``rows`` of one cell type."""

    def __init__(self, ctx, cell: CompartmentalCell, topo: _Topology, rows: np.ndarray,
                 where: str) -> None:
        self.topo, self.where = topo, where
        secs = [cell.sections[n] for n in topo.names]
        cells = ctx.cells
        xyz = np.stack([np.asarray(cells[c], dtype=np.float64)[rows] for c in "xyz"], axis=1)
        has = [s.pt3d is not None and len(s.pt3d) > 0 for s in secs]
        geom_L = []
        for n, s in zip(topo.names, secs):
            L = s.geom.get("L", _DEF_L)
            if not _is_num(L):
                raise SpecError(f"{where}: section '{n}' of cell type '{cell.name}' needs a "
                                f"numeric L to place synapses (got {L!r})")
            geom_L.append(max(float(L), 1e-9))
        self.pts: list = [None] * len(secs)
        self.arc: list = [None] * len(secs)
        define = bool(ctx.net.get("defineCellShapes", False))
        if any(has) and ctx.net.get("rotateCellsRandomly"):
            raise SpecError(f"{where}: rotateCellsRandomly with 3-D points is not supported")
        if define and any(has) and not all(has):
            raise SpecError(f"{where}: cell type '{cell.name}' mixes sections with and without "
                            "pt3d under defineCellShapes (not supported)")
        if define and not any(has):
            self._stylized(topo, geom_L, xyz)
        elif any(has):
            self._points(ctx, secs, has, xyz, define)
        self.L = [self.arc[i][:, -1] if self.arc[i] is not None else
                  np.full(len(rows), geom_L[i]) for i in range(len(secs))]

    def _points(self, ctx, secs, has, xyz, define: bool) -> None:
        cfg = ctx.cfg
        off = xyz.copy()
        if cfg.get("invertedYCoord", True):
            off[:, 1] = -off[:, 1]
        if not cfg.get("pt3dRelativeToCellLocation", True):
            off[:] = 0.0
        for i, s in enumerate(secs):
            if has[i]:
                p = np.asarray(s.pt3d, dtype=np.float64)[:, :3]
                self.pts[i] = (off[:, None, :] + p[None]).astype(_F32)
                self.arc[i] = _arcs(self.pts[i])
        if define:  # define_shape moves each child onto its parent's connection point
            topo = self.topo
            for s in topo.bfs:
                p = topo.parent[s]
                if p < 0:
                    continue
                a = 1.0 - topo.parent_x[s] if topo.flipped[p] else topo.parent_x[s]
                P = self.pts[p].astype(np.float64)
                target = (P[:, -1] * a + P[:, 0] * (1 - a)).astype(_F32)
                self.pts[s] = self.pts[s] + (target - self.pts[s][:, 0])[:, None, :]

    def _stylized(self, topo: _Topology, geom_L: list, xyz: np.ndarray) -> None:
        """``h.define_shape()`` then NetPyNE's ``CompartCell.updateShape``."""
        frame = _define_shape(topo, geom_L)
        for s, f in enumerate(frame):
            f64 = f.astype(np.float64)
            pts = np.empty((len(xyz), len(f), 3), dtype=_F32)
            pts[..., 0] = xyz[:, 0:1] + f64[None, :, 1]
            pts[..., 1] = -xyz[:, 1:2] + f64[None, :, 0]
            pts[..., 2] = xyz[:, 2:3] + 0.0
            self.pts[s], self.arc[s] = pts, _arcs(pts)

    def pos(self, s: int, xs: np.ndarray) -> np.ndarray:
        """NetPyNE's ``posFromLoc`` of section ``s`` at ``xs``: (cells, len(xs), 3)."""
        if self.pts[s] is None:
            raise SpecError(f"{self.where}: section '{self.topo.names[s]}' has no 3-D points "
                            "(give pt3d, or set netParams.defineCellShapes=True)")
        pts, arc = self.pts[s].astype(np.float64), self.arc[s]
        sv = np.asarray(xs, dtype=np.float64)[None, :] * arc[:, -1:]
        b = np.argmax(arc[:, None, :] >= sv[:, :, None], axis=2)
        a = np.maximum(b - 1, 0)
        ab, aa = np.take_along_axis(arc, b, 1), np.take_along_axis(arc, a, 1)
        exact = ab == sv
        with np.errstate(invalid="ignore", divide="ignore"):
            t = (sv - aa) / (ab - aa)
        pb = np.take_along_axis(pts, b[..., None], 1)
        pa = np.take_along_axis(pts, a[..., None], 1)
        return np.where(exact[..., None], pb, pa + t[..., None] * (pb - pa))


def _define_shape(topo: _Topology, lengths: list) -> list[np.ndarray]:
    """NEURON's ``nrn_define_shape`` for sections without 3-D points: (x, y) float32 per point
    (z is dropped by NetPyNE's ``updateShape``)."""
    pts: list = [None] * len(topo.names)
    f = _F32
    for s in topo.bfs:
        p, length, nseg = topo.parent[s], lengths[s], topo.nseg[s]
        if p < 0:
            x = y = f(0.0)
            x1, y1, arc = f(1.0), f(0.0), 0.0
        else:
            arc, P = topo.parent_x[s], pts[p]
            x1, y1 = P[-1, 0] - P[0, 0], P[-1, 1] - P[0, 1]
            arc1 = 1.0 - arc if topo.flipped[p] else arc
            if arc1 < 0.5:
                x1, y1 = -x1, -y1
            x = f(float(P[-1, 0]) * arc1 + float(P[0, 0]) * (1 - arc1))
            y = f(float(P[-1, 1]) * arc1 + float(P[0, 1]) * (1 - arc1))
        angle = 0.0 if abs(y1) < 1e-6 and abs(x1) < 1e-6 else _Libm.call("atan2f", y1, x1)
        if 0.0 < arc < 1.0:
            angle = float(f(angle + math.pi / 2.0))
        nch = ich = 0.0
        for ch in topo.children[p] if p >= 0 else ():
            if ch == s:
                ich = nch
            if arc == topo.parent_x[ch]:
                nch += 1.0
        if nch > 1:
            angle = float(f(angle + (ich / (nch - 1.0) * 0.8 - 0.4)))
        x1 = f(float(x) + length * _Libm.call("cosf", angle))
        y1 = f(float(y) + length * _Libm.call("sinf", angle))
        frac = (np.arange(nseg) + 0.5) / nseg
        mid_x = (float(x) * (1 - frac) + float(x1) * frac).astype(f)
        mid_y = (float(y) * (1 - frac) + float(y1) * frac).astype(f)
        pts[s] = np.stack([np.r_[x, mid_x, x1], np.r_[y, mid_y, y1]], axis=1).astype(f)
    return pts


# ------------------------------------------------------------------------------- densities
@dataclass
class _Group:
    """Post cells of one cell type sharing their section list, with their connection counts."""

    ctx: Any
    rule: SubConnRule
    cell: CompartmentalCell
    topo: _Topology
    labels: list[str]
    rows: np.ndarray  # rows of the cells table
    n: np.ndarray  # connections to move, per cell
    _geo: _Geometry | None = None

    @property
    def geo(self) -> _Geometry:
        if self._geo is None:
            self._geo = _Geometry(self.ctx, self.cell, self.topo, self.rows, self.rule.where)
        return self._geo


def _py_sum(m: np.ndarray) -> np.ndarray:
    """Python's built-in ``sum`` of each row of floats: sequential before Python 3.12,
    Neumaier-compensated from 3.12 on."""
    total = m[:, 0].copy()
    comp = np.zeros(len(m))
    for j in range(1, m.shape[1]):
        x = m[:, j]
        t = total + x
        if sys.version_info >= (3, 12):
            comp += np.where(np.abs(total) >= np.abs(x), (total - t) + x, (x - t) + total)
        total = t
    fix = (comp != 0) & np.isfinite(comp)
    return np.where(fix, total + comp, total)


def _uniform(g: _Group):
    """``_distributeSynsUniformly``: ``places(c) -> (section indices, locs)`` or None (NetPyNE
    then leaves the cell's synapses in place)."""
    secs = [g.cell.sections[s] for s in g.labels]
    lab = np.array([g.topo.index[s] for s in g.labels])
    if "L" in secs[0].geom:
        if any("L" not in s.geom for s in secs):
            logger.warning("%s: a section lacks L, NetPyNE leaves the synapses in place",
                           g.rule.where)
            return lambda c: None
        raw = [s.geom["L"] for s in secs]  # the spec's numbers: Python's sum of them
        rows = [raw] * len(g.rows)
    else:
        rows = np.stack([g.geo.L[i] for i in lab], axis=1).tolist()
    cache: dict = {}

    def places(c: int):
        n, lengths = int(g.n[c]), rows[c]
        key = (n, tuple(lengths))
        if key not in cache:
            cache[key] = None
            if n > 0:
                total, cum = sum(lengths), np.cumsum(lengths)
                absl = np.arange(n) * (total / n) + total / n / 2
                idx = np.searchsorted(cum, absl, side="left")
                if not np.any(idx >= len(cum)):
                    cache[key] = (lab[idx], (cum[idx] - absl) / np.asarray(lengths)[idx])
        return cache[key]

    return places


def _seg_table(g: _Group):
    """Unique sections of the list (first occurrence order) and their segments."""
    secs = [g.topo.index[s] for s in dict.fromkeys(g.labels)]
    seg_sec = np.concatenate([np.full(g.topo.nseg[s], s) for s in secs])
    seg_x = np.concatenate([g.topo.seg_x(s) for s in secs])
    return secs, seg_sec, seg_x


def _soma_xy(g: _Group) -> np.ndarray:
    if "soma" not in g.topo.index:
        raise SpecError(f"{g.rule.where}['density']: cell type '{g.cell.name}' has no section "
                        "named 'soma' (1Dmap/2Dmap grids are relative to it)")
    return g.geo.pos(g.topo.index["soma"], np.array([0.5]))[:, 0, :]


def _nearest_two(grid: np.ndarray, v: np.ndarray, where: str):
    """Indices of the two grid values nearest to ``v`` (NetPyNE's argsort()[:2], low first)."""
    order = np.argsort(np.abs(grid[:, None, :] - v[..., None]), axis=-1)[..., :2]
    lo, hi = order.min(axis=-1), order.max(axis=-1)
    g_lo = np.take_along_axis(grid, lo.reshape(len(grid), -1), 1).reshape(lo.shape)
    g_hi = np.take_along_axis(grid, hi.reshape(len(grid), -1), 1).reshape(hi.shape)
    if np.any(g_lo == g_hi):
        raise SpecError(f"{where}: the two nearest grid values coincide (duplicate grid values)")
    return lo, hi, g_lo, g_hi


def _map_counts(g: _Group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synapse count per segment (cells x segments), with the segments' sections and x."""
    d, where = g.rule.density, f"{g.rule.where}['density']"
    soma = _soma_xy(g)
    C = len(g.rows)
    gy = np.broadcast_to(np.asarray(d["gridY"], dtype=np.float64), (C, len(d["gridY"])))
    if "fixedSomaY" in d:
        gy = gy + (soma[:, 1:2] - float(d["fixedSomaY"]))
    vals = np.asarray(d["gridValues"], dtype=np.float64)
    secs, seg_sec, seg_x = _seg_table(g)
    per_sec = []
    for s in secs:
        p = g.geo.pos(s, g.topo.seg_x(s))
        y = p[..., 1]
        j1, j2, y1, y2 = _nearest_two(gy, y, f"{where}['gridY']")
        if g.rule.kind == "2Dmap":
            gx = np.asarray(d["gridX"], dtype=np.float64)[None, :] - soma[:, 0:1]
            x = p[..., 0]
            i1, i2, x1, x2 = _nearest_two(gx, x, f"{where}['gridX']")
            sigma = (vals[i1, j1] * (x2 - x) * (y2 - y) + vals[i2, j1] * (x - x1) * (y2 - y)
                     + vals[i1, j2] * (x2 - x) * (y - y1) + vals[i2, j2] * (x - x1) * (y - y1)
                     ) / ((x2 - x1) * (y2 - y1))
        else:
            sigma = (vals[j1] * (y2 - y) + vals[j2] * (y - y1)) / (y2 - y1)
        per_sec.append(sigma * g.geo.L[s][:, None] / g.topo.nseg[s])
    num = np.concatenate(per_sec, axis=1)
    sec_tot = np.stack([_py_sum(m) for m in per_sec], axis=1)
    tot = _py_sum(sec_tot)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(tot > 0, g.n / np.where(tot > 0, tot, 1.0), 0.0)
    prod = num * scale[:, None]
    scaled = np.round(prod)
    diff = prod - scaled
    cand = diff > 0
    extra = g.n - scaled.sum(axis=1).astype(np.int64)
    rank = np.argsort(np.argsort(np.where(cand, -diff, np.inf), axis=1, kind="stable"),
                      axis=1, kind="stable")
    scaled += cand & (rank < extra[:, None])
    return np.maximum(scaled, 0).astype(np.int64), seg_sec, seg_x


def _map(g: _Group):
    counts, seg_sec, seg_x = _map_counts(g)
    return lambda c: (np.repeat(seg_sec, counts[c]), np.repeat(seg_x, counts[c]))


def _distance(g: _Group):
    d, topo = g.rule.density, g.topo
    ref = d.get("ref_sec")
    if ref is None:
        ref = "soma" if "soma" in topo.index else next(
            (n for n in topo.names if n.startswith("soma")), topo.names[0])
    if ref not in topo.index:
        raise SpecError(f"{g.rule.where}['density']['ref_sec']: no section '{ref}' in cell type "
                        f"'{g.cell.name}'")
    s0, x0 = topo.index[ref], float(d.get("ref_seg", 0.5))
    target = d.get("target_distance", 0.0)
    cand = [(topo.index[s], x) for s in g.labels for x in topo.seg_x(topo.index[s]).tolist()]
    if d.get("coord") == "cartesian":
        origin = g.geo.pos(s0, np.array([x0]))[:, 0, :]
        dist = []
        for s, x in cand:
            dv = (g.geo.pos(s, np.array([x]))[:, 0, :] - origin).tolist()
            dist.append(np.sqrt([a ** 2 + b ** 2 + c ** 2 for a, b, c in dv]))  # Python's **
    else:
        r0 = topo.ratio(s0, x0)
        dist = [topo.distance(g.geo.L, s0, r0, s, topo.ratio(s, x)) for s, x in cand]
    v = np.abs(np.stack(dist, axis=1) - target)
    best = v.min(axis=1)
    last = v.shape[1] - 1 - np.argmax((v == best[:, None])[:, ::-1], axis=1)
    ok = best <= target
    sec = np.where(ok, np.array([s for s, _ in cand])[last], s0)
    loc = np.where(ok, np.array([x for _, x in cand])[last], x0)
    return lambda c: (np.full(int(g.n[c]), sec[c]), np.full(int(g.n[c]), loc[c]))


_DENSITY_FUNCS = {"uniform": _uniform, "1Dmap": _map, "2Dmap": _map, "distance": _distance}


# ------------------------------------------------------------------------------- connections
def _creation_order(ctx, conns: Table) -> np.ndarray:
    """Rows in NetPyNE's per-post-cell creation order: rule, pair (pre gid, or connList order),
    synMech, synapse."""
    n = len(conns)
    post = np.asarray(conns["post_gid"])
    rows = np.arange(n)
    if "rule" not in conns or not isinstance(conns["rule"], Categorical):
        return np.lexsort((rows, post))
    rules = ctx.net.get("connParams") or {}
    rule_idx = {label: i for i, label in enumerate(rules)}
    rc = conns["rule"]
    r_of_code = np.array([rule_idx.get(c, len(rules)) for c in rc.categories] + [len(rules)])
    ridx = r_of_code[rc.codes]
    mech = conns["syn_mech"].values() if isinstance(conns["syn_mech"], Categorical) else \
        np.full(n, None)
    midx = np.zeros(n, dtype=np.int64)
    pair = np.asarray(conns["pre_gid"]).astype(np.int64).copy()
    for label, i in rule_idx.items():
        on = ridx == i
        if not on.any():
            continue
        rule = rules[label] if isinstance(rules[label], dict) else {}
        mechs = rule.get("synMech")
        mechs = mechs if isinstance(mechs, list) else [mechs]
        for k, m in enumerate(mechs):
            midx[on & (mech == m)] = k
        if default_conn_func(rule) == "fromListConn":
            spc = rule.get("synsPerConn", 1)
            spc = max(int(round(spc)), 1) if _is_num(spc) else 1
            sel = np.flatnonzero(on)
            key = np.lexsort((sel, midx[sel], post[sel]))
            s_sorted = sel[key]
            grp = np.r_[True, (post[s_sorted][1:] != post[s_sorted][:-1])
                        | (midx[s_sorted][1:] != midx[s_sorted][:-1])]
            start = np.maximum.accumulate(np.where(grp, np.arange(len(s_sorted)), 0))
            pair[s_sorted] = (np.arange(len(s_sorted)) - start) // spc
    return np.lexsort((rows, midx, pair, ridx, post))


def _loc_str(loc: np.ndarray) -> np.ndarray:
    uniq, inv = np.unique(loc, return_inverse=True)
    return np.array([repr(float(v)) for v in uniq] + [""], dtype=object)[np.ravel(inv)]


def _sort_key(sec, loc, pre) -> np.ndarray:
    """NetPyNE's ``sec + str(loc) + str(preGid)`` as a numpy string array."""
    keys = [a + b + str(c) for a, b, c in zip(sec.tolist(), _loc_str(loc).tolist(),
                                              pre.tolist())]
    return np.array(keys, dtype=str) if keys else np.zeros(0, dtype=str)


class _State:
    """The columns subConnParams change, as mutable arrays."""

    def __init__(self, ctx, conns: Table) -> None:
        self.pre = np.asarray(conns["pre_gid"])
        self.post = np.asarray(conns["post_gid"])
        self.sec = conns["post_sec"].values() if isinstance(conns["post_sec"], Categorical) \
            else np.asarray(conns["post_sec"], dtype=object)
        self.loc = np.asarray(conns["post_loc"], dtype=np.float64).copy()
        self.weight = np.asarray(conns["weight"], dtype=np.float64).copy()
        self.mech = conns["syn_mech"].values() if isinstance(conns["syn_mech"], Categorical) \
            else np.full(len(conns), None, dtype=object)
        self.order = _creation_order(ctx, conns)

    def move(self, cell: CompartmentalCell, rows: np.ndarray, secs: np.ndarray,
             locs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Put ``rows`` at (secs, locs) and re-weight them as NetPyNE does when their old section
        has a weightNorm list (``w / old * new``); returns (re-weighted, old, new factors)."""
        old_sec, old_loc = self.sec[rows], self.loc[rows]
        has_old = np.zeros(len(rows), dtype=bool)
        old, new = np.ones(len(rows)), np.ones(len(rows))
        for name, sec in cell.sections.items():
            wn, nseg = sec.weight_norm, int(sec.geom.get("nseg", 1))
            if wn is None:
                continue
            on_old, on_new = old_sec == name, secs == name
            if isinstance(wn, list) and wn and on_old.any():
                old[on_old] = np.asarray(wn, dtype=np.float64)[
                    np.round(old_loc[on_old] * nseg).astype(np.int64) - 1]
                has_old |= on_old
            if on_new.any():
                new[on_new] = np.asarray(wn, dtype=np.float64)[
                    np.round(locs[on_new] * nseg).astype(np.int64) - 1]
        w = self.weight[rows]
        self.weight[rows] = np.where(has_old, w / old * new, w)
        locs = np.where(locs == 0.0, 0.00001, np.where(locs == 1.0, 0.99999, locs))
        self.sec[rows], self.loc[rows] = secs, locs
        return has_old, old, new

    def table(self, conns: Table) -> Table:
        out = Table(dict(conns.columns), conns.schema, n=len(conns))
        out["post_sec"] = Categorical.from_values(self.sec.tolist())
        out["post_loc"] = self.loc
        out["weight"] = self.weight
        return out


# ------------------------------------------------------------------------------- driver
def _post_groups(ctx, rule: SubConnRule, post_rows: np.ndarray, types: dict):
    """(cell type, section labels, rows) per group of post cells, NetPyNE's ``_setConnSections``
    applied in gid order (a defaulted ``sec`` sticks to the rule, as in NetPyNE)."""
    ct = ctx.cells["cell_type"]
    names = ct.take(post_rows).values()
    sec, groups = rule.sec, defaultdict(list)
    for k, name in enumerate(names):
        cell = types.get(name)
        if not isinstance(cell, CompartmentalCell) or not cell.sections:
            raise SpecError(f"{rule.where}['postConds']: matches cells of type '{name}', which "
                            "have no sections (NetPyNE fails on them)")
        secs = cell.sections
        if not sec or (isinstance(sec, str) and sec not in secs
                       and sec not in cell.section_lists):
            sec = "soma" if "soma" in secs else next(iter(secs))
            labels = [sec]
        elif isinstance(sec, list) or sec in cell.section_lists:
            labels = list(sec) if isinstance(sec, list) else list(cell.section_lists[sec])
            missing = [s for s in labels if s not in secs]
            if missing or not labels:
                raise SpecError(f"{rule.where}['sec']: section(s) {missing} not in cell type "
                                f"'{name}'")
        else:
            labels = [sec]
        groups[(name, tuple(labels))].append(post_rows[k])
    return [(types[n], list(lab), np.array(r)) for (n, lab), r in groups.items()]


def apply_subconn(ctx, conns: Table, types: dict) -> Table:
    """Apply ``netParams.subConnParams`` (in order) to the connections table.

    Parameters
    ----------
    ctx : BuildContext
        With ``ctx.cells`` set.
    conns : Table
        The connections (``CONN_COLUMNS``), as :func:`build_connections` made them.
    types : dict
        Cell type name to cell type.

    Returns
    -------
    Table
        ``conns`` with ``post_sec``, ``post_loc`` and (weightNorm) ``weight`` updated; the input
        is returned unchanged when there are no rules.
    """
    spec = ctx.net.get("subConnParams") or {}
    if not isinstance(spec, dict):
        raise SpecError("subConnParams: expected a dict of rules")
    rules = [parse_rule(label, r) for label, r in spec.items()]
    if not rules or not len(conns):
        return conns
    state = _State(ctx, conns)
    for rule in rules:
        _apply_rule(ctx, rule, state, types)
    return state.table(conns)


def _apply_rule(ctx, rule: SubConnRule, state: _State, types: dict) -> None:
    cells = ctx.cells
    pre = match_conds(cells, rule.pre_conds, rule.where + "['preConds']")
    post = match_conds(cells, rule.post_conds, rule.where + "['postConds']")
    if not pre.any() or not post.any():
        return
    gids = ctx.gids
    post_rows = np.flatnonzero(post)[np.argsort(gids[post], kind="stable")]
    order = state.order
    take = np.isin(state.post[order], gids[post]) & np.isin(state.pre[order], gids[pre])
    sel = order[take]  # creation order within each post cell
    for cell, labels, rows in _post_groups(ctx, rule, post_rows, types):
        on = np.isin(state.post[sel], gids[rows])
        conn_rows = sel[on]
        topo = _Topology(cell, rule.where)
        cidx = np.searchsorted(gids[rows], state.post[conn_rows])
        if len(rule.group) > 1:
            _move_grouped(ctx, rule, state, cell, topo, labels, rows, conn_rows, cidx)
            continue
        g = _Group(ctx, rule, cell, topo, labels, rows, np.bincount(cidx, minlength=len(rows)))
        if rule.kind in ("1Dmap", "2Dmap"):
            _soma_xy(g)  # NetPyNE needs a soma even on cells without connections
        if not len(conn_rows):
            continue
        places = _DENSITY_FUNCS[rule.kind](g)
        key = _sort_key(state.sec[conn_rows], state.loc[conn_rows], state.pre[conn_rows])
        srt = np.argsort(key, kind="stable")
        srt = srt[np.argsort(cidx[srt], kind="stable")]
        conn_rows, cidx = conn_rows[srt], cidx[srt]
        _move_all(state, cell, topo, conn_rows, cidx, places)


def _move_all(state: _State, cell, topo: _Topology, conn_rows, cidx, places) -> None:
    starts = np.r_[0, np.flatnonzero(np.diff(cidx)) + 1]
    out_rows, out_sec, out_loc = [], [], []
    for st, end in zip(starts, np.r_[starts[1:], len(cidx)]):
        p = places(int(cidx[st]))
        if p is None:
            continue
        s, x = p
        k = min(end - st, len(s))
        out_rows.append(conn_rows[st:st + k])
        out_sec.append(np.asarray(s[:k]))
        out_loc.append(np.asarray(x[:k], dtype=np.float64))
    if out_rows:
        names = np.array(topo.names, dtype=object)
        state.move(cell, np.concatenate(out_rows), names[np.concatenate(out_sec)],
                   np.concatenate(out_loc))


def _move_grouped(ctx, rule, state: _State, cell, topo, labels, rows, conn_rows, cidx) -> None:
    """groupSynMechs: NetPyNE's per-cell pairing of synapses, then the move of each leading
    synapse with its partner (labelled ``'%d_%s_%.4f' % (preGid, sec, loc)``)."""
    G = rule.group
    leads, partners = [], []
    for c in range(len(rows)):
        mine = conn_rows[cidx == c].tolist()
        index = defaultdict(deque)
        for r in mine:
            index[(state.mech[r], state.sec[r], state.loc[r])].append(r)
        held, lead, part = set(), [], {}
        for r in mine:
            if r in held:
                continue
            lead.append(r)
            label = "%d_%s_%.4f" % (state.pre[r], state.sec[r], state.loc[r])
            if state.mech[r] not in G:
                continue
            for m in (s for s in G if s != state.mech[r]):
                q = index[(m, state.sec[r], state.loc[r])]
                while q and q[0] in held:
                    q.popleft()
                if not q:
                    logger.warning("%s: grouped synMech %s not found", rule.where, m)
                    continue
                held.add(q[0])
                part[label] = q.popleft()
        leads.append(lead)
        partners.append((held, part))
    g = _Group(ctx, rule, cell, topo, labels, rows, np.array([len(x) for x in leads]))
    if rule.kind in ("1Dmap", "2Dmap"):
        _soma_xy(g)
    places = _DENSITY_FUNCS[rule.kind](g)
    names = np.array(topo.names, dtype=object)
    for c, lead in enumerate(leads):
        held, part = partners[c]
        p = places(c) if lead else None
        lead = np.array(lead, dtype=np.int64)
        if len(lead):
            key = _sort_key(state.sec[lead], state.loc[lead], state.pre[lead])
            lead = lead[np.argsort(key, kind="stable")]
        for r, s, x in zip(lead.tolist(), *(p if p else ([], []))):
            label = "%d_%s_%.4f" % (state.pre[r], state.sec[r], state.loc[r])
            grouped = state.mech[r] in G and r not in held
            has_old, old, new = state.move(cell, np.array([r]), names[[s]],
                                           np.array([x], dtype=np.float64))
            if grouped:
                if label not in part:
                    raise SpecError(f"{rule.where}['groupSynMechs']: no partner synapse for "
                                    f"{label} (NetPyNE fails with a KeyError)")
                q = part[label]
                held.discard(q)
                state.sec[q], state.loc[q] = state.sec[r], state.loc[r]
                if has_old[0] and new[0]:
                    state.weight[q] = state.weight[q] / old[0] * new[0]
        if held:
            raise SpecError(f"{rule.where}['groupSynMechs']: {len(held)} grouped synapse(s) of "
                            f"post cell gid {int(ctx.gids[rows[c]])} were not moved (NetPyNE "
                            "leaves them with a broken '__grouped__' synMech)")
