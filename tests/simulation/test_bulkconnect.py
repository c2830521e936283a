"""Connections made in bulk by HOC procedures (nethub.sim.bulkconnect) give exactly what the
per-connection Python loop gives: same spikes and synapse traces, with several synaptic
mechanisms interleaved per cell, two sections, artificial (point) cells as targets and
sources, and NetStim background."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import nethub

from .conftest import serial_env

pytestmark = pytest.mark.neuron

RUN = """
import json, sys
import numpy as np
from nethub.runner import simulate
from nethub.sim import bulkconnect
used = []
if sys.argv[2] == "python":
    bulkconnect.plan = lambda net, cells: None
else:
    create = bulkconnect.create
    bulkconnect.create = lambda *a: used.append(1) or create(*a)
res = simulate(sys.argv[1], output=sys.argv[3])
print(json.dumps({"t": res.spike_times.tolist(), "g": res.spike_gids.tolist(),
                  "traces": np.asarray(res.traces.data).tolist(), "bulk": len(used)}))
"""


def spec() -> tuple[dict, dict]:
    hh = {"secs": {
        "soma": {"geom": {"L": 18.8, "diam": 18.8, "Ra": 123.0},
                 "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}},
        "dend": {"geom": {"diam": 5.0, "L": 150.0, "Ra": 150.0, "nseg": 3},
                 "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
                 "mechs": {"pas": {"g": 0.0000357, "e": -70}}}}}
    e = {"pop": "E"}
    net = {
        "sizeX": 200, "sizeY": 200, "sizeZ": 200,
        "popParams": {"E": {"cellType": "HH", "numCells": 30},
                      "A": {"cellModel": "IntFire2", "numCells": 5, "taum": 10, "ib": 0.5},
                      "S": {"cellModel": "NetStim", "numCells": 4, "rate": 40, "noise": 0.5}},
        "cellParams": {"HH": hh},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0},
                          "fast": {"mod": "ExpSyn", "tau": 2, "e": 0},
                          "inh": {"mod": "Exp2Syn", "tau1": 0.6, "tau2": 8.5, "e": -75}},
        "connParams": {
            "S->E": {"preConds": {"pop": "S"}, "postConds": e, "convergence": 2,
                     "weight": 0.01, "delay": 2, "synMech": "exc", "sec": "dend", "loc": 0.3},
            "E->E": {"preConds": e, "postConds": e, "probability": 0.2, "weight": 0.004,
                     "delay": 3, "synMech": "fast", "sec": "dend", "loc": 0.7},
            "E->E inh": {"preConds": e, "postConds": e, "convergence": 3, "weight": 0.002,
                         "delay": "uniform(1, 4)", "synMech": "inh", "sec": "soma"},
            "E->A": {"preConds": e, "postConds": {"pop": "A"}, "convergence": 4,
                     "weight": 0.3, "delay": 1},
            "A->E": {"preConds": {"pop": "A"}, "postConds": e, "convergence": 1,
                     "weight": 0.003, "delay": 1.5, "synMech": "inh", "sec": "soma"}},
        "stimSourceParams": {"bkg": {"type": "NetStim", "rate": 20, "noise": 0.5, "start": 1}},
        "stimTargetParams": {"bkg->E": {"source": "bkg", "conds": e, "weight": 0.02,
                                        "delay": 1, "synMech": "exc", "sec": "soma"}},
    }
    cfg = {"duration": 200, "dt": 0.025, "seeds": {"conn": 3, "stim": 5, "loc": 7},
           "recordCells": [0, 7], "recordStep": 0.1,
           "recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"},
                            "i_exc": {"sec": "dend", "loc": 0.3, "synMech": "exc",
                                      "var": "i"},
                            "g_inh": {"sec": "soma", "loc": 0.5, "synMech": "inh",
                                      "var": "g", "index": 1}}}
    return net, cfg


def _run(store, mode: str, out) -> dict:
    proc = subprocess.run([sys.executable, "-c", RUN, str(store), mode, str(out)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_bulk_equals_python_loop(tmp_path):
    net = nethub.build(*spec())
    rules = net.connections["rule"]
    assert len(set(rules.values().tolist())) == 5
    store = tmp_path / "net.h5"
    nethub.save(net, store)
    bulk = _run(store, "bulk", tmp_path / "bulk.h5")
    loop = _run(store, "python", tmp_path / "loop.h5")
    assert bulk["bulk"] == 1
    assert len(bulk["t"]) > 50 and len(set(bulk["g"])) > 20
    assert bulk["g"] == loop["g"]
    assert bulk["t"] == loop["t"]
    traces = np.asarray(bulk["traces"])
    assert traces.shape[0] == 6 and np.all(np.ptp(traces, axis=1) > 0)
    np.testing.assert_array_equal(traces, np.asarray(loop["traces"]))
