"""OMV tests of the NeuroML2 examples whose cells must share a rank, through ``nethub run
LEMS_X.xml`` as they are (no ``--unchecked``), on 1 and 2 ranks:

* Ex19 / Ex19a: a gap junction between two iaf cells; nethub sets ``vpeer`` with
  ``h.setpointer`` (``pointer_conns`` column ``live``), as jNeuroML does, so the peer sees an iaf
  reset within the step (a ParallelContext transfer gave 4 of 14 spikes one step early);
* Ex12 / Ex16: LEMS ``synapticConnection``s with delay 0 (spike sources onto cells), which NEURON
  runs between cells of one rank only.

Both kinds of linked cells are dealt to one rank (nethub.sim.colocate), so 2 ranks give the same
spikes as one. Each run is a child process (each model loads its own mechanisms)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import nethub

from .conftest import FIXTURES, nethub_run
from .omv import check_omt

#: (LEMS file, its jNeuroML_NEURON OMV test)
CASES = [("LEMS_NML2_Ex19_GapJunctions.xml", ".test.ex19.jnmlnrn.omt"),
         # the same network with electricalConnectionInstance (OMV: the same .mep)
         ("LEMS_NML2_Ex19a_GapJunctionInstances.xml", ".test.ex19a.jnmlnrn.omt"),
         ("LEMS_NML2_Ex12_Net2.xml", ".test.ex12.jnmlnrn.omt"),
         ("LEMS_NML2_Ex16_Inputs.xml", ".test.ex16.jnmlnrn.omt")]


def _failed(omt: Path) -> tuple[int, list]:
    outcomes = check_omt(omt)
    return len(outcomes), [(o.experiment, o.observed, o.expected)
                           for o in outcomes if not o.passed]


@pytest.mark.parametrize("lems,omt", CASES)
def test_omv_on_one_and_two_ranks(tmp_path, lems, omt):
    """Each model in a copy of its own: the output files of the 1-rank run, then of the 2-rank
    run (``--np 2``), pass the OMV test at its tolerance (0), with identical spikes."""
    root = tmp_path / "NeuroML2"
    shutil.copytree(FIXTURES / "NeuroML2", root)
    path, test = root / "LEMSexamples" / lems, root / "LEMSexamples" / "test" / omt
    runs = {}
    for np_ in (1, 2):
        shutil.rmtree(path.parent / "results", ignore_errors=True)  # the 1-rank run's files
        out = root / f"np{np_}.h5"
        nethub_run(path, out, "--np", str(np_))
        n, failed = _failed(test)
        assert n >= 2 and failed == [], (np_, failed)
        runs[np_] = nethub.load_results(out)
    assert runs[2].nranks == 2 and len(runs[1].spike_times) >= 6
    np.testing.assert_array_equal(runs[2].spike_times, runs[1].spike_times)
    np.testing.assert_array_equal(runs[2].spike_gids, runs[1].spike_gids)
    np.testing.assert_array_equal(runs[2].traces.data, runs[1].traces.data)
    if "Ex19" in lems:
        net = nethub.load(root / "np1.h5")
        assert np.asarray(net.pointer_conns["live"]).tolist() == [1, 1]
        assert "POINTER vpeer" in net.mod_files["gj1.mod"]
        assert runs[1].meta["engine"] == "neuron"  # CoreNEURON refuses POINTER mechanisms
        assert "POINTER" in runs[1].meta["engine_reason"]


@pytest.mark.mpi
def test_delay0_model_under_mpiexec(tmp_path_factory):
    """Under ``mpiexec -n 2 python -m pytest -m mpi``: Ex12 (delay-0 connections from spike
    sources) run in this process on 2 ranks passes its OMV test. (One model only: the models
    of one process must not define a mechanism name twice, and Ex19's ``iaf`` differs from
    test_random's.)"""
    from nethub.formats.neuroml.outputs import write_lems_outputs
    from nethub.runner import store_run_config
    from nethub.sim import _neuron, run_store

    h, pc = _neuron()
    if int(pc.nhost()) < 2:
        pytest.fail("this test must run under mpiexec -n 2 (marker mpi)")
    root = None
    if int(pc.id()) == 0:
        root = tmp_path_factory.mktemp("mpi") / "NeuroML2"
        shutil.copytree(FIXTURES / "NeuroML2", root)
        nethub.convert(root / "LEMSexamples" / CASES[2][0], root / "ex12.h5")
    root = Path(pc.py_broadcast(str(root) if root else None, 0))
    store = root / "ex12.h5"
    res = run_store(store, store_run_config(store))
    if int(pc.id()) != 0:
        assert res is None
        return
    assert res.nranks == 2
    write_lems_outputs(res, root / "LEMSexamples")
    n, failed = _failed(root / "LEMSexamples" / "test" / CASES[2][1])
    assert n == 6 and failed == []
