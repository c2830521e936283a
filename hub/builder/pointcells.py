"""Point (artificial) cells: NetPyNE's per-cell parameters and spike trains, resolved at build.

NetPyNE draws a point cell's random parameters and a VecStim's spike times when it creates the
cell, from NEURON Random123 streams keyed by the gid; nethub computes the very same numbers
(:mod:`nethub.random123`), vectorized over cells, into ``params.<name>`` columns of the cells
table (``params.spkTimes``, ``params.noise_ids``, ``params.dynamicRates.*`` ragged), so the
simulator needs no random numbers for them. The columns, NetPyNE's behaviour reproduced on
purpose and where nethub raises instead: docs/design/pointcells.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np

from ..celltypes import PointCell
from ..errors import SpecError
from ..random123 import Random123Stream, netpyne_hash_str
from ..table import Ragged, Table
from .context import BuildContext, cell_env
from .draws import PairDraws
from .pops import POP_STRUCTURAL_KEYS, PopBuild

__all__ = ["point_cell_params", "SPIKE_PATTERNS"]

logger = logging.getLogger(__name__)

#: ``spikePattern['type']`` values NetPyNE knows (``cell/inputs.py``).
SPIKE_PATTERNS = ("rhythmic", "evoked", "poisson", "gauss")

#: NetPyNE refuses noisy interval-based VecStim trains of this many spikes (``pointCell.py``).
_MAX_REPRODUCIBLE_SPKS = 10000
#: parameters that are not scalars set on the NEURON object
_STRUCTURED = frozenset({"spkTimes", "pulses", "spikePattern", "rates", "dynamicRates"})
#: the variables and random methods NetPyNE recognises in a point cell's string function
_FUNC_VARS = ("rand", "x", "y", "z", "xnorm", "ynorm", "znorm")
_RAND_METHODS = ("binomial", "discunif", "erlang", "geometric", "hypergeo", "negexp", "normal",
                 "poisson", "uniform", "weibull")
#: models without an ``interval`` NetPyNE could play dynamic rates into
_NO_INTERVAL = frozenset({"VecStim", "IntFire1", "IntFire2", "IntFire4"})
_VECSTIM_NUMERIC = ("rate", "interval", "noise", "start", "seed")
#: values per padded work array (rows x spikes)
_BLOCK = 1 << 21
_GAUSS_SPIKES = 50


# --------------------------------------------------------------------------------------------
# the hook
# --------------------------------------------------------------------------------------------


def point_cell_params(ctx: BuildContext, cells: Table, pops: list[PopBuild],
                      types: dict[str, Any]) -> None:
    """Add the per-cell parameters and spike trains of every point cell to ``cells``.

    Parameters
    ----------
    ctx : BuildContext
        The build's spec (``ctx.net``, ``ctx.cfg``) and seeds.
    cells : Table
        All cells, in population order (rows of ``pops[i]`` follow those of ``pops[i-1]``);
        gains ``params.*`` columns (see the module docstring).
    pops : list of PopBuild
    types : dict
        Cell types by name; point populations have a :class:`~nethub.celltypes.PointCell`.
    """
    out = _Columns(len(cells))
    codes, names = cells["cell_type"].codes, cells["cell_type"].categories
    gids = np.asarray(cells["gid"], dtype=np.int64)
    first = 0
    for pb in pops:
        rows = np.arange(first, first + len(pb.cells))
        first += len(pb.cells)
        if not len(rows) or codes[rows[0]] < 0:
            continue
        ctype = types.get(names[codes[rows[0]]])
        if not isinstance(ctype, PointCell):
            continue
        for group in _groups(ctx.net, pb, ctype.model, rows, gids[rows]):
            _resolve(ctx, cells, group, out)
    out.apply(cells)


# --------------------------------------------------------------------------------------------
# cells sharing one NetPyNE parameter dict
# --------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Cells of one point population that share their NetPyNE ``params`` dict."""

    pop: str
    model: str
    rows: np.ndarray
    gids: np.ndarray
    params: dict[str, Any]
    where: dict[str, str]
    funcs: dict[str, tuple[str, str]]  # parameter -> (string function, its key path)
    spk_rows: list | None = None  # per-cell spike times (2-D spkTimes, cellsList)
    rates_rows: list | None = None  # per-cell dynamic rates (2-D dynamicRates)

    def path(self, key: str) -> str:
        return self.where.get(key, f"popParams['{self.pop}']['{key}']")

    @property
    def n(self) -> int:
        return len(self.rows)


