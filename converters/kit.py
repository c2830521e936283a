"""The converter kit: declarative translation tables between a format's native columns (or keys)
and nethub's canonical tables, with vectorized mappers in both directions that report losses.

A converter declares, once per table, which native key becomes which canonical column, with its
type, unit, default, scale and what is lost when it cannot be carried::

    CONNS = Translation("connections", native_name="conns", row_name="connections", fields=(
        Field("preGid", "pre_gid", what="gid", null="error"),
        Field("weight", "weight", default=1.0, null="error"),
        Field("delay", "delay", unit="ms", null="error"),
        Field("plast", "plast", codec=JSON),
    ))
    columns = CONNS.to_canonical(records, lost, where=paths)    # native -> canonical
    records = CONNS.to_native(table, lost, records=True)        # canonical -> native

Defaults come from the model's column declarations (:data:`nethub.network.TABLE_SCHEMAS`) unless
a field says otherwise; the losses are the plain strings every format returns
(:attr:`nethub.formats.Document.lost`), with counts. See ``docs/adding-a-format.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import jsonable
from nethub.errors import FormatError
from nethub.network import TABLE_SCHEMAS
from nethub.table import Categorical, ColumnSpec, Ragged, Table

__all__ = ["Field", "Translation", "Codec", "JSON", "MODEL", "OMIT", "KEEP", "ABSENT",
           "count_unknown", "count_present", "note_loss", "is_missing"]


class _Marker:
    """A named sentinel (MODEL, OMIT, KEEP, ABSENT)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: ``Field.default``: the model's declared default of the canonical column.
MODEL = _Marker("MODEL")
#: ``Field.write_missing``: leave the native key out when the canonical value is missing.
OMIT = _Marker("OMIT")
#: ``Field.write_missing``: write the canonical missing value itself (NaN, None).
KEEP = _Marker("KEEP")
#: A native key that is not there (in records).
ABSENT = _Marker("ABSENT")

_DIRECTIONS = ("both", "in", "out")
_NULLS = ("missing", "default", "error")
_REAL_TYPES = (float, int, np.floating, np.integer)


@dataclass(frozen=True)
class Codec:
    """Per-value conversion for what a dtype and a scale cannot say (e.g. a dict kept as JSON).

    Attributes
    ----------
    to_canonical : callable
        Native value (present, not None) -> canonical value.
    to_native : callable
        Canonical value (not missing) -> native value.
    """

    to_canonical: Callable[[Any], Any]
    to_native: Callable[[Any], Any]


def _json_in(value: Any) -> str | None:
    return json.dumps(jsonable(value), sort_keys=True) if value else None


#: A nested structure kept as canonical (sorted-key) JSON text; empty values are missing.
JSON = Codec(_json_in, json.loads)


@dataclass(frozen=True)
class Field:
    """One native key/column ⇄ one canonical column.

    Parameters
    ----------
    native : str or tuple of str or None
        The native key, or a path of keys into nested dicts (``("pointer", "sourceVar")``).
        None: the field has no native side (a canonical column the format cannot hold).
    canonical : str or None
        The canonical column. None: a native key with no canonical column (only reported,
        with ``lost``, when found; or, with ``direction='out'``, a constant ``default`` written).
    dtype : str, optional
        numpy dtype, ``'category'`` or ``'ragged'``; default: the model's declared kind.
    unit : str, optional
        The native unit (documentation; the conversion is ``scale``).
    default : any
        Canonical value of rows where the native key is absent; ``MODEL``: the model's declared
        default. With ``canonical=None`` and ``direction='out'``: the constant native value.
    scale : float
        ``native * scale == canonical``.
    lost : str, optional
        What is lost, reported with a row count: on reading when the native key is present but
        the field has no canonical column (or ``direction='out'``); on writing when the column
        holds values but the field has no native side (or ``direction='in'``).
    direction : {'both', 'in', 'out'}
        Which mapper uses the field ('in': native -> canonical only).
    null : {'missing', 'default', 'error'}
        What a native None means: the canonical missing value (NaN/None), the default, or an
        error naming the key path.
    write_missing : any
        What to write for a missing canonical value (NaN, None, or for integer columns the
        default): ``KEEP`` the value itself, ``OMIT`` the key, or a given native value.
    codec : Codec, optional
        Per-value conversion, applied after the checks (native -> canonical) / before writing.
    optional : bool
        Produce the canonical column only when some row differs from the default.
    what : str
        Word used in error messages for integers (``'gid'``: "expected an integer gid").
    """

    native: str | tuple[str, ...] | None
    canonical: str | None
    dtype: str | None = None
    unit: str | None = None
    default: Any = MODEL
    scale: float = 1.0
    lost: str | None = None
    direction: str = "both"
    null: str = "missing"
    write_missing: Any = KEEP
    codec: Codec | None = None
    optional: bool = False
    what: str = ""

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"Field {self.native!r}: direction must be one of {_DIRECTIONS}")
        if self.null not in _NULLS:
            raise ValueError(f"Field {self.native!r}: null must be one of {_NULLS}")
        if self.native is None and self.canonical is None:
            raise ValueError("a Field needs a native key, a canonical column, or both")

    @property
    def path(self) -> tuple[str, ...]:
        """The native key path (empty without a native side)."""
        if self.native is None:
            return ()
        return (self.native,) if isinstance(self.native, str) else tuple(self.native)

    @property
    def key(self) -> str:
        """The native key as written in messages: ``'weight'`` or ``'pointer']['sourceVar'``."""
        return "']['".join(self.path)

    @property
    def reads(self) -> bool:
        return self.direction in ("both", "in") and self.native is not None \
            and self.canonical is not None

    @property
    def writes(self) -> bool:
        return self.direction in ("both", "out") and self.native is not None and (
            self.canonical is not None or self.direction == "out")


