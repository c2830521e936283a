"""Tests of nethub.specs: NetPyNE-compatible NetParams / SimConfig, key catalogue and loader."""

from __future__ import annotations

import json
import logging
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from nethub.builder import build
from nethub.errors import SpecError
from nethub.names import close_key
from nethub.specs import (
    NETPARAMS_KEYS,
    RULE_FAMILIES,
    SIMCONFIG_KEYS,
    NetParams,
    SimConfig,
    SpecDict,
    load_model,
    load_simconfig,
    load_spec,
    schema,
)
from nethub.specs.schema import NETWORK_SCALARS, netparam

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "specs"
TUTORIALS = FIXTURES / "netpyne_tutorials"
REFERENCE = FIXTURES / "netpyne_reference"
SAVED = FIXTURES / "saved_output" / "netClamp_model_output_trimmed.json"

# ---------------------------------------------------------------------------------------------
# one example per rule family, using every catalogued key
# ---------------------------------------------------------------------------------------------

SEC = {
    "geom": {"diam": 18.8, "L": "18 + 2*ynorm", "Ra": 123.0, "cm": 1, "nseg": 3,
             "pt3d": [(0, 0, 0, 20), [0, 0, 20, 20]]},
    "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
    "mechs": {"hh": {"gnabar": 0.12, "gkbar": "0.036*xnorm", "gl": [0.003, 0.003, None]},
              "pas": {"g": 3.57e-5, "e": -70}},
    "ions": {"ca": {"e": 130, "i": 5e-5, "o": [2, 2, 2]}},
    "pointps": {"Izhi": {"mod": "Izhi2007b", "loc": 0.5, "vref": "V", "synList": ["AMPA"],
                         "C": 1, "k": "normal(0.7, 0.05)", "celltype": 1}},
    "synMechs": [{"label": "AMPA", "loc": 0.5}],
    "spikeGenLoc": 0.5, "vinit": -71, "weightNorm": [1.0, 1.1, 1.2], "threshold": 5.0,
}
POINT_CELL = {
    "rate": [5, 10], "rates": [[10, 20], [0, 500]], "interval": "uniform(20,100)", "number": 1e9,
    "start": 1, "noise": 0.5, "seed": 2, "spkTimes": [[1, 2], [3]],
    "pulses": [{"rate": 60, "interval": 10, "noise": 0.2, "start": 200, "end": 300}],
    "spikePattern": {"type": "rhythmic", "sync": False, "start": -1, "startMin": 0,
                     "startMax": 5, "startStd": 1, "stop": -1, "tstop": 100, "repeats": 2,
                     "freq": 8, "freqStd": 0.1, "eventsPerCycle": 2, "distribution": "normal",
                     "numspikes": 1, "inc": 1, "frequency": 5, "mu": 100, "sigma": 2},
}
CELL_RULE = {
    "conds": {"cellType": "PYR", "cellModel": ["HH"], "pop": "E", "ynorm": [0.1, 0.5],
              "layer": "5B"},
    "secs": {"soma": {k: v for k, v in SEC.items() if k != "topol"}, "dend": SEC},
    "secLists": {"all": ["soma", "dend"]},
    "globals": {"celsius": 34},
    "cellModel": "IntFire2",
    "params": {**POINT_CELL, "taum": 10},
    "vars": {"gbar": "normal(1, 0.1)", "e": -70},
    "diversityFraction": 0.5,
    "_import": {"function": "importCellParams", "fileName": "cell.hoc", "cellName": "C",
                      "cellArgs": {}, "importSynMechs": False, "somaAtOrigin": True,
                      "cellInstance": False, "renameSecs": {"soma_0": "soma"}, "baseDir": "/x"},
}
POP_RULE = {
    "cellType": "PYR", "cellModel": "HH", "numCells": 20, "density": "1e5*exp(-ynorm)",
    "gridSpacing": [10, 10, 10], "xRange": [0, 100], "yRange": [0, 100], "zRange": [0, 100],
    "xnormRange": [0, 1], "ynormRange": [0, 0.5], "znormRange": [0, 1],
    "cellsList": [{"x": 1, "ynorm": 0.4, "z": 2, "spkTimes": [1, 2], "params": {},
                   "cellLabel": "gs15"}],
    "dynamicRates": {"times": [0, 100], "rates": [5, 10]},
    "diversity": True, "originalFormat": "NeuroML2", "pop": "E", "params": {"taum": 5},
    "vref": "V", **POINT_CELL,
}
SYNMECH_RULE = {
    "mod": "Exp2Syn", "loc": 0.5, "label": "AMPA", "tau1": 0.1, "tau2": "5 + post_ynorm", "e": 0,
    "selfNetCon": {"sec": "soma", "loc": 0.5, "weight": -1, "delay": 0, "threshold": -15},
    "pointerParams": {"target_var": "vpeer", "source_var": "v", "bidirectional": True},
}
CONN_RULE = {
    "preConds": {"pop": "E"}, "postConds": {"cellType": ["PYR"], "y": [100, 1000]},
    "connFunc": "probConn", "probability": "0.4*exp(-dist_3D/probLengthConst)",
    "convergence": 3, "divergence": "uniform(1,5)", "connList": [[0, 1], (1, 0)],
    "synMech": ["AMPA", "NMDA"], "weight": [0.01, 0.02], "delay": "dist_3D/propVelocity",
    "loc": [[0.1, 0.5], [0.3, 0.4]], "synsPerConn": 2, "sec": ["soma", "dend"],
    "synMechWeightFactor": [1, 0.5], "synMechDelayFactor": [1, 1], "synMechLocFactor": [1, 1],
    "synMechweightFactor": [1, 0.5], "synMechdelayFactor": [1, 1], "synMechlocFactor": [1, 1],
    "synMechsynsPerConnFactor": [1, 1], "disynapticBias": None,
    "shape": {"switchOnOff": [200, 800], "pulseType": "square", "pulsePeriod": 100,
              "pulseWidth": 50},
    "plast": {"mech": "STDP", "params": {"hebbwt": 0.01}},
    "plasticity": {"mech": "STDP", "params": {"hebbwt": 0.01}},
    "weightIndex": 0, "gapJunction": True, "preSec": "soma", "preLoc": 0.5,
    "preSecs": ["soma", "soma"], "preLocs": [0.5, 0.5], "threshold": 10,
    "distributeSynsUniformly": False, "connRandomSecFromList": True,
    "distinctSecsPerSynMech": False, "label": "E->I",
}
SUBCONN_RULE = {
    "preConds": {"pop": "E"}, "postConds": {"pop": "I"}, "groupSynMechs": ["AMPA", "NMDA"],
    "sec": "all",
    "density": {"type": "2Dmap", "gridX": [0, 10], "gridY": [0, 50], "fixedSomaY": 0,
                "gridValues": [[1, 2], [3, 4]], "ref_sec": "soma", "ref_seg": 0.5,
                "target_distance": 100, "coord": "cartesian"},
}
STIM_SOURCE_RULE = {
    "type": "IClamp", "originalFormat": "NeuroML2", "rate": "variable", "interval": 10,
    "start": 1, "number": 5, "noise": 0.1, "seed": 1,
    "shape": {"pulseType": "gaussian", "pulseWidth": 1, "pulsePeriod": 10, "switchOnOff": [1]},
    "plast": {"mech": "STDP", "params": {}}, "del": 300, "dur": [0, 50, 200],
    "amp": "uniform(0.4,0.5)", "gain": 1e5, "rstim": 1, "tau1": 0.1, "tau2": 0, "onset": 5,
    "tau": 5, "gmax": "post_ynorm", "e": 0, "i": 0, "vc": -65, "dur1": 1, "dur2": 2, "dur3": 3,
    "amp1": 1, "amp2": 2, "amp3": 3, "rs": 1, "vClampAmp": [1, 2, 3], "vClampDur": [1, 2, 3],
    "waveform": {"type": "pulse", "amp": 1}, "mod_based": False, "myStimParam": 3,
}
STIM_TARGET_RULE = {
    "source": "bkg", "conds": {"pop": "S", "cellList": [0, 2], "ynorm": [0, 0.5], "x": [0, 50]},
    "sec": "soma", "loc": 0.8, "weight": "0.1+normal(0.2,0.05)", "delay": 1, "synsPerConn": 1,
    "synMech": "AMPA", "synMechWeightFactor": [1], "synMechDelayFactor": [1],
    "synMechLocFactor": [1],
}
RXD = {
    "regions": {
        "cyt": {"cells": "all", "secs": "all", "nrn_region": "i", "dimension": 1, "dx": None,
                "geometry": {"class": "FractionalVolume", "args": {"volume_fraction": 0.8}}},
        "ecs": {"extracellular": True, "xlo": 0, "ylo": 0, "zlo": 0, "xhi": 100, "yhi": 100,
                "zhi": 100, "dx": 5, "volume_fraction": 0.2, "tortuosity": 1.6},
    },
    "extracellular": {"xlo": 0, "ylo": 0, "zlo": 0, "xhi": 1, "yhi": 1, "zhi": 1, "dx": [1, 1, 1],
                      "volume_fraction": 0.2, "tortuosity": 1.6},
    "species": {"ca": {"regions": ["cyt"], "d": 0.25, "charge": 2, "initial": "1e-4",
                       "ecs_boundary_conditions": None, "atolscale": 1e-6, "name": "ca"}},
    "states": {"h": {"regions": "cyt", "initial": 0.8, "name": "h"}},
    "reactions": {"r": {"reactant": "2*ca", "product": "buf", "rate_f": 1, "rate_b": None,
                        "regions": None, "custom_dynamics": None}},
    "multicompartmentReactions": {"m": {"reactant": "ca[cyt]", "product": "ca[ecs]",
                                        "rate_f": "k", "membrane": "mem", "membrane_flux": True,
                                        "scale_by_area": True}},
    "parameters": {"p": {"regions": "cyt", "name": None, "charge": 0, "value": 1}},
    "rates": {"q": {"species": "h", "rate": "(0.8 - h)/10", "regions": ["cyt"],
                    "membrane_flux": False}},
    "constants": {"k": 1.5, "v": [1, 2]},
}
EXAMPLES = {
    "cellParams": CELL_RULE, "popParams": POP_RULE, "synMechParams": SYNMECH_RULE,
    "connParams": CONN_RULE, "subConnParams": SUBCONN_RULE,
    "stimSourceParams": STIM_SOURCE_RULE, "stimTargetParams": STIM_TARGET_RULE,
}
NETPARAMS_TOP = {
    "_labelid": 3, "scale": 0.5, "sizeX": 200, "sizeY": 1000.0, "sizeZ": 50, "shape": "cylinder",
    "rotateCellsRandomly": [0, 3.0], "defineCellShapes": True,
    "correctBorder": {"threshold": [100, 150, 150], "yborders": [0, 1]},
    "cellsVisualizationSpacingMultiplier": [1, 2, 1], "scaleConnWeight": 2,
    "scaleConnWeightNetStims": 0.5, "scaleConnWeightModels": {"HH": 0.1},
    "defaultWeight": 0.1, "defaultDelay": 2, "defaultThreshold": 5, "propVelocity": 100.0,
    "mapping": {"numE": "popParams.E.numCells", "w": ["connParams", "E->I", "weight"]},
    "popTagsCopiedToCells": ["cellModel", "cellType", "layer"], "version": "v1",
}
SIMCONFIG_ALL = {
    "duration": 500, "tstop": 500, "dt": 0.05, "hParams": {"celsius": 34, "v_init": -80},
    "coreneuron": False, "dump_coreneuron_model": False, "random123": True,
    "cache_efficient": True, "gpu": False, "cvode_active": False, "use_fast_imem": True,
    "cvode_atol": 1e-6, "seeds": {"conn": 4321, "stim": 1234, "loc": 4321, "cell": 1},
    "rand123GlobalIndex": 3, "createNEURONObj": 1, "createPyStruct": True, "addSynMechs": True,
    "includeParamsLabel": False, "gatherOnlySimData": False,
    "compactConnFormat": ["preGid", "weight"], "connRandomSecFromList": True,
    "distributeSynsUniformly": True, "pt3dRelativeToCellLocation": True,
    "invertedYCoord": True, "allowSelfConns": False, "allowConnsWithWeight0": True,
    "oneSynPerNetcon": True, "saveCellSecs": False, "saveCellConns": True, "timing": True,
    "saveTiming": False, "printRunTime": 0.1, "printPopAvgRates": [500, 1000],
    "printSynsAfterRule": False, "verbose": 0, "progressBar": 0,
    "recordCells": [5, "E", ("L5", [4, 5]), ("I", 0)],
    "recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v", "conds": {"pop": "E"}},
                     "g": {"sec": "soma", "loc": 0.5, "synMech": "AMPA", "var": "g", "index": 0},
                     "u": {"sec": "soma", "pointp": "Izhi", "var": "u"},
                     "m": {"sec": "soma", "loc": 0.5, "mech": "hh", "var": "m"},
                     "s": {"sec": "soma", "loc": 0.5, "stim": "Input_1", "var": "i"}},
    "recordCellsSpikes": ["E", 3], "recordStim": True, "recordLFP": [[50, 100, 50]],
    "recordDipole": False, "recordDipolesHNN": False, "saveIMembrane": [3, "PYR", ("PV2", 5)],
    "saveLFPCells": True, "saveLFPPops": ["PYR"], "saveDipoleCells": False,
    "saveDipolePops": False, "recordStep": 0.1, "recordTime": True, "simLabel": "run1",
    "saveFolder": "out", "filename": "model_output", "saveDataInclude": ["simData", "net"],
    "timestampFilename": False, "savePickle": False, "saveJson": True, "saveMat": False,
    "saveCSV": False, "saveDpk": False, "saveHDF5": False, "saveDat": False,
    "backupCfgFile": ["cfg.py", "backupcfg/"], "validateNetParams": True,
    "analysis": {"plotRaster": {"orderBy": "y", "figSize": (8, 8)}, "plotConn": True},
    "use_local_dt": False, "saveWeights": False, "intervalFolder": "tmp",
    "validateNetParamsMechs": False, "checkErrors": False, "checkErrorsVerbose": False,
    "exitOnError": False, "saveTxt": False, "recordSpikesGids": -1,
    "nethubMergeSynapses": False,
    "nethubCoreneuron": "auto",
    "nethubExact": False,
    "nethubLFPMethod": "point",
    "nethubLFPSigma": 0.3,
}