def _pop_params(net: dict, pb: PopBuild) -> tuple[dict, dict, dict]:
    """NetPyNE's ``__handlePointCellParams``: (params, key paths, string functions)."""
    label, tags = pb.label, pb.tags
    if isinstance(tags.get("params"), dict):
        params = dict(tags["params"])
        where = {k: f"popParams['{label}']['params']['{k}']" for k in params}
    else:
        params = {k: v for k, v in tags.items() if k not in POP_STRUCTURAL_KEYS}
        where = {k: f"popParams['{label}']['{k}']" for k in params}
    cell_params = net.get("cellParams") or {}
    ctype = tags.get("cellType")
    rule = cell_params.get(ctype) if isinstance(ctype, str) else None
    rule_params = (rule or {}).get("params") or {}
    rule_where = {k: f"cellParams['{ctype}']['params']['{k}']" for k in rule_params}
    # string functions: looked up under the cellType (the rule's), else under the population
    src, src_where = (rule_params, rule_where) if ctype else (params, where)
    funcs = {k: (v, src_where[k]) for k, v in src.items()
             if isinstance(v, str) and _is_netpyne_func(v)}
    if "cellModel" not in tags:
        for k, v in rule_params.items():
            if k not in params:
                params[k], where[k] = v, rule_where[k]
    return params, where, funcs


def _is_netpyne_func(text: str) -> bool:
    """Whether NetPyNE's ``generateStringFunction`` turns ``text`` into a function."""
    src = text.replace("lognormal", "lognrm")
    for method in _RAND_METHODS:
        src = src.replace(method, f"rand.{method}")
    src = src.replace("lognrm", "rand.lognormal")
    used = [v for v in _FUNC_VARS if v in src and v + "norm" not in src]
    return src != text or bool(used)


def _groups(net: dict, pb: PopBuild, model: str, rows: np.ndarray, gids: np.ndarray
            ) -> list[_Group]:
    params, where, funcs = _pop_params(net, pb)
    tags, label = pb.tags, pb.label

    def group(sel, p, w, **kw) -> _Group:
        return _Group(label, model, rows[sel], gids[sel], p, w, funcs, **kw)

    if "cellsList" in tags:
        return _cells_list_groups(label, tags["cellsList"], model, params, where, group)
    if "numCells" not in tags:
        for key in ("spkTimes", "dynamicRates"):
            if key in tags:
                logger.warning("popParams['%s']['%s']: NetPyNE only copies it to the cells of "
                               "numCells populations; ignored", label, key)
        return [group(slice(None), params, where)]
    spk_rows = rates_rows = None
    if "spkTimes" in tags:
        spk_rows = _tag_rows(tags["spkTimes"], len(rows), f"popParams['{label}']['spkTimes']")
        if spk_rows is None:
            params["spkTimes"] = tags["spkTimes"]
            where["spkTimes"] = f"popParams['{label}']['spkTimes']"
    dyn = tags.get("dynamicRates")
    if isinstance(dyn, dict) and "rates" in dyn and "times" in dyn:
        at = f"popParams['{label}']['dynamicRates']"
        rates_rows = _tag_rows(dyn["rates"], len(rows), at + "['rates']")
        params["rates"] = [[] if rates_rows is not None else dyn["rates"], dyn["times"]]
        where["rates"] = at
    return [group(slice(None), params, where, spk_rows=spk_rows, rates_rows=rates_rows)]


