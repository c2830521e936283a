"""LFP and current dipole moments recorded during a run (NetPyNE's ``recordLFP``,
``saveLFPCells``, ``saveLFPPops``, ``recordDipole``, ``saveDipoleCells``, ``saveDipolePops``,
``saveIMembrane``).

Every ``recordStep`` (at t = recordStep, 2 recordStep, ..., as NetPyNE samples), each rank
gathers the transmembrane current of every segment of its compartmental cells
(``cvode.use_fast_imem``: ``i_membrane_``, nA, through one ``PtrVector``) and multiplies it with
per-segment transfer matrices computed once with LFPykit: ``LineSourcePotential`` (default) or
``PointSourcePotential`` for the electrodes (mV/nA), ``CurrentDipoleMoment`` for the dipole
(µm). No section names are assumed: segment geometry comes from NEURON's own 3-D points
(``h.define_shape()`` for sections without any, placed as NetPyNE's ``updateShape`` does).
Electrode positions are NetPyNE's: ``[x, y, z]`` with y the depth, i.e. NEURON's
``(x, -y, z)``; they are stored as given. Dipole moments are in NEURON's frame.

Identical results on 1..N ranks: each cell's contribution at each sample is rounded to a fixed
point grid (:data:`QUANTUM`: 2**-50 mV for potentials, 2**-30 nA·µm for dipoles, far below any
physical resolution) and summed as int64, so the sums do not depend on the order in which
ranks and cells add up (int64 holds sums up to 8192 mV and 8.6e9 nA·µm). Point cells
carry no membrane current and contribute nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import MissingExtraError, SimulationError
from ..runconfig import CellSelection, RunConfig
from .record import record_gids

__all__ = ["LfpRecorder", "attach", "wants_lfp", "segment_geometry", "transfer_matrix", "QUANTUM"]

logger = logging.getLogger(__name__)

#: resolution of the summed LFP (mV) and dipole (nA·µm)
QUANTUM = {"lfp": 2.0 ** -50, "dipole": 2.0 ** -30}
METHODS = ("line", "point")
#: recordLFP's y is depth, as for cell positions: NEURON's y is -depth (NetPyNE's RecXElectrode
#: inverts it the same way, whatever ``invertedYCoord`` says)
_DEPTH = np.array([1.0, -1.0, 1.0])


def wants_lfp(config: RunConfig) -> bool:
    """Does the run ask for an LFP, a current dipole or transmembrane currents?"""
    return config.lfp.wanted()


def _lfpykit():
    try:
        import lfpykit
    except ImportError as exc:
        raise MissingExtraError("LFP and dipole recording", "analysis", "lfpykit") from exc
    return lfpykit


# ----------------------------------------------------------------------------- geometry
def _section_points(h, hsec) -> tuple[np.ndarray, np.ndarray]:
    """3-D points (n, 3) of a section and their arc positions (µm)."""
    n = int(hsec.n3d())
    pts = np.array([[hsec.x3d(i), hsec.y3d(i), hsec.z3d(i)] for i in range(n)])
    arc = np.array([hsec.arc3d(i) for i in range(n)])
    return pts, arc


def segment_geometry(h, hsecs: list, shift: dict | None = None) -> dict[str, np.ndarray]:
    """Start/end points and diameters of every segment of ``hsecs`` (in order).

    ``shift`` maps a section (by ``id``) to a function applied to its points (used for
    sections NEURON laid out itself).

    Returns
    -------
    dict
        ``x``, ``y``, ``z`` of shape (nseg, 2) (µm) and ``d`` (nseg,).
    """
    xs, ds = [], []
    for hsec in hsecs:
        pts, arc = _section_points(h, hsec)
        move = (shift or {}).get(id(hsec))
        if move is not None:
            pts = move(pts)
        nseg = int(hsec.nseg)
        length = float(arc[-1]) if len(arc) else float(hsec.L)
        at = np.linspace(0.0, length, nseg + 1)
        ends = np.stack([np.interp(at, arc, pts[:, k]) for k in range(3)], axis=1)
        xs.append(np.stack([ends[:-1], ends[1:]], axis=1))  # (nseg, 2, 3)
        ds.append([seg.diam for seg in hsec])
    seg = np.concatenate(xs) if xs else np.zeros((0, 2, 3))
    return {"x": seg[:, :, 0], "y": seg[:, :, 1], "z": seg[:, :, 2],
            "d": np.asarray([d for row in ds for d in row], dtype=float)}


def transfer_matrix(geom: dict, electrodes: np.ndarray | None, dipole: bool,
                    method: str = "line", sigma: float = 0.3) -> np.ndarray:
    """Rows: one per electrode (mV per nA, LFPykit's line or point source in an infinite
    homogeneous medium of conductivity ``sigma`` S/m) then, with ``dipole``, x, y, z of the
    current dipole moment (µm: nA·µm per nA). Columns: segments."""
    lfpykit = _lfpykit()
    cell = lfpykit.CellGeometry(x=geom["x"], y=geom["y"], z=geom["z"], d=geom["d"])
    rows = []
    if electrodes is not None and len(electrodes):
        e = np.asarray(electrodes, dtype=float)
        model = {"line": lfpykit.LineSourcePotential,
                 "point": lfpykit.PointSourcePotential}[method]
        rows.append(model(cell, x=e[:, 0], y=e[:, 1], z=e[:, 2],
                          sigma=sigma).get_transformation_matrix())
    if dipole:
        rows.append(lfpykit.CurrentDipoleMoment(cell).get_transformation_matrix())
    return np.vstack(rows) if rows else np.zeros((0, len(geom["d"])))


def _netpyne_layout(x: float, y: float, z: float):
    """Where NetPyNE's ``updateShape`` moves a section NEURON laid out: x3d <-> y3d swapped,
    z3d dropped, shifted to the cell position with y inverted."""
    def move(pts: np.ndarray) -> np.ndarray:
        return np.stack([x + pts[:, 1], -y + pts[:, 0], np.full(len(pts), z)], axis=1)
    return move


# ----------------------------------------------------------------------------- recorder
class LfpRecorder:
    """Samples LFP/dipole contributions of this rank's cells during the run.

    Create it after the cells and before ``finitialize``; call :meth:`gather` after the run
    (collective): rank 0 gets the summed arrays.
    """

    def __init__(self, h, pc, engine, config: RunConfig) -> None:
        self.h, self.pc, self.config = h, pc, config
        req = config.lfp
        self.electrodes = np.asarray(req.electrodes, dtype=float).reshape(-1, 3)
        self.dipole = req.dipole
        method = req.method
        if method not in METHODS:
            raise SimulationError(f"simConfig nethubLFPMethod {method!r}: valid: "
                                  f"{', '.join(METHODS)}")
        self.step = config.record_step
        self.n_samples = int(np.floor(config.duration / self.step + 1e-9))
        self.n_rows = len(self.electrodes) + (3 if self.dipole else 0)
        self.quantum = np.r_[np.full(len(self.electrodes), QUANTUM["lfp"]),
                             np.full(3 if self.dipole else 0, QUANTUM["dipole"])]
        cells = sorted((gid, c) for gid, c in engine.cells.items() if c.secs)
        self.gids = np.array([gid for gid, _ in cells], dtype=np.int64)
        self._imem_was = int(h.cvode.use_fast_imem())
        h.cvode.use_fast_imem(1)  # before taking the i_membrane_ references
        self._setup_geometry(engine, cells, method, req.sigma)
        self._setup_selections(engine.net)
        self.total = np.zeros((self.n_samples, self.n_rows), dtype=np.int64)
        self.k = self.k0 = 0
        self._fih = h.FInitializeHandler(0, self._start)

    def _setup_geometry(self, engine, cells, method: str, sigma: float) -> None:
        h = self.h
        had_3d = {id(s): int(s.n3d()) > 0 for _, c in cells for s in c.secs.values()}
        if cells:
            h.define_shape()
        pos = _positions(engine.net)
        mats, offsets, ptrs = [], [0], []
        for gid, c in cells:
            secs = list(c.secs.values())
            x, y, z = pos[gid]
            shift = {id(s): _netpyne_layout(x, y, z) for s in secs if not had_3d[id(s)]}
            geom = segment_geometry(h, secs, shift)
            mats.append(transfer_matrix(geom, self.electrodes * _DEPTH, self.dipole, method,
                                        sigma))
            offsets.append(offsets[-1] + len(geom["d"]))
            ptrs += [seg for s in secs for seg in s]
        matrix = np.hstack(mats) if mats else np.zeros((self.n_rows, 0))
        self.n_cells = len(cells)
        self.groups = _segment_groups(matrix, np.asarray(offsets, dtype=np.int64))
        self.seg_ranges = {gid: (offsets[i], offsets[i + 1]) for i, (gid, _) in enumerate(cells)}
        self.segments = ptrs
        self.ptr = None
        # samples are processed in blocks of b (intermediates of ~32 MB at most)
        b = int(np.clip(4_000_000 // max(self.n_rows * len(cells) + len(ptrs), 1), 1, 1024))
        self.buf = np.zeros((b, len(ptrs)))  # one contiguous row per sample
        self.imem = h.Vector(max(len(ptrs), 1))
        self.n_seg = len(ptrs)

    def _pointers(self) -> None:
        """Point a PtrVector at every segment's i_membrane_. Done when the run starts: NEURON
        moves its fast_imem storage when the model changes after the recorder is made."""
        self.ptr = self.h.PtrVector(max(self.n_seg, 1))
        for i, seg in enumerate(self.segments):
            self.ptr.pset(i, seg._ref_i_membrane_)

    def _setup_selections(self, net) -> None:
        """Cells and populations whose own LFP (saveLFPCells/Pops) or dipole
        (saveDipoleCells/Pops) is kept; computed for the union, stored as asked."""
        req = self.config.lfp

        def cells(sel: CellSelection) -> set[int]:
            return set(record_gids(net, sel).tolist())

        pop_col = net.cells["pop"]

        def pops(sel: CellSelection) -> set[str]:
            return set(pop_col.categories) if sel.all else set(sel.populations)

        self.keep_cells = {"lfp": cells(req.lfp_cells) if len(self.electrodes) else set(),
                           "dipole": cells(req.dipole_cells) if self.dipole else set()}
        self.keep_pops = {"lfp": pops(req.lfp_pops) if len(self.electrodes) else set(),
                          "dipole": pops(req.dipole_pops) if self.dipole else set()}
        keep = self.keep_cells["lfp"] | self.keep_cells["dipole"]
        self.cell_rows = np.flatnonzero(np.isin(self.gids, list(keep)))
        # saveIMembrane: every segment's i_membrane_ (nA) of these cells, NetPyNE's iMembrane
        imem = cells(req.imembrane_cells)
        self.imem_cells = {g: np.zeros((self.n_samples, b - a))
                           for g, (a, b) in self.seg_ranges.items() if g in imem}
        self.per_cell = np.zeros((len(self.cell_rows), self.n_samples, self.n_rows))
        wanted = self.keep_pops["lfp"] | self.keep_pops["dipole"]
        self.pop_names = [p for p in pop_col.categories if p in wanted]
        gid_all = np.asarray(net.cells["gid"])
        pop_of = {int(g): pop_col.categories[c] for g, c in zip(gid_all, pop_col.codes)}
        onehot = np.zeros((len(self.gids), len(self.pop_names)), dtype=np.int64)
        for i, g in enumerate(self.gids.tolist()):
            if pop_of.get(g) in self.pop_names:
                onehot[i, self.pop_names.index(pop_of[g])] = 1
        self.onehot = onehot
        self.per_pop = np.zeros((len(self.pop_names), self.n_samples, self.n_rows),
                                dtype=np.int64)

    # -------------------------------------------------------------- during the run
    def _start(self) -> None:
        self._pointers()
        self.imem_np = self.imem.as_numpy()[:self.n_seg]  # a view: gather fills it in place
        self.k = self.k0 = 0
        self.total[:] = 0
        if self.n_samples:
            self.h.cvode.event(self.step, self._sample)

    def _sample(self) -> None:
        """Event callback at t = (k + 1) recordStep: copy the currents into the block buffer
        (the arithmetic runs once per block, :meth:`_flush`)."""
        k = self.k
        if k >= self.n_samples:
            return
        if self.n_seg:
            self.ptr.gather(self.imem)
            self.buf[k - self.k0] = self.imem_np
        self.k = k + 1
        if self.k - self.k0 == self.buf.shape[0] or self.k == self.n_samples:
            self._flush()
        if self.k < self.n_samples:
            self.h.cvode.event((self.k + 1) * self.step, self._sample)

    def _flush(self) -> None:
        """Samples k0..k-1: each cell's contribution, rounded to the fixed-point grid, summed
        over cells (and per population) as int64."""
        k0, k1 = self.k0, self.k
        self.k0 = k1
        if not self.n_seg or k1 == k0:
            return
        cur = self.buf[:k1 - k0].T  # (seg, b)
        for gid, arr in self.imem_cells.items():
            a, b = self.seg_ranges[gid]
            arr[k0:k1] = cur[a:b].T
        per_cell = np.empty((self.n_cells, self.n_rows, k1 - k0))
        for cell_idx, seg_idx, mat in self.groups:  # cells with the same number of segments
            per_cell[cell_idx] = np.matmul(mat, cur[seg_idx])  # (c, rows, n) @ (c, n, b)
        q = np.rint(per_cell / self.quantum[None, :, None]).astype(np.int64)
        self.total[k0:k1] = q.sum(axis=0).T
        if len(self.pop_names):
            self.per_pop[:, k0:k1, :] = np.einsum("crb,cp->pbr", q, self.onehot)
        if len(self.cell_rows):
            self.per_cell[:, k0:k1, :] = per_cell[self.cell_rows].transpose(0, 2, 1)

    # -------------------------------------------------------------- after the run
    def gather(self) -> dict[str, Any] | None:
        """Collective; rank 0 gets ``lfp`` (n_samples, n_electrodes) mV, ``dipole``
        (n_samples, 3) nA·µm, ``time``, ``electrodes``, and the per-pop/per-cell arrays."""
        pc, nhost = self.pc, int(self.pc.nhost())
        self._fih = None  # a later run in this process must not call this recorder again
        self.h.cvode.use_fast_imem(self._imem_was)
        mine = (self.total, self.per_pop, self.gids[self.cell_rows], self.per_cell,
                self.imem_cells)
        parts = pc.py_gather(mine, 0) if nhost > 1 else [mine]
        if int(pc.id()) != 0:
            return None
        total = np.sum([p[0] for p in parts], axis=0) * self.quantum
        pops = np.sum([p[1] for p in parts], axis=0) * self.quantum
        cell_gids = np.concatenate([p[2] for p in parts])
        cells = np.concatenate([p[3] for p in parts]) if len(cell_gids) else None
        order = np.argsort(cell_gids)
        ne = len(self.electrodes)
        out: dict[str, Any] = {"time": self.step * np.arange(1, self.n_samples + 1),
                               "electrodes": self.electrodes}
        if ne:
            out["lfp"] = total[:, :ne]
        if self.dipole:
            out["dipole"] = total[:, ne:]
        extra = {}
        parts_of = {"lfp": slice(0, ne), "dipole": slice(ne, None)}
        for what, cols in parts_of.items():
            for i, pop in enumerate(self.pop_names):
                if pop in self.keep_pops[what]:
                    extra[f"{what}_pops/{pop}"] = pops[i][:, cols]
            if cells is not None:
                for gid, arr in zip(cell_gids[order].tolist(), cells[order]):
                    if gid in self.keep_cells[what]:
                        extra[f"{what}_cells/{gid}"] = arr[:, cols]
        for part in parts:
            for gid, arr in part[4].items():
                extra[f"imembrane/{gid}"] = arr
        out["extra"] = dict(sorted(extra.items()))
        return out


def _segment_groups(matrix: np.ndarray, offsets: np.ndarray) -> list[tuple]:
    """Cells grouped by their number of segments: (cell indices, segment indices (c, n),
    transfer matrices (c, rows, n)), so that one batched matmul gives each cell's part."""
    lens = np.diff(offsets)
    groups = []
    for n in np.unique(lens):
        cell_idx = np.flatnonzero(lens == n)
        seg_idx = offsets[cell_idx][:, None] + np.arange(n)[None, :]
        groups.append((cell_idx, seg_idx, np.ascontiguousarray(
            matrix[:, seg_idx].transpose(1, 0, 2))))
    return groups


def attach(res, got: dict[str, Any]) -> None:
    """Put what :meth:`LfpRecorder.gather` returned into a Results (before it is written)."""
    n = len(got["time"])
    res.lfp = got.get("lfp", np.zeros((n, 0)))
    res.lfp_time = got["time"]
    res.electrodes = got["electrodes"]
    res.lfp_extra = dict(got["extra"])
    if "dipole" in got:
        res.lfp_extra["dipole"] = got["dipole"]


def _positions(net) -> dict[int, tuple[float, float, float]]:
    gids = np.asarray(net.cells["gid"])
    xyz = [np.asarray(net.cells[c], dtype=float) for c in ("x", "y", "z")]
    return {int(g): (xyz[0][i], xyz[1][i], xyz[2][i]) for i, g in enumerate(gids)}
