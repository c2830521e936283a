"""The biophysical fixture (fixtures/sonata/bio, built and simulated by BMTK 1.2): nethub's
import places the same synapses as BMTK and its simulation gives BMTK's spikes and soma
membrane potential."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pandas as pd
import pytest

from nethub.converters.sonata import sonata_run_config, sonata_to_network
from nethub.errors import ConversionError
from nethub.formats.sonata import read_circuit
from nethub.runconfig import CellSelection, TraceRequest
from nethub.runner import simulate
from nethub.store import read_network, write_network

from .conftest import FIXTURES

BIO = FIXTURES / "bio"


@pytest.fixture(scope="module")
def imported():
    circuit = read_circuit(BIO / "simulation_config.json")
    net, lost = sonata_to_network(circuit)
    return circuit, net, lost


def test_cell_types_files_and_losses(imported):
    _, net, lost = imported
    bio = [k for k, v in net.cell_types.items() if v.kind == "compartmental"]
    assert bio == ["bio.cell_a.cell_params.aibs_perisomatic"]  # one (morph, params, ...) combo
    cells = net.cells_df()
    assert set(cells.loc[cells["pop"] == "bio", "cell_type"]) == set(bio)
    roles = {f.name: f.role for f in net.files.values()}
    assert roles["morphologies/cell_a.swc"] == "morphology"
    assert roles["biophysical_neuron_models/cell_params.json"] == "params"
    assert "kslow.mod" in net.mod_files
    assert net.params["defaultThreshold"] == -15.0  # bionet's soma detector threshold
    assert net.syn_mechs["exc"].model == "Exp2Syn"
    assert net.syn_mechs["inh"].params == {"e": -80.0, "tau1": 2.7, "tau2": 15.0}
    assert not [m for m in lost if "biophysical" in m or "placement" in m
                or "weight_function" in m], lost


def _segment_x(net, ct: str, sec: str, x: float) -> float:
    nseg = int(net.cell_types[ct].sections[sec].geom["nseg"])
    return (min(int(x * nseg), nseg - 1) + 0.5) / nseg


def test_synapses_are_bmtks(imported):
    """Each target's synapses: BMTK's NetCons in creation order (output/synapses.csv)."""
    _, net, _ = imported
    ref = pd.read_csv(BIO / "output" / "synapses.csv")
    conns = net.connections_df()
    cells = net.cells_df().set_index("gid")
    conns = conns[conns["post_gid"].isin(cells.index[cells["pop"] == "bio"])]
    assert len(conns) == len(ref)
    for gid, mine in conns.groupby("post_gid", sort=True):
        theirs = ref[ref["gid"] == gid]
        ct = cells.loc[gid, "cell_type"]
        got = sorted((str(r.post_sec), round(_segment_x(net, ct, r.post_sec, r.post_loc), 9),
                      round(r.weight, 15), r.delay, net.syn_mechs[r.syn_mech].params["e"])
                     for r in mine.itertuples())
        want = sorted((r.sec, round(r.x, 9), round(r.weight, 15), r.delay, r.e)
                      for r in theirs.itertuples())
        assert got == want, gid


def test_spikes_and_membrane_match_bmtk(imported, tmp_path):
    circuit, net, _ = imported
    rc = sonata_run_config(circuit.config.section("run"), circuit.config.section("conditions"))
    rc = dataclasses.replace(rc, traces=(TraceRequest(label="v", variable="v", sec="soma[0]",
                                                      loc=0.5),),
                             trace_cells=CellSelection(populations=("bio",)), record_step=rc.dt)
    path = tmp_path / "bio.h5"
    write_network(net, path)
    again = read_network(path)
    assert again.content_hash() == net.content_hash()  # the store sorts rows by target
    assert {f.name: f.data for f in again.files.values()} == \
        {f.name: f.data for f in net.files.values()}
    res = simulate(again, rc)
    with h5py.File(BIO / "output" / "spikes.h5") as f:
        nodes, times = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    with h5py.File(BIO / "output" / "membrane_potential.h5") as f:
        data = f["report/bio/data"][()]
        ids = list(f["report/bio/mapping/node_ids"][()])
    for gid in range(3):  # bio is the first population: gid = node_id
        want = np.sort(times[nodes == gid])
        got = np.sort(res.spike_times[res.spike_gids == gid])
        assert len(got) == len(want) > 0
        assert np.abs(got - want).max() <= 0.2
        v = res.traces.get("v", gid)
        ref = data[:, ids.index(gid)]  # BMTK's row i is the value after step i + 1
        assert np.sqrt(np.mean((v[1:] - ref[:-1]) ** 2)) < 0.5


def test_two_ranks_give_bmtks_spikes(imported):
    circuit, net, _ = imported
    rc = sonata_run_config(circuit.config.section("run"), circuit.config.section("conditions"))
    res = simulate(net, rc, nprocs=2)
    with h5py.File(BIO / "output" / "spikes.h5") as f:
        nodes, times = f["spikes/bio/node_ids"][()], f["spikes/bio/timestamps"][()]
    for gid in range(3):
        got = np.sort(res.spike_times[res.spike_gids == gid])
        want = np.sort(times[nodes == gid])
        assert len(got) == len(want) and np.abs(got - want).max() <= 0.2


def test_edges_without_segments_draw_nothing(tmp_path):
    """An edge type whose distance range holds no segment makes no synapse and takes no
    random number (BMTK returns before drawing): the later draws of each cell are those of
    sequential RandomState(gid).choice calls without it."""
    import shutil

    from nethub.converters.sonata_bio import segments_of
    from nethub.converters.sonata_bio_edges import draw_segments, find_segments

    shutil.copytree(BIO, tmp_path / "bio", ignore=shutil.ignore_patterns("output"))
    types = tmp_path / "bio" / "network" / "inp_bio_edge_types.csv"
    tab = pd.read_csv(types, sep=" ")
    tab.loc[tab["edge_type_id"] == 101, "distance_range"] = "[5000.0, 6000.0]"
    tab.to_csv(types, sep=" ", index=False, na_rep="NULL")
    circuit = read_circuit(tmp_path / "bio" / "simulation_config.json")
    net, lost = sonata_to_network(circuit)
    assert any("found no segment" in m for m in lost)
    conns = net.connections_df()
    assert "inh" not in set(conns["syn_mech"].dropna())
    ct = next(k for k, v in net.cell_types.items() if v.kind == "compartmental")
    table = segments_of(circuit)[ct]
    names = net.cell_types[ct].section_lists["all"]
    edges = {n: circuit.edges[n].table() for n in ("bio_to_bio", "inp_to_bio")}
    for gid in range(3):
        cands, counts = [], []
        for name in ("bio_to_bio", "inp_to_bio"):  # recurrent phase, then the input
            e = edges[name]
            e = e[(e["target_node_id"] == gid) & e["nsyns"].notna()] if "nsyns" in e else e[:0]
            for r in e.itertuples():
                secs = json.loads(r.target_sections.replace("'", '"'))
                cands.append(find_segments(table, secs, tuple(json.loads(r.distance_range))))
                counts.append(int(r.nsyns))
        want = draw_segments(gid, cands, np.array(counts))
        want = [(names[table["sec_id"][s]], table["x"][s]) for s in want if s >= 0]
        mine = conns[(conns["post_gid"] == gid) & conns["post_sec"].notna()]
        mine = mine[mine["sonata.edge_population"].astype(str).isin(["bio_to_bio",
                                                                     "inp_to_bio"])]
        got = [(r.post_sec, r.post_loc) for r in mine.itertuples()
               if not (r.post_sec.startswith("soma") and r.post_loc == 0.5
                       and r.syn_mech == "exc" and r.delay == 0.5)
               and not (r.delay == 1.5)]  # drop the preselected edges
        assert sorted(got) == sorted(want), gid


def test_rotated_cell_points_are_bmtks(imported):
    """The rotated cell's 3-D points, as nethub places them (rot_x/y/z of the cells table),
    are where BMTK's Morphology.move_and_rotate puts them (RotX·RotY·RotZ about the soma)."""
    from bmtk.simulator.bionet.morphology import rotation_matrix

    from nethub.sim.rotation import cell_angles, rotate_points

    _, net, _ = imported
    cells = net.cells_df()
    row = int(np.flatnonzero((cells["pop"] == "bio") & (cells["sonata.node_id"] == 1))[0])
    angles = (0.3, -1.1, 0.7)  # the node's rotation_angle_x/y/zaxis (make_bio.py)
    mat = rotation_matrix([1, 0, 0], angles[0]) @ (
        rotation_matrix([0, 1, 0], angles[1]) @ rotation_matrix([0, 0, 1], angles[2]))
    ours = tuple(cell_angles(net.cells)[row])
    secs = net.cell_types[cells.loc[row, "cell_type"]].sections
    pts = np.vstack([s.pt3d for s in secs.values()])
    soma = np.vstack([secs[n].pt3d[:, :3] for n in secs if n.startswith("soma")]).mean(axis=0)
    want = (mat @ (pts[:, :3] - soma).T).T
    got = rotate_points(pts, ours)[:, :3] - rotate_points(
        np.c_[soma[None, :], [[1.0]]], ours)[:, :3]
    assert np.allclose(got, want, atol=1e-9)


