"""Names the user typed, matched against the valid ones ("did you mean ...?").

Model layer: the spec validator (:mod:`nethub.specs`), cell selections (:mod:`nethub.selection`)
and any converter that reports an unknown key use the same matching.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["close_key"]


def close_key(key: Any, valid: Iterable[Any], cutoff: float = 0.6) -> str | None:
    """Return the valid name closest to ``key``, or None.

    Parameters
    ----------
    key
        The name as given (non-strings are compared by their ``str``).
    valid
        The valid names; non-strings among them are ignored.
    cutoff
        :func:`difflib.get_close_matches` similarity cutoff in [0, 1].

    Returns
    -------
    str or None
        A case-insensitive exact match if there is one, else the closest name above ``cutoff``.
    """
    valid = [k for k in valid if isinstance(k, str)]
    lowered = {k.lower(): k for k in valid}
    if isinstance(key, str) and key.lower() in lowered:
        return lowered[key.lower()]
    hits = difflib.get_close_matches(str(key), valid, n=1, cutoff=cutoff)
    return hits[0] if hits else None
