"""Shared fixtures for real NEURON simulations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
MPI_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMI_ID", "HYDRA_CONTROL_FD",
            "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_SIZE")


def serial_env() -> dict[str, str]:
    """This environment without the variables that make a child process an MPI rank."""
    return {k: v for k, v in os.environ.items() if k not in MPI_VARS and not k.startswith("PMI")}


def netpyne_spikes(model: Path) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of NetPyNE 1.1 simulating ``model`` (in a subprocess), sorted by time, gid."""
    proc = subprocess.run([sys.executable, str(HERE / "netpyne_run.py"), str(model)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    t, g = np.array(ref["t"], dtype=float), np.array(ref["g"], dtype=np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


@pytest.fixture(scope="session")
def example_store(tmp_path_factory) -> Path:
    import nethub
    from nethub.examples import example_path

    net_params, cfg = nethub.load_spec(example_path())
    path = tmp_path_factory.mktemp("example") / "example.h5"
    nethub.save(nethub.build(net_params, cfg), path)
    return path
