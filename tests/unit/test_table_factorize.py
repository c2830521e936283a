"""``Categorical.from_values`` (whole-column ``pandas.factorize``) gives the codes and the
first-appearance categories of the value-by-value definition, for any mix of values."""

from __future__ import annotations

import numpy as np

from nethub.table import Categorical


def _by_value(vals):
    cats: dict[str, int] = {}
    codes = [-1 if v is None else cats.setdefault(str(v), len(cats)) for v in vals]
    return codes, list(cats)


def test_same_as_value_by_value():
    rng = np.random.default_rng(2)
    pool = ["soma", "dend", None, "a", 1, "1", 2.5, float("nan"), (1, 2), "ü"]
    cases = [[pool[i] for i in rng.integers(0, len(pool), n)] for n in (0, 1, 5, 200)]
    cases += [["x"] * 1000, [None] * 3, [[1, 2], [3, 4]], list(np.array(["q", "r", "q"]))]
    for vals in cases:
        cat = Categorical.from_values(vals)
        assert (cat.codes.tolist(), cat.categories) == _by_value(vals)
        assert cat.codes.dtype == np.int32


def test_text_columns_detected_as_before():
    from nethub.table import _all_text

    cases = [["a", None], ["a", float("nan")], [None, None], ["a", 1], ["a", b"b"],
             [[1, 2], [3, 4]], ["x"] * 100, [np.str_("a"), "b"], [1.0, 2.0], [None, 3]]
    for seq in cases:
        assert _all_text(seq) == all(isinstance(v, (str, type(None))) for v in seq), seq
