"""Columnar tables with fixed dtypes: the storage form of cells, connections and stimuli.

A :class:`Table` is an ordered mapping of column name to column. A column is one of

- a 1-D numpy array of a fixed dtype (``int64``, ``int32``, ``float64``, ``float32``, ``bool``,
  ``uint8``, ...),
- a :class:`Categorical` (``int32`` codes into a list of unique strings; code ``-1`` is missing),
  the form of every string column, so that each distinct string is stored once,
- a :class:`Ragged` column (a flat value array and ``int64`` offsets), for per-row lists such as
  a VecStim cell's spike times.

Tables never hold Python objects per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Categorical", "Ragged", "Column", "Table", "ColumnSpec", "NUMERIC_KINDS"]

NUMERIC_KINDS = frozenset("biuf")  # bool, signed, unsigned, float


def _factorized(vals: list) -> tuple[np.ndarray, list[str]] | None:
    """Codes (first-appearance order, ``None`` -> -1) and categories of ``vals`` by
    ``pandas.factorize``; None where that would differ from ``str`` of each value (NaN
    values, distinct values with the same text): the caller then goes value by value."""
    arr = np.empty(len(vals), dtype=object)
    try:
        arr[:] = vals
        codes, uniques = pd.factorize(arr)
    except (ValueError, TypeError):  # sequences as values (numpy rows, unhashable)
        return None
    missing = codes < 0
    if missing.any() and not all(v is None for v in arr[missing].tolist()):
        return None
    cats = [str(u) for u in uniques.tolist()]
    if len(set(cats)) != len(cats):
        return None
    return codes.astype(np.int32), cats


@dataclass(eq=False)
class Categorical:
    """A string column: ``int32`` codes into ``categories`` (each string stored once)."""

    codes: np.ndarray
    categories: list[str]

    def __post_init__(self) -> None:
        self.codes = np.ascontiguousarray(self.codes, dtype=np.int32)
        self.categories = [str(c) for c in self.categories]
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories of a Categorical must be unique")
        if self.codes.size and (self.codes.min() < -1 or self.codes.max() >= len(self.categories)):
            raise ValueError("Categorical codes out of range of its categories")

    @classmethod
    def from_values(cls, values: Iterable[str | None]) -> Categorical:
        """Build from a sequence of strings (``None`` becomes a missing value, code -1)."""
        vals = list(values)
        fast = _factorized(vals)  # no Python step per value (100,000-connection imports)
        if fast is not None:
            return cls(*fast)
        cats: dict[str, int] = {}
        codes = np.empty(len(vals), dtype=np.int32)
        for i, v in enumerate(vals):
            codes[i] = -1 if v is None else cats.setdefault(str(v), len(cats))
        return cls(codes, list(cats))

    @classmethod
    def constant(cls, value: str, n: int) -> Categorical:
        """A column of ``n`` copies of ``value``."""
        return cls(np.zeros(n, dtype=np.int32), [value]) if n else cls(np.zeros(0), [])

    def __len__(self) -> int:
        return len(self.codes)

    def values(self) -> np.ndarray:
        """The strings as an object array (``None`` for missing)."""
        lut = np.array([*self.categories, None], dtype=object)
        return lut[self.codes]

    def take(self, idx: np.ndarray | slice) -> Categorical:
        return Categorical(self.codes[idx], self.categories)

    def code_of(self, value: str) -> int:
        """The code of ``value`` or -1 when absent."""
        try:
            return self.categories.index(value)
        except ValueError:
            return -1

    def compact(self) -> Categorical:
        """Drop unused categories, keeping the order of first use."""
        used = np.unique(self.codes[self.codes >= 0])
        remap = np.full(len(self.categories) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        return Categorical(remap[self.codes], [self.categories[i] for i in used])

    def normalized(self) -> Categorical:
        """Unused categories dropped, the rest in order of first use (value-equal columns
        normalise to identical codes and categories)."""
        codes, k = self.codes, len(self.categories)
        order = _first_uses(codes, k)
        if len(order) == k and np.array_equal(order, np.arange(k)):  # already normalised
            return Categorical(codes, self.categories)
        remap = np.full(len(self.categories) + 1, -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        return Categorical(remap[self.codes], [self.categories[i] for i in order])

    def equals(self, other: object) -> bool:
        if not isinstance(other, Categorical) or len(self) != len(other):
            return False
        return bool(np.array_equal(self.values(), other.values()))


def _first_uses(codes: np.ndarray, k: int, block: int = 1 << 18) -> np.ndarray:
    """The codes ``0..k-1`` that occur in ``codes``, in order of first occurrence.

    Equal to ``used[np.argsort(first)]`` of ``np.unique(codes, return_index=True)`` (missing
    codes dropped) but linear: blocks are scanned with ``bincount`` and only a block that holds
    new codes is searched.
    """
    seen = np.zeros(k + 1, dtype=bool)  # index code + 1; slot 0 is "missing"
    seen[0] = True
    out: list[np.ndarray] = []
    for start in range(0, len(codes), block):
        blk = codes[start:start + block]
        new = np.flatnonzero((np.bincount(blk + 1, minlength=k + 1) > 0) & ~seen)
        if not len(new):
            continue
        if len(new) <= 16:
            first = np.array([np.argmax(blk == c - 1) for c in new])
            out.append(new[np.argsort(first)] - 1)
        else:
            used, first = np.unique(blk, return_index=True)
            is_new = ~seen[used + 1]
            out.append(used[is_new][np.argsort(first[is_new])])
        seen[new] = True
        if seen.all():
            break
    return np.concatenate(out).astype(np.int32) if out else np.zeros(0, dtype=np.int32)


@dataclass(eq=False)
class Ragged:
    """Per-row variable-length lists: row ``i`` is ``values[offsets[i]:offsets[i+1]]``."""

    values: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.ascontiguousarray(self.values)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or len(self.offsets) < 1 or self.offsets[0] != 0:
            raise ValueError("Ragged offsets must be 1-D, non-empty and start at 0")
        if np.any(np.diff(self.offsets) < 0) or self.offsets[-1] != len(self.values):
            raise ValueError("Ragged offsets must be non-decreasing and end at len(values)")

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[float]], dtype=np.float64) -> Ragged:
        lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        flat = [v for r in rows for v in r]
        return cls(np.asarray(flat, dtype=dtype).reshape(-1), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def take(self, idx: np.ndarray | slice) -> Ragged:
        rows = np.arange(len(self))[idx]
        lens = self.lengths()[rows]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        if len(rows) == 0:
            return Ragged(self.values[:0], offsets)
        starts = self.offsets[rows]
        flat_idx = np.repeat(starts - offsets[:-1], lens) + np.arange(offsets[-1])
        return Ragged(self.values[flat_idx], offsets)

    def tolist(self) -> list[list]:
        return [self.row(i).tolist() for i in range(len(self))]

    def equals(self, other: object) -> bool:
        return (
            isinstance(other, Ragged)
            and self.values.dtype == other.values.dtype
            and np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.values, other.values, equal_nan=self.values.dtype.kind == "f")
        )


Column = np.ndarray | Categorical | Ragged


@dataclass(frozen=True)
class ColumnSpec:
    """A declared column: its kind (a numpy dtype, ``'category'`` or ``'ragged'``) and default."""

    kind: str
    default: object = None
    doc: str = ""

    def empty(self, n: int) -> Column:
        """A column of ``n`` default values."""
        if self.kind == "category":
            return Categorical.constant(self.default, n) if self.default is not None else (
                Categorical(np.full(n, -1, dtype=np.int32), [])
            )
        if self.kind == "ragged":
            return Ragged(np.zeros(0), np.zeros(n + 1, dtype=np.int64))
        return np.full(n, self.default, dtype=self.kind)

    def coerce(self, name: str, value: object, n: int | None) -> Column:
        """Convert user data to this column's kind, raising ``TypeError`` naming the column."""
        if self.kind == "category":
            return value if isinstance(value, Categorical) else Categorical.from_values(value)
        if self.kind == "ragged":
            return value if isinstance(value, Ragged) else Ragged.from_lists(list(value))
        arr = np.asarray(value)
        if arr.ndim == 0 and n is not None:
            arr = np.full(n, arr)
        try:
            return np.ascontiguousarray(arr.astype(self.kind, casting="same_kind", copy=False))
        except TypeError:
            if arr.dtype.kind in "iub" and np.dtype(self.kind).kind == "f":
                return np.ascontiguousarray(arr.astype(self.kind))
            raise TypeError(
                f"column '{name}' needs dtype {self.kind}, got {arr.dtype}"
            ) from None


