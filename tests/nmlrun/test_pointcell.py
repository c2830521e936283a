"""``pointCellCondBased`` cells (LEMS component type, not in libNeuroML): read from the XML and
built as jNeuroML's NEURON export builds them; the NeuroML2 examples Ex1 and Ex3 pass their
OMV tests through ``nethub run``, Ex4's ``<cell type="pointCellCondBased">`` runs to
jNeuroML's own NEURON trace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nethub.converters.neuroml_cells import SECTION, cell_type
from nethub.converters.neuroml_pointcell import point_cells, without_cells
from nethub.errors import FormatError

from .conftest import jnml_outputs, nethub_run
from .omv import check_omt

CELLS = """<Lems>
  <pointCellCondBased id="a" C="10pF" v0="-65mV" thresh="20mV">
    <channelPopulation id="leak" ionChannel="passive" number="300" erev="-54.3mV"/>
  </pointCellCondBased>
  <cell id="b" type="pointCellCondBased" C="1pF" v0="-60mV" thresh="-20mV"/>
  <Component id="c" type="pointCellCondBasedCa" C="0.002nF" v0="-60mV" thresh="0mV"/>
  <iafCell id="d" C="1pF" thresh="-50mV" reset="-65mV" leakConductance="1nS"
           leakReversal="-65mV"/>
</Lems>"""


def test_point_cells_are_read_in_their_three_forms(tmp_path):
    path = tmp_path / "cells.xml"
    path.write_text(CELLS)
    cells = point_cells([path, tmp_path / "absent.nml", tmp_path / "x.nml.h5"])
    assert list(cells) == ["a", "b", "c"]
    assert cells["a"].channel_populations == ("leak",)
    assert (cells["b"].component_type, cells["c"].component_type) == (
        "pointCellCondBased", "pointCellCondBasedCa")
    ct = cell_type(cells["a"], {"a": "NEURON {}"})
    geom = ct.sections[SECTION].geom
    # jNeuroML: cm = C / area of a 10 x 10 um section, written 3.183098861837906 for 10 pF
    assert geom["cm"] == pytest.approx(3.183098861837906, rel=1e-15)
    assert geom["cm"] * math.pi * 100 * 1e-8 * 1e6 == pytest.approx(10.0)
    # jNeuroML's NetCon threshold is 0 mV for these cells (thresh is the cell's own event)
    assert ct.threshold == 0.0 and ct.sections[SECTION].threshold == 0.0
    assert cell_type(cells["c"], {"c": ""}).sections[SECTION].geom["cm"] == pytest.approx(
        2 * 100 / (math.pi * 100))


def test_point_cell_errors_name_file_and_cell(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text('<Lems><pointCellCondBased id="z" v0="-65mV"/></Lems>')
    with pytest.raises(FormatError, match=r"bad\.xml.*'z'.*C, thresh"):
        point_cells([bad])
    bad.write_text('<!DOCTYPE x [<!ENTITY e "1">]><Lems><pointCellCondBased/></Lems>')
    with pytest.raises(FormatError, match="DOCTYPE"):
        point_cells([bad])


def test_without_cells_leaves_the_document_alone():
    import neuroml

    doc = neuroml.NeuroMLDocument(id="d")
    doc.cells.extend([neuroml.Cell(id="p"), neuroml.Cell(id="q")])
    out = without_cells(doc, {"p": None})
    assert [c.id for c in out.cells] == ["q"] and [c.id for c in doc.cells] == ["p", "q"]
    assert without_cells(doc, {"r": None}) is doc


@pytest.mark.parametrize("lems,omt,extra", [
    ("LEMS_NML2_Ex1_HH.xml", ".test.ex1.jnmlnrn.omt", ()),
    # synapticConnections with jNeuroML's delay 0: run co-located, as Ex12/Ex16
    ("LEMS_NML2_Ex3_Net.xml", ".test.ex3.jnmlnrn.omt", ())])
def test_omv_point_cell_examples(nml2_copy, lems, omt, extra):
    path = nml2_copy / "LEMSexamples" / lems
    nethub_run(path, path.parent.parent / (path.stem + ".h5"), *extra)
    outcomes = check_omt(path.parent / "test" / omt)
    assert len(outcomes) >= 1
    failed = [(o.experiment, o.observed, o.expected) for o in outcomes if not o.passed]
    assert failed == []


def test_cell_typed_point_cell_runs_as_jnml(nml2_copy, tmp_path):
    """Ex4 (``<cell type="pointCellCondBased">``, a kinetic-scheme K channel) with an
    OutputFile added: nethub's trace is jNeuroML's NEURON trace, value for value."""
    text = (nml2_copy / "LEMSexamples" / "LEMS_NML2_Ex4_KS.xml").read_text()
    marker = "<!-- See other examples for saving of data traces -->"
    assert marker in text
    lems = tmp_path / "LEMS_Ex4v.xml"
    lems.write_text(text.replace(marker, '<OutputFile id="of0" fileName="ex4_v.dat">'
                                 '<OutputColumn id="v" quantity="hhpop[0]/v"/></OutputFile>'))
    theirs = jnml_outputs(tmp_path, lems.name, [lems], ["ex4_v.dat"])["ex4_v.dat"]
    nethub_run(lems, tmp_path / "ex4.h5")
    mine = np.loadtxt(tmp_path / "ex4_v.dat")
    ref = np.loadtxt(theirs.splitlines())
    assert mine.shape == (30000, 2) and ref.shape == (30001, 2)  # jnml also writes t = length
    np.testing.assert_array_equal(mine, ref[:-1])

