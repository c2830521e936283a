"""Runs configured by a RunConfig (nethub.runconfig): given directly or mapped from the stored
simConfig, handed to launched ranks as JSON, and stored with each run (``run_config``)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import nethub
from nethub.runconfig import CellSelection, RunConfig, TraceRequest
from nethub.runner import simulate, store_run_config

pytestmark = pytest.mark.neuron


def test_a_runconfig_runs_as_its_simconfig_does(example_store, tmp_path):
    cfg = {"duration": 30.0, "recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"}},
           "recordCells": [0, 5], "nethubCoreneuron": False}
    mapped = simulate(example_store, cfg, output=tmp_path / "mapped.h5")
    rc = store_run_config(example_store, cfg)
    assert rc.traces == (TraceRequest("V", "v", sec="soma", loc=0.5),)
    assert mapped.run_config == rc.to_dict()  # stored with the run, read back
    plain = RunConfig(duration=30.0, engine="neuron", traces=rc.traces,
                      trace_cells=CellSelection(gids=(0, 5)), seeds=rc.seeds,
                      temperature=rc.temperature, v_init=rc.v_init)
    direct = simulate(example_store, plain, output=tmp_path / "direct.h5")
    assert len(mapped.spike_times) > 0
    np.testing.assert_array_equal(direct.spike_times, mapped.spike_times)
    np.testing.assert_array_equal(direct.spike_gids, mapped.spike_gids)
    np.testing.assert_array_equal(direct.traces.data, mapped.traces.data)
    assert direct.sim_config == {} and direct.duration == 30.0
    assert RunConfig.from_dict(nethub.load_results(tmp_path / "direct.h5").run_config) == plain


def test_launched_ranks_get_the_runconfig(example_store, tmp_path):
    """A job run as a child process (timeout) receives the RunConfig as JSON: same run."""
    rc = RunConfig(duration=20.0, engine="neuron", record_spikes=CellSelection(
        populations=("E",)), spike_threshold=-10.0, run_meta={"note": "mine"})
    here = simulate(example_store, rc, output=tmp_path / "here.h5")
    child = simulate(example_store, rc, output=tmp_path / "child.h5", timeout=300)
    assert child.meta["note"] == "mine"  # the stored RunConfig says how it was run:
    assert RunConfig.from_dict(child.run_config) == dataclasses.replace(rc, timeout=300.0)
    np.testing.assert_array_equal(child.spike_times, here.spike_times)
    np.testing.assert_array_equal(child.spike_gids, here.spike_gids)
    pops = nethub.load(example_store).cells_df().set_index("gid")["pop"]
    assert set(pops[np.unique(here.spike_gids)]) == {"E"}


def test_run_config_file_on_the_command_line(example_store, tmp_path, capsys):
    """A RunConfig written by hand runs a store (``nethub run --run-config``); its MPI options
    come from the file and the flags, and the stored run says how it ran."""
    from nethub.cli import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps({
        "duration": 20, "engine": "neuron", "nranks": 2, "traces": [
            {"label": "V", "variable": "_ref_v", "sec": "soma", "cells": {"gids": [0, 5]}},
            {"label": "Vw", "variable": "v", "sec": "soma", "step": 0.5, "start": 5,
             "end": 15, "cells": {"populations": ["E"]}}]}))
    out = tmp_path / "out.h5"
    assert main(["run", str(example_store), "--run-config", str(path), "--cost-model",
                 "count", "-o", str(out)]) == 0
    res = nethub.load_results(out)
    stored = RunConfig.from_dict(res.run_config)
    assert (res.nranks, stored.nranks, stored.cost_model) == (2, 2, "count")
    assert stored.traces[0].variable == "v" and len(res.traces) == 2
    win = res.trace_groups["dt_0.5_from_5.0_to_15.0"]
    np.testing.assert_array_equal(win.time, np.arange(10, 31) * 0.5)
    pops = nethub.load(example_store).cells_df().set_index("gid")["pop"]
    assert set(pops[np.unique(win.index["gid"])]) == {"E"}
    capsys.readouterr()
    path.write_text(json.dumps({"duration": 20, "traces": [{"label": "V", "step": 0}]}))
    assert main(["run", str(example_store), "--run-config", str(path), "-o", str(out)]) == 1
    assert f"{path}: RunConfig.traces[0].step: expected finite positive" in capsys.readouterr().err
    assert main(["run", str(example_store), "--run-config", str(path), "--exact"]) == 2
    assert "--exact cannot be combined with it" in capsys.readouterr().err
