"""nethub.random123 against real NEURON ``h.Random`` streams and a real NetPyNE build, bit for bit.

Every comparison is exact (float64 bit patterns), never approximate.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nethub.random123 import (
    NrnRandom,
    netpyne_density_samples,
    netpyne_hash_list,
    netpyne_hash_str,
    netpyne_positions,
    netpyne_prob_rands,
    netpyne_rand_unique_int,
)
from nethub.random123 import Random123Stream as Stream

pytestmark = pytest.mark.neuron

neuron = pytest.importorskip("neuron")
h = neuron.h

KEYS = [
    (0, 0, 0),
    (1, 2, 3),
    (4294967295, 4294967295, 4294967295),
    (netpyne_hash_str("conn_probConn"), netpyne_hash_list([0, 1, 2, 5]), 1),
    (123456789, 0, 42),
]

# (method, args) -- several parameter sets per distribution, incl. edge cases
DISTS = [
    ("uniform", (0.0, 1.0)),
    ("uniform", (2.5, -1.0)),
    ("uniform", (-1e3, 7.25)),
    ("discunif", (0, 99)),
    ("discunif", (-3, 17)),
    ("discunif", (5, 5)),
    ("normal", (0.0, 1.0)),
    ("normal", (1.5, 2.0)),
    ("normal", (-3.0, 1e-6)),
    ("normal", (0.0, -1.0)),  # sqrt(-1): NaN with libm's sign bit
    ("lognormal", (2.0, 0.5)),
    ("lognormal", (0.3, 4.0)),
    ("negexp", (1.0,)),
    ("negexp", (3.0,)),
    ("poisson", (0.5,)),
    ("poisson", (4.2,)),
    ("poisson", (60.0,)),
    ("binomial", (7, 0.3)),
    ("binomial", (1, 0.5)),
    ("binomial", (25, 0.9)),
    ("geometric", (0.6,)),
    ("geometric", (0.0,)),
    ("geometric", (0.95,)),
    ("hypergeo", (2.0, 9.0)),
    ("hypergeo", (1.0, 1.5)),
    ("hypergeo", (2.0, 1.0)),  # variance < mean**2: NaN
    ("erlang", (3.0, 2.0)),
    ("erlang", (5.0, 0.5)),
    ("erlang", (1.0, 100.0)),
    ("erlang", (-2.0, 1.0)),
    ("weibull", (1.7, 2.5)),
    ("weibull", (0.5, 1.0)),
]


def hrand(ids, gix=None):
    r = h.Random()
    r.Random123(*ids)
    return r


def bits(x):
    return np.asarray(x, dtype=np.float64).view(np.uint64)


def assert_bits_equal(got, ref):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    bad = np.nonzero(bits(got) != bits(ref))[0]
    first = bad[:5]
    assert bad.size == 0, f"{bad.size} mismatches, first at {first}: {got[first]} != {ref[first]}"


def neuron_sequence(ids, method, args, n):
    """``r.<method>(*args)`` then ``Vector(n-1).setrand(r)``: n values and the final ``seq()``."""
    r = hrand(ids)
    first = getattr(r, method)(*args)
    v = h.Vector(n - 1)
    v.setrand(r)
    return np.r_[first, np.array(v)], r.seq()


@pytest.fixture(autouse=True)
def _global_index_zero():
    g = h.Random()
    assert g.Random123_globalindex() == 0
    yield
    g.Random123_globalindex(0)


@pytest.mark.parametrize("ids", KEYS)
def test_uniform01_index_and_block_match_setrand(ids):
    r = hrand(ids)
    r.uniform(0, 1)
    r.seq(0)  # back to draw 0
    v = h.Vector(4099)
    v.setrand(r)
    ref = np.array(v)
    s = Stream(*ids)
    assert_bits_equal(s.uniform01_block(4099), ref)
    assert_bits_equal(s.uniform01(np.arange(4099)), ref)
    # uint32 recovered exactly from the double: u = x*(2**32+1) - 1
    u = np.rint(ref * 4294967297.0 - 1.0).astype(np.uint64)
    assert np.array_equal(s.uint32(np.arange(4099)).astype(np.uint64), u)


@pytest.mark.parametrize("ids", KEYS[1:4])
@pytest.mark.parametrize("method,args", DISTS, ids=[f"{m}{a}" for m, a in DISTS])
def test_distribution_sequences(ids, method, args):
    n = 600
    ref, seq = neuron_sequence(ids, method, args, n)
    s = Stream(*ids)
    got, nxt = getattr(s, method)(*args, n=n, return_next=True)
    assert_bits_equal(got, ref)
    assert nxt == seq  # same number of draws consumed (seq() = position; < 2**34 here)
    e = NrnRandom()
    e.Random123(*ids)
    got2 = np.r_[getattr(e, method)(*args), e.setrand(n - 1)]
    assert_bits_equal(got2, ref)
    assert e.seq() == seq


@pytest.mark.parametrize(
    "method,args,n",
    [
        ("normal", (0.0, 1.0), 200_000),
        ("negexp", (1.0,), 200_000),
        ("lognormal", (1.0, 0.25), 100_000),
        ("weibull", (1.3, 0.7), 100_000),
        ("hypergeo", (2.0, 5.0), 50_000),
        ("erlang", (4.0, 2.0), 50_000),
    ],
)
def test_large_samples_libm_exact(method, args, n):
    """Large samples: numpy's SIMD log/exp/pow would differ from libm in ~0.3% of values."""
    ids = (7, 77, 777)
    ref, seq = neuron_sequence(ids, method, args, n)
    got, nxt = getattr(Stream(*ids), method)(*args, n=n, return_next=True)
    assert_bits_equal(got, ref)
    assert nxt == seq


