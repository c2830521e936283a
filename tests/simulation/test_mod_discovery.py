"""NetPyNE models run the way their users run them, in folders where nobody ran
``nrnivmodl``: mechanisms found (index.npjson's mod_folder, mod/ at the model root, --mod,
x86_64/ compiled in the working directory), INCLUDEd files carried, native code (VERBATIM) run
only with trust, compile errors reported briefly.

The model folder is ``fixtures/netpyne_like/ei_circuit`` (written for these tests, laid out as
NetPyNE's example projects are: index.npjson, src/netParams.py + src/cfg.py + src/init.py, mod/
with two .mod files INCLUDEing mod/rates.inc); the VERBATIM mechanism is the HybridTut
tutorial's izhi2007b.mod. Every command runs ``python -m nethub`` in a fresh process with the
model folder as working directory. The compiled-mechanism cache is shared with the user's
(``$NETHUB_CACHE/mech``), so the models' .mod files are compiled once per machine; trust tests
use their own trust list.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.mechsource import store_mod_files
from nethub.nmodl.compile import cache_dir, compile_mod_files

from .conftest import serial_env

pytestmark = pytest.mark.neuron

ROOT = Path(__file__).parents[2]
EI = ROOT / "fixtures" / "netpyne_like" / "ei_circuit"  # 32 cells, 40 ms
HYBRID = ROOT / "fixtures" / "specs" / "netpyne_tutorials" / "HybridTut"


def _copy_model(src: Path, dest: Path, duration: float) -> Path:
    """A copy of a NetPyNE model folder with ``cfg.duration`` set."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.h5", "__pycache__"))
    cfg = dest / "src" / "cfg.py"
    text = re.sub(r"(?m)^cfg\.duration\s*=.*$", f"cfg.duration = {duration}", cfg.read_text())
    cfg.write_text(text)
    return dest


def _env(trust_home: Path | None = None) -> dict[str, str]:
    """The test environment; with ``trust_home``, a cache folder of its own whose compiled
    mechanisms are the shared ones (so only the trust list is fresh)."""
    env = serial_env()
    if trust_home is not None:
        trust_home.mkdir(parents=True, exist_ok=True)
        shared = cache_dir()
        shared.mkdir(parents=True, exist_ok=True)
        if not (trust_home / "mech").exists():
            (trust_home / "mech").symlink_to(shared, target_is_directory=True)
        env["NETHUB_CACHE"] = str(trust_home)
    return env


