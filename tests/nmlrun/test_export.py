"""First slice of the NeuroML export: a store imported from NeuroML / LEMS written back as
``.nml`` + LEMS (``nethub convert IN.h5 OUT.nml -w lems=LEMS_OUT.xml``) that ``pynml
-validate`` accepts, re-imports to the same network and runs to the same spikes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import nethub
from nethub.formats.base import Document
from nethub.formats.neuroml.plugin import NeuroMLFormat

from .conftest import FIXTURES, nethub_run, serial_env

LEMS = FIXTURES / "ours" / "LEMS_InputsDet.xml"


def _table(net, name, cols):
    t = getattr(net, name)
    rows = zip(*[list(t[c].values()) if hasattr(t[c], "values") else np.asarray(t[c]).tolist()
                 for c in cols])
    return sorted(rows)


def test_export_validates_reimports_and_runs_alike(tmp_path, ours_copy):
    store = tmp_path / "in.h5"
    nethub.convert(LEMS, store)
    out, lems = tmp_path / "out.nml", tmp_path / "LEMS_out.xml"
    lost = NeuroMLFormat().write(nethub.read(store), out, lems=str(lems))
    assert lost == []
    pynml = Path(sys.executable).parent / "pynml"
    proc = subprocess.run([str(pynml), str(out), "-validate"], capture_output=True, text=True,
                          env=serial_env(), check=False)
    assert "All valid and no warnings" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    a, _run, lost_a = NeuroMLFormat().read_run(LEMS)
    b, _run, lost_b = NeuroMLFormat().read_run(lems)
    assert lost_a == lost_b == []
    assert _table(a, "cells", ["pop", "cell_type", "x", "y", "z"]) == \
        _table(b, "cells", ["pop", "cell_type", "x", "y", "z"])
    cols = ["pre_gid", "post_gid", "syn_mech", "weight", "delay"]
    assert _table(a, "connections", cols) == _table(b, "connections", cols)
    cols = ["source", "gid", "sec", "loc"]
    assert _table(a, "stim_targets", cols) == _table(b, "stim_targets", cols)
    assert np.nansum(np.asarray(a.stim_targets["param.weight"])) == \
        np.nansum(np.asarray(b.stim_targets["param.weight"]))
    assert set(a.mod_files) == set(b.mod_files)
    nethub_run(ours_copy / LEMS.name, ours_copy / "orig.h5")
    nethub_run(lems, tmp_path / "exported.h5")
    ref = nethub.load_results(ours_copy / "orig.h5")
    res = nethub.load_results(tmp_path / "exported.h5")
    assert len(ref.spike_times) > 10
    np.testing.assert_array_equal(res.spike_times, ref.spike_times)
    np.testing.assert_array_equal(res.spike_gids, ref.spike_gids)
    lines = (tmp_path / "detnet.spikes").read_text().splitlines()
    assert len(lines) == len(ref.spike_times)


def test_netpyne_cells_export_and_losses_are_counted(tmp_path):
    """A NetPyNE store: its cells are exported from their NEURON form
    (tests/nmlrun/test_export_native.py); what has no equivalent (noisy NetStims) is a loss."""
    from nethub.examples import example_path

    net = nethub.build(*nethub.load_spec(example_path()))
    lost = NeuroMLFormat().write(Document(network=net), tmp_path / "x.nml")
    assert any("NetStim with noise" in m for m in lost)
    text = (tmp_path / "x.nml").read_text()
    assert all(f'<cell id="{name}"' in text for name in net.cell_types)


def test_export_nml_h5_keeps_float64(tmp_path):
    """``.nml.h5`` export: float64 datasets; the same network as the XML export."""
    import h5py

    store = tmp_path / "in.h5"
    nethub.convert(LEMS, store)
    net = nethub.read(store)
    fmt = NeuroMLFormat()
    fmt.write(net, tmp_path / "x.nml", lems=str(tmp_path / "LEMS_x.xml"))
    fmt.write(net, tmp_path / "y.nml.h5", lems=str(tmp_path / "LEMS_y.xml"))
    with h5py.File(tmp_path / "y.nml.h5") as f:
        ds = f["neuroml/network/projection_pArr/pArr"]
        assert ds.dtype == np.float64
    a = fmt.read_run(tmp_path / "LEMS_x.xml")[0]
    b = fmt.read_run(tmp_path / "LEMS_y.xml")[0]
    for name, cols in (("cells", ["pop", "cell_type", "x", "y", "z"]),
                       ("connections", ["pre_gid", "post_gid", "syn_mech", "weight", "delay"]),
                       ("stim_targets", ["source", "gid"])):
        assert _table(a, name, cols) == _table(b, name, cols)
    assert fmt.sniff(tmp_path / "y.nml.h5")
