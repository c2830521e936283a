"""nethub.sim.fastsyn: Exp2Syn run as the bundled NethubExp2Syn on CoreNEURON gives the same
doubles as NEURON's built-in Exp2Syn, and is used only where a library is compiled anyway.

The compiled set is the one the biophysical SONATA fixture (kslow + VecStim + Exp2Syn) needs on
CoreNEURON, so this file shares its compile with tests/sonata/test_bio_*.py (one build)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nethub.converters.sonata import sonata_to_network
from nethub.formats.sonata import read_circuit
from nethub.nmodl import is_linear
from nethub.nmodl.info import point_process_name
from nethub.sim import fastsyn
from nethub.sim.coreneuron import compile_mechanisms
from nethub.sim.mechanisms import model_mod_files, used_mechanisms

BIO = Path(__file__).resolve().parents[2] / "fixtures" / "sonata" / "bio"


def test_plan_only_when_a_library_is_compiled_anyway():
    vec = {"vecevent.mod": "NEURON { ARTIFICIAL_CELL VecStim }"}
    assert fastsyn.plan({"Exp2Syn", "hh"}, {}) == {}  # built-ins only: no compile for it
    assert fastsyn.plan({"ExpSyn", "VecStim"}, vec) == vec
    planned = fastsyn.plan({"Exp2Syn", "VecStim"}, vec)
    assert set(planned) == {"vecevent.mod", fastsyn.FILE}
    assert point_process_name(planned[fastsyn.FILE]) == fastsyn.NAME
    # a model that brings a mechanism of that name keeps its own
    assert fastsyn.plan({"Exp2Syn", fastsyn.NAME}, vec) == vec


def test_declared_linear_so_merging_still_applies():
    assert is_linear(fastsyn.NAME)[0] and is_linear("Exp2Syn")[0]


@pytest.fixture(scope="module")
def bio_libs():
    net, _ = sonata_to_network(read_circuit(BIO / "simulation_config.json"))
    used = used_mechanisms(net)
    mods = fastsyn.plan(used, model_mod_files(net, used))
    assert fastsyn.FILE in mods
    return net, mods, compile_mechanisms(mods)


_SIDE_BY_SIDE = r"""
import json, os, sys
import numpy as np
from neuron import h, coreneuron
h.nrn_load_dll(sys.argv[1])
os.environ["CORENEURONLIB"] = sys.argv[2]
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
times = h.Vector([1.0, 1.2, 5.0, 9.5, 9.5, 20.0, 33.3, 60.0])
vs = h.VecStim()
vs.play(times)
pc.set_gid2node(0, 0)
pc.cell(0, h.NetCon(vs, None))
cells, recs = [], []
for gid, model in ((1, "Exp2Syn"), (2, "NethubExp2Syn")):
    s = h.Section(name=f"c{gid}")
    s.L = s.diam = 20
    s.insert("hh")
    syn = getattr(h, model)(s(0.5))
    syn.tau1, syn.tau2, syn.e = 1.0, 3.0, 0.0
    nc = pc.gid_connect(0, syn)
    nc.weight[0], nc.delay = 0.02, 1.0
    pc.set_gid2node(gid, 0)
    pc.cell(gid, h.NetCon(s(0.5)._ref_v, None, sec=s))
    vecs = {k: h.Vector() for k in ("v", "A", "B", "g", "i")}
    vecs["v"].record(s(0.5)._ref_v)
    for k in ("A", "B", "g", "i"):
        vecs[k].record(getattr(syn, f"_ref_{k}"))
    cells.append((s, syn, nc))
    recs.append(vecs)
spk_t, spk_g = h.Vector(), h.Vector()
pc.spike_record(-1, spk_t, spk_g)
h.dt = 0.025
h.CVode().cache_efficient(1)
pc.set_maxstep(10)
out = {}
for engine in ("neuron", "coreneuron"):
    h.finitialize(-65)
    coreneuron.enable = engine == "coreneuron"
    coreneuron.verbose = 0
    pc.psolve(80.0 + h.dt / 2)
    coreneuron.enable = False
    out[engine] = {k: [list(recs[0][k]), list(recs[1][k])] for k in recs[0]}
    out[engine]["spikes"] = [[t for t, g in zip(spk_t, spk_g) if g == gid] for gid in (1, 2)]
print("RESULT " + json.dumps(out))
"""


def test_same_doubles_as_builtin_on_neuron_and_coreneuron(bio_libs):
    _, _, libs = bio_libs
    proc = subprocess.run([sys.executable, "-c", _SIDE_BY_SIDE, str(libs.nrnmech),
                           str(libs.corenrnmech)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    for engine, rec in out.items():
        for k, (builtin, ours) in rec.items():
            assert len(builtin) > 3000 if k != "spikes" else len(builtin) >= 2, (engine, k)
            assert np.array_equal(builtin, ours), (engine, k)  # bit for bit
    assert out["neuron"]["spikes"] == out["coreneuron"]["spikes"]


_RUN = r"""
import json, sys
from nethub.converters.sonata import sonata_run_config, sonata_to_network
from nethub.formats.sonata import read_circuit
from nethub.runner import simulate
c = read_circuit(sys.argv[1])
net, _ = sonata_to_network(c)
res = simulate(net, sonata_run_config(c.config.section("run"), c.config.section("conditions")))
print("RESULT " + json.dumps({"meta": {k: res.meta[k] for k in ("engine", "engine_reason")},
                              "syn": res.meta.get("synapse_objects"),
                              "t": res.spike_times.tolist(), "g": res.spike_gids.tolist()}))
"""


def test_bio_fixture_runs_it_on_coreneuron_merged_with_bmtks_spikes(bio_libs):
    """In a fresh process (CoreNEURON loads one library per process)."""
    import h5py

    proc = subprocess.run([sys.executable, "-c", _RUN, str(BIO / "simulation_config.json")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(next(s for s in proc.stdout.splitlines()
                          if s.startswith("RESULT "))[len("RESULT "):])
    assert out["meta"]["engine"] == "coreneuron"
    assert f"run as {fastsyn.NAME}" in out["meta"]["engine_reason"]
    assert out["syn"]["saved_by_merging"] > 0  # merged as the built-in is
    with h5py.File(BIO / "output" / "spikes.h5") as f:
        ref = sorted(zip(f["spikes/bio/node_ids"][()].tolist(),
                         f["spikes/bio/timestamps"][()].tolist()))
    mine = sorted((g, t) for g, t in zip(out["g"], out["t"]) if g < 3)  # bio: gids 0-2
    assert [g for g, _ in mine] == [g for g, _ in ref]
    assert np.max(np.abs(np.subtract([t for _, t in mine], [t for _, t in ref]))) < 1e-9
