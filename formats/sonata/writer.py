"""Write SONATA nodes, edges, type CSVs and configs in a flavour libsonata and BMTK both read.

What the flavour is (each point is something one of the two readers needs):

* ids are uint64; one node/edge group ``0``; ``node_id``, ``node_group_id``,
  ``node_group_index`` written although libsonata does not need them (BMTK does);
* a type CSV for every file, space-separated (BMTK requires one; libsonata ignores it);
* edge indices in both spellings: ``node_id_to_ranges`` (libsonata) and ``node_id_to_range``
  (BMTK-era files) are one dataset hard-linked under both names;
* ``source_node_id`` / ``target_node_id`` carry ``node_population``;
* circuit config entries carry ``populations`` blocks; the simulation config has
  ``run.random_seed`` and names its circuit config under ``network``;
* paths are written relative, through ``$BASE_DIR = "."``: libsonata resolves them against the
  config's folder, BMTK against the working directory, so BMTK is run from the output folder
  (as BMTK's own examples are).

:func:`write_circuit` writes a whole folder atomically (temporary folder + rename).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError
from nethub.store import atomic_path

from .atomic import atomic_dir
from .edges import EdgePopulation
from .groups import check_population_name
from .nodes import NodePopulation
from .nodesets import write_node_sets
from .types import write_types_csv

__all__ = ["write_nodes", "write_edges", "write_circuit", "edge_index", "fill_from_types",
           "SONATA_MAGIC", "default_properties", "simulation_doc", "types_table", "write_json",
           "UNITS"]

SONATA_MAGIC = 0x0A7A
_STR = h5py.string_dtype("utf-8")
#: ``units`` attributes written on the datasets of these attributes (SONATA's units).
UNITS = {"x": "um", "y": "um", "z": "um", "delay": "ms", "afferent_section_pos": "1",
         "sec_x": "1", "rotation_angle_xaxis": "radian", "rotation_angle_yaxis": "radian",
         "rotation_angle_zaxis": "radian"}


def _file_header(f: h5py.File) -> None:
    f.attrs["magic"] = np.uint32(SONATA_MAGIC)
    f.attrs["version"] = np.array([0, 1], np.uint32)


def write_nodes(path: str | os.PathLike[str], populations: Mapping[str, NodePopulation]
                ) -> None:
    """Write node populations to one HDF5 file (atomically); each population's
    ``attributes`` and ``dynamics_params`` go into group ``0``."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _file_header(f)
        root = f.create_group("nodes")
        for name, pop in populations.items():
            grp = root.create_group(check_population_name(name, f"{path}: nodes"))
            n = len(pop)
            grp.create_dataset("node_id", data=_uint64(pop.node_ids, f"nodes {name}.node_id"))
            tids = np.asarray(pop.node_type_ids)
            # -1 (no node type, as libsonata's nodes1.h5 has it) stays a signed id
            grp.create_dataset("node_type_id", data=tids.astype(np.int64) if np.any(tids < 0)
                               else _uint64(tids, f"nodes {name}.node_type_id"))
            grp.create_dataset("node_group_id", data=np.zeros(n, np.uint32))
            grp.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint64))
            _write_group(grp.create_group("0"),
                         fill_from_types(pop.attributes, pop.types, pop.node_type_ids),
                         pop.dynamics_params, f"nodes {name}")


