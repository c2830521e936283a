"""Current-clamp waveforms read from files, as BMTK 1.2 reads and plays them.

BMTK's ``IClamp`` module takes, besides ``input_type: current_clamp`` (amp/delay/duration
values), ``input_type`` ``csv`` / ``file`` (a CSV of ``timestamps`` and ``amps``) and ``nwb`` /
``allen`` (a stimulus sweep of an Allen Cell Types NWB file). For those, bionet makes one
``IClamp`` per cell with ``delay`` and ``dur`` and plays the amplitudes into ``IClamp.amp``
with ``Vector.play(clamp._ref_amp, idt)``: value ``i`` from ``t = i * idt`` on (from t = 0,
whatever ``delay`` is). :func:`read_clamp_waveform` computes ``amps``, ``idt``, ``delay`` and
``dur`` exactly as BMTK's ``CSVAmpReaderNRN`` / ``NWBReaderNRN`` do (quirks included, see
docs/sonata.md); the simulator replays them with the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError

__all__ = ["ClampWaveform", "read_clamp_waveform", "FILE_CLAMP_TYPES"]

#: BMTK 1.2 ``IClamp`` input types whose amplitudes come from a file
FILE_CLAMP_TYPES = {"csv": "csv", "file": "csv", "nwb": "nwb", "allen": "nwb"}


@dataclass(frozen=True)
class ClampWaveform:
    """An IClamp with a played amplitude: ``amps`` (nA) played every ``dt`` ms from t = 0
    into ``IClamp.amp``; the clamp injects from ``delay`` for ``dur`` ms.

    ``notes``: what BMTK warns about or does differently from what the file says."""

    amps: np.ndarray
    dt: float
    delay: float
    dur: float
    notes: tuple[str, ...] = ()


def read_clamp_waveform(inp: Mapping[str, Any], where: str) -> ClampWaveform:
    """The waveform of a file current clamp (``inp``: the input's properties, paths resolved;
    ``where``: ``"<config>: inputs.<name>"`` for errors)."""
    kind = FILE_CLAMP_TYPES.get(str(inp.get("input_type")))
    if kind is None:
        raise FormatError(f"{where}: input_type {inp.get('input_type')!r} is not a file clamp")
    if not inp.get("file"):
        raise FormatError(f"{where}: '{inp.get('input_type')}' current clamp needs 'file'")
    path = Path(str(inp["file"]))
    if not path.is_file():
        raise FormatError(f"{where}.file: {path} does not exist")
    return _csv(path, inp, where) if kind == "csv" else _nwb(path, inp, where)


def _csv(path: Path, inp: Mapping[str, Any], where: str) -> ClampWaveform:
    """BMTK's ``CSVAmpReader`` + ``CSVAmpReaderNRN``."""
    ts_col = inp.get("timestamps_column", "timestamps")
    amp_col = inp.get("amplitudes_column", "amps")
    try:
        df = pd.read_csv(path, sep=inp.get("separator", " "))
    except (ValueError, pd.errors.ParserError) as exc:
        raise FormatError(f"{where}: {path}: not a readable CSV ({exc})") from exc
    for col, opt in ((ts_col, "timestamps_column"), (amp_col, "amplitudes_column")):
        if col not in df.columns:
            raise FormatError(f"{where}: {path} has no column {col!r} (columns "
                              f"{list(df.columns)}; option {opt!r})")
    if len(df) < 2:
        raise FormatError(f"{where}: {path} needs two or more rows")
    amps = df[amp_col].to_numpy(np.float64)
    times = df[ts_col].to_numpy(np.float64)
    notes = []
    steps = np.unique(np.diff(times))
    if len(steps) > 1:
        notes.append(f"{path.name}: timestamps not evenly spaced; played every {steps[0]} ms "
                     "(the smallest interval), as BMTK plays them")
    idt, start = float(steps[0]), float(times[0])
    if idt <= 0:
        raise FormatError(f"{where}: {path}: timestamps must increase")
    if start < 0:
        raise FormatError(f"{where}: {path}: the first timestamp {start} is negative")
    if start > 0:
        if start - idt == 0.0:
            amps, times = np.concatenate(([0.0], amps)), np.concatenate(([0.0], times))
        else:
            # BMTK 1.2 means this (np.repeat by a float count raises there): the waveform on a
            # grid of gcd(int(idt), int(start)) ms, zero before the first timestamp
            gcd = int(np.gcd(int(idt), int(start)))
            if gcd <= 0:
                raise FormatError(f"{where}: {path}: first timestamp {start} and interval "
                                  f"{idt} have no common whole-ms step")
            amps = np.concatenate((np.zeros(int(start / gcd)),
                                   np.repeat(amps, int(idt) // gcd)))
            times = np.concatenate(([0.0], times))
            notes.append(f"{path.name}: onset {start} ms is not a multiple of {idt} ms: "
                         f"played on a {gcd} ms grid (BMTK 1.2 raises here)")
            idt = float(gcd)
    if amps[-1] != 0:
        stop = float(times[-1] + idt)
        notes.append(f"{path.name}: the last amplitude is not 0; the clamp stops at {stop} ms "
                     "as BMTK stops it")
    else:
        stop = float(times[-1])
    return ClampWaveform(amps, idt, 0.0, stop, tuple(notes))


def _nwb(path: Path, inp: Mapping[str, Any], where: str) -> ClampWaveform:
    """BMTK's ``NWBReader`` + ``NWBReaderNRN`` (an Allen Cell Types NWB 1 file:
    ``/epochs/Sweep_<id>/stimulus/timeseries/{data (A), starting_time@rate (Hz)}``)."""
    if "sweep_id" not in inp:
        raise FormatError(f"{where}: an NWB current clamp needs 'sweep_id'")
    sweep = inp["sweep_id"]
    try:
        sweep = f"Sweep_{int(sweep)}"
    except (TypeError, ValueError):
        sweep = str(sweep)
    offset = float(inp.get("delay", 0.0))
    try:
        with h5py.File(path, "r") as f:
            if "epochs" not in f or sweep not in f["epochs"]:
                raise FormatError(f"{where}: {path} has no sweep /epochs/{sweep}")
            grp = f[f"epochs/{sweep}/stimulus/timeseries"]
            idt = 1000.0 / float(grp["starting_time"].attrs["rate"])
            amps = grp["data"][()] * 1.0e9
    except (OSError, KeyError) as exc:
        raise FormatError(f"{where}: {path}: not an Allen sweep NWB file ({exc})") from exc
    amps = np.asarray(amps, np.float64).ravel()
    times = np.arange(len(amps)) * idt
    down = inp.get("downsample")
    if down is not None and down > idt:
        stride = int(np.round(down / idt))
        amps, times, idt = amps[::stride], times[::stride], float(down)
    window = inp.get("sweep_window")
    if window is not None:
        if len(window) != 2 or not 0 <= window[0] < window[1]:
            raise FormatError(f"{where}.sweep_window: must be [start, stop] with "
                              f"0 <= start < stop, not {window}")
        beg = np.flatnonzero(times >= window[0])[0]
        end = np.flatnonzero(times <= window[1])[-1] + 1
        amps, times = amps[beg:end], times[beg:end]
    notes = []
    if offset:
        notes.append(f"{path.name}: 'delay' {offset} ms gates the clamp on; the sweep is "
                     "still played from t = 0 (BMTK's Vector.play)")
    # BMTK: dur = len * idt * 1000 (ms counted as s): the clamp stays on to the end
    return ClampWaveform(amps, idt, offset, len(times) * idt * 1000.0, tuple(notes))
