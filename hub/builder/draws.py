"""NetPyNE's random streams, vectorized: the sources of every random number of a build.

Each draw of NetPyNE's build (probConn pair tests, connection expressions, convConn/divConn
samples, random sections, stim expressions) comes from the NEURON Random123 stream NetPyNE keys
for it, computed with :mod:`nethub.random123`. The keys, and which expressions a sequential
stream can reproduce exactly: docs/design/random123.md ("How a build keys its streams").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from ..random123 import (
    Random123Stream,
    netpyne_hash_list,
    netpyne_hash_str,
    netpyne_prob_rands,
    netpyne_rand_unique_int,
)

__all__ = ["PairDraws", "SequentialDraws", "prob_rands", "unique_samples",
           "random_section_index"]

#: ``Random123Stream`` method and number of parameters of each random function of the expressions.
_DISTS = {"uniform": 2, "discunif": 2, "normal": 2, "lognormal": 2, "negexp": 1,
          "poisson": 1, "binomial": 2, "geometric": 1, "hypergeo": 2, "erlang": 2,
          "weibull": 2}
#: draws per value of the fixed-draw distributions (for sequential streams)
_FIXED_DRAWS = {"uniform": 1, "discunif": 1, "negexp": 1, "weibull": 1}
#: distributions drawing pairs until one is accepted (gnu ``Normal``'s polar method)
_POLAR = frozenset({"normal", "lognormal"})


class PairDraws:
    """One NEURON stream per pair, ``Random123(pre gid, post gid, seeds['conn'])``, drawn in
    order across the rule's expressions (weight, then delay, synsPerConn, loc)."""

    def __init__(self, pre_gids: np.ndarray, post_gids: np.ndarray, seed: int) -> None:
        self.pre, self.post, self.seed = pre_gids, post_gids, int(seed)
        self._stream: Random123Stream | None = None
        self.pos: np.ndarray | None = None

    def _source(self, name: str, args: list, draw: int) -> np.ndarray:
        if self._stream is None:
            self._stream = Random123Stream(self.pre, self.post, self.seed)
            self.pos = np.zeros(len(self.pre), dtype=np.int64)
        method = getattr(self._stream, name)
        vals, nxt = method(*args, n=1, start=self.pos, return_next=True)
        self.pos = np.asarray(nxt, dtype=np.int64).reshape(-1)
        return np.asarray(vals, dtype=np.float64).reshape(-1)

    def evaluate(self, expr, env: dict, n: int) -> np.ndarray:
        return expr.evaluate(env, n=n, source=self._source if expr.is_random else None)


