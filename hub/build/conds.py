"""Vectorized NetPyNE condition matching (``conds``, ``preConds``, ``postConds``) over the cells
table.

NetPyNE's rule (``netpyne.sim.utils.checkConditions``), applied to whole columns at once:

- a list of numbers is an inclusive range ``[min, max]``, except for ``gid``/``cellList`` where it
  is a list of allowed values;
- a list of strings is a set of allowed values;
- anything else must be equal.

A tag the cells do not have never matches (NetPyNE compares against ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np

from ..errors import SpecError
from ..table import Categorical, Ragged, Table

__all__ = ["match_conds", "tag_column"]

_GID_KEYS = ("gid", "cellList", "postGid")


def tag_column(cells: Table, key: str) -> Any:
    """The column holding tag ``key`` (NetPyNE tag names map onto our column names)."""
    if key in cells:
        return cells[key]
    return None


def match_conds(cells: Table, conds: Mapping[str, Any] | None, where: str) -> np.ndarray:
    """Boolean mask of the cells that satisfy every condition in ``conds``."""
    mask = np.ones(len(cells), dtype=bool)
    for key, want in (conds or {}).items():
        mask &= _match_one(cells, key, want, f"{where}['{key}']")
        if not mask.any():
            break
    return mask


def _match_one(cells: Table, key: str, want: Any, where: str) -> np.ndarray:
    n = len(cells)
    col = cells["gid"] if key in _GID_KEYS else tag_column(cells, key)
    if col is None:
        return np.zeros(n, dtype=bool)
    if isinstance(col, Ragged):
        raise SpecError(f"{where}: cannot select cells on list-valued tag '{key}'")
    if isinstance(want, (list, tuple)):
        if not want:
            return np.zeros(n, dtype=bool)
        if isinstance(want[0], Number) and not isinstance(want[0], bool):
            if key in _GID_KEYS:
                return np.isin(col, np.asarray(want))
            if len(want) != 2:
                raise SpecError(f"{where}: a numeric condition is a range [min, max], got {want}")
            if isinstance(col, Categorical):
                return np.zeros(n, dtype=bool)
            return (col >= want[0]) & (col <= want[1])
        if isinstance(want[0], str):
            if not isinstance(col, Categorical):
                return np.zeros(n, dtype=bool)
            codes = [col.code_of(w) for w in want]
            return np.isin(col.codes, [c for c in codes if c >= 0])
        raise SpecError(f"{where}: unsupported condition value {want!r}")
    if isinstance(col, Categorical):
        if not isinstance(want, str):
            return np.zeros(n, dtype=bool)
        code = col.code_of(want)
        return col.codes == code if code >= 0 else np.zeros(n, dtype=bool)
    if isinstance(want, str):
        return np.zeros(n, dtype=bool)
    return col == want
