"""NetPyNE's ``importCellParams`` in the builder: a recorded import request
(``rule['_import']``) becomes the cellParams rule NetPyNE would have made (sections, section
lists, globals; ``somaAtOrigin``; ``renameSecs``), read by the installed cell importer
(:mod:`nethub.cellimport`) in a separate process. The templates' sources and mechanisms are
collected while a network is built (:func:`collecting`) so the store carries them.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..cellimport import cell_importer
from ..celltypes import CompartmentalCell, Section

__all__ = ["Collected", "collecting", "imported_rule", "IMPORT_KEYS"]

logger = logging.getLogger(__name__)

_SYN_WORDS = ("syn", "ampa", "gaba", "nmda", "glu")
#: keys of a cellParams rule that are not overlay content
IMPORT_KEYS = ("conds", "_import")


@dataclass
class Collected:
    """What the imports of one build add to the network."""

    mod_files: dict[str, str] = field(default_factory=dict)  # the spec's, given to build()
    files: dict[str, Any] = field(default_factory=dict)
    new_mod_files: dict[str, str] = field(default_factory=dict)
    syn_mechs: dict[str, dict] = field(default_factory=dict)  # importSynMechs


_COLLECT: ContextVar[Collected | None] = ContextVar("nethub_cell_imports", default=None)


@contextlib.contextmanager
def collecting(mod_files: dict[str, str]) -> Iterator[Collected]:
    """Collect the files of the imports performed inside the block."""
    box = Collected(dict(mod_files))
    token = _COLLECT.set(box)
    try:
        yield box
    finally:
        _COLLECT.reset(token)


def imported_rule(request: dict) -> tuple[dict, CompartmentalCell]:
    """Perform ``request`` and return the NetPyNE-style rule body and the imported type."""
    box = _COLLECT.get() or Collected()
    imp = cell_importer()(request, box.mod_files)
    box.files.update(imp.files)
    box.new_mod_files.update({k: v for k, v in imp.mod_files.items()
                              if k not in box.mod_files})
    ct = imp.cell_type
    secs = {name: _sec_rule(sec) for name, sec in ct.sections.items()}
    if request.get("somaAtOrigin", True):
        shift = _soma_at_origin(secs)
        if shift is not None:  # template mode moves the template's own points the same way
            ct = dataclasses.replace(ct, template={**ct.template, "offset": shift})
    for old, new in (request.get("renameSecs") or {}).items():
        _rename(secs, old, new)
    rule = {"secs": secs, "secLists": copy.deepcopy(ct.section_lists),
            "globals": dict(ct.globals)}
    if request.get("importSynMechs"):
        for label, mech in _syn_mechs(ct).items():
            box.syn_mechs.setdefault(f"{request.get('cellName')}_{label}", mech)
    return rule, ct


def _syn_mechs(ct: CompartmentalCell) -> dict[str, dict]:
    """NetPyNE's ``importSynMechs``: the point processes named like synapses (``syn``,
    ``ampa``, ``gaba``, ``nmda``, ``glu``), distinct parameter sets, labelled ``MOD_i``."""
    found: list[dict] = []
    for sec in ct.sections.values():
        for pp in sec.point_processes:
            if not any(s in pp["mod"].lower() for s in _SYN_WORDS):
                continue
            mech = {k: v for k, v in pp.items() if k not in ("label", "loc")}
            if mech not in found:
                found.append(mech)
    return {f"{m['mod']}_{i}": m for i, m in enumerate(found)}


def _sec_rule(sec: Section) -> dict:
    geom = dict(sec.geom)
    if sec.pt3d is not None:
        geom["pt3d"] = sec.pt3d.tolist()
    out: dict[str, Any] = {"geom": geom, "topol": {}, "mechs": copy.deepcopy(sec.mechs)}
    if sec.parent is not None:
        out["topol"] = {"parentSec": sec.parent, "parentX": sec.parent_x,
                        "childX": sec.child_x}
    if sec.ions:
        out["ions"] = copy.deepcopy(sec.ions)
    pps = {pp["label"]: {k: v for k, v in pp.items() if k != "label"}
           for pp in sec.point_processes}
    if pps:
        out["pointps"] = pps
    return out


def _soma_at_origin(secs: dict) -> list[float] | None:
    """NetPyNE: the first section whose name contains 'soma', its middle 3-D point at 0;
    returns the shift applied (None: no soma pt3d, nothing moved)."""
    soma = next((s for s in secs if "soma" in s), None)
    pts = secs[soma]["geom"].get("pt3d") if soma else None
    if not pts:
        return None
    x0, y0, z0 = pts[len(pts) // 2][:3]
    for sec in secs.values():
        for i, p in enumerate(sec["geom"].get("pt3d") or []):
            sec["geom"]["pt3d"][i] = [p[0] - x0, p[1] - y0, p[2] - z0, p[3]]
    return [-x0, -y0, -z0]


def _rename(secs: dict, old: str, new: str) -> None:
    if old not in secs:
        return
    items = [(new if k == old else k, v) for k, v in secs.items()]
    secs.clear()
    secs.update(items)
    for sec in secs.values():
        if sec["topol"].get("parentSec") == old:
            sec["topol"]["parentSec"] = new
