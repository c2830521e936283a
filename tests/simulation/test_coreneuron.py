"""CoreNEURON (in NEURON 9's wheel) gives NEURON's spikes, and nethub.sim.coreneuron says when
a model can run on it.

``DEMO`` is written directly against NEURON and documents what the engine does for
``cfg.coreneuron``: ``cvode.cache_efficient(1)`` before ``finitialize``, ``pc.set_maxstep``,
``h.finitialize(v_init)``, ``coreneuron.enable = True``, ``pc.psolve(tstop)``; user .mod files
compiled with ``nrnivmodl -coreneuron`` and announced through ``$CORENEURONLIB``.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nethub.celltypes import CompartmentalCell, PointCell, Section, SynMech
from nethub.network import Network
from nethub.runconfig import RunConfig
from nethub.sim.coreneuron import (
    CORENEURON_BUILTIN,
    compile_mechanisms,
    coreneuron_eligible,
    probe_mechanisms,
)
from nethub.specs.runmap import merged_simconfig, runconfig_from_netpyne

from .conftest import serial_env


def _run(cfg: dict) -> RunConfig:
    """The RunConfig of a run whose simConfig is ``cfg``."""
    return runconfig_from_netpyne(merged_simconfig(None, cfg))

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
NEURON_MODS = REPO / ".venv/lib/python3.11/site-packages/neuron/.data/share/modfile"

DEMO = r"""
import json, os, sys, time
import numpy as np
from neuron import h, coreneuron

args = json.loads(sys.argv[1])
if "PMI_RANK" in os.environ or "PMI_SIZE" in os.environ:
    h.nrnmpi_init()
h.load_file("stdrun.hoc")
pc = h.ParallelContext()
rank, nhost = int(pc.id()), int(pc.nhost())
if args.get("mechs"):
    h.nrn_load_dll(args["mechs"]["nrnmech"])
    os.environ["CORENEURONLIB"] = args["mechs"]["corenrnmech"]
N, FANIN, syn_model = args["cells"], args["fanin"], args.get("syn", "Exp2Syn")
rng = np.random.default_rng(7)
pre = rng.integers(0, N, (N, FANIN))
inh = rng.random((N, FANIN)) < 0.2
delay = 1 + 4 * rng.random((N, FANIN))
t0 = time.perf_counter()
keep, syns = [], {}
for gid in range(rank, N, nhost):  # round-robin over the ranks
    soma = h.Section(name=f"soma{gid}")
    soma.L = soma.diam = 18.8
    soma.insert("hh")
    pc.set_gid2node(gid, rank)
    nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
    nc.threshold = 10
    pc.cell(gid, nc)
    exc = h.ExpSyn(soma(0.5))          # one shared synapse per cell and type
    exc.tau = 2
    inhs = getattr(h, syn_model)(soma(0.5))
    inhs.tau1, inhs.tau2, inhs.e = 0.5, 6, -80
    ns = h.NetStim()
    ns.interval, ns.number, ns.start, ns.noise = 12.0, 1e9, 0.0, 1.0
    if args.get("hoc_random"):         # NetPyNE's idiom: h.Random set to Random123
        r = h.Random()
        r.Random123(1, gid, 3)
        r.negexp(1)
        ns.noiseFromRandom(r)
        keep.append(r)
    else:
        ns.noiseFromRandom123(1, gid, 3)
    bg = h.NetCon(ns, exc)
    bg.weight[0], bg.delay = 0.006, 1.0
    keep += [soma, nc, ns, bg]
    syns[gid] = (exc, inhs)
for gid, (exc, inhs) in syns.items():  # every output port exists before the first input
    for k in range(FANIN):
        c = pc.gid_connect(int(pre[gid, k]), inhs if inh[gid, k] else exc)
        c.weight[0] = 0.004 if inh[gid, k] else 0.0012
        c.delay = float(delay[gid, k])
        keep.append(c)
