"""A run's traces -> SONATA element reports, as plain data (part of
:mod:`nethub.converters.sonata_export`; written by :func:`nethub.formats.sonata.export.
write_export`).

One report per trace label (``output/<label>.h5``), one report population per node population:
per node its recorded elements (``element_ids`` = the section's position in the cell type's
section order, the one the HOC template and the edges' ``afferent_section_id`` use;
``element_pos`` = the location), columns ordered by node id. Times must be evenly sampled (a
SONATA report has ``start``, ``stop``, ``dt``); traces that are not are reported.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CompartmentalCell
from nethub.network import Network

__all__ = ["run_reports"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def run_reports(net: Network, res: Any, gid_map: pd.DataFrame, lost: list[str]
                ) -> dict[str, dict[str, dict[str, Any]]]:
    """The element reports of a run.

    Parameters
    ----------
    net : Network
    res : Results
    gid_map : DataFrame
        ``gid``, ``population``, ``node_id`` of every cell (``SonataExport.gid_map``).
    lost : list of str

    Returns
    -------
    dict
        Report file stem -> population -> ``node_ids``, ``index_pointers``, ``element_ids``,
        ``element_pos``, ``time`` (start, stop, dt), ``data`` (steps x elements), ``variable``.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    groups = [res.traces, *getattr(res, "trace_groups", {}).values()]
    for traces in groups:
        if traces is None or not len(traces):
            continue
        idx = traces.index.to_pandas()
        time = _even(traces.time)
        for label, rows in idx.groupby(idx["label"].astype(str), sort=False).indices.items():
            if time is None:
                lost.append(f"trace {label!r}: not evenly sampled; no SONATA report written")
                continue
            stem = _SAFE.sub("_", label) or "report"
            out[stem] = _report(net, idx.iloc[rows], traces.data[rows], time, gid_map)
    return out


def _even(t: np.ndarray) -> tuple[float, float, float] | None:
    t = np.asarray(t, float)
    if t.size < 2:
        return None
    dt = float(t[1] - t[0])
    if dt <= 0 or not np.allclose(np.diff(t), dt, rtol=1e-9, atol=1e-12):
        return None
    return float(t[0]), float(t[0] + t.size * dt), dt


def _report(net: Network, idx: pd.DataFrame, data: np.ndarray,
            time: tuple[float, float, float], gid_map: pd.DataFrame) -> dict[str, Any]:
    g = gid_map.set_index("gid")
    gids = idx["gid"].to_numpy(np.int64)
    pops = g["population"].reindex(gids).to_numpy(dtype=object)
    nids = g["node_id"].reindex(gids).to_numpy()
    cell_types = net.cells_df().set_index("gid")["cell_type"].astype(str).reindex(gids)
    elem = _element_ids(net, cell_types.to_numpy(dtype=object),
                        idx["sec"].astype(object).to_numpy())
    variable = str(idx["var"].astype(str).iloc[0]) if len(idx) else ""
    out = {}
    for pop in pd.unique(pops):
        sel = np.flatnonzero(pops == pop)
        sel = sel[np.lexsort((np.arange(sel.size), nids[sel].astype(np.int64)))]
        node_col = nids[sel].astype(np.int64)
        uniq, counts = np.unique(node_col, return_counts=True)
        out[str(pop)] = {
            "node_ids": uniq, "index_pointers": np.concatenate([[0], np.cumsum(counts)]),
            "element_ids": elem[sel],
            "element_pos": idx["loc"].to_numpy(float)[sel],
            "time": time, "data": np.asarray(data, float)[sel].T, "variable": variable}
    return out


def _element_ids(net: Network, ctypes: np.ndarray, secs: np.ndarray) -> np.ndarray:
    """Per trace: the section's position in its cell type (0 for point cells)."""
    out = np.zeros(len(ctypes), np.int64)
    pairs = pd.DataFrame({"ct": ctypes, "sec": secs})
    for (ct, sec), rows in pairs.groupby(["ct", "sec"], sort=False, dropna=False).indices.items():
        cell = net.cell_types.get(str(ct))
        if isinstance(cell, CompartmentalCell) and sec in cell.sections:
            out[rows] = list(cell.sections).index(sec)
    return out