@pytest.mark.parametrize("method", ["normal", "lognormal", "negexp", "uniform", "discunif"])
def test_repeated_fresh_calls(method):
    """String functions call ``rand.normal(...)`` repeatedly: each call is a fresh distribution
    object, so the polar method's cached second value is discarded every time."""
    args = {"normal": (1.0, 0.3), "lognormal": (1.0, 0.3), "negexp": (2.0,),
            "uniform": (0.0, 5.0), "discunif": (0, 9)}[method]
    ids = (netpyne_hash_str("conn_convConn"), 99, 1)
    r = hrand(ids)
    ref = [getattr(r, method)(*args) for _ in range(300)]
    e = NrnRandom()
    e.Random123(*ids)
    assert_bits_equal([getattr(e, method)(*args) for _ in range(300)], ref)
    # the same with the vectorized Stream, chaining positions
    s = Stream(*ids)
    pos, out = 0, []
    for _ in range(300):
        res = getattr(s, method)(*args, n=1, start=pos, return_next=True)
        out.append(res[0][0])
        pos = res[1]
    assert_bits_equal(out, ref)
    assert pos == r.seq()


def test_emulator_mixed_scenario():
    """Re-keying keeps the distribution object (and its cached normal); seq() repositions."""
    r, e = h.Random(), NrnRandom()
    log_r, log_e = [], []
    for obj, log in ((r, log_r), (e, log_e)):
        log.append(obj.repick())  # default Random(): stream (0, 55, 0), Normal(0, 1)
        obj.Random123(5, 6, 7)
        log.append(obj.normal(2.0, 3.0))  # caches x2
        obj.Random123(8, 9, 10)
        log.append(obj.repick())  # the cached x2 of the OLD stream
        log.append(obj.repick())
        log.append(obj.uniform(-1, 1))
        obj.seq(13)  # seq 3, which 1
        log.append(obj.repick())
        log.append(obj.discunif(3, 30))
        log.append(obj.seq())
        log.append(obj.lognormal(1.0, 0.5))
        v = h.Vector(7)
        if obj is r:
            v.setrand(r)
            log.extend(np.array(v))
        else:
            log.extend(obj.setrand(7))
        log.append(obj.seq())
        log.append(obj.geometric(0.5))
        log.append(obj.binomial(10, 0.25))
        log.append(obj.poisson(3.0))
        log.append(obj.hypergeo(1.0, 2.0))
        log.append(obj.erlang(2.0, 1.0))
        log.append(obj.weibull(2.0, 1.0))
        log.append(obj.negexp(0.5))
        log.append(obj.seq())
    r2, e2 = h.Random(17), NrnRandom(17)  # seeded default stream (17, 55, 0)
    log_r += [r2.repick(), r2.uniform(0, 1)]
    log_e += [e2.repick(), e2.uniform(0, 1)]
    assert_bits_equal(log_e, log_r)


