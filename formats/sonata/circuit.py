"""Everything a SONATA import reads, in one object: configs, node and edge populations, the
spike inputs resolved to populations, dynamics_params JSON files and the source documents.

File layer only (no canonical mapping): :mod:`nethub.converters.sonata` maps a
:class:`SonataCircuit` onto a Network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nethub.errors import FormatError

from .clampfiles import FILE_CLAMP_TYPES, ClampWaveform, read_clamp_waveform
from .config import SonataConfig, load_config
from .edges import EdgePopulation, read_edges
from .nodes import NodePopulation, read_nodes
from .nodesets import load_node_sets, resolve_node_set
from .replay import add_replay
from .sources import recorded_documents
from .spikes import SpikePopulation, read_spikes

__all__ = ["SonataCircuit", "read_circuit"]


@dataclass
class SonataCircuit:
    """A SONATA circuit and simulation as read from its files.

    Attributes
    ----------
    config : SonataConfig
    nodes, edges : dict
        Population name -> :class:`NodePopulation` / :class:`EdgePopulation`.
    spike_inputs : dict
        ``spikes`` input name -> {population -> :class:`SpikePopulation`}, the populations
        its ``node_set`` selects (or, as BMTK allows, the population it names).
    other_inputs : dict
        Inputs of other ``input_type`` s, as given.
    point_params, synapse_params : dict
        ``dynamics_params`` file name -> its JSON (None: the file is not there), from the
        ``point_neuron_models_dir`` / ``synaptic_models_dir`` components.
    params_dirs : dict
        ``"point"`` / ``"synapse"`` -> the folder those files were looked for in.
    documents : list of (name, bytes, role)
        The config files (role ``sonata-config``) and type CSVs (``type-table``) verbatim.
    skipped : list of str
        What was read but not taken (for loss reports), e.g. spikes outside an input's node set.
    clamp_waveforms : dict
        Current-clamp input name -> :class:`ClampWaveform` of BMTK's file clamps (``csv``,
        ``file``, ``nwb``, ``allen`` input types).
    trusted : bool
        The user trusts the circuit's code (``hoc:`` templates run only then; read option
        ``trusted`` / ``--trust``).
    """

    config: SonataConfig
    nodes: dict[str, NodePopulation]
    edges: dict[str, EdgePopulation]
    spike_inputs: dict[str, dict[str, SpikePopulation]] = field(default_factory=dict)
    other_inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    point_params: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    synapse_params: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    params_dirs: dict[str, str] = field(default_factory=dict)
    documents: list[tuple[str, bytes, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    node_sets: dict[str, Any] = field(default_factory=dict)
    trusted: bool = False
    clamp_waveforms: dict[str, ClampWaveform] = field(default_factory=dict)

    def select(self, node_set: Any) -> dict[str, np.ndarray]:
        """The nodes a node set (a name, a basic object or a compound list) selects, as
        population -> sorted node ids; as BMTK allows, a bare population name that no node
        set defines selects that population, and ``"all"`` (unless defined) every node."""
        if node_set in (None, "all") and "all" not in self.node_sets:
            return {name: pop.node_ids for name, pop in self.nodes.items()}
        return _input_nodes(node_set, self.node_sets, self.nodes)


def read_circuit(path: str | os.PathLike[str]) -> SonataCircuit:
    """Read a circuit config, simulation config or old BMTK ``config.json`` and every file it
    names that an import needs."""
    cfg = load_config(path)
    if not cfg.nodes:
        beside = [p.name for p in sorted(Path(cfg.path).parent.glob("*.json"))
                  if p.name in ("circuit_config.json", "config.json") and p != Path(cfg.path)]
        hint = f" (beside it: {', '.join(beside)})" if beside else ""
        raise FormatError(f"{cfg.path}: names no node files (networks.nodes); a simulation "
                          f"config names its circuit config with 'network'{hint}")
    nodes: dict[str, NodePopulation] = {}
    for nf in cfg.nodes:
        nodes.update(read_nodes(nf.h5_file, nf.types_file))
    edges: dict[str, EdgePopulation] = {}
    for ef in cfg.edges:
        edges.update(read_edges(ef.h5_file, ef.types_file))
    circ = SonataCircuit(cfg, nodes, edges)
    _read_inputs(circ)
    comps = cfg.components
    circ.params_dirs = {"point": str(comps.get("point_neuron_models_dir", "")),
                        "synapse": str(comps.get("synaptic_models_dir", ""))}
    circ.point_params = _json_files(_column_values(nodes.values(), "dynamics_params"),
                                    circ.params_dirs["point"])
    circ.synapse_params = _json_files(_column_values(edges.values(), "dynamics_params"),
                                      circ.params_dirs["synapse"])
    circ.documents = _documents(cfg)
    return circ


def _read_inputs(circ: SonataCircuit) -> None:
    cfg = circ.config
    sets_file = cfg.node_sets_file
    node_sets = load_node_sets(sets_file) if sets_file else {}
    inline = cfg.data.get("node_sets")
    if isinstance(inline, dict):  # BMTK: a config's own node_sets block, instead of the file
        node_sets = dict(inline)
    circ.node_sets = node_sets
    for name, inp in cfg.inputs.items():
        if inp.get("module") == "replay":
            add_replay(circ, name, inp)
            continue
        if inp.get("input_type") != "spikes":
            circ.other_inputs[name] = inp
            if inp.get("input_type") in FILE_CLAMP_TYPES and inp.get("module") == "IClamp":
                circ.clamp_waveforms[name] = read_clamp_waveform(
                    inp, f"{cfg.path}: inputs.{name}")
            continue
        if "input_file" not in inp:
            raise FormatError(f"{cfg.path}: inputs.{name}: a spikes input needs 'input_file'")
        sel = circ.select(inp.get("node_set", "all"))
        spikes = read_spikes(inp["input_file"], default_population=next(iter(sel), ""))
        circ.spike_inputs[name] = _selected(spikes, sel, circ.nodes, f"inputs.{name}",
                                            circ.skipped)
    _note_shared_populations(circ)


def _selected(spikes: dict[str, SpikePopulation], sel: dict[str, np.ndarray],
              nodes: dict[str, NodePopulation], where: str, skipped: list[str]
              ) -> dict[str, SpikePopulation]:
    """The spikes BMTK 1.2 plays for an input: those of every node of the populations its
    node set selects (``BioNetwork.add_spike_trains`` takes only the node set's population
    names); spikes of nodes outside the node set are played too and noted in ``skipped``,
    spikes of other populations or of nodes that do not exist are not played (noted)."""
    out = {}
    for pop, sp in spikes.items():
        if pop not in sel:
            skipped.append(f"{where}: {len(sp)} spikes of population {pop!r}, which its node "
                           "set does not select, not played")
            continue
        exists = np.isin(sp.node_ids, nodes[pop].node_ids)
        if not exists.all():
            skipped.append(f"{where}: {int((~exists).sum())} spikes of {pop!r} node ids that "
                           "do not exist not played")
        outside = exists & ~np.isin(sp.node_ids, sel[pop])
        if outside.any():
            skipped.append(f"{where}: {int(outside.sum())} spikes of {pop!r} nodes outside its "
                           "node set played, as BMTK 1.2 plays every node of the node set's "
                           "populations")
        if exists.any():
            out[pop] = SpikePopulation(sp.node_ids[exists], sp.timestamps[exists], sp.sorting,
                                       sp.units)
    return out


def _note_shared_populations(circ: SonataCircuit) -> None:
    """BMTK 1.2 connects a virtual population's edges once per spikes input that names it
    and plays only the first input's spikes; nethub plays every input's spikes over one set of
    connections (the SONATA meaning). Noted where the two differ."""
    seen: dict[str, list[str]] = {}
    for name, spikes in circ.spike_inputs.items():
        for pop in spikes:
            seen.setdefault(pop, []).append(name)
    for pop, names in seen.items():
        if len(names) > 1:
            circ.skipped.append(f"inputs {names}: population {pop!r} gets the spikes of all "
                                "of them over one set of connections (BMTK 1.2 would connect "
                                "its edges once per input and play only the first input's "
                                "spikes)")


def _input_nodes(node_set: Any, node_sets: dict, pops: dict) -> dict[str, np.ndarray]:
    """A node set, or (as BMTK allows) a bare population name that no node set defines."""
    if isinstance(node_set, str) and node_set not in node_sets and node_set in pops:
        return {node_set: pops[node_set].node_ids}
    return resolve_node_set(node_set, node_sets, pops)


def _column_values(pops, column: str) -> set[str]:
    """The distinct string values of ``column`` in the populations' type tables and
    attributes (file names of dynamics_params)."""
    out: set[str] = set()
    for pop in pops:
        for frame in (pop.types, pop.attributes):
            if column in frame:
                out.update(v for v in frame[column].dropna().unique() if isinstance(v, str))
    return out


def _json_files(names: set[str], folder: str) -> dict[str, dict[str, Any] | None]:
    out: dict[str, dict[str, Any] | None] = {}
    for name in sorted(names):
        if not name or name == "NONE":
            continue
        path = Path(folder or ".") / name
        if not path.is_file():
            out[name] = None
            continue
        try:
            out[name] = json.loads(path.read_text())
        except ValueError as exc:
            raise FormatError(f"{path}: not valid JSON ({exc})") from None
    return out


def _documents(cfg: SonataConfig) -> list[tuple[str, bytes, str]]:
    types = [nf.types_file for nf in list(cfg.nodes) + list(cfg.edges)
             if nf.types_file is not None]
    recorded = recorded_documents(Path(cfg.path), list(cfg.sources) + types)
    if recorded is not None:  # an unchanged nethub export: the documents it came from
        return recorded
    docs = [(p.name, p.read_bytes(), "sonata-config") for p in cfg.sources]
    docs += [(p.name, p.read_bytes(), "type-table") for p in types]
    return docs
