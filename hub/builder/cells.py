"""cellParams → canonical cell types, and the assignment of a cell type to every cell.

NetPyNE applies to a compartmental cell every cellParams rule whose ``conds`` match its tags, or,
for rules without ``conds``, the rule whose label equals the cell's ``cellType`` tag; rules stack
in order (later ones update sections, mechanisms and parameters of earlier ones). Each distinct
combination of matching rules becomes one canonical cell type, named after its rules joined by
``+``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, PointCell, Section
from ..errors import SpecError
from ..selection import match_conds
from ..table import Categorical, Table
from .cellimport import IMPORT_KEYS, imported_rule
from .pops import POINT_CELL_MODELS, POP_STRUCTURAL_KEYS, PopBuild

__all__ = ["assign_cell_types", "section_from_spec", "compartmental_from_rules"]

logger = logging.getLogger(__name__)

_SEC_KEYS = {"geom", "topol", "mechs", "ions", "pointps", "spikeGenLoc", "vinit", "weightNorm",
             "threshold", "synMechs"}
_GEOM_PASS = ("L", "diam", "Ra", "cm", "nseg")


def _deep_update(base: dict, new: dict) -> dict:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def section_from_spec(sec: dict[str, Any], where: str) -> Section:
    """One NetPyNE ``secs`` entry → :class:`Section`."""
    unknown = set(sec) - _SEC_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown section key(s) {sorted(unknown)} "
                        f"(valid: {', '.join(sorted(_SEC_KEYS))})")
    geom = dict(sec.get("geom", {}))
    pt3d = geom.pop("pt3d", None)
    topol = sec.get("topol") or {}
    pps = []
    for label, pp in (sec.get("pointps") or {}).items():
        if "mod" not in pp:
            raise SpecError(f"{where}['pointps']['{label}']: needs 'mod' (the mechanism name)")
        pps.append({"label": label, **pp})
    return Section(
        geom=geom,
        pt3d=None if not pt3d else np.asarray(pt3d, dtype=np.float64)[:, :4],
        parent=topol.get("parentSec"),
        parent_x=float(topol.get("parentX", 1.0)),
        child_x=float(topol.get("childX", 0.0)),
        mechs=copy.deepcopy(sec.get("mechs", {})),
        ions=copy.deepcopy(sec.get("ions", {})),
        point_processes=pps,
        syn_mechs=copy.deepcopy(sec.get("synMechs", []) or []),
        spike_gen_loc=sec.get("spikeGenLoc"),
        vinit=sec.get("vinit"),
        threshold=sec.get("threshold"),
        weight_norm=sec.get("weightNorm"),
    )


def _spike_source(secs: dict[str, dict]) -> tuple[str, float] | None:
    """NetPyNE's spikeGenLocAndSec: the section with spikeGenLoc, else the first root section."""
    for name, sec in secs.items():
        if "spikeGenLoc" in sec:
            return name, float(sec["spikeGenLoc"])
    for name, sec in secs.items():
        if not sec.get("topol"):
            return name, 0.5
    return (next(iter(secs)), 0.5) if secs else None


def compartmental_from_rules(name: str, rules: list[tuple[str, dict]]) -> CompartmentalCell:
    """Stack cellParams rules (in order) into one compartmental cell type."""
    merged: dict[str, Any] = {"secs": {}, "secLists": {}, "globals": {}, "vars": {}}
    imported = []
    for label, rule in rules:
        body = {k: v for k, v in rule.items() if k not in IMPORT_KEYS}
        if rule.get("_import"):  # importCellParams: the template's rule, then the overlay
            imp_rule, imp_type = imported_rule(dict(rule["_import"]))
            _deep_update(merged, imp_rule)
            imported.append((label, imp_type, bool(body) or len(rules) > 1))
        _deep_update(merged, body)
    secs = merged["secs"]
    sections = {s: section_from_spec(v, f"cellParams['{name}']['secs']['{s}']")
                for s, v in secs.items()}
    src = _spike_source(secs)
    threshold = secs[src[0]].get("threshold") if src else None
    tags = {k: v for k, v in merged.items() if k not in ("secs", "secLists", "globals", "vars")}
    ct = CompartmentalCell(
        name=name, sections=sections,
        section_lists={k: list(v) for k, v in merged["secLists"].items()},
        spike_source=src, threshold=threshold, globals=merged["globals"], vars=merged["vars"],
        tags=tags, provenance={"source": "netpyne cellParams", "rules": [r[0] for r in rules]},
    )
    for label, imp_type, changed in imported:
        ct.mod_files = sorted(set(ct.mod_files) | set(imp_type.mod_files))
        if imp_type.run_mode != "template":
            continue
        if changed:
            logger.warning("cellParams[%r]: the template needs template mode (max |dV| %s mV) "
                           "but other rules or writes change it; the snapshot is used",
                           label, imp_type.template.get("max_dv"))
        else:
            ct.run_mode, ct.template = "template", dict(imp_type.template)
    return ct


