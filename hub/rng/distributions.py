"""Distributions as inverse CDFs of counter-hashed uniforms, plus permutations and k-subsets; every
value depends only on its own counters. Parameterisations: docs/design/rng.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from .keys import _SUBKEY, _fmix_int, _key_int, _u_open, hash64, uniform

_POISSON_SEARCH_MAX = 50.0  # means above this use scipy's inverse CDF instead of a table search

def _stats():
    """scipy.stats, imported on first use (it takes over a second to import)."""
    from scipy import stats

    return stats


def _check(ok: object, func: str, message: str) -> None:
    if not np.all(ok):
        raise ValueError(f"{func}: {message}")


def _f(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# continuous distributions
# ---------------------------------------------------------------------------------------------
def uniform_between(key, low, high, *counters, draw: int = 0) -> np.ndarray:
    """Uniform numbers ``low + (high - low) * U`` with ``U`` in ``[0, 1)``.

    Parameters
    ----------
    low, high : array_like of float
        Bounds, broadcast with the counters.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    low, high = _f(low), _f(high)
    _check(np.isfinite(low) & np.isfinite(high), "uniform", "low and high must be finite")
    return low + (high - low) * uniform(key, *counters, draw=draw)


def normal(key, mean, std, *counters, draw: int = 0) -> np.ndarray:
    """Normal numbers N(mean, std**2) by the inverse CDF.

    Parameters
    ----------
    mean, std : array_like of float
        Mean and standard deviation (``std >= 0``), broadcast with the counters.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    mean, std = _f(mean), _f(std)
    _check(std >= 0, "normal", "std must be >= 0")
    return mean + std * special.ndtri(_u_open(key, counters, draw))


def lognormal(key, mu, sigma, *counters, draw: int = 0) -> np.ndarray:
    """Log-normal numbers ``exp(N(mu, sigma**2))`` (numpy's parameterisation).

    Parameters
    ----------
    mu, sigma : array_like of float
        Mean and standard deviation of the underlying normal (``sigma >= 0``).
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    mu, sigma = _f(mu), _f(sigma)
    _check(sigma >= 0, "lognormal", "sigma must be >= 0")
    return np.exp(mu + sigma * special.ndtri(_u_open(key, counters, draw)))


def exponential(key, scale, *counters, draw: int = 0) -> np.ndarray:
    """Exponential numbers with mean ``scale``: ``-scale * log(U)``.

    Parameters
    ----------
    scale : array_like of float
        The mean (``>= 0``); NEURON's ``negexp(mean)``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    scale = _f(scale)
    _check(scale >= 0, "exponential", "the mean (scale) must be >= 0")
    return -scale * np.log(_u_open(key, counters, draw))


negexp = exponential


def gamma(key, shape, scale, *counters, draw: int = 0) -> np.ndarray:
    """Gamma(shape, scale) numbers by the inverse regularised incomplete gamma function.

    Parameters
    ----------
    shape, scale : array_like of float
        Shape (``> 0``) and scale (``>= 0``); the mean is ``shape * scale``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    shape, scale = _f(shape), _f(scale)
    _check(shape > 0, "gamma", "shape must be > 0")
    _check(scale >= 0, "gamma", "scale must be >= 0")
    return scale * special.gammaincinv(shape, _u_open(key, counters, draw))


def erlang(key, k, scale, *counters, draw: int = 0) -> np.ndarray:
    """Erlang numbers: Gamma(k, scale) with an integer shape ``k >= 1``.

    Parameters
    ----------
    k : array_like of int
        Number of exponential phases (``>= 1``).
    scale : array_like of float
        Mean of each phase (``>= 0``); the mean is ``k * scale``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    k = _f(k)
    _check((k >= 1) & (k == np.floor(k)), "erlang", "k must be an integer >= 1")
    return gamma(key, k, scale, *counters, draw=draw)


def weibull(key, shape, scale, *counters, draw: int = 0) -> np.ndarray:
    """Weibull numbers ``scale * (-log(1 - U)) ** (1 / shape)``.

    Parameters
    ----------
    shape, scale : array_like of float
        Shape (``> 0``) and scale (``>= 0``), as in ``scipy.stats.weibull_min(shape, scale=scale)``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    shape, scale = _f(shape), _f(scale)
    _check(shape > 0, "weibull", "shape must be > 0")
    _check(scale >= 0, "weibull", "scale must be >= 0")
    return scale * (-np.log1p(-_u_open(key, counters, draw))) ** (1.0 / shape)


def triangular(key, left, mode, right, *counters, draw: int = 0) -> np.ndarray:
    """Triangular numbers on ``[left, right]`` with peak at ``mode``.

    Parameters
    ----------
    left, mode, right : array_like of float
        ``left <= mode <= right`` and ``left < right``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    a, c, b = _f(left), _f(mode), _f(right)
    _check((a <= c) & (c <= b) & (a < b), "triangular", "need left <= mode <= right, left < right")
    u = _u_open(key, counters, draw)
    fc = (c - a) / (b - a)
    lower = a + np.sqrt(u * (b - a) * (c - a))
    upper = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
    return np.where(u < fc, lower, upper)


def hyperexponential(key, mean, variance, *counters, draw: int = 0) -> np.ndarray:
    """NEURON's ``Random.hypergeo(mean, variance)``: a balanced two-branch hyperexponential.

    Despite its NEURON name this is not the hypergeometric distribution. With ``z =
    variance / mean**2`` (``z >= 1``) and ``p = (1 - sqrt((z - 1) / (z + 1))) / 2``, the value is
    exponential with mean ``mean / (2 p)`` with probability ``p`` and with mean
    ``mean / (2 (1 - p))`` otherwise; its mean and variance are exactly those given. The branch
    uniform is drawn from a fixed sub-key of ``key`` (same counters and draw).

    Parameters
    ----------
    mean, variance : array_like of float
        ``mean > 0`` and ``variance >= mean**2``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``float64`` values.
    """
    mean, variance = _f(mean), _f(variance)
    _check(mean > 0, "hyperexponential", "mean must be > 0")
    z = variance / (mean * mean)
    _check(z >= 1, "hyperexponential", "variance must be >= mean**2")
    p = 0.5 * (1.0 - np.sqrt((z - 1.0) / (z + 1.0)))
    branch = _u_open(_fmix_int(_key_int(key) ^ _SUBKEY), counters, draw)
    d = np.where(branch > p, 1.0 - p, p)
    return -mean * np.log(_u_open(key, counters, draw)) / (2.0 * d)


# ---------------------------------------------------------------------------------------------
# discrete distributions
# ---------------------------------------------------------------------------------------------
def discunif(key, low, high, *counters, draw: int = 0) -> np.ndarray:
    """Uniform integers from ``low`` to ``high`` inclusive.

    Parameters
    ----------
    low, high : array_like of int
        Inclusive bounds, ``low <= high``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``int64`` values.
    """
    low, high = np.asarray(low), np.asarray(high)
    _check(np.floor(low) == low, "discunif", "low must be an integer")
    _check(np.floor(high) == high, "discunif", "high must be an integer")
    _check(low <= high, "discunif", "need low <= high")
    span = (_f(high) - low) + 1.0
    u = uniform(key, *counters, draw=draw)
    return (np.floor(span * u) + low).astype(np.int64)


def geometric(key, p, *counters, draw: int = 0) -> np.ndarray:
    """Number of Bernoulli(p) trials up to and including the first success (1, 2, ...).

    Parameters
    ----------
    p : array_like of float
        Success probability, ``0 < p <= 1``; the mean is ``1 / p``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``int64`` values.
    """
    p = _f(p)
    _check((p > 0) & (p <= 1), "geometric", "p must be in (0, 1]")
    u = _u_open(key, counters, draw)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.ceil(np.log1p(-u) / np.log1p(-p))
    return np.maximum(np.nan_to_num(k, nan=1.0), 1.0).astype(np.int64)


def poisson(key, lam, *counters, draw: int = 0) -> np.ndarray:
    """Poisson(lam) numbers by the inverse CDF.

    Means up to 50 use an exact vectorised table search; larger ones ``scipy.stats.poisson.ppf``.

    Parameters
    ----------
    lam : array_like of float
        The mean, ``>= 0``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``int64`` values.
    """
    lam = _f(lam)
    _check((lam >= 0) & np.isfinite(lam), "poisson", "the mean must be finite and >= 0")
    u, lam = np.broadcast_arrays(_u_open(key, counters, draw), lam)
    out = np.empty(u.shape, dtype=np.int64)
    small = lam <= _POISSON_SEARCH_MAX
    out[small] = _poisson_search(u[small], lam[small])
    big = ~small
    if big.any():
        out[big] = _stats().poisson.ppf(u[big], lam[big]).astype(np.int64)
    return out


def _poisson_search(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smallest k with CDF(k) >= u, by accumulating the pmf (vectorised over elements)."""
    k = np.zeros(u.shape, dtype=np.int64)
    pmf = np.exp(-lam)
    cdf = pmf.copy()
    active = np.flatnonzero(u > cdf)
    limit = int(np.max(lam, initial=0.0) + 40.0 * np.sqrt(np.max(lam, initial=0.0)) + 40.0)
    for step in range(1, limit + 1):
        if active.size == 0:
            break
        k[active] = step
        pmf[active] *= lam[active] / step
        cdf[active] += pmf[active]
        active = active[u[active] > cdf[active]]
    return k


def binomial(key, n, p, *counters, draw: int = 0) -> np.ndarray:
    """Binomial(n, p) numbers by the inverse CDF.

    Parameters
    ----------
    n : array_like of int
        Number of trials, ``>= 0``.
    p : array_like of float
        Success probability in ``[0, 1]``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``int64`` values.
    """
    n, p = _f(n), _f(p)
    _check((n >= 0) & (n == np.floor(n)), "binomial", "n must be an integer >= 0")
    _check((p >= 0) & (p <= 1), "binomial", "p must be in [0, 1]")
    u = _u_open(key, counters, draw)
    k = _stats().binom.ppf(u, n, p)
    k = np.where(p == 0, 0.0, np.where(p == 1, n, k))
    return k.astype(np.int64)


def hypergeometric(key, ngood, nbad, nsample, *counters, draw: int = 0) -> np.ndarray:
    """Hypergeometric numbers: good items among ``nsample`` drawn without replacement.

    Uses ``scipy.stats.hypergeom.ppf`` (slow: about 15 us a value).

    Parameters
    ----------
    ngood, nbad, nsample : array_like of int
        As in ``numpy.random.Generator.hypergeometric``; ``nsample <= ngood + nbad``.
    key, *counters, draw
        As for :func:`uniform`.

    Returns
    -------
    numpy.ndarray
        ``int64`` values.
    """
    good, bad, ns = _f(ngood), _f(nbad), _f(nsample)
    ints = (good == np.floor(good)) & (bad == np.floor(bad)) & (ns == np.floor(ns))
    _check(ints & (good >= 0) & (bad >= 0) & (ns >= 0), "hypergeometric", "need integers >= 0")
    _check(ns <= good + bad, "hypergeometric", "need nsample <= ngood + nbad")
    u = _u_open(key, counters, draw)
    return _stats().hypergeom.ppf(u, good + bad, good, ns).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# sampling without replacement
# ---------------------------------------------------------------------------------------------
def _expanded(counters: Sequence) -> list[np.ndarray]:
    return [np.asarray(c)[..., None] for c in counters]


def permutation(key, n: int, *counters, draw: int = 0) -> np.ndarray:
    """A deterministic random permutation of ``range(n)`` for each counter tuple.

    Parameters
    ----------
    key : int or numpy.uint64
        Stream key.
    n : int
        Length of the permutation.
    *counters : array_like of int
        Integer counters of broadcast shape ``S``.
    draw : int, optional
        Draw index.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``S + (n,)``.
    """
    h = hash64(key, *_expanded(counters), np.arange(int(n), dtype=np.int64), draw=draw)
    return np.argsort(h, axis=-1, kind="stable").astype(np.int64)


def choice_k(key, candidates, k: int, *counters, draw: int = 0) -> np.ndarray:
    """Choose ``k`` of ``candidates`` without replacement, deterministically.

    Each candidate gets the hash of ``(key, draw, *counters, candidate)``; the ``k`` smallest
    win. The choice depends on the candidates' values, not their order, so it is the same however
    the candidate list was assembled.

    Parameters
    ----------
    key : int or numpy.uint64
        Stream key.
    candidates : array_like of int
        1-D array of candidate ids (e.g. presynaptic gids).
    k : int
        How many to choose, ``0 <= k <= len(candidates)``.
    *counters : array_like of int
        Integer counters of broadcast shape ``S`` (e.g. one post gid, or an array of them).
    draw : int, optional
        Draw index.

    Returns
    -------
    numpy.ndarray
        Array of shape ``S + (k,)`` holding the chosen candidates in ascending order.
    """
    cand = np.asarray(candidates)
    if cand.ndim != 1:
        raise ValueError(f"choice_k: candidates must be 1-D, got shape {cand.shape}")
    k = int(k)
    if not 0 <= k <= cand.size:
        raise ValueError(f"choice_k: cannot choose k={k} of {cand.size} candidates")
    h = hash64(key, *_expanded(counters), cand, draw=draw)
    if k == 0:
        return np.empty(h.shape[:-1] + (0,), dtype=cand.dtype)
    idx = np.argpartition(h, k - 1, axis=-1)[..., :k] if k < cand.size else np.indices(h.shape)[-1]
    return np.sort(cand[idx], axis=-1)
