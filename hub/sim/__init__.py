"""Simulate a canonical store in NEURON on the ranks of this process's MPI job.

:func:`run_store` takes a store and a :class:`~nethub.runconfig.RunConfig` and writes the run
back. Each rank reads only its own cells and their incoming connections from the store (see
:mod:`nethub.sim.distribute` for the dealing scheme). Building specs, reading other formats,
mapping their run documents onto a RunConfig and launching ``mpiexec`` happen at the faces
(:func:`nethub.simulate`, :mod:`nethub.runner`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import SimulationError
from ..network import Network
from ..results import Results
from ..runcheck import check_store_for_run
from ..runconfig import RunConfig
from ..store import read_network, read_whole_table
from ..storelock import check_writable
from . import coreneuron, randomids, record, templatecells
from .agree import phase
from .engine import Engine
from .exact import exactness_meta
from .launch import watch_launcher
from .lfp import LfpRecorder
from .mechanisms import check_trust, prepare_mechanisms
from .mechorigin import note_store
from .partition import local_gids
from .record import software_versions

__all__ = ["run_store", "neuron_env", "under_mpi", "software_versions"]

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


def under_mpi() -> bool:
    """Whether this process is a rank of an MPI job (its launcher set the PMI variables)."""
    return _under_mpi()


def _under_mpi() -> bool:
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                         "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"))


def run_store(store: str | os.PathLike, config: RunConfig,
              output: str | os.PathLike | None = None, checked: bool = True, *,
              trusted: bool = False) -> Results | None:
    """Run a store on the ranks of this MPI job; rank 0 writes and returns the results.

    Parameters
    ----------
    store : path-like
        The canonical store to simulate.
    config : RunConfig
        What the run does (the faces map simConfig and other run documents onto it).
    output : path-like, optional
        Store to write (a copy of ``store`` plus the run); ``store`` itself when omitted.
    checked : bool
        Validate the store first and refuse it with the validator's findings
        (:func:`nethub.runcheck.check_store_for_run`); every rank checks all of it.
    trusted : bool
        Compile native code among the mechanisms (or trusted before).

    Returns
    -------
    Results or None
        The run on rank 0; None on the other ranks.
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"run_store needs a RunConfig, not {type(config).__name__} (map "
                        "a simConfig with nethub.specs.runmap.runconfig_from_netpyne)")
    watch_launcher()  # a rank of a launched job ends when its launcher is gone
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    h, pc = _neuron()
    pc.gid_clear()  # what an earlier run in this process registered (gids, gap junction ids)
    rank, nhost = int(pc.id()), int(pc.nhost())
    store = Path(store)
    note_store(store)  # named in a mechanism clash (mechorigin.py)
    with phase(pc, "read"):  # every phase ends with the ranks agreeing on errors (agree.py)
        if rank == 0:
            check_writable(Path(output) if output else store, store)
        if checked:  # delays below dt are fine: their cells share a rank (colocate.py)
            check_store_for_run(store)
        net = read_network(store, gids=local_gids(store, rank, nhost, config.cost_model,
                                                  config.exact, config.merge_synapses,
                                                  config.dt))
        _check_trust(net, pc, trusted)
    timing["read"] = time.perf_counter() - t0
    t = time.perf_counter()
    with phase(pc, "mechanisms"):
        choice = _choose_engine(h, pc, net, config)
    timing["mechanisms"] = time.perf_counter() - t
    t = time.perf_counter()
    with phase(pc, "cells"):
        eng = Engine(h, pc, net, config)
        eng.create_cells()
    timing["cells"] = time.perf_counter() - t
    t = time.perf_counter()
    with phase(pc, "connections"):
        n_conns = eng.create_connections()
        n_stims = eng.create_stims()
        randomids.seed_random_sources(eng.cells, int(config.seed(randomids.SEED_NAME)),
                                      randomids.rewritten_mechanisms(net.mod_files))
        n_ptr = eng.create_pointer_conns(_pointer_table(store))
    n_ptr_all = pc.allreduce(n_ptr, 1)
    timing["connections"] = time.perf_counter() - t
    with phase(pc, "setup"):
        _setup_run(h, pc, config, choice.core)
        choice = _confirm_engine(h, pc, choice, rank)
        if not choice.core:
            _setup_run(h, pc, config)
        lfp = LfpRecorder(h, pc, eng, config) if config.lfp.wanted() else None  # before traces
        rec = record.Recorder(h, pc, eng, config, per_step=choice.core)
        rec.lfp = lfp
        eng.init_v()
    pc.barrier()
    t = time.perf_counter()
    with phase(pc, "run"):
        choice = _solve(h, pc, config, rank, choice, gaps=n_ptr_all > 0)
    timing["simulate"] = time.perf_counter() - t
    if config.print_run_time and rank == 0:
        logger.warning("run time %.2f s for %g ms", timing["simulate"], config.duration)
    counts = {"conns": pc.allreduce(n_conns, 1), "stims": pc.allreduce(n_stims, 1),
              "pointer_conns": n_ptr_all}
    counts["peak_rss_mb"] = _peak_rss_per_rank(pc, nhost)
    counts.update(choice.meta())
    counts.update(config.run_meta)
    merging = getattr(eng, "merge_report", None) or {}
    counts.update(exactness_meta(config.exact, merging, choice.core, log=rank == 0))
    if "total_objects" in merging:
        counts["synapse_objects"] = {"connections": merging["total_connections"],
                                     "objects": merging["total_objects"],
                                     "saved_by_merging": merging["total_saved"]}
    with phase(pc, "gather"):  # gathering and writing (rank 0) interleave
        return rec.gather(net, config, timing, counts, Path(output) if output else store, store)


