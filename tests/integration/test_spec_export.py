"""High-level spec export (``spec-py``, ``spec-json``): a network written as netParams/simConfig
rebuilds into the same network, in nethub and in NetPyNE 1.1.1.

- NetPyNE's tutorials and the bundled example are built, their spec is dropped, and the network
  is written as explicit rules (``cellsList`` populations, ``connList`` connections, ``cellList``
  stimuli): ``nethub.build`` of the written file gives the very same network (all tables, all
  columns, same order), or exactly the differences the writer reported;
- real NetPyNE (``sim.create`` in a subprocess, ``tests/faithfulness/netpyne_dump.py``) builds
  the written script and JSON into the same cells, connections and stimuli;
- a network that still has its spec is written as that spec, strings intact (NetPyNE's own
  script export rewrites ``true``/``null`` inside strings);
- what rules cannot say (self-connections, gids not numbered from 0, ...) is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub import cli
from nethub.builder import build
from nethub.celltypes import CompartmentalCell, Population, Section, StimSource, SynMech
from nethub.converters.spec import compare_networks, from_network
from nethub.examples import __file__ as _examples_init
from nethub.formats.spec import SpecJsonFormat, SpecPyFormat, py_literal
from nethub.network import Network
from nethub.specs import NetParams, SimConfig, load_spec
from nethub.table import Categorical, Table

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "fixtures" / "specs" / "netpyne_tutorials"
DUMP = ROOT / "tests" / "faithfulness" / "netpyne_dump.py"
MODELS = {
    "ei_net": Path(_examples_init).parent / "ei_net.py",
    "tut1": TUTORIALS / "doc_code" / "tut1.py",
    "tut2": TUTORIALS / "doc_code" / "tut2.py",
    "tut3": TUTORIALS / "doc_code" / "tut3.py",
    "tut5": TUTORIALS / "doc_code" / "tut5.py",
    "tut6": TUTORIALS / "doc_code" / "tut6.py",
    "tut7": TUTORIALS / "doc_code" / "tut7.py",
    "saving": TUTORIALS / "saving",
}
#: What the rules cannot reproduce exactly, per model (all else is identical).
EXPECTED_LOST = {
    # stimuli whose weight/delay differ per cell (expressions) need one rule per value
    "tut1": ["stim_targets: column 'rule' differs in 200 of 200 rows"],
    "tut5": ["stim_targets: column 'rule' differs in 300 of 300 rows"],
    # per-cell source parameters (expressions) become copies of the source with the values
    "tut6": ["per-cell values of stimulation source parameters", "38 stimulation source(s) new",
             "'param.amp' is missing", "'param.onset' is missing", "'param.gmax' is missing",
             "'param.interval' is missing", "column 'source' differs in 38 of 48 rows",
             "column 'rule' differs in 38 of 48 rows"],
}
_built: dict[str, Network] = {}


def built(name: str) -> Network:
    if name not in _built:
        _built[name] = build(*load_spec(MODELS[name]))
    return _built[name]


def _serial_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI", "HYDRA", "OMPI"))}
    return env | {"OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def netpyne_cells(model: Path) -> list[dict]:
    """NetPyNE's cells of a model file: gid, tags, conns, stims (``netpyne_dump.py``)."""
    pytest.importorskip("netpyne")
    proc = subprocess.run([sys.executable, str(DUMP), str(model)], capture_output=True,
                          text=True, cwd=model.parent, env=_serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rows(table, cols):
    vals = [table[c].values() if isinstance(table[c], Categorical) else np.asarray(table[c])
            for c in cols]
    return [tuple(v.item() if isinstance(v, np.generic) else v for v in row)
            for row in zip(*vals)]


def assert_same_as_netpyne(net: Network, cells: list[dict]) -> None:
    """Cells (gid, pop, x, y, z), connections per cell in order, NetStim inputs and other
    stimuli of NetPyNE's build equal ``net``'s, exactly."""
    net = net.canonical()  # connections by post gid, in rule order (NetPyNE's per cell)
    assert [c["gid"] for c in cells] == net.gids.tolist()
    ours = _rows(net.cells, ("gid", "pop", "x", "y", "z"))
    assert [(c["gid"], c["tags"]["pop"], c["tags"]["x"], c["tags"]["y"], c["tags"]["z"])
            for c in cells] == ours
    conn = _rows(net.connections, ("post_gid", "pre_gid", "post_sec", "post_loc", "syn_mech",
                                   "weight", "delay"))
    theirs = [(c["gid"], k["preGid"], k["sec"], k["loc"], k["synMech"], k["weight"], k["delay"])
              for c in cells for k in c["conns"] if k["preGid"] != "NetStim"]
    assert theirs == conn
    st = net.stim_targets
    spikes = [r for r in _rows(st, ("gid", "source", "sec", "loc", "syn_mech", "weight",
                                    "delay")) if r[4] is not None]
    theirs = [(c["gid"], k["preLabel"], k["sec"], k["loc"], k["synMech"], k["weight"],
               k["delay"]) for c in cells for k in c["conns"] if k["preGid"] == "NetStim"]
    assert sorted(theirs, key=str) == sorted(spikes, key=str)
    others = [r for r in _rows(st, ("gid", "source", "sec", "loc", "syn_mech")) if r[4] is None]
    theirs = [(c["gid"], k["source"], k["sec"], k["loc"], None) for c in cells
              for k in c["stims"] if k.get("type") != "NetStim"]
    assert sorted(theirs, key=str) == sorted(others, key=str)


# ----------------------------------------------------------------------------- nethub rebuild
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("suffix", [".py", ".spec.json"])
def test_rules_rebuild_the_same_network(tmp_path, name, suffix):
    net = built(name).replace(spec=None)
    path = tmp_path / f"model{suffix}"
    lost = nethub.save(net, path)
    expected = EXPECTED_LOST.get(name, [])
    assert len(lost) == len(expected) and all(e in n for e, n in zip(expected, lost)), lost
    back = nethub.load(path)
    diffs = compare_networks(net, back)
    assert set(diffs) <= set(lost) and (not lost or diffs)
    if not lost:
        assert back.replace(spec=None).equals(net)
    assert back.spec is not None  # the network now carries the spec it was rebuilt from


@pytest.mark.parametrize("suffix", [".py", ".spec.json"])
def test_spec_mode_writes_the_original_spec(tmp_path, suffix):
    net = built("ei_net")
    path = tmp_path / f"ei{suffix}"
    assert nethub.save(net, path) == []
    back = nethub.load(path)
    assert back.equals(net)  # spec included
    assert ("connList" in path.read_text()) is False


def test_spec_mode_falls_back_to_rules_when_the_network_was_changed(tmp_path):
    net = built("ei_net")
    conns = net.connections.take(np.arange(1, net.n_connections))  # drop one connection
    changed = net.replace(connections=conns)
    out = from_network(changed)
    assert out.mode == "rules"
    assert "no longer matches its spec" in out.lost[0] and len(out.lost) == 1
    assert from_network(changed, mode="spec").lost[0].startswith("the network differs")
    lost = nethub.save(changed, tmp_path / "c.py")
    assert compare_networks(changed, nethub.load(tmp_path / "c.py")) == lost[1:] == []


def point_cell_spec(netpyne_only: bool = False) -> tuple[dict, dict]:
    """Point cells (NetStim with a random rate range, VecStim, IntFire1), a compartmental type
    with a per-cell geometry expression, pt3d and a section list, synsPerConn spread over the
    list, gap junctions (bidirectional pointer connections). ``netpyne_only``: without what
    needs .mod files here (VecStim, the Gap mechanism)."""
    net = {
        "popParams": {
            "S": {"cellModel": "NetStim", "numCells": 5, "rate": [5, 15], "noise": 0.5,
                  "start": 1},
            "V": {"cellModel": "VecStim", "numCells": 3, "spkTimes": [1, 5, 10]},
            "I": {"cellModel": "IntFire1", "numCells": 4, "tau": 10},
            "P": {"cellType": "PYR", "numCells": 6}},
        "cellParams": {"PYR": {"secs": {
            "soma": {"geom": {"L": 10, "diam": "uniform(5, 15)"}, "mechs": {"hh": {}}},
            "dend": {"geom": {"L": 100, "diam": 1, "nseg": 3,
                              "pt3d": [[0, 0, 0, 1], [0, 100, 0, 1]]},
                     "topol": {"parentSec": "soma", "parentX": 1, "childX": 0},
                     "mechs": {"pas": {"g": 1e-4, "e": -70}}}},
            "secLists": {"all": ["soma", "dend"]}}},
        "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2},
                          "gap": {"mod": "Gap", "g": 1e-3, "pointerParams": {
                              "target_var": "vgap", "source_var": "v", "bidirectional": True}}},
        "connParams": {
            "S->P": {"preConds": {"pop": "S"}, "postConds": {"pop": "P"}, "probability": 0.5,
                     "weight": 0.1, "synMech": "exc", "sec": "all", "synsPerConn": 2},
            "V->I": {"preConds": {"pop": "V"}, "postConds": {"pop": "I"}, "convergence": 2,
                     "weight": 0.2, "synMech": "exc"},
            "gap": {"preConds": {"pop": "P"}, "postConds": {"pop": "P"}, "probability": 0.3,
                    "weight": 0.5, "synMech": "gap", "sec": "soma", "loc": 0.5}},
    }
    if netpyne_only:
        del net["popParams"]["V"], net["connParams"]["V->I"], net["connParams"]["gap"]
        del net["synMechParams"]["gap"]
    return net, {"duration": 100, "seeds": {"conn": 3, "stim": 2, "loc": 1, "cell": 5}}