def write_edges(path: str | os.PathLike[str], populations: Mapping[str, EdgePopulation],
                node_counts: Mapping[str, int] | None = None) -> None:
    """Write edge populations to one HDF5 file (atomically), with indices in both spellings.

    ``node_counts`` gives the size of each node population (the index has one entry per
    node); default: the largest id in the edges + 1.
    """
    counts = dict(node_counts or {})
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        _file_header(f)
        root = f.create_group("edges")
        for name, pop in populations.items():
            grp = root.create_group(check_population_name(name, f"{path}: edges"))
            n = len(pop)
            for key, ids, node_pop in (("source_node_id", pop.source_node_ids,
                                        pop.source_population),
                                       ("target_node_id", pop.target_node_ids,
                                        pop.target_population)):
                ds = grp.create_dataset(key, data=_uint64(ids, f"edges {name}.{key}"))
                ds.attrs["node_population"] = node_pop
            grp.create_dataset("edge_type_id", data=_uint64(pop.edge_type_ids,
                                                            f"edges {name}.edge_type_id"))
            grp.create_dataset("edge_group_id", data=np.zeros(n, np.uint32))
            grp.create_dataset("edge_group_index", data=np.arange(n, dtype=np.uint64))
            _write_group(grp.create_group("0"),
                         fill_from_types(pop.attributes, pop.types, pop.edge_type_ids),
                         pop.dynamics_params, f"edges {name}")
            idx = grp.create_group("indices")
            for direction, ids, node_pop in (
                    ("source_to_target", pop.source_node_ids, pop.source_population),
                    ("target_to_source", pop.target_node_ids, pop.target_population)):
                n_nodes = counts.get(node_pop, int(ids.max()) + 1 if len(ids) else 0)
                _write_index(idx.create_group(direction), ids, n_nodes)


def fill_from_types(attributes: pd.DataFrame, types: pd.DataFrame, type_ids: np.ndarray
                    ) -> pd.DataFrame:
    """``attributes`` with its missing values taken from the types table where it has the
    same column (a row whose node group lacked an attribute gets its type's value), so that a
    single-group file keeps what a multi-group population meant (HDF5 wins on reading)."""
    shared = [c for c in attributes.columns
              if c in types.columns and attributes[c].isna().any()]
    if not shared:
        return attributes
    out = attributes.copy()
    typed = types.reindex(np.asarray(type_ids, np.int64))
    for col in shared:
        fill = pd.Series(typed[col].to_numpy(), index=out.index)
        merged = out[col].astype(object).where(out[col].notna(), fill)
        numeric = pd.to_numeric(merged, errors="coerce")
        out[col] = numeric if numeric.notna().sum() == merged.notna().sum() else merged
    return out


