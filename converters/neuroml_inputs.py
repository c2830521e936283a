"""NeuroML2 ``timedSynapticInput``: spike times delivered onto a synapse, as jNeuroML's NEURON
export does it (one NetStim per spike time, ``number = 1, start = t``, connected with weight 1
(the input's ``inputW`` weight) and delay 0 to a synapse of the input's type on the target).

Each (input, spike) pair becomes a stim-target row of a ``NetStim`` stim source whose
``param.start`` is the spike time; ``syn_mech`` is the input's synapse. jNeuroML gives the
spikes of one input a single synapse object; nethub gives each its own (identical for the
linear synapses nethub merges, see ``RunConfig.merge_synapses``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..celltypes import StimSource
from ..errors import FormatError

__all__ = ["TIMED", "timed_source", "timed_rows"]

#: libNeuroML attribute of timedSynapticInput components
TIMED = "timed_synaptic_inputs"
_TIME_UNITS = {"ms": 1.0, "s": 1e3}


def _ms(text: Any, where: str) -> float:
    s = str(text).replace(" ", "")
    for unit in ("ms", "s"):
        if s.endswith(unit):
            try:
                return float(s[: -len(unit)]) * _TIME_UNITS[unit]
            except ValueError:
                break
    raise FormatError(f"{where}: time {text!r} is not a number in ms or s")


def timed_source(comp: Any) -> StimSource:
    """The stim source of a timedSynapticInput: single-spike NetStims."""
    return StimSource(name=comp.id, model="NetStim",
                      params={"number": 1, "noise": 0.0, "interval": 1e9},
                      tags={"nml.type": "timedSynapticInput", "nml.synapse": comp.synapse})


def timed_rows(comp: Any, gids: np.ndarray, weights: np.ndarray, rule: str,
               section: str) -> dict[str, Any]:
    """Stim-target rows of input list ``rule``: every spike of ``comp`` on every target."""
    times = np.array([_ms(s.time, f"timedSynapticInput {comp.id!r} spike {s.id!r}")
                      for s in comp.spikes], dtype=np.float64)
    n_in, n_sp = len(gids), len(times)
    n = n_in * n_sp
    w = np.where(np.isnan(weights), 1.0, weights)
    return {"source": [comp.id] * n, "gid": np.repeat(np.asarray(gids, np.int64), n_sp),
            "sec": [section] * n, "loc": np.full(n, 0.5), "rule": [rule] * n,
            "syn_mech": [comp.synapse] * n, "weight": np.repeat(w, n_sp),
            "delay": np.zeros(n), "param.start": np.tile(times, n_in)}
