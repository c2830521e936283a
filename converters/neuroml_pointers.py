"""NeuroML2 electrical and continuous projections -> ``Network.pointer_conns``, as jNeuroML's
NEURON export builds them.

* ``electricalProjection`` (``electricalConnection[Instance][W]``): the gap junction's
  POINT_PROCESS on *both* cells, each reading the other cell's ``v`` through its ``vpeer``
  POINTER (two rows per connection: ``i = weight * conductance * (v - vpeer)`` on each side).
* ``continuousProjection`` (graded / analog synapses): the post component on the post cell
  reading the pre cell's ``v``; the pre component on the pre cell reading the post cell's ``v``,
  except a ``silentSynapse`` (it carries no current, so it is not made).

A connection's weight becomes the mechanism's ``weight`` (NaN, the mechanism's default 1, when
it is 1). Cells sit on section ``soma`` at 0.5 (abstract cells).

Every row is ``live`` (column ``live`` = 1): jNeuroML's NEURON export sets ``vpeer`` with
``h.setpointer``, so the mechanism reads the peer's ``v`` within the step, after an iaf reset
delivered at its start; a ParallelContext transfer (NetPyNE's gap junctions) would give the
value before the reset for one step (docs/neuroml.md). The simulator keeps both cells of a live
row on one rank. jNeuroML's ``POINTER vpeer`` stays a POINTER (``nrn9fix``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["POINTER_SYNAPSES", "pointer_rows"]

#: libNeuroML attributes of the components used by electrical / continuous projections
POINTER_SYNAPSES = ("gap_junctions", "linear_graded_synapses", "graded_synapses",
                    "silent_synapses")


def _block(pre: np.ndarray, post: np.ndarray, mech: str, weight: np.ndarray, rule: str,
           section: str) -> dict[str, Any]:
    """Rows of ``mech`` on the ``post`` cells reading ``v`` of the ``pre`` cells."""
    n = len(pre)
    return {"pre_gid": pre, "pre_sec": [section] * n, "pre_loc": np.full(n, 0.5),
            "post_gid": post, "post_sec": [section] * n, "post_loc": np.full(n, 0.5),
            "syn_mech": [mech] * n, "weight": np.where(weight == 1.0, np.nan, weight),
            "source_var": ["v"] * n, "target_var": ["vpeer"] * n, "rule": [rule] * n,
            "live": np.ones(n, dtype=np.int64)}


def pointer_rows(proj: Any, pre: np.ndarray, post: np.ndarray, kinds: dict[str, str],
                 section: str) -> list[dict[str, Any]]:
    """Row blocks of one electrical or continuous projection.

    Parameters
    ----------
    proj : ProjectionSummary
        ``kind`` ``'electrical'`` or ``'continuous'``.
    pre, post : ndarray of int64
        Gids of each connection's pre and post cell.
    kinds : dict
        ``{component id: libNeuroML class name}`` of the pointer components.
    section : str
        The cells' section.
    """
    w = np.asarray(proj.columns["weight"], dtype=np.float64)
    if proj.kind == "electrical":
        return [_block(post, pre, proj.synapse, w, proj.id, section),
                _block(pre, post, proj.synapse, w, proj.id, section)]
    out = [_block(pre, post, proj.synapse, w, proj.id, section)]
    if proj.pre_component and kinds.get(proj.pre_component) != "SilentSynapse":
        out.append(_block(post, pre, proj.pre_component, w, proj.id, section))
    return out
