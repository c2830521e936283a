"""NeuroML2 abstract cells and spike-source populations as jNeuroML's NEURON export builds them.

Every abstract cell (iaf*, Izhikevich, AdEx, FitzHugh-Nagumo, Pinsky-Rinzel, PyNN cells) and
every spike source used as a population (spikeArray, spikeGenerator*, PyNN SpikeSourcePoisson)
is one section ``soma`` of ``L = diam = 10 µm`` holding the POINT_PROCESS jNeuroML generates
for the component. The section's ``cm`` is jNeuroML's: the cell's ``C`` over the area; for the
PyNN cells their ``cm`` (nF) over the area; 318.31 µF/cm² for everything else (jNeuroML's
value, org.neuroml.export issue 60). Spikes are detected on ``v(0.5)`` at jNeuroML's threshold
(``thresh``, else PyNN's ``v_spike`` (``v_thresh`` when ``delta_T`` is 0), else ``v_thresh``,
else 0 mV); a spike source emits its
events itself (``net_event``): its point process is the spike source (``_events``).
"""

from __future__ import annotations

import math
from typing import Any

from ..celltypes import CompartmentalCell, Section
from ..errors import FormatError

__all__ = ["ABSTRACT_CELLS", "SOURCE_CELLS", "SECTION", "cell_type", "components"]

#: libNeuroML document attributes of the abstract cells imported as one-section cells.
ABSTRACT_CELLS = ("izhikevich2007_cells", "iaf_cells", "iaf_ref_cells", "izhikevich_cells",
                  "iaf_tau_cells", "iaf_tau_ref_cells", "ad_ex_ia_f_cells",
                  "fitz_hugh_nagumo_cells", "fitz_hugh_nagumo1969_cells",
                  "pinsky_rinzel_ca3_cells", "IF_curr_alpha", "IF_curr_exp", "IF_cond_alpha",
                  "IF_cond_exp", "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista",
                  "HH_cond_exp")
#: Spike sources that can make up a population (the point process emits the spikes).
SOURCE_CELLS = ("spike_arrays", "spike_generators", "spike_generator_randoms",
                "spike_generator_poissons", "spike_generator_ref_poissons",
                "SpikeSourcePoisson")
#: Name of the one section of an abstract cell.
SECTION = "soma"
#: jNeuroML's section for abstract cells: L = diam = 10 µm.
_SIDE_UM = 10.0
#: jNeuroML's cm (µF/cm²) for cells without a capacitance of their own.
_DEFAULT_CM = 318.31
_PYNN = ("IF_curr_alpha", "IF_curr_exp", "IF_cond_alpha", "IF_cond_exp",
         "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista", "HH_cond_exp")
_CAP_UNITS = {"pF": 1.0, "nF": 1e3, "uF": 1e6, "F": 1e12}
_V_UNITS = {"mV": 1.0, "V": 1e3}


def components(doc: Any, attrs: tuple[str, ...]) -> dict[str, Any]:
    """``{id: component}`` of the document's elements of these libNeuroML attributes."""
    return {c.id: c for a in attrs for c in getattr(doc, a, None) or []}


def _quantity(text: Any, units: dict[str, float], what: str, cell_id: str) -> float:
    s = str(text).strip()
    for unit in sorted(units, key=len, reverse=True):
        if s.endswith(unit):
            try:
                return float(s[: -len(unit)]) * units[unit]
            except ValueError:
                break
    raise FormatError(f"cell {cell_id!r}: {what}={text!r} is not a number with a unit of "
                      f"{', '.join(units)}")


def capacitance_pf(cell: Any) -> float | None:
    """The cell's capacitance in pF (``C``; PyNN ``cm`` in nF), None when it has none."""
    if type(cell).__name__ in _PYNN:
        return float(cell.cm) * 1e3
    text = getattr(cell, "C", None)
    return None if text is None else _quantity(text, _CAP_UNITS, "C", cell.id)


def threshold_mv(cell: Any) -> float:
    """jNeuroML's spike-detection threshold (mV)."""
    if type(cell).__name__ == "IzhikevichCell":
        return 0.0
    text = getattr(cell, "thresh", None)
    if text is not None:
        return _quantity(text, _V_UNITS, "thresh", cell.id)
    # PyNN cells: plain numbers in mV; EIF cells spike at v_spike, or at v_thresh when
    # delta_T is 0 (their NMODL's eif_threshold)
    spike = getattr(cell, "v_spike", None)
    if spike is not None and float(getattr(cell, "delta_T", 1) or 0) != 0:
        return float(spike)
    if getattr(cell, "v_thresh", None) is not None:
        return float(cell.v_thresh)
    return 0.0


def cell_type(cell: Any, mods: dict[str, str], source: bool = False) -> CompartmentalCell:
    """The one-section cell of an abstract cell or (``source``) a spike-source component."""
    if cell.id not in mods:
        raise FormatError(f"cell {cell.id!r}: jNeuroML generated no NMODL for it")
    area = math.pi * _SIDE_UM * _SIDE_UM
    cpf = None if source else capacitance_pf(cell)
    # jNeuroML: cm (µF/cm²) = C / area, so that the section's capacitance is the cell's C
    cm = cpf * 100.0 / area if cpf is not None else _DEFAULT_CM
    geom: dict[str, Any] = {"L": _SIDE_UM, "diam": _SIDE_UM, "cm": cm}
    pp: dict[str, Any] = {"label": cell.id, "mod": cell.id, "loc": 0.5}
    if source:
        pp["_events"] = 1
    thr = 0.0 if source else threshold_mv(cell)
    sec = Section(geom=geom, point_processes=[pp], threshold=thr)
    return CompartmentalCell(name=cell.id, sections={SECTION: sec}, spike_source=(SECTION, 0.5),
                             threshold=thr, mod_files=[f"{cell.id}.mod"],
                             tags={"nml.type": type(cell).__name__})
