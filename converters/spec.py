"""Network -> NetPyNE netParams/simConfig (and back, through :func:`nethub.build`).

Two modes: ``spec`` (the network's own spec) and ``rules`` (explicit rules NetPyNE 1.1 and
:func:`nethub.build` both turn back into the network). What each rule family holds, and what
rules cannot say: ``docs/formats.md`` ("Spec export").
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CompartmentalCell, PointCell
from nethub.errors import ConversionError
from nethub.network import DRAWS_COLUMN, ROTATION_COLUMN, Network
from nethub.specrules import spec_rules
from nethub.table import Categorical, Ragged, Table

from . import spec_v2
from .compare import compare_networks
from .netpyne_rules import type_rule
from .netpyne_tables import NET_PARAM_DEFAULTS

__all__ = ["SpecExport", "from_network", "to_network", "compare_networks", "MODES"]

logger = logging.getLogger(__name__)

MODES = ("auto", "spec", "rules")
#: netParams scalars kept in ``Network.params`` (what ``nethub.build`` stores there).
NET_KEYS = tuple(NET_PARAM_DEFAULTS)
_COORDS = ("x", "y", "z")
#: cell columns the builder derives itself (never emitted as per-cell tags)
_DERIVED_PREFIXES = ("params.", "param.")
_DERIVED = {"fraction", ROTATION_COLUMN, DRAWS_COLUMN}


@dataclass
class SpecExport:
    """A network described as a spec.

    Attributes
    ----------
    net_params, sim_config : dict
        Plain, JSON-able netParams and simConfig.
    lost : list of str
        What the spec does not carry over.
    mode : str
        ``'spec'`` (the network's own spec) or ``'rules'`` (explicit rules).
    gid_map : dict of int to int
        Original gid -> gid in the rebuilt network, when they differ (rules mode).
    """

    net_params: dict[str, Any]
    sim_config: dict[str, Any]
    lost: list[str] = field(default_factory=list)
    mode: str = "rules"
    gid_map: dict[int, int] = field(default_factory=dict)


def to_network(net_params: Mapping[str, Any], sim_config: Mapping[str, Any] | None = None,
               mod_files: Mapping[str, str] | None = None) -> Network:
    """Build the network a spec describes (:func:`nethub.builder.build`)."""
    return spec_rules().build(dict(net_params), dict(sim_config or {}),
                              mod_files=dict(mod_files or {}))


def from_network(net: Network, mode: str = "auto", check: bool = True,
                 sim_config: Mapping[str, Any] | None = None) -> SpecExport:
    """Describe ``net`` as a NetPyNE spec.

    Parameters
    ----------
    net : Network
    mode : {'auto', 'spec', 'rules'}
        'auto' writes the network's own spec when it has one (and, with ``check``, still
        matches it), else explicit rules.
    check : bool
        Rebuild the spec with :func:`nethub.build` and report every difference in ``lost``.
    sim_config : mapping, optional
        simConfig for rules mode (default: the seeds the network was built with, if known).

    Returns
    -------
    SpecExport

    Raises
    ------
    ConversionError
        ``mode`` is unknown, or 'spec' is asked for a network without a spec.
    """
    if mode not in MODES:
        raise ConversionError(f"unknown spec export mode {mode!r} (valid: {', '.join(MODES)})")
    if mode == "spec" and not net.spec:
        raise ConversionError("the network has no spec (network.spec is None); use mode "
                              "'rules' or 'auto'")
    lost = [f"{len(net.mod_files)} .mod file(s) ({', '.join(sorted(net.mod_files))}): a spec "
            "names mechanisms but does not hold their sources"] if net.mod_files else []
    lost += spec_v2.doc_losses(net)
    net = spec_v2.without_docs(net)
    if mode != "rules" and net.spec:
        base, dropped = spec_v2.without_columns(net)
        out = SpecExport(copy.deepcopy(net.spec.get("netParams") or {}),
                         copy.deepcopy(net.spec.get("simConfig") or {}), lost + dropped, "spec")
        diffs = compare_networks(base, to_network(out.net_params, out.sim_config)) if check \
            else []
        if not diffs or mode == "spec":
            out.lost += [f"the network differs from its spec: {d}" for d in diffs]
            return out
        lost.append("the network no longer matches its spec (" + "; ".join(diffs[:3])
                    + "); wrote explicit rules instead")
    net, dropped = spec_v2.without_columns(net, rules=True)
    out = _Rules(net, sim_config).export()
    out.lost[:0] = lost + dropped
    if check:
        rebuilt = to_network(out.net_params, out.sim_config)
        out.lost += compare_networks(_renumbered(net, out.gid_map), rebuilt)
    return out


# ----------------------------------------------------------------------------- helpers
def _values(col: Any) -> np.ndarray:
    """A column as an array of Python-comparable values (strings/None for categoricals)."""
    return col.values() if isinstance(col, Categorical) else np.asarray(col)


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _one_or_list(arr: np.ndarray) -> Any:
    """A single value when every entry is equal (NaN-aware), else a list of Python floats."""
    arr = np.asarray(arr, dtype=np.float64)
    if len(arr) and np.array_equal(arr, np.full(len(arr), arr[0]), equal_nan=True):
        return float(arr[0])
    return arr.tolist()


def _none_if_nan(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _group_ids(keys: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Group number of every row (0, 1, ... in order of first appearance) over key columns."""
    n = len(keys[0]) if keys else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    df = pd.DataFrame({i: k for i, k in enumerate(keys)})
    ids = df.groupby(list(df.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(ids, return_index=True)[1]
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[ids], len(first)


def _key(col: Any) -> np.ndarray:
    """A groupable key column (NaN is a value of its own: ``groupby(dropna=False)``)."""
    return col.codes.astype(np.int64) if isinstance(col, Categorical) else np.asarray(col)


def _renumbered(net: Network, gid_map: dict[int, int]) -> Network:
    """``net`` with its gids replaced through ``gid_map`` (unmapped gids kept)."""
    if not gid_map:
        return net
    old = np.fromiter(gid_map.keys(), dtype=np.int64, count=len(gid_map))
    new = np.fromiter(gid_map.values(), dtype=np.int64, count=len(gid_map))
    order = np.argsort(old)
    old, new = old[order], new[order]

    def remap(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=np.int64)
        pos = np.clip(np.searchsorted(old, a), 0, max(len(old) - 1, 0))
        hit = (old[pos] == a) if len(old) else np.zeros(len(a), dtype=bool)
        return np.where(hit, new[pos] if len(new) else a, a)

    tables = {}
    for tname, cols in (("cells", ("gid",)), ("connections", ("pre_gid", "post_gid")),
                        ("pointer_conns", ("pre_gid", "post_gid")), ("stim_targets", ("gid",))):
        t = getattr(net, tname)
        t = Table(dict(t.columns), t.schema, n=len(t))
        for c in cols:
            t[c] = remap(t[c])
        tables[tname] = t
    return net.replace(**tables)


def _unique_labels(bases: list[str | None], fallback: list[str]) -> list[str]:
    """Rule labels: the original label when it names one emitted rule, else numbered."""
    counts: dict[str, int] = {}
    for b in bases:
        if b is not None:
            counts[b] = counts.get(b, 0) + 1
    out: list[str] = []
    seen: set[str] = set()
    for b, fb in zip(bases, fallback):
        base = fb if b is None else b
        label, i = (f"{base} #1" if b is not None and counts[b] > 1 else base), 1
        while label in seen:
            i += 1
            label = f"{base} #{i}"
        seen.add(label)
        out.append(label)
    return out


def _pops_value(pops: list[str]) -> Any:
    return pops[0] if len(pops) == 1 else list(pops)


def _syn_mech_spec(m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"mod": m.model, **copy.deepcopy(m.params)}
    if m.pointer is not None:
        out["pointerParams"] = copy.deepcopy(m.pointer)
    if m.self_netcon is not None:
        out["selfNetCon"] = copy.deepcopy(m.self_netcon)
    if m.loc is not None:
        out["loc"] = m.loc
    return out


# ----------------------------------------------------------------------------- rules
class _Rules:
    """Writes a network as explicit NetPyNE rules (see the module docstring)."""

    def __init__(self, net: Network, sim_config: Mapping[str, Any] | None) -> None:
        self.net, self.cells = net, net.cells
        self.cfg = dict(sim_config) if sim_config is not None else {}
        if sim_config is None and isinstance(net.provenance.get("seeds"), dict):
            self.cfg["seeds"] = dict(net.provenance["seeds"])
        self.lost: list[str] = []
        self.gids = np.asarray(net.cells["gid"], dtype=np.int64)
        self.by_gid = np.argsort(self.gids, kind="stable")
        pops = _values(net.cells["pop"])
        if any(p is None for p in pops):
            self.lost.append(f"{sum(p is None for p in pops)} cell(s) without population: "
                             "put in population '_unassigned'")
            pops = np.array(["_unassigned" if p is None else p for p in pops], dtype=object)
        self.pop_of = pops
        self.types = _values(net.cells["cell_type"])
        self.pop_order = self._pop_order()
        self.new_gid = self._renumber()

    # -------------------------------------------------------------- cells
    def _pop_order(self) -> list[str]:
        first: dict[str, int] = {}
        for row in self.by_gid.tolist():
            first.setdefault(self.pop_of[row], row)
        names = list(first) + [p for p in self.net.populations if p not in first]
        if [p for p in self.net.populations if p in names] != \
                [p for p in names if p in self.net.populations]:
            self.lost.append("populations are listed in the order of their first gid")
        return names

    def _renumber(self) -> np.ndarray:
        """New gid of every cells row: populations in order, cells by gid within each."""
        new = np.empty(len(self.gids), dtype=np.int64)
        start = 0
        self.pop_rows: dict[str, np.ndarray] = {}
        for pop in self.pop_order:
            rows = self.by_gid[self.pop_of[self.by_gid] == pop]
            new[rows] = np.arange(start, start + len(rows))
            self.pop_rows[pop] = rows
            start += len(rows)
        changed = new != self.gids
        self.gid_map = ({int(a): int(b) for a, b in zip(self.gids[changed], new[changed])}
                        if changed.any() else {})
        if changed.any():
            self.lost.append(f"cell gids renumbered from 0 in population order "
                             f"({int(changed.sum())} of them change); NetPyNE numbers cells "
                             "that way")
        return new

    def rows_of(self, gids: np.ndarray, what: str) -> np.ndarray:
        """Cells rows of ``gids`` (-1 where a gid is not a cell)."""
        sorted_g = self.gids[self.by_gid]
        pos = np.clip(np.searchsorted(sorted_g, gids), 0, max(len(sorted_g) - 1, 0))
        ok = (sorted_g[pos] == gids) if len(sorted_g) else np.zeros(len(gids), dtype=bool)
        if not ok.all():
            self.lost.append(f"{int((~ok).sum())} {what} of gids that are not cells: dropped")
        return np.where(ok, self.by_gid[pos] if len(sorted_g) else -1, -1)

    def positions(self, rows: np.ndarray, pops: list[str]) -> np.ndarray:
        """Index of each cell among the gid-sorted cells of ``pops`` (connList, cellList)."""
        universe = np.sort(np.concatenate([self.new_gid[self.pop_rows[p]] for p in pops]))
        return np.searchsorted(universe, self.new_gid[rows])

    def pops_of(self, rows: np.ndarray) -> list[str]:
        present = set(self.pop_of[np.unique(rows)].tolist())
        return [p for p in self.pop_order if p in present]

    # -------------------------------------------------------------- cell types
    def cell_params(self) -> dict[str, Any]:
        """One rule per compartmental cell type, with the conds that select its cells."""
        out: dict[str, Any] = {}
        self.forced = np.zeros(len(self.gids), dtype=bool)
        # the builder lists the types of single-rule cells in reverse order of their rules
        for name, ct in reversed(self.net.cell_types.items()):
            if not isinstance(ct, CompartmentalCell):
                continue
            rule = type_rule(ct)
            conds = self._selector(name)
            out[name] = {"conds": conds, **rule} if conds else rule
            if ct.mod_files:
                self.lost.append(f"cell type {name!r}: its list of .mod files {ct.mod_files}")
        return out

    def _selector(self, name: str) -> dict[str, Any] | None:
        """conds selecting exactly the cells of type ``name`` (None: by its cellType tag)."""
        rows = self.types == name
        if not rows.any():
            return None
        if "cellType" in self.cells:
            tag = _values(self.cells["cellType"])
            mine, other = set(tag[rows].tolist()), set(tag[~rows].tolist())
            if all(isinstance(v, str) for v in mine) and mine.isdisjoint(other):
                return None if mine == {name} else {"cellType": _pops_value(sorted(mine))}
        pops = self.pops_of(np.flatnonzero(rows))
        if all(np.all(self.types[self.pop_rows[p]] == name) for p in pops):
            return {"pop": _pops_value(pops)}
        self.forced |= rows
        if "cellType" in self.cells:
            self.lost.append(f"cells of type {name!r}: their cellType tag is set to {name!r} "
                             "(nothing else selects exactly them)")
        return None

    # -------------------------------------------------------------- populations
    def pop_params(self, cell_params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for pop in self.pop_order:
            rows = self.pop_rows[pop]
            p = self.net.populations.get(pop)
            tags = copy.deepcopy(p.tags) if p is not None else {}
            tags.pop("cellsList", None)
            if p is not None and p.extent:
                self.lost.append(f"population {pop!r}: its extent {p.extent}")
            point = self._point_type(pop, rows, tags, cell_params)
            tags["cellsList"] = self._cells_list(rows, tags, point)
            out[pop] = tags
        return out

    def _point_type(self, pop: str, rows: np.ndarray, tags: dict[str, Any],
                    cell_params: dict[str, Any]) -> PointCell | None:
        kinds = {self.types[r] for r in rows.tolist()}
        point = [self.net.cell_types.get(k) for k in kinds]
        point = [t for t in point if isinstance(t, PointCell)]
        if not point:
            return None
        if len(kinds) > 1:
            raise ConversionError(f"population {pop!r} mixes cell types {sorted(map(str, kinds))}"
                                  " with point cells; NetPyNE needs one point-cell model per "
                                  "population")
        pc = point[0]
        tags["cellModel"] = pc.model
        structural = spec_rules().POP_STRUCTURAL_KEYS
        seen = dict(tags.get("params") or {}) or {
            k: v for k, v in tags.items() if k not in structural}
        seen.update({k: tags[k] for k in ("spkTimes", "dynamicRates") if k in tags})
        if seen != pc.params:  # what the builder would make of the tags (its _point_cell)
            tags["params"] = copy.deepcopy(pc.params)
        name = pop if pop not in cell_params else f"{pop}.{pc.model}"
        if name != pc.name:
            self.lost.append(f"point cell type {pc.name!r} is named {name!r} (NetPyNE names "
                             "point cells after their population)")
        return pc

    def _cells_list(self, rows: np.ndarray, tags: dict[str, Any], point: PointCell | None
                    ) -> list[dict[str, Any]]:
        fields: dict[str, list] = {}
        size = self.net.params
        for c in _COORDS:
            x = np.asarray(self.cells[c], dtype=np.float64)[rows]
            xn = np.asarray(self.cells[c + "norm"], dtype=np.float64)[rows]
            s = float(size.get("size" + c.upper(), 100))
            exact = bool(np.all(np.isfinite(xn)) and np.array_equal(xn * s, x))
            fields[c + "norm" if exact else c] = (xn if exact else x).tolist()
        for tag in ("cellType", "cellModel"):
            vals = _values(self.cells[tag])[rows] if tag in self.cells else \
                np.full(len(rows), None, dtype=object)
            if tag == "cellType" and self.forced[rows].any():
                vals = np.where(self.forced[rows], self.types[rows], vals)
            if tag not in tags or any(v != tags[tag] for v in vals.tolist()):
                if any(v is not None for v in vals.tolist()):
                    fields[tag] = [_scalar(v) for v in vals.tolist()]
        fields.update(self._extra_tags(rows))
        if point is not None and point.model == "VecStim":
            col = self.cells["params.spkTimes"] if "params.spkTimes" in self.cells else None
            fields["spkTimes"] = ([col.row(r).tolist() for r in rows.tolist()]
                                  if isinstance(col, Ragged) else [[] for _ in rows])
        keys = list(fields)
        return [{k: v for k, v in zip(keys, vals) if v is not None}
                for vals in zip(*(fields[k] for k in keys))] if keys else [{} for _ in rows]

    def _extra_tags(self, rows: np.ndarray) -> dict[str, list]:
        reserved = {"x", "y", "z", "xnorm", "ynorm", "znorm", "pop", "gid", "params",
                    "spkTimes", "cellsList", "cellType", "cellModel"}
        out: dict[str, list] = {}
        for name in self.cells.extra_columns:
            if name in reserved or name in _DERIVED or name.startswith(_DERIVED_PREFIXES):
                continue
            col = self.cells[name]
            if isinstance(col, Categorical):
                out[name] = col.take(rows).values().tolist()
            elif isinstance(col, Ragged):
                out[name] = [col.row(r).astype(np.float64).tolist() for r in rows.tolist()]
            else:
                vals = np.asarray(col)[rows]
                out[name] = [_none_if_nan(v) for v in vals.tolist()]
        return out

    # -------------------------------------------------------------- connections
    def _weight_scale(self, key: str) -> float:
        scale = self.net.params.get(key, 1)
        if key == "scaleConnWeight" and self.net.params.get("scaleConnWeightModels"):
            self.lost.append("scaleConnWeightModels: weights are written unscaled by it")
        return float(scale) if isinstance(scale, (int, float)) and scale else 1.0

    def conn_rules(self, table: Table, pointer: bool) -> list[tuple[str | None, str, dict]]:
        """(original rule label, fallback label, rule) of every emitted connList rule."""
        what = "pointer connections" if pointer else "connections"
        if len(table) == 0:
            return []
        pre = self.rows_of(np.asarray(table["pre_gid"]), f"{what} from")
        post = self.rows_of(np.asarray(table["post_gid"]), f"{what} onto")
        keep = (pre >= 0) & (post >= 0)
        selfs = keep & (self.new_gid[pre] == self.new_gid[post])
        if selfs.any():
            self.lost.append(f"{int(selfs.sum())} self-connection(s) in {what}: connList rules "
                             "skip pairs whose pre and post cell are the same")
        keep &= ~selfs
        if pointer:
            keep &= self._forward(table, keep)
        self._unsupported(table, what, ("weight_index",) if not pointer else ())
        keys = ["rule", "syn_mech", "pre_sec", "pre_loc"] + ([] if pointer else ["plast"])
        scale = self._weight_scale("scaleConnWeight")
        out = []
        for rows in self._groups(table, np.flatnonzero(keep), keys):
            for sub, sec in self.sec_split(_values(table["post_sec"])[rows], post[rows]):
                r = rows[sub]
                out.append(self._conn_rule(table, r, pre[r], post[r], pointer, scale, sec))
        return out

    @staticmethod
    def _groups(table: Table, idx: np.ndarray, keys: list[str]) -> list[np.ndarray]:
        """Rows ``idx`` grouped by the values of ``keys``, groups in order of first row."""
        ids, k = _group_ids([_key(table[c])[idx] for c in keys])
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(k + 1))
        return [idx[order[bounds[g]:bounds[g + 1]]] for g in range(k)]

    def _resolve(self, type_name: Any, sec: Any) -> Any:
        """The section the builder picks on a cell of ``type_name`` for a rule's ``sec``."""
        ct = self.net.cell_types.get(type_name)
        if not isinstance(ct, CompartmentalCell) or not ct.sections:
            return None
        labels = spec_rules().section_labels(ct, sec)
        return labels[0] if labels else None

    def sec_split(self, secs: np.ndarray, cells: np.ndarray) -> list[tuple[np.ndarray, Any]]:
        """Split rows by section into as few rules as possible: one ``sec`` value serves rows
        on cell types where the builder resolves it to their section (e.g. 'dend' on a cell
        without dendrite means its soma)."""
        types = self.types[cells]
        combos = {(t, s) for t, s in zip(types.tolist(), secs.tolist())}
        for cand in dict.fromkeys(secs.tolist()):
            if all(self._resolve(t, cand) == s for t, s in combos):
                return [(np.ones(len(secs), dtype=bool), cand)]
        return [(secs == s if s is not None else np.array([v is None for v in secs]), s)
                for s in dict.fromkeys(secs.tolist())]

    def _conn_rule(self, table: Table, rows: np.ndarray, pre: np.ndarray, post: np.ndarray,
                   pointer: bool, scale: float, sec: Any) -> tuple[str | None, str, dict]:
        r0 = int(rows[0])
        pre_pops, post_pops = self.pops_of(pre), self.pops_of(post)
        pairs = np.stack([self.positions(pre, pre_pops), self.positions(post, post_pops)], 1)
        rule: dict[str, Any] = {"preConds": {"pop": _pops_value(pre_pops)},
                                "postConds": {"pop": _pops_value(post_pops)},
                                "connList": pairs.tolist()}
        first = {c: _scalar(_values(table[c])[r0]) for c in
                 ("rule", "syn_mech", "pre_sec", "pre_loc")}
        if first["syn_mech"] is not None:
            rule["synMech"] = first["syn_mech"]
        rule["weight"] = _one_or_list(np.asarray(table["weight"])[rows] / scale)
        if not pointer:
            rule["delay"] = _one_or_list(np.asarray(table["delay"])[rows])
        if sec is not None:
            rule["sec"] = sec
        loc = np.asarray(table["post_loc"], dtype=np.float64)[rows]
        if not np.all(np.isnan(loc)):
            rule["loc"] = _one_or_list(loc)
        if first["pre_sec"] is not None:
            rule["preSec"] = first["pre_sec"]
        if _none_if_nan(first["pre_loc"]) is not None:
            rule["preLoc"] = first["pre_loc"]
        if not pointer:
            plast = _values(table["plast"])[r0]
            if plast is not None:
                rule["plast"] = json.loads(plast)
        fallback = f"{'+'.join(pre_pops)}->{'+'.join(post_pops)}"
        return first["rule"], fallback, rule

    def _unsupported(self, table: Table, what: str, derived: tuple[str, ...]) -> None:
        for name in table.extra_columns:
            if name not in derived:
                self.lost.append(f"{what}: extra column {name!r}")
        for name in ("threshold",) if "threshold" in table else ():
            vals = np.asarray(table[name], dtype=np.float64)
            if not np.all(np.isnan(vals)):
                self.lost.append(f"{what}: per-connection {name} (connList rules have none)")
        for name in ("source_var", "target_var"):
            if name in table and np.any(table[name].codes >= 0):
                self.lost.append(f"{what}: per-row {name} (the mechanism's pointerParams apply)")

    def _forward(self, table: Table, keep: np.ndarray) -> np.ndarray:
        """Rows to emit: of a bidirectional pointer mechanism only one row per pair (the
        builder adds the reverse row); unpaired rows are reported."""
        bidir = {k for k, m in self.net.syn_mechs.items()
                 if m.pointer is not None and m.pointer.get("bidirectional", True)}
        mech = _values(table["syn_mech"])
        fwd = keep.copy()
        cols = [_values(table[c]).tolist() for c in ("pre_gid", "post_gid", "post_sec",
                                                      "post_loc", "pre_sec", "pre_loc",
                                                      "weight", "rule")]
        cols = [[_none_if_nan(v) for v in c] for c in cols]
        pending: dict[tuple, list[int]] = {}
        for i in np.flatnonzero(keep).tolist():
            if mech[i] not in bidir:
                continue
            a, b, bs, bl, as_, al, w, r = (c[i] for c in cols)
            partner = pending.get((b, a, as_, al, bs, bl, w, r, mech[i]))
            if partner:
                partner.pop(0)
                fwd[i] = False
            else:
                pending.setdefault((a, b, bs, bl, as_, al, w, r, mech[i]), []).append(i)
        unpaired = sum(len(v) for v in pending.values())
        if unpaired:
            self.lost.append(f"{unpaired} pointer connection(s) of bidirectional mechanisms "
                             "without their reverse row: the rebuilt network has both")
        return fwd

    # -------------------------------------------------------------- stimulation
    def stim_rules(self) -> list[tuple[str | None, str, dict]]:
        t = self.net.stim_targets
        if len(t) == 0:
            return []
        rows = self.rows_of(np.asarray(t["gid"]), "stimulation targets on")
        src = _values(t["source"])
        keep = (rows >= 0) & np.array([s is not None for s in src], dtype=bool)
        if (rows >= 0).sum() > keep.sum():
            self.lost.append(f"{int((rows >= 0).sum() - keep.sum())} stimulation target(s) "
                             "without a source: dropped")
        params = [c for c in t.extra_columns if c.startswith("param.")]
        self._unsupported(t, "stimulation targets", tuple(params))
        idx = np.flatnonzero(keep)
        keys = ["rule", "source", "loc", "syn_mech", "weight", "delay", *params]
        ids, _ = _group_ids([_key(t[c])[idx] for c in keys])
        occ = pd.DataFrame({"g": ids, "gid": rows[idx]}).groupby(["g", "gid"]).cumcount()
        scale = self._weight_scale("scaleConnWeightNetStims")
        out = []
        t2 = Table({"g": ids, "occ": occ.to_numpy()}, n=len(idx))
        for sel in self._groups(t2, np.arange(len(idx)), ["g", "occ"]):
            sel = idx[sel]
            for sub, sec in self.sec_split(_values(t["sec"])[sel], rows[sel]):
                out.append(self._stim_rule(t, sel[sub], rows, scale, sec))
        return out

    def _stim_rule(self, t: Table, sel: np.ndarray, rows: np.ndarray, scale: float, sec: Any
                   ) -> tuple[str | None, str, dict]:
        r0 = int(sel[0])
        cells = np.unique(rows[sel])
        pops = self.pops_of(cells)
        first = {c: _scalar(_values(t[c])[r0]) for c in
                 ("rule", "source", "loc", "syn_mech", "weight", "delay")}
        rule: dict[str, Any] = {"source": self._source(t, r0, first["source"]), "conds": {
            "pop": _pops_value(pops), "cellList": np.sort(self.positions(cells, pops)).tolist()}}
        if sec is not None:
            rule["sec"] = sec
        if _none_if_nan(first["loc"]) is not None:
            rule["loc"] = first["loc"]
        if first["syn_mech"] is not None:
            rule["synMech"] = first["syn_mech"]
            for key in ("weight", "delay"):
                if _none_if_nan(first[key]) is not None:
                    rule[key] = first[key] / scale if key == "weight" else first[key]
        return first["rule"], f"{first['source']}->{'+'.join(pops)}", rule

    def _source(self, t: Table, row: int, name: str) -> str:
        """The source of a target row: its own, or, when the row holds per-cell values of
        the source's parameters (``param.<name>`` columns, from expressions), a copy of the
        source with those values (NetPyNE has no per-cell source parameters)."""
        src = self.net.stim_sources.get(name)
        if src is None:
            return name
        params = dict(src.params)
        for col in (c for c in t.extra_columns if c.startswith("param.")):
            v = _none_if_nan(_scalar(np.asarray(t[col])[row]))
            if v is not None:
                params[col[len("param."):]] = v
        if params == src.params:
            return name
        key = json.dumps([name, params], sort_keys=True, default=str)
        if key not in self.derived:
            label = f"{name}@{len([k for k in self.derived if json.loads(k)[0] == name]) + 1}"
            while label in self.net.stim_sources:
                label += "'"
            self.derived[key] = label
            self.sources[label] = {"type": src.model, **copy.deepcopy(params)}
        return self.derived[key]

    # -------------------------------------------------------------- all of it
    def export(self) -> SpecExport:
        net = self.net
        npar: dict[str, Any] = {k: copy.deepcopy(net.params[k]) for k in NET_KEYS
                                if k in net.params}
        other = sorted(set(net.params) - set(NET_KEYS))
        if other:
            self.lost.append(f"network parameters {other} (netParams has no such keys)")
        cell_params = self.cell_params()
        npar["popParams"] = self.pop_params(cell_params)
        npar["cellParams"] = cell_params
        npar["synMechParams"] = {k: _syn_mech_spec(m) for k, m in net.syn_mechs.items()}
        conns = self.conn_rules(net.connections, False) + \
            self.conn_rules(net.pointer_conns, True)
        labels = _unique_labels([c[0] for c in conns], [c[1] for c in conns])
        npar["connParams"] = {label: c[2] for label, c in zip(labels, conns)}
        self.sources = {k: {"type": s.model, **copy.deepcopy(s.params)}
                        for k, s in net.stim_sources.items()}
        self.derived: dict[str, str] = {}
        stims = self.stim_rules()
        npar["stimSourceParams"] = self.sources
        if self.derived:
            self.lost.append(f"per-cell values of stimulation source parameters: written as "
                             f"{len(self.derived)} copies of their sources with the values")
        labels = _unique_labels([s[0] for s in stims], [s[1] for s in stims])
        npar["stimTargetParams"] = {label: s[2] for label, s in zip(labels, stims)}
        if net.rxd:
            npar["rxdParams"] = copy.deepcopy(net.rxd)
        return SpecExport(npar, self.cfg, self.lost, "rules", self.gid_map)
