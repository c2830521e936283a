"""The golden store of schema version 1 stays readable, value for value.

``fixtures/store/golden_v1.h5`` was written once by ``fixtures/store/make_golden.py``; the values
in ``golden_v1.expected.json`` come from the in-memory network before it was written. If this
test fails after a change to the store code, the change broke old stores: fix the reader, never
the fixture.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from nethub.store import list_runs, read_header, read_network, read_results
from nethub.table import Categorical, Ragged
from nethub.validate import validate_store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "store"
GOLDEN = FIXTURES / "golden_v1.h5"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURES / "golden_v1.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def net():
    return read_network(GOLDEN)


def _num(v):
    return float(v) if isinstance(v, str) and v in ("nan", "inf", "-inf") else v


def _same(actual: list, wanted: list) -> bool:
    if len(actual) != len(wanted):
        return False
    for a, w in zip(actual, wanted):
        if isinstance(w, list):
            if not _same(a, w):
                return False
            continue
        w = _num(w)
        if isinstance(w, float) and math.isnan(w):
            if not (isinstance(a, float) and math.isnan(a)):
                return False
        elif a != w:
            return False
    return True


def _values(col) -> list:
    if isinstance(col, Categorical):
        return col.values().tolist()
    if isinstance(col, Ragged):
        return col.tolist()
    return col.tolist()


def _kind(col) -> str:
    if isinstance(col, Categorical):
        return "category"
    return "ragged" if isinstance(col, Ragged) else col.dtype.name


def test_small_and_plain_hdf5():
    assert GOLDEN.stat().st_size < 200_000
    with h5py.File(GOLDEN) as f:  # gzip only: readable without hdf5plugin filters
        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert obj.compression in (None, "gzip"), name
        f.visititems(check)


def test_header(expected):
    header = read_header(GOLDEN)
    assert header["format"] == expected["header"]["format"]
    assert header["schema_version"] == expected["header"]["schema_version"] == 1
    assert header["creator"].startswith("nethub ")


@pytest.mark.parametrize("table", ["cells", "connections", "pointer_conns", "stim_targets"])
def test_tables(net, expected, table):
    want = expected["tables"][table]
    got = getattr(net, table)
    assert len(got) == want["n_rows"]
    assert {k: _kind(v) for k, v in got.columns.items()} == want["columns"]
    assert list(got.columns) == list(want["columns"])
    for name, values in want["values"].items():
        assert _same(_values(got[name]), values), f"{table}.{name}"


def test_model(net, expected):
    assert {k: v.to_dict() for k, v in net.cell_types.items()} == expected["cell_types"]
    assert {k: v.to_dict() for k, v in net.syn_mechs.items()} == expected["syn_mechs"]
    assert {k: v.to_dict() for k, v in net.populations.items()} == expected["populations"]
    assert {k: v.to_dict() for k, v in net.stim_sources.items()} == expected["stim_sources"]
    assert net.spec == expected["spec"]
    assert net.rxd == expected["rxd"]
    assert net.mod_files == expected["mod_files"]
    assert {k: _num(v) for k, v in net.params.items()} == {
        k: _num(v) for k, v in expected["params"].items()}
    pyr = net.cell_types["PYR"]
    assert pyr.sections["dend"].pt3d.shape == (3, 4)
    assert pyr.sections["dend"].mechs["pas"]["g"] == [0.0001, 0.0002, 0.0003]
    assert "dendrít" in net.cell_types["Körbchen"].sections
    assert net.cell_types["VecStimCell"].kind == "point"


def test_summary_and_hash(net, expected):
    assert net.summary() == expected["summary"]
    for pop, gids in expected["pop_gids"].items():
        assert net.pop_gids(pop).tolist() == gids
    # A changed hash means every recorded run of an old store looks stale: keep it stable.
    assert net.content_hash() == expected["content_hash"]
    with h5py.File(GOLDEN) as f:
        assert f["network"].attrs["content_hash"] == expected["content_hash"]


def test_partial_read(net):
    gids = [1, 11, 21]
    part = read_network(GOLDEN, gids=gids)
    assert part.gids.tolist() == gids
    rows = np.isin(net.connections["post_gid"], gids)
    assert part.connections.equals(net.connections.take(rows))
    assert part.stim_targets.equals(net.stim_targets.take(np.isin(net.stim_targets["gid"], gids)))


def test_runs(expected):
    runs = list_runs(GOLDEN)
    assert [r["name"] for r in runs] == [r["name"] for r in expected["runs"]]
    for i, want in enumerate(expected["runs"]):
        r = read_results(GOLDEN, i)
        assert r.name == want["name"]
        assert r.spike_times.tolist() == want["spike_times"]
        assert r.spike_gids.tolist() == want["spike_gids"]
        assert {k: _values(v) for k, v in r.traces.index.columns.items()} == {
            k: [_num(x) for x in v] for k, v in want["trace_index"].items()}
        assert r.traces.time.tolist() == want["trace_time"]
        assert list(r.traces.data.shape) == want["trace_data_shape"]
        assert r.traces.data[0].tolist() == want["trace_data_first_row"]
        assert float(r.traces.data.sum()) == pytest.approx(want["trace_data_sum"], rel=1e-12)
        assert r.lfp.tolist() == want["lfp"]
        assert r.lfp_time.tolist() == want["lfp_time"]
        assert r.electrodes.tolist() == want["electrodes"]
        for key in ("sim_config", "seeds", "versions", "timing", "meta", "nranks",
                    "network_hash"):
            assert getattr(r, key) == want[key], key
        assert r.network_hash == expected["content_hash"]


def test_validates_clean():
    findings = validate_store(GOLDEN)
    assert [f for f in findings if f.level == "error"] == []
    assert findings == []


def test_readable_from_a_copy(tmp_path):
    copy = tmp_path / "golden.h5"
    shutil.copyfile(GOLDEN, copy)
    assert read_network(copy).equals(read_network(GOLDEN))
