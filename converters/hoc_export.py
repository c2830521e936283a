"""Compartmental cell types -> HOC cell templates (``begintemplate NAME ... endtemplate NAME``).

The inverse of :func:`nethub.converters.hoc.read_hoc_template`: the text builds, in plain NEURON
and without nethub, the cell that nethub's simulator builds from the cell type
(:mod:`nethub.sim.engine`, which follows NetPyNE 1.1's ``CompartCell``): the same sections in
the same order, topology (``connect child(child_x), parent(parent_x)``), geometry in the cell
type's key order, 3-D points (``pt3dadd``, offset by :meth:`position`), density mechanisms and
ions with per-segment values, point processes with their parameters in order, section lists,
NEURON globals, per-section initial voltages (an ``FInitializeHandler``) and the spike detector
(``connect2target``, NEURON's CellBuild convention). Numbers are written with Python's
``repr`` (the shortest text that reads back as the same double), so a run of the template gives
the same values as nethub's own instantiation, and the text is deterministic.

The template's public interface::

    objref cell
    cell = new NAME()                 // built at the origin, as the cell type stores it
    cell.position(x, y, z)            // translate the 3-D points (nethub's cell position)
    cell.connect2target(target, nc)   // the spike detector NetCon (threshold of the type)
    cell.soma, cell.dend[0], ...      // sections (public), cell.all, ... (section lists)
    cell.pointps[i]                   // the type's point processes, in order (labels in comments)

Names that HOC cannot take as they are (not identifiers, keywords, clashes with the template's
own procedures) are renamed; :func:`hoc_names` gives the mapping, and the template's header
comment lists it. What a template cannot express is refused with :class:`ConversionError`
(unresolved expressions, non-numeric parameters, NaN), never silently dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..celltypes import CompartmentalCell, Section
from ..errors import ConversionError
from ..version import __version__

__all__ = ["hoc_template", "hoc_names", "HocNames", "number", "PP_RESERVED",
           "DEFAULT_THRESHOLD", "geom_items", "nseg_of", "segment_values", "pp_params",
           "spike_site"]

#: Point-process keys that are not NEURON attributes (as :mod:`nethub.sim.engine` skips them).
PP_RESERVED = frozenset({"mod", "loc", "vref", "synList", "label"})
#: NetPyNE's ``defaultThreshold`` (mV), used when the cell type sets none.
DEFAULT_THRESHOLD = 10.0

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARRAY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\[(\d+)\]$")
#: HOC keywords and built-ins a section or list name must not shadow, and the template's own
#: member names.
_RESERVED = frozenset("""
    if else while for forall forsec ifsec proc func obfunc iterator iterator_statement return
    break continue stop local localobj strdef double objref objectvar create connect access
    insert uninsert begintemplate endtemplate public external new print read delete help
    setpointer this nil em depvar eqn secname init topol geom shape biophys subsets position
    connect2target pointps fih initv set_globals xorig yorig zorig L diam Ra cm nseg v x t dt
    celsius area ri secondorder v_init tstop
""".split())


def number(value: Any, where: str) -> str:
    """A number as HOC/Python source text that reads back as the same double.

    Parameters
    ----------
    value : int, float or bool
        The value.
    where : str
        Where the value comes from, for the error message.

    Returns
    -------
    str
        ``repr`` of the value (``1`` / ``0`` for booleans, ``1e999`` / ``-1e999`` for
        infinities).

    Raises
    ------
    ConversionError
        The value is not a number (e.g. an unresolved expression) or is NaN.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):
        value = value.item()
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ConversionError(f"{where}: NaN cannot be written")
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"
        return repr(value)
    raise ConversionError(f"{where}: {value!r} is not a number (an unresolved expression or "
                          "a value a cell template cannot hold)")


