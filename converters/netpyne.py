"""NetPyNE saved output ↔ the canonical :class:`~nethub.network.Network` and
:class:`~nethub.results.Results`, keeping NetPyNE's gids.

Reading is here, writing in :mod:`.netpyne_write`; connection keys are the translation tables of
:mod:`.netpyne_tables`. The layout, how cell types, connections, stimuli and results are mapped
and what is lost: ``docs/formats.md`` ("NetPyNE saved output").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np

from nethub.celltypes import CompartmentalCell, Population, StimSource, SynMech
from nethub.celltypes import jsonable as _plain
from nethub.errors import FormatError, SpecError
from nethub.network import CELL_COLUMNS, STIM_COLUMNS, Network
from nethub.results import TRACE_COLUMNS, Results, Traces, trace_index
from nethub.specrules import spec_rules
from nethub.table import Categorical, Ragged, Table

from . import netpyne_write
from .kit import Translation, count_unknown, note_loss
from .netpyne_tables import (
    CELL_TAGS,
    CONN_KEYS,
    CONNS,
    NET_PARAM_DEFAULTS,
    NETPYNE_SEEDS,
    NETSTIM_CONNS,
    NETSTIM_DEFAULTS,
    POINTER_CONNS,
)
from .netpyne_types import (
    StimRules,
    TypeBuilder,
    point_columns,
    resolve_expressions,
    rule_points,
)

__all__ = ["to_network", "from_network", "NET_PARAM_DEFAULTS", "NETSTIM_DEFAULTS"]

logger = logging.getLogger(__name__)

#: cell tags that are not copied into tag columns of the cells table
_TAG_SKIP = frozenset({"pop", *CELL_TAGS.known, "label", "params"})
_STIM_META = frozenset({"source", "type", "label", "sec", "loc", "hObj", "hRandom"})
_POINT_MODELS = frozenset({"NetStim", "VecStim", "IntFire1", "IntFire2", "IntFire4",
                           "DynamicNetStim", "PatternStim"})


# ---------------------------------------------------------------------------------- checks
def _bad(where: str, message: str) -> FormatError:
    return FormatError(f"{where}: {message}")


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, Mapping):
        raise _bad(where, f"expected a dict, got {type(value).__name__}")
    return dict(value)


def _list(value: Any, where: str) -> list:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if not isinstance(value, (list, tuple)):
        raise _bad(where, f"expected a list, got {type(value).__name__}")
    return list(value)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (Number, np.number)):
        raise _bad(where, f"expected a number, got {value!r}")
    return float(value)


def _gid(value: Any, where: str) -> int:
    v = _num(value, where)
    if not v.is_integer():
        raise _bad(where, f"expected an integer gid, got {value!r}")
    return int(v)




# ---------------------------------------------------------------------------------- reading
class _Cell:
    """One entry of ``net['cells']``, checked."""

    __slots__ = ("gid", "tags", "secs", "sec_lists", "conns", "stims", "params", "where")

    def __init__(self, raw: Any, where: str, conn_format: list | None) -> None:
        raw = _dict(raw, where)
        if "gid" not in raw:
            raise _bad(where, "missing 'gid'")
        self.where = where
        self.gid = _gid(raw["gid"], f"{where}['gid']")
        self.tags = _dict(raw.get("tags", {}), f"{where}['tags']")
        secs = raw.get("secs")
        self.secs = _dict(secs, f"{where}['secs']") if secs else None
        self.sec_lists = _dict(raw.get("secLists") or {}, f"{where}['secLists']")
        self.conns = [self._conn(c, f"{where}['conns'][{i}]", conn_format)
                      for i, c in enumerate(_list(raw.get("conns", []), f"{where}['conns']"))]
        self.stims = [_dict(s, f"{where}['stims'][{i}]")
                      for i, s in enumerate(_list(raw.get("stims", []), f"{where}['stims']"))]
        params = raw.get("params", self.tags.get("params"))
        self.params = _dict(params, f"{where}['params']") if params is not None else None

    @staticmethod
    def _conn(conn: Any, where: str, conn_format: list | None) -> dict:
        if isinstance(conn, (list, tuple)) and conn_format:
            if len(conn) != len(conn_format):
                raise _bad(where, f"{len(conn)} values for compactConnFormat {conn_format}")
            conn = dict(zip(conn_format, conn))
        conn = _dict(conn, where)
        if "preGid" not in conn:
            raise _bad(where, "missing 'preGid'")
        return conn

    @property
    def model(self) -> str | None:
        model = self.tags.get("cellModel")
        if model in _POINT_MODELS or (self.secs is None and self.params is not None and model):
            return str(model)
        return None


def to_network(data: Any, results: bool = True, mod_files: dict[str, str] | None = None
               ) -> tuple[Network | None, list[Results], list[str]]:
    """Map a NetPyNE saved-output dict to a network and its run.

    Parameters
    ----------
    data : dict
        What ``sim.saveData`` wrote (any subset of ``net``, ``simConfig``, ``simData``).
    results : bool
        Whether to read ``simData`` too.
    mod_files : dict of str to str, optional
        NMODL sources the model needs (NetPyNE files carry none).

    Returns
    -------
    network : Network or None
        None when the file holds neither ``net['cells']`` nor ``net['params']``.
    runs : list of Results
        The run in ``simData`` (empty without it, or when ``results`` is False).
    lost : list of str
        What could not be carried over.

    Raises
    ------
    FormatError
        The layout is not NetPyNE's; the message names the key path.
    """
    data = _dict(data, "the top level")
    lost: list[str] = []
    net_part = _dict(data["net"], "net") if data.get("net") is not None else {}
    net_params = _plain(_dict(net_part["params"], "net['params']")) if net_part.get(
        "params") is not None else None
    cfg = _plain(_dict(data.get("simConfig") or {}, "simConfig"))
    cfg, run_name = _run_name(cfg, data)
    network = None
    if net_part.get("cells") is not None:
        marker = data["nethub"] if isinstance(data.get("nethub"), Mapping) else {}
        network = _network_from_cells(net_part, net_params, cfg, lost, marker)
    elif net_params is not None:
        network = _network_from_spec(net_params, cfg, lost)
    elif cfg:
        lost.append("simConfig: the file holds no network to keep it with")
    if network is not None and mod_files:
        network.mod_files = dict(mod_files)
    runs = []
    if results and data.get("simData") is not None:
        runs.append(_results(data, cfg, network, lost))
        if run_name is not None:
            runs[0].name = run_name
    known = {"net", "simConfig", "simData", "netpyne_version", "netpyne_changeset",
             "netParams_version", "nethub"}
    lost += [f"top-level entry '{k}' (not NetPyNE output nethub knows)" for k in data
             if k not in known]
    return network, runs, lost


def _network_from_spec(net_params: dict, cfg: dict, lost: list[str]) -> Network:
    """A file with netParams but no cells: build the network as NetPyNE would."""
    lost.append("net['cells']: not in the file; the network was built from net['params'] by "
                "nethub.build")
    try:
        return spec_rules().build(net_params, cfg)
    except SpecError as exc:
        raise _bad("net['params']", str(exc)) from exc


def _append_rule_points(cells: list[_Cell], cell_params: dict) -> None:
    """Undo what nethub's writer does for NetPyNE's loader (see ``netpyne_write.PT3D_FLAG``)."""
    for c in cells:
        for name, pts in rule_points(cell_params, c.tags, c.gid).items():
            sec = (c.secs or {}).get(name)
            if isinstance(sec, Mapping) and isinstance(sec.get("geom"), Mapping):
                geom = dict(sec["geom"])
                geom["pt3d"] = _plain(geom.get("pt3d") or []) + pts
                c.secs[name] = {**sec, "geom": geom}


def _pops_in_gid_order(net_params: dict, table: Table) -> dict:
    """netParams with popParams in the order of the populations' gids. NetPyNE numbers cells
    in popParams order, but its JSON writer sorts the keys (its loader re-sorts ``pops`` by
    gid for the same reason), so a network rebuilt from the spec gets the file's gids."""
    pops = net_params.get("popParams")
    if not isinstance(pops, dict):
        return net_params
    seen = list(dict.fromkeys(table["pop"].values().tolist()))  # type: ignore[union-attr]
    rank = {name: i for i, name in enumerate(seen)}
    keys = sorted(pops, key=lambda k: (rank.get(k, len(rank)), list(pops).index(k)))
    return {**net_params, "popParams": {k: pops[k] for k in keys}}