def full_netparams() -> NetParams:
    """A NetParams using every catalogued key (rules are schema-valid, not runnable)."""
    net = NetParams()
    for name, value in NETPARAMS_TOP.items():
        setattr(net, name, value)
    for family, rule in EXAMPLES.items():
        getattr(net, family)["r"] = rule
    net.synMechParams["AMPA"] = SYNMECH_RULE
    net.synMechParams["NMDA"] = {"mod": "Exp2Syn"}
    net.stimSourceParams["bkg"] = {"type": "NetStim"}
    net.rxdParams = RXD
    return net


@pytest.fixture
def tutorials(tmp_path: Path) -> Path:
    """A private copy of the NetPyNE tutorial fixtures."""
    dest = tmp_path / "tutorials"
    shutil.copytree(TUTORIALS, dest)
    return dest


# ---------------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------------


def test_examples_cover_the_whole_catalogue():
    for family, rule in EXAMPLES.items():
        assert set(rule) >= set(schema.RULE_SPECS[family].keys), family
    assert set(SEC) == set(schema.SEC.keys)
    assert set(SEC["geom"]) == set(schema.GEOM.keys)
    assert set(POINT_CELL["spikePattern"]) == set(schema.SPIKE_PATTERN.keys)
    assert set(RXD) == set(schema.RXD_SECTIONS)
    assert set(NETPARAMS_TOP) | set(RULE_FAMILIES) == set(NETPARAMS_KEYS)
    assert set(SIMCONFIG_ALL) == set(SIMCONFIG_KEYS)


