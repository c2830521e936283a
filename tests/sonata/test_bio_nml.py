"""SONATA ``nml:`` model templates (fixtures/sonata/bio_nml, built and simulated by BMTK 1.2):
nethub builds the cells as BMTK's ``NMLLoad`` does (node morphology, perisomatic axon stub,
the .nml file's parameters per section kind, then the model processing) and gives BMTK's
synapses, spikes and soma potential."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pandas as pd
import pytest

from nethub.converters.sonata import sonata_run_config, sonata_to_network
from nethub.converters.sonata_bio_nml import nml_operations
from nethub.errors import ConversionError
from nethub.formats.sonata import read_circuit
from nethub.runconfig import CellSelection, TraceRequest
from nethub.runner import simulate

from .conftest import FIXTURES

BIO = FIXTURES / "bio_nml"
NML = BIO / "components" / "biophysical_neuron_templates" / "nml" / "cell_b.cell.nml"


@pytest.fixture(scope="module")
def imported():
    circuit = read_circuit(BIO / "simulation_config.json")
    net, lost = sonata_to_network(circuit)
    return circuit, net, lost


def test_operations_follow_bmtks_table():
    ops, notes = nml_operations(NML)
    soma = {o.get("name", o["op"]): o for o in ops["soma"]}
    assert soma["gnabar_hh"] == {"op": "density", "mech": "hh", "name": "gnabar_hh",
                                 "value": 0.12, "ion": "na", "erev": 50.0}
    assert soma["gbar_kslow"]["mech"] == "kslow"  # segmentGroup "somatic" is the soma
    assert soma["gbar_cahi"]["erev"] is None  # channelDensityNernst
    assert {o["op"] for o in ops["axon"]} == {"pas", "cm", "Ra"}
    assert [o["op"] for o in ops["dend"]] == ["pas", "cm", "Ra"]  # "basal" is dend
    conc = next(o for o in ops["soma"] if o["op"] == "conc")
    assert conc == {"op": "conc", "mech": "cadecay",
                    "set": {"gamma_cadecay": 0.02, "decay_cadecay": 60.0}}
    assert [o["value"] for o in ops["apic"] if o["op"] in ("Ra", "cm")] == [1.8, 110.0]
    text = "\n".join(notes)
    assert "depth, minCai not set" in text and "<species> not used" in text
    assert "<morphology> not used" in text and "erev of ion 'non_specific'" in text


def test_units_and_bad_groups(tmp_path):
    p = tmp_path / "x.cell.nml"
    p.write_text('<neuroml xmlns="http://www.neuroml.org/schema/neuroml2"><cell id="c">'
                 '<channelDensity id="gbar_k" segmentGroup="soma" ion="k" ionChannel="kd" '
                 'erev="-0.08 V" condDensity="10 S_per_m2"/>'
                 '<resistivity segmentGroup="all" value="0.1 kohm_cm"/></cell></neuroml>')
    ops, notes = nml_operations(p)
    op = ops["soma"][0]
    assert op["value"] == pytest.approx(1e-3) and op["erev"] == pytest.approx(-80.0)
    assert ops["dend"][-1]["value"] == pytest.approx(100.0)
    assert sum("unconverted" in m for m in notes) == 3
    p.write_text('<neuroml xmlns="http://www.neuroml.org/schema/neuroml2">'
                 '<specificCapacitance segmentGroup="oblique" value="1 uF_per_cm2"/>'
                 '</neuroml>')
    with pytest.raises(ConversionError, match="x.cell.nml.*segmentGroup 'oblique'"):
        nml_operations(p)
    p.write_text('<!DOCTYPE x [<!ENTITY a "b">]><neuroml/>')
    with pytest.raises(ConversionError, match="DOCTYPE"):
        nml_operations(p)


def test_cells_as_bmtk_builds_them(imported):
    _, net, lost = imported
    bio = {k: v for k, v in net.cell_types.items() if v.kind == "compartmental"}
    assert len(bio) == 2  # dynamics_params NONE, and cell_params.json on top of the nml
    plain = next(v for k, v in bio.items() if "cell_params" not in k)
    soma, axon = plain.sections["soma[0]"], plain.sections["axon[1]"]
    assert soma.mechs["hh"] == {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0,
                                "el": soma.mechs["hh"]["el"]}
    assert soma.mechs["cadecay"]["gamma"] == 0.02 and soma.ions["na"]["e"] == 50.0
    assert soma.geom["Ra"] == 110.0 and axon.geom["L"] == 30.0
    assert list(plain.sections).count("axon[0]") == 1 and "axon[2]" not in plain.sections
    over = next(v for k, v in bio.items() if "cell_params" in k)
    assert over.sections["soma[0]"].geom["Ra"] == 100.0  # aibs_perisomatic ran after
    assert over.sections["soma[0]"].mechs["kslow"]["gbar"] == 0.001
    assert "biophysical_neuron_models/nml/cell_b.cell.nml" in net.files
    assert {"cahi.mod", "cadecay.mod", "kslow.mod"} <= set(net.mod_files)
    assert not [m for m in lost if "not supported" in m]
    assert any("<morphology> not used" in m for m in lost)


def _segment_x(net, ct: str, sec: str, x: float) -> float:
    nseg = int(net.cell_types[ct].sections[sec].geom["nseg"])
    return (min(int(x * nseg), nseg - 1) + 0.5) / nseg


def test_synapses_spikes_and_soma_v_are_bmtks(imported):
    circuit, net, _ = imported
    ref = pd.read_csv(BIO / "output" / "synapses.csv")
    conns = net.connections_df()
    cells = net.cells_df().set_index("gid")
    conns = conns[conns["post_gid"].isin(cells.index[cells["pop"] == "bio"])]
    for gid, mine in conns.groupby("post_gid", sort=True):
        ct = cells.loc[gid, "cell_type"]
        got = sorted((str(r.post_sec), round(_segment_x(net, ct, r.post_sec, r.post_loc), 9),
                      r.weight, r.delay) for r in mine.itertuples())
        want = sorted((r.sec, round(r.x, 9), r.weight, r.delay)
                      for r in ref[ref["gid"] == gid].itertuples())
        assert got == want, gid
    rc = sonata_run_config(circuit.config.section("run"), circuit.config.section("conditions"))
    rc = dataclasses.replace(rc, traces=(TraceRequest(label="v", variable="v", sec="soma[0]",
                                                      loc=0.5),),
                             trace_cells=CellSelection(populations=("bio",)), record_step=rc.dt)
    res = simulate(net, rc)
    with h5py.File(BIO / "output" / "spikes.h5") as f:
        nodes, times = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    with h5py.File(BIO / "output" / "membrane_potential.h5") as f:
        data = f["report/bio/data"][()]
        ids = list(f["report/bio/mapping/node_ids"][()])
    for gid in range(3):
        want = np.sort(times[nodes == gid])
        got = np.sort(res.spike_times[res.spike_gids == gid])
        assert len(got) == len(want) > 0
        assert np.abs(got - want).max() <= 1e-9  # measured 2.8e-14 ms
        v = res.traces.get("v", gid)
        ref_v = data[:, ids.index(gid)]  # BMTK's row i is the value after step i + 1
        assert np.sqrt(np.mean((v[1:] - ref_v[:-1]) ** 2)) < 1e-5  # measured 1e-7 mV


def test_two_ranks_give_bmtks_spikes(imported):
    circuit, net, _ = imported
    rc = sonata_run_config(circuit.config.section("run"), circuit.config.section("conditions"))
    res = simulate(net, rc, nprocs=2)
    with h5py.File(BIO / "output" / "spikes.h5") as f:
        nodes, times = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    for gid in range(3):
        got = np.sort(res.spike_times[res.spike_gids == gid])
        want = np.sort(times[nodes == gid])
        assert len(got) == len(want) and np.abs(got - want).max() <= 1e-9


def test_nml_template_needs_a_morphology(tmp_path):
    import shutil

    shutil.copytree(BIO, tmp_path / "b", ignore=shutil.ignore_patterns("output"))
    types = tmp_path / "b" / "network" / "bio_node_types.csv"
    tab = pd.read_csv(types, sep=" ")
    tab["morphology"] = "NONE"
    tab.to_csv(types, sep=" ", index=False)
    with pytest.raises(ConversionError, match="needs a morphology"):
        sonata_to_network(read_circuit(tmp_path / "b" / "simulation_config.json"))


def test_round_trip_keeps_the_hash(imported, tmp_path):
    """SONATA -> store -> SONATA -> store: the .nml file is written back under its
    sub-folder of biophysical_neuron_models (the template names nml/cell_b.cell.nml)."""
    import nethub

    from .export_nets import export, stored

    a = stored(imported[1], tmp_path / "A.h5")
    cfg, _ = export(a, tmp_path / "sa")
    assert (tmp_path / "sa" / "components" / "biophysical_neuron_models" / "nml" /
            "cell_b.cell.nml").read_bytes() == NML.read_bytes()
    b = stored(nethub.load(cfg), tmp_path / "B.h5")
    assert a.content_hash() == b.content_hash()


def test_unknown_channel_is_named(tmp_path):
    import shutil

    shutil.copytree(BIO, tmp_path / "b", ignore=shutil.ignore_patterns("output"))
    nml = tmp_path / "b" / NML.relative_to(BIO)
    nml.write_text(nml.read_text().replace('ionChannel="kslow"', 'ionChannel="nosuch"'))
    with pytest.raises(ConversionError, match=r"template 'nml:nml/cell_b.cell.nml'.*soma\[0\]: "
                       r"nml parameter 'gbar_kslow' \(mechanism 'nosuch'\)"):
        sonata_to_network(read_circuit(tmp_path / "b" / "simulation_config.json"))