class SequentialDraws:
    """One NEURON stream drawn element after element (NetPyNE's rule-level ``rand``).

    Element ``i`` of an evaluation starts at ``base + i * d`` where ``d`` is the number of draws
    one element takes; consecutive evaluations continue where the previous one stopped.
    """

    def __init__(self, id1: int, id2: int, id3: int, what: str) -> None:
        self.stream = Random123Stream(id1, id2, id3)
        self.base = 0
        self.what = what

    @classmethod
    def for_rule(cls, func: str, pre_gids, post_gids, seed: int) -> SequentialDraws:
        ids = np.concatenate([np.sort(pre_gids), np.sort(post_gids)])
        return cls(netpyne_hash_str("conn_" + func), netpyne_hash_list(ids), seed, func)

    @classmethod
    def for_stims(cls, source_type: str, gids, seed: int) -> SequentialDraws:
        return cls(netpyne_hash_str("stim_" + source_type), netpyne_hash_list(np.sort(gids)),
                   seed, "stim")

    def evaluate(self, expr, env: dict, n: int, index: np.ndarray | None = None
                 ) -> np.ndarray:
        """Values for ``n`` elements; ``index`` gives each element's position in NetPyNE's
        iteration order (a block of a larger evaluation: the stream does not advance);
        without it the elements are ``0..n-1`` and the stream advances past them."""
        if not expr.is_random:
            return expr.evaluate(env, n=n)
        self._check_functions(expr, walk=index is None)
        if not _POLAR.intersection(expr.functions):
            return self._evaluate_fixed(expr, env, n, index)
        starts = self._walk(self._call_order(expr, env, n), n)

        def source(name: str, args: list, draw: int) -> np.ndarray:
            return _fixed_value(self.stream, name, args, starts[draw])

        return expr.evaluate(env, n=n, source=source)

    def _evaluate_fixed(self, expr, env: dict, n: int, index) -> np.ndarray:
        """Every call takes one draw: element ``i`` starts at ``base + i * n_draws``."""
        per = expr.n_draws
        idx = np.arange(n, dtype=np.int64) if index is None else np.asarray(index, np.int64)
        offset = [0]

        def source(name: str, args: list, draw: int) -> np.ndarray:
            k = self.base + idx * per + offset[0]
            offset[0] += _FIXED_DRAWS[name]
            return _fixed_value(self.stream, name, args, k)

        out = expr.evaluate(env, n=n, source=source)
        if index is None:
            self.base += n * per
        return out

    @staticmethod
    def _call_order(expr, env: dict, n: int) -> list[tuple[int, str]]:
        """(draw id, function) of the random calls of one element, in evaluation order."""
        order: list[tuple[int, str]] = []

        def probe(name: str, args: list, draw: int) -> np.ndarray:
            order.append((draw, name))
            return np.zeros(n)

        expr.evaluate(env, n=n, source=probe, finite=False)
        return order

    def _walk(self, order: list[tuple[int, str]], n: int) -> dict[int, np.ndarray]:
        """Start of every call of every element: the elements one after the other, each call
        a fresh pick (NetPyNE's ``rand.<dist>(...)``) starting where the previous one ended."""
        starts = {draw: np.empty(n, dtype=np.int64) for draw, _ in order}
        ends: list[int] = []  # ends[k]: where a polar pick starting at lo + k ends
        lo = p = self.base
        per = sum(3 if name in _POLAR else 1 for _, name in order)
        for i in range(n):
            for draw, name in order:
                starts[draw][i] = p
                if name in _POLAR:
                    if p - lo >= len(ends):
                        lo, ends = p, self._polar_ends(p, (n - i) * per + 64)
                    p = ends[p - lo]
                else:
                    p += _FIXED_DRAWS[name]
        self.base = p
        return starts

    def _polar_ends(self, first: int, count: int) -> list[int]:
        """Where a fresh normal pick starting at ``first, first + 1, ...`` ends."""
        k = np.arange(first, first + count, dtype=np.int64)
        many = Random123Stream(np.broadcast_to(self.stream.id1, k.shape), self.stream.id2,
                      self.stream.id3)
        _, nxt = many.normal(0.0, 1.0, n=1, start=k, return_next=True)
        return np.asarray(nxt, dtype=np.int64).reshape(-1).tolist()

    def _check_functions(self, expr, walk: bool) -> None:
        ok = set(_FIXED_DRAWS) | (_POLAR if walk else set())
        bad = sorted(f for f in expr.functions if f in _DISTS and f not in ok)
        if bad:
            raise SpecError(
                f"{expr.where}: {', '.join(bad)}() in a {self.what} expression draws a number "
                "of numbers from NetPyNE's shared stream that depends on its parameters"
                + ("" if walk else " or on every earlier value")
                + f", which nethub cannot reproduce; use {', '.join(sorted(ok))} here")


def _fixed_value(stream: Random123Stream, name: str, args: list, k: np.ndarray) -> np.ndarray:
    """What NEURON's ``r.<name>(args)`` returns when the generator is at draw ``k``."""
    many = Random123Stream(np.broadcast_to(stream.id1, k.shape), stream.id2, stream.id3)
    vals = getattr(many, name)(*args, n=1, start=k)
    return np.asarray(vals, dtype=np.float64).reshape(-1)


def prob_rands(pre_gids: np.ndarray, post_gids: np.ndarray, seed: int):
    """NetPyNE's probConn numbers for a rule (lazy, see :func:`netpyne_prob_rands`)."""
    return netpyne_prob_rands(np.sort(pre_gids), np.sort(post_gids), seed)


def unique_samples(cand_gids: np.ndarray, owner_gids: np.ndarray, counts: np.ndarray,
                   seed: int) -> list[np.ndarray]:
    """convConn/divConn: for each owner, ``count + 1`` distinct candidate indices."""
    h = netpyne_hash_list(np.sort(cand_gids))
    counts = np.asarray(counts, dtype=np.int64)
    out: list[Any] = [np.zeros(0, dtype=np.int64)] * len(owner_gids)
    todo = np.flatnonzero(counts > 0)
    if len(todo):
        samples = netpyne_rand_unique_int(h, owner_gids[todo], seed, counts[todo] + 1, 0,
                                          len(cand_gids) - 1)
        for j, s in zip(todo, samples):
            out[j] = s
    return out


def random_section_index(post_gids: np.ndarray, pre_gids: np.ndarray, n: int) -> np.ndarray:
    """connRandomSecFromList with one synapse: ``Random123(hashStr('connSynMechsSecs'), post
    gid, pre gid).discunif(0, n-1)``."""
    s = Random123Stream(netpyne_hash_str("connSynMechsSecs"), post_gids, pre_gids)
    return np.asarray(s.discunif(0, n - 1, n=1), dtype=np.int64).reshape(-1)