def test_every_key_is_documented():
    for table in (NETPARAMS_KEYS, SIMCONFIG_KEYS, schema.RXD_SECTIONS):
        assert all(key.doc for key in table.values())
    for spec in schema.RULE_SPECS.values():
        assert all(key.doc for key in spec.keys.values())


def test_defaults_match_netpyne_and_are_valid():
    net, cfg = NetParams(), SimConfig()
    net.validate()
    cfg.validate()
    assert net.sizeY == 100 and net.shape == "cuboid" and net.propVelocity == 500.0
    assert net.popTagsCopiedToCells == ["cellModel", "cellType"]
    assert cfg.duration == 1000 and cfg.dt == 0.025 and cfg.recordCellsSpikes == -1
    assert cfg.hParams == {"celsius": 6.3, "v_init": -65.0, "clamp_resist": 0.001}


# ---------------------------------------------------------------------------------------------
# every key family accepted
# ---------------------------------------------------------------------------------------------


def test_every_netparams_key_family_accepted():
    net = full_netparams()
    net.validate()
    assert net.user_attributes == ()
    assert net.cellParams["r"]["secs"]["dend"]["geom"]["nseg"] == 3


def test_every_simconfig_key_accepted():
    cfg = SimConfig(SIMCONFIG_ALL)
    cfg.validate()
    assert cfg.user_attributes == ()
    assert cfg.duration == 500 and cfg["dt"] == 0.05


@pytest.mark.parametrize("family", sorted(EXAMPLES))
def test_add_methods(family):
    net = NetParams()
    method = "add" + family[0].upper() + family[1:]
    getattr(net, method)("x", EXAMPLES[family])
    rule = getattr(net, family)["x"]
    assert isinstance(rule, SpecDict) and rule == EXAMPLES[family]
    assert rule is not EXAMPLES[family]  # copied, as NetPyNE's Dict(params) does


