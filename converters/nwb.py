"""Results <-> the arrays of an NWB file (numpy only; the pynwb side is ``nethub.formats.nwb``).

NWB keeps times in seconds; nethub keeps them in milliseconds. ``t / 1000`` is not invertible
in float64 for every ``t`` (about 1-2 % of spike times come back one ulp off, and two
neighbouring times can even share a quotient), so the exact millisecond values of the spikes
that ``s * 1000`` does not give back are kept beside the Units table
(:attr:`UnitsArrays.fix_pos`, :attr:`UnitsArrays.fix_ms`); series keep their exact
millisecond time vectors (:attr:`Series.time_ms`). The round trip of spikes, traces and LFP is
then exact, bit for bit. docs/nwb.md describes the layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nethub.errors import ConversionError
from nethub.network import Network
from nethub.results import TRACE_COLUMNS, Results, Traces
from nethub.table import Categorical, Table

__all__ = [
    "UnitsArrays",
    "Series",
    "units_arrays",
    "spikes_from_units",
    "trace_series",
    "traces_from_series",
    "lfp_series",
    "unit_of",
    "nwb_name",
    "CELL_COLUMNS_OUT",
    "text_values",
]

MS = 1000.0
#: Cells columns written to the Units table (NWB name, nethub column, description), unless no
#: cell has a value (a model built from a spec has no source ids); namespaced per-format
#: columns (``sonata.node_id``, ``nml.instance``, ...) follow as ``sonata_node_id``.
CELL_COLUMNS_OUT = (
    ("population", "pop", "nethub population of the cell"),
    ("cell_type", "cell_type", "nethub cell type of the cell"),
    ("x", "x", "soma position x in the model, um"),
    ("y", "y", "soma position y in the model (depth, NetPyNE's sense), um"),
    ("z", "z", "soma position z in the model, um"),
    ("source_format", "source_format", "format the cell was imported from"),
    ("source_pop", "source_pop", "population of the cell in its source file"),
    ("source_id", "source_id", "id of the cell in its source population (SONATA node id, "
                               "NeuroML instance id, NetPyNE index; -1 if none)"),
)
_NAME_RE = re.compile(r"[^A-Za-z0-9_.\-]+")


def nwb_name(text: str) -> str:
    """A name NWB accepts for a group or dataset (no ``/``; runs of other odd characters
    become ``_``)."""
    return _NAME_RE.sub("_", str(text).replace("/", "__")) or "_"


@dataclass
class UnitsArrays:
    """The columns of an NWB Units table, as numpy arrays.

    Attributes
    ----------
    gids : ndarray of int64
        One unit per cell, sorted (also the Units ``id``).
    spike_times_s : ndarray of float64
        Spike times in seconds, unit by unit, each unit's in time order.
    spike_index : ndarray of int64
        End offset of each unit's spikes in ``spike_times_s`` (NWB's ``spike_times_index``).
    fix_pos, fix_ms : ndarray
        Positions in ``spike_times_s`` whose ``s * 1000`` is not the original time, and the
        original times (ms).
    columns : dict of str to (ndarray, str)
        Further per-unit columns (NWB name -> values, description).
    """

    gids: np.ndarray
    spike_times_s: np.ndarray
    spike_index: np.ndarray
    fix_pos: np.ndarray
    fix_ms: np.ndarray
    columns: dict[str, tuple[np.ndarray, str]] = field(default_factory=dict)


def text_values(col: Categorical) -> np.ndarray:
    """A string column as an object array of str, '' for missing (NWB has no null string)."""
    lut = np.array([*col.categories, ""], dtype=object)
    return lut[col.codes]


def _cell_values(col: Any) -> np.ndarray | None:
    """A cells column as a plain array for NWB (strings: '' for missing), None if it has no
    scalar form (ragged)."""
    if isinstance(col, Categorical):
        return text_values(col)
    arr = np.asarray(col)
    if arr.ndim != 1 or arr.dtype.kind not in "biuf":
        return None
    return arr


def _all_missing(col: Any) -> bool:
    """A source column nothing was imported into (all missing strings, all -1 ids)."""
    if isinstance(col, Categorical):
        return bool(len(col) and (col.codes < 0).all())
    arr = np.asarray(col)
    return bool(len(arr) and arr.dtype.kind in "iu" and (arr == -1).all())


def _cell_columns(net: Network, gids: np.ndarray, lost: list[str]) -> dict:
    """Units columns from the network's cells table, one value per gid of ``gids``."""
    cells = net.cells
    cg = np.asarray(cells["gid"], dtype=np.int64)
    order = np.argsort(cg, kind="stable")
    rows = order[np.searchsorted(cg, gids, sorter=order).clip(0, max(len(cg) - 1, 0))]
    known = (cg[rows] == gids) if len(cg) else np.zeros(len(gids), bool)
    if not known.all():
        raise ConversionError(f"{int((~known).sum())} spiking gid(s) are not cells of the "
                              f"network (first: {int(gids[~known][0])})")
    out: dict[str, tuple[np.ndarray, str]] = {}
    for nwb, col, desc in CELL_COLUMNS_OUT:
        vals = _cell_values(cells[col])
        if vals is not None and not _all_missing(cells[col]):
            out[nwb] = (vals[rows], desc)
    skipped = []
    for col in cells.extra_columns:
        if not col.startswith(("sonata.", "nml.")):
            continue
        vals = _cell_values(cells[col])
        if vals is None:
            skipped.append(col)
            continue
        out[nwb_name(col).replace(".", "_")] = (vals[rows], f"nethub cells column '{col}'")
    for col in skipped:
        lost.append(f"cells column '{col}': not a scalar column; not in the Units table")
    return out


