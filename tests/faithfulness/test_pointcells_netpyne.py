"""Point cells: nethub's per-cell parameters and VecStim spike trains equal NetPyNE's, exactly.

One spec uses every point-cell feature (NetStim/VecStim/IntFire rates as numbers, ``[min, max]``
and string functions, interval/rate order, cellParams rules, cellsList, dynamicRates 1-D/2-D,
spkTimes 1-D/2-D, pulses, every spikePattern). NetPyNE 1.1 builds it with ``sim.create`` (and
``sim.preRun``, which seeds each NetStim's noise) in a subprocess, with the VecStim mechanism
compiled from NEURON's ``vecevent.mod``; the subprocess dumps each cell's ``params``, the values
on its NEURON object (``hPointp``), the played spike vector (``hSpkTimes``), the dynamic-rate
vectors and the NetStim's noise stream ids (``ranvar.get_ids()``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nethub.builder import build

POPS = {
    "ns_fixed": {"cellModel": "NetStim", "numCells": 4, "rate": 10, "noise": 0.5, "start": 5},
    "ns_range": {"cellModel": "NetStim", "numCells": 5, "rate": [5, 15], "noise": 0.3,
                 "number": 20, "seed": 7},
    "ns_ir": {"cellModel": "NetStim", "numCells": 2, "params": {"interval": 20, "rate": 30}},
    "ns_ri": {"cellModel": "NetStim", "numCells": 2, "params": {"rate": 30, "interval": 20}},
    "ns_rule": {"cellType": "NSrule", "numCells": 4},
    "ns_both": {"cellModel": "NetStim", "cellType": "NSrule", "numCells": 2, "rate": 12},
    "ns_expr": {"cellModel": "NetStim", "numCells": 4, "rate": "5 + 10*ynorm",
                "noise": "uniform(0.1, 0.9)", "start": "normal(20, 4)"},
    "ns_list": {"cellModel": "NetStim",
                "cellsList": [{"x": 10, "y": 20, "z": 30, "params": {"rate": [5, 10]}},
                              {"x": 40, "y": 50, "z": 60,
                               "params": {"rate": [20, 30], "noise": 0.5}}]},
    "ns_many": {"cellModel": "NetStim", "numCells": 150, "rate": [1, 100], "noise": 1,
                "seed": 4},
    "dyn2": {"cellModel": "NetStim", "numCells": 3,
             "dynamicRates": {"rates": [[10, 0, 30], [5, 6, -1], [1, 2, 3]],
                              "times": [0, 100, 200]}},
    "dyn1": {"cellModel": "NetStim", "numCells": 2,
             "dynamicRates": {"rates": [10, 20], "times": [0, 500]}},
    "if1": {"cellModel": "IntFire1", "numCells": 2, "tau": 5, "refrac": 2},
    "if4": {"cellModel": "IntFire4", "numCells": 2, "params": {"taue": 3, "taui1": 7}},
    "E": {"cellType": "PYR", "numCells": 2},
    "vs_int": {"cellModel": "VecStim", "numCells": 3, "rate": 20, "noise": 0, "start": 10},
    "vs_noise": {"cellModel": "VecStim", "numCells": 5, "rate": [10, 40], "noise": 0.5,
                 "start": 3},
    "vs_many": {"cellModel": "VecStim", "numCells": 150, "rate": [2, 60], "noise": 0.8},
    "vs_long": {"cellModel": "VecStim", "numCells": 3, "interval": 5, "noise": 0.4, "seed": 11},
    "vs_pulses": {"cellModel": "VecStim", "numCells": 4, "spkTimes": [1, 50.5, -3, 950, 20],
                  "pulses": [{"start": 100, "end": 300, "rate": [20, 50], "noise": 0.3},
                             {"start": 400, "end": 500, "rate": 100},
                             {"start": 600, "end": 700, "interval": 15, "noise": 0.5}]},
    "vs_spk2d": {"cellModel": "VecStim", "numCells": 3,
                 "spkTimes": [[5, 1, 3], [], [2000, 7]]},
    "vs_list": {"cellModel": "VecStim",
                "cellsList": [{"x": 1, "y": 2, "z": 3, "spkTimes": [3, 1, 2]},
                              {"x": 4, "y": 5, "z": 6, "spkTimes": [9],
                               "params": {"interval": 50, "start": 5}}]},
    "vs_rhythmic": {"cellModel": "VecStim", "numCells": 3,
                    "spikePattern": {"type": "rhythmic", "start": -1, "stop": 800, "freq": 8,
                                     "freqStd": 3, "repeats": 2, "eventsPerCycle": 2}},
    "vs_rhythmic_u": {"cellModel": "VecStim", "numCells": 3,
                      "spikePattern": {"type": "rhythmic", "start": 50, "startStd": 5,
                                       "stop": 700, "freq": 10, "repeats": 3,
                                       "distribution": "uniform", "eventsPerCycle": 1}},
    "vs_rhythmic_s": {"cellModel": "VecStim", "numCells": 2,
                      "spikePattern": {"type": "rhythmic", "start": 50, "startStd": 9,
                                       "stop": 600, "freq": 20, "freqStd": 2, "repeats": 1}},
    "vs_evoked": {"cellModel": "VecStim", "numCells": 3,
                  "spikePattern": {"type": "evoked", "start": 100, "startStd": 20,
                                   "numspikes": 5}},
    "vs_evoked0": {"cellModel": "VecStim", "numCells": 2,
                   "spikePattern": {"type": "evoked", "start": 100, "startStd": 0,
                                    "numspikes": 3}},
    "vs_poisson": {"cellModel": "VecStim", "numCells": 100,
                   "spikePattern": {"type": "poisson", "start": 50, "stop": -1,
                                    "frequency": 30}},
    "vs_gauss": {"cellModel": "VecStim", "numCells": 3,
                 "spikePattern": {"type": "gauss", "mu": 200, "sigma": 100, "sync": True}},
    "vs_rule": {"cellType": "VSrule", "numCells": 2},
}
CELL_PARAMS = {
    "NSrule": {"cellModel": "NetStim",
               "params": {"rate": "uniform(5, 10)", "noise": 0.2, "start": "x/10"}},
    "VSrule": {"cellModel": "VecStim",
               "params": {"spikePattern": {"type": "poisson", "start": 0, "stop": 300,
                                           "frequency": 50}, "seed": 9}},
    "PYR": {"secs": {"soma": {"geom": {"L": 18.8, "diam": 18.8}, "mechs": {"hh": {}}}}},
}
NET_PARAMS = {"popParams": POPS, "cellParams": CELL_PARAMS, "sizeX": 200, "sizeY": 300}
SIM_CONFIG = {"duration": 900, "random123": True,
              "seeds": {"conn": 1, "stim": 3, "loc": 2, "cell": 5}}
#: NEURON object attributes compared with the params.* columns
HOC_ATTRS = ("interval", "number", "start", "noise", "tau", "refrac", "taue", "taui1")

# NEURON's nrn/share/examples/nrniv/netcon/vecevent.mod (as shipped with NetPyNE's tutorials)
VECEVENT_MOD = r"""
NEURON {
	THREADSAFE
	ARTIFICIAL_CELL VecStim
	POINTER ptr
}
ASSIGNED {
	index
	etime (ms)
	ptr
}
INITIAL {
	index = 0
	element()
	if (index > 0) {
		net_send(etime - t, 1)
	}
}
NET_RECEIVE (w) {
	if (flag == 1) {
		net_event(t)
		element()
		if (index > 0) {
			net_send(etime - t, 1)
		}
	}
}
DESTRUCTOR {
VERBATIM
	void* vv = (void*)(_p_ptr);
	if (vv) {
		hoc_obj_unref(*vector_pobj(vv));
	}
ENDVERBATIM
}
PROCEDURE element() {
VERBATIM
  { void* vv; int i, size; double* px;
	i = (int)index;
	if (i >= 0) {
		vv = (void*)(_p_ptr);
		if (vv) {
			size = vector_capacity(vv);
			px = vector_vec(vv);
			if (i < size) {
				etime = px[i];
				index += 1.;
			}else{
				index = -1.;
			}
		}else{
			index = -1.;
		}
	}
  }
ENDVERBATIM
}
PROCEDURE play() {
VERBATIM
	void** pv;
	void* ptmp = NULL;
	if (ifarg(1)) {
		ptmp = vector_arg(1);
		hoc_obj_ref(*vector_pobj(ptmp));
	}
	pv = (void**)(&_p_ptr);
	if (*pv) {
		hoc_obj_unref(*vector_pobj(*pv));
	}
	*pv = ptmp;
ENDVERBATIM
}
"""

DUMP = r'''
import contextlib, io, json, sys
spec = json.load(open(sys.argv[1]))
from neuron import h
if not hasattr(h, "VecStim"):
    h.nrn_load_dll(sys.argv[2])
from netpyne import sim, specs
with contextlib.redirect_stdout(io.StringIO()):
    sim.create(netParams=specs.NetParams(spec["netParams"]),
               simConfig=specs.SimConfig(spec["simConfig"]))
    sim.preRun()

def plain(v):
    if isinstance(v, (str, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return float(v)

out = []
for c in sim.net.cells:
    d = {"gid": c.gid, "pop": c.tags["pop"], "model": c.tags.get("cellModel")}
    own = c.__dict__  # PointCell.__getattr__ answers every name: look into __dict__
    if "hPointp" in own:
        d["params"] = plain(dict(c.params))
        d["hoc"] = {a: getattr(c.hPointp, a) for a in sys.argv[3].split(",")
                    if hasattr(c.hPointp, a)}
    if "hSpkTimes" in own:
        d["spkTimes"] = list(c.hSpkTimes)
    if "hVectorIntervals" in own:
        d["intervals"], d["times"] = list(c.hVectorIntervals), list(c.hVectorTimes)
    if d["model"] == "NetStim":
        d["noise_ids"] = list(c.hPointp.ranvar.get_ids())
    out.append(d)
print(json.dumps(out))
'''


def _env() -> dict[str, str]:
    """This environment without what would make the child an MPI rank."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI", "OMPI_", "HYDRA_", "MPI_LOCAL"))}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _compile_vecstim(folder: Path) -> Path:
    (folder / "vecevent.mod").write_text(VECEVENT_MOD)
    nrnivmodl = shutil.which("nrnivmodl") or str(Path(sys.executable).parent / "nrnivmodl")
    proc = subprocess.run([nrnivmodl], cwd=folder, capture_output=True, text=True, env=_env(),
                          check=False)
    libs = sorted(folder.glob("*/libnrnmech.so")) + sorted(folder.glob("*/.libs/libnrnmech.so"))
    assert proc.returncode == 0 and libs, proc.stdout[-2000:] + proc.stderr[-2000:]
    return libs[0]


