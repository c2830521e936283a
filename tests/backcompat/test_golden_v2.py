"""The golden store of schema version 2 stays readable, value for value.

``fixtures/store/golden_v2.h5`` was written once by ``fixtures/store/make_golden_v2.py``; the
values in ``golden_v2.expected.json`` come from the in-memory network before it was written.
If this test fails after a change to the store code, the change broke stores users have: fix
the reader, never the fixture.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from nethub.store import list_runs, read_header, read_network, read_results
from nethub.table import Categorical, Ragged
from nethub.validate import validate_store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "store"
GOLDEN = FIXTURES / "golden_v2.h5"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((FIXTURES / "golden_v2.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def net():
    return read_network(GOLDEN)


def _same(actual: list, wanted: list) -> bool:
    if len(actual) != len(wanted):
        return False
    for a, w in zip(actual, wanted):
        if isinstance(w, list):
            if not _same(a, w):
                return False
            continue
        if isinstance(w, str) and w in ("nan", "inf", "-inf"):
            w = float(w)
        if isinstance(w, float) and math.isnan(w):
            if not (isinstance(a, float) and math.isnan(a)):
                return False
        elif a != w:
            return False
    return True


def _values(col) -> list:
    if isinstance(col, Categorical):
        return col.values().tolist()
    return col.tolist()


def _kind(col) -> str:
    if isinstance(col, Categorical):
        return "category"
    return "ragged" if isinstance(col, Ragged) else col.dtype.name


def test_header_and_plain_hdf5(expected):
    header = read_header(GOLDEN)
    assert header["schema_version"] == expected["header"]["schema_version"] == 2
    with h5py.File(GOLDEN) as f:
        def check(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert obj.compression in (None, "gzip"), name
        f.visititems(check)
        assert f["model/files/f0"].dtype == np.uint8
        assert f["model/files/f0"].attrs["role"] == "morphology"


@pytest.mark.parametrize("table", ["cells", "connections", "pointer_conns", "stim_targets"])
def test_tables(net, expected, table):
    want = expected["tables"][table]
    got = getattr(net, table)
    assert len(got) == want["n_rows"]
    assert {k: _kind(v) for k, v in got.columns.items()} == want["columns"]
    assert list(got.columns) == list(want["columns"])
    for name, values in want["values"].items():
        assert _same(_values(got[name]), values), f"{table}.{name}"


def test_v2_columns(net):
    assert {"rot_x", "rot_y", "rot_z", "sonata.node_type_id"} <= set(net.cells.columns)
    assert "rotation_y" not in net.cells
    assert {"param.tau2", "param.e", "nml.segment_id", "netpyne.label"} <= set(
        net.connections.columns)
    mech = net.connections["syn_mech"]
    post = np.asarray(net.connections["post_gid"])
    assert post[mech.codes < 0].tolist() == [10]  # onto the IntFire1 cell, no synMech


def test_model(net, expected):
    assert {k: v.to_dict() for k, v in net.cell_types.items()} == expected["cell_types"]
    assert {k: v.to_dict() for k, v in net.syn_mechs.items()} == expected["syn_mechs"]
    assert {k: v.to_dict() for k, v in net.populations.items()} == expected["populations"]
    assert {k: v.to_dict() for k, v in net.stim_sources.items()} == expected["stim_sources"]
    assert net.populations["M"].cell_type is None  # mixed: PYR and BAS
    assert set(net.cells["cell_type"].take(np.asarray(net.cells["pop"].codes) == 0)
               .values()) == {"PYR", "BAS"}
    assert net.syn_mechs["AMPA"].provenance["source"] == "sonata"
    assert net.stim_sources["bkg"].tags == {"sonata.input_type": "spikes"}
    assert net.mod_files == expected["mod_files"]


def test_files(net, expected):
    got = [{**f.meta(), "size": f.size, "data_hex": f.data.hex()} for f in net.files.values()]
    assert got == expected["files"]
    assert [f.name for f in net.files_with_role("morphology")] == ["morphologies/pyr.swc"]
    assert [f.name for f in net.files_with_role("mod")] == ["expsyn2.mod"]


def test_summary_hash_and_runs(net, expected):
    assert net.summary() == expected["summary"]
    for pop, gids in expected["pop_gids"].items():
        assert net.pop_gids(pop).tolist() == gids
    assert net.content_hash() == expected["content_hash"]
    runs = list_runs(GOLDEN)
    assert [r["name"] for r in runs] == [r["name"] for r in expected["runs"]]
    r = read_results(GOLDEN, 0)
    assert r.spike_times.tolist() == expected["runs"][0]["spike_times"]
    assert r.network_hash == expected["content_hash"]


def test_partial_read(net):
    part = read_network(GOLDEN, gids=[1, 10])
    assert part.gids.tolist() == [1, 10]
    np.testing.assert_array_equal(part.cells["rot_y"], [0.0, np.nan])
    rows = np.isin(net.connections["post_gid"], [1, 10])
    assert part.connections.equals(net.connections.take(rows))
    assert len(part.files) == len(net.files)


def test_validates_clean():
    assert validate_store(GOLDEN) == []
