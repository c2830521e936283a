"""Write NeuroML2 documents (libNeuroML objects) to ``.nml`` and ``.nml.h5``, atomically.

``.nml`` goes through libNeuroML's XML writer. ``.nml.h5`` is written with h5py in the
layout jNeuroML and libNeuroML read (see :mod:`.h5read`), but in float64 and with every
dataset column named (``column_<i>`` attributes), so that no reader has to guess: libNeuroML's
own writer stores float32, drops instance ids and connection ids. Both writers go through a
temporary file renamed into place. HDF5 groups track creation order, so populations and
projections read back in document order.
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from ._common import NeuroMLError, atomic_write, format_float
from .build import SUMMARY_ATTR, network_from_summary
from .summary import NetworkSummary, summarize_network

__all__ = ["write_nml", "write_nml_h5", "to_xml_string", "exact_floats", "format_float"]

_PROJ_H5 = (("id", "id"), ("pre_cell", "pre_cell_id"), ("post_cell", "post_cell_id"),
            ("pre_segment", "pre_segment_id"), ("post_segment", "post_segment_id"),
            ("pre_fraction", "pre_fraction_along"), ("post_fraction", "post_fraction_along"),
            ("weight", "weight"), ("delay", "delay"))
_INPUT_H5 = (("id", "id"), ("target_cell", "target_cell_id"), ("segment", "segment_id"),
             ("fraction", "fraction_along"), ("weight", "weight"))
_KIND_TYPE = {"chemical": "projection", "electrical": "electricalProjection",
              "continuous": "continuousProjection"}


_FLOAT_LOCK = threading.Lock()


@contextmanager
def exact_floats():
    """While active, libNeuroML writes floats with :func:`format_float`.

    libNeuroML's generated code formats every ``xs:float`` as ``"%.15f"``, which loses float64
    digits (0.41660583019256592 becomes 0.416605830192566) and turns 1e-20 into 0.0. The
    formatter is a method of its shared generated base class, so it is swapped for the
    duration of a write, under a lock.
    """
    from neuroml.nml.nml import GeneratedsSuper

    with _FLOAT_LOCK:
        old = GeneratedsSuper.gds_format_float
        GeneratedsSuper.gds_format_float = lambda self, data, input_name="": format_float(data)
        try:
            yield
        finally:
            GeneratedsSuper.gds_format_float = old


def to_xml_string(doc) -> str:
    """The XML text libNeuroML writes for ``doc``, floats written exactly."""
    # libNeuroML is the optional "neuroml" extra: imported only to write NeuroML.
    from neuroml.writers import NeuroMLWriter

    buf = io.StringIO()
    with exact_floats():
        NeuroMLWriter.write(doc, buf, close=False)
    return buf.getvalue()


def write_nml(doc, path: str | os.PathLike) -> Path:
    """Write ``doc`` (a libNeuroML ``NeuroMLDocument``) as NeuroML2 XML, atomically.

    Networks read from ``.nml.h5`` (libNeuroML's lazy containers) are written from their
    summaries as plain NeuroML elements, with weights and delays.

    Returns
    -------
    Path
        The written file.
    """
    nets = list(doc.networks)
    doc.networks = [network_from_summary(getattr(n, SUMMARY_ATTR), n.notes)
                    if hasattr(n, SUMMARY_ATTR) else n for n in nets]
    try:
        text = to_xml_string(doc)
    finally:
        doc.networks = nets
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _set(obj, name: str, value) -> None:
    if value is not None:
        obj.attrs[name] = value if not isinstance(value, str) else str(value)


def _table(group: h5py.Group, name: str, columns: dict[str, np.ndarray],
           names: tuple[tuple[str, str], ...]) -> None:
    data = np.column_stack([np.asarray(columns[k], dtype=np.float64) for k, _ in names]) \
        if len(columns[names[0][0]]) else np.zeros((0, len(names)), dtype=np.float64)
    ds = group.create_dataset(name, data=data, dtype="<f8")
    for i, (_, h5name) in enumerate(names):
        ds.attrs[f"column_{i}"] = h5name


def _network_h5(root: h5py.Group, net: NetworkSummary, notes: str | None) -> None:
    g = root.create_group("network", track_order=True)
    _set(g, "id", net.id)
    _set(g, "notes", notes)
    if net.temperature_degC is not None:
        _set(g, "temperature", f"{format_float(net.temperature_degC)} degC")
        _set(g, "type", "networkWithTemperature")
    for pop in net.populations.values():
        pg = g.create_group(f"population_{pop.id}")
        _set(pg, "id", pop.id)
        _set(pg, "component", pop.component)
        pg.attrs["size"] = np.int64(pop.size)
        for tag, value in pop.properties.items():
            _set(pg, f"property:{tag}", value)
        if pop.locations is not None:
            _set(pg, "type", "populationList")
            cols = {"id": pop.ids, "x": pop.locations[:, 0], "y": pop.locations[:, 1],
                    "z": pop.locations[:, 2]}
            _table(pg, pop.id, cols, tuple((c, c) for c in ("id", "x", "y", "z")))
    for proj in net.projections.values():
        pg = g.create_group(f"projection_{proj.id}")
        for name, value in (("id", proj.id), ("type", _KIND_TYPE[proj.kind]),
                            ("presynapticPopulation", proj.pre_population),
                            ("postsynapticPopulation", proj.post_population),
                            ("synapse", proj.synapse), ("preComponent", proj.pre_component)):
            _set(pg, name, value)
        if proj.kind == "continuous":
            _set(pg, "postComponent", proj.synapse)
        _table(pg, proj.id, proj.columns, _PROJ_H5)
    for il in net.input_lists.values():
        ig = g.create_group(f"inputList_{il.id}")
        for name, value in (("id", il.id), ("component", il.component),
                            ("population", il.population), ("destination", il.destination)):
            _set(ig, name, value)
        _table(ig, il.id, il.columns, _INPUT_H5)


def write_nml_h5(doc, path: str | os.PathLike) -> Path:
    """Write ``doc`` as NeuroML2 HDF5 (``.nml.h5``), float64, atomically.

    Everything but the networks goes, as XML, into ``/neuroml@neuroml_top_level``; each
    network's populations, projections (chemical, electrical, continuous) and input lists
    into datasets with named columns.

    Raises
    ------
    NeuroMLError
        A network has ``explicitInput`` elements (the HDF5 layout has no place for them:
        use an ``inputList``), or more than one network.
    """
    nets = list(doc.networks)
    if len(nets) > 1:
        raise NeuroMLError(f"{path}: .nml.h5 holds one network, the document has {len(nets)}")
    for net in nets:
        if net.explicit_inputs:
            raise NeuroMLError(f"{path}: network {net.id!r} has {len(net.explicit_inputs)} "
                               "explicitInput elements, which .nml.h5 cannot hold "
                               "(write .nml, or use an inputList)")
    summaries = [(getattr(n, SUMMARY_ATTR, None) or summarize_network(n, str(path)), n.notes)
                 for n in nets]
    doc.networks = []
    try:
        top = to_xml_string(doc)
    finally:
        doc.networks = nets

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w", track_order=True) as f:
            root = f.create_group("neuroml", track_order=True)
            _set(root, "id", doc.id)
            _set(root, "notes", doc.notes)
            _set(root, "neuroml_top_level", top)
            for net, notes in summaries:
                _network_h5(root, net, notes)

    return atomic_write(path, write)