def _network_from_cells(net_part: dict, net_params: dict | None, cfg: dict, lost: list[str],
                        marker: dict) -> Network:
    fmt = cfg.get("compactConnFormat")
    conn_format = list(fmt) if isinstance(fmt, (list, tuple)) else None
    raw = _list(net_part["cells"], "net['cells']")
    cells = [_Cell(c, f"net['cells'][{i}]", conn_format) for i, c in enumerate(raw)]
    cells.sort(key=lambda c: c.gid)
    if (net_params or {}).get("cellParams") and marker.get(netpyne_write.PT3D_FLAG):
        _append_rule_points(cells, net_params["cellParams"])
    gids = np.array([c.gid for c in cells], dtype=np.int64)
    if len(gids) > 1 and np.any(gids[1:] == gids[:-1]):
        dup = int(gids[1:][gids[1:] == gids[:-1]][0])
        raise _bad("net['cells']", f"gid {dup} appears more than once")
    pops_raw = _dict(net_part.get("pops") or {}, "net['pops']")
    table = _cells_table(cells, pops_raw)
    if net_params is not None:
        net_params = _pops_in_gid_order(net_params, table)
    spec = net_params or {}
    builder = TypeBuilder(spec, lost)
    ct_names = [builder.type_of(c) for c in cells]
    types = builder.types
    table["cell_type"] = Categorical.from_values(ct_names)
    resolve_expressions(table, builder, spec, cfg)
    if any(c.model for c in cells) and not point_columns(table, builder, spec, cfg):
        _saved_point_params(cells, table, lost)
    syn_mechs = _syn_mechs(spec, cells)
    sources = _stim_sources(spec, cells)
    conns, pointers = _connections(cells, gids, types, ct_names, lost)
    stims = _stim_targets(cells, table, spec, cfg, sources, lost)
    return Network(
        cell_types=types, syn_mechs=syn_mechs, populations=_populations(pops_raw, table, spec),
        stim_sources=sources, cells=table, connections=conns, pointer_conns=pointers,
        stim_targets=stims,
        spec={"netParams": net_params, "simConfig": cfg} if net_params is not None or cfg
        else None,
        params={k: spec.get(k, v) for k, v in NET_PARAM_DEFAULTS.items()},
        provenance={"creator": "nethub.converters.netpyne", "source": "netpyne saved output",
                    "seeds": {**NETPYNE_SEEDS, **(cfg.get("seeds") or {})}},
        rxd=spec.get("rxdParams") or None,
    )


