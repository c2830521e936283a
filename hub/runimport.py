"""Add simulation runs read from another file (an NWB export, ...) to an existing store.

A run joins a store only when it was simulated with the store's network: its recorded
``network_hash`` must equal the store's content hash. ``nethub convert RUN.nwb STORE`` ends here
(:func:`nethub.api.convert`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from . import store
from .errors import ConversionError
from .results import Results

__all__ = ["append_runs"]

logger = logging.getLogger(__name__)


def append_runs(runs: Sequence[Results], path: str | os.PathLike,
                source: str | os.PathLike) -> list[str]:
    """Append ``runs`` (read from ``source``) to the store ``path``; return their names.

    Every run is checked before any is written: it must record the network hash of the
    store's network, and its name must be free.

    Raises
    ------
    ConversionError
        A run records no network hash or another network's, or its name is taken; the
        message names both files.
    """
    have = store.network_hash(path, record=False)
    taken = {r["name"] for r in store.list_runs(path)}
    names = []
    for r in runs:
        name = r.name or f"run_{len(taken) + len(names):04d}"
        if not r.network_hash:
            raise ConversionError(
                f"{source}: run {name!r} records no network hash, so nothing says it was "
                f"simulated with the network of {path}; not added")
        if r.network_hash != have:
            raise ConversionError(
                f"{source}: run {name!r} was simulated with network {r.network_hash}, but "
                f"{path} holds network {have}; refusing to add it to another network")
        if name in taken or name in names:
            raise ConversionError(f"{path} already has a run {name!r}; give the imported run "
                                  "another name (nethub convert ... --run NAME)")
        names.append(name)
    for r, name in zip(runs, names):
        store.append_run(path, r, name)
        logger.info("%s: run %r added from %s", path, name, source)
    return names