tv, iv = h.Vector(), h.Vector()
pc.spike_record(-1, tv, iv)
h.CVode().cache_efficient(1)   # before finitialize; CoreNEURON needs it
pc.set_maxstep(10)
h.dt = 0.025
h.finitialize(-65)             # NEURON initialises; CoreNEURON takes the model from here
build = time.perf_counter() - t0
core = args["mode"] == "core"
coreneuron.enable = core
coreneuron.verbose = 0
t0 = time.perf_counter()
pc.psolve(args["tstop"])
run = time.perf_counter() - t0
coreneuron.enable = False
t_all, g_all = pc.py_gather(list(tv), 0), pc.py_gather(list(iv), 0)
if rank == 0:
    print(json.dumps({"t": sum(t_all, []), "g": sum(g_all, []), "build_s": build, "run_s": run,
                      "nhost": nhost}))
pc.barrier()
"""


def demo(mode: str, cells: int = 100, fanin: int = 20, tstop: float = 500.0, nprocs: int = 1,
         **extra) -> dict:
    args = json.dumps({"mode": mode, "cells": cells, "fanin": fanin, "tstop": tstop, **extra})
    cmd = [sys.executable, "-c", DEMO, args]
    if nprocs > 1:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
        if mpiexec is None:
            pytest.skip("mpiexec not found")
        cmd = [mpiexec, "-n", str(nprocs), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spikes(res: dict) -> tuple[np.ndarray, np.ndarray]:
    t, g = np.array(res["t"]), np.array(res["g"], dtype=np.int64)
    order = np.lexsort((t, g))
    return t[order], g[order]


def assert_same_spikes(a: dict, b: dict, at_least: int = 100) -> None:
    ta, ga = spikes(a)
    tb, gb = spikes(b)
    assert len(ta) >= at_least
    np.testing.assert_array_equal(ga, gb)
    np.testing.assert_array_equal(ta, tb)


# ---------------------------------------------------------------------------- simulations
@pytest.mark.neuron
def test_coreneuron_gives_neuron_spikes():
    assert_same_spikes(demo("neuron"), demo("core"))


@pytest.mark.neuron
def test_hoc_random123_noise_runs_on_coreneuron():
    # NEURON 9's NetStim copies an h.Random's Random123 ids into its own stream, so
    # noiseFromRandom(r) and noiseFromRandom123(...) give the same spikes, on both simulators
    ref = demo("neuron")
    assert_same_spikes(ref, demo("core", hoc_random=True))
    assert_same_spikes(ref, demo("neuron", hoc_random=True))


@pytest.mark.neuron
def test_coreneuron_on_two_ranks():
    ref = demo("neuron")
    two = demo("core", nprocs=2)
    assert two["nhost"] == 2
    assert_same_spikes(ref, two)


@pytest.mark.neuron
@pytest.mark.slow
def test_user_mod_files_need_coreneuron_build(tmp_path_factory, monkeypatch):
    """A copy of Exp2Syn under another name runs once compiled with -coreneuron; NetPyNE's
    izhi2007b.mod compiles but CoreNEURON refuses it, which only a probe finds."""
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mine = (NEURON_MODS / "exp2syn.mod").read_text().replace("POINT_PROCESS Exp2Syn",
                                                               "POINT_PROCESS MyExp2Syn")
    izhi = (REPO / "fixtures/specs/netpyne_tutorials/HybridTut/mod/izhi2007b.mod").read_text()
    libs = compile_mechanisms({"myexp2syn.mod": mine, "izhi2007b.mod": izhi})
    assert libs.names == ("Izhi2007b", "MyExp2Syn")
    assert compile_mechanisms({"myexp2syn.mod": mine, "izhi2007b.mod": izhi}) == libs  # cached
    ok, reason = probe_mechanisms(libs, ["MyExp2Syn"])
    assert ok, reason
    ok, reason = probe_mechanisms(libs, ["Izhi2007b"])
    assert not ok and "different MOD file" in reason
    mechs = {"nrnmech": str(libs.nrnmech), "corenrnmech": str(libs.corenrnmech)}
    assert_same_spikes(demo("neuron", syn="MyExp2Syn", mechs=mechs),
                       demo("core", syn="MyExp2Syn", mechs=mechs))


@pytest.mark.neuron
@pytest.mark.slow
def test_timing_500_hh_cells(capsys):
    """NEURON vs CoreNEURON on 500 HH cells (100 inputs each onto 2 shared synapses), 500 ms.
    Records the timing; asserts only identical spikes (the timing at scale is
    benchmarks/simulate_fast.py's; this was 2,000 cells for 1 s, 38 s of the CI suite)."""
    kw = dict(cells=500, fanin=100, tstop=500.0)
    nrn, core = demo("neuron", **kw), demo("core", **kw)
    assert_same_spikes(nrn, core, at_least=500)
    msg = (f"500 HH cells x 100 inputs, 500 ms: NEURON {nrn['run_s']:.2f} s, CoreNEURON "
           f"{core['run_s']:.2f} s (x{nrn['run_s'] / core['run_s']:.2f}), {len(nrn['t'])} "
           "spikes, identical")
    logger.warning(msg)
    with capsys.disabled():
        print("\n" + msg)


# ---------------------------------------------------------------------------- eligibility
def hh_net(**changes) -> Network:
    soma = Section(geom={"L": 18.8, "diam": 18.8, "nseg": 1}, mechs={"hh": {}})
    kw = dict(
        cell_types={"HH": CompartmentalCell("HH", sections={"soma": soma})},
        syn_mechs={"AMPA": SynMech("AMPA", "Exp2Syn", {"tau2": 3})},
        cells={"gid": [0, 1], "pop": ["E", "E"], "cell_type": ["HH", "HH"]},
        connections={"pre_gid": [0, 1], "post_gid": [1, 0], "syn_mech": ["AMPA", "AMPA"],
                     "post_sec": ["soma", "soma"]},
    )
    kw.update(changes)
    return Network(**kw)


def test_builtin_list_matches_the_wheel():
    if not NEURON_MODS.is_dir():
        pytest.skip("NEURON wheel's modfile folder not found")
    import re

    names = set()
    for f in NEURON_MODS.glob("*.mod"):
        names |= set(re.findall(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+(\w+)",
                                f.read_text()))
    assert names == set(CORENEURON_BUILTIN)


def test_plain_hh_network_is_eligible():
    ok, reason = coreneuron_eligible(hh_net(), _run({"duration": 10}))
    assert ok, reason


@pytest.mark.parametrize("cfg,words", [
    ({"cvode_active": True}, "fixed-step"),
    ({"recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}, "recordCells": "all"},
     "nrn#2101"),
    ({"recordLFP": [[0, 0, 0]]}, "recordLFP"),
])
def test_config_reasons(cfg, words):
    ok, reason = coreneuron_eligible(hh_net(), _run(cfg))
    assert not ok and words in reason


def test_traces_recorded_every_step_are_fine():
    cfg = {"recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"}},
           "recordCells": "all", "recordStep": 0.1, "dt": 0.025}
    assert coreneuron_eligible(hh_net(), _run(cfg), traces_per_step=True)[0]
    cfg["recordStep"] = 0.06
    ok, reason = coreneuron_eligible(hh_net(), _run(cfg), traces_per_step=True)
    assert not ok and "multiple of dt" in reason


