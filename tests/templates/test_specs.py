"""Issue 14 item 1/5: NetPyNE's importCellParams / importCellParamsFromNet in specs run the
template in a separate process (the caller's NEURON untouched) and give NetPyNE's spikes;
template-mode cell types need trust."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from neuron import h

import nethub
from nethub.converters.hoc import read_cell_template
from nethub.errors import UntrustedCodeError
from nethub.runner import simulate
from nethub.sim.templatecells import check_trust

from . import cells
from .conftest import serial_env

pytestmark = pytest.mark.neuron

NETPYNE_RUN = os.path.join(os.path.dirname(__file__), "..", "simulation", "netpyne_run.py")

SPEC = """
from netpyne import specs
netParams = specs.NetParams()
cfg = specs.SimConfig()
cfg.duration = 150
cfg.dt = 0.025
cfg.hParams = {"celsius": 6.3, "v_init": -65}
cfg.verbose = False
rule = netParams.importCellParams(label="PYR", conds={"cellType": "PYR"}, fileName="pyr.hoc",
                                  cellName="Pyr", cellArgs=[18.0])
netParams.popParams["P"] = {"cellType": "PYR", "numCells": 4}
netParams.popParams["S"] = {"cellModel": "NetStim", "numCells": 4, "rate": 60, "noise": 0.5,
                            "start": 5}
netParams.synMechParams["exc"] = {"mod": "ExpSyn", "tau": 2, "e": 0}
netParams.connParams["S->P"] = {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.05, "delay": 2, "sec": "soma",
                                "loc": 0.5, "probability": 0.6}
