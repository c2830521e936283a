"""Container benchmark: save and load one network with a 1 s result in every container, and
NetPyNE's own save and load of the same network, in one run.

The network is a NetPyNE spec built by ``nethub.build``: 20,000 single-compartment HH cells
(E 80 %, I 20 %), every cell receiving 80 connections from E and 20 from I (``convergence``,
uniformly random weights, distance-dependent delays): 2,000,000 connections, plus a NetStim
input on every cell. The result is synthetic but realistic: 1 s of spikes (5 Hz Poisson per
cell, ~100,000 spikes) and 10 voltage traces sampled every 0.1 ms.

nethub containers, timed in this process (``nethub.save`` / ``nethub.read``, network and run):

- ``store``: the canonical HDF5 store (Blosc/LZ4);
- ``csv`` folder and ``csv`` zip;
- ``spec-json`` / ``spec-py`` in ``spec`` mode (the network's own spec; loading rebuilds it);
- ``spec-json`` in ``rules`` mode (``cellsList`` + ``connList``: every connection listed);
- NetPyNE's output layout written by nethub (``netpyne-json``, ``netpyne-pickle``,
  ``netpyne-mat``), when those formats are registered.

NetPyNE 1.1.1 itself, in subprocesses: one builds the same spec (``sim.create``, written by
nethub's ``spec-py`` writer and run unchanged; Python structures only,
``createNEURONObj=False``), gathers it, attaches the same spikes and traces as ``simData`` and
times ``sim.saveData`` to ``.pkl`` and to ``.json``; then a fresh process per file times
``sim.load(file, instantiate=False)`` (reading the file into NetPyNE's structures, the least
NetPyNE can do; ``--netpyne-instantiate`` also times the default ``sim.load``, which rebuilds
NEURON objects). NetPyNE needs minutes for the full size, so by default it runs a smaller case
(``--netpyne-cells``, same connections per cell) and the store is timed again at that size:
the goals compare like with like.

Goals (issue 5, item 7): at the NetPyNE size, the store saves and loads at least 20x faster
than NetPyNE's fastest format and its file is at least 5x smaller than NetPyNE's smallest.

Run::

    .venv/bin/python benchmarks/containers.py                       # full size + NetPyNE 4,000
    .venv/bin/python benchmarks/containers.py --cells 2000 --netpyne-cells 1000   # smoke, ~1 min
    .venv/bin/python benchmarks/containers.py --netpyne-cells 20000  # NetPyNE at full size too

Exit status 0 if every goal passes, 1 if one fails, 2 if a round trip is wrong.

Last measured (2-core VM shared with other sessions, load average 2-7; single runs, so
figures vary by +-30 %)::

    nethub containers, 20,000 cells, 2,000,000 connections, 20,000 stims, 1 s run
      container                     save s    load s   size MB  round trip
      store                           0.77      0.25      35.5  exact
      csv folder                      5.77      2.30     161.7  exact
      csv zip                         9.85      2.91      53.5  exact
      spec-json (spec)                0.06      2.87       0.0  exact (no run; load = build)
      spec-py (spec)                  0.00      2.84       0.0  same network (no run)
      spec-json (rules)              12.20     25.78     115.6  same network (no run)
      netpyne-json (nethub)          34.10     46.44     300.9  cell types in another order
      netpyne-pickle (nethub)         7.54     30.21     137.7  cell types in another order
      netpyne-mat (nethub)          697.60     95.28      63.2  cell types in another order

    NetPyNE 1.1.1 vs the store, 20,000 cells, 2,020,000 connections (incl. NetStim inputs),
    same run (NetPyNE: create 214.8 s, gather 0.3 s, not counted)
                                    save s    load s   size MB
      NetPyNE .pkl                   50.83     75.75     772.7
      NetPyNE .json                  54.86     31.06    1505.0
      nethub store                    0.89      0.26      35.5   (median of 3)
      save 57x faster, load 121x faster, 22x smaller: PASS (goals 20x, 20x, 5x)

    The default smaller NetPyNE case (4,000 cells, 404,000 connections): NetPyNE create 55 s,
    .pkl 20.5 s / 35.7 s / 157 MB, .json 18.9 s / 10.6 s / 304 MB; store 0.14 s / 0.07 s /
    8.3 MB: 130x, 150x, 19x.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import nethub
from nethub.formats import formats
from nethub.results import Results, Traces
from nethub.table import Table

SAVE_GOAL, LOAD_GOAL, SIZE_GOAL = 20.0, 20.0, 5.0
CONV_E, CONV_I = 80, 20
N_TRACES, RATE_HZ, DURATION_MS, REC_STEP = 10, 5.0, 1000.0, 0.1


# ----------------------------------------------------------------------------- the model
def make_spec(n_cells: int) -> tuple[dict, dict]:
    """netParams and simConfig (plain dicts) of the benchmark network."""
    n_e = int(round(0.8 * n_cells))
    soma = {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
            "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}}
    net = {
        "sizeX": 1000.0, "sizeY": 1000.0, "sizeZ": 1000.0, "propVelocity": 300.0,
        "popParams": {"E": {"cellType": "PYR", "numCells": n_e},
                      "I": {"cellType": "BAS", "numCells": n_cells - n_e}},
        "cellParams": {"PYR": {"secs": {"soma": soma}}, "BAS": {"secs": {"soma": soma}}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0},
                          "inh": {"mod": "Exp2Syn", "tau1": 0.6, "tau2": 8.5, "e": -75}},
        "connParams": {
            "E->all": {"preConds": {"pop": "E"}, "postConds": {"pop": ["E", "I"]},
                       "convergence": CONV_E, "weight": "uniform(0.0005, 0.0015)",
                       "delay": "dist_3D/propVelocity + 1", "synMech": "exc"},
            "I->all": {"preConds": {"pop": "I"}, "postConds": {"pop": ["E", "I"]},
                       "convergence": CONV_I, "weight": "uniform(0.002, 0.004)",
                       "delay": "dist_3D/propVelocity + 1", "synMech": "inh"}},
        "stimSourceParams": {"bkg": {"type": "NetStim", "rate": 10, "noise": 0.5}},
        "stimTargetParams": {"bkg->all": {"source": "bkg", "conds": {"pop": ["E", "I"]},
                                          "weight": 0.01, "delay": 5, "synMech": "exc"}},
    }
    cfg = {"duration": DURATION_MS, "dt": 0.025, "recordStep": REC_STEP,
           "seeds": {"conn": 1, "stim": 1, "loc": 1, "cell": 1},
           "recordCells": list(range(N_TRACES)),
           "recordTraces": {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}}}
    return net, cfg


def make_results(net: nethub.Network, cfg: dict, seed: int = 7) -> Results:
    """1 s of Poisson spikes for every cell and ``N_TRACES`` voltage traces."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(RATE_HZ * DURATION_MS / 1000, net.n_cells)
    gids = np.repeat(net.gids, counts)
    times = np.round(rng.uniform(0, DURATION_MS, len(gids)), 3)
    t = np.arange(0, DURATION_MS + REC_STEP / 2, REC_STEP)
    rec = net.gids[:N_TRACES]
    index = Table({"label": ["V_soma"] * len(rec), "gid": rec, "sec": ["soma"] * len(rec),
                   "loc": np.full(len(rec), 0.5), "var": ["v"] * len(rec)})
    data = -65 + 10 * np.sin(np.outer(np.arange(1, len(rec) + 1), t) / 50) + \
        rng.normal(0, 0.5, (len(rec), len(t)))
    return Results(spike_times=times, spike_gids=gids, traces=Traces(index, t, data),
                   sim_config=cfg, name="run_1s", seeds=cfg["seeds"])


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def timed(fn, *args, **kw) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


