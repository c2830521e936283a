"""NetPyNE's uses of Random123: its string hashes, cell positions and densities, probabilistic and
convergent/divergent connectivity draws (NetPyNE 1.1.1, bit for bit; see docs/design/random123.md).
"""

from __future__ import annotations

import array
import hashlib
import math
from collections.abc import Sequence

import numpy as np

from .stream import Random123Stream


def netpyne_hash_str(s: str) -> int:
    """NetPyNE's ``sim.hashStr``: first 8 hex digits of the md5 of the UTF-8 string, as int."""
    return int(hashlib.md5(s.encode("utf-8")).hexdigest()[0:8], 16)  # noqa: S324 (not security)


def netpyne_hash_list(values: Sequence[int] | np.ndarray) -> int:
    """NetPyNE's ``sim.hashList``: md5 of ``array.array('L', values)`` (native unsigned long),
    first 8 hex digits as int."""
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return int(hashlib.md5(array.array("L", values)).hexdigest()[0:8], 16)  # noqa: S324


def uniform_at(stream: Random123Stream, k) -> np.ndarray:
    """``dblpick`` value of draw(s) ``k`` of ``stream`` (:meth:`Random123Stream.uniform01`)."""
    return stream.uniform01(k)


def netpyne_positions(
    num_cells: int, last_gid: int, seed: int, global_index: int = 0
) -> np.ndarray:
    """NetPyNE's ``randLocs`` (``Pop.createCellsFixedNum``/``createCellsDensity``, before the
    cylinder/ellipsoid transforms and scaling): ``Random123(numCells, lastGid, seeds['loc'])``,
    ``uniform(0, 1)`` (consumes draw 0), ``Vector(3n).setrand`` -> draws 1..3n as (n, 3)."""
    n = int(num_cells)
    s = Random123Stream(n, last_gid, seed, global_index=global_index)
    return s.uniform01_block(3 * n, start=1).reshape(n, 3)


