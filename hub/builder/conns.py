"""connParams → rows of the connections table, vectorized over candidate pairs.

Follows NetPyNE 1.1 (``netpyne/network/conn.py`` and ``CompartCell.addConn``):

- pre/post cells are the cells matching ``preConds``/``postConds``, in gid order;
- ``connFunc`` defaults by key: probability → probConn, convergence → convConn, divergence →
  divConn, connList → fromListConn, otherwise fullConn;
- random choices come from NetPyNE's own Random123 streams (see :mod:`nethub.random123`), so the
  same spec and seeds give the same connections as NetPyNE, on any number of ranks;
- per-connection values (weight, delay, synsPerConn, loc) may be numbers, lists (one per synMech
  or per synapse) or expressions (see :mod:`nethub.builder.params`).

probConn has two samplers, chosen per rule by simConfig ``nethubConnSampler`` ('auto' by
default, 'netpyne' or 'fast'): NetPyNE's exact pair test, bit-identical to NetPyNE, for rules of
at most :data:`EXACT_MAX_PAIRS` candidate pairs (processed in blocks of pre cells, so memory
grows with the number of connections, not with the number of pairs), and above that the
statistically exact sampler of :mod:`nethub.builder.probsample` (same law, other random numbers),
whose time grows with the number of connections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpecError
from ..expr import CONN_VARS
from ..selection import match_conds
from ..table import Table
from .context import cell_env, conn_env
from .draws import SequentialDraws, prob_rands, unique_samples
from .probbounds import BoundTable, global_bound
from .probsample import UnboundedProbability, pair_env, sample_prob_pairs

__all__ = ["ConnRule", "select_pairs", "CONN_FUNCS", "default_conn_func"]

logger = logging.getLogger(__name__)

CONN_FUNCS = ("probConn", "convConn", "divConn", "fromListConn", "fullConn")
PAIR_BLOCK = 1 << 20  # candidate pairs evaluated at once


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
    pre, post = _post_major(pre, post, gids)
    return pre, post, None


def _post_major(pre: np.ndarray, post: np.ndarray, gids: np.ndarray):
    """The (distinct) pairs ordered by post gid, then pre gid: one in-place sort of combined
    int64 gid keys, decoded back to rows (several times faster than ``lexsort``/``argsort``
    on millions of pairs); ``lexsort`` when the gids do not fit."""
    n = len(gids)
    if len(pre) == 0:
        return pre, post
    top = int(gids.max()) + 1
    if gids.min() < 0 or top >= 1 << 31:
        order = np.lexsort((gids[pre], gids[post]))
        return pre[order], post[order]
    key = gids[post] * top
    key += gids[pre]
    key.sort()
    post_g, pre_g = np.divmod(key, top)
    del key
    if np.array_equal(gids, np.arange(n)):
        return pre_g, post_g
    row_of = np.full(top, -1, dtype=np.int64)
    row_of[gids] = np.arange(n)
    return row_of[pre_g], row_of[post_g]


def _full_pairs(cr: ConnRule, gids, ctx):
    pre = np.tile(cr.pre, len(cr.post))
    post = np.repeat(cr.post, len(cr.pre))
    return pre, post


def _rule_value(ctx, cr: ConnRule, key: str, pre_rows, post_rows, index, n: int, seq):
    """probability / convergence / divergence: a number or an expression of the pair (or of
    the one cell) drawn from the rule's sequential stream at positions ``index``."""
    spec = cr.rule.get(key)
    if not isinstance(spec, str):
        if spec is None:
            raise SpecError(f"{cr.where}: {cr.func} needs '{key}'")
        return np.full(n, float(spec))

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


#: Candidate pairs above which probConn uses the fast sampler (``nethubConnSampler='auto'``).
#: Measured (one core, benchmarks/build.py and the rule sizes around it): the exact path costs
#: 7.5 ns (number) to 12 ns (distance expression) of CPU per pair, 1.5-2.4 s at 2e8 pairs
#: (14,000 x 14,000 cells) and growing with the square of the cells; the fast sampler ~0.35 us
#: per connection (0.24 s on the same distance rule, 4 s for 10 M connections among 1e5
#: cells). Up to 2e8 pairs a rule stays bit-identical to NetPyNE at a cost of seconds at most
#: (NetPyNE itself needs ~35 s and ~0.3 GB per million pairs there, so beyond that nobody
#: compares with it); above, the exact path would cost minutes.
EXACT_MAX_PAIRS = 2e8
SAMPLERS = ("auto", "netpyne", "fast")
#: Rules with at least this many pairs also filter by bounds per pair of cell groups
BOUND_TABLE_MIN_PAIRS = 1 << 22