# ----------------------------------------------------------------------------- nethub containers
#: (label, format, file name, write options, read options): the containers timed.
CONTAINERS = [
    ("store", "store", "net.h5", {}, {}),
    ("csv folder", "csv", "net.csv", {}, {}),
    ("csv zip", "csv", "net.csv.zip", {}, {}),
    ("spec-json (spec)", "spec-json", "spec.spec.json", {"mode": "spec", "check": False}, {}),
    ("spec-py (spec)", "spec-py", "spec.py", {"mode": "spec", "check": False}, {}),
    ("spec-json (rules)", "spec-json", "rules.spec.json", {"mode": "rules", "check": False},
     {}),
    ("netpyne-json (nethub)", "netpyne-json", "npn.json", {}, {}),
    ("netpyne-pickle (nethub)", "netpyne-pickle", "npn.pkl", {}, {"trusted": True}),
    ("netpyne-mat (nethub)", "netpyne-mat", "npn.mat", {}, {}),
]


def check_round_trip(label: str, doc: Any, net: nethub.Network, res: Results) -> str:
    """'exact', 'same network' (specs: all but the stored spec) or what differs (untimed)."""
    from nethub.converters.spec import compare_networks

    back = doc.network
    if back is None:
        return "no network"
    if back.equals(net) or back.equals(net.canonical()):
        if not doc.results:
            return "exact (no run)"
        return "exact" if doc.results[-1].equals(res) else "network exact, run differs"
    diffs = compare_networks(net, back)
    if not diffs:
        return "same network" + ("" if doc.results else " (no run)")
    return f"{len(diffs)} difference(s): {diffs[0]}"[:90]


