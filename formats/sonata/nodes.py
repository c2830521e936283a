"""SONATA node files (``/nodes/<population>/...``) -> columnar :class:`NodePopulation` objects.

Read with h5py, vectorized: several populations per file, node groups with different attribute
sets (``node_group_id`` / ``node_group_index``), ``dynamics_params`` subgroups, ``@library``
enumerations, and the node types CSV merged in (HDF5 values win, as the SONATA spec says).
libsonata 0.2.2 cannot open a population with two groups; this reader can.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError

from .groups import read_groups, read_ids
from .types import read_types_csv

__all__ = ["NodePopulation", "read_nodes", "merge_types", "open_h5"]


@dataclass
class NodePopulation:
    """One node population, as columns (row *r* = the *r*-th node in the file).

    Attributes
    ----------
    name : str
        Population name.
    node_ids : ndarray of int64
        ``node_id`` dataset, or ``0..n-1`` where the file has none (the spec's implicit ids).
    node_type_ids : ndarray of int64
        ``node_type_id``, or -1 for every node of a population without one (BBP circuits).
    group_ids, group_indices : ndarray of int64
        ``node_group_id`` / ``node_group_index``.
    attributes : DataFrame
        Attributes from the HDF5 groups, one row per node (NaN / None where a node's group
        lacks the attribute); ``@library`` columns already decoded to strings.
    dynamics_params : DataFrame
        Per-node ``dynamics_params`` members of the HDF5 groups (same row order).
    types : DataFrame
        The node types CSV, indexed by ``node_type_id`` (empty when there is none).
    source : str
        The HDF5 file it was read from.
    skipped : list of str
        Members that could not be read ("file: HDF5 path: reason"), for loss reports.
    """

    name: str
    node_ids: np.ndarray
    node_type_ids: np.ndarray
    group_ids: np.ndarray
    group_indices: np.ndarray
    attributes: pd.DataFrame
    dynamics_params: pd.DataFrame
    types: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.node_ids)

    def table(self) -> pd.DataFrame:
        """Every node's full property set: ``node_id``, ``node_type_id``, the type CSV's
        columns, the HDF5 attributes (winning over the CSV where both have a value) and
        ``dynamics_params.<name>`` columns."""
        return merge_types(self.node_ids, "node_id", self.node_type_ids, "node_type_id",
                           self.types, self.attributes, self.dynamics_params)


def merge_types(ids: np.ndarray, id_name: str, type_ids: np.ndarray, type_name: str,
                types: pd.DataFrame, attributes: pd.DataFrame,
                dynamics: pd.DataFrame) -> pd.DataFrame:
    """Per-row table: ids, type ids, type columns, HDF5 attributes over them (HDF5 wins where
    it has a value), then ``dynamics_params.<name>`` columns."""
    n = len(ids)
    out = pd.DataFrame({id_name: ids, type_name: type_ids}, index=pd.RangeIndex(n))
    if len(types.columns):
        typed = types.reindex(type_ids)
        typed.index = out.index
        out = pd.concat([out, typed], axis=1)
    for col in attributes.columns:
        values = attributes[col]
        if col in out.columns:
            base = out[col]
            if values.notna().all():
                out[col] = values
            else:
                out[col] = values.astype(object).where(values.notna(), base.astype(object))
        else:
            out[col] = values
    for col in dynamics.columns:
        out[f"dynamics_params.{col}"] = dynamics[col]
    return out


def open_h5(path: str | os.PathLike[str]) -> h5py.File:
    """Open an HDF5 file for reading; FormatError naming the file if it is missing/foreign."""
    try:
        return h5py.File(path, "r")
    except FileNotFoundError as exc:
        raise FormatError(f"SONATA file {path} does not exist") from exc
    except OSError as exc:
        raise FormatError(f"{path}: not a readable HDF5 file ({exc})") from exc


def read_nodes(path: str | os.PathLike[str], types_file: str | os.PathLike[str] | None = None,
               populations: Iterable[str] | None = None) -> dict[str, NodePopulation]:
    """Read the node populations of a SONATA nodes file.

    Parameters
    ----------
    path : path-like
        The nodes HDF5 file.
    types_file : path-like, optional
        Its node types CSV (shared by all its populations).
    populations : iterable of str, optional
        Read only these (FormatError naming the ones missing); default all.

    Returns
    -------
    dict
        Population name -> :class:`NodePopulation`, in file order.
    """
    return read_populations(path, "nodes", types_file, populations, _read_population)


def read_populations(path: str | os.PathLike[str], kind: str,
                     types_file: str | os.PathLike[str] | None,
                     populations: Iterable[str] | None,
                     read_one: Callable[[h5py.Group, pd.DataFrame, str], Any]) -> dict[str, Any]:
    """The populations under ``/<kind>`` (``"nodes"`` or ``"edges"``) of a SONATA file, each
    read by ``read_one(group, types, source)`` with the file's type table merged in."""
    id_column = "node_type_id" if kind == "nodes" else "edge_type_id"
    types = read_types_csv(types_file, id_column) if types_file else pd.DataFrame()
    with open_h5(path) as f:
        root = f.get(kind)
        if not isinstance(root, h5py.Group):
            raise FormatError(f"{path}: no /{kind} group (not a SONATA {kind} file)")
        names = _select(list(root), populations, f"{path}: /{kind}")
        return {name: read_one(root[name], types, str(path)) for name in names}


def _select(available: list[str], wanted: Iterable[str] | None, where: str) -> list[str]:
    if wanted is None:
        return available
    wanted = list(wanted)
    missing = [w for w in wanted if w not in available]
    if missing:
        raise FormatError(f"{where} has no population {missing} (has: {', '.join(available)})")
    return wanted


def _read_population(pop: h5py.Group, types: pd.DataFrame, source: str) -> NodePopulation:
    type_ids = read_ids(pop, "node_type_id", required=False)
    if type_ids is None and not has_datasets(pop):
        # libsonata's nodes-B: only empty groups; nothing to count nodes by (libsonata lists
        # the population but cannot open it): an empty population, noted
        name = pop.name.rsplit("/", 1)[-1]
        empty = pd.DataFrame(index=pd.RangeIndex(0))
        none = np.zeros(0, np.int64)
        return NodePopulation(name, none, none, none, none, empty, empty.copy(), types, source,
                              [f"{source}: node population {name!r} has no datasets (no "
                               "node_type_id, node_id, node_group_id or attributes): read "
                               "as 0 nodes"])
    if type_ids is None:  # BBP circuits may have none: every node's properties are per node
        n = _population_size(pop, source)
        type_ids = np.full(n, -1, np.int64)
    n = len(type_ids)
    node_ids = read_ids(pop, "node_id", n, required=False)
    if node_ids is None:
        node_ids = np.arange(n, dtype=np.int64)
    group_ids = read_ids(pop, "node_group_id", n, required=False)
    group_index = read_ids(pop, "node_group_index", n, required=False)
    if group_ids is None or group_index is None:
        only_0 = [k for k in pop if k.isdigit()] == ["0"]
        if group_ids is not None or group_index is not None or (_has_groups(pop)
                                                                 and not only_0):
            raise FormatError(f"{source}: {pop.name} needs both node_group_id and "
                              "node_group_index")
        group_ids = np.zeros(n, np.int64)  # no index: every node in group 0, in order
        group_index = np.arange(n, dtype=np.int64)
        cols = read_groups(pop, group_ids, group_index) if only_0 else None
    else:
        cols = read_groups(pop, group_ids, group_index)
    name = pop.name.rsplit("/", 1)[-1]
    empty = pd.DataFrame(index=pd.RangeIndex(n))
    return NodePopulation(name, node_ids, type_ids, group_ids, group_index,
                          cols.attributes if cols else empty,
                          cols.dynamics_params if cols else empty.copy(), types, source,
                          cols.skipped if cols else [])


def _population_size(pop: h5py.Group, source: str) -> int:
    """The node count of a population without ``node_type_id``: from ``node_id``,
    ``node_group_id``, or its only group's first attribute."""
    for name in ("node_id", "node_group_id"):
        ds = pop.get(name)
        if isinstance(ds, h5py.Dataset) and ds.ndim == 1:
            return int(ds.shape[0])
    groups = [k for k in pop if k.isdigit() and isinstance(pop[k], h5py.Group)]
    if len(groups) == 1:
        for ds in pop[groups[0]].values():
            if isinstance(ds, h5py.Dataset) and ds.ndim == 1:
                return int(ds.shape[0])
    raise FormatError(f"{source}: {pop.name} has no node_type_id, node_id or node_group_id "
                      "to count its nodes by")


def has_datasets(pop: h5py.Group) -> bool:
    """Whether a population group holds any dataset (at any depth)."""
    found: list[str] = []
    pop.visit(lambda name: found.append(name) if isinstance(pop[name], h5py.Dataset) else None)
    return bool(found)


def _has_groups(pop: h5py.Group) -> bool:
    return any(k.isdigit() for k in pop)

