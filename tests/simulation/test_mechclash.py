"""Two stores whose .mod files declare one mechanism name with different content, run one after
the other in this process: ``nethub.simulate`` runs the second in a new process (right trace),
``run_store`` refuses it with a clear error; identical content runs here silently."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import nethub
from nethub.runner import simulate, store_run_config
from nethub.sim import run_store
from nethub.sim.mechorigin import MechanismClashError, conflicts, record
from nethub.store import read_results

pytestmark = pytest.mark.neuron

# a leak whose reversal is the only difference between the two stores: the membrane settles
# at e (tau = cm / g = 1 ms), so the trace tells which mechanism ran
LEAK_MOD = """
NEURON {{ SUFFIX nhclash NONSPECIFIC_CURRENT i RANGE g, e }}
PARAMETER {{ g = 0.001 (S/cm2) e = {e} (mV) }}
ASSIGNED {{ v (mV) i (mA/cm2) }}
BREAKPOINT {{ i = g*(v - e) }}
"""


def _net(e: float):
    net = {"popParams": {"P": {"cellType": "P", "numCells": 1}},
           "cellParams": {"P": {"secs": {"soma": {"geom": {"L": 20, "diam": 20},
                                                  "mechs": {"nhclash": {}}}}}}}
    cfg = {"duration": 15, "dt": 0.025, "recordCells": "all",
           "recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}}
    return nethub.build(net, cfg, mod_files={"leak.mod": LEAK_MOD.format(e=e)})


def _v_end(res) -> float:
    return float(res.traces.get("V", 0)[-1])


def _child_runs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "nethub.runner" and "in a new process" in r.getMessage()]


def test_clash_runs_in_new_process_or_is_refused(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="nethub")
    first = simulate(_net(-70.0), output=tmp_path / "a.h5")
    assert _v_end(first) == pytest.approx(-70.0, abs=0.01)
    # identical content in another store: same library, run here, nothing said
    same = simulate(_net(-70.0), output=tmp_path / "a2.h5")
    np.testing.assert_array_equal(same.traces.data, first.traces.data)
    assert not _child_runs(caplog)
    # other content under the same name: run in a child process, with its own mechanism
    other = simulate(_net(-50.0), output=tmp_path / "b.h5")
    assert _v_end(other) == pytest.approx(-50.0, abs=0.01)
    assert len(_child_runs(caplog)) == 1 and "'nhclash'" in _child_runs(caplog)[0]
    assert len(read_results(tmp_path / "b.h5").traces) == 1  # the child wrote the store
    # the simulator itself refuses it, naming the mechanism, both sources and the remedy
    config = store_run_config(tmp_path / "b.h5")
    with pytest.raises(MechanismClashError) as err:
        run_store(tmp_path / "b.h5", config, tmp_path / "b2.h5")
    msg = str(err.value)
    assert "'nhclash'" in msg and "leak.mod" in msg and "nethub run" in msg
    assert str(tmp_path / "a.h5") in msg and str(tmp_path / "b.h5") in msg
    assert not (tmp_path / "b2.h5").exists()


def test_partial_reload_of_identical_content_is_named():
    """A library holding a mechanism loaded before (same text) and a new one would define the
    first twice (NEURON: "name already exists"): named before nrn_load_dll."""
    one = "NEURON { SUFFIX nhpartone }\n"
    record({"one.mod": one}, "/lib/first")
    assert conflicts({"one.mod": one}) == []  # the same content again: fine
    two = {"one.mod": one, "two.mod": "NEURON { SUFFIX nhparttwo }\n"}
    assert conflicts(two) == []  # content only (a store's files, not all of them loaded)
    both = conflicts(two, "/lib/2", known={"nhpartone"})
    assert len(both) == 1 and "'nhpartone'" in both[0] and "/lib/first" in both[0]
    assert conflicts(two, known={"nhpartone", "nhparttwo"}) == []  # nothing to load: fine


def test_library_defining_a_loaded_name_again_runs_in_new_process(tmp_path, caplog):
    """Store A's library holds `nhclash`; store B uses the same `nhclash` text plus another
    mechanism, so its library would define `nhclash` a second time (NEURON: "name already
    exists"): ``nethub.simulate`` runs B in a new process (found when loading, not before)."""
    caplog.set_level(logging.INFO, logger="nethub")
    simulate(_net(-30.0), output=tmp_path / "a.h5")
    net = {"popParams": {"P": {"cellType": "P", "numCells": 1}},
           "cellParams": {"P": {"secs": {"soma": {"geom": {"L": 20, "diam": 20},
                                                  "mechs": {"nhclash": {}, "nhextra": {}}}}}}}
    cfg = {"duration": 15, "dt": 0.025, "recordCells": "all",
           "recordTraces": {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}}
    b = nethub.build(net, cfg, mod_files={"leak.mod": LEAK_MOD.format(e=-30.0),
                                          "extra.mod": "NEURON { SUFFIX nhextra }\n"})
    res = simulate(b, output=tmp_path / "b.h5")
    assert _v_end(res) == pytest.approx(-30.0, abs=0.01)
    assert _child_runs(caplog) and "'nhclash'" in _child_runs(caplog)[-1]