def test_point_cells_gap_junctions_and_expressions(tmp_path):
    net = build(*point_cell_spec()).replace(spec=None)
    assert len(net.pointer_conns) and "param.secs.soma.geom.diam" in net.cells
    for suffix in (".py", ".spec.json"):
        # NetPyNE needs a VecStim's spike times in each cellsList entry, so the builder makes
        # that column while placing the cells, before the others
        assert nethub.save(net, tmp_path / f"p{suffix}") == ["cells: columns come in another "
                                                             "order"]
        back = nethub.load(tmp_path / f"p{suffix}")
        order = list(net.cells.columns)
        cells = Table({c: back.cells[c] for c in order}, back.cells.schema, n=len(back.cells))
        assert back.replace(spec=None, cells=cells).equals(net)


# ----------------------------------------------------------------------------- NetPyNE
@pytest.mark.parametrize("name", ["ei_net", "tut5", "saving", "point_cells"])
def test_netpyne_builds_the_written_script(tmp_path, name):
    net = (build(*point_cell_spec(netpyne_only=True)) if name == "point_cells" else
           built(name)).replace(spec=None)
    nethub.save(net, tmp_path / "model.py")
    assert_same_as_netpyne(net, netpyne_cells(tmp_path / "model.py"))


def test_netpyne_reads_the_written_json(tmp_path):
    net = built("ei_net").replace(spec=None)
    nethub.save(net, tmp_path / "model.spec.json")
    loader = tmp_path / "load_json.py"
    loader.write_text(  # netpyne_dump.py stands in for netpyne.sim: import its loaders directly
        "from netpyne.sim.load import loadNetParams, loadSimCfg\n"
        "netParams = loadNetParams('model.spec.json', variable='netParams', setLoaded=False)\n"
        "simConfig = loadSimCfg('model.spec.json', variable='simConfig', setLoaded=False)\n")
    assert_same_as_netpyne(net, netpyne_cells(loader))


