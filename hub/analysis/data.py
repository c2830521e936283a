"""Partial reads of one stored run: the cells, spikes, traces, connections and LFP that an
analysis needs, and nothing more.

Spikes are stored sorted by time (``/results/<run>/spikes/time``), so a time window is found
by a binary search on the stored column (a few chunks decompressed) and only the spikes inside
it are read; a population or gid selection then reads only the cells table's ``gid`` and
``pop`` columns. Traces are read row by row (the selected traces) and column by column (the
selected time window) from the 2-D ``traces/data`` dataset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin  # noqa: F401  (registers the Blosc filter the stored columns use)
import numpy as np
import pandas as pd

from ..errors import NethubError, StoreError
from ..results import Results

__all__ = ["RunData", "open_run", "Selection"]

#: A store path, an opened :class:`RunData`, or an in-memory ``(Results, Network)`` pair.
Source = Any


class AnalysisError(NethubError, ValueError):
    """An analysis was asked for something the run cannot give (unknown population, ...)."""


@dataclass(frozen=True)
class Selection:
    """Which cells and which time window an analysis looks at.

    Attributes
    ----------
    pops : sequence of str or None
        Populations (None: all).
    gids : sequence of int or None
        Cells (None: all); combined with ``pops`` by intersection.
    time_range : (float, float) or None
        ``[start, stop)`` in ms (None: the whole run).
    """

    pops: Sequence[str] | None = None
    gids: Sequence[int] | None = None
    time_range: tuple[float, float] | None = None


def _columns_meta(group: h5py.Group) -> list[dict]:
    return json.loads(group.attrs["columns"])


def _read_column(group: h5py.Group, name: str) -> np.ndarray | pd.Categorical:
    """One column of a stored table (categoricals as pandas Categorical)."""
    meta = _columns_meta(group)
    names = [m["name"] for m in meta]
    if name not in names:
        raise StoreError(f"{group.name}: no column {name!r} (columns: {', '.join(names)})")
    i = names.index(name)
    key = f"c{i}"
    if meta[i]["kind"] == "category":
        codes = group[f"{key}/codes"][()]
        cats = [c.decode() if isinstance(c, bytes) else str(c)
                for c in group[f"{key}/categories"][()]]
        return pd.Categorical.from_codes(codes, categories=cats)
    return group[key][()]


def _member(sorted_gids: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``np.isin(g, sorted_gids)`` for sorted unique ``sorted_gids``, by binary search."""
    if len(sorted_gids) == 0:
        return np.zeros(len(g), dtype=bool)
    lo, hi = int(sorted_gids[0]), int(sorted_gids[-1])
    if hi - lo + 1 == len(sorted_gids):  # contiguous gids: a range test, no index arrays
        return (g >= lo) & (g <= hi)
    pos = np.minimum(np.searchsorted(sorted_gids, g), len(sorted_gids) - 1)
    return sorted_gids[pos] == g


