"""Morphologies through NEURON's Import3d in a child process (nethub.sim.morphread), with
BMTK's aibs_perisomatic processing and dL rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nethub.converters.sonata_bio import read_morphology
from nethub.errors import ConversionError

from .conftest import FIXTURES

BIO = FIXTURES / "bio" / "components"
SWC = BIO / "morphologies" / "cell_a.swc"
ASC = """("CellBody"
  (Closed)
  (CellBody)
  (  5.0   0.0  0.0  0.5)
  (  0.0   5.0  0.0  0.5)
  ( -5.0   0.0  0.0  0.5)
  (  0.0  -5.0  0.0  0.5)
)
( (Dendrite)
  (  0.0   5.0  0.0  2.0)
  (  0.0  20.0  0.0  2.0)
  (
    (  5.0  60.0  0.0  1.0)
    Normal
  |
    ( -5.0  60.0  0.0  1.0)
    Normal
  )
)
"""


def _swc_rows() -> np.ndarray:
    return np.loadtxt(SWC, comments="#")


def test_plain_swc_keeps_points_and_caller_state():
    from neuron import h  # the caller's NEURON: nothing may change in it

    before = (h.celsius, sum(1 for _ in h.allsec()))
    imp = read_morphology(SWC)
    assert (h.celsius, sum(1 for _ in h.allsec())) == before
    cell = imp.cell_type
    assert cell.name == "cell_a" and cell.spike_source == ("soma[0]", 0.5)
    assert cell.section_lists["all"] == list(cell.sections)
    kinds = {n.split("[")[0] for n in cell.sections}
    assert kinds == {"soma", "dend", "apic", "axon"}
    # every SWC point of a neurite is a 3-D point of some section (Import3d keeps them)
    rows = _swc_rows()
    pts = np.vstack([s.pt3d[:, :3] for s in cell.sections.values()])
    for r in rows[rows[:, 1] > 1]:
        assert np.min(np.abs(pts - r[2:5]).sum(axis=1)) < 1e-3
    assert len(imp.segments["x"]) == sum(int(s.geom["nseg"]) for s in cell.sections.values())
    assert imp.files["morphologies/cell_a.swc"].data == SWC.read_bytes()


def test_perisomatic_processing_and_dl():
    params = json.loads((BIO / "biophysical_neuron_templates" / "cell_params.json").read_text())
    mods = {"kslow.mod": (BIO / "mechanisms" / "kslow.mod").read_text()}
    imp = read_morphology(SWC, processing=["aibs_perisomatic"], params=params, dL=20.0,
                          mod_files=mods)
    secs = imp.cell_type.sections
    assert [n for n in secs if n.startswith("axon")] == ["axon[0]", "axon[1]"]
    assert secs["axon[0]"].parent == "soma[0]" and secs["axon[0]"].parent_x == 0.5
    assert secs["axon[1]"].parent == "axon[0]"
    for name in ("axon[0]", "axon[1]"):
        assert secs[name].geom["L"] == pytest.approx(30.0)
        assert np.allclose(secs[name].pt3d[:, 3], 1.0)
    for sec in secs.values():
        assert sec.geom["nseg"] == 1 + 2 * int(sec.geom["L"] / 40.0)
        assert sec.geom["Ra"] == params["passive"][0]["ra"]
        assert sec.mechs["pas"]["e"] == params["passive"][0]["e_pas"]
    soma = secs["soma[0]"]
    assert soma.mechs["hh"]["gnabar"] == 0.12 and soma.mechs["kslow"]["gbar"] == 0.0005
    assert soma.ions["na"]["e"] == 50.0 and soma.ions["k"]["e"] == -77.0
    assert "hh" not in secs["dend[0]"].mechs and secs["dend[0]"].geom["cm"] == 2.0
    assert imp.cell_type.mod_files == ["kslow.mod"]
    assert imp.segments["type"][imp.segments["sec_id"] == 0][0] == 1


def test_neurolucida_asc(tmp_path):
    path = tmp_path / "cell.asc"
    path.write_text(ASC)
    imp = read_morphology(path)
    assert list(imp.cell_type.sections)[0] == "soma[0]"
    assert sum(n.startswith("dend") for n in imp.cell_type.sections) == 3
    assert imp.files["morphologies/cell.asc"].role == "morphology"


def test_errors_name_the_file(tmp_path):
    with pytest.raises(ConversionError, match="not found"):
        read_morphology(tmp_path / "missing.swc")
    bad = tmp_path / "cell.xyz"
    bad.write_text("1 1 0 0 0 1 -1\n")
    with pytest.raises(ConversionError, match="cell.xyz"):
        read_morphology(bad)
    with pytest.raises(ConversionError, match="model_processing"):
        read_morphology(SWC, processing=["aibs_unknown"])


ALLACTIVE = {
    "passive": [{"ra": 90.0, "e_pas": -72.0, "cm": [{"section": "soma", "cm": 1.5},
                                                    {"section": "dend", "cm": 2.5}]}],
    "conditions": [{"erev": [{"section": "soma", "ena": 55.0, "ek": -90.0},
                             {"section": "dend", "ena": 40.0, "ek": -80.0}]}],
    "genome": [{"section": "soma", "name": "gnabar_hh", "value": "0.1", "mechanism": "hh"},
               {"section": "dend", "name": "g_pas", "value": 2e-5, "mechanism": ""},
               {"section": "glob", "name": "ignored", "value": 1, "mechanism": ""}],
}


def test_allactive_processing():
    """aibs_allactive: stub axon on soma(1) keeping the first/last axon diameters, erev only
    where the ion exists, values given as text taken as numbers."""
    plain = read_morphology(SWC).cell_type.sections
    axon = [s for n, s in plain.items() if n.startswith("axon")]
    first, last = axon[0].pt3d[:, 3], axon[-1].pt3d[:, 3]
    secs = read_morphology(SWC, processing=["aibs_allactive"], params=ALLACTIVE).cell_type.sections
    assert secs["axon[0]"].parent_x == 1.0 and secs["axon[1]"].parent == "axon[0]"
    # NEURON's diam of a uniform-looking axon section: the mean of its 3-D diameters
    assert secs["axon[0]"].pt3d[0, 3] == pytest.approx(np.mean(first), rel=0.2)
    assert secs["axon[1]"].pt3d[0, 3] == pytest.approx(np.mean(last), rel=0.2)
    assert secs["soma[0]"].mechs["hh"]["gnabar"] == 0.1
    assert secs["soma[0]"].ions["k"]["e"] == -90.0 and secs["soma[0]"].geom["cm"] == 1.5
    assert "na" not in secs["dend[0]"].ions and secs["dend[0]"].mechs["pas"]["g"] == 2e-5
    assert secs["dend[0]"].geom["Ra"] == 90.0 and secs["axon[0]"].mechs["pas"]["e"] == -72.0


HOC = """begintemplate Ball
public soma, dend, all
create soma[1], dend[1]
objref all
proc init() {
    all = new SectionList()
    soma[0] { L = 20 diam = 20 insert hh all.append() }
    dend[0] { L = 200 diam = 2 insert pas all.append() }
    connect dend[0](0), soma[0](1)
}
endtemplate Ball
"""


def test_hoc_template_needs_trust(tmp_path):
    from nethub.errors import UntrustedCodeError

    path = tmp_path / "ball.hoc"
    path.write_text(HOC)
    with pytest.raises(UntrustedCodeError):
        read_morphology(None, template="hoc:Ball", hoc_files=[path])
    imp = read_morphology(None, template="hoc:Ball", hoc_files=[path], trusted=True, dL=20.0)
    secs = imp.cell_type.sections
    assert list(secs) == ["soma[0]", "dend[0]"] and secs["dend[0]"].geom["nseg"] == 11
    assert imp.segments["type"].tolist() == [1] + [3] * 11
