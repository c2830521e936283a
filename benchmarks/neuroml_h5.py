"""Import of a 100,000-connection NeuroML2 HDF5 network (``.nml.h5``): nethub vs libNeuroML.

    .venv/bin/python benchmarks/neuroml_h5.py [--connections 100000] [--keep DIR]

A network is generated with numpy (seed 1) and written by nethub's exporter
(:func:`nethub.formats.neuroml.write_nml_h5`, float64, named columns): three populations of a
five-segment detailed cell (``ball5``: soma and four dendrite segments, a passive channel) and
one of ``iafCell``, every cell with an instance location; four projections of
``connectionWD``s with pre/post cell, pre/post segment (0-4 on the detailed cells, 0 on the
iaf cells), pre/post fraction along, weight and delay drawn as float64; one pulse input list.
Then, each in a fresh process (time from the call to the result, peak RSS of the process and
its rise over the RSS after the imports):

- ``nethub read_neuroml``: the file layer (libNeuroML document + the float64 arrays);
- ``nethub import``: ``NeuroMLFormat().read_run`` (``nethub convert X.nml.h5 OUT.h5`` without
  the store write): the canonical ``Network`` with cells on jNeuroML's (section, x), with
  jNeuroML's NMODL from the cache (a first, untimed run fills it);
- libNeuroML ``loaders.read_neuroml2_file(path)`` (default: one Python object per connection)
  and ``read_neuroml2_file(path, optimized=True)`` (arrays behind lazy containers).

Every side's connection values (cells, segments, fractions, weights, delays) and locations are
compared with the generated float64 arrays bit for bit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CELL_XML = """<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="bench_h5">
  <ionChannel id="leak" type="ionChannelPassive" conductance="10pS"/>
  <iafCell id="iaf" leakConductance="0.2nS" leakReversal="-70mV" thresh="-55mV"
    reset="-70mV" C="3.2pF"/>
  <expTwoSynapse id="syn" gbase="1nS" erev="0mV" tauRise="0.5ms" tauDecay="5ms"/>
  <pulseGenerator id="pulse" delay="5ms" duration="50ms" amplitude="0.2nA"/>
  <cell id="ball5">
    <morphology id="ball5_morph">
      <segment id="0" name="soma"><proximal x="0" y="0" z="0" diameter="15"/>
        <distal x="0" y="15" z="0" diameter="15"/></segment>
      <segment id="1" name="d1"><parent segment="0"/><proximal x="0" y="15" z="0"
        diameter="3"/><distal x="0" y="65" z="0" diameter="3"/></segment>
      <segment id="2" name="d2"><parent segment="1"/><distal x="0" y="115" z="0"
        diameter="2"/></segment>
      <segment id="3" name="d3"><parent segment="0"/><proximal x="0" y="15" z="0"
        diameter="3"/><distal x="40" y="45" z="0" diameter="3"/></segment>
      <segment id="4" name="d4"><parent segment="3"/><distal x="80" y="75" z="0"
        diameter="2"/></segment>
      <segmentGroup id="all"><member segment="0"/><member segment="1"/><member segment="2"/>
        <member segment="3"/><member segment="4"/></segmentGroup>
    </morphology>
    <biophysicalProperties id="ball5_bio">
      <membraneProperties>
        <channelDensity id="leak_all" ionChannel="leak" condDensity="0.3 mS_per_cm2"
          erevation="-65mV" segmentGroup="all" ion="non_specific"/>
        <spikeThresh value="0mV"/>
        <specificCapacitance value="1.0 uF_per_cm2"/>
        <initMembPotential value="-65mV"/>
      </membraneProperties>
      <intracellularProperties><resistivity value="100 ohm_cm"/></intracellularProperties>
    </biophysicalProperties>
  </cell>
</neuroml>
""".replace("erevation", "erev")

#: population -> (component, size share)
POPS = {"exc": ("ball5", 0.5), "inh": ("ball5", 0.15), "out": ("ball5", 0.15),
        "iaf": ("iaf", 0.2)}
#: projection -> (pre, post, connection share)
PROJS = {"exc_exc": ("exc", "exc", 0.5), "exc_inh": ("exc", "inh", 0.2),
         "inh_exc": ("inh", "exc", 0.2), "exc_iaf": ("exc", "iaf", 0.1)}

CHILD = r"""
import json, re, resource, sys, time
import numpy as np
mode, path, ref_path = sys.argv[1:4]
ref = np.load(ref_path)

def rss(field="VmRSS"):
    # current (VmRSS) or peak (VmHWM) resident memory of this process, MB (Linux)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

t_imp = time.perf_counter()
if mode.startswith("nethub"):  # the modules the calls load lazily, imported first
    import neuroml
    import nethub.converters.neuroml
    import nethub.converters.nml_cells_net
    from nethub.formats.neuroml import read_neuroml
    from nethub.formats.neuroml.plugin import NeuroMLFormat
