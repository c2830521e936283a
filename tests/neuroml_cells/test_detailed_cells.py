"""NeuroML2 detailed cells -> CompartmentalCell, compared with jNeuroML's NEURON export.

Every case is checked against jNeuroML's own output (``conftest.jnml_reference``): the cell as
NEURON holds it after loading jNeuroML's HOC template (sections, order, topology, pt3d, nseg,
cm, Ra, every mechanism parameter per segment, reversal potentials), the (section, x) of each
synapse and input jNeuroML's script creates, and the traces of its LEMS OutputFiles.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nethub
from nethub.converters.neuroml import to_network
from nethub.converters.nml_cells import detailed_cell, si_value
from nethub.converters.nml_cells_net import TRACE_VARIABLES, trace_target
from nethub.converters.nml_morph import build_morphology, location_from_tag
from nethub.errors import FormatError
from nethub.formats.neuroml import generate_nmodl, read_lems, read_neuroml
from nethub.formats.neuroml.plugin import NeuroMLFormat
from nethub.runconfig import CellSelection, TraceRequest

from .conftest import CASES, FIX


@pytest.fixture(scope="module")
def imported():
    """``imported(case)``: (Network, RunConfig, losses) of a case, once per module."""
    memo: dict = {}

    def get(case: str):
        if case not in memo:
            memo[case] = NeuroMLFormat().read_run(FIX / CASES[case][0])
        return memo[case]
    return get


def _per_seg(value, nseg: int) -> list[float]:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (nseg,)).tolist()


def test_fixtures_are_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("make_cells", FIX / "cells" / "make_cells.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, text in mod.files().items():
        assert (FIX / "cells" / name).read_text() == text, name


@pytest.mark.parametrize("case", list(CASES))
def test_sections_are_jnml_neurons(case, imported, jnml_ref):
    """Section by section and segment by segment, what NEURON holds after jNeuroML's HOC."""
    net, _run, _lost = imported(case)
    for cell, ref in jnml_ref(case)["cells"].items():
        ct = net.cell_types[cell]
        assert list(ct.sections) == [s["name"] for s in ref]
        for r in ref:
            s, n = ct.sections[r["name"]], r["nseg"]
            where = f"{cell}.{r['name']}"
            assert int(s.geom["nseg"]) == n, where
            assert (s.parent, s.parent_x if s.parent else None) == (r["parent"],
                                                                    r["parent_x"]), where
            # NEURON keeps 3-D points in float32
            assert np.array_equal(s.pt3d.astype(np.float32),
                                  np.array(r["pt3d"], dtype=np.float32)), where
            assert _per_seg(s.geom.get("cm", 1.0), n) == r["cm"], where
            assert s.geom.get("Ra", 35.4) == r["Ra"], where
            assert set(s.mechs) == set(r["mechs"]), where
            for mech, params in r["mechs"].items():
                for p, vals in params.items():
                    ours = _per_seg(s.mechs[mech].get(p, np.nan), n)
                    # exact, but for non-uniform values (libm exp in HOC vs numpy)
                    assert np.allclose(ours, vals, rtol=1e-14, atol=0), (where, mech, p)
            for ion, vals in r["ions"].items():
                if "e" in s.ions.get(ion, {}):
                    assert _per_seg(s.ions[ion]["e"], n) == vals["e"], (where, ion)


def test_section_lists_are_jnml_hocs():
    """SectionLists as jNeuroML's HOC template fills them (member-only groups stay empty)."""
    lems = FIX / CASES["multiseg"][0]
    hoc = generate_nmodl(lems).templates["MultiSeg.hoc"]
    body = hoc[hoc.index("proc subsets()"):hoc.index("proc subsets_inhomogeneous")]
    theirs: dict[str, list[str]] = {}
    for line in body.splitlines():
        if m := re.match(r"\s*(\w+) = new SectionList\(\)", line):
            theirs[m.group(1)] = []
        elif m := re.match(r"\s*(\w+) (\w+)\.append\(\)", line):
            theirs[m.group(2)].append(m.group(1))
    net, _run, _lost = NeuroMLFormat().read_run(lems)
    assert net.cell_types["MultiSeg"].section_lists == theirs
    assert theirs["dend_members_only"] == []


