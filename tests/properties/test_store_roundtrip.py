"""Property: any network and any results round-trip through the canonical store exactly.

``read_network(write_network(net)).equals(net.canonical())`` for random networks with every column
kind (numeric dtypes, categoricals with missing values and unused categories, ragged float and int
columns), empty tables, zero cells, unicode names everywhere and NaN/inf values; partial reads
equal the same subset computed in memory; runs round-trip through ``append_run``/``read_results``.
The strategies live in :mod:`nethub.testing.strategies` (plugin authors use them too).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nethub.network import Network
from nethub.store import append_run, list_runs, read_network, read_results, write_network
from nethub.table import Table
from nethub.testing import assert_network_equal, assert_results_equal
from nethub.testing.strategies import RUN_NAMES, networks, results
from nethub.validate import check_network, validate_store


def expected_subset(canon: Network, gids: np.ndarray) -> dict[str, Table]:
    """What a partial read of ``gids`` must return, computed in memory."""
    out = {"cells": canon.cells.take(np.flatnonzero(np.isin(canon.gids, gids)))}
    for tname, target in (("connections", "post_gid"), ("pointer_conns", "post_gid"),
                          ("stim_targets", "gid")):
        t = getattr(canon, tname)
        out[tname] = t.take(np.flatnonzero(np.isin(t[target], gids)))
    return out


SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(net=networks(), data=st.data())
def test_network_round_trip(net: Network, data) -> None:
    assert check_network(net, values=False) == []  # any float round-trips, even NaN/inf
    canon = net.canonical()
    with tempfile.TemporaryDirectory() as tmp:
        compression = data.draw(st.sampled_from(["gzip", "none", "blosc-lz4"]))
        path = write_network(net, Path(tmp) / "net.h5", compression=compression)
        back = read_network(path)
        assert_network_equal(back, canon)
        assert back.content_hash() == net.content_hash()
        assert [f for f in validate_store(path, values=False) if f.level == "error"] == []
        if net.n_cells:
            wanted = data.draw(st.lists(st.sampled_from(net.gids.tolist()), min_size=1))
            part = read_network(path, gids=wanted)
            for tname, want in expected_subset(canon, np.array(wanted)).items():
                assert getattr(part, tname).equals(want), tname
            assert part.populations.keys() == net.populations.keys()


@SETTINGS
@given(net=networks(), data=st.data())
def test_results_round_trip(net: Network, data) -> None:
    gids = net.gids.tolist()
    runs = data.draw(st.lists(results(gids), min_size=1, max_size=3))
    names = data.draw(st.lists(RUN_NAMES, min_size=len(runs), max_size=len(runs), unique=True))
    with tempfile.TemporaryDirectory() as tmp:
        path = write_network(net, Path(tmp) / "net.h5", compression="gzip")
        for r, name in zip(runs, names):
            assert append_run(path, r, name=name) == name
        assert [r["name"] for r in list_runs(path)] == names
        for i, (r, name) in enumerate(zip(runs, names)):
            by_name, by_pos = read_results(path, name), read_results(path, i)
            assert_results_equal(by_name, r, ignore=["name"])
            assert_results_equal(by_pos, r, ignore=["name"])
            assert by_name.name == name
        assert_results_equal(read_results(path), runs[-1], ignore=["name"])
        assert_network_equal(read_network(path), net.canonical())
