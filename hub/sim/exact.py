"""Exact mode and the honest default: how faithfully a run reproduces NetPyNE.

nethub's default run is *fast*: linear synapses of one type on one segment share a single point
process (:mod:`nethub.sim.merge`) and the model runs on CoreNEURON when it can
(:mod:`nethub.sim.coreneuron`). Both are exact in real arithmetic, but not in floating point:
a merged synapse adds the weights of its inputs into one state variable, where NetPyNE keeps one
synapse per connection and NEURON adds their currents, so the membrane potential differs by
round-off (~1e-12 mV). In a chaotic network such a difference grows: a spike comes one time step
early and the spike trains part (issue 16: 3,053 spikes against NetPyNE's 3,084). The
statistics of the network (rates, ISI variability, synchrony) stay the same.

*Exact* mode (simConfig ``nethubExact: True``, ``nethub run --exact``) runs with NetPyNE's
semantics and gives NetPyNE's spikes bit for bit:

* one synapse point process per connection (``nethubMergeSynapses = False``);
* NEURON, not CoreNEURON (``nethubCoreneuron = False``);
* NetPyNE's deal of cells over MPI ranks (round robin, gid ``g`` on rank ``g % nhost``), so
  that events from other ranks arrive as they do in NetPyNE (cells that must share a rank,
  which NetPyNE cannot run on several ranks, go to the rank of their group's first gid:
  :mod:`nethub.sim.colocate`).

Every run records which it was in its meta (``exactness``: ``'exact'`` or ``'fast'``, and
``exactness_note``), and a fast run that merged synapses or ran on CoreNEURON says so once in
the log.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["exactness_meta", "round_robin", "FAST_NOTE", "EXACT_NOTE"]

logger = logging.getLogger(__name__)

FAST_NOTE = ("fast mode: merged synapses and CoreNEURON reproduce NetPyNE up to floating-point "
             "round-off, so spike times in chaotic networks can diverge from NetPyNE's while "
             "rates, ISI variability and synchrony agree; run with --exact (simConfig "
             "nethubExact=True) for NetPyNE's spikes bit for bit")
EXACT_NOTE = ("exact mode: one synapse per connection, NEURON, NetPyNE's deal of cells over "
              "ranks (NetPyNE's spikes bit for bit)")
SAME_NOTE = ("fast mode, but no synapse was merged and NEURON ran: NetPyNE's arithmetic "
             "(its spikes bit for bit)")


def round_robin(gids: np.ndarray, rank: int, nhost: int) -> np.ndarray:
    """NetPyNE's deal of cells over ranks: the ``rank``-th of every ``nhost`` gids."""
    return np.asarray(gids)[rank::nhost]


def exactness_meta(exact: bool, merge_report: dict[str, Any] | None, core: bool,
                   log: bool = True) -> dict[str, str]:
    """The run meta entries ``exactness`` and ``exactness_note`` (``exact``:
    ``RunConfig.exact``); logs the note once (INFO) when a fast run may differ from NetPyNE by
    round-off."""
    if exact:
        return {"exactness": "exact", "exactness_note": EXACT_NOTE}
    saved = int((merge_report or {}).get("total_saved", 0))
    if saved == 0 and not core:
        return {"exactness": "fast", "exactness_note": SAME_NOTE}
    if log:
        logger.info("%s (this run: %d synapse object(s) saved by merging, %s)", FAST_NOTE,
                    saved, "CoreNEURON" if core else "NEURON")
    return {"exactness": "fast", "exactness_note": FAST_NOTE}
