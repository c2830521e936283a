"""One shared Exp2Syn/ExpSyn per (cell, section, segment, synMech), as nethub.sim.merge plans
it, gives the spikes of one synapse object per connection (NetPyNE's default), within 1e-6 ms,
on a small deterministic network written directly in NEURON; and the shared objects sit in
the segment NEURON gives each connection's location."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from .conftest import serial_env

pytestmark = pytest.mark.neuron

RUN = r"""
import json, sys, time
import numpy as np
from neuron import h
from nethub.celltypes import CompartmentalCell, Section, SynMech
from nethub.network import Network
from nethub.runconfig import RunConfig
from nethub.sim.merge import plan_merge

mode = sys.argv[1]
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
N, FANIN = 40, 30
rng = np.random.default_rng(3)
n = N * FANIN
post = np.repeat(np.arange(N), FANIN)
pre = rng.integers(0, N, n)
mech = rng.choice(["AMPA", "GABA"], n, p=[0.8, 0.2])
sec = rng.choice(["soma", "dend"], n, p=[0.3, 0.7])
# random places plus the ends and the segment boundaries of the 5-segment dendrite
loc = np.where(rng.random(n) < 0.3, rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], n), rng.random(n))
weight = np.where(mech == "AMPA", 0.0008, 0.0015)
delay = 1 + 4 * rng.random(n)
net = Network(
    cell_types={"HH": CompartmentalCell("HH", sections={
        "soma": Section(geom={"L": 18.8, "diam": 18.8, "nseg": 1}),
        "dend": Section(geom={"L": 200.0, "diam": 2.0, "nseg": 5}, parent="soma")})},
    syn_mechs={"AMPA": SynMech("AMPA", "Exp2Syn", {"tau1": 0.2, "tau2": 3.0, "e": 0.0}),
               "GABA": SynMech("GABA", "ExpSyn", {"tau": 6.0, "e": -80.0})},
    cells={"gid": np.arange(N), "pop": ["E"] * N, "cell_type": ["HH"] * N},
    connections={"pre_gid": pre, "post_gid": post, "syn_mech": list(mech),
                 "post_sec": list(sec), "post_loc": loc, "weight": weight, "delay": delay})
plan = plan_merge(net, RunConfig(merge_synapses=mode == "merged"))

cells = []
for gid in range(N):
    soma, dend = h.Section(name=f"soma{gid}"), h.Section(name=f"dend{gid}")
    dend.connect(soma(1))
    soma.L = soma.diam = 18.8
    soma.insert("hh")
    dend.L, dend.diam, dend.nseg = 200.0, 2.0, 5
    dend.insert("pas")
    for seg in dend:
        seg.pas.g, seg.pas.e = 5e-5, -65
    pc.set_gid2node(gid, 0)
    nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    nc.threshold = 10
    pc.cell(gid, nc)
    bg = h.ExpSyn(soma(0.5))
    bg.tau = 2
    ns = h.NetStim()
    ns.interval, ns.number, ns.start, ns.noise = 15.0, 1e9, 0.0, 1.0
    ns.noiseFromRandom123(gid, 0, 1)
    ncs = h.NetCon(ns, bg)
    ncs.weight[0], ncs.delay = 0.012, 1.0
    cells.append({"soma": soma, "dend": dend, "keep": [nc, bg, ns, ncs]})

params = {name: m.params for name, m in net.syn_mechs.items()}
models = {name: m.model for name, m in net.syn_mechs.items()}
syns = []
for row in plan.first_row.tolist():
    hsec = cells[post[row]][sec[row]]
    syn = getattr(h, models[mech[row]])(hsec(loc[row]))
    for k, v in params[mech[row]].items():
        setattr(syn, k, v)
    syns.append(syn)
def node(pp):
    seg = pp.get_segment()
    return seg.sec.name(), round(seg.x, 12)


netcons = []
placed = True
for i in range(n):
    syn = syns[plan.syn_index[i]]
    # where NEURON puts a point process at this row's location (x = 0 of the dendrite is
    # the soma's node at 1, for instance)
    probe = h.ExpSyn(cells[post[i]][sec[i]](loc[i]))
    placed &= node(syn) == node(probe)
    del probe
    nc = pc.gid_connect(int(pre[i]), syn)
    nc.weight[0], nc.delay = float(weight[i]), float(delay[i])
    netcons.append(nc)
# distinct objects of one cell, section and mechanism sit in distinct segments
places = {}
for k, row in enumerate(plan.first_row.tolist()):
    places.setdefault((int(post[row]), sec[row], mech[row], node(syns[k])), []).append(k)
distinct = all(len(v) == 1 for v in places.values())

tv, iv = h.Vector(), h.Vector()
pc.spike_record(-1, tv, iv)
pc.set_maxstep(10)
h.dt = 0.025
h.finitialize(-65)
t0 = time.perf_counter()
pc.psolve(1000)
print(json.dumps({"t": list(tv), "g": list(iv), "n_objects": plan.n_objects,
                  "placed": bool(placed), "distinct": distinct,
                  "run_s": time.perf_counter() - t0}))
"""


def run(mode: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", RUN, mode], capture_output=True, text=True,
                          env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sorted_spikes(res: dict) -> tuple[np.ndarray, np.ndarray]:
    t, g = np.array(res["t"]), np.array(res["g"], dtype=np.int64)
    order = np.lexsort((t, g))
    return t[order], g[order]


def test_shared_synapses_give_the_same_spikes():
    one_each, merged = run("per_connection"), run("merged")
    assert one_each["n_objects"] == 1200
    assert merged["n_objects"] <= 40 * 20  # per cell: (3 soma + 7 dend nodes) x 2 mechanisms
    assert merged["placed"] and merged["distinct"]
    t1, g1 = sorted_spikes(one_each)
    t2, g2 = sorted_spikes(merged)
    assert len(t1) > 200  # the network is active
    assert np.array_equal(g1, g2)
    assert np.max(np.abs(t1 - t2)) <= 1e-6
