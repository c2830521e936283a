"""cellParams expressions, NEURON distances and random rotation: nethub against NetPyNE 1.1.1.

One NetPyNE subprocess (``sim.create`` on the model below) reads back what NEURON holds for
every cell: each segment's mechanism parameters (``cell.secs[sec]['hObj'](x).<mech>.<param>``),
point-process parameters, ``L``/``nseg``/``cm``, the 3-D points, the rotation angle and how
far the cell's ``cellParams`` random stream has advanced. The same process builds random
section trees in NEURON and reports ``h.distance`` and NetPyNE's ``posFromLoc`` for every
segment. nethub (``build`` + :class:`~nethub.builder.cellexpr.Morphology`) must give:

- bit-identical values for everything on stylized sections (no pt3d), for every value drawn
  from the cells' random streams, for the rotation angles, and for the path/euclidean
  distances of the random trees;
- on the pt3d cell, values derived from its points equal to float32 rounding: NEURON stores
  each cell's *absolute*, rotated points in float32 (a documented difference);
- NetPyNE's pt3d: its in-place cumulative rotation, emulated (a documented NetPyNE quirk);
- the ``conds['fraction']`` ranges NetPyNE gives ``diversityFraction`` rules.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nethub.builder import build
from nethub.builder.cellexpr import (
    Morphology,
    with_diversity_ranges,
)
from nethub.celltypes import CompartmentalCell
from nethub.network import DRAWS_COLUMN, ROTATION_COLUMN, param_column
from nethub.table import Ragged

pytest.importorskip("netpyne", reason="compares against NetPyNE")
pytest.importorskip("neuron", reason="NetPyNE needs NEURON")

PYR_PT3D = {
    "soma": [[0, 0, 0, 20], [0, 20, 0, 20]],
    "apic": [[0, 20, 0, 3], [10, 120, 5, 2.5], [-20, 260, 0, 2]],
    "basal": [[0, 0, 0, 3], [-40, -60, 10, 2]],
}
NET = {
    "sizeX": 200, "sizeY": 300, "sizeZ": 150,
    "rotateCellsRandomly": True,
    "popParams": {"P": {"cellType": "PYR", "numCells": 5},
                  "S": {"cellType": "STY", "numCells": 6}},
    "cellParams": {
        "PYR": {
            "vars": {"gb": "uniform(0.10, 0.14)", "dec": "normal(150, 100)", "k": 2.5},
            "secs": {
                "soma": {"geom": {"pt3d": PYR_PT3D["soma"]},
                         "mechs": {"hh": {"gnabar": "gb", "gkbar": "0.036 + 0*y",
                                          "gl": 0.0003}}},
                "apic": {"geom": {"pt3d": PYR_PT3D["apic"], "nseg": 7, "cm": "1 + ynorm"},
                         "topol": {"parentSec": "soma", "parentX": 1, "childX": 0},
                         "mechs": {"pas": {"g": "1e-4*exp(-dist_path/dec)",
                                           "e": "-70 + dist_euclidean/100"},
                                   "hh": {"gnabar": "gb*exp(-dist_path/k/100)",
                                          "gkbar": "uniform(0.03, 0.04)",
                                          "gl": [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4]}},
                         "pointps": {"stim": {"mod": "IClamp", "loc": 0.8,
                                              "amp": "0.1 + dist_path/1000", "del": "gid",
                                              "dur": "uniform(5, 10)"}}},
                "basal": {"geom": {"pt3d": PYR_PT3D["basal"], "nseg": 3},
                          "topol": {"parentSec": "soma", "parentX": 0, "childX": 0},
                          "mechs": {"pas": {"g": "2e-5 + 1e-7*dist_euclidean", "e": -65}}},
            }},
        "STY": {
            "vars": {"gmax": "uniform(0.1, 0.2)", "lam": 80},
            "secs": {
                # before 'soma' in the dict: evaluated while the soma has NEURON's defaults;
                # hangs reversed on soma(0.3)
                "dend0": {"geom": {"L": 150, "diam": 2, "nseg": "2*int(lam/40) + 1"},
                          "topol": {"parentSec": "soma", "parentX": 0.3, "childX": 1},
                          "mechs": {"hh": {"gnabar": "gmax*exp(-dist_path/lam)"},
                                    "pas": {"g": "1e-5*(1 + dist_path/100)", "e": -70}}},
                "soma": {"geom": {"L": "10 + 10*xnorm", "diam": 18.8, "nseg": 2},
                         "mechs": {"hh": {"gnabar": 0.12, "gkbar": "0.036*uniform(0.9, 1.1)"}}},
                "dend1": {"geom": {"L": 200, "diam": 1, "nseg": 5},
                          "topol": {"parentSec": "dend0", "parentX": 0, "childX": 0},
                          "mechs": {"pas": {"g": "1e-5 + 1e-7*dist_path",
                                            "e": "normal(-65, 4)"}}},
                "dend2": {"geom": {"L": "uniform(100, 200)", "diam": 1, "nseg": 4},
                          "topol": {"parentSec": "soma", "parentX": 1, "childX": 0},
                          "mechs": {"pas": {"g": "1e-5*exp(-dist_path/300)", "e": -70}}},
            }},
        # stacked on the STY cells with x <= 100: its vars draw after STY's draws
        "STYx": {
            "conds": {"pop": "S", "x": [0, 100]},
            "vars": {"w": "uniform(1, 2)"},
            "secs": {
                "dend2": {"mechs": {"hh": {"gnabar": "w*dist_path/1e4", "gkbar": 0.01,
                                           "gl": 0.0}}},
                "axon": {"geom": {"L": 50, "nseg": 3, "diam": 1},
                         "topol": {"parentSec": "soma", "parentX": 0.5, "childX": 0},
                         "mechs": {"pas": {"g": "uniform(1e-5, 2e-5)",
                                           "e": "-70 + dist_path/10"}}}}},
    },
}
#: rules sharing a population by diversityFraction (NetPyNE's _setDiversityRanges)
DIVERSITY = {
    "A": {"conds": {"cellType": "PYR"}, "diversityFraction": 0.3, "secs": {}},
    "B": {"conds": {"cellType": "PYR"}, "diversityFraction": 0.2, "secs": {}},
    "C": {"conds": {"cellType": "PYR", "pop": "X"}, "diversityFraction": 0.6, "secs": {}},
    "D": {"conds": {"cellType": "PYR"}, "diversityFraction": 0.5, "secs": {}},
    "E": {"conds": {"cellType": "INT"}, "secs": {}},
}
CFG = {"seeds": {"conn": 1, "stim": 1, "loc": 3, "cell": 5}}

_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, sys
    inp = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(io.StringIO()):
        from netpyne import sim, specs
        from netpyne.network.subconn import pathDistance, posFromLoc
        from neuron import h
        net_params = specs.NetParams(inp["netParams"])
        cfg = specs.SimConfig(inp["simConfig"])
        sim.create(netParams=net_params, simConfig=cfg)
    mech_params, pp_params = {}, {}
    for rule in inp["netParams"]["cellParams"].values():
        for sname, sp in rule.get("secs", {}).items():
            for mech, ps in sp.get("mechs", {}).items():
                mech_params.setdefault(sname, {}).setdefault(mech, set()).update(ps)
            for label, pp in sp.get("pointps", {}).items():
                pp_params.setdefault(label, set()).update(
                    k for k in pp if k not in ("mod", "loc", "vref", "synList"))
    cells = []
    for c in sim.net.cells:
        rand = c.__dict__.get("_Cell__cellParamsRand")
        out = {"gid": c.gid, "angle": getattr(c, "randRotationAngle", None),
               "draws": None if rand is None else rand.seq(), "secs": {}}
        for name, sec in c.secs.items():
            hs = sec["hObj"]
            e = {"L": hs.L, "nseg": hs.nseg, "cm": hs(0.5).cm, "mechs": {}, "pointps": {},
                 "pt3d": [[hs.x3d(i), hs.y3d(i), hs.z3d(i)] for i in range(int(hs.n3d()))],
                 "dist": [pathDistance(c.originSec()["hObj"](0.5), hs(seg.x)) for seg in hs]}
            for mech, params in mech_params.get(name, {}).items():
                if hs.has_membrane(mech):
                    e["mechs"][mech] = {p: [getattr(getattr(seg, mech), p) for seg in hs]
                                        for p in params}
            for label, pp in sec.get("pointps", {}).items():
                e["pointps"][label] = {p: getattr(pp["hObj"], p) for p in pp_params[label]}
            out["secs"][name] = e
        cells.append(out)
    trees = []
    for tree in inp["trees"]:
        secs = {n: h.Section(name="t_" + n) for n in tree["names"]}
        for n, (parent, px, cx) in tree["topol"].items():
            secs[n].connect(secs[parent], px, cx)
        for n in tree["names"]:
            secs[n].L, secs[n].nseg = tree["L"][n], tree["nseg"][n]
            if n in tree["pt3d"]:
                h.pt3dclear(sec=secs[n])
                for p in tree["pt3d"][n]:
                    h.pt3dadd(*p, sec=secs[n])
        origin = {"hObj": secs[tree["origin"]]}
        res = {}
        for n in tree["names"]:
            rows = []
            for seg in secs[n]:
                row = [pathDistance(origin["hObj"](0.5), secs[n](seg.x)), None]
                if n in tree["pt3d"] and tree["origin"] in tree["pt3d"]:
                    p0, p = posFromLoc(origin, 0.5), posFromLoc({"hObj": secs[n]}, seg.x)
                    row[1] = sum((a - b) ** 2 for a, b in zip(p, p0)) ** 0.5
                rows.append(row)
            res[n] = {"L": secs[n].L, "segs": rows}
        trees.append(res)
        del secs
    sim.net.params.cellParams = inp["diversity"]
    sim.net._setDiversityRanges()
    ranges = {k: r["conds"].get("fraction") for k, r in inp["diversity"].items()}
    sys.stdout.write(json.dumps({"cells": cells, "trees": trees, "ranges": ranges}) + "\\n")
""")


