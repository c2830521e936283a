"""probConn: NetPyNE's exact pair test (``nethub.builder.conns``) and the fast sampler
(``nethub.builder.probsample``, ``nethub.builder.probbounds``).

- The exact path must give what NetPyNE gives: it is compared with a brute-force transcription
  of NetPyNE's probConn (every pair's Random123 draw against the probability, evaluated for every
  pair), which ``tests/faithfulness`` ties to real NetPyNE; its filters (global bound, bounds per
  pair of cell groups) must change nothing.
- The interval bounds must enclose every value an expression takes on a pair of boxes.
- The fast sampler must connect every pair independently with exactly the rule's probability:
  counts inside the binomial 99.9 % interval, distance histogram (chi-square) and distance
  distribution (two-sample KS against the exact path), pair-level frequencies over many seeds;
  and be deterministic whatever the chunking.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from nethub.builder import build, build_cells
from nethub.builder import conns as conns_mod
from nethub.builder import probbounds as fb
from nethub.builder import probsample as fc
from nethub.builder.conns import ConnRule, select_pairs
from nethub.builder.context import BuildContext, conn_env
from nethub.builder.draws import SequentialDraws, prob_rands
from nethub.errors import SpecError
from nethub.expr import CONN_VARS, compile_expr
from nethub.expr import conn_env as expr_conn_env

SOMA = {"secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
                          "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003,
                                           "el": -70}}}}}
P_DIST = "0.2*exp(-dist_3D/150)"


def _spec(prob, n_e=300, n_i=200, size=1000.0, seed=1, **net):
    spec = {
        "sizeX": size, "sizeY": size, "sizeZ": size,
        "cellParams": {"PYR": SOMA},
        "popParams": {"E": {"cellType": "PYR", "numCells": n_e},
                      "I": {"cellType": "PYR", "numCells": n_i}},
        "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5.0, "e": 0}},
        "connParams": {"E->all": {"preConds": {"pop": "E"}, "postConds": {"pop": ["E", "I"]},
                                  "probability": prob, "weight": 0.01, "delay": 5,
                                  "synMech": "exc"}},
        **net,
    }
    if not n_i:
        del spec["popParams"]["I"]
    return spec, {"seeds": {"conn": seed, "loc": seed, "stim": 1, "cell": 1}}


def _ctx(spec, cfg):
    ctx = BuildContext(spec, cfg)
    ctx.cells = build_cells(ctx)[0]
    label, rule = next(iter(spec["connParams"].items()))
    return ctx, ConnRule.resolve(label, rule, ctx.cells)


def _brute_force(ctx, cr):
    """NetPyNE's probConn transcribed pair by pair (vectorized over all pairs at once)."""
    gids = ctx.gids
    n_pre, n_post = len(cr.pre), len(cr.post)
    ipre = np.tile(np.arange(n_pre), n_post)
    ipost = np.repeat(np.arange(n_post), n_pre)
    u = prob_rands(gids[cr.pre], gids[cr.post], ctx.seeds["conn"]).at(ipre, ipost)
    spec = cr.rule["probability"]
    if not isinstance(spec, str):
        p = np.full(len(u), float(spec))
    else:
        expr = ctx.compile(spec, set(CONN_VARS), "test")
        env = conn_env(ctx.cells, cr.pre[ipre], cr.post[ipost], expr.variables & CONN_VARS,
                       ctx.border)
        if expr.is_random:
            seq = SequentialDraws.for_rule("probConn", gids[cr.pre], gids[cr.post],
                                           ctx.seeds["conn"])
            p = seq.evaluate(expr, env, len(u), index=ipre * n_post + ipost)
        else:
            p = expr.evaluate(env, n=len(u))
    hit = p >= u
    return cr.pre[ipre[hit]], cr.post[ipost[hit]]


def _pairs(ctx, cr, sampler):
    ctx.cfg["nethubConnSampler"] = sampler
    pre, post, _ = select_pairs(cr, ctx.gids, ctx)
    return pre, post


def _all_p(ctx, cr, spec=P_DIST):
    """Probability and distance of every (pre, post) pair, self pairs left out."""
    ipre = np.tile(cr.pre, len(cr.post))
    ipost = np.repeat(cr.post, len(cr.pre))
    keep = ipre != ipost
    expr = compile_expr(spec, CONN_VARS, "test")
    env = conn_env(ctx.cells, ipre[keep], ipost[keep], {"dist_3D"})
    return np.clip(expr.evaluate(env, n=int(keep.sum())), 0, 1), env["dist_3D"]


def _dist(ctx, pre, post):
    return conn_env(ctx.cells, pre, post, {"dist_3D"})["dist_3D"]


