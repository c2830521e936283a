"""Interval bounds of a probability expression over boxes of cells, for the probConn sampler of
:mod:`nethub.builder.probsample`: interval arithmetic over the expression's syntax tree
(:func:`expr_bounds`), bounding boxes of cell sets and the connection variables over them
(:func:`conn_var_bounds`), a global bound and a per-block table (:class:`BoundTable`). Why the
bounds are safe: docs/design/probsample.md.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..expr import MATH_CONSTANTS

__all__ = ["expr_bounds", "global_bound", "BoundTable", "conn_var_bounds", "Interval", "KDTree",
           "LEAF"]

#: cells per k-d tree leaf (at least)
LEAF = 8

#: widening of transcendental results, in ulps (numpy's SIMD functions are within ~4)
_ULPS = 16
_EPS = np.finfo(np.float64).eps
_INF = math.inf

Interval = tuple[np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- intervals
def _full(shape) -> Interval:
    return np.full(shape, -_INF), np.full(shape, _INF)


def _clean(lo, hi) -> Interval:
    """NaN ends (unknown) become the whole line."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    bad = np.isnan(lo) | np.isnan(hi)
    if bad.any():
        lo, hi = np.where(bad, -_INF, lo), np.where(bad, _INF, hi)
    return lo, hi


def _widen(lo, hi, ulps: int = _ULPS) -> Interval:
    lo = lo - np.abs(lo) * (ulps * _EPS) - 1e-300
    hi = hi + np.abs(hi) * (ulps * _EPS) + 1e-300
    return _clean(lo, hi)


def _hull(*ivs: Interval) -> Interval:
    return (np.minimum.reduce([np.broadcast_to(a, np.shape(ivs[0][0])) for a, _ in ivs]),
            np.maximum.reduce([np.broadcast_to(b, np.shape(ivs[0][0])) for _, b in ivs]))


def _corners(f, a: Interval, b: Interval) -> Interval:
    vals = [f(x, y) for x in a for y in b]
    return _clean(np.minimum.reduce(vals), np.maximum.reduce(vals))


def _mul(a: Interval, b: Interval) -> Interval:
    return _corners(np.multiply, a, b)


def _div(a: Interval, b: Interval) -> Interval:
    lo, hi = _corners(np.true_divide, a, b)
    zero = (b[0] <= 0) & (b[1] >= 0)
    return np.where(zero, -_INF, lo), np.where(zero, _INF, hi)


def _even(a: Interval, f) -> Interval:
    """An even function increasing in |x| (square, abs, cosh)."""
    lo, hi = a
    flo, fhi = f(lo), f(hi)
    inner = np.where((lo <= 0) & (hi >= 0), f(np.zeros_like(lo)), np.minimum(flo, fhi))
    return _clean(inner, np.maximum(flo, fhi))


def _pow(a: Interval, b: Interval) -> Interval:
    """x**y: constant integer exponents exactly; positive bases at the corners (x**y is
    monotone in each argument there); otherwise unknown."""
    lo, hi = a
    k = float(np.ravel(b[0])[0]) if np.size(b[0]) else 0.0
    if np.all(b[0] == k) and np.all(b[1] == k) and k.is_integer() and abs(k) < 2**53:
        if k == 2:
            return _widen(*_even(a, np.square), 2)
        flo, fhi = np.power(lo, k), np.power(hi, k)
        zero = (lo <= 0) & (hi >= 0)
        if k >= 0:  # odd: increasing; even: increasing in |x|
            if k % 2:
                return _widen(flo, fhi)
            inner = np.where(zero, 1.0 if k == 0 else 0.0, np.minimum(flo, fhi))
            return _widen(inner, np.maximum(flo, fhi))
        # negative: monotone on each side of 0, infinite at 0
        out = _widen(np.minimum(flo, fhi), np.maximum(flo, fhi))
        return np.where(zero, -_INF, out[0]), np.where(zero, _INF, out[1])
    ok = (lo > 0) | ((lo >= 0) & (b[0] > 0))
    plo, phi = _widen(*_corners(np.power, a, b))
    return np.where(ok, plo, -_INF), np.where(ok, phi, _INF)


