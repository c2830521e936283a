"""Read NeuroML2 XML files (``.nml``) with their includes, and dispatch ``.nml.h5`` files.

Includes are resolved relative to the including file (never the working directory), each
file is read once, and an include cycle is refused naming the chain of files. The result is
one merged libNeuroML ``NeuroMLDocument`` plus a vectorized :class:`NetworkSummary` per
network (:mod:`.summary`).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ._common import NeuroMLError, check_no_dtd
from .summary import NetworkSummary, summarize_network

__all__ = ["NeuroMLModel", "read_neuroml", "read_nml", "parse_nml_bytes", "merge_into"]

logger = logging.getLogger(__name__)


@dataclass
class NeuroMLModel:
    """What a NeuroML2 read returns.

    Attributes
    ----------
    document : neuroml.NeuroMLDocument
        All files merged into one document (includes resolved, ``includes`` emptied).
    path : Path
        The file that was read.
    files : list of Path
        Every file read, the given one first, then its includes in reading order.
    networks : dict of str to NetworkSummary
        Vectorized summary of each network, by network id.
    """

    document: object
    path: Path
    files: list[Path] = field(default_factory=list)
    networks: dict[str, NetworkSummary] = field(default_factory=dict)


def parse_nml_bytes(data: bytes, path: str | os.PathLike):
    """A libNeuroML document from XML bytes (no include resolution); errors name ``path``."""
    # libNeuroML (and lxml under it) costs ~0.3 s to import: only when NeuroML is read.
    from neuroml import NeuroMLDocument
    from neuroml.nml.nml import parseString

    check_no_dtd(data, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            doc = parseString(data, silence=True, print_warnings=False)
    except Exception as exc:  # lxml and generateDS raise many unrelated types
        raise NeuroMLError(f"{path}: not a readable NeuroML2 document: {exc}") from exc
    if not isinstance(doc, NeuroMLDocument):
        raise NeuroMLError(f"{path}: root element must be <neuroml>, not "
                           f"<{type(doc).__name__}>")
    return doc


def merge_into(target, source) -> None:
    """Append every top-level element of ``source`` (except includes) to ``target``."""
    for item in type(source).member_data_items_:
        name = item.get_name()
        if name == "includes":
            continue
        value = getattr(source, name)
        if isinstance(value, list):
            getattr(target, name).extend(value)
        elif value is not None and getattr(target, name) is None:
            setattr(target, name, value)


def _read_tree(path: Path, chain: tuple[Path, ...], seen: set[Path], files: list[Path],
               h5nets: dict[str, NetworkSummary]):
    """Document of ``path`` with its includes merged (depth first, each file once).

    Summaries of networks read from ``.nml.h5`` files are added to ``h5nets``.
    """
    files.append(path)
    seen.add(path)
    doc = _read_one(path, h5nets)
    for include in list(doc.includes):
        child = (path.parent / include.href).resolve()
        if child in chain or child == path:
            cycle = " -> ".join(str(p) for p in (*chain, path, child))
            raise NeuroMLError(f"{path}: <include href={include.href!r}> makes a cycle: {cycle}")
        if child in seen:
            continue
        if not child.is_file():
            raise NeuroMLError(f"{path}: <include href={include.href!r}>: no file {child}")
        merge_into(doc, _read_tree(child, (*chain, path), seen, files, h5nets))
    doc.includes = []
    return doc


def _read_one(path: Path, h5nets: dict[str, NetworkSummary]):
    """One file, XML or ``.nml.h5`` (whose own includes are still listed)."""
    if path.name.endswith((".h5", ".hdf5")):
        from .h5read import read_h5  # h5read imports h5py; only for .h5 files

        doc, networks = read_h5(path)
        h5nets.update(networks)
        return doc
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NeuroMLError(f"{path}: cannot read: {exc}") from exc
    return parse_nml_bytes(data, path)


def read_nml(path: str | os.PathLike) -> NeuroMLModel:
    """Read a NeuroML2 XML file and every file it includes.

    Parameters
    ----------
    path : str or PathLike
        A ``.nml`` (or ``.xml`` with a ``<neuroml>`` root) file.

    Returns
    -------
    NeuroMLModel
        The merged document, the files read and a summary of each network.

    Raises
    ------
    NeuroMLError
        Unreadable or invalid file, missing include or include cycle (naming the files).
    """
    return read_neuroml(path)


def read_neuroml(path: str | os.PathLike) -> NeuroMLModel:
    """Read a ``.nml`` or ``.nml.h5`` file with its includes (see :func:`read_nml`).

    For ``.nml.h5`` files the network summaries come straight from the HDF5 datasets
    (float64, no Python loop per connection); for XML from the libNeuroML objects.
    """
    root = Path(path).resolve()
    if not root.is_file():
        raise NeuroMLError(f"{path}: no such file")
    files: list[Path] = []
    networks: dict[str, NetworkSummary] = {}
    doc = _read_tree(root, (), set(), files, networks)
    for net in doc.networks:
        if net.id not in networks:
            networks[net.id] = summarize_network(net, str(root))
    logger.debug("read %s (%d files, %d networks)", root, len(files), len(networks))
    return NeuroMLModel(doc, root, files, networks)
