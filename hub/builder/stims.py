"""stimSourceParams / stimTargetParams → stimulation sources and the stim_targets table.

NetPyNE semantics (``netpyne/network/stim.py``): each target rule selects cells by ``conds``
(tags, coordinate ranges, ``cellList`` = indices into the gid-sorted matching cells) and
attaches one instance of its source to each: spike sources (NetStim, VecStim) drive the cell's
synaptic mechanism(s) through a NetCon with weight/delay; current/voltage sources (IClamp,
VClamp, SEClamp, AlphaSynapse, any point process) sit at ``sec``/``loc``.
Source and target values may be expressions of the target cell (``post_x``...); per-cell
results are stored as ``param.<name>`` columns of the stim_targets table.
"""

from __future__ import annotations

from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, StimSource, SynMech
from ..errors import SpecError
from ..network import STIM_COLUMNS
from ..selection import match_conds
from ..specs.schema import netparam
from ..table import Categorical, Table
from .context import BuildContext, cell_env
from .draws import SequentialDraws
from .synapses import _weight_norm, section_labels

__all__ = ["build_stims", "SPIKE_SOURCES", "STIM_TARGET_KEYS"]

SPIKE_SOURCES = frozenset({"NetStim", "VecStim", "DynamicNetStim"})
STIM_TARGET_KEYS = {"source", "conds", "sec", "loc", "weight", "delay", "synMech",
                    "synsPerConn", "synMechWeightFactor", "synMechDelayFactor",
                    "synMechLocFactor", "label"}
_STIM_VARS = {f"post_{c}" for c in ("x", "y", "z", "xnorm", "ynorm", "znorm")}
#: NetPyNE's order of evaluating string functions of a stim rule (``Network.stimStringFuncParams
#: + connStringFuncParams``); they all draw from one stream, so the order matters
STRING_PARAM_ORDER = ("del", "dur", "amp", "gain", "rstim", "tau1", "tau2", "onset", "tau",
                      "gmax", "e", "interval", "rate", "number", "start", "noise",
                      "weight", "delay", "synsPerConn", "loc")


def _sources(net: dict) -> dict[str, StimSource]:
    out = {}
    for label, src in (net.get("stimSourceParams") or {}).items():
        if not isinstance(src, dict) or "type" not in src:
            raise SpecError(f"stimSourceParams['{label}']: needs 'type' (e.g. NetStim, IClamp)")
        params = {k: v for k, v in src.items() if k != "type"}
        out[label] = StimSource(name=label, model=src["type"], params=params)
    return out


def _target_rows(ctx: BuildContext, label: str, target: dict) -> np.ndarray:
    where = f"stimTargetParams['{label}']['conds']"
    conds = dict(target.get("conds") or {})
    cell_list = conds.pop("cellList", None)
    rows = np.flatnonzero(match_conds(ctx.cells, conds, where, selection=True))
    if cell_list is None or cell_list == "all":
        return rows
    if not isinstance(cell_list, list):
        raise SpecError(f"{where}['cellList']: must be a list of indices or 'all'")
    idx = np.asarray(cell_list, dtype=np.int64)
    if len(idx) and (idx.max() >= len(rows) or idx.min() < 0):
        raise SpecError(f"{where}['cellList']: index out of range ({len(rows)} matching cells)")
    return np.unique(rows[idx])


def _per_cell(ctx: BuildContext, value: Any, rows: np.ndarray, where: str, draws) -> Any:
    if isinstance(value, str) and value != "variable":
        expr = ctx.compile(value, _STIM_VARS, where)
        env = {k: v for k, v in cell_env(ctx.cells, rows).items() if k in expr.variables}
        return draws.evaluate(expr, env, len(rows))
    return value


def _string_values(ctx: BuildContext, label: str, target: dict, src: StimSource,
                   rows: np.ndarray, draws) -> dict[str, Any]:
    """The string-function parameters of a source and a target rule, evaluated per cell in
    NetPyNE's order (:data:`STRING_PARAM_ORDER`, then other source parameters, which NetPyNE
    does not evaluate)."""
    merged = {**src.params, **{k: target[k] for k in ("weight", "delay", "synsPerConn", "loc")
                               if k in target}}
    names = [k for k in STRING_PARAM_ORDER if k in merged]
    names += [k for k in src.params if k not in names]
    out = {}
    for name in names:
        value = merged[name]
        if isinstance(value, str) and value != "variable":
            where = (f"stimSourceParams['{src.name}']['{name}']" if name in src.params
                     and name not in target else f"stimTargetParams['{label}']['{name}']")
            out[name] = _per_cell(ctx, value, rows, where, draws)
    return out


def build_stims(ctx: BuildContext, syn_mechs: dict[str, SynMech], types: dict
                ) -> tuple[dict[str, StimSource], Table]:
    """All stimTarget rules (in order) → (sources, stim_targets)."""
    sources = _sources(ctx.net)
    parts = []
    for label, target in (ctx.net.get("stimTargetParams") or {}).items():
        ctx.check_keys(f"stimTargetParams['{label}']", target, STIM_TARGET_KEYS)
        src_name = target.get("source")
        if src_name not in sources:
            raise SpecError(f"stimTargetParams['{label}']['source']: unknown source "
                            f"{src_name!r} (defined: {', '.join(sources)})")
        src = sources[src_name]
        rows = _target_rows(ctx, label, target)
        if len(rows) == 0:
            continue
        draws = SequentialDraws.for_stims(src.model, ctx.gids[rows], ctx.seeds["stim"])
        parts.append(_rule_table(ctx, label, target, src, rows, syn_mechs, types, draws))
    if not parts:
        return sources, Table(schema=STIM_COLUMNS)
    return sources, Table.concat(parts, STIM_COLUMNS)


