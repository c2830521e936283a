"""Recording spikes and traces on each rank, gathering them and writing the run.

Spikes are gathered to rank 0. Traces travel one rank at a time (a collective round per rank)
and are streamed into the store, so rank 0 never holds every rank's traces at once.

Under CoreNEURON, ``Vector.record(ref, recordStep)`` returns a single sample (nrn#2101), so
traces are recorded every time step and thinned to exactly the samples, and the time vector,
that NEURON's ``Vector.record(ref, recordStep)`` gives (:func:`step_samples`).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import PointCell
from ..errors import SimulationError
from ..network import Network
from ..results import Results, empty_traces, trace_group_name, trace_index
from ..runconfig import CellSelection, RunConfig, TraceRequest
from ..selection import match_conds
from ..store import append_run, atomic_path, network_hash, read_results
from ..storelock import store_lock
from ..table import Categorical
from ..version import __version__

__all__ = ["Recorder", "record_gids", "trace_gids", "step_samples", "software_versions"]

logger = logging.getLogger(__name__)


def record_gids(net: Network, sel: CellSelection | None) -> np.ndarray:
    """Local gids a :class:`~nethub.runconfig.CellSelection` chooses (all cells, gids,
    population names, (population, cell index) pairs), in the network's order."""
    gids = np.asarray(net.cells["gid"])
    if sel is None or sel.is_empty():
        return gids[:0]
    if sel.all:
        return gids
    out: set[int] = set(sel.gids)
    pops: Categorical = net.cells["pop"]  # type: ignore[assignment]
    ids = np.asarray(net.cells["source_id"])
    for pop in sel.populations:
        out.update(gids[pops.codes == pops.code_of(pop)].tolist())
    for pop, idx in sel.pop_cells:
        rows = pops.codes == pops.code_of(pop)
        out.update(gids[rows & np.isin(ids, list(idx))].tolist())
    return gids[np.isin(gids, list(out))]


def trace_gids(net: Network, config: RunConfig) -> np.ndarray:
    """Local gids on which some trace is recorded (``config.trace_cells`` and the traces' own
    ``cells``)."""
    own = [t.cells for t in config.traces if t.cells is not None]
    if not own:
        return record_gids(net, config.trace_cells)
    if len(own) == len(config.traces):  # every trace names its cells
        chosen = [record_gids(net, sel) for sel in own]
    else:
        chosen = [record_gids(net, sel) for sel in [config.trace_cells, *own]]
    gids = np.asarray(net.cells["gid"])
    return gids[np.isin(gids, np.concatenate(chosen))]


def _no_variable(label: str, spec: TraceRequest, var: str, cell, exc: Exception) -> str:
    """What a trace request asked for that the cell does not have, with what it has."""
    sec = spec.sec
    hsec = cell.secs.get(sec) if sec is not None else None
    where = f"section {sec!r} of cell {cell.gid}" if sec is not None else f"cell {cell.gid}"
    have = ""
    if hsec is not None:
        mechs = sorted({m.name() for m in hsec(spec.loc)})
        have = f"; mechanisms there: {', '.join(mechs) or 'none'}"
    return (f"recordTraces[{label!r}]: cannot record {var!r} in {where} ({type(exc).__name__}: "
            f"{exc}){have}")


def _agree_on(pc, problem: str | None) -> None:
    """Raise the first rank's problem on every rank (a rank that raised alone would leave the
    others waiting in the next collective call)."""
    problems = pc.py_allgather(problem) if int(pc.nhost()) > 1 else [problem]
    found = [p for p in problems if p]
    if found:
        raise SimulationError(found[0])


