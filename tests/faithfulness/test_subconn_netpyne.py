"""subConnParams against real NetPyNE: every connection's section, location, synMech and weight
must be identical (bit for bit) to NetPyNE 1.1's, connection by connection in each cell's
``conns`` order.

NetPyNE runs in one subprocess for all specs (this file is its script:
``python test_subconn_netpyne.py SPECS.json``). The specs cover every density (uniform, 1Dmap,
2Dmap, distance along the path and cartesian), cells with 3-D points (at scattered positions, so
float32 rounding differs per cell) and stylized cells under ``defineCellShapes``, trees with
interior and flipped connections, secLists, several synMechs, synsPerConn, weightNorm,
groupSynMechs, connList rules and two subConnParams rules applied in turn.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def _cell(pt3d: bool, weight_norm: bool = False) -> dict:
    """A soma with an apical tree (interior and end branches), an axon at the soma's 0 end and
    a flipped oblique at the soma's middle."""
    secs = {
        "soma": ([[0, 0, 0, 18.8], [0, 9.4, 0.1, 18.8], [0.1, 18.8, 0, 18.8]], 18.8, 1, None),
        "dend": ([[0.1, 18.8, 0, 5], [3.3, 60.2, 1.1, 4], [-2.7, 120.7, 2.3, 3],
                  [1.9, 169.1, 0.5, 2]], 150.3, 5, ("soma", 1.0, 0)),
        "d1": ([[1.9, 169.1, 0.5, 2], [30.3, 210.4, 5.5, 2], [51.1, 240.7, -3.3, 1]],
               77.7, 3, ("dend", 0.5, 0)),
        "d2": ([[1.9, 169.1, 0.5, 2], [-20.5, 190.3, 7.7, 1]], 33.1, 3, ("dend", 0.5, 0)),
        "d3": ([[1.9, 169.1, 0.5, 2], [0.3, 213.3, 0.1, 1]], 44.4, 1, ("dend", 1.0, 0)),
        "axon": ([[0, 0, 0, 1], [0.5, -25.3, 1.0, 1], [0.7, -51.9, 2.2, 1]], 51.9, 2,
                 ("soma", 0.0, 0)),
        "obl": ([[10.1, 9.4, 0.1, 1], [0.1, 9.4, 0.1, 1]], 23.3, 3, ("soma", 0.5, 1)),
        "tuft": ([[51.1, 240.7, -3.3, 1], [60.6, 250.0, -1.0, 1], [63.3, 259.9, 0.25, 0.5]],
                 13.7, 1, ("d1", 1.0, 0)),
    }
    out = {}
    for name, (pts, length, nseg, topol) in secs.items():
        geom = {"L": length, "diam": 2.0, "nseg": nseg}
        if pt3d:
            geom["pt3d"] = pts
        sec = {"geom": geom, "mechs": {"pas": {}}}
        if topol:
            sec["topol"] = dict(zip(("parentSec", "parentX", "childX"), topol))
        if weight_norm:
            sec["weightNorm"] = [1.0 + 0.25 * (i + len(name)) for i in range(nseg)]
        out[name] = sec
    return {"secs": out, "secLists": {"apical": ["dend", "d1", "d2", "d3", "tuft"],
                                      "all": list(out)}}


_GRID_Y = [-900, -650, -400, -150, 100, 350]
_VALUES_Y = [0.2, 1.5, 0.7, 1.1, 0.3, 0.9]


def _spec(density, *, pt3d=True, define=False, sub=None, conn=None, more_subs=None,
          weight_norm=False, list_mech="NMDA", list_sec="apical") -> dict:
    """Ten post cells (y up to 900 µm), 20 NetStims; a probConn and a connList rule."""
    conn_list = sorted((pre, post) for post in range(10) for pre in range(post, 20, 3))
    net = {
        "sizeX": 300.0, "sizeY": 900.0, "sizeZ": 150.0, "defineCellShapes": define,
        "cellParams": {"PYR": _cell(pt3d, weight_norm)},
        "popParams": {"E": {"cellType": "PYR", "numCells": 10},
                      "S": {"cellModel": "NetStim", "numCells": 20, "rate": 10}},
        "synMechParams": {"AMPA": {"mod": "Exp2Syn", "tau1": 0.1, "tau2": 1, "e": 0},
                          "NMDA": {"mod": "Exp2Syn", "tau1": 1, "tau2": 10, "e": 0},
                          "GABA": {"mod": "Exp2Syn", "tau1": 0.5, "tau2": 5, "e": -80}},
        "connParams": {
            "S->E": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"}, "probability": 0.4,
                     "weight": 0.01, "delay": 1, "synMech": "AMPA", "sec": "soma", **(conn or {})},
            "list": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"},
                     "connList": [list(p) for p in conn_list], "weight": 0.02, "delay": 2,
                     "synMech": list_mech, "sec": list_sec, "synsPerConn": 2},
        },
        "subConnParams": {"sub": {"preConds": {"pop": "S"}, "postConds": {"pop": "E"},
                                  "sec": "all", "density": density, **(sub or {})},
                          **(more_subs or {})},
    }
    return {"netParams": net, "simConfig": {"duration": 1}}