@pytest.mark.parametrize("case", ["multiseg", "hh"])
def test_synapses_and_inputs_on_jnmls_section_and_x(case, imported, jnml_ref):
    net, _run, _lost = imported(case)
    pops = net.cells["nml.population"].values()
    inst = np.asarray(net.cells["nml.instance"])
    ours = []
    c = net.connections
    for i in range(len(c)):
        g = int(c["post_gid"][i])
        ours.append((pops[g], int(inst[g]), c["post_sec"].values()[i],
                     c["syn_mech"].values()[i], float(c["post_loc"][i])))
    s = net.stim_targets
    for i in range(len(s)):
        g = int(s["gid"][i])
        ours.append((pops[g], int(inst[g]), s["sec"].values()[i], s["source"].values()[i],
                     float(s["loc"][i])))
    assert sorted(ours) == jnml_ref(case)["placed"]


#: LEMS quantity -> (NEURON variable, factor from jNeuroML's SI column, tolerance): jNeuroML
#: writes 7 significant digits, so 1e-5 mV / a relative 1e-6 is its text resolution
_VARS = {"v": ("v", 1e3, (0.0, 1.5e-5)), "cai": ("cai", 1.0, (2e-6, 1e-12))}


def _trace_run(net, run):
    """The run with one trace per LEMS OutputColumn ``pop/i/cell[/segment]/v|caConc``, where
    jNeuroML records it (:func:`trace_target`)."""
    reqs, keys = [], []
    for of in [o for o in run.extras["output_files"] if o["kind"] == "traces"]:
        for k, col in enumerate(of["columns"]):
            if col["quantity"].rsplit("/", 1)[-1] not in TRACE_VARIABLES:
                continue  # channel currents / conductances: not mapped here
            gid, sec, x, var = trace_target(net, col["quantity"])
            label = f"{of['path']}:{k}"
            reqs.append(TraceRequest(label=label, variable=var, sec=sec, loc=x,
                                     cells=CellSelection(gids=(gid,))))
            keys.append((of["path"], k, label, gid, _VARS[var]))
    return dataclasses.replace(run, traces=tuple(reqs), record_step=run.dt), keys


def _crossings(t: np.ndarray, v: np.ndarray, thr: float) -> np.ndarray:
    """OMV's threshold spike detection: the first sample at or above ``thr``."""
    i = np.flatnonzero((v[:-1] < thr) & (v[1:] >= thr))
    return t[i + 1]


@pytest.mark.parametrize("case", list(CASES))
def test_traces_and_spikes_are_jnmls(case, imported, jnml_ref, tmp_path):
    net, run, _lost = imported(case)
    run, keys = _trace_run(net, run)
    # 2 MPI ranks: also a separate process per model (jNeuroML names mechanisms after the
    # NeuroML ids, e.g. kChan in two models; one process cannot load both libraries)
    res = nethub.simulate(net, run, nprocs=2, output=tmp_path / "out.h5")
    outputs = jnml_ref(case)["outputs"]
    n_spikes = 0
    for path, k, label, gid, (var, factor, (rtol, atol)) in keys:
        ref = outputs[path]
        t_ref, v_ref = ref[:, 0] * 1e3, ref[:, k + 1] * factor
        ours = res.traces.get(label, gid)
        n = min(len(t_ref), len(ours))
        assert n >= len(t_ref) - 1
        assert np.allclose(ours[:n], v_ref[:n], rtol=rtol, atol=atol), (path, k, var)
        if var != "v":
            continue
        theirs = _crossings(t_ref[:n], v_ref[:n], 0.0)
        mine = _crossings(res.traces.time[:n], ours[:n], 0.0)
        assert len(mine) == len(theirs) and np.allclose(mine, theirs, rtol=0, atol=1e-6)
        n_spikes += len(theirs)
    assert n_spikes >= 2  # Ex18: its pulseGenerator 'IClamp' (IClamp_nml2) is carried


