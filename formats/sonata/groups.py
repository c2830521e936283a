"""Vectorized reading of SONATA node/edge *groups* (shared by nodes and edges).

A population's rows are spread over numbered groups (``/nodes/<pop>/0``, ``/1``, ...); row *r*
lives in group ``<kind>_group_id[r]`` at position ``<kind>_group_index[r]``. Groups may have
different attribute sets; a ``dynamics_params`` subgroup holds per-row dynamics parameters;
``@library/<attr>`` turns an integer attribute into an enumeration of strings. Every attribute
is gathered into one full-length column with a few numpy fancy-index operations per group (no
Python loop per row); rows of groups lacking an attribute read as missing (NaN / None).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError

__all__ = ["GroupColumns", "read_groups", "read_ids", "decode_strings", "group_names",
           "check_population_name"]

logger = logging.getLogger(__name__)


@dataclass
class GroupColumns:
    """What :func:`read_groups` gathered: per-row attribute and dynamics_params columns, and
    the members it could not read (as "HDF5 path: reason" texts)."""

    attributes: pd.DataFrame
    dynamics_params: pd.DataFrame
    skipped: list[str] = field(default_factory=list)


def check_population_name(name: object, what: str) -> str:
    """``name`` if it can name an HDF5 population group (a non-empty str without ``/``, not
    ``.`` or ``..``); FormatError naming ``what`` otherwise."""
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise FormatError(f"{what}: population name {name!r} is not usable as an HDF5 group "
                          "name (non-empty, no '/')")
    return name


def decode_strings(ds: h5py.Dataset) -> np.ndarray:
    """A dataset's values; variable- or fixed-length strings as an object array of str."""
    if h5py.check_string_dtype(ds.dtype) is not None:
        return np.asarray(ds.asstr()[()], dtype=object)
    if ds.dtype.kind == "S":
        return np.char.decode(ds[()], "utf-8").astype(object)
    return ds[()]


def read_ids(grp: h5py.Group, name: str, n: int | None = None, *, required: bool = True
             ) -> np.ndarray | None:
    """A 1-D integer dataset of ``grp`` as int64 (FormatError naming the path if it is
    missing, not 1-D or not integer, or has a length other than ``n``)."""
    if name not in grp:
        if required:
            raise FormatError(f"{grp.file.filename}: {grp.name}/{name} is missing")
        return None
    ds = grp[name]
    where = f"{grp.file.filename}: {ds.name}"
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
        raise FormatError(f"{where} must be a 1-D dataset")
    if n is not None and ds.shape[0] != n:
        raise FormatError(f"{where} has {ds.shape[0]} values, expected {n}")
    if ds.dtype.kind == "f":
        values = ds[()]
        if not np.all(np.isfinite(values)) or np.any(values != np.floor(values)):
            raise FormatError(f"{where} must hold integers")
        return values.astype(np.int64)
    if ds.dtype.kind not in "iu":
        raise FormatError(f"{where} must be an integer dataset, not {ds.dtype}")
    values = ds[()]
    if values.dtype == np.uint64:
        if values.size and values.max() >= 2**63:
            raise FormatError(f"{where} holds ids of 2**63 or more")
        return values.view(np.int64)  # same bits for ids below 2**63: no copy
    return values.astype(np.int64, copy=False)


def group_names(pop: h5py.Group) -> list[str]:
    """The names of a population's numbered groups, in numeric order."""
    return sorted((k for k, v in pop.items() if k.isdigit() and isinstance(v, h5py.Group)),
                  key=int)


def read_groups(pop: h5py.Group, group_ids: np.ndarray, group_index: np.ndarray
                ) -> GroupColumns:
    """Gather every group attribute of population ``pop`` into full-length columns.

    Parameters
    ----------
    pop : h5py.Group
        ``/nodes/<name>`` or ``/edges/<name>``.
    group_ids, group_index : ndarray of int64
        Each row's group and position within it.
    """
    n = len(group_ids)
    attrs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    dyn: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    skipped: list[str] = []
    names = group_names(pop)
    unknown = np.setdiff1d(np.unique(group_ids), np.array([int(g) for g in names], np.int64))
    if unknown.size:
        raise FormatError(f"{pop.file.filename}: {pop.name} rows refer to groups "
                          f"{unknown[:5].tolist()} that do not exist (groups: {names})")
    for gname in names:
        rows = np.flatnonzero(group_ids == int(gname))
        grp = pop[gname]
        library = grp.get("@library")
        _gather(grp, rows, group_index[rows], library, attrs, skipped)
        if isinstance(grp.get("dynamics_params"), h5py.Group):
            _gather(grp["dynamics_params"], rows, group_index[rows], None, dyn, skipped)
    return GroupColumns(_assemble(attrs, n), _assemble(dyn, n), skipped)


def _gather(grp: h5py.Group, rows: np.ndarray, index: np.ndarray, library: h5py.Group | None,
            out: dict[str, list[tuple[np.ndarray, np.ndarray]]], skipped: list[str]) -> None:
    for name, ds in grp.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        where = f"{grp.file.filename}: {ds.name}"
        if ds.shape is None or ds.ndim != 1:
            _skip(skipped, f"{where}: not a 1-D dataset (shape {ds.shape})")
            continue
        if index.size and (index.max() >= ds.shape[0] or index.min() < 0):
            _skip(skipped, f"{where}: {ds.shape[0]} values, but rows index up to "
                  f"{int(index.max())}")
            continue
        values = decode_strings(ds)
        if not _is_identity(index, len(values)):
            values = values[index]
        if library is not None and name in library:
            values = _enumerate(library[name], values, where, skipped)
            if values is None:
                continue
        out.setdefault(name, []).append((rows, values))


def _is_identity(index: np.ndarray, size: int) -> bool:
    """True when ``index`` is ``0..size-1`` (one group in file order: no gather needed)."""
    return len(index) == size and (size == 0 or (index[0] == 0 and index[-1] == size - 1 and
                                                 bool(np.all(np.diff(index) == 1))))


def _skip(skipped: list[str], text: str) -> None:
    logger.warning("SONATA: not read: %s", text)
    skipped.append(text)


def _enumerate(lib: h5py.Dataset, codes: np.ndarray, where: str, skipped: list[str]
               ) -> np.ndarray | None:
    labels = decode_strings(lib)
    if codes.dtype.kind not in "iu" or (codes.size and (codes.min() < 0 or
                                                        codes.max() >= len(labels))):
        _skip(skipped, f"{where}: @library codes outside 0..{len(labels) - 1}")
        return None
    return np.asarray(labels, dtype=object)[codes.astype(np.int64)]


def _assemble(pieces: dict[str, list[tuple[np.ndarray, np.ndarray]]], n: int) -> pd.DataFrame:
    columns = {}
    for name, parts in pieces.items():
        covered = sum(len(rows) for rows, _ in parts)
        if len(parts) == 1 and covered == n and _is_identity(parts[0][0], n):
            columns[name] = parts[0][1]  # the whole column, in order: no copy
            continue
        kinds = {values.dtype.kind for _, values in parts}
        if kinds == {"O"} or "O" in kinds:
            col = np.full(n, None, dtype=object)
        elif covered == n:
            col = np.empty(n, dtype=np.result_type(*[v.dtype for _, v in parts]))
        else:
            col = np.full(n, np.nan)
        for rows, values in parts:
            col[rows] = values
        columns[name] = col
    # copy=False keeps one block per column (no consolidation copy of large columns)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