def _search(dset: h5py.Dataset, value: float, n: int) -> int:
    """``np.searchsorted(dset[:], value, 'left')`` reading O(log n) elements of ``dset``."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if dset[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass
class RunData:
    """One run of a store (or of an in-memory result), read lazily and partially.

    Use :func:`open_run` to make one. Every reader takes a :class:`Selection`.
    """

    path: Path | None
    run: str
    duration: float
    sim_config: dict
    _results: Results | None = None
    _network: Any = None
    _cells: pd.DataFrame | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ cells
    def cells(self, columns: Iterable[str] = ("gid", "pop")) -> pd.DataFrame:
        """The cells table (selected columns), sorted by gid."""
        cols = list(dict.fromkeys(["gid", "pop", *columns]))
        if self._cells is None:
            self._cells = pd.DataFrame()
        missing = [c for c in cols if c not in self._cells]
        if missing and self._network is not None:
            df = self._network.cells.to_pandas().sort_values("gid", kind="stable")
            for c in missing:
                self._cells[c] = df[c].to_numpy() if c != "pop" else df[c]
        elif missing:
            with h5py.File(self.path, "r") as f:
                g = f["network/cells"]
                for c in missing:
                    self._cells[c] = _read_column(g, c)
        return self._cells[cols]

    def populations(self) -> list[str]:
        """Population names in stored order (populations without cells included)."""
        pop = self.cells()["pop"]
        return [str(c) for c in pop.cat.categories] if hasattr(pop, "cat") else sorted(set(pop))

    def select_gids(self, sel: Selection) -> np.ndarray:
        """Sorted gids of the cells in ``sel``."""
        cells = self.cells()
        gids = cells["gid"].to_numpy(np.int64)
        keep = np.ones(len(gids), dtype=bool)
        if sel.pops is not None:
            known = set(self.populations())
            bad = [p for p in sel.pops if p not in known]
            if bad:
                raise AnalysisError(f"{self._where()}: unknown population(s) {bad} "
                                    f"(valid: {', '.join(sorted(known))})")
            keep &= cells["pop"].isin(list(sel.pops)).to_numpy()
        if sel.gids is not None:
            keep &= np.isin(gids, np.asarray(list(sel.gids), dtype=np.int64))
        return np.sort(gids[keep])

    def time_range(self, sel: Selection) -> tuple[float, float]:
        """The selection's time window, or the whole run."""
        if sel.time_range is None:
            return 0.0, self.duration
        t0, t1 = (float(x) for x in sel.time_range)
        if not t1 > t0:
            raise AnalysisError(f"time_range {sel.time_range} is empty (need start < stop)")
        return t0, t1

    # ------------------------------------------------------------------ spikes
    def spikes(self, sel: Selection = Selection()) -> pd.DataFrame:
        """Spikes (columns ``time`` in ms, ``gid``) of the selected cells in the window."""
        t0, t1 = self.time_range(sel)
        if self._results is not None:
            t, g = self._results.spike_times, self._results.spike_gids
            lo, hi = np.searchsorted(t, t0), np.searchsorted(t, t1)
            t, g = t[lo:hi], g[lo:hi]
        else:
            with h5py.File(self.path, "r") as f:
                sp = f[f"results/{self.run}/spikes"]
                n = sp["time"].shape[0]
                lo = 0 if sel.time_range is None else _search(sp["time"], t0, n)
                hi = n if sel.time_range is None else _search(sp["time"], t1, n)
                t, g = sp["time"][lo:hi], sp["gid"][lo:hi]
        # only spikes of cells in the selection (or in the cells table: a recorded stimulus
        # source is not a cell)
        keep = _member(self.select_gids(sel), g)
        if not keep.all():
            t, g = t[keep], g[keep]
        return pd.DataFrame({"time": t, "gid": g}, copy=False)

    # ------------------------------------------------------------------ traces
    def trace_index(self) -> pd.DataFrame:
        """One row per recorded trace: label, gid, sec, loc, var."""
        if self._results is not None:
            return self._results.traces.index.to_pandas()
        with h5py.File(self.path, "r") as f:
            g = f[f"results/{self.run}/traces/index"]
            names = [m["name"] for m in _columns_meta(g)]
            return pd.DataFrame({c: _read_column(g, c) for c in names})

    def traces(self, rows: np.ndarray, sel: Selection = Selection()
               ) -> tuple[np.ndarray, np.ndarray]:
        """Time vector and data (one row per entry of ``rows``) inside the time window."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._results is not None:
            time, data = self._results.traces.time, self._results.traces.data[rows]
        else:
            with h5py.File(self.path, "r") as f:
                tr = f[f"results/{self.run}/traces"]
                time = tr["time"][()]
                lo, hi = self._time_slice(time, sel)
                order = np.argsort(rows)
                data = np.empty((len(rows), hi - lo))
                if len(rows):
                    data[order] = tr["data"][np.unique(rows), lo:hi][
                        np.searchsorted(np.unique(rows), rows[order])]
                return time[lo:hi], data
        lo, hi = self._time_slice(time, sel)
        return time[lo:hi], data[:, lo:hi]

    def _time_slice(self, time: np.ndarray, sel: Selection) -> tuple[int, int]:
        if sel.time_range is None:
            return 0, len(time)
        t0, t1 = self.time_range(sel)
        return int(np.searchsorted(time, t0)), int(np.searchsorted(time, t1))

    # ------------------------------------------------------------------ connections
    def connections(self, columns: Iterable[str] = ("pre_gid", "weight")) -> pd.DataFrame:
        """The connections table (``post_gid`` plus the given columns)."""
        cols = list(columns)
        if self._network is not None:
            df = self._network.connections.to_pandas()
            return df[["post_gid", *[c for c in cols if c != "post_gid"]]]
        with h5py.File(self.path, "r") as f:
            g = f["network/connections"]
            counts = np.diff(g["post_offsets"][()])
            gids = _read_column(f["network/cells"], "gid")
            out = {"post_gid": np.repeat(gids, counts)}
            for c in cols:
                if c != "post_gid":
                    out[c] = _read_column(g, c) if int(g.attrs["n_rows"]) else np.zeros(0)
        return pd.DataFrame(out)

    # ------------------------------------------------------------------ LFP
    def lfp(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(time, data of shape (n_times, n_electrodes), electrodes) or None when not recorded."""
        if self._results is not None:
            r = self._results
            if r.lfp is None:
                return None
            return self._lfp_parts(r.lfp_time, r.lfp, r.electrodes)
        with h5py.File(self.path, "r") as f:
            g = f[f"results/{self.run}"].get("lfp")
            if g is None:
                return None
            return self._lfp_parts(g["lfp_time"][()] if "lfp_time" in g else None,
                                   g["data"][()],
                                   g["electrodes"][()] if "electrodes" in g else None)

    def dipole(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(time, moment of shape (n_times, 3)) or None when not recorded."""
        if self._results is not None:
            d = getattr(self._results, "dipole", None)
            if d is None:
                return None
            return self._lfp_parts(self._results.lfp_time, d, None)[:2]
        with h5py.File(self.path, "r") as f:
            g = f[f"results/{self.run}"].get("lfp")
            if g is None or "dipole" not in g:
                return None
            return self._lfp_parts(g["lfp_time"][()] if "lfp_time" in g else None,
                                   g["dipole"][()], None)[:2]

    def _lfp_parts(self, time, data, electrodes):
        data = np.asarray(data, dtype=np.float64)
        if time is None:
            dt = float(self.sim_config.get("recordStep", 0.1))
            time = np.arange(data.shape[0]) * dt
        if electrodes is None:
            electrodes = np.full((data.shape[1], 3), np.nan)
        return np.asarray(time, dtype=np.float64), data, np.asarray(electrodes, dtype=np.float64)

    def _where(self) -> str:
        return f"{self.path or '<memory>'} run {self.run!r}"


def open_run(source: Source, run: int | str | None = -1) -> RunData:
    """Open a run for analysis.

    Parameters
    ----------
    source : path-like, RunData, or (Results, Network) tuple
        A nethub store; an already opened run (returned as is); or results held in memory
        with their network (the network may be None: cells are then those that spiked).
    run : int, str or None
        Run name or position (``-1``: the latest); None: the network only (a store without
        results can be opened so, for connectivity and shapes).

    Returns
    -------
    RunData
    """
    if isinstance(source, RunData):
        return source
    if isinstance(source, tuple):
        res, net = source
        return _memory_run(res, net)
    if isinstance(source, Results):
        return _memory_run(source, None)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"cannot analyse a {type(source).__name__}: give a store path, "
                        "a RunData or a (Results, Network) tuple")
    from ..store import open_store, read_results  # noqa: F401  (validates the header)

    path = Path(source)
    with open_store(path) as f:
        from ..store import _sorted_runs

        names = _sorted_runs(f)
        if run is None and not names:
            return RunData(path, "", 0.0, {})
        name = _pick_run(path, names, -1 if run is None else run)
        g = f["results"][name]
        cfg = json.loads(_text(g["sim_config"][()]))
    duration = float(cfg.get("duration", 0.0) or 0.0)
    if duration <= 0.0:
        with h5py.File(path, "r") as f:
            t = f[f"results/{name}/spikes/time"]
            duration = float(t[t.shape[0] - 1]) if t.shape[0] else 1.0
    return RunData(path, name, duration, cfg)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _pick_run(path: Path, names: list[str], run: int | str) -> str:
    if not names:
        raise StoreError(f"{path}: the store holds no simulation results")
    if isinstance(run, str):
        if run not in names:
            raise StoreError(f"{path}: no run {run!r} (runs: {', '.join(names)})")
        return run
    try:
        return names[run]
    except IndexError:
        raise StoreError(f"{path}: no run #{run}; the store has {len(names)}") from None


def _memory_run(res: Results, net: Any) -> RunData:
    duration = res.duration or (float(res.spike_times.max()) if len(res.spike_times) else 1.0)
    rd = RunData(None, res.name or "memory", float(duration), dict(res.sim_config), res, net)
    if net is None:
        gids = np.unique(res.spike_gids)
        rd._cells = pd.DataFrame({"gid": gids, "pop": pd.Categorical(["all"] * len(gids))})
    return rd


def cell_types(rd: RunData) -> dict:
    """The run's cell types (name -> CellType), read from ``/model/cell_types``."""
    if rd._network is not None:
        return dict(rd._network.cell_types)
    from ..celltypes import cell_type_from_dict

    with h5py.File(rd.path, "r") as f:
        docs = json.loads(_text(f["model/cell_types"][()]))
    return {k: cell_type_from_dict(v) for k, v in docs.items()}