def test_pyramidal_cell_passes_its_omv_test(tmp_path):
    """``nethub run LEMS_pyrfull_in.xml`` (import and run in one step): the spikes of the
    model's ``.test.jnmlnrn.multi.omt`` / ``.test.multi.mep`` (tolerance 0)."""
    folder = FIX / "NeuroML2" / "LEMSexamples" / "morphologies"
    mep = (folder / ".test.multi.mep").read_text()
    expected = [float(v) for v in re.search(r"spike times: \[([^\]]*)\]", mep).group(1)
                .split(",")]
    res = nethub.simulate(str(folder / "LEMS_pyrfull_in.xml"), nprocs=2,
                          output=tmp_path / "run.h5")
    assert res.duration == 700.0
    assert np.allclose(res.spikes["time"].to_numpy(), expected, rtol=0, atol=1e-6)


def test_conversion_details(imported):
    net, run, lost = imported("multiseg")
    assert run.temperature == 6.3
    assert net.run_config.temperature == 6.3  # the run travels with the model
    ct = net.cell_types["MultiSeg"]
    assert ct.spike_source == ("soma", 0.5) and ct.threshold == -20.0
    assert ct.sections["soma"].threshold == -20.0 and ct.sections["soma"].vinit == -65.0
    assert set(ct.mod_files) == {f"{m}.mod" for m in ("passiveChan", "naChan", "kChan", "Ca_pyr",
                                                     "Ca_conc")}
    assert ct.sections["soma"].mechs["Ca_pyr"] == {"gmax": 0.005}  # Nernst: no erev
    assert ct.sections["soma"].ions["ca"] == {"i": 5e-05, "o": 3.0}
    assert set(ct.mod_files) <= set(net.mod_files)
    assert not any("detailed" in m or "MultiSeg" in m for m in lost), lost
    # the segment map survives the store's JSON
    tag = nethub.celltypes.cell_type_from_dict(ct.to_dict()).tags["nml.segments"]
    assert location_from_tag(tag, 5, 0.6) == ("branch", 0.8)
    assert location_from_tag(tag, 6, 0.3) == ("oblique", 0.3)
    with pytest.raises(KeyError):
        location_from_tag(tag, 99)
    assert trace_target(net, "cells/1/MultiSeg/5/v") == (1, "branch", 0.75, "v")
    assert trace_target(net, "cells[0]/caConc") == (0, "soma", 0.5, "cai")
    for bad in ("cells/2/MultiSeg/v", "cells/0/MultiSeg/99/v", "cells/0/MultiSeg/0/ina"):
        with pytest.raises(KeyError):
            trace_target(net, bad)


def test_pyramidal_cell_calcium(imported):
    net, _run, _lost = imported("pyr")
    soma = net.cell_types["pyr_4_sym"].sections["soma"]
    assert soma.mechs["Ca_conc"] == {}
    assert soma.ions["ca"] == {"e": 80.0, "i": 5e-05, "o": 3.0}
    assert "Ca_conc" not in net.cell_types["pyr_4_sym"].sections["apical0"].mechs


def test_store_round_trip_keeps_detailed_cells(tmp_path):
    out = tmp_path / "ms.h5"
    nethub.convert(FIX / CASES["multiseg"][0], out)
    back = nethub.load(out)
    net, _run, _lost = NeuroMLFormat().read_run(FIX / CASES["multiseg"][0])
    assert back.cell_types["MultiSeg"].equals(net.cell_types["MultiSeg"])
    assert list(back.connections["post_sec"].values()) == ["branch", "dend"]


def _cell_doc(tmp_path, morph: str, biophys: str = ""):
    text = f"""<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="t">
  <cell id="c"><morphology id="m">{morph}</morphology>{biophys}</cell></neuroml>"""
    (tmp_path / "c.nml").write_text(text)
    doc = read_neuroml(tmp_path / "c.nml").document
    return doc.cells[0], doc


_SEG = ('<segment id="{i}" name="s{i}">{par}<proximal x="0" y="{y0}" z="0" diameter="2"/>'
        '<distal x="0" y="{y1}" z="0" diameter="2"/></segment>')


