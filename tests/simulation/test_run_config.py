"""Runs configured by a RunConfig (nethub.runconfig): given directly or mapped from the stored
simConfig, handed to launched ranks as JSON, and stored with each run (``run_config``)."""

from __future__ import annotations

import dataclasses

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
