"""Write a :class:`~nethub.converters.sonata_export_model.SonataExport` as a SONATA folder.

Layout (paths relative to the folder, resolved through ``$BASE_DIR = "."``)::

    circuit_config.json  simulation_config.json  node_sets.json
    network/<stem>_nodes.h5 + <types>.csv     (one per node file)
    network/<edges>_edges.h5 + <edges>_edge_types.csv
    components/point_neuron_models/*.json  components/synaptic_models/*.json
    components/templates/*.hoc  components/morphologies/*  components/mechanisms/modfiles/*.mod
    inputs/<pop>_spikes.h5                    (VecStim spike times)
    output/spikes.h5, output/<trace>.h5       (a stored run and its traces, when asked)

The flavour is :mod:`.writer`'s (libsonata and BMTK both read it). The whole folder is written
under a temporary name and swapped in at the end (:func:`nethub.store.replace_dir`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethub.errors import FormatError

from .atomic import atomic_dir
from .edges import EdgePopulation
from .nodes import NodePopulation
from .nodesets import write_node_sets
from .results import run_spikes as results_spikes
from .results import write_run
from .sources import write_sources
from .spikes import write_spikes
from .types import write_types_csv
from .writer import (
    default_properties,
    simulation_doc,
    types_table,
    write_edges,
    write_json,
    write_nodes,
)

__all__ = ["write_export", "run_spikes", "libsonata_dialect", "LIBSONATA_CONFIG"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
#: The simulation config in libsonata's input and report spellings (see
#: :func:`libsonata_dialect`).
LIBSONATA_CONFIG = "simulation_config_libsonata.json"


def write_export(exp: Any, out_dir: str | os.PathLike[str], *, overwrite: bool = False,
                 runs: Sequence[Any] = (), cell_types: Mapping[str, Any] | None = None,
                 lost: list[str] | None = None) -> Path:
    """Write a SONATA export into a new folder (atomically).

    Parameters
    ----------
    exp : SonataExport
        What :func:`nethub.converters.sonata_export.network_to_sonata` made.
    out_dir : path-like
        Refused if it exists and is not empty, unless ``overwrite``.
    overwrite : bool
    runs : sequence of Results
        Runs whose spikes are written, keyed by (population, node_id): the last one as
        ``output/spikes.h5`` (the file the simulation config names), every earlier one as
        ``output/<run name>/spikes.h5``.
        Their traces become element reports beside the spikes, ``<trace label>.h5`` (one
        SONATA results writer for every run: :func:`.results.write_run`).
    cell_types : mapping, optional
        The network's cell types: a report's element ids are the sections' positions in them
        (the exported templates' section order).
    lost : list of str, optional
        Receives the traces not written (not evenly sampled).

    Returns
    -------
    Path
        The simulation config.
    """
    out_dir = Path(out_dir)
    counts = {p.name: int(np.max(p.node_ids)) + 1 if len(p.node_ids) else 0
              for f in exp.node_files for p in f.populations}  # index rows: 0..max node id
    with atomic_dir(out_dir, overwrite) as tmp:
        net = tmp / "network"
        net.mkdir()
        nodes = [_node_file(net, nf) for nf in exp.node_files]
        edges = [_edge_file(net, e, counts) for e in exp.edges]
        for rel, data in exp.files.items():
            _put(tmp, rel, data)
        for folder in exp.components.values():  # every component folder exists
            if folder.startswith("$BASE_DIR/") and not Path(folder).suffix:
                (tmp / folder[len("$BASE_DIR/"):]).mkdir(parents=True, exist_ok=True)
        for rel, _, spikes in exp.spike_inputs.values():
            _put(tmp, rel, b"")
            write_spikes(tmp / rel, spikes)
        write_node_sets(tmp / "node_sets.json", exp.node_sets)
        write_json(tmp / "circuit_config.json", {
            "manifest": {"$BASE_DIR": ".", "$NETWORK_DIR": "$BASE_DIR/network"},
            "components": dict(exp.components),
            "node_sets_file": "$BASE_DIR/node_sets.json",
            "networks": {"nodes": nodes, "edges": edges}})
        sim = simulation_doc(exp.simulation)
        write_json(tmp / "simulation_config.json", sim)
        write_json(tmp / LIBSONATA_CONFIG, libsonata_dialect(sim))
        _write_runs(tmp / "output", runs, exp.gid_map, cell_types or {},
                    lost if lost is not None else [])
        write_sources(tmp, exp.sources, exp.source_tops)  # last: records what was written
    return out_dir / "simulation_config.json"


def libsonata_dialect(sim: dict[str, Any]) -> dict[str, Any]:
    """The simulation config with libsonata's spellings of inputs and reports.

    BMTK 1.2 runs a ``spikes`` input only with ``module`` sonata/h5/csv/nwb and a current clamp
    only with ``module: IClamp``; libsonata 0.2.2 refuses both (it wants ``synapse_replay`` with
    ``spike_file``, ``delay``, ``duration``, and ``linear`` with ``amp_start``), and its reports
    need ``type``, ``start_time``, ``end_time``. No single file satisfies both, so the export
    writes ``simulation_config.json`` for BMTK and this one for libsonata; they differ only
    there (BMTK's keys are kept, so nethub imports either)."""
    out = json.loads(json.dumps(sim))
    tstop = float(out.get("run", {}).get("tstop", 0.0))
    inputs = out.get("inputs") or {}
    for name in [n for n, i in inputs.items() if i.get("input_type") in ("csv", "nwb")]:
        del inputs[name]  # BMTK's file clamps: libsonata has none (the export's losses say so)
    for inp in inputs.values():
        if inp.get("input_type") == "spikes":
            inp.update(module="synapse_replay", spike_file=inp.get("input_file"))
            inp.setdefault("delay", 0.0)
            inp.setdefault("duration", tstop)
        elif inp.get("input_type") == "current_clamp":
            inp.update(module="linear", amp_start=inp.get("amp", 0.0))
    for rep in (out.get("reports") or {}).values():
        rep.setdefault("type", "compartment")
        rep.setdefault("start_time", 0.0)
        rep.setdefault("end_time", tstop)
    return out


def _put(root: Path, rel: str, data: bytes) -> None:
    path = (root / rel).resolve()
    if root.resolve() not in path.parents:
        raise FormatError(f"component file {rel!r} would be written outside the folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _node_file(net: Path, nf: Any) -> dict[str, Any]:
    pops = {}
    for p in nf.populations:
        n = len(p.node_ids)
        pops[p.name] = NodePopulation(p.name, p.node_ids, p.node_type_ids, np.zeros(n, np.int64),
                                      np.arange(n, dtype=np.int64), p.attributes,
                                      p.dynamics_params, nf.types)
    h5 = f"{nf.stem}_nodes.h5"
    write_nodes(net / h5, pops)
    if nf.types_csv is not None:
        (net / nf.types_name).write_bytes(nf.types_csv)
    else:
        used = np.concatenate([p.node_type_ids for p in nf.populations])
        write_types_csv(net / nf.types_name, types_table(nf.types, used), "node_type_id")
    props = {name: default_properties(pop) for name, pop in pops.items()}
    return {"nodes_file": f"$NETWORK_DIR/{h5}",
            "node_types_file": f"$NETWORK_DIR/{nf.types_name}", "populations": props}


def _edge_file(net: Path, e: Any, counts: dict[str, int]) -> dict[str, Any]:
    for end in (e.source, e.target):
        if end not in counts:
            raise FormatError(f"edge population {e.name!r} refers to node population {end!r}, "
                              "which is not written")
    n = len(e.source_ids)
    pop = EdgePopulation(e.name, e.source, e.target, e.source_ids, e.target_ids,
                         e.edge_type_ids, np.zeros(n, np.int64), np.arange(n, dtype=np.int64),
                         e.attributes, pd.DataFrame(index=pd.RangeIndex(n)), e.types)
    write_edges(net / f"{e.name}_edges.h5", {e.name: pop}, counts)
    write_types_csv(net / f"{e.name}_edge_types.csv", e.types, "edge_type_id")
    return {"edges_file": f"$NETWORK_DIR/{e.name}_edges.h5",
            "edge_types_file": f"$NETWORK_DIR/{e.name}_edge_types.csv",
            "populations": {e.name: {"type": "chemical"}}}


def run_spikes(res: Any, gid_map: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A run's spikes keyed by population: ``{population: (node_ids, times_ms)}`` (spikes of
    gids that are no cell of the exported network are left out; :func:`.results.run_spikes`)."""
    return results_spikes(res, _sorted_keys(gid_map), strict=False)


def _sorted_keys(gid_map: pd.DataFrame) -> pd.DataFrame:
    return gid_map.sort_values("gid", kind="stable").reset_index(drop=True)


def _write_runs(out: Path, runs: Sequence[Any], gid_map: pd.DataFrame,
                cell_types: Mapping[str, Any], lost: list[str]) -> None:
    """Each run through the one SONATA results writer (:func:`.results.write_run`)."""
    runs = list(runs)
    if not runs:
        return
    keys = _sorted_keys(gid_map)
    for i, res in enumerate(runs):
        last = i == len(runs) - 1
        name = str(res.name or "")
        if not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
            name = f"run_{i:04d}"
        write_run(out if last else out / name, res, keys, cell_types=cell_types,
                  strict=False, lost=lost)