else:
    from neuroml import loaders
imports = time.perf_counter() - t_imp
base = rss()
try:  # reset the peak (VmHWM) to the current RSS: the peak of the load alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
t0 = time.perf_counter()
if mode == "nethub-read":
    model = read_neuroml(path)
elif mode == "nethub-import":
    net, rc, lost = NeuroMLFormat().read_run(path)
elif mode == "libneuroml":
    doc = loaders.read_neuroml2_file(path)
else:
    doc = loaders.read_neuroml2_file(path, optimized=True)
seconds = time.perf_counter() - t0
peak = rss("VmHWM")

FIELDS = ("pre_cell", "post_cell", "pre_segment", "post_segment", "pre_fraction",
          "post_fraction", "weight", "delay")
H5 = {"pre_cell": "pre_cell_id", "post_cell": "post_cell_id", "pre_segment": "pre_segment_id",
      "post_segment": "post_segment_id", "pre_fraction": "pre_fraction_along",
      "post_fraction": "post_fraction_along", "weight": "weight", "delay": "delay"}

def delay_ms(text):
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*(ms|s)\s*", str(text))
    return float(m.group(1)) * {"ms": 1.0, "s": 1000.0}[m.group(2)]

def columns():
    # the values each side gives, as float64 arrays per projection (untimed)
    out = {}
    if mode == "nethub-read":
        s = model.networks[next(iter(model.networks))]
        for pid, p in s.projections.items():
            out[pid] = {f: np.asarray(p.columns[f], dtype=np.float64) for f in FIELDS}
        locs = {k: p.locations for k, p in s.populations.items()}
        return out, locs
    if mode == "nethub-import":
        return None, None
    net = doc.networks[0]
    locs = {}
    for pop in net.populations:
        if mode == "libneuroml":
            locs[pop.id] = np.array([[i.location.x, i.location.y, i.location.z]
                                     for i in pop.instances], dtype=np.float64)
        else:
            arr = np.asarray(pop.instances.array, dtype=np.float64)
            idx = pop.instances.indices
            locs[pop.id] = arr[:, [idx.get(c, k + 1) for k, c in enumerate("xyz")]]
    for proj in net.projections:
        if mode == "libneuroml":
            cs = proj.connection_wds
            out[proj.id] = {
                "pre_cell": [c.get_pre_cell_id() for c in cs],
                "post_cell": [c.get_post_cell_id() for c in cs],
                "pre_segment": [c.get_pre_segment_id() for c in cs],
                "post_segment": [c.get_post_segment_id() for c in cs],
                "pre_fraction": [c.get_pre_fraction_along() for c in cs],
                "post_fraction": [c.get_post_fraction_along() for c in cs],
                "weight": [c.weight for c in cs],
                "delay": [delay_ms(c.delay) for c in cs]}
            out[proj.id] = {k: np.asarray(v, dtype=np.float64) for k, v in out[proj.id].items()}
        else:
            lst = proj.connection_wds if len(proj.connection_wds) else proj.connections
            arr = np.asarray(lst.array)
            out[proj.id] = {f: np.asarray(arr[:, lst.indices[H5[f]]], dtype=np.float64)
                            for f in FIELDS if H5[f] in lst.indices}
            out[proj.id]["dtype"] = str(arr.dtype)
    return out, locs

cols, locs = columns()
report = {"seconds": seconds, "rss_base_mb": base, "rss_peak_mb": peak,
          "imports": imports}
if cols is not None:
    exact, notes = True, []
    for pid, c in cols.items():
        if "dtype" in c:
            report["array dtype"] = c.pop("dtype")
        for f in FIELDS:
            want = ref[f"{pid}.{f}"]
            if f not in c:
                notes.append(f"{pid}.{f} missing")
                exact = False
            elif not np.array_equal(c[f], want):
                bad = int(np.sum(c[f] != want))
                notes.append(f"{pid}.{f}: {bad} differ (max |d| "
                             f"{float(np.max(np.abs(c[f] - want))):.3g})")
                exact = False
    for pop, loc in locs.items():
        if loc is None or not np.array_equal(loc, ref[f"{pop}.xyz"]):
            notes.append(f"{pop} locations differ")
            exact = False
    report.update(exact=exact, notes=notes[:8])
else:
    conns = net.connections
    report["connections"] = len(conns)
    report["cells"] = len(net.cells)
    report["lost"] = [str(x) for x in lost]
    w = np.sort(np.asarray(conns["weight"], dtype=np.float64))
    d = np.sort(np.asarray(conns["delay"], dtype=np.float64))
    report["exact"] = bool(np.array_equal(w, np.sort(ref["all.weight"])) and
                           np.array_equal(d, np.sort(ref["all.delay"])))
