"""A canonical network + run configuration -> one runnable plain-NEURON Python script.

For people who want to leave: the script needs NEURON and nothing of nethub. It holds the cell
types as Python classes (:func:`nethub.converters.hoc_export_python.python_class`), artificial
cell types, synaptic mechanisms, the cells with their positions, the connections (weights,
delays, synapses), stimuli, recordings and the run settings as data, and the fixed code of
:mod:`nethub.converters.neuron_script_runtime`, which creates them in nethub's order with
nethub's arithmetic (one rank, NEURON, one synapse per connection: nethub's exact mode). Its
``.mod`` files go in a folder beside it, compiled by ``nrnivmodl`` the first time the script
runs. ``python NET.neuron.py [SPIKES.json]`` writes the spikes (sorted by time, then gid) and
the traces as JSON.

What would make the script's spikes differ from nethub's is refused with
:class:`~nethub.errors.ConversionError` (per-cell rotations, per-connection
synapse parameters, plasticity, gap junctions, string-valued synapse parameters, shared
stimulus synapses); what only changes the output (LFP, trace kinds the script does not
record, CoreNEURON, synapse merging in fast mode) is listed in :attr:`ScriptExport.lost`.
"""

from __future__ import annotations

import importlib.resources
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, PointCell
from ..columns import ROTATION_COLUMNS, syn_param_name
from ..errors import ConversionError
from ..network import Network
from ..nmodl.info import mechanism_info
from ..random123 import netpyne_hash_str
from ..runconfig import CellSelection, RunConfig
from ..selection import match_conds
from ..table import Categorical, Ragged, Table
from ..version import __version__
from .hoc_export_python import python_class
from .neuron_script_runtime import RUNTIME

__all__ = ["ScriptExport", "neuron_script", "literal"]

#: synMech keys that are not NEURON attributes (nethub.sim.engine skips them)
_SYN_RESERVED = frozenset({"mod", "loc", "selfNetCon", "pointerParams", "shape", "plast"})
#: point-cell parameters that are not NEURON attributes (nethub.sim.engine's _POINT_RESERVED)
POINT_RESERVED = ("seed", "spkTimes", "pulses", "spikePattern", "dynamicRates", "rates",
                  "noise_ids", "dynamicRates.intervals", "dynamicRates.times")


@dataclass
class ScriptExport:
    """What :func:`neuron_script` returns.

    Attributes
    ----------
    text : str
        The script.
    mod_files : dict of str to str
        The NMODL sources to write into the folder the script names (``mod_dir``).
    lost : list of str
        What the script does not carry over (its spikes are nethub's regardless).
    """

    text: str
    mod_files: dict[str, str] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


