"""Shared state of one build: the spec as plain dicts, the cells table, seeds, compiled
expressions and NetPyNE-compatible random streams.

Every random number of a build is a pure function of (seed, stream key, index), so the network
does not depend on the number of ranks, block sizes or rule order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import numpy as np

from ..errors import SpecError
from ..expr import border_correction, compile_expr
from ..expr import conn_env as _conn_env
from ..specs.runmap import NETPYNE_SEEDS
from ..specs.schema import netparam
from ..table import Categorical, Table

__all__ = ["BuildContext", "DEFAULT_SEEDS", "conn_env", "cell_env"]

#: NetPyNE's default seeds (declared once, in nethub.specs.runmap)
DEFAULT_SEEDS = NETPYNE_SEEDS


def _xyz(cells: Table, rows: np.ndarray, norm: bool = False) -> np.ndarray:
    names = ("xnorm", "ynorm", "znorm") if norm else ("x", "y", "z")
    return np.stack([np.asarray(cells[c])[rows] for c in names], axis=-1)


def conn_env(cells: Table, pre: np.ndarray, post: np.ndarray, names, border=None
             ) -> dict[str, np.ndarray]:
    """NetPyNE's connection variables (only ``names``) for pairs (pre row, post row).

    ``border`` is the per-cell border correction array (n_cells, 3) or None.
    """
    return _conn_env(_xyz(cells, pre), _xyz(cells, post), _xyz(cells, pre, True),
                     _xyz(cells, post, True),
                     post_border=None if border is None else border[post], names=set(names))


def cell_env(cells: Table, rows: np.ndarray, prefix: str = "post_") -> dict[str, np.ndarray]:
    """Arrays of one cell's coordinates (``post_x`` ... or ``x`` ... with prefix '')."""
    return {f"{prefix}{c}": np.asarray(cells[c])[rows]
            for c in ("x", "y", "z", "xnorm", "ynorm", "znorm")}


@dataclass
class BuildContext:
    """Everything a rule builder needs; created once per build."""

    net: dict[str, Any]
    cfg: dict[str, Any]
    cells: Table | None = None
    seeds: dict[str, int] = field(default_factory=dict)
    _compiled: dict[tuple, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seeds = {**DEFAULT_SEEDS, **(self.cfg.get("seeds") or {})}

    # -------------------------------------------------------------- expressions
    @property
    def numeric_params(self) -> dict[str, float]:
        """Numeric netParams attributes, usable by name in expressions (NetPyNE does so)."""
        return {k: float(v) for k, v in self.net.items()
                if isinstance(v, Number) and not isinstance(v, bool)}

    def compile(self, text: str, allowed: set[str], where: str):
        """Compile an expression once (cached by text, variables and key path)."""
        key = (text, frozenset(allowed), where)
        if key not in self._compiled:
            names = {**self.numeric_params, **dict.fromkeys(allowed)}
            self._compiled[key] = compile_expr(text, names, where)
        return self._compiled[key]

    @property
    def border(self) -> np.ndarray | None:
        """Per-cell border corrections (NetPyNE ``correctBorder``), or None when not asked for.

        Borders per axis are ``correctBorder['<c>borders']`` (normalised) times the network size,
        else ``[0, size]``.
        """
        cb = self.net.get("correctBorder")
        if not cb:
            return None
        if "_border" not in self._compiled:
            size = np.array([float(netparam(self.net, f"size{c}")) for c in "XYZ"])
            lo, hi = np.zeros(3), size.copy()
            for i, c in enumerate("xyz"):
                b = cb.get(f"{c}borders") if isinstance(cb, dict) else None
                if b:
                    lo[i], hi[i] = b[0] * size[i], b[1] * size[i]
            th = cb.get("threshold", [0, 0, 0]) if isinstance(cb, dict) else cb
            xyz = np.stack([np.asarray(self.cells[c]) for c in "xyz"], axis=-1)
            self._compiled["_border"] = border_correction(xyz, lo, hi, np.asarray(th, float))
        return self._compiled["_border"]

    @property
    def gids(self) -> np.ndarray:
        return np.asarray(self.cells["gid"])

    def tag_values(self, rows: np.ndarray, key: str):
        col = self.cells[key] if key in self.cells else None
        if col is None:
            return None
        if isinstance(col, Categorical):
            return col.take(rows).values()
        return np.asarray(col)[rows]

    def check_keys(self, where: str, given: dict, valid: set[str]) -> None:
        unknown = set(given) - valid
        if unknown:
            raise SpecError(f"{where}: unknown key(s) {sorted(unknown)} "
                            f"(valid: {', '.join(sorted(valid))})")
