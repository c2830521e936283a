"""NetPyNE / NEURON cell types, synapses and stimuli -> NeuroML2 components (issue 13 item 4).

Known equivalents (everything else is a reported loss):

* compartmental cell -> ``<cell>``: morphology (:mod:`.neuroml_export_morph`),
  ``specificCapacitance`` (``cm``), ``resistivity`` (``Ra``), ``initMembPotential`` (the
  section's ``vinit`` or ``v_init``), ``spikeThresh`` (the cell's threshold or the network's),
  ``channelDensity`` per section for NEURON's ``hh`` (standard HH ``ionChannelHH`` Na/K gates
  with q10 3 at 6.3 degC, and its leak ``hh_leak``) and ``pas`` (``passive``); per-segment
  conductances as ``channelDensityNonUniform`` (:mod:`.neuroml_export_nonuniform`);
* a one-section cell whose only mechanism is an ``Izhi2007b`` point process of ``celltype`` 1
  -> ``izhikevich2007Cell`` (capacitance = ``C`` x the section's membrane capacitance,
  ``v0`` = ``vr``: Izhi2007b sets ``v = vr`` at t = 0 whatever ``v_init`` is);
* ``NetStim`` -> ``spikeArray`` (``noise`` 0: its exact spike times) or
  ``spikeGeneratorPoisson`` (``noise`` 1: same rate, another random stream -- a loss note);
  ``VecStim`` with ``spkTimes`` -> ``spikeArray``;
* ``ExpSyn`` -> ``expOneSynapse``, ``Exp2Syn`` -> ``expTwoSynapse`` (``gbase`` 1 uS: the
  NetCon weight in uS is the connection weight);
* ``IClamp`` -> ``pulseGenerator``.

IntFire1/2/4 have no exact equivalent (``ARTIFICIAL_CELLS`` says why): losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .neuroml_export_morph import Morphology, group_of, morphology, num, section_length
from .neuroml_export_nonuniform import inhomogeneous_parameter, nonuniform_density

__all__ = ["ARTIFICIAL_CELLS", "HH_CHANNELS", "IZHI_NOTE", "cell_component", "spike_array",
           "stim_component", "synapse_component"]

_Q10 = '<q10Settings type="q10ExpTemp" q10Factor="3" experimentalTemp="6.3 degC"/>'

#: NEURON's hh as NeuroML ionChannelHH components (its rate functions, q10 3 from 6.3 degC).
HH_CHANNELS = {
    "hh_na": (
        '<ionChannelHH id="hh_na" conductance="10pS" species="na">'
        '<gateHHrates id="m" instances="3">' + _Q10 +
        '<forwardRate type="HHExpLinearRate" rate="1per_ms" midpoint="-40mV" scale="10mV"/>'
        '<reverseRate type="HHExpRate" rate="4per_ms" midpoint="-65mV" scale="-18mV"/>'
        '</gateHHrates><gateHHrates id="h" instances="1">' + _Q10 +
        '<forwardRate type="HHExpRate" rate="0.07per_ms" midpoint="-65mV" scale="-20mV"/>'
        '<reverseRate type="HHSigmoidRate" rate="1per_ms" midpoint="-35mV" scale="10mV"/>'
        '</gateHHrates></ionChannelHH>'),
    "hh_k": (
        '<ionChannelHH id="hh_k" conductance="10pS" species="k">'
        '<gateHHrates id="n" instances="4">' + _Q10 +
        '<forwardRate type="HHExpLinearRate" rate="0.1per_ms" midpoint="-55mV" scale="10mV"/>'
        '<reverseRate type="HHExpRate" rate="0.125per_ms" midpoint="-65mV" scale="-80mV"/>'
        '</gateHHrates></ionChannelHH>'),
    "hh_leak": '<ionChannelHH id="hh_leak" conductance="10pS"/>',
    "passive": '<ionChannelHH id="passive" conductance="10pS"/>',
}

#: The loss note of an exported Izhi2007b cell (docs/neuroml.md, Export: no exact mapping).
IZHI_NOTE = ("{where}: Izhi2007b -> izhikevich2007Cell: same equations and start (v = vr, "
             "u = 0), but jNeuroML's NEURON code detects its spikes where v crosses 0 mV "
             "(Izhi2007b: at vpeak) and steps v explicitly, so spike times differ (~0.5 ms)")

#: Why NEURON's artificial integrate-and-fire cells have no exact NeuroML equivalent.
ARTIFICIAL_CELLS = {
    "IntFire1": "an input event adds its weight to m at once (a delta synapse) and NEURON "
                "computes m and the spike time analytically; NeuroML's iaf cells "
                "(iafRefCell, iafTauRefCell) take inputs only as synaptic currents and are "
                "stepped at dt",
    "IntFire2": "its equations are PyNN's IF_curr_exp with expCurrSynapse inputs (i jumps by "
                "the weight, decays with taus; bias ib), but NEURON fires IntFire2 at the "
                "exact threshold crossing between steps (analytic / Newton), jNeuroML's code "
                "on the dt grid: other spike times",
    "IntFire4": "as IntFire2 with separate excitatory (exponential) and inhibitory (alpha-"
                "like) currents, solved analytically with spike times between steps; no "
                "NeuroML cell is integrated that way",
}

_HH_DEFAULTS = {"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003, "el": -54.3}
_PAS_DEFAULTS = {"g": 0.001, "e": -70.0}
_ION_E = {"na": 50.0, "k": -77.0}


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool)


def _density(cid: str, chan: str, g: float, erev: float, ion: str, group: str) -> str:
    return (f'<channelDensity id="{cid}" ionChannel="{chan}" condDensity="{num(g)} S_per_cm2" '
            f'erev="{num(erev)}mV" segmentGroup="{group_of(group)}" ion="{ion}"/>')


@dataclass
class _Densities:
    """The density elements of a cell: uniform ones, then non-uniform ones (schema order)."""

    uniform: list[str] = field(default_factory=list)
    nonuniform: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)

    def add(self, cid: str, chan: str, g: Any, erev: float, ion: str, name: str,
            sec: Any) -> None:
        self.used.add(chan)
        if _scalar(g) or len(set(np.ravel(g).tolist())) == 1:
            self.uniform.append(_density(cid, chan, float(np.ravel(g)[0]), erev, ion, name))
            return
        nseg = int(sec.geom.get("nseg", 1))
        if len(np.ravel(g)) != nseg:
            self.lost.append(f"section {name!r} {cid!r}: {len(np.ravel(g))} per-segment "
                             f"values for nseg {nseg}; the mean is exported")
            self.uniform.append(_density(cid, chan, float(np.mean(g)), erev, ion, name))
            return
        xml, inexact = nonuniform_density(cid, chan, np.ravel(g), erev, ion, name,
                                          section_length(sec))
        self.nonuniform.append(xml)
        if inexact:
            self.lost.append(f"section {name!r} {cid!r}: {inexact} per-segment value(s) "
                             "1 ulp off (no S/m2 double gives them back exactly)")


def _uniform(values: dict, keys: tuple[str, ...], lost: list[str], where: str) -> dict:
    """``values`` with the per-segment ones of ``keys`` (reversal potentials) replaced by
    their mean (a loss)."""
    out = dict(values)
    for k in keys:
        v = out.get(k)
        if v is not None and not _scalar(v):
            if len(set(np.ravel(v).tolist())) > 1:
                lost.append(f"{where}: per-segment {k!r} is not exported (one reversal "
                            "potential per density: the mean is used)")
            out[k] = float(np.mean(v))
    return out


def nonuniform_sections(ct: Any) -> set[str]:
    """Sections with per-segment (differing) hh / pas conductances."""
    keys = {"hh": ("gnabar", "gkbar", "gl"), "pas": ("g",)}
    return {n for n, sec in ct.sections.items() for m, params in sec.mechs.items()
            if m in keys for k, v in (params or {}).items()
            if k in keys[m] and not _scalar(v) and len(set(np.ravel(v).tolist())) > 1}


def _mech_densities(name: str, sec: Any, mechs: dict, dens: _Densities, where: str) -> None:
    """The density elements of one section's mechanisms (per-segment conductances as
    ``channelDensityNonUniform``)."""
    for mech, params in mechs.items():
        values = {**(_HH_DEFAULTS if mech == "hh" else _PAS_DEFAULTS), **(params or {})}
        if mech not in ("hh", "pas"):
            dens.lost.append(f"{where}: mechanism {mech!r} has no known NeuroML equivalent; "
                             "not exported")
            continue
        values = _uniform(values, ("e", "el"), dens.lost, where)
        if mech == "pas":
            dens.add(f"pas_{name}", "passive", values["g"], values["e"], "non_specific",
                     name, sec)
            continue
        ions = sec.ions or {}
        ena = (ions.get("na") or {}).get("e", _ION_E["na"])
        ek = (ions.get("k") or {}).get("e", _ION_E["k"])
        dens.add(f"hh_na_{name}", "hh_na", values["gnabar"], ena, "na", name, sec)
        dens.add(f"hh_k_{name}", "hh_k", values["gkbar"], ek, "k", name, sec)
        # its own channel: a section with hh and pas has two leaks (one NEURON mechanism
        # per channel name)
        dens.add(f"hh_leak_{name}", "hh_leak", values["gl"], values["el"], "non_specific",
                 name, sec)


def _izhikevich(ct: Any, vinit: float) -> str | None:
    """``izhikevich2007Cell`` of a one-section Izhi2007b cell (celltype 1), else None."""
    secs = list(ct.sections.values())
    if len(secs) != 1 or secs[0].mechs or len(secs[0].point_processes) != 1:
        return None
    pp = secs[0].point_processes[0]
    if pp.get("mod") != "Izhi2007b" or int(pp.get("celltype", 1)) != 1:
        return None
    g = secs[0].geom
    area_cm2 = np.pi * float(g.get("diam", 500.0)) * float(g.get("L", 100.0)) * 1e-8
    cap_pf = float(g.get("cm", 1.0)) * area_cm2 * 1e6 * float(pp.get("C", 1.0))
    p = {"C": 1, "k": 0.7, "vr": -60, "vt": -40, "vpeak": 35, "a": 0.03, "b": -2,
         "c": -50, "d": 100, **pp}
    # Izhi2007b's NET_RECEIVE(flag 1) sets v = vr at t = 0 whatever v_init is
    return (f'<izhikevich2007Cell id="{ct.name}" C="{num(cap_pf)}pF" v0="{num(p["vr"])}mV" '
            f'k="{num(p["k"])}nS_per_mV" vr="{num(p["vr"])}mV" vt="{num(p["vt"])}mV" '
            f'vpeak="{num(p["vpeak"])}mV" a="{num(p["a"])}per_ms" b="{num(p["b"])}nS" '
            f'c="{num(p["c"])}mV" d="{num(p["d"])}pA"/>')


def _expressions(ct: Any) -> list[str]:
    """Paths of string (per-cell expression) values in a cell type's geometry / mechanisms."""
    out = [f"{n}.geom.{k}" for n, sec in ct.sections.items() for k, v in sec.geom.items()
           if isinstance(v, str)]
    out += [f"{n}.mechs.{m}.{k}" for n, sec in ct.sections.items()
            for m, params in sec.mechs.items() for k, v in (params or {}).items()
            if isinstance(v, str)]
    out += [f"{n}.pointps.{pp.get('mod')}.{k}" for n, sec in ct.sections.items()
            for pp in sec.point_processes for k, v in pp.items()
            if isinstance(v, str) and k not in ("mod", "label", "vref", "synList")]
    return out


