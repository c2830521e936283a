"""Connections -> SONATA edge populations, stimuli -> SONATA inputs (part of
:mod:`nethub.converters.sonata_export`).

One edge population per (source population, target population) pair, named by the connections'
``sonata.edge_population`` when they were imported from SONATA (rows in ``sonata.edge_id``
order), else ``<source>_to_<target>``. Per edge: ``syn_weight`` (the NetCon weight; no ``nsyns``
onto point targets, so BMTK takes it as it is), ``delay``; onto compartmental targets also
``afferent_section_id`` / ``afferent_section_pos`` and BMTK's ``sec_id`` / ``sec_x`` (the index
of the section in the cell type's section order, and the location) and ``nsyns = 1``;
``param.<name>`` columns as attributes ``<name>``. One edge type per synaptic mechanism
(``edge_type_id = 100 + position``), with ``model_template`` and a dynamics_params JSON of its
parameters. Vectorized: no Python loop per connection.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import CompartmentalCell
from nethub.converters.kit import Field, Translation
from nethub.network import Network

from .sonata_bio_syn import bmtk_json, json_name
from .sonata_export_model import EdgesOut

__all__ = ["edge_populations", "stim_inputs", "gid_lookup"]

#: Connections -> SONATA edge attributes (the kit reports, with counts, the columns that hold
#: values SONATA edges cannot express).
EDGES_OUT = Translation("connections", native_name="SONATA edges", row_name="connections",
                        fields=(
    Field("syn_weight", "weight", direction="out"),
    Field("delay", "delay", unit="ms", direction="out"),
    Field(None, "threshold", lost="per-connection spike threshold; not written"),
    Field(None, "pre_sec", lost="presynaptic section; not written"),
    Field(None, "pre_loc", lost="presynaptic location; not written"),
    Field(None, "plast", lost="plasticity; not written"),
    Field(None, "rule", lost="connection rule label; not written"),
    Field(None, "weight_index", dtype="int64", default=0,
          lost="NetCon weight index other than 0; not written"),
))
#: Edge type id of connections without a synaptic mechanism (onto artificial cells).
_NO_SYN = 99


def gid_lookup(gmap: pd.DataFrame, gids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(population, node_id) of each gid, vectorized (ValueError naming an unknown gid)."""
    rows, _ = _gid_rows(gmap, gids)
    return (gmap["population"].to_numpy(dtype=object)[rows],
            gmap["node_id"].to_numpy(np.int64)[rows])


