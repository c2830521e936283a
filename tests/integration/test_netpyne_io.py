"""NetPyNE saved output (.json, .pkl, .mat) read and written through the format registry.

The files of ``fixtures/netpyne_output`` were written by NetPyNE 1.1.1 itself (see its
``make_fixtures.py``). Reading one must give the network nethub's builder makes from the same
tutorial (NetPyNE's gids kept), and its run; writing and reading back must keep everything the
NetPyNE layout can hold. What it cannot hold is stated, and each write reports it:

- the network's provenance, the runs but one, a run's metadata (software versions, timing,
  ranks, network hash, run name), the .mod sources (``mod_dir=`` gives them back on reading);
- the spec's simConfig when a run is written (NetPyNE keeps one simConfig: the run's);
- the order of the cell types (the reader lists them as the cells meet them);
- in .mat files: booleans come back as 1/0, names starting with '_' are dropped.

No NEURON and no NetPyNE here: ``tests/faithfulness/test_netpyne_files.py`` simulates.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub import cli
from nethub.builder import build, read_mod_dir
from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, StimSource, SynMech
from nethub.errors import FormatError, UntrustedPickleError
from nethub.formats import formats, get_format, guess_format
from nethub.network import Network
from nethub.specs import load_spec
from nethub.table import column_equal

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "netpyne_output"
TUT = ROOT / "fixtures" / "specs" / "netpyne_tutorials"
TABLES = ("cells", "connections", "pointer_conns", "stim_targets")
TRUST = {"pkl": {"trusted": True}}


def same(a, b) -> bool:
    """Equal as JSON documents, whatever the key order (NetPyNE's JSON sorts keys)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def assert_same_network(a, b, spec: bool = True) -> None:
    """Everything but provenance and the order of the model dicts."""
    a, b = a.canonical(), b.canonical()
    for t in TABLES:
        assert getattr(a, t).equals(getattr(b, t)), t
    for attr in ("cell_types", "syn_mechs", "populations", "stim_sources"):
        da = {k: {**v.to_dict(), "provenance": None} for k, v in getattr(a, attr).items()}
        db = {k: {**v.to_dict(), "provenance": None} for k, v in getattr(b, attr).items()}
        assert same(da, db), attr
    assert a.params == b.params
    if spec:
        assert same(a.spec["netParams"], b.spec["netParams"])


def assert_same_run(a, b) -> None:
    np.testing.assert_array_equal(a.spike_times, b.spike_times)
    np.testing.assert_array_equal(a.spike_gids, b.spike_gids)
    assert a.traces.equals(b.traces)


@pytest.fixture(scope="module")
def tut2():
    return nethub.read(FIX / "tut2_data.json")


@pytest.fixture(scope="module")
def tut2_raw() -> dict:
    return json.loads((FIX / "tut2_data.json").read_text())


def built(rel: str, mods: bool = False):
    mod_files = read_mod_dir(TUT / "HybridTut" / "mod") if mods else None
    return build(*load_spec(TUT / rel), mod_files=mod_files)


# ---------------------------------------------------------------------------------- registry
def test_formats_registered():
    names = {f.name: f for f in formats()}
    assert names["netpyne-json"].suffixes == (".json",)
    assert names["netpyne-pickle"].suffixes == (".pkl", ".pickle")
    assert names["netpyne-mat"].suffixes == (".mat",)
    for name in ("netpyne-json", "netpyne-pickle", "netpyne-mat"):
        fmt = names[name]
        assert fmt.can_read and fmt.can_write and fmt.holds_results and not fmt.lossless


@pytest.mark.parametrize("src, name", [("tut2_data.json", "netpyne-json"),
                                       ("tut2_data.pkl", "netpyne-pickle"),
                                       ("tut3_data.mat", "netpyne-mat")])
def test_sniffed_by_content(tmp_path, src, name):
    path = tmp_path / "no_suffix.dat"
    shutil.copy(FIX / src, path)
    assert guess_format(path).name == name


def test_sniff_tells_output_from_spec(tmp_path, tut2_raw):
    fmt = get_format("netpyne-json")
    params = tut2_raw["net"]["params"]
    for name, data in (("spec.json", {"netParams": params, "simConfig": {}}),
                       ("bare.json", params)):
        (tmp_path / name).write_text(json.dumps(data))
        assert not fmt.sniff(tmp_path / name)
    assert not fmt.sniff(TUT / "HHTut" / "index.npjson")
    saved_params = tmp_path / "netparams.json"  # what NetPyNE's netParams.save() writes
    saved_params.write_text(json.dumps({"net": {"params": params}}))
    assert fmt.sniff(saved_params)
    only_data = tmp_path / "data.json"
    only_data.write_text(json.dumps({"simConfig": {}, "simData": {"spkt": [], "spkid": []}}))
    assert fmt.sniff(only_data)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    assert not fmt.sniff(listing)
    store = ROOT / "fixtures" / "store" / "golden_v1.h5"
    assert not any(get_format(n).sniff(store) for n in ("netpyne-json", "netpyne-pickle",
                                                        "netpyne-mat"))


# ---------------------------------------------------------------------------------- reading
def test_json_is_the_builders_network(tut2, tut2_raw):
    net = tut2.network
    np.testing.assert_array_equal(net.gids, np.arange(40))  # NetPyNE's gids
    assert_same_network(net, built("doc_code/tut2.py"), spec=False)
    assert list(net.spec["netParams"]["popParams"]) == ["S", "M"]  # gid order, not sorted
    assert net.cell_types["PYR"].provenance == {"source": "netpyne cellParams",
                                                "rules": ["PYR"]}
    assert "param.secs.soma.geom.diam" in net.cells  # expressions evaluated per cell
    assert tut2.lost == []


def test_json_run(tut2, tut2_raw):
    sim = tut2_raw["simData"]
    (run,) = tut2.results
    order = np.lexsort((sim["spkid"], sim["spkt"]))
    np.testing.assert_array_equal(run.spike_times, np.asarray(sim["spkt"])[order])
    np.testing.assert_array_equal(run.spike_gids, np.asarray(sim["spkid"])[order])
    np.testing.assert_array_equal(run.traces.time, sim["t"])
    for gid in (0, 1):
        np.testing.assert_array_equal(run.traces.get("V_soma", gid), sim["V_soma"][f"cell_{gid}"])
    assert run.traces.index["var"].values().tolist() == ["v", "v"]
    assert run.sim_config["duration"] == 200 and run.meta["avgRate"] == sim["avgRate"]
    assert run.network_hash == tut2.network.content_hash()


def test_cell_types_from_rules_without_saved_secs(tmp_path, tut2, tut2_raw):
    data = json.loads(json.dumps(tut2_raw))
    for cell in data["net"]["cells"]:
        del cell["secs"]  # as written with cfg.saveCellSecs = False
    path = tmp_path / "nosecs.json"
    path.write_text(json.dumps(data))
    assert_same_network(nethub.load(path), tut2.network)


def test_cell_types_from_saved_secs_without_rules(tmp_path, tut2, tut2_raw):
    data = json.loads(json.dumps(tut2_raw))
    del data["net"]["params"]["cellParams"]
    path = tmp_path / "norules.json"
    path.write_text(json.dumps(data))
    net = nethub.load(path)
    assert net.cell_types["PYR"].provenance == {"source": "netpyne saved cell secs"}
    for t in TABLES:
        assert getattr(net, t).equals(getattr(tut2.network, t)), t


def test_pickle_needs_trust():
    with pytest.raises(UntrustedPickleError, match="trusted=True.*--trust ") as err:
        nethub.load(FIX / "tut2_data.pkl")
    assert isinstance(err.value, PermissionError)


def test_pickle_is_the_json_run(tut2):
    doc = nethub.read(FIX / "tut2_data.pkl", trusted=True)
    assert_same_network(doc.network, tut2.network)
    assert_same_run(doc.results[0], tut2.results[0])


def test_trusted_pickle_resolves_only_data_classes(tmp_path):
    class Evil:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / "victim"),))

    (tmp_path / "victim").mkdir()
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"net": {"cells": [Evil()]}}, protocol=4))
    assert guess_format(path).name == "netpyne-pickle"  # sniffing unpickles nothing
    with pytest.raises(FormatError, match="shutil.rmtree"):
        nethub.load(path, trusted=True)
    assert (tmp_path / "victim").is_dir()


