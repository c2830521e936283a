"""Unit tests of nethub.expr: safe, vectorised NetPyNE string expressions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from nethub import rng
from nethub.errors import SpecError
from nethub.expr import (
    CELL_VARS,
    CONN_VARS,
    DENSITY_VARS,
    MATH_FUNCTIONS,
    RANDOM_FUNCTIONS,
    SEC_VARS,
    STIM_VARS,
    SYNMECH_VARS,
    border_correction,
    cell_env,
    compile_expr,
    conn_env,
)

WHERE = "connParams['E->I']['probability']"
KEY = rng.stream_key(11, "expr-test")
N = 100_000
IDS = np.arange(N)


def ev(text, env=None, allowed=None, **kw):
    """Evaluate ``text``; non-finite results pass through (their refusal is tested apart)."""
    allowed = set(env or {}) if allowed is None else allowed
    kw.setdefault("finite", False)
    return compile_expr(text, allowed, WHERE).evaluate(env or {}, **kw)


# ---------------------------------------------------------------------------------------------
# catalogues (NetPyNE 1.1 source: network/conn.py, network/stim.py, cell/compartCell.py,
# cell/pointCell.py, specs/netParams.py, network/pop.py)
# ---------------------------------------------------------------------------------------------
def test_variable_catalogues_match_netpyne():
    xyz = {"x", "y", "z", "xnorm", "ynorm", "znorm"}
    assert CELL_VARS == xyz
    assert SEC_VARS == xyz | {"dist_path", "dist_euclidean"}
    assert STIM_VARS == {"post_" + v for v in xyz}
    assert SYNMECH_VARS == {"post_" + v for v in xyz} | {"post_dist_path", "post_dist_euclidean"}
    assert DENSITY_VARS == {"xnorm", "ynorm", "znorm"}
    assert len(CONN_VARS) == 23
    assert CONN_VARS >= {"pre_ynorm", "post_z", "dist_2D", "dist_3D_border", "dist_norm3D"}


def test_netpyne_function_names_are_available():
    # specs/utils.py: h.Random methods, validateFunction's math names, numpy names in scope
    neuron_random = "binomial discunif erlang geometric hypergeo lognormal negexp normal poisson"
    assert set(RANDOM_FUNCTIONS) == set(neuron_random.split()) | {"uniform", "weibull"}
    math_names = "exp log sqrt sin cos tan asin acos atan atan2 sinh cosh tanh remainder arctan2"
    builtins = "ceil log10 abs min max round pow floor int float"
    assert set(MATH_FUNCTIONS) >= set(math_names.split()) | set(builtins.split())


# ---------------------------------------------------------------------------------------------
# accepted constructs
# ---------------------------------------------------------------------------------------------
A, B = 2.5, -4.0
ALLOWED = [
    ("3", 3.0),
    ("3.25e2", 325.0),
    ("True + False", 1.0),
    ("a", A),
    ("pi", math.pi),
    ("e", math.e),
    ("-inf", -math.inf),
    ("+a", A),
    ("-a", -A),
    ("not a", 0.0),
    ("not 0", 1.0),
    ("a + b", A + B),
    ("a - b", A - B),
    ("a * b", A * B),
    ("a / b", A / B),
    ("a // b", A // B),
    ("b // a", B // A),
    ("a % b", A % B),
    ("b % a", B % A),
    ("a ** 2", A**2),
    ("2 ** -1", 0.5),
    ("a < b", 0.0),
    ("a <= a", 1.0),
    ("a > b", 1.0),
    ("a >= b", 1.0),
    ("a == a", 1.0),
    ("a != b", 1.0),
    ("b < 0 < a", 1.0),
    ("b < a < 0", 0.0),
    ("a and b", B),
    ("0 and b", 0.0),
    ("a or b", A),
    ("0 or b", B),
    ("a > 0 and b > 0", 0.0),
    ("a > 0 or b > 0", 1.0),
    ("a if a > b else b", A),
    ("a if a < b else b", B),
    ("(a > b) - (a < b)", 1.0),
    ("exp(a)", math.exp(A)),
    ("log(a)", math.log(A)),
    ("log10(a)", math.log10(A)),
    ("log2(a)", math.log2(A)),
    ("sqrt(a)", math.sqrt(A)),
    ("sin(a) + cos(a) + tan(a)", math.sin(A) + math.cos(A) + math.tan(A)),
    ("asin(0.5) + acos(0.5) + atan(a)", math.asin(0.5) + math.acos(0.5) + math.atan(A)),
    ("arcsin(0.5) + arccos(0.5) + arctan(a)", math.asin(0.5) + math.acos(0.5) + math.atan(A)),
    ("atan2(a, b)", math.atan2(A, B)),
    ("arctan2(a, b)", math.atan2(A, B)),
    ("sinh(a) + cosh(a) + tanh(a)", math.sinh(A) + math.cosh(A) + math.tanh(A)),
    ("abs(b) + fabs(b)", 8.0),
    ("floor(a) + ceil(a)", 5.0),
    ("round(a) + round(3.5)", 6.0),
    ("int(b / 3)", -1.0),
    ("float(a)", A),
    ("min(a, b)", B),
    ("max(a, b, 7)", 7.0),
    ("pow(a, 3)", A**3),
    ("hypot(3, 4)", 5.0),
    ("sign(b)", -1.0),
    ("clip(a, 0, 1)", 1.0),
    ("where(a > 0, 1, 2)", 1.0),
    ("remainder(b, 3)", B % 3),
    ("fmod(b, 3)", math.fmod(B, 3)),
    ("erf(0.5)", math.erf(0.5)),
    ("gamma(5)", 24.0),
    ("degrees(pi)", 180.0),
    ("exp(-(a**2)/2) * (1 + a)", math.exp(-(A**2) / 2) * (1 + A)),
    (" a + 1 ", A + 1),
    ("(a +\n 1)", A + 1),
]


@pytest.mark.parametrize(("text", "expected"), ALLOWED)
def test_allowed_constructs(text, expected):
    got = ev(text, {"a": A, "b": B})
    assert got.shape == ()
    assert got == pytest.approx(expected, rel=1e-12)
    # vectorised evaluation equals the scalar result, element by element
    vec = ev(text, {"a": np.full(4, A), "b": np.full(4, B)}, n=4, finite=False)
    assert vec.shape == (4,) and np.allclose(vec, expected, rtol=1e-12)


def test_constant_folding_and_metadata():
    e = compile_expr("2*3 + 1", set(), WHERE)
    assert e.constant == 7.0 and not e.is_random and e.variables == frozenset()
    assert np.array_equal(e.evaluate(n=3), [7.0, 7.0, 7.0])
    e = compile_expr("0.1*exp(-dist_3D/200) + uniform(0, 1)", CONN_VARS, WHERE)
    assert e.constant is None and e.is_random and e.n_draws == 1
    assert e.variables == {"dist_3D"} and e.functions == {"exp", "uniform"}
    assert "dist_3D" in repr(e) and WHERE in repr(e)


def test_division_by_zero_follows_numpy():
    out = ev("a / b", {"a": np.array([1.0, -1.0, 0.0]), "b": np.zeros(3)})
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2])
    assert np.isnan(ev("log(-1)"))


# ---------------------------------------------------------------------------------------------
# rejected constructs
# ---------------------------------------------------------------------------------------------
REJECTED = [
    ("post_x.__class__", "attribute access '.__class__'"),
    ("post_x.real", "attribute access '.real'"),
    ("().__class__.__bases__[0]", "subscript"),
    ("().__class__.__bases__", "attribute access '.__bases__'"),
    ("__import__('os')", "forbidden function '__import__'"),
    ("__builtins__", "forbidden name '__builtins__'"),
    ("import os", "invalid syntax"),
    ("x = 1", "invalid syntax"),
    ("lambda: 1", "lambda"),
    ("post_x[0]", "subscript"),
    ("'abc'", "string constant"),
    ("b'abc'", "string constant"),
    ("f'{post_x}'", "f-string"),
    ("(y := 1)", "assignment expression"),
    ("[v for v in post_x]", "comprehension"),
    ("(v for v in post_x)", "comprehension"),
    ("[1, 2]", "list literal"),
    ("(1, 2)", "tuple literal"),
    ("{1: 2}", "dict literal"),
    ("{1}", "set literal"),
    ("open('f')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("foo(1)", "unknown function 'foo'"),
    ("post_q + 1", "unknown variable 'post_q'"),
    ("exp", "function 'exp' used as a variable"),
    ("exp(x=1)", "keyword argument 'x='"),
    ("uniform(0, 1, seed=3)", "keyword argument 'seed='"),
    ("exp(**{'x': 1})", "'**' argument"),
    ("exp(*post_x)", "starred argument"),
    ("exp(1)(2)", "call of"),
    ("post_x.exp(1)", "call of an attribute"),
    ("exp(1, 2)", "exp() takes 1 argument(s), got 2"),
    ("min(1)", "min() takes 2 or more argument(s), got 1"),
    ("uniform(1)", "uniform() takes 2 argument(s), got 1"),
    ("1 & 2", "operator '&'"),
    ("1 << 2", "operator '<<'"),
    ("~1", "operator '~'"),
    ("post_x @ post_x", "operator '@'"),
    ("1 is 1", "operator 'is'"),
    ("1 in post_x", "operator 'in'"),
    ("1j", "constant 1j"),
    ("None", "constant None"),
    ("...", "constant Ellipsis"),
    ("", "invalid syntax"),
    ("1 +", "invalid syntax"),
    ("await post_x", "await"),
    ("post_x[1:2]", "subscript"),
]


@pytest.mark.parametrize(("text", "fragment"), REJECTED)
def test_rejected_constructs(text, fragment):
    with pytest.raises(SpecError) as info:
        compile_expr(text, CONN_VARS, WHERE)
    msg = str(info.value)
    assert msg.startswith(WHERE + ": ")
    assert fragment in msg
    assert "valid variables: " in msg and "post_ynorm" in msg and "dist_3D_border" in msg
    assert "valid functions: " in msg and "exp" in msg and "uniform" in msg


def test_rejections_are_value_errors_and_other_inputs():
    with pytest.raises(ValueError):
        compile_expr("post_x.y", CONN_VARS, WHERE)
    with pytest.raises(SpecError, match="expected a string"):
        compile_expr(3, CONN_VARS, WHERE)
    with pytest.raises(SpecError, match="longer than"):
        compile_expr("1+" * 6000 + "1", CONN_VARS, WHERE)
    with pytest.raises(SpecError, match="nested"):
        compile_expr("abs(" * 200 + "1" + ")" * 200, CONN_VARS, WHERE)
    with pytest.raises(SpecError, match="nested"):
        compile_expr("+".join(["1"] * 1000), CONN_VARS, WHERE)
    with pytest.raises(SpecError):
        compile_expr("1\x00", CONN_VARS, WHERE)


def test_no_eval_of_user_text_side_effects(tmp_path):
    target = tmp_path / "pwned"
    for text in [f"open({str(target)!r}, 'w')", f"__import__('pathlib').Path({str(target)!r})"]:
        with pytest.raises(SpecError):
            compile_expr(text, CONN_VARS, WHERE)
    assert not target.exists()


# ---------------------------------------------------------------------------------------------
# names: NetPyNE's substring-replacement pitfalls
# ---------------------------------------------------------------------------------------------
def test_names_containing_function_names():
    env = {"normalWeight": 2.0, "uniformity": 3.0, "lognormalMean": 5.0, "expo": 7.0}
    assert ev("normalWeight * uniformity + lognormalMean + expo", env) == 18.0


def test_overlapping_variable_names():
    env = conn_env([[10.0, 20.0, 30.0]], [[40.0, 200.0, 60.0]], size_xyz=[100, 1000, 100])
    e = compile_expr("post_y + post_ynorm", CONN_VARS, WHERE)
    assert e.variables == {"post_y", "post_ynorm"}
    assert e.evaluate(env, n=1)[0] == pytest.approx(200.2)
    e = compile_expr("dist_x + dist_xnorm", CONN_VARS, WHERE)
    assert e.evaluate(env, n=1)[0] == pytest.approx(30.3)


def test_cell_context_x_is_not_found_inside_exp():
    e = compile_expr("exp(-xnorm)", CELL_VARS, "popParams['E']['density']")
    assert e.variables == {"xnorm"}


def test_variables_shadow_constants():
    assert ev("e * 2", {"e": 5.0}) == 10.0
    assert ev("e * 2", allowed=set()) == pytest.approx(2 * math.e)


def test_mapping_defaults_and_overrides():
    defaults = {"delayMin": 0.2, "propVelocity": 500.0, "dist_3D": None}
    e = compile_expr("delayMin + dist_3D / propVelocity", defaults, WHERE)
    assert e.variables == {"delayMin", "propVelocity", "dist_3D"}
    assert e.evaluate({"dist_3D": np.array([0.0, 1000.0])}, n=2).tolist() == [0.2, 2.2]
    assert e.evaluate({"dist_3D": 0.0, "delayMin": 1.0}, n=1).tolist() == [1.0]
    with pytest.raises(SpecError, match="no value for variable 'dist_3D'"):
        e.evaluate({}, n=2)


def test_result_is_fresh_float_array():
    x = np.array([1.0, 2.0])
    out = ev("post_x", {"post_x": x}, allowed=CONN_VARS, n=2)
    out[0] = 99.0
    assert x[0] == 1.0
    assert ev("post_x", {"post_x": np.array([1, 2])}, allowed=CONN_VARS).dtype == np.float64
    with pytest.raises(ValueError, match="shape"):
        ev("post_x", {"post_x": np.ones(3)}, allowed=CONN_VARS, n=2)


def test_vectorised_equals_scalar_reference():
    texts = [
        "0.1*exp(-dist_3D/200)",
        "0.5*post_ynorm + pre_x/1000",
        "dist_3D/propVelocity + 1",
        "0.2 if dist_2D < 50 and post_ynorm > 0.5 else max(0.01, 1/(1 + dist_3D))",
        "sqrt(dist_x**2 + dist_z**2) - dist_2D",
    ]
    g = np.random.default_rng(3)
    env = conn_env(g.uniform(0, 100, (500, 3)), g.uniform(0, 100, (500, 3)), size_xyz=[100] * 3)
    env["propVelocity"] = 500.0
    allowed = CONN_VARS | {"propVelocity"}
    for text in texts:
        e = compile_expr(text, allowed, WHERE)
        vec = e.evaluate(env, n=500)
        for i in range(0, 500, 37):
            scalar = {k: (v if np.ndim(v) == 0 else float(v[i])) for k, v in env.items()}
            assert e.evaluate(scalar) == pytest.approx(vec[i], rel=1e-14)
    assert np.allclose(compile_expr(texts[4], allowed, WHERE).evaluate(env, n=500), 0)


# ---------------------------------------------------------------------------------------------
# random functions
# ---------------------------------------------------------------------------------------------
def rand(text, n=N, **env):
    return compile_expr(text, set(env), WHERE).evaluate(env, KEY, (np.arange(n),), n=n)


def test_uniform_bounds_and_order():
    x = rand("uniform(0.2, 0.5)")
    assert x.min() >= 0.2 and x.max() < 0.5
    assert stats.kstest(x, stats.uniform(0.2, 0.3).cdf).pvalue > 1e-3
    y = rand("uniform(0.5, 0.2)")  # NEURON swaps the bounds
    assert y.min() >= 0.2 and y.max() < 0.5


def test_normal_second_argument_is_variance():
    x = rand("normal(5, 4)")
    assert abs(x.std() - 2.0) < 0.03
    assert stats.kstest(x, stats.norm(5, 2).cdf).pvalue > 1e-3


def test_lognormal_arguments_are_its_own_mean_and_variance():
    x = rand("lognormal(2, 0.5)")
    s2 = math.log(1 + 0.5 / 4)
    assert (
        stats.kstest(x, stats.lognorm(math.sqrt(s2), scale=math.exp(math.log(2) - s2 / 2)).cdf)[1]
        > 1e-3
    )
    assert abs(x.mean() - 2) < 0.01 and abs(x.var() - 0.5) < 0.02


def test_negexp_poisson_binomial():
    assert stats.kstest(rand("negexp(2.5)"), stats.expon(scale=2.5).cdf).pvalue > 1e-3
    p = rand("poisson(3)")
    assert abs(p.mean() - 3) < 0.03 and abs(p.var() - 3) < 0.1 and np.all(p == np.round(p))
    b = rand("binomial(10.9, 0.3)")  # NEURON truncates N to an int
    assert b.max() <= 10 and abs(b.mean() - 3.0) < 0.03


def test_discunif_is_inclusive_and_truncates():
    x = rand("discunif(1, 6)")
    assert set(np.unique(x).tolist()) == {1, 2, 3, 4, 5, 6}
    assert stats.chisquare(np.bincount(x.astype(int))[1:]).pvalue > 1e-3
    assert set(np.unique(rand("discunif(6.9, 1.2)", 2000)).tolist()) == {1, 2, 3, 4, 5, 6}


def test_geometric_follows_neuron_loop():
    # NEURON: for (n = 1; uniform() < mean; n++);  P(n) = mean**(n-1) * (1 - mean)
    x = rand("geometric(0.8)")
    assert x.min() == 1
    assert abs(x.mean() - 1 / (1 - 0.8)) < 0.05
    counts = np.bincount(x.astype(int))[1:6]
    expected = N * np.array([0.8 ** (n - 1) * 0.2 for n in range(1, 6)])
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))


def test_hypergeo_is_neurons_hyperexponential():
    x = rand("hypergeo(2, 16)")
    assert abs(x.mean() - 2) < 0.07 and abs(x.var() - 16) / 16 < 0.1


def test_erlang_rounds_the_shape():
    # k = int(mean**2/var + 0.5) = int(9/4 + 0.5) = 2; scale = mean / k
    x = rand("erlang(3, 4)")
    assert stats.kstest(x, stats.gamma(2, scale=1.5).cdf).pvalue > 1e-3
    assert abs(x.mean() - 3) < 0.03


def test_weibull_beta_is_not_the_scale():
    # NEURON: pow(beta * -log(1 - u), 1/alpha)
    x = rand("weibull(2, 9)")
    assert stats.kstest(x, stats.weibull_min(2, scale=3.0).cdf).pvalue > 1e-3


def test_random_calls_use_successive_draws():
    two = rand("uniform(0, 1) - uniform(0, 1)", 20_000)
    assert np.all(two != 0) and abs(np.corrcoef(two, rand("uniform(0, 1)", 20_000))[0, 1]) < 0.8
    a = compile_expr("uniform(0, 1) + 10*normal(0, 1)", set(), WHERE)
    ids = np.arange(1000)
    want = rng.uniform(KEY, ids, draw=0) + 10 * rng.normal(KEY, 0, 1, ids, draw=1)
    assert np.allclose(a.evaluate({}, KEY, (ids,), n=1000), want, rtol=0, atol=1e-12)


def test_random_parameters_may_be_arrays():
    post_y = np.linspace(0, 1000, 2000)
    x = compile_expr("normal(post_y, 1e-12)", STIM_VARS, WHERE).evaluate(
        {"post_y": post_y}, KEY, (np.arange(2000),), n=2000
    )
    assert np.allclose(x, post_y, rtol=0, atol=1e-4) and not np.array_equal(x, post_y)


def test_random_expression_is_pure_under_chunking():
    text = "0.5*post_ynorm + uniform(0, 0.1) * negexp(1) + normal(0, 1)"
    e = compile_expr(text, CONN_VARS, WHERE)
    pre, post = IDS % 200, IDS // 200
    post_ynorm = (post % 17) / 17.0
    whole = e.evaluate({"post_ynorm": post_ynorm}, KEY, (pre, post), n=N)
    parts = []
    for i in range(0, N, 999):
        part = slice(i, i + 999)
        env = {"post_ynorm": post_ynorm[part]}
        parts.append(e.evaluate(env, KEY, (pre[part], post[part]), n=len(pre[part])))
    assert np.array_equal(whole, np.concatenate(parts))
    other = e.evaluate({"post_ynorm": post_ynorm}, rng.stream_key(12, "x"), (pre, post), n=N)
    assert not np.array_equal(whole, other)


def test_random_needs_key_and_counters():
    e = compile_expr("uniform(0, 1)", set(), WHERE)
    with pytest.raises(ValueError, match="pass rng_key"):
        e.evaluate({}, n=3)
    with pytest.raises(ValueError, match="pass rng_key"):
        e.evaluate({}, KEY, (), n=3)


@pytest.mark.parametrize(
    "text",
    ["normal(0, -1)", "binomial(5, 1.5)", "geometric(1)", "lognormal(-1, 1)", "erlang(1, 0)",
     "weibull(0, 1)", "hypergeo(1, 0.5)", "poisson(-2)", "negexp(-1)"],
)  # fmt: skip
def test_invalid_random_parameters_raise_spec_error(text):
    e = compile_expr(text, set(), WHERE)
    with pytest.raises(SpecError, match=r"connParams\['E->I'\]\['probability'\]: cannot evaluate"):
        e.evaluate({}, KEY, (np.arange(3),), n=3)


# ---------------------------------------------------------------------------------------------
# contextual variables
# ---------------------------------------------------------------------------------------------
def test_conn_env_formulas():
    g = np.random.default_rng(5)
    size = np.array([100.0, 1000.0, 50.0])
    pre, post = g.uniform(0, 1, (50, 3)) * size, g.uniform(0, 1, (50, 3)) * size
    env = conn_env(pre, post, size_xyz=size)
    assert set(env) == CONN_VARS
    d = np.abs(pre - post)
    dn = np.abs(pre / size - post / size)
    assert np.allclose(env["pre_y"], pre[:, 1]) and np.allclose(env["post_znorm"], post[:, 2] / 50)
    assert np.allclose(env["dist_y"], d[:, 1]) and np.allclose(env["dist_xnorm"], dn[:, 0])
    assert np.allclose(env["dist_3D"], np.linalg.norm(pre - post, axis=1))
    assert np.allclose(env["dist_2D"], np.hypot(d[:, 0], d[:, 2]))  # x-z plane
    assert np.allclose(env["dist_norm3D"], np.linalg.norm(dn, axis=1))
    assert np.allclose(env["dist_norm2D"], np.hypot(dn[:, 0], dn[:, 2]))
    assert np.allclose(env["dist_3D_border"], env["dist_3D"])  # no correction given
    only = conn_env(pre, post, size_xyz=size, names={"dist_2D", "propVelocity"})
    assert set(only) == {"dist_2D"}


def test_conn_env_grid_broadcast_and_given_norms():
    pre = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])[:, None, :]
    post = np.array([[0.0, 0.0, 0.0], [0.0, 5.0, 0.0], [6.0, 0.0, 8.0]])[None, :, :]
    env = conn_env(pre, post, pre * 0.5, post * 0.5, names={"dist_3D", "dist_norm2D"})
    assert env["dist_3D"].shape == (2, 3)
    assert np.allclose(env["dist_3D"], [[0, 5, 10], [5, np.sqrt(50), 5]])
    assert np.allclose(env["dist_norm2D"], [[0, 0, 5], [2.5, 2.5, 2.5]])
    with pytest.raises(ValueError, match="give either norm or size_xyz"):
        conn_env(pre, post)
    assert set(conn_env(pre, post, names={"dist_3D", "pre_x"})) == {"dist_3D", "pre_x"}


def test_dist_3d_border_follows_netpyne_and_clip_option():
    pre = np.array([[10.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    post = np.zeros((2, 3))
    border = np.array([[30.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    env = conn_env(pre, post, size_xyz=[200] * 3, post_border=border, names={"dist_3D_border"})
    assert env["dist_3D_border"].tolist() == [20.0, 70.0]  # NetPyNE: |10 - 30| = 20
    clipped = conn_env(pre, post, size_xyz=[200] * 3, post_border=border, clip_border=True)
    assert clipped["dist_3D_border"].tolist() == [0.0, 70.0]


def test_border_correction():
    xyz = np.array([[10.0, 50.0, 95.0], [50.0, 50.0, 50.0]])
    bc = border_correction(xyz, [0, 0, 0], [100, 100, 100], [20, 20, 20])
    assert bc.tolist() == [[10.0, 0.0, 15.0], [0.0, 0.0, 0.0]]


def test_cell_env():
    env = cell_env([[1.0, 2.0, 3.0]], size_xyz=[10, 20, 30], prefix="post_")
    assert set(env) == STIM_VARS
    assert env["post_ynorm"].tolist() == [0.1] and env["post_z"].tolist() == [3.0]
    assert set(cell_env([[1.0, 2.0, 3.0]], [[0.1, 0.1, 0.1]])) == CELL_VARS


# ---------------------------------------------------------------------------------------------
# property: random nested arithmetic equals a Python reference
# ---------------------------------------------------------------------------------------------
NAMES = ["pre_x", "post_ynorm", "dist_3D", "propVelocity"]


def _binary(children):
    ops = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
    }
    return st.tuples(st.sampled_from(sorted(ops)), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})", _lift(ops[t[0]], t[1][1], t[2][1]))
    )


def _lift(op, f, g):
    return lambda env: op(f(env), g(env))


def _calls(children):
    unary = {"abs": abs, "-": lambda a: -a}
    binary = {"min": min, "max": max}
    one = st.tuples(st.sampled_from(sorted(unary)), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda env, f=unary[t[0]], g=t[1][1]: f(g(env)))
    )
    two = st.tuples(st.sampled_from(sorted(binary)), children, children).map(
        lambda t: (f"{t[0]}({t[1][0]}, {t[2][0]})", _lift(binary[t[0]], t[1][1], t[2][1]))
    )
    cond = st.tuples(children, children, children).map(
        lambda t: (
            f"({t[0][0]} if {t[1][0]} < {t[2][0]} else {t[2][0]})",
            lambda env, a=t[0][1], b=t[1][1], c=t[2][1]: a(env) if b(env) < c(env) else c(env),
        )
    )
    return st.one_of(one, two, cond)


def _not_tiny(v: float) -> bool:
    """Keep results finite (no inf - inf = nan, where Python's min/max differ from numpy's)."""
    return v == 0 or abs(v) > 1e-3


LEAVES = st.one_of(
    st.sampled_from(NAMES).map(lambda n: (n, lambda env, n=n: env[n])),
    st.floats(-100, 100).filter(_not_tiny).map(lambda v: (repr(v), lambda env, v=v: v)),
)
EXPRS = st.recursive(LEAVES, lambda ch: st.one_of(_binary(ch), _calls(ch)), max_leaves=12)
VALUES = st.lists(st.floats(-1e3, 1e3).filter(_not_tiny), min_size=4, max_size=4)


@settings(max_examples=200, deadline=None)
@given(expr=EXPRS, rows=st.lists(VALUES, min_size=1, max_size=5))
def test_random_arithmetic_matches_python(expr, rows):
    text, reference = expr
    envs = [dict(zip(NAMES, row)) for row in rows]
    expected = []
    for env in envs:
        try:
            expected.append(float(reference(env)))
        except (ZeroDivisionError, OverflowError):
            assume(False)
    assume(np.all(np.isfinite(expected)))
    compiled = compile_expr(text, CONN_VARS | {"propVelocity"}, WHERE)
    arrays = {name: np.array([env[name] for env in envs]) for name in NAMES}
    got = compiled.evaluate(arrays, n=len(envs), finite=False)
    assert np.allclose(got, expected, rtol=1e-12, atol=0, equal_nan=True)