def literal(value: Any) -> str:
    """Python source for a JSON-like value (NaN and infinities as ``float(...)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + "".join(f"{literal(v)}, " for v in value).rstrip(" ") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return repr(value)


def neuron_script(net: Network, config: RunConfig, *, mod_dir: str | None = None,
                  title: str = "network") -> ScriptExport:
    """A plain-NEURON script that runs ``net`` as nethub runs it with ``config``.

    Parameters
    ----------
    net : Network
    config : RunConfig
        The run (duration, dt, globals, seeds, recordings, ...), e.g. the ``run_config`` of a
        stored run or what ``nethub run`` would use.
    mod_dir : str, optional
        Folder (relative to the script) holding the model's ``.mod`` files; required when the
        model has any.
    title : str
        Name of the model in the script's docstring.

    Returns
    -------
    ScriptExport

    Raises
    ------
    ConversionError
        The network uses something the script cannot reproduce (see the module docstring).
    """
    _refuse_unsupported(net, config)
    mods = {**_bundled_mods(net), **net.mod_files}
    if mods and not mod_dir:
        raise ConversionError("the model has .mod files: name the folder they go in (mod_dir)")
    mod_dir = mod_dir if mods else None
    lost = _losses(net, config)
    threshold = (config.spike_threshold if config.spike_threshold is not None
                 else float(net.params.get("defaultThreshold", 10)))
    classes = _class_names(net)
    parts = [_header(title, mod_dir), *_classes(net, classes, threshold),
             _data(net, config, classes, threshold, lost), RUNTIME]
    return ScriptExport("\n".join(parts), mods if mod_dir else {}, lost)


def _bundled_mods(net: Network) -> dict[str, str]:
    """NEURON's vecevent.mod (VecStim is not built into NEURON) as nethub ships it beside its
    simulator (package data ``nethub/sim/mod``, read as a file), when a VecStim cell or stimulus
    needs it and the model brings no VecStim of its own."""
    used = {ct.model for ct in net.cell_types.values() if isinstance(ct, PointCell)}
    used |= {s.model for s in net.stim_sources.values()}
    if "VecStim" not in used or any(mechanism_info(t, f).name == "VecStim"
                                    for f, t in net.mod_files.items()):
        return {}
    path = importlib.resources.files("nethub") / "sim" / "mod" / "vecevent.mod"
    return {"vecevent.mod": path.read_text()}


# ----------------------------------------------------------------------------- checks
def _refuse_unsupported(net: Network, config: RunConfig) -> None:
    cells, conns = net.cells, net.connections
    problems = []
    rotated = [c for c in ROTATION_COLUMNS if c in cells and
               not np.all(np.isnan(np.asarray(cells[c], dtype=np.float64)))]
    if rotated:
        problems.append(f"per-cell rotations ({', '.join(rotated)})")
    own = [c for c in conns.extra_columns if syn_param_name(c) and _set_anywhere(conns[c])]
    if own:
        problems.append(f"per-connection synapse parameters ({', '.join(own)})")
    if "plast" in conns and len(conns) and _plastic(conns["plast"]):
        problems.append("synaptic plasticity")
    if len(net.pointer_conns):
        problems.append("gap junctions / pointer connections")
    if config.share_synapses:
        problems.append("oneSynPerNetcon=False (stimuli sharing connection synapses)")
    for name, mech in net.syn_mechs.items():
        strs = [k for k, v in mech.params.items() if k not in _SYN_RESERVED and
                not isinstance(v, (int, float))]
        if strs:
            problems.append(f"synMech {name!r}: parameter(s) {strs} are not numbers")
    if problems:
        raise ConversionError("a plain-NEURON script cannot reproduce this network's run: "
                              + "; ".join(problems))


def _set_anywhere(col: Any) -> bool:
    return isinstance(col, np.ndarray) and col.dtype.kind == "f" and not np.all(np.isnan(col))


def _plastic(col: Any) -> bool:
    values = col.values() if isinstance(col, Categorical) else np.asarray(col, dtype=object)
    return any(v not in (None, "", "null", "{}") for v in values.tolist())


def _losses(net: Network, config: RunConfig) -> list[str]:
    lost = []
    if config.lfp.wanted():
        lost.append("LFP / dipole recording (the script records spikes and traces)")
    if config.engine == "coreneuron":
        lost.append("engine coreneuron: the script runs on NEURON (the same spikes)")
    if config.merge_synapses and not config.exact:
        lost.append("synapse merging: the script makes one synapse per connection, as nethub's "
                    "exact mode (--exact) does; fast-mode runs agree up to round-off")
    if net.rxd:
        lost.append("rxdParams: reaction-diffusion is not in the script")
    return lost


# ----------------------------------------------------------------------------- text
def _header(title: str, mod_dir: str | None) -> str:
    mods = "None" if not mod_dir else f"os.path.join(HERE, {mod_dir!r})"
    return (f'"""{title}: a plain-NEURON script written by nethub {__version__} '
            "(nethub.converters.neuron_script).\n\n"
            "Run it with `python THIS_FILE [SPIKES.json]` (NEURON only, no nethub): it compiles "
            "the .mod files\nbeside it with nrnivmodl the first time, builds the network, runs it "
            "and writes the spikes\n(sorted by time, then gid) and traces as JSON.\n"
            '"""\n\n'
            "import json\nimport os\nimport subprocess\nimport sys\n\n"
            "from neuron import h\n\n"
            "HERE = os.path.dirname(os.path.abspath(__file__))\n"
            f"MOD_DIR = {mods}\n")


def _class_names(net: Network) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, ct in net.cell_types.items():
        if isinstance(ct, CompartmentalCell):
            base = re.sub(r"\W", "_", name)
            if not base.isidentifier() or keyword.iskeyword(base) or base[0].isdigit():
                base = f"Cell_{base}"
            cls, i = base, 1
            while cls in out.values():
                cls, i = f"{base}_{i}", i + 1
            out[name] = cls
    return out