def _mono(f, a: Interval, lo_dom=-_INF, hi_dom=_INF, decreasing=False) -> Interval:
    """A monotone function on [lo_dom, hi_dom]; unknown when the interval leaves the domain."""
    lo, hi = a
    flo, fhi = f(lo), f(hi)
    if decreasing:
        flo, fhi = fhi, flo
    out = _widen(flo, fhi)
    bad = (lo < lo_dom) | (hi > hi_dom)
    return np.where(bad, -_INF, out[0]), np.where(bad, _INF, out[1])


def _const(v: float, shape) -> Interval:
    return np.full(shape, float(v)), np.full(shape, float(v))


_INCREASING = {
    "exp": np.exp, "expm1": np.expm1, "exp2": np.exp2, "cbrt": np.cbrt, "sinh": np.sinh,
    "asinh": np.arcsinh, "arcsinh": np.arcsinh, "tanh": np.tanh, "atan": np.arctan,
    "arctan": np.arctan, "degrees": np.degrees, "rad2deg": np.degrees, "radians": np.radians,
    "deg2rad": np.radians, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
    "int": np.trunc, "float": np.asarray, "round": np.round, "rint": np.rint, "sign": np.sign,
}  # fmt: skip
_DOMAIN = {  # increasing on [lo, hi]
    "log": (np.log, 0.0, _INF), "log10": (np.log10, 0.0, _INF), "log2": (np.log2, 0.0, _INF),
    "log1p": (np.log1p, -1.0, _INF), "sqrt": (np.sqrt, 0.0, _INF),
    "asin": (np.arcsin, -1.0, 1.0), "arcsin": (np.arcsin, -1.0, 1.0),
    "atanh": (np.arctanh, -1.0, 1.0), "arctanh": (np.arctanh, -1.0, 1.0),
    "acosh": (np.arccosh, 1.0, _INF), "arccosh": (np.arccosh, 1.0, _INF),
}  # fmt: skip
_DECREASING = {"acos": (np.arccos, -1.0, 1.0), "arccos": (np.arccos, -1.0, 1.0)}
_BOUNDED = {"sin": (-1.0, 1.0), "cos": (-1.0, 1.0), "isnan": (0.0, 1.0), "isinf": (0.0, 1.0),
            "isfinite": (0.0, 1.0), "atan2": (-4.0, 4.0), "arctan2": (-4.0, 4.0)}


