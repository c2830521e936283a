"""What an expression may name: the variable catalogues of each NetPyNE context, the math functions
(numpy, elementwise) and NEURON's ``h.Random`` distributions mapped onto :mod:`nethub.rng`
(tables and semantics: docs/design/expressions.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special

from .. import rng

_XYZ = ("x", "y", "z")
#: Cell location variables: point cells, population params and cellParams ``vars``.
CELL_VARS = frozenset(_XYZ + tuple(c + "norm" for c in _XYZ))
#: Section geom/mechs/pointps (CompartCell): cell location plus per-segment distances from the
#: soma centre (NetPyNE's code names; its docs say ``post_dist_path``, which fails there).
SEC_VARS = CELL_VARS | {"dist_path", "dist_euclidean"}
#: stimTargetParams: location of the target cell.
STIM_VARS = frozenset("post_" + v for v in CELL_VARS)
#: synMechParams: target cell location and the synapse's distance from the soma centre.
SYNMECH_VARS = STIM_VARS | {"post_dist_path", "post_dist_euclidean"}
#: Population ``density``: NetPyNE requires exactly one of these.
DENSITY_VARS = frozenset({"xnorm", "ynorm", "znorm"})
#: connParams: pre/post locations and pre-post distances.
CONN_VARS = (
    frozenset("pre_" + v for v in CELL_VARS)
    | STIM_VARS
    | {"dist_" + c for c in _XYZ}
    | {"dist_" + c + "norm" for c in _XYZ}
    | {"dist_2D", "dist_3D", "dist_3D_border", "dist_norm2D", "dist_norm3D"}
)
#: Named constants (a variable of the same name takes precedence).
MATH_CONSTANTS: Mapping[str, float] = {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}

_MAX_LEN = 10_000
_MAX_DEPTH = 150


def _as_float(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _min(*a: Any) -> Any:
    out = a[0]
    for v in a[1:]:
        out = np.minimum(out, v)
    return out


def _max(*a: Any) -> Any:
    out = a[0]
    for v in a[1:]:
        out = np.maximum(out, v)
    return out


def _bool_to_float(f: Callable) -> Callable:
    return lambda x: f(x).astype(np.float64)


_UNARY: dict[str, Callable] = {
    "exp": np.exp, "expm1": np.expm1, "exp2": np.exp2, "log": np.log, "log1p": np.log1p,
    "log10": np.log10, "log2": np.log2, "sqrt": np.sqrt, "cbrt": np.cbrt, "square": np.square,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "arcsin": np.arcsin,
    "acos": np.arccos, "arccos": np.arccos, "atan": np.arctan, "arctan": np.arctan,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
    "arcsinh": np.arcsinh, "acosh": np.arccosh, "arccosh": np.arccosh, "atanh": np.arctanh,
    "arctanh": np.arctanh, "degrees": np.degrees, "rad2deg": np.degrees,
    "radians": np.radians, "deg2rad": np.radians, "abs": np.abs, "fabs": np.abs,
    "absolute": np.abs, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "int": np.trunc,
    "float": _as_float, "round": np.round, "rint": np.rint, "sign": np.sign,
    "erf": special.erf, "erfc": special.erfc, "gamma": special.gamma, "lgamma": special.gammaln,
    "isnan": _bool_to_float(np.isnan), "isinf": _bool_to_float(np.isinf),
    "isfinite": _bool_to_float(np.isfinite),
}  # fmt: skip
_BINARY: dict[str, Callable] = {
    "atan2": np.arctan2, "arctan2": np.arctan2, "hypot": np.hypot, "pow": np.power,
    "power": np.power, "fmod": np.fmod, "remainder": np.mod, "mod": np.mod,
    "copysign": np.copysign, "fmin": np.fmin, "fmax": np.fmax,
}  # fmt: skip

#: Whitelisted math functions: name -> (callable, min args, max args or None for unbounded).
MATH_FUNCTIONS: Mapping[str, tuple[Callable, int, int | None]] = {
    **{k: (f, 1, 1) for k, f in _UNARY.items()},
    **{k: (f, 2, 2) for k, f in _BINARY.items()},
    **{k: (_min, 2, None) for k in ("min", "minimum")},
    **{k: (_max, 2, None) for k in ("max", "maximum")},
    "clip": (np.clip, 3, 3),
    "where": (lambda c, a, b: np.where(c, a, b), 3, 3),
}


# ---------------------------------------------------------------------------------------------
# random functions, NEURON parameterisations
# ---------------------------------------------------------------------------------------------
def _pow2(x: np.ndarray) -> np.ndarray:
    """``pow(x, 2.0)`` of the C library, bit for bit (what Python's ``x ** 2`` gives on floats).

    libm's pow is not always the correctly rounded ``x*x``; only products whose exact error is
    close to half an ulp can differ, and only those are recomputed with ``math.pow``.
    """
    p = x * x
    t = 134217729.0 * x
    hi = t - (t - x)
    lo = x - hi
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo  # x*x - p, exactly
    near = np.abs(err) > 0.45 * np.spacing(p)
    if np.any(near):
        p = np.array(p, dtype=np.float64, copy=True)
        p[near] = [math.pow(v, 2.0) for v in np.asarray(x)[near]]
    return p


_MATH_POW = np.frompyfunc(math.pow, 2, 1)


def libm_pow(a: Any, b: Any) -> np.ndarray:
    """``a ** b`` as Python computes it on floats (the C library's pow), so that expressions
    give NetPyNE's values bit for bit; NaN where Python would raise."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 0 and float(b) == 2.0:
        return _pow2(a)
    with np.errstate(all="ignore"):
        ok = ~((a < 0) & (b != np.trunc(b))) & ~((a == 0) & (b < 0))
    a2, b2 = np.broadcast_arrays(np.where(ok, a, 1.0), b)
    out = np.asarray(_MATH_POW(a2, b2), dtype=np.float64) if a2.size else np.zeros(a2.shape)
    return np.where(ok, out, np.nan)


def _r_uniform(key, a, c, d):
    lo, hi = np.minimum(a[0], a[1]), np.maximum(a[0], a[1])
    return rng.uniform_between(key, lo, hi, *c, draw=d)


def _r_discunif(key, a, c, d):
    lo, hi = np.trunc(a[0]), np.trunc(a[1])
    return rng.discunif(key, np.minimum(lo, hi), np.maximum(lo, hi), *c, draw=d)


def _r_normal(key, a, c, d):
    var = _as_float(a[1])
    if not np.all(var >= 0):
        raise ValueError("normal: the variance must be >= 0")
    return rng.normal(key, a[0], np.sqrt(var), *c, draw=d)


def _r_lognormal(key, a, c, d):
    mean, var = _as_float(a[0]), _as_float(a[1])
    if not (np.all(mean > 0) and np.all(var >= 0)):
        raise ValueError("lognormal: need mean > 0 and variance >= 0")
    m2 = mean * mean
    mu = np.log(m2 / np.sqrt(var + m2))
    sigma = np.sqrt(np.log((var + m2) / m2))
    return rng.lognormal(key, mu, sigma, *c, draw=d)


def _r_negexp(key, a, c, d):
    return rng.exponential(key, a[0], *c, draw=d)


def _r_poisson(key, a, c, d):
    return rng.poisson(key, a[0], *c, draw=d)


def _r_binomial(key, a, c, d):
    return rng.binomial(key, np.trunc(a[0]), a[1], *c, draw=d)


def _r_geometric(key, a, c, d):
    mean = _as_float(a[0])
    if not np.all((mean >= 0) & (mean < 1)):
        raise ValueError("geometric: the argument must be in [0, 1)")
    return rng.geometric(key, 1.0 - mean, *c, draw=d)


def _r_hypergeo(key, a, c, d):
    return rng.hyperexponential(key, a[0], a[1], *c, draw=d)


def _r_erlang(key, a, c, d):
    mean, var = _as_float(a[0]), _as_float(a[1])
    if not (np.all(mean > 0) and np.all(var > 0)):
        raise ValueError("erlang: need mean > 0 and variance > 0")
    k = np.maximum(np.floor(mean * mean / var + 0.5), 1.0)
    return rng.erlang(key, k, mean / k, *c, draw=d)


def _r_weibull(key, a, c, d):
    alpha, beta = _as_float(a[0]), _as_float(a[1])
    if not (np.all(alpha > 0) and np.all(beta >= 0)):
        raise ValueError("weibull: need alpha > 0 and beta >= 0")
    return rng.weibull(key, alpha, beta ** (1.0 / alpha), *c, draw=d)


#: NEURON ``h.Random`` methods NetPyNE exposes: name -> (number of args, sampler).
RANDOM_FUNCTIONS: Mapping[str, tuple[int, Callable]] = {
    "uniform": (2, _r_uniform),
    "discunif": (2, _r_discunif),
    "normal": (2, _r_normal),
    "lognormal": (2, _r_lognormal),
    "negexp": (1, _r_negexp),
    "poisson": (1, _r_poisson),
    "binomial": (2, _r_binomial),
    "geometric": (1, _r_geometric),
    "hypergeo": (2, _r_hypergeo),
    "erlang": (2, _r_erlang),
    "weibull": (2, _r_weibull),
}
