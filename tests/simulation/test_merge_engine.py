"""Synapse merging through the simulator (nethub.simulate on stores built from specs): merged
runs (the default) against ``nethubMergeSynapses=False`` (NetPyNE's one synapse object per
connection), for each class of synapse: ExpSyn and Exp2Syn (shared), an NMDA mechanism with a
Mg block (nonlinear in v: kept apart), STDP-plastic connections (kept apart), gap junctions
(pointer connections: never merged), and all of them mixed; recorded synapses keep their own
object; and a few hundred noisy cells for a second, whose rates must agree."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.builder import read_mod_dir
from nethub.sim.merge import mech_mergeable, plan_merge, store_savings

from .conftest import serial_env

pytestmark = pytest.mark.neuron

ROOT = Path(__file__).parents[2]
GAP_MODS = ROOT / "fixtures" / "specs" / "netpyne_tutorials" / "doc_code" / "mod"
STDP_MODS = ROOT / "fixtures" / "mod" / "netpyne_stdp"

#: Exp2Syn with an NMDA Mg block (Jahr & Stevens): the current is nonlinear in v
NMDA_MOD = """
NEURON { POINT_PROCESS NMDAmg  RANGE tau1, tau2, e, mg, g, i  NONSPECIFIC_CURRENT i }
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) (mM) = (milli/liter) }
PARAMETER { tau1 = 2 (ms)  tau2 = 60 (ms)  e = 0 (mV)  mg = 1 (mM) }
ASSIGNED { v (mV)  i (nA)  g (uS)  factor }
STATE { A (uS)  B (uS) }
INITIAL { LOCAL tp
    tp = (tau1*tau2)/(tau2 - tau1) * log(tau2/tau1)
    factor = 1/(-exp(-tp/tau1) + exp(-tp/tau2))
    A = 0  B = 0 }
BREAKPOINT { SOLVE state METHOD cnexp
    g = B - A
    i = g*mgblock(v)*(v - e) }
