"""Canonical :class:`nethub.Network` -> SONATA objects (nodes, edges, inputs, configs).

The inverse of :mod:`nethub.converters.sonata`, for any store: populations become node
populations, connections edge populations, spike sources and current pulses inputs, the run
configuration the simulation config. The result is plain data (:class:`SonataExport`); writing it
as files is :func:`nethub.formats.sonata.export.write_export`'s job.

Node populations (this module):

* a population whose cells carry ``sonata.population`` / ``sonata.node_id`` (imported from
  SONATA) keeps its name, node ids, ``sonata.node_type_id`` and every ``sonata.<name>`` property,
  and its node types CSV verbatim when the store embeds one that matches (so that re-importing
  the export gives the same cells table, column order included);
* any other population gets node ids ``0..n-1`` in gid order, one node type per cell type
  (``node_type_id = 100 + position of the cell type``) and the model type its cell type implies:
  ``point_process`` + ``nrn:<Mechanism>`` for artificial cells, ``virtual`` for VecStim (its
  spike times become a spikes input) and NetStim (the spikes of an exported run become its
  input; without one, reported: SONATA has no Poisson source),
  ``biophysical`` + ``hoc:<Name>`` for compartmental cells;
* ``x``, ``y``, ``z`` and the rotations (``rotation_angle_xaxis = -rot_x``,
  ``rotation_angle_yaxis = -rot_y``, ``rotation_angle_zaxis = -rot_z``, docs/store.md §3.1) are
  HDF5 attributes.

Edges, inputs and the simulation config: :mod:`nethub.converters.sonata_export_edges` and
:mod:`nethub.converters.sonata_export_run`. Everything SONATA or BMTK cannot express is
reported in :attr:`SonataExport.lost`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CompartmentalCell, PointCell
from nethub.errors import ConversionError, NethubError
from nethub.network import Network
from nethub.runconfig import RunConfig
from nethub.table import Ragged

from .hoc_export import DEFAULT_THRESHOLD, hoc_template
from .sonata_export_bio import (
    bmtk_spike_threshold,
    bmtk_template_options,
    keep_nseg_dl,
    with_all_list,
)
from .sonata_export_edges import edge_populations, stim_inputs
from .sonata_export_model import EdgesOut, NodeFileOut, NodesOut, SonataExport
from .sonata_export_run import simulation_members
from .sonata_export_sources import source_documents

__all__ = ["SonataExport", "NodesOut", "EdgesOut", "NodeFileOut", "network_to_sonata",
           "point_dir", "synapse_dir", "STIM_MODELS", "intfire1_seconds"]

#: Components folders (relative to the output folder).
point_dir = "components/point_neuron_models"
synapse_dir = "components/synaptic_models"
TEMPLATE_DIR = "components/templates"
MORPHOLOGY_DIR = "components/morphologies"
MECHANISM_DIR = "components/mechanisms"
BIOPHYS_DIR = "components/biophysical_neuron_models"
#: Artificial cells that are spike sources (virtual nodes in SONATA).
STIM_MODELS = frozenset({"VecStim", "NetStim", "PatternStim"})
#: Cells columns that are the SONATA identity, not properties.
_IDENTITY = ("sonata.population", "sonata.node_id", "sonata.node_type_id")
#: Cells columns written as something else, or derived, or nethub's own bookkeeping.
_HANDLED = frozenset({"gid", "pop", "cell_type", "x", "y", "z", "xnorm", "ynorm", "znorm",
                      "source_format", "source_pop", "source_id", "rot_x", "rot_y", "rot_z",
                      "params.spkTimes", "cellModel", "cellType"})
#: docs/store.md §3.1 (the inverse of the importer's signs).
_ROT = (("rot_x", "rotation_angle_xaxis", -1.0), ("rot_y", "rotation_angle_yaxis", -1.0),
        ("rot_z", "rotation_angle_zaxis", -1.0))
#: IntFire1 parameters BMTK reads in seconds.
_INTFIRE1_SECONDS = ("tau", "refrac")


def network_to_sonata(net: Network, run_config: Any = None, played: Any = None
                      ) -> SonataExport:
    """Map a Network onto SONATA objects.

    Parameters
    ----------
    net : Network
    run_config : RunConfig, optional
        The run settings for the simulation config; default: ``net.run_config`` when the
        network carries one, else the run and conditions of an embedded SONATA simulation
        config, else the stored NetPyNE simConfig (``duration``, ``dt``, ``hParams``,
        ``seeds``), else RunConfig's defaults.
    played : Results, optional
        A run of the network whose spikes of NetStim cells become those virtual nodes'
        spikes input (SONATA has no Poisson source; BMTK then replays what the run drew);
        its run configuration is the default one (after ``net.run_config``).

    Returns
    -------
    SonataExport
    """
    lost: list[str] = []
    files: dict[str, bytes] = {}
    cells = net.cells_df()
    cells["_row"] = np.arange(len(cells), dtype=np.int64)
    cells = cells.sort_values("gid", kind="stable").reset_index(drop=True)
    type_ids = {name: 100 + i for i, name in enumerate(net.cell_types)}
    names = _population_names(cells, lost)
    cells["_sonata_pop"] = names
    pops, gid_map, spikes = [], [], {}
    for name, rows in cells.groupby("_sonata_pop", sort=False).indices.items():
        tab = cells.iloc[rows].reset_index(drop=True)
        out, props = _population(str(name), tab, net, type_ids, files, lost, played)
        pops.append((out, props))
        gid_map.append(pd.DataFrame({"gid": tab["gid"].to_numpy(np.int64),
                                     "population": str(name), "node_id": out.node_ids,
                                     "cell_type": tab["cell_type"].astype(str).to_numpy()}))
        times = _merge(_spike_times(tab, net), _played_spikes(tab, net, played))
        if times is not None:
            spikes[str(name)] = (out.node_ids[times[0]], times[1])
    for name in net.populations:  # populations without cells (e.g. libsonata's nodes-B)
        if name not in set(names):
            pops.append((_empty_population(name), {}))
    _lost_columns(cells, lost)
    gmap = (pd.concat(gid_map, ignore_index=True) if gid_map
            else pd.DataFrame({"gid": np.zeros(0, np.int64), "population": [], "node_id": [],
                              "cell_type": []}))
    node_files = _node_files(pops, net, type_ids, lost)
    edges = edge_populations(net, cells, gmap, files, synapse_dir, lost)
    node_sets: dict[str, Any] = {p.name: {"population": p.name} for f in node_files
                                 for p in f.populations}
    spike_inputs = {f"{pop}_spikes": (f"inputs/{pop}_spikes.h5", pop, {pop: sp})
                    for pop, sp in spikes.items()}
    inputs = {name: {"input_type": "spikes", "module": "sonata",
                     "input_file": f"$BASE_DIR/{rel}", "node_set": ns}
              for name, (rel, ns, _) in spike_inputs.items()}
    inputs.update(stim_inputs(net, gmap, node_sets, lost, files))
    if run_config is None and getattr(net, "run_config", None) is None and played is not None:
        run_config = _run_config_of(played)
    simulation = simulation_members(net, run_config, node_sets, gmap, lost)
    simulation["inputs"] = inputs
    _bmtk_dl(net, cells, simulation["run"], lost)
    components = _components(net, files, lost, _has_biophysical(node_files))
    sources, tops = source_documents(net)
    return SonataExport(node_files, edges, node_sets, components, files, spike_inputs,
                        simulation, gmap, lost, sources, tops)


# ----------------------------------------------------------------------------- populations
def _population_names(cells: pd.DataFrame, lost: list[str]) -> np.ndarray:
    """``sonata.population`` where a cell has one, else its ``pop``; names an HDF5 group
    cannot take (``/``, empty, ``.``, ``..``) are renamed and reported."""
    pop = cells["pop"].astype(object).to_numpy()
    if "sonata.population" in cells:
        sp = cells["sonata.population"].astype(object)
        pop = np.where(sp.notna().to_numpy(), sp.to_numpy(), pop)
    names = pop.astype(str)
    for bad in map(str, pd.unique(names)):
        if "/" in bad or bad in ("", ".", "..", "nan", "None"):
            new = bad.replace("/", "_").strip(".") or "population"
            lost.append(f"population {bad!r} is written as {new!r} (a SONATA population "
                        "name is an HDF5 group name)")
            names[names == bad] = new
    return names


def _is_sonata(tab: pd.DataFrame) -> bool:
    """Whether a population's cells all carry their SONATA identity (node id, type id)."""
    return all(c in tab and tab[c].notna().all() for c in _IDENTITY) and \
        (tab["sonata.node_id"] >= 0).all()