def _tag_rows(value: Any, n: int, where: str) -> list | None:
    """The rows of a 2-D per-cell list (None when ``value`` is 1-D)."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if not isinstance(value[0], (list, tuple, np.ndarray)):
        return None
    if len(value) != n:
        raise SpecError(f"{where}: {len(value)} rows for {n} cells (a 2-D list needs one row "
                        "per cell)")
    return list(value)


def _cells_list_groups(label, entries, model, params, where, group) -> list[_Group]:
    vec = model == "VecStim"
    for i, entry in enumerate(entries):
        if vec and "spkTimes" not in entry:
            raise SpecError(f"popParams['{label}']['cellsList'][{i}]: a VecStim cell needs "
                            "'spkTimes'")
    own = [i for i, e in enumerate(entries) if isinstance(e.get("params"), dict)]
    shared = [i for i in range(len(entries)) if i not in set(own)]
    out = []
    if shared:
        idx = np.asarray(shared, dtype=np.int64)
        spk = [entries[i]["spkTimes"] for i in shared] if vec else None
        out.append(group(idx, params, where, spk_rows=spk))
    for i in own:
        p = dict(entries[i]["params"])
        w = {k: f"popParams['{label}']['cellsList'][{i}]['params']['{k}']" for k in p}
        spk = [entries[i]["spkTimes"]] if vec else None
        out.append(group(np.asarray([i], dtype=np.int64), p, w, spk_rows=spk))
    return out


# --------------------------------------------------------------------------------------------
# scalar parameters
# --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, complex)


def _resolve(ctx: BuildContext, cells: Table, g: _Group, out: _Columns) -> None:
    vals = _scalars(ctx, cells, g)
    if g.model in ("NetStim", "VecStim") and "seed" not in g.params:
        vals["seed"] = np.full(g.n, float(ctx.seeds["stim"]))
    if g.model == "NetStim":
        if "number" not in g.params:
            vals["number"] = np.full(g.n, 1e9)
        ids = np.column_stack([np.full(g.n, float(netpyne_hash_str("NetStim"))),
                               g.gids.astype(np.float64), np.trunc(vals["seed"])])
        out.ragged("params.noise_ids", g.rows, np.full(g.n, 3), ids.reshape(-1))
    if g.model == "VecStim":
        _vecstim(ctx, g, vals, out)
    _dynamic_rates(g, out)
    for name, v in vals.items():
        out.scalar(f"params.{name}", g.rows, v)


def _scalars(ctx: BuildContext, cells: Table, g: _Group) -> dict[str, np.ndarray]:
    """The numeric parameters, in NetPyNE's order (string functions evaluated per cell)."""
    out: dict[str, np.ndarray] = {}
    draws = None
    for key, value in g.params.items():
        if key in _STRUCTURED:
            continue
        if key in g.funcs and key != "seed":
            if draws is None:
                draws = PairDraws(np.full(g.n, netpyne_hash_str("cellParams"), dtype=np.int64),
                                  g.gids, int(ctx.seeds["cell"]))
            value = _evaluate(ctx, cells, g, key, draws)
        elif key == "rate":
            value = _rate(ctx, g, value)
        elif not _is_number(value):
            if key == "seed":
                raise SpecError(f"{g.path(key)}: must be a number, got {value!r}")
            logger.warning("%s: %r is not a number NetPyNE can set on a %s; ignored",
                           g.path(key), value, g.model)
            continue
        arr = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), (g.n,)))
        _check_scalar(key, arr, g.path(key))
        out[key] = arr
        if key == "rate":
            out["interval"] = 1000.0 / arr
    return out


def _evaluate(ctx: BuildContext, cells: Table, g: _Group, key: str, draws: PairDraws
              ) -> np.ndarray:
    text, where = g.funcs[key]
    expr = ctx.compile(text, set(_FUNC_VARS[1:]), where)
    env = {k: v for k, v in cell_env(cells, g.rows, prefix="").items() if k in expr.variables}
    return np.asarray(draws.evaluate(expr, env, g.n), dtype=np.float64)


