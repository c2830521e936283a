"""``nethub verify`` and ``nethub manifest`` on the command line: JSON report, exit codes,
manifest sign-off and check, stores written before runs recorded hashes."""

from __future__ import annotations

import json
import shutil

import h5py
import pytest

from nethub.cli import main
from nethub.manifest import make_manifest

from .tamper import column_path, flip_element_byte

pytestmark = pytest.mark.neuron


def _json(capsys, argv):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_json_report_and_exit_codes(archive, capsys):
    code, rep = _json(capsys, ["verify", str(archive), "--json", "--shared-cache"])
    assert code == 0 and rep["ok"] and rep["results_match"] and not rep["altered"]
    assert rep["results"][0] == {"name": "spikes", "status": "identical",
                                 "detail": "15 spikes, bit for bit"}
    assert rep["tolerance"] == {"atol": 1e-9, "rtol": 1e-9}
    assert len(rep["hashes"]["results_sha256"]) == 64
    with h5py.File(archive, "r") as f:
        where = column_path(f, "/network/cells", "x")
    flip_element_byte(archive, where, 2, byte=3)
    code, rep = _json(capsys, ["verify", str(archive), "--json", "--no-sim"])
    assert code == 1 and rep["altered"] and not rep["ok"]
    assert any("table 'network/cells' column 'x': row 2 (gid 2" in d["what"]
               for d in rep["integrity"])


def test_text_report_names_what_differs(archive, capsys):
    flip_element_byte(archive, "/results/run_0000/traces/data", 7, byte=6)
    assert main(["verify", str(archive), "--shared-cache"]) == 1
    text = capsys.readouterr().out
    assert "FAILED: results DIFFER, store ALTERED" in text
    assert "CHANGED run 'run_0000' traces/data: element (0, 7) changed" in text
    assert "traces                   differs" in text


def test_change_within_tolerance_is_still_an_alteration(archive, capsys):
    """The last bit of a sample: the re-run agrees within tolerance, the store was altered."""
    flip_element_byte(archive, "/results/run_0000/traces/data", 7, byte=0)
    code, rep = _json(capsys, ["verify", str(archive), "--json", "--shared-cache"])
    assert code == 1 and rep["results_match"] and rep["altered"]
    assert [c["status"] for c in rep["results"]] == ["identical", "within tolerance"]


def test_manifest_sign_off_and_check(archive, tmp_path, capsys):
    out = tmp_path / "archive.manifest.json"
    assert main(["manifest", str(archive), "-o", str(out), "--author", "A. Reviewer",
                 "--note", "doi:10.0/x"]) == 0
    doc = json.loads(out.read_text())
    assert doc["author"] == "A. Reviewer" and doc["note"] == "doi:10.0/x"
    assert [f["name"] for f in doc["files"]] == ["morphologies/cell.swc"]
    assert [m["name"] for m in doc["mod_files"]] == ["vfleak.mod"]
    assert doc["runs"][0]["results_sha256"] == doc["runs"][0]["recorded_results_sha256"]
    assert doc["tool"]["environment"]["python"]
    capsys.readouterr()
    code, rep = _json(capsys, ["verify", str(archive), "--manifest", str(out), "--no-sim",
                               "--json"])
    assert code == 0 and rep["manifest"] == []
    with h5py.File(archive, "r") as f:
        where = column_path(f, "/network/connections", "delay")
    flip_element_byte(archive, where, 0, byte=6)
    code, rep = _json(capsys, ["verify", str(archive), "--manifest", str(out), "--no-sim",
                               "--json"])
    assert code == 1
    assert any("column 'delay': row 0" in d["what"] for d in rep["manifest"])


def test_manifest_sees_added_runs(archive, tmp_path):
    doc = make_manifest(archive)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(doc))
    other = tmp_path / "other.h5"
    shutil.copyfile(archive, other)
    with h5py.File(other, "r+") as f:  # a second run, as if appended after the sign-off
        f.copy(f["results/run_0000"], "results/later")
        f["results/later"].attrs["order"] = 1
    from nethub.manifest import check_manifest

    assert [d["what"] for d in check_manifest(path, other)] == [
        "run 'later' was added after the manifest"]


def test_store_without_recorded_hashes(archive, capsys):
    """A run written before nethub recorded hashes: verify says what it cannot check."""
    with h5py.File(archive, "r+") as f:
        del f["results/run_0000/integrity"]
    code, rep = _json(capsys, ["verify", str(archive), "--json", "--no-sim"])
    assert code == 0 and rep["integrity_recorded"] is False
    assert any("cannot be checked byte for byte" in n for n in rep["notes"])
