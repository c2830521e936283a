"""Child process of :mod:`nethub.converters.hoc`: instantiate one cell template (a HOC
``begintemplate`` or a Python class / function / object) in a fresh NEURON and write what it
built as JSON. Launched as ``python -m nethub.sim.templateread REQUEST.json OUT.json``
(converters may not import the simulator; they run it).

Requests (``op``):

* ``"read"``: load the file, instantiate the template, describe the cell (sections, topology,
  geometry, pt3d, mechanisms per segment, ions, point processes, section lists, spike source,
  the globals loading and instantiating changed) and, with a ``protocol``, the soma trace of a
  *fresh* instance under current clamp (:mod:`nethub.sim.templateprobe`);
* ``"snapshot-trace"``: build a cell type (the snapshot) with the simulator's own code and
  record the same protocol, so the parent can compare the two.
"""

from __future__ import annotations

import json
import sys

from neuron import h

from . import templateprobe
from .templatenames import (
    HOC_ATTRS,
    instantiate,
    is_seclist,
    is_section,
    load_python,
    local_name,
    netpyne_name,
    reachable_sections,
    resolve_path,
)

_SKIP = {"morphology", "capacitance"}
#: NEURON globals always compared (NetPyNE's getGlobals adds every GLOBAL of every mechanism)
_GLOBALS = ("celsius", "dt", "tstop", "v_init", "secondorder", "clamp_resist")


def _uniform(values: list) -> object:
    return values[0] if all(v == values[0] for v in values) else values


# ----------------------------------------------------------------------- mechanisms
def _mech_names() -> tuple[list[str], list[str]]:
    names: tuple[list[str], list[str]] = ([], [])
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


def global_values(mechs: list[str]) -> dict[str, float]:
    """The scalar NEURON globals (NetPyNE's ``getGlobals``: ``celsius``, ``v_init``,
    ``clamp_resist``, ... and every variable ending in ``_<mechanism>``)."""
    endings = tuple("_" + m for m in mechs)
    out = {}
    for k in dir(h):
        if not (k in _GLOBALS or k.endswith(endings)):
            continue
        try:
            v = getattr(h, k)
        except (LookupError, RuntimeError, TypeError, ValueError):
            continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(v)
    return out


# ----------------------------------------------------------------------- one section
#: NEURON's values of extracellular's per-layer arrays after ``insert``.
_EXTRACELLULAR_LAYERS = {"xraxial": 1e9, "xg": 1e9, "xc": 0.0}


def _extracellular(segs: list, where: str) -> dict:
    """NEURON's ``extracellular``: ``e`` (as any parameter); the per-layer arrays must keep
    NEURON's values (the store has no array parameters)."""
    layers = range(int(h.nlayer_extracellular()))
    for name, value in _EXTRACELLULAR_LAYERS.items():
        got = {float(getattr(s, name)[k]) for s in segs for k in layers}
        if got != {value}:
            raise RuntimeError(f"{where}: extracellular {name} = {sorted(got)} (only NEURON's "
                               f"{value} in every layer is carried)")
    return {"e": _uniform([s.extracellular.e for s in segs])}


def _section(sec, names: dict[str, str], density: list[str]) -> dict:
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
        out["parent"] = names.get(ps.sec.hoc_internal_name(), ps.sec.name())
        out["parent_x"] = ps.x
        out["child_x"] = h.section_orientation(sec=sec)
    for name in density:
        if name in _SKIP or not sec.has_membrane(name):
            continue
        if name.endswith("_ion"):
            out["ions"][name[:-4]] = _ion(name[:-4], segs)
            continue
        if name == "extracellular":
            out["mechs"][name] = _extracellular(segs, sec.name())
            continue
        suffix = "_" + name
        out["mechs"][name] = {p[:-len(suffix)] if p.endswith(suffix) else p:
                              _uniform([getattr(s, p) for s in segs]) for p in _params(name)}
    return out


