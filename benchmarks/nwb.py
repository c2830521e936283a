"""NWB export benchmark: ``nethub convert STORE OUT.nwb`` of a 10,000,000-spike run against the
way NetPyNE output is turned into NWB/NIX today, through Neo (issue 17, item 6).

1. Builds a synthetic store: ``--cells`` point cells (default 100,000) in 5 populations and
   ``--spikes`` spikes (default 10,000,000) over ``--duration`` ms (default 10,000), and the
   same spikes as NetPyNE saves them (a pickle with ``simData['spkt']`` / ``['spkid']``).
2. In a fresh process each (peak memory is each side's own), times

   - nethub: ``nethub.convert(store, out.nwb)`` (reads the run and the cells, writes Units
     with population/cell type/position columns and the provenance), then reads it back with
     ``nethub.load_results`` and checks the spikes are bit-identical;
   - Neo/NIX: load the NetPyNE pickle, build one ``neo.SpikeTrain`` per cell (what scripts
     and ``netpyne``-to-Neo converters do), write the Block with ``neo.io.NixIO``;
   - Neo/NWB: the same Block written with ``neo.io.NWBIO`` (pynwb underneath);
   - pynwb ``add_unit``: the store's spikes as a Units table built with one ``add_unit`` call
     per cell (the per-unit loop nethub's whole-column build replaces).

   The Neo and add_unit sides are slow at full size; ``--neo-cells`` (default: all) runs them
   on the first that many cells only, and the table then also shows their time scaled to all
   cells (marked "estimate": their cost is per SpikeTrain / unit object, so linear in cells;
   the whole-array work, "arrays", is measured on all spikes and not scaled).

Goal: nethub's export of 10M spikes in seconds (< 10 s) and faster than both Neo paths.
The NIX side needs ``nixio`` (``pip install nixio``; no extra of nethub installs it).

Run::

    .venv/bin/python benchmarks/nwb.py                        # 100k cells, 10M spikes
    .venv/bin/python benchmarks/nwb.py --cells 10000 --spikes 1000000
    .venv/bin/python benchmarks/nwb.py --neo-cells 10000 --json nwb.json

Exit status 0 when the goal passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POPS = [("E2", 0.25, 8.0), ("I2", 0.07, 20.0), ("E4", 0.28, 6.0), ("E5", 0.30, 10.0),
        ("I5", 0.10, 25.0)]
GOAL_S = 10.0


def _rss_mb() -> float:
    """Peak RSS of this process (MB); it survives exec, so workers start from a small parent."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- inputs
def make_inputs(folder: Path, n_cells: int, n_spikes: int, duration: float,
                seed: int = 1) -> tuple[Path, Path]:
    """The store (network + one run) and the NetPyNE-style pickle of the same spikes."""
    from nethub.celltypes import PointCell, Population
    from nethub.network import Network
    from nethub.results import Results
    from nethub.store import append_run, write_network

    rng = np.random.default_rng(seed)
    sizes = [int(round(f * n_cells)) for _, f, _ in POPS]
    sizes[-1] = n_cells - sum(sizes[:-1])
    pops = np.repeat([p for p, _, _ in POPS], sizes)
    rate = np.repeat([r for _, _, r in POPS], sizes)
    per_cell = rng.multinomial(n_spikes, rate / rate.sum())
    gids = np.repeat(np.arange(n_cells), per_cell)
    times = np.round(rng.uniform(0, duration, n_spikes) / 0.025) * 0.025  # on the dt grid
    net = Network(cell_types={"A": PointCell("A", model="IntFire1")},
                  populations={p: Population(p, "A", n) for (p, _, _), n in zip(POPS, sizes)},
                  cells={"gid": np.arange(n_cells), "pop": pops, "cell_type": ["A"] * n_cells,
                         "x": rng.uniform(0, 1000, n_cells), "y": rng.uniform(0, 1000, n_cells),
                         "z": rng.uniform(0, 1000, n_cells)})
    store = folder / "run.h5"
    write_network(net, store)
    res = Results(spike_times=times, spike_gids=gids,
                  sim_config={"duration": duration, "dt": 0.025}, network_hash=net.content_hash())
    append_run(store, res)
    netpyne = folder / "netpyne_output.pkl"
    with open(netpyne, "wb") as fh:  # what NetPyNE's saveData writes (lists; simData only)
        pickle.dump({"simData": {"spkt": res.spike_times.tolist(),
                                 "spkid": res.spike_gids.astype(float).tolist()},
                     "simConfig": {"duration": duration}}, fh, protocol=4)
    return store, netpyne


