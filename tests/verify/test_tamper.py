"""One changed byte -- a weight, a .mod source, a spike time, a morphology -- is caught by
``nethub validate`` and ``nethub verify`` and named (table, column, row; file and line)."""

from __future__ import annotations

import h5py
import pytest

from nethub.api import validate
from nethub.verifyrun import verify

from .tamper import column_path, flip_element_byte, flip_text_byte, mod_dataset

pytestmark = pytest.mark.neuron


def _flip_weight(path):
    with h5py.File(path, "r") as f:
        where = column_path(f, "/network/connections", "weight")
    flip_element_byte(path, where, 1, byte=5)
    return ["table 'network/connections' column 'weight'", "row 1 (post gid"]


def _flip_mod(path):
    with h5py.File(path, "r") as f:
        where = mod_dataset(f, "vfleak.mod")
        text = f[where][()].decode()
    flip_text_byte(path, where, text.index("e = -70") + 5)  # -70 -> -60: 7 ^ 1 = 6
    return ["mod file 'vfleak.mod'", "line 3", "e = -60"]


def _flip_spike(path):
    flip_element_byte(path, "/results/run_0000/spikes/time", 3, byte=0)
    return ["run 'run_0000' spikes/time: spike 3 (gid"]


def _flip_morphology(path):
    flip_element_byte(path, "/model/files/f0", 60)
    return ["embedded file 'morphologies/cell.swc' (morphology): byte 60 (line 2)"]


FLIPS = {"weight": _flip_weight, "mod": _flip_mod, "spike": _flip_spike,
         "morphology": _flip_morphology}


@pytest.mark.parametrize("what", FLIPS)
def test_flip_named_by_validate_and_verify(archive, what):
    names = FLIPS[what](archive)
    errors = [f for f in validate(archive) if f.level == "error"]
    assert errors, f"validate missed the changed {what}"
    text = " | ".join(f.message for f in errors)
    for name in names:
        assert name in text
    report = verify(archive, simulate=False)
    assert not report.ok and report.altered
    found = " | ".join(d["what"] for d in report.integrity)
    for name in names:
        assert name in found


def test_changed_spike_fails_the_rerun_comparison(archive):
    _flip_spike(archive)
    report = verify(archive, shared_cache=True)
    spikes = report.results[0]
    assert spikes.name == "spikes" and spikes.status == "differs"
    assert "first difference at spike 3" in spikes.detail
    assert report.results_match is False and not report.ok


def test_changed_weight_also_changes_the_content_hash(archive):
    _flip_weight(archive)
    report = verify(archive, simulate=False)
    assert any("content hash" in d["what"] for d in report.integrity)


def test_changed_morphology_stops_the_rerun_with_the_file_named(archive):
    _flip_morphology(archive)
    report = verify(archive, shared_cache=True)
    assert report.rerun_error is not None and "morphologies/cell.swc" in report.rerun_error
    assert not report.ok