def _population(name: str, tab: pd.DataFrame, net: Network, type_ids: Mapping[str, int],
                files: dict[str, bytes], lost: list[str], played: Any = None
                ) -> tuple[NodesOut, dict[str, Any]]:
    n = len(tab)
    attrs = pd.DataFrame({ax: tab[ax].to_numpy(float) for ax in "xyz"})
    for col, key, sign in _ROT:
        if col in tab and tab[col].notna().any():
            attrs[key] = sign * tab[col].to_numpy(float)
    dyn = pd.DataFrame(index=pd.RangeIndex(n))
    if _is_sonata(tab):
        node_ids = tab["sonata.node_id"].to_numpy(np.int64)
        tids = tab["sonata.node_type_id"].to_numpy(np.int64)
        for col in tab.columns:
            if col.startswith("sonata.") and col not in _IDENTITY:  # all-null: see _node_files
                attrs[col[len("sonata."):]] = _plain(tab[col])
        _sonata_point_params(name, tab, net, files, lost)
        _report_placeholders(name, tab, net, lost)
        ctypes = tab["cell_type"].astype(str).to_numpy()
        for ct in pd.unique(ctypes):  # per-node dynamics_params the import made params.*
            dyn = _per_node_params(tab, ctypes == ct, net.cell_types.get(str(ct)), dyn, name,
                                   lost)
        return NodesOut(name, node_ids, tids, attrs, dyn), {}
    node_ids = np.arange(n, dtype=np.int64)
    ctypes = tab["cell_type"].astype(str).to_numpy()
    tids = pd.Series(ctypes).map(dict(type_ids)).fillna(0).to_numpy(np.int64)
    for ct in pd.unique(ctypes):
        _type_files(str(ct), net, files, lost, f"population {name}", played)
        dyn = _per_node_params(tab, ctypes == ct, net.cell_types.get(str(ct)), dyn, name, lost)
    return NodesOut(name, node_ids, tids, attrs, dyn), {}


