"""NMODL for NeuroML models: jNeuroML generation + cache, NEURON 9 random sources (real runs).

jNeuroML runs once here (Ex16 inputs, ~2 s); nrnivmodl compiles jNeuroML's originals (which
NEURON 9 refuses) and nethub's rewrites, which then run in a small hand-built NEURON model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyneuroml")

from nethub.formats.neuroml import NeuroMLError, mechanisms  # noqa: E402
from nethub.formats.neuroml.mechanisms import (  # noqa: E402
    generate_nmodl,
    neuron9_random,
    random_ids,
)

from .conftest import serial_env  # noqa: E402

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml" / "NeuroML2"
RANDOM_SOURCES = ("spikeGenPoisson.mod", "spikeGenRefPoisson.mod", "spikeGenRandom.mod",
                  "poissonFiringSyn.mod", "transPoissonFiringSyn.mod")
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ex16(tmp_path_factory):
    """Ex16 (all input types) copied away from the repository, NMODL generated once."""
    root = tmp_path_factory.mktemp("nml")
    shutil.copytree(FIX, root / "NeuroML2")
    lems = root / "NeuroML2" / "LEMSexamples" / "LEMS_NML2_Ex16_Inputs.xml"
    cache = root / "cache"
    return lems, cache, generate_nmodl(lems, cache_dir=cache)


def _compile(folder: Path, files: dict[str, str]) -> subprocess.CompletedProcess:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return subprocess.run(["nrnivmodl"], cwd=folder, capture_output=True, text=True,
                          env=serial_env(), check=False)


def test_generation_is_cached_and_runs_outside_the_model_folder(ex16, monkeypatch):
    lems, cache, first = ex16
    assert not first.cache_hit and set(RANDOM_SOURCES) <= set(first.mod_files)
    assert set(first.rewritten) == set(RANDOM_SOURCES)  # and nothing else
    assert all("VERBATIM" not in first.mod_files[n] and "RANDOM rng" in first.mod_files[n]
               for n in first.rewritten)
    assert not list(lems.parent.glob("*.mod"))  # jnml ran in a temporary copy

    def no_java(*args, **kwargs):
        raise AssertionError("jNeuroML must not run on a cache hit")

    monkeypatch.setattr(mechanisms, "_run_jnml", no_java)
    second = generate_nmodl(lems, cache_dir=cache)
    assert second.cache_hit and second.key == first.key
    assert second.mod_files == first.mod_files
    raw = generate_nmodl(lems, cache_dir=cache, neuron9=False)
    assert raw.cache_hit and "nrn_random_arg" in raw.mod_files["spikeGenPoisson.mod"]


@pytest.mark.slow
@pytest.mark.neuron
def test_jnml_random_sources_fail_to_compile_on_neuron9(ex16, tmp_path):
    lems, cache, _ = ex16
    raw = generate_nmodl(lems, cache_dir=cache, neuron9=False).mod_files
    bad = _compile(tmp_path / "jnml", {"spikeGenPoisson.mod": raw["spikeGenPoisson.mod"]})
    assert bad.returncode != 0
    assert "ambiguating new declaration of 'void* nrn_random_arg(int)'" in (
        bad.stdout + bad.stderr).replace("\u2018", "'").replace("\u2019", "'")


@pytest.fixture(scope="module")
def compiled(ex16, tmp_path_factory) -> Path:
    kinds = ("spikeGenPoisson.mod", "poissonFiringSyn.mod", "transPoissonFiringSyn.mod")
    folder = tmp_path_factory.mktemp("n9") / "mods"
    good = _compile(folder, {k: ex16[2].mod_files[k] for k in kinds})
    assert good.returncode == 0, (good.stdout + good.stderr)[-3000:]
    return folder


@pytest.mark.slow
@pytest.mark.neuron
def test_neuron9_random_sources_fire_poisson_independent_of_order_and_ranks(compiled, tmp_path):
    def run(order: str, ranks: int = 1) -> dict:
        out = tmp_path / f"{order}-{ranks}.json"
        cmd = [sys.executable, str(HERE / "neuroml_poisson_run.py"), str(compiled), "30",
               "2000", "7", order, str(out)]
        if ranks > 1:
            cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks), *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=serial_env(),
                              check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(out.read_text())

    fwd, rev, two = run("forward"), run("reverse"), run("forward", ranks=2)
    assert fwd == rev == two  # streams keyed by gid: creation order and ranks do not matter
    poisson = [np.array(t) for t in fwd["spikeGenPoisson"].values()]
    n = sum(len(t) for t in poisson)  # 30 sources x 2 s x 50 Hz = 3000 expected
    assert abs(n - 3000) < 4 * np.sqrt(3000)
    isi = np.concatenate([np.diff(t) for t in poisson])
    assert abs(isi.std() / isi.mean() - 1) < 0.1  # Poisson: CV of ISIs = 1
    assert len({tuple(t) for t in poisson}) == 30  # every cell its own stream
    syn = sum(len(t) for t in fwd["poissonFiringSyn"].values())  # 10 Hz: 600 expected
    assert abs(syn - 600) < 4 * np.sqrt(600)
    trans = np.concatenate([t for t in fwd["transPoissonFiringSyn"].values()])
    assert trans.min() >= 50 and trans.max() <= 100 + 1e-9  # delay 50 ms, duration 50 ms
    assert abs(len(trans) - 450) < 4 * np.sqrt(450)  # 300 Hz x 50 ms x 30


def test_rewrite_refuses_unexpected_text_and_bad_ids():
    with pytest.raises(NeuroMLError, match="x.mod: not a jNeuroML random source"):
        neuron9_random("NEURON { POINT_PROCESS x }", "x.mod")
    assert random_ids(5, 12, 1) == (5, 12, 1)
    with pytest.raises(NeuroMLError, match="gid -1"):
        random_ids(1, -1)


def test_nml_files_get_a_lems_wrapper_for_jnml():
    """No Java here: the wrapper LEMS text and the refusal of network-less files."""
    nml = FIX / "examples" / "NML2_InstanceBasedNetwork.nml"
    text, files = mechanisms._wrapper(nml)
    assert '<Include file="NML2_InstanceBasedNetwork.nml"/>' in text
    assert 'target="InstanceBasedNetwork"' in text and files == [nml.resolve()]
    with pytest.raises(NeuroMLError, match="NML2_SimpleIonChannel.nml: jNeuroML generates "
                                           "NEURON code for a network; this file defines none"):
        generate_nmodl(FIX / "examples" / "NML2_SimpleIonChannel.nml")