def _all_text(seq: list) -> bool:
    """Whether every value is a ``str`` or ``None`` (pandas' type inference over the whole
    list; value by value only over its missing values)."""
    arr = np.empty(len(seq), dtype=object)
    try:
        arr[:] = seq
    except ValueError:  # equally long sequences: not text
        return False
    if pd.api.types.infer_dtype(arr, skipna=True) not in ("string", "empty"):
        return False
    return all(v is None or isinstance(v, str) for v in arr[pd.isna(arr)].tolist())


def _check_column(name: str, col: object) -> Column:
    if isinstance(col, (Categorical, Ragged)):
        return col
    if isinstance(col, np.ndarray):
        if col.ndim != 1:
            raise ValueError(f"column '{name}' must be 1-D, got shape {col.shape}")
        if col.dtype.kind in NUMERIC_KINDS:
            return np.ascontiguousarray(col)
        if col.dtype.kind in "OUS":
            return Categorical.from_values(None if v is None else str(v) for v in col)
        raise TypeError(f"column '{name}' has unsupported dtype {col.dtype}")
    seq = list(col)  # type: ignore[call-overload]
    if seq and _all_text(seq):
        return Categorical.from_values(seq)
    return _check_column(name, np.asarray(seq))


def column_equal(a: Column, b: Column) -> bool:
    """Exact equality of two columns (NaN equals NaN; dtypes must match)."""
    if isinstance(a, (Categorical, Ragged)):
        return a.equals(b)
    if not isinstance(b, np.ndarray) or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


