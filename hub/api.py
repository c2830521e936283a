"""The public functions of nethub: load, save, convert, inspect and validate model files.

Every function dispatches through the format registry (:mod:`nethub.formats`): an explicit
format name wins, then the file's content, then its suffix.

Imports of the registry, the model and the simulator stay inside the functions: ``import nethub``
loads this module, and it must not load numpy, h5py or NEURON (``import nethub`` takes ~20 ms;
with the registry and the model at module top it would take ~450 ms more, measured under load;
test_import_boundary.py).
"""

from __future__ import annotations

import errno
import logging
import os
from typing import TYPE_CHECKING, Any

from .errors import ConversionError

if TYPE_CHECKING:
    from nethub.formats.base import Document, Format

    from .network import Network
    from .results import Results

__all__ = ["read", "load", "load_results", "save", "convert", "info", "validate"]

logger = logging.getLogger(__name__)


def _require_file(path: str | os.PathLike) -> None:
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), os.fspath(path))


def _reader(path: str | os.PathLike, format: str | Format | None) -> Format:
    from nethub.formats import guess_format

    _require_file(path)
    return guess_format(path, "read", format)


def read(path: str | os.PathLike, format: str | None = None, results: bool = True,
         **opts: Any) -> Document:
    """Read a file into a :class:`~nethub.formats.Document` (network, runs, losses).

    Parameters
    ----------
    path : path-like
    format : str, optional
        Format name (see ``nethub.formats.formats()``); guessed from content and suffix if
        omitted.
    results : bool
        Whether to read simulation results too.
    **opts
        Options of the format's reader (e.g. ``gids=[...]`` for the store).

    Returns
    -------
    Document

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    NoFormatError, MissingExtraError
        No format matches, or the one that does needs an extra that is not installed.
    """
    fmt = _reader(path, format)
    fmt.check_options("read", opts)
    doc = fmt.read(path, results=results, **opts)
    for note in doc.lost:
        logger.warning("%s: not carried over: %s", path, note)
    return doc


def load(path: str | os.PathLike, format: str | None = None, **opts: Any) -> Network:
    """Load the network held in a file (any readable format).

    Simulation results are not read; use :func:`load_results` for them.

    Parameters
    ----------
    path : path-like
    format : str, optional
        Format name; guessed from content and suffix if omitted.
    **opts
        Options of the format's reader.

    Returns
    -------
    Network

    Raises
    ------
    ConversionError
        The file holds results only, no network.
    """
    doc = read(path, format, results=False, **opts)
    if doc.network is None:
        raise ConversionError(f"{path} holds no network (only results); use load_results")
    return doc.network


def load_results(path: str | os.PathLike, run: int | str = -1, format: str | None = None,
                 **opts: Any) -> Results:
    """Load one simulation run from a file.

    Parameters
    ----------
    path : path-like
    run : int or str
        Run name, or position in the order the runs were stored (``-1``: the latest).
    format : str, optional
        Format name; guessed from content and suffix if omitted.

    Returns
    -------
    Results
    """
    fmt = _reader(path, format)
    fmt.check_options("read", opts)
    return fmt.read_results(path, run, **opts)


def _fit(fmt: Format, doc: Document) -> tuple[Document, list[str]]:
    """Drop what ``fmt`` cannot hold according to its flags; say what was dropped."""
    from nethub.formats.base import Document

    lost: list[str] = []
    net, runs = doc.network, list(doc.results)
    if runs and not fmt.holds_results:
        lost.append(f"{len(runs)} simulation run(s): format '{fmt.name}' holds no results")
        runs = []
    if net is not None and not fmt.holds_network:
        lost.append(f"the network: format '{fmt.name}' holds results only")
        net = None
    elif net is not None and net.spec and not fmt.holds_spec:
        lost.append(f"the high-level spec (netParams/simConfig): format '{fmt.name}' "
                    "cannot hold it")
    if net is None and not runs:
        raise ConversionError(f"format '{fmt.name}' can hold nothing of what is to be written")
    return Document(network=net, results=runs), lost


def _write(doc: Document, path: str | os.PathLike, format: str | Format | None,
           opts: dict[str, Any]) -> tuple[Format, list[str]]:
    from nethub.formats import guess_format

    fmt = guess_format(path, "write", format)
    fmt.check_options("write", opts)
    doc, lost = _fit(fmt, doc)
    lost += fmt.write(doc, path, **opts)
    for note in lost:
        logger.info("%s: not carried over: %s", path, note)
    return fmt, lost