@dataclass(frozen=True)
class HocNames:
    """HOC names of a cell type's sections and section lists.

    Attributes
    ----------
    sections : dict of str to str
        Cell-type section name -> HOC name (``'dend[2]'`` stays ``'dend[2]'`` when the array
        is complete from 0).
    lists : dict of str to str
        Section list name -> HOC name.
    arrays : dict of str to int
        HOC section array base name -> size; plain sections have size 0.
    """

    sections: dict[str, str]
    lists: dict[str, str]
    arrays: dict[str, int]

    def renamed(self) -> dict[str, str]:
        """The names that changed (section and list names alike)."""
        both = {**self.sections, **self.lists}
        return {k: v for k, v in both.items() if k != v}


def hoc_names(cell: CompartmentalCell, *, arrays: bool = False) -> HocNames:
    """The HOC names the exported template gives ``cell``'s sections and section lists.

    Parameters
    ----------
    cell : CompartmentalCell
        The cell type.
    arrays : bool
        Declare every plain section ``X`` as an array of one, ``X[0]`` (BMTK's bionet needs
        ``hobj.soma[0]``); default False: plain sections keep their names.

    Returns
    -------
    HocNames
        Identifiers and complete arrays ``base[0..n-1]`` keep their names; any other name
        becomes a unique identifier (``dend_3`` for a lone ``dend[3]``, ``axon_1`` for ``axon.1``,
        ``shape_sec`` for a HOC name, ``sec_<i>`` otherwise).
    """
    names = list(cell.sections)
    groups: dict[str, list[int]] = {}
    for n in names:
        m = _ARRAY.match(n)
        if m:
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
    plain = {n for n in names if _IDENT.match(n)}
    complete = {b for b, idx in groups.items()
                if sorted(idx) == list(range(len(idx))) and b not in plain and b not in _RESERVED}
    taken: set[str] = set(complete) | {n for n in plain if n not in _RESERVED}
    sections: dict[str, str] = {}
    for i, n in enumerate(names):
        m = _ARRAY.match(n)
        if m and m.group(1) in complete:
            sections[n] = n
        elif n in plain and n not in _RESERVED:
            sections[n] = n
        else:
            base = re.sub(r"\W", "_", n.replace("[", "_").rstrip("]"))
            if not _IDENT.match(base):
                base = f"sec_{i}"
            sections[n] = _unique(f"{base}_sec" if base in _RESERVED else base, taken)
    lists: dict[str, str] = {}
    for n in cell.section_lists:
        ok = _IDENT.match(n) and n not in _RESERVED and n not in taken
        lists[n] = n if ok else _unique(f"seclist_{re.sub(r'[^A-Za-z0-9_]', '_', n)}", taken)
        taken.add(lists[n])
    sizes = {b: len(groups[b]) for b in sorted(complete)}
    if arrays:
        sections = {k: v if "[" in v else f"{v}[0]" for k, v in sections.items()}
        sizes.update({v[:-3]: 1 for k, v in sections.items() if v.endswith("[0]")
                      and v[:-3] not in sizes})
    sizes.update({v: 0 for v in sections.values() if "[" not in v})
    return HocNames(sections, lists, sizes)


