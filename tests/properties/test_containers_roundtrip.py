"""Property: any network and its runs round-trip exactly through every lossless container.

The random networks and runs are those of :mod:`nethub.testing.strategies` (every column kind and
dtype, categoricals with missing values and unused categories, ragged columns, empty tables,
zero cells, unicode names and values everywhere, NaN/inf), plus strings that CSV must quote
(commas, quotes, line breaks, empty strings next to missing values). Each goes through

- the CSV folder and the CSV zip archive (``nethub.save`` / ``nethub.read``): the same network
  (rows in the same order) and the same runs;
- the canonical store, after the CSV trip: ``store -> csv -> store`` changes nothing
  (``nethub.convert``);
- and every other registered format that says it is lossless and can write a network.

NaN payloads and signs are not kept by text formats (every NaN reads back as the default NaN),
so networks are compared with ``assert_network_equal`` (NaN equals NaN), not by content hash.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from test_store_roundtrip import SETTINGS

import nethub
from nethub.formats import formats
from nethub.network import Network
from nethub.results import Results
from nethub.testing import assert_network_equal, assert_results_equal
from nethub.testing.strategies import RUN_NAMES, awkward_network, networks, results


def _runs(data, net: Network) -> list[Results]:
    runs = data.draw(st.lists(results(net.gids.tolist()), max_size=3))
    names = data.draw(st.lists(RUN_NAMES, min_size=len(runs), max_size=len(runs), unique=True))
    for r, name in zip(runs, names):
        r.name = name
    return runs


def _other_lossless() -> list:
    return [f for f in formats() if f.lossless and f.can_write and f.can_read and f.available
            and f.holds_network and f.name not in ("store", "csv")]


@SETTINGS
@given(net=st.one_of(networks(), awkward_network()), data=st.data())
def test_csv_round_trip(net: Network, data) -> None:
    runs = _runs(data, net)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("net.csv", "net.csv.zip"):
            path = Path(tmp) / name
            assert nethub.save((net, runs), path) == []
            assert nethub.formats.guess_format(path).name == "csv"
            doc = nethub.read(path)
            assert doc.lost == []
            assert_network_equal(doc.network, net)
            assert_results_equal(doc.results, runs)
            assert not nethub.read(path, results=False).results


@SETTINGS
@given(net=networks(), data=st.data())
def test_store_csv_store(net: Network, data) -> None:
    runs = _runs(data, net)
    with tempfile.TemporaryDirectory() as tmp:
        h5, folder, h5b = Path(tmp) / "a.h5", Path(tmp) / "b.csv", Path(tmp) / "c.h5"
        nethub.save((net, runs), h5)
        assert nethub.convert(h5, folder) == []
        assert nethub.convert(folder, h5b) == []
        a, b = nethub.read(h5), nethub.read(h5b)
        assert_network_equal(b.network, a.network)
        assert_network_equal(a.network, net.canonical())
        assert_results_equal(b.results, a.results)


@SETTINGS
@given(net=networks(), data=st.data())
def test_results_only(net: Network, data) -> None:
    runs = data.draw(st.lists(results(net.gids.tolist()), min_size=1, max_size=2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv.zip"
        assert nethub.save((None, runs), path) == []
        doc = nethub.read(path)
        assert doc.network is None
        assert len(doc.results) == len(runs)
        assert_results_equal(doc.results, runs, ignore=["name"])


@SETTINGS
@given(net=networks())
def test_other_lossless_formats(net: Network) -> None:
    """Whatever else the registry declares lossless (e.g. formats added by plugins)."""
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in _other_lossless():
            path = Path(tmp) / f"net{fmt.suffixes[0] if fmt.suffixes else ''}"
            lost = nethub.save(net, path, format=fmt.name)
            back = nethub.read(path, format=fmt.name).network
            assert lost or back.equals(net) or back.equals(net.canonical()), fmt.name