def test_mat_is_the_builders_network():
    doc = nethub.read(FIX / "tut3_data.mat")
    assert_same_network(doc.network, built("doc_code/tut3.py"), spec=False)
    assert len(doc.results[0].spike_times) == 120 and len(doc.results[0].traces) == 2


def test_spec_only_file_is_built(tmp_path, tut2, tut2_raw):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"net": {"params": tut2.network.spec["netParams"]},
                                "simConfig": tut2_raw["simConfig"]}))
    doc = nethub.read(path, format="netpyne-json")
    assert "built from net['params']" in doc.lost[0]
    for t in TABLES:
        assert getattr(doc.network, t).equals(getattr(tut2.network.canonical(), t)), t


def test_results_only_file(tmp_path, tut2_raw):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"simConfig": tut2_raw["simConfig"],
                                "simData": tut2_raw["simData"]}))
    doc = nethub.read(path)
    assert doc.network is None and len(doc.results[0].spike_times) == 185


# ---------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext", ["json", "pkl", "mat"])
def test_store_netpyne_store(tmp_path, tut2, ext):
    first = tmp_path / "first.h5"
    nethub.save((tut2.network, tut2.results), first)
    middle = tmp_path / f"middle.{ext}"
    lost = nethub.convert(first, middle)
    assert any("run metadata" in n for n in lost) and any("provenance" in n for n in lost)
    last = tmp_path / "last.h5"
    nethub.convert(middle, last, read_options=TRUST.get(ext))
    a, b = nethub.read(first), nethub.read(last)
    assert_same_network(a.network, b.network, spec=ext != "mat")
    assert_same_run(a.results[0], b.results[0])
    if ext == "mat":  # MATLAB has no booleans
        assert any("booleans" in n for n in lost)
        assert b.network.spec["netParams"]["correctBorder"] == 0
    else:
        assert same(a.network.spec, b.network.spec)


