"""Live pointer connections (``pointer_conns`` column ``live``) in NEURON: a target that is not
a POINTER is a clear error naming the row and the fix (the working case, jNeuroML's gap
junctions, is run by tests/nmlrun/test_colocated.py)."""

from __future__ import annotations

import numpy as np
import pytest

import nethub
from nethub.celltypes import CompartmentalCell, Population, Section, SynMech
from nethub.errors import SimulationError
from nethub.network import Network
from nethub.runner import simulate

pytestmark = pytest.mark.neuron


def test_live_row_needs_a_pointer(tmp_path):
    soma = Section(geom={"L": 10, "diam": 10}, mechs={"pas": {}})
    net = Network(
        cell_types={"C": CompartmentalCell("C", sections={"soma": soma})},
        populations={"P": Population("P", "C", 2)},
        syn_mechs={"notgap": SynMech("notgap", "ExpSyn")},
        cells={"gid": np.arange(2), "pop": ["P"] * 2, "cell_type": ["C"] * 2},
        pointer_conns={"pre_gid": [1], "post_gid": [0], "syn_mech": ["notgap"],
                       "pre_sec": ["soma"], "post_sec": ["soma"], "source_var": ["v"],
                       "target_var": ["e"], "live": [1]})
    path = tmp_path / "live.h5"
    nethub.save(net, path)
    with pytest.raises(SimulationError, match=r"pointer_conns row 0 \(live, 'notgap'\): cannot "
                       r"point 'e' at 'v' of cell 1 .*must declare 'POINTER e'"):
        simulate(path, {"duration": 1})
