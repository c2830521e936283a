"""Spike statistics of a stored run: counts, rates, PSTH, ISI/CV, synchrony.

Counts, rates and histograms are vectorised numpy over all cells at once (``np.bincount``,
``np.histogram``): Elephant computes them one ``neo.SpikeTrain`` at a time, which for 100,000
cells costs more than the analysis itself. ISI and CV follow Elephant's definitions
(``elephant.statistics.isi``: consecutive differences; ``elephant.statistics.cv``:
``std(isi) / mean(isi)`` with ``ddof=0``), checked against Elephant in the tests. Synchrony uses
Elephant's SPIKE-contrast (Ciba et al. 2018), as NetPyNE's ``plotSyncs`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import AnalysisError, RunData, Selection, Source, open_run

__all__ = [
    "spike_counts",
    "cell_rates",
    "population_rates",
    "spike_histogram",
    "population_rate_signals",
    "isi_stats",
    "synchrony",
]


def _open(source: Source, run: int | str) -> RunData:
    return open_run(source, run)


def _sel(pops, gids, time_range) -> Selection:
    if isinstance(pops, str):
        pops = [pops]
    return Selection(pops, gids, None if time_range is None else tuple(time_range))


def spike_counts(source: Source, run: int | str = -1, pops=None, gids=None,
                 time_range=None) -> pd.DataFrame:
    """Spikes per cell (silent cells included).

    Parameters
    ----------
    source : path-like, RunData or (Results, Network)
        A store (see :func:`nethub.analysis.open_run`).
    run : int or str
        Run name or position (``-1``: the latest).
    pops, gids : optional
        Restrict to these populations / cells.
    time_range : (start, stop) in ms, optional

    Returns
    -------
    pandas.DataFrame
        Indexed by gid, columns ``pop`` and ``count``.
    """
    rd = _open(source, run)
    sel = _sel(pops, gids, time_range)
    cells = rd.cells()
    keep = np.isin(cells["gid"].to_numpy(), rd.select_gids(sel))
    cells = cells[keep]
    sp = rd.spikes(sel)
    gid_arr = cells["gid"].to_numpy(np.int64)
    pos = np.searchsorted(gid_arr, sp["gid"].to_numpy())
    counts = np.bincount(pos, minlength=len(gid_arr)) if len(gid_arr) else np.zeros(0, int)
    return pd.DataFrame({"pop": cells["pop"].to_numpy(), "count": counts.astype(np.int64)},
                        index=pd.Index(gid_arr, name="gid"))


def cell_rates(source: Source, run: int | str = -1, pops=None, gids=None,
               time_range=None) -> pd.DataFrame:
    """Mean firing rate of each cell in Hz over the window (silent cells: 0).

    Returns
    -------
    pandas.DataFrame
        Indexed by gid: ``pop``, ``count``, ``rate`` (Hz).
    """
    rd = _open(source, run)
    t0, t1 = rd.time_range(_sel(pops, gids, time_range))
    df = spike_counts(rd, run, pops, gids, time_range)
    df["rate"] = df["count"] / ((t1 - t0) / 1000.0)
    return df


def population_rates(source: Source, run: int | str = -1, pops=None, time_range=None
                     ) -> pd.Series:
    """Each population's mean rate in Hz (spikes / cells / seconds; silent cells count).

    Examples
    --------
    >>> nethub.analysis.population_rates("model.h5")  # doctest: +SKIP
    pop
    E    12.4
    I    31.0
    Name: rate, dtype: float64
    """
    rates = cell_rates(source, run, pops, None, time_range)
    order = list(dict.fromkeys(str(p) for p in rates["pop"]))
    out = rates.groupby("pop", observed=True, sort=False)["rate"].mean()
    out.index = out.index.astype(str)
    return out.reindex(order).rename("rate")


def _bins(t0: float, t1: float, bin_ms: float) -> np.ndarray:
    if not bin_ms > 0:
        raise AnalysisError(f"bin size must be > 0 ms, got {bin_ms}")
    n = max(1, int(np.floor((t1 - t0) / bin_ms + 1e-9)))
    return t0 + bin_ms * np.arange(n + 1)


def spike_histogram(source: Source, run: int | str = -1, bin_ms: float = 5.0, pops=None,
                    gids=None, time_range=None, measure: str = "rate",
                    by_pop: bool = True) -> pd.DataFrame:
    """Spike histogram / PSTH: spikes per time bin, per population.

    Parameters
    ----------
    bin_ms : float
        Bin width in ms; the window is cut into whole bins (a last partial bin is dropped).
    measure : {'rate', 'count'}
        'rate': mean rate per cell in Hz (count / cells / bin seconds); 'count': spikes.
    by_pop : bool
        One column per population (else one column ``all``).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (bin starts, ms); one column per population.
    """
    if measure not in ("rate", "count"):
        raise AnalysisError(f"measure must be 'rate' or 'count', got {measure!r}")
    rd = _open(source, run)
    sel = _sel(pops, gids, time_range)
    t0, t1 = rd.time_range(sel)
    edges = _bins(t0, t1, bin_ms)
    sp = rd.spikes(sel)
    cells = rd.cells()
    cells = cells[np.isin(cells["gid"].to_numpy(), rd.select_gids(sel))]
    groups = _groups(cells, by_pop)
    gid_arr = cells["gid"].to_numpy(np.int64)
    nb, npop = len(edges) - 1, len(groups["names"])
    # flat bin index pop * nb + time bin, built in place (one int64 array per spike)
    flat = np.searchsorted(gid_arr, sp["gid"].to_numpy())
    flat = groups["code"][flat]
    flat *= nb
    tbin = sp["time"].to_numpy() - t0
    tbin /= bin_ms
    np.floor(tbin, out=tbin)
    ok = (tbin >= 0) & (tbin < nb)
    flat += tbin.astype(np.int64)
    del tbin
    counts = np.bincount(flat[ok] if not ok.all() else flat,
                         minlength=nb * npop).reshape(npop, nb)
    data = counts.astype(np.float64)
    if measure == "rate":
        data = data / np.maximum(groups["sizes"][:, None], 1) / (bin_ms / 1000.0)
    return pd.DataFrame(data.T, index=pd.Index(edges[:-1], name="time"),
                        columns=pd.Index(groups["names"], name="pop"))


def _groups(cells: pd.DataFrame, by_pop: bool) -> dict:
    if not by_pop:
        return {"names": ["all"], "code": np.zeros(len(cells), np.int64),
                "sizes": np.array([len(cells)])}
    pop = pd.Categorical(cells["pop"].astype(str))
    names = list(dict.fromkeys(pop.astype(str)))
    pop = pd.Categorical(pop.astype(str), categories=names)
    code = np.asarray(pop.codes, dtype=np.int64)
    return {"names": names, "code": code, "sizes": np.bincount(code, minlength=len(names))}


def population_rate_signals(source: Source, run: int | str = -1, bin_ms: float = 1.0,
                            pops=None, time_range=None) -> pd.DataFrame:
    """Population rate signals (Hz per cell, one column per population) sampled every
    ``bin_ms``: the input of rate PSDs, spectrograms and Granger causality."""
    return spike_histogram(source, run, bin_ms, pops, None, time_range, "rate", True)


def isi_stats(source: Source, run: int | str = -1, pops=None, gids=None,
              time_range=None) -> pd.DataFrame:
    """Inter-spike intervals per cell: count, mean ISI (ms) and CV (Elephant's definition).

    Returns
    -------
    pandas.DataFrame
        Indexed by gid: ``pop``, ``n_spikes``, ``isi_mean``, ``isi_cv`` (NaN with < 2 ISIs,
        as Elephant's ``cv`` warns and NetPyNE skips such cells).
    """
    rd = _open(source, run)
    sel = _sel(pops, gids, time_range)
    sp = rd.spikes(sel)
    counts = spike_counts(rd, run, pops, gids, time_range)
    order = np.lexsort((sp["time"].to_numpy(), sp["gid"].to_numpy()))
    g = sp["gid"].to_numpy()[order]
    t = sp["time"].to_numpy()[order]
    same = g[1:] == g[:-1]
    isi = np.diff(t)[same]
    owner = g[1:][same]
    gid_arr = counts.index.to_numpy()
    pos = np.searchsorted(gid_arr, owner)
    n = np.bincount(pos, minlength=len(gid_arr)).astype(np.float64)
    s1 = np.bincount(pos, isi, minlength=len(gid_arr))
    s2 = np.bincount(pos, isi * isi, minlength=len(gid_arr))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
        cv = np.sqrt(var) / mean
    cv[n < 2] = np.nan
    mean[n < 1] = np.nan
    return pd.DataFrame({"pop": counts["pop"].to_numpy(), "n_spikes": counts["count"],
                         "isi_mean": mean, "isi_cv": cv}, index=counts.index)


def synchrony(source: Source, run: int | str = -1, pops=None, time_range=None
              ) -> pd.Series:
    """SPIKE-contrast synchrony (0: none, 1: full) of each population's spike trains
    (``elephant.spike_train_synchrony.spike_contrast``, as NetPyNE's ``plotSyncs``).

    Populations with fewer than two spiking cells get NaN.
    """
    from ._lazy import elephant_module, neo_spiketrains

    stc = elephant_module("elephant.spike_train_synchrony")
    rd = _open(source, run)
    sel = _sel(pops, None, time_range)
    t0, t1 = rd.time_range(sel)
    sp = rd.spikes(sel)
    cells = rd.cells()
    out = {}
    for pop in (sel.pops or rd.populations()):
        gids = cells["gid"][cells["pop"].astype(str) == pop].to_numpy()
        sub = sp[np.isin(sp["gid"].to_numpy(), gids)]
        trains = neo_spiketrains(sub, t0, t1)
        out[pop] = (float(stc.spike_contrast(trains, t_start=trains[0].t_start,
                                             t_stop=trains[0].t_stop))
                    if len(trains) >= 2 else float("nan"))
    return pd.Series(out, name="spike_contrast", dtype=np.float64)
