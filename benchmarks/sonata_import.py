"""SONATA import benchmark (issue 12): a synthetic 100,000-node / 10,000,000-edge circuit, and
nethub vs BMTK on a point-neuron circuit (build + simulate side by side, same spikes).

Usage (repository root, the project's venv; BMTK 1.2 with pandas<3 for ``--vs-bmtk``)::

    python benchmarks/sonata_import.py [--scale 1.0] [--keep DIR] [--no-bmtk]

* **import**: writes the circuit with h5py (90% IntFire1 nodes in two node types, 10% virtual
  nodes with a spikes input; 90% recurrent edges with per-edge ``syn_weight``, ``delay``,
  ``nsyns``, 10% input edges; BMTK's ``node_id_to_range`` indices), then, in a child process
  (its peak RSS is the import's own), ``nethub convert simulation_config.json OUT.h5``'s work:
  read + map (:func:`nethub.load`) and write the store. Goal: < 60 s, < 4 GB at scale 1.
* **vs BMTK**: the whole 300_intfire example (``fixtures/sonata/300_intfire_full``, 300
  IntFire1 cells, 90 + 30 virtual, 87,720 edges, 3 s) run by BMTK 1.2's bionet and by
  ``nethub run`` (import + store + simulate), each in a child process, wall time per phase;
  the spikes must be identical (BMTK's shipped ones).

* **vs NetPyNE** (``--vs-netpyne N``): NetPyNE 1.1.1's SONATA importer
  (``netpyne.conversion.sonataImport.SONATAImporter.importNet``) and nethub's import (read +
  map + write the store) on the same biophysical circuit: ``benchmarks/sonata_bio.py``'s builder
  with N biophysical cells and N virtual inputs, its edges given ``sec_id``/``sec_x`` (soma
  centre: NetPyNE's importer requires them and cannot place by ``target_sections``). NetPyNE
  reads only a dialect of its own, so its copy of the circuit differs in spelling only: an old
  ``config.json`` naming the simulation config for ``network`` and ``simulation``, an absolute
  ``$BASE_DIR``, the morphology named without ``.swc`` (it appends one), the input spikes in the
  old ``/spikes/gids`` layout, no spaces inside the edge types CSV's lists (it splits lines on
  every space), ``Exp2Syn`` for ``exp2syn`` (it calls ``getattr(h, model_template)``), and the
  mechanisms (with ``VecStim``) compiled in ``mechanisms_dir/modfiles``. Each side in its own
  process; NetPyNE's import also instantiates the cells in NEURON (its only import path).

``--scale`` multiplies node and edge counts (run at reduced size when the machine is busy).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "sonata"

IMPORT_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import nethub
from nethub.store import write_network
t1 = time.perf_counter()
net = nethub.load(sys.argv[1])
t2 = time.perf_counter()
write_network(net, sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_map_s": t2 - t1, "write_s": t3 - t2,
                  "cells": net.n_cells, "connections": net.n_connections,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BMTK_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from mpi4py import MPI
from pathlib import Path
from neuron import h
import nethub.sim
from nethub.nmodl.compile import compile_mod_files
mod = Path(nethub.sim.__file__).parent / "mod" / "vecevent.mod"
h.nrn_load_dll(str(compile_mod_files({"vecevent.mod": mod.read_text()})))
from bmtk.simulator import bionet
t1 = time.perf_counter()
conf = bionet.Config.from_json(sys.argv[1], validate=True)
conf.build_env()
net = bionet.BioNetwork.from_config(conf)
sim = bionet.BioSimulator.from_config(conf, network=net)
t2 = time.perf_counter()
sim.run()
t3 = time.perf_counter()
print(json.dumps({"startup_s": t1 - t0, "build_s": t2 - t1, "simulate_s": t3 - t2}))
"""

NETHUB_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import nethub
from nethub.store import write_network
t1 = time.perf_counter()
net = nethub.load(sys.argv[1])
write_network(net, sys.argv[2])
t2 = time.perf_counter()
res = nethub.simulate(sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"startup_s": t1 - t0, "build_s": t2 - t1, "simulate_s": t3 - t2,
                  "timing": res.timing}))
