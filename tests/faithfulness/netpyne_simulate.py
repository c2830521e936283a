"""Simulate a NetPyNE model with real NetPyNE (``sim.createSimulate``) and save its spikes and
recorded traces.

Run as a subprocess by ``test_tutorial_spikes.py`` (NetPyNE prints, keeps global state and
changes the working directory, so it never runs inside the test process)::

    python netpyne_simulate.py MODEL OUT.npz DURATION [MOD_DIR]

``MODEL`` is read as ``netpyne_dump.py`` reads it (a model file run with ``netpyne.sim``
replaced by a recorder, or an index file / folder). ``DURATION`` (ms) replaces
``simConfig.duration`` when it is shorter. ``MOD_DIR`` is a folder with compiled mechanisms
(``nrnivmodl`` output) to load first.

``OUT.npz`` holds ``spkt`` and ``spkid`` (``sim.allSimData``, as NetPyNE gathers them), ``t``
(the recorded time, when traces are recorded) and one array per recorded trace named
``trace:<label>:<gid>``.
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


def main(argv: list[str]) -> None:
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
    np.savez(out, **data)


if __name__ == "__main__":
    main(sys.argv)
