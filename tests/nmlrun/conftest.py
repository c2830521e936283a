"""Shared fixtures of the NeuroML run tests: copies of fixtures/neuroml run by ``nethub run``
in child processes (each model loads its own mechanisms; NEURON cannot unload them)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml"


def serial_env() -> dict[str, str]:
    """This environment without the variables that make a child process an MPI rank."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PMI", "HYDRA", "MPI_LOCALNRANKS", "MPI_LOCALRANKID"))}


def nethub_run(lems: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    """``nethub run LEMS -o OUT`` in a child process, in the LEMS file's folder."""
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", lems.name, "-o", str(out),
                           *extra], cwd=lems.parent, env=serial_env(), capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="session")
def nml2_copy(tmp_path_factory) -> Path:
    """A copy of fixtures/neuroml/NeuroML2 (the runs write results/ inside it)."""
    dest = tmp_path_factory.mktemp("nml2") / "NeuroML2"
    shutil.copytree(FIXTURES / "NeuroML2", dest)
    return dest


@pytest.fixture(scope="session")
def ours_copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("ours") / "ours"
    shutil.copytree(FIXTURES / "ours", dest)
    return dest


def jnml_outputs(folder: Path, lems: str, inputs: list[Path], outputs: list[str]
                 ) -> dict[str, str]:
    """The output files of ``pynml LEMS -neuron -run`` (jNeuroML's own NEURON run) of the
    files ``inputs`` copied (with their layout relative to ``folder``'s model) into ``folder``;
    cached by the inputs' content hash in nethub's cache, so later sessions skip Java."""
    from nethub.formats.neuroml.mechanisms import default_cache_dir

    key = hashlib.sha256(lems.encode() + b"".join(p.read_bytes() for p in inputs)).hexdigest()
    cached = default_cache_dir() / f"jnml-outputs-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    nrnivmodl = shutil.which("nrnivmodl")
    assert nrnivmodl, "nrnivmodl must be on PATH (source scripts/env.sh)"
    env = {**serial_env(), "NEURON_HOME": str(Path(nrnivmodl).parent.parent)}
    pynml = Path(sys.executable).parent / "pynml"
    proc = subprocess.run([str(pynml), lems, "-neuron", "-run", "-nogui"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = {name: (folder / name).read_text() for name in outputs}
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    os.replace(tmp, cached)
    return out
