"""Store upkeep: dead space, interrupted appends and temporary files; ``nethub compact``.

HDF5 does not give back the space of deleted or abandoned objects (a run whose append was
interrupted, a resized dataset): the file keeps its size. :func:`storage_findings` reports it
(and what interrupted writers left) for ``nethub validate``; :func:`compact` rewrites the store
into a new file with only its live objects (every attribute, run and the content hash kept),
atomically and under the store's lock.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import h5py

from .store import atomic_path, open_store
from .storelock import stale_temps, store_lock

__all__ = ["space_report", "storage_findings", "compact", "mb", "PARTIAL_PREFIX"]

logger = logging.getLogger(__name__)

#: hidden groups of runs being appended (nethub.store.append_run)
PARTIAL_PREFIX = ".partial_"
#: HDF5 metadata per object is well below this (measured: 500-650 bytes)
_META_PER_OBJECT = 1024
_META_BASE = 64 * 1024
#: dead space below both of these is not reported
_REPORT_BYTES = 1 << 20
_REPORT_FRACTION = 0.10


def space_report(f: h5py.File, file_size: int) -> dict[str, Any]:
    """Sizes of an open store: ``file_size``, ``data`` (bytes stored by live datasets),
    ``objects``, ``dead`` (bytes no live object can be using, a lower bound) and
    ``partial_runs`` (names of interrupted appends)."""
    totals = {"data": 0, "objects": 0}

    def visit(_name: str, obj: Any) -> None:
        totals["objects"] += 1
        if isinstance(obj, h5py.Dataset):
            totals["data"] += obj.id.get_storage_size()

    f.visititems(visit)
    meta = _META_BASE + _META_PER_OBJECT * totals["objects"]
    partial = [k for k in f.get("results", {}) if k.startswith(PARTIAL_PREFIX)]
    return {"file_size": file_size, **totals, "dead": max(0, file_size - totals["data"] - meta),
            "partial_runs": partial}


def storage_findings(path: str | os.PathLike, f: h5py.File) -> list[tuple[str, str]]:
    """``(hdf5 path, message)`` warnings about an open store: dead space worth reclaiming
    and temporary files of interrupted writes beside it (the validator itself reports
    interrupted appends)."""
    path = Path(path)
    rep = space_report(f, path.stat().st_size)
    found = []
    dead = rep["dead"]
    if dead > _REPORT_BYTES and dead > _REPORT_FRACTION * rep["file_size"]:
        found.append(("/", f"at least {mb(dead)} of the file's {mb(rep['file_size'])} is dead "
                           f"space (left by deleted or interrupted writes); 'nethub compact "
                           f"{path}' reclaims it"))
    for tmp, why in stale_temps(path):
        found.append(("/", f"temporary file {tmp.name} beside the store, {why}; delete it if "
                           f"no nethub process is writing {path.name}"))
    return found


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def compact(path: str | os.PathLike, output: str | os.PathLike | None = None) -> dict[str, int]:
    """Rewrite a store without dead space and interrupted appends (atomically; in place by
    default, under the store's lock so that no run is appended meanwhile).

    Returns
    -------
    dict
        ``before`` and ``after``: the file sizes in bytes.
    """
    path = Path(path)
    out = Path(output) if output is not None else path
    before = path.stat().st_size
    with store_lock(path, exclusive=True), open_store(path, lock=False) as src, \
            atomic_path(out) as tmp:
        tmp.unlink()
        with h5py.File(tmp, "w-") as dst:
            _copy_live(src, dst)
    after = out.stat().st_size
    logger.info("compacted %s: %d -> %d bytes", path, before, after)
    return {"before": before, "after": after}


def _copy_live(src: h5py.File, dst: h5py.File) -> None:
    for key, val in src.attrs.items():
        dst.attrs[key] = val
    for name in src:
        if name != "results":
            src.copy(src[name], dst, name=name)
    res = dst.create_group("results")
    if "results" in src:
        for key, val in src["results"].attrs.items():
            res.attrs[key] = val
        for name in src["results"]:
            if not name.startswith(PARTIAL_PREFIX):
                src.copy(src["results"][name], res, name=name)
