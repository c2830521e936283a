"""The MAT-file layout of NetPyNE saved output (helpers of :mod:`nethub.formats.netpyne`).

NetPyNE saves with ``scipy.io.savemat(path, data, long_field_names=True)`` after replacing, in
every dict, ``None`` values by ``'__np_none__'`` and lists of strings by ``'[a,b]'``; it loads
with ``loadmat(path, struct_as_record=False, squeeze_me=True)``, turns structs into dicts and
arrays into lists (``_mat2dict``: the values of ``conns``, ``stims``, ``synMechs``, ``cells``,
``cellGids``, ``include`` and ``tags['label']`` stay lists even with one element) and undoes
the replacements (``_restoreFromMat``). Both directions are reproduced here, so NetPyNE's
``sim.load`` reads what nethub writes and nethub reads both.

MATLAB has no one-element lists, booleans or None inside lists: a one-element list elsewhere
comes back as its element (nethub also restores ``spkt``, ``spkid`` and a one-point ``pt3d``),
``True``/``False`` as 1/0. Lists that a numeric or char array would change (mixing integers
with floats, holding text, ragged: ``[['S', 0], ['M', 0]]``, ``[0, 0.2]``) are written as cell
arrays, which keep every element; NetPyNE's loader reads them element by element.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from nethub.errors import FormatError

__all__ = ["from_mat", "to_mat"]

_NONE = "__np_none__"
#: keys whose values NetPyNE's loader keeps as lists (``_mat2dict``'s ``keysOfLists``)
_LIST_KEYS = frozenset({"conns", "stims", "synMechs", "cells", "cellGids", "include",
                        "spkt", "spkid"})


def from_mat(path: str | os.PathLike) -> dict:
    """Read a NetPyNE .mat file into plain dicts and lists."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        raw = loadmat(path, struct_as_record=False, squeeze_me=True)
    except (ValueError, TypeError, OSError, KeyError, IndexError, MatReadError) as exc:
        raise FormatError(f"{path}: not a readable MAT file ({type(exc).__name__}: {exc}); "
                          "is it complete?") from None
    return {k: _value(v, k, None) for k, v in raw.items() if not k.startswith("__")}


def _value(obj: Any, key: str | None, parent: str | None) -> Any:
    from scipy.io.matlab import mat_struct

    if isinstance(obj, mat_struct):
        value: Any = {f: _value(obj.__dict__[f], f, key) for f in obj._fieldnames}
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "US" and obj.ndim == 0:
            value = str(obj)
        elif obj.dtype.kind in "US":  # empty: the empty string (string lists are '[a,b]' text)
            value = [str(x) for x in obj.reshape(-1)] if obj.size else ""
        elif obj.dtype == object:
            value = [_value(x, None, key) for x in obj]
        else:
            value = obj.tolist()
    elif isinstance(obj, np.generic):
        value = obj.item()
    elif isinstance(obj, str):
        value = str(obj)
    else:
        value = obj
    if key is not None:  # a struct field: NetPyNE's replacements of dict values
        value = _restore(value)
    return _as_list(value, key, parent)


def _as_list(value: Any, key: str | None, parent: str | None) -> Any:
    if key in _LIST_KEYS or (key == "label" and parent == "tags"):
        return value if isinstance(value, list) else [value]
    if key == "pt3d" and isinstance(value, list) and value and not isinstance(value[0], list):
        return [value]
    return value


def _restore(value: Any) -> Any:
    if isinstance(value, str):
        if value == _NONE:
            return None
        if value.startswith("[") and value.endswith("]"):
            return value[1:-1].split(",")
    return value


def to_mat(data: dict, fh: io.BufferedWriter) -> list[str]:
    """Write ``data`` as NetPyNE does; returns notes of what MATLAB changes."""
    from scipy.io import savemat

    notes: dict[str, int] = {}
    mdict = {k: _prepare(v, notes, k, k) for k, v in data.items()}
    try:
        savemat(fh, mdict, long_field_names=True, do_compression=True)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"cannot write this network as a MAT file: {exc}") from None
    return [f"{note} ({n} value(s))" for note, n in notes.items()]


def _prepare(value: Any, notes: dict[str, int], key: str, where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            k = str(k)
            if not k.isascii():
                raise FormatError(f"{where}['{k}']: MAT field names must be ASCII; write this "
                                  "network as NetPyNE JSON or pickle instead")
            if k[:1] in "_0123456789" or len(k) > 63:
                _note(notes, f"MAT field names cannot start with '_' or a digit or be longer "
                             f"than 63 characters: '{k}' and what it holds dropped")
                continue
            if v is None:
                out[k] = _NONE
            elif isinstance(v, (list, tuple)) and v and all(isinstance(s, str) for s in v):
                out[k] = "[" + ",".join(v) + "]"
            else:
                out[k] = _prepare(v, notes, k, f"{where}['{k}']")
        return out
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and key not in _LIST_KEYS and key not in ("label", "pt3d"):
            _note(notes, "one-element lists come back from MATLAB as their element")
        if any(v is None for v in value):
            _note(notes, "None inside lists cannot be stored in MATLAB; written as NaN")
            value = [np.nan if v is None else v for v in value]
        items = [_prepare(v, notes, key, f"{where}[{i}]") for i, v in enumerate(value)]
        if _needs_cells(value):
            return _cell_array(items)
        return items
    if isinstance(value, bool):
        _note(notes, "booleans come back from MATLAB as 1/0")
    return value


def _leaves(value: Any, depth: int, kinds: set[str], shapes: set[tuple]) -> bool:
    """Collect the kinds of the scalars of a nested list (and the lengths at each depth);
    False when it holds a dict (a struct array, written as before)."""
    if isinstance(value, dict):
        return False
    if isinstance(value, (list, tuple, np.ndarray)):
        shapes.add((depth, len(value)))
        return all(_leaves(v, depth + 1, kinds, shapes) for v in value)
    kinds.add("b" if isinstance(value, bool) else "i" if isinstance(value, int)
              else "f" if isinstance(value, float) else "s" if isinstance(value, str) else "o")
    shapes.add((depth, -1))
    return True


def _needs_cells(value: list | tuple) -> bool:
    """Whether MATLAB would change a list written as a numeric or char array: it mixes kinds
    of scalars (``[0, 0.2]``: 0 would come back 0.0), holds text (``[['S', 0]]`` would become a
    padded char matrix) or is ragged. Such lists are written as cell arrays, which keep each
    element as it is."""
    kinds: set[str] = set()
    shapes: set[tuple] = set()
    if not value or not _leaves(value, 0, kinds, shapes):
        return False
    ragged = len({d for d, _ in shapes}) != len(shapes)
    return ragged or "s" in kinds or "o" in kinds or len(kinds) > 1


def _cell_array(items: list) -> np.ndarray:
    """A 1-D object array (a MATLAB cell array) of ``items``, nested lists as cell arrays too
    (so that numpy does not turn them into one numeric or char array)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = _cell_array(item) if isinstance(item, list) else item
    return out


def _note(notes: dict[str, int], text: str) -> None:
    notes[text] = notes.get(text, 0) + 1