print("REPORT", json.dumps(report))
"""


def generate(folder: Path, n_conns: int) -> tuple[Path, Path]:
    """Write the network (``bench.nml.h5``) and its arrays (``ref.npz``)."""
    from nethub.formats.neuroml import write_nml_h5
    from nethub.formats.neuroml.build import SUMMARY_ATTR
    from nethub.formats.neuroml.nmlread import parse_nml_bytes
    from nethub.formats.neuroml.summary import (
        InputListSummary,
        NetworkSummary,
        PopulationSummary,
        ProjectionSummary,
    )

    rng = np.random.default_rng(1)
    n_cells = max(40, n_conns // 50)
    pops, ref = {}, {}
    for pid, (comp, share) in POPS.items():
        n = max(4, int(n_cells * share))
        xyz = rng.uniform(0, 1000, (n, 3))
        pops[pid] = PopulationSummary(pid, comp, n, np.arange(n, dtype=np.int64), xyz,
                                      "populationList")
        ref[f"{pid}.xyz"] = xyz
    projs, all_w, all_d = {}, [], []
    for prj, (pre, post, share) in PROJS.items():
        n = int(n_conns * share)
        segs = {p: (5 if POPS[p][0] == "ball5" else 1) for p in (pre, post)}
        cols = {"id": np.arange(n, dtype=np.int64),
                "pre_cell": rng.integers(0, pops[pre].size, n),
                "post_cell": rng.integers(0, pops[post].size, n),
                "pre_segment": rng.integers(0, segs[pre], n),
                "post_segment": rng.integers(0, segs[post], n),
                "pre_fraction": rng.random(n), "post_fraction": rng.random(n),
                "weight": rng.lognormal(-1.0, 0.5, n), "delay": rng.uniform(0.5, 5.0, n)}
        projs[prj] = ProjectionSummary(prj, "chemical", pre, post, "syn", cols)
        for f, v in cols.items():
            ref[f"{prj}.{f}"] = v
        all_w.append(cols["weight"])
        all_d.append(cols["delay"])
    ref["all.weight"], ref["all.delay"] = np.concatenate(all_w), np.concatenate(all_d)
    k = max(1, pops["exc"].size // 10)
    inputs = {"stim": InputListSummary("stim", "pulse", "exc", {
        "id": np.arange(k, dtype=np.int64), "target_cell": np.arange(k, dtype=np.int64),
        "segment": np.zeros(k, dtype=np.int64), "fraction": np.full(k, 0.5),
        "weight": np.ones(k)}, "synapses")}
    summary = NetworkSummary("net", 34.0, pops, projs, inputs, [])
    doc = parse_nml_bytes(CELL_XML.encode(), "bench cell")
    import neuroml

    net = neuroml.Network(id="net")
    setattr(net, SUMMARY_ATTR, summary)
    doc.networks = [net]
    path = folder / "bench.nml.h5"
    write_nml_h5(doc, path)
    np.savez(folder / "ref.npz", **ref)
    return path, folder / "ref.npz"


def run_child(mode: str, path: Path, ref: Path, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), str(ref)], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        return {"error": (proc.stderr or proc.stdout)[-1500:]}
    line = [x for x in proc.stdout.splitlines() if x.startswith("REPORT ")][-1]
    return json.loads(line[7:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=100_000)
    ap.add_argument("--keep", help="keep the generated files in this folder")
    args = ap.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="nmlh5-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path, ref = generate(folder, args.connections)
    print(f"generated {path} ({path.stat().st_size / 1e6:.1f} MB, {args.connections} "
          f"connections) in {time.perf_counter() - t0:.2f} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    env = dict(os.environ)
    warm = run_child("nethub-import", path, ref, env)  # fills jNeuroML's NMODL cache
    if "error" in warm:
        print("nethub import failed:\n" + warm["error"])
    print("\n| side | s | imports s (before) | peak RSS MB (rise) | values exact |\n"
          "|---|---:|---:|---:|---|")
    for mode in ("nethub-read", "nethub-import", "libneuroml-optimized", "libneuroml"):
        r = run_child(mode, path, ref, env)
        if "error" in r:
            print(f"| {mode} | failed | | {r['error'].splitlines()[-1]} |")
            continue
        extra = ", ".join(r.get("notes", [])) or ""
        print(f"| {mode} | {r['seconds']:.3f} | {r['imports']:.2f} | {r['rss_peak_mb']:.0f} "
              f"(+{r['rss_peak_mb'] - r['rss_base_mb']:.0f}) | {r['exact']} {extra} |")
        for key in ("array dtype", "connections", "cells", "lost"):
            if key in r:
                print(f"    {mode} {key}: {r[key]}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
