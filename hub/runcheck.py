"""The check ``nethub run`` makes before simulating a store (``--unchecked`` skips it).

A store that :func:`nethub.validate.validate_store` rejects is not simulated: connections from
unknown gids would be dropped silently, a duplicated gid would lose a cell, a NaN delay would
abort CoreNEURON. The check reads each column once, vectorized (see docs/safety.md for figures);
every MPI rank checks the whole store, so all ranks reach the same verdict without talking.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping

from .errors import StoreError
from .store import open_store
from .validate import ERROR, validate_store

__all__ = ["check_store_for_run", "run_dt"]

logger = logging.getLogger(__name__)

_SHOW = 10


def run_dt(path: str | os.PathLike, overrides: Mapping | None = None) -> float:
    """The time step a run will use: the override, else the stored simConfig's, else 0.025."""
    if overrides and overrides.get("dt") is not None:
        return float(overrides["dt"])
    with contextlib.suppress(Exception):  # an unreadable spec is the validator's to report
        with open_store(path) as f:
            raw = f["model/spec"][()]
        spec = json.loads(raw.decode() if isinstance(raw, bytes) else raw) or {}
        dt = (spec.get("simConfig") or {}).get("dt")
        if isinstance(dt, (int, float)) and not isinstance(dt, bool):
            return float(dt)
    return 0.025


def check_store_for_run(path: str | os.PathLike, dt: float | None = None) -> None:
    """Raise :class:`~nethub.errors.StoreError` listing the validator's errors, if any.

    Parameters
    ----------
    path : path-like
        The store to be simulated.
    dt : float, optional
        The run's time step (see :func:`run_dt`); connection delays must not be shorter.
    """
    findings = validate_store(path, dt=dt, for_run=True)
    errors = [f for f in findings if f.level == ERROR]
    for f in findings:
        if f.level != ERROR:
            logger.debug("%s: %s", path, f)
    if not errors:
        return
    shown = "\n  - ".join(str(f) for f in errors[:_SHOW])
    more = f"\n  ... and {len(errors) - _SHOW} more" if len(errors) > _SHOW else ""
    raise StoreError(f"{os.fspath(path)}: not simulated, the store has {len(errors)} error(s) "
                     f"(nethub validate lists them; --unchecked runs anyway):\n  - {shown}{more}")