def _empty_population(name: str) -> NodesOut:
    none = np.zeros(0, np.int64)
    frame = pd.DataFrame(index=pd.RangeIndex(0))
    return NodesOut(name, none, none, frame, frame.copy())


def _report_placeholders(pop: str, tab: pd.DataFrame, net: Network, lost: list[str]) -> None:
    """Imported cells of a model type nethub kept as silent placeholders (VecStim without
    spikes) are written with their SONATA properties, but nothing to build them from."""
    if "sonata.model_type" not in tab:
        return
    kind = tab["sonata.model_type"].astype(object)
    model = tab["cell_type"].astype(str).map(
        {k: getattr(v, "model", None) for k, v in net.cell_types.items()})
    held = ~kind.isin(["virtual", "point_process", "point_neuron"]) & (model == "VecStim")
    if held.any():
        lost.append(f"population {pop}: {int(held.sum())} {sorted(set(kind[held]))} cells "
                    "were imported as placeholders; written with their SONATA properties "
                    "but without templates or morphologies (BMTK cannot build them)")


def _plain(col: pd.Series) -> np.ndarray:
    if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object:
        return col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
    return col.to_numpy()


def _per_node_params(tab: pd.DataFrame, mask: np.ndarray, ct: Any, dyn: pd.DataFrame,
                     pop: str, lost: list[str]) -> pd.DataFrame:
    """Per-cell ``params.<name>`` values that differ from the cell type's: HDF5
    ``dynamics_params`` (BMTK applies them per node)."""
    if not isinstance(ct, PointCell) or ct.model in STIM_MODELS:
        return dyn
    for col in tab.columns:
        if not col.startswith("params.") or col == "params.spkTimes":
            continue
        key = col[len("params."):]
        vals = pd.to_numeric(tab.loc[mask, col], errors="coerce").to_numpy(float)
        base = ct.params.get(key)
        if np.all(np.isnan(vals)) or (isinstance(base, (int, float)) and np.all(vals == base)):
            continue
        if ct.model == "IntFire1":
            if key not in _INTFIRE1_SECONDS:
                lost.append(f"population {pop}: per-cell {key} of IntFire1 (BMTK sets only "
                            "tau and refrac)")
                continue
            vals = intfire1_seconds(vals)
        full = dyn[key].to_numpy(float) if key in dyn else np.full(len(tab), np.nan)
        full[mask] = vals
        dyn[key] = full
    return dyn


