"""Fast, statistically exact sampling of probConn rules on large networks.

NetPyNE's probConn draws one NEURON Random123 number for every (pre, post) pair and evaluates
the probability for every pair; nethub reproduces that bit for bit (:mod:`nethub.builder.conns`),
which costs time proportional to ``n_pre * n_post`` (1e10 pairs for 100,000 cells). This module
draws a connection set with the same law -- every pair connects independently with probability
``clip(p(pre, post), 0, 1)`` -- in time proportional to the number of connections:

1. **Bounds.** Pre and post cells are put in balanced k-d trees (median splits along the longest
   axis of each node's bounding box; node ``(depth, i)`` holds the sorted positions
   ``[i*n // 2**depth, (i+1)*n // 2**depth)``). For a pair of nodes, :func:`expr_bounds`
   evaluates the probability expression in interval arithmetic over the nodes' bounding boxes
   (positions, normalised positions, border corrections), giving ``[p_lo, p_hi]`` that encloses
   every value the expression takes, as computed in floating point, on any pair of the two nodes
   (see *Why the bounds are safe*).
2. **Blocks.** A dual traversal of the two trees starts at (root, root); a node pair is dropped
   when ``p_hi <= 0``, kept as a *block* when its bound is tight enough (expected wasted
   candidates ``N*(p_hi - p_lo)`` at most :data:`WASTE`, or ``p_hi <= TIGHT * p_lo``) or when
   both nodes are leaves, and split into its (up to 4) child pairs otherwise. Every pair of
   cells lies in exactly one block.
3. **Thinning.** In a block of ``N = n_A * n_B`` pairs with bound ``q = min(p_hi, 1)``,
   candidates are a Bernoulli(q) process over the pairs, drawn by geometric skipping (gap
   ``t`` of a block is ``1 + floor(log(1 - u_t) / log(1 - q))``); a candidate is accepted when
   ``u < p / q`` with ``u`` its own uniform. So ``P(pair connects) = q * p/q = p``, independently
   for every pair: the law is exactly the rule's, only the random numbers differ from NetPyNE's.

Random numbers come from :mod:`nethub.rng` counter-based streams keyed by
``(seeds['conn'], 'nethub.fastconn', rule label)``: gap ``t`` of a block by ``(block code, t)``,
the acceptance of a pair by ``(pre gid, post gid)``. The trees and blocks depend only on the
cells, so the result depends neither on ranks, on the chunking of the work, nor on rule order.

Why the bounds are safe: ``+ - * / sqrt`` and the squares are correctly rounded, and rounding to
nearest is monotone, so evaluating them on the float ends of an interval bounds the float result
at any float point inside it; transcendental functions (numpy's, accurate to a few ulps and
possibly not exactly monotone) get their interval ends widened by :data:`_ULPS` ulps; anything
whose enclosure is unknown (e.g. ``tan``, a possible division by zero, an argument outside a
function's domain, NaN) gives ``[-inf, inf]``, which makes the bound useless rather than wrong.
The sampler also counts candidates with ``p > q`` (there should be none) and logs them.
"""

from __future__ import annotations

import ast
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import rng

__all__ = ["expr_bounds", "pair_env", "global_bound", "sample_prob_pairs", "FastConnStats",
           "UnboundedProbability", "BoundTable", "conn_var_bounds",
           "KDTree", "WASTE", "TIGHT", "LEAF"]

logger = logging.getLogger(__name__)

#: keep a node pair as a block when at most this many candidates are expected to be rejected
WASTE = 32.0
#: ... or when its upper bound is within this factor of its lower bound
TIGHT = 1.25
#: cells per k-d tree leaf (at least)
LEAF = 8
#: candidates (gaps) drawn per vectorized round
CHUNK = 1 << 21
#: node pairs of one traversal level beyond which everything left is kept as blocks
MAX_FRONTIER = 1 << 22
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
    from ..expr import MATH_CONSTANTS

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


