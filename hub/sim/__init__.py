"""Simulate a canonical store in NEURON on 1 or N MPI ranks and write the results back.

``nethub.sim.simulate(model, sim_config=None, nprocs=1)`` runs in this process (or, with
``nprocs > 1``, launches ``mpiexec -n N python -m nethub run ...``). Under MPI each rank reads
only its own cells and their incoming connections from the store (see
:mod:`nethub.sim.distribute` for the dealing scheme).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SimulationError
from ..network import Network
from ..results import TRACE_COLUMNS, Results, Traces
from ..table import Categorical, Table

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
    try:
        from neuron import h
    except ImportError as exc:
        raise SimulationError("simulating needs NEURON: pip install 'nethub[neuron]'") from exc
    if _under_mpi():
        h.nrnmpi_init()
    h.load_file("stdrun.hoc")
    pc = h.ParallelContext()
    _STATE.update(h=h, pc=pc)
    return h, pc


def _under_mpi() -> bool:
    return any(k in os.environ for k in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                         "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD"))


def _sim_config(net_spec: dict | None, sim_config: Any) -> dict[str, Any]:
    from ..build import spec_dicts

    base = dict((net_spec or {}).get("simConfig") or {})
    _, override = spec_dicts({}, sim_config)
    base.update(override)
    base.setdefault("duration", 1000.0)
    base.setdefault("dt", 0.025)
    hp = {"celsius": 6.3, "v_init": -65.0, "clamp_resist": 0.001}
    hp.update(base.get("hParams") or {})
    base["hParams"] = hp
    return base


def simulate(model: Any, sim_config: Any = None, nprocs: int = 1,
             output: str | os.PathLike | None = None) -> Results | None:
    """Simulate a model and return its results (also written to ``output`` if given).

    Parameters
    ----------
    model : Network, str or Path
        A network, a store, or a NetPyNE-style spec file (built first).
    sim_config : SimConfig, dict or None
        Overrides the simConfig stored with the model.
    nprocs : int
        MPI ranks; > 1 launches ``mpiexec``.
    output : path, optional
        Store to write (the input store itself when omitted and the input is a store).

    Returns
    -------
    Results or None
        The results; ``None`` on MPI ranks other than 0 when called inside an MPI job.
    """
    store = _as_store(model, output)
    out = Path(output) if output is not None else store
    if nprocs > 1 and not _under_mpi():
        return _launch_mpi(store, sim_config, nprocs, out)
    return run_store(store, sim_config, out)


def _as_store(model: Any, output) -> Path:
    from ..store import write_network

    if isinstance(model, Network):
        path = Path(output) if output is not None else Path(tempfile.mkdtemp()) / "model.h5"
        write_network(model, path)
        return path
    path = Path(model)
    if path.suffix in (".py", ".json"):
        from ..build import build
        from ..specs import load_spec

        net_params, cfg = load_spec(path)
        target = Path(output) if output is not None else path.with_suffix(".h5")
        write_network(build(net_params, cfg), target)
        return target
    return path


def _launch_mpi(store: Path, sim_config: Any, nprocs: int, out: Path) -> Results:
    from ..build import spec_dicts
    from ..store import read_results

    exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        raise SimulationError("mpiexec not found: pip install 'nethub[mpi]'")
    cmd = [exe, "-n", str(nprocs), sys.executable, "-m", "nethub", "run", str(store),
           "-o", str(out)]
    with tempfile.TemporaryDirectory() as tmp:
        if sim_config is not None:
            cfg_path = Path(tmp) / "cfg.json"
            cfg_path.write_text(json.dumps(spec_dicts({}, sim_config)[1]))
            cmd += ["--cfg", str(cfg_path)]
        proc = subprocess.run(cmd, env=neuron_env(), capture_output=True, text=True,
                              check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise SimulationError(f"MPI run failed ({' '.join(cmd)}):\n{tail}")
    return read_results(out)


def run_store(store: str | os.PathLike, sim_config: Any = None,
              output: str | os.PathLike | None = None) -> Results | None:
    """Run a store on the ranks of this MPI job; rank 0 writes and returns the results."""
    from ..store import read_network
    from . import record
    from .engine import Engine
    from .mechanisms import prepare_mechanisms
    from .partition import local_gids

    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    h, pc = _neuron()
    rank, nhost = int(pc.id()), int(pc.nhost())
    store = Path(store)
    gids = local_gids(store, rank, nhost)
    net = read_network(store, gids=gids)
    cfg = _sim_config(net.spec, sim_config)
    timing["read"] = time.perf_counter() - t0
    t = time.perf_counter()
    prepare_mechanisms(h, net)
    eng = Engine(h, pc, net, cfg)
    eng.create_cells()
    timing["cells"] = time.perf_counter() - t
    t = time.perf_counter()
    n_conns = eng.create_connections()
    n_stims = eng.create_stims()
    n_ptr = eng.create_pointer_conns(_pointer_table(store))
    timing["connections"] = time.perf_counter() - t
    rec = record.Recorder(h, pc, eng, cfg)
    _setup_run(h, pc, cfg)
    eng.init_v()
    pc.barrier()
    t = time.perf_counter()
    _solve(h, pc, cfg, rank)
    timing["simulate"] = time.perf_counter() - t
    if cfg.get("printRunTime") and rank == 0:
        logger.warning("run time %.2f s for %s ms", timing["simulate"], cfg["duration"])
    counts = {"conns": pc.allreduce(n_conns, 1), "stims": pc.allreduce(n_stims, 1),
              "pointer_conns": pc.allreduce(n_ptr, 1)}
    counts["peak_rss_mb"] = _peak_rss_per_rank(pc, nhost)
    results = rec.gather(net, cfg, timing, counts, Path(output) if output else store, store)
    return results


def _peak_rss_per_rank(pc, nhost: int) -> list[float] | None:
    """Peak resident memory (MB) of every rank so far, gathered to rank 0 (None elsewhere)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    return pc.py_gather(rss, 0) if nhost > 1 else [rss]


