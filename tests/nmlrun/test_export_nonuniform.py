"""NeuroML export of per-segment conductances: ``channelDensityNonUniform`` step functions of
the path length that give the original values back (jNeuroML's template and nethub's import
agree), valid NeuroML, and a re-imported run that follows the original."""

from __future__ import annotations

import numpy as np
import pytest
from netpyne import specs

import nethub
from nethub.converters.neuroml_export_nonuniform import (
    CONDUCTANCE_FACTOR,
    si_value,
    step_expression,
)
from nethub.expr import compile_expr
from nethub.formats.base import Document
from nethub.formats.neuroml.plugin import NeuroMLFormat

from .conftest import nethub_run
from .test_export_native import _validate

GNA = [0.01, 0.02, 0.03, 0.04, 0.05]
GPAS = [1e-5, 2e-5, 3e-5, 3e-5, 0.1 / 3e4]


@pytest.mark.parametrize("values", [GNA, GPAS, [1.0, 2.0], [5.0, 5.0, 7.0, 7.0, 7.0, 1.0, 1.0],
                                    list(np.linspace(-3, 3, 17) ** 3)])
def test_step_expression_is_exact_at_segment_centres(values):
    length = 123.4
    expr = compile_expr(step_expression(values, length), {"p": None}, "test")
    n = len(values)
    centres = (np.arange(n) + 0.5) / n * length
    got = np.asarray(expr.evaluate({"p": centres}, n=n), dtype=np.float64)
    assert got.tolist() == [float(v) for v in values]  # bit for bit


def test_si_values_come_back_through_the_factor():
    vals = np.concatenate([GNA, GPAS, np.geomspace(1e-7, 1.0, 200)])
    pairs = [si_value(v) for v in vals]
    back = np.array([CONDUCTANCE_FACTOR * e for e, _ok in pairs])
    exact = np.array([ok for _e, ok in pairs])
    assert np.all(back[exact] == vals[exact]) and exact.mean() > 0.5
    np.testing.assert_allclose(back, vals, rtol=2.3e-16, atol=0)  # else 1 ulp


def _net():
    net_params = specs.NetParams()
    dend = {"geom": {"diam": 2, "L": 256, "Ra": 128, "nseg": 5},
            "topol": {"parentSec": "soma", "parentX": 1, "childX": 0}}
    net_params.cellParams["HH"] = {"secs": {
        "soma": {"geom": {"diam": 16, "L": 16, "Ra": 128}, "mechs": {"hh": {}}},
        "dend": {**dend, "mechs": {"pas": {"g": GPAS, "e": -70},
                                   "hh": {"gnabar": GNA, "gkbar": 0.01, "el": -60,
                                          "gl": [1e-4, 2e-4, 3e-4, 3e-4, 3e-4]}}}}}
    # 3-D points: NeuroML's only geometry (an L/diam original comes back ~1e-8 relative off:
    # NEURON keeps pt3d in single precision at the cell's position; docs/neuroml.md)
    net_params.cellParams["Pas"] = {"secs": {
        "soma": {"geom": {"Ra": 128, "pt3d": [[0, 0, 0, 16], [16, 0, 0, 16]]},
                 "mechs": {"pas": {"g": 1e-4, "e": -70}}},
        "dend": {"geom": {"Ra": 128, "nseg": 5, "pt3d": [[16, 0, 0, 2], [272, 0, 0, 2]]},
                 "topol": dend["topol"], "mechs": {"pas": {"g": GPAS, "e": -70}}}}}
    net_params.popParams["H"] = {"cellType": "HH", "numCells": 1}
    net_params.popParams["P"] = {"cellType": "Pas", "numCells": 1}
    net_params.stimSourceParams["ic_nu"] = {"type": "IClamp", "del": 2, "dur": 5, "amp": 0.1}
    net_params.stimTargetParams["ic_nu->P"] = {"source": "ic_nu", "sec": "dend", "loc": 0.9,
                                            "conds": {"pop": "P"}}
    cfg = specs.SimConfig()
    cfg.duration = 10
    cfg.recordTraces = {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}}
    cfg.recordCells = [1]
    cfg.recordStep = 0.025
    return nethub.build(net_params, cfg)


def test_nonuniform_densities_export_reimport_and_run(tmp_path):
    net = _net()
    orig = nethub.simulate(net, output=tmp_path / "orig.h5")
    lost = NeuroMLFormat().write(Document(network=net), tmp_path / "nu.nml",
                                 lems=str(tmp_path / "LEMS_nu.xml"))
    # 0.03 S/cm2: no double E gives 1e-4 * E == 0.03 (jNeuroML's HOC factor): 1 ulp off
    assert lost == ["section 'dend' 'hh_na_dend': 1 per-segment value(s) 1 ulp off (no S/m2 "
                    "double gives them back exactly)"]
    text = (tmp_path / "nu.nml").read_text()
    assert text.count("<channelDensityNonUniform") == 4  # HH: na, leak, pas; Pas: pas
    assert "All valid and no warnings" in _validate(tmp_path / "nu.nml")
    back = nethub.read(str(tmp_path / "LEMS_nu.xml")).network
    dend = back.cell_types["HH"].sections["dend"].mechs
    assert dend["passive"]["gmax"] == GPAS and dend["hh_leak"]["gmax"] == [1e-4, 2e-4, 3e-4,
                                                                          3e-4, 3e-4]
    assert dend["hh_na"]["gmax"] == [0.01, 0.02, np.nextafter(0.03, 1), 0.04, 0.05]
    assert dend["hh_k"]["gmax"] == 0.01 and dend["hh_leak"]["e"] == -60.0
    assert back.cell_types["Pas"].sections["dend"].mechs["passive"]["gmax"] == GPAS
    # the passive cell, re-imported (as jNeuroML builds it: its own NEURON run gives the same
    # trace, docs/neuroml.md) and run, gives the original's trace
    # in a child process: jNeuroML's mechanism names (hh_na, passive, ...) are loaded by other
    # tests in this process from other libraries, and NEURON cannot load a name twice
    nethub_run(tmp_path / "LEMS_nu.xml", tmp_path / "back.h5")
    res = nethub.load_results(tmp_path / "back.h5")
    v0 = np.asarray(orig.traces.get("V_soma", 1))
    v1 = np.asarray(res.traces.get("lems.V_soma.V_soma_1", 1))
    assert np.ptp(v0) > 10
    np.testing.assert_array_equal(v1, v0)


def test_values_not_matching_nseg_are_a_loss():
    from nethub.celltypes import CompartmentalCell, Section
    from nethub.converters.neuroml_export_cells import cell_component

    sec = Section(geom={"L": 100.0, "diam": 2.0, "nseg": 3}, mechs={"pas": {"g": [1e-4, 2e-4]}})
    comps, _m, lost = cell_component(CompartmentalCell(name="c", sections={"soma": sec}),
                                     0.0, -65.0, 10.0)
    assert lost == ["section 'soma' 'pas_soma': 2 per-segment values for nseg 3; the mean is "
                    "exported"]
    assert 'condDensity="0.00015000000000000001 S_per_cm2"' in comps["c"]
