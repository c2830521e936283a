"""Issue 10 items 4, 5, 9: every number validated, resource guards, features not simulated.

Each reproduction listed in the issue is a test here (names say which); no NEURON needed.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time

import numpy as np
import pytest

import nethub
from nethub.errors import SpecError
from nethub.limits import ResourceLimitError, check_tree, loads_json, parse_bytes
from nethub.random123 import Random123Stream as Stream
from nethub.specs import NetParams, SimConfig, load_spec
from nethub.specs.unsupported import NOT_SIMULATED, check_not_simulated
from nethub.specs.values import check_overrides, check_run_config, read_overrides

CELL = {"secs": {"soma": {"geom": {"L": 18.8, "diam": 18.8, "Ra": 123.0},
                          "mechs": {"hh": {}}}}}


def spec(pop=None, conn=None, cell=None) -> dict:
    net = {"cellParams": {"P": cell or CELL},
           "popParams": {"E": {"cellType": "P", "numCells": 6, **(pop or {})}},
           "synMechParams": {"exc": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 5, "e": 0}}}
    if conn is not None:
        net["connParams"] = {"E->E": {"preConds": {"pop": "E"}, "postConds": {"pop": "E"},
                                      "synMech": "exc", "probability": 0.5, **conn}}
    return net


# ------------------------------------------------------------------ bad numbers in the spec
@pytest.mark.parametrize(("conn", "fragment"), [
    ({"probability": math.nan}, "['probability']: expected probability between 0 and 1"),
    ({"probability": 1.5}, "['probability']: expected probability"),
    ({"weight": math.inf}, "['weight']"),
    ({"weight": math.nan}, "['weight']"),
    ({"delay": math.nan}, "['delay']"),
    ({"delay": math.inf}, "['delay']"),
    ({"delay": -1}, "['delay']"),
    ({"loc": 7.5}, "['loc']"),
    ({"convergence": -2, "probability": None}, "['convergence']"),
])
def test_bad_connection_numbers_are_refused(conn, fragment):
    """Issue: a literal NaN probability connects every pair; NaN/inf/negative delays, inf/NaN
    weights, loc 7.5 are built and reported valid."""
    net = spec(conn={k: v for k, v in conn.items() if v is not None})
    if conn.get("probability", 0) is None:
        del net["connParams"]["E->E"]["probability"]
    for attempt in (lambda: nethub.build(net, {}), lambda: NetParams(net)):
        with pytest.raises(SpecError, match=r"connParams\['E->E'\]") as info:
            attempt()
        assert fragment in str(info.value)


@pytest.mark.parametrize(("geom", "key"), [({"diam": -3}, "diam"), ({"L": 0}, "L"),
                                           ({"Ra": math.nan}, "Ra"), ({"cm": -1}, "cm")])
def test_geometry_must_be_positive(geom, key):
    cell = {"secs": {"soma": {"geom": {"L": 10, "diam": 10, **geom}}}}
    with pytest.raises(SpecError, match=rf"\['geom'\]\['{key}'\]: expected positive number"):
        nethub.build(spec(cell=cell), {})


def test_section_locations_in_unit_interval():
    cell = {"secs": {"soma": {"geom": {"L": 10, "diam": 10}},
                     "dend": {"geom": {"L": 10, "diam": 1},
                              "topol": {"parentSec": "soma", "parentX": 1.5, "childX": 0}}}}
    with pytest.raises(SpecError, match=r"\['parentX'\]: expected location between 0 and 1"):
        nethub.build(spec(cell=cell), {})


@pytest.mark.parametrize(("key", "value"), [("dt", -1), ("dt", 0), ("dt", math.inf),
                                            ("duration", -5), ("duration", math.nan),
                                            ("duration", math.inf),
                                            ("recordStep", 0), ("recordStep", -0.1)])
def test_run_numbers_must_be_positive(key, value):
    """dt and recordStep > 0; duration >= 0 (0 instantiates only); all finite."""
    want = "non-negative" if key == "duration" else "positive"
    with pytest.raises(SpecError, match=f"cfg.{key}: expected {want} number"):
        SimConfig({key: value})
    with pytest.raises(SpecError, match=f"cfg.{key}: expected {want} number"):
        check_run_config({"dt": 0.025, "duration": 10, key: value})
    check_run_config({"dt": 0.025, "duration": 0.0})


def test_cfg_file_overrides_go_through_the_same_validation(tmp_path):
    """Issue: `nethub run X.h5 --cfg c.json` with {"dt": -1} hangs, recordStep 0 fails late."""
    for bad, key in (({"dt": -1}, "dt"), ({"recordStep": 0}, "recordStep")):
        path = tmp_path / "c.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(SpecError) as info:
            read_overrides(path)
        assert str(path) in str(info.value) and f"cfg.{key}" in str(info.value)
    path.write_text(json.dumps({"simConfig": {"duration": 5, "myParam": [1, 2]}}))
    assert read_overrides(path) == {"duration": 5, "myParam": [1, 2]}
    with pytest.raises(SpecError, match="expected a simConfig dict"):
        check_overrides([1, 2], "c.json")


def test_counts_are_non_negative():
    with pytest.raises(SpecError, match=r"\['numCells'\]: expected non-negative number"):
        nethub.build(spec(pop={"numCells": -4}), {})
    with pytest.raises(SpecError, match=r"\['numCells'\]"):
        nethub.build(spec(pop={"numCells": math.nan}), {})


# ------------------------------------------------------------------ expressions
@pytest.mark.parametrize(("text", "fragment"), [
    ("1/0", "gives inf"), ("0/0", "gives NaN"), ("log(0)", "gives inf"),
    ("10**400", "overflow"), ("(dist_3D+10)**400", "overflows"), ("exp(dist_3D*1000)", "inf"),
])
def test_expression_overflow_and_non_finite_results(text, fragment):
    """Issue: `(dist_3D+10)**400` and `10**400` give OverflowError tracebacks; `1/0` weights
    are built."""
    with pytest.raises(SpecError) as info:
        nethub.build(spec(conn={"weight": text}), {})
    msg = str(info.value)
    assert "connParams['E->E']['weight']" in msg and repr(text) in msg and fragment in msg


def test_non_finite_intermediate_removed_by_where_is_fine():
    net = nethub.build(spec(conn={"weight": "where(dist_3D > 1e9, 1/0, 0.5)"}), {})
    assert np.all(np.asarray(net.connections["weight"]) == 0.5)


def test_poisson_of_large_mean_does_not_hang():
    """Issue: `"weight": "0.005*poisson(800)/800"` hangs the build (exp(-800) underflows)."""
    t0 = time.perf_counter()
    net = nethub.build(spec(conn={"weight": "0.005*poisson(800)/800"}), {})
    assert time.perf_counter() - t0 < 10
    w = np.asarray(net.connections["weight"])
    assert len(w) and np.all(np.isfinite(w)) and abs(w.mean() / 0.005 - 1) < 0.1


def test_poisson_huge_mean_is_the_inverse_cdf_of_one_draw():
    from scipy.stats import poisson

    s = Stream(1, 2, 3)
    vals, nxt = s.poisson(1e9, n=4, return_next=True)
    u = s.uniform01_block(4)
    assert int(np.asarray(nxt).reshape(-1)[0]) == 4  # one draw per value
    assert np.array_equal(np.asarray(vals).reshape(-1), poisson.ppf(np.ravel(u), 1e9))
    with pytest.raises(ValueError, match="finite"):
        s.poisson(math.inf)


def test_draw_hungry_distributions_are_bounded():
    s = Stream(1, 2, 3)
    with pytest.raises(ValueError, match="draws per value"):
        s.binomial(10**9, 0.5)
    with pytest.raises(ValueError, match="draws per value"):
        s.erlang(1e4, 10.0)


# ------------------------------------------------------------------ unknown pops / sections
def test_unknown_post_pop_warns_with_a_guess(caplog):
    """Issue: an unknown postConds population connects nothing, with no warning."""
    net = spec(conn={})
    net["connParams"]["E->E"]["postConds"] = {"pop": "e"}
    with caplog.at_level(logging.WARNING, logger="nethub"):
        built = nethub.build(net, {})
    assert len(built.connections) == 0
    assert "postConds']['pop']: no cell has 'e'" in caplog.text
    assert "did you mean 'E'?" in caplog.text


def test_unknown_section_warns_and_falls_back_to_soma(caplog):
    """Issue: an unknown section name falls back to soma with no warning."""
    with caplog.at_level(logging.WARNING, logger="nethub"):
        built = nethub.build(spec(conn={"sec": "dendx"}), {})
    assert set(built.connections["post_sec"].values()) == {"soma"}
    assert "['sec']: cell type 'P' has no section or section list 'dendx'" in caplog.text


# ------------------------------------------------------------------ resource guards
@pytest.mark.parametrize(("pop", "conn", "fragment"), [
    ({"numCells": 1e9}, None, "popParams['E']['numCells']: 1,000,000,000 cells"),
    ({"density": 1e12, "numCells": None}, None, "popParams['E']['density']"),
    ({}, {"synsPerConn": 1e9}, "connections"),
    ({}, {"synsPerConn": 1e9, "probability": "0.5"}, "['synsPerConn']"),
])
def test_huge_models_are_refused_before_allocating(pop, conn, fragment, monkeypatch):
    """Issue: numCells 1e9, density 1e12, synsPerConn 1e9 allocate tens of GB first."""
    monkeypatch.delenv("NETHUB_MAX_MEMORY", raising=False)
    net = spec(pop={k: v for k, v in pop.items() if v is not None}, conn=conn)
    if pop.get("numCells", 0) is None:
        del net["popParams"]["E"]["numCells"]
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        nethub.build(net, {})
    assert time.perf_counter() - t0 < 5
    assert fragment in str(info.value) and "--max-memory" in str(info.value)
    assert isinstance(info.value, MemoryError)


def test_memory_limit_override(monkeypatch):
    monkeypatch.setenv("NETHUB_MAX_MEMORY", "1K")
    with pytest.raises(ResourceLimitError, match="NETHUB_MAX_MEMORY=1K"):
        nethub.build(spec(pop={"numCells": 100}), {})
    monkeypatch.setenv("NETHUB_MAX_MEMORY", "off")
    assert nethub.build(spec(pop={"numCells": 100}), {}).n_cells == 100
    assert parse_bytes("64G") == 64 * 2**30 and parse_bytes("off") is None
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_deep_json_spec_is_a_clear_error(tmp_path):
    """Issue: a JSON spec nested 100,000 deep gives a RecursionError traceback."""
    path = tmp_path / "deep.json"
    path.write_text('{"netParams": {"popParams": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(SpecError, match="nested deeper"):
        load_spec(path)
    with pytest.raises(ResourceLimitError, match="nested deeper than 100"):
        loads_json("[" * 500 + "]" * 500, "x.json")


def test_shared_references_are_bounded():
    a: list = [0]
    for _ in range(30):
        a = [a, a]  # 2**30 paths through 31 objects
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="expands to more than"):
        check_tree({"net": a}, "x.pkl")
    assert time.perf_counter() - t0 < 1
    cyc: list = []
    cyc.append(cyc)
    with pytest.raises(ResourceLimitError, match="cycle"):
        check_tree(cyc, "x.pkl")
    check_tree({"net": [[1, 2], {"a": [3]}]}, "fine")


# ------------------------------------------------------------------ not simulated
def test_not_simulated_table_errors_and_warnings(caplog):
    assert {r.key for r in NOT_SIMULATED} >= {"rxdParams", "recordStim", "disynapticBias"}
    rxd = {"rxdParams": {"species": {"ca": {"regions": ["cyt"]}}}}
    with caplog.at_level(logging.WARNING, logger="nethub"):
        assert check_not_simulated(rxd, {"recordStim": True}, "build") == [
            "netParams.rxdParams: reaction-diffusion (NEURON rxd) is not simulated: "
            "concentrations would stay at their initial values",
            "cfg.recordStim: spikes of NetStim/VecStim stimulus sources are not recorded"]
    assert "cfg.recordStim: spikes of NetStim/VecStim stimulus sources are not recorded; " \
        "this build" in caplog.text
    with pytest.raises(SpecError, match="netParams.rxdParams: reaction-diffusion"):
        check_not_simulated(rxd, {}, "run")
    assert check_not_simulated({}, {"recordLFP": [], "recordStim": False}, "run") == []


def test_build_refuses_disynaptic_bias_and_warns_for_lfp(caplog):
    with pytest.raises(SpecError, match=r"connParams\['E->E'\]\['disynapticBias'\]"):
        nethub.build(spec(conn={"disynapticBias": 0.1}), {})
    with caplog.at_level(logging.WARNING, logger="nethub"):
        nethub.build(spec(), {"saveWeights": True})
    assert "cfg.saveWeights: weights are not saved during the run" in caplog.text


def test_long_per_connection_lists_are_checked_after_building():
    """fromListConn lists longer than LONG_LIST skip the per-item schema walk (slow in
    Python); their values are checked, vectorized, in the built network."""
    pairs = [[i % 6, (i + 1 + i // 6) % 6] for i in range(1500)]
    weights = [0.01] * 1500
    weights[700] = math.nan
    net = spec(conn={"connList": pairs, "weight": weights, "probability": None})
    del net["connParams"]["E->E"]["probability"]
    net["connParams"]["E->E"]["connFunc"] = "fromListConn"
    with pytest.raises(SpecError, match=r"connections/weight: 1 value\(s\) not finite: nan"):
        nethub.build(net, {})


def test_stimulus_delays_may_be_negative_but_finite():
    """NetPyNE's 'normal(4,2)' stimulus delays can be negative; NEURON takes them on a
    NetStim's NetCon, so they are simulated as in NetPyNE. Infinities are still refused."""
    import numpy as np

    from nethub.ranges import column_findings

    assert column_findings("stim_targets", "delay", np.array([-0.06, 0.0, 4.0, np.nan])) == []
    assert column_findings("stim_targets", "delay", np.array([np.inf]))
    assert column_findings("connections", "delay", np.array([-0.06]))


