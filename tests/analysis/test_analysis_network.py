"""Connectivity matrices against counts from the connection table; traces, STA, f–I."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nethub.analysis as na
from nethub.analysis.data import AnalysisError

from .conftest import make_network, make_results, make_traces


@pytest.fixture
def wired(store_of):
    rng = np.random.default_rng(0)
    sizes = {"E": 8, "I": 4, "S": 3}
    n = sum(sizes.values())
    m = 120
    pre = rng.integers(0, n, m)
    post = rng.integers(0, n - 3, m)  # S (gids 12-14) only projects
    keep = pre != post
    conns = {"pre_gid": np.r_[pre[keep], 999], "post_gid": np.r_[post[keep], 0],
             "syn_mech": ["syn"] * (keep.sum() + 1),
             "weight": np.r_[rng.uniform(0.1, 1.0, keep.sum()), 5.0],
             "delay": np.r_[rng.uniform(1, 3, keep.sum()), 1.0]}
    net = make_network(sizes, conns)
    return store_of(net), net


def _table(net) -> pd.DataFrame:
    c = net.connections.to_pandas()
    cells = net.cells.to_pandas().set_index("gid")["pop"].astype(str)
    c = c[c["pre_gid"].isin(cells.index)]  # 999 is not a cell (a stimulus source)
    c["pre_pop"] = cells.loc[c["pre_gid"]].to_numpy()
    c["post_pop"] = cells.loc[c["post_gid"]].to_numpy()
    return c


def test_population_matrices_match_the_connection_table(wired):
    path, net = wired
    c = _table(net)
    pops = ["E", "I", "S"]
    size = {"E": 8, "I": 4, "S": 3}
    count = pd.crosstab(c["pre_pop"], c["post_pop"]).reindex(index=pops, columns=pops,
                                                              fill_value=0)
    got = na.connectivity_matrix(path, "count")
    assert got.values.tolist() == count.values.astype(float).tolist()
    mean_w = c.groupby(["pre_pop", "post_pop"])["weight"].mean()
    w = na.connectivity_matrix(path, "weight")
    for (a, b), v in mean_w.items():
        assert w.loc[a, b] == pytest.approx(v)
    assert w.loc["E", "S"] == 0.0
    prob = na.connectivity_matrix(path, "probability")
    conv = na.connectivity_matrix(path, "convergence")
    div = na.connectivity_matrix(path, "divergence")
    strength = na.connectivity_matrix(path, "strength")
    for a in pops:
        for b in pops:
            k = count.loc[a, b]
            pairs = size[a] * size[b] - (size[a] if a == b else 0)
            assert prob.loc[a, b] == pytest.approx(k / pairs)
            assert conv.loc[a, b] == pytest.approx(k / size[b])
            assert div.loc[a, b] == pytest.approx(k / size[a])
            assert strength.loc[a, b] == pytest.approx(k / pairs * w.loc[a, b])


def test_cell_matrix_and_selection(wired):
    path, net = wired
    c = _table(net)
    m = na.connectivity_matrix(path, "count", level="cell", pops=["E", "I"])
    assert list(m.index) == list(range(12))
    sub = c[c["pre_gid"].lt(12) & c["post_gid"].lt(12)]
    expect = pd.crosstab(sub["pre_gid"], sub["post_gid"]).reindex(
        index=range(12), columns=range(12), fill_value=0)
    assert m.values.tolist() == expect.values.astype(float).tolist()
    ws = na.connectivity_matrix(path, "weight", level="cell")
    assert ws.values.sum() == pytest.approx(c["weight"].sum())
    with pytest.raises(ValueError, match="valid: count, weight"):
        na.connectivity_matrix(path, "strenght")


@pytest.fixture
def recorded(store_of):
    time = np.arange(0, 1000, 0.5)
    rows = [("V_soma", 0), ("V_soma", 1), ("I_syn", 0)]
    data = np.vstack([np.sin(2 * np.pi * time / 100.0), np.cos(2 * np.pi * time / 100.0),
                      time / 1000.0])
    # cell 2 spikes at each peak of cell 0's sine (t = 25 + 100 k)
    spikes = np.arange(25.0, 1000, 100.0)
    res = make_results(spikes, np.full(len(spikes), 2), 1000.0,
                       make_traces(rows, time, data), recordStep=0.5)
    return store_of(make_network({"E": 3}), res)


def test_traces_selection_reads_rows_and_window(recorded):
    tr = na.traces(recorded, labels="V_soma", gids=[1], time_range=(100, 200))
    assert list(tr.columns) == [("V_soma", 1)]
    assert tr.index[0] == 100.0 and tr.index[-1] == 199.5
    assert np.allclose(tr[("V_soma", 1)], np.cos(2 * np.pi * tr.index.to_numpy() / 100.0))
    both = na.traces(recorded)
    assert both.shape == (2000, 3)
    with pytest.raises(AnalysisError, match="recorded: I_syn, V_soma"):
        na.traces(recorded, labels=["V_dend"])


def test_spike_triggered_average_of_phase_locked_spikes(recorded):
    sta = na.spike_triggered_average(recorded, "V_soma", 0, pops=["E"], gids=[2],
                                     window=(-25.0, 25.0))
    lags = sta.index.to_numpy()
    assert np.allclose(sta.to_numpy(), np.sin(2 * np.pi * (lags + 25.0) / 100.0), atol=1e-9)


def test_fi_curve_from_runs(store_of):
    net = make_network({"E": 4})
    runs = [make_results(np.arange(0.5, 1000, 1000 / k).repeat(4), np.tile(np.arange(4), k),
                         1000.0) for k in (5, 10, 20)]
    path = store_of(net, *runs)
    fi = na.fi_curve(path, [0.1, 0.2, 0.3], [0, 1, 2])
    assert fi["rate"].tolist() == [5.0, 10.0, 20.0]
