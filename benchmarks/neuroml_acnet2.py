"""nethub vs jNeuroML's NEURON export on OSB's ACnet2 MediumNet, side by side (issue 13 item 6).

    .venv/bin/python benchmarks/neuroml_acnet2.py [--model DIR] [--length MS] [--np N]

The model is ``LEMS_MediumNet.xml`` of Open Source Brain's ACnet2
(https://github.com/OpenSourceBrain/ACnet2, folder ``neuroConstruct/generatedNeuroML2``): 48
``pyr_4_sym`` pyramidal cells (9 sections, Na/Kdr/Ca/Kahp channels, a Ca pool), 12 ``bask``
basket cells, 984 ``connection``s (AMPA/GABA ``expTwoSynapse``, delay 0, pre/post segment and
fraction) and 14 pulse inputs, 500 ms at dt 0.01 ms, 60 OutputFiles of ``v``. The model files
are not part of this repository: ``--model`` names that folder; without it the script clones
the repository (``git clone --depth 1``) into ``$NETHUB_CACHE/bench/ACnet2`` (default
``~/.cache/nethub``) once. Copy a local checkout there instead when offline.

Each side runs in its own process in its own copy of the folder, twice:

- **jnml**: ``pynml LEMS_MediumNet.xml -neuron -run -nogui`` (pyNeuroML's jNeuroML: Java writes
  the NMODL and a NEURON script, ``nrnivmodl`` compiles, NEURON runs and writes the OutputFiles).
  Its second run is in the same folder, so ``nrnivmodl`` finds its library up to date.
- **nethub**: the API in one process: ``NeuroMLFormat().read_run`` (libNeuroML reads the model,
  jNeuroML's NMODL from the cache or from Java), ``nethub.simulate`` (store written, mechanisms
  compiled or taken from the cache, NEURON run), ``write_lems_outputs`` (the same OutputFiles,
  where jnml writes them). The first run has an empty ``$NETHUB_CACHE`` (cold: Java and
  ``nrnivmodl``), the second the cache the first filled (what a second ``nethub run
  LEMS_MediumNet.xml`` does). Checked as ``nethub run`` checks (the model's connections have
  delay 0: their cells are dealt to one rank, ``nethub.sim.colocate``).

Spikes: per OutputFile (one cell each), upward crossings of 0 mV as the model's OMV test detects
them (``.test.medium.jnmlnrn.omt``: sample after the crossing); compared cell by cell, exact. At
the full 500 ms the three OMV experiments of ``.test.medium.mep`` are checked too. Goal (issue
13): the second nethub run >= 10x faster end to end than jnml's, with identical spikes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
REPO = "https://github.com/OpenSourceBrain/ACnet2.git"
SUBDIR = "neuroConstruct/generatedNeuroML2"
LEMS = "LEMS_MediumNet.xml"

NETHUB_RUN = """
import json, sys, time
t0 = time.perf_counter()
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.formats.neuroml.outputs import write_lems_outputs
from nethub.runner import simulate
t1 = time.perf_counter()
net, rc, lost = NeuroMLFormat().read_run(sys.argv[1])
if sys.argv[5] == "exact":  # one synapse per connection, NEURON (nethub run --exact)
    import dataclasses
    rc = dataclasses.replace(rc, exact=True, merge_synapses=False, engine="neuron")
t2 = time.perf_counter()
res = simulate(net, rc, output=sys.argv[2], overwrite=True, checked=True,
               nprocs=int(sys.argv[3]))
t3 = time.perf_counter()
written = write_lems_outputs(res, sys.argv[4])
t4 = time.perf_counter()
print("TIMES", json.dumps({"python imports": t1 - t0, "import + NMODL": t2 - t1,
                           "simulate (store, compile, run)": t3 - t2,
                           "write OutputFiles": t4 - t3, "files": len(written),
                           "engine": res.meta.get("engine"),
                           "phases": {k: round(v, 3) for k, v in res.timing.items()},
                           "lost": [str(x) for x in lost]}))
