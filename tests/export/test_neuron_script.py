"""A store written as a plain-NEURON script (format ``neuron-script``, ``nethub convert STORE
NET.neuron.py``): run with plain Python + NEURON (no nethub), it gives the spikes (bit for bit)
and traces of the ``nethub run`` stored with the model, in exact mode, for NetPyNE's HHTut
(HH cells, NetStim background, convergent connections with thresholds), HybridTut (HH and
Izhikevich cells, .mod files compiled by the script itself), tut2 (per-cell values of cellParams
expressions) and tut_artif (NetStim, VecStim, IntFire2/4 cells)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import nethub
from nethub.cli import main as cli
from nethub.converters.neuron_script import neuron_script
from nethub.errors import ConversionError, FormatError
from nethub.runconfig import RunConfig

from .conftest import TUTORIALS, serial_env

pytestmark = pytest.mark.neuron


def _run_script(path):
    out = path.with_suffix(".json")
    proc = subprocess.run([sys.executable, "-I", str(path), str(out)], capture_output=True,
                          text=True, env=serial_env(), cwd=path.parent, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def _store(tmp_path, model, duration):
    net = nethub.build(*nethub.load_spec(TUTORIALS / model))
    mods = TUTORIALS / model / "mod"
    if mods.is_dir():
        net = net.replace(mod_files={p.name: p.read_text() for p in sorted(mods.glob("*.mod"))})
    store = tmp_path / f"{model}.h5"
    res = nethub.simulate(net, {"duration": duration, "nethubExact": True}, output=store,
                          trusted=True)
    return store, res


@pytest.mark.parametrize("model,duration", [("HHTut", 200), ("HybridTut", 150),
                                            ("doc_code/tut2.py", 100),
                                            ("doc_code/tut_artif.py", 100)])
def test_script_gives_nethub_spikes(tmp_path, model, duration):
    store, res = _store(tmp_path, model, duration)
    script = tmp_path / "net.neuron.py"
    assert cli(["convert", str(store), str(script)]) == 0  # chosen by the .neuron.py suffix
    text = script.read_text()
    assert "nethub" not in text.split('"""')[2]  # the code imports no nethub
    got = _run_script(script)
    assert len(res.spike_times) > 50
    np.testing.assert_array_equal(got["spike_times"], res.spike_times)
    np.testing.assert_array_equal(got["spike_gids"], res.spike_gids)
    idx = res.traces.index
    traces = {(str(lab), int(g)): res.traces.data[i] for i, (lab, g) in
              enumerate(zip(idx["label"].values(), idx["gid"]))}
    mine = [t for t in got["traces"] if (t["label"], t["gid"]) in traces]
    assert len(mine) == len(got["traces"])
    assert mine or model.endswith("tut_artif.py")  # its traces are of artificial cells
    for t in mine:
        np.testing.assert_array_equal(t["values"], traces[(t["label"], t["gid"])])
    if model.endswith("tut2.py"):  # per-cell values of cellParams expressions
        assert "_own(own, 'secs.soma.geom.diam', None)" in text
    if model.endswith("tut_artif.py"):  # VecStim: NEURON's vecevent.mod, as nethub ships it
        assert (tmp_path / "net_mod" / "vecevent.mod").exists()
    if model == "HybridTut":
        assert (tmp_path / "net_mod" / "izhi2007b.mod").exists()
        assert sum(1 for t in got["traces"] if t["label"] == "V") < len(traces)  # u, I: lost


def test_needs_a_run(tmp_path):
    net = nethub.build(*nethub.load_spec(TUTORIALS / "HHTut"))
    store = tmp_path / "m.h5"
    nethub.save(net, store)
    with pytest.raises(FormatError, match="run the store first"):
        nethub.convert(store, tmp_path / "m.neuron.py")
    cfg = tmp_path / "run.json"
    cfg.write_text(RunConfig(duration=5.0).to_json())
    nethub.convert(store, tmp_path / "m.neuron.py", write_options={"run_config": str(cfg)})
    assert "'duration': 5.0" in (tmp_path / "m.neuron.py").read_text()


def test_refuses_what_it_cannot_reproduce():
    net = nethub.build(*nethub.load_spec(TUTORIALS / "HHTut"))
    net.cells["rot_y"] = np.linspace(0, 1, len(net.cells))
    with pytest.raises(ConversionError, match=r"per-cell rotations \(rot_y\)"):
        neuron_script(net, RunConfig())
    net = nethub.build(*nethub.load_spec(TUTORIALS / "HHTut"))
    with pytest.raises(ConversionError, match="oneSynPerNetcon=False"):
        neuron_script(net, RunConfig(share_synapses=True))
    assert "synapse merging" in neuron_script(net, RunConfig()).lost[0]


def test_api_of_an_unrun_model(tmp_path):
    """``nethub.export_neuron_script`` takes the run ``nethub run`` would make (the stored
    simConfig with overrides); ``nethub.export_cell`` writes one cell type."""
    net = nethub.build(*nethub.load_spec(TUTORIALS / "HHTut"))
    script = tmp_path / "hh.neuron.py"
    lost = nethub.export_neuron_script(net, script, {"duration": 40, "nethubExact": True})
    assert lost == []
    res = nethub.simulate(net, {"duration": 40, "nethubExact": True}, output=tmp_path / "r.h5")
    got = _run_script(script)
    np.testing.assert_array_equal(got["spike_times"], res.spike_times)
    np.testing.assert_array_equal(got["spike_gids"], res.spike_gids)
    hoc = nethub.export_cell(net, "PYR", tmp_path / "pyr.hoc")
    assert hoc.read_text().count("begintemplate PYR") == 1
    py = nethub.export_cell(net, "PYR", tmp_path / "pyr.py", name="Pyr")
    assert "class Pyr:" in py.read_text()
    with pytest.raises(ConversionError, match="no cell type 'X'"):
        nethub.export_cell(net, "X", tmp_path / "x.hoc")


def test_current_clamp_on_a_hand_built_type(tmp_path):
    """IClamp stimuli, odd section names, per-segment values, ions, point processes and vinit
    (the hand-built type of the template tests) in a script: nethub's spikes and trace."""
    from .conftest import clamp_network
    from .test_hoc_export import _hand_type

    net = clamp_network(_hand_type())
    res = nethub.simulate(net, {"nethubExact": True}, output=tmp_path / "r.h5")
    script = tmp_path / "hand.neuron.py"
    nethub.convert(tmp_path / "r.h5", script)
    got = _run_script(script)
    assert len(res.spike_times) > 0
    np.testing.assert_array_equal(got["spike_times"], res.spike_times)
    np.testing.assert_array_equal(got["traces"][0]["values"], res.traces.data[0])
