"""Recording spikes and traces on each rank, gathering them and writing the run.

Spikes are gathered to rank 0. Traces travel one rank at a time (a collective round per rank)
and are streamed into the store, so rank 0 never holds every rank's traces at once.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..build.conds import match_conds
from ..celltypes import PointCell
from ..network import Network
from ..results import Results
from ..table import Categorical

__all__ = ["Recorder", "record_gids", "trace_gids"]

logger = logging.getLogger(__name__)


def record_gids(net: Network, spec: Any) -> np.ndarray:
    """Local gids selected by NetPyNE's ``recordCells`` (gids, pop names, (pop, index),
    'all' or 'allCells')."""
    gids = np.asarray(net.cells["gid"])
    if not spec:
        return gids[:0]
    items = spec if isinstance(spec, (list, tuple)) else [spec]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        items = [spec]
    out: set[int] = set()
    pops: Categorical = net.cells["pop"]  # type: ignore[assignment]
    ids = np.asarray(net.cells["source_id"])
    for item in items:
        if isinstance(item, str) and item in ("all", "allCells"):
            return gids
        if isinstance(item, (int, np.integer)):
            out.add(int(item))
        elif isinstance(item, str):
            out.update(gids[pops.codes == pops.code_of(item)].tolist())
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            sel = pops.codes == pops.code_of(item[0])
            idx = item[1] if isinstance(item[1], (list, tuple)) else [item[1]]
            out.update(gids[sel & np.isin(ids, idx)].tolist())
    return gids[np.isin(gids, list(out))]


def trace_gids(net: Network, cfg: dict) -> np.ndarray:
    """Local gids whose traces are recorded: NetPyNE's ``recordCells`` plus the cells of
    ``analysis['plotTraces']['include']`` (else ``analysis['iplotTraces']['include']``),
    which NetPyNE's ``setupRecording`` records too."""
    analysis = cfg.get("analysis") or {}
    plot: Any = []
    for key in ("plotTraces", "iplotTraces"):
        if isinstance(analysis.get(key), dict) and "include" in analysis[key]:
            plot = analysis[key]["include"]
            break
    gids = record_gids(net, cfg.get("recordCells"))
    if plot:
        gids = np.union1d(gids, record_gids(net, list(plot)))
    return gids