def _ion(ion: str, segs: list) -> dict:
    out = {"e": _uniform([getattr(s, "e" + ion) for s in segs])}
    for kind in ("i", "o"):
        try:
            out[kind] = _uniform([getattr(s, ion + kind) for s in segs])
        except (AttributeError, NameError):
            pass  # an ion without concentrations (e.g. a nonspecific one)
    return out


def _point_processes(secs: list, point: list[str]) -> None:
    counts: dict[str, int] = {}
    for sec, d_sec in secs:
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
                d_sec["point_processes"].append(d)


def _spike_source(cell, names: dict[str, str]) -> dict | None:
    ncs = [nc for nc in h.List("NetCon") if nc.preseg() is not None]
    if not ncs and hasattr(cell, "connect2target"):
        ref = h.ref(None)
        try:
            cell.connect2target(None, ref)
            ncs = [ref[0]] if ref[0] is not None and ref[0].preseg() is not None else []
        except (RuntimeError, TypeError):
            ncs = []  # a Python cell's connect2target with another signature
    for nc in ncs:
        seg = nc.preseg()
        key = seg.sec.hoc_internal_name()
        if key in names:
            return {"sec": names[key], "loc": seg.x, "threshold": nc.threshold}
    return None


def _section_lists(cell, names: dict[str, str]) -> dict:
    out = {}
    for attr in dir(cell):
        if attr.startswith("_") or attr in HOC_ATTRS:
            continue
        try:
            obj = getattr(cell, attr)
        except (LookupError, RuntimeError, TypeError, AttributeError, ValueError):
            continue
        hname = getattr(obj, "hname", None)
        if callable(hname) and not isinstance(obj, type(h.Section)) and \
                is_seclist(obj):
            out[attr] = [names.get(s.hoc_internal_name(), s.name()) for s in obj]
        elif isinstance(obj, list) and obj and all(is_section(s) for s in obj):
            out[attr] = [names.get(s.hoc_internal_name(), s.name()) for s in obj]
    return out


# ----------------------------------------------------------------------- loading
def _factory(req: dict):
    if req.get("kind") == "python":
        module = load_python(req["path"], req.get("module", "nethub_template_module"))
        try:
            return resolve_path(module, req["template"])
        except (AttributeError, LookupError) as exc:
            raise RuntimeError(f"{req['path']}: no class, function or object named "
                               f"{req['template']!r} ({exc})") from exc
    if not h.load_file(req["path"]):
        raise RuntimeError(f"{req['path']}: NEURON could not load the file")
    if not hasattr(h, req["template"]):
        raise RuntimeError(f"{req['path']}: no template named {req['template']!r}")
    return getattr(h, req["template"])


def cell_sections(cell, req: dict, before: set[str]) -> list:
    """The cell's sections in creation order: a HOC template's own (``Name[i].``), a Python
    cell's the ones it created (or, for an existing object, those connected to its sections)."""
    if req.get("kind") != "python":
        prefix = cell.hname() + "."
        return [s for s in h.allsec() if s.name().startswith(prefix)]
    if not req.get("instance"):
        return [s for s in h.allsec() if s.hoc_internal_name() not in before]
    tree = {t.hoc_internal_name() for s in reachable_sections(cell) for t in s.wholetree()}
    return [s for s in h.allsec() if s.hoc_internal_name() in tree]


def section_names(secs: list, prefix: str | None, style: str, cell=None) -> dict[str, str]:
    """``{internal name: name in the cell type}`` (``style`` ``"netpyne"``: ``dend_2``, and a
    section without a cell prefix named after the attribute holding it, as NetPyNE's
    ``getSecName`` does)."""
    attrs = _attribute_names(cell) if style == "netpyne" and cell is not None else {}
    out = {}
    for s in secs:
        name = local_name(s, prefix)
        if style == "netpyne":
            name = netpyne_name(name)
            name = attrs.get(s.name(), name) if s.name() == name else name
        out[s.hoc_internal_name()] = name
    if len(set(out.values())) != len(out):  # names that collide: keep NEURON's full names
        out = {s.hoc_internal_name(): s.name() for s in secs}
    return out


