"""Value ranges of the canonical network: which numbers NEURON can simulate.

One declarative table (:data:`COLUMN_RANGES`) says, per numeric column of the tables in
:mod:`nethub.network`, whether NaN is allowed (NaN means "not set" for some columns) and which
interval the finite values must lie in; :func:`cell_type_findings` checks the numbers of the
cell-type documents (section geometry, locations). Checks are vectorized numpy over whole
columns (a 1M-row column takes milliseconds).

Used by :mod:`nethub.validate` (``nethub validate``, and ``nethub run`` before simulating) and
by :func:`nethub.build` (a built network with a bad number is refused with its key path).
Findings are ``(path, message)`` pairs; the caller decides where they are errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Range", "COLUMN_RANGES", "column_findings", "cell_type_findings",
           "min_delay_findings", "network_findings", "ValueHook"]

_SHOW = 5


@dataclass(frozen=True)
class Range:
    """Allowed values of a float column: NaN allowed?, bounds, and why (for messages)."""

    nan_ok: bool = False
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    what: str = "finite"

    def bad(self, v: np.ndarray) -> np.ndarray:
        """Boolean mask of the values outside this range."""
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(v) & (v >= self.lo) & (v <= self.hi)
            if self.lo_open:
                ok &= v > self.lo
        if self.nan_ok:
            ok |= np.isnan(v)
        return ~ok


FINITE = Range()
LOC = Range(lo=0.0, hi=1.0, what="in [0, 1]")
LOC_OR_NAN = Range(nan_ok=True, lo=0.0, hi=1.0, what="in [0, 1] (or NaN: not set)")
NONNEG = Range(lo=0.0, what="finite and >= 0")
FINITE_OR_NAN = Range(nan_ok=True, what="finite (or NaN: not set)")

#: (table, column) -> Range; undeclared float columns must not hold infinities.
COLUMN_RANGES: dict[tuple[str, str], Range] = {
    ("cells", "x"): FINITE, ("cells", "y"): FINITE, ("cells", "z"): FINITE,
    ("cells", "xnorm"): FINITE_OR_NAN, ("cells", "ynorm"): FINITE_OR_NAN,
    ("cells", "znorm"): FINITE_OR_NAN,
    ("connections", "weight"): FINITE,
    ("connections", "delay"): NONNEG,
    ("connections", "post_loc"): LOC_OR_NAN,  # NaN: an artificial cell (no section)
    ("connections", "pre_loc"): LOC_OR_NAN,
    ("connections", "spike_loc"): LOC_OR_NAN,
    ("connections", "threshold"): FINITE_OR_NAN,
    ("pointer_conns", "pre_loc"): LOC, ("pointer_conns", "post_loc"): LOC,
    ("pointer_conns", "weight"): FINITE_OR_NAN,
    ("stim_targets", "loc"): LOC_OR_NAN,
    ("stim_targets", "weight"): FINITE_OR_NAN,
    # NEURON takes a negative NetCon delay from a NetStim, and NetPyNE's normal() delays make
    # them: simulated as NetPyNE does (docs/safety.md)
    ("stim_targets", "delay"): FINITE_OR_NAN,
}
_OTHER = Range(nan_ok=True, what="not infinite")


def _first(values: np.ndarray) -> str:
    vals = [repr(v.item() if hasattr(v, "item") else v) for v in values[:_SHOW]]
    return ", ".join(vals) + (", ..." if len(values) > _SHOW else "")


def column_findings(table: str, column: str, values: Any, rules: Any = None) -> list[str]:
    """Messages for the values of one column outside its range (empty when fine).

    ``rules`` (the table's ``rule`` column, a Categorical) names the rules of the bad rows.
    """
    if not isinstance(values, np.ndarray) or values.dtype.kind != "f" or values.size == 0:
        return []
    rng = COLUMN_RANGES.get((table, column), _OTHER)
    bad = rng.bad(values)
    if not bad.any():
        return []
    rows = np.flatnonzero(bad)
    msg = f"{len(rows)} value(s) not {rng.what}: {_first(values[rows])} (rows {_first(rows)})"
    if rules is not None and hasattr(rules, "codes") and len(rules.codes) == len(values):
        names = sorted({rules.categories[c] for c in np.unique(rules.codes[rows]) if c >= 0})
        msg += f" from rule(s) {_first(np.array(names, dtype=object))}" if names else ""
    return [msg]


def min_delay_findings(delays: Any, dt: float) -> list[str]:
    """Connection delays below ``dt``: NEURON's ParallelContext exchanges spikes every minimum
    delay and refuses a minimum delay below dt under MPI ("mindelay is 0 (or less than dt for
    fixed step method)"); on one rank such spikes would arrive at a different time than on N."""
    d = np.asarray(delays, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        short = (d >= 0) & (d < dt)  # NaN and negative delays are reported as out of range
    if d.size == 0 or not short.any():
        return []
    rows = np.flatnonzero(short)
    return [f"{len(rows)} connection delay(s) below dt = {dt} ms: {_first(d[rows])} (rows "
            f"{_first(rows)}); NEURON exchanges spikes between ranks every minimum delay and "
            "needs it >= dt (a delay must span at least one time step)"]


# ------------------------------------------------------------------------------ cell types
_GEOM_POSITIVE = ("diam", "L", "Ra", "cm")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def _section_findings(sec: Mapping) -> Iterator[tuple[str, str]]:
    geom = sec.get("geom") or {}
    for key in _GEOM_POSITIVE:
        v = geom.get(key)
        if _num(v) and not (math.isfinite(v) and v > 0):
            yield f"geom.{key}", f"must be a positive finite number, got {v!r}"
    nseg = geom.get("nseg")
    if _num(nseg) and not (math.isfinite(nseg) and nseg >= 1):
        yield "geom.nseg", f"must be >= 1, got {nseg!r}"
    for key in ("parent_x", "child_x", "spike_gen_loc"):
        v = sec.get(key)
        if _num(v) and not (math.isfinite(v) and 0 <= v <= 1):
            yield key, f"must be in [0, 1], got {v!r}"
    pt3d = sec.get("pt3d")
    if pt3d is not None:
        arr = np.asarray(pt3d, dtype=np.float64)
        if arr.size and not np.isfinite(arr).all():
            yield "pt3d", "3-D points must be finite"
        elif arr.size and (arr.reshape(-1, 4)[:, 3] < 0).any():
            yield "pt3d", "3-D point diameters must be >= 0"
    for i, pp in enumerate(sec.get("point_processes") or []):
        loc = pp.get("loc") if isinstance(pp, Mapping) else None
        if _num(loc) and not (math.isfinite(loc) and 0 <= loc <= 1):
            yield f"point_processes[{i}].loc", f"must be in [0, 1], got {loc!r}"
    yield from _param_findings(sec.get("mechs") or {}, "mechs")


def _param_findings(mechs: Mapping, where: str) -> Iterator[tuple[str, str]]:
    for mech, params in mechs.items():
        if not isinstance(params, Mapping):
            continue
        for name, v in params.items():
            vals = np.asarray(v, dtype=np.float64) if _num(v) or (
                isinstance(v, list) and all(_num(x) for x in v)) else None
            if vals is not None and vals.size and not np.isfinite(vals).all():
                yield f"{where}.{mech}.{name}", "must be finite"


def cell_type_findings(cell_types: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(where, message)`` for bad numbers in cell-type documents (dicts or CellType)."""
    out = []
    for name, ct in cell_types.items():
        d = ct if isinstance(ct, Mapping) else ct.to_dict()
        for sname, sec in (d.get("sections") or {}).items():
            if isinstance(sec, Mapping):
                out += [(f"cell type {name!r} section {sname!r} {k}", m)
                        for k, m in _section_findings(sec)]
    return out


def network_findings(net: Any) -> list[tuple[str, str]]:
    """``(table/column or model path, message)`` for every bad number of a Network."""
    out: list[tuple[str, str]] = []
    for tname in ("cells", "connections", "pointer_conns", "stim_targets"):
        table = getattr(net, tname)
        rules = table.columns.get("rule")
        for cname, col in table.columns.items():
            out += [(f"{tname}/{cname}", m) for m in column_findings(tname, cname, col, rules)]
    out += [(f"model/cell_types: {w}", m) for w, m in cell_type_findings(net.cell_types)]
    return out


class ValueHook:
    """Checks the float columns of one stored table as a reader sees them (each read once);
    the rules of bad rows are named afterwards, only when something is wrong.

    Call it with ``(column name, HDF5 path, data)`` for every array column, then
    :meth:`report` with an ``error(path, message)`` callback and a loader of the ``rule``
    column. With ``dt``, connection delays below it are errors too (:func:`min_delay_findings`).
    """

    def __init__(self, table: str, dt: float | None = None) -> None:
        self.table, self.dt = table, dt
        self.bad: list[tuple[str, str, np.ndarray]] = []

    def _delays(self, name: str) -> bool:
        return self.dt is not None and (self.table, name) == ("connections", "delay")

    def __call__(self, name: str, path: str, data: np.ndarray) -> None:
        if data.dtype.kind != "f":
            return
        if (self._delays(name) and min_delay_findings(data, self.dt)) or column_findings(
                self.table, name, data):
            self.bad.append((name, path, data))

    def report(self, error: Callable[[str, str], None], rules: Callable[[], Any]) -> None:
        """Emit the findings; ``rules()`` loads the rule column (only if there are any)."""
        rule_col = rules() if self.bad else None
        for name, path, data in self.bad:
            for msg in column_findings(self.table, name, data, rule_col):
                error(path, msg)
            if self._delays(name):
                for msg in min_delay_findings(data, self.dt):
                    error(path, msg)
