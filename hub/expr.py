"""Safe, vectorised string expressions: NetPyNE's "functions as strings".

NetPyNE lets a spec give a number as a Python expression, e.g. ``'0.1*exp(-dist_3D/200)'`` or
``'defaultDelay + dist_3D/propVelocity'``. NetPyNE turns such text into code by substring
replacement and ``eval``. nethub never runs user text: :func:`compile_expr` parses it with
``ast.parse(text, mode='eval')``, accepts a small whitelist of node types and names, and builds a
tree of small Python closures over numpy ufuncs. An expression is compiled once and evaluated over
whole arrays (millions of candidate pairs) with no per-element Python work.

Accepted constructs
-------------------
numeric constants (``int``, ``float``, ``True``/``False``); variable names from the context's
catalogue plus caller-supplied numeric ``netParams`` attributes; the constants ``pi``, ``e``,
``inf``, ``nan`` (a variable of the same name wins); unary ``+ - not``; binary
``+ - * / // % **``; comparisons ``< <= > >= == !=`` (chains allowed); ``and``/``or`` (Python's
value semantics, elementwise); ``a if c else b`` (``numpy.where``); calls, with positional
arguments only, of the whitelisted functions below. Comparisons yield 1.0/0.0. Everything else
(attributes, subscripts, strings, f-strings, lambdas, comprehensions, ``:=``, keyword arguments,
containers, bitwise operators, ``is``/``in``) raises :class:`~nethub.errors.SpecError` naming the
spec's key path, the offending construct and the valid names. Arithmetic is float64 throughout.
A result that is not finite (division by zero, overflow such as ``10**400``, ``log(0)``, NaN) is
a :class:`~nethub.errors.SpecError` naming the key path and the expression (intermediate
infinities that a ``where``/``min`` removes are fine); callers that want raw values pass
``finite=False`` to :meth:`Expr.evaluate`.

Math functions (numpy, elementwise)
-----------------------------------
``exp expm1 exp2 log log1p log10 log2 sqrt cbrt square sin cos tan asin/arcsin acos/arccos
atan/arctan sinh cosh tanh asinh/arcsinh acosh/arccosh atanh/arctanh degrees/rad2deg
radians/deg2rad abs/fabs/absolute floor ceil trunc int(=trunc) float round/rint sign erf erfc
gamma lgamma isnan isinf isfinite`` (one argument); ``atan2/arctan2 hypot pow/power fmod
remainder/mod copysign fmin fmax`` (two); ``min/minimum max/maximum`` (two or more);
``clip(x, lo, hi)`` and ``where(c, a, b)`` (three).

Random functions (NEURON ``h.Random`` names and parameterisations)
------------------------------------------------------------------
The k-th random call in an expression's text (k = 0, 1, ...) uses draw index k of the stream
given at evaluation, with the caller's counters (e.g. pre and post gids), so two ``uniform()``
calls in one expression are independent, and every value is a pure function of its counters.
Parameterisations follow NEURON's ``src/gnu`` classes exactly:

=========================  ==============================================================
call                       distribution (NEURON ``src/gnu`` semantics) -> :mod:`nethub.rng`
=========================  ==============================================================
``uniform(low, high)``     U[min, max) of the two bounds -> ``uniform_between``
``discunif(low, high)``    integers min..max inclusive, bounds truncated (C ``long``)
                           -> ``discunif``
``normal(mean, var)``      N(mean, var): the 2nd argument is the VARIANCE -> ``normal``
``lognormal(mean, var)``   log-normal whose own mean and variance are given (mean > 0):
                           s2 = log(1 + var/mean**2), mu = log(mean) - s2/2 -> ``lognormal``
``negexp(mean)``           exponential with the given mean -> ``exponential``
``poisson(mean)``          Poisson(mean) -> ``poisson``
``binomial(N, p)``         Binomial(trunc(N), p), 0 <= p <= 1 -> ``binomial``
``geometric(mean)``        NEURON counts uniforms until one is >= ``mean``: P(X = n) =
                           mean**(n-1) (1 - mean), n >= 1, 0 <= mean < 1 -> ``geometric``
``hypergeo(mean, var)``    NOT hypergeometric: NEURON's balanced two-branch hyperexponential
                           with that mean and variance (var >= mean**2) -> ``hyperexponential``
``erlang(mean, var)``      Gamma(k, mean/k), k = max(1, floor(mean**2/var + 0.5)): the mean is
                           exact, the variance is mean**2/k -> ``erlang``
``weibull(alpha, beta)``   (beta * E) ** (1/alpha), E ~ Exp(1): shape alpha, scale
                           beta**(1/alpha) (beta is not the scale) -> ``weibull``
=========================  ==============================================================

Variable catalogues (from NetPyNE 1.1's source)
-----------------------------------------------
:data:`CONN_VARS` for connParams ``weight``, ``delay``, ``probability``, ``convergence``,
``divergence``, ``synsPerConn``, ``loc``; :data:`STIM_VARS` for stimTargetParams;
:data:`SYNMECH_VARS` for synMechParams; :data:`CELL_VARS` for point-cell / population params and
cellParams ``vars``; :data:`SEC_VARS` for section ``geom``/``mechs``/``pointps`` (plus the cell's
own ``vars``); :data:`DENSITY_VARS` for population ``density``. Numeric ``netParams`` attributes
(``sizeX``, ``propVelocity``, ``defaultDelay``, user ones) are extra variables the caller adds.

Where nethub departs from NetPyNE
---------------------------------
- NetPyNE rewrites ``normal`` to ``rand.normal`` by substring replacement, which corrupts names
  containing a function name (``normalWeight``) and picks variables by substring test with
  ``var + 'norm' not in text``, so ``post_y + post_ynorm`` fails; here both work.
- ``dist_norm3D`` / ``dist_norm2D``: NetPyNE computes ``sqrt(dxn**2 + sqrt(dyn) + sqrt(dzn))``
  (square roots of signed differences, NaN when negative); nethub computes the Euclidean distance
  its documentation describes.
- ``validateFunction`` accepts ``asin acos atan atan2 sinh cosh tanh e`` but the runtime
  namespace lacks them (NameError at build time); nethub provides them.
- NetPyNE draws string-function random numbers from one shared generator whose state depends on
  iteration order, so results change with the number of MPI ranks; here they do not.
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import special

from . import rng
from .errors import SpecError

__all__ = [
    "CELL_VARS",
    "CONN_VARS",
    "DENSITY_VARS",
    "MATH_CONSTANTS",
    "MATH_FUNCTIONS",
    "RANDOM_FUNCTIONS",
    "SEC_VARS",
    "STIM_VARS",
    "SYNMECH_VARS",
    "Expr",
    "border_correction",
    "cell_env",
    "compile_expr",
    "conn_env",
]

logger = logging.getLogger(__name__)

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

_BINOPS: dict[type, Callable] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide, ast.Mod: np.mod, ast.Pow: libm_pow,
}  # fmt: skip
_CMPOPS: dict[type, Callable] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}  # fmt: skip
_UNOPS: dict[type, Callable] = {
    ast.UAdd: np.positive, ast.USub: np.negative,
    ast.Not: lambda x: np.logical_not(x).astype(np.float64),
}  # fmt: skip
_OP_TEXT = {
    "MatMult": "'@'", "BitAnd": "'&'", "BitOr": "'|'", "BitXor": "'^'", "LShift": "'<<'",
    "RShift": "'>>'", "Invert": "'~'", "Is": "'is'", "IsNot": "'is not'", "In": "'in'",
    "NotIn": "'not in'",
}  # fmt: skip
_CONSTRUCTS = {
    "Attribute": "an attribute", "Subscript": "subscript", "Lambda": "lambda",
    "JoinedStr": "f-string", "FormattedValue": "f-string",
    "NamedExpr": "assignment expression ':='",
    "ListComp": "comprehension", "SetComp": "comprehension", "DictComp": "comprehension",
    "GeneratorExp": "comprehension", "List": "list literal", "Tuple": "tuple literal",
    "Set": "set literal", "Dict": "dict literal", "Starred": "starred argument",
    "Await": "await", "Yield": "yield", "YieldFrom": "yield", "Slice": "slice",
}  # fmt: skip


class _Ctx:
    """Evaluation context handed to every closure."""

    __slots__ = ("env", "key", "counters", "source")

    def __init__(self, env: dict, key: Any, counters: tuple, source: Any = None) -> None:
        self.env, self.key, self.counters, self.source = env, key, counters, source


class _Node:
    """A compiled sub-expression: a closure ``fn(ctx)``, or a folded constant ``value``."""

    __slots__ = ("fn", "value")

    def __init__(self, fn: Callable | None = None, value: Any = None) -> None:
        self.fn, self.value = fn, value

    @property
    def is_const(self) -> bool:
        return self.fn is None

    def as_fn(self) -> Callable:
        if self.fn is not None:
            return self.fn
        v = self.value
        return lambda ctx: v


class Expr:
    """A compiled expression; build it with :func:`compile_expr`.

    Attributes
    ----------
    text : str
        The source text.
    where : str
        The spec key path the text came from (used in error messages).
    variables : frozenset of str
        Variable names the expression uses (excluding named constants).
    functions : frozenset of str
        Function names it calls.
    n_draws : int
        Number of random calls (draw indices ``0 .. n_draws - 1``).
    """

    __slots__ = ("text", "where", "variables", "functions", "n_draws", "_fn", "_defaults", "_const")

    def __init__(self, text, where, variables, functions, n_draws, node, defaults) -> None:
        self.text, self.where = text, where
        self.variables, self.functions, self.n_draws = variables, functions, n_draws
        self._fn = node.as_fn()
        self._const = None if not node.is_const else float(node.value)
        self._defaults = defaults

    @property
    def is_random(self) -> bool:
        """Whether the expression calls a random function."""
        return self.n_draws > 0

    @property
    def constant(self) -> float | None:
        """The value if the expression is a constant (no variables, no randomness), else None."""
        return self._const

    def __repr__(self) -> str:
        return f"Expr({self.text!r}, where={self.where!r})"

    def evaluate(
        self,
        env: Mapping[str, Any] | None = None,
        rng_key: int | np.uint64 | None = None,
        counters: tuple = (),
        n: int | None = None,
        source: Any = None,
        finite: bool = True,
    ) -> np.ndarray:
        """Evaluate over arrays.

        Parameters
        ----------
        env : mapping of str to array_like, optional
            Values of the variables (arrays broadcastable to ``(n,)``, or scalars); these override
            the defaults given to :func:`compile_expr`.
        rng_key : int or numpy.uint64, optional
            Stream key for the random functions; required when :attr:`is_random`.
        counters : tuple of array_like of int
            Integer counters identifying each element (e.g. ``(pre_gids, post_gids)``).
        n : int, optional
            Length of the result; if omitted the broadcast shape of the operands is returned.
        source : callable, optional
            ``source(name, args, draw)`` supplying the random numbers instead of
            :mod:`nethub.rng` (used to reproduce NetPyNE's NEURON Random123 streams); ``args``
            are the evaluated arguments, ``draw`` the index of the call in the text.
        finite : bool
            Raise :class:`~nethub.errors.SpecError` when a value is inf or NaN (default).

        Returns
        -------
        numpy.ndarray
            ``float64`` values, a fresh array of shape ``(n,)`` when ``n`` is given.
        """
        if self.is_random and source is None and (rng_key is None or not counters):
            raise ValueError(
                f"{self.where}: expression {self.text!r} is random; pass rng_key and counters"
            )
        values = self._resolve(env or {})
        ctx = _Ctx(values, rng_key, tuple(np.asarray(c) for c in counters), source)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(self._fn(ctx), dtype=np.float64)
        except (OverflowError, ZeroDivisionError) as exc:  # math.pow, Python arithmetic
            raise SpecError(f"{self.where}: {self.text!r} overflows ({exc})") from None
        except ValueError as exc:  # invalid random-function parameters, shape mismatches
            raise SpecError(f"{self.where}: cannot evaluate {self.text!r}: {exc}") from exc
        if finite:
            _check_finite(out, self.where, self.text)
        shared = any(np.may_share_memory(out, v) for v in values.values())
        if n is None:
            return out.copy() if shared or out.ndim == 0 else out
        if out.shape == (n,):
            return out.copy() if shared else out
        try:
            return np.array(np.broadcast_to(out, (n,)))
        except ValueError:
            raise ValueError(
                f"{self.where}: result of {self.text!r} has shape {out.shape}, not ({n},)"
            ) from None

    def _resolve(self, env: Mapping[str, Any]) -> dict[str, np.ndarray]:
        values = {}
        for name in self.variables:
            v = env.get(name, self._defaults.get(name))
            if v is None:
                raise SpecError(
                    f"{self.where}: no value for variable '{name}' used in {self.text!r}"
                )
            values[name] = _as_float(v)
        return values


def _check_finite(out: np.ndarray, where: str, text: str) -> None:
    """SpecError when ``out`` holds inf or NaN, saying how many and which kind."""
    bad = ~np.isfinite(out)
    if not bad.any():
        return
    n_bad = int(np.count_nonzero(bad))
    kinds = [k for k, m in (("NaN", np.isnan(out)), ("inf", np.isinf(out))) if m.any()]
    of = f" of {out.size}" if out.ndim else ""
    raise SpecError(
        f"{where}: {text!r} gives {'/'.join(kinds)} for {n_bad}{of} value(s) (division by "
        "zero, overflow or an undefined operation); values must be finite"
    )


class _Compiler:
    """Walks an ``ast`` tree, checking each node and building closures."""

    def __init__(self, text: str, where: str, allowed: Mapping[str, Any]) -> None:
        self.text, self.where, self.allowed = text, where, allowed
        self.variables: set[str] = set()
        self.functions: set[str] = set()
        self.n_draws = 0
        self.depth = 0

    # -- errors -------------------------------------------------------------------------------
    def fail(self, problem: str, node: ast.AST | None = None) -> SpecError:
        col = getattr(node, "col_offset", None)
        at = f" at column {col + 1}" if col is not None else ""
        names = sorted(set(self.allowed) | set(MATH_CONSTANTS))
        funcs = sorted(set(MATH_FUNCTIONS) | set(RANDOM_FUNCTIONS))
        text = self.text if len(self.text) <= 200 else self.text[:200] + "..."
        return SpecError(
            f"{self.where}: {problem}{at} in expression {text!r} "
            f"(valid variables: {', '.join(names)}; valid functions: {', '.join(funcs)})"
        )

    # -- dispatch -----------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail(f"expression nested deeper than {_MAX_DEPTH} levels", node)
        kind = type(node).__name__
        method = getattr(self, "visit_" + kind, None)
        if method is None:
            what = _CONSTRUCTS.get(kind, f"unsupported construct {kind}")
            raise self.fail(f"{what} is not allowed", node)
        out = method(node)
        self.depth -= 1
        return out

    def visit_Attribute(self, node: ast.Attribute) -> _Node:
        raise self.fail(f"attribute access '.{node.attr}' is not allowed", node)

    def visit_Expression(self, node: ast.Expression) -> _Node:
        return self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> _Node:
        v = node.value
        if isinstance(v, (bool, int, float)):
            return _Node(value=np.float64(v))
        kind = "string constant" if isinstance(v, (str, bytes)) else f"constant {v!r}"
        raise self.fail(f"{kind} is not allowed", node)

    def visit_Name(self, node: ast.Name) -> _Node:
        name = node.id
        if name in self.allowed:
            self.variables.add(name)
            return _Node(fn=lambda ctx: ctx.env[name])
        if name in MATH_CONSTANTS:
            return _Node(value=np.float64(MATH_CONSTANTS[name]))
        if name.startswith("__"):
            raise self.fail(f"forbidden name '{name}'", node)
        if name in MATH_FUNCTIONS or name in RANDOM_FUNCTIONS:
            raise self.fail(f"function '{name}' used as a variable (call it: {name}(...))", node)
        raise self.fail(f"unknown variable '{name}'", node)

    # -- operators ----------------------------------------------------------------------------
    def _op(self, op: ast.AST, table: dict) -> Callable:
        f = table.get(type(op))
        if f is None:
            name = type(op).__name__
            raise self.fail(f"operator {_OP_TEXT.get(name, name)} is not allowed", op)
        return f

    def visit_UnaryOp(self, node: ast.UnaryOp) -> _Node:
        f = self._op(node.op, _UNOPS)
        return _apply(f, [self.visit(node.operand)])

    def visit_BinOp(self, node: ast.BinOp) -> _Node:
        f = self._op(node.op, _BINOPS)
        return _apply(f, [self.visit(node.left), self.visit(node.right)])

    def visit_Compare(self, node: ast.Compare) -> _Node:
        ops = [self._op(op, _CMPOPS) for op in node.ops]
        operands = [self.visit(node.left)] + [self.visit(c) for c in node.comparators]

        def chain(*vals: Any) -> np.ndarray:
            out = ops[0](vals[0], vals[1])
            for i in range(1, len(ops)):
                out = np.logical_and(out, ops[i](vals[i], vals[i + 1]))
            return np.asarray(out, dtype=np.float64)

        return _apply(chain, operands)

    def visit_BoolOp(self, node: ast.BoolOp) -> _Node:
        is_and = isinstance(node.op, ast.And)

        def fold(*vals: Any) -> Any:
            out = vals[0]
            for v in vals[1:]:
                out = np.where(out, v, out) if is_and else np.where(out, out, v)
            return out

        return _apply(fold, [self.visit(v) for v in node.values])

    def visit_IfExp(self, node: ast.IfExp) -> _Node:
        body = self.visit(node.body)  # source order: body, test, orelse
        test = self.visit(node.test)
        orelse = self.visit(node.orelse)
        return _apply(lambda b, t, o: np.where(t, b, o), [body, test, orelse])

    # -- calls --------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name):
            what = _CONSTRUCTS.get(type(node.func).__name__, "an expression")
            raise self.fail(f"call of {what} is not allowed (only named functions)", node)
        name = node.func.id
        if name not in MATH_FUNCTIONS and name not in RANDOM_FUNCTIONS:
            kind = "forbidden function" if name.startswith("__") else "unknown function"
            raise self.fail(f"{kind} '{name}'", node)
        if node.keywords:
            kw = node.keywords[0].arg
            what = "'**' argument" if kw is None else f"keyword argument '{kw}='"
            raise self.fail(f"{what} to {name}() is not allowed", node)
        self.functions.add(name)
        if name in RANDOM_FUNCTIONS:
            return self._random_call(name, node)
        f, lo, hi = MATH_FUNCTIONS[name]
        self._check_arity(name, node, lo, hi)
        return _apply(f, [self.visit(a) for a in node.args])

    def _check_arity(self, name: str, node: ast.Call, lo: int, hi: int | None) -> None:
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else (f"{lo} or more" if hi is None else f"{lo}-{hi}")
            raise self.fail(f"{name}() takes {want} argument(s), got {n}", node)

    def _random_call(self, name: str, node: ast.Call) -> _Node:
        nargs, sampler = RANDOM_FUNCTIONS[name]
        self._check_arity(name, node, nargs, nargs)
        draw = self.n_draws  # pre-order: numbered in order of appearance in the text
        self.n_draws += 1
        args = [self.visit(a).as_fn() for a in node.args]

        def call(ctx: _Ctx) -> np.ndarray:
            if ctx.source is not None:
                return ctx.source(name, [a(ctx) for a in args], draw)
            return sampler(ctx.key, [a(ctx) for a in args], ctx.counters, draw)

        return _Node(fn=call)


def _apply(f: Callable, nodes: list[_Node]) -> _Node:
    """Combine child nodes with ``f``; fold to a constant when every child is constant."""
    if all(n.is_const for n in nodes):
        with np.errstate(all="ignore"):
            return _Node(value=f(*(n.value for n in nodes)))
    fns = [n.as_fn() for n in nodes]
    if len(fns) == 1:
        (a,) = fns
        return _Node(fn=lambda ctx: f(a(ctx)))
    if len(fns) == 2:
        a, b = fns
        return _Node(fn=lambda ctx: f(a(ctx), b(ctx)))
    return _Node(fn=lambda ctx: f(*[g(ctx) for g in fns]))


def compile_expr(
    text: str, allowed_vars: set[str] | frozenset[str] | Mapping[str, Any], where: str
) -> Expr:
    """Compile a NetPyNE string expression into a safe, vectorised :class:`Expr`.

    Parameters
    ----------
    text : str
        The expression, e.g. ``'0.1*exp(-dist_3D/200)'``.
    allowed_vars : set of str, or mapping of str to value
        Variable names the context allows (e.g. :data:`CONN_VARS` plus numeric ``netParams``
        attributes). A mapping also gives default values (``None`` for "must be supplied").
    where : str
        The spec key path, e.g. ``"connParams['E->I']['probability']"``, for error messages.

    Returns
    -------
    Expr
        The compiled expression.

    Raises
    ------
    SpecError
        If the text does not parse or uses anything outside the whitelist; the message names
        ``where``, the offending construct or name, and the valid variables and functions.

    Examples
    --------
    >>> import numpy as np
    >>> e = compile_expr("0.1*exp(-dist_3D/200)", CONN_VARS, "connParams['E->I']['weight']")
    >>> e.evaluate({"dist_3D": np.array([0.0, 200.0])}, n=2).round(4).tolist()
    [0.1, 0.0368]
    """
    defaults = dict(allowed_vars) if isinstance(allowed_vars, Mapping) else {}
    allowed = defaults if isinstance(allowed_vars, Mapping) else dict.fromkeys(allowed_vars)
    source = text.strip() if isinstance(text, str) else str(text)
    comp = _Compiler(source, where, allowed)
    if not isinstance(text, str):
        raise comp.fail(f"expected a string expression, got {type(text).__name__}")
    if len(source) > _MAX_LEN:
        raise comp.fail(f"expression longer than {_MAX_LEN} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        detail = "" if exc.msg == "invalid syntax" else f": {exc.msg}"
        raise comp.fail(f"invalid syntax{detail}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise comp.fail(f"cannot parse ({type(exc).__name__}: {exc})") from None
    try:
        node = comp.visit(tree)
    except RecursionError:
        raise comp.fail("expression nested too deeply") from None
    except (OverflowError, ZeroDivisionError) as exc:  # constant folding, e.g. 10**400
        raise comp.fail(f"overflow ({exc})") from None
    return Expr(
        text, where, frozenset(comp.variables), frozenset(comp.functions), comp.n_draws, node,
        defaults,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# NetPyNE contextual variables
# ---------------------------------------------------------------------------------------------
class _Coords:
    """Lazy per-axis columns (``x`` ... ``znorm``) of one side's positions."""

    def __init__(self, xyz: Any, norm: Any, size_xyz: Any) -> None:
        self.xyz = _as_float(xyz)
        self.norm = None if norm is None else _as_float(norm)
        self.size = None if size_xyz is None else _as_float(size_xyz)

    def __getitem__(self, name: str) -> np.ndarray:
        i = _XYZ.index(name[0])
        if not name.endswith("norm"):
            return self.xyz[..., i]
        if self.norm is not None:
            return self.norm[..., i]
        if self.size is None:
            raise ValueError(f"'{name}' needs normalised positions: give either norm or size_xyz")
        return self.xyz[..., i] / self.size[i]


def cell_env(
    xyz: Any, norm: Any = None, size_xyz: Any = None, prefix: str = ""
) -> dict[str, np.ndarray]:
    """Cell location variables (``x``, ..., ``znorm``) for cell, stim or synMech expressions.

    Parameters
    ----------
    xyz : array_like, shape (..., 3)
        Cell positions in um.
    norm : array_like, shape (..., 3), optional
        Normalised positions; computed as ``xyz / size_xyz`` when omitted.
    size_xyz : array_like, shape (3,), optional
        Network size (``netParams.sizeX/Y/Z``); needed only when ``norm`` is omitted.
    prefix : str, optional
        Name prefix: ``''`` for :data:`CELL_VARS`, ``'post_'`` for :data:`STIM_VARS`.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per variable.
    """
    side = _Coords(xyz, norm, size_xyz)
    return {prefix + name: side[name] for name in sorted(CELL_VARS)}


def border_correction(xyz: Any, low: Any, high: Any, threshold: Any) -> np.ndarray:
    """NetPyNE's per-cell ``borderCorrect``: ``max(0, threshold - distance to nearest border)``.

    Parameters
    ----------
    xyz : array_like, shape (..., 3)
        Cell positions in um.
    low, high : array_like, shape (..., 3)
        Borders per axis (NetPyNE: ``correctBorder['xborders']`` times ``sizeX``, else the
        population's ``xRange`` or ``xnormRange * sizeX``, else ``[0, sizeX]``).
    threshold : array_like, shape (3,)
        ``netParams.correctBorder['threshold']``.

    Returns
    -------
    numpy.ndarray
        Corrections of shape ``(..., 3)``.
    """
    xyz = _as_float(xyz)
    dist = np.minimum(np.abs(xyz - _as_float(low)), np.abs(xyz - _as_float(high)))
    return np.maximum(0.0, _as_float(threshold) - dist)


def _dist_vars(pre: _Coords, post: _Coords) -> dict[str, Callable[[], np.ndarray]]:
    d = {c: (lambda c=c: np.abs(pre[c] - post[c])) for c in _XYZ}
    dn = {c: (lambda c=c: np.abs(pre[c + "norm"] - post[c + "norm"])) for c in _XYZ}
    return {
        **{f"dist_{c}": d[c] for c in _XYZ},
        **{f"dist_{c}norm": dn[c] for c in _XYZ},
        "dist_3D": lambda: np.sqrt(_pow2(d["x"]()) + _pow2(d["y"]()) + _pow2(d["z"]())),
        "dist_2D": lambda: np.sqrt(_pow2(d["x"]()) + _pow2(d["z"]())),
        "dist_norm3D": lambda: np.sqrt(dn["x"]() ** 2 + dn["y"]() ** 2 + dn["z"]() ** 2),
        "dist_norm2D": lambda: np.sqrt(dn["x"]() ** 2 + dn["z"]() ** 2),
    }


def conn_env(
    pre_xyz: Any,
    post_xyz: Any,
    pre_norm: Any = None,
    post_norm: Any = None,
    size_xyz: Any = None,
    *,
    post_border: Any = None,
    clip_border: bool = False,
    names: set[str] | frozenset[str] | None = None,
) -> dict[str, np.ndarray]:
    """Connection variables (:data:`CONN_VARS`) for arrays of pre/post cell pairs.

    ``dist_2D`` is in the x-z plane, ``sqrt(dx**2 + dz**2)`` (y is cortical depth); the
    normalised distances are Euclidean, as NetPyNE documents (its code has a bug, see the module
    docstring). ``dist_3D_border`` follows NetPyNE's code (undocumented):
    ``sqrt(sum_i (|d_i| - b_i)**2)`` with ``b`` the post cell's :func:`border_correction`;
    NetPyNE's formula makes pairs closer than ``b_i`` along an axis *farther* apart, and
    ``clip_border=True`` uses ``max(|d_i| - b_i, 0)`` instead.

    Parameters
    ----------
    pre_xyz, post_xyz : array_like, shape (..., 3)
        Positions in um, broadcast together (e.g. ``(n, 3)`` pair arrays, or ``(npre, 1, 3)``
        and ``(1, npost, 3)`` for a grid).
    pre_norm, post_norm : array_like, shape (..., 3), optional
        Normalised positions; ``xyz / size_xyz`` when omitted.
    size_xyz : array_like, shape (3,), optional
        Network size; needed only when a normalised position is omitted.
    post_border : array_like, shape (..., 3), optional
        Post cells' border corrections; zero (``dist_3D_border == dist_3D``) when omitted.
    clip_border : bool, optional
        Clip each corrected axis distance at zero (see above).
    names : set of str, optional
        Compute only these variables (e.g. ``expr.variables``); all of them by default.

    Returns
    -------
    dict of str to numpy.ndarray
        One array per requested variable.
    """
    wanted = CONN_VARS if names is None else frozenset(names) & CONN_VARS
    pre = _Coords(pre_xyz, pre_norm, size_xyz)
    post = _Coords(post_xyz, post_norm, size_xyz)
    lazy: dict[str, Callable[[], np.ndarray]] = {
        **{"pre_" + k: (lambda k=k: pre[k]) for k in CELL_VARS},
        **{"post_" + k: (lambda k=k: post[k]) for k in CELL_VARS},
        **_dist_vars(pre, post),
    }
    border = np.zeros(3) if post_border is None else _as_float(post_border)

    def dist_border() -> np.ndarray:
        total = 0.0
        for i, c in enumerate(_XYZ):
            t = np.abs(pre[c] - post[c]) - border[..., i]
            total = total + _pow2(np.maximum(t, 0.0) if clip_border else t)
        return np.sqrt(total)

    lazy["dist_3D_border"] = dist_border
    return {name: lazy[name]() for name in sorted(wanted)}
