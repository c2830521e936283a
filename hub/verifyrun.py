"""``nethub.verify``: re-simulate a stored run from the store alone and say what differs.

1. **Integrity** (:mod:`nethub.verifycheck`): the store's model documents, .mod sources,
   embedded files, network tables and the run's results are hashed again and compared with
   the hashes the run recorded when it was written; every changed byte is named.
2. **Manifest** (optional, :mod:`nethub.manifest`): the store is compared with a sign-off.
3. **Re-simulation**: the store is copied into a fresh temporary folder and run there by a
   child process (``python -m nethub run COPY --run-config RUN.json``, under ``mpiexec`` for
   more than one rank) with the run's stored :class:`~nethub.runconfig.RunConfig`, its working
   directory and mechanism cache inside that folder, so that the mechanisms are compiled from
   the sources the store carries and nothing of this machine's compiled mechanisms is used.
4. **Comparison** (:mod:`nethub.verifycompare`): spikes bit for bit, traces and LFP within a
   stated tolerance; the software, platform, engine, merging and rank-count differences.

The report (:class:`~nethub.verifyreport.VerifyReport`) is ``ok`` when the results agree and
the store is unaltered.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py

from .errors import SimulationError, StoreError
from .manifest import check_manifest
from .network import Network
from .results import Results
from .runconfig import RunConfig
from .sim import neuron_env
from .sim.launch import run_job
from .specs.runmap import merged_simconfig, runconfig_from_netpyne
from .store import open_store, read_network, read_results
from .verifycheck import MAX_CACHED, integrity_findings, network_trees, read_integrity
from .verifycompare import compare_environment, compare_results, compare_runs
from .verifyreport import VerifyReport

__all__ = ["verify", "DEFAULT_ATOL", "DEFAULT_RTOL"]

logger = logging.getLogger(__name__)

#: default tolerance of traces and LFP: |new - old| <= atol + rtol |old| (mV, nA, ...)
DEFAULT_ATOL = 1e-9
DEFAULT_RTOL = 1e-9

#: the child's program: enter the clean folder, then run the nethub command line (fixed text,
#: no user input)
_CHILD = ("import os, sys; os.chdir(sys.argv[1]); from nethub.cli import main; "
          "sys.exit(main(sys.argv[2:]))")


def verify(store: str | os.PathLike, run: str | int | None = None, *, nprocs: int | None = None,
           manifest: str | os.PathLike | None = None, atol: float = DEFAULT_ATOL,
           rtol: float = DEFAULT_RTOL, trusted: bool = False, shared_cache: bool = False,
           timeout: float | None = None, simulate: bool = True) -> VerifyReport:
    """Re-simulate a stored run and compare it with what the store holds.

    Parameters
    ----------
    store : path-like
        A nethub store with at least one run.
    run : str or int, optional
        The run's name or position (default: the latest run).
    nprocs : int, optional
        MPI ranks for the re-run (default: the original run's count, at most this machine's
        CPUs). Results are rank-invariant; the report says when the count differs.
    manifest : path-like, optional
        A manifest (``nethub manifest``) the store must match.
    atol, rtol : float
        Tolerance of traces and LFP: ``|new - old| <= atol + rtol |old|``. Spikes are always
        compared bit for bit.
    trusted : bool
        Compile native code (VERBATIM) among the store's .mod sources (``--trust``).
    shared_cache : bool
        Use this machine's cache of compiled mechanisms (faster) instead of compiling the
        store's sources afresh in the temporary folder.
    timeout : float, optional
        Seconds after which the re-run is stopped (and the report says so).
    simulate : bool
        ``False`` checks integrity and manifest only (no re-run).

    Returns
    -------
    VerifyReport
        ``report.ok`` is False when results differ, the store was altered, or the re-run
        failed; ``report.to_dict()`` is its JSON form, ``report.text()`` the human one.
    """
    path = Path(store)
    name, old = _stored_run(path, run)
    report = VerifyReport(store=str(path), run=name, tolerance={"atol": atol, "rtol": rtol})
    t0 = time.perf_counter()
    current = _check_integrity(path, name, report)
    if manifest is not None:
        report.manifest = check_manifest(manifest, path, current)
        report.manifest_file = str(manifest)
    report.timing["integrity"] = time.perf_counter() - t0
    if not simulate:
        report.notes.append("not re-simulated (integrity and manifest checks only)")
        return report.finish()
    config, how = _run_config(path, old)
    if how:
        report.notes.append(how)
    ranks = nprocs or min(old.nranks or 1, os.cpu_count() or 1)
    config = RunConfig.from_dict({**config.to_dict(), "nranks": int(ranks), "timeout": None})
    t = time.perf_counter()
    try:
        new, env = _rerun(path, config, current, trusted, shared_cache, timeout)
    except (SimulationError, StoreError) as exc:
        report.rerun_error = str(exc)
        return report.finish()
    report.timing["rerun"] = time.perf_counter() - t
    t = time.perf_counter()
    report.results = compare_results(old, new, atol, rtol)
    report.changes = compare_runs(old, new)
    report.environment = compare_environment(_env_of(path, name, old), {**new.versions, **env})
    if old.nranks != new.nranks:
        report.notes.append(f"re-run on {new.nranks} rank(s), the original on {old.nranks}: "
                            "results are rank-invariant, so they must still agree")
    report.rerun = {"nranks": new.nranks, "engine": new.meta.get("engine"),
                    "clean_mechanism_build": not shared_cache,
                    "simulate_seconds": new.timing.get("simulate")}
    report.timing["compare"] = time.perf_counter() - t
    return report.finish()


def _stored_run(path: Path, run: str | int | None) -> tuple[str, Results]:
    res = read_results(path, -1 if run is None else run)
    return str(res.name), res


def _check_integrity(path: Path, name: str, report: VerifyReport) -> dict:
    """The recorded hashes of the run against the store now; returns the current trees
    (handed to the re-run's copy so that it need not hash the network again)."""
    with open_store(path) as f:
        current = network_trees(f, cache=False)
        findings = integrity_findings(f, [name], current)
        recorded = read_integrity(f["results"][name])
        run_hash = f["results"][name].attrs.get("network_hash", "")
    run_hash = run_hash.decode() if isinstance(run_hash, bytes) else str(run_hash)
    network_changed = any(x["where"].startswith(("/model", "/network")) for x in findings)
    if recorded is not None and not network_changed and run_hash:
        # the digests cover every byte the content hash does: it is the run's
        current["content_hash"] = run_hash
    else:
        _check_content_hash(path, name, run_hash, current, findings)
    report.integrity = [x for x in findings if x["level"] == "error"]
    report.notes += [x["what"] for x in findings if x["level"] != "error"]
    report.integrity_recorded = recorded is not None
    report.hashes = {k: recorded[k] for k in ("model_sha256", "network_sha256",
                                              "results_sha256")} if recorded else {}
    return current


def _check_content_hash(path: Path, name: str, run_hash: str, current: dict,
                        findings: list) -> None:
    """Recompute the network's content hash (a run without digests, or a changed network)
    and compare it with the run's."""
    try:
        current["content_hash"] = read_network(path).content_hash()
    except StoreError as exc:  # e.g. an embedded file that no longer matches its sha256
        findings.append({"level": "error", "run": name, "where": "/", "what": str(exc)})
        return
    if run_hash and run_hash != current["content_hash"]:
        findings.append({"level": "error", "run": name, "where": "/network", "what": (
            f"the network's content hash is {current['content_hash'][:16]}..., the run "
            f"recorded {run_hash[:16]}...: the network was changed after the run")})


def _run_config(path: Path, old: Results) -> tuple[RunConfig, str]:
    """The run's stored RunConfig; for a run stored before RunConfigs were, the model's
    simConfig updated with the run's simConfig, mapped as ``nethub run`` maps it."""
    if old.run_config:
        return RunConfig.from_dict(old.run_config, "stored run_config"), ""
    net: Network = read_network(path, gids=[])
    cfg = merged_simconfig((net.spec or {}).get("simConfig"), old.sim_config or {})
    return runconfig_from_netpyne(cfg), ("the run was stored without its RunConfig: re-created "
                                         "from the model's and the run's simConfig")


def _env_of(path: Path, name: str, old: Results) -> dict[str, Any]:
    with open_store(path) as f:
        doc = read_integrity(f["results"][name]) or {}
    return {**old.versions, **doc.get("environment", {})}


def _rerun(path: Path, config: RunConfig, trees: dict, trusted: bool, shared_cache: bool,
           timeout: float | None) -> tuple[Results, dict]:
    """Run the store's copy in a fresh temporary folder; the new run and its environment."""
    with tempfile.TemporaryDirectory(prefix="nethub-verify-") as tmp:
        work = Path(tmp)
        copy = work / "store.h5"
        shutil.copyfile(path, copy)
        _fresh_hashes(copy, trees)
        cfg = work / "run_config.json"
        cfg.write_text(config.to_json())
        level = logging.getLogger("nethub").getEffectiveLevel()  # the child logs as this
        verbose = ["-vv"] if level <= logging.DEBUG else ["-v"] if level <= logging.INFO else []
        cmd = [sys.executable, "-c", _CHILD, str(work), *verbose, "run", str(copy),
               "--run-config", str(cfg)] + (["--trust"] if trusted else [])
        if config.nranks > 1:
            cmd = [_mpiexec(), "-n", str(config.nranks), *cmd]
        env = _child_env()
        if not shared_cache:
            env["NETHUB_CACHE"] = str(work / "cache")
        log = io.StringIO()
        try:
            run_job(cmd, env, timeout=timeout, output=log)
        finally:
            logger.debug("re-run output:\n%s", log.getvalue())
        new = read_results(copy, -1)
        with open_store(copy) as f:
            env_doc = (read_integrity(f["results"][str(new.name)]) or {}).get("environment", {})
    return new, env_doc


#: variables that make a process a rank of the current MPI job: the re-run is a job of its own
_MPI_PREFIXES = ("PMI_", "PMIX_", "HYDRA_", "MPI_LOCAL", "OMPI_")


def _child_env() -> dict[str, str]:
    """NEURON's environment without this process's MPI job and without mechanism libraries
    chosen by the user (the store's own sources are compiled)."""
    env = {k: v for k, v in neuron_env().items() if not k.startswith(_MPI_PREFIXES)}
    env.pop("NRNMECH_LIB_PATH", None)
    return env


def _fresh_hashes(copy: Path, trees: dict) -> None:
    """The copy's cached network hashes replaced by the ones just computed (a store edited
    after its hashes were cached must not hand the re-run the old ones)."""
    with h5py.File(copy, "r+") as f:
        if "content_hash" in trees:
            f["network"].attrs["content_hash"] = trees["content_hash"]
        else:
            f["network"].attrs.pop("content_hash", None)  # recomputed by the re-run
        text = json.dumps({k: trees[k] for k in ("model", "network")}, separators=(",", ":"))
        if len(text) <= MAX_CACHED:
            f["network"].attrs["integrity"] = text
        else:
            f["network"].attrs.pop("integrity", None)  # recomputed by the re-run


def _mpiexec() -> str:
    exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        raise SimulationError("mpiexec not found: pip install 'nethub[mpi]'")
    return exe
