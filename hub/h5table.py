"""Reading and writing :class:`~nethub.table.Table` objects in HDF5 groups.

Layout of one table group (see docs/store.md):

- attribute ``n_rows`` (int) and ``columns`` (JSON list of ``{"name", "kind", "dtype"}``);
- one member per column, named ``c0``, ``c1``, ... in column order (so any unicode column name
  works): a dataset for numeric columns; a group with ``codes`` (int32) and ``categories``
  (UTF-8 strings) for categoricals; a group with ``values`` and ``offsets`` (int64) for ragged.

Large datasets are chunked and compressed (Blosc/LZ4 with byte shuffle via hdf5plugin, or gzip
when asked for portability).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import h5py
import numpy as np

from .errors import StoreError
from .table import Categorical, ColumnSpec, Ragged, Table

__all__ = ["write_table", "read_table", "Runs", "dataset_options", "COMPRESSIONS"]

CHUNK_ROWS = 1 << 17
COMPRESSIONS = ("blosc-lz4", "gzip", "none")
STR_DTYPE = h5py.string_dtype("utf-8")


def dataset_options(n: int, itemsize: int, compression: str) -> dict:
    """h5py ``create_dataset`` keywords for a 1-D dataset of ``n`` items."""
    if n < 1024 or compression == "none":
        return {}
    chunk = max(1024, min(n, CHUNK_ROWS * 8 // max(itemsize, 1)))
    if compression == "gzip":
        return {"chunks": (chunk,), "compression": "gzip", "compression_opts": 1, "shuffle": True}
    import hdf5plugin  # noqa: PLC0415 - registers the filter; imported lazily (slow import)

    return {"chunks": (chunk,), **hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=1)}


def _write_array(group: h5py.Group, name: str, arr: np.ndarray, compression: str) -> None:
    arr = np.ascontiguousarray(arr)
    group.create_dataset(name, data=arr, **dataset_options(len(arr), arr.itemsize, compression))


def write_table(group: h5py.Group, table: Table, compression: str = "blosc-lz4",
                skip: Sequence[str] = ()) -> None:
    """Write ``table`` into the (empty) ``group``; columns named in ``skip`` are left out."""
    meta = []
    names = [n for n in table.columns if n not in skip]
    for i, name in enumerate(names):
        col = table.columns[name]
        key = f"c{i}"
        if isinstance(col, Categorical):
            sub = group.create_group(key)
            _write_array(sub, "codes", col.codes, compression)
            sub.create_dataset("categories", data=np.array(col.categories, dtype=object),
                               dtype=STR_DTYPE)
            meta.append({"name": name, "kind": "category", "dtype": "int32"})
        elif isinstance(col, Ragged):
            sub = group.create_group(key)
            _write_array(sub, "values", col.values, compression)
            _write_array(sub, "offsets", col.offsets, compression)
            meta.append({"name": name, "kind": "ragged", "dtype": col.values.dtype.str})
        else:
            _write_array(group, key, col, compression)
            meta.append({"name": name, "kind": "array", "dtype": col.dtype.str})
    group.attrs["n_rows"] = len(table)
    group.attrs["columns"] = json.dumps(meta, ensure_ascii=False)


class Runs:
    """Sorted, disjoint row ranges ``[start, stop)`` to read from a table."""

    def __init__(self, starts: np.ndarray, stops: np.ndarray) -> None:
        keep = stops > starts
        starts, stops = starts[keep], stops[keep]
        if len(starts) > 1:  # merge touching ranges
            brk = np.flatnonzero(starts[1:] != stops[:-1]) + 1
            starts = starts[np.r_[0, brk]]
            stops = stops[np.r_[brk - 1, len(stops) - 1]]
        self.starts = starts.astype(np.int64)
        self.stops = stops.astype(np.int64)

    @classmethod
    def of_rows(cls, rows: np.ndarray) -> Runs:
        rows = np.asarray(rows)
        if rows.ndim != 1 or np.any(rows[1:] <= rows[:-1]):  # not yet sorted and unique
            rows = np.unique(rows)
        return cls(rows, rows + 1)

    @property
    def n(self) -> int:
        return int((self.stops - self.starts).sum())

    def read(self, dset: h5py.Dataset) -> np.ndarray:
        """The selected rows of a 1-D dataset, touching only the chunks that hold them.

        Runs separated by less than a chunk are read as one range (the chunks in between hold
        selected rows anyway), so each touched chunk is decompressed once and there are few
        HDF5 calls; the selected rows are then gathered from the ranges read.
        """
        if len(self.starts) == 0:
            return dset[0:0]
        if len(self.starts) == 1:
            return dset[self.starts[0]:self.stops[0]]
        gap = dset.chunks[0] if dset.chunks else max(1, (1 << 16) // dset.dtype.itemsize)
        brk = np.flatnonzero(self.starts[1:] - self.stops[:-1] >= gap) + 1
        gstarts = self.starts[np.r_[0, brk]]
        gstops = self.stops[np.r_[brk - 1, len(self.stops) - 1]]
        if len(gstarts) == 1:
            lo = int(gstarts[0])
            return dset[lo:int(gstops[0])][self.index(lo)]
        parts = [dset[a:b] for a, b in zip(gstarts.tolist(), gstops.tolist())]
        buf = np.concatenate(parts)
        if len(buf) == self.n:  # the ranges hold only selected rows
            return buf
        rows = self.index()
        grp = np.searchsorted(gstarts, rows, side="right") - 1
        base = np.r_[0, np.cumsum(gstops - gstarts)[:-1]] - gstarts
        return buf[rows + base[grp]]

    def index(self, base: int = 0) -> np.ndarray:
        """The selected row numbers minus ``base``."""
        lens = self.stops - self.starts
        out = np.repeat(self.starts - base - np.r_[0, np.cumsum(lens)[:-1]], lens)
        return out + np.arange(self.n)


def check_offsets(offsets: np.ndarray, end: int, where: str, n: int | None = None) -> None:
    """StoreError unless CSR ``offsets`` are integers starting at 0, non-decreasing and ending
    at ``end`` (the length of what they index), with ``n`` entries if given -- checked before
    anything is allocated from them (a forged offset of 2**40 would ask for terabytes)."""
    o = np.asarray(offsets)
    problem = None
    if o.ndim != 1 or o.dtype.kind not in "iu" or len(o) == 0:
        problem = f"must be a non-empty 1-D integer array, found {o.dtype} {o.shape}"
    elif n is not None and len(o) != n:
        problem = f"has {len(o)} entries, expected {n}"
    elif o[0] != 0 or o[-1] != end or (len(o) > 1 and np.any(o[1:] < o[:-1])):
        problem = f"must rise from 0 to {end} (found {o[0]} .. {o[-1]}, or decreasing)"
    if problem:
        raise StoreError(f"{where}: offsets {problem}; the store is corrupt (nethub validate)")


def check_runs(runs: Runs, n_rows: int, where: str) -> None:
    """StoreError unless every selected row range lies inside ``[0, n_rows)``."""
    if len(runs.starts) and (runs.starts.min() < 0 or runs.stops.max() > n_rows):
        raise StoreError(f"{where}: offsets point outside the {n_rows} stored rows "
                         f"({runs.starts.min()} .. {runs.stops.max()}); the store is corrupt "
                         "(nethub validate)")


def _check_rows(group: h5py.Group, meta: list, n: int) -> None:
    """The declared row count must match every column's dataset length (no allocation)."""
    for i, m in enumerate(meta):
        key = f"c{i}"
        sub = {"category": "codes", "ragged": "offsets"}.get(m.get("kind"))
        node = group.get(f"{key}/{sub}" if sub else key)
        if node is None:
            continue
        want = n + 1 if sub == "offsets" else n
        if not isinstance(node, h5py.Dataset) or node.shape[:1] != (want,):
            raise StoreError(f"{group.name}/{key}: {getattr(node, 'shape', None)} rows where "
                             f"'n_rows' says {n}; the store is corrupt (nethub validate)")


