"""SONATA circuit / simulation configs as a read-only format plugin
(:func:`nethub.converters.sonata.sonata_to_network`)."""

from __future__ import annotations

import json
import os
from typing import Any

from .base import Document, Format

__all__ = ["SonataFormat", "is_sonata_config"]

#: Top-level members only a SONATA config has (a circuit config's ``networks``, a simulation
#: config's ``run``/``inputs``/``node_sets_file``/``target_simulator``).
_CONFIG_KEYS = frozenset({"networks", "run", "node_sets_file", "target_simulator", "inputs"})
#: How much of a JSON file sniffing reads (configs are small).
_SNIFF_BYTES = 1 << 20


def is_sonata_config(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a JSON object with SONATA config members, or an old BMTK
    ``config.json`` naming a ``network`` and a ``simulation`` file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES + 1)
        if len(head) > _SNIFF_BYTES:
            return False
        doc = json.loads(head)
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    if _CONFIG_KEYS & set(doc):
        return True
    return isinstance(doc.get("network"), str) and isinstance(doc.get("simulation"), str)


class SonataFormat(Format):
    """A SONATA circuit or simulation config (point-neuron and virtual nodes for now)."""

    name = "sonata"
    description = "SONATA circuit/simulation config JSON (point-process and virtual nodes)"
    suffixes = (".json",)
    can_read = True
    can_write = False
    extra = "sonata"
    requires = ("h5py", "pandas")
    holds_network = True
    holds_results = False
    holds_spec = False
    lossless = False

    def sniff(self, path: str | os.PathLike) -> bool:
        """A JSON object with SONATA config members (see :func:`is_sonata_config`)."""
        return is_sonata_config(path)

    def read(self, path: str | os.PathLike, results: bool = True, **opts: Any) -> Document:
        """Import the circuit; what is not carried is in ``Document.lost``. The run settings:
        :func:`nethub.converters.sonata.sonata_run_config` of the config's ``run`` and
        ``conditions``."""
        self.check_options("read", opts)
        # imported here: listing the registry must not load pandas/h5py (formats/base.py)
        from nethub.converters.sonata import sonata_to_network

        from .sonata import read_circuit

        net, lost = sonata_to_network(read_circuit(path))
        return Document(network=net, lost=lost)
