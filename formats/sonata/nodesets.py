"""SONATA node sets, resolved vectorized to ``{population: node_ids}``.

A node set is

* *basic*: an object whose members all must hold: ``population`` (a name or list),
  ``node_id`` (a list of ids; ``node_ids`` accepted), and any node property (from the HDF5
  groups or the node types CSV) equal to a value or to one of a list of values, or compared
  with ``{"$gt"|"$lt"|"$gte"|"$lte": x}`` / ``{"$regex": pattern}`` (libsonata's operators);
* *compound*: a list of names of other node sets (their union);
* a name, in a simulation config: looked up in the node sets file.

A property a population lacks selects none of its nodes (as libsonata does). Unknown names and
cycles are errors naming the node set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethub.errors import FormatError

from .config import read_json_object
from .nodes import NodePopulation

__all__ = ["load_node_sets", "resolve_node_set", "write_node_sets"]

_OPERATORS = ("$gt", "$lt", "$gte", "$lte", "$regex")
_SPECIAL = ("population", "node_id", "node_ids")


def load_node_sets(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a node sets JSON file (FormatError naming the file if it is not an object)."""
    return read_json_object(path, "node sets file")


def write_node_sets(path: str | os.PathLike[str], node_sets: Mapping[str, Any]) -> None:
    """Write node sets as JSON (plain write; callers inside :mod:`.writer` are atomic)."""
    Path(path).write_text(json.dumps(node_sets, indent=2) + "\n", encoding="utf-8")


def resolve_node_set(node_set: str | Mapping[str, Any] | list[Any],
                     node_sets: Mapping[str, Any],
                     populations: Mapping[str, NodePopulation]) -> dict[str, np.ndarray]:
    """The nodes a node set selects.

    Parameters
    ----------
    node_set : str, dict or list
        A node set name, a basic node set, or a compound list.
    node_sets : mapping
        The node sets file's contents.
    populations : mapping
        Population name -> :class:`NodePopulation` (all node populations of the circuit).

    Returns
    -------
    dict
        Population -> sorted unique node ids (int64), for every population that has any.
    """
    masks = _resolve(node_set, node_sets, populations, (), {})
    return {pop: np.unique(populations[pop].node_ids[m]) for pop, m in masks.items() if m.any()}


def _resolve(expr: Any, node_sets: Mapping[str, Any], pops: Mapping[str, NodePopulation],
             stack: tuple[str, ...], tables: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    if isinstance(expr, str):
        if expr in stack:
            raise FormatError(f"node set {expr!r} includes itself "
                              f"({' -> '.join(stack + (expr,))})")
        if expr not in node_sets:
            raise FormatError(f"unknown node set {expr!r}"
                              + (f" (in {stack[-1]!r})" if stack else "")
                              + f"; defined: {', '.join(sorted(node_sets))}")
        return _resolve(node_sets[expr], node_sets, pops, stack + (expr,), tables)
    if isinstance(expr, list) and expr and all(_is_int(i) for i in expr):
        # BMTK (NodeSet) reads a list of numbers, e.g. a report's "cells": [0, 1], as node ids
        return _resolve({"node_id": expr}, node_sets, pops, stack, tables)
    if isinstance(expr, list):
        out = {name: np.zeros(len(p), bool) for name, p in pops.items()}
        for item in expr:
            for name, mask in _resolve(item, node_sets, pops, stack, tables).items():
                out[name] |= mask
        return out
    if isinstance(expr, Mapping):
        where = stack[-1] if stack else "<node set>"
        return {name: _basic(expr, name, p, tables, where) for name, p in pops.items()}
    raise FormatError(f"node set {stack[-1] if stack else expr!r}: must be an object, a list "
                      f"of names or a name, not {type(expr).__name__}")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _basic(expr: Mapping[str, Any], name: str, pop: NodePopulation,
           tables: dict[str, pd.DataFrame], where: str) -> np.ndarray:
    mask = np.ones(len(pop), bool)
    wanted_pops = expr.get("population")
    if wanted_pops is not None and name not in _as_list(wanted_pops):
        return np.zeros(len(pop), bool)
    for key in ("node_id", "node_ids"):
        if key in expr:
            mask &= np.isin(pop.node_ids, np.asarray(_as_list(expr[key]), dtype=np.int64))
    rest = {k: v for k, v in expr.items() if k not in _SPECIAL}
    if not rest:
        return mask
    if name not in tables:
        tables[name] = pop.table()
    table = tables[name]
    for key, value in rest.items():
        if key not in table.columns:
            return np.zeros(len(pop), bool)
        mask &= _match(table[key], value, f"{where}.{key}")
    return mask


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _match(column: pd.Series, value: Any, where: str) -> np.ndarray:
    if isinstance(value, Mapping):
        mask = np.ones(len(column), bool)
        for op, arg in value.items():
            if op not in _OPERATORS:
                raise FormatError(f"node set {where}: unknown operator {op!r} "
                                  f"(valid: {', '.join(_OPERATORS)})")
            mask &= _operator(column, op, arg, where)
        return mask
    values = _as_list(value)
    return column.isin(values).to_numpy() | _numeric_isin(column, values)


def _numeric_isin(column: pd.Series, values: list[Any]) -> np.ndarray:
    """Numbers written as strings in a CSV (``"1"``) still match ``1`` and vice versa."""
    nums = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna()
    if nums.empty:
        return np.zeros(len(column), bool)
    col = pd.to_numeric(column, errors="coerce")
    return col.isin(nums.to_numpy()).to_numpy()


def _operator(column: pd.Series, op: str, arg: Any, where: str) -> np.ndarray:
    if op == "$regex":
        try:
            pattern = re.compile(str(arg))
        except re.error as exc:
            raise FormatError(f"node set {where}: bad $regex {arg!r} ({exc})") from exc
        return column.astype(str).str.fullmatch(pattern).fillna(False).to_numpy(bool)
    col = pd.to_numeric(column, errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        return {"$gt": col > arg, "$lt": col < arg, "$gte": col >= arg,
                "$lte": col <= arg}[op]
