"""NetPyNE's own example models beyond the tutorials (issue 16 item 4), run the way their users
run them, in a copy of the model folder where nobody ran ``nrnivmodl``, against NetPyNE 1.1.

- ``M1`` (``fixtures/netpyne_models/M1``): the 6-layer M1 model with Izhikevich cells
  (``izhi2007b.mod``, native code: run with ``--trust``), density-based populations over
  ``ynormRange``, ynorm-dependent connectivity, and ``cfg.oneSynPerNetcon = False`` (NetPyNE
  shares a synapse among the inputs at one place). Users run it from its folder as
  ``python src/init.py`` (``sim.loadFromIndexFile('index.npjson')``) after ``nrnivmodl mod``;
  with nethub: ``nethub run index.npjson`` (or ``src/netParams.py --cfg src/cfg.py``), whose
  mechanisms are found in ``mod/`` (index.npjson's ``mod_folder``). In exact mode its spikes
  are NetPyNE's bit for bit.
- ``netClamp`` (``fixtures/netpyne_models/netClamp``): network clamp, resimulating one cell of a
  saved run: ``src/init.py`` loads the model through ``index.npjson``, reads NetPyNE's saved
  output (``model_output.json``: connections, spikes, recorded stimulus times) and builds a new
  netParams of VecStim populations (``cellsList`` with ``spkTimes``) connected to the one cell.
  The saved output is made here by NetPyNE itself (the README's step 2, for 300 ms; NetPyNE 1.1
  names it ``model_output_data.json``). NetPyNE 1.1.1 cannot run the clamp script
  (``KeyError: 'params'`` in ``Pop.createCellsList`` for a VecStim ``cellsList``), so nethub's
  run (``nethub run src/init.py``) is held to the clamp's own promise: the clamped cell fires as
  cell 5 fired in NetPyNE's network run, the same number of spikes, each within a few time steps
  (measured: up to 2 steps). The clamp cannot be exact: its synapses are created in another
  order than in the network (and in an order that depends on Python's string hashing, since the
  script iterates sets of population names), so the currents are summed in another order, and
  round-off moves a threshold crossing by a step now and then, which shifts what follows.
- ``subConn`` (``fixtures/netpyne_models/subConn``): ``subConn_DistanceBased.py`` simulates two
  models in one file (before and after adding subConnParams); nethub refuses it with a one-line
  message instead of simulating only the first.

Durations are shortened in the copies (``cfg.duration``) so that each test stays fast.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from netpyne_pair import HERE, compile_mods, serial_env
from spike_stats import identical

pytestmark = pytest.mark.neuron

MODELS = HERE.parents[1] / "fixtures" / "netpyne_models"
M1_MS = 200.0


def _copy(name: str, dest: Path, duration: float | None = None) -> Path:
    """A copy of a fixture model folder (without its provenance files), ``cfg.duration``
    shortened in ``src/cfg.py``."""
    shutil.copytree(MODELS / name, dest, ignore=shutil.ignore_patterns(
        "PROVENANCE.md", "ruff.toml", "__pycache__"))
    cfg = dest / "src" / "cfg.py"
    if duration is not None:
        text = re.sub(r"(?m)^cfg\.duration\s*=.*$", f"cfg.duration = {duration}", cfg.read_text())
        cfg.write_text(text)
    return dest


def _nethub(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nethub", *args], cwd=cwd, env=serial_env(),
                          capture_output=True, text=True, check=False, timeout=600)


def _spikes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nethub

    res = nethub.load_results(path)
    return np.asarray(res.spike_times), np.asarray(res.spike_gids)


@pytest.fixture(scope="module")
def m1(tmp_path_factory):
    """NetPyNE's run of M1 (``python src/init.py`` with its compiled mod folder, started
    first) and a clean copy of the folder for nethub."""
    tmp = tmp_path_factory.mktemp("m1")
    theirs = _copy("M1", tmp / "netpyne", M1_MS)
    mods = compile_mods(theirs / "mod", tmp / "compiled")
    out = tmp / "netpyne.npz"
    proc = subprocess.Popen([sys.executable, str(HERE / "netpyne_run_script.py"), "src/init.py",
                             str(out), str(M1_MS), str(mods)], cwd=theirs, env=serial_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ours = _copy("M1", tmp / "nethub", M1_MS)
    err = proc.communicate()[1]
    assert proc.returncode == 0, err[-3000:]
    with np.load(out) as data:
        ref = (data["spkt"], data["spkid"])
    return {"folder": ours, "netpyne": ref}


@pytest.mark.parametrize("how", [("index.npjson",), ("src/netParams.py", "--cfg", "src/cfg.py")],
                         ids=["index", "netParams+cfg"])
def test_m1_exact_mode_gives_netpynes_spikes(m1, how):
    folder = m1["folder"]
    out = folder / f"out_{len(how)}.h5"
    proc = _nethub(folder, "run", *how, "--exact", "--trust", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(exact mode)" in proc.stdout
    assert not (folder / "x86_64").exists()  # nobody compiled in the model folder
    ref = m1["netpyne"]
    assert len(ref[0]) > 500
    assert identical(_spikes(out), ref)


def test_m1_fast_mode_runs_and_says_so(m1):
    folder = m1["folder"]
    out = folder / "fast.h5"
    proc = _nethub(folder, "run", "index.npjson", "--trust", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    import nethub

    res = nethub.load_results(out)
    assert res.meta["exactness"] == "fast"
    # rates within 3 Poisson standard deviations of NetPyNE's count (see test_exact_mode.py)
    n_ref = len(m1["netpyne"][0])
    assert abs(len(res.spike_times) - n_ref) <= 3 * np.sqrt(n_ref)


def test_two_models_in_one_file_are_refused_in_one_line(tmp_path):
    folder = tmp_path / "subConn"
    shutil.copytree(MODELS / "subConn", folder,
                    ignore=shutil.ignore_patterns("PROVENANCE.md", "ruff.toml"))
    proc = _nethub(folder, "run", "subConn_DistanceBased.py")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nethub: error: ")
    assert "creates 2 models (sim.createSimulateAnalyze, sim.createSimulateAnalyze)" in lines[0]
    assert not list(folder.glob("*.h5"))


NETCLAMP_MS = 300.0


def test_netclamp_script_reproduces_the_clamped_cell(tmp_path):
    import json

    import nethub

    theirs = _copy("netClamp", tmp_path / "netpyne", NETCLAMP_MS)
    mods = compile_mods(theirs / "mod", tmp_path / "compiled")
    code = ("import sys, neuron\nneuron.load_mechanisms(sys.argv[1])\nfrom netpyne import sim\n"
            "cfg, netParams = sim.loadFromIndexFile('index.npjson')\ncfg.analysis = {}\n"
            "sim.createSimulateAnalyze(netParams, cfg)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(mods)], cwd=theirs, env=serial_env(),
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = theirs / "model_output_data.json"
    ours = _copy("netClamp", tmp_path / "nethub")
    shutil.copy(saved, ours / "model_output.json")
    out = ours / "clamp.h5"
    # the script orders its populations and rules by iterating sets of strings: fix the hash
    # seed so that the order (and so the round-off) is the same in every test run
    run = subprocess.run([sys.executable, "-m", "nethub", "run", "src/init.py", "--exact",
                          "--trust", "-o", str(out)], cwd=ours, capture_output=True, text=True,
                         env={**serial_env(), "PYTHONHASHSEED": "0"}, check=False, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads(saved.read_text())["simData"]
    spkt, spkid = np.asarray(data["spkt"]), np.asarray(data["spkid"])
    ref = np.sort(spkt[spkid == 5])
    net, res = nethub.load(out), nethub.load_results(out)
    clamped = np.asarray(net.cells["gid"])[net.cells["pop"].values() == "E2_netClamp"]
    assert len(clamped) == 1 and len(net.cells) > 10  # the cell and its VecStim inputs
    mine = np.sort(np.asarray(res.spike_times)[np.asarray(res.spike_gids) == clamped[0]])
    assert len(ref) >= 3 and len(mine) == len(ref)
    assert np.max(np.abs(mine - ref)) <= 5 * 0.05 + 1e-9  # a few steps (cfg.dt = 0.05 ms)
