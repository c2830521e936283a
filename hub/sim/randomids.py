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
Only the mechanisms nethub rewrote (their NMODL carries :data:`MARKER`) are seeded: another
model's own ``setRandomIds`` keeps its own meaning.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ..errors import SimulationError

__all__ = ["SEED_NAME", "MARKER", "seed_random_sources", "random_ids", "has_random_ids",
           "rewritten_mechanisms"]

logger = logging.getLogger(__name__)

#: the RunConfig seed (``RunConfig.seeds[SEED_NAME]``, a LEMS Simulation's ``seed``) of the streams
SEED_NAME = "lems"
_MAX = 2**32
#: the comment nethub's NEURON-9 rewrite of a random source puts in its NMODL
MARKER = "nethub: NEURON 9 replacement"
_NAME = re.compile(r"^\s*(?:POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)", re.MULTILINE)


def rewritten_mechanisms(mod_files: dict[str, str]) -> set[str]:
    """Names of the point processes whose NMODL is nethub's RANDOM rewrite."""
    out = set()
    for text in mod_files.values():
        if MARKER in text:
            m = _NAME.search(text)
            if m:
                out.add(m.group(1))
    return out


def has_random_ids(obj: Any, mechanisms: set[str]) -> bool:
    """Whether a NEURON object is one of ``mechanisms`` (with a ``RANDOM`` stream to seed)."""
    if not mechanisms or not hasattr(obj, "setRandomIds"):
        return False
    return obj.hname().split("[", 1)[0] in mechanisms


def random_ids(seed: int, gid: int, index: int) -> tuple[int, int, int]:
    """The Random123 ids of source ``index`` of cell ``gid`` (each in 0..2**32-1)."""
    for v, what in ((seed, "seed"), (gid, "gid"), (index, "index")):
        if not 0 <= int(v) < _MAX:
            raise SimulationError(f"random source {what} {v} is out of range 0..2**32-1")
    return int(seed), int(gid), int(index)


def seed_random_sources(cells: dict[int, Any], seed: int, mechanisms: set[str]) -> int:
    """Give every random point process and stimulus of ``cells`` its ids.

    Parameters
    ----------
    cells : dict of int to engine cell
        The rank's cells (objects with ``pointps`` (dict, in creation order), ``point`` and
        ``stims`` (list of ``(rule, object)`` in stim-target row order)).
    seed : int
        The run's seed (:data:`SEED_NAME`).
    mechanisms : set of str
        The point processes to seed (:func:`rewritten_mechanisms` of the model's NMODL).

    Returns
    -------
    int
        How many streams were seeded on this rank.
    """
    n = 0
    if not mechanisms:
        return 0
    for gid, cell in cells.items():
        own = [*cell.pointps.values(), *([cell.point] if cell.point is not None else [])]
        for obj in own:
            if has_random_ids(obj, mechanisms):
                obj.setRandomIds(*random_ids(seed, gid, 0))
                n += 1
        k = 0
        for _rule, obj in cell.stims:
            if has_random_ids(obj, mechanisms):
                obj.setRandomIds(*random_ids(seed, gid, 1 + k))
                k += 1
                n += 1
    if n:
        logger.debug("seeded %d RANDOM streams (seed %d)", n, seed)
    return n
