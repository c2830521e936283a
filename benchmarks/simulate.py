"""Simulator benchmark: nethub's NEURON instantiation and runs against a hand-written
plain-NEURON script of the same network, and the whole pipeline against NetPyNE.

The network (NetPyNE-style spec, :func:`spec`): ``--cells`` single-compartment Hodgkin-Huxley
cells (default 20,000), each receiving ``--conns`` connections (default 100, so 2,000,000
NetCons, one Exp2Syn per connection as NetPyNE makes them) from random cells of the same
population, plus one Poisson-like NetStim per cell (Random123 noise keyed by gid). Every
measurement runs in its own fresh process (so peak RSS belongs to it), one after the other:

1. **nethub pipeline, 1 rank**: ``nethub.build`` the spec, ``nethub.save`` the store, then
   ``nethub.simulate(store)`` (read the rank's share, instantiate, simulate, gather, write
   the run into the store). Its ``Results.timing`` gives the phases by the wall clock; the
   child also wraps the functions ``run_store`` calls to take their CPU time.
2. **floor**: a hand-written plain-NEURON script of the same network (HOC template cell, HOC
   procedures looping over Vectors to create cells, synapses + ``pc.gid_connect`` NetCons and
   the NetStims), fed the very same connection arrays (from a ``.npz``). Its spikes must equal
   nethub's exactly (same network, same creation order per cell).
3. ``--repeat - 1`` more instantiation-only runs (0 ms) of the floor and of nethub,
   alternating; medians reported. Then nethub's instantiation with the old per-connection
   Python loop (the bulk path switched off): before/after.
4. **nethub, 2 ranks**: ``nethub.simulate(store, nprocs=2)`` (``mpiexec``): spikes equal
   to 1 rank, peak RSS per rank (``Results.meta['peak_rss_mb']``); then ``--speedup-pairs``
   back-to-back 1-rank / 2-rank runs of ``--speedup-ms`` ms for the speed-up (median ratio).
5. **NetPyNE 1.1** ``sim.createSimulate`` on the same spec at ``--netpyne-cells`` cells and
   half that (default 2,000 and 1,000: NetPyNE is far slower), next to the nethub pipeline at
   the same size (spikes must be identical); NetPyNE at full size is extrapolated: its creation
   time with the growth exponent measured between the two sizes, run + gather linearly (the
   all-linear figure is printed too, as a lower bound).

Goals (issue "Simulator", item 9): instantiation (read + cells + connections + stims) at most
1.3x the floor's (load arrays + cells + connections + stims); simulation phase
(``finitialize`` + ``psolve``) within 5% of the floor's; 2 ranks at least 1.7x faster than 1
in the simulation phase (wall clock). The first two are judged on CPU time (wall clock shown
beside it): on a shared 2-core machine the wall clock of runs minutes apart varies by 2x.

Run::

    .venv/bin/python benchmarks/simulate.py              # full size (~10 min on 2 idle cores)
    .venv/bin/python benchmarks/simulate.py --quick      # 2,000 cells (~2 min)
    .venv/bin/python benchmarks/simulate.py --json simulate.json

Exit status 0 when all goals pass, 1 otherwise, 2 when spikes differ (floor vs nethub, or
1 vs 2 ranks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: Goals (issue "Simulator", item 9).
INSTANTIATE_GOAL = 1.3  # nethub instantiation at most 1.3x the hand-written HOC-loop floor
SIMULATE_GOAL = 1.05  # simulation phase within 5% of the hand-written script
SPEEDUP_GOAL = 1.7  # 1 -> 2 ranks speed-up of the simulation phase

#: The model, shared by the spec and the hand-written floor.
HH = {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70.0}
GEOM = {"diam": 18.8, "L": 18.8, "Ra": 123.0}
SYN = {"tau1": 0.1, "tau2": 5.0, "e": 0.0}
STIM = {"rate": 10.0, "noise": 0.5, "start": 1.0}
CONN_WEIGHT, CONN_DELAY = 0.0004, 5.0
STIM_WEIGHT, STIM_DELAY = 0.02, 1.0
THRESHOLD = 10.0  # NetPyNE's defaultThreshold
STIM_SEED = 1
SELF = Path(__file__).resolve()


# ----------------------------------------------------------------------------- the model
#: This benchmark measures nethub's NEURON instantiation and run against the same network written
#: by hand (one Exp2Syn per connection, NEURON) and requires identical spikes, so nethub runs it
#: like for like: no synapse merging, no CoreNEURON (both on by default; see simulate_fast.py).
LIKE_FOR_LIKE = {"nethubMergeSynapses": False, "nethubCoreneuron": False}


def spec(n_cells: int, conns: int, duration: float) -> tuple[dict, dict]:
    """netParams and simConfig (NetPyNE-style plain dicts)."""
    net = {
        "sizeX": 1000.0, "sizeY": 1000.0, "sizeZ": 1000.0,
        "popParams": {"E": {"cellType": "HH", "numCells": n_cells}},
        "cellParams": {"HH": {"secs": {"soma": {"geom": dict(GEOM),
                                                 "mechs": {"hh": dict(HH)}}}}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", **SYN}},
        "connParams": {"E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"},
                                "convergence": conns, "weight": CONN_WEIGHT,
                                "delay": CONN_DELAY, "synMech": "exc", "sec": "soma",
                                "loc": 0.5}},
        "stimSourceParams": {"bkg": {"type": "NetStim", **STIM}},
        "stimTargetParams": {"bkg->E": {"source": "bkg", "conds": {"pop": "E"},
                                        "weight": STIM_WEIGHT, "delay": STIM_DELAY,
                                        "synMech": "exc", "sec": "soma", "loc": 0.5}},
    }
    cfg = {"duration": duration, "dt": 0.025,
           "seeds": {"conn": 1, "stim": STIM_SEED, "loc": 1, "cell": 1},
           "hParams": {"celsius": 6.3, "v_init": -65.0}, "verbose": False}
    return net, cfg


# ----------------------------------------------------------------------------- helpers
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(mode: str, *args: str, nprocs: int = 1) -> dict:
    """Run ``mode`` of this script in a fresh process; its last stdout line is JSON."""
    from nethub.sim import neuron_env

    cmd = [sys.executable, str(SELF), "--_child", mode, *args]
    env = neuron_env()
    env["OMP_NUM_THREADS"] = "1"
    if nprocs > 1:
        cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(nprocs)] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sorted_spikes(t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, g = np.asarray(t, dtype=np.float64), np.asarray(g, dtype=np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


# ----------------------------------------------------------------------------- children
def run_pipeline(spec_path: str, store: str, spikes_out: str) -> dict:
    """build + save + simulate (read, instantiate, run, gather, write) on 1 rank."""
    import nethub
    from nethub.runner import simulate

    net_params, cfg = json.loads(Path(spec_path).read_text())
    cfg.update(LIKE_FOR_LIKE)  # stored with the network: every run of the store uses it
    cpu = cpu_timers()
    t0 = time.perf_counter()
    net = nethub.build(net_params, cfg)
    t_build = time.perf_counter() - t0
    t = time.perf_counter()
    nethub.save(net, store)
    t_save = time.perf_counter() - t
    del net
    t = time.perf_counter()
    res = simulate(store)
    t_run = time.perf_counter() - t
    total = time.perf_counter() - t0
    np.savez(spikes_out, t=res.spike_times, g=res.spike_gids)
    return {"build": t_build, "save": t_save, "run": t_run, "total": total,
            "timing": res.timing, "cpu": cpu, "meta": res.meta,
            "n_spikes": len(res.spike_times), "rss_mb": peak_rss_mb()}


def run_nethub(store: str, out: str, nprocs: str, spikes_out: str, duration: str = "") -> dict:
    """``nethub.simulate(store, nprocs=N)`` as a user calls it (optionally another
    duration)."""
    from nethub.runner import simulate

    cfg = {"duration": float(duration)} if duration else None
    t = time.perf_counter()
    res = simulate(store, sim_config=cfg, nprocs=int(nprocs), output=out)
    wall = time.perf_counter() - t
    np.savez(spikes_out, t=res.spike_times, g=res.spike_gids)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"run": wall, "timing": res.timing, "meta": res.meta,
            "n_spikes": len(res.spike_times), "rss_mb": peak_rss_mb(),
            "children_rss_mb": children}


def run_instantiate(store: str, out: str, path: str) -> dict:
    """nethub instantiation alone (simulating 0 ms); ``path`` "python" switches the bulk
    connection path off: the per-connection Python loop of before."""
    from nethub.runner import simulate
    from nethub.sim import bulkconnect

    if path == "python":
        bulkconnect.plan = lambda net, cells: None
    cpu = cpu_timers()
    res = simulate(store, sim_config={"duration": 0.0}, output=out)
    return {"timing": res.timing, "cpu": cpu, "meta": res.meta, "rss_mb": peak_rss_mb()}


def cpu_timers() -> dict[str, float]:
    """Also measure the CPU time (``time.process_time``) of nethub's phases, by wrapping the
    functions ``run_store`` calls (measurement only): the phases of ``Results.timing``
    (read: ``local_gids`` + ``read_network``; cells: ``prepare_mechanisms`` + ``create_cells``;
    connections: ``create_connections`` + ``create_stims`` + ``create_pointer_conns``;
    simulate: ``_solve``, i.e. finitialize + psolve). On a shared machine CPU time is much
    less disturbed by other processes than wall time."""
    import nethub.sim as nsim
    import nethub.sim.mechanisms as mechs
    from nethub.sim.engine import Engine

    cpu: dict[str, float] = {}

    def wrap(owner, name: str, phase: str) -> None:
        fn = getattr(owner, name)

        def timed(*a, **k):
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                cpu[phase] = cpu.get(phase, 0.0) + time.process_time() - t

        setattr(owner, name, timed)

    wrap(nsim, "local_gids", "read")  # run_store's own names of them
    wrap(nsim, "read_network", "read")
    wrap(mechs, "prepare_mechanisms", "cells")
    wrap(Engine, "create_cells", "cells")
    for name in ("create_connections", "create_stims", "create_pointer_conns"):
        wrap(Engine, name, "connections")
    wrap(nsim, "_solve", "simulate")
    return cpu


FLOOR_HOC = r"""
begintemplate BenchHH
public soma
create soma
proc init() {
    soma {
        diam = %(diam)r  L = %(L)r  Ra = %(Ra)r
        insert hh  gnabar_hh = %(gnabar)r  gkbar_hh = %(gkbar)r  gl_hh = %(gl)r  el_hh = %(el)r
    }
}
endtemplate BenchHH