netParams.connParams["P->P"] = {"preConds": {"pop": "P"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.01, "delay": 3,
                                "sec": "dend_1", "loc": 0.8, "probability": 0.5}
"""

NET_FILE = """
from neuron import h
class Ball:
    def __init__(self, d):
        self.soma = h.Section(name="soma", cell=self)
        self.soma.L = self.soma.diam = d
        self.soma.insert("hh")
cells = [Ball(12.0), Ball(20.0)]
"""


def _netpyne_spikes(model, cwd) -> tuple[np.ndarray, np.ndarray]:
    proc = subprocess.run([sys.executable, NETPYNE_RUN, str(model)], capture_output=True,
                          text=True, env=serial_env(), check=False, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = json.loads(proc.stdout.strip().splitlines()[-1])
    t, g = np.array(ref["t"], dtype=float), np.array(ref["g"], dtype=np.int64)
    order = np.lexsort((g, t))
    return t[order], g[order]


def test_import_cell_params_gives_netpyne_spikes(tmp_path, monkeypatch):
    cells.write(tmp_path, "pyr.hoc", cells.plain_hh(cells.MODELDB))
    model = cells.write(tmp_path, "model.py", SPEC)
    monkeypatch.chdir(tmp_path)
    before = (len(list(h.allsec())), h.celsius, h.dt, os.getcwd())
    net = nethub.build(*nethub.load_spec(model))
    assert (len(list(h.allsec())), h.celsius, h.dt, os.getcwd()) == before
    ct = net.cell_types["PYR"]
    assert list(ct.sections) == ["soma", "dend_0", "dend_1", "dend_2", "axon"]
    assert ct.run_mode == "snapshot" and net.files_with_role("template")
    res = simulate(net, output=tmp_path / "out.h5")
    t, g = res.spikes["time"].to_numpy(), res.spikes["gid"].to_numpy()
    order = np.lexsort((g, t))
    rt, rg = _netpyne_spikes(model, tmp_path)
    assert len(rt) > 10
    np.testing.assert_array_equal(np.asarray(g)[order], rg)
    np.testing.assert_allclose(np.asarray(t)[order], rt, rtol=0, atol=1e-9)


def test_overlay_rename_and_soma_at_origin(tmp_path, monkeypatch):
    cells.write(tmp_path, "pyr.hoc", cells.plain_hh(cells.MODELDB))
    text = SPEC + textwrap.dedent("""
        rule["secs"]["soma"]["mechs"]["hh"] = {"gnabar": 0.2}
        netParams.renameCellParamsSec("PYR", "axon", "ax")
    """)
    model = cells.write(tmp_path, "model.py", text)
    monkeypatch.chdir(tmp_path)
    ct = nethub.build(*nethub.load_spec(model)).cell_types["PYR"]
    assert "ax" in ct.sections and "axon" not in ct.sections
    assert ct.sections["soma"].mechs["hh"]["gnabar"] == 0.2
    assert ct.sections["soma"].mechs["hh"]["gkbar"] == 0.036  # the rest of the import stays
    assert ct.sections["soma"].pt3d[1, :3].tolist() == [0.0, 0.0, 0.0]  # middle point at 0


def test_import_cells_from_net(tmp_path, monkeypatch):
    cells.write(tmp_path, "bnet.py", NET_FILE)
    model = cells.write(tmp_path, "model.py", textwrap.dedent("""
        from netpyne import specs
        netParams = specs.NetParams()
        netParams.importCellParamsFromNet(["A", "B"], [{"cellType": "A"}, {"cellType": "B"}],
                                          "bnet.py", ["cells[0]", "cells[1]"])
        netParams.popParams["A"] = {"cellType": "A", "numCells": 1}
        netParams.popParams["B"] = {"cellType": "B", "numCells": 1}
    """))
    monkeypatch.chdir(tmp_path)
    net = nethub.build(*nethub.load_spec(model))
    assert net.cell_types["A"].sections["soma"].geom["L"] == 12.0
    assert net.cell_types["B"].sections["soma"].geom["L"] == 20.0


def test_template_mode_needs_trust(tmp_path):
    path = cells.write(tmp_path, "playful.hoc", cells.NEEDS_TEMPLATE)
    imp = read_cell_template(path, "Playful", trusted=True, args=[3])
    ct = imp.cell_type
    net = nethub.Network(cell_types={"T": ct}, files=imp.files)
    check_trust(net, trusted=False)  # imported with trust in this process: remembered
    other = cells.write(tmp_path, "other/playful.hoc", cells.NEEDS_TEMPLATE + "\n// changed\n")
    foreign = nethub.Network(cell_types={"T": ct}, files={
        ct.template["file"]: imp.files[ct.template["file"]].__class__(
            ct.template["file"], "template", str(other), other.read_bytes())})
    with pytest.raises(UntrustedCodeError, match=r"playful\.hoc.*--trust"):
        check_trust(foreign, trusted=False)
    check_trust(foreign, trusted=True)


def test_cli_convert_template(tmp_path):
    path = cells.modeldb(tmp_path)
    out = tmp_path / "pyr.h5"
    cmd = [sys.executable, "-m", "nethub", "convert", str(path), str(out), "--template", "Pyr",
           "--args", "18", "--trust"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=serial_env(), check=False,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "run mode snapshot" in proc.stdout
    net = nethub.load(out)
    assert list(net.cell_types["Pyr"].sections)[0] == "soma"
    assert sorted(net.mod_files) == ["kleak.mod"] and net.files_with_role("template")
    refused = subprocess.run(cmd[:-1], capture_output=True, text=True, env=serial_env(),
                             check=False, cwd=tmp_path)
    assert refused.returncode != 0 and "--trust" in refused.stderr


def test_python_import_leaves_the_caller_untouched(tmp_path):
    path = cells.write(tmp_path, "l5.py", cells.BLUEPYOPT)
    before = (len(list(h.allsec())), h.celsius, h.dt, os.getcwd(), set(sys.modules),
              list(sys.path))
    imp = read_cell_template(path, "L5Cell", trusted=True, kwargs={"celsius": 34.0})
    after = (len(list(h.allsec())), h.celsius, h.dt, os.getcwd(), set(sys.modules),
             list(sys.path))
    assert after == before
    assert imp.globals_changed == {"celsius": 34.0} == imp.cell_type.globals


TEMPLATE_NET = """
from netpyne import specs
netParams = specs.NetParams()
cfg = specs.SimConfig()
cfg.duration = 80
cfg.dt = 0.025
cfg.recordStep = 0.025
cfg.hParams = {"celsius": 6.3, "v_init": -65}
cfg.recordCells = ["all"]
cfg.recordTraces = {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}
netParams.importCellParams(label="PL", conds={"cellType": "PL"}, fileName="playful.hoc",
                           cellName="Playful", cellArgs=[5])
netParams.popParams["P"] = {"cellType": "PL", "numCells": 2}
netParams.popParams["S"] = {"cellModel": "NetStim", "numCells": 2, "rate": 50, "noise": 0,
                            "start": 5, "number": 3}
netParams.synMechParams["exc"] = {"mod": "ExpSyn", "tau": 2, "e": 0}
netParams.connParams["S->P"] = {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.004, "delay": 1, "sec": "dend",
                                "loc": 0.5, "connList": [[0, 0], [1, 1]]}
"""

TEMPLATE_NET_REF = """
import json, sys
from neuron import h
h.load_file("stdrun.hoc")
h.load_file(sys.argv[1])
cell = h.Playful(5)
ns = h.NetStim()
ns.interval, ns.number, ns.start, ns.noise = 20.0, 3, 5, 0
syn = h.ExpSyn(cell.dend(0.5))
syn.tau, syn.e = 2.0, 0
nc = h.NetCon(ns, syn)
nc.weight[0], nc.delay = 0.004, 1
v = h.Vector().record(cell.soma(0.5)._ref_v, 0.025)
h.celsius, h.dt = 6.3, 0.025
h.finitialize(-65)
h.continuerun(80)
print(json.dumps(v.to_python()))
"""


def test_template_mode_network_from_a_spec(tmp_path, monkeypatch):
    hoc = cells.write(tmp_path, "playful.hoc", cells.NEEDS_TEMPLATE)
    model = cells.write(tmp_path, "model.py", TEMPLATE_NET)
    monkeypatch.chdir(tmp_path)
    res = simulate(model, output=tmp_path / "out.h5")  # the user's own spec: no flag
    stored = nethub.load(tmp_path / "out.h5").cell_types["PL"]
    assert stored.run_mode == "template" and stored.template["name"] == "Playful"
    proc = subprocess.run([sys.executable, "-c", TEMPLATE_NET_REF, str(hoc)],
                          capture_output=True, text=True, env=serial_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    ref = np.array(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert ref.max() > 0  # the synaptic input makes it spike
    gids = np.asarray(res.traces.index["gid"])
    for gid in (0, 1):
        got = np.asarray(res.traces.data[int(np.flatnonzero(gids == gid)[0])], dtype=float)
        n = min(len(got), len(ref))
        assert n >= 3200
        np.testing.assert_allclose(got[:n], ref[:n], rtol=0, atol=1e-6)


def test_template_mode_on_two_ranks(tmp_path, monkeypatch):
    cells.write(tmp_path, "playful.hoc", cells.NEEDS_TEMPLATE)
    model = cells.write(tmp_path, "model.py", TEMPLATE_NET)
    monkeypatch.chdir(tmp_path)
    one = simulate(model, output=tmp_path / "one.h5")
    two = simulate(tmp_path / "one.h5", nprocs=2, output=tmp_path / "two.h5")
    for res in (one, two):
        assert len(res.spikes) > 0
    np.testing.assert_array_equal(np.sort(one.spikes["time"].to_numpy()),
                                  np.sort(two.spikes["time"].to_numpy()))
    gids1, gids2 = np.asarray(one.traces.index["gid"]), np.asarray(two.traces.index["gid"])
    for gid in (0, 1):
        a = one.traces.data[int(np.flatnonzero(gids1 == gid)[0])]
        b = two.traces.data[int(np.flatnonzero(gids2 == gid)[0])]
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


PY_SPEC = """
from netpyne import specs
netParams = specs.NetParams()
cfg = specs.SimConfig()
cfg.duration = 120
cfg.dt = 0.025
cfg.hParams = {"celsius": 6.3, "v_init": -65}
cfg.verbose = False
netParams.importCellParams(label="L5", conds={"cellType": "L5"}, fileName="l5.py",
                           cellName="L5Cell", cellArgs={"gid": 0, "gbar_scale": 1.2})
netParams.popParams["P"] = {"cellType": "L5", "numCells": 3}
netParams.popParams["S"] = {"cellModel": "NetStim", "numCells": 3, "rate": 80, "noise": 0.5,
                            "start": 5}
netParams.synMechParams["exc"] = {"mod": "ExpSyn", "tau": 2, "e": 0}
netParams.connParams["S->P"] = {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.08, "delay": 2, "sec": "soma",
                                "loc": 0.5, "probability": 0.7}
netParams.connParams["P->P"] = {"preConds": {"pop": "P"}, "postConds": {"pop": "P"},
                                "synMech": "exc", "weight": 0.02, "delay": 3,
                                "sec": "apic_1", "loc": 0.3, "probability": 0.6}
"""


def test_python_class_import_cell_params_gives_netpyne_spikes(tmp_path, monkeypatch):
    cells.write(tmp_path, "l5.py", cells.BLUEPYOPT)
    model = cells.write(tmp_path, "model.py", PY_SPEC)
    monkeypatch.chdir(tmp_path)
    net = nethub.build(*nethub.load_spec(model))
    assert list(net.cell_types["L5"].sections) == ["soma", "apic_0", "apic_1", "dend"]
    res = simulate(net, output=tmp_path / "out.h5")
    t, g = res.spikes["time"].to_numpy(), res.spikes["gid"].to_numpy()
    order = np.lexsort((g, t))
    rt, rg = _netpyne_spikes(model, tmp_path)
    assert len(rt) > 5
    np.testing.assert_array_equal(np.asarray(g)[order], rg)
    np.testing.assert_allclose(np.asarray(t)[order], rt, rtol=0, atol=1e-9)


def test_import_syn_mechs(tmp_path, monkeypatch):
    cells.write(tmp_path, "l5.py", cells.BLUEPYOPT)
    model = cells.write(tmp_path, "model.py", PY_SPEC.replace(
        '"gbar_scale": 1.2})', '"gbar_scale": 1.2}, importSynMechs=True)'))
    monkeypatch.chdir(tmp_path)
    net = nethub.build(*nethub.load_spec(model))
    mech = net.syn_mechs["L5Cell_ExpSyn_0"]
    assert mech.model == "ExpSyn" and mech.params["tau"] == 3.0


def test_spec_template_with_its_mod_folder(tmp_path, monkeypatch):
    """``nethub run model.py``: the mechanisms in ``mod/`` beside the spec reach the import
    child and the store."""
    cells.modeldb(tmp_path)
    model = cells.write(tmp_path, "model.py", SPEC)
    monkeypatch.chdir(tmp_path)
    res = simulate(model, output=tmp_path / "out.h5")
    net = nethub.load(tmp_path / "out.h5")
    assert sorted(net.mod_files) == ["kleak.mod"]
    assert net.cell_types["PYR"].sections["soma"].mechs["kleak"]["gk"] == 2e-5
    assert net.cell_types["PYR"].mod_files == ["kleak.mod"]
    assert len(res.spikes) > 0
