"""Connection rules → the connections and pointer-connections tables.

For every rule: select candidate pairs (:mod:`nethub.build.conns`), evaluate the per-connection
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


def _pair_value(ctx: BuildContext, cr: ConnRule, key: str, pre, post, item, draws) -> Any:
    """A per-pair value: scalar, list (kept as list) or evaluated expression array."""
    spec = cr.rule.get(key)
    if isinstance(spec, str):
        expr = ctx.compile(spec, _CONN_VARS, f"{cr.where}['{key}']")
        env = conn_env(ctx.cells, pre, post, expr.variables & _CONN_VARS, ctx.border)
        return draws.evaluate(expr, env, len(pre))
    if cr.func == "fromListConn" and isinstance(spec, (list, tuple)) and item is not None \
            and key in ("weight", "delay", "loc") and len(spec) == len(cr.rule["connList"]):
        return np.asarray(spec, dtype=np.float64)[item]
    return spec


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


class _Rows:
    """Accumulates connection rows column by column."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {k: [] for k in (
            "pre_gid", "post_gid", "syn_mech", "post_sec", "post_loc", "weight", "delay",
            "pre_sec", "pre_loc", "rule", "plast", "weight_index")}
        self.keys: list[np.ndarray] = []  # sort keys of the rows (see extend_sorted)

    def add(self, key: np.ndarray | None = None, **cols: Any) -> None:
        n = len(cols["pre_gid"])
        for k, lst in self.cols.items():
            v = cols.get(k)
            if isinstance(v, np.ndarray) and v.shape == (n,):
                lst.append(v)
            else:
                lst.append(np.full(n, v, dtype=object if isinstance(v, str) or v is None
                                   else None))
        self.keys.append(np.zeros(n, dtype=np.int64) if key is None else key)

    def extend_sorted(self, other: _Rows) -> None:
        """Append the rows of ``other`` ordered by their keys (stable)."""
        if not other.keys:
            return
        order = np.argsort(np.concatenate(other.keys), kind="stable")
        for k, parts in other.cols.items():
            self.cols[k].append(np.concatenate(parts)[order])
        self.keys.append(np.zeros(len(order), dtype=np.int64))

    def table(self, schema) -> Table:
        out: dict[str, Any] = {}
        for k, parts in self.cols.items():
            if not parts:
                continue
            arr = np.concatenate(parts)
            if k in ("syn_mech", "post_sec", "pre_sec", "rule", "plast"):
                out[k] = Categorical.from_values(arr.tolist())
            elif k == "weight_index":
                if np.any(arr != 0):
                    out[k] = arr.astype(np.int32)
            else:
                out[k] = arr.astype(np.float64 if k not in ("pre_gid", "post_gid")
                                    else np.int64)
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
    from tqdm.auto import tqdm

    rules = ctx.net.get("connParams") or {}
    conns, pointers = _Rows(), _Rows()
    for label, rule in tqdm(rules.items(), desc="connections", disable=not progress,
                            unit="rule"):
        ctx.check_keys(f"connParams['{label}']", rule, CONN_RULE_KEYS)
        cr = ConnRule.resolve(label, rule, ctx.cells)
        pre, post, item = select_pairs(cr, ctx.gids, ctx)
        rule_conns, rule_pointers = _Rows(), _Rows()
        _add_rule(ctx, cr, pre, post, item, syn_mechs, types, rule_conns, rule_pointers)
        conns.extend_sorted(rule_conns)
        pointers.extend_sorted(rule_pointers)
    return conns.table(CONN_COLUMNS), pointers.table(POINTER_COLUMNS)


def _add_rule(ctx, cr, pre, post, item, syn_mechs, types, conns: _Rows, pointers: _Rows):
    """The rows of one rule, keyed in NetPyNE's order: by pair (post-major, as selected),
    then synMech, then synapse."""
    from .draws import PairDraws

    if len(pre) == 0:
        return
    draws = PairDraws(ctx.gids[pre], ctx.gids[post], ctx.seeds["conn"])
    vals = {k: _pair_value(ctx, cr, k, pre, post, item, draws) for k in _PAIR_PARAMS}
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
        from .synapses import place_synapses

        rows = place_synapses(ctx, cr, pre, post, item, mech, per, types)
        rows["key"] = rows.pop("pair") * len(mechs) + i
        target = pointers if syn_mechs[mech].pointer is not None else conns
        _emit(ctx, cr, rows, syn_mechs[mech], target)


def _emit(ctx: BuildContext, cr: ConnRule, rows: dict, mech: SynMech, out: _Rows) -> None:
    gids = ctx.gids
    keep = np.ones(len(rows["pre"]), dtype=bool)
    if cr.func in ("probConn", "fullConn") and not ctx.cfg.get("allowSelfConns", False):
        keep &= gids[rows["pre"]] != gids[rows["post"]]
    if not ctx.cfg.get("allowConnsWithWeight0", True):
        keep &= rows["weight"] != 0.0
    rows = {k: (v[keep] if isinstance(v, np.ndarray) and v.shape == keep.shape else v)
            for k, v in rows.items()}
    plast = cr.rule.get("plast")
    common = dict(pre_gid=gids[rows["pre"]], post_gid=gids[rows["post"]], syn_mech=mech.name,
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
        out.add(pre_gid=common["post_gid"], post_gid=common["pre_gid"], syn_mech=mech.name,
                post_sec=pre_sec, post_loc=pre_loc, weight=rows["weight"], rule=cr.label,
                pre_sec=rows["sec"], pre_loc=rows["loc"], key=rows["key"])


def compartmental(types: dict, name: str) -> CompartmentalCell | None:
    t = types.get(name)
    return t if isinstance(t, CompartmentalCell) else None
