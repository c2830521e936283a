"""SONATA compartment (element) reports, both dialects, and a writer both readers accept.

Layout: ``/report/<population>/data`` (time steps x elements) and ``mapping/`` with
``node_ids``, ``index_pointers`` (libsonata) or ``index_pointer`` (BMTK), ``element_ids``,
``element_pos`` (BMTK) and ``time`` = ``[start, stop, dt]``. BMTK's older files keep ``data``
and ``mapping`` (with ``gids``, ``element_id``) at the root, without a population. The writer
writes both pointer spellings (one dataset, hard-linked under both names), ``element_ids`` and
``element_pos``, ``units`` on ``data`` and ``time``, and ``variable`` on ``data``. ``data`` is
float32: libsonata's reader refuses any other type (BMTK reads any).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from nethub.errors import FormatError
from nethub.store import atomic_path

from .groups import check_population_name
from .nodes import open_h5
from .spikes import _text

__all__ = ["ReportPopulation", "read_report", "write_report"]


@dataclass
class ReportPopulation:
    """One population's part of an element report.

    Attributes
    ----------
    node_ids : ndarray of int64
        The recorded nodes, in data-column-block order.
    index_pointers : ndarray of int64
        ``len(node_ids) + 1`` offsets: node *i*'s elements are columns
        ``index_pointers[i]:index_pointers[i+1]`` of ``data``.
    element_ids : ndarray of int64
        Per column: the section (compartment) id.
    element_pos : ndarray of float64
        Per column: the position along the section (NaN where the file has none).
    time : tuple of float
        ``(start, stop, dt)`` in ms; ``stop = start + n_steps * dt`` is exclusive (frame *k*
        is at ``start + k * dt``), as libsonata and BMTK both count.
    data : ndarray of float, shape (n_steps, n_elements)
    variable : str
        The recorded variable (e.g. ``"v"``), or "" if the file does not say.
    units : str
    """

    node_ids: np.ndarray
    index_pointers: np.ndarray
    element_ids: np.ndarray
    element_pos: np.ndarray
    time: tuple[float, float, float]
    data: np.ndarray
    variable: str = ""
    units: str = ""

    def columns_of(self, node_id: int) -> slice:
        """The data columns of one node (KeyError if it is not in the report)."""
        hits = np.flatnonzero(self.node_ids == node_id)
        if not hits.size:
            raise KeyError(f"node {node_id} is not in the report")
        i = int(hits[0])
        return slice(int(self.index_pointers[i]), int(self.index_pointers[i + 1]))


def read_report(path: str | os.PathLike[str], default_population: str = ""
                ) -> dict[str, ReportPopulation]:
    """Read an element report (current layout, or BMTK's root-level old layout, whose
    population is ``default_population``)."""
    path = Path(path)
    with open_h5(path) as f:
        if isinstance(f.get("report"), h5py.Group):
            # an empty population group (libsonata's test files have some) holds no report
            return {name: _read_population(grp, path) for name, grp in f["report"].items()
                    if isinstance(grp, h5py.Group) and len(grp)}
        if isinstance(f.get("mapping"), h5py.Group) and "data" in f:
            return {default_population: _read_population(f["/"], path)}
    raise FormatError(f"{path}: no /report group (not a SONATA report)")


def _member(grp: h5py.Group, names: tuple[str, ...], path: Path, required: bool = True
            ) -> np.ndarray | None:
    for name in names:
        if isinstance(grp.get(name), h5py.Dataset):
            return grp[name][()]
    if required:
        raise FormatError(f"{path}: {grp.name} lacks {' / '.join(names)}")
    return None


def _read_population(grp: h5py.Group, path: Path) -> ReportPopulation:
    mapping = grp.get("mapping")
    if not isinstance(mapping, h5py.Group) or not isinstance(grp.get("data"), h5py.Dataset):
        raise FormatError(f"{path}: {grp.name} needs 'data' and 'mapping'")
    node_ids = _member(mapping, ("node_ids", "gids"), path).astype(np.int64)
    pointers = _member(mapping, ("index_pointers", "index_pointer"), path).astype(np.int64)
    element_ids = _member(mapping, ("element_ids", "element_id"), path).astype(np.int64)
    pos = _member(mapping, ("element_pos",), path, required=False)
    time = _member(mapping, ("time",), path).astype(np.float64)
    data_ds = grp["data"]
    if data_ds.ndim != 2 or len(pointers) != len(node_ids) + 1 or \
            (len(pointers) and pointers[-1] != data_ds.shape[1]) or time.shape != (3,):
        raise FormatError(f"{path}: {grp.name}: inconsistent report mapping (data "
                          f"{data_ds.shape}, {len(node_ids)} nodes, {len(pointers)} pointers, "
                          f"time {time.shape})")
    return ReportPopulation(
        node_ids, pointers, element_ids,
        pos.astype(np.float64) if pos is not None else np.full(len(element_ids), np.nan),
        (float(time[0]), float(time[1]), float(time[2])), data_ds[()],
        _text(data_ds.attrs.get("variable", "")), _text(data_ds.attrs.get("units", "")))


def write_report(path: str | os.PathLike[str], populations: Mapping[str, ReportPopulation]
                 ) -> None:
    """Write an element report (atomically) that libsonata's ``ElementReportReader`` and
    BMTK's ``CompartmentReport`` both read."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], np.uint32)
        root = f.create_group("report")
        for name, pop in populations.items():
            _write_population(root.create_group(check_population_name(name, "report")),
                              name, pop)


def _write_population(grp: h5py.Group, name: str, pop: ReportPopulation) -> None:
    data = np.asarray(pop.data)
    n_elem = len(pop.element_ids)
    if data.ndim != 2 or data.shape[1] != n_elem or len(pop.element_pos) != n_elem or \
            len(pop.index_pointers) != len(pop.node_ids) + 1 or \
            int(pop.index_pointers[-1]) != n_elem:
        raise FormatError(f"report population {name!r}: data {data.shape}, "
                          f"{n_elem} elements, {len(pop.node_ids)} nodes and "
                          f"{len(pop.index_pointers)} pointers do not fit together")
    ds = grp.create_dataset("data", data=data.astype(np.float32))
    ds.attrs["units"] = pop.units  # "" when unknown
    if pop.variable:
        ds.attrs["variable"] = pop.variable
    mapping = grp.create_group("mapping")
    mapping.create_dataset("node_ids", data=np.asarray(pop.node_ids, np.uint64))
    mapping.create_dataset("index_pointers", data=np.asarray(pop.index_pointers, np.uint64))
    mapping["index_pointer"] = mapping["index_pointers"]
    mapping.create_dataset("element_ids", data=np.asarray(pop.element_ids, np.uint32))
    mapping.create_dataset("element_pos", data=np.asarray(pop.element_pos, np.float64))
    t = mapping.create_dataset("time", data=np.asarray(pop.time, np.float64))
    t.attrs["units"] = "ms"
