"""Issue 14 item 1: SWC / NeuroLucida morphologies as cell types -- ``nethub convert
cell.swc OUT.h5``, and NetPyNE's ``importCellParams(label, 'cell.swc')`` in specs giving
NetPyNE 1.1.1's cell rule (names, points, topology, lists) and spikes. The NetPyNE references
run in separate processes (test-only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from neuron import h

import nethub
from nethub.builder.cellimport import imported_rule
from nethub.cli import main as cli_main
from nethub.converters.hoc_spec import import_request
from nethub.converters.morph_convert import morphology_network
from nethub.errors import ConversionError, SpecError
from nethub.runner import simulate
from nethub.store import read_network

from . import morphs

pytestmark = pytest.mark.neuron

HERE = Path(__file__).parent
NETPYNE_RUN = HERE.parent / "simulation" / "netpyne_run.py"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("OMPI_", "PMI", "PMIX_", "MPI_", "HYDRA_"))}


def _netpyne(script: Path, arg: str, cwd: Path) -> dict:
    proc = subprocess.run([sys.executable, str(script), arg], capture_output=True, text=True,
                          env=_env(), check=False, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _request(path: Path) -> dict:
    return {"function": "importCellParams", "fileName": path.name, "cellName": "C",
            "cellArgs": {}, "importSynMechs": False, "somaAtOrigin": True,
            "cellInstance": False, "baseDir": str(path.parent)}


def _assert_same_rule(ours: dict, ref: dict) -> None:
    assert list(ours["secs"]) == list(ref["secs"])
    for name, r in ref["secs"].items():
        o = ours["secs"][name]
        assert (o["topol"] or {}) == (r["topol"] or {}), name
        assert o["mechs"] == r["mechs"] == {}, name
        for key in ("L", "nseg", "Ra", "cm"):
            assert o["geom"][key] == r["geom"][key], (name, key)
        np.testing.assert_array_equal(np.asarray(o["geom"]["pt3d"]),
                                      np.asarray(r["geom"]["pt3d"]), err_msg=name)
    # NetPyNE lists every SectionList of its interpreter: importing netpyne itself makes two
    # empty ones (SectionList[0], SectionList[1]); they hold nothing and nethub leaves them out
    assert ours["secLists"] == {k: v for k, v in ref["secLists"].items() if v}
    assert not any(v for k, v in ref["secLists"].items() if k not in ours["secLists"])


@pytest.mark.parametrize("kind", ["swc", "asc"])
def test_import_cell_params_rule_is_netpyne_s(tmp_path, kind):
    path = (morphs.write_swc(tmp_path) if kind == "swc"
            else morphs.write_asc(tmp_path, contour=False))
    before = (len(list(h.allsec())), h.celsius, os.getcwd())
    rule, ct = imported_rule(_request(path))
    assert (len(list(h.allsec())), h.celsius, os.getcwd()) == before
    ref = _netpyne(HERE / "netpyne_rule.py", path.name, tmp_path)
    _assert_same_rule(rule, ref)
    names = list(rule["secs"])
    if kind == "swc":
        assert names[:3] == ["soma_0", "soma_1", "dend_0"] and "axon_2" in names
        assert rule["secs"]["soma_0"]["geom"]["pt3d"][1][:3] == [0.0, 0.0, 0.0]  # at origin
    else:
        assert names == ["dend_0", "dend_1", "dend_2", "apic_0", "axon_0"]
    assert ct.spike_source[0] == names[0] if kind == "asc" else "soma_0"


def test_contour_soma_needs_import3d_names(tmp_path):
    """NetPyNE's loader refuses a contour soma, so do NetPyNE names; Import3d's own
    instantiation (the default of ``nethub convert``) reads it."""
    path = morphs.write_asc(tmp_path)
    assert "contour" in _netpyne(HERE / "netpyne_rule.py", path.name, tmp_path)["error"]
    with pytest.raises(SpecError, match="contour"):
        import_request(_request(path), {})
    net = morphology_network(path, name="A")
    ct = net.cell_types["A"]
    assert list(ct.sections)[0] == "soma[0]" and "apic[0]" in ct.sections
    assert ct.section_lists["somatic"] == ["soma[0]"]
    assert ct.sections["apic[0]"].parent == "soma[0]"


def test_cli_convert_swc(tmp_path):
    path = morphs.write_swc(tmp_path)
    out = tmp_path / "cell.h5"
    assert cli_main(["convert", str(path), str(out), "--name", "Pyr", "--dL", "10"]) == 0
    net = read_network(out)
    ct = net.cell_types["Pyr"]
    assert ct.sections["soma[0]"].pt3d is not None
    assert set(ct.section_lists) >= {"all", "somatic", "basal", "apical", "axonal"}
    assert len(ct.section_lists["all"]) == len(ct.sections)
    assert all(not s.mechs for s in ct.sections.values())  # no invented membrane
    assert max(s.geom["nseg"] for s in ct.sections.values()) > 1
    (emb,) = net.files_with_role("morphology")
    assert emb.data == path.read_bytes()
    with pytest.raises(ConversionError, match="not found"):
        morphology_network(tmp_path / "missing.swc")
    bad = tmp_path / "bad.swc"
    bad.write_text("1 1 0 0 0 5 -1\n2 3 10 0 0 1 7\n")  # parent 7 does not exist
    with pytest.raises(ConversionError, match=r"bad.swc.*line 2"):
        morphology_network(bad)
    (tmp_path / "x.py").write_text("")
    with pytest.raises(ConversionError, match="not a morphology"):
        morphology_network(tmp_path / "x.py")


SPEC = """
from netpyne import specs
netParams = specs.NetParams()
cfg = specs.SimConfig()
cfg.duration = 60
cfg.dt = 0.025
cfg.hParams = {"celsius": 6.3, "v_init": -65}
cfg.verbose = False
rule = netParams.importCellParams(label="M", conds={"cellType": "M"}, fileName="cell.swc",
                                  cellName="M")
