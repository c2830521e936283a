"""Any run of any store as SONATA results, and results keyed by (population, node_id).

* :func:`cell_keys` -- every cell's SONATA ``(population, node_id)``: the ``sonata.population``
  / ``sonata.node_id`` columns of an imported circuit; for other stores the population and the
  cell's position in it (gid order), the ids nethub's SONATA export gives them.
* :func:`spikes_by_node` -- a run's spikes as ``population``, ``node_id``, ``timestamp``.
* :func:`write_run_outputs` -- a run's spikes as a SONATA ``spikes.h5`` (``/spikes/<population>``
  with ``node_ids``, ``timestamps``, ``sorting``, ``units``) and its traces as SONATA element
  reports (one file per report), where a SONATA simulation config's ``output`` puts them
  (``RunConfig.extras['output_files']`` entries of format ``"sonata"``) or in a folder the
  caller names.

File layer: reads the store through :mod:`nethub.store`, writes through :mod:`.spikes` and
:mod:`.reports` (atomic, both dialects).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CompartmentalCell
from nethub.errors import FormatError
from nethub.h5table import read_table
from nethub.network import TABLE_SCHEMAS
from nethub.results import Results, Traces
from nethub.store import open_store, read_network, read_results

from .frames import before_end
from .reports import ReportPopulation, write_report
from .spikes import SORTING_ENUM, write_spikes

__all__ = ["cell_keys", "spikes_by_node", "write_run_outputs", "write_run", "run_spikes",
           "sonata_output", "OUTPUT_FORMAT"]

log = logging.getLogger(__name__)

#: ``format`` of the ``RunConfig.extras['output_files']`` entries of a SONATA ``output``
OUTPUT_FORMAT = "sonata"
#: trace labels of SONATA reports (``converters/sonata_sim.py``)
_REPORT_PREFIX = "sonata:"
#: BMTK's ``spikes_sort_order`` values -> the writer's sorting
_SORT = {"time": "by_time", "by_time": "by_time", "id": "by_id", "gid": "by_id",
         "node_id": "by_id", "by_id": "by_id", "none": "none", None: "by_time"}


def cell_keys(store: str | os.PathLike) -> pd.DataFrame:
    """Every cell's gid and SONATA key.

    Returns
    -------
    DataFrame
        ``gid``, ``population`` (str), ``node_id`` (int64), in gid order.
    """
    with open_store(store) as f:
        cells = read_table(f["network/cells"], TABLE_SCHEMAS["cells"]).to_pandas()
    gid = cells["gid"].to_numpy(np.int64)
    if "sonata.population" in cells and "sonata.node_id" in cells:
        pop = cells["sonata.population"].astype(object).where(
            cells["sonata.population"].notna(), cells["pop"].astype(object))
        node = cells["sonata.node_id"].to_numpy(np.int64)
        missing = pd.isna(cells["sonata.population"]).to_numpy()
    else:
        pop, node, missing = cells["pop"].astype(object), np.zeros(len(cells), np.int64), \
            np.ones(len(cells), bool)
    if missing.any():  # cells without a SONATA key: their position in their population
        rank = cells.groupby(cells["pop"].astype(str), sort=False).cumcount().to_numpy()
        node = np.where(missing, rank, node)
    return pd.DataFrame({"gid": gid, "population": pop.astype(str).to_numpy(),
                         "node_id": node.astype(np.int64)})


def _keys_of(keys: pd.DataFrame, gids: np.ndarray, where: str
             ) -> tuple[np.ndarray, np.ndarray]:
    """(population, node_id) arrays of ``gids`` (vectorized lookup in gid-sorted ``keys``)."""
    pos, bad = _lookup(keys, gids)
    if np.any(bad):
        raise FormatError(f"{where}: gids {np.unique(gids[bad])[:5].tolist()} are not cells of "
                          "the store")
    return keys["population"].to_numpy()[pos], keys["node_id"].to_numpy()[pos]


def _lookup(keys: pd.DataFrame, gids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``gids`` in gid-sorted ``keys`` and where they are missing."""
    sorted_gids = keys["gid"].to_numpy()
    if not len(sorted_gids):
        return np.zeros(len(gids), np.int64), np.ones(len(gids), bool)
    pos = np.minimum(np.searchsorted(sorted_gids, gids), len(sorted_gids) - 1)
    return pos, sorted_gids[pos] != gids


