"""Per-instance random streams of point processes written with NEURON 9's ``RANDOM``
construct (nethub's NEURON-9 versions of NeuroML's random spike sources, see
:func:`nethub.formats.neuroml.neuron9_random`).

Such a mechanism exposes ``setRandomIds(id1, id2, id3)``. After the cells and stimuli of a rank
exist, :func:`seed_random_sources` gives every one of them the Random123 ids

* ``(seed, gid, 0)`` for a point process of the cell itself (a population of spike
  generators: the cell *is* the source), in the order of its sections and point processes;
* ``(seed, gid, 1 + k)`` for the ``k``-th random stimulus on cell ``gid`` (stim-target rows
  of that gid, in table order),

with ``seed`` the run's ``lems`` seed. The ids depend on the cell and the row only, never on the
rank, the number of ranks or the order of creation: a run on 1 or N ranks draws the same numbers.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import SimulationError

__all__ = ["SEED_NAME", "seed_random_sources", "random_ids", "has_random_ids"]

logger = logging.getLogger(__name__)

#: the RunConfig seed (``RunConfig.seeds[SEED_NAME]``, a LEMS Simulation's ``seed``) of the streams
SEED_NAME = "lems"
_MAX = 2**32


def has_random_ids(obj: Any) -> bool:
    """Whether a NEURON object has a per-instance ``RANDOM`` stream to seed."""
    return hasattr(obj, "setRandomIds")


def random_ids(seed: int, gid: int, index: int) -> tuple[int, int, int]:
    """The Random123 ids of source ``index`` of cell ``gid`` (each in 0..2**32-1)."""
    for v, what in ((seed, "seed"), (gid, "gid"), (index, "index")):
        if not 0 <= int(v) < _MAX:
            raise SimulationError(f"random source {what} {v} is out of range 0..2**32-1")
    return int(seed), int(gid), int(index)


def seed_random_sources(cells: dict[int, Any], seed: int) -> int:
    """Give every random point process and stimulus of ``cells`` its ids.

    Parameters
    ----------
    cells : dict of int to engine cell
        The rank's cells (objects with ``pointps`` (dict, in creation order), ``point`` and
        ``stims`` (list of ``(rule, object)`` in stim-target row order)).
    seed : int
        The run's seed (:data:`SEED_NAME`).

    Returns
    -------
    int
        How many streams were seeded on this rank.
    """
    n = 0
    for gid, cell in cells.items():
        own = [*cell.pointps.values(), *([cell.point] if cell.point is not None else [])]
        for obj in own:
            if has_random_ids(obj):
                obj.setRandomIds(*random_ids(seed, gid, 0))
                n += 1
        k = 0
        for _rule, obj in cell.stims:
            if has_random_ids(obj):
                obj.setRandomIds(*random_ids(seed, gid, 1 + k))
                k += 1
                n += 1
    if n:
        logger.debug("seeded %d RANDOM streams (seed %d)", n, seed)
    return n
