"""Recording a variable a section does not have (issue 16 item 2): a SimulationError naming the
trace label, the variable, the section and the cell, with the mechanisms that are there (not a
raw NEURON traceback)."""

from __future__ import annotations

import pytest

import nethub
from nethub.errors import SimulationError
from nethub.specs import NetParams, SimConfig

pytestmark = pytest.mark.neuron


def _net(trace: dict):
    net = NetParams()
    net.cellParams["HH"] = {"secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8},
                                              "mechs": {"hh": {}}}}}
    net.popParams["E"] = {"cellType": "HH", "numCells": 2}
    cfg = SimConfig()
    cfg.duration = 2
    cfg.recordCells = [1]
    cfg.recordTraces = {"V": {"sec": "soma", "loc": 0.5, "var": "v"}, "bad": trace}
    return nethub.build(net, cfg)


@pytest.mark.parametrize(("trace", "var"), [
    ({"sec": "soma", "loc": 0.5, "var": "vv"}, "'vv'"),
    ({"sec": "soma", "loc": 0.5, "mech": "kdr", "var": "n"}, "'kdr.n'"),
    ({"sec": "soma", "loc": 0.5, "mech": "hh", "var": "q"}, "'hh.q'"),
])
def test_missing_variable_names_label_variable_and_section(tmp_path, trace, var):
    with pytest.raises(SimulationError) as info:
        nethub.simulate(_net(trace), output=tmp_path / "out.h5")
    msg = str(info.value)
    assert msg.startswith("recordTraces['bad']: cannot record " + var)
    assert "section 'soma' of cell 1" in msg and "mechanisms there: hh" in msg


def test_existing_ion_variable_records(tmp_path):
    res = nethub.simulate(_net({"sec": "soma", "loc": 0.5, "var": "nai"}),
                          output=tmp_path / "out.h5")
    assert len(res.traces.index) == 2
