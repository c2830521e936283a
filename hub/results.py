"""Simulation results: spikes, traces, LFP and the facts that make a run reproducible."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import FormatError
from .table import Categorical, ColumnSpec, Table

__all__ = ["Results", "Traces", "TRACE_COLUMNS", "empty_traces", "trace_index", "select_run",
           "trace_group_name"]

#: Index of recorded traces: one row per recorded variable (a row of ``Traces.data``).
TRACE_COLUMNS: dict[str, ColumnSpec] = {
    "label": ColumnSpec("category", None, "recordTraces label, e.g. 'V_soma'"),
    "gid": ColumnSpec("int64", -1, "cell gid"),
    "sec": ColumnSpec("category", None, "section (missing for point cells)"),
    "loc": ColumnSpec("float64", float("nan"), "location on the section"),
    "var": ColumnSpec("category", None, "recorded variable, e.g. 'v' or 'AMPA.i'"),
}


@dataclass(eq=False)
class Traces:
    """Recorded variables sampled at common times: ``data[i]`` is the trace of ``index`` row i."""

    index: Table = None  # type: ignore[assignment]
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))
    data: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = Table(schema=TRACE_COLUMNS)
        elif self.index.schema != TRACE_COLUMNS:
            self.index = Table(self.index.columns, TRACE_COLUMNS, n=len(self.index))
        self.time = np.asarray(self.time, dtype=np.float64)
        self.data = np.asarray(self.data, dtype=np.float64).reshape(len(self.index), len(self.time))

    def __len__(self) -> int:
        return len(self.index)

    def get(self, label: str, gid: int) -> np.ndarray:
        """The trace ``label`` of cell ``gid``."""
        lab: Categorical = self.index["label"]  # type: ignore[assignment]
        hit = np.flatnonzero((lab.codes == lab.code_of(label)) & (self.index["gid"] == gid))
        if len(hit) == 0:
            raise KeyError(f"no trace {label!r} recorded for gid {gid}")
        return self.data[hit[0]]

    def to_pandas(self) -> pd.DataFrame:
        """Long format: one row per (trace, time) with columns label, gid, sec, loc, var, time,
        value."""
        idx = self.index.to_pandas()
        nt = len(self.time)
        long = idx.loc[idx.index.repeat(nt)].reset_index(drop=True)
        long["time"] = np.tile(self.time, len(idx))
        long["value"] = self.data.reshape(-1)
        return long

    def equals(self, other: object) -> bool:
        return (
            isinstance(other, Traces)
            and self.index.equals(other.index)
            and np.array_equal(self.time, other.time)
            and np.array_equal(self.data, other.data, equal_nan=True)
        )


@dataclass(eq=False)
class Results:
    """The output of one simulation run.

    Attributes
    ----------
    spike_times, spike_gids : ndarray
        Spikes sorted by time then gid (float64 ms, int64).
    traces : Traces
        Traces sampled every ``recordStep`` over the whole run.
    trace_groups : dict of str to Traces
        Traces with their own interval or time window, by :func:`trace_group_name`.
    lfp : ndarray of shape (n_times, n_electrodes) or None
    lfp_time : ndarray or None
    electrodes : ndarray of shape (n_electrodes, 3) or None
    lfp_extra : dict of str to ndarray
        Arrays recorded beside the LFP, sampled at ``lfp_time``: ``dipole`` (n_times, 3)
        nA·µm, ``lfp_pops/<pop>``, ``lfp_cells/<gid>``, ``dipole_pops/<pop>``,
        ``dipole_cells/<gid>``, ``imembrane/<gid>`` (n_times, n_segments) nA.
    sim_config : dict
        The source format's run document (NetPyNE: the simConfig used).
    run_config : dict
        The :class:`~nethub.runconfig.RunConfig` used (``RunConfig.to_dict()``; empty for
        runs stored before it existed or read from other formats).
    seeds : dict
    versions : dict
        Software versions (nethub, NEURON, Python, numpy, MPI).
    timing : dict
        Seconds spent per phase.
    network_hash : str
        ``Network.content_hash()`` of the simulated network.
    nranks : int
    meta : dict
        Anything else (e.g. counts of merged synapses).
    """

    spike_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spike_gids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    traces: Traces = field(default_factory=Traces)
    trace_groups: dict[str, Traces] = field(default_factory=dict)
    lfp: np.ndarray | None = None
    lfp_time: np.ndarray | None = None
    electrodes: np.ndarray | None = None
    lfp_extra: dict[str, np.ndarray] = field(default_factory=dict)
    sim_config: dict[str, Any] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    network_hash: str = ""
    nranks: int = 1
    meta: dict[str, Any] = field(default_factory=dict)
    name: str | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.spike_times, dtype=np.float64).reshape(-1)
        g = np.asarray(self.spike_gids, dtype=np.int64).reshape(-1)
        if len(t) != len(g):
            raise ValueError(f"{len(t)} spike times but {len(g)} spike gids")
        if _sorted(t, g):  # as stored: skip the O(n log n) sort (10M spikes: ~1 s); copies,
            self.spike_times, self.spike_gids = t.copy(), g.copy()  # as the sort made
            return
        order = np.lexsort((g, t))
        self.spike_times, self.spike_gids = t[order], g[order]

    @property
    def spikes(self) -> pd.DataFrame:
        """Spikes as a DataFrame with columns ``time`` (ms) and ``gid``, sorted by time, gid."""
        return pd.DataFrame({"time": self.spike_times, "gid": self.spike_gids})

    @property
    def dipole(self) -> np.ndarray | None:
        """The current dipole moment (n_times, 3) in nA·µm, or None when not recorded."""
        return self.lfp_extra.get("dipole")

    @property
    def duration(self) -> float | None:
        d = self.sim_config.get("duration", self.run_config.get("duration"))
        return float(d) if d is not None else None

    def equals(self, other: object) -> bool:
        if not isinstance(other, Results):
            return False
        arrays = [(self.spike_times, other.spike_times), (self.spike_gids, other.spike_gids)]
        for name in ("lfp", "lfp_time", "electrodes"):
            a, b = getattr(self, name), getattr(other, name)
            if (a is None) != (b is None):
                return False
            if a is not None:
                arrays.append((a, b))
        if sorted(self.lfp_extra) != sorted(other.lfp_extra):
            return False
        arrays += [(self.lfp_extra[k], other.lfp_extra[k]) for k in self.lfp_extra]
        same_meta = all(getattr(self, k) == getattr(other, k) for k in
                        ("sim_config", "seeds", "versions", "timing", "network_hash",
                         "nranks", "meta"))
        groups = sorted(self.trace_groups) == sorted(other.trace_groups) and all(
            t.equals(other.trace_groups[k]) for k, t in self.trace_groups.items())
        return same_meta and groups and self.traces.equals(other.traces) and all(
            np.array_equal(a, b, equal_nan=True) for a, b in arrays
        )


def _sorted(t: np.ndarray, g: np.ndarray) -> bool:
    """Whether spikes are already sorted by time, then gid (NaN times: no)."""
    dt = np.diff(t)
    return bool(np.all((dt > 0) | ((dt == 0) & (np.diff(g) >= 0))))


def empty_traces() -> Traces:
    """A trace set with no traces."""
    return Traces(Table(schema=TRACE_COLUMNS), np.zeros(0), np.zeros((0, 0)))


def trace_index(labels, gids, secs, locs, variables) -> Table:
    """The trace index table (one row per recorded variable) from its columns."""
    return Table({"label": Categorical.from_values(labels),
                  "gid": np.asarray(gids, dtype=np.int64),
                  "sec": Categorical.from_values(secs),
                  "loc": np.asarray(locs, dtype=np.float64),
                  "var": Categorical.from_values(variables)}, TRACE_COLUMNS)


def select_run(runs: Any, run: int | str, path: Any) -> Results:
    """Pick one run from ``runs`` by name or position, with errors naming the choices.

    Parameters
    ----------
    runs : iterable of Results
    run : int or str
        A run's name (unnamed runs are ``run_0000``, ...) or position (``-1``: the latest).
    path : str or path-like
        What holds the runs, for messages.

    Raises
    ------
    FormatError
        There is no such run (or none at all).
    """
    runs = list(runs)
    if not runs:
        raise FormatError(f"{path}: holds no simulation results")
    if isinstance(run, str):
        names = [r.name or f"run_{i:04d}" for i, r in enumerate(runs)]
        if run not in names:
            raise FormatError(f"{path}: no run {run!r} (runs: {', '.join(names)})")
        return runs[names.index(run)]
    try:
        return runs[run]
    except IndexError:
        raise FormatError(f"{path}: no run #{run}; it has {len(runs)}") from None


def trace_group_name(step: float, start: float | None = None, end: float | None = None) -> str:
    """The name of the trace group (``/results/<run>/trace_groups/<name>``, docs/store.md §6)
    of traces sampled every ``step`` ms from ``start`` to ``end``: ``'dt_0.5'``,
    ``'dt_0.5_from_100.0_to_200.0'``."""
    name = f"dt_{float(step)!r}"
    if start is not None:
        name += f"_from_{float(start)!r}"
    if end is not None:
        name += f"_to_{float(end)!r}"
    return name
