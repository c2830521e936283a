"""LEMS ``OutputColumn`` quantities of detailed NeuroML cells beyond ``v`` and ``caConc``:
channel variables and synapse variables, recorded where jNeuroML's NEURON export records them.

jNeuroML's NEURON export (checked on its generated ``*_nrn.py`` for NML2 examples 5, 6, 15
and 18) records, at the quantity's segment (segment 0 unless the quantity names one):

- ``.../<bio>/membraneProperties/<density>/<channel>/<gate>/<var>`` -> ``<gate>_<var>`` of the
  channel's mechanism (``m/q`` -> ``m_q_naChan``; ``h/tau`` -> ``h_tau_...``);
- ``.../<bio>/membraneProperties/<density>/gDensity`` -> ``gion`` of the channel (S/cm2);
- ``.../<bio>/membraneProperties/<density>/iDensity`` -> ``i__<channel>`` (mA/cm2);
- ``pop[i]/synapses:<syn>:<k>/<a>[/<b>]`` -> ``<a>[_<b>]`` of the cell's k-th ``<syn>``
  synapse (``block/blockFactor`` -> ``block_blockFactor``).

:func:`detailed_trace` returns them as NetPyNE ``recordTraces`` fields (``mech`` /
``synMech`` + ``index``), with the mechanism whose NMODL declares the variable's unit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .nml_cells import safe_name

__all__ = ["detailed_trace"]


def _split(quantity: str) -> tuple[str, int, int, list[str]]:
    """``(population, instance, segment, rest)`` of ``pop[i]/rest`` or ``pop/i/cell[/seg]/rest``."""
    parts = quantity.strip().strip("/").split("/")
    head = parts[0]
    if head.endswith("]") and "[" in head:
        pop, idx = head[:-1].split("[", 1)
        return pop, int(idx), 0, parts[1:]
    if len(parts) >= 4 and parts[1].isdigit():
        rest = parts[3:]
        if rest and rest[0].isdigit():
            return parts[0], int(parts[1]), int(rest[0]), rest[1:]
        return parts[0], int(parts[1]), 0, rest
    raise KeyError(f"{quantity!r} is not pop[i]/... or pop/i/cell[/segment]/...")


def _densities(cell: Any) -> dict[str, str]:
    """``{channel density id: ion channel id}`` of a libNeuroML ``Cell``."""
    out: dict[str, str] = {}
    bio = getattr(cell, "biophysical_properties", None)
    mp = getattr(bio, "membrane_properties", None)
    if mp is None:
        return out
    for attr in dir(mp):
        if attr.startswith("channel_densit"):
            for d in getattr(mp, attr) or []:
                out[d.id] = d.ion_channel
    return out


def _variable(rest: list[str], densities: dict[str, str], quantity: str
              ) -> tuple[str, dict, str]:
    """(NEURON variable, extra recordTraces fields, owning mechanism) of a path."""
    if rest and rest[0].startswith("synapses:"):
        _, syn, *k = rest[0].split(":")
        if len(rest) < 2:
            raise KeyError(f"{quantity!r}: no synapse variable")
        return "_".join(rest[1:]), {"synMech": syn, "index": int(k[0]) if k else 0}, syn
    if len(rest) >= 4 and rest[1] == "membraneProperties":
        dens = rest[2]
        if dens not in densities:
            raise KeyError(f"{quantity!r}: no channel density {dens!r} on the cell")
        chan = safe_name(densities[dens])
        tail = rest[3:]
        if tail == ["gDensity"]:
            var = "gion"
        elif tail == ["iDensity"]:
            var = f"i__{densities[dens]}"
        elif len(tail) >= 2 and tail[0] == densities[dens]:
            var = "_".join(tail[1:])
        else:
            raise KeyError(f"{quantity!r}: not a variable of ion channel {densities[dens]!r}")
        return var, {"mech": chan}, chan
    raise KeyError(f"{quantity!r}: not a channel or synapse variable")


def detailed_trace(where: Any, doc: Any, components: dict[str, str], quantity: str,
                   locate: Callable[[Any, str], tuple[int, str, float, str]]
                   ) -> tuple[int, str, float, str, dict, str]:
    """Where jNeuroML records a channel or synapse variable of a detailed cell.

    Parameters
    ----------
    where : object
        ``cells`` and ``cell_types`` of the converted network (as ``trace_target`` reads).
    doc : NeuroMLDocument
        The model's document (the cell's channel densities).
    components : dict
        ``{population: cell component id}``.
    quantity : str
        The LEMS quantity.
    locate : callable
        ``nethub.converters.nml_cells_net.trace_target``: ``(where, 'pop/i/cell/seg/v')`` ->
        ``(gid, section, x, 'v')``.

    Returns
    -------
    (int, str, float, str, dict, str)
        gid, section, x, NEURON variable, extra ``recordTraces`` fields and the mechanism
        whose NMODL declares the variable.

    Raises
    ------
    KeyError
        If the quantity is not of these forms or names nothing of the network.
    """
    pop, idx, seg, rest = _split(quantity)
    gid, sec, x, _ = locate(where, f"{pop}/{idx}/cell/{seg}/v")
    comp = {c.id: c for c in getattr(doc, "cells", [])}.get(components.get(pop))
    var, extra, owner = _variable(rest, _densities(comp) if comp is not None else {},
                                  quantity)
    return gid, sec, x, var, extra, owner
