"""NetPyNE saved output (``sim.saveData``) as JSON, pickle and MAT files: three format plugins.

The containers differ, the layout is the same (``net``, ``simConfig``, ``simData``), and
:mod:`nethub.converters.netpyne` maps it to and from nethub. What these plugins add:

- **sniffing** that tells NetPyNE *output* from a *spec*: a JSON file is claimed when its top
  level (within the first MiB) has ``net`` or ``simData``, as ``sim.saveData`` and
  ``netParams.save`` (``{"net": {"params": ...}}``, read by building it) write; a spec JSON
  (``{"netParams": ...}`` or a bare netParams dict) is left to the spec format. Pickles: the
  pickle protocol header and a top-level ``net``/``simData`` key in the first bytes (nothing is
  unpickled). MAT: the MAT-file v5 header and a ``net`` or ``simData`` variable.
- **pickle safety**: unpickling runs code chosen by whoever wrote the file, so reading needs
  ``trusted=True`` (``--trust`` on the command line) and otherwise raises
  :class:`~nethub.errors.UntrustedPickleError`. Even trusted pickles are read with an unpickler
  that resolves only NetPyNE's dict classes (as plain dicts; NetPyNE is never imported), numpy
  arrays/scalars and ``OrderedDict``.
- **MAT files NetPyNE can load**: NetPyNE 1.1's own .mat writer fails on its simData; nethub
  writes with ``scipy.io.savemat`` after NetPyNE's fix-ups (``None`` → ``'__np_none__'``,
  lists of strings → ``'[a,b]'``), which NetPyNE's loader (``_mat2dict``, ``_restoreFromMat``)
  undoes; reading undoes them too, and restores the one-element lists MATLAB squeezes.

Writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import pickle
import re
from typing import Any

from nethub import safepickle
from nethub.errors import FormatError, UntrustedPickleError
from nethub.limits import ResourceLimitError, check_tree
from nethub.specrules import spec_rules

from .base import Document, Format, has_magic

__all__ = ["NetpyneJsonFormat", "NetpynePickleFormat", "NetpyneMatFormat", "SNIFF_BYTES"]

#: how much of a JSON file sniffing scans
SNIFF_BYTES = 1 << 20
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:|[{}\[\]]|"(?:[^"\\]|\\.)*"')
_MAT_MAGIC = b"MATLAB 5.0 MAT-file"
_OUTPUT_KEYS = ("net", "simData")


class _NetpyneOutput(Format):
    """What the three containers share: conversion, options, atomic writes."""

    can_read = True
    can_write = True
    holds_network = True
    holds_results = True
    holds_spec = True
    lossless = False
    read_options: dict[str, str] = {
        "mod_dir": "folder of .mod files the model needs (NetPyNE files carry none)",
    }
    write_options: dict[str, str] = {
        "run": "which run to write: its name or position (default -1, the latest); NetPyNE "
               "files hold one",
    }

    def _load(self, path: str | os.PathLike, **opts: Any) -> Any:
        raise NotImplementedError

    def _dump(self, data: dict, fh: io.BufferedWriter, **opts: Any) -> list[str]:
        raise NotImplementedError

    def info(self, path: str | os.PathLike, **opts: Any) -> dict[str, Any]:
        """The summary of :meth:`Format.info`; ``opts`` are read options (``trusted``)."""
        reader = copy.copy(self)
        reader.read = functools.partial(self.read, **opts)  # type: ignore[method-assign]
        return Format.info(reader, path)

    def read(self, path: str | os.PathLike, results: bool = True, *, mod_dir: Any = None,
             **opts: Any) -> Document:
        """Read the network (keeping NetPyNE's gids), its spec and the run of ``simData``."""
        # imported here: listing and sniffing formats must not load converters (numpy, pandas)
        from nethub.converters import netpyne

        self.check_options("read", {**opts, "mod_dir": mod_dir})
        data = self._load(path, **opts)
        if isinstance(data, dict) and not any(k in data for k in (*_OUTPUT_KEYS, "simConfig")):
            raise FormatError(f"{path}: not NetPyNE saved output (no 'net', 'simConfig' or "
                              "'simData' at the top level)")
        mods = spec_rules().read_mod_dir(mod_dir) if mod_dir else None
        try:
            net, runs, lost = netpyne.to_network(data, results=results, mod_files=mods)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from exc
        return Document(network=net, results=runs, lost=lost)

    def write(self, doc: Document, path: str | os.PathLike, run: int | str = -1,
              **opts: Any) -> list[str]:
        """Write ``doc`` (its network and one run); returns what could not be carried over."""
        # imported here: see read
        from nethub.converters import netpyne
        from nethub.store import atomic_path

        self.check_options("write", {**opts, "run": run})
        try:
            data, lost = netpyne.from_network(doc.network, doc.results, run)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                lost += self._dump(data, fh, **opts)
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from exc
        return lost


# ------------------------------------------------------------------------------------- JSON
def json_is_output(path: str | os.PathLike, limit: int = SNIFF_BYTES) -> bool:
    """Whether a JSON file's top level (within its first ``limit`` bytes) has a ``net`` or
    ``simData`` key, as NetPyNE's ``sim.saveData`` and ``netParams.save`` write."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(limit)
    except OSError:
        return False
    if not head.lstrip()[:1] == b"{":
        return False
    depth = 0
    for m in _TOKEN.finditer(head):
        tok = m.group()
        if tok in (b"{", b"["):
            depth += 1
        elif tok in (b"}", b"]"):
            depth -= 1
        elif depth == 1 and tok.endswith(b":") and tok[1:tok.rindex(b'"')] in (b"net",
                                                                               b"simData"):
            return True
    return False


class NetpyneJsonFormat(_NetpyneOutput):
    """NetPyNE saved output as JSON (``cfg.saveJson``)."""

    name = "netpyne-json"
    description = "NetPyNE saved output, JSON (net.cells/pops/params, simConfig, simData)"
    suffixes = (".json",)
    write_options = {**_NetpyneOutput.write_options,
                     "indent": "JSON indentation (default: none, compact)"}

    def sniff(self, path: str | os.PathLike) -> bool:
        """A top-level ``net`` or ``simData`` key."""
        return json_is_output(path)

    def _load(self, path: str | os.PathLike, **opts: Any) -> Any:
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except RecursionError:
            raise ResourceLimitError(f"{path}: JSON nested deeper than Python can read") from None
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}); is the file complete?") from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"{path}: not UTF-8 text ({exc.reason})") from None

    def _dump(self, data: dict, fh: io.BufferedWriter, indent: int | None = None) -> list[str]:
        text = json.dumps(data, indent=indent, separators=None if indent else (",", ":"),
                          ensure_ascii=False, allow_nan=True)
        fh.write(text.encode("utf-8"))
        return []


# ------------------------------------------------------------------------------------- pickle
class NetpynePickleFormat(_NetpyneOutput):
    """NetPyNE saved output as a Python pickle (``cfg.savePickle``); reading needs trust."""

    name = "netpyne-pickle"
    description = "NetPyNE saved output, pickle (reading needs trusted=True / --trust)"
    suffixes = (".pkl", ".pickle")
    read_options = {**_NetpyneOutput.read_options,
                    "trusted": "read the pickle (unpickling can run code from the file)"}

    def sniff(self, path: str | os.PathLike) -> bool:
        """Pickle protocol 2-5 header and a top-level ``net``/``simData`` key early on."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError:
            return False
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            return False
        marks = [op + bytes([len(k)]) + k.encode() for k in _OUTPUT_KEYS for op in (b"\x8c",)]
        marks += [b"X" + len(k).to_bytes(4, "little") + k.encode() for k in _OUTPUT_KEYS]
        return any(m in head for m in marks)

    def read(self, path: str | os.PathLike, results: bool = True, *, mod_dir: Any = None,
             trusted: bool = False) -> Document:
        return super().read(path, results, mod_dir=mod_dir, trusted=trusted)

    def _load(self, path: str | os.PathLike, trusted: bool = False) -> Any:
        if trusted is not True:
            raise UntrustedPickleError(
                f"{path}: not read: unpickling a file can run any code its author put in it. "
                "If you trust where the file comes from, pass trusted=True (Python) or "
                "--trust (nethub convert/info); a NetPyNE .json or .mat file of the same "
                "data needs no trust")
        try:
            with open(path, "rb") as fh:
                data = safepickle.load(fh)
            check_tree(data, str(path))  # shared references could expand without bound
            return data
        except RecursionError:
            raise ResourceLimitError(f"{path}: pickle nested deeper than Python can read"
                                     ) from None
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError) as exc:
            raise FormatError(f"{path}: not a readable NetPyNE pickle ({type(exc).__name__}: "
                              f"{exc}); is the file complete?") from None

    def _dump(self, data: dict, fh: io.BufferedWriter) -> list[str]:
        pickle.dump(data, fh, protocol=4)
        return []


# ------------------------------------------------------------------------------------- MAT
class NetpyneMatFormat(_NetpyneOutput):
    """NetPyNE saved output as a MATLAB 5 file (``cfg.saveMat``), in the layout NetPyNE's
    loader reads."""

    name = "netpyne-mat"
    description = "NetPyNE saved output, MATLAB .mat (as NetPyNE's loader reads it)"
    suffixes = (".mat",)
    requires = ("scipy",)

    def sniff(self, path: str | os.PathLike) -> bool:
        """MAT-file v5 header and a ``net`` or ``simData`` variable."""
        if not has_magic(path, _MAT_MAGIC):
            return False
        from scipy.io import whosmat

        try:
            names = {entry[0] for entry in whosmat(path)}
        except (ValueError, TypeError, OSError):
            return False
        return bool(names & set(_OUTPUT_KEYS))

    def _load(self, path: str | os.PathLike, **opts: Any) -> Any:
        from .netpyne_mat import from_mat

        return from_mat(path)

    def _dump(self, data: dict, fh: io.BufferedWriter) -> list[str]:
        from .netpyne_mat import to_mat

        return to_mat(data, fh)