"""


def model_folder(given: str | None) -> Path:
    """The folder holding ``LEMS_MediumNet.xml`` (cloned into the cache when not given)."""
    if given:
        folder = Path(given)
        if (folder / SUBDIR / LEMS).exists():
            folder = folder / SUBDIR
        if not (folder / LEMS).exists():
            raise SystemExit(f"{folder}: no {LEMS} (give ACnet2's {SUBDIR} folder)")
        return folder
    cache = Path(os.environ.get("NETHUB_CACHE") or Path.home() / ".cache" / "nethub")
    clone = cache / "bench" / "ACnet2"
    if not (clone / SUBDIR / LEMS).exists():
        clone.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--depth", "1", REPO, str(clone)], check=True)
    return clone / SUBDIR


def prepare(src: Path, dest: Path, length_ms: float | None) -> Path:
    """A copy of the model folder (only its files, no earlier outputs), the run length set."""
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and not f.name.endswith(".dat"):
            shutil.copy2(f, dest / f.name)
    lems = dest / LEMS
    if length_ms is not None:
        text = lems.read_text()
        text, n = re.subn(r'(id="sim1" length=")[^"]*(")', rf"\g<1>{length_ms}ms\g<2>", text)
        assert n == 1, "Simulation length not found"
        lems.write_text(text)
    return lems


def _timed(cmd: list[str], cwd: Path, env: dict) -> dict:
    """Wall and CPU seconds and peak RSS of one command (the process and every process it
    waited for: pynml's Java and NEURON children, nethub's nrnivmodl)."""
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=so, stderr=se, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    out = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
           "peak_rss_mb": usage.ru_maxrss / 1024}
    for line in (stdout + stderr).splitlines():
        if line.startswith("TIMES "):
            out.update(json.loads(line[6:]))
        m = re.search(r"Finished NEURON simulation in ([0-9.]+) seconds", line)
        if m:
            out["NEURON run (its log)"] = float(m.group(1))
        m = re.search(r"Finished saving results in ([0-9.]+) seconds", line)
        if m:
            out["saving (its log)"] = float(m.group(1))
    return out


def run_jnml(lems: Path, env: dict) -> dict:
    nrnivmodl = shutil.which("nrnivmodl", path=env["PATH"])
    env = {**env, "NEURON_HOME": str(Path(nrnivmodl).parent.parent)}
    pynml = Path(sys.executable).parent / "pynml"
    return _timed([str(pynml), lems.name, "-neuron", "-run", "-nogui"], lems.parent, env)


def run_nethub(lems: Path, env: dict, nprocs: int, mode: str) -> dict:
    script = lems.parent / "_nethub_run.py"
    script.write_text(NETHUB_RUN)
    return _timed([sys.executable, script.name, lems.name, "out.h5", str(nprocs),
                   str(lems.parent), mode], lems.parent, env)


def output_spikes(lems: Path) -> dict[str, np.ndarray]:
    """Spike times (ms) per OutputFile: the sample after each upward 0 mV crossing."""
    from nethub.formats.neuroml import read_lems

    out = {}
    for of in read_lems(lems).simulation.output_files:
        data = np.loadtxt(lems.parent / of.file_name, ndmin=2)
        t, v = data[:, 0] * 1000, data[:, 1] * 1000
        out[of.file_name] = t[1 + np.flatnonzero((v[:-1] <= 0) & (v[1:] > 0))]
    return out


def compare(a: dict, b: dict) -> tuple[int, int, list[str]]:
    """(cells with identical spikes, spikes, differences) between two runs' OutputFiles."""
    same, diffs, moved, worst, earliest = 0, [], 0, 0.0, np.inf
    for name, sa in a.items():
        sb = b[name]
        if len(sa) == len(sb) and np.array_equal(np.round(sa, 6), np.round(sb, 6)):
            same += 1
            continue
        if len(sa) != len(sb):
            diffs.append(f"{name}: {len(sa)} vs {len(sb)} spikes")
            continue
        d = np.abs(sa - sb)
        off = d > 1e-6
        moved += int(off.sum())
        worst = max(worst, float(d.max()))
        earliest = min(earliest, float(sa[off][0]))
        diffs.append(f"{name}: {len(sa)} spikes, {int(off.sum())} moved by up to "
                     f"{d.max():.2f} ms")
    if moved:
        diffs.insert(0, f"equal counts: {moved} spikes moved, by up to {worst:.2f} ms, the "
                        f"first at {earliest:.2f} ms")
    return same, sum(len(s) for s in a.values()), diffs


