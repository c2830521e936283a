"""SONATA export: write options, stored runs, the run configuration, the file flavour (uint64
ids, both index spellings, units, populations blocks) and refusals."""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

import nethub
from nethub.converters.sonata_export import network_to_sonata
from nethub.errors import FormatError
from nethub.formats.base import OptionError
from nethub.formats.sonata.export import run_spikes, write_export
from nethub.runconfig import CellSelection, RunConfig, TraceRequest

from .export_nets import netpyne_net, stored


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    stored(netpyne_net(), tmp / "m.h5")
    first = nethub.simulate(tmp / "m.h5", dict(duration=100.0))
    second = nethub.simulate(tmp / "m.h5")
    return tmp, first, second


def test_runs_all_and_overwrite(two_runs):
    tmp, first, second = two_runs
    out = tmp / "out"
    lost = nethub.convert(tmp / "m.h5", out, to="sonata", write_options={"runs": "all"})
    assert not any("not written (write option" in s for s in lost)
    net = nethub.load(tmp / "m.h5")
    gmap = network_to_sonata(net).gid_map
    for path, res in ((out / "output" / "spikes.h5", second),
                      (out / "output" / first.name / "spikes.h5", first)):
        reader = libsonata.SpikeReader(str(path))
        got = sum(len(reader[p].get()) for p in reader.get_population_names())
        want = sum(len(v[0]) for v in run_spikes(res, gmap).values())
        assert got == want == len(res.spike_times) > 0
    with pytest.raises(FormatError, match="not empty"):
        nethub.convert(tmp / "m.h5", out, to="sonata")
    lost = nethub.convert(tmp / "m.h5", out, to="sonata", write_options={"overwrite": True})
    assert "2 stored run(s) not written (write option runs=latest or runs=all writes their " \
           "spikes)" in lost
    assert not (out / "output").exists()


def test_bad_options_and_results_only(two_runs, tmp_path):
    tmp, first, _ = two_runs
    with pytest.raises(FormatError, match="runs='some'"):
        nethub.convert(tmp / "m.h5", tmp_path / "a", to="sonata", write_options={"runs": "some"})
    with pytest.raises(OptionError, match="unknown write option"):
        nethub.convert(tmp / "m.h5", tmp_path / "b", to="sonata", write_options={"zip": 1})
    with pytest.raises(FormatError, match="needs a network"):
        nethub.save(first, tmp_path / "c", format="sonata")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_run_config_reports_and_flavour(tmp_path):
    net = netpyne_net()
    rc = RunConfig(duration=80.0, dt=0.05, temperature=22.0, v_init=-60.0,
                   seeds={"stim": 7}, spike_threshold=-20.0,
                   traces=(TraceRequest(label="V", variable="v", sec="soma"),),
                   trace_cells=CellSelection(gids=(0, 13), populations=("I",)))
    exp = network_to_sonata(net, run_config=rc)
    write_export(exp, tmp_path / "o")
    sim = json.loads((tmp_path / "o" / "simulation_config.json").read_text())
    assert sim["run"] == {"tstop": 80.0, "dt": 0.05, "random_seed": 7, "spike_threshold": -20.0,
                          "nsteps_block": 5000}
    assert sim["conditions"] == {"celsius": 22.0, "v_init": -60.0}
    assert set(sim["reports"]) == {"V"}
    sets = json.loads((tmp_path / "o" / "node_sets.json").read_text())
    assert sets["report_V"] == ["report_V_E", "report_V_I", "report_V_S"]
    assert sets["report_V_I"] == {"population": "I", "node_id": [0, 1, 2, 3]}
    assert sets["report_V_E"]["node_id"] == [0] and sets["report_V_S"]["node_id"] == [1]
    lib = libsonata.SimulationConfig.from_file(
        str(tmp_path / "o" / "simulation_config_libsonata.json"))
    rep = lib.report("V")
    assert (rep.cells, rep.variable_name, rep.end_time) == ("report_V", "v", 80.0)
    circ = libsonata.CircuitConfig.from_file(lib.network)
    lib_sets = libsonata.NodeSets.from_file(str(tmp_path / "o" / "node_sets.json"))
    assert lib_sets.materialize("report_V", circ.node_population("I")).flatten().tolist() == \
        [0, 1, 2, 3]
    circ = json.loads((tmp_path / "o" / "circuit_config.json").read_text())
    assert all("populations" in e for e in circ["networks"]["nodes"] + circ["networks"]["edges"])
    with h5py.File(tmp_path / "o" / "network" / "E_to_I_edges.h5") as f:
        grp = f["edges/E_to_I"]
        assert grp["source_node_id"].dtype == np.uint64
        assert grp["source_node_id"].attrs["node_population"] == "E"
        idx = grp["indices/target_to_source"]
        assert idx["node_id_to_ranges"].id == idx["node_id_to_range"].id  # one dataset
        assert grp["0/delay"].attrs["units"] == "ms"
    with h5py.File(tmp_path / "o" / "network" / "E_nodes.h5") as f:
        assert f["nodes/E/node_id"].dtype == np.uint64 and f["nodes/E/0/x"].attrs["units"] == "um"


