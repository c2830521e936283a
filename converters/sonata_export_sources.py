"""The source documents a SONATA export writes back verbatim (see
:mod:`nethub.formats.sonata.sources`): the store's embedded files with a source role."""

from __future__ import annotations

import json

from nethub.embedded import SOURCE_ROLES
from nethub.network import Network

__all__ = ["source_documents", "SIMULATION_TOPS", "CIRCUIT_TOPS"]

#: The exported configs a re-import reads the documents through.
SIMULATION_TOPS = ("simulation_config.json", "simulation_config_libsonata.json")
CIRCUIT_TOPS = ("circuit_config.json",)


def source_documents(net: Network) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """``net``'s source documents as (name, role, bytes) in the store's order, and the
    exported configs that stand for them: the simulation configs when a ``sonata-config``
    document is a simulation config (has ``run``), else the circuit config."""
    docs = [(f.name, f.role, f.data) for f in net.files.values() if f.role in SOURCE_ROLES]
    tops = CIRCUIT_TOPS
    for _, role, data in docs:
        if role == "sonata-config" and _has_run(data):
            tops = SIMULATION_TOPS
    return docs, list(tops)


def _has_run(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and "run" in doc
