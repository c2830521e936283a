"""``nethub verify`` reproduces untouched runs of stores made from a spec, a NetPyNE output
file, a SONATA circuit and a NeuroML/LEMS model, and says when the rank count differs."""

from __future__ import annotations

from pathlib import Path

import pytest

import nethub
from nethub.examples import example_path
from nethub.runner import simulate
from nethub.verifyrun import verify

pytestmark = pytest.mark.neuron

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _assert_reproduced(store, run=None, **kw):
    report = verify(store, run, shared_cache=True, **kw)
    assert report.ok, report.text()
    assert report.results[0].name == "spikes" and report.results[0].status == "identical"
    assert report.integrity == [] and report.integrity_recorded
    return report


def test_spec(tmp_path):
    store = tmp_path / "ei.h5"
    simulate(example_path(), {"duration": 200}, output=store)
    report = _assert_reproduced(store)
    assert {c.name for c in report.results} == {"spikes", "traces"}
    assert report.to_dict()["ok"] is True


def test_netpyne_file(tmp_path):
    """A NetPyNE 1.1.1 output file: the nethub run of it, and NetPyNE's own run (stored
    without a RunConfig: re-created from its simConfig) are reproduced."""
    store = tmp_path / "tut2.h5"
    nethub.convert(FIXTURES / "netpyne_output" / "tut2_data.json", store)
    simulate(store)
    _assert_reproduced(store)
    report = verify(store, "netpyne", shared_cache=True)
    assert report.results[0].status == "identical", report.text()
    assert any("without its RunConfig" in n for n in report.notes)


def test_sonata_import(tmp_path):
    store = tmp_path / "intfire.h5"
    nethub.convert(FIXTURES / "sonata" / "300_intfire" / "config.json", store)
    simulate(store)
    _assert_reproduced(store)


def test_neuroml_import(tmp_path):
    store = tmp_path / "izh.h5"
    simulate(FIXTURES / "neuroml" / "ours" / "LEMS_IzhNet.xml", output=store)
    _assert_reproduced(store)


def test_two_rank_run_verified_on_one(tmp_path):
    store = tmp_path / "ei2.h5"
    res = simulate(example_path(), {"duration": 150}, nprocs=2, output=store)
    assert res.nranks == 2
    report = _assert_reproduced(store, nprocs=1)
    assert report.rerun["nranks"] == 1
    assert any(c.what == "rank count" and (c.old, c.new) == (2, 1) for c in report.changes)
    assert any("rank-invariant" in n for n in report.notes)


def test_clean_build_compiles_the_stored_sources(archive_store):
    """Without the shared cache the store's .mod source is compiled in the temporary
    folder (nothing of this machine's compiled mechanisms is used)."""
    report = verify(archive_store)
    assert report.ok, report.text()
    assert report.rerun["clean_mechanism_build"] is True


def test_lfp_and_dipole_compared(tmp_path):
    """LFP, its times and electrodes, and the dipole are compared with the stated tolerance."""
    from .conftest import archive_network

    net = archive_network()
    net.spec["simConfig"].update({"recordLFP": [[0, -50, 20], [0, 50, 20]],
                                  "recordDipole": True})
    store = tmp_path / "lfp.h5"
    simulate(net, output=store)
    report = _assert_reproduced(store)
    status = {c.name: c.status for c in report.results}
    assert {"lfp", "lfp/lfp_time", "lfp/electrodes", "lfp/dipole"} <= set(status)
    assert all(s in ("identical", "within tolerance") for s in status.values())
