"""The containers a NetPyNE spec is made of: ``SpecDict`` (a dict with attribute access, NetPyNE's
``Dict``), ``RuleDict`` (one rule family, checked against :mod:`nethub.specs.schema` on
assignment), placeholders of rules still to be imported, and plain-data/file helpers shared by
:class:`~nethub.specs.NetParams` and :class:`~nethub.specs.SimConfig`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..limits import ResourceLimitError, loads_json
from .schema import IMPORT_REQUEST, problems_error, rule_problems, show

__all__ = ["RuleDict", "SpecDict", "MODEL_DIR", "to_plain", "dotify"]

#: Folder of the model file being loaded (set by :mod:`nethub.specs.loader`); relative file names
#: in ``loadCellParamsRule`` and recorded imports are resolved against it.
MODEL_DIR: ContextVar[Path | None] = ContextVar("nethub_specs_model_dir", default=None)


# --------------------------------------------------------------------------------------------
# plain-data helpers
# --------------------------------------------------------------------------------------------


def _items(d: Mapping) -> Iterable[tuple[Any, Any]]:
    """Items of a mapping without going through overridden methods (pending imports)."""
    return dict.items(d) if isinstance(d, dict) else d.items()


def to_plain(v: Any, path: str) -> Any:
    """Deep-convert ``v`` to JSON types (dict/list/str/int/float/bool/None) or raise SpecError."""
    if isinstance(v, Mapping):
        out = {}
        for k, x in _items(v):
            if not isinstance(k, str):
                raise SpecError(f"{path}: keys must be strings, got {show(k)}")
            out[k] = to_plain(x, f"{path}[{k!r}]")
        return out
    if isinstance(v, np.ndarray):
        return to_plain(v.tolist(), path)
    if isinstance(v, (list, tuple, range)):
        return [to_plain(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if v is None or isinstance(v, str):
        return v
    raise SpecError(f"{path}: {show(v)} cannot be stored in a spec (not JSON-compatible)")


def dotify(v: Any) -> Any:
    """Deep copy with every dict turned into a :class:`SpecDict` (NetPyNE's ``Dict.dotify``)."""
    if isinstance(v, Mapping):
        return SpecDict((k, dotify(x)) for k, x in _items(v))
    if isinstance(v, (list, tuple)):
        return type(v)(dotify(x) for x in v)
    return v


class SpecDict(dict):
    """A dict with attribute access that creates missing nested dicts on access.

    This is NetPyNE's ``specs.Dict``: ``d.secs.soma.geom = {...}`` and
    ``d['secs']['soma']['mechs']['hh'] = {...}`` both work on an empty ``SpecDict``.
    """

    __slots__ = ()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self[key] = value

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, str) and key and not key.startswith("_"):
            value = self[key] = self._child(key)
            return value
        raise KeyError(key)

    def _child(self, key: str) -> SpecDict:
        return SpecDict()

    def todict(self) -> dict:
        """Plain-dict copy (NetPyNE name)."""
        return to_plain(self, "dict")

    def rename(self, old: str, new: str, label: Any = None) -> bool:
        """Rename key ``old`` to ``new`` in the dict reached by the key sequence ``label``."""
        obj: Any = self
        for key in label if isinstance(label, (list, tuple)) else ():
            if not isinstance(obj, Mapping) or key not in obj:
                return False
            obj = obj[key]
        if old not in obj:
            return False
        obj[new] = obj.pop(old)
        return True


class _PendingImport(SpecDict):
    """Contents that a recorded import will provide; writes are kept, reads raise SpecError."""

    __slots__ = ("_why",)

    def __init__(self, why: str):
        super().__init__()
        object.__setattr__(self, "_why", why)

    def _child(self, key: str) -> SpecDict:
        return _PendingImport(self._why)

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, str) and key:
            return super().__missing__(key)
        raise SpecError(self._why)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise SpecError(self._why)

    __iter__ = __len__ = __contains__ = keys = values = items = get = _refuse  # type: ignore

    def __reduce__(self) -> tuple:
        return (type(self), (self._why,), None, None, iter(dict.items(self)))


class _PendingRule(SpecDict):
    """A cell rule returned by ``importCellParams``: its sections are a :class:`_PendingImport`."""

    __slots__ = ("_why",)

    def __init__(self, why: str):
        super().__init__()
        object.__setattr__(self, "_why", why)

    def _child(self, key: str) -> SpecDict:
        return _PendingImport(self._why) if key in ("secs", "secLists", "globals") else SpecDict()

    def __reduce__(self) -> tuple:
        return (type(self), (self._why,), None, None, iter(dict.items(self)))