def _attribute_names(cell) -> dict[str, str]:
    """NetPyNE's ``dirCellHnames``: section name -> the cell attribute holding it
    (``attr``, ``attr_i`` for list items -- the first list wins --, the key for dicts)."""
    out: dict[str, str] = {}
    for attr in dir(cell):
        if attr.startswith("__"):
            continue
        try:
            obj = getattr(cell, attr)
        except (LookupError, RuntimeError, TypeError, AttributeError, ValueError):
            continue
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                if is_section(item):
                    out.setdefault(item.name(), f"{attr}_{i}")
        elif isinstance(obj, dict):
            out.update({v.name(): str(k) for k, v in obj.items() if is_section(v)})
        elif is_section(obj):
            out[obj.name()] = attr
    return out


def describe(cell, secs: list, names: dict[str, str], density, point) -> dict:
    """The JSON description of an instantiated cell."""
    described = [(s, _section(s, names, density)) for s in secs]
    _point_processes(described, point)
    return {"sections": {names[s.hoc_internal_name()]: d for s, d in described},
            "raw_names": {names[s.hoc_internal_name()]: local_name(s, _prefix(cell))
                          for s in secs},
            "spike_source": _spike_source(cell, names),
            "section_lists": _section_lists(cell, names)}


def _prefix(cell) -> str | None:
    hname = getattr(cell, "hname", None)
    try:
        return hname() + "." if callable(hname) else None
    except (RuntimeError, TypeError):
        return None


def read(req: dict) -> dict:
    """Instantiate the template of ``req`` and describe the cell it built."""
    if req.get("library"):
        h.nrn_load_dll(req["library"])
    h.load_file("stdrun.hoc")
    density, point = _mech_names()
    before_globals = global_values(density + point)
    before = {s.hoc_internal_name() for s in h.allsec()}
    factory = _factory(req)
    cell = instantiate(req, factory)
    prefix = _prefix(cell) if req.get("kind") != "python" else None
    secs = cell_sections(cell, req, before)
    if not secs:
        raise RuntimeError(f"{req['path']}: {req['template']} created no section")
    names = section_names(secs, prefix, req.get("names", "neuron"), cell)
    out = describe(cell, secs, names, density, point)
    after = global_values(density + point)
    out["globals_changed"] = {k: v for k, v in after.items() if before_globals.get(k) != v}
    if req.get("protocol") and not req.get("instance"):
        probe = templateprobe.probe_section(out)
        del cell, secs  # the snapshot's instance; the probe uses a fresh one
        out["probe"] = templateprobe.template_trace(
            lambda: _fresh(req, factory, out["raw_names"][probe]), probe, req["protocol"])
    return out


def _fresh(req: dict, factory, want: str) -> tuple:
    """A new instance of the template and its section named ``want`` (name inside the cell)."""
    before = {s.hoc_internal_name() for s in h.allsec()}
    cell = instantiate(req, factory)
    prefix = _prefix(cell) if req.get("kind") != "python" else None
    sec = next((s for s in cell_sections(cell, req, before) if local_name(s, prefix) == want),
               None)
    if sec is None:
        raise RuntimeError(f"a second instance of {req['template']} has no section {want!r} "
                           "(the template builds a different cell each time)")
    return cell, sec


def child_main(argv: list[str], handle, error_line) -> int:
    """A child process's body: request JSON ``argv[1]`` -> ``handle`` -> result JSON
    ``argv[2]``; an exception becomes ``error_line(exc)`` on stderr (which the parent turns
    into a ConversionError) and exit status 1. Shared by this module and ``morphread``."""
    with open(argv[1]) as f:
        req = json.load(f)
    try:
        out = handle(req)
    except Exception as exc:  # reported to the parent, which raises ConversionError
        sys.stderr.write(f"\n{error_line(exc)}\n")
        return 1
    with open(argv[2], "w") as f:
        json.dump(out, f)
    return 0


def _handle(req: dict) -> dict:
    if req.get("op") == "snapshot-trace":
        return templateprobe.snapshot_trace(req)
    return read(req)


def main(argv: list[str]) -> int:
    return child_main(argv, _handle,
                      lambda exc: f"templateread error: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
