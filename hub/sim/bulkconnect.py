"""Bulk creation of connections: synapses and ``pc.gid_connect`` NetCons made by a HOC
procedure looping over Vectors instead of a Python loop (2M NetCons + 20k NetStims: 23 s -> 9 s
of CPU; the connections on par with a hand-written HOC loop; see benchmarks/simulate.py).

NetPyNE's creation semantics are kept exactly, so spikes do not change: one synapse point
process per connection row, created at ``post_sec(post_loc)`` with the mechanism's parameters
set one by one after creation, then ``pc.gid_connect(pre_gid, synapse)``, ``weight[weight_index]``
and ``delay``; rows are processed in table order, so every cell gets its synapses and NetCons in
the same order as before. A row whose target is an artificial (point) cell connects to the cell
object itself, as NetPyNE does. With synapse merging (:func:`apply_merge`, from
:func:`nethub.sim.merge.plan_merge`) a row creates its object only when it is the first row of
its group, and connects to the group's object otherwise.

:func:`plan` does the vectorized work (gid → cell, section lookup, parameter table) and returns
``None`` when some row needs the general Python path (a compartmental target without a section,
or a mechanism parameter that is not a finite number); :func:`create` runs the HOC procedure,
generated (and defined once per process) for the network's mechanisms with their parameter values
written as literals; :func:`apply_merge` makes rows share objects; :func:`attach_syns` gives
each cell a lazy view of its synapses (``cell.syns``) for trace recording.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..errors import SimulationError
from ..network import Network
from ..table import Categorical

__all__ = ["Plan", "Made", "CellSyns", "plan", "apply_merge", "create", "attach_syns"]

#: Synapse parameters that are not set on the point process (NetPyNE's reserved keys; the same
#: set as ``engine._SYN_RESERVED``, which the Python path uses).
SYN_RESERVED = frozenset({"mod", "loc", "selfNetCon", "pointerParams", "shape", "plast"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class _Mech:
    model: str
    params: list[tuple[str, float]]  # (parameter, value), set in this order


@dataclass
class Plan:
    """Everything the HOC procedure needs, as numpy columns."""

    pre: np.ndarray  # float64 pre gids
    code: np.ndarray  # float64 mechanism code per row; -1: target is the point cell itself
    target: np.ndarray  # float64 index into ``sections`` (code >= 0) or ``points`` (code -1)
    loc: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    weight_index: np.ndarray | None  # None: all 0
    sections: list  # NEURON sections, one per distinct (cell, section) target
    points: list  # point-cell objects targeted
    mechs: list[_Mech]
    mech_labels: list[str]
    syn_cell: np.ndarray  # local cell index of each synapse created, in creation order
    syn_code: np.ndarray  # mechanism code of each synapse created, in creation order
    cell_gids: np.ndarray  # local gids, indexed by local cell index
    obj_index: np.ndarray | None = None  # per row: its (shared) synapse's index; None: own


@dataclass
class Made:
    """The NEURON objects created (held here so that they stay alive)."""

    syns: Any  # hoc List, creation order
    netcons: Any  # hoc List, row order
    proc: str

    def __len__(self) -> int:
        return int(self.netcons.count())


class CellSyns:
    """One cell's ``(syn_mech label, synapse)`` pairs in creation order, without making a
    Python object per synapse up front: the entries that existed before, then the bulk-created
    ones (read from the hoc List on first use), then any appended later."""

    __slots__ = ("_head", "_hoc", "_idx", "_codes", "_labels", "_bulk", "_tail")

    def __init__(self, head: list, hoc_list: Any, idx: np.ndarray, codes: np.ndarray,
                 labels: list[str]) -> None:
        self._head, self._hoc, self._idx, self._codes = list(head), hoc_list, idx, codes
        self._labels = labels
        self._bulk: list | None = None
        self._tail: list = []

    def _items(self) -> list:
        if self._bulk is None:
            o, lab = self._hoc.o, self._labels
            self._bulk = [(lab[c], o(i)) for c, i in zip(self._codes.tolist(),
                                                         self._idx.tolist())]
        return self._bulk

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        yield from self._head
        yield from self._items()
        yield from self._tail

    def __len__(self) -> int:
        return len(self._head) + len(self._idx) + len(self._tail)

    def __getitem__(self, i: int) -> tuple[str, Any]:
        return list(self)[i]

    def append(self, item: tuple[str, Any]) -> None:
        self._tail.append(item)


def plan(net: Network, cells: dict) -> Plan | None:
    """Vectorized preparation of the connections table, or None if the Python path is needed."""
    conns = net.connections
    mech: Categorical = conns["syn_mech"]  # type: ignore[assignment]
    sec: Categorical = conns["post_sec"]  # type: ignore[assignment]
    mechs = _mech_table(net, mech)
    if mechs is None:
        return None
    gids = np.fromiter(cells.keys(), dtype=np.int64, count=len(cells))
    order = np.argsort(gids, kind="stable")
    gids = gids[order]
    cell_objs = [cells[g] for g in gids.tolist()]
    post = np.asarray(conns["post_gid"], dtype=np.int64)
    ci = np.minimum(np.searchsorted(gids, post), max(len(gids) - 1, 0))
    if len(gids) == 0 or not np.array_equal(gids[ci], post):
        bad = post[gids[ci] != post] if len(gids) else post
        raise SimulationError(f"connection to gid {int(bad[0])}, which is not a cell of "
                              "this rank")
    is_point = np.fromiter((c.point is not None for c in cell_objs), dtype=bool,
                           count=len(cell_objs))
    point_row = is_point[ci]
    if np.any(~point_row & ((sec.codes < 0) | (mech.codes < 0))):
        return None  # compartmental target without a section or synMech: the general path
    if any(c.vref for c in cell_objs):
        return None  # rows onto a vref point process (Izhikevich-style): the general path
    code = mech.codes.astype(np.float64)
    target = np.zeros(len(post), dtype=np.float64)
    code[point_row] = -1.0
    points: list = []
    if point_row.any():
        pcells, pidx = np.unique(ci[point_row], return_inverse=True)
        points = [cell_objs[i].point for i in pcells.tolist()]
        target[point_row] = pidx
    syn_rows = ~point_row
    sections: list = []
    if syn_rows.any():
        nsec = max(len(sec.categories), 1)
        keys = ci[syn_rows].astype(np.int64) * nsec + sec.codes[syn_rows]
        ukeys, inv = _dense_unique(keys, len(gids) * nsec)
        for key in ukeys.tolist():
            cell, name = cell_objs[key // nsec], sec.categories[key % nsec]
            hsec = cell.secs.get(name)
            if hsec is None:
                raise SimulationError(f"connection to cell {cell.gid}: no section '{name}' "
                                      f"(sections: {', '.join(cell.secs) or 'none'})")
            sections.append(hsec)
        target[syn_rows] = inv
    widx = None
    if "weight_index" in conns:
        w = np.asarray(conns["weight_index"], dtype=np.float64)
        widx = w if np.any(w != 0) else None
    return Plan(pre=np.asarray(conns["pre_gid"], dtype=np.float64), code=code, target=target,
                loc=np.asarray(conns["post_loc"], dtype=np.float64),
                weight=np.asarray(conns["weight"], dtype=np.float64),
                delay=np.asarray(conns["delay"], dtype=np.float64), weight_index=widx,
                sections=sections, points=points, mechs=mechs,
                mech_labels=list(mech.categories),
                syn_cell=ci[syn_rows], syn_code=mech.codes[syn_rows].astype(np.int32),
                cell_gids=gids)


def apply_merge(p: Plan, syn_index: np.ndarray) -> None:
    """Let rows share synapse objects: ``syn_index`` (per row, from
    :func:`nethub.sim.merge.plan_merge`) numbers the objects densely in order of first use, -1
    for rows onto a point cell. Nothing changes when every synapse row has its own object."""
    syn_index = np.asarray(syn_index, dtype=np.int64)
    syn_rows = p.code >= 0
    if not np.array_equal(syn_index < 0, ~syn_rows):
        raise SimulationError("synapse merge plan does not match the connections (rows onto "
                              "artificial cells differ)")
    ids = syn_index[syn_rows]
    if np.array_equal(ids, np.arange(len(ids))):
        return
    first = np.r_[True, ids[1:] > np.maximum.accumulate(ids)[:-1]] if len(ids) else ids
    p.syn_cell, p.syn_code = p.syn_cell[first], p.syn_code[first]
    p.obj_index = syn_index.astype(np.float64)


def _dense_unique(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for keys in ``[0, bound)``, in linear time
    when a table of ``bound`` entries is affordable (no sort of the 2M-row column)."""
    if bound > 4 * len(keys) + (1 << 20):
        return np.unique(keys, return_inverse=True)
    rank = np.zeros(bound, dtype=np.int64)
    rank[keys] = 1
    ukeys = np.flatnonzero(rank)
    rank[ukeys] = np.arange(len(ukeys))
    return ukeys, rank[keys]


