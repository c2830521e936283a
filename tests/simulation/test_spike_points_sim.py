"""Connections listening to ``v`` at their own presynaptic point (``spike_sec`` /
``spike_loc``, :mod:`nethub.sim.spikepoints`) on NEURON, CoreNEURON and 2 ranks: a cell with
several output sources (PreSyns at different nodes) gives the same spikes everywhere, the
points change the targets' spikes, and the extra sources' spikes are not the cells'."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
from nethub.schemachecks import check_column_names
from nethub.table import Categorical

from .test_plain_neuron import spec

pytestmark = pytest.mark.neuron


@pytest.fixture(scope="module")
def nets():
    net_params, cfg = spec()
    plain = nethub.build(net_params, cfg)
    net = nethub.build(net_params, cfg)
    c = net.connections
    pre = np.asarray(c["pre_gid"])
    # rows from gids 1 and 2 listen at the far end of the passive dendrite (node 4 of 5) and
    # at the soma's 0 end; the others keep the detector (soma(0.5))
    on = np.isin(pre, [1, 2])
    c["spike_sec"] = Categorical.from_values(np.where(on, np.where(pre == 1, "dend", "soma"),
                                                      None).tolist())
    c["spike_loc"] = np.where(on, np.where(pre == 1, 0.9, 0.0), np.nan)
    return plain, net


def _spikes(net, tmp_path, name: str, nprocs: int = 1, engine: str = "neuron", **cfg
            ) -> np.ndarray:
    res = nethub.simulate(net, cfg, nprocs=nprocs, output=tmp_path / name)
    assert res.meta["engine"] == engine
    got = np.column_stack([res.spike_times, res.spike_gids])
    return got[np.lexsort((got[:, 1], got[:, 0]))]


def test_points_on_neuron_coreneuron_and_two_ranks(nets, tmp_path):
    plain, net = nets
    ref = _spikes(net, tmp_path, "n.h5", nethubCoreneuron=False)
    assert set(ref[:, 1].astype(int).tolist()) <= {0, 1, 2, 3} and len(ref) > 20
    base = _spikes(plain, tmp_path, "p.h5", nethubCoreneuron=False)
    assert not np.array_equal(ref, base)  # the points move the targets' spikes
    core = _spikes(net, tmp_path, "c.h5", engine="coreneuron", nethubCoreneuron=True)
    assert core.shape == ref.shape and np.array_equal(core[:, 1], ref[:, 1])
    assert np.max(np.abs(core[:, 0] - ref[:, 0])) <= 1e-9
    two = _spikes(net, tmp_path, "two.h5", nprocs=2, nethubExact=True)
    one = _spikes(net, tmp_path, "one.h5", nethubExact=True)
    assert np.array_equal(two, one)
    assert one.shape == ref.shape and np.max(np.abs(one[:, 0] - ref[:, 0])) <= 1e-9


def test_store_check_wants_the_declared_kinds():
    """``spike_sec`` is a category column, ``spike_loc`` a float one (hub/schemachecks.py)."""
    found: list[str] = []
    cols = {"spike_sec": "p/sec", "spike_loc": "p/loc"}
    check_column_names(lambda p, m: found.append(m), lambda p, m: None, "connections", cols,
                       {"spike_sec": "category", "spike_loc": "float64"})
    assert found == []
    check_column_names(lambda p, m: found.append(m), lambda p, m: None, "connections", cols,
                       {"spike_sec": "float64", "spike_loc": "category"})
    assert found == ["'spike_sec' must be a category column, found float64",
                     "'spike_loc' must be a numeric column, found category"]
