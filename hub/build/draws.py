"""NetPyNE's random streams, vectorized: the sources of every random number of a build.

NetPyNE keys NEURON Random123 streams as follows (``netpyne/network/conn.py``, ``stim.py``,
``cell/compartCell.py``); nethub computes the same draws with :mod:`nethub.random123`:

- probConn pair test: ids (hashList(pre gids), hashList(post gids), seeds.conn), the pair
  (i_pre, i_post) takes draw ``1 + i_pre*n_post + i_post``;
- probability/convergence/divergence expressions: (hashStr('conn_'+connFunc),
  hashList(pre gids + post gids), seeds.conn), one element after the other;
- weight/delay/synsPerConn/loc expressions: (pre gid, post gid, seeds.conn), drawn in that
  order for each pair;
- convConn/divConn samples: (hashList(pre (post) gids), post (pre) gid, seeds.conn), NetPyNE's
  randUniqueInt;
- random section from a list: (hashStr('connSynMechsSecs'), post gid, pre gid), discunif;
- stim expressions: (hashStr('stim_'+type), hashList(target gids), seeds.stim), one element
  after the other.

Expressions drawn from one sequential stream (rule-level probability, convergence, divergence
and stim expressions) are reproduced exactly when every random call in them takes a fixed number
of draws per value (uniform, discunif, negexp, weibull); the others (normal, poisson, ...) are
refused there with a SpecError, since their position in NetPyNE's stream depends on every
earlier value. Per-pair expressions (weight, delay, ...) accept every distribution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecError
from ..random123 import (
    Stream,
    netpyne_hash_list,
    netpyne_hash_str,
    netpyne_prob_rands,
    netpyne_rand_unique_int,
)

__all__ = ["PairDraws", "SequentialDraws", "prob_rands", "unique_samples",
           "random_section_index"]

#: ``Stream`` method and number of parameters of each random function of the expressions.
_DISTS = {"uniform": 2, "discunif": 2, "normal": 2, "lognormal": 2, "negexp": 1,
          "poisson": 1, "binomial": 2, "geometric": 1, "hypergeo": 2, "erlang": 2,
          "weibull": 2}
#: draws per value of the fixed-draw distributions (for sequential streams)
_FIXED_DRAWS = {"uniform": 1, "discunif": 1, "negexp": 1, "weibull": 1}


class PairDraws:
    """One NEURON stream per pair, ``Random123(pre gid, post gid, seeds['conn'])``, drawn in
    order across the rule's expressions (weight, then delay, synsPerConn, loc)."""

    def __init__(self, pre_gids: np.ndarray, post_gids: np.ndarray, seed: int) -> None:
        self.pre, self.post, self.seed = pre_gids, post_gids, int(seed)
        self._stream: Stream | None = None
        self.pos: np.ndarray | None = None

    def _source(self, name: str, args: list, draw: int) -> np.ndarray:
        if self._stream is None:
            self._stream = Stream(self.pre, self.post, self.seed)
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
        self.stream = Stream(id1, id2, id3)
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
        per = self._draws_per_element(expr)
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

    def _draws_per_element(self, expr) -> int:
        bad = [f for f in expr.functions if f in _DISTS and f not in _FIXED_DRAWS]
        if bad:
            raise SpecError(
                f"{expr.where}: {', '.join(bad)}() in a {self.what} expression draws a varying "
                "number of numbers from NetPyNE's shared stream, which cannot be reproduced "
                f"vectorized; use {', '.join(sorted(_FIXED_DRAWS))} here")
        return expr.n_draws  # each fixed-draw distribution takes one draw per value


def _fixed_value(stream: Stream, name: str, args: list, k: np.ndarray) -> np.ndarray:
    """What NEURON's ``r.<name>(args)`` returns when the generator is at draw ``k``."""
    many = Stream(np.broadcast_to(stream.id1, k.shape), stream.id2, stream.id3)
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
    s = Stream(netpyne_hash_str("connSynMechsSecs"), post_gids, pre_gids)
    return np.asarray(s.discunif(0, n - 1, n=1), dtype=np.int64).reshape(-1)