@pytest.fixture(scope="module")
def netpyne_cells(tmp_path_factory) -> dict[int, dict]:
    """NetPyNE's cells by gid."""
    folder = tmp_path_factory.mktemp("pointcells")
    (folder / "mod").mkdir()
    lib = _compile_vecstim(folder / "mod")
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"netParams": NET_PARAMS, "simConfig": SIM_CONFIG}))
    (folder / "dump.py").write_text(DUMP)
    proc = subprocess.run([sys.executable, str(folder / "dump.py"), str(spec), str(lib),
                           ",".join(HOC_ATTRS)], capture_output=True, text=True, cwd=folder,
                          env=_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    cells = json.loads(proc.stdout.strip().splitlines()[-1])
    return {c["gid"]: c for c in cells}


@pytest.fixture(scope="module")
def network():
    return build(NET_PARAMS, SIM_CONFIG)


def _row_of(network) -> dict[int, int]:
    return {int(g): i for i, g in enumerate(np.asarray(network.cells["gid"]))}


def _scalar(network, name: str, row: int) -> float:
    return float(network.cells[name][row]) if name in network.cells else float("nan")


def test_same_cells(network, netpyne_cells):
    pops = network.cells["pop"].values()
    assert sorted(netpyne_cells) == sorted(_row_of(network))
    for gid, row in _row_of(network).items():
        assert netpyne_cells[gid]["pop"] == pops[row]


def test_vecstim_spike_trains(network, netpyne_cells):
    trains = network.cells["params.spkTimes"]
    total = 0
    for gid, row in _row_of(network).items():
        ref = netpyne_cells[gid]
        want = np.asarray(ref.get("spkTimes", []), dtype=np.float64)
        assert np.array_equal(trains.row(row), want), (ref["pop"], gid)
        assert ("spkTimes" in ref) == (ref["model"] == "VecStim")
        total += len(want)
    assert total > 5000


def test_neuron_object_values(network, netpyne_cells):
    """interval, number, start, noise, tau, ... as set on the NEURON objects."""
    checked = 0
    for gid, row in _row_of(network).items():
        ref = netpyne_cells[gid]
        if ref["model"] == "VecStim" or "hoc" not in ref:
            continue
        for attr, value in ref["hoc"].items():
            mine = _scalar(network, f"params.{attr}", row)
            if np.isnan(mine):  # not set: the mechanism's default must be left alone
                assert attr not in ref["params"], (ref["pop"], attr)
                continue
            assert mine == value, (ref["pop"], gid, attr)
            checked += 1
    assert checked > 400


def test_cell_params(network, netpyne_cells):
    """NetPyNE's ``cell.params``: drawn rates, seeds, VecStim intervals."""
    string_rate = {"ns_rule", "ns_both", "ns_expr"}  # NetPyNE keeps the string/old value there
    for gid, row in _row_of(network).items():
        ref = netpyne_cells[gid]
        params = ref.get("params", {})
        for key in ("rate", "seed", "interval", "noise", "start"):
            value = params.get(key)
            if not isinstance(value, float) or (key == "rate" and ref["pop"] in string_rate):
                continue
            if key == "interval" and ref["model"] == "NetStim":
                continue  # cell.params keeps 1000/rate, the NetStim may hold a later interval
            assert _scalar(network, f"params.{key}", row) == value, (ref["pop"], gid, key)


def test_netstim_noise_streams(network, netpyne_cells):
    ids = network.cells["params.noise_ids"]
    for gid, row in _row_of(network).items():
        ref = netpyne_cells[gid]
        assert ids.row(row).tolist() == ref.get("noise_ids", []), (ref["pop"], gid)


def test_dynamic_rates(network, netpyne_cells):
    intervals = network.cells["params.dynamicRates.intervals"]
    times = network.cells["params.dynamicRates.times"]
    n = 0
    for gid, row in _row_of(network).items():
        ref = netpyne_cells[gid]
        assert intervals.row(row).tolist() == ref.get("intervals", [])
        assert times.row(row).tolist() == ref.get("times", [])
        n += "intervals" in ref
    assert n == 5
