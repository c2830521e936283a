"""Counter-based, stateless random streams.

Every random number nethub draws (outside the bit-exact NetPyNE paths of :mod:`nethub.random123`)
is a pure function of ``(seed, stream labels, counters, draw)``: no generator object carries state
from one call to the next, so a network built on one rank or many, in one chunk or many, draws the
same numbers. How a number is made and the parameterisation of each distribution:
``docs/design/rng.md``. Invalid parameters raise :class:`ValueError` naming the function and the
parameter.

Modules: :mod:`.keys` (keys and counter hashing), :mod:`.distributions`, :mod:`.stream`
(:class:`KeyedStream`).
"""

from __future__ import annotations

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
    negexp,
    normal,
    permutation,
    poisson,
    triangular,
    uniform_between,
    weibull,
)
from .keys import derive_key, hash64, stream_key, uniform
from .stream import KeyedStream

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
