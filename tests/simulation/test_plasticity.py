"""Plasticity per connection (NetPyNE's ``plast: {'mech': 'STDP', 'params': ...}``): nethub gives
NetPyNE 1.1's spikes and final weights exactly, on compartmental and artificial (IntFire2)
post cells (and on 2 ranks the serial spikes); and the per-connection ``threshold`` column sets
the spike threshold of the connection's source, as ``netcon.threshold`` does in NEURON."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.builder import read_mod_dir
from nethub.nmodl.compile import compile_mod_files
from nethub.sim.engine import Engine
from nethub.sim.plasticity import plastic_rows

from .conftest import serial_env

pytestmark = pytest.mark.neuron

STDP_MODS = Path(__file__).parents[2] / "fixtures" / "mod" / "netpyne_stdp"

MODEL = """
from netpyne import specs

netParams = specs.NetParams()
netParams.popParams['S'] = {'cellModel': 'NetStim', 'numCells': 10, 'rate': 25, 'noise': 0.6,
                            'start': 1}
netParams.popParams['E'] = {'cellType': 'PYR', 'numCells': 8}
netParams.popParams['IF'] = {'cellModel': 'IntFire2', 'numCells': 4, 'taum': 10, 'taus': 15,
                             'ib': 0.3}
netParams.cellParams['PYR'] = {'secs': {
    'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
             'mechs': {'hh': {'gnabar': 0.12, 'gkbar': 0.036, 'gl': 0.003, 'el': -70}}},
    'dend': {'geom': {'diam': 2.0, 'L': 150.0, 'Ra': 150.0, 'nseg': 3},
             'topol': {'parentSec': 'soma', 'parentX': 1.0, 'childX': 0},
             'mechs': {'pas': {'g': 0.0000357, 'e': -70}}}}}
netParams.synMechParams['exc'] = {'mod': 'ExpSyn', 'tau': 3.0, 'e': 0}
stdp = {'mech': 'STDP', 'params': {'hebbwt': 0.002, 'antiwt': -0.0025, 'wmax': 0.03,
                                   'RLon': 0, 'tauhebb': 10, 'tauanti': 10}}
stdp_if = {'mech': 'STDP', 'params': {'hebbwt': 0.05, 'antiwt': -0.06, 'wmax': 1.0,
                                      'RLon': 0}}
netParams.connParams['S->E'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'E'},
                                'convergence': 4, 'weight': 0.008, 'delay': 'uniform(1, 3)',
                                'synMech': 'exc', 'sec': 'dend', 'loc': 0.5, 'plast': stdp}
netParams.connParams['E->E'] = {'preConds': {'pop': 'E'}, 'postConds': {'pop': 'E'},
                                'probability': 0.4, 'weight': 0.004, 'delay': 2,
                                'synMech': 'exc', 'sec': 'soma', 'plast': stdp}
netParams.connParams['S->E static'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'E'},
                                       'convergence': 2, 'weight': 0.004, 'delay': 1.5,
                                       'synMech': 'exc', 'sec': 'dend', 'loc': 0.9}
netParams.connParams['S->IF'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'IF'},
                                 'convergence': 3, 'weight': 0.6, 'delay': 1,
                                 'plast': stdp_if}

cfg = specs.SimConfig()
cfg.duration = 1000
cfg.dt = 0.025
cfg.seeds = {'conn': 3, 'stim': 4, 'loc': 5}
"""

NETPYNE = r"""
import contextlib, io, json, runpy, sys
from neuron import h
h.nrn_load_dll(sys.argv[2])
from netpyne import sim
with contextlib.redirect_stdout(io.StringIO()):
    ns = runpy.run_path(sys.argv[1], run_name="model")
    net_params, cfg = ns["netParams"], ns["cfg"]
    cfg.analysis = {}
    cfg.saveJson = cfg.savePickle = False
    sim.createSimulate(netParams=net_params, simConfig=cfg)
