"""Instantiate one rank's share of a canonical network in NEURON, run it, collect results.

NEURON objects are created only here. Creation follows NetPyNE 1.1 step by step (section
creation, topology, geometry, pt3d offset by the cell position, mechanisms per segment, ions,
point processes; one synapse object per connection unless :mod:`nethub.sim.merge` shares it;
NetStim noise streams keyed by ``Random123(hashStr(type), gid, seed)``), so a network built
from a NetPyNE spec gives NetPyNE's spikes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, PointCell
from ..errors import SimulationError
from ..expr import compile_expr
from ..network import DRAWS_COLUMN, Network
from ..random123 import Random123Stream, netpyne_hash_str
from ..runconfig import DEFAULT_SEED, RunConfig
from ..table import Categorical, Ragged
from . import bulkconnect, merge, plasticity, rotation, synparams, synshare, templatecells
from .livepointers import live_rows, set_pointer
from .record import trace_gids
from .spikepoints import attach as attach_spike_points

__all__ = ["Engine"]

logger = logging.getLogger(__name__)

#: stim source parameters ``play.<var>`` (and ``play.t`` / ``play.dt`` / ``play.continuous``):
#: a waveform ``Vector.play``ed into the stim's variable (SONATA clamps from files)
PLAY = "play."
_PP_RESERVED = {"mod", "loc", "vref", "synList", "label"}
_SYN_RESERVED = {"mod", "loc", "selfNetCon", "pointerParams", "shape", "plast"}
#: variables of synMechParams string functions (NetPyNE's SynMechParams.stringFuncVarNames)
_SYN_VARS = ("post_x", "post_y", "post_z", "post_xnorm", "post_ynorm", "post_znorm",
             "post_dist_path", "post_dist_euclidean")
#: point-cell parameters that are not NEURON attributes (see nethub.builder.pointcells)
_POINT_RESERVED = {"seed", "spkTimes", "pulses", "spikePattern", "dynamicRates", "rates",
                   "noise_ids", "dynamicRates.intervals", "dynamicRates.times"}


def _pos_from_loc(hsec, x: float) -> tuple[float, float, float]:
    """NetPyNE's ``posFromLoc``: the 3-D point at ``x`` along the section's pt3d."""
    s = x * hsec.L
    n = int(hsec.n3d())
    b = next((i for i in range(n) if hsec.arc3d(i) >= s), -1)
    if b < 0:
        raise SimulationError(f"section {hsec.name()}: no 3-D point at x={x} (pt3d needed "
                              "for post_dist_euclidean)")
    if hsec.arc3d(b) == s:
        return hsec.x3d(b), hsec.y3d(b), hsec.z3d(b)
    a = b - 1
    t = (s - hsec.arc3d(a)) / (hsec.arc3d(b) - hsec.arc3d(a))
    return tuple(getattr(hsec, f"{c}3d")(a) + t * (getattr(hsec, f"{c}3d")(b)
                                                   - getattr(hsec, f"{c}3d")(a))
                 for c in "xyz")  # type: ignore[return-value]


def _row_thresholds(conns) -> dict[int, tuple[int, float, bool]]:
    """``{pre_gid: (post_gid, threshold, clash)}`` from the rows with a threshold (NaN: none):
    per source the last row in table order (sorted by post gid, then row), which consecutive
    ``netcon.threshold`` assignments leave in place; ``clash`` when its rows disagree."""
    if "threshold" not in conns or len(conns) == 0:
        return {}
    th = np.asarray(conns["threshold"], dtype=np.float64)
    rows = np.flatnonzero(~np.isnan(th))
    rows = rows[np.argsort(np.asarray(conns["post_gid"])[rows], kind="stable")]
    pre, post = np.asarray(conns["pre_gid"])[rows], np.asarray(conns["post_gid"])[rows]
    out: dict[int, tuple[int, float, bool]] = {}
    for g, p, t in zip(pre.tolist(), post.tolist(), th[rows].tolist()):
        out[g] = (p, t, g in out and (out[g][2] or out[g][1] != t))
    return out



def normal_steps(normal, seed) -> tuple[np.ndarray, np.ndarray]:
    """A step waveform of normal draws (SONATA ``noise``): ``normal = (mean, std, dt, delay,
    duration)``; value *k* = draw *k* of ``numpy.random.Generator(Philox(key=seed))``
    ``.normal(mean, std, n)``, ``n = ceil(duration / dt)``, from ``delay + k dt`` on; 0 before
    ``delay`` and from ``delay + duration`` on. Returns (times, values)."""
    mean, std, step, delay, dur = (float(x) for x in normal)
    n = int(np.ceil(dur / step - 1e-9))
    draws = np.random.Generator(np.random.Philox(key=int(seed))).normal(mean, std, n)
    times = np.concatenate(([0.0], delay + step * np.arange(n), [delay + dur]))
    return times, np.concatenate(([0.0], draws, [0.0]))

class _Cell:
    """NEURON objects of one cell."""

    __slots__ = ("gid", "secs", "pointps", "point", "vref", "syns", "stims", "nc")

    def __init__(self, gid: int) -> None:
        self.gid = gid
        self.secs: dict[str, Any] = {}
        self.pointps: dict[str, Any] = {}
        self.point = None
        self.syns: list = []
        self.stims: list = []
        # per section: its point process with 'vref' (Izhikevich-style) and its synList
        self.vref: dict[str, tuple[Any, list]] = {}


class Engine:
    """Builds and runs the local part of a network on one rank."""

    def __init__(self, h, pc, net: Network, config: RunConfig) -> None:
        self.h, self.pc, self.net, self.config = h, pc, net, config
        self.rank, self.nhost = int(pc.id()), int(pc.nhost())
        self.cells: dict[int, _Cell] = {}
        self.netcons: list = []
        self.keep: list = []  # objects that must stay alive (vectors, randoms, handlers)
        self.stim_seed = int(config.seed("stim"))
        self.default_threshold = (float(net.params.get("defaultThreshold", 10))
                                  if config.spike_threshold is None else config.spike_threshold)
        self._exprs: dict[str, Any] = {}  # compiled synMechParams string functions
        self._streams: dict[int, list] = {}  # per cell: [cellParams stream, next draw]
        self._rows: dict[int, int] | None = None
        self.shared_syns = synshare.SynIndex() if config.share_synapses else None
        self.spike_points = np.zeros(0, dtype=np.int64)  # extra spike source ids (not cells)

    # ------------------------------------------------------------------ cells
    def create_cells(self) -> None:
        cells = self.net.cells
        gids = np.asarray(cells["gid"])
        ct: Categorical = cells["cell_type"]  # type: ignore[assignment]
        xyz = np.stack([np.asarray(cells[c]) for c in ("x", "y", "z")], axis=1)
        self._param_cols = [c for c in cells.extra_columns if c.startswith("param.secs.")]
        rot = rotation.cell_angles(cells)
        for i, gid in enumerate(gids.tolist()):
            ctype = self.net.cell_types[ct.categories[ct.codes[i]]]
            if isinstance(ctype, PointCell):
                cell = self._point_cell(gid, ctype, i)
            else:
                angle = rotation.row_angles(rot, i)
                cell = self._compartmental(gid, ctype, xyz[i], self._row_params(i), angle)
            self.cells[gid] = cell

    def _row_params(self, row: int) -> dict[str, Any]:
        """Per-cell values of expressions (columns ``param.secs.<sec>.<kind>.<...>``)."""
        out: dict[str, Any] = {}
        for c in self._param_cols:
            col = self.net.cells[c]
            if isinstance(col, Ragged):
                vals = col.row(row)
                if len(vals):
                    out[c[len("param."):]] = vals.tolist()
            elif not np.isnan(col[row]):
                out[c[len("param."):]] = float(col[row])
        return out

    def _compartmental(self, gid: int, ct: CompartmentalCell, pos: np.ndarray,
                       per_cell: dict[str, Any] | None = None,
                       angle: tuple[float, float, float] | None = None
                       ) -> _Cell:
        if ct.run_mode == "template":  # the imported template itself (issue 14)
            return templatecells.build_cell(self, _Cell(gid), ct, pos, angle)
        h = self.h
        cell = _Cell(gid)
        for name in ct.sections:
            cell.secs[name] = h.Section(name=f"cell_{gid}.{name}")
        for name, sec in ct.sections.items():
            if sec.parent is not None:
                cell.secs[name].connect(cell.secs[sec.parent], sec.parent_x, sec.child_x)
        rel = self.config.pt3d_relative_to_cell
        inv = self.config.invert_y
        off = (pos[0], -pos[1] if inv else pos[1], pos[2]) if rel else (0.0, 0.0, 0.0)
        per_cell = per_cell or {}
        for name, sec in ct.sections.items():
            hsec = cell.secs[name]
            own = {k[len(f"secs.{name}."):]: v for k, v in per_cell.items()
                   if k.startswith(f"secs.{name}.")}
            self._geometry(hsec, sec, off, ct.name, name, own, angle)
            for mech, params in sec.mechs.items():
                params = {p: own.get(f"mechs.{mech}.{p}", v) for p, v in params.items()}
                self._insert(hsec, mech, params, ct.name, name)
            for ion, params in sec.ions.items():
                self._ion(hsec, ion, params)
            for pp in sec.point_processes:
                pp = {k: own.get(f"pointps.{pp['label']}.{k}", v) for k, v in pp.items()}
                cell.pointps[pp["label"]] = self._pointp(hsec, pp)
                if "vref" in pp:
                    cell.vref.setdefault(name, (cell.pointps[pp["label"]],
                                                list(pp.get("synList") or [])))
        self._spike_source(cell, ct)
        return cell

    def _geometry(self, hsec, sec, off, ct_name: str, sec_name: str, own: dict,
                  angle: tuple[float, float, float] | None) -> None:
        for key, val in sec.geom.items():
            if isinstance(val, (list, dict)):
                continue
            val = own.get(f"geom.{key}", val)
            if isinstance(val, str):
                raise SimulationError(f"cell type '{ct_name}' section '{sec_name}': geometry "
                                      f"'{key}' is an unresolved expression {val!r}")
            setattr(hsec, key, int(val) if key == "nseg" else val)
        if sec.pt3d is not None and len(sec.pt3d):
            h = self.h
            pts = sec.pt3d
            if angle is not None:  # rot_x/y/z (NetPyNE's rotateCellsRandomly: rot_y)
                pts = rotation.rotate_points(sec.pt3d, angle)
            h.pt3dclear(sec=hsec)
            for x, y, z, d in pts.tolist():
                h.pt3dadd(off[0] + x, off[1] + y, off[2] + z, d, sec=hsec)

    def _insert(self, hsec, mech: str, params: dict, ct_name: str, sec_name: str) -> None:
        try:
            hsec.insert(mech)
        except ValueError as exc:
            raise SimulationError(f"cannot insert mechanism '{mech}' in section '{sec_name}' "
                                  f"of cell type '{ct_name}': {exc}") from exc
        for pname, val in params.items():
            segs = list(hsec)
            for iseg, seg in enumerate(segs):
                v = val
                if isinstance(val, list):
                    v = val[0] if len(val) == 1 else val[iseg]
                if v is None:
                    continue
                if isinstance(v, str):
                    raise SimulationError(
                        f"cell type '{ct_name}' section '{sec_name}': {mech}.{pname} is an "
                        f"unresolved expression {v!r}")
                setattr(getattr(seg, mech), pname, v)

    def _ion(self, hsec, ion: str, params: dict) -> None:
        h = self.h
        hsec.insert(ion + "_ion")
        for pname, val in params.items():
            for iseg, seg in enumerate(hsec):
                v = val[iseg] if isinstance(val, list) else val
                if pname == "e":
                    setattr(seg, "e" + ion, v)
                elif pname in ("o", "i"):
                    setattr(seg, f"{ion}{pname}", v)
                    setattr(h, f"{ion}{pname}0_{ion}_ion", v)

    def _pointp(self, hsec, pp: dict):
        obj = getattr(self.h, pp["mod"])(pp.get("loc", 0.5), sec=hsec)
        for k, v in pp.items():
            if k not in _PP_RESERVED and not k.startswith("_"):
                setattr(obj, k, v)
        return obj

    def _spike_source(self, cell: _Cell, ct: CompartmentalCell) -> None:
        h, pc = self.h, self.pc
        pc.set_gid2node(cell.gid, self.rank)
        sec_name, loc = ct.spike_source or (next(iter(ct.sections)), 0.5)
        hsec = cell.secs[sec_name]
        nc = None
        for pp in ct.sections[sec_name].point_processes:
            if pp.get("_events"):  # the point process itself emits the spikes (net_event)
                nc = h.NetCon(cell.pointps[pp["label"]], None)
                break
            if "vref" in pp:
                nc = h.NetCon(getattr(cell.pointps[pp["label"]], "_ref_" + pp["vref"]), None,
                              sec=hsec)
                break
        if nc is None:
            nc = h.NetCon(hsec(loc)._ref_v, None, sec=hsec)
        thr = ct.sections[sec_name].threshold
        nc.threshold = float(thr if thr is not None else self.default_threshold)
        pc.cell(cell.gid, nc, 1)

    def _point_cell(self, gid: int, ct: PointCell, row: int) -> _Cell:
        """NetPyNE's ``PointCell.createNEURONObj``: dynamic rates played into ``interval``,
        numeric parameters set in order, NetStim defaults and run-time noise stream."""
        h, pc = self.h, self.pc
        cell = _Cell(gid)
        params = self._point_params(ct, row)
        obj = getattr(h, ct.model)()
        cell.point = obj
        self._play_rates(obj, params)
        if ct.model == "VecStim":
            self._vecstim(obj, params, gid)
        else:
            for k, v in params.items():
                if k == "rate":
                    if "interval" not in params:
                        obj.interval = 1000.0 / float(v)
                elif k not in _POINT_RESERVED and isinstance(v, (int, float)):
                    setattr(obj, k, v)
            if ct.model == "NetStim":
                if "number" not in params:
                    obj.number = 1e9
                ids = params.get("noise_ids")
                if ids is None or len(ids) != 3:
                    ids = (netpyne_hash_str("NetStim"), gid, params.get("seed", self.stim_seed))
                self._netstim_noise(obj, *ids)
        pc.set_gid2node(gid, self.rank)
        nc = h.NetCon(obj, None)
        nc.threshold = self.default_threshold
        pc.cell(gid, nc, 1)
        return cell

    def _point_params(self, ct: PointCell, row: int) -> dict[str, Any]:
        """The cell type's parameters with this cell's ``params.*`` columns (NaN: not set)."""
        params = dict(ct.params)
        for col in self.net.cells.extra_columns:
            if col.startswith("params."):
                val = self.net.cells[col]
                key = col[len("params."):]
                if isinstance(val, Ragged):
                    params[key] = val.row(row)
                elif isinstance(val, np.ndarray) and not np.isnan(val[row]):
                    params[key] = float(val[row])
        return params

    def _play_rates(self, obj, params: dict) -> None:
        """NetPyNE's time-dependent rates: ``Vector(intervals).play(obj._ref_interval,
        Vector(times))``."""
        intervals = params.get("dynamicRates.intervals")
        times = params.get("dynamicRates.times")
        if intervals is None or times is None or len(intervals) == 0:
            return
        h = self.h
        ivec = h.Vector(np.asarray(intervals, dtype=np.float64))
        tvec = h.Vector(np.asarray(times, dtype=np.float64))
        ivec.play(obj._ref_interval, tvec)
        self.keep.extend([ivec, tvec])

    def _vecstim(self, obj, params: dict, gid: int) -> None:
        times = params.get("spkTimes")
        if times is None:
            raise SimulationError(f"VecStim cell {gid} has no spike times (params.spkTimes)")
        vec = self.h.Vector(np.asarray(times, dtype=np.float64))
        obj.play(vec)
        self.keep.append(vec)

    def _netstim_noise(self, obj, id1: float, id2: float, id3: float) -> None:
        """NetPyNE's preRun: ``noiseFromRandom123(id1, id2, id3)`` with ``cfg.random123``,
        else an ``h.Random`` set to ``Random123(id1, id2, id3)`` and ``negexp(1)`` given to
        ``noiseFromRandom``. The ids are ``(hashStr(type), gid, seed)``."""
        ids = (int(id1), int(id2), int(id3))
        if self.config.netstim_random123:
            obj.noiseFromRandom123(*ids)
            return
        r = self.h.Random()
        r.Random123(*ids)
        r.negexp(1)
        obj.noiseFromRandom(r)
        self.keep.append(r)

    # ------------------------------------------------------------------ synapses
    def _syn(self, cell: _Cell, mech_name: str | None, sec: str | None, loc: float):
        if cell.point is not None or sec is None:  # artificial cell: no synMech needed
            return cell.point
        if mech_name is None:
            raise SimulationError(f"connection onto compartmental cell {cell.gid} has no "
                                  "synaptic mechanism (only artificial cells take none)")
        mech = self.net.syn_mechs[mech_name]
        if sec in cell.vref:  # NetPyNE's _setConnPointP: the point process is the target
            return cell.vref[sec][0]
        hsec = cell.secs[sec]
        syn = getattr(self.h, mech.model)(loc, sec=hsec)
        for k, v in mech.params.items():
            if k not in _SYN_RESERVED:
                if isinstance(v, str):
                    v = self._syn_expr(cell.gid, mech_name, k, v, hsec, loc)
                setattr(syn, k, v)
        cell.syns.append((mech_name, syn))
        return syn

    def _syn_expr(self, gid: int, mech_name: str, key: str, text: str, hsec, loc: float
                  ) -> float:
        """NetPyNE's synMechParams string function, evaluated when the synapse is created:
        variables ``post_x`` ... ``post_znorm``, ``post_dist_path``, ``post_dist_euclidean``
        (from the synapse's segment centre), random functions drawn from the cell's
        ``Random123(hashStr('cellParams'), gid, seeds['cell'])`` stream after the draws of
        its cellParams expressions (``cellparams_draws``)."""
        where = f"synMechParams['{mech_name}']['{key}']"
        expr = self._exprs.get(where)
        if expr is None:
            expr = self._exprs[where] = compile_expr(text, set(_SYN_VARS), where)
        env = {}
        for var in expr.variables:
            if var in ("post_dist_path", "post_dist_euclidean"):
                env[var] = np.array([self._syn_distance(gid, var, hsec, loc)])
            else:
                env[var] = np.asarray(self.net.cells[var[len("post_"):]])[[self._row(gid)]]
        return float(expr.evaluate(env, n=1, source=self._cell_stream(gid))[0])

    def _row(self, gid: int) -> int:
        if self._rows is None:
            self._rows = {g: i for i, g in enumerate(np.asarray(self.net.cells["gid"]).tolist())}
        return self._rows[gid]

    def _cell_stream(self, gid: int):
        """``source`` for :meth:`nethub.expr.Expr.evaluate`: fresh picks from the cell's
        cellParams stream, continuing where its last pick stopped."""
        if gid not in self._streams:
            col = self.net.cells[DRAWS_COLUMN] if DRAWS_COLUMN in self.net.cells else None
            start = int(np.asarray(col)[self._row(gid)]) if col is not None else 0
            seeds = self.net.provenance.get("seeds")
            seed = seeds.get("cell", DEFAULT_SEED) if seeds else self.config.seed("cell")
            stream = Random123Stream(netpyne_hash_str("cellParams"), gid, int(seed))
            self._streams[gid] = [stream, start]
        state = self._streams[gid]

        def source(name: str, args: list, draw: int) -> np.ndarray:
            vals, nxt = getattr(state[0], name)(*args, n=1, start=state[1], return_next=True)
            state[1] = int(np.asarray(nxt).reshape(-1)[0])
            return np.asarray(vals, dtype=np.float64).reshape(-1)

        return source

    def _syn_distance(self, gid: int, var: str, hsec, loc: float) -> float:
        """NetPyNE's ``post_dist_path`` (``h.distance`` from the origin section's centre) or
        ``post_dist_euclidean`` (``posFromLoc`` of both points) for a synapse at ``loc``."""
        secs = self.cells[gid].secs
        origin = secs["soma"] if "soma" in secs else next(
            (s for n, s in secs.items() if n.startswith("soma")), next(iter(secs.values())))
        if var == "post_dist_path":
            return float(self.h.distance(origin(0.5), hsec(loc)))
        p0, p = _pos_from_loc(origin, 0.5), _pos_from_loc(hsec, hsec(loc).x)
        return float(np.sqrt((p[0] - p0[0]) ** 2 + (p[1] - p0[1]) ** 2 + (p[2] - p0[2]) ** 2))

    def create_connections(self) -> int:
        """One ``pc.gid_connect`` NetCon per connection row, in table order, onto synapse
        objects shared as :func:`nethub.sim.merge.plan_merge` plans (one per row, as NetPyNE
        makes them, when merging is off or does not apply), plus each row's plasticity
        (:mod:`nethub.sim.plasticity`) and connection thresholds. Collective under MPI.

        Made in bulk by a HOC procedure over Vectors (:mod:`nethub.sim.bulkconnect`); rows it
        cannot take (a compartmental target without a section, non-numeric synapse parameters,
        plasticity) send the whole table through :meth:`_connect_rows`, which creates the same
        objects.
        """
        self.spike_points = attach_spike_points(self)  # rows listening off the detector
        conns = self.net.connections
        n = len(conns)
        plan = self._merge_plan(conns)
        self._share_conn_facts(conns, plan)
        if n == 0:
            return 0
        plastic = plasticity.plastic_rows(conns)
        syn_params = synparams.columns(conns)  # param.<name>: the per-row path sets them
        bulk = None if plastic.any() or syn_params else bulkconnect.plan(self.net, self.cells)
        if bulk is not None:
            bulkconnect.apply_merge(bulk, plan.syn_index)
            made = bulkconnect.create(self.h, self.pc, bulk)
            bulkconnect.attach_syns(bulk, made, self.cells)
            self.keep.append(made)
            objs = made.syns
        else:
            objs = self._connect_rows(conns, plan.syn_index, plastic, syn_params)
        if self.shared_syns is not None:  # oneSynPerNetcon=False: stims reuse these
            self.shared_syns.add_connections(conns, synparams.unshared(plan.syn_index, conns),
                                             objs)
        return n

    def _connect_rows(self, conns, syn_index: np.ndarray, plastic: np.ndarray,
                      syn_params: dict[str, np.ndarray] | None = None) -> None:
        """The Python path: per row, its synapse (created by the first row of its merge group),
        the NetCon, then the row's plasticity."""
        n = len(conns)
        pre = np.asarray(conns["pre_gid"]).tolist()
        post = np.asarray(conns["post_gid"]).tolist()
        mech: Categorical = conns["syn_mech"]  # type: ignore[assignment]
        sec: Categorical = conns["post_sec"]  # type: ignore[assignment]
        mech_v, sec_v = mech.values().tolist(), sec.values().tolist()
        loc = np.asarray(conns["post_loc"]).tolist()
        w = np.asarray(conns["weight"]).tolist()
        d = np.asarray(conns["delay"]).tolist()
        widx = (np.asarray(conns["weight_index"]).tolist() if "weight_index" in conns
                else [0] * n)
        plast = None
        if plastic.any():
            plast = plasticity.Plasticity(self.h, self.pc)
            self.keep.append(plast)
            texts = conns["plast"].values().tolist()  # type: ignore[union-attr]
        ids, objs, pc = syn_index.tolist(), [], self.pc
        for i in range(n):
            cell = self.cells[post[i]]
            k = ids[i]
            if k < 0 or k == len(objs):  # own object, or the first row of a merge group
                target = self._syn(cell, mech_v[i], sec_v[i], loc[i])
                if syn_params and target is not cell.point:
                    synparams.apply(target, syn_params, i)
                if k >= 0:
                    objs.append(target)
            else:
                target = objs[k]
            nc = pc.gid_connect(pre[i], target)
            nc.weight[widx[i]] = w[i]
            nc.delay = d[i]
            self.netcons.append(nc)
            if plast is not None and plastic[i]:
                plast.add(cell, sec_v[i], nc, widx[i], pre[i], texts[i])
        return objs

    def _merge_plan(self, conns) -> merge.MergePlan:
        """Which rows share a synapse object; rows of a synMech whose variables are recorded
        (``recordTraces`` with ``synMech``) on a recorded cell keep their own, so that the
        trace is NetPyNE's (one connection's synapse, not the sum)."""
        keep = None
        traced = {t.syn_mech for t in self.config.traces if t.syn_mech is not None}
        if traced and len(conns):
            mech: Categorical = conns["syn_mech"]  # type: ignore[assignment]
            codes = [c for c, name in enumerate(mech.categories) if name in traced]
            keep = {"synMech recorded (recordTraces)": np.isin(mech.codes, codes) & np.isin(
                np.asarray(conns["post_gid"]), trace_gids(self.net, self.config))}
        plan = merge.plan_merge(self.net, self.config, conns, keep_apart=keep)
        self.merge_report = plan.report
        return plan

    def _share_conn_facts(self, conns, plan: merge.MergePlan) -> None:
        """Collective: merging totals (logged on rank 0, kept in ``merge_report``) and the
        connections' ``threshold`` column applied to the spike sources."""
        local = (plan.report["n_connections"], plan.n_objects,
                 int(np.count_nonzero(plan.syn_index >= 0)), _row_thresholds(conns))
        facts = self.pc.py_allgather(local) if self.nhost > 1 else [local]
        n_conns, n_objs, n_own = (sum(f[i] for f in facts) for i in range(3))
        self.merge_report.update(total_connections=n_conns, total_objects=n_objs,
                                 total_saved=n_own - n_objs)
        if self.rank == 0:
            logger.info("synapse merging: %s", plan.describe() if self.nhost == 1 else
                        f"{n_conns} connections onto {n_objs} synapse objects on "
                        f"{self.nhost} ranks (saved {n_own - n_objs}); rank 0: "
                        f"{plan.describe()}")
        self._apply_thresholds([f[3] for f in facts])

    def _apply_thresholds(self, per_rank: list[dict[int, tuple[int, float, bool]]]) -> None:
        """NEURON keeps one threshold per spike source: ``netcon.threshold = x`` on a
        ``gid_connect`` NetCon sets the source's, and the last connection wins. The last in
        table order over all ranks (the row with the highest post gid) is set on the sources
        of this rank, so the result does not depend on the rank count."""
        final: dict[int, tuple[int, float, bool]] = {}
        for part in per_rank:
            for gid, (post, th, clash) in part.items():
                old = final.get(gid)
                clash = clash or (old is not None and (old[2] or old[1] != th))
                if old is None or post > old[0]:
                    final[gid] = (post, th, clash)
                else:
                    final[gid] = (old[0], old[1], clash)
        clashes = sorted(g for g, v in final.items() if v[2])
        if clashes and self.rank == 0:
            logger.warning("connections from gid(s) %s give different thresholds; NEURON keeps "
                           "one per source, the last connection's", clashes[:5])
        for gid, (_, th, _) in final.items():
            if gid in self.cells:
                self.pc.threshold(gid, th)

    # ------------------------------------------------------------------ stims
    def create_stims(self) -> int:
        st = self.net.stim_targets
        if len(st) == 0:
            return 0
        src: Categorical = st["source"]  # type: ignore[assignment]
        gids = np.asarray(st["gid"]).tolist()
        secs = st["sec"].values().tolist()  # type: ignore[union-attr]
        locs = np.asarray(st["loc"]).tolist()
        mechs = st["syn_mech"].values().tolist()  # type: ignore[union-attr]
        w, d = np.asarray(st["weight"]).tolist(), np.asarray(st["delay"]).tolist()
        per_cell = {c[len("param."):]: np.asarray(st[c]) for c in st.extra_columns
                    if c.startswith("param.")}
        rules = st["rule"].values().tolist()  # type: ignore[union-attr]
        for i in range(len(st)):
            source = self.net.stim_sources[src.categories[src.codes[i]]]
            params = dict(source.params)
            # per-cell values of this row's rule; NaN in the columns of other rules' sources
            params.update({k: float(v[i]) for k, v in per_cell.items() if not np.isnan(v[i])})
            cell = self.cells[gids[i]]
            if source.model == "NetStim":
                self._netstim_target(cell, params, secs[i], locs[i], mechs[i], w[i], d[i])
            else:
                obj = self._point_stim(cell, source.model, params, secs[i], locs[i])
                cell.stims.append((rules[i], obj))
        return len(st)

    def _netstim_target(self, cell, params, sec, loc, mech, weight, delay) -> None:
        """NetPyNE's ``addNetStim`` + ``addConn``: a NetStim with ``interval = rate**-1 * 1e3``
        (``rate = 1000/interval`` when only an interval is given) driving the synapse."""
        h = self.h
        ns = h.NetStim()
        if "rate" not in params and "interval" not in params:
            raise SimulationError(f"NetStim stim on cell {cell.gid}: its source has neither "
                                  "'rate' nor 'interval'")
        rate = params["rate"] if "rate" in params else 1000.0 / float(params["interval"])
        if isinstance(rate, str):
            raise SimulationError(f"NetStim stim on cell {cell.gid}: rate {rate!r} is not "
                                  "supported (NetPyNE's 'variable' rate needs NSLOC)")
        ns.interval = float(rate) ** -1 * 1e3
        ns.noise = params.get("noise", 0.0)
        ns.start = params.get("start", 0.0)
        ns.number = params.get("number", 1e9)
        self._netstim_noise(ns, netpyne_hash_str("NetStim"), cell.gid,
                            params.get("seed", self.stim_seed))
        target = self._stim_syn(cell, mech, sec, loc)
        nc = h.NetCon(ns, target)
        syn_list = cell.vref[sec][1] if sec in cell.vref else []
        nc.weight[syn_list.index(mech) if mech in syn_list else 0] = weight
        nc.delay = delay
        cell.stims.append((None, ns))
        self.netcons.append(nc)

    def _stim_syn(self, cell, mech: str, sec, loc: float):
        """The synapse a NetStim drives: its own, or with ``oneSynPerNetcon=False`` the one
        already at that place (:mod:`nethub.sim.synshare`)."""
        if self.shared_syns is None:
            return self._syn(cell, mech, sec, loc)
        obj = self.shared_syns.get(cell.gid, mech, sec, loc)
        if obj is None:
            obj = self._syn(cell, mech, sec, loc)
            self.shared_syns.add(cell.gid, mech, sec, loc, obj)
        return obj

    def _point_stim(self, cell, model: str, params: dict, sec, loc):
        """NetPyNE's ``addStim`` for IClamp, VClamp, SEClamp, AlphaSynapse...: the parameters
        set in order; lists (VClamp's ``amp``/``dur``) element by element."""
        hsec = cell.secs[sec] if sec is not None else None
        obj = getattr(self.h, model)(loc, sec=hsec) if hsec is not None else \
            getattr(self.h, model)()
        played = {k: params.pop(k) for k in [k for k in params if k.startswith(PLAY)]}
        for k, v in params.items():
            if isinstance(v, (list, tuple)) and k in ("amp", "dur"):
                arr = getattr(obj, k)
                for j, x in enumerate(v):
                    arr[j] = x
            elif isinstance(v, (int, float)):
                setattr(obj, k, v)
        if played:
            self._play_into(obj, played)
        return obj

    def _play_into(self, obj, played: dict) -> None:
        """A waveform played into a stim's variable (``play.<var>`` values; ``play.dt``: one
        value every ``dt`` ms from t = 0, ``Vector.play(ref, dt)``, as BMTK plays clamp
        files; or ``play.t`` times with ``play.continuous`` 0/1, ``Vector.play(ref, tvec,
        continuous)``; ``play.scale`` multiplies the values; ``play.normal`` + ``play.seed``:
        :func:`normal_steps`)."""
        h = self.h
        tvec = played.pop(PLAY + "t", None)
        step = played.pop(PLAY + "dt", None)
        continuous = int(played.pop(PLAY + "continuous", 0))
        normal = played.pop(PLAY + "normal", None)
        seed = played.pop(PLAY + "seed", None)
        if normal is not None:  # SONATA noise: its stream is keyed by the target, not the rank
            tvec, played[PLAY + "amp"] = normal_steps(normal, seed)
            continuous = 0
        scale = float(played.pop(PLAY + "scale", 1.0))  # per target (relative clamps)
        for var, values in played.items():
            vec = h.Vector(np.asarray(values, dtype=np.float64) * scale)
            ref = getattr(obj, "_ref_" + var[len(PLAY):])
            if tvec is not None:
                tv = h.Vector(np.asarray(tvec, dtype=np.float64))
                vec.play(ref, tv, continuous)
                self.keep.append(tv)
            else:
                vec.play(ref, float(step))
            self.keep.append(vec)

    # ------------------------------------------------------------------ pointers
    def create_pointer_conns(self, table, first_id: int = 0) -> int:
        """Gap junctions and graded synapses: row i of the (whole) pointer table is the
        transfer id ``first_id + i``; the target mechanism lives on the post cell's rank, the
        source variable on the pre cell's rank. Rows marked ``live`` set the target POINTER
        with ``h.setpointer`` instead (:mod:`nethub.sim.livepointers`)."""
        if table is None or len(table) == 0:
            return 0
        pc = self.pc
        pre = np.asarray(table["pre_gid"]).tolist()
        post = np.asarray(table["post_gid"]).tolist()
        cols = {k: table[k].values().tolist() for k in ("pre_sec", "post_sec", "syn_mech",
                                                        "source_var", "target_var")}
        pre_loc, post_loc = np.asarray(table["pre_loc"]), np.asarray(table["post_loc"])
        weight = np.asarray(table["weight"])
        live = live_rows(table)  # h.setpointer, both cells here (colocate.py)
        n = 0
        for i in range(len(table)):
            sid = first_id + i
            if post[i] in self.cells:
                cell = self.cells[post[i]]
                syn = self._syn(cell, cols["syn_mech"][i], cols["post_sec"][i],
                                float(post_loc[i]))
                if not np.isnan(weight[i]) and hasattr(syn, "weight"):
                    syn.weight = float(weight[i])
                var = self._pointer_var(cols, i, "target_var", "vpeer")
                if live[i]:
                    set_pointer(self, syn, var, i, pre[i], cols, float(pre_loc[i]))
                else:
                    pc.target_var(syn, getattr(syn, "_ref_" + var), sid)
                n += 1
            if pre[i] in self.cells and not live[i]:
                hsec = self.cells[pre[i]].secs[cols["pre_sec"][i]]
                var = self._pointer_var(cols, i, "source_var", "v")
                pc.source_var(getattr(hsec(float(pre_loc[i])), "_ref_" + var), sid, sec=hsec)
        return n

    def _pointer_var(self, cols: dict, i: int, key: str, default: str) -> str:
        """A pointer connection's source/target variable: the row's, else its synMech's
        ``pointerParams``, else NetPyNE's default."""
        if cols[key][i]:
            return str(cols[key][i])
        pointer = self.net.syn_mechs[cols["syn_mech"][i]].pointer or {}
        return str(pointer.get(key) or default)

    # ------------------------------------------------------------------ run
    def init_v(self) -> None:
        """NetPyNE's preRun for the cells: the cell types' ``globals`` (``setGlobals``) and
        ``initV`` (per-section vinit, applied at finitialize time)."""
        h = self.h
        self._set_globals()
        todo = []
        gids = np.asarray(self.net.cells["gid"]).tolist()
        ct = self.net.cells["cell_type"]
        for i, gid in enumerate(gids):
            ctype = self.net.cell_types[ct.categories[ct.codes[i]]]
            if isinstance(ctype, CompartmentalCell):
                for name, sec in ctype.sections.items():
                    if sec.vinit is not None:
                        todo.append((self.cells[gid].secs[name], float(sec.vinit)))
        if todo:
            def _apply() -> None:
                for hsec, v in todo:
                    hsec.v = v

            self.keep.append(h.FInitializeHandler(0, _apply))

    def _set_globals(self) -> None:
        """NetPyNE's ``setGlobals``: the cellParams ``globals`` that ``hParams`` does not set
        (the first cell type's value wins), assigned as ``h('name=value')``."""
        hparams = self.config.hoc_globals()
        done: dict[str, Any] = {}
        for ct in self.net.cell_types.values():
            for key, value in (getattr(ct, "globals", None) or {}).items():
                if key in hparams or key in done:
                    continue
                done[key] = value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    logger.warning("cell type '%s': global %s=%r is not a number; not set",
                                   ct.name, key, value)
                elif not self.h(f"{key}={value!r}"):
                    logger.warning("cell type '%s': could not set global %s=%r", ct.name, key,
                                   value)
