"""Embedded files: the source documents and side files a model carries verbatim.

A store is self-contained: the morphologies, parameter JSON, HOC/Python templates, NeuroML and
LEMS documents, SONATA configs and type tables a model was imported from (or needs) travel in
it as :class:`EmbeddedFile` objects (``Network.files``), each with a role, the name it had on
the user's disk and a SHA-256 that readers verify. NMODL sources keep their own home,
``Network.mod_files`` (``/model/mod_files``), because the simulator compiles them from there;
``Network.files_with_role('mod')`` shows them as embedded files too (``docs/store.md`` §5.5).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

__all__ = ["EmbeddedFile", "FILE_ROLES", "SOURCE_ROLES", "check_role", "check_file_name",
           "sha256_hex"]

#: The documented roles of an embedded file; other roles must start with ``"x-"``.
FILE_ROLES: dict[str, str] = {
    "mod": "NMODL source or a file it includes (kept in Network.mod_files)",
    "morphology": "a morphology (SWC, ASC, NeuroML morphology, HDF5 morphology)",
    "template": "a HOC or Python cell template",
    "params": "parameter JSON (e.g. SONATA dynamics_params, BluePyOpt parameters)",
    "neuroml": "a NeuroML2 document",
    "lems": "a LEMS document (simulation, component types)",
    "sonata-config": "a SONATA circuit or simulation config",
    "type-table": "a SONATA node/edge types CSV",
    "spec": "a high-level model spec as given (NetPyNE netParams/simConfig file, ...)",
    "source": "any other source document of an import, kept verbatim",
}
#: Roles that mark the source documents of an import (kept verbatim, not needed to simulate).
SOURCE_ROLES = frozenset({"source", "spec", "sonata-config", "type-table", "neuroml", "lems"})


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_role(role: str) -> str:
    """``role`` if it is documented or ``x-`` prefixed, else ValueError naming the valid ones."""
    if not isinstance(role, str) or not (role in FILE_ROLES or
                                         (role.startswith("x-") and len(role) > 2)):
        raise ValueError(f"unknown embedded file role {role!r} (valid: "
                         f"{', '.join(FILE_ROLES)}, or 'x-<name>' for others)")
    return role


def check_file_name(name: str) -> str:
    """``name`` if it is a relative POSIX path inside the model (no ``..``, not absolute)."""
    parts = name.split("/") if isinstance(name, str) else []
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..")
                                                             for p in parts):
        raise ValueError(f"embedded file name {name!r} must be a relative path like "
                         "'morphologies/pyr.swc' (no '..', '.', empty parts or backslashes)")
    return name


@dataclass(frozen=True)
class EmbeddedFile:
    """One file carried by a model, verbatim.

    Attributes
    ----------
    name : str
        Unique path inside the model, e.g. ``"morphologies/pyr.swc"``.
    role : str
        One of :data:`FILE_ROLES`, or ``"x-<something>"``.
    original_name : str
        The path as it was on the user's disk (informational).
    data : bytes
        The content.
    sha256 : str
        Lowercase hex SHA-256 of ``data``, computed on creation.
    """

    name: str
    role: str
    original_name: str
    data: bytes = field(repr=False)
    sha256: str = ""

    def __post_init__(self) -> None:
        check_file_name(self.name)
        check_role(self.role)
        data = self.data
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"embedded file {self.name!r}: data must be bytes, "
                            f"got {type(data).__name__}")
        object.__setattr__(self, "data", bytes(data))
        digest = sha256_hex(self.data)
        if self.sha256 and self.sha256 != digest:
            raise ValueError(f"embedded file {self.name!r}: sha256 {self.sha256[:12]}... does "
                             f"not match its data ({digest[:12]}...)")
        object.__setattr__(self, "sha256", digest)

    @property
    def size(self) -> int:
        """Number of bytes."""
        return len(self.data)

    def text(self, encoding: str = "utf-8") -> str:
        """The content decoded as text."""
        return self.data.decode(encoding)

    def meta(self) -> dict[str, str]:
        """Name, role, original name and sha256 (what the store keeps as attributes)."""
        return {"name": self.name, "role": self.role, "original_name": self.original_name,
                "sha256": self.sha256}
