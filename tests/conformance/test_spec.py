"""The NetPyNE spec formats (JSON and Python) pass the conformance kit: a network built from a
spec is written as that spec and built back identically; runs are reported lost."""

from __future__ import annotations

from nethub.formats.base import Document
from nethub.testing import RoundTripTests

from .nets import tutorial


class SpecCase(RoundTripTests):
    def networks(self):
        return [tutorial("doc_code/tut2.py"), tutorial("doc_code/tut6.py")]

    def losses(self, network, runs):
        return [f"{len(runs)} simulation run(s): format '{self.format_name}' holds no results"
                ] if runs else []

    def unwritable(self):
        return Document(network=None)  # a spec describes a network: none, nothing to write


class TestSpecJson(SpecCase):
    format_name = "spec-json"
    suffix = ".spec.json"


class TestSpecPy(SpecCase):
    format_name = "spec-py"
    suffix = ".py"