def _gid_rows(gmap: pd.DataFrame, gids: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Rows of ``gmap`` for ``gids`` and the population names in order of first row."""
    g = gmap["gid"].to_numpy(np.int64)
    order = np.argsort(g, kind="stable")
    sorted_g = g[order]
    pos = np.minimum(np.searchsorted(sorted_g, gids), max(len(sorted_g) - 1, 0))
    bad = (sorted_g[pos] != gids) if len(sorted_g) else np.ones(len(gids), bool)
    if np.any(bad):
        raise ValueError(f"gid {int(np.asarray(gids)[bad][0])} is not a cell of the network")
    return order[pos], list(pd.unique(gmap["population"]))


def edge_populations(net: Network, cells: pd.DataFrame, gmap: pd.DataFrame,
                     files: dict[str, bytes], synapse_dir: str, lost: list[str]) -> list[EdgesOut]:
    """The edge populations of ``net.connections`` (:class:`EdgesOut` objects)."""
    conns = net.connections_df()
    if len(net.pointer_conns):
        lost.append(f"{len(net.pointer_conns)} pointer connections (gap junctions, graded "
                    "synapses) have no SONATA edge type and are not written")
    if not len(conns):
        return []
    _report_unexpressed(net, lost)
    pre_rows, pops = _gid_rows(gmap, conns["pre_gid"].to_numpy(np.int64))
    post_rows, _ = _gid_rows(gmap, conns["post_gid"].to_numpy(np.int64))
    pop_code = pd.Index(pops).get_indexer(gmap["population"].to_numpy(dtype=object))
    node_ids = gmap["node_id"].to_numpy(np.int64)
    src_code, tgt_code = pop_code[pre_rows], pop_code[post_rows]
    mechs = list(net.syn_mechs)
    etype = _edge_type_ids(conns, mechs)
    onto_point = _onto_point(net, cells, conns)
    if np.any(onto_point & (etype != _NO_SYN)):
        lost.append(f"{int(np.sum(onto_point & (etype != _NO_SYN)))} connections onto "
                    "artificial cells name a synaptic mechanism NEURON does not use there; "
                    "written without it")
    etype[onto_point] = _NO_SYN
    types = _edge_types(net, mechs, etype, files, synapse_dir, lost)
    name_code, names = _edge_name_codes(conns)
    sec_index = _section_index(net, cells, conns)
    n_pops = max(len(pops), 1)
    key = (name_code.astype(np.int64) + 1) * n_pops * n_pops + src_code * n_pops + tgt_code
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")  # groups in order of first appearance
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    group = rank[inverse.reshape(-1)]
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(len(uniq) + 1))
    out = []
    for g in _population_order(group, conns["post_gid"].to_numpy(), len(uniq)):
        idx = _edge_order(conns, order[bounds[g]:bounds[g + 1]])
        i0 = idx[0]
        src, tgt = pops[src_code[i0]], pops[tgt_code[i0]]
        name = names[name_code[i0]] if name_code[i0] >= 0 else f"{src}_to_{tgt}"
        attrs = _edge_attributes(conns, idx, sec_index, str(tgt), lost)
        used = np.unique(etype[idx])
        out.append(EdgesOut(str(name), str(src), str(tgt), node_ids[pre_rows[idx]],
                            node_ids[post_rows[idx]], etype[idx], attrs, types.loc[used]))
    _check_unique_names(out, lost)
    return out


def _population_order(group: np.ndarray, post: np.ndarray, n: int) -> list[int]:
    """Edge populations (group codes, numbered by first appearance) in the order their rows
    take within each target (the order the populations were read in: the store keeps it
    through its stable sort by target), ties by first appearance. Re-importing the export then
    gives the same connections order."""
    if n < 2:
        return list(range(n))
    step = (post[1:] == post[:-1]) & (group[1:] != group[:-1])
    pairs = set(zip(group[:-1][step].tolist(), group[1:][step].tolist(), strict=True)) \
        if np.any(step) else set()
    order: list[int] = []
    left = list(range(n))
    while left:
        free = [k for k in left if not any(b == k and a in left for a, b in pairs)]
        pick = free[0] if free else left[0]  # a cycle: keep first appearance
        order.append(pick)
        left.remove(pick)
    return order


def _report_unexpressed(net: Network, lost: list[str]) -> None:
    """What the connections hold that SONATA edges cannot (kit losses, with counts)."""
    cols = {k: v for k, v in net.connections.columns.items()
            if k in {f.canonical for f in EDGES_OUT.fields}}
    EDGES_OUT.to_native(cols, lost, report_extra=False)


def _edge_type_ids(conns: pd.DataFrame, mechs: list[str]) -> np.ndarray:
    codes = {m: 100 + i for i, m in enumerate(mechs)}
    syn = conns["syn_mech"].astype(object)
    return np.array([codes.get(m, _NO_SYN) if isinstance(m, str) else _NO_SYN
                     for m in syn.unique()], np.int64)[
        pd.Index(syn.unique()).get_indexer(syn)] if len(syn) else np.zeros(0, np.int64)


def _edge_types(net: Network, mechs: list[str], etype: np.ndarray, files: dict[str, bytes],
                synapse_dir: str, lost: list[str]) -> pd.DataFrame:
    rows = {}
    for i, name in enumerate(mechs):
        if not np.any(etype == 100 + i):
            continue
        sm = net.syn_mechs[name]
        params = {k: v for k, v in sm.params.items() if isinstance(v, (int, float, str))}
        if len(params) != len(sm.params):
            lost.append(f"synaptic mechanism {name}: non-scalar parameters not written")
        if sm.pointer is not None or sm.self_netcon is not None:
            lost.append(f"synaptic mechanism {name}: pointer/self-NetCon settings not written")
        template = sm.model
        if sm.model == "Exp2Syn":  # BMTK's exp2syn template and its spelling of the reversal
            params = {("erev" if k == "e" else k): v for k, v in params.items()}
            template = str((sm.provenance or {}).get("model_template") or "exp2syn")
        else:
            template, params = bmtk_json(sm, template, params)
        fname = json_name(sm, f"{name}.json", {f"{m}.json" for m in mechs}
                          | {k.rsplit("/", 1)[-1] for k in files})
        files[f"{synapse_dir}/{fname}"] = (json.dumps(params, indent=2, sort_keys=True)
                                           + "\n").encode()
        rows[100 + i] = {"model_template": template, "dynamics_params": fname}
    if np.any(etype == _NO_SYN):
        files[f"{synapse_dir}/point_synapse.json"] = b"{}\n"
        rows[_NO_SYN] = {"model_template": None, "dynamics_params": "point_synapse.json"}
    return pd.DataFrame.from_dict(rows, orient="index")


def _onto_point(net: Network, cells: pd.DataFrame, conns: pd.DataFrame) -> np.ndarray:
    """Per connection: whether its target is an artificial (point) cell."""
    kinds = {k: not isinstance(v, CompartmentalCell) for k, v in net.cell_types.items()}
    point = cells["cell_type"].astype(str).map(kinds).fillna(True).to_numpy(dtype=bool)
    gid_point = pd.Series(point, index=cells["gid"].to_numpy(np.int64), dtype=bool)
    return gid_point.reindex(conns["post_gid"].to_numpy(np.int64)).to_numpy(dtype=bool)


def _edge_name_codes(conns: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per connection: the code of its ``sonata.edge_population`` (-1: none) and the names."""
    col = conns.get("sonata.edge_population")
    if col is None:
        return np.full(len(conns), -1, np.int64), []
    codes, names = pd.factorize(col.astype(object), use_na_sentinel=True)
    return codes.astype(np.int64), [str(n) for n in names]


def _edge_order(conns: pd.DataFrame, idx: np.ndarray) -> np.ndarray:
    """Rows of one edge population in ``sonata.edge_id`` order when they all have one."""
    if "sonata.edge_id" not in conns:
        return idx
    ids = conns["sonata.edge_id"].to_numpy()[idx]
    if np.any(pd.isna(ids)) or np.any(ids < 0):
        return idx
    return idx[np.argsort(ids, kind="stable")]


def _section_index(net: Network, cells: pd.DataFrame, conns: pd.DataFrame) -> np.ndarray:
    """Per connection: the index of ``post_sec`` in its target cell type's sections (-1 for
    point targets or unknown sections). Vectorized over (cell type, section) pairs."""
    n = len(conns)
    out = np.full(n, -1, np.int64)
    if "post_sec" not in conns or not conns["post_sec"].notna().any():
        return out
    gid_type = pd.Series(cells["cell_type"].astype(str).to_numpy(),
                         index=cells["gid"].to_numpy(np.int64))
    ctype = gid_type.reindex(conns["post_gid"].to_numpy(np.int64)).to_numpy(dtype=object)
    sec = conns["post_sec"].astype(object).to_numpy()
    pairs = pd.DataFrame({"ct": ctype, "sec": sec})
    for (ct, s), idx in pairs.groupby(["ct", "sec"], sort=False).indices.items():
        cell = net.cell_types.get(str(ct))
        if isinstance(cell, CompartmentalCell) and s in cell.sections:
            out[idx] = list(cell.sections).index(s)
    return out


#: Edge attribute that keeps an imported edge id that is not the exported row's (the importer
#: reads it back as ``sonata.edge_id``).
KEPT_EDGE_ID = "nethub_edge_id"


def _edge_attributes(conns: pd.DataFrame, idx: np.ndarray, sec_index: np.ndarray, tgt: str,
                     lost: list[str]) -> pd.DataFrame:
    attrs = pd.DataFrame({"syn_weight": conns["weight"].to_numpy(float)[idx],
                          "delay": conns["delay"].to_numpy(float)[idx]})
    sec = sec_index[idx]
    if np.any(sec >= 0):
        loc = conns["post_loc"].to_numpy(float)[idx]
        loc = np.where(np.isnan(loc), 0.5, loc)
        if np.any(sec < 0):
            lost.append(f"edges onto {tgt}: {int((sec < 0).sum())} connections onto sections "
                        "the cell type does not define, written with section id -1")
        attrs["afferent_section_id"] = sec
        attrs["afferent_section_pos"] = loc
        attrs["sec_id"] = sec
        attrs["sec_x"] = loc
        attrs["nsyns"] = np.ones(len(idx), np.int64)
    kept = _kept_edge_ids(conns, idx)
    if kept is not None:
        attrs[KEPT_EDGE_ID] = kept
    for col in conns.columns:
        if col.startswith("param.") and "." not in col[len("param."):]:
            vals = pd.to_numeric(conns[col], errors="coerce").to_numpy(float)[idx]
            if not np.all(np.isnan(vals)):
                attrs[col[len("param."):]] = vals
    return attrs


def _kept_edge_ids(conns: pd.DataFrame, idx: np.ndarray) -> np.ndarray | None:
    """The imported edge ids of these rows when they are not the rows' positions (an edge
    with ``nsyns`` > 1 became several connections with one id; each is one exported edge)."""
    if "sonata.edge_id" not in conns:
        return None
    ids = pd.to_numeric(conns["sonata.edge_id"], errors="coerce").to_numpy(float)[idx]
    if np.any(np.isnan(ids)) or np.array_equal(ids, np.arange(len(idx))):
        return None
    return ids.astype(np.int64)


def _check_unique_names(edges: list[EdgesOut], lost: list[str]) -> None:
    seen: dict[str, int] = {}
    for e in edges:
        seen[e.name] = seen.get(e.name, 0) + 1
        if seen[e.name] > 1:
            new = f"{e.name}_{seen[e.name]}"
            lost.append(f"edge population {e.name!r} joins several population pairs; "
                        f"{e.source}->{e.target} written as {new!r}")
            e.name = new


# ------------------------------------------------------------------------------- inputs
def stim_inputs(net: Network, gmap: pd.DataFrame, node_sets: dict[str, Any],
                lost: list[str], files: dict[str, bytes] | None = None
                ) -> dict[str, dict[str, Any]]:
    """IClamp stimuli -> ``current_clamp`` inputs (one per source and population, with a
    node set of its targets); an IClamp whose amplitude is played every ``dt`` from t = 0
    (BMTK's CSV clamps) -> a ``csv`` input and ``inputs/<source>.csv`` in ``files``; other
    stimuli are reported."""
    st = net.stim_targets.to_pandas() if len(net.stim_targets) else None
    if st is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    pops, ids = gid_lookup(gmap, st["gid"].to_numpy(np.int64))
    st["_pop"], st["_id"] = pops, ids
    for src_name, rows in st.groupby(st["source"].astype(str), sort=False):
        src = net.stim_sources.get(src_name)
        if src is None or src.model != "IClamp":
            lost.append(f"stimulus {src_name!r} ({getattr(src, 'model', '?')}, "
                        f"{len(rows)} targets): no SONATA input type; not written")
            continue
        if any(str(k).startswith("play.") for k in src.params):  # SONATA file/libsonata clamps
            csv = csv_clamp(src.params)
            if csv is None or files is None:
                lost.append(f"stimulus {src_name!r} ({len(rows)} targets): a played "
                            "amplitude waveform BMTK's CSV clamp cannot express; not written")
                continue
            rel = f"inputs/{_file_safe(src_name)}.csv"
            files[rel] = csv
            lost.append(f"stimulus {src_name!r}: written as BMTK's csv clamp ({rel}); "
                        "libsonata has no file clamp: not in simulation_config_libsonata.json")
            for pop, sub in rows.groupby("_pop", sort=False):
                ns = f"{src_name}_{pop}"
                node_sets[ns] = {"population": str(pop),
                                 "node_id": sorted(int(i) for i in sub["_id"])}
                out[ns] = {"input_type": "csv", "module": "IClamp", "node_set": ns,
                           "file": f"$BASE_DIR/{rel}"}
            continue
        _check_clamp(src_name, rows, lost)
        p = src.params
        for pop, sub in rows.groupby("_pop", sort=False):
            ns = f"{src_name}_{pop}"
            node_sets[ns] = {"population": str(pop),
                             "node_id": sorted(int(i) for i in sub["_id"])}
            out[ns] = {"input_type": "current_clamp", "module": "IClamp", "node_set": ns,
                       "amp": float(p.get("amp", 0.0)),
                       "delay": float(p.get("del", p.get("delay", 0.0))),
                       "duration": float(p.get("dur", p.get("duration", 0.0)))}
    return out


def csv_clamp(params: dict[str, Any]) -> bytes | None:
    """BMTK's CSV clamp file (``timestamps amps``, space separated) that BMTK reads back into
    exactly this played IClamp (``play.amp`` every ``play.dt`` from 0, ``del`` 0, ``dur`` the
    last timestamp, ``+ dt`` when the last amplitude is not 0), or None when there is none."""
    keys = {k for k in params if str(k).startswith("play.")}
    amps, step = params.get("play.amp"), params.get("play.dt")
    if keys != {"play.amp", "play.dt"} or amps is None or len(amps) < 2 or not step or \
            float(params.get("del", 0.0)) != 0.0 or float(params.get("amp", 0.0)) != 0.0:
        return None
    times = np.arange(len(amps)) * float(step)
    stop = times[-1] + (float(step) if amps[-1] != 0 else 0.0)
    if float(params.get("dur", 0.0)) != stop or len(np.unique(np.diff(times))) > 1:
        return None
    lines = ["timestamps amps"] + [f"{t!r} {float(a)!r}" for t, a in zip(
        times.tolist(), amps, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "clamp"


def _check_clamp(name: str, rows: pd.DataFrame, lost: list[str]) -> None:
    per_target = [c for c in rows.columns if c.startswith("param.") and rows[c].notna().any()]
    if per_target:
        lost.append(f"stimulus {name!r}: per-target parameters {per_target} not written "
                    "(a SONATA current_clamp has one amplitude)")
    locs = rows["loc"].to_numpy(float) if "loc" in rows else np.full(len(rows), 0.5)
    if np.any(np.abs(np.nan_to_num(locs, nan=0.5) - 0.5) > 0):
        lost.append(f"stimulus {name!r}: locations other than 0.5 become the soma centre "
                    "(BMTK injects current_clamp at soma(0.5))")
