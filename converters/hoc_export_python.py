"""Compartmental cell types -> Python classes that build the cell in plain NEURON.

The Python twin of :func:`nethub.converters.hoc_export.hoc_template`: the class source builds
what nethub's simulator builds from the cell type, step by step in its order (sections,
topology, geometry, 3-D points offset by the cell position, mechanisms and ions per segment,
point processes, section lists, NEURON globals, per-section initial voltage, spike detector),
with numbers written by ``repr`` so the values are the same doubles. Deterministic text.

The class's public interface::

    from neuron import h
    cell = NAME(x=0.0, y=0.0, z=0.0)  # built at (x, y, z): 3-D points are offset by it
    cell.secs["dend[0]"]              # sections by the cell type's names (h.Section)
    cell.soma, cell.dend[0]           # attributes where the name allows (hoc_names)
    cell.section_lists["all"]         # h.SectionList per section list
    cell.pointps                      # point processes in order; cell.pointp_labels names them
    cell.connect2target(target)       # the spike detector NetCon (threshold of the type)
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Collection
from typing import Any

from ..celltypes import CompartmentalCell, Section
from ..errors import ConversionError
from ..version import __version__
from .hoc_export import (
    DEFAULT_THRESHOLD,
    hoc_names,
    nseg_of,
    number,
    pp_params,
    segment_values,
    spike_site,
)

__all__ = ["python_class", "py_number"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PY_RESERVED = frozenset({"secs", "section_lists", "pointps", "pointp_labels", "connect2target",
                          "x", "y", "z", "_fih", "_initv"})


def py_number(value: Any, where: str) -> str:
    """A number as Python source that reads back as the same double (``float('inf')`` for
    infinities); see :func:`nethub.converters.hoc_export.number`."""
    if isinstance(value, float) and math.isinf(value):
        return "float('inf')" if value > 0 else "-float('inf')"
    return number(value, where)


def python_class(name: str, cell: CompartmentalCell, *,
                 default_threshold: float = DEFAULT_THRESHOLD, set_globals: bool = True,
                 per_cell: Collection[str] = ()) -> str:
    """The source of a Python class (plain NEURON, ``from neuron import h``) building ``cell``.

    Parameters
    ----------
    name : str
        The class name (a Python identifier).
    cell : CompartmentalCell
        The cell type.
    default_threshold : float
        Spike threshold (mV) when neither the spike section nor the cell type sets one.
    set_globals : bool
        Set the cell type's NEURON globals when a cell is made (a network script sets them
        once, as nethub's run does, and passes False).
    per_cell : collection of str
        Values each cell may set for itself, named as the simulator's per-cell overrides
        (``secs.<sec>.geom.<key>``, ``secs.<sec>.mechs.<mech>.<param>``,
        ``secs.<sec>.pointps.<label>.<key>``: the cells columns ``param.secs.*``). With any,
        the constructor takes ``own``, a dict of them, and needs the helpers ``_own`` and
        ``_range_set`` of :mod:`nethub.converters.neuron_script_runtime` in its module.

    Returns
    -------
    str
        ``class NAME: ...`` (it expects ``h`` from ``from neuron import h`` in its module);
        deterministic.

    Raises
    ------
    ConversionError
        ``name`` is not an identifier, the type has no section, or a value cannot be
        written (unresolved expression, non-numeric parameter, NaN).
    """
    if not _IDENT.match(name) or not name.isidentifier():
        raise ConversionError(f"class name {name!r} is not a Python identifier")
    if not isinstance(cell, CompartmentalCell) or not cell.sections:
        raise ConversionError(f"cell type {getattr(cell, 'name', name)!r}: only compartmental "
                              "cell types with sections can be written as Python classes")
    where = f"cell type {cell.name!r}"
    per_cell = frozenset(per_cell)
    body = [*_build(cell, where, per_cell), *_lists(cell), *_attributes(cell),
            *(_globals(cell, where) if set_globals else []), *_vinit(cell, where)]
    lines = [f"class {name}:",
             f'    """Cell type {cell.name!r} (nethub {__version__}); plain NEURON."""',
             "",
             "    def __init__(self, x=0.0, y=0.0, z=0.0, own=None):" if per_cell else
             "    def __init__(self, x=0.0, y=0.0, z=0.0):",
             "        self.x, self.y, self.z = x, y, z",
             *(f"        {b}" if b else "" for b in body),
             "",
             *_connect2target(cell, where, default_threshold)]
    if any(s.vinit is not None for s in cell.sections.values()):
        lines += ["", "    def _initv(self):",
                  *(f"        {b}" for b in _initv_body(cell, where))]
    return "\n".join(lines) + "\n"


def _build(cell: CompartmentalCell, where: str, per_cell: frozenset[str]) -> list[str]:
    out = ["own = own or {}"] if per_cell else []
    out.append("secs = self.secs = {}")
    for sname in cell.sections:
        out.append(f"secs[{sname!r}] = h.Section(name={sname!r}, cell=self)")
    for sname, sec in cell.sections.items():
        if sec.parent is not None:
            out.append(f"secs[{sname!r}].connect(secs[{sec.parent!r}], "
                       f"{py_number(sec.parent_x, where)}, {py_number(sec.child_x, where)})")
    pp_index = 0
    out.append("self.pointps, self.pointp_labels = [], []")
    for sname, sec in cell.sections.items():
        w = f"{where} section {sname!r}"
        prefix = f"secs.{sname}."
        own = {k[len(prefix):] for k in per_cell if k.startswith(prefix)}
        out += [f"sec = secs[{sname!r}]", *_geometry(sec, w, prefix, own),
                *_mechs(sec, w, prefix, own)]
        for pp in sec.point_processes:
            out += _pointp(pp, f"{w} point process {pp.get('label', pp['mod'])!r}", prefix,
                           own)
            pp_index += 1
    return out


def _value(val: Any, key: str, prefix: str, own: frozenset[str] | set[str], where: str) -> str:
    """A value's source: the literal, or the cell's own value (``_own``) when it may have one
    (required when the type holds an unresolved expression there)."""
    if key not in own:
        return py_number(val, where)
    if isinstance(val, (list, tuple)):
        default = "[" + ", ".join("None" if v is None else py_number(v, where) for v in val) + "]"
    else:
        default = "None" if isinstance(val, str) or val is None else py_number(val, where)
    return f"_own(own, {prefix + key!r}, {default})"


def _geometry(sec: Section, where: str, prefix: str = "",
              own: frozenset[str] | set[str] = frozenset()) -> list[str]:
    out = []
    for k, v in sec.geom.items():
        if isinstance(v, (list, dict)):
            continue
        w = f"{where} geom {k}"
        if f"geom.{k}" not in own and (isinstance(v, str) or v is None):
            raise ConversionError(f"{where}: geometry {k!r} = {v!r} is not a number")
        value = _value(int(v) if k == "nseg" and f"geom.{k}" not in own else v, f"geom.{k}",
                       prefix, own, w)
        out.append(f"sec.{k} = int({value})" if k == "nseg" and f"geom.{k}" in own
                   else f"sec.{k} = {value}")
    if sec.pt3d is not None and len(sec.pt3d):
        w = f"{where} pt3d"
        pts = ", ".join(f"({', '.join(py_number(c, w) for c in p)})" for p in sec.pt3d.tolist())
        out += ["h.pt3dclear(sec=sec)",
                f"for px, py, pz, pd in [{pts}]:",
                "    h.pt3dadd(x + px, y + py, z + pz, pd, sec=sec)"]
    return out


def _range(target: str, attr: str, val: Any, nseg: int, where: str) -> list[str]:
    per_seg = segment_values(val, nseg)
    if per_seg is None:
        if val is None:
            return []
        return ["for seg in sec:", f"    {_assign(target, attr, py_number(val, where))}"]
    if all(v is None for v in per_seg):
        return []
    vals = ", ".join("None" if v is None else py_number(v, where) for v in per_seg)
    return [f"for seg, v in zip(sec, [{vals}]):",
            "    if v is not None:", f"        {_assign(target, attr, 'v')}"]


def _assign(target: str, attr: str, value: str) -> str:
    if attr.isidentifier() and not keyword.iskeyword(attr):
        return f"{target}.{attr} = {value}"
    return f"setattr({target}, {attr!r}, {value})"


def _mechs(sec: Section, where: str, prefix: str = "",
           own: frozenset[str] | set[str] = frozenset()) -> list[str]:
    nseg = nseg_of(sec)
    out = []
    for mech, params in sec.mechs.items():
        out.append(f"sec.insert({mech!r})")
        # the uniform values in one loop over the segments (each value is set alone, so the
        # order of assignments does not matter), then the per-segment and per-cell ones
        mine = {p for p in params if f"mechs.{mech}.{p}" in own}
        uniform = [(p, v) for p, v in params.items() if p not in mine
                   and segment_values(v, nseg) is None and v is not None]
        if uniform:
            out.append("for seg in sec:")
            out += [f"    {_assign(f'seg.{mech}', p, py_number(v, f'{where} {mech}.{p}'))}"
                    for p, v in uniform]
        for p, val in params.items():
            w = f"{where} {mech}.{p}"
            if p in mine:
                value = _value(val, f"mechs.{mech}.{p}", prefix, own, w)
                out.append(f"_range_set(sec, {mech!r}, {p!r}, {value})")
            elif segment_values(val, nseg) is not None:
                out += _range(f"seg.{mech}", p, val, nseg, w)
    for ion, params in sec.ions.items():
        out.append(f"sec.insert({ion + '_ion'!r})")
        for p, val in params.items():
            w = f"{where} ion {ion}.{p}"
            if p == "e":
                out += _range("seg", f"e{ion}", val, nseg, w)
            elif p in ("o", "i"):
                out += _range("seg", f"{ion}{p}", val, nseg, w)
                per_seg = segment_values(val, nseg)
                last = val if per_seg is None else per_seg[-1]
                out.append(f"h.{ion}{p}0_{ion}_ion = {py_number(last, w)}")
    return out


def _pointp(pp: dict, where: str, prefix: str = "",
            own: frozenset[str] | set[str] = frozenset()) -> list[str]:
    key = f"pointps.{pp.get('label')}."
    loc = _value(pp.get("loc", 0.5), key + "loc", prefix, own, where)
    out = [f"pp = h.{pp['mod']}({loc}, sec=sec)"]
    out += [_assign("pp", k, _value(v, key + k, prefix, own, f"{where} {k}"))
            for k, v in pp_params(pp)]
    out.append(f"self.pointps.append(pp)\nself.pointp_labels.append({pp.get('label')!r})")
    return [line for chunk in out for line in chunk.split("\n")]


def _lists(cell: CompartmentalCell) -> list[str]:
    out = ["self.section_lists = {}"]
    for lname, members in cell.section_lists.items():
        missing = [s for s in members if s not in cell.sections]
        if missing:
            raise ConversionError(f"cell type {cell.name!r}: section list {lname!r} names "
                                  f"unknown section(s) {missing}")
        out += [f"sl = self.section_lists[{lname!r}] = h.SectionList()",
                f"for name in {list(members)!r}:", "    sl.append(secs[name])"]
    return out


def _attributes(cell: CompartmentalCell) -> list[str]:
    """``self.soma``, ``self.dend = [..]`` and list attributes where the names allow."""
    names = hoc_names(cell)
    out = []
    arrays: dict[str, list[str]] = {}
    for sname, hname in names.sections.items():
        base = hname.split("[")[0]
        if base in _PY_RESERVED or not base.isidentifier():
            continue
        if "[" in hname:
            arrays.setdefault(base, []).append(sname)
        else:
            out.append(f"self.{base} = secs[{sname!r}]")
    for base, members in arrays.items():
        ordered = sorted(members, key=lambda s: int(s.split("[")[1][:-1]))
        out.append(f"self.{base} = [secs[n] for n in {ordered!r}]")
    for lname, hname in names.lists.items():
        if hname.isidentifier() and hname not in _PY_RESERVED:
            out.append(f"self.{hname} = self.section_lists[{lname!r}]")
    return out


def _globals(cell: CompartmentalCell, where: str) -> list[str]:
    out = []
    for key, val in cell.globals.items():
        if not _IDENT.match(key):
            raise ConversionError(f"{where}: global {key!r} is not a NEURON name")
        out.append(f"h.{key} = {py_number(val, f'{where} global {key}')}")
    return out


def _vinit(cell: CompartmentalCell, where: str) -> list[str]:
    if any(s.vinit is not None for s in cell.sections.values()):
        return ["self._fih = h.FInitializeHandler(0, self._initv)"]
    return []


def _initv_body(cell: CompartmentalCell, where: str) -> list[str]:
    return [f"self.secs[{s!r}].v = {py_number(sec.vinit, f'{where} section {s!r} vinit')}"
            for s, sec in cell.sections.items() if sec.vinit is not None]


def _connect2target(cell: CompartmentalCell, where: str, default_threshold: float
                    ) -> list[str]:
    sec, loc, thr, pp_index, var = spike_site(cell, default_threshold)
    src = (f"self.pointps[{pp_index}]._ref_{var}" if pp_index is not None
           else f"sec({py_number(loc, where)})._ref_v")
    return ["    def connect2target(self, target=None):",
            '        """The spike detector: a NetCon from the spike source to ``target``."""',
            f"        sec = self.secs[{sec!r}]",
            f"        nc = h.NetCon({src}, target, sec=sec)",
            f"        nc.threshold = {py_number(thr, where)}",
            "        return nc"]