def save(obj: Any, path: str | os.PathLike, format: str | None = None,
         **opts: Any) -> list[str]:
    """Write a network (and/or results) to a file in any writable format.

    Parameters
    ----------
    obj : Network, Results, Document, or tuple (Network, Results or list of Results)
    path : path-like
    format : str, optional
        Format name; guessed from the suffix if omitted.
    **opts
        Options of the format's writer (e.g. ``compression='gzip'`` for the store).

    Returns
    -------
    list of str
        What the format could not carry over (empty for a lossless save).
    """
    from nethub.formats.base import as_document

    return _write(as_document(obj), path, format, opts)[1]


def convert(src: str | os.PathLike, dst: str | os.PathLike, to: str | None = None,
            from_: str | None = None, read_options: dict[str, Any] | None = None,
            write_options: dict[str, Any] | None = None) -> list[str]:
    """Convert a file from one format to another (or re-write it in the same one).

    Parameters
    ----------
    src, dst : path-like
        ``dst`` may equal ``src``: the whole document is read before writing.
    to, from_ : str, optional
        Format names of ``dst`` and ``src``; guessed if omitted.
    read_options, write_options : dict, optional
        Options for the reader and the writer.

    Returns
    -------
    list of str
        What could not be carried over, from reading and from writing.

    Notes
    -----
    Results without a network (an NWB export) converted onto an existing store are added to
    it as runs (:func:`nethub.runimport.append_runs`): only when they record the network hash
    of the store's network; the store is otherwise left as it is.
    """
    doc = read(src, from_, results=True, **(read_options or {}))
    if doc.network is None and doc.results and _is_store(dst, to):  # runs into their store
        from .runimport import append_runs

        append_runs(doc.results, dst, src)
        return list(doc.lost)
    wopts = dict(write_options or {})
    fmt, lost = _write(doc, dst, to, _with_source(wopts, src, dst, to))
    logger.info("converted %s -> %s (%s)", src, dst, fmt.name)
    return list(doc.lost) + lost


def _is_store(path: str | os.PathLike, to: str | None) -> bool:
    """Whether ``path`` is an existing nethub store (that ``to`` does not contradict)."""
    from nethub.formats import guess_format

    from .errors import NethubError

    if to not in (None, "store") or not os.path.isfile(path):
        return False
    try:
        return guess_format(path, "read").name == "store"
    except NethubError:
        return False


def _with_source(opts: dict[str, Any], src: Any, dst: Any, to: str | None) -> dict[str, Any]:
    """A writer that records where its input came from (write option ``source``, e.g. NWB's
    link to the store) gets the input path unless the caller gave one."""
    from nethub.formats import guess_format

    if "source" not in opts and "source" in (guess_format(dst, "write", to).write_options
                                             or {}):
        opts["source"] = os.fspath(src)
    return opts


def info(path: str | os.PathLike, format: str | None = None) -> dict[str, Any]:
    """A JSON-able summary of a file: format, populations, cell types, counts, runs, size.

    Parameters
    ----------
    path : path-like
    format : str, optional

    Returns
    -------
    dict
        Keys ``format``, ``file``, ``file_size``, ``populations`` (name to ``cells`` and
        ``cell_type``), ``cell_types`` (name to kind), ``n_cells``, ``n_connections``,
        ``n_pointer_conns``, ``n_stim_targets``, ``runs`` (list of dicts with ``name``,
        ``n_spikes``, ``duration``), and whatever else the format reports; for a store
        also ``synapse_merging`` (:func:`nethub.sim.merge.store_savings`, None without
        connections) and ``native_code``: the mechanisms whose .mod files carry native code
        (VERBATIM), each a dict with ``file``, ``mechanisms`` and ``reason`` (running them needs
        trust, :mod:`nethub.mechsource`), and ``run_modes``: compartmental cell type name to
        ``snapshot`` or ``template`` (:mod:`nethub.runmodes`).
    """
    fmt = _reader(path, format)
    out = {"format": fmt.name, **fmt.info(path)}
    if fmt.name == "store":  # what synapse merging would save (nethub.sim.merge)
        from .mechsource import native_code, store_mod_files
        from .runmodes import store_run_modes
        from .sim.merge import store_savings

        out["synapse_merging"] = store_savings(path)
        out["native_code"] = [{"file": n.file, "mechanisms": list(n.mechanisms),
                               "reason": n.reason} for n in native_code(store_mod_files(path))]
        out["run_modes"] = store_run_modes(path) or {}  # snapshot / template (issue 14)
    return out


def validate(path: str | os.PathLike, format: str | None = None) -> list[Any]:
    """Check a file against its format's rules.

    Parameters
    ----------
    path : path-like
    format : str, optional

    Returns
    -------
    list of Finding
        Each with ``level`` ('error' or 'warning'), ``path`` (where in the file) and
        ``message``; empty when the file is valid.
    """
    fmt = _reader(path, format)
    return fmt.validate(path)
