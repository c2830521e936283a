"""Cell types exported as Python classes (:func:`nethub.converters.hoc_export_python.
python_class`) build, in plain NEURON, the cell nethub builds: a current clamp gives nethub's
soma trace and spikes within 1e-9 mV, for the same cell types as the HOC template tests."""

from __future__ import annotations

import textwrap

import pytest

import nethub
from nethub.converters.hoc import read_hoc_template
from nethub.converters.hoc_export_python import python_class
from nethub.errors import ConversionError

from .conftest import TUTORIALS, assert_same_run, clamp_network, nethub_trace, plain_trace
from .test_hoc_export import THREE, _hand_type, _tutorial_type

pytestmark = pytest.mark.neuron


def _same_trace(tmp_path, name, cell, mods=None):
    text = python_class(name, cell)
    assert text == python_class(name, cell)
    path = tmp_path / f"{name.lower()}_cell.py"
    path.write_text("from neuron import h\n\n\n" + text)
    net = clamp_network(cell, mods)
    got = nethub_trace(net, tmp_path)
    assert_same_run(got, plain_trace(path, name, net))
    return text, got


@pytest.mark.parametrize("ctype", ["PYR_HH", "PYR_Izhi"])
def test_tutorial_cell_types(tmp_path, ctype):
    cell, mods = _tutorial_type("HybridTut", ctype)
    _same_trace(tmp_path, ctype, cell, mods)


def test_tut3_and_template_snapshot(tmp_path):
    net = nethub.build(*nethub.load_spec(TUTORIALS / "doc_code" / "tut3.py"))
    _, (_, spikes) = _same_trace(tmp_path, "PYR", net.cell_types["PYR"])
    assert len(spikes) > 0
    src = tmp_path / "three.hoc"
    src.write_text(textwrap.dedent(THREE))
    snap = read_hoc_template(src, "Three", trusted=True).cell_type
    text, (_, spikes) = _same_trace(tmp_path, "Three", snap)
    assert len(spikes) > 0 and "self.dend = [secs[n] for n in ['dend[0]', 'dend[1]']]" in text


def test_hand_built_type(tmp_path):
    text, (v, spikes) = _same_trace(tmp_path, "Hand", _hand_type())
    assert v[0] == -66.5 and len(spikes) > 0
    assert "self.axon_1 = secs['axon.1']" in text and "self.seclist_L =" in text


def test_refusals():
    with pytest.raises(ConversionError, match="not a Python identifier"):
        python_class("2cells", _hand_type())
    cell = _hand_type()
    cell.sections["dend[0]"].geom["L"] = "uniform(1, 2)"
    with pytest.raises(ConversionError, match=r"section 'dend\[0\]'.*geometry 'L'"):
        python_class("Hand", cell)