def cell_component(ct: Any, threshold: float, v_init: float, duration: float
                   ) -> tuple[dict[str, str], Morphology | None, list[str]]:
    """NeuroML components of one cell type.

    Parameters
    ----------
    ct : CompartmentalCell or PointCell
    threshold : float
        The network's spike threshold (mV), used when the cell type has none.
    v_init : float
        The run's initial voltage (mV), used when no section has its own.
    duration : float
        Run length (ms): a regular NetStim's spikes up to it.

    Returns
    -------
    components : dict of str to str
        ``{id: XML}``: the cell and the channels it uses (empty if it has no equivalent).
    morphology : Morphology or None
        For (sec, loc) -> (segment, fractionAlong); None for abstract cells.
    lost : list of str
    """
    where = f"cell type {ct.name!r}"
    if ct.kind == "point":
        xml, lost = stim_component(ct.name, ct.model, ct.params, duration, where, 50.0)
        return ({ct.name: xml} if xml else {}), None, lost
    if not ct.sections:
        return {}, None, [f"{where}: no sections; dropped"]
    expr = _expressions(ct)
    if expr:
        return {}, None, [f"{where}: per-cell expressions ({', '.join(expr[:3])}) have no "
                          "NeuroML equivalent in one cell component; its cells are dropped"]
    lost: list[str] = []
    vinit = next((float(s.vinit) for s in ct.sections.values() if s.vinit is not None),
                 v_init)
    izh = _izhikevich(ct, vinit)
    if izh is not None:
        return {ct.name: izh}, None, [IZHI_NOTE.format(where=where)]
    extras = {n: inhomogeneous_parameter(n) for n in nonuniform_sections(ct)}
    morph = morphology(ct.name, ct.sections, ct.section_lists, group_extras=extras)
    dens, caps, res = _Densities(lost=lost), [], []
    for name, sec in ct.sections.items():
        _mech_densities(name, sec, sec.mechs, dens, f"{where} section {name!r}")
        for pp in sec.point_processes:
            lost.append(f"{where} section {name!r}: point process {pp.get('mod')!r} has no "
                        "NeuroML equivalent here; not exported")
        caps.append(f'<specificCapacitance value="{num(sec.geom.get("cm", 1.0))} '
                    f'uF_per_cm2" segmentGroup="{group_of(name)}"/>')
        res.append(f'<resistivity value="{num(sec.geom.get("Ra", 35.4))} ohm_cm" '
                   f'segmentGroup="{group_of(name)}"/>')
    thr = ct.threshold
    if thr is None and ct.spike_source and ct.spike_source[0] in ct.sections:
        thr = ct.sections[ct.spike_source[0]].threshold
    thr = threshold if thr is None else float(thr)
    membrane = (f'<membraneProperties>{"".join(dens.uniform)}{"".join(dens.nonuniform)}'
                f'<spikeThresh value="{num(thr)}mV" segmentGroup="all"/>{"".join(caps)}'
                f'<initMembPotential value="{num(vinit)}mV" segmentGroup="all"/>'
                '</membraneProperties>')
    bio = (f'<biophysicalProperties id="biophys_{ct.name}">{membrane}'
           f'<intracellularProperties>{"".join(res)}</intracellularProperties>'
           '</biophysicalProperties>')
    comps = {k: HH_CHANNELS[k] for k in HH_CHANNELS if k in dens.used}
    comps[ct.name] = f'<cell id="{ct.name}">{morph.xml}{bio}</cell>'
    return comps, morph, lost