def _check_trust(net: Network, pc, trusted: bool) -> None:
    check_trust(net, pc, trusted)
    templatecells.check_trust(net, trusted)  # cell types that run their template


def _peak_rss_per_rank(pc, nhost: int) -> list[float] | None:
    """Peak resident memory (MB) of every rank so far, gathered to rank 0 (None elsewhere)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return pc.py_gather(rss, 0) if nhost > 1 else [rss]


def _pointer_table(store: Path):
    table = read_whole_table(store, "pointer_conns")
    return table if len(table) else None


def _choose_engine(h, pc, net: Network, config: RunConfig):
    """NEURON or CoreNEURON (``RunConfig.engine``), with the mechanisms loaded for
    it: :mod:`nethub.sim.coreneuron` decides, collectively over the ranks."""
    choice = coreneuron.choose_engine(h, pc, net, config)
    if not choice.core:
        prepare_mechanisms(h, net, pc)
    return choice


def _confirm_engine(h, pc, choice, rank: int):
    """The choice checked against the built model; rank 0 logs what runs and why."""
    choice = coreneuron.confirm_engine(h, pc, choice)
    if rank == 0 and choice.core:
        logger.info("simulating on CoreNEURON")
    elif rank == 0 and choice.mode == "auto":
        logger.info("simulating on NEURON, not CoreNEURON: %s", choice.reason)
    return choice


def _solve(h, pc, config: RunConfig, rank: int, choice=None, gaps: bool = False):
    """finitialize and psolve, on CoreNEURON when ``choice.core``, with an optional progress
    bar; returns the engine choice (CoreNEURON may refuse the model when it is handed over)."""
    h.finitialize(config.v_init)
    tstop = config.duration
    # every rank steps alike (psolve is collective); only rank 0 on a terminal draws the bar
    stepped = config.progress_bar and rank == 0 and sys.stderr.isatty()
    stepped = bool(pc.py_broadcast(stepped, 0)) if int(pc.nhost()) > 1 else stepped
    if choice is not None and choice.core:
        choice = _core_solve(h, pc, config, rank, stepped, gaps, choice)
    if choice is None or not choice.core:
        if stepped:
            _progress(pc, [tstop * k / 50 for k in range(1, 51)], tstop, rank)
        else:
            pc.psolve(tstop)
    pc.barrier()
    return choice


def _core_solve(h, pc, config: RunConfig, rank: int, stepped: bool, gaps: bool, choice):
    """CoreNEURON's psolve, aimed so that it takes NEURON's time steps; with a progress bar in
    10 chunks, each transferring the model again (2,000 HH cells: ~30 ms a chunk). A model
    CoreNEURON refuses when it is handed over (a hoc error before any step, e.g. a NetCon on a
    voltage without a gid left in this process) falls back to NEURON in 'auto' mode."""
    tstop, dt = config.duration, float(h.dt)
    stops = coreneuron.stop_times(tstop, dt, 10, gaps) if stepped else None
    if stepped and stops is None and rank == 0:
        logger.info("CoreNEURON: no progress bar (%g ms cannot be cut into chunks CoreNEURON "
                    "ends exactly)", tstop)
    stops = stops or coreneuron.stop_times(tstop, dt, 1, gaps)
    if stops is None:
        raise SimulationError(f"CoreNEURON cannot be stopped at NEURON's last step of "
                              f"{tstop:g} ms at dt {dt:g}; run with nethubCoreneuron=False")
    try:
        with coreneuron.enabled(gpu=config.gpu):
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
        h.finitialize(config.v_init)
        return replace(choice, core=False, reason=why)
    return choice


def _progress(pc, stops: list[float], tstop: float, rank: int) -> None:
    from tqdm.auto import tqdm  # only with a progress bar: tqdm.auto costs ~0.1 s to import

    with tqdm(total=tstop, unit="ms", desc="simulate", disable=rank != 0) as bar:
        done = 0.0
        for stop in stops:
            pc.psolve(stop)
            step = min(stop, tstop) - done
            bar.update(step)
            done += step


def _setup_run(h, pc, config: RunConfig, core: bool = False) -> None:
    """NetPyNE's preRun: cvode settings, globals, dt, maxstep (CoreNEURON needs
    ``cache_efficient``)."""
    cv = h.CVode()
    cv.active(int(config.cvode_active))
    cv.cache_efficient(int(core or config.cache_efficient))
    cv.atol(config.cvode_atol)
    for k, v in config.hoc_globals().items():
        if k != "v_init":
            setattr(h, k, v)
    h.dt = config.dt
    h.tstop = config.duration
    # the global index of every Random123 stream (NetStim noise); set always, so that an
    # earlier run in this process leaves nothing behind
    h.Random().Random123_globalindex(config.random123_global_index)
    # NetPyNE's 10 ms, but above dt: NEURON refuses a fixed step not below the usable
    # mindelay ("usable mindelay is 0"), e.g. LEMS Ex9's 10 ms step without connections
    pc.set_maxstep(max(10.0, 2.0 * config.dt))
    pc.setup_transfer()
