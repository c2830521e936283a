"""Detailed NeuroML cells placed where jNeuroML places them, bit for bit, and the presynaptic
points counted as a loss only where they really read another node than the spike detector.

ACnet2 MediumNet (OSB) gave traces 1e-8 V off jNeuroML's from the first step in cells with a
pulse input: jNeuroML's ``position(x, y, z)`` adds the cell position to NEURON's float32 3-D
points (``pt3dchange(i, x + x3d(i), ...)``), nethub negated ``y`` (NetPyNE's inverted y) and
added the position to the unrounded points, so areas differed in the 7th digit.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from neuron import h

from nethub.converters.neuroml import to_network
from nethub.converters.nml_cells_net import node_index, off_detector
from nethub.converters.nml_morph import Morphology, build_morphology
from nethub.formats.neuroml import generate_nmodl, read_lems, read_neuroml
from nethub.sim.engine import Engine

from .conftest import CASES, FIX

#: ACnet2 MediumNet's first positions (their sums with the points round in float32)
POSITIONS = [(64.2564, 0.68375766, 94.83054), (384.13205, 31.320269, 105.99679)]


def _imported(tmp_path, old: str = "", new: str = ""):
    shutil.copytree(FIX / "cells", tmp_path / "cells")
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    net_file = tmp_path / "cells" / "MultiSegNet.net.nml"
    text = net_file.read_text()
    for i, (x, y, z) in enumerate(POSITIONS):
        text = text.replace(f'<location x="{300 * i}" y="0" z="0"/>',
                            f'<location x="{x}" y="{y}" z="{z}"/>')
    net_file.write_text(text.replace(old, new))
    cell_file = tmp_path / "cells" / "MultiSeg.cell.nml"  # points that float32 cannot hold
    cell_file.write_text(cell_file.read_text().replace(
        '<distal x="0" y="70" z="0" diameter="4"/>',
        '<distal x="106.07" y="70.3" z="-156.07" diameter="4.4"/>'))
    lems = read_lems(tmp_path / "cells" / "LEMS_MultiSeg.xml")
    # the mechanisms do not change: the fixture's (cached) NMODL, no Java here
    return to_network(lems, generate_nmodl(FIX / CASES["multiseg"][0])), net_file


def _points(sec) -> np.ndarray:
    return np.array([[h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec),
                      h.diam3d(i, sec=sec), h.arc3d(i, sec=sec)]
                     for i in range(int(h.n3d(sec=sec)))])


def test_cells_are_placed_as_jnmls_position(tmp_path):
    (net, run, _lost), net_file = _imported(tmp_path)
    assert not run.invert_y
    cell = read_neuroml(tmp_path / "cells" / "MultiSeg.cell.nml").document.cells[0]
    raw = build_morphology(cell).sections  # the points as jNeuroML writes them (pt3dadd)
    for sec in net.cell_types["MultiSeg"].sections.values():  # geometry only: no mechanisms
        sec.mechs.clear()
        sec.ions.clear()
        sec.point_processes.clear()
    pc = h.ParallelContext()
    engine = Engine(h, pc, net, run)
    engine.create_cells()
    try:
        for gid, pos in enumerate(POSITIONS):
            for name, sec in raw.items():
                ref = h.Section(name=f"ref_{gid}_{name}")
                for x, y, z, d in sec["pt3d"].tolist():
                    h.pt3dadd(x, y, z, d, sec=ref)
                for i in range(int(h.n3d(sec=ref))):  # jNeuroML's position() proc
                    h.pt3dchange(i, pos[0] + h.x3d(i, sec=ref), pos[1] + h.y3d(i, sec=ref),
                                 pos[2] + h.z3d(i, sec=ref), h.diam3d(i, sec=ref), sec=ref)
                ours = engine.cells[gid].secs[name]
                ref.nseg = ours.nseg
                assert np.array_equal(_points(ours), _points(ref)), (gid, name)
                assert ours.L == ref.L and ours(0.5).area() == ref(0.5).area(), (gid, name)
    finally:
        pc.gid_clear()


@pytest.mark.parametrize("nseg", [1, 2, 3, 7])
def test_node_index_is_neurons_node(nseg):
    sec = h.Section(name="probe")
    sec.nseg = nseg
    for i, seg in enumerate(sec.allseg()):  # a distinct v per node, ends included
        seg.v = float(i)
    xs = np.array([0.0, 1e-9, 0.1, 1 / 3, 0.4999999, 0.5, 0.5 + 1e-12, 2 / 3, 0.999, 1.0])
    same_as_detector = np.array([sec(x).v == sec(0.5).v for x in xs.tolist()])
    assert np.array_equal(node_index(xs, nseg) == node_index(np.array([0.5]), nseg)[0],
                          same_as_detector)


def test_only_points_off_the_detector_node_count():
    morph = Morphology(sections={"soma": {"nseg": 1}, "dend": {"nseg": 3}},
                       seg_section={0: "soma", 1: "dend"}, first_segment=0)
    names = ["soma", "soma", "soma", "soma", "dend"]
    assert off_detector(morph, names, np.array([0.5, 0.35, 0.999, 0.0, 0.5])) == 2
    morph.sections["soma"]["nseg"] = 3
    assert off_detector(morph, names, np.array([0.5, 0.3, 0.6, 0.0, 0.5])) == 3


def test_presynaptic_point_on_the_detector_node_is_no_loss(tmp_path):
    """ACnet2's connections leave the one-segment soma at fractions other than 0.5: the
    detector's node, so nothing is lost (the import reported all 984)."""
    (net, _run, lost), _f = _imported(tmp_path, 'preSegmentId="0" preFractionAlong="0.5"',
                                      'preSegmentId="0" preFractionAlong="0.3"')
    assert not any(m.startswith("connections from a presynaptic point") for m in lost), lost
    assert "spike_loc" not in net.connections  # the content hash of such stores is unchanged
