"""Connections that leave a cell from another point than its spike detector (NeuroML
``preSegmentId`` / ``preFractionAlong``): jNeuroML listens to ``v`` there, so does nethub
(an extra spike source per point, :mod:`nethub.sim.spikepoints`).

``cells/AxonNet.net.nml`` (``make_axon.py``): cell 0 connects from the far end of its axon
(node 2 of 3), from the axon's start (node 0) and from its detector; compared with jNeuroML's
own NEURON run (cached, ``conftest.jnml_reference``) on 1 and 2 ranks.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.converters.nml_locate import segments_from_tag
from nethub.converters.nml_morph import location_from_tag
from nethub.errors import SimulationError
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.sim.spikepoints import assign_ids, local_keys
from nethub.table import Categorical, Table

from .conftest import FIX
from .test_detailed_cells import _crossings, _trace_run

LEMS = FIX / "cells" / "LEMS_AxonNet.xml"
THRESHOLD = -20.0  # MultiSeg's spikeThresh (mV)


@pytest.fixture(scope="module")
def axon():
    return NeuroMLFormat().read_run(LEMS)


def test_fixtures_are_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("make_axon", FIX / "cells" / "make_axon.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, text in mod.files().items():
        assert (FIX / "cells" / name).read_text() == text, name


def test_source_ids_are_sorted_points_after_the_last_gid():
    keys = [(5, "axon", 0.9), (0, "axon", 0.1), (5, "axon", 0.9), (0, "dend", 0.5),
            (0, "axon", 0.9)]
    ids = assign_ids(keys, max_gid=7)
    assert ids == {(0, "axon", 0.1): 8, (0, "axon", 0.9): 9, (0, "dend", 0.5): 10,
                   (5, "axon", 0.9): 11}
    assert assign_ids(list(reversed(keys)), 7) == ids  # rank order does not matter
    assert assign_ids([], 7) == {}


def test_local_keys_are_the_distinct_points_of_the_rows():
    conns = Table({"pre_gid": np.array([3, 0, 3, 0, 3]),
                   "spike_sec": Categorical.from_values(["axon", None, "axon", "dend", "axon"]),
                   "spike_loc": np.array([0.9, np.nan, 0.1, 0.5, 0.9])})
    rows, keys, inverse = local_keys(conns)
    assert rows.tolist() == [0, 2, 3, 4]
    assert [keys[i] for i in inverse] == [(3, "axon", 0.9), (3, "axon", 0.1), (0, "dend", 0.5),
                                          (3, "axon", 0.9)]
    assert len(keys) == 3
    conns["spike_sec"] = Categorical.from_values(["axon", None, "axon", None, "axon"])
    with pytest.raises(SimulationError, match="spike_loc but no spike_sec"):
        local_keys(conns)


def test_import_carries_the_points_off_the_detector(axon):
    net, _run, lost = axon
    c = net.connections
    assert not any("presynaptic point" in m for m in lost), lost
    secs = c["spike_sec"].values().tolist()
    locs = np.asarray(c["spike_loc"])
    # jNeuroML's (section, x): the axon is one segment, x = fractionAlong; the detector's row
    # (segment 0 at 0.5) keeps NaN
    assert secs == ["axon", None, "axon", "axon"]
    np.testing.assert_array_equal(locs, [0.9, np.nan, 0.1, 0.9])


def _run(net, run, tmp_path, nprocs, name="out.h5"):
    run, keys = _trace_run(net, run)
    # a child process also on 1 rank (timeout): jNeuroML's mechanism names (Ca_conc, ...)
    # clash with other models' in one process
    return nethub.simulate(net, run, nprocs=nprocs, output=tmp_path / name, timeout=600), keys


def _check_jnml(res, keys, outputs) -> int:
    n_spikes = 0
    for path, k, label, gid, (_var, factor, (rtol, atol)) in keys:
        ref = outputs[path]
        t_ref, v_ref = ref[:, 0] * 1e3, ref[:, k + 1] * factor
        ours = res.traces.get(label, gid)
        n = min(len(t_ref), len(ours))
        assert np.allclose(ours[:n], v_ref[:n], rtol=rtol, atol=atol), (path, k)
        theirs = _crossings(t_ref[:n], v_ref[:n], THRESHOLD)
        mine = _crossings(res.traces.time[:n], ours[:n], THRESHOLD)
        assert len(mine) == len(theirs) and np.allclose(mine, theirs, rtol=0, atol=1e-6)
        n_spikes += len(theirs)
    return n_spikes


@pytest.mark.parametrize("nprocs", [1, 2])
def test_traces_and_spikes_are_jnmls(axon, jnml_ref, tmp_path, nprocs):
    net, run, _lost = axon
    res, keys = _run(net, run, tmp_path, nprocs)
    assert _check_jnml(res, keys, jnml_ref("axon")["outputs"]) == 30
    # only the cells' own spikes (detector at -20 mV), not the extra sources'
    gids = np.asarray(res.spike_gids)
    assert set(gids.tolist()) <= {0, 1, 2}
    soma0 = next(label for _p, k, label, g, _v in keys if g == 0 and k == 0)
    t0 = _crossings(res.traces.time, res.traces.get(soma0, 0), THRESHOLD)
    # the soma spikes twice, the far axon 10 times: cell 0's spikes are the detector's
    assert len(t0) == 2 and np.allclose(np.sort(res.spike_times[gids == 0]), t0, atol=1e-9)


def test_without_the_points_cell_1_spikes_otherwise(axon, tmp_path):
    """The same network with every row on the detector (the columns dropped): cell 1, driven
    from the far end of the axon, spikes at other times (CoreNEURON with extra sources:
    tests/simulation/test_spike_points_sim.py; jNeuroML's mechanisms here do not compile
    for CoreNEURON)."""
    net, run, _lost = axon
    res, _k = _run(net, run, tmp_path, 1, name="points.h5")
    plain = dataclasses.replace(net, connections=net.connections.take(slice(None)))
    del plain.connections.columns["spike_sec"], plain.connections.columns["spike_loc"]
    other, _k = _run(plain, run, tmp_path, 1, name="plain.h5")
    t1 = res.spike_times[np.asarray(res.spike_gids) == 1]
    o1 = other.spike_times[np.asarray(other.spike_gids) == 1]
    assert len(t1) == 10 and not (len(o1) == len(t1) and np.allclose(o1, t1, atol=1e-6))


def test_export_writes_the_points_back(tmp_path):
    nethub.convert(LEMS, tmp_path / "a.h5")
    nethub.convert(tmp_path / "a.h5", tmp_path / "back.nml")
    text = (tmp_path / "back.nml").read_text()
    assert text.count('preSegmentId="7"') == 3 and 'preFractionAlong="0.9"' in text
    conns = [el for el in ET.fromstring(text).iter() if el.tag.endswith("connectionWD")]
    got = [(el.get("id"), el.get("preSegmentId", "0"), float(el.get("preFractionAlong", 0.5)))
           for el in conns]
    assert got == [("0", "7", 0.9), ("1", "0", 0.5), ("2", "7", 0.1), ("3", "7", 0.9)]


def test_nethub_run_writes_jnmls_spikes(jnml_ref, tmp_path):
    """``nethub run LEMS_AxonNet.xml`` on 2 ranks: the EventOutputFile has the cells' spikes
    only, at jNeuroML's times (from its traces)."""
    shutil.copytree(FIX / "cells", tmp_path / "cells")
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    cli = Path(sys.executable).parent / "nethub"
    proc = subprocess.run([str(cli), "run", "LEMS_AxonNet.xml", "-o", "o.h5", "--np", "2"],
                          cwd=tmp_path / "cells", capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ev = np.loadtxt(tmp_path / "cells" / "axonnet.spikes", ndmin=2)
    assert set(ev[:, 0].astype(int).tolist()) <= {0, 1, 2}
    ref = jnml_ref("axon")["outputs"]["axonnet_v.dat"]
    t = ref[:, 0] * 1e3
    for col, cell in ((1, 0), (3, 1), (4, 2)):  # somas (ID_TIME: seconds)
        theirs = _crossings(t, ref[:, col] * 1e3, THRESHOLD)
        mine = np.sort(ev[ev[:, 0] == cell, 1]) * 1e3
        assert len(mine) == len(theirs) and np.allclose(mine, theirs, rtol=0, atol=1e-6)


def test_segments_from_tag_inverts_jnmls_mapping(axon):
    """(section, x) -> (segment, fraction) on multi-segment sections (``dend``: segments 1-3,
    ``branch``: 4-5) and one-segment ones, back to the segment and fraction (float32 x)."""
    net, _run, _lost = axon
    tag = net.cell_types["MultiSeg"].tags["nml.segments"]
    segs = np.array([1, 1, 2, 3, 3, 4, 5, 7, 0, 6])
    fracs = np.array([0.1, 0.9, 0.5, 0.25, 1.0, 0.3, 0.7, 0.9, 0.5, 0.2])
    where = [location_from_tag(tag, int(s), float(f)) for s, f in zip(segs, fracs)]
    seg, frac = segments_from_tag(tag, [w[0] for w in where], np.array([w[1] for w in where]))
    np.testing.assert_array_equal(seg, segs)
    np.testing.assert_allclose(frac, fracs, rtol=0, atol=1e-6)
