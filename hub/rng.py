"""Counter-based, stateless random streams.

Every random number nethub draws is a pure function of ``(seed, stream labels, counters, draw)``:
no generator object carries state from one call to the next. A network built on one rank or
sixty-four, in one chunk or many, with its rules in any order, therefore draws the same numbers.

How a number is made
--------------------
1. :func:`stream_key` hashes an integer seed and any string/integer labels (e.g. ``'conn'``,
   ``'E->I'``, ``'weight'``) with BLAKE2b into a 64-bit *key*. The encoding is fixed and typed, so
   keys are stable across runs, Python versions and platforms (Python's salted ``hash()`` is never
   used).
2. :func:`hash64` mixes the key, the draw index and each integer *counter* (broadcast arrays such
   as pre- and post-synaptic gids) with the splitmix64 finaliser::

       h0 = fmix(fmix(key ^ C0) + draw * GAMMA)
       h_{i+1} = fmix(h_i ^ (counter_i * GAMMA))         (uint64 arithmetic, wrapping)

   Each step is a bijection of the counter for a fixed prefix, so tuples differing only in their
   last counter never collide (others collide with probability 2**-64).
3. :func:`uniform` keeps the top 53 bits: ``(h >> 11) * 2**-53`` in ``[0, 1)``. Distributions
   are inverse CDFs of ``((h >> 12) + 0.5) * 2**-52``, which lies in the open interval (0, 1),
   so every value depends only on its own counters. The one two-uniform distribution
   (:func:`hyperexponential`) takes its second uniform from a fixed sub-key of the same key.

Values are identical element by element whether computed over a whole array or over chunks of
it, because no element's value depends on any other element.

Parameterisations (library level; :mod:`nethub.expr` maps NEURON's ``h.Random`` names onto these)
------------------------------------------------------------------------------------------------
=====================  ==========================================  ============================
function               distribution                                values
=====================  ==========================================  ============================
``uniform``            U[0, 1)                                     float64
``uniform_between``    ``low + (high - low) * U``                  float64
``normal``             N(mean, std**2)                             float64
``lognormal``          ``exp(N(mu, sigma**2))`` (numpy convention) float64
``exponential``        exponential with mean ``scale``             float64
``gamma``              Gamma(shape, scale)                         float64
``erlang``             Gamma(k, scale), integer ``k >= 1``         float64
``weibull``            ``scale * E**(1/shape)``, E ~ Exp(1)        float64
``triangular``         triangular(left, mode, right)               float64
``hyperexponential``   NEURON's ``hypergeo``: two-branch balanced  float64
                       hyperexponential with given mean, variance
``poisson``            Poisson(lam)                                int64
``binomial``           Binomial(n, p)                              int64
``discunif``           integers ``low..high`` inclusive            int64
``geometric``          trials to first success, P(success)=p; 1..  int64
``hypergeometric``     numpy convention (ngood, nbad, nsample)     int64
=====================  ==========================================  ============================

Invalid parameters raise :class:`ValueError` naming the function and the parameter.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import numpy as np
from scipy import special

__all__ = [
    "KeyedStream",
    "binomial",
    "choice_k",
    "derive_key",
    "discunif",
    "erlang",
    "exponential",
    "gamma",
    "geometric",
    "hash64",
    "hyperexponential",
    "hypergeometric",
    "lognormal",
    "negexp",
    "normal",
    "permutation",
    "poisson",
    "stream_key",
    "triangular",
    "uniform",
    "uniform_between",
    "weibull",
]

logger = logging.getLogger(__name__)

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_C0 = 0x6A09E667F3BCC909  # first 64 bits of frac(sqrt(2)), a nothing-up-my-sleeve constant
_SUBKEY = 0x243F6A8885A308D3  # frac(pi), for the second uniform of two-uniform distributions
_U_GAMMA = np.uint64(_GAMMA)
_U_M1 = np.uint64(_M1)
_U_M2 = np.uint64(_M2)
_S11, _S12 = np.uint64(11), np.uint64(12)
_S27, _S30, _S31 = np.uint64(27), np.uint64(30), np.uint64(31)
_PERSON = b"nethub.rng.v1"
_POISSON_SEARCH_MAX = 50.0  # means above this use scipy's inverse CDF instead of a table search


# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------

def _stats():
    """scipy.stats, imported on first use (it takes over a second to import)."""
    from scipy import stats

    return stats

def _encode(label: object) -> bytes:
    """Typed, length-prefixed encoding of one label (so 'ab','c' differs from 'a','bc')."""
    if isinstance(label, str):
        raw = label.encode("utf-8")
        return b"s" + len(raw).to_bytes(8, "little") + raw
    if isinstance(label, (int, np.integer)):
        try:
            return b"i" + int(label).to_bytes(16, "little", signed=True)
        except OverflowError:
            raise ValueError(f"integer stream label out of range: {label}") from None
    raise TypeError(f"stream labels must be str or int, not {type(label).__name__}: {label!r}")


def _blake_key(*parts: bytes) -> np.uint64:
    h = hashlib.blake2b(digest_size=8, person=_PERSON)
    for part in parts:
        h.update(part)
    return np.uint64(int.from_bytes(h.digest(), "little"))


def stream_key(seed: int, *labels: str | int) -> np.uint64:
    """Hash a seed and labels into a 64-bit stream key.

    Parameters
    ----------
    seed : int
        The user's seed (e.g. ``simConfig.seeds['conn']``).
    *labels : str or int
        Stream labels, e.g. ``'conn'``, the rule label ``'E->I'`` and the purpose ``'prob'``.

    Returns
    -------
    numpy.uint64
        A key stable across runs, Python versions and platforms.

    Examples
    --------
    >>> stream_key(1, "conn", "E->I") == stream_key(1, "conn", "E->I")
    True
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}: {seed!r}")
    return _blake_key(_encode(int(seed)), *(_encode(lab) for lab in labels))


