"""The simulation side of a SONATA import: simulation config -> :class:`RunConfig` and stimuli.

:func:`simulation_run_config` maps ``run`` (tstop, dt, spike_threshold, random_seed; ``dL``
and the rest kept in ``extras['sonata']`` for the biophysical import), ``conditions`` (celsius,
v_init), ``reports`` (``membrane_report``: a variable at the soma or at every segment ->
:class:`TraceRequest`; ECP and other modules are reported as lost) and ``output`` (the files
BMTK writes: ``extras['output_files']`` entries of format ``"sonata"``, docs/simulate.md;
``output_dir`` and ``log_file`` in ``extras['sonata']``). Spikes are recorded on the
non-virtual cells, as BMTK records them.

:func:`clamp_stims` maps ``current_clamp`` (IClamp; amplitude / delay / duration lists: one
IClamp each; BMTK's ``csv`` / ``nwb`` file clamps, read by the file layer into
``circuit.clamp_waveforms``, as a played amplitude) and ``voltage_clamp`` (SEClamp) inputs, and
libsonata's clamp modules (:mod:`.sonata_sim_waveforms`), onto stimulation sources and
targets on the soma of the cells of their node set; on point and virtual cells (no soma) they
are reported as lost. A report of several variables becomes one trace request (and one output
file) per variable; its first sample is one step after ``start_time``, as BMTK samples.

A circuit of point and virtual cells only runs in exact mode (``RunConfig.exact``: NEURON, no
merging -- there are no synapses -- and gids dealt round robin over ranks as BMTK deals
them). IntFire1 events that arrive at the same time are delivered in an order that depends on
the deal, in BMTK too (own_point: BMTK gives 1047 spikes on 1 rank, 1128 on 2); with BMTK's
deal nethub gives BMTK's spikes on the same number of ranks (with the cost-based deal,
300_intfire on 2 ranks gave 4489 spikes, BMTK 4322).

Converter layer: the node sets are resolved by the file layer's ``circuit.select``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nethub.celltypes import StimSource
from nethub.errors import FormatError
from nethub.runconfig import CellSelection, RunConfig, TraceRequest

from .sonata_sim_waveforms import (
    SECLAMP_DEFAULT_RS,
    WAVEFORM_MODULES,
    bmtk_seclamp_rs,
    waveform_clamp,
)

__all__ = ["simulation_run_config", "clamp_stims", "gids_of", "run_settings", "REPORT_LABEL",
           "SONATA_FORMAT", "section_names", "handles_input",
           "report_variables", "report_id"]

#: ``format`` of the ``RunConfig.extras['output_files']`` entries a SONATA ``output`` and its
#: reports ask for (written by :func:`nethub.formats.sonata.results.write_run_outputs`)
SONATA_FORMAT = "sonata"
#: trace label of a SONATA report ``<name>``
REPORT_LABEL = "sonata:{}"
#: run keys the RunConfig holds in fields of its own
_RUN_FIELDS = {"tstop": "duration", "dt": "dt", "spike_threshold": "spike_threshold"}
#: BMTK 1.2 ``IClamp`` input types with amplitudes from a file (read by the file layer into
#: ``circuit.clamp_waveforms``)
FILE_CLAMP_TYPES = ("csv", "file", "nwb", "allen")
#: the soma section of a biophysical cell, where BMTK puts clamps and soma reports
SOMA = "soma"


def gids_of(cells: pd.DataFrame, selection: Mapping[str, np.ndarray]) -> np.ndarray:
    """The gids of the ``(population, node_ids)`` a node set selects (sorted; vectorized:
    one merge per population)."""
    out = []
    for pop, ids in selection.items():
        mine = cells.loc[cells["sonata.population"].to_numpy() == pop,
                         ["sonata.node_id", "gid"]]
        order = np.argsort(mine["sonata.node_id"].to_numpy(), kind="stable")
        keys = mine["sonata.node_id"].to_numpy()[order]
        pos = np.searchsorted(keys, np.asarray(ids, np.int64))
        ok = pos < len(keys)
        ok[ok] = keys[pos[ok]] == np.asarray(ids, np.int64)[ok]
        out.append(mine["gid"].to_numpy()[order][pos[ok]])
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.int64)


def run_settings(run: Mapping[str, Any], conditions: Mapping[str, Any]) -> dict[str, Any]:
    """RunConfig keyword arguments of ``run`` (tstop, dt, spike_threshold, random_seed) and
    ``conditions`` (celsius, v_init)."""
    kw: dict[str, Any] = {}
    for key, name in _RUN_FIELDS.items():
        if key in run:
            kw[name] = float(run[key])
    if "random_seed" in run:
        kw["seeds"] = {"stim": int(run["random_seed"]), "cell": int(run["random_seed"])}
    if "celsius" in conditions:
        kw["temperature"] = float(conditions["celsius"])
    if "v_init" in conditions:
        kw["v_init"] = float(conditions["v_init"])
    return kw


def simulation_run_config(circuit: Any, cells: pd.DataFrame, lost: list[str]) -> RunConfig:
    """The RunConfig of a SONATA simulation config (see the module docstring).

    Parameters
    ----------
    circuit : SonataCircuit
    cells : DataFrame
        The imported cells: ``gid``, ``sonata.population``, ``sonata.node_id``, ``_virtual``
        (no spikes recorded, no soma), ``_point`` (point cells: no soma).
    lost : list of str
        Gets what is not carried.
    """
    cfg = circuit.config
    run, cond = cfg.run, cfg.conditions
    kw = run_settings(run, cond)
    dt = kw.get("dt", 0.025)
    kw["record_step"] = dt  # BMTK samples reports every dt unless a report says otherwise
    virtual = cells["_virtual"].to_numpy(bool)
    kw["record_spikes"] = _selection(cells, ~virtual)
    if cells["_point"].to_numpy(bool).all():
        # a point-neuron circuit: no synapse to merge; NetPyNE's round-robin deal of gids over
        # ranks is BMTK's, which makes N ranks give BMTK's N-rank spikes where events tie
        kw.update(exact=True, merge_synapses=False, engine="neuron")
    kw["traces"] = tuple(_reports(circuit, cells, dt, lost))
    sonata = {k: v for k, v in run.items() if k not in _RUN_FIELDS and k != "random_seed"}
    out = cfg.output
    sort = out.get("spikes_sort_order", out.get("sort_order"))
    spikes = {"path": str(cfg.output_path("spikes_file" if out.get("spikes_file")
                                          else "spikes.h5")),
              "kind": "events", "format": SONATA_FORMAT, "sort": sort}
    if kw["record_spikes"] is not None:
        spikes["cells"] = kw["record_spikes"].to_dict()
    labels = {t.label for t in kw["traces"]}
    files = [spikes] + [
        {"path": str(path), "kind": "traces", "format": SONATA_FORMAT,
         "columns": [{"id": rid, "trace": REPORT_LABEL.format(rid)}]}
        for name, rep in cfg.reports.items()
        for rid, path in _report_files(cfg, name, rep)
        if REPORT_LABEL.format(rid) in labels]
    kw["extras"] = _jsonable({
        "sonata": {"run": sonata, "conditions": {k: v for k, v in cond.items()
                                                 if k not in ("celsius", "v_init")},
                   "output_dir": str(cfg.output_path(".")),
                   "log_file": str(cfg.output_path("log_file")) if out.get("log_file")
                   else None},
        "output_files": files})
    for key in ("spikes_file_csv", "spikes_file_nwb"):
        if out.get(key):
            lost.append(f"output.{key}: only the HDF5 spikes file is written")
    kw["native"] = _jsonable({k: cfg.data[k] for k in ("run", "conditions", "inputs",
                                                       "reports", "output", "node_sets_file",
                                                       "target_simulator") if k in cfg.data})
    return RunConfig(**kw)


def _report_files(cfg: Any, name: str, rep: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(report id, path) of each variable of a report: ``file_name`` (default
    ``<name>.h5``) for the first, ``<stem>_<variable>.h5`` beside it for the others."""
    first = cfg.output_path(rep.get("file_name", f"{name}.h5"))
    variables = report_variables(rep, f"{cfg.path}: reports.{name}")
    return [(report_id(name, variables, k),
             first if k == 0 else first.with_name(f"{first.stem}_{var}{first.suffix or '.h5'}"))
            for k, var in enumerate(variables)]


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and paths as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _selection(cells: pd.DataFrame, mask: np.ndarray) -> CellSelection | None:
    """Whole populations where every cell of one is chosen, gids for the rest; None for all."""
    if mask.all():
        return None
    pops = cells["sonata.population"].to_numpy()
    whole, gids = [], []
    for pop in pd.unique(pops):
        here = pops == pop
        if mask[here].all():
            whole.append(str(pop))
        elif mask[here].any():
            gids.extend(cells["gid"].to_numpy()[here & mask].tolist())
    return CellSelection(populations=tuple(whole), gids=tuple(gids))