objref pc, cells, spk_ncs, syns, ncs, stims, rands, nil
pc = new ParallelContext()
cells = new List()
spk_ncs = new List()
syns = new List()
ncs = new List()
stims = new List()
rands = new List()

proc mkcells() { local i  localobj cell, nc  // $o1 gids
    for i = 0, $o1.size() - 1 {
        cell = new BenchHH()
        cells.append(cell)
        pc.set_gid2node($o1.x[i], pc.id())
        cell.soma nc = new NetCon(&v(0.5), nil)
        nc.threshold = %(threshold)r
        pc.cell($o1.x[i], nc, 1)
        spk_ncs.append(nc)
    }
}

proc mkconns() { local i  localobj syn, nc  // $o1 pre gid, $o2 post index, $o3 loc, $o4 w, $o5 d
    for i = 0, $o1.size() - 1 {
        cells.o($o2.x[i]).soma syn = new Exp2Syn($o3.x[i])
        syn.tau1 = %(tau1)r  syn.tau2 = %(tau2)r  syn.e = %(e)r
        syns.append(syn)
        nc = pc.gid_connect($o1.x[i], syn)
        nc.weight[0] = $o4.x[i]
        nc.delay = $o5.x[i]
        ncs.append(nc)
    }
}

proc mkstims() { local i  localobj ns, r, syn, nc  // $o1 gids, $2 hash, $3 seed
    for i = 0, $o1.size() - 1 {
        ns = new NetStim()
        ns.interval = %(interval)r  ns.noise = %(noise)r  ns.start = %(start)r  ns.number = 1e9
        r = new Random()
        r.Random123($2, $o1.x[i], $3)
        r.negexp(1)
        ns.noiseFromRandom(r)
        cells.o(i).soma syn = new Exp2Syn(0.5)
        syn.tau1 = %(tau1)r  syn.tau2 = %(tau2)r  syn.e = %(e)r
        syns.append(syn)
        nc = new NetCon(ns, syn)
        nc.weight[0] = %(stim_weight)r
        nc.delay = %(stim_delay)r
        ncs.append(nc)
        stims.append(ns)
        rands.append(r)
    }
}
"""


class Phases:
    """Wall and CPU time of named phases: ``with phases("cells"): ...``."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._name = ""

    def __call__(self, name: str) -> Phases:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._t, self._c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc) -> None:
        self.wall[self._name] = time.perf_counter() - self._t
        self.cpu[self._name] = time.process_time() - self._c


