"""Readable comparisons of networks and simulation results for tests.

:func:`diff_networks` and :func:`diff_results` list the differences as short lines, each starting
with the path of what differs (``connections.weight``, ``cell_types.PYR.sections.soma.geom.L``,
``provenance.created``); :func:`assert_network_equal` and :func:`assert_results_equal` raise an
:class:`AssertionError` with the first of them, never with the repr of a whole network.

Paths in ``ignore`` are shell-style patterns (:mod:`fnmatch`); a pattern also ignores everything
below the path it names (``provenance`` ignores ``provenance.created``), and a table column is
``<table>.<column>`` (``cells.source_format``, ``connections.param.*``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from nethub.celltypes import jsonable
from nethub.network import Network
from nethub.results import Results, Traces
from nethub.table import Categorical, Ragged, Table

__all__ = [
    "assert_network_equal",
    "assert_results_equal",
    "diff_networks",
    "diff_results",
    "MAX_LINES",
]

#: At most this many differences are listed in an assertion message.
MAX_LINES = 20
_MAX_ROWS = 5  # differing rows shown per column
_MAX_TEXT = 70  # characters of a value shown
#: Per-row identity shown beside a differing table row.
_ROW_KEYS = {"cells": ("gid",), "connections": ("pre_gid", "post_gid"),
             "pointer_conns": ("pre_gid", "post_gid"), "stim_targets": ("gid",),
             "traces.index": ("gid",)}
_RUN_PREFIX = re.compile(r"^runs\[\d+\]\.")


class _Diff:
    """Collects difference lines, skipping ignored paths."""

    def __init__(self, ignore: Iterable[str], rtol: float, atol: float, ordered: bool) -> None:
        if isinstance(ignore, str):
            ignore = (ignore,)
        self.ignore = tuple(ignore)
        self.rtol, self.atol, self.ordered = float(rtol), float(atol), ordered
        self.lines: list[str] = []

    def ignored(self, path: str) -> bool:
        paths = (path, _RUN_PREFIX.sub("", path))  # a run's paths also without ``runs[i].``
        return any(fnmatchcase(q, p) or q.startswith(p + ".") for p in self.ignore for q in paths)

    def add(self, path: str, message: str) -> None:
        if not self.ignored(path):
            self.lines.append(f"{path}: {message}")

    # ------------------------------------------------------------------ JSON-like documents
    def value(self, path: str, a: Any, b: Any) -> None:
        """Deep comparison of JSON-like values (NaN equals NaN; 1 differs from 1.0)."""
        if self.ignored(path):
            return
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            self.mapping(path, a, b)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.add(path, f"{len(a)} items vs {len(b)}: {_show(a)} vs {_show(b)}")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(f"{path}[{i}]", x, y)
        elif isinstance(a, float) and isinstance(b, float):
            if not _close(a, b, self.rtol, self.atol):
                self.add(path, f"{a!r} vs {b!r}")
        elif type(a) is not type(b) or a != b:
            self.add(path, f"{_show(a)} ({type(a).__name__}) vs {_show(b)} ({type(b).__name__})"
                     if type(a) is not type(b) else f"{_show(a)} vs {_show(b)}")

    def mapping(self, path: str, a: Mapping, b: Mapping) -> None:
        only_a = [k for k in a if k not in b]
        only_b = [k for k in b if k not in a]
        for k in only_a:
            self.add(_join(path, k), "missing in the second (present in the first)")
        for k in only_b:
            self.add(_join(path, k), "extra in the second (absent from the first)")
        common = [k for k in a if k in b]
        if self.ordered and not only_a and not only_b and list(a) != list(b):
            self.add(path, f"key order differs: {_show(list(a))} vs {_show(list(b))}")
        for k in common:
            self.value(_join(path, k), a[k], b[k])

    # ------------------------------------------------------------------ arrays and tables
    def array(self, path: str, a: Any, b: Any, labels: Any = None) -> None:
        """Numeric arrays of any shape (``None`` allowed); ``labels(i)`` names a row."""
        if self.ignored(path):
            return
        if a is None or b is None:
            if (a is None) != (b is None):
                self.add(path, f"{_show(a)} vs {_show(b)}")
            return
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype:
            self.add(path, f"dtype {a.dtype} vs {b.dtype}")
        if a.shape != b.shape:
            self.add(path, f"shape {a.shape} vs {b.shape}")
            return
        bad = _differing(a, b, self.rtol, self.atol)
        if not len(bad):
            return
        shown = []
        for idx in bad[:_MAX_ROWS]:
            where = labels(idx[0]) if labels is not None and a.ndim >= 1 else ""
            pos = ",".join(str(int(i)) for i in idx)
            shown.append(f"[{pos}]{where} {_show(a[tuple(idx)])} vs {_show(b[tuple(idx)])}")
        self.add(path, f"{len(bad)} of {a.size} values differ: " + "; ".join(shown))

    def table(self, path: str, a: Table, b: Table, kind: str | None = None) -> None:
        if self.ignored(path):
            return
        if len(a) != len(b):
            self.add(path, f"{len(a)} rows vs {len(b)}")
        only_a = [c for c in a.columns if c not in b.columns]
        only_b = [c for c in b.columns if c not in a.columns]
        for c in only_a:
            self.add(_join(path, c), "column missing in the second")
        for c in only_b:
            self.add(_join(path, c), "extra column in the second")
        common = [c for c in a.columns if c in b.columns]
        if self.ordered and not only_a and not only_b and list(a.columns) != list(b.columns):
            self.add(path, f"column order differs: {_show(list(a.columns))} vs "
                           f"{_show(list(b.columns))}")
        if len(a) != len(b):
            return
        labels = _row_labels(a, _ROW_KEYS.get(kind or path, ()))
        for c in common:
            self.column(_join(path, c), a.columns[c], b.columns[c], labels)

    def column(self, path: str, a: Any, b: Any, labels: Any) -> None:
        if self.ignored(path):
            return
        kinds = (_kind(a), _kind(b))
        if kinds[0] != kinds[1]:
            self.add(path, f"column kind {kinds[0]} vs {kinds[1]}")
            return
        if isinstance(a, Categorical):
            self.array(path, a.values(), b.values(), labels)
        elif isinstance(a, Ragged):
            if a.values.dtype != b.values.dtype:
                self.add(path, f"dtype {a.values.dtype} vs {b.values.dtype}")
            rows_a, rows_b = a.tolist(), b.tolist()
            bad = [i for i, (x, y) in enumerate(zip(rows_a, rows_b))
                   if len(x) != len(y) or len(_differing(np.asarray(x), np.asarray(y),
                                                         self.rtol, self.atol))]
            if bad:
                shown = "; ".join(f"[{i}]{labels(i)} {_show(rows_a[i])} vs {_show(rows_b[i])}"
                                  for i in bad[:_MAX_ROWS])
                self.add(path, f"{len(bad)} of {len(a)} rows differ: {shown}")
        else:
            self.array(path, a, b, labels)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _kind(col: Any) -> str:
    return "categorical" if isinstance(col, Categorical) else "ragged" \
        if isinstance(col, Ragged) else "array"


def _show(value: Any) -> str:
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 3] + "..."


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= atol + rtol * abs(b)


def _differing(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Indices (rows of ``np.argwhere``) where ``a`` and ``b`` differ."""
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            af, bf = a.astype(np.float64), b.astype(np.float64)
        except (TypeError, ValueError):
            return np.argwhere(a != b)
        same = (af == bf) | (np.isnan(af) & np.isnan(bf))
        if rtol or atol:
            with np.errstate(invalid="ignore"):
                same |= np.abs(af - bf) <= atol + rtol * np.abs(bf)
        return np.argwhere(~same)
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return np.argwhere(np.array([x != y for x, y in zip(a.ravel(), b.ravel())],
                                    dtype=bool).reshape(a.shape))
    return np.argwhere(a != b)


