"""Integrity digests of a store: what a run records at write time so that a changed byte is
found and named later (``docs/store.md`` §6.1, ``nethub validate``, ``nethub verify``).

Every dataset under ``/model``, ``/network`` and a run's ``spikes``, ``traces``,
``trace_groups`` and ``lfp`` groups gets a :func:`dataset_digest`: its dtype, shape, SHA-256 of
its canonical bytes, and a *locator* -- three sums modulo the prime ``p = 2**31 - 1`` over a
64-bit mix of every element ``x_i`` (``h_i`` = the top 30 bits of splitmix64's finaliser of
the element's bits, see :func:`_mix`)::

    S = sum h_i,   W = sum (i+1) h_i,   Q = sum (i+1)**2 h_i        (mod p)

When exactly one element changed, ``dS = h'_i - h_i`` and ``dW = (i+1) dS``, so the element's
position is ``i + 1 = dW / dS`` (mod p), confirmed by ``dQ / dS = (i+1)**2``: the changed weight,
spike time or morphology byte is named without a copy of the original. The SHA-256 decides
whether anything changed; the locator only says where. The group attributes (column names,
embedded files' names and hashes) get an ``@attrs`` digest of their own.

The module reads HDF5 groups directly (a corrupt store must still be checked) and imports
nothing beyond the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np

__all__ = ["PRIME", "dataset_digest", "tree_digest", "tree_sha256", "locate_change",
           "results_digest", "attrs_digest", "array_digest", "RUN_RESULT_GROUPS",
           "INTEGRITY_VERSION", "EXCLUDED_ATTRS"]

#: the locator's modulus, 2**31 - 1 (products of two residues fit in 64 bits)
PRIME = 2_147_483_647
INTEGRITY_VERSION = 1
#: a run's members whose datasets make its results hash
RUN_RESULT_GROUPS = ("spikes", "traces", "trace_groups", "lfp")
#: attributes not covered (derived caches that nethub records in place)
EXCLUDED_ATTRS = frozenset({"content_hash", "integrity"})
_CHUNK = 1 << 16  # elements hashed at once: temporaries stay in the CPU cache (4x faster)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


# ----------------------------------------------------------------------------- elements
def _mix(x: np.ndarray) -> np.ndarray:
    """A 30-bit hash of each uint64 of ``x``: the top bits of splitmix64's finaliser
    (below :data:`PRIME`, so already a residue)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
    return z >> np.uint64(34)


def _fold(x: np.ndarray) -> np.ndarray:
    """``x`` (< 2**62) reduced to below 2**32, congruent modulo :data:`PRIME` (2**31 = 1)."""
    return (x & np.uint64(PRIME)) + (x >> np.uint64(31))


def _element_bits(a: np.ndarray) -> np.ndarray:
    """One uint64 per element: the element's little-endian bits (numbers, bools), or an
    8-byte BLAKE2b of its UTF-8 text (strings); other dtypes per byte."""
    a = np.ascontiguousarray(a).reshape(-1)
    if a.dtype.kind in "OSUT":
        return np.array([int.from_bytes(hashlib.blake2b(_text(v), digest_size=8).digest(),
                                        "little") for v in a], dtype=np.uint64)
    size = a.dtype.itemsize
    if size in (1, 2, 4, 8):
        return a.view(f"<u{size}" if size > 1 else "u1").astype(np.uint64)
    return a.view(np.uint8).astype(np.uint64)


