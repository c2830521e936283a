"""Spike-train statistics the exact-mode tests compare between runs whose spike times may part
(rates, ISI variability, synchrony), and the spike comparisons they share."""

from __future__ import annotations

import numpy as np


def sorted_spikes(t, g) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and gids sorted by (time, gid)."""
    t, g = np.asarray(t, dtype=float), np.asarray(g, dtype=np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


def identical(a: tuple, b: tuple) -> bool:
    """The same spikes bit for bit: same count, gids and times in (time, gid) order."""
    (ta, ga), (tb, gb) = sorted_spikes(*a), sorted_spikes(*b)
    return len(ta) == len(tb) and np.array_equal(ga, gb) and np.array_equal(ta, tb)


def first_difference(a: tuple, b: tuple, tol: float = 0.0) -> float | None:
    """Time (ms) of the first spike in which two runs differ by more than ``tol`` ms (None when
    they agree)."""
    (ta, ga), (tb, gb) = sorted_spikes(*a), sorted_spikes(*b)
    n = min(len(ta), len(tb))
    bad = np.flatnonzero((ga[:n] != gb[:n]) | (np.abs(ta[:n] - tb[:n]) > tol))
    if len(bad):
        return float(min(ta[bad[0]], tb[bad[0]]))
    return None if len(ta) == len(tb) else float((ta if len(ta) > n else tb)[n])


def rate(t, g, n_cells: int, duration: float) -> float:
    """Mean firing rate (Hz) over ``n_cells`` cells."""
    return len(np.asarray(t)) / n_cells / (duration / 1000.0)


def cv_isi(t, g) -> float:
    """Mean coefficient of variation of the inter-spike intervals over cells with >= 3 spikes."""
    t, g = np.asarray(t, dtype=float), np.asarray(g)
    cvs = []
    for gid in np.unique(g):
        isi = np.diff(np.sort(t[g == gid]))
        if len(isi) >= 2 and isi.mean() > 0:
            cvs.append(isi.std() / isi.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def synchrony(t, g, gids, duration: float, bin_ms: float = 5.0) -> float:
    """Golomb's synchrony measure chi**2: variance of the population's binned spike count over
    the mean variance of the cells' binned counts (1: fully synchronous, ~1/N: asynchronous)."""
    t, g = np.asarray(t, dtype=float), np.asarray(g)
    edges = np.arange(0.0, duration + bin_ms, bin_ms)
    counts = np.array([np.histogram(t[g == gid], edges)[0] for gid in gids], dtype=float)
    pop = counts.mean(axis=0)
    single = counts.var(axis=1).mean()
    return float(pop.var() / single) if single > 0 else float("nan")
