"""Read NeuroML2 HDF5 files (``.nml.h5``) with h5py, keeping float64 and the real columns.

Layout (libNeuroML / jNeuroML / neuroConstruct): group ``/neuroml`` (attrs ``id``, ``notes``
and ``neuroml_top_level``, the XML of everything but the network), one ``network`` group in it
(attrs ``id``, ``temperature``, ...) holding ``population_<id>``, ``projection_<id>`` and
``inputList_<id>`` groups, each with one 2-D dataset whose ``column_<i>`` attributes name the
columns. Unnamed population columns are ``id, x, y, z`` (4 columns) or ``x, y, z`` (3).

Unlike libNeuroML's default HDF5 reader this reads 4-column populations without setting
y := z, and converts every column to float64 / int64 without a Python loop per row.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ._common import NeuroMLError
from .build import SUMMARY_ATTR
from .summary import (
    CONNECTION_FIELDS,
    INPUT_FIELDS,
    InputListSummary,
    NetworkSummary,
    PopulationSummary,
    ProjectionSummary,
    check_references,
    empty_columns,
    temperature,
)

__all__ = ["read_h5", "read_h5_document", "read_h5_networks", "h5_column_names"]

_PROJ_COLUMNS = {"id": "id", "pre_cell_id": "pre_cell", "post_cell_id": "post_cell",
                 "pre_segment_id": "pre_segment", "post_segment_id": "post_segment",
                 "pre_fraction_along": "pre_fraction", "post_fraction_along": "post_fraction",
                 "weight": "weight", "delay": "delay"}
_INPUT_COLUMNS = {"id": "id", "target_cell_id": "target_cell", "segment_id": "segment",
                  "fraction_along": "fraction", "weight": "weight"}
_KINDS = {"projection": "chemical", "electricalProjection": "electrical",
          "continuousProjection": "continuous"}


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return _text(value.item() if value.size == 1 else value.tolist()[0])
    return str(value)


def _attr(obj, name: str, default: str | None = None) -> str | None:
    return _text(obj.attrs[name]) if name in obj.attrs else default


def h5_column_names(ds: h5py.Dataset) -> dict[int, str]:
    """``{column index: name}`` from a dataset's ``column_<i>`` attributes."""
    out = {}
    for key in ds.attrs:
        if key.startswith("column_") and key[7:].isdigit():
            out[int(key[7:])] = _text(ds.attrs[key])
    return out


def _dataset(group: h5py.Group, where: str) -> h5py.Dataset | None:
    sets = [v for v in group.values() if isinstance(v, h5py.Dataset)]
    if len(sets) > 1:
        raise NeuroMLError(f"{where}: expected one dataset, found {len(sets)}")
    if sets and sets[0].ndim != 2:
        raise NeuroMLError(f"{where}/{sets[0].name}: expected a 2-D dataset, got shape "
                           f"{sets[0].shape}")
    return sets[0] if sets else None


def _as_int(values: np.ndarray, where: str) -> np.ndarray:
    ints = np.rint(values).astype(np.int64)
    if values.size and not np.array_equal(ints, values):
        raise NeuroMLError(f"{where}: expected whole numbers, found {values[ints != values][0]}")
    return ints


def _columns(ds: h5py.Dataset, mapping: dict[str, str], fields: tuple[str, ...],
             where: str) -> dict[str, np.ndarray]:
    data = np.asarray(ds[()], dtype=np.float64)
    names = h5_column_names(ds)
    cols = empty_columns(fields, data.shape[0])
    for index, name in names.items():
        if name not in mapping:
            raise NeuroMLError(f"{where}: unknown column {name!r} (valid: {', '.join(mapping)})")
        if index >= data.shape[1]:
            raise NeuroMLError(f"{where}: column_{index} ({name}) beyond {data.shape[1]} columns")
        key = mapping[name]
        dtype = cols[key].dtype
        cols[key] = _as_int(data[:, index], f"{where} column {name!r}") \
            if dtype == np.int64 else data[:, index].copy()
    return cols


