"""The small validation language of the spec catalogue: predicates, combinators (``Leaf``,
``Either``, ``ListOf``, ``DictOf``, ``Record``, ``Choice``), catalogue entries (``Key``/``K``),
the building blocks shared by many keys (``NUM``, ``EXPR``, ``VALUE``, ...) and located findings.

Validation returns findings that start with the key path (e.g.
``"popParams['E']['numCells']: expected non-negative number, got int -5"``); callers decide
whether to raise :class:`~nethub.errors.SpecError` (:func:`problems_error`).
"""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpecError
from ..names import close_key

_UNSET: Any = object()
_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


# --------------------------------------------------------------------------------------------
# predicates
# --------------------------------------------------------------------------------------------


def _is_num(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_fnum(v: Any) -> bool:
    """A finite real number (NaN and infinities are never valid spec values)."""
    return _is_num(v) and bool(np.isfinite(v))


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_bool(v: Any) -> bool:
    # NetPyNE only tests truthiness; its own examples write cfg.createNEURONObj = 1.
    return isinstance(v, (bool, np.bool_)) or (_is_int(v) and v in (0, 1))


def _is_seq(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return v.ndim >= 1
    return isinstance(v, (list, tuple, range))


def _is_jsonable(v: Any) -> bool:
    if v is None or isinstance(v, (str, bool, np.bool_)) or _is_num(v):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "biuf"
    if _is_seq(v):
        return all(_is_jsonable(x) for x in v)
    if isinstance(v, Mapping):
        return all(isinstance(k, str) and _is_jsonable(x) for k, x in dict.items(v))
    return False


def show(v: Any) -> str:
    """Short ``"<type> <repr>"`` rendering of a value for error messages."""
    return f"{type(v).__name__} {_repr.repr(v)}"


def _expected(path: str, desc: str, v: Any) -> str:
    return f"{path}: expected {desc}, got {show(v)}"


def unknown_key_message(key: Any, where: str, valid: Any, hint: str | None = None) -> str:
    """Format ``"unknown key 'x' in <where> (valid: ...); did you mean 'y'?"``."""
    names = sorted(str(k) for k in valid)
    guess = hint or close_key(key, names)
    msg = f"unknown key {key!r} in {where} (valid: {', '.join(names)})"
    return msg + (f"; did you mean {guess!r}?" if guess else "")


# --------------------------------------------------------------------------------------------
# spec combinators
# --------------------------------------------------------------------------------------------


class Spec:
    """Base of the small validation language: ``problems(value, path, complete)``."""

    desc = "value"

    def fits(self, v: Any) -> bool:
        """Whether ``v`` has the right overall shape (used to pick an alternative)."""
        return True

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        """Return located findings for ``v`` (empty when valid)."""
        raise NotImplementedError


class Leaf(Spec):
    """A scalar check: a description and a predicate."""

    def __init__(self, desc: str, pred: Callable[[Any], bool]):
        self.desc, self.pred = desc, pred

    def fits(self, v: Any) -> bool:
        return bool(self.pred(v))

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        return [] if self.pred(v) else [_expected(path, self.desc, v)]


class Either(Spec):
    """Any one of several specs; reports the detailed problems of the one that fits."""

    def __init__(self, *alts: Spec, desc: str | None = None):
        self.alts = alts
        self.desc = desc or " or ".join(a.desc for a in alts)

    def fits(self, v: Any) -> bool:
        return any(a.fits(v) for a in self.alts)

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        fitting = [a for a in self.alts if a.fits(v)]
        results = [a.problems(v, path, complete) for a in fitting]
        if any(not r for r in results):
            return []
        if len(fitting) == 1 and not isinstance(fitting[0], Leaf):
            return results[0]
        return [_expected(path, self.desc, v)]


class ListOf(Spec):
    """A list/tuple/range/1-D array of items, optionally of fixed length."""

    def __init__(self, item: Spec, length: int | None = None, desc: str | None = None):
        self.item, self.length = item, length
        self.desc = desc or f"list of {item.desc}"

    def fits(self, v: Any) -> bool:
        return _is_seq(v)

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        if not _is_seq(v) or (self.length is not None and len(v) != self.length):
            return [_expected(path, self.desc, v)]
        out: list[str] = []
        for i, x in enumerate(v):
            out += self.item.problems(x, f"{path}[{i}]", complete)
        return out


class DictOf(Spec):
    """A dict with free string keys and values of one spec."""

    def __init__(self, value: Spec, desc: str | None = None):
        self.value = value
        self.desc = desc or f"dict of {value.desc}"

    def fits(self, v: Any) -> bool:
        return isinstance(v, Mapping)

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        if not isinstance(v, Mapping):
            return [_expected(path, self.desc, v)]
        out: list[str] = []
        for k, x in dict.items(v) if isinstance(v, dict) else v.items():
            if not isinstance(k, str):
                out.append(f"{path}: keys must be strings, got {show(k)}")
                continue
            out += self.value.problems(x, f"{path}[{k!r}]", complete)
        return out


@dataclass(frozen=True)
class Key:
    """One catalogued key: accepted values, a one-line doc, NetPyNE's default, legacy flag."""

    spec: Spec
    doc: str
    default: Any = _UNSET
    legacy: bool = False

    @property
    def has_default(self) -> bool:
        """Whether NetPyNE initialises this attribute."""
        return self.default is not _UNSET


def K(spec: Spec, doc: str, default: Any = _UNSET, legacy: bool = False) -> Key:
    """Shorthand constructor for :class:`Key`."""
    return Key(spec, doc, default, legacy)


class Record(Spec):
    """A dict with catalogued keys.

    ``extra`` admits free keys (checked with that spec) -- unless a free key looks like a
    misspelling of a catalogued one (difflib ratio >= 0.85), which is reported. ``None`` is
    accepted for any optional key when ``nullable`` (NetPyNE reads rules with ``.get``).
    """

    def __init__(self, keys: dict[str, Key], *, required: tuple[str, ...] = (),
                 extra: Spec | None = None, nullable: bool = True, desc: str = "dict",
                 hints: dict[str, str] | None = None):
        self.keys, self.required, self.extra = keys, required, extra
        self.nullable, self.desc, self.hints = nullable, desc, hints or {}

    def fits(self, v: Any) -> bool:
        return isinstance(v, Mapping)

    def problems(self, v: Any, path: str, complete: bool) -> list[str]:
        if not isinstance(v, Mapping):
            return [_expected(path, self.desc, v)]
        out: list[str] = []
        for k, x in dict.items(v) if isinstance(v, dict) else v.items():
            out += self._key_problems(k, x, path, complete)
        if complete:
            out += [f"{path}: missing required key {k!r}" for k in self.required
                    if not (dict.__contains__(v, k) if isinstance(v, dict) else k in v)]
        return out

    def _key_problems(self, k: Any, x: Any, path: str, complete: bool) -> list[str]:
        sub = f"{path}[{k!r}]"
        if k in self.keys:
            if x is None and self.nullable and k not in self.required:
                return []
            return self.keys[k].spec.problems(x, sub, complete)
        if not isinstance(k, str):
            return [f"{path}: keys must be strings, got {show(k)}"]
        guess = self.hints.get(k) or close_key(k, self.keys, cutoff=0.85)
        if self.extra is not None and guess is None:
            return self.extra.problems(x, sub, complete)
        return [unknown_key_message(k, path, self.keys, guess)]


def Choice(*values: Any) -> Leaf:
    """One of a fixed set of values (compared with their type: 1 is not True)."""
    return Leaf("one of " + ", ".join(repr(x) for x in values),
                lambda v: any(_same(v, x) for x in values))


def _same(v: Any, x: Any) -> bool:
    if isinstance(v, np.ndarray):
        return False
    if isinstance(x, bool):
        return isinstance(v, (bool, np.bool_)) and bool(v) is x
    if isinstance(x, int):
        return _is_int(v) and v == x
    return type(v) is type(x) and v == x


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------

NUM = Leaf("number", _is_fnum)
NONNEG = Leaf("non-negative number", lambda v: _is_fnum(v) and v >= 0)
POS = Leaf("positive number", lambda v: _is_fnum(v) and v > 0)
INT = Leaf("integer", _is_int)
NONNEG_INT = Leaf("non-negative integer", lambda v: _is_int(v) and v >= 0)
FRACTION = Leaf("number between 0 and 1", lambda v: _is_fnum(v) and 0 <= v <= 1)
LOC = Leaf("location between 0 and 1", lambda v: _is_fnum(v) and 0 <= v <= 1)
BOOL = Leaf("boolean", _is_bool)
FALSE = Leaf("False", lambda v: v is False)
STR = Leaf("string", lambda v: isinstance(v, str))
NONE = Leaf("None", lambda v: v is None)
EXPR = Leaf("number or expression string", lambda v: _is_fnum(v) or isinstance(v, str))


def _expr_in(desc: str, pred: Callable[[float], bool]) -> Leaf:
    """A number satisfying ``pred`` or an expression string (checked when evaluated)."""
    return Leaf(f"{desc} or expression string",
                lambda v: isinstance(v, str) or (_is_fnum(v) and bool(pred(v))))


LOC_EXPR = _expr_in("location between 0 and 1", lambda v: 0 <= v <= 1)
NONNEG_EXPR = _expr_in("non-negative number", lambda v: v >= 0)
POS_EXPR = _expr_in("positive number", lambda v: v > 0)
PROB_EXPR = _expr_in("probability between 0 and 1", lambda v: 0 <= v <= 1)
JSON = Leaf("JSON-compatible value", _is_jsonable)
STRS = Either(STR, ListOf(STR), desc="string or list of strings")
NUMS = ListOf(NUM, desc="list of numbers")
RANGE2 = ListOf(NUM, length=2, desc="list of 2 numbers [min, max]")
XYZ = ListOf(NUM, length=3, desc="list of 3 numbers [x, y, z]")
NUM_OR_NUMS = Either(NUM, NUMS, desc="number or list of numbers")
NUM_OR_RANGE = Either(EXPR, RANGE2, desc="number, expression string or [min, max]")
SEQ_VALUES = ListOf(Either(EXPR, ListOf(EXPR)), desc="list of numbers/expressions")
VALUE = Either(EXPR, SEQ_VALUES, desc="number, expression string or list of numbers")


def _value_of(item: Leaf, desc: str) -> Either:
    """A VALUE whose numbers satisfy ``item`` (weight/delay/loc given per synMech)."""
    return Either(item, ListOf(Either(item, ListOf(item))), desc=f"{desc} or list of them")


DELAY_VALUE = _value_of(NONNEG_EXPR, "non-negative delay (ms), expression string")
LOC_VALUE = _value_of(LOC_EXPR, "location between 0 and 1, expression string")
PARAM = Leaf(
    "number, expression string, boolean, None or list of numbers",
    lambda v: v is None or _is_bool(v) or _is_fnum(v) or isinstance(v, str)
    or (_is_seq(v) and all(x is None or _is_fnum(x) or isinstance(x, str) for x in v)),
)
DICT_JSON = DictOf(JSON, desc="dict")


def value_problems(key: Key, value: Any, path: str, complete: bool = True) -> list[str]:
    """Findings for one catalogued top-level attribute."""
    return key.spec.problems(value, path, complete)


def jsonable_problems(value: Any, path: str) -> list[str]:
    """Findings for a free value that must at least be JSON-compatible."""
    return [] if _is_jsonable(value) else [_expected(path, JSON.desc, value)]


def problems_error(what: str, problems: list[str]) -> SpecError:
    """One :class:`SpecError` carrying every finding (a single finding is the message itself)."""
    if len(problems) == 1:
        return SpecError(problems[0])
    lines = "\n  - ".join(problems)
    return SpecError(f"{len(problems)} problems in {what}:\n  - {lines}")
