"""``Random123Stream``: one or many NEURON Random123 streams, drawn by index or sequentially through
NEURON's distributions, bit for bit (see docs/design/random123.md).
"""

from __future__ import annotations

import math

import numpy as np

from .libm import _c_exp, _c_log, _c_sqrt, _div, _libm_log, _libm_pow
from .philox import (
    _CHUNK,
    _MASK,
    _S32,
    _U32_MAX,
    SHIFT32,
    _as_pos,
    _as_u32,
    _Buffers,
    _check_draws_per_value,
    _out_array,
    _philox_inplace,
    _round_keys,
)


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
        from scipy.stats import poisson  # here: scipy.stats takes ~1.3 s to import, rarely needed

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
