"""Trace datasets are chunked so that a run with few long traces stays about its data's size."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from nethub.results import Results, Traces, trace_index
from nethub.store import append_run, read_results

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "store" / "golden_v2.h5"


def _traces(n: int, nt: int) -> Traces:
    index = trace_index(["V_soma"] * n, np.arange(n), ["soma"] * n, np.full(n, 0.5), ["v"] * n)
    time = np.arange(nt) * 0.025
    return Traces(index, time, np.random.default_rng(1).normal(-65, 5, (n, nt)))


@pytest.mark.parametrize("blocks", [False, True])
def test_two_long_traces_take_about_their_size(tmp_path, blocks):
    path = tmp_path / "s.h5"
    shutil.copy(GOLDEN, path)
    before = os.path.getsize(path)
    tr = _traces(2, 400_000)  # 6.4 MB of values
    r = Results(spike_times=[1.0], spike_gids=[0], traces=tr)
    kw = {"trace_blocks": [(tr.index, tr.data)]} if blocks else {}
    append_run(path, r, name="long", **kw)
    grown = os.path.getsize(path) - before
    assert grown < 1.3 * (tr.data.nbytes + tr.time.nbytes), grown  # 64-row chunks: ~10x
    back = read_results(path, "long").traces
    np.testing.assert_array_equal(back.data, tr.data)
    np.testing.assert_array_equal(back.time, tr.time)


def test_many_short_traces_round_trip(tmp_path):
    path = tmp_path / "s.h5"
    shutil.copy(GOLDEN, path)
    tr = _traces(300, 500)
    append_run(path, Results(spike_times=[1.0], spike_gids=[0], traces=tr), name="short")
    np.testing.assert_array_equal(read_results(path, "short").traces.data, tr.data)