# ----------------------------------------------------------------------------- exact path
EXACT_CASES = [
    (0.05, {}),
    ("0.1*exp(-dist_3D/200)", {}),
    ("0.4 if dist_2D < 150 else 0.02", {}),
    ("uniform(0, 0.3)*exp(-dist_x/100)", {}),
    ("0.3*post_ynorm + 0.1*(pre_x > 500)", {}),
    ("0.5*exp(-dist_3D_border**2/20000)", {"correctBorder": {"threshold": [150, 150, 150]}}),
    ("2*exp(-dist_3D/100)", {}),  # bound above 1: every pair is evaluated
    ("min(0.2, 30/dist_3D)", {}),  # division by an interval holding 0: no bound
    ("0.05 + 0*normTest", {"normTest": 3}),  # a numeric netParams attribute
]


@pytest.mark.parametrize("table", [False, True], ids=["global-bound", "group-bounds"])
@pytest.mark.parametrize(("prob", "extra"), EXACT_CASES, ids=[str(c[0]) for c in EXACT_CASES])
def test_exact_path_is_netpyne_probconn(prob, extra, table, monkeypatch):
    if table:
        monkeypatch.setattr(conns_mod, "BOUND_TABLE_MIN_PAIRS", 0)
    ctx, cr = _ctx(*_spec(prob, **extra))
    pre, post = _pairs(ctx, cr, "netpyne")
    ref_pre, ref_post = _brute_force(ctx, cr)
    order = np.lexsort((ctx.gids[ref_pre], ctx.gids[ref_post]))
    assert len(ref_pre) > 0
    np.testing.assert_array_equal(pre, ref_pre[order])
    np.testing.assert_array_equal(post, ref_post[order])


def test_exact_path_counts_and_build(caplog):
    spec, cfg = _spec("0.1*exp(-dist_3D/200)")
    with caplog.at_level(logging.INFO, logger="nethub.builder.conns"):
        net = build(spec, cfg)
    assert "NetPyNE's exact pair test" in caplog.text
    pre, post = _brute_force(*_ctx(spec, cfg))
    assert len(net.connections) == int(np.count_nonzero(pre != post))


# ----------------------------------------------------------------------------- bounds
BOUND_EXPRS = [
    "0.1*exp(-dist_3D/200)", "exp(-(dist_3D/300)**2)", "1/(1 + dist_2D)",
    "sqrt(dist_x) - log(1 + dist_ynorm) + abs(pre_z - post_z)",
    "where(dist_3D < 300, 0.5, 0.01)", "0.3 if post_y > pre_y else 0.1 * cos(dist_z)",
    "max(dist_x, dist_y) / (dist_3D + 1)", "hypot(dist_x, dist_z) - dist_2D",
    "dist_norm3D * 2 - dist_norm2D", "(dist_3D_border + 1) ** -1.5", "pre_xnorm % 0.25",
    "clip(1 - dist_3D / 500, 0, 1) and 0.2 or 0.05", "tanh(-dist_3D/100) + 1",
    "-dist_3D // 100", "erfc(dist_3D/300)", "pow(dist_y + 1, 0.5) * post_znorm",
    "exp(-(pre_x - post_x)**2 / 1e4)", "(pre_y - post_y)**3 + (dist_x + 1)**-2",
    "(pre_z - post_z)**-2", "(pre_z - post_z)**-3 + dist_z**0",
]


def _random_boxes(rng, k, m):
    """k boxes of m random points each (box sizes from tiny to large)."""
    centre = rng.uniform(0, 1000, (k, 1, 3))
    half = 10 ** rng.uniform(-3, 2.7, (k, 1, 3))
    pts = centre + rng.uniform(-1, 1, (k, m, 3)) * half
    return pts


@pytest.mark.parametrize("text", BOUND_EXPRS)
def test_bounds_enclose_every_value(text):
    rng = np.random.default_rng(7)
    k, m = 60, 25
    size = np.array([1000.0, 1000.0, 1000.0])
    a, b = _random_boxes(rng, k, m), _random_boxes(rng, k, m)
    border_b = rng.uniform(0, 100, (k, m, 3))

    def boxes(pts, border=None):
        nrm = pts / size
        return fb._Boxes(pts.min(1), pts.max(1), nrm.min(1), nrm.max(1),
                         None if border is None else border.min(1),
                         None if border is None else border.max(1))

    expr = compile_expr(text, CONN_VARS, "test")
    names = expr.variables & CONN_VARS
    lo, hi = fb.expr_bounds(text, fb.conn_var_bounds(names, boxes(a), boxes(b, border_b)), {},
                            (k,))
    env = expr_conn_env(a[:, :, None, :], b[:, None, :, :], a[:, :, None, :] / size,
                        b[:, None, :, :] / size, post_border=border_b[:, None, :, :],
                        names=names)
    vals = np.broadcast_to(expr.evaluate(env), (k, m, m)).reshape(k, -1)
    finite = ~np.isnan(vals)
    assert np.all((vals >= lo[:, None]) | ~finite)
    assert np.all((vals <= hi[:, None]) | ~finite)
    if "**-" not in text:
        assert np.isfinite(hi).any()  # the bounds say something


