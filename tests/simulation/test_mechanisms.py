"""Mechanisms: .mod files carried by the store are compiled into the cache and loaded; VecStim is
compiled from nethub's bundled copy; a missing mechanism stops the run before simulating."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
from nethub.errors import MissingMechanismError
from nethub.nmodl.compile import cache_dir
from nethub.runner import simulate

pytestmark = pytest.mark.neuron

LEAK_MOD = """
NEURON { SUFFIX nhleak NONSPECIFIC_CURRENT i RANGE g, e }
PARAMETER { g = 0.001 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g*(v - e) }
"""


def _spec(mechs: dict, pops_extra: dict | None = None) -> tuple[dict, dict]:
    net = {
        "popParams": {"S": {"cellModel": "VecStim", "numCells": 2, "spkTimes": [5, 20, 35]},
                      "P": {"cellType": "P", "numCells": 2}},
        "cellParams": {"P": {"secs": {"soma": {"geom": {"L": 20, "diam": 20},
                                               "mechs": {"hh": {}, **mechs}}}}},
        "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2, "e": 0}},
        "connParams": {"S->P": {"preConds": {"pop": "S"}, "postConds": {"pop": "P"},
                                "weight": 0.05, "delay": 1, "synMech": "exc"}},
    }
    net["popParams"].update(pops_extra or {})
    return net, {"duration": 60, "dt": 0.025}


def test_vecstim_bundled_and_custom_mod(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    net_params, cfg = _spec({"nhleak": {"g": 1e-4}})
    net = nethub.build(net_params, cfg, mod_files={"nhleak.mod": LEAK_MOD})
    res = simulate(net, output=tmp_path / "m.h5")
    stim = res.spike_times[np.isin(res.spike_gids, [0, 1])]
    np.testing.assert_array_equal(np.unique(stim), [5.0, 20.0, 35.0])
    assert np.isin([2, 3], res.spike_gids).all()  # the driven HH cells fire
    assert len(list(cache_dir().iterdir())) >= 1  # compiled into the cache
    again = nethub.load(tmp_path / "m.h5")
    assert "nhleak.mod" in again.mod_files  # the store carries its mechanisms


def test_missing_mechanism_named(tmp_path):
    net_params, cfg = _spec({"nosuchmech": {"gbar": 1}})
    net = nethub.build(net_params, cfg)
    with pytest.raises(MissingMechanismError) as err:
        simulate(net, output=tmp_path / "x.h5")
    msg = str(err.value)
    assert "nosuchmech" in msg and "cell type 'P'" in msg and "section 'soma'" in msg