# ---------------------------------------------------------------------------------- cells
def _cells_table(cells: list[_Cell], pops_raw: dict) -> Table:
    n = len(cells)
    pops = [str(c.tags.get("pop", "")) or None for c in cells]
    cols: dict[str, Any] = {"gid": np.array([c.gid for c in cells], dtype=np.int64),
                            "pop": Categorical.from_values(pops)}
    cols.update(CELL_TAGS.to_canonical([c.tags for c in cells], [], report_unknown=False,
                                       where=[f"{c.where}['tags']" for c in cells]))
    cols["source_format"] = Categorical.constant("netpyne", n)
    cols["source_pop"] = Categorical.from_values(pops)
    cols["source_id"] = _source_ids(cells, pops, pops_raw)
    keys = dict.fromkeys(k for c in cells for k in c.tags if k not in _TAG_SKIP)
    for key in keys:
        col = _value_column([c.tags.get(key) for c in cells])
        if col is not None:
            cols[key] = col
    return Table(cols, CELL_COLUMNS, n=n)


def _saved_point_params(cells: list[_Cell], table: Table, lost: list[str]) -> None:
    """Point cells' parameters as saved (numbers; lists of numbers such as ``spkTimes``), when
    the spec cannot give them: ``params.<name>`` columns."""
    keys = dict.fromkeys(k for c in cells if c.model for k in (c.params or {}))
    for key in keys:
        col = _value_column([(c.params or {}).get(key) if c.model else None for c in cells],
                            numeric=True)
        if col is not None:
            table[f"params.{key}"] = col
        else:
            lost.append(f"point cell parameter '{key}': not a number or list of numbers on "
                        "every cell (e.g. an unevaluated expression); the type's value is used")
    if any(c.model == "VecStim" and "spkTimes" not in (c.params or {}) for c in cells):
        lost.append("VecStim cells without saved spkTimes and without popParams to make them "
                    "from: they get no spikes")