@pytest.mark.parametrize("ext", ["json", "pkl", "mat"])
def test_built_network_round_trip(tmp_path, ext):
    net = built("HybridTut", mods=True)  # two cell types, pt3d, expressions in delays
    path = tmp_path / f"hybrid.{ext}"
    lost = nethub.save(net, path)
    assert any("izhi2007b.mod" in n for n in lost)
    back = nethub.load(path, mod_dir=TUT / "HybridTut" / "mod", **TRUST.get(ext, {}))
    assert_same_network(back, net, spec=ext != "mat")
    assert back.mod_files == net.mod_files
    # NetPyNE's loader appends the rules' pt3d to the saved points: nethub leaves them out
    data = json.loads(path.read_text()) if ext == "json" else None
    if data:
        assert data["net"]["cells"][0]["secs"]["soma"]["geom"]["pt3d"] == []


def test_stim_parameters_per_cell_round_trip(tmp_path):
    net = built("doc_code/tut6.py")  # IClamp/VClamp/AlphaSynapse/NetStim with expressions
    nethub.save(net, tmp_path / "tut6.json")
    assert_same_network(nethub.load(tmp_path / "tut6.json"), net)


def test_compact_conn_format(tmp_path, tut2, tut2_raw):
    fmt = ["preGid", "preLabel", "sec", "loc", "synMech", "weight", "delay", "label"]

    def compact(d):  # what NetPyNE writes with cfg.compactConnFormat (its 'saving' example)
        d["simConfig"]["compactConnFormat"] = fmt
        for cell in d["net"]["cells"]:
            cell["conns"] = [[c.get(k) for k in fmt] for c in cell["conns"]]

    net = nethub.load(_broken(tmp_path, tut2_raw, compact, "compact.json"))
    for t in TABLES:
        assert getattr(net, t).equals(getattr(tut2.network, t)), t