def test_automatic_labels_are_strings():
    net = NetParams()
    net.addPopParams(params={"cellType": "A", "numCells": 1})
    net.addPopParams(params={"cellType": "B", "numCells": 1})
    net.popParams[7] = {"cellType": "C"}
    assert list(net.popParams) == ["0", "1", "7"]
    assert net.to_dict()["_labelid"] == 2


# ---------------------------------------------------------------------------------------------
# NetPyNE access patterns
# ---------------------------------------------------------------------------------------------


def test_attribute_and_item_access():
    net = NetParams()
    net["sizeX"] = 300
    net.popParams["E"] = {"cellType": "PYR", "numCells": 10}
    assert net.sizeX == 300 and net["popParams"]["E"]["numCells"] == 10
    assert net.popParams.E["cellType"] == "PYR"
    assert "sizeX" in net and "nothing" not in net and net.get("nothing", 1) == 1
    with pytest.raises(KeyError):
        net["nothing"]
    with pytest.raises(AttributeError):
        net.nothing  # noqa: B018
    cfg = SimConfig()
    cfg["duration"] = 200
    cfg.recordTraces = {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}
    cfg.analysis["plotRaster"] = {"saveFig": True}
    cfg.addAnalysis("plotTraces", {"include": [1]})
    assert cfg.duration == 200 and set(cfg.analysis) == {"plotRaster", "plotTraces"}
    assert "duration" in cfg and cfg.get("nope") is None and "duration" in list(cfg)


def test_rules_keep_identity_like_netpyne():
    net = NetParams()
    cell = {"secs": {}}
    net.cellParams["PYR"] = cell
    cell["secs"]["soma"] = {"geom": {"diam": 10, "L": 10}}  # changed after assignment
    assert net.to_dict()["cellParams"]["PYR"]["secs"]["soma"]["geom"]["L"] == 10


def test_specdict_autovivifies_like_netpyne_dict():
    cell = SpecDict()
    cell.secs.soma.geom = {"diam": 18.8, "L": 18.8}
    cell["secs"]["soma"]["mechs"]["hh"] = {"gnabar": 0.12}
    net = NetParams()
    net.cellParams["PYR"] = cell
    assert net.to_dict()["cellParams"]["PYR"] == {
        "secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8}, "mechs": {"hh": {"gnabar": 0.12}}}}
    }
    assert not hasattr(cell, "_private")


def test_user_attributes(caplog):
    net = NetParams()
    net.probLengthConst = 150.0
    cfg = SimConfig()
    cfg.myParam = 5
    with caplog.at_level(logging.WARNING, logger="nethub.specs"):
        cfg.durration = 10
    assert net.user_attributes == ("probLengthConst",)
    assert cfg.user_attributes == ("myParam", "durration")
    assert "did you mean 'duration'" in caplog.text
    assert net.to_dict()["probLengthConst"] == 150.0 and cfg.to_dict()["myParam"] == 5


def test_user_attribute_must_be_jsonable():
    net = NetParams()
    net.func = len
    with pytest.raises(SpecError, match=r"netParams\.func: expected JSON-compatible value"):
        net.validate()
    cfg = SimConfig()
    cfg.obj = object()
    with pytest.raises(SpecError, match=r"cfg\.obj"):
        cfg.to_dict()


def test_rename_setparam_template_and_mapping():
    net = NetParams()
    net.addCellParamsTemplate("BS", {"cellType": "BS"}, template="BallStick_HH")
    net.renameCellParamsSec("BS", "soma", "body")
    secs = net.cellParams["BS"]["secs"]
    assert set(secs) == {"body", "dend"} and secs["dend"]["topol"]["parentSec"] == "body"
    net.popParams["E"] = {"cellType": "BS", "numCells": 5}
    net.popParams.setParam("E", "density", 1000)
    assert net.popParams["E"] == {"cellType": "BS", "density": 1000}
    net.mapping = {"numE": "popParams.E.numCells"}
    cfg = SimConfig()
    cfg.numE = 42
    net.setCfgMapping(cfg)
    assert net.popParams["E"]["numCells"] == 42
    net.validate()


def test_sec_list_and_pt3d_helpers():
    net = NetParams()
    net.cellParams["C"] = {"secs": {
        "soma": {"geom": {"pt3d": [[0, 0, 0, 10], [0, 10, 0, 10]]}},
        "dend": {"geom": {"pt3d": [[0, 10, 0, 2], [0, 200, 0, 2], [0, 400, 0, 2]]},
                 "topol": {"parentSec": "soma", "parentX": 1, "childX": 0}}}}
    net.addCellParamsSecList("C", "far", somaDist=[100, 1000])
    assert net.cellParams["C"]["secLists"]["far"] == ["dend"]
    net.swapCellParamsPt3d("C", 1, 2)
    assert net.cellParams["C"]["secs"]["dend"]["geom"]["pt3d"][1] == [0.0, 0.0, 200.0, 2.0]


# ---------------------------------------------------------------------------------------------
# unknown keys and wrong types
# ---------------------------------------------------------------------------------------------

