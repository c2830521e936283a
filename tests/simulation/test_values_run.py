"""Issue 10 items 4, 6, 9 with real NEURON: poisson against NEURON, `run` validates first,
`--cfg` overrides checked before anything starts, features not simulated."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import nethub
from nethub.errors import SpecError, StoreError
from nethub.random123 import Random123Stream as Stream
from nethub.runner import simulate
from nethub.store import read_results, write_network

from .conftest import serial_env

pytestmark = pytest.mark.neuron

neuron = pytest.importorskip("neuron")
h = neuron.h

CELL = {"secs": {"soma": {"geom": {"L": 18.8, "diam": 18.8}, "mechs": {"hh": {}}}}}
NET = {"cellParams": {"P": CELL},
       "popParams": {"E": {"cellType": "P", "numCells": 4},
                     "S": {"cellModel": "NetStim", "numCells": 1, "rate": 100, "noise": 0,
                           "start": 1}},
       "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5, "e": 0}},
       "connParams": {"S->E": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"},
                               "synMech": "exc", "weight": 0.05, "delay": 1.0}}}


@pytest.mark.parametrize("mean", [0.5, 5.0, 80.0, 700.0, 740.0, 745.0])
def test_poisson_equals_neuron_up_to_where_neuron_hangs(mean):
    """NEURON's gnu Poisson multiplies draws while the product >= exp(-mean); our values are
    NEURON's bit for bit wherever exp(-mean) > 0 (NEURON never returns above 745.13, measured:
    poisson(800) loops forever, so there nethub uses the documented inverse CDF)."""
    r = h.Random()
    r.Random123(7, 8, 9)
    want = [r.poisson(mean)] + [r.repick() for _ in range(5)]
    got = np.asarray(Stream(7, 8, 9).poisson(mean, n=6)).reshape(-1)
    assert got.tolist() == want


def _store(tmp_path, net=None, name="m.h5"):
    return write_network(net if net is not None else nethub.build(NET, {"duration": 20}),
                         tmp_path / name)


def test_run_refuses_an_invalid_store_and_unchecked_runs_it(tmp_path):
    """Issue: `run` simulates stores that `validate` rejects (connections from unknown gids
    are silently dropped)."""
    net = nethub.build(NET, {"duration": 20})
    conns = net.connections.take(np.arange(len(net.connections)))
    pre = np.array(conns["pre_gid"], copy=True)
    pre[0] = 12345
    conns["pre_gid"] = pre
    path = _store(tmp_path, net.replace(connections=conns))
    with pytest.raises(StoreError, match="pre_gid value.s. not in the cells table: 12345"):
        simulate(path)
    res = simulate(path, checked=False)
    assert res.duration == 20 and len(read_results(path).spike_times) == len(res.spike_times)


def test_cfg_overrides_refused_before_neuron_starts(tmp_path):
    """Issue: `nethub run X.h5 --cfg c.json` with {"dt": -1} hangs; recordStep 0 fails late."""
    path = _store(tmp_path)
    for bad in ({"dt": -1}, {"recordStep": 0}, {"duration": float("nan")}):
        cfg = tmp_path / "c.json"
        cfg.write_text(json.dumps(bad))
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "nethub", "run", str(path), "--cfg",
                               str(cfg)], capture_output=True, text=True, env=serial_env(),
                              timeout=120, check=False)
        assert proc.returncode != 0 and time.perf_counter() - t0 < 60
        key = next(iter(bad))
        want = "non-negative" if key == "duration" else "positive"
        assert f"cfg.{key}: expected {want} number" in proc.stderr
        assert str(cfg) in proc.stderr
    with pytest.raises(SpecError, match="cfg.dt: expected positive number"):
        simulate(path, {"dt": -1})


def test_delays_shorter_than_dt_run_colocated(tmp_path):
    """Delays below dt (0 here) run: the pre and post cells of such connections share a rank
    (nethub.sim.colocate), so 1 and 2 ranks give the same spikes; negative delays are still
    refused before anything runs."""
    net = nethub.build({**NET, "connParams": {"S->E": {**NET["connParams"]["S->E"],
                                                       "delay": 0.0}}}, {"duration": 20})
    path = _store(tmp_path, net)
    one = simulate(path, output=tmp_path / "one.h5")
    two = simulate(path, nprocs=2, output=tmp_path / "two.h5")
    assert two.nranks == 2 and np.sum(one.spike_gids < 4) >= 4  # the E cells fire
    np.testing.assert_array_equal(two.spike_times, one.spike_times)
    np.testing.assert_array_equal(two.spike_gids, one.spike_gids)
    conns = net.connections.take(np.arange(len(net.connections)))
    conns["delay"] = np.full(len(conns), -1.0)
    with pytest.raises(StoreError, match=r"delay"):
        simulate(_store(tmp_path, net.replace(connections=conns), "neg.h5"))


def test_not_simulated_features_refused_or_recorded(tmp_path):
    """Features nethub stores but does not simulate: rxd refused, recordStim noted in meta."""
    rxd = {**NET, "rxdParams": {"regions": {"cyt": {"cells": "all", "secs": "all"}},
                                "species": {"ca": {"regions": ["cyt"], "d": 0.1}}}}
    path = _store(tmp_path, nethub.build(rxd, {"duration": 20}), "rxd.h5")
    with pytest.raises(SpecError, match="netParams.rxdParams: reaction-diffusion"):
        simulate(path)
    res = simulate(_store(tmp_path, name="stim.h5"), {"recordStim": True})
    assert res.meta["not_simulated"] == [
        "cfg.recordStim: spikes of NetStim/VecStim stimulus sources are not recorded"]
