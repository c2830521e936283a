"""Shared helpers of the export tests: one cell of a cell type simulated by nethub under a current
clamp, and the same clamp on an exported template in plain NEURON (a subprocess that imports
NEURON and not nethub)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import nethub
from nethub.celltypes import CompartmentalCell
from nethub.nmodl.compile import compiled_library
from nethub.runner import simulate

HERE = Path(__file__).parent
TUTORIALS = HERE.parents[1] / "fixtures" / "specs" / "netpyne_tutorials"
CLAMP = {"del": 5.0, "dur": 30.0, "amp": 2.0}
DT, TSTOP, STEP, V_INIT = 0.025, 50.0, 0.1, -65.0
MPI_VARS = ("PMI_", "HYDRA_", "OMPI_", "MPI_LOCAL")


def serial_env() -> dict[str, str]:
    """This environment without what makes a child process an MPI rank."""
    return {k: v for k, v in os.environ.items() if not k.startswith(MPI_VARS)}


def clamp_network(cell: CompartmentalCell, mod_files: dict[str, str] | None = None,
                  sec: str = "soma") -> nethub.Network:
    """One cell of type ``cell`` (named T), a current clamp on ``sec(0.5)``, its trace recorded."""
    spec = {
        "popParams": {"C": {"cellType": "T", "numCells": 1}},
        "cellParams": {"T": {"secs": {"soma": {"geom": {"L": 10.0, "diam": 10.0}}}}},
        "stimSourceParams": {"ic": {"type": "IClamp", **CLAMP}},
        "stimTargetParams": {"ic->C": {"source": "ic", "conds": {"pop": "C"}, "sec": sec,
                                       "loc": 0.5}},
    }
    cfg = {"duration": TSTOP, "dt": DT, "recordStep": STEP, "hParams": {"v_init": V_INIT},
           "recordTraces": {"V": {"sec": sec, "loc": 0.5, "var": "v"}},
           "recordCells": ["C"]}
    net = nethub.build(spec, cfg)
    return net.replace(cell_types={"T": cell}, mod_files={**net.mod_files, **(mod_files or {})})


def nethub_trace(net: nethub.Network, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(soma trace, spike times) of gid 0 simulated by nethub."""
    res = simulate(net, output=tmp_path / "nethub.h5", trusted=True, overwrite=True)
    return np.asarray(res.traces.data[0]), np.asarray(res.spike_times)


def plain_trace(template: Path, name: str, net: nethub.Network, sec: str = "soma") -> dict:
    """The exported template run in plain NEURON at nethub's position of gid 0."""
    cells = net.cells
    pos = [float(cells["x"][0]), -float(cells["y"][0]), float(cells["z"][0])]  # invert_y
    lib = str(compiled_library(net.mod_files, trusted=True)) if net.mod_files else ""
    req = {"template": str(template), "name": name, "library": lib, "pos": pos, "sec": sec,
           "clamp": CLAMP, "dt": DT, "tstop": TSTOP, "record_step": STEP, "v_init": V_INIT}
    req_path = template.with_suffix(".req.json")
    req_path.write_text(json.dumps(req))
    proc = subprocess.run([sys.executable, str(HERE / "plain_template_run.py"), str(req_path)],
                          capture_output=True, text=True, env=serial_env(), check=False,
                          cwd=template.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_run(got: tuple[np.ndarray, np.ndarray], ref: dict) -> None:
    """Traces within 1e-9 mV over the common length; the same spikes."""
    v, spikes = got
    ref_v = np.asarray(ref["v"])
    n = min(len(v), len(ref_v))
    assert n >= int(TSTOP / STEP)
    np.testing.assert_allclose(v[:n], ref_v[:n], rtol=0, atol=1e-9)
    np.testing.assert_allclose(spikes, ref["spikes"], rtol=0, atol=1e-9)