def _reports(circuit: Any, cells: pd.DataFrame, dt: float, lost: list[str]
             ) -> list[TraceRequest]:
    out = []
    for name, rep in circuit.config.reports.items():
        module = rep.get("module", "membrane_report")
        if module == "ecp" or rep.get("electrode_positions") or rep.get("electrode_file"):
            lost.append(f"reports.{name}: ECP (extracellular potential) not recorded yet "
                        "(the analysis issue)")
            continue
        if module not in ("membrane_report", "soma_report", "multimeter_report"):
            lost.append(f"reports.{name}: module {module!r} not recorded")
            continue
        variables = report_variables(rep, f"{circuit.config.path}: reports.{name}")
        sel = circuit.select(rep.get("cells", rep.get("node_set", "all")))
        gids = gids_of(cells, sel)
        point = np.isin(gids, cells.loc[cells["_virtual"] | cells["_point"], "gid"])
        if point.any():
            lost.append(f"reports.{name}: {int(point.sum())} point/virtual cells not recorded "
                        "(BMTK records reports on biophysical cells only)")
            gids = gids[~point]
        sections = str(rep.get("sections", "soma")).lower()
        step = float(rep["dt"]) if "dt" in rep else None
        if step is not None and step < dt:
            raise FormatError(f"{circuit.config.path}: reports.{name}.dt {step} is smaller "
                              f"than run.dt {dt}")
        start = _bmtk_first_sample(rep, step, dt, f"reports.{name}", lost)
        somas = set(section_names(cells, gids, SOMA).tolist()) or {SOMA}
        if len(somas) > 1:
            lost.append(f"reports.{name}: cells with indexed and plain soma names; "
                        f"recorded at {SOMA!r} only")
        out.extend(TraceRequest(
            label=REPORT_LABEL.format(report_id(name, variables, k)), variable=var,
            sec=(max(somas) if len(somas) == 1 else SOMA) if sections == "soma" else None,
            all_segments=sections != "soma",
            cells=CellSelection(gids=tuple(int(g) for g in gids)), step=step,
            start=start, end=float(rep["end_time"]) if "end_time" in rep else None)
            for k, var in enumerate(variables))
        if isinstance(rep.get("variable_name"), str) and len(variables) > 1:
            lost.append(f"reports.{name}: {rep['variable_name']!r}: libsonata's 'summation' "
                        "reports add these up; recorded one by one")
        if len(variables) > 1:
            lost.append(f"reports.{name}: variables {variables}: one report file each "
                        f"(the first in file_name, variable k in <stem>_<variable>.h5; "
                        "BMTK 1.2 writes them all into one dataset, each overwriting the "
                        "last, labelled with the first)")
        if sections not in ("soma", "all"):
            lost.append(f"reports.{name}: sections {sections!r} recorded at every section")
    return out


