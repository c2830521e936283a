"""Store I/O benchmark: nethub's HDF5 store against plain h5py on the same arrays.

Builds a synthetic network (default 100,000 cells in 5 populations and 10,000,000 connections
generated in post-gid order, as builders do; ``--unsorted`` for random order), then, in one
process so that the ratios are comparable:

- writes and reads it with ``nethub.store.write_network`` / ``read_network``, twice: with the
  default compression (Blosc-LZ4, ``--compression``) and with ``compression='none'``;
- writes and reads the same numpy arrays (every column of the cells and connections tables,
  including the default-valued ones and a full ``post_gid`` column; categoricals as int32 codes
  plus a string dataset of categories) with plain h5py, twice: (a) contiguous uncompressed
  datasets, the obvious "dump the arrays" floor, and (b) the chunking and compression filter
  that nethub uses (``nethub.h5table.dataset_options``);
- reads one rank's share with ``read_network(path, gids=...)``: 1/16 of the cells as a contiguous
  block of gids, and every 16th gid (scattered), each with their incoming connections; and, as
  the floor for the first, plain h5py reading the same rows of floor (b)'s datasets;
- times ``Network.content_hash()`` alone (``write_network`` no longer computes it: it is
  recorded when the first run is appended, ``nethub.store.network_hash``).

Goals (issue "Foundation", item 9): nethub within 1.3x of plain h5py writing and reading the same
arrays in the same storage layout -- ``compression='none'`` against floor (a), the default
compressed store against floor (b), whose chunking and filter the issue's compressed tables
require -- and one rank's contiguous 1/16 share read in under 1/8 of the full read. The default
store against floor (a) is printed too: that ratio is the price of compression itself (LZ4 on
one core against a page-cache memcpy), not of nethub.

Every measurement is repeated (``--repeat``, default 3) after an untimed warm-up round and the
median reported. Page caches cannot be dropped without root, so reads are warm-cache (the file
was just written); writes go to the page cache (no fsync, for the floors and nethub alike;
``os.sync()`` runs before each timed write so that earlier dirty pages are not flushed during
it). Peak RSS is ``resource.getrusage`` (process lifetime, so it includes building the network).

Run::

    .venv/bin/python benchmarks/store_io.py                       # full size (~0.8 GB of data)
    .venv/bin/python benchmarks/store_io.py --cells 10000 --conns 1000000   # smoke check
    .venv/bin/python benchmarks/store_io.py --json store_io.json

Exit status is 0 when all goals pass, 1 otherwise (2 on a correctness failure).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401 - registers the Blosc filter for the floor (b) datasets
import numpy as np

import nethub
from nethub.celltypes import PointCell, Population, SynMech
from nethub.h5table import COMPRESSIONS, dataset_options
from nethub.network import CELL_COLUMNS, CONN_COLUMNS, Network
from nethub.store import read_network, write_network
from nethub.table import Categorical, Table

#: Goals (issue "Foundation", item 9).
WRITE_GOAL = 1.3  # nethub write within 1.3x of plain h5py writing the same layout
READ_GOAL = 1.3  # nethub full read within 1.3x of plain h5py reading it
SHARE_GOAL = 1 / 8  # one rank's contiguous 1/16 share in under 1/8 of the full read
NSHARE = 16

POPS = [  # name, cell type, fraction of cells, layer depth range (µm), excitatory
    ("E2", "PYR", 0.25, (100, 400), True),
    ("I2", "BAS", 0.07, (100, 400), False),
    ("E4", "PYR", 0.28, (400, 700), True),
    ("E5", "PYR", 0.30, (700, 1100), True),
    ("I5", "BAS", 0.10, (700, 1100), False),
]
SIZE = (200.0, 1350.0, 200.0)  # sizeX, sizeY, sizeZ (µm)


# ----------------------------------------------------------------------------- data
def build_network(n_cells: int, n_conns: int, seed: int = 1, sorted_post: bool = True
                  ) -> Network:
    """A synthetic network with realistic columns; undeclared columns stay at their defaults."""
    rng = np.random.default_rng(seed)
    fracs = np.array([p[2] for p in POPS])
    sizes = np.floor(fracs / fracs.sum() * n_cells).astype(np.int64)
    sizes[-1] = n_cells - sizes[:-1].sum()
    pop_codes = np.repeat(np.arange(len(POPS), dtype=np.int32), sizes)
    types = sorted({p[1] for p in POPS})
    type_codes = np.array([types.index(p[1]) for p in POPS], dtype=np.int32)[pop_codes]
    lo = np.array([p[3][0] for p in POPS], dtype=np.float64)[pop_codes]
    hi = np.array([p[3][1] for p in POPS], dtype=np.float64)[pop_codes]
    x = rng.random(n_cells) * SIZE[0]
    y = lo + rng.random(n_cells) * (hi - lo)
    z = rng.random(n_cells) * SIZE[2]
    cells = Table({
        "gid": np.arange(n_cells, dtype=np.int64),
        "pop": Categorical(pop_codes, [p[0] for p in POPS]),
        "cell_type": Categorical(type_codes, types),
        "x": x, "y": y, "z": z,
        "xnorm": x / SIZE[0], "ynorm": y / SIZE[1], "znorm": z / SIZE[2],
    }, CELL_COLUMNS)

    # connections: generated per postsynaptic cell (as builders do), random presynaptic cells
    post = rng.integers(0, n_cells, n_conns, dtype=np.int64)
    if sorted_post:
        post.sort()
    pre = rng.integers(0, n_cells, n_conns, dtype=np.int64)
    excit = np.array([p[4] for p in POPS])[pop_codes[pre]]
    syn = Categorical((~excit).astype(np.int32), ["AMPA", "GABA_A"])
    del excit
    secs = ["soma", "dend", "apic_0", "apic_1", "apic_2", "basal_0", "basal_1"]
    sec = Categorical(rng.integers(0, len(secs), n_conns, dtype=np.int32), secs)
    npop = len(POPS)
    rule_codes = (pop_codes[pre] * npop + pop_codes[post]).astype(np.int32)
    rules = [f"{a[0]}->{b[0]}" for a in POPS for b in POPS]
    loc = rng.random(n_conns)
    weight = rng.random(n_conns) * 0.01
    dist = np.abs(y[pre] - y[post])
    delay = 1.0 + dist / 500.0  # 1 ms + distance / 0.5 m/s
    del dist
    conns = Table({
        "pre_gid": pre, "post_gid": post, "syn_mech": syn, "post_sec": sec,
        "post_loc": loc, "weight": weight, "delay": delay,
        "rule": Categorical(rule_codes, rules),
    }, CONN_COLUMNS)
    del pre, post, loc, weight, delay, rule_codes

    return Network(
        cell_types={"PYR": PointCell("PYR", model="IntFire2", params={"taum": 10.0}),
                    "BAS": PointCell("BAS", model="IntFire2", params={"taum": 5.0})},
        syn_mechs={"AMPA": SynMech("AMPA", "ExpSyn", {"tau": 2.0, "e": 0.0}),
                   "GABA_A": SynMech("GABA_A", "ExpSyn", {"tau": 5.0, "e": -80.0})},
        populations={p[0]: Population(p[0], p[1], int(s), extent={"y": list(p[3])})
                     for p, s in zip(POPS, sizes)},
        cells=cells, connections=conns,
        params={"sizeX": SIZE[0], "sizeY": SIZE[1], "sizeZ": SIZE[2]},
        provenance={"creator": "benchmarks/store_io.py", "seed": seed},
    )


def network_arrays(net: Network) -> dict[str, np.ndarray]:
    """Every column of the cells and connections tables as plain numpy arrays (the floor's
    input): numeric columns as they are, categoricals as codes + an array of categories."""
    out: dict[str, np.ndarray] = {}
    for tname in ("cells", "connections"):
        for cname, col in getattr(net, tname).columns.items():
            if isinstance(col, Categorical):
                out[f"{tname}/{cname}/codes"] = col.codes
                out[f"{tname}/{cname}/categories"] = np.array(col.categories, dtype=object)
            else:
                out[f"{tname}/{cname}"] = col
    return out


# ----------------------------------------------------------------------------- floors
STR = h5py.string_dtype("utf-8")


def floor_write(path: Path, arrays: dict[str, np.ndarray], compression: str | None) -> None:
    """Every array as a dataset; ``compression`` None: contiguous and raw (floor a), else
    nethub's chunking and filter for that compression (floor b)."""
    with h5py.File(path, "w") as f:
        for name, arr in arrays.items():
            if arr.dtype == object:
                f.create_dataset(name, data=arr, dtype=STR)
            elif compression is not None:
                f.create_dataset(name, data=arr,
                                 **dataset_options(len(arr), arr.itemsize, compression))
            else:
                f.create_dataset(name, data=arr)


