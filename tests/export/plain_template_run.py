"""Plain NEURON (no nethub import): load an exported HOC template (or Python class module),
instantiate it at a position, inject a current clamp into a section and print the recorded
membrane potential as JSON.

``python plain_template_run.py REQUEST.json`` with ``{"template": path, "name": str,
"library": path or "", "pos": [x, y, z], "sec": "soma", "clamp": {"del":, "dur":, "amp":},
"dt":, "tstop":, "record_step":, "v_init":}``.
"""

import importlib.util
import json
import sys

from neuron import h


def section(cell, name):
    base, _, index = name.partition("[")
    obj = getattr(cell, base)
    return obj[int(index[:-1])] if index else obj


def main(path):
    with open(path) as f:
        req = json.load(f)
    h.load_file("stdrun.hoc")
    if req["library"]:
        h.nrn_load_dll(req["library"])
    if req["template"].endswith(".py"):  # a Python class: built at its position
        spec = importlib.util.spec_from_file_location("exported_cell", req["template"])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cell = getattr(module, req["name"])(*req["pos"])
        sec = cell.secs[req["sec"]]
    else:
        h.load_file(req["template"])
        cell = getattr(h, req["name"])()
        cell.position(*req["pos"])
        sec = section(cell, req["sec"])
    clamp = h.IClamp(sec(0.5))
    clamp.delay, clamp.dur, clamp.amp = (req["clamp"][k] for k in ("del", "dur", "amp"))
    v = h.Vector().record(sec(0.5)._ref_v, req["record_step"])
    spikes = h.Vector()
    nc = cell.connect2target(None)
    nc.record(spikes)
    h.dt = req["dt"]
    h.finitialize(req["v_init"])
    h.continuerun(req["tstop"])
    print(json.dumps({"v": list(v), "spikes": list(spikes), "threshold": nc.threshold}))


if __name__ == "__main__":
    main(sys.argv[1])
