"""Per-connection synapse parameters: connections columns ``param.<name>`` (float64).

A row's non-NaN value of ``param.<name>`` is set as ``<name>`` on the synapse object the row's
NetCon drives, after the mechanism's own parameters (``SynMech.params``); NaN keeps the
mechanism's value. This is what stimulation targets' ``param.*`` columns already do for their
sources. A row with any such value keeps a synapse object of its own: synapse merging
(:mod:`nethub.sim.merge`), NetPyNE's ``oneSynPerNetcon=False`` sharing
(:mod:`nethub.sim.synshare`) and NetStim stimuli never share it, so rows with different values
never meet on one object. Such tables take the per-row (Python) connection path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..columns import syn_param_name
from ..errors import SimulationError
from ..table import Table

__all__ = ["columns", "own_rows", "apply", "unshared"]


def columns(conns: Table) -> dict[str, np.ndarray]:
    """``{parameter: float64 values}`` of the ``param.<name>`` columns that set anything."""
    out: dict[str, np.ndarray] = {}
    for col in conns.extra_columns:
        name = syn_param_name(col)
        if name is None:
            continue
        values = conns[col]
        if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
            raise SimulationError(f"connections column '{col}' must be float64 (NaN: the "
                                  "mechanism's value)")
        if not np.all(np.isnan(values)):
            out[name] = values
    return out


def own_rows(conns: Table) -> np.ndarray | None:
    """Rows with at least one synapse parameter of their own, or None when there are none."""
    cols = columns(conns)
    if not cols:
        return None
    return np.any(np.column_stack([~np.isnan(v) for v in cols.values()]), axis=1)


def apply(obj: Any, cols: dict[str, np.ndarray], row: int) -> None:
    """Set row ``row``'s parameter values on the synapse ``obj``."""
    for name, values in cols.items():
        v = values[row]
        if not np.isnan(v):
            try:
                setattr(obj, name, float(v))
            except (AttributeError, LookupError, TypeError) as exc:
                raise SimulationError(f"connection row {row}: cannot set synapse parameter "
                                      f"'{name}' = {v} ({exc})") from exc


def unshared(syn_index: np.ndarray, conns: Table) -> np.ndarray:
    """``syn_index`` with the rows that have own parameters hidden (-1), so that stimuli do
    not reuse their synapses."""
    own = own_rows(conns)
    return syn_index if own is None else np.where(own, -1, syn_index)
