"""Where a template's mechanisms are found (as NetPyNE users keep them), and the clear errors
of the import paths (no NEURON run needed)."""

from __future__ import annotations

import pytest

from nethub.converters.hoc import read_cell_template
from nethub.converters.hoc_convert import parse_args
from nethub.converters.hoc_mods import template_mechanisms
from nethub.converters.hoc_spec import import_request
from nethub.errors import ConversionError, SpecError

from . import cells


def test_mod_folder_beside_the_template(tmp_path):
    path = cells.modeldb(tmp_path)
    found = template_mechanisms(path, cwd=tmp_path / "elsewhere")
    assert sorted(found) == ["kleak.mod"] and "SUFFIX kleak" in found["kleak.mod"]


def test_mod_files_in_the_template_folder_and_given_folders(tmp_path):
    cells.write(tmp_path, "model/kleak.mod", cells.KLEAK)
    path = cells.write(tmp_path, "model/pyr.hoc", cells.MODELDB)
    assert sorted(template_mechanisms(path, cwd=tmp_path)) == ["kleak.mod"]  # ModelDB layout
    cells.write(tmp_path, "other/leak2.mod", cells.KLEAK.replace("kleak", "kleak2"))
    assert sorted(template_mechanisms(path, [tmp_path / "other"], cwd=tmp_path)) == \
        ["leak2.mod"]  # named folders win
    bare = cells.write(tmp_path, "bare/cell.hoc", "begintemplate A\nendtemplate A\n")
    assert template_mechanisms(bare, cwd=tmp_path / "bare") == {}


def test_bad_mode_and_missing_file(tmp_path):
    with pytest.raises(ConversionError, match="run mode 'fast'"):
        read_cell_template(tmp_path / "x.hoc", "X", trusted=True, mode="fast")
    with pytest.raises(ConversionError, match=r"x\.hoc: cannot read"):
        read_cell_template(tmp_path / "x.hoc", "X", trusted=True)


def test_spec_requests_that_cannot_be_imported(tmp_path):
    base = {"function": "importCellParams", "cellName": "C", "baseDir": str(tmp_path)}
    with pytest.raises(SpecError, match=r"no such file .*cell\.swc"):  # SWC is read now
        import_request({**base, "fileName": "cell.swc"}, {})
    with pytest.raises(SpecError, match=r"must be \.hoc"):
        import_request({**base, "fileName": "cell.txt"}, {})
    with pytest.raises(SpecError, match=r"no such file"):
        import_request({**base, "fileName": "cell.hoc"}, {})
    with pytest.raises(SpecError, match=r"HOC network is not supported"):
        import_request({**base, "function": "importCellParamsFromNet",
                        "fileName": "net.hoc"}, {})


def test_cli_argument_parsing():
    assert parse_args(["18", "cell.swc", "[1, 2]", "gid=3", "name=soma"]) == \
        ([18, "cell.swc", [1, 2]], {"gid": 3, "name": "soma"})
