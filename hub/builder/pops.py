"""Populations → the cells table, following NetPyNE 1.1's placement rules, vectorized.

Positions use NetPyNE's own random streams (NEURON Random123 keyed by the population's size, its
first gid and ``seeds['loc']``, see :mod:`nethub.random123`), so a spec gives the same cell
positions here as in NetPyNE. Differences, where NetPyNE's code contradicts its documentation:

- ``scale`` multiplies ``numCells`` (truncated, NetPyNE's ``int(scale * numCells)``; positions
  are the first of the unscaled count's draws, as NetPyNE's) and gids stay contiguous (NetPyNE
  advances the next population's first gid by the unscaled count, leaving holes, and indexes
  past its position array when ``scale > 1``); so with ``scale != 1`` only the first
  population matches NetPyNE, with ``scale == 1`` everything is identical.
- a population with neither numCells, density, gridSpacing nor cellsList is a SpecError (NetPyNE
  prints a warning and creates one cell).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from numbers import Number
from typing import Any

import numpy as np

from ..errors import SpecError
from ..random123 import netpyne_density_samples, netpyne_positions
from ..specs.schema import netparam
from ..table import Categorical, Ragged, Table
from .budget import check_cells

__all__ = ["PopBuild", "build_population", "POINT_CELL_MODELS", "POP_STRUCTURAL_KEYS"]

logger = logging.getLogger(__name__)

#: NEURON ARTIFICIAL_CELL mechanisms NetPyNE treats as point cells (mod files may add more).
POINT_CELL_MODELS = frozenset({"NetStim", "VecStim", "IntFire1", "IntFire2", "IntFire4",
                               "DynamicNetStim", "PatternStim"})

#: Pop keys that are not point-cell parameters (NetPyNE's ``excludeTags``).
POP_STRUCTURAL_KEYS = frozenset({
    "pop", "cellModel", "cellType", "numCells", "density", "cellsList", "gridSpacing",
    "xRange", "yRange", "zRange", "xnormRange", "ynormRange", "znormRange", "vref",
    "spkTimes", "dynamicRates", "diversity", "originalFormat", "params",
})
_COORDS = ("x", "y", "z")


@dataclass
class PopBuild:
    """The cells of one population: their table rows and the population-level tags."""

    label: str
    cells: Table
    tags: dict[str, Any]
    point_params: dict[str, Any] | None  # set when the population is made of point cells


def _size(net: dict[str, Any], coord: str) -> float:
    return float(netparam(net, "size" + coord.upper()))


def _norm_ranges(pop: dict[str, Any], net: dict[str, Any], where: str) -> dict[str, list]:
    out = {}
    for c in _COORDS:
        if c + "Range" in pop:
            out[c] = [float(v) / _size(net, c) for v in pop[c + "Range"]]
        elif c + "normRange" in pop:
            out[c] = [float(v) for v in pop[c + "normRange"]]
        if c in out and len(out[c]) != 2:
            raise SpecError(f"{where}['{c}Range']: needs [min, max], got {out[c]}")
    return out


def _shape_transform(locs: np.ndarray, shape: str) -> np.ndarray:
    """NetPyNE's mapping of uniform unit-cube samples onto a cylinder or ellipsoid."""
    if shape == "cylinder":
        rho, phi = locs[:, 0], 2 * np.pi * locs[:, 2]
        locs[:, 0] = (1 + np.sqrt(rho) * np.cos(phi)) / 2.0
        locs[:, 2] = (1 + np.sqrt(rho) * np.sin(phi)) / 2.0
    elif shape == "ellipsoid":
        rho = np.power(locs[:, 0], 1.0 / 3.0)
        phi = 2 * np.pi * locs[:, 1]
        theta = np.arccos(2 * locs[:, 2] - 1)
        locs[:, 0] = (1 + rho * np.cos(phi) * np.sin(theta)) / 2.0
        locs[:, 1] = (1 + rho * np.sin(phi) * np.sin(theta)) / 2.0
        locs[:, 2] = (1 + rho * np.cos(theta)) / 2.0
    return locs


