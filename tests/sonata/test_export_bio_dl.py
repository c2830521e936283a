"""The export's run.dL keeps every section's nseg under BMTK 1.2's re-segmentation
(``nseg = 1 + 2 * int(L / (2 * dL))`` on every section of ``hobj.all``), or says which
sections cannot keep it; templates get a section list ``all``."""

from __future__ import annotations

import numpy as np

from nethub.celltypes import CompartmentalCell, Section
from nethub.converters.sonata_export_bio import keep_nseg_dl, section_length, with_all_list


def _cell(**secs):
    return CompartmentalCell(name="c", sections={
        k: Section(geom={"L": L, "nseg": n}) for k, (L, n) in secs.items()})


def _bmtk_nseg(length, dl):
    return 1 + 2 * int(length / (2 * dl))


def test_dl_keeps_every_nseg():
    types = {"a": _cell(soma=(18.8, 1), dend=(200.0, 9)), "b": _cell(axon=(120.0, 5))}
    dl, conflicts = keep_nseg_dl(types)
    assert conflicts == [] and dl is not None
    for ct in types.values():
        for sec in ct.sections.values():
            assert _bmtk_nseg(sec.geom["L"], dl) == sec.geom["nseg"]
    assert keep_nseg_dl(types, preferred=dl)[0] == dl  # a preferred dL that works stays
    assert keep_nseg_dl({"a": _cell(soma=(18.8, 1))})[0] > 9.4  # nseg 1: any dL > L/2


def test_impossible_nseg_is_named():
    dl, conflicts = keep_nseg_dl({"a": _cell(soma=(10.0, 2))})
    assert dl is None and conflicts == ["a.soma (nseg 2 is even; BMTK makes odd nseg)"]
    # dend wants dL in (10, 20], apic wants (40, 80]: no common dL
    dl, conflicts = keep_nseg_dl({"a": _cell(dend=(100.0, 5), apic=(400.0, 5))})
    assert dl is None and len(conflicts) == 2 and conflicts[0].startswith("a.dend (L 100")
    assert keep_nseg_dl({}) == (None, [])


def test_all_list_and_length():
    cell = _cell(soma=(10.0, 1), dend=(50.0, 3))
    assert with_all_list(cell).section_lists["all"] == ["soma", "dend"]
    assert "all" not in cell.section_lists  # a copy
    kept = CompartmentalCell(name="k", sections=cell.sections, section_lists={"all": ["dend"]})
    assert with_all_list(kept) is kept
    pts = Section(pt3d=np.array([[0, 0, 0, 1], [3, 4, 0, 1], [3, 4, 12, 1]], float))
    assert section_length(pts) == 17.0