def test_global_index_and_carry():
    g = h.Random()
    try:
        g.Random123_globalindex(12345)
        r = hrand((1, 2, 3))
        ref = [r.uniform(0, 1) for _ in range(10)]
    finally:
        g.Random123_globalindex(0)
    assert_bits_equal(Stream(1, 2, 3, global_index=12345).uniform01_block(10), ref)
    e = NrnRandom(global_index=12345)
    e.Random123(1, 2, 3)
    assert_bits_equal([e.uniform(0, 1) for _ in range(10)], ref)
    # counter carry: seq = 2**32 - 1 wraps into counter word 1 (id3) -- also with id3 = 2**32-1
    for ids in ((1, 2, 3), (1, 2, 4294967295), (1, 4294967295, 4294967295)):
        r = hrand(ids)
        r.seq(17179869182.0)  # seq 2**32-1, which 2
        ref = [r.uniform(0, 1) for _ in range(12)]
        assert_bits_equal(Stream(*ids).uniform01_block(12, start=17179869182), ref)
        assert_bits_equal(Stream(*ids).uniform01(17179869182 + np.arange(12)), ref)
        e = NrnRandom()
        e.Random123(*ids)
        e.seq(17179869182.0)
        assert_bits_equal([e.uniform(0, 1) for _ in range(12)], ref)
        assert e.seq() == r.seq()


def test_many_streams_vectorized():
    gids = np.arange(0, 3000, 7)
    seed = 3
    s = Stream(netpyne_hash_str("cellParams"), gids, seed)
    starts = gids % 5
    got_u = s.uniform(0.0, 10.0, n=3, start=starts)
    got_n, nxt = s.normal(0.0, 4.0, n=3, start=starts, return_next=True)
    got_d = s.discunif(0, 9, n=2)
    got_p = s.poisson(2.5, n=2)
    for i, gid in enumerate(gids):
        ids = (netpyne_hash_str("cellParams"), int(gid), seed)
        r = hrand(ids)
        r.seq(int(starts[i]))
        ref = [r.uniform(0.0, 10.0), r.repick(), r.repick()]
        assert_bits_equal(got_u[i], ref)
        r.seq(int(starts[i]))
        ref = [r.normal(0.0, 4.0), r.repick(), r.repick()]
        assert_bits_equal(got_n[i], ref)
        assert nxt[i] == r.seq()
        r.Random123(*ids)
        assert_bits_equal(got_d[i], [r.discunif(0, 9), r.repick()])
        r.Random123(*ids)
        assert_bits_equal(got_p[i], [r.poisson(2.5), r.repick()])


def test_vecstim_negexp_pattern():
    """NetPyNE VecStim 'interval'+'noise': Random123(hashStr('vecstim_spkt'), gid, seed),
    negexp(noise*interval) (consumes draw 0), then numSpks x Vector(1).setrand(rand)."""
    for gid in (0, 17, 123456):
        r = hrand((netpyne_hash_str("vecstim_spkt"), gid, 1))
        r.negexp(0.3 * 20.0)
        vec = h.Vector(1)
        ref = []
        for _ in range(57):
            vec.setrand(r)
            ref.append(vec.x[0])
        got = Stream(netpyne_hash_str("vecstim_spkt"), gid, 1).negexp(0.3 * 20.0, n=58)[1:]
        assert_bits_equal(got, ref)


def test_netstim_random123_erand():
    """NEURON 9's NetStim draws erand() = nrnran123_negexp from its RANDOM stream."""
    ns = h.NetStim()
    ns.noiseFromRandom123(netpyne_hash_str("NetStim"), 12, 1)
    ref = [ns.erand() for _ in range(1000)]
    got = Stream(netpyne_hash_str("NetStim"), 12, 1).ran123_negexp(n=1000)
    assert_bits_equal(got, ref)
    # NetPyNE without cfg.random123: Random123(hashStr('NetStim'), gid, seed); negexp(1);
    # noiseFromRandom(rand) -> NetStim continues the same stream at draw 1
    r = hrand((netpyne_hash_str("NetStim"), 12, 1))
    r.negexp(1)
    ns.noiseFromRandom(r)
    ref = [ns.erand() for _ in range(100)]
    assert_bits_equal(Stream(netpyne_hash_str("NetStim"), 12, 1).ran123_negexp(n=100, start=1), ref)


