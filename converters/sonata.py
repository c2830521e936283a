"""SONATA circuit + simulation config -> canonical :class:`nethub.Network` (point-neuron slice).

Nodes with ``model_type`` ``point_process``/``point_neuron`` and an ``nrn:<Mechanism>`` template
become :class:`~nethub.celltypes.PointCell` types (parameters from their ``dynamics_params``
JSON); ``virtual`` nodes become VecStim spike sources fed by the config's ``spikes`` inputs.
Edges become connections with BMTK's weight for point targets (``syn_weight * sign * nsyns``,
or ``syn_weight`` for "preselected" edges with a section id or without ``nsyns``,
``bionet/pointprocesscell.py``) and their delay. Every cell keeps ``sonata.population`` /
``sonata.node_id``, every connection ``sonata.edge_population`` / ``sonata.edge_id``. What is
not carried (biophysical cells, reports, other inputs) is reported in ``lost``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CellType, CompartmentalCell, PointCell, Population
from nethub.converters import sonata_bio, sonata_bio_edges  # sonata-bio hook
from nethub.converters.kit import Field, Translation
from nethub.errors import FormatError
from nethub.network import Network
from nethub.runconfig import RunConfig
from nethub.table import Categorical, Ragged

from .sonata_sim import clamp_stims, handles_input, simulation_run_config
from .sonata_sim import run_settings as run_settings

__all__ = ["sonata_to_network", "sonata_run_config"]

_POINT_TYPES = ("point_process", "point_neuron")
#: node columns that decide a cell type's model besides node_type_id (per-node morphologies
#: are the biophysical import's to group)
_MODEL_KEYS = ("model_type", "model_template", "dynamics_params")
#: Edge properties (type CSV + HDF5) -> connections columns. Used ones without a column of
#: their own (they make ``weight``) are known; any other property is reported as lost.
EDGES = Translation("connections", native_name="edges", row_name="edges", fields=(
    Field("delay", "delay", unit="ms", null="default"),
    *(Field(k, None) for k in ("edge_id", "edge_type_id", "source_node_id", "target_node_id",
                               "syn_weight", "nsyns", "dynamics_params", "weight_function",
                               "source_query", "target_query", "model_template",
                               "nethub_edge_id")),
    *(Field(k, None, lost=f"'{k}' (section placement onto cells without sections: not carried)")
      for k in ("afferent_section_id", "afferent_section_pos", "sec_id", "sec_x",
                "target_sections", "distance_range")),
))

#: Spike time units -> ms.
_TIME_UNITS = {"ms": 1.0, "": 1.0, "s": 1000.0, "sec": 1000.0, "us": 1e-3}

#: Node properties with a canonical column (or used to make one).
_NODE_MAPPED = frozenset({"node_id", "x", "y", "z", "rotation_angle_xaxis",
                          "rotation_angle_yaxis", "rotation_angle_zaxis"})

#: docs/store.md §3.1: rot_x = -rotation_angle_xaxis, rot_y = -rotation_angle_yaxis,
#: rot_z = -rotation_angle_zaxis (BMTK's RotX·RotY·RotZ in nethub's per-axis sense; sonata-bio:
#: bmtk 1.2's rotation_matrix turns right-handed by +angle about every axis, z included).
_ROT_SIGN = {"x": -1.0, "y": -1.0, "z": -1.0}
#: IntFire1 parameters BMTK reads in seconds.
_INTFIRE1_SECONDS = ("tau", "refrac")


def sonata_to_network(circuit: Any) -> tuple[Network, list[str]]:
    """Map a SONATA circuit read by the file layer onto a Network.

    Parameters
    ----------
    circuit : SonataCircuit
        What :func:`nethub.formats.sonata.read_circuit` read (configs, populations, spike
        inputs, dynamics_params files, source documents).

    Returns
    -------
    network : Network
    lost : list of str
        What could not be carried over.
    """
    lost: list[str] = list(circuit.skipped)
    lost += [msg for pop in [*circuit.nodes.values(), *circuit.edges.values()]
             for msg in pop.skipped]
    net = Network()
    offsets, frames, gid0 = {}, [], 0
    for name, pop in circuit.nodes.items():
        offsets[name] = gid0
        frames.append(_cells(name, pop.table(), gid0, circuit, net, lost))
        gid0 += len(pop)
    cells = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    spk_times = _spike_times(circuit, offsets, len(cells), lost)
    conns = [_connections(ep, offsets, circuit, lost) for ep in circuit.edges.values()]
    placed = _place_bio_edges(circuit, conns, cells, net, lost)  # sonata-bio hook
    cells["_point"] = cells["cell_type"].map(
        lambda t: isinstance(net.cell_types[t], PointCell)).astype(bool)
    # BMTK's section names of biophysical cells are indexed (soma[0]): clamps and reports
    cells["_indexed"] = cells["cell_type"].map(lambda t: isinstance(
        net.cell_types[t], CompartmentalCell) and "soma[0]" in net.cell_types[t].sections
    ).astype(bool)
    net.stim_sources, stims = clamp_stims(circuit, cells, lost)
    if "run" in circuit.config.data:  # a simulation config: the model arrives with its run
        net.run_config = simulation_run_config(circuit, cells, lost)
    net = net.replace(cells=_cell_table(cells, spk_times),
                      stim_targets=stims if len(stims) else None,
                      connections=placed if placed is not None
                      else _connection_table(conns, list(circuit.edges)))
    for name, pop in circuit.nodes.items():
        types = sorted(set(cells.loc[cells["pop"] == name, "cell_type"]))
        net.populations[name] = Population(name, types[0] if len(types) == 1 else None, len(pop))
    seen: Counter = Counter()
    for fname, data, role in circuit.documents:
        net.add_file(_unique(fname, seen), data, role)
    for name, inp in circuit.other_inputs.items():
        if not handles_input(inp):
            lost.append(f"input {name!r}: input_type {inp.get('input_type')!r} module "
                        f"{inp.get('module')!r} not carried")
    net.provenance = {"source_format": "sonata", "source": str(circuit.config.path)}
    return net, lost


def sonata_run_config(run: Mapping[str, Any], conditions: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a SONATA simulation config's ``run`` and ``conditions`` only
    (docs/simulate.md, "SONATA and LEMS onto RunConfig"); the whole simulation config (reports,
    output, ...) is mapped by :func:`nethub.converters.sonata_sim.simulation_run_config`."""
    return RunConfig(**run_settings(run, conditions))


