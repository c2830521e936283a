"""NetPyNE's own synapse sharing: ``simConfig.oneSynPerNetcon = False``
(``RunConfig.share_synapses``).

With ``oneSynPerNetcon`` False (NetPyNE's default is True), NetPyNE's ``CompartCell.addSynMech``
reuses a synapse of the same synMech label at exactly the same ``loc`` of the same section of
the cell instead of creating one, for connections and NetStim stimuli alike (stims are made
after the connections, through ``addConn``), whatever the mechanism (linear or not). nethub does
the same, in exact mode as in the default mode, where it applies to the rows synapse merging
(:mod:`nethub.sim.merge`) leaves apart (merging already shares linear synapses by segment).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["share_rows", "SynIndex"]


def share_rows(rep: np.ndarray, free: np.ndarray, cell_row: np.ndarray, mech_codes: np.ndarray,
               sec_codes: np.ndarray, loc: np.ndarray) -> None:
    """Point each row of ``free`` (rows with an object of their own) at the first free row of
    the same (cell, synMech, section, exact loc), in place."""
    idx = np.flatnonzero(free)
    if len(idx) < 2:
        return
    keys = np.column_stack([cell_row[idx].astype(np.int64), mech_codes[idx].astype(np.int64),
                            sec_codes[idx].astype(np.int64),
                            np.ascontiguousarray(loc[idx], dtype=np.float64).view(np.int64)])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rep[idx] = idx[first][inverse.reshape(-1)]


class SynIndex:
    """The synapse objects a NetStim stimulus may reuse: (gid, synMech, section, loc) -> the
    object the connections (then earlier stimuli) made there."""

    def __init__(self) -> None:
        self._objs: dict[tuple, Any] = {}

    def add(self, gid: int, mech: str, sec: str | None, loc: float, obj: Any) -> None:
        self._objs.setdefault((int(gid), mech, sec, float(loc)), obj)

    def get(self, gid: int, mech: str, sec: str | None, loc: float) -> Any:
        return self._objs.get((int(gid), mech, sec, float(loc)))

    def add_connections(self, conns: Any, syn_index: np.ndarray, objects: Any) -> None:
        """Register the first object of each connection group (``objects[k]``: the object of
        ``syn_index`` k, a list or a hoc List)."""
        ids = np.asarray(syn_index)
        has = np.flatnonzero(ids >= 0)
        if not len(has):
            return
        _, first = np.unique(ids[has], return_index=True)
        rows = has[first]
        gids = np.asarray(conns["post_gid"])[rows].tolist()
        mechs = conns["syn_mech"].values()[rows].tolist()
        secs = conns["post_sec"].values()[rows].tolist()
        locs = np.asarray(conns["post_loc"])[rows].tolist()
        get = objects.o if hasattr(objects, "o") else objects.__getitem__
        for g, m, s, x, k in zip(gids, mechs, secs, locs, ids[rows].tolist()):
            self.add(g, m, s, x, get(int(k)))
