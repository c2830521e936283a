"""Build benchmark (issue item 12): nethub's builder against NetPyNE 1.1's ``sim.create``.

The model is NetPyNE's tutorial 2 made bigger: one population ``E`` of single-compartment
Hodgkin-Huxley cells (soma: diam 18.8 um, L 18.8 um, Ra 123, ``hh`` with NetPyNE's tutorial
values), placed uniformly at random in a cube, one ``E->E`` probConn rule (Exp2Syn ``exc``,
weight 0.01, delay 5 ms). Cases:

========  =======  =====================  =======  =========================================
case      cells    probability            cube     connections (seeds 1)
========  =======  =====================  =======  =========================================
const4k   4,000    0.02                   1000 um  ~320,000 (16 M candidate pairs)
dist4k    4,000    0.1*exp(-dist_3D/200)  1000 um  ~120,000 (~30 a cell: the cube is large
                                                   against the 200 um decay, so distance
                                                   matters)
dist100k  100,000  0.1*exp(-dist_3D/200)  2380 um  ~10,000,000 (~100 a cell), built AND
                                                   written with ``write_network``
========  =======  =====================  =======  =========================================

``--quick`` uses 1,000 cells (630 um, the same density) for the first two and 10,000 cells
(1105 um, the density of dist100k) for the third (a smoke run: the goals are for the full
sizes).

Every measurement runs in a fresh subprocess (this script with ``--worker``), one after the
other: nethub's ``build`` (and ``write_network`` for dist100k) and NetPyNE's ``sim.create``
(``--netpyne``, the default; minutes per case). Times are wall-clock (``time.perf_counter``)
around the call, after the imports; the CPU time of the call (``time.process_time``) is shown
too, since other work on the machine inflates wall-clock time. Memory is the worker's peak
resident set (``resource.getrusage(...).ru_maxrss``), imports included (their share is shown in
the JSON as ``rss_after_import_mb``). Both builds key their random streams the same way (the
4,000-cell cases use NetPyNE's exact pair test), so the connections must be identical: the
script compares the counts and a SHA-256 of the sorted (post gid, pre gid) pairs.

Goals (issue item 12): on the 4,000-cell cases nethub at least 100x faster than NetPyNE and at
most a tenth of its memory; dist100k built and stored in under 60 s within 4 GB. Without
NetPyNE (``--no-netpyne``) the issue's NetPyNE measurements are used (151 s / 2.9 GB and
230 s / 4.8 GB on this machine).

Run::

    .venv/bin/python benchmarks/build.py                 # everything (~10 minutes)
    .venv/bin/python benchmarks/build.py --no-netpyne    # nethub only
    .venv/bin/python benchmarks/build.py --quick --json build.json

Exit status: 0 when every goal passes, 1 otherwise, 2 when the connections differ.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
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

DIST = "0.1*exp(-dist_3D/200)"
#: name -> (cells, probability, cube side um, NetPyNE is run, store written)
CASES = {
    "const4k": (4_000, 0.02, 1000.0, True, False),
    "dist4k": (4_000, DIST, 1000.0, True, False),
    "dist100k": (100_000, DIST, 2380.0, False, True),
}
QUICK = {
    "const4k": (1_000, 0.02, 630.0, True, False),
    "dist4k": (1_000, DIST, 630.0, True, False),
    "dist100k": (10_000, DIST, 1105.0, False, True),
}
#: the issue's NetPyNE 1.1 measurements (s, GB), used with --no-netpyne
ISSUE_NETPYNE = {"const4k": (151.0, 2.9), "dist4k": (230.0, 4.8)}
SPEEDUP_GOAL = 100.0
MEMORY_GOAL = 10.0
BIG_TIME_GOAL = 60.0  # s, build + store
BIG_MEMORY_GOAL = 4096.0  # MB


def model(cells: int, probability, side: float, seed: int = 1) -> tuple[dict, dict]:
    """netParams and simConfig (plain dicts, NetPyNE's format) of a case."""
    net = {
        "sizeX": side, "sizeY": side, "sizeZ": side,
        "cellParams": {"PYR": {"secs": {"soma": {
            "geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
            "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003, "el": -70}}}}}},
        "popParams": {"E": {"cellType": "PYR", "numCells": cells}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0}},
        "connParams": {"E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"},
                                "probability": probability, "weight": 0.01, "delay": 5,
                                "synMech": "exc"}},
    }
    cfg = {"seeds": {"conn": seed, "loc": seed, "stim": 1, "cell": 1}, "verbose": False}
    return net, cfg


def pairs_digest(pre: np.ndarray, post: np.ndarray) -> str:
    """SHA-256 of the sorted ``post * 2**32 + pre`` gid keys."""
    key = np.sort(np.asarray(post, np.int64) * (1 << 32) + np.asarray(pre, np.int64))
    return hashlib.sha256(key.tobytes()).hexdigest()[:16]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- workers
def work_nethub(case: tuple) -> dict:
    """Build (and for the big case store) one case; runs in its own process."""
    t = time.perf_counter()
    import nethub.builder
    import nethub.builder.connect
    import nethub.builder.probsample
    import nethub.expr
    import nethub.store

    out = {"import_s": time.perf_counter() - t, "rss_after_import_mb": _rss_mb()}
    cells, prob, side, _, store = case
    net_params, cfg = model(cells, prob, side)
    t0, c0 = time.perf_counter(), time.process_time()
    net = nethub.builder.build(net_params, cfg)
    out.update(build_s=time.perf_counter() - t0, build_cpu_s=time.process_time() - c0,
               rss_after_build_mb=_rss_mb())
    conns = net.connections
    out.update(cells=len(net.cells), conns=len(conns),
               digest=pairs_digest(conns["pre_gid"], conns["post_gid"]))
    if store:
        with tempfile.TemporaryDirectory(prefix="nethub-bench-") as tmp:
            path = Path(tmp) / "net.h5"
            t1, c1 = time.perf_counter(), time.process_time()
            nethub.store.write_network(net, path)
            out.update(write_s=time.perf_counter() - t1, write_cpu_s=time.process_time() - c1,
                       file_mb=path.stat().st_size / 1e6)
    out["maxrss_mb"] = _rss_mb()
    return out


def work_netpyne(case: tuple) -> dict:
    """NetPyNE's ``sim.create`` on one case (stdout swallowed); runs in its own process."""
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        from netpyne import sim, specs
    out = {"import_s": time.perf_counter() - t, "rss_after_import_mb": _rss_mb()}
    cells, prob, side, _, _ = case
    net_params, cfg = model(cells, prob, side)
    sc = specs.SimConfig(cfg)
    sc.progressBar = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        sim.create(netParams=specs.NetParams(net_params), simConfig=sc)
    out.update(build_s=time.perf_counter() - t0, build_cpu_s=time.process_time() - c0)
    pre = [c_["preGid"] for c in sim.net.cells for c_ in c.conns]
    post = [c.gid for c in sim.net.cells for _ in c.conns]
    out.update(cells=len(sim.net.cells), conns=len(pre), digest=pairs_digest(pre, post),
               maxrss_mb=_rss_mb())
    return out


def run_worker(tool: str, name: str, quick: bool) -> dict:
    """Run a worker in a fresh, single-threaded, non-MPI subprocess; its JSON result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "OMPI", "HYDRA"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", tool, name] + (["--quick"] if quick else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                          cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def _cell(v, spec: str, width: int, suffix: str = "") -> str:
    return f"{'-':>{width}}" if v is None else f"{format(v, spec) + suffix:>{width}}"


def reference(name: str, npy: dict | None, quick: bool) -> tuple[float, float] | None:
    """NetPyNE's (seconds, MB) for a case: this run's, else the issue's (full sizes only)."""
    if npy and "build_s" in npy:
        return npy["build_s"], npy["maxrss_mb"]
    if not quick and name in ISSUE_NETPYNE:
        return ISSUE_NETPYNE[name][0], ISSUE_NETPYNE[name][1] * 1024
    return None


def evaluate(name: str, nh: dict, npy: dict | None, ref) -> dict:
    """Goals of one case (True/False, missing when they cannot be judged) and the ratios."""
    res: dict = {}
    if name == "dist100k":
        res["total_s"] = nh["build_s"] + nh.get("write_s", 0.0)
        res["time"] = res["total_s"] < BIG_TIME_GOAL
        res["memory"] = nh["maxrss_mb"] < BIG_MEMORY_GOAL
        return res
    if ref is not None:
        res["speedup"] = ref[0] / nh["build_s"]
        res["memory_ratio"] = ref[1] / nh["maxrss_mb"]
        res["time"] = res["speedup"] >= SPEEDUP_GOAL
        res["memory"] = res["memory_ratio"] >= MEMORY_GOAL
    if npy and "conns" in npy:
        res["same_conns"] = (npy["conns"] == nh["conns"] and npy["digest"] == nh["digest"])
    return res


def _verdict(res: dict, key: str) -> str:
    return "n/a" if key not in res else ("PASS" if res[key] else "FAIL")


def table(rows: list[tuple[str, dict, dict | None, dict, tuple | None]]) -> str:
    head = (f"{'case':9} {'cells':>7} {'conns':>10} {'nethub s':>9} {'(cpu s)':>8} "
            f"{'NetPyNE s':>10} {'ratio':>7} {'nethub MB':>10} {'NetPyNE MB':>11} "
            f"{'mem ratio':>9}  goals")
    lines = [head, "-" * len(head)]
    for name, nh, npy, res, ref in rows:
        if "error" in nh:
            lines.append(f"{name:9} nethub failed: {nh['error'][-200:]}")
            continue
        t = nh["build_s"] + nh.get("write_s", 0.0)
        cpu = nh["build_cpu_s"] + nh.get("write_cpu_s", 0.0)
        if name == "dist100k":
            goals = [f"build+store <{BIG_TIME_GOAL:.0f}s {_verdict(res, 'time')}",
                     f"<4GB {_verdict(res, 'memory')}"]
        else:
            goals = [f">=100x {_verdict(res, 'time')}", f"<=1/10 mem {_verdict(res, 'memory')}"]
            if ref is not None and not (npy and "build_s" in npy):
                goals.append("vs the issue's NetPyNE numbers")
            if npy and "error" in npy:
                goals.append("NetPyNE failed")
            if "same_conns" in res:
                goals.append("conns identical" if res["same_conns"] else "CONNS DIFFER")
        lines.append(
            f"{name:9} {nh['cells']:>7,} {nh['conns']:>10,} {t:>9.2f} {cpu:>8.2f} "
            f"{_cell(ref and ref[0], '.1f', 10)} {_cell(res.get('speedup'), '.0f', 7, 'x')} "
            f"{nh['maxrss_mb']:>10.0f} {_cell(ref and ref[1], '.0f', 11)} "
            f"{_cell(res.get('memory_ratio'), '.1f', 9, 'x')}  " + ", ".join(goals))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--netpyne", action=argparse.BooleanOptionalAction, default=True,
                    help="also run NetPyNE's sim.create on the 4,000-cell cases (default)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--json", default=None, help="write the results to this file")
    ap.add_argument("--worker", nargs=2, metavar=("TOOL", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cases = QUICK if args.quick else CASES
    if args.worker:
        tool, name = args.worker
        fn = work_nethub if tool == "nethub" else work_netpyne
        print(json.dumps(fn(cases[name])))
        return 0
    results, rows = {}, []
    for name in args.cases:
        nh = run_worker("nethub", name, args.quick)
        npy = None
        if args.netpyne and cases[name][3]:
            print(f"{name}: NetPyNE sim.create (this takes a while) ...", file=sys.stderr)
            npy = run_worker("netpyne", name, args.quick)
        ref = reference(name, npy, args.quick)
        res = evaluate(name, nh, npy, ref) if "error" not in nh else {}
        results[name] = {"case": dict(zip(("cells", "probability", "side_um"), cases[name])),
                         "nethub": nh, "netpyne": npy, "netpyne_reference": ref,
                         "goals": res}
        rows.append((name, nh, npy, res, ref))
    print(f"# nethub build benchmark ({'quick' if args.quick else 'full'}), "
          f"{platform.node()}, {platform.processor() or platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(table(rows))
    if args.quick:
        print("(--quick: the goals are meant for the full sizes)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    goals = [v for r in results.values() for k, v in r["goals"].items()
             if k in ("time", "memory")]
    if any(not r["goals"].get("same_conns", True) for r in results.values()):
        return 2
    ok = (all(goals) or args.quick) and all("error" not in r["nethub"]
                                            for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