CONN = {"preConds": {"pop": "E"}, "postConds": {"pop": "I"}}
BAD_RULES = [
    ("connParams", {**CONN, "probabilty": 0.1},
     ["unknown key 'probabilty' in connParams['E->I'] (valid: ", "did you mean 'probability'"]),
    ("connParams", {**CONN, "synReceptor": "AMPA"}, ["did you mean 'synMech'"]),
    ("connParams", {**CONN, "weight": {"a": 1}},
     ["connParams['E->I']['weight']: expected number, expression string or list of numbers, "
      "got dict"]),
    ("connParams", {**CONN, "connFunc": "probConnn"},
     ["connParams['E->I']['connFunc']: expected one of 'fullConn', 'probConn'"]),
    ("connParams", {**CONN, "preConds": {"pop": "E", "x": [0]}},
     ["connParams['E->I']['preConds']['x']: expected list of 2 numbers [min, max], got list"]),
    ("connParams", {**CONN, "connList": [[0, 1, 2]]}, ["connParams['E->I']['connList'][0]"]),
    ("popParams", {"cellType": "PYR", "numCells": -5},
     ["popParams['E->I']['numCells']: expected non-negative number, got int -5"]),
    ("popParams", {"cellType": "PYR", "numCells": "20"},
     ["['numCells']: expected non-negative number, got str '20'"]),
    ("popParams", {"cellType": "PYR", "numcells": 5}, ["did you mean 'numCells'"]),
    ("popParams", {"cellType": "PYR", "cellsList": [{"x": "left"}]},
     ["popParams['E->I']['cellsList'][0]['x']: expected number"]),
    ("popParams", {"cellModel": "VecStim", "spikePattern": {"type": "square"}},
     ["['spikePattern']['type']: expected one of 'rhythmic'"]),
    ("cellParams", {"secs": {"soma": {"geom": {"diameter": 10}}}},
     ["unknown key 'diameter' in cellParams['E->I']['secs']['soma']['geom']"]),
    ("cellParams", {"secs": {"soma": {"geom": {"pt3d": [[0, 0, 0]]}}}},
     ["['pt3d'][0]: expected [x, y, z, diam]"]),
    ("cellParams", {"secs": {"soma": {"topol": {"parentX": "one"}}}},
     ["cellParams['E->I']['secs']['soma']['topol']['parentX']: expected location between 0 "
      "and 1, got str"]),
    ("cellParams", {"secs": {"soma": {"ions": {"ca": {"x": 1}}}}},
     ["unknown key 'x' in cellParams['E->I']['secs']['soma']['ions']['ca']"]),
    ("cellParams", {"secs": {"soma": {"mechs": {"hh": {"gnabar": {"a": 1}}}}}},
     ["['mechs']['hh']['gnabar']: expected number, expression string"]),
    ("cellParams", {"secs": {"soma": {"vinit": "cold"}}}, ["['vinit']: expected number"]),
    ("cellParams", {"secLists": {"all": "soma"}}, ["['secLists']['all']: expected list"]),
    ("cellParams", {"vars": {"g": [1]}}, ["['vars']['g']: expected number or expression"]),
    ("cellParams", {"conds": {"ynorm": [0.1]}}, ["['conds']['ynorm']: expected list of 2"]),
    ("cellParams", {"globals": {"celsius": "hot"}}, ["['globals']['celsius']: expected number"]),
    ("cellParams", {"secs": "soma"}, ["cellParams['E->I']['secs']: expected dict of section"]),
    ("synMechParams", {"mod": 5}, ["synMechParams['E->I']['mod']: expected string, got int 5"]),
    ("synMechParams", {"mod": "Exp2Syn", "selfNetCon": {"weigth": 1}},
     ["unknown key 'weigth' in synMechParams['E->I']['selfNetCon']"]),
    ("subConnParams", {**CONN, "density": {"type": "3Dmap"}}, ["['density']"]),
    ("stimSourceParams", {"type": "NetStim", "noise": 2}, ["['noise']: expected number between"]),
    ("stimTargetParams", {"source": "bkg", "conds": {"cellList": "all2"}}, ["['cellList']"]),
    ("stimTargetParams", {"source": "bkg", "conds": {}, "sinapse": 1}, ["unknown key 'sinapse'"]),
    ("popParams", [1, 2], ["popParams['E->I']: expected pop rule dict, got list"]),
]


@pytest.mark.parametrize(("family", "rule", "fragments"), BAD_RULES)
def test_bad_rules_are_rejected_with_key_path(family, rule, fragments):
    net = NetParams()
    with pytest.raises(SpecError) as info:
        getattr(net, family)["E->I"] = rule
    for fragment in fragments:
        assert fragment in str(info.value)
    assert "E->I" not in getattr(net, family)


@pytest.mark.parametrize(("section", "value", "fragment"), [
    ("regions", {"cyt": {"nrn_region": "x"}}, "rxdParams['regions']['cyt']['nrn_region']"),
    ("species", {"ca": {"d": 1}}, "rxdParams['species']['ca']: missing required key 'regions'"),
    ("reactions", {"r": {"reactant": "a", "product": "b", "rate_f": 1, "ratef": 2}},
     "unknown key 'ratef' in rxdParams['reactions']['r']"),
    ("region", {}, "unknown key 'region' in rxdParams (valid: "),
])
def test_bad_rxd_rejected(section, value, fragment):
    net = NetParams()
    with pytest.raises(SpecError, match=None) as info:
        net.rxdParams[section] = value
        net.validate()
    assert fragment in str(info.value)


@pytest.mark.parametrize(("obj", "name", "value", "fragment"), [
    (NetParams, "sizeX", -1, "netParams.sizeX: expected non-negative number, got int -1"),
    (NetParams, "shape", "sphere", "netParams.shape: expected one of 'cuboid'"),
    (NetParams, "correctBorder", {"xborders": [0, 1]}, "missing required key 'threshold'"),
    (NetParams, "popParams", 3, "netParams.popParams: expected dict, got int 3"),
    (SimConfig, "duration", "long", "cfg.duration: expected non-negative number, got str"),
    (SimConfig, "dt", 0, "cfg.dt: expected positive number, got int 0"),
    (SimConfig, "seeds", {"conn": 1, "Stim": 2}, "did you mean 'stim'"),
    (SimConfig, "recordTraces", {"V": {"sec": "soma"}}, "cfg.recordTraces['V']: missing"),
    (SimConfig, "recordTraces", {"V": {"var": "v", "sect": "soma"}}, "did you mean 'sec'"),
    (SimConfig, "analysis", {"plotRaster": 3}, "cfg.analysis['plotRaster']: expected boolean"),
    (SimConfig, "recordLFP", [[1, 2]], "cfg.recordLFP"),
])
def test_bad_top_level_values(obj, name, value, fragment):
    with pytest.raises(SpecError) as info:
        setattr(obj(), name, value)
    assert fragment in str(info.value)


