"""``cell2CaPools`` (a cell with two independent Ca pools, ions ``ca`` and ``ca2``) and what
else of a detailed cell jNeuroML's NEURON export does or does not carry.

The fixture ``cells/TwoCa.net.nml`` (ours) is also a case of ``conftest.CASES`` ("twoca"):
``test_detailed_cells.py`` compares its sections, every mechanism value and its traces with
jNeuroML's own NEURON run. Here: what the conversion holds, and the ``ca2`` pool at work.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest

import nethub
from nethub.converters.nml_cells import detailed_cell
from nethub.converters.nml_cells_net import trace_spec, trace_target
from nethub.formats.neuroml import read_neuroml
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.runconfig import CellSelection, TraceRequest

from .conftest import CASES, FIX


@pytest.fixture(scope="module")
def twoca():
    return NeuroMLFormat().read_run(FIX / CASES["twoca"][0])


def test_cell2capools_is_a_detailed_cell(twoca):
    net, _run, lost = twoca
    assert lost == []
    ct = net.cell_types["TwoCa"]
    assert ct.tags["nml.type"] == "Cell2CaPools"
    soma, dend = ct.sections["soma"], ct.sections["dend"]
    # channelDensityNernstCa2 on dend_group: gmax only (Nernst: no erev), in Java float
    assert dend.mechs["CaL2"] == {"gmax": 0.0019999999}
    assert "CaL2" not in soma.mechs
    # both species, each with its own concentration model and group
    assert soma.ions["ca"] == {"i": 5e-05, "o": 3.0} and "ca2" not in soma.ions
    assert dend.ions["ca2"] == {"i": 0.0001, "o": 2.0}
    assert dend.mechs["Ca2_conc"] == {} and dend.mechs["Ca_conc"] == {}
    assert {"CaL2.mod", "Ca2_conc.mod", "Ca_conc.mod"} <= set(ct.mod_files)
    assert ct.tags["nml.densities"]["ca2"] == "CaL2"


def test_ca2_pool_is_recorded_and_fills(twoca, tmp_path):
    """``.../ca2Conc`` -> ``ca2i`` (jNeuroML's NEURON export fails on this quantity with a
    StringIndexOutOfBoundsException, so there is no reference run: the pool starts at its
    initial concentration and rises with the dendrite's ca2 current)."""
    net, run, _lost = twoca
    gid, sec, x, var = trace_target(net, "cells/0/TwoCa/2/ca2Conc")
    assert (sec, var) == ("dend", "ca2i")
    run = dataclasses.replace(run, duration=60.0, traces=(TraceRequest(
        label="ca2", variable=var, sec=sec, loc=x, cells=CellSelection(gids=(gid,))),))
    res = nethub.simulate(net, run, nprocs=1, output=tmp_path / "o.h5")
    ca2 = res.traces.get("ca2", gid)
    assert ca2[0] == pytest.approx(1e-4, rel=1e-12)
    assert ca2.max() > 10 * ca2[0]


def test_channel_density_quantities(twoca):
    net = twoca[0]
    assert trace_spec(net, "cells[0]/bp/membraneProperties/ca2/gDensity")[3:] == ("gion",
                                                                                  "CaL2")
    assert trace_spec(net, "cells/0/TwoCa/2/bp/membraneProperties/ca2/CaL2/m/q")[1:] == (
        "dend", 0.75, "m_q", "CaL2")
    assert trace_target(net, "cells[0]/bp/membraneProperties/na/iDensity")[3] == \
        "i__naChan_naChan"
    for bad in ("cells[0]/bp/membraneProperties/nope/gDensity",
                "cells[0]/bp/membraneProperties/na/kChan/n/q"):
        with pytest.raises(KeyError):
            trace_spec(net, bad)


def test_channel_population_is_a_loss(tmp_path):
    """jNeuroML's NEURON export refuses a model with ``channelPopulation``s
    (``ModelFeatureSupportException``: CHANNEL_POPULATIONS_CELL_MODEL not supported in
    NEURON); nethub imports the cell without them and reports the loss."""
    shutil.copytree(FIX / "cells", tmp_path / "cells")
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    f = tmp_path / "cells" / "TwoCa.net.nml"
    f.write_text(f.read_text().replace(
        '<channelDensity id="k" ionChannel="kChan" condDensity="360 S_per_m2" erev="-77mV" '
        'ion="k" segmentGroup="soma_group"/>',
        '<channelPopulation id="kp" ionChannel="kChan" number="1000" erev="-77mV" ion="k" '
        'segmentGroup="soma_group"/>'))
    doc = read_neuroml(f).document
    dc = detailed_cell(doc.cell2_ca_poolses[0], doc)
    assert "kChan" not in dc.cell_type.sections["soma"].mechs
    assert any("channelPopulation" in m and m.endswith("(1)") for m in dc.lost), dc.lost