for name in ["soma_0", "soma_1"]:
    rule["secs"][name]["mechs"]["hh"] = {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003,
                                         "el": -54.3}
    rule["secs"][name]["geom"]["nseg"] = 3
for name in [f"dend_{i}" for i in range(10)] + [f"apic_{i}" for i in range(7)] + \\
        [f"axon_{i}" for i in range(3)]:
    rule["secs"][name]["mechs"]["pas"] = {"g": 0.0001, "e": -65}
    rule["secs"][name]["geom"]["cm"] = 1.5
netParams.popParams["P"] = {"cellType": "M", "numCells": 3}
netParams.popParams["S"] = {"cellModel": "NetStim", "numCells": 3, "rate": 80, "noise": 0.5,
                            "start": 2}
netParams.synMechParams["exc"] = {"mod": "ExpSyn", "tau": 2, "e": 0}
netParams.connParams["S->P"] = {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.02, "delay": 2, "sec": "soma_0",
                                "loc": 0.5, "probability": 0.8}
netParams.connParams["P->P"] = {"preConds": {"pop": "P"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.01, "delay": 3,
                                "sec": "dend_3", "loc": 0.7, "probability": 0.7}
"""


def test_swc_spec_network_gives_netpyne_spikes(tmp_path, monkeypatch):
    morphs.write_swc(tmp_path)
    model = tmp_path / "model.py"
    model.write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    net_params, cfg = nethub.load_spec(model)
    cfg.nethubExact = True
    net = nethub.build(net_params, cfg)
    ct = net.cell_types["M"]
    assert "hh" in ct.sections["soma_0"].mechs and "pas" in ct.sections["dend_9"].mechs
    assert ct.sections["dend_9"].geom["cm"] == 1.5 and ct.sections["soma_0"].geom["nseg"] == 3
    assert net.files_with_role("morphology")
    res = simulate(net, cfg, output=tmp_path / "out.h5")
    assert res.meta["exactness"] == "exact"
    t, g = res.spikes["time"].to_numpy(), res.spikes["gid"].to_numpy()
    order = np.lexsort((g, t))
    ref = _netpyne(NETPYNE_RUN, str(model), tmp_path)
    rt, rg = np.array(ref["t"], dtype=float), np.array(ref["g"], dtype=np.int64)
    rorder = np.lexsort((rg, rt))
    assert len(rt) > 5 and (rg < 3).sum() > 3  # the SWC cells spike (gids 0-2)
    np.testing.assert_array_equal(np.asarray(g)[order], rg[rorder])
    np.testing.assert_allclose(np.asarray(t)[order], rt[rorder], rtol=0, atol=1e-9)
