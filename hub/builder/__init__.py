"""Specs → network: build a canonical :class:`~nethub.network.Network` from NetPyNE-style
netParams / simConfig, vectorized and deterministic.

>>> net = nethub.build(net_params, sim_config)        # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..celltypes import Population, SynMech
from ..errors import SpecError
from ..mechsource import read_mod_dir as read
from ..mechsource import read_mod_dirs, remember_trusted
from ..network import CELL_COLUMNS, Network
from ..ranges import network_findings
from ..specs.schema import NETWORK_SCALARS, netparam
from ..specs.unsupported import check_not_simulated
from ..specs.values import check_spec
from ..table import Table
from .budget import check_connections
from .cellexpr import resolve_cell_expressions, with_diversity_ranges
from .cellimport import collecting
from .cells import assign_cell_types
from .connect import build_connections
from .context import BuildContext
from .pointcells import point_cell_params
from .pops import build_population
from .stims import build_stims
from .subconn import apply_subconn

__all__ = ["build", "spec_dicts", "read_mod_dir"]

logger = logging.getLogger(__name__)

_POINTER_KEYS = ("pointerParams",)


def spec_dicts(net_params: Any, sim_config: Any = None) -> tuple[dict, dict]:
    """Plain-dict copies of netParams and simConfig given as our spec objects, dicts, or any
    object with a ``to_dict()``/``__dict__`` (e.g. NetPyNE's own classes)."""
    return _as_dict(net_params, "netParams"), _as_dict(sim_config, "simConfig")


def apply_cfg_mapping(net: dict, cfg: dict) -> None:
    """NetPyNE's ``setCfgMapping`` (run when it sets up a simulation): each cfg key of
    ``net['mapping']`` that ``cfg`` has sets the value at its netParams path (dotted or a key
    list), in place."""
    for key, target in (net.get("mapping") or {}).items():
        if key not in cfg:
            continue
        path = target.split(".") if isinstance(target, str) else list(target)
        container: Any = net
        try:
            for part in path[:-1]:
                container = container[part]
            container[path[-1]] = copy.deepcopy(cfg[key])
        except (KeyError, IndexError, TypeError) as exc:
            raise SpecError(f"netParams['mapping']['{key}']: no netParams entry at {target!r} "
                            f"({exc!r})") from None


def _as_dict(obj: Any, what: str) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return copy.deepcopy(dict(obj))
    if hasattr(obj, "to_dict"):
        return copy.deepcopy(obj.to_dict())
    if hasattr(obj, "todict"):
        return copy.deepcopy(obj.todict())
    if hasattr(obj, "__dict__"):
        return copy.deepcopy({k: v for k, v in vars(obj).items() if not k.startswith("_")})
    raise SpecError(f"{what}: expected a dict or a spec object, got {type(obj).__name__}")


def _syn_mechs(net: dict) -> dict[str, SynMech]:
    out = {}
    for label, p in (net.get("synMechParams") or {}).items():
        where = f"synMechParams['{label}']"
        if not isinstance(p, Mapping) or "mod" not in p:
            raise SpecError(f"{where}: needs 'mod' (the NEURON mechanism name)")
        params = {k: v for k, v in p.items()
                  if k not in ("mod", "selfNetCon", "loc", "pointerParams")}
        pointer = p.get("pointerParams")
        if pointer is not None:
            pointer = {"source_var": pointer.get("source_var", "v"),
                       "target_var": pointer.get("target_var"),
                       "bidirectional": bool(pointer.get("bidirectional", True))}
        out[label] = SynMech(name=label, model=p["mod"], params=params, pointer=pointer,
                             self_netcon=p.get("selfNetCon"), loc=p.get("loc"))
    return out


def _net_params(net: dict) -> dict[str, Any]:
    """Network-wide scalars kept with the network (what the simulator needs)."""
    return {k: netparam(net, k) for k in NETWORK_SCALARS}


def _warn_scaled_gids(net: dict, pop_params: dict) -> None:
    """NetPyNE numbers the cells of a scaled model (``scale != 1``) with holes: each population
    after the first starts at the previous ones' *unscaled* counts, and its positions and
    random streams follow those gids. nethub's gids stay contiguous, so from the second
    population on the network is not NetPyNE's: said loudly, never silently."""
    scale = float(netparam(net, "scale"))
    scaled = [k for k, p in pop_params.items() if "numCells" in p]
    if scale != 1 and len(pop_params) > 1 and scaled:
        logger.warning(
            "netParams.scale = %g: NetPyNE leaves gid holes after each scaled population (the "
            "next one starts at the unscaled count) and draws positions and connections by "
            "those gids; nethub numbers cells contiguously, so populations after %r get other "
            "positions, connections and spikes than in NetPyNE (counts are NetPyNE's)", scale,
            next(iter(pop_params)))


def build_cells(ctx: BuildContext) -> tuple[Table, dict, dict]:
    """Place every population (in popParams order) and assign cell types."""
    pops, first = [], 0
    pop_params = ctx.net.get("popParams") or {}
    _warn_scaled_gids(ctx.net, pop_params)
    for label, pop in pop_params.items():
        pb = build_population(label, dict(pop), ctx.net, ctx.seeds, first, ctx.compile)
        pops.append(pb)
        first += len(pb.cells)
    cells = Table.concat([pb.cells for pb in pops]) if pops else Table()

    cells = Table(cells.columns, CELL_COLUMNS, n=len(cells))
    cell_params = with_diversity_ranges(ctx.net.get("cellParams") or {})
    ct_col, types = assign_cell_types(cells, pops, cell_params)
    cells["cell_type"] = ct_col
    point_cell_params(ctx, cells, pops, types)  # per-cell point-cell parameters, spike trains
    resolve_cell_expressions(ctx, cells, types)  # cellParams expressions, rotation
    populations = {}
    for pb in pops:
        names = sorted(set(ct_col.take(np.flatnonzero(
            cells["pop"].codes == cells["pop"].code_of(pb.label))).values()))
        tags = {k: v for k, v in pb.tags.items() if k != "cellsList"}
        # the cell type is per cell: a population that mixes types has None
        populations[pb.label] = Population(pb.label, names[0] if len(names) == 1 else
                                           None, len(pb.cells), tags=tags)
    return cells, types, populations


def read_mod_dir(path) -> dict[str, str]:
    """The .mod files of a folder (NetPyNE models keep theirs in ``mod/``), by file name, with
    the files they INCLUDE (:func:`nethub.mechsource.read_mod_dir`). A folder the caller names
    is the caller's own code: its native code (VERBATIM) is trusted in this process."""
    files = read(path)
    remember_trusted(files, persist=False)
    return files


def build(net_params: Any, sim_config: Any = None, *, progress: bool = False,
          mod_files: dict[str, str] | None = None, mod_dirs: Any = None) -> Network:
    """Build the network a NetPyNE-style spec describes.

    Parameters
    ----------
    net_params : NetParams, dict or NetPyNE NetParams
    sim_config : SimConfig, dict or None
        Only ``seeds``, the connection options (``allowSelfConns``,
        ``allowConnsWithWeight0``, ``connRandomSecFromList``, ``distributeSynsUniformly``)
        and the values ``netParams.mapping`` copies into netParams matter for building.
    progress : bool
        Show a progress bar over connection rules.
    mod_files : dict of str to str, optional
        NMODL sources (file name → text) the model needs; stored with the network so the
        store is self-contained (see :func:`read_mod_dir`).
    mod_dirs : sequence of path-like, optional
        Folders of .mod files (NetPyNE's ``mod/``), read with the files they INCLUDE and added
        to ``mod_files``. Sources named here or in ``mod_files`` are the caller's own code:
        their native code (VERBATIM) is trusted in this process (:mod:`nethub.mechsource`).

    Returns
    -------
    Network
        With the original spec stored in ``network.spec``.
    """
    t0 = time.perf_counter()
    mod_files = _own_mod_files(mod_files, mod_dirs)
    net, cfg = spec_dicts(net_params, sim_config)
    apply_cfg_mapping(net, cfg)
    check_spec(net, cfg)  # the schema's value checks, also for plain dicts
    check_not_simulated(net, cfg, "build")  # keys nethub stores but does not simulate
    ctx = BuildContext(net, cfg)
    with collecting(mod_files) as imported:  # importCellParams: templates and their mods
        cells, types, populations = build_cells(ctx)
    mod_files = {**imported.new_mod_files, **mod_files}
    for label, mech in imported.syn_mechs.items():  # importCellParams(importSynMechs=True)
        net.setdefault("synMechParams", {}).setdefault(label, mech)
    ctx.cells = cells
    check_connections(net, {k: p.size for k, p in populations.items()})  # before allocating
    syn_mechs = _syn_mechs(net)

    conns, pointers = build_connections(ctx, syn_mechs, types, progress=progress)
    # HOOK subconn: subConnParams redistribute the synapses of `conns` here
    conns = apply_subconn(ctx, conns, types)
    sources, targets = build_stims(ctx, syn_mechs, types)
    network = Network(
        cell_types=types, syn_mechs=syn_mechs, populations=populations,
        stim_sources=sources, cells=cells, connections=conns, pointer_conns=pointers,
        stim_targets=targets,
        spec={"netParams": net, "simConfig": cfg}, params=_net_params(net),
        mod_files=dict(mod_files or {}), files=imported.files,
        provenance={"creator": "nethub.build", "seeds": ctx.seeds},
        rxd=net.get("rxdParams") or None,
    )
    check_built_values(network)
    logger.info("built %r in %.2f s", network, time.perf_counter() - t0)
    return network


def check_built_values(network: Network) -> None:
    """SpecError if the built network holds a number NEURON cannot simulate (NaN/inf weight,
    negative delay, location outside [0, 1], ...), naming table, column and rule."""
    findings = network_findings(network)
    if findings:
        lines = "\n  - ".join(f"{where}: {msg}" for where, msg in findings)
        raise SpecError(f"the spec builds a network NEURON cannot simulate:\n  - {lines}")


def _own_mod_files(mod_files: dict[str, str] | None, mod_dirs: Any) -> dict[str, str]:
    out = dict(mod_files or {})
    if mod_dirs:
        out.update(read_mod_dirs([mod_dirs] if isinstance(mod_dirs, (str, bytes)) or
                                 hasattr(mod_dirs, "__fspath__") else mod_dirs))
    if out:
        remember_trusted(out, persist=False)  # the caller's own code, in this process
    return out
