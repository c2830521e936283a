"""Spec keys nethub accepts and stores but does not simulate: ONE table, :data:`NOT_SIMULATED`.

NetPyNE models use them, so the spec loader accepts them and the store keeps them (a model is
archived whole); but a run must never look complete when a requested feature was skipped. Each
entry says, for ``build`` and for ``run``, whether asking for the feature is an ``"error"``
(:class:`~nethub.errors.SpecError`) or a ``"warning"`` (logged, and listed in the run's
``meta['not_simulated']``):

- an error where the simulated dynamics or the network itself would differ from NetPyNE's
  (reaction-diffusion, disynaptic bias, the deprecated ``gapJunction`` flag, local time steps);
- a warning where spikes and traces are right but an extra output is missing (LFP, dipoles,
  stimulus spikes, ...).

This table is the code's source of truth; when a feature lands (e.g. LFP recording), delete its
row here (and its test case in ``tests/unit/test_values.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError

__all__ = ["NotSimulated", "NOT_SIMULATED", "not_simulated", "check_not_simulated"]

logger = logging.getLogger(__name__)

ERROR, WARNING = "error", "warning"


def _on(v: Any) -> bool:
    """Requested: truthy and not an empty container."""
    return bool(v) if not isinstance(v, (list, tuple, dict)) else len(v) > 0


@dataclass(frozen=True)
class NotSimulated:
    """One accepted-but-not-simulated key: where it lives, what happens at build and at run."""

    family: str  #: "simConfig", "netParams", or a rule family such as "connParams"
    key: str
    build: str  #: "error" or "warning"
    run: str  #: "error" or "warning"
    why: str
    requested: Callable[[Any], bool] = _on


NOT_SIMULATED: tuple[NotSimulated, ...] = (
    NotSimulated("netParams", "rxdParams", WARNING, ERROR,
                 "reaction-diffusion (NEURON rxd) is not simulated: concentrations would stay "
                 "at their initial values"),
    NotSimulated("connParams", "disynapticBias", ERROR, ERROR,
                 "NetPyNE's disynaptic bias changes which pairs connect; nethub has no such "
                 "algorithm"),
    NotSimulated("connParams", "gapJunction", ERROR, ERROR,
                 "the deprecated gapJunction flag is not converted; give the synMech "
                 "'pointerParams' instead"),
    NotSimulated("connParams", "distinctSecsPerSynMech", ERROR, ERROR,
                 "NetPyNE then places each synMech of a multi-synapse connection on its own "
                 "sections; nethub does not"),
    NotSimulated("connParams", "shape", ERROR, ERROR,
                 "time-varying connection weights (NetPyNE's pulse/sinusoid 'shape') are not "
                 "simulated"),
    NotSimulated("connParams", "preSecs", ERROR, ERROR,
                 "per-connection presynaptic sections from a list are not used"),
    NotSimulated("connParams", "preLocs", ERROR, ERROR,
                 "per-connection presynaptic locations from a list are not used"),
    NotSimulated("stimSourceParams", "shape", ERROR, ERROR,
                 "time-varying stimulus weights (NetPyNE's 'shape') are not simulated"),
    NotSimulated("stimSourceParams", "plast", ERROR, ERROR,
                 "plasticity of stimulus connections is not simulated"),
    NotSimulated("stimSourceParams", "type", ERROR, ERROR,
                 "extracellular stimulation (XStim) is not implemented",
                 requested=lambda v: v == "XStim"),
    NotSimulated("stimTargetParams", "synsPerConn", ERROR, ERROR,
                 "NetPyNE makes synsPerConn NetStim connections per target; nethub makes one",
                 requested=lambda v: v is not None and not (isinstance(v, (int, float))
                                                            and not isinstance(v, bool)
                                                            and v == 1)),
    NotSimulated("simConfig", "addSynMechs", ERROR, ERROR,
                 "addSynMechs=False makes NetPyNE create no synapses; nethub always does",
                 requested=lambda v: v is False),
    NotSimulated("simConfig", "use_local_dt", WARNING, ERROR,
                 "CVode local time steps are not used; nethub integrates with one global step"),
    NotSimulated("simConfig", "recordDipolesHNN", WARNING, WARNING,
                 "HNN dipoles are not recorded (recordDipole is)"),
    NotSimulated("simConfig", "recordStim", WARNING, WARNING,
                 "spikes of NetStim/VecStim stimulus sources are not recorded"),
    NotSimulated("simConfig", "saveWeights", WARNING, WARNING,
                 "weights are not saved during the run"),
    NotSimulated("simConfig", "dump_coreneuron_model", WARNING, WARNING,
                 "the CoreNEURON model is not dumped"),
)


def not_simulated(net: Mapping | None, cfg: Mapping | None, stage: str
                  ) -> list[tuple[str, str, str]]:
    """``(level, key path, why)`` of every requested feature of :data:`NOT_SIMULATED`;
    ``stage`` is ``"build"`` or ``"run"``."""
    out = []
    for row in NOT_SIMULATED:
        level = getattr(row, stage)
        if row.family == "simConfig":
            hits = [(f"cfg.{row.key}", (cfg or {}).get(row.key))]
        elif row.family == "netParams":
            hits = [(f"netParams.{row.key}", (net or {}).get(row.key))]
        else:
            rules = (net or {}).get(row.family) or {}
            hits = [(f"{row.family}[{label!r}][{row.key!r}]", rule.get(row.key))
                    for label, rule in rules.items() if isinstance(rule, Mapping)]
        out += [(level, path, row.why) for path, value in hits if row.requested(value)]
    return out


def check_not_simulated(net: Mapping | None, cfg: Mapping | None, stage: str) -> list[str]:
    """Raise SpecError for the error-level findings of ``stage``; log the warnings and return
    them as ``"<key path>: <why>"`` (what a run records in ``meta['not_simulated']``)."""
    found = not_simulated(net, cfg, stage)
    errors = [f"{path}: {why}" for level, path, why in found if level == ERROR]
    if errors:
        flag = " (nethub keeps the spec; remove the key to simulate without it)"
        raise SpecError("not simulated by nethub:\n  - " + "\n  - ".join(errors) + flag)
    warnings = [f"{path}: {why}" for level, path, why in found if level == WARNING]
    for w in warnings:
        logger.warning("%s; this %s does not include it", w, stage)
    return warnings
