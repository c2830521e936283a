"""Directed interactions between populations: Granger causality (Elephant) and normalized
transfer entropy (nTE).

Granger causality is Elephant's (``elephant.causality.granger``: time-domain
``pairwise_granger`` with the model order chosen by AIC/BIC, and ``pairwise_spectral_granger``).
The functions here return explicit ``source -> target`` values; the tests check the direction and
the size (``log(var(Y | Y past) / var(Y | Y, X past))``) on processes with known coupling.
Elephant rounds the time-domain values to two decimals.

nTE is written here: no well-kept Python library offers it (NetPyNE's needs its own compiled
``nte.mod``, which breaks on a pip install). It follows the definition NetPyNE and Kale et al.
(2018, EMBC, doi:10.1109/embc.2018.8512532) use: spike counts in bins, history of one bin,

    TE(X -> Y) = sum p(y_t+1, y_t, x_t) log2[ p(y_t+1 | y_t, x_t) / p(y_t+1 | y_t) ]
    nTE(X -> Y) = (TE - mean TE of X shuffled) / H(y_t+1 | y_t)

with the shuffles drawn from a seeded generator (reproducible).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .data import AnalysisError, RunData, Selection, Source, open_run
from .spikes import population_rate_signals

__all__ = [
    "granger",
    "spectral_granger",
    "granger_matrix",
    "transfer_entropy",
    "normalized_transfer_entropy",
    "nte_matrix",
]


# ----------------------------------------------------------------------------- Granger
def granger(x: np.ndarray, y: np.ndarray, max_order: int = 10,
            criterion: str = "aic") -> dict[str, float]:
    """Time-domain Granger causality between two signals (``elephant.causality.granger
    .pairwise_granger``).

    Returns
    -------
    dict
        ``x->y`` and ``y->x`` (log variance ratios, 0 = no influence), ``instantaneous`` and
        ``total``.
    """
    from ._lazy import elephant_module

    gr = elephant_module("elephant.causality.granger")
    sig = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    sig = sig - sig.mean(axis=0)
    c = gr.pairwise_granger(sig, max_order=max_order, information_criterion=criterion)
    return {"x->y": float(c.directional_causality_x_y), "y->x": float(c.directional_causality_y_x),
            "instantaneous": float(c.instantaneous_causality),
            "total": float(c.total_interdependence)}


def spectral_granger(x: np.ndarray, y: np.ndarray, fs: float,
                     len_segment: int | None = None) -> pd.DataFrame:
    """Spectral Granger causality (``pairwise_spectral_granger``; Wilson factorisation).

    Returns
    -------
    pandas.DataFrame
        Index ``freq`` (Hz); columns ``x->y``, ``y->x``, ``instantaneous``, ``total``.
    """
    from ._lazy import elephant_module

    gr = elephant_module("elephant.causality.granger")
    x = np.asarray(x, float) - np.mean(x)
    y = np.asarray(y, float) - np.mean(y)
    n = len(x)
    seg = len_segment or min(n, 256)
    freqs, c = gr.pairwise_spectral_granger(x, y, fs=fs, len_segment=seg)
    # the spectral variant's x_y is signal_i -> signal_j, as documented
    keep = np.asarray(freqs) >= 0
    return pd.DataFrame({"x->y": np.asarray(c.directional_causality_x_y)[keep],
                         "y->x": np.asarray(c.directional_causality_y_x)[keep],
                         "instantaneous": np.asarray(c.instantaneous_causality)[keep],
                         "total": np.asarray(c.total_interdependence)[keep]},
                        index=pd.Index(np.asarray(freqs)[keep], name="freq"))


def granger_matrix(source: Source, run: int | str = -1, pops=None, bin_ms: float = 5.0,
                   time_range=None, max_order: int = 10) -> pd.DataFrame:
    """Granger causality between every pair of populations' rate signals.

    Returns
    -------
    pandas.DataFrame
        Rows: source population, columns: target population; diagonal NaN.
    """
    rates = population_rate_signals(source, run, bin_ms, pops, time_range)
    names = list(rates.columns)
    out = pd.DataFrame(np.nan, index=pd.Index(names, name="source"),
                       columns=pd.Index(names, name="target"))
    for a, b in itertools.combinations(names, 2):
        xa, xb = rates[a].to_numpy(), rates[b].to_numpy()
        if np.std(xa) == 0 or np.std(xb) == 0:
            continue
        g = granger(xa, xb, max_order)
        out.loc[a, b], out.loc[b, a] = g["x->y"], g["y->x"]
    return out


# ----------------------------------------------------------------------------- nTE
def _entropy(*cols: np.ndarray) -> float:
    """Joint Shannon entropy (bits) of integer columns."""
    joint = np.stack(cols, axis=1)
    _, counts = np.unique(joint, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def transfer_entropy(x: np.ndarray, y: np.ndarray) -> float:
    """TE(X -> Y) in bits for integer sequences, history of one sample."""
    x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
    yf, yp, xp = y[1:], y[:-1], x[:-1]
    # TE = H(yf, yp) - H(yp) - H(yf, yp, xp) + H(yp, xp)
    return (_entropy(yf, yp) - _entropy(yp) - _entropy(yf, yp, xp) + _entropy(yp, xp))


def normalized_transfer_entropy(x: np.ndarray, y: np.ndarray, n_shuffle: int = 30,
                                seed: int = 0) -> dict[str, float]:
    """nTE(X -> Y) of two binned count sequences (see the module docstring).

    Returns
    -------
    dict
        ``nte``, ``te`` (bits), ``te_shuffled`` (mean over shuffles), ``h_cond``
        (H(y_t+1 | y_t), bits).
    """
    x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
    if len(x) != len(y) or len(x) < 3:
        raise AnalysisError("nTE needs two sequences of the same length >= 3")
    te = transfer_entropy(x, y)
    rng = np.random.default_rng(seed)
    shuffled = [transfer_entropy(rng.permutation(x), y) for _ in range(n_shuffle)]
    te_sh = float(np.mean(shuffled)) if shuffled else 0.0
    h_cond = _entropy(y[1:], y[:-1]) - _entropy(y[:-1])
    nte = (te - te_sh) / h_cond if h_cond > 0 else 0.0
    return {"nte": float(nte), "te": float(te), "te_shuffled": te_sh, "h_cond": float(h_cond)}


def _binned_counts(rd: RunData, pop: str, bin_ms: float, time_range) -> np.ndarray:
    sel = Selection([pop], None, None if time_range is None else tuple(time_range))
    t0, t1 = rd.time_range(sel)
    t = rd.spikes(sel)["time"].to_numpy()
    nb = max(1, int((t1 - t0) // bin_ms))
    return np.bincount(np.clip(((t - t0) // bin_ms).astype(np.int64), 0, nb - 1),
                       minlength=nb)


def nte_matrix(source: Source, run: int | str = -1, pops=None, bin_ms: float = 20.0,
               time_range=None, n_shuffle: int = 30, seed: int = 0) -> pd.DataFrame:
    """nTE between every ordered pair of populations (spike counts in ``bin_ms`` bins, as
    NetPyNE's ``nTE`` with ``binSize``).

    Returns
    -------
    pandas.DataFrame
        Rows: source, columns: target; diagonal NaN.
    """
    rd = open_run(source, run)
    names = list(pops) if pops is not None else rd.populations()
    counts = {p: _binned_counts(rd, p, bin_ms, time_range) for p in names}
    out = pd.DataFrame(np.nan, index=pd.Index(names, name="source"),
                       columns=pd.Index(names, name="target"))
    for a, b in itertools.permutations(names, 2):
        out.loc[a, b] = normalized_transfer_entropy(counts[a], counts[b], n_shuffle, seed)["nte"]
    return out