def netpyne_density_samples(
    max_density: int, last_gid: int, seed: int, max_cells: int, global_index: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The draws of NetPyNE's ``Pop.createCellsDensity`` (string density function of one coord).

    NetPyNE: ``Random123(int(maxDensity), lastGid, seeds['loc'])``, then ``int(maxCells)`` calls
    ``rand.uniform(0, 1)`` (candidate normalized coordinates, draws ``0..M-1``; NetPyNE maps them
    to ``minRange + (maxRange - minRange) * u``), then as many again for the acceptance test
    ``locsProb > u`` (draws ``M..2M-1``).  Returns ``(candidates_u, accept_u)``, each of length
    ``M = max_cells``.  (The kept cells' positions then come from :func:`netpyne_positions`
    keyed by the pruned cell count.)
    """
    m = int(max_cells)
    if m < 0:
        raise ValueError("max_cells must be >= 0")
    stream = Random123Stream(int(max_density), last_gid, seed, global_index=global_index)
    u = stream.uniform01_block(2 * m)
    return u[:m], u[m:]


class ProbConnRands:
    """The random numbers of NetPyNE's ``probConn`` for one rule, computed on demand.

    NetPyNE (``network/conn.py`` ``generateRandsPrePost``): ``Random123(hashList(sortedPre),
    hashList(sortedPost), seeds['conn'])``, ``uniform(0, 1)`` (consumes draw 0),
    ``Vector(nPre*nPost).setrand`` -> pair ``(ipre, ipost)`` of the sorted gid lists gets draw
    ``1 + ipre*nPost + ipost``.  Nothing of size nPre*nPost is ever materialized here.
    """

    def __init__(self, sorted_pre, sorted_post, seed: int, global_index: int = 0):
        self.n_pre = len(sorted_pre)
        self.n_post = len(sorted_post)
        self.stream = Random123Stream(
            netpyne_hash_list(sorted_pre),
            netpyne_hash_list(sorted_post),
            seed,
            global_index=global_index,
        )

    def at(self, ipre, ipost) -> np.ndarray:
        """Values for index pairs (broadcasting arrays of positions in the sorted lists)."""
        ipre = np.asarray(ipre, dtype=np.int64)
        ipost = np.asarray(ipost, dtype=np.int64)
        if ipre.size and (ipre.min() < 0 or ipre.max() >= self.n_pre):
            raise IndexError("ipre out of range")
        if ipost.size and (ipost.min() < 0 or ipost.max() >= self.n_post):
            raise IndexError("ipost out of range")
        return self.stream.uniform01(1 + ipre * self.n_post + ipost)

    def rows(self, pre_start: int, pre_stop: int) -> np.ndarray:
        """Values of pre rows ``[pre_start, pre_stop)`` against all posts: (rows, n_post)."""
        pre_start, pre_stop = max(0, int(pre_start)), min(self.n_pre, int(pre_stop))
        nr = max(0, pre_stop - pre_start)
        vals = self.stream.uniform01_block(nr * self.n_post, start=1 + pre_start * self.n_post)
        return vals.reshape(nr, self.n_post)

    def iter_rows(self, max_elements: int = 1 << 22):
        """Yields ``(pre_start, block)`` with blocks of at most ``max_elements`` values."""
        per = max(1, int(max_elements) // max(1, self.n_post))
        for a in range(0, self.n_pre, per):
            yield a, self.rows(a, a + per)


def netpyne_prob_rands(sorted_pre, sorted_post, seed: int, global_index: int = 0) -> ProbConnRands:
    """Lazy accessor for NetPyNE's probConn random numbers, see :class:`ProbConnRands`."""
    return ProbConnRands(sorted_pre, sorted_post, seed, global_index=global_index)


def netpyne_rand_unique_int(id1, id2, id3, N, vmin: int, vmax: int, global_index: int = 0):
    """NetPyNE's ``Random123(id1, id2, id3)`` + ``randUniqueInt(r, N, vmin, vmax)``.

    ``randUniqueInt`` calls ``r.discunif(vmin, vmax)`` (consumes draw 0, discarded) and then
    ``int(r.repick())`` until ``N`` distinct values are collected, in order of first appearance.
    convConn uses ``(hashList(sortedPreGids), postGid, seeds['conn'])`` and ``N =
    convergence + 1``, ``[0, nPre - 1]``; divConn ``(hashList(sortedPostGids), preGid, ...)``.

    ``id1/id2/id3`` broadcast (many streams at once).  With scalar ``N`` returns int64 array
    ``stream_shape + (N,)``; with per-stream ``N`` a list (flattened stream order) of 1-D arrays.
    """
    s = Random123Stream(id1, id2, id3, global_index=global_index)
    vmin, vmax = int(vmin), int(vmax)
    lo, hi = min(vmin, vmax), max(vmin, vmax)
    R = hi - lo + 1
    scalar_N = np.ndim(N) == 0
    Ns = np.ascontiguousarray(np.broadcast_to(np.asarray(N, dtype=np.int64), s.shape)).reshape(-1)
    if Ns.size and (Ns.min() < 0 or Ns.max() > R):
        raise ValueError(
            f"impossible to generate {int(Ns.max())} unique integers from [{vmin}, {vmax}]"
        )
    m = s.size
    nmax = int(Ns.max()) if m else 0
    out = np.full((m, nmax), -1, dtype=np.int64)
    delta = float(R)
    # expected draws for N distinct of R: R*(H_R - H_{R-N}) ~ -R*log(1 - N/R)
    frac = min(nmax / R, 1.0) if R else 0.0
    est = (
        nmax
        if frac < 1e-3
        else (R * (math.log(R) + 0.58) if frac >= 1.0 else -R * math.log1p(-frac))
    )
    B0 = int(est * 1.2) + 16
    rows_all = np.nonzero(Ns > 0)[0]
    group = max(1, (1 << 21) // B0)
    for g0 in range(0, rows_all.size, group):
        todo = rows_all[g0 : g0 + group]
        B = B0
        while todo.size:
            u = s._block(todo, B, np.ones(todo.size, dtype=np.uint64))
            vals = lo + np.floor(delta * u).astype(np.int64)
            order = np.argsort(vals, axis=1, kind="stable")
            sv = np.take_along_axis(vals, order, 1)
            first_sorted = np.ones(sv.shape, dtype=bool)
            first_sorted[:, 1:] = sv[:, 1:] != sv[:, :-1]
            is_first = np.empty_like(first_sorted)
            np.put_along_axis(is_first, order, first_sorted, 1)
            rank = np.cumsum(is_first, axis=1) - 1
            sel = is_first & (rank < Ns[todo][:, None])
            done = sel.sum(axis=1) >= Ns[todo]
            ri, ci = np.nonzero(sel[done])
            out[todo[done][ri], rank[done][ri, ci]] = vals[done][ri, ci]
            todo = todo[~done]
            B *= 2
    if scalar_N:
        return out.reshape(s.shape + (nmax,))
    return [out[i, : Ns[i]] for i in range(m)]