def derive_key(key: int | np.uint64, *labels: str | int) -> np.uint64:
    """Derive an independent child key from a key and further labels.

    Parameters
    ----------
    key : int or numpy.uint64
        The parent key.
    *labels : str or int
        Labels naming the child stream.

    Returns
    -------
    numpy.uint64
        The child key.
    """
    return _blake_key(b"k" + _key_int(key).to_bytes(8, "little"), *(_encode(lab) for lab in labels))


def _key_int(key: int | np.uint64) -> int:
    k = int(key)
    if not 0 <= k <= _MASK:
        raise ValueError(f"a stream key must be a 64-bit unsigned integer, got {key!r}")
    return k


# ---------------------------------------------------------------------------------------------
# hashing
# ---------------------------------------------------------------------------------------------
def _fmix_int(x: int) -> int:
    """splitmix64 finaliser on a Python int (mod 2**64)."""
    x &= _MASK
    x ^= x >> 30
    x = (x * _M1) & _MASK
    x ^= x >> 27
    x = (x * _M2) & _MASK
    return x ^ (x >> 31)


def _fmix_inplace(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser applied in place to a uint64 array (one scratch buffer)."""
    tmp = np.empty_like(h)
    np.right_shift(h, _S30, out=tmp)
    h ^= tmp
    h *= _U_M1
    np.right_shift(h, _S27, out=tmp)
    h ^= tmp
    h *= _U_M2
    np.right_shift(h, _S31, out=tmp)
    h ^= tmp
    return h


def _counter_u64(c: object) -> np.ndarray:
    """A fresh, at least 1-D uint64 copy of an integer counter, multiplied by the golden gamma."""
    arr = np.asarray(c)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"random-stream counters must be integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "u":
        out = np.array(arr, dtype=np.uint64, ndmin=1)
    else:  # signed (two's complement wrap keeps negative counters distinct) or bool
        out = np.array(arr, dtype=np.int64, ndmin=1).view(np.uint64)
    out *= _U_GAMMA
    return out


def hash64(key: int | np.uint64, *counters: np.ndarray | int, draw: int = 0) -> np.ndarray:
    """The 64-bit hash of (key, draw, counters), broadcast over the counters.

    Parameters
    ----------
    key : int or numpy.uint64
        Stream key from :func:`stream_key`.
    *counters : array_like of int
        Integer arrays broadcast together (e.g. pre gids, post gids).
    draw : int, optional
        Draw index, for several independent numbers per counter tuple.

    Returns
    -------
    numpy.ndarray
        ``uint64`` array of the broadcast shape of the counters (0-d without counters).
    """
    start = _fmix_int(_fmix_int(_key_int(key) ^ _C0) + int(draw) * _GAMMA)
    if not counters:
        return np.array(start, dtype=np.uint64)
    shape = np.broadcast_shapes(*(np.shape(c) for c in counters))
    with np.errstate(over="ignore"):
        h = _counter_u64(counters[0])
        h ^= np.uint64(start)
        _fmix_inplace(h)
        for c in counters[1:]:
            cu = _counter_u64(c)
            if np.broadcast_shapes(h.shape, cu.shape) == h.shape:
                h ^= cu
            else:
                h = np.bitwise_xor(h, cu)
            _fmix_inplace(h)
    return h.reshape(shape) if h.shape != shape else h


def uniform(key: int | np.uint64, *counters: np.ndarray | int, draw: int = 0) -> np.ndarray:
    """Uniform numbers in ``[0, 1)`` with a 53-bit mantissa.

    Parameters
    ----------
    key : int or numpy.uint64
        Stream key from :func:`stream_key`.
    *counters : array_like of int
        Integer arrays broadcast together; each element's value depends only on its counters.
    draw : int, optional
        Draw index (independent numbers for the same counters).

    Returns
    -------
    numpy.ndarray
        ``float64`` array of the broadcast shape of the counters.
    """
    h = hash64(key, *counters, draw=draw)
    h >>= _S11
    out = h.astype(np.float64)
    out *= 2.0**-53
    return out


def _u_open(key: int | np.uint64, counters: Sequence, draw: int) -> np.ndarray:
    """Uniforms in the open interval (0, 1) (52 bits + 1/2), for inverse CDFs."""
    h = hash64(key, *counters, draw=draw)
    h >>= _S12
    out = h.astype(np.float64)
    out += 0.5
    out *= 2.0**-52
    return out


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


# ---------------------------------------------------------------------------------------------
# Stream
# ---------------------------------------------------------------------------------------------
class KeyedStream:
    """A stream key with the distribution functions bound to it.

    Parameters
    ----------
    seed : int
        The user's seed.
    *labels : str or int
        Stream labels (see :func:`stream_key`).

    Examples
    --------
    >>> import numpy as np
    >>> s = KeyedStream(1, "conn", "E->I", "weight")
    >>> w = s.normal(1.0, 0.1, np.arange(5), draw=0)
    """

    __slots__ = ("key",)

    def __init__(self, seed: int, *labels: str | int) -> None:
        self.key = stream_key(seed, *labels)

    @classmethod
    def from_key(cls, key: int | np.uint64) -> KeyedStream:
        """Wrap an existing key."""
        obj = cls.__new__(cls)
        obj.key = np.uint64(_key_int(key))
        return obj

    def child(self, *labels: str | int) -> KeyedStream:
        """An independent sub-stream named by ``labels`` (see :func:`derive_key`)."""
        return KeyedStream.from_key(derive_key(self.key, *labels))

    def __repr__(self) -> str:
        return f"KeyedStream.from_key(0x{int(self.key):016x})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyedStream) and int(self.key) == int(other.key)

    def __hash__(self) -> int:
        return hash(int(self.key))

    def hash64(self, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`hash64`."""
        return hash64(self.key, *counters, draw=draw)

    def uniform(self, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`uniform`."""
        return uniform(self.key, *counters, draw=draw)

    def uniform_between(self, low, high, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`uniform_between`."""
        return uniform_between(self.key, low, high, *counters, draw=draw)

    def normal(self, mean, std, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`normal`."""
        return normal(self.key, mean, std, *counters, draw=draw)

    def lognormal(self, mu, sigma, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`lognormal`."""
        return lognormal(self.key, mu, sigma, *counters, draw=draw)

    def exponential(self, scale, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`exponential`."""
        return exponential(self.key, scale, *counters, draw=draw)

    negexp = exponential

    def gamma(self, shape, scale, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`gamma`."""
        return gamma(self.key, shape, scale, *counters, draw=draw)

    def erlang(self, k, scale, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`erlang`."""
        return erlang(self.key, k, scale, *counters, draw=draw)

    def weibull(self, shape, scale, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`weibull`."""
        return weibull(self.key, shape, scale, *counters, draw=draw)

    def triangular(self, left, mode, right, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`triangular`."""
        return triangular(self.key, left, mode, right, *counters, draw=draw)

    def hyperexponential(self, mean, variance, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`hyperexponential`."""
        return hyperexponential(self.key, mean, variance, *counters, draw=draw)

    def discunif(self, low, high, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`discunif`."""
        return discunif(self.key, low, high, *counters, draw=draw)

    def geometric(self, p, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`geometric`."""
        return geometric(self.key, p, *counters, draw=draw)

    def poisson(self, lam, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`poisson`."""
        return poisson(self.key, lam, *counters, draw=draw)

    def binomial(self, n, p, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`binomial`."""
        return binomial(self.key, n, p, *counters, draw=draw)

    def hypergeometric(self, ngood, nbad, nsample, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`hypergeometric`."""
        return hypergeometric(self.key, ngood, nbad, nsample, *counters, draw=draw)

    def permutation(self, n: int, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`permutation`."""
        return permutation(self.key, n, *counters, draw=draw)

    def choice_k(self, candidates, k: int, *counters, draw: int = 0) -> np.ndarray:
        """See :func:`choice_k`."""
        return choice_k(self.key, candidates, k, *counters, draw=draw)
