"""SONATA edge files (``/edges/<population>/...``) -> columnar :class:`EdgePopulation` objects.

Vectorized h5py reads, like :mod:`.nodes`: several populations per file, edge groups with
different attribute sets, ``dynamics_params`` subgroups, ``@library`` enumerations and the edge
types CSV merged in (HDF5 wins). The optional ``indices`` group is recognised in both spellings
(BMTK's ``node_id_to_range`` / ``index_pointer``-era files and libsonata's
``node_id_to_ranges``) and may be absent; the rows themselves are always read in full, so the
index is only reported (:attr:`EdgePopulation.index_spelling`), never needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError

from .groups import read_groups, read_ids
from .nodes import has_datasets, merge_types, read_populations

__all__ = ["EdgePopulation", "read_edges", "INDEX_SPELLINGS"]

#: The names of the node -> ranges dataset in an edge index, libsonata's first.
INDEX_SPELLINGS = ("node_id_to_ranges", "node_id_to_range")


@dataclass
class EdgePopulation:
    """One edge population, as columns (row *r* = edge id *r*).

    Attributes
    ----------
    name : str
    source_population, target_population : str
        The ``node_population`` attributes of ``source_node_id`` / ``target_node_id`` (empty
        when a file lacks them).
    source_node_ids, target_node_ids, edge_type_ids : ndarray of int64
    group_ids, group_indices : ndarray of int64
    attributes, dynamics_params : DataFrame
        Per-edge HDF5 group attributes / ``dynamics_params`` members (NaN / None where an
        edge's group lacks one).
    types : DataFrame
        The edge types CSV, indexed by ``edge_type_id`` (empty when there is none).
    index_spelling : str or None
        ``"node_id_to_ranges"`` or ``"node_id_to_range"`` (the spelling of the file's
        ``indices`` group), or None when it has no index.
    source : str
    skipped : list of str
    ids : ndarray or None
        The file's edge ids of these rows when they are a :meth:`subset` (None: ``0..n-1``).
    """

    name: str
    source_population: str
    target_population: str
    source_node_ids: np.ndarray
    target_node_ids: np.ndarray
    edge_type_ids: np.ndarray
    group_ids: np.ndarray
    group_indices: np.ndarray
    attributes: pd.DataFrame
    dynamics_params: pd.DataFrame
    types: pd.DataFrame = field(default_factory=pd.DataFrame)
    index_spelling: str | None = None
    source: str = ""
    skipped: list[str] = field(default_factory=list)
    ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.source_node_ids)

    @property
    def edge_ids(self) -> np.ndarray:
        """``0..n-1`` (SONATA edge ids are row positions), or the ids of the file's rows a
        :meth:`subset` kept."""
        return np.arange(len(self), dtype=np.int64) if self.ids is None else self.ids

    def subset(self, keep: np.ndarray, source_population: str | None = None
               ) -> EdgePopulation:
        """The edges where ``keep`` is True (their edge ids kept), optionally from another
        source population."""
        rows = np.flatnonzero(keep)
        return EdgePopulation(
            self.name, source_population or self.source_population, self.target_population,
            self.source_node_ids[rows], self.target_node_ids[rows], self.edge_type_ids[rows],
            self.group_ids[rows], self.group_indices[rows],
            self.attributes.iloc[rows].reset_index(drop=True),
            self.dynamics_params.iloc[rows].reset_index(drop=True), self.types,
            self.index_spelling, self.source, list(self.skipped), self.edge_ids[rows])

    def table(self) -> pd.DataFrame:
        """Every edge's full property set: ``edge_id``, ``edge_type_id``,
        ``source_node_id``, ``target_node_id``, the type CSV's columns, HDF5 attributes over
        them (HDF5 wins) and ``dynamics_params.<name>`` columns."""
        out = merge_types(self.edge_ids, "edge_id", self.edge_type_ids, "edge_type_id",
                          self.types, self.attributes, self.dynamics_params)
        out.insert(2, "source_node_id", self.source_node_ids)
        out.insert(3, "target_node_id", self.target_node_ids)
        return out


def read_edges(path: str | os.PathLike[str], types_file: str | os.PathLike[str] | None = None,
               populations: Iterable[str] | None = None) -> dict[str, EdgePopulation]:
    """Read the edge populations of a SONATA edges file.

    Parameters
    ----------
    path : path-like
        The edges HDF5 file.
    types_file : path-like, optional
        Its edge types CSV (shared by all its populations).
    populations : iterable of str, optional
        Read only these; default all.

    Returns
    -------
    dict
        Population name -> :class:`EdgePopulation`, in file order.
    """
    return read_populations(path, "edges", types_file, populations, _read_population)


def _population_attr(pop: h5py.Group, name: str) -> str:
    value = pop[name].attrs.get("node_population", "")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else ""
    return str(value)


def _empty_population(pop: h5py.Group, types: pd.DataFrame, source: str) -> EdgePopulation:
    """libsonata's edges-AC: only empty groups, no source/target ids (libsonata lists the
    population but cannot open it: "Only single-group populations"): 0 edges, noted."""
    name = pop.name.rsplit("/", 1)[-1]
    empty = pd.DataFrame(index=pd.RangeIndex(0))
    none = np.zeros(0, np.int64)
    return EdgePopulation(name, "", "", none, none, none, none, none, empty, empty.copy(),
                          types, None, source,
                          [f"{source}: edge population {name!r} has no datasets (no "
                           "source_node_id, target_node_id or attributes): read as 0 edges"])


def _read_population(pop: h5py.Group, types: pd.DataFrame, source: str) -> EdgePopulation:
    if "source_node_id" not in pop and not has_datasets(pop):
        return _empty_population(pop, types, source)
    src = read_ids(pop, "source_node_id")
    n = len(src)
    tgt = read_ids(pop, "target_node_id", n)
    type_ids = read_ids(pop, "edge_type_id", n, required=False)
    if type_ids is None:
        type_ids = np.full(n, -1, np.int64)
    group_ids = read_ids(pop, "edge_group_id", n, required=False)
    group_index = read_ids(pop, "edge_group_index", n, required=False)
    if group_ids is None or group_index is None:
        if group_ids is not None or group_index is not None:
            raise FormatError(f"{source}: {pop.name} needs both edge_group_id and "
                              "edge_group_index")
        group_ids = np.zeros(n, np.int64)
        group_index = np.arange(n, dtype=np.int64)
    cols = read_groups(pop, group_ids, group_index)
    return EdgePopulation(
        pop.name.rsplit("/", 1)[-1], _population_attr(pop, "source_node_id"),
        _population_attr(pop, "target_node_id"), src, tgt, type_ids, group_ids, group_index,
        cols.attributes, cols.dynamics_params, types, _index_spelling(pop), source,
        cols.skipped)


def _index_spelling(pop: h5py.Group) -> str | None:
    idx = pop.get("indices")
    if not isinstance(idx, h5py.Group):
        return None
    for direction in ("source_to_target", "target_to_source"):
        grp = idx.get(direction)
        if isinstance(grp, h5py.Group):
            for spelling in INDEX_SPELLINGS:
                if spelling in grp:
                    return spelling
    return None
