"""The plain data a SONATA export produces (:mod:`nethub.converters.sonata_export`) and
:func:`nethub.formats.sonata.export.write_export` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NodesOut", "NodeFileOut", "EdgesOut", "SonataExport"]


@dataclass
class NodesOut:
    """One node population: ids, type ids, HDF5 attributes and per-node dynamics_params."""

    name: str
    node_ids: np.ndarray
    node_type_ids: np.ndarray
    attributes: pd.DataFrame
    dynamics_params: pd.DataFrame
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeFileOut:
    """One nodes HDF5 file: its populations and their node types table (or verbatim CSV)."""

    stem: str
    populations: list[NodesOut]
    types: pd.DataFrame
    types_csv: bytes | None = None
    types_name: str = ""


@dataclass
class EdgesOut:
    """One edge population (written to its own file ``<name>_edges.h5``)."""

    name: str
    source: str
    target: str
    source_ids: np.ndarray
    target_ids: np.ndarray
    edge_type_ids: np.ndarray
    attributes: pd.DataFrame
    types: pd.DataFrame


@dataclass
class SonataExport:
    """Everything a SONATA export writes, as plain data.

    Attributes
    ----------
    node_files : list of NodeFileOut
    edges : list of EdgesOut
    node_sets : dict
        Contents of ``node_sets.json``.
    components : dict
        The circuit config's ``components`` (paths relative to the output folder).
    files : dict
        Relative path -> bytes: dynamics_params JSON, templates, morphologies, .mod files.
    spike_inputs : dict
        Input name -> (relative file, node set name, {population: (node_ids, times_ms)}).
    simulation : dict
        Simulation config members (``run``, ``conditions``, ``inputs``, ``reports``).
    gid_map : DataFrame
        ``gid`` -> ``population``, ``node_id`` (to write a run's spikes keyed by node).
    lost : list of str
    sources : list of (name, role, bytes)
        The store's embedded source documents (``nethub.embedded.SOURCE_ROLES``), in order,
        written back verbatim (:mod:`nethub.formats.sonata.sources`).
    source_tops : list of str
        The exported configs through which a re-import takes ``sources`` back: the
        simulation configs when the documents hold a simulation config, else the circuit's.
    """

    node_files: list[NodeFileOut]
    edges: list[EdgesOut]
    node_sets: dict[str, Any]
    components: dict[str, str]
    files: dict[str, bytes]
    spike_inputs: dict[str, tuple[str, str, dict[str, tuple[np.ndarray, np.ndarray]]]]
    simulation: dict[str, Any]
    gid_map: pd.DataFrame
    lost: list[str] = field(default_factory=list)
    sources: list[tuple[str, str, bytes]] = field(default_factory=list)
    source_tops: list[str] = field(default_factory=list)