def run_floor(arrays: str, duration: str, spikes_out: str) -> dict:
    """The hand-written plain-NEURON script: HOC template + HOC loops over Vectors."""
    import hashlib

    from neuron import h

    h.load_file("stdrun.hoc")
    h(FLOOR_HOC % {**GEOM, **HH, **SYN, "threshold": THRESHOLD,
                   "interval": 1000.0 / STIM["rate"], "noise": STIM["noise"],
                   "start": STIM["start"], "stim_weight": STIM_WEIGHT,
                   "stim_delay": STIM_DELAY})
    pc = h.pc
    phase = Phases()
    with phase("load"):
        a = np.load(arrays)
        gids = a["gids"]
        post_index = np.searchsorted(gids, a["post"])
        vecs = [h.Vector(x.astype(np.float64)) for x in
                (a["pre"], post_index, a["loc"], a["weight"], a["delay"])]
    with phase("cells"):
        h.mkcells(h.Vector(gids.astype(np.float64)))
    with phase("connections"):
        h.mkconns(*vecs)
    with phase("stims"):
        hash_netstim = int(hashlib.md5(b"NetStim").hexdigest()[:8], 16)  # noqa: S324
        h.mkstims(h.Vector(gids.astype(np.float64)), hash_netstim, STIM_SEED)
    spk_t, spk_g = h.Vector(), h.Vector()
    pc.spike_record(-1, spk_t, spk_g)
    h.CVode().active(0)
    h.celsius, h.dt, h.tstop = 6.3, 0.025, float(duration)
    pc.set_maxstep(10)
    pc.barrier()
    with phase("simulate"):
        h.finitialize(-65.0)
        pc.psolve(float(duration))
        pc.barrier()
    np.savez(spikes_out, t=spk_t.as_numpy(), g=spk_g.as_numpy())
    return {"timing": phase.wall, "cpu": phase.cpu, "n_spikes": int(spk_t.size()),
            "rss_mb": peak_rss_mb(), "n_conns": int(len(a["pre"]))}


