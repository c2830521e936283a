"""BMTK's ``replay`` input: the recurrent edges of the tiny circuit taken out of the circuit and
replayed from BMTK's own output spikes give the full circuit's spikes again, in nethub and in
BMTK."""

from __future__ import annotations

import json

import numpy as np

import nethub
from nethub.converters.sonata import sonata_to_network
from nethub.formats.sonata import read_circuit, read_spikes

from .tiny_circuit import run_bmtk, write_tiny_circuit


def _pairs(ids, times) -> list:
    return sorted(zip(np.asarray(ids).tolist(), np.round(np.asarray(times), 6).tolist(),
                      strict=True))


def _file(tmp_path):
    sp = read_spikes(tmp_path / "replay_out" / "spikes.h5")["net"]
    return sp.node_ids, sp.timestamps


def test_replayed_recurrent_edges_give_the_full_run(tmp_path):
    config = write_tiny_circuit(tmp_path)
    run_bmtk(config)
    full = read_spikes(tmp_path / "output" / "spikes.h5")["net"]
    net_dir = config.parent / "network"
    circuit = json.loads((config.parent / "circuit_config.json").read_text())
    circuit["networks"]["edges"] = [e for e in circuit["networks"]["edges"]
                                    if "net_to_net" not in e["edges_file"]]
    (config.parent / "circuit_config.json").write_text(json.dumps(circuit))
    sim = json.loads(config.read_text())
    sim["inputs"]["replay"] = {
        "input_type": "spikes", "module": "replay",
        "spikes_file": str(tmp_path / "output" / "spikes.h5"),
        "edges": {"edges_file": str(net_dir / "net_to_net_edges.h5"),
                  "edge_types_file": str(net_dir / "net_to_net_edge_types.csv")},
        "source_node_set": "net", "target_node_set": "net"}
    sim["output"]["output_dir"] = str(tmp_path / "replay_out")
    config.write_text(json.dumps(sim))

    net, lost = sonata_to_network(read_circuit(config))
    assert lost == []
    assert list(net.populations) == ["net", "inp", "net__replay_replay"]
    cells = net.cells_df()
    replay = cells[cells["pop"] == "net__replay_replay"]
    assert replay["sonata.node_id"].tolist() == [0, 1, 2, 3]  # the sources with edges
    assert sum(len(t) for t in replay["params.spkTimes"]) == len(full)
    conns = net.connections_df()
    rec = conns[conns["sonata.edge_population"] == "net_to_net"]
    assert rec["sonata.edge_id"].tolist() == [0, 1, 2, 3, 4]
    assert sorted(rec["weight"].round(6)) == sorted([0.8, 0.8, -0.6, -0.2, 0.45])

    nethub.simulate(config, output=tmp_path / "replay.h5")
    ours = nethub.spikes_by_node(tmp_path / "replay.h5")
    assert set(ours["population"]) == {"net"}
    assert _pairs(ours["node_id"], ours["timestamp"]) == _pairs(full.node_ids, full.timestamps)
    assert _pairs(*_file(tmp_path)) == _pairs(full.node_ids, full.timestamps)  # nethub's file
    (tmp_path / "replay_out" / "spikes.h5").unlink()
    run_bmtk(config)  # BMTK replays the same way
    theirs = read_spikes(tmp_path / "replay_out" / "spikes.h5")["net"]
    assert _pairs(theirs.node_ids, theirs.timestamps) == _pairs(full.node_ids, full.timestamps)
