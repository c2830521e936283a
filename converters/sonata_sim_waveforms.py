"""libsonata's (BBP) deterministic clamp modules as NEURON stimuli (BMTK 1.2 runs none of them).

Each becomes one stim source per input, on the soma of the node set's cells, as nethub defines
them (docs/sonata.md, "libsonata's clamp modules"):

* ``linear`` (``amp_start``, ``amp_end``): an ``IClamp`` whose ``amp`` follows the ramp from
  ``amp_start`` at ``delay`` to ``amp_end`` at ``delay + duration`` and 0 outside
  (``Vector.play(amp, tvec, 1)``, linear between the points); without ``amp_end`` (or equal to
  ``amp_start``) a plain step ``IClamp(amp, del, dur)``.
* ``relative_linear`` (``percent_start``, ``percent_end``): the same in percent of each cell's
  ``threshold_current`` node attribute (a per-target scale of the played waveform, or a
  per-target ``amp``).
* ``pulse`` (``amp_start``, ``width``, ``frequency``): pulses of ``amp_start`` nA lasting
  ``width`` ms, one every ``1000 / frequency`` ms from ``delay`` on, the last cut at ``delay +
  duration``; a step waveform (``Vector.play(amp, tvec, 0)``: each value from its time on).
* ``sinusoidal`` (``amp_start``, ``frequency``, ``dt`` default 0.025): ``amp_start *
  sin(2 pi frequency (t - delay) / 1000)`` sampled every ``dt`` from ``delay`` to ``delay +
  duration``, linear between samples (continuous play), 0 after.
* ``subthreshold`` (``percent_less``): a step of ``(100 - percent_less)`` % of each cell's
  ``threshold_current``.
* ``hyperpolarizing``: a step of each cell's ``holding_current``.
* ``seclamp`` (``voltage``, ``series_resistance`` default 0.01 MOhm): an ``SEClamp`` holding
  ``voltage`` for ``duration`` ms from t = 0 (SEClamp has no off phase before its first level,
  so ``delay`` must be 0; ``voltage_levels`` / ``duration_levels``: up to 3 levels).

* ``noise`` (``mean`` nA, ``variance`` nA^2, ``dt`` default 0.5 ms): an ``IClamp`` stepping
  every ``dt`` from ``delay`` to ``delay + duration`` through normal draws (mean, sqrt
  variance), 0 outside; the draws of each target come from its own stream, keyed by
  (``run.random_seed``, input name, population, node id) (:func:`noise_seeds`; drawn by the
  simulator, :func:`nethub.sim.engine.normal_steps`), so any rank count and deal give the same
  currents. Neurodamus draws its own (Random123) numbers: the same statistics, not the same
  values. ``mean_percent`` is refused.

The other random modules (``shot_noise``, ``relative_shot_noise``, ``absolute_shot_noise``,
``ornstein_uhlenbeck``, ``relative_ornstein_uhlenbeck``) and ``poisson`` are not carried
(reported as lost by the caller).

Converter layer: pure mapping of the config values; per-cell attributes come from the
imported cells table.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethub.errors import FormatError

__all__ = ["WAVEFORM_MODULES", "RANDOM_MODULES", "waveform_clamp", "PLAY", "bmtk_seclamp_rs"]

#: stim parameter prefix of a played waveform (nethub.sim.engine plays ``play.<var>``)
PLAY = "play."
#: libsonata clamp modules carried here
WAVEFORM_MODULES = frozenset({"linear", "relative_linear", "pulse", "sinusoidal",
                              "subthreshold", "hyperpolarizing", "seclamp", "noise"})
#: libsonata modules with random streams not carried
RANDOM_MODULES = frozenset({"shot_noise", "relative_shot_noise",
                            "absolute_shot_noise", "ornstein_uhlenbeck",
                            "relative_ornstein_uhlenbeck", "poisson"})
#: node attributes the relative modules scale by (SONATA spelling, then as imported)
_ATTRIBUTE_COLUMNS = ("sonata.{}", "sonata.@dynamics:{}", "sonata.dynamics_params.{}",
                      "params.{}")

#: a time after any run: continuous play ends on (end, 0), (_FAR, 0)
_FAR = 1e9
Clamp = tuple[str, dict[str, Any], dict[str, np.ndarray]]


def _num(inp: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = inp.get(key, default)
    if value is None:
        raise FormatError(f"{where}: '{key}' is missing")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{where}.{key}: not a number: {value!r}") from exc


def cell_attribute(cells: pd.DataFrame, gids: np.ndarray, name: str, where: str) -> np.ndarray:
    """Per gid, the node attribute ``name`` (``threshold_current``, ``holding_current``)."""
    for pattern in _ATTRIBUTE_COLUMNS:
        col = pattern.format(name)
        if col in cells:
            values = pd.Series(pd.to_numeric(cells[col], errors="coerce").to_numpy(float),
                               index=cells["gid"].to_numpy(np.int64))
            out = values.reindex(np.asarray(gids, np.int64)).to_numpy(float)
            if np.isnan(out).any():
                raise FormatError(f"{where}: {int(np.isnan(out).sum())} cells have no "
                                  f"'{name}' node attribute")
            return out
    raise FormatError(f"{where}: the cells have no '{name}' node attribute (needed by the "
                      "relative clamp modules)")


def _step(amp: float, delay: float, dur: float) -> dict[str, Any]:
    return {"amp": amp, "del": delay, "dur": dur}


def _played(times: list[float], amps: list[float], delay: float, dur: float,
            continuous: int) -> dict[str, Any]:
    if continuous:  # NEURON holds the last interpolated value: (t, 0) then (far, 0) holds 0
        times, amps = [*times, _FAR], [*amps, 0.0]
    return {"del": 0.0, "dur": 1e9, PLAY + "t": [float(t) for t in times],
            PLAY + "amp": [float(a) for a in amps], PLAY + "continuous": continuous}


def _ramp(a0: float, a1: float, delay: float, dur: float) -> dict[str, Any]:
    if a0 == a1:
        return _step(a0, delay, dur)
    end = delay + dur
    return _played([0.0, delay, delay, end, end], [0.0, 0.0, a0, a1, 0.0], delay, dur, 1)


def _pulses(amp: float, width: float, freq: float, delay: float, dur: float,
            where: str) -> dict[str, Any]:
    if freq <= 0 or width <= 0:
        raise FormatError(f"{where}: pulse 'frequency' and 'width' must be > 0")
    period, end = 1000.0 / freq, delay + dur
    onsets = delay + period * np.arange(int(np.ceil(dur / period)) if dur > 0 else 0)
    onsets = onsets[onsets < end]
    offs = np.minimum(onsets + width, end)
    times = np.ravel(np.column_stack([onsets, offs]))
    amps = np.ravel(np.column_stack([np.full(len(onsets), amp), np.zeros(len(onsets))]))
    return _played([0.0, *times], [0.0, *amps], delay, dur, 0)


def _sine(amp: float, freq: float, step: float, delay: float, dur: float,
          where: str) -> dict[str, Any]:
    if step <= 0:
        raise FormatError(f"{where}: 'dt' must be > 0")
    t = np.arange(int(np.floor(dur / step + 1e-9)) + 1) * step
    values = amp * np.sin(2.0 * np.pi * freq * t / 1000.0)
    end = delay + t[-1]
    return _played([0.0, delay, *(delay + t), end], [0.0, 0.0, *values, 0.0], delay, dur, 1)


def _seclamp(inp: Mapping[str, Any], delay: float, dur: float, where: str) -> dict[str, Any]:
    if delay != 0:
        raise FormatError(f"{where}: seclamp with 'delay' {delay}: an SEClamp clamps from "
                          "t = 0 (no off phase before its first level); set delay 0")
    levels = inp.get("voltage_levels") or [_num(inp, "voltage", where)]
    durs = inp.get("duration_levels") or [dur]
    if len(levels) != len(durs) or not 1 <= len(levels) <= 3:
        raise FormatError(f"{where}: voltage_levels / duration_levels: 1 to 3 of each, "
                          "equally many")
    params: dict[str, Any] = {"rs": _num(inp, "series_resistance", where, 0.01)}
    for k in range(3):
        params[f"dur{k + 1}"] = float(durs[k]) if k < len(durs) else 0.0
        params[f"amp{k + 1}"] = float(levels[k]) if k < len(levels) else 0.0
    return params


def noise_seeds(cells: pd.DataFrame, gids: np.ndarray, name: str, random_seed: int
                ) -> np.ndarray:
    """Per gid, the key of its ``noise`` stream: ``SeedSequence([random_seed, crc32(input
    name), crc32(population), node_id]).generate_state(1, uint64)[0] >> 11`` (< 2**53: exact
    in a float64 column); the same on any number of ranks and in any deal."""
    keys = cells.set_index("gid").loc[np.asarray(gids, np.int64),
                                      ["sonata.population", "sonata.node_id"]]
    base = [int(random_seed), zlib.crc32(name.encode())]
    return np.array([
        int(np.random.SeedSequence(base + [zlib.crc32(str(pop).encode()), int(node)])
            .generate_state(1, np.uint64)[0]) >> 11
        for pop, node in zip(keys["sonata.population"], keys["sonata.node_id"], strict=True)],
        dtype=np.float64)


def _noise(inp: Mapping[str, Any], where: str, cells: pd.DataFrame, gids: np.ndarray,
           delay: float, dur: float, name: str, random_seed: int) -> Clamp:
    if "mean" not in inp:
        raise FormatError(f"{where}: noise with 'mean_percent' is not carried (only an "
                          "absolute 'mean' in nA)")
    var = _num(inp, "variance", where)
    step = _num(inp, "dt", where, 0.5)
    if var < 0 or step <= 0:
        raise FormatError(f"{where}: noise 'variance' must be >= 0 and 'dt' > 0")
    params = {"del": 0.0, "dur": 1e9,
              PLAY + "normal": [_num(inp, "mean", where), float(np.sqrt(var)), step, delay, dur]}
    return "IClamp", params, {"param." + PLAY + "seed": noise_seeds(cells, gids, name,
                                                                     random_seed)}


def waveform_clamp(inp: Mapping[str, Any], where: str, cells: pd.DataFrame,
                   gids: np.ndarray, name: str = "", random_seed: int = 0) -> Clamp:
    """``(model, params, per_target)`` of a libsonata clamp module (see the module
    docstring); ``per_target``: ``param.<name>`` -> one value per gid (relative modules,
    noise seeds); ``name`` and ``random_seed`` (``run.random_seed``) key the noise streams."""
    module = inp.get("module")
    delay, dur = _num(inp, "delay", where, 0.0), _num(inp, "duration", where)
    if module == "noise":
        return _noise(inp, where, cells, gids, delay, dur, name, random_seed)
    if module == "seclamp":
        return "SEClamp", _seclamp(inp, delay, dur, where), {}
    if module == "linear":
        a0 = _num(inp, "amp_start", where)
        return "IClamp", _ramp(a0, _num(inp, "amp_end", where, a0), delay, dur), {}
    if module == "pulse":
        return "IClamp", _pulses(_num(inp, "amp_start", where), _num(inp, "width", where),
                                 _num(inp, "frequency", where), delay, dur, where), {}
    if module == "sinusoidal":
        return "IClamp", _sine(_num(inp, "amp_start", where), _num(inp, "frequency", where),
                               _num(inp, "dt", where, 0.025), delay, dur, where), {}
    if module == "hyperpolarizing":
        amps = cell_attribute(cells, gids, "holding_current", where)
        return "IClamp", _step(0.0, delay, dur), {"param.amp": amps}
    threshold = cell_attribute(cells, gids, "threshold_current", where)
    if module == "subthreshold":
        frac = (100.0 - _num(inp, "percent_less", where)) / 100.0
        return "IClamp", _step(0.0, delay, dur), {"param.amp": frac * threshold}
    if module == "relative_linear":
        p0 = _num(inp, "percent_start", where)
        p1 = _num(inp, "percent_end", where, p0)
        if p0 == p1:
            return "IClamp", _step(0.0, delay, dur), {"param.amp": p0 / 100.0 * threshold}
        return "IClamp", _ramp(p0 / 100.0, p1 / 100.0, delay, dur), {
            "param." + PLAY + "scale": threshold}
    raise FormatError(f"{where}: module {module!r} is not a clamp module nethub carries")


#: BMTK's SEClamp series resistance outside its window (MOhm): the clamp is off
BMTK_RS_OFF = 10.0e20
#: NEURON's SEClamp default ``rs`` (MOhm): what BMTK's clamp has in the first step
SECLAMP_DEFAULT_RS = 1.0


def bmtk_seclamp_rs(delay: float, dur: float, rs: float, dt: float, tstop: float
                    ) -> dict[str, Any]:
    """BMTK 1.2's ``SEClamp`` module switches the clamp's ``rs`` after every step: after step
    ``k`` (``post_fadvance``, ``tstep = k``) to ``rs`` when ``delay <= dt * k <= delay +
    duration`` (BMTK's float products) and to ``10e20`` otherwise; before the first step it
    has NEURON's default 1 MOhm. The same as a step waveform played into ``SEClamp.rs``:
    value ``rs(k)`` from ``t = (k + 1) dt`` on (only the changes are kept)."""
    steps = np.arange(int(round(tstop / dt)) + 1)
    on = (delay <= dt * steps) & (dt * steps <= delay + dur)
    values = np.concatenate(([SECLAMP_DEFAULT_RS], np.where(on, rs, BMTK_RS_OFF)))
    times = np.concatenate(([0.0], (steps + 1) * dt))
    keep = np.concatenate(([True], values[1:] != values[:-1]))
    return {PLAY + "t": times[keep].tolist(), PLAY + "rs": values[keep].tolist(),
            PLAY + "continuous": 0}
