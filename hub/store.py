"""The canonical nethub store: one self-describing, versioned HDF5 file.

The layout is specified in ``docs/store.md``. In short::

    /                      attrs: format="nethub-store", schema_version, creator, created
    /model/<doc>           JSON documents: cell_types, syn_mechs, populations, stim_sources,
                           spec, params, provenance, rxd; run_config (optional)
    /model/mod_files/      one UTF-8 dataset per .mod file (attr "name")
    /model/files/          (v2) one uint8 dataset per embedded file (attrs name, role,
                           original_name, sha256)
    /network/cells         table, sorted by gid
    /network/connections   table without post_gid, sorted by post gid, + post_offsets (CSR)
    /network/pointer_conns same layout as connections
    /network/stim_targets  table without gid, sorted by gid, + post_offsets (CSR)
    /results/<run>         spikes, traces, lfp and the run's JSON documents

Whole-file writes are atomic (temporary file in the same folder, then rename). Appending a run
writes into a hidden group and renames it when complete; a failed append removes it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .celltypes import Population, StimSource, SynMech, cell_type_from_dict
from .errors import (
    NethubError,
    SchemaVersionError,
    StoreAccessError,
    StoreError,
    StoreLockError,
)
from .h5table import (
    STR_DTYPE,
    Runs,
    check_offsets,
    check_runs,
    dataset_options,
    read_table,
    write_table,
)
from .network import TABLE_SCHEMAS, Network
from .results import TRACE_COLUMNS, Results, Traces
from .runconfig import RunConfig
from .storelock import (
    clean_stale_temps,
    lock_path,
    signals_deferred,
    store_lock,
    temp_prefix,
)
from .storeschema import (
    migrate_cells,
    read_files,
    split_mod_files,
    store_version,
    write_files,
)
from .table import Table
from .verifycheck import write_run_integrity
from .version import __version__

__all__ = [
    "replace_dir",
    "FORMAT_NAME",
    "SCHEMA_VERSION",
    "write_network",
    "read_network",
    "append_run",
    "network_hash",
    "read_results",
    "list_runs",
    "read_header",
    "atomic_path",
    "open_store",
]

logger = logging.getLogger(__name__)

FORMAT_NAME = "nethub-store"
SCHEMA_VERSION = 2
MODEL_DOCS = ("cell_types", "syn_mechs", "populations", "stim_sources", "spec", "params",
              "provenance", "rxd")
#: CSR-indexed tables and the column that holds their target gid (not stored; derived).
INDEXED = {"connections": "post_gid", "pointer_conns": "post_gid", "stim_targets": "gid"}
#: optional /model document: the RunConfig a model arrived with (absent: None)
RUN_CONFIG_DOC = "run_config"
RUN_DOCS = ("sim_config", "seeds", "versions", "timing", "meta")
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError,
              json.JSONDecodeError)


# ----------------------------------------------------------------------------- atomic files
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".nhtmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)  # of writers killed before they could remove theirs
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _file_mode(path))  # mkstemp makes it 0600; keep the usual mode
        if lock_path(path).exists():  # a store others append to: not while one of them writes
            with store_lock(path, exclusive=True):
                os.replace(tmp_path, path)
        else:
            os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def replace_dir(new: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the complete folder ``new`` to ``path``, replacing an existing one (the old one is
    renamed aside first and put back if the move fails, so ``path`` is never half-written)."""
    new, path = Path(new), Path(path)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(new, 0o777 & ~mask)  # mkdtemp makes it 0700; keep the usual mode
    if not path.exists():
        os.replace(new, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".nhold", dir=path.parent))
    os.rmdir(old)
    os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _file_mode(path: Path) -> int:
    """The mode of the file being replaced, or the default one for a new file (umask)."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# ----------------------------------------------------------------------------- opening
@contextlib.contextmanager
def _reading(path: Path, where: list[str]) -> Iterator[None]:
    """Turn h5py/numpy/json errors while reading into a StoreError naming file and HDF5 path."""
    try:
        yield
    except NethubError:
        raise
    except _H5_ERRORS as exc:
        loc = where[-1] if where else "/"
        raise StoreError(f"{path}: cannot read {loc}: {exc}") from exc


@contextlib.contextmanager
def open_store(path: str | os.PathLike, mode: str = "r", lock: bool = True
               ) -> Iterator[h5py.File]:
    """Open a store after checking that it is one this version can read.

    With ``lock``, the store's lock file (:mod:`nethub.storelock`) is held while it is open:
    shared for reading (when the lock file exists), exclusive for writing.

    Raises
    ------
    StoreError
        The file is missing, not HDF5, truncated, or an HDF5 file of another kind.
    SchemaVersionError
        The store was written by a newer schema.
    """
    import hdf5plugin  # noqa: F401, PLC0415 - registers the Blosc filter that reading needs

    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if not _has_hdf5_magic(path):  # checked first: h5py's "r+" would turn an empty file into HDF5
        raise StoreError(f"{path}: not an HDF5 file")
    with store_lock(path, exclusive=mode != "r") if lock else contextlib.nullcontext():
        f = _h5open(path, mode)
        try:
            _check_header(path, f)
            yield f
        finally:
            f.close()


def _h5open(path: Path, mode: str, wait: float = 10.0) -> h5py.File:
    """``h5py.File``, retried while another program holds HDF5's own lock on the file (one
    that does not take nethub's lock file), with errors said as what they are."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return h5py.File(path, mode)
        except OSError as exc:
            text = str(exc).lower()
            locked = "unable to lock file" in text
            if locked and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            if locked:
                raise StoreLockError(f"{path}: the file is in use by another program (HDF5 "
                                     f"file lock): {exc}") from exc
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or "permission" in text:
                raise StoreAccessError(f"{path}: permission denied opening the store "
                                       f"{'for writing' if mode != 'r' else ''}".rstrip()
                                       ) from exc
            kind = "truncated or corrupt HDF5 file" if _has_hdf5_magic(path) else (
                "not an HDF5 file")
            raise StoreError(f"{path}: {kind} ({exc})") from exc


