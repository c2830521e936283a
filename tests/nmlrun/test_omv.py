"""The NeuroML2 repository's OMV tests (``.omt`` + ``.mep``) pass on the files ``nethub run
LEMS_X.xml`` writes: the same paths, columns and SI units as jNeuroML's NEURON export, at each
test's tolerance (0 for these: the same samples as jNeuroML)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub

from .conftest import nethub_run
from .omv import check_omt, detect_spikes

#: (LEMS file, its jNeuroML_NEURON OMV test) of the abstract-cell examples
CASES = [("LEMS_NML2_Ex0_IaF.xml", ".test.ex0.jnmlnrn.omt"),
         ("LEMS_NML2_Ex14_PyNN.xml", ".test.ex14.jnmlnrn.omt"),
         ("LEMS_NML2_Ex21_CurrentBasedSynapses.xml", ".test.ex21.jnmlnrn.omt"),
         # a 10 ms step (NEURON's maxstep must stay above dt; CoreNEURON refuses it)
         ("LEMS_NML2_Ex9_FN.xml", ".test.ex9.jnmlnrn.omt"),
         # OMV tests it on jLEMS only: nethub's consistent-units pinskyRinzelCA3Cell NMODL
         # (formats/neuroml/pinsky.py), forward Euler as jLEMS
         ("LEMS_NML2_Ex22_PinskyRinzelCA3.xml", ".test.ex22.jnml.omt")]


@pytest.fixture(scope="module")
def runs(nml2_copy) -> dict[str, Path]:
    out = {}
    for lems, _omt in CASES:
        path = nml2_copy / "LEMSexamples" / lems
        store = path.parent.parent / (path.stem + ".h5")
        proc = nethub_run(path, store)
        assert "wrote " in proc.stdout
        out[lems] = store
    return out


# Ex12, Ex16 (delay-0 connections) and Ex19, Ex19a (gap junctions): test_colocated.py


@pytest.mark.parametrize("lems,omt", CASES)
def test_omv_spike_times(runs, nml2_copy, lems, omt):
    assert lems in runs
    outcomes = check_omt(nml2_copy / "LEMSexamples" / "test" / omt)
    assert len(outcomes) >= 1
    failed = [(o.experiment, o.observed, o.expected) for o in outcomes if not o.passed]
    assert failed == []


def test_output_file_layout(runs, nml2_copy):
    """jNeuroML's layout: time (s) then the columns in SI units, '%e' + tab each; the same
    values are in the store."""
    path = nml2_copy / "LEMSexamples" / "results" / "iaf_v.dat"
    lines = path.read_text().splitlines()
    assert len(lines) == 60000  # 300 ms / 0.005 ms: steps 0 .. length - step
    assert lines[0] == "0.000000e+00\t-5.000000e-02\t-5.000000e-02\t-5.300000e-02\t" \
                       "-5.300000e-02\t"
    assert lines[1].startswith("5.000000e-06\t-6.999667e-02\t")
    res = nethub.load_results(runs["LEMS_NML2_Ex0_IaF.xml"])
    data = np.loadtxt(path)
    v = res.traces.get("lems.of0.iafPop0", 3)  # column 3 = iafPop[0], gid 3
    np.testing.assert_allclose(data[:, 3], v / 1000, rtol=5e-6)
    np.testing.assert_allclose(data[:, 0], res.traces.time / 1000, rtol=1e-6, atol=1e-12)


def test_synapse_variable_column(runs, nml2_copy):
    """``pop_target[0]/synapses:syn1:0/g``: the PyNN synapse's g, dimensionless in LEMS (its
    NMODL declares no unit), written as NEURON holds it (the OMV test's threshold is 0.003)."""
    res = nethub.load_results(runs["LEMS_NML2_Ex14_PyNN.xml"])
    data = np.loadtxt(nml2_copy / "LEMSexamples" / "results" / "ex14_g.dat")
    g = res.traces.get("lems.of1.syn1", int(res.traces.index["gid"][
        list(res.traces.index["label"].values()).index("lems.of1.syn1")]))
    assert g.max() > 0
    np.testing.assert_allclose(data[:, 1], g, rtol=5e-6, atol=1e-12)


def test_detect_spikes_follows_omv():
    t = np.arange(8.0)
    v = np.array([-1, 0, 1, 0, -1, 0, 1, 0.0])
    assert detect_spikes(t, v, "threshold", 0.5).tolist() == [2.0, 6.0]
    assert detect_spikes(t, v, "derivative").tolist() == [2.0, 6.0]


def test_returned_runconfig_runs_the_same(runs, tmp_path):
    """The RunConfig ``read_run`` returns (for ``Network.run_config``) records the same
    traces and spikes as the stored simConfig route of ``nethub run LEMS_X.xml``."""
    from nethub.formats.neuroml.plugin import NeuroMLFormat

    from .conftest import FIXTURES, serial_env

    lems = FIXTURES / "NeuroML2" / "LEMSexamples" / "LEMS_NML2_Ex0_IaF.xml"
    net, run, lost = NeuroMLFormat().read_run(lems)
    assert lost == [] and run.seeds == {} and run.record_step == 0.005
    assert [t.label for t in run.traces] == ["lems.of0.iafTauPop0", "lems.of0.iafTauRefPop0",
                                             "lems.of0.iafPop0", "lems.of0.iafRefPop0"]
    store = tmp_path / "ex0.h5"
    nethub.save(net, store)
    (tmp_path / "run.json").write_text(run.to_json())
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", str(store), "--run-config",
                           str(tmp_path / "run.json"), "-o", str(tmp_path / "out.h5")],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = nethub.load_results(tmp_path / "out.h5")
    ref = nethub.load_results(runs["LEMS_NML2_Ex0_IaF.xml"])
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    assert res.traces.index.equals(ref.traces.index)
    np.testing.assert_array_equal(res.traces.data, ref.traces.data)