def _stable_gid_order(g: np.ndarray) -> np.ndarray:
    """``np.argsort(g, kind='stable')``, as one or two radix passes over 16-bit digits when
    the gids span less than 2**32 (numpy radix-sorts 16-bit keys: ~3x faster on 10M spikes)."""
    if len(g) == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(g.min())
    span = int(g.max()) - low
    if span >= 2**32:
        return np.argsort(g, kind="stable")
    codes = (g - low).astype(np.uint32)
    order = np.argsort((codes & 0xFFFF).astype(np.uint16), kind="stable")
    if span < 2**16:
        return order
    high = (codes >> 16).astype(np.uint16)[order]
    return order[np.argsort(high, kind="stable")]


def units_arrays(net: Network | None, res: Results, lost: list[str],
                 also: np.ndarray | None = None) -> UnitsArrays:
    """The Units table of a run: every cell of ``net`` (without a network: every spiking gid
    and the gids in ``also``, e.g. traced cells) with its spikes, in seconds, and the cells'
    identities as columns.

    Vectorized: one stable (radix) sort of the spikes by gid, no per-unit work.
    """
    t, g = res.spike_times, res.spike_gids  # sorted by time, then gid
    order = _stable_gid_order(g)  # by gid, in time order within a gid
    gs = g[order]
    spiking = gs[np.flatnonzero(np.diff(gs, prepend=gs[:1] - 1))] if len(gs) else gs
    if net is None:
        gids = spiking if also is None else np.union1d(spiking, np.asarray(also, np.int64))
    else:
        gids = np.unique(np.asarray(net.gids, np.int64))
        for what, have in (("spiking", spiking), ("traced", also)):
            unknown = np.unique(have[~np.isin(have, gids)]) if have is not None else []
            if len(unknown):
                raise ConversionError(f"{len(unknown)} {what} gid(s) are not cells of the "
                                      f"network (first: {int(unknown[0])})")
    t_ms = t[order]
    spike_times_s = t_ms / MS
    bad = np.flatnonzero(spike_times_s * MS != t_ms)
    ends = np.searchsorted(gs, gids, side="right").astype(np.int64)
    columns = {"gid": (gids.copy(), "nethub gid of the cell")}
    if net is not None:
        columns.update(_cell_columns(net, gids, lost))
    return UnitsArrays(gids, spike_times_s, ends, bad.astype(np.int64), t_ms[bad], columns)


