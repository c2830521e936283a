"""Run a NetPyNE model file with NetPyNE (test-only) and print its spikes as JSON (last line)."""

import contextlib
import io
import json
import runpy
import sys

from netpyne import sim

path = sys.argv[1]
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    ns = runpy.run_path(path, run_name="model")
    netParams, cfg = ns["netParams"], ns.get("cfg") or ns.get("simConfig")
    cfg.analysis = {}
    cfg.saveJson = cfg.savePickle = False
    sim.createSimulate(netParams=netParams, simConfig=cfg)
spikes = {"t": list(sim.allSimData["spkt"]), "g": [int(x) for x in sim.allSimData["spkid"]]}
print(json.dumps(spikes))
