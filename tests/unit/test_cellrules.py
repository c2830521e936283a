"""Saved cell rules (issue 16 item 2): ``netParams.loadCellParamsRule`` /
``saveCellParamsRule`` of ``.json`` (always) and ``.pkl`` (only with trust), in NetPyNE's
layout both ways."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

from nethub.errors import SpecError, UntrustedPickleError
from nethub.specs import NetParams, load_spec
from nethub.specs.cellrules import read_cell_rule, trusted_pickles, write_cell_rule

RULE = {"conds": {"cellType": "PYR"},
        "secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
                          "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036}}},
                 "dend": {"geom": {"diam": 2.0, "L": 150.0, "nseg": 3},
                          "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
                          "weightNorm": [0.5, 1.0, 2.0]}}}


@pytest.mark.parametrize("suffix", [".json", ".pkl"])
def test_save_then_load_round_trips(tmp_path, suffix):
    net = NetParams()
    net.cellParams["PYR"] = RULE
    path = tmp_path / f"PYR{suffix}"
    net.saveCellParamsRule("PYR", str(path))
    other = NetParams()
    with trusted_pickles():
        other.loadCellParamsRule("PYR2", str(path))
    assert other.cellParams["PYR2"] == RULE
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary left


def test_pickle_needs_trust_and_json_does_not(tmp_path):
    write_cell_rule(RULE, tmp_path / "r.pkl")
    write_cell_rule(RULE, tmp_path / "r.json")
    assert read_cell_rule(tmp_path / "r.json") == RULE
    with pytest.raises(UntrustedPickleError, match=r"r\.pkl not read.*trusted=True"):
        read_cell_rule(tmp_path / "r.pkl")
    with trusted_pickles():
        assert read_cell_rule(tmp_path / "r.pkl") == RULE


def test_trusted_pickle_of_other_classes_is_still_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"secs": Evil()}))
    with trusted_pickles(), pytest.raises(SpecError, match="does not load"):
        read_cell_rule(tmp_path / "evil.pkl")


@pytest.mark.parametrize(("content", "fragment"), [
    ("[1, 2]", "holds a list, not a cell rule"),
    ("{not json", "cannot read"),
])
def test_bad_rule_files_name_the_file(tmp_path, content, fragment):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(SpecError, match=fragment) as info:
        read_cell_rule(tmp_path / "bad.json")
    assert "bad.json" in str(info.value)


def test_other_suffixes_and_unknown_labels_are_refused(tmp_path):
    net = NetParams()
    with pytest.raises(SpecError, match="neither .json nor .pkl"):
        write_cell_rule(RULE, tmp_path / "r.txt")
    with pytest.raises(SpecError, match="no cellParams rule 'X'"):
        net.saveCellParamsRule("X", str(tmp_path / "r.json"))


def test_model_file_loads_rules_relative_to_its_folder(tmp_path):
    (tmp_path / "cells").mkdir()
    write_cell_rule(RULE, tmp_path / "cells" / "PYR.pkl")
    model = tmp_path / "model.py"
    model.write_text("from netpyne import specs\nnetParams = specs.NetParams()\n"
                     "netParams.loadCellParamsRule('PYR', 'cells/PYR.pkl')\n")
    with pytest.raises(SpecError, match="PYR.pkl not read"):
        load_spec(model)
    net, _ = load_spec(model, trusted=True)
    assert net.cellParams["PYR"] == RULE


def test_netpynes_own_pickle_and_json_rules_load(tmp_path):
    """Rules written by NetPyNE 1.1 itself (its Dict classes inside the pickle)."""
    pytest.importorskip("netpyne")
    code = ("import sys\nfrom netpyne import specs\nnp = specs.NetParams()\n"
            f"np.addCellParams('PYR', {RULE!r})\n"
            "np.saveCellParamsRule('PYR', sys.argv[1] + '/n.pkl')\n"
            "np.saveCellParamsRule('PYR', sys.argv[1] + '/n.json')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert b"netpyne" in (tmp_path / "n.pkl").read_bytes()  # NetPyNE's Dict class inside
    with trusted_pickles():
        assert read_cell_rule(tmp_path / "n.pkl") == RULE
    assert read_cell_rule(tmp_path / "n.json") == json.loads(json.dumps(RULE))


# multi-model scripts (issue 16 item 2) live here with the other NetPyNE-file behaviours
_TWO = """\
from netpyne import specs, sim
for n in (3, 5):
    netParams = specs.NetParams()
    netParams.popParams['S'] = {'cellModel': 'NetStim', 'numCells': n, 'rate': 10}
    cfg = specs.SimConfig()
    sim.createSimulateAnalyze(netParams, cfg)
"""


@pytest.mark.parametrize("calls", ["sim.createSimulateAnalyze(netParams, cfg)\n"
                                   "sim.createSimulateAnalyze(netParams, cfg)\n",
                                   "sim.create(netParams, cfg)\nsim.simulate()\n"
                                   "sim.createSimulate(netParams, cfg)\n"])
def test_a_file_creating_two_models_is_refused(tmp_path, calls):
    model = tmp_path / "two.py"
    model.write_text("from netpyne import specs, sim\nnetParams = specs.NetParams()\n"
                     "netParams.popParams['S'] = {'cellModel': 'NetStim', 'numCells': 2}\n"
                     "cfg = specs.SimConfig()\n" + calls)
    with pytest.raises(SpecError, match="creates 2 models") as info:
        load_spec(model)
    assert str(model) in str(info.value) and "a file of its own" in str(info.value)


def test_two_models_in_a_loop_are_refused_and_one_model_loads(tmp_path):
    (tmp_path / "loop.py").write_text(_TWO)
    with pytest.raises(SpecError, match=r"creates 2 models \(sim.createSimulateAnalyze, "
                                        r"sim.createSimulateAnalyze\)"):
        load_spec(tmp_path / "loop.py")
    (tmp_path / "one.py").write_text(_TWO.replace("(3, 5)", "(3,)"))
    net, _ = load_spec(tmp_path / "one.py")
    assert net.popParams["S"]["numCells"] == 3