def _mech_table(net: Network, mech: Categorical) -> list[_Mech] | None:
    """Per mechanism code: its model and numeric parameters, in the order they are set."""
    out: list[_Mech] = []
    for label in mech.categories:
        m = net.syn_mechs.get(label)
        if m is None:
            raise SimulationError(f"connections use synaptic mechanism '{label}', which is not "
                                  f"in the network (known: {', '.join(net.syn_mechs)})")
        if not _NAME.match(m.model):
            return None
        params = []
        for k, v in m.params.items():
            if k in SYN_RESERVED:
                continue
            if not _NAME.match(k) or isinstance(v, bool) or not isinstance(v, Real) \
                    or not math.isfinite(v):
                return None
            params.append((k, float(v)))
        out.append(_Mech(m.model, params))
    return out


#: HOC globals the procedures read (arguments through $o are ~5% slower per row).
_GLOBALS = ("pc", "secs", "target", "loc", "code", "pre", "weight", "delay", "widx",
            "points", "syns", "netcons", "oidx")


def _g(name: str) -> str:
    return f"nethub_fc_{name}"


def _hoc_proc(p: Plan) -> tuple[str, str]:
    """The HOC procedure for this plan's mechanisms (name, source).

    Parameter values are written as literals: ``repr`` of a float parses back to the same
    double in HOC (strtod), so this sets exactly what ``setattr(syn, name, value)`` sets.
    """
    g = _g
    branches = []
    for k, m in enumerate(p.mechs):
        sets = "".join(f"            syn.{name} = {val!r}\n" for name, val in m.params)
        body = (f"            {g('secs')}.o({g('target')}.x[i]).sec syn = new {m.model}"
                f"({g('loc')}.x[i])\n{sets}            {g('syns')}.append(syn)")
        if len(p.mechs) > 1:
            kw = "if" if k == 0 else "} else if"
            body = f"        {kw} (m == {k}) {{\n{body}"
        branches.append(body)
    syn_part = "\n".join(branches) + ("\n        }" if len(p.mechs) > 1 else "")
    if p.obj_index is not None:  # merged: only a group's first row creates its object
        syn_part = (f"        j = {g('oidx')}.x[i]\n        if (j < {g('syns')}.count()) {{\n"
                    f"            syn = {g('syns')}.o(j)\n        }} else {{\n{syn_part}\n"
                    "        }")
    code = f"        m = {g('code')}.x[i]\n"
    if p.points:
        syn_part = (f"{code}        if (m < 0) {{\n            syn = {g('points')}.o("
                    f"{g('target')}.x[i])\n        }} else {{\n{syn_part}\n        }}")
    elif len(p.mechs) > 1:
        syn_part = code + syn_part
    weight = f"nc.weight[{g('widx')}.x[i]]" if p.weight_index is not None else "nc.weight[0]"
    body = (f"    for i = 0, {g('pre')}.size() - 1 {{\n{syn_part}\n"
            f"        nc = {g('pc')}.gid_connect({g('pre')}.x[i], syn)\n"
            f"        {weight} = {g('weight')}.x[i]\n"
            f"        nc.delay = {g('delay')}.x[i]\n"
            f"        {g('netcons')}.append(nc)\n    }}\n")
    name = "nethub_fastconn_" + hashlib.sha1(body.encode()).hexdigest()[:16]
    return name, f"proc {name}() {{ local i, m, j  localobj syn, nc\n{body}}}\n"