class _Bounder:
    """Interval evaluation of an expression's syntax tree (the grammar of :mod:`nethub.expr`)."""

    def __init__(self, variables: dict[str, Interval], constants: dict[str, float], shape):
        self.vars, self.consts, self.shape = variables, constants, shape

    def visit(self, node: ast.AST) -> Interval:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return _full(self.shape)
        with np.errstate(all="ignore"):
            lo, hi = method(node)
        return _clean(np.broadcast_to(lo, self.shape), np.broadcast_to(hi, self.shape))

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        return _const(float(node.value), self.shape)

    def visit_Name(self, node):
        if node.id in self.vars:
            return self.vars[node.id]
        if node.id in self.consts:
            return _const(self.consts[node.id], self.shape)
        return _full(self.shape)

    def visit_UnaryOp(self, node):
        lo, hi = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -hi, -lo
        if isinstance(node.op, ast.UAdd):
            return lo, hi
        return self._truth(lo, hi, negate=True)

    def visit_BinOp(self, node):
        a, b = self.visit(node.left), self.visit(node.right)
        op = type(node.op)
        if op is ast.Add:
            return a[0] + b[0], a[1] + b[1]
        if op is ast.Sub:
            return a[0] - b[1], a[1] - b[0]
        if op is ast.Mult:
            return _mul(a, b)
        if op is ast.Div:
            return _div(a, b)
        if op is ast.Pow:
            return _pow(a, b)
        if op is ast.FloorDiv:
            lo, hi = _div(a, b)
            return np.floor(lo), np.floor(hi)
        if op is ast.Mod:
            return self._mod(a, b, python=True)
        return _full(self.shape)

    @staticmethod
    def _mod(a, b, python: bool) -> Interval:
        pos = b[0] > 0
        top = np.where(pos, b[1], _INF)
        if python:  # numpy.mod: result has the divisor's sign, in [0, b)
            return np.where(pos, 0.0, -_INF), top
        return np.where(pos & (a[0] >= 0), 0.0, -top), top  # fmod: the dividend's sign

    def _truth(self, lo, hi, negate=False) -> Interval:
        """{0, 1} result of a test that is certainly true/false on part of the blocks."""
        surely_zero = (lo == 0) & (hi == 0)
        nonzero = (lo > 0) | (hi < 0)
        t_lo, t_hi = np.where(nonzero, 1.0, 0.0), np.where(surely_zero, 0.0, 1.0)
        return (1.0 - t_hi, 1.0 - t_lo) if negate else (t_lo, t_hi)

    def visit_Compare(self, node):
        vals = [self.visit(node.left)] + [self.visit(c) for c in node.comparators]
        lo, hi = np.ones(self.shape), np.ones(self.shape)
        for op, (a, b) in zip(node.ops, zip(vals, vals[1:])):
            t_lo, t_hi = self._compare(type(op), a, b)
            lo, hi = np.minimum(lo, t_lo), np.minimum(hi, t_hi)
        return lo, hi

    def _compare(self, op, a, b) -> Interval:
        sure = {ast.Lt: a[1] < b[0], ast.LtE: a[1] <= b[0], ast.Gt: a[0] > b[1],
                ast.GtE: a[0] >= b[1], ast.Eq: (a[0] == a[1]) & (b[0] == b[1]) & (a[0] == b[0]),
                ast.NotEq: (a[1] < b[0]) | (a[0] > b[1])}
        never = {ast.Lt: a[0] >= b[1], ast.LtE: a[0] > b[1], ast.Gt: a[1] <= b[0],
                 ast.GtE: a[1] < b[0], ast.Eq: (a[1] < b[0]) | (a[0] > b[1]),
                 ast.NotEq: (a[0] == a[1]) & (b[0] == b[1]) & (a[0] == b[0])}
        if op not in sure:
            return np.zeros(self.shape), np.ones(self.shape)
        return np.where(sure[op], 1.0, 0.0), np.where(never[op], 0.0, 1.0)

    def visit_BoolOp(self, node):
        vals = [self.visit(v) for v in node.values]
        out = vals[0]
        for v in vals[1:]:  # 'a and b' is a (when falsy, i.e. 0) or b; 'a or b' is a or b
            maybe_zero = (out[0] <= 0) & (out[1] >= 0)
            if isinstance(node.op, ast.And):
                zero = _const(0.0, self.shape)
                h = _hull(v, zero)
                out = np.where(maybe_zero, h[0], v[0]), np.where(maybe_zero, h[1], v[1])
            else:
                out = _hull(out, v)
        return out

    def visit_IfExp(self, node):
        return self._select(self.visit(node.test), self.visit(node.body), self.visit(node.orelse))

    def _select(self, t, a, b) -> Interval:
        t_lo, t_hi = self._truth(*t)
        h = _hull(a, b)
        lo = np.where(t_lo == 1, a[0], np.where(t_hi == 0, b[0], h[0]))
        hi = np.where(t_lo == 1, a[1], np.where(t_hi == 0, b[1], h[1]))
        return lo, hi

    def visit_Call(self, node):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        args = [self.visit(a) for a in node.args]
        return self._call(name, args)

    def _call(self, name: str, args: list[Interval]) -> Interval:  # noqa: C901 (a table)
        if name in _INCREASING and len(args) == 1:
            return _mono(_INCREASING[name], args[0])
        if name in _DOMAIN and len(args) == 1:
            f, lo, hi = _DOMAIN[name]
            return _mono(f, args[0], lo, hi)
        if name in _DECREASING and len(args) == 1:
            f, lo, hi = _DECREASING[name]
            return _mono(f, args[0], lo, hi, decreasing=True)
        if name == "erfc" and len(args) == 1:
            return _widen(np.zeros(self.shape), np.full(self.shape, 2.0))
        if name == "erf" and len(args) == 1:
            return _const(-1.0, self.shape)[0], np.ones(self.shape)
        if name in _BOUNDED:
            lo, hi = _BOUNDED[name]
            return _const(lo, self.shape)[0], _const(hi, self.shape)[0]
        if name in ("abs", "fabs", "absolute") and len(args) == 1:
            return _even(args[0], np.abs)
        if name == "square" and len(args) == 1:
            return _even(args[0], np.square)
        if name == "cosh" and len(args) == 1:
            return _widen(*_even(args[0], np.cosh))
        if name in ("min", "minimum", "fmin") and len(args) >= 2:
            return np.minimum.reduce([a[0] for a in args]), np.minimum.reduce([a[1] for a in args])
        if name in ("max", "maximum", "fmax") and len(args) >= 2:
            return np.maximum.reduce([a[0] for a in args]), np.maximum.reduce([a[1] for a in args])
        if name in ("pow", "power") and len(args) == 2:
            return _pow(*args)
        if name == "hypot" and len(args) == 2:
            x, y = (_even(a, np.abs) for a in args)
            return np.hypot(x[0], y[0]), np.hypot(x[1], y[1])
        if name == "clip" and len(args) == 3:
            x, a, b = args
            return np.minimum(np.maximum(x[0], a[0]), b[0]), np.minimum(np.maximum(x[1], a[1]),
                                                                        b[1])
        if name == "where" and len(args) == 3:
            return self._select(*args)
        if name in ("mod", "remainder", "fmod") and len(args) == 2:
            return self._mod(args[0], args[1], python=name != "fmod")
        if name == "copysign" and len(args) == 2:
            m = _even(args[0], np.abs)[1]
            return -m, m
        return self._random(name, args)

    def _random(self, name: str, args: list[Interval]) -> Interval:
        if name == "uniform" and len(args) == 2:
            return _hull(*args)
        if name == "discunif" and len(args) == 2:
            h = _hull(*args)
            return np.trunc(h[0]), np.trunc(h[1])
        if name == "binomial" and len(args) == 2:
            return np.zeros(self.shape), np.maximum(np.trunc(args[0][1]), 0.0)
        if name in ("negexp", "poisson", "weibull", "erlang", "lognormal", "hypergeo",
                    "geometric"):
            return np.zeros(self.shape), np.full(self.shape, _INF)
        return _full(self.shape)


