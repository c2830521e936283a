"""nethub against NetPyNE 1.1.1 on a NetPyNE model folder with its own mechanisms: the same
spikes (times and gids, exactly).

The model is ``fixtures/netpyne_like/ei_circuit`` (written for nethub's tests, laid out as
NetPyNE's example projects: ``index.npjson`` naming ``src/netParams.py``, ``src/cfg.py`` and
``mod/``, whose two density channels INCLUDE ``mod/rates.inc``, and a double-exponential
synapse). NetPyNE runs it from ``index.npjson`` (``sim.loadFromIndexFile``, then
``sim.createSimulate``, through ``netpyne_simulate.py``) with the library ``nrnivmodl`` built
from its ``mod/`` (the build in nethub's compile cache, so that the set is compiled once per
machine, not once per test run: unchanged files, unchanged compiler); nethub runs the same index
file, finding the mechanisms itself (``mod_folder``), with NetPyNE's one synapse object per
connection (``nethubMergeSynapses=False``) on NEURON (``nethubCoreneuron=False``). Both run in
subprocesses, at the same time.
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

pytestmark = pytest.mark.neuron

HERE = Path(__file__).parent
MODEL = HERE.parents[1] / "fixtures" / "netpyne_like" / "ei_circuit"
EXACT = {"nethubMergeSynapses": False, "nethubCoreneuron": False}

_MPI_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMI_ID", "HYDRA_CONTROL_FD",
             "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_SIZE")


def _env() -> dict[str, str]:
    """This environment without what would make a child process an MPI rank."""
    env = {k: v for k, v in os.environ.items() if k not in _MPI_VARS and not k.startswith("PMI")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _start(cmd: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen) -> None:
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{' '.join(proc.args)} failed:\n{out[-4000:]}"


def _sorted(t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((g, t))
    return t[order], g[order]


def test_ei_circuit_spikes_as_netpyne(tmp_path):
    pytest.importorskip("netpyne", reason="the faithfulness tests compare against NetPyNE")
    import nethub
    from nethub.builder import read_mod_dir
    from nethub.nmodl.compile import compile_mod_files

    model = shutil.copytree(MODEL, tmp_path / "ei_circuit")
    lib = compile_mod_files(read_mod_dir(model / "mod"))  # <dir>/x86_64/[.libs/]libnrnmech.so
    mods = lib.parents[2] if lib.parent.name == ".libs" else lib.parents[1]
    ref = tmp_path / "netpyne.npz"
    theirs = _start([sys.executable, str(HERE / "netpyne_simulate.py"), "index.npjson", str(ref),
                     "1000", str(mods)], model)
    code = ("import sys, json, nethub; "
            "nethub.simulate(sys.argv[1], sim_config=json.loads(sys.argv[2]), output=sys.argv[3])")
    ours = _start([sys.executable, "-c", code, "index.npjson", json.dumps(EXACT),
                   str(tmp_path / "nethub.h5")], model)
    _finish(theirs)
    _finish(ours)

    with np.load(ref) as data:
        t_ref, g_ref = _sorted(data["spkt"], data["spkid"].astype(np.int64))
    res = nethub.load_results(tmp_path / "nethub.h5")
    t, g = _sorted(np.asarray(res.spike_times), np.asarray(res.spike_gids, dtype=np.int64))
    assert len(t_ref) > 0 and g_ref.min() < 24 <= g_ref.max()  # E (0-23) and I (24-31) fire
    np.testing.assert_array_equal(g, g_ref)
    np.testing.assert_array_equal(t, t_ref)
