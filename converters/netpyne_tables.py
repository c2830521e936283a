"""NetPyNE's saved-output keys ⇄ nethub's canonical columns, declared once for both directions
(:mod:`nethub.converters.netpyne` reads with these tables, :mod:`.netpyne_write` writes).

NetPyNE 1.x saves each cell's connections as ``cell['conns']``: a dict per NetCon (or a list in
``simConfig['compactConnFormat']`` order). Keys and their meanings are NetPyNE's
(``netpyne/cell/compartCell.py``, ``addConn``); defaults are what NetPyNE uses when a key is
absent, else the model's (:data:`nethub.network.CONN_COLUMNS`).
"""

from __future__ import annotations

import math

from .kit import JSON, OMIT, Field, Translation

__all__ = ["CELL_TAGS", "CONNS", "POINTER_CONNS", "NETSTIM_CONNS", "CONN_KEYS",
           "NET_PARAM_DEFAULTS", "NETSTIM_DEFAULTS", "NETPYNE_SEEDS"]

#: a saved cell's position tags (``cell['tags']``); absent: unknown (NaN)
CELL_TAGS = Translation("cells", native_name="tags", row_name="cells", fields=tuple(
    Field(key, key, unit=None if key.endswith("norm") else "um", default=math.nan)
    for key in ("x", "y", "z", "xnorm", "ynorm", "znorm")))

#: ``cell['conns']`` entries with a numeric ``preGid`` and no ``pointer``: one NetCon each.
CONNS = Translation("connections", native_name="conns", row_name="connections", fields=(
    Field("preGid", "pre_gid", what="gid", null="error"),
    Field("sec", "post_sec"),
    Field("loc", "post_loc"),  # None: a point-cell target (NaN)
    Field("synMech", "syn_mech"),
    Field("weight", "weight", default=1.0, null="error"),  # NetPyNE's defaultWeight
    Field("delay", "delay", unit="ms", null="error"),
    # NetPyNE always saves preLoc; nethub's spike source is the cell's (pre_loc NaN)
    Field("preLoc", "pre_loc", direction="out", write_missing=0.5),
    Field("label", "rule", write_missing=OMIT),
    Field("preSec", "pre_sec", write_missing=OMIT),
    Field("threshold", "threshold", unit="mV", write_missing=OMIT),
    Field("plast", "plast", codec=JSON, write_missing=OMIT),
    # the synapse's index in a vref point process's synList (default: computed per target)
    Field("weightIndex", "weight_index", dtype="int32", default=0, optional=True,
          write_missing=OMIT),
), ignore=frozenset({"preLabel", "pointer", "gapJunction", "hObj"}))

#: ``cell['conns']`` entries with a ``pointer`` (or ``gapJunction``): gap junctions and graded
#: synapses, one row per target mechanism.
POINTER_CONNS = Translation("pointer_conns", native_name="conns", row_name="connections",
                            fields=(
    Field("preGid", "pre_gid", what="gid", null="error"),
    Field("sec", "post_sec"),
    Field("loc", "post_loc"),
    Field("synMech", "syn_mech"),
    Field("weight", "weight", default=1.0, write_missing=None),  # None: the mechanism's
    Field("preSec", "pre_sec", default="soma", null="default"),
    Field("preLoc", "pre_loc", null="error"),
    Field("label", "rule"),
    Field(("pointer", "source"), None, direction="out", default="pre"),
    Field(("pointer", "sourceVar"), "source_var", default="v"),
    Field(("pointer", "targetVar"), "target_var"),
), ignore=frozenset({"delay", "threshold", "plast", "weightIndex", "preLabel", "gapJunction",
                     "hObj"}))

#: ``cell['conns']`` entries with ``preGid == 'NetStim'``: the NetCon of a NetStim stimulus
#: (a ``stim_targets`` row; the NetStim itself is in ``cell['stims']``).
NETSTIM_CONNS = Translation("stim_targets", native_name="conns", row_name="NetStim connections",
                            fields=(
    Field("preGid", None, direction="out", default="NetStim"),
    Field("preLabel", "source", direction="out"),  # read: the source of the matching stim
    Field("sec", "sec"),
    Field("loc", "loc", null="error"),
    Field("synMech", "syn_mech"),
    Field("weight", "weight", default=1.0, null="error"),
    Field("delay", "delay", unit="ms", default=1.0, null="error"),
    Field("preLoc", None, direction="out", default=0.5),
))

#: every key of a saved connection the converter knows
CONN_KEYS = CONNS.known | POINTER_CONNS.known

#: network-wide netParams kept in ``Network.params`` (NetPyNE's defaults)
NET_PARAM_DEFAULTS: dict = {
    "scale": 1, "sizeX": 100, "sizeY": 100, "sizeZ": 100, "shape": "cuboid",
    "defaultWeight": 1, "defaultDelay": 1, "defaultThreshold": 10, "propVelocity": 500.0,
    "scaleConnWeight": 1, "scaleConnWeightNetStims": 1, "scaleConnWeightModels": False,
    "rotateCellsRandomly": False, "correctBorder": False,
}
#: NetPyNE's ``simConfig['seeds']`` when not given (the spec catalogue declares the same,
#: ``nethub.specs.runmap.NETPYNE_SEEDS``; converters may not import it: a test checks they agree)
NETPYNE_SEEDS: dict[str, int] = {"conn": 1, "stim": 1, "loc": 1, "cell": 1}
#: what a NetStim gets when a value is not given (NetPyNE's ``addStim``/``addNetStim``)
NETSTIM_DEFAULTS = {"noise": 0.0, "start": 0.0, "number": 1e9}