def run_container(label: str, fmt: str, path: Path, net: nethub.Network, res: Results,
                  opts: dict, repeat: int, ropts: dict | None = None) -> dict[str, Any]:
    names = {f.name for f in formats()}
    if fmt not in names:
        return {"label": label, "skipped": f"format {fmt!r} is not registered"}
    saves, loads, doc = [], [], None
    try:
        for _ in range(repeat):
            t, _ = timed(nethub.save, (net, [res]), path, format=fmt, **opts)
            saves.append(t)
            t, doc = timed(nethub.read, path, format=fmt, **(ropts or {}))
            loads.append(t)
    except Exception as exc:  # report and go on with the other containers
        return {"label": label, "error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"label": label, "save": statistics.median(saves), "load": statistics.median(loads),
            "size": size_of(path), "check": check_round_trip(label, doc, net, res)}


# ----------------------------------------------------------------------------- NetPyNE
NETPYNE_CREATE = r'''
import contextlib, io, json, os, runpy, sys, time
import numpy as np
model, data_file, folder = sys.argv[1:4]
out = {}
with contextlib.redirect_stdout(io.StringIO()):
    from netpyne import sim
    from netpyne.specs import Dict
    ns = runpy.run_path(model, run_name="model")
    net_params, cfg = ns["netParams"], ns["simConfig"]
    cfg.createNEURONObj = False
    cfg.createPyStruct = True
    cfg.saveFolder = folder
    cfg.filename = "netpyne"
    cfg.verbose = False
    t0 = time.perf_counter()
    sim.create(netParams=net_params, simConfig=cfg)
    out["create"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.gatherData()
    out["gather"] = time.perf_counter() - t0
    d = np.load(data_file)
    sim_data = {"spkt": d["spkt"].tolist(), "spkid": d["spkid"].tolist(),
                "t": d["t"].tolist(), "V_soma": {}}
    for gid, row in zip(d["rec"].tolist(), d["traces"]):
        sim_data["V_soma"][f"cell_{gid}"] = row.tolist()
    sim.allSimData = Dict(sim_data)
    out["n_cells"] = len(sim.net.allCells)
    out["n_conns"] = sum(len(c["conns"]) for c in sim.net.allCells)
    for ext, flag in (("pkl", "savePickle"), ("json", "saveJson")):
        for f in ("savePickle", "saveJson", "saveMat", "saveHDF5", "saveCSV", "saveDpk"):
            setattr(cfg, f, f == flag)
        before = set(os.listdir(folder))
        t0 = time.perf_counter()
        sim.saveData()
        out["save_" + ext] = time.perf_counter() - t0
        new = sorted(set(os.listdir(folder)) - before)
        out["file_" + ext] = os.path.join(folder, new[0])
sys.stdout.write(json.dumps(out) + "\n")
'''