def test_per_cell_point_parameters(tmp_path):
    """Per-cell IntFire1 values that differ from the type's become per-node dynamics_params
    (seconds, BMTK's unit, exact back to ms); values equal to the type's are not repeated."""
    cells = netpyne_net().cells_df()
    tau = np.where(cells["pop"] == "E", 10.0 + np.arange(len(cells)) * 0.1, np.nan)
    cells["params.tau"] = np.where(cells["pop"] == "I", 6.0, tau)
    write_export(network_to_sonata(netpyne_net().replace(cells=cells)), tmp_path / "o")
    with h5py.File(tmp_path / "o" / "network" / "E_nodes.h5") as f:
        got = f["nodes/E/0/dynamics_params/tau"][:]
    assert np.array_equal(got * 1000.0, tau[cells["pop"] == "E"])
    with h5py.File(tmp_path / "o" / "network" / "I_nodes.h5") as f:
        assert "dynamics_params" not in f["nodes/I/0"]


def test_per_connection_parameters_are_edge_attributes(tmp_path):
    net = netpyne_net()
    conns = net.connections_df()
    conns["param.tau2"] = np.where(np.arange(len(conns)) % 2 == 0, 5.0, np.nan)
    exp = network_to_sonata(net.replace(connections=conns))
    write_export(exp, tmp_path / "o")
    (e_to_i,) = [e for e in exp.edges if e.name == "E_to_I"]
    with h5py.File(tmp_path / "o" / "network" / "E_to_I_edges.h5") as f:
        got = f["edges/E_to_I/0/tau2"][:]
        assert np.array_equal(got, e_to_i.attributes["tau2"].to_numpy(), equal_nan=True)
        assert sorted(set(f["edges/E_to_I/edge_type_id"][:].tolist())) == [99]
    assert np.nanmax(got) == 5.0 and np.isnan(got).any()


def test_embedded_files_become_components(tmp_path):
    """Morphologies, templates, parameter JSON and .mod sources the store embeds are written
    into the components folders the circuit config names."""
    net = netpyne_net()
    net.add_file("morph/cell.swc", b"1 1 0 0 0 5 -1\n", "morphology")
    net.add_file("cell_1.json", b'{"genome": []}', "params")
    net.add_file("tmpl/Cell.hoc", b"begintemplate Cell\nendtemplate Cell\n", "template")
    net.add_file("syn.mod", "NEURON { POINT_PROCESS Syn }\n", "mod")
    lost = nethub.save(net, tmp_path / "o", format="sonata")
    comp = json.loads((tmp_path / "o" / "circuit_config.json").read_text())["components"]
    for key, rel, data in (
            ("morphologies_dir", "cell.swc", b"1 1 0 0 0 5 -1\n"),
            ("biophysical_neuron_models_dir", "cell_1.json", b'{"genome": []}'),
            ("templates_dir", "Cell.hoc", b"begintemplate Cell\nendtemplate Cell\n"),
            ("mechanisms_dir", "modfiles/syn.mod", b"NEURON { POINT_PROCESS Syn }\n")):
        assert (tmp_path / "o" / comp[key].replace("$BASE_DIR/", "") / rel).read_bytes() == data
    assert any("compile them there (nrnivmodl modfiles)" in s for s in lost)
