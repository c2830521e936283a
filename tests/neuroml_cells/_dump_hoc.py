"""Test helper, run by ``conftest.py`` in a folder where jNeuroML wrote and compiled a model:
instantiates jNeuroML's HOC cell templates in NEURON and prints, as JSON, every section as
NEURON holds it (the reference the converted cell types are compared with).

Usage: ``python _dump_hoc.py OUT.json CELL [CELL ...]`` (run in jNeuroML's output folder, whose
``x86_64`` mechanisms NEURON loads on import).
"""

from __future__ import annotations

import json
import sys

from neuron import h

PARAMS = ("gmax", "e", "permeability", "vShift")


def _mechs(sec) -> dict:
    out: dict = {}
    for seg in sec:
        for mech in seg:
            name = mech.name()
            if name.endswith("_ion"):
                continue
            vals = out.setdefault(name, {})
            for p in PARAMS:
                try:
                    v = getattr(mech, p)
                except (AttributeError, NameError):
                    continue
                vals.setdefault(p, []).append(float(v))
    return out


def _ions(sec) -> dict:
    out: dict = {}
    for ion in ("na", "k", "ca"):
        if h.ismembrane(f"{ion}_ion", sec=sec):
            out[ion] = {"e": [float(getattr(seg, "e" + ion)) for seg in sec]}
    return out


def dump(cell_name: str) -> list[dict]:
    h.load_file(f"{cell_name}.hoc")
    cell = getattr(h, cell_name)()
    prefix = f"{cell_name}[0]."
    out = []
    for sec in h.allsec():
        if not sec.name().startswith(prefix):
            continue
        ps = sec.parentseg()
        out.append({
            "name": sec.name()[len(prefix):],
            "parent": None if ps is None else ps.sec.name()[len(prefix):],
            "parent_x": None if ps is None else float(h.parent_connection(sec=sec)),
            "nseg": int(sec.nseg), "L": float(sec.L), "Ra": float(sec.Ra),
            "cm": [float(seg.cm) for seg in sec],
            "pt3d": [[float(sec.x3d(i)), float(sec.y3d(i)), float(sec.z3d(i)),
                      float(sec.diam3d(i))] for i in range(int(sec.n3d()))],
            "mechs": _mechs(sec), "ions": _ions(sec)})
    del cell
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:  # NEURON prints to stdout: JSON goes to a file
        json.dump({name: dump(name) for name in sys.argv[2:]}, f)
