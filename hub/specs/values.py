"""Value checks shared by every way a spec or a simConfig reaches nethub.

A spec given as :class:`~nethub.specs.NetParams` / :class:`~nethub.specs.SimConfig` is checked
key by key when set. The same catalogue (:mod:`nethub.specs.schema`) is applied here to what
arrives by other roads, so that no number escapes it:

- :func:`check_spec` -- plain netParams/simConfig dicts given to :func:`nethub.build`;
- :func:`check_overrides` -- ``nethub run --cfg c.json`` and ``simulate(..., sim_config=dict)``:
  only the keys given are checked (the rest comes from the stored simConfig);
- :func:`check_run_config` -- the simConfig a run actually uses (stored spec + overrides):
  ``dt`` and ``recordStep`` positive, ``duration`` >= 0 (0 instantiates only), all finite,
  and every other catalogued number valid, before anything is instantiated.

Each raises :class:`~nethub.errors.SpecError` listing every finding with its key path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import SpecError
from .schema import (
    NETPARAMS_KEYS,
    RULE_SPECS,
    RXD_SECTIONS,
    SIMCONFIG_KEYS,
    jsonable_problems,
    problems_error,
    rule_problems,
    show,
    value_problems,
)
from .specdict import _read_json

__all__ = ["check_spec", "check_overrides", "check_run_config", "netparams_problems",
           "simconfig_problems", "read_overrides"]

#: simConfig keys a run cannot do without (finite; dt, recordStep > 0, duration >= 0).
RUN_NUMBERS = ("dt", "duration", "recordStep")


def netparams_problems(net: Mapping, complete: bool = False) -> list[str]:
    """Findings for a plain netParams dict (catalogued keys and every rule)."""
    out: list[str] = []
    for name, value in net.items():
        if name in RULE_SPECS and isinstance(value, Mapping):
            for label, rule in value.items():
                out += rule_problems(name, label, _without_long_lists(rule), complete)
        elif name == "rxdParams" and isinstance(value, Mapping):
            for section, rule in value.items():
                if section in RXD_SECTIONS or complete:
                    out += rule_problems(name, section, rule, complete)
        elif name in NETPARAMS_KEYS:
            out += value_problems(NETPARAMS_KEYS[name], value, f"netParams.{name}", complete)
    return out


#: lists longer than this (fromListConn's connList, per-connection weights) are left to the
#: builder and to the vectorized check of the built network (:mod:`nethub.ranges`)
LONG_LIST = 1000


def _without_long_lists(rule: Any) -> Any:
    if not isinstance(rule, Mapping):
        return rule
    return {k: v for k, v in rule.items()
            if not (isinstance(v, (list, tuple, np.ndarray)) and len(v) > LONG_LIST)}


def simconfig_problems(cfg: Mapping, where: str = "cfg") -> list[str]:
    """Findings for the catalogued keys present in a simConfig dict (user keys: JSON only)."""
    out: list[str] = []
    for name, value in cfg.items():
        if not isinstance(name, str):
            out.append(f"{where}: keys must be strings, got {show(name)}")
        elif name in SIMCONFIG_KEYS:
            if value is None and name not in RUN_NUMBERS:
                continue  # NetPyNE's saved simConfigs hold None for unset options
            out += value_problems(SIMCONFIG_KEYS[name], value, f"{where}.{name}")
        else:
            out += jsonable_problems(value, f"{where}.{name}")
    return out


#: a finding about a number ("...: expected positive number, got float nan")
_NUMBER_FINDING = re.compile(r": expected .*, got (?:float|int|(?:u?int|float)\d+) ")


def check_spec(net: Mapping, cfg: Mapping | None = None) -> None:
    """Raise SpecError if a plain netParams/simConfig pair holds an invalid number.

    Only findings about numbers (out of range, NaN, infinite) are raised here; the builder
    reports structural problems of plain dicts with its own messages, as before.
    """
    problems = netparams_problems(net) + simconfig_problems(cfg or {})
    problems = [p for p in problems if _NUMBER_FINDING.search(p)]
    if problems:
        raise problems_error("the spec", problems)


def check_overrides(cfg: Any, where: str = "cfg") -> None:
    """Raise SpecError if simConfig overrides (a dict, e.g. read from ``--cfg c.json``) are
    invalid; ``where`` names their origin (the file)."""
    if cfg is None:
        return
    if not isinstance(cfg, Mapping):
        raise SpecError(f"{where}: expected a simConfig dict, got {show(cfg)}")
    problems = simconfig_problems(cfg, "cfg")
    if len(problems) == 1:
        raise SpecError(f"{where}: {problems[0]}")
    if problems:
        raise problems_error(where, problems)


def check_run_config(cfg: Mapping, where: str = "simConfig of the run") -> None:
    """Raise SpecError unless the merged simConfig of a run can be simulated: ``dt``,
    ``duration``, ``recordStep`` positive and finite, every catalogued number valid (other
    findings about stored simConfigs, e.g. a string option holding a number, are left alone:
    stores from other tools carry what those tools wrote)."""
    problems = [f"cfg.{k}: missing" for k in RUN_NUMBERS[:2] if k not in cfg]
    problems += [p for p in simconfig_problems(cfg, "cfg") if _NUMBER_FINDING.search(p)
                 or p.startswith(tuple(f"cfg.{k}:" for k in RUN_NUMBERS))]
    if problems:
        raise problems_error(where, problems)


def read_overrides(path: str | os.PathLike) -> dict:
    """Read simConfig overrides from a JSON file (a simConfig dict, or NetPyNE output holding
    one under ``'simConfig'``) and check them; errors name the file."""
    data = _read_json(path)
    if isinstance(data, Mapping) and isinstance(data.get("simConfig"), Mapping):
        data = data["simConfig"]
    check_overrides(data, str(path))
    return dict(data)