def spikes_by_node(store: str | os.PathLike, run: int | str = -1) -> pd.DataFrame:
    """A run's spikes keyed by SONATA ``(population, node_id)``.

    Parameters
    ----------
    store : path-like
    run : int or str
        Run name or position (``-1``: the latest).

    Returns
    -------
    DataFrame
        ``population``, ``node_id``, ``timestamp`` (ms), sorted by time then population and
        node id.
    """
    res = read_results(store, run)
    pop, node = _keys_of(cell_keys(store), res.spike_gids, f"{store}: run {run}")
    out = pd.DataFrame({"population": pop, "node_id": node, "timestamp": res.spike_times})
    return out.sort_values(["timestamp", "population", "node_id"], kind="stable",
                           ignore_index=True)


def write_run_outputs(store: str | os.PathLike, run: int | str = -1,
                      out_dir: str | os.PathLike | None = None, *,
                      spikes_file: str | None = None, sort: str | None = None
                      ) -> dict[str, Path]:
    """Write a run of a store as SONATA output files.

    Parameters
    ----------
    store : path-like
    run : int or str
        Run name or position (``-1``: the latest).
    out_dir : path-like, optional
        Folder for the files; default: where the run's SONATA simulation config puts them
        (``output.output_dir``), else an error.
    spikes_file : str, optional
        Spikes file name (default: the config's, else ``spikes.h5``).
    sort : str, optional
        ``"time"``, ``"id"`` or ``"none"`` (default: the config's ``spikes_sort_order``,
        else by time).

    Returns
    -------
    dict
        ``"spikes"`` and each report's name -> the file written (traces that are not evenly
        sampled are logged and not written).
    """
    res = read_results(store, run)
    output = sonata_output(res.run_config)
    if out_dir is None and not output.get("output_dir"):
        raise FormatError(f"{store}: run {run} has no SONATA output folder (it was not run "
                          "from a SONATA simulation config); name one")
    folder = Path(out_dir) if out_dir is not None else Path(output["output_dir"])
    spath = folder / spikes_file if spikes_file else (
        Path(output["spikes_file"]) if out_dir is None and output.get("spikes_file")
        else folder / "spikes.h5")
    order = _SORT.get(sort if sort is not None else output.get("spikes_sort_order"))
    if order is None or order not in SORTING_ENUM:
        raise FormatError(f"unknown spike sort order {sort!r} (valid: time, id, none)")
    named = {k: Path(v) for k, v in (output.get("reports") or {}).items()} \
        if out_dir is None else {}
    lost: list[str] = []
    keys, types = _store_keys(store, res)
    written = write_run(folder, res, keys, cell_types=types, spikes_path=spath, order=order,
                        report_paths=named, lost=lost, where=str(store))
    for line in lost:
        log.warning("%s: %s", store, line)
    return written