def test_network_without_spec_round_trip(tmp_path):
    soma = Section(geom={"L": 20.0, "diam": 20.0}, mechs={"hh": {"gnabar": 0.12}})
    net = Network(
        cell_types={"P": CompartmentalCell("P", sections={"soma": soma},
                                           spike_source=("soma", 0.5)),
                    "I": PointCell("I", model="IntFire1", params={"tau": 10.0})},
        syn_mechs={"AMPA": SynMech("AMPA", "ExpSyn", {"tau": 2.0, "e": 0.0})},
        populations={"E": Population("E", "P", 3), "X": Population("X", "I", 2)},
        stim_sources={"bg": StimSource("bg", "NetStim", {"rate": 10.0, "noise": 0.5}),
                      "ic": StimSource("ic", "IClamp", {"del": 5.0, "dur": 10.0, "amp": 0.1})},
        cells={"gid": np.arange(5), "pop": ["E"] * 3 + ["X"] * 2,
               "cell_type": ["P"] * 3 + ["I"] * 2, "x": np.arange(5.0)},
        connections={"pre_gid": [0, 1, 2, 3], "post_gid": [1, 2, 3, 0],
                     "syn_mech": ["AMPA"] * 4, "post_sec": ["soma", "soma", None, "soma"],
                     "post_loc": [0.5, 0.5, np.nan, 0.5], "weight": [0.1, 0.2, 0.3, 0.4],
                     "delay": [1.0, 2.0, 3.0, 4.0]},
        stim_targets={"source": ["bg", "ic"], "gid": [0, 1], "sec": ["soma", "soma"],
                      "syn_mech": ["AMPA", None], "weight": [0.01, np.nan],
                      "delay": [1.0, np.nan], "param.amp": [np.nan, 0.2]},
    )
    lost = nethub.save(net, tmp_path / "net.json")
    assert any("no NetPyNE spec" in n for n in lost)
    assert any("1 connection(s) onto point cells" in n for n in lost)
    back = nethub.load(tmp_path / "net.json")
    a, b = net.canonical(), back.canonical()
    for t in ("connections", "stim_targets"):
        for c in getattr(a, t).columns:
            assert column_equal(getattr(a, t)[c], getattr(b, t)[c]), (t, c)
    assert b.cell_types["P"].sections["soma"].equals(soma)
    assert b.cell_types["X"].model == "IntFire1" and b.cell_types["X"].params == {"tau": 10.0}
    np.testing.assert_array_equal(b.cells["x"], a.cells["x"])


def test_generic_store_to_json(tmp_path):
    golden = nethub.read(ROOT / "fixtures" / "store" / "golden_v1.h5")
    lost = nethub.save((golden.network, golden.results), tmp_path / "golden.json")
    for expected in ("1 other run(s)", "cells column 'spkTimes'", "gap.mod",
                     "pointer connection(s)", "recordTraces", "LFP electrode positions"):
        assert any(expected in n for n in lost), expected
    back = nethub.read(tmp_path / "golden.json")
    a, b = golden.network.canonical(), back.network.canonical()
    np.testing.assert_array_equal(a.gids, b.gids)
    for t, cols in (("connections", ("pre_gid", "post_gid", "weight", "delay", "post_loc")),
                    ("pointer_conns", ("pre_gid", "post_gid", "pre_loc", "post_loc")),
                    ("stim_targets", ("gid", "loc"))):
        for c in cols:
            np.testing.assert_array_equal(getattr(a, t)[c], getattr(b, t)[c], err_msg=c)
    assert set(b.cell_types) == set(a.cell_types) - {"VecStimCell"} | {"stim"}
    run, ref = back.results[0], golden.results[-1]
    np.testing.assert_array_equal(run.lfp, ref.lfp)
    np.testing.assert_array_equal(run.spike_times, ref.spike_times)
    labels, gids = ref.traces.index["label"].values(), ref.traces.index["gid"]
    for i, (label, gid) in enumerate(zip(labels, gids)):  # sec/loc/var are lost (see above)
        np.testing.assert_array_equal(run.traces.get(label, gid), ref.traces.data[i])


