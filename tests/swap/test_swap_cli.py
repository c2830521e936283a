"""``nethub swap`` on the command line: selections by conditions, a synapse map from a JSON file,
a spec source with its mod folder, ``--undo``, and errors as one line with exit code 1."""

from __future__ import annotations

import json

import nethub
from nethub.cli import main as cli

from .test_swap_hybrid import HYBRID
from .test_swap_point import CFG, _spec


def _store(tmp_path):
    path = tmp_path / "net.h5"
    nethub.save(nethub.build(_spec({"cellType": "PYR", "numCells": 20}), CFG), path)
    return path


def test_select_syn_map_file_and_undo(tmp_path, capsys):
    path = _store(tmp_path)
    smap = tmp_path / "map.json"
    smap.write_text(json.dumps({"sec": {"*": "soma"}, "synMech": {"exc": "exc"}, "loc": 0.25}))
    out = tmp_path / "izhi.h5"
    assert cli(["swap", str(path), "--select", '{"pop": "E", "gid": [0, 1, 2, 3]}',
                "--cell-type", "PYR_Izhi", "--from", str(HYBRID), "--syn-map", str(smap),
                "--name", "Izhi", "-o", str(out)]) == 0
    assert "4 cells -> Izhi" in capsys.readouterr().out
    net = nethub.load(out)
    assert net.cell_types["Izhi"].sections["soma"].point_processes[0]["mod"] == "Izhi2007b"
    assert list(net.mod_files) == ["izhi2007b.mod"]  # from the spec's mod/ folder
    ct = net.cells["cell_type"].values()
    assert ct[:4].tolist() == ["Izhi"] * 4 and set(ct[4:20].tolist()) == {"PYR"}
    assert net.populations["E"].cell_type is None
    assert net.provenance["swaps"][-1]["syn_map"]["loc"] == 0.25
    back = tmp_path / "back.h5"
    assert cli(["swap", str(out), "--undo", "-o", str(back)]) == 0
    assert "the latest swap undone" in capsys.readouterr().out
    assert nethub.load(back).content_hash() == nethub.load(path).content_hash()


def test_errors_are_one_line(tmp_path, capsys):
    path = _store(tmp_path)
    out = str(tmp_path / "x.h5")
    assert cli(["swap", str(path), "--pop", "E", "--cell-type", "Nope", "-o", out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nethub: error: swap: unknown cell type 'Nope'") and \
        err.count("\n") == 1
    assert cli(["swap", str(path), "--pop", "E", "--cell-type", "HH", "--syn-map", "{bad",
                "-o", out]) == 1
    assert "--syn-map: not valid JSON" in capsys.readouterr().err
    assert cli(["swap", str(path), "--undo", "-o", out]) == 1
    assert "no swap to undo" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
