"""nethub vs BMTK 1.2 on a biophysical SONATA circuit: build + simulate, side by side.

    .venv/bin/python benchmarks/sonata_bio.py [--cells 100] [--inputs 100] [--tstop 500]

A circuit of ``--cells`` biophysical cells (the synthetic morphology and aibs_perisomatic
parameters of ``fixtures/sonata/bio/make_bio.py``, random rotations) and ``--inputs`` virtual
Poisson inputs is made with BMTK's builder in a scratch folder; edges input -> bio (2-5
synapses each on basal/apical segments drawn by distance range) and bio -> bio (p = 0.1,
2 synapses on the apical tree). BMTK builds and simulates it (own process); nethub imports
(``read_circuit`` + ``sonata_to_network``, morphologies through its child process) and
simulates it (own process too, one rank). Both times exclude compiling the mechanisms
(cached on both sides). Prints the times, the CPU seconds of each side's process (less
inflated than wall-clock times by the load of a shared machine), the load average, and whether
the spikes are identical; goal (issue 12): >= 5x faster than BMTK on the same circuit with
identical spikes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_bio",
                                               ROOT / "fixtures/sonata/bio/make_bio.py")
make_bio = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_bio)

BMTK_RUN = """
import json, sys, time
from neuron import h
h.nrn_load_dll(sys.argv[2])
from bmtk.simulator import bionet
t0 = time.perf_counter()
conf = bionet.Config.from_json(sys.argv[1], validate=True)
conf.build_env()
net = bionet.BioNetwork.from_config(conf)
sim = bionet.BioSimulator.from_config(conf, network=net)
t1 = time.perf_counter()
sim.run()
t2 = time.perf_counter()
print("TIMES", json.dumps({"build": t1 - t0, "simulate": t2 - t1}))
"""

NETHUB_RUN = """
import json, sys, time
import numpy as np
t0 = time.perf_counter()
from nethub.formats.sonata import read_circuit
from nethub.converters.sonata import sonata_to_network, sonata_run_config
from nethub.runner import simulate
c = read_circuit(sys.argv[1])
net, lost = sonata_to_network(c)
t1 = time.perf_counter()
rc = sonata_run_config(c.config.section("run"), c.config.section("conditions"))
res = simulate(net, rc)
t2 = time.perf_counter()
np.savez(sys.argv[2], t=res.spike_times, g=res.spike_gids)
print("TIMES", json.dumps({"build": t1 - t0, "simulate": t2 - t1,
                           "engine": res.meta.get("engine"),
                           "engine_reason": res.meta.get("engine_reason"),
                           "phases": {k: round(v, 2) for k, v in res.timing.items()}}))
