"""connParams → rows of the connections table, vectorized over candidate pairs.

Follows NetPyNE 1.1 (``netpyne/network/conn.py`` and ``CompartCell.addConn``):

- pre/post cells are the cells matching ``preConds``/``postConds``, in gid order;
- ``connFunc`` defaults by key: probability → probConn, convergence → convConn, divergence →
  divConn, connList → fromListConn, otherwise fullConn;
- random choices come from NetPyNE's own Random123 streams (see :mod:`nethub.random123`), so the
  same spec and seeds give the same connections as NetPyNE, on any number of ranks;
- per-connection values (weight, delay, synsPerConn, loc) may be numbers, lists (one per synMech
  or per synapse) or expressions (see :mod:`nethub.build.params`).

Candidate pairs are processed in blocks of post cells, so memory grows with the number of
connections, not with the number of pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpecError
from ..table import Table
from .conds import match_conds

__all__ = ["ConnRule", "select_pairs", "CONN_FUNCS", "default_conn_func"]

logger = logging.getLogger(__name__)

CONN_FUNCS = ("probConn", "convConn", "divConn", "fromListConn", "fullConn")
PAIR_BLOCK = 1 << 22  # candidate pairs evaluated at once


def default_conn_func(rule: dict[str, Any]) -> str:
    """NetPyNE's choice of connFunc from the keys of a rule."""
    if "connFunc" in rule:
        if rule["connFunc"] not in CONN_FUNCS:
            raise SpecError(f"unknown connFunc {rule['connFunc']!r} "
                            f"(valid: {', '.join(CONN_FUNCS)})")
        return rule["connFunc"]
    for key, func in (("probability", "probConn"), ("convergence", "convConn"),
                      ("divergence", "divConn"), ("connList", "fromListConn")):
        if key in rule:
            return func
    return "fullConn"


@dataclass
class ConnRule:
    """One connParams rule resolved against the cells table."""

    label: str
    rule: dict[str, Any]
    func: str
    pre: np.ndarray  # row indices into the cells table (ascending gid)
    post: np.ndarray

    @classmethod
    def resolve(cls, label: str, rule: dict[str, Any], cells: Table) -> ConnRule:
        where = f"connParams['{label}']"
        pre = np.flatnonzero(match_conds(cells, rule.get("preConds"), where + "['preConds']",
                                         selection=True))
        post = np.flatnonzero(match_conds(cells, rule.get("postConds"),
                                          where + "['postConds']", selection=True))
        try:
            func = default_conn_func(rule)
        except SpecError as exc:
            raise SpecError(f"{where}['connFunc']: {exc}") from None
        return cls(label, rule, func, pre, post)

    @property
    def where(self) -> str:
        return f"connParams['{self.label}']"


