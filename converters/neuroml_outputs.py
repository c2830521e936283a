"""LEMS ``OutputFile`` / ``EventOutputFile`` requests -> the recordings of a run.

Each ``OutputColumn`` (``pop[i]/v``, ``pop/i/comp/v``, ``pop[i]/w`` (a variable of the cell's
point process), ``pop[i]/synapses:syn:k/g`` (the k-th synapse ``syn`` on the cell)) becomes a
NetPyNE-style ``recordTraces`` entry on that one cell (``conds = {'gid': [gid]}``), recorded at
every time step as jNeuroML's NEURON export records it. The files themselves are described in
simConfig ``nethubLemsOutputs`` (:data:`OUTPUTS_KEY`): path (relative to the LEMS file, as
jNeuroML writes it), kind, format and, per column, the trace label, gid and the factor from
NEURON's unit to SI (jNeuroML writes SI units: V, s, S, A, ...), taken from the unit the
generated NMODL declares for the variable. :mod:`nethub.formats.neuroml.outputs` writes them.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FormatError

__all__ = ["OUTPUTS_KEY", "output_requests", "si_factor", "parse_quantity"]

#: simConfig key holding the LEMS output files of a run
OUTPUTS_KEY = "nethubLemsOutputs"
#: NEURON units -> SI factor (jNeuroML saves SI values)
_UNITS = {"mV": 1e-3, "V": 1.0, "ms": 1e-3, "s": 1.0, "nA": 1e-9, "pA": 1e-12, "uA": 1e-6,
          "mA": 1e-3, "A": 1.0, "uS": 1e-6, "nS": 1e-9, "mS": 1e-3, "S": 1.0, "umho": 1e-6,
          "nF": 1e-9, "pF": 1e-12, "uF": 1e-6, "mM": 1.0, "M": 1e3, "molar": 1e3,
          "Hz": 1.0, "kHz": 1e3, "/ms": 1e3, "um": 1e-6,
          "mA/cm2": 10.0, "S/cm2": 1e4, "mS/cm2": 10.0, "uA/cm2": 1e-2}  # detailed-cell densities
_INDEXED = re.compile(r"^([^/\[\]]+)\[(\d+)\]$")


def si_factor(mod_text: str | None, var: str) -> float:
    """The factor from NEURON's unit of ``var`` (as the NMODL declares it) to SI; 1 when it
    declares none (dimensionless)."""
    if var == "v":
        return 1e-3
    if not mod_text:
        return 1.0
    # a declaration (``g (uS)``, ``e = 0 (mV)``), not an assignment (``b = 1/(1 + ...)``)
    m = re.search(rf"^\s*{re.escape(var)}\b[^\n:(/*]*\(([^)]*)\)", mod_text, re.MULTILINE)
    if m is None:
        return 1.0
    unit = m.group(1).strip()
    if unit not in _UNITS:
        raise FormatError(f"variable {var!r}: unit ({unit}) has no SI factor known to nethub")
    return _UNITS[unit]


def parse_quantity(quantity: str) -> tuple[str, int, list[str]]:
    """``(population, instance, path)`` of a LEMS quantity (``pop[0]/v`` -> ``('pop', 0,
    ['v'])``; ``pop/0/cell/v`` -> ``('pop', 0, ['v'])``)."""
    parts = quantity.strip().split("/")
    m = _INDEXED.match(parts[0])
    if m:
        return m.group(1), int(m.group(2)), parts[1:]
    if len(parts) >= 3 and parts[1].isdigit():
        return parts[0], int(parts[1]), parts[3:]
    raise FormatError(f"LEMS quantity {quantity!r}: not 'pop[i]/...' or 'pop/i/cell/...'")


def _trace(path: list[str], gid: int, comp: str, quantity: str) -> tuple[dict, str]:
    """A recordTraces entry and the owner (mod) of its variable."""
    base = {"sec": "soma", "loc": 0.5, "conds": {"gid": [gid]}}
    if len(path) == 1:
        var = path[0]
        if var == "v":
            return {**base, "var": "v"}, comp
        return {**base, "pointp": comp, "var": var}, comp
    if len(path) >= 2 and path[0].startswith("synapses:"):  # .../block/blockFactor: joined
        _, syn, *k = path[0].split(":")
        return {**base, "synMech": syn, "var": "_".join(path[1:]),
                "index": int(k[0]) if k else 0}, syn
    raise FormatError(f"LEMS quantity {quantity!r}: only cell variables ('pop[i]/v', "
                      "'pop[i]/w') and synapse variables ('pop[i]/synapses:syn:0/g') are "
                      "recorded")


def _detailed_trace(detailed: Any, quantity: str) -> tuple[dict, str | None]:
    """A recordTraces entry on a detailed cell's segment, where jNeuroML records it, and the
    mechanism owning its variable (None for ``v`` / ``cai``)."""
    try:
        gid, sec, x, var, mech = detailed(quantity)
    except KeyError as exc:
        raise FormatError(f"LEMS quantity {quantity!r}: {exc.args[0]}") from None
    entry = {"sec": sec, "loc": x, "conds": {"gid": [gid]}, "var": var}
    return (entry, None) if mech is None else ({**entry, "mech": mech}, mech)


def output_requests(sim: Any, gids: dict[str, dict[int, int]], components: dict[str, str],
                    mods: dict[str, str], lost: list[str], detailed: Any = None,
                    detailed_components: frozenset = frozenset()) -> tuple[dict, list[dict]]:
    """The ``recordTraces`` and the output-file descriptions of a LEMS Simulation.

    Parameters
    ----------
    sim : LemsSimulation
    gids : dict
        ``{population: {instance id: gid}}`` of the imported cells.
    components : dict
        ``{population: cell component id}``.
    mods : dict
        ``{mechanism name: NMODL text}`` (units of recorded variables).
    lost : list of str
        Columns that cannot be recorded are appended here.
    detailed : callable, optional
        ``quantity -> (gid, section, x, variable, mechanism or None)`` for cells of
        ``detailed_components``
        (detailed NeuroML cells: :func:`nethub.converters.nml_cells_net.trace_spec`, where
        jNeuroML records ``pop/i/cell/segment/v``), raising KeyError for other quantities.
    detailed_components : frozenset of str
        The cell components that are detailed cells.
    """
    traces: dict[str, dict] = {}
    files: list[dict] = []
    for of in sim.output_files:
        cols = []
        for col in of.columns:
            try:
                pop, i, path = parse_quantity(col.quantity)
                if pop not in gids or i not in gids[pop]:
                    raise FormatError(f"LEMS quantity {col.quantity!r}: no imported cell")
                gid = gids[pop][i]
                if (detailed is not None and components[pop] in detailed_components
                        and not (path and path[0].startswith("synapses:"))):
                    entry, owner = _detailed_trace(detailed, col.quantity)
                else:
                    entry, owner = _trace(path, gid, components[pop], col.quantity)
                factor = si_factor(mods.get(owner), entry["var"])
            except FormatError as exc:
                lost.append(f"OutputFile {of.id!r} column {col.id!r}: {exc}; written as NaN")
                cols.append({"id": col.id, "label": None, "gid": -1, "factor": 1.0})
                continue
            label = f"lems.{of.id}.{col.id}"
            traces[label] = entry
            cols.append({"id": col.id, "label": label, "gid": gid, "factor": factor,
                         "quantity": col.quantity})
        files.append({"id": of.id, "path": of.file_name, "kind": "traces", "columns": cols})
    for ef in sim.event_output_files:
        sel = []
        for s in ef.selections:
            try:
                pop, i, _ = parse_quantity(s.select)
                gid = gids[pop][i]
            except (FormatError, KeyError):
                lost.append(f"EventOutputFile {ef.id!r} selection {s.id!r} ({s.select!r}): "
                            "no imported cell; not written")
                continue
            sel.append({"id": int(s.id), "gid": gid})
        files.append({"id": ef.id, "path": ef.file_name, "kind": "events",
                      "format": ef.format, "selections": sel})
    return traces, files