def test_unknown_functions_give_no_bound():
    shape = (1,)
    var = {"dist_3D": (np.zeros(1), np.full(1, 100.0))}
    assert fb.expr_bounds("tan(dist_3D)", var, {}, shape)[1][0] == np.inf
    assert fb.expr_bounds("1/(dist_3D - 50)", var, {}, shape)[1][0] == np.inf
    assert fb.expr_bounds("normal(0.1, 0.01)", var, {}, shape)[1][0] == np.inf
    lo, hi = fb.expr_bounds("uniform(0.1, 0.3) * (dist_3D < 200)", var, {}, shape)
    assert 0.1 - 1e-9 <= lo[0] <= 0.1 and 0.3 <= hi[0] < 0.31  # the test is surely true
    lo, hi = fb.expr_bounds("uniform(0.1, 0.3) * (dist_3D < 50)", var, {}, shape)
    assert lo[0] <= 0 and 0.3 <= hi[0] < 0.31


# ----------------------------------------------------------------------------- fast sampler
@pytest.fixture(scope="module")
def net2000():
    """2,000 cells (one pop) in 800 um, probability 0.2*exp(-dist_3D/150): ~100k connections;
    the exact and fast samplers' pairs, every pair's probability and distance."""
    spec, cfg = _spec(P_DIST, n_e=2000, n_i=0, size=800.0)
    spec["connParams"]["E->all"]["postConds"] = {"pop": "E"}
    ctx, cr = _ctx(spec, cfg)
    stats_ = fc.FastConnStats()
    expr = conns_mod._prob_expr(ctx, cr, P_DIST)
    fast = fc.sample_prob_pairs(ctx, cr, expr, ctx.seeds["conn"], stats_)
    exact = _pairs(ctx, cr, "netpyne")
    p, d = _all_p(ctx, cr)
    return ctx, cr, fast, exact, p, d, stats_


def _self_free(pre, post):
    keep = pre != post
    return pre[keep], post[keep]


def test_fast_counts_in_binomial_interval(net2000):
    ctx, cr, fast, exact, p, d, st = net2000
    mean, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    z999 = stats.norm.ppf(0.9995)
    for pre, post in (fast, exact):
        k = len(_self_free(pre, post)[0])
        assert abs(k - mean) < z999 * sd, (k, mean, sd)
    assert st.violations == 0
    assert st.candidates < 4 * st.accepted  # the bounds are useful


def test_fast_distance_histogram_chi_square(net2000):
    ctx, cr, fast, exact, p, d, st = net2000
    edges = np.arange(0, 800, 50.0)
    idx = np.clip(np.digitize(d, edges) - 1, 0, len(edges) - 1)
    expected = np.bincount(idx, weights=p, minlength=len(edges))
    var = np.bincount(idx, weights=p * (1 - p), minlength=len(edges))
    use = expected > 5
    for pre, post in (fast, exact):
        dd = _dist(ctx, *_self_free(pre, post))
        obs = np.bincount(np.clip(np.digitize(dd, edges) - 1, 0, len(edges) - 1),
                          minlength=len(edges))
        chi2 = (((obs - expected) ** 2 / var)[use]).sum()
        assert stats.chi2.sf(chi2, int(use.sum())) > 1e-3, chi2


def test_fast_distance_distribution_ks_against_exact(net2000):
    ctx, cr, fast, exact, p, d, st = net2000
    res = stats.ks_2samp(_dist(ctx, *_self_free(*fast)), _dist(ctx, *_self_free(*exact)))
    assert res.pvalue > 1e-3