def is_missing(values: Any) -> np.ndarray:
    """Boolean mask of missing canonical values (None, NaN) in a list or array."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    if arr.dtype.kind in "iub":
        return np.zeros(len(arr), dtype=bool)
    return np.fromiter((v is None or (isinstance(v, float) and math.isnan(v)) for v in arr),
                       dtype=bool, count=len(arr))


def count_present(col: Any) -> int:
    """How many rows of a canonical column hold a value (not NaN, None, an empty ragged row;
    every row of an integer or boolean column)."""
    return int((~_missing_of(col, None)).sum())


def note_loss(lost: list[str], where: str, count: int, what: str, rows: str) -> None:
    """Append ``"<where>: <what> (<count> <rows>)"`` once (nothing when ``count`` is 0)."""
    if count:
        note = f"{where}: {what} ({count} {rows})"
        if note not in lost:
            lost.append(note)


def count_unknown(records: Sequence[Mapping], known: set[str] | frozenset[str]
                  ) -> dict[str, int]:
    """How many records hold each key not in ``known``, keys in order of first appearance."""
    out: dict[str, int] = {}
    for r in records:
        for k in r:
            if k not in known:
                out[k] = out.get(k, 0) + 1
    return out


# ------------------------------------------------------------------------------ reading
def _lookup(record: Any, path: tuple[str, ...], where: str) -> Any:
    value: Any = record
    for i, key in enumerate(path):
        if type(value) is not dict and not isinstance(value, Mapping):
            keys = "".join(f"['{k}']" for k in path[:i])
            raise FormatError(f"{where}{keys}: expected a dict, got {type(value).__name__}")
        value = value.get(key, ABSENT)
        if value is ABSENT or (value is None and i < len(path) - 1):
            return ABSENT
    return value


def _native_values(native: Any, f: Field, n: int, where: Callable[[int], str],
                   dicts: bool = False) -> list:
    """The values of one field over all rows (ABSENT where the key is not there)."""
    if isinstance(native, pd.DataFrame):
        native = {c: native[c].to_numpy() for c in native.columns}
    path = f.path
    if isinstance(native, Mapping):
        col = native.get("/".join(path), ABSENT)  # nested keys as 'a/b' columns
        return [ABSENT] * n if col is ABSENT else list(np.asarray(col, dtype=object))
    if len(path) == 1 and dicts:
        key = path[0]
        return [r.get(key, ABSENT) for r in native]
    return [_lookup(r, path, where(i)) for i, r in enumerate(native)]


def _bad_value(f: Field, where: str, value: Any, kind: str) -> FormatError:
    word = f"an integer {f.what}".rstrip() if kind == "i" else "a number"
    return FormatError(f"{where}['{f.key}']: expected {word}, got {value!r}")


def _numeric(f: Field, vals: list, kind: str, where: Callable[[int], str]) -> np.ndarray:
    """Check and convert numbers (bools and text refused, integers must be whole)."""
    types = set(map(type, vals))
    ok = types <= {float, int} or all(isinstance(v, _REAL_TYPES) and not isinstance(
        v, (bool, np.bool_)) for v in vals)
    if not ok:
        i = next(i for i, v in enumerate(vals) if isinstance(v, (bool, np.bool_))
                 or not isinstance(v, Real))
        raise _bad_value(f, where(i), vals[i], "f")
    arr = np.array(vals, dtype=np.float64)
    if kind == "i":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise _bad_value(f, where(i), vals[i], "i")
    return arr


@dataclass(frozen=True)
class Translation:
    """The fields of one canonical table, and the two mappers.

    Parameters
    ----------
    table : str
        The canonical table (``'cells'``, ``'connections'``, ``'pointer_conns'``,
        ``'stim_targets'``, or a format's own name with ``schema`` given).
    fields : sequence of Field
        In native writing order.
    native_name : str
        What the native rows are called in messages (``"conns"``).
    row_name : str
        What one row is called in counts (``"connections"``).
    ignore : frozenset of str
        Native keys known and deliberately not carried (never reported).
    schema : mapping of str to ColumnSpec, optional
        Canonical column declarations; default ``TABLE_SCHEMAS[table]``.
    """

    table: str
    fields: tuple[Field, ...]
    native_name: str = "rows"
    row_name: str = "rows"
    ignore: frozenset[str] = frozenset()
    schema: Mapping[str, ColumnSpec] | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", tuple(self.fields))
        for f in self.fields:
            if f.canonical is not None and f.dtype is None and f.canonical not in self.columns:
                raise ValueError(f"Translation {self.table!r}: column {f.canonical!r} is not "
                                 "declared by the model; give the Field a dtype")

    @property
    def columns(self) -> Mapping[str, ColumnSpec]:
        """The canonical column declarations."""
        return self.schema if self.schema is not None else TABLE_SCHEMAS.get(self.table, {})

    @property
    def known(self) -> frozenset[str]:
        """Top-level native keys the translation knows (fields and ``ignore``)."""
        return frozenset(f.path[0] for f in self.fields if f.path) | self.ignore

    def kind(self, f: Field) -> str:
        """The canonical kind of a field's column."""
        return f.dtype or self.columns[f.canonical].kind  # type: ignore[index]

    def default(self, f: Field) -> Any:
        """The canonical default of a field."""
        if f.default is not MODEL:
            return f.default
        spec = self.columns.get(f.canonical) if f.canonical else None
        return spec.default if spec is not None else None

    # -------------------------------------------------------------- native -> canonical
    def to_canonical(self, native: Any, lost: list[str], *,
                     where: Sequence[str] | Callable[[int], str] | None = None,
                     defaults: Mapping[str, Any] | None = None,
                     report_unknown: bool = True) -> dict[str, Any]:
        """Map native rows to canonical columns.

        Parameters
        ----------
        native : list of dict, dict of arrays, or pandas.DataFrame
            The native rows (records may nest: fields with key paths).
        lost : list of str
            Receives what is not carried over, with counts.
        where : sequence of str or callable, optional
            Each row's key path for messages (``"net['cells'][3]['conns'][0]"``); default
            ``"<native_name>[i]"``.
        defaults : mapping of str to scalar or array, optional
            Per-column defaults overriding the fields' (an array gives one per row), for
            defaults the converter computes from context.
        report_unknown : bool
            Report native keys no field knows (records and tables only).

        Returns
        -------
        dict of str to column
            Canonical columns (numpy arrays of the canonical dtype, ``Categorical``,
            ``Ragged``), in field order; absent values hold the defaults.

        Raises
        ------
        FormatError
            A value has the wrong type; the message names its key path.
        """
        n = len(native) if not isinstance(native, Mapping) else (
            len(next(iter(native.values()))) if native else 0)
        where_of = _where_function(where, self.native_name)
        dicts = not isinstance(native, (Mapping, pd.DataFrame)) and all(
            type(r) is dict for r in native)
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.native is not None and f.lost and (f.canonical is None or
                                                    f.direction == "out"):
                vals = _native_values(native, f, n, where_of)
                note_loss(lost, f"{self.native_name} key '{f.key}'",
                          sum(v is not ABSENT for v in vals), f.lost, self.row_name)
            if not f.reads:
                continue
            override = (defaults or {}).get(f.canonical, ABSENT)
            col = self._fast_column(f, native, n) if override is ABSENT else None
            if col is None:
                col = self._column(f, _native_values(native, f, n, where_of, dicts),
                                   where_of, override)
            if col is not None:
                out[f.canonical] = col  # type: ignore[index]
        if report_unknown and n:
            columnar = isinstance(native, (Mapping, pd.DataFrame))
            keys = [str(k).split("/")[0] for k in native] if columnar else None
            unknown = ({k: n for k in dict.fromkeys(keys) if k not in self.known}
                       if keys is not None
                       else count_unknown(native, self.known))
            for k, count in unknown.items():
                note_loss(lost, f"{self.native_name} key '{k}'", count, "not mapped",
                          self.row_name)
        return out

    def _fast_column(self, f: Field, native: Any, n: int) -> Any:
        """A numeric native column given as an array, converted without a Python loop
        (None: not that case)."""
        if isinstance(native, (list, tuple)) or f.codec is not None or f.optional:
            return None
        kind, key = self.kind(f), "/".join(f.path)
        if key not in native:
            return _filled(kind, self.default(f), n)
        if kind in ("category", "ragged", "object"):
            return None
        arr = np.asarray(native[key])
        if arr.dtype.kind not in "iuf" or (arr.dtype.kind == "f" and np.dtype(kind).kind in "iu"):
            return None
        if f.scale != 1.0:
            arr = arr * f.scale
        return arr.astype(kind)

    def _column(self, f: Field, vals: list, where: Callable[[int], str], override: Any) -> Any:
        kind = self.kind(f)
        default = self.default(f)
        fill = [default] * len(vals) if override is ABSENT else (
            list(np.asarray(override, dtype=object)) if np.ndim(override) else
            [override] * len(vals))
        missing = _missing_value(kind)
        todo = range(len(vals)) if f.codec is not None else [
            i for i, v in enumerate(vals) if v is None or v is ABSENT]
        for i in todo:
            v = vals[i]
            if v is None:
                if f.null == "error":
                    raise _bad_value(f, where(i), v, "i" if kind.startswith(("int", "uint"))
                                     else "f")
                vals[i] = fill[i] if f.null == "default" else missing
            elif v is ABSENT:
                vals[i] = fill[i]
            elif f.codec is not None:
                vals[i] = f.codec.to_canonical(v)
        if f.optional and all(v == default for v in vals):
            return None
        if kind == "category":
            return Categorical.from_values([None if v is None else str(v) for v in vals])
        if kind == "ragged":
            return Ragged.from_lists([[] if v is None else list(v) for v in vals])
        if kind == "object":
            return np.array(vals, dtype=object)
        numeric_kind = "i" if np.dtype(kind).kind in "iu" else "f"
        arr = _numeric(f, vals, numeric_kind, where)
        if f.scale != 1.0:
            arr = arr * f.scale
        return arr.astype(kind)

    # -------------------------------------------------------------- canonical -> native
    def to_native(self, table: Table | Mapping[str, Any], lost: list[str], *,
                  records: bool = False, report_extra: bool = True) -> Any:
        """Map a canonical table to native columns or records.

        Parameters
        ----------
        table : Table or mapping of str to column
        lost : list of str
            Receives what the native side cannot hold, with counts: columns no field writes
            (extra columns, when ``report_extra``) and fields without a native side.
        records : bool
            Return one dict per row (nested for key paths; keys in field order) instead of a
            dict of native columns (numpy arrays, or lists for text; a key path ``('a', 'b')``
            is the column ``'a/b'``, which :meth:`to_canonical` reads back).

        Returns
        -------
        dict of str to array, or list of dict
        """
        cols = table.columns if isinstance(table, Table) else dict(table)
        n = len(table) if isinstance(table, Table) else (
            len(next(iter(cols.values()))) if cols else 0)
        self._report_unwritten(cols, lost, report_extra)
        native: dict[tuple[str, ...], Any] = {}
        omit: dict[tuple[str, ...], np.ndarray] = {}
        for f in self.fields:
            if not f.writes:
                continue
            values, mask = self._native_column(f, cols, n)
            native[f.path] = values
            if mask is not None:
                omit[f.path] = mask
        if not records:
            return {"/".join(p): v for p, v in native.items()}
        return _records({p: _plain_list(v) for p, v in native.items()}, omit, n)

    def _report_unwritten(self, cols: Mapping[str, Any], lost: list[str], extra: bool) -> None:
        written = {f.canonical for f in self.fields if f.writes and f.canonical}
        for f in self.fields:
            if f.canonical in cols and not f.writes and f.lost:
                note_loss(lost, f"{self.table} column '{f.canonical}'",
                          int((~_missing_of(cols[f.canonical], self.default(f))).sum()),
                          f.lost, self.row_name)
        if extra:
            declared = {f.canonical for f in self.fields}
            for name, col in cols.items():
                if name not in written and name not in declared and name not in self.columns:
                    note_loss(lost, f"{self.table} column '{name}'",
                              int((~_missing_of(col, None)).sum()),
                              f"no place in {self.native_name}; dropped", self.row_name)

    def _native_column(self, f: Field, cols: Mapping[str, Any], n: int
                       ) -> tuple[Any, np.ndarray | None]:
        if f.canonical is None:
            return [f.default] * n, None
        if f.canonical not in cols:
            default = self.default(f)
            if f.write_missing is OMIT:
                return [default] * n, np.ones(n, dtype=bool)
            return [default if f.write_missing is KEEP else f.write_missing] * n, None
        col = cols[f.canonical]
        if isinstance(col, Categorical):
            values: Any = col.values().tolist()
        elif isinstance(col, Ragged):
            values = [col.row(i).tolist() for i in range(len(col))]
        else:
            values = np.asarray(col)
            if f.scale != 1.0 and values.dtype.kind in "iuf":
                values = values / f.scale
        missing = _missing_of(col, self.default(f) if self.kind(f).startswith(("int", "uint"))
                              else None)
        mask = None
        if f.write_missing is OMIT:
            mask = missing
        elif f.write_missing is not KEEP and missing.any():
            values = [f.write_missing if m else v for v, m in zip(_plain_list(values),
                                                                  missing.tolist())]
        if f.codec is not None:
            values = [v if m else f.codec.to_native(v) for v, m in zip(_plain_list(values),
                                                                      missing.tolist())]
        return values, mask


def _filled(kind: str, value: Any, n: int) -> Any:
    """A canonical column of ``n`` times ``value``."""
    if kind == "category":
        return Categorical.from_values([value] * min(n, 1)).take(np.zeros(n, dtype=np.int64)) \
            if value is not None else Categorical(np.full(n, -1, dtype=np.int32), [])
    if kind == "ragged":
        return Ragged.from_lists([[] for _ in range(n)])
    if kind == "object":
        return np.full(n, value, dtype=object)
    return np.full(n, math.nan if value is None else value, dtype=kind)


def _missing_value(kind: str) -> Any:
    if kind in ("category", "ragged", "object"):
        return None
    return math.nan if np.dtype(kind).kind == "f" else None


def _missing_of(col: Any, int_default: Any) -> np.ndarray:
    """Missing entries of a canonical column (integers: equal to ``int_default``)."""
    if isinstance(col, Categorical):
        return col.codes < 0
    if isinstance(col, Ragged):
        return col.lengths() == 0
    arr = np.asarray(col)
    if arr.dtype.kind in "iub":
        return (arr == int_default) if int_default is not None else np.zeros(len(arr), bool)
    return is_missing(arr)


def _plain_list(values: Any) -> list:
    """Python values (what JSON and pickles of native records hold)."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _where_function(where: Sequence[str] | Callable[[int], str] | None, name: str
                    ) -> Callable[[int], str]:
    if where is None:
        return lambda i: f"{name}[{i}]"
    if callable(where):
        return where
    return where.__getitem__


def _records(native: dict[tuple[str, ...], Any], omit: dict[tuple[str, ...], np.ndarray],
             n: int) -> list[dict]:
    """One dict per row, nested by key path, without the omitted keys."""
    flat = [p for p in native if len(p) == 1]
    nested: dict[str, list[tuple[str, ...]]] = {}
    for p in native:
        if len(p) > 1:
            nested.setdefault(p[0], []).append(p)
    order = list(dict.fromkeys(p[0] for p in native))
    columns = []
    for top in order:
        if top in nested:
            subs = nested[top]
            columns.append([dict(zip([p[1] for p in subs], vals))
                            for vals in zip(*(native[p] for p in subs))] if n else [])
        else:
            columns.append(native[(top,)])
    out = [dict(zip(order, vals)) for vals in zip(*columns)] if order else [{} for _ in range(n)]
    for p in flat:
        if p in omit:
            for i in np.flatnonzero(omit[p]).tolist():
                del out[i][p[0]]
    return out