def floor_read(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name, node):
            if isinstance(node, h5py.Dataset):
                out[name] = node[()]
        f.visititems(visit)
    return out


def floor_read_rows(path: Path, cells: slice, conns: slice) -> dict[str, np.ndarray]:
    """Plain h5py reading only rows ``cells`` of the cell columns and ``conns`` of the
    connection columns (categories whole): the floor for a contiguous share."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        def visit(name, node):
            if isinstance(node, h5py.Dataset):
                rows = (slice(None) if name.endswith("/categories") else
                        cells if name.startswith("cells/") else conns)
                out[name] = node[rows]
        f.visititems(visit)
    return out


# ----------------------------------------------------------------------------- timing
def peak_rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return r / (1 << 20) if sys.platform == "darwin" else r / 1024


def timed(fn: Callable[[], object], before: Callable[[], None] | None = None
          ) -> tuple[float, object]:
    if before is not None:
        before()
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def fmt_mb(b: float) -> str:
    return f"{b / 1e6:8.1f} MB"


# ----------------------------------------------------------------------------- main
def write_phase(args: argparse.Namespace, paths: tuple[Path, Path, Path], block: np.ndarray,
                scattered: np.ndarray, times: dict[str, list[float]], rss: dict[str, float]
                ) -> dict:
    """Build the network, time the writes and check the round trip (untimed)."""
    p_a, p_b, p_n, p_r = paths
    t0 = time.perf_counter()
    net = build_network(args.cells, args.conns, sorted_post=not args.unsorted)
    t_build = time.perf_counter() - t0
    arrays = network_arrays(net.canonical())  # what the floors write: the stored order
    nbytes = sum(a.nbytes for a in arrays.values() if a.dtype != object)
    print(f"built {net}: {nbytes / 1e6:.0f} MB of column data in {t_build:.1f} s; "
          f"peak RSS so far {peak_rss_mb():.0f} MB")

    post_all = arrays["connections/post_gid"]  # sorted (canonical order)
    conn_rows = slice(*np.searchsorted(post_all, [block[0], block[-1] + 1]).tolist())
    cell_rows = slice(int(block[0]), int(block[-1]) + 1)  # gids are 0..n-1
    n_block_conns = conn_rows.stop - conn_rows.start
    n_scat_conns = int(np.isin(post_all, scattered).sum())

    def unlink_then_sync(p: Path) -> Callable[[], None]:
        def f() -> None:
            p.unlink(missing_ok=True)
            os.sync()
        return f

    writes = (
        ("floor_a_write", lambda: floor_write(p_a, arrays, None), unlink_then_sync(p_a)),
        ("floor_b_write", lambda: floor_write(p_b, arrays, args.compression),
         unlink_then_sync(p_b)),
        ("nethub_write", lambda: write_network(net, p_n, compression=args.compression),
         unlink_then_sync(p_n)),
        ("nethub_raw_write", lambda: write_network(net, p_r, compression="none"),
         unlink_then_sync(p_r)),
        ("content_hash", net.content_hash, None),  # computed later, at the first run
    )
    times.update({k: [] for k, *_ in writes})
    # interleaved per repetition, after untimed warm-up rounds (the first writes of a process
    # are slower: fresh page-cache and heap pages)
    for rep in range(args.warmup + args.repeat):
        for key, fn, before in writes:
            t, _o = timed(fn, before)
            if rep >= args.warmup:
                times[key].append(t)
    rss["after_writes"] = peak_rss_mb()
    sizes = {k: p.stat().st_size for k, p in (("floor_a", p_a), ("floor_b", p_b),
                                              ("nethub", p_n), ("nethub_raw", p_r))}

    verified = None
    if not args.no_verify:
        verified = read_network(p_n).equals(net.canonical()) and read_network(p_r).equals(
            net.canonical())
        part = read_network(p_n, gids=block)
        verified = verified and bool(np.array_equal(part.gids, block)) and (
            part.n_connections == n_block_conns)
        part = read_network(p_n, gids=scattered)
        verified = verified and bool(np.array_equal(part.gids, scattered)) and (
            part.n_connections == n_scat_conns)
        print(f"round trip and partial reads verified: {verified}")
    return {"cell_rows": cell_rows, "conn_rows": conn_rows, "n_block_conns": n_block_conns,
            "n_scat_conns": n_scat_conns, "sizes": sizes, "verified": verified,
            "nbytes": nbytes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=100_000, help="number of cells (100000)")
    ap.add_argument("--conns", type=int, default=10_000_000,
                    help="number of connections (10000000)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions per measurement (3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up rounds (1)")
    ap.add_argument("--compression", default="blosc-lz4", choices=COMPRESSIONS,
                    help="nethub's compression, also used by floor (b) (default blosc-lz4)")
    ap.add_argument("--dir", default=None, help="folder for the files (default: a temp folder)")
    ap.add_argument("--json", metavar="OUT", default=None, help="also write the figures as JSON")
    ap.add_argument("--unsorted", action="store_true",
                    help="generate connections in random post-gid order (write then sorts)")
    ap.add_argument("--no-verify", action="store_true", help="skip the round-trip check")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    args = ap.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="nethub-bench-", dir=args.dir))
    try:
        return run(args, workdir)
    finally:
        if not args.keep:
            for name in ("floor_a.h5", "floor_b.h5", "nethub.h5", "nethub_raw.h5"):
                (workdir / name).unlink(missing_ok=True)
            for tmp in workdir.glob(".nethub*.h5.*"):  # an interrupted atomic write
                tmp.unlink()
            workdir.rmdir()


def run(args: argparse.Namespace, workdir: Path) -> int:
    p_a, p_b, p_n = workdir / "floor_a.h5", workdir / "floor_b.h5", workdir / "nethub.h5"
    p_r = workdir / "nethub_raw.h5"

    print(f"nethub {nethub.__version__}, h5py {h5py.__version__} "
          f"(HDF5 {h5py.version.hdf5_version}), hdf5plugin {hdf5plugin.version}, "
          f"numpy {np.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    print(f"files in {workdir}; {args.repeat} repetitions, median reported; reads are warm-cache "
          f"(page cache not dropped: needs root); writes are to the page cache (no fsync)")
    load_before = os.getloadavg()[0]

    share = args.cells // NSHARE
    block = np.arange(3 * share, 4 * share, dtype=np.int64)  # rank 3 of 16: a contiguous block
    scattered = np.arange(3, args.cells, NSHARE, dtype=np.int64)  # every 16th gid
    times: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    info = write_phase(args, (p_a, p_b, p_n, p_r), block, scattered, times, rss)
    gc.collect()  # the network and its arrays are gone: the reads start from a clean heap
    cell_rows, conn_rows = info["cell_rows"], info["conn_rows"]
    n_block_conns, n_scat_conns = info["n_block_conns"], info["n_scat_conns"]
    sizes, verified, nbytes = info["sizes"], info["verified"], info["nbytes"]

    reads = (
        ("floor_a_read", lambda: floor_read(p_a)),
        ("floor_b_read", lambda: floor_read(p_b)),
        ("nethub_read", lambda: read_network(p_n)),
        ("nethub_raw_read", lambda: read_network(p_r)),
        ("floor_b_read_block", lambda: floor_read_rows(p_b, cell_rows, conn_rows)),
        ("nethub_read_block", lambda: read_network(p_n, gids=block)),
        ("nethub_read_scattered", lambda: read_network(p_n, gids=scattered)),
    )
    times.update({k: [] for k, _ in reads})

    # ---- reads, interleaved per repetition (each result dropped before the next read)
    for rep in range(args.warmup + args.repeat):
        for key, fn in reads:
            t, out = timed(fn)
            del out
            if rep >= args.warmup:
                times[key].append(t)
    rss["final"] = peak_rss_mb()

    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ratios = {
        "write_vs_floor_a": med["nethub_write"] / med["floor_a_write"],
        "write_vs_floor_b": med["nethub_write"] / med["floor_b_write"],
        "read_vs_floor_a": med["nethub_read"] / med["floor_a_read"],
        "read_vs_floor_b": med["nethub_read"] / med["floor_b_read"],
        "raw_write_vs_floor_a": med["nethub_raw_write"] / med["floor_a_write"],
        "raw_read_vs_floor_a": med["nethub_raw_read"] / med["floor_a_read"],
        "block_vs_full_read": med["nethub_read_block"] / med["nethub_read"],
        "scattered_vs_full_read": med["nethub_read_scattered"] / med["nethub_read"],
        "floor_b_block_vs_full_read": med["floor_b_read_block"] / med["floor_b_read"],
    }
    goals = {
        f"nethub write, compression='none' <= {WRITE_GOAL}x floor (a)":
            ratios["raw_write_vs_floor_a"] <= WRITE_GOAL,
        f"nethub read, compression='none' <= {READ_GOAL}x floor (a)":
            ratios["raw_read_vs_floor_a"] <= READ_GOAL,
        f"nethub write, {args.compression} <= {WRITE_GOAL}x floor (b)":
            ratios["write_vs_floor_b"] <= WRITE_GOAL,
        f"nethub read, {args.compression} <= {READ_GOAL}x floor (b)":
            ratios["read_vs_floor_b"] <= READ_GOAL,
        f"1/{NSHARE} contiguous share read < 1/8 of the full read":
            ratios["block_vs_full_read"] < SHARE_GOAL,
    }

    # ---- report
    print()
    print(f"{args.cells:,} cells, {args.conns:,} connections; 1/{NSHARE} share: {share:,} cells "
          f"with {n_block_conns:,} incoming connections (contiguous gids), "
          f"{len(scattered):,} cells with {n_scat_conns:,} (every {NSHARE}th gid)")
    print(f"median of {args.repeat} (after {args.warmup} warm-up round(s)); warm-cache reads")
    print()
    w = 46
    print(f"{'':{w}}{'median':>9}  {'/floor a':>8}  {'/floor b':>8}  {'file size':>11}"
          f"  {'best':>7}")

    def line(label: str, key: str, kind: str | None, size: str | None = None) -> None:
        ra = f"{med[key] / med['floor_a_' + kind]:7.2f}x" if kind else ""
        rb = f"{med[key] / med['floor_b_' + kind]:7.2f}x" if kind else ""
        sz = fmt_mb(sizes[size]) if size else ""
        print(f"{label:{w}}{med[key]:7.3f} s  {ra:>8}  {rb:>8}  {sz:>11}  {best[key]:5.3f} s")

    line("write  floor (a) h5py, contiguous, raw", "floor_a_write", "write", "floor_a")
    line(f"write  floor (b) h5py, chunks+{args.compression}", "floor_b_write", "write",
         "floor_b")
    line(f"write  nethub write_network, {args.compression}", "nethub_write", "write", "nethub")
    line("write  nethub write_network, none", "nethub_raw_write", "write", "nethub_raw")
    line("       content_hash (not in the write)", "content_hash", "write")
    line("read   floor (a)", "floor_a_read", "read")
    line("read   floor (b)", "floor_b_read", "read")
    line(f"read   nethub read_network, {args.compression}", "nethub_read", "read")
    line("read   nethub read_network, none", "nethub_raw_read", "read")
    print(f"{'':{w}}{'median':>9}  {'/full read':>10}{'':21}{'best':>7}")
    for label, key, full in (
        (f"read   floor (b), 1/{NSHARE} contiguous rows", "floor_b_read_block", "floor_b_read"),
        (f"read   nethub, 1/{NSHARE} contiguous gids", "nethub_read_block", "nethub_read"),
        (f"read   nethub, 1/{NSHARE} every {NSHARE}th gid", "nethub_read_scattered",
         "nethub_read"),
    ):
        print(f"{label:{w}}{med[key]:7.3f} s  {med[key] / med[full]:9.3f}{'':22}"
              f"{best[key]:5.3f} s")
    print()
    print(f"peak RSS {rss['final']:.0f} MB (after the writes: {rss['after_writes']:.0f} MB); "
          f"nethub file = {sizes['nethub'] / sizes['floor_a']:.2f} x floor (a) file")
    load = (load_before, os.getloadavg()[0])
    busy = max(load) > 0.5 * (os.cpu_count() or 1)
    print(f"1-min load average {load[0]:.2f} before, {load[1]:.2f} after"
          + (" - other processes were busy: the figures are noisy" if busy else ""))
    print("all times (s): " + "; ".join(f"{k} {' '.join(f'{t:.3f}' for t in v)}"
                                        for k, v in times.items()))
    print()
    for label, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    if verified is False:
        print("FAIL  round trip / partial read check")

    if args.json:
        Path(args.json).write_text(json.dumps({
            "cells": args.cells, "conns": args.conns, "repeat": args.repeat,
            "warmup": args.warmup, "compression": args.compression,
            "unsorted": args.unsorted, "cpus": os.cpu_count(),
            "versions": {"nethub": nethub.__version__, "h5py": h5py.__version__,
                         "hdf5plugin": hdf5plugin.version,
                         "hdf5": h5py.version.hdf5_version, "numpy": np.__version__,
                         "python": platform.python_version()},
            "column_bytes": nbytes, "times": times, "median": med, "best": best,
            "ratios": ratios,
            "file_size": sizes, "peak_rss_mb": rss, "verified": verified,
            "goals": goals, "warm_cache": True, "load_average": load,
        }, indent=2))
    if verified is False:
        return 2
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