def _random_trees(count: int = 60, seed: int = 3) -> list[dict]:
    rng = np.random.default_rng(seed)
    trees = []
    for _ in range(count):
        names = ["soma"] + [f"d{i}" for i in range(1, int(rng.integers(2, 9)))]
        if rng.random() < 0.3:
            rng.shuffle(names)
        topol = {}
        for i, n in enumerate(names[1:], start=1):
            px = float(rng.choice([0.0, 1.0, 0.5, 0.3, 0.71, rng.random()]))
            topol[n] = (names[int(rng.integers(0, i))], px, float(rng.choice([0.0, 1.0])))
        pt3d = {}
        for n in names:
            if rng.random() < 0.6:
                k = int(rng.integers(2, 6))
                pts = np.cumsum(rng.normal(0, 30, (k, 3)), axis=0) + rng.normal(0, 50, 3)
                pt3d[n] = np.column_stack([pts, np.full(k, 2.0)]).tolist()
        trees.append({"names": names, "topol": topol, "pt3d": pt3d,
                      "L": {n: float(rng.uniform(5, 300)) for n in names},
                      "nseg": {n: int(rng.integers(1, 8)) for n in names}})
    return trees


def _morphology(tree: dict) -> Morphology:
    m = Morphology()
    for n in tree["names"]:
        m.add(n)
    for n, (parent, px, cx) in tree["topol"].items():
        m.connect(n, parent, px, cx)
    for n in tree["names"]:
        m.set_geom(n, "L", tree["L"][n])
        m.set_geom(n, "nseg", tree["nseg"][n])
        if n in tree["pt3d"]:
            m.set_pt3d(n, tree["pt3d"][n])
    return m


