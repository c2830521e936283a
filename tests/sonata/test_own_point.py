"""A point-neuron circuit made with BMTK's own builder (``fixtures/sonata/make_own_point.py``:
two IntFire1 populations, three virtual ones fed by spikes in three layouts, node sets of every
kind) gives BMTK's spikes on 1 rank, and BMTK's 2-rank spikes on 2 ranks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import nethub
from nethub.converters.sonata import sonata_to_network
from nethub.formats.sonata import read_circuit, read_spikes

from .conftest import FIXTURES

OWN = FIXTURES / "own_point"


def _pairs(pops, ids, times) -> list:
    return sorted(zip(list(pops), np.asarray(ids).tolist(), np.round(np.asarray(times),
                                                                     6).tolist(), strict=True))


def _bmtk(name: str = "bmtk_spikes.h5") -> list:
    ref = read_spikes(OWN / name)
    return sorted(p for pop, sp in ref.items()
                  for p in _pairs([pop] * len(sp), sp.node_ids, sp.timestamps))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("own") / "own_point"
    shutil.copytree(OWN, out)
    return out


def test_import(folder):
    net, lost = sonata_to_network(read_circuit(folder / "simulation_config.json"))
    assert list(net.populations) == ["exc", "inh", "ext", "bg", "tw"]
    assert net.cell_types["exc_100"].params == {"tau": 15.0, "refrac": 3.0}
    cells = net.cells_df()
    spk = cells.set_index(["pop", "sonata.node_id"])["params.spkTimes"]
    # ext: all 6 nodes play (BMTK plays every node of the node set's populations), noted
    assert all(len(spk["ext", i]) == 25 for i in range(6))
    assert "inputs.ext_spikes: 50 spikes of 'ext' nodes outside its node set played, as " \
        "BMTK 1.2 plays every node of the node set's populations" in lost
    # bg: the old population-less layout, tw: CSV
    assert [len(spk["bg", i]) for i in range(4)] == [30, 30, 0, 0]
    assert [len(spk["tw", i]) for i in range(3)] == [20, 20, 20]
    rc = net.run_config
    assert rc.record_spikes.populations == ("exc", "inh") and rc.exact
    assert rc.native["inputs"]["tw_csv"]["module"] == "csv"


def test_one_and_two_ranks_equal_bmtk(folder, tmp_path):
    one = nethub.simulate(folder / "simulation_config.json", output=tmp_path / "one.h5")
    ours = nethub.spikes_by_node(tmp_path / "one.h5")
    want = _bmtk()
    assert len(want) > 1000 and len(one.spike_times) == len(want)
    assert _pairs(ours["population"], ours["node_id"], ours["timestamp"]) == want
    written = read_spikes(folder / "output" / "spikes.h5")
    assert sorted(p for pop, sp in written.items()
                  for p in _pairs([pop] * len(sp), sp.node_ids, sp.timestamps)) == want
    # on 2 ranks, BMTK's own 2-rank spikes: events arriving at the same time are delivered in
    # an order that depends on the deal of cells over ranks, in BMTK as in nethub
    two = nethub.simulate(tmp_path / "one.h5", nprocs=2, output=tmp_path / "two.h5")
    assert two.nranks == 2
    ours = nethub.spikes_by_node(tmp_path / "two.h5")
    want2 = _bmtk("bmtk_spikes_np2.h5")
    assert want2 != want and len(want2) > 1000
    assert _pairs(ours["population"], ours["node_id"], ours["timestamp"]) == want2