NETPYNE_LOAD = r'''
import contextlib, io, json, sys, time
path, instantiate = sys.argv[1], sys.argv[2] == "1"
with contextlib.redirect_stdout(io.StringIO()):
    from netpyne import sim
    t0 = time.perf_counter()
    if instantiate:
        sim.load(path)
    else:
        sim.load(path, instantiate=False)
    dt = time.perf_counter() - t0
    n = len(sim.net.cells) if instantiate else len(sim.net.allCells)
sys.stdout.write(json.dumps({"load": dt, "n_cells": n}) + "\n")
'''


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "HYDRA", "OMPI"))}
    return env | {"OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
                  "NEURON_MODULE_OPTIONS": "-nogui"}


def _subprocess(script: str, args: list[str], folder: Path, timeout: float) -> dict[str, Any]:
    code = folder / f"_{abs(hash(script))}.py"
    code.write_text(script)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(code), *args], capture_output=True, text=True,
                          env=_env(), cwd=folder, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"NetPyNE failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = time.perf_counter() - t0
    return out


def run_netpyne(net: nethub.Network, res: Results, folder: Path, instantiate: bool,
                timeout: float) -> dict[str, Any]:
    """NetPyNE's create + saveData (.pkl, .json) and a fresh sim.load of each file."""
    model = folder / "model.py"
    nethub.save(net, model, format="spec-py", mode="spec", check=False)
    rec = res.traces.index["gid"]
    np.savez(folder / "simdata.npz", spkt=res.spike_times, spkid=res.spike_gids,
             t=res.traces.time, traces=res.traces.data, rec=rec)
    out = _subprocess(NETPYNE_CREATE, [str(model), str(folder / "simdata.npz"), str(folder)],
                      folder, timeout)
    for ext in ("pkl", "json"):
        path = Path(out[f"file_{ext}"])
        out[f"size_{ext}"] = size_of(path)
        load = _subprocess(NETPYNE_LOAD, [str(path), "0"], folder, timeout)
        out[f"load_{ext}"] = load["load"]
        out[f"load_{ext}_cells"] = load["n_cells"]
        if instantiate:
            out[f"load_inst_{ext}"] = _subprocess(NETPYNE_LOAD, [str(path), "1"], folder,
                                                  timeout)["load"]
    return out


# ----------------------------------------------------------------------------- report
def _fmt(v: Any, unit: str = "s") -> str:
    if v is None:
        return "-"
    if unit == "MB":
        return f"{v / 1e6:9.1f}"
    return f"{v:9.2f}"