def test_changes_after_assignment_are_caught_by_validate():
    net = NetParams()
    net.popParams["E"] = {"cellType": "PYR", "numCells": 10}
    net.popParams["E"]["numCells"] = "many"
    net.connParams["E->E"] = {"preConds": {"pop": "E"}}  # postConds added later, or never
    with pytest.raises(SpecError) as info:
        net.validate()
    message = str(info.value)
    assert "2 problems in netParams" in message
    assert "popParams['E']['numCells']: expected non-negative number, got str 'many'" in message
    assert "connParams['E->E']: missing required key 'postConds'" in message


def test_references_between_rules():
    net = NetParams()
    net.stimSourceParams["bkg"] = {"type": "NetStim", "rate": 10}
    net.stimTargetParams["t"] = {"source": "bgk", "conds": {}, "synMech": "AMPA"}
    net.cellParams["C"] = {"secs": {"dend": {"topol": {"parentSec": "soma", "parentX": 1,
                                                       "childX": 0}}}}
    problems = net.problems()
    assert any("'bgk' is not a stimSourceParams label (defined: bkg)" in p for p in problems)
    assert any("'AMPA' is not a synMechParams label" in p for p in problems)
    assert any("['topol']['parentSec']: 'soma' is not a section of this cell" in p
               for p in problems)


def test_free_keys_where_netpyne_allows_them():
    net = NetParams()
    net.popParams["art"] = {"cellModel": "IntFire2", "numCells": 5, "taum": 100, "ib": 0.5}
    net.synMechParams["s"] = {"mod": "MyExp2SynBB", "tau1": 0.05, "Vwt": 0, "gmax": 1}
    net.stimSourceParams["x"] = {"type": "MyClamp", "custom": "uniform(0, 1)"}
    net.connParams["c"] = {"preConds": {"layer": "5B", "pop": "art"}, "postConds": {}}
    net.cellParams["c"] = {"secs": {"s": {"mechs": {"anything": {"x": 1}}}}}
    net.validate()


# ---------------------------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------------------------


def test_round_trip_full_spec():
    net = full_netparams()
    data = net.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = NetParams.from_dict(json.loads(json.dumps(data)))
    assert again.to_dict() == data
    cfg = SimConfig(SIMCONFIG_ALL)
    data = cfg.to_dict()
    assert SimConfig.from_dict(json.loads(json.dumps(data))).to_dict() == data


def test_to_dict_makes_plain_json_types():
    net = NetParams()
    net.popParams["V"] = {"cellModel": "VecStim", "numCells": np.int64(3),
                          "spkTimes": np.array([1.0, 2.0]), "xRange": (0, 10)}
    net.weights = np.float32(0.5)
    out = net.to_dict()
    pop = out["popParams"]["V"]
    assert pop == {"cellModel": "VecStim", "numCells": 3, "spkTimes": [1.0, 2.0],
                   "xRange": [0, 10]}
    assert type(pop["numCells"]) is int and type(out["weights"]) is float


def test_saved_output_layout_and_legacy_keys():
    data = json.loads(SAVED.read_text())
    net = NetParams.from_dict(data)  # {'net': {'params': ...}} layout
    cfg = SimConfig.from_dict(data)  # {'simConfig': ...}
    assert set(net.popParams) == {"E2", "E4", "E5", "I2", "I4", "I5"}
    assert net.user_attributes == ("probLengthConst",)
    assert cfg.user_attributes == ()  # checkErrors etc. are known (legacy) keys
    assert NetParams.from_dict(net.to_dict()).to_dict() == net.to_dict()


def test_from_dict_drops_netpyne_runtime_caches():
    net = NetParams.from_dict({"sizeX": 10, "_cellParamStringFuncs": {"x": 1}})
    assert "_cellParamStringFuncs" not in net.to_dict()


@pytest.mark.parametrize("name", sorted(p.stem for p in REFERENCE.glob("*.json")))
def test_to_dict_equals_real_netpyne_todict(tutorials, name):
    reference = json.loads((REFERENCE / f"{name}.json").read_text())
    net, cfg = load_spec(tutorials / "doc_code" / f"{name}.py")
    assert net.to_dict() == reference["netParams"]
    assert cfg.to_dict() == reference["simConfig"]


# ---------------------------------------------------------------------------------------------
# loading NetPyNE files unchanged
# ---------------------------------------------------------------------------------------------

DOC_FILES = ["tut1", "tut2", "tut3", "tut4", "tut5", "tut6", "tut7", "tut_artif", "tut_gap",
             "tut8_netParams", "tut8_init", "HHTut"]


@pytest.mark.parametrize("name", DOC_FILES)
def test_tutorial_files_load(tutorials, monkeypatch, name):
    monkeypatch.chdir(tutorials / "doc_code")
    loaded = load_model(tutorials / "doc_code" / f"{name}.py")
    assert isinstance(loaded.netparams, NetParams) and isinstance(loaded.simconfig, SimConfig)
    assert loaded.netparams.popParams
    loaded.netparams.validate()


def test_sim_calls_are_recorded_not_run(tutorials):
    loaded = load_model(tutorials / "doc_code" / "tut7.py")
    names = [call.name for call in loaded.sim_calls]
    assert names[:3] == ["sim.initialize", "sim.net.createPops", "sim.net.createCells"]
    assert "sim.net.modifyConns" in names and "sim.analysis.plotData" in names
    assert loaded.sim_calls[0].kwargs["netParams"] is loaded.netparams
    tut1 = load_model(tutorials / "doc_code" / "tut1.py")  # defines nothing; passes HHTut's
    assert [c.name for c in tut1.sim_calls] == ["sim.createSimulateAnalyze"]
    assert tut1.netparams.popParams["PYR"]["numCells"] == 200