def _rate(ctx: BuildContext, g: _Group, value: Any, stream_key: str = "point_rate",
          where: str | None = None) -> np.ndarray | float:
    """A rate: a number, or ``[min, max]`` drawn per cell (first ``uniform`` of its stream)."""
    where = where or g.path("rate")
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise SpecError(f"{where}: a rate range must be [min, max] (two numbers), "
                            f"got {value!r}")
        lo, hi = float(value[0]), float(value[1])
        if min(lo, hi) < 0 or max(lo, hi) <= 0:
            raise SpecError(f"{where}: rate range bounds must be >= 0 and not both 0, "
                            f"got {value!r}")
        stream = Random123Stream(netpyne_hash_str(stream_key), g.gids, int(ctx.seeds["stim"]))
        return stream.uniform(lo, hi, n=1).reshape(-1)
    if isinstance(value, str):
        raise SpecError(
            f"{where}: NetPyNE does not evaluate {value!r} here (it evaluates a point cell's "
            "string only when it uses a random function or x, y, z, xnorm, ynorm, znorm and, "
            "for a population with a cellType, only when given in cellParams[cellType]"
            "['params']); give a number (Hz) or [min, max]")
    if not _is_number(value):
        raise SpecError(f"{where}: must be a number (Hz) or [min, max], got {value!r}")
    return float(value)


def _check_scalar(key: str, arr: np.ndarray, where: str) -> None:
    if key in ("rate", "interval"):
        ok, need = arr > 0, "must be > 0" + (" (NetPyNE divides by it)" if key == "rate" else "")
    elif key == "noise":
        ok, need = (arr >= 0) & (arr <= 1), "must be in [0, 1]"
    elif key == "seed":
        ok, need = (arr >= 0) & (arr <= 4294967295.0), "must be in [0, 4294967295] (a Random123 id)"
    else:
        return
    if not np.all(ok):
        raise SpecError(f"{where}: {need}, got {float(arr[~ok][0])}")


def _dynamic_rates(g: _Group, out: _Columns) -> None:
    rates = g.params.get("rates")
    if not (isinstance(rates, (list, tuple)) and len(rates) == 2):
        return
    where = g.path("rates")
    if g.model in _NO_INTERVAL:
        raise SpecError(f"{where}: dynamic rates are played into 'interval', which a "
                        f"{g.model} does not have")
    rows = g.rates_rows if g.rates_rows is not None else [rates[0]] * g.n
    intervals = []
    for i, r in enumerate(rows):
        r = _times(r, f"{where}[{i}]" if g.rates_rows is not None else where)
        iv = np.full(len(r), 1e10)
        iv[r > 0.0] = 1000.0 / r[r > 0.0]
        intervals.append(iv)
    times = _times(rates[1], f"{where}['times']")
    out.ragged("params.dynamicRates.intervals", g.rows, *_flatten(intervals))
    out.ragged("params.dynamicRates.times", g.rows, np.full(g.n, len(times)),
               np.tile(times, g.n))


# --------------------------------------------------------------------------------------------
# VecStim spike trains
# --------------------------------------------------------------------------------------------


def _vecstim(ctx: BuildContext, g: _Group, vals: dict, out: _Columns) -> None:
    for key in _VECSTIM_NUMERIC:
        if key in g.params and (key in g.funcs or isinstance(g.params[key], str)):
            raise SpecError(f"{g.path(key)}: a VecStim's {key} must be a number (NetPyNE "
                            "computes its spike times with it)")
    duration = float(ctx.cfg.get("duration", 1000.0))
    if "rate" in vals:
        vals["interval"] = 1000.0 / vals["rate"]
    parts = _base_train(g, vals, duration)
    if parts is None:
        logger.warning("popParams['%s']: a VecStim needs rate, interval, spikePattern or "
                       "spkTimes; its cells get no spikes (as in NetPyNE)", g.pop)
        out.ragged("params.spkTimes", g.rows, np.zeros(g.n, np.int64), np.zeros(0))
        return
    pulses = g.params.get("pulses") or []
    if not isinstance(pulses, (list, tuple)):
        raise SpecError(f"{g.path('pulses')}: must be a list of dicts")
    for i, pulse in enumerate(pulses):
        parts.append(_pulse_train(ctx, g, vals["seed"], i, pulse))
    out.ragged("params.spkTimes", g.rows, *_finish(parts, g.n, duration))