def run_netpyne(spec_path: str, spikes_out: str) -> dict:
    """NetPyNE 1.1 ``sim.createSimulate`` on the same spec (no analysis, nothing saved)."""
    import contextlib
    import io

    from netpyne import sim, specs

    net_params, cfg = json.loads(Path(spec_path).read_text())
    cfg.update({"analysis": {}, "saveJson": False, "savePickle": False,
                "recordCells": [], "recordTraces": {}})
    with contextlib.redirect_stdout(io.StringIO()):
        t = time.perf_counter()
        sim.createSimulate(netParams=specs.NetParams(net_params),
                           simConfig=specs.SimConfig(cfg))
        wall = time.perf_counter() - t
    td = dict(sim.timingData)
    np.savez(spikes_out, t=np.asarray(sim.allSimData["spkt"]),
             g=np.asarray(sim.allSimData["spkid"]))
    return {"total": wall, "timing": {k: float(v) for k, v in td.items()},
            "n_spikes": len(sim.allSimData["spkt"]), "rss_mb": peak_rss_mb()}


CHILDREN = {"pipeline": run_pipeline, "nethub": run_nethub, "floor": run_floor,
            "netpyne": run_netpyne, "instantiate": run_instantiate}


# ----------------------------------------------------------------------------- driver
def floor_arrays(store: Path, out: Path) -> None:
    """The store's cells and connections as plain arrays for the hand-written script."""
    from nethub.store import read_network

    net = read_network(store)
    c = net.connections
    np.savez(out, gids=np.asarray(net.cells["gid"]), pre=np.asarray(c["pre_gid"]),
             post=np.asarray(c["post_gid"]), loc=np.asarray(c["post_loc"]),
             weight=np.asarray(c["weight"]), delay=np.asarray(c["delay"]))