class Recorder:
    """Sets up recording before the run and collects the results after it."""

    def __init__(self, h, pc, engine, cfg: dict) -> None:
        self.h, self.pc, self.eng, self.cfg = h, pc, engine, cfg
        self.spk_t, self.spk_id = h.Vector(), h.Vector()
        which = cfg.get("recordCellsSpikes", -1)
        if which == -1 or which is None:
            pc.spike_record(-1, self.spk_t, self.spk_id)
        else:
            for gid in record_gids(engine.net, which).tolist():
                pc.spike_record(gid, self.spk_t, self.spk_id)
        self.rows: list[tuple] = []
        self.vecs: list = []
        self.t_vec = None
        self._traces(engine.net)

    def _traces(self, net: Network) -> None:
        """One Vector per (cell, recordTraces entry), cell-major as NetPyNE records them: the
        ranks hold contiguous gid blocks, so the gathered order does not depend on their
        number."""
        specs = self.cfg.get("recordTraces") or {}
        gids = trace_gids(net, self.cfg)
        if not specs or len(gids) == 0:
            return
        step = float(self.cfg.get("recordStep", 0.1))
        h = self.h
        rows = np.flatnonzero(np.isin(np.asarray(net.cells["gid"]), gids))
        ok = {label: match_conds(net.cells, spec.get("conds"),
                                 f"recordTraces['{label}']['conds']")
              for label, spec in specs.items()}
        for r in rows.tolist():
            gid = int(net.cells["gid"][r])
            for label, spec in specs.items():
                if not ok[label][r]:
                    continue
                ptr = self._pointer(self.eng.cells[gid], spec, net, r)
                if ptr is None:
                    continue
                vec = h.Vector()
                vec.record(ptr, step)
                self.vecs.append(vec)
                var = spec.get("var", "v")
                for key in ("mech", "synMech", "pointp", "stim"):
                    if key in spec:
                        var = f"{spec[key]}.{var}"
                self.rows.append((label, gid, spec.get("sec"), float(spec.get("loc", 0.5)), var))
        if self.vecs:
            self.t_vec = h.Vector()
            self.t_vec.record(h._ref_t, step)

    def _pointer(self, cell, spec: dict, net: Network, row: int):
        var = spec.get("var", "v")
        ct = net.cell_types[net.cells["cell_type"].categories[net.cells["cell_type"].codes[row]]]
        if isinstance(ct, PointCell):  # NetPyNE: the point process's variable, if no sec/synMech
            if "sec" in spec or "synMech" in spec:
                return None
            return getattr(cell.point, "_ref_" + var, None)
        sec = cell.secs.get(spec.get("sec"))
        if sec is None:
            return None
        seg = sec(float(spec.get("loc", 0.5)))
        if "mech" in spec:
            return getattr(getattr(seg, spec["mech"]), "_ref_" + var)
        if "pointp" in spec:
            pp = cell.pointps.get(spec["pointp"])
            return None if pp is None else getattr(pp, "_ref_" + var)
        if "synMech" in spec:
            objs = [o for name, o in cell.syns if name == spec["synMech"]
                    and o.get_segment() == seg]
            return self._indexed(objs, spec, var)
        if "stim" in spec:
            objs = [o for label, o in cell.stims if label == spec["stim"]
                    and hasattr(o, "get_segment") and o.get_segment() == seg]
            return self._indexed(objs, spec, var)
        return getattr(seg, "_ref_" + var)

    @staticmethod
    def _indexed(objs: list, spec: dict, var: str):
        """NetPyNE: the ``index``-th matching object (default the first), or nothing."""
        i = int(spec.get("index", 0))
        return getattr(objs[i], "_ref_" + var) if i < len(objs) else None

    # ------------------------------------------------------------------ gathering
    def _local_traces(self):
        from . import trace_index

        if not self.rows:
            return trace_index([], [], [], [], []), np.zeros((0, 0))
        labels, gids, secs, locs, variables = zip(*self.rows)
        data = np.array([v.as_numpy() for v in self.vecs])
        return trace_index(labels, gids, secs, locs, variables), data

    def _trace_blocks(self):
        """Collective rounds: in round r, rank r sends its traces to rank 0."""
        pc, rank, nhost = self.pc, int(self.pc.id()), int(self.pc.nhost())
        for r in range(nhost):
            payload = [None] * nhost
            if rank == r:
                payload[0] = self._local_traces() if r != 0 else None
            got = pc.py_alltoall(payload) if nhost > 1 else [None]
            if rank == 0:
                yield self._local_traces() if r == 0 else got[r]

    def gather(self, net: Network, cfg: dict, timing: dict, counts: dict, out: Path,
               store: Path) -> Results | None:
        from . import software_versions

        pc, rank, nhost = self.pc, int(self.pc.id()), int(self.pc.nhost())
        t = time.perf_counter()
        local = (self.spk_t.as_numpy().copy(), self.spk_id.as_numpy().copy())
        allspk = pc.py_gather(local, 0) if nhost > 1 else [local]
        t_time = self.t_vec.as_numpy().copy() if self.t_vec is not None else None
        times = pc.py_gather(t_time, 0) if nhost > 1 else [t_time]
        if rank != 0:
            for _ in self._trace_blocks():
                pass
            pc.barrier()
            return None
        spk_t = np.concatenate([a for a, _ in allspk]) if allspk else np.zeros(0)
        spk_g = np.concatenate([b for _, b in allspk]).astype(np.int64)
        tvec = next((x for x in times if x is not None), np.zeros(0))
        timing["gather"] = time.perf_counter() - t
        res = Results(spike_times=spk_t, spike_gids=spk_g, sim_config=_jsonable(cfg),
                      seeds=_jsonable(cfg.get("seeds") or {}),
                      versions=software_versions(self.h, nhost), timing=timing,
                      network_hash=_stored_hash(store), nranks=nhost, meta=counts)
        res.traces = _traces_placeholder(tvec)
        _write(res, out, store, self._trace_blocks())
        pc.barrier()
        from ..store import read_results

        return read_results(out)


def _traces_placeholder(tvec: np.ndarray):
    from . import empty_traces

    tr = empty_traces()
    tr.time = np.asarray(tvec, dtype=np.float64)
    tr.data = np.zeros((0, len(tr.time)))
    return tr


def _stored_hash(store: Path) -> str:
    from ..store import network_hash

    return network_hash(store)


def _write(res: Results, out: Path, store: Path, blocks) -> None:
    from ..store import append_run, atomic_path

    if Path(out).resolve() != Path(store).resolve():
        with atomic_path(out) as tmp:
            shutil.copyfile(store, tmp)
            os.chmod(tmp, 0o644)
            append_run(tmp, res, trace_blocks=blocks)
    else:
        append_run(out, res, trace_blocks=blocks)


def _jsonable(obj: Any) -> Any:
    from ..celltypes import jsonable

    return jsonable(obj)
