"""Write a NeuroML2 export plan (:mod:`nethub.converters.neuroml_export`) as a ``.nml`` file
(libNeuroML's writer with exact floats, :func:`.write.write_nml`) or ``.nml.h5`` (float64,
:func:`.write.write_nml_h5`) and, optionally, a LEMS
Simulation file that includes it (length, step, seed of the stored run; every cell's spikes
in an ``EventOutputFile``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ._common import atomic_write, format_float
from .build import SUMMARY_ATTR, network_from_summary
from .nmlread import parse_nml_bytes
from .summary import (
    CONNECTION_FIELDS,
    INPUT_FIELDS,
    ExplicitInputSummary,
    InputListSummary,
    NetworkSummary,
    PopulationSummary,
    ProjectionSummary,
    empty_columns,
)
from .write import write_nml, write_nml_h5

__all__ = ["write_export", "lems_text"]

_NS = "http://www.neuroml.org/schema/neuroml2"


def _summary(plan: Any) -> NetworkSummary:
    pops = {p["id"]: PopulationSummary(p["id"], p["component"], len(p["ids"]),
                                       np.asarray(p["ids"], np.int64), p["locations"])
            for p in plan.populations}
    projs = {}
    for p in plan.projections:
        cols = empty_columns(CONNECTION_FIELDS, len(p["columns"]["pre_cell"]))
        cols.update({k: np.asarray(v) for k, v in p["columns"].items()})
        projs[p["id"]] = ProjectionSummary(p["id"], p.get("kind", "chemical"), p["pre"],
                                           p["post"], p["synapse"], cols)
    inputs = {}
    explicit = [ExplicitInputSummary(il["component"], il["population"], int(c))
                for il in plan.input_lists if il.get("explicit") for c in il["target_cell"]]
    for il in plan.input_lists:
        if il.get("explicit"):
            continue
        cols = empty_columns(INPUT_FIELDS, len(il["target_cell"]))
        cols.update({k: np.asarray(il[k], cols[k].dtype) for k in INPUT_FIELDS
                     if k in il and k != "id"})
        inputs[il["id"]] = InputListSummary(il["id"], il["component"], il["population"],
                                            cols, "synapses")
    return NetworkSummary(plan.network_id, plan.temperature, pops, projs, inputs, explicit)


def _document(plan: Any, doc_id: str):
    body = "".join(plan.components.values())
    xml = f'<neuroml xmlns="{_NS}" id="{doc_id}">{body}</neuroml>'.encode()
    doc = parse_nml_bytes(xml, f"{doc_id} (exported components)")
    summary = _summary(plan)
    network = network_from_summary(summary)
    setattr(network, SUMMARY_ATTR, summary)  # .nml.h5: the float64 arrays themselves
    doc.networks.append(network)
    return doc


def lems_text(plan: Any, nml_name: str) -> str:
    """A LEMS Simulation of the exported network (every cell's spikes, ID_TIME)."""
    run = plan.run
    seed = f' seed="{int(run["seed"])}"' if run.get("seed") is not None else ""
    sel = []
    k = 0
    by_gid = any("gids" in p for p in plan.populations)  # exported cells: id = gid
    for p in plan.populations:
        if by_gid and "gids" not in p:
            continue  # spike sources standing for stimuli
        for n, i in enumerate(p["ids"]):
            ref = (f'{p["id"]}/{int(i)}/{p["component"]}' if p["locations"] is not None
                   else f'{p["id"]}[{int(i)}]')
            eid = int(p["gids"][n]) if by_gid else k
            sel.append(f'            <EventSelection id="{eid}" select="{ref}" '
                       'eventPort="spike"/>')
            k += 1
    events = ("\n".join(sel))
    files = "".join(
        f'        <OutputFile id="{o["id"]}" fileName="{o["file"]}">\n'
        + "".join(f'            <OutputColumn id="{c}" quantity="{q}"/>\n'
                  for c, q in o["columns"])
        + "        </OutputFile>\n" for o in getattr(plan, "outputs", []))
    return f"""<Lems>
    <Target component="sim1"/>
    <Include file="Cells.xml"/>
    <Include file="Networks.xml"/>
    <Include file="Simulation.xml"/>
    <Include file="Synapses.xml"/>
    <Include file="Inputs.xml"/>
    <Include file="PyNN.xml"/>
    <Include file="{nml_name}"/>
    <Simulation id="sim1" length="{format_float(run['duration'])}ms" \
step="{format_float(run['dt'])}ms" target="{plan.network_id}"{seed}>
{files}        <EventOutputFile id="spikes" fileName="{plan.network_id}.spikes" format="ID_TIME">
{events}
        </EventOutputFile>
    </Simulation>
</Lems>
"""


def write_export(plan: Any, path: str | os.PathLike, lems: str | os.PathLike | None = None
                 ) -> list[Path]:
    """Write ``plan`` to ``path`` (``.nml``, or ``.nml.h5``: float64 datasets) and, if given,
    the LEMS file ``lems``."""
    path = Path(path)
    doc = _document(plan, path.name.split(".")[0] or "exported")
    h5 = path.name.lower().endswith(".nml.h5")
    written = [write_nml_h5(doc, path) if h5 else write_nml(doc, path)]
    if lems is not None:
        rel = os.path.relpath(path.resolve(), Path(lems).resolve().parent)
        text = lems_text(plan, Path(rel).as_posix())
        written.append(atomic_write(lems, lambda tmp: Path(tmp).write_text(text, "utf-8")))
    return written
