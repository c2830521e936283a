"""The canonical store on real files: partial reads, damaged and foreign files, atomic writes,
and the findings of ``validate_store`` for each kind of damage."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from nethub import h5table, store
from nethub.celltypes import PointCell, Population, StimSource, SynMech
from nethub.errors import SchemaVersionError, StoreError
from nethub.network import Network
from nethub.results import Results, Traces
from nethub.store import (
    append_run,
    list_runs,
    read_header,
    read_network,
    read_results,
    write_network,
)
from nethub.table import Ragged, Table
from nethub.validate import Finding, validate_store

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "store" / "golden_v1.h5"
N_CELLS, FAN_IN = 1600, 32


def medium_network(seed: int = 1) -> Network:
    """1,600 cells in two populations, 51,200 connections, gap junctions and stimuli; built
    deliberately out of canonical order."""
    rng = np.random.default_rng(seed)
    gids = rng.permutation(N_CELLS).astype(np.int64) * 3 + 5  # holes between gids
    pops = np.where(gids % 2 == 0, "E", "I")
    post = np.repeat(gids, FAN_IN)
    order = rng.permutation(len(post))
    spikes = [list(np.round(rng.uniform(0, 100, rng.integers(0, 4)), 2)) for _ in gids]
    return Network(
        cell_types={"A": PointCell("A", "IntFire1"), "B": PointCell("B", "IntFire2")},
        syn_mechs={"exc": SynMech("exc", "ExpSyn"), "gap": SynMech("gap", "Gap")},
        populations={"E": Population("E", "A"), "I": Population("I", "B")},
        stim_sources={"bkg": StimSource("bkg", "NetStim", {"rate": 10.0})},
        cells={"gid": gids, "pop": pops, "cell_type": np.where(pops == "E", "A", "B"),
               "x": rng.uniform(0, 100, N_CELLS), "spk": Ragged.from_lists(spikes)},
        connections={"pre_gid": rng.choice(gids, len(post))[order], "post_gid": post[order],
                     "syn_mech": ["exc"] * len(post),
                     "weight": rng.uniform(0, 1, len(post))[order],
                     "delay": rng.uniform(1, 5, len(post))[order]},
        pointer_conns={"pre_gid": gids[:200], "post_gid": gids[200:400],
                       "syn_mech": ["gap"] * 200},
        stim_targets={"source": ["bkg"] * 300, "gid": rng.choice(gids, 300)},
    )


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    net = medium_network()
    path = write_network(net, tmp_path_factory.mktemp("medium") / "medium.h5")
    return net, path


def subset(canon: Network, gids) -> dict[str, Table]:
    gids = np.asarray(gids)
    out = {"cells": canon.cells.take(np.flatnonzero(np.isin(canon.gids, gids)))}
    for tname, target in (("connections", "post_gid"), ("pointer_conns", "post_gid"),
                          ("stim_targets", "gid")):
        t = getattr(canon, tname)
        out[tname] = t.take(np.flatnonzero(np.isin(t[target], gids)))
    return out


# ============================================================================ partial reads
def _sorted_gids(net: Network) -> np.ndarray:
    return np.sort(net.gids)


@pytest.mark.parametrize("which", ["contiguous", "scattered", "single", "all", "unsorted"])
def test_partial_read_equals_in_memory_subset(medium, which):
    net, path = medium
    g = _sorted_gids(net)
    rng = np.random.default_rng(3)
    wanted = {
        "contiguous": g[400:500],
        "scattered": rng.choice(g, 37, replace=False),
        "single": g[[777]],
        "all": g,
        "unsorted": np.r_[g[900:910][::-1], g[5], g[5]],  # order and repeats do not matter
    }[which]
    part = read_network(path, gids=wanted)
    canon = net.canonical()
    for tname, want in subset(canon, wanted).items():
        assert getattr(part, tname).equals(want), tname
    assert part.gids.tolist() == sorted(set(wanted.tolist()))
    assert part.cell_types.keys() == net.cell_types.keys()
    if which == "all":
        assert part.equals(canon)


def test_partial_read_of_empty_selection(medium):
    net, path = medium
    part = read_network(path, gids=[])
    assert part.n_cells == 0 and part.n_connections == 0
    assert list(part.cells) == list(net.canonical().cells)


def test_partial_read_unknown_gid(medium):
    net, path = medium
    with pytest.raises(StoreError, match=r"gid\(s\) \[4\] not in the store"):
        read_network(path, gids=[int(net.gids[0]), 4])


def test_partial_read_touches_only_needed_rows(medium, monkeypatch):
    """Reading 1/16 of the cells reads about 1/16 of every connection column."""
    net, path = medium
    reads: dict[str, int] = {}
    original = h5py.Dataset.__getitem__

    def recording(self, args, *rest, **kw):
        out = original(self, args, *rest, **kw)
        reads[self.name] = reads.get(self.name, 0) + (len(out) if np.ndim(out) else 1)
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recording)
    share = _sorted_gids(net)[: N_CELLS // 16]
    part = read_network(path, gids=share)
    monkeypatch.undo()
    n_conn = net.n_connections
    assert part.n_connections == n_conn // 16
    conn_reads = {k: v for k, v in reads.items()
                  if k.startswith("/network/connections/") and not k.endswith("post_offsets")}
    assert conn_reads, reads
    for name, rows in conn_reads.items():
        if name.endswith("/categories"):
            continue
        assert rows <= 1.05 * n_conn / 16, (name, rows)
    assert sum(conn_reads.values()) < 0.1 * n_conn * len(conn_reads)
    # the cells table: the gid column whole (to find the rows), every other column 1/16
    cell_reads = {k: v for k, v in reads.items() if k.startswith("/network/cells/")
                  and not k.endswith(("categories", "offsets"))}
    gid_key = max(cell_reads, key=cell_reads.get)
    assert cell_reads.pop(gid_key) == N_CELLS + N_CELLS // 16
    assert max(cell_reads.values()) <= N_CELLS // 16 * 3  # ragged spike values: <= 3 per cell


@pytest.mark.parametrize("compression", ["blosc-lz4", "gzip", "none"])
def test_round_trip_compressions(tmp_path, compression):
    net = medium_network(seed=2)
    path = write_network(net, tmp_path / "m.h5", compression=compression)
    assert read_network(path).equals(net.canonical())
    with h5py.File(path) as f:
        ds = f["network/connections/c0"]
        assert ds.compression == {"gzip": "gzip", "none": None}.get(compression, ds.compression)
        if compression == "blosc-lz4":
            assert 32001 in ds._filters or "32001" in ds._filters  # the Blosc filter id
    assert validate_store(path) == []


# ============================================================================ bad files
def _copy_golden(tmp_path: Path, name: str = "store.h5") -> Path:
    dst = tmp_path / name
    shutil.copyfile(GOLDEN, dst)
    return dst


def _truncated(tmp_path: Path) -> Path:
    p = _copy_golden(tmp_path, "truncated.h5")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _random_bytes(tmp_path: Path) -> Path:
    p = tmp_path / "random.h5"
    p.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return p


def _empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty.h5"
    p.write_bytes(b"")
    return p


def _text(tmp_path: Path) -> Path:
    p = tmp_path / "notes.h5"
    p.write_text("gid,pop\n0,E\n", encoding="utf-8")
    return p


def _foreign(tmp_path: Path) -> Path:
    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("nodes/node_id", data=np.arange(5))
        f.attrs["version"] = "0.1"
    return p


def _newer(tmp_path: Path) -> Path:
    p = _copy_golden(tmp_path, "newer.h5")
    with h5py.File(p, "r+") as f:
        f.attrs["schema_version"] = 99
    return p


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "does_not_exist.h5"


def _directory(tmp_path: Path) -> Path:
    p = tmp_path / "folder.h5"
    p.mkdir()
    return p


BAD_FILES = {"truncated": _truncated, "random": _random_bytes, "empty": _empty, "text": _text,
             "foreign": _foreign, "newer": _newer, "missing": _missing, "directory": _directory}
READERS = {
    "read_network": read_network,
    "read_network_gids": lambda p: read_network(p, gids=[0]),
    "read_results": read_results,
    "list_runs": list_runs,
    "read_header": read_header,
    "append_run": lambda p: append_run(p, Results()),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_files_raise_store_errors_naming_the_file(tmp_path, kind, reader):
    path = BAD_FILES[kind](tmp_path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(StoreError) as info:
        READERS[reader](path)
    assert str(path) in str(info.value)
    if kind == "newer":
        assert info.type is SchemaVersionError
        assert "99" in str(info.value) and "upgrade" in str(info.value)
    elif kind == "foreign":
        assert "not a nethub store" in str(info.value)
    if before is not None:
        assert path.read_bytes() == before  # a failed open never changes the file


@pytest.mark.parametrize("kind", BAD_FILES)
def test_validate_bad_files_single_error(tmp_path, kind):
    path = BAD_FILES[kind](tmp_path)
    findings = validate_store(path)
    assert len(findings) == 1
    assert findings[0].level == "error" and findings[0].path == "/"
    assert str(path) in findings[0].message


def _column_key(f: h5py.File, table: str, column: str) -> str:
    names = [m["name"] for m in json.loads(f[table].attrs["columns"])]
    return f"{table}/c{names.index(column)}"


@pytest.mark.parametrize(("member", "where"), [
    ("network/connections/{weight}", "/network/connections"),
    ("network/cells/{gid}", "/network/cells"),
    ("network/stim_targets/post_offsets", "/network/stim_targets"),
    ("model/cell_types", "/model"),
    ("model/mod_files", "/model"),
])
def test_missing_member_raises_store_error_naming_path(tmp_path, member, where):
    path = _copy_golden(tmp_path)
    with h5py.File(path, "r+") as f:
        member = member.format(weight=_column_key(f, "network/connections", "weight")[20:],
                               gid=_column_key(f, "network/cells", "gid")[14:])
        del f[member]
    with pytest.raises(StoreError) as info:
        read_network(path)
    assert str(path) in str(info.value) and where in str(info.value)


@pytest.mark.parametrize("member", ["spikes/gid", "traces/data", "sim_config", "traces/index"])
def test_missing_run_member_raises_store_error(tmp_path, member):
    path = _copy_golden(tmp_path)
    with h5py.File(path, "r+") as f:
        del f[f"results/baseline/{member}"]
    with pytest.raises(StoreError, match="/results/baseline") as info:
        read_results(path, "baseline")
    assert str(path) in str(info.value)
    assert read_results(path, "strong_drive").name == "strong_drive"


def test_bad_model_json_raises_store_error(tmp_path):
    path = _copy_golden(tmp_path)
    with h5py.File(path, "r+") as f:
        del f["model/syn_mechs"]
        f["model"].create_dataset("syn_mechs", data='{"AMPA": {"name": "AMPA", "bogus": 1}}',
                                  dtype=h5py.string_dtype())
    with pytest.raises(StoreError, match="/model") as info:
        read_network(path)
    assert str(path) in str(info.value)


def test_unknown_run(tmp_path):
    path = _copy_golden(tmp_path)
    with pytest.raises(StoreError, match="no run 'nope'.*baseline"):
        read_results(path, "nope")
    with pytest.raises(StoreError, match="no run #5"):
        read_results(path, 5)
    empty = write_network(Network(), tmp_path / "empty_net.h5")
    with pytest.raises(StoreError, match="holds no simulation results"):
        read_results(empty)


# ============================================================================ atomic writes
def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _fail_after_cells(monkeypatch):
    calls = []
    real = h5table.write_table

    def failing(group, table, *args, **kw):
        calls.append(group.name)
        if len(calls) > 1:
            raise RuntimeError("disk full (simulated)")
        return real(group, table, *args, **kw)

    monkeypatch.setattr(h5table, "write_table", failing)
    monkeypatch.setattr(store, "write_table", failing, raising=False)
    return calls


def test_failed_write_leaves_existing_store_untouched(tmp_path, monkeypatch):
    path = _copy_golden(tmp_path)
    before = path.read_bytes()
    calls = _fail_after_cells(monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        write_network(medium_network(), path)
    assert calls[0] == "/network/cells"
    assert path.read_bytes() == before
    assert _listing(tmp_path) == ["store.h5"]
    monkeypatch.undo()
    assert validate_store(path) == []


def test_failed_write_of_new_store_leaves_nothing(tmp_path, monkeypatch):
    _fail_after_cells(monkeypatch)
    with pytest.raises(RuntimeError):
        write_network(medium_network(), tmp_path / "new.h5")
    assert _listing(tmp_path) == []


def test_write_replaces_existing_store_and_keeps_mode(tmp_path):
    path = _copy_golden(tmp_path)
    os.chmod(path, 0o640)
    net = medium_network()
    write_network(net, path)
    assert read_network(path).equals(net.canonical())
    assert _listing(tmp_path) == ["store.h5"]
    assert path.stat().st_mode & 0o777 == 0o640


def test_new_store_is_not_private(tmp_path):
    path = write_network(Network(), tmp_path / "new.h5")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def _hdf5_tree(path: Path) -> list[str]:
    with h5py.File(path) as f:
        names: list[str] = []
        f.visit(names.append)
        return names


def test_failed_append_leaves_runs_unchanged(tmp_path, monkeypatch):
    path = _copy_golden(tmp_path)
    runs_before = list_runs(path)
    tree_before = _hdf5_tree(path)

    def failing(*args, **kw):
        raise RuntimeError("interrupted (simulated)")

    monkeypatch.setattr(h5table, "write_table", failing)
    monkeypatch.setattr(store, "write_table", failing, raising=False)
    r = Results(spike_times=[1.0, 2.0], spike_gids=[0, 1])
    with pytest.raises(RuntimeError, match="interrupted"):
        append_run(path, r, name="third")
    monkeypatch.undo()
    assert list_runs(path) == runs_before
    assert _hdf5_tree(path) == tree_before
    with h5py.File(path) as f:
        assert not [k for k in f["results"] if k.startswith(".")]
    assert validate_store(path) == []
    assert append_run(path, r, name="third") == "third"
    assert read_results(path).equals(r)


def test_leftover_partial_group_is_ignored_and_cleaned(tmp_path):
    path = _copy_golden(tmp_path)
    with h5py.File(path, "r+") as f:  # what a killed process leaves behind
        f["results"].create_group(".partial_third").create_dataset("junk", data=[1])
    assert [r["name"] for r in list_runs(path)] == ["baseline", "strong_drive"]
    assert read_results(path).name == "strong_drive"
    findings = validate_store(path)
    assert findings == [Finding("warning", "/results/.partial_third",
                                "hidden group (an interrupted append?); readers ignore it")]
    append_run(path, Results(), name="third")
    with h5py.File(path) as f:
        assert ".partial_third" not in f["results"]
    assert [r["name"] for r in list_runs(path)][-1] == "third"


def test_append_existing_name_refused(tmp_path):
    path = _copy_golden(tmp_path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="baseline already exists"):
        append_run(path, Results(), name="baseline")
    assert list_runs(path)[0]["n_spikes"] == len(read_results(path, 0).spike_times)
    assert len(before) > 0


# ============================================================================ validate_store
def _damage(tmp_path: Path, edit) -> list[Finding]:
    path = _copy_golden(tmp_path)
    with h5py.File(path, "r+") as f:
        edit(f)
    return validate_store(path)


def _replace(f: h5py.File, key: str, data, **kw) -> None:
    del f[key]
    f.create_dataset(key, data=data, **kw)


def _replace_json(f: h5py.File, key: str, change) -> None:
    doc = json.loads(f[key][()].decode())
    _replace(f, key, json.dumps(change(doc)), dtype=h5py.string_dtype())


def _has(findings: list[Finding], level: str, path: str, text: str) -> bool:
    return any(x.level == level and x.path == path and text in x.message for x in findings)


def col(f: h5py.File, table: str, column: str) -> str:
    return "/" + _column_key(f, f"network/{table}", column)


DAMAGE = {
    "missing column dataset": (
        lambda f: f.__delitem__(col(f, "connections", "weight")),
        lambda f: ("error", col(f, "connections", "weight"), "missing")),
    "bad columns JSON": (
        lambda f: f["network/cells"].attrs.__setitem__("columns", "[{not json"),
        lambda f: ("error", "/network/cells", "attribute 'columns' missing or invalid")),
    "short column": (
        lambda f: _replace(f, col(f, "cells", "x"), np.zeros(3)),
        lambda f: ("error", col(f, "cells", "x"), "has 3 rows, expected 12")),
    "ragged offsets": (
        lambda f: _replace(f, col(f, "cells", "spkTimes") + "/offsets",
                           np.r_[0, np.full(12, 99)]),
        lambda f: ("error", col(f, "cells", "spkTimes") + "/offsets", "ends at 99")),
    "ragged offsets decrease": (
        lambda f: _replace(f, col(f, "cells", "spkTimes") + "/offsets",
                           np.r_[0, 3, 1, np.full(10, 5)]),
        lambda f: ("error", col(f, "cells", "spkTimes") + "/offsets", "decreases")),
    "codes out of range": (
        lambda f: _replace(f, col(f, "connections", "syn_mech") + "/codes",
                           np.full(27, 7, dtype=np.int32)),
        lambda f: ("error", col(f, "connections", "syn_mech"), "codes outside [-1, 2)")),
    "duplicate categories": (
        lambda f: _replace(f, col(f, "cells", "pop") + "/categories",
                           np.array(["E", "E", "stim"], dtype=object),
                           dtype=h5py.string_dtype()),
        lambda f: ("error", col(f, "cells", "pop"), "categories are not unique")),
    "gids unsorted": (
        lambda f: _replace(f, col(f, "cells", "gid"), np.arange(12)[::-1]),
        lambda f: ("error", col(f, "cells", "gid"), "not sorted by gid")),
    "gids duplicated": (
        lambda f: _replace(f, col(f, "cells", "gid"), np.r_[0, np.arange(11)]),
        lambda f: ("error", col(f, "cells", "gid"), "duplicate gid(s): 0")),
    "declared dtype": (
        lambda f: _replace(f, col(f, "cells", "x"), np.zeros(12, dtype=np.int32)),
        lambda f: ("error", col(f, "cells", "x"), "declared column 'x' must be float64")),
    "post_offsets length": (
        lambda f: _replace(f, "network/connections/post_offsets", np.zeros(5, dtype=np.int64)),
        lambda f: ("error", "/network/connections/post_offsets", "has 5 entries, expected 13")),
    "post_offsets start": (
        lambda f: _replace(f, "network/connections/post_offsets",
                           np.r_[1, f["network/connections/post_offsets"][1:]]),
        lambda f: ("error", "/network/connections/post_offsets", "starts at 1")),
    "post_offsets end": (
        lambda f: _replace(f, "network/stim_targets/post_offsets", np.zeros(13, dtype=np.int64)),
        lambda f: ("error", "/network/stim_targets/post_offsets", "ends at 0, expected 7")),
    "post_offsets non-monotone": (
        lambda f: _replace(f, "network/connections/post_offsets",
                           np.r_[0, 20, 5, np.full(10, 27)]),
        lambda f: ("error", "/network/connections/post_offsets", "decreases")),
    "pre_gid not a cell": (
        lambda f: _replace(f, col(f, "connections", "pre_gid"), np.full(27, 999)),
        lambda f: ("error", col(f, "connections", "pre_gid"), "pre_gid value(s) not in the "
                   "cells table: 999")),
    "pointer pre_gid not a cell": (
        lambda f: _replace(f, col(f, "pointer_conns", "pre_gid"), np.full(4, -3)),
        lambda f: ("error", col(f, "pointer_conns", "pre_gid"), "not in the cells table")),
    "syn mech undefined": (
        lambda f: _replace_json(f, "model/syn_mechs",
                                lambda d: {k: v for k, v in d.items() if k != "AMPA"}),
        lambda f: ("error", col(f, "connections", "syn_mech"),
                   "'AMPA' not in /model/syn_mechs")),
    "cell type undefined": (
        lambda f: _replace_json(f, "model/cell_types",
                                lambda d: {k: v for k, v in d.items() if k != "PYR"}),
        lambda f: ("error", col(f, "cells", "cell_type"), "'PYR' not in /model/cell_types")),
    "population undefined": (
        lambda f: _replace_json(f, "model/populations",
                                lambda d: {k: v for k, v in d.items() if k != "E"}),
        lambda f: ("error", col(f, "cells", "pop"), "'E' not in /model/populations")),
    "stim source undefined": (
        lambda f: _replace_json(f, "model/stim_sources", lambda d: {}),
        lambda f: ("error", col(f, "stim_targets", "source"), "not in /model/stim_sources")),
    "population of unknown cell type": (
        lambda f: _replace_json(f, "model/populations",
                                lambda d: {**d, "E": {**d["E"], "cell_type": "ghost"}}),
        lambda f: ("error", "/model/populations", "cell type 'ghost', which is not defined")),
    "model JSON broken": (
        lambda f: _replace(f, "model/params", "{oops", dtype=h5py.string_dtype()),
        lambda f: ("error", "/model/params", "not a JSON document")),
    "cell type does not parse": (
        lambda f: _replace_json(f, "model/cell_types",
                                lambda d: {**d, "PYR": {**d["PYR"], "colour": "red"}}),
        lambda f: ("error", "/model/cell_types", "entry 'PYR' does not parse")),
    "cell type kind unknown": (
        lambda f: _replace_json(f, "model/cell_types",
                                lambda d: {**d, "PYR": {**d["PYR"], "kind": "martian"}}),
        lambda f: ("error", "/model/cell_types", "unknown cell type kind")),
    "mod file without name": (
        lambda f: f["model/mod_files/m0"].attrs.__delitem__("name"),
        lambda f: ("error", "/model/mod_files/m0", "'name' attribute")),
    "spike arrays differ": (
        lambda f: _replace(f, "results/baseline/spikes/gid", np.zeros(3, dtype=np.int64)),
        lambda f: ("error", "/results/baseline/spikes", "12 spike times but 3 spike gids")),
    "spikes unsorted": (
        lambda f: _replace(f, "results/baseline/spikes/time",
                           f["results/baseline/spikes/time"][()][::-1]),
        lambda f: ("error", "/results/baseline/spikes/time", "not sorted")),
    "spiking gid not a cell": (
        lambda f: _replace(f, "results/baseline/spikes/gid", np.full(12, 12345)),
        lambda f: ("warning", "/results/baseline/spikes/gid", "not in the cells table: 12345")),
    "trace data shape": (
        lambda f: _replace(f, "results/strong_drive/traces/data", np.zeros((4, 3))),
        lambda f: ("error", "/results/strong_drive/traces/data", "expected (index rows, times)")),
    "trace time missing": (
        lambda f: f.__delitem__("results/baseline/traces/time"),
        lambda f: ("error", "/results/baseline/traces/time", "missing")),
    "lfp times": (
        lambda f: _replace(f, "results/baseline/lfp/lfp_time", np.zeros(3)),
        lambda f: ("error", "/results/baseline/lfp/lfp_time", "3 times for 21 LFP samples")),
    "electrodes": (
        lambda f: _replace(f, "results/baseline/lfp/electrodes", np.zeros((5, 3))),
        lambda f: ("error", "/results/baseline/lfp/electrodes", "expected (2, 3)")),
    "run doc broken": (
        lambda f: _replace(f, "results/baseline/seeds", "[1,", dtype=h5py.string_dtype()),
        lambda f: ("error", "/results/baseline/seeds", "not a JSON document")),
    "results of another network": (
        lambda f: f["results/baseline"].attrs.__setitem__("network_hash", "0" * 64),
        lambda f: ("warning", "/results/baseline",
                   "results were produced from a different network")),
    "edited after writing": (
        lambda f: _replace(f, col(f, "connections", "weight"), np.zeros(27)),
        lambda f: ("warning", "/network", "differs from the stored network's hash")),
    "stray member": (
        lambda f: f["network/cells"].create_dataset("zz", data=[1]),
        lambda f: ("warning", "/network/cells/zz", "not described by the 'columns' attribute")),
    "target column stored": (
        lambda f: _stored_target(f),
        lambda f: ("warning", "/network/stim_targets/c"
                   f"{len(json.loads(f['network/stim_targets'].attrs['columns']))}",
                   "implied by post_offsets")),
    "no creator": (
        lambda f: f.attrs.__delitem__("creator"),
        lambda f: ("warning", "/", "root attribute 'creator' is missing")),
}


def _stored_target(f: h5py.File) -> None:
    g = f["network/stim_targets"]
    meta = json.loads(g.attrs["columns"])
    g.create_dataset(f"c{len(meta)}", data=np.zeros(7, dtype=np.int64))
    g.attrs["columns"] = json.dumps(meta + [{"name": "gid", "kind": "array", "dtype": "<i8"}])


@pytest.mark.parametrize("damage", DAMAGE)
def test_validate_finds_damage(tmp_path, damage):
    edit, expect = DAMAGE[damage]
    path = _copy_golden(tmp_path)
    with h5py.File(path) as f:
        level, where, text = expect(f)
    with h5py.File(path, "r+") as f:
        edit(f)
    findings = validate_store(path)
    assert _has(findings, level, where, text), "\n".join(map(str, findings))
    if level == "warning":
        assert not [x for x in findings if x.level == "error"], "\n".join(map(str, findings))
    assert all(isinstance(x, Finding) for x in findings)


def test_finding_str():
    f = Finding("error", "/network/connections/c3", "missing")
    assert str(f) == "ERROR /network/connections/c3: missing"
    assert str(Finding("warning", "/", "x")) == "WARNING /: x"
    with pytest.raises(AttributeError):
        f.level = "warning"  # frozen


def test_validate_never_raises_on_odd_structures(tmp_path):
    def edit(f):
        del f["network/connections"]
        f["network"].create_dataset("connections", data=[1, 2])
        del f["results/baseline/traces"]
        f["results/baseline"].create_dataset("traces", data=0)
        f["model"].attrs["x"] = 1
        f["network/cells"].attrs["n_rows"] = -4
        del f["model/spec"]
    findings = _damage(tmp_path, edit)
    assert _has(findings, "error", "/network/connections", "must be a group")
    assert _has(findings, "error", "/results/baseline/traces", "must be a group")
    assert _has(findings, "error", "/network/cells", "n_rows")
    assert _has(findings, "error", "/model/spec", "missing")


def test_validate_fresh_stores(tmp_path):
    assert validate_store(write_network(Network(), tmp_path / "empty.h5")) == []
    net = medium_network()
    path = write_network(net, tmp_path / "m.h5")
    r = Results(spike_times=[1.0], spike_gids=[int(net.gids[0])],
                traces=Traces(Table({"label": ["V"], "gid": [int(net.gids[0])]}), [0.0, 1.0],
                              [[1.0, 2.0]]), network_hash=net.content_hash())
    append_run(path, r)
    assert validate_store(path) == []
    append_run(path, Results(network_hash="abc"))
    findings = validate_store(path)
    assert len(findings) == 1
    assert findings[0].message.startswith("results were produced from a different network")


# ============================================================================ content hash
def test_content_hash_is_recorded_lazily(tmp_path):
    """write_network leaves the hash for later (it costs as much as the write); network_hash
    computes it from the stored tables, records it once, and agrees with the in-memory one."""
    net = medium_network(seed=3)
    path = write_network(net, tmp_path / "lazy.h5")
    with h5py.File(path) as f:
        assert "content_hash" not in f["network"].attrs
    assert validate_store(path) == []
    digest = store.network_hash(path)
    assert digest == net.content_hash()
    with h5py.File(path) as f:
        assert f["network"].attrs["content_hash"] == digest
    assert validate_store(path) == []


def test_content_hash_at_write_and_read_only_store(tmp_path):
    net = medium_network(seed=4)
    eager = write_network(net, tmp_path / "eager.h5", content_hash=True)
    with h5py.File(eager) as f:
        assert f["network"].attrs["content_hash"] == net.content_hash()
    lazy = write_network(net, tmp_path / "ro.h5")
    assert store.network_hash(lazy, record=False) == net.content_hash()
    with h5py.File(lazy) as f:
        assert "content_hash" not in f["network"].attrs
    with h5py.File(lazy, "r") as held:  # open elsewhere: computed, not recorded, no error
        assert held["network"].attrs.get("content_hash") is None
        assert store.network_hash(lazy) == net.content_hash()


def test_appended_run_records_the_hash(tmp_path):
    net = medium_network(seed=5)
    path = write_network(net, tmp_path / "run.h5")
    digest = store.network_hash(path)
    res = Results(spike_times=[1.0], spike_gids=[int(net.gids[0])], network_hash=digest)
    store.append_run(path, res)
    assert read_results(path).network_hash == net.content_hash()
    assert validate_store(path) == []


@pytest.mark.parametrize("bad_post", [-1, 5, 10**6])  # below, between and above the cells' gids
def test_write_refuses_connections_to_unknown_cells(tmp_path, bad_post):
    net = medium_network(seed=6)
    conns = net.connections.take(np.arange(3))
    gids = np.sort(net.gids)
    between = int(np.setdiff1d(np.arange(gids[0], gids[-1]), gids)[0]) if bad_post == 5 else None
    post = np.asarray(conns["post_gid"]).copy()
    post[1] = between if between is not None else bad_post
    conns["post_gid"] = post
    with pytest.raises(StoreError, match="not in the cells table"):
        write_network(net.replace(connections=conns), tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()


def test_read_cell_index_agrees_with_the_tables(medium):
    net, path = medium
    idx = store.read_cell_index(path)
    canon = net.canonical()
    assert np.array_equal(idx["gids"], canon.gids)
    types = np.array(idx["cell_type_names"] + [None], dtype=object)[idx["cell_type_codes"]]
    assert types.tolist() == list(canon.cells["cell_type"].values())
    for tname, key, col in (("connections", "n_incoming", "post_gid"),
                            ("stim_targets", "n_stims", "gid")):
        targets = np.asarray(getattr(canon, tname)[col])
        expected = np.array([np.count_nonzero(targets == g) for g in canon.gids])
        assert np.array_equal(idx[key], expected), tname