def _classes(net: Network, classes: dict[str, str], threshold: float) -> list[str]:
    used = set(_used_types(net))
    per_cell = [c[len("param."):] for c in net.cells.extra_columns
                if c.startswith("param.secs.")]
    return ["\n" + python_class(cls, net.cell_types[name], default_threshold=threshold,
                                set_globals=False, per_cell=per_cell)
            for name, cls in classes.items() if name in used]


def _cell_own(cells: Table) -> dict[int, dict[str, Any]]:
    """Per cell its own section values (cells columns ``param.secs.*``: NaN / empty: none),
    keyed as the simulator keys them (``secs.<sec>.<kind>...``)."""
    gids = np.asarray(cells["gid"]).tolist()
    out: dict[int, dict[str, Any]] = {}
    for col in cells.extra_columns:
        if not col.startswith("param.secs."):
            continue
        key, val = col[len("param."):], cells[col]
        if isinstance(val, Ragged):
            rows = np.flatnonzero(val.lengths() > 0)
            values = [val.row(int(r)).tolist() for r in rows.tolist()]
        else:
            arr = np.asarray(val, dtype=np.float64)
            rows = np.flatnonzero(~np.isnan(arr))
            values = arr[rows].tolist()
        for r, v in zip(rows.tolist(), values):
            out.setdefault(gids[r], {})[key] = v
    return out


def _used_types(net: Network) -> list[str]:
    col: Categorical = net.cells["cell_type"]  # type: ignore[assignment]
    return [col.categories[c] for c in np.unique(col.codes[col.codes >= 0]).tolist()]


def _data(net: Network, config: RunConfig, classes: dict[str, str], threshold: float,
          lost: list[str]) -> str:
    used = _used_types(net)
    missing = [t for t in used if t not in net.cell_types]
    if missing:
        raise ConversionError(f"cells use unknown cell type(s) {missing}")
    stim_seed = config.seed("stim")
    rows = {
        "DEFAULT_THRESHOLD": literal(float(threshold)),
        "POINT_RESERVED": literal(POINT_RESERVED),
        "CELL_CLASSES": "{" + ", ".join(f"{t!r}: {classes[t]}" for t in used
                                        if t in classes) + "}",
        "POINT_TYPES": literal({t: (net.cell_types[t].model, dict(net.cell_types[t].params))
                                for t in used if isinstance(net.cell_types[t], PointCell)}),
        "VREF": literal(_vrefs(net, used)),
        "CELLS": _rows_literal(_cells(net, config)),
        "CELL_OWN": literal(_cell_own(net.cells)),
        "POINT_PARAMS": literal(_point_params(net, stim_seed)),
        "SYN_MECHS": literal({k: (m.model, [(p, v) for p, v in m.params.items()
                                            if p not in _SYN_RESERVED])
                              for k, m in net.syn_mechs.items()}),
        "CONNS": literal(_conns(net.connections)),
        "SOURCE_THRESHOLDS": literal(_source_thresholds(net.connections)),
        "STIM_MODELS": literal({k: s.model for k, s in net.stim_sources.items()}),
        "STIMS": _rows_literal(_stims(net, stim_seed)),
        "RUN": literal(_run(config)),
        "CELL_GLOBALS": literal(_cell_globals(net, config)),
        "RECORD_SPIKES": literal(None if config.record_spikes is None else
                                 _selected(net.cells, config.record_spikes).tolist()),
        "TRACES": _rows_literal(_traces(net, config, lost)),
    }
    return "\n" + "\n".join(f"{k} = {v}" for k, v in rows.items()) + "\n"


def _rows_literal(rows: list) -> str:
    if not rows:
        return "[]"
    return "[\n" + "".join(f"    {literal(r)},\n" for r in rows) + "]"


def _cells(net: Network, config: RunConfig) -> list[tuple]:
    """(gid, cell type, x, y, z): compartmental cells at the offset their 3-D points get."""
    cells = net.cells
    gids = np.asarray(cells["gid"]).tolist()
    types = cells["cell_type"].values().tolist()  # type: ignore[union-attr]
    xyz = np.stack([np.asarray(cells[c], dtype=np.float64) for c in "xyz"], axis=1)
    if not config.pt3d_relative_to_cell:
        xyz = np.zeros_like(xyz)
    elif config.invert_y:
        xyz[:, 1] = -xyz[:, 1]
    return [(g, t, *p) for g, t, p in zip(gids, types, xyz.tolist())]