def test_cfg_file_seeds_from_main_and_from_cfg_import(tutorials):
    code = tutorials / "doc_code"
    net, cfg = load_spec(code / "tut8_netParams.py", cfg_path=code / "tut8_cfg.py")
    assert net.synMechParams["exc"]["tau2"] == 5 and cfg.user_attributes == (
        "synMechTau2", "connWeight")
    # with a different cfg given, `from __main__ import cfg` must see that one
    alt = tutorials / "alt_cfg.py"
    alt.write_text("from netpyne import specs\ncfg = specs.SimConfig()\ncfg.synMechTau2 = 9\n"
                   "cfg.connWeight = 0.5\n")
    net, cfg = load_spec(code / "tut8_netParams.py", cfg_path=alt)
    assert net.synMechParams["exc"]["tau2"] == 9 and cfg.connWeight == 0.5
    # without a cfg, the file falls back to `from tut8_cfg import cfg`
    net, cfg = load_spec(code / "tut8_netParams.py")
    assert net.connParams["S->M"]["weight"] == 0.01 and cfg.synMechTau2 == 5


def test_from_cfg_import_cfg_layout(tutorials):
    src = tutorials / "HybridTut" / "src"
    net, cfg = load_spec(src / "netParams.py", src / "cfg.py")
    assert set(net.cellParams) == {"PYR_HH", "PYR_Izhi"} and cfg.filename == "mpiHybridTut"
    (src / "netParams2.py").write_text("from cfg import cfg\nfrom netpyne import specs\n"
                                       "netParams = specs.NetParams()\n"
                                       "netParams.sizeX = cfg.duration / 10\n")
    net, cfg = load_spec(src / "netParams2.py", src / "cfg.py")
    assert net.sizeX == 100


@pytest.mark.parametrize("example", ["HHTut", "HybridTut", "saving"])
def test_index_files_and_init_scripts(tutorials, monkeypatch, example):
    root = tutorials / example
    net, cfg = load_spec(root / "index.npjson")
    same, _ = load_spec(root)  # a folder with index.npjson
    assert net.to_dict() == same.to_dict() and cfg is not None
    monkeypatch.chdir(root)  # NetPyNE runs init.py from the model root
    loaded = load_model(root / "src" / "init.py")
    assert loaded.sim_calls[0].name == "sim.loadModel"
    assert loaded.netparams.to_dict() == net.to_dict()


def test_hhtut_index_runs_the_single_file_once(tutorials):
    loaded = load_model(tutorials / "HHTut" / "index.npjson")
    assert loaded.simconfig.filename == "HHTut" and loaded.simconfig.validateNetParams


def test_saving_init_changes_sim_cfg(tutorials, monkeypatch):
    monkeypatch.chdir(tutorials / "saving")
    loaded = load_model(tutorials / "saving" / "src" / "init.py")
    assert loaded.simconfig.saveJson is True
    assert loaded.simconfig.compactConnFormat == ["preGid", "sec", "loc", "synMech", "weight",
                                                  "delay"]


def test_json_files(tmp_path):
    net, cfg = load_spec(SAVED)
    assert net.shape == "cylinder" and cfg.duration == 1000
    bare = tmp_path / "net.json"
    bare.write_text(json.dumps(net.to_dict()))
    again, none = load_spec(bare)
    assert none is None and again.to_dict() == net.to_dict()
    cfg_file = tmp_path / "cfg.json"
    cfg.save(cfg_file)
    _, cfg2 = load_spec(bare, cfg_path=cfg_file)
    assert cfg2.to_dict() == cfg.to_dict()
    assert load_simconfig(cfg_file).to_dict() == cfg.to_dict()
    saved = tmp_path / "saved.json"
    net.save(saved)
    assert load_spec(saved)[0].to_dict() == net.to_dict()


def test_tut_import_records_imports_but_cannot_read_imported_sections(tutorials):
    with pytest.raises(SpecError) as info:
        load_spec(tutorials / "doc_code" / "tut_import.py")
    message = str(info.value)
    assert "tut_import.py" in message and "when the network is built" in message
    assert "HOC converter" not in message
    assert "cellParams['PYR_HH3D_hoc_rule'] is imported from 'geom.hoc'" in message


def test_import_cell_params_is_recorded(tmp_path):
    model = tmp_path / "model.py"
    model.write_text(
        "from netpyne import specs\n"
        "netParams = specs.NetParams()\n"
        "rule = netParams.importCellParams(label='PT', conds={'cellType': 'PT'},\n"
        "    fileName='cells/PTcell.hoc', cellName='PTcell', cellArgs=[1, 2],\n"
        "    importSynMechs=True)\n"
        "netParams.renameCellParamsSec('PT', 'soma_0', 'soma')\n"
        "rule['secs']['soma']['vinit'] = -70\n"
        "rule.secs.axon.spikeGenLoc = 0.5\n"
        "netParams.popParams['PT'] = {'cellType': 'PT', 'numCells': 2}\n"
        "netParams.connParams['x'] = {'preConds': {}, 'postConds': {}, 'synMech': 'PTcell_AMPA'}\n"
    )
    net, cfg = load_spec(model)
    assert cfg is None
    rule = net.to_dict()["cellParams"]["PT"]
    request = rule["_import"]
    assert request["function"] == "importCellParams" and request["fileName"] == "cells/PTcell.hoc"
    assert request["cellArgs"] == [1, 2] and request["importSynMechs"] is True
    assert request["renameSecs"] == {"soma_0": "soma"} and request["baseDir"] == str(tmp_path)
    assert rule["secs"] == {"soma": {"vinit": -70}, "axon": {"spikeGenLoc": 0.5}}
    assert NetParams.from_dict(net.to_dict()).to_dict() == net.to_dict()


def test_load_cell_params_rule(tmp_path):
    (tmp_path / "cells").mkdir()
    rule = {"conds": {"cellType": "X"}, "secs": {"soma": {"geom": {"L": 10}}}}
    (tmp_path / "cells" / "X.json").write_text(json.dumps(rule))
    model = tmp_path / "model.py"
    (tmp_path / "cells" / "Y.pkl").write_bytes(pickle.dumps({**rule, "secs": {"dend": {}}}))
    model = tmp_path / "model.py"
    model.write_text("from netpyne import specs\nnetParams = specs.NetParams()\n"
                     "netParams.loadCellParamsRule('X', 'cells/X.json')\n"
                     "netParams.loadCellParamsRule('Y', 'cells/Y.pkl')\n")
    with pytest.raises(SpecError, match=r"Y\.pkl not read: unpickling"):
        load_spec(model)
    net, _ = load_spec(model, trusted=True)
    assert net.cellParams["X"] == rule
    assert net.cellParams["Y"] == {**rule, "secs": {"dend": {}}}


