"""Cell templates of the faithfulness tests, written for them in each common style (our own
code; the BMTK templates are found in the installed bmtk package at test time, never copied):
a ModelDB-style HOC template with its own .mod in ``mod/``, a BluePyOpt-style Python class,
a HOC template whose behaviour needs template mode (FInitializeHandler, Vector.play, a
per-instance random parameter), a Python function that builds BMTK's ``Biophys1.hoc`` from an
SWC and applies a parameter JSON as BMTK's perisomatic setter does, and BMTK's
``BioAxonStub.hoc`` from a HOC file that loads it."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

MODELDB = """
// A ModelDB-style cell: soma + dendrite array + axon, own leak mechanism, spike detector
begintemplate Pyr
public soma, dend, axon, all, basal, spkdet, connect2target
create soma, dend[3], axon
objref all, basal, spkdet, nil
proc init() { local i
  all = new SectionList()  basal = new SectionList()
  soma { pt3dclear()  pt3dadd(0, 0, 0, $1)  pt3dadd($1, 0, 0, $1)
         nseg = 1  insert hh  insert kleak  gk_kleak = 2e-5 }
  for i = 0, 2 dend[i] { nseg = 5  L = 150 + 50*i  diam = 1.2  insert pas  insert kleak
                         g_pas = 5e-5  e_pas = -68  basal.append() }
  for i = 0, 2 connect dend[i](0), soma(1)
  axon { L = 200  diam = 0.8  nseg = 9  insert hh  gnabar_hh = 0.15 }
  connect axon(0), soma(0)
  dend[1] for (x, 0) { gk_kleak(x) = 1e-5 * (1 + 3*x) }
  forall all.append()
  soma spkdet = new NetCon(&v(0.5), nil)
  spkdet.threshold = -10
}
proc connect2target() { soma $o2 = new NetCon(&v(0.5), $o1)  $o2.threshold = -10 }
endtemplate Pyr
"""

KLEAK = """
NEURON { SUFFIX kleak  USEION k READ ek WRITE ik  RANGE gk }
UNITS { (mA) = (milliamp)  (mV) = (millivolt) }
PARAMETER { gk = 1e-5 (S/cm2) }
ASSIGNED { v (mV)  ek (mV)  ik (mA/cm2) }
BREAKPOINT { ik = gk * (v - ek) }
"""

BLUEPYOPT = """
# A BluePyOpt-style cell class: named sections with cell=self, SectionLists per region,
# parameters by region and a distance-dependent conductance
from neuron import h

h.load_file("stdrun.hoc")


class L5Cell:
    def __init__(self, gid=0, gbar_scale=1.0, celsius=None):
        self.gid = gid
        self.soma = h.Section(name="soma", cell=self)
        self.apic = [h.Section(name=f"apic[{i}]", cell=self) for i in range(2)]
        self.dend = h.Section(name="dend", cell=self)
        self.apic[0].connect(self.soma(1))
        self.apic[1].connect(self.apic[0](1))
        self.dend.connect(self.soma(0))
        self.somatic, self.apical, self.basal = h.SectionList(), h.SectionList(), []
        self.somatic.append(self.soma)
        for s in self.apic:
            self.apical.append(s)
        self.basal.append(self.dend)
        self.soma.L = self.soma.diam = 20
        for s in self.apic:
            s.L, s.diam, s.nseg = 300, 2, 11
        self.dend.L, self.dend.diam, self.dend.nseg = 200, 1.5, 7
        for s in [self.soma, *self.apic, self.dend]:
            s.Ra, s.cm = 100, 1.0
            s.insert("pas")
            s.g_pas, s.e_pas = 3e-5, -70
        self.soma.insert("hh")
        self.soma(0.5).hh.gnabar = 0.12 * gbar_scale
        self.apic[0].cm = 2.0
        h.distance(0, self.soma(0.5))
        for s in self.apic:
            s.insert("hh")
            for seg in s:
                seg.hh.gkbar = 0.036 * max(0.1, 1 - h.distance(seg) / 600)
        if celsius is not None:
            h.celsius = celsius
        self.syn = h.ExpSyn(self.apic[0](0.5))
        self.syn.tau = 3