def _base_train(g: _Group, vals: dict, duration: float) -> list | None:
    p = g.params
    if "interval" in p or "rate" in p:
        if "interval" not in vals:
            raise SpecError(f"{g.path('interval')}: must be a number")
        noise = vals.get("noise", np.zeros(g.n))
        start = vals.get("start", np.zeros(g.n))
        counts = _counts(noise, duration, vals["interval"], g.path("interval"))
        if np.any((noise != 0.0) & (counts >= _MAX_REPRODUCIBLE_SPKS)):
            raise SpecError(f"{g.path('interval')}: more than {_MAX_REPRODUCIBLE_SPKS - 1} "
                            "noisy VecStim spikes per cell (NetPyNE refuses them)")
        return [_regular(netpyne_hash_str("vecstim_spkt"), g.gids, vals["seed"],
                         vals["interval"], noise, start, counts)]
    if "spikePattern" in p:
        return [_pattern(g, vals["seed"], duration)]
    if g.spk_rows is not None:
        return [_flatten([_times(r, f"{g.path('spkTimes')}[{i}]")
                          for i, r in enumerate(g.spk_rows)])]
    if "spkTimes" in p:
        t = _times(p["spkTimes"], g.path("spkTimes"))
        return [(np.full(g.n, len(t)), np.tile(t, g.n))]
    return None


def _times(value: Any, where: str) -> np.ndarray:
    """A 1-D list of numbers as float64."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise SpecError(f"{where}: must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: must be a list of numbers") from None
    if arr.ndim != 1:
        raise SpecError(f"{where}: must be a 1-D list of numbers")
    return arr


def _counts(noise, span, interval, where: str) -> np.ndarray:
    """NetPyNE's ``int((1 + 1.5*noise) * span / interval)`` spikes per cell."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.trunc((1 + 1.5 * noise) * span / interval)
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise SpecError(f"{where}: gives an invalid number of spikes ({c[~(c >= 0)][:1]})")
    return c.astype(np.int64)