# ----------------------------------------------------------------------------- strings
STRINGS = ["true", "false", "null", "None", "True", "it's", 'say "hi"', "a\nb\tc", "ünï 😀",
           "{'a': 1}", "\\", "nan", "1e3", "", " x "]


def tricky_spec() -> tuple[NetParams, SimConfig]:
    np_ = NetParams()
    np_.cellParams["P"] = {"secs": {"soma": {"geom": {"L": 18.8, "diam": 18.8},
                                             "mechs": {"hh": {}}}}}
    np_.popParams["E"] = {"cellType": "P", "numCells": 3, "tnan": float("nan"),
                          **{f"t{i}": s for i, s in enumerate(STRINGS)}}
    np_.synMechParams["exc"] = {"mod": "Exp2Syn", "e": 0.0, "tau1": 0.5}
    np_.connParams["E->E"] = {"preConds": {"pop": "E"}, "postConds": {"pop": "E"},
                              "probability": 0.5, "weight": "uniform(0.1, 0.2)",
                              "synMech": "exc"}
    cfg = SimConfig()
    cfg.duration = 10.0
    cfg.simLabel = "true or null, it's \"fine\""
    return np_, cfg


def test_strings_survive_python_and_json(tmp_path):
    np_, cfg = tricky_spec()
    net = build(np_, cfg)
    for suffix in (".py", ".spec.json"):
        path = tmp_path / f"s{suffix}"
        assert nethub.save(net, path) == []
        loaded_np, loaded_cfg = load_spec(path)
        assert json.dumps(loaded_np.to_dict()) == json.dumps(np_.to_dict())  # NaN too
        assert loaded_cfg.simLabel == cfg.simLabel
    script = (tmp_path / "s.py").read_text()
    probe = tmp_path / "probe.py"
    probe.write_text(f"import json, runpy\nns = runpy.run_path({str(tmp_path / 's.py')!r})\n"
                     "print(json.dumps(ns['netParams'].popParams['E']))\n")
    pytest.importorskip("netpyne")
    proc = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True,
                          env=_serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tags = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [tags[f"t{i}"] for i in range(len(STRINGS))] == STRINGS
    assert "float('nan')" in script


