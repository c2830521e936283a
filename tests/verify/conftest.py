"""Stores for the verify tests: small real runs, built once per session and copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import nethub
from nethub.runner import simulate

#: a leak mechanism carried by the store (compiled from the store's copy when verifying)
LEAK_MOD = """: a passive leak, for the verify tests
NEURON { SUFFIX vfleak NONSPECIFIC_CURRENT i RANGE g, e }
PARAMETER { g = 0.001 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*(v - e) }
"""

#: an SWC morphology embedded in the store (a soma and a dendrite)
SWC = b"""# soma and one dendrite, made for the verify tests
1 1 0.0 0.0 0.0 10.0 -1
2 3 0.0 10.0 0.0 2.0 1
3 3 0.0 60.0 0.0 1.5 2
"""


def archive_network():
    """VecStim drivers onto HH cells with the store's own leak mechanism, traces recorded,
    and an embedded morphology."""
    net_params = {
        "popParams": {"S": {"cellModel": "VecStim", "numCells": 2, "spkTimes": [5, 20, 35]},
                      "P": {"cellType": "P", "numCells": 3}},
        "cellParams": {"P": {"secs": {"soma": {"geom": {"L": 20, "diam": 20},
                                               "mechs": {"hh": {}, "vfleak": {"g": 1e-4}}}}}},
        "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2, "e": 0}},
        "connParams": {"S->P": {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "weight": "uniform(0.02, 0.06)", "delay": 1,
                                "synMech": "exc"}},
    }
    cfg = {"duration": 50, "dt": 0.025, "recordStep": 0.5, "nethubCoreneuron": False,
           "recordTraces": {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}},
           "recordCells": [2, 3]}
    net = nethub.build(net_params, cfg, mod_files={"vfleak.mod": LEAK_MOD})
    net.add_file("morphologies/cell.swc", SWC, "morphology")
    return net


@pytest.fixture(scope="session")
def archive_store(tmp_path_factory) -> Path:
    """A store with a .mod source, an embedded morphology and one run."""
    path = tmp_path_factory.mktemp("archive") / "archive.h5"
    simulate(archive_network(), output=path)
    return path


@pytest.fixture
def archive(archive_store, tmp_path) -> Path:
    """A private copy of :func:`archive_store` to change."""
    return Path(shutil.copyfile(archive_store, tmp_path / "archive.h5"))
