"""A small OMV checker (test helper): an ``.omt`` test's observables read from the files a run
wrote, compared with its ``.mep`` expectations as OSB Model Validation compares them.

Written for nethub (not OMV's code) after OMV's documented behaviour: a column pair of a data
file scaled by ``scaling``; spikes at the sample after an upward crossing of ``threshold``
(``v[i] <= thr < v[i+1]`` gives ``t[i+1]``) or, with ``method: derivative``, at local maxima
(``dv[i] >= 0 > dv[i+1]`` gives ``t[i+1]``), or the times of one id of a ``spiketimes file``;
a ``spike rate`` is 1 / the mean inter-spike interval; the observed and expected lists must have
the same length and agree within ``numpy.allclose(observed, expected, rtol=tolerance)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml


@dataclass
class Outcome:
    experiment: str
    observed: list[float]
    expected: list[float]
    tolerance: float
    passed: bool


def detect_spikes(t: np.ndarray, v: np.ndarray, method: str = "threshold",
                  threshold: float = 0.0) -> np.ndarray:
    if method == "threshold":
        idx = 1 + np.flatnonzero((v[:-1] <= threshold) & (v[1:] > threshold))
    elif method == "derivative":
        dv = np.diff(v)
        idx = 1 + np.flatnonzero((dv[:-1] >= 0) & (dv[1:] < 0))
    else:
        raise ValueError(f"spike detection method {method!r} not implemented")
    return t[idx]


def _observed(obs: dict, root: Path) -> np.ndarray:
    """Spike times of an observable: from a data file's column pair (spike detection), or
    from a ``spiketimes file`` (``ID_TIME`` / ``TIME_ID`` rows, the times of one ``id``)."""
    if "spiketimes file" in obs:
        f = obs["spiketimes file"]
        data = np.loadtxt(root / f["path"], ndmin=2)
        ids, times = (data[:, 0], data[:, 1]) if f.get("format", "ID_TIME") == "ID_TIME" \
            else (data[:, 1], data[:, 0])
        return np.sort(times[ids == int(f.get("id", 0))])
    f = obs["file"]
    cols = f.get("columns", [0, 1])
    scaling = np.asarray(f.get("scaling", [1, 1]), dtype=float)
    data = np.loadtxt(root / f["path"], usecols=cols, ndmin=2) * scaling
    sd = obs.get("spike detection", {})
    return detect_spikes(data[:, 0], data[:, 1], sd.get("method", "threshold"),
                         float(sd.get("threshold", 0)))


def check_omt(omt: Path) -> list[Outcome]:
    """Check every 'spike times' experiment of ``omt`` against its ``.mep``; the data files are
    resolved relative to the ``.omt`` file, as OMV does."""
    test = yaml.safe_load(omt.read_text())
    mep = yaml.safe_load((omt.parent / test["mep"]).read_text())
    out = []
    for name, exp in test["experiments"].items():
        kind = "spike rate" if "spike rate" in exp["observables"] else "spike times"
        obs_spec = exp["observables"][kind]
        tol = float(obs_spec.get("tolerance", 0.1))
        expected = mep["experiments"][name]["expected"][kind]
        observed = _observed(obs_spec, omt.parent)
        if kind == "spike rate":  # OMV: 1 / the mean inter-spike interval
            observed = np.array([1.0 / np.mean(np.diff(observed))] if len(observed) > 1
                                else [0.0])
            expected = [expected]
        expected = [float(x) for x in expected]
        ok = len(observed) == len(expected) and bool(
            np.allclose(observed, expected, rtol=tol))
        out.append(Outcome(name, observed.tolist(), expected, tol, ok))
    return out
