"""Synapse and input placement on detailed cells survives NeuroML -> store -> NeuroML -> store
(issue 13): the export writes ``postSegmentId`` / ``postFractionAlong`` and the inputs'
``segmentId`` / ``fractionAlong`` from the stored (section, x) through the inverse of
jNeuroML's mapping (:mod:`nethub.converters.nml_locate`); a point with no exact segment point
is moved to the nearest one and reported."""

from __future__ import annotations

import numpy as np
import pytest

from nethub.converters.neuroml_export import export_plan
from nethub.converters.nml_locate import post_points, x_from_tag
from nethub.formats.base import Document
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.table import Categorical

from .conftest import FIXTURES
from .test_export_native import _validate

MULTISEG = FIXTURES / "cells" / "LEMS_MultiSeg.xml"


def _rows(table, cols):
    return sorted(zip(*[list(table[c].values()) if hasattr(table[c], "values")
                        else np.asarray(table[c]).tolist() for c in cols]))


def _trip(src, tmp_path, n=2):
    fmt, nets = NeuroMLFormat(), []
    for k in range(n):
        net = fmt.read_run(src)[0]
        nets.append(net)
        folder = tmp_path / f"p{k}"
        folder.mkdir()
        assert fmt.write(Document(network=net), folder / "net.nml",
                         lems=str(folder / "LEMS_net.xml")) == []
        src = folder / "LEMS_net.xml"
    return nets


@pytest.fixture(scope="module")
def multiseg_trip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("place")
    return tmp, _trip(MULTISEG, tmp)


def test_multiseg_placement_round_trips(multiseg_trip):
    """Connections onto dendrite segments part-way along (5 @ 0.6, 2 @ 0.1) and inputs on
    segments 2 @ 0.25 and 7 @ 0.9 (the axon): the same (section, x) after the trip, and the
    same network content hash (without the embedded source files)."""
    tmp, (a, b) = multiseg_trip
    cols = ["pre_gid", "post_gid", "post_sec", "post_loc", "weight", "delay"]
    assert _rows(a.connections, cols) == _rows(b.connections, cols)
    assert len({s for s in a.connections["post_sec"].values()}) == 2  # not all on the soma
    cols = ["source", "gid", "sec", "loc"]
    assert _rows(a.stim_targets, cols) == _rows(b.stim_targets, cols)
    assert not np.any(np.isin(np.asarray(a.stim_targets["loc"]), [0.5]))
    assert a.replace(files={}).content_hash() == b.replace(files={}).content_hash()
    text = (tmp / "p0" / "net.nml").read_text()
    assert 'postSegmentId="5"' in text and 'postFractionAlong="0.6"' in text
    assert 'segmentId="7"' in text and 'fractionAlong="0.9"' in text
    assert "All valid and no warnings" in _validate(tmp / "p0" / "net.nml")


def test_ex25_multicomp_connections_part_way(tmp_path, nml2_copy):
    """NeuroML2 Ex25: AMPA/NMDA connections onto segments 1 and 3 part-way (0.3, 0.25)."""
    src = nml2_copy / "LEMSexamples" / "LEMS_NML2_Ex25_MultiComp.xml"
    a, b = _trip(src, tmp_path)
    cols = ["pre_gid", "post_gid", "syn_mech", "post_sec", "post_loc"]
    assert _rows(a.connections, cols) == _rows(b.connections, cols)
    assert len(set(np.asarray(a.connections["post_loc"]).tolist())) > 2
    cols = ["source", "gid", "sec", "loc"]
    assert _rows(a.stim_targets, cols) == _rows(b.stim_targets, cols)


def test_inverse_mapping_is_exact_on_segment_points(multiseg_trip):
    """Every stored post point maps to a (segment, fraction) that maps back to its x."""
    _tmp, (a, _b) = multiseg_trip
    seg, frac, moved = post_points(a)
    assert moved == 0
    tag = next(iter(a.cell_types.values())).tags["nml.segments"]
    np.testing.assert_array_equal(x_from_tag(tag, seg, frac),
                                  np.asarray(a.connections["post_loc"], np.float64))


def test_unknown_section_moves_to_nearest_and_is_reported(multiseg_trip):
    """A post section the cell has no segment for: exported at the cell's first segment,
    counted as a loss (not silently)."""
    _tmp, (a, _b) = multiseg_trip
    c = a.connections.take(np.arange(len(a.connections)))
    secs = [str(s) for s in c["post_sec"].values()]
    secs[0] = "no_such_section"
    c["post_sec"] = Categorical.from_values(secs)
    net = a.replace(connections=c)
    plan, lost = export_plan(net)
    assert any("1 postsynaptic point(s)" in m for m in lost)
    cols = plan.projections[0]["columns"]
    assert 0 in cols["post_segment"].tolist()
