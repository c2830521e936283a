"""Philox4x32-10, Random123's counter-based generator, vectorized; input checks and scratch buffers
shared by the streams (see docs/design/random123.md).
"""

from __future__ import annotations

import numpy as np

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