def _uint64(values: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.size and (values.dtype.kind not in "iu" or values.min() < 0):
        raise FormatError(f"{where}: ids must be non-negative integers")
    return values.astype(np.uint64)


def _write_group(grp: h5py.Group, attributes: pd.DataFrame, dynamics: pd.DataFrame,
                 where: str) -> None:
    for col in attributes.columns:
        _write_column(grp, str(col), attributes[col], f"{where}.{col}")
    if len(dynamics.columns):
        dyn = grp.create_group("dynamics_params")
        for col in dynamics.columns:
            _write_column(dyn, str(col), dynamics[col], f"{where}.dynamics_params.{col}")


def _write_column(grp: h5py.Group, name: str, values: pd.Series, where: str) -> None:
    if "/" in name or name in (".", ".."):
        raise FormatError(f"{where}: '{name}' cannot be an HDF5 dataset name")
    arr = values.to_numpy()
    if arr.dtype.kind in "iufb":
        ds = grp.create_dataset(name, data=arr)
        if name in UNITS:
            ds.attrs["units"] = UNITS[name]
        return
    texts = values.astype(object).where(values.notna(), "")
    if not all(isinstance(v, str) for v in texts):
        raise FormatError(f"{where}: values must be numbers or strings")
    grp.create_dataset(name, data=np.asarray(texts, dtype=object), dtype=_STR)


def edge_index(ids: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """SONATA's edge index of one direction, vectorized.

    Returns ``(node_id_to_ranges, range_to_edge_id)``: node *i*'s edges are the ranges
    ``node_id_to_ranges[i, 0] : node_id_to_ranges[i, 1]`` of ``range_to_edge_id``, each a
    half-open ``[first, last + 1)`` run of consecutive edge ids. Nodes without edges get
    ``[0, 0]``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and ids.max() >= n_nodes:
        raise FormatError(f"edge index: node id {int(ids.max())} >= node count {n_nodes}")
    if ids.size and np.all(ids[1:] >= ids[:-1]):
        order = np.arange(len(ids))  # already sorted (e.g. edges grouped by target)
    else:
        order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    breaks = np.ones(len(ids), bool)
    breaks[1:] = (sorted_ids[1:] != sorted_ids[:-1]) | (order[1:] != order[:-1] + 1)
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], len(ids))
    ranges = np.stack([order[starts], order[ends - 1] + 1], axis=1).astype(np.uint64)
    range_nodes = sorted_ids[starts]
    node_ranges = np.zeros((n_nodes, 2), np.uint64)
    first = np.searchsorted(range_nodes, np.arange(n_nodes), side="left")
    last = np.searchsorted(range_nodes, np.arange(n_nodes), side="right")
    has = last > first
    node_ranges[has, 0] = first[has]
    node_ranges[has, 1] = last[has]
    return node_ranges, ranges.reshape(-1, 2)


def _write_index(grp: h5py.Group, ids: np.ndarray, n_nodes: int) -> None:
    node_ranges, ranges = edge_index(ids, n_nodes)
    grp.create_dataset("node_id_to_ranges", data=node_ranges)
    grp["node_id_to_range"] = grp["node_id_to_ranges"]
    grp.create_dataset("range_to_edge_id", data=ranges)


def types_table(types: pd.DataFrame, type_ids: np.ndarray) -> pd.DataFrame:
    used = np.unique(np.asarray(type_ids, np.int64))
    if len(types.columns) == 0 and len(types.index) == 0:
        return pd.DataFrame(index=pd.Index(used))
    missing = np.setdiff1d(used, np.asarray(types.index, np.int64))
    if missing.size:
        raise FormatError(f"type ids {missing[:5].tolist()} are used but not in the types table")
    return types


def write_circuit(out_dir: str | os.PathLike[str], nodes: Mapping[str, NodePopulation],
                  edges: Mapping[str, EdgePopulation] | None = None, *,
                  node_sets: Mapping[str, Any] | None = None,
                  components: Mapping[str, str] | None = None,
                  population_properties: Mapping[str, Mapping[str, Any]] | None = None,
                  simulation: Mapping[str, Any] | None = None,
                  overwrite: bool = False) -> Path:
    """Write a SONATA circuit (and optionally a simulation config) into a new folder.

    Layout: ``network/<pop>_nodes.h5`` + ``<pop>_node_types.csv`` per node population,
    ``network/<pop>_edges.h5`` + ``<pop>_edge_types.csv`` per edge population,
    ``node_sets.json``, ``circuit_config.json`` and, when ``simulation`` is given,
    ``simulation_config.json``.

    Parameters
    ----------
    out_dir : path-like
        The folder to create (refused if it exists and is not empty, unless ``overwrite``).
    nodes, edges : mapping
        Population name -> :class:`NodePopulation` / :class:`EdgePopulation`; their
        ``types`` become the type CSVs (a table with just the ids if empty).
    node_sets : mapping, optional
        Contents of ``node_sets.json`` (default: one set per node population).
    components : mapping, optional
        The circuit config's ``components`` (paths relative to ``out_dir``).
    population_properties : mapping, optional
        Population -> its ``populations`` block entry (e.g. ``{"type": "point_neuron"}``);
        default: the ``type`` its nodes' common ``model_type`` implies (BMTK's
        ``point_process`` -> ``point_neuron``).
    simulation : mapping, optional
        Simulation config members (``run``, ``conditions``, ``inputs``, ``reports``,
        ``output``, ...); ``network``, ``node_sets_file``, a ``run.random_seed`` (0) and
        an ``output`` (``output/spikes.h5``, by_time) are filled in when absent.
    overwrite : bool

    Returns
    -------
    Path
        The circuit config (or the simulation config when one was written).
    """
    edges = dict(edges or {})
    props = dict(population_properties or {})
    counts = {name: len(pop) for name, pop in nodes.items()}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, overwrite) as tmp:
        net = tmp / "network"
        net.mkdir()
        node_entries = [_write_node_file(net, name, pop,
                                         props.get(name, default_properties(pop)))
                        for name, pop in nodes.items()]
        edge_entries = [_write_edge_file(net, name, pop, counts, props.get(name, {}))
                        for name, pop in edges.items()]
        write_node_sets(tmp / "node_sets.json", dict(node_sets) if node_sets is not None
                        else {name: {"population": name} for name in nodes})
        circuit = {
            "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network"},
            "components": dict(components or {}),
            "node_sets_file": "$BASE_DIR/node_sets.json",
            "networks": {"nodes": node_entries, "edges": edge_entries},
        }
        write_json(tmp / "circuit_config.json", circuit)
        if simulation is not None:
            write_json(tmp / "simulation_config.json", simulation_doc(simulation))
    return out_dir / ("simulation_config.json" if simulation is not None
                      else "circuit_config.json")


#: BMTK ``model_type`` -> libsonata population ``type``.
_POPULATION_TYPES = {"virtual": "virtual", "point_process": "point_neuron",
                     "point_neuron": "point_neuron", "biophysical": "biophysical"}


def default_properties(pop: NodePopulation) -> dict[str, Any]:
    """``{"type": ...}`` from the population's ``model_type`` when all its nodes share one
    (libsonata takes an untyped population for ``biophysical`` and then demands a
    ``morphologies_dir``); empty otherwise."""
    table = pop.table()
    if "model_type" not in table.columns:
        return {}
    kinds = table["model_type"].dropna().unique()
    if len(kinds) != 1 or str(kinds[0]) not in _POPULATION_TYPES:
        return {}
    return {"type": _POPULATION_TYPES[str(kinds[0])]}


def _write_node_file(net: Path, name: str, pop: NodePopulation, props: Mapping[str, Any]
                     ) -> dict[str, Any]:
    write_nodes(net / f"{name}_nodes.h5", {name: pop})
    write_types_csv(net / f"{name}_node_types.csv", types_table(pop.types, pop.node_type_ids),
                    "node_type_id")
    return {"nodes_file": f"$NETWORK_DIR/{name}_nodes.h5",
            "node_types_file": f"$NETWORK_DIR/{name}_node_types.csv",
            "populations": {name: dict(props)}}


def _write_edge_file(net: Path, name: str, pop: EdgePopulation, counts: Mapping[str, int],
                     props: Mapping[str, Any]) -> dict[str, Any]:
    for end in (pop.source_population, pop.target_population):
        if end not in counts:
            raise FormatError(f"edge population {name!r} refers to node population {end!r}, "
                              f"which is not written (have: {', '.join(counts)})")
    write_edges(net / f"{name}_edges.h5", {name: pop}, counts)
    write_types_csv(net / f"{name}_edge_types.csv", types_table(pop.types, pop.edge_type_ids),
                    "edge_type_id")
    return {"edges_file": f"$NETWORK_DIR/{name}_edges.h5",
            "edge_types_file": f"$NETWORK_DIR/{name}_edge_types.csv",
            "populations": {name: dict(props)}}


def simulation_doc(simulation: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"manifest": {"$BASE_DIR": ".", "$OUTPUT_DIR": "$BASE_DIR/output"},
                           "network": "$BASE_DIR/circuit_config.json",
                           "node_sets_file": "$BASE_DIR/node_sets.json"}
    doc.update({k: v for k, v in simulation.items() if k != "manifest"})
    run = dict(doc.get("run") or {})
    run.setdefault("random_seed", 0)
    run.setdefault("nsteps_block", 5000)  # BMTK 1.2 divides by it (no default of its own)
    doc["run"] = run
    output = {"output_dir": "$OUTPUT_DIR", "spikes_file": "spikes.h5",
              "spikes_sort_order": "by_time"}
    output.update(doc.get("output") or {})
    doc["output"] = output
    return doc


def write_json(path: Path, doc: Mapping[str, Any]) -> None:
    try:
        text = json.dumps(doc, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{path.name}: cannot be written as JSON ({exc})") from exc
    path.write_text(text + "\n", encoding="utf-8")
