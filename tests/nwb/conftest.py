"""A small real run for the NWB tests: two populations of ball-and-stick cells driven by an
IClamp, simulated in NEURON (RunConfig) with a soma voltage trace per cell, a dendrite trace
group (own interval and window) on population I, an LFP at three electrodes, the current dipole
and population I's own LFP (built from an inline spec; ~0.5 s)."""

from __future__ import annotations

import shutil

import pytest

import nethub
from nethub.runconfig import CellSelection, LfpRequest, RunConfig, TraceRequest
from nethub.runner import simulate

SOMA = {"geom": {"pt3d": [[0, 0, 0, 20], [0, 20, 0, 20]], "nseg": 1}, "mechs": {"hh": {}}}
DEND = {"geom": {"pt3d": [[0, 20, 0, 2], [0, 220, 0, 2]], "nseg": 3},
        "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
        "mechs": {"pas": {"g": 5e-5, "e": -65}}}
NET = {"cellParams": {"BS": {"secs": {"soma": SOMA, "dend": DEND}}},
       "popParams": {"E": {"cellType": "BS", "numCells": 3},
                     "I": {"cellType": "BS", "numCells": 2}},
       "stimSourceParams": {"ic": {"type": "IClamp", "del": 5, "dur": 40, "amp": 0.4}},
       "stimTargetParams": {"t": {"source": "ic", "conds": {"pop": ["E", "I"]},
                                  "sec": "soma", "loc": 0.5}}}
CFG = {"duration": 50, "dt": 0.025}
ELECTRODES = ((60.0, -50.0, 0.0), (60.0, -150.0, 0.0), (-40.0, -100.0, 30.0))
RUN = RunConfig(
    duration=50.0, dt=0.025, record_step=0.5, trace_cells=CellSelection(all=True),
    traces=(TraceRequest("V_soma", "v", sec="soma", loc=0.5),
            TraceRequest("V_dend", "v", sec="dend", loc=0.5, step=0.25, start=10.0, end=40.0,
                         cells=CellSelection(populations=("I",)))),
    lfp=LfpRequest(electrodes=ELECTRODES, dipole=True,
                   lfp_pops=CellSelection(populations=("I",))))


@pytest.fixture(scope="session")
def run_store(tmp_path_factory):
    """(model store without runs, store with the run 'base')."""
    d = tmp_path_factory.mktemp("nwbrun")
    model = d / "model.h5"
    nethub.save(nethub.build(NET, CFG), model)
    out = d / "out.h5"
    res = simulate(model, RUN, output=out)
    assert len(res.spike_times) > 0 and res.lfp is not None and res.trace_groups
    return model, out


@pytest.fixture()
def stores(run_store, tmp_path):
    """Private copies of the session's stores (tests may add runs)."""
    model, out = run_store
    return shutil.copy(model, tmp_path / "model.h5"), shutil.copy(out, tmp_path / "out.h5")


@pytest.fixture(scope="session")
def nwb_file(run_store, tmp_path_factory):
    """The run exported to NWB once (nethub convert's API)."""
    path = tmp_path_factory.mktemp("nwbfile") / "run.nwb"
    nethub.convert(run_store[1], path)
    return path