"""


def _nodes(path: Path, pop: str, type_ids: np.ndarray) -> None:
    n = len(type_ids)
    with h5py.File(path, "w") as f:
        g = f.create_group(f"nodes/{pop}")
        g.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))
        g.create_dataset("node_type_id", data=type_ids.astype(np.uint32))
        g.create_dataset("node_group_id", data=np.zeros(n, np.uint32))
        g.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint32))
        grp = g.create_group("0")
        rng = np.random.default_rng(1)
        for ax in "xyz":
            grp.create_dataset(ax, data=rng.uniform(0, 1000, n))
        grp.create_dataset("rotation_angle_zaxis", data=rng.uniform(0, 6.28, n))


def _edges(path: Path, name: str, src_pop: str, n_src: int, n_tgt: int, n: int,
           type_id: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tgt = np.sort(rng.integers(0, n_tgt, n)).astype(np.uint64)
    src = rng.integers(0, n_src, n).astype(np.uint64)
    with h5py.File(path, "w") as f:
        g = f.create_group(f"edges/{name}")
        g.create_dataset("source_node_id", data=src).attrs["node_population"] = src_pop
        g.create_dataset("target_node_id", data=tgt).attrs["node_population"] = "v1"
        g.create_dataset("edge_type_id", data=np.full(n, type_id, np.uint32))
        g.create_dataset("edge_group_id", data=np.zeros(n, np.uint16))
        g.create_dataset("edge_group_index", data=np.arange(n, dtype=np.uint32))
        grp = g.create_group("0")
        grp.create_dataset("syn_weight", data=rng.uniform(0.001, 0.01, n))
        grp.create_dataset("delay", data=np.round(rng.uniform(1.0, 3.0, n), 1))
        grp.create_dataset("nsyns", data=rng.integers(1, 5, n).astype(np.uint16))
        # BMTK's index spelling: target node -> one range of edge ids (edges sorted by target)
        starts = np.searchsorted(tgt, np.arange(n_tgt, dtype=np.uint64))
        ends = np.searchsorted(tgt, np.arange(n_tgt, dtype=np.uint64), side="right")
        t2s = g.create_group("indices/target_to_source")
        t2s.create_dataset("node_id_to_range", data=np.c_[np.arange(n_tgt), np.arange(n_tgt) + 1]
                           .astype(np.uint64))
        t2s.create_dataset("range_to_edge_id", data=np.c_[starts, ends].astype(np.uint64))


def make_circuit(folder: Path, scale: float) -> Path:
    """The synthetic circuit; returns its simulation config."""
    n_v1, n_lgn = int(90_000 * scale), int(10_000 * scale)
    n_rec, n_inp = int(9_000_000 * scale), int(1_000_000 * scale)
    net = folder / "network"
    comp = folder / "components"
    net.mkdir(parents=True)
    (comp / "point").mkdir(parents=True)
    (comp / "syn").mkdir()
    (comp / "point" / "exc.json").write_text(json.dumps({"tau": 0.02, "refrac": 0.003}))
    (comp / "point" / "inh.json").write_text(json.dumps({"tau": 0.007, "refrac": 0.002}))
    (comp / "syn" / "exc.json").write_text(json.dumps({"sign": 1}))
    types = np.where(np.arange(n_v1) % 5 == 4, 101, 100)
    _nodes(net / "v1_nodes.h5", "v1", types)
    (net / "v1_node_types.csv").write_text(
        "node_type_id model_type model_template dynamics_params ei\n"
        "100 point_process nrn:IntFire1 exc.json e\n101 point_process nrn:IntFire1 inh.json i\n")
    _nodes(net / "lgn_nodes.h5", "lgn", np.full(n_lgn, 200))
    (net / "lgn_node_types.csv").write_text("node_type_id model_type\n200 virtual\n")
    _edges(net / "v1_v1_edges.h5", "v1_to_v1", "v1", n_v1, n_v1, n_rec, 1, 2)
    _edges(net / "lgn_v1_edges.h5", "lgn_to_v1", "lgn", n_lgn, n_v1, n_inp, 2, 3)
    (net / "edge_types.csv").write_text(
        "edge_type_id dynamics_params weight_function\n1 exc.json wmax\n2 exc.json wmax\n")
    rng = np.random.default_rng(4)
    ids = rng.integers(0, n_lgn, 20 * n_lgn)
    with h5py.File(folder / "lgn_spikes.h5", "w") as f:
        g = f.create_group("spikes/lgn")
        g.create_dataset("node_ids", data=ids.astype(np.uint64))
        g.create_dataset("timestamps", data=np.sort(rng.uniform(0, 1000, ids.size)))
    circuit = {"components": {"point_neuron_models_dir": str(comp / "point"),
                              "synaptic_models_dir": str(comp / "syn")},
               "networks": {"nodes": [{"nodes_file": str(net / f"{p}_nodes.h5"),
                                       "node_types_file": str(net / f"{p}_node_types.csv")}
                                      for p in ("v1", "lgn")],
                            "edges": [{"edges_file": str(net / f"{e}_edges.h5"),
                                       "edge_types_file": str(net / "edge_types.csv")}
                                      for e in ("v1_v1", "lgn_v1")]}}
    (folder / "circuit_config.json").write_text(json.dumps(circuit))
    sim = {"network": str(folder / "circuit_config.json"),
           "run": {"tstop": 1000.0, "dt": 0.1}, "conditions": {"celsius": 34.0},
           "inputs": {"lgn": {"input_type": "spikes", "module": "sonata",
                              "input_file": str(folder / "lgn_spikes.h5"), "node_set": "lgn"}},
           "output": {"output_dir": str(folder / "output")}}
    (folder / "simulation_config.json").write_text(json.dumps(sim))
    return folder / "simulation_config.json"


def _child(code: str, *args: str, cwd: Path | None = None) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False, cwd=cwd)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def bench_import(scale: float, keep: Path | None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="sonata_bench_", dir=keep))
    try:
        t0 = time.perf_counter()
        config = make_circuit(folder, scale)
        made = time.perf_counter() - t0
        out = _child(IMPORT_CHILD, str(config), str(folder / "model.h5"))
        out["generate_s"] = made
        out["store_mb"] = (folder / "model.h5").stat().st_size / 1e6
        return out
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


NETPYNE_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from netpyne.conversion.sonataImport import SONATAImporter
from netpyne import sim
t1 = time.perf_counter()
SONATAImporter().importNet(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_map_s": t2 - t1, "cells": len(sim.net.cells),
                  "connections": sum(len(c.conns) for c in sim.net.cells),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _bio_builder():
    spec = importlib.util.spec_from_file_location("sonata_bio", ROOT / "benchmarks/sonata_bio.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _netpyne_dialect(src: Path, dst: Path) -> Path:
    """A copy of ``src`` that NetPyNE's importer reads (see the module docstring)."""
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "simulation_config.json").read_text())
    cfg["manifest"]["$BASE_DIR"] = str(dst)
    (dst / "simulation_config.json").write_text(json.dumps(cfg))
    (dst / "config.json").write_text(json.dumps({"network": "simulation_config.json",
                                                 "simulation": "simulation_config.json"}))
    types = dst / "network" / "bio_node_types.csv"
    types.write_text(types.read_text().replace("cell_a.swc", "cell_a"))
    for csv in (dst / "network").glob("*edge_types.csv"):
        csv.write_text(csv.read_text().replace("', '", "','").replace(", ", ",")
                       .replace(" exp2syn", " Exp2Syn"))
    with h5py.File(dst / "inputs" / "inp_spikes.h5") as f:
        ids, times = f["spikes/inp/node_ids"][()], f["spikes/inp/timestamps"][()]
    with h5py.File(dst / "inputs" / "inp_spikes.h5", "w") as f:
        f["spikes/gids"], f["spikes/timestamps"] = ids.astype(np.uint64), times
    mods = dst / "components" / "mechanisms" / "modfiles"
    mods.mkdir()
    for mod in [*(dst / "components" / "mechanisms").glob("*.mod"),
                ROOT / "hub" / "sim" / "mod" / "vecevent.mod"]:
        shutil.copy(mod, mods)
    subprocess.run(["nrnivmodl", "."], cwd=mods, check=True, capture_output=True)
    return dst / "config.json"


