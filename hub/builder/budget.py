"""Memory estimates made before a build allocates (see :mod:`nethub.limits`).

The estimates count only what the result itself holds (the cells and connections tables), so
they are lower bounds: a refusal means the build certainly cannot fit. Expressions whose value
is unknown before evaluation (string probabilities, ...) are not estimated.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np

from ..limits import check_memory

__all__ = ["BYTES_PER_CELL", "BYTES_PER_CONN", "check_cells", "check_connections",
           "estimate_connections"]

#: bytes per row of the cells table (gid, 6 coordinates, source id, category codes)
BYTES_PER_CELL = 8 * 8 + 4 * 4
#: bytes per row of the connections table (2 gids, weight, delay, loc, pre_loc, threshold,
#: category codes)
BYTES_PER_CONN = 7 * 8 + 5 * 4


def check_cells(n: float, total: float, where: str) -> None:
    """Refuse a population of ``n`` cells (``total`` with the earlier ones) too big to hold."""
    check_memory(total * BYTES_PER_CELL, f"{where}: {n:,.0f} cells ({total:,.0f} in all)")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, Number) and not isinstance(v, bool) else None


def _count(sizes: Mapping[str, int], conds: Any) -> int:
    """Cells a condition dict can select, judged by its 'pop' alone (an upper bound)."""
    pops = conds.get("pop") if isinstance(conds, Mapping) else None
    if isinstance(pops, str):
        return sizes.get(pops, 0)
    if isinstance(pops, (list, tuple)):
        return sum(sizes.get(p, 0) for p in pops if isinstance(p, str))
    return sum(sizes.values())


def estimate_connections(net: Mapping, sizes: Mapping[str, int]) -> list[tuple[str, float]]:
    """``(rule key path, expected number of NetCons)`` of each connParams rule whose numbers
    are known before building (probability, convergence, divergence, fullConn, connList)."""
    out = []
    for label, rule in (net.get("connParams") or {}).items():
        if not isinstance(rule, Mapping):
            continue
        npre, npost = _count(sizes, rule.get("preConds")), _count(sizes, rule.get("postConds"))
        n = None
        if rule.get("connFunc") == "fullConn":
            n = float(npre) * npost
        elif "connList" in rule and isinstance(rule["connList"], (list, tuple, np.ndarray)):
            n = float(len(rule["connList"]))
        elif _num(rule.get("probability")) is not None:
            n = _num(rule["probability"]) * npre * npost
        elif _num(rule.get("convergence")) is not None:
            n = _num(rule["convergence"]) * npost
        elif _num(rule.get("divergence")) is not None:
            n = _num(rule["divergence"]) * npre
        if n is None:
            continue
        spc = _num(rule.get("synsPerConn"))
        syn = rule.get("synMech")
        n *= max(spc or 1.0, 1.0) * (len(syn) if isinstance(syn, (list, tuple)) and syn else 1)
        out.append((f"connParams[{label!r}]", n))
    return out


def check_connections(net: Mapping, sizes: Mapping[str, int]) -> None:
    """Refuse connection rules whose connections together cannot fit in memory."""
    est = estimate_connections(net, sizes)
    total = sum(n for _, n in est)
    if not est:
        return
    top = max(est, key=lambda e: e[1])
    check_memory(total * BYTES_PER_CONN, f"{total:,.0f} connections (the largest rule, "
                 f"{top[0]}, {top[1]:,.0f})")
