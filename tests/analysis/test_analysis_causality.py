"""Granger causality and nTE on synthetic processes with known direction, strength and nulls."""

from __future__ import annotations

import numpy as np
import pytest

import nethub.analysis as na

from .conftest import make_network, make_results


def coupled_ar(n: int, c: float, seed: int):
    """x white noise; y_t = 0.5 y_t-1 + c x_t-1 + e_t (unit variances)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    e = rng.normal(size=n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.5 * y[t - 1] + c * x[t - 1] + e[t]
    return x, y


def test_granger_direction_and_analytic_strength():
    x, y = coupled_ar(20_000, 0.8, seed=1)
    g = na.granger(x, y, max_order=5)
    # var(y | y past) = 1 + c^2, var(y | y, x past) = 1: GC = log(1 + c^2)
    assert g["x->y"] == pytest.approx(np.log(1 + 0.8 ** 2), abs=0.03)
    assert abs(g["y->x"]) < 0.01


def test_granger_null_of_independent_processes():
    rng = np.random.default_rng(5)
    g = na.granger(rng.normal(size=10_000), rng.normal(size=10_000), max_order=5)
    assert abs(g["x->y"]) < 0.01 and abs(g["y->x"]) < 0.01


def test_spectral_granger_favours_the_true_direction():
    x, y = coupled_ar(8_000, 0.8, seed=2)
    s = na.spectral_granger(x, y, fs=1000.0, len_segment=128)
    assert s.index.name == "freq" and s.index.min() >= 0
    assert s["x->y"].mean() > 2 * s["y->x"].mean()
    # the spectral estimate averages to about the time-domain value in the true direction
    assert s["x->y"].mean() == pytest.approx(np.log(1 + 0.8 ** 2), rel=0.25)


def test_transfer_entropy_of_a_noisy_copy_is_known():
    rng = np.random.default_rng(7)
    n, flip = 20_000, 0.1
    x = rng.integers(0, 2, n)
    y = np.r_[0, x[:-1]]
    y = np.where(rng.random(n) < flip, 1 - y, y)
    # y_t+1 = x_t with prob 0.9: TE = H(y_t+1|y_t) - H(y_t+1|y_t,x_t) = 1 - H_b(0.1) bits
    hb = -(flip * np.log2(flip) + (1 - flip) * np.log2(1 - flip))
    assert na.transfer_entropy(x, y) == pytest.approx(1 - hb, abs=0.02)
    fwd = na.normalized_transfer_entropy(x, y, n_shuffle=10)
    back = na.normalized_transfer_entropy(y, x, n_shuffle=10)
    assert fwd["nte"] == pytest.approx(1 - hb, abs=0.02)  # H(y_t+1 | y_t) = 1 bit here
    assert abs(back["nte"]) < 0.01
    null = na.normalized_transfer_entropy(x, rng.integers(0, 2, n), n_shuffle=10)
    assert abs(null["nte"]) < 0.01


@pytest.fixture
def driven(store_of):
    """A: 4 Poisson cells at 12.5 Hz (about one spike per 20 ms bin: a small alphabet for
    the entropy estimates); B: copies of A's spikes 20 ms later (each with prob 0.8, onto 4
    cells) + 2.5 Hz background; C: independent Poisson at 12.5 Hz. 60 s."""
    rng = np.random.default_rng(11)
    dur = 60_000.0
    na_, nb, nc = 4, 4, 4
    ka = rng.poisson(12.5 * dur / 1000, na_)
    ta = rng.uniform(0, dur, ka.sum())
    ga = np.repeat(np.arange(na_), ka)
    copy = rng.random(len(ta)) < 0.8
    tb_copy = ta[copy] + 20.0
    gb_copy = na_ + rng.integers(0, nb, copy.sum())
    kb = rng.poisson(2.5 * dur / 1000, nb)
    tb = np.r_[tb_copy, rng.uniform(0, dur, kb.sum())]
    gb = np.r_[gb_copy, na_ + np.repeat(np.arange(nb), kb)]
    kc = rng.poisson(12.5 * dur / 1000, nc)
    tc = rng.uniform(0, dur, kc.sum())
    gc = na_ + nb + np.repeat(np.arange(nc), kc)
    t, g = np.r_[ta, tb, tc], np.r_[ga, gb, gc]
    keep = t < dur
    net = make_network({"A": na_, "B": nb, "C": nc})
    return store_of(net, make_results(t[keep], g[keep], dur))


def test_nte_matrix_finds_the_driven_population(driven):
    m = na.nte_matrix(driven, bin_ms=20.0, n_shuffle=5)
    assert list(m.index) == ["A", "B", "C"] and np.isnan(m.loc["A", "A"])
    assert m.loc["A", "B"] > 0.05
    for a, b in (("B", "A"), ("A", "C"), ("C", "A"), ("C", "B")):
        assert abs(m.loc[a, b]) < 0.5 * m.loc["A", "B"] and abs(m.loc[a, b]) < 0.02, (a, b)


def test_granger_matrix_finds_the_driven_population(driven):
    m = na.granger_matrix(driven, bin_ms=20.0, max_order=3)
    assert m.loc["A", "B"] > 0.1
    for a, b in (("B", "A"), ("A", "C"), ("C", "A")):
        assert abs(m.loc[a, b]) < 0.02, (a, b)
