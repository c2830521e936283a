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
