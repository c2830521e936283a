"""Unit tests of nethub.rng: counter-based, stateless random streams."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from scipy import stats

from nethub import rng

logger = logging.getLogger(__name__)

N = 100_000
KEY = rng.stream_key(1234, "test", "rng")
IDS = np.arange(N, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------
def test_stream_key_is_pinned_across_platforms():
    # Golden values: a change here changes every network nethub has ever built.
    assert int(rng.stream_key(1, "conn", "E->I")) == 0x206F20A123B94A8D
    assert rng.uniform(rng.stream_key(1), np.arange(3)).tolist() == pytest.approx(
        [0.3698918468000493, 0.15426195795804876, 0.48625766828766415], abs=0, rel=0
    )


def test_stream_key_distinguishes_labels():
    keys = {
        int(rng.stream_key(*args))
        for args in [
            (1,),
            (2,),
            (1, "a"),
            (1, "b"),
            (1, "ab", "c"),
            (1, "a", "bc"),
            (1, 1),
            (1, "1"),
            (1, "a", "b"),
            (1, "b", "a"),
            (-1,),
        ]
    }
    assert len(keys) == 11
    assert rng.stream_key(np.int64(5), "x") == rng.stream_key(5, "x")
    assert isinstance(rng.stream_key(1), np.uint64)


@pytest.mark.parametrize("bad", [1.5, True, "1", None])
def test_stream_key_rejects_non_int_seed(bad):
    with pytest.raises(TypeError):
        rng.stream_key(bad)


def test_stream_key_rejects_bad_labels():
    with pytest.raises(TypeError):
        rng.stream_key(1, 2.5)
    with pytest.raises(ValueError):
        rng.stream_key(1, 1 << 200)


def test_derive_key_and_stream_child():
    parent = rng.KeyedStream(7, "conn")
    child = parent.child("weight")
    assert child != parent
    assert child == rng.KeyedStream.from_key(rng.derive_key(parent.key, "weight"))
    assert child.key != rng.stream_key(7, "conn", "weight")  # child != sibling label path
    assert hash(child) == hash(rng.KeyedStream.from_key(child.key))
    assert "KeyedStream.from_key(0x" in repr(child)
    with pytest.raises(ValueError):
        rng.KeyedStream.from_key(-1)


# ---------------------------------------------------------------------------------------------
# uniform and hashing
# ---------------------------------------------------------------------------------------------
def test_uniform_range_dtype_and_shapes():
    u = rng.uniform(KEY, IDS)
    assert u.dtype == np.float64 and u.shape == (N,)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert rng.uniform(KEY).shape == ()
    assert rng.uniform(KEY, 3).shape == ()
    grid = rng.uniform(KEY, np.arange(4)[:, None], np.arange(5))
    assert grid.shape == (4, 5)
    assert grid[2, 3] == rng.uniform(KEY, 2, 3)
    # 53-bit mantissa: values are multiples of 2**-53, and use the low bits
    assert np.all((u * 2.0**53) % 1 == 0)
    assert np.any((u * 2.0**52) % 1 != 0)


def test_uniform_scalar_counters_match_array_counters():
    arr = rng.uniform(KEY, np.array([5, 6]), np.array([9, 9]), draw=3)
    assert arr[0] == rng.uniform(KEY, 5, 9, draw=3)
    assert arr[1] == rng.uniform(KEY, 6, 9, draw=3)
    assert np.array_equal(arr, rng.uniform(KEY, np.array([5, 6]), 9, draw=3))


def test_counter_dtypes_do_not_matter_for_values():
    ref = rng.uniform(KEY, IDS[:1000])
    assert np.array_equal(ref, rng.uniform(KEY, IDS[:1000].astype(np.int32)))
    assert np.array_equal(ref, rng.uniform(KEY, IDS[:1000].astype(np.uint64)))
    assert np.array_equal(ref, rng.uniform(KEY, list(range(1000))))


def test_negative_counters_are_distinct():
    u = rng.uniform(KEY, np.arange(-500, 500))
    assert len(np.unique(u)) == 1000


def test_float_counters_are_rejected():
    with pytest.raises(TypeError, match="integers"):
        rng.uniform(KEY, np.array([1.0, 2.0]))


def test_counter_order_and_position_matter():
    a = rng.hash64(KEY, 1, 2)
    assert a != rng.hash64(KEY, 2, 1)
    assert a != rng.hash64(KEY, 1, 2, draw=1)
    assert a != rng.hash64(KEY, 1)
    assert a != rng.hash64(rng.stream_key(1234, "test", "other"), 1, 2)


def test_uniform_is_pure_under_chunking_and_reordering():
    pre = IDS % 317
    post = IDS // 317
    whole = rng.uniform(KEY, pre, post, draw=2)
    chunks = np.concatenate(
        [rng.uniform(KEY, pre[i : i + 7919], post[i : i + 7919], draw=2) for i in range(0, N, 7919)]
    )
    assert np.array_equal(whole, chunks)
    perm = np.random.default_rng(0).permutation(N)
    assert np.array_equal(whole[perm], rng.uniform(KEY, pre[perm], post[perm], draw=2))


def test_uniform_statistics():
    u = rng.uniform(KEY, IDS)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 0.002
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def _corr(a, b):
    return abs(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_streams_draws_and_neighbours_are_independent():
    limit = 5 / np.sqrt(N)
    u = rng.uniform(KEY, IDS)
    assert _corr(u[:-1], u[1:]) < limit
    assert _corr(u, rng.uniform(KEY, IDS, draw=1)) < limit
    assert _corr(u, rng.uniform(rng.stream_key(1234, "test", "rng2"), IDS)) < limit
    assert _corr(u, rng.uniform(rng.stream_key(1235, "test", "rng"), IDS)) < limit
    grid = rng.uniform(KEY, np.arange(400)[:, None], np.arange(250))
    assert _corr(grid[:-1], grid[1:]) < limit
    assert _corr(grid[:, :-1], grid[:, 1:]) < limit
    # pairs of neighbours fill the unit square evenly
    hist, _, _ = np.histogram2d(grid[:-1].ravel(), grid[1:].ravel(), bins=10)
    assert stats.chisquare(hist.ravel()).pvalue > 1e-3


def test_hash64_bits_are_balanced():
    h = rng.hash64(KEY, IDS)
    bits = np.array([((h >> np.uint64(b)) & np.uint64(1)).mean() for b in range(64)])
    assert np.all(np.abs(bits - 0.5) < 5 * 0.5 / np.sqrt(N))


def test_speed_of_ten_million_uniforms():
    ids = np.arange(10_000_000, dtype=np.int64)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        rng.uniform(KEY, ids)
        best = min(best, time.perf_counter() - t0)
    logger.info("10M uniforms (one counter): %.3f s", best)
    assert best < 1.0


# ---------------------------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------------------------
# name -> (sampler(key, counters, draw), scipy frozen distribution, discrete?)
DISTS = {
    "uniform_between": (lambda k, c, d: rng.uniform_between(k, -2, 3, c, draw=d),
                        stats.uniform(-2, 5), False),
    "normal": (lambda k, c, d: rng.normal(k, 5.0, 2.0, c, draw=d), stats.norm(5, 2), False),
    "lognormal": (lambda k, c, d: rng.lognormal(k, 0.5, 0.75, c, draw=d),
                  stats.lognorm(0.75, scale=np.exp(0.5)), False),
    "exponential": (lambda k, c, d: rng.exponential(k, 2.5, c, draw=d), stats.expon(scale=2.5),
                    False),
    "gamma": (lambda k, c, d: rng.gamma(k, 2.5, 1.5, c, draw=d), stats.gamma(2.5, scale=1.5),
              False),
    "erlang": (lambda k, c, d: rng.erlang(k, 3, 0.5, c, draw=d), stats.gamma(3, scale=0.5),
               False),
    "weibull": (lambda k, c, d: rng.weibull(k, 1.5, 2.0, c, draw=d),
                stats.weibull_min(1.5, scale=2.0), False),
    "triangular": (lambda k, c, d: rng.triangular(k, 1.0, 2.0, 5.0, c, draw=d),
                   stats.triang(0.25, loc=1.0, scale=4.0), False),
    "poisson": (lambda k, c, d: rng.poisson(k, 3.5, c, draw=d), stats.poisson(3.5), True),
    "poisson_big": (lambda k, c, d: rng.poisson(k, 120.0, c, draw=d), stats.poisson(120.0), True),
    "binomial": (lambda k, c, d: rng.binomial(k, 20, 0.3, c, draw=d), stats.binom(20, 0.3), True),
    "discunif": (lambda k, c, d: rng.discunif(k, -2, 7, c, draw=d), stats.randint(-2, 8), True),
    "geometric": (lambda k, c, d: rng.geometric(k, 0.3, c, draw=d), stats.geom(0.3), True),
    "hypergeometric": (lambda k, c, d: rng.hypergeometric(k, 12, 20, 10, c, draw=d),
                       stats.hypergeom(32, 12, 10), True),
}  # fmt: skip


def _discrete_gof(values: np.ndarray, dist) -> float:
    """Chi-square goodness of fit over the support, pooling tails to expected counts >= 20."""
    lo, hi = int(dist.ppf(1e-9)), int(dist.ppf(1 - 1e-9))
    edges = np.arange(lo, hi + 2)
    observed = np.histogram(values, bins=edges - 0.5)[0].astype(float)
    expected = dist.pmf(edges[:-1]) * len(values)
    assert observed.sum() == len(values)
    obs, exp, acc_o, acc_e = [], [], 0.0, 0.0
    for o, e in zip(observed, expected):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 20:
            obs.append(acc_o)
            exp.append(acc_e)
            acc_o = acc_e = 0.0
    obs[-1] += acc_o
    exp[-1] += acc_e
    exp = np.array(exp) * (sum(obs) / sum(exp))
    return stats.chisquare(obs, exp).pvalue


@pytest.mark.parametrize("name", sorted(DISTS))
def test_distribution_goodness_of_fit(name):
    sampler, dist, discrete = DISTS[name]
    n = 20_000 if name == "hypergeometric" else N  # scipy's hypergeom.ppf is slow
    x = sampler(rng.stream_key(99, name), IDS[:n], 0)
    assert x.shape == (n,)
    assert x.dtype == (np.int64 if discrete else np.float64)
    mean, var = dist.stats("mv")
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(x.var() - var) / var < 0.05
    pvalue = _discrete_gof(x, dist) if discrete else stats.kstest(x, dist.cdf).pvalue
    assert pvalue > 1e-3


@pytest.mark.parametrize("name", sorted(DISTS))
def test_distribution_is_pure_under_chunking(name):
    sampler = DISTS[name][0]
    ids = IDS[:5000] * 7 + 3
    whole = sampler(KEY, ids, 4)
    parts = np.concatenate([sampler(KEY, ids[i : i + 613], 4) for i in range(0, len(ids), 613)])
    assert np.array_equal(whole, parts)
    other_draw = sampler(KEY, ids, 5)
    assert not np.array_equal(whole, other_draw)


def test_parameters_broadcast_with_counters():
    mean = np.array([0.0, 100.0, 200.0])
    x = rng.normal(KEY, mean, 1.0, np.arange(3))
    assert np.all(np.abs(x - mean) < 10)
    grid = rng.normal(KEY, mean[:, None], 0.0, np.arange(4))
    assert grid.shape == (3, 4) and np.array_equal(grid, np.repeat(mean[:, None], 4, axis=1))


def test_hyperexponential_matches_neuron_mean_and_variance():
    x = rng.hyperexponential(KEY, 2.0, 16.0, IDS)
    assert abs(x.mean() - 2.0) < 5 * 4 / np.sqrt(N)
    assert abs(x.var() - 16.0) / 16.0 < 0.1
    # z = 1 degenerates to an exponential with the given mean
    y = rng.hyperexponential(KEY, 3.0, 9.0, IDS)
    assert stats.kstest(y, stats.expon(scale=3.0).cdf).pvalue > 1e-3


def test_edge_parameters():
    ids = IDS[:100]
    assert np.all(rng.binomial(KEY, 0, 0.5, ids) == 0)
    assert np.all(rng.binomial(KEY, 5, 1.0, ids) == 5)
    assert np.all(rng.binomial(KEY, 5, 0.0, ids) == 0)
    assert np.all(rng.poisson(KEY, 0.0, ids) == 0)
    assert np.all(rng.geometric(KEY, 1.0, ids) == 1)
    assert np.all(rng.discunif(KEY, 3, 3, ids) == 3)
    assert np.all(rng.normal(KEY, 1.5, 0.0, ids) == 1.5)
    assert np.all(rng.exponential(KEY, 0.0, ids) == 0.0)
    mixed = rng.poisson(KEY, np.where(ids % 2 == 0, 2.0, 500.0), ids)
    assert mixed[::2].mean() < 10 and mixed[1::2].mean() > 400


@pytest.mark.parametrize(
    "call",
    [
        lambda: rng.normal(KEY, 0, -1, 1),
        lambda: rng.lognormal(KEY, 0, -1, 1),
        lambda: rng.exponential(KEY, -1, 1),
        lambda: rng.gamma(KEY, 0, 1, 1),
        lambda: rng.erlang(KEY, 1.5, 1, 1),
        lambda: rng.weibull(KEY, 0, 1, 1),
        lambda: rng.triangular(KEY, 2, 1, 3, 1),
        lambda: rng.hyperexponential(KEY, 2, 1, 1),
        lambda: rng.poisson(KEY, -1, 1),
        lambda: rng.poisson(KEY, np.nan, 1),
        lambda: rng.binomial(KEY, 3, 1.5, 1),
        lambda: rng.binomial(KEY, 2.5, 0.5, 1),
        lambda: rng.discunif(KEY, 3, 1, 1),
        lambda: rng.discunif(KEY, 0.5, 1, 1),
        lambda: rng.geometric(KEY, 0, 1),
        lambda: rng.hypergeometric(KEY, 2, 2, 5, 1),
        lambda: rng.uniform_between(KEY, 0, np.inf, 1),
    ],
)
def test_invalid_parameters_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------------------------
# sampling without replacement
# ---------------------------------------------------------------------------------------------
def test_permutation():
    p = rng.permutation(KEY, 50, 3)
    assert sorted(p.tolist()) == list(range(50))
    assert not np.array_equal(p, rng.permutation(KEY, 50, 4))
    many = rng.permutation(KEY, 50, np.arange(10))
    assert many.shape == (10, 50)
    assert np.array_equal(many[3], p)


def test_choice_k_basic_properties():
    cand = np.arange(1000, 1100)
    chosen = rng.choice_k(KEY, cand, 10, 42)
    assert chosen.shape == (10,)
    assert len(set(chosen.tolist())) == 10
    assert set(chosen.tolist()) <= set(cand.tolist())
    assert np.all(np.diff(chosen) > 0)
    assert rng.choice_k(KEY, cand, 0, 42).shape == (0,)
    assert np.array_equal(rng.choice_k(KEY, cand, 100, 42), cand)
    with pytest.raises(ValueError):
        rng.choice_k(KEY, cand, 101, 42)
    with pytest.raises(ValueError):
        rng.choice_k(KEY, cand.reshape(10, 10), 1, 42)


def test_choice_k_ignores_candidate_order_and_chunking():
    cand = np.arange(0, 3000, 3)
    ref = rng.choice_k(KEY, cand, 25, 7)
    shuffled = np.random.default_rng(1).permutation(cand)
    assert np.array_equal(ref, rng.choice_k(KEY, shuffled, 25, 7))
    # vectorised over counters == one call per counter
    posts = np.arange(20)
    many = rng.choice_k(KEY, cand, 25, posts)
    assert many.shape == (20, 25)
    for i, post in enumerate(posts):
        assert np.array_equal(many[i], rng.choice_k(KEY, cand, 25, post))
    # a candidate's chance does not depend on the others present: adding candidates only
    # ever displaces previously chosen ones by better-ranked newcomers
    bigger = rng.choice_k(KEY, np.concatenate([cand, cand + 1]), 25, 7)
    assert set(bigger.tolist()) - set((cand + 1).tolist()) <= set(ref.tolist())


def test_choice_k_is_uniform_over_candidates():
    cand = np.arange(40)
    picks = rng.choice_k(KEY, cand, 5, np.arange(8000))
    counts = np.bincount(picks.ravel(), minlength=40)
    assert counts.sum() == 40_000
    assert stats.chisquare(counts).pvalue > 1e-3
    assert all(len(set(row)) == 5 for row in picks[:200].tolist())


def test_stream_methods_match_functions():
    s = rng.KeyedStream(5, "x")
    ids = np.arange(100)
    pairs = [
        (s.uniform(ids), rng.uniform(s.key, ids)),
        (s.hash64(ids), rng.hash64(s.key, ids)),
        (s.uniform_between(1, 2, ids), rng.uniform_between(s.key, 1, 2, ids)),
        (s.normal(1, 2, ids, draw=1), rng.normal(s.key, 1, 2, ids, draw=1)),
        (s.lognormal(1, 2, ids), rng.lognormal(s.key, 1, 2, ids)),
        (s.exponential(2, ids), rng.exponential(s.key, 2, ids)),
        (s.negexp(2, ids), rng.negexp(s.key, 2, ids)),
        (s.gamma(2, 3, ids), rng.gamma(s.key, 2, 3, ids)),
        (s.erlang(2, 3, ids), rng.erlang(s.key, 2, 3, ids)),
        (s.weibull(2, 3, ids), rng.weibull(s.key, 2, 3, ids)),
        (s.triangular(0, 1, 3, ids), rng.triangular(s.key, 0, 1, 3, ids)),
        (s.hyperexponential(1, 2, ids), rng.hyperexponential(s.key, 1, 2, ids)),
        (s.discunif(0, 9, ids), rng.discunif(s.key, 0, 9, ids)),
        (s.geometric(0.5, ids), rng.geometric(s.key, 0.5, ids)),
        (s.poisson(2, ids), rng.poisson(s.key, 2, ids)),
        (s.binomial(4, 0.5, ids), rng.binomial(s.key, 4, 0.5, ids)),
        (s.hypergeometric(4, 5, 3, ids), rng.hypergeometric(s.key, 4, 5, 3, ids)),
        (s.permutation(10, 3), rng.permutation(s.key, 10, 3)),
        (s.choice_k(ids, 4, 3), rng.choice_k(s.key, ids, 4, 3)),
    ]
    for got, want in pairs:
        assert np.array_equal(got, want)
