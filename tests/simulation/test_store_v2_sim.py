"""Schema-2 features the simulator applies: per-connection synapse parameters (``param.tau2``)
and NetCons straight onto artificial cells without a synMech against hand-built NEURON models
(child processes), per-cell rotations about x, y and z against the documented matrices."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from neuron import h

import nethub
from nethub.runconfig import RunConfig
from nethub.runner import simulate
from nethub.sim.engine import Engine
from nethub.sim.rotation import rotate_points
from nethub.table import Categorical, Table
from nethub.validate import check_network

from .conftest import serial_env

pytestmark = pytest.mark.neuron

CFG = {"duration": 60, "dt": 0.025, "recordStep": 0.1, "hParams": {"v_init": -65},
       "recordTraces": {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}},
       "recordCells": ["C"]}


def _neuron(code: str) -> list:
    """Run a plain NEURON script; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=serial_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _passive_net() -> nethub.Network:
    net = {
        "popParams": {"S": {"cellModel": "NetStim", "numCells": 1, "rate": 50, "noise": 0,
                            "start": 5, "number": 3},
                      "C": {"cellType": "P", "numCells": 1}},
        "cellParams": {"P": {"secs": {"soma": {
            "geom": {"L": 20.0, "diam": 20.0, "Ra": 100.0},
            "mechs": {"pas": {"g": 1e-4, "e": -65}}}}}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.5, "tau2": 5.0, "e": 0}},
        "connParams": {"S->C": {"preConds": {"pop": "S"}, "postConds": {"pop": "C"},
                                "synMech": "exc", "weight": 0.002, "delay": 1,
                                "sec": "soma", "loc": 0.5}},
    }
    return nethub.build(net, CFG)


_PASSIVE_REF = """
    import json
    from neuron import h
    h.load_file("stdrun.hoc")
    soma = h.Section(name="soma")
    soma.L = soma.diam = 20.0
    soma.Ra = 100.0
    soma.insert("pas")
    soma(0.5).pas.g, soma(0.5).pas.e = 1e-4, -65
    ns = h.NetStim()
    ns.interval, ns.number, ns.start, ns.noise = 20.0, 3, 5, 0
    keep = []
    for tau2 in TAU2S:
        syn = h.Exp2Syn(soma(0.5))
        syn.tau1, syn.tau2, syn.e = 0.5, tau2, 0
        nc = h.NetCon(ns, syn)
        nc.weight[0], nc.delay = 0.002, 1
        keep += [syn, nc]
    v = h.Vector().record(soma(0.5)._ref_v, 0.1)
    h.dt = 0.025
    h.finitialize(-65)
    h.continuerun(60)
    print(json.dumps(list(v)))
"""


def _v_soma(res) -> np.ndarray:
    idx = res.traces.index
    row = int(np.flatnonzero(np.asarray(idx["gid"]) == 1)[0])
    return res.traces.data[row]


def test_param_tau2_column_sets_each_rows_synapse(tmp_path):
    net = _passive_net()
    two = Table.concat([net.connections, net.connections])  # same source, same segment
    two["param.tau2"] = np.array([20.0, np.nan])  # row 2: the synMech's own tau2 (5)
    net = net.replace(connections=two)
    assert check_network(net) == []
    got = _v_soma(simulate(net, output=tmp_path / "p.h5"))
    ref = np.array(_neuron(_PASSIVE_REF.replace("TAU2S", "[20.0, 5.0]")))
    merged = np.array(_neuron(_PASSIVE_REF.replace("TAU2S", "[20.0, 20.0]")))
    n = min(len(got), len(ref))
    assert n > 500
    np.testing.assert_allclose(got[:n], ref[:n], rtol=0, atol=1e-9)
    # one shared object (the merge nethub does for linear synapses without params) differs
    assert np.max(np.abs(merged[:n] - ref[:n])) > 1e-3


def test_param_column_all_nan_changes_nothing(tmp_path):
    net = _passive_net()
    plain = _v_soma(simulate(net, output=tmp_path / "a.h5"))
    conns = net.connections
    conns["param.tau2"] = np.full(len(conns), np.nan)
    same = _v_soma(simulate(net.replace(connections=conns), output=tmp_path / "b.h5"))
    np.testing.assert_array_equal(plain, same)


_INTFIRE_REF = """
    import json
    from neuron import h
    h.load_file("stdrun.hoc")
    ns = h.NetStim()
    ns.interval, ns.number, ns.start, ns.noise = 20.0, 5, 5, 0
    cell = h.IntFire1()
    cell.tau, cell.refrac = 10, 5
    nc = h.NetCon(ns, cell)
    nc.weight[0], nc.delay = 1.5, 1
    t = h.Vector()
    rec = h.NetCon(cell, None)
    rec.record(t)
    h.dt = 0.025
    h.finitialize(-65)
    h.continuerun(100)
    print(json.dumps(list(t)))
"""


