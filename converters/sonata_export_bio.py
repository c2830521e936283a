"""Compartmental cell types in a SONATA export, made so that BMTK's bionet builds them as
nethub does (part of :mod:`nethub.converters.sonata_export`).

BMTK 1.2 (``BioCell.build_morphology``) sets ``nseg = 1 + 2 * int(L / (2 * dL))`` on every
section of ``hobj.all`` from ``run.dL`` (default 20 µm; ``null`` would skip it but fails its
config schema). So the export chooses a ``dL`` that gives every section its own ``nseg``
(:func:`keep_nseg_dl`) or says precisely which sections cannot keep it, and gives every
template a section list ``all`` (the cell type's sections in order, the order
``afferent_section_id`` counts in) when the cell type has none.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from nethub.celltypes import CompartmentalCell, Section

from .hoc_export import nseg_of

__all__ = ["keep_nseg_dl", "with_all_list", "section_length"]


def section_length(sec: Section) -> float:
    """A section's length: ``geom['L']``, else the length of its 3-D points."""
    if "L" in sec.geom:
        return float(sec.geom["L"])
    pts = np.asarray(sec.pt3d if sec.pt3d is not None else np.zeros((0, 4)), float)
    if len(pts) < 2:
        return 100.0  # NEURON's default L
    return float(np.sum(np.linalg.norm(np.diff(pts[:, :3], axis=0), axis=1)))


def keep_nseg_dl(cell_types: Mapping[str, object], preferred: float | None = None
                 ) -> tuple[float | None, list[str]]:
    """A ``run.dL`` with which BMTK's re-segmentation keeps every section's ``nseg``.

    Section ``s`` with ``nseg = 1 + 2k`` keeps it for ``L/(2(k+1)) < dL <= L/(2k)`` (any
    ``dL > L/2`` when ``k = 0``); an even ``nseg`` cannot be kept.

    Returns
    -------
    (dL, conflicts)
        ``preferred`` when it keeps every ``nseg``, else one inside the common interval
        (None when there is none or no compartmental type); ``conflicts`` names the sections
        that make it impossible (empty when a dL was found).
    """
    lo, hi, bounds, even = 0.0, math.inf, [], []
    for tname, ct in cell_types.items():
        if not isinstance(ct, CompartmentalCell):
            continue
        for sname, sec in ct.sections.items():
            n, length = nseg_of(sec), section_length(sec)
            if n % 2 == 0:
                even.append(f"{tname}.{sname} (nseg {n} is even; BMTK makes odd nseg)")
                continue
            k = (n - 1) // 2
            s_lo, s_hi = length / (2 * (k + 1)), (length / (2 * k) if k else math.inf)
            bounds.append((s_lo, s_hi, f"{tname}.{sname} (L {length:g}, nseg {n}: "
                                       f"{s_lo:g} < dL <= {s_hi:g})"))
            lo, hi = max(lo, s_lo), min(hi, s_hi)
    if not bounds and not even:
        return None, []
    if even or lo >= hi:
        tight = [b[2] for b in bounds if b[0] >= hi or b[1] <= lo]
        return None, even + tight
    if preferred is not None and lo < preferred <= hi:
        return float(preferred), []
    return (float((lo + hi) / 2) if math.isfinite(hi) else float(2 * lo if lo else 20.0)), []


def with_all_list(ct: CompartmentalCell) -> CompartmentalCell:
    """``ct`` with a section list ``all`` of its sections in order, if it has none (BMTK
    iterates ``hobj.all`` and counts section ids in it)."""
    if "all" in ct.section_lists:
        return ct
    return dataclasses.replace(ct, section_lists={**ct.section_lists,
                                                  "all": list(ct.sections)})