w = [[int(c["preGid"]), int(cell.gid), float(c["weight"]), float(c["hObj"].weight[0])]
     for cell in sim.net.cells for c in cell.conns if "hSTDP" in c]
print(json.dumps({"t": list(sim.allSimData["spkt"]),
                  "g": [int(x) for x in sim.allSimData["spkid"]], "w": w}))
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, Path]:
    """(model file, nethub store)."""
    folder = tmp_path_factory.mktemp("plast")
    path = folder / "stdp_model.py"
    path.write_text(MODEL)
    net_params, cfg = nethub.load_spec(path)
    store = folder / "stdp.h5"
    nethub.save(nethub.build(net_params, cfg, mod_files=read_mod_dir(STDP_MODS)), store)
    return path, store


@pytest.fixture(scope="module")
def netpyne_run(model) -> dict:
    lib = compile_mod_files(read_mod_dir(STDP_MODS))
    proc = subprocess.run([sys.executable, "-c", NETPYNE, str(model[0]), str(lib)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def by_time(t, g) -> tuple[np.ndarray, np.ndarray]:
    t, g = np.asarray(t, dtype=float), np.asarray(g, dtype=np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


#: STDP's POINTER ``synweight`` is set with ``h.setpointer`` to a NetCon weight: NEURON only
NEURON = {"nethubCoreneuron": False}


def nethub_run(store: Path, out: Path, monkeypatch, cfg: dict | None = None):
    """nethub's results and the engine (its NetCons, to read the final weights)."""
    engines = []
    create = Engine.create_connections

    def keep_engine(self):
        engines.append(self)
        return create(self)

    monkeypatch.setattr(Engine, "create_connections", keep_engine)
    return nethub.simulate(store, cfg, output=out), engines[-1]


def test_stdp_spikes_and_weights_are_netpynes(model, netpyne_run, tmp_path, monkeypatch):
    res, eng = nethub_run(model[1], tmp_path / "run.h5", monkeypatch, NEURON)
    t_ref, g_ref = by_time(netpyne_run["t"], netpyne_run["g"])
    assert len(t_ref) > 100
    assert len(res.spike_times) == len(t_ref)
    np.testing.assert_array_equal(res.spike_gids, g_ref)
    assert np.max(np.abs(res.spike_times - t_ref)) <= 1e-9
    conns = eng.net.connections
    rows = np.flatnonzero(plastic_rows(conns))
    pre, post = np.asarray(conns["pre_gid"]), np.asarray(conns["post_gid"])
    ours = sorted((int(pre[i]), int(post[i]), float(conns["weight"][i]),
                   float(eng.netcons[i].weight[0])) for i in rows)
    theirs = sorted(tuple(x) for x in netpyne_run["w"])
    assert len(ours) == len(theirs) > 50
    assert ours == theirs  # pre, post, initial and final weight, exactly
    changed = sum(w0 != w1 for _, _, w0, w1 in ours)
    assert changed > 0.5 * len(ours)  # the run is long enough for weights to move
    assert any(p >= 18 for _, p, w0, w1 in ours if w0 != w1)  # onto IntFire2 cells too


def test_plasticity_changes_spikes(model, tmp_path):
    net = nethub.load(model[1])
    net.connections["plast"] = [None] * len(net.connections)
    static = nethub.simulate(net, NEURON, output=tmp_path / "static.h5")
    plastic = nethub.simulate(model[1], NEURON, output=tmp_path / "plastic.h5")
    assert not (len(static.spike_times) == len(plastic.spike_times)
                and np.array_equal(static.spike_times, plastic.spike_times))


def test_stdp_on_two_ranks(tmp_path):
    """Plastic connections from NetStims (spike times off the time grid, so no two events of
    one STDP object or weight coincide): 2 ranks give the serial spikes. (With HH sources,
    whose spikes lie on the dt grid, equal-time events are delivered in an order that depends
    on the rank count, as in NetPyNE: see stdp.mod's note on MPI.)"""
    path = tmp_path / "stdp_ns.py"
    path.write_text(MODEL.replace("'sec': 'soma', 'plast': stdp}", "'sec': 'soma'}"))
    net_params, cfg = nethub.load_spec(path)
    net = nethub.build(net_params, cfg, mod_files=read_mod_dir(STDP_MODS))
    assert set(np.asarray(net.connections["pre_gid"])[plastic_rows(net.connections)]) <= set(
        range(10))  # every plastic connection comes from a NetStim
    store = tmp_path / "stdp_ns.h5"
    nethub.save(net, store)
    serial = nethub.simulate(store, NEURON, output=tmp_path / "serial.h5")
    res = nethub.simulate(store, NEURON, nprocs=2, output=tmp_path / "mpi.h5")
    assert res.nranks == 2 and len(serial.spike_times) > 100
    np.testing.assert_array_equal(res.spike_gids, serial.spike_gids)
    np.testing.assert_array_equal(res.spike_times, serial.spike_times)


def threshold_spec(source_threshold: float | None = None) -> tuple[dict, dict]:
    """NetStim-driven HH cells A (gids 0-2) exciting HH cells B (3-5); ``source_threshold`` is
    the A cells' spike threshold (cellParams ``threshold``)."""
    soma = {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
            "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}}
    src = dict(soma, threshold=source_threshold) if source_threshold is not None else soma
    net = {"popParams": {"A": {"cellType": "PA", "numCells": 3},
                         "B": {"cellType": "PB", "numCells": 3}},
           "cellParams": {"PA": {"secs": {"soma": src}}, "PB": {"secs": {"soma": soma}}},
           "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2.0, "e": 0}},
           "stimSourceParams": {"ns": {"type": "NetStim", "rate": 30, "noise": 0.3}},
           "stimTargetParams": {"ns->A": {"source": "ns", "conds": {"pop": "A"},
                                          "weight": 0.05, "delay": 1, "synMech": "exc"}},
           "connParams": {"A->B": {"preConds": {"pop": "A"}, "postConds": {"pop": "B"},
                                   "weight": 0.05, "delay": 1.0, "synMech": "exc"}}}
    return net, {"duration": 300, "dt": 0.025}


def test_connection_threshold_sets_the_source_threshold(tmp_path, caplog):
    """``threshold`` on a connection row is ``netcon.threshold``: NEURON keeps it on the
    source (the last row of a source wins), so it equals the pre cell's own threshold; on 2
    ranks (sources and targets apart) too."""
    net = nethub.build(*threshold_spec())
    post = np.asarray(net.connections["post_gid"])
    assert (np.asarray(net.connections["pre_gid"]) < 3).all() and len(post) == 9
    # per source: 0 mV onto cell 3, then -20 mV onto cells 4 and 5 (rows sorted by post gid)
    net.connections["threshold"] = np.where(post == 3, 0.0, -20.0)
    store = tmp_path / "thr.h5"
    nethub.save(net, store)
    with caplog.at_level(logging.WARNING, logger="nethub.sim.engine"):
        got = nethub.simulate(store, output=tmp_path / "got.h5")
    assert "give different thresholds" in caplog.text
    ref = nethub.simulate(nethub.build(*threshold_spec(-20.0)), output=tmp_path / "ref.h5")
    plain = nethub.simulate(nethub.build(*threshold_spec()), output=tmp_path / "plain.h5")
    assert len(ref.spike_times) > 20 and set(ref.spike_gids) == set(range(6))
    np.testing.assert_array_equal(got.spike_gids, ref.spike_gids)
    np.testing.assert_array_equal(got.spike_times, ref.spike_times)
    assert not np.array_equal(plain.spike_times, ref.spike_times)  # -20 mV detects earlier
    mpi = nethub.simulate(store, nprocs=2, output=tmp_path / "mpi.h5")
    np.testing.assert_array_equal(mpi.spike_gids, ref.spike_gids)
    np.testing.assert_array_equal(mpi.spike_times, ref.spike_times)