def test_per_segment_sections_are_written_distal_first(tmp_path):
    """Without unbranched groups: one section per segment, pt3d distal then proximal, x is
    the fraction itself, a spherical root stretched along y by its diameter."""
    morph = ('<segment id="0" name="soma"><proximal x="0" y="0" z="0" diameter="10"/>'
             '<distal x="0" y="0" z="0" diameter="10"/></segment>'
             + _SEG.format(i=1, par='<parent segment="0"/>', y0=0, y1=30))
    cell, _doc = _cell_doc(tmp_path, morph)
    m = build_morphology(cell)
    assert list(m.sections) == ["soma", "s1"]
    assert m.sections["soma"]["pt3d"].tolist() == [[0, 0, 0, 10], [0, 10, 0, 10]]
    assert m.sections["s1"]["pt3d"].tolist() == [[0, 30, 0, 2], [0, 0, 0, 2]]
    assert m.location(1, 0.3) == ("s1", 0.3)


def test_bad_cells_are_clear_errors(tmp_path):
    unbr = 'neuroLexId="sao864921383"'
    morph = (_SEG.format(i=0, par="", y0=0, y1=10)
             + _SEG.format(i=1, par='<parent segment="0"/>', y0=10, y1=20)
             + f'<segmentGroup id="soma" {unbr}><member segment="0"/></segmentGroup>')
    cell, _doc = _cell_doc(tmp_path, morph)
    with pytest.raises(FormatError, match=r"cell 'c'.*\[1\] are in no unbranched"):
        build_morphology(cell)
    bio = ('<biophysicalProperties id="b"><membraneProperties>'
           '<specificCapacitance value="1 uF_per_furlong"/></membraneProperties>'
           '</biophysicalProperties>')
    cell, doc = _cell_doc(tmp_path, _SEG.format(i=0, par="", y0=0, y1=10), bio)
    with pytest.raises(FormatError, match="cell 'c'/specificCapacitance.*uF_per_furlong"):
        detailed_cell(cell, doc)
    assert si_value("120 mS_per_cm2", "x") == 1200.0


def test_presynaptic_points_other_than_the_detector_are_carried(tmp_path):
    shutil.copytree(FIX / "cells", tmp_path / "cells")
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    net_file = tmp_path / "cells" / "MultiSegNet.net.nml"
    net_file.write_text(net_file.read_text().replace('preSegmentId="0" preFractionAlong="0.5"',
                                                     'preSegmentId="7"'))
    lems = read_lems(tmp_path / "cells" / "LEMS_MultiSeg.xml")
    # the mechanisms do not change: the fixture's (cached) NMODL, no Java here
    net, _run, lost = to_network(lems, generate_nmodl(FIX / CASES["multiseg"][0]))
    assert not any("presynaptic point" in m for m in lost), lost
    # segment 7 at jNeuroML's default fraction 0.5: the axon's middle node, its own source
    assert net.connections["spike_sec"].values().tolist() == ["axon", None]
    np.testing.assert_array_equal(net.connections["spike_loc"], [0.5, np.nan])


def test_morphology_and_biophysics_referred_to_by_id(tmp_path):
    """``<cell morphology="m" biophysicalProperties="b">`` with both at the document's top."""
    text = f"""<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="t">
  <morphology id="m">{_SEG.format(i=0, par="", y0=0, y1=10)}</morphology>
  <biophysicalProperties id="b"><membraneProperties>
    <specificCapacitance value="2 uF_per_cm2"/><initMembPotential value="-70mV"/>
  </membraneProperties><intracellularProperties><resistivity value="0.2 kohm_cm"/>
  </intracellularProperties></biophysicalProperties>
  <cell id="c" morphology="m" biophysicalProperties="b"/></neuroml>"""
    (tmp_path / "c.nml").write_text(text)
    doc = read_neuroml(tmp_path / "c.nml").document
    ct = detailed_cell(doc.cells[0], doc).cell_type
    assert list(ct.sections) == ["s0"]
    sec = ct.sections["s0"]
    assert (sec.geom["cm"], sec.geom["Ra"], sec.vinit) == (2.0, 200.0, -70.0)
    assert sec.pt3d.tolist() == [[0, 10, 0, 2], [0, 0, 0, 2]]


