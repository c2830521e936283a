"""Simulate a canonical store in NEURON on 1 or N MPI ranks and write the results back.

``nethub.sim.simulate(model, sim_config=None, nprocs=1)`` runs in this process (or, with
``nprocs > 1``, launches ``mpiexec -n N python -m nethub run ...``). Under MPI each rank reads
only its own cells and their incoming connections from the store (see
:mod:`nethub.sim.distribute` for the dealing scheme).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SimulationError
from ..network import Network
from ..results import Results
from ..specs.unsupported import check_not_simulated
from ..specs.values import check_run_config
from .exact import apply_exact, exactness_meta, is_exact

__all__ = ["simulate", "run_store", "neuron_env"]

logger = logging.getLogger(__name__)

_STATE: dict[str, Any] = {}


def neuron_env() -> dict[str, str]:
    """Environment for NEURON to find the MPI library installed into this Python's prefix."""
    env = dict(os.environ)
    env.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    lib = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if "MPI_LIB_NRN_PATH" not in env and lib.exists():
        env["MPI_LIB_NRN_PATH"] = str(lib)
    return env


def _neuron():
    """Import NEURON once, initialise MPI (before anything else) and return (h, pc)."""
    if "h" in _STATE:
        return _STATE["h"], _STATE["pc"]
    for k, v in neuron_env().items():
        os.environ.setdefault(k, v)
    if _under_mpi():
        # MPI initialised by mpi4py is finalised by it at exit; NEURON never calls
        # MPI_Finalize, and with 3+ ranks mpich then often kills the job at exit (exit code 9)
        with contextlib.suppress(ImportError):
            from mpi4py import MPI  # noqa: F401
    try:
        from neuron import h
    except ImportError as exc:
        raise SimulationError("simulating needs NEURON: pip install 'nethub[neuron]'") from exc
    if _under_mpi():
        h.nrnmpi_init()
        # a hoc error raises in Python instead of aborting: the ranks agree on it (agree.py)
        h.ParallelContext().mpiabort_on_error(0)
    h.load_file("stdrun.hoc")
    pc = h.ParallelContext()
    _STATE.update(h=h, pc=pc)
    return h, pc


def _under_mpi() -> bool:
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                         "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"))


def _sim_config(net_spec: dict | None, sim_config: Any) -> dict[str, Any]:
    from ..builder import spec_dicts

    base = dict((net_spec or {}).get("simConfig") or {})
    _, override = spec_dicts({}, sim_config)
    base.update(override)
    base.setdefault("duration", 1000.0)
    base.setdefault("dt", 0.025)
    hp = {"celsius": 6.3, "v_init": -65.0, "clamp_resist": 0.001}
    hp.update(base.get("hParams") or {})
    base["hParams"] = hp
    return apply_exact(base)


def _exact_requested(store: Path, sim_config: Any) -> bool:
    """Exact mode asked for by the run's simConfig or the stored one (before the deal)."""
    from ..builder import spec_dicts
    from ..store import read_network

    override = spec_dicts({}, sim_config)[1] if sim_config is not None else {}
    if "nethubExact" in override:
        return is_exact(override)
    spec = read_network(store, gids=np.zeros(0, dtype=np.int64)).spec or {}
    return is_exact(spec.get("simConfig"))


