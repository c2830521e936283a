"""``--trust`` on ``nethub convert`` / ``nethub run`` of a simulation config lets ``hoc:``
templates of biophysical nodes run (as ``circuit.trusted = True`` does in Python)."""

from __future__ import annotations

import json
import shutil

import pandas as pd

import nethub
from nethub import cli
from nethub.celltypes import CompartmentalCell, PointCell
from nethub.store import read_network, read_results

from .conftest import FIXTURES
from .test_bio_bmtk import BALL

BALL_TYPE = "bio.cell_a.cell_params.hoc-Ball"


def _hoc_circuit(tmp_path):
    """The bio fixture with its biophysical nodes as ``hoc:Ball`` (no bio -> bio edges: Ball
    has two sections)."""
    root = tmp_path / "bio"
    shutil.copytree(FIXTURES / "bio", root, ignore=shutil.ignore_patterns("output"))
    (root / "components" / "templates").mkdir()
    (root / "components" / "templates" / "ball.hoc").write_text(BALL)
    cfg = json.loads((root / "simulation_config.json").read_text())
    cfg["components"]["templates_dir"] = "$COMPONENTS_DIR/templates"
    cfg["networks"]["edges"] = cfg["networks"]["edges"][1:]
    (root / "simulation_config.json").write_text(json.dumps(cfg))
    types = root / "network" / "bio_node_types.csv"
    tab = pd.read_csv(types, sep=" ")
    tab["model_template"], tab["model_processing"] = "hoc:Ball", None
    tab.to_csv(types, sep=" ", index=False, na_rep="NULL")
    return root / "simulation_config.json"


def test_trust_flag_imports_hoc_templates(tmp_path, caplog):
    cfg = _hoc_circuit(tmp_path)
    assert cli.main(["convert", str(cfg), str(tmp_path / "plain.h5")]) == 0
    assert "hoc: template needs trust" in caplog.text
    assert isinstance(read_network(tmp_path / "plain.h5").cell_types[BALL_TYPE], PointCell)
    assert cli.main(["convert", str(cfg), str(tmp_path / "t.h5"), "--trust"]) == 0
    ball = read_network(tmp_path / "t.h5").cell_types[BALL_TYPE]
    assert list(ball.sections) == ["soma[0]", "dend[0]"]
    assert isinstance(nethub.load(cfg, trusted=True).cell_types[BALL_TYPE],  # read option
                      CompartmentalCell)


def test_trust_flag_runs_hoc_templates(tmp_path):
    cfg = _hoc_circuit(tmp_path)
    out = tmp_path / "run.h5"
    assert cli.main(["run", str(cfg), "-o", str(out), "--trust", "--duration", "20"]) == 0
    assert isinstance(read_network(out).cell_types[BALL_TYPE], CompartmentalCell)
    assert read_results(out).duration == 20.0
