"""Lazy imports of the optional analysis libraries (Elephant, Neo, quantities, LFPykit).

``import nethub`` and ``import nethub.analysis`` stay light: these are imported only by the
functions that need them, with a message naming the extra to install when they are missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pandas as pd

from ..errors import MissingExtraError

__all__ = ["elephant_module", "neo_spiketrains", "require"]


def require(module: str, what: str, extra: str = "analysis") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(what, extra, module.split(".")[0]) from exc


def elephant_module(name: str) -> ModuleType:
    """An Elephant submodule (``pip install 'nethub[analysis]'`` when missing)."""
    return require(name, f"this analysis ({name})")


def neo_spiketrains(spikes: pd.DataFrame, t0: float, t1: float) -> list:
    """One ``neo.SpikeTrain`` (ms) per gid with spikes in ``spikes`` (columns time, gid)."""
    neo = require("neo", "converting spikes to Neo")
    pq = require("quantities", "converting spikes to Neo")
    g = spikes["gid"].to_numpy()
    t = spikes["time"].to_numpy()
    order = np.lexsort((t, g))
    g, t = g[order], t[order]
    cuts = np.flatnonzero(np.diff(g)) + 1
    return [neo.SpikeTrain(part * pq.ms, t_start=t0 * pq.ms, t_stop=t1 * pq.ms)
            for part in np.split(t, cuts) if len(part)]
