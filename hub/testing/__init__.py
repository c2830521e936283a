"""A conformance kit for format plugins and the tests of anything that makes networks.

- :func:`assert_network_equal`, :func:`assert_results_equal` (and :func:`diff_networks`,
  :func:`diff_results`): comparisons that fail with a short, readable list of differences;
- :class:`RoundTripTests`: a base class whose ``test_*`` methods check that a format plugin
  writes and reads back networks (and results) as it declares, reports its losses exactly,
  writes atomically, names the file in its errors and recognises its own output;
- :mod:`nethub.testing.strategies`: hypothesis strategies for random networks and results
  (needs the ``dev`` extra; this package imports without it).

See docs/testing.md.
"""

from __future__ import annotations

from .compare import assert_network_equal, assert_results_equal, diff_networks, diff_results
from .examples import example_network, example_results, with_v2_features
from .roundtrip import RoundTripTests, Unwritable, losses_match

__all__ = [
    "assert_network_equal",
    "assert_results_equal",
    "diff_networks",
    "diff_results",
    "RoundTripTests",
    "Unwritable",
    "example_network",
    "example_results",
    "losses_match",
    "with_v2_features",
]