def intfire1_seconds(ms: Any) -> Any:
    """IntFire1 ``tau``/``refrac`` in ms -> the seconds BMTK reads, chosen so that
    ``seconds * 1000`` gives back exactly ``ms`` (the importer's conversion) where a float
    allows it."""
    arr = np.asarray(ms, dtype=float)
    sec = arr / 1000.0
    for _ in range(4):
        off = sec * 1000.0 - arr
        if not np.any(off):
            break
        sec = np.where(off > 0, np.nextafter(sec, -np.inf),
                       np.where(off < 0, np.nextafter(sec, np.inf), sec))
    return sec if sec.ndim else float(sec)


def _point_json(ct: PointCell, where: str, lost: list[str]) -> dict[str, Any]:
    """The dynamics_params JSON of a point cell type, as BMTK reads it."""
    params = {k: v for k, v in ct.params.items() if not isinstance(v, (list, dict))}
    if ct.model != "IntFire1":
        lost.append(f"{where}: nrn:{ct.model} is no BMTK bionet template (BMTK runs only "
                    "nrn:IntFire1); its dynamics_params are written in NEURON units")
        return params
    extra = sorted(set(params) - set(_INTFIRE1_SECONDS))
    if extra:
        lost.append(f"{where}: IntFire1 parameters {extra} are not set by BMTK (written "
                    "anyway)")
    return {k: (intfire1_seconds(float(v)) if k in _INTFIRE1_SECONDS else v)
            for k, v in params.items()}


def _sonata_point_params(pop: str, tab: pd.DataFrame, net: Network, files: dict[str, bytes],
                         lost: list[str]) -> None:
    """The dynamics_params files an imported population names, rebuilt from its cell types."""
    if "sonata.dynamics_params" not in tab:
        return
    firsts = tab.groupby(tab["cell_type"].astype(str), sort=False).head(1)
    for ct_name, fname in zip(firsts["cell_type"].astype(str),
                              firsts["sonata.dynamics_params"].astype(object), strict=True):
        ct = net.cell_types.get(ct_name)
        if not isinstance(ct, PointCell) or ct.model in STIM_MODELS:
            continue
        if not isinstance(fname, str) or not fname or fname == "NONE":
            continue
        _add_json(files, f"{point_dir}/{fname}", _point_json(ct, f"{pop} type {ct_name}",
                                                             lost), lost)


def _add_json(files: dict[str, bytes], rel: str, doc: Mapping[str, Any],
              lost: list[str]) -> None:
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    if rel in files and files[rel] != data:
        lost.append(f"{rel}: two cell types name this file with different parameters; the "
                    "first one is written")
        return
    files.setdefault(rel, data)


# ------------------------------------------------------------------------------ type tables
def _type_row(name: str, ct: Any) -> dict[str, Any]:
    if isinstance(ct, PointCell) and ct.model in STIM_MODELS:
        return {"model_type": "virtual", "model_template": None, "dynamics_params": None,
                "model_name": name}
    if isinstance(ct, PointCell):
        return {"model_type": "point_process", "model_template": f"nrn:{ct.model}",
                "dynamics_params": f"{name}.json", "model_name": name}
    return {"model_type": "biophysical", "model_template": f"hoc:{name}",
            "dynamics_params": None, "model_name": name}


def _type_files(name: str, net: Network, files: dict[str, bytes], lost: list[str],
                where: str, played: Any = None) -> None:
    ct = net.cell_types.get(name)
    if ct is None:
        lost.append(f"{where}: cell type {name!r} is not defined; written as virtual nodes")
        return
    if isinstance(ct, PointCell):
        if ct.model == "NetStim" and played is None:
            lost.append(f"{where}: NetStim cell type {name!r} has no SONATA equivalent (no "
                        "Poisson source): written as virtual nodes without spikes (export a "
                        "run with it to play its spikes)")
        elif ct.model == "NetStim":
            lost.append(f"{where}: NetStim cell type {name!r} written as virtual nodes "
                        f"playing the spikes of run {played.name or '(latest)'} "
                        f"(recorded to {getattr(played, 'duration', None)} ms)")
        elif ct.model not in STIM_MODELS:
            _add_json(files, f"{point_dir}/{name}.json",
                      _point_json(ct, f"cell type {name}", lost), lost)
        return
    if isinstance(ct, CompartmentalCell):
        text = _hoc_template(ct, net, lost)
        if text is not None:
            files[f"{TEMPLATE_DIR}/{name}.hoc"] = text.encode()
            if "soma[0]" not in ct.sections and "soma" not in ct.sections:
                lost.append(f"cell type {name}: written as HOC template hoc:{name}; it has no "
                            "section soma[0], which BMTK 1.2's bionet needs (spike detector "
                            "and morphology at hobj.soma[0]), so BMTK cannot build it")