"""

NEEDS_TEMPLATE = """
// A template a snapshot cannot capture: a FInitializeHandler changes gnabar at every
// initialisation, Vector.play drives a clamp, and each instance draws its own leak
begintemplate Playful
public soma, dend, stim, fih, rnd, set_g
create soma, dend
objref stim, tvec, avec, fih, rnd, this
proc init() {
  soma { L = 20  diam = 20  insert hh }
  dend { L = 300  diam = 1  nseg = 7  insert pas  e_pas = -65 }
  connect dend(0), soma(1)
  rnd = new Random($1)
  rnd.uniform(1e-5, 5e-5)
  dend.g_pas = rnd.repick()
  fih = new FInitializeHandler("set_g()", this)
  soma stim = new IClamp(0.5)
  stim.del = 0  stim.dur = 1e9
  tvec = new Vector(3)  avec = new Vector(3)
  tvec.x[0] = 0  tvec.x[1] = 20  tvec.x[2] = 60
  avec.x[0] = 0  avec.x[1] = 0.05  avec.x[2] = 0
  avec.play(&stim.amp, tvec, 1)
}
proc set_g() { soma.gnabar_hh = 0.2 }
endtemplate Playful
"""

BIOPHYS_FUNCTION = """
# Build BMTK's Biophys1 from an SWC and apply a parameter JSON as BMTK's perisomatic setter
# does (passive everywhere, channels by section type)
import json
from neuron import h

h.load_file("stdrun.hoc")
h.load_file("import3d.hoc")


def biophys_cell(template, swc, params):
    h.load_file(template)
    cell = h.Biophys1(swc)
    with open(params) as f:
        p = json.load(f)
    for sec in cell.all:
        sec.Ra = p["passive"][0]["ra"]
        sec.insert("pas")
        sec.e_pas = p["passive"][0]["e_pas"]
        sec.nseg = 1 + 2 * int(sec.L / 40)
    for entry in p["genome"]:
        secs = {"soma": cell.somatic, "dend": cell.basal, "apic": cell.apical,
                "axon": cell.axonal}[entry["section"]]
        for sec in secs:
            if entry["mechanism"]:
                sec.insert(entry["mechanism"])
            setattr(sec, entry["name"], entry["value"])
    return cell
"""

STUB_LOADER = """
load_file("import3d.hoc")
load_file("{path}")
"""

SWC = """# generated by tests/templates/cells.py: soma, two basal dendrites, an apical, an axon
1 1 0 0 0 8 -1
2 3 -8 0 0 1.5 1
3 3 -60 -20 0 1.0 2
4 3 -110 -50 5 0.8 3
5 3 8 -5 0 1.2 1
6 3 70 -30 -5 0.9 5
7 4 0 8 0 2.0 1
8 4 0 120 0 1.6 7
9 4 10 260 10 1.0 8
10 2 0 -8 0 1.0 1
11 2 0 -60 0 0.8 10
"""

PARAMS = {"passive": [{"ra": 138.28, "e_pas": -70.0}],
          "genome": [{"section": "soma", "name": "gnabar_hh", "value": 0.12, "mechanism": "hh"},
                     {"section": "soma", "name": "g_pas", "value": 5e-5, "mechanism": ""},
                     {"section": "dend", "name": "g_pas", "value": 4e-5, "mechanism": ""},
                     {"section": "apic", "name": "g_pas", "value": 3e-5, "mechanism": ""},
                     {"section": "axon", "name": "gnabar_hh", "value": 0.2, "mechanism": "hh"},
                     {"section": "axon", "name": "cm", "value": 1.2, "mechanism": ""}]}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def bmtk_template(name: str) -> Path:
    """A template file shipped in the installed bmtk package (found, not copied)."""
    spec = importlib.util.find_spec("bmtk")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "simulator" / "bionet" / "default_templates" / name
    assert path.is_file(), path
    return path


def modeldb(folder: Path) -> Path:
    write(folder, "mod/kleak.mod", KLEAK)
    return write(folder, "pyr.hoc", MODELDB)


def bmtk_inputs(folder: Path) -> tuple[Path, Path]:
    swc = write(folder, "cell.swc", SWC)
    params = folder / "params.json"
    params.write_text(json.dumps(PARAMS))
    return swc, params


def plain_hh(text: str) -> str:
    """The ModelDB template without its own mechanism (for NetPyNE, which loads none)."""
    return (text.replace("  insert kleak  gk_kleak = 2e-5", "").replace(" insert kleak", "")
            .replace("  dend[1] for (x, 0) { gk_kleak(x) = 1e-5 * (1 + 3*x) }\n", ""))


HELPERS = """
// helpers loaded by a template with a relative load_file()
func leak_g() { return 4e-5 }
"""

WITH_HELPERS = """
load_file("lib/helpers.hoc")
begintemplate Helped
public soma, dend
external leak_g
create soma, dend
proc init() {
  soma { L = 25  diam = 25  insert hh }
  dend { L = 250  diam = 1.5  nseg = 9  insert pas  g_pas = leak_g()  e_pas = -70 }
  connect dend(0), soma(1)
}
endtemplate Helped
"""

PY_PARAMS = "GNA = 0.15\n"

PY_WITH_MODULE = """
from neuron import h
from l5params import GNA


class Small:
    def __init__(self):
        self.soma = h.Section(name="soma", cell=self)
        self.soma.L = self.soma.diam = 20
        self.soma.insert("hh")
        self.soma.gnabar_hh = GNA
"""
