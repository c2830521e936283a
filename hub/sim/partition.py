"""Which gids this rank simulates (reads only the store's index and model descriptions).

Every rank computes the same deal from the same store: each cell's estimated work
(:mod:`nethub.sim.distribute`) from its cell type, its number of incoming connections and of
stimulus targets, then contiguous blocks of gids (:func:`nethub.sim.distribute.deal`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from ..celltypes import CompartmentalCell
from ..network import Network
from ..nmodl import DEFAULT_POINT, mod_weight
from ..runconfig import COST_MODELS  # "work": per-mechanism weights; "count": segments + conns
from ..store import read_cell_index, read_network
from .colocate import (
    colocation_pairs,
    group_labels,
    grouped_deal,
    grouped_round_robin,
    largest_group_share,
)
from .distribute import POINT_WEIGHTS, TOLERANCE, cell_costs, count_costs, deal, type_cost
from .exact import round_robin
from .merge import mech_mergeable

__all__ = ["local_gids", "estimate_costs", "COST_MODELS"]

logger = logging.getLogger(__name__)

_DECLARES = re.compile(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_]\w*)")


def local_gids(store: Path, rank: int, nhost: int, model: str = "work",
               exact: bool = False, merging: bool = True, dt: float | None = None
               ) -> np.ndarray:
    """The gids of ``rank``, cost-balanced: one contiguous block, or a few when one block each
    cannot balance (see nethub.sim.distribute); in exact mode NetPyNE's round robin.
    ``merging``: the run merges synapses (``RunConfig.merge_synapses``). Cells linked by live
    pointer connections or (with the run's ``dt``) by connections with a delay below ``dt``
    stay on one rank (:mod:`nethub.sim.colocate`); without such links the deal is unchanged."""
    labels = _group_labels(store, nhost, dt)
    if exact:
        gids = read_cell_index(store)["gids"]
        if labels is None:
            return round_robin(gids, rank, nhost)
        return grouped_round_robin(gids, labels, rank, nhost)
    gids, costs = estimate_costs(store, model, merging)
    if labels is None:
        return gids[deal(costs, nhost)[rank]]
    if rank == 0:
        _log_groups(costs, labels, nhost)
    return gids[grouped_deal(costs, labels, nhost)[rank]]


def _group_labels(store: Path, nhost: int, dt: float | None) -> np.ndarray | None:
    """Co-location groups (:func:`nethub.sim.colocate.group_labels`), or None when no cells
    must share a rank (or there is one rank)."""
    if nhost < 2:
        return None
    a, b = colocation_pairs(store, dt)
    return group_labels(read_cell_index(store)["gids"], a, b) if len(a) else None


def _log_groups(costs: np.ndarray, labels: np.ndarray, nhost: int) -> None:
    n_cells, share = largest_group_share(costs, labels)
    heavy = share > TOLERANCE / nhost
    # a warning when it matters: enough cells to fill the ranks, one group beyond a rank's share
    log = logger.warning if heavy and len(costs) >= 10 * nhost else logger.info
    log("co-location: %d group(s) of cells linked by live pointers or delays below dt stay "
        "on one rank each; the largest (%d cells) carries %.0f%% of the work%s",
        len(np.unique(labels)) - int(np.sum(np.bincount(labels) == 1)), n_cells, 100 * share,
        f", more than a rank's share of {100 / nhost:.0f}%" if heavy else "")


def estimate_costs(store: str | Path, model: str = "work", merging: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted gids of a store and each cell's estimated work per time step.

    With ``model="work"``, connections share synapse objects when the run merges synapses
    (``merging``) and every synMech is mergeable; a cell is then taken to need one object per
    synMech and section at most.
    """
    if model not in COST_MODELS:
        raise ValueError(f"unknown cost model {model!r} (valid: {', '.join(COST_MODELS)})")
    idx = read_cell_index(store)
    if model == "count":
        return idx["gids"], count_costs(idx["n_segments"], idx["n_incoming"])
    net = read_network(store, gids=np.zeros(0, dtype=np.int64))  # model descriptions only
    names, n_stims = idx["cell_type_names"], idx["n_stims"]
    codes = idx["cell_type_codes"].copy()
    codes[codes < 0] = len(names)  # missing cell type: the last slot of the lookups
    sources = _mod_sources(net.mod_files)
    base = np.array([_type_cost(net, n, sources) for n in names] + [1.0])[codes]
    sites = np.array([_syn_sites(net, n) for n in names] + [0])[codes]
    n_in = idx["n_incoming"]
    n_obj = np.minimum(n_in, sites) if _merging(net, merging) else np.where(sites > 0, n_in, 0)
    costs = cell_costs(base, n_in, n_obj, _syn_weight(net, sources), n_stims)
    return idx["gids"], costs


def _type_cost(net: Network, name: str, sources: dict[str, str]) -> float:
    ct = net.cell_types.get(name)
    return 1.0 if ct is None else type_cost(ct, sources.get)


def _syn_sites(net: Network, name: str) -> int:
    """Synapse objects a cell of this type needs when connections share them: one per synMech
    and section (a connection rule puts its synapses at one place per section unless it lists
    several; 0: NetCons target the cell itself, as for artificial cells)."""
    ct = net.cell_types.get(name)
    if not isinstance(ct, CompartmentalCell):
        return 0
    return max(1, len(net.syn_mechs)) * max(1, len(ct.sections))


def _merging(net: Network, merging: bool) -> bool:
    if not merging:
        return False
    return all(mech_mergeable(net, name)[0] for name in net.syn_mechs)


def _syn_weight(net: Network, sources: dict[str, str]) -> float:
    """Mean weight of the synMechs' point processes (one Exp2Syn if there are none)."""
    models = [m.model for m in net.syn_mechs.values() if m.pointer is None]
    if not models:
        return POINT_WEIGHTS["Exp2Syn"]
    return float(np.mean([POINT_WEIGHTS[m] if m in POINT_WEIGHTS else
                          mod_weight(sources.get(m), True) if m in sources else DEFAULT_POINT
                          for m in models]))


def _mod_sources(mod_files: dict[str, str]) -> dict[str, str]:
    """Mechanism name (SUFFIX, POINT_PROCESS, ARTIFICIAL_CELL) → its NMODL source."""
    out = {}
    for text in mod_files.values():
        for name in _DECLARES.findall(text):
            out.setdefault(name, text)
    return out
