"""``nethub swap`` and :func:`nethub.swap`: give the cells of a population or selection another
cell type (detailed <-> point, e.g. HH <-> Izhikevich <-> IntFire), keeping gids, positions and
connections; swapping back gives the original network (and content hash). (The module is not
``nethub.swap``: that name is the function.)

The new cell type comes from, in this order: a :class:`~nethub.celltypes.CellType` object; the
``source`` -- another store or model file (its cell type of that name, with the .mod files it
needs), a NetPyNE spec file or folder (its ``cellParams`` rule of that name) or a cellParams rule
dict; the network itself; the built-ins (:data:`BUILTIN_TYPES`). Swapping the latest swapped
cells back to the type they had (same selection, no source, no map) undoes that swap exactly
(:func:`nethub.swaptables.undo_swap`); :func:`unswap` does so explicitly. The table work is in
:mod:`nethub.swaptables`.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .api import load, save
from .builder.cells import compartmental_from_rules
from .builder.pops import POINT_CELL_MODELS
from .celltypes import CellType, CompartmentalCell, PointCell
from .errors import ConversionError, SpecError
from .network import Network
from .nmodl.info import mechanism_info
from .selection import match_conds
from .swaptables import SynMap, last_swap, old_types, swap_cell_type, undo_swap

__all__ = ["swap", "unswap", "BUILTIN_TYPES", "cell_type_from_rule", "add_arguments", "run"]

logger = logging.getLogger(__name__)

#: NetPyNE's tutorial HH soma (HHTut's PYR), as a cellParams rule
_HH_RULE = {"secs": {"soma": {"geom": {"diam": 18.8, "L": 18.8, "Ra": 123.0},
                              "mechs": {"hh": {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.003,
                                               "el": -70}}}}}
#: Cell types available by name without a source: NEURON's integrate-and-fire cells (NEURON's
#: default parameters) and a one-compartment Hodgkin-Huxley cell.
BUILTIN_TYPES: dict[str, dict] = {
    "IntFire1": {"cellModel": "IntFire1"},
    "IntFire2": {"cellModel": "IntFire2"},
    "IntFire4": {"cellModel": "IntFire4"},
    "HH": _HH_RULE,
}
_SPEC_SUFFIXES = (".py", ".npjson")


def cell_type_from_rule(name: str, rule: Mapping[str, Any]) -> CellType:
    """A NetPyNE ``cellParams`` rule as a cell type, as ``nethub.build`` makes it: an
    artificial cell for ``cellModel`` in NetPyNE's point-cell models (its ``params``), else a
    compartmental cell from ``secs``."""
    if not isinstance(rule, Mapping):
        raise SpecError(f"cellParams['{name}'] must be a dict, not {type(rule).__name__}")
    model = rule.get("cellModel")
    if model in POINT_CELL_MODELS:
        return PointCell(name=name, model=model, params=dict(rule.get("params") or {}),
                         tags={"cellModel": model},
                         provenance={"source": "netpyne cellParams", "rules": [name]})
    if not rule.get("secs"):
        raise SpecError(f"cellParams['{name}']: needs 'secs' (or a cellModel of "
                        f"{sorted(POINT_CELL_MODELS)})")
    return compartmental_from_rules(name, [(name, dict(rule))])


# ----------------------------------------------------------------------------- API
def swap(model: Network | str | os.PathLike, cell_type: str | CellType | None = None, *,
         pop: str | None = None, select: Mapping[str, Any] | None = None,
         source: Any = None, syn_map: Mapping[str, Any] | SynMap | None = None,
         mod_files: Mapping[str, str] | str | os.PathLike | None = None,
         name: str | None = None, output: str | os.PathLike | None = None) -> Network:
    """Give the chosen cells of a network another cell type.

    Parameters
    ----------
    model : Network or path
        The network, or a file nethub reads (a store, ...).
    cell_type : str or CellType
        The new type, or its name (looked up as the module docstring says).
    pop : str, optional
        Swap this population's cells.
    select : dict, optional
        NetPyNE-style conditions on the cells (``{'pop': 'E', 'x': [0, 100]}``); with ``pop``
        both must hold. At least one of ``pop`` and ``select`` is needed.
    source : Network, path or dict, optional
        Where the named type comes from: a store/model file, a NetPyNE spec (file, folder or
        index), or a cellParams rule dict.
    syn_map : dict or SynMap, optional
        ``{'sec': {old: new, '*': default}, 'synMech': {old: new, '*': ...}, 'loc': x,
        'weight': factor}``: where connections and stimuli onto the swapped cells land, and a
        factor on their weights.
    mod_files : dict or path, optional
        NMODL sources the new type needs (file name -> text, or a folder of .mod files); a
        store source brings its own.
    name : str, optional
        Name of the new cell type in the network (default: its own).
    output : path, optional
        Also write the result there (a store; atomically).

    Returns
    -------
    Network
        The network with the swap (recorded in ``provenance['swaps']``).
    """
    net = _network(model)
    rows = _rows(net, pop, select)
    wanted = cell_type.name if isinstance(cell_type, (CompartmentalCell, PointCell)) else \
        cell_type
    if wanted is None:
        raise ConversionError("swap: name the new cell type (cell_type)")
    if _is_swap_back(net, rows, wanted, source, syn_map, name):
        out = undo_swap(net)
        logger.info("swapped %d cells back to %s (undoing the latest swap)", rows.sum(), wanted)
    else:
        new, mods, files, note = _new_type(net, cell_type, source, mod_files, name)
        smap = syn_map if isinstance(syn_map, SynMap) else SynMap.from_dict(syn_map)
        out = swap_cell_type(net, rows, new, syn_map=smap, mod_files=mods, files=files,
                             note=note)
        logger.info("swapped %d cells to %s (%s)", rows.sum(), new.name, note)
    if output is not None:
        save(out, output)
    return out


def unswap(model: Network | str | os.PathLike, output: str | os.PathLike | None = None
           ) -> Network:
    """Undo the latest swap of a network exactly (see :func:`nethub.swaptables.undo_swap`)."""
    out = undo_swap(_network(model))
    if output is not None:
        save(out, output)
    return out


def _network(model: Any) -> Network:
    if isinstance(model, Network):
        return model
    return load(model)


def _rows(net: Network, pop: str | None, select: Mapping[str, Any] | None) -> np.ndarray:
    if pop is None and not select:
        raise ConversionError("swap: choose the cells with a population (pop) and/or "
                              "conditions (select)")
    cells = net.cells
    mask = np.ones(len(cells), dtype=bool)
    if pop is not None:
        if pop not in net.populations and pop not in cells["pop"].categories:
            raise ConversionError(f"swap: unknown population {pop!r} (valid: "
                                  f"{', '.join(net.populations)})")
        mask &= cells["pop"].codes == cells["pop"].code_of(pop)  # type: ignore[union-attr]
    if select:
        mask &= match_conds(cells, dict(select), "swap select")
    if not mask.any():
        raise ConversionError(f"swap: no cell matches pop={pop!r} select={dict(select or {})}")
    return mask


def _is_swap_back(net: Network, rows: np.ndarray, wanted: str, source: Any, syn_map: Any,
                  name: Any) -> bool:
    rec = last_swap(net)
    if rec is None or source is not None or syn_map or name is not None:
        return False
    gids = np.asarray(net.cells["gid"])[rows].tolist()
    return gids == rec["gids"] and old_types(rec) == {wanted}


# ----------------------------------------------------------------------------- the new type
def _new_type(net: Network, cell_type: Any, source: Any, mod_files: Any, name: str | None
              ) -> tuple[CellType, dict[str, str], dict, str]:
    mods = _mod_files(mod_files)
    files: dict = {}
    if isinstance(cell_type, (CompartmentalCell, PointCell)):
        new, note = copy.deepcopy(cell_type), "given cell type"
    elif source is not None:
        new, src_mods, files, note = _from_source(str(cell_type), source)
        mods = {**src_mods, **mods}
    elif cell_type in net.cell_types:
        new, note = copy.deepcopy(net.cell_types[cell_type]), "the network's own"
    elif cell_type in BUILTIN_TYPES:
        new, note = cell_type_from_rule(cell_type, BUILTIN_TYPES[cell_type]), "built-in"
    else:
        raise ConversionError(
            f"swap: unknown cell type {cell_type!r}: not in the network "
            f"({', '.join(net.cell_types)}) nor built in ({', '.join(BUILTIN_TYPES)}); give a "
            "source (a store, a spec or a cellParams rule)")
    if name:
        new.name = name
    return new, _needed(new, mods), files, note


def _from_source(type_name: str, source: Any) -> tuple[CellType, dict[str, str], dict, str]:
    if isinstance(source, Mapping):
        return cell_type_from_rule(type_name, source), {}, {}, "cellParams rule"
    if isinstance(source, Network):
        return _from_network(type_name, source, "given network")
    path = Path(source)
    if path.is_dir() or path.suffix.lower() in _SPEC_SUFFIXES:
        from .specs import load_spec

        net_params, _ = load_spec(path)
        rules = dict(net_params.get("cellParams") or {}) if isinstance(net_params, Mapping) \
            else dict(net_params.cellParams)
        if type_name not in rules:
            raise ConversionError(f"{path}: no cellParams rule {type_name!r} (valid: "
                                  f"{', '.join(rules)})")
        mod_dir = (path if path.is_dir() else path.parent) / "mod"
        return (cell_type_from_rule(type_name, _plain(rules[type_name])), _mod_files(mod_dir)
                if mod_dir.is_dir() else {}, {}, f"cellParams of {path}")
    return _from_network(type_name, load(path), str(path))


def _plain(rule: Any) -> dict:
    """A cellParams rule as plain dicts (NetParams entries may be dict subclasses)."""
    return json.loads(json.dumps(rule, default=lambda o: o.__dict__ if hasattr(o, "__dict__")
                                 else str(o)))


def _from_network(type_name: str, src: Network, where: str
                  ) -> tuple[CellType, dict[str, str], dict, str]:
    if type_name not in src.cell_types:
        raise ConversionError(f"{where}: no cell type {type_name!r} (valid: "
                              f"{', '.join(src.cell_types)})")
    files = {k: f for k, f in src.files.items() if f.role == "template"}
    return copy.deepcopy(src.cell_types[type_name]), dict(src.mod_files), files, where


def _mod_files(given: Any) -> dict[str, str]:
    if given is None:
        return {}
    if isinstance(given, Mapping):
        return {str(k): str(v) for k, v in given.items()}
    folder = Path(given)
    if not folder.is_dir():
        raise ConversionError(f"{folder}: not a folder of .mod files")
    return {p.name: p.read_text() for p in sorted(folder.glob("*.mod"))}


def _needed(ct: CellType, mods: Mapping[str, str]) -> dict[str, str]:
    """The mod files that define a mechanism the cell type uses."""
    if isinstance(ct, PointCell):
        used = {ct.model}
    else:
        used = {m for s in ct.sections.values() for m in s.mechs}
        used |= {pp["mod"] for s in ct.sections.values() for pp in s.point_processes}
    out = {}
    for fname, text in mods.items():
        if mechanism_info(text, fname).name in used or Path(fname).stem in used:
            out[fname] = text
    return out


# ----------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``nethub swap``."""
    p.add_argument("input", help="the store (or any model file nethub reads)")
    p.add_argument("-o", "--output", required=True, help="the store to write")
    p.add_argument("--pop", help="swap this population's cells")
    p.add_argument("--select", metavar="JSON", help="conditions on the cells, e.g. "
                   "'{\"pop\": \"E\", \"x\": [0, 100]}' (with --pop: both)")
    p.add_argument("--cell-type", metavar="T", help="the new cell type (name)")
    p.add_argument("--from", dest="source", metavar="SOURCE",
                   help="store, model file or NetPyNE spec holding T (default: the network "
                        "itself, then the built-ins " + ", ".join(BUILTIN_TYPES) + ")")
    p.add_argument("--syn-map", metavar="JSON", help="where synapses land: '{\"sec\": "
                   "{\"dend\": \"soma\"}, \"synMech\": {\"*\": \"AMPA\"}, \"loc\": 0.5, "
                   "\"weight\": 1.0}' or a JSON file")
    p.add_argument("--mod-dir", metavar="DIR", help="folder of the .mod files T needs")
    p.add_argument("--name", help="name of the new type in the network (default: T)")
    p.add_argument("--undo", action="store_true", help="undo the latest swap instead")


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    if os.path.isfile(text):
        text = Path(text).read_text()
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SpecError(f"{what}: not valid JSON ({exc})") from None


def run(args: argparse.Namespace) -> int:
    """Run ``nethub swap``."""
    from .cli import out

    before = load(args.input)
    n_before = len(before.provenance.get("swaps") or [])
    if args.undo:
        net = unswap(before, args.output)
    else:
        net = swap(before, args.cell_type, pop=args.pop,
                   select=_json_arg(args.select, "--select"), source=args.source,
                   syn_map=_json_arg(args.syn_map, "--syn-map"), mod_files=args.mod_dir,
                   name=args.name, output=args.output)
    rec = last_swap(net)
    if len(net.provenance.get("swaps") or []) < n_before:
        what = "the latest swap undone"
    else:
        what = (f"{len(rec['gids'])} cells -> {rec['new_type']}, "
                f"{len(rec['connections'].get('rows', []))} connections and "
                f"{len(rec['stim_targets'].get('rows', []))} stimuli remapped")
    out(f"swapped {args.input} -> {args.output}: {what} (content hash "
        f"{net.content_hash()[:16]})")
    return 0
