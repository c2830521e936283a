"""Benchmark of ``nethub verify`` (issue 17, item 6): re-simulating a stored run and comparing
it must cost no more than the run itself plus 10 %.

The network is the simulator benchmark's (``benchmarks/simulate.py``: ``--cells`` HH cells,
``--conns`` Exp2Syn connections each, one NetStim per cell; default 20,000 cells and
2,000,000 connections). It is built and saved once (not timed). Then, ``--repeat`` times,
alternating, each in a fresh process and on the same machine in one session:

* **run**: ``nethub run MODEL.h5 -o RUN_i.h5`` -- a user's first run of the model store (read,
  instantiate, simulate, gather, write the run with its content hash and integrity hashes);
* **verify**: ``nethub verify RUN_i.h5 --shared-cache --json`` -- the integrity check (every
  dataset hashed again, the content hash recomputed), a copy of the store in a temporary
  folder, the re-run there in a child process, the comparison.

Both use the mechanisms already compiled in this machine's cache (the run does too); a clean
mechanism build (verify's default) adds ``nrnivmodl``'s time, measured once with
``--clean-build`` and reported beside the goal, not in it. The goal is judged on CPU time
(user + system of each command and every process it waited for, medians): on a shared 2-core
machine the wall clock of runs a minute apart varies by 1.5x; wall-clock medians are shown too.

Run::

    .venv/bin/python benchmarks/verify.py                      # 20,000 cells, 2M connections
    .venv/bin/python benchmarks/verify.py --cells 5000 --conns 100   # on a busy machine

Exit status 0 when verify / run <= 1.10 and every verify reproduced the run, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOAL = 1.10


def _spec(cells: int, conns: int, duration: float) -> tuple[dict, dict]:
    sys.path.insert(0, str(HERE))
    from simulate import spec  # the simulator benchmark's network  # noqa: PLC0415

    return spec(cells, conns, duration)


def _cpu_children() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall-clock and CPU seconds of ``cmd`` (with every process it waited for) and its
    stdout."""
    from nethub.sim import neuron_env

    env = neuron_env()
    env["OMP_NUM_THREADS"] = "1"
    t, cpu = time.perf_counter(), _cpu_children()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - t, _cpu_children() - cpu
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and "verify" not in cmd):
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, cpu, proc.stdout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", type=int, default=20_000)
    p.add_argument("--conns", type=int, default=100, help="connections per cell")
    p.add_argument("--duration", type=float, default=100.0, help="simulated ms")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--clean-build", action="store_true",
                   help="also time one verify that compiles the mechanisms afresh")
    p.add_argument("--json", metavar="OUT.json", help="write the figures here")
    args = p.parse_args(argv)

    import nethub

    nethub_cmd = [sys.executable, "-m", "nethub"]
    rows: dict[str, list[float]] = {"run": [], "verify": [], "run_cpu": [], "verify_cpu": []}
    phases: list[dict] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="nethub-bench-verify-") as tmp:
        model = Path(tmp) / "model.h5"
        t = time.perf_counter()
        net_params, cfg = _spec(args.cells, args.conns, args.duration)
        net = nethub.build(net_params, cfg)
        nethub.save(net, model)
        print(f"built and saved {net.n_cells:,} cells, {net.n_connections:,} connections in "
              f"{time.perf_counter() - t:.1f} s (not timed)", flush=True)
        for i in range(args.repeat):
            out = Path(tmp) / f"run_{i}.h5"
            wall, cpu, _ = _timed(nethub_cmd + ["run", str(model), "-o", str(out)])
            rows["run"].append(wall)
            rows["run_cpu"].append(cpu)
            wall_v, cpu_v, text = _timed(nethub_cmd + ["verify", str(out), "--shared-cache",
                                                       "--json"])
            rows["verify"].append(wall_v)
            rows["verify_cpu"].append(cpu_v)
            rep = json.loads(text)
            ok &= bool(rep["ok"])
            phases.append(rep["timing"])
            print(f"#{i}: run {wall:.2f} s (CPU {cpu:.2f} s), verify {wall_v:.2f} s (CPU "
                  f"{cpu_v:.2f} s; "
                  f"integrity {rep['timing'].get('integrity', 0):.2f} s, re-run "
                  f"{rep['timing'].get('rerun', 0):.2f} s, compare "
                  f"{rep['timing'].get('compare', 0):.2f} s): {rep['verdict']}", flush=True)
            out.unlink()
        clean = None
        if args.clean_build:
            out = Path(tmp) / "run_clean.h5"
            _timed(nethub_cmd + ["run", str(model), "-o", str(out)])
            clean = _timed(nethub_cmd + ["verify", str(out), "--json"])[0]
            print(f"verify with a clean mechanism build: {clean:.2f} s", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = med["verify_cpu"] / med["run_cpu"]
    wall_ratio = med["verify"] / med["run"]
    passed = ok and ratio <= GOAL
    print(f"\nmedian CPU: run {med['run_cpu']:.2f} s, verify {med['verify_cpu']:.2f} s: "
          f"verify / run = {ratio:.3f} (goal <= {GOAL:.2f}) {'PASS' if passed else 'FAIL'}; "
          f"wall clock: run {med['run']:.2f} s, verify {med['verify']:.2f} s, ratio "
          f"{wall_ratio:.3f}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cells": args.cells, "conns_per_cell": args.conns, "duration_ms": args.duration,
            "runs_s": rows["run"], "verifies_s": rows["verify"], "runs_cpu_s": rows["run_cpu"],
            "verifies_cpu_s": rows["verify_cpu"], "cpu_ratio": ratio, "wall_ratio": wall_ratio,
            "verify_phases": phases, "clean_build_verify_s": clean, "all_reproduced": ok,
            "machine": platform.platform(), "load": os.getloadavg()}, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
