"""Issue 14 item 5: imported templates give, in both run modes, the soma trace of the template
run directly in NEURON (within 1e-6 mV) under current clamp; a template whose behaviour a
snapshot cannot capture is detected at import and runs in template mode."""

from __future__ import annotations

import pytest

from nethub.converters.hoc import read_cell_template
from nethub.nmodl.compile import compiled_library

from . import cells
from .conftest import assert_same, nethub_trace, reference

pytestmark = pytest.mark.neuron


def test_modeldb_template_with_its_own_mod(tmp_path):
    path = cells.modeldb(tmp_path)
    imp = read_cell_template(path, "Pyr", trusted=True, args=[18.0])  # finds mod/kleak.mod
    assert sorted(imp.mod_files) == ["kleak.mod"] and imp.cell_type.run_mode == "snapshot"
    assert imp.max_dv is not None and imp.max_dv <= 1e-6
    ct = imp.cell_type
    assert list(ct.sections) == ["soma", "dend[0]", "dend[1]", "dend[2]", "axon"]
    assert ct.section_lists["basal"] == ["dend[0]", "dend[1]", "dend[2]"]
    assert isinstance(ct.sections["dend[1]"].mechs["kleak"]["gk"], list)
    assert ct.spike_source == ("soma", 0.5) and ct.sections["soma"].threshold == -10
    ref = reference(path, "Pyr", "soma", args=[18.0],
                    lib=compiled_library(imp.mod_files, trusted=True))
    assert ref.max() > 0  # it spikes
    for mode in ("snapshot", "template"):
        assert_same(nethub_trace(tmp_path, imp, "soma", mode), ref)


def test_bluepyopt_style_python_class(tmp_path):
    path = cells.write(tmp_path, "l5.py", cells.BLUEPYOPT)
    kw = {"gid": 3, "gbar_scale": 1.2}
    imp = read_cell_template(path, "L5Cell", trusted=True, kwargs=kw)
    ct = imp.cell_type
    assert list(ct.sections) == ["soma", "apic[0]", "apic[1]", "dend"]
    assert ct.section_lists == {"apic": ["apic[0]", "apic[1]"], "apical": ["apic[0]", "apic[1]"],
                                "basal": ["dend"],
                                "somatic": ["soma"]}
    assert ct.sections["apic[0]"].geom["cm"] == 2.0
    assert ct.sections["apic[1]"].point_processes == [] and \
        ct.sections["apic[0]"].point_processes[0]["mod"] == "ExpSyn"
    assert [f.role for f in imp.files.values()] == ["template"]
    ref = reference(path, "L5Cell", "soma", kwargs=kw, kind="python")
    for mode in ("snapshot", "template"):
        assert_same(nethub_trace(tmp_path, imp, "soma", mode), ref)


def test_template_that_needs_template_mode(tmp_path):
    path = cells.write(tmp_path, "playful.hoc", cells.NEEDS_TEMPLATE)
    imp = read_cell_template(path, "Playful", trusted=True, args=[7])
    assert imp.cell_type.run_mode == "template" and imp.max_dv > 1.0
    ref = reference(path, "Playful", "soma", args=[7])
    assert_same(nethub_trace(tmp_path, imp, "soma"), ref)
    snap = nethub_trace(tmp_path, imp, "soma", "snapshot")  # the snapshot misses the handler
    assert abs(snap[: len(ref)] - ref[: len(snap)]).max() > 1.0


def test_bmtk_biophys1_built_by_a_python_function(tmp_path):
    swc, params = cells.bmtk_inputs(tmp_path)
    template = cells.bmtk_template("Biophys1.hoc")
    path = cells.write(tmp_path, "biophys.py", cells.BIOPHYS_FUNCTION)
    args = [str(template), str(swc), str(params)]
    imp = read_cell_template(path, "biophys_cell", trusted=True, args=args)
    ct = imp.cell_type
    assert ct.run_mode == "snapshot" and "soma[0]" in ct.sections
    assert ct.sections["soma[0]"].pt3d is not None and "hh" in ct.sections["axon[0]"].mechs
    assert set(ct.section_lists) >= {"somatic", "basal", "apical", "axonal", "all"}
    # the files its arguments name travel with it; template mode runs from those copies
    assert sorted(f.role for f in imp.files.values()) == ["morphology", "params", "template",
                                                          "template"]
    assert ct.template["arg_files"] == {"0": "templates/biophys/Biophys1.hoc",
                                        "1": "templates/biophys/cell.swc",
                                        "2": "templates/biophys/params.json"}
    ref = reference(path, "biophys_cell", "soma[0]", args=args, kind="python")
    swc.unlink()  # template mode reads the copies the store carries
    params.unlink()
    for mode in ("snapshot", "template"):
        assert_same(nethub_trace(tmp_path, imp, "soma[0]", mode), ref)


