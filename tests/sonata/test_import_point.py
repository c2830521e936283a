"""SONATA point-neuron import (converters/sonata.py): the trimmed 300_intfire fixture read back
against libsonata, and a tiny IntFire1 circuit simulated by nethub and by BMTK (same spikes)."""

from __future__ import annotations

import json

import h5py
import libsonata
import numpy as np
import pytest

import nethub
from nethub.converters.sonata import sonata_run_config, sonata_to_network
from nethub.formats.registry import guess_format
from nethub.formats.sonata import load_config, read_circuit, read_spikes

from .conftest import FIXTURES
from .tiny_circuit import run_bmtk, write_tiny_circuit

INTFIRE = FIXTURES / "300_intfire"


def _lib_nodes() -> dict:
    """libsonata's node populations (0.2.2 cannot open this BMTK config: no ``populations``
    blocks, so the files are opened one by one)."""
    out = {}
    for f in ("v1", "lgn", "tw"):
        store = libsonata.NodeStorage(str(INTFIRE / "network" / f"{f}_nodes.h5"))
        out.update({p: store.open_population(p) for p in store.population_names})
    return out


def _lib_edges() -> dict:
    out = {}
    for f in ("v1_v1", "lgn_v1", "tw_v1"):
        store = libsonata.EdgeStorage(str(INTFIRE / "network" / f"{f}_edges.h5"))
        out.update({p: store.open_population(p) for p in store.population_names})
    return out


@pytest.fixture(scope="module")
def imported():
    return sonata_to_network(read_circuit(INTFIRE / "config.json"))


def _run_config(path):
    cfg = load_config(path)
    return sonata_run_config(cfg.run, cfg.conditions)


def test_cells_match_libsonata(imported):
    net, _ = imported
    cells = net.cells_df()
    lib = _lib_nodes()
    assert net.n_cells == sum(p.size for p in lib.values()) == 42
    for name, pop in lib.items():
        mine = cells[cells["sonata.population"] == name]
        assert len(mine) == pop.size and net.populations[name].size == pop.size
        assert mine["sonata.node_id"].tolist() == list(range(pop.size))
        # libsonata 0.2.2 has no node_type_id reader: read the dataset itself
        with h5py.File(INTFIRE / "network" / f"{name}_nodes.h5") as f:
            types = f[f"nodes/{name}/node_type_id"][:]
        assert mine["cell_type"].tolist() == [f"{name}_{t}" for t in types]
    assert {ct.model for ct in net.cell_types.values()} == {"IntFire1", "VecStim"}
    # every other node property is kept as a sonata.* column
    assert cells["sonata.node_type_id"].dtype == np.int64
    assert set(cells["sonata.model_name"]) == {"LIF_exc", "LIF_inh", "tON", "tOFF", "tONOFF", "TW"}


def test_connections_match_libsonata(imported):
    net, _ = imported
    conns = net.connections_df()
    lib = _lib_edges()
    cells = net.cells_df()
    gid = {(p, n): g for p, n, g in zip(cells["sonata.population"], cells["sonata.node_id"],
                                        cells["gid"], strict=True)}
    assert net.n_connections == sum(p.size for p in lib.values()) == 783
    for name, ep in lib.items():
        sel = ep.select_all()
        mine = conns[conns["sonata.edge_population"] == name].sort_values("sonata.edge_id")
        assert mine["sonata.edge_id"].tolist() == list(range(ep.size))
        pre = [gid[(ep.source, n)] for n in ep.source_nodes(sel)]
        post = [gid[(ep.target, n)] for n in ep.target_nodes(sel)]
        assert mine["pre_gid"].tolist() == pre and mine["post_gid"].tolist() == post
        w = ep.get_attribute("syn_weight", sel) if "syn_weight" in ep.attribute_names else None
        if w is not None:  # weight = syn_weight * sign * nsyns (instanteneousInh: sign -1)
            nsyns = ep.get_attribute("nsyns", sel) if "nsyns" in ep.attribute_names else 1
            assert np.allclose(np.abs(mine["weight"]), w * nsyns)
        assert np.all(mine["delay"] == 2.0)  # every edge type's delay (no per-edge delays)


def test_spike_inputs_losses_and_embedded_files(imported):
    net, lost = imported
    cells = net.cells_df()
    for pop in ("lgn", "tw"):
        given = read_spikes(INTFIRE / "inputs" / f"{pop}_spikes.h5", default_population=pop)[pop]
        mine = cells[cells["pop"] == pop]
        got = sum(len(t) for t in mine["params.spkTimes"])
        assert got == len(given) > 0
        first = mine.iloc[int(given.node_ids[0])]["params.spkTimes"]
        assert given.timestamps[0] in first
    # fixtures/sonata/shared_components holds the dynamics_params files: read, and the key
    # BMTK does not use is reported, not dropped silently
    assert net.cell_types["v1_100"].params == {"tau": 24.0, "refrac": 3.0}
    assert any("IntFire1 dynamics_params ['type'] not used" in s for s in lost)
    assert not any("not found" in s for s in lost)
    roles = {name: f.role for name, f in net.files.items()}
    assert roles["simulation_config.json"] == "sonata-config"
    assert roles["v1_node_types.csv"] == "type-table"
    assert net.files["v1_v1_edge_types.csv"].data == (
        INTFIRE / "network" / "v1_v1_edge_types.csv").read_bytes()


def test_run_config_and_plugin():
    rc = _run_config(INTFIRE / "simulation_config.json")
    assert (rc.duration, rc.dt, rc.temperature, rc.v_init, rc.spike_threshold) == (
        3000.0, 0.1, 34.0, -80.0, -15.0)
    for name in ("config.json", "simulation_config.json", "circuit_config.json"):
        assert guess_format(INTFIRE / name).name == "sonata"
    assert nethub.load(INTFIRE / "config.json").n_cells == 42


