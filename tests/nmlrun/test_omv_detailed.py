"""The NeuroML2 repository's OMV tests of its detailed-cell (``<cell>`` with morphology and
biophysics) LEMS examples pass on the files ``nethub run LEMS_X.xml`` writes, at each test's
``.mep`` tolerance (0 for all of them: the same samples as jNeuroML's NEURON export).

Each example runs in its own child process (jNeuroML names mechanisms after NeuroML ids, e.g.
``naChan`` in several models; one process cannot load two libraries with the same names).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from neuroml_cells.conftest import jnml_reference

from .conftest import nethub_run
from .omv import check_omt

#: (LEMS file, its jNeuroML_NEURON OMV test, extra ``nethub run`` options): every experiment
#: of the test must pass. Ex25, Ex7, Ex6 and Ex26 have LEMS connections with delay 0
#: (jNeuroML's default): they run checked, their cells on one rank (``nethub.sim.colocate``)
DETAILED = [
    # HH soma; the gate states (naChans/naChan/m/q) are an OutputFile of their own
    ("LEMS_NML2_Ex5_DetCell.xml", ".test.ex5.jnmlnrn.omt", ()),
    # GHK Ca channel + fixedFactorConcentrationModel, pulseGenerator named 'IClamp'
    # (jNeuroML's mechanism IClamp_nml2), Ca current density column (i__ca_chan)
    ("LEMS_NML2_Ex18_GHK.xml", ".test.ex18.jnmlnrn.omt", ()),
    # Q10 settings on gates, network temperature
    ("LEMS_NML2_Ex10_Q10.xml", ".test.ex10.jnmlnrn.omt", ()),
    # graded (analog) synapses between HH cells
    ("LEMS_NML2_Ex20a_AnalogSynapsesHH.xml", ".test.ex20a.jnmlnrn.omt", ()),
    # fractional conductances (channelDensity of a multi-gate channel)
    ("LEMS_NML2_Ex24_FractionalConductance.xml", ".test.ex24.jnmlnrn.omt", ()),
    # 4-segment cells, connections onto segments 0/1/3 part-way along
    ("LEMS_NML2_Ex25_MultiComp.xml", ".test.ex25.jnmlnrn.omt", ()),
    # STP synapses onto HH cells from spike sources
    ("LEMS_NML2_Ex7_STP.xml", ".test.ex7.jnmlnrn.omt", ()),
    # NMDA (blockingPlasticSynapse) on a passive cell: the synapse's g and block/blockFactor
    # columns (on the detailed cell's synapse), the source's spiketimes file and spike rate
    ("LEMS_NML2_Ex6_NMDA.xml", ".test.ex6.jnmlnrn.omt", ()),
    # inputW / connectionWD weights; population postPop says size="3" but lists 9 instances:
    # the instances are used, as jNeuroML does (a warning)
    ("LEMS_NML2_Ex26_Weights.xml", ".test.ex26.jnmlnrn.omt", ()),
]


def _run(nml2_copy, lems: str, extra: tuple = ()) -> None:
    path = nml2_copy / "LEMSexamples" / lems
    nethub_run(path, path.parent.parent / (path.stem + ".h5"), *extra)


def _failed(nml2_copy, omt: str, n: int) -> list:
    outcomes = check_omt(nml2_copy / "LEMSexamples" / "test" / omt)
    assert len(outcomes) == n
    assert all(len(o.expected) >= 1 for o in outcomes)
    return [(o.experiment, o.observed, o.expected) for o in outcomes if not o.passed]


@pytest.mark.parametrize("lems,omt,extra", DETAILED)
def test_omv_detailed_spike_times(nml2_copy, lems, omt, extra):
    _run(nml2_copy, lems, extra)
    n = len(yaml.safe_load((nml2_copy / "LEMSexamples" / "test" / omt).read_text())
            ["experiments"])
    assert _failed(nml2_copy, omt, n) == []


def test_omv_ca_dynamics_full_length(nml2_copy, tmp_path_factory):
    """Ex15 (Granule cell, Ca ``decayingPoolConcentrationModel``, 6 channels): its 3 OMV
    experiments over the model's full 700 ms at 1 µs (``nethub run --duration 700``: the
    fixture is trimmed to 200 ms for tests/neuroml_cells). The slowest test here (~10 s on an
    idle machine: 700,000 steps on NEURON -- the Ca pool's NMODL does not build for
    CoreNEURON -- and 11 columns written at every step), kept for the channel density
    columns: their first 200 ms equal jNeuroML's NEURON run of the trimmed fixture (cached,
    ``neuroml_cells.conftest``) to its text precision."""
    folder = nml2_copy / "LEMSexamples"
    assert 'length="200ms"' in (folder / "LEMS_NML2_Ex15_CaDynamics.xml").read_text()
    _run(nml2_copy, "LEMS_NML2_Ex15_CaDynamics.xml", ("--duration", "700"))
    assert _failed(nml2_copy, ".test.ex15.jnmlnrn.omt", 3) == []
    outputs = jnml_reference("capool", tmp_path_factory)["outputs"]
    for name in ("results/ex15_curr_dens.dat", "results/ex15_cond_dens.dat"):
        ref = outputs[name][:-1]  # jNeuroML's 0 .. 200 ms; nethub: 0 .. 700 ms - step
        ours = np.loadtxt(folder / name, max_rows=len(ref))
        assert ours.shape == ref.shape == (200_000, 6)
        bound = 2e-6 * np.abs(ref) + 1e-6 * np.abs(ref).max(axis=0)  # '%e': 7 digits
        assert np.max(np.abs(ours - ref) / bound) <= 1.0, name
