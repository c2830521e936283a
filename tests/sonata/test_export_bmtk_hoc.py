"""BMTK 1.2 re-simulates an exported NetPyNE-built compartmental (HH) network to nethub's
spikes: the export's templates declare sections as arrays (``soma[0]``, as BMTK's ``BioCell``
needs) and call ``define_shape()`` (BMTK's morphology code reads 3-D points).

BMTK (test-only reference, pandas<3: requirements-test.txt) runs in a child process
(tiny_circuit.run_bmtk): BMTK and nethub must not share one NEURON in a process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import nethub
from nethub.converters.hoc_export import hoc_template
from nethub.formats.sonata import read_spikes

from .export_nets import export
from .tiny_circuit import run_bmtk

TUTORIALS = Path(__file__).parents[2] / "fixtures" / "specs" / "netpyne_tutorials"


def _hh_iclamp(n: int = 8):
    """HHTut with n cells, IClamp pulses instead of its NetStims (its PYR->PYR connections
    kept with a weight that makes them fire cells)."""
    net_params, sim_cfg = nethub.load_spec(TUTORIALS / "HHTut")
    net_params.popParams["PYR"]["numCells"] = n
    net_params.stimSourceParams.pop("bkg")
    net_params.stimTargetParams.pop("bkg->PYR")
    for k, start in enumerate((5.0, 25.0, 45.0)):
        net_params.stimSourceParams[f"ic{k}"] = {"type": "IClamp", "del": start + k,
                                                 "dur": 2, "amp": 2.0}
        net_params.stimTargetParams[f"ic{k}->PYR"] = {
            "source": f"ic{k}", "sec": "soma", "loc": 0.5,
            "conds": {"cellList": [k, k + 1, k + 2]}}
    net_params.connParams["PYR->PYR"]["weight"] = 0.05  # synaptic events make spikes too
    sim_cfg.duration = 80.0
    return nethub.build(net_params, sim_cfg)


def test_template_options_for_bmtk():
    """``arrays``/``define_shape`` change only the section declarations and init()."""
    ct = _hh_iclamp(5).cell_types["PYR"]
    plain = hoc_template("PYR", ct)
    bmtk = hoc_template("PYR", ct, arrays=True, define_shape=True)
    assert "create soma\n" in plain and "define_shape()" not in plain
    assert "create soma[1]" in bmtk and "  set_globals()\n  define_shape()\n" in bmtk
    assert "soma[0] nc = new NetCon" in bmtk and "// name 'soma' is soma[0] here" in bmtk


def test_netpyne_hh_network_runs_the_same_in_bmtk(tmp_path):
    net = _hh_iclamp()
    res = nethub.simulate(net, {"duration": 80.0})
    assert len(res.spike_times) >= 10
    cfg, lost = export(net, tmp_path / "out")
    assert not any("BMTK cannot" in m for m in lost), lost
    run_bmtk(cfg)
    ref = read_spikes(tmp_path / "out" / "output" / "spikes.h5")
    cells = net.cells_df().set_index("gid")
    ours = sorted((int(cells.loc[g, "source_id"]), round(float(t), 6))
                  for g, t in zip(res.spike_gids, res.spike_times, strict=True))
    theirs = sorted((int(n), round(float(t), 6)) for sp in ref.values()
                    for n, t in zip(sp.node_ids, sp.timestamps, strict=True))
    assert len(theirs) == len(ours)
    np.testing.assert_array_equal(np.array(theirs)[:, 0], np.array(ours)[:, 0])
    np.testing.assert_allclose(np.array(theirs)[:, 1], np.array(ours)[:, 1], rtol=0, atol=1e-6)


def test_arrays_keep_complete_arrays_and_thresholds_are_checked():
    """Plain sections become arrays of one next to complete arrays; BMTK's one threshold."""
    from nethub.celltypes import CompartmentalCell, Section
    from nethub.converters.sonata_export_bio import bmtk_spike_threshold

    secs = {"soma": Section(geom={"L": 10.0, "diam": 10.0}),
            "dend[0]": Section(geom={"L": 50.0}, parent="soma"),
            "dend[1]": Section(geom={"L": 50.0}, parent="dend[0]")}
    a = CompartmentalCell(name="a", sections=secs)
    text = hoc_template("A", a, arrays=True)
    assert "create soma[1], dend[2]" in text and "connect dend[0](0.0), soma[0](1.0)" in text
    assert "create soma, dend[2]" in hoc_template("A", a)
    b = CompartmentalCell(name="b", sections=secs, threshold=-20.0,
                          spike_source=("dend[1]", 1.0))
    assert bmtk_spike_threshold({"a": a}, 10.0) == (10.0, [])
    thr, lost = bmtk_spike_threshold({"a": a, "b": b}, 10.0)
    assert thr == -20.0 and lost == [
        "cell type b: spikes detected at dend[1](1) (BMTK detects them at soma[0](0.5))",
        "cell types with different spike thresholds (a 10 mV, b -20 mV): BMTK uses one "
        "run.spike_threshold (-20 mV written)"]
