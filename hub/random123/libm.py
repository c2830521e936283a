"""``log``, ``pow``, ``exp``, ``sqrt`` exactly as the C library computes them (numpy's SIMD
versions differ in the last bit); invalid operations give libm's NaN. See docs/design/random123.md.
"""

from __future__ import annotations

import math

import numpy as np

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


def _div(a: float, b: float) -> float:
    """IEEE double division as C does it (no ZeroDivisionError)."""
    if b != 0.0:
        return a / b
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))