def _has_hdf5_magic(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head == b"\x89HDF\r\n\x1a\n"


def _check_header(path: Path, f: h5py.File) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT_NAME:
        raise StoreError(
            f"{path}: an HDF5 file but not a nethub store (root attribute 'format' is {fmt!r}, "
            f"expected {FORMAT_NAME!r}); convert it with 'nethub convert' if it is another format"
        )
    version = f.attrs.get("schema_version")
    if not isinstance(version, (int, np.integer)) or int(version) < 1:
        raise StoreError(f"{path}: root attribute 'schema_version' missing or invalid")
    if int(version) > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: written with store schema version {int(version)} by "
            f"{f.attrs.get('creator', '?')}; this nethub {__version__} reads up to version "
            f"{SCHEMA_VERSION}: upgrade nethub"
        )


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """Root attributes of a store (format, schema_version, creator, created)."""
    with open_store(path) as f:
        return {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                    else v) for k, v in f.attrs.items()}


# ----------------------------------------------------------------------------- writing
def _write_json(group: h5py.Group, name: str, value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    group.create_dataset(name, data=text, dtype=STR_DTYPE)


def _read_json(group: h5py.Group, name: str) -> Any:
    raw = group[name][()]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


def _target_offsets(cell_gids: np.ndarray, targets: np.ndarray, table: str) -> np.ndarray:
    """CSR offsets of ``targets`` (sorted: the canonical order) over the sorted, unique
    ``cell_gids``; every target must be a cell."""
    offsets = np.empty(len(cell_gids) + 1, dtype=np.int64)
    offsets[:-1] = np.searchsorted(targets, cell_gids, side="left")
    offsets[-1] = len(targets)
    # sorted targets: cell i's run holds only its gid iff the run's first and last items are it
    full = np.flatnonzero(offsets[1:] > offsets[:-1])
    ok = len(targets) == 0 or (
        len(cell_gids) > 0 and offsets[0] == 0
        and np.array_equal(targets[offsets[full]], cell_gids[full])
        and np.array_equal(targets[offsets[full + 1] - 1], cell_gids[full]))
    if not ok:
        bad = np.setdiff1d(targets, cell_gids)[:5]
        raise StoreError(f"{table}: target gid(s) {bad.tolist()} are not in the cells table")
    return offsets


def _write_network_groups(f: h5py.File, net: Network, compression: str,
                          content_hash: bool = False) -> None:
    net = net.canonical()
    gids = net.gids
    if len(gids) and np.any(np.diff(gids) == 0):
        dup = gids[1:][np.diff(gids) == 0][:5]
        raise StoreError(f"cells: duplicate gid(s) {dup.tolist()}")
    model = f.create_group("model")
    meta = net.metadata()
    for doc in MODEL_DOCS:
        _write_json(model, doc, meta[doc])
    mods = model.create_group("mod_files")
    for i, (name, text) in enumerate(net.mod_files.items()):
        mods.create_dataset(f"m{i}", data=text, dtype=STR_DTYPE).attrs["name"] = name
    write_files(model, net.files, compression)
    if net.run_config is not None:
        _write_json(model, RUN_CONFIG_DOC, net.run_config.to_dict())
    grp = f.create_group("network")
    if not content_hash:
        _write_tables(grp, net, gids, compression)
        return
    # the content hash is computed in a thread while the tables are written (hashlib and HDF5
    # I/O release the GIL)
    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(net.content_hash)
        _write_tables(grp, net, gids, compression)
        grp.attrs["content_hash"] = digest.result()


def _write_tables(grp: h5py.Group, net: Network, gids: np.ndarray, compression: str) -> None:
    write_table(grp.create_group("cells"), net.cells, compression)
    for tname, target in INDEXED.items():
        table = getattr(net, tname)
        g = grp.create_group(tname)
        offsets = _target_offsets(gids, table[target], tname)
        write_table(g, table, compression, skip=(target,))
        g.create_dataset("post_offsets", data=offsets,
                         **dataset_options(len(offsets), 8, compression))


def _write_root_attrs(f: h5py.File) -> None:
    f.attrs["format"] = FORMAT_NAME
    f.attrs["schema_version"] = SCHEMA_VERSION
    f.attrs["creator"] = f"nethub {__version__}"
    f.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_network(
    net: Network,
    path: str | os.PathLike,
    results: Iterable[Results] = (),
    compression: str = "blosc-lz4",
    content_hash: bool = False,
) -> Path:
    """Write ``net`` (and optionally runs) to a new store at ``path``, atomically.

    An existing file at ``path`` is replaced only once the new one is complete.

    Parameters
    ----------
    compression : {'blosc-lz4', 'gzip', 'none'}
        'blosc-lz4' is fastest; readers need ``hdf5plugin`` (a nethub dependency). 'gzip' is
        readable by any HDF5 tool; 'none' writes contiguous raw datasets (fastest, largest).
    content_hash : bool
        Also compute the network's content hash now and record it as ``/network``'s
        ``content_hash`` attribute. By default it is computed when first needed (the first
        run appended, :func:`network_hash`), which keeps a write at the speed of the I/O: the
        SHA-256 costs about as much as writing the compressed tables.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        # HDF5 creates the file itself: truncating the empty placeholder instead makes closing
        # the file cost ~0.2 s per 700 MB written (measured, HDF5 1.14)
        tmp.unlink()
        with h5py.File(tmp, "w-") as f:
            _write_root_attrs(f)
            _write_network_groups(f, net, compression, content_hash)
            res = f.create_group("results")
            for i, r in enumerate(results):
                _write_run(res, r.name or f"run_{i:04d}", r, i, compression)
    logger.info("wrote %s (%d cells, %d connections)", path, net.n_cells, net.n_connections)
    return path


def network_hash(path: str | os.PathLike, record: bool = True) -> str:
    """The content hash of the network in store ``path`` (``Network.content_hash()``).

    Taken from ``/network``'s ``content_hash`` attribute when the store has it; otherwise
    computed from the stored network and, with ``record`` and a writable file, recorded as that
    attribute (an in-place attribute write; the tables are not touched).
    """
    path = Path(path)
    with open_store(path) as f:
        val = f["network"].attrs.get("content_hash")
    if val is not None:
        return _decode(val)
    digest = read_network(path).content_hash()
    if record and os.access(path, os.W_OK):
        try:
            with open_store(path, "r+") as f:
                f["network"].attrs["content_hash"] = digest
        except (NethubError, OSError) as exc:  # e.g. opened elsewhere: the hash is still right
            logger.info("%s: content hash not recorded (%s)", path, exc)
    return digest


# ----------------------------------------------------------------------------- reading
def _cell_rows(cells_gid: np.ndarray, gids: Iterable[int] | np.ndarray) -> np.ndarray:
    want = np.asarray(list(gids) if not isinstance(gids, np.ndarray) else gids, dtype=np.int64)
    if want.ndim != 1 or np.any(want[1:] <= want[:-1]):  # not yet sorted and unique
        want = np.unique(want)
    rows = np.searchsorted(cells_gid, want)
    ok = rows < len(cells_gid)
    ok[ok] = cells_gid[rows[ok]] == want[ok]
    if not ok.all():
        raise StoreError(f"gid(s) {want[~ok][:5].tolist()} not in the store")
    return rows


def read_network(path: str | os.PathLike, gids: Iterable[int] | None = None) -> Network:
    """Read the network of a store; with ``gids``, only those cells and their incoming
    connections, pointer connections and stimuli (touching only their rows on disk).

    Model descriptions (cell types, mechanisms, populations, spec) are always read whole.
    """
    path = Path(path)
    where: list[str] = []
    with open_store(path) as f, _reading(path, where):
        where.append("/model")
        model = f["model"]
        docs = {doc: _read_json(model, doc) for doc in MODEL_DOCS}
        mods = {ds.attrs["name"]: _decode(ds[()]) for ds in model["mod_files"].values()}
        where.append("/model/files")
        files = split_mod_files(read_files(model, path), mods)
        where.append(f"/model/{RUN_CONFIG_DOC}")
        run_config = RunConfig.from_dict(_read_json(model, RUN_CONFIG_DOC),
                                         f"/model/{RUN_CONFIG_DOC}") \
            if RUN_CONFIG_DOC in model else None
        where.append("/network/cells")
        cells_g = f["network/cells"]
        runs = None
        if gids is not None:
            cells_gid = _read_gid_column(cells_g)
            runs = Runs.of_rows(_cell_rows(cells_gid, gids))
        cells = migrate_cells(read_table(cells_g, TABLE_SCHEMAS["cells"], runs),
                              store_version(f))
        tables = {"cells": cells}
        for tname, target in INDEXED.items():
            where.append(f"/network/{tname}")
            tables[tname] = _read_indexed(f["network"][tname], tname, target, cells, runs)
        where.append("/model")
        return Network(
            cell_types={k: cell_type_from_dict(v) for k, v in docs["cell_types"].items()},
            syn_mechs={k: SynMech.from_dict(v) for k, v in docs["syn_mechs"].items()},
            populations={k: Population.from_dict(v) for k, v in docs["populations"].items()},
            stim_sources={k: StimSource.from_dict(v) for k, v in docs["stim_sources"].items()},
            spec=docs["spec"], params=docs["params"], provenance=docs["provenance"],
            rxd=docs["rxd"], mod_files=mods, files=files, run_config=run_config, **tables,
        )


def read_whole_table(path: str | os.PathLike, name: str):
    """One of the CSR-indexed tables (connections, pointer_conns, stim_targets) in full,
    without the rest of the network."""
    path = Path(path)
    where = [f"/network/{name}"]
    if name not in INDEXED:
        raise StoreError(f"{path}: no indexed table {name!r} (valid: {', '.join(INDEXED)})")
    with open_store(path) as f, _reading(path, where):
        gids = _read_gid_column(f["network/cells"])
        return _read_indexed(f["network"][name], name, INDEXED[name], {"gid": gids}, None)


def _decode(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _read_gid_column(cells_g: h5py.Group) -> np.ndarray:
    meta = json.loads(cells_g.attrs["columns"])
    idx = [m["name"] for m in meta].index("gid")
    return cells_g[f"c{idx}"][()]


def _read_indexed(g: h5py.Group, tname: str, target: str, cells, runs: Runs | None):
    if int(g.attrs["n_rows"]) == 0:  # empty table: all offsets are 0, nothing to select
        return read_table(g, TABLE_SCHEMAS[tname], None,
                          extra={target: np.zeros(0, dtype=cells["gid"].dtype)})
    if runs is None:
        offsets = g["post_offsets"][()]
        check_offsets(offsets, int(g.attrs["n_rows"]), f"{g.name}/post_offsets",
                      len(cells["gid"]) + 1)
        post = np.repeat(np.asarray(cells["gid"]), np.diff(offsets))
        return read_table(g, TABLE_SCHEMAS[tname], None, extra={target: post})
    rows = runs.index()
    # only the offsets of the selected cells: entries rows and rows + 1
    oruns = Runs(runs.starts, runs.stops + 1)
    offsets = oruns.read(g["post_offsets"])
    pos = np.searchsorted(oruns.index(), rows)
    lo, hi = offsets[pos], offsets[pos + 1]
    if np.any(hi < lo):
        raise StoreError(f"{g.name}/post_offsets: decreasing; the store is corrupt "
                         "(nethub validate)")
    trows = Runs(lo, hi)
    check_runs(trows, int(g.attrs["n_rows"]), f"{g.name}/post_offsets")  # before allocating
    post = np.repeat(np.asarray(cells["gid"]), hi - lo)
    return read_table(g, TABLE_SCHEMAS[tname], trows, extra={target: post})


# ----------------------------------------------------------------------------- results
def _write_run(res: h5py.Group, name: str, r: Results, order: int, compression: str,
               trace_blocks=None, group_blocks=None) -> None:
    if name in res:
        raise StoreError(f"results/{name} already exists")
    g = res.create_group(name)
    g.attrs["order"] = order
    g.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    g.attrs["network_hash"] = r.network_hash
    g.attrs["nranks"] = int(r.nranks)
    for doc in RUN_DOCS:
        _write_json(g, doc, getattr(r, doc))
    if r.run_config:  # the RunConfig the run used (nethub.runconfig), absent in older runs
        _write_json(g, "run_config", r.run_config)
    sp = g.create_group("spikes")
    for key, arr in (("time", r.spike_times), ("gid", r.spike_gids)):
        sp.create_dataset(key, data=arr, **dataset_options(len(arr), 8, compression))
    _write_traces(g.create_group("traces"), r.traces, trace_blocks, compression)
    if r.trace_groups:  # traces with their own interval or time window (docs/store.md §6)
        groups = g.create_group("trace_groups")
        for key, traces in r.trace_groups.items():
            _write_traces(groups.create_group(key), traces, (group_blocks or {}).get(key),
                          compression)
    if r.lfp is not None:
        lfp = g.create_group("lfp")
        lfp.create_dataset("data", data=r.lfp)
        for key in ("lfp_time", "electrodes"):
            val = getattr(r, key)
            if val is not None:
                lfp.create_dataset(key, data=val)
        for key, val in r.lfp_extra.items():  # dipole, per-population and per-cell arrays
            lfp.create_dataset(key, data=np.asarray(val, dtype=np.float64))
    write_run_integrity(res.file, g)  # hashes of network, files and results (§6.1)


def _write_traces(tr: h5py.Group, traces: Traces, blocks, compression: str) -> None:
    if blocks is not None:
        _write_trace_blocks(tr, traces.time, blocks, compression)
        return
    write_table(tr.create_group("index"), traces.index, compression)
    tr.create_dataset("time", data=traces.time)
    data = traces.data
    chunks = _trace_chunks(data.shape[1], len(data)) if data.size else None
    tr.create_dataset("data", data=data, chunks=chunks)


#: values per trace chunk (1 MB of float64)
_CHUNK_VALUES = 131072


def _trace_chunks(nt: int, rows: int | None = None) -> tuple[int, int]:
    """Chunk shape of a (traces, time) dataset: about 1 MB, whole rows where they fit.

    Long traces get one row per chunk, so a run with few traces does not allocate chunks
    of 64 rows it never fills (2 traces of 1.6M steps took 822 MB for 26 MB of data).
    """
    cols = max(1, min(nt, _CHUNK_VALUES))
    per_chunk = max(1, min(64, _CHUNK_VALUES // cols))
    return (per_chunk if rows is None else max(1, min(rows, per_chunk)), cols)


def _write_trace_blocks(tr: h5py.Group, time: np.ndarray, blocks, compression: str) -> None:
    """Stream (index table, data) blocks into a growing dataset: one block in memory at once."""
    nt = len(time)
    tr.create_dataset("time", data=time)
    data = tr.create_dataset("data", shape=(0, nt), maxshape=(None, max(nt, 1)),
                             dtype=np.float64, chunks=_trace_chunks(nt))
    indexes = []
    for index, block in blocks:
        if len(index) == 0:
            continue
        n0 = data.shape[0]
        data.resize(n0 + len(index), axis=0)
        data[n0:] = np.asarray(block, dtype=np.float64).reshape(len(index), nt)
        indexes.append(index)
    write_table(tr.create_group("index"), Table.concat(indexes, TRACE_COLUMNS), compression)


def append_run(path: str | os.PathLike, results: Results, name: str | None = None,
               compression: str = "blosc-lz4", trace_blocks=None, lock: bool = True,
               group_blocks=None) -> str:
    """Add a run to an existing store without rewriting its network.

    The run is written into a hidden group and renamed when complete; if writing fails the
    hidden group is removed and the store is as before. Returns the run's name.
    ``trace_blocks`` (an iterable of (index Table, data array)) replaces ``results.traces``
    so that traces arrive block by block (e.g. one MPI rank at a time); ``group_blocks``
    (trace group name -> such an iterable) does so for ``results.trace_groups``, consumed
    in that order after ``trace_blocks``. The store's lock is
    held while appending (concurrent appends wait for each other); ``lock=False`` for a file
    nobody else can see yet (a temporary copy).
    """
    path = Path(path)
    # the lock first (waiting for it can be interrupted), then no signal cuts the write short
    with store_lock(path) if lock else contextlib.nullcontext(), signals_deferred(), \
            open_store(path, "r+", lock=False) as f:
        res = f.require_group("results")
        order = len([k for k in res if not k.startswith(".")])
        name = name or results.name or f"run_{order:04d}"
        if name in res:
            raise StoreError(f"{path}: results/{name} already exists")
        tmp = f".partial_{name}"
        if tmp in res:
            del res[tmp]
        try:
            _write_run(res, tmp, results, order, compression, trace_blocks, group_blocks)
            res.move(tmp, name)
        except BaseException:
            if tmp in res:
                del res[tmp]
            raise
    return name


def _sorted_runs(f: h5py.File) -> list[str]:
    if "results" not in f:
        return []
    res = f["results"]
    names = [k for k in res if not k.startswith(".")]
    return sorted(names, key=lambda k: int(res[k].attrs.get("order", 0)))


def list_runs(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Stored runs in order: name, spike count, duration, ranks, creation time."""
    path = Path(path)
    out = []
    where = ["/results"]
    with open_store(path) as f, _reading(path, where):
        for name in _sorted_runs(f):
            g = f["results"][name]
            where.append(f"/results/{name}")
            cfg = _read_json(g, "sim_config")
            out.append({
                "name": name,
                "n_spikes": int(g["spikes/time"].shape[0]),
                "duration": cfg.get("duration") if isinstance(cfg, dict) else None,
                "nranks": int(g.attrs.get("nranks", 1)),
                "n_traces": int(g["traces/index"].attrs["n_rows"]) + sum(  # + trace groups
                    int(t["index"].attrs["n_rows"]) for t in g.get("trace_groups", {}).values()),
                "created": _decode(g.attrs.get("created", "")),
            })
    return out


def read_results(path: str | os.PathLike, run: int | str = -1) -> Results:
    """Read one run (by name or by position, ``-1`` = the latest)."""
    path = Path(path)
    where: list[str] = ["/results"]
    with open_store(path) as f, _reading(path, where):
        names = _sorted_runs(f)
        if not names:
            raise StoreError(f"{path}: the store holds no simulation results")
        if isinstance(run, str):
            if run not in names:
                raise StoreError(f"{path}: no run {run!r} (runs: {', '.join(names)})")
            name = run
        else:
            try:
                name = names[run]
            except IndexError:
                raise StoreError(f"{path}: no run #{run}; the store has {len(names)}") from None
        where.append(f"/results/{name}")
        return _read_run(f["results"][name], name)


def _read_run(g: h5py.Group, name: str) -> Results:
    docs = {doc: _read_json(g, doc) for doc in RUN_DOCS}
    docs["run_config"] = _read_json(g, "run_config") if "run_config" in g else {}
    traces = _read_traces(g["traces"])
    groups = {k: _read_traces(v) for k, v in g["trace_groups"].items()} if (
        "trace_groups" in g) else {}
    lfp = g.get("lfp")
    return Results(
        spike_times=g["spikes/time"][()], spike_gids=g["spikes/gid"][()], traces=traces,
        trace_groups=groups,
        lfp=lfp["data"][()] if lfp is not None else None,
        lfp_time=lfp["lfp_time"][()] if lfp is not None and "lfp_time" in lfp else None,
        electrodes=lfp["electrodes"][()] if lfp is not None and "electrodes" in lfp else None,
        lfp_extra=_lfp_extra(lfp) if lfp is not None else {},
        network_hash=_decode(g.attrs.get("network_hash", "")),
        nranks=int(g.attrs.get("nranks", 1)), name=name, **docs,
    )


def _read_traces(tr: h5py.Group) -> Traces:
    return Traces(read_table(tr["index"], TRACE_COLUMNS), tr["time"][()], tr["data"][()])


def _lfp_extra(lfp: h5py.Group) -> dict[str, np.ndarray]:
    """Every dataset of a run's lfp group besides data, lfp_time and electrodes."""
    out: dict[str, np.ndarray] = {}

    def visit(name: str, node) -> None:
        if isinstance(node, h5py.Dataset) and name not in ("data", "lfp_time", "electrodes"):
            out[name] = node[()]

    lfp.visititems(visit)
    return out


def info(path: str | os.PathLike) -> dict[str, Any]:
    """What ``nethub info`` shows: header, network summary, runs and file size."""
    path = Path(path)
    net = read_network(path)
    return {
        "file": str(path),
        "file_size": path.stat().st_size,
        "header": read_header(path),
        **net.summary(),
        "runs": list_runs(path),
    }


def read_cell_index(path: str | os.PathLike) -> dict[str, Any]:
    """What distributing cells needs, without reading the tables: ``gids`` (sorted), each
    cell's ``cell_type_codes`` (into ``cell_type_names``; -1: none), ``n_segments``,
    ``n_incoming`` connections and ``n_stims`` (stimulus targets)."""
    path = Path(path)
    where = ["/network/cells"]
    with open_store(path) as f, _reading(path, where):
        cells_g = f["network/cells"]
        meta = json.loads(cells_g.attrs["columns"])
        names = [m["name"] for m in meta]
        gids = cells_g[f"c{names.index('gid')}"][()]
        ct_g = cells_g[f"c{names.index('cell_type')}"]
        codes = ct_g["codes"][()]
        cats = [_decode(c) for c in ct_g["categories"][()]]
        where.append("/network/connections/post_offsets")
        incoming = np.diff(f["network/connections/post_offsets"][()])
        where.append("/network/stim_targets/post_offsets")
        n_stims = np.diff(f["network/stim_targets/post_offsets"][()])
        where.append("/model/cell_types")
        types = _read_json(f["model"], "cell_types")
    nseg = np.array([sum(int(s.get("geom", {}).get("nseg", 1) or 1)
                         for s in types.get(c, {}).get("sections", {}).values()) or 1
                     for c in cats], dtype=np.int64)
    seg_per_cell = nseg[codes] if len(cats) else np.ones(len(gids), dtype=np.int64)
    return {"gids": gids, "n_segments": seg_per_cell, "n_incoming": incoming,
            "n_stims": n_stims, "cell_type_codes": codes.astype(np.int64),
            "cell_type_names": cats}