# ----------------------------------------------------------------------------- workers
def worker_nethub(store: str, out: str) -> dict:
    import nethub
    import nethub.formats.nwb.write  # noqa: F401  (pynwb imports counted in the baseline)

    base = _rss_mb()
    t0 = time.perf_counter()
    nethub.convert(store, out)
    export = time.perf_counter() - t0
    t0 = time.perf_counter()
    back = nethub.load_results(out)
    read = time.perf_counter() - t0
    ref = nethub.load_results(store)
    exact = bool(np.array_equal(back.spike_times, ref.spike_times)
                 and np.array_equal(back.spike_gids, ref.spike_gids))
    return {"seconds": {"export": export, "read back": read}, "exact": exact,
            "rss_mb": _rss_mb() - base, "size_mb": os.path.getsize(out) / 1e6}


def _neo_block(pkl: str, n_cells: int | None, t: dict):
    import neo
    import quantities as pq

    t0 = time.perf_counter()
    with open(pkl, "rb") as fh:
        data = pickle.load(fh)
    t["load pickle"] = time.perf_counter() - t0
    t0 = time.perf_counter()  # arrays for all spikes (not scaled with cells)
    spkt = np.asarray(data["simData"]["spkt"])
    spkid = np.asarray(data["simData"]["spkid"]).astype(np.int64)
    order = np.argsort(spkid, kind="stable")
    cells = np.unique(spkid)
    if n_cells is not None:
        cells = cells[:n_cells]
    bounds = np.searchsorted(spkid[order], np.concatenate([cells, [cells[-1] + 1]]))
    tstop = float(data["simConfig"]["duration"])
    t["arrays"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    seg = neo.Segment(name="run")
    for i, gid in enumerate(cells):  # one SpikeTrain per cell
        st = spkt[order[bounds[i]:bounds[i + 1]]]
        seg.spiketrains.append(neo.SpikeTrain(st * pq.ms, t_stop=tstop * pq.ms,
                                              name=f"gid {gid}"))
    block = neo.Block(name="netpyne")
    block.segments.append(seg)
    t["SpikeTrains"] = time.perf_counter() - t0
    return block, int(bounds[-1]), len(cells)


def worker_neo(pkl: str, out: str, io_name: str, n_cells: int | None) -> dict:
    import neo

    base = _rss_mb()
    t: dict = {}
    block, n_spikes, n_trains = _neo_block(pkl, n_cells, t)
    t0 = time.perf_counter()
    if io_name == "nix":
        with neo.io.NixIO(out, mode="ow") as io:
            io.write_block(block)
    else:
        import datetime as dt

        block.annotate(session_start_time=dt.datetime.now(dt.timezone.utc))
        neo.io.NWBIO(out, mode="w").write_all_blocks([block])
    t[f"write {io_name}"] = time.perf_counter() - t0
    return {"seconds": t, "n_spikes": n_spikes, "n_cells": n_trains, "rss_mb": _rss_mb() - base,
            "size_mb": os.path.getsize(out) / 1e6}


def worker_add_unit(store: str, out: str, n_cells: int | None) -> dict:
    """The same Units table through pynwb's per-unit ``add_unit`` (what a loop over cells
    does), for the first ``n_cells`` cells: the cost nethub's whole-column build avoids."""
    import datetime as dt

    from pynwb import NWBHDF5IO, NWBFile

    import nethub

    base = _rss_mb()
    t: dict = {}
    t0 = time.perf_counter()
    res = nethub.load_results(store)
    order = np.argsort(res.spike_gids, kind="stable")
    g, st = res.spike_gids[order], res.spike_times[order] / 1000.0
    cells = np.unique(g)[:n_cells] if n_cells else np.unique(g)
    lo, hi = np.searchsorted(g, cells), np.searchsorted(g, cells, side="right")
    t["arrays"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = NWBFile(session_description="add_unit", identifier="bench",
                session_start_time=dt.datetime.now(dt.timezone.utc))
    for gid, a, b in zip(cells.tolist(), lo.tolist(), hi.tolist()):
        f.add_unit(spike_times=st[a:b], id=gid)
    t["add_unit loop"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with NWBHDF5IO(out, "w") as io:
        io.write(f)
    t["write"] = time.perf_counter() - t0
    return {"seconds": t, "n_spikes": int(hi[-1] - lo[0]) if len(cells) else 0,
            "n_cells": len(cells), "rss_mb": _rss_mb() - base,
            "size_mb": os.path.getsize(out) / 1e6}


def _run_worker(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", type=int, default=100_000)
    p.add_argument("--spikes", type=int, default=10_000_000)
    p.add_argument("--duration", type=float, default=10_000.0)
    p.add_argument("--neo-cells", type=int, default=None,
                   help="run the Neo sides on the first N cells only (scaled in the table)")
    p.add_argument("--sides", default="nethub,add_unit,nix,nwb")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "inputs":
            make_inputs(Path(rest[0]), int(rest[1]), int(rest[2]), float(rest[3]))
            out = {}
        elif kind == "nethub":
            out = worker_nethub(*rest)
        elif kind == "add_unit":
            out = worker_add_unit(rest[0], rest[1], int(rest[2]) if rest[2] != "all" else None)
        else:
            out = worker_neo(rest[0], rest[1], kind, int(rest[2]) if rest[2] != "all" else None)
        print(json.dumps(out))
        return 0

    sides = args.sides.split(",")
    figures: dict = {"cells": args.cells, "spikes": args.spikes, "neo_cells": args.neo_cells,
                     "load_avg": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="nwbbench") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        store, pkl = folder / "run.h5", folder / "netpyne_output.pkl"
        made = _run_worker(["inputs", tmp, str(args.cells), str(args.spikes),
                            str(args.duration)])
        if "error" in made:
            print(f"inputs: {made['error']}")
            return 1
        print(f"inputs: {args.cells} cells, {args.spikes} spikes "
              f"({time.perf_counter() - t0:.1f} s to make)")
        if "nethub" in sides:
            figures["nethub"] = _run_worker(["nethub", str(store), str(folder / "out.nwb")])
        neo_n = str(args.neo_cells) if args.neo_cells else "all"
        if "add_unit" in sides:
            figures["pynwb_add_unit"] = _run_worker(["add_unit", str(store),
                                                     str(folder / "add_unit.nwb"), neo_n])
        for io_name, suffix in (("nix", ".nix"), ("nwb", ".nwb")):
            if io_name in sides:
                figures[f"neo_{io_name}"] = _run_worker(
                    [io_name, str(pkl), str(folder / f"neo{suffix}"), neo_n])
    return _report(figures, args.json)


def _report(fig: dict, json_path: str | None) -> int:
    ok = True
    print(f"\n{fig['spikes']:,} spikes, {fig['cells']:,} cells (load average "
          f"{fig['load_avg']:.1f})")
    nh = fig.get("nethub")
    if nh and "error" not in nh:
        s = nh["seconds"]
        ok = s["export"] < GOAL_S and nh["exact"]
        print(f"nethub convert STORE OUT.nwb: {s['export']:.2f} s, read back "
              f"{s['read back']:.2f} s, exact: {nh['exact']}, +{nh['rss_mb']:.0f} MB, "
              f"{nh['size_mb']:.0f} MB file  [{'PASS' if ok else 'FAIL'} < {GOAL_S:.0f} s]")
    elif nh:
        ok = False
        print(f"nethub: {nh['error']}")
    for key in ("pynwb_add_unit", "neo_nix", "neo_nwb"):
        r = fig.get(key)
        if not r:
            continue
        if "error" in r:
            print(f"{key}: {r['error']}")
            continue
        sec = r["seconds"]
        scale = fig["cells"] / max(r["n_cells"], 1)  # Neo's cost is per SpikeTrain
        per_train = sum(v for k, v in sec.items() if k not in ("load pickle", "arrays"))
        total = sec["arrays"] + per_train * scale
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in r["seconds"].items())
        label = {"pynwb_add_unit": "pynwb add_unit loop", "neo_nix": "Neo -> NIX",
                 "neo_nwb": "Neo -> NWB"}[key]
        line = (f"{label}: {parts}; {r['n_cells']:,} cells, "
                f"{r['n_spikes']:,} spikes, "
                f"+{r['rss_mb']:.0f} MB, {r['size_mb']:.0f} MB file")
        if scale > 1.0001:
            line += f"; scaled to all cells: {total:.0f} s (estimate)"
        print(line)
        r["convert_s_all_cells"] = total
        if nh and "error" not in nh:
            ok = ok and nh["seconds"]["export"] < total
    if json_path:
        Path(json_path).write_text(json.dumps(fig, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