def _expression_L(spec: dict) -> dict:
    spec["netParams"]["cellParams"]["PYR"]["secs"]["dend"]["geom"]["L"] = "120 + 90 * ynorm"
    return spec


SPECS = {
    "uniform": _spec("uniform", conn={"synMech": ["AMPA", "NMDA"], "synsPerConn": 2},
                     weight_norm=True),
    "1Dmap": _spec({"type": "1Dmap", "gridY": _GRID_Y, "fixedSomaY": -300,
                    "gridValues": _VALUES_Y}, weight_norm=True),
    "2Dmap": _spec({"type": "2Dmap", "gridX": [-150, -20, 40, 170], "gridY": _GRID_Y,
                    "gridValues": [[(i + 1) * v % 1.7 + 0.1 for v in _VALUES_Y]
                                   for i in range(4)]}, pt3d=False, define=True),
    "distance-path": _spec({"type": "distance", "ref_sec": "soma", "ref_seg": 0.3,
                            "target_distance": 120}),
    "distance-cartesian": _spec({"type": "distance", "ref_sec": "soma",
                                 "target_distance": 150, "coord": "cartesian"},
                                pt3d=False, define=True),
    # an L expression: per-cell lengths; 'uniform' drops it from the lengths (NetPyNE's bug;
    # connList synapses on the soma: the builder's own synsPerConn spreading is not tested here)
    "expression-L": _spec("uniform", pt3d=False, list_sec="soma", more_subs={"path": {
        "preConds": {"pop": "S", "ynorm": [0.0, 0.5]}, "postConds": {"pop": "E"},
        "sec": "apical", "density": {"type": "distance", "ref_sec": "soma",
                                     "target_distance": 150}}}),
    "grouped+second-rule": _spec(
        "uniform", sub={"sec": "apical", "groupSynMechs": ["AMPA", "NMDA"]},
        conn={"synMech": ["AMPA", "NMDA"], "sec": "soma"}, list_mech="GABA",
        more_subs={"late": {"preConds": {"pop": "S", "ynorm": [0.0, 0.6]},
                            "postConds": {"pop": "E"}, "sec": "all",
                            "density": {"type": "1Dmap", "gridY": _GRID_Y,
                                        "gridValues": _VALUES_Y}}}),
}
_expression_L(SPECS["expression-L"])


def _env() -> dict[str, str]:
    """This environment without what would make the child an MPI rank."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI", "OMPI_", "HYDRA_", "MPI_"))}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def netpyne_conns(tmp_path_factory):
    """NetPyNE's connections for every spec: {name: [[gid, [[pre, sec, loc, mech, w], ...]]]}"""
    pytest.importorskip("netpyne", reason="compares against NetPyNE")
    pytest.importorskip("neuron", reason="NetPyNE needs NEURON")
    tmp = tmp_path_factory.mktemp("subconn")
    path = tmp / "specs.json"
    path.write_text(json.dumps(SPECS))
    proc = subprocess.run([sys.executable, __file__, str(path)], capture_output=True, text=True,
                          env=_env(), cwd=tmp, check=False, timeout=300)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"NetPyNE failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def _nethub_conns(spec: dict) -> dict[int, list]:
    """nethub's connections per post gid in NetPyNE's creation order (rule, pre, synMech,
    synapse: the connList is sorted by pre, so pre order is list order)."""
    from nethub.builder import build

    net_params = spec["netParams"]
    c = build(net_params, spec["simConfig"]).connections
    rules = list(net_params["connParams"])
    rule = np.array([rules.index(r) for r in c["rule"].values()])
    mech = c["syn_mech"].values()
    mech_idx = np.array([m != "AMPA" for m in mech], dtype=int)
    post, pre = np.asarray(c["post_gid"]), np.asarray(c["pre_gid"])
    order = np.lexsort((np.arange(len(c)), mech_idx, pre, rule, post))
    sec, loc, w = c["post_sec"].values(), np.asarray(c["post_loc"]), np.asarray(c["weight"])
    out: dict[int, list] = {}
    for i in order.tolist():
        out.setdefault(int(post[i]), []).append(
            [int(pre[i]), sec[i], float(loc[i]), mech[i], float(w[i])])
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_subconn_matches_netpyne(name, netpyne_conns):
    ref = {gid: conns for gid, conns in netpyne_conns[name] if conns}
    mine = _nethub_conns(SPECS[name])
    assert sorted(mine) == sorted(ref)
    moved = 0
    for gid, conns in ref.items():
        assert mine[gid] == conns, f"post gid {gid}"
        moved += sum(c[1] != "soma" for c in conns)
    assert moved > len(ref)  # the rule did move synapses


def _main(path: str) -> None:  # pragma: no cover - runs in the NetPyNE subprocess
    from netpyne import sim, specs

    out = {}
    for name, spec in json.loads(Path(path).read_text()).items():
        with contextlib.redirect_stdout(io.StringIO()):
            sim.create(netParams=specs.NetParams(spec["netParams"]),
                       simConfig=specs.SimConfig(spec["simConfig"]))
        out[name] = [[c.gid, [[cn["preGid"], cn["sec"], float(cn["loc"]), cn["synMech"],
                               float(cn["weight"])] for cn in c.conns]] for c in sim.net.cells]
        with contextlib.redirect_stdout(io.StringIO()):
            sim.clearAll()
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1])