def _vrefs(net: Network, used: list[str]) -> dict[str, dict[str, tuple[int, list]]]:
    """Per compartmental type: section -> (index of its first point process with ``vref``,
    that point process's synList), as the simulator keeps them."""
    out: dict[str, dict[str, tuple[int, list]]] = {}
    for t in used:
        ct = net.cell_types[t]
        if not isinstance(ct, CompartmentalCell):
            continue
        index = 0
        for sname, sec in ct.sections.items():
            for pp in sec.point_processes:
                if "vref" in pp and sname not in out.get(t, {}):
                    out.setdefault(t, {})[sname] = (index, list(pp.get("synList") or []))
                index += 1
    return out


def _point_params(net: Network, stim_seed: Any) -> dict[int, dict[str, Any]]:
    """Per artificial cell: its ``params.*`` columns (NaN: not set) and NetStim noise ids."""
    cells = net.cells
    gids = np.asarray(cells["gid"]).tolist()
    types = cells["cell_type"].values().tolist()  # type: ignore[union-attr]
    cols = [c for c in cells.extra_columns if c.startswith("params.")]
    hash_netstim = netpyne_hash_str("NetStim")
    out: dict[int, dict[str, Any]] = {}
    for row, (gid, t) in enumerate(zip(gids, types)):
        ct = net.cell_types[t]
        if not isinstance(ct, PointCell):
            continue
        own: dict[str, Any] = {}
        for c in cols:
            val = cells[c]
            if isinstance(val, Ragged):
                own[c[len("params."):]] = val.row(row).tolist()
            elif isinstance(val, np.ndarray) and not np.isnan(val[row]):
                own[c[len("params."):]] = float(val[row])
        if ct.model == "NetStim":
            merged = {**ct.params, **own}
            ids = merged.get("noise_ids")
            if ids is None or len(ids) != 3:
                ids = (hash_netstim, gid, merged.get("seed", stim_seed))
            own["noise_ids"] = [int(i) for i in ids]
        if own:
            out[gid] = own
    return out


def _conns(conns: Table) -> dict[str, list]:
    n = len(conns)
    widx = np.asarray(conns["weight_index"]).tolist() if "weight_index" in conns else [0] * n
    return {"pre": np.asarray(conns["pre_gid"]).tolist(),
            "post": np.asarray(conns["post_gid"]).tolist(),
            "mech": conns["syn_mech"].values().tolist(),  # type: ignore[union-attr]
            "sec": conns["post_sec"].values().tolist(),  # type: ignore[union-attr]
            "loc": np.asarray(conns["post_loc"], dtype=np.float64).tolist(),
            "weight": np.asarray(conns["weight"], dtype=np.float64).tolist(),
            "delay": np.asarray(conns["delay"], dtype=np.float64).tolist(),
            "widx": [int(i) for i in widx]}


def _source_thresholds(conns: Table) -> list[tuple[int, float]]:
    """Per source gid the threshold of its last row (in post-gid order) with one, as
    consecutive ``netcon.threshold`` assignments leave it (the simulator's rule)."""
    if "threshold" not in conns or len(conns) == 0:
        return []
    th = np.asarray(conns["threshold"], dtype=np.float64)
    rows = np.flatnonzero(~np.isnan(th))
    rows = rows[np.argsort(np.asarray(conns["post_gid"])[rows], kind="stable")]
    final: dict[int, float] = {}
    for g, t in zip(np.asarray(conns["pre_gid"])[rows].tolist(), th[rows].tolist()):
        final[g] = t
    return sorted(final.items())


