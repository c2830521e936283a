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

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethub.errors import FormatError
from nethub.h5table import read_table
from nethub.network import TABLE_SCHEMAS
from nethub.results import Results, Traces
from nethub.store import open_store, read_results

from .reports import ReportPopulation, write_report
from .spikes import SORTING_ENUM, write_spikes

__all__ = ["cell_keys", "spikes_by_node", "write_run_outputs", "sonata_output",
           "OUTPUT_FORMAT"]

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


def _keys_of(keys: pd.DataFrame, gids: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(population, node_id) arrays of ``gids`` (vectorized lookup in gid-sorted ``keys``)."""
    sorted_gids = keys["gid"].to_numpy()
    pos = np.searchsorted(sorted_gids, gids)
    bad = (pos >= len(sorted_gids)) | (sorted_gids[np.minimum(pos, len(sorted_gids) - 1)]
                                       != gids) if len(sorted_gids) else np.ones(len(gids), bool)
    if np.any(bad):
        raise FormatError(f"{where}: gids {np.unique(gids[bad])[:5].tolist()} are not cells of "
                          "the store")
    return keys["population"].to_numpy()[pos], keys["node_id"].to_numpy()[pos]


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
        ``"spikes"`` and each report's name -> the file written.
    """
    res = read_results(store, run)
    output = sonata_output(res.run_config)
    if out_dir is None and not output.get("output_dir"):
        raise FormatError(f"{store}: run {run} has no SONATA output folder (it was not run "
                          "from a SONATA simulation config); name one")
    keys = cell_keys(store)
    folder = Path(out_dir) if out_dir is not None else Path(output["output_dir"])
    spath = folder / spikes_file if spikes_file else (
        Path(output["spikes_file"]) if out_dir is None and output.get("spikes_file")
        else folder / "spikes.h5")
    order = _SORT.get(sort if sort is not None else output.get("spikes_sort_order"))
    if order is None or order not in SORTING_ENUM:
        raise FormatError(f"unknown spike sort order {sort!r} (valid: time, id, none)")
    folder.mkdir(parents=True, exist_ok=True)
    written = {"spikes": _write_spikes(spath, res, keys, order, str(store))}
    named = output.get("reports") or {}
    for label, traces in _report_traces(res).items():
        name = label[len(_REPORT_PREFIX):] if label.startswith(_REPORT_PREFIX) else label
        path = Path(named[name]) if out_dir is None and name in named else \
            folder / f"{_file_safe(name)}.h5"
        write_report(path, _report(traces, label, keys, str(store)))
        written[name] = path
    return written


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


def _write_spikes(path: Path, res: Results, keys: pd.DataFrame, order: str, where: str
                  ) -> Path:
    pop, node = _keys_of(keys, res.spike_gids, where)
    spikes = {}
    for name in pd.unique(keys["population"]):  # the populations with spikes, in cell order
        mine = pop == name
        if mine.any():
            spikes[str(name)] = (node[mine], res.spike_times[mine])
    write_spikes(path, spikes, sorting=order)
    return path


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


def _report(traces: Traces, label: str, keys: pd.DataFrame, where: str
            ) -> dict[str, ReportPopulation]:
    """One report file's populations: each cell's traces are its elements (columns), in
    the order recorded; element ids number the cell's distinct sections by first use."""
    idx = traces.index.to_pandas()
    gids = idx["gid"].to_numpy(np.int64)
    pop, node = _keys_of(keys, gids, where)
    time = traces.time
    step = float(time[1] - time[0]) if len(time) > 1 else 0.0
    span = (float(time[0]) if len(time) else 0.0,
            float(time[0]) + len(time) * step if len(time) else 0.0, step)
    var = pd.unique(idx["var"].astype(str))
    out = {}
    for name in pd.unique(pop):
        rows = np.flatnonzero(pop == name)
        rows = rows[np.lexsort((rows, node[rows]))]  # by node id, recorded order within one
        ids, starts = np.unique(node[rows], return_index=True)
        sec_codes = _section_numbers(node[rows], idx["sec"].astype(str).to_numpy()[rows])
        out[str(name)] = ReportPopulation(
            ids, np.append(starts, len(rows)).astype(np.int64), sec_codes,
            idx["loc"].to_numpy(float)[rows], span, traces.data[rows].T,
            str(var[0]) if len(var) == 1 else label, "mV" if set(var) <= {"v"} else "")
    return out


def _section_numbers(nodes: np.ndarray, secs: np.ndarray) -> np.ndarray:
    """Per row, the number of its section among its node's distinct sections in order of
    first use (vectorized)."""
    if not len(nodes):
        return np.zeros(0, np.int64)
    sec_code = pd.factorize(secs)[0].astype(np.int64)
    key = nodes.astype(np.int64) * (int(sec_code.max()) + 1) + sec_code
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    pair_node = nodes[first]
    order = np.lexsort((first, pair_node))  # pairs by node, then first use
    rank = np.empty(len(uniq), np.int64)
    group_start = np.r_[0, np.flatnonzero(np.diff(pair_node[order])) + 1]
    sizes = np.diff(np.r_[group_start, len(order)])
    rank[order] = np.arange(len(order)) - np.repeat(group_start, sizes)
    return rank[inv.reshape(-1)]


def describe_outputs(written: dict[str, Any]) -> str:
    """One line per file written (for the command line)."""
    return "\n".join(f"{k}: {v}" for k, v in written.items())
