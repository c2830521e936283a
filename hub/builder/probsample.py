"""Fast, statistically exact sampling of probConn rules on large networks.

Every pair connects independently with probability ``clip(p(pre, post), 0, 1)``, as in NetPyNE's
probConn, in time proportional to the number of connections instead of ``n_pre * n_post``: cells
go in k-d trees, node pairs whose probability is bounded tightly (:mod:`.probbounds`) become
blocks, and candidates drawn by geometric skipping in each block are thinned to the exact law.
Random numbers come from :mod:`nethub.rng` counter-based streams, so the result depends neither on
ranks, chunking nor rule order; only the random numbers differ from NetPyNE's. The algorithm and
why it is exact: docs/design/probsample.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .. import rng
from ..expr import CONN_VARS, conn_env
from .probbounds import LEAF, KDTree, _bound_pairs, _boxes_of, _cell_arrays

__all__ = ["pair_env", "sample_prob_pairs", "FastConnStats", "UnboundedProbability", "KDTree",
           "WASTE", "TIGHT", "LEAF"]

logger = logging.getLogger(__name__)

#: keep a node pair as a block when at most this many candidates are expected to be rejected
WASTE = 32.0
#: ... or when its upper bound is within this factor of its lower bound
TIGHT = 1.25
#: candidates (gaps) drawn per vectorized round
CHUNK = 1 << 21
#: node pairs of one traversal level beyond which everything left is kept as blocks
MAX_FRONTIER = 1 << 22

# ----------------------------------------------------------------------------- environments
def pair_env(ctx, names, pre_rows: np.ndarray, post_rows: np.ndarray) -> dict[str, np.ndarray]:
    """Connection variables ``names`` for pairs (pre row, post row): the values of
    :func:`nethub.builder.context.conn_env`, gathering only the columns the names need.

    ``pre_rows``/``post_rows`` broadcast together (e.g. ``(n, 1)`` and ``(1, m)`` for a grid).
    """
    names = set(names)
    need_norm = any("norm" in v for v in names)
    need_border = "dist_3D_border" in names and ctx.border is not None

    def side(rows, cols):
        return np.stack([np.asarray(ctx.cells[c])[rows] for c in cols], axis=-1)

    xyz = ("x", "y", "z")
    nrm = ("xnorm", "ynorm", "znorm")
    return conn_env(side(pre_rows, xyz), side(post_rows, xyz),
                    side(pre_rows, nrm) if need_norm else None,
                    side(post_rows, nrm) if need_norm else None,
                    post_border=ctx.border[post_rows] if need_border else None, names=names)


_PLAIN_DIST = {"dist_3D": "xyz", "dist_2D": "xz", "dist_norm3D": "xyz", "dist_norm2D": "xz"}


def _fast_env(names, sides, i: np.ndarray, j: np.ndarray) -> dict[str, np.ndarray]:
    """The variables of :func:`pair_env` for the fast sampler's acceptance test (positions
    ``i``, ``j`` in the two sides' tree order), with plain ``x*x`` squares instead of libm's
    pow (NetPyNE's): equal to the last ulp or so, which the bounds allow for, and several
    times faster."""
    a, b = sides
    if "dist_3D_border" in names:
        return pair_env(a.ctx, names, a.rows[i], b.rows[j])
    diffs: dict[str, np.ndarray] = {}

    def diff(c: str) -> np.ndarray:
        if c not in diffs:
            diffs[c] = np.abs(a.col(c)[i] - b.col(c)[j])
        return diffs[c]

    env = {}
    for name in names:
        if name.startswith(("pre_", "post_")):
            side, var = name.split("_", 1)
            env[name] = a.col(var)[i] if side == "pre" else b.col(var)[j]
        elif name in _PLAIN_DIST:
            suffix = "norm" if "norm" in name else ""
            total = sum(diff(c + suffix) * diff(c + suffix) for c in _PLAIN_DIST[name])
            env[name] = np.sqrt(total)
        else:  # dist_x ... dist_znorm
            env[name] = diff(name[5:])
    return env


# ----------------------------------------------------------------------------- sampling
@dataclass
class FastConnStats:
    """What one fast sampling did (logged; handy in tests)."""

    blocks: int = 0
    node_pairs: int = 0
    candidates: int = 0
    accepted: int = 0
    violations: int = 0  # candidates whose probability exceeded their block's bound
    levels: list[int] = field(default_factory=list)


@dataclass
class _Blocks:
    step: np.ndarray
    ia: np.ndarray
    ib: np.ndarray
    q: np.ndarray
    exact: np.ndarray  # the probability is q on every pair of the block (no acceptance test)


def _blocks(ctx, spec, names, trees: tuple[KDTree, KDTree], arrays, stats: FastConnStats
            ) -> _Blocks:
    """Dual traversal of the two trees → blocks (node pairs with their bound)."""
    ta, tb = trees
    out: list[tuple] = []
    ia, ib = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    for step in range(max(ta.depth, tb.depth) + 1):
        da, db = min(step, ta.depth), min(step, tb.depth)
        bx_a = _boxes_of(arrays[0], ta.starts(da)).take(ia)
        bx_b = _boxes_of(arrays[1], tb.starts(db)).take(ib)
        lo, hi = _bound_pairs(ctx, spec, names, bx_a, bx_b)
        if step == 0 and not np.isfinite(hi[0]):
            raise UnboundedProbability("no finite upper bound")
        stats.node_pairs += len(ia)
        stats.levels.append(len(ia))
        q = np.minimum(hi, 1.0)  # an unknown bound (inf) is still bounded by 1
        plo = np.clip(lo, 0.0, 1.0)
        n_pairs = ta.sizes(da)[ia].astype(np.float64) * tb.sizes(db)[ib]
        live = q > 0
        last = (da == ta.depth and db == tb.depth) or len(ia) > MAX_FRONTIER
        done = live & (last | (n_pairs * (q - plo) <= WASTE) | (q <= TIGHT * plo))
        out.append((np.full(int(done.sum()), step, dtype=np.int64), ia[done], ib[done],
                    q[done], (plo == q)[done]))
        ia, ib = _children(ia[live & ~done], ib[live & ~done], da < ta.depth, db < tb.depth)
        if not len(ia):
            break
    return _Blocks(*(np.concatenate(c) for c in zip(*out)))


def _children(ia, ib, split_a: bool, split_b: bool):
    ka = np.stack([2 * ia, 2 * ia + 1], axis=1) if split_a else ia[:, None]
    kb = np.stack([2 * ib, 2 * ib + 1], axis=1) if split_b else ib[:, None]
    ca = np.repeat(ka, kb.shape[1], axis=1).reshape(-1)
    cb = np.tile(kb, (1, ka.shape[1])).reshape(-1)
    return ca, cb


class UnboundedProbability(ValueError):
    """The probability has no finite upper bound (the fast sampler cannot be used)."""


def _candidates(key, blocks: _Blocks, n_pairs: np.ndarray):
    """Yield ``(block index, pair position)`` arrays of the Bernoulli(q) candidates of every
    block, in rounds of at most :data:`CHUNK` gaps.

    Gap ``t`` (0, 1, ...) of a block is ``1 + floor(log(1 - u) / log(1 - q))`` with ``u`` the
    uniform of counter ``h + t``, ``h`` the block's hash of ``(step, node a, node b)``: a pure
    function of the block and ``t``, however the gaps are split into rounds.
    """
    codes = (blocks.step << 56) | (blocks.ia << 28) | blocks.ib
    base = rng.hash64(key, codes)
    log_keep = np.log1p(-blocks.q)  # -inf for q == 1: every gap is 1
    want = _allotment(n_pairs * blocks.q, n_pairs)
    active = np.arange(len(codes))
    pos = np.full(len(codes), -1, dtype=np.int64)
    t0 = np.zeros(len(codes), dtype=np.uint64)
    while len(active):
        take = int(np.searchsorted(np.cumsum(np.minimum(want[active], CHUNK)), CHUNK,
                                   side="right")) or 1
        b, rest = active[:take], active[take:]
        alloc = np.minimum(want[b], CHUNK)
        first = np.cumsum(alloc) - alloc
        offs = np.arange(int(alloc.sum()), dtype=np.uint64) - np.repeat(first, alloc
                                                                         ).astype(np.uint64)
        u = rng.uniform(key, np.repeat(base[b] + t0[b], alloc) + offs, draw=1)
        nb = np.repeat(n_pairs[b], alloc)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.floor(np.log1p(-u) / np.repeat(log_keep[b], alloc)) + 1.0
        g = np.minimum(g, nb + 1.0).astype(np.int64)
        x = np.cumsum(g)
        x -= np.repeat(x[first] - g[first] - pos[b], alloc)
        keep = x < nb
        yield np.repeat(b, alloc)[keep], x[keep]
        last = x[first + alloc - 1]
        more = last < n_pairs[b]
        pos[b], t0[b] = last, t0[b] + alloc.astype(np.uint64)
        left = n_pairs[b] - 1 - last
        want[b] = _allotment(left * blocks.q[b], left)
        active = np.concatenate([b[more], rest])


def _allotment(m: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Gaps to draw for an expected ``m`` candidates among ``n`` pairs: enough for all of them
    in ~98% of the blocks (one more than the candidates, to step past the end)."""
    m = np.maximum(m, 0.0)
    return np.minimum(np.ceil(m + 2.0 * np.sqrt(m) + 1.0), np.maximum(n, 0) + 1).astype(np.int64)


def sample_prob_pairs(ctx, cr, expr, seed: int, stats: FastConnStats | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """probConn by thinning: (pre rows, post rows) of the connections, every pair connecting
    independently with probability ``clip(p, 0, 1)``.

    Parameters
    ----------
    ctx : BuildContext
    cr : ConnRule
        The rule (``cr.pre``/``cr.post``: candidate rows, ``cr.rule['probability']``).
    expr : Expr or None
        The compiled probability expression (None for a number).
    seed : int
        ``seeds['conn']``.
    stats : FastConnStats, optional
        Filled with what the sampling did.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Row indices, in no particular order.

    Raises
    ------
    UnboundedProbability
        When the probability has no finite upper bound (the caller falls back).
    """
    spec = cr.rule["probability"]
    names = set() if expr is None else set(expr.variables) & set(CONN_VARS)
    stats = FastConnStats() if stats is None else stats
    arrs = [_cell_arrays(ctx, rows, names, side == "post")
            for side, rows in (("pre", cr.pre), ("post", cr.post))]
    ta = KDTree(arrs[0][0])
    tb = ta if np.array_equal(cr.pre, cr.post) else KDTree(arrs[1][0])
    sorted_arrs = [tuple(None if a is None else a[t.perm] for a in arr)
                   for t, arr in ((ta, arrs[0]), (tb, arrs[1]))]
    try:
        blocks = _blocks(ctx, spec, names, (ta, tb), sorted_arrs, stats)
    except UnboundedProbability:
        raise UnboundedProbability(f"{cr.where}['probability']: no finite upper bound"
                                   ) from None
    key = rng.stream_key(int(seed), "nethub.fastconn", cr.label)
    sides = (_Side(ctx, cr.pre[ta.perm]), _Side(ctx, cr.post[tb.perm]))
    start_a, size_a = _node_ranges(ta, blocks.step, blocks.ia)
    start_b, size_b = _node_ranges(tb, blocks.step, blocks.ib)
    stats.blocks = len(blocks.q)
    pres, posts = [], []
    for b, x in _candidates(key, blocks, size_a * size_b):
        i, j = np.divmod(x, size_b[b])
        i += start_a[b]
        j += start_b[b]
        stats.candidates += len(b)
        keep = _accept(expr, spec, names, blocks, b, (i, j), sides, key, stats)
        pres.append(sides[0].rows[i[keep]])
        posts.append(sides[1].rows[j[keep]])
    pre = np.concatenate(pres) if pres else np.zeros(0, dtype=np.int64)
    post = np.concatenate(posts) if posts else np.zeros(0, dtype=np.int64)
    stats.accepted = len(pre)
    _log(cr, stats)
    return pre, post


class _Side:
    """The pre or post cells in tree order, with their columns gathered on first use."""

    def __init__(self, ctx, rows: np.ndarray) -> None:
        self.ctx, self.rows = ctx, rows
        self.gids = ctx.gids[rows]
        self._cols: dict[str, np.ndarray] = {}

    def col(self, name: str) -> np.ndarray:
        if name not in self._cols:
            self._cols[name] = np.asarray(self.ctx.cells[name])[self.rows]
        return self._cols[name]


def _node_ranges(tree: KDTree, step: np.ndarray, idx: np.ndarray):
    """First sorted position and size of node ``idx`` at depth ``min(step, tree.depth)``."""
    d = np.minimum(step, tree.depth)
    start = (idx * tree.n) >> d
    return start, ((idx + 1) * tree.n >> d) - start


def _accept(expr, spec, names, blocks: _Blocks, b, pos, sides, key,
            stats: FastConnStats) -> np.ndarray:
    """Thinning: keep a candidate with probability p / q (``pos``: tree-order positions)."""
    keep = np.ones(len(b), dtype=bool)
    test = np.flatnonzero(~blocks.exact[b])
    if not len(test):
        return keep
    i, j = pos[0][test], pos[1][test]
    gi, gj = sides[0].gids[i], sides[1].gids[j]
    if expr is None:
        p = np.full(len(test), float(spec))
    else:
        env = _fast_env(names, sides, i, j)
        p = expr.evaluate(env, rng_key=rng.derive_key(key, "expr"), counters=(gi, gj),
                          n=len(test))
    q = blocks.q[b[test]]
    stats.violations += int(np.count_nonzero(p > q))
    keep[test] = rng.uniform(key, gi, gj, draw=2) * q < p
    return keep


def _log(cr, stats: FastConnStats) -> None:
    ratio = stats.candidates / max(stats.accepted, 1)
    logger.debug("%s: fast sampler: %d node pairs visited (per level %s), %d blocks, "
                 "%d candidates, %d connections (%.2f candidates per connection)",
                 cr.where, stats.node_pairs, stats.levels, stats.blocks, stats.candidates,
                 stats.accepted, ratio)
    if stats.violations:
        logger.warning("%s: %d candidates had a probability above their block's bound; their "
                       "connection probability was capped at the bound", cr.where,
                       stats.violations)
