"""SONATA file layer: bytes <-> native objects, no canonical mapping.

Configs (:func:`load_config`), nodes and edges as columnar populations (:func:`read_nodes`,
:func:`read_edges`), type CSVs, node sets, spikes and element reports are read tolerantly in
both dialects (Allen/BMTK and BBP/libsonata) with vectorized h5py; the writers produce files
that libsonata and BMTK both read. Mapping these objects to and from ``nethub.Network`` is
:mod:`nethub.converters.sonata`'s job. libsonata is not needed by this layer.
"""

from .circuit import SonataCircuit, read_circuit
from .config import NetworkFile, SonataConfig, load_config
from .edges import EdgePopulation, read_edges
from .nodes import NodePopulation, read_nodes
from .nodesets import load_node_sets, resolve_node_set, write_node_sets
from .reports import ReportPopulation, read_report, write_report
from .results import cell_keys, spikes_by_node, write_run_outputs
from .spikes import SpikePopulation, read_spikes, spikes_frame, write_spikes
from .types import read_types_csv, write_types_csv
from .writer import edge_index, write_circuit, write_edges, write_nodes

__all__ = [
    "SonataCircuit", "read_circuit",
    "SonataConfig", "NetworkFile", "load_config",
    "NodePopulation", "read_nodes", "EdgePopulation", "read_edges",
    "read_types_csv", "write_types_csv",
    "load_node_sets", "resolve_node_set", "write_node_sets",
    "SpikePopulation", "read_spikes", "write_spikes", "spikes_frame",
    "ReportPopulation", "read_report", "write_report",
    "cell_keys", "spikes_by_node", "write_run_outputs",
    "write_nodes", "write_edges", "write_circuit", "edge_index",
]
