"""BMTK's ``replay`` input as native objects: recorded spikes replayed over an edges file.

A ``{"input_type": "spikes", "module": "replay", "spikes_file": ..., "edges": {"edges_file":
..., "edge_types_file": ...}, "source_node_set": ..., "target_node_set": ...}`` input makes
BMTK (``BioNetwork.build_replay_inputs``) connect, for every edge of that file whose source is
in the source node set and whose target is in the target node set, a *disconnected* virtual
copy of the source node, playing that node's spikes from ``spikes_file``, to the target.
:func:`add_replay` adds the same to a :class:`SonataCircuit`: per edge population a virtual
node population ``<source population>__replay_<input>`` (node ids = the source node ids that
have edges), the kept edges (their edge ids kept; the edge population renamed
``<name>__replay_<input>`` only if the circuit has one of that name) and their spikes as a
spike input. Vectorized (one ``isin`` / ``unique`` per edge population).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nethub.errors import FormatError

from .edges import read_edges
from .nodes import NodePopulation
from .spikes import SpikePopulation, read_spikes

__all__ = ["add_replay", "REPLAY_TYPE_ID"]

#: node_type_id of the replayed virtual nodes (no type CSV row of the circuit uses it)
REPLAY_TYPE_ID = -1


def add_replay(circ: Any, name: str, inp: dict[str, Any]) -> None:
    """Add the replay input ``name`` to the circuit (see the module docstring)."""
    where = f"{circ.config.path}: inputs.{name}"
    edges_cfg = inp.get("edges")
    if not isinstance(edges_cfg, dict) or not isinstance(edges_cfg.get("edges_file"), str):
        raise FormatError(f"{where}: a replay input needs 'edges': {{'edges_file': ...}}")
    if not isinstance(inp.get("spikes_file"), str):
        raise FormatError(f"{where}: a replay input needs 'spikes_file'")
    eps = read_edges(edges_cfg["edges_file"], edges_cfg.get("edge_types_file"))
    spikes = read_spikes(inp["spikes_file"])
    src_sel = circ.select(inp.get("source_node_set", "all"))
    trg_sel = circ.select(inp.get("target_node_set", "all"))
    for ep in eps.values():
        src, tgt = ep.source_population, ep.target_population
        if src not in src_sel or tgt not in trg_sel:
            circ.skipped.append(f"inputs.{name}: edges {ep.name} ({src} -> {tgt}) not replayed "
                                "(outside the source or target node set)")
            continue
        keep = np.isin(ep.source_node_ids, src_sel[src]) & np.isin(ep.target_node_ids,
                                                                   trg_sel[tgt])
        if not keep.any():
            continue
        pop = f"{src}__replay_{name}"
        ids = np.unique(ep.source_node_ids[keep])
        circ.nodes[pop] = _virtual_population(pop, ids, circ.nodes[src].source)
        edge_name = ep.name if ep.name not in circ.edges else f"{ep.name}__replay_{name}"
        sub = ep.subset(keep, source_population=pop)
        sub.name = edge_name
        circ.edges[edge_name] = sub
        sp = spikes.get(src)
        if sp is None:
            circ.skipped.append(f"inputs.{name}: {inp['spikes_file']} has no spikes of "
                                f"population {src!r}; its replayed edges stay silent")
            continue
        mine = np.isin(sp.node_ids, ids)
        circ.spike_inputs[f"{name}:{src}"] = {pop: SpikePopulation(
            sp.node_ids[mine], sp.timestamps[mine], sp.sorting, sp.units)}


def _virtual_population(name: str, ids: np.ndarray, source: str) -> NodePopulation:
    n = len(ids)
    empty = pd.DataFrame(index=pd.RangeIndex(n))
    types = pd.DataFrame({"model_type": ["virtual"]},
                         index=pd.Index([REPLAY_TYPE_ID], name="node_type_id"))
    return NodePopulation(name, ids.astype(np.int64), np.full(n, REPLAY_TYPE_ID, np.int64),
                          np.zeros(n, np.int64), np.arange(n, dtype=np.int64), empty,
                          empty.copy(), types, source)