def _nethub(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nethub", *args], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, check=False, timeout=600)


def _spikes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    res = nethub.load_results(path)
    order = np.lexsort((res.spike_gids, res.spike_times))
    return res.spike_times[order], res.spike_gids[order]


@pytest.fixture(scope="module")
def ei(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """ei_circuit run as NetPyNE users run a model: ``nethub run src/netParams.py --cfg
    src/cfg.py`` in the model folder."""
    model = _copy_model(EI, tmp_path_factory.mktemp("ei") / "ei_circuit", 40.0)
    return model, _nethub(model, "-v", "run", "src/netParams.py", "--cfg", "src/cfg.py")


def test_model_runs_from_its_folder_with_its_included_file(ei):
    """mod/ at the model root (index.npjson's mod_folder) found, rates.inc carried, said at
    INFO; the network fires."""
    ei, proc = ei
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "spikes from" in proc.stdout
    assert re.search(r"mechanisms: 4 file\(s\) from \S+/mod \(mod_folder of \S+index.npjson\)",
                     proc.stderr), proc.stderr
    mods = store_mod_files(ei / "src" / "netParams.h5")
    assert sorted(mods) == ["dualexpsyn.mod", "kdelayed.mod", "nafast.mod", "rates.inc"]
    assert not (ei / "x86_64").exists()  # compiled in the cache, not in the user's folder
    times, gids = _spikes(ei / "src" / "netParams.h5")
    assert len(times) > 0
    assert gids.min() < 24 <= gids.max()  # both populations (E: gids 0-23, I: 24-31) fire


def test_index_file_same_network_and_spikes(ei):
    """``nethub run index.npjson`` builds and runs the same model; the same mod set is not
    compiled again."""
    ei, first = ei
    assert first.returncode == 0, first.stderr[-2000:]
    proc = _nethub(ei, "-v", "run", "index.npjson", "-o", "from_index.h5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "compiled" not in proc.stderr  # the cache holds this mod set already
    a, b = _spikes(ei / "src" / "netParams.h5"), _spikes(ei / "from_index.h5")
    assert len(a[0]) > 0
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_build_index_with_mod_flag(tmp_path):
    """``nethub build index.npjson --mod DIR`` (the folder named explicitly, elsewhere)."""
    model = _copy_model(EI, tmp_path / "m", 40.0)
    mods = tmp_path / "elsewhere"
    (model / "mod").rename(mods)
    proc = _nethub(model, "build", "index.npjson", "-o", "b.h5", "--mod", str(mods))
    assert proc.returncode == 0, proc.stderr
    assert sorted(store_mod_files(model / "b.h5")) == sorted(p.name for p in mods.iterdir())
    proc = _nethub(model, "validate", "b.h5")
    assert proc.returncode == 0 and "INCLUDE" not in proc.stdout, proc.stdout
    (mods).rename(model / "mod")  # back where index.npjson's mod_folder says
    proc = _nethub(tmp_path, "build", str(model), "-o", "folder.h5")  # the model folder
    assert proc.returncode == 0, proc.stderr
    assert store_mod_files(tmp_path / "folder.h5") == store_mod_files(model / "b.h5")


def test_missing_mechanisms_say_how_to_fix(tmp_path):
    model = _copy_model(EI, tmp_path / "m", 40.0)
    shutil.rmtree(model / "mod")
    (model / "index.npjson").unlink()
    proc = _nethub(model, "run", "src/netParams.py")
    assert proc.returncode == 1
    err = proc.stderr
    assert "unknown NEURON mechanism(s)" in err
    assert "'nafast' (used by cell type" in err and "'DualExpSyn' (used by synMech" in err
    assert "--mod DIR" in err and "mod/ or mods/ folder" in err
    assert "Traceback" not in err


def test_compile_error_is_short_and_located(tmp_path):
    """A mod folder whose .mod INCLUDEs a file that is not there: the first error, located,
    with a hint and the path of the full log (not a compiler tail)."""
    model = _copy_model(EI, tmp_path / "m", 40.0)
    (model / "mod" / "rates.inc").unlink()
    env = _env(tmp_path / "cache")
    proc = _nethub(model, "run", "src/netParams.py", env=env)
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()[-1:]
    assert "INCLUDEs 'rates.inc', which is missing" in line, proc.stderr
    assert len(line) < 600
    log = re.search(r"full log: (\S+\.log)\)", line)
    assert log and "Couldn't open" in Path(log.group(1)).read_text()


def test_native_code_needs_trust(tmp_path):
    """A store carrying izhi2007b.mod (VERBATIM) from someone else: refused with the mechanism,
    file and flag named, nothing compiled; validate and info list it; --trust runs it and is
    remembered."""
    model = _copy_model(HYBRID, tmp_path / "hybrid", 20.0)
    mine = _nethub(model, "build", "src/netParams.py", "-o", str(tmp_path / "received.h5"),
                   env=_env(tmp_path / "author"))
    assert mine.returncode == 0, mine.stderr
    store = tmp_path / "received.h5"
    env = _env(tmp_path / "receiver")
    before = sorted(cache_dir().iterdir())
    proc = _nethub(tmp_path, "run", str(store), env=env)
    assert proc.returncode == 1
    assert "Izhi2007b (izhi2007b.mod: contains VERBATIM" in proc.stderr
    assert "--trust" in proc.stderr and "nothing was compiled" in proc.stderr
    assert sorted(cache_dir().iterdir()) == before
    val = _nethub(tmp_path, "validate", str(store), env=env)
    assert val.returncode == 0 and "WARNING /model/mod_files" in val.stdout
    assert "Izhi2007b contains VERBATIM" in val.stdout
    info = _nethub(tmp_path, "info", str(store), env=env)
    assert "native code (running needs --trust): Izhi2007b in izhi2007b.mod" in info.stdout
    ok = _nethub(tmp_path, "run", str(store), "--trust", env=env)
    assert ok.returncode == 0, ok.stderr
    remembered = _nethub(tmp_path, "run", str(store), env=env)
    assert remembered.returncode == 0, remembered.stderr


def test_own_mod_folder_is_trusted(tmp_path):
    """HybridTut's own mod/ beside the .py spec the user runs is their code: no flag needed,
    and the store built from it runs later without one."""
    model = _copy_model(HYBRID, tmp_path / "hybrid", 20.0)
    env = _env(tmp_path / "cache")
    proc = _nethub(model, "run", "src/netParams.py", "--cfg", "src/cfg.py", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "izhi2007b.mod" in store_mod_files(model / "src" / "netParams.h5")
    later = _nethub(model, "run", "src/netParams.h5", env=env)
    assert later.returncode == 0, later.stderr


def test_mechanisms_compiled_in_the_working_directory(tmp_path):
    """A user who ran ``nrnivmodl`` in the folder they run from: the sources it compiled
    (listed in x86_64/makemod2c_inc) are embedded in the store."""
    work = tmp_path / "work"
    (work / "specs").mkdir(parents=True)
    (work / "leak.mod").write_text(
        "NEURON { SUFFIX nhcwdleak NONSPECIFIC_CURRENT i RANGE g, e }\n"
        "PARAMETER { g = 0.0001 (S/cm2) e = -70 (mV) }\n"
        "ASSIGNED { v (mV) i (mA/cm2) }\nBREAKPOINT { i = g*(v - e) }\n")
    # nrnivmodl's output for this folder: the cache holds one (compiled once per machine)
    lib = compile_mod_files({"leak.mod": (work / "leak.mod").read_text()})
    arch = lib.parent.parent if lib.parent.name == ".libs" else lib.parent
    shutil.copytree(arch, work / arch.name, symlinks=True)
    assert "../leak.mod" in (work / arch.name / "makemod2c_inc").read_text()
    (work / "specs" / "net.py").write_text(
        "from netpyne import specs\n"
        "netParams = specs.NetParams()\n"
        "netParams.cellParams['C'] = {'secs': {'soma': {'geom': {'L': 20, 'diam': 20},\n"
        "    'mechs': {'hh': {}, 'nhcwdleak': {}}}}}\n"
        "netParams.popParams['P'] = {'cellType': 'C', 'numCells': 2}\n"
        "cfg = specs.SimConfig()\ncfg.duration = 10\n")
    proc = _nethub(work, "-v", "run", "specs/net.py", env=_env(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert "compiled in" in proc.stderr and "x86_64" in proc.stderr
    assert list(store_mod_files(work / "specs" / "net.h5")) == ["leak.mod"]


def test_api_mod_dirs_and_trusted(tmp_path, monkeypatch):
    """The Python API: ``simulate(spec, mod_dirs=[...])`` runs the caller's own mechanisms; the
    store it wrote, once that trust is forgotten, needs ``trusted=True`` and then gives the same
    spikes."""
    from nethub.errors import UntrustedCodeError
    from nethub.runner import simulate

    monkeypatch.setenv("NETHUB_CACHE", str(_env(tmp_path / "cache")["NETHUB_CACHE"]))
    monkeypatch.setattr("nethub.mechsource._SESSION_TRUSTED", set())
    model = _copy_model(HYBRID, tmp_path / "hybrid", 20.0)
    first = simulate(model / "src" / "netParams.py", mod_dirs=[model / "mod"],
                     output=tmp_path / "a.h5")
    monkeypatch.setattr("nethub.mechsource._SESSION_TRUSTED", set())
    (tmp_path / "cache" / "trusted-code.sha256").unlink()  # forget: now a received store
    with pytest.raises(UntrustedCodeError, match="Izhi2007b"):
        simulate(tmp_path / "a.h5", output=tmp_path / "b.h5")
    second = simulate(tmp_path / "a.h5", output=tmp_path / "b.h5", trusted=True)
    np.testing.assert_array_equal(first.spike_times, second.spike_times)
    np.testing.assert_array_equal(first.spike_gids, second.spike_gids)


def test_user_mechanisms_on_coreneuron_as_on_neuron(ei):
    """Its user density mechanisms and synapse (with their INCLUDEd file, compiled for
    CoreNEURON too) pass CoreNEURON's probe, and give NEURON's spikes."""
    ei, first = ei
    assert first.returncode == 0, first.stderr[-2000:]
    assert "of CoreNEURON" in first.stdout, first.stderr[-2000:]
    proc = _nethub(ei, "run", "src/netParams.h5", "--engine", "neuron", "-o", "nrn.h5")
    assert proc.returncode == 0 and "of NEURON" in proc.stdout, proc.stderr[-2000:]
    a, b = _spikes(ei / "src" / "netParams.h5"), _spikes(ei / "nrn.h5")
    assert len(a[0]) > 0
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_run_a_pickle_only_with_trust(tmp_path):
    """``nethub run`` takes any readable model file; a NetPyNE pickle only with --trust (the
    one flag for every code-bearing input)."""
    pkl = shutil.copy(ROOT / "fixtures" / "netpyne_output" / "tut2_data.pkl", tmp_path)
    cfg = tmp_path / "short.json"
    cfg.write_text('{"duration": 20}')
    proc = _nethub(tmp_path, "run", "tut2_data.pkl", "--cfg", str(cfg))
    assert proc.returncode == 1 and "--trust" in proc.stderr and "unpickling" in proc.stderr
    assert not (tmp_path / "tut2_data.h5").exists()
    proc = _nethub(tmp_path, "run", "tut2_data.pkl", "--trust", "--cfg", str(cfg))
    assert proc.returncode == 0, proc.stderr
    assert nethub.load(tmp_path / "tut2_data.h5").n_cells == 40 and Path(pkl).exists()


def test_native_code_refused_alike_on_two_ranks(tmp_path):
    """Under MPI rank 0 decides and every rank stops with its message (no rank left waiting
    in a collective); --trust is handed on to the ranks."""
    model = _copy_model(HYBRID, tmp_path / "hybrid", 20.0)
    store = tmp_path / "received.h5"
    built = _nethub(model, "build", "src/netParams.py", "--cfg", "src/cfg.py", "-o", str(store),
                    env=_env(tmp_path / "author"))
    assert built.returncode == 0, built.stderr
    env = _env(tmp_path / "receiver")
    proc = _nethub(tmp_path, "run", str(store), "--np", "2", "-o", "o.h5", env=env)
    assert proc.returncode != 0 and "refusing to compile native code" in proc.stderr
    ok = _nethub(tmp_path, "run", str(store), "--np", "2", "--trust", "-o", "o.h5", env=env)
    assert ok.returncode == 0 and "on 2 rank(s)" in ok.stdout, ok.stderr
