"""HOC cell templates read by :func:`nethub.converters.hoc.read_hoc_template` (our own small
templates): the imported cell type simulated by nethub gives the soma trace of the template run
directly in NEURON; no trust -> refusal; a syntax error -> file and line; the caller's NEURON is
untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from neuron import h

import nethub
from nethub.converters.hoc import read_hoc_template
from nethub.errors import ConversionError, UntrustedCodeError
from nethub.runner import simulate

from .conftest import serial_env

pytestmark = pytest.mark.neuron

BALL_STICK = """
begintemplate BallStick
public soma, dend, all
create soma, dend
objref all
proc init() {
  all = new SectionList()
  forall all.append()
  soma { L = 18.8  diam = 18.8  Ra = 123  insert hh }
  dend { L = 200  diam = 1  nseg = 5  Ra = 100  cm = 1.5  insert pas  g_pas = 0.0002  e_pas = -70 }
  connect dend(0), soma(1)
}
endtemplate BallStick
"""

THREE = """
begintemplate Three
public soma, dend, spkdet
create soma, dend[2]
objref spkdet, nil, stim
proc init() {
  soma { nseg = 1  insert hh
    pt3dclear()  pt3dadd(0, 0, 0, 15)  pt3dadd(15, 0, 0, 15) }
  for i = 0, 1 dend[i] { nseg = 4  insert hh  insert pas
    pt3dclear()  pt3dadd(15, 0, 0, 2)  pt3dadd(60, 10*i, 5, 1.5)  pt3dadd(120, 20*i, 10, 1) }
  connect dend[0](0), soma(1)
  connect dend[1](1), soma(0.5)
  dend[0] for (x, 0) { gnabar_hh(x) = 0.12 * (1 - x)  g_pas(x) = 1e-4 * (1 + x) }
  soma spkdet = new NetCon(&v(0.5), nil)
  spkdet.threshold = -15
  dend[1] stim = new IClamp(0.25)
  stim.del = 2  stim.dur = 1  stim.amp = 0.3
}
endtemplate Three
"""

CUSTOM = """
begintemplate Leaky
public soma
create soma
proc init() {
  soma { L = 20  diam = $1  insert hh  insert myleak  gl_myleak = 3e-4  el_myleak = -60 }
}
endtemplate Leaky
"""

MYLEAK = """
NEURON { SUFFIX myleak  NONSPECIFIC_CURRENT i  RANGE gl, el }
UNITS { (mA) = (milliamp)  (mV) = (millivolt) }
PARAMETER { gl = 1e-4 (S/cm2)  el = -65 (mV) }
ASSIGNED { v (mV)  i (mA/cm2) }
BREAKPOINT { i = gl * (v - el) }
"""

REF = """
import json, sys
from neuron import h
h.load_file("stdrun.hoc")
if LIB:
    h.nrn_load_dll(LIB)