DERIVATIVE state { A' = -A/tau1  B' = -B/tau2 }
FUNCTION mgblock(v (mV)) { mgblock = 1/(1 + exp(0.062 (/mV) * -v)*(mg/3.57 (mM))) }
NET_RECEIVE(weight (uS)) { A = A + weight*factor  B = B + weight*factor }
"""

HH = {"soma": {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
               "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}},
      "dend": {"geom": {"diam": 2.0, "L": 200.0, "Ra": 150.0, "nseg": 5},
               "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0},
               "mechs": {"pas": {"g": 0.0000357, "e": -70}}}}
SYN = {"exp": {"mod": "ExpSyn", "tau": 3.0, "e": 0},
       "exp2": {"mod": "Exp2Syn", "tau1": 0.2, "tau2": 4.0, "e": 0},
       "inh": {"mod": "Exp2Syn", "tau1": 0.5, "tau2": 8.0, "e": -80},
       "nmda": {"mod": "NMDAmg", "tau1": 2.0, "tau2": 60.0, "e": 0, "mg": 1.0},
       "gap": {"mod": "ElectSyn", "g": 0.00005,
               "pointerParams": {"target_var": "vpeer", "source_var": "v",
                                 "bidirectional": True}}}
STDP = {"mech": "STDP", "params": {"hebbwt": 0.002, "antiwt": -0.0025, "wmax": 0.02,
                                   "RLon": 0, "tauhebb": 10, "tauanti": 10}}
WEIGHT = {"exp": 0.004, "exp2": 0.003, "nmda": 0.0015}


def spec(kind: str, n_e: int = 16, n_i: int = 4, duration: float = 300.0, conv: int = 8,
         p_inh: float = 0.6) -> tuple[dict, dict, dict]:
    """A small E/I network of HH cells with noisy NetStim background (deterministic: Random123
    streams); ``kind`` picks the excitatory synapse class."""
    excit = {"expsyn": ["exp"], "exp2syn": ["exp2"], "nmda": ["nmda"], "plastic": ["exp"],
             "gap": ["exp2"], "mixed": ["exp", "exp2", "nmda"], "large": ["exp2"]}[kind]
    net: dict = {
        "sizeX": 200, "sizeY": 200, "sizeZ": 200,
        "popParams": {"E": {"cellType": "PYR", "numCells": n_e},
                      "I": {"cellType": "PYR", "numCells": n_i}},
        "cellParams": {"PYR": {"secs": HH}},
        "synMechParams": {k: SYN[k] for k in (*excit, "inh", "exp2")},
        "stimSourceParams": {"bkg": {"type": "NetStim", "rate": 40, "noise": 1.0}},
        "stimTargetParams": {"bkg->all": {"source": "bkg", "conds": {"pop": ["E", "I"]},
                                          "weight": "0.004 + 0.01*post_ynorm", "delay": 1,
                                          "synMech": "exp2", "sec": "soma"}},
        "connParams": {
            "I->E": {"preConds": {"pop": "I"}, "postConds": {"pop": "E"}, "probability": p_inh,
                     "weight": 0.002, "delay": "1 + uniform(0, 2)", "synMech": "inh",
                     "sec": "soma"}}}
    for m in excit:
        rule = {"preConds": {"pop": "E"}, "postConds": {"pop": ["E", "I"]}, "convergence": conv,
                "weight": WEIGHT[m] / len(excit), "delay": "1 + uniform(0, 3)", "synMech": m,
                "sec": "dend", "loc": "uniform(0, 1)"}
        net["connParams"][f"E->all {m}"] = rule
    if kind in ("plastic", "mixed"):
        rule = dict(net["connParams"][f"E->all {excit[0]}"], plast=STDP, convergence=3,
                    postConds={"pop": "E"}, sec="soma", loc=0.5)
        net["connParams"]["E->E plastic"] = rule
    if kind in ("gap", "mixed"):
        net["synMechParams"]["gap"] = SYN["gap"]
        net["connParams"]["E-E gap"] = {
            "preConds": {"pop": "E"}, "postConds": {"pop": "E"}, "probability": 0.1,
            "weight": 1.0, "synMech": "gap", "sec": "soma", "loc": 0.5, "preSec": "soma",
            "preLoc": 0.5}
    cfg = {"duration": duration, "dt": 0.025, "seeds": {"conn": 5, "stim": 6, "loc": 7},
           "recordTraces": {}}
    mods = {}
    if "nmda" in excit:
        mods["nmda.mod"] = NMDA_MOD
    if kind in ("plastic", "mixed"):
        mods.update(read_mod_dir(STDP_MODS))
    if kind in ("gap", "mixed"):
        mods.update(read_mod_dir(GAP_MODS))
    return net, cfg, mods


def store_of(tmp_path: Path, name: str, net: dict, cfg: dict, mods: dict) -> Path:
    path = tmp_path / f"{name}.h5"
    nethub.save(nethub.build(net, cfg, mod_files=mods), path)
    return path


def run(store: Path, merge: bool, extra: dict | None = None):
    cfg = {"nethubMergeSynapses": merge, **(extra or {})}
    return nethub.simulate(store, cfg, output=store.with_name(f"{store.stem}.{merge}.h5"))


def default_run_in_new_process(store: Path):
    """``nethub run STORE`` with nethub's defaults, in a new process; its log must say how many
    synapse objects merging made."""
    out = store.with_name(f"{store.stem}.default.h5")
    proc = subprocess.run([sys.executable, "-m", "nethub", "-v", "run", str(store), "-o", str(out)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res = nethub.load_results(out)
    n = res.meta["synapse_objects"]["objects"]
    assert f"onto {n} synapse objects" in proc.stdout + proc.stderr
    return res


def spikes(res) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((res.spike_times, res.spike_gids))
    return res.spike_times[order], res.spike_gids[order]


#: kind -> (synMechs that must share objects, synMechs kept apart, row reasons kept apart)
CASES = {
    "expsyn": ({"exp", "inh"}, set(), set()),
    "exp2syn": ({"exp2", "inh"}, set(), set()),
    "nmda": ({"inh"}, {"nmda"}, set()),
    "plastic": ({"exp", "inh"}, set(), {"plasticity"}),
    "gap": ({"exp2", "inh"}, {"gap"}, set()),
    "mixed": ({"exp", "exp2", "inh"}, {"nmda", "gap"}, {"plasticity"}),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_merged_equals_one_synapse_per_connection(kind, tmp_path):
    net, cfg, mods = spec(kind)
    store = store_of(tmp_path, kind, net, cfg, mods)
    shared, apart, rows_apart = CASES[kind]
    loaded = nethub.load(store)
    plan = plan_merge(loaded)
    assert set(plan.report["saved"]) == shared
    assert set(plan.report["rows_not_merged"]) == rows_apart
    if "nmda" in apart:
        assert "FUNCTION" in plan.report["not_merged"]["nmda"]
    if "gap" in apart:  # pointer connections have a table of their own, never merged
        assert len(loaded.pointer_conns) > 0
        assert "pointer" in mech_mergeable(loaded, "gap")[1]
    # the reference is NetPyNE's way: one synapse per connection, on NEURON (in this process);
    # the run under test is nethub's default, merged and on CoreNEURON wherever the model allows
    # it, in a new process (CoreNEURON takes one mechanism library per process)
    off = run(store, False, {"nethubCoreneuron": False})
    on = default_run_in_new_process(store)
    assert off.meta["engine"] == "neuron"
    assert on.meta["engine"] == ("neuron" if rows_apart else "coreneuron"), on.meta
    objs = on.meta["synapse_objects"]  # recorded with the run
    assert objs["objects"] == plan.n_objects
    assert objs["saved_by_merging"] == off.meta["synapse_objects"]["objects"] - plan.n_objects
    t0, g0 = spikes(off)
    t1, g1 = spikes(on)
    assert len(t0) > 60, "the network is active"
    np.testing.assert_array_equal(g0, g1)
    assert np.max(np.abs(t0 - t1)) <= 1e-6


def test_nonlinear_alone_is_bit_identical(tmp_path):
    net, cfg, mods = spec("nmda")
    del net["connParams"]["I->E"]
    store = store_of(tmp_path, "nmda_only", net, cfg, mods)
    plan = plan_merge(nethub.load(store))
    assert not plan.merged and "nmda" in plan.report["not_merged"]
    off, on = run(store, False), run(store, True)
    assert len(off.spike_times) > 60
    np.testing.assert_array_equal(off.spike_times, on.spike_times)
    np.testing.assert_array_equal(off.spike_gids, on.spike_gids)


def test_recorded_synapses_keep_their_own_object(tmp_path, caplog):
    """A synMech trace records one connection's synapse (NetPyNE's), not the shared sum."""
    net, cfg, mods = spec("exp2syn")
    net["connParams"]["E->all exp2"]["loc"] = 0.5  # all in the recorded segment
    store = store_of(tmp_path, "traced", net, cfg, mods)
    traces = {"recordCells": [0, 3],
              "recordTraces": {"g": {"sec": "dend", "loc": 0.5, "synMech": "exp2",
                                     "var": "g"},
                               "g1": {"sec": "dend", "loc": 0.5, "synMech": "exp2",
                                      "var": "g", "index": 1}}}
    off = run(store, False, traces)
    with caplog.at_level(logging.INFO, logger="nethub.sim.engine"):
        on = run(store, True, traces)
    assert "(synMech recorded (recordTraces))" in caplog.text
    assert re.search(r"saved: [^)]*exp2", caplog.text)  # other cells' synapses still shared
    assert off.traces.index.equals(on.traces.index) and len(on.traces) == 4
    assert np.max(np.abs(off.traces.data)) > 0
    np.testing.assert_allclose(on.traces.data, off.traces.data, rtol=1e-9, atol=1e-15)


def test_info_reports_savings(tmp_path):
    net, cfg, mods = spec("mixed")
    store = store_of(tmp_path, "info", net, cfg, mods)
    got = store_savings(store)
    plan = plan_merge(nethub.load(store))
    assert got["n_objects"] == plan.n_objects < got["n_unmerged"]
    assert got["n_unmerged"] - got["n_objects"] == sum(got["saved"].values())
    assert set(got["not_merged"]) == {"nmda"}
    info = nethub.info(store)
    assert info["synapse_merging"] == got
    net["connParams"] = {}
    assert store_savings(store_of(tmp_path, "none", net, cfg, mods)) is None


def test_few_hundred_noisy_cells_same_rates(tmp_path):
    """240 E + 60 I cells, 1 s: round-off may move spikes, the statistics must not."""
    net, cfg, mods = spec("large", n_e=240, n_i=60, duration=1000.0, conv=20, p_inh=0.2)
    store = store_of(tmp_path, "large", net, cfg, mods)
    plan = plan_merge(nethub.load(store))
    assert plan.n_objects < 0.5 * len(plan.syn_index)
    off, on = run(store, False), run(store, True)
    n = 300
    r0 = np.bincount(off.spike_gids, minlength=n)
    r1 = np.bincount(on.spike_gids, minlength=n)
    for pop in (slice(0, 240), slice(240, 300)):
        assert r0[pop].sum() > 500
        assert abs(r1[pop].sum() - r0[pop].sum()) <= 0.01 * r0[pop].sum()
    assert np.corrcoef(r0, r1)[0, 1] > 0.99