# --------------------------------------------------------------------------------------------
# rule containers
# --------------------------------------------------------------------------------------------


class RuleDict(dict):
    """One rule family (``popParams``, ``connParams``, ...): label -> rule dict.

    Assigning a rule validates it (unknown keys, wrong types) and stores the very object given,
    as NetPyNE does, so later changes made through another reference are kept; those are
    checked by :meth:`NetParams.validate`.
    """

    __slots__ = ("family",)

    def __init__(self, family: str, rules: Mapping | None = None):
        super().__init__()
        object.__setattr__(self, "family", family)
        if rules:
            self.update(rules)

    def __setitem__(self, label: Any, rule: Any) -> None:
        label = _label(label)
        problems = rule_problems(self.family, label, rule, complete=False)
        if problems:
            raise problems_error(f"{self.family}[{label!r}]", problems)
        super().__setitem__(label, rule)

    def __reduce__(self) -> tuple:
        return (RuleDict, (self.family, dict(_items(self))))

    def __getattr__(self, label: str) -> Any:
        if label.startswith("_"):
            raise AttributeError(label)
        try:
            return self[label]
        except KeyError:
            raise AttributeError(f"{self.family} has no rule {label!r}") from None

    def __setattr__(self, label: str, rule: Any) -> None:
        self[label] = rule

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Add rules, validating each (``dict.update`` would bypass validation)."""
        for label, rule in _items(dict(*args, **kwargs)):
            self[label] = rule

    def setdefault(self, label: Any, rule: Any = None) -> Any:  # type: ignore[override]
        """Like ``dict.setdefault``, validating a newly added rule."""
        label = _label(label)
        if label not in self:
            self[label] = {} if rule is None else rule
        return self[label]

    def __ior__(self, other: Any) -> RuleDict:  # type: ignore[override]
        self.update(other)
        return self

    def setParam(self, label: str, param: str, value: Any) -> bool:  # noqa: N802
        """Set ``rule[param] = value`` (NetPyNE API); for pops, drop the other size keys."""
        if label not in self:
            return False
        rule = self[label]
        if self.family == "popParams" and param in ("numCells", "density", "gridSpacing"):
            for other in ("numCells", "density", "gridSpacing"):
                rule.pop(other, None)
        rule[param] = value
        return True

    def rename(self, old: str, new: str, label: Any = None) -> bool:
        """Rename a rule (``label=None``) or a key inside rule ``label[0]`` (NetPyNE API)."""
        if label is None:
            if old not in self:
                return False
            dict.__setitem__(self, _label(new), dict.pop(self, old))
            return True
        return SpecDict.rename(self, old, new, label)

    def problems(self, complete: bool = True) -> list[str]:
        """Findings for every rule in this family."""
        out: list[str] = []
        for label, rule in _items(self):
            pending = self.family == "cellParams" and isinstance(rule, Mapping) and (
                dict.__contains__(rule, "_import") if isinstance(rule, dict)
                else "_import" in rule)
            out += rule_problems(self.family, label, rule, complete and not pending)
            if pending and complete:
                out += IMPORT_REQUEST.problems(rule["_import"],
                                               f"cellParams[{label!r}]['_import']", True)
        return out


def _label(label: Any) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, numbers.Integral) and not isinstance(label, bool):
        return str(label)
    raise SpecError(f"rule labels must be strings, got {show(label)}")


def _get(d: Any, key: str, default: Any = None) -> Any:
    return dict.get(d, key, default) if isinstance(d, dict) else default



def _resolve(file_name: str | os.PathLike, what: str) -> Path:
    """Find a file named relative to the cwd, the model folder or its parent (NetPyNE's root)."""
    path = Path(file_name)
    if path.is_absolute():
        candidates = [path]
    else:
        model_dir = MODEL_DIR.get()
        bases = [Path.cwd()] + ([model_dir, model_dir.parent] if model_dir else [])
        candidates = list(dict.fromkeys(base / path for base in bases))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise SpecError(f"{what}: file {os.fspath(file_name)!r} not found (looked at {looked})")


def _read_json(path: str | os.PathLike) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return loads_json(fh.read(), os.fspath(path))
    except ResourceLimitError as err:
        raise SpecError(str(err)) from None
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {os.fspath(path)}") from None
    except (OSError, ValueError) as err:
        raise SpecError(f"{os.fspath(path)}: not a readable JSON spec ({err})") from err
