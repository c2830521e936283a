"""A small OMV checker (test helper): an ``.omt`` test's observables read from the files a run
wrote, compared with its ``.mep`` expectations as OSB Model Validation compares them.

Written for nethub (not OMV's code) after OMV's documented behaviour: a column pair of a data
file scaled by ``scaling``; spikes at the sample after an upward crossing of ``threshold``
(``v[i] <= thr < v[i+1]`` gives ``t[i+1]``) or, with ``method: derivative``, at local maxima
(``dv[i] >= 0 > dv[i+1]`` gives ``t[i+1]``); the observed and expected lists must have the
same length and agree within ``numpy.allclose(observed, expected, rtol=tolerance)``.
A ``spiketimes file`` (``ID_TIME`` / ``TIME_ID`` rows, ``ids``: one cell id or ``"*"``, times
times ``scaling``) gives the spikes directly (``spike times`` needs exactly one cell in it);
``spike rate`` is OMV's ISI-based rate: per cell ``number of ISIs / their sum`` (0 for fewer
than two spikes), averaged over the cells selected, in the file's time unit (s: Hz).
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


def spike_file(path: Path, fmt: str = "ID_TIME", ids: object = 0, scaling: float = 1.0
               ) -> dict[float, np.ndarray]:
    """The spikes of a spike times file by cell id (``ids``: one id or ``"*"``)."""
    data = np.loadtxt(path, ndmin=2)
    if data.size == 0:
        return {}
    tcol, icol = (1, 0) if fmt == "ID_TIME" else (0, 1)
    t, cell = data[:, tcol] * scaling, data[:, icol]
    keep = np.ones(len(t), bool) if ids == "*" else cell == float(ids)
    return {c: t[keep & (cell == c)] for c in dict.fromkeys(cell[keep].tolist())}


def isi_rate(spikes: dict[float, np.ndarray]) -> float:
    """OMV's ISI-based spike rate averaged over the cells of ``spikes``."""
    rates = [(len(s) - 1) / float(np.sum(np.diff(s))) if len(s) > 1 else 0.0
             for s in spikes.values()]
    return float(np.mean(rates)) if rates else 0.0


def _spikes(obs: dict, root: Path) -> dict[float, np.ndarray]:
    if "spiketimes file" in obs:
        f = obs["spiketimes file"]
        return spike_file(root / f["path"], f.get("format", "ID_TIME"), f.get("ids", 0),
                          float(f.get("scaling", 1)))
    return {0.0: _from_trace(obs, root)}


def _from_trace(obs: dict, root: Path) -> np.ndarray:
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
        kind, obs = next(iter(exp["observables"].items()))
        if kind not in ("spike times", "spike rate"):
            raise ValueError(f"{omt}: observable {kind!r} not implemented")
        tol = float(obs.get("tolerance", 0.1))
        spikes = _spikes(obs, omt.parent)
        want = mep["experiments"][name]["expected"][kind]
        if kind == "spike rate":
            observed, expected = [isi_rate(spikes)], [float(want)]
        else:
            observed = next(iter(spikes.values())).tolist() if len(spikes) == 1 else []
            expected = [float(x) for x in want]
        ok = len(observed) == len(expected) and bool(
            np.allclose(observed, expected, rtol=tol))
        out.append(Outcome(name, observed, expected, tol, ok))
    return out