def test_bmtk_bioaxonstub_hoc(tmp_path):
    swc, _ = cells.bmtk_inputs(tmp_path)
    loader = cells.write(tmp_path, "stub.hoc", cells.STUB_LOADER.format(
        path=cells.bmtk_template("BioAxonStub.hoc")))
    imp = read_cell_template(loader, "BioAxonStub", trusted=True, args=[str(swc)])
    ct = imp.cell_type
    assert [n for n in ct.sections if n.startswith("axon")] == ["axon[0]", "axon[1]"]
    ref = reference(loader, "BioAxonStub", "soma[0]", args=[str(swc)])
    for mode in ("snapshot", "template"):
        assert_same(nethub_trace(tmp_path, imp, "soma[0]", mode), ref)


def test_template_mode_places_points_like_the_snapshot(tmp_path):
    """Position, rotation and importCellParams' soma shift move a template-mode cell's 3-D
    points exactly as the snapshot's."""
    import dataclasses

    import numpy as np
    from neuron import h

    from nethub.network import Network
    from nethub.runconfig import RunConfig
    from nethub.sim.engine import Engine

    path = cells.write(tmp_path, "pyr.hoc", cells.plain_hh(cells.MODELDB))
    imp = read_cell_template(path, "Pyr", trusted=True, args=[18.0], mode="snapshot",
                             mod_files={})
    shift = [-9.0, 0.0, 0.0]
    snap = imp.cell_type
    soma = snap.sections["soma"]
    moved = dataclasses.replace(soma, pt3d=soma.pt3d + np.array([*shift, 0.0]))
    snap = dataclasses.replace(snap, sections={**snap.sections, "soma": moved})
    tmpl = dataclasses.replace(imp.cell_type, run_mode="template",
                               template={**imp.cell_type.template, "offset": shift})
    eng = Engine(h, h.ParallelContext(), Network(files=imp.files), RunConfig())
    pos, angle = np.array([100.0, 50.0, -20.0]), (0.3, 1.1, -0.4)
    a = eng._compartmental(900001, snap, pos, None, angle)
    b = eng._compartmental(900002, tmpl, pos, None, angle)
    for name in ("soma", "axon"):
        pa = [[f(i, sec=a.secs[name]) for f in (h.x3d, h.y3d, h.z3d, h.diam3d)]
              for i in range(int(h.n3d(sec=a.secs[name])))]
        pb = [[f(i, sec=b.secs[name]) for f in (h.x3d, h.y3d, h.z3d, h.diam3d)]
              for i in range(int(h.n3d(sec=b.secs[name])))]
        np.testing.assert_allclose(pb, pa, rtol=0, atol=1e-4)  # pt3d are float32 in NEURON
    h.ParallelContext().gid_clear()


def test_files_the_template_loads_travel_with_it(tmp_path):
    """A HOC template's relative ``load_file`` and a Python cell's sibling module are embedded;
    template mode runs them from the store (the originals are gone)."""
    helpers = cells.write(tmp_path, "lib/helpers.hoc", cells.HELPERS)
    hoc = cells.write(tmp_path, "helped.hoc", cells.WITH_HELPERS)
    params = cells.write(tmp_path, "l5params.py", cells.PY_PARAMS)
    py = cells.write(tmp_path, "small.py", cells.PY_WITH_MODULE)
    runs = []
    for path, name, kind in ((hoc, "Helped", "hoc"), (py, "Small", "python")):
        imp = read_cell_template(path, name, trusted=True)
        runs.append((imp, reference(path, name, "soma", kind=kind)))
    assert runs[0][0].cell_type.template["companions"] == {
        "lib/helpers.hoc": "templates/helped/lib/helpers.hoc"}
    assert runs[1][0].cell_type.template["companions"] == {
        "l5params.py": "templates/small/l5params.py"}
    for f in (helpers, hoc, params, py):
        f.unlink()
    for imp, ref in runs:
        assert_same(nethub_trace(tmp_path, imp, "soma", "template"), ref)
