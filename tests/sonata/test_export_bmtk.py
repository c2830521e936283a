"""BMTK re-simulates exported point-neuron (IntFire1) stores to the same spikes as nethub.

BMTK 1.2 (test-only reference, pandas<3: requirements-test.txt) runs in a child process
(tiny_circuit.run_bmtk): BMTK and nethub must not share one NEURON in a process."""

from __future__ import annotations

import shutil

import nethub
from nethub.formats.sonata import read_spikes

from .export_nets import export, netpyne_net, stored
from .tiny_circuit import run_bmtk, write_tiny_circuit


def _keyed(net, res, skip=()):
    """A run's spikes as sorted (population, node_id, time) rows, keyed as the export keys
    them (``sonata.population``/``sonata.node_id`` where the cells have them)."""
    cells = net.cells_df().set_index("gid")
    pop_col = "sonata.population" if "sonata.population" in cells else "pop"
    id_col = "sonata.node_id" if "sonata.node_id" in cells else "source_id"
    rows = cells.loc[res.spike_gids]
    return sorted((str(p), int(n), round(float(t), 6)) for p, n, t in zip(
        rows[pop_col], rows[id_col], res.spike_times, strict=True) if p not in skip)


def _bmtk_spikes(folder, skip=()):
    ref = read_spikes(folder / "output" / "spikes.h5")
    return sorted((p, int(n), round(float(t), 6)) for p, sp in ref.items() if p not in skip
                  for n, t in zip(sp.node_ids, sp.timestamps, strict=True))


def test_exported_sonata_import_runs_the_same_in_bmtk(tmp_path):
    """SONATA -> store -> SONATA: BMTK on the export spikes as nethub on the store."""
    net = stored(nethub.load(write_tiny_circuit(tmp_path / "orig")), tmp_path / "m.h5")
    res = nethub.simulate(tmp_path / "m.h5", dict(duration=200.0))
    cfg, lost = export(net, tmp_path / "out")
    assert lost == []
    run_bmtk(cfg)
    theirs = _bmtk_spikes(tmp_path / "out", skip=("inp",))
    assert len(theirs) > 20 and _keyed(net, res, skip=("inp",)) == theirs


def test_netpyne_store_runs_the_same_in_bmtk(tmp_path):
    """A NetPyNE-built IntFire1 store driven by VecStim and NetStim (Poisson) populations: its
    nethub run, written as output/spikes.h5 by the export, equals BMTK's run of the exported
    circuit (drawn delays, negative weights; the NetStim cells play the run's spikes)."""
    stored(netpyne_net(netstim=True), tmp_path / "m.h5")
    res = nethub.simulate(tmp_path / "m.h5")
    lost = nethub.convert(tmp_path / "m.h5", tmp_path / "out", to="sonata",
                          write_options={"runs": "latest"})
    assert "population P: NetStim cell type 'P' written as virtual nodes playing the spikes " \
        "of run run_0000 (recorded to 200.0 ms)" in lost
    virtual = ("S", "P")  # BMTK does not record virtual nodes
    ours = _bmtk_spikes(tmp_path / "out", skip=virtual)  # nethub's run, as exported
    net = nethub.load(tmp_path / "m.h5")
    assert ours == _keyed(net, res, skip=virtual)
    assert len(_bmtk_spikes(tmp_path / "out")) > len(ours)  # P's spikes are in the file too
    shutil.rmtree(tmp_path / "out" / "output")
    run_bmtk(tmp_path / "out" / "simulation_config.json")
    theirs = _bmtk_spikes(tmp_path / "out", skip=virtual)
    assert len(theirs) > 50 and ours == theirs