def spikes_from_units(gids: np.ndarray, spike_times_s: np.ndarray, spike_index: np.ndarray,
                      fix_pos: np.ndarray | None = None,
                      fix_ms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spike times (ms) and gids from a Units table's ragged ``spike_times``.

    Returns
    -------
    times, gids : ndarray
        Sorted by time, then gid, when the units are in gid order (nethub writes them so);
        else unit by unit (:class:`~nethub.results.Results` sorts them).
    """
    index = np.asarray(spike_index, dtype=np.int64)
    counts = np.diff(index, prepend=0)
    if len(index) != len(gids) or (counts < 0).any() or (len(index) and
                                                        index[-1] != len(spike_times_s)):
        raise ConversionError("spike_times_index does not match spike_times and the units")
    t = np.asarray(spike_times_s, dtype=np.float64) * MS
    if fix_pos is not None and len(fix_pos):
        t[np.asarray(fix_pos, dtype=np.int64)] = fix_ms
    g = np.repeat(np.asarray(gids, dtype=np.int64), counts)
    if len(gids) > 1 and np.all(np.diff(gids) > 0):  # units by gid: a stable sort by time
        order = np.argsort(t, kind="stable")       # gives Results' (time, gid) order
        return t[order], g[order]
    return t, g


# ----------------------------------------------------------------------------- series
@dataclass
class Series:
    """One time series to write: ``data`` is (n_times, n_columns) in ``unit`` x ``conversion``.

    Attributes
    ----------
    name : str
        NWB name.
    kind : str
        ``'traces'`` (a trace group: ``key`` is '' for the main traces or the trace group
        name), ``'lfp'`` or ``'lfp_extra'`` (``key``: the ``lfp_extra`` key).
    key : str
    time_ms : ndarray
    data : ndarray
    unit : str
        SI unit name (NWB's ``unit``); ``conversion`` turns stored values into it.
    conversion : float
    sites : Table or None
        The trace index rows of the columns (kind 'traces').
    description : str
    """

    name: str
    kind: str
    key: str
    time_ms: np.ndarray
    data: np.ndarray
    unit: str
    conversion: float
    sites: Table | None = None
    description: str = ""


#: NEURON variables -> (SI unit, factor from NEURON's unit).
_UNITS = {"v": ("volts", 1e-3), "i_membrane_": ("amperes", 1e-9), "i_membrane": ("amperes", 1e-9)}


def unit_of(var: str | None) -> tuple[str, float]:
    """NWB unit and conversion of a recorded NEURON variable: ``v`` (mV) -> volts x 1e-3,
    point-process currents ``NAME.i`` and ``i_membrane_`` (nA) -> amperes x 1e-9; anything
    else keeps NEURON's unit, named ``'NEURON units of <var>'`` (conversion 1)."""
    var = var or ""
    if var in _UNITS:
        return _UNITS[var]
    if "." in var and var.rsplit(".", 1)[1] == "i":
        return ("amperes", 1e-9)
    return (f"NEURON units of {var}", 1.0)


def trace_series(res: Results) -> list[Series]:
    """One series per trace label (e.g. 'V_soma': one column per recorded cell), for the main
    traces and each trace group."""
    out: list[Series] = []
    groups = [("", res.traces)] + sorted(res.trace_groups.items())
    taken: set[str] = set()
    for key, tr in groups:
        if len(tr) == 0:
            continue
        label: Categorical = tr.index["label"]  # type: ignore[assignment]
        var: Categorical = tr.index["var"]  # type: ignore[assignment]
        pairs = np.stack([label.codes, var.codes], axis=1)
        for lc, vc in np.unique(pairs, axis=0):
            rows = np.flatnonzero((label.codes == lc) & (var.codes == vc))
            lab = label.categories[lc] if lc >= 0 else None
            vname = var.categories[vc] if vc >= 0 else None
            unit, conv = unit_of(vname)
            base = nwb_name(lab or vname or "trace") + (f"__{nwb_name(key)}" if key else "")
            name, k = base, 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            desc = (f"nethub trace {lab!r} ({vname}) of {len(rows)} cell(s)"
                    + (f", trace group {key!r}" if key else "")
                    + "; columns: processing/nethub/trace_sites rows with series == name")
            out.append(Series(name, "traces", key, tr.time, tr.data[rows].T, unit, conv,
                              tr.index.take(rows), desc))
    return out


def traces_from_series(series: list[Series]) -> tuple[Traces | None, dict[str, Traces]]:
    """The main traces and the trace groups from their series (each with ``sites``)."""
    by_key: dict[str, list[Series]] = {}
    for s in series:
        by_key.setdefault(s.key, []).append(s)
    built: dict[str, Traces] = {}
    for key, parts in by_key.items():
        time = parts[0].time_ms
        for s in parts[1:]:
            if not np.array_equal(s.time_ms, time):
                raise ConversionError(f"trace series {s.name!r} has other times than "
                                      f"{parts[0].name!r} of the same trace group")
        index = Table.concat([s.sites for s in parts], TRACE_COLUMNS)  # type: ignore[misc]
        data = np.concatenate([np.asarray(s.data, np.float64).T.reshape(len(s.sites), -1)
                               for s in parts])  # type: ignore[arg-type]
        built[key] = Traces(index, time, data)
    main = built.pop("", None)
    return main, built


def lfp_series(res: Results) -> list[Series]:
    """The LFP (kind 'lfp', mV) and what was recorded beside it (kind 'lfp_extra')."""
    if res.lfp is None:
        return []
    time = res.lfp_time if res.lfp_time is not None else np.zeros(0)
    out = [Series("lfp", "lfp", "", time, res.lfp, "volts", 1e-3,
                  description="extracellular potential at the model's electrodes, computed "
                              "during the run (nethub, LFPykit)")]
    for key, arr in sorted(res.lfp_extra.items()):
        top = key.split("/", 1)[0]
        if top.startswith("dipole"):
            unit, conv = "ampere meters", 1e-15  # nA um
        elif top == "imembrane":
            unit, conv = "amperes", 1e-9
        else:
            unit, conv = "volts", 1e-3
        out.append(Series(nwb_name(key), "lfp_extra", key, time, np.asarray(arr), unit, conv,
                          description=f"nethub LFP record {key!r}"))
    return out