def write_run(folder: str | os.PathLike, res: Results, keys: pd.DataFrame, *,
              cell_types: Mapping[str, Any] | None = None, spikes_path: Path | None = None,
              order: str = "by_time", report_paths: Mapping[str, Path] | None = None,
              strict: bool = True, lost: list[str] | None = None, where: str = ""
              ) -> dict[str, Path]:
    """Write one run as SONATA results: ``spikes.h5`` and one element report per trace label.

    The one SONATA results writer (``nethub sonata-results``, ``nethub run CONFIG`` and the
    SONATA export's ``runs=`` all use it).

    Parameters
    ----------
    folder : path-like
    res : Results
    keys : DataFrame
        ``gid``, ``population``, ``node_id`` of every cell, in gid order, and ``cell_type``
        (for the element ids; without it every element id is 0).
    cell_types : mapping, optional
        Cell type name -> cell type: a trace's element id is its section's position in its
        cell type (the section order of an exported HOC template and of
        ``afferent_section_id``); 0 for point cells and unknown sections.
    spikes_path : Path, optional
        Default ``folder/spikes.h5``.
    order : str
        ``by_time``, ``by_id`` or ``none``.
    report_paths : mapping, optional
        Report name -> path (default ``folder/<name>.h5``; the name is the trace label without
        the ``sonata:`` prefix of imported reports).
    strict : bool
        Spikes of gids that are no key are an error (else left out).
    lost : list of str, optional
        Receives the traces not written (not evenly sampled).
    where : str
        Names the source in errors.

    Returns
    -------
    dict
        ``"spikes"`` and each report's name -> the file written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spath = spikes_path if spikes_path is not None else folder / "spikes.h5"
    written = {"spikes": _write_spikes(spath, res, keys, order, where, strict)}
    named = dict(report_paths or {})
    for label, traces in _report_traces(res).items():
        if label.startswith(_REPORT_PREFIX):  # a SONATA config's report ends at tstop
            traces = before_end(traces, res.duration)  # tstop/dt frames as BMTK (frames.py)
        name = label[len(_REPORT_PREFIX):] if label.startswith(_REPORT_PREFIX) else label
        if _even(traces.time) is None:
            (lost if lost is not None else []).append(
                f"trace {label!r}: not evenly sampled; no SONATA report written")
            continue
        stem = _file_safe(name)
        stem = f"{stem}_report" if stem == "spikes" else stem
        path = named.get(name, folder / f"{stem}.h5")
        write_report(path, _report(traces, label, keys, where, cell_types or {}))
        written[name] = path
    return written


def _store_keys(store: str | os.PathLike, res: Results) -> tuple[pd.DataFrame, dict]:
    """(keys with ``cell_type``, cell types) of a store; the cell types are read only for the
    traced cells (their section order gives the element ids)."""
    keys = cell_keys(store)
    groups = [t for t in [res.traces, *res.trace_groups.values()] if len(t)]
    if not groups:
        return keys, {}
    gids = np.unique(np.concatenate([t.index["gid"] for t in groups]).astype(np.int64))
    sub = read_network(store, gids=gids)
    ct = sub.cells_df().set_index("gid")["cell_type"].astype(str)
    keys["cell_type"] = ct.reindex(keys["gid"].to_numpy()).to_numpy(dtype=object)
    return keys, dict(sub.cell_types)


def sonata_output(run_config: dict[str, Any]) -> dict[str, Any]:
    """What a run's SONATA simulation config asks to be written (empty for other runs):
    ``output_dir``, ``spikes_file``, ``spikes_sort_order`` and ``reports`` (name -> path), from
    ``RunConfig.extras['output_files']`` entries of format ``"sonata"`` and
    ``extras['sonata']['output_dir']``."""
    extras = run_config.get("extras") or {}
    files = [f for f in extras.get("output_files") or [] if f.get("format") == OUTPUT_FORMAT]
    if not files:
        return {}
    out: dict[str, Any] = {"output_dir": (extras.get("sonata") or {}).get("output_dir"),
                           "reports": {}}
    for f in files:
        if f["kind"] == "events":
            out["spikes_file"], out["spikes_sort_order"] = f["path"], f.get("sort")
        else:
            for col in f.get("columns") or []:
                out["reports"][col["id"]] = f["path"]
    return out


def run_spikes(res: Results, keys: pd.DataFrame, strict: bool = False, where: str = ""
               ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A run's spikes keyed by population: ``{population: (node_ids, times_ms)}`` for the
    populations with spikes, in cell order (``strict``: spikes of gids without a key are an
    error, else left out)."""
    gids = np.asarray(res.spike_gids, np.int64)
    times = np.asarray(res.spike_times, float)
    if strict:
        pop, node = _keys_of(keys, gids, where)
    else:
        pos, bad = _lookup(keys, gids)
        pos, times = pos[~bad], times[~bad]
        pop, node = keys["population"].to_numpy()[pos], keys["node_id"].to_numpy()[pos]
    out = {}
    for name in pd.unique(keys["population"]):
        mine = pop == name
        if mine.any():
            out[str(name)] = (node[mine].astype(np.int64), times[mine])
    return out


def _write_spikes(path: Path, res: Results, keys: pd.DataFrame, order: str, where: str,
                  strict: bool = True) -> Path:
    write_spikes(path, run_spikes(res, keys, strict, where), sorting=order)
    return path