def test_mat_refuses_non_ascii_names_atomically(tmp_path):
    golden = nethub.load(ROOT / "fixtures" / "store" / "golden_v1.h5")
    path = tmp_path / "golden.mat"
    path.write_bytes(b"old")
    with pytest.raises(FormatError, match=r"golden\.mat: net\['cells'\]\[\d+\]\['secs'\]"
                                          r"\['dendrít'\]: MAT field names must be ASCII"):
        nethub.save(golden, path)
    assert path.read_bytes() == b"old"


# ---------------------------------------------------------------------------------- malformed
def _broken(tmp_path, tut2_raw, change, name="broken.json") -> Path:
    data = json.loads(json.dumps(tut2_raw))
    change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d["net"]["cells"][3].pop("gid"), r"net\['cells'\]\[3\]: missing 'gid'"),
    (lambda d: d["net"]["cells"][25]["conns"][0].update(weight="heavy"),
     r"net\['cells'\]\[25\]\['conns'\]\[0\]\['weight'\]: expected a number, got 'heavy'"),
    (lambda d: d["net"]["cells"][25]["conns"][0].update(preGid=99),
     r"net\['cells'\]: connections come from gid\(s\) \[99\]"),
    (lambda d: d["net"]["cells"][2].update(gid=1),
     r"net\['cells'\]: gid 1 appears more than once"),
    (lambda d: d["net"]["cells"][4].update(secs=[1]),
     r"net\['cells'\]\[4\]\['secs'\]: expected a dict"),
    (lambda d: d["net"].update(cells={"a": 1}), r"net\['cells'\]: expected a list"),
    (lambda d: d["simData"]["spkid"].pop(), r"simData\['spkid'\]: 184 gids for 185"),
])
def test_wrong_structure_names_file_and_key(tmp_path, tut2_raw, change, message):
    path = _broken(tmp_path, tut2_raw, change)
    with pytest.raises(FormatError, match=r"broken\.json: " + message):
        nethub.read(path)


def test_top_level_not_a_dict(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(FormatError, match=r"list\.json: the top level: expected a dict"):
        nethub.read(path, format="netpyne-json")


@pytest.mark.parametrize("src, opts, message", [
    ("tut2_data.json", {}, "not valid JSON .* is the file complete"),
    ("tut2_data.pkl", {"trusted": True}, "not a readable NetPyNE pickle"),
    ("tut3_data.mat", {}, "not a readable MAT file"),
])
def test_truncated_files(tmp_path, src, opts, message):
    path = tmp_path / f"cut{Path(src).suffix}"
    data = (FIX / src).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=rf"cut\{Path(src).suffix}: {message}"):
        nethub.read(path, format=guess_format(FIX / src).name, **opts)


# ---------------------------------------------------------------------------------- CLI
def test_cli_pickle_trust(tmp_path, capsys):
    pkl, out = FIX / "tut2_data.pkl", tmp_path / "out.h5"
    assert cli.main(["convert", str(pkl), str(out)]) == 1
    assert "--trust " in capsys.readouterr().err and not out.exists()
    assert cli.main(["convert", "--trust-pickle", str(pkl), str(out)]) == 0
    assert nethub.load(out).n_cells == 40
    capsys.readouterr()
    assert cli.main(["info", "--trust", "--json", str(pkl)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "netpyne-pickle" and info["n_cells"] == 40
    assert cli.main(["info", "--trust-pickle", str(FIX / "tut2_data.json")]) == 0


def test_cli_convert_both_ways(tmp_path, capsys):
    store, back = tmp_path / "s.h5", tmp_path / "back.h5"
    assert cli.main(["convert", str(FIX / "tut2_data.json"), str(store)]) == 0
    for ext in ("json", "mat", "pkl"):
        out = tmp_path / f"out.{ext}"
        assert cli.main(["convert", str(store), str(out)]) == 0
        assert "not carried over: run metadata" in capsys.readouterr().out
        assert cli.main(["convert", "--trust-pickle", str(out), str(back)]) == 0
        assert nethub.load(back).n_connections == 240
