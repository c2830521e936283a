"""NeuroML2 ``pointCellCondBased`` / ``pointCellCondBasedCa`` cells, as jNeuroML's NEURON export
builds them.

These LEMS component types (NeuroML2 ``Cells.xml``: an absolute capacitance ``C``, ``v0``,
``thresh`` and ``channelPopulation`` children) are not in libNeuroML's object model, so the
NeuroML2 examples that use them (``LEMS_NML2_Ex1_HH.xml``, ``LEMS_NML2_Ex3_Net.xml``) came out
without cells. They are read here from the XML text of the model's files (ElementTree, data
only) and built as every other abstract cell (:func:`nethub.converters.neuroml_cells.cell_type`):
jNeuroML generates one POINT_PROCESS for the cell (the channel populations inside it, ``v = v0``
at the start) and places it in a ``soma`` of ``L = diam = 10 µm`` with ``cm = C / area``. Its
NetCon threshold is 0 mV (``NRNUtils.getThreshold`` uses ``thresh`` only for iaf and PyNN
cells), so the spike detector is at 0 mV, not at ``thresh``.

Accepted forms: ``<pointCellCondBased id=...>`` (and ``...Ca``), ``<cell type="pointCellCondBased"
...>`` and LEMS ``<Component type="pointCellCondBased" ...>``, at the top level of the LEMS
file, of an included LEMS file or of a NeuroML file.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError

__all__ = ["POINT_CELL_TYPES", "PointCellCondBased", "point_cells", "without_cells"]

#: The LEMS component types read here.
POINT_CELL_TYPES = ("pointCellCondBased", "pointCellCondBasedCa")


@dataclass(frozen=True)
class PointCellCondBased:
    """One ``pointCellCondBased`` component: the attributes the cell's section needs.

    ``C`` is the capacitance text (``"10pF"``), read by ``neuroml_cells.capacitance_pf``;
    the spike threshold of jNeuroML's NetCon is 0 mV whatever ``thresh_text`` says (the cell
    has no ``thresh`` attribute on purpose: ``neuroml_cells.threshold_mv`` gives 0).
    """

    id: str
    C: str
    v0_text: str
    thresh_text: str
    component_type: str
    channel_populations: tuple[str, ...] = ()


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kind(el: ET.Element) -> str | None:
    tag = _local(el.tag)
    if tag in POINT_CELL_TYPES:
        return tag
    if tag in ("cell", "Component") and el.get("type") in POINT_CELL_TYPES:
        return el.get("type")
    return None


def _parse(path: Path) -> ET.Element | None:
    data = path.read_bytes()
    if b"pointCellCondBased" not in data:  # the usual case: no second parse of big files
        return None
    # the format layer refused these already; never expand entities here either
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormatError(f"{path}: XML with a DOCTYPE/ENTITY declaration is refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise FormatError(f"{path}: not well-formed XML: {exc}") from exc


def _cell(el: ET.Element, kind: str, path: Path) -> PointCellCondBased:
    cid = el.get("id")
    where = f"{path}: <{_local(el.tag)}>"
    if not cid:
        raise FormatError(f"{where}: a {kind} needs an 'id'")
    missing = [a for a in ("C", "v0", "thresh") if el.get(a) is None]
    if missing:
        raise FormatError(f"{where} {cid!r}: {kind} needs {', '.join(missing)}")
    pops = tuple(c.get("id", "") for c in el if _local(c.tag) == "channelPopulation")
    return PointCellCondBased(id=cid, C=el.get("C", ""), v0_text=el.get("v0", ""),
                              thresh_text=el.get("thresh", ""), component_type=kind,
                              channel_populations=pops)


def point_cells(files: Iterable[str | Path]) -> dict[str, PointCellCondBased]:
    """The ``pointCellCondBased(Ca)`` components at the top level of these XML files.

    Parameters
    ----------
    files : iterable of path
        The LEMS file and the LEMS / NeuroML files it includes (``.h5`` files are skipped:
        their XML part holds no LEMS component types).

    Returns
    -------
    dict
        ``{id: PointCellCondBased}`` in file order (a later file's id wins, as in LEMS).
    """
    out: dict[str, PointCellCondBased] = {}
    for f in dict.fromkeys(Path(p) for p in files):
        if f.name.endswith((".h5", ".hdf5")) or not f.is_file():
            continue
        root = _parse(f)
        for el in [] if root is None else root:
            kind = _kind(el)
            if kind is not None:
                cell = _cell(el, kind, f)
                out[cell.id] = cell
    return out


def without_cells(doc: Any, cells: dict[str, Any]) -> Any:
    """``doc`` (a libNeuroML document) without the ``<cell>`` elements of these ids: a
    ``<cell type="pointCellCondBased">`` has no morphology, and the detailed-cell import must
    not see it. A shallow copy; ``doc`` itself is not changed."""
    found = [c for c in getattr(doc, "cells", None) or [] if c.id in cells]
    if not found:
        return doc
    out = copy.copy(doc)
    out.cells = [c for c in doc.cells if c.id not in cells]
    return out
