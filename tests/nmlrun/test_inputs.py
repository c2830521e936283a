"""Inputs, synapses and spike-source populations of NeuroML2 (fixtures/neuroml/ours/
InputsDet.net.nml): sine, ramp, pulse and compound generators, voltageClamp(Triple), inputW
weights, a timedSynapticInput, a spikeArray and a spikeGenerator population, alpha / expThree /
NMDA (Mg block) / STP (tsodyksMarkram) / double synapses, an adExIaFCell. ``nethub run``
writes the LEMS output files; they are compared with the files ``pynml LEMS -neuron -run``
writes (run once, cached by the fixtures' content hash)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from nethub.formats.neuroml.plugin import NeuroMLFormat

from .conftest import FIXTURES, nethub_run
from .conftest import jnml_outputs as run_jnml

OURS = FIXTURES / "ours"
LEMS = "LEMS_InputsDet.xml"
FILES = (LEMS, "InputsDet.net.nml")
OUTPUTS = ("results/inputs_v.dat", "results/inputs.spikes")


@pytest.fixture(scope="module")
def jnml_outputs(tmp_path_factory) -> dict[str, str]:
    """The output files of jNeuroML's own NEURON run (cached: later sessions skip Java)."""
    folder = tmp_path_factory.mktemp("jnml")
    (folder / "results").mkdir()
    for f in FILES:
        shutil.copy(OURS / f, folder / f)
    return run_jnml(folder, LEMS, [OURS / f for f in FILES], list(OUTPUTS))


@pytest.fixture(scope="module")
def ours(ours_copy) -> dict[str, str]:
    nethub_run(ours_copy / LEMS, ours_copy / "inputs.h5")
    return {name: (ours_copy / name).read_text() for name in OUTPUTS}


def test_everything_imported():
    net, run, lost = NeuroMLFormat().read_run(OURS / LEMS)
    assert lost == []
    types = {k: v.tags["nml.type"] for k, v in net.cell_types.items()}
    assert types == {"iaf": "IafCell", "adex": "AdExIaFCell", "arr": "SpikeArray",
                     "regular": "SpikeGenerator"}
    assert net.cell_types["arr"].sections["soma"].point_processes[0]["_events"] == 1
    assert set(net.syn_mechs) == {"alpha", "stp", "nmda", "exp3", "ampa", "dbl"}
    st = net.stim_targets
    assert list(st["source"].values()) == (["sine", "ramp", "pulse", "pulse"] + ["timed"] * 3
                                           + ["ci", "vc", "vc3"])
    w = np.asarray(st["param.weight"])
    assert np.isnan(w[:2]).all() and w[2:4].tolist() == [0.5, 1.5]
    assert np.asarray(st["param.start"])[4:7].tolist() == [40.0, 45.0, 50.0]
    assert list(st["syn_mech"].values())[4:7] == ["ampa"] * 3
    assert net.stim_sources["timed"].model == "NetStim"
    rc = net.run_config  # the LEMS run travels with the model
    tr = {t.label: t for t in rc.traces}["lems.v.adw"]
    assert (tr.sec, tr.loc, tr.point_process, tr.variable, tr.cells.gids) == \
        ("soma", 0.5, "adex", "w", (4,))
    files = {f["id"]: f for f in rc.extras["nethubLemsOutputs"]}
    # w: nA -> A
    assert [c["factor"] for c in files["v"]["columns"]] == [1e-3] * 5 + [1e-9] + [1e-3] * 3
    assert files["spikes"]["format"] == "TIME_ID"


def test_spikes_file_equals_jnml(ours, jnml_outputs):
    """The EventOutputFile, byte for byte as jNeuroML's NEURON run writes it."""
    assert ours["results/inputs.spikes"].count("\n") >= 10
    assert ours["results/inputs.spikes"] == jnml_outputs["results/inputs.spikes"]


def test_traces_file_equals_jnml(ours, jnml_outputs):
    """Every column (V and A) equal to jNeuroML's, except at the step where an iaf cell fires:
    there jNeuroML's per-step record keeps the value at threshold and nethub's the reset
    value (-70 mV) the spike's event set in the same step."""
    lines_ours = ours["results/inputs_v.dat"].splitlines()
    lines_jnml = jnml_outputs["results/inputs_v.dat"].splitlines()
    assert len(lines_jnml) == len(lines_ours) + 1  # jNeuroML also keeps t = length
    ref = np.loadtxt(lines_jnml[:-1])
    got = np.loadtxt(lines_ours)
    rows, cols = np.nonzero(got != ref)
    n_spikes = ours["results/inputs.spikes"].count("\n")
    assert len(rows) <= n_spikes
    assert np.all(got[rows, cols] == -0.07) and np.all(ref[rows, cols] >= -0.0501)
    assert np.ptp(got[:, 6]) > 1e-11  # adEx w (A) moves
    t = got[:, 0]
    held = (t > 0.052) & (t < 0.099)
    assert np.allclose(got[held, 8], -0.05, atol=5e-4)  # voltageClamp: -50 mV
    # voltageClampTriple: testing at -45 mV drives the iaf cell (threshold -50 mV) to fire
    assert got[held, 9].max() > -0.0506 and got[(t > 0.02) & (t < 0.049), 9].max() < -0.064
