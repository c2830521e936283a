"""OMV tests (``.omt`` + ``.mep``) of public NeuroML models found failing by the sweep of Open
Source Brain / NeuroML2 models (docs/neuroml.md, "Models checked"), each on the files ``nethub
run LEMS_X.xml`` writes, at the test's own tolerance. Each model covers an import gap fixed
then:

- OSB IzhikevichModel 2007Cells: ``explicitInput`` targets written ``pop/i/cell``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import FIXTURES, nethub_run
from .omv import check_omt, isi_rate, spike_file

#: (folder under the copy, LEMS file, OMV test)
#: (Ex5, Ex6 and Ex18 are run by test_omv_detailed.py)
CASES = [("osb/IzhikevichModel/NeuroML2", "LEMS_2007Cells.xml", ".test.2007cells.jnmlnrn.omt")]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A copy of the OSB fixtures."""
    dest = tmp_path_factory.mktemp("osb")
    shutil.copytree(FIXTURES / "osb", dest / "osb")
    return dest


@pytest.mark.parametrize("folder,lems,omt", CASES)
def test_omv(models, folder, lems, omt):
    path = models / folder / lems
    nethub_run(path, path.parent / (path.stem + ".h5"))
    outcomes = check_omt(path.parent / omt)
    assert len(outcomes) >= 1
    failed = [(o.experiment, o.observed, o.expected) for o in outcomes if not o.passed]
    assert failed == []


def test_spike_rate_as_omv(tmp_path):
    """OMV's ISI-based rate: per cell (ISIs) / (their sum), averaged over the cells chosen."""
    f = tmp_path / "s.spikes"
    f.write_text("0\t0.1\n1\t0.1\n0\t0.3\n1\t0.2\n0\t0.5\n1\t0.3\n2\t0.4\n")
    one = spike_file(f, "ID_TIME", 0)
    assert list(one) == [0.0] and one[0.0].tolist() == [0.1, 0.3, 0.5]
    assert isi_rate(one) == pytest.approx(5.0)
    every = spike_file(f, "ID_TIME", "*")
    assert isi_rate(every) == pytest.approx((5.0 + 10.0 + 0.0) / 3)
    swapped = tmp_path / "t.spikes"
    swapped.write_text("0.1\t3\n0.2\t3\n")
    assert np.allclose(spike_file(swapped, "TIME_ID", 3, 1000.0)[3.0], [100.0, 200.0])


def test_si_factor_reads_declarations_not_formulas():
    """``block_blockFactor = 1/(1 + ...)`` is a formula, not a unit: the variable is
    dimensionless (its declaration has none); densities in S/cm2 and mA/cm2 become SI."""
    from nethub.converters.neuroml_outputs import si_factor

    mod = ("PARAMETER {\n    gmax = 0  (S/cm2)\n}\nASSIGNED {\n    block_blockFactor : x\n"
           "    i__k (mA/cm2)\n}\nBREAKPOINT {\n"
           "    block_blockFactor = 1/(1 + (c / s))\n}\n")
    assert si_factor(mod, "block_blockFactor") == 1.0
    assert si_factor(mod, "gmax") == 1e4 and si_factor(mod, "i__k") == 10.0


def test_timed_input_rows_move_to_their_segments():
    """ACnet2's StimuliTest: a timedSynapticInput on segments 0, 2, 4 of three cells gives one
    stim row per input and spike (``timed_rows``); each input's rows go to its segment."""
    from nethub.converters.nml_cells_net import _place
    from nethub.table import Table

    table = Table({"rule": ["tsi"] * 6 + ["other"], "sec": ["soma"] * 7,
                   "loc": np.full(7, 0.5)})
    _place(table, "rule", "sec", "loc", {"tsi": (["soma", "dend", "apic"],
                                                 np.array([0.5, 0.25, 0.75]))})
    assert table["sec"].values().tolist() == ["soma", "soma", "dend", "dend", "apic", "apic",
                                           "soma"]
    assert np.asarray(table["loc"]).tolist() == [0.5, 0.5, 0.25, 0.25, 0.75, 0.75, 0.5]
