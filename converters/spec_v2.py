"""What a NetPyNE spec cannot say of store schema v2's additions (part of
:mod:`nethub.converters.spec`): embedded files, tags and provenance of synaptic mechanisms and
stimulation sources, and, when the network's own spec is written, the per-format columns
(``<namespace>.<name>``), per-connection synapse parameters (``param.<name>``) and rotations
that no netParams rule makes.

Each is reported once, exactly, with a count; the network without them is what the spec is
compared with.
"""

from __future__ import annotations

import dataclasses

from nethub.columns import is_namespaced, syn_param_name
from nethub.network import Network

from .kit import count_present, note_loss

__all__ = ["doc_losses", "without_docs", "without_columns"]

WHAT = "not carried by a NetPyNE spec"
_ROWS = {"cells": "cells", "connections": "connections", "pointer_conns": "pointer connections",
         "stim_targets": "stimulation targets"}


def doc_losses(net: Network) -> list[str]:
    """The embedded files, and the tags/provenance of synaptic mechanisms and stimulation
    sources, each named."""
    lost = [f"embedded file '{ef.name}' ({ef.role}): {WHAT}" for ef in net.files.values()]
    for what, docs in (("synaptic mechanism", net.syn_mechs),
                       ("stimulation source", net.stim_sources)):
        for name, doc in docs.items():
            fields = [f for f in ("tags", "provenance") if getattr(doc, f)]
            if fields:
                lost.append(f"{what} '{name}': {' and '.join(fields)} {WHAT}")
    return lost


def without_docs(net: Network) -> Network:
    """``net`` without what :func:`doc_losses` reports (so comparisons do not repeat it)."""
    def bare(docs: dict) -> dict:
        return {k: dataclasses.replace(v, tags={}, provenance={})
                if (v.tags or v.provenance) else v for k, v in docs.items()}

    if not (net.files or any(d.tags or d.provenance for d in
                             [*net.syn_mechs.values(), *net.stim_sources.values()])):
        return net
    return net.replace(files={}, syn_mechs=bare(net.syn_mechs),
                       stim_sources=bare(net.stim_sources))


def _spec_less(table: str, column: str, rotated: bool, rules: bool) -> bool:
    if table == "cells":
        if column == "rot_y":
            return not rotated
        return not rules and (is_namespaced(column) or column in ("rot_x", "rot_z"))
    if is_namespaced(column):
        return True
    return table == "connections" and syn_param_name(column) is not None


def without_columns(net: Network, rules: bool = False) -> tuple[Network, list[str]]:
    """``net`` without the columns no netParams rule makes (per-format columns, connection
    ``param.<name>`` columns, ``rot_x``/``rot_z``, and ``rot_y`` unless the network's
    ``rotateCellsRandomly`` makes it), and their losses with the number of rows
    holding a value. With ``rules`` (explicit rules, whose ``cellsList`` carries per-cell
    tags), cells keep their per-format columns and ``rot_x``/``rot_z``."""
    lost: list[str] = []
    changes = {}
    rotated = bool(net.params.get("rotateCellsRandomly"))  # the spec makes rot_y
    for tname, rows in _ROWS.items():
        table = getattr(net, tname)
        drop = [c for c in table.extra_columns if _spec_less(tname, c, rotated, rules)]
        for c in drop:
            note_loss(lost, f"{tname} column '{c}'", count_present(table[c]),
                      f"{WHAT}; dropped", rows)
        if drop:
            changes[tname] = {k: v for k, v in table.columns.items() if k not in drop}
    return (net.replace(**changes) if changes else net), lost