h.load_file(PATH)
cell = getattr(h, NAME)(*ARGS)
ns = h.NetStim()
ns.interval, ns.number, ns.start, ns.noise = 20.0, 3, 5, 0
syn = h.ExpSyn(cell.soma(0.5))
syn.tau, syn.e = 2.0, 0
nc = h.NetCon(ns, syn)
nc.weight[0], nc.delay = 0.01, 1
v = h.Vector().record(cell.soma(0.5)._ref_v, 0.1)
h.dt = 0.025
h.finitialize(-65)
h.continuerun(60)
print(json.dumps(list(v)))
"""

CFG = {"duration": 60, "dt": 0.025, "recordStep": 0.1, "hParams": {"v_init": -65},
       "recordTraces": {"V_soma": {"sec": "soma", "loc": 0.5, "var": "v"}},
       "recordCells": ["C"]}


def _reference(path, name, args=(), lib="") -> np.ndarray:
    code = (REF.replace("LIB", repr(str(lib))).replace("PATH", repr(str(path)))
            .replace("NAME", repr(name)).replace("ARGS", repr(list(args))))
    proc = subprocess.run([sys.executable, "-c", code], env=serial_env(), capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return np.array(json.loads(proc.stdout.strip().splitlines()[-1]))


def _network(imported) -> nethub.Network:
    spec = {
        "popParams": {"S": {"cellModel": "NetStim", "numCells": 1, "rate": 50, "noise": 0,
                            "start": 5, "number": 3},
                      "C": {"cellType": "T", "numCells": 1}},
        "cellParams": {"T": {"secs": {"soma": {"geom": {"L": 10.0, "diam": 10.0}}}}},
        "synMechParams": {"exc": {"mod": "ExpSyn", "tau": 2.0, "e": 0}},
        "connParams": {"S->C": {"preConds": {"pop": "S"}, "postConds": {"pop": "C"},
                                "synMech": "exc", "weight": 0.01, "delay": 1,
                                "sec": "soma", "loc": 0.5}},
    }
    net = nethub.build(spec, CFG)
    return net.replace(cell_types={**net.cell_types, "T": imported.cell_type},
                       mod_files={**net.mod_files, **imported.mod_files},
                       files={**net.files, **imported.files})


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _same_trace(tmp_path, path, name, args=(), mods=None):
    imported = read_hoc_template(path, name, trusted=True, args=args, mod_files=mods, name="T")
    res = simulate(_network(imported), output=tmp_path / "out.h5", trusted=True)
    idx = res.traces.index
    got = res.traces.data[int(np.flatnonzero(np.asarray(idx["gid"]) == 1)[0])]
    lib = ""
    if mods:
        from nethub.nmodl.compile import compiled_library
        lib = compiled_library(mods, trusted=True)
    ref = _reference(path, name, args, lib)
    n = min(len(got), len(ref))
    assert n > 500 and ref.max() > 0  # the cell spikes
    np.testing.assert_allclose(got[:n], ref[:n], rtol=0, atol=1e-9)
    stored = nethub.load(tmp_path / "out.h5")  # the cell type, template and mods travel
    assert stored.cell_types["T"].equals(imported.cell_type)
    assert stored.files_with_role("template") and stored.mod_files == imported.mod_files
    return imported


def test_ball_and_stick(tmp_path):
    imp = _same_trace(tmp_path, _write(tmp_path, "bs.hoc", BALL_STICK), "BallStick")
    ct = imp.cell_type
    assert list(ct.sections) == ["soma", "dend"]
    dend = ct.sections["dend"]
    assert (dend.parent, dend.parent_x, dend.child_x) == ("soma", 1.0, 0.0)
    assert dend.geom["nseg"] == 5 and dend.geom["cm"] == 1.5 and dend.geom["Ra"] == 100
    assert dend.mechs["pas"] == {"g": 0.0002, "e": -70.0}
    assert "na" in ct.sections["soma"].ions and "hh" in ct.sections["soma"].mechs
    assert ct.section_lists == {"all": ["soma", "dend"]}
    assert [f.role for f in imp.files.values()] == ["template"]
    assert imp.files["templates/bs.hoc"].text() == textwrap.dedent(BALL_STICK)


def test_pt3d_arrays_non_uniform_and_spike_detector(tmp_path):
    imp = _same_trace(tmp_path, _write(tmp_path, "three.hoc", THREE), "Three")
    ct = imp.cell_type
    assert list(ct.sections) == ["soma", "dend[0]", "dend[1]"]
    d0, d1 = ct.sections["dend[0]"], ct.sections["dend[1]"]
    assert (d1.parent, d1.parent_x, d1.child_x) == ("soma", 0.5, 1.0)
    assert d0.pt3d.shape == (3, 4) and d0.pt3d[1].tolist() == [60.0, 0.0, 5.0, 1.5]
    gna = d0.mechs["hh"]["gnabar"]
    assert isinstance(gna, list) and len(gna) == 4 and gna[0] > gna[-1]
    assert d1.mechs["hh"]["gnabar"] == 0.12
    assert d1.point_processes == [{"mod": "IClamp", "loc": 0.375, "label": "IClamp_0",
                                   "del": 2.0, "dur": 1.0, "amp": 0.3}]
    assert ct.spike_source == ("soma", 0.5) and ct.sections["soma"].threshold == -15


def test_custom_mod_file(tmp_path):
    mods = {"myleak.mod": MYLEAK}
    imp = _same_trace(tmp_path, _write(tmp_path, "leaky.hoc", CUSTOM), "Leaky", args=[17.5],
                      mods=mods)
    soma = imp.cell_type.sections["soma"]
    assert soma.mechs["myleak"] == {"gl": 3e-4, "el": -60.0} and soma.geom["diam"] == 17.5
    assert imp.mod_files == mods and imp.cell_type.mod_files == ["myleak.mod"]


def test_no_trust_is_refused(tmp_path):
    path = _write(tmp_path, "bs.hoc", BALL_STICK)
    with pytest.raises(UntrustedCodeError, match=r"bs\.hoc.*--trust"):
        read_hoc_template(path, "BallStick")


def test_syntax_error_names_file_and_line(tmp_path):
    bad = BALL_STICK.replace("insert hh }", "insert hh \n  x = = 3 }")
    path = _write(tmp_path, "bad.hoc", bad)
    with pytest.raises(ConversionError, match=r"bad\.hoc:\d+") as err:
        read_hoc_template(path, "BallStick", trusted=True, timeout=20)
    line = int(str(err.value).split("bad.hoc:")[1].split(":")[0])
    assert "x = = 3" in path.read_text().splitlines()[line - 1]


def test_caller_neuron_state_untouched(tmp_path):
    glob = BALL_STICK.replace("proc init() {", "proc init() {\n  celsius = 34")
    path = _write(tmp_path, "warm.hoc", glob)
    before = (len(list(h.allsec())), h.celsius, h.dt, os.getcwd())
    imp = read_hoc_template(path, "BallStick", trusted=True)
    assert (len(list(h.allsec())), h.celsius, h.dt, os.getcwd()) == before
    assert imp.globals_changed == {"celsius": 34.0}
    assert len(imp.cell_type.sections) == 2


def test_endless_template_is_stopped(tmp_path):
    path = _write(tmp_path, "loop.hoc", BALL_STICK.replace("proc init() {",
                                                            "proc init() {\n  while (1) { }"))
    with pytest.raises(ConversionError, match=r"loop\.hoc.*longer than 2 s"):
        read_hoc_template(path, "BallStick", trusted=True, timeout=2)


def test_runtime_error_and_top_level_sections(tmp_path):
    path = _write(tmp_path, "top.hoc", "create axon\n" + BALL_STICK)
    imp = read_hoc_template(path, "BallStick", trusted=True)
    assert list(imp.cell_type.sections) == ["soma", "dend"]  # not the file's own 'axon'
    with pytest.raises(ConversionError, match=r"top\.hoc.*no template named 'Nope'"):
        read_hoc_template(path, "Nope", trusted=True)


def test_per_segment_geometry_is_refused_not_lost(tmp_path):
    text = BALL_STICK.replace("e_pas = -70 }", "e_pas = -70  cm(0.9) = 3 }")
    path = _write(tmp_path, "cm.hoc", text)
    with pytest.raises(ConversionError, match=r"section dend: per-segment cm"):
        read_hoc_template(path, "BallStick", trusted=True)