def test_python_literals_are_exact():
    values = [0.1, 1 / 3, -0.0, 5e-324, 1e308, float("inf"), -float("inf"), 2**70, True, None,
              "é\n'\"", {"k": [1, 2.5, {"z": []}]}, list(range(300))]
    text = py_literal(values)
    from ast import literal_eval

    back = literal_eval(text.replace("-float('inf')", "-1e999").replace("float('inf')", "1e999"))
    assert back == values
    assert all(type(a) is type(b) for a, b in zip(back, values))
    assert max(len(line) for line in text.splitlines()) <= 99


# ----------------------------------------------------------------------------- losses
def foreign_network() -> Network:
    """A network from elsewhere: gids with holes, a self-connection, an int cell column."""
    soma = Section(geom={"L": 10.0, "diam": 10.0, "nseg": 1}, mechs={"pas": {"g": 1e-4}})
    gids = np.array([10, 12, 14, 20])
    return Network(
        cell_types={"C": CompartmentalCell("C", sections={"soma": soma},
                                           spike_source=("soma", 0.5))},
        syn_mechs={"s": SynMech("s", "ExpSyn", {"tau": 2.0})},
        populations={"A": Population("A", "C", 4)},
        stim_sources={"ic": StimSource("ic", "IClamp", {"amp": 0.1, "dur": 5, "delay": 1})},
        cells={"gid": gids, "pop": ["A"] * 4, "cell_type": ["C"] * 4,
               "x": np.array([1.0, 2.0, 3.0, 4.0]), "layer": np.array([1, 2, 2, 3])},
        connections={"pre_gid": np.array([10, 12, 14, 20]), "post_gid": np.array([12, 12, 20, 10]),
                     "syn_mech": ["s"] * 4, "post_sec": ["soma"] * 4,
                     "weight": np.array([0.1, 0.2, 0.3, 0.4])},
        stim_targets={"source": ["ic"], "gid": np.array([14]), "sec": ["soma"]},
        params={"sizeX": 100, "celsius": 34},
    )


def test_losses_are_reported(tmp_path):
    net = foreign_network()
    out = from_network(net)
    text = "\n".join(out.lost)
    assert "gids renumbered" in text and out.gid_map == {10: 0, 12: 1, 14: 2, 20: 3}
    assert "1 self-connection(s)" in text
    assert "network parameters ['celsius']" in text
    assert "connections: 3 rows, expected 4" in text
    assert "column 'layer' has dtype float64, expected int64" in text
    lost = nethub.save(net, tmp_path / "f.py")
    assert lost == out.lost
    back = nethub.load(tmp_path / "f.py")
    assert back.cells["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert back.connections["weight"].tolist() == [0.4, 0.1, 0.3]  # by post gid, self dropped


# ----------------------------------------------------------------------------- sniffing, CLI
def test_sniffing(tmp_path):
    np_, cfg = tricky_spec()
    net = build(np_, cfg)
    nethub.save(net, tmp_path / "a.spec.json")
    (tmp_path / "bare.json").write_text(json.dumps(np_.to_dict()))
    (tmp_path / "saved.json").write_text(json.dumps({"net": {"params": np_.to_dict()},
                                                     "simConfig": cfg.to_dict()}))
    (tmp_path / "other.json").write_text('{"popParams": 1, "simData": {}}')
    fmt = SpecJsonFormat()
    assert fmt.sniff(tmp_path / "a.spec.json") and fmt.sniff(tmp_path / "bare.json")
    assert not fmt.sniff(tmp_path / "saved.json") and not fmt.sniff(tmp_path / "other.json")
    assert nethub.formats.guess_format(tmp_path / "a.spec.json").name == "spec-json"
    nethub.save(net, tmp_path / "m.py")
    assert SpecPyFormat().sniff(tmp_path / "m.py")
    assert SpecPyFormat().sniff(MODELS["ei_net"])
    (tmp_path / "x.py").write_text("print('hello')\n")
    assert not SpecPyFormat().sniff(tmp_path / "x.py")
    assert nethub.load(tmp_path / "bare.json", format="spec-json").n_cells == 3


def test_cli_convert(tmp_path, capsys):
    net = built("ei_net").replace(spec=None)
    nethub.save(net, tmp_path / "ei.h5")
    steps = [("ei.h5", "ei.py"), ("ei.py", "ei.csv"), ("ei.csv", "ei.spec.json"),
             ("ei.spec.json", "back.h5")]
    for src, dst in steps:
        assert cli.main(["convert", str(tmp_path / src), str(tmp_path / dst)]) == 0
    capsys.readouterr()
    back = nethub.load(tmp_path / "back.h5")
    assert back.replace(spec=None).equals(net.canonical())
    assert cli.main(["convert", str(tmp_path / "ei.h5"), str(tmp_path / "r.py"), "-w",
                     "mode=rules", "-w", "check=false"]) == 0
    assert "connList" in (tmp_path / "r.py").read_text()
