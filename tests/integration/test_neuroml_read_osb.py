"""Reader cases met in public Open Source Brain models (docs/neuroml.md, "Models checked")."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("neuroml")

from nethub.formats.neuroml import read_lems, read_neuroml  # noqa: E402

_CELL = ('<iafCell id="c" leakReversal="-60mV" thresh="-35mV" reset="-65mV" C="1e-5uF" '
         'leakConductance="5e-7mS"/><pulseGenerator id="pg" delay="1ms" duration="2ms" '
         'amplitude="0.1nA"/>')


def _nml(body: str) -> str:
    return ('<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="d">'
            f"{_CELL}{body}</neuroml>")


def test_explicit_input_targets_pop_i_cell(tmp_path):
    """``pop/i/cell`` (IzhikevichModel's Izh2007Cells) and ``pop[i]`` both name a cell."""
    (tmp_path / "m.nml").write_text(_nml(
        '<network id="n"><population id="p" component="c" size="3"/>'
        '<explicitInput target="p/2/c" input="pg"/><explicitInput target="p[1]" input="pg"/>'
        '<explicitInput target="../p/0/c" input="pg"/></network>'))
    got = read_neuroml(tmp_path / "m.nml").networks["n"].explicit_inputs
    assert [(e.population, e.cell, e.input) for e in got] == [("p", 2, "pg"), ("p", 1, "pg"),
                                                               ("p", 0, "pg")]


def test_size_disagreeing_with_instances_uses_the_instances(tmp_path, caplog):
    """NML2 Ex26 declares ``size="3"`` with 9 instances; jNeuroML uses the instances."""
    inst = "".join(f'<instance id="{i}"><location x="{i}" y="0" z="0"/></instance>'
                   for i in range(4))
    (tmp_path / "m.nml").write_text(_nml(
        f'<network id="n"><population id="p" component="c" size="2" type="populationList">'
        f"{inst}</population></network>"))
    with caplog.at_level(logging.WARNING):
        pop = read_neuroml(tmp_path / "m.nml").networks["n"].populations["p"]
    assert pop.size == 4 and pop.ids.tolist() == [0, 1, 2, 3]
    assert "size=2 but 4 <instance> elements" in caplog.text


def test_lems_componenttype_includes_are_model_files(tmp_path):
    """A LEMS file of ComponentType definitions (HindmarshRose1984's ``HindmarshRose3d.xml``)
    is one of the model's files: copied for jNeuroML and embedded in the store."""
    (tmp_path / "types.xml").write_text('<Lems><ComponentType name="myType"/></Lems>')
    (tmp_path / "m.nml").write_text(_nml('<network id="n"><population id="p" component="c" '
                                         'size="1"/></network>'))
    lems = tmp_path / "LEMS_m.xml"
    lems.write_text('<Lems><Target component="s"/><Include file="Cells.xml"/>'
                    '<Include file="types.xml"/><Include file="m.nml"/>'
                    '<Simulation id="s" length="10ms" step="0.1ms" target="n"/></Lems>')
    model = read_lems(lems)
    assert [f.name for f in model.files] == ["LEMS_m.xml", "m.nml", "types.xml"]


def test_input_list_population_from_its_targets(tmp_path, caplog):
    """PospischilEtAl2008's ``Ca.test.net.nml``: an inputList names a population the network
    lacks while its inputs target another; jNeuroML places them by target, so does nethub."""
    (tmp_path / "m.nml").write_text(_nml(
        '<network id="n"><population id="p" component="c" size="2"/>'
        '<inputList id="il" component="pg" population="nope">'
        '<input id="0" target="../p/1/c" destination="synapses"/></inputList></network>'))
    with caplog.at_level(logging.WARNING):
        il = read_neuroml(tmp_path / "m.nml").networks["n"].input_lists["il"]
    assert il.population == "p" and il.columns["target_cell"].tolist() == [1]
    assert "population 'nope', but its inputs target 'p'" in caplog.text
