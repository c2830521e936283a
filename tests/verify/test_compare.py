"""The comparison of a stored run with its re-run, on hand-made results (no NEURON)."""

from __future__ import annotations

import numpy as np

from nethub.results import Results
from nethub.verifycompare import compare_environment, compare_results, compare_runs


def _res(t, g, **kw) -> Results:
    return Results(spike_times=np.array(t, dtype=float), spike_gids=np.array(g), **kw)


def test_spikes_bit_for_bit():
    a = _res([1.0, 2.0, 3.0], [0, 1, 0])
    b = _res([1.0, np.nextafter(2.0, 3.0), 3.0], [0, 1, 0])
    same = compare_results(a, _res([1.0, 2.0, 3.0], [0, 1, 0]), 0.0, 0.0)[0]
    assert same.status == "identical"
    diff = compare_results(a, b, 1.0, 1.0)[0]  # tolerances never apply to spikes
    assert diff.status == "differs" and "first difference at spike 1" in diff.detail


def test_spike_counts_per_cell():
    diff = compare_results(_res([1.0, 2.0], [0, 1]), _res([1.0], [0]), 0, 0)[0]
    assert "equal up to spike 1" in diff.detail and "gid 1: 1 -> 0" in diff.detail


def test_lfp_tolerance():
    a = _res([], [], lfp=np.ones((4, 2)), lfp_time=np.arange(4.0))
    b = _res([], [], lfp=np.ones((4, 2)) + 1e-12, lfp_time=np.arange(4.0))
    checks = {c.name: c for c in compare_results(a, b, 1e-9, 0.0)}
    assert checks["lfp"].status == "within tolerance" and "(0, 0)" in checks["lfp"].detail
    checks = {c.name: c for c in compare_results(a, b, 0.0, 0.0)}
    assert checks["lfp"].status == "differs" and "8 of 8 values" in checks["lfp"].detail
    assert checks["lfp/lfp_time"].status == "identical"


def test_environment_and_run_changes():
    old = {"python": "3.10.4", "neuron": "8.2.4", "mpi_ranks": 4,
           "distributions": {"numpy": "1.26.0", "mpich": "4.1"}}
    new = {"python": "3.11.7", "neuron": "9.0.2", "mpi_ranks": 1, "compiler": "gcc 12",
           "distributions": {"numpy": "1.26.0", "mpich": "5.0.2"}}
    changes = {c.what: (c.old, c.new) for c in compare_environment(old, new)}
    assert changes == {"python": ("3.10.4", "3.11.7"), "neuron": ("8.2.4", "9.0.2"),
                       "compiler": ("not recorded", "gcc 12"),
                       "distributions.mpich": ("4.1", "5.0.2")}
    a = _res([], [], nranks=4, meta={"engine": "coreneuron"}, network_hash="abc",
             run_config={"dt": 0.025, "nranks": 4})
    b = _res([], [], nranks=1, meta={"engine": "neuron"}, network_hash="abc",
             run_config={"dt": 0.025, "nranks": 1})
    runs = {c.what: (c.old, c.new) for c in compare_runs(a, b)}
    assert runs == {"rank count": (4, 1), "engine": ("coreneuron", "neuron")}
