"""``nethub.simulate``: build or import a model into a store, make its RunConfig, run it.

The face of the simulator. A spec file is built (:mod:`nethub.builder`), another format is
imported, a :class:`~nethub.network.Network` is written; the run's configuration is the
simConfig stored with the model updated with the caller's overrides, checked
(:mod:`nethub.specs.values`, :mod:`nethub.specs.unsupported`) and mapped onto a
:class:`~nethub.runconfig.RunConfig` (:mod:`nethub.specs.runmap`), unless the caller gives a
RunConfig. :func:`nethub.sim.run_store` then runs it in this process, or ``mpiexec`` runs
``nethub run`` on N ranks with the RunConfig as JSON.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .builder import spec_dicts
from .builder.fromfile import is_spec_file, model_file_network
from .errors import SimulationError, SpecError
from .mechsource import is_trusted, store_mod_files
from .network import Network
from .results import Results
from .runconfig import RunConfig
from .runoverlay import overlay_run_config, write_format_outputs
from .sim import neuron_env, run_store, under_mpi
from .sim.launch import JOB_ENV, run_job
from .sim.mechorigin import MechanismClashError, conflicts
from .specs.runmap import merged_simconfig, runconfig_from_netpyne
from .specs.unsupported import check_not_simulated
from .specs.values import check_run_config
from .store import read_network, read_results, write_network
from .storelock import check_writable

__all__ = ["simulate", "store_run_config", "written_store", "read_run_config",
           "with_mpi_options"]

logger = logging.getLogger(__name__)

#: the ``nethub run`` option that runs with a RunConfig JSON file (how a launcher hands its
#: ranks the RunConfig, and how a user runs a hand-written one)
RUN_CONFIG_OPTION = "--run-config"


def simulate(model: Any, sim_config: Any = None, nprocs: int | None = None,
             output: str | os.PathLike | None = None, timeout: float | None = None,
             overwrite: bool = False, checked: bool = True, *, mod_dirs: Any = None,
             trusted: bool = False, cfg_path: str | os.PathLike | None = None,
             cost_model: str | None = None) -> Results | None:
    """Simulate a model and return its results (also written to ``output`` if given).

    Parameters
    ----------
    model : Network, str or Path
        A network, a store, or a NetPyNE-style spec file (built first).
    sim_config : RunConfig, SimConfig, dict or None
        A RunConfig (used as it is), or simConfig overrides of the simConfig stored with the
        model (mapped onto a RunConfig, :func:`store_run_config`).
    nprocs : int, optional
        MPI ranks (>= 1); > 1 launches ``mpiexec``. Default: the RunConfig's ``nranks`` (1
        for a simConfig). Given, it replaces ``nranks``, as ``timeout`` and ``cost_model``
        replace the RunConfig's fields of that name.
    output : path, optional
        Store to write (the input store itself when omitted and the input is a store).
    timeout : float, optional
        Seconds after which the job is stopped (it then runs as a child process, also with
        one rank) and a :class:`~nethub.errors.SimulationError` is raised.
    cost_model : str, optional
        How cells are dealt to ranks (:data:`nethub.runconfig.COST_MODELS`).
    overwrite : bool
        A spec or network is built into a new store, and a store's results go to ``output``
        as a copy of the store; an existing file at that path (e.g. ``model.h5`` beside
        ``model.json``) is refused unless ``overwrite``.
    checked : bool
        Validate the store first and refuse an invalid one (default); ``False`` is
        ``nethub run --unchecked``.
    mod_dirs : sequence of path-like, optional
        Folders of the .mod files of a spec (``--mod``); by default found beside it
        (:func:`nethub.mechsource.find_mod_sources`).
    trusted : bool
        Compile native code (VERBATIM) that the model carries (``--trust``); see
        :func:`nethub.mechsource.require_trust`.
    cfg_path : path, optional
        A spec's separate simConfig ``.py`` file (``nethub run netParams.py --cfg cfg.py``):
        loaded with the spec, so that the network is built with its seeds and values, as
        NetPyNE's ``createSimulateAnalyze(netParams, simConfig)`` does. ``sim_config`` is
        applied to the build of a spec too.

    Returns
    -------
    Results or None
        The results; ``None`` on MPI ranks other than 0 when called inside an MPI job.
    """
    if nprocs is not None and int(nprocs) < 1:
        raise SimulationError(f"nprocs must be at least 1, not {nprocs}")
    given = sim_config if isinstance(sim_config, RunConfig) else None
    overrides = None if given is not None else sim_config
    store = _as_store(model, output, overwrite, mod_dirs, trusted, cfg_path, overrides)
    out = Path(output) if output is not None else store
    if not under_mpi():
        check_writable(out, store)  # before NEURON or any rank starts
    config = with_mpi_options(given or store_run_config(store, overrides), nprocs, timeout,
                              cost_model)
    if (config.nranks > 1 or config.timeout is not None) and not (under_mpi() or launched()):
        trusted = trusted or is_trusted(store_mod_files(store))  # e.g. trusted in this process
        res = _launch_mpi(store, config, config.nranks, out, config.timeout, checked, trusted)
    else:
        res = _run_here(store, config, out, checked, trusted)
    if res is not None and not launched() and _source_document(model):
        # the output files a SONATA simulation config asks for, only when that document is
        # what was run: a store run later never writes into the folder it was imported from
        # (``nethub sonata-results`` writes any run's files on request)
        write_format_outputs(out, res, config)
    return res


def _run_here(store: Path, config: RunConfig, out: Path, checked: bool, trusted: bool
              ) -> Results | None:
    """``run_store`` in this process, or in a new one when a mechanism the store carries has
    a name this process loaded from other content (NEURON would use the wrong one)."""
    mods = store_mod_files(store)
    here = not (under_mpi() or launched())
    clash = conflicts(mods) if mods and here else []
    if not clash:
        try:
            return run_store(store, config, out, checked, trusted=trusted)
        except MechanismClashError as exc:  # raised before anything is built or written
            if not here:
                raise
            clash = [str(exc)]  # e.g. a library that would define a loaded name again
    logger.info("running %s in a new process: %s", store, "; ".join(clash))
    return _launch_mpi(store, config, 1, out, None, checked, trusted or is_trusted(mods))


def _source_document(model: Any) -> bool:
    """Whether ``model`` is a file of another format run directly (not a store, not a
    Network)."""
    return not isinstance(model, Network) and converts(Path(model))


def launched() -> bool:
    """Whether this process is a rank of a job :func:`simulate` launched (it runs the store
    itself, whatever the RunConfig's ``nranks`` and ``timeout``)."""
    return bool(os.environ.get(JOB_ENV))


def with_mpi_options(config: RunConfig, nprocs: int | None = None,
                     timeout: float | None = None, cost_model: str | None = None) -> RunConfig:
    """``config`` with the MPI options given (not None) in place of its own."""
    given = {k: v for k, v in (("nranks", nprocs), ("timeout", timeout),
                               ("cost_model", cost_model)) if v is not None}
    if not given:
        return config
    return RunConfig.from_dict({**config.to_dict(), **given})


def store_run_config(store: str | os.PathLike, sim_config: Any = None) -> RunConfig:
    """The RunConfig of a run of ``store``: its stored simConfig updated with ``sim_config``
    (a SimConfig or dict of overrides), checked, mapped through
    :data:`nethub.specs.runmap.NETPYNE_RUN_TABLE`; what the run will not simulate is logged
    and recorded in its meta (``not_simulated``). A model without a simConfig that carries
    its own RunConfig (``Network.run_config``, e.g. from a SONATA simulation config) runs
    with that one, the overrides' fields replaced (:func:`nethub.runoverlay.overlay_run_config`)."""
    overrides = spec_dicts({}, sim_config)[1] if sim_config is not None else {}
    net = read_network(store, gids=np.zeros(0, dtype=np.int64))  # the model documents only
    if net.run_config is not None and (net.spec or {}).get("simConfig") is None:
        if overrides:
            check_run_config(merged_simconfig(None, overrides))
        return overlay_run_config(net.run_config, overrides)
    cfg = merged_simconfig((net.spec or {}).get("simConfig"), overrides)
    check_run_config(cfg)  # dt, duration, recordStep > 0, ... before anything is created
    skipped = check_not_simulated(_net_params_of(net), cfg, "run")
    return runconfig_from_netpyne(cfg, {"not_simulated": skipped} if skipped else None)


def _net_params_of(net: Network) -> dict:
    """The stored netParams plus the network's rxd document (stores from other formats)."""
    out = dict(((net.spec or {}).get("netParams")) or {})
    if net.rxd:
        out["rxdParams"] = net.rxd
    return out


def _as_store(model: Any, output, overwrite: bool = False, mod_dirs: Any = None,
              trusted: bool = False, cfg_path: Any = None, sim_config: Any = None) -> Path:
    if isinstance(model, Network):
        path = Path(output) if output is not None else Path(tempfile.mkdtemp()) / "model.h5"
        _refuse_existing(path, overwrite, "the network")
        write_network(model, path)
        return path
    path = Path(model)
    if converts(path):  # a spec or another format: built or imported into a new store
        target = Path(output) if output is not None else path.with_suffix(".h5")
        _refuse_existing(target, overwrite, str(path))
        check_writable(target)  # before building
        write_network(model_file_network(path, mod_dirs, trusted, cfg_path=cfg_path,
                                         overrides=sim_config), target)
        return target
    if output is not None and Path(output).exists() and not _same_file(output, path):
        _refuse_existing(Path(output), overwrite, f"{path} with -o {output}",
                         f"Add the run to {path} itself (without -o)")
    return path


def converts(path: Path) -> bool:
    """Whether running ``path`` first builds or imports it (anything but a canonical store)."""
    if is_spec_file(path):
        return True
    if not path.is_file():
        return False  # reading it as a store says what is wrong
    from .formats import guess_format  # the format registry loads every plugin: only here

    return guess_format(path, "read").name != "store"


def written_store(model: str, output: str | None) -> str:
    """The store a run wrote: ``-o``, the input store, or the store built beside a spec."""
    if output is not None:
        return output
    return str(Path(model).with_suffix(".h5")) if converts(Path(model)) else model


def _same_file(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _refuse_existing(target: Path, overwrite: bool, what: str, instead: str = "") -> None:
    """A run never silently replaces an existing store (and its runs)."""
    if overwrite or not target.exists():
        return
    instead = instead or f"Run the store itself to add a run to it (nethub run {target})"
    raise SimulationError(
        f"{target} already exists; running {what} would replace that store and its runs. "
        f"{instead}, write elsewhere with -o NEW.h5, or replace it with --overwrite")


def _launch_mpi(store: Path, config: RunConfig, nprocs: int, out: Path,
                timeout: float | None = None, checked: bool = True, trusted: bool = False
                ) -> Results:
    level = logging.getLogger("nethub").getEffectiveLevel()  # the ranks log as this process
    verbose = ["-vv"] if level <= logging.DEBUG else ["-v"] if level <= logging.INFO else []
    cmd = [sys.executable, "-m", "nethub", *verbose, "run", str(store), "-o", str(out)]
    cmd += ([] if checked else ["--unchecked"]) + (["--trust"] if trusted else [])
    if nprocs > 1:
        exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep
                           + os.environ.get("PATH", ""))
        if exe is None:
            raise SimulationError("mpiexec not found: pip install 'nethub[mpi]'")
        cmd = [exe, "-n", str(nprocs), *cmd]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run_config.json"
        path.write_text(config.to_json())
        cmd += [RUN_CONFIG_OPTION, str(path)]
        run_job(cmd, neuron_env(), timeout=timeout)
    return read_results(out)


def read_run_config(path: str | os.PathLike) -> RunConfig:
    """A RunConfig from a JSON file (what :func:`simulate` hands the ranks it launches, or one
    a user wrote; docs/simulate.md).

    Raises
    ------
    SpecError
        The file cannot be read, is not JSON, or a field is wrong: the message names the file
        and the field path (``run.json: RunConfig.traces[0].step: ...``).
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the RunConfig ({exc.strerror or exc})") from None
    return RunConfig.from_json(text, f"{path}: RunConfig")
