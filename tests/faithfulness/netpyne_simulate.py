"""Simulate a NetPyNE model with real NetPyNE (``sim.createSimulate``) and save its spikes and
recorded traces.

Run as a subprocess by ``test_tutorial_spikes.py`` (NetPyNE prints, keeps global state and
changes the working directory, so it never runs inside the test process)::

    python netpyne_simulate.py MODEL OUT.npz DURATION [MOD_DIR] [--network]

``MODEL`` is read as ``netpyne_dump.py`` reads it (a model file run with ``netpyne.sim``
replaced by a recorder, or an index file / folder). ``DURATION`` (ms) replaces
``simConfig.duration`` when it is shorter. ``MOD_DIR`` is a folder with compiled mechanisms
(``nrnivmodl`` output) to load first.

``OUT.npz`` holds ``spkt`` and ``spkid`` (``sim.allSimData``, as NetPyNE gathers them), ``t``
(the recorded time, when traces are recorded) and one array per recorded trace named
``trace:<label>:<gid>``. With ``--network`` it also holds the built network: ``cell_gid``,
``cell_x``, ``cell_y``, ``cell_z`` (one per cell, in gid order), ``conn_post``, ``conn_pre``,
``conn_sec``, ``conn_loc``, ``conn_weight`` (one per connection, each cell's ``conns`` in order)
and ``pt3d:<gid>:<sec>`` (the section's NEURON 3-D points, x y z diam, for sections with points).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netpyne_dump import _load  # noqa: E402


def _traces(sim, labels) -> dict[str, np.ndarray]:
    out = {}
    for label in labels:
        for key, vec in (sim.allSimData.get(label) or {}).items():
            if key.startswith("cell_") and not isinstance(vec, dict):
                out[f"trace:{label}:{int(key[len('cell_'):])}"] = np.asarray(vec, dtype=float)
    return out


def _network(sim) -> dict[str, np.ndarray]:
    cells = sorted(sim.net.cells, key=lambda c: c.gid)
    out = {"cell_gid": np.array([c.gid for c in cells], dtype=np.int64)}
    for k in "xyz":
        out[f"cell_{k}"] = np.array([float(c.tags[k]) for c in cells])
    conns = [(c.gid, x) for c in cells for x in c.conns]
    out["conn_post"] = np.array([g for g, _ in conns], dtype=np.int64)
    out["conn_pre"] = np.array([x["preGid"] for _, x in conns], dtype=object).astype(str)
    out["conn_sec"] = np.array([str(x.get("sec")) for _, x in conns], dtype=str)
    out["conn_loc"] = np.array([float(x.get("loc", np.nan)) for _, x in conns])
    out["conn_weight"] = np.array([float(x.get("weight", np.nan)) for _, x in conns])
    for c in cells:
        for name, sec in getattr(c, "secs", {}).items():
            hs = sec.get("hObj") if hasattr(sec, "get") else None
            if hs is not None and hs.n3d() > 0:
                out[f"pt3d:{c.gid}:{name}"] = np.array(
                    [[hs.x3d(i), hs.y3d(i), hs.z3d(i), hs.diam3d(i)] for i in range(hs.n3d())])
    return out


def main(argv: list[str]) -> None:
    network = "--network" in argv
    argv = [a for a in argv if a != "--network"]
    model, out, duration = os.path.abspath(argv[1]), os.path.abspath(argv[2]), float(argv[3])
    mod_dir = argv[4] if len(argv) > 4 else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if mod_dir:
            import neuron

            neuron.load_mechanisms(os.path.abspath(mod_dir))
        from netpyne import sim

        net_params, cfg = _load(model)
        cfg.duration = min(float(cfg.duration), duration)
        for key in ("saveJson", "savePickle", "saveMat", "saveTxt", "saveDpk", "saveHDF5",
                    "saveCSV", "saveDat"):
            setattr(cfg, key, False)
        sim.createSimulate(netParams=net_params, simConfig=cfg)
    data = {"spkt": np.asarray(sim.allSimData["spkt"], dtype=float),
            "spkid": np.asarray(sim.allSimData["spkid"], dtype=float)}
    if "t" in sim.allSimData:
        data["t"] = np.asarray(sim.allSimData["t"], dtype=float)
    data.update(_traces(sim, list(cfg.recordTraces or {})))
    if network:
        data.update(_network(sim))
    np.savez(out, **data)


if __name__ == "__main__":
    main(sys.argv)
