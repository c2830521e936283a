"""3-D shapes coloured by a simulated variable: recorded traces (recordTraces) and each
section's transmembrane current (saveIMembrane), from a real NEURON run."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
import nethub.analysis as na
from nethub.analysis.data import open_run
from nethub.analysis.morphology import cell_segments, section_values
from nethub.analysis.plots import plot_shape, save_figure
from nethub.runner import simulate

AMP = 0.3


@pytest.fixture(scope="module")
def ball_and_stick_run(tmp_path_factory):
    """Two ball-and-stick cells (soma 1 segment, dend 3), an IClamp of AMP nA on the soma
    from 10 to 30 ms; v recorded in soma and dend; every segment's i_membrane_ saved."""
    tmp = tmp_path_factory.mktemp("shape")
    soma = {"geom": {"L": 20, "diam": 20, "nseg": 1}, "mechs": {"hh": {}}}
    dend = {"geom": {"L": 200, "diam": 2, "nseg": 3},
            "topol": {"parentSec": "soma", "parentX": 1.0, "childX": 0.0},
            "mechs": {"pas": {"g": 1e-4, "e": -65}}}
    net = {"cellParams": {"BS": {"secs": {"soma": soma, "dend": dend}}},
           "popParams": {"P": {"cellType": "BS", "numCells": 2}},
           "stimSourceParams": {"ic": {"type": "IClamp", "del": 10, "dur": 20, "amp": AMP}},
           "stimTargetParams": {"t": {"source": "ic", "conds": {"pop": "P"}, "sec": "soma",
                                      "loc": 0.5}}}
    cfg = {"duration": 40, "recordStep": 0.5, "saveIMembrane": True,
           "recordTraces": {"Vs": {"sec": "soma", "loc": 0.5, "var": "v"},
                            "Vd": {"sec": "dend", "loc": 0.9, "var": "v"}},
           "recordCells": "all"}
    store = tmp / "bs.h5"
    nethub.save(nethub.build(net, cfg), store)
    simulate(store, cfg, output=tmp / "out.h5")
    return tmp / "out.h5"


def test_imembrane_per_section_sums_to_the_injected_current(ball_and_stick_run, tmp_path):
    rd = open_run(ball_and_stick_run)
    from nethub.analysis.data import cell_types

    cells = rd.cells(["cell_type"])
    during = section_values(rd, cell_types(rd), cells, "imembrane", at=20.0)
    assert sorted(during) == [(0, "dend"), (0, "soma"), (1, "dend"), (1, "soma")]
    for gid in (0, 1):  # Kirchhoff: all membrane current of a cell is the electrode's
        assert during[(gid, "soma")] + during[(gid, "dend")] == pytest.approx(AMP, rel=1e-6)
        assert during[(gid, "dend")] > 0  # the dendrite is charged through the soma
    before = section_values(rd, cell_types(rd), cells, "imembrane", at=5.0)
    for gid in (0, 1):  # no electrode current: soma and dend currents cancel
        assert abs(before[(gid, "soma")] + before[(gid, "dend")]) < 1e-9
    # time mean over a window: the mean of the samples inside it
    win = section_values(rd, cell_types(rd), cells, "imembrane", time_range=(10.0, 30.0))
    assert win[(0, "soma")] + win[(0, "dend")] == pytest.approx(AMP, rel=0.05)
    # drawn: one value per drawn piece (soma and dend sticks of one piece each)
    segs, vals, _ = cell_segments(rd, gids=[0], color_by="imembrane", at=20.0)
    assert vals.tolist() == pytest.approx([during[(0, "soma")], during[(0, "dend")]])
    out = tmp_path / "im.png"
    save_figure(plot_shape(ball_and_stick_run, color_by="imembrane", at=20.0), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trace_variable_per_section_at_a_time_and_averaged(ball_and_stick_run, tmp_path):
    rd = open_run(ball_and_stick_run)
    tr = na.traces(ball_and_stick_run)
    idx = rd.trace_index()
    segs, vals, _ = cell_segments(rd, gids=[1], color_by="trace:v", at=25.0)
    row_s = int(np.flatnonzero((idx["gid"] == 1) & (idx["sec"].astype(str) == "soma"))[0])
    row_d = int(np.flatnonzero((idx["gid"] == 1) & (idx["sec"].astype(str) == "dend"))[0])
    time, data = rd.traces(np.array([row_s, row_d]))
    k = int(np.searchsorted(time, 25.0, side="right")) - 1
    assert vals.tolist() == [data[0, k], data[1, k]]
    assert vals[0] > vals[1] > -65.5  # depolarised soma, dendrite less so
    _, mean, _ = cell_segments(rd, gids=[1], color_by="trace:v")
    np.testing.assert_allclose(mean, data.mean(axis=1), rtol=1e-12)
    assert tr.shape[1] >= 4  # the traces table has them too
    # a variable not recorded: sections left grey (NaN), still drawn
    _, none, _ = cell_segments(rd, gids=[1], color_by="trace:cai")
    assert np.isnan(none).all()
    save_figure(plot_shape(ball_and_stick_run, color_by="trace:v", time_range=(10, 30)),
                tmp_path / "v.svg")
    with pytest.raises(na.AnalysisError, match="outside the recorded"):
        cell_segments(rd, gids=[1], color_by="trace:v", at=500.0)


def test_cli_shape_coloured_by_a_recorded_variable(ball_and_stick_run, tmp_path):
    from nethub.cli import main

    out = tmp_path / "shape.png"
    assert main(["plot", "shape", str(ball_and_stick_run), "-o", str(out), "--color-by",
                 "trace:v", "--at", "20"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", "shape", str(ball_and_stick_run), "-o", str(out), "--color-by",
                 "imembrane", "--time", "10", "30"]) == 0