def test_netcon_onto_artificial_cell_without_synmech(tmp_path):
    spec = {
        "popParams": {"S": {"cellModel": "NetStim", "numCells": 1, "rate": 50, "noise": 0,
                            "start": 5, "number": 5},
                      "I": {"cellModel": "IntFire1", "numCells": 1, "tau": 10, "refrac": 5}},
        "synMechParams": {"exc": {"mod": "ExpSyn"}},  # the builder needs one; then dropped
        "connParams": {"S->I": {"preConds": {"pop": "S"}, "postConds": {"pop": "I"},
                                "weight": 1.5, "delay": 1}},
    }
    net = nethub.build(spec, {"duration": 100})
    net.connections["syn_mech"] = Categorical(np.full(len(net.connections), -1), [])
    assert check_network(net) == []
    res = simulate(net, {"duration": 100}, output=tmp_path / "i.h5")
    got = res.spike_times[res.spike_gids == 1]
    ref = np.array(_neuron(_INTFIRE_REF))
    assert len(ref) == 5
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


def test_compartmental_target_without_synmech_is_refused():
    net = _passive_net()
    net.connections["syn_mech"] = Categorical(np.full(len(net.connections), -1), [])
    found = check_network(net)
    assert any(f.path == "connections/syn_mech" and "compartmental" in f.message
               for f in found)


def _rotation_matrix(rx: float, ry: float, rz: float) -> np.ndarray:
    """docs/store.md: Rx(rot_x) Ry(rot_y) Rz(rot_z), each the right-handed rotation by -angle."""
    def c_s(a: float) -> tuple[float, float]:
        return np.cos(-a), np.sin(-a)
    (cx, sx), (cy, sy), (cz, sz) = c_s(rx), c_s(ry), c_s(rz)
    mx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    my = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    mz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return mx @ my @ mz


def test_rotation_convention():
    pts = np.array([[1.0, 2.0, 3.0, 1.0], [-4.0, 0.5, 2.0, 1.0]])
    angles = (0.3, -1.1, 2.0)
    want = pts[:, :3] @ _rotation_matrix(*angles).T
    np.testing.assert_allclose(rotate_points(pts, angles)[:, :3], want, atol=1e-12)
    # rot_y alone is NetPyNE's rotateCellsRandomly: x' = x cos - z sin, z' = x sin + z cos
    a = 0.7
    only_y = rotate_points(pts, (0.0, a, 0.0))
    np.testing.assert_array_equal(only_y[:, 0], pts[:, 0] * np.cos(a) - pts[:, 2] * np.sin(a))
    np.testing.assert_array_equal(only_y[:, 2], pts[:, 0] * np.sin(a) + pts[:, 2] * np.cos(a))


def test_rotated_cell_points_in_neuron(tmp_path):
    spec = {
        "popParams": {"C": {"cellType": "P", "cellsList": [{"x": 10, "y": 20, "z": 30}]}},
        "cellParams": {"P": {"secs": {
            "soma": {"geom": {"L": 10.0, "diam": 10.0}, "mechs": {"pas": {}}},
            "dend": {"geom": {"pt3d": [[0, 0, 0, 2], [0, 50, 10, 2], [20, 80, 0, 1]]},
                     "topol": {"parentSec": "soma", "parentX": 1, "childX": 0},
                     "mechs": {"pas": {}}}}}},
    }
    net = nethub.build(spec, {"duration": 1})
    cells = net.cells
    for name, val in (("rot_x", 0.4), ("rot_y", -0.9), ("rot_z", 1.3)):
        cells[name] = np.array([val])
    pts = net.cell_types["P"].sections["dend"].pt3d
    # documented matrix, cell position added (invertedYCoord: the y offset is negated)
    want = pts[:, :3] @ _rotation_matrix(0.4, -0.9, 1.3).T + np.array([10.0, -20.0, 30.0])
    pc = h.ParallelContext()
    engine = Engine(h, pc, net, RunConfig(pt3d_relative_to_cell=True, invert_y=True))
    engine.create_cells()
    dend = engine.cells[0].secs["dend"]
    got = np.array([[h.x3d(i, sec=dend), h.y3d(i, sec=dend), h.z3d(i, sec=dend)]
                    for i in range(int(h.n3d(sec=dend)))])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)  # NEURON keeps float32
    pc.gid_clear()
