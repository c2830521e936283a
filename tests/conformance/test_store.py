"""The canonical store passes the conformance kit, with random networks (lossless)."""

from __future__ import annotations

from nethub.testing import RoundTripTests
from nethub.testing.strategies import networks


class TestStoreExamples(RoundTripTests):
    format_name = "store"
    suffix = ".h5"


class TestStoreRandom(RoundTripTests):
    format_name = "store"
    suffix = ".h5"
    write_options = {"compression": "gzip"}
    hypothesis_settings = {"max_examples": 8, "deadline": None, "derandomize": True}

    def networks(self):
        return networks()