def test_trimmed_circuit_runs_and_replays_its_inputs(imported, tmp_path):
    net, _ = imported
    rc = _run_config(INTFIRE / "simulation_config.json")
    rc = type(rc).from_dict({**rc.to_dict(), "duration": 300.0})
    res = nethub.simulate(net, rc, output=tmp_path / "run.h5")
    cells = net.cells_df()
    lgn = cells[cells["pop"] == "lgn"]
    for g, times in zip(lgn["gid"], lgn["params.spkTimes"], strict=True):
        want = np.asarray(times)[np.asarray(times) <= 300.0]
        assert np.allclose(np.sort(res.spike_times[res.spike_gids == g]), want)


@pytest.mark.parametrize("recurrent_nsyns", [True, False])
def test_tiny_circuit_spikes_equal_bmtk(tmp_path, recurrent_nsyns):
    config = write_tiny_circuit(tmp_path, recurrent_nsyns)
    run_bmtk(config)
    ref = read_spikes(tmp_path / "output" / "spikes.h5")["net"]
    net, lost = sonata_to_network(read_circuit(config))
    assert lost == []
    conns = net.connections_df()
    assert sorted(conns["weight"].round(6)) == sorted([1.2, 0.5, 1.4, 0.9, 1.1, 1.2, 0.8, 0.8,
                                                       -0.6, -0.2, 0.45])
    cells = net.cells_df()  # docs/store.md §3.1 signs; the virtual cells have none (NaN)
    assert np.allclose(cells["rot_z"].iloc[:4], [0, -.5, -1., -1.5])  # sonata-bio: z too
    assert np.allclose(cells["rot_x"].iloc[:4], [-.1, -.2, -.3, -.4])
    assert cells["rot_x"].iloc[4:].isna().all() and "rot_y" not in cells
    assert net.cell_types["net_1"].params == {"tau": 12.0, "refrac": 3.0}
    res = nethub.simulate(net, _run_config(config), output=tmp_path / "run.h5")
    cells = net.cells_df().set_index("gid")
    is_net = cells.loc[res.spike_gids, "pop"].to_numpy() == "net"
    ours = sorted(zip(cells.loc[res.spike_gids[is_net], "sonata.node_id"],
                      np.round(res.spike_times[is_net], 6), strict=True))
    theirs = sorted(zip(ref.node_ids, np.round(ref.timestamps, 6), strict=True))
    assert len(theirs) > 20 and ours == theirs
    assert json.loads((config).read_text())["run"]["dt"] == 0.025


def test_what_is_not_carried_is_reported():
    """9_cells is biophysical: every such cell type, the placement attributes of its edges and
    its reports are reported as losses (nothing dropped silently)."""
    net, lost = sonata_to_network(read_circuit(FIXTURES / "9_cells" / "simulation_config.json"))
    assert net.n_cells == 9 + sum(net.populations[p].size for p in net.populations
                                  if p != "cortex")
    assert sum("biophysical cells not built: nml/Cell_" in s for s in lost) == 3
    assert any(s.startswith("edge population excvirt_to_cortex: edges key 'sec_x'")
               for s in lost)
    for rep in ("membrane_potential", "calcium_concentration"):  # placeholders: no soma yet
        assert f"reports.{rep}: 9 point/virtual cells not recorded (BMTK records reports on " \
            "biophysical cells only)" in lost
    # the point part: every virtual cell plays exactly its spikes of the input files
    cells = net.cells_df()
    for pop in ("excvirt", "inhvirt"):
        kind = pop[:3]
        given = read_spikes(FIXTURES / "9_cells" / "inputs" / f"{kind}_spike_trains.h5",
                            default_population=pop)[pop]
        mine = cells[cells["pop"] == pop].set_index("sonata.node_id")["params.spkTimes"]
        assert sum(len(t) for t in mine) == len(given) > 0
        for node in np.unique(given.node_ids):
            want = np.sort(given.timestamps[given.node_ids == node])
            np.testing.assert_array_equal(np.asarray(mine[node]), want)


def test_spike_input_plays_its_node_sets_populations(tmp_path):
    """As BMTK 1.2 (``BioNetwork.add_spike_trains`` takes the node set's population names):
    every node of the selected populations plays its spikes; the difference from the node set
    itself is noted."""
    config = write_tiny_circuit(tmp_path)
    sim = json.loads(config.read_text())
    sim["inputs"]["inp_spikes"]["node_set"] = {"population": "inp", "node_id": [0, 2]}
    config.write_text(json.dumps(sim))
    net, lost = sonata_to_network(read_circuit(config))
    spk = net.cells_df().set_index("sonata.node_id")
    spk = spk[spk["pop"] == "inp"]["params.spkTimes"]
    assert [len(spk[i]) for i in (0, 1, 2)] == [12, 12, 12]
    assert lost == ["inputs.inp_spikes: 12 spikes of 'inp' nodes outside its node set played, "
                    "as BMTK 1.2 plays every node of the node set's populations"]
    sim["inputs"]["inp_spikes"]["node_set"] = {"population": "net"}  # not the file's
    config.write_text(json.dumps(sim))
    net, lost = sonata_to_network(read_circuit(config))
    assert sum(len(t) for t in net.cells_df()["params.spkTimes"]) == 0
    assert lost == ["inputs.inp_spikes: 36 spikes of population 'inp', which its node set "
                    "does not select, not played"]
