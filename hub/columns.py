"""Canonical table columns: names, kinds, defaults and meanings, declared once.

The canonical tables (cells, connections, pointer connections, stimulation targets) have
*declared* columns (always present; a reader fills a missing one with its default), *optional*
columns nethub knows (present only when a model has them: rotations, per-row synapse
parameters, ...) and *namespaced* per-format columns ``"<namespace>.<name>"`` that carry what a
source format has and NEURON does not need (``sonata.node_type_id``, ``nml.segment_id``,
``netpyne.label``). Declared columns keep NEURON's meaning (section name, location 0..1,
NetCon weight); ``docs/store.md`` §3 describes all of them.

Converters take names, kinds and defaults from here instead of repeating literals.
"""

from __future__ import annotations

import re

import numpy as np

from .table import ColumnSpec

__all__ = [
    "GID_DTYPE",
    "CELL_COLUMNS",
    "CONN_COLUMNS",
    "POINTER_COLUMNS",
    "STIM_COLUMNS",
    "TABLE_SCHEMAS",
    "OPTIONAL_COLUMNS",
    "DRAWS_COLUMN",
    "ROTATION_COLUMN",
    "ROTATION_COLUMNS",
    "V1_ROTATION_COLUMN",
    "SYN_PARAM_PREFIX",
    "NAMESPACE_RE",
    "KNOWN_NAMESPACES",
    "param_column",
    "syn_param_column",
    "syn_param_name",
    "namespace_of",
    "is_namespaced",
    "column_category",
]

GID_DTYPE = np.int64
NAN = float("nan")

#: Per-cell rotations of the cell's 3-D points about the x, y and z axes (radians), applied as
#: ``docs/store.md`` §3.1 says (z first, then y, then x; NetPyNE's sense for each axis).
ROTATION_COLUMNS = ("rot_x", "rot_y", "rot_z")
#: The rotation NetPyNE's ``rotateCellsRandomly`` gives (about y).
ROTATION_COLUMN = "rot_y"
#: Schema version 1 name of ``rot_y`` (a v1 store's ``rotation_y`` reads as ``rot_y``).
V1_ROTATION_COLUMN = "rotation_y"
#: Optional cells column: how many NEURON Random123 draws the cell's parameter expressions used
#: (the simulator continues the cell's stream from there, as NetPyNE does).
DRAWS_COLUMN = "cellparams_draws"
#: Prefix of per-row parameter columns: ``param.secs.<sec>...`` in cells (per-cell section
#: values), ``param.<name>`` in connections (synapse parameter) and stim_targets (stimulus
#: parameter). NaN means "the mechanism's / source's value".
SYN_PARAM_PREFIX = "param."

#: A namespaced per-format column: a lowercase namespace, a dot, a name (``sonata.node_type_id``).
NAMESPACE_RE = re.compile(r"^([a-z][a-z0-9_]*)\.(.+)$")
#: Namespaces in use or reserved (others are allowed; these are documented in docs/store.md).
KNOWN_NAMESPACES = ("sonata", "nml", "netpyne", "hoc", "nwb", "x")
#: Namespaces that are not per-format: canonical prefixes.
_CANONICAL_PREFIXES = ("param",)


def param_column(sec: str, kind: str, *names: str) -> str:
    """Column name of a per-cell section value, e.g. ``param.secs.soma.mechs.hh.gnabar``."""
    return ".".join(("param", "secs", sec, kind, *names))


def syn_param_column(name: str) -> str:
    """Column name of a per-connection synapse parameter, e.g. ``param.tau2``."""
    if not name or "." in name:
        raise ValueError(f"synapse parameter name {name!r} must be a plain identifier")
    return SYN_PARAM_PREFIX + name


def syn_param_name(column: str) -> str | None:
    """The parameter of a ``param.<name>`` connection column, or None for other columns."""
    if column.startswith(SYN_PARAM_PREFIX):
        rest = column[len(SYN_PARAM_PREFIX):]
        if rest and "." not in rest:
            return rest
    return None


def namespace_of(column: str) -> str | None:
    """The per-format namespace of a column name (``'sonata'`` for ``sonata.node_type_id``),
    or None when it is not namespaced (``param.*`` is canonical, not a namespace)."""
    m = NAMESPACE_RE.match(column)
    if m is None or m.group(1) in _CANONICAL_PREFIXES:
        return None
    return m.group(1)


def is_namespaced(column: str) -> bool:
    """Whether ``column`` is a per-format column ``"<namespace>.<name>"``."""
    return namespace_of(column) is not None


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
    "syn_mech": ColumnSpec("category", None, "synaptic mechanism (key of Network.syn_mechs); "
                                             "missing: the target is an artificial cell"),
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

TABLE_SCHEMAS: dict[str, dict[str, ColumnSpec]] = {
    "cells": CELL_COLUMNS,
    "connections": CONN_COLUMNS,
    "pointer_conns": POINTER_COLUMNS,
    "stim_targets": STIM_COLUMNS,
}

#: Optional columns nethub knows (not filled in when absent, so that networks without them
#: keep their content hash); a present one must have this kind.
OPTIONAL_COLUMNS: dict[str, dict[str, ColumnSpec]] = {
    "cells": {
        "rot_x": ColumnSpec("float64", 0.0, "rotation about x, radians (NaN: none)"),
        "rot_y": ColumnSpec("float64", 0.0, "rotation about y, radians (NaN: none)"),
        "rot_z": ColumnSpec("float64", 0.0, "rotation about z, radians (NaN: none)"),
        DRAWS_COLUMN: ColumnSpec("int64", 0, "Random123 draws of the cell's expressions"),
    },
    "connections": {
        "weight_index": ColumnSpec("int64", 0, "which NetCon weight the weight sets"),
        "spike_sec": ColumnSpec("category", None, "section of the presynaptic point whose v "
                                "this connection listens to (missing: the cell's spike source)"),
        "spike_loc": ColumnSpec("float64", NAN, "location of that point, 0..1 (NaN: the "
                                "cell's spike source)"),
    },
    "pointer_conns": {
        "live": ColumnSpec("int64", 0, "1: the target is a NEURON POINTER to the source "
                           "variable (read live; both cells on one rank); 0: a copy "
                           "transferred once per step (ParallelContext)"),
    },
    "stim_targets": {},
}


def column_category(table: str, column: str) -> str:
    """What a column of ``table`` is: ``'declared'``, ``'optional'``, ``'param'``
    (``param.*``), ``'namespaced'`` (``<namespace>.<name>``) or ``'other'``."""
    if column in TABLE_SCHEMAS.get(table, {}):
        return "declared"
    if column in OPTIONAL_COLUMNS.get(table, {}):
        return "optional"
    if column.startswith(SYN_PARAM_PREFIX):
        return "param"
    if is_namespaced(column):
        return "namespaced"
    return "other"
