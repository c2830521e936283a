"""What differs between two networks, as notes a person can act on (used by the spec export's
check and by tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nethub.celltypes import json_equal  # the model's JSON equality (NaN == NaN, 1 != 1.0)
from nethub.network import Network
from nethub.table import Categorical, Ragged, Table, column_equal

__all__ = ["compare_networks"]


# ----------------------------------------------------------------------------- comparing
def compare_networks(expected: Network, got: Network) -> list[str]:
    """What differs between two networks, as human-readable notes (empty: equal, except
    provenance, which says where each came from).

    Tables are compared in canonical order (cells by gid, the others by target gid); rows of
    the same target that only come in another order give one note.
    """
    notes: list[str] = []
    for attr, what in (("cell_types", "cell type"), ("syn_mechs", "synaptic mechanism"),
                       ("populations", "population"), ("stim_sources", "stimulation source")):
        notes += _compare_models(getattr(expected, attr), getattr(got, attr), what)
    for key in sorted(set(expected.params) | set(got.params)):
        if not json_equal(expected.params.get(key), got.params.get(key)):
            notes.append(f"network parameter {key!r}: {got.params.get(key)!r}, expected "
                         f"{expected.params.get(key)!r}")
    if not json_equal(expected.rxd, got.rxd):
        notes.append("rxd specification differs")
    exp_c, got_c = expected.canonical(), got.canonical()
    for tname in ("cells", "connections", "pointer_conns", "stim_targets"):
        notes += _compare_tables(tname, getattr(exp_c, tname), getattr(got_c, tname))
    return notes


def _compare_models(a: Mapping[str, Any], b: Mapping[str, Any], what: str) -> list[str]:
    notes = []
    for names, how in (([k for k in a if k not in b], "missing"),
                       ([k for k in b if k not in a], "new")):
        if names:
            shown = ", ".join(map(repr, names[:5])) + (", ..." if len(names) > 5 else "")
            notes.append(f"{len(names)} {what}(s) {how}: {shown}")
    if not notes and list(a) != list(b):
        notes.append(f"{what}s are listed in another order")
    for k in a:
        if k not in b:
            continue
        da, db = a[k].to_dict(), b[k].to_dict()
        bad = [f for f in da if f != "provenance" and not json_equal(da.get(f), db.get(f))]
        if bad:
            notes.append(f"{what} {k!r} differs in {', '.join(bad)}")
    return notes


def _rows_differing(a: Any, b: Any) -> int | None:
    """Number of rows where two equally long columns differ (None: not comparable)."""
    if isinstance(a, Categorical) and isinstance(b, Categorical):
        return int(np.sum(a.values() != b.values()))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        same = a == b
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            same |= np.isnan(a) & np.isnan(b)
        return int(np.sum(~same))
    if isinstance(a, Ragged) and isinstance(b, Ragged):
        return sum(not np.array_equal(a.row(i), b.row(i), equal_nan=a.values.dtype.kind == "f"
                                      and b.values.dtype.kind == "f") for i in range(len(a)))
    return None


def _sort_rows(t: Table, names: list[str]) -> Table:
    keys = []
    for name in reversed(names):
        col = t[name]
        if isinstance(col, Categorical):
            rank = np.argsort(np.argsort(np.array([str(c) for c in col.categories] + [""],
                                                  dtype=object), kind="stable"))
            keys.append(rank[col.codes])
        elif isinstance(col, np.ndarray):
            keys.append(col)
    return t.take(np.lexsort(keys)) if keys else t


def _compare_tables(tname: str, a: Table, b: Table) -> list[str]:
    if len(a) != len(b):
        return [f"{tname}: {len(b)} rows, expected {len(a)}"]
    notes = [f"{tname}: column {c!r} is missing" for c in a.columns if c not in b.columns]
    notes += [f"{tname}: new column {c!r}" for c in b.columns if c not in a.columns]
    common = [c for c in a.columns if c in b.columns]
    if common != [c for c in b.columns if c in a.columns]:
        notes.append(f"{tname}: columns come in another order")
    bad = [c for c in common if not column_equal(a[c], b[c])]
    if bad:
        sa, sb = _sort_rows(a, common), _sort_rows(b, common)
        if all(column_equal(sa[c], sb[c]) for c in bad):
            return notes + [f"{tname}: rows of the same target come in another order"]
    for c in bad:
        ca, cb = a[c], b[c]
        if isinstance(ca, np.ndarray) and isinstance(cb, np.ndarray) and ca.dtype != cb.dtype:
            notes.append(f"{tname}: column {c!r} has dtype {cb.dtype}, expected {ca.dtype}")
            continue
        n = _rows_differing(ca, cb)
        notes.append(f"{tname}: column {c!r} differs" + (f" in {n} of {len(a)} rows"
                                                          if n is not None else ""))
    return notes
