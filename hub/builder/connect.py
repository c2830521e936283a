"""Connection rules → the connections and pointer-connections tables.

For every rule: select candidate pairs (:mod:`nethub.builder.conns`), evaluate the per-connection
values (weight, delay, synsPerConn, loc: number, list or expression), expand synMech lists
(with synMech*Factor) and synapses per connection (sections, secLists, distributeSynsUniformly,
connRandomSecFromList), apply weightNorm and the weight scale factors, and drop what NetPyNE
drops (self connections unless allowed, zero weights unless allowed).
"""

from __future__ import annotations

import json
import logging
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, SynMech
from ..errors import SpecError
from ..network import CONN_COLUMNS, POINTER_COLUMNS
from ..table import Categorical, Table
from .conns import ConnRule, select_pairs
from .context import BuildContext, conn_env
from .draws import PairDraws, SequentialDraws
from .synapses import concat_categoricals, place_synapses

__all__ = ["build_connections", "CONN_RULE_KEYS"]

logger = logging.getLogger(__name__)

#: Keys a connParams rule may have (NetPyNE 1.1).
CONN_RULE_KEYS = {
    "preConds", "postConds", "connFunc", "probability", "convergence", "divergence",
    "connList", "synMech", "weight", "delay", "loc", "synsPerConn", "sec", "preSec",
    "preLoc", "plast", "shape", "weightIndex", "synMechWeightFactor", "synMechDelayFactor",
    "synMechLocFactor", "distributeSynsUniformly", "connRandomSecFromList", "threshold",
    "gapJunction", "disynapticBias", "label",
}
_PAIR_PARAMS = ("weight", "delay", "synsPerConn", "loc")  # NetPyNE's draw order


def _pair_value(ctx: BuildContext, cr: ConnRule, key: str, pre, post, item, draws,
                seq=None) -> Any:
    """A per-pair value: scalar, list (kept as list) or evaluated expression array.

    Expressions of probConn/convConn/divConn rules draw from each pair's own stream; fullConn
    and fromListConn evaluate them beforehand for every candidate pair (pre-major, or connList
    order) from the rule's sequential stream ``seq``, as NetPyNE does."""
    spec = cr.rule.get(key)
    if isinstance(spec, str):
        expr = ctx.compile(spec, _CONN_VARS, f"{cr.where}['{key}']")
        if seq is not None and cr.func in ("fullConn", "fromListConn"):
            return _all_pairs_value(ctx, cr, expr, pre, post, item, seq)
        env = conn_env(ctx.cells, pre, post, expr.variables & _CONN_VARS, ctx.border)
        return draws.evaluate(expr, env, len(pre))
    if cr.func == "fromListConn" and isinstance(spec, (list, tuple)) and item is not None \
            and key in ("weight", "delay", "loc") and len(spec) == len(cr.rule["connList"]):
        return np.asarray(spec, dtype=np.float64)[item]
    return spec


def _all_pairs_value(ctx, cr: ConnRule, expr, pre, post, item, seq) -> np.ndarray:
    """NetPyNE's ``<param>List`` of fullConn/fromListConn: the expression over all candidate
    pairs in NetPyNE's order, then the values of the selected pairs."""
    if cr.func == "fullConn":
        all_pre = np.repeat(cr.pre, len(cr.post))
        all_post = np.tile(cr.post, len(cr.pre))
        idx = np.searchsorted(cr.pre, pre) * len(cr.post) + np.searchsorted(cr.post, post)
    else:
        lst = np.asarray(cr.rule["connList"], dtype=np.int64).reshape(-1, 2)
        all_pre, all_post = cr.pre[lst[:, 0]], cr.post[lst[:, 1]]
        idx = np.asarray(item, dtype=np.int64)
    env = conn_env(ctx.cells, all_pre, all_post, expr.variables & _CONN_VARS, ctx.border)
    return seq.evaluate(expr, env, len(all_pre))[idx]


_CONN_VARS = {
    *(f"{p}_{c}" for p in ("pre", "post") for c in ("x", "y", "z", "xnorm", "ynorm", "znorm")),
    "dist_x", "dist_y", "dist_z", "dist_xnorm", "dist_ynorm", "dist_znorm", "dist_2D",
    "dist_3D", "dist_3D_border", "dist_norm2D", "dist_norm3D",
}


def _per_syn_mech(value: Any, i: int, n_mech: int, factor, where: str):
    """NetPyNE's choice of the value for the i-th of n_mech synMechs."""
    if n_mech == 1:
        return value
    if isinstance(value, list):
        if len(value) != n_mech:
            raise SpecError(f"{where}: must be a {n_mech}-element list (one per synMech) "
                            f"or a single value")
        return value[i]
    if factor is not None:
        if len(factor) != n_mech:
            raise SpecError(f"{where}Factor: must be a {n_mech}-element list")
        return np.asarray(value, dtype=np.float64) * factor[i]
    return value


