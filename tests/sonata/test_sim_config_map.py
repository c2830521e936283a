"""The simulation side of a SONATA config onto the model: clamps, reports, node sets, output,
run settings (converters/sonata_sim.py), and ``nethub convert`` keeping the RunConfig."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import nethub
from nethub.converters.sonata import sonata_to_network
from nethub.converters.sonata_sim import clamp_stims, simulation_run_config
from nethub.errors import FormatError
from nethub.formats.sonata import read_circuit

from .tiny_circuit import write_tiny_circuit


def _config(tmp_path, **extra):
    config = write_tiny_circuit(tmp_path)
    sim = json.loads(config.read_text())
    sim.update(extra)
    config.write_text(json.dumps(sim))
    return config


def test_clamps_on_cells_with_a_soma(tmp_path):
    config = _config(tmp_path, inputs={
        "steps": {"input_type": "current_clamp", "module": "IClamp", "node_set": "net",
                  "amp": [0.1, 0.2], "delay": [10.0, 50.0], "duration": 20.0},
        "vc": {"input_type": "voltage_clamp", "module": "SEClamp", "node_set": "net",
               "amp": -60.0, "delay": 5.0, "duration": 100.0, "resistance": 0.01},
        "file": {"input_type": "current_clamp", "module": "csv", "node_set": "net",
                 "input_file": "amps.csv"}})
    circ = read_circuit(config)
    # the tiny circuit's 'net' cells are IntFire1: pretend two of them have a soma
    net, _ = sonata_to_network(circ)
    cells = net.cells_df()
    cells["_virtual"] = cells["pop"] == "inp"
    cells["_point"] = ~cells["sonata.node_id"].isin([0, 1]) | cells["_virtual"]
    lost: list[str] = []
    sources, targets = clamp_stims(circ, cells, lost)
    vc = sources.pop("sonata:vc")
    assert {k: (v.model, v.params) for k, v in sources.items()} == {
        "sonata:steps:0": ("IClamp", {"amp": 0.1, "del": 10.0, "dur": 20.0}),
        "sonata:steps:1": ("IClamp", {"amp": 0.2, "del": 50.0, "dur": 20.0})}
    # BMTK's SEClamp: rs switched after each step (tests/sonata/test_clamp_files.py)
    assert vc.model == "SEClamp" and {k: v for k, v in vc.params.items()
                                      if not k.startswith("play.")} == {
        "dur1": 5.0, "amp1": 0.0, "dur2": 100.0, "amp2": -60.0, "dur3": 0.0, "amp3": 0.0,
        "rs": 1.0}
    assert vc.params["play.rs"] == [1.0, 1e21, 0.01, 1e21]
    assert targets.groupby("source")["gid"].apply(list).to_dict() == {
        "sonata:steps:0": [0, 1], "sonata:steps:1": [0, 1], "sonata:vc": [0, 1]}
    assert set(targets["sec"]) == {"soma"} and set(targets["loc"]) == {0.5}
    assert "inputs.steps: 2 point/virtual cells have no soma for the current_clamp" in lost
    # on the real (point) circuit every clamp is reported, none dropped silently
    net, lost = sonata_to_network(circ)
    # module 'csv' is not BMTK's spelling (module IClamp, input_type csv): reported
    assert "input 'file': input_type 'current_clamp' module 'csv' not carried" in lost
    assert not net.stim_sources and len(net.stim_targets) == 0
    assert "inputs.vc: 4 point/virtual cells have no soma for the voltage_clamp" in lost


def test_clamp_section_index_range_is_noted(tmp_path):
    config = _config(tmp_path, inputs={"ranged": {
        "input_type": "current_clamp", "module": "IClamp", "node_set": "net", "amp": 0.1,
        "delay": 1.0, "duration": 2.0, "section_name": "dend", "section_index": [50.0, 100.0]}})
    circ = read_circuit(config)
    net, _ = sonata_to_network(circ)
    cells = net.cells_df()
    cells["_virtual"] = cells["pop"] == "inp"
    cells["_point"] = cells["_virtual"]
    lost: list[str] = []
    _, targets = clamp_stims(circ, cells, lost)
    assert set(targets["sec"]) == {"dend"}
    assert "inputs.ranged: section_index [50.0, 100.0] (a distance range BMTK draws a " \
        "section from) not drawn; placed on dend[0]" in lost


def test_bad_clamp_lists(tmp_path):
    config = _config(tmp_path, inputs={"steps": {
        "input_type": "current_clamp", "module": "IClamp", "node_set": "net",
        "amp": [0.1, 0.2], "delay": [10.0, 20.0, 30.0], "duration": 20.0}})
    with pytest.raises(FormatError, match="'delay' has 3 values; the clamp has 2"):
        sonata_to_network(read_circuit(config))


def test_reports_output_and_run(tmp_path):
    config = _config(tmp_path, reports={
        "v_soma": {"module": "membrane_report", "variable_name": "v", "cells": "net",
                   "sections": "soma", "dt": 0.5, "start_time": 10.0, "end_time": 100.0,
                   "file_name": "soma_v.h5"},
        "v_all": {"module": "membrane_report", "variable_name": ["v", "cai"],
                  "cells": {"population": "net", "node_id": [1]}, "sections": "all"},
        "lfp": {"module": "ecp", "electrode_positions": "electrodes.csv"},
        "syns": {"module": "save_synapses"}})
    circ = read_circuit(config)
    net, lost = sonata_to_network(circ)
    cells = net.cells_df()
    cells["_virtual"] = cells["pop"] == "inp"
    cells["_point"] = cells["_virtual"]  # pretend the 'net' cells are biophysical
    lost2: list[str] = []
    rc = simulation_run_config(circ, cells, lost2)
    soma, every, cai = rc.traces
    assert (soma.label, soma.variable, soma.sec, soma.all_segments, soma.step, soma.start,
            soma.end) == ("sonata:v_soma", "v", "soma", False, 0.5, 10.0, 100.0)
    assert soma.cells.gids == (0, 1, 2, 3)
    assert (every.sec, every.all_segments, every.cells.gids) == (None, True, (1,))
    assert (cai.label, cai.variable, cai.all_segments, every.start, every.variable) == (
        "sonata:v_all.cai", "cai", True, 0.025, "v")  # BMTK's first row: after one step
    assert any(s.startswith("reports.v_all: variables ['v', 'cai']: one report file each")
               for s in lost2)
    assert any(s.startswith("reports.v_soma: dt 0.5 > run.dt") for s in lost2)
    assert any(s.startswith("reports.lfp: ECP") for s in lost2)
    assert "reports.syns: module 'save_synapses' not recorded" in lost2
    files = rc.extras["output_files"]
    assert files[0] == {"path": str(tmp_path / "output" / "spikes.h5"), "kind": "events",
                        "format": "sonata", "sort": "by_time",
                        "cells": {"all": False, "gids": [], "populations": ["net"],
                                  "pop_cells": []}}
    assert [(f["path"], f["columns"]) for f in files[1:]] == [
        (str(tmp_path / "output" / "soma_v.h5"), [{"id": "v_soma", "trace": "sonata:v_soma"}]),
        (str(tmp_path / "output" / "v_all.h5"), [{"id": "v_all", "trace": "sonata:v_all"}]),
        (str(tmp_path / "output" / "v_all_cai.h5"),
         [{"id": "v_all.cai", "trace": "sonata:v_all.cai"}])]
    assert rc.extras["sonata"]["output_dir"] == str(tmp_path / "output")
    assert (rc.duration, rc.dt, rc.temperature, rc.v_init, rc.seeds) == (
        200.0, 0.025, 34.0, -80.0, {"stim": 0, "cell": 0})
    assert rc.extras["sonata"]["run"] == {"nsteps_block": 1000}
    # on the real circuit the point cells are not recorded, and that is reported
    assert "reports.v_soma: 4 point/virtual cells not recorded (BMTK records reports on " \
        "biophysical cells only)" in lost


def test_convert_keeps_the_run_config(tmp_path):
    config = _config(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "nethub", "convert", str(config),
                           str(tmp_path / "model.h5")], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    net = nethub.load(tmp_path / "model.h5")
    assert net.run_config.duration == 200.0 and net.run_config.temperature == 34.0
    circuit_only = tmp_path / "circuit" / "circuit_config.json"
    assert nethub.load(circuit_only).run_config is None  # no run: nothing to arrive with


def test_node_sets_in_inputs(tmp_path):
    config = _config(tmp_path)
    circ = read_circuit(config)
    circ.node_sets.update({"two": {"population": "net", "node_id": [1, 3]},
                           "e_cells": {"population": "net", "ei": "e"},
                           "both": ["two", "e_cells"]})
    assert circ.select("both")["net"].tolist() == [0, 1, 3]
    assert circ.select("all")["inp"].tolist() == [0, 1, 2]
    assert circ.select("inp")["inp"].tolist() == [0, 1, 2]  # a bare population name
    with pytest.raises(FormatError, match="unknown node set 'nope'"):
        circ.select("nope")