def _params_file(name: Any, files: Mapping[str, Any], folder: str, where: str,
                 lost: list[str], default: str = "mechanism defaults used"
                 ) -> dict[str, Any] | None:
    """The JSON of a dynamics_params file name (``{}`` when none is named)."""
    if not isinstance(name, str) or not name or name == "NONE":
        return {}
    data = files.get(name)
    if data is None:
        lost.append(f"{where}: dynamics_params file {name} not found in {folder or '.'} "
                    f"({default})")
    return data


def _point_params(model: str, params: dict[str, Any], where: str,
                  lost: list[str]) -> dict[str, Any]:
    """The mechanism parameters BMTK sets. For ``nrn:IntFire1`` (bionet's only ``nrn:``
    template) that is ``tau`` and ``refrac``, given in seconds and set in ms (x 1000,
    ``bionet/default_setters/cell_models.py``); other templates take the JSON as it is."""
    if model != "IntFire1":
        lost.append(f"{where}: nrn:{model} is no BMTK bionet template; its dynamics_params "
                    "are taken as NEURON parameters in NEURON units")
        return dict(params)
    out = {k: float(params[k]) * 1000.0 for k in _INTFIRE1_SECONDS if k in params}
    extra = sorted(set(params) - set(_INTFIRE1_SECONDS))
    if extra:
        lost.append(f"{where}: IntFire1 dynamics_params {extra} not used (BMTK sets only "
                    "tau and refrac)")
    return out