BALL = """begintemplate Ball
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


def test_hoc_template_cells_need_trust(tmp_path):
    import shutil

    shutil.copytree(BIO, tmp_path / "bio", ignore=shutil.ignore_patterns("output"))
    root = tmp_path / "bio"
    (root / "components" / "templates").mkdir()
    (root / "components" / "templates" / "ball.hoc").write_text(BALL)
    cfg = json.loads((root / "simulation_config.json").read_text())
    cfg["components"]["templates_dir"] = "$COMPONENTS_DIR/templates"
    (root / "simulation_config.json").write_text(json.dumps(cfg))
    types = root / "network" / "bio_node_types.csv"
    tab = pd.read_csv(types, sep=" ")
    tab["model_template"], tab["model_processing"] = "hoc:Ball", None
    tab.to_csv(types, sep=" ", index=False, na_rep="NULL")
    circuit = read_circuit(root / "simulation_config.json")
    net, lost = sonata_to_network(circuit)
    assert any("hoc: template needs trust" in m for m in lost)
    circuit = read_circuit(root / "simulation_config.json")
    circuit.trusted = True
    with pytest.raises(ConversionError, match=r"bio_bio_edges.h5.*afferent_section_id 5"):
        sonata_to_network(circuit)  # Ball has 2 sections; bio -> bio edges name section 5
    cfg["networks"]["edges"] = cfg["networks"]["edges"][1:]
    (root / "simulation_config.json").write_text(json.dumps(cfg))
    circuit = read_circuit(root / "simulation_config.json")
    circuit.trusted = True
    net, lost = sonata_to_network(circuit)
    ball = net.cell_types["bio.cell_a.cell_params.hoc-Ball"]
    assert list(ball.sections) == ["soma[0]", "dend[0]"]
    assert ball.sections["dend[0]"].geom["nseg"] == 11  # dL = 20
    assert net.files["templates/ball.hoc"].role == "template"
    conns = net.connections_df()
    onto = conns[conns["post_gid"] < 3]
    assert set(onto["post_sec"]) == {"soma[0]", "dend[0]"}  # basal = dend, soma by sec_id
    edges = circuit.edges["inp_to_bio"].table()  # every edge finds basal (dend) or soma
    assert len(onto) == int(edges["nsyns"].fillna(1).sum())  # segments; sec_id edges: one
