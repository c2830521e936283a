"""``compile_expr``: parse an expression with ``ast`` (never ``eval``), accept only the whitelisted
constructs and names, and build a tree of numpy closures evaluated over whole arrays (``Expr``).
Accepted constructs and the departures from NetPyNE: docs/design/expressions.md.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import SpecError
from .functions import (
    _MAX_DEPTH,
    _MAX_LEN,
    MATH_CONSTANTS,
    MATH_FUNCTIONS,
    RANDOM_FUNCTIONS,
    _as_float,
    libm_pow,
)

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