def test_fast_pair_frequencies_over_seeds():
    """Every pair connects with its own probability: 150 cells, 300 seeds; pairs grouped by
    probability (deciles), observed vs expected connections per group (chi-square); pairs
    beyond the cutoff never connect."""
    text = "0.6*exp(-dist_3D/120) if dist_3D < 250 else 0"
    spec, cfg = _spec(text, n_e=150, n_i=0, size=400.0)
    spec["connParams"]["E->all"]["postConds"] = {"pop": "E"}
    ctx, cr = _ctx(spec, cfg)
    expr = conns_mod._prob_expr(ctx, cr, text)
    n = len(ctx.gids)
    counts = np.zeros((n, n))
    seeds = 300
    for seed in range(seeds):
        pre, post = fc.sample_prob_pairs(ctx, cr, expr, seed)
        np.add.at(counts, (pre, post), 1)
    env = conn_env(ctx.cells, np.repeat(np.arange(n), n), np.tile(np.arange(n), n),
                   {"dist_3D"})
    p = np.clip(expr.evaluate(env, n=n * n), 0, 1).reshape(n, n)
    assert counts[p == 0].sum() == 0
    on = p > 0
    groups = np.digitize(p[on], np.quantile(p[on], np.linspace(0, 1, 11)[1:-1]))
    obs = np.bincount(groups, weights=counts[on])
    exp = np.bincount(groups, weights=seeds * p[on])
    var = np.bincount(groups, weights=seeds * p[on] * (1 - p[on]))
    chi2 = ((obs - exp) ** 2 / var).sum()
    assert stats.chi2.sf(chi2, len(obs)) > 1e-3, (obs, exp)


def test_fast_constant_probability_counts():
    spec, cfg = _spec(0.03, n_e=1500, n_i=500)
    ctx, cr = _ctx(spec, cfg)
    pre, post = _pairs(ctx, cr, "fast")
    n_pairs = len(cr.pre) * len(cr.post) - len(cr.pre)  # self pairs of E go
    k = len(_self_free(pre, post)[0])
    assert abs(k - 0.03 * n_pairs) < 3.3 * np.sqrt(n_pairs * 0.03 * 0.97)
    assert len(np.unique(ctx.gids[pre] * 10**6 + ctx.gids[post])) == len(pre)  # distinct


def test_fast_is_deterministic_and_chunk_invariant(monkeypatch):
    spec, cfg = _spec(P_DIST, n_e=800, n_i=400, size=600.0)
    ctx, cr = _ctx(spec, cfg)
    expr = conns_mod._prob_expr(ctx, cr, P_DIST)
    a = fc.sample_prob_pairs(ctx, cr, expr, 5)
    b = fc.sample_prob_pairs(ctx, cr, expr, 5)
    monkeypatch.setattr(fc, "CHUNK", 1 << 8)
    c = fc.sample_prob_pairs(ctx, cr, expr, 5)
    d = fc.sample_prob_pairs(ctx, cr, expr, 6)

    def key(pairs):
        return np.sort(pairs[0] * 10**6 + pairs[1])

    np.testing.assert_array_equal(key(a), key(b))
    np.testing.assert_array_equal(key(a), key(c))
    assert not np.array_equal(key(a), key(d))


def test_sampler_choice_and_logging(monkeypatch, caplog):
    spec, cfg = _spec(P_DIST, n_e=200, n_i=100)
    ctx, cr = _ctx(spec, cfg)
    with caplog.at_level(logging.INFO, logger="nethub.builder.conns"):
        _pairs(ctx, cr, "fast")
    assert "fast sampler (nethubConnSampler='fast')" in caplog.text
    caplog.clear()
    monkeypatch.setattr(conns_mod, "EXACT_MAX_PAIRS", 1000)
    with caplog.at_level(logging.INFO, logger="nethub.builder.conns"):
        _pairs(ctx, cr, "auto")
    assert "fast sampler (more than 1e+03 pairs)" in caplog.text
    with pytest.raises(SpecError, match=r"simConfig\['nethubConnSampler'\].*valid: auto"):
        _pairs(ctx, cr, "quick")


def test_unbounded_probability_falls_back_or_fails(monkeypatch, caplog):
    text = "0.1*abs(tan(dist_3D))"
    spec, cfg = _spec(text, n_e=200, n_i=100)
    ctx, cr = _ctx(spec, cfg)
    with pytest.raises(SpecError, match="no finite upper bound"):
        _pairs(ctx, cr, "fast")
    monkeypatch.setattr(conns_mod, "EXACT_MAX_PAIRS", 1000)
    with caplog.at_level(logging.WARNING, logger="nethub.builder.conns"):
        pre, post = _pairs(ctx, cr, "auto")
    assert "exact pair test" in caplog.text
    ref_pre, ref_post = _brute_force(ctx, cr)
    assert len(pre) == len(ref_pre)


def test_fast_path_builds_a_network():
    spec, cfg = _spec(P_DIST, n_e=400, n_i=200)
    cfg["nethubConnSampler"] = "fast"
    net = build(spec, cfg)
    conns = net.connections
    pre, post = np.asarray(conns["pre_gid"]), np.asarray(conns["post_gid"])
    assert len(pre) > 0 and np.all(pre != post)
    assert np.all(np.diff(post * 10**6 + pre) > 0)  # post-major, then pre, distinct
