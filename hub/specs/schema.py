"""Key catalogue and validation of NetPyNE 1.1 ``netParams`` / ``simConfig`` specs.

The catalogue is data: every key NetPyNE 1.1 reads is declared once, with the accepted type and a
one-line doc. It was compiled from NetPyNE 1.1.0 (suny-downstate-medical-center/netpyne, commit
3a0a522672654ab9f30ec3f6e77237e60a2d9632): ``netpyne/specs/netParams.py`` and ``simConfig.py``
(attributes and defaults), ``netpyne/sim/validator.py`` (NetPyNE's own schema),
``netpyne/metadata/metadata.py`` (GUI key docs), the keys read by ``netpyne/network/*.py``,
``netpyne/cell/*.py`` and ``netpyne/sim/*.py``, and ``doc/source/user_documentation.rst``.

The validation language itself (combinators, building blocks, located findings) is in
:mod:`nethub.specs.validation`.

Values that NetPyNE treats as free (mechanism and point-process parameter names, cell tags in
``conds``, analysis function keyword arguments, expression strings) are accepted as given.
Expression strings are not compiled here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .validation import (
    BOOL,
    DELAY_VALUE,
    DICT_JSON,
    EXPR,
    FALSE,
    FRACTION,
    INT,
    JSON,
    LOC,
    LOC_VALUE,
    NONE,
    NONNEG,
    NONNEG_EXPR,
    NONNEG_INT,
    NUM,
    NUM_OR_NUMS,
    NUM_OR_RANGE,
    NUMS,
    PARAM,
    POS,
    POS_EXPR,
    PROB_EXPR,
    RANGE2,
    STR,
    STRS,
    VALUE,
    XYZ,
    Choice,
    DictOf,
    Either,
    K,
    Key,
    ListOf,
    Record,
    Spec,
    jsonable_problems,
    problems_error,
    show,
    unknown_key_message,
    value_problems,
)

__all__ = [
    "Key",
    "Spec",
    "NETPARAMS_KEYS",
    "NETWORK_SCALARS",
    "netparam",
    "SIMCONFIG_KEYS",
    "RULE_FAMILIES",
    "RULE_SPECS",
    "RXD_SECTIONS",
    "rule_problems",
    "value_problems",
    "jsonable_problems",
    "unknown_key_message",
    "problems_error",
    "show",
]

_POS_CONDS = {c: K(RANGE2, f"cells with {c} within [min, max]")
              for c in ("x", "y", "z", "xnorm", "ynorm", "znorm")}
CONDS = Record(
    {"pop": K(STRS, "population label(s)"), "cellType": K(STRS, "cell type tag(s)"),
     "cellModel": K(STRS, "cell model tag(s)"), **_POS_CONDS},
    extra=JSON, desc="conditions dict",
)
STIM_CONDS = Record(
    {**CONDS.keys, "cellList": K(Either(ListOf(NONNEG_INT), Choice("all"), desc="list of "
                                        "relative cell indices or 'all'"), "cells to target")},
    extra=JSON, desc="conditions dict",
)
SHAPE = Record({
    "pulseType": K(Choice("square", "gaussian"), "pulse shape"),
    "pulseWidth": K(NUM, "pulse width (ms)"),
    "pulsePeriod": K(NUM, "pulse period (ms)"),
    "switchOnOff": K(NUMS, "times (ms) to switch the weight on and off"),
}, desc="shape dict")
PLAST = Record({
    "mech": K(STR, "plasticity point process"),
    "params": K(DICT_JSON, "parameters of the plasticity mechanism"),
}, required=("mech", "params"), desc="plasticity dict")
FACTORS = {f"synMech{p}Factor": K(NUMS, f"per-synMech scaling of {p.lower()} (documented name)")
           for p in ("Weight", "Delay", "Loc")}
FACTORS.update({f"synMech{p}Factor": K(NUMS, f"per-synMech scaling of {p} (name NetPyNE 1.1 "
                                       "code reads)") for p in ("weight", "delay", "loc",
                                                                "synsPerConn")})

SPIKE_PATTERN = Record({
    "type": K(Choice("rhythmic", "evoked", "poisson", "gauss"), "pattern type"),
    "sync": K(BOOL, "same pattern for all cells"),
    "start": K(NUM, "first spike (ms); -1 = uniform in [startMin, startMax]"),
    "startMin": K(NUM, "lower bound of start (ms)"),
    "startMax": K(NUM, "upper bound of start (ms)"),
    "startStd": K(NONNEG, "std of start (ms)"),
    "stop": K(NUM, "last spike (ms); -1 = end of simulation"),
    "tstop": K(NUM, "old name of stop"),
    "repeats": K(INT, "number of repeats"),
    "freq": K(NUM, "rhythm frequency (Hz)"),
    "freqStd": K(NONNEG, "std of frequency (Hz)"),
    "eventsPerCycle": K(INT, "spikes per cycle (1 or 2)"),
    "distribution": K(Choice("normal", "uniform"), "frequency distribution"),
    "numspikes": K(NUM, "number of evoked spikes"),
    "inc": K(NUM, "increase of evoked start (ms)"),
    "frequency": K(NUM, "poisson frequency (Hz)"),
    "mu": K(NUM, "gauss mean (ms)"),
    "sigma": K(NONNEG, "gauss std (ms)"),
}, required=("type",), desc="spikePattern dict")
PULSE = Record({
    "rate": K(NUM_OR_RANGE, "rate (Hz) or [min, max]"),
    "interval": K(NUM, "interval (ms)"),
    "noise": K(FRACTION, "noise fraction"),
    "start": K(NUM, "start (ms)"),
    "end": K(NUM, "end (ms)"),
}, required=("start", "end"), desc="pulse dict")
SPK_TIMES = Either(NUMS, ListOf(NUMS), desc="list of spike times or list of lists")

# Parameters of artificial (point) cells, in popParams or cellParams[...]['params'].
POINT_CELL = {
    "rate": K(Either(NUM_OR_RANGE, Choice("variable")), "NetStim/VecStim rate (Hz) or [min, max]"),
    "rates": K(Either(NUM, ListOf(NUMS, length=2)), "[rates, times] for time-varying NetStim"),
    "interval": K(EXPR, "spike interval (ms)"),
    "number": K(EXPR, "max number of spikes"),
    "start": K(EXPR, "first spike (ms)"),
    "noise": K(Either(FRACTION, STR), "noise fraction (0-1)"),
    "seed": K(NUM, "random seed (default cfg.seeds['stim'])"),
    "spkTimes": K(SPK_TIMES, "VecStim spike times (ms)"),
    "pulses": K(ListOf(PULSE), "VecStim rate pulses"),
    "spikePattern": K(SPIKE_PATTERN, "VecStim spike pattern"),
}

# --------------------------------------------------------------------------------------------
# cellParams
# --------------------------------------------------------------------------------------------

GEOM = Record({
    "diam": K(POS_EXPR, "diameter (um)"), "L": K(POS_EXPR, "length (um)"),
    "Ra": K(POS_EXPR, "axial resistance (ohm cm)"), "cm": K(POS_EXPR, "capacitance (uF/cm2)"),
    "nseg": K(POS_EXPR, "number of segments"),
    "pt3d": K(ListOf(ListOf(NUM, length=4, desc="[x, y, z, diam]")), "3-D points"),
}, desc="geom dict")
TOPOL = Record({
    "parentSec": K(STR, "parent section"), "parentX": K(LOC, "location on parent"),
    "childX": K(LOC, "location on this section"),
}, desc="topol dict")
POINTP = Record({
    "mod": K(STR, "NEURON point process"), "loc": K(LOC, "location in section (0-1)"),
    "vref": K(STR, "mechanism variable holding the membrane voltage"),
    "synList": K(ListOf(STR), "synapse labels inside the mechanism"),
}, required=("mod",), extra=PARAM, desc="point process dict")
SEC = Record({
    "geom": K(GEOM, "geometry"), "topol": K(TOPOL, "topology"),
    "mechs": K(DictOf(DictOf(PARAM, desc="dict of mechanism parameters")),
               "distributed mechanisms {name: {param: value}}"),
    "ions": K(DictOf(Record({i: K(NUM_OR_NUMS, d) for i, d in
                             (("e", "reversal (mV)"), ("i", "internal conc (mM)"),
                              ("o", "external conc (mM)"))}, desc="ion dict")), "ions"),
    "pointps": K(DictOf(POINTP), "point processes {label: {...}}"),
    "synMechs": K(ListOf(Record({"label": K(STR, "synMech label"), "loc": K(LOC, "location")})),
                  "synapses placed at creation (saved networks)"),
    "spikeGenLoc": K(LOC, "spike generation location (0-1)"),
    "vinit": K(NUM, "initial voltage (mV)"),
    "weightNorm": K(NUMS, "per-segment weight normalisation"),
    "threshold": K(NUM, "spike threshold (mV)"),
}, desc="section dict")
IMPORT_REQUEST = Record({
    "function": K(Choice("importCellParams", "importCellParamsFromNet", "loadCellParamsRule"),
                  "NetPyNE call that was recorded"),
    "fileName": K(STR, "cell file (.hoc, .py, .swc, .json, .pkl)"),
    "cellName": K(Either(STR, NONE), "template/class/function name"),
    "cellArgs": K(Either(DICT_JSON, ListOf(JSON)), "arguments for the template"),
    "importSynMechs": K(BOOL, "also import synaptic mechanisms"),
    "somaAtOrigin": K(BOOL, "shift 3-D points so the soma is at (0, 0, 0)"),
    "cellInstance": K(BOOL, "the file defines an instance, not a template"),
    "renameSecs": K(DictOf(STR), "section renames {old: new} applied after the import"),
    "baseDir": K(STR, "folder relative file names are resolved against"),
}, required=("function", "fileName"), nullable=False, desc="import request dict")
CELL_RULE = Record({
    "conds": K(CONDS, "conditions selecting the cells this rule applies to"),
    "secs": K(DictOf(SEC, desc="dict of sections"), "sections {name: {...}}"),
    "secLists": K(DictOf(ListOf(STR)), "section lists {name: [secs]}"),
    "globals": K(DictOf(NUM), "NEURON globals set for this cell"),
    "cellModel": K(STR, "artificial cell model (PointCell)"),
    "params": K(Record(POINT_CELL, extra=JSON, desc="params dict"), "artificial cell params"),
    "vars": K(DictOf(EXPR), "cell variables usable in expressions"),
    "diversityFraction": K(FRACTION, "fraction of the pop using this rule (diversity)"),
    "_import": K(IMPORT_REQUEST, "nethub: deferred importCellParams/loadCellParamsRule"),
}, desc="cell rule dict")

# --------------------------------------------------------------------------------------------
# popParams, synMechParams, connParams, subConnParams, stim*, rxd
# --------------------------------------------------------------------------------------------

_RANGES = {f"{c}{n}Range": K(RANGE2, f"{c}{n} range of cell positions")
           for c in "xyz" for n in ("", "norm")}
POP_RULE = Record({
    "cellType": K(STR, "cell type tag / cellParams label"),
    "cellModel": K(STR, "cell model tag or artificial cell (NetStim, IntFire2, ...)"),
    "numCells": K(NONNEG, "number of cells"),
    "density": K(NONNEG_EXPR, "cells per mm3"),
    "gridSpacing": K(Either(POS, XYZ, desc="positive number or [x, y, z]"), "grid spacing (um)"),
    **_RANGES,
    "cellsList": K(ListOf(Record({**{c: K(NUM, c) for c in _POS_CONDS},
                                  "spkTimes": K(NUMS, "spike times"),
                                  "params": K(DICT_JSON, "cell params")},
                                 extra=JSON, desc="cell dict")), "individually defined cells"),
    "dynamicRates": K(Record({"times": K(NUMS, "times (ms)"),
                              "rates": K(ListOf(Either(NUM, NUMS)), "rates (Hz)")},
                             required=("times", "rates"), desc="dynamicRates dict"),
                      "time-varying NetStim rates"),
    "diversity": K(BOOL, "cells drawn from several rules by diversityFraction"),
    "originalFormat": K(STR, "NeuroML2 / NeuroML2_SpikeSource import marker"),
    "pop": K(STR, "pop label (added by NetPyNE; found in saved files)"),
    "params": K(DICT_JSON, "artificial cell params"),
    "vref": K(STR, "voltage variable of the artificial cell"),
    **POINT_CELL,
}, extra=JSON, desc="pop rule dict")
SYNMECH_RULE = Record({
    "mod": K(STR, "NEURON point process"),
    "loc": K(LOC, "default location"),
    "label": K(STR, "label (imported mechanisms)"),
    "selfNetCon": K(Record({"sec": K(STR, "section"), "loc": K(LOC, "location"),
                            "weight": K(NUM, "weight"), "delay": K(NONNEG, "delay (ms)"),
                            "threshold": K(NUM, "threshold (mV)")}, desc="selfNetCon dict"),
                    "NetCon from the cell voltage to the synapse"),
    "pointerParams": K(Record({"target_var": K(STR, "pointer variable in the mechanism"),
                               "source_var": K(STR, "source variable (default v)"),
                               "bidirectional": K(BOOL, "gap junction both ways")},
                              required=("target_var",), desc="pointerParams dict"),
                       "pointer connection (gap junction)"),
}, required=("mod",), extra=PARAM, desc="synMech rule dict")
_CONN_FUNCS = ("fullConn", "probConn", "convConn", "divConn", "fromListConn")
CONN_RULE = Record({
    "preConds": K(CONDS, "presynaptic cell conditions"),
    "postConds": K(CONDS, "postsynaptic cell conditions"),
    "connFunc": K(Choice(*_CONN_FUNCS), "connectivity function"),
    "probability": K(PROB_EXPR, "connection probability"),
    "convergence": K(NONNEG_EXPR, "presynaptic cells per postsynaptic cell"),
    "divergence": K(NONNEG_EXPR, "postsynaptic cells per presynaptic cell"),
    "connList": K(ListOf(ListOf(NONNEG_INT, length=2, desc="[pre, post]")),
                  "explicit [pre, post] relative indices"),
    "synMech": K(STRS, "synMechParams label(s)"),
    "weight": K(VALUE, "weight"), "delay": K(DELAY_VALUE, "delay (ms)"),
    "loc": K(LOC_VALUE, "location(s) on the section"),
    "synsPerConn": K(NONNEG_EXPR, "synapses per connection"),
    "sec": K(STRS, "target section(s) or secList(s)"),
    **FACTORS,
    "disynapticBias": K(Either(NUM, NONE), "disynaptic bias (deprecated)"),
    "shape": K(SHAPE, "dynamic weight pattern"),
    "plast": K(PLAST, "plasticity {mech, params}"),
    "plasticity": K(PLAST, "documented name; NetPyNE 1.1 reads 'plast' and ignores this",
                    legacy=True),
    "weightIndex": K(INT, "NetCon weight index"),
    "gapJunction": K(BOOL, "deprecated gap junction flag"),
    "preSec": K(STRS, "presynaptic section (pointer conns)"),
    "preLoc": K(Either(LOC, ListOf(LOC)), "presynaptic location (pointer conns)"),
    "preSecs": K(ListOf(STR), "per-connection preSec list (fromListConn)"),
    "preLocs": K(ListOf(LOC), "per-connection preLoc list (fromListConn)"),
    "threshold": K(NUM, "spike threshold (deprecated)"),
    "distributeSynsUniformly": K(BOOL, "overrides cfg.distributeSynsUniformly"),
    "connRandomSecFromList": K(BOOL, "overrides cfg.connRandomSecFromList"),
    "distinctSecsPerSynMech": K(BOOL, "sec given per synMech"),
    "label": K(STR, "rule label (set by NetPyNE)"),
}, required=("preConds", "postConds"), desc="conn rule dict",
    hints={"synReceptor": "synMech", "probabilty": "probability"})
_GRID = Either(NUM, NUMS, NONE, desc="number, list of numbers or None")
SUBCONN_DENSITY = Record({
    "type": K(Choice("1Dmap", "2Dmap", "distance"), "density type"),
    "gridX": K(_GRID, "x (or z) grid positions"), "gridY": K(_GRID, "y grid positions"),
    "fixedSomaY": K(NUM, "absolute soma y"),
    "gridValues": K(Either(NUM, NUMS, ListOf(NUMS), desc="number or 1-D/2-D list"),
                    "relative density on the grid"),
    "ref_sec": K(STR, "reference section"), "ref_seg": K(NUM, "reference segment"),
    "target_distance": K(NUM, "target distance (um)"),
    "coord": K(Choice("cartesian"), "distance coordinates"),
}, required=("type",), desc="density dict")
SUBCONN_RULE = Record({
    "preConds": K(CONDS, "presynaptic cell conditions"),
    "postConds": K(CONDS, "postsynaptic cell conditions"),
    "groupSynMechs": K(ListOf(STR), "synMechs moved together"),
    "sec": K(STRS, "sections admitting synapses"),
    "density": K(Either(Choice("uniform"), SUBCONN_DENSITY), "'uniform' or density dict"),
}, required=("preConds", "postConds", "density"), desc="subConn rule dict")
_CLAMP = Either(EXPR, NUMS, desc="number, expression string or list of numbers")
STIM_SOURCE_RULE = Record({
    "type": K(STR, "point process or artificial cell (IClamp, NetStim, ...)"),
    "originalFormat": K(STR, "NeuroML2 import marker"),
    "rate": K(Either(EXPR, Choice("variable")), "NetStim rate (Hz)"),
    "interval": K(EXPR, "NetStim interval (ms)"), "start": K(EXPR, "NetStim start (ms)"),
    "number": K(EXPR, "NetStim number of spikes"),
    "noise": K(Either(FRACTION, STR), "NetStim noise (0-1)"),
    "seed": K(NUM, "random seed"), "shape": K(SHAPE, "dynamic weight pattern"),
    "plast": K(PLAST, "plasticity"),
    "del": K(EXPR, "IClamp delay (ms)"), "dur": K(_CLAMP, "duration(s) (ms)"),
    "amp": K(_CLAMP, "amplitude(s)"),
    **{p: K(EXPR, f"{p} of the stimulator") for p in
       ("gain", "rstim", "tau1", "tau2", "onset", "tau", "gmax", "e", "i", "vc")},
    **{p: K(NUM, f"SEClamp {p}") for p in
       ("dur1", "dur2", "dur3", "amp1", "amp2", "amp3", "rs")},
    "vClampAmp": K(NUMS, "VClamp amplitudes (GUI)"), "vClampDur": K(NUMS, "VClamp durations (GUI)"),
    "waveform": K(DICT_JSON, "XStim waveform"), "mod_based": K(BOOL, "XStim via mod mechanism"),
}, required=("type",), extra=PARAM, desc="stim source dict")
STIM_TARGET_RULE = Record({
    "source": K(STR, "stimSourceParams label"),
    "conds": K(STIM_CONDS, "target cell conditions"),
    "sec": K(STRS, "target section(s)"), "loc": K(LOC_VALUE, "target location(s)"),
    "weight": K(VALUE, "NetStim weight"), "delay": K(DELAY_VALUE, "NetStim delay (ms)"),
    "synsPerConn": K(NONNEG_EXPR, "NetStim synapses per connection"),
    "synMech": K(STRS, "synMechParams label(s)"),
    **{k: v for k, v in FACTORS.items() if k[7].isupper()},
}, required=("source", "conds"), desc="stim target dict")

_BOX = {c: K(NUM, f"extracellular box {c}") for c in ("xlo", "ylo", "zlo", "xhi", "yhi", "zhi")}
_ECS = {**_BOX, "dx": K(Either(NUM, NUMS, NONE, desc="number, list or None"), "voxel size"),
        "volume_fraction": K(EXPR, "free volume fraction"), "tortuosity": K(EXPR, "tortuosity")}
RXD_REGION = Record({
    **_ECS, "extracellular": K(BOOL, "extracellular region"),
    "cells": K(Either(Choice("all"), ListOf(JSON), desc="'all' or list"), "cells of the region"),
    "secs": K(Either(STR, ListOf(STR), desc="string or list"), "sections of the region"),
    "nrn_region": K(Either(Choice("i", "o"), NONE, desc="'i', 'o' or None"), "NEURON region"),
    "geometry": K(Either(STR, Record({"class": K(STR, "geometry class"),
                                      "args": K(DICT_JSON, "arguments")}), NONE,
                         desc="string, {class, args} or None"), "region geometry"),
    "dimension": K(JSON, "1 or 3 (no longer used)"),
}, desc="region dict")
_REGS = K(Either(STRS, NONE, desc="string, list of strings or None"), "regions")
_INIT = K(Either(EXPR, NONE, desc="number, expression or None"), "initial value")
_REACTION = Record({
    "reactant": K(STR, "left-hand side"), "product": K(STR, "right-hand side"),
    "rate_f": K(EXPR, "forward rate"), "rate_b": K(Either(EXPR, NONE), "backward rate"),
    "regions": _REGS, "custom_dynamics": K(Either(BOOL, NONE), "not mass action"),
    "membrane": K(Either(STR, NONE), "membrane region"),
    "membrane_flux": K(BOOL, "produces a current"), "scale_by_area": K(BOOL, "scale by area"),
}, required=("reactant", "product", "rate_f"), desc="reaction dict")
RXD_SECTIONS: dict[str, Key] = {
    "regions": K(DictOf(RXD_REGION), "regions {label: {...}}"),
    "extracellular": K(Record(_ECS, desc="extracellular dict"), "extracellular space"),
    "species": K(DictOf(Record({
        "regions": _REGS, "d": K(NUM, "diffusion coefficient"), "charge": K(INT, "charge"),
        "initial": _INIT, "ecs_boundary_conditions": K(Either(NUM, NONE), "ECS boundary"),
        "atolscale": K(NUM, "tolerance scale"), "name": K(STR, "name")},
        required=("regions",), desc="species dict")), "species"),
    "states": K(DictOf(Record({"regions": _REGS, "initial": _INIT, "name": K(STR, "name")},
                              required=("regions",), desc="state dict")), "states"),
    "reactions": K(DictOf(_REACTION), "reactions"),
    "multicompartmentReactions": K(DictOf(_REACTION), "multicompartment reactions"),
    "parameters": K(DictOf(Record({
        "regions": _REGS, "name": K(Either(STR, NONE), "name"), "charge": K(INT, "charge"),
        "value": _INIT}, required=("regions",), desc="parameter dict")), "parameters"),
    "rates": K(DictOf(Record({
        "species": K(STRS, "species"), "rate": K(EXPR, "rate"), "regions": _REGS,
        "membrane_flux": K(BOOL, "produces a current")},
        required=("species", "rate"), desc="rate dict")), "rates"),
    "constants": K(DictOf(NUM_OR_NUMS), "constants usable in rxd expressions"),
}

#: family name -> spec of one rule (``rxdParams`` has named sections instead, see RXD_SECTIONS)
RULE_SPECS: dict[str, Spec] = {
    "cellParams": CELL_RULE, "popParams": POP_RULE, "synMechParams": SYNMECH_RULE,
    "connParams": CONN_RULE, "subConnParams": SUBCONN_RULE,
    "stimSourceParams": STIM_SOURCE_RULE, "stimTargetParams": STIM_TARGET_RULE,
}
RULE_FAMILIES = (*RULE_SPECS, "rxdParams")

# --------------------------------------------------------------------------------------------
# top-level netParams attributes
# --------------------------------------------------------------------------------------------

_BORDER = Record({"threshold": K(XYZ, "distance (um) from which to correct, [x, y, z]"),
                  **{f"{c}borders": K(RANGE2, f"{c} borders (normalised)") for c in "xyz"}},
                 required=("threshold",), nullable=False, desc="correctBorder dict")
NETPARAMS_KEYS: dict[str, Key] = {
    "_labelid": K(NONNEG_INT, "NetPyNE's counter for automatic rule labels", 0),
    "scale": K(NONNEG, "scale factor for the number of cells", 1),
    "sizeX": K(NONNEG, "x size of the network (um)", 100),
    "sizeY": K(NONNEG, "y size (cortical depth) of the network (um)", 100),
    "sizeZ": K(NONNEG, "z size of the network (um)", 100),
    "shape": K(Choice("cuboid", "cylinder", "ellipsoid"), "network shape", "cuboid"),
    "rotateCellsRandomly": K(Either(BOOL, RANGE2, desc="boolean or [min, max]"),
                             "random rotation of cells around y (radians)", False),
    "defineCellShapes": K(BOOL, "convert stylized geometries to 3-D points", False),
    "correctBorder": K(Either(FALSE, _BORDER, desc="False or correctBorder dict"),
                       "border correction of connectivity", False),
    "cellsVisualizationSpacingMultiplier": K(XYZ, "x, y, z spacing factors for plots", [1, 1, 1]),
    "scaleConnWeight": K(NUM, "weight scale factor (not NetStims)", 1),
    "scaleConnWeightNetStims": K(NUM, "weight scale factor for NetStims", 1),
    "scaleConnWeightModels": K(Either(FALSE, DictOf(NUM), desc="False or dict of numbers"),
                               "weight scale factor per cellModel", False),
    "defaultWeight": K(NUM, "default connection weight", 1),
    "defaultDelay": K(NUM, "default connection delay (ms)", 1),
    "defaultThreshold": K(NUM, "default NetCon threshold (mV)", 10),
    "propVelocity": K(NUM, "propagation velocity (um/ms)", 500.0),
    "mapping": K(DictOf(Either(STR, ListOf(Either(STR, INT)), desc="dotted path or key list")),
                 "cfg attribute -> netParams path", {}),
    "popTagsCopiedToCells": K(ListOf(STR), "pop tags copied to cells", ["cellModel", "cellType"]),
    "version": K(Either(STR, NUM, desc="string or number"), "model version label"),
    **{f: K(DictOf(RULE_SPECS[f], desc=f"dict of {RULE_SPECS[f].desc}s"), f"{f} rules", {})
       for f in RULE_SPECS},
    "rxdParams": K(Record(RXD_SECTIONS, desc="rxdParams dict"), "reaction-diffusion spec", {}),
}

#: netParams scalars the builder keeps with the network (``Network.params``): the network-wide
#: numbers the simulator and the exporters need.
NETWORK_SCALARS = ("scale", "sizeX", "sizeY", "sizeZ", "shape", "defaultWeight", "defaultDelay",
                   "defaultThreshold", "propVelocity", "scaleConnWeight",
                   "scaleConnWeightNetStims", "scaleConnWeightModels", "rotateCellsRandomly",
                   "correctBorder")


def netparam(net: Mapping[str, Any], key: str) -> Any:
    """``net[key]``, or NetPyNE's default for it (declared once, in :data:`NETPARAMS_KEYS`).

    Parameters
    ----------
    net : Mapping
        A plain netParams dict.
    key : str
        A catalogued netParams attribute that has a default.

    Returns
    -------
    Any
        The value given, else a copy of the default (lists are not shared).
    """
    if key in net:
        return net[key]
    return copy.deepcopy(NETPARAMS_KEYS[key].default)


# --------------------------------------------------------------------------------------------
# simConfig attributes
# --------------------------------------------------------------------------------------------

_CELL_SEL = Either(NONNEG_INT, STR, ListOf(Either(STR, NONNEG_INT, NUMS)),
                   desc="gid, pop label, 'all' or (pop, index/indices)")
_SELECTION = Either(BOOL, NONE, ListOf(_CELL_SEL), desc="boolean or list of cell selections")
TRACE = Record({
    "sec": K(STR, "section"), "loc": K(LOC, "location"), "var": K(STR, "variable to record"),
    "mech": K(STR, "density mechanism"), "synMech": K(STR, "synMech label"),
    "pointp": K(STR, "point process label"), "stim": K(STR, "stim label"),
    "index": K(NONNEG_INT, "index among synMechs/stims"),
    "conds": K(STIM_CONDS, "cells to record from"),
}, required=("var",), desc="trace dict")
_B = BOOL
SIMCONFIG_KEYS: dict[str, Key] = {
    "duration": K(NONNEG, "simulation duration (ms); 0 only instantiates", 1000.0),
    "tstop": K(NONNEG, "old name of duration (NetPyNE still sets it)", 1000.0),
    "dt": K(POS, "integration time step (ms)", 0.025),
    "hParams": K(DictOf(JSON), "values set on NEURON's h",
                 {"celsius": 6.3, "v_init": -65.0, "clamp_resist": 0.001}),
    "coreneuron": K(_B, "run with CoreNEURON", False),
    "dump_coreneuron_model": K(_B, "dump the CoreNEURON model", False),
    "random123": K(_B, "use Random123", False),
    "cache_efficient": K(_B, "CVode cache_efficient", False),
    "gpu": K(_B, "CoreNEURON on GPU", False),
    "cvode_active": K(_B, "variable time step", False),
    "use_fast_imem": K(_B, "record i_membrane_", False),
    "cvode_atol": K(NONNEG, "CVode absolute tolerance", 0.001),
    "seeds": K(Record({s: K(NUM, f"{s} seed") for s in ("conn", "stim", "loc", "cell")},
                      extra=NUM, nullable=False, desc="seeds dict"),
               "random seeds", {"conn": 1, "stim": 1, "loc": 1, "cell": 1}),
    "rand123GlobalIndex": K(Either(INT, NONE), "Random123 global index", None),
    "createNEURONObj": K(_B, "create NEURON objects", True),
    "createPyStruct": K(_B, "create the Python network structure", True),
    "addSynMechs": K(_B, "add synaptic mechanisms", True),
    "includeParamsLabel": K(_B, "store rule labels on cells/conns/stims", True),
    "gatherOnlySimData": K(_B, "gather only simulation data", False),
    "compactConnFormat": K(Either(_B, ListOf(STR), NONE, desc="boolean or list of keys"),
                           "compact conn format (keys to keep)", False),
    "connRandomSecFromList": K(_B, "random section from list even with synsPerConn=1", True),
    "distributeSynsUniformly": K(_B, "synapses uniformly across section lists", True),
    "pt3dRelativeToCellLocation": K(_B, "3-D points relative to the cell location", True),
    "invertedYCoord": K(_B, "y is depth (negative up)", True),
    "allowSelfConns": K(_B, "allow self connections", False),
    "allowConnsWithWeight0": K(_B, "allow weight-0 connections", True),
    "oneSynPerNetcon": K(_B, "one synapse per NetCon", True),
    "saveCellSecs": K(_B, "save section info per cell", True),
    "saveCellConns": K(_B, "save connections per cell", True),
    "timing": K(_B, "time each stage", True),
    "saveTiming": K(_B, "save timing data", False),
    "printRunTime": K(Either(_B, POS, NONE, desc="boolean or interval (s)"), "print run time",
                      False),
    "printPopAvgRates": K(Either(_B, RANGE2, NONE, desc="boolean or [start, stop]"),
                          "print pop average rates", False),
    "printSynsAfterRule": K(_B, "print synapse counts after each rule", False),
    "verbose": K(Either(_B, NONNEG_INT, desc="boolean or level"), "detailed messages", False),
    "progressBar": K(Choice(0, 1, 2, False, True), "0 none, 1 transient, 2 persistent", 2),
    "recordCells": K(Either(Choice("all"), ListOf(_CELL_SEL), desc="'all' or list of cell "
                            "selections"), "cells to record traces from", []),
    "recordTraces": K(DictOf(TRACE, desc="dict of trace dicts"), "traces to record", {}),
    "recordCellsSpikes": K(Either(Choice(-1, "all"), ListOf(_CELL_SEL), desc="-1, 'all' or "
                                  "list of cell selections"), "cells to record spikes from", -1),
    "recordStim": K(_B, "record NetStim/VecStim spikes", False),
    "recordLFP": K(Either(FALSE, NONE, ListOf(XYZ), desc="list of [x, y, z] electrodes"),
                   "LFP electrode positions", []),
    "recordDipole": K(_B, "record dipoles (LFPykit)", False),
    "recordDipolesHNN": K(_B, "record dipoles (HNN method)", False),
    "saveIMembrane": K(_SELECTION, "store transmembrane currents", False),
    "saveLFPCells": K(_SELECTION, "store LFP per cell", False),
    "saveLFPPops": K(Either(_B, NONE, ListOf(STR)), "store LFP per pop", False),
    "saveDipoleCells": K(_SELECTION, "store dipole per cell", False),
    "saveDipolePops": K(Either(_B, NONE, ListOf(STR)), "store dipole per pop", False),
    "recordStep": K(POS, "recording step (ms)", 0.1),
    "recordTime": K(_B, "record the time vector", True),
    "simLabel": K(STR, "simulation label", ""),
    "saveFolder": K(STR, "output folder", ""),
    "filename": K(STR, "output file name", "model_output"),
    "saveDataInclude": K(ListOf(STR), "what to save",
                         ["netParams", "netCells", "netPops", "simConfig", "simData"]),
    "timestampFilename": K(_B, "timestamp output file names", False),
    **{f"save{x}": K(_B, f"save {x} output", False)
       for x in ("Pickle", "Json", "Mat", "CSV", "Dpk", "HDF5", "Dat")},
    "backupCfgFile": K(Either(ListOf(STR), NONE, desc="[source, folder] or None"),
                       "copy the cfg file", []),
    "validateNetParams": K(_B, "validate netParams before running", False),
    "analysis": K(DictOf(Either(_B, DICT_JSON, desc="boolean or dict of keyword arguments"),
                         desc="dict {function: kwargs}"), "analysis functions to run", {}),
    "nethubMergeSynapses": K(_B, "nethub: linear synapses share one object per segment (True)"),
    "nethubCoreneuron": K(Either(Choice("auto"), _B), "nethub: 'auto', True (CoreNEURON), False"),
    "nethubExact": K(_B, "nethub: NetPyNE's spikes bit for bit (no merging, NEURON)"),
    "nethubLFPMethod": K(Choice("line", "point"), "nethub: LFP from LFPykit line (default) or "
                         "point sources"),
    "nethubLFPSigma": K(POS, "nethub: extracellular conductivity for the LFP, S/m (0.3)"),
    # read by NetPyNE 1.1 but not initialised
    "use_local_dt": K(_B, "local variable time step"),
    "saveWeights": K(_B, "save weights during interval runs"),
    "intervalFolder": K(STR, "folder for interval saving"),
    "validateNetParamsMechs": K(_B, "validate mechanisms too"),
    # accepted for older models; NetPyNE 1.1 ignores them
    "checkErrors": K(_B, "pre-1.0 error checking", legacy=True),
    "checkErrorsVerbose": K(_B, "pre-1.0 error checking", legacy=True),
    "exitOnError": K(_B, "pre-1.0 error checking", legacy=True),
    "saveTxt": K(_B, "documented; not implemented", legacy=True),
    "recordSpikesGids": K(JSON, "old name of recordCellsSpikes", legacy=True),
}


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------


def rule_path(family: str, label: Any) -> str:
    """``"connParams['E->I']"``."""
    return f"{family}[{label!r}]"


def rule_problems(family: str, label: Any, rule: Any, complete: bool = True) -> list[str]:
    """Findings for one rule of ``family`` (``rxdParams``: one named section).

    ``complete=False`` skips required-key checks (used while a model file is still being run).
    """
    path = rule_path(family, label)
    if family == "rxdParams":
        if label not in RXD_SECTIONS:
            return [unknown_key_message(label, "rxdParams", RXD_SECTIONS)]
        return RXD_SECTIONS[label].spec.problems(rule, path, complete)
    if family not in RULE_SPECS:
        raise KeyError(family)
    if not isinstance(label, str):
        return [f"{family}: rule labels must be strings, got {show(label)}"]
    return RULE_SPECS[family].problems(rule, path, complete)