def _cells(name: str, tab: pd.DataFrame, gid0: int, circuit: Any, net: Network,
           lost: list[str]) -> pd.DataFrame:
    n = len(tab)
    out = pd.DataFrame({"gid": np.arange(gid0, gid0 + n, dtype=np.int64), "pop": name,
                        "sonata.population": name,
                        "sonata.node_id": tab["node_id"].to_numpy(np.int64)})
    for ax in "xyz":
        out[ax] = pd.to_numeric(tab[ax], errors="coerce").fillna(0.0).to_numpy() \
            if ax in tab else 0.0
        rot = f"rotation_angle_{ax}axis"
        if rot in tab:  # populations without it get NaN (no rotation) in the concat
            out[f"rot_{ax}"] = _ROT_SIGN[ax] * pd.to_numeric(tab[rot]).to_numpy(float)
    mtype = tab["model_type"].astype(str) if "model_type" in tab else pd.Series(["?"] * n)
    ctype = np.empty(n, dtype=object)
    # a node type's model is normally in the types CSV; files without types (BBP) give it
    # per node, so nodes are grouped by the model columns too
    keys = ["node_type_id"] + [c for c in _MODEL_KEYS if c in tab.columns]
    groups = tab.groupby(keys, sort=True, dropna=False).indices
    per_type = Counter(k[0] if isinstance(k, tuple) else k for k in groups)
    seen: Counter = Counter()
    for key, idx in groups.items():
        tid = key[0] if isinstance(key, tuple) else key
        first = tab.iloc[idx[0]]
        kind = mtype.iloc[idx[0]]
        seen[tid] += 1
        tname = f"{name}_{tid}" if per_type[tid] == 1 else f"{name}_{tid}_{seen[tid]}"
        ctype[idx] = tname
        if kind == "virtual":
            net.cell_types[tname] = PointCell(name=tname, model="VecStim")
        elif kind in _POINT_TYPES:
            templ = str(first.get("model_template", ""))
            if not templ.startswith("nrn:"):
                lost.append(f"{name} type {tid}: point template {templ!r} not supported; "
                            f"{len(idx)} cells became VecStim without spikes")
                net.cell_types[tname] = PointCell(name=tname, model="VecStim")
                continue
            params = _params_file(first.get("dynamics_params"), circuit.point_params,
                                  circuit.params_dirs.get("point", ""),
                                  f"{name} type {tid}", lost) or {}
            params = _point_params(templ[4:], params, f"{name} type {tid}", lost)
            net.cell_types[tname] = PointCell(name=tname, model=templ[4:], params=params)
        elif kind == "biophysical":  # sonata-bio hook
            ctype[idx] = sonata_bio.biophysical_types(name, tab, idx, circuit, net, lost)
        else:
            net.cell_types[tname] = biophysical_cell_type(tname, kind, tab.iloc[idx], circuit,
                                                          lost)
    out["cell_type"] = ctype
    for col in tab.columns:  # every other node property, kept as sonata.<name>
        if col not in _NODE_MAPPED and not col.startswith("dynamics_params."):
            out[f"sonata.{col}"] = _plain(tab[col])
    _node_overrides(name, tab, ctype, net, out, lost)
    out["source_format"] = "sonata"
    out["source_pop"] = name
    out["source_id"] = out["sonata.node_id"]
    out["_virtual"] = (mtype == "virtual").to_numpy()
    return out


def _node_overrides(name: str, tab: pd.DataFrame, ctype: np.ndarray, net: Network,
                    out: pd.DataFrame, lost: list[str]) -> None:
    """Per-node ``dynamics_params`` (HDF5 ``dynamics_params`` group members) of point cells as
    per-cell ``params.<name>`` columns (NaN: the type's value), which win over the type's
    file as the SONATA spec says; IntFire1's ``tau``/``refrac`` in seconds -> ms as for the
    type. BMTK 1.2 itself cannot read such overrides (``NotImplementedError``)."""
    cols = [c for c in tab.columns if c.startswith("dynamics_params.")]
    if not cols:
        return
    by_type = {t: ct.model if isinstance(ct, PointCell) else "" for t, ct in
               net.cell_types.items()}
    models = pd.Series(ctype).map(by_type).fillna("").to_numpy(dtype=object)
    point = (models != "") & (models != "VecStim")
    for col in cols:
        key = col[len("dynamics_params."):]
        values = pd.to_numeric(tab[col], errors="coerce").to_numpy(float)
        given = ~np.isnan(values)
        usable = point & given & ((models != "IntFire1") | np.isin(key, _INTFIRE1_SECONDS))
        bad = int((given & ~usable).sum())
        if bad:
            lost.append(f"{name}: per-node dynamics_params '{key}' of {bad} nodes not carried "
                        "(not a parameter of their point cell)")
        if usable.any():
            scale = np.where(models == "IntFire1", 1000.0, 1.0)
            out[f"params.{key}"] = np.where(usable, values * scale, np.nan)


def biophysical_cell_type(tname: str, kind: str, rows: pd.DataFrame, circuit: Any,
                          lost: list[str]) -> CellType:
    """The cell type of the nodes of one node type that are neither virtual nor point cells
    (``biophysical``, ...): ``rows`` are their full property rows (type CSV + HDF5).

    The biophysical import (``converters/sonata_bio.py``) hooks in here; until then they are
    silent VecStim placeholders, reported as lost.
    """
    lost.append(f"{tname}: model_type {kind!r} not supported yet; {len(rows)} cells kept as "
                "silent VecStim placeholders")
    return PointCell(name=tname, model="VecStim")