def _population(group: h5py.Group, where: str) -> PopulationSummary:
    pid = _attr(group, "id") or group.name.rsplit("population_", 1)[-1]
    component = _attr(group, "component")
    if component is None:
        raise NeuroMLError(f"{where}: population has no 'component' attribute")
    props = {k.split(":", 1)[1]: _text(v) for k, v in group.attrs.items()
             if k.startswith("property:")}
    ds = _dataset(group, where)
    if ds is None:
        size = int(group.attrs.get("size", 0))
        return PopulationSummary(pid, component, size, np.arange(size, dtype=np.int64), None,
                                 _attr(group, "type"), props)
    data = np.asarray(ds[()], dtype=np.float64)
    names = {v: k for k, v in h5_column_names(ds).items()}
    if not names:
        if data.shape[1] not in (3, 4):
            raise NeuroMLError(f"{where}/{ds.name}: {data.shape[1]} unnamed columns "
                               "(expected id,x,y,z or x,y,z)")
        start = data.shape[1] - 3
        names = {"x": start, "y": start + 1, "z": start + 2}
        if start:
            names["id"] = 0
    ids = (_as_int(data[:, names["id"]], f"{where} ids") if "id" in names
           else np.arange(data.shape[0], dtype=np.int64))
    locs = np.stack([data[:, names[c]] for c in "xyz"], axis=1)
    return PopulationSummary(pid, component, len(ids), ids, locs,
                             _attr(group, "type", "populationList"), props)


def _projection(group: h5py.Group, where: str) -> ProjectionSummary:
    kind_name = _attr(group, "type", "projection")
    if kind_name not in _KINDS:
        raise NeuroMLError(f"{where}: unknown projection type {kind_name!r} "
                           f"(valid: {', '.join(_KINDS)})")
    ds = _dataset(group, where)
    cols = (_columns(ds, _PROJ_COLUMNS, CONNECTION_FIELDS, f"{where}/{ds.name}")
            if ds is not None else empty_columns(CONNECTION_FIELDS, 0))
    synapse = _attr(group, "synapse") or _attr(group, "postComponent")
    return ProjectionSummary(_attr(group, "id") or group.name.rsplit("projection_", 1)[-1],
                             _KINDS[kind_name], _attr(group, "presynapticPopulation"),
                             _attr(group, "postsynapticPopulation"), synapse, cols,
                             _attr(group, "preComponent"))


def _input_list(group: h5py.Group, where: str) -> InputListSummary:
    ds = _dataset(group, where)
    cols = (_columns(ds, _INPUT_COLUMNS, INPUT_FIELDS, f"{where}/{ds.name}")
            if ds is not None else empty_columns(INPUT_FIELDS, 0))
    return InputListSummary(_attr(group, "id"), _attr(group, "component"),
                            _attr(group, "population"), cols, _attr(group, "destination"))


def _network(group: h5py.Group, path: Path) -> NetworkSummary:
    base = f"{path}: {group.name}"
    pops, projs, inputs = {}, {}, {}
    for name, child in group.items():
        if not isinstance(child, h5py.Group):
            continue
        where = f"{base}/{name}"
        if name.startswith("population_"):
            pop = _population(child, where)
            pops[pop.id] = pop
        elif name.startswith("projection_"):
            proj = _projection(child, where)
            projs[proj.id] = proj
        elif name.startswith(("inputList_", "input_list_")):
            il = _input_list(child, where)
            inputs[il.id] = il
    net = NetworkSummary(_attr(group, "id"), temperature(_attr(group, "temperature"), base),
                         pops, projs, inputs, [])
    check_references(net, base)
    return net


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise NeuroMLError(f"{path}: not a readable HDF5 file: {exc}") from exc


def _network_groups(f: h5py.File, path: Path) -> list[h5py.Group]:
    if "neuroml" not in f or not isinstance(f["neuroml"], h5py.Group):
        raise NeuroMLError(f"{path}: no /neuroml group (not a NeuroML2 HDF5 file)")
    root = f["neuroml"]
    return [g for k, g in root.items() if isinstance(g, h5py.Group) and k.startswith("network")]


def read_h5_networks(path: str | Path) -> dict[str, NetworkSummary]:
    """Vectorized summaries (float64) of the networks in a ``.nml.h5`` file, by network id."""
    path = Path(path)
    with _open(path) as f:
        nets = [_network(g, path) for g in _network_groups(f, path)]
    return {n.id: n for n in nets}


