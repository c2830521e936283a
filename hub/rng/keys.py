"""Stream keys and counter hashing: ``stream_key``/``derive_key`` (BLAKE2b of seed and labels),
``hash64`` (splitmix64 finaliser over key, draw and counters) and ``uniform``. How a number is made:
docs/design/rng.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

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
