"""Child process of :mod:`nethub.converters.hoc`: instantiate one HOC cell template in a fresh
NEURON and write what it built as JSON. Launched as ``python -m nethub.sim.templateread
REQUEST.json OUT.json`` (converters may not import the simulator; they run it); it imports
NEURON and nothing else of nethub.
"""

from __future__ import annotations

import json
import sys

from neuron import h

_SKIP = {"morphology", "capacitance"}
_GLOBALS = ("celsius", "dt", "tstop", "v_init", "secondorder")
_HOC_ATTRS = {"baseattr", "hname", "hocobjptr", "same"}


def _uniform(values: list) -> object:
    return values[0] if all(v == values[0] for v in values) else values


def _local_name(sec, prefix: str) -> str:
    name = sec.name()
    return name[len(prefix):] if name.startswith(prefix) else name


def _mech_names() -> tuple[list[str], list[str]]:
    names = ([], [])
    for kind in (0, 1):
        mt = h.MechanismType(kind)
        ref = h.ref("")
        for i in range(int(mt.count())):
            mt.select(i)
            mt.selected(ref)
            names[kind].append(ref[0])
    return names


def _params(name: str) -> list[str]:
    ms = h.MechanismStandard(name, 1)
    ref = h.ref("")
    out = []
    for i in range(int(ms.count())):
        ms.name(ref, i)
        out.append(ref[0])
    return out


def _section(sec, prefix: str, density: list[str]) -> dict:
    segs = list(sec)
    out: dict = {"geom": {"L": sec.L, "nseg": sec.nseg, "Ra": sec.Ra,
                          "cm": _uniform([s.cm for s in segs])},
                 "mechs": {}, "ions": {}, "point_processes": []}
    n3d = int(h.n3d(sec=sec))
    if n3d:
        out["pt3d"] = [[h.x3d(i, sec=sec), h.y3d(i, sec=sec), h.z3d(i, sec=sec),
                        h.diam3d(i, sec=sec)] for i in range(n3d)]
    else:
        out["geom"]["diam"] = _uniform([s.diam for s in segs])
    ps = sec.parentseg()
    if ps is not None:
        out["parent"] = _local_name(ps.sec, prefix)
        out["parent_x"] = ps.x
        out["child_x"] = h.section_orientation(sec=sec)
    for name in density:
        if name in _SKIP or not sec.has_membrane(name):
            continue
        if name.endswith("_ion"):
            ion = name[:-4]
            out["ions"][ion] = {"e": _uniform([getattr(s, "e" + ion) for s in segs])}
            continue
        suffix = "_" + name
        out["mechs"][name] = {p[:-len(suffix)] if p.endswith(suffix) else p:
                              _uniform([getattr(s, p) for s in segs]) for p in _params(name)}
    return out


def _point_processes(secs: dict, point: list[str]) -> None:
    counts: dict[str, int] = {}
    for sec, out in secs.values():
        for seg in sec:
            for pp in seg.point_processes():
                mod = pp.hname().split("[")[0]
                if mod not in point:
                    continue
                label = f"{mod}_{counts.setdefault(mod, 0)}"
                counts[mod] += 1
                loc = pp.get_loc()  # pushes the section
                h.pop_section()
                d = {"mod": mod, "loc": loc, "label": label}
                for p in _params(mod):
                    d[p] = getattr(pp, p)
                out["point_processes"].append(d)


def _spike_source(cell, secs: dict, prefix: str) -> dict | None:
    ncs = [nc for nc in h.List("NetCon") if nc.preseg() is not None]
    if not ncs and hasattr(cell, "connect2target"):
        ref = h.ref(None)
        cell.connect2target(None, ref)
        ncs = [ref[0]] if ref[0] is not None and ref[0].preseg() is not None else []
    for nc in ncs:
        seg = nc.preseg()
        name = _local_name(seg.sec, prefix)
        if name in secs:
            return {"sec": name, "loc": seg.x, "threshold": nc.threshold}
    return None


def _section_lists(cell, prefix: str) -> dict:
    out = {}
    for attr in dir(cell):
        if attr.startswith("_") or attr in _HOC_ATTRS:
            continue
        try:
            obj = getattr(cell, attr)
        except (LookupError, RuntimeError, TypeError):
            continue
        hname = getattr(obj, "hname", None)
        if callable(hname) and hname().startswith("SectionList["):
            out[attr] = [_local_name(sec, prefix) for sec in obj]
    return out


def read(req: dict) -> dict:
    """Instantiate the template of ``req`` and describe the cell it built."""
    if req.get("library"):
        h.nrn_load_dll(req["library"])
    h.load_file("stdrun.hoc")
    before = {g: getattr(h, g) for g in _GLOBALS}
    if not h.load_file(req["path"]):
        raise RuntimeError(f"{req['path']}: NEURON could not load the file")
    if not hasattr(h, req["template"]):
        raise RuntimeError(f"{req['path']}: no template named {req['template']!r}")
    density, point = _mech_names()
    cell = getattr(h, req["template"])(*req.get("args", []))
    prefix = cell.hname() + "."
    secs = {}
    for sec in h.allsec():
        if not sec.name().startswith(prefix):
            continue  # a section the file created outside the template
        secs[_local_name(sec, prefix)] = (sec, _section(sec, prefix, density))
    _point_processes(secs, point)
    return {"sections": {k: v for k, (_, v) in secs.items()},
            "spike_source": _spike_source(cell, secs, prefix),
            "section_lists": _section_lists(cell, prefix),
            "globals_changed": {g: getattr(h, g) for g in _GLOBALS if getattr(h, g) != before[g]}}


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        req = json.load(f)
    try:
        out = read(req)
    except Exception as exc:  # reported to the parent, which raises ConversionError
        sys.stderr.write(f"\ntemplateread error: {exc}\n")
        return 1
    with open(argv[2], "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