def test_mechanism_reasons():
    net = hh_net(cell_types={
        "HH": CompartmentalCell("HH", sections={"soma": Section(mechs={"hh": {}})}),
        "IF": PointCell("IF", model="IntFire1"),
    }, cells={"gid": [0, 1], "pop": ["E", "A"], "cell_type": ["HH", "IF"]})
    ok, reason = coreneuron_eligible(net, _run({}))
    assert not ok and "'IntFire1'" in reason and "CoreNEURON lacks" in reason
    net = hh_net(syn_mechs={"A": SynMech("A", "AlphaSynapse", {})})
    assert "AlphaSynapse" in coreneuron_eligible(net, _run({}))[1]
    net = hh_net(syn_mechs={"A": SynMech("A", "Mine", {})})
    assert "no .mod file" in coreneuron_eligible(net, _run({}))[1]


def test_user_mod_files():
    ok_mod = "NEURON { POINT_PROCESS Mine NONSPECIFIC_CURRENT i }"
    net = hh_net(syn_mechs={"A": SynMech("A", "Mine", {})}, mod_files={"mine.mod": ok_mod})
    ok, reason = coreneuron_eligible(net, _run({}))
    assert ok and "nrnivmodl -coreneuron" in reason
    ptr = "NEURON { POINT_PROCESS Mine POINTER vpre NONSPECIFIC_CURRENT i }"
    ok, reason = coreneuron_eligible(hh_net(syn_mechs={"A": SynMech("A", "Mine", {})},
                                            mod_files={"mine.mod": ptr}), None)
    assert not ok and "mine.mod: POINTER" in reason
    rnd = ok_mod + "\nINITIAL { x = normrand(0, 1) }"
    ok, reason = coreneuron_eligible(hh_net(syn_mechs={"A": SynMech("A", "Mine", {})},
                                            mod_files={"mine.mod": rnd}), None)
    assert not ok and "Random123" in reason
    # an unused file with a POINTER does not matter
    net = hh_net(mod_files={"other.mod": ptr.replace("Mine", "Other")})
    assert coreneuron_eligible(net, _run({}))[0]


