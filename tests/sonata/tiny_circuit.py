"""A tiny point-neuron SONATA circuit (written with nethub's SONATA writers) and a BMTK run of
it in a child process (BMTK and nethub must not share one NEURON in a process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from nethub.formats.sonata import EdgePopulation, NodePopulation, write_circuit, write_spikes

#: BMTK's bionet run of a simulation config, as its examples run it (``run_bionet.py``).
#: VecStim (BMTK's virtual cells) comes from nethub's bundled vecevent.mod, compiled by nethub.
BMTK_RUN = """
import sys
from pathlib import Path
from neuron import h
import nethub.sim
from nethub.nmodl.compile import compile_mod_files
mod = Path(nethub.sim.__file__).parent / "mod" / "vecevent.mod"
h.nrn_load_dll(str(compile_mod_files({"vecevent.mod": mod.read_text()})))
from bmtk.simulator import bionet
conf = bionet.Config.from_json(sys.argv[1], validate=True)
conf.build_env()
net = bionet.BioNetwork.from_config(conf)
bionet.BioSimulator.from_config(conf, network=net).run()
"""


def _nodes(name: str, type_ids: list[int], types: pd.DataFrame, attrs: dict) -> NodePopulation:
    n = len(type_ids)
    return NodePopulation(name, np.arange(n, dtype=np.int64), np.asarray(type_ids, np.int64),
                          np.zeros(n, np.int64), np.arange(n, dtype=np.int64),
                          pd.DataFrame(attrs), pd.DataFrame(index=range(n)),
                          types.set_index("node_type_id"))


def _edges(name: str, src: str, tgt: str, pairs: list[tuple[int, int, int]], types: pd.DataFrame,
           attrs: dict) -> EdgePopulation:
    a = np.asarray(pairs, np.int64)
    n = len(a)
    return EdgePopulation(name, src, tgt, a[:, 0], a[:, 1], a[:, 2], np.zeros(n, np.int64),
                          np.arange(n, dtype=np.int64), pd.DataFrame(attrs),
                          pd.DataFrame(index=range(n)), types.set_index("edge_type_id"))


def write_tiny_circuit(out: Path, recurrent_nsyns: bool = True) -> Path:
    """Four IntFire1 cells (two excitatory, two inhibitory) driven by three virtual cells;
    returns the simulation config. Without ``recurrent_nsyns`` the recurrent edges have no
    ``nsyns`` (BMTK then takes their syn_weight as the weight, sign and all)."""
    comp = out / "components"
    (comp / "point").mkdir(parents=True)
    (comp / "syn").mkdir()
    (comp / "point" / "exc.json").write_text(json.dumps({"tau": 0.012, "refrac": 0.003}))
    (comp / "point" / "inh.json").write_text(json.dumps({"tau": 0.006, "refrac": 0.002}))
    (comp / "syn" / "exc.json").write_text(json.dumps({"sign": 1}))
    (comp / "syn" / "inh.json").write_text(json.dumps({"sign": -1}))
    cell_types = pd.DataFrame({"node_type_id": [1, 2], "model_type": "point_process",
                               "model_template": "nrn:IntFire1",
                               "dynamics_params": ["exc.json", "inh.json"],
                               "ei": ["e", "i"]})
    nodes = {
        "net": _nodes("net", [1, 1, 2, 2], cell_types,
                      {"x": [0.0, 10.0, 20.0, 30.0], "rotation_angle_zaxis": [0, .5, 1., 1.5],
                       "rotation_angle_xaxis": [.1, .2, .3, .4]}),
        "inp": _nodes("inp", [9, 9, 9], pd.DataFrame({"node_type_id": [9],
                                                      "model_type": "virtual"}), {}),
    }
    syn = pd.DataFrame({"edge_type_id": [1, 2], "dynamics_params": ["exc.json", "inh.json"],
                        "weight_function": "wmax", "delay": [2.0, 1.0]})
    edges = {
        "inp_to_net": _edges("inp_to_net", "inp", "net",
                             [(0, 0, 1), (0, 1, 1), (1, 1, 1), (1, 2, 1), (2, 3, 1), (2, 0, 1)],
                             syn, {"syn_weight": [0.6, 0.5, 0.7, 0.9, 1.1, 0.4],
                                   "nsyns": [2, 1, 2, 1, 1, 3]}),
        "net_to_net": _edges("net_to_net", "net", "net",
                             [(0, 2, 1), (1, 3, 1), (2, 0, 2), (3, 1, 2), (0, 1, 1)],
                             syn, {"syn_weight": [0.8, 0.8, 0.3, 0.2, 0.45],
                                   "nsyns": [1, 1, 2, 1, 1], "delay": [1.5, 2.5, 1.0, 3.0, 2.0]}
                             if recurrent_nsyns else
                             {"syn_weight": [0.8, 0.8, -0.6, -0.2, 0.45],
                              "delay": [1.5, 2.5, 1.0, 3.0, 2.0]}),
    }
    rng = np.random.default_rng(7)
    ids = np.repeat([0, 1, 2], 12)
    times = np.round(rng.uniform(1.0, 190.0, ids.size), 1)
    write_spikes(out / "input_spikes.h5", {"inp": (ids, times)})
    sim = {"run": {"tstop": 200.0, "dt": 0.025, "spike_threshold": -15.0,
                   "nsteps_block": 1000},
           "conditions": {"celsius": 34.0, "v_init": -80.0},
           "inputs": {"inp_spikes": {"input_type": "spikes", "module": "sonata",
                                     "input_file": str(out / "input_spikes.h5"),
                                     "node_set": "inp"}},
           "output": {"output_dir": str(out / "output"), "spikes_file": "spikes.h5",
                      "log_file": "log.txt"}}
    return write_circuit(out / "circuit", nodes, edges,
                         components={"point_neuron_models_dir": str(comp / "point"),
                                     "synaptic_models_dir": str(comp / "syn")},
                         simulation=sim)


def run_bmtk(config: Path, timeout: float = 60.0) -> None:
    """Run BMTK's bionet on ``config`` in a child process."""
    subprocess.run([sys.executable, "-c", BMTK_RUN, str(config)], check=True, timeout=timeout,
                   cwd=config.parent, capture_output=True)