def test_graded_synapses_as_jnml(tmp_path_factory, nml2_copy):
    """Ex20 (continuousProjection: a linear graded and a graded synapse from iafPop1 onto
    iafPop2 / iafPop3, silentSynapse pre components): the same traces as jNeuroML's NEURON run,
    value for value (live pointers: ``vpeer`` set with setpointer, as jNeuroML does)."""
    from .conftest import FIXTURES, jnml_outputs

    src = FIXTURES / "NeuroML2"
    lems = "LEMS_NML2_Ex20_AnalogSynapses.xml"
    folder = tmp_path_factory.mktemp("jnml20")
    (folder / "LEMSexamples" / "results").mkdir(parents=True)
    (folder / "examples").mkdir()
    shutil.copy(src / "LEMSexamples" / lems, folder / "LEMSexamples" / lems)
    shutil.copy(src / "examples" / "NML2_AnalogSynapses.nml", folder / "examples")
    inputs = [src / "LEMSexamples" / lems, src / "examples" / "NML2_AnalogSynapses.nml"]
    ref = jnml_outputs(folder / "LEMSexamples", lems, inputs, ["results/ex20_v.dat"])
    path = nml2_copy / "LEMSexamples" / lems
    nethub_run(path, path.parent.parent / "ex20.h5")
    ours = np.loadtxt(path.parent / "results" / "ex20_v.dat")
    theirs = np.loadtxt(ref["results/ex20_v.dat"].splitlines())[:-1]
    assert ours.shape == theirs.shape and ours.shape[1] == 4
    np.testing.assert_array_equal(ours, theirs)
    pre_on = (ours[:, 0] > 0.06) & (ours[:, 0] < 0.25)
    for col in (2, 3):  # the graded synapses depolarise the post cells while iafPop1 is driven
        assert ours[pre_on, col].max() > ours[ours[:, 0] < 0.04, col].max() + 1e-4


def test_ex9_runs_on_neuron_not_coreneuron(runs):
    """A 10 ms step: ``--engine auto`` picks NEURON and says why (CoreNEURON's own 10 ms
    maximum step, measured: 'usable mindelay is 0'); NEURON runs it (maxstep 20 ms)."""
    res = nethub.load_results(runs["LEMS_NML2_Ex9_FN.xml"])
    assert res.meta["engine"] == "neuron"
    assert "usable mindelay is 0" in res.meta["engine_reason"]


def test_pinsky_rinzel_rewrite(runs, nml2_copy):
    """The rewritten cell: the PARAMETERs in mS/cm2, uA/cm2, uF/cm2 from jNeuroML's SI values,
    forward Euler; the soma and dendrite fire the OMV expectation's bursts (checked above) and
    stay in a physiological range."""
    from nethub.formats.neuroml.pinsky import MARKER, fix_pinsky_rinzel, is_pinsky_rinzel

    net = nethub.load(runs["LEMS_NML2_Ex22_PinskyRinzelCA3.xml"])
    text = net.mod_files["pr2A.mod"]
    assert MARKER in text and not is_pinsky_rinzel(text) and fix_pinsky_rinzel(text) == text
    assert "gNa = 30.0 (mS/cm2)" in text and "iSoma = 0.75 (uA/cm2)" in text
    assert "cm = 3.0 (uF/cm2)" in text and "METHOD euler" in text
    data = np.loadtxt(nml2_copy / "LEMSexamples" / "results" / "ex22_v.dat")
    assert data.shape[1] == 3 and data.shape[0] in (150000, 150001)  # see docs (rows)
    assert -0.08 < data[:, 1:].min() and data[:, 1:].max() < 0.06  # V, SI
