"""MEG from the recorded current dipole moment (LFPykit), against Biot–Savart and Sarvas."""

from __future__ import annotations

import numpy as np
import pytest

import nethub.analysis as na
from nethub.cli import main

from .conftest import make_network, make_results

MU0 = 4e-7 * np.pi


@pytest.fixture
def dipole_store(store_of):
    """A run whose only recording is a current dipole p(t) (nA·µm) that turns in time."""
    time = np.arange(0.0, 20.0, 0.5)
    p = np.c_[1e4 * np.sin(time / 3), 2e4 * np.cos(time / 5), 5e3 * (1 + time)]
    res = make_results([], [], 20.0)
    res.lfp, res.lfp_time, res.electrodes = np.zeros((len(time), 0)), time, np.zeros((0, 3))
    res.lfp_extra = {"dipole": p}
    return store_of(make_network({"A": 1}), res), time, p


def test_meg_is_the_biot_savart_field_of_the_dipole(dipole_store):
    """B = µ0/(4π) p × R / |R|³ (R from the dipole to the sensor), in fT."""
    path, time, p = dipole_store
    loc = np.array([100.0, -50.0, 20.0])
    sensors = np.array([[1e4, 0, 0], [0, 2e4, 5e3], [-3e3, 4e3, 1.2e4]])
    b = na.meg(path, sensors, dipole_location=loc)
    assert b.shape == (len(time), 9) and list(b.index) == list(time)
    for k, r in enumerate(sensors):
        R = (r - loc) * 1e-6  # m
        p_si = p * 1e-9 * 1e-6  # A·m
        want = MU0 / (4 * np.pi) * np.cross(p_si, R) / np.linalg.norm(R) ** 3 * 1e15  # fT
        np.testing.assert_allclose(b[k].to_numpy(), want, rtol=1e-12, atol=0)
    # a dipole's field falls as 1/r² along a fixed direction
    far = na.meg(path, [[0, 0, 2e4]], dipole_location=(0, 0, 0))
    near = na.meg(path, [[0, 0, 1e4]], dipole_location=(0, 0, 0))
    np.testing.assert_allclose(near.to_numpy(), 4 * far.to_numpy(), rtol=1e-12)
    assert np.all(near[(0, "z")] == 0)  # p × z-axis has no z component


def test_meg_sphere_model_time_window_and_errors(dipole_store):
    """The sphere model differs from the infinite medium (volume currents); time window;
    clear errors for an unknown model and a sensor on the dipole."""
    path, time, _ = dipole_store
    sensors = [[0.0, 0.0, 1.1e5], [3e4, 0.0, 1.05e5]]
    full = na.meg(path, sensors, dipole_location=(0, 0, 7e4), model="sphere",
                  time_range=(2.0, 8.0))
    assert full.index[0] >= 2.0 and full.index[-1] < 8.0
    b_inf = na.meg(path, sensors, dipole_location=(0, 0, 7e4), time_range=(2.0, 8.0))
    assert not np.allclose(full.to_numpy(), b_inf.to_numpy())  # volume currents matter
    assert np.isfinite(full.to_numpy()).all()
    with pytest.raises(na.AnalysisError, match="unknown model 'flat'"):
        na.meg(path, sensors, model="flat")
    with pytest.raises(na.AnalysisError, match="sensor sits on the dipole"):
        na.meg(path, [[0, 0, 0]])


def test_meg_sphere_radial_only(store_of):
    """Sarvas: in a spherically symmetric conductor a radial dipole makes no field outside."""
    time = np.arange(0.0, 5.0, 1.0)
    res = make_results([], [], 5.0)
    res.lfp, res.lfp_time, res.electrodes = np.zeros((5, 0)), time, np.zeros((0, 3))
    res.lfp_extra = {"dipole": np.c_[np.zeros(5), np.zeros(5), 1e4 * (1 + time)]}
    path = store_of(make_network({"A": 1}), res)
    b = na.meg(path, [[2e4, 1e4, 1.1e5], [0, -5e4, 1e5]], dipole_location=(0, 0, 7e4),
               model="sphere")
    assert np.abs(b.to_numpy()).max() < 1e-9 * np.abs(
        na.meg(path, [[2e4, 1e4, 1.1e5]], dipole_location=(0, 0, 7e4)).to_numpy()).max()


def test_plot_meg_cli(dipole_store, tmp_path):
    path = dipole_store[0]
    out = tmp_path / "meg.png"
    assert main(["plot", "meg", str(path), "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = tmp_path / "meg.svg"
    assert main(["plot", "meg", str(path), "-o", str(out2), "--sensor", "0", "0", "5000",
                 "--sensor", "5000", "0", "0"]) == 0
    assert b"sensor 1" in out2.read_bytes()