def _rule_table(ctx, label, target, src, rows, syn_mechs, types, draws) -> Table:
    n = len(rows)
    values = _string_values(ctx, label, target, src, rows, draws)
    cols: dict[str, Any] = {"gid": ctx.gids[rows]}
    extra = {}
    for pname in src.params:
        v = values.get(pname)
        if isinstance(v, np.ndarray) and v.shape == (n,):
            extra[f"param.{pname}"] = v.astype(np.float64)
    cols["sec"] = _sections(ctx, target, rows, types, label)
    loc = values.get("loc", target.get("loc"))
    first = loc[0] if isinstance(loc, list) else loc
    cols["loc"] = np.broadcast_to(np.asarray(0.5 if first is None else first,
                                             dtype=np.float64), (n,)).copy()
    if src.model not in SPIKE_SOURCES:
        table = Table({**cols, "source": Categorical.constant(src.name, n),
                       "rule": Categorical.constant(label, n), **extra}, STIM_COLUMNS)
        return table
    weight = values.get("weight", target.get("weight", 1.0))
    delay = values.get("delay", target.get("delay", 1.0))
    table = _spike_source_rows(ctx, label, target, src, n, cols, extra, syn_mechs, weight,
                               delay, loc)
    return _stim_weight_norm(ctx, rows, types, table)


def _stim_weight_norm(ctx, rows: np.ndarray, types: dict, table: Table) -> Table:
    """NetPyNE's ``addConn`` for a NetStim stim: the weight times the target section's
    ``weightNorm`` at the stim's location (``weightNorm[round(loc * nseg) - 1]``), as for
    connections."""
    ct = ctx.cells["cell_type"]
    codes = np.tile(ct.codes[rows], len(table) // max(len(rows), 1))
    w = np.asarray(table["weight"], dtype=np.float64).copy()
    for code in np.unique(codes):
        cell = types[ct.categories[code]]
        on = codes == code
        if isinstance(cell, CompartmentalCell) and on.any():
            w[on] = _weight_norm(cell, table["sec"].take(np.flatnonzero(on)),
                                 np.asarray(table["loc"])[on], w[on])
    table["weight"] = w
    return table


def _sections(ctx, target, rows, types, label) -> Categorical:
    ct = ctx.cells["cell_type"]
    secs = np.empty(len(rows), dtype=object)
    first: dict[int, Any] = {}  # per cell type: one lookup (and one warning) each
    where = f"stimTargetParams[{label!r}]['sec']"
    for i, code in enumerate(ct.codes[rows]):
        if code not in first:
            cell = types[ct.categories[code]]
            first[code] = (section_labels(cell, target.get("sec"), where)[0]
                           if isinstance(cell, CompartmentalCell) and cell.sections else None)
        secs[i] = first[code]
    return Categorical.from_values(secs.tolist())


def _spike_source_rows(ctx, label, target, src, n, cols, extra, syn_mechs, weight, delay,
                       loc=None) -> Table:
    where = f"stimTargetParams['{label}']"
    mechs = target.get("synMech")
    mechs = mechs if isinstance(mechs, list) else [mechs]
    if mechs == [None]:
        if not syn_mechs:
            raise SpecError(f"{where}: no synMech given and no synMechParams defined")
        mechs = [next(iter(syn_mechs))]
    scale = float(netparam(ctx.net, "scaleConnWeightNetStims"))
    parts = []
    for i, mech in enumerate(mechs):
        if mech not in syn_mechs:
            raise SpecError(f"{where}['synMech']: unknown synaptic mechanism {mech!r}")
        w = _factor(weight, i, len(mechs), target.get("synMechWeightFactor"))
        d = _factor(delay, i, len(mechs), target.get("synMechDelayFactor"))
        part = dict(cols)
        if len(mechs) > 1 and (isinstance(loc, list) or "synMechLocFactor" in target):
            if loc is None:
                raise SpecError(f"{where}['synMechLocFactor']: needs a 'loc' to scale")
            x = _factor(loc, i, len(mechs), target.get("synMechLocFactor"))
            part["loc"] = np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()
        parts.append(Table({
            **part, "source": Categorical.constant(src.name, n),
            "syn_mech": Categorical.constant(mech, n),
            "weight": np.broadcast_to(np.asarray(w, dtype=np.float64) * scale, (n,)).copy(),
            "delay": np.broadcast_to(np.asarray(d, dtype=np.float64), (n,)).copy(),
            "rule": Categorical.constant(label, n), **extra}, STIM_COLUMNS))
    return Table.concat(parts, STIM_COLUMNS)


def _factor(value: Any, i: int, n: int, factors) -> Any:
    if n == 1:
        return value
    if isinstance(value, list):
        return value[i]
    if factors is not None:
        return np.asarray(value, dtype=np.float64) * factors[i]
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, Number) and not isinstance(v, bool)
