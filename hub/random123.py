"""Bit-exact, vectorized numpy re-implementation of NEURON's Random123 random streams.

NetPyNE draws all its randomness (cell positions, probabilistic/convergent/divergent
connectivity, string-function parameters, NetStim rates, VecStim spike trains, ...) from
NEURON's ``h.Random()`` in Random123 mode, re-keyed per purpose.  Random123's Philox4x32-10 is
counter based: draw ``k`` of a stream is a pure function of the stream key and ``k``, so the
draws can be computed for many streams and many indices at once, on any rank, in numpy time.

Everything here reproduces NEURON 9.0.x bit for bit (same uint32, same float64); the facts it
relies on, with the NEURON source that states them:

* ``src/gnu/nrnran123.cpp`` -- a stream created by ``nrnran123_newstream(id1, id2, id3)`` has the
  Philox counter ``c = {seq, id3, id1, id2}`` and the process-global key ``k = {global_index, 0}``
  (``nrnran123_set_globalindex``).  ``nrnran123_ipick`` returns word ``which`` of
  ``philox4x32(c, k)`` and, after word 3, increments the counter (``c.incr()``: ``c[0]`` with carry
  into ``c[1]``, ``c[2]``, ``c[3]``).  Hence draw ``k`` of a fresh stream is word ``k % 4`` of the
  block with ``seq = k // 4``.  ``nrnran123_dblpick`` is ``(u + 1.0) * (1.0 / 4294967297.0)``.
* ``external/Random123/include/Random123/philox.h`` -- Philox4x32 with 10 rounds, multipliers
  ``0xD2511F53``/``0xCD9E8D57``, Weyl key bumps ``0x9E3779B9``/``0xBB67AE85``; round
  ``out = {hi1^c1^k0, lo1, hi0^c3^k1, lo0}`` with ``(hi0, lo0) = M0*c0``, ``(hi1, lo1) = M1*c2``.
* ``src/gnu/NrnRandom123RNG.hpp`` -- the RNG behind ``h.Random`` in Random123 mode:
  ``asLong() = nrnran123_ipick``, ``asDouble() = nrnran123_dblpick``.
* ``src/ivoc/ivocrand.cpp`` -- ``Random.Random123(id1, id2, id3)`` builds a fresh stream
  (position 0) and keeps the current distribution object; every distribution method
  (``uniform``, ``normal``, ...) *replaces* the distribution object and *returns one pick*
  (so NetPyNE's ``rand.uniform(0, 1)`` before ``Vector.setrand`` consumes draw 0);
  ``repick()`` picks again from the current object.  ``src/gnu/Rand.cpp``: ``h.Random(seed=0)``
  starts as ``NrnRandom123(seed, 55)`` with a ``Normal(0, 1)`` distribution.
* ``src/ivoc/ivocvect.cpp`` ``v_setrand`` -- ``Vector.setrand(r)`` fills element ``i`` with the
  ``i``-th further pick of ``r``'s current distribution object (n sequential picks).
* ``src/gnu/{Uniform,DiscUnif,Normal,NegExp,LogNorm,Poisson,Binomial,Geom,HypGeom,Erlang,
  Weibull}.{h,cpp}`` -- the libg++ distributions; notably ``Normal`` is the polar method that
  caches the second variate of each accepted pair in the distribution *object* (a fresh
  ``r.normal(...)`` call discards it; ``repick``/``setrand`` use it).

Floating point: ``+ - * /`` and ``sqrt`` are correctly rounded in both C and numpy, so they are
done in numpy.  ``log``, ``exp`` and ``pow`` are NOT: numpy's SIMD versions differ from the C
library's in the last bit for ~0.3-5% of inputs.  NEURON calls the C library, so do we, through
Python's :mod:`math` (which calls the very same libm), element by element (~0.1 us per value);
invalid operations give libm's NaN (sign bit set).  Only the distributions that need them pay
that price; uniforms, ``discunif``, ``binomial`` and ``geometric`` are pure numpy.

Verified bit for bit against NEURON 9.0.2 (``tests/simulation/test_random123_neuron.py``):
raw draws (incl. counter carry and global index), ``uniform``, ``discunif``, ``normal`` (with the
cache), ``lognormal``, ``negexp``, ``poisson``, ``binomial``, ``geometric``, ``hypergeo``,
``erlang``, ``weibull``, ``Vector.setrand``, ``repick``, ``seq``; NMODL ``random_uniform``/
``random_negexp``/``random_normal`` (``nrnran123_*``, e.g. NetStim's ``erand()``); NetPyNE 1.1.1
cell positions, NetStim ``rate: [min, max]``, probConn/convConn/divConn connectivity and
string-function weights/delays.  ``MCellRan4`` and ``Random.play`` raise NotImplementedError.

Speed (one core of this 2-vCPU VM): contiguous draws of a stream
(:meth:`Random123Stream.uniform01_block`)
~150 M uniforms/s (100 M in 0.65 s); by index (:meth:`Random123Stream.uniform01`) ~65 M/s for sorted
indices, ~25-30 M/s for arbitrary ones (Philox itself costs ~20 ns per block of 4 words);
1 M streams x 1 fresh ``normal`` (string-function weights) 0.4 s.

This module imports neither ``neuron`` nor NetPyNE.
"""

from __future__ import annotations

import array
import hashlib
import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "SHIFT32",
    "philox4x32",
    "Random123Stream",
    "NrnRandom",
    "ProbConnRands",
    "uniform_at",
    "netpyne_hash_str",
    "netpyne_hash_list",
    "netpyne_positions",
    "netpyne_density_samples",
    "netpyne_prob_rands",
    "netpyne_rand_unique_int",
]

# --------------------------------------------------------------------------------------------
# Philox4x32-10
# --------------------------------------------------------------------------------------------

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = 0x9E3779B9
_W1 = 0xBB67AE85
_MASK = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_U32_MAX = 0xFFFFFFFF
_ROUNDS = 10
#: elements per numpy kernel call; keeps the six uint64 work arrays in L2 cache
_CHUNK = 1 << 14

#: NEURON's ``nrnran123_dblpick`` scale: 1/(2^32 + 1)
SHIFT32 = 1.0 / 4294967297.0


def _round_keys(k0, k1, rounds: int = _ROUNDS):
    """Per-round (k0, k1) as uint64 scalars (None when zero) or uint64 arrays."""
    out = []
    for r in range(rounds):
        pair = []
        for k, w in ((k0, _W0), (k1, _W1)):
            if isinstance(k, np.ndarray):
                pair.append((k + np.uint64(r * w)) & _MASK)
            else:
                v = (int(k) + r * w) & _U32_MAX
                pair.append(np.uint64(v) if v else None)
        out.append(tuple(pair))
    return out


