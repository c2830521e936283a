"""Every ``nethub plot`` kind renders headless to PNG/SVG/PDF; LFP, CSD and dipole data."""

from __future__ import annotations

import numpy as np
import pytest

import nethub.analysis as na
from nethub.analysis.cli import PLOT_KINDS
from nethub.analysis.extracellular import csd, dipole, lfp
from nethub.analysis.plots import KINDS, plot_raster, save_figure
from nethub.celltypes import CompartmentalCell, PointCell, Population, Section, SynMech
from nethub.cli import main
from nethub.network import Network

from .conftest import make_network, make_results, make_traces


def _full_network() -> Network:
    pyr = CompartmentalCell("PYR", sections={
        "soma": Section(geom={"L": 20, "diam": 20}, mechs={"hh": {"gnabar": 0.12}}),
        "dend": Section(geom={"L": 200, "diam": 2}, parent="soma", parent_x=1.0,
                        mechs={"pas": {"g": 1e-4}}),
        "axon": Section(pt3d=np.array([[0, 0, 0, 1], [0, -50, 0, 1], [10, -80, 0, 1]]),
                        parent="soma", parent_x=0.0)})
    gids = list(range(12))
    pops = ["E"] * 8 + ["I"] * 4
    rng = np.random.default_rng(1)
    return Network(
        cell_types={"PYR": pyr, "bask": PointCell("bask", model="IntFire1")},
        syn_mechs={"syn": SynMech("syn", "ExpSyn", {})},
        populations={"E": Population("E", "PYR", 8), "I": Population("I", "bask", 4)},
        cells={"gid": gids, "pop": pops, "cell_type": ["PYR"] * 8 + ["bask"] * 4,
               "x": rng.uniform(0, 100, 12), "y": rng.uniform(0, 100, 12), "z": np.zeros(12)},
        connections={"pre_gid": [0, 1, 8, 9, 3], "post_gid": [8, 9, 0, 1, 4],
                     "syn_mech": ["syn"] * 5, "weight": [1.0, 2.0, 0.5, 0.5, 1.0],
                     "post_sec": [None, None, "dend", "dend", "soma"]})


@pytest.fixture
def full_store(store_of):
    rng = np.random.default_rng(2)
    dur = 1000.0
    k = rng.poisson(20, 12)
    t = rng.uniform(0, dur, k.sum())
    g = np.repeat(np.arange(12), k)
    time = np.arange(0, dur, 1.0)
    tr = make_traces([("V_soma", 0), ("V_soma", 1)], time,
                     np.vstack([np.sin(time / 10), np.cos(time / 10)]))
    res = make_results(t, g, dur, tr, recordStep=1.0)
    # LFP on 5 electrodes along y (depth), 100 um apart: phi = a y^2 + sin(t)
    elec = np.c_[np.zeros(5), np.arange(5) * 100.0, np.zeros(5)]
    res.lfp = 1e-6 * elec[None, :, 1] ** 2 + np.sin(time / 20)[:, None] * 0.01
    res.lfp_time = time
    res.electrodes = elec
    return store_of(_full_network(), res)


