"""``nethub info`` and ``nethub validate`` show each cell type's run mode and say, as a note
(not an error), that a store with template-mode cell types needs ``--trust`` to run."""

from __future__ import annotations

import pytest

import nethub
from nethub.cli import main
from nethub.runmodes import store_run_modes, trust_note

from . import cells

pytestmark = pytest.mark.neuron


def test_info_and_validate_of_a_template_mode_store(tmp_path, capsys):
    hoc = cells.write(tmp_path, "playful.hoc", cells.NEEDS_TEMPLATE)
    store = tmp_path / "playful.h5"
    assert main(["convert", str(hoc), str(store), "--template", "Playful", "--args", "7",
                 "--trust"]) == 0
    name = next(iter(nethub.load(store).cell_types))
    assert store_run_modes(store) == {name: "template"}
    capsys.readouterr()
    assert main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    assert "run mode" in text
    assert any(line.split() == [name, "compartmental", "template"] for line in text.splitlines())
    assert f"note: {trust_note({name: 'template'})}" in text and "--trust" in text
    assert main(["validate", str(store)]) == 0  # a note, not an error
    text = capsys.readouterr().out
    assert f"run modes: {name} template" in text and "needs --trust" in text
    assert "valid" in text.splitlines()[-1]


def test_snapshot_store_has_no_trust_note(tmp_path, capsys):
    spec = {"cellParams": {"B": {"secs": {"soma": {"geom": {"L": 10, "diam": 10}}}}},
            "popParams": {"P": {"cellType": "B", "numCells": 2}}}
    store = tmp_path / "b.h5"
    nethub.save(nethub.build(spec, {"duration": 1}), store)
    assert store_run_modes(store) == {"B": "snapshot"} and trust_note({"B": "snapshot"}) is None
    assert main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    assert any(line.split() == ["B", "compartmental", "snapshot"] for line in text.splitlines())
    assert "--trust" not in text
    assert main(["validate", str(store)]) == 0
    text = capsys.readouterr().out
    assert "run modes" not in text and "needs --trust" not in text  # nothing imported
    assert store_run_modes(store, imported_only=True) == {}
    assert store_run_modes(tmp_path / "missing.h5") is None
