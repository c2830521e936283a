"""The kit fails a plugin that breaks the contract: one that silently drops a column and runs,
writes in place, lets bare tracebacks out, and does not recognise its own output."""

from __future__ import annotations

import pickle

import pytest

from nethub.formats import register, unregister
from nethub.formats.base import Document, Format
from nethub.testing import RoundTripTests, losses_match


class LeakyFormat(Format):
    name = "test-leaky"
    suffixes = (".leaky",)
    can_read = can_write = True

    def read(self, path, results=True):
        with open(path, "rb") as fh:
            return Document(network=pickle.load(fh))  # bare errors on bad input

    def write(self, doc, path):
        net = doc.network
        cells = {k: v for k, v in net.cells.columns.items() if k != "x"}
        with open(path, "wb") as fh:  # not atomic: a failing dumps leaves an empty file
            fh.write(pickle.dumps(net.replace(cells=cells)))
        return []  # nothing reported


class KitOnLeaky(RoundTripTests):
    format_name = "test-leaky"
    suffix = ".leaky"


@pytest.fixture(autouse=True)
def leaky():
    register(LeakyFormat)
    yield
    unregister("test-leaky")


@pytest.mark.parametrize("test, message", [
    ("test_round_trip", "cells.x"),
    ("test_failed_write_leaves_nothing", "a failed write left"),
    ("test_truncated_file_error", "not a NethubError naming the file"),
    ("test_foreign_file_error", "not a NethubError naming the file"),
    ("test_sniff_own_output", "does not sniff its output"),
    ("test_results_round_trip", "unexpected loss reported: \"1 simulation run"),
])
def test_kit_catches(test, message):
    with pytest.raises(AssertionError, match=message):
        getattr(KitOnLeaky(), test)()


def test_kit_catches_drop_with_runs():
    """With the runs' loss declared, the network written beside them is still compared."""
    case = KitOnLeaky()
    case.losses = lambda network, runs: [
        "1 simulation run(s): format 'test-leaky' holds no results"] if runs else []
    with pytest.raises(AssertionError, match="network read back with runs differs"):
        case.test_results_round_trip()


def test_losses_match():
    import re

    assert losses_match(["a", "b (3)"], ["a", re.compile(r"b \(\d+\)")]) == []
    assert losses_match(["a", "c"], ["a", "b"]) == ["expected loss not reported: 'b'",
                                                    "unexpected loss reported: 'c'"]
    assert losses_match(["a", "a"], ["a"]) == ["unexpected loss reported: 'a'"]


def test_kit_imports_without_dev_extras():
    """nethub.testing needs neither hypothesis nor pytest; nethub does not import the kit."""
    import subprocess
    import sys

    code = ("import sys, nethub; assert 'nethub.testing' not in sys.modules; "
            "import nethub.testing; "
            "bad = {'hypothesis', 'pytest', 'neuron', 'mpi4py', 'matplotlib'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
