"""Morphology files (SWC, NeuroLucida ASC) as cell types for everyone (issue 14):

* ``nethub convert cell.swc|cell.asc OUT.h5 [--name T] [--dL UM]`` and
  :func:`morphology_network` / :func:`convert_morphology`: one cell type as NEURON's Import3d
  instantiates the file (``soma[0]``, ``dend[3]``, section lists ``all``, ``somatic``,
  ``basal``, ``apical``, ``axonal``), the file embedded (role ``morphology``);
* :func:`netpyne_import`: NetPyNE's ``importCellParams(label, 'cell.swc')`` -- the cell
  NetPyNE's own loader builds, with its names (``soma_0``, ``dend_12``), points and lists.

Both are :func:`nethub.converters.sonata_bio.read_morphology` (one reader; Import3d runs in a
separate process, :mod:`nethub.sim.morphread`). No membrane mechanism is added: a morphology
file has none, NEURON and NetPyNE add none, and an invented ``pas`` would be a model nobody
wrote; the sections keep NEURON's defaults (``Ra`` 35.4 Ω·cm, ``cm`` 1 µF/cm², ``nseg`` 1
unless ``dL`` is given). Insert mechanisms in the spec (``cellParams[T]['secs'][...]['mechs']``)
or with the API after import (docs/hoc-templates.md, "Morphologies (SWC/ASC)").
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConversionError
from ..network import Network
from ..store import write_network
from .hoc import HocImport
from .sonata_bio import MorphologyImport, read_morphology

__all__ = ["MORPHOLOGY_SUFFIXES", "morphology_network", "convert_morphology", "netpyne_import"]

#: Suffixes read as morphologies (case-insensitive).
MORPHOLOGY_SUFFIXES = (".swc", ".asc")


def _check(path: Path) -> None:
    if path.suffix.lower() not in MORPHOLOGY_SUFFIXES:
        raise ConversionError(f"{path}: not a morphology file (known: "
                              f"{', '.join(MORPHOLOGY_SUFFIXES)})")


def morphology_network(path: str | os.PathLike, *, name: str | None = None,
                       dL: float | None = None, names: str = "bmtk",  # noqa: N803
                       timeout: float = 120.0) -> Network:
    """A network holding one cell type read from a morphology file (and no cells).

    Parameters
    ----------
    path : path
        ``.swc`` or ``.asc`` (NeuroLucida) file.
    name : str, optional
        Cell type name (default: the file's stem).
    dL : float, optional
        Maximum segment length in µm (``nseg = 1 + 2 * int(L / (2 * dL))``); default nseg 1.
    names : {"bmtk", "netpyne"}
        Section naming: Import3d's (``dend[3]``) or NetPyNE's loader (``dend_3``).
    timeout : float
        Seconds after which the NEURON child process is stopped.

    Returns
    -------
    Network
        ``cell_types`` = {name: CompartmentalCell}, ``files`` = the morphology.

    Raises
    ------
    ConversionError
        Not a morphology file, or NEURON's Import3d cannot read it.
    """
    p = Path(path)
    _check(p)
    imp = read_morphology(p, name=name, dL=dL, names=names, timeout=timeout)
    return _network(imp)


def _network(imp: MorphologyImport) -> Network:
    ct = imp.cell_type
    return Network(cell_types={ct.name: ct}, files=dict(imp.files),
                   provenance={"creator": "nethub convert", "source": ct.provenance})


def convert_morphology(path: str | os.PathLike, output: str | os.PathLike, *,
                       name: str | None = None, dL: float | None = None,  # noqa: N803
                       names: str = "bmtk") -> Network:
    """:func:`morphology_network` written as a store at ``output`` (atomically)."""
    net = morphology_network(path, name=name, dL=dL, names=names)
    write_network(net, output)
    return net


def netpyne_import(path: str | os.PathLike, cell_name: str | None = None) -> HocImport:
    """NetPyNE's ``importCellParams`` of a morphology file, as a :class:`HocImport` (the
    spec builder's import result): NetPyNE's section names, points and section lists, the
    file embedded. NetPyNE 1.1.1 itself accepts only ``.swc`` here; ``.asc`` is read the same
    way (NetPyNE's loader knows it) when it has no contour (closed outline) section."""
    p = Path(path)
    _check(p)
    imp = read_morphology(p, name=cell_name or p.stem, names="netpyne")
    return HocImport(imp.cell_type, files=dict(imp.files))