def _point_model(pb: PopBuild, cell_params: dict) -> str | None:
    model = pb.tags.get("cellModel")
    rule = cell_params.get(pb.tags.get("cellType", ""), {}) if model is None else {}
    model = model or rule.get("cellModel")
    return model if model in POINT_CELL_MODELS else None


def _point_cell(pb: PopBuild, model: str, cell_params: dict) -> PointCell:
    params = dict(pb.tags.get("params") or {})
    if not params:
        params = {k: v for k, v in pb.tags.items() if k not in POP_STRUCTURAL_KEYS}
    rule = cell_params.get(pb.tags.get("cellType", ""), {})
    for k, v in (rule.get("params") or {}).items():
        params.setdefault(k, v)
    for key in ("spkTimes", "dynamicRates"):
        if key in pb.tags:
            params[key] = pb.tags[key]
    tags = {k: pb.tags[k] for k in ("cellType", "cellModel") if k in pb.tags}
    return PointCell(name=pb.label, model=model, params=params, tags=tags,
                     provenance={"source": "netpyne popParams", "pop": pb.label})


def assign_cell_types(cells: Table, pops: list[PopBuild], cell_params: dict[str, dict]
                      ) -> tuple[Categorical, dict[str, Any]]:
    """Decide each cell's canonical cell type and build the types.

    Returns the ``cell_type`` column and the cell types by name.
    """
    n = len(cells)
    types: dict[str, Any] = {}
    names = np.empty(n, dtype=object)
    start = 0
    compart = np.zeros(n, dtype=bool)
    for pb in pops:
        stop = start + len(pb.cells)
        model = _point_model(pb, cell_params)
        if model is not None:
            pc = _point_cell(pb, model, cell_params)
            pc.name = pb.label if pb.label not in cell_params else f"{pb.label}.{model}"
            types[pc.name] = pc
            names[start:stop] = pc.name
        else:
            compart[start:stop] = True
        start = stop
    if compart.any():
        _assign_compartmental(cells, compart, cell_params, names, types)
    return Categorical.from_values(names.tolist()), types


def _assign_compartmental(cells, compart, cell_params, names, types) -> None:
    labels = list(cell_params)
    matched = np.zeros((len(labels), len(cells)), dtype=bool)
    ctype = cells["cellType"] if "cellType" in cells else None
    for i, label in enumerate(labels):
        rule = cell_params[label]
        if rule.get("cellModel") in POINT_CELL_MODELS:
            continue
        if rule.get("conds"):
            matched[i] = match_conds(cells, rule["conds"], f"cellParams['{label}']['conds']")
        elif ctype is not None:
            code = ctype.code_of(label)
            matched[i] = (ctype.codes == code) if code >= 0 else False
    matched &= compart
    if len(labels) == 0:
        combos = np.zeros((1, len(cells)), dtype=bool)
        inverse = np.zeros(len(cells), dtype=np.int64)
    else:
        combos, inverse = np.unique(matched.T, axis=0, return_inverse=True)
    for ci, combo in enumerate(combos):
        members = compart & (inverse.reshape(-1) == ci)
        if not members.any():
            continue
        rule_labels = [labels[i] for i in np.flatnonzero(combo)]
        if not rule_labels:
            pops = sorted(set(cells["pop"].take(np.flatnonzero(members)).values()))
            raise SpecError(
                f"popParams{pops}: no cellParams rule applies to these cells (their cellType "
                f"matches no cellParams label and no rule's conds match; rules: {labels})"
            )
        name = "+".join(rule_labels)
        types[name] = compartmental_from_rules(name, [(r, cell_params[r]) for r in rule_labels])
        names[members] = name
