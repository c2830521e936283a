"""Writing NeuroML2 (.nml, float64 .nml.h5): atomic, valid for pynml, read back equal."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("neuroml")

from neuroml.loaders import read_neuroml2_file  # noqa: E402

from nethub.formats.neuroml import NeuroMLError, read_lems, read_neuroml  # noqa: E402
from nethub.formats.neuroml._common import format_float  # noqa: E402
from nethub.formats.neuroml.build import network_from_summary  # noqa: E402
from nethub.formats.neuroml.nmlread import merge_into  # noqa: E402
from nethub.formats.neuroml.summary import summarize_network  # noqa: E402
from nethub.formats.neuroml.write import write_nml, write_nml_h5  # noqa: E402

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml"
SMALLNET = FIX / "SmallNet.net.nml"  # written by fixtures/neuroml/make_network.py
INSTANCES = FIX / "NeuroML2" / "examples" / "NML2_InstanceBasedNetwork.nml"


def assert_same_network(a, b):
    assert list(a.populations) == list(b.populations)
    for pid, pop in a.populations.items():
        np.testing.assert_array_equal(pop.ids, b.populations[pid].ids)
        np.testing.assert_array_equal(pop.locations, b.populations[pid].locations)
        assert pop.component == b.populations[pid].component
    assert list(a.projections) == list(b.projections)
    assert list(a.input_lists) == list(b.input_lists)
    for pid, proj in a.projections.items():
        other = b.projections[pid]
        assert (proj.kind, proj.synapse, proj.pre_population, proj.post_population) == (
            other.kind, other.synapse, other.pre_population, other.post_population)
        for name, col in proj.columns.items():
            np.testing.assert_array_equal(col, other.columns[name], err_msg=f"{pid}.{name}")
            assert col.dtype == other.columns[name].dtype
    for iid, il in a.input_lists.items():
        for name, col in il.columns.items():
            np.testing.assert_array_equal(col, b.input_lists[iid].columns[name])
    assert a.temperature_degC == b.temperature_degC


@pytest.mark.parametrize("source", [SMALLNET, SMALLNET.with_name("SmallNet.net.nml.h5")])
@pytest.mark.parametrize("suffix", [".nml", ".nml.h5"])
def test_write_read_back_equal(tmp_path, suffix, source):
    model = read_neuroml(source)
    out = tmp_path / f"copy{suffix}"
    (write_nml if suffix == ".nml" else write_nml_h5)(model.document, out)
    back = read_neuroml(out)
    assert_same_network(model.networks["SmallNet"], back.networks["SmallNet"])
    assert [c.id for c in back.document.cells] == [c.id for c in model.document.cells]
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left


def test_h5_keeps_float64_and_libneuroml_reads_it(tmp_path):
    model = read_neuroml(INSTANCES)
    net = model.document.networks[0]
    net.populations[0].instances[0].location.x = 0.1 + 1e-12  # not representable in float32
    out = write_nml_h5(model.document, tmp_path / "n.nml.h5")
    with h5py.File(out) as f:
        ds = f["neuroml/network/population_iafCells/iafCells"]
        assert ds.dtype == np.float64 and ds[0, 1] == 0.1 + 1e-12
    assert read_neuroml(out).networks[net.id].populations["iafCells"].locations[0, 0] == (
        0.1 + 1e-12)
    ref = read_neuroml2_file(str(out)).networks[0]  # libNeuroML's own reader agrees
    ours = read_neuroml(INSTANCES).networks[net.id]
    pop = next(p for p in ref.populations if p.id == "iafCells")
    np.testing.assert_allclose([[i.location.x, i.location.y, i.location.z]
                                for i in pop.instances][1:], ours.populations["iafCells"]
                               .locations[1:])
    for proj in ref.projections:
        conns = list(proj.connections) + list(proj.connection_wds)
        assert [c.get_post_cell_id() for c in conns] == \
            ours.projections[proj.id].columns["post_cell"].tolist()


def test_floats_are_written_exactly(tmp_path):
    model = read_neuroml(INSTANCES)
    loc = model.document.networks[0].populations[0].instances[1].location
    loc.x, loc.y, loc.z = 1e-20, 0.1 + 1e-12, 1 / 3
    out = write_nml(model.document, tmp_path / "f.nml")
    pop = read_neuroml(out).networks[model.document.networks[0].id].populations["iafCells"]
    assert pop.locations[1].tolist() == [1e-20, 0.1 + 1e-12, 1 / 3]
    assert format_float(float("inf")) == "INF" and format_float(float("nan")) == "NaN"


@pytest.mark.parametrize("lems", ["LEMS_NML2_Ex12_Net2.xml", "LEMS_NML2_Ex16_Inputs.xml",
                                  "LEMS_NML2_Ex19_GapJunctions.xml",
                                  "LEMS_NML2_Ex20_AnalogSynapses.xml"])
def test_network_from_summary_round_trip(lems):
    net = read_lems(FIX / "NeuroML2" / "LEMSexamples" / lems).network
    again = summarize_network(network_from_summary(net), "rebuilt")
    assert_same_network(net, again)
    assert again.explicit_inputs == net.explicit_inputs


def test_failed_write_leaves_the_old_file(tmp_path):
    model = read_lems(FIX / "NeuroML2" / "LEMSexamples" / "LEMS_NML2_Ex16_Inputs.xml").neuroml
    out = tmp_path / "x.nml.h5"
    out.write_bytes(b"old")
    with pytest.raises(NeuroMLError, match="explicitInput"):
        write_nml_h5(model.document, out)
    assert out.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [out]


@pytest.mark.slow
def test_written_nml_validates_with_pynml(tmp_path):
    """jnml -validate (Java, ~2 s) on a network and an abstract-cell/inputs document."""
    from pyneuroml.pynml import validate_neuroml2

    # our SmallNet as read from .nml.h5 (written from its arrays) + abstract cells,
    # synapses and every input type of NML2_Inputs.nml, in one file: one Java run
    doc = read_neuroml(SMALLNET.with_name("SmallNet.net.nml.h5")).document
    merge_into(doc, read_neuroml(FIX / "NeuroML2" / "examples" / "NML2_Inputs.nml").document)
    out = write_nml(doc, tmp_path / "both.nml")
    ok, text = validate_neuroml2(str(out), verbose_validate=False, return_string=True)
    assert ok, text
    assert "Valid against schema and all tests" in text or "valid" in text.lower()


def test_h5_top_level_includes_resolve_next_to_the_h5_file(tmp_path, monkeypatch):
    import neuroml

    (tmp_path / "m").mkdir()
    cells = FIX / "NeuroML2" / "examples" / "NML2_SingleCompHHCell.nml"
    (tmp_path / "m" / "hh.nml").write_bytes(cells.read_bytes())
    doc = neuroml.NeuroMLDocument(id="withinclude")
    doc.includes.append(neuroml.IncludeType(href="hh.nml"))
    net = neuroml.Network(id="n")
    net.populations.append(neuroml.Population(id="p", component="hhcell", size=2))
    doc.networks.append(net)
    out = write_nml_h5(doc, tmp_path / "m" / "n.nml.h5")
    monkeypatch.chdir(tmp_path)
    model = read_neuroml(out)
    assert [c.id for c in model.document.cells] == ["hhcell"]
    assert model.files == [out.resolve(), (tmp_path / "m" / "hh.nml").resolve()]
    assert model.networks["n"].populations["p"].size == 2