def _bmtk_first_sample(rep: Mapping[str, Any], step: float | None, dt: float, where: str,
                       lost: list[str]) -> float | None:
    """The first sample time of a report as BMTK takes it: bionet records after each
    ``fadvance`` (row ``i`` is ``v`` at ``start_time + (i + 1) * dt`` when the report's dt is
    the run's), so the trace starts one step after ``start_time``. With a coarser report dt
    BMTK samples at ``m * step + dt``, off nethub's recording grid: noted."""
    start = float(rep.get("start_time", 0.0))
    if step is not None and not np.isclose(step, dt):
        lost.append(f"{where}: dt {step} > run.dt {dt}: BMTK samples at t = m * {step} + "
                    f"{dt}, nethub at t = m * {step} (values one run step apart)")
        return float(rep["start_time"]) if "start_time" in rep else None
    return start + dt


def report_variables(rep: Mapping[str, Any], where: str) -> list[str]:
    """The variables of a report: ``variable_name`` as one name, a list (BMTK), or
    comma-separated names (libsonata's spelling); duplicates once."""
    var = rep.get("variable_name", "v")
    names = var if isinstance(var, list) else str(var).split(",")
    out = list(dict.fromkeys(str(v).strip() for v in names if str(v).strip()))
    if not out:
        raise FormatError(f"{where}.variable_name: no variable named")
    return out


