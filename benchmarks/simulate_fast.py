"""Fast-simulation benchmark: NetPyNE 1.1 against nethub (1 and N ranks) on one spec, from the
spec to spikes on disk.

The network (NetPyNE-style spec, :func:`spec`): ``--cells`` single-compartment Hodgkin-Huxley
cells (default 5,000; a soma with ``hh``, NetPyNE's usual first cell), each receiving
``--fanin`` recurrent connections (default 100) through Exp2Syn synapses, plus one Poisson-like
NetStim per cell; ``--duration`` ms simulated (default 1,000). Both simulators run it with their
defaults: NetPyNE makes one Exp2Syn per connection (``oneSynPerNetcon``); nethub shares one
synapse object among connections that may share it (``nethubMergeSynapses``) and runs
CoreNEURON when the model allows it (``nethubCoreneuron='auto'``). Merging changes only the
floating-point round-off, and the network is recurrent, so spike trains diverge after a while:
spike counts and rates are compared, not spike times.

Each measurement runs in its own fresh process (so peak RSS belongs to it), one after another:

1. a tiny nethub run first (not measured), so that the mechanism cache is warm;
2. **NetPyNE 1.1**: ``sim.create`` + ``sim.simulate`` (no analysis, nothing saved); phases from
   ``sim.timingData``: create (cells), connect, setup (stims, recording, initial setup),
   run, gather;
3. **nethub, 1 rank**: ``nethub.build``, ``nethub.save`` (write the store),
   ``nethub.simulate(store)``: read + mechanisms + cells + connections (instantiate),
   simulate, gather, and the rest of the call (run setup + writing the results into the store);
4. **nethub, N ranks** (``--nprocs``, default 2): the same with ``nethub.simulate(store,
   nprocs=N)`` (``mpiexec``); its spikes must equal the 1-rank run's bit for bit.

Goals (issue 6 item 5): simulation phase NetPyNE / nethub (1 rank) >= 10x; whole pipeline
(NetPyNE ``create`` + ``simulate`` against nethub build + write + instantiate + simulate + write
results) >= 15x; spike counts within 5 % of NetPyNE's.

Run::

    .venv/bin/python benchmarks/simulate_fast.py            # full size (NetPyNE alone ~10+ min)
    .venv/bin/python benchmarks/simulate_fast.py --cells 200 --fanin 20 --duration 200
    .venv/bin/python benchmarks/simulate_fast.py --json simulate_fast.json

Exit status 0 when all goals pass, 1 otherwise, 2 when 1 and N ranks give different spikes or
the spike counts differ from NetPyNE's by more than 5 %.
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

#: Goals (issue 6, item 5).
SIMULATE_GOAL = 10.0  # NetPyNE's simulation phase / nethub's, 1 rank
PIPELINE_GOAL = 15.0  # NetPyNE create + simulate / nethub build ... results written, 1 rank
COUNT_TOLERANCE = 0.05  # |spike count nethub / NetPyNE - 1|

SELF = Path(__file__).resolve()
sys.path.insert(0, str(SELF.parent))
# the model of benchmarks/simulate.py (HH soma, Exp2Syn, NetStim background; its ``conns``
# argument is this script's ``--fanin``), so that both benchmarks measure the same network
from simulate import peak_rss_mb, spec  # noqa: E402


def child(mode: str, *args: str) -> dict:
    """Run ``mode`` of this script in a fresh process; its last stdout line is JSON."""
    from nethub.sim import neuron_env

    env = neuron_env()
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, str(SELF), "--_child", mode, *args],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- children
def run_netpyne(spec_path: str, spikes_out: str) -> dict:
    """NetPyNE 1.1: ``sim.create`` then ``sim.simulate`` (run + gather); nothing saved."""
    import contextlib
    import io

    from netpyne import sim, specs

    net_params, cfg = json.loads(Path(spec_path).read_text())
    cfg.update({"analysis": {}, "saveJson": False, "savePickle": False,
                "recordCells": [], "recordTraces": {}, "timing": True})
    with contextlib.redirect_stdout(io.StringIO()):
        t = time.perf_counter()
        sim.create(netParams=specs.NetParams(net_params), simConfig=specs.SimConfig(cfg))
        t_create = time.perf_counter() - t
        sim.simulate()
        wall = time.perf_counter() - t
    td = {k: float(v) for k, v in sim.timingData.items()}
    np.savez(spikes_out, t=np.asarray(sim.allSimData["spkt"]),
             g=np.asarray(sim.allSimData["spkid"]))
    return {"total": wall, "create_wall": t_create, "timing": td,
            "n_spikes": len(sim.allSimData["spkt"]), "rss_mb": peak_rss_mb()}


def run_nethub(spec_path: str, store: str, nprocs: str, spikes_out: str) -> dict:
    """nethub: build, write the store, simulate on ``nprocs`` ranks (results into the store)."""
    import nethub

    net_params, cfg = json.loads(Path(spec_path).read_text())
    t0 = time.perf_counter()
    net = nethub.build(net_params, cfg)
    t_build = time.perf_counter() - t0
    t = time.perf_counter()
    nethub.save(net, store)
    t_write = time.perf_counter() - t
    n_conns = len(net.connections)
    del net
    t = time.perf_counter()
    res = nethub.simulate(store, nprocs=int(nprocs))
    t_sim_call = time.perf_counter() - t
    total = time.perf_counter() - t0
    np.savez(spikes_out, t=res.spike_times, g=res.spike_gids)
    return {"build": t_build, "write": t_write, "simulate_call": t_sim_call, "total": total,
            "timing": res.timing, "meta": res.meta, "n_conns": n_conns,
            "n_spikes": len(res.spike_times), "rss_mb": peak_rss_mb(),
            "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


CHILDREN = {"netpyne": run_netpyne, "nethub": run_nethub}


# ----------------------------------------------------------------------------- driver
def measure(args: argparse.Namespace, work: Path) -> dict:
    fig: dict = {"cells": args.cells, "fanin": args.fanin, "duration_ms": args.duration,
                 "nprocs": args.nprocs, "load_before": os.getloadavg()}
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec(args.cells, args.fanin, args.duration)))
    warm = work / "warm.json"
    warm.write_text(json.dumps(spec(20, 5, 10.0)))
    say("warming the mechanism cache (tiny nethub run, not measured) ...")
    child("nethub", str(warm), str(work / "warm.h5"), "1", str(work / "warm.npz"))
    if args.netpyne:
        say(f"NetPyNE 1.1, {args.cells:,} cells x {args.fanin} inputs, "
            f"{args.duration:g} ms ...")
        fig["netpyne"] = child("netpyne", str(spec_path), str(work / "netpyne.npz"))
    say("nethub, 1 rank ...")
    fig["nethub1"] = child("nethub", str(spec_path), str(work / "net1.h5"), "1",
                           str(work / "nethub1.npz"))
    if args.netpyne:
        fig["netpyne_identical"] = same_spikes(work / "nethub1.npz", work / "netpyne.npz")
    if args.nprocs > 1:
        say(f"nethub, {args.nprocs} ranks ...")
        fig["nethubN"] = child("nethub", str(spec_path), str(work / "netN.h5"),
                               str(args.nprocs), str(work / "nethubN.npz"))
        fig["ranks_identical"] = same_spikes(work / "nethub1.npz", work / "nethubN.npz")
    fig["load_after"] = os.getloadavg()
    return fig


def same_spikes(a: Path, b: Path) -> bool:
    x, y = np.load(a), np.load(b)
    ka, kb = np.lexsort((x["g"], x["t"])), np.lexsort((y["g"], y["t"]))
    return bool(len(ka) == len(kb) and np.array_equal(x["t"][ka], y["t"][kb])
                and np.array_equal(x["g"][ka], y["g"][kb]))


# ----------------------------------------------------------------------------- report
def nethub_phases(r: dict) -> dict[str, float]:
    """build, write, instantiate (read + mechanisms + cells + connections), simulate, gather
    and the rest of the simulate call (run setup, writing the results; with N ranks also
    launching ``mpiexec`` and N Python processes)."""
    t = r["timing"]
    inst = sum(t.get(k, 0.0) for k in ("read", "mechanisms", "cells", "connections"))
    rest = r["simulate_call"] - inst - t["simulate"] - t.get("gather", 0.0)
    return {"build": r["build"], "write": r["write"], "instantiate": inst,
            "simulate": t["simulate"], "gather": t.get("gather", 0.0),
            "other: setup, write results": rest, "total": r["total"]}


def netpyne_phases(r: dict) -> dict[str, float]:
    """create (cells), connect, setup (initial, stims, recording), run, gather."""
    t = r["timing"]
    setup = sum(t.get(k, 0.0) for k in ("initialTime", "stimsTime", "setrecordTime"))
    return {"create": t.get("createTime", 0.0), "connect": t.get("connectTime", 0.0),
            "setup": setup, "run": t.get("runTime", 0.0), "gather": t.get("gatherTime", 0.0),
            "total": r["total"]}


def rate_hz(n_spikes: int, fig: dict) -> float:
    return n_spikes / fig["cells"] / (fig["duration_ms"] / 1000.0)


def report(fig: dict) -> tuple[dict[str, bool], bool]:
    """Print the figures; return the goals and whether the spikes are consistent."""
    n1 = fig["nethub1"]
    print(f"{fig['cells']:,} HH cells x {fig['fanin']} Exp2Syn inputs "
          f"({n1['n_conns']:,} connections) + {fig['cells']:,} NetStims, "
          f"{fig['duration_ms']:g} ms, dt 0.025 ms; load average "
          f"{fig['load_before'][0]:.1f} before, {fig['load_after'][0]:.1f} after")
    print(f"nethub engine: {n1['meta'].get('engine', '?')} "
          f"({n1['meta'].get('engine_reason', '')})")
    runs = {"nethub 1 rank": nethub_phases(n1)}
    if "nethubN" in fig:
        runs[f"nethub {fig['nprocs']} ranks"] = nethub_phases(fig["nethubN"])
    _table("nethub, seconds (wall clock)", runs)
    goals: dict[str, bool] = {}
    consistent = bool(fig.get("ranks_identical", True))
    if "nethubN" in fig:
        print(f"spikes 1 vs {fig['nprocs']} ranks: "
              f"{'bit-identical' if fig['ranks_identical'] else 'DIFFERENT'}")
    rss = fig.get("nethubN", {}).get("meta", {}).get("peak_rss_mb") or []
    print(f"peak RSS: nethub 1 rank {n1['rss_mb']:.0f} MB (whole process: build, write, run)"
          + (f"; {fig['nprocs']} ranks " + ", ".join(f"{x:.0f}" for x in rss) + " MB per rank"
             if rss else ""))
    if "netpyne" in fig:
        goals, ok = _versus_netpyne(fig)
        consistent &= ok
    return goals, consistent


def _table(title: str, runs: dict[str, dict[str, float]]) -> None:
    keys = list(next(iter(runs.values())))
    print(f"\n{title:32}" + "".join(f"{name:>16}" for name in runs))
    for k in keys:
        print(f"  {k:30}" + "".join(f"{r[k]:16.2f}" for r in runs.values()))


def _versus_netpyne(fig: dict) -> tuple[dict[str, bool], bool]:
    npy, n1 = fig["netpyne"], fig["nethub1"]
    pn, ph = netpyne_phases(npy), nethub_phases(n1)
    _table("NetPyNE 1.1, seconds (wall clock)", {"NetPyNE": pn})
    print(f"  {'peak RSS (MB)':30}{npy['rss_mb']:16.0f}")
    sim_ratio = pn["run"] / ph["simulate"]
    pipe_ratio = pn["total"] / ph["total"]
    print(f"\nsimulation phase NetPyNE / nethub (1 rank): {pn['run']:.2f} / "
          f"{ph['simulate']:.2f} s = {sim_ratio:.1f}x")
    print(f"whole pipeline NetPyNE / nethub (1 rank):   {pn['total']:.2f} / "
          f"{ph['total']:.2f} s = {pipe_ratio:.1f}x")
    if "nethubN" in fig:
        pN = nethub_phases(fig["nethubN"])
        print(f"  with {fig['nprocs']} ranks: simulation {pn['run'] / pN['simulate']:.1f}x, "
              f"pipeline {pn['total'] / pN['total']:.1f}x")
    a, b = npy["n_spikes"], n1["n_spikes"]
    diff = b / a - 1.0 if a else float("inf")
    print(f"spikes: NetPyNE {a:,} ({rate_hz(a, fig):.2f} Hz), nethub {b:,} "
          f"({rate_hz(b, fig):.2f} Hz): {100 * diff:+.2f} %; spike times "
          f"{'identical' if fig.get('netpyne_identical') else 'not identical (round-off)'}")
    print(f"peak RSS NetPyNE / nethub (1 rank): {npy['rss_mb'] / n1['rss_mb']:.1f}x")
    goals = {f"simulation phase >= {SIMULATE_GOAL:g}x NetPyNE (1 rank)":
             sim_ratio >= SIMULATE_GOAL,
             f"whole pipeline >= {PIPELINE_GOAL:g}x NetPyNE (1 rank)":
             pipe_ratio >= PIPELINE_GOAL}
    return goals, abs(diff) <= COUNT_TOLERANCE


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=5000)
    ap.add_argument("--fanin", type=int, default=100, help="inputs per cell (100)")
    ap.add_argument("--duration", type=float, default=1000.0, help="simulated ms (1000)")
    ap.add_argument("--nprocs", type=int, default=2, help="ranks of the MPI run (1: skip)")
    ap.add_argument("--no-netpyne", dest="netpyne", action="store_false",
                    help="skip NetPyNE (nethub figures only)")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write the figures")
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--_child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._child:
        print(json.dumps(CHILDREN[args._child[0]](*args._child[1:]), default=float))
        return 0
    if args.fanin >= args.cells:
        ap.error("--fanin must be smaller than --cells (no self-connections)")
    print(f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    if args.dir:
        work = Path(args.dir)
        work.mkdir(parents=True, exist_ok=True)
        fig = measure(args, work)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fig = measure(args, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, default=float))
    goals, consistent = report(fig)
    print()
    for name, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if not consistent:
        print("FAIL  spikes: 1 vs N ranks differ, or counts differ from NetPyNE's by > "
              f"{100 * COUNT_TOLERANCE:g} %")
        return 2
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
