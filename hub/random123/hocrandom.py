"""``NrnRandom``: a stateful, bit-exact stand-in for one NEURON ``h.Random()`` in Random123 mode
(see docs/design/random123.md).
"""

from __future__ import annotations

import math

import numpy as np

from .philox import _U32_MAX
from .stream import Random123Stream

# --------------------------------------------------------------------------------------------
# h.Random emulation (stateful, one stream)
# --------------------------------------------------------------------------------------------


class NrnRandom:
    """A stateful, bit-exact stand-in for one NEURON ``h.Random()`` object in Random123 mode.

    Mirrors ``src/ivoc/ivocrand.cpp``: ``NrnRandom(seed=0, size=55)`` is ``h.Random(seed, size)``
    (stream ``(seed, size, 0)``, distribution ``Normal(0, 1)``); :meth:`Random123` re-keys the
    generator (position 0) and keeps the distribution object (and a cached normal!); each
    distribution method installs a fresh distribution object and returns one pick; :meth:`repick`
    picks again; :meth:`setrand` is ``Vector(n).setrand(r)`` and returns the n values.

    NEURON's global index is process-wide; here it belongs to the object (``global_index``).
    Changing it with :meth:`Random123_globalindex` is only emulated when the stream is re-keyed or
    re-positioned (``Random123``/``seq``) before the next pick -- NEURON keeps using the block it
    already computed with the old key, so picking first raises NotImplementedError.
    """

    def __init__(self, seed: float = 0, size: int = 55, global_index: int = 0):
        size = int(size)
        if not 7 <= size <= 98:
            raise ValueError("size must be in [7, 98]")
        self._gix = int(global_index)
        self._stale_key = False
        self._set_stream(int(seed) & _U32_MAX, size, 0)
        self._dist: tuple[str, tuple] = ("normal", (0.0, 1.0))
        self._cache = math.nan

    def _set_stream(self, id1, id2, id3):
        self._stream = Random123Stream(id1, id2, id3, global_index=self._gix)
        self._pos = 0

    @property
    def stream(self) -> Random123Stream:
        return self._stream

    @property
    def position(self) -> int:
        """Number of draws consumed since the last (re)keying (``seq()`` modulo 2**34)."""
        return self._pos

    # -- generator control
    def Random123(self, id1=0, id2=0, id3=0) -> float:  # noqa: N802 (NEURON's name)
        self._set_stream(id1, id2, id3)
        self._stale_key = False
        return 0.0

    def Random123_globalindex(self, gix=None) -> float:  # noqa: N802
        if gix is not None:
            g = int(float(gix))
            if not 0 <= float(gix) <= 4294967295.0:
                raise ValueError("global index must be in [0, 4294967295]")
            if g != self._gix:
                self._gix = g
                self._stale_key = True
        return float(self._gix)

    def seq(self, s=None) -> float:
        if s is not None:
            s = float(s)
            if not 0.0 <= s <= 17179869183.0:
                raise ValueError("seq must be in [0, 2**34 - 1]")
            sq = int(s / 4.0)
            which = int(s - sq * 4.0)
            if which > 3 or which < 0:
                which = 0
            st = self._stream
            self._stream = Random123Stream(st.id1, st.id2, st.id3, global_index=self._gix)
            # setseq leaves any carry already propagated into c[1..3] alone
            self._pos = ((self._pos >> 34) << 34) + sq * 4 + which
            self._stale_key = False
        return float(((self._pos >> 2) & _U32_MAX) * 4 + (self._pos & 3))

    def MCellRan4(self, *args):  # noqa: N802
        raise NotImplementedError("only Random123 streams are reproduced (MCellRan4 is not)")

    def play(self, *args):
        raise NotImplementedError("Random.play is a simulation-time feature")

    # -- picking
    def _pick(self, n: int) -> np.ndarray:
        if self._stale_key:
            raise NotImplementedError(
                "pick after Random123_globalindex without re-keying: NEURON keeps the block "
                "computed with the old key; call Random123() or seq() first"
            )
        name, params = self._dist
        st = self._stream
        if name in ("normal", "lognormal"):
            vals, nxt, cache = getattr(st, name)(
                *params,
                n=n,
                start=self._pos,
                return_next=True,
                cached=self._cache,
                return_cache=True,
            )
            self._cache = float(cache)
        else:
            vals, nxt = getattr(st, name)(*params, n=n, start=self._pos, return_next=True)
        self._pos = int(nxt)
        return vals

    def _new(self, name: str, params: tuple) -> float:
        self._dist = (name, params)
        self._cache = math.nan
        return float(self._pick(1)[0])

    def repick(self) -> float:
        return float(self._pick(1)[0])

    def setrand(self, n: int) -> np.ndarray:
        """``h.Vector(n).setrand(r)``: the next ``n`` picks of the current distribution."""
        return self._pick(int(n))

    def uniform(self, a, b) -> float:
        return self._new("uniform", (float(a), float(b)))

    def discunif(self, a, b) -> float:
        return self._new("discunif", (int(float(a)), int(float(b))))

    def normal(self, mean, var) -> float:
        return self._new("normal", (float(mean), float(var)))

    def lognormal(self, mean, var) -> float:
        return self._new("lognormal", (float(mean), float(var)))

    def poisson(self, mean) -> float:
        return self._new("poisson", (float(mean),))

    def binomial(self, N, p) -> float:
        N, p = float(N), float(p)
        if not (0 <= N <= 1e99 and 0 <= p <= 1):
            raise ValueError("binomial: need 0 <= N and 0 <= p <= 1")
        return self._new("binomial", (int(N), p))

    def geometric(self, mean) -> float:
        mean = float(mean)
        if not 0 <= mean <= 1:
            raise ValueError("geometric: need 0 <= mean <= 1")
        return self._new("geometric", (mean,))

    def hypergeo(self, mean, var) -> float:
        return self._new("hypergeo", (float(mean), float(var)))

    def negexp(self, mean) -> float:
        return self._new("negexp", (float(mean),))

    def erlang(self, mean, var) -> float:
        return self._new("erlang", (float(mean), float(var)))

    def weibull(self, alpha, beta) -> float:
        return self._new("weibull", (float(alpha), float(beta)))


# --------------------------------------------------------------------------------------------
# NetPyNE helpers
# --------------------------------------------------------------------------------------------
