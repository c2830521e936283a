"""The current-clamp protocol that decides an imported template's run mode (in the child
process of :mod:`nethub.sim.templateread`).

The same protocol runs twice, each time in a fresh NEURON: once on a fresh instance of the
template itself (its ``init()``, FInitializeHandlers, ``Vector.play`` and random draws
included), once on the snapshot built by the simulator's own code
(:meth:`nethub.sim.engine.Engine` ``_compartmental``). The parent compares the two soma traces:
equal to ``tolerance`` -> the snapshot is enough; else the template must run at run time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from neuron import h

from ..celltypes import cell_type_from_dict
from ..network import Network
from ..runconfig import RunConfig
from .engine import Engine

#: the default protocol: two current steps (nA) into the probe section's middle
DEFAULT_PROTOCOL: dict[str, Any] = {
    "tstop": 100.0, "dt": 0.025,
    "steps": [[10.0, 30.0, 0.1], [50.0, 40.0, 0.4]],  # [delay, duration, amplitude]
}


def probe_section(out: dict) -> str:
    """Where the clamp goes: the spike source section, else the first ``soma*``, else the
    first section (names of the cell type)."""
    if out.get("spike_source"):
        return out["spike_source"]["sec"]
    names = list(out["sections"])
    return next((n for n in names if n.lower().startswith("soma")), names[0])


def run_protocol(sec, protocol: dict) -> list[float]:
    """Clamp ``sec(0.5)`` with the protocol's steps and return v there at every time step."""
    clamps = []
    for delay, dur, amp in protocol.get("steps", DEFAULT_PROTOCOL["steps"]):
        ic = h.IClamp(sec(0.5))
        ic.delay, ic.dur, ic.amp = delay, dur, amp
        clamps.append(ic)
    v = h.Vector().record(sec(0.5)._ref_v)
    h.dt = float(protocol.get("dt", DEFAULT_PROTOCOL["dt"]))
    tstop = float(protocol.get("tstop", DEFAULT_PROTOCOL["tstop"]))
    h.finitialize(h.v_init)
    while h.t < tstop - h.dt / 2:
        h.fadvance()
    return v.to_python()


def template_trace(fresh, probe: str, protocol: dict) -> dict:
    """The protocol on a fresh instance of the template: ``fresh()`` returns the new cell
    and its section ``probe``."""
    cell, sec = fresh()
    v = run_protocol(sec, protocol)
    del cell
    return {"section": probe, "v": v}


def snapshot_trace(req: dict) -> dict:
    """The protocol on the snapshot ``req['cell_type']``, built as the simulator builds it."""
    if req.get("library"):
        h.nrn_load_dll(req["library"])
    h.load_file("stdrun.hoc")
    for name, value in (req.get("globals") or {}).items():
        setattr(h, name, value)
    ct = cell_type_from_dict(req["cell_type"])
    ct.run_mode = "snapshot"
    eng = Engine(h, h.ParallelContext(), Network(), RunConfig())
    cell = eng._compartmental(0, ct, np.zeros(3))
    return {"section": req["probe"], "v": run_protocol(cell.secs[req["probe"]],
                                                     req.get("protocol") or {})}
