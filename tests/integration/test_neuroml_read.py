"""NeuroML2 / LEMS reading on NeuroML2-repository files and our own SmallNet (fixtures/neuroml)."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("neuroml")

from neuroml.loaders import read_neuroml2_file  # noqa: E402

from nethub.formats.neuroml import NeuroMLError, read_lems, read_neuroml  # noqa: E402

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml"
NML2 = FIX / "NeuroML2"
SMALLNET = FIX / "SmallNet.net.nml"  # written by fixtures/neuroml/make_network.py
SMALLNET_H5 = FIX / "SmallNet.net.nml.h5"


def test_simple_ion_channel_matches_libneuroml():
    model = read_neuroml(NML2 / "examples" / "NML2_SimpleIonChannel.nml")
    ref = read_neuroml2_file(str(NML2 / "examples" / "NML2_SimpleIonChannel.nml"))
    assert [c.id for c in model.document.ion_channel_hhs] == [c.id for c in ref.ion_channel_hhs]
    assert model.networks == {} and model.files == [
        (NML2 / "examples" / "NML2_SimpleIonChannel.nml").resolve()]


def test_instance_network_matches_libneuroml():
    path = NML2 / "examples" / "NML2_InstanceBasedNetwork.nml"
    net = read_neuroml(path).networks["InstanceBasedNetwork"]
    ref = read_neuroml2_file(str(path)).networks[0]
    for pop in ref.populations:
        got = net.populations[pop.id]
        assert got.ids.dtype == np.int64 and got.locations.dtype == np.float64
        assert got.ids.tolist() == [int(i.id) for i in pop.instances]
        assert got.locations.tolist() == [[i.location.x, i.location.y, i.location.z]
                                          for i in pop.instances]
    for proj in ref.projections:
        cols = net.projections[proj.id].columns
        assert cols["pre_cell"].tolist() == [c.get_pre_cell_id() for c in proj.connections]
        assert cols["post_cell"].tolist() == [c.get_post_cell_id() for c in proj.connections]
    il = ref.input_lists[0]
    assert net.input_lists[il.id].columns["target_cell"].tolist() == [
        i.get_target_cell_id() for i in il.input]


def test_segment_connections_keep_segment_and_fraction():
    path = NML2 / "examples" / "NML2_SegmentConnections.nml"
    ref = read_neuroml2_file(str(path)).networks[0]
    net = read_neuroml(path).networks[ref.id]
    for proj in ref.projections:
        conns = list(proj.connections) + list(proj.connection_wds)
        cols = net.projections[proj.id].columns
        assert cols["post_segment"].tolist() == [c.get_post_segment_id() for c in conns]
        assert cols["post_fraction"].tolist() == [c.get_post_fraction_along() for c in conns]


def test_lems_ex5_run_settings_outputs_and_includes():
    lems = read_lems(NML2 / "LEMSexamples" / "LEMS_NML2_Ex5_DetCell.xml")
    sim = lems.simulation
    assert (sim.id, sim.length_ms, sim.step_ms, sim.target, sim.seed) == (
        "sim1", 300.0, 0.01, "net1", None)
    assert [o.file_name for o in sim.output_files] == ["results/ex5_v.dat",
                                                       "results/ex5_vars.dat"]
    assert [c.quantity for c in sim.output_files[0].columns] == ["hhpop[0]/v"]
    assert [c.id for c in sim.output_files[1].columns] == ["m", "h", "n"]
    assert lems.core_includes == ["Cells.xml", "Networks.xml", "Simulation.xml"]
    assert lems.includes == [(NML2 / "examples" / "NML2_SingleCompHHCell.nml").resolve()]
    assert lems.network.populations["hhpop"].size == 1
    assert lems.report_file == "report.ex5.txt"


def test_lems_inline_neuroml_and_event_outputs():
    lems = read_lems(NML2 / "LEMSexamples" / "LEMS_NML2_Ex12_Net2.xml")
    (ev,) = lems.simulation.event_output_files
    assert (ev.id, ev.file_name, ev.format) == ("spikes", "results/ex12.spikes", "ID_TIME")
    assert [(s.id, s.select, s.event_port) for s in ev.selections] == [
        ("0", "spikersPop[0]", "spike")]
    net = lems.network
    assert net.populations["iafPop"].size == 9 and len(net.projections) == 6
    wd = net.projections["projection2"].columns
    assert wd["weight"].tolist() == [0.5, 0.25] and wd["delay"].tolist() == [10.0, 15.0]
    assert net.projections["projection1"].columns["weight"].tolist() == [1.0]
    assert [c.id for c in lems.neuroml.document.iaf_cells] == ["iaf1", "iaf2"]


def test_lems_seed_explicit_inputs_gap_and_analog():
    ex16 = read_lems(NML2 / "LEMSexamples" / "LEMS_NML2_Ex16_Inputs.xml")
    assert ex16.simulation.seed == 123 and ex16.simulation.step_ms == 0.001
    text = (NML2 / "LEMSexamples" / "LEMS_NML2_Ex16_Inputs.xml").read_text()
    assert len(ex16.network.explicit_inputs) == text.count("<explicitInput ") > 0
    first = ex16.network.explicit_inputs[0]
    assert first.population in ex16.network.populations
    gap = read_lems(NML2 / "LEMSexamples" / "LEMS_NML2_Ex19_GapJunctions.xml").network
    assert {p.kind for p in gap.projections.values()} == {"electrical"}
    analog = read_lems(NML2 / "LEMSexamples" / "LEMS_NML2_Ex20_AnalogSynapses.xml").network
    projs = list(analog.projections.values())
    assert {p.kind for p in projs} == {"continuous"}
    assert all(p.pre_component and p.synapse for p in projs)


def _network(path: Path):
    return read_neuroml(path).networks["SmallNet"]


def test_smallnet_xml_and_h5_give_the_same_network():
    xml, h5 = _network(SMALLNET), _network(SMALLNET_H5)
    assert (xml.n_cells, xml.n_connections) == (h5.n_cells, h5.n_connections) == (50, 996)
    assert xml.temperature_degC == h5.temperature_degC == 34.0
    with h5py.File(SMALLNET_H5) as f:  # float32 datasets; the values are exact in float32
        assert f["neuroml/network/projection_pyr_pyr/pyr_pyr"].dtype == np.float32
    assert list(xml.populations) == list(h5.populations) == ["pyramidals", "baskets",
                                                             "stellates"]
    for pid, pop in xml.populations.items():
        assert h5.populations[pid].locations.dtype == np.float64
        np.testing.assert_array_equal(pop.ids, h5.populations[pid].ids)
        np.testing.assert_array_equal(pop.locations, h5.populations[pid].locations)
    assert list(xml.projections) == list(h5.projections)
    for pid, proj in xml.projections.items():
        for name, col in proj.columns.items():
            assert col.dtype == h5.projections[pid].columns[name].dtype
            np.testing.assert_array_equal(col, h5.projections[pid].columns[name], err_msg=name)
    for iid, il in xml.input_lists.items():
        assert (il.component, il.population, il.destination) == (
            h5.input_lists[iid].component, h5.input_lists[iid].population, "synapses")
        for name, col in il.columns.items():
            np.testing.assert_array_equal(col, h5.input_lists[iid].columns[name], err_msg=name)


def test_smallnet_connections_and_inputs_match_libneuroml():
    ours = _network(SMALLNET)
    ref = read_neuroml2_file(str(SMALLNET)).networks[0]
    for proj in ref.projections:
        cols, conns = ours.projections[proj.id].columns, proj.connection_wds
        assert cols["pre_cell"].tolist() == [c.get_pre_cell_id() for c in conns]
        assert cols["pre_segment"].tolist() == [c.get_pre_segment_id() for c in conns]
        assert cols["post_segment"].tolist() == [c.get_post_segment_id() for c in conns]
        assert cols["pre_fraction"].tolist() == [c.get_pre_fraction_along() for c in conns]
        assert cols["post_fraction"].tolist() == [c.get_post_fraction_along() for c in conns]
        assert cols["weight"].tolist() == [float(c.weight) for c in conns]
        assert cols["delay"].tolist() == [c.get_delay_in_ms() for c in conns]
        assert len(set(cols["post_segment"])) > 1 and len(set(cols["weight"])) > 1
    for il in ref.input_lists:
        cols, inputs = ours.input_lists[il.id].columns, list(il.input) + list(il.input_ws)
        assert cols["target_cell"].tolist() == [i.get_target_cell_id() for i in inputs]
        assert cols["segment"].tolist() == [i.get_segment_id() for i in inputs]
        assert cols["fraction"].tolist() == [i.get_fraction_along() for i in inputs]
    weighted = ours.input_lists["weighted_inputs"].columns["weight"]
    assert weighted.tolist() == [i.get_weight() for i in ref.input_lists[1].input_ws]


def test_h5_four_columns_keep_y_unlike_libneuroml_default_reader():
    with h5py.File(SMALLNET_H5) as f:
        ds = f["neuroml/network/population_pyramidals/pyramidals"]
        assert ds.shape == (30, 4) and not [k for k in ds.attrs if k.startswith("column_")]
    ours = _network(SMALLNET_H5).populations["pyramidals"]
    xml = _network(SMALLNET).populations["pyramidals"]
    ref = read_neuroml2_file(str(SMALLNET_H5)).networks[0]
    pop = next(p for p in ref.populations if p.id == "pyramidals")
    y = np.array([i.location.y for i in pop.instances])
    z = np.array([i.location.z for i in pop.instances])
    np.testing.assert_array_equal(y, z)  # libNeuroML's bug: y := z
    np.testing.assert_array_equal(z, xml.locations[:, 2])
    np.testing.assert_array_equal(ours.locations, xml.locations)
    assert not np.allclose(ours.locations[:, 1], ours.locations[:, 2])


def _h5_items(path: Path) -> dict:
    items = {}

    def visit(name, obj):
        data = obj[()].tobytes() if isinstance(obj, h5py.Dataset) else None
        items[name] = (data, {k: np.asarray(v).tobytes() for k, v in obj.attrs.items()})

    with h5py.File(path) as f:
        f.visititems(visit)
    return items


def test_smallnet_fixture_is_what_make_network_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_network", FIX / "make_network.py")
    make_network = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_network)
    xml, h5 = make_network.write_files(tmp_path)
    assert xml.read_bytes() == SMALLNET.read_bytes()
    assert _h5_items(h5) == _h5_items(SMALLNET_H5)


def test_h5_reads_100000_connections_without_a_loop_per_row(tmp_path):
    path = tmp_path / "big.net.nml.h5"
    shutil.copy(SMALLNET_H5, path)
    with h5py.File(path, "r+") as f:
        group = f["neuroml/network/projection_pyr_pyr"]
        rows, attrs = group["pyr_pyr"][()], dict(group["pyr_pyr"].attrs)
        big = np.tile(rows, (100_000 // len(rows) + 1, 1))[:100_000]
        big[:, 0] = np.arange(100_000)
        del group["pyr_pyr"]
        group.create_dataset("pyr_pyr", data=big).attrs.update(attrs)
    start = time.perf_counter()
    net = _network(path)
    elapsed = time.perf_counter() - start
    cols = net.projections["pyr_pyr"].columns
    assert net.n_connections == 100_000 + 996 - 360
    np.testing.assert_array_equal(cols["post_segment"], big[:, 4].astype(np.int64))
    np.testing.assert_array_equal(cols["delay"], big[:, 8])
    assert elapsed < 1.0, f"{elapsed:.2f} s for 100,000 connections"


def _nml(body: str, includes: tuple[str, ...] = ()) -> str:
    inc = "".join(f'<include href="{h}"/>' for h in includes)
    return ('<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="d">'
            f"{inc}{body}</neuroml>")


def test_includes_resolve_relative_to_the_including_file(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cells.nml").write_text(_nml('<iafCell id="c" leakReversal="-60mV" '
        'thresh="-35mV" reset="-65mV" C="1e-5uF" leakConductance="5e-7mS"/>'))
    (tmp_path / "sub" / "top.nml").write_text(_nml(
        '<network id="n"><population id="p" component="c" size="3"/></network>',
        ("cells.nml",)))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "cells.nml").write_text("not xml")  # must not be picked up from the cwd
    monkeypatch.chdir(elsewhere)
    model = read_neuroml(tmp_path / "sub" / "top.nml")
    assert [c.id for c in model.document.iaf_cells] == ["c"]
    assert model.networks["n"].populations["p"].ids.tolist() == [0, 1, 2]
    assert len(model.files) == 2


def test_include_cycle_is_refused(tmp_path):
    (tmp_path / "a.nml").write_text(_nml("", ("b.nml",)))
    (tmp_path / "b.nml").write_text(_nml("", ("a.nml",)))
    with pytest.raises(NeuroMLError, match=r"cycle: .*a\.nml -> .*b\.nml -> .*a\.nml"):
        read_neuroml(tmp_path / "a.nml")


def test_errors_name_file_and_element(tmp_path):
    (tmp_path / "m.nml").write_text(_nml("", ("missing.nml",)))
    with pytest.raises(NeuroMLError, match=r"m\.nml: <include href='missing\.nml'>"):
        read_neuroml(tmp_path / "m.nml")
    bad = _nml('<network id="n"><population id="p" component="c" size="2"/>'
               '<projection id="pr" presynapticPopulation="p" postsynapticPopulation="p" '
               'synapse="s"><connection id="0" preCellId="../p[0]" postCellId="../p[5]"/>'
               "</projection></network>")
    (tmp_path / "bad.nml").write_text(bad)
    with pytest.raises(NeuroMLError, match=r"bad\.nml: network 'n'/projection 'pr': cell id 5"):
        read_neuroml(tmp_path / "bad.nml")


def test_entity_declarations_are_refused(tmp_path):
    evil = ('<?xml version="1.0"?><!DOCTYPE neuroml [<!ENTITY a "aaaa">]>'
            + _nml("<notes>&a;</notes>"))
    (tmp_path / "e.nml").write_text(evil)
    with pytest.raises(NeuroMLError, match=r"e\.nml: line 1: <!DOCTYPE"):
        read_neuroml(tmp_path / "e.nml")
    lems = tmp_path / "LEMS_e.xml"
    lems.write_text('<!DOCTYPE Lems [<!ENTITY a "x">]><Lems/>')
    with pytest.raises(NeuroMLError, match="DOCTYPE"):
        read_lems(lems)


def test_lems_errors(tmp_path):
    shutil.copy(NML2 / "examples" / "NML2_InstanceBasedNetwork.nml", tmp_path / "net.nml")
    lems = tmp_path / "LEMS_x.xml"
    lems.write_text('<Lems><Target component="sim1"/><Include file="Cells.xml"/>'
                    '<Include file="net.nml"/><Simulation id="sim1" length="1s" step="0.1ms" '
                    'target="nope"/></Lems>')
    with pytest.raises(NeuroMLError, match="targets network 'nope'.*InstanceBasedNetwork"):
        read_lems(lems)
    lems.write_text('<Lems><Simulation id="s" length="10mV" step="0.1ms" target="x"/></Lems>')
    with pytest.raises(NeuroMLError, match=r"Simulation\[@id='s'\]@length: unit 'mV'"):
        read_lems(lems)
