"""Cell types of NetPyNE saved output: from the saved ``secs`` or from ``netParams.cellParams``,
and the per-cell values of their string expressions (part of :mod:`nethub.converters.netpyne`).

NetPyNE saves each compartmental cell's sections as its rules made them, string expressions
included (``'diam': '19 + uniform(-0.5, 0.5)'``), plus the synapses its connections created
(``synMechs``, dropped here: connections are re-created from ``conns``). Its loader re-evaluates
the expressions with the cell's random stream, so nethub does the same with the builder's
evaluator (:func:`~nethub.specrules.spec_rules`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from nethub.celltypes import CompartmentalCell, PointCell
from nethub.celltypes import jsonable as _plain
from nethub.errors import FormatError, SpecError
from nethub.selection import match_conds
from nethub.specrules import spec_rules
from nethub.table import Table

__all__ = ["TypeBuilder", "StimRules", "resolve_expressions", "load_rules", "rule_points",
           "conds_met", "point_columns"]

#: section keys nethub's cell types know (NetPyNE's cellParams section keys)
SEC_KEYS = frozenset({"geom", "topol", "mechs", "ions", "pointps", "spikeGenLoc", "vinit",
                      "weightNorm", "threshold"})




def _deep_update(base: dict, new: Mapping) -> dict:
    for k, v in new.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(_plain(v))
    return base


def clean_secs(secs: Mapping, where: str, lost: list[str]) -> dict:
    """Saved secs without what NetPyNE adds per instance (synapses, NEURON objects) and
    without keys nethub does not know (reported in ``lost``)."""
    out = {}
    for name, sec in secs.items():
        if not isinstance(sec, Mapping):
            raise FormatError(f"{where}['{name}']: expected a dict, got {type(sec).__name__}")
        sec = _plain(sec)
        for key in list(sec):
            if key not in SEC_KEYS:
                if key not in ("synMechs", "hObj"):
                    lost.append(f"{where}['{name}']['{key}']: section key not mapped")
                del sec[key]
        for pp in (sec.get("pointps") or {}).values():
            if isinstance(pp, dict):
                pp.pop("hObj", None)
        if not sec.get("topol"):
            sec.pop("topol", None)
        out[str(name)] = sec
    return out


def conds_met(tags: Mapping, conds: Mapping, gid: int | None = None) -> bool:
    """NetPyNE's ``checkConditions`` on one cell's tags."""
    for key, want in conds.items():
        have = gid if key == "gid" and gid is not None else tags.get(key)
        if isinstance(want, (list, tuple)) and want:
            if isinstance(want[0], (int, float)) and not isinstance(want[0], bool):
                if key == "gid":
                    if have not in want:
                        return False
                elif not isinstance(have, (int, float)) or not want[0] <= have <= want[1]:
                    return False
            elif isinstance(want[0], str) and have not in want:
                return False
        elif isinstance(have, (list, tuple)):
            if want not in have:
                return False
        elif have != want:
            return False
    return True


def load_rules(cell_params: Mapping, tags: Mapping, gid: int | None = None) -> list[str]:
    """The cellParams rules NetPyNE (``CompartCell.create``) applies to a cell with ``tags``:
    those whose ``conds`` hold, or without ``conds`` the one labelled like its ``cellType``."""
    out = []
    for label, rule in cell_params.items():
        if not isinstance(rule, Mapping) or "secs" not in rule:
            continue
        conds = rule.get("conds") or {}
        if (conds and conds_met(tags, conds, gid)) or (not conds and
                                                        tags.get("cellType") == label):
            out.append(label)
    return out


def rule_points(cell_params: Mapping, tags: Mapping, gid: int | None = None
                ) -> dict[str, list]:
    """Per section, the pt3d points NetPyNE's loader appends to a loaded cell's saved points
    (it re-applies the cell's rules, appending their pt3d: a NetPyNE 1.1 quirk)."""
    out: dict[str, list] = {}
    for label in load_rules(cell_params, tags, gid):
        for name, sec in (cell_params[label].get("secs") or {}).items():
            pts = ((sec or {}).get("geom") or {}).get("pt3d") if isinstance(sec, Mapping) \
                else None
            if pts:
                out.setdefault(str(name), []).extend([float(x) for x in p] for p in pts)
    return out


def _section_dicts(secs: Mapping, where: str) -> dict:
    """Sections normalised through nethub's Section (topology, pt3d, point processes)."""
    return {name: spec_rules().section_from_spec(sec, f"{where}['{name}']").to_dict()
            for name, sec in secs.items()}


def _matches(template: Any, actual: Any) -> bool:
    """Whether saved values equal the rules' values; a string expression matches any value."""
    if isinstance(template, str) and not isinstance(actual, (dict, list)):
        return True
    if isinstance(template, dict):
        return (isinstance(actual, dict) and list(template) == list(actual)
                and all(_matches(template[k], actual[k]) for k in template))
    if isinstance(template, list):
        return (isinstance(actual, list) and len(template) == len(actual)
                and all(_matches(a, b) for a, b in zip(template, actual)))
    if isinstance(template, (int, float)) and isinstance(actual, (int, float)):
        return float(template) == float(actual)
    return template == actual


class TypeBuilder:
    """Assigns each saved cell a cell type, creating the types as it goes.

    Parameters
    ----------
    spec : dict
        The file's netParams (may be empty).
    lost : list of str
        Receives notes of what is not carried over.
    """

    def __init__(self, spec: Mapping, lost: list[str]) -> None:
        self.cell_params: dict = dict(spec.get("cellParams") or {})
        self.pop_params: dict = dict(spec.get("popParams") or {})
        self.lost = lost
        self.types: dict[str, Any] = {}
        self.pseudo_rules: dict[str, dict] = {}  # rule key -> rule made of saved secs
        self._by_key: dict[str, str] = {}
        self._templates: dict[tuple, dict | None] = {}

    # ------------------------------------------------------------------ naming
    def _new_name(self, base: str) -> str:
        name, k = base, 2
        while name in self.types:
            name, k = f"{base}#{k}", k + 1
        return name

    def _rules_of(self, cell) -> list[str]:
        labels = cell.tags.get("label")
        if isinstance(labels, (list, tuple)) and labels:
            return [str(x) for x in labels]
        if isinstance(labels, str) and labels:
            return [labels]
        return load_rules(self.cell_params, cell.tags, cell.gid)

    # ------------------------------------------------------------------ types
    def type_of(self, cell) -> str:
        """The name of ``cell``'s type (a :class:`converters.netpyne._Cell`)."""
        if cell.model is not None:
            return self._point(cell)
        labels = self._rules_of(cell)
        template = self._template(tuple(labels))
        where = f"{cell.where}['secs']"
        secs = clean_secs(cell.secs, where, self.lost) if cell.secs else None
        if template is not None and (secs is None or _matches(
                template["dicts"], _section_dicts(secs, where))):
            return self._from_rules(labels)
        if secs is None:
            raise FormatError(f"{cell.where}: no saved 'secs' and no netParams cellParams "
                              f"rules for its tags (rules found: {labels or 'none'})")
        return self._from_secs(cell, labels, secs)

    def _template(self, labels: tuple) -> dict | None:
        """The rules' merged secs (as Section dicts), or None when they cannot be used."""
        if labels not in self._templates:
            rules = [self.cell_params.get(label) for label in labels]
            if not labels or any(not isinstance(r, Mapping) or "secs" not in r or
                                 r.get("_import") for r in rules):
                self._templates[labels] = None
            else:
                merged: dict = {}
                for r in rules:
                    _deep_update(merged, r.get("secs") or {})
                try:
                    self._templates[labels] = {"dicts": _section_dicts(merged, "cellParams")}
                except SpecError:
                    self._templates[labels] = None
        return self._templates[labels]

    def _from_rules(self, labels: list[str]) -> str:
        key = "rules:" + json.dumps(labels)
        if key not in self._by_key:
            name = self._new_name("+".join(labels))
            try:
                ct = spec_rules().cell_type_from_rules(
                    name, [(r, self.cell_params[r]) for r in labels])
            except SpecError as exc:
                raise FormatError(f"net['params']: {exc}") from exc
            self.types[name] = ct
            self._by_key[key] = name
        return self._by_key[key]

    def _from_secs(self, cell, labels: list[str], secs: dict) -> str:
        rules = [self.cell_params[r] for r in labels if isinstance(self.cell_params.get(r),
                                                                   Mapping)]
        extra: dict = {"vars": {}, "globals": {}}
        for r in rules:
            for k in ("vars", "globals"):
                extra[k].update(_plain(r.get(k) or {}))
        rule = {"secs": secs, "secLists": _plain(cell.sec_lists), **extra}
        key = "secs:" + json.dumps(rule, sort_keys=False, default=str)
        if key not in self._by_key:
            base = "+".join(labels) or str(cell.tags.get("cellType") or cell.tags.get("pop")
                                            or "cell")
            name = self._new_name(base)
            rule_key = f"<saved secs of {name}>"
            try:
                ct = spec_rules().cell_type_from_rules(rule_key, [(rule_key, rule)])
            except SpecError as exc:
                raise FormatError(f"{cell.where}['secs']: {exc}") from exc
            ct.name = name
            self.types[name] = ct
            self.pseudo_rules[rule_key] = rule
            self._by_key[key] = name
        return self._by_key[key]

    def _point(self, cell) -> str:
        """One type per population and model, with the population's parameters as the
        builder makes them (``nethub.builder.cells``)."""
        pop = str(cell.tags.get("pop") or cell.model)
        key = f"point:{pop}:{cell.model}"
        if key not in self._by_key:
            name = self._new_name(pop if pop not in self.cell_params else f"{pop}.{cell.model}")
            spec = self.pop_params.get(pop) or {}
            if isinstance(spec.get("params"), Mapping):
                params = _plain(spec["params"])
            elif spec:
                structural = spec_rules().POP_STRUCTURAL_KEYS
                params = {k: _plain(v) for k, v in spec.items() if k not in structural}
            else:
                params = {k: _plain(v) for k, v in (cell.params or {}).items()
                          if not isinstance(v, (list, tuple, np.ndarray))}
            rule = self.cell_params.get(cell.tags.get("cellType"))
            for k, v in ((rule or {}).get("params") or {}).items() if spec else ():
                params.setdefault(k, _plain(v))
            for k in ("spkTimes", "dynamicRates"):
                if k in spec:
                    params[k] = _plain(spec[k])
            tags = {k: cell.tags[k] for k in ("cellType", "cellModel") if k in cell.tags}
            self.types[name] = PointCell(name=name, model=cell.model, params=params, tags=tags,
                                         provenance={"source": "netpyne popParams", "pop": pop})
            self._by_key[key] = name
        return self._by_key[key]


def resolve_expressions(table: Table, builder: TypeBuilder, spec: Mapping, cfg: Mapping
                        ) -> None:
    """Evaluate the string expressions of the cell types per cell, as NetPyNE's loader does,
    into ``param.secs.*`` columns of ``table`` (see :mod:`nethub.builder.cellexpr`)."""
    net = {k: v for k, v in spec.items() if k != "rotateCellsRandomly"}  # saved pt3d is rotated
    net["cellParams"] = {**builder.cell_params, **builder.pseudo_rules}
    try:
        spec_rules().evaluate_cell_expressions(net, cfg, table, builder.types)
    except SpecError as exc:
        raise FormatError(f"net['cells'] (evaluating cell expressions): {exc}") from exc
    for ct in builder.types.values():
        rules = ct.provenance.get("rules", []) if isinstance(ct, CompartmentalCell) else []
        if rules and rules[0] in builder.pseudo_rules:
            ct.provenance = {"source": "netpyne saved cell secs"}


def point_columns(table: Table, builder: TypeBuilder, spec: Mapping, cfg: Mapping) -> bool:
    """The point cells' ``params.*`` columns made from the spec's popParams as the builder makes
    them (the spec provider's ``point_cell_columns``: random rates, VecStim spike trains,
    NetStim noise ids), as NetPyNE's loader re-makes them. Returns False (nothing done) when
    the spec lacks a point population or a population's gids are not one contiguous run."""
    pops = table["pop"].values().tolist()  # type: ignore[union-attr]
    runs: list[tuple[str, int, int]] = []
    for i, p in enumerate(pops):
        if runs and runs[-1][0] == p:
            runs[-1] = (p, runs[-1][1], i + 1)
        else:
            runs.append((p, i, i + 1))
    labels = [r[0] for r in runs]
    point = {ct.provenance.get("pop") for ct in builder.types.values()
             if isinstance(ct, PointCell)}
    if len(set(labels)) != len(labels) or not point <= set(builder.pop_params):
        return False
    try:
        spec_rules().point_cell_columns(spec, cfg, table, runs, builder.pop_params,
                                        builder.types)
    except SpecError as exc:
        raise FormatError(f"net['params']['popParams'] (point cell parameters): {exc}") from exc
    return True


class StimRules:
    """Which stimTargetParams rule made a NetStim stim (NetPyNE saves no label for them)."""

    def __init__(self, spec: Mapping, table: Table) -> None:
        self.by_source: dict[str, list[tuple[str, np.ndarray]]] = {}
        for label, target in (spec.get("stimTargetParams") or {}).items():
            if not isinstance(target, Mapping):
                continue
            conds = dict(target.get("conds") or {})
            cell_list = conds.pop("cellList", None)
            try:
                mask = match_conds(table, conds, f"stimTargetParams['{label}']", selection=True)
            except SpecError:
                mask = np.ones(len(table), dtype=bool)
            if isinstance(cell_list, list):
                rows = np.flatnonzero(mask)
                keep = np.zeros(len(table), dtype=bool)
                idx = [i for i in cell_list if isinstance(i, int) and 0 <= i < len(rows)]
                keep[rows[idx]] = True
                mask = keep
            self.by_source.setdefault(str(target.get("source")), []).append((label, mask))

    def label(self, source: str, row: int) -> str | None:
        """The rule label of the stim of ``source`` on cells-table row ``row``."""
        cands = self.by_source.get(source, [])
        if len(cands) == 1:
            return cands[0][0]
        return next((label for label, mask in cands if mask[row]), None)
