"""NetPyNE's way of building a morphology, for :mod:`nethub.sim.morphread` (child process).

NetPyNE 1.1.1's ``importCellParams(label, 'cell.swc', ...)`` does not instantiate the cell with
``Import3d_GUI.instantiate`` (NEURON's and BMTK's way) but with its own loader
(``netpyne.support.morphology.load``): Import3d reads the file, then one top-level section per
Import3d section, in Import3d's order, skipping subsidiary sections, named ``soma[i]``,
``axon[i]``, ``dend[i]``, ``apic[i]`` by SWC type (counted per type), connected at Import3d's
``parentx``, with Import3d's points (a one-point section becomes three points along x, a
sphere of that diameter); nothing else (``nseg`` 1, NEURON's default ``Ra`` and ``cm``, no
mechanism). This module builds the same cell, written anew from that description, so that the
names (``soma_0``, ``dend_12`` once NetPyNE's ``getSecName`` is applied), geometry and points
are NetPyNE's. NetPyNE also reports every ``SectionList`` of the interpreter as a section
list (by ``hname``); :func:`section_lists` does the same in this fresh process, where there
are none of the two empty lists importing ``netpyne`` itself creates (``SectionList[0]``,
``SectionList[1]``), so those are absent.
"""

from __future__ import annotations

from pathlib import Path

from neuron import h

from .templatenames import netpyne_name

#: SWC type code -> section array name (NetPyNE's ``name_form``).
KINDS = {1: "soma", 2: "axon", 3: "dend", 4: "apic"}
_READERS = {".swc": "Import3d_SWC_read", ".asc": "Import3d_Neurolucida3"}
_KEEP: list = []


def _points(isec) -> list[tuple[float, float, float, float]]:
    """The points NetPyNE gives a section: Import3d's from ``first`` on; a single point is
    spread over three points along x (a cylinder as long as it is wide)."""
    first = int(isec.first)
    n = int(isec.raw.ncol())
    xs = [isec.raw.getval(0, j) for j in range(first, n)]
    ys = [isec.raw.getval(1, j) for j in range(first, n)]
    zs = [isec.raw.getval(2, j) for j in range(first, n)]
    ds = [isec.d.x[j] for j in range(first, int(isec.d.size()))]
    if len(ds) == 1:
        x, y, z, d = xs[0], ys[0], zs[0], ds[0]
        return [(x - d / 2.0, y, z, d), (x, y, z, d), (x + d / 2.0, y, z, d)]
    return list(zip(xs, ys, zs, ds, strict=True))


def build(path: str) -> list:
    """Read ``path`` (``.swc`` / ``.asc``) with Import3d and build NetPyNE's sections.

    Returns
    -------
    list of Section
        In creation order (NetPyNE's ``h.allsec()`` order).
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _READERS:
        raise RuntimeError(f"{path}: morphology format {suffix or '(none)'} not supported "
                           f"(known: {', '.join(_READERS)})")
    reader = getattr(h, _READERS[suffix])()
    reader.quiet = 1
    reader.input(str(path))
    gui = h.Import3d_GUI(reader, 0)
    _KEEP.append((reader, gui))
    counts = dict.fromkeys(KINDS, 0)
    made: dict[str, object] = {}
    out = []
    for i in range(int(gui.swc.sections.count())):
        isec = gui.swc.sections.object(i)
        kind = int(isec.type)
        if isec.is_subsidiary:
            continue
        if kind not in KINDS:
            raise RuntimeError(f"{path}: section of SWC type {kind} (NetPyNE knows 1 soma, "
                               "2 axon, 3 dend, 4 apic)")
        if isec.iscontour_:
            raise RuntimeError(f"{path}: a contour (closed outline) section, which NetPyNE's "
                               "loader does not support; convert it without NetPyNE's names")
        sec = h.Section(name=f"{KINDS[kind]}[{counts[kind]}]")
        counts[kind] += 1
        if isec.parentsec is not None:
            sec.connect(made[isec.parentsec.hname()](isec.parentx))
        if int(isec.first) == 1:
            h.pt3dstyle(1, isec.raw.getval(0, 0), isec.raw.getval(1, 0),
                        isec.raw.getval(2, 0), sec=sec)
        for x, y, z, d in _points(isec):
            h.pt3dadd(x, y, z, d, sec=sec)
        made[isec.hname()] = sec
        out.append(sec)
    return out


def names_of(secs: list) -> dict[str, str]:
    """hoc internal name -> NetPyNE's name (``dend[12]`` -> ``dend_12``)."""
    return {s.hoc_internal_name(): netpyne_name(s.name()) for s in secs}


def section_lists(names: dict[str, str]) -> dict[str, list[str]]:
    """Every SectionList of the interpreter by ``hname`` (NetPyNE's ``getCellParams``)."""
    out = {}
    for sl in h.List("SectionList"):
        out[sl.hname()] = [names.get(s.hoc_internal_name(), netpyne_name(s.name()))
                           for s in sl]
    return out