def select_pairs(cr: ConnRule, gids: np.ndarray, ctx
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The (pre row, post row) pairs a rule connects, ordered post-major then by pre gid, and
    for connList rules the index of each pair in the list (else None).

    ``ctx`` provides ``seed_conn``, ``rule_values(cr, name, pre_rows, post_rows)`` for numbers
    or expressions, and the NetPyNE random streams.
    """
    if len(cr.pre) == 0 or len(cr.post) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, (empty if cr.func == "fromListConn" else None)
    if cr.func == "fromListConn":
        pre, post, item = _list_pairs(cr, gids)
        order = np.lexsort((item, gids[post]))  # list order within a post cell
        return pre[order], post[order], item[order]
    fn = {"probConn": _prob_pairs, "convConn": _conv_pairs, "divConn": _div_pairs,
          "fullConn": _full_pairs}[cr.func]
    pre, post = fn(cr, gids, ctx)
    order = np.lexsort((gids[pre], gids[post]))
    return pre[order], post[order], None


def _full_pairs(cr: ConnRule, gids, ctx):
    pre = np.tile(cr.pre, len(cr.post))
    post = np.repeat(cr.post, len(cr.pre))
    return pre, post


def _post_blocks(cr: ConnRule):
    step = max(1, PAIR_BLOCK // max(len(cr.pre), 1))
    for start in range(0, len(cr.post), step):
        yield start, min(start + step, len(cr.post))


def _rule_value(ctx, cr: ConnRule, key: str, pre_rows, post_rows, index, n: int, seq):
    """probability / convergence / divergence: a number or an expression of the pair (or of
    the one cell) drawn from the rule's sequential stream at positions ``index``."""
    spec = cr.rule.get(key)
    if not isinstance(spec, str):
        if spec is None:
            raise SpecError(f"{cr.where}: {cr.func} needs '{key}'")
        return np.full(n, float(spec))
    from ..expr import CONN_VARS
    from .context import cell_env, conn_env

    expr = ctx.compile(spec, set(CONN_VARS), f"{cr.where}['{key}']")
    if pre_rows is not None and post_rows is not None:
        env = conn_env(ctx.cells, pre_rows, post_rows, expr.variables & set(CONN_VARS),
                       ctx.border)
    else:
        rows, prefix = (post_rows, "post_") if post_rows is not None else (pre_rows, "pre_")
        env = cell_env(ctx.cells, rows, prefix)
        other = {v for v in expr.variables if v.startswith(("pre_", "post_", "dist_"))} - set(env)
        if other:
            raise SpecError(f"{cr.where}['{key}']: {sorted(other)} are not defined for {key} "
                            f"(it depends on one cell only: {sorted(env)})")
    return seq.evaluate(expr, env, n, index=index)


def _prob_pairs(cr: ConnRule, gids, ctx):
    """probConn: pair (i_pre, i_post) connects when probability >= NetPyNE's draw
    ``1 + i_pre*n_post + i_post`` of Random123(hashList(pre), hashList(post), seeds['conn'])."""
    from .draws import SequentialDraws, prob_rands

    rands = prob_rands(gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    seq = SequentialDraws.for_rule("probConn", gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    n_post = len(cr.post)
    pres, posts = [], []
    for a, b in _post_blocks(cr):
        ipost = np.repeat(np.arange(a, b, dtype=np.int64), len(cr.pre))
        ipre = np.tile(np.arange(len(cr.pre), dtype=np.int64), b - a)
        u = rands.at(ipre, ipost)
        prob = _rule_value(ctx, cr, "probability", cr.pre[ipre], cr.post[ipost],
                           ipre * n_post + ipost, len(ipre), seq)
        hit = prob >= u
        pres.append(cr.pre[ipre[hit]])
        posts.append(cr.post[ipost[hit]])
    return np.concatenate(pres), np.concatenate(posts)


def _conv_pairs(cr: ConnRule, gids, ctx):
    """convConn: each post cell draws ``convergence`` distinct pre cells (NetPyNE's
    randUniqueInt on Random123(hashList(pre gids), post gid, seeds['conn']))."""
    from .draws import SequentialDraws, unique_samples

    seq = SequentialDraws.for_rule("convConn", gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    conv = _rule_value(ctx, cr, "convergence", None, cr.post, None, len(cr.post), seq)
    conv = np.clip(np.round(conv).astype(np.int64), 0, len(cr.pre) - 1)
    picks = unique_samples(gids[cr.pre], gids[cr.post], conv, ctx.seeds["conn"])
    return _sampled_pairs(cr.pre, cr.post, gids, picks, conv)


def _div_pairs(cr: ConnRule, gids, ctx):
    """divConn: each pre cell draws ``divergence`` distinct post cells."""
    from .draws import SequentialDraws, unique_samples

    seq = SequentialDraws.for_rule("divConn", gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    div = _rule_value(ctx, cr, "divergence", cr.pre, None, None, len(cr.pre), seq)
    div = np.clip(np.round(div).astype(np.int64), 0, len(cr.post) - 1)
    picks = unique_samples(gids[cr.post], gids[cr.pre], div, ctx.seeds["conn"])
    post, pre = _sampled_pairs(cr.post, cr.pre, gids, picks, div)
    return pre, post


def _sampled_pairs(cands, owners, gids, picks, counts):
    """Turn per-owner samples (k+1 indices, the last one a spare) into pairs, replacing a
    pick equal to the owner by the spare and then dropping self pairs, as NetPyNE does."""
    out_c, out_o = [], []
    for j, (sample, k) in enumerate(zip(picks, counts)):
        if k == 0:
            continue
        sel = np.asarray(sample[:k], dtype=np.int64)
        owner_gid = gids[owners[j]]
        self_hit = gids[cands[sel]] == owner_gid
        if self_hit.any():
            sel = sel.copy()
            sel[self_hit] = sample[k]
        sel = np.unique(sel)  # NetPyNE keeps a dict: duplicates collapse, order by gid
        sel = sel[gids[cands[sel]] != owner_gid]
        out_c.append(cands[sel])
        out_o.append(np.full(len(sel), owners[j], dtype=np.int64))
    if not out_c:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(out_c), np.concatenate(out_o)


def _list_pairs(cr: ConnRule, gids):
    """fromListConn: connList holds [pre index, post index] into the gid-sorted pre/post cells;
    self pairs are skipped."""
    lst = np.asarray(cr.rule["connList"], dtype=np.int64).reshape(-1, 2)
    if len(lst) and (lst[:, 0].max() >= len(cr.pre) or lst[:, 1].max() >= len(cr.post)
                     or lst.min() < 0):
        raise SpecError(f"{cr.where}['connList']: index out of range (pre cells: {len(cr.pre)}, "
                        f"post cells: {len(cr.post)})")
    pre, post = cr.pre[lst[:, 0]], cr.post[lst[:, 1]]
    keep = gids[pre] != gids[post]
    return pre[keep], post[keep], np.flatnonzero(keep)
