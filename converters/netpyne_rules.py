"""nethub cell types → NetPyNE ``cellParams`` rules and ``secs`` entries: the one writer of
sections that both the saved-output writer (:mod:`.netpyne_write`) and the spec export
(:mod:`.spec`) use.

Two flavours differ only where NetPyNE's two layouts differ:

``saved=True``
    a saved cell's ``secs`` (``sim.saveData``): ``topol`` and ``mechs`` always present (empty
    dicts when there are none), no ``synMechs`` (the synapses of a saved cell are those of its
    connections, re-created from ``conns``).
``saved=False``
    a ``cellParams`` rule of a spec: ``topol`` only for sections with a parent, ``mechs`` only
    when there are some, ``synMechs`` kept, the type's tags kept as rule keys.
"""

from __future__ import annotations

from typing import Any

from nethub.celltypes import CompartmentalCell, Section
from nethub.celltypes import jsonable as _plain

__all__ = ["section_spec", "type_rule", "pp_label"]

#: (NetPyNE section key, Section attribute) of the optional scalars of a section
_SECTION_SCALARS = (("spikeGenLoc", "spike_gen_loc"), ("vinit", "vinit"),
                    ("threshold", "threshold"), ("weightNorm", "weight_norm"))


def pp_label(pp: dict, i: int) -> str:
    """The ``pointps`` key of a section's ``i``-th point process."""
    return str(pp.get("label") or f"{pp.get('mod', 'pointp')}_{i}")


def section_spec(sec: Section, saved: bool = False) -> dict[str, Any]:
    """A :class:`~nethub.celltypes.Section` as a NetPyNE ``secs`` entry.

    Parameters
    ----------
    sec : Section
    saved : bool
        The layout of NetPyNE's saved cells (see the module docstring), else a spec rule's.

    Returns
    -------
    dict
        Plain, JSON-able values (a new object; ``sec`` is not shared).
    """
    geom = _plain(sec.geom)
    if sec.pt3d is not None:
        geom["pt3d"] = sec.pt3d.tolist()
    topol = ({"parentSec": sec.parent, "parentX": sec.parent_x, "childX": sec.child_x}
             if sec.parent is not None else {})
    if saved:  # the key order of NetPyNE's saved cells
        out: dict[str, Any] = {"geom": geom, "mechs": _plain(sec.mechs), "topol": topol}
    else:
        out = {"geom": geom, **({"topol": topol} if topol else {}),
               **({"mechs": _plain(sec.mechs)} if sec.mechs else {})}
    if sec.ions:
        out["ions"] = _plain(sec.ions)
    if sec.point_processes:
        out["pointps"] = {pp_label(pp, i): {k: _plain(v) for k, v in pp.items() if k != "label"}
                          for i, pp in enumerate(sec.point_processes)}
    if sec.syn_mechs and not saved:
        out["synMechs"] = _plain(sec.syn_mechs)
    for key, attr in _SECTION_SCALARS:
        if getattr(sec, attr) is not None:
            out[key] = _plain(getattr(sec, attr))
    return out


def type_rule(ct: CompartmentalCell, saved: bool = False) -> dict[str, Any]:
    """A compartmental cell type as a NetPyNE ``cellParams`` rule (without ``conds``).

    Parameters
    ----------
    ct : CompartmentalCell
    saved : bool
        Sections as saved cells hold them, and without the type's tags (the rule a saved file's
        loader looks up), else as a spec rule with the tags as rule keys.
    """
    rule: dict[str, Any] = {"secs": {n: section_spec(s, saved) for n, s in ct.sections.items()}}
    if ct.section_lists:
        rule["secLists"] = _plain(ct.section_lists)
    for key in ("globals", "vars"):
        if getattr(ct, key):
            rule[key] = _plain(getattr(ct, key))
    if not saved:
        for k, v in ct.tags.items():
            if k not in rule and k not in ("conds", "_import"):
                rule[k] = _plain(v)
    return rule