def _source_ids(cells: list[_Cell], pops: list, pops_raw: dict) -> np.ndarray:
    """Each cell's index in its population (``cellGids`` order, else gid order)."""
    index: dict[int, int] = {}
    for label, pop in pops_raw.items():
        gids = _dict(pop, f"net['pops']['{label}']").get("cellGids") or []
        for i, g in enumerate(_list(gids, f"net['pops']['{label}']['cellGids']")):
            index[_gid(g, f"net['pops']['{label}']['cellGids'][{i}]")] = i
    counters: dict[Any, int] = {}
    out = np.empty(len(cells), dtype=np.int64)
    for i, (c, p) in enumerate(zip(cells, pops)):
        k = counters.get(p, 0)
        counters[p] = k + 1
        out[i] = index.get(c.gid, k)
    return out


def _value_column(values: list, numeric: bool = False) -> Any:
    """A column for per-cell values: strings → categorical, numbers → float64 (int64 when all
    are integers), lists of numbers → ragged; None when the values mix kinds."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if not numeric and all(isinstance(v, str) for v in present):
        return Categorical.from_values([None if v is None else str(v) for v in values])
    if all(isinstance(v, (Number, np.number)) and not isinstance(v, bool) for v in present):
        if len(present) == len(values) and all(float(v).is_integer() and isinstance(
                v, (int, np.integer)) for v in present):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if v is None else float(v) for v in values])
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in present):
        try:
            return Ragged.from_lists([[float(x) for x in (v if v is not None else [])]
                                      for v in values])
        except (TypeError, ValueError):
            return None
    return None


# ---------------------------------------------------------------------------------- model
def _syn_mechs(spec: dict, cells: list[_Cell]) -> dict[str, SynMech]:
    raw = dict(spec.get("synMechParams") or {})
    for c in cells:  # synapses of a file without netParams: from the saved secs
        for sec in (c.secs or {}).values():
            for syn in (sec or {}).get("synMechs") or []:
                if isinstance(syn, Mapping) and syn.get("label") not in raw and "mod" in syn:
                    raw[syn["label"]] = {k: v for k, v in syn.items()
                                         if k not in ("label", "loc", "hObj")}
    out = {}
    for label, p in raw.items():
        p = _dict(p, f"net['params']['synMechParams']['{label}']")
        if "mod" not in p:
            raise _bad(f"net['params']['synMechParams']['{label}']", "missing 'mod'")
        pointer = p.get("pointerParams")
        if pointer is not None:
            pointer = {"source_var": pointer.get("source_var", "v"),
                       "target_var": pointer.get("target_var"),
                       "bidirectional": bool(pointer.get("bidirectional", True))}
        params = {k: v for k, v in p.items() if k not in ("mod", "selfNetCon", "loc",
                                                           "pointerParams")}
        out[label] = SynMech(name=label, model=p["mod"], params=params, pointer=pointer,
                             self_netcon=p.get("selfNetCon"), loc=p.get("loc"))
    return out


def _stim_sources(spec: dict, cells: list[_Cell]) -> dict[str, StimSource]:
    raw = {k: _dict(v, f"net['params']['stimSourceParams']['{k}']")
           for k, v in (spec.get("stimSourceParams") or {}).items()}
    for c in cells:
        for s in c.stims:
            if s.get("source") is not None and s["source"] not in raw:
                raw[s["source"]] = {k: v for k, v in s.items() if k not in _STIM_META
                                    or k == "type"}
    out = {}
    for label, src in raw.items():
        if "type" not in src:
            raise _bad(f"net['params']['stimSourceParams']['{label}']", "missing 'type'")
        out[label] = StimSource(name=label, model=src["type"],
                                params={k: v for k, v in src.items() if k != "type"})
    return out


def _populations(pops_raw: dict, table: Table, spec: dict) -> dict[str, Population]:
    pop_col: Categorical = table["pop"]  # type: ignore[assignment]
    ct: Categorical = table["cell_type"]  # type: ignore[assignment]
    labels = list(dict.fromkeys([*pops_raw, *[p for p in pop_col.categories]]))
    spec_pops = spec.get("popParams") or {}
    out = {}
    for label in labels:
        raw = pops_raw.get(label) or {}
        tags = dict(raw.get("tags") or spec_pops.get(label) or {})
        tags.pop("pop", None)
        tags.pop("cellsList", None)
        code = pop_col.code_of(label)
        rows = np.flatnonzero(pop_col.codes == code) if code >= 0 else np.zeros(0, np.int64)
        names = sorted(set(ct.take(rows).values().tolist()) - {None})
        # the cell type is per cell: a population that mixes types (or has none) has None
        out[label] = Population(label, names[0] if len(names) == 1 else None,
                                len(rows), tags=_plain(tags))
    return out


# ---------------------------------------------------------------------------------- conns
def _connections(cells: list[_Cell], gids: np.ndarray, types: dict, ct_names: list,
                 lost: list[str]) -> tuple[Table, Table]:
    """The connections and pointer connections of the cells, mapped by :data:`CONNS` and
    :data:`POINTER_CONNS` (NetStim conns are stim targets, see :func:`_stim_targets`)."""
    plain: dict[str, list] = {"conns": [], "where": [], "post": [], "wi": []}
    ptr: dict[str, list] = {"conns": [], "where": [], "post": []}
    for c, tname in zip(cells, ct_names):
        for i, conn in enumerate(c.conns):
            if conn["preGid"] == "NetStim":
                continue
            into = ptr if conn.get("pointer") or conn.get("gapJunction") else plain
            into["conns"].append(conn)
            into["where"].append(f"{c.where}['conns'][{i}]")
            into["post"].append(c.gid)
            if into is plain:
                into["wi"].append(_weight_index(types.get(tname), conn))
    unknown = count_unknown([*plain["conns"], *ptr["conns"]], CONN_KEYS)
    for key, n in unknown.items():
        note_loss(lost, f"conns key '{key}'", n, "not mapped", "connections")
    conns = _conn_table(CONNS, plain, lost, {"weight_index": np.array(plain["wi"], np.int32)})
    pointers = _conn_table(POINTER_CONNS, ptr, lost, None)
    missing = set(np.concatenate([conns["pre_gid"], pointers["pre_gid"]]).tolist()) - set(
        gids.tolist())
    if missing:
        raise _bad("net['cells']", f"connections come from gid(s) {sorted(missing)[:5]} that "
                   "are not cells of the file")
    return conns, pointers


def _conn_table(translation: Translation, rows: dict[str, list], lost: list[str],
                defaults: dict | None) -> Table:
    if not rows["conns"]:
        return Table(schema=translation.columns)
    cols = translation.to_canonical(rows["conns"], lost, where=rows["where"], defaults=defaults,
                                    report_unknown=False)
    cols["post_gid"] = np.array(rows["post"], dtype=np.int64)
    return Table(cols, translation.columns)


def _weight_index(ctype: Any, conn: dict) -> int:
    """NetPyNE's ``_setConnPointP``: a point process with ``vref`` and ``synList`` is the target
    and the synapse's position in the list is the NetCon weight index."""
    if not isinstance(ctype, CompartmentalCell):
        return 0
    sec = ctype.sections.get(conn.get("sec"))
    for pp in (sec.point_processes if sec is not None else []):
        if "vref" in pp:
            syn_list = pp.get("synList") or []
            return syn_list.index(conn.get("synMech")) if conn.get("synMech") in syn_list else 0
    return 0


