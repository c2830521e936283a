"""The canonical in-memory network: columnar tables plus typed model descriptions.

No NEURON, mpi4py or matplotlib here (a test enforces it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .celltypes import (
    CellType,
    Population,
    StimSource,
    SynMech,
    _json_equal,
    jsonable,
)
from .table import Categorical, ColumnSpec, Ragged, Table

__all__ = [
    "Network",
    "CELL_COLUMNS",
    "CONN_COLUMNS",
    "POINTER_COLUMNS",
    "STIM_COLUMNS",
    "GID_DTYPE",
    "DRAWS_COLUMN",
    "ROTATION_COLUMN",
    "param_column",
]

GID_DTYPE = np.int64
NAN = float("nan")

#: Optional cells column: rotation of the cell's 3-D points about the y axis (radians), applied
#: when the cell is instantiated (NetPyNE's ``rotateCellsRandomly``).
ROTATION_COLUMN = "rotation_y"
#: Optional cells column: how many NEURON Random123 draws the cell's parameter expressions used
#: (the simulator continues the cell's stream from there, as NetPyNE does).
DRAWS_COLUMN = "cellparams_draws"


def param_column(sec: str, kind: str, *names: str) -> str:
    """Column name of a per-cell section value, e.g. ``param.secs.soma.mechs.hh.gnabar``."""
    return ".".join(("param", "secs", sec, kind, *names))

#: Columns of the cells table (one row per cell, sorted by gid in the store).
CELL_COLUMNS: dict[str, ColumnSpec] = {
    "gid": ColumnSpec("int64", 0, "global cell id, unique"),
    "pop": ColumnSpec("category", None, "population name"),
    "cell_type": ColumnSpec("category", None, "cell type name (key of Network.cell_types)"),
    "x": ColumnSpec("float64", 0.0, "soma position, µm"),
    "y": ColumnSpec("float64", 0.0, "soma position, µm"),
    "z": ColumnSpec("float64", 0.0, "soma position, µm"),
    "xnorm": ColumnSpec("float64", NAN, "x normalised to the network size (NaN if unknown)"),
    "ynorm": ColumnSpec("float64", NAN, "y normalised to the network size"),
    "znorm": ColumnSpec("float64", NAN, "z normalised to the network size"),
    "source_format": ColumnSpec("category", None, "format the cell came from (netpyne, ...)"),
    "source_pop": ColumnSpec("category", None, "population name in the source"),
    "source_id": ColumnSpec("int64", -1, "id of the cell in its source population/file"),
}

#: Columns of the connections table (one row per NetCon; sorted by post gid in the store).
CONN_COLUMNS: dict[str, ColumnSpec] = {
    "pre_gid": ColumnSpec("int64", -1, "presynaptic gid"),
    "post_gid": ColumnSpec("int64", -1, "postsynaptic gid"),
    "syn_mech": ColumnSpec("category", None, "synaptic mechanism (key of Network.syn_mechs)"),
    "post_sec": ColumnSpec("category", None, "postsynaptic section name"),
    "post_loc": ColumnSpec("float64", 0.5, "location on the postsynaptic section, 0..1"),
    "weight": ColumnSpec("float64", 0.0, "NetCon weight[0]"),
    "delay": ColumnSpec("float64", 1.0, "NetCon delay, ms"),
    "pre_sec": ColumnSpec("category", None, "presynaptic section of the spike source"),
    "pre_loc": ColumnSpec("float64", NAN, "presynaptic location (NaN: the cell's spike source)"),
    "threshold": ColumnSpec("float64", NAN, "spike threshold (NaN: the cell type's)"),
    "rule": ColumnSpec("category", None, "label of the rule that made the connection"),
    "plast": ColumnSpec("category", None, "plasticity spec as canonical JSON (missing: none)"),
}

#: Pointer connections: gap junctions and graded synapses (one row per target mechanism).
POINTER_COLUMNS: dict[str, ColumnSpec] = {
    "pre_gid": ColumnSpec("int64", -1, "gid whose variable is read"),
    "pre_sec": ColumnSpec("category", None, "section of the source variable"),
    "pre_loc": ColumnSpec("float64", 0.5, "location of the source variable"),
    "post_gid": ColumnSpec("int64", -1, "gid holding the target mechanism"),
    "post_sec": ColumnSpec("category", None, "section of the target mechanism"),
    "post_loc": ColumnSpec("float64", 0.5, "location of the target mechanism"),
    "syn_mech": ColumnSpec("category", None, "mechanism (key of Network.syn_mechs)"),
    "weight": ColumnSpec("float64", NAN, "conductance/weight parameter (NaN: mechanism's)"),
    "source_var": ColumnSpec("category", None, "source variable, e.g. 'v'"),
    "target_var": ColumnSpec("category", None, "target POINTER variable, e.g. 'vpeer'"),
    "rule": ColumnSpec("category", None, "label of the rule that made it"),
}

#: Stimulation targets (one row per stimulus object on a cell).
STIM_COLUMNS: dict[str, ColumnSpec] = {
    "source": ColumnSpec("category", None, "stim source name (key of Network.stim_sources)"),
    "gid": ColumnSpec("int64", -1, "target gid"),
    "sec": ColumnSpec("category", None, "target section"),
    "loc": ColumnSpec("float64", 0.5, "target location"),
    "syn_mech": ColumnSpec("category", None, "synapse driven by a NetStim/VecStim source"),
    "weight": ColumnSpec("float64", NAN, "NetCon weight for spike sources"),
    "delay": ColumnSpec("float64", NAN, "NetCon delay for spike sources"),
    "rule": ColumnSpec("category", None, "label of the stimTarget rule"),
}

TABLE_SCHEMAS = {
    "cells": CELL_COLUMNS,
    "connections": CONN_COLUMNS,
    "pointer_conns": POINTER_COLUMNS,
    "stim_targets": STIM_COLUMNS,
}


def _as_table(value: Table | Mapping | pd.DataFrame | None, schema) -> Table:
    if value is None:
        return Table(schema=schema)
    if isinstance(value, Table):
        if value.schema != schema:
            return Table(value.columns, schema, n=len(value))
        return value
    if isinstance(value, pd.DataFrame):
        cols = {}
        for k in value.columns:
            s = value[k]
            if isinstance(s.dtype, pd.CategoricalDtype):
                cols[k] = Categorical(s.cat.codes.to_numpy(), [str(c) for c in s.cat.categories])
            elif s.dtype == object and len(s) and isinstance(s.iloc[0], (list, np.ndarray)):
                cols[k] = Ragged.from_lists(list(s))
            elif s.dtype == object or isinstance(s.dtype, pd.StringDtype):  # missing → None
                cols[k] = np.where(s.isna().to_numpy(), None, s.to_numpy(dtype=object))
            else:
                cols[k] = s.to_numpy()
        return Table(cols, schema, n=len(value))
    return Table(dict(value), schema)


@dataclass(eq=False)
class Network:
    """A network model and instance in nethub's canonical form.

    Attributes
    ----------
    cell_types : dict of str to CellType
    syn_mechs : dict of str to SynMech
    populations : dict of str to Population
    stim_sources : dict of str to StimSource
    cells, connections, pointer_conns, stim_targets : Table
        Columnar tables; see ``CELL_COLUMNS``, ``CONN_COLUMNS``, ``POINTER_COLUMNS``,
        ``STIM_COLUMNS``. Extra columns are allowed (per-cell parameters, tags, ...).
    spec : dict or None
        The original high-level spec ``{'netParams': ..., 'simConfig': ...}``.
    mod_files : dict of str to str
        NMODL sources the model needs, by file name, and the files they INCLUDE (``.inc``,
        ``.h``) by their path relative to the ``.mod`` file's folder.
    params : dict
        Network-wide parameters (e.g. ``sizeX``, ``defaultThreshold``, ``celsius``).
    provenance : dict
        Where the network came from (creator, source files, conversion notes).
    rxd : dict or None
        Reaction-diffusion specification, kept as given.
    """

    cell_types: dict[str, CellType] = field(default_factory=dict)
    syn_mechs: dict[str, SynMech] = field(default_factory=dict)
    populations: dict[str, Population] = field(default_factory=dict)
    stim_sources: dict[str, StimSource] = field(default_factory=dict)
    cells: Table = None  # type: ignore[assignment]
    connections: Table = None  # type: ignore[assignment]
    pointer_conns: Table = None  # type: ignore[assignment]
    stim_targets: Table = None  # type: ignore[assignment]
    spec: dict[str, Any] | None = None
    mod_files: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    rxd: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        for name, schema in TABLE_SCHEMAS.items():
            setattr(self, name, _as_table(getattr(self, name), schema))

    # ------------------------------------------------------------------ views
    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_connections(self) -> int:
        return len(self.connections)

    @property
    def gids(self) -> np.ndarray:
        return self.cells["gid"]  # type: ignore[return-value]

    def cells_df(self) -> pd.DataFrame:
        """The cells table as a pandas DataFrame."""
        return self.cells.to_pandas()

    def connections_df(self) -> pd.DataFrame:
        """The connections table as a pandas DataFrame."""
        return self.connections.to_pandas()

    def pop_gids(self, pop: str) -> np.ndarray:
        """The gids of population ``pop``."""
        col = self.cells["pop"]
        return self.gids[col.codes == col.code_of(pop)]  # type: ignore[union-attr]

    def summary(self) -> dict[str, Any]:
        """Counts per population and cell type (what ``nethub info`` prints)."""
        pops = {}
        pop_col: Categorical = self.cells["pop"]  # type: ignore[assignment]
        counts = np.bincount(pop_col.codes[pop_col.codes >= 0], minlength=len(pop_col.categories))
        for name, n in zip(pop_col.categories, counts):
            p = self.populations.get(name)
            pops[name] = {"cells": int(n), "cell_type": p.cell_type if p else None}
        return {
            "populations": pops,
            "cell_types": {k: v.kind for k, v in self.cell_types.items()},
            "syn_mechs": sorted(self.syn_mechs),
            "n_cells": self.n_cells,
            "n_connections": self.n_connections,
            "n_pointer_conns": len(self.pointer_conns),
            "n_stim_targets": len(self.stim_targets),
            "n_stim_sources": len(self.stim_sources),
            "mod_files": sorted(self.mod_files),
        }

    # ------------------------------------------------------- canonical order
    def canonical(self) -> Network:
        """The same network with cells sorted by gid and connection-like tables by target gid.

        Sorting is stable, so rows of the same target keep their relative order. This is the
        order the store keeps; ``read(write(net)) == net.canonical()``.
        """
        changes = {}
        for tname, key in (("cells", "gid"), ("connections", "post_gid"),
                           ("pointer_conns", "post_gid"), ("stim_targets", "gid")):
            table = getattr(self, tname)
            keys = np.asarray(table[key])
            if len(keys) > 1 and np.any(keys[1:] < keys[:-1]):
                changes[tname] = table.take(np.argsort(keys, kind="stable"))
        return self.replace(**changes) if changes else self

    def replace(self, **changes: Any) -> Network:
        """A shallow copy with some attributes replaced."""
        kw = {f: getattr(self, f) for f in self.__dataclass_fields__}
        kw.update(changes)
        return Network(**kw)

    def metadata(self) -> dict[str, Any]:
        """Everything but the tables, as JSON-able data (what the store keeps as JSON)."""
        return jsonable({
            "cell_types": {k: v.to_dict() for k, v in self.cell_types.items()},
            "syn_mechs": {k: v.to_dict() for k, v in self.syn_mechs.items()},
            "populations": {k: v.to_dict() for k, v in self.populations.items()},
            "stim_sources": {k: v.to_dict() for k, v in self.stim_sources.items()},
            "spec": self.spec,
            "params": self.params,
            "provenance": self.provenance,
            "rxd": self.rxd,
        })

    def equals(self, other: object) -> bool:
        """Exact equality of model and tables (NaN equals NaN; column order matters)."""
        if not isinstance(other, Network):
            return False
        if not _json_equal(self.metadata(), other.metadata()):
            return False
        if self.mod_files != other.mod_files:
            return False
        return all(getattr(self, t).equals(getattr(other, t)) for t in TABLE_SCHEMAS)

    def content_hash(self) -> str:
        """A SHA-256 over the canonical form of the model and tables (provenance excluded).

        Two networks with the same hash simulate identically; it is recorded with every run.
        """
        net = self.canonical()
        h = hashlib.sha256()
        meta = net.metadata()
        meta.pop("provenance")
        h.update(json.dumps(meta, sort_keys=True, allow_nan=True).encode())
        h.update(json.dumps(net.mod_files, sort_keys=True).encode())
        for tname in TABLE_SCHEMAS:
            table = getattr(net, tname)
            h.update(f"{tname}:{len(table)}".encode())
            for cname, col in table.columns.items():
                h.update(cname.encode())
                _hash_column(h, col)
        return h.hexdigest()

    def __repr__(self) -> str:
        return (
            f"Network({self.n_cells} cells in {len(self.populations)} populations, "
            f"{len(self.cell_types)} cell types, {self.n_connections} connections, "
            f"{len(self.stim_targets)} stim targets)"
        )


def _hash_column(h, col) -> None:
    # The arrays are fed through the buffer protocol (no byte copies); the digest is the same as
    # hashing ``dtype.str.encode() + arr.tobytes()``.
    if isinstance(col, Categorical):
        col = col.normalized()
        h.update(json.dumps(col.categories).encode())
        h.update(np.ascontiguousarray(col.codes))
    elif isinstance(col, Ragged):
        h.update(col.values.dtype.str.encode())
        h.update(np.ascontiguousarray(col.values))
        h.update(np.ascontiguousarray(col.offsets))
    else:
        h.update(col.dtype.str.encode())
        h.update(np.ascontiguousarray(col))
