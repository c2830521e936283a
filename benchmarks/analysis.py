"""Analysis benchmark: nethub.analysis against NetPyNE 1.1's analysis on the same spikes, and the
cost of recording an LFP during a run (issue 15, item 6).

1. Builds a synthetic store: ``--cells`` point cells (default 100,000) in 5 populations and
   ``--spikes`` Poisson spikes (default 10,000,000) over ``--duration`` ms (default 10,000).
2. In a fresh process each (so that peak memory is each side's own), times

   - nethub: ``population_rates`` (rates), ``spike_histogram`` (PSTH, 5 ms bins),
     ``rate_psd`` (Welch PSD of the population rates, 1 ms bins), ``plot_raster`` (PNG);
   - NetPyNE 1.1: the same spikes and cells read from the store and loaded into its ``sim``
     (``allSimData`` spkt/spkid, ``net.allCells``, ``net.allPops``), then ``popAvgRates``,
     ``prepareSpikeHist``, ``plotRatePSD`` (Morlet, its default) and ``plotRaster``;

   and reports each step's seconds and the process's peak RSS increase over its state after
   the imports (``ru_maxrss``). Loading (store -> memory) is timed apart for both sides.
3. LFP overhead: the same ball-and-stick network (``--lfp-cells`` cells, default 1,000; HH soma
   + passive dendrite of 5 segments, 10 electrodes) simulated with and without ``recordLFP`` (+
   ``recordDipole``), interleaved, best of ``--repeat`` runs each.

Goals: nethub >= 20x faster and >= 5x less memory than NetPyNE on the four analyses together;
LFP run <= 1.5x the run without.

Run::

    .venv/bin/python benchmarks/analysis.py            # full size (100k cells, 10M spikes)
    .venv/bin/python benchmarks/analysis.py --small    # 10,000 cells, 1,000,000 spikes
    .venv/bin/python benchmarks/analysis.py --small --json analysis.json

Exit status 0 when all goals pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POPS = [("E2", 0.25, 8.0), ("I2", 0.07, 20.0), ("E4", 0.28, 6.0), ("E5", 0.30, 10.0),
        ("I5", 0.10, 25.0)]
SPEED_GOAL, MEMORY_GOAL, LFP_GOAL = 20.0, 5.0, 1.5


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- the store
def make_store(path: Path, n_cells: int, n_spikes: int, duration: float, seed: int = 1) -> None:
    from nethub.celltypes import PointCell, Population
    from nethub.network import Network
    from nethub.results import Results
    from nethub.store import append_run, write_network

    rng = np.random.default_rng(seed)
    sizes = [int(round(f * n_cells)) for _, f, _ in POPS]
    sizes[-1] = n_cells - sum(sizes[:-1])
    pops = np.repeat([p for p, _, _ in POPS], sizes)
    rate = np.repeat([r for _, _, r in POPS], sizes)
    # spikes per cell proportional to its population's rate, n_spikes in total
    weights = rate / rate.sum()
    per_cell = rng.multinomial(n_spikes, weights)
    gids = np.repeat(np.arange(n_cells), per_cell)
    times = rng.uniform(0, duration, n_spikes)
    net = Network(cell_types={"A": PointCell("A", model="IntFire1")},
                  populations={p: Population(p, "A", n) for (p, _, _), n in zip(POPS, sizes)},
                  cells={"gid": np.arange(n_cells), "pop": pops, "cell_type": ["A"] * n_cells,
                         "x": rng.uniform(0, 1000, n_cells), "y": rng.uniform(0, 1000, n_cells),
                         "z": rng.uniform(0, 1000, n_cells)})
    write_network(net, path)
    append_run(path, Results(spike_times=times, spike_gids=gids,
                             sim_config={"duration": duration, "recordStep": 0.1}))


# ----------------------------------------------------------------------------- workers
def _timed(out: dict, name: str, fn):
    t = time.perf_counter()
    val = fn()
    out[name] = time.perf_counter() - t
    return val


def worker_nethub(store: str, png: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import scipy.signal  # noqa: F401  (imports counted in the baseline, as on NetPyNE's side)

    import nethub.analysis as na
    import nethub.analysis.spectra  # noqa: F401
    from nethub.analysis.plots import plot_raster, save_figure

    base = _rss_mb()
    t: dict = {}
    rd = _timed(t, "load", lambda: (lambda r: (r.spikes(), r.cells(), r)[2])(na.open_run(store)))
    _timed(t, "rates", lambda: na.population_rates(rd))
    _timed(t, "psth", lambda: na.spike_histogram(rd, bin_ms=5.0))
    _timed(t, "psd", lambda: na.rate_psd(rd, bin_ms=1.0))
    _timed(t, "raster", lambda: save_figure(plot_raster(rd), png))
    return {"seconds": t, "rss_mb": _rss_mb() - base}


def _netpyne_load(store: str):
    import h5py
    from netpyne import sim, specs

    from nethub.analysis.data import _read_column

    with h5py.File(store, "r") as f:
        gids = _read_column(f["network/cells"], "gid")
        pops = np.asarray(_read_column(f["network/cells"], "pop")).astype(str)
        xyz = [_read_column(f["network/cells"], c) for c in "xyz"]
        run = sorted(k for k in f["results"] if not k.startswith("."))[0]
        spkt = f[f"results/{run}/spikes/time"][()]
        spkid = f[f"results/{run}/spikes/gid"][()]
        duration = json.loads(f[f"results/{run}/sim_config"][()])["duration"]
    cfg = specs.SimConfig({"duration": duration, "recordStep": 0.1, "verbose": False})
    sim.initialize(specs.NetParams(), cfg)
    sim.net.allCells = [{"gid": int(g), "tags": {"pop": p, "cellType": p, "x": float(x),
                                                  "y": float(y), "z": float(z)},
                         "conns": [], "secs": {}, "stims": []}
                        for g, p, x, y, z in zip(gids, pops, *xyz)]
    sim.net.allPops = {p: {"tags": {"pop": p, "cellType": p},
                           "cellGids": gids[pops == p].tolist()} for p in dict.fromkeys(pops)}
    from netpyne.specs import Dict

    sim.allSimData = Dict({"spkt": spkt.tolist(), "spkid": spkid.astype(float).tolist()})
    return sim, list(dict.fromkeys(pops))


def worker_netpyne(store: str, png: str) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import netpyne.sim  # noqa: F401  (its import is counted in the baseline)

    base = _rss_mb()
    t: dict = {}
    sim, pops = _timed(t, "load", lambda: _netpyne_load(store))
    colors = {p: plt.get_cmap("tab10")(i) for i, p in enumerate(pops)}
    _timed(t, "rates", lambda: sim.analysis.popAvgRates(show=False))
    _timed(t, "psth", lambda: sim.analysis.prepareSpikeHist(include=["eachPop"], binSize=5))
    _timed(t, "psd", lambda: sim.analysis.plotRatePSD(include=pops, binSize=1, popColors=colors,
                                                      showFig=False, saveFig=False))
    plt.close("all")
    _timed(t, "raster", lambda: sim.plotting.plotRaster(showFig=False, saveFig=png))
    plt.close("all")
    return {"seconds": t, "rss_mb": _rss_mb() - base}


def run_worker(kind: str, store: Path, tmp: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--store", str(store),
           "--png", str(tmp / f"{kind}_raster.png")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- LFP overhead
def lfp_overhead(tmp: Path, n_cells: int, duration: float, repeat: int) -> dict:
    import nethub
    from nethub.runner import simulate

    dend = {"geom": {"pt3d": [[0, 20, 0, 2], [0, 220, 0, 2]], "nseg": 5},
            "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
            "mechs": {"pas": {"g": 5e-5, "e": -65}}}
    soma = {"geom": {"pt3d": [[0, 0, 0, 20], [0, 20, 0, 20]]}, "mechs": {"hh": {}}}
    net = {"cellParams": {"BS": {"secs": {"soma": soma, "dend": dend}}},
           "popParams": {"P": {"cellType": "BS", "numCells": n_cells}},
           "stimSourceParams": {"bkg": {"type": "NetStim", "rate": 20, "noise": 1}},
           "stimTargetParams": {"b": {"source": "bkg", "conds": {"pop": "P"}, "weight": 0.02,
                                      "sec": "soma", "loc": 0.5, "synMech": "exc"}},
           "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5, "e": 0}}}
    base = {"duration": duration, "recordStep": 0.1, "nethubCoreneuron": False}
    store = tmp / "lfp.h5"
    nethub.save(nethub.build(net, base), store)
    elec = [[500, -100.0 * k, 500] for k in range(10)]
    runs: dict[str, list[float]] = {"without": [], "with": []}
    for i in range(repeat):  # interleaved, best of each: the machine is shared
        for label, cfg in (("without", base), ("with", {**base, "recordLFP": elec,
                                                        "recordDipole": True})):
            res = simulate(store, cfg, output=tmp / f"lfp_{label}_{i}.h5")
            runs[label].append(res.timing["simulate"])
    best = {k: min(v) for k, v in runs.items()}
    best["ratio"] = best["with"] / best["without"]
    return best


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--spikes", type=int, default=10_000_000)
    p.add_argument("--duration", type=float, default=10_000.0)
    p.add_argument("--small", action="store_true", help="10,000 cells and 1,000,000 spikes")
    p.add_argument("--lfp-cells", type=int, default=1000)
    p.add_argument("--lfp-duration", type=float, default=500.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--sides", choices=("both", "nethub", "netpyne"), default="both",
                   help="whose analysis to time (NetPyNE's is quadratic in cells x spikes)")
    p.add_argument("--no-lfp", action="store_true", help="skip the LFP overhead runs")
    p.add_argument("--worker", choices=("nethub", "netpyne"), help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--png", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        fn = worker_nethub if a.worker == "nethub" else worker_netpyne
        print(json.dumps(fn(a.store, a.png)))
        return 0
    if a.small:
        a.cells, a.spikes, a.lfp_cells = 10_000, 1_000_000, 300
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        store = tmp / "spikes.h5"
        t = time.perf_counter()
        make_store(store, a.cells, a.spikes, a.duration)
        print(f"store: {a.cells:,} cells, {a.spikes:,} spikes, {a.duration:g} ms "
              f"({time.perf_counter() - t:.1f} s to make)")
        nh = run_worker("nethub", store, tmp) if a.sides != "netpyne" else None
        npy = run_worker("netpyne", store, tmp) if a.sides != "nethub" else None
        lfp = None if a.no_lfp else lfp_overhead(tmp, a.lfp_cells, a.lfp_duration, a.repeat)
    return report(a, nh, npy, lfp)


def report(a, nh: dict | None, npy: dict | None, lfp: dict | None) -> int:
    """Print each side's figures (either side or the LFP part may be missing); 0 if all pass."""
    steps = ("load", "rates", "psth", "psd", "raster")
    ana = [s for s in steps if s != "load"]
    sides = [(n, d) for n, d in (("nethub", nh), ("NetPyNE", npy)) if d is not None]
    print(f"{'step':8s} " + " ".join(f"{n + ' s':>10s}" for n, _ in sides)
          + (f" {'speed-up':>9s}" if len(sides) == 2 else ""))
    for s in [*steps, "analyses"]:
        vals = [sum(d["seconds"][x] for x in ana) if s == "analyses" else d["seconds"][s]
                for _, d in sides]
        ratio = f" {vals[1] / max(vals[0], 1e-9):9.1f}x" if len(vals) == 2 else ""
        print(f"{s:8s} " + " ".join(f"{v:10.3f}" for v in vals) + ratio)
    print("peak RSS increase: " + ", ".join(f"{n} {d['rss_mb']:.0f} MB" for n, d in sides))
    ok, speed, mem = True, None, None
    if nh is not None and npy is not None:
        tx, ty = (sum(d["seconds"][s] for s in ana) for d in (nh, npy))
        speed, mem = ty / max(tx, 1e-9), npy["rss_mb"] / max(nh["rss_mb"], 1e-9)
        print(f"speed-up {speed:.1f}x (goal >= {SPEED_GOAL:g}x), memory {mem:.1f}x less "
              f"(goal >= {MEMORY_GOAL:g}x)")
        ok = speed >= SPEED_GOAL and mem >= MEMORY_GOAL
    if lfp is not None:
        print(f"LFP ({a.lfp_cells} cells, {a.lfp_duration:g} ms, 10 electrodes + dipole): "
              f"{lfp['with']:.2f} s vs {lfp['without']:.2f} s without: {lfp['ratio']:.2f}x "
              f"(goal <= {LFP_GOAL:g}x)")
        ok = ok and lfp["ratio"] <= LFP_GOAL
    print(f"load average: {os.getloadavg()}")
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "nethub": nh, "netpyne": npy,
                                            "lfp": lfp, "speedup": speed, "memory_ratio": mem,
                                            "loadavg": os.getloadavg()}, indent=1))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
