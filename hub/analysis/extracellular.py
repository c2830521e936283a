"""Stored LFP, current source density and current dipole moments of a run.

CSD is the standard second spatial derivative of the LFP along a linear electrode array
(Nicholson & Freeman 1975; what NetPyNE's ``getCSD`` computes, without its filtering):

    CSD(z) = -sigma * (phi(z + h) - 2 phi(z) + phi(z - h)) / h**2

With phi in mV, h in mm and sigma in S/m the result is in µA/mm³. The two end electrodes have
no CSD (NetPyNE pads them with copies of their neighbours' values; here they are left out).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import AnalysisError, Selection, Source, open_run

__all__ = ["lfp", "csd", "dipole", "eeg", "meg"]


def lfp(source: Source, run: int | str = -1, time_range=None, electrodes=None
        ) -> tuple[pd.DataFrame, np.ndarray]:
    """The LFP recorded in a run.

    Returns
    -------
    (pandas.DataFrame, ndarray)
        Index ``time`` (ms), one column per electrode (mV); and the electrode positions
        ``(n, 3)`` in µm.
    """
    rd = open_run(source, run)
    got = rd.lfp()
    if got is None:
        raise AnalysisError(f"{rd._where()}: no LFP recorded (set simConfig recordLFP to a "
                            "list of [x, y, z] electrode positions)")
    time, data, elec = got
    idx = np.arange(data.shape[1]) if electrodes is None else np.asarray(electrodes, int)
    lo, hi = rd._time_slice(time, Selection(time_range=time_range)) if time_range else (
        0, len(time))
    df = pd.DataFrame(data[lo:hi][:, idx], index=pd.Index(time[lo:hi], name="time"),
                      columns=pd.Index(idx, name="electrode"))
    return df, elec[idx]


def csd(source: Source, run: int | str = -1, time_range=None, sigma: float = 0.3
        ) -> pd.DataFrame:
    """Current source density along a linear, evenly spaced electrode array.

    The array's axis is the coordinate along which the electrodes vary (NetPyNE: y, depth).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (ms); columns the depth (µm) of each inner electrode; µA/mm³.
    """
    df, elec = lfp(source, run, time_range)
    if len(elec) < 3:
        raise AnalysisError(f"CSD needs at least 3 electrodes on a line, the run has "
                            f"{len(elec)}")
    spread = np.ptp(elec, axis=0)
    axis = int(np.argmax(spread))
    if np.any(np.delete(spread, axis) > 1e-6 * max(spread[axis], 1.0)):
        raise AnalysisError("CSD needs the electrodes on a line along x, y or z; "
                            f"these vary along several axes: {elec.tolist()}")
    order = np.argsort(elec[:, axis])
    depth = elec[order, axis]
    steps = np.diff(depth)
    if not np.allclose(steps, steps[0], rtol=1e-6) or steps[0] <= 0:
        raise AnalysisError(f"CSD needs evenly spaced electrodes; depths: {depth.tolist()}")
    h_mm = steps[0] / 1000.0
    phi = df.to_numpy()[:, order]
    values = -sigma * (phi[:, 2:] - 2 * phi[:, 1:-1] + phi[:, :-2]) / h_mm ** 2
    return pd.DataFrame(values, index=df.index, columns=pd.Index(depth[1:-1], name="depth"))


def dipole(source: Source, run: int | str = -1, time_range=None) -> pd.DataFrame:
    """The current dipole moment recorded in a run (``recordDipole``), in nA·µm.

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (ms); columns ``x``, ``y``, ``z``.
    """
    rd = open_run(source, run)
    got = rd.dipole()
    if got is None:
        raise AnalysisError(f"{rd._where()}: no current dipole recorded (set simConfig "
                            "recordDipole to True)")
    time, data = got
    lo, hi = rd._time_slice(time, Selection(time_range=time_range)) if time_range else (
        0, len(time))
    return pd.DataFrame(data[lo:hi], index=pd.Index(time[lo:hi], name="time"),
                        columns=["x", "y", "z"])


#: LFPykit's four-sphere defaults (brain, CSF, skull, scalp): outer radii µm, conductivities S/m
HEAD_RADII = (79000.0, 80000.0, 85000.0, 90000.0)
HEAD_SIGMAS = (0.3, 1.5, 0.015, 0.3)


def eeg(source: Source, electrodes, run: int | str = -1, dipole_location=(0.0, 0.0, 78000.0),
        radii=HEAD_RADII, sigmas=HEAD_SIGMAS, time_range=None) -> pd.DataFrame:
    """EEG from the run's recorded current dipole moment in LFPykit's four-sphere head model
    (``lfpykit.eegmegcalc.FourSphereVolumeConductor``), the network's dipole placed at
    ``dipole_location`` (µm from the head centre; default 1 mm under the brain surface).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (ms); one column per electrode; mV.
    """
    from ._lazy import require

    eegmeg = require("lfpykit.eegmegcalc", "EEG (four-sphere head model)")
    p = dipole(source, run, time_range)
    model = eegmeg.FourSphereVolumeConductor(np.asarray(electrodes, dtype=float).reshape(-1, 3),
                                              list(radii), list(sigmas))
    m = model.get_transformation_matrix(np.asarray(dipole_location, dtype=float))
    return pd.DataFrame((m @ p.to_numpy().T).T, index=p.index,
                        columns=pd.Index(range(m.shape[0]), name="electrode"))


#: default MEG sensors of ``nethub plot meg``: 10 mm from the dipole along x, y and z (µm)
MEG_SENSORS = ((1e4, 0.0, 0.0), (0.0, 1e4, 0.0), (0.0, 0.0, 1e4))
#: permeability of vacuum (T·m/A), LFPykit's default
MU0 = 4e-7 * np.pi


def meg(source: Source, sensors=MEG_SENSORS, run: int | str = -1,
        dipole_location=(0.0, 0.0, 0.0), model: str = "infinite", time_range=None
        ) -> pd.DataFrame:
    """Magnetic field (MEG) at ``sensors`` of the run's recorded current dipole moment.

    The dipole sits at ``dipole_location`` (µm). LFPykit computes the field:
    ``model="infinite"`` uses ``InfiniteHomogeneousVolCondMEG`` (the dipole's own field in an
    infinite homogeneous medium, B = µ0/(4π) p × R / |R|³, volume currents ignored);
    ``model="sphere"`` uses ``SphericallySymmetricVolCondMEG`` (Sarvas' formula: primary and
    volume currents of a spherically symmetric conductor centred at the origin; sensors
    outside it; a radial dipole gives no field).

    Returns
    -------
    pandas.DataFrame
        Index ``time`` (ms); columns a ``(sensor, component)`` MultiIndex (components
        ``x``, ``y``, ``z``); femtotesla (fT).
    """
    from ._lazy import require

    eegmeg = require("lfpykit.eegmegcalc", "MEG")
    classes = {"infinite": "InfiniteHomogeneousVolCondMEG",
               "sphere": "SphericallySymmetricVolCondMEG"}
    if model not in classes:
        raise AnalysisError(f"meg: unknown model {model!r}; valid: {sorted(classes)}")
    pos = np.asarray(sensors, dtype=float).reshape(-1, 3)
    loc = np.asarray(dipole_location, dtype=float).reshape(3)
    if model == "infinite" and np.any(np.all(np.isclose(pos, loc), axis=1)):
        raise AnalysisError(f"meg: a sensor sits on the dipole location {loc.tolist()}")
    p = dipole(source, run, time_range)
    m = getattr(eegmeg, classes[model])(pos).get_transformation_matrix(loc)  # (n, 3, 3)
    # H in nA/µm = 1e-3 A/m; B = µ0 H in T; 1 T = 1e15 fT
    b = np.einsum("nij,tj->tni", m, p.to_numpy()) * (MU0 * 1e-3 * 1e15)
    cols = pd.MultiIndex.from_product([range(len(pos)), ["x", "y", "z"]],
                                      names=["sensor", "component"])
    return pd.DataFrame(b.reshape(len(p), -1), index=p.index, columns=cols)
