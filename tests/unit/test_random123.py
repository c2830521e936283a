"""nethub.random123 without NEURON: Philox known answers, values pinned from NEURON 9.0.2,
vectorization / chunking / chaining invariances, NetPyNE helper semantics, errors."""

from __future__ import annotations

import array
import hashlib
import math

import numpy as np
import pytest

import nethub.random123.philox as r123
from nethub.random123 import (
    NrnRandom,
    netpyne_density_samples,
    netpyne_hash_list,
    netpyne_hash_str,
    netpyne_positions,
    netpyne_prob_rands,
    netpyne_rand_unique_int,
    philox4x32,
    uniform_at,
)
from nethub.random123 import (
    Random123Stream as Stream,
)

# Random123 tests/kat_vectors: philox4x32 <rounds> <ctr x4> <key x2> <expected x4>
KAT = [
    (7, [0, 0, 0, 0], [0, 0], [0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48]),
    (7, [0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x5207DDC2, 0x45165E59, 0x4D8EE751, 0x8C52F662]),
    (7, [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0x4DFCCABA, 0x190A87F0, 0xC47362BA, 0xB6B5242A]),
    (10, [0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    (10, [0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (10, [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]

# values printed by NEURON 9.0.2 (h.Random, Random123 mode), as float.hex
NRN_UNIFORM_1_2_3 = ["0x1.f63387d609cc8p-1", "0x1.d533e8062acc1p-3", "0x1.ff7807ae00880p-4",
                     "0x1.032f68a6fcd09p-3", "0x1.8e9d66227162ap-1", "0x1.4fbc7bc2b0438p-1"]
NRN_UNIFORM_BIG = ["0x1.948e96406b717p-1", "0x1.5b945efea46bap-1", "0x1.d151a1602eae6p-1",
                   "0x1.b0d3293e4f2cdp-5", "0x1.50bf3daeaf40cp-4", "0x1.ad64459e529bcp-1"]
# r.normal(0.5, 2.0) then Vector(5).setrand(r) on Random123(11, 22, 33); r.seq() == 8 after
NRN_NORMAL = ["-0x1.7b4e0f70219bcp-3", "0x1.e78d677045685p-1", "0x1.6ea17525fdcacp-1",
              "0x1.60d720986afe6p+0", "-0x1.b2c1d0b7bb2a2p-1", "0x1.bd9399853f13ap+1"]
# three r.negexp(2.0) calls on Random123(11, 22, 33)
NRN_NEGEXP = ["0x1.1345b570650fcp+2", "0x1.2243ebd0bcaa9p-1", "0x1.fdcbba6564ed0p-1"]
# r.discunif(0, 99) then Vector(6).setrand(r) on Random123(5, 6, 7)
NRN_DISCUNIF = [91.0, 37.0, 41.0, 67.0, 92.0, 0.0, 52.0]
# Random123_globalindex(9), Random123(1, 2, 3), four uniform(0, 1)
NRN_GIX9 = ["0x1.011a01b6fee60p-1", "0x1.398185e0c67e8p-1", "0x1.5915e882a6ea1p-2",
            "0x1.4170d774be8f3p-1"]
# Random123(1, 2, 3), seq(17179869180) (= seq 2**32-1), eight uniform(0, 1): counter carry
NRN_CARRY = ["0x1.24b69a6adb496p-2", "0x1.0a42eedef5bd1p-1", "0x1.123bc57eedc44p-7",
             "0x1.31d8eadcce271p-1", "0x1.15a6f660ea591p-1", "0x1.38ce27fec731ep-9",
             "0x1.32449478cdbb7p-1", "0x1.d7b575e2284a9p-2"]


def fx(hexes):
    return np.array([float.fromhex(x) if isinstance(x, str) else x for x in hexes])


def same(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


# ------------------------------------------------------------------------------ Philox


@pytest.mark.parametrize("rounds,ctr,key,expected", KAT)
def test_philox_known_answers(rounds, ctr, key, expected):
    assert philox4x32(ctr, key, rounds=rounds).tolist() == expected
    assert philox4x32([ctr], [key], rounds=rounds).tolist() == [expected]


def test_philox_vectorized_and_per_row_keys():
    rng = np.random.default_rng(0)
    n = 3 * r123._CHUNK + 17  # spans several chunks
    ctr = rng.integers(0, 2**32, (n, 4), dtype=np.uint64).astype(np.uint32)
    key = rng.integers(0, 2**32, (n, 2), dtype=np.uint64).astype(np.uint32)
    out = philox4x32(ctr, key)
    for i in (0, 1, r123._CHUNK, n - 1):
        assert out[i].tolist() == philox4x32(ctr[i], key[i]).tolist()
    same_key = philox4x32(ctr[:100], key[0])
    assert np.array_equal(same_key, philox4x32(ctr[:100], np.repeat(key[:1], 100, axis=0)))


def test_philox_rejects_bad_input():
    with pytest.raises(ValueError):
        philox4x32([0, 0, 0], [0, 0])
    with pytest.raises(ValueError):
        philox4x32([0, 0, 0, 2**32], [0, 0])


# ------------------------------------------------------------------------------ streams


def test_stream_layout_matches_nrnran123():
    """Draw k = word k%4 of philox({k//4, id3, id1, id2}, {gix, 0}); dblpick = (u+1)/(2**32+1)."""
    s = Stream(11, 22, 33, global_index=5)
    k = np.arange(40)
    ctr = np.stack([k // 4, np.full(40, 33), np.full(40, 11), np.full(40, 22)], axis=1)
    words = philox4x32(ctr, [5, 0])
    u = words[np.arange(40), k % 4]
    assert np.array_equal(s.uint32(k), u)
    assert same(s.uniform01(k), (u.astype(np.float64) + 1.0) * (1.0 / 4294967297.0))
    assert s.uniform01(k).min() > 0 and s.uniform01(k).max() < 1


def test_pinned_neuron_values():
    assert same(Stream(1, 2, 3).uniform01_block(6), fx(NRN_UNIFORM_1_2_3))
    assert same(Stream(4294967295, 7, 0).uniform01_block(6), fx(NRN_UNIFORM_BIG))
    assert same(Stream(11, 22, 33).normal(0.5, 2.0, n=6), fx(NRN_NORMAL))
    _, nxt = Stream(11, 22, 33).normal(0.5, 2.0, n=6, return_next=True)
    assert nxt == 8
    # 6 values = 3 accepted pairs: nothing left in the cache; 5 values leave x2 of the 3rd pair
    assert math.isnan(Stream(11, 22, 33).normal(0.5, 2.0, n=6, return_cache=True)[1])
    vals, cache = Stream(11, 22, 33).normal(0.5, 2.0, n=5, return_cache=True)
    assert same(cache * math.sqrt(2.0) + 0.5, fx(NRN_NORMAL)[5])
    e = NrnRandom()
    e.Random123(11, 22, 33)
    assert same([e.negexp(2.0) for _ in range(3)], fx(NRN_NEGEXP))
    assert same(Stream(5, 6, 7).discunif(0, 99, n=7), NRN_DISCUNIF)
    assert same(Stream(1, 2, 3, global_index=9).uniform01_block(4), fx(NRN_GIX9))
    assert same(Stream(1, 2, 3).uniform01_block(8, start=17179869180), fx(NRN_CARRY))
    assert same(Stream(1, 2, 3).uniform01(17179869180 + np.arange(8)), fx(NRN_CARRY))


def test_counter_carry_chain():
    """incr() carries c[0] -> c[1] (id3) -> c[2] (id1) -> c[3] (id2), each mod 2**32."""
    ids = (0xFFFFFFFF, 9, 0xFFFFFFFF)  # id1, id2, id3
    k = np.array([2**34 - 1, 2**34, 2**34 + 5, 2**36 + 2], dtype=np.uint64)
    q = (k >> 2).astype(object)
    ctr = []
    for qq in q:
        c0 = qq & 0xFFFFFFFF
        t = ids[2] + (qq >> 32)
        c1 = t & 0xFFFFFFFF
        t = ids[0] + (t >> 32)
        ctr.append([c0, c1, t & 0xFFFFFFFF, (ids[1] + (t >> 32)) & 0xFFFFFFFF])
    words = philox4x32(np.array(ctr, dtype=np.uint64), [0, 0])
    expect = words[np.arange(4), (k % 4).astype(int)]
    assert np.array_equal(Stream(*ids).uint32(k), expect)
    blk = Stream(*ids).uint32_block(12, start=2**34 - 6)
    assert np.array_equal(blk, Stream(*ids).uint32(2**34 - 6 + np.arange(12)))


@pytest.mark.parametrize("start", [0, 1, 2, 3, 4, 1001])
def test_block_equals_index_across_chunks(start):
    s = Stream(99, 98, 97)
    n = 4 * r123._CHUNK * 2 + 13
    blk = s.uniform01_block(n, start=start)
    assert same(blk, s.uniform01(np.arange(start, start + n)))
    ublk = s.uint32_block(n, start=start)
    assert np.array_equal(ublk, s.uint32(np.arange(start, start + n)))
    out = np.empty(n)
    assert s.uniform01_block(n, start=start, out=out) is out and same(out, blk)
    # pieces of the block are the same values (chunk invariance)
    assert same(s.uniform01_block(5, start=start + 70000), blk[70000:70005])


def test_index_paths_agree():
    """Sorted runs (one Philox per block), unsorted and sparse indices give the same values."""
    s = Stream(3, 1, 4)
    rng = np.random.default_rng(5)
    k = np.sort(rng.integers(0, 3 * r123._CHUNK, 5 * r123._CHUNK))  # sorted, many repeats
    ref = s.uniform01_block(3 * r123._CHUNK)[k]
    assert same(s.uniform01(k), ref)
    perm = rng.permutation(k.size)
    assert same(s.uniform01(k[perm]), ref[perm])  # unsorted path
    sparse = np.sort(rng.integers(0, 2**40, 3000))
    assert np.array_equal(s.uint32(sparse), np.array([s.uint32(int(x)) for x in sparse]))
    near_wrap = 2**34 - 200 + np.arange(400)  # sorted runs across the counter carry
    assert same(s.uniform01(near_wrap), s.uniform01_block(400, start=2**34 - 200))


def test_many_streams_broadcasting():
    id2 = np.arange(50).reshape(5, 10)
    s = Stream(7, id2, 3)
    assert s.shape == (5, 10)
    starts = (id2 * 7) % 9
    blk = s.uniform01_block(6, start=starts)
    assert blk.shape == (5, 10, 6)
    for i in range(5):
        for j in range(10):
            one = Stream(7, int(id2[i, j]), 3)
            assert same(blk[i, j], one.uniform01_block(6, start=int(starts[i, j])))
    k = np.arange(10)
    assert same(s.uniform01(k)[2], Stream(7, id2[2], 3).uniform01(k))
    assert same(uniform_at(s, 4), s.uniform01(np.full((5, 10), 4)))
    # many short rows, crossing the row-group chunking
    many = Stream(np.arange(20000), 1, 2)
    blk = many.uniform01_block(3, start=np.arange(20000) % 4)
    for i in (0, 1, 4095, 4096, 19999):
        assert same(blk[i], Stream(i, 1, 2).uniform01_block(3, start=i % 4))


def test_ids_like_neuron_chkarg():
    assert same(Stream(5.9, 2.0, 0.0).uniform01_block(3), Stream(5, 2, 0).uniform01_block(3))
    for bad in (-1, 2**32, np.nan, math.inf):
        with pytest.raises(ValueError):
            Stream(bad, 0, 0)
    with pytest.raises(ValueError):
        Stream(1, 2, 3, global_index=2**32)
    with pytest.raises(ValueError):
        Stream(1).uniform01(-1)


# ------------------------------------------------------------------------------ distributions

DISTS = [
    ("uniform", (2.5, -1.0)),
    ("discunif", (-3, 17)),
    ("normal", (1.5, 2.0)),
    ("lognormal", (2.0, 0.5)),
    ("negexp", (3.0,)),
    ("poisson", (4.2,)),
    ("binomial", (7, 0.3)),
    ("geometric", (0.6,)),
    ("hypergeo", (2.0, 9.0)),
    ("erlang", (3.0, 2.0)),
    ("weibull", (1.7, 2.5)),
    ("ran123_uniform", ()),
    ("ran123_negexp", ()),
    ("ran123_normal", ()),
]


def call(s, method, args, n, start=0, cached=None):
    kw = {"n": n, "start": start, "return_next": True}
    if cached is not None:
        kw["cached"] = cached
        kw["return_cache"] = True
    return getattr(s, method)(*args, **kw)


@pytest.mark.parametrize("method,args", DISTS, ids=[m for m, _ in DISTS])
def test_chaining_equals_one_call(method, args):
    """n picks at once == the same picks in pieces, passing on position (and normal cache)."""
    s = Stream(31, 41, 59)
    whole = call(s, method, args, 25, start=3)
    pieces, pos, cache = [], 3, np.nan
    for n in (1, 2, 7, 1, 1, 13):
        res = call(s, method, args, n, start=pos,
                   cached=cache if method in ("normal", "lognormal") else None)
        pieces.append(res[0])
        pos = res[1]
        if method in ("normal", "lognormal"):
            cache = res[2]
    assert same(np.concatenate(pieces), whole[0])
    assert pos == whole[1]


@pytest.mark.parametrize("method,args", DISTS, ids=[m for m, _ in DISTS])
def test_vectorized_streams_equal_single_streams(method, args):
    gids = np.arange(0, 60, 3)
    starts = gids % 7
    vs = Stream(1000, gids, 2)
    res = call(vs, method, args, 4, start=starts)
    for i, g in enumerate(gids):
        one = call(Stream(1000, int(g), 2), method, args, 4, start=int(starts[i]))
        assert same(res[0][i], one[0])
        assert res[1][i] == one[1]


def test_per_stream_parameters():
    gids = np.arange(10)
    vs = Stream(5, gids, 1)
    mean = 1.0 + gids * 0.5
    for method, args in [("uniform", (0.0, mean)), ("normal", (mean, 0.25)),
                         ("negexp", (mean,)), ("lognormal", (mean, 0.5)),
                         ("poisson", (mean,)), ("hypergeo", (mean, 9.0)),
                         ("weibull", (mean, 2.0)), ("discunif", (0, gids + 3))]:
        vals = getattr(vs, method)(*args, n=3)
        for i in gids:
            one_args = tuple(a[i] if np.ndim(a) else a for a in args)
            assert same(vals[i], getattr(Stream(5, int(i), 1), method)(*one_args, n=3)), method


def test_distribution_semantics():
    s = Stream(8, 8, 8)
    u = s.uniform01_block(2000)
    assert same(s.uniform(2.0, 5.0, n=50), 2.0 + 3.0 * u[:50])
    assert same(s.uniform(5.0, 2.0, n=50), 2.0 + 3.0 * u[:50])  # low/high swapped like gnu
    assert same(s.discunif(3, 7, n=50), 3 + np.floor(5.0 * u[:50]))
    assert same(s.binomial(4, 0.5, n=10), (u[:40].reshape(10, 4) < 0.5).sum(1))
    # geometric: draws up to and including the first >= mean
    g = s.geometric(0.7, n=30)
    term = np.nonzero(u >= 0.7)[0][:30]
    assert same(g, np.diff(np.r_[-1, term]))
    # negexp/normal use libm log (math.log), not numpy's SIMD log
    assert same(s.negexp(2.0, n=20), [-2.0 * math.log(x) for x in u[:20]])
    v = 2.0 * u[:2] - 1.0
    w = v[0] ** 2 + v[1] ** 2
    if w <= 1:
        y = math.sqrt(-2.0 * math.log(w) / w)
        assert same(s.normal(0.0, 1.0, n=2), [v[0] * y, v[1] * y])
    assert s.poisson(-1.0, n=3).tolist() == [-1.0, -1.0, -1.0]  # C loop never runs, 0 draws
    assert s.poisson(-1.0, n=3, return_next=True)[1] == 0
    assert s.binomial(0, 0.5, n=2).tolist() == [0.0, 0.0]


def test_distribution_errors():
    s = Stream(1, 2, 3)
    with pytest.raises(ValueError):
        s.geometric(1.0)  # NEURON would loop forever
    with pytest.raises(NotImplementedError):
        s.binomial(np.array([1, 2]), 0.5)
    with pytest.raises(NotImplementedError):
        s.erlang(np.array([1.0, 2.0]), 1.0)
    with pytest.raises(ValueError):
        s.uniform(0, 1, n=-1)
    e = NrnRandom()
    with pytest.raises(NotImplementedError):
        e.MCellRan4(1)
    with pytest.raises(ValueError):
        e.binomial(3, 1.5)
    with pytest.raises(ValueError):
        e.geometric(2.0)
    e.Random123(1, 2, 3)
    e.Random123_globalindex(4)
    with pytest.raises(NotImplementedError):
        e.repick()  # NEURON would still use the block computed with the old key
    e.Random123(1, 2, 3)
    assert same(e.uniform(0, 1), Stream(1, 2, 3, global_index=4).uniform01(0))


# ------------------------------------------------------------------------------ h.Random emulation


def test_nrnrandom_semantics():
    e = NrnRandom()
    e.Random123(10, 20, 30)
    s = Stream(10, 20, 30)
    first = e.uniform(0, 1)  # a distribution call returns (and consumes) one pick
    rest = e.setrand(9)
    assert same(np.r_[first, rest], s.uniform01_block(10))
    assert e.seq() == 10.0 and e.position == 10
    # normal: the object caches x2; a fresh normal() call discards it
    e.Random123(10, 20, 30)
    a = e.normal(0, 1)
    b = e.repick()
    assert same([a, b], s.normal(0, 1, n=2))
    e.Random123(10, 20, 30)
    fresh = [e.normal(0, 1) for _ in range(2)]
    x2 = s.normal(0, 1, n=1, return_next=True)
    assert same(fresh[0], a) and same(fresh[1], s.normal(0, 1, n=1, start=x2[1])[0])
    # the cache survives re-keying
    e.Random123(10, 20, 30)
    e.normal(0, 1)
    e.Random123(1, 1, 1)
    assert same(e.repick(), b)
    # seq(s) = seq*4 + which
    e.Random123(10, 20, 30)
    e.seq(6)
    assert same(e.uniform(0, 1), s.uniform01(6))
    assert e.seq() == 7.0
    # default h.Random(seed): stream (seed, 55, 0) with Normal(0, 1)
    assert same(NrnRandom(3).repick(), Stream(3, 55, 0).normal(0.0, 1.0)[0])


# ------------------------------------------------------------------------------ NetPyNE helpers


def test_hashes_match_netpyne_definitions():
    for s in ("", "conn_probConn", "stim_NetStim", "ü€"):
        assert netpyne_hash_str(s) == int(hashlib.md5(s.encode()).hexdigest()[:8], 16)
    assert netpyne_hash_str("conn_probConn") < 2**32
    for lst in ([], [0], [1, 2, 3], list(range(1000))):
        ref = int(hashlib.md5(array.array("L", lst)).hexdigest()[:8], 16)
        assert netpyne_hash_list(lst) == ref
        assert netpyne_hash_list(np.array(lst, dtype=np.int64)) == ref
    if array.array("L").itemsize == 8:
        packed = np.array([5, 7], dtype="<u8").tobytes()
        assert netpyne_hash_list([5, 7]) == int(hashlib.md5(packed).hexdigest()[:8], 16)


def test_positions():
    locs = netpyne_positions(10, 40, 1)
    assert locs.shape == (10, 3)
    # Random123(numCells, lastGid, seed); uniform(0, 1) eats draw 0; setrand gets draws 1..3n
    assert same(locs.ravel(), Stream(10, 40, 1).uniform01(np.arange(1, 31)))
    e = NrnRandom()
    e.Random123(10, 40, 1)
    e.uniform(0, 1)
    assert same(e.setrand(30), locs.ravel())
    assert netpyne_positions(0, 0, 1).shape == (0, 3)


def test_density_samples():
    cand, acc = netpyne_density_samples(17980, 40, 13, 12)
    # Random123(int(maxDensity), lastGid, seed); 2 x int(maxCells) sequential uniform(0, 1) calls
    e = NrnRandom()
    e.Random123(17980, 40, 13)
    seq = [e.uniform(0, 1) for _ in range(24)]
    assert same(cand, seq[:12]) and same(acc, seq[12:])
    assert netpyne_density_samples(5, 0, 1, 0)[0].shape == (0,)


def test_prob_rands_lazy_blocks():
    pre, post = list(range(0, 70)), list(range(70, 113))
    pr = netpyne_prob_rands(pre, post, 4)
    assert pr.stream.id1 == netpyne_hash_list(pre) and pr.stream.id2 == netpyne_hash_list(post)
    full = pr.stream.uniform01(1 + np.arange(70 * 43)).reshape(70, 43)
    assert same(pr.rows(0, 70), full)
    assert same(pr.rows(13, 20), full[13:20])
    assert same(pr.at([3, 69], [0, 42]), [full[3, 0], full[69, 42]])
    got = np.concatenate([b for _, b in pr.iter_rows(max_elements=500)])
    assert same(got, full)
    with pytest.raises(IndexError):
        pr.at(70, 0)


def _naive_unique(ids, N, vmin, vmax):
    e = NrnRandom()
    e.Random123(*ids)
    e.discunif(vmin, vmax)
    out = []
    while len(out) < N:
        x = int(e.repick())
        if x not in out:
            out.append(x)
    return out


def test_rand_unique_int():
    h = netpyne_hash_list(list(range(50)))
    got = netpyne_rand_unique_int(h, np.arange(40), 1, 11, 0, 49)
    assert got.shape == (40, 11)
    for i in (0, 7, 39):
        assert got[i].tolist() == _naive_unique((h, i, 1), 11, 0, 49)
    full = netpyne_rand_unique_int(h, 3, 1, 20, 0, 19)  # N == range size
    assert full.tolist() == _naive_unique((h, 3, 1), 20, 0, 19)
    shifted = netpyne_rand_unique_int(h, 3, 1, 4, 10, 13)
    assert shifted.tolist() == _naive_unique((h, 3, 1), 4, 10, 13)
    lst = netpyne_rand_unique_int(h, [1, 2], 1, [2, 5], 0, 9)
    assert [x.tolist() for x in lst] == [
        _naive_unique((h, 1, 1), 2, 0, 9),
        _naive_unique((h, 2, 1), 5, 0, 9),
    ]
    with pytest.raises(ValueError):
        netpyne_rand_unique_int(h, 1, 1, 11, 0, 9)