def expr_bounds(text: str, variables: dict[str, Interval], constants: dict[str, float],
                shape) -> Interval:
    """Interval enclosure ``(lo, hi)`` of an expression's float values.

    Parameters
    ----------
    text : str
        A :mod:`nethub.expr` expression (already validated by ``compile_expr``).
    variables : dict of str to (lo, hi)
        Interval of every variable, arrays of ``shape`` (one interval per box).
    constants : dict of str to float
        Named constants (numeric netParams; :data:`nethub.expr.MATH_CONSTANTS` are added).
    shape : tuple
        Shape of the interval arrays.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper ends; ``-inf``/``inf`` where nothing is known.
    """
    tree = ast.parse(text.strip(), mode="eval")
    return _Bounder(variables, {**MATH_CONSTANTS, **constants}, shape).visit(tree)


# ----------------------------------------------------------------------------- boxes
@dataclass
class _Boxes:
    """Bounding boxes of groups of cells: (k, 3) arrays of xyz, normalised xyz and border."""

    lo: np.ndarray
    hi: np.ndarray
    nlo: np.ndarray
    nhi: np.ndarray
    blo: np.ndarray | None = None
    bhi: np.ndarray | None = None

    def take(self, idx) -> _Boxes:
        return _Boxes(*(None if a is None else a[idx] for a in (
            self.lo, self.hi, self.nlo, self.nhi, self.blo, self.bhi)))


def _gap(a_lo, a_hi, b_lo, b_hi) -> Interval:
    """|a - b| over two intervals (elementwise over the three axes)."""
    lo = np.maximum(np.maximum(a_lo - b_hi, b_lo - a_hi), 0.0)
    return lo, np.maximum(a_hi - b_lo, b_hi - a_lo)


def _norm(parts: list[Interval]) -> Interval:
    """sqrt of a sum of squares; the squares are widened because nethub computes them with
    libm's pow (as NetPyNE does), which is not always the correctly rounded ``x*x``."""
    sq = [_widen(p[0] * p[0], p[1] * p[1], 2) for p in parts]
    lo, hi = sq[0]
    for a, b in sq[1:]:
        lo, hi = lo + a, hi + b
    return np.sqrt(np.maximum(lo, 0.0)), np.sqrt(hi)