@pytest.fixture(scope="module")
def runs():
    trees = _random_trees()
    for tree in trees:
        tree["origin"] = _morphology(tree).origin()
    inp = {"netParams": NET, "simConfig": CFG, "trees": trees, "diversity": DIVERSITY}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], input=json.dumps(inp),
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    net = build(copy.deepcopy(NET), copy.deepcopy(CFG))
    return out, net, trees


def _value(net, row: int, sec: str, kind: str, *names: str, iseg: int = 0):
    """nethub's value for one cell (row) and segment: from its type, or its column."""
    ct = net.cell_types[net.cells["cell_type"].take(np.array([row])).values()[0]]
    s = ct.sections[sec]
    if kind == "geom":
        v = s.geom[names[0]]
    elif kind == "mechs":
        v = s.mechs[names[0]][names[1]]
    else:
        v = next(p for p in s.point_processes if p["label"] == names[0])[names[1]]
    if isinstance(v, str):
        col = net.cells[param_column(sec, kind, *names)]
        if isinstance(col, Ragged):
            r = col.row(row)
            return float(r[0] if len(r) == 1 else r[iseg])
        return float(np.asarray(col)[row])
    if isinstance(v, list):
        return float(v[0] if len(v) == 1 else v[iseg])
    return float(v)


def _from_points(net, row: int, text) -> bool:
    """Whether NetPyNE's value comes from float32 absolute pt3d (the PYR cells)."""
    pop = net.cells["pop"].take(np.array([row])).values()[0]
    return pop == "P" and (not isinstance(text, str) or "dist_" in text)  # None: a distance


