"""NeuroML file layer helpers: quantities, XML safety, atomic writes, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nethub.errors import FormatError
from nethub.formats.neuroml import NeuroMLError
from nethub.formats.neuroml._common import atomic_write, check_no_dtd, quantity, to_ms


def test_time_quantities_in_ms():
    assert to_ms("300ms", "x") == 300.0
    assert to_ms("0.5 s", "x") == 500.0
    assert to_ms("20us", "x") == pytest.approx(0.02)
    assert to_ms("1e-2ms", "x") == 0.01
    assert quantity("6.3 degC", "x") == (6.3, "degC")
    with pytest.raises(NeuroMLError, match="sim@step: unit 'mV' of '1mV' is not a time unit"):
        to_ms("1mV", "sim@step")
    with pytest.raises(NeuroMLError, match="is not a number"):
        to_ms("fast", "x")
    assert issubclass(NeuroMLError, FormatError)


def test_dtd_and_entities_refused_with_line():
    check_no_dtd(b"<neuroml/>", "ok.nml")
    with pytest.raises(NeuroMLError, match=r"f\.nml: line 2: <!ENTITY"):
        check_no_dtd(b"<x>\n<!ENTITY a 'b'>", "f.nml")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.nml"
    target.write_text("old")

    def fail(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    atomic_write(target, lambda tmp: open(tmp, "w").write("new"))
    assert target.read_text() == "new" and sorted(tmp_path.iterdir()) == [target]


def test_package_import_loads_no_neuroml_java_or_neuron():
    code = ("import sys, nethub.formats.neuroml, nethub.formats.neuroml.mechanisms, "
            "nethub.formats.neuroml.write; print(sorted(m for m in ('neuroml', 'pyneuroml', "
            "'neuron', 'lems', 'tables') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