def rows_of(pop: Any, node_ids: np.ndarray, offset: int, where: str) -> np.ndarray:
    """The cells-table rows (= gids) of ``node_ids`` of node population ``pop`` whose first
    cell is row ``offset`` (vectorized; FormatError naming ``where`` for unknown ids)."""
    ids = np.asarray(node_ids, dtype=np.int64)
    known = pop.node_ids
    if len(known) and known[0] == 0 and known[-1] == len(known) - 1 and (
            len(known) < 2 or bool(np.all(np.diff(known) == 1))):
        pos = ids  # the usual implicit ids 0..n-1: the position itself
        bad = (ids < 0) | (ids >= len(known))
    else:
        order = np.argsort(known, kind="stable")
        at = np.searchsorted(known, ids, sorter=order)
        at = np.minimum(at, max(len(known) - 1, 0))
        pos = order[at] if len(known) else at
        bad = known[pos] != ids if len(known) else np.ones(len(ids), bool)
    if np.any(bad):
        raise FormatError(f"{where}: node ids {np.unique(ids[bad])[:5].tolist()} are not in "
                          f"node population {pop.name!r}")
    return offset + pos


def _spike_times(circuit: Any, offsets: dict[str, int], n_cells: int,
                 lost: list[str]) -> Ragged:
    """Every input's spikes as the cells' ``params.spkTimes`` (per cell sorted; vectorized:
    one sort over all spikes)."""
    rows, times = [np.zeros(0, np.int64)], [np.zeros(0)]
    for name, spikes in circuit.spike_inputs.items():
        for pop, sp in spikes.items():
            if pop not in offsets:
                lost.append(f"input {name!r}: spikes of unknown population {pop!r} ignored")
                continue
            scale = _TIME_UNITS.get(str(sp.units).strip().lower())
            if scale is None:
                raise FormatError(f"input {name!r}: spike times of {pop!r} in unknown units "
                                  f"{sp.units!r} (known: {', '.join(_TIME_UNITS)})")
            rows.append(rows_of(circuit.nodes[pop], sp.node_ids, offsets[pop],
                                f"input {name!r}"))
            times.append(scale * np.asarray(sp.timestamps, float))
    r, t = np.concatenate(rows), np.concatenate(times)
    order = np.lexsort((t, r))
    offs = np.zeros(n_cells + 1, np.int64)
    np.cumsum(np.bincount(r, minlength=n_cells), out=offs[1:])
    return Ragged(t[order], offs)


def _connections(ep: Any, offsets: dict[str, int], circuit: Any,
                 lost: list[str]) -> dict[str, np.ndarray]:
    tab = ep.table()
    src, tgt = ep.source_population, ep.target_population
    if not len(tab) and (src not in offsets or tgt not in offsets):  # libsonata's edges-AC
        none = np.zeros(0, np.int64)
        return {"pre_gid": none, "post_gid": none, "weight": np.zeros(0),
                "delay": np.zeros(0), "sonata.edge_id": none}
    if src not in offsets or tgt not in offsets:
        raise FormatError(f"{ep.source}: edge population {ep.name!r} joins unknown node "
                          f"populations {src!r} -> {tgt!r}")
    n = len(tab)
    w = pd.to_numeric(tab.get("syn_weight", pd.Series(np.zeros(n)))).to_numpy(float)
    nsyns = pd.to_numeric(tab["nsyns"]).to_numpy(float) if "nsyns" in tab \
        else np.full(n, np.nan)
    # BMTK's "preselected targets" (edge_adaptor.py): edges with a section id, or without
    # nsyns, take syn_weight as it is; the others syn_weight * sign * nsyns
    preselected = np.isnan(nsyns)
    for col in ("sec_id", "afferent_section_id"):
        if col in tab:
            preselected |= tab[col].notna().to_numpy()
    sign = np.ones(n)
    dyn = tab["dynamics_params"] if "dynamics_params" in tab else pd.Series([None] * n)
    for fname, idx in pd.Series(np.arange(n)).groupby(dyn.fillna("").to_numpy()).groups.items():
        d = _params_file(fname, circuit.synapse_params, circuit.params_dirs.get("synapse", ""),
                         f"edges {ep.name}", lost, "sign +1 used")
        if d and "sign" in d:
            sign[np.asarray(idx)] = float(d["sign"])
    wf = tab["weight_function"] if "weight_function" in tab else None
    if wf is not None:
        other = sorted(set(wf.dropna().astype(str)) - {"wmax"})
        if other:
            lost.append(f"edges {ep.name}: weight_function {other} taken as wmax")
    mine: list[str] = []
    mapped = _edge_translation(tuple(tab.columns)).to_canonical(
        tab, mine, where=lambda i: f"{ep.source}: edges {ep.name}[{i}]")
    lost.extend(f"edge population {ep.name}: {msg}" for msg in mine)
    return {
        "pre_gid": rows_of(circuit.nodes[src], tab["source_node_id"].to_numpy(np.int64),
                           offsets[src], f"{ep.source}: edges {ep.name} source_node_id"),
        "post_gid": rows_of(circuit.nodes[tgt], tab["target_node_id"].to_numpy(np.int64),
                            offsets[tgt], f"{ep.source}: edges {ep.name} target_node_id"),
        "weight": np.where(preselected, w, w * sign * nsyns),
        "delay": mapped["delay"],
        # an export's edge split off a multi-synapse edge keeps the original's id
        "sonata.edge_id": (pd.to_numeric(tab["nethub_edge_id"]).to_numpy(np.int64)
                           if "nethub_edge_id" in tab else ep.edge_ids),
    }


