"""assert_network_equal / assert_results_equal: what they catch and how they say it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from nethub.results import Results
from nethub.table import Categorical, Ragged
from nethub.testing import (
    assert_network_equal,
    assert_results_equal,
    diff_networks,
    diff_results,
    example_network,
    example_results,
)
from nethub.testing.strategies import networks


def changed(**cells):
    net = example_network()
    cols = dict(net.cells.columns)
    cols.update(cells)
    return net.replace(cells=cols)


def test_equal_networks_pass():
    assert_network_equal(example_network(), example_network())
    assert diff_networks(example_network(), example_network()) == []


def test_float_column_first_rows_with_gids():
    a = example_network()
    x = a.cells["x"].copy()
    x[[2, 5]] += 1.0
    with pytest.raises(AssertionError) as err:
        assert_network_equal(a, changed(x=x))
    text = str(err.value)
    assert "cells.x: 2 of 6 values differ: [2] (gid=2) 20.0 vs 21.0; [5] (gid=5) 50.0 vs 51.0" \
        in text
    assert len(text.splitlines()) == 2  # title + one difference, no repr of the network


def test_tolerance_and_nan():
    a = example_network()
    x = a.cells["x"] * (1 + 1e-12)
    assert diff_networks(a, changed(x=x)) != []
    assert_network_equal(a, changed(x=x), rtol=1e-9)
    nan = changed(x=np.full(6, np.nan))
    assert_network_equal(nan, nan)


def test_dtype_categorical_ragged_columns():
    a = example_network()
    assert diff_networks(changed(w=np.ones(6)), changed(w=np.ones(6, np.float32))) == [
        "cells.w: dtype float64 vs float32"]
    pops = Categorical.from_values(["E"] * 3 + [None, "A", "A"])
    assert diff_networks(a, changed(pop=pops)) == [
        "cells.pop: 1 of 6 values differ: [3] (gid=3) 'E' vs None"]
    r1 = Ragged.from_lists([[1.0], [], [2.0, 3.0], [], [], []])
    r2 = Ragged.from_lists([[1.0], [], [2.0, 4.0], [], [], []])
    lines = diff_networks(changed(spk=r1), changed(spk=r2))
    assert lines == ["cells.spk: 1 of 6 rows differ: [2] (gid=2) [2.0, 3.0] vs [2.0, 4.0]"]
    assert diff_networks(changed(spk=r1), a) == ["cells.spk: column missing in the second"]


def test_rows_columns_and_documents():
    a = example_network()
    fewer = a.replace(connections=a.connections.take(np.arange(3)))
    assert diff_networks(a, fewer) == ["connections: 6 rows vs 3"]
    b = a.replace(provenance={"creator": "x", "created": "today"},
                  syn_mechs={"AMPA": a.syn_mechs["AMPA"], "GABA": a.syn_mechs["AMPA"]})
    lines = diff_networks(a, b)
    assert "syn_mechs.GABA: extra in the second (absent from the first)" in lines
    assert "provenance.created: extra in the second (absent from the first)" in lines
    assert "provenance.creator: 'nethub.testing.example_network' vs 'x'" in lines
    assert diff_networks(a, b, ignore=["provenance", "syn_mechs.GABA"]) == []
    ct = a.cell_types["PYR"]
    soma = ct.sections["soma"]
    soma2 = type(soma)(**{**soma.__dict__, "geom": {**soma.geom, "L": 1}})
    c = a.replace(cell_types={**a.cell_types,
                              "PYR": type(ct)(**{**ct.__dict__, "sections": {"soma": soma2}})})
    assert diff_networks(a, c) == [
        "cell_types.PYR.sections.soma.geom.L: 18.8 (float) vs 1 (int)"]
    assert diff_networks(a, c, ignore=["cell_types.*.sections"]) == []


def test_order_and_many_differences_are_capped():
    a = example_network()
    swapped = a.replace(populations=dict(reversed(a.populations.items())))
    assert diff_networks(a, swapped) == ["populations: key order differs: ['E', 'A'] vs "
                                         "['A', 'E']"]
    assert diff_networks(a, swapped, ordered=False) == []
    many = changed(**{f"c{i}": np.arange(6) for i in range(30)})
    with pytest.raises(AssertionError, match=r"30 difference\(s\)") as err:
        assert_network_equal(many, a)
    assert "... and 10 more" in str(err.value)
    with pytest.raises(AssertionError, match="not a Network"):
        assert_network_equal(a, None)


def test_results():
    net = example_network()
    a, b = example_results(net), example_results(net)
    assert_results_equal(a, b)
    assert_results_equal([a], [b])
    b.traces.data[1, 3] += 1.0
    b.meta = {"merged": 2}
    lines = diff_results(a, b)
    assert lines[0].startswith("traces.data: 1 of 16 values differ: [1,3] (V_soma, gid=1) ")
    assert lines[1] == "meta.merged: extra in the second (absent from the first)"
    c = Results(spike_times=a.spike_times, spike_gids=a.spike_gids[::-1], name="run",
                traces=a.traces, sim_config=a.sim_config, seeds=a.seeds,
                versions=a.versions, timing=a.timing, network_hash=a.network_hash)
    lines = diff_results([a], [c])
    assert re.match(r"runs\[0\]\.spike_gids: \d of 5 values differ: \[0\] \(gid=0, t=1\.0\)",
                    lines[0]), lines
    assert diff_results([a], [c], ignore=["spike_gids"]) == []
    assert diff_results([a], []) == ["runs: 1 runs vs 0"]
    lfp = Results(lfp=np.zeros((3, 2)))
    assert diff_results(lfp, Results()) == ["lfp: [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]] vs None"]


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(a=networks(), b=networks())
def test_diff_agrees_with_equals(a, b):
    """No difference exactly when ``Network.equals`` says equal (random pairs, and each with
    itself)."""
    assert diff_networks(a, a) == []
    assert (diff_networks(a, b) == []) == a.equals(b)
    assert (diff_networks(a, a.canonical()) == []) == a.equals(a.canonical())


def test_new_fields_are_compared():
    """Fields the kit does not know by name (schema v2's embedded files) are compared too,
    whether their values have ``to_dict``, are dataclasses or bytes."""
    import dataclasses

    @dataclasses.dataclass
    class Embedded:
        role: str
        data: bytes

    a, b = example_network(), example_network()
    a.files = {"m.swc": Embedded("morphology", b"1 1 0 0 0 5 -1\n")}
    b.files = {"m.swc": Embedded("morphology", b"1 1 0 0 0 6 -1\n")}
    assert diff_networks(a, b) == [
        "files.m.swc.data: b'1 1 0 0 0 5 -1\\n' vs b'1 1 0 0 0 6 -1\\n'"]
    assert diff_networks(a, example_network()) == [
        "files.m.swc: missing in the second (present in the first)",
        "files.morphologies/pyr.swc: extra in the second (absent from the first)",
        "files.params/ampa.json: extra in the second (absent from the first)"]