def _text(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8")


def _canonical_bytes(a: np.ndarray) -> bytes | memoryview:
    """The bytes the SHA-256 covers: little-endian C order; strings as UTF-8, each followed
    by a NUL byte."""
    if a.dtype.kind in "OSUT":
        return b"".join(_text(v) + b"\0" for v in a.reshape(-1))
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return memoryview(a.reshape(-1).view(np.uint8))


def _locator(a: np.ndarray) -> list[int]:
    """``[S, W, Q]`` of the module docstring over the elements of ``a`` in C order."""
    flat = np.ascontiguousarray(a).reshape(-1)
    if flat.dtype.kind not in "OSUT" and flat.dtype.itemsize not in (1, 2, 4, 8):
        flat = flat.view(np.uint8)  # other item sizes: each byte is an element
    s = w = q = 0
    for lo in range(0, len(flat), _CHUNK):  # one chunk's temporaries at a time
        h = _mix(_element_bits(flat[lo:lo + _CHUNK]))  # < 2**30
        idx = np.arange(lo + 1, lo + 1 + len(h), dtype=np.uint64)  # < 2**31 (n < PRIME)
        hw = _fold(h * idx)  # < 2**32
        hq = _fold(_fold(hw * idx))
        s += int(h.sum(dtype=np.uint64))
        w += int(hw.sum(dtype=np.uint64))  # chunks of 2**16 elements: sums below 2**48
        q += int(hq.sum(dtype=np.uint64))
    return [s % PRIME, w % PRIME, q % PRIME]


def array_digest(a: np.ndarray) -> dict[str, Any]:
    """Digest of one array (dtype, shape, sha256, locator)."""
    a = np.asarray(a)
    if a.dtype.kind == "O" or a.dtype.kind in "SUT":
        dtype = "str"
    else:
        dtype = a.dtype.newbyteorder("<").str if a.dtype.byteorder == ">" else a.dtype.str
    out = {"dtype": dtype, "shape": list(a.shape),
           "sha256": hashlib.sha256(_canonical_bytes(a)).hexdigest(), "loc": _locator(a)}
    if dtype != "str" and a.dtype.itemsize not in (1, 2, 4, 8):
        out["n"] = a.size * a.dtype.itemsize  # located per byte
    return out


def dataset_digest(ds: h5py.Dataset) -> dict[str, Any]:
    """Digest of a dataset's values; a scalar string (JSON, .mod text) counts as its bytes."""
    value = ds[()]
    if ds.shape == () and (isinstance(value, (bytes, str))):
        return {**array_digest(np.frombuffer(_text(value), dtype=np.uint8)), "text": True}
    return array_digest(np.asarray(value))


def locate_change(old: dict[str, Any], new: dict[str, Any]) -> int | None:
    """The flat index of the one element that differs between two digests of equally shaped
    data, or None when it cannot be told (several changed, or a locator collision)."""
    if old.get("shape") != new.get("shape") or "loc" not in old or "loc" not in new:
        return None
    (s0, w0, q0), (s1, w1, q1) = old["loc"], new["loc"]
    ds, dw, dq = (s1 - s0) % PRIME, (w1 - w0) % PRIME, (q1 - q0) % PRIME
    if ds == 0:
        return None
    inv = pow(ds, PRIME - 2, PRIME)
    pos = dw * inv % PRIME
    n = new.get("n", int(np.prod(new["shape"])) if new["shape"] else 1)
    if not 1 <= pos <= n or dq * inv % PRIME != pos * pos % PRIME:
        return None
    return pos - 1


# ----------------------------------------------------------------------------- trees
def attrs_digest(obj: h5py.HLObject) -> dict[str, Any] | None:
    items = {k: _jsonable(v) for k, v in obj.attrs.items() if k not in EXCLUDED_ATTRS}
    if not items:
        return None
    text = json.dumps(items, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {"sha256": hashlib.sha256(text).hexdigest(), "values": items}


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v if isinstance(v, (str, int, float, bool, list)) or v is None else str(v)


def _walk(group: h5py.Group, prefix: str) -> Iterator[tuple[str, h5py.HLObject]]:
    """(path, object) of the group and everything below it, hidden members skipped,
    in sorted order of names."""
    yield prefix, group
    for name in sorted(group):
        if name.startswith("."):
            continue
        obj = group.get(name)
        path = f"{prefix}/{name}"
        if isinstance(obj, h5py.Group):
            yield from _walk(obj, path)
        elif isinstance(obj, h5py.Dataset):
            yield path, obj


def tree_digest(group: h5py.Group, prefix: str) -> dict[str, dict[str, Any]]:
    """Digest of every dataset under ``group`` (keys: paths starting with ``prefix``) and of
    every object's attributes (``<path>@attrs``)."""
    out: dict[str, dict[str, Any]] = {}
    for path, obj in _walk(group, prefix):
        if isinstance(obj, h5py.Dataset):
            out[path] = dataset_digest(obj)
        attrs = attrs_digest(obj)
        if attrs is not None:
            out[f"{path}@attrs"] = attrs
    return out


def tree_sha256(tree: dict[str, dict[str, Any]]) -> str:
    """One SHA-256 over a tree digest: ``path NUL sha256 LF`` per entry in sorted order."""
    h = hashlib.sha256()
    for path in sorted(tree):
        h.update(f"{path}\0{tree[path]['sha256']}\n".encode())
    return h.hexdigest()


def results_digest(run: h5py.Group) -> dict[str, dict[str, Any]]:
    """Digest of a run's result datasets (spikes, traces, trace groups, LFP), keyed by their
    path inside the run group (``spikes/time``, ``traces/index/c0``, ...)."""
    out: dict[str, dict[str, Any]] = {}
    for name in RUN_RESULT_GROUPS:
        if isinstance(run.get(name), h5py.Group):
            out.update(tree_digest(run[name], name))
    return out