def _pointer_table(store: Path):
    from ..store import read_whole_table

    table = read_whole_table(store, "pointer_conns")
    return table if len(table) else None


def _solve(h, pc, cfg: dict, rank: int) -> None:
    """finitialize and psolve, on CoreNEURON when asked, with an optional progress bar."""
    if cfg.get("coreneuron"):
        try:
            from neuron import coreneuron
        except ImportError as exc:
            raise SimulationError("cfg.coreneuron is set but this NEURON has no CoreNEURON"
                                  ) from exc
        h.CVode().cache_efficient(1)
        coreneuron.enable = True
        coreneuron.gpu = bool(cfg.get("gpu", False))
    h.finitialize(float(cfg["hParams"]["v_init"]))
    tstop = float(cfg["duration"])
    # every rank steps alike (psolve is collective); only rank 0 on a terminal draws the bar
    stepped = bool(cfg.get("progressBar")) and not cfg.get("coreneuron") and (
        rank == 0 and sys.stderr.isatty())
    stepped = bool(pc.py_broadcast(stepped, 0)) if int(pc.nhost()) > 1 else stepped
    if not stepped:
        pc.psolve(tstop)
    else:
        from tqdm.auto import tqdm

        steps = 50
        with tqdm(total=tstop, unit="ms", desc="simulate",
                  disable=rank != 0) as bar:
            for k in range(1, steps + 1):
                pc.psolve(tstop * k / steps)
                bar.update(tstop / steps)
    pc.barrier()
    if cfg.get("coreneuron"):
        from neuron import coreneuron

        coreneuron.enable = False


def _setup_run(h, pc, cfg: dict) -> None:
    """NetPyNE's preRun: cvode settings, globals, dt, maxstep."""
    cv = h.CVode()
    cv.active(int(bool(cfg.get("cvode_active", False))))
    cv.cache_efficient(int(bool(cfg.get("cache_efficient", False))))
    cv.atol(float(cfg.get("cvode_atol", 0.001)))
    for k, v in cfg["hParams"].items():
        if k != "v_init":
            setattr(h, k, v)
    h.dt = float(cfg["dt"])
    h.tstop = float(cfg["duration"])
    pc.set_maxstep(10)
    pc.setup_transfer()


def software_versions(h, nhost: int) -> dict[str, Any]:
    from .. import __version__

    return {"nethub": __version__, "neuron": str(h.nrnversion(5)),
            "python": platform.python_version(), "numpy": np.__version__,
            "mpi_ranks": nhost}


def empty_traces() -> Traces:
    return Traces(Table(schema=TRACE_COLUMNS), np.zeros(0), np.zeros((0, 0)))


def trace_index(labels, gids, secs, locs, variables) -> Table:
    return Table({"label": Categorical.from_values(labels),
                  "gid": np.asarray(gids, dtype=np.int64),
                  "sec": Categorical.from_values(secs),
                  "loc": np.asarray(locs, dtype=np.float64),
                  "var": Categorical.from_values(variables)}, TRACE_COLUMNS)
