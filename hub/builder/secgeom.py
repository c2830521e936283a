"""Section topology and geometry of a compartmental cell type as NEURON computes them, bit for bit:
3-D points stored as float32, arc lengths, ``L``, positions of locations (NetPyNE's
``posFromLoc``), path distances (NEURON's ``topol_distance``) and ``define_shape``. Used by
:mod:`nethub.builder.subconn`; the rules reproduced are in docs/design/subconn.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import math
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..errors import SpecError
from ..network import ROTATION_COLUMN, param_column
from ..specs.schema import netparam

__all__: list[str] = []

logger = logging.getLogger(__name__)


def _is_num(v: Any) -> bool:
    return isinstance(v, Number) and not isinstance(v, bool)

_DEF_L = 100.0  # NEURON's default section length (µm)
_F32 = np.float32


# ------------------------------------------------------------------------------- topology
class _Topology:
    """A cell type's section tree as NEURON holds it (sections connected in ``sections`` order):
    orientation, sibling order and the BFS order ``topol_distance`` climbs by."""

    def __init__(self, cell: CompartmentalCell, where: str) -> None:
        self.names = list(cell.sections)
        self.index = {n: i for i, n in enumerate(self.names)}
        secs = [cell.sections[n] for n in self.names]
        self.nseg = [int(s.geom.get("nseg", 1)) for s in secs]
        self.parent = [-1 if s.parent is None else self.index.get(s.parent, -2) for s in secs]
        if -2 in self.parent:
            raise SpecError(f"{where}: cell type '{cell.name}' has a section with an unknown "
                            "parent section")
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
@functools.lru_cache(maxsize=1)
def _libm():
    """libm's float32 ``cosf``/``sinf``/``atan2f``, which NEURON's ``define_shape`` uses (numpy's
    float32 functions round differently); numpy's when there is no C math library."""
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        for f, n in (("cosf", 1), ("sinf", 1), ("atan2f", 2)):
            getattr(lib, f).restype = ctypes.c_float
            getattr(lib, f).argtypes = [ctypes.c_float] * n
        return lambda name, *a: float(getattr(lib, name)(*a))
    except (OSError, AttributeError):  # pragma: no cover - no C math library
        logger.warning("libm not found: define_shape uses numpy's float32 trigonometry")
        fns = {"cosf": np.cos, "sinf": np.sin, "atan2f": np.arctan2}
        return lambda name, *a: float(fns[name](*map(_F32, a)))


def _lengths(ctx, cell: CompartmentalCell, names: list, rows: np.ndarray, where: str,
             needed: list | None = None) -> np.ndarray:
    """Sections' ``L`` per cell (cells x sections): the type's number, the per-cell column of an
    expression (``param.secs.<sec>.geom.L``), or NEURON's default 100 µm."""
    out = np.full((len(rows), len(names)), _DEF_L)
    for j, name in enumerate(names):
        L = cell.sections[name].geom.get("L", _DEF_L)
        col = param_column(name, "geom", "L")
        if _is_num(L):
            out[:, j] = float(L)
        elif col in ctx.cells:
            out[:, j] = np.asarray(ctx.cells[col], dtype=np.float64)[rows]
        elif needed is None or needed[j]:
            raise SpecError(f"{where}: section '{name}' of cell type '{cell.name}' needs a "
                            f"numeric L to place synapses (got {L!r})")
    return np.maximum(out, 1e-9)


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
        geom_L = _lengths(ctx, cell, topo.names, rows, where, [not h for h in has])
        self.pts: list = [None] * len(secs)
        self.arc: list = [None] * len(secs)
        define = bool(netparam(ctx.net, "defineCellShapes"))
        angle = np.asarray(cells[ROTATION_COLUMN])[rows] if ROTATION_COLUMN in cells else None
        if define and any(has) and not all(has):
            raise SpecError(f"{where}: cell type '{cell.name}' mixes sections with and without "
                            "pt3d under defineCellShapes (not supported)")
        if define and not any(has):
            self._stylized(topo, geom_L, xyz)
        elif any(has):
            self._points(ctx, secs, has, xyz, define, angle)
        self.L = [self.arc[i][:, -1] if self.arc[i] is not None else geom_L[:, i]
                  for i in range(len(secs))]

    def _points(self, ctx, secs, has, xyz, define: bool, angle) -> None:
        cfg = ctx.cfg
        off = xyz.copy()
        if cfg.get("invertedYCoord", True):
            off[:, 1] = -off[:, 1]
        if not cfg.get("pt3dRelativeToCellLocation", True):
            off[:] = 0.0
        for i, s in enumerate(secs):
            if has[i]:
                p = np.broadcast_to(np.asarray(s.pt3d, dtype=np.float64)[None, :, :3],
                                    (len(xyz), len(s.pt3d), 3))
                if angle is not None:  # NetPyNE's rotation about y, each cell its own angle
                    c, sn = (np.array([f(a) for a in angle.tolist()]) for f in (math.cos,
                                                                                math.sin))
                    x, z = p[..., 0], p[..., 2]
                    p = np.stack([x * c[:, None] - z * sn[:, None], p[..., 1],
                                  x * sn[:, None] + z * c[:, None]], axis=-1)
                self.pts[i] = (off[:, None, :] + p).astype(_F32)
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

    def _stylized(self, topo: _Topology, geom_L: np.ndarray, xyz: np.ndarray) -> None:
        """``h.define_shape()`` then NetPyNE's ``CompartCell.updateShape``."""
        uniq, inv = np.unique(geom_L, axis=0, return_inverse=True)
        frames = [_define_shape(topo, u.tolist()) for u in uniq]
        for s in range(len(topo.names)):
            f64 = np.stack([frames[k][s] for k in np.ravel(inv).tolist()]).astype(np.float64)
            pts = np.empty((len(xyz), f64.shape[1], 3), dtype=_F32)
            pts[..., 0] = xyz[:, 0:1] + f64[..., 1]
            pts[..., 1] = -xyz[:, 1:2] + f64[..., 0]
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
    f, trig = _F32, _libm()
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
        angle = 0.0 if abs(y1) < 1e-6 and abs(x1) < 1e-6 else trig("atan2f", y1, x1)
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
        x1 = f(float(x) + length * trig("cosf", angle))
        y1 = f(float(y) + length * trig("sinf", angle))
        frac = (np.arange(nseg) + 0.5) / nseg
        mid_x = (float(x) * (1 - frac) + float(x1) * frac).astype(f)
        mid_y = (float(y) * (1 - frac) + float(y1) * frac).astype(f)
        pts[s] = np.stack([np.r_[x, mid_x, x1], np.r_[y, mid_y, y1]], axis=1).astype(f)
    return pts