def simulate(model: Any, sim_config: Any = None, nprocs: int = 1,
             output: str | os.PathLike | None = None, timeout: float | None = None,
             overwrite: bool = False, checked: bool = True, *, mod_dirs: Any = None,
             trusted: bool = False, cfg_path: str | os.PathLike | None = None
             ) -> Results | None:
    """Simulate a model and return its results (also written to ``output`` if given).

    Parameters
    ----------
    model : Network, str or Path
        A network, a store, or a NetPyNE-style spec file (built first).
    sim_config : SimConfig, dict or None
        Overrides the simConfig stored with the model.
    nprocs : int
        MPI ranks (>= 1); > 1 launches ``mpiexec``.
    output : path, optional
        Store to write (the input store itself when omitted and the input is a store).
    timeout : float, optional
        Seconds after which the job is stopped (it then runs as a child process, also with
        one rank) and a :class:`~nethub.errors.SimulationError` is raised.
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
    from ..storelock import check_writable

    if int(nprocs) < 1:
        raise SimulationError(f"nprocs must be at least 1, not {nprocs}")
    store = _as_store(model, output, overwrite, mod_dirs, trusted, cfg_path, sim_config)
    out = Path(output) if output is not None else store
    if not _under_mpi():
        check_writable(out, store)  # before NEURON or any rank starts
    if (nprocs > 1 or timeout is not None) and not _under_mpi():
        from ..mechsource import is_trusted, store_mod_files

        trusted = trusted or is_trusted(store_mod_files(store))  # e.g. trusted in this process
        return _launch_mpi(store, sim_config, nprocs, out, timeout, checked, trusted)
    return run_store(store, sim_config, out, checked, trusted=trusted)


def _as_store(model: Any, output, overwrite: bool = False, mod_dirs: Any = None,
              trusted: bool = False, cfg_path: Any = None, sim_config: Any = None) -> Path:
    from ..builder.fromfile import model_file_network
    from ..store import write_network
    from ..storelock import check_writable

    if isinstance(model, Network):
        path = Path(output) if output is not None else Path(tempfile.mkdtemp()) / "model.h5"
        _refuse_existing(path, overwrite, "the network")
        write_network(model, path)
        return path
    path = Path(model)
    if _converts(path):  # a spec or another format: built or imported into a new store
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


def _converts(path: Path) -> bool:
    """Whether running ``path`` first builds or imports it (anything but a canonical store)."""
    from ..builder.fromfile import is_spec_file

    if is_spec_file(path):
        return True
    if not path.is_file():
        return False  # reading it as a store says what is wrong
    from ..formats import guess_format

    return guess_format(path, "read").name != "store"


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


def _launch_mpi(store: Path, sim_config: Any, nprocs: int, out: Path,
                timeout: float | None = None, checked: bool = True, trusted: bool = False
                ) -> Results:
    from ..builder import spec_dicts
    from ..store import read_results
    from .launch import run_job

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
        if sim_config is not None:
            cfg_path = Path(tmp) / "cfg.json"
            cfg_path.write_text(json.dumps(spec_dicts({}, sim_config)[1]))
            cmd += ["--cfg", str(cfg_path)]
        run_job(cmd, neuron_env(), timeout=timeout)
    return read_results(out)


def run_store(store: str | os.PathLike, sim_config: Any = None,
              output: str | os.PathLike | None = None, checked: bool = True, *,
              trusted: bool = False) -> Results | None:
    """Run a store on the ranks of this MPI job; rank 0 writes and returns the results.

    With ``checked`` (default) the store is validated first and refused with the validator's
    findings (:func:`nethub.runcheck.check_store_for_run`); every rank checks all of it.
    Native code among the mechanisms is compiled only when ``trusted`` (or trusted before)."""
    from ..store import read_network
    from ..storelock import check_writable
    from . import record
    from .agree import phase
    from .engine import Engine
    from .launch import watch_launcher
    from .partition import local_gids

    watch_launcher()  # a rank of a launched job ends when its launcher is gone
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    h, pc = _neuron()
    pc.gid_clear()  # what an earlier run in this process registered (gids, gap junction ids)
    rank, nhost = int(pc.id()), int(pc.nhost())
    store = Path(store)
    with phase(pc, "read"):  # every phase ends with the ranks agreeing on errors (agree.py)
        if rank == 0:
            check_writable(Path(output) if output else store, store)
        if checked:
            from ..builder import spec_dicts
            from ..runcheck import check_store_for_run, run_dt

            check_store_for_run(store, run_dt(store, spec_dicts({}, sim_config)[1]))
        net = read_network(store, gids=local_gids(
            store, rank, nhost, exact=_exact_requested(store, sim_config)))
        cfg = _sim_config(net.spec, sim_config)
        check_run_config(cfg)  # dt, duration, recordStep > 0, ... before anything is created
        skipped = check_not_simulated(_net_params_of(net), cfg, "run")
        _check_trust(net, pc, trusted)
    timing["read"] = time.perf_counter() - t0
    t = time.perf_counter()
    with phase(pc, "mechanisms"):
        choice = _choose_engine(h, pc, net, cfg)
    timing["mechanisms"] = time.perf_counter() - t
    t = time.perf_counter()
    with phase(pc, "cells"):
        eng = Engine(h, pc, net, cfg)
        eng.create_cells()
    timing["cells"] = time.perf_counter() - t
    t = time.perf_counter()
    with phase(pc, "connections"):
        n_conns = eng.create_connections()
        n_stims = eng.create_stims()
        n_ptr = eng.create_pointer_conns(_pointer_table(store))
    n_ptr_all = pc.allreduce(n_ptr, 1)
    timing["connections"] = time.perf_counter() - t
    with phase(pc, "setup"):
        _setup_run(h, pc, cfg, choice.core)
        choice = _confirm_engine(h, pc, choice, rank)
        if not choice.core:
            _setup_run(h, pc, cfg)
        from .lfp import LfpRecorder, wants_lfp

        lfp = LfpRecorder(h, pc, eng, cfg) if wants_lfp(cfg) else None  # before traces
        rec = record.Recorder(h, pc, eng, cfg, per_step=choice.core)
        rec.lfp = lfp
        eng.init_v()
    pc.barrier()
    t = time.perf_counter()
    with phase(pc, "run"):
        choice = _solve(h, pc, cfg, rank, choice, gaps=n_ptr_all > 0)
    timing["simulate"] = time.perf_counter() - t
    if cfg.get("printRunTime") and rank == 0:
        logger.warning("run time %.2f s for %s ms", timing["simulate"], cfg["duration"])
    counts = {"conns": pc.allreduce(n_conns, 1), "stims": pc.allreduce(n_stims, 1),
              "pointer_conns": n_ptr_all}
    counts["peak_rss_mb"] = _peak_rss_per_rank(pc, nhost)
    counts.update(choice.meta())
    if skipped:
        counts["not_simulated"] = skipped
    merging = getattr(eng, "merge_report", None) or {}
    counts.update(exactness_meta(cfg, merging, choice.core, log=rank == 0))
    if "total_objects" in merging:
        counts["synapse_objects"] = {"connections": merging["total_connections"],
                                     "objects": merging["total_objects"],
                                     "saved_by_merging": merging["total_saved"]}
    with phase(pc, "gather"):  # gathering and writing (rank 0) interleave
        return rec.gather(net, cfg, timing, counts, Path(output) if output else store, store)


def _net_params_of(net: Network) -> dict:
    """The stored netParams plus the network's rxd document (stores from other formats)."""
    out = dict(((net.spec or {}).get("netParams")) or {})
    if net.rxd:
        out["rxdParams"] = net.rxd
    return out


