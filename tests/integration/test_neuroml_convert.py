"""NeuroML2 / LEMS networks of abstract cells -> Network + RunConfig, simulated by nethub and
compared with jNeuroML's own NEURON run of the same LEMS file.

jNeuroML (``pynml -neuron -run``) runs at most once per session in a temporary copy; its spikes
are cached by the fixture files' content hash (``~/.cache/nethub``), so later sessions skip Java.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.converters.neuroml import SECTION, to_network
from nethub.formats.neuroml import generate_nmodl, read_lems
from nethub.formats.neuroml.mechanisms import default_cache_dir
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.formats.registry import get_format, guess_format

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "neuroml" / "ours"
LEMS = FIXTURES / "LEMS_IzhNet.xml"
FILES = (LEMS, FIXTURES / "IzhNet.net.nml")


def _jnml_spikes(folder: Path) -> dict[str, list[float]]:
    """Run ``pynml LEMS -neuron -run -nogui`` in ``folder``; spikes (ms) by LEMS column id."""
    nrnivmodl = shutil.which("nrnivmodl")
    assert nrnivmodl, "nrnivmodl must be on PATH (source scripts/env.sh)"
    env = {**os.environ, "NEURON_HOME": str(Path(nrnivmodl).parent.parent)}
    pynml = Path(sys.executable).parent / "pynml"
    proc = subprocess.run([str(pynml), LEMS.name, "-neuron", "-run", "-nogui"], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out: dict[str, list[float]] = {}
    for line in (folder / "IzhNet.spikes").read_text().split("\n"):
        if line.strip():
            col, t = line.split()
            out.setdefault(col, []).append(float(t) * 1e3)
    return out


@pytest.fixture(scope="module")
def jnml_spikes(tmp_path_factory) -> dict[str, list[float]]:
    key = hashlib.sha256(b"".join(f.read_bytes() for f in FILES)).hexdigest()
    cached = default_cache_dir() / f"jnml-run-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    folder = tmp_path_factory.mktemp("jnml")
    for f in FILES:
        shutil.copy(f, folder / f.name)
    spikes = _jnml_spikes(folder)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(spikes))
    os.replace(tmp, cached)
    return spikes


@pytest.fixture(scope="module")
def imported():
    lems = read_lems(LEMS)
    return to_network(lems, generate_nmodl(LEMS))


def test_network_content(imported):
    net, run, lost = imported
    assert lost == []
    cells = net.cells
    pops = ["drv", "drv", "tgt", "tgt", "pI", "pR", "pZ"]
    assert list(cells["pop"].values()) == pops
    assert list(cells["nml.population"].values()) == pops
    assert np.array_equal(cells["nml.instance"], [0, 1, 0, 1, 0, 0, 0])
    assert np.array_equal(cells["y"], [0, 5, 50, 50, 0, 0, 0])
    assert np.array_equal(cells["z"], [0, 0, 0, 2, 0, 0, 0])
    assert {k: v.tags["nml.type"] for k, v in net.cell_types.items()} == {
        "RS": "Izhikevich2007Cell", "iaf": "IafCell", "iafRef": "IafRefCell",
        "izOld": "IzhikevichCell"}
    # jNeuroML's cm: C / area; 318.31 for izhikevichCell (no C)
    assert net.cell_types["iaf"].sections[SECTION].geom["cm"] == pytest.approx(63.66197723675815)
    assert net.cell_types["izOld"].sections[SECTION].geom["cm"] == 318.31
    ct = net.cell_types["RS"]
    assert ct.sections[SECTION].point_processes[0]["mod"] == "RS"
    assert ct.sections[SECTION].geom["cm"] == pytest.approx(100 * 100 / (np.pi * 100))
    assert set(net.mod_files) == {f"{m}.mod" for m in ("RS", "iaf", "iafRef", "izOld", "syn1",
                                                       "pg", "pgI", "pgZ")}
    assert {f.role for f in net.files.values()} == {"lems", "neuroml"}
    assert net.files["neuroml/LEMS_IzhNet.xml"].data == LEMS.read_bytes()
    c = net.connections
    assert np.array_equal(c["pre_gid"], [0, 1, 0]) and np.array_equal(c["post_gid"], [2, 3, 3])
    assert np.array_equal(c["weight"], [2, 3, 1.5]) and np.array_equal(c["delay"], [3, 5, 2])
    assert list(c["syn_mech"].values()) == ["syn1"] * 3
    assert np.array_equal(net.stim_targets["gid"], [0, 1, 4, 5, 6])
    assert list(net.stim_targets["source"].values()) == ["pg", "pg", "pgI", "pgI", "pgZ"]
    assert (run.duration, run.dt, run.seeds) == (200.0, 0.025, {"lems": 1234})
    events = run.extras["output_files"][0]
    assert (events["path"], events["kind"], events["format"]) == ("IzhNet.spikes", "events",
                                                                  "id_time")


def test_spikes_match_jnml_neuron(imported, jnml_spikes, tmp_path):
    net, run, _ = imported
    res = nethub.simulate(net, run, output=tmp_path / "izh.h5")
    spikes = res.spikes
    # LEMS column i of the EventOutputFile selects gid i here (drv 0, 1, tgt 0, 1, pI, pR, pZ)
    ours = {str(g): sorted(spikes["time"][spikes["gid"] == g].tolist()) for g in range(7)}
    ours = {k: v for k, v in ours.items() if v}
    assert sum(len(v) for v in jnml_spikes.values()) >= 40
    assert set(jnml_spikes) >= {"3", "4", "5", "6"}  # a synaptic target and each cell kind
    assert ours.keys() == jnml_spikes.keys()
    for col, times in jnml_spikes.items():
        # identical: the difference measured is 0.0 (1e-9 allows for the text round trip)
        assert np.allclose(ours[col], times, rtol=0, atol=1e-9), col


def test_format_plugin_sniffs_and_reads():
    fmt = get_format("neuroml")
    assert isinstance(fmt, NeuroMLFormat)
    assert guess_format(LEMS).name == "neuroml"
    assert fmt.sniff(FIXTURES / "IzhNet.net.nml")
    doc = fmt.read(LEMS)
    assert doc.lost == [] and len(doc.network.cells) == 7
    nml = fmt.read(FIXTURES / "IzhNet.net.nml")
    assert nml.network.connections.equals(doc.network.connections)


def test_random_input_carried_and_detailed_cells_reported(tmp_path):
    """A random input source is carried (NEURON 9 RANDOM rewrite, tests/nmlrun); detailed
    cells are losses, with counts, never dropped silently."""
    text = (FIXTURES / "IzhNet.net.nml").read_text()
    pfs = ('<poissonFiringSynapse id="pfs" averageRate="200 Hz" synapse="syn1" '
           'spikeTarget="./syn1"/>')
    text = text.replace('<pulseGenerator id="pg"', pfs + '\n    <pulseGenerator id="pg"')
    (tmp_path / "IzhNet.net.nml").write_text(text.replace('component="pg"', 'component="pfs"'))
    shutil.copy(LEMS, tmp_path / LEMS.name)
    net, _run, lost = NeuroMLFormat().read_run(tmp_path / LEMS.name)
    assert lost == []
    assert list(net.stim_targets["source"].values()) == ["pfs", "pfs", "pgI", "pgI", "pgZ"]
    assert "RANDOM rng" in net.mod_files["pfs.mod"]
    det = FIXTURES.parent / "NeuroML2" / "LEMSexamples" / "LEMS_NML2_Ex5_DetCell.xml"
    net, _run, lost = NeuroMLFormat().read_run(det)
    # nml-cells: detailed cells are imported now (tests/neuroml_cells/)
    assert not any("detailed" in m or "not an abstract cell" in m for m in lost), lost
    assert len(net.cells) == 1


def test_convert_to_store_keeps_namespaced_columns_and_sources(tmp_path):
    out = tmp_path / "izh.h5"
    nethub.convert(LEMS, out)
    net = nethub.load(out)
    assert list(net.cells["nml.population"].values())[:4] == ["drv", "drv", "tgt", "tgt"]
    assert np.array_equal(net.cells["nml.instance"], [0, 1, 0, 1, 0, 0, 0])
    assert net.files["neuroml/IzhNet.net.nml"].data == FILES[1].read_bytes()
    assert net.files["neuroml/LEMS_IzhNet.xml"].role == "lems"
    assert "izOld.mod" in net.mod_files and "syn1.mod" in net.mod_files


def test_run_lems_file_in_one_step(jnml_spikes, tmp_path):
    """``nethub run LEMS_X.xml``: imported, then run for the LEMS length and step."""
    res = nethub.simulate(str(LEMS), output=tmp_path / "run.h5")
    assert res.duration == 200.0
    spikes = res.spikes
    for col, times in jnml_spikes.items():
        ours = np.sort(spikes["time"][spikes["gid"] == int(col)].to_numpy())
        assert np.allclose(ours, times, rtol=0, atol=1e-9), col
