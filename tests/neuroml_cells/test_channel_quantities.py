"""LEMS OutputColumns of channel densities on detailed cells (gate states ``.../naChan/m/q``,
``.../iDensity``, ``.../gDensity``): ``nethub run LEMS_X.xml`` writes them as jNeuroML's NEURON
run writes them, value for value (jNeuroML's outputs cached by ``conftest.jnml_reference``)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from .conftest import CASES, FIX


@pytest.mark.parametrize("case,columns", [
    # Ex5: gate states m, h (naChan) and n (kChan), dimensionless
    ("hh", {"results/ex5_vars.dat": 3}),
    # Ex18: the GHK Ca channel's current density (i__ca_chan, mA/cm2 -> A/m2)
    ("ghk", {"results/ex18.dat": 3}),
    # Ex15's gDensity / iDensity columns: tests/nmlrun/test_omv_detailed.py (one run)
])
def test_channel_columns_are_jnmls(case, columns, jnml_ref, tmp_path):
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    lems = tmp_path / CASES[case][0]
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", lems.name, "-o", "o.h5"],
                          cwd=lems.parent, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "written as NaN" not in proc.stderr, proc.stderr[-2000:]
    outputs = jnml_ref(case)["outputs"]
    for name, n in columns.items():
        ref = outputs[name]
        # jNeuroML also writes a row at t = length (nethub: 0 .. length - step; for Ex18's
        # 50 ms / 1 us, one row more: see the report)
        ours = np.loadtxt(lems.parent / name)[:ref.shape[0] - 1]
        assert ours.shape == (ref.shape[0] - 1, n + 1)
        assert np.abs(ref[:, 1:]).max() > 0
        # jNeuroML writes 7 significant digits ('%e'): 1e-6 relative, and near zero 1e-6 of
        # the column's largest value (currents cross zero; the factor to SI is x 10 here,
        # / 0.1 in jNeuroML)
        ref = ref[:-1]
        bound = 2e-6 * np.abs(ref) + 1e-6 * np.abs(ref).max(axis=0)
        worst = np.max(np.abs(ours - ref) / bound)
        assert worst <= 1.0, (name, worst)