# ---------------------------------------------------------------------------------- stims
def _stim_targets(cells: list[_Cell], table: Table, spec: dict, cfg: dict,
                  sources: dict[str, StimSource], lost: list[str]) -> Table:
    rules = StimRules(spec, table)
    seed = float((cfg.get("seeds") or {}).get("stim", NETPYNE_SEEDS["stim"]))
    rows: list[dict] = []
    for row_i, c in enumerate(cells):
        rows += _cell_stims(c, row_i, rules, sources, seed, lost)
    if not rows:
        return Table(schema=STIM_COLUMNS)
    _netstim_conns(rows, lost)
    extra = _param_order(rows, spec, sources)
    cols: dict[str, Any] = {}
    for key in [k for k in rows[0] if not k.startswith("param.")]:
        vals = [r[key] for r in rows]
        cols[key] = (Categorical.from_values(vals) if STIM_COLUMNS[key].kind == "category"
                     else np.array(vals, dtype=STIM_COLUMNS[key].kind))
    for key in extra:
        cols[key] = np.array([r.get(key, math.nan) for r in rows], dtype=np.float64)
    return Table(cols, STIM_COLUMNS)


def _netstim_conns(rows: list[dict], lost: list[str]) -> None:
    """Fill the NetCon columns of the NetStim rows from their conns (:data:`NETSTIM_CONNS`)."""
    idx = [i for i, r in enumerate(rows) if "_conn" in r]
    if not idx:
        return
    conns = [rows[i].pop("_conn") for i in idx]
    cols = NETSTIM_CONNS.to_canonical([c for c, _ in conns], lost,
                                      where=[w for _, w in conns], report_unknown=False)
    for name in ("sec", "loc", "syn_mech", "weight", "delay"):
        col = cols[name]
        values = col.values().tolist() if isinstance(col, Categorical) else col.tolist()
        for i, v in zip(idx, values):
            rows[i][name] = v


