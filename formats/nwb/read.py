"""Read an NWB file written by nethub (or any NWB file with a Units table) back into Results.

Imported only when an NWB file is read (pynwb and hdmf take ~1 s to import).
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np
from pynwb import NWBHDF5IO, NWBFile

from nethub.converters.nwb import Series, spikes_from_units, traces_from_series
from nethub.errors import ConversionError, FormatError
from nethub.results import TRACE_COLUMNS, Results
from nethub.table import Categorical, Table

__all__ = ["read_nwb", "read_provenance"]

MODULE = "nethub"


def _table_columns(table: Any) -> dict[str, np.ndarray]:
    return {name: np.asarray(table[name].data[:]) for name in table.colnames
            if not name.endswith("_index")}


def _text(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def read_provenance(nwb: NWBFile) -> dict[str, Any]:
    """The nethub provenance of an open NWB file ({} if nethub did not write it)."""
    if "nethub_provenance" not in nwb.scratch:
        return {}
    raw = nwb.scratch["nethub_provenance"].data
    raw = raw[()] if hasattr(raw, "shape") else raw  # an HDF5 scalar string dataset
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        prov = json.loads(text)
    except ValueError as exc:
        raise FormatError(f"scratch/nethub_provenance: not JSON ({exc})") from None
    if not isinstance(prov, dict):
        raise FormatError("scratch/nethub_provenance: not a JSON object")
    return prov


def _spikes(nwb: NWBFile, mod: Any) -> tuple[np.ndarray, np.ndarray]:
    units = nwb.units
    if units is None:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    gids = (np.asarray(units["gid"].data[:], dtype=np.int64) if "gid" in units.colnames
            else np.asarray(units.id.data[:], dtype=np.int64))
    if "spike_times" not in units.colnames:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    st = units["spike_times"]  # a VectorIndex over the VectorData of the times
    times = np.asarray(st.target.data[:], dtype=np.float64)
    index = np.asarray(st.data[:], dtype=np.int64)
    fix_pos = fix_ms = None
    if mod is not None and "spike_time_corrections" in mod.data_interfaces:
        fix = mod["spike_time_corrections"]
        fix_pos, fix_ms = fix["position"].data[:], fix["time_ms"].data[:]
    return spikes_from_units(gids, times, index, fix_pos, fix_ms)


def _exact_times(mod: Any) -> dict[tuple[str, str], np.ndarray]:
    if mod is None or "series_times" not in mod.data_interfaces:
        return {}
    t = mod["series_times"]
    names, kinds = _text(t["series"].data[:]), _text(t["kind"].data[:])
    data, ends = t["time_ms"].target.data[:], t["time_ms"].data[:]
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return {(k, n): np.asarray(data[a:b], np.float64)
            for k, n, a, b in zip(kinds, names, starts, ends)}


def _times_ms(ts: Any, exact: np.ndarray | None) -> np.ndarray:
    if exact is not None:
        return exact
    if ts.timestamps is not None:
        return np.asarray(ts.timestamps[:], np.float64) * 1000.0
    n = ts.data.shape[0]
    return (ts.starting_time + np.arange(n) / ts.rate) * 1000.0


def _sites(mod: Any) -> dict[str, Table]:
    if mod is None or "trace_sites" not in mod.data_interfaces:
        return {}
    cols = _table_columns(mod["trace_sites"])
    series = np.array(_text(cols["series"]), dtype=object)

    def cat(name: str, rows: np.ndarray) -> Categorical:
        vals = _text(cols[name][rows])
        return Categorical.from_values([v or None for v in vals])

    out = {}
    for name in dict.fromkeys(series.tolist()):
        rows = np.flatnonzero(series == name)
        rows = rows[np.argsort(cols["column"][rows], kind="stable")]
        out[name] = Table({"label": cat("label", rows), "gid": cols["gid"][rows],
                           "sec": cat("sec", rows), "loc": cols["loc"][rows],
                           "var": cat("var", rows)}, TRACE_COLUMNS)
    return out


def _traces(nwb: NWBFile, mod: Any, exact: dict) -> tuple[Any, dict]:
    sites = _sites(mod)
    series = []
    keys = {}
    if mod is not None and "series_times" in mod.data_interfaces:
        t = mod["series_times"]
        keys = dict(zip(_text(t["series"].data[:]), _text(t["key"].data[:])))
    for name, table in sites.items():
        ts = nwb.acquisition[name]
        series.append(Series(name, "traces", keys.get(name, ""),
                             _times_ms(ts, exact.get(("traces", name))), ts.data[:],
                             ts.unit, ts.conversion, table))
    if not series:
        return None, {}
    return traces_from_series(series)


def _lfp(nwb: NWBFile, mod: Any, exact: dict) -> dict[str, Any]:
    eco = nwb.processing.get("ecephys")
    if eco is None or "LFP" not in eco.data_interfaces:
        if ("lfp", "lfp") not in exact:
            return {}
        time = exact[("lfp", "lfp")]  # dipoles recorded without electrodes
        return {"lfp": np.zeros((len(time), 0)), "lfp_time": time,
                "electrodes": np.zeros((0, 3)), "lfp_extra": _lfp_extra(mod)}
    container = eco["LFP"]
    es = container.electrical_series.get("lfp") or next(iter(
        container.electrical_series.values()))
    table = es.electrodes.table
    rows = np.asarray(es.electrodes.data[:], dtype=np.int64)
    pos = (np.stack([np.asarray(table[c].data[:], np.float64)[rows]
                     for c in ("rel_x", "rel_y", "rel_z")], axis=1)
           if all(c in table.colnames for c in ("rel_x", "rel_y", "rel_z")) else None)
    if pos is not None and len(pos) and np.isnan(pos).all():
        pos = None  # written without positions
    out: dict[str, Any] = {"lfp": np.asarray(es.data[:], np.float64),
                           "lfp_time": _times_ms(es, exact.get(("lfp", es.name))),
                           "electrodes": pos, "lfp_extra": _lfp_extra(mod)}
    return out


def _lfp_extra(mod: Any) -> dict[str, np.ndarray]:
    """What was recorded beside the LFP (dipoles, per-population LFP, ...), by its key."""
    out: dict[str, np.ndarray] = {}
    if mod is not None and "series_times" in mod.data_interfaces:
        t = mod["series_times"]
        for kind, name, key in zip(_text(t["kind"].data[:]), _text(t["series"].data[:]),
                                   _text(t["key"].data[:])):
            if kind == "lfp_extra":
                out[key] = np.asarray(mod[name].data[:], np.float64)
    return out


def _results(nwb: NWBFile, path: Any, lost: list[str]) -> Results:
    prov = read_provenance(nwb)
    mod = nwb.processing.get(MODULE)
    if not prov:
        lost.append(f"{path}: not written by nethub: no provenance (network hash, run "
                    "config); unit ids read as gids, traces and LFP not read")
        mod = None
    t, g = _spikes(nwb, mod)
    exact = _exact_times(mod)
    main, groups = _traces(nwb, mod, exact)
    kwargs: dict[str, Any] = {"trace_groups": groups, **_lfp(nwb, mod, exact)}
    if main is not None:
        kwargs["traces"] = main
    return Results(spike_times=t, spike_gids=g, network_hash=prov.get("network_hash", ""),
                   run_config=prov.get("run_config") or {}, sim_config=prov.get(
                       "sim_config") or {}, seeds=prov.get("seeds") or {},
                   versions=prov.get("versions") or {}, timing=prov.get("timing") or {},
                   nranks=int(prov.get("nranks", 1)), meta=prov.get("meta") or {},
                   name=prov.get("run") or None, **kwargs)


def read_nwb(path: str | os.PathLike) -> tuple[Results, dict[str, Any], list[str]]:
    """Read the run of an NWB file.

    Returns
    -------
    results : Results
    provenance : dict
        nethub's provenance of the file ({} for a file nethub did not write).
    lost : list of str

    Raises
    ------
    FormatError
        The file is not a readable NWB file (truncated, foreign); the message names it.
    """
    lost: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # namespace-cache notes of pynwb/hdmf
            with NWBHDF5IO(os.fspath(path), "r") as io:
                nwb = io.read()
                res = _results(nwb, path, lost)
                prov = read_provenance(nwb)
    except (ConversionError, FormatError) as exc:
        raise FormatError(f"{path}: {exc}") from exc
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise FormatError(f"{path}: not a readable NWB file ({type(exc).__name__}: {exc})"
                          ) from exc
    return res, prov, lost