# ---------------------------------------------------------------------------------------------
# loader errors and hygiene
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "fragment"), [
    ("netParams = (\n", "syntax error at line 1"),
    ("x = 1\n", "defines no netParams"),
    ("import surely_not_a_module_xyz\n", "imports 'surely_not_a_module_xyz'"),
    ("from netpyne import batch\n", "stand-in for NetPyNE provides only netpyne.specs"),
    ("from netpyne import specs\nnetParams = specs.NetParams()\n1 / 0\n",
     "running the model file failed: ZeroDivisionError"),
    ("from netpyne import specs\nn = specs.NetParams()\nn.popParams['E'] = {'numcells': 3}\n",
     "unknown key 'numcells' in popParams['E']"),
    ("import sys\nsys.exit(2)\n", "exited (exit code 2)"),
])
def test_model_file_errors_name_the_file(tmp_path, source, fragment):
    model = tmp_path / "broken_model.py"
    model.write_text(source)
    with pytest.raises(SpecError) as info:
        load_spec(model)
    assert str(model) in str(info.value) and fragment in str(info.value)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(SpecError, match="spec file not found: .*nope.py"):
        load_spec(tmp_path / "nope.py")
    (tmp_path / "x.pkl").write_bytes(b"")
    with pytest.raises(SpecError, match="unsupported spec file type"):
        load_spec(tmp_path / "x.pkl")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(SpecError, match="x.json: not a readable JSON spec"):
        load_spec(tmp_path / "x.json")
    (tmp_path / "y.json").write_text('{"foo": 1}')
    with pytest.raises(SpecError, match="y.json defines no netParams"):
        load_spec(tmp_path / "y.json")
    (tmp_path / "cfg_only.py").write_text("x = 1\n")
    with pytest.raises(SpecError, match="defines no SimConfig"):
        load_simconfig(tmp_path / "cfg_only.py")


def test_loader_restores_the_interpreter(tutorials):
    import __main__

    path_before = list(sys.path)
    modules_before = {k: v for k, v in sys.modules.items() if k.startswith("netpyne")}
    __main__.cfg = "callers cfg"
    try:
        code = tutorials / "doc_code"
        load_spec(code / "tut8_netParams.py", code / "tut8_cfg.py")
        load_spec(code / "tut1.py")
        load_spec(code / "tut8_netParams.py")
        assert __main__.cfg == "callers cfg"
    finally:
        del __main__.cfg
    assert sys.path == path_before
    assert {k: v for k, v in sys.modules.items() if k.startswith("netpyne")} == modules_before
    assert not {"HHTut", "tut8_cfg", "tut8_netParams", "cfg"} & set(sys.modules)
    assert not list(tutorials.rglob("__pycache__"))


def test_helpers_that_need_imported_sections_refuse():
    net = NetParams()
    net.importCellParams("PT", "cells/PTcell.hoc", "PTcell")
    with pytest.raises(SpecError, match="addCellParamsSecList: cellParams\\['PT'\\] is imported"):
        net.addCellParamsSecList("PT", "perisom", somaDist=[0, 50])
    with pytest.raises(SpecError, match="when the network is built"):
        net.swapCellParamsPt3d("PT", 1, 2)
    with pytest.raises(SpecError, match="when the network is built"):
        len(net.cellParams["PT"]["secs"])


def test_code_after_simulate_that_needs_results(tmp_path, caplog):
    model = tmp_path / "run_and_plot.py"
    model.write_text(
        "from netpyne import specs, sim\n"
        "netParams = specs.NetParams()\n"
        "netParams.popParams['E'] = {'cellType': 'PYR', 'numCells': 2}\n"
        "cfg = specs.SimConfig()\n"
        "sim.createSimulateAnalyze(netParams=netParams, simConfig=cfg)\n"
        "t = sim.allSimData['t']\n"  # an empty stand-in: nothing was simulated
        "rate = len(sim.allSimData['spkt']) / t[-1]\n"  # fails: there are no results
    )
    with caplog.at_level(logging.WARNING, logger="nethub.specs"):
        net, cfg = load_spec(model)
    assert net.popParams["E"]["numCells"] == 2 and cfg is not None
    assert "failed after passing netParams to sim.createSimulateAnalyze" in caplog.text


def test_from_main_import_without_cfg(tmp_path):
    model = tmp_path / "netParams.py"
    model.write_text("from __main__ import cfg\n")
    with pytest.raises(SpecError, match="give the cfg file with cfg_path"):
        load_spec(model)


def test_network_scalars_defaults_are_declared_once_in_the_catalogue():
    """The builder keeps NETWORK_SCALARS with the network, defaulted from NETPARAMS_KEYS."""
    assert all(NETPARAMS_KEYS[k].has_default for k in NETWORK_SCALARS)
    assert netparam({}, "defaultThreshold") == 10 and netparam({}, "propVelocity") == 500.0
    assert netparam({"sizeX": 7}, "sizeX") == 7
    tags = netparam({}, "popTagsCopiedToCells")
    tags.append("x")  # a copy: the catalogue's default is not shared
    assert netparam({}, "popTagsCopiedToCells") == ["cellModel", "cellType"]
    net = build({"popParams": {"A": {"cellModel": "NetStim", "numCells": 1}}}, {})
    assert {k: net.params[k] for k in NETWORK_SCALARS} == {
        k: NETPARAMS_KEYS[k].default for k in NETWORK_SCALARS}


def test_close_key_is_a_model_service():
    """``close_key`` ("did you mean") lives in the model layer, used by specs and selections."""
    assert close_key("numcells", ["numCells", "cellType"]) == "numCells"  # case-insensitive
    assert close_key("cellTyp", ["numCells", "cellType"]) == "cellType"
    assert close_key("zzz", ["numCells", "cellType"]) is None
    assert close_key(3, ["numCells", 3]) is None  # non-string names are ignored