_STR_COLS = ("syn_mech", "post_sec", "pre_sec", "rule", "plast")


class _Const:
    """A column part holding one value ``n`` times (materialized only when needed)."""

    __slots__ = ("value", "n")

    def __init__(self, value: Any, n: int) -> None:
        self.value, self.n = value, n

    def __len__(self) -> int:
        return self.n


def _as_categorical(part) -> Categorical:
    if isinstance(part, Categorical):
        return part
    if isinstance(part, _Const):
        if part.value is None:
            return Categorical(np.full(part.n, -1, dtype=np.int32), [])
        return Categorical(np.zeros(part.n, dtype=np.int32), [str(part.value)])
    return Categorical.from_values(np.asarray(part, dtype=object).tolist())


def _merge(name: str, parts: list):
    """The parts of one column as one array (Categorical for string columns)."""
    if name in _STR_COLS:
        cats = [_as_categorical(p) for p in parts]
        return (cats[0] if len(cats) == 1 else concat_categoricals(cats)).normalized()
    arrays = [np.full(p.n, np.nan if p.value is None else p.value) if isinstance(p, _Const)
              else np.asarray(p) for p in parts]
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


class _Rows:
    """Accumulates connection rows column by column (scalar values stay scalar, string
    columns stay categorical)."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {k: [] for k in (
            "pre_gid", "post_gid", "syn_mech", "post_sec", "post_loc", "weight", "delay",
            "pre_sec", "pre_loc", "rule", "plast", "weight_index")}
        self.keys: list[np.ndarray] = []  # sort keys of the rows (see extend_sorted)
        self.reverse: _Rows | None = None  # reverse halves of bidirectional pointer conns

    def add(self, key: np.ndarray | None = None, **cols: Any) -> None:
        n = len(cols["pre_gid"])
        for k, lst in self.cols.items():
            v = cols.get(k)
            if isinstance(v, Categorical) or (isinstance(v, np.ndarray) and v.shape == (n,)):
                lst.append(v)
            else:
                lst.append(_Const(v, n))
        self.keys.append(np.zeros(n, dtype=np.int64) if key is None else key)

    def extend_sorted(self, other: _Rows) -> None:
        """Append the rows of ``other`` ordered by their keys (stable)."""
        if not other.keys:
            return
        keys = np.concatenate(other.keys)
        if len(other.keys) == 1 and np.all(keys[1:] >= keys[:-1]):
            for k, parts in other.cols.items():  # already in order
                self.cols[k].extend(parts)
        else:
            order = np.argsort(keys, kind="stable")
            for k, parts in other.cols.items():
                col = _merge(k, parts)
                self.cols[k].append(col.take(order) if isinstance(col, Categorical)
                                    else col[order])
        self.keys.append(np.zeros(len(keys), dtype=np.int64))

    def table(self, schema) -> Table:
        out: dict[str, Any] = {}
        for k, parts in self.cols.items():
            if not parts:
                continue
            if k == "weight_index":
                parts = [_Const(p.value or 0, p.n) if isinstance(p, _Const) else p
                         for p in parts]
                if any(np.any(np.asarray(p.value if isinstance(p, _Const) else p) != 0)
                       for p in parts):
                    out[k] = _merge(k, parts).astype(np.int32)
                continue
            col = _merge(k, parts)
            if k not in _STR_COLS:
                col = col.astype(np.int64 if k in ("pre_gid", "post_gid") else np.float64,
                                 copy=False)
            out[k] = col
        if not self.cols["pre_gid"]:
            return Table(schema=schema)
        if schema is POINTER_COLUMNS:
            out.pop("plast", None)
            out.pop("weight_index", None)
            out.pop("delay", None)
        return Table(out, schema)


def build_connections(ctx: BuildContext, syn_mechs: dict[str, SynMech], types: dict,
                      progress: bool = False) -> tuple[Table, Table]:
    """All connParams rules (in order) → (connections, pointer_conns)."""
    from tqdm.auto import tqdm  # here: 0.12 s to import, only a build needs it

    rules = ctx.net.get("connParams") or {}
    conns, pointers, reverse = _Rows(), _Rows(), _Rows()
    for label, rule in tqdm(rules.items(), desc="connections", disable=not progress,
                            unit="rule"):
        ctx.check_keys(f"connParams['{label}']", rule, CONN_RULE_KEYS)
        cr = ConnRule.resolve(label, rule, ctx.cells)
        pre, post, item = select_pairs(cr, ctx.gids, ctx)
        rule_conns, rule_pointers = _Rows(), _Rows()
        rule_pointers.reverse = _Rows()
        _add_rule(ctx, cr, pre, post, item, syn_mechs, types, rule_conns, rule_pointers)
        conns.extend_sorted(rule_conns)
        pointers.extend_sorted(rule_pointers)
        reverse.extend_sorted(rule_pointers.reverse)
    # NetPyNE creates the reverse halves of bidirectional pointer connections after all rules
    pointers.extend_sorted(reverse)
    return conns.table(CONN_COLUMNS), pointers.table(POINTER_COLUMNS)


def _add_rule(ctx, cr, pre, post, item, syn_mechs, types, conns: _Rows, pointers: _Rows):
    """The rows of one rule, keyed in NetPyNE's order: by pair (post-major, as selected),
    then synMech, then synapse."""
    pre, post, item = _drop_self_pairs(ctx, cr, pre, post, item)
    if len(pre) == 0:
        return
    draws = PairDraws(ctx.gids[pre], ctx.gids[post], ctx.seeds["conn"])
    seq = SequentialDraws.for_rule(cr.func, ctx.gids[cr.pre], ctx.gids[cr.post],
                                   ctx.seeds["conn"])
    vals = {k: _pair_value(ctx, cr, k, pre, post, item, draws, seq) for k in _PAIR_PARAMS}
    mechs = cr.rule.get("synMech")
    mechs = mechs if isinstance(mechs, list) else [mechs]
    if mechs == [None]:
        if not syn_mechs:
            raise SpecError(f"{cr.where}: no synMech given and no synMechParams defined")
        mechs = [next(iter(syn_mechs))]
    for i, mech in enumerate(mechs):
        if mech not in syn_mechs:
            raise SpecError(f"{cr.where}['synMech']: unknown synaptic mechanism {mech!r} "
                            f"(defined: {', '.join(syn_mechs)})")
        per = {k: _per_syn_mech(vals[k], i, len(mechs),
                                cr.rule.get(f"synMech{k.capitalize()}Factor")
                                if k != "synsPerConn" else None, f"{cr.where}['{k}']")
               for k in _PAIR_PARAMS}

        rows = place_synapses(ctx, cr, pre, post, item, mech, per, types)
        rows["key"] = rows.pop("pair") * len(mechs) + i
        target = pointers if syn_mechs[mech].pointer is not None else conns
        _emit(ctx, cr, rows, syn_mechs[mech], target)


def _drop_self_pairs(ctx: BuildContext, cr: ConnRule, pre, post, item):
    """probConn/fullConn pairs of a cell with itself go (unless allowSelfConns), before the
    per-pair values: those come from per-pair streams or by pair index, so the other pairs'
    values do not change, and dropping 2 arrays is cheaper than dropping every row column."""
    if cr.func not in ("probConn", "fullConn") or ctx.cfg.get("allowSelfConns", False):
        return pre, post, item
    keep = ctx.gids[pre] != ctx.gids[post]
    if keep.all():
        return pre, post, item
    return pre[keep], post[keep], (None if item is None else item[keep])


def _emit(ctx: BuildContext, cr: ConnRule, rows: dict, mech: SynMech, out: _Rows) -> None:
    gids = ctx.gids
    rows["pre"], rows["post"] = gids[rows["pre"]], gids[rows["post"]]  # gids from here on
    keep = None
    if cr.func in ("probConn", "fullConn") and not ctx.cfg.get("allowSelfConns", False):
        keep = rows["pre"] != rows["post"]
    if not ctx.cfg.get("allowConnsWithWeight0", True):
        nonzero = rows["weight"] != 0.0
        keep = nonzero if keep is None else keep & nonzero
    if keep is not None and not keep.all():
        rows = {k: (v.take(keep) if isinstance(v, Categorical) else
                    v[keep] if isinstance(v, np.ndarray) and v.shape == keep.shape else v)
                for k, v in rows.items()}
    plast = cr.rule.get("plast")
    common = dict(pre_gid=rows["pre"], post_gid=rows["post"], syn_mech=mech.name,
                  post_sec=rows["sec"], post_loc=rows["loc"], weight=rows["weight"],
                  rule=cr.label, key=rows["key"])
    if mech.pointer is None:
        out.add(**common, delay=rows["delay"], pre_sec=cr.rule.get("preSec"),
                pre_loc=float(cr.rule["preLoc"]) if isinstance(cr.rule.get("preLoc"), Number)
                else np.nan,
                plast=None if plast is None else json.dumps(plast, sort_keys=True),
                weight_index=rows.get("weight_index", 0))
        return
    pre_sec = cr.rule.get("preSec", "soma")
    pre_loc = float(cr.rule.get("preLoc", 0.5) or 0.5)
    out.add(**common, pre_sec=pre_sec, pre_loc=pre_loc)
    if mech.pointer.get("bidirectional", True):
        out.reverse.add(pre_gid=common["post_gid"], post_gid=common["pre_gid"], syn_mech=mech.name,
                post_sec=pre_sec, post_loc=pre_loc, weight=rows["weight"], rule=cr.label,
                pre_sec=rows["sec"], pre_loc=rows["loc"], key=rows["key"])


def compartmental(types: dict, name: str) -> CompartmentalCell | None:
    t = types.get(name)
    return t if isinstance(t, CompartmentalCell) else None