class Table:
    """An ordered set of equally long columns.

    Parameters
    ----------
    columns : mapping of str to column data
        numpy arrays, :class:`Categorical`, :class:`Ragged`, or sequences (strings become
        categoricals).
    schema : mapping of str to ColumnSpec, optional
        Declared columns: missing ones are filled with their defaults, given ones are coerced
        to the declared kind. Undeclared columns are kept as given ("extra" columns).
    n : int, optional
        The number of rows, needed when no column is given.
    """

    def __init__(
        self,
        columns: Mapping[str, object] | None = None,
        schema: Mapping[str, ColumnSpec] | None = None,
        n: int | None = None,
    ) -> None:
        columns = dict(columns or {})
        self.schema = dict(schema or {})
        self.columns: dict[str, Column] = {}
        for name, spec in self.schema.items():
            if name in columns:
                self.columns[name] = spec.coerce(name, columns.pop(name), n)
        for name, col in columns.items():
            self.columns[name] = _check_column(name, col)
        lengths = {len(c) for c in self.columns.values()}
        if n is not None:
            lengths.add(n)
        if len(lengths) > 1:
            detail = ", ".join(f"{k}={len(v)}" for k, v in self.columns.items())
            raise ValueError(f"table columns differ in length ({detail})")
        self.n = lengths.pop() if lengths else 0
        for name, spec in self.schema.items():
            if name not in self.columns:
                self.columns[name] = spec.empty(self.n)
        order = list(self.schema) + [k for k in self.columns if k not in self.schema]
        self.columns = {k: self.columns[k] for k in order}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def __setitem__(self, name: str, value: object) -> None:
        spec = self.schema.get(name)
        col = spec.coerce(name, value, self.n) if spec else _check_column(name, value)
        if len(col) != self.n:
            raise ValueError(f"column '{name}' has {len(col)} rows, table has {self.n}")
        self.columns[name] = col

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    @property
    def extra_columns(self) -> list[str]:
        """Columns beyond the declared schema."""
        return [k for k in self.columns if k not in self.schema]

    def take(self, idx: np.ndarray | slice) -> Table:
        """The rows ``idx`` (an index array, boolean mask or slice) as a new table."""
        if isinstance(idx, np.ndarray) and idx.dtype == bool:
            idx = np.flatnonzero(idx)
        cols = {k: (v.take(idx) if not isinstance(v, np.ndarray) else v[idx])
                for k, v in self.columns.items()}
        n = len(np.arange(self.n)[idx])
        return Table(cols, self.schema, n=n)

    def equals(self, other: object) -> bool:
        if not isinstance(other, Table) or self.n != other.n:
            return False
        if list(self.columns) != list(other.columns):
            return False
        return all(column_equal(self.columns[k], other.columns[k]) for k in self.columns)

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame view for users: categoricals become pandas categoricals, ragged lists."""
        data = {}
        for k, v in self.columns.items():
            if isinstance(v, Categorical):
                data[k] = pd.Categorical.from_codes(v.codes, categories=v.categories)
            elif isinstance(v, Ragged):
                data[k] = pd.Series([v.row(i) for i in range(len(v))], dtype=object)
            else:
                data[k] = v
        return pd.DataFrame(data, index=pd.RangeIndex(self.n))

    @classmethod
    def concat(cls, tables: Sequence[Table], schema: Mapping[str, ColumnSpec] | None = None
               ) -> Table:
        """Stack tables (categories are merged). A column some tables lack is filled there
        with missing values: code -1 for categoricals, empty lists for ragged columns, NaN for
        numbers (integer and bool columns then become float64)."""
        tables = [t for t in tables if t is not None]
        if not tables:
            return cls(schema=schema)
        names = list(dict.fromkeys(k for t in tables for k in t.columns))
        cols: dict[str, Column] = {}
        for name in names:
            model = next(t.columns[name] for t in tables if name in t.columns)
            parts = [t.columns[name] if name in t.columns else _missing_like(model, len(t))
                     for t in tables]
            if any(name not in t.columns for t in tables) and isinstance(model, np.ndarray):
                parts = [np.asarray(p, dtype=np.float64) for p in parts]
            cols[name] = _concat_columns(name, parts)
        return cls(cols, schema if schema is not None else tables[0].schema,
                   n=sum(len(t) for t in tables))

    def __repr__(self) -> str:
        return f"Table({self.n} rows: {', '.join(self.columns)})"


def _missing_like(model: Column, n: int) -> Column:
    if isinstance(model, Categorical):
        return Categorical(np.full(n, -1, dtype=np.int32), [])
    if isinstance(model, Ragged):
        return Ragged(model.values[:0], np.zeros(n + 1, dtype=np.int64))
    return np.full(n, np.nan)


def _concat_columns(name: str, parts: list[Column]) -> Column:
    first = parts[0]
    if isinstance(first, Categorical):
        cats: dict[str, int] = {}
        codes = []
        for p in parts:
            if not isinstance(p, Categorical):
                raise TypeError(f"cannot concatenate column '{name}' of different kinds")
            remap = np.array([cats.setdefault(c, len(cats)) for c in p.categories] + [-1],
                             dtype=np.int32)
            codes.append(remap[p.codes])
        return Categorical(np.concatenate(codes) if codes else np.zeros(0), list(cats))
    if isinstance(first, Ragged):
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for p in parts:
            offsets.append(p.offsets[1:] + base)
            base += len(p.values)
        return Ragged(np.concatenate([p.values for p in parts]), np.concatenate(offsets))
    return np.concatenate(parts)