def test_model_reasons():
    izh = Section(geom={"L": 10}, point_processes=[
        {"mod": "Izhi2007a", "loc": 0.5, "vref": "V", "label": "iz"}])
    net = hh_net(cell_types={"HH": CompartmentalCell("HH", sections={"soma": izh})},
                 mod_files={"izhi2007a.mod": "NEURON { POINT_PROCESS Izhi2007a }"})
    ok, reason = coreneuron_eligible(net, _run({}))
    assert not ok and "only voltage sources" in reason
    net = hh_net(rxd={"species": {}})
    assert "rxd" in coreneuron_eligible(net, _run({}))[1]
    ext = Section(mechs={"hh": {}, "extracellular": {}})
    net = hh_net(cell_types={"HH": CompartmentalCell("HH", sections={"soma": ext})})
    assert "extracellular" in coreneuron_eligible(net, _run({}))[1]
    from nethub.table import Ragged

    net = hh_net(cell_types={"HH": CompartmentalCell("HH", sections={
        "soma": Section(mechs={"hh": {}})}), "S": PointCell("S", model="NetStim")},
                 cells={"gid": [0, 1], "pop": ["E", "S"], "cell_type": ["HH", "S"],
                        "params.dynamicRates.intervals": Ragged.from_lists([[], [100, 50]])})
    assert "dynamicRates" in coreneuron_eligible(net, _run({}))[1]


RUNTIME = r"""
import json
from neuron import h
from nethub.network import Network
from nethub.sim.coreneuron import coreneuron_eligible
s = h.Section(name="s")
out = [coreneuron_eligible(Network(), None, h)]
a = h.IntFire1()
h.CVode().active(1)
out.append(coreneuron_eligible(Network(), None, h))
print(json.dumps(out))
"""


@pytest.mark.neuron
def test_runtime_reasons():
    proc = subprocess.run([sys.executable, "-c", RUNTIME], capture_output=True, text=True,
                          env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = json.loads(proc.stdout.strip().splitlines()[-1])
    assert before[0], before[1]
    assert not after[0] and "IntFire1 objects" in after[1] and "cvode is active" in after[1]