def _philox_inplace(c0, c1, c2, c3, rkeys, p0=None, p1=None):
    """Philox4x32 rounds on four equal-length uint64 arrays holding uint32 values, in place.

    ``rkeys`` comes from :func:`_round_keys`; array keys must have the arrays' length;
    ``p0``, ``p1``: optional scratch arrays of the same length.
    """
    p0 = np.empty_like(c0) if p0 is None else p0
    p1 = np.empty_like(c0) if p1 is None else p1
    for k0r, k1r in rkeys:
        np.multiply(c0, _M0, out=p0)
        np.multiply(c2, _M1, out=p1)
        np.right_shift(p1, _S32, out=c0)
        c0 ^= c1
        if k0r is not None:
            c0 ^= k0r
        np.bitwise_and(p1, _MASK, out=c1)
        np.right_shift(p0, _S32, out=c2)
        c2 ^= c3
        if k1r is not None:
            c2 ^= k1r
        np.bitwise_and(p0, _MASK, out=c3)
    return c0, c1, c2, c3


def philox4x32(counter, key, rounds: int = _ROUNDS) -> np.ndarray:
    """Random123's ``philox4x32_R(rounds, ctr, key)`` for many (counter, key) pairs.

    ``counter``: (n, 4) (or (4,)) uint32-valued; ``key``: (n, 2) or (2,).  Returns uint32 of
    the counter's shape.  ``rounds`` defaults to 10 (Random123's and NEURON's Philox4x32).
    """
    ctr = np.asarray(counter)
    single = ctr.ndim == 1
    ctr = np.atleast_2d(ctr).astype(np.uint64)
    if ctr.shape[-1] != 4 or ctr.ndim != 2:
        raise ValueError(f"counter must have shape (n, 4), got {np.shape(counter)}")
    k = np.asarray(key).astype(np.uint64)
    if k.shape[-1] != 2:
        raise ValueError(f"key must have shape (n, 2) or (2,), got {np.shape(key)}")
    if np.any(ctr > _MASK) or np.any(k > _MASK):
        raise ValueError("counter and key words must be uint32")
    if not 0 <= rounds <= 16:
        raise ValueError("Philox is defined for 0..16 rounds")
    n = ctr.shape[0]
    out = np.empty((n, 4), dtype=np.uint32)
    per_row = k.ndim == 2
    if per_row and k.shape[0] != n:
        raise ValueError("key rows must match counter rows")
    rk_scalar = None if per_row else _round_keys(int(k[0]), int(k[1]), rounds)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        cs = [np.ascontiguousarray(ctr[a:b, j]) for j in range(4)]
        rk = _round_keys(k[a:b, 0].copy(), k[a:b, 1].copy(), rounds) if per_row else rk_scalar
        res = _philox_inplace(*cs, rk)
        for j in range(4):
            out[a:b, j] = res[j]
    return out[0] if single else out


# --------------------------------------------------------------------------------------------
# libm-exact transcendental functions (see module docstring)
# --------------------------------------------------------------------------------------------


#: the NaN x86-64 libm returns for invalid operations (sign bit set), not Python's +nan
_CNAN = math.copysign(math.nan, -1.0)


def _libm_log(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return np.empty(x.shape)
    try:
        vals = np.fromiter(map(math.log, x.ravel().tolist()), np.float64, count=x.size)
    except ValueError:  # log(0) or log(<0): C gives -inf / nan
        vals = np.array([_c_log(v) for v in x.ravel().tolist()], dtype=np.float64)
    return vals.reshape(x.shape)


def _c_log(v: float) -> float:
    if v != v:
        return v
    if v > 0.0:
        return math.log(v)
    return -math.inf if v == 0.0 else _CNAN


def _libm_pow(x, y) -> np.ndarray:
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if x.size == 0:
        return np.empty(x.shape)
    xs, ys = x.ravel().tolist(), y.ravel().tolist()
    try:
        vals = np.fromiter(map(math.pow, xs, ys), np.float64, count=x.size)
    except (ValueError, OverflowError):
        vals = np.array([_c_pow(a, b) for a, b in zip(xs, ys)], dtype=np.float64)
    return vals.reshape(x.shape)


def _c_pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        # finite overflow: C returns +-HUGE_VAL with the sign of the exact result
        neg = a < 0 and float(b).is_integer() and int(b) % 2 == 1
        return -math.inf if neg else math.inf
    except ValueError:
        if a == 0.0 and b < 0:  # pole
            neg = math.copysign(1.0, a) < 0 and float(b).is_integer() and int(b) % 2 == 1
            return -math.inf if neg else math.inf
        return _CNAN


def _c_exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def _c_sqrt(v: float) -> float:
    return math.sqrt(v) if v >= 0.0 else (v if v != v else _CNAN)


# --------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------


def _as_u32(x, name: str) -> np.ndarray:
    """NEURON's ``(uint32_t) chkarg(i, 0., 4294967295.)``: range-checked, truncated toward 0."""
    a = np.asarray(x)
    if a.dtype == object:
        a = np.asarray(a.tolist(), dtype=np.float64)
    if a.dtype.kind == "b":
        return a.astype(np.uint64)
    if a.dtype.kind in "iu":
        if a.size and (a.min() < 0 or a.max() > _U32_MAX):
            raise ValueError(f"{name} must be in [0, 4294967295]")
        return a.astype(np.uint64)
    if a.dtype.kind == "f":
        if a.size and not (np.all(np.isfinite(a)) and a.min() >= 0 and a.max() <= 4294967295.0):
            raise ValueError(f"{name} must be in [0, 4294967295]")
        return np.trunc(a).astype(np.uint64)
    raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")


def _as_pos(x, name: str = "k") -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if a.size and not np.all(a == np.trunc(a)):
            raise ValueError(f"{name} must be integral")
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {a.dtype}")
    if a.size and a.min() < 0:
        raise ValueError(f"{name} must be >= 0")
    return a.astype(np.uint64)


class _Buffers:
    """Scratch arrays of one chunk, reused across the chunks of one call."""

    def __init__(self, L: int = _CHUNK):
        self.c = [np.empty(L, np.uint64) for _ in range(4)]
        self.p0 = np.empty(L, np.uint64)
        self.p1 = np.empty(L, np.uint64)
        self.q = np.empty(L, np.uint64)
        self.w = np.empty(L, np.uint64)
        self.ar = np.arange(L, dtype=np.uint64)
        self.f = np.empty((L, 4), np.float64)
        self.u = np.empty((L, 4), np.uint32)


def _out_array(out, shape, dtype) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != tuple(shape) or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous {np.dtype(dtype)} array of shape {tuple(shape)}"
        )
    return out


#: Most draws one value of ``binomial``/``erlang`` may take (NEURON loops over them in C; here
#: they are arrays, so a huge count would exhaust memory rather than finish).
MAX_DRAWS_PER_VALUE = 1_000_000


def _check_draws_per_value(k: int, what: str) -> None:
    if k > MAX_DRAWS_PER_VALUE:
        raise ValueError(f"{what} = {k} draws per value; nethub refuses more than "
                         f"{MAX_DRAWS_PER_VALUE:,} (the draws are held in memory)")