# ----------------------------------------------------------------------------- environments
def pair_env(ctx, names, pre_rows: np.ndarray, post_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Connection variables ``names`` for pairs (pre row, post row): the values of
    :func:`nethub.builder.context.conn_env`, gathering only the columns the names need.

    ``pre_rows``/``post_rows`` broadcast together (e.g. ``(n, 1)`` and ``(1, m)`` for a grid).
    """
    from ..expr import conn_env

    names = set(names)
    need_norm = any("norm" in v for v in names)
    need_border = "dist_3D_border" in names and ctx.border is not None

    def side(rows, cols):
        return np.stack([np.asarray(ctx.cells[c])[rows] for c in cols], axis=-1)

    xyz = ("x", "y", "z")
    nrm = ("xnorm", "ynorm", "znorm")
    return conn_env(side(pre_rows, xyz), side(post_rows, xyz),
                    side(pre_rows, nrm) if need_norm else None,
                    side(post_rows, nrm) if need_norm else None,
                    post_border=ctx.border[post_rows] if need_border else None, names=names)


_PLAIN_DIST = {"dist_3D": "xyz", "dist_2D": "xz", "dist_norm3D": "xyz", "dist_norm2D": "xz"}


def _fast_env(names, sides, i: np.ndarray, j: np.ndarray) -> dict[str, np.ndarray]:
    """The variables of :func:`pair_env` for the fast sampler's acceptance test (positions
    ``i``, ``j`` in the two sides' tree order), with plain ``x*x`` squares instead of libm's
    pow (NetPyNE's): equal to the last ulp or so, which the bounds allow for, and several
    times faster."""
    a, b = sides
    if "dist_3D_border" in names:
        return pair_env(a.ctx, names, a.rows[i], b.rows[j])
    diffs: dict[str, np.ndarray] = {}

    def diff(c: str) -> np.ndarray:
        if c not in diffs:
            diffs[c] = np.abs(a.col(c)[i] - b.col(c)[j])
        return diffs[c]

    env = {}
    for name in names:
        if name.startswith(("pre_", "post_")):
            side, var = name.split("_", 1)
            env[name] = a.col(var)[i] if side == "pre" else b.col(var)[j]
        elif name in _PLAIN_DIST:
            suffix = "norm" if "norm" in name else ""
            total = sum(diff(c + suffix) * diff(c + suffix) for c in _PLAIN_DIST[name])
            env[name] = np.sqrt(total)
        else:  # dist_x ... dist_znorm
            env[name] = diff(name[5:])
    return env


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


# ----------------------------------------------------------------------------- sampling
@dataclass
class FastConnStats:
    """What one fast sampling did (logged; handy in tests)."""

    blocks: int = 0
    node_pairs: int = 0
    candidates: int = 0
    accepted: int = 0
    violations: int = 0  # candidates whose probability exceeded their block's bound
    levels: list[int] = field(default_factory=list)


@dataclass
class _Blocks:
    step: np.ndarray
    ia: np.ndarray
    ib: np.ndarray
    q: np.ndarray
    exact: np.ndarray  # the probability is q on every pair of the block (no acceptance test)


def _blocks(ctx, spec, names, trees: tuple[KDTree, KDTree], arrays, stats: FastConnStats
            ) -> _Blocks:
    """Dual traversal of the two trees → blocks (node pairs with their bound)."""
    ta, tb = trees
    out: list[tuple] = []
    ia, ib = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    for step in range(max(ta.depth, tb.depth) + 1):
        da, db = min(step, ta.depth), min(step, tb.depth)
        bx_a = _boxes_of(arrays[0], ta.starts(da)).take(ia)
        bx_b = _boxes_of(arrays[1], tb.starts(db)).take(ib)
        lo, hi = _bound_pairs(ctx, spec, names, bx_a, bx_b)
        if step == 0 and not np.isfinite(hi[0]):
            raise UnboundedProbability("no finite upper bound")
        stats.node_pairs += len(ia)
        stats.levels.append(len(ia))
        q = np.minimum(hi, 1.0)  # an unknown bound (inf) is still bounded by 1
        plo = np.clip(lo, 0.0, 1.0)
        n_pairs = ta.sizes(da)[ia].astype(np.float64) * tb.sizes(db)[ib]
        live = q > 0
        last = (da == ta.depth and db == tb.depth) or len(ia) > MAX_FRONTIER
        done = live & (last | (n_pairs * (q - plo) <= WASTE) | (q <= TIGHT * plo))
        out.append((np.full(int(done.sum()), step, dtype=np.int64), ia[done], ib[done],
                    q[done], (plo == q)[done]))
        ia, ib = _children(ia[live & ~done], ib[live & ~done], da < ta.depth, db < tb.depth)
        if not len(ia):
            break
    return _Blocks(*(np.concatenate(c) for c in zip(*out)))


def _children(ia, ib, split_a: bool, split_b: bool):
    ka = np.stack([2 * ia, 2 * ia + 1], axis=1) if split_a else ia[:, None]
    kb = np.stack([2 * ib, 2 * ib + 1], axis=1) if split_b else ib[:, None]
    ca = np.repeat(ka, kb.shape[1], axis=1).reshape(-1)
    cb = np.tile(kb, (1, ka.shape[1])).reshape(-1)
    return ca, cb


class UnboundedProbability(ValueError):
    """The probability has no finite upper bound (the fast sampler cannot be used)."""


def _candidates(key, blocks: _Blocks, n_pairs: np.ndarray):
    """Yield ``(block index, pair position)`` arrays of the Bernoulli(q) candidates of every
    block, in rounds of at most :data:`CHUNK` gaps.

    Gap ``t`` (0, 1, ...) of a block is ``1 + floor(log(1 - u) / log(1 - q))`` with ``u`` the
    uniform of counter ``h + t``, ``h`` the block's hash of ``(step, node a, node b)``: a pure
    function of the block and ``t``, however the gaps are split into rounds.
    """
    codes = (blocks.step << 56) | (blocks.ia << 28) | blocks.ib
    base = rng.hash64(key, codes)
    log_keep = np.log1p(-blocks.q)  # -inf for q == 1: every gap is 1
    want = _allotment(n_pairs * blocks.q, n_pairs)
    active = np.arange(len(codes))
    pos = np.full(len(codes), -1, dtype=np.int64)
    t0 = np.zeros(len(codes), dtype=np.uint64)
    while len(active):
        take = int(np.searchsorted(np.cumsum(np.minimum(want[active], CHUNK)), CHUNK,
                                   side="right")) or 1
        b, rest = active[:take], active[take:]
        alloc = np.minimum(want[b], CHUNK)
        first = np.cumsum(alloc) - alloc
        offs = np.arange(int(alloc.sum()), dtype=np.uint64) - np.repeat(first, alloc
                                                                         ).astype(np.uint64)
        u = rng.uniform(key, np.repeat(base[b] + t0[b], alloc) + offs, draw=1)
        nb = np.repeat(n_pairs[b], alloc)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.floor(np.log1p(-u) / np.repeat(log_keep[b], alloc)) + 1.0
        g = np.minimum(g, nb + 1.0).astype(np.int64)
        x = np.cumsum(g)
        x -= np.repeat(x[first] - g[first] - pos[b], alloc)
        keep = x < nb
        yield np.repeat(b, alloc)[keep], x[keep]
        last = x[first + alloc - 1]
        more = last < n_pairs[b]
        pos[b], t0[b] = last, t0[b] + alloc.astype(np.uint64)
        left = n_pairs[b] - 1 - last
        want[b] = _allotment(left * blocks.q[b], left)
        active = np.concatenate([b[more], rest])


def _allotment(m: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Gaps to draw for an expected ``m`` candidates among ``n`` pairs: enough for all of them
    in ~98% of the blocks (one more than the candidates, to step past the end)."""
    m = np.maximum(m, 0.0)
    return np.minimum(np.ceil(m + 2.0 * np.sqrt(m) + 1.0), np.maximum(n, 0) + 1).astype(np.int64)


def sample_prob_pairs(ctx, cr, expr, seed: int, stats: FastConnStats | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """probConn by thinning: (pre rows, post rows) of the connections, every pair connecting
    independently with probability ``clip(p, 0, 1)``.

    Parameters
    ----------
    ctx : BuildContext
    cr : ConnRule
        The rule (``cr.pre``/``cr.post``: candidate rows, ``cr.rule['probability']``).
    expr : Expr or None
        The compiled probability expression (None for a number).
    seed : int
        ``seeds['conn']``.
    stats : FastConnStats, optional
        Filled with what the sampling did.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Row indices, in no particular order.

    Raises
    ------
    UnboundedProbability
        When the probability has no finite upper bound (the caller falls back).
    """
    spec = cr.rule["probability"]
    from ..expr import CONN_VARS

    names = set() if expr is None else set(expr.variables) & set(CONN_VARS)
    stats = FastConnStats() if stats is None else stats
    arrs = [_cell_arrays(ctx, rows, names, side == "post")
            for side, rows in (("pre", cr.pre), ("post", cr.post))]
    ta = KDTree(arrs[0][0])
    tb = ta if np.array_equal(cr.pre, cr.post) else KDTree(arrs[1][0])
    sorted_arrs = [tuple(None if a is None else a[t.perm] for a in arr)
                   for t, arr in ((ta, arrs[0]), (tb, arrs[1]))]
    try:
        blocks = _blocks(ctx, spec, names, (ta, tb), sorted_arrs, stats)
    except UnboundedProbability:
        raise UnboundedProbability(f"{cr.where}['probability']: no finite upper bound"
                                   ) from None
    key = rng.stream_key(int(seed), "nethub.fastconn", cr.label)
    sides = (_Side(ctx, cr.pre[ta.perm]), _Side(ctx, cr.post[tb.perm]))
    start_a, size_a = _node_ranges(ta, blocks.step, blocks.ia)
    start_b, size_b = _node_ranges(tb, blocks.step, blocks.ib)
    stats.blocks = len(blocks.q)
    pres, posts = [], []
    for b, x in _candidates(key, blocks, size_a * size_b):
        i, j = np.divmod(x, size_b[b])
        i += start_a[b]
        j += start_b[b]
        stats.candidates += len(b)
        keep = _accept(expr, spec, names, blocks, b, (i, j), sides, key, stats)
        pres.append(sides[0].rows[i[keep]])
        posts.append(sides[1].rows[j[keep]])
    pre = np.concatenate(pres) if pres else np.zeros(0, dtype=np.int64)
    post = np.concatenate(posts) if posts else np.zeros(0, dtype=np.int64)
    stats.accepted = len(pre)
    _log(cr, stats)
    return pre, post


class _Side:
    """The pre or post cells in tree order, with their columns gathered on first use."""

    def __init__(self, ctx, rows: np.ndarray) -> None:
        self.ctx, self.rows = ctx, rows
        self.gids = ctx.gids[rows]
        self._cols: dict[str, np.ndarray] = {}

    def col(self, name: str) -> np.ndarray:
        if name not in self._cols:
            self._cols[name] = np.asarray(self.ctx.cells[name])[self.rows]
        return self._cols[name]


def _node_ranges(tree: KDTree, step: np.ndarray, idx: np.ndarray):
    """First sorted position and size of node ``idx`` at depth ``min(step, tree.depth)``."""
    d = np.minimum(step, tree.depth)
    start = (idx * tree.n) >> d
    return start, ((idx + 1) * tree.n >> d) - start


def _accept(expr, spec, names, blocks: _Blocks, b, pos, sides, key,
            stats: FastConnStats) -> np.ndarray:
    """Thinning: keep a candidate with probability p / q (``pos``: tree-order positions)."""
    keep = np.ones(len(b), dtype=bool)
    test = np.flatnonzero(~blocks.exact[b])
    if not len(test):
        return keep
    i, j = pos[0][test], pos[1][test]
    gi, gj = sides[0].gids[i], sides[1].gids[j]
    if expr is None:
        p = np.full(len(test), float(spec))
    else:
        env = _fast_env(names, sides, i, j)
        p = expr.evaluate(env, rng_key=rng.derive_key(key, "expr"), counters=(gi, gj),
                          n=len(test))
    q = blocks.q[b[test]]
    stats.violations += int(np.count_nonzero(p > q))
    keep[test] = rng.uniform(key, gi, gj, draw=2) * q < p
    return keep


def _log(cr, stats: FastConnStats) -> None:
    ratio = stats.candidates / max(stats.accepted, 1)
    logger.debug("%s: fast sampler: %d node pairs visited (per level %s), %d blocks, "
                 "%d candidates, %d connections (%.2f candidates per connection)",
                 cr.where, stats.node_pairs, stats.levels, stats.blocks, stats.candidates,
                 stats.accepted, ratio)
    if stats.violations:
        logger.warning("%s: %d candidates had a probability above their block's bound; their "
                       "connection probability was capped at the bound", cr.where,
                       stats.violations)
