"""Run a NetPyNE model script the way its users run it (``python src/init.py`` in the model
folder) with real NetPyNE, and save its spikes.

Run as a subprocess by ``test_netpyne_models.py``::

    python netpyne_run_script.py SCRIPT OUT.npz DURATION [MOD_DIR]

The working directory is the model folder. ``MOD_DIR`` holds mechanisms compiled by
``nrnivmodl``, loaded first. The script's ``sim.createSimulateAnalyze`` / ``createSimulate``
run ``sim.createSimulate`` with ``duration`` capped at ``DURATION`` ms and without saving or
plotting (nethub neither plots nor writes NetPyNE's files). ``OUT.npz`` holds ``spkt`` and
``spkid`` as NetPyNE gathers them.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys

import numpy as np

_SAVES = ("saveJson", "savePickle", "saveMat", "saveTxt", "saveDpk", "saveHDF5", "saveCSV",
          "saveDat")


def main(argv: list[str]) -> None:
    script, out, duration = os.path.abspath(argv[1]), os.path.abspath(argv[2]), float(argv[3])
    mod_dir = argv[4] if len(argv) > 4 else None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if mod_dir:
            import neuron

            neuron.load_mechanisms(os.path.abspath(mod_dir))
        from netpyne import sim

        real = sim.createSimulate

        def run(netParams=None, simConfig=None, output=False, **_):  # noqa: N803
            simConfig.duration = min(float(simConfig.duration), duration)
            for key in _SAVES:
                setattr(simConfig, key, False)
            simConfig.analysis = {}
            return real(netParams=netParams, simConfig=simConfig)

        sim.createSimulateAnalyze = sim.createSimulate = run
        sys.argv = [script]
        runpy.run_path(script, run_name="__main__")
    np.savez(out, spkt=np.asarray(sim.allSimData["spkt"], dtype=float),
             spkid=np.asarray(sim.allSimData["spkid"], dtype=float))


if __name__ == "__main__":
    main(sys.argv)