@functools.lru_cache(maxsize=32)
def _edge_translation(columns: tuple[str, ...]) -> Translation:
    """:data:`EDGES` with only the fields of the columns an edge table has (the kit checks
    every field's values row by row; absent ones need no check)."""
    fields = tuple(f for f in EDGES.fields if f.canonical is not None or f.key in columns)
    return Translation("connections", native_name="edges", row_name="edges", fields=fields)


def _place_bio_edges(circuit: Any, conns: list[dict[str, np.ndarray]], cells: pd.DataFrame,
                     net: Network, lost: list[str]) -> pd.DataFrame | None:
    """The connections with those onto biophysical cells placed, weighted and typed as BMTK
    does (:func:`sonata_bio_edges.place_edges`: one row per synapse, ``syn_mech``,
    ``post_sec``, ``post_loc``), or None when the circuit has no compartmental cell."""
    if not any(isinstance(t, CompartmentalCell) for t in net.cell_types.values()):
        return None
    frames = [pd.DataFrame({**c, "sonata.edge_population": name})
              for c, name in zip(conns, circuit.edges, strict=True)]
    frames = sonata_bio_edges.place_edges(circuit, frames, cells, net, lost)
    return pd.concat(frames, ignore_index=True) if frames else None


def _connection_table(conns: list[dict[str, np.ndarray]], names: list[str]
                      ) -> dict[str, Any] | None:
    """The connections columns of every edge population, ``sonata.edge_population`` as one
    categorical (codes by population, no string per edge)."""
    if not conns:
        return None
    out: dict[str, Any] = {k: np.concatenate([c[k] for c in conns]) for k in conns[0]}
    sizes = [len(c["pre_gid"]) for c in conns]
    out["sonata.edge_population"] = Categorical(
        np.repeat(np.arange(len(names), dtype=np.int32), sizes), list(names))
    order = ["pre_gid", "post_gid", "weight", "delay", "sonata.edge_population",
             "sonata.edge_id"]
    return {k: out[k] for k in order}


def _plain(col: pd.Series) -> np.ndarray:
    """A node property as float64 (numbers) or object strings/None (anything else)."""
    if col.dtype.kind in "iu":
        return col.to_numpy(np.int64)
    num = pd.to_numeric(col, errors="coerce")
    if col.notna().sum() == num.notna().sum():
        return num.to_numpy(float)
    return np.where(col.isna().to_numpy(), None, col.astype(str).to_numpy(dtype=object))


def _cell_table(cells: pd.DataFrame, spk_times: Ragged) -> dict[str, Any]:
    """The cells table's columns (strings as categoricals, vectorized by ``pd.factorize``;
    categories in order of first use, as ``Categorical.from_values`` gives them)."""
    cols: dict[str, Any] = {}
    for k in cells.columns:
        if k in ("_virtual", "_point", "_indexed"):
            continue
        s = cells[k]
        if s.dtype == object:
            text = s.where(s.isna(), s.astype(str))
            codes, cats = pd.factorize(text, use_na_sentinel=True)
            cols[k] = Categorical(codes.astype(np.int32), [str(c) for c in cats])
        else:
            cols[k] = s.to_numpy()
    cols["params.spkTimes"] = spk_times
    return cols


def _unique(name: str, seen: Counter) -> str:
    seen[name] += 1
    return name if seen[name] == 1 else f"{seen[name]}_{name}"