def omv_check(lems: Path, spikes: dict) -> list[str]:
    """The model's own OMV expectations (``.test.medium.mep``, tolerance 0)."""
    omt = yaml.safe_load((lems.parent / ".test.medium.jnmlnrn.omt").read_text())
    mep = yaml.safe_load((lems.parent / omt["mep"]).read_text())["experiments"]
    out = []
    for name, exp in omt["experiments"].items():
        obs = spikes[exp["observables"]["spike times"]["file"]["path"]]
        expected = np.asarray(mep[name]["expected"]["spike times"], dtype=float)
        ok = len(obs) == len(expected) and np.allclose(obs, expected, rtol=0)
        out.append(f"{name}: {'pass' if ok else 'FAIL'} ({len(obs)} spikes, "
                   f"expected {len(expected)})")
    return out


def _row(side: str, r: dict) -> str:
    return (f"| {side} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['peak_rss_mb']:.0f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help=f"ACnet2's {SUBDIR} folder (default: cloned into the cache)")
    ap.add_argument("--length", type=float, default=None,
                    help="simulated ms (default: the model's 500 ms)")
    ap.add_argument("--np", type=int, default=1, help="nethub's MPI ranks (default 1)")
    ap.add_argument("--mode", choices=("exact", "fast"), default="exact",
                    help="nethub's run mode: 'exact' (one synapse per connection, as jnml; "
                         "default) or 'fast' (synapses merged: equal up to round-off)")
    ap.add_argument("--keep", help="keep the work folders here")
    args = ap.parse_args()
    src = model_folder(args.model)
    work = Path(args.keep or tempfile.mkdtemp(prefix="nmlbench-"))
    print(f"model {src} ({LEMS}), length {args.length or 'as in the file'} ms, "
          f"load average {os.getloadavg()[0]:.1f}")
    env = {**os.environ, "NETHUB_CACHE": str(work / "nethub-cache")}
    jnml_lems = prepare(src, work / "jnml", args.length)
    hub_lems = prepare(src, work / "nethub", args.length)
    res = {}
    for run in (1, 2):
        res[f"jnml {run}"] = run_jnml(jnml_lems, env)
        res[f"nethub {run}"] = run_nethub(hub_lems, env, args.np, args.mode)
        for side in ("jnml", "nethub"):
            r = res[f"{side} {run}"]
            print(f"run {run} {side}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU "
                  f"(load average {os.getloadavg()[0]:.1f})")
    spikes_j, spikes_n = output_spikes(jnml_lems), output_spikes(hub_lems)
    same, n_spikes, diffs = compare(spikes_j, spikes_n)
    print("\n| run | wall s | CPU s (all processes) | peak RSS MB |\n|---|---:|---:|---:|")
    for key, r in res.items():
        print(_row(key, r))
    for key in ("nethub 1", "nethub 2"):
        r = res[key]
        print(f"{key}: " + ", ".join(f"{k} {r[k]:.2f} s" for k in (
            "python imports", "import + NMODL", "simulate (store, compile, run)",
            "write OutputFiles")) + f"; engine {r['engine']}; phases {r['phases']}")
        print(f"  losses reported: {r['lost']}")
    for key in ("jnml 1", "jnml 2"):
        print(f"{key}: NEURON run {res[key].get('NEURON run (its log)')} s, saving the files "
              f"{res[key].get('saving (its log)')} s (its log)")
    print(f"\nspikes: {same}/{len(spikes_j)} cells identical ({n_spikes} spikes in jnml's "
          f"OutputFiles, {sum(len(s) for s in spikes_n.values())} in nethub's)")
    for d in diffs[:10]:
        print("  " + d)
    if args.length in (None, 500.0):
        for side, sp in (("jnml", spikes_j), ("nethub", spikes_n)):
            print(f"OMV .test.medium.mep on {side}'s output: " + "; ".join(
                omv_check(jnml_lems if side == "jnml" else hub_lems, sp)))
    for run in (1, 2):
        ratio = res[f"jnml {run}"]["wall"] / res[f"nethub {run}"]["wall"]
        ratio_cpu = res[f"jnml {run}"]["cpu"] / res[f"nethub {run}"]["cpu"]
        print(f"run {run}: nethub {ratio:.1f}x faster than jnml (wall), {ratio_cpu:.1f}x (CPU)")
    goal = res["jnml 2"]["wall"] / res["nethub 2"]["wall"] >= 10 and not diffs
    print(f"goal (second run >= 10x faster end to end, identical spikes): "
          f"{'PASS' if goal else 'FAIL'}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