@pytest.mark.parametrize("kind", PLOT_KINDS)
def test_every_kind_renders(full_store, tmp_path, kind):
    if kind in ("dipole", "meg"):  # the synthetic run has no dipole: a clear one-line error
        assert main(["plot", kind, str(full_store), "-o", str(tmp_path / "d.png")]) == 1
        return
    out = tmp_path / f"{kind}.png"
    assert main(["plot", kind, str(full_store), "-o", str(out), "--pops", "E", "I"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kinds_table_matches_cli_choices():
    assert set(KINDS) == set(PLOT_KINDS)


def test_svg_pdf_time_window_and_bad_suffix(full_store, tmp_path):
    for suffix, magic in ((".svg", b"<?xml"), (".pdf", b"%PDF")):
        out = tmp_path / f"r{suffix}"
        assert main(["plot", "raster", str(full_store), "-o", str(out), "--time", "100",
                     "400"]) == 0
        assert out.read_bytes()[:5].startswith(magic)
    fig = plot_raster(full_store, order_by="y")
    with pytest.raises(ValueError, match=r"valid: \.png, \.svg, \.pdf"):
        save_figure(fig, tmp_path / "x.bmp")


def test_lfp_read_back_and_csd_of_a_quadratic_profile(full_store):
    df, elec = lfp(full_store, time_range=(100, 200))
    assert df.shape == (100, 5) and elec.shape == (5, 3)
    c = csd(full_store, sigma=0.3)
    # phi = 1e-6 y^2 mV (y in um) = 1 y_mm^2: d2phi/dy2 = 2 mV/mm^2 -> CSD = -0.6 uA/mm^3
    assert list(c.columns) == [100.0, 200.0, 300.0]
    assert np.allclose(c.to_numpy(), -0.6, atol=1e-9)
    with pytest.raises(na.AnalysisError, match="no current dipole"):
        dipole(full_store)


def test_raster_of_a_million_spikes_takes_seconds(store_of, tmp_path):
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    net = make_network({"A": 5000, "B": 5000})
    path = store_of(net, make_results(rng.uniform(0, 1000, n), rng.integers(0, 10_000, n),
                                      1000.0))
    t0 = time.perf_counter()
    save_figure(plot_raster(path), tmp_path / "big.png")
    assert time.perf_counter() - t0 < 10.0


def test_netpyne_analysis_keys_are_mapped_or_refused(full_store, tmp_path):
    import inspect

    # every analysis function NetPyNE 1.1 exposes (netpyne.plotting + netpyne.analysis
    # public plot*/iplot*/granger/nTE names) is either mapped or refused
    import netpyne.analysis as nan
    import netpyne.plotting as npl

    from nethub.analysis.netpyne_keys import (
        MAPPED,
        REFUSED,
        plan_analysis,
        run_netpyne_analysis,
    )

    names = {n for mod in (nan, npl) for n in dir(mod) if inspect.isfunction(getattr(mod, n))
             and ((n.startswith(("plot", "iplot")) and n != "plotData") or n in ("granger",
                                                                                   "nTE"))}
    assert {"plotRaster", "plotLFP", "granger", "nTE", "plotDipole"} <= names
    assert names - set(MAPPED) - set(REFUSED) == set()
    cfg = {"plotRaster": {"include": ["E"], "orderBy": "y", "saveFig": str(tmp_path / "r.png")},
           "plotSpikeHist": {"binSize": 10, "timeRange": [0, 500]},
           "plotTraces": {"include": [0, 1], "saveFig": str(tmp_path / "tr.svg")},
           "plotConn": {"feature": "probability", "groupBy": "pop"},
           "plotLFP": {"plots": ["timeSeries", "PSD", "locations"]},
           "plotRatePSD": True, "plotSyncs": True, "plotCSD": True, "plot2Dnet": True,
           "plotEEG": True, "plotfI": {"amps": [0.1]}, "plotShape": False}
    files, refused = run_netpyne_analysis(full_store, cfg, filename="out/model")
    assert tmp_path / "r.png" in files and tmp_path / "tr.svg" in files
    assert full_store.parent / "model_spikeHist.png" in files
    assert full_store.parent / "model_LFPPSD.png" in files
    assert len(files) == 11 and all(f.stat().st_size > 1000 for f in files)
    assert set(refused) == {"plotEEG", "plotfI"} and "fi_curve" in refused["plotfI"]
    with pytest.raises(na.AnalysisError, match=r"\['plotRastr'\]: unknown analysis.*plotRaster"):
        plan_analysis({"plotRastr": True})
    with pytest.raises(na.AnalysisError, match=r"\['plots'\]: unknown \['CSD'\]"):
        plan_analysis({"plotLFP": {"plots": ["CSD"]}})


def test_eeg_of_a_radial_dipole_at_the_centre_of_a_homogeneous_head(store_of):
    """All four shells of one conductivity: an insulated sphere of radius R. A radial dipole p
    at its centre gives 3 p cos(theta) / (4 pi sigma R^2) on the surface (three times the
    infinite-medium value)."""
    time = np.arange(1.0, 11.0)
    res = make_results([], [], 10.0)
    res.lfp, res.lfp_time, res.electrodes = np.zeros((10, 0)), time, np.zeros((0, 3))
    res.lfp_extra = {"dipole": np.c_[np.zeros(10), np.zeros(10), 1e4 * time]}  # nA um
    path = store_of(make_network({"A": 1}), res)
    R, sigma = 90000.0, 0.3
    theta = np.array([0.0, 0.5, 1.0])
    r_el = R * (1 - 1e-9)  # on the scalp (LFPykit refuses points a rounding error outside)
    elec = np.c_[r_el * np.sin(theta), np.zeros(3), r_el * np.cos(theta)]
    v = na.eeg(path, elec, dipole_location=(0.0, 0.0, 10.0), radii=(70000.0, 80000.0, 85000.0, R),
               sigmas=(sigma,) * 4)
    p = 1e4 * time[:, None]
    # units: nA um / (S/m um^2) = 1e-9 A / (S/m 1e-6 m) = 1e-3 V: the result is in mV
    want = 3 * p * np.cos(theta)[None, :] / (4 * np.pi * sigma * R ** 2)
    np.testing.assert_allclose(v.to_numpy(), want, rtol=2e-3)


def test_shapes_coloured_by_a_variable(full_store, tmp_path):
    from nethub.analysis.data import open_run
    from nethub.analysis.morphology import cell_segments
    from nethub.analysis.plots import plot_shape

    rd = open_run(full_store)
    segs, vals, pops = cell_segments(rd, pops=["E"], gids=[0, 1], color_by="diam")
    # soma (1 segment), dend (stick of 1), axon (3 points: 2 segments) per cell
    assert segs.shape == (8, 2, 3) and set(pops) == {"E"}
    assert sorted(set(vals[~np.isnan(vals)].tolist())) == [2.0, 20.0]  # axon: no diam
    _, gbar, _ = cell_segments(rd, gids=[0], color_by="hh.gnabar")
    assert gbar[0] == 0.12 and np.isnan(gbar[1])
    # gids 0 and 1 receive one connection each on dend, gid 4 one on soma
    segs, n, _ = cell_segments(rd, gids=[0, 1, 4], color_by="numSyns")
    assert n.tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    save_figure(plot_shape(full_store, color_by="diam"), tmp_path / "s.png")