class Random123Stream:
    """One or many Random123 streams ``(id1, id2, id3)`` exactly as NEURON's ``h.Random`` has them.

    ``id1``, ``id2``, ``id3`` are uint32 values (NEURON truncates doubles toward zero and requires
    0 <= id <= 2**32-1) or arrays of them; they broadcast to :attr:`shape` (``()`` for a single
    stream).  ``global_index`` is NEURON's ``Random123_globalindex`` (the key's first word).

    Draw ``k`` (0-based) is what the ``k+1``-th ``asLong()``/``asDouble()`` of a freshly keyed
    ``h.Random().Random123(id1, id2, id3)`` returns.  Two access styles:

    * by index: :meth:`uint32`, :meth:`uniform01` take any integer array ``k`` broadcasting
      against :attr:`shape`;
    * sequentially, as NEURON's distribution objects pick: :meth:`uniform`, :meth:`discunif`,
      :meth:`normal`, ... return ``shape + (n,)`` arrays holding the ``n`` values that
      ``r.<dist>(...)`` followed by ``n-1`` ``r.repick()`` (equivalently the dist call and a
      ``Vector(n-1).setrand(r)``) produce, starting with the generator at draw ``start``
      (scalar or per-stream).  With ``return_next=True`` they return ``(values, next)``, the
      per-stream draw position after the last pick, to chain calls (``normal``/``lognormal``
      also take/return the polar method's cached value: ``cached=``, ``return_cache=True``).
    """

    def __init__(self, id1, id2=0, id3=0, global_index: int = 0):
        a1, a2, a3 = (_as_u32(v, n) for v, n in ((id1, "id1"), (id2, "id2"), (id3, "id3")))
        self.shape = np.broadcast_shapes(a1.shape, a2.shape, a3.shape)
        self.id1, self.id2, self.id3 = (np.broadcast_to(a, self.shape) for a in (a1, a2, a3))
        gix = int(global_index)
        if not 0 <= gix <= _U32_MAX:
            raise ValueError("global_index must be in [0, 4294967295]")
        self.global_index = gix
        self._rkeys = _round_keys(gix, 0)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        # flattened ids, one entry per stream
        self._fb = tuple(np.broadcast_to(a, self.shape).reshape(-1) for a in (a1, a2, a3))

    def __repr__(self) -> str:
        if self.shape == ():
            ids = f"{int(self.id1)}, {int(self.id2)}, {int(self.id3)}"
        else:
            ids = f"shape={self.shape}"
        return f"Random123Stream({ids}, global_index={self.global_index})"

    # ---------------------------------------------------------------- raw words
    #
    # All paths run a fused pipeline on cache-sized chunks (counter -> Philox -> word -> double)
    # writing straight into the output; nothing of the output's size is allocated on the side.

    def _philox(self, buf, L: int, q, i1, i2, i3, carry: bool, q_is_start: bool = False):
        """Philox blocks for ``L`` counters; ``q``: counter indices (uint64 array of length L, or
        with ``q_is_start`` the first of L consecutive ones); ids: scalars or length-L arrays.
        Returns the four output words (uint64 views into ``buf``)."""
        c0, c1, c2, c3 = (c[:L] for c in buf.c)
        if q_is_start:
            np.add(buf.ar[:L], q, out=c0)
        else:
            c0[...] = q
        c1[...] = i3
        c2[...] = i1
        c3[...] = i2
        if carry:  # r123array incr(): c[0] carries into c[1], then c[2], then c[3]
            hi = c0 >> _S32
            c0 &= _MASK
            c1 += hi
            np.right_shift(c1, _S32, out=hi)
            c1 &= _MASK
            c2 += hi
            np.right_shift(c2, _S32, out=hi)
            c2 &= _MASK
            c3 += hi
            c3 &= _MASK
        return _philox_inplace(c0, c1, c2, c3, self._rkeys, buf.p0[:L], buf.p1[:L])

    def _at(self, k, as_float: bool, out=None) -> np.ndarray:
        k = _as_pos(k)
        bshape = np.broadcast_shapes(self.shape, k.shape)
        N = int(np.prod(bshape, dtype=np.int64))
        dt = np.float64 if as_float else np.uint32
        out = _out_array(out, bshape, dt)
        flat = out.reshape(-1)
        if N == 0:
            return out
        scalar_ids = self.shape == ()
        kb = np.broadcast_to(k, bshape)
        idb = (
            None
            if scalar_ids
            else [np.broadcast_to(v, bshape) for v in (self.id1, self.id2, self.id3)]
        )
        kflat = kb.reshape(-1) if kb.flags.c_contiguous else None
        carry = int(k.max()) >> 34 > 0
        buf = _Buffers()
        ids = (self.id1[()], self.id2[()], self.id3[()]) if scalar_ids else None
        for a in range(0, N, _CHUNK):
            b = min(N, a + _CHUNK)
            L = b - a
            kk = kflat[a:b] if kflat is not None else kb.flat[a:b]
            if not scalar_ids:
                ids = tuple(v.flat[a:b] for v in idb)
            q = buf.q[:L]
            np.right_shift(kk, np.uint64(2), out=q)
            w = buf.w[:L]
            np.bitwise_and(kk, np.uint64(3), out=w)
            o = flat[a:b]
            if scalar_ids and L > 64 and self._at_sorted_runs(buf, L, kk, q, w, ids, carry, o):
                if as_float:
                    o += 1.0
                    o *= SHIFT32
                continue
            res = self._philox(buf, L, q, *ids, carry)
            np.copyto(o, res[0], casting="unsafe")
            for j in (1, 2, 3):
                np.copyto(o, res[j], casting="unsafe", where=w == j)
            if as_float:
                o += 1.0
                o *= SHIFT32
        return out

    def _at_sorted_runs(self, buf, L, kk, q, w, ids, carry, o) -> bool:
        """Chunk of non-decreasing indices sharing Philox blocks: one Philox per distinct block.

        Fills ``o`` with the words and returns True, or returns False (nothing done)."""
        if not (kk[1:] >= kk[:-1]).all():
            return False
        new = q[1:] != q[:-1]
        nu = int(np.count_nonzero(new)) + 1
        if 4 * nu > 3 * L:
            return False
        first = np.flatnonzero(np.concatenate(([True], new)))
        res = self._philox(buf, nu, q[first], *ids, carry)
        words = buf.u[:nu]  # (nu, 4) uint32
        for j in range(4):
            words[:, j] = res[j]
        grp = np.cumsum(new, dtype=np.intp)
        flat_idx = np.empty(L, dtype=np.intp)
        flat_idx[0] = 0
        flat_idx[1:] = grp
        flat_idx *= 4
        flat_idx += w.astype(np.intp)
        o[...] = words.reshape(-1)[flat_idx]
        return True

    def uint32(self, k, out=None) -> np.ndarray:
        """``nrnran123_ipick`` value of draw ``k`` (any integer array broadcasting with shape)."""
        return self._at(k, False, out)

    def uniform01(self, k, out=None) -> np.ndarray:
        """``nrnran123_dblpick`` value of draw ``k``: ``(u + 1) / (2**32 + 1)``, in (0, 1)."""
        return self._at(k, True, out)

    def _starts(self, start) -> np.ndarray:
        s = _as_pos(start, "start")
        return np.ascontiguousarray(np.broadcast_to(s, self.shape)).reshape(-1)

    def _block(self, rows, n: int, start, as_float: bool = True, out=None) -> np.ndarray:
        """Draws ``start[r] .. start[r]+n-1`` of flattened streams ``rows`` -> (len(rows), n)."""
        rows = np.asarray(rows, dtype=np.intp)
        g = rows.shape[0]
        out = _out_array(out, (g, n), np.float64 if as_float else np.uint32)
        if g == 0 or n == 0:
            return out
        start = np.broadcast_to(np.asarray(start, dtype=np.uint64), (g,))
        off = (start & np.uint64(3)).astype(np.intp)
        q0 = start >> np.uint64(2)
        nq = (int(off.max()) + n + 3) >> 2
        carry = (int(q0.max()) + nq - 1) >> 32 > 0
        i1, i2, i3 = (v[rows] for v in self._fb)
        buf = _Buffers()
        sc = buf.f if as_float else buf.u

        def to_scratch(res, L):
            """the 4 words of L counters as rows of the (L, 4) scratch (draw order)."""
            s4 = sc[:L]
            for j in range(4):
                s4[:, j] = res[j]
            return s4

        if nq <= _CHUNK:  # many short rows: whole rows per chunk
            per = max(1, _CHUNK // nq)
            ar = buf.ar[:nq]
            for r0 in range(0, g, per):
                r1 = min(g, r0 + per)
                gr = r1 - r0
                L = gr * nq
                q = buf.q[:L].reshape(gr, nq)
                np.add(q0[r0:r1, None], ar, out=q)
                rep = [np.repeat(v[r0:r1], nq) for v in (i1, i2, i3)]
                res = self._philox(buf, L, q.reshape(-1), *rep, carry)
                w = to_scratch(res, L).reshape(gr, 4 * nq)
                o = off[r0:r1]
                if np.all(o == o[0]):
                    sel = w[:, o[0] : o[0] + n]
                else:
                    sel = np.take_along_axis(w, o[:, None] + np.arange(n), 1)
                dst = out[r0:r1]
                dst[...] = sel
                if as_float:
                    dst += 1.0
                    dst *= SHIFT32
            return out
        for r in range(g):  # long rows: chunk along the counter
            o = int(off[r])
            ids = (i1[r], i2[r], i3[r])
            for qa in range(0, nq, _CHUNK):
                qb = min(nq, qa + _CHUNK)
                L = qb - qa
                ja, jb = max(0, 4 * qa - o), min(n, 4 * qb - o)
                if jb <= ja:
                    continue
                res = self._philox(buf, L, q0[r] + np.uint64(qa), *ids, carry, q_is_start=True)
                dst = out[r, ja:jb]
                if o == 0 and jb - ja == 4 * L:  # aligned, full chunk: write in place
                    d4 = dst.reshape(L, 4)
                    for j in range(4):
                        d4[:, j] = res[j]
                else:
                    w = to_scratch(res, L).reshape(-1)
                    dst[...] = w[ja + o - 4 * qa : jb + o - 4 * qa]
                if as_float:
                    dst += 1.0
                    dst *= SHIFT32
        return out

    def _shaped(self, flat: np.ndarray) -> np.ndarray:
        return flat.reshape(self.shape + flat.shape[1:])

    def uint32_block(self, n: int, start=0, out=None) -> np.ndarray:
        """Draws ``start .. start+n-1`` of every stream as uint32, shape ``shape + (n,)``.

        ``out``: optional C-contiguous uint32 array of that shape to fill (saves the page
        faults of a fresh allocation when called repeatedly)."""
        return self._block_public(n, start, False, out)

    def uniform01_block(self, n: int, start=0, out=None) -> np.ndarray:
        """Draws ``start .. start+n-1`` of every stream as ``dblpick`` doubles, ``shape + (n,)``.

        ``out``: optional C-contiguous float64 array of that shape to fill."""
        return self._block_public(n, start, True, out)

    def _block_public(self, n, start, as_float, out):
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        s = self._starts(start)
        dt = np.float64 if as_float else np.uint32
        full = _out_array(out, self.shape + (n,), dt)
        self._block(np.arange(self.size), n, s, as_float, out=full.reshape(self.size, n))
        return full

    # ---------------------------------------------------------------- distribution helpers

    def _param(self, x, name: str):
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 0:
            return float(a)
        try:
            return np.ascontiguousarray(np.broadcast_to(a, self.shape)).reshape(-1)
        except ValueError:
            raise ValueError(
                f"{name} of shape {a.shape} does not broadcast to {self.shape}"
            ) from None

    @staticmethod
    def _rows_of(p, rows):
        return p if isinstance(p, float) else p[rows][:, None]

    def _finish(self, vals, nxt, return_next: bool, cache=None):
        """values; ``(values, next)`` with return_next; ``+ (cache,)`` when cache is given."""
        v = self._shaped(vals)
        if not return_next and cache is None:
            return v
        out = [v]
        if return_next:
            nx = nxt.astype(np.int64).reshape(self.shape)
            out.append(int(nx) if self.shape == () else nx)
        if cache is not None:
            c = self._shaped(cache)
            out.append(float(c) if self.shape == () else c)
        return tuple(out)

    def _fixed(self, d: int, n: int, start, f):
        """Distributions using exactly ``d`` draws per value: ``f(u (g, nv, d), rows)``."""
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        s = self._starts(start)
        m = self.size
        out = np.empty((m, n), dtype=np.float64)
        if n and d:
            per_val = n * d
            budget = 1 << 20
            if per_val <= budget:
                gr = max(1, budget // per_val)
                for r0 in range(0, m, gr):
                    rows = np.arange(r0, min(m, r0 + gr))
                    u = self._block(rows, per_val, s[rows]).reshape(len(rows), n, d)
                    out[rows] = f(u, rows)
            else:
                vchunk = max(1, budget // d)
                for r in range(m):
                    rows = np.array([r])
                    for v0 in range(0, n, vchunk):
                        v1 = min(n, v0 + vchunk)
                        u = self._block(rows, (v1 - v0) * d, s[rows] + np.uint64(v0 * d))
                        out[r, v0:v1] = f(u.reshape(1, v1 - v0, d), rows)[0]
        elif n:
            out[:] = f(np.empty((m, n, 0)), np.arange(m))
        return out, s + np.uint64(n * d)

    # ---------------------------------------------------------------- distributions (libg++)

    def uniform(self, a, b, n: int = 1, start=0, return_next: bool = False):
        """``Random.uniform(a, b)`` (gnu ``Uniform``): ``low + (high-low) * dblpick``, with
        ``low, high = min(a, b), max(a, b)``."""
        a, b = self._param(a, "a"), self._param(b, "b")
        lt = np.less(a, b)  # Uniform(low, high): pLow = (low < high) ? low : high
        lo, hi = np.where(lt, a, b), np.where(lt, b, a)
        delta = hi - lo
        if isinstance(a, float) and isinstance(b, float):
            lo, delta = float(lo), float(delta)

        def f(u, rows):
            return self._rows_of(lo, rows) + self._rows_of(delta, rows) * u[..., 0]

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def discunif(self, lo, hi, n: int = 1, start=0, return_next: bool = False):
        """``Random.discunif(lo, hi)`` (gnu ``DiscreteUniform``): integers in [lo, hi] as float64,
        ``lo + floor((hi-lo+1) * dblpick)``; ``lo``/``hi`` truncated toward zero like C ``long``."""
        lo = np.trunc(np.asarray(lo, dtype=np.float64)).astype(np.int64)
        hi = np.trunc(np.asarray(hi, dtype=np.float64)).astype(np.int64)
        plo, phi = np.minimum(lo, hi), np.maximum(lo, hi)
        delta = (phi - plo + 1).astype(np.float64)
        plo = np.broadcast_to(plo, self.shape).reshape(-1) if plo.ndim else int(plo)
        delta = self._param(delta, "hi - lo")

        def f(u, rows):
            d = self._rows_of(delta, rows)
            low = plo if isinstance(plo, int) else plo[rows][:, None]
            tmp = np.floor(d * u[..., 0]).astype(np.int64)
            return (low + tmp).astype(np.float64)

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def negexp(self, mean, n: int = 1, start=0, return_next: bool = False):
        """``Random.negexp(mean)`` (gnu ``NegativeExpntl``): ``-mean * log(dblpick)``."""
        mean = self._param(mean, "mean")

        def f(u, rows):
            return -self._rows_of(mean, rows) * _libm_log(u[..., 0])

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def weibull(self, alpha, beta, n: int = 1, start=0, return_next: bool = False):
        """``Random.weibull(alpha, beta)``: ``pow(beta * -log(1 - dblpick), 1/alpha)``."""
        alpha, beta = self._param(alpha, "alpha"), self._param(beta, "beta")
        inv = 1.0 / np.asarray(alpha) if not isinstance(alpha, float) else _div(1.0, alpha)

        def f(u, rows):
            base = self._rows_of(beta, rows) * -_libm_log(1.0 - u[..., 0])
            return _libm_pow(base, self._rows_of(inv, rows))

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def hypergeo(self, mean, var, n: int = 1, start=0, return_next: bool = False):
        """``Random.hypergeo(mean, variance)`` (gnu ``HyperGeometric``; two draws per value):
        ``d = (u1 > p) ? 1-p : p``, value ``-mean * log(u2) / (2 d)``, with
        ``p = 0.5 * (1 - sqrt((z-1)/(z+1)))``, ``z = var/mean**2``."""
        mean, var = self._param(mean, "mean"), self._param(var, "var")
        if isinstance(mean, float) and isinstance(var, float):
            z = _div(var, mean * mean)
            p = 0.5 * (1.0 - _c_sqrt(_div(z - 1.0, z + 1.0)))
        else:
            with np.errstate(all="ignore"):
                z = np.asarray(var) / (np.asarray(mean) * np.asarray(mean))
                p = 0.5 * (1.0 - np.sqrt((z - 1.0) / (z + 1.0)))
            p = np.broadcast_to(p, self.shape).reshape(-1)

        def f(u, rows):
            pp = self._rows_of(p, rows)
            d = np.where(u[..., 0] > pp, 1.0 - pp, pp)
            with np.errstate(all="ignore"):
                return (-self._rows_of(mean, rows) * _libm_log(u[..., 1])) / (2.0 * d)

        vals, nxt = self._fixed(2, n, start, f)
        return self._finish(vals, nxt, return_next)

    def binomial(self, N: int, p, n: int = 1, start=0, return_next: bool = False):
        """``Random.binomial(N, p)`` (gnu ``Binomial``; N draws per value): number of draws < p.
        ``N`` must be a scalar (it fixes the draws per value)."""
        if np.ndim(N) != 0:
            raise NotImplementedError("binomial: N must be a scalar (it sets the draws per value)")
        N = int(N)
        if N < 0:
            raise ValueError("binomial: N must be >= 0")
        _check_draws_per_value(N, "binomial: N")
        p = self._param(p, "p")

        def f(u, rows):
            pp = p if isinstance(p, float) else p[rows][:, None, None]
            return np.count_nonzero(u < pp, axis=-1).astype(np.float64)

        vals, nxt = self._fixed(N, n, start, f)
        return self._finish(vals, nxt, return_next)

    def erlang(self, mean, var, n: int = 1, start=0, return_next: bool = False):
        """``Random.erlang(mean, variance)`` (gnu ``Erlang``):
        ``k = max(1, int(mean**2/var + 0.5))`` draws per value,
        ``-log(u1*u2*...*uk) / (k/mean)`` (product left to right).
        ``mean`` and ``var`` must be scalars (k fixes the draws per value)."""
        if np.ndim(mean) != 0 or np.ndim(var) != 0:
            raise NotImplementedError(
                "erlang: mean and var must be scalars (k sets the draws per value)"
            )
        mean, var = float(mean), float(var)
        kf = _div(mean * mean, var) + 0.5
        if not math.isfinite(kf) or abs(kf) >= 2**31:
            raise ValueError("erlang: mean**2/var out of range of C int")
        k = max(int(kf), 1)
        _check_draws_per_value(k, "erlang: k = mean**2/var")
        a = _div(float(k), mean)

        def f(u, rows):
            prod = np.ones(u.shape[:-1])
            for i in range(u.shape[-1]):
                prod *= u[..., i]
            with np.errstate(all="ignore"):
                return -_libm_log(prod) / a

        vals, nxt = self._fixed(k, n, start, f)
        return self._finish(vals, nxt, return_next)

    def _first_events(self, n_need: np.ndarray, start: np.ndarray, d: int, event, take):
        """Generic driver for draws grouped in ``d``-tuples where some tuples are 'events'.

        For every flattened stream r, scans tuples from ``start[r]`` until ``n_need[r]`` events
        are seen.  ``event(u (g, P, d), rows) -> bool (g, P)``; ``take(rows, tuple_index_global,
        event_rank, u_tuples)`` is called with the selected events.  Returns the draw position
        after the last used event (start if none needed).
        """
        m = start.shape[0]
        pos = start.copy()
        got = np.zeros(m, dtype=np.int64)
        tup_done = np.zeros(m, dtype=np.int64)  # tuples scanned so far
        active = n_need > 0
        rate_guess = 0.8
        while active.any():
            rows = np.nonzero(active)[0]
            rem = n_need[rows] - got[rows]
            P = int(np.ceil(rem.max() / rate_guess * 1.15)) + 2
            u = self._block(rows, P * d, pos[rows]).reshape(len(rows), P, d)
            ev = event(u, rows)
            rank = np.cumsum(ev, axis=1) - 1
            sel = ev & (rank < rem[:, None])
            ri, pi = np.nonzero(sel)
            if ri.size:
                take(rows[ri], tup_done[rows[ri]] + pi, got[rows[ri]] + rank[ri, pi], u[ri, pi])
            cnt = sel.sum(axis=1)
            done = cnt >= rem
            last = np.full(len(rows), -1, dtype=np.int64)
            if ri.size:
                np.maximum.at(last, ri, pi)  # last selected tuple (rows that finished)
            used = np.where(done, last + 1, P)
            # rows finishing consumed up to and including their last selected tuple
            pos[rows] += (used * d).astype(np.uint64)
            tup_done[rows] += used
            got[rows] += cnt
            active[rows] = ~done
            # adapt the batch size to the observed event rate
            tot = ev.size
            if tot:
                rate_guess = max(1e-3, min(1.0, ev.sum() / tot))
        return pos

    def _polar(self, n: int, start, cached):
        """Raw N(0,1) values of gnu ``Normal::operator()`` (polar method, cached 2nd variate).

        Returns (values (m, n), next position (m,), cache (m,) with NaN = none)."""
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        m = self.size
        s = self._starts(start)
        if cached is None:
            cache = np.full(m, np.nan)
        else:
            cache = (
                np.ascontiguousarray(np.broadcast_to(np.asarray(cached, np.float64), self.shape))
                .reshape(-1)
                .copy()
            )
        out = np.empty((m, n), dtype=np.float64)
        have = ~np.isnan(cache)
        if n == 0:
            return out, s, cache
        out[have, 0] = cache[have]
        h0 = have.astype(np.int64)
        need_vals = n - h0
        need_pairs = (need_vals + 1) // 2
        new_cache = np.full(m, np.nan)

        def event(u, rows):
            v1 = 2.0 * u[..., 0] - 1.0
            v2 = 2.0 * u[..., 1] - 1.0
            return (v1 * v1) + (v2 * v2) <= 1.0

        def take(rows, _tup, rank, uu):
            v1 = 2.0 * uu[:, 0] - 1.0
            v2 = 2.0 * uu[:, 1] - 1.0
            w = (v1 * v1) + (v2 * v2)
            y = np.sqrt((-2.0 * _libm_log(w)) / w)
            x1, x2 = v1 * y, v2 * y
            c1 = h0[rows] + 2 * rank
            out[rows, c1] = x1
            ok = c1 + 1 < n
            out[rows[ok], c1[ok] + 1] = x2[ok]
            new_cache[rows[~ok]] = x2[~ok]

        pos = self._first_events(need_pairs, s, 2, event, take)
        return out, pos, new_cache

    def normal(
        self,
        mean,
        var,
        n: int = 1,
        start=0,
        return_next: bool = False,
        cached=None,
        return_cache: bool = False,
    ):
        """``Random.normal(mean, variance)`` (gnu ``Normal``, polar method).

        Pairs ``(u1, u2)`` at draws ``start, start+1``, ``start+2, start+3``, ... ;
        ``v = 2u - 1``, ``w = v1**2 + v2**2``; pairs with ``w > 1`` are rejected; an accepted pair
        yields ``x1 = v1*y``, ``x2 = v2*y`` with ``y = sqrt(-2 log(w) / w)``: ``x1`` is returned
        and ``x2`` is cached in the distribution object and returned by the next repick.  Values
        are ``x * sqrt(var) + mean``.  ``cached`` (raw, unscaled; NaN = none) is the cache the
        distribution object starts with (a fresh ``r.normal(...)`` call has none).
        ``return_cache=True`` appends the cache left behind (raw; NaN = none) to the result:
        ``(values, [next_pos,] cache_after)``.
        """
        mean, var = self._param(mean, "mean"), self._param(var, "var")
        with np.errstate(invalid="ignore"):
            sd = _c_sqrt(var) if isinstance(var, float) else np.sqrt(var)
        raw, nxt, cache = self._polar(n, start, cached)
        vals = raw * (sd if isinstance(sd, float) else sd[:, None])
        vals += mean if isinstance(mean, float) else mean[:, None]
        return self._finish(vals, nxt, return_next, cache if return_cache else None)

    def lognormal(
        self,
        mean,
        var,
        n: int = 1,
        start=0,
        return_next: bool = False,
        cached=None,
        return_cache: bool = False,
    ):
        """``Random.lognormal(mean, variance)`` (gnu ``LogNormal``):
        ``pow(M_E, x * s + mu)`` with ``x`` the polar-method normal (see :meth:`normal`, same
        cache semantics), ``mu = log(m2 / sqrt(var + m2))``, ``s = sqrt(log((var + m2) / m2))``,
        ``m2 = mean**2``."""
        mean, var = self._param(mean, "mean"), self._param(var, "var")
        if isinstance(mean, float) and isinstance(var, float):
            m2 = mean * mean
            mu = _c_log(_div(m2, _c_sqrt(var + m2)))
            s = _c_sqrt(_c_log(_div(var + m2, m2)))
        else:
            with np.errstate(all="ignore"):
                m2 = np.asarray(mean) * np.asarray(mean)
                mu = _libm_log(m2 / np.sqrt(var + m2))
                s = np.sqrt(_libm_log((var + m2) / m2))
            mu = np.broadcast_to(mu, self.shape).reshape(-1)[:, None]
            s = np.broadcast_to(s, self.shape).reshape(-1)[:, None]
        raw, nxt, cache = self._polar(n, start, cached)
        vals = _libm_pow(math.e, raw * s + mu)
        return self._finish(vals, nxt, return_next, cache if return_cache else None)

    def geometric(self, mean, n: int = 1, start=0, return_next: bool = False):
        """``Random.geometric(mean)`` (gnu ``Geometric``): 1 + number of consecutive draws
        ``< mean``; each value consumes draws up to and including the first one ``>= mean``.
        ``mean >= 1`` would make NEURON loop forever (draws are < 1) and raises ValueError."""
        mean = self._param(mean, "mean")
        if np.any(np.asarray(mean) >= 1.0):
            raise ValueError("geometric: mean >= 1 never terminates in NEURON (all draws are < 1)")
        n = int(n)
        s = self._starts(start)
        m = self.size
        out = np.empty((m, n), dtype=np.float64)
        prev = np.full((m, n), -1, dtype=np.int64)  # tuple index of the previous terminator
        idx = np.zeros((m, n), dtype=np.int64)

        def event(u, rows):
            return ~(u[..., 0] < self._rows_of(mean, rows))

        def take(rows, tup, rank, _uu):
            idx[rows, rank] = tup

        pos = self._first_events(np.full(m, n, dtype=np.int64), s, 1, event, take)
        if n:
            prev[:, 1:] = idx[:, :-1]
            out[:] = idx - prev
        return self._finish(out, pos, return_next)

    def poisson(self, mean, n: int = 1, start=0, return_next: bool = False):
        """``Random.poisson(mean)`` (gnu ``Poisson``): ``count - 1`` where ``product`` starts at 1
        and is multiplied by draws (left to right) while ``product >= exp(-mean)``; each value
        consumes ``count`` draws.

        For ``mean > 745.13`` ``exp(-mean)`` underflows to 0 and NEURON loops forever (the product
        underflows to 0, and ``0 >= 0``; measured with NEURON 9.0: ``poisson(800)`` never
        returns). There nethub departs from NEURON: each value is the Poisson inverse CDF
        (``scipy.stats.poisson.ppf``) of one draw, which consumes one draw. Non-finite means
        raise ValueError."""
        mean = self._param(mean, "mean")
        if not np.all(np.isfinite(mean)):
            raise ValueError("poisson: the mean must be finite")
        if isinstance(mean, float):
            bound = _c_exp(-1.0 * mean)
            meanmax = mean
        else:
            bound = np.array([_c_exp(-1.0 * v) for v in mean.tolist()])
            meanmax = float(np.nanmax(mean)) if mean.size else 0.0
        n = int(n)
        s = self._starts(start)
        m = self.size
        out = np.empty((m, n), dtype=np.float64)
        pos = s.copy()
        if not math.isfinite(meanmax):
            meanmax = 1e3
        W = int(min(max(meanmax, 0.0) + 4.0 * math.sqrt(max(meanmax, 0.0)) + 8.0, 4096))
        huge = np.asarray(bound) == 0.0
        bnd = (math.inf if huge else bound) if isinstance(bound, float) else np.where(
            huge, math.inf, bound)
        for j in range(n):
            prod = np.ones(m)
            count = np.zeros(m, dtype=np.int64)
            active = prod >= bnd
            while active.any():
                rows = np.nonzero(active)[0]
                u = self._block(rows, W, pos[rows])
                cp = np.cumprod(np.concatenate([prod[rows][:, None], u], axis=1), axis=1)[:, 1:]
                b = bnd if isinstance(bnd, float) else bnd[rows][:, None]
                below = cp < b
                stop = below.any(axis=1)
                first = np.argmax(below, axis=1)
                used = np.where(stop, first + 1, W)
                count[rows] += used
                pos[rows] += used.astype(np.uint64)
                prod[rows] = cp[np.arange(len(rows)), used - 1]
                active[rows] = ~stop
            out[:, j] = count - 1
        if np.any(huge):
            self._poisson_huge(mean, huge, out, s, pos)
        return self._finish(out, pos, return_next)

    def _poisson_huge(self, mean, huge: np.ndarray, out: np.ndarray, start: np.ndarray,
                      pos: np.ndarray) -> None:
        """Values of the rows whose ``exp(-mean)`` is 0 (NEURON hangs there): the inverse CDF
        of one draw per value; ``pos`` is rewound to ``start`` and advanced by one per value."""
        from scipy.stats import poisson

        rows = np.arange(self.size) if huge.ndim == 0 else np.flatnonzero(huge)
        lam = mean if isinstance(mean, float) else mean[rows][:, None]
        n = out.shape[1]
        u = self._block(rows, n, start[rows]).reshape(len(rows), n)
        out[rows] = poisson.ppf(u, lam)
        pos[rows] = start[rows] + np.uint64(n)

    # ---------------------------------------------------------------- nrnran123_* (NMODL RANDOM)

    def ran123_uniform(self, n: int = 1, start=0, a=0.0, b=1.0, return_next: bool = False):
        """``nrnran123_uniform(s, a, b)`` = ``a + dblpick * (b - a)`` (NMODL ``random_uniform``)."""
        a, b = self._param(a, "a"), self._param(b, "b")

        def f(u, rows):
            return self._rows_of(a, rows) + u[..., 0] * (
                self._rows_of(b, rows) - self._rows_of(a, rows)
            )

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def ran123_negexp(self, n: int = 1, start=0, mean=1.0, return_next: bool = False):
        """``nrnran123_negexp(s, mean)`` = ``-log(dblpick) * mean`` (NMODL ``random_negexp``; what
        NEURON 9's NetStim ``erand()`` draws)."""
        mean = self._param(mean, "mean")

        def f(u, rows):
            return -_libm_log(u[..., 0]) * self._rows_of(mean, rows)

        vals, nxt = self._fixed(1, n, start, f)
        return self._finish(vals, nxt, return_next)

    def ran123_normal(self, n: int = 1, start=0, mu=0.0, sigma=1.0, return_next: bool = False):
        """``nrnran123_normal(s, mu, sigma)`` (NMODL ``random_normal``): polar method WITHOUT a
        cache -- every value consumes its accepted pair (plus rejected ones) and returns
        ``mu + u1*y*sigma``."""
        mu, sigma = self._param(mu, "mu"), self._param(sigma, "sigma")
        n = int(n)
        m = self.size
        s = self._starts(start)
        raw = np.empty((m, n))

        def event(u, rows):
            u1 = 2.0 * u[..., 0] - 1.0
            u2 = 2.0 * u[..., 1] - 1.0
            return ~((u1 * u1) + (u2 * u2) > 1.0)

        def take(rows, _tup, rank, uu):
            u1 = 2.0 * uu[:, 0] - 1.0
            u2 = 2.0 * uu[:, 1] - 1.0
            w = (u1 * u1) + (u2 * u2)
            raw[rows, rank] = u1 * np.sqrt((-2.0 * _libm_log(w)) / w)

        pos = self._first_events(np.full(m, n, dtype=np.int64), s, 2, event, take)
        vals = self._rows_of(mu, slice(None)) + raw * self._rows_of(sigma, slice(None))
        return self._finish(vals, pos, return_next)


def _div(a: float, b: float) -> float:
    """IEEE double division as C does it (no ZeroDivisionError)."""
    if b != 0.0:
        return a / b
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


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


def netpyne_hash_str(s: str) -> int:
    """NetPyNE's ``sim.hashStr``: first 8 hex digits of the md5 of the UTF-8 string, as int."""
    return int(hashlib.md5(s.encode("utf-8")).hexdigest()[0:8], 16)  # noqa: S324 (not security)


def netpyne_hash_list(values: Sequence[int] | np.ndarray) -> int:
    """NetPyNE's ``sim.hashList``: md5 of ``array.array('L', values)`` (native unsigned long),
    first 8 hex digits as int."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return int(hashlib.md5(array.array("L", values)).hexdigest()[0:8], 16)  # noqa: S324


def uniform_at(stream: Random123Stream, k) -> np.ndarray:
    """``dblpick`` value of draw(s) ``k`` of ``stream`` (:meth:`Random123Stream.uniform01`)."""
    return stream.uniform01(k)


def netpyne_positions(
    num_cells: int, last_gid: int, seed: int, global_index: int = 0
) -> np.ndarray:
    """NetPyNE's ``randLocs`` (``Pop.createCellsFixedNum``/``createCellsDensity``, before the
    cylinder/ellipsoid transforms and scaling): ``Random123(numCells, lastGid, seeds['loc'])``,
    ``uniform(0, 1)`` (consumes draw 0), ``Vector(3n).setrand`` -> draws 1..3n as (n, 3)."""
    n = int(num_cells)
    s = Random123Stream(n, last_gid, seed, global_index=global_index)
    return s.uniform01_block(3 * n, start=1).reshape(n, 3)


def netpyne_density_samples(
    max_density: int, last_gid: int, seed: int, max_cells: int, global_index: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The draws of NetPyNE's ``Pop.createCellsDensity`` (string density function of one coord).

    NetPyNE: ``Random123(int(maxDensity), lastGid, seeds['loc'])``, then ``int(maxCells)`` calls
    ``rand.uniform(0, 1)`` (candidate normalized coordinates, draws ``0..M-1``; NetPyNE maps them
    to ``minRange + (maxRange - minRange) * u``), then as many again for the acceptance test
    ``locsProb > u`` (draws ``M..2M-1``).  Returns ``(candidates_u, accept_u)``, each of length
    ``M = max_cells``.  (The kept cells' positions then come from :func:`netpyne_positions`
    keyed by the pruned cell count.)
    """
    m = int(max_cells)
    if m < 0:
        raise ValueError("max_cells must be >= 0")
    stream = Random123Stream(int(max_density), last_gid, seed, global_index=global_index)
    u = stream.uniform01_block(2 * m)
    return u[:m], u[m:]


class ProbConnRands:
    """The random numbers of NetPyNE's ``probConn`` for one rule, computed on demand.

    NetPyNE (``network/conn.py`` ``generateRandsPrePost``): ``Random123(hashList(sortedPre),
    hashList(sortedPost), seeds['conn'])``, ``uniform(0, 1)`` (consumes draw 0),
    ``Vector(nPre*nPost).setrand`` -> pair ``(ipre, ipost)`` of the sorted gid lists gets draw
    ``1 + ipre*nPost + ipost``.  Nothing of size nPre*nPost is ever materialized here.
    """

    def __init__(self, sorted_pre, sorted_post, seed: int, global_index: int = 0):
        self.n_pre = len(sorted_pre)
        self.n_post = len(sorted_post)
        self.stream = Random123Stream(
            netpyne_hash_list(sorted_pre),
            netpyne_hash_list(sorted_post),
            seed,
            global_index=global_index,
        )

    def at(self, ipre, ipost) -> np.ndarray:
        """Values for index pairs (broadcasting arrays of positions in the sorted lists)."""
        ipre = np.asarray(ipre, dtype=np.int64)
        ipost = np.asarray(ipost, dtype=np.int64)
        if ipre.size and (ipre.min() < 0 or ipre.max() >= self.n_pre):
            raise IndexError("ipre out of range")
        if ipost.size and (ipost.min() < 0 or ipost.max() >= self.n_post):
            raise IndexError("ipost out of range")
        return self.stream.uniform01(1 + ipre * self.n_post + ipost)

    def rows(self, pre_start: int, pre_stop: int) -> np.ndarray:
        """Values of pre rows ``[pre_start, pre_stop)`` against all posts: (rows, n_post)."""
        pre_start, pre_stop = max(0, int(pre_start)), min(self.n_pre, int(pre_stop))
        nr = max(0, pre_stop - pre_start)
        vals = self.stream.uniform01_block(nr * self.n_post, start=1 + pre_start * self.n_post)
        return vals.reshape(nr, self.n_post)

    def iter_rows(self, max_elements: int = 1 << 22):
        """Yields ``(pre_start, block)`` with blocks of at most ``max_elements`` values."""
        per = max(1, int(max_elements) // max(1, self.n_post))
        for a in range(0, self.n_pre, per):
            yield a, self.rows(a, a + per)


def netpyne_prob_rands(sorted_pre, sorted_post, seed: int, global_index: int = 0) -> ProbConnRands:
    """Lazy accessor for NetPyNE's probConn random numbers, see :class:`ProbConnRands`."""
    return ProbConnRands(sorted_pre, sorted_post, seed, global_index=global_index)


def netpyne_rand_unique_int(id1, id2, id3, N, vmin: int, vmax: int, global_index: int = 0):
    """NetPyNE's ``Random123(id1, id2, id3)`` + ``randUniqueInt(r, N, vmin, vmax)``.

    ``randUniqueInt`` calls ``r.discunif(vmin, vmax)`` (consumes draw 0, discarded) and then
    ``int(r.repick())`` until ``N`` distinct values are collected, in order of first appearance.
    convConn uses ``(hashList(sortedPreGids), postGid, seeds['conn'])`` and ``N =
    convergence + 1``, ``[0, nPre - 1]``; divConn ``(hashList(sortedPostGids), preGid, ...)``.

    ``id1/id2/id3`` broadcast (many streams at once).  With scalar ``N`` returns int64 array
    ``stream_shape + (N,)``; with per-stream ``N`` a list (flattened stream order) of 1-D arrays.
    """
    s = Random123Stream(id1, id2, id3, global_index=global_index)
    vmin, vmax = int(vmin), int(vmax)
    lo, hi = min(vmin, vmax), max(vmin, vmax)
    R = hi - lo + 1
    scalar_N = np.ndim(N) == 0
    Ns = np.ascontiguousarray(np.broadcast_to(np.asarray(N, dtype=np.int64), s.shape)).reshape(-1)
    if Ns.size and (Ns.min() < 0 or Ns.max() > R):
        raise ValueError(
            f"impossible to generate {int(Ns.max())} unique integers from [{vmin}, {vmax}]"
        )
    m = s.size
    nmax = int(Ns.max()) if m else 0
    out = np.full((m, nmax), -1, dtype=np.int64)
    delta = float(R)
    # expected draws for N distinct of R: R*(H_R - H_{R-N}) ~ -R*log(1 - N/R)
    frac = min(nmax / R, 1.0) if R else 0.0
    est = (
        nmax
        if frac < 1e-3
        else (R * (math.log(R) + 0.58) if frac >= 1.0 else -R * math.log1p(-frac))
    )
    B0 = int(est * 1.2) + 16
    rows_all = np.nonzero(Ns > 0)[0]
    group = max(1, (1 << 21) // B0)
    for g0 in range(0, rows_all.size, group):
        todo = rows_all[g0 : g0 + group]
        B = B0
        while todo.size:
            u = s._block(todo, B, np.ones(todo.size, dtype=np.uint64))
            vals = lo + np.floor(delta * u).astype(np.int64)
            order = np.argsort(vals, axis=1, kind="stable")
            sv = np.take_along_axis(vals, order, 1)
            first_sorted = np.ones(sv.shape, dtype=bool)
            first_sorted[:, 1:] = sv[:, 1:] != sv[:, :-1]
            is_first = np.empty_like(first_sorted)
            np.put_along_axis(is_first, order, first_sorted, 1)
            rank = np.cumsum(is_first, axis=1) - 1
            sel = is_first & (rank < Ns[todo][:, None])
            done = sel.sum(axis=1) >= Ns[todo]
            ri, ci = np.nonzero(sel[done])
            out[todo[done][ri], rank[done][ri, ci]] = vals[done][ri, ci]
            todo = todo[~done]
            B *= 2
    if scalar_N:
        return out.reshape(s.shape + (nmax,))
    return [out[i, : Ns[i]] for i in range(m)]
