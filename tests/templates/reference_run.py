"""Plain NEURON reference (run as a script in its own process): load a cell template,
instantiate it, clamp its probe section with the protocol's steps and print the voltage there
at every time step as JSON. No nethub code is imported."""

import importlib.util
import json
import re
import sys
from pathlib import Path

from neuron import h


def resolve(obj, path):
    for attr, index in re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]", path):
        obj = getattr(obj, attr) if attr else obj[int(index)]
    return obj


def main():
    req = json.loads(sys.argv[1])
    h.load_file("stdrun.hoc")
    if req.get("lib"):
        h.nrn_load_dll(req["lib"])
    if req["kind"] == "python":
        sys.path.insert(0, str(Path(req["path"]).parent))
        spec = importlib.util.spec_from_file_location("refmod", req["path"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        factory = getattr(module, req["template"])
    else:
        assert h.load_file(req["path"])
        factory = getattr(h, req["template"])
    cell = factory(*req.get("args", []), **req.get("kwargs", {}))
    sec = resolve(cell, req["probe"])
    clamps = []
    for delay, dur, amp in req["steps"]:
        ic = h.IClamp(sec(0.5))
        ic.delay, ic.dur, ic.amp = delay, dur, amp
        clamps.append(ic)
    v = h.Vector().record(sec(0.5)._ref_v, req["dt"])
    h.celsius = req["celsius"]
    h.dt = req["dt"]
    h.finitialize(-65)
    h.continuerun(req["tstop"])
    print(json.dumps(v.to_python()))


main()
