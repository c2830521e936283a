"""Cell types exported as HOC templates (:func:`nethub.converters.hoc_export.hoc_template`)
rebuild the same cell in plain NEURON: read back by nethub's template reader they give the
same sections and values, and a current clamp gives nethub's own soma trace and spikes
(within 1e-9 mV). Cell types come from NetPyNE tutorial specs, from a HOC template of ours read
with :func:`~nethub.converters.hoc.read_hoc_template`, and from a hand-built type with what the
tutorials lack (arrays, odd names, per-segment values, ions, point processes, lists, vinit)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import nethub
from nethub.celltypes import CompartmentalCell, Section
from nethub.converters.hoc import read_hoc_template
from nethub.converters.hoc_export import hoc_names, hoc_template
from nethub.errors import ConversionError

from .conftest import TUTORIALS, assert_same_run, clamp_network, nethub_trace, plain_trace

pytestmark = pytest.mark.neuron

THREE = """
begintemplate Three
public soma, dend, apical
create soma, dend[2]
objref spkdet, nil, apical
proc init() {
  soma { nseg = 1  insert hh
    pt3dclear()  pt3dadd(0, 0, 0, 15)  pt3dadd(15, 0, 0, 15) }
  for i = 0, 1 dend[i] { nseg = 4  insert hh  insert pas
    pt3dclear()  pt3dadd(15, 0, 0, 2)  pt3dadd(60, 10*i, 5, 1.5)  pt3dadd(120, 20*i, 10, 1) }
  connect dend[0](0), soma(1)
  connect dend[1](1), soma(0.5)
  dend[0] for (x, 0) { gnabar_hh(x) = 0.12 * (1 - x)  g_pas(x) = 1e-4 * (1 + x) }
  dend[1] { ena = 45 }
  soma spkdet = new NetCon(&v(0.5), nil)
  spkdet.threshold = -15
  apical = new SectionList()
  forsec "dend" apical.append()
}
endtemplate Three
"""


def _tutorial_type(model: str, name: str) -> tuple[CompartmentalCell, dict[str, str]]:
    net = nethub.build(*nethub.load_spec(TUTORIALS / model))
    mod_dir = TUTORIALS / model / "mod" if (TUTORIALS / model / "mod").is_dir() else None
    mods = {p.name: p.read_text() for p in sorted(mod_dir.glob("*.mod"))} if mod_dir else {}
    return net.cell_types[name], mods


def _hand_type() -> CompartmentalCell:
    secs = {
        "soma": Section(geom={"L": 20.0, "diam": 20.0, "Ra": 110.0, "nseg": 1},
                        mechs={"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003,
                                      "el": -54.3}},
                        ions={"na": {"e": 55.0}, "k": {"e": -80.0}}, vinit=-70.0,
                        threshold=-10.0),
        "dend[0]": Section(geom={"L": 150.0, "diam": 2.0, "nseg": 3, "cm": 1.2},
                           parent="soma", parent_x=1.0, child_x=0.0,
                           mechs={"pas": {"g": [1e-4, 2e-4, 3e-4], "e": -65.0}}),
        "dend[1]": Section(geom={"L": 80.0, "diam": 1.5, "nseg": 2}, parent="soma",
                           parent_x=0.0, child_x=1.0,
                           mechs={"pas": {"g": [5e-5], "e": -70.0}},
                           point_processes=[{"mod": "IClamp", "loc": 0.7, "label": "late",
                                             "del": 35.0, "dur": 5.0, "amp": 0.05}]),
        "axon.1": Section(geom={"L": 50.0, "diam": 0.8, "nseg": 5}, parent="soma",
                          parent_x=0.5, child_x=0.0, mechs={"hh": {}},
                          ions={"k": {"o": 5.0}}, vinit=-66.5),
        "shape": Section(geom={"L": 30.0, "diam": 1.0}, parent="dend[1]",
                         pt3d=np.array([[0, 0, 0, 1.0], [10, 0, 0, 1.0], [10, 20, 5, 0.5]])),
    }
    return CompartmentalCell("hand", sections=secs, spike_source=("soma", 0.5),
                             section_lists={"all": list(secs), "dends": ["dend[0]", "dend[1]"],
                                            "L": ["axon.1"]},
                             globals={"ko0_k_ion": 5.0})


def _export(tmp_path, name: str, cell: CompartmentalCell):
    text = hoc_template(name, cell)
    assert text == hoc_template(name, cell)  # deterministic
    path = tmp_path / f"{name}.hoc"
    path.write_text(text)
    return path


def _same_trace(tmp_path, name, cell, mods=None):
    path = _export(tmp_path, name, cell)
    net = clamp_network(cell, mods)
    got = nethub_trace(net, tmp_path)
    ref = plain_trace(path, name, net)
    assert_same_run(got, ref)
    return path, got


def _assert_matches_spec(cell: CompartmentalCell, back: CompartmentalCell) -> None:
    """What NEURON holds after the exported template ran equals what the cell type says."""
    assert list(back.sections) == [hoc_names(cell).sections[s] for s in cell.sections]
    for name, sec in cell.sections.items():
        got = back.sections[hoc_names(cell).sections[name]]
        parent = hoc_names(cell).sections.get(sec.parent) if sec.parent else None
        assert (got.parent, got.parent_x if parent else 1.0) == (parent, sec.parent_x)
        for key, val in sec.geom.items():
            if sec.pt3d is None or key not in ("L", "diam"):
                assert got.geom[key] == pytest.approx(val, rel=1e-12), (name, key)
        if sec.pt3d is not None:
            np.testing.assert_array_equal(got.pt3d, sec.pt3d.astype(np.float32))
        for mech, params in sec.mechs.items():
            for p, val in params.items():
                want = np.broadcast_to(val, (int(got.geom["nseg"]),))
                np.testing.assert_array_equal(np.broadcast_to(got.mechs[mech][p],
                                                              want.shape), want)
        for ion, params in sec.ions.items():
            if "e" in params:
                assert got.ions[ion]["e"] == params["e"]
        for pp, gpp in zip(sec.point_processes, got.point_processes):
            assert {k: gpp[k] for k in pp if k not in ("loc", "label")} == \
                {k: v for k, v in pp.items() if k not in ("loc", "label")}


@pytest.mark.parametrize("model,ctype", [("HybridTut", "PYR_HH"), ("HybridTut", "PYR_Izhi")])
def test_tutorial_cell_types(tmp_path, model, ctype):
    cell, mods = _tutorial_type(model, ctype)
    path, (v, spikes) = _same_trace(tmp_path, ctype, cell, mods)
    if ctype == "PYR_HH":
        assert len(spikes) > 0  # the clamp makes it fire
    back = read_hoc_template(path, ctype, trusted=True, mod_files=mods).cell_type
    _assert_matches_spec(cell, back)
    assert back.spike_source == ("soma", 0.5) and back.sections["soma"].threshold == 10.0


def test_tut3_spec_cell(tmp_path):
    net = nethub.build(*nethub.load_spec(TUTORIALS / "doc_code" / "tut3.py"))
    cell = net.cell_types["PYR"]
    path, (v, spikes) = _same_trace(tmp_path, "PYR", cell)
    assert len(spikes) > 0
    _assert_matches_spec(cell, read_hoc_template(path, "PYR", trusted=True).cell_type)


def test_read_template_round_trip(tmp_path):
    src = tmp_path / "three.hoc"
    src.write_text(textwrap.dedent(THREE))
    snap = read_hoc_template(src, "Three", trusted=True, name="T").cell_type
    path, (v, spikes) = _same_trace(tmp_path, "ThreeOut", snap)
    assert len(spikes) > 0
    back = read_hoc_template(path, "ThreeOut", trusted=True, name="T").cell_type
    back.provenance = snap.provenance
    back.template = snap.template  # where each came from (the source file and its name)
    assert back.equals(snap)  # the same sections, values, lists and spike site, exactly
    assert snap.sections["dend[1]"].ions["na"]["e"] == 45.0


def test_hand_built_type(tmp_path):
    cell = _hand_type()
    names = hoc_names(cell)
    assert names.renamed() == {"axon.1": "axon_1", "shape": "shape_sec", "L": "seclist_L"}
    path, (v, spikes) = _same_trace(tmp_path, "Hand", cell)
    # vinit: the soma's -70, then axon.1's -66.5 also at its root node, soma(0.5)
    assert v[0] == -66.5 and len(spikes) > 0
    text = path.read_text()
    assert "// name 'axon.1' is axon_1 here" in text and "create soma, dend[2], axon_1" in text
    back = read_hoc_template(path, "Hand", trusted=True).cell_type
    _assert_matches_spec(cell, back)
    assert back.section_lists == {"all": list(names.sections.values()),
                                  "dends": ["dend[0]", "dend[1]"], "seclist_L": ["axon_1"]}
    assert back.sections["soma"].threshold == -10.0
    assert "ko = 5.0" in text and text.count("ko0_k_ion = 5.0") == 2  # ion and global


def test_refusals():
    cell = _hand_type()
    with pytest.raises(ConversionError, match="not a HOC identifier"):
        hoc_template("bad name", cell)
    cell.sections["soma"].mechs["hh"]["gl"] = "0.1*post_y"
    with pytest.raises(ConversionError, match=r"'hand' section 'soma' hh.gl.*not a number"):
        hoc_template("Hand", cell)
    cell.sections["soma"].mechs["hh"]["gl"] = float("nan")
    with pytest.raises(ConversionError, match="NaN"):
        hoc_template("Hand", cell)


def test_spike_detector_on_point_process_variable(tmp_path):
    """A point process with ``vref`` is the spike source (NetPyNE's Izhikevich-style cells):
    the template's ``connect2target`` watches ``&pointps[i].<vref>`` as nethub's does."""
    soma = Section(geom={"L": 10.0, "diam": 10.0}, mechs={"pas": {"g": 1e-3, "e": -65.0}},
                   threshold=0.1,
                   point_processes=[{"mod": "IClamp", "loc": 0.5, "label": "early", "del": 1.0,
                                     "dur": 1.0, "amp": 0.01},
                                    {"mod": "IClamp", "loc": 0.5, "label": "probe",
                                     "vref": "i", "del": 12.5, "dur": 2.0, "amp": 0.2}])
    cell = CompartmentalCell("probe", sections={"soma": soma}, spike_source=("soma", 0.5))
    path, (v, spikes) = _same_trace(tmp_path, "Probe", cell)
    assert len(spikes) == 1 and 12.5 <= spikes[0] <= 12.55  # the probe current, not v
    assert "soma nc = new NetCon(&pointps[1].i, $o1)" in path.read_text()