"""


def build(folder: Path, n_cells: int, n_inputs: int, tstop: float) -> None:
    from bmtk.builder.networks import NetworkBuilder

    comp = folder / "components"
    make_bio.COMP = comp
    make_bio.HERE = folder
    make_bio.write_components()
    rng = np.random.default_rng(1)
    bio = NetworkBuilder("bio")
    bio.add_nodes(N=n_cells, x=rng.uniform(0, 500, n_cells), y=rng.uniform(0, 500, n_cells),
                  z=rng.uniform(0, 500, n_cells),
                  rotation_angle_yaxis=rng.uniform(0, 2 * np.pi, n_cells),
                  model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                  model_processing="aibs_perisomatic", morphology="cell_a.swc",
                  dynamics_params="cell_params.json")
    bio.add_edges(source=bio.nodes(), target=bio.nodes(),
                  connection_rule=lambda s, t: 2 if s.node_id != t.node_id and
                  (s.node_id * 7919 + t.node_id * 104729) % 10 == 0 else 0,
                  syn_weight=0.002, delay=2.0, target_sections=["apical"],
                  distance_range=[0.0, 200.0], dynamics_params="exc.json",
                  model_template="exp2syn")
    bio.build()
    bio.save(output_dir=str(folder / "network"))
    inp = NetworkBuilder("inp")
    inp.add_nodes(N=n_inputs, model_type="virtual")
    inp.add_edges(source=inp.nodes(), target=bio.nodes(),
                  connection_rule=lambda s, t: 2 + (s.node_id + t.node_id) % 4
                  if (s.node_id + 3 * t.node_id) % 10 == 0 else 0,
                  syn_weight=0.003, delay=1.0, target_sections=["basal", "apical"],
                  distance_range=[20.0, 300.0], dynamics_params="exc.json",
                  model_template="exp2syn")
    inp.build()
    inp.save(output_dir=str(folder / "network"))
    from bmtk.utils.reports.spike_trains import SpikeTrains

    st = SpikeTrains(population="inp")
    for nid in range(n_inputs):  # >= 2 spikes each (converters/sonata.py mishandles 1, see
        n = max(2, rng.poisson(15.0 * tstop / 1000.0))  # benchmarks/README.md)
        st.add_spikes(node_ids=nid, timestamps=np.sort(np.round(rng.uniform(1, tstop - 1, n),
                                                                 3)))
    (folder / "inputs").mkdir()
    st.to_sonata(str(folder / "inputs" / "inp_spikes.h5"))
    make_bio.TSTOP = tstop
    make_bio.write_config()
    cfg = json.loads((folder / "simulation_config.json").read_text())
    cfg["reports"] = {}
    (folder / "simulation_config.json").write_text(json.dumps(cfg, indent=1))


def _cpu() -> float:
    """CPU seconds (user + system) of this process's finished children (and theirs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(code: str, *args: str, cwd: Path) -> dict:
    """Run ``code`` in its own Python; its TIMES line plus ``cpu``: the CPU seconds of the
    whole process (imports and child processes included), which the load of a shared machine
    inflates less than the wall-clock times."""
    c0 = _cpu()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, check=False,
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    out = proc.stdout
    line = next(s for s in out.splitlines() if s.startswith("TIMES "))
    return {**json.loads(line[len("TIMES "):]), "cpu": _cpu() - c0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--inputs", type=int, default=100)
    ap.add_argument("--tstop", type=float, default=500.0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="nethub-bio-bench-") as tmp:
        folder = Path(tmp)
        build(folder, a.cells, a.inputs, a.tstop)
        mods = folder / "modbuild"
        shutil.copytree(folder / "components" / "mechanisms", mods)
        shutil.copy(ROOT / "hub" / "sim" / "mod" / "vecevent.mod", mods)
        subprocess.run(["nrnivmodl", "."], cwd=mods, check=True, capture_output=True)
        lib = str(next(mods.glob("*/libnrnmech.so")))
        cfg = str(folder / "simulation_config.json")
        # warm nethub's compile cache so that neither side pays compilation
        _timed(NETHUB_RUN, cfg, str(folder / "warm.npz"), cwd=folder)
        load0 = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        bm = _timed(BMTK_RUN, cfg, lib, cwd=folder)
        nh = _timed(NETHUB_RUN, cfg, str(folder / "nethub.npz"), cwd=folder)
        import h5py

        with h5py.File(folder / "output" / "spikes.h5") as f:
            ref = sorted(zip(f["spikes/bio/node_ids"][()].tolist(),
                             np.round(f["spikes/bio/timestamps"][()], 9).tolist()))
        got = np.load(folder / "nethub.npz")
        bio = got["g"] < a.cells  # bio is the first population; inputs' VecStims spike too
        mine = sorted(zip(got["g"][bio].tolist(), np.round(got["t"][bio], 9).tolist()))
        same = ref == mine
        tb, tn = bm["build"] + bm["simulate"], nh["build"] + nh["simulate"]
        print(f"circuit: {a.cells} biophysical cells, {a.inputs} inputs, {a.tstop:g} ms")
        for who, t, tot in (("BMTK  ", bm, tb), ("nethub", nh, tn)):
            print(f"{who} build {t['build']:.2f} s  simulate {t['simulate']:.2f} s  "
                  f"total {tot:.2f} s")
        print(f"CPU of each process: BMTK {bm['cpu']:.2f} s, nethub {nh['cpu']:.2f} s "
              f"({bm['cpu'] / nh['cpu']:.2f}x); load average {load0} before, "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} after")
        print(f"nethub engine: {nh.get('engine')} ({nh.get('engine_reason')}); simulate "
              f"phases (s): {nh.get('phases')}")
        print(f"speed-up {tb / tn:.2f}x  ({'PASS' if tb / tn >= 5 else 'FAIL'} >= 5x); "
              f"spikes: {len(ref)} BMTK, {len(mine)} nethub, "
              f"{'identical' if same else 'DIFFERENT'}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