#: concentrations (mM): NEURON's ion concentration names
_CONC_RE = re.compile(r"[a-z]{1,3}[io]")


def variable_units(recorded: str) -> str:
    """The SONATA ``units`` of a recorded variable (its name as the trace index stores it,
    ``'<owner>.<var>'`` for point processes): ``v`` mV; ``i`` of a point process nA;
    ``i_membrane_`` nA; other ``i*`` density currents mA/cm2; ion concentrations (``cai``,
    ``nao``, ...) mM; else "" (unknown)."""
    owned, _, var = recorded.rpartition(".")
    if var == "v":
        return "mV"
    if (owned and var == "i") or var == "i_membrane_":
        return "nA"
    if var.startswith("i"):
        return "mA/cm2"
    if _CONC_RE.fullmatch(var):
        return "mM"
    return ""


def _file_safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "report"


def _report_traces(res: Results) -> dict[str, Traces]:
    """Each trace label's traces (labels of ``res.traces`` and of every trace group)."""
    out: dict[str, Traces] = {}
    for traces in [res.traces, *res.trace_groups.values()]:
        if not len(traces):
            continue
        labels = traces.index["label"]
        for code, label in enumerate(labels.categories):
            rows = np.flatnonzero(labels.codes == code)
            if rows.size:
                out[str(label)] = Traces(traces.index.take(rows), traces.time,
                                         traces.data[rows])
    return out


def _report(traces: Traces, label: str, keys: pd.DataFrame, where: str,
            cell_types: Mapping[str, Any]) -> dict[str, ReportPopulation]:
    """One report file's populations: each cell's traces are its elements (columns), in
    the order recorded; element ids are the sections' positions in their cell types."""
    idx = traces.index.to_pandas()
    gids = idx["gid"].to_numpy(np.int64)
    pop, node = _keys_of(keys, gids, where)
    ctypes = (keys["cell_type"].to_numpy(dtype=object)[_lookup(keys, gids)[0]]
              if "cell_type" in keys else np.full(len(gids), None, dtype=object))
    elem = _element_ids(cell_types, ctypes, idx["sec"].astype(object).to_numpy())
    span = _even(traces.time)
    var = pd.unique(idx["var"].astype(str))
    out = {}
    for name in pd.unique(pop):
        rows = np.flatnonzero(pop == name)
        rows = rows[np.lexsort((rows, node[rows]))]  # by node id, recorded order within one
        ids, starts = np.unique(node[rows], return_index=True)
        out[str(name)] = ReportPopulation(
            ids, np.append(starts, len(rows)).astype(np.int64), elem[rows],
            idx["loc"].to_numpy(float)[rows], span, traces.data[rows].T,
            str(var[0]) if len(var) == 1 else label,
            variable_units(str(var[0])) if len(var) == 1 else "")
    return out


def _element_ids(cell_types: Mapping[str, Any], ctypes: np.ndarray, secs: np.ndarray
                 ) -> np.ndarray:
    """Per trace: its section's position in its cell type (0 for point cells and sections
    the type does not have), one lookup per (cell type, section) pair."""
    out = np.zeros(len(ctypes), np.int64)
    pairs = pd.DataFrame({"ct": ctypes, "sec": secs})
    for (ct, sec), rows in pairs.groupby(["ct", "sec"], sort=False, dropna=False).indices.items():
        cell = cell_types.get(str(ct))
        if isinstance(cell, CompartmentalCell) and sec in cell.sections:
            out[rows] = list(cell.sections).index(sec)
    return out


def _even(t: np.ndarray) -> tuple[float, float, float] | None:
    """(start, stop, dt) of evenly sampled times, else None."""
    t = np.asarray(t, float)
    if t.size < 2:
        return None
    dt = float(t[1] - t[0])
    if dt <= 0 or not np.allclose(np.diff(t), dt, rtol=1e-9, atol=1e-12):
        return None
    return float(t[0]), float(t[0] + t.size * dt), dt


def describe_outputs(written: dict[str, Any]) -> str:
    """One line per file written (for the command line)."""
    return "\n".join(f"{k}: {v}" for k, v in written.items())
