"""Cell-level string expressions and geometry: NetPyNE's "functions as strings" in cellParams
(section ``geom``, ``mechs``, ``pointps`` and cell ``vars``), resolved at build time from each
cell's Random123 stream in NetPyNE's order, bit for bit, and the random rotation of cells.

A value the same for every cell of a type is written into the type; one that differs stays the
expression text in the type and its values become a ``param.secs.<sec>....`` column of the cells
table; ``rot_y`` and ``cellparams_draws`` columns are added when needed. Variables, where
the values go, NetPyNE's quirks and what nethub does about each: docs/design/cellexpr.md.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, Section
from ..errors import SpecError
from ..expr import CELL_VARS, SEC_VARS
from ..network import DRAWS_COLUMN, ROTATION_COLUMN, param_column
from ..random123 import Random123Stream, netpyne_hash_str
from ..table import Ragged, Table

__all__ = [
    "Morphology",
    "resolve_cell_expressions",
    "rotation_angles",
    "with_diversity_ranges",
]

logger = logging.getLogger(__name__)

#: NetPyNE's 2*pi for random rotations
_FULL_TURN = 6.2832
#: NEURON's geometry of a new section
_DEFAULT_L, _DEFAULT_NSEG = 100.0, 1
_PP_RESERVED = frozenset({"mod", "loc", "vref", "synList"})
_POSITION = ("x", "y", "z", "xnorm", "ynorm", "znorm")
_NOT_HERE = ("a string expression is not allowed here (NetPyNE evaluates them in geom (but "
             "pt3d), mechs and pointps parameters and vars)")


# ---------------------------------------------------------------------------------------------
# morphology, as NEURON sees it
# ---------------------------------------------------------------------------------------------
@dataclass
class _Sec:
    L: Any = _DEFAULT_L  # float, or float64 array (one per cell)
    nseg: int = _DEFAULT_NSEG
    pts: np.ndarray | None = None  # (n, 3) float32
    arc: np.ndarray | None = None  # (n,) float64
    parent: str | None = None
    parent_x: float = 1.0
    child_x: float = 0.0
    seq: int = 0  # when it was connected (sibling order)


Node = tuple  # (section, index): 0..nseg-1 interior, nseg the 1 end, -1 a root's root node


@dataclass
class Morphology:
    """The sections of one cell as NEURON holds them, for ``h.distance`` and 3-D positions.

    Sections are created with NEURON's defaults and changed in the order NetPyNE changes them;
    :meth:`path_distance` and :meth:`euclidean_distance` give what NEURON gives at that moment.
    """

    secs: dict[str, _Sec] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)
    _nconnect: int = 0

    @classmethod
    def of_cell_type(cls, ct: CompartmentalCell, cells: Table | None = None,
                     row: int | None = None) -> Morphology:
        """The final morphology of a resolved cell type (what NetPyNE's synMechParams
        expressions see, e.g. for ``post_dist_path``).

        Per-cell ``L``/``nseg`` (expression text in the type) are read from the cells table's
        ``param.secs.<sec>.geom.<key>`` column at ``row``; without ``cells`` and ``row`` they
        raise a SpecError.
        """
        m = cls()
        for name in ct.sections:
            m.add(name)
        for name, sec in ct.sections.items():
            if sec.parent is not None:
                m.connect(name, sec.parent, sec.parent_x, sec.child_x, ct.name)
        for name, sec in ct.sections.items():
            for key in ("L", "nseg"):
                value = sec.geom.get(key)
                if isinstance(value, str):
                    column = param_column(name, "geom", key)
                    if cells is None or row is None or column not in cells:
                        raise SpecError(f"cell type '{ct.name}' section '{name}': {key} differs "
                                        f"between cells; give the cells table and a row")
                    value = float(np.asarray(cells[column])[row])
                if isinstance(value, Number):
                    m.set_geom(name, key, value)
            if sec.pt3d is not None:
                m.set_pt3d(name, sec.pt3d)
        return m

    def add(self, name: str) -> None:
        """Create a section (NEURON's defaults) unless it exists."""
        if name not in self.secs:
            self.secs[name] = _Sec()
            self._cache.clear()

    def connect(self, name: str, parent: str, parent_x: float, child_x: float,
                where: str = "") -> None:
        """``name.connect(parent(parent_x), child_x)``; ``where`` prefixes error messages."""
        if parent not in self.secs:
            raise SpecError(f"{where}['secs']['{name}']['topol']['parentSec']: unknown section "
                            f"'{parent}' (sections: {', '.join(self.secs)})")
        s = self.secs[name]
        self._nconnect += 1
        s.parent, s.parent_x, s.child_x, s.seq = parent, float(parent_x), float(child_x), \
            self._nconnect
        self._cache.clear()

    def set_geom(self, name: str, key: str, value: Any) -> None:
        """Set ``L`` (float or one per cell) or ``nseg``; other keys do not matter here."""
        s = self.secs[name]
        if key == "nseg":
            s.nseg = int(value)
            self._cache.clear()
        elif key == "L":
            if s.pts is not None:  # NEURON's nrn_length_change: scale the 3-D points
                if isinstance(value, np.ndarray):
                    raise SpecError(f"section '{name}': a per-cell L on a section that already "
                                    "has pt3d is not supported")
                fac = value / s.arc[-1]
                s.pts = (s.pts[0].astype(np.float64)
                         + (s.pts - s.pts[0]).astype(np.float64) * fac).astype(np.float32)
                s.arc = s.arc * fac
            s.L = value

    def set_pt3d(self, name: str, pt3d: Any) -> None:
        """``pt3dclear`` then ``pt3dadd`` of each point (relative to the cell's origin)."""
        s = self.secs[name]
        arr = np.asarray(pt3d, dtype=np.float64)
        if arr.size == 0:  # pt3dclear only: L stays
            s.pts = s.arc = None
            return
        pts = arr.reshape(len(arr), -1)[:, :3].astype(np.float32)
        step = np.diff(pts, axis=0).astype(np.float64)  # float differences, as in C
        seg = np.sqrt(step[:, 0] * step[:, 0] + step[:, 1] * step[:, 1] + step[:, 2] * step[:, 2])
        s.pts, s.arc = pts, np.concatenate([[0.0], np.cumsum(seg)])
        s.L = float(s.arc[-1])

    def nseg(self, name: str) -> int:
        """Current number of segments of a section."""
        return self.secs[name].nseg

    def origin(self) -> str:
        """NetPyNE's ``originSecName``."""
        if "soma" in self.secs:
            return "soma"
        return next((n for n in self.secs if n.startswith("soma")), next(iter(self.secs)))

    # ---------------------------------------------------------------- path distance
    def _node_index(self, s: _Sec, x: float) -> int:
        i = int(s.nseg * x)
        if i == s.nseg:
            i = s.nseg - 1
        return s.nseg - i - 1 if s.child_x else i

    def _node_exact(self, name: str, x: float) -> Node:
        s = self.secs[name]
        if x <= 0.0 or x >= 1.0:
            x = min(max(x, 0.0), 1.0)
            if s.child_x:
                x = 1.0 - x
            return self._parent_node(name) if x == 0.0 else (name, s.nseg)
        return (name, self._node_index(s, x))

    def _parent_node(self, name: str) -> Node:
        """NEURON's ``nrn_parent_info``: a child at its parent's start hangs on an ancestor."""
        key = ("pnode", name)
        if key not in self._cache:
            sec = name
            while True:
                s = self.secs[sec]
                if s.parent is None:
                    node = (sec, -1)
                    break
                p = self.secs[s.parent]
                if s.parent_x != p.child_x:
                    whole = s.parent_x in (0.0, 1.0)
                    node = (s.parent, p.nseg if whole else self._node_index(p, s.parent_x))
                    break
                sec = s.parent
            self._cache[key] = node
        return self._cache[key]

    def _order(self) -> dict[str, int]:
        """NEURON's ``section_order``: roots, then breadth first, siblings by position."""
        if "order" not in self._cache:
            kids: dict[str, list[str]] = {n: [] for n in self.secs}
            for n, s in self.secs.items():
                if s.parent is not None:
                    kids[s.parent].append(n)

            def pos(c: str) -> tuple[float, int]:
                s = self.secs[c]
                x = 1.0 - s.parent_x if self.secs[s.parent].child_x else s.parent_x
                return (x, -s.seq)

            order = [n for n, s in self.secs.items() if s.parent is None]
            i = 0
            while i < len(order):
                order.extend(sorted(kids[order[i]], key=pos))
                i += 1
            self._cache["order"] = {n: k for k, n in enumerate(order)}
        return self._cache["order"]

    def _node_dist(self, name: str, node: Node) -> Any:
        s = self.secs[name]
        if node == self._parent_node(name):
            return 0.0
        ratio = 1.0 if node[1] == s.nseg else (node[1] + 0.5) / s.nseg
        return s.L * ratio

    def path_distance(self, name: str, x: float) -> Any:
        """``h.distance(origin(0.5), name(x))`` (NEURON's ``topol_distance``)."""
        order = self._order()
        s1, s2 = self.origin(), name
        n1, n2 = self._node_exact(s1, 0.5), self._node_exact(s2, x)
        d: Any = 0.0
        while s1 != s2:
            if s1 is not None and (s2 is None or order[s1] > order[s2]):
                d += self._node_dist(s1, n1)
                n1, s1 = self._parent_node(s1), self.secs[s1].parent
            else:
                d += self._node_dist(s2, n2)
                n2, s2 = self._parent_node(s2), self.secs[s2].parent
        if s1 is None:
            return d if n1 == n2 else 1e20
        if n1 != n2:
            d += abs(self._node_dist(s1, n1) - self._node_dist(s2, n2))
        return d

    # ---------------------------------------------------------------- 3-D positions
    def position(self, name: str, x: float) -> tuple[float, float, float] | None:
        """NetPyNE's ``posFromLoc``: the point at ``x`` along the pt3d (None without pt3d)."""
        s = self.secs[name]
        if s.pts is None:
            return None
        target = x * s.L
        b = int(np.searchsorted(s.arc, target, side="left"))
        pb = s.pts[b].astype(np.float64).tolist()
        if s.arc[b] == target:
            return tuple(pb)
        a = b - 1
        pa = s.pts[a].astype(np.float64).tolist()
        t = (target - float(s.arc[a])) / (float(s.arc[b]) - float(s.arc[a]))
        return tuple(pa[i] + t * (pb[i] - pa[i]) for i in range(3))

    def euclidean_distance(self, name: str, x: float, where: str = "") -> float:
        """Distance between the 3-D points of ``origin(0.5)`` and ``name(x)``."""
        origin = self.origin()
        p0, p = self.position(origin, 0.5), self.position(name, x)
        if p0 is None or p is None:
            missing = origin if p0 is None else name
            raise SpecError(f"{where}: dist_euclidean needs 3-D points, but section "
                            f"'{missing}' has no pt3d")
        return math.sqrt((p[0] - p0[0]) ** 2 + (p[1] - p0[1]) ** 2 + (p[2] - p0[2]) ** 2)


# ---------------------------------------------------------------------------------------------
# evaluation over the cells of one type
# ---------------------------------------------------------------------------------------------
class _CellDraws:
    """The cells' ``Random123(hashStr('cellParams'), gid, seeds['cell'])`` streams, drawn in
    order; every ``rand.<dist>(...)`` of NetPyNE is a fresh pick."""

    def __init__(self, gids: np.ndarray, seed: int) -> None:
        self.gids, self.seed = gids, int(seed)
        self.stream: Random123Stream | None = None
        self.pos = np.zeros(len(gids), dtype=np.int64)

    def source(self, name: str, args: list, draw: int) -> np.ndarray:
        if self.stream is None:
            self.stream = Random123Stream(netpyne_hash_str("cellParams"), self.gids, self.seed)
        vals, nxt = getattr(self.stream, name)(*args, n=1, start=self.pos, return_next=True)
        self.pos = np.asarray(nxt, dtype=np.int64).reshape(-1)
        return np.asarray(vals, dtype=np.float64).reshape(-1)


def _numeric(v: Any) -> bool:
    return isinstance(v, Number) or (isinstance(v, np.ndarray) and v.dtype.kind in "biuf")


def _check_plain(value: Any, where: str) -> None:
    """A value NetPyNE never evaluates must not be an expression."""
    if isinstance(value, str):
        raise SpecError(f"{where}: {_NOT_HERE}; got {value!r}")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_plain(v, f"{where}['{k}']")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")


class _TypeResolver:
    """Walks a cell type's rules as NetPyNE's ``createNEURONObj`` does, for all its cells."""

    def __init__(self, ctx, ct: CompartmentalCell, cells: Table, rows: np.ndarray) -> None:
        self.ctx, self.ct, self.rows = ctx, ct, rows
        self.positions = {c: np.asarray(cells[c], dtype=np.float64)[rows] for c in _POSITION}
        self.draws = _CellDraws(np.asarray(cells["gid"])[rows], ctx.seeds.get("cell", 1))
        self.morph = Morphology()
        self.final: dict[tuple, Any] = {}  # key path -> value(s) of the last rule setting it

    def run(self) -> None:
        for label in self.ct.provenance.get("rules", [self.ct.name]):
            rule = (self.ctx.net.get("cellParams") or {}).get(label) or {}
            self._rule(label, rule)

    def _rule(self, label: str, rule: dict) -> None:
        where = f"cellParams['{label}']"
        cvars = self._vars(rule.get("vars") or {}, f"{where}['vars']")
        secs = rule.get("secs") or {}
        for name in secs:
            self.morph.add(name)
        for name, sec in secs.items():
            topol = sec.get("topol") or {}
            _check_plain({k: v for k, v in topol.items() if k != "parentSec"},
                         f"{where}['secs']['{name}']['topol']")
            if topol:
                self.morph.connect(name, topol.get("parentSec"), topol.get("parentX", 1.0),
                                   topol.get("childX", 0.0), where)
        for name, sec in secs.items():
            w = f"{where}['secs']['{name}']"
            for key in ("ions", "spikeGenLoc", "vinit", "threshold", "weightNorm"):
                _check_plain(sec.get(key), f"{w}['{key}']")
            self._geom(name, sec.get("geom") or {}, cvars, f"{w}['geom']")
            for mech, params in (sec.get("mechs") or {}).items():
                if mech != "dipole":  # NetPyNE handles dipole apart
                    self._mech(name, mech, params or {}, cvars, f"{w}['mechs']['{mech}']")
            for pp_label, pp in (sec.get("pointps") or {}).items():
                self._pointp(name, pp_label, pp, cvars, f"{w}['pointps']['{pp_label}']")

    def _vars(self, spec: dict, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, val in spec.items():
            if isinstance(val, str):
                expr = self.ctx.compile(val, set(CELL_VARS), f"{where}['{name}']")
                out[name] = self._evaluate(expr, None, 0.5, {}, where)
            elif _numeric(val):
                out[name] = float(val)
        return out

    def _evaluate(self, expr, sec: str | None, x: float, cvars: dict, where: str) -> Any:
        """Value of ``expr`` at ``sec(x)``: a float, or an array with one value per cell."""
        env: dict[str, Any] = {}
        for v in expr.variables:
            if v in cvars:
                env[v] = cvars[v]
            elif v in self.positions:
                env[v] = self.positions[v]
            elif v == "dist_path":
                env[v] = self.morph.path_distance(sec, x)
            elif v == "dist_euclidean":
                env[v] = self.morph.euclidean_distance(sec, x, expr.where)
        out = expr.evaluate(env, source=self.draws.source if expr.is_random else None)
        return float(out) if out.ndim == 0 else out

    def _compile(self, text: str, cvars: dict, where: str):
        return self.ctx.compile(text, set(SEC_VARS) | set(cvars), where)

    def _geom(self, sec: str, geom: dict, cvars: dict, where: str) -> None:
        for key, val in geom.items():
            w = f"{where}['{key}']"
            if key == "pt3d":
                _check_plain(val, w)
                continue
            if isinstance(val, (list, dict)):
                continue  # NetPyNE skips them
            if isinstance(val, str):
                val = self._evaluate(self._compile(val, cvars, w), sec, 0.5, cvars, w)
                if key == "nseg":
                    val = _nseg(val, w)
                self.final[("geom", sec, key)] = val
            else:
                self.final.pop(("geom", sec, key), None)
            if key in ("L", "nseg") and _numeric(val):
                self.morph.set_geom(sec, key, val)
        if geom.get("pt3d") is not None:
            self.morph.set_pt3d(sec, geom["pt3d"])

    def _mech(self, sec: str, mech: str, params: dict, cvars: dict, where: str) -> None:
        for pname, val in params.items():
            w = f"{where}['{pname}']"
            key = ("mechs", sec, mech, pname)
            if not isinstance(val, str):
                _check_plain(val, w)
                self.final.pop(key, None)
                continue
            expr = self._compile(val, cvars, w)
            nseg = self.morph.nseg(sec)
            self.final[key] = [self._evaluate(expr, sec, (i + 0.5) / nseg, cvars, w)
                               for i in range(nseg)]

    def _pointp(self, sec: str, label: str, pp: dict, cvars: dict, where: str) -> None:
        for pname, val in pp.items():
            w = f"{where}['{pname}']"
            key = ("pointps", sec, label, pname)
            if pname in _PP_RESERVED or pname.startswith("_"):
                if pname == "loc":
                    _check_plain(val, w)
                continue
            if isinstance(val, str) and val == "gid":
                self.final[key] = self.draws.gids.astype(np.float64)
            elif isinstance(val, str):
                self.final[key] = self._evaluate(self._compile(val, cvars, w), sec, 0.5, cvars,
                                                 w)
            else:
                _check_plain(val, w)
                self.final.pop(key, None)

    # ---------------------------------------------------------------- results
    def apply(self, columns: dict[str, list]) -> None:
        """Write uniform values into the type, per-cell ones into ``columns``."""
        for key, val in self.final.items():
            kind, sec = key[0], self.ct.sections[key[1]]
            where = (f"cellParams{self.ct.provenance.get('rules', [self.ct.name])}"
                     f"['secs']['{key[1]}']")
            if kind == "mechs":
                self._apply_mech(key, sec, val, columns, where)
                continue
            if isinstance(val, np.ndarray):
                column = param_column(key[1], kind, *key[2:])
                columns.setdefault(column, []).append((self.rows, val.reshape(-1, 1)))
            elif kind == "geom":
                sec.geom[key[2]] = val
            else:
                pp = next(p for p in sec.point_processes if p["label"] == key[2])
                pp[key[3]] = val

    def _apply_mech(self, key: tuple, sec: Section, vals: list, columns: dict,
                    where: str) -> None:
        _, name, mech, pname = key
        nseg = int(sec.geom.get("nseg", 1))
        if not any(isinstance(v, np.ndarray) for v in vals):
            if all(v == vals[0] for v in vals):
                sec.mechs[mech][pname] = vals[0]
                return
            if len(vals) != nseg:
                raise SpecError(f"{where}['mechs']['{mech}']['{pname}']: evaluated on "
                                f"{len(vals)} segments but the section ends with nseg = {nseg}")
            sec.mechs[mech][pname] = list(vals)
            return
        table = np.stack([np.broadcast_to(v, (len(self.rows),)) for v in vals], axis=1)
        if np.all(table == table[:, :1]):
            table = table[:, :1]
        elif table.shape[1] != nseg:
            raise SpecError(f"{where}['mechs']['{mech}']['{pname}']: evaluated on "
                            f"{table.shape[1]} segments but the section ends with nseg = {nseg}")
        columns.setdefault(param_column(name, "mechs", mech, pname), []).append(
            (self.rows, table))


def _nseg(val: Any, where: str) -> int:
    if isinstance(val, np.ndarray):
        raise SpecError(f"{where}: nseg must be the same for every cell of a cell type, but "
                        "this expression depends on the cell (position, random draws or vars)")
    if not (val >= 1 and float(val).is_integer() and val <= 32767):
        raise SpecError(f"{where}: nseg must be an integer in 1..32767, the expression gives "
                        f"{val!r}")
    return int(val)


def _write_columns(cells: Table, columns: dict[str, list]) -> None:
    n = len(cells)
    for name, parts in columns.items():
        widths = {v.shape[1] for _, v in parts}
        if widths == {1}:
            col = np.full(n, np.nan)
            for rows, v in parts:
                col[rows] = v[:, 0]
            cells[name] = col
            continue
        lengths = np.zeros(n, dtype=np.int64)
        for rows, v in parts:
            lengths[rows] = v.shape[1]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = np.empty(offsets[-1], dtype=np.float64)
        for rows, v in parts:
            values[offsets[rows][:, None] + np.arange(v.shape[1])] = v
        cells[name] = Ragged(values, offsets)


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
def rotation_angles(gids: np.ndarray, spec: Any) -> np.ndarray:
    """Per-cell rotation angle about y (radians) for ``rotateCellsRandomly = spec``.

    ``Random123(gid, 0, 0).uniform(lo, hi)``: NetPyNE's draw; ``[lo, hi]`` is ``spec`` when it
    is a ``[min, max]`` list, else ``[0, 6.2832]``.
    """
    lo, hi = (float(spec[0]), float(spec[1])) if isinstance(spec, (list, tuple)) \
        else (0.0, _FULL_TURN)
    gids = np.asarray(gids, dtype=np.int64)
    if len(gids) == 0:
        return np.zeros(0)
    draws = Random123Stream(gids, 0, 0).uniform(lo, hi, n=1)
    return np.asarray(draws, dtype=np.float64).reshape(-1)


def with_diversity_ranges(cell_params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``cellParams`` where every rule with a ``diversityFraction`` has NetPyNE's
    ``conds['fraction']`` range (``network._setDiversityRanges``): rules sharing the same
    (cellType, cellModel, pop) conds take consecutive slices of [0, 1), each end lowered by
    1e-12 (and each start after the first, too)."""
    out = copy.deepcopy(dict(cell_params))
    ends: dict[tuple, float] = {}
    for label, rule in out.items():
        if not isinstance(rule, dict) or "diversityFraction" not in rule:
            continue
        conds = rule.setdefault("conds", {})
        key = (conds.get("cellType"), conds.get("cellModel"), conds.get("pop"))
        frac = rule["diversityFraction"]
        if not isinstance(frac, Number):
            raise SpecError(f"cellParams['{label}']['diversityFraction']: expected a number, "
                            f"got {frac!r}")
        if key in ends:
            start = float(ends[key])
            conds["fraction"] = [start - 1e-12, start + frac - 1e-12]
        else:
            start = 0
            conds["fraction"] = [start, start + frac - 1e-12]
        ends[key] = start + frac
    return out


def resolve_cell_expressions(ctx, cells: Table, types: dict[str, Any]) -> None:
    """Resolve the cellParams expressions of every compartmental cell type and add the
    per-cell columns (see the module docstring) to ``cells``; the types are changed in place.

    Parameters
    ----------
    ctx : BuildContext
        The build (its ``net['cellParams']``, ``seeds`` and expression compiler).
    cells : Table
        The cells table with its ``cell_type`` column.
    types : dict
        The cell types by name.
    """
    ct_col = cells["cell_type"]
    compart = np.zeros(len(cells), dtype=bool)
    columns: dict[str, list] = {}
    draws = np.zeros(len(cells), dtype=np.int64)
    for name, ct in types.items():
        if not isinstance(ct, CompartmentalCell):
            continue
        code = ct_col.code_of(name)
        rows = np.flatnonzero(ct_col.codes == code) if code >= 0 else np.zeros(0, np.int64)
        if len(rows) == 0:
            continue
        compart[rows] = True
        res = _TypeResolver(ctx, ct, cells, rows)
        res.run()
        res.apply(columns)
        draws[rows] = res.draws.pos
    _write_columns(cells, columns)
    if draws.any():
        cells[DRAWS_COLUMN] = draws
    spec = ctx.net.get("rotateCellsRandomly")
    if spec:
        angles = np.full(len(cells), np.nan)
        angles[compart] = rotation_angles(np.asarray(cells["gid"])[compart], spec)
        cells[ROTATION_COLUMN] = angles
    if columns:
        logger.info("cell expressions: %d per-cell column(s)", len(columns))