def report_id(name: str, variables: list[str], k: int) -> str:
    """Report id of variable ``k`` of report ``name``: the name for the first, else
    ``<name>.<variable>`` (trace label ``sonata:<id>``)."""
    return name if k == 0 else f"{name}.{variables[k]}"


def _values(inp: Mapping[str, Any], key: str, n: int, where: str) -> np.ndarray:
    value = inp.get(key)
    if value is None:
        raise FormatError(f"{where}: '{key}' is missing")
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size not in (1, n):
        raise FormatError(f"{where}: '{key}' has {arr.size} values; the clamp has {n}")
    return np.broadcast_to(arr, (n,))


def clamp_stims(circuit: Any, cells: pd.DataFrame, lost: list[str]
                ) -> tuple[dict[str, StimSource], pd.DataFrame]:
    """Stimulation sources and targets of the ``current_clamp`` / ``voltage_clamp`` inputs.

    Returns
    -------
    sources : dict
        Name -> :class:`StimSource` (``IClamp``: ``amp`` nA, ``del``, ``dur`` ms; ``SEClamp``:
        BMTK's ``dur1=delay, amp1=0, dur2=duration, amp2=amp, dur3=0, rs=resistance``).
    targets : DataFrame
        ``source``, ``gid``, ``sec``, ``loc`` rows (soma(0.5) unless ``section_name`` /
        ``section_dist`` say otherwise).
    """
    sources: dict[str, StimSource] = {}
    rows = []
    nosoma = cells.loc[cells["_virtual"] | cells["_point"], "gid"].to_numpy()
    for name, inp in circuit.other_inputs.items():
        kind, where = inp.get("input_type"), f"inputs.{name}"
        if not handles_input(inp):
            continue
        gids = gids_of(cells, circuit.select(inp.get("node_set", "all")))
        skip = np.isin(gids, nosoma)
        if skip.any():
            lost.append(f"{where}: {int(skip.sum())} point/virtual cells have no soma for "
                        f"the {kind}")
        gids = gids[~skip]
        if name in circuit.clamp_waveforms:
            wave = circuit.clamp_waveforms[name]
            lost.extend(f"{where}: {note}" for note in wave.notes)
            clamps = [("IClamp", {"del": wave.delay, "dur": wave.dur, "play.dt": wave.dt,
                                  "play.amp": [float(a) for a in wave.amps]}, {})]
        elif inp.get("module") in WAVEFORM_MODULES and not (
                inp.get("module") == "linear" and "amp" in inp):  # linear: our export's dialect
            clamps = [waveform_clamp(inp, where, cells, gids, name,
                                     int(circuit.config.run.get("random_seed", 0)))]
        else:
            n = np.atleast_1d(np.asarray(inp.get("amp", 0.0), dtype=float)).size
            model = "IClamp" if kind == "current_clamp" else "SEClamp"
            clamps = [(model, p, {}) for p in _clamp_params(inp, kind, n, where,
                                                            circuit.config.run)]
        if not len(gids):
            continue
        index = _section_index(inp, where, lost)
        for k, (model, params, per_target) in enumerate(clamps):
            src = f"sonata:{name}" + (f":{k}" if len(clamps) > 1 else "")
            sources[src] = StimSource(src, model, params, provenance={"sonata_input": name})
            rows.append(pd.DataFrame({**per_target,
                "source": src, "rule": src, "gid": gids,  # rule: traces name stims by it
                "sec": section_names(cells, gids, str(inp.get("section_name", SOMA)), index),
                "loc": float(inp.get("section_dist", 0.5))}))
    targets = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {"source": [], "gid": np.zeros(0, np.int64), "sec": [], "loc": np.zeros(0)})
    return sources, targets


