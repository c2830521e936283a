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

from .hoc_export import nseg_of, spike_site

__all__ = ["keep_nseg_dl", "with_all_list", "section_length", "bmtk_template_options",
           "bmtk_spike_threshold"]


def bmtk_template_options(ct: CompartmentalCell) -> dict[str, bool]:
    """:func:`~nethub.converters.hoc_export.hoc_template` options for BMTK 1.2's bionet:
    plain sections declared as arrays of one (``soma`` -> ``soma[0]``: ``BioCell`` uses
    ``hobj.soma[0]``) and ``define_shape()`` when a section has no 3-D points (its morphology
    code averages the soma's 3-D points). Cells imported from morphologies (sections
    ``soma[0]``..., all with 3-D points) get the template they had."""
    no_pts = any(s.pt3d is None or not len(s.pt3d) for s in ct.sections.values())
    return {"arrays": True, "define_shape": no_pts}


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


def bmtk_spike_threshold(cell_types: Mapping[str, object], default_threshold: float
                         ) -> tuple[float | None, list[str]]:
    """``run.spike_threshold`` for BMTK, which puts one detector on every biophysical cell at
    ``soma[0](0.5)`` with the config's threshold (default -15 mV) instead of the template's
    ``connect2target``.

    Returns
    -------
    (threshold, lost)
        The threshold shared by every compartmental type (None when there is no such type or
        they differ); ``lost`` names types BMTK detects differently from nethub.
    """
    sites = {t: spike_site(ct, default_threshold) for t, ct in cell_types.items()
             if isinstance(ct, CompartmentalCell)}
    lost = [f"cell type {t}: spikes detected at {sec}({loc:g}) (BMTK detects them at "
            "soma[0](0.5))" for t, (sec, loc, _, pp, _) in sites.items()
            if pp is not None or sec not in ("soma", "soma[0]") or loc != 0.5]
    thresholds = sorted({site[2] for site in sites.values()})
    if len(thresholds) > 1:
        lost.append("cell types with different spike thresholds ("
                    + ", ".join(f"{t} {site[2]:g} mV" for t, site in sites.items())
                    + f"): BMTK uses one run.spike_threshold ({thresholds[0]:g} mV written)")
    return (thresholds[0] if thresholds else None), lost