#: BMTK's run.dL when a config has none (bmtk.utils.sonata.config).
BMTK_DL = 20.0


def _bmtk_dl(net: Network, cells: pd.DataFrame, run: dict[str, Any], lost: list[str]
             ) -> None:
    """``run.dL`` so that BMTK's re-segmentation keeps every exported section's nseg."""
    used = {str(t) for t in pd.unique(cells["cell_type"].astype(str))} if len(cells) else set()
    types = {t: ct for t, ct in net.cell_types.items()
             if t in used and isinstance(ct, CompartmentalCell)}
    dl, conflicts = keep_nseg_dl(types, run.get("dL", BMTK_DL))
    if dl is not None and dl != run.get("dL", BMTK_DL):
        run["dL"] = dl
    elif conflicts:
        lost.append("no run.dL keeps every section's nseg under BMTK's re-segmentation "
                    "(nseg = 1 + 2 int(L / 2dL)): " + "; ".join(conflicts[:10])
                    + (f" (+{len(conflicts) - 10} more)" if len(conflicts) > 10 else ""))
    if "spike_threshold" not in run:
        thr, thr_lost = bmtk_spike_threshold(types, float(net.params.get(
            "defaultThreshold", DEFAULT_THRESHOLD)))
        if thr is not None:
            run["spike_threshold"] = thr
        lost.extend(thr_lost)


def _hoc_template(ct: CompartmentalCell, net: Network, lost: list[str]) -> str | None:
    """The HOC template of a compartmental cell type (:func:`nethub.converters.hoc_export.
    hoc_template`); a type it cannot write is reported."""
    try:
        return hoc_template(ct.name, with_all_list(ct), default_threshold=float(
            net.params.get("defaultThreshold", DEFAULT_THRESHOLD)), **bmtk_template_options(ct))
    except ConversionError as exc:
        lost.append(f"cell type {ct.name}: no HOC template written ({exc}); BMTK cannot "
                    "instantiate these cells")
        return None


def _node_files(pops: list[tuple[NodesOut, dict]], net: Network, type_ids: Mapping[str, int],
                lost: list[str]) -> list[NodeFileOut]:
    """Group populations into files: those sharing an embedded node types CSV share one file
    (as they were imported); the others get one file each with a generated types table."""
    csvs = _embedded_type_tables(net)
    by_csv: dict[str, NodeFileOut] = {}
    out: list[NodeFileOut] = []
    inv = {v: k for k, v in type_ids.items()}
    for pop, _ in pops:
        match = _matching_csv(pop, csvs)
        if match is not None:
            _drop_typed(pop, match[2])
        # columns no node of this population has (other populations' properties)
        pop.attributes = pop.attributes.loc[:, pop.attributes.notna().any(axis=0)]
        if match is not None:
            fname, data, table = match
            if fname in by_csv:
                by_csv[fname].populations.append(pop)
                continue
            nf = NodeFileOut(pop.name, [pop], table, data, fname)
            by_csv[fname] = nf
            out.append(nf)
            continue
        if "model_type" in pop.attributes:  # imported without a types CSV: ids only
            types = pd.DataFrame(index=pd.Index(np.unique(pop.node_type_ids)))
        else:
            used = np.unique(pop.node_type_ids)
            # an imported id without a types table (e.g. -1: none in the file) keeps no row
            # values, as it came
            types = pd.DataFrame([_type_row(inv[t], net.cell_types.get(inv[t])) if t in inv
                                  else {} for t in used], index=pd.Index(used))
        out.append(NodeFileOut(pop.name, [pop], types, None, f"{pop.name}_node_types.csv"))
    return out


