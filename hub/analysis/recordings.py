"""Recorded traces with selections, spike-triggered averages and f–I curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .data import AnalysisError, Selection, Source, open_run
from .spikes import cell_rates

__all__ = ["traces", "spike_triggered_average", "fi_curve"]


def traces(source: Source, run: int | str = -1, labels: Sequence[str] | str | None = None,
           pops=None, gids=None, time_range=None) -> pd.DataFrame:
    """Recorded traces, reading only the selected rows and time window.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (ms); columns a MultiIndex ``(label, gid)`` (plus ``sec``/``loc`` when
        one label records several places on a cell).
    """
    rd = open_run(source, run)
    if isinstance(labels, str):
        labels = [labels]
    if isinstance(pops, str):
        pops = [pops]
    sel = Selection(pops, gids, None if time_range is None else tuple(time_range))
    idx = rd.trace_index()
    keep = np.ones(len(idx), dtype=bool)
    if labels is not None:
        known = set(idx["label"].astype(str))
        bad = [lab for lab in labels if lab not in known]
        if bad:
            raise AnalysisError(f"{rd._where()}: no recorded trace(s) {bad} "
                                f"(recorded: {', '.join(sorted(known)) or 'none'})")
        keep &= idx["label"].astype(str).isin(labels).to_numpy()
    if pops is not None or gids is not None:
        keep &= np.isin(idx["gid"].to_numpy(), rd.select_gids(sel))
    rows = np.flatnonzero(keep)
    time, data = rd.traces(rows, sel)
    sub = idx.iloc[rows]
    tuples = list(zip(sub["label"].astype(str), sub["gid"].astype(int)))
    if len(set(tuples)) < len(tuples):
        tuples = list(zip(sub["label"].astype(str), sub["gid"].astype(int),
                          sub["sec"].astype(str), sub["loc"].astype(float)))
        names = ["label", "gid", "sec", "loc"]
    else:
        names = ["label", "gid"]
    cols = pd.MultiIndex.from_tuples(tuples, names=names) if tuples else pd.MultiIndex(
        levels=[[]] * len(names), codes=[[]] * len(names), names=names)
    return pd.DataFrame(data.T, index=pd.Index(time, name="time"), columns=cols)


def spike_triggered_average(source: Source, label: str, trace_gid: int, run: int | str = -1,
                            pops=None, gids=None, window: tuple[float, float] = (-50.0, 50.0),
                            time_range=None) -> pd.Series:
    """Average of trace ``label`` of cell ``trace_gid`` around the spikes of the selected cells
    (``elephant.sta.spike_triggered_average``; spikes whose window leaves the trace are
    dropped, as Elephant does).

    Returns
    -------
    pandas.Series
        Index ``lag`` (ms).
    """
    from ._lazy import elephant_module, require

    sta = elephant_module("elephant.sta")
    neo = require("neo", "spike-triggered averages")
    pq = require("quantities", "spike-triggered averages")
    rd = open_run(source, run)
    tr = traces(rd, run, [label], None, [trace_gid], time_range)
    if tr.shape[1] == 0:
        raise AnalysisError(f"{rd._where()}: no trace {label!r} recorded for gid {trace_gid}")
    time = tr.index.to_numpy()
    dt = float(np.median(np.diff(time)))
    sig = neo.AnalogSignal(tr.iloc[:, 0].to_numpy()[:, None] * pq.mV,
                           sampling_period=dt * pq.ms, t_start=time[0] * pq.ms)
    sel = Selection([pops] if isinstance(pops, str) else pops, gids,
                    (float(time[0]), float(time[-1]) + dt))
    t = rd.spikes(sel)["time"].to_numpy()
    lo, hi = window
    t = t[(t + lo >= time[0]) & (t + hi <= time[-1])]
    if len(t) == 0:
        raise AnalysisError(f"{rd._where()}: no spike of the selection has a full window "
                            f"{window} inside the trace")
    train = neo.SpikeTrain(t * pq.ms, t_start=sig.t_start, t_stop=sig.t_stop)
    res = sta.spike_triggered_average(sig, train, (lo * pq.ms, hi * pq.ms))
    values = np.asarray(res.magnitude).ravel()
    lags = lo + dt * np.arange(len(values))
    return pd.Series(values, index=pd.Index(lags, name="lag"), name=f"{label} STA")


def fi_curve(source: Source, amplitudes: Sequence[float], runs: Sequence[int | str],
             pops=None, gids=None, time_range=None) -> pd.DataFrame:
    """f–I curve: the mean rate (Hz) of the selected cells in each run, against the current
    amplitude that run injected (one amplitude per run, as NetPyNE's ``plotfI`` runs one
    simulation per amplitude).

    Returns
    -------
    pandas.DataFrame
        Index ``amplitude``; columns ``rate`` (mean over cells) and ``rate_sd``.
    """
    if len(amplitudes) != len(runs):
        raise AnalysisError(f"{len(amplitudes)} amplitudes for {len(runs)} runs")
    rows = []
    for amp, run in zip(amplitudes, runs):
        r = cell_rates(source, run, pops, gids, time_range)["rate"]
        rows.append((float(amp), float(r.mean()), float(r.std(ddof=0))))
    df = pd.DataFrame(rows, columns=["amplitude", "rate", "rate_sd"]).set_index("amplitude")
    return df.sort_index()
