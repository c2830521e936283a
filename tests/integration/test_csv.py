"""The CSV container on real files: exact values, tidy tables a user can read with pandas,
folders and zip archives, content sniffing, atomic replacement, errors, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_store import medium_network

import nethub
from nethub import cli
from nethub.builder import build
from nethub.errors import FormatError
from nethub.examples import __file__ as _examples_init
from nethub.formats import csv as csvfmt
from nethub.formats import guess_format
from nethub.network import Network
from nethub.results import Results, Traces
from nethub.specs import load_spec
from nethub.table import Categorical, Ragged, Table

EI_NET = Path(_examples_init).parent / "ei_net.py"
SPECIAL = np.array([0.1, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                    np.inf, -np.inf, np.nan, 123456789.12345678, -1e-300, 2.0**53 + 1])


def runs_for(net: Network) -> list[Results]:
    rng = np.random.default_rng(5)
    gids = net.gids[:3]
    index = Table({"label": ["V_soma", "V_soma", "i"], "gid": gids,
                   "sec": Categorical.from_values(["soma", None, "dend"]),
                   "loc": np.array([0.5, np.nan, 0.25]), "var": ["v", "v", "AMPA.i"]})
    t = np.arange(0, 10, 0.025)
    full = Results(spike_times=rng.uniform(0, 1000, 500), spike_gids=rng.choice(net.gids, 500),
                   traces=Traces(index, t, rng.normal(-65, 5, (3, len(t)))),
                   lfp=rng.normal(0, 1, (len(t), 2)), lfp_time=t,
                   electrodes=np.array([[0.0, 1.5, 2.0], [3.0, 4.0, 5.0]]),
                   sim_config={"duration": 1000.0, "dt": 0.025, "label": "ü,\"x\""},
                   seeds={"conn": 1}, versions={"nethub": "0.1"}, timing={"run": 1.5},
                   network_hash="ab" * 32, nranks=2, meta={"note": None}, name="base line")
    empty = Results(name="no spikes", traces=Traces(index.take(np.arange(2)), np.zeros(0),
                                                    np.zeros((2, 0))))
    times_only = Results(name="times only", traces=Traces(Table(schema=index.schema),
                                                          np.array([0.0, 0.5]), np.zeros((0, 2))))
    return [full, empty, times_only]


@pytest.fixture(scope="module")
def medium():
    return medium_network()


@pytest.mark.parametrize("name", ["net.csv", "net.zip", "plain_folder"])
def test_round_trip_medium_with_runs(tmp_path, medium, name):
    runs = runs_for(medium)
    path = tmp_path / name
    assert nethub.save((medium, runs), path, format="csv") == []
    doc = nethub.read(path)
    assert doc.network.equals(medium)  # rows in memory order, not sorted
    assert [r.name for r in doc.results] == [r.name for r in runs]
    assert all(a.equals(b) for a, b in zip(doc.results, runs))
    assert guess_format(path).name == "csv"  # by content, even without a suffix
    assert nethub.load_results(path, "no spikes").equals(runs[1])


def test_tables_are_tidy_for_pandas(tmp_path, medium):
    runs = runs_for(medium)
    path = tmp_path / "net.csv"
    nethub.save((medium, runs), path)
    assert sorted(os.listdir(path)) == ["cells.csv", "connections.csv", "lfp.csv", "model.json",
                                        "pointer_conns.csv", "spikes.csv", "stim_targets.csv",
                                        "traces.csv"]
    cells = pd.read_csv(path / "cells.csv")
    assert list(cells.columns) == list(medium.cells.columns)
    assert cells["gid"].tolist() == medium.gids.tolist()
    assert json.loads(cells["spk"][0]) == medium.cells["spk"].row(0).tolist()
    # floats are written with repr(): exact with pandas' round-trip parser (pandas 2's default
    # "high" parser may differ in the last bit; pandas 3's default is exact)
    conns = pd.read_csv(path / "connections.csv", float_precision="round_trip")
    assert np.array_equal(conns["weight"].to_numpy(), medium.connections["weight"])
    spikes = pd.read_csv(path / "spikes.csv")
    assert list(spikes.columns) == ["run", "time", "gid"] and len(spikes) == 500
    traces = pd.read_csv(path / "traces.csv")
    assert list(traces.columns) == ["run", "trace", "label", "gid", "sec", "loc", "var", "time",
                                    "value"]
    assert len(traces) == 3 * 400 + 2  # the run without samples keeps one row per trace
    head = json.loads((path / "model.json").read_text())
    assert head["format"] == "nethub-csv" and head["version"] == 1
    assert head["tables"]["connections"]["columns"][0] == {"name": "pre_gid", "kind": "array",
                                                          "dtype": "int64"}


def test_exact_values_dtypes_and_strings(tmp_path):
    n = len(SPECIAL)
    awkward = ["", ",", '"q"', "a\nb", "\r\n", " x ", "NA", "nan", "None", "1", "1.0", "TRUE",
               "<NA>"]
    cells = {"gid": np.arange(n) * 7 - 30, "pop": ["P"] * n, "cell_type": ["T"] * n,
             "x": SPECIAL, "f32": SPECIAL.clip(-3e38, 3e38).astype(np.float32),
             "i32": np.arange(n, dtype=np.int32),
             "u8": np.arange(n, dtype=np.uint8), "b": np.arange(n) % 2 == 0,
             "big": np.full(n, 2**63 - 1, dtype=np.int64),
             "s": Categorical(np.arange(n) % (len(awkward) + 1) - 1, awkward),
             "rag": Ragged.from_lists([SPECIAL[: i % 4].tolist() for i in range(n)]),
             "ragi": Ragged.from_lists([[i] * (i % 3) for i in range(n)], dtype=np.int32),
             "ünï, \"cöl\"\n": ["é" * (i % 3) for i in range(n)]}
    from nethub.celltypes import PointCell, Population

    net = Network(cell_types={"T": PointCell("T", "IntFire1", {"tau": float("nan")})},
                  populations={"P": Population("P", "T", n)}, cells=cells,
                  params={"π": [1.5, None, True, float("inf")]})
    for name in ("a.csv", "a.zip"):
        assert nethub.save(net, tmp_path / name) == []
        back = nethub.load(tmp_path / name)
        assert back.equals(net), name
        for col in ("x", "f32", "i32", "u8", "b", "big"):
            assert back.cells[col].dtype == net.cells[col].dtype
        x = back.cells["x"]
        finite = np.isfinite(SPECIAL)
        assert np.array_equal(x[finite].view(np.int64), SPECIAL[finite].view(np.int64))  # -0.0
        assert back.cells["ragi"].values.dtype == np.int32


def test_zero_cells_and_empty_tables(tmp_path):
    for net in (Network(), Network(cells={"gid": np.zeros(0, dtype=np.int64)})):
        for name in ("e.csv", "e.zip"):
            nethub.save(net, tmp_path / name)
            doc = nethub.read(tmp_path / name)
            assert doc.network.equals(net) and doc.results == []


def test_built_network_keeps_spec_and_hash(tmp_path):
    net = build(*load_spec(EI_NET))
    nethub.save(net, tmp_path / "ei.csv.zip")
    back = nethub.load(tmp_path / "ei.csv.zip")
    assert back.equals(net)
    assert back.spec == net.spec
    assert back.content_hash() == net.content_hash()


# ----------------------------------------------------------------------------- atomicity
def test_replaces_own_folder_but_not_a_foreign_one(tmp_path, medium):
    small = Network(cells={"gid": np.arange(3)})
    path = tmp_path / "out.csv"
    nethub.save(medium, path)
    nethub.save(small, path)  # replaces a CSV container
    assert nethub.load(path).equals(small)
    foreign = tmp_path / "mine.csv"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    with pytest.raises(FormatError, match="not a nethub CSV folder"):
        nethub.save(small, foreign)
    assert os.listdir(foreign) == ["notes.txt"]
    plain = tmp_path / "table.csv"
    plain.write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match="not replacing"):
        nethub.save(small, plain)
    assert plain.read_text() == "a,b\n1,2\n"
    empty = tmp_path / "empty.csv"
    empty.mkdir()
    nethub.save(small, empty)  # an empty folder may be filled
    assert nethub.load(empty).equals(small)


@pytest.mark.parametrize("name", ["old.csv", "old.zip"])
def test_failed_write_leaves_old_container(tmp_path, monkeypatch, medium, name):
    small = Network(cells={"gid": np.arange(3)})
    path = tmp_path / name
    nethub.save(small, path)
    before = sorted(os.listdir(tmp_path))
    real = csvfmt.write_table
    calls = []

    def failing(fh, columns, n):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(fh, columns, n)

    monkeypatch.setattr(csvfmt, "write_table", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        nethub.save(medium, path)
    assert sorted(os.listdir(tmp_path)) == before  # no temporary left behind
    assert nethub.load(path).equals(small)


# ----------------------------------------------------------------------------- errors
def test_foreign_files_are_not_sniffed(tmp_path):
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    assert not csvfmt.CsvFormat().sniff(z)
    with pytest.raises(FormatError, match="model.json"):
        nethub.read(z, format="csv")
    folder = tmp_path / "x.csv"
    folder.mkdir()
    (folder / "model.json").write_text('{"format": "something-else"}')
    assert not csvfmt.CsvFormat().sniff(folder)
    with pytest.raises(FormatError, match="not a nethub CSV description"):
        nethub.read(folder, format="csv")


def test_damaged_table_names_the_file(tmp_path):
    net = Network(cells={"gid": np.arange(4)})
    path = tmp_path / "d.csv"
    nethub.save(net, path)
    text = (path / "cells.csv").read_text().splitlines()
    (path / "cells.csv").write_text("\n".join(text[:-1]) + "\n")
    with pytest.raises(FormatError, match="cells.csv"):
        nethub.load(path)
    (path / "cells.csv").write_text("\n".join(text[:-1] + ["x" + text[-1]]) + "\n")
    with pytest.raises(FormatError, match="cells.csv"):
        nethub.load(path)


def test_duplicate_run_names_refused(tmp_path):
    runs = [Results(name="a"), Results(name="a")]
    with pytest.raises(FormatError, match="repeated"):
        nethub.save((None, runs), tmp_path / "r.csv")
    assert not (tmp_path / "r.csv").exists()


# ----------------------------------------------------------------------------- CLI
def test_cli_convert_store_csv_store(tmp_path, capsys, medium):
    h5 = tmp_path / "m.h5"
    nethub.save((medium, runs_for(medium)), h5)
    for args in (["convert", h5, tmp_path / "m.csv"], ["convert", tmp_path / "m.csv", tmp_path /
                 "m.zip"], ["convert", tmp_path / "m.zip", tmp_path / "back.h5"]):
        assert cli.main([str(a) for a in args]) == 0
    capsys.readouterr()
    a, b = nethub.read(h5), nethub.read(tmp_path / "back.h5")
    assert b.network.equals(a.network)
    assert all(x.equals(y) for x, y in zip(a.results, b.results))
    assert cli.main(["info", str(tmp_path / "m.zip"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "csv" and info["n_connections"] == medium.n_connections


def test_cli_as_process(tmp_path):
    net = build(*load_spec(EI_NET))
    nethub.save(net, tmp_path / "ei.h5")
    exe = shutil.which("nethub", path=str(Path(sys.executable).parent)) or "nethub"
    proc = subprocess.run([exe, "convert", str(tmp_path / "ei.h5"), str(tmp_path / "ei.csv")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert nethub.load(tmp_path / "ei.csv").equals(net.canonical())


@pytest.mark.parametrize("name", ["net.csv", "net.csv.zip"])
def test_embedded_files_as_members_with_manifest(tmp_path, name):
    """Embedded files travel as files/<name> members, described in model.json (version 2),
    and come back byte for byte; a container without files stays version 1."""
    from nethub.testing import example_network

    net = example_network()
    path = tmp_path / name
    assert nethub.save(net, path) == []
    if path.is_dir():
        head = json.loads((path / "model.json").read_text())
        assert (path / "files" / "morphologies" / "pyr.swc").read_bytes() == \
            net.files["morphologies/pyr.swc"].data
    else:
        with zipfile.ZipFile(path) as zf:
            head = json.loads(zf.read("model.json"))
            assert zf.read("files/params/ampa.json") == net.files["params/ampa.json"].data
    assert head["version"] == 2
    assert [(e["name"], e["role"], e["file"], e["size"]) for e in head["embedded_files"]] == [
        (f.name, f.role, f"files/{f.name}", f.size) for f in net.files.values()]
    back = nethub.read(path).network
    assert [(f.meta(), f.data) for f in back.files.values()] == [
        (f.meta(), f.data) for f in net.files.values()]
    plain = tmp_path / "plain.csv"
    nethub.save(net.replace(files={}), plain)
    head = json.loads((plain / "model.json").read_text())
    assert head["version"] == 1 and "embedded_files" not in head


def test_embedded_file_sha256_checked(tmp_path):
    from nethub.testing import example_network

    path = tmp_path / "net.csv"
    nethub.save(example_network(), path)
    member = path / "files" / "morphologies" / "pyr.swc"
    member.write_bytes(member.read_bytes() + b"3 1 0 0 0 1 2\n")
    with pytest.raises(FormatError, match=r"net\.csv/files/morphologies/pyr\.swc: embedded "
                       r"file 'morphologies/pyr\.swc' does not match its sha256"):
        nethub.read(path)
    head = json.loads((path / "model.json").read_text())
    head["embedded_files"][0]["file"] = "../outside.swc"
    (path / "model.json").write_text(json.dumps(head))
    with pytest.raises(FormatError, match="not inside the container"):
        nethub.read(path)


def test_embedded_file_names_that_clash_on_disk(tmp_path):
    """'a' and 'a/b' (or names equal but for case) cannot both be files of a folder: each goes
    into a numbered folder of its own, and reads back under its name."""
    from nethub.embedded import EmbeddedFile
    from nethub.testing import example_network

    files = {n: EmbeddedFile(n, "source", n, n.encode()) for n in ("a", "a/b", "A/c", "B")}
    net = example_network().replace(files=files)
    for name in ("clash.csv", "clash.csv.zip"):
        nethub.save(net, tmp_path / name)
        back = nethub.read(tmp_path / name).network
        assert {k: f.data for k, f in back.files.items()} == {n: n.encode() for n in files}
    assert (tmp_path / "clash.csv" / "files" / "1" / "a" / "b").read_bytes() == b"a/b"