def _param_order(rows: list[dict], spec: dict, sources: dict) -> list[str]:
    """``param.*`` columns in the builder's order: by rule, then by the source's parameters."""
    rule_pos = {label: i for i, label in enumerate(spec.get("stimTargetParams") or {})}
    first: dict[str, tuple] = {}
    for r in rows:
        params = list(sources[r["source"]].params)
        for k in r:
            if k.startswith("param.") and k not in first:
                name = k[len("param."):]
                first[k] = (rule_pos.get(r["rule"], len(rule_pos)),
                            params.index(name) if name in params else len(params), len(first))
    return sorted(first, key=first.__getitem__)


def _cell_stims(c: _Cell, row_i: int, rules, sources: dict, seed: float, lost: list[str]
                ) -> list[dict]:
    """The stim_targets rows of one cell, in the order of its stims (NetPyNE's rule order); a
    NetStim gives one row per connection it drives (``preGid == 'NetStim'``, ``preLabel``)."""
    netstim_conns = [(i, conn) for i, conn in enumerate(c.conns) if conn["preGid"] == "NetStim"]
    rows, used = [], set()
    for j, s in enumerate(c.stims):
        where = f"{c.where}['stims'][{j}]"
        if s.get("type") != "NetStim":
            rows.append(_stim_row(s, c, sources, where, lost))
            continue
        first = next(k for k, t in enumerate(c.stims) if t.get("type") == "NetStim"
                     and t.get("source") == s.get("source"))
        if first != j:  # NetPyNE's loader drives all conns of a source from its first NetStim
            lost.append(f"{where}: a second NetStim of source {s.get('source')!r} on one cell; "
                        "NetPyNE's loader connects only the first")
            continue
        mine = [(i, conn) for i, conn in netstim_conns if conn.get("preLabel") == s.get("source")]
        if not mine:
            lost.append(f"{where}: NetStim '{s.get('source')}' drives no connection; dropped")
        for i, conn in mine:
            used.add(i)
            rows.append(_netstim_row(s, conn, c, row_i, rules, sources, seed,
                                     f"{c.where}['conns'][{i}]"))
    for i, conn in netstim_conns:
        if i not in used:
            lost.append(f"{c.where}['conns'][{i}]: NetStim connection without a NetStim stim of "
                        f"source {conn.get('preLabel')!r}; dropped")
    return rows