def _check(net, row, want, got, text, what):
    if _from_points(net, row, text):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12), what
    else:
        assert got == want, what


def test_cell_types_and_gids(runs):
    out, net, _ = runs
    assert [c["gid"] for c in out["cells"]] == np.asarray(net.cells["gid"]).tolist()
    assert sorted(net.cell_types) == ["PYR", "STY", "STY+STYx"]


def test_mechanism_values_per_segment(runs):
    out, net, _ = runs
    checked = 0
    for row, cell in enumerate(out["cells"]):
        ct = net.cell_types[net.cells["cell_type"].take(np.array([row])).values()[0]]
        assert set(cell["secs"]) == set(ct.sections)
        for sec, e in cell["secs"].items():
            for mech, params in e["mechs"].items():
                for pname, values in params.items():
                    if pname not in ct.sections[sec].mechs[mech]:
                        continue  # set by another cell type's rule (NEURON's default here)
                    text = ct.sections[sec].mechs[mech][pname]
                    for iseg, want in enumerate(values):
                        got = _value(net, row, sec, "mechs", mech, pname, iseg=iseg)
                        _check(net, row, want, got, text,
                               f"gid {cell['gid']} {sec}.{mech}.{pname}[{iseg}]")
                        checked += 1
    assert checked > 300


def test_geometry_and_point_processes(runs):
    out, net, _ = runs
    for row, cell in enumerate(out["cells"]):
        ct = net.cell_types[net.cells["cell_type"].take(np.array([row])).values()[0]]
        morph = Morphology.of_cell_type(ct, net.cells, row)
        for sec, e in cell["secs"].items():
            s = ct.sections[sec]
            what = f"gid {cell['gid']} {sec}"
            assert isinstance(s.geom.get("nseg", 1), int) and e["nseg"] == s.geom.get("nseg", 1)
            if s.pt3d is None:
                assert e["L"] == _value(net, row, sec, "geom", "L"), what
            else:
                assert e["L"] == pytest.approx(morph.secs[sec].L, rel=1e-6), what
            # the final morphology (what synMechParams' post_dist_path sees)
            dist = [morph.path_distance(sec, (i + 0.5) / e["nseg"]) for i in range(e["nseg"])]
            _check(net, row, e["dist"], dist, None, f"{what} dist_path")
            if "cm" in s.geom:
                assert e["cm"] == _value(net, row, sec, "geom", "cm"), what
            for label, params in e["pointps"].items():
                for pname, want in params.items():
                    pp = next(p for p in s.point_processes if p["label"] == label)
                    got = _value(net, row, sec, "pointps", label, pname)
                    _check(net, row, want, got, pp[pname], f"{what} {label}.{pname}")


