"""The CSV container (a folder or a .zip of tidy CSV tables) passes the conformance kit: lossless,
also for random networks with awkward strings."""

from __future__ import annotations

from hypothesis import strategies as st

from nethub.testing import RoundTripTests
from nethub.testing.strategies import awkward_network, networks

SETTINGS = {"max_examples": 6, "deadline": None, "derandomize": True}


class TestCsvFolder(RoundTripTests):
    format_name = "csv"
    suffix = ".csv"


class TestCsvZip(RoundTripTests):
    format_name = "csv"
    suffix = ".csv.zip"


class TestCsvRandom(RoundTripTests):
    format_name = "csv"
    suffix = ".csv.zip"
    hypothesis_settings = SETTINGS

    def networks(self):
        return st.one_of(networks(), awkward_network())
