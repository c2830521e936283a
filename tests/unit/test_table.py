"""Table, Categorical and Ragged: construction, coercion, take/concat/equals/to_pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethub.table import Categorical, ColumnSpec, Ragged, Table, column_equal

SCHEMA = {
    "gid": ColumnSpec("int64", 0),
    "pop": ColumnSpec("category", None),
    "x": ColumnSpec("float64", 0.0),
    "flag": ColumnSpec("bool", False),
    "spikes": ColumnSpec("ragged"),
}


# ----------------------------------------------------------------------------- Categorical
def test_categorical_from_values_and_missing():
    c = Categorical.from_values(["E", None, "I", "E"])
    assert c.categories == ["E", "I"]
    assert c.codes.tolist() == [0, -1, 1, 0]
    assert c.codes.dtype == np.int32
    assert c.values().tolist() == ["E", None, "I", "E"]
    assert len(c) == 4


def test_categorical_rejects_bad_codes_and_duplicates():
    with pytest.raises(ValueError, match="out of range"):
        Categorical(np.array([0, 2]), ["a", "b"])
    with pytest.raises(ValueError, match="out of range"):
        Categorical(np.array([-2]), ["a"])
    with pytest.raises(ValueError, match="unique"):
        Categorical(np.array([0]), ["a", "a"])


def test_categorical_constant_code_of_take():
    c = Categorical.constant("só", 3)
    assert c.values().tolist() == ["só"] * 3
    assert len(Categorical.constant("x", 0)) == 0
    assert c.code_of("só") == 0 and c.code_of("nope") == -1
    t = Categorical.from_values(list("abca")).take(np.array([3, 1]))
    assert t.values().tolist() == ["a", "b"]


def test_categorical_compact_and_normalized():
    c = Categorical(np.array([2, -1, 2, 0]), ["a", "unused", "c"])
    k = c.compact()
    assert k.categories == ["a", "c"] and k.values().tolist() == c.values().tolist()
    n = c.normalized()
    assert n.categories == ["c", "a"]
    assert n.codes.tolist() == [0, -1, 0, 1]
    # value-equal columns with different categories normalise identically
    other = Categorical(np.array([0, -1, 0, 1]), ["c", "a", "zzz"])
    assert other.normalized().categories == n.categories
    assert np.array_equal(other.normalized().codes, n.codes)


def test_categorical_equals_by_value():
    a = Categorical(np.array([0, 1]), ["x", "y"])
    b = Categorical(np.array([1, 0]), ["y", "x", "unused"])
    assert a.equals(b)
    assert not a.equals(Categorical(np.array([0, 0]), ["x"]))
    assert not a.equals(np.array([0, 1]))
    assert not a.equals(Categorical(np.array([0]), ["x"]))


# ----------------------------------------------------------------------------- Ragged
def test_ragged_from_lists_row_lengths():
    r = Ragged.from_lists([[1.0, 2.0], [], [3.0]])
    assert r.values.dtype == np.float64
    assert r.offsets.tolist() == [0, 2, 2, 3]
    assert len(r) == 3
    assert r.row(0).tolist() == [1.0, 2.0] and r.row(1).tolist() == []
    assert r.lengths().tolist() == [2, 0, 1]
    assert r.tolist() == [[1.0, 2.0], [], [3.0]]
    assert Ragged.from_lists([[1, 2]], dtype=np.int32).values.dtype == np.int32


@pytest.mark.parametrize("offsets", [[1, 2], [0, 3, 2], [0, 5], []])
def test_ragged_rejects_bad_offsets(offsets):
    with pytest.raises(ValueError, match="offsets"):
        Ragged(np.arange(3.0), np.array(offsets, dtype=np.int64))


def test_ragged_take():
    r = Ragged.from_lists([[1.0], [2.0, 3.0], [], [4.0, 5.0, 6.0]])
    assert r.take(np.array([3, 0])).tolist() == [[4.0, 5.0, 6.0], [1.0]]
    assert r.take(slice(1, 3)).tolist() == [[2.0, 3.0], []]
    empty = r.take(np.array([], dtype=np.int64))
    assert len(empty) == 0 and empty.values.dtype == np.float64


def test_ragged_equals():
    a = Ragged.from_lists([[np.nan, 1.0], []])
    assert a.equals(Ragged.from_lists([[np.nan, 1.0], []]))
    assert not a.equals(Ragged.from_lists([[np.nan], [1.0]]))
    assert not a.equals(Ragged.from_lists([[0, 1], []], dtype=np.int64))
    assert not a.equals([[np.nan, 1.0], []])


# ----------------------------------------------------------------------------- Table
def test_table_fills_declared_columns_and_keeps_extras():
    t = Table({"gid": [3, 1], "note": ["a", None], "w": np.array([1, 2], dtype=np.int32)},
              SCHEMA)
    assert list(t) == ["gid", "pop", "x", "flag", "spikes", "note", "w"]
    assert t.extra_columns == ["note", "w"]
    assert t["gid"].dtype == np.int64
    assert t["x"].tolist() == [0.0, 0.0]
    assert t["pop"].values().tolist() == [None, None]
    assert t["spikes"].tolist() == [[], []]
    assert isinstance(t["note"], Categorical)
    assert t["w"].dtype == np.int32
    assert len(t) == 2 and "gid" in t and "nope" not in t


def test_table_empty_and_n():
    t = Table(schema=SCHEMA)
    assert len(t) == 0 and t["pop"].categories == []
    t = Table(schema=SCHEMA, n=4)
    assert len(t) == 4 and t["flag"].tolist() == [False] * 4
    assert Table({"a": [1.0]}, n=None).n == 1
    assert len(Table()) == 0


def test_table_scalar_broadcast_and_int_to_float():
    t = Table({"gid": [1, 2, 3], "x": 5}, SCHEMA, n=3)
    assert t["x"].tolist() == [5.0, 5.0, 5.0] and t["x"].dtype == np.float64


def test_table_coercion_errors():
    with pytest.raises(TypeError, match="column 'gid' needs dtype int64"):
        Table({"gid": [0.5, 1.5]}, SCHEMA)
    with pytest.raises(ValueError, match="differ in length"):
        Table({"gid": [1, 2], "x": [1.0, 2.0, 3.0]}, SCHEMA)
    with pytest.raises(ValueError, match="must be 1-D"):
        Table({"m": np.zeros((2, 2))})
    with pytest.raises(TypeError, match="unsupported dtype"):
        Table({"d": np.array(["2020-01-01"], dtype="datetime64[D]")})
    t = Table({"gid": [1, 2]}, SCHEMA)
    with pytest.raises(ValueError, match="has 3 rows"):
        t["x"] = [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="column 'gid'"):
        t["gid"] = np.array([1.5, 2.5])


def test_table_setitem():
    t = Table({"gid": [1, 2]}, SCHEMA)
    t["x"] = [1, 2]
    assert t["x"].dtype == np.float64
    t["label"] = ["a", "b"]
    assert isinstance(t["label"], Categorical)
    t["spikes"] = [[1.0], [2.0, 3.0]]
    assert isinstance(t["spikes"], Ragged)


def test_table_take_mask_slice_index():
    t = Table({"gid": [10, 11, 12, 13], "pop": ["a", "b", "a", None],
               "spikes": Ragged.from_lists([[1.0], [], [2.0, 3.0], [4.0]])}, SCHEMA)
    by_mask = t.take(np.array([True, False, True, False]))
    by_index = t.take(np.array([0, 2]))
    by_slice = t.take(slice(0, 4, 2))
    for sub in (by_mask, by_index, by_slice):
        assert sub["gid"].tolist() == [10, 12]
        assert sub["pop"].values().tolist() == ["a", "a"]
        assert sub["spikes"].tolist() == [[1.0], [2.0, 3.0]]
        assert sub.equals(by_index)
    assert len(t.take(np.zeros(4, dtype=bool))) == 0


def test_table_equals():
    a = Table({"gid": [1, 2], "x": [np.nan, 1.0]}, SCHEMA)
    assert a.equals(Table({"gid": [1, 2], "x": [np.nan, 1.0]}, SCHEMA))
    assert not a.equals(Table({"gid": [1, 2], "x": [0.0, 1.0]}, SCHEMA))
    assert not a.equals(Table({"gid": [1, 2], "x": [np.nan, 1.0], "e": [1, 2]}, SCHEMA))
    assert not a.equals(Table({"x": [np.nan, 1.0], "gid": [1, 2]}))  # order and schema
    assert not a.equals("a table")
    # dtypes matter
    assert not column_equal(np.array([1], dtype=np.int32), np.array([1], dtype=np.int64))
    assert not column_equal(np.array([1.0]), Categorical.from_values(["1.0"]))


def test_table_concat_merges_categories():
    a = Table({"gid": [1], "pop": ["E"], "spikes": [[1.0]]}, SCHEMA)
    b = Table({"gid": [2, 3], "pop": ["I", "E"], "spikes": [[], [2.0, 3.0]]}, SCHEMA)
    c = Table.concat([a, None, b])
    assert c["gid"].tolist() == [1, 2, 3]
    assert c["pop"].values().tolist() == ["E", "I", "E"]
    assert c["pop"].categories == ["E", "I"]
    assert c["spikes"].tolist() == [[1.0], [], [2.0, 3.0]]
    assert len(Table.concat([], SCHEMA)) == 0
    with pytest.raises(TypeError, match="different kinds"):
        Table.concat([Table({"k": ["a"]}), Table({"k": np.array([1])})])


def test_table_to_pandas():
    t = Table({"gid": [1, 2], "pop": ["E", None], "spikes": [[1.0], []]}, SCHEMA)
    df = t.to_pandas()
    assert list(df.columns) == list(t)
    assert isinstance(df["pop"].dtype, pd.CategoricalDtype)
    assert df["pop"].isna().tolist() == [False, True]
    assert df["spikes"].iloc[0].tolist() == [1.0]
    assert df["gid"].dtype == np.int64
    assert "2 rows" in repr(t)
