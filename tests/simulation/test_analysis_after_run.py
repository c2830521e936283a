"""``nethub run`` honours NetPyNE's simConfig.analysis: figures written, refusals said."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import serial_env

pytestmark = pytest.mark.neuron


def test_run_draws_cfg_analysis(example_store, tmp_path):
    store = tmp_path / "s.h5"
    shutil.copy(example_store, store)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"duration": 200, "analysis": {
        "plotRaster": {"saveFig": str(tmp_path / "raster.png")},
        "plotRates": True, "plotEEG": True}}))
    p = subprocess.run([sys.executable, "-m", "nethub", "run", str(store), "--cfg", str(cfg)],
                       capture_output=True, text=True, env=serial_env(), check=False)
    assert p.returncode == 0, p.stderr
    assert f"analysis: wrote {tmp_path / 'raster.png'}" in p.stdout
    assert (tmp_path / "raster.png").read_bytes()[:4] == b"\x89PNG"
    # other figures: <simConfig filename>_<plot>.png beside the store, as NetPyNE names them
    rates = [line.split("wrote ", 1)[1] for line in p.stdout.splitlines()
             if line.startswith("analysis: wrote ") and line.endswith("_rates.png")]
    assert len(rates) == 1 and Path(rates[0]).parent == tmp_path and Path(rates[0]).is_file()
    assert "analysis: plotEEG refused: EEG" in p.stdout