def same_spikes(a: Path, b: Path) -> tuple[bool, int, int]:
    x, y = np.load(a), np.load(b)
    ta, ga = sorted_spikes(x["t"], x["g"])
    tb, gb = sorted_spikes(y["t"], y["g"])
    ok = len(ta) == len(tb) and np.array_equal(ga, gb) and np.array_equal(ta, tb)
    return ok, len(ta), len(tb)


def instantiate_time(timing: dict) -> float:
    return sum(timing.get(k, 0.0) for k in ("read", "load", "cells", "connections", "stims"))


def measure(args: argparse.Namespace, work: Path) -> dict:
    fig: dict = {"cells": args.cells, "conns_per_cell": args.conns,
                 "duration_ms": args.duration, "netpyne_cells": args.netpyne_cells,
                 "load_before": os.getloadavg()}
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec(args.cells, args.conns, args.duration)))
    store = work / "net.h5"
    say(f"nethub pipeline, {args.cells:,} cells x {args.conns} conns, 1 rank ...")
    fig["nethub1"] = child("pipeline", str(spec_path), str(store), str(work / "nethub1.npz"))
    floor_arrays(store, work / "arrays.npz")
    say("hand-written NEURON floor ...")
    fig["floor"] = child("floor", str(work / "arrays.npz"), str(args.duration),
                         str(work / "floor.npz"))
    fig["spikes_floor_equal"] = same_spikes(work / "nethub1.npz", work / "floor.npz")
    fig["inst_floor"] = [fig["floor"]]
    fig["inst_nethub"] = [fig["nethub1"]]
    for r in range(args.repeat - 1):
        say(f"instantiation only, floor and nethub, repetition {r + 2} of {args.repeat} ...")
        fl = child("floor", str(work / "arrays.npz"), "0", str(work / "f0.npz"))
        fig["inst_floor"].append(fl)
        nh = child("instantiate", str(store), str(work / f"i{r}.h5"), "bulk")
        fig["inst_nethub"].append(nh)
    if args.before:
        say("before: nethub instantiation with the per-connection Python loop ...")
        fig["python_loop"] = child("instantiate", str(store), str(work / "loop.h5"), "python")
    if args.nprocs > 1:
        say(f"nethub, {args.nprocs} ranks ...")
        fig["nethubN"] = child("nethub", str(store), str(work / "mpi.h5"), str(args.nprocs),
                               str(work / "nethubN.npz"))
        fig["spikes_ranks_equal"] = same_spikes(work / "nethub1.npz", work / "nethubN.npz")
        fig["speedup_pairs"] = speedup_pairs(args, store, work)
    if args.netpyne_cells:
        sizes = [args.netpyne_cells // 2, args.netpyne_cells]
        fig["netpyne"] = {}
        for n in sizes:
            small = work / f"small{n}.json"
            small.write_text(json.dumps(spec(n, min(args.conns, n - 1), args.duration)))
            say(f"NetPyNE createSimulate, {n:,} cells ...")
            fig["netpyne"][n] = child("netpyne", str(small), str(work / f"netpyne{n}.npz"))
        say(f"nethub pipeline at NetPyNE's size, {n:,} cells ...")
        fig["nethub_small"] = child("pipeline", str(small), str(work / "small.h5"),
                                    str(work / "small.npz"))
        fig["spikes_netpyne_equal"] = same_spikes(work / "small.npz",
                                                  work / f"netpyne{n}.npz")
    fig["load_after"] = os.getloadavg()
    return fig


def speedup_pairs(args: argparse.Namespace, store: Path, work: Path) -> list[list[float]]:
    """1-rank and N-rank simulation phases run back to back (shorter duration), so that each
    ratio compares runs made under the same machine load."""
    pairs = []
    d = str(min(args.duration, args.speedup_ms))
    for r in range(args.speedup_pairs):
        say(f"speed-up pair {r + 1} of {args.speedup_pairs} ({d} ms, 1 then "
            f"{args.nprocs} ranks) ...")
        pair = []
        for n in (1, args.nprocs):
            res = child("nethub", str(store), str(work / f"sp{n}_{r}.h5"), str(n),
                        str(work / f"sp{n}.npz"), d)
            pair.append(res["timing"]["simulate"])
        pairs.append(pair + [os.getloadavg()[0]])
    return pairs


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- report
def median_phases(samples: list[dict], clock: str) -> dict[str, float]:
    """Per-phase medians over runs (``clock``: "timing" for wall, "cpu" for CPU time); the
    floor's connections include its stims, as nethub's timing does."""
    rows = []
    for r in samples:
        t = r[clock]
        rows.append({"read": t.get("read", t.get("load", 0.0)), "cells": t.get("cells", 0.0),
                     "connections": t.get("connections", 0.0) + t.get("stims", 0.0),
                     "sum": instantiate_time(t)})
    return {k: float(np.median([x[k] for x in rows])) for k in rows[0]}


def report(fig: dict) -> dict[str, bool]:
    n1, fl = fig["nethub1"], fig["floor"]
    wn, wf = median_phases(fig["inst_nethub"], "timing"), median_phases(fig["inst_floor"],
                                                                        "timing")
    cn, cf = median_phases(fig["inst_nethub"], "cpu"), median_phases(fig["inst_floor"], "cpu")
    goals = {}
    nconn = fig["cells"] * fig["conns_per_cell"]
    print(f"{fig['cells']:,} HH cells, {nconn:,} Exp2Syn NetCons + {fig['cells']:,} NetStims, "
          f"{fig['duration_ms']:g} ms simulated, dt 0.025 ms; load average "
          f"{fig['load_before'][0]:.1f} before, {fig['load_after'][0]:.1f} after")
    w, k = 34, len(fig["inst_nethub"])
    print(f"\n{'1 rank, seconds':{w}}{'-- wall clock --':>24}   {'-- CPU time --':>24}")
    print(f"{'':{w}}{'nethub':>8}{'floor':>8}{'ratio':>8}   {'nethub':>8}{'floor':>8}"
          f"{'ratio':>8}")

    def line(label: str, a: float, b: float, c: float, d: float) -> None:
        print(f"{label:{w}}{a:8.2f}{b:8.2f}{a / b:8.2f}   {c:8.2f}{d:8.2f}{c / d:8.2f}")

    for key, label in (("read", "read share / load arrays"), ("cells", "cells"),
                       ("connections", "connections + stims"),
                       ("sum", f"instantiation (median of {k})")):
        line(label, wn[key], wf[key], cn[key], cf[key])
    line("simulation phase", n1["timing"]["simulate"], fl["timing"]["simulate"],
         n1["cpu"]["simulate"], fl["cpu"]["simulate"])
    print(f"{'peak RSS (MB)':{w}}{n1['rss_mb']:8.0f}{fl['rss_mb']:8.0f}"
          f"{n1['rss_mb'] / fl['rss_mb']:8.2f}")
    samples = "; ".join(f"{instantiate_time(a['cpu']):.2f}/{instantiate_time(b['cpu']):.2f}"
                        for a, b in zip(fig["inst_nethub"], fig["inst_floor"]))
    print(f"instantiation CPU samples nethub/floor (s): {samples}")
    ok, a, b = fig["spikes_floor_equal"]
    print(f"spikes: nethub {a:,}, floor {b:,}: {'identical' if ok else 'DIFFERENT'}")
    if "python_loop" in fig:
        tl = median_phases([fig["python_loop"]], "cpu")
        print(f"before (per-connection Python loop), CPU: connections + stims "
              f"{tl['connections']:.2f} s (now {cn['connections']:.2f} s), instantiation "
              f"{tl['sum']:.2f} s = {tl['sum'] / cf['sum']:.2f}x floor (now "
              f"{cn['sum'] / cf['sum']:.2f}x)")
    goals["instantiation <= 1.3x floor (CPU time)"] = cn["sum"] <= INSTANTIATE_GOAL * cf["sum"]
    goals["simulation phase within 5% of floor (CPU time)"] = (
        n1["cpu"]["simulate"] <= SIMULATE_GOAL * fl["cpu"]["simulate"])
    if "nethubN" in fig:
        goals.update(ranks_table(fig, w))
    pipeline_table(fig)
    print()
    for name, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return goals


def ranks_table(fig: dict, w: int) -> dict[str, bool]:
    n1, nn = fig["nethub1"], fig["nethubN"]
    t1, tn = n1["timing"], nn["timing"]
    rss = nn["meta"].get("peak_rss_mb")
    n = len(rss) if rss else 2
    print(f"\n{n} ranks (nethub.simulate(store, nprocs={n}))")
    rss_txt = (", ".join(f"{x:.0f}" for x in rss) + " MB" if rss
               else f"max {nn['children_rss_mb']:.0f} MB (RUSAGE_CHILDREN)")
    print(f"{'  simulation phase, wall':{w}}{tn['simulate']:7.2f} s  (1 rank, earlier: "
          f"{t1['simulate']:.2f} s: {t1['simulate'] / tn['simulate']:.2f}x)")
    print(f"{'  instantiation (rank 0)':{w}}{instantiate_time(tn):7.2f} s")
    one = (n1["meta"].get("peak_rss_mb") or [n1["rss_mb"]])[0]
    print(f"{'  peak RSS per rank':{w}}{rss_txt} (1 rank: {one:.0f} MB)")
    ok, a, _ = fig["spikes_ranks_equal"]
    print(f"  spikes 1 vs {n} ranks: {'identical' if ok else 'DIFFERENT'} ({a:,})")
    pairs = fig.get("speedup_pairs") or []
    if not pairs:
        speed = t1["simulate"] / tn["simulate"]
    else:
        ratios = [a / b for a, b, _ in pairs]
        speed = float(np.median(ratios))
        txt = "; ".join(f"{a:.1f}/{b:.1f} s = {a / b:.2f}x (load {ld:.1f})"
                        for a, b, ld in pairs)
        print(f"  speed-up, back-to-back pairs 1/{n} ranks: {txt}; median {speed:.2f}x")
    return {f"{n} ranks >= 1.7x faster (simulation phase, wall)": speed >= SPEEDUP_GOAL}


def netpyne_extrapolated(fig: dict) -> dict:
    """NetPyNE at full size from its two measured sizes: creation (everything but the run and
    the gather) with the growth exponent measured between them (clamped to 1..2), run + gather
    and memory linearly; also the all-linear figure (a lower bound)."""
    (n1, a), (n2, b) = sorted(fig["netpyne"].items())
    big = fig["cells"]

    def create(r: dict) -> float:
        return r["total"] - r["timing"].get("runTime", 0.0) - r["timing"].get("gatherTime", 0.0)

    k = float(np.clip(np.log(create(b) / create(a)) / np.log(n2 / n1), 1.0, 2.0))
    run = b["total"] - create(b)
    total = create(b) * (big / n2) ** k + run * big / n2
    rss = b["rss_mb"] + (b["rss_mb"] - a["rss_mb"]) / (n2 - n1) * (big - n2)
    return {"exponent": k, "total": total, "linear": b["total"] * big / n2, "rss_mb": rss}


def pipeline_table(fig: dict) -> None:
    n1 = fig["nethub1"]
    print("\nwhole pipeline, 1 rank (nethub: build + save + read + instantiate + simulate + "
          "gather + write; NetPyNE: sim.createSimulate)")
    print(f"  nethub  {fig['cells']:>7,} cells: {n1['total']:7.2f} s (build {n1['build']:.2f}, "
          f"save {n1['save']:.2f}, run {n1['run']:.2f}), peak RSS {n1['rss_mb']:.0f} MB")
    if "netpyne" not in fig:
        return
    ns = fig["nethub_small"]
    sizes = sorted(fig["netpyne"])
    small = sizes[-1]
    print(f"  nethub  {small:>7,} cells: {ns['total']:7.2f} s (build {ns['build']:.2f}, "
          f"save {ns['save']:.2f}, run {ns['run']:.2f}, of which simulate "
          f"{ns['timing']['simulate']:.2f}), peak RSS {ns['rss_mb']:.0f} MB")
    for n in sizes:
        r = fig["netpyne"][n]
        td = r["timing"]
        parts = ", ".join(f"{k[:-4]} {td[k]:.2f}" for k in
                          ("createTime", "connectTime", "stimsTime", "runTime", "gatherTime")
                          if k in td)
        print(f"  NetPyNE {n:>7,} cells: {r['total']:7.2f} s ({parts}), "
              f"peak RSS {r['rss_mb']:.0f} MB")
    ex = netpyne_extrapolated(fig)
    print(f"  NetPyNE {fig['cells']:>7,} cells, extrapolated: ~{ex['total']:.0f} s (creation "
          f"growing as N^{ex['exponent']:.2f} as measured; all-linear lower bound "
          f"~{ex['linear']:.0f} s), ~{ex['rss_mb'] / 1024:.1f} GB")
    ok, a, b = fig["spikes_netpyne_equal"]
    print(f"  spikes nethub vs NetPyNE at {small:,} cells: "
          f"{'identical' if ok else 'DIFFERENT'} ({a:,} vs {b:,})")
    print(f"  nethub faster than NetPyNE: {fig['netpyne'][small]['total'] / ns['total']:.1f}x "
          f"measured at {small:,} cells; ~{ex['total'] / n1['total']:.1f}x at "
          f"{fig['cells']:,} (extrapolated; >= {ex['linear'] / n1['total']:.1f}x all-linear)")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=20000)
    ap.add_argument("--conns", type=int, default=100, help="connections per cell")
    ap.add_argument("--duration", type=float, default=None, help="simulated ms (50)")
    ap.add_argument("--nprocs", type=int, default=2, help="ranks of the MPI run (1: skip)")
    ap.add_argument("--netpyne-cells", type=int, default=None,
                    help="size of the NetPyNE comparison (0: skip)")
    ap.add_argument("--quick", action="store_true",
                    help="2,000 cells, NetPyNE at 500 and 1,000")
    ap.add_argument("--speedup-pairs", type=int, default=2,
                    help="back-to-back 1-rank/N-rank runs for the speed-up (2)")
    ap.add_argument("--speedup-ms", type=float, default=20.0,
                    help="simulated ms of those runs (20)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="instantiation samples of floor and nethub, median reported (3)")
    ap.add_argument("--no-before", dest="before", action="store_false",
                    help="skip the instantiation with the old per-connection Python loop")
    ap.add_argument("--json", metavar="OUT", default=None, help="also write the figures")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--_child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        out = CHILDREN[args._child[0]](*args._child[1:])
        print(json.dumps(out, default=float))
        return 0
    if args.quick:
        args.cells = min(args.cells, 2000)
    if args.netpyne_cells is None:
        args.netpyne_cells = min(args.cells, 1000 if args.quick else 2000)
    if args.duration is None:
        args.duration = 50.0
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.dir:
        work = Path(args.dir)
        work.mkdir(parents=True, exist_ok=True)
        fig = measure(args, work)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fig = measure(args, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, default=float))
    goals = report(fig)
    same = [fig[k][0] for k in ("spikes_floor_equal", "spikes_ranks_equal") if k in fig]
    if not all(same):
        return 2
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
