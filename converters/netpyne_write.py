"""Network + Results → NetPyNE saved output (part of :mod:`nethub.converters.netpyne`).

The dict written is what NetPyNE 1.1's ``sim.saveData`` writes and ``sim.load`` reads:
``net.cells`` with each cell's tags, sections (per-cell expression values filled in), sections
lists, connections and stimuli; ``net.pops``; ``net.params`` (the network's spec, or one made
from its model); ``simConfig``; ``simData`` of one run.

NetPyNE's loader looks up every compartmental cell's ``cellType`` tag in
``netParams.cellParams`` and re-evaluates the string expressions it finds there with the
cell's random stream; the values nethub writes into the sections are the same (nethub
evaluated them on the same streams), so a loaded network is the one nethub simulates.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from nethub.celltypes import CompartmentalCell, PointCell
from nethub.celltypes import jsonable as _plain
from nethub.network import DRAWS_COLUMN, ROTATION_COLUMN, ROTATION_COLUMNS, Network, param_column
from nethub.results import Results, select_run
from nethub.table import Categorical, Ragged
from nethub.version import __version__

from .kit import note_loss
from .netpyne_rules import pp_label, section_spec, type_rule
from .netpyne_tables import (
    CELL_TAGS,
    CONNS,
    NET_PARAM_DEFAULTS,
    NETPYNE_SEEDS,
    NETSTIM_CONNS,
    NETSTIM_DEFAULTS,
    POINTER_CONNS,
)
from .netpyne_types import rule_points

__all__ = ["from_network", "PT3D_FLAG", "RUN_NAME_FLAG", "RUN_NAME_KEY"]

#: Top-level ``data['nethub'][PT3D_FLAG] = True`` marks files whose sections' pt3d leave out the
#: points of the cellParams rules: NetPyNE's loader re-applies a loaded cell's rules and
#: *appends* their pt3d to the saved points (NetPyNE 1.1), so a file holding the full points
#: loads with every rule point twice. nethub's reader appends them back.
PT3D_FLAG = "pt3d_without_rule_points"
#: The run's name goes into ``simConfig['simLabel']`` (NetPyNE's "name of simulation"); the
#: top-level ``data['nethub'][RUN_NAME_FLAG]`` says what the run's own simConfig had there, so
#: the reader gives the simConfig back as it was: ``{'absent': True}`` (the key is removed),
#: ``{'was': None}`` / ``{'was': ''}`` (the empty label it held) or ``{'same': True}`` (the
#: label already was the name).
RUN_NAME_KEY = "simLabel"
RUN_NAME_FLAG = "run_name_in_simLabel"

#: builder-internal point-cell columns NetPyNE has no parameter for
_POINT_INTERNAL = ("params.noise_ids", "params.dynamicRates.intervals",
                   "params.dynamicRates.times")


# ---------------------------------------------------------------------------------- types
def _expression_paths(ct: CompartmentalCell) -> list[tuple[tuple, str]]:
    """(path in the secs dict, cells-table column) of every per-cell value of a type."""
    out = []
    for name, sec in ct.sections.items():
        for key, v in sec.geom.items():
            if isinstance(v, str):
                out.append(((name, "geom", key), param_column(name, "geom", key)))
        for mech, params in sec.mechs.items():
            for p, v in params.items():
                if isinstance(v, str):
                    out.append(((name, "mechs", mech, p), param_column(name, "mechs", mech, p)))
        for i, pp in enumerate(sec.point_processes):
            label = pp_label(pp, i)
            for p, v in pp.items():
                if isinstance(v, str) and p not in ("mod", "label", "vref"):
                    out.append(((name, "pointps", label, p),
                                param_column(name, "pointps", label, p)))
    return out


# ---------------------------------------------------------------------------------- writer
class _Writer:
    """Builds the saved-output dict of one network."""

    def __init__(self, net: Network, cfg: dict, lost: list[str]) -> None:
        self.net = net.canonical()
        self.cfg = cfg
        self.lost = lost
        cells = self.net.cells
        self.gids = np.asarray(cells["gid"]).tolist()
        self.pops = cells["pop"].values().tolist()  # type: ignore[union-attr]
        self.tnames = cells["cell_type"].values().tolist()  # type: ignore[union-attr]
        self.ctype_tag = (cells["cellType"].values().tolist() if isinstance(  # type: ignore
            cells["cellType"] if "cellType" in cells else None, Categorical) else None)
        self.seed = float((cfg.get("seeds") or {}).get("stim", NETPYNE_SEEDS["stim"]))
        self.labels: dict[str, list] = {}  # type name -> tags['label'] written
        self.positions = CELL_TAGS.to_native(cells, lost, records=True, report_extra=False)
        self.spec = self._spec()

    # ------------------------------------------------------------------ netParams
    def _spec(self) -> dict:
        net = self.net
        if net.spec and net.spec.get("netParams"):
            spec = copy.deepcopy(_plain(net.spec["netParams"]))
        else:
            spec = {"popParams": {}, "cellParams": {}, "synMechParams": {}, "connParams": {},
                    "stimSourceParams": {}, "stimTargetParams": {}}
            self.lost.append("netParams: the network has no NetPyNE spec; net['params'] is "
                             "made from its model (connParams and stimTargetParams empty: the "
                             "instance is in net['cells'])")
        for k, default in NET_PARAM_DEFAULTS.items():
            if net.params.get(k, default) != spec.get(k, default):
                spec[k] = _plain(net.params[k])
        syn = spec.setdefault("synMechParams", {})
        for name, m in net.syn_mechs.items():
            if name not in syn:
                entry = {"mod": m.model, **_plain(m.params)}
                for key, value in (("selfNetCon", m.self_netcon), ("loc", m.loc)):
                    if value is not None:
                        entry[key] = _plain(value)
                if m.pointer is not None:
                    entry["pointerParams"] = _plain(m.pointer)
                syn[name] = entry
        src = spec.setdefault("stimSourceParams", {})
        for name, s in net.stim_sources.items():
            src.setdefault(name, {"type": s.model, **_plain(s.params)})
        pops = spec.setdefault("popParams", {})
        for name, p in net.populations.items():
            if name not in pops:
                pops[name] = _plain(p.tags) or {"numCells": p.size}
                ct = net.cell_types.get(p.cell_type)
                if isinstance(ct, PointCell) and "cellModel" not in pops[name]:
                    pops[name].update(cellModel=ct.model, params=_plain(ct.params))
        if net.rxd and not spec.get("rxdParams"):
            spec["rxdParams"] = _plain(net.rxd)
        return spec

    def _cell_type_tag(self, row: int) -> str:
        """The cellType tag of a compartmental cell; its rule must exist in cellParams."""
        name = self.tnames[row]
        tag = self.ctype_tag[row] if self.ctype_tag is not None else None
        tag = tag or name
        cp = self.spec.setdefault("cellParams", {})
        if tag not in cp:
            cp[tag] = type_rule(self.net.cell_types[name], saved=True)
            if self.net.spec and self.net.spec.get("netParams"):
                self.lost.append(f"netParams cellParams['{tag}']: added (NetPyNE's loader looks "
                                 "up each cell's cellType there)")
        return tag

    # ------------------------------------------------------------------ cells
    def cells(self) -> list[dict]:
        net = self.net
        tag_cols, point_cols, dropped = self._columns()
        for name in dropped:
            self.lost.append(f"cells column '{name}': NetPyNE cells have no place for it")
        conns = _Grouped(net.connections, "post_gid", self.gids,
                         CONNS.to_native(net.connections, self.lost, records=True))
        stims = _Grouped(net.stim_targets, "gid", self.gids, NETSTIM_CONNS.to_native(
            net.stim_targets, self.lost, records=True, report_extra=False), columns=True)
        ptrs = _Grouped(net.pointer_conns, "post_gid", self.gids,
                        POINTER_CONNS.to_native(net.pointer_conns, self.lost, records=True))
        secs_of = {n: {s: section_spec(sec, saved=True) for s, sec in ct.sections.items()}
                   for n, ct in net.cell_types.items() if isinstance(ct, CompartmentalCell)}
        for ct in net.cell_types.values():
            if isinstance(ct, CompartmentalCell) and any(s.syn_mechs for s in
                                                         ct.sections.values()):
                self.lost.append(f"cell type '{ct.name}': section synMechs (NetPyNE's saved "
                                 "synMechs are the synapses of connections)")
        out = []
        for row, gid in enumerate(self.gids):
            ct = net.cell_types[self.tnames[row]]
            cell: dict[str, Any] = {"gid": int(gid), "tags": self._tags(row, ct, tag_cols)}
            if isinstance(ct, PointCell):
                cell["params"] = self._point_params(row, ct, point_cols)
            else:
                cell["secs"] = self._secs(row, ct, secs_of[ct.name], cell["tags"])
                cell["secLists"] = _plain(ct.section_lists)
            netstim_conns, cell["stims"] = self._stims(stims.rows(row), stims.records(row))
            cell["conns"] = conns.records(row) + ptrs.records(row) + netstim_conns
            out.append(cell)
        return out

    def _columns(self) -> tuple[list[str], list[str], list[str]]:
        """(tag columns, point-cell parameter columns, columns that cannot be written)."""
        tags, point, dropped = [], [], []
        for name in self.net.cells.extra_columns:
            col = self.net.cells[name]
            if name.startswith("param.secs.") or name in (DRAWS_COLUMN, ROTATION_COLUMN) \
                    or name in _POINT_INTERNAL:
                continue
            if name.startswith("params."):
                point.append(name)
            elif isinstance(col, Categorical) or (isinstance(col, np.ndarray)
                                                  and col.dtype.kind in "biuf"):
                tags.append(name)
            else:
                dropped.append(name)
        return tags, point, dropped

    def _tags(self, row: int, ct: Any, tag_cols: list[str]) -> dict:
        cells = self.net.cells
        tags: dict[str, Any] = {"pop": self.pops[row]}
        for name in tag_cols:
            v = cells[name]
            val = v.categories[v.codes[row]] if isinstance(v, Categorical) and v.codes[row] >= 0 \
                else None if isinstance(v, Categorical) else _plain(v[row])
            if val is not None and not (isinstance(val, float) and math.isnan(val)):
                tags[name] = val
        if isinstance(ct, PointCell):
            tags["cellModel"] = ct.model
        else:
            tags["cellType"] = self._cell_type_tag(row)
            rules = ct.provenance.get("rules") if ct.provenance.get(
                "source") == "netpyne cellParams" else None
            tags["label"] = list(rules) if rules else [tags["cellType"]]
            self.labels.setdefault(ct.name, tags["label"])
        tags.update(self.positions[row])
        return tags

    def _secs(self, row: int, ct: CompartmentalCell, base: dict, tags: dict) -> dict:
        cells = self.net.cells
        paths = _expression_paths(ct)
        angle = float(cells[ROTATION_COLUMN][row]) if ROTATION_COLUMN in cells else math.nan
        appended = rule_points(self.spec.get("cellParams") or {}, tags, self.gids[row])
        if not paths and math.isnan(angle) and not appended:
            return base
        secs = copy.deepcopy(base)
        for path, column in paths:
            if column not in cells:
                continue
            col = cells[column]
            value = col.row(row).tolist() if isinstance(col, Ragged) else float(col[row])
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            if value == [] or (isinstance(value, float) and math.isnan(value)):
                continue
            target = secs[path[0]]
            for key in path[1:-1]:
                target = target[key]
            target[path[-1]] = int(value) if path[-1] == "nseg" else value
        if not math.isnan(angle):
            _rotate(secs, angle)
        for name, pts in appended.items():
            self._leave_out(secs, name, pts, ct.name)
        return secs

    def _leave_out(self, secs: dict, name: str, pts: list, type_name: str) -> None:
        """Write a section's pt3d without the points NetPyNE's loader appends from the rules,
        so that it loads the right geometry (see ``PT3D_FLAG``)."""
        have = (secs.get(name) or {}).get("geom", {}).get("pt3d") or []
        k = len(have) - len(pts)
        if k >= 0 and np.array_equal(np.asarray(have[k:], dtype=float),
                                     np.asarray(pts, dtype=float)):
            secs[name]["geom"]["pt3d"] = have[:k]
        else:
            self._lose(f"cell type '{type_name}' section '{name}': NetPyNE's loader appends the "
                       "cellParams rules' pt3d to the saved points, which do not end with them; "
                       "the geometry differs when NetPyNE loads the file")

    def _point_params(self, row: int, ct: PointCell, point_cols: list[str]) -> dict:
        params = _plain(ct.params)
        for name in point_cols:
            col = self.net.cells[name]
            key = name[len("params."):]
            if isinstance(col, Ragged):
                params[key] = col.row(row).tolist()
            elif not math.isnan(float(col[row])):
                params[key] = float(col[row])
        return params

    # ------------------------------------------------------------------ conns, stims
    def _stims(self, rows: dict[str, list], netstim_conns: list[dict]
               ) -> tuple[list[dict], list[dict]]:
        conns, stims = [], []
        per_row = [k for k in rows if k.startswith("param.")]
        for i in range(len(rows.get("source", []))):
            src = self.net.stim_sources[rows["source"][i]]
            params = _plain(src.params)
            params.update({k[len("param."):]: rows[k][i] for k in per_row
                           if not math.isnan(rows[k][i])})
            where = f"stim source '{src.name}'"
            if src.model == "NetStim":
                stims.append(self._netstim(params, src.name, where))
                conns.append(netstim_conns[i])
                continue
            stim = {"source": src.name, "type": src.model, "sec": rows["sec"][i],
                    "loc": rows["loc"][i]}
            if rows["rule"][i] is not None:
                stim["label"] = rows["rule"][i]
            stim.update(self._numeric(params, where))
            stims.append(stim)
        return conns, stims

    def _netstim(self, params: dict, source: str, where: str) -> dict:
        stim = {"source": source, "type": "NetStim"}
        if isinstance(params.get("interval"), (int, float)):
            stim["interval"] = params["interval"]
            if not isinstance(params.get("rate"), (int, float)):
                params["rate"] = 1000.0 / params["interval"]
        for key, default in (("rate", None), *NETSTIM_DEFAULTS.items(), ("seed", self.seed)):
            value = params.get(key, default)
            if isinstance(value, (int, float)):
                stim[key] = value
            elif value is not None or key == "rate":
                self._lose(f"{where}: '{key}' = {value!r} has no per-cell value; NetPyNE "
                           "needs a number")
        return stim

    def _numeric(self, params: dict, where: str) -> dict:
        out = {}
        for key, value in params.items():
            if isinstance(value, str):
                self._lose(f"{where}: '{key}' = {value!r} has no per-cell value; not written")
            else:
                out[key] = value
        return out

    def _lose(self, note: str) -> None:
        if note not in self.lost:
            self.lost.append(note)

    # ------------------------------------------------------------------ pops
    def pops_dict(self) -> dict:
        out: dict[str, dict] = {}
        for name in dict.fromkeys([*self.net.populations, *self.pops]):
            if name is None:
                continue
            p = self.net.populations.get(name)
            tags = {**_plain(p.tags if p else {}), "pop": name}
            gids = [g for g, q in zip(self.gids, self.pops) if q == name]
            out[name] = {"tags": tags, "cellGids": gids}
        return out


class _Grouped:
    """Rows of a table sorted by a gid column, as per-gid dicts of column lists (or slices of
    the rows' native records)."""

    def __init__(self, table, key: str, gids: list[int], records: list[dict] | None = None,
                 columns: bool = False) -> None:
        self.recs = records
        self.cols = {} if records is not None and not columns else {
            k: (v.values().tolist() if isinstance(v, Categorical) else np.asarray(v).tolist())
            for k, v in table.columns.items() if not isinstance(v, Ragged)}
        keys = np.asarray(table[key])
        g = np.asarray(gids, dtype=np.int64)
        self.lo = np.searchsorted(keys, g, side="left").tolist()
        self.hi = np.searchsorted(keys, g, side="right").tolist()

    def records(self, row: int) -> list[dict]:
        return self.recs[self.lo[row]:self.hi[row]]  # type: ignore[index]

    def rows(self, row: int) -> dict[str, list]:
        a, b = self.lo[row], self.hi[row]
        return {k: v[a:b] for k, v in self.cols.items()}


def _rotate(secs: dict, angle: float) -> None:
    """NetPyNE's rotation about the y axis of every section's pt3d."""
    c, s = math.cos(angle), math.sin(angle)
    for sec in secs.values():
        pts = sec["geom"].get("pt3d")
        if pts:
            sec["geom"]["pt3d"] = [[x * c - z * s, y, x * s + z * c, d] for x, y, z, d in pts]


# ---------------------------------------------------------------------------------- results
def _sim_data(res: Results, cfg: dict, lost: list[str]) -> dict:
    out: dict[str, Any] = {"spkt": res.spike_times.tolist(),
                           "spkid": res.spike_gids.astype(np.float64).tolist()}
    tr = res.traces
    if len(tr):
        specs = cfg.get("recordTraces") or {}
        labels = tr.index["label"].values().tolist()  # type: ignore[union-attr]
        gids = np.asarray(tr.index["gid"]).tolist()
        for i, (label, gid) in enumerate(zip(labels, gids)):
            cell = f"cell_{gid}"
            if cell in out.setdefault(label, {}):
                lost.append(f"trace '{label}' of gid {gid}: recorded twice, the first is kept")
                continue
            out[label][cell] = tr.data[i].tolist()
        missing = sorted(set(labels) - set(specs))
        if missing:
            lost.append(f"traces {missing}: what they record (sec, loc, var) is not in "
                        "simConfig['recordTraces']")
    if len(tr.time):
        out["t"] = tr.time.tolist()
    for key in ("avgRate", "popRates"):
        if key in res.meta:
            out[key] = _plain(res.meta[key])
    if res.lfp is not None:
        out["LFP"] = res.lfp.tolist()
        if not isinstance(cfg.get("recordLFP"), list):
            lost.append("LFP electrode positions: NetPyNE keeps them in "
                        "simConfig['recordLFP'], which this run's simConfig lacks")
    return out


def from_network(net: Network | None, results: list[Results], run: int | str = -1
                 ) -> tuple[dict, list[str]]:
    """See :func:`nethub.converters.netpyne.from_network`."""
    lost: list[str] = []
    res = select_run(results, run, "the document") if results else None
    if len(results) > 1:
        lost.append(f"{len(results) - 1} other run(s): a NetPyNE file holds one run")
    if res is not None:
        cfg = _plain(res.sim_config)
        lost.append("run metadata (software versions, timing, ranks, network hash): no place "
                    "in NetPyNE's simData")
        spec_cfg = (net.spec or {}).get("simConfig") if net is not None else None
        if spec_cfg and _plain(spec_cfg) != cfg:
            lost.append("the spec's simConfig: NetPyNE files hold one simConfig, the run's "
                        "(with the simulator's defaults filled in) is written")
    else:
        cfg = _plain((net.spec or {}).get("simConfig") or {}) if net is not None else {}
    data: dict[str, Any] = {}
    if net is not None:
        w = _Writer(net, cfg, lost)
        cells = w.cells()
        data["net"] = {"cells": cells, "pops": w.pops_dict(), "params": w.spec}
        _network_notes(net, lost)
        renamed = sorted(n for n, lab in w.labels.items() if "+".join(lab) != n)
        if renamed:
            lost.append(f"cell type names {renamed}: NetPyNE names a cell's type by its "
                        "cellParams rules (tags['label'])")
    marker: dict[str, Any] = {"version": __version__, PT3D_FLAG: True}
    data["simConfig"] = cfg
    if res is not None:
        data["simData"] = _sim_data(res, cfg, lost)
        data["simConfig"] = _named_config(res, cfg, marker, lost)
    data["nethub"] = marker
    return data, lost


def _named_config(res: Results, cfg: dict, marker: dict, lost: list[str]) -> dict:
    """``cfg`` with the run's name as ``simLabel`` (and ``marker`` saying what was there), or
    as it is when the run has no name or its simConfig names it otherwise (reported)."""
    if res.name is None:
        return cfg
    label = cfg.get(RUN_NAME_KEY)
    if label == res.name:
        marker[RUN_NAME_FLAG] = {"same": True}
        return cfg
    if label not in (None, ""):
        lost.append(f"run name {res.name!r}: not kept (simConfig['{RUN_NAME_KEY}'], NetPyNE's "
                    f"name of the run, holds {label!r})")
        return cfg
    marker[RUN_NAME_FLAG] = {"was": label} if RUN_NAME_KEY in cfg else {"absent": True}
    return {**cfg, RUN_NAME_KEY: res.name}


def _network_notes(net: Network, lost: list[str]) -> None:
    _v2_notes(net, lost)
    if net.mod_files:
        lost.append(f"{len(net.mod_files)} .mod file(s) ({', '.join(sorted(net.mod_files))}): "
                    "NetPyNE files hold no NMODL sources")
    if net.provenance:
        lost.append("provenance of the network")
    if len(net.pointer_conns):
        lost.append(f"{len(net.pointer_conns)} pointer connection(s) (gap junctions, graded "
                    "synapses) are written, but NetPyNE 1.1's loader does not re-create them")
    point_types = [n for n, ct in net.cell_types.items() if isinstance(ct, PointCell)]
    if point_types and len(net.connections):
        ct: Categorical = net.cells["cell_type"]  # type: ignore[assignment]
        point_gids = np.asarray(net.cells["gid"])[np.isin(ct.codes, [ct.code_of(n) for n in
                                                                     point_types])]
        n = int(np.isin(np.asarray(net.connections["post_gid"]), point_gids).sum())
        if n:
            lost.append(f"{n} connection(s) onto point cells are written, but NetPyNE 1.1's "
                        "loader does not re-create them (PointCell has no addConnsNEURONObj)")
    if "weight_index" in net.connections and np.any(np.asarray(net.connections["weight_index"])):
        lost.append("connections onto point processes with a weight index > 0: written as "
                    "'weightIndex', but NetPyNE 1.1's loader sets weight[0]")


def _v2_notes(net: Network, lost: list[str]) -> None:
    """What NetPyNE files have no place for among store schema v2's additions (embedded files,
    tags and provenance of synaptic mechanisms and stimulation sources, the rotation about y
    as a column)."""
    for ef in net.files.values():
        lost.append(f"embedded file '{ef.name}' ({ef.role}): not carried by NetPyNE files")
    for what, docs in (("synaptic mechanism", net.syn_mechs),
                       ("stimulation source", net.stim_sources)):
        for name, doc in docs.items():
            fields = [f for f in ("tags", "provenance") if getattr(doc, f)]
            if fields:
                lost.append(f"{what} '{name}': {' and '.join(fields)} not carried by NetPyNE "
                            "files")
    for name in ROTATION_COLUMNS:
        if name not in net.cells:
            continue
        n = int((~np.isnan(np.asarray(net.cells[name], dtype=float))).sum())
        what = ("dropped; the saved pt3d are rotated by it" if name == ROTATION_COLUMN else
                "kept as a cell tag, which NetPyNE's loader does not apply to the cell's pt3d")
        note_loss(lost, f"cells column '{name}'", n, what, "cells")