def _neuron_rand_unique_int(r, N, vmin, vmax):  # netpyne.network.conn.randUniqueInt, verbatim
    r.discunif(vmin, vmax)
    out = []
    while len(out) < N:
        x = int(r.repick())
        if x not in out:
            out.append(x)
    return out


def test_rand_unique_int():
    pre = list(range(100, 160))
    hpre = netpyne_hash_list(pre)
    posts = np.arange(0, 300, 3)
    got = netpyne_rand_unique_int(hpre, posts, 1, 9, 0, len(pre) - 1)
    for i, post in enumerate(posts):
        ref = _neuron_rand_unique_int(hrand((hpre, int(post), 1)), 9, 0, len(pre) - 1)
        assert got[i].tolist() == ref
    # N equal to the range size (coupon collector) and per-stream N
    full = netpyne_rand_unique_int(hpre, 5, 1, 12, 0, 11)
    assert full.tolist() == _neuron_rand_unique_int(hrand((hpre, 5, 1)), 12, 0, 11)
    lst = netpyne_rand_unique_int(hpre, [1, 2, 3], 1, [3, 1, 5], 0, 7)
    for post, N, arr in zip([1, 2, 3], [3, 1, 5], lst):
        assert arr.tolist() == _neuron_rand_unique_int(hrand((hpre, post, 1)), N, 0, 7)