def _embedded_type_tables(net: Network) -> list[tuple[str, bytes, pd.DataFrame]]:
    out = []
    for f in net.files_with_role("type-table"):
        try:
            df = pd.read_csv(io.BytesIO(f.data), sep=r"\s+", quotechar='"',
                             keep_default_na=False, float_precision="round_trip",
                             na_values=["", "NULL", "NONE", "None", "null", "NaN", "nan"])
        except (ValueError, pd.errors.ParserError):
            continue
        if "node_type_id" in df:
            ids = pd.to_numeric(df["node_type_id"], errors="coerce")
            if ids.notna().all() and not ids.duplicated().any():
                df.index = pd.Index(ids.astype(np.int64).to_numpy())
                out.append((f.name, f.data, df.drop(columns=["node_type_id"])))
    return out


def _matching_csv(pop: NodesOut, csvs: list) -> tuple[str, bytes, pd.DataFrame] | None:
    """The embedded types CSV named ``<pop>_node_types.csv`` or else the first one that has
    all of the population's type ids and whose columns are all its properties."""
    if not len(pop.node_type_ids):
        return None
    used = np.unique(pop.node_type_ids)
    cands = sorted(csvs, key=lambda c: c[0] != f"{pop.name}_node_types.csv")
    for fname, data, table in cands:
        if np.isin(used, table.index).all() and set(table.columns) <= set(pop.attributes):
            return fname, data, table
    return None


def _drop_typed(pop: NodesOut, table: pd.DataFrame) -> None:
    """Drop the attributes the types CSV gives for every node (the CSV holds them)."""
    typed = table.reindex(pop.node_type_ids)
    for col in table.columns:
        mine = pd.Series(pop.attributes[col].to_numpy(), dtype=object)
        theirs = pd.Series(typed[col].to_numpy(), dtype=object)
        same = (mine.isna() & theirs.isna()) | (mine.astype(str) == theirs.astype(str))
        num_m = pd.to_numeric(mine, errors="coerce")
        num_t = pd.to_numeric(theirs, errors="coerce")
        same |= num_m.notna() & (num_m == num_t)
        if same.all():
            pop.attributes = pop.attributes.drop(columns=[col])


# ------------------------------------------------------------------------------ the rest
def _spike_times(tab: pd.DataFrame, net: Network) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, times) of the VecStim cells' spike times (the ragged ``params.spkTimes``, or
    the cell type's ``spkTimes`` for cells without their own), or None when there are none.
    Vectorized over cells."""
    ctypes = tab["cell_type"].astype(str).to_numpy()
    vec = np.array([isinstance(net.cell_types.get(c), PointCell) and
                    net.cell_types[c].model == "VecStim" for c in pd.unique(ctypes)], bool)
    is_vec = vec[pd.Index(pd.unique(ctypes)).get_indexer(ctypes)] if len(ctypes) else vec
    col = net.cells.columns.get("params.spkTimes")
    rows_in_net = tab["_row"].to_numpy(np.int64)
    if isinstance(col, Ragged):
        start, stop = col.offsets[rows_in_net], col.offsets[rows_in_net + 1]
    else:
        start = stop = np.zeros(len(tab), np.int64)
    counts = np.where(is_vec, stop - start, 0)
    rows = [np.repeat(np.arange(len(tab)), counts)]
    take = np.repeat(start - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    times = [np.asarray(col.values, float)[take] if counts.sum() else np.zeros(0)]
    for ct in pd.unique(ctypes[is_vec & (counts == 0)]):
        own = np.asarray(net.cell_types[ct].params.get("spkTimes") or [], float).reshape(-1)
        sel = np.flatnonzero(is_vec & (counts == 0) & (ctypes == ct))
        rows.append(np.repeat(sel, own.size))
        times.append(np.tile(own, sel.size))
    rows_all, times_all = np.concatenate(rows), np.concatenate(times)
    if not rows_all.size:
        return None
    order = np.argsort(rows_all, kind="stable")
    return rows_all[order], times_all[order]


def _run_config_of(res: Any) -> RunConfig | None:
    """The RunConfig a stored run was made with (None when it does not parse)."""
    data = getattr(res, "run_config", None)
    if not data:
        return None
    try:
        return RunConfig.from_dict(data)
    except NethubError:
        return None


def _played_spikes(tab: pd.DataFrame, net: Network, played: Any
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, times) of the NetStim cells' spikes in the run ``played`` (vectorized)."""
    if played is None:
        return None
    kinds = {k: isinstance(v, PointCell) and v.model == "NetStim"
             for k, v in net.cell_types.items()}
    is_ns = tab["cell_type"].astype(str).map(kinds).fillna(False).to_numpy(dtype=bool)
    if not is_ns.any():
        return None
    gids = tab["gid"].to_numpy(np.int64)  # sorted (the cells are in gid order)
    sg = np.asarray(played.spike_gids, np.int64)
    st = np.asarray(played.spike_times, float)
    pos = np.minimum(np.searchsorted(gids, sg), len(gids) - 1)
    hit = (gids[pos] == sg) & is_ns[pos]
    return pos[hit], st[hit]


