"""Spike statistics and spectra on trains with analytic answers (periodic and Poisson)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nethub.analysis as na
from nethub.analysis.data import AnalysisError

from .conftest import make_network, make_results


def periodic(n_cells: int, period: float, duration: float, first_gid: int = 0,
             phase: float = 0.0):
    t = np.arange(period / 2 + phase, duration, period)
    times = np.tile(t, n_cells)
    gids = np.repeat(np.arange(first_gid, first_gid + n_cells), len(t))
    return times, gids


def poisson(n_cells: int, rate_hz: float, duration: float, first_gid: int, seed: int):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_hz * duration / 1000.0, n_cells)
    gids = np.repeat(np.arange(first_gid, first_gid + n_cells), counts)
    return rng.uniform(0, duration, counts.sum()), gids


@pytest.fixture
def two_pops(store_of):
    """E: 20 cells firing every 25 ms (40 Hz); I: 10 cells, 5 of them every 100 ms (10 Hz),
    5 silent; 1 s."""
    te, ge = periodic(20, 25.0, 1000.0)
    ti, gi = periodic(5, 100.0, 1000.0, first_gid=20)
    net = make_network({"E": 20, "I": 10})
    res = make_results(np.r_[te, ti], np.r_[ge, gi], 1000.0)
    return store_of(net, res)


def test_periodic_rates_counts_and_population_means(two_pops):
    rates = na.population_rates(two_pops)
    assert list(rates.index) == ["E", "I"]
    assert rates["E"] == pytest.approx(40.0)
    assert rates["I"] == pytest.approx(5.0)  # 5 cells at 10 Hz, 5 silent cells count
    cells = na.cell_rates(two_pops, pops=["I"])
    assert len(cells) == 10 and list(cells.index) == list(range(20, 30))
    assert cells["rate"].tolist() == [10.0] * 5 + [0.0] * 5
    # a window of 500 ms: half the spikes, the same rates
    half = na.cell_rates(two_pops, time_range=(0, 500))
    assert half.loc[0, "count"] == 20 and half.loc[0, "rate"] == pytest.approx(40.0)


def test_isi_and_cv_of_periodic_trains_are_exact(two_pops):
    st = na.isi_stats(two_pops)
    assert st.loc[0, "isi_mean"] == pytest.approx(25.0)
    assert st.loc[0, "isi_cv"] == pytest.approx(0.0, abs=1e-12)
    assert st.loc[20, "isi_mean"] == pytest.approx(100.0)
    assert np.isnan(st.loc[29, "isi_cv"]) and st.loc[29, "n_spikes"] == 0


def test_poisson_rate_and_cv_match_theory_and_elephant(store_of):
    n, rate, dur = 200, 20.0, 10_000.0
    t, g = poisson(n, rate, dur, 0, seed=1)
    path = store_of(make_network({"P": n}), make_results(t, g, dur))
    pr = na.population_rates(path)["P"]
    sigma = np.sqrt(rate * dur / 1000 * n) / (n * dur / 1000)  # sd of the mean rate
    assert abs(pr - rate) < 4 * sigma
    st = na.isi_stats(path)
    assert st["isi_cv"].mean() == pytest.approx(1.0, abs=0.03)  # exponential ISIs: CV 1
    import neo
    import quantities as pq
    from elephant.statistics import cv, isi

    for gid in (0, 17, 199):
        train = neo.SpikeTrain(np.sort(t[g == gid]) * pq.ms, t_stop=dur * pq.ms)
        assert st.loc[gid, "isi_cv"] == pytest.approx(cv(isi(train)), rel=1e-9)


def test_spike_histogram_counts_rates_and_window(two_pops):
    h = na.spike_histogram(two_pops, bin_ms=50.0, measure="count")
    assert h.shape == (20, 2) and h.index[1] == 50.0
    assert (h["E"] == 40).all()  # 20 cells x 2 spikes per 50 ms
    r = na.spike_histogram(two_pops, bin_ms=100.0)
    assert np.allclose(r["E"], 40.0) and np.allclose(r["I"], 5.0)
    w = na.spike_histogram(two_pops, bin_ms=10.0, time_range=(200, 300), pops="E",
                           measure="count")
    assert list(w.columns) == ["E"] and w.index[0] == 200.0 and w["E"].sum() == 80


def test_psd_of_periodic_population_peaks_at_its_frequency(two_pops):
    psd = na.rate_psd(two_pops, bin_ms=1.0, nperseg=1000)
    # a spike train every 25 ms is a comb: power at 40 Hz and its harmonics only
    e = psd["E"]
    assert e.iloc[1:].idxmax() % 40 == 0 and e[40.0] == pytest.approx(e.max(), rel=0.05)
    assert e[20.0] < 1e-6 * e[40.0] and e[50.0] < 1e-6 * e[40.0]
    i = psd["I"]
    assert i[10.0] == pytest.approx(i.iloc[1:].max(), rel=0.05) and i[15.0] < 1e-6 * i[10.0]


def test_psd_of_poisson_population_is_flat_at_2_rate_over_n(store_of):
    n, rate, dur = 100, 20.0, 20_000.0
    t, g = poisson(n, rate, dur, 0, seed=2)
    path = store_of(make_network({"P": n}), make_results(t, g, dur))
    psd = na.rate_psd(path, bin_ms=1.0, nperseg=500)["P"]
    band = psd[(psd.index > 20) & (psd.index < 480)]
    # white noise: binned rate variance rate/(n dt) -> one-sided density 2 rate / n (Hz^2/Hz)
    assert band.mean() == pytest.approx(2 * rate / n, rel=0.05)


def test_spectrogram_power_sits_at_the_oscillation(two_pops):
    sg = na.rate_spectrogram(two_pops, pop="E", bin_ms=1.0, freqs=[10, 20, 40, 60])
    assert sg.shape[0] == 4 and sg.index.name == "freq"
    mid = sg.loc[:, 300:700].mean(axis=1)
    assert mid.idxmax() == 40


def test_synchrony_full_and_none(store_of):
    t, g = periodic(30, 50.0, 2000.0)
    sync = store_of(make_network({"A": 30}), make_results(t, g, 2000.0))
    assert na.synchrony(sync)["A"] == pytest.approx(1.0, abs=0.05)
    t, g = poisson(30, 10.0, 2000.0, 0, seed=4)
    asyn = store_of(make_network({"A": 30}), make_results(t, g, 2000.0))
    assert na.synchrony(asyn)["A"] < 0.5


def test_in_memory_results_and_errors(two_pops):
    from nethub.store import read_network, read_results

    mem = (read_results(two_pops), read_network(two_pops))
    pd.testing.assert_series_equal(na.population_rates(mem), na.population_rates(two_pops))
    with pytest.raises(AnalysisError, match=r"unknown population\(s\) \['X'\].*valid: E, I"):
        na.population_rates(two_pops, pops=["X"])
    with pytest.raises(AnalysisError, match="empty"):
        na.cell_rates(two_pops, time_range=(5, 5))


def test_time_window_reads_only_its_spikes(two_pops):
    rd = na.open_run(two_pops)
    sp = rd.spikes(na.Selection(time_range=(100.0, 200.0)))
    assert sp["time"].min() >= 100.0 and sp["time"].max() < 200.0
    full = rd.spikes()
    expect = full[(full["time"] >= 100) & (full["time"] < 200)]
    assert len(sp) == len(expect)


def test_spikes_of_gids_that_are_not_cells_are_left_out(store_of):
    # gid 99 is a recorded stimulus source, not a cell: it must not count for any cell
    t, g = periodic(4, 100.0, 1000.0)
    path = store_of(make_network({"A": 4}), make_results(np.r_[t, 5.0, 6.0], np.r_[g, 99, 99],
                                                         1000.0))
    assert na.spike_counts(path)["count"].tolist() == [10, 10, 10, 10]
    assert na.spike_histogram(path, bin_ms=1000.0, measure="count")["A"].tolist() == [40.0]


def test_no_submodule_is_named_like_an_exported_function():
    # importing such a submodule would make the package attribute the module, not the function
    import pkgutil

    subs = {m.name for m in pkgutil.iter_modules(na.__path__)}
    assert subs & set(na.__all__) == set()
    import nethub.analysis.extracellular  # noqa: F401
    import nethub.analysis.recordings  # noqa: F401

    assert callable(na.lfp) and callable(na.traces)