def _section_index(inp: Mapping[str, Any], where: str, lost: list[str]) -> int:
    """``section_index``: an index, or (BMTK) a distance range ``[lo, hi]`` in which bionet
    draws one section per cell (``choose_sections``) -- not drawn here: index 0, noted."""
    index = inp.get("section_index") or 0
    if isinstance(index, (list, tuple)):
        lost.append(f"{where}: section_index {list(index)} (a distance range BMTK draws a "
                    f"section from) not drawn; placed on {inp.get('section_name', SOMA)}[0]")
        return 0
    try:
        return int(index)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{where}.section_index: not an index: {index!r}") from exc


def handles_input(inp: Mapping[str, Any]) -> bool:
    """Whether :func:`clamp_stims` carries this (non-spikes) input: BMTK's ``IClamp`` /
    ``SEClamp`` modules (clamp values or, for IClamp, a CSV / NWB file) and libsonata's
    deterministic current / voltage clamp modules (:mod:`.sonata_sim_waveforms`)."""
    kind, module = inp.get("input_type"), inp.get("module")
    if module in WAVEFORM_MODULES:
        return kind in ("current_clamp", "voltage_clamp")
    if module == "IClamp":
        return kind in ("current_clamp", *FILE_CLAMP_TYPES)
    return kind in ("current_clamp", "voltage_clamp") and module in (None, "SEClamp")


def section_names(cells: pd.DataFrame, gids: np.ndarray, name: str, index: int = 0
                  ) -> np.ndarray:
    """Per gid, the section BMTK means by ``section_name`` + ``section_index``: ``name[index]``
    on cells with BMTK's indexed section names (column ``_indexed``: biophysical cells built
    as bionet builds them), else ``name``."""
    indexed = pd.Series(cells["_indexed"].to_numpy(bool) if "_indexed" in cells
                        else np.zeros(len(cells), bool), index=cells["gid"].to_numpy(np.int64))
    mine = indexed.reindex(np.asarray(gids, np.int64)).fillna(False).to_numpy(bool)
    return np.where(mine, f"{name}[{index}]", name).astype(object)


def _clamp_params(inp: Mapping[str, Any], kind: str, n: int, where: str,
                  run: Mapping[str, Any]) -> list[dict[str, Any]]:
    amp = _values(inp, "amp", n, where)
    delay = _values(inp, "delay", n, where)
    dur = _values(inp, "duration", n, where)
    if kind == "current_clamp":
        return [{"amp": float(a), "del": float(d), "dur": float(t)}
                for a, d, t in zip(amp, delay, dur, strict=True)]
    rs = float(inp.get("resistance", 1.0))
    dt, tstop = float(run.get("dt", 0.025)), float(run.get("tstop", 0.0))
    return [{"dur1": float(d), "amp1": 0.0, "dur2": float(t), "amp2": float(a),
             "dur3": 0.0, "amp3": 0.0, "rs": SECLAMP_DEFAULT_RS,
             **bmtk_seclamp_rs(float(d), float(t), rs, dt, tstop)}
            for a, d, t in zip(amp, delay, dur, strict=True)]
