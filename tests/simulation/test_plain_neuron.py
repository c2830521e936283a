"""nethub simulating a network built from specs gives the spikes of the same network written
by hand in plain NEURON (|dt| <= 1e-9 ms): HH cells with a dendrite, Exp2Syn, regular NetStims,
an IClamp and distance-dependent delays. nethub runs with synapse merging on (its default;
cells 0, 2 and 3 share their dendritic synapses), the hand-written network does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.runner import simulate

from .conftest import serial_env

pytestmark = pytest.mark.neuron

HERE = Path(__file__).parent
POS = [(0, 100, 0), (50, 120, 10), (90, 300, 40), (20, 500, 80)]
CONNS = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (3, 0), (2, 0)]


def spec() -> tuple[dict, dict]:
    cell = {"secs": {
        "soma": {"geom": {"L": 18.8, "diam": 18.8, "Ra": 123.0},
                 "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}},
        "dend": {"geom": {"diam": 5.0, "L": 150.0, "Ra": 150.0, "cm": 1, "nseg": 5},
                 "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
                 "mechs": {"pas": {"g": 0.0000357, "e": -70}}}}}
    net = {
        "sizeX": 100, "sizeY": 600, "sizeZ": 100, "propVelocity": 100.0,
        "popParams": {"C": {"cellType": "HH", "cellsList": [
            {"x": x, "y": y, "z": z} for x, y, z in POS]}},
        "cellParams": {"HH": cell},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0}},
        "connParams": {"C->C": {"preConds": {"pop": "C"}, "postConds": {"pop": "C"},
                                "connList": CONNS, "weight": 0.01, "synMech": "exc",
                                "delay": "dist_3D/propVelocity + 0.5", "sec": "dend",
                                "loc": 0.5}},
        "stimSourceParams": {"clamp": {"type": "IClamp", "delay": 100, "dur": 50, "amp": 0.3}},
        "stimTargetParams": {"clamp->0": {"source": "clamp", "conds": {"cellList": [0]},
                                          "sec": "soma", "loc": 0.5}},
    }
    for gid in range(4):
        net["stimSourceParams"][f"ns{gid}"] = {"type": "NetStim", "rate": 10 + 5 * gid,
                                                "noise": 0, "start": 5}
        net["stimTargetParams"][f"ns{gid}->{gid}"] = {
            "source": f"ns{gid}", "conds": {"cellList": [gid]}, "weight": 0.02, "delay": 2,
            "synMech": "exc", "sec": "soma", "loc": 0.5}
    cfg = {"duration": 300, "dt": 0.025, "hParams": {"celsius": 6.3, "v_init": -65},
           "recordCells": [], "recordTraces": {}}
    return net, cfg


def test_same_spikes_as_plain_neuron(tmp_path):
    proc = subprocess.run([sys.executable, str(HERE / "plain_neuron_net.py")], env=serial_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    ref = np.array(json.loads(proc.stdout.strip().splitlines()[-1]))
    net_params, cfg = spec()
    res = simulate(nethub.build(net_params, cfg), output=tmp_path / "plain.h5")
    got = np.column_stack([res.spike_times, res.spike_gids])
    order = np.lexsort((ref[:, 1], ref[:, 0]))
    ref = ref[order]
    assert len(ref) > 20 and got.shape == ref.shape
    np.testing.assert_array_equal(got[:, 1], ref[:, 1])
    assert np.max(np.abs(got[:, 0] - ref[:, 0])) <= 1e-9
