"""The run configuration a store carries -> a SONATA simulation config's ``run``,
``conditions`` and ``reports`` (part of :mod:`nethub.converters.sonata_export`).

Which run configuration: the one given (the format passes the exported run's), else
``Network.run_config`` (a RunConfig stored with the
model), else the ``run``/``conditions`` of an embedded SONATA simulation config (a store imported
from SONATA), else the stored NetPyNE simConfig's ``duration``, ``dt``, ``hParams.celsius``,
``hParams.v_init``, ``seeds.stim`` (NetPyNE's defaults where absent), else RunConfig's defaults.
The converters may not import the builder's full simConfig mapping
(``nethub.specs.runmap``), so only these members, which are all SONATA's ``run`` and
``conditions`` hold, are read here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethub.network import Network
from nethub.runconfig import RunConfig

__all__ = ["simulation_members", "run_settings"]

#: NetPyNE simConfig defaults of the members read here.
_NETPYNE_DEFAULTS = {"duration": 1000.0, "dt": 0.025, "celsius": 6.3, "v_init": -65.0}


def run_settings(net: Network, run_config: RunConfig | None = None
                 ) -> tuple[dict[str, Any], dict[str, Any], RunConfig | None]:
    """``(run, conditions, RunConfig or None)`` for the simulation config."""
    rc = run_config if run_config is not None else getattr(net, "run_config", None)
    if isinstance(rc, Mapping):
        rc = RunConfig.from_dict(rc)
    if isinstance(rc, RunConfig):
        return _from_run_config(rc), {"celsius": rc.temperature, "v_init": rc.v_init}, rc
    embedded = _embedded_simulation(net)
    if embedded is not None:
        run = dict(embedded.get("run") or {})
        run.setdefault("random_seed", 0)
        return run, dict(embedded.get("conditions") or {}), None
    sim = (net.spec or {}).get("simConfig") if isinstance(net.spec, Mapping) else None
    if isinstance(sim, Mapping):
        h = sim.get("hParams") or {}
        seeds = sim.get("seeds") or {}
        run = {"tstop": float(sim.get("duration", _NETPYNE_DEFAULTS["duration"])),
               "dt": float(sim.get("dt", _NETPYNE_DEFAULTS["dt"])),
               "random_seed": int(seeds.get("stim", 0)) if isinstance(seeds, Mapping) else 0}
        cond = {"celsius": float(h.get("celsius", _NETPYNE_DEFAULTS["celsius"])),
                "v_init": float(h.get("v_init", _NETPYNE_DEFAULTS["v_init"]))}
        return run, cond, None
    rc = RunConfig()
    return _from_run_config(rc), {"celsius": rc.temperature, "v_init": rc.v_init}, rc


def _from_run_config(rc: RunConfig) -> dict[str, Any]:
    run: dict[str, Any] = {"tstop": float(rc.duration), "dt": float(rc.dt),
                           "random_seed": int((rc.seeds or {}).get("stim", 0))}
    if rc.spike_threshold is not None:
        run["spike_threshold"] = float(rc.spike_threshold)
    return run


def _embedded_simulation(net: Network) -> dict[str, Any] | None:
    """The embedded SONATA simulation config with a ``run`` member (the last one)."""
    found = None
    for f in net.files_with_role("sonata-config"):
        try:
            doc = json.loads(f.data)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("run"), dict):
            found = doc
    return found


def simulation_members(net: Network, run_config: RunConfig | None, node_sets: dict[str, Any],
                       gmap: pd.DataFrame, lost: list[str]) -> dict[str, Any]:
    """``run``, ``conditions`` and ``reports`` of the simulation config."""
    run, cond, rc = run_settings(net, run_config)
    out: dict[str, Any] = {"run": run, "conditions": cond, "target_simulator": "NEURON"}
    if rc is not None:
        reports = _reports(rc, node_sets, gmap, lost)
        if reports:
            out["reports"] = reports
    else:
        embedded = _embedded_simulation(net)
        if embedded is not None and embedded.get("reports"):
            lost.append(f"the imported simulation config's reports {sorted(embedded['reports'])} "
                        "are not written (their node sets are not carried)")
        sim = (net.spec or {}).get("simConfig") if isinstance(net.spec, Mapping) else None
        if isinstance(sim, Mapping) and sim.get("recordTraces"):
            lost.append("the simConfig's recordTraces are not written as SONATA reports "
                        "(pass a RunConfig to export them)")
    return out


def _reports(rc: RunConfig, node_sets: dict[str, Any], gmap: pd.DataFrame,
             lost: list[str]) -> dict[str, Any]:
    """Section-variable traces -> ``membrane_report`` entries (at the soma), one per trace, on
    a node set of the traced cells (compound: one set per population); other traces are
    reported."""
    out: dict[str, Any] = {}
    for tr in rc.traces:
        if tr.mech or tr.syn_mech or tr.point_process or tr.stim or tr.all_segments:
            lost.append(f"trace {tr.label!r}: only section variables become SONATA reports")
            continue
        cells = _selected(tr.cells if tr.cells is not None else rc.trace_cells, gmap)
        if cells is None or tr.conds:
            lost.append(f"trace {tr.label!r}: cells chosen by (population, index) pairs or "
                        "conds are not written as a report")
            continue
        if not cells:
            lost.append(f"trace {tr.label!r} selects no cells; no report written")
            continue
        label = tr.label[len("sonata:"):] if tr.label.startswith("sonata:") else tr.label
        sets = {pop: {"population": pop, "node_id": ids} for pop, ids in cells.items()}
        if len(sets) == 1:
            node_sets[f"report_{label}"] = next(iter(sets.values()))
        else:  # a compound node set of one set per population
            node_sets.update({f"report_{label}_{pop}": v for pop, v in sets.items()})
            node_sets[f"report_{label}"] = [f"report_{label}_{pop}" for pop in sets]
        out[label] = {"cells": f"report_{label}", "variable_name": tr.variable,
                      "module": "membrane_report", "sections": "soma",
                      "dt": float(tr.step or rc.record_step)}
        if tr.sec not in (None, "soma") or tr.loc != 0.5:
            lost.append(f"trace {tr.label!r} at {tr.sec}({tr.loc}) written as a soma report")
    return out


def _selected(sel: Any, gmap: pd.DataFrame) -> dict[str, list[int]] | None:
    if sel is None or sel.is_empty():
        return {}
    if getattr(sel, "pop_cells", ()):
        return None
    mask = np.zeros(len(gmap), bool)
    if sel.all:
        mask[:] = True
    mask |= np.isin(gmap["gid"].to_numpy(), np.asarray(sel.gids, np.int64))
    mask |= np.isin(gmap["population"].to_numpy(dtype=object), list(sel.populations))
    out: dict[str, list[int]] = {}
    for pop, ids in gmap[mask].groupby("population", sort=False)["node_id"]:
        out[str(pop)] = sorted(int(i) for i in ids)
    return out