def _unique(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def hoc_template(name: str, cell: CompartmentalCell, *,
                 default_threshold: float = DEFAULT_THRESHOLD, arrays: bool = False,
                 define_shape: bool = False) -> str:
    """The text of a HOC template that builds ``cell`` in plain NEURON.

    Parameters
    ----------
    name : str
        The template name (a HOC identifier).
    cell : CompartmentalCell
        The cell type, e.g. ``network.cell_types['PYR']``.
    default_threshold : float
        Spike threshold (mV) when neither the spike section nor the cell type sets one
        (a network's ``defaultThreshold``; NetPyNE's default 10).
    arrays : bool
        Declare plain sections as arrays of one (``create soma[1]``, used as ``soma[0]``), as
        BMTK's bionet needs (:func:`hoc_names`).
    define_shape : bool
        End ``init()`` with ``define_shape()``, so sections without 3-D points get them from
        their L and diam (NEURON keeps L and diam); BMTK's morphology code reads 3-D points.

    Returns
    -------
    str
        ``begintemplate NAME ... endtemplate NAME`` with a header comment; deterministic.
        Load it with ``h.load_file(path)`` and create cells with ``h.NAME()``; the mechanisms
        the cell inserts must be loaded (``nrnivmodl`` of the store's mod files).

    Raises
    ------
    ConversionError
        ``name`` is not a HOC identifier, the cell type has no section, or a value cannot be
        written (an unresolved expression, a non-numeric parameter, NaN).
    """
    if not _IDENT.match(name) or name in _RESERVED:
        raise ConversionError(f"template name {name!r} is not a HOC identifier")
    if not isinstance(cell, CompartmentalCell) or not cell.sections:
        raise ConversionError(f"cell type {getattr(cell, 'name', name)!r}: only compartmental "
                              "cell types with sections can be written as HOC templates")
    names = hoc_names(cell, arrays=arrays)
    where = f"cell type {cell.name!r}"
    pps = [(s, pp) for s, sec in cell.sections.items() for pp in sec.point_processes]
    parts = [
        _header(name, cell, names, pps),
        f"begintemplate {name}",
        *_publics(names, pps, cell),
        *_declarations(names, pps, cell),
        _init(cell, define_shape),
        _topol(cell, names),
        _geom(cell, names, where),
        _shape(cell, names, where),
        _biophys(cell, names, where),
        _pointps(pps, names, where),
        _subsets(cell, names),
        _globals(cell, where),
        _initv(cell, names, where),
        _position(),
        _connect2target(cell, names, pps, where, default_threshold),
        f"endtemplate {name}",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _header(name: str, cell: CompartmentalCell, names: HocNames,
            pps: list[tuple[str, dict]]) -> str:
    mechs = sorted({m for s in cell.sections.values() for m in s.mechs}
                   | {pp["mod"] for _, pp in pps})
    lines = [f"// Cell type {cell.name!r} as HOC template {name}: written by nethub "
             f"{__version__} (nethub.converters.hoc_export); plain NEURON, no nethub needed.",
             f"// Mechanisms it uses: {', '.join(mechs) or 'none'}"
             + (f" (mod files: {', '.join(cell.mod_files)})" if cell.mod_files else "") + "."]
    for old, new in names.renamed().items():
        lines.append(f"// name {old!r} is {new} here")
    for i, (sec, pp) in enumerate(pps):
        lines.append(f"// pointps[{i}]: {pp.get('label', pp['mod'])!r} ({pp['mod']} on "
                     f"{names.sections[sec]})")
    return "\n".join(lines)


def _publics(names: HocNames, pps: list, cell: CompartmentalCell) -> list[str]:
    # NEURON creates a template's sections in the order their names are first declared, and
    # ``public`` declares them: sections come in the cell type's order here too
    secs = [d.split("[")[0] for d in _creation_order(cell, names, list(names.arrays))]
    members = ["position", "connect2target", *secs, *names.lists.values()]
    if pps:
        members.append("pointps")
    return [f"public {', '.join(members[i:i + 8])}" for i in range(0, len(members), 8)]


def _declarations(names: HocNames, pps: list, cell: CompartmentalCell) -> list[str]:
    secs = [f"{b}[{n}]" if n else b for b, n in names.arrays.items()]
    out = [f"create {', '.join(_creation_order(cell, names, secs))}"]
    objs = list(names.lists.values())
    if pps:
        objs.append(f"pointps[{len(pps)}]")
    if any(s.vinit is not None for s in cell.sections.values()):
        objs += ["fih", "this"]
    if objs:
        out.append(f"objref {', '.join(objs)}")
    return out


def _creation_order(cell: CompartmentalCell, names: HocNames, decls: list[str]) -> list[str]:
    """Section declarations in the order the cell type first names each (its creation order)."""
    first: dict[str, int] = {}
    for i, hoc in enumerate(names.sections.values()):
        first.setdefault(hoc.split("[")[0], i)
    return sorted(decls, key=lambda d: first[d.split("[")[0]])


def _init(cell: CompartmentalCell, define_shape: bool = False) -> str:
    steps = ["topol()", "geom()", "shape()", "biophys()", "pointprocs()", "subsets()",
             "set_globals()"] + (["define_shape()"] if define_shape else [])
    if any(s.vinit is not None for s in cell.sections.values()):
        steps.append('fih = new FInitializeHandler(0, "initv()", this)')
    body = "\n".join(f"  {s}" for s in steps)
    return f"proc init() {{\n  xorig = 0  yorig = 0  zorig = 0\n{body}\n}}"


def _proc(name: str, lines: Iterable[str]) -> str:
    body = "\n".join(f"  {s}" for s in lines)
    return f"proc {name}() {{\n{body}\n}}" if body else f"proc {name}() {{\n}}"


def _topol(cell: CompartmentalCell, names: HocNames) -> str:
    lines = []
    for sname, sec in cell.sections.items():
        if sec.parent is not None:
            lines.append(f"connect {names.sections[sname]}({number(sec.child_x, sname)}), "
                         f"{names.sections[sec.parent]}({number(sec.parent_x, sname)})")
    return _proc("topol", lines)


def nseg_of(sec: Section) -> int:
    """The number of segments a section gets (its ``nseg``, default 1)."""
    return int(sec.geom.get("nseg", 1))


def geom_items(sec: Section, where: str) -> list[tuple[str, Any]]:
    """The section's scalar geometry in the cell type's order, as the simulator sets it
    (list/dict values such as a NetPyNE ``pt3d`` key are not geometry values)."""
    out = []
    for key, val in sec.geom.items():
        if isinstance(val, (list, dict)):
            continue
        if isinstance(val, str) or val is None:
            raise ConversionError(f"{where}: geometry {key!r} = {val!r} is not a number")
        out.append((key, int(val) if key == "nseg" else val))
    return out


def _geom(cell: CompartmentalCell, names: HocNames, where: str) -> str:
    lines = []
    for sname, sec in cell.sections.items():
        w = f"{where} section {sname!r}"
        sets = [f"{k} = {number(v, f'{w} geom {k}')}" for k, v in geom_items(sec, w)]
        if sets:
            lines.append(f"{names.sections[sname]} {{ {'  '.join(sets)} }}")
    return _proc("geom", lines)


def _shape(cell: CompartmentalCell, names: HocNames, where: str) -> str:
    lines = []
    for sname, sec in cell.sections.items():
        if sec.pt3d is None or not len(sec.pt3d):
            continue
        w = f"{where} section {sname!r} pt3d"
        lines.append(f"{names.sections[sname]} {{ pt3dclear()")
        for x, y, z, d in sec.pt3d.tolist():
            lines.append(f"  pt3dadd(xorig + {number(x, w)}, yorig + {number(y, w)}, "
                         f"zorig + {number(z, w)}, {number(d, w)})")
        lines.append("}")
    return _proc("shape", lines)


def segment_values(val: Any, nseg: int) -> list[Any] | None:
    """Per-segment values of a list parameter as the simulator applies them (a one-element
    list is uniform), or None for a scalar."""
    if not isinstance(val, (list, tuple)):
        return None
    return [val[0] if len(val) == 1 else val[i] for i in range(nseg)]


def _range_lines(var: str, val: Any, nseg: int, where: str) -> list[str]:
    per_seg = segment_values(val, nseg)
    if per_seg is None:
        return [] if val is None else [f"{var} = {number(val, where)}"]
    return [f"{var}({number((i + 0.5) / nseg, where)}) = {number(v, where)}"
            for i, v in enumerate(per_seg) if v is not None]


def _biophys(cell: CompartmentalCell, names: HocNames, where: str) -> str:
    lines = []
    for sname, sec in cell.sections.items():
        body = _section_biophys(sec, f"{where} section {sname!r}")
        if body:
            lines += [f"{names.sections[sname]} {{", *(f"  {b}" for b in body), "}"]
    return _proc("biophys", lines)


def _section_biophys(sec: Section, where: str) -> list[str]:
    nseg = nseg_of(sec)
    out = []
    for mech, params in sec.mechs.items():
        out.append(f"insert {mech}")
        for p, val in params.items():
            out += _range_lines(f"{p}_{mech}", val, nseg, f"{where} {mech}.{p}")
    for ion, params in sec.ions.items():
        out.append(f"insert {ion}_ion")
        for p, val in params.items():
            w = f"{where} ion {ion}.{p}"
            if p == "e":
                out += _range_lines(f"e{ion}", val, nseg, w)
            elif p in ("o", "i"):  # per segment, and the ion's global default (last wins)
                per_seg = segment_values(val, nseg)
                out += _range_lines(f"{ion}{p}", val, nseg, w)
                last = val if per_seg is None else per_seg[-1]
                out.append(f"{ion}{p}0_{ion}_ion = {number(last, w)}")
    return out


def pp_params(pp: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A point process's parameters the simulator sets, in order."""
    return [(k, v) for k, v in pp.items() if k not in PP_RESERVED and not k.startswith("_")]


def _pointps(pps: list[tuple[str, dict]], names: HocNames, where: str) -> str:
    lines = []
    for i, (sname, pp) in enumerate(pps):
        w = f"{where} section {sname!r} point process {pp.get('label', pp['mod'])!r}"
        loc = number(pp.get("loc", 0.5), w)
        lines.append(f"{names.sections[sname]} pointps[{i}] = new {pp['mod']}({loc})")
        for k, v in pp_params(pp):
            lines.append(f"pointps[{i}].{k} = {number(v, f'{w} {k}')}")
    return _proc("pointprocs", lines)


def _subsets(cell: CompartmentalCell, names: HocNames) -> str:
    lines = []
    for lname, members in cell.section_lists.items():
        hname = names.lists[lname]
        lines.append(f"{hname} = new SectionList()")
        for s in members:
            if s not in names.sections:
                raise ConversionError(f"cell type {cell.name!r}: section list {lname!r} "
                                      f"names unknown section {s!r}")
            lines.append(f"{names.sections[s]} {hname}.append()")
    return _proc("subsets", lines)


def _globals(cell: CompartmentalCell, where: str) -> str:
    lines = []
    for key, val in cell.globals.items():
        if not _IDENT.match(key):
            raise ConversionError(f"{where}: global {key!r} is not a NEURON name")
        lines.append(f"{key} = {number(val, f'{where} global {key}')}")
    return _proc("set_globals", lines)


def _initv(cell: CompartmentalCell, names: HocNames, where: str) -> str:
    lines = [f"{names.sections[s]} {{ v = {number(sec.vinit, f'{where} section {s!r} vinit')} }}"
             for s, sec in cell.sections.items() if sec.vinit is not None]
    return _proc("initv", lines) if lines else ""


def _position() -> str:
    return ("proc position() {\n  xorig = $1  yorig = $2  zorig = $3\n  shape()\n}")


def spike_site(cell: CompartmentalCell, default_threshold: float
               ) -> tuple[str, float, float, int | None, str | None]:
    """Where the simulator puts the spike detector: ``(section, loc, threshold, pp_index,
    pp_var)``; ``pp_index`` is the index (over all sections' point processes in order) of the
    spike section's first point process with ``vref`` (the detector watches its variable)."""
    sec_name, loc = cell.spike_source or (next(iter(cell.sections)), 0.5)
    if sec_name not in cell.sections:
        raise ConversionError(f"cell type {cell.name!r}: spike source section {sec_name!r} "
                              "does not exist")
    thr = cell.sections[sec_name].threshold
    if thr is None:
        thr = cell.threshold if cell.threshold is not None else default_threshold
    index = 0
    for s, sec in cell.sections.items():
        for pp in sec.point_processes:
            if s == sec_name and "vref" in pp:
                return sec_name, loc, float(thr), index, str(pp["vref"])
            index += 1
    return sec_name, float(loc), float(thr), None, None


def _connect2target(cell: CompartmentalCell, names: HocNames, pps: list, where: str,
                    default_threshold: float) -> str:
    sec, loc, thr, pp_index, var = spike_site(cell, default_threshold)
    src = (f"&pointps[{pp_index}].{var}" if pp_index is not None
           else f"&v({number(loc, where)})")
    return ("obfunc connect2target() { localobj nc\n"
            f"  {names.sections[sec]} nc = new NetCon({src}, $o1)\n"
            f"  nc.threshold = {number(thr, where)}\n"
            "  if (numarg() == 2) { $o2 = nc }\n"
            "  return nc\n}")