def create(h, pc, p: Plan) -> Made:
    """Create the planned synapses and NetCons in one HOC call."""
    name, src = _hoc_proc(p)
    if not h.name_declared(_g("pc")):
        h("objref " + ", ".join(_g(x) for x in _GLOBALS))
    if not h.name_declared(name) and not h(src):
        raise SimulationError(f"could not define the HOC procedure {name}:\n{src}")
    seclist = h.List()
    for hsec in p.sections:
        seclist.append(h.SectionRef(sec=hsec))
    points = h.List()
    for obj in p.points:
        points.append(obj)
    vec = h.Vector
    args = {"pc": pc, "secs": seclist, "target": vec(p.target), "loc": vec(p.loc),
            "code": vec(p.code), "pre": vec(p.pre), "weight": vec(p.weight),
            "delay": vec(p.delay), "points": points, "syns": h.List(),
            "netcons": h.List(),
            "widx": vec(p.weight_index) if p.weight_index is not None else vec(),
            "oidx": vec(p.obj_index) if p.obj_index is not None else vec()}
    try:
        for k, v in args.items():
            setattr(h, _g(k), v)
        getattr(h, name)()
    finally:
        for k in _GLOBALS:
            setattr(h, _g(k), None)
    return Made(syns=args["syns"], netcons=args["netcons"], proc=name)


def attach_syns(p: Plan, made: Made, cells: dict) -> None:
    """Give each cell a lazy view of its new synapses (``cell.syns``: (label, synapse) pairs)."""
    if len(p.syn_cell) == 0:
        return
    syn_code = p.syn_code
    order = np.argsort(p.syn_cell, kind="stable")
    counts = np.bincount(p.syn_cell, minlength=len(p.cell_gids))
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    codes = syn_code[order]
    for c in np.flatnonzero(counts).tolist():
        cell = cells[int(p.cell_gids[c])]
        lo, hi = bounds[c], bounds[c + 1]
        cell.syns = CellSyns(cell.syns, made.syns, order[lo:hi], codes[lo:hi], p.mech_labels)