def _netstim_row(stim: dict, conn: dict, c: _Cell, row_i: int, rules, sources: dict,
                 seed: float, where: str) -> dict:
    src = sources[str(stim["source"])]
    row = {"source": src.name, "gid": c.gid,  # sec ... delay: see _netstim_conns
           "sec": None, "loc": None, "syn_mech": None, "weight": None, "delay": None,
           "rule": rules.label(src.name, row_i), "_conn": (conn, where)}
    defaults = {**NETSTIM_DEFAULTS, "seed": seed}
    for key, value in stim.items():
        if key in _STIM_META or not isinstance(value, (Number, np.number)):
            continue
        given = src.params.get(key, defaults.get(key))
        if key == "rate" and "rate" not in src.params and "interval" in stim:
            continue  # nethub writes the rate NetPyNE needs beside the interval it comes from
        if not (isinstance(given, Number) and float(given) == float(value)):
            row[f"param.{key}"] = float(value)
    return row


def _stim_row(stim: dict, c: _Cell, sources: dict, where: str, lost: list[str]) -> dict:
    if stim.get("source") not in sources:
        raise _bad(where, f"unknown stim source {stim.get('source')!r}")
    src = sources[str(stim["source"])]
    row = {"source": src.name, "gid": c.gid,
           "sec": None if stim.get("sec") is None else str(stim["sec"]),
           "loc": _num(stim.get("loc", 0.5), f"{where}['loc']"), "syn_mech": None,
           "weight": math.nan, "delay": math.nan,
           "rule": None if stim.get("label") is None else str(stim["label"])}
    for key, value in stim.items():
        if key in _STIM_META:
            continue
        given = src.params.get(key)
        if isinstance(value, (Number, np.number)) and not isinstance(value, bool):
            if not (isinstance(given, Number) and float(given) == float(value)):
                row[f"param.{key}"] = float(value)
        elif _plain(value) != _plain(given):
            lost.append(f"{where}['{key}']: a per-cell value that is not a number; the "
                        "source's value is used")
    return row


# ---------------------------------------------------------------------------------- results
def _results(data: dict, cfg: dict, network: Network | None, lost: list[str]) -> Results:
    sim = _dict(data["simData"], "simData")
    spkt = np.atleast_1d(np.asarray(_plain(sim.get("spkt", [])), dtype=np.float64)).ravel()
    spkid = np.atleast_1d(np.asarray(_plain(sim.get("spkid", [])), dtype=np.float64)).ravel()
    if len(spkt) != len(spkid):
        raise _bad("simData['spkid']", f"{len(spkid)} gids for {len(spkt)} spike times")
    if len(spkid) and np.any(spkid != np.round(spkid)):
        raise _bad("simData['spkid']", "gids must be integers")
    traces, used = _traces(sim, cfg)
    res = Results(spike_times=spkt, spike_gids=spkid.astype(np.int64), traces=traces,
                  sim_config=cfg, seeds=dict(cfg.get("seeds") or {}),
                  versions={"netpyne": data.get("netpyne_version")}, nranks=1,
                  network_hash=network.content_hash() if network is not None else "",
                  name="netpyne")
    _lfp(sim, cfg, res)
    meta = {}
    for key, value in sim.items():
        if key in used or key in ("spkt", "spkid", "t", "LFP"):
            continue
        if key in ("avgRate", "popRates") and not isinstance(value, (list, np.ndarray)):
            meta[key] = _plain(value)
        else:
            lost.append(f"simData['{key}']: nethub results do not hold it")
    res.meta = meta
    return res