class Recorder:
    """Sets up recording before the run and collects the results after it."""

    def __init__(self, h, pc, engine, config: RunConfig, per_step: bool = False) -> None:
        self.h, self.pc, self.eng, self.config = h, pc, engine, config
        self.per_step = per_step  # record every step, thin at the end (CoreNEURON)
        self._locs: dict[str, dict] = {}  # synMech label -> gid -> section -> locs
        self.spk_t, self.spk_id = h.Vector(), h.Vector()
        if config.record_spikes is None:
            pc.spike_record(-1, self.spk_t, self.spk_id)
        else:
            for gid in record_gids(engine.net, config.record_spikes).tolist():
                pc.spike_record(gid, self.spk_t, self.spk_id)
        self.sampling = config.trace_sampling()  # one trace group per (step, start, end)
        self.rows: list[list[tuple]] = [[] for _ in self.sampling]
        self.vecs: list[list] = [[] for _ in self.sampling]
        self.t_vecs: dict[float, Any] = {}  # interval -> recorded time
        self.lfp = None  # an LfpRecorder (nethub.sim.lfp) when the run records LFP/dipoles
        self._traces(engine.net)

    def _traces(self, net: Network) -> None:
        """One Vector per (cell, trace request), cell-major as NetPyNE records them (the
        gathering restores gid order across ranks, :func:`trace_schedule`)."""
        specs = self.config.traces
        if not specs:
            return
        gids = trace_gids(net, self.config)
        if len(gids) == 0:  # no recorded cell on this rank: still take part in the agreement
            _agree_on(self.pc, None)
            return
        all_gids = np.asarray(net.cells["gid"])
        rows = np.flatnonzero(np.isin(all_gids, gids))
        ok = [match_conds(net.cells, spec.conds, f"recordTraces['{spec.label}']['conds']")
              & np.isin(all_gids, record_gids(net, self._cells_of(spec))) for spec in specs]
        group = [self.sampling.index(s.sampling(self.config.record_step)) for s in specs]
        problem = None
        for r in rows.tolist():
            gid = int(all_gids[r])
            for k, spec in enumerate(specs):
                if not ok[k][r]:
                    continue
                label, var = spec.label, spec.recorded_name
                try:
                    targets = self._targets(self.eng.cells[gid], spec, net, r)
                except (AttributeError, NameError, TypeError, LookupError) as exc:
                    problem = problem or _no_variable(label, spec, var, self.eng.cells[gid], exc)
                    continue
                step = self.sampling[group[k]][0]
                for sec, loc, ptr in targets:
                    self.vecs[group[k]].append(self._record(ptr, step))
                    self.rows[group[k]].append((label, gid, sec, loc, var))
        _agree_on(self.pc, problem)
        for g, (step, _, _) in enumerate(self.sampling):
            if self.vecs[g] and step not in self.t_vecs:
                self.t_vecs[step] = self._record(self.h._ref_t, step)

    def _cells_of(self, spec: TraceRequest) -> CellSelection:
        return self.config.trace_cells if spec.cells is None else spec.cells

    def _record(self, ptr, step: float):
        vec = self.h.Vector()
        if self.per_step:
            vec.record(ptr)
        else:
            vec.record(ptr, step)
        return vec

    def _targets(self, cell, spec: TraceRequest, net: Network, row: int) -> list[tuple]:
        """(sec, loc, pointer) of each variable one trace request records on a cell."""
        if spec.syn_mech is not None and spec.sec is None and cell.point is None:
            return self._all_syn_mechs(cell, spec, net)
        if spec.all_segments and cell.point is None:
            return _segment_targets(cell, spec)
        ptr = self._pointer(cell, spec, net, row)
        return [] if ptr is None else [(spec.sec, spec.loc, ptr)]

    def _all_syn_mechs(self, cell, spec: TraceRequest, net: Network) -> list[tuple]:
        """NetPyNE's ``{'synMech': label, 'var': v}`` without ``sec``: every synapse of that
        label on the cell, section by section in creation order, under the key
        ``(section, loc)`` of the connection that made it; a later synapse at the same key
        replaces an earlier one, as it does in NetPyNE's ``'<sec>_<loc>'`` dict."""
        label, var = spec.syn_mech, spec.variable
        section_of = {hsec.name(): name for name, hsec in cell.secs.items()}
        objs: dict[str, list] = {name: [] for name in cell.secs}
        for name, obj in cell.syns:
            if name == label:
                objs[section_of[obj.get_segment().sec.name()]].append(obj)
        locs = self._syn_locs(net, label).get(cell.gid, {})
        out: dict[tuple[str, float], Any] = {}
        for sec, found in objs.items():
            where = locs.get(sec, [])
            if len(where) != len(found):  # not one synapse per row: the segment centres
                where = [float(o.get_segment().x) for o in found]
            for obj, loc in zip(found, where):
                out[(sec, loc)] = getattr(obj, "_ref_" + var)
        return [(sec, loc, ptr) for (sec, loc), ptr in out.items()]

    def _syn_locs(self, net: Network, label: str) -> dict[int, dict[str, list[float]]]:
        """gid -> section -> locs of the rows that create a ``label`` synapse (connections,
        then NetStim stims), in creation order; computed once per label."""
        if label in self._locs:
            return self._locs[label]
        out: dict[int, dict[str, list[float]]] = {}
        conns, st = net.connections, net.stim_targets
        tables = [(conns, "post_gid", "post_sec", "post_loc")] if len(conns) else []
        if len(st):
            tables.append((st, "gid", "sec", "loc"))
        for table, gcol, scol, lcol in tables:
            mech: Categorical = table["syn_mech"]  # type: ignore[assignment]
            code = mech.code_of(label)
            rows = np.flatnonzero(mech.codes == code) if code >= 0 else np.zeros(0, int)
            gids = np.asarray(table[gcol])[rows].tolist()
            secs = table[scol].values()[rows].tolist()  # type: ignore[union-attr]
            for gid, sec, loc in zip(gids, secs, np.asarray(table[lcol])[rows].tolist()):
                out.setdefault(int(gid), {}).setdefault(sec, []).append(float(loc))
        self._locs[label] = out
        return out

    def _pointer(self, cell, spec: TraceRequest, net: Network, row: int):
        var = spec.variable
        ct = net.cell_types[net.cells["cell_type"].categories[net.cells["cell_type"].codes[row]]]
        if isinstance(ct, PointCell):  # NetPyNE: the point process's variable, if no sec/synMech
            if spec.sec is not None or spec.syn_mech is not None:
                return None
            return getattr(cell.point, "_ref_" + var, None)
        sec = cell.secs.get(spec.sec)
        if sec is None:
            return None
        seg = sec(spec.loc)
        if spec.mech is not None:
            return getattr(getattr(seg, spec.mech), "_ref_" + var)
        if spec.point_process is not None:
            pp = cell.pointps.get(spec.point_process)
            return None if pp is None else getattr(pp, "_ref_" + var)
        if spec.syn_mech is not None:
            objs = [o for name, o in cell.syns if name == spec.syn_mech
                    and o.get_segment() == seg]
            return self._indexed(objs, spec, var)
        if spec.stim is not None:
            objs = [o for label, o in cell.stims if label == spec.stim
                    and hasattr(o, "get_segment") and o.get_segment() == seg]
            return self._indexed(objs, spec, var)
        return getattr(seg, "_ref_" + var)

    @staticmethod
    def _indexed(objs: list, spec: TraceRequest, var: str):
        """NetPyNE: the ``index``-th matching object (default the first), or nothing."""
        i = spec.index
        return getattr(objs[i], "_ref_" + var) if i < len(objs) else None

    # ------------------------------------------------------------------ gathering
    def _local_traces(self, g: int = 0):
        """This rank's trace index and data of trace group ``g``."""
        if not self.rows[g]:
            return trace_index([], [], [], [], []), np.zeros((0, 0))
        labels, gids, secs, locs, variables = zip(*self.rows[g])
        index = trace_index(labels, gids, secs, locs, variables)
        idx, keep = self._samples(g)
        if not self.per_step:
            data = np.array([v.as_numpy() for v in self.vecs[g]])
            return index, (data if keep is None else data[:, keep])
        data = np.full((len(self.vecs[g]), len(idx)), np.nan)
        n_steps = len(self.t_vecs[self.sampling[g][0]])
        for i, vec in enumerate(self.vecs[g]):
            if len(vec) == n_steps:
                data[i] = vec.as_numpy()[idx]
            else:  # CoreNEURON records RANGE variables only
                logger.warning("CoreNEURON did not record trace %r of cell %d (%s): stored as "
                               "NaN; simConfig nethubCoreneuron=False records it",
                               labels[i], gids[i], variables[i])
        return index, data

    def _samples(self, g: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per step: indices into the recorded steps; else: the kept samples (None: all)."""
        step, start, end = self.sampling[g]
        if self.per_step:
            idx, times = step_samples(self.t_vecs[step].as_numpy(), float(self.h.dt), step)
            keep = _window(times, start, end)
            return (idx if keep is None else idx[keep]), None
        return None, _window(self.t_vecs[step].as_numpy(), start, end)

    def _time(self, g: int = 0) -> np.ndarray | None:
        step, start, end = self.sampling[g]
        if not self.rows[g]:
            return None
        t = self.t_vecs[step].as_numpy()
        if self.per_step:
            t = step_samples(t, float(self.h.dt), step)[1]
        keep = _window(t, start, end)
        return t.copy() if keep is None else t[keep]

    def _trace_blocks(self, g: int = 0):
        """Rank 0 receives the traces of group ``g`` in the serial run's order (by gid, then
        recording order), one run of rows at a time: with contiguous gid blocks one round per
        rank, with a deal in several slices (:mod:`nethub.sim.distribute`) one round per slice.
        A round is one collective ``py_alltoall``; no process holds more than its own and one
        other rank's rows."""
        pc, rank, nhost = self.pc, int(self.pc.id()), int(self.pc.nhost())
        index, data = self._local_traces(g)
        if nhost == 1:
            yield index, data
            return
        all_gids = pc.py_gather(np.asarray(index["gid"], dtype=np.int64), 0)
        schedule = pc.py_broadcast(trace_schedule(all_gids) if rank == 0 else None, 0)
        if not schedule and rank == 0:
            yield index, data  # no traces anywhere: one empty block
        for r, lo, hi in schedule:
            payload = [None] * nhost
            if rank == r and r != 0:
                payload[0] = (index.take(slice(lo, hi)), data[lo:hi])
            got = pc.py_alltoall(payload)
            if rank == 0:
                yield (index.take(slice(lo, hi)), data[lo:hi]) if r == 0 else got[r]

    def gather(self, net: Network, config: RunConfig, timing: dict, counts: dict, out: Path,
               store: Path) -> Results | None:
        pc, rank, nhost = self.pc, int(self.pc.id()), int(self.pc.nhost())
        t = time.perf_counter()
        lfp = self.lfp.gather() if self.lfp is not None else None  # collective
        local = (self.spk_t.as_numpy().copy(), self.spk_id.as_numpy().copy())
        if len(self.eng.spike_points):  # presynaptic points' sources: not the cells' spikes
            own = ~np.isin(local[1], self.eng.spike_points)
            local = (local[0][own], local[1][own])
        allspk = pc.py_gather(local, 0) if nhost > 1 else [local]
        t_local = [self._time(g) for g in range(len(self.sampling))]
        every = pc.py_gather(t_local, 0) if nhost > 1 else [t_local]
        if rank != 0:
            for g in range(len(self.sampling)):
                for _ in self._trace_blocks(g):
                    pass
            pc.barrier()
            return None
        spk_t = np.concatenate([a for a, _ in allspk]) if allspk else np.zeros(0)
        spk_g = np.concatenate([b for _, b in allspk]).astype(np.int64)
        tvecs = [next((t[g] for t in every if t[g] is not None), np.zeros(0))
                 for g in range(len(self.sampling))]
        timing["gather"] = time.perf_counter() - t
        res = Results(spike_times=spk_t, spike_gids=spk_g, sim_config=dict(config.native),
                      seeds=dict(config.seeds), run_config=_as_run(config, nhost),
                      versions=software_versions(self.h, nhost), timing=timing,
                      network_hash=_stored_hash(store), nranks=nhost, meta=counts)
        res.traces = _traces_placeholder(tvecs[0])
        names = [trace_group_name(*key) for key in self.sampling[1:]]
        res.trace_groups = {n: _traces_placeholder(t) for n, t in zip(names, tvecs[1:])}
        if lfp is not None:
            from .lfp import attach  # lfp imports this module

            attach(res, lfp)
        groups = {n: self._trace_blocks(g + 1) for g, n in enumerate(names)}
        _write(res, out, store, self._trace_blocks(0), groups)
        pc.barrier()
        return read_results(out)