def _merge(*parts: tuple[np.ndarray, np.ndarray] | None
           ) -> tuple[np.ndarray, np.ndarray] | None:
    got = [p for p in parts if p is not None and len(p[0])]
    if not got:
        return None
    rows = np.concatenate([p[0] for p in got])
    times = np.concatenate([p[1] for p in got])
    order = np.lexsort((times, rows))
    return rows[order], times[order]


def _lost_columns(cells: pd.DataFrame, lost: list[str]) -> None:
    other = [c for c in cells.columns if c not in _HANDLED and not c.startswith("sonata.")
             and not c.startswith("params.") and c not in ("_sonata_pop", "_row")]
    if other:
        lost.append(f"cells columns {other} have no SONATA attribute and are not written")
    ragged = [c for c in cells.columns if c.startswith("params.") and c != "params.spkTimes"
              and cells[c].dtype == object]
    if ragged:
        lost.append(f"per-cell list parameters {ragged} are not written")


def _has_biophysical(node_files: list[NodeFileOut]) -> bool:
    for nf in node_files:
        for frame in [nf.types] + [p.attributes for p in nf.populations]:
            if "model_type" in frame and (frame["model_type"] == "biophysical").any():
                return True
    return False


def _components(net: Network, files: dict[str, bytes], lost: list[str],
                biophysical: bool) -> dict[str, str]:
    for name, text in net.mod_files.items():
        files[f"{MECHANISM_DIR}/modfiles/{name}"] = text.encode()
    for f in net.files_with_role("morphology"):
        files[f"{MORPHOLOGY_DIR}/{f.name.rsplit('/', 1)[-1]}"] = f.data
    for f in net.files_with_role("template"):
        files.setdefault(f"{TEMPLATE_DIR}/{f.name.rsplit('/', 1)[-1]}", f.data)
    for f in net.files_with_role("params"):  # e.g. an imported cell's dynamics_params JSON
        # keep sub-folders under biophysical_neuron_models/ (nml:nml/Cell_x.cell.nml)
        rel = f.name.split("biophysical_neuron_models/", 1)[1] \
            if f.name.startswith("biophysical_neuron_models/") else f.name.rsplit("/", 1)[-1]
        files.setdefault(f"{BIOPHYS_DIR}/{rel}", f.data)
    comps = {"point_neuron_models_dir": f"$BASE_DIR/{point_dir}",
             "synaptic_models_dir": f"$BASE_DIR/{synapse_dir}"}
    if net.mod_files:
        comps["mechanisms_dir"] = f"$BASE_DIR/{MECHANISM_DIR}"
        lost.append("mechanisms are written as .mod sources in "
                    f"{MECHANISM_DIR}/modfiles: compile them there (nrnivmodl modfiles) "
                    "before running BMTK")
    if any(k.startswith((MORPHOLOGY_DIR, BIOPHYS_DIR)) for k in files) or biophysical:
        # libsonata requires it of biophysical populations (the folder may stay empty: the
        # HOC templates build the geometry)
        comps["morphologies_dir"] = f"$BASE_DIR/{MORPHOLOGY_DIR}"
        comps["biophysical_neuron_models_dir"] = f"$BASE_DIR/{BIOPHYS_DIR}"
    if any(k.startswith(TEMPLATE_DIR) for k in files):
        comps["templates_dir"] = f"$BASE_DIR/{TEMPLATE_DIR}"
    return comps
