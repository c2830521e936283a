"""Vectorized NetPyNE condition matching (``conds``, ``preConds``, ``postConds``) over the cells
table.

NetPyNE's rule (``netpyne.sim.utils.checkConditions``), applied to whole columns at once:

- a list of numbers is an inclusive range ``[min, max]``, except for ``gid``/``cellList`` where it
  is a list of allowed values;
- a list of strings is a set of allowed values;
- anything else must be equal.

A tag the cells do not have never matches (NetPyNE compares against ``None``). NetPyNE says
nothing then; nethub logs a warning naming the rule, the value and the known values (with a
"did you mean" for a likely typo), since a misspelt population silently connects nothing.

NetPyNE selects the cells of connParams ``preConds``/``postConds`` and stimTargetParams
``conds`` with a different rule (``network/conn.py`` ``_findPrePostCellsCondition``,
``network/stim.py`` ``addStims``), which its documentation states too ("Values can be lists, e.g.
{'pop': ['Exc1', 'Exc2']}. For location properties, the list values correspond to the min and
max values"): with ``selection=True``, the location tags x, y, z, xnorm, ynorm, znorm take a
half-open range ``[min, max)`` (the documentation does not say whether max is included; the code
excludes it) and any other list is a set of allowed values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np

from .errors import SpecError
from .names import close_key
from .table import Categorical, Ragged, Table

__all__ = ["match_conds", "tag_column"]

logger = logging.getLogger(__name__)

_GID_KEYS = ("gid", "cellList", "postGid")
_LOCATION_KEYS = ("x", "y", "z", "xnorm", "ynorm", "znorm")


def tag_column(cells: Table, key: str) -> Any:
    """The column holding tag ``key`` (NetPyNE tag names map onto our column names)."""
    if key in cells:
        return cells[key]
    return None


def match_conds(cells: Table, conds: Mapping[str, Any] | None, where: str, *,
                selection: bool = False) -> np.ndarray:
    """Boolean mask of the cells that satisfy every condition in ``conds``; ``selection``:
    NetPyNE's rule for connection and stimulation targets (see the module docstring)."""
    mask = np.ones(len(cells), dtype=bool)
    for key, want in (conds or {}).items():
        mask &= _match_one(cells, key, want, f"{where}['{key}']", selection)
        if not mask.any():
            break
    return mask


def _match_one(cells: Table, key: str, want: Any, where: str, selection: bool) -> np.ndarray:
    n = len(cells)
    col = cells["gid"] if key in _GID_KEYS else tag_column(cells, key)
    if col is None:
        if n:
            logger.warning("%s: no cell has the tag %r; the condition selects no cells", where,
                           key)
        return np.zeros(n, dtype=bool)
    if isinstance(col, Categorical):
        _warn_unknown(col, want, where)
    if isinstance(col, Ragged):
        raise SpecError(f"{where}: cannot select cells on list-valued tag '{key}'")
    if isinstance(want, (list, tuple)):
        if not want:
            return np.zeros(n, dtype=bool)
        if isinstance(want[0], Number) and not isinstance(want[0], bool):
            if key in _GID_KEYS or (selection and key not in _LOCATION_KEYS):
                return (np.isin(col, np.asarray(want)) if not isinstance(col, Categorical)
                        else np.zeros(n, dtype=bool))
            if len(want) != 2:
                raise SpecError(f"{where}: a numeric condition is a range [min, max], got {want}")
            if isinstance(col, Categorical):
                return np.zeros(n, dtype=bool)
            if selection:
                return (col >= want[0]) & (col < want[1])
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


def _warn_unknown(col: Categorical, want: Any, where: str) -> None:
    """Warn about wanted tag values no cell has (a misspelt pop connects nothing)."""
    wanted = [want] if isinstance(want, str) else [w for w in want if isinstance(w, str)] \
        if isinstance(want, (list, tuple)) else []
    present = {c for c in col.categories if c is not None}
    for w in wanted:
        if w not in present:
            guess = close_key(w, present)
            hint = f"; did you mean {guess!r}?" if guess else ""
            logger.warning("%s: no cell has %r (known: %s)%s; it selects no cells", where, w,
                           ", ".join(sorted(present)) or "none", hint)