def trace_schedule(rank_gids: list[np.ndarray]) -> list[tuple[int, int, int]]:
    """Rounds ``(rank, lo, hi)`` that deliver every rank's trace rows (``rank_gids[r]``: the
    gid of each of rank r's rows, non-decreasing) in order of gid, each rank's rows of one gid
    staying in their order: runs of consecutive rows of one rank."""
    sizes = [len(g) for g in rank_gids]
    if sum(sizes) == 0:
        return []
    gids = np.concatenate(rank_gids)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    local = np.concatenate([np.arange(n) for n in sizes])
    order = np.lexsort((local, gids))
    owner, local = owner[order], local[order]
    cut = np.flatnonzero((np.diff(owner) != 0) | (np.diff(local) != 1)) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(order)]])
    return [(int(owner[a]), int(local[a]), int(local[b - 1]) + 1)
            for a, b in zip(starts.tolist(), ends.tolist())]


def step_samples(t_steps: np.ndarray, dt: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The samples of a trace recorded every time step (times ``t_steps``) that NEURON's
    ``Vector.record(ref, step)`` keeps, and the time vector it records.

    NEURON records at event times ``t_k = t_(k-1) + step`` (``t_0`` the initial time, summed
    one step at a time). An event is delivered at the end of the step that reaches its time
    (``t_k <= t``) or at the start of the next one (``t_k <= t + dt/2``), so it records the
    state at the first step time ``t_s`` with ``t_s + dt/2 >= t_k``; events after the last
    step time ``t_steps[-1]`` are never delivered.

    Returns
    -------
    (ndarray, ndarray)
        Indices into ``t_steps`` and the recorded times.
    """
    t_steps = np.asarray(t_steps, dtype=np.float64)
    if len(t_steps) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    half = t_steps + dt / 2
    last = t_steps[-1]
    count = int(np.floor((last - t_steps[0]) / step)) + 2
    times = np.cumsum(np.concatenate([[t_steps[0]], np.full(count, step)]))
    times = times[times <= last]
    return np.searchsorted(half, times, side="left").astype(np.int64), times


def _traces_placeholder(tvec: np.ndarray):
    tr = empty_traces()
    tr.time = np.asarray(tvec, dtype=np.float64)
    tr.data = np.zeros((0, len(tr.time)))
    return tr


def _stored_hash(store: Path) -> str:
    return network_hash(store)


def _write(res: Results, out: Path, store: Path, blocks, groups: dict) -> None:
    kw = {"trace_blocks": blocks, "group_blocks": groups} if groups else {"trace_blocks": blocks}
    if Path(out).resolve() != Path(store).resolve():
        with atomic_path(out) as tmp:
            with store_lock(store, exclusive=False):
                shutil.copyfile(store, tmp)
            os.chmod(tmp, 0o644)
            append_run(tmp, res, lock=False, **kw)
    else:
        append_run(out, res, **kw)


def _as_run(config: RunConfig, nhost: int) -> dict:
    """The RunConfig stored with a run: ``nranks`` is the number of ranks it ran on."""
    out = config.to_dict()
    out["nranks"] = nhost
    return out


def _window(times: np.ndarray, start: float | None, end: float | None) -> np.ndarray | None:
    """Which samples lie in ``start <= t <= end`` (None: no window, every sample)."""
    if start is None and end is None:
        return None
    keep = np.ones(len(times), dtype=bool)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times <= end
    return keep


def _segment_targets(cell, spec: TraceRequest) -> list[tuple]:
    """(sec, x, pointer) at the centre of every segment of ``spec.sec`` (of every section when
    it is None), sections in the cell's order."""
    names = list(cell.secs) if spec.sec is None else [spec.sec]
    out = []
    for name in names:
        for seg in cell.secs[name]:
            owner = seg if spec.mech is None else getattr(seg, spec.mech)
            out.append((name, float(seg.x), getattr(owner, "_ref_" + spec.variable)))
    return out


def software_versions(h, nhost: int) -> dict[str, Any]:
    """nethub, NEURON, Python and numpy versions and the rank count, recorded with a run."""
    return {"nethub": __version__, "neuron": str(h.nrnversion(5)),
            "python": platform.python_version(), "numpy": np.__version__,
            "mpi_ranks": nhost}