def bench_vs_netpyne(n_cells: int) -> dict:
    """NetPyNE's and nethub's SONATA import of one biophysical circuit, each in a child."""
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "circuit"
        ours.mkdir()
        _bio_builder().build(ours, n_cells, n_cells, 200.0)
        for path in (ours / "network").glob("*_edges.h5"):
            with h5py.File(path, "r+") as f:
                for pop in f["edges"].values():
                    m = len(pop["edge_group_index"])
                    pop["0"]["sec_id"] = np.zeros(m, np.int64)
                    pop["0"]["sec_x"] = np.full(m, 0.5)
        theirs = _netpyne_dialect(ours, Path(tmp) / "netpyne")
        mine = _child(IMPORT_CHILD, str(ours / "simulation_config.json"), str(Path(tmp) / "m.h5"))
        npy = _child(NETPYNE_CHILD, str(theirs), cwd=theirs.parent)
    return {"nethub": mine, "netpyne": npy,
            "speedup": (npy["read_map_s"]) / (mine["read_map_s"] + mine["write_s"])}


def _spike_set(pops, ids, times) -> set:
    return set(zip(list(pops), np.asarray(ids).tolist(), np.round(times, 6).tolist()))


def bench_vs_bmtk() -> dict:
    sys.path.insert(0, str(ROOT))
    from nethub.formats.sonata import read_spikes, spikes_by_node

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(FIXTURES / "300_intfire_full", Path(tmp) / "300_intfire_full")
        shutil.copytree(FIXTURES / "shared_components", Path(tmp) / "shared_components")
        folder = Path(tmp) / "300_intfire_full"
        doc = json.loads((folder / "simulation_config.json").read_text())
        doc["network"] = str(folder / "circuit_config.json")
        doc["output"]["output_dir"] = str(Path(tmp) / "bmtk_out")
        (folder / "bmtk_sim.json").write_text(json.dumps(doc))
        bmtk = _child(BMTK_CHILD, str(folder / "bmtk_sim.json"), cwd=folder)  # BMTK: cwd paths
        ours = _child(NETHUB_CHILD, str(folder / "config.json"), str(folder / "model.h5"))
        ref = read_spikes(Path(tmp) / "bmtk_out" / "spikes.h5")["v1"]
        got = spikes_by_node(folder / "model.h5")
        same = _spike_set(["v1"] * len(ref), ref.node_ids, ref.timestamps) == _spike_set(
            got["population"], got["node_id"], got["timestamp"])
    return {"bmtk": bmtk, "nethub": ours, "identical_spikes": same, "n_spikes": len(ref)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--keep", type=Path, default=None, help="keep the circuit in DIR")
    p.add_argument("--no-bmtk", action="store_true")
    p.add_argument("--no-import", action="store_true")
    p.add_argument("--vs-netpyne", type=int, default=0, metavar="N",
                   help="only: NetPyNE's importer vs nethub's on N biophysical cells + N inputs")
    args = p.parse_args()
    if args.vs_netpyne:
        sys.stdout.write(json.dumps(bench_vs_netpyne(args.vs_netpyne), indent=1) + "\n")
        return
    report = {"scale": args.scale}
    if not args.no_import:
        imp = bench_import(args.scale, args.keep)
        report["import"] = imp
        t = imp["read_map_s"] + imp["write_s"]
        report["import_goal"] = (f"{'PASS' if t < 60 * args.scale else 'FAIL'} "
                                 f"{t:.1f} s for {imp['cells']} nodes / {imp['connections']} "
                                 f"edges, peak RSS {imp['peak_rss_mb']:.0f} MB")
    if not args.no_bmtk:
        vs = bench_vs_bmtk()
        report["vs_bmtk"] = vs
        b, n = vs["bmtk"], vs["nethub"]
        report["vs_bmtk_summary"] = (
            f"BMTK build {b['build_s']:.2f} s + simulate {b['simulate_s']:.2f} s; nethub "
            f"import+store {n['build_s']:.2f} s + simulate {n['simulate_s']:.2f} s; "
            f"identical spikes: {vs['identical_spikes']} ({vs['n_spikes']})")
    sys.stdout.write(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