def test_xml_and_hdf5_give_the_same_detailed_network():
    """SmallNet (3 multi-compartment cell types, 996 connections on segments) read from
    ``.nml`` and ``.nml.h5``: same cell types and the same (section, x) of every target."""
    a, _run, lost_a = NeuroMLFormat().read_run(FIX / "SmallNet.net.nml")
    b, _run, lost_b = NeuroMLFormat().read_run(FIX / "SmallNet.net.nml.h5")
    assert lost_a == lost_b
    assert set(a.cell_types) == {"pyr_cell", "bask_cell", "stell_cell"}
    assert all(ct.equals(b.cell_types[k]) for k, ct in a.cell_types.items())
    assert a.connections.equals(b.connections) and a.stim_targets.equals(b.stim_targets)
    secs = set(a.connections["post_sec"].values()) | set(a.stim_targets["sec"].values())
    assert secs <= {s for ct in a.cell_types.values() for s in ct.sections}
    assert len(set(np.round(a.connections["post_loc"], 6))) > 4


def test_explicit_inputs_on_abstract_and_detailed_cells(tmp_path):
    """``explicitInput``s onto an abstract and a detailed cell in one network: each row is
    placed by its own cell (the detailed one on its first segment's section, here not
    ``soma``)."""
    for sub in ("cells", "NeuroML2", "ours"):
        shutil.copytree(FIX / sub, tmp_path / sub)
    cell = tmp_path / "cells" / "MultiSeg.cell.nml"
    cell.write_text(cell.read_text().replace('segmentGroup id="soma"', 'segmentGroup id="cb"')
                    .replace('include segmentGroup="soma"', 'include segmentGroup="cb"'))
    (tmp_path / "cells" / "Mixed.net.nml").write_text(
        '<neuroml xmlns="http://www.neuroml.org/schema/neuroml2" id="Mixed">\n'
        '  <include href="MultiSeg.cell.nml"/><include href="../ours/IzhNet.net.nml"/>\n'
        '  <network id="mixed"><population id="izh" component="RS" size="1"/>\n'
        '    <population id="det" component="MultiSeg" size="1"/>\n'
        '    <explicitInput target="izh[0]" input="pg"/>\n'
        '    <explicitInput target="det[0]" input="pg"/></network></neuroml>\n')
    lems = tmp_path / "cells" / "LEMS_Mixed.xml"
    lems.write_text((FIX / CASES["multiseg"][0]).read_text()
                    .replace("MultiSegNet.net.nml", "Mixed.net.nml")
                    .replace('target="MultiSegNet"', 'target="mixed"'))
    # the mechanisms of both models, generated (and cached) from the unmodified fixtures
    mods = {**generate_nmodl(FIX / "ours" / "LEMS_IzhNet.xml").mod_files,
            **generate_nmodl(FIX / CASES["multiseg"][0]).mod_files}
    net, _run, _lost = to_network(read_lems(lems), type("N", (), {"mod_files": mods})())
    assert list(net.cell_types["MultiSeg"].sections)[0] == "cb"
    s = net.stim_targets
    pops = net.cells["pop"].values()
    placed = {pops[int(g)]: (sec, float(x)) for g, sec, x in
              zip(s["gid"], s["sec"].values(), s["loc"])}
    assert placed == {"izh": ("soma", 0.5), "det": ("cb", 0.5)}


def test_nethub_run_writes_jnmls_output_files(jnml_ref, tmp_path):
    """``nethub run LEMS_MultiSeg.xml`` writes the LEMS OutputFiles (segment voltages of
    detailed cells, ``caConc``) as jNeuroML's NEURON run writes them, value for value
    (jNeuroML also writes a last row at t = length; nethub has no sample there)."""
    shutil.copytree(FIX / "cells", tmp_path / "cells")
    shutil.copytree(FIX / "NeuroML2", tmp_path / "NeuroML2")
    nethub_cli = Path(sys.executable).parent / "nethub"
    proc = subprocess.run([str(nethub_cli), "run", "LEMS_MultiSeg.xml", "-o", "o.h5"],
                          cwd=tmp_path / "cells", capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = jnml_ref("multiseg")["outputs"]
    assert set(outputs) == {"multiseg_v.dat", "multiseg_ca.dat"}
    for name, ref in outputs.items():
        ours = np.loadtxt(tmp_path / "cells" / name)
        assert ours.shape == (ref.shape[0] - 1, ref.shape[1])
        np.testing.assert_allclose(ours, ref[:-1], rtol=1e-6, atol=1e-12)