@pytest.mark.parametrize("net,cfg,path", [
    ({"connParams": {"r": {"shape": {"pulseType": "square"}}}}, {}, "connParams['r']['shape']"),
    ({"connParams": {"r": {"distinctSecsPerSynMech": True}}}, {},
     "connParams['r']['distinctSecsPerSynMech']"),
    ({"connParams": {"r": {"preSecs": ["soma"]}}}, {}, "connParams['r']['preSecs']"),
    ({"stimSourceParams": {"s": {"type": "XStim"}}}, {}, "stimSourceParams['s']['type']"),
    ({"stimSourceParams": {"s": {"type": "NetStim", "plast": {"mech": "STDP"}}}}, {},
     "stimSourceParams['s']['plast']"),
    ({"stimTargetParams": {"t": {"synsPerConn": 3}}}, {}, "stimTargetParams['t']['synsPerConn']"),
    ({}, {"addSynMechs": False}, "cfg.addSynMechs"),
])
def test_keys_that_would_change_the_network_are_refused(net, cfg, path):
    from nethub.specs.unsupported import check_not_simulated

    with pytest.raises(SpecError, match=re.escape(path)):
        check_not_simulated(net, cfg, "build")


def test_their_default_values_are_fine():
    from nethub.specs.unsupported import check_not_simulated

    net = {"stimTargetParams": {"t": {"synsPerConn": 1}},
           "stimSourceParams": {"s": {"type": "NetStim"}},
           "connParams": {"r": {"distinctSecsPerSynMech": False}}}
    assert check_not_simulated(net, {"addSynMechs": True}, "run") == []