def _random_norm_locs(n: int, first_gid: int, net: dict, seeds: dict, ranges: dict,
                      key: int | None = None) -> np.ndarray:
    """``n`` positions; NetPyNE keys its stream by the unscaled ``numCells`` (``key``) and
    takes the first ``n`` (``scale < 1``)."""
    key = n if key is None or key < n else key
    locs = netpyne_positions(key, first_gid, int(seeds.get("loc", 1)))[:n]
    locs = _shape_transform(np.array(locs, dtype=np.float64), netparam(net, "shape"))
    for i, c in enumerate(_COORDS):
        if c in ranges:
            lo, hi = ranges[c]
            locs[:, i] = locs[:, i] * (hi - lo) + lo
    return locs


def _volume_mm3(net: dict[str, Any], ranges: dict) -> float:
    sx, sy, sz = (_size(net, c) / 1e3 for c in _COORDS)
    shape = netparam(net, "shape")
    vol = {"cuboid": sx * sy * sz, "cylinder": sy * sx / 2 * sz / 2 * np.pi,
           "ellipsoid": sy / 2 * sx / 2 * sz / 2 * np.pi * 4 / 3}[shape]
    for lo, hi in ranges.values():
        vol *= hi - lo
    return vol


def _density_locs(pop, net, seeds, first_gid, ranges, where, compile_expr):
    density = pop["density"]
    vol = _volume_mm3(net, ranges)
    if isinstance(density, Number):
        n = int(density * vol)
        check_cells(n, first_gid + n, f"{where}['density']")
        return _random_norm_locs(n, first_gid, net, seeds, ranges)
    if netparam(net, "shape") != "cuboid":
        raise SpecError(f"{where}['density']: density expressions need shape 'cuboid'")
    expr = compile_expr(str(density), {"xnorm", "ynorm", "znorm"}, f"{where}['density']")
    used = [v for v in ("xnorm", "ynorm", "znorm") if v in expr.variables]
    if len(used) != 1:
        raise SpecError(f"{where}['density']: must use exactly one of xnorm, ynorm, znorm")
    var = used[0]
    coord = var[0]
    lo, hi = ranges.get(coord, [0.0, 1.0])
    grid = np.arange(lo, hi, 0.001)
    max_density = float(np.max(expr.evaluate({var: grid}, n=len(grid))))
    check_cells(vol * max_density, first_gid + vol * max_density, f"{where}['density']")

    cand, accept_u = netpyne_density_samples(int(max_density), first_gid, int(seeds["loc"]),
                                             int(vol * max_density))
    cand = lo + (hi - lo) * cand
    keep = expr.evaluate({var: cand}, n=len(cand)) / max_density > accept_u
    coord_vals = cand[keep]
    locs = _random_norm_locs(len(coord_vals), first_gid, net, seeds, ranges)
    locs[:, _COORDS.index(coord)] = coord_vals
    return locs


def _grid_locs(pop: dict, net: dict, ranges: dict, where: str = "",
               first_gid: int = 0) -> np.ndarray:
    spacing = pop["gridSpacing"]
    spacing = spacing if isinstance(spacing, (list, tuple)) else [spacing] * 3
    bounds = []
    for c in _COORDS:
        lo, hi = (0.0, _size(net, c))
        if c in ranges:
            lo, hi = ranges[c][0] * _size(net, c), ranges[c][1] * _size(net, c)
        bounds.append((lo, hi))
    n = float(np.prod([max((hi + 1 - lo) / s, 1.0) for (lo, hi), s in zip(bounds, spacing)]))
    check_cells(n, first_gid + n, f"{where}['gridSpacing']")
    axes = []
    for i, (lo, hi) in enumerate(bounds):
        axes.append(np.arange(lo, hi + 1, spacing[i]))
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
    return pts / np.array([_size(net, c) for c in _COORDS])


def _cells_list(pop: dict, net: dict, where: str) -> tuple[np.ndarray, list[dict]]:
    entries = pop["cellsList"]
    locs = np.zeros((len(entries), 3))
    for i, cell in enumerate(entries):
        if not isinstance(cell, dict):
            raise SpecError(f"{where}['cellsList'][{i}]: must be a dict of cell tags")
        for j, c in enumerate(_COORDS):
            if c in cell:
                locs[i, j] = float(cell[c]) / _size(net, c)
            elif c + "norm" in cell:
                locs[i, j] = float(cell[c + "norm"])
    return locs, entries


