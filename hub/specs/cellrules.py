"""Saved cell rules: NetPyNE's ``netParams.loadCellParamsRule`` / ``saveCellParamsRule``.

A saved cell rule is one ``cellParams`` entry (a plain dict of ``secs``, ``secLists``,
``globals`` ..., not a template) written to ``.json`` or ``.pkl``
(``netpyne/specs/netParams.py``: ``json.load`` / ``pickle.load(fh, encoding='latin1')``, the
rule stored as is). nethub reads a ``.json`` rule always and a ``.pkl`` rule only with trust
(unpickling can run code chosen by the file's author): ``load_spec(..., trusted=True)``, or
:func:`trusted_pickles` around the call that loads the model (``nethub run`` with the trust
flag). Even then the unpickler resolves only NetPyNE's dict classes (read as plain dicts),
``OrderedDict`` and numpy arrays/scalars. Rules are written as NetPyNE writes them: ``.json``
(indented) or ``.pkl`` (a plain-dict pickle NetPyNE loads); writes are atomic.

Relative file names are looked up as NetPyNE users expect: the working directory, then the
model file's folder and its parent (the model root of the usual ``src/`` layout).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .. import safepickle
from ..errors import SpecError, UntrustedPickleError

__all__ = ["TRUSTED", "trusted_pickles", "read_cell_rule", "write_cell_rule"]

#: Whether pickled cell rules may be read while a model is loaded (see :func:`trusted_pickles`).
TRUSTED: ContextVar[bool] = ContextVar("nethub_specs_trusted_pickles", default=False)

_SUFFIXES = (".json", ".pkl")


@contextlib.contextmanager
def trusted_pickles(trusted: bool = True) -> Iterator[None]:
    """Let ``loadCellParamsRule`` read ``.pkl`` rules inside the ``with`` block (or not)."""
    token = TRUSTED.set(bool(trusted))
    try:
        yield
    finally:
        TRUSTED.reset(token)


def _suffix(file_name: str | os.PathLike, what: str) -> str:
    suffix = Path(file_name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise SpecError(f"{what}: {os.fspath(file_name)!r} is neither .json nor .pkl "
                        "(NetPyNE saves cell rules as one of them)")
    return suffix


def read_cell_rule(path: Path) -> dict:
    """The cell rule saved in ``path`` (``.json``; ``.pkl`` only when trusted).

    Raises
    ------
    UntrustedPickleError
        A ``.pkl`` rule without trust; the message names the file and how to trust it.
    SpecError
        The file is not a readable rule (not a dict, invalid JSON, a pickle of other classes).
    """
    what = "loadCellParamsRule"
    if _suffix(path, what) == ".pkl":
        rule = _read_pickle(path)
    else:
        try:
            rule = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise SpecError(f"{what}: cannot read {path}: {err}") from err
    if not isinstance(rule, Mapping):
        raise SpecError(f"{what}: {path} holds a {type(rule).__name__}, not a cell rule (dict)")
    return _plain(rule)


def _read_pickle(path: Path) -> Any:
    if not TRUSTED.get():
        raise UntrustedPickleError(
            f"loadCellParamsRule: {path} not read: unpickling a file can run any code its "
            "author put in it. If you trust where it comes from, load the model with "
            "trusted=True (Python: load_spec(..., trusted=True)) or nethub's trust flag; a "
            ".json cell rule needs no trust (netParams.saveCellParamsRule(label, 'rule.json'))")
    try:
        with open(path, "rb") as fh:
            return safepickle.load(fh)
    except OSError as err:
        raise SpecError(f"loadCellParamsRule: cannot read {path}: {err}") from err
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as err:
        raise SpecError(f"loadCellParamsRule: {path} is not a readable cell rule pickle "
                        f"({type(err).__name__}: {err})") from None


def _plain(value: Any) -> Any:
    """Dicts (NetPyNE's Dict/ODict, OrderedDict) as plain dicts, tuples as lists, numpy values
    as Python values: the JSON types a spec holds."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    return _plain(tolist()) if callable(tolist) else value


def write_cell_rule(rule: dict, file_name: str | os.PathLike) -> Path:
    """Write a (plain, JSON-compatible) cell rule to ``.json`` or ``.pkl``, atomically.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(file_name)
    suffix = _suffix(path, "saveCellParamsRule")
    data = (json.dumps(rule, indent=4).encode("utf-8") if suffix == ".json"
            else pickle.dumps(rule, protocol=4))
    folder = path.parent if str(path.parent) else Path(".")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", delete=False) as fh:
            fh.write(data)
        os.replace(fh.name, path)
    except OSError as err:
        with contextlib.suppress(OSError, NameError):
            os.unlink(fh.name)
        raise SpecError(f"saveCellParamsRule: cannot write {path}: {err}") from err
    return path
