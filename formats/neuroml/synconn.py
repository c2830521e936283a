"""LEMS-level ``synapticConnection`` / ``synapticConnectionWD`` elements of a network written
inline in a LEMS file (``<synapticConnectionWD from="pre[0]" to="post[0]" synapse="syn"
weight="0.05" delay="1ms"/>``, NeuroML2's Networks.xml). libNeuroML does not read them (it
knows ``synapticConnection`` without weight and delay); they are taken out of the inline XML
here and added to the network summary as one-connection chemical projections
``synapticConnection<k>`` (k = position in the network), as jNeuroML connects them (a NetCon
from the pre cell onto a new synapse on the post cell's soma)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from ._common import NeuroMLError, local_tag, to_ms
from .summary import ProjectionSummary

__all__ = ["TAGS", "take_synaptic_connections", "add_to_summary"]

TAGS = ("synapticConnection", "synapticConnectionWD")
_CELL = re.compile(r"^\s*([^\[\]/\s]+)\[(\d+)\]\s*$")


def _cell(text: str | None, where: str) -> tuple[str, int]:
    m = _CELL.match(text or "")
    if m is None:
        raise NeuroMLError(f"{where}: cell {text!r} is not 'population[index]'")
    return m.group(1), int(m.group(2))


def take_synaptic_connections(network: ET.Element, where: str) -> list[dict]:
    """Remove the synaptic connections from an inline ``<network>`` element; return them."""
    out = []
    for el in [c for c in network if isinstance(c.tag, str) and local_tag(c) in TAGS]:
        at = f"{where}: network {network.get('id')!r}/{local_tag(el)}[{len(out)}]"
        pre, post = _cell(el.get("from"), at), _cell(el.get("to"), at)
        syn = el.get("synapse")
        if not syn:
            raise NeuroMLError(f"{at}: no synapse")
        try:
            weight = float(el.get("weight", "1"))
        except ValueError:
            raise NeuroMLError(f"{at}: weight {el.get('weight')!r} is not a number") from None
        delay = to_ms(el.get("delay"), at) if el.get("delay") else 0.0
        out.append({"pre": pre, "post": post, "synapse": syn, "weight": weight,
                    "delay": delay})
        network.remove(el)
    return out


def add_to_summary(summary, connections: list[dict]) -> None:
    """Add each connection to a network summary as a one-row projection."""
    for k, c in enumerate(connections):
        cols = {"id": np.zeros(1, np.int64), "pre_cell": np.array([c["pre"][1]], np.int64),
                "post_cell": np.array([c["post"][1]], np.int64),
                "pre_segment": np.zeros(1, np.int64), "post_segment": np.zeros(1, np.int64),
                "pre_fraction": np.full(1, 0.5), "post_fraction": np.full(1, 0.5),
                "weight": np.array([c["weight"]]), "delay": np.array([c["delay"]])}
        pid = f"synapticConnection{k}"
        summary.projections[pid] = ProjectionSummary(pid, "chemical", c["pre"][0],
                                                     c["post"][0], c["synapse"], cols)
