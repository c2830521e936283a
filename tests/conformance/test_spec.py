"""The NetPyNE spec formats (JSON and Python) pass the conformance kit: a network built from a
spec is written as that spec and built back identically; runs are reported lost."""

from __future__ import annotations

import dataclasses

from nethub.formats.base import Document
from nethub.testing import RoundTripTests, with_v2_features

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


# --------------------------------------------------------------------- store schema v2 content
#: What writing ``with_v2_features(tut2)`` (40 cells, 240 connections) as its spec reports:
#: every v2 addition, with its count (the spec itself is still written: mode 'spec').
V2_LOSSES = (
    "embedded file 'morphologies/pyr.swc' (morphology): not carried by a NetPyNE spec",
    "embedded file 'params/ampa.json' (params): not carried by a NetPyNE spec",
    "synaptic mechanism 'exc': tags and provenance not carried by a NetPyNE spec",
    "stimulation source 'bkg': tags and provenance not carried by a NetPyNE spec",
    "cells column 'rot_x': not carried by a NetPyNE spec; dropped (14 cells)",
    "cells column 'rot_y': not carried by a NetPyNE spec; dropped (20 cells)",
    "cells column 'rot_z': not carried by a NetPyNE spec; dropped (10 cells)",
    "cells column 'sonata.node_type_id': not carried by a NetPyNE spec; dropped (40 cells)",
    "connections column 'param.tau2': not carried by a NetPyNE spec; dropped (120 connections)",
    "connections column 'nml.segment_id': not carried by a NetPyNE spec; dropped "
    "(240 connections)",
)
V2_CELLS = ("rot_x", "rot_y", "rot_z", "sonata.node_type_id")
V2_CONNS = ("param.tau2", "nml.segment_id")


def without_v2(net):
    """``net`` without what V2_LOSSES names."""
    def bare(docs):
        return {k: dataclasses.replace(v, tags={}, provenance={}) for k, v in docs.items()}

    return net.replace(
        files={}, syn_mechs=bare(net.syn_mechs), stim_sources=bare(net.stim_sources),
        cells={k: v for k, v in net.cells.columns.items() if k not in V2_CELLS},
        connections={k: v for k, v in net.connections.columns.items() if k not in V2_CONNS})


class SpecV2Case(SpecCase):
    def networks(self):
        return [with_v2_features(tutorial("doc_code/tut2.py"))]

    def losses(self, network, runs):
        return [*V2_LOSSES, *super().losses(network, runs)]

    def expected_network(self, network):
        return without_v2(network)


class TestSpecJsonV2(SpecV2Case):
    format_name = "spec-json"
    suffix = ".spec.json"


class TestSpecPyV2(SpecV2Case):
    format_name = "spec-py"
    suffix = ".py"


def test_v2_features_keep_the_spec_mode():
    """A spec-built network with v2 additions is still written as its own spec."""
    from nethub.converters.spec import from_network

    net = with_v2_features(tutorial("doc_code/tut2.py"))
    out = from_network(net)
    assert out.mode == "spec" and out.lost == list(V2_LOSSES)
    assert out.net_params == net.spec["netParams"]


def test_v2_features_in_rules_mode_are_counted():
    """Without a spec (explicit rules), what rules cannot hold of the v2 additions is named
    with its count; cell tags (rot_x, rot_z, per-format columns) travel in cellsList."""
    from nethub.converters.spec import from_network
    from nethub.testing import example_network

    out = from_network(example_network())
    assert out.mode == "rules"
    assert out.lost[:7] == [
        "embedded file 'morphologies/pyr.swc' (morphology): not carried by a NetPyNE spec",
        "embedded file 'params/ampa.json' (params): not carried by a NetPyNE spec",
        "synaptic mechanism 'AMPA': tags and provenance not carried by a NetPyNE spec",
        "stimulation source 'bg': tags and provenance not carried by a NetPyNE spec",
        "cells column 'rot_y': not carried by a NetPyNE spec; dropped (3 cells)",
        "connections column 'param.tau2': not carried by a NetPyNE spec; dropped "
        "(2 connections)",
        "connections column 'nml.segment_id': not carried by a NetPyNE spec; dropped "
        "(6 connections)"]
    # the rebuilt network's differences are reported too, with counts
    assert "cells: column 'sonata.node_type_id' has dtype float64, expected int64" in out.lost
    assert "connections: column 'syn_mech' differs in 1 of 6 rows" in out.lost
    assert not any("rot_x" in m or "rot_z" in m for m in out.lost)