def _stims(net: Network, stim_seed: Any) -> list[tuple]:
    st = net.stim_targets
    if len(st) == 0:
        return []
    src = st["source"].values().tolist()  # type: ignore[union-attr]
    gids = np.asarray(st["gid"]).tolist()
    secs = st["sec"].values().tolist()  # type: ignore[union-attr]
    mechs = st["syn_mech"].values().tolist()  # type: ignore[union-attr]
    locs = np.asarray(st["loc"], dtype=np.float64).tolist()
    w = np.asarray(st["weight"], dtype=np.float64).tolist()
    d = np.asarray(st["delay"], dtype=np.float64).tolist()
    per_row = {c[len("param."):]: np.asarray(st[c]) for c in st.extra_columns
               if c.startswith("param.")}
    hash_netstim = netpyne_hash_str("NetStim")
    out = []
    for i in range(len(st)):
        source = net.stim_sources[src[i]]
        params = dict(source.params)
        params.update({k: float(v[i]) for k, v in per_row.items() if not np.isnan(v[i])})
        if source.model == "NetStim":
            rate = params.get("rate", params.get("interval"))
            if rate is None or isinstance(rate, str):
                raise ConversionError(f"NetStim source {src[i]!r}: rate {rate!r} is not a "
                                      "number")
            params["noise_ids"] = [hash_netstim, gids[i], int(params.get("seed", stim_seed))]
        out.append((src[i], gids[i], secs[i], locs[i], mechs[i], w[i], d[i], params))
    return out


def _run(config: RunConfig) -> dict[str, Any]:
    return {"duration": float(config.duration), "dt": float(config.dt),
            "v_init": float(config.v_init),
            "globals": {k: v for k, v in config.hoc_globals().items() if k != "v_init"},
            "cvode_active": bool(config.cvode_active),
            "cache_efficient": bool(config.cache_efficient),
            "cvode_atol": float(config.cvode_atol),
            "random123_global_index": int(config.random123_global_index),
            "netstim_random123": bool(config.netstim_random123)}


def _cell_globals(net: Network, config: RunConfig) -> list[tuple[str, Any]]:
    """The cell types' globals the run does not set; the first type's value wins; numbers
    only (the simulator's ``_set_globals``)."""
    hparams = config.hoc_globals()
    done: dict[str, Any] = {}
    for ct in net.cell_types.values():
        for key, value in (getattr(ct, "globals", None) or {}).items():
            if key in hparams or key in done:
                continue
            if not isinstance(value, bool) and isinstance(value, (int, float)):
                done[key] = value
    return list(done.items())


def _selected(cells: Table, sel: CellSelection | None) -> np.ndarray:
    """The gids a CellSelection chooses, in table order (as the simulator's recorder)."""
    gids = np.asarray(cells["gid"])
    if sel is None or sel.is_empty():
        return gids[:0]
    if sel.all:
        return gids
    keep = np.isin(gids, list(sel.gids))
    pops: Categorical = cells["pop"]  # type: ignore[assignment]
    ids = np.asarray(cells["source_id"])
    for pop in sel.populations:
        keep |= pops.codes == pops.code_of(pop)
    for pop, idx in sel.pop_cells:
        keep |= (pops.codes == pops.code_of(pop)) & np.isin(ids, list(idx))
    return gids[keep]


def _traces(net: Network, config: RunConfig, lost: list[str]) -> list[tuple]:
    """(label, gid, sec, loc, variable, mechanism, step) of the traces the script records:
    a variable at one place of a section of a compartmental cell (of a density mechanism or
    not); other kinds are reported in ``lost``."""
    out: list[tuple] = []
    cells = net.cells
    gids = np.asarray(cells["gid"])
    types = cells["cell_type"].values().tolist()  # type: ignore[union-attr]
    skipped = set()
    for spec in config.traces:
        simple = (spec.sec is not None and not spec.all_segments and spec.syn_mech is None
                  and spec.point_process is None and spec.stim is None)
        if not simple:
            skipped.add(spec.label)
            continue
        sel = config.trace_cells if spec.cells is None else spec.cells
        ok = match_conds(cells, spec.conds, f"recordTraces['{spec.label}']['conds']") & \
            np.isin(gids, _selected(cells, sel))
        step = spec.step if spec.step is not None else config.record_step
        for r in np.flatnonzero(ok).tolist():
            ct = net.cell_types[types[r]]
            if isinstance(ct, CompartmentalCell) and spec.sec in ct.sections:
                out.append((spec.label, int(gids[r]), spec.sec, float(spec.loc),
                            spec.variable, spec.mech, float(step)))
    if skipped:
        lost.append(f"traces {sorted(skipped)}: only section variables at one location are "
                    "recorded by the script")
    return sorted(out, key=lambda row: row[1])
