"""Write one simulation run as an NWB file with pynwb (layout: docs/nwb.md).

Imported only when an NWB file is written (pynwb and hdmf take ~1 s to import).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from hdmf.common import (
    DynamicTable,
    ElementIdentifiers,
    VectorData,
    VectorIndex,
)
from pynwb import NWBHDF5IO, H5DataIO, NWBFile, ProcessingModule, TimeSeries
from pynwb.core import ScratchData
from pynwb.ecephys import LFP, ElectricalSeries
from pynwb.file import Subject
from pynwb.misc import Units

from nethub.converters.nwb import (
    Series,
    UnitsArrays,
    lfp_series,
    text_values,
    trace_series,
    units_arrays,
)
from nethub.formats.base import OptionError
from nethub.network import Network
from nethub.results import Results
from nethub.store import atomic_path
from nethub.version import __version__

__all__ = ["write_nwb", "LAYOUT", "MODULE", "NWB_FIELDS"]

#: Name and version of the layout nethub writes (in ``scratch/nethub_provenance``).
LAYOUT = ("nethub-nwb", 1)
#: The processing module with nethub's tables (provenance, trace sites, exact times).
MODULE = "nethub"
#: NWBFile fields the ``metadata`` write option may set (DANDI and nwbinspector ask for some).
NWB_FIELDS = ("experimenter", "institution", "lab", "related_publications", "keywords",
              "experiment_description", "session_description", "protocol", "notes",
              "data_collection", "stimulus_notes")


_BIG = 1 << 16  # elements; smaller arrays are not worth a compression filter


def _io(data: np.ndarray, gzip: bool) -> Any:
    """``data``, wrapped for gzip compression when ``gzip`` and it is large."""
    if gzip and data.size >= _BIG:
        return H5DataIO(data=data, compression="gzip", compression_opts=4, chunks=True)
    return data


def _vector(name: str, desc: str, data: Any) -> VectorData:
    return VectorData(name=name, description=desc, data=data)


def _ragged(name: str, desc: str, data: np.ndarray, ends: np.ndarray) -> list:
    col = _vector(name, desc, data)
    return [col, VectorIndex(name=f"{name}_index", data=ends, target=col)]


def _resolution(res: Results) -> float | None:
    """NEURON's fixed time step (s): spike times are multiples of it (None with CVode or when
    the run does not say)."""
    cfg = res.run_config or res.sim_config
    dt = cfg.get("dt")
    if dt is None or cfg.get("cvode_active") or cfg.get("cvode"):
        return None
    return float(dt) / 1000.0


def _units(ua: UnitsArrays, duration_s: float, resolution: float | None, gzip: bool) -> Units:
    """The Units table built from whole columns (no per-unit add_unit calls)."""
    n = len(ua.gids)
    cols = _ragged("spike_times", "spike times, s from the start of the simulation",
                   _io(ua.spike_times_s, gzip), ua.spike_index)
    cols += _ragged("obs_intervals", "the simulated interval, s",
                    np.tile([[0.0, duration_s]], (n, 1)), np.arange(1, n + 1, dtype=np.int64))
    names = ["spike_times", "obs_intervals"]
    for name, (vals, desc) in ua.columns.items():
        cols.append(_vector(name, desc, vals))
        names.append(name)
    extra = {} if resolution is None else {"resolution": resolution}
    return Units(name="units", id=ElementIdentifiers(name="id", data=ua.gids), columns=cols,
                 colnames=names, description="simulated cells (one unit per cell of the "
                                             "network, id = gid) and their spikes", **extra)


def _table(name: str, desc: str, columns: dict[str, tuple[Any, str]], n: int,
           ragged: dict[str, tuple[np.ndarray, np.ndarray, str]] | None = None) -> DynamicTable:
    cols: list = [_vector(k, d, v) for k, (v, d) in columns.items()]
    for k, (data, ends, d) in (ragged or {}).items():
        cols += _ragged(k, d, data, ends)
    return DynamicTable(name=name, description=desc, columns=cols,
                        id=ElementIdentifiers(name="id", data=np.arange(n, dtype=np.int64)))


def _timing(s: Series) -> dict[str, Any]:
    """``starting_time`` + ``rate`` for evenly sampled series, else ``timestamps`` (s)."""
    t = np.asarray(s.time_ms, dtype=np.float64)
    if len(t) >= 2:
        step = np.diff(t)
        if np.allclose(step, step[0], rtol=1e-9, atol=0) and step[0] > 0:
            return {"starting_time": float(t[0]) / 1000.0, "rate": 1000.0 / float(step[0])}
    if len(t) == 1:
        return {"starting_time": float(t[0]) / 1000.0, "rate": 1.0}
    return {"timestamps": t / 1000.0}


def _series(s: Series, gzip: bool) -> TimeSeries:
    data = np.asarray(s.data, dtype=np.float64)
    return TimeSeries(name=s.name, data=_io(data, gzip), unit=s.unit, conversion=s.conversion,
                      description=s.description, **_timing(s))


def _trace_sites(series: list[Series], units_gids: np.ndarray, units: Units) -> DynamicTable:
    """One row per trace column: which series and column, the cell (a row of Units), the
    section, location, variable and recordTraces label."""
    parts = [s for s in series if s.sites is not None]
    sites = [s.sites for s in parts]
    n = sum(len(x) for x in sites)

    def cat(col: str) -> np.ndarray:  # strings, '' for missing
        if not sites:
            return np.zeros(0, dtype=object)
        return np.concatenate([text_values(x[col]) for x in sites])

    gids = (np.concatenate([np.asarray(x["gid"]) for x in sites]) if sites
            else np.zeros(0, np.int64))
    cols = {
        "series": (np.array([s.name for s in parts for _ in range(len(s.sites))], dtype=object),
                   "name of the TimeSeries in acquisition"),
        "column": (np.concatenate([np.arange(len(x)) for x in sites]) if sites
                   else np.zeros(0, np.int64), "column of that series"),
        "label": (cat("label"), "recordTraces label"),
        "gid": (gids, "nethub gid of the recorded cell"),
        "sec": (cat("sec"), "section ('' for point cells)"),
        "loc": (np.concatenate([np.asarray(x["loc"]) for x in sites]) if sites
                else np.zeros(0), "location on the section, 0..1 (NaN for point cells)"),
        "var": (cat("var"), "recorded NEURON variable"),
    }
    table = _table("trace_sites", "where each column of the trace series was recorded", cols, n)
    rows = np.searchsorted(units_gids, gids).astype(np.int64)
    table.add_column(name="unit", description="the recorded cell: its row in the Units table",
                     data=rows, table=units)
    return table


def _series_times(series: list[Series]) -> DynamicTable:
    """Exact millisecond time vectors of all series (NWB's seconds are not exact in ms)."""
    ends = np.cumsum([len(s.time_ms) for s in series], dtype=np.int64)
    data = (np.concatenate([np.asarray(s.time_ms, np.float64) for s in series]) if series
            else np.zeros(0))
    cols = {"series": (np.array([s.name for s in series], dtype=object), "series name"),
            "kind": (np.array([s.kind for s in series], dtype=object),
                     "traces, lfp or lfp_extra"),
            "key": (np.array([s.key for s in series], dtype=object),
                    "trace group or lfp_extra key")}
    return _table("series_times", "exact sample times of each series, ms", cols, len(series),
                  {"time_ms": (data, ends, "sample times, ms")})


def _lfp(nwb: NWBFile, s: Series, electrodes: np.ndarray | None, gzip: bool
         ) -> ProcessingModule:
    """The LFP: an ElectricalSeries in an LFP container, electrodes at the model positions."""
    dev = nwb.create_device(name="nethub_lfp", description="simulated extracellular point "
                            "electrodes of a nethub simulation (LFPykit line/point source "
                            "potentials)")
    group = nwb.create_electrode_group(name="model_electrodes", device=dev,
                                       description="electrodes placed in the model network",
                                       location="simulated extracellular space")
    pos = (np.full((s.data.shape[1], 3), np.nan) if electrodes is None  # positions unknown
           else np.asarray(electrodes))
    for p in pos:
        nwb.add_electrode(group=group, location="simulated extracellular space",
                          rel_x=float(p[0]), rel_y=float(p[1]), rel_z=float(p[2]))
    region = nwb.create_electrode_table_region(
        list(range(len(pos))), "all model electrodes (rel_x/y/z: position in the model, um)")
    mod = nwb.create_processing_module("ecephys", "extracellular potentials of the simulation")
    container = LFP(name="LFP")
    mod.add(container)
    es = ElectricalSeries(name="lfp", data=_io(np.asarray(s.data, np.float64), gzip),
                          electrodes=region,
                          conversion=s.conversion, description=s.description,
                          filtering="none (computed from transmembrane currents)",
                          **_timing(s))
    container.add_electrical_series(es)
    return mod


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _provenance(net: Network | None, res: Results, run: str, source: str | None,
                embed: bool) -> dict[str, Any]:
    prov: dict[str, Any] = {
        "layout": list(LAYOUT),
        "network_hash": res.network_hash or (net.content_hash() if net is not None else ""),
        "nethub_version": __version__, "run": run, "run_config": res.run_config,
        "sim_config": res.sim_config, "seeds": res.seeds, "versions": res.versions,
        "timing": res.timing, "nranks": res.nranks, "meta": res.meta,
        "duration_ms": res.duration,
        "network_summary": net.summary() if net is not None else None,
        "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if source is not None:
        p = Path(source)
        prov["source"] = {"path": os.fspath(source), "embedded": embed}
        if p.is_file():
            prov["source"].update(sha256=_file_sha256(p), size=p.stat().st_size, name=p.name)
    return prov


def _nwbfile(net: Network | None, res: Results, run: str, prov: dict,
             metadata: dict[str, Any], subject: dict[str, Any] | None) -> NWBFile:
    h = prov["network_hash"] or "unknown"
    versions = {str(k): str(v) for k, v in res.versions.items() if isinstance(v, (str, int,
                                                                                  float))}
    made_by = [["nethub", __version__]] + [[k, v] for k, v in sorted(versions.items())
                                           if k.lower() != "nethub"]
    summary = (f"{net.n_cells} cells in {len(net.populations)} populations, "
               f"{net.n_connections} connections" if net is not None else "network not given")
    fields: dict[str, Any] = dict(
        session_description=f"nethub simulation run {run!r} of network {h[:16]}",
        identifier=str(uuid.uuid4()),
        session_start_time=_dt.datetime.now(_dt.timezone.utc),
        experiment_description=f"NEURON simulation with nethub of a network model "
                               f"(content hash {h}): {summary}",
        session_id=run,  # no keywords: Neo 0.14's NWBIO cannot read list-valued fields
        notes="Simulated data. nethub provenance (network hash, RunConfig, seeds, versions, "
              "the store) is in scratch/nethub_provenance; docs/nwb.md of nethub.",
        # the RunConfig (else the simConfig) of the run
        source_script=json.dumps(res.run_config or res.sim_config, sort_keys=True, default=str),
        source_script_file_name="run_config.json",
        was_generated_by=made_by,
    )
    unknown = sorted(set(metadata) - set(NWB_FIELDS))
    if unknown:
        raise OptionError(f"metadata: unknown NWBFile field(s) {', '.join(unknown)} (valid: "
                         f"{', '.join(NWB_FIELDS)})")
    fields.update(metadata)
    fields["subject"] = Subject(**{**_model_subject(h), **(subject or {})})
    return NWBFile(**fields)


def _model_subject(h: str) -> dict[str, Any]:
    """The subject of a simulation when the user names none: the model, with NWB's own values
    for what a model does not have (sex 'U' = unknown, age '/' = a range with neither bound
    known); species only when the user gives it (DANDI asks for it)."""
    return {"subject_id": f"model-{h[:12]}", "sex": "U", "age": "/",
            "description": f"in-silico network model simulated by nethub, not an animal "
                           f"(network content hash {h}); sex and age unknown"}


def _nethub_module(nwb: NWBFile, ua: UnitsArrays, traces: list[Series], lfps: list[Series],
                   gzip: bool) -> None:
    """``processing/nethub``: spike time corrections, trace sites, exact series times and the
    records beside the LFP (only what the run has)."""
    tables: list = []
    if len(ua.fix_pos):
        tables.append(_table(
            "spike_time_corrections", "spikes whose time in s times 1000 is not the simulated "
            "time in ms: their position in units/spike_times and exact time",
            {"position": (ua.fix_pos, "index into units/spike_times"),
             "time_ms": (ua.fix_ms, "exact spike time, ms")}, len(ua.fix_pos)))
    if traces:
        tables.append(_trace_sites(traces, ua.gids, nwb.units))
    if traces or lfps:
        tables.append(_series_times(traces + lfps))
    tables += [_series(s, gzip) for s in lfps[1:]]
    if tables:
        mod = nwb.create_processing_module(MODULE, "nethub: where the traces were recorded and "
                                                    "what makes the round trip exact (docs/nwb.md)")
        for t in tables:
            mod.add(t)


def write_nwb(net: Network | None, res: Results, path: str | os.PathLike, *, run: str,
              source: str | None = None, embed_store: bool = False,
              compression: str | None = None, metadata: dict[str, Any] | None = None,
              subject: dict[str, Any] | None = None) -> list[str]:
    """Write run ``res`` (of network ``net``) to ``path`` atomically; return what was lost.

    Parameters
    ----------
    net : Network or None
        Gives the Units table its cell columns (population, cell type, source ids).
    res : Results
    path : path-like
    run : str
        The run's name (recorded in the file).
    source : str, optional
        Path or URL of the store the run comes from, recorded in the provenance (with the
        file's sha256 when it is a local file).
    embed_store : bool
        Embed a byte copy of ``source`` (``scratch/nethub_source``).
    compression : str, optional
        'gzip' to compress the large datasets (smaller, slower); default none.
    metadata : dict, optional
        NWBFile fields (:data:`NWB_FIELDS`: experimenter, institution, ...).
    subject : dict, optional
        pynwb ``Subject`` fields (species, age, sex, ...) of the animal the model stands
        for, over the defaults of :func:`_model_subject` (DANDI requires a species).
    """
    if compression not in (None, "none", "gzip"):
        raise OptionError(f"unknown compression {compression!r} (valid: gzip, none)")
    if embed_store and (source is None or not Path(source).is_file()):
        raise OptionError(f"embed_store: no source file to embed ({source!r}); give "
                          "source=STORE")
    gzip = compression == "gzip"
    lost: list[str] = []
    traces = trace_series(res)
    traced = [np.asarray(s.sites["gid"]) for s in traces if s.sites is not None]
    ua = units_arrays(net, res, lost, also=np.concatenate(traced) if traced else None)
    lfps = lfp_series(res)
    duration = res.duration if res.duration is not None else (
        float(res.spike_times.max()) if len(res.spike_times) else 0.0)
    prov = _provenance(net, res, run, source, embed_store)
    nwb = _nwbfile(net, res, run, prov, dict(metadata or {}), subject)
    nwb.units = _units(ua, duration / 1000.0, _resolution(res), gzip)
    for s in traces:
        nwb.add_acquisition(_series(s, gzip))
    if lfps and lfps[0].data.shape[1]:  # no electrodes (dipoles only): no ElectricalSeries
        _lfp(nwb, lfps[0], res.electrodes, gzip)
    nwb.add_scratch(json.dumps(prov, sort_keys=True, default=str), name="nethub_provenance",
                    description="nethub provenance of the run (JSON): network hash, nethub "
                                "version, run name, RunConfig, seeds, versions, the store")
    _nethub_module(nwb, ua, traces, lfps, gzip)
    if embed_store:
        nwb.add_scratch(ScratchData(name="nethub_source", data=np.fromfile(source, np.uint8),
                                    description=f"byte copy of {Path(source).name}, the file "
                                                "the run was exported from (sha256 in "
                                                "nethub_provenance); write it out to use it"))
    if net is not None:
        lost.append("the network itself (cell types, connections, stimuli, .mod files) is "
                    f"not held by NWB: referenced by its content hash {prov['network_hash']}"
                    + (" and embedded as a byte copy of the store" if embed_store else ""))
    with atomic_path(path) as tmp:  # the usual temp suffix, so stale temps get cleaned
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not end in '.nwb'")
            io = NWBHDF5IO(os.fspath(tmp), "w")
        with io:
            io.write(nwb)
    return lost
