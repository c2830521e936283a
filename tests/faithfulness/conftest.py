"""Shared fixtures of the faithfulness tests: NetPyNE's own build of each model (one NetPyNE
subprocess per model and session, started in parallel) and nethub's build of it.

The models are NetPyNE's tutorials (:data:`TUTORIALS`, in ``fixtures/specs/netpyne_tutorials``)
and the model files a test module defines as text in ``EXTRA_MODELS`` (written to a temporary
folder). Every test taking a ``model`` argument runs on each of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TUTORIALS_DIR = HERE.parents[1] / "fixtures" / "specs" / "netpyne_tutorials"
MOD_DIR = TUTORIALS_DIR / "HybridTut" / "mod"  # izhi2007b.mod (the Izhi2007b point process)

#: name -> (model path relative to TUTORIALS_DIR, needs the compiled mod files of MOD_DIR)
TUTORIALS: dict[str, tuple[str, bool]] = {
    "tut1": ("doc_code/tut1.py", False),
    "tut2": ("doc_code/tut2.py", False),
    "tut3": ("doc_code/tut3.py", False),
    "tut4": ("doc_code/tut4.py", True),
    "tut5": ("doc_code/tut5.py", False),
    "tut6": ("doc_code/tut6.py", False),
    "tut7": ("doc_code/tut7.py", False),
    "HHTut": ("HHTut", False),
    "HybridTut": ("HybridTut", True),
    "saving": ("saving", False),
}

_MPI_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT", "PMI_ID", "HYDRA_CONTROL_FD",
             "MPI_LOCALNRANKS", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_SIZE")


def _serial_env() -> dict[str, str]:
    """This environment without what would make a child process an MPI rank."""
    env = {k: v for k, v in os.environ.items() if k not in _MPI_VARS and not k.startswith("PMI")}
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the tutorials import each other: no __pycache__ there
    return env


def _compile_mods() -> tuple[Path | None, str | None]:
    """(folder of the tutorials' compiled mod files, None), or (None, why they cannot be
    compiled). ``nrnivmodl`` on the files of MOD_DIR, through nethub's content-addressed cache
    (shared with the simulator, which compiles the same izhi2007b.mod for tut4/HybridTut: one
    compile per session instead of two); the folder is nrnivmodl's output, for
    ``neuron.load_mechanisms`` in NetPyNE."""
    from nethub.errors import SimulationError
    from nethub.mechsource import read_mod_dir
    from nethub.nmodl.compile import compile_mod_files

    try:
        lib = compile_mod_files(read_mod_dir(MOD_DIR))
    except SimulationError as exc:
        return None, str(exc)
    return (lib.parents[2] if lib.parent.name == ".libs" else lib.parents[1]), None


def _run_netpyne(model: Path, mod_dir: Path | None) -> list[dict]:
    cmd = [sys.executable, str(HERE / "netpyne_dump.py"), str(model)]
    if mod_dir is not None:
        cmd.append(str(mod_dir))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_serial_env(), check=False,
                          cwd=model.parent if model.is_file() else model)
    if proc.returncode != 0:
        raise RuntimeError(f"NetPyNE failed on {model}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class _Unavailable(Exception):
    """NetPyNE cannot build this model here (its mod files cannot be compiled)."""


class Models:
    """The models of the session: their files, NetPyNE's build of each (a subprocess, run once,
    two at a time, all started when the session begins so that they overlap each other and
    nethub's builds in this process) and nethub's build of each (once)."""

    def __init__(self, tmp_factory, extra: dict[str, str]) -> None:
        self._tmp = tmp_factory
        self.paths = {name: (TUTORIALS_DIR / rel, mods) for name, (rel, mods) in
                      TUTORIALS.items()}
        if extra:
            folder = tmp_factory.mktemp("models")
            for name, text in extra.items():
                (folder / f"{name}.py").write_text(text)
                self.paths[name] = (folder / f"{name}.py", False)
        self._mods: tuple[Path | None, str | None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1)))
        self._runs: dict[str, Future] = {}
        self._nets: dict = {}

    def start(self, names: list[str]) -> None:
        for name in names:
            self._submit(name)

    def _mod_dir(self) -> tuple[Path | None, str | None]:
        """(folder with the compiled mod files, None) or (None, why they cannot be compiled)."""
        if self._mods is None:
            self._mods = _compile_mods()
        return self._mods

    def _submit(self, name: str) -> Future:
        if name not in self._runs:
            path, needs_mods = self.paths[name]
            mods, problem = self._mod_dir() if needs_mods else (None, None)
            if problem:
                future: Future = Future()
                future.set_exception(_Unavailable(
                    f"{name}: NetPyNE needs the compiled izhi2007b.mod (Izhi2007b cells), "
                    f"which cannot be compiled here: {problem}"))
            else:
                future = self._pool.submit(_run_netpyne, path, mods)
            self._runs[name] = future
        return self._runs[name]

    def netpyne(self, name: str) -> list[dict]:
        """NetPyNE's cells (``netpyne_dump.py``'s JSON), in gid order."""
        try:
            return self._submit(name).result()
        except _Unavailable as exc:
            pytest.skip(str(exc))

    def nethub(self, name: str):
        """nethub's :class:`~nethub.network.Network` (``load_spec`` + ``build``)."""
        from nethub.builder import build
        from nethub.specs import load_spec

        if name not in self._nets:
            self._nets[name] = build(*load_spec(self.paths[name][0]))
        return self._nets[name]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def pytest_generate_tests(metafunc):
    """Run every test taking a ``model`` argument on each model; the test module's ``XFAIL``
    maps (model, test name) to the reason of a strict xfail."""
    if "model" not in metafunc.fixturenames:
        return
    xfails = getattr(metafunc.module, "XFAIL", {})
    params = []
    for name in [*TUTORIALS, *getattr(metafunc.module, "EXTRA_MODELS", {})]:
        reason = xfails.get((name, metafunc.function.__name__))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("model", params)


@pytest.fixture(scope="session")
def models(request, tmp_path_factory):
    """:class:`Models`, with NetPyNE started on the models the selected tests ask for."""
    pytest.importorskip("netpyne", reason="the faithfulness tests compare against NetPyNE")
    pytest.importorskip("neuron", reason="NetPyNE needs NEURON")
    names, extra = [], {}
    here = Path(__file__).parent
    for item in request.session.items:
        if here not in Path(str(item.fspath)).parents:
            continue  # other folders' tests may have a "model" parameter of their own
        name = getattr(item, "callspec", None) and item.callspec.params.get("model")
        if name and name not in names:
            names.append(name)
            extra.update(getattr(item.module, "EXTRA_MODELS", {}))
    models = Models(tmp_path_factory, extra)
    models.start(names)
    yield models
    models.close()