def _check_trust(net: Network, pc, trusted: bool) -> None:
    from .mechanisms import check_trust

    check_trust(net, pc, trusted)


def _peak_rss_per_rank(pc, nhost: int) -> list[float] | None:
    """Peak resident memory (MB) of every rank so far, gathered to rank 0 (None elsewhere)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return pc.py_gather(rss, 0) if nhost > 1 else [rss]


def _pointer_table(store: Path):
    from ..store import read_whole_table

    table = read_whole_table(store, "pointer_conns")
    return table if len(table) else None


def _choose_engine(h, pc, net: Network, cfg: dict):
    """NEURON or CoreNEURON (simConfig ``nethubCoreneuron``), with the mechanisms loaded for
    it: :mod:`nethub.sim.coreneuron` decides, collectively over the ranks."""
    from . import coreneuron
    from .mechanisms import prepare_mechanisms

    choice = coreneuron.choose_engine(h, pc, net, cfg)
    if not choice.core:
        prepare_mechanisms(h, net, pc)
    return choice


def _confirm_engine(h, pc, choice, rank: int):
    """The choice checked against the built model; rank 0 logs what runs and why."""
    from . import coreneuron

    choice = coreneuron.confirm_engine(h, pc, choice)
    if rank == 0 and choice.core:
        logger.info("simulating on CoreNEURON")
    elif rank == 0 and choice.mode == "auto":
        logger.info("simulating on NEURON, not CoreNEURON: %s", choice.reason)
    return choice


def _solve(h, pc, cfg: dict, rank: int, choice=None, gaps: bool = False):
    """finitialize and psolve, on CoreNEURON when ``choice.core``, with an optional progress
    bar; returns the engine choice (CoreNEURON may refuse the model when it is handed over)."""
    h.finitialize(float(cfg["hParams"]["v_init"]))
    tstop = float(cfg["duration"])
    # every rank steps alike (psolve is collective); only rank 0 on a terminal draws the bar
    stepped = bool(cfg.get("progressBar")) and rank == 0 and sys.stderr.isatty()
    stepped = bool(pc.py_broadcast(stepped, 0)) if int(pc.nhost()) > 1 else stepped
    if choice is not None and choice.core:
        choice = _core_solve(h, pc, cfg, rank, stepped, gaps, choice)
    if choice is None or not choice.core:
        if stepped:
            _progress(pc, [tstop * k / 50 for k in range(1, 51)], tstop, rank)
        else:
            pc.psolve(tstop)
    pc.barrier()
    return choice


def _core_solve(h, pc, cfg: dict, rank: int, stepped: bool, gaps: bool, choice):
    """CoreNEURON's psolve, aimed so that it takes NEURON's time steps; with a progress bar in
    10 chunks, each transferring the model again (2,000 HH cells: ~30 ms a chunk). A model
    CoreNEURON refuses when it is handed over (a hoc error before any step, e.g. a NetCon on a
    voltage without a gid left in this process) falls back to NEURON in 'auto' mode."""
    from dataclasses import replace

    from . import coreneuron

    tstop, dt = float(cfg["duration"]), float(h.dt)
    stops = coreneuron.stop_times(tstop, dt, 10, gaps) if stepped else None
    if stepped and stops is None and rank == 0:
        logger.info("CoreNEURON: no progress bar (%g ms cannot be cut into chunks CoreNEURON "
                    "ends exactly)", tstop)
    stops = stops or coreneuron.stop_times(tstop, dt, 1, gaps)
    if stops is None:
        raise SimulationError(f"CoreNEURON cannot be stopped at NEURON's last step of "
                              f"{tstop:g} ms at dt {dt:g}; run with nethubCoreneuron=False")
    try:
        with coreneuron.enabled(gpu=bool(cfg.get("gpu", False))):
            if len(stops) == 1:
                pc.psolve(stops[0])
            else:
                _progress(pc, stops, tstop, rank)
    except RuntimeError as exc:
        why = f"CoreNEURON refused the model: {str(exc).split('hoc_execerror: ')[-1]}"
        if choice.mode != "auto" or float(h.t) > 0:
            raise SimulationError(why) from exc
        if rank == 0:
            logger.info("simulating on NEURON, not CoreNEURON: %s", why)
        h.finitialize(float(cfg["hParams"]["v_init"]))
        return replace(choice, core=False, reason=why)
    return choice


def _progress(pc, stops: list[float], tstop: float, rank: int) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=tstop, unit="ms", desc="simulate", disable=rank != 0) as bar:
        done = 0.0
        for stop in stops:
            pc.psolve(stop)
            step = min(stop, tstop) - done
            bar.update(step)
            done += step


def _setup_run(h, pc, cfg: dict, core: bool = False) -> None:
    """NetPyNE's preRun: cvode settings, globals, dt, maxstep (CoreNEURON needs
    ``cache_efficient``)."""
    cv = h.CVode()
    cv.active(int(bool(cfg.get("cvode_active", False))))
    cv.cache_efficient(int(core or bool(cfg.get("cache_efficient", False))))
    cv.atol(float(cfg.get("cvode_atol", 0.001)))
    for k, v in cfg["hParams"].items():
        if k != "v_init":
            setattr(h, k, v)
    h.dt = float(cfg["dt"])
    h.tstop = float(cfg["duration"])
    # NetPyNE's rand123GlobalIndex (the global index of every Random123 stream: NetStim noise);
    # set always, so that an earlier run in this process leaves nothing behind
    h.Random().Random123_globalindex(int(cfg.get("rand123GlobalIndex") or 0))
    pc.set_maxstep(10)
    pc.setup_transfer()


def software_versions(h, nhost: int) -> dict[str, Any]:
    from .. import __version__

    return {"nethub": __version__, "neuron": str(h.nrnversion(5)),
            "python": platform.python_version(), "numpy": np.__version__,
            "mpi_ranks": nhost}
