"""A small network written directly in NEURON, no nethub, no NetPyNE: the reference for
test_plain_neuron.py. Prints its spikes as JSON (last line); with the argument ``traces``, a
JSON dict of spikes and the traces of test_trace_intervals.py (Vector.record at their
intervals) instead."""

import json
import math
import sys

from neuron import h

h.load_file("stdrun.hoc")

POS = [(0, 100, 0), (50, 120, 10), (90, 300, 40), (20, 500, 80)]  # µm, gids 0..3
CONNS = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (3, 0), (2, 0)]  # (pre, post)


def make_cell(gid):
    soma = h.Section(name=f"soma{gid}")
    dend = h.Section(name=f"dend{gid}")
    dend.connect(soma(1.0), 0)
    soma.L = soma.diam = 18.8
    soma.Ra = 123.0
    soma.insert("hh")
    for seg in soma:
        seg.hh.gnabar, seg.hh.gkbar, seg.hh.gl, seg.hh.el = 0.12, 0.036, 0.003, -70
    dend.diam, dend.L, dend.Ra, dend.cm, dend.nseg = 5.0, 150.0, 150.0, 1, 5
    dend.insert("pas")
    for seg in dend:
        seg.pas.g, seg.pas.e = 0.0000357, -70
    return soma, dend


cells = [make_cell(g) for g in range(4)]
spikes = []
recorders = []
for gid, (soma, _dend) in enumerate(cells):
    nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    nc.threshold = 10
    tv = h.Vector()
    nc.record(tv)
    recorders.append((gid, nc, tv))

keep = []
for pre, post in CONNS:
    syn = h.Exp2Syn(cells[post][1](0.5))
    syn.tau1, syn.tau2, syn.e = 0.1, 5.0, 0
    d = math.sqrt(sum((a - b) ** 2 for a, b in zip(POS[pre], POS[post])))
    nc = h.NetCon(cells[pre][0](0.5)._ref_v, syn, sec=cells[pre][0])
    nc.threshold = 10
    nc.weight[0] = 0.01
    nc.delay = d / 100.0 + 0.5
    keep += [syn, nc]

for gid in range(4):  # regular NetStim drive onto each soma, different rates
    ns = h.NetStim()
    ns.interval, ns.number, ns.start, ns.noise = 1000.0 / (10 + 5 * gid), 1e9, 5, 0
    syn = h.Exp2Syn(cells[gid][0](0.5))
    syn.tau1, syn.tau2, syn.e = 0.1, 5.0, 0
    nc = h.NetCon(ns, syn)
    nc.weight[0], nc.delay = 0.02, 2
    keep += [ns, syn, nc]

clamp = h.IClamp(cells[0][0](0.5))
clamp.delay, clamp.dur, clamp.amp = 100, 50, 0.3


def record(ref, step):
    vec = h.Vector()
    vec.record(ref, step)
    return vec


TRACES = {}  # name -> (interval, [Vector])
if sys.argv[1:] == ["traces"]:
    exc_0_2 = keep[2]  # the Exp2Syn of connection 0 -> 2 (the first on cell 2's dendrite)
    TRACES = {
        "V": (0.1, [record(cells[g][0](0.5)._ref_v, 0.1) for g in (1, 2)]),
        "Vd": (0.5, [record(seg._ref_v, 0.5) for seg in cells[2][1]]),
        "g": (0.5, [record(exc_0_2._ref_g, 0.5)]),
        "m": (0.25, [record(cells[2][0](0.5).hh._ref_m, 0.25)]),
    }
times = {step: record(h._ref_t, step) for step in (0.1, 0.25, 0.5)}

h.celsius = 6.3
h.dt = 0.025
h.finitialize(-65)
h.continuerun(300)
for gid, _nc, tv in recorders:
    spikes += [(t, gid) for t in tv]
if TRACES:
    print(json.dumps({"spikes": sorted(spikes), "time": {
        str(k): list(v) for k, v in times.items()}, "traces": {
        name: [list(v) for v in vecs] for name, (_, vecs) in TRACES.items()}}))
else:
    print(json.dumps(sorted(spikes)))
