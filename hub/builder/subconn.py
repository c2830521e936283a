"""``subConnParams``: after all connections exist, move the synapses of matching connections over
the dendrites of their post cells, as NetPyNE 1.1 does (``netpyne/network/subconn.py``).

For each rule (in order) and each post cell matching ``postConds`` (in gid order), the cell's
connections from cells matching ``preConds`` -- in NetPyNE's creation order, without the partners
``groupSynMechs`` ties to a leading synapse -- are sorted by NetPyNE's *string* key
``sec + str(loc) + str(preGid)`` and given, in that order, the places of the rule's density:

- ``'uniform'``: evenly spaced along the summed section lengths (``_distributeSynsUniformly``;
  NetPyNE's subConnParams draw no random numbers, for any density);
- ``{'type': '1Dmap' | '2Dmap', ...}``: per segment, the grid density (``gridValues`` over
  ``gridY``, or ``gridX`` x ``gridY``) interpolated between the two nearest grid lines at its 3-D
  position (``gridX`` relative to the soma, ``gridY`` too when ``fixedSomaY`` is given) times its
  length, scaled to the number of synapses and rounded, the shortfall going to the segments
  rounded down most (surplus places stay unused; a shortfall leaves the last synapses in place);
- ``{'type': 'distance', ...}``: all on the segment whose path (NEURON ``distance``) or cartesian
  distance from ``ref_sec(ref_seg)`` is nearest ``target_distance`` (ties: the last), if within
  ``target_distance`` of it, else on ``ref_sec(ref_seg)``.

New locations 0 and 1 become 1e-5 and 0.99999; weights follow ``weightNorm`` (``w / old * new``).

NEURON's geometry is reproduced bit for bit: 3-D points stored as float32 (``pt3d``, rotated by
the cell's ``rot_y`` if any, plus the cell position, y negated when ``invertedYCoord``), arc
lengths summed in double from float32 differences, ``L`` = arc length (else the type's, or the
cell's value of an ``L`` expression), positions interpolated as NetPyNE's ``posFromLoc``, path
distances by NEURON's ``topol_distance`` over nodes (segment centres and ends). Under
``defineCellShapes``: NEURON's ``define_shape`` (float32, libm ``cosf``/``sinf``/``atan2f``) and
NetPyNE's ``updateShape`` (x and y swapped, moved to the cell) for cells without points, and
``define_shape``'s shift of children onto their parents for cells with points; a cell type
mixing both is not supported (NetPyNE mixes two coordinate frames then).

NetPyNE's bugs are kept where it runs: ``'uniform'`` drops sections whose ``L`` is an expression
from the lengths (the sections after take the next lengths). Where NetPyNE 1.1 fails, nethub
raises SpecError (no soma for maps, point cells as post cells, missing sections in a ``sec``
list, ``groupSynMechs`` partners missing or left unmoved), except that a ``'distance'`` rule
without ``ref_sec`` uses the origin section (``soma``), as NetPyNE's docs say (NetPyNE raises
UnboundLocalError). Pointer connections (gap junctions) are not moved (NetPyNE would move them
along when the same cells match). An integer ``loc`` (0 or 1) sorts as ``'1.0'``, not ``'1'``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import math
import sys
from collections import defaultdict, deque
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np
import pandas as pd

from ..celltypes import CompartmentalCell
from ..errors import SpecError
from ..network import ROTATION_COLUMN, param_column
from ..selection import match_conds
from ..table import Categorical, Table
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


def _check_keys(where: str, given: dict, valid: frozenset) -> None:
    if set(given) - valid:
        raise SpecError(f"{where}: unknown key(s) {sorted(set(given) - valid)} "
                        f"(valid: {', '.join(sorted(valid))})")


def parse_rule(label: str, rule: Any) -> SubConnRule:
    """Validate one subConnParams rule (key paths in every error)."""
    where = f"subConnParams['{label}']"
    if not isinstance(rule, dict):
        raise SpecError(f"{where}: expected a dict, got {type(rule).__name__}")
    _check_keys(where, rule, SUBCONN_KEYS)
    for key in ("preConds", "postConds"):
        if not isinstance(rule.get(key), dict):
            raise SpecError(f"{where}['{key}']: required, a dict of conditions")
    sec = rule.get("sec")
    if not isinstance(sec, (str, type(None))) and not (
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
    _check_keys(where, d, DENSITY_KEYS)
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
        define = bool(ctx.net.get("defineCellShapes", False))
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

    @functools.cached_property
    def geo(self) -> _Geometry:
        return _Geometry(self.ctx, self.cell, self.topo, self.rows, self.rule.where)


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
        # NetPyNE sums the spec's numbers: an expression's L is dropped, and the sections after
        # it take the following lengths (NetPyNE's misalignment, kept)
        keep = [j for j, s in enumerate(g.labels) if not _expr_L(g.ctx, g.cell, s)]
        rows = _lengths(g.ctx, g.cell, g.labels, g.rows, g.rule.where)[:, keep].tolist()
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


def _expr_L(ctx, cell: CompartmentalCell, sec: str) -> bool:
    """Whether the spec gives ``L`` of ``sec`` as a string (the last cellParams rule that sets
    it wins, as in NetPyNE's ``secs`` dict)."""
    value = None
    for rule in cell.provenance.get("rules", []):
        geom = (((ctx.net.get("cellParams") or {}).get(rule) or {}).get("secs") or {}).get(
            sec, {}).get("geom") or {}
        value = geom.get("L", value)
    return isinstance(value, str)


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


def _map(g: _Group):
    """1Dmap/2Dmap (``_interpolateSegmentSigma`` and the rescaling after it)."""
    d, where = g.rule.density, f"{g.rule.where}['density']"
    soma = _soma_xy(g)
    gy = np.broadcast_to(np.asarray(d["gridY"], dtype=np.float64), (len(g.rows), len(d["gridY"])))
    if "fixedSomaY" in d:
        gy = gy + (soma[:, 1:2] - float(d["fixedSomaY"]))
    gx = np.asarray(d.get("gridX", [0.0]), dtype=np.float64)[None, :] - soma[:, 0:1]
    vals = np.asarray(d["gridValues"], dtype=np.float64)
    secs = [g.topo.index[s] for s in dict.fromkeys(g.labels)]  # NetPyNE's dict: unique
    seg_sec = np.concatenate([np.full(g.topo.nseg[s], s) for s in secs])
    seg_x = np.concatenate([g.topo.seg_x(s) for s in secs])
    per_sec = []
    for s in secs:
        p = g.geo.pos(s, g.topo.seg_x(s))
        x, y = p[..., 0], p[..., 1]
        j1, j2, y1, y2 = _nearest_two(gy, y, f"{where}['gridY']")
        if g.rule.kind == "2Dmap":
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
    counts = np.maximum(scaled, 0).astype(np.int64)
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
    n, post = len(conns), np.asarray(conns["post_gid"])
    rows = np.arange(n)
    if "rule" not in conns or not isinstance(conns["rule"], Categorical):
        return np.lexsort((rows, post))
    rules, rc, mech = ctx.net.get("connParams") or {}, conns["rule"], _strings(conns["syn_mech"])
    rule_idx = {label: i for i, label in enumerate(rules)}
    ridx = np.array([rule_idx.get(c, len(rules)) for c in rc.categories] + [len(rules)])[rc.codes]
    midx, pair = np.zeros(n, dtype=np.int64), np.array(conns["pre_gid"], dtype=np.int64)
    for label, i in rule_idx.items():
        on = ridx == i
        rule = rules[label] if isinstance(rules[label], dict) else {}
        mechs = rule.get("synMech")
        for k, m in enumerate(mechs if isinstance(mechs, list) else [mechs]):
            midx[on & (mech == m)] = k
        if on.any() and default_conn_func(rule) == "fromListConn":
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


def _strings(col) -> np.ndarray:
    return col.values() if isinstance(col, Categorical) else np.asarray(col, dtype=object)


def _as_str(values: np.ndarray, fmt=str) -> np.ndarray:
    uniq, inv = np.unique(values, return_inverse=True)
    return np.array([fmt(v) for v in uniq.tolist()] or [""], dtype=str)[np.ravel(inv)]


def _sort_key(sec, loc, pre) -> np.ndarray:
    """NetPyNE's ``sec + str(loc) + str(preGid)`` as a numpy string array."""
    if not len(sec):
        return np.zeros(0, dtype=str)
    return np.char.add(np.char.add(np.asarray(sec, dtype=str), _as_str(loc, repr)), _as_str(pre))


class _State:
    """The columns subConnParams change, as mutable arrays."""

    def __init__(self, ctx, conns: Table) -> None:
        self.pre, self.post = np.asarray(conns["pre_gid"]), np.asarray(conns["post_gid"])
        self.sec, self.mech = _strings(conns["post_sec"]), _strings(conns["syn_mech"])
        self.loc = np.array(conns["post_loc"], dtype=np.float64)
        self.weight = np.array(conns["weight"], dtype=np.float64)
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
        codes, names = pd.factorize(self.sec)  # None -> -1
        out["post_sec"] = Categorical(codes, [str(n) for n in names])
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
        places = _DENSITY_FUNCS[rule.kind](g)  # for every post cell: NetPyNE's errors too
        key = _sort_key(state.sec[conn_rows], state.loc[conn_rows], state.pre[conn_rows])
        srt = np.argsort(key, kind="stable")
        srt = srt[np.argsort(cidx[srt], kind="stable")]
        conn_rows, cidx = conn_rows[srt], cidx[srt]
        _move_all(state, cell, topo, conn_rows, cidx, places)


def _move_all(state: _State, cell, topo: _Topology, conn_rows, cidx, places) -> None:
    """Each cell's sorted connections (``conn_rows``, grouped by ``cidx``) to its places."""
    starts = np.flatnonzero(np.r_[True, np.diff(cidx) != 0]) if len(cidx) else []
    out: list = []
    for st, end in zip(starts, np.r_[starts[1:], len(cidx)]):
        p = places(int(cidx[st]))
        k = 0 if p is None else min(end - st, len(p[0]))
        if k:
            out.append((conn_rows[st:st + k], p[0][:k], np.asarray(p[1][:k], dtype=np.float64)))
    if out:
        rows, secs, locs = (np.concatenate(x) for x in zip(*out))
        state.move(cell, rows, np.array(topo.names, dtype=object)[secs], locs)


def _pair_up(state: _State, mine: list, G: list, where: str):
    """NetPyNE's grouping pass over one cell's connections (creation order): the leading
    synapses, the partners they hold and each lead's partner by ``'%d_%s_%.4f'`` label."""
    index = defaultdict(deque)
    for r in mine:
        index[(state.mech[r], state.sec[r], state.loc[r])].append(r)
    held, lead, part = set(), [], {}
    for r in mine:
        if r in held:
            continue
        lead.append(r)
        if state.mech[r] not in G:
            continue
        for m in (s for s in G if s != state.mech[r]):
            q = index[(m, state.sec[r], state.loc[r])]
            while q and q[0] in held:
                q.popleft()
            if not q:
                logger.warning("%s: grouped synMech %s not found", where, m)
                continue
            held.add(q[0])
            part[f"{state.pre[r]}_{state.sec[r]}_{state.loc[r]:.4f}"] = q.popleft()
    return lead, held, part


def _move_grouped(ctx, rule, state: _State, cell, topo, labels, rows, conn_rows, cidx) -> None:
    """groupSynMechs: pair synapses up, then move each lead and, with it, its partner."""
    G, names = rule.group, np.array(topo.names, dtype=object)
    per_cell = np.split(conn_rows, np.searchsorted(cidx, np.arange(1, len(rows))))
    pairs = [_pair_up(state, mine.tolist(), G, rule.where) for mine in per_cell]
    g = _Group(ctx, rule, cell, topo, labels, rows, np.array([len(p[0]) for p in pairs]))
    places = _DENSITY_FUNCS[rule.kind](g)
    for c, (lead, held, part) in enumerate(pairs):
        p = places(c) if lead else None
        lead = np.array(lead, dtype=np.int64)
        key = _sort_key(state.sec[lead], state.loc[lead], state.pre[lead])
        for r, s, x in zip(lead[np.argsort(key, kind="stable")].tolist(), *(p or ([], []))):
            label = f"{state.pre[r]}_{state.sec[r]}_{state.loc[r]:.4f}"
            grouped = state.mech[r] in G and r not in held
            has_old, old, new = state.move(cell, np.array([r]), names[[s]], np.array([x]))
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
                            f"post cell gid {int(ctx.gids[rows[c]])} not moved (NetPyNE fails: "
                            "they keep a '__grouped__' synMech, or a label repeats)")
