"""``Network.run_config``: stored at /model/run_config, outside the content hash, used by
``nethub.runner.store_run_config`` with the run's overrides on top."""

from __future__ import annotations

import h5py
import numpy as np

from nethub.celltypes import PointCell, Population
from nethub.network import Network
from nethub.runconfig import RunConfig, TraceRequest
from nethub.runner import store_run_config
from nethub.store import read_network, write_network


def _net(run_config=None) -> Network:
    net = Network(cell_types={"c": PointCell(name="c", model="IntFire1")},
                  populations={"p": Population("p", "c", 2)},
                  cells={"gid": np.arange(2), "pop": ["p", "p"], "cell_type": ["c", "c"],
                         "x": np.zeros(2), "y": np.zeros(2), "z": np.zeros(2)},
                  run_config=run_config)
    return net


RC = RunConfig(duration=123.0, dt=0.05, temperature=34.0, v_init=-70.0, seeds={"stim": 5},
               traces=(TraceRequest(label="v"),))


def test_run_config_round_trips_and_is_not_hashed(tmp_path):
    with_rc, without = _net(RC), _net()
    assert with_rc.content_hash() == without.content_hash()
    assert not with_rc.equals(without)
    write_network(with_rc, tmp_path / "a.h5")
    write_network(without, tmp_path / "b.h5")
    back = read_network(tmp_path / "a.h5")
    assert back.run_config == RC and back.equals(with_rc)
    assert read_network(tmp_path / "b.h5").run_config is None
    with h5py.File(tmp_path / "a.h5") as f:
        assert "run_config" in f["model"]
    with h5py.File(tmp_path / "b.h5") as f:
        assert "run_config" not in f["model"]  # older stores look the same: None


def test_store_run_config_uses_it_with_overrides(tmp_path):
    write_network(_net(RC), tmp_path / "a.h5")
    assert store_run_config(tmp_path / "a.h5") == RC
    got = store_run_config(tmp_path / "a.h5", {"duration": 50.0, "dt": 0.1,
                                                "hParams": {"celsius": 6.3},
                                                "nethubCoreneuron": False})
    assert (got.duration, got.dt, got.temperature, got.engine) == (50.0, 0.1, 6.3, "neuron")
    # what the overrides do not name stays the model's
    assert (got.v_init, got.seeds, got.traces) == (RC.v_init, RC.seeds, RC.traces)
    assert got.run_meta["run_overrides"]["duration"] == 50.0
    # a model without one runs with the NetPyNE defaults as before
    write_network(_net(), tmp_path / "b.h5")
    assert store_run_config(tmp_path / "b.h5").duration == 1000.0