def _prob_pairs(cr: ConnRule, gids, ctx):
    """probConn: NetPyNE's exact pair test (:func:`_exact_prob_pairs`) or, for large rules,
    the statistically exact fast sampler (:mod:`nethub.builder.probsample`); simConfig
    ``nethubConnSampler`` ('auto', 'netpyne' or 'fast') chooses."""
    mode = ctx.cfg.get("nethubConnSampler", "auto")
    if mode not in SAMPLERS:
        raise SpecError(f"simConfig['nethubConnSampler']: unknown sampler {mode!r} "
                        f"(valid: {', '.join(SAMPLERS)})")
    spec = cr.rule.get("probability")
    if spec is None:
        raise SpecError(f"{cr.where}: probConn needs 'probability'")
    expr = _prob_expr(ctx, cr, spec)
    n_pairs = len(cr.pre) * len(cr.post)
    fast = mode == "fast" or (mode == "auto" and n_pairs > EXACT_MAX_PAIRS)
    if fast:
        try:
            pre, post = sample_prob_pairs(ctx, cr, expr, ctx.seeds["conn"])
        except UnboundedProbability as exc:
            if mode == "fast":
                raise SpecError(f"{exc}: the fast sampler needs a bounded probability") from None
            logger.warning("%s: %s; using NetPyNE's exact pair test on %d pairs", cr.where,
                           exc, n_pairs)
        else:
            logger.info("%s: %d x %d = %.3g candidate pairs: fast sampler (%s), %d "
                        "connections", cr.where, len(cr.pre), len(cr.post), n_pairs,
                        "nethubConnSampler='fast'" if mode == "fast" else
                        f"more than {EXACT_MAX_PAIRS:.3g} pairs", len(pre))
            return pre, post
    logger.info("%s: %d x %d = %.3g candidate pairs: NetPyNE's exact pair test (%s)",
                cr.where, len(cr.pre), len(cr.post), n_pairs,
                "nethubConnSampler='netpyne'" if mode == "netpyne" else
                f"at most {EXACT_MAX_PAIRS:.3g} pairs" if mode == "auto" else "fallback")
    return _exact_prob_pairs(cr, gids, ctx, expr)


def _prob_expr(ctx, cr: ConnRule, spec):
    """The compiled probability expression, or None for a number."""
    if not isinstance(spec, str):
        try:
            float(spec)
        except (TypeError, ValueError):
            raise SpecError(f"{cr.where}['probability']: expected a number or an expression, "
                            f"got {spec!r}") from None
        return None

    return ctx.compile(spec, set(CONN_VARS), f"{cr.where}['probability']")


def _exact_prob_pairs(cr: ConnRule, gids, ctx, expr):
    """NetPyNE's probConn: pair (i_pre, i_post) connects when probability >= draw
    ``1 + i_pre*n_post + i_post`` of Random123(hashList(pre), hashList(post), seeds['conn']).

    Pre-major blocks of contiguous draws; the probability is evaluated only where the draw is
    at most a safe upper bound of it (:func:`nethub.builder.probbounds.global_bound`), which
    changes nothing in the result (a pair whose draw exceeds the bound cannot connect).
    """
    rands = prob_rands(gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    n_pre, n_post = len(cr.pre), len(cr.post)
    seq, table = None, None
    if expr is None:
        bound = float(cr.rule["probability"])
    else:
        bound, table = _safe_bounds(ctx, cr, expr)
        if expr.is_random:
            seq = SequentialDraws.for_rule("probConn", gids[cr.pre], gids[cr.post],
                                           ctx.seeds["conn"])
    pres, posts = [], []
    step = max(1, PAIR_BLOCK // n_post)
    for a in range(0, n_pre, step):
        u = rands.rows(a, min(n_pre, a + step)).reshape(-1)
        flat = np.flatnonzero(u <= bound) if bound < 1 else np.arange(len(u))
        ipre, ipost = np.divmod(flat, n_post)
        ipre += a
        if expr is not None:
            uc = u[flat]
            if table is not None:
                near = uc <= table.of(ipre, ipost)
                ipre, ipost, uc = ipre[near], ipost[near], uc[near]
            hit = _pair_probability(ctx, cr, expr, seq, ipre, ipost, n_post) >= uc
            ipre, ipost = ipre[hit], ipost[hit]
        pres.append(cr.pre[ipre])
        posts.append(cr.post[ipost])
    return np.concatenate(pres), np.concatenate(posts)


def _safe_bounds(ctx, cr: ConnRule, expr):
    """Upper bounds of the probability: over all pairs, and per pair of cell groups (None when
    the rule is small or the bound is useless)."""
    names = expr.variables & set(CONN_VARS)
    spec = cr.rule["probability"]
    bound = global_bound(ctx, spec, names, cr.pre, cr.post)
    if not names or not bound < 1 or len(cr.pre) * len(cr.post) < BOUND_TABLE_MIN_PAIRS:
        return bound, None
    # ~ sqrt(pairs)/32 groups a side: the table costs far less than the pairs it filters out
    side = int(np.clip(2 ** round(np.log2(np.sqrt(len(cr.pre) * len(cr.post)) / 32)), 32, 512))
    return bound, BoundTable(ctx, spec, names, cr.pre, cr.post, max_nodes=side)


def _pair_probability(ctx, cr: ConnRule, expr, seq, ipre, ipost, n_post) -> np.ndarray:
    env = pair_env(ctx, expr.variables & set(CONN_VARS), cr.pre[ipre], cr.post[ipost])
    if seq is None:
        return expr.evaluate(env, n=len(ipre))
    return seq.evaluate(expr, env, len(ipre), index=ipre * n_post + ipost)


def _conv_pairs(cr: ConnRule, gids, ctx):
    """convConn: each post cell draws ``convergence`` distinct pre cells (NetPyNE's
    randUniqueInt on Random123(hashList(pre gids), post gid, seeds['conn']))."""
    seq = SequentialDraws.for_rule("convConn", gids[cr.pre], gids[cr.post], ctx.seeds["conn"])
    conv = _rule_value(ctx, cr, "convergence", None, cr.post, None, len(cr.post), seq)
    conv = np.clip(np.round(conv).astype(np.int64), 0, len(cr.pre) - 1)
    picks = unique_samples(gids[cr.pre], gids[cr.post], conv, ctx.seeds["conn"])
    return _sampled_pairs(cr.pre, cr.post, gids, picks, conv)


def _div_pairs(cr: ConnRule, gids, ctx):
    """divConn: each pre cell draws ``divergence`` distinct post cells."""
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
