"""Trust in cell templates (HOC or Python) that a store runs in template mode.

A template is code. It runs at simulation time only when the user trusts it: ``--trust`` /
``trusted=True`` on the run, or its SHA-256 remembered because the user imported it with trust
(in this process, and in :func:`nethub.mechsource.trust_file` for later ones, so that the
ranks of an MPI run and later runs of the user's own stores need no flag).
"""

from __future__ import annotations

import logging
import os

from .mechsource import trust_file

__all__ = ["remember_template", "is_trusted_template"]

logger = logging.getLogger(__name__)

_SESSION: set[str] = set()


def remember_template(sha256: str, persist: bool = True) -> None:
    """Remember a template source (by its SHA-256) as trusted by the user."""
    _SESSION.add(sha256)
    if not persist or sha256 in _on_disk():
        return
    path = trust_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(f"{sha256}\n")
    except OSError as exc:
        logger.warning("cannot remember a trusted template in %s (%s); a later run of a "
                       "store that runs it needs --trust", path, exc)


def is_trusted_template(sha256: str) -> bool:
    """Whether the template source with this SHA-256 was trusted before."""
    return sha256 in _SESSION or sha256 in _on_disk()


def _on_disk() -> set[str]:
    try:
        return set(trust_file().read_text().split())
    except OSError:
        return set()
