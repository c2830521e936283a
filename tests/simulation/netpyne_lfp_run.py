"""Run a NetPyNE model file with NetPyNE 1.1 (test-only) and print its LFP as JSON (last line).

NetPyNE 1.1's ``setupRecordLFP`` calls ``PtrVector.ptr_update_callback``, which NEURON 9 no
longer has, so its recordLFP fails; the stand-in below provides a no-op for it (NetPyNE points
its PtrVector at the currents again before every LFP sample anyway, ``calculateLFP``).
"""

import contextlib
import io
import json
import runpy
import sys

import netpyne.sim.setup as setup
import numpy as np
from netpyne import sim
from neuron import h as _h


class _PtrVector:
    """NEURON 9's PtrVector has no ptr_update_callback; NetPyNE re-points it before each use."""
    def __init__(self, n):
        self._p = _h.PtrVector(n)
    def ptr_update_callback(self, fn):
        pass
    def pset(self, i, ref):
        return self._p.pset(i, ref)
    def gather(self, v):
        return self._p.gather(v)

class _H:
    PtrVector = _PtrVector
    def __getattr__(self, k):
        return getattr(_h, k)

setup.h = _H()
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    ns = runpy.run_path(sys.argv[1], run_name="model")
    netParams, cfg = ns["netParams"], ns["cfg"]
    cfg.analysis = {}
    cfg.saveJson = cfg.savePickle = False
    sim.createSimulate(netParams=netParams, simConfig=cfg)
print(json.dumps({"lfp": np.asarray(sim.allSimData["LFP"]).tolist(),
                  "pos": [[c.tags["x"], c.tags["y"], c.tags["z"]] for c in sim.net.cells]}))