def _netstim_times(p: dict, duration: float, start: float) -> np.ndarray:
    """A regular NetStim's spikes as NEURON makes them (``start + interval - interval``, then
    ``+= interval``: the same floats)."""
    interval = float(p["rate"]) ** -1 * 1e3 if "rate" in p else float(p.get("interval", 10.0))
    start = float(p.get("start", start))
    number = float(p.get("number", 1e9))
    n = int(min(number, max(0.0, np.floor((duration - start) / interval) + 2)))
    first = start + interval - interval * 1.0  # NetStim's INITIAL, noise 0
    times = np.cumsum(np.concatenate([[first], np.full(max(n - 1, 0), interval)]))[:n]
    return times[times <= duration]


def spike_array(cid: str, times: Any) -> str:
    """A ``spikeArray`` of ``times`` (ms)."""
    spikes = "".join(f'<spike id="{k}" time="{num(t)}ms"/>' for k, t in enumerate(times))
    return f'<spikeArray id="{cid}">{spikes}</spikeArray>'


def stim_component(cid: str, model: str, params: dict, duration: float, where: str,
                   start: float = 0.0) -> tuple[str | None, list[str]]:
    """A NeuroML spike source or input for a NEURON stimulus / artificial cell, or None.

    Returns
    -------
    (str or None, list of str)
            The component's XML and the losses.

    ``start`` is a NetStim's start when its parameters have none (0 for NetPyNE stimuli,
    NEURON's 50 ms for NetStim cells).
    """
    p = params or {}
    expr = sorted(k for k, v in p.items() if isinstance(v, str))
    if expr:
        return None, [f"{where}: per-cell expressions ({', '.join(expr)}) have no NeuroML "
                      "equivalent; dropped"]
    if model == "NetStim":
        noise = float(p.get("noise", 0.0))
        if noise == 0.0:
            return spike_array(cid, _netstim_times(p, duration, start)), []
        if noise == 1.0 and "rate" in p:
            start = float(p.get("start", 0.0))
            lost = [f"{where}: NetStim noise=1 -> spikeGeneratorPoisson (same rate, "
                    "another random stream: other spike times)"]
            if start or "number" in p:
                lost.append(f"{where}: NetStim start/number not carried by "
                            "spikeGeneratorPoisson")
            return (f'<spikeGeneratorPoisson id="{cid}" '
                    f'averageRate="{num(p["rate"])} Hz"/>', lost)
        return None, [f"{where}: NetStim with noise={noise:g} has no NeuroML equivalent; "
                      "dropped"]
    if model == "VecStim" and "spkTimes" in p:
        return spike_array(cid, np.asarray(p["spkTimes"], float).ravel()), []
    if model == "IClamp":
        return (f'<pulseGenerator id="{cid}" delay="{num(p.get("del", 0.0))}ms" '
                f'duration="{num(p.get("dur", 0.0))}ms" '
                f'amplitude="{num(p.get("amp", 0.0))}nA"/>', [])
    if model in ARTIFICIAL_CELLS:
        return None, [f"{where}: {model} is not exported: {ARTIFICIAL_CELLS[model]}"]
    return None, [f"{where}: {model} has no known NeuroML equivalent; dropped"]


def synapse_component(name: str, model: str, params: dict) -> tuple[str | None, list[str]]:
    """``expOneSynapse`` / ``expTwoSynapse`` of an ExpSyn / Exp2Syn, else None and a loss."""
    p = params or {}
    expr = sorted(k for k, v in p.items() if isinstance(v, str))
    if expr:
        return None, [f"synapse {name!r}: per-connection expressions ({', '.join(expr)}) "
                      "have no NeuroML equivalent; its connections are dropped"]
    if model == "ExpSyn":
        return (f'<expOneSynapse id="{name}" gbase="1uS" erev="{num(p.get("e", 0.0))}mV" '
                f'tauDecay="{num(p.get("tau", 0.1))}ms"/>', [])
    if model == "Exp2Syn":
        return (f'<expTwoSynapse id="{name}" gbase="1uS" erev="{num(p.get("e", 0.0))}mV" '
                f'tauRise="{num(p.get("tau1", 0.1))}ms" '
                f'tauDecay="{num(p.get("tau2", 10.0))}ms"/>', [])
    return None, [f"synapse {name!r}: {model} has no known NeuroML equivalent; its "
                  "connections are dropped"]
