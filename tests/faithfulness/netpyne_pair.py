"""Run one NetPyNE model file with NetPyNE (a subprocess of ``netpyne_simulate.py``) and with
nethub in exact mode, for the faithfulness tests that compare their spikes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from nethub.mechsource import read_mod_dir
from nethub.nmodl.compile import compile_mod_files

HERE = Path(__file__).parent


def serial_env() -> dict[str, str]:
    """This environment without what would make a child process an MPI rank."""
    drop = ("PMI_", "HYDRA_", "MPI_LOCAL", "OMPI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def start_netpyne(model: Path, out: Path, duration: float, mod_dir: Path | None = None,
                  cwd: Path | None = None, network: bool = False) -> subprocess.Popen:
    """Start NetPyNE on ``model`` (a model file, index file or folder); see
    :func:`finish_netpyne`. ``network`` also saves the built cells, connections and 3-D points
    (``netpyne_simulate.py --network``)."""
    cmd = [sys.executable, str(HERE / "netpyne_simulate.py"), str(model), str(out),
           str(duration)] + ([str(mod_dir)] if mod_dir else []) + (["--network"] if network
                                                                    else [])
    cwd = cwd or (model.parent if model.is_file() else model)
    return subprocess.Popen(cmd, cwd=cwd, env=serial_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def finish_netpyne(proc: subprocess.Popen, out: Path) -> dict[str, np.ndarray]:
    """NetPyNE's spikes (``spkt``, ``spkid``) and traces, once ``proc`` has finished."""
    err = proc.communicate()[1]
    if proc.returncode != 0:
        raise RuntimeError(f"NetPyNE failed:\n{err[-4000:]}")
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


def compile_mods(mod_dir: Path) -> Path:
    """NetPyNE's compiled mechanisms: the folder where ``nrnivmodl`` compiled the ``.mod``
    files of ``mod_dir`` (with the files they include), for ``neuron.load_mechanisms``.

    Compiled through nethub's content-addressed cache (``$NETHUB_CACHE/mech``): the simulator
    compiles the same sources for its side of the comparison, so one ``nrnivmodl`` run serves
    both (the sources are read here from the model's own folder, not from nethub's store)."""
    lib = compile_mod_files(read_mod_dir(mod_dir))  # <dir>/x86_64/[.libs/]libnrnmech.so
    return lib.parents[2] if lib.parent.name == ".libs" else lib.parents[1]