def build_population(label: str, pop: dict[str, Any], net: dict[str, Any], seeds: dict,
                     first_gid: int, compile_expr) -> PopBuild:
    """Place the cells of one population (positions, gids, tags)."""
    where = f"popParams['{label}']"
    ranges = _norm_ranges(pop, net, where)
    extra: list[dict] | None = None
    if "cellsList" in pop:
        norm, extra = _cells_list(pop, net, where)
    elif "numCells" in pop:
        n = int(float(netparam(net, "scale")) * float(pop["numCells"]))  # NetPyNE truncates
        check_cells(n, first_gid + n, f"{where}['numCells']")
        norm = _random_norm_locs(n, first_gid, net, seeds, ranges, key=int(pop["numCells"]))
    elif "density" in pop:
        norm = _density_locs(pop, net, seeds, first_gid, ranges, where, compile_expr)
    elif "gridSpacing" in pop:
        norm = _grid_locs(pop, net, ranges, where, first_gid)
    else:
        raise SpecError(f"{where}: needs one of numCells, density, gridSpacing or cellsList")
    n = len(norm)
    size = np.array([_size(net, c) for c in _COORDS])
    xyz = norm * size
    cols: dict[str, Any] = {
        "gid": np.arange(first_gid, first_gid + n, dtype=np.int64),
        "pop": Categorical.constant(label, n),
        "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
        "xnorm": norm[:, 0], "ynorm": norm[:, 1], "znorm": norm[:, 2],
        "source_format": Categorical.constant("netpyne", n),
        "source_pop": Categorical.constant(label, n),
        "source_id": np.arange(n, dtype=np.int64),
    }
    copied = netparam(net, "popTagsCopiedToCells")
    for key in copied:
        if key in pop and key != "params":
            cols[key] = _tag_column(pop[key], n, f"{where}['{key}']")
    if pop.get("diversity"):
        cols["fraction"] = _diversity_fractions(n, seeds, shuffled="gridSpacing" in pop)
    if extra is not None:
        _add_cells_list_tags(cols, extra, where)
    return PopBuild(label, Table(cols, n=n), dict(pop), None)


def _tag_column(value: Any, n: int, where: str):
    if isinstance(value, str):
        return Categorical.constant(value, n)
    if isinstance(value, (bool, Number)):
        return np.full(n, value)
    raise SpecError(f"{where}: a tag copied to cells must be a string or number")


def _diversity_fractions(n: int, seeds: dict, shuffled: bool) -> np.ndarray:
    fr = np.arange(0, n, dtype=np.float64) / max(n, 1)
    if shuffled:
        np.random.default_rng(seed=seeds.get("cell", 1)).shuffle(fr)
    return fr


def _add_cells_list_tags(cols: dict, entries: list[dict], where: str) -> None:
    keys = [k for e in entries for k in e if k not in cols or k in ("cellType", "cellModel")]
    for key in dict.fromkeys(keys):
        if key in _COORDS or key in ("xnorm", "ynorm", "znorm"):
            continue
        vals = [e.get(key) for e in entries]
        name = f"params.{key}" if key in ("spkTimes", "params") else key
        if key == "params":
            for pkey in dict.fromkeys(k for v in vals if v for k in v):
                _set_list_column(cols, f"params.{pkey}", [(v or {}).get(pkey) for v in vals],
                                 f"{where}['cellsList'][*]['params']['{pkey}']")
            continue
        _set_list_column(cols, name, vals, f"{where}['cellsList'][*]['{key}']")


def _set_list_column(cols: dict, name: str, vals: list, where: str) -> None:
    if all(v is None or isinstance(v, str) for v in vals):
        cols[name] = Categorical.from_values(vals)
    elif all(isinstance(v, (list, tuple, np.ndarray)) for v in vals):
        cols[name] = Ragged.from_lists([list(map(float, v)) for v in vals])
    elif all(v is None or isinstance(v, (Number, bool)) for v in vals):
        cols[name] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    else:
        raise SpecError(f"{where}: values must all be strings, numbers or lists")
