"""A small excitatory/inhibitory network in NetPyNE's spec format (runs in NetPyNE unchanged).

Two populations of Hodgkin-Huxley cells with a passive dendrite, distance-dependent
connectivity and delays, Poisson-like background input and a current pulse.
"""

from netpyne import specs

netParams = specs.NetParams()
cfg = specs.SimConfig()

# --- simulation configuration
cfg.duration = 500  # ms
cfg.dt = 0.025
cfg.seeds = {"conn": 4321, "stim": 1234, "loc": 4321, "cell": 1}
cfg.hParams = {"celsius": 6.3, "v_init": -65.0}
cfg.recordCells = [0, 40]
cfg.recordTraces = {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}}
cfg.recordStep = 0.1
cfg.verbose = False

# --- network
netParams.sizeX = 200
netParams.sizeY = 1000
netParams.sizeZ = 200
netParams.propVelocity = 100.0  # um/ms

netParams.popParams["E"] = {"cellType": "PYR", "numCells": 40, "yRange": [100, 600]}
netParams.popParams["I"] = {"cellType": "BAS", "numCells": 10, "yRange": [100, 600]}

pyr = {"secs": {}}
pyr["secs"]["soma"] = {
    "geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
    "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}},
}
pyr["secs"]["dend"] = {
    "geom": {"diam": 5.0, "L": 150.0, "Ra": 150.0, "cm": 1, "nseg": 3},
    "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
    "mechs": {"pas": {"g": 0.0000357, "e": -70}},
}
netParams.cellParams["PYR"] = pyr

bas = {"secs": {}}
bas["secs"]["soma"] = {
    "geom": {"diam": 10.0, "L": 10.0, "Ra": 110.0},
    "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}},
}
netParams.cellParams["BAS"] = bas

netParams.synMechParams["exc"] = {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0}
netParams.synMechParams["inh"] = {"mod": "Exp2Syn", "tau1": 0.6, "tau2": 8.5, "e": -75}

netParams.stimSourceParams["bkg"] = {"type": "NetStim", "rate": 20, "noise": 0.5, "start": 1}
netParams.stimTargetParams["bkg->all"] = {
    "source": "bkg", "conds": {"cellType": ["PYR", "BAS"]}, "weight": 0.02, "delay": 5,
    "synMech": "exc", "sec": "soma",
}
netParams.stimSourceParams["pulse"] = {"type": "IClamp", "delay": 100, "dur": 50, "amp": 0.2}
netParams.stimTargetParams["pulse->E0"] = {
    "source": "pulse", "conds": {"pop": "E", "cellList": [0, 1, 2]}, "sec": "soma", "loc": 0.5,
}

netParams.connParams["E->all"] = {
    "preConds": {"pop": "E"}, "postConds": {"pop": ["E", "I"]},
    "probability": "0.3*exp(-dist_3D/200)",
    "weight": 0.005, "delay": "dist_3D/propVelocity + 1",
    "synMech": "exc", "sec": "dend", "loc": 0.5,
}
netParams.connParams["I->E"] = {
    "preConds": {"pop": "I"}, "postConds": {"pop": "E"},
    "convergence": 4, "weight": 0.004, "delay": 2, "synMech": "inh", "sec": "soma",
}