def conn_var_bounds(names, pre: _Boxes, post: _Boxes) -> dict[str, Interval]:
    """Intervals of the connection variables ``names`` over pairs of boxes (NetPyNE's
    formulas, as :func:`nethub.expr.conn_env` computes them)."""
    out: dict[str, Interval] = {}
    with np.errstate(invalid="ignore"):
        dists = [v for v in names if v.startswith("dist_")]
        d = _gap(pre.lo, pre.hi, post.lo, post.hi) if any(
            "norm" not in v for v in dists) else None
        dn = _gap(pre.nlo, pre.nhi, post.nlo, post.nhi) if any(
            "norm" in v for v in dists) else None
    axis = {c: i for i, c in enumerate("xyz")}
    for name in names:
        if name.startswith(("pre_", "post_")):
            side, var = name.split("_", 1)
            box = pre if side == "pre" else post
            lo, hi = (box.nlo, box.nhi) if var.endswith("norm") else (box.lo, box.hi)
            out[name] = (lo[:, axis[var[0]]], hi[:, axis[var[0]]])
        elif name in ("dist_x", "dist_y", "dist_z"):
            i = axis[name[-1]]
            out[name] = (d[0][:, i], d[1][:, i])
        elif name in ("dist_xnorm", "dist_ynorm", "dist_znorm"):
            i = axis[name[5]]
            out[name] = (dn[0][:, i], dn[1][:, i])
        elif name in ("dist_3D", "dist_2D", "dist_norm3D", "dist_norm2D"):
            src = dn if "norm" in name else d
            idx = (0, 1, 2) if name.endswith("3D") else (0, 2)
            out[name] = _norm([(src[0][:, i], src[1][:, i]) for i in idx])
        elif name == "dist_3D_border":
            out[name] = _border_dist(d, post)
    return {k: _clean(*v) for k, v in out.items()}


def _border_dist(d: Interval, post: _Boxes) -> Interval:
    if post.blo is None:
        return _norm([(d[0][:, i], d[1][:, i]) for i in range(3)])
    parts = [_widen(*_even((d[0][:, i] - post.bhi[:, i], d[1][:, i] - post.blo[:, i]),
                           np.square), 2) for i in range(3)]
    lo, hi = parts[0]
    for p in parts[1:]:
        lo, hi = lo + p[0], hi + p[1]
    return np.sqrt(np.maximum(lo, 0.0)), np.sqrt(hi)


def _cell_arrays(ctx, rows: np.ndarray, names, post: bool):
    """Per-cell (n, 3) positions, and the normalised positions / border corrections when
    ``names`` need them (else None)."""
    xyz = np.stack([np.asarray(ctx.cells[c])[rows] for c in "xyz"], axis=-1)
    nrm = None
    if any("norm" in v for v in names):
        nrm = np.stack([np.asarray(ctx.cells[c + "norm"])[rows] for c in "xyz"], axis=-1)
    border = post and "dist_3D_border" in names and ctx.border is not None
    return xyz, nrm, ctx.border[rows] if border else None


def _boxes_of(arrays, starts: np.ndarray) -> _Boxes:
    """Boxes of consecutive groups starting at ``starts`` of (sorted) per-cell arrays."""
    xyz, nrm, brd = arrays

    def red(f, a):
        return None if a is None else f.reduceat(a, starts, axis=0)

    mn, mx = np.minimum, np.maximum
    return _Boxes(red(mn, xyz), red(mx, xyz), red(mn, nrm), red(mx, nrm), red(mn, brd),
                  red(mx, brd))


def _bound_pairs(ctx, spec, names, pre: _Boxes, post: _Boxes) -> Interval:
    """[p_lo, p_hi] of the probability (a number or expression text) on box pairs."""
    k = len(pre.lo)
    if not isinstance(spec, str):
        return _const(float(spec), (k,))
    vars_ = conn_var_bounds(names, pre, post)
    return expr_bounds(spec, vars_, ctx.numeric_params, (k,))


def _inflate(hi):
    """Margin for the exact path's filters: relative 1e-9, absolute 1e-12 (unknown: inf)."""
    hi = np.where(np.isfinite(hi), hi, _INF)
    return hi + np.abs(hi) * 1e-9 + 1e-12