def test_random_streams_advance_as_netpynes(runs):
    out, net, _ = runs
    draws = np.asarray(net.cells[DRAWS_COLUMN]).tolist()
    assert draws == [c["draws"] for c in out["cells"]]
    assert len(set(draws)) > 1  # normal() takes a varying number of draws


def test_rotation_angles_are_netpynes(runs):
    out, net, _ = runs
    np.testing.assert_array_equal(np.asarray(net.cells[ROTATION_COLUMN]),
                                  [c["angle"] for c in out["cells"]])


def test_rotated_pt3d_netpyne_quirk(runs):
    """NetPyNE rotates the rule's pt3d in place: each cell carries the rotations of all the
    cells created before it. nethub keeps the unrotated points in the type and each cell's own
    angle; for the first cell of the rule the two agree."""
    out, net, _ = runs
    pyr = net.cell_types["PYR"]
    assert isinstance(pyr, CompartmentalCell)
    rows = np.flatnonzero(net.cells["pop"].values() == "P")
    current = {s: [tuple(p) for p in pts] for s, pts in PYR_PT3D.items()}
    for k, row in enumerate(rows):
        a = float(np.asarray(net.cells[ROTATION_COLUMN])[row])
        c, s_ = math.cos(a), math.sin(a)
        off = [float(np.asarray(net.cells[v])[row]) for v in "xyz"]
        off[1] = -off[1]  # invertedYCoord
        for sec in PYR_PT3D:
            current[sec] = [(p[0] * c - p[2] * s_, p[1], p[0] * s_ + p[2] * c, p[3])
                            for p in current[sec]]
            netpyne = np.asarray(out["cells"][row]["secs"][sec]["pt3d"])
            emulated = np.float32(np.asarray(current[sec])[:, :3] + off).astype(np.float64)
            np.testing.assert_array_equal(netpyne, emulated)
            own = pyr.sections[sec].pt3d[:, :3]
            own = np.stack([own[:, 0] * c - own[:, 2] * s_, own[:, 1],
                            own[:, 0] * s_ + own[:, 2] * c], axis=1)
            own = np.float32(own + off).astype(np.float64)
            if k == 0:
                np.testing.assert_array_equal(netpyne, own)
        if k > 0:
            assert not np.array_equal(np.asarray(out["cells"][row]["secs"]["apic"]["pt3d"]),
                                      own)


def test_morphology_distances_equal_neurons(runs):
    out, _, trees = runs
    n = 0
    for tree, res in zip(trees, out["trees"]):
        m = _morphology(tree)
        for name in tree["names"]:
            assert res[name]["L"] == m.secs[name].L
            nseg = tree["nseg"][name]
            for iseg, (path, eucl) in enumerate(res[name]["segs"]):
                x = (iseg + 0.5) / nseg
                assert m.path_distance(name, x) == path, (name, iseg)
                if eucl is not None:
                    assert m.euclidean_distance(name, x) == eucl, (name, iseg)
                n += 1
    assert n > 500


def test_diversity_ranges_are_netpynes(runs):
    out, _, _ = runs
    ours = with_diversity_ranges(DIVERSITY)
    assert {k: r["conds"].get("fraction") for k, r in ours.items()} == out["ranges"]
    assert out["ranges"]["D"] is not None and out["ranges"]["E"] is None
