"""Run a NetPyNE model file with NetPyNE (test-only) and print its spikes as JSON (last line)."""
import json, sys, runpy, io, contextlib
path = sys.argv[1]
from netpyne import sim
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    ns = runpy.run_path(path, run_name="model")
    netParams, cfg = ns["netParams"], ns.get("cfg") or ns.get("simConfig")
    cfg.analysis = {}
    cfg.saveJson = cfg.savePickle = False
    sim.createSimulate(netParams=netParams, simConfig=cfg)
print(json.dumps({"t": list(sim.allSimData["spkt"]), "g": [int(x) for x in sim.allSimData["spkid"]]}))
