"""SONATA circuit / simulation configs as a format plugin: read
(:func:`nethub.converters.sonata.sonata_to_network`) and write a folder
(:func:`nethub.converters.sonata_export.network_to_sonata`, docs/sonata.md "Export")."""

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
    write_suffixes = ()  # a folder, written only when asked for by name (--to sonata)
    can_read = True
    can_write = True
    extra = "sonata"
    requires = ("h5py", "pandas")
    holds_network = True
    holds_results = True  # written: a run's spikes and traces (write option runs), not read
    holds_spec = False
    lossless = False

    read_options = {
        "trusted": "run hoc: cell templates of biophysical nodes (HOC is code; --trust)",
    }
    write_options = {
        "overwrite": "replace a non-empty output folder (default false)",
        "runs": "which stored runs to write as output spikes and reports: none (default), "
                "latest, all",
    }

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

        circuit = read_circuit(path)
        circuit.trusted = opts.get("trusted") in (True, "true", "True", "1")
        net, lost = sonata_to_network(circuit)
        return Document(network=net, lost=lost)

    def write(self, doc: Document, path: str | os.PathLike, **opts: Any) -> list[str]:
        """Write ``doc.network`` as a SONATA folder ``path`` (circuit + simulation config,
        node sets, type CSVs, components, inputs) and, if asked, runs as output spikes and
        element reports (one per trace label)."""
        self.check_options("write", opts)
        # imported here: listing the registry must not load pandas/h5py (formats/base.py)
        from nethub.converters.sonata_export import network_to_sonata
        from nethub.errors import FormatError

        from .sonata.export import write_export

        if doc.network is None:
            raise FormatError(f"{path}: a SONATA export needs a network (got results only)")
        which = str(opts.get("runs", "none"))
        if which not in ("none", "latest", "all"):
            raise FormatError(f"write option runs={which!r}: use none, latest or all")
        runs = {"none": [], "latest": doc.results[-1:], "all": doc.results}[which]
        exp = network_to_sonata(doc.network, played=runs[-1] if runs else None)
        lost = list(exp.lost)
        if len(runs) < len(doc.results):
            lost.append(f"{len(doc.results) - len(runs)} stored run(s) not written (write "
                        "option runs=latest or runs=all writes their spikes)")
        write_export(exp, path, overwrite=bool(opts.get("overwrite", False)), runs=runs,
                     cell_types=doc.network.cell_types, lost=lost)
        return lost