def _run_name(cfg: dict, data: dict) -> tuple[dict, str | None]:
    """The simConfig as the run had it, and the run's name, from ``simConfig['simLabel']`` in
    files nethub wrote (see ``netpyne_write.RUN_NAME_FLAG``; None: not named there)."""
    marker = data["nethub"] if isinstance(data.get("nethub"), Mapping) else {}
    how = marker.get(netpyne_write.RUN_NAME_FLAG)
    key = netpyne_write.RUN_NAME_KEY
    if not isinstance(how, Mapping) or not isinstance(cfg.get(key), str):
        return cfg, None
    name = cfg[key]
    if how.get("absent"):
        cfg = {k: v for k, v in cfg.items() if k != key}
    elif "was" in how:
        cfg = {**cfg, key: how["was"]}
    return cfg, name


def _traces(sim: dict, cfg: dict) -> tuple[Traces, set]:
    specs = cfg.get("recordTraces") or {}
    labels = [k for k, v in sim.items() if isinstance(v, Mapping)
              and all(str(c).startswith("cell_") and not isinstance(x, Mapping)
                      for c, x in v.items())]
    rows, data = [], []
    for label in labels:
        spec = specs.get(label) or {}
        var = spec.get("var", "v")
        for key in ("mech", "synMech", "pointp", "stim"):
            if key in spec:
                var = f"{spec[key]}.{var}"
        for cell_key, values in sim[label].items():
            where = f"simData['{label}']['{cell_key}']"
            try:
                gid = int(str(cell_key)[len("cell_"):])
            except ValueError:
                raise _bad(where, "trace keys are 'cell_<gid>'") from None
            rows.append((label, gid, spec.get("sec"), float(spec.get("loc", 0.5)), var))
            data.append(np.asarray(_plain(values), dtype=np.float64).reshape(-1))
    lengths = {len(d) for d in data}
    if len(lengths) > 1:
        raise _bad("simData", f"traces of different lengths {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    t = sim.get("t")
    time = (np.asarray(_plain(t), dtype=np.float64).reshape(-1) if t is not None
            else np.arange(n) * float(cfg.get("recordStep", 0.1)))
    if data and len(time) != n:
        raise _bad("simData['t']", f"{len(time)} times for traces of {n} samples")
    if not rows:
        return Traces(Table(schema=TRACE_COLUMNS), time if t is not None else np.zeros(0),
                      np.zeros((0, len(time) if t is not None else 0))), set(labels)
    order = {label: i for i, label in enumerate(specs)}
    perm = sorted(range(len(rows)), key=lambda i: (rows[i][1], order.get(rows[i][0], len(order))))
    index = trace_index(*zip(*[rows[i] for i in perm]))
    return Traces(index, time, np.array([data[i] for i in perm])), set(labels)


def _lfp(sim: dict, cfg: dict, res: Results) -> None:
    if sim.get("LFP") is None:
        return
    lfp = np.asarray(_plain(sim["LFP"]), dtype=np.float64)
    if lfp.ndim == 1:
        lfp = lfp.reshape(-1, 1)
    res.lfp = lfp
    res.lfp_time = np.arange(lfp.shape[0]) * float(cfg.get("recordStep", 0.1))
    el = cfg.get("recordLFP")
    if isinstance(el, list) and np.asarray(el, dtype=float).shape == (lfp.shape[1], 3):
        res.electrodes = np.asarray(el, dtype=np.float64)


# ---------------------------------------------------------------------------------- writing
def from_network(net: Network | None, results: list[Results] | None = None, run: int | str = -1
                 ) -> tuple[dict, list[str]]:
    """Map a network and one of its runs to NetPyNE's saved-output dict.

    Parameters
    ----------
    net : Network or None
    results : list of Results, optional
    run : int or str
        Which run to write (NetPyNE files hold one): name or position, ``-1`` the latest.

    Returns
    -------
    data : dict
        ``{'net': {'cells', 'pops', 'params'}, 'simConfig', 'simData'}`` of plain Python values,
        ready for JSON, pickle or (after NetPyNE's fix-ups) MAT.
    lost : list of str
        What NetPyNE's layout cannot carry.
    """
    return netpyne_write.from_network(net, list(results or []), run)

