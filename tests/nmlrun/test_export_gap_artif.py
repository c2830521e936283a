"""NeuroML export of NetPyNE gap junctions (ElectSyn pointer pairs) as ``electricalProjection``
with a ``gapJunction``: valid NeuroML; re-imported, the coupled cells follow the original.
IntFire1/2/4 cells: losses naming why no NeuroML cell is exactly equivalent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from netpyne import specs

import nethub
from nethub.converters.neuroml_export_cells import ARTIFICIAL_CELLS, stim_component
from nethub.converters.neuroml_export_gap import gap_conductance
from nethub.formats.base import Document
from nethub.formats.neuroml.plugin import NeuroMLFormat

from .conftest import nethub_run, serial_env
from .test_export_native import TUTORIALS, _validate

MODS = TUTORIALS / "doc_code" / "mod"


def _with_mods(net):
    return net.replace(mod_files={p.name: p.read_text() for p in sorted(MODS.glob("*.mod"))})


def _coupled():
    """Two passive somas coupled by NetPyNE's ElectSyn, one driven by an IClamp; a third,
    one-way pointer connection (not a NeuroML gap junction)."""
    p = specs.NetParams()
    p.cellParams["P"] = {"secs": {"soma": {"geom": {"diam": 16, "L": 16, "Ra": 128},
                                           "mechs": {"pas": {"g": 1e-4, "e": -70}}}}}
    p.popParams["A"] = {"cellType": "P", "numCells": 1}
    p.popParams["B"] = {"cellType": "P", "numCells": 2}
    p.synMechParams["esyn"] = {"mod": "ElectSyn", "g": 0.0005,
                               "pointerParams": {"target_var": "vpeer", "source_var": "v",
                                                 "bidirectional": True}}
    p.synMechParams["oneway"] = {"mod": "ElectSyn", "g": 0.0005,
                                 "pointerParams": {"target_var": "vpeer", "source_var": "v",
                                                   "bidirectional": False}}
    p.connParams["A->B"] = {"preConds": {"pop": "A"}, "postConds": {"pop": "B"},
                            "synMech": "esyn", "weight": 2.0, "sec": "soma", "loc": 0.5,
                            "connList": [[0, 0]]}
    p.connParams["B->B"] = {"preConds": {"pop": "B"}, "postConds": {"pop": "B"},
                            "synMech": "oneway", "weight": 1.0, "connList": [[0, 1]]}
    p.stimSourceParams["ic_gap"] = {"type": "IClamp", "del": 1, "dur": 4, "amp": 0.2}
    p.stimTargetParams["ic_gap->A"] = {"source": "ic_gap", "sec": "soma", "loc": 0.5,
                                   "conds": {"pop": "A"}}
    cfg = specs.SimConfig()
    cfg.duration = 8
    cfg.recordTraces = {"V": {"sec": "soma", "loc": 0.5, "var": "v"}}
    cfg.recordCells = [0, 1]
    cfg.recordStep = 0.025
    return _with_mods(nethub.build(p, cfg))


def test_tut_gap_exports_a_valid_electrical_projection(tmp_path):
    net = _with_mods(nethub.build(*nethub.load_spec(TUTORIALS / "doc_code" / "tut_gap.py")))
    assert gap_conductance(net, "esyn") == (4.9999999999999996e-05, "")
    lost = NeuroMLFormat().write(Document(network=net), tmp_path / "gap.nml")
    assert not any("pointer" in m or "gap" in m for m in lost), lost
    text = (tmp_path / "gap.nml").read_text()
    assert '<gapJunction id="esyn" conductance="4.9999999999999996e-05uS"/>' in text
    assert 'synapse="esyn" weight="200.0"' in text and text.count("<electricalConnection") == 1
    assert "All valid and no warnings" in _validate(tmp_path / "gap.nml")


def test_gap_junction_round_trip_runs_as_the_original(tmp_path):
    net = _coupled()
    # both runs in child processes: NEURON cannot load a mechanism name (ElectSyn, passive,
    # ...) twice, and other tests of this process load them from other libraries
    nethub.save(net, tmp_path / "orig.h5")
    proc = subprocess.run([sys.executable, "-m", "nethub", "run", str(tmp_path / "orig.h5")],
                          env=serial_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    orig = nethub.load_results(tmp_path / "orig.h5")
    folder = Path(tmp_path / "nml")
    folder.mkdir()
    lost = NeuroMLFormat().write(Document(network=net), folder / "gap.nml",
                                 lems=str(folder / "LEMS_gap.xml"))
    assert lost == ["gap junctions: NeuroML's act on both cells; one-directional pointer "
                    "connections not exported (1)"]
    pc = nethub.read(str(folder / "LEMS_gap.xml")).network.pointer_conns
    assert len(pc) == 2 and sorted(np.asarray(pc["pre_gid"]).tolist()) == [0, 1]
    assert np.all(np.asarray(pc["weight"]) == 2.0)
    nethub_run(folder / "LEMS_gap.xml", tmp_path / "back.h5")
    res = nethub.load_results(tmp_path / "back.h5")
    for gid in (0, 1):
        v0 = np.asarray(orig.traces.get("V", gid))
        v1 = np.asarray(res.traces.get(f"lems.V.V_{gid}", gid))
        assert np.ptp(v0) > 2  # cell 1 only through the gap junction
        np.testing.assert_allclose(v1, v0, rtol=0, atol=1e-9)


@pytest.mark.parametrize("model", ["IntFire1", "IntFire2", "IntFire4"])
def test_intfire_cells_are_losses_with_a_reason(model):
    xml, lost = stim_component("c", model, {"tau": 10}, 100.0, "cell type 'c'")
    assert xml is None and lost == [f"cell type 'c': {model} is not exported: "
                                    f"{ARTIFICIAL_CELLS[model]}"]


def test_neuroml_gap_junctions_round_trip(tmp_path, nml2_copy):
    """Ex19 (electricalProjection of iaf cells): NeuroML -> store -> NeuroML -> store keeps the
    network content hash (without the embedded source files); the re-export is valid."""
    fmt = NeuroMLFormat()
    src = nml2_copy / "LEMSexamples" / "LEMS_NML2_Ex19_GapJunctions.xml"
    nets = []
    for k in range(2):
        net = fmt.read_run(src)[0]
        nets.append(net)
        folder = tmp_path / f"p{k}"
        folder.mkdir()
        assert fmt.write(Document(network=net), folder / "net.nml",
                         lems=str(folder / "LEMS_net.xml")) == []
        src = folder / "LEMS_net.xml"
    assert len(nets[0].pointer_conns) == 2
    assert nets[0].replace(files={}).content_hash() == nets[1].replace(files={}).content_hash()
    text = (tmp_path / "p0" / "net.nml").read_text()
    assert "<gapJunction" in text and "<electricalProjection" in text
    assert "All valid and no warnings" in _validate(tmp_path / "p0" / "net.nml")