NETPYNE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from netpyne import specs, sim
    netParams = specs.NetParams()
    netParams.sizeX = 100.0; netParams.sizeY = 200.0; netParams.sizeZ = 50.0
    netParams.cellParams['PYR'] = {'secs': {'soma': {'geom': {'diam': 18.8, 'L': 18.8, 'Ra': 123.0},
                                                     'mechs': {'hh': {}}}}}
    netParams.popParams['S'] = {'cellType': 'PYR', 'numCells': 20}
    netParams.popParams['M'] = {'cellType': 'PYR', 'numCells': 15}
    netParams.popParams['stimN'] = {'cellModel': 'NetStim', 'numCells': 5, 'rate': [5, 15],
                                    'noise': 0.5}
    netParams.popParams['D'] = {'cellType': 'PYR', 'density': '2e4*ynorm', 'ynormRange': [0.2, 0.9]}
    netParams.synMechParams['exc'] = {'mod': 'Exp2Syn', 'tau1': 0.1, 'tau2': 5.0, 'e': 0}
    netParams.connParams['S->M'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'M'},
                                    'probability': 0.3, 'weight': '0.01 + uniform(0, 0.002)',
                                    'delay': 5, 'synMech': 'exc'}
    netParams.connParams['M->S'] = {'preConds': {'pop': 'M'}, 'postConds': {'pop': 'S'},
                                    'convergence': 4, 'weight': 0.01, 'delay': 'normal(3, 0.04)',
                                    'synMech': 'exc'}
    netParams.connParams['S->S'] = {'preConds': {'pop': 'S'}, 'postConds': {'pop': 'S'},
                                    'divergence': 3, 'weight': 0.005, 'delay': 3, 'synMech': 'exc'}
    cfg = specs.SimConfig(); cfg.duration = 100; cfg.verbose = False; cfg.progressBar = 0
    cfg.seeds = {'conn': 7, 'stim': 11, 'loc': 13, 'cell': 1}
    sim.create(netParams, cfg)
    out = {'pops': {}, 'cells': [], 'conns': [],
           'hashStr': {s: sim.hashStr(s) for s in ['', 'conn_probConn', 'stim_NetStim', 'ü€']},
           'hashList': [sim.hashList(x) for x in ([], [0], [1, 2, 3], list(range(1000)),
                                                  [2**40, 5])]}
    for name, pop in sim.net.pops.items():
        out['pops'][name] = {'cellGids': list(pop.cellGids), 'numCells': pop.tags['numCells']}
    for c in sim.net.cells:
        d = {'gid': c.gid, 'pop': c.tags['pop'],
             'norm': [c.tags['xnorm'], c.tags['ynorm'], c.tags['znorm']]}
        if c.tags.get('cellModel') == 'NetStim':
            d['rate'] = c.params['rate']
        out['cells'].append(d)
        for conn in getattr(c, 'conns', []):
            out['conns'].append([conn['label'], conn['preGid'], c.gid, conn['weight'],
                                 conn['delay']])
    json.dump(out, open(sys.argv[1], 'w'))
    """
)


@pytest.fixture(scope="module")
def netpyne_build(tmp_path_factory):
    pytest.importorskip("netpyne")
    d = tmp_path_factory.mktemp("netpyne")
    script = d / "build.py"
    script.write_text(NETPYNE_SCRIPT)
    res = subprocess.run(
        [sys.executable, str(script), str(d / "out.json")],
        cwd=d, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads(Path(d / "out.json").read_text())


def test_netpyne_hashes(netpyne_build):
    for s, v in netpyne_build["hashStr"].items():
        assert netpyne_hash_str(s) == v
    lists = ([], [0], [1, 2, 3], list(range(1000)), [2**40, 5])
    assert [netpyne_hash_list(x) for x in lists] == netpyne_build["hashList"]
    assert netpyne_hash_list(np.arange(1000)) == netpyne_build["hashList"][3]


def test_netpyne_positions(netpyne_build):
    last_gid = 0
    cells = {c["gid"]: c for c in netpyne_build["cells"]}
    for name in ("S", "M", "stimN"):
        pop = netpyne_build["pops"][name]
        locs = netpyne_positions(pop["numCells"], last_gid, 13)
        ref = np.array([cells[g]["norm"] for g in pop["cellGids"]])
        assert_bits_equal(locs.ravel(), ref.ravel())
        last_gid += pop["numCells"]


def test_netpyne_density_population(netpyne_build):
    """Pop 'D': density '2e4*ynorm' on ynormRange [0.2, 0.9] (Pop.createCellsDensity)."""
    pops = netpyne_build["pops"]
    last_gid = sum(pops[p]["numCells"] for p in ("S", "M", "stimN"))
    cells = {c["gid"]: c for c in netpyne_build["cells"]}

    def dens(ynorm):
        return 2e4 * ynorm

    volume = 200.0 / 1e3 * 100.0 / 1e3 * 50.0 / 1e3 * (0.9 - 0.2)  # NetPyNE's expression order
    max_density = max(map(dens, np.arange(0.2, 0.9, 0.001)))
    cand, acc = netpyne_density_samples(int(max_density), last_gid, 13, int(volume * max_density))
    locs_all = 0.2 + (0.9 - 0.2) * cand
    keep = np.array(list(map(dens, locs_all))) / max_density > acc
    ynorm = locs_all[keep]
    n = int(keep.sum())
    assert pops["D"]["numCells"] == n and n > 0
    locs = netpyne_positions(n, last_gid, 13)
    ref = np.array([cells[g]["norm"] for g in pops["D"]["cellGids"]])
    assert_bits_equal(ref[:, 0], locs[:, 0])
    assert_bits_equal(ref[:, 1], ynorm)
    assert_bits_equal(ref[:, 2], locs[:, 2])


def test_netpyne_netstim_rates(netpyne_build):
    for c in netpyne_build["cells"]:
        if "rate" in c:
            s = Stream(netpyne_hash_str("point_rate"), c["gid"], 11)
            assert_bits_equal(s.uniform(5, 15, n=1), [c["rate"]])


def test_netpyne_connectivity(netpyne_build):
    pops = netpyne_build["pops"]
    S, M = pops["S"]["cellGids"], pops["M"]["cellGids"]
    conns = {}
    for label, pre, post, w, d in netpyne_build["conns"]:
        conns.setdefault(label, set()).add((pre, post, w, d))
    seed = 7
    # probConn S->M; weight '0.01 + uniform(0, 0.002)' from Random123(pre, post, seed)
    pr = netpyne_prob_rands(sorted(S), sorted(M), seed)
    ipre, ipost = np.meshgrid(np.arange(len(S)), np.arange(len(M)), indexing="ij")
    mask = 0.3 >= pr.at(ipre, ipost)
    assert np.array_equal(mask, 0.3 >= pr.rows(0, len(S)))
    pairs = [(S[a], M[b]) for a, b in zip(*np.nonzero(mask))]
    pre_a = np.array([p for p, _ in pairs])
    post_a = np.array([q for _, q in pairs])
    w = 0.01 + Stream(pre_a, post_a, seed).uniform(0, 0.002, n=1)[:, 0]
    expect = {(p, q, float(wi), 5) for (p, q), wi in zip(pairs, w)}
    assert conns["S->M"] == expect
    # convConn M->S (convergence 4), delay 'normal(3, 0.04)' from Random123(pre, post, seed)
    sortedM = sorted(M)
    hM = netpyne_hash_list(sortedM)
    samples = netpyne_rand_unique_int(hM, np.array(S), seed, 5, 0, len(M) - 1)
    pairs = [(sortedM[i], post) for post, smp in zip(S, samples) for i in smp[:4]]
    pre_a = np.array([p for p, _ in pairs])
    post_a = np.array([q for _, q in pairs])
    d = Stream(pre_a, post_a, seed).normal(3, 0.04, n=1)[:, 0]
    assert conns["M->S"] == {(p, q, 0.01, float(di)) for (p, q), di in zip(pairs, d)}
    # divConn S->S (divergence 3): self-connections replaced by the extra 4th sample
    sortedS = sorted(S)
    hS = netpyne_hash_list(sortedS)
    samples = netpyne_rand_unique_int(hS, np.array(S), seed, 4, 0, len(S) - 1)
    expect = set()
    for pre, smp in zip(S, samples):
        for i in smp[:3]:
            post = sortedS[smp[3]] if sortedS[i] == pre else sortedS[i]
            if post != pre:
                expect.add((pre, post, 0.005, 3))
    assert conns["S->S"] == expect


RAN123_MOD = """
NEURON {
    POINT_PROCESS Ran123Test
    RANDOM rv
}
FUNCTION nrm(mu, sigma) {
    nrm = random_normal(rv, mu, sigma)
}
FUNCTION unifab(a, b) {
    unifab = random_uniform(rv, a, b)
}
FUNCTION nexp(m) {
    nexp = random_negexp(rv, m)
}
"""

RAN123_SCRIPT = """
import json, sys
from neuron import h, load_mechanisms
load_mechanisms(sys.argv[1])
sec = h.Section()
p = h.Ran123Test(sec(0.5))
out = {}
p.rv.set_ids(3, 4, 5).set_seq(0)
out['normal'] = [p.nrm(1.5, 0.7) for _ in range(5000)]
out['normal_seq'] = p.rv.get_seq()
p.rv.set_ids(3, 4, 5).set_seq(0)
out['uniform'] = [p.unifab(-2, 3) for _ in range(1000)]
p.rv.set_ids(3, 4, 5).set_seq(10)
out['negexp'] = [p.nexp(2.5) for _ in range(1000)]
json.dump(out, open(sys.argv[2], 'w'))
"""


@pytest.mark.slow
def test_nmodl_random_functions(tmp_path):
    """NMODL RANDOM: random_normal/uniform/negexp = nrnran123_normal/uniform/negexp."""
    import shutil

    nrnivmodl = shutil.which("nrnivmodl") or str(Path(sys.executable).parent / "nrnivmodl")
    if not Path(nrnivmodl).exists():
        pytest.skip("nrnivmodl not available")
    mod = tmp_path / "mod"
    mod.mkdir()
    (mod / "ran123test.mod").write_text(RAN123_MOD)
    res = subprocess.run([nrnivmodl], cwd=mod, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        pytest.skip("nrnivmodl failed (no compiler?): " + res.stderr[-500:])
    (tmp_path / "run.py").write_text(RAN123_SCRIPT)
    res = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), str(mod), str(tmp_path / "out.json")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    s = Stream(3, 4, 5)
    got, nxt = s.ran123_normal(n=5000, mu=1.5, sigma=0.7, return_next=True)
    assert_bits_equal(got, out["normal"])
    assert nxt == out["normal_seq"]
    assert_bits_equal(s.ran123_uniform(n=1000, a=-2, b=3), out["uniform"])
    assert_bits_equal(s.ran123_negexp(n=1000, start=10, mean=2.5), out["negexp"])
