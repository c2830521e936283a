"""NWB back into nethub: the round trip of a real run is exact (spikes as float64 ms and
int64 gids, traces, trace groups, LFP and what was recorded beside it, provenance), also for
spike times whose value in seconds does not give the milliseconds back; runs join the store
of their network (checked by content hash) and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
from nethub import cli
from nethub.errors import ConversionError
from nethub.results import Results

pytestmark = pytest.mark.neuron


def test_round_trip_of_a_real_run_is_exact(run_store, nwb_file):
    before = nethub.load_results(run_store[1])
    after = nethub.load_results(nwb_file)
    assert after.spike_times.dtype == np.float64 and after.spike_gids.dtype == np.int64
    np.testing.assert_array_equal(after.spike_times, before.spike_times)
    np.testing.assert_array_equal(after.spike_gids, before.spike_gids)
    assert after.equals(before)  # traces, trace groups, LFP, dipole, documents, hash
    assert after.name == before.name and after.run_config == before.run_config


def test_spike_times_that_seconds_cannot_hold_come_back_exact(run_store, tmp_path):
    """About 2 % of float64 ms values are not ``(t / 1000) * 1000``; near the top of a binade
    half of them are not, and neighbours can even share a value in seconds."""
    net = nethub.load(run_store[0])
    rng = np.random.default_rng(7)
    near = 1.999 * 2.0 ** np.arange(0, 10)  # 1.999 ms .. 1023.5 ms
    t = np.concatenate([rng.uniform(0, 1000, 4000),
                        (near[:, None] + np.arange(200) * np.spacing(near)[:, None]).ravel()])
    assert np.count_nonzero((t / 1000) * 1000 != t) > 100  # the case is really exercised
    assert len(np.unique(t / 1000)) < len(np.unique(t))
    gids = rng.choice(net.gids, len(t))
    res = Results(spike_times=t, spike_gids=gids, network_hash=net.content_hash(),
                  sim_config={"duration": 1100.0}, name="synthetic")
    path = tmp_path / "odd.nwb"
    nethub.save((net, res), path)
    back = nethub.load_results(path)
    np.testing.assert_array_equal(back.spike_times, res.spike_times)
    np.testing.assert_array_equal(back.spike_gids, res.spike_gids)


def test_results_without_a_network_give_units_of_the_spiking_cells(tmp_path):
    res = Results(spike_times=[1.5, 2.25, 3.0], spike_gids=[7, 3, 7], network_hash="ab" * 32)
    nethub.save(res, tmp_path / "r.nwb")
    back = nethub.load_results(tmp_path / "r.nwb")
    assert back.equals(Results(spike_times=[1.5, 2.25, 3.0], spike_gids=[7, 3, 7],
                               network_hash="ab" * 32, name="run_0000"))
    import pynwb

    with pynwb.NWBHDF5IO(str(tmp_path / "r.nwb"), "r") as io:
        assert io.read().units.id.data[:].tolist() == [3, 7]


def test_traced_cells_without_spikes_are_units_too(run_store, tmp_path):
    """Without a network, the units are the spiking and the traced cells."""
    full = nethub.load_results(run_store[1])
    quiet = Results(spike_times=[], spike_gids=[], traces=full.traces,
                    network_hash=full.network_hash, name="quiet")
    nethub.save(quiet, tmp_path / "q.nwb")
    assert nethub.load_results(tmp_path / "q.nwb").equals(quiet)


def test_lfp_without_recorded_positions(run_store, tmp_path):
    """An LFP stored without electrode positions gets NaN positions, not invented ones."""
    res = nethub.load_results(run_store[1])
    res.electrodes = None
    nethub.save(res, tmp_path / "noel.nwb")
    back = nethub.load_results(tmp_path / "noel.nwb")
    assert back.electrodes is None and back.equals(res)


def test_convert_nwb_into_the_store_of_its_network(stores, nwb_file):
    model, out = stores
    before = nethub.load_results(out)
    assert cli.main(["convert", str(nwb_file), str(model)]) == 0  # a store without runs
    assert [r["name"] for r in nethub.store.list_runs(model)] == [before.name]
    assert nethub.load_results(model).equals(before)
    assert cli.main(["convert", str(nwb_file), "--into", str(out), "--run", "again"]) == 0
    assert [r["name"] for r in nethub.store.list_runs(out)] == [before.name, "again"]
    again = nethub.load_results(out, "again")
    np.testing.assert_array_equal(again.spike_times, before.spike_times)
    with pytest.raises(ConversionError, match=f"already has a run '{before.name}'"):
        nethub.convert(nwb_file, out)


def test_a_new_store_from_nwb_and_the_network_of_another(stores, nwb_file, tmp_path):
    model, _ = stores
    new = tmp_path / "new.h5"
    assert cli.main(["convert", str(nwb_file), str(new), "--into", str(model)]) == 0
    assert nethub.load(new).equals(nethub.load(model))
    assert nethub.load_results(new).equals(nethub.load_results(nwb_file))


def test_a_run_of_another_network_is_refused(stores, nwb_file, tmp_path):
    from .conftest import CFG, NET

    other = tmp_path / "other.h5"
    spec = {**NET, "popParams": {"E": {"cellType": "BS", "numCells": 4}}}
    nethub.save(nethub.build(spec, CFG), other)
    size = other.stat().st_size
    with pytest.raises(ConversionError, match="refusing") as err:
        nethub.convert(nwb_file, other)
    assert str(nwb_file) in str(err.value) and str(other) in str(err.value)
    assert other.stat().st_size == size and nethub.store.list_runs(other) == []
    with pytest.raises(ConversionError, match="refusing"):
        nethub.read(nwb_file, network=other)


def test_load_says_what_an_nwb_file_needs(stores, nwb_file):
    with pytest.raises(ConversionError, match="not the network") as err:
        nethub.load(nwb_file)
    assert str(nwb_file) in str(err.value) and "network=STORE" in str(err.value)
    doc = nethub.read(nwb_file, network=stores[0])
    assert doc.network.content_hash() == doc.results[0].network_hash


def test_one_run_per_file_and_run_choice(stores, tmp_path):
    _, out = stores
    first = nethub.load_results(out)
    nethub.store.append_run(out, Results(spike_times=[1.0], spike_gids=[0],
                                         network_hash=first.network_hash), "second")
    lost = nethub.convert(out, tmp_path / "b.nwb")
    assert any("1 other run(s): one run per NWB file (exported 'second'" in x for x in lost)
    assert nethub.load_results(tmp_path / "b.nwb").name == "second"
    assert cli.main(["convert", str(out), str(tmp_path / "c.nwb"), "--run", first.name]) == 0
    assert nethub.load_results(tmp_path / "c.nwb").equals(first)


def test_embedded_store_is_a_byte_copy(stores, tmp_path):
    import hashlib
    import json

    import pynwb

    _, out = stores
    path = tmp_path / "e.nwb"
    nethub.convert(out, path, write_options={"embed_store": True})
    with pynwb.NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        data = f.scratch["nethub_source"].data[:].tobytes()
        prov = json.loads(f.scratch["nethub_provenance"].data)
    assert data == out.read_bytes()
    assert prov["source"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert prov["source"]["embedded"] is True


def test_results_sort_spikes_whatever_the_input_order():
    """Results skip their sort when spikes arrive sorted (a store's, an NWB file's); unsorted
    input, ties and NaN times still come out sorted by time then gid, as copies."""
    t = np.array([3.0, 1.0, 1.0, np.nan, 2.0])
    g = np.array([1, 5, 2, 0, 9])
    r = Results(spike_times=t, spike_gids=g)
    np.testing.assert_array_equal(r.spike_times, [1.0, 1.0, 2.0, 3.0, np.nan])
    np.testing.assert_array_equal(r.spike_gids, [2, 5, 9, 1, 0])
    ts, gs = np.array([1.0, 1.0, 2.0]), np.array([2, 5, 1])
    r = Results(spike_times=ts, spike_gids=gs)
    ts[0] = 9.0
    assert r.spike_times[0] == 1.0 and r.spike_gids.tolist() == [2, 5, 1]


def test_run_flag_where_no_file_has_a_run_to_choose(stores, tmp_path, capsys):
    assert cli.main(["convert", str(stores[1]), str(tmp_path / "x.h5"), "--run", "a"]) == 2
    assert "--run: neither" in capsys.readouterr().err
    assert cli.main(["convert", str(stores[1])]) == 2  # no OUTPUT and no --into


def test_dipoles_without_electrodes_round_trip(stores, tmp_path):
    """A run that recorded only the dipole has an LFP of no electrodes: no ElectricalSeries
    (NWB needs electrodes), the dipole and the sample times still come back exactly."""
    from nethub.runconfig import LfpRequest, RunConfig

    out = tmp_path / "dipole.h5"
    res = nethub.simulate(stores[0], RunConfig(duration=20.0, record_step=0.5,
                                               lfp=LfpRequest(dipole=True)), output=out)
    assert res.lfp.shape == (40, 0) and res.dipole.shape == (40, 3)
    nethub.convert(out, tmp_path / "dipole.nwb")
    assert nethub.load_results(tmp_path / "dipole.nwb").equals(nethub.load_results(out))
