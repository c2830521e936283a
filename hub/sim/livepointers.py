"""Live pointer connections: ``pointer_conns`` rows with ``live`` = 1 (NeuroML gap junctions
and graded synapses, as jNeuroML's NEURON export wires them).

The target mechanism's POINTER (``vpeer``) is set with ``h.setpointer`` to the source cell's
variable, so the mechanism reads it live: within a step, after the step's events (an iaf
reset in NET_RECEIVE) and before the currents are computed. A ``ParallelContext``
``source_var``/``target_var`` pair (the other rows, NetPyNE's semantics) copies the value once
per step after the voltage update instead, so a reset is seen one step later. Both cells of a
live row are on one rank (:mod:`nethub.sim.colocate` deals them together), so the results do
not depend on the number of ranks. The mechanism must declare the target as ``POINTER``
(jNeuroML's NMODL does); CoreNEURON refuses such mechanisms ("different MOD file", measured
with NEURON 9.0), so these models run on NEURON (:func:`nethub.nmodl.info.coreneuron_blockers`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SimulationError
from .colocate import LIVE

__all__ = ["live_rows", "set_pointer"]


def live_rows(table) -> np.ndarray:
    """Boolean mask of the live rows of a pointer table (none without the column)."""
    if LIVE not in table:
        return np.zeros(len(table), dtype=bool)
    return np.asarray(table[LIVE]) != 0


def set_pointer(eng: Any, syn: Any, var: str, row: int, pre_gid: int, cols: dict,
                pre_loc: float) -> None:
    """``h.setpointer(pre cell's source variable, var, syn)`` for row ``row`` of the pointer
    table (``cols``: its pre_sec, syn_mech, source_var, target_var values)."""
    where = f"pointer_conns row {row} (live, {cols['syn_mech'][row]!r})"
    cell = eng.cells.get(pre_gid)
    if cell is None:
        raise SimulationError(f"{where}: its source cell {pre_gid} is not on this rank; live "
                              "pointer connections need both cells on one rank "
                              "(nethub.sim.colocate deals them so)")
    sec = cols["pre_sec"][row]
    if sec not in cell.secs:
        raise SimulationError(f"{where}: cell {pre_gid} has no section {sec!r}")
    src = eng._pointer_var(cols, row, "source_var", "v")
    try:
        ref = getattr(cell.secs[sec](pre_loc), "_ref_" + src)
        eng.h.setpointer(ref, var, syn)
    except (AttributeError, LookupError, RuntimeError, TypeError, ValueError) as exc:
        raise SimulationError(f"{where}: cannot point {var!r} at {src!r} of cell {pre_gid} "
                              f"({sec}({pre_loc:g})): {exc}; the mechanism must declare "
                              f"'POINTER {var}'") from exc