def _regular(id1: int, gids, seed, interval, noise, start, counts) -> tuple:
    """Spikes every ``(1 - noise)*interval`` plus a negexp of mean ``noise*interval`` (draws
    1, 2, ... of ``Random123(id1, gid, seed)``), summed up from ``start - interval*(1-noise)``;
    the first ``counts`` of each cell. Returns (counts, flat times)."""
    w = int(counts.max()) if len(counts) else 0
    per = max(1, _BLOCK // max(w, 1))
    flat = []
    for a in range(0, len(gids), per):
        s = slice(a, a + per)
        iv, nz = interval[s], noise[s]
        steps = np.repeat(((1.0 - nz) * iv)[:, None], w, axis=1)
        if np.any(nz != 0.0):
            stream = Random123Stream(id1, gids[s], np.trunc(seed[s]))
            steps = steps + stream.negexp(nz * iv, n=w, start=1)
        t = np.cumsum(steps, axis=1) + (start[s] - iv * (1 - nz))[:, None]
        flat.append(t[np.arange(w) < counts[s][:, None]])
    return counts, (np.concatenate(flat) if flat else np.zeros(0))


def _pulse_train(ctx: BuildContext, g: _Group, seed, index: int, pulse: Any) -> tuple:
    where = f"{g.path('pulses')}[{index}]"
    if not isinstance(pulse, dict):
        raise SpecError(f"{where}: must be a dict with start, end and rate or interval")
    for key in ("start", "end"):
        if not _is_number(pulse.get(key)):
            raise SpecError(f"{where}['{key}']: a pulse needs a number here")
    if "interval" in pulse:
        interval = np.full(g.n, float(pulse["interval"]))
    elif "rate" in pulse:
        rate = _rate(ctx, g, pulse["rate"], f"point_rate_pulse{index}", f"{where}['rate']")
        interval = 1000.0 / np.broadcast_to(np.asarray(rate, dtype=np.float64), (g.n,))
    else:
        raise SpecError(f"{where}: a pulse needs 'rate' or 'interval'")
    _check_scalar("interval", interval, f"{where}['interval']")
    noise = np.full(g.n, float(pulse.get("noise", 0.0)))
    _check_scalar("noise", noise, f"{where}['noise']")
    start, end = float(pulse["start"]), float(pulse["end"])
    counts = _counts(noise, end - start, interval, where)
    counts, t = _regular(index, g.gids, seed, interval, noise, np.full(g.n, start), counts)
    t[t < start] = start
    keep = t <= end
    row = np.repeat(np.arange(g.n), counts)
    return np.bincount(row[keep], minlength=g.n), t[keep]


def _finish(parts: list[tuple], n: int, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate each cell's parts, negative times to 0, sort, drop times > duration."""
    rows = np.concatenate([np.repeat(np.arange(n), lens) for lens, _ in parts])
    t = np.concatenate([np.asarray(v, dtype=np.float64) for _, v in parts])
    t[t < 0] = 0
    order = np.lexsort((t, rows))
    t, rows = t[order], rows[order]
    keep = t <= duration
    return np.bincount(rows[keep], minlength=n), t[keep]


def _flatten(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lens = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
    flat = np.concatenate(arrays) if arrays else np.zeros(0)
    return lens, np.asarray(flat, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# spikePattern (cell/inputs.py)
# --------------------------------------------------------------------------------------------


def _pattern(g: _Group, seed: np.ndarray, duration: float) -> tuple:
    pat, where = g.params["spikePattern"], g.path("spikePattern")
    if not isinstance(pat, dict):
        raise SpecError(f"{where}: must be a dict with a 'type'")
    kind = pat.get("type")
    if kind not in SPIKE_PATTERNS:
        raise SpecError(f"{where}['type']: unknown spikePattern type {kind!r} "
                        f"(valid: {', '.join(SPIKE_PATTERNS)})")
    key = netpyne_hash_str("vecstim_spikePattern")
    if pat.get("sync", False):
        stream = Random123Stream(key, np.trunc(seed), 0)
    else:
        stream = Random123Stream(key, g.gids, np.trunc(seed))
    make = {"rhythmic": _rhythmic, "evoked": _evoked, "poisson": _poisson, "gauss": _gauss}
    return make[kind](pat, stream, where, duration)


def _need(pat: dict, key: str, where: str) -> Any:
    value = pat.get(key)
    if not _is_number(value):
        raise SpecError(f"{where}['{key}']: this spikePattern needs a number here, "
                        f"got {value!r}")
    return value


def _positive_sorted(vals: np.ndarray, lens: np.ndarray | None = None) -> tuple:
    """Per row: the first ``lens`` values, only those > 0, sorted -> (lens, flat)."""
    keep = vals > 0
    if lens is not None:
        keep &= np.arange(vals.shape[1]) < lens[:, None]
    v = np.where(keep, vals, np.nan)
    v.sort(axis=1)
    n = keep.sum(axis=1)
    return n, v[np.arange(v.shape[1]) < n[:, None]]


def _evoked(pat: dict, stream: Random123Stream, where: str, duration: float) -> tuple:
    mu = _need(pat, "start", where) + 0
    sigma = _need(pat, "startStd", where)
    n = int(_need(pat, "numspikes", where))
    if n < 0:
        raise SpecError(f"{where}['numspikes']: must be >= 0")
    if sigma:  # NEURON's normal(mean, variance): startStd is used as the variance
        vals = stream.normal(mu, sigma, n=n + 1).reshape(stream.size, n + 1)[:, 1:]
    else:
        vals = np.full((stream.size, n), float(mu))
    return _positive_sorted(vals)


def _gauss(pat: dict, stream: Random123Stream, where: str, duration: float) -> tuple:
    mu, sigma = _need(pat, "mu", where), _need(pat, "sigma", where)
    vals = stream.normal(mu, sigma, n=_GAUSS_SPIKES + 1).reshape(stream.size, -1)[:, 1:]
    return _positive_sorted(vals)


def _poisson(pat: dict, stream: Random123Stream, where: str, duration: float) -> tuple:
    t0, stop, lam = (_need(pat, k, where) for k in ("start", "stop", "frequency"))
    if stop == -1:
        stop = duration
    if not np.isfinite(stop):
        raise SpecError(f"{where}['stop']: must be finite")
    m = stream.size
    if lam <= 0.0:
        return np.zeros(m, np.int64), np.zeros(0)
    k = int(max(0.0, (stop - t0) * lam / 1000.0) * 1.3) + 16
    u = stream.uniform01_block(k).reshape(m, k)
    trains = []
    for i in range(m):
        trains.append(_poisson_cell(u[i].tolist(), stream, i, t0, stop, lam))
    return _flatten(trains)


def _poisson_cell(u: list, stream: Random123Stream, i: int, t0, stop, lam) -> np.ndarray:
    """``createPoissonPattern`` of one cell on its uniforms ``u`` (draws 0, 1, ...); NetPyNE
    never keeps the first spike (its ``np.append`` result is discarded)."""
    out = []
    k = 0

    def nxt() -> float:
        nonlocal u, k
        if k == len(u):  # rare: fetch more of this cell's draws
            more = _cell_stream(stream, i).uniform01_block(len(u), start=len(u))
            u = u + np.asarray(more).reshape(-1).tolist()
        k += 1
        return u[k - 1]

    t_gen = t0 + (-1000.0 * np.log(1.0 - nxt()) / lam)
    while t_gen < stop:
        t_gen += -1000.0 * np.log(1.0 - nxt()) / lam
        if t_gen < stop:
            out.append(t_gen)
    return np.asarray(out, dtype=np.float64)


def _cell_stream(stream: Random123Stream, i: int) -> Random123Stream:
    ids = (a.reshape(-1)[i] for a in (stream.id1, stream.id2, stream.id3))
    return Random123Stream(*ids, global_index=stream.global_index)


def _rhythmic(pat: dict, stream: Random123Stream, where: str, duration: float) -> tuple:
    m = stream.size
    start = _need(pat, "start", where)
    if "stop" in pat or "tstop" in pat:
        stop = _need(pat, "stop" if "stop" in pat else "tstop", where)
    else:
        logger.warning("%s: no 'stop' (or 'tstop'); NetPyNE makes no spikes", where)
        return np.zeros(m, np.int64), np.zeros(0)
    starts, pos = _rhythmic_starts(pat, stream, start, where)
    freq = pat.get("freq", False)
    epc = pat.get("eventsPerCycle", 2)
    if epc > 2 or epc <= 0:
        epc = 2
    if epc not in (1, 2):
        raise SpecError(f"{where}['eventsPerCycle']: must be 1 or 2, got {epc!r}")
    dist = pat.get("distribution", "normal")
    if dist not in ("normal", "uniform"):
        raise SpecError(f"{where}['distribution']: unknown distribution {dist!r} "
                        "(valid: normal, uniform)")
    if not freq:
        logger.warning("%s: no 'freq'; NetPyNE makes no spikes", where)
        return np.zeros(m, np.int64), np.zeros(0)
    if dist == "normal":
        t_arrays = _rhythmic_normal(pat, stream, starts, pos, stop, freq, where)
    else:
        t_arrays = _rhythmic_uniform(pat, stream, starts, pos, stop, freq, where)
    trains = []
    for t in t_arrays:
        t = np.append(t - 5, t + 5) if epc == 2 else t
        t = t[t > 0]
        t.sort()
        trains.append(t)
    return _flatten(trains)


def _rhythmic_starts(pat: dict, stream: Random123Stream, start, where: str) -> tuple[list, Any]:
    """Each cell's start and the draw its stream is at afterwards."""
    m = stream.size
    if start == -1:
        v, pos = stream.uniform(pat.get("startMin", 25.0), pat.get("startMax", 125.0), n=1,
                                return_next=True)
    elif pat.get("startStd", -1) > 0.0:  # NEURON's normal takes the variance
        v, pos = stream.normal(start, pat["startStd"], n=1, return_next=True)
    else:
        return [start] * m, 0
    return np.asarray(v).reshape(-1).tolist(), np.asarray(pos).reshape(-1)


def _rhythmic_normal(pat, stream, starts, pos, stop, freq, where) -> list:
    isi = [np.arange(s, stop, 1000.0 / freq) for s in starts]
    std = pat.get("freqStd", 0)
    if not std:
        return isi
    reps = _need(pat, "repeats", where)
    rep = [np.repeat(a, reps) for a in isi]
    n = max((len(r) for r in rep), default=0)
    draws = stream.normal(0, std * std, n=n + 1, start=pos).reshape(stream.size, n + 1)
    return [draws[i, 1:len(r) + 1] + r for i, r in enumerate(rep)]


def _rhythmic_uniform(pat, stream, starts, pos, stop, freq, where) -> list:
    reps = _need(pat, "repeats", where)
    counts = [int(reps * freq * (stop - s) / 1000.0) for s in starts]
    if min(counts, default=0) < 0:
        raise SpecError(f"{where}: stop is before start")
    n = max(counts, default=0)
    draws = stream.uniform(np.asarray(starts, dtype=np.float64), stop, n=n + 1, start=pos)
    draws = draws.reshape(stream.size, n + 1)
    return [draws[i, 1:c + 1] for i, c in enumerate(counts)]


# --------------------------------------------------------------------------------------------
# collecting the columns
# --------------------------------------------------------------------------------------------


class _Columns:
    """Per-row values for the cells table: float64 scalars and ragged float64 lists."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.scalars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.lists: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}

    def scalar(self, name: str, rows: np.ndarray, values: np.ndarray) -> None:
        vals, mask = self.scalars.setdefault(
            name, (np.full(self.n, np.nan), np.zeros(self.n, dtype=bool)))
        vals[rows] = values
        mask[rows] = True

    def ragged(self, name: str, rows: np.ndarray, lens: np.ndarray, flat: np.ndarray) -> None:
        self.lists.setdefault(name, []).append(
            (rows, np.asarray(lens, dtype=np.int64), np.asarray(flat, dtype=np.float64)))

    def apply(self, cells: Table) -> None:
        for name, (vals, mask) in self.scalars.items():
            old = cells[name] if name in cells else None
            if isinstance(old, np.ndarray) and old.dtype.kind in "biuf":
                vals = np.where(mask, vals, old.astype(np.float64))
            cells[name] = vals
        for name, parts in self.lists.items():
            old = cells[name] if name in cells else None
            cells[name] = _merge_ragged(self.n, old if isinstance(old, Ragged) else None, parts)


def _positions(offsets: np.ndarray, rows: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Flat positions of the values of ``rows`` (with ``lens`` values each)."""
    total = int(lens.sum())
    within = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    return np.repeat(offsets[rows], lens) + within


def _merge_ragged(n: int, old: Ragged | None, parts: list) -> Ragged:
    lens = old.lengths().copy() if old is not None else np.zeros(n, dtype=np.int64)
    mine = np.zeros(n, dtype=bool)
    for rows, plens, _ in parts:
        lens[rows] = plens
        mine[rows] = True
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    values = np.empty(int(offsets[-1]), dtype=np.float64)
    if old is not None:
        keep = np.flatnonzero(~mine)
        values[_positions(offsets, keep, lens[keep])] = old.take(keep).values
    for rows, plens, flat in parts:
        values[_positions(offsets, rows, plens)] = flat
    return Ragged(values, offsets)