def global_bound(ctx, spec: Any, names, pre_rows: np.ndarray, post_rows: np.ndarray
                 ) -> float:
    """A number >= every float value the probability takes on the given pairs (``inf`` when
    unknown): interval evaluation over the bounding boxes of all pre and all post cells,
    inflated (:func:`_inflate`)."""
    pre = _boxes_of(_cell_arrays(ctx, pre_rows, names, False), np.zeros(1, dtype=np.intp))
    post = _boxes_of(_cell_arrays(ctx, post_rows, names, True), np.zeros(1, dtype=np.intp))
    return float(_inflate(_bound_pairs(ctx, spec, names, pre, post)[1])[0])


class BoundTable:
    """Upper bounds of the probability per pair of k-d tree nodes (at most ``max_nodes`` per
    side), for the exact path's second filter: ``of(ipre, ipost)`` >= the probability of the
    pairs (positions in ``pre_rows``/``post_rows``)."""

    def __init__(self, ctx, spec: Any, names, pre_rows: np.ndarray, post_rows: np.ndarray,
                 max_nodes: int = 512) -> None:
        self.node_pre, boxes_pre = self._nodes(_cell_arrays(ctx, pre_rows, names, False),
                                               max_nodes)
        self.node_post, boxes_post = self._nodes(_cell_arrays(ctx, post_rows, names, True),
                                                 max_nodes)
        ka, kb = len(boxes_pre.lo), len(boxes_post.lo)
        ia, ib = np.repeat(np.arange(ka), kb), np.tile(np.arange(kb), ka)
        hi = _bound_pairs(ctx, spec, names, boxes_pre.take(ia), boxes_post.take(ib))[1]
        self.table = _inflate(hi).reshape(ka, kb)

    @staticmethod
    def _nodes(arrays, max_nodes: int):
        tree = KDTree(arrays[0], leaf=max(1, len(arrays[0]) // max_nodes))
        d = tree.depth
        starts = tree.starts(d)
        node = np.empty(tree.n, dtype=np.int64)
        node[tree.perm] = np.repeat(np.arange(len(starts)), tree.sizes(d))
        srt = tuple(None if a is None else a[tree.perm] for a in arrays)
        return node, _boxes_of(srt, starts)

    def of(self, ipre: np.ndarray, ipost: np.ndarray) -> np.ndarray:
        return self.table[self.node_pre[ipre], self.node_post[ipost]]


# ----------------------------------------------------------------------------- k-d trees
class KDTree:
    """Balanced k-d tree over points: node ``(d, i)`` is the slice
    ``perm[i*n // 2**d : (i+1)*n // 2**d]`` of the points, split at the median of the longest
    axis of its bounding box; ``depth`` is the largest ``d`` with ``n // 2**d >= leaf``."""

    def __init__(self, xyz: np.ndarray, leaf: int = LEAF) -> None:
        n = len(xyz)
        self.n = n
        self.depth = max(0, int(math.floor(math.log2(max(n, 1) / leaf)))) if n >= leaf else 0
        perm = np.arange(n)
        for d in range(self.depth):
            starts = self.starts(d)
            sizes = self.sizes(d)
            pts = xyz[perm]
            lo = np.minimum.reduceat(pts, starts, axis=0)
            ext = np.maximum.reduceat(pts, starts, axis=0) - lo
            axis = np.argmax(ext, axis=1)
            k = np.arange(len(starts))
            scale = np.where(ext[k, axis] > 0, 0.5 / ext[k, axis], 0.0)
            c = pts[np.arange(n), np.repeat(axis, sizes)]
            # node + position in [0, 0.5] along the node's axis: monotone within the node,
            # the stable sort keeps the order of equal keys (deterministic everywhere)
            key = np.repeat(k, sizes) + (c - np.repeat(lo[k, axis], sizes)) * np.repeat(scale,
                                                                                       sizes)
            perm = perm[np.argsort(key, kind="stable")]
        self.perm = perm

    def starts(self, d: int) -> np.ndarray:
        """First sorted position of every node at depth ``d``."""
        return (np.arange(1 << d, dtype=np.int64) * self.n) >> d

    def sizes(self, d: int) -> np.ndarray:
        edges = (np.arange((1 << d) + 1, dtype=np.int64) * self.n) >> d
        return np.diff(edges)
