"""Helpers of the template faithfulness tests: the template run directly in NEURON (a
separate process, :mod:`reference_run`) and the imported cell type run by nethub, both under
the same current-clamp protocol."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import nethub
from nethub.runner import simulate

HERE = Path(__file__).parent
STEPS = [[10.0, 30.0, 0.15], [50.0, 40.0, 0.5]]
DT, TSTOP = 0.025, 100.0


def serial_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMPI_", "PMI", "PMIX_", "MPI_", "HYDRA_"))}


def reference(path, template, probe, args=(), kwargs=None, lib="", kind="hoc",
              celsius=6.3) -> np.ndarray:
    """Soma trace of the template instantiated and clamped in plain NEURON."""
    req = {"path": str(path), "template": template, "probe": probe, "args": list(args),
           "kwargs": dict(kwargs or {}), "lib": str(lib), "kind": kind, "steps": STEPS,
           "dt": DT, "tstop": TSTOP, "celsius": celsius}
    proc = subprocess.run([sys.executable, str(HERE / "reference_run.py"), json.dumps(req)],
                          capture_output=True, text=True, env=serial_env(), check=False,
                          cwd=Path(path).parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.array(json.loads(proc.stdout.strip().splitlines()[-1]))


def network(imported, probe: str, mode: str | None = None, celsius: float = 6.3):
    """A one-cell network of the imported cell type, clamped at ``probe`` with STEPS."""
    stims = {f"ic{i}": {"type": "IClamp", "del": d, "dur": u, "amp": a}
             for i, (d, u, a) in enumerate(STEPS)}
    spec = {
        "popParams": {"C": {"cellType": "T", "numCells": 1}},
        "cellParams": {"T": {"secs": {probe: {"geom": {"L": 10.0, "diam": 10.0}}}}},
        "stimSourceParams": stims,
        "stimTargetParams": {f"{k}->C": {"source": k, "conds": {"pop": "C"}, "sec": probe,
                                         "loc": 0.5} for k in stims},
    }
    net = nethub.build(spec, {"duration": TSTOP})
    ct = imported.cell_type if mode is None else dataclasses.replace(imported.cell_type,
                                                                     run_mode=mode)
    return net.replace(cell_types={"T": ct}, mod_files={**imported.mod_files},
                       files={**net.files, **imported.files})


def nethub_trace(tmp_path, imported, probe, mode=None, celsius=6.3, trusted=False):
    cfg = {"duration": TSTOP, "dt": DT, "recordStep": DT,
           "hParams": {"celsius": celsius, "v_init": -65},
           "recordTraces": {"V": {"sec": probe, "loc": 0.5, "var": "v"}},
           "recordCells": ["all"]}
    out = tmp_path / f"run-{mode}-{imported.cell_type.name}.h5"
    res = simulate(network(imported, probe, mode), cfg, output=out, trusted=trusted)
    return np.asarray(res.traces.data[0], dtype=float)


def assert_same(got: np.ndarray, ref: np.ndarray, atol: float = 1e-6) -> float:
    n = min(len(got), len(ref))
    assert n >= int(TSTOP / DT), (len(got), len(ref))
    dv = float(np.abs(got[:n] - ref[:n]).max())
    assert dv <= atol, f"max |dV| {dv} mV"
    return dv
