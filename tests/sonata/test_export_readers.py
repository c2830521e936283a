"""Exported folders read by libsonata (nodes, edges, afferent/efferent queries, node sets, spike
and report readers, CircuitConfig, SimulationConfig) and by BMTK's readers (bmtk.utils.sonata,
the simulation config loader, its spike-train and compartment-report readers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import libsonata
import numpy as np
import pytest
from bmtk.simulator.core.simulation_config import SimulationConfig
from bmtk.utils import sonata as bmtk_sonata
from bmtk.utils.reports.compartment import CompartmentReport
from bmtk.utils.reports.spike_trains import SpikeTrains

import nethub
from nethub import cli
from nethub.examples import __file__ as _examples_init
from nethub.specs import load_spec

from .export_nets import netpyne_net, stored

EI_NET = Path(_examples_init).parent / "ei_net.py"


@pytest.fixture(scope="module")
def point_export(tmp_path_factory):
    """The NetPyNE IntFire1 store with one run, exported by ``nethub convert`` with its run."""
    tmp = tmp_path_factory.mktemp("pe")
    net = stored(netpyne_net(), tmp / "m.h5")
    res = nethub.simulate(tmp / "m.h5")
    assert cli.main(["convert", str(tmp / "m.h5"), str(tmp / "out"), "--to", "sonata",
                     "-w", "runs=latest"]) == 0
    return net, res, tmp / "out"


@pytest.fixture(scope="module")
def ei_export(tmp_path_factory):
    """NetPyNE's compartmental E/I example (sections, IClamp, NetStim background)."""
    tmp = tmp_path_factory.mktemp("ei")
    net = nethub.build(*load_spec(EI_NET))
    lost = nethub.save(net, tmp / "out", format="sonata")
    return net, lost, tmp / "out"


def _gid_index(net):
    cells = net.cells_df()
    return {int(g): (str(p), int(i)) for g, p, i in zip(cells["gid"], cells["pop"],
                                                        cells["source_id"], strict=True)}


def test_libsonata_reads_nodes_edges_and_queries(point_export):
    net, _, out = point_export
    sim = libsonata.SimulationConfig.from_file(str(out / "simulation_config_libsonata.json"))
    assert sim.run.random_seed == 2 and sim.run.tstop == 200.0
    assert sim.conditions.celsius == 30.0 and sim.conditions.v_init == -70.0
    assert sim.input("S_spikes").node_set == "S"
    circ = libsonata.CircuitConfig.from_file(sim.network)
    assert circ.node_populations == {"E", "I", "S"}
    assert circ.node_population("E").size == 8
    # model_type stays in the types CSV: BMTK 1.2 compares HDF5 strings as bytes and would
    # not recognise a per-node b"point_process"; the population type tells libsonata
    assert circ.node_population_properties("E").type == "point_neuron"
    gid = _gid_index(net)
    conns = net.connections_df()
    pairs = sorted((gid[a], gid[b], w, d) for a, b, w, d in zip(
        conns["pre_gid"], conns["post_gid"], conns["weight"], conns["delay"], strict=True))
    got = []
    for name in circ.edge_populations:
        assert circ.edge_population_properties(name).type == "chemical"
        ep = circ.edge_population(name)
        sel = ep.select_all()
        src, tgt = ep.source_nodes(sel), ep.target_nodes(sel)
        w, d = ep.get_attribute("syn_weight", sel), ep.get_attribute("delay", sel)
        got += [((ep.source, int(s)), (ep.target, int(t)), a, b)
                for s, t, a, b in zip(src, tgt, w, d, strict=True)]
        for node in range(3):
            assert sorted(ep.afferent_edges([node]).flatten()) == np.flatnonzero(
                tgt == node).tolist()
            assert sorted(ep.efferent_edges([node]).flatten()) == np.flatnonzero(
                src == node).tolist()
    assert sorted(got) == pairs
    sets = libsonata.NodeSets.from_file(str(out / "node_sets.json"))
    assert sets.materialize("I", circ.node_population("I")).flatten().tolist() == [0, 1, 2, 3]


def test_spike_files_read_by_libsonata_and_bmtk(point_export):
    net, res, out = point_export
    gid = _gid_index(net)
    want = sorted((gid[int(g)][0], gid[int(g)][1], round(float(t), 9))
                  for g, t in zip(res.spike_gids, res.spike_times, strict=True))
    reader = libsonata.SpikeReader(str(out / "output" / "spikes.h5"))
    lib = sorted((p, int(n), round(float(t), 9)) for p in reader.get_population_names()
                 for n, t in reader[p].get())
    assert lib == want and len(want) > 50
    bm = SpikeTrains.load(str(out / "output" / "spikes.h5")).to_dataframe()
    assert sorted(zip(bm["population"], bm["node_ids"], bm["timestamps"].round(9),
                      strict=True)) == want
    with h5py.File(out / "output" / "spikes.h5") as f:
        assert f["spikes/E/timestamps"].attrs["units"] == "ms"
        assert f["spikes/E"].attrs["sorting"].dtype.kind == "u"  # enum (libsonata)
    inp = libsonata.SpikeReader(str(out / "inputs" / "S_spikes.h5"))["S"].get()
    assert len(inp) == 3 * 8