def read_h5_document(path: str | Path):
    """A libNeuroML document for a ``.nml.h5`` file (see :func:`read_h5`)."""
    return read_h5(path)[0]


def read_h5(path: str | Path) -> tuple[object, dict[str, NetworkSummary]]:
    """A libNeuroML document for a ``.nml.h5`` file (includes not yet resolved) and the
    vectorized summaries of its networks, by id.

    The top-level XML is parsed from ``neuroml_top_level``; each network's populations,
    projections and input lists are libNeuroML's optimized containers over the float64
    arrays (electrical/continuous projections as empty shells: their arrays are in the
    summary, :func:`read_h5_networks`). Each container carries its summary as attribute
    ``nethub_summary``; :func:`.write.write_nml` writes such networks from it.
    """
    # libNeuroML is optional (extra "neuroml"); imported when a NeuroML file is read.
    import neuroml

    from .nmlread import parse_nml_bytes

    path = Path(path)
    with _open(path) as f:
        groups = _network_groups(f, path)
        root = f["neuroml"]
        top = _attr(root, "neuroml_top_level")
        doc = (parse_nml_bytes(top.encode("utf-8"), f"{path}: /neuroml@neuroml_top_level")
               if top else neuroml.NeuroMLDocument(id=_attr(root, "id")))
        doc.networks = [n for n in doc.networks]
        nets = {}
        for group in groups:
            net = _network(group, path)
            nets[net.id] = net
            container = _container(net, _attr(group, "notes"))
            setattr(container, SUMMARY_ATTR, net)
            doc.networks.append(container)
    return doc, nets


def _container(net: NetworkSummary, notes: str | None):
    """libNeuroML optimized containers over a summary's arrays."""
    import neuroml
    from neuroml.hdf5.NetworkContainer import (
        InputListContainer,
        InputsList,
        InstanceList,
        NetworkContainer,
        PopulationContainer,
        ProjectionContainer,
    )

    temp = None if net.temperature_degC is None else f"{net.temperature_degC} degC"
    out = NetworkContainer(id=net.id, notes=notes, temperature=temp)
    if temp is not None:
        out.type = "networkWithTemperature"
    for pop in net.populations.values():
        pc = PopulationContainer(id=pop.id, component=pop.component, size=pop.size,
                                 type=pop.type)
        if pop.locations is not None:
            pc.instances = InstanceList(np.column_stack([pop.ids, pop.locations]),
                                        {"id": 0, "x": 1, "y": 2, "z": 3})
        out.populations.append(pc)
    for proj in net.projections.values():
        if proj.kind != "chemical":
            cls = (neuroml.ElectricalProjection if proj.kind == "electrical"
                   else neuroml.ContinuousProjection)
            getattr(out, f"{proj.kind}_projections").append(
                cls(id=proj.id, presynaptic_population=proj.pre_population,
                    postsynaptic_population=proj.post_population))
            continue
        pc = ProjectionContainer(id=proj.id, presynaptic_population=proj.pre_population,
                                 postsynaptic_population=proj.post_population,
                                 synapse=proj.synapse)
        names = ("id", "pre_cell", "post_cell", "pre_segment", "post_segment",
                 "pre_fraction", "post_fraction")
        pc.connections.array = np.column_stack([proj.columns[n] for n in names])
        pc.connections.indices = {"id": 0, "pre_cell_id": 1, "post_cell_id": 2,
                                  "pre_segment_id": 3, "post_segment_id": 4,
                                  "pre_fraction_along": 5, "post_fraction_along": 6}
        out.projections.append(pc)
    for il in net.input_lists.values():
        ic = InputListContainer(id=il.id, populations=il.population, component=il.component)
        ic.input = InputsList(np.column_stack([il.columns[n] for n in
                                               ("id", "target_cell", "segment", "fraction")]),
                              {"id": 0, "target_cell_id": 1, "segment_id": 2,
                               "fraction_along": 3})
        ic.input.target_population = il.population
        out.input_lists.append(ic)
    return out
