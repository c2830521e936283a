"""Plasticity per connection: NetPyNE 1.1's ``_addConnPlasticity``.

A connection row whose ``plast`` column holds ``{"mech": M, "params": {...}}`` (canonical JSON)
gets, right after its NetCon, a point process ``M`` at location 0 of the post synapse's section
(an artificial post cell gets a fresh dummy section per connection, as in NetPyNE's
``PointCell``) with ``params`` set in order. For ``M == "STDP"`` (the weight adjuster of
NetPyNE's examples, ``stdp.mod``) NetPyNE also creates, in this order,

- ``pc.gid_connect(pre_gid, stdp)`` with ``weight[0] = 1`` (presynaptic spikes),
- ``pc.gid_connect(post_gid, stdp)`` with ``weight[0] = -1`` (postsynaptic spikes),
- ``h.setpointer(netcon._ref_weight[weight_index], 'synweight', stdp)``,

so the connection's weight changes during the run; other mechanisms are only created and given
their parameters. Where NetPyNE prints an error and carries on (an unknown mechanism or
parameter), nethub stops with an error naming the mechanism.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import MissingMechanismError, SimulationError
from ..table import Categorical, Table

__all__ = ["Plasticity", "plastic_rows", "parse_plast", "plasticity_mechanisms"]


def parse_plast(text: Any) -> dict | None:
    """The plasticity dict of a ``plast`` cell, or None when there is none (missing, empty)."""
    if text is None or text == "":
        return None
    spec = json.loads(text) if isinstance(text, str) else text
    if not spec:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("mech"), str):
        raise SimulationError(f"connection plasticity {text!r}: expected "
                              '{"mech": name, "params": {...}}')
    return spec


def plastic_rows(conns: Table) -> np.ndarray:
    """Boolean mask of the connection rows that get plasticity."""
    n = len(conns)
    if "plast" not in conns or n == 0:
        return np.zeros(n, dtype=bool)
    col = conns["plast"]
    if isinstance(col, Categorical):
        has = np.array([parse_plast(c) is not None for c in col.categories] + [False])
        return has[col.codes]
    return np.array([parse_plast(c) is not None for c in col], dtype=bool)


def plasticity_mechanisms(conns: Table) -> dict[str, str]:
    """The plasticity point processes the connections use, each mapped to where (for
    :func:`nethub.sim.mechanisms.required_mechanisms`-style checks)."""
    col = conns["plast"] if "plast" in conns else None
    if not isinstance(col, Categorical) or len(conns) == 0:
        return {}
    rules = conns["rule"] if "rule" in conns else None
    out: dict[str, str] = {}
    for code, text in enumerate(col.categories):
        spec = parse_plast(text)
        rows = np.flatnonzero(col.codes == code) if spec is not None else []
        if len(rows) and spec["mech"] not in out:
            rcode = int(rules.codes[rows[0]]) if isinstance(rules, Categorical) else -1
            rule = rules.categories[rcode] if rcode >= 0 else None  # type: ignore[union-attr]
            out[spec["mech"]] = f"plasticity of connParams['{rule}']" if rule else \
                "connection plasticity"
    return out


class Plasticity:
    """Creates the plasticity objects of connections and keeps them alive."""

    def __init__(self, h, pc) -> None:
        self.h, self.pc = h, pc
        self.objects: list = []
        self._specs: dict[str, dict | None] = {}

    def add(self, cell, sec: str | None, netcon, weight_index: int, pre_gid: int,
            text: str) -> None:
        """NetPyNE's ``_addConnPlasticity`` for the connection whose NetCon is ``netcon``."""
        if text not in self._specs:
            self._specs[text] = parse_plast(text)
        spec = self._specs[text]
        if spec is None:
            return
        h, name = self.h, spec["mech"]
        if cell.point is not None:
            hsec = h.Section(name=f"cell_{cell.gid}.dummySec")
            self.objects.append(hsec)
        elif sec in cell.secs:
            hsec = cell.secs[sec]
        else:
            raise SimulationError(f"plasticity {name} on a connection to cell {cell.gid}: no "
                                  f"section {sec!r}")
        model = getattr(h, name, None)
        if model is None:
            raise MissingMechanismError(f"plasticity mechanism '{name}' (connection to cell "
                                        f"{cell.gid}) is not loaded; add its .mod file to the "
                                        "model")
        mech = model(0, sec=hsec)
        self.objects.append(mech)
        for key, value in (spec.get("params") or {}).items():
            try:
                setattr(mech, key, value)
            except (AttributeError, LookupError, TypeError, ValueError) as exc:
                raise SimulationError(f"plasticity mechanism '{name}': cannot set {key}="
                                      f"{value!r}: {exc}") from exc
        if name == "STDP":
            pre = self.pc.gid_connect(pre_gid, mech)
            pre.weight[0] = 1
            post = self.pc.gid_connect(cell.gid, mech)
            post.weight[0] = -1
            h.setpointer(netcon._ref_weight[weight_index], "synweight", mech)
            self.objects += [pre, post]
