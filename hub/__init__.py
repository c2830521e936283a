"""nethub: a model-exchange hub for NEURON network models.

One canonical HDF5 network store in the middle; NetPyNE specs, NeuroML2, SONATA, HOC templates and
NetPyNE's JSON/pickle/MAT/CSV containers convert to and from it; NEURON (with MPI) simulates it.

The core (this package's model and store) imports neither ``neuron``, ``mpi4py`` nor ``matplotlib``.
"""

from __future__ import annotations

import importlib
import logging

from .errors import (
    ConversionError,
    FormatError,
    MissingExtraError,
    MissingMechanismError,
    NethubError,
    NoFormatError,
    SchemaVersionError,
    SimulationError,
    SpecError,
    StoreError,
    UntrustedCodeError,
    UntrustedPickleError,
)
from .version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

from . import cellimport as _cellimport  # noqa: E402
from . import specrules as _specrules  # noqa: E402
from .api import convert, info, load, load_results, read, save, validate  # noqa: E402


def _spec_provider():
    """The builder's services, for converters and formats (``nethub.specrules``);
    imported on first use: ``import nethub`` loads neither numpy nor pandas."""
    from .builder import services

    return services


_specrules.install(_spec_provider)


def _cell_importer():
    """The HOC converter's importer, for the builder's importCellParams
    (``nethub.cellimport``); imported on first use, like the spec provider."""
    from .converters.hoc_spec import import_request

    return import_request


_cellimport.install(_cell_importer)

_LAZY = {
    "build": ("nethub.builder", "build"),
    "Network": ("nethub.network", "Network"),
    "Results": ("nethub.results", "Results"),
    "NetParams": ("nethub.specs", "NetParams"),
    "SimConfig": ("nethub.specs", "SimConfig"),
    "load_spec": ("nethub.specs", "load_spec"),
    "simulate": ("nethub.runner", "simulate"),
    "spikes_by_node": ("nethub.formats.sonata.results", "spikes_by_node"),
    "swap": ("nethub.cellswap", "swap"),
    "unswap": ("nethub.cellswap", "unswap"),
    "export_cell": ("nethub.exporting", "export_cell"),
    "export_neuron_script": ("nethub.exporting", "export_neuron_script"),
    "verify": ("nethub.verifyrun", "verify"),
    "write_manifest": ("nethub.manifest", "write_manifest"),
}


def __getattr__(name: str):
    """Lazy attributes: ``nethub.build(...)``, ``nethub.Network``, ``nethub.NetParams``, ..."""
    if name not in _LAZY:
        raise AttributeError(f"module 'nethub' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attr is None else getattr(module, attr)


__all__ = [
    "__version__",
    "build",
    "Network",
    "Results",
    "NetParams",
    "SimConfig",
    "load_spec",
    "simulate",
    "spikes_by_node",
    "swap",
    "unswap",
    "export_cell",
    "export_neuron_script",
    "verify",
    "write_manifest",
    "convert",
    "info",
    "load",
    "load_results",
    "read",
    "save",
    "validate",
    "ConversionError",
    "FormatError",
    "MissingExtraError",
    "MissingMechanismError",
    "NethubError",
    "NoFormatError",
    "SchemaVersionError",
    "SimulationError",
    "SpecError",
    "StoreError",
    "UntrustedCodeError",
    "UntrustedPickleError",
]