def _row_labels(table: Table, keys: Sequence[str]) -> Any:
    cols = [(k, np.asarray(table.columns[k])) for k in keys
            if k in table.columns and isinstance(table.columns[k], np.ndarray)]

    def label(i: int) -> str:
        return " (" + ", ".join(f"{k}={int(c[i])}" for k, c in cols) + ")" if cols else ""
    return label


# ---------------------------------------------------------------------------- networks
def _documents(objs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _document(v) for k, v in objs.items()}


def _network_parts(d: _Diff, a: Network, b: Network) -> None:
    names = [f.name for f in dataclasses.fields(a)]
    for obj in (a, b):  # every field and attribute, so new ones (schema v2's files) count too
        names += [n for n in vars(obj) if n not in names and not n.startswith("_")]
    for name in names:
        va, vb = getattr(a, name, None), getattr(b, name, None)
        if isinstance(va, Table) and isinstance(vb, Table):
            d.table(name, va, vb)
        else:
            d.value(name, _plain(va), _plain(vb))


def _plain(value: Any) -> Any:
    if isinstance(value, Table):
        return f"<table of {len(value)} rows>"
    return jsonable(_documents(value) if isinstance(value, Mapping) else _document(value))


def _document(value: Any) -> Any:
    """A model object as JSON-like data (``to_dict``, or the fields of a dataclass)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return value


def diff_networks(a: Network, b: Network, *, ignore: Iterable[str] = (), rtol: float = 0.0,
                  atol: float = 0.0, ordered: bool = True) -> list[str]:
    """Every difference between two networks, one line each (``path: what``).

    Parameters
    ----------
    a, b : Network
    ignore : iterable of str
        Paths (fnmatch patterns) not to compare, e.g. ``"provenance"``,
        ``"cell_types.*.provenance"``, ``"cells.source_format"``.
    rtol, atol : float
        Tolerances for floating-point values (``|a - b| <= atol + rtol * |b|``); NaN equals
        NaN. Integers, strings and dtypes are always compared exactly.
    ordered : bool
        Whether the order of columns and of dict keys matters (as in ``Network.equals``).

    Returns
    -------
    list of str
        Empty when the networks are equal.
    """
    d = _Diff(ignore, rtol, atol, ordered)
    for name, obj in (("first", a), ("second", b)):
        if not isinstance(obj, Network):
            return [f"the {name} argument is a {type(obj).__name__}, not a Network"]
    _network_parts(d, a, b)
    return d.lines


def assert_network_equal(a: Network, b: Network, *, ignore: Iterable[str] = (),
                         rtol: float = 0.0, atol: float = 0.0, ordered: bool = True) -> None:
    """Assert that two networks are equal, with a short readable list of differences.

    Compares every table (row counts, columns and their order, dtypes, categorical values,
    ragged rows), the cell types, synaptic mechanisms, populations, stimulation sources,
    .mod and embedded files, spec, params, provenance and every other field of
    :class:`~nethub.network.Network`. Row order matters: compare ``a.canonical()`` with
    ``b.canonical()`` when it should not.

    Parameters
    ----------
    a, b : Network
    ignore, rtol, atol, ordered
        As for :func:`diff_networks`.

    Raises
    ------
    AssertionError
        The networks differ; the message lists at most ``MAX_LINES`` differences, each with
        its path, and for a table column the first differing rows (with their gids).
    """
    _raise("networks differ", diff_networks(a, b, ignore=ignore, rtol=rtol, atol=atol,
                                            ordered=ordered))


# ---------------------------------------------------------------------------- results
def _traces(d: _Diff, path: str, a: Traces, b: Traces) -> None:
    if d.ignored(path):
        return
    d.table(f"{path}.index", a.index, b.index, kind="traces.index")
    d.array(f"{path}.time", a.time, b.time)
    if len(a.index) == len(b.index):
        d.array(f"{path}.data", a.data, b.data, _trace_labels(a))
    else:
        d.add(f"{path}.data", f"shape {a.data.shape} vs {b.data.shape}")


def _trace_labels(t: Traces) -> Any:
    labels, gids = t.index["label"].values(), t.index["gid"]  # type: ignore[union-attr]
    return lambda i: f" ({labels[i]}, gid={int(gids[i])})"


def _spike_labels(r: Results) -> Any:
    return lambda i: f" (gid={int(r.spike_gids[i])}, t={float(r.spike_times[i])!r})"


def _one_run(d: _Diff, path: str, a: Results, b: Results) -> None:
    for f in dataclasses.fields(a):
        name, p = f.name, _join(path, f.name)
        va, vb = getattr(a, name), getattr(b, name, None)
        if name in ("spike_times", "spike_gids"):
            d.array(p, va, vb, _spike_labels(a))
        elif isinstance(va, Traces) and isinstance(vb, Traces):
            _traces(d, p, va, vb)
        elif isinstance(va, np.ndarray) or isinstance(vb, np.ndarray) or name in (
                "lfp", "lfp_time", "electrodes"):
            d.array(p, va, vb)
        elif name == "lfp_extra":
            d.mapping(p, {k: None for k in va}, {k: None for k in vb})
            for k in va:
                if k in vb:
                    d.array(_join(p, k), va[k], vb[k])
        else:
            d.value(p, jsonable(va), jsonable(vb))


def diff_results(a: Results | Sequence[Results], b: Results | Sequence[Results], *,
                 ignore: Iterable[str] = (), rtol: float = 0.0, atol: float = 0.0,
                 ordered: bool = True) -> list[str]:
    """Every difference between two runs (or two lists of runs), one line each.

    Paths are the :class:`~nethub.results.Results` fields (``spike_times``, ``traces.data``,
    ``traces.index.label``, ``lfp``, ``lfp_extra.dipole``, ``meta.x``, ``name``, ...), prefixed
    with ``runs[i].`` when lists are compared. ``ignore``, ``rtol``, ``atol`` and ``ordered``
    are as for :func:`diff_networks`.
    """
    d = _Diff(ignore, rtol, atol, ordered)
    if isinstance(a, Results) and isinstance(b, Results):
        _one_run(d, "", a, b)
        return d.lines
    if isinstance(a, Results) or isinstance(b, Results):
        return [f"a {type(a).__name__} compared with a {type(b).__name__}"]
    runs_a, runs_b = list(a), list(b)
    if len(runs_a) != len(runs_b):
        d.add("runs", f"{len(runs_a)} runs vs {len(runs_b)}")
    for i, (x, y) in enumerate(zip(runs_a, runs_b)):
        _one_run(d, f"runs[{i}]", x, y)
    return d.lines


def assert_results_equal(a: Results | Sequence[Results], b: Results | Sequence[Results], *,
                         ignore: Iterable[str] = (), rtol: float = 0.0, atol: float = 0.0,
                         ordered: bool = True) -> None:
    """Assert that two runs (or two lists of runs) are equal, with a readable diff.

    Compares spikes (times and gids; the first differing spikes are shown with their gid),
    traces (index table and data, by trace label and gid), LFP, sample times, electrodes,
    every ``lfp_extra`` array, the run documents (sim_config, seeds, versions, timing,
    network_hash, nranks, meta) and the name. Arguments as for :func:`diff_results`.

    Raises
    ------
    AssertionError
        The runs differ.
    """
    _raise("results differ", diff_results(a, b, ignore=ignore, rtol=rtol, atol=atol,
                                          ordered=ordered))


def _raise(title: str, lines: list[str]) -> None:
    if not lines:
        return
    shown = lines[:MAX_LINES]
    more = f"\n  ... and {len(lines) - MAX_LINES} more" if len(lines) > MAX_LINES else ""
    raise AssertionError(f"{title} ({len(lines)} difference(s), first vs second):\n  "
                         + "\n  ".join(shown) + more)
