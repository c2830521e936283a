"""Exception hierarchy of nethub.

Every error a user can cause is a :class:`NethubError`; each also subclasses the builtin that
fits, so ``except ValueError`` keeps working for callers who do not know nethub.
"""

from __future__ import annotations

__all__ = [
    "NethubError",
    "SpecError",
    "FormatError",
    "StoreError",
    "SchemaVersionError",
    "NoFormatError",
    "MissingExtraError",
    "MissingMechanismError",
    "ConversionError",
    "SimulationError",
    "UntrustedCodeError",
    "UntrustedPickleError",
    "StoreAccessError",
    "StoreLockError",
]


class NethubError(Exception):
    """Base class of every error nethub raises on purpose."""


class SpecError(NethubError, ValueError):
    """A high-level spec (netParams / simConfig) is malformed; the message names the key path."""


class FormatError(NethubError, ValueError):
    """A file is not what its format expects (truncated, foreign, malformed)."""


class StoreError(FormatError):
    """A canonical store is unreadable or inconsistent; the message names the file and HDF5 path."""


class SchemaVersionError(StoreError):
    """A store was written by a newer nethub schema than this version can read."""


class NoFormatError(NethubError, ValueError):
    """No registered format matches a file (by name, suffix or content)."""


class MissingExtraError(NethubError, ImportError):
    """A format or feature matched but needs an optional dependency that is not installed."""

    def __init__(self, what: str, extra: str, module: str):
        super().__init__(
            f"{what} needs the optional dependency '{module}': pip install 'nethub[{extra}]'"
        )
        self.extra = extra
        self.module = module


class MissingMechanismError(NethubError, LookupError):
    """A model refers to a NEURON mechanism that is neither built in nor provided as .mod."""


class ConversionError(NethubError, ValueError):
    """A conversion between a format and the canonical network cannot be done."""


class SimulationError(NethubError, RuntimeError):
    """Instantiating or running a model in NEURON failed."""


class UntrustedCodeError(NethubError, PermissionError):
    """Code carried by data (a pickle, a .mod file with VERBATIM) was refused because the caller
    did not trust it (``--trust`` / ``trusted=True``)."""


class UntrustedPickleError(UntrustedCodeError):
    """Reading a pickle was refused because the caller did not mark it as trusted."""


class StoreAccessError(NethubError, PermissionError):
    """A store or its folder cannot be written (read-only file, folder or file system)."""


class StoreLockError(NethubError, OSError):
    """A store cannot be locked for writing (e.g. a file system without ``flock``)."""