def test_bmtk_reads_the_export(point_export, monkeypatch):
    net, _, out = point_export
    monkeypatch.chdir(out)  # BMTK resolves "./..." against the working directory
    conf = SimulationConfig.from_json(str(out / "simulation_config.json"))
    assert conf["run"]["tstop"] == 200.0 and conf["inputs"]["S_spikes"]["module"] == "sonata"
    cells = net.cells_df()
    for entry in conf["networks"]["nodes"]:
        f = bmtk_sonata.File(data_files=entry["nodes_file"],
                             data_type_files=entry["node_types_file"])
        (name,) = f.nodes.population_names
        df = f.nodes[name].to_dataframe()
        mine = cells[cells["pop"] == name]
        assert df.index.tolist() == list(range(len(mine)))
        assert np.allclose(df["x"], mine["x"])
    for entry in conf["networks"]["edges"]:
        f = bmtk_sonata.File(data_files=entry["edges_file"],
                             data_type_files=entry["edge_types_file"])
        (name,) = f.edges.population_names
        df = f.edges[name].to_dataframe()
        assert len(df) and {"syn_weight", "delay", "dynamics_params"} <= set(df.columns)


def test_compartmental_export(ei_export, monkeypatch):
    net, lost, out = ei_export
    sim = libsonata.SimulationConfig.from_file(str(out / "simulation_config_libsonata.json"))
    clamp = sim.input("pulse_E")
    assert (clamp.amp_start, clamp.delay, clamp.duration) == (0.2, 100.0, 50.0)
    sets = json.loads((out / "node_sets.json").read_text())
    assert sets["pulse_E"] == {"population": "E", "node_id": [0, 1, 2]}
    bm = json.loads((out / "simulation_config.json").read_text())["inputs"]["pulse_E"]
    assert bm["module"] == "IClamp" and bm["amp"] == 0.2
    circ = libsonata.CircuitConfig.from_file(sim.network)
    lib_sets = libsonata.NodeSets.from_file(str(out / "node_sets.json"))
    assert lib_sets.materialize("pulse_E", circ.node_population("E")).flatten().tolist() == \
        [0, 1, 2]
    ep = circ.edge_population("E_to_E")
    sel = ep.select_all()
    secs = ep.get_attribute("afferent_section_id", sel)
    assert set(secs) == {1}  # "dend" is PYR's second section
    assert np.array_equal(secs, ep.get_attribute("sec_id", sel))
    assert set(ep.get_attribute("afferent_section_pos", sel)) == {0.5}
    types = (out / "network" / "E_node_types.csv").read_text().split("\n")
    assert types[1].split()[1:3] == ["biophysical", "hoc:PYR"]
    assert "stimulus 'bkg' (NetStim, 50 targets): no SONATA input type; not written" in lost
    assert not any("no HOC template written" in s for s in lost)
    # NetPyNE's plain sections (soma, dend) are declared as arrays for BMTK (hobj.soma[0])
    assert not any("no section soma[0]" in s for s in lost)
    assert "create soma[1], dend[1]" in (out / "components/templates/PYR.hoc").read_text()
    # a run.dL with which BMTK's re-segmentation keeps every section's nseg
    dl = json.loads((out / "simulation_config.json").read_text())["run"]["dL"]
    for ct in net.cell_types.values():
        for sec in getattr(ct, "sections", {}).values():
            assert 1 + 2 * int(sec.geom["L"] / (2 * dl)) == sec.geom.get("nseg", 1)
    assert json.loads((out / "circuit_config.json").read_text())["components"][
        "templates_dir"] == "$BASE_DIR/components/templates"
    # the templates (converters/hoc_export.py) load in plain NEURON with the type's sections
    code = ("from neuron import h; import sys; h.load_file(sys.argv[1]); c = h.PYR(); "
            "print(c.soma[0].L, sum(1 for _ in c.all))")  # the export adds the section list 'all'
    done = subprocess.run([sys.executable, "-c", code,
                           str(out / "components" / "templates" / "PYR.hoc")],
                          capture_output=True, text=True, check=True, timeout=60)
    assert int(done.stdout.split()[-1]) == len(net.cell_types["PYR"].sections)
    monkeypatch.chdir(out)
    conf = SimulationConfig.from_json(str(out / "simulation_config.json"))
    assert conf["components"]["synaptic_models_dir"].endswith("components/synaptic_models")
    assert json.loads((out / "components/synaptic_models/exc.json").read_text()) == {
        "erev": 0, "tau1": 0.1, "tau2": 5.0}  # BMTK's spelling of Exp2Syn's e


def test_run_traces_as_reports(tmp_path):
    """A stored run's traces become element reports (output/<label>.h5) that libsonata's
    ElementReportReader and BMTK's CompartmentReport read, keyed by (population, node_id);
    the simulation config gets the run's RunConfig (its traces as membrane reports)."""
    net = stored(nethub.build(*load_spec(EI_NET)), tmp_path / "m.h5")
    res = nethub.simulate(tmp_path / "m.h5", dict(duration=20.0))
    nethub.convert(tmp_path / "m.h5", tmp_path / "out", to="sonata",
                   write_options={"runs": "latest"})
    path = tmp_path / "out" / "output" / "V_soma.h5"
    gid = _gid_index(net)
    reader = libsonata.ElementReportReader(str(path))
    bm = CompartmentReport(str(path), mode="r")
    assert len(res.traces) == 2  # recordCells [0, 40]: one E and one I cell
    for g, want in zip(res.traces.index["gid"], res.traces.data, strict=True):
        pop, node = gid[int(g)]
        frame = reader[pop].get(node_ids=[node])
        assert reader[pop].times == (0.0, 20.0, 0.1) and reader[pop].data_units == "mV"
        assert np.allclose(np.asarray(frame.data)[:, 0], want, atol=1e-4)
        assert np.allclose(bm.data(node_id=node, population=pop)[:, 0], want, atol=1e-4)
    sim = json.loads((tmp_path / "out" / "simulation_config.json").read_text())
    assert sim["run"]["tstop"] == 20.0 and sim["reports"]["V_soma"]["cells"] == "report_V_soma"