def read_table(group: h5py.Group, schema: dict[str, ColumnSpec] | None = None,
               runs: Runs | None = None, extra: dict | None = None) -> Table:
    """Read a table group, all rows or only ``runs``; ``extra`` columns are added as given."""
    meta = json.loads(group.attrs["columns"])
    n_rows = int(group.attrs["n_rows"])
    _check_rows(group, meta, n_rows)
    if runs is not None:
        check_runs(runs, n_rows, group.name)
    n = n_rows if runs is None else runs.n

    def data(path: str, dtype: str) -> np.ndarray:
        if n == 0:  # no rows: the (empty or unselected) data is not even opened
            return np.zeros(0, dtype=dtype)
        return group[path][()] if runs is None else runs.read(group[path])

    cols: dict[str, object] = {}
    for i, m in enumerate(meta):
        key = f"c{i}"
        if m["kind"] == "category":
            codes = data(f"{key}/codes", "int32")
            raw = group[f"{key}/categories"][()]
            cats = [c.decode() if isinstance(c, bytes) else c for c in raw]
            cols[m["name"]] = Categorical(codes, cats)
        elif m["kind"] == "ragged":
            cols[m["name"]] = (_read_ragged(group[key], runs) if n else
                               Ragged(np.zeros(0, dtype=m["dtype"]), np.zeros(1, dtype=np.int64)))
        else:
            cols[m["name"]] = data(key, m["dtype"])
    if extra:
        cols.update(extra)
    order = [m["name"] for m in meta]
    table = Table(cols, schema, n=n)
    if schema is not None:  # keep the stored column order (schema columns may be added later)
        ordered = [k for k in table.columns if k in schema] + [k for k in order if k not in schema]
        table.columns = {k: table.columns[k] for k in ordered}
    return table


def _read_ragged(node: h5py.Group, runs: Runs | None) -> Ragged:
    offsets = node["offsets"][()]
    check_offsets(offsets, node["values"].shape[0], f"{node.name}/offsets")
    if runs is None:
        return Ragged(node["values"][()], offsets)
    rows = runs.index()
    vruns = Runs(offsets[rows], offsets[rows + 1])
    values = vruns.read(node["values"])
    lens = offsets[rows + 1] - offsets[rows]
    new = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lens, out=new[1:])
    return Ragged(values, new)