def print_containers(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    print(f"  {'container':26s} {'save s':>9s} {'load s':>9s} {'size MB':>9s}  round trip")
    for r in rows:
        if "save" not in r:
            print(f"  {r['label']:26s} {r.get('skipped') or r.get('error')}")
            continue
        print(f"  {r['label']:26s} {_fmt(r['save'])} {_fmt(r['load'])} "
              f"{_fmt(r['size'], 'MB')}  {r['check']}")


def goals(store: dict, npn: dict) -> list[tuple[str, float, float, bool]]:
    """(what, ratio, goal, passed) of the three goals."""
    save = min(npn["save_pkl"], npn["save_json"])
    load = min(npn["load_pkl"], npn["load_json"])
    size = min(npn["size_pkl"], npn["size_json"])
    out = []
    for what, theirs, ours, goal in (("save", save, store["save"], SAVE_GOAL),
                                     ("load", load, store["load"], LOAD_GOAL),
                                     ("size", size, store["size"], SIZE_GOAL)):
        ratio = theirs / ours if ours else float("inf")
        out.append((what, ratio, goal, ratio >= goal))
    return out


def print_netpyne(npn: dict, store: dict, n_cells: int) -> list[tuple]:
    print(f"\nNetPyNE 1.1.1 vs the store, {npn['n_cells']:,} cells, {npn['n_conns']:,} "
          f"connections, same run (NetPyNE: create {npn['create']:.1f} s, gather "
          f"{npn['gather']:.1f} s, not counted)")
    print(f"  {'':26s} {'save s':>9s} {'load s':>9s} {'size MB':>9s}")
    for ext in ("pkl", "json"):
        extra = (f"   (sim.load with NEURON objects: {npn[f'load_inst_{ext}']:.1f} s)"
                 if f"load_inst_{ext}" in npn else "")
        print(f"  {'NetPyNE .' + ext:26s} {_fmt(npn['save_' + ext])} {_fmt(npn['load_' + ext])}"
              f" {_fmt(npn['size_' + ext], 'MB')}{extra}")
    print(f"  {'nethub store':26s} {_fmt(store['save'])} {_fmt(store['load'])} "
          f"{_fmt(store['size'], 'MB')}")
    res = goals(store, npn)
    print("\nGoals (store vs NetPyNE's fastest / smallest format, same network):")
    for what, ratio, goal, ok in res:
        word = "smaller" if what == "size" else "faster"
        print(f"  {what:5s} {ratio:8.1f}x {word:8s} (goal >= {goal:.0f}x)  "
              f"{'PASS' if ok else 'FAIL'}")
    return res


# ----------------------------------------------------------------------------- main
def build_case(n_cells: int) -> tuple[nethub.Network, Results, float]:
    net_params, cfg = make_spec(n_cells)
    t, net = timed(nethub.build, net_params, cfg)
    return net, make_results(net, cfg), t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", type=int, default=20000, help="cells of the full-size network")
    p.add_argument("--netpyne-cells", type=int, default=4000,
                   help="cells of the NetPyNE comparison (0: skip NetPyNE)")
    p.add_argument("--netpyne-instantiate", action="store_true",
                   help="also time NetPyNE's default sim.load (NEURON objects)")
    p.add_argument("--repeat", type=int, default=1, help="repetitions at full size (median)")
    p.add_argument("--timeout", type=float, default=3600, help="per NetPyNE process, s")
    p.add_argument("--only", nargs="*", help="container labels to time (default: all)")
    p.add_argument("--dir", type=Path, help="folder for the files (default: temporary)")
    p.add_argument("--keep", action="store_true", help="keep the files")
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    args = p.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="nethub_containers_"))
    folder.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {}
    try:
        net, res, t_build = build_case(args.cells)
        print(f"network: {net}; built in {t_build:.1f} s; run: {len(res.spike_times):,} spikes, "
              f"{len(res.traces)} traces x {len(res.traces.time):,} samples")
        rows = [run_container(label, fmt, folder / fname, net, res, opts, args.repeat, ropts)
                for label, fmt, fname, opts, ropts in CONTAINERS
                if not args.only or label in args.only]
        print_containers(rows, f"nethub containers, {net.n_cells:,} cells, "
                               f"{net.n_connections:,} connections (median of {args.repeat})")
        report["full"] = rows
        ok = all(r.get("check") is None or r["check"].startswith(("exact", "same network"))
                 for r in rows)
        del net, res
        gc.collect()
        if args.netpyne_cells:
            small, sres, _ = build_case(args.netpyne_cells)
            store = run_container("store", "store", folder / "small.h5", small, sres, {}, 3)
            npn = run_netpyne(small, sres, folder, args.netpyne_instantiate, args.timeout)
            report["netpyne"], report["store_small"] = npn, store
            passed = all(r[3] for r in print_netpyne(npn, store, args.netpyne_cells))
        else:
            passed = True
    finally:
        if args.json:
            args.json.write_text(json.dumps(report, indent=1, default=str))
        if not args.keep and not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if passed and ok else (2 if not ok else 1)


if __name__ == "__main__":
    sys.exit(main())
