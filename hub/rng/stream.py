"""``KeyedStream``: a stream key with the :mod:`nethub.rng` distribution functions bound to it.
"""

from __future__ import annotations

import numpy as np

from .distributions import (
    binomial,
    choice_k,
    discunif,
    erlang,
    exponential,
    gamma,
    geometric,
    hyperexponential,
    hypergeometric,
    lognormal,
    normal,
    permutation,
    poisson,
    triangular,
    uniform_between,
    weibull,
)
from .keys import _key_int, derive_key, hash64, stream_key, uniform


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
