"""NeuroML2 detailed cells (``<cell>`` with morphology and biophysics) -> CompartmentalCell.

Builds, in Python and without Java, the cell jNeuroML's NEURON export builds from its
generated HOC template (``cell.vm`` filled by ``JSONCellSerializer``): sections and section
lists from :mod:`.nml_morph`, then per group, in jNeuroML's order (last one wins):

- ``specificCapacitance`` -> ``geom['cm']`` (µF/cm²); ``resistivity`` -> ``geom['Ra']`` (Ω·cm);
- ``channelDensity`` / ``channelDensityVShift`` -> ``mechs[<ionChannel>] = {'gmax'[,
  'vShift']}`` (S/cm²), fixed ``erev`` -> ``ions[ion]['e']`` (the mechanism's ``e`` for
  ``non_specific``); ``channelDensityNernst`` / ``GHK2`` -> ``{'gmax'}``;
  ``channelDensityGHK`` -> ``{'permeability'}`` (cm/s);
- ``channelDensityNonUniform*`` -> per-segment ``gmax`` / ``permeability``: the
  ``inhomogeneousValue`` of the path length from the root (NEURON's ``SubsetDomainIterator``,
  translated to start at 0 and / or normalised to end at 1 as the parameter asks);
- ``species`` -> ``mechs[<concentrationModel>] = {}``, ``ions[ion] = {'i', 'o'}`` (mM);
- ``cell2CaPools`` (``biophysicalProperties2CaPools``): the same, plus
  ``channelDensityNernstCa2`` -> ``{'gmax'}`` (ion ``ca2``, a second Ca pool);
- ``initMembPotential`` -> ``vinit`` (mV); ``spikeThresh`` (group ``all``) -> ``threshold``
  (mV; jNeuroML's default 0 mV).

Values go through Java ``float`` as jNeuroML writes them (:func:`.nml_morph.f32`). The spike
detector is at ``x = 0.5`` of the section of the cell's first segment, as jNeuroML records and
connects from it. Mechanisms are the NMODL jNeuroML generates (``generate_nmodl``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, Section
from ..errors import FormatError
from ..expr import compile_expr
from .nml_morph import Morphology, build_morphology, f32

__all__ = ["DetailedCell", "detailed_cell", "safe_name", "si_value"]

#: SI factor of the NeuroML units a cell uses (NeuroMLCoreDimensions.xml).
_SI = {
    "V": 1.0, "mV": 1e-3,
    "S_per_m2": 1.0, "mS_per_cm2": 10.0, "S_per_cm2": 1e4, "mS_per_m2": 1e-3,
    "F_per_m2": 1.0, "uF_per_cm2": 1e-2, "pF_per_um2": 1.0,
    "ohm_m": 1.0, "kohm_cm": 10.0, "ohm_cm": 1e-2, "Mohm_m": 1e6,
    "mol_per_m3": 1.0, "mol_per_cm3": 1e6, "M": 1e3, "mM": 1.0,
    "m_per_s": 1.0, "cm_per_s": 1e-2, "um_per_ms": 1e-3, "cm_per_ms": 10.0,
}
#: jNeuroML's SupportedUnits.NEURON factors from SI (all Java floats).
_NRN = {"voltage": 1000.0, "specCap": 100.0, "resistivity": 100.0, "condDens": 1e-4,
        "concentration": 1.0, "permeability": 100.0}
_QTY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z_0-9]*)\s*$")


def si_value(text: str, where: str) -> float:
    """A NeuroML quantity (``"120 mS_per_cm2"``) in SI units."""
    m = _QTY.match(str(text))
    if not m or m.group(2) not in _SI:
        raise FormatError(f"{where}: {text!r} is not a quantity in a known unit "
                          f"({', '.join(_SI)})")
    return float(m.group(1)) * _SI[m.group(2)]


def _nrn(text: str, kind: str, where: str) -> float:
    """jNeuroML's NEURON value: ``float(SI) * float(factor)`` in Java float arithmetic."""
    value = np.float32(si_value(text, where)) * np.float32(_NRN[kind])
    return f32(value)


@dataclass
class DetailedCell:
    """A converted detailed cell: its cell type and its jNeuroML section layout."""

    cell_type: CompartmentalCell
    morphology: Morphology
    lost: list[str]


#: NEURON names jNeuroML's NEURON export renames (``NRNUtils.getSafeName``: + ``_nml2``)
_NRN_KEYWORDS = frozenset({"IClamp", "pas", "hh", "extracellular", "fastpas"})


def safe_name(ident: str) -> str:
    """The NEURON mechanism name jNeuroML gives the ion channel ``ident``."""
    return ident + "_nml2" if ident in _NRN_KEYWORDS else ident


class _Cell:
    def __init__(self, cell: Any, doc: Any) -> None:
        self.cell, self.doc = cell, doc
        self.where = f"cell {cell.id!r}"
        morph = cell.morphology
        if morph is None and getattr(cell, "morphology_attr", None):
            morph = _by_id(doc, "morphology", cell.morphology_attr, self.where)
        self.morph_src = morph
        self.morph = build_morphology(cell, morph)
        bp = cell.biophysical_properties
        if bp is None:  # cell2CaPools: biophysicalProperties2CaPools
            bp = getattr(cell, "biophysical_properties2_ca_pools", None)
        if bp is None and getattr(cell, "biophysical_properties_attr", None):
            bp = _by_id(doc, "biophysical_properties", cell.biophysical_properties_attr,
                        self.where)
        self.mp = _either(bp, "membrane_properties")
        self.ip = _either(bp, "intracellular_properties")
        if self.mp is None:  # NEURON's defaults (jNeuroML needs biophysics; nethub does not)
            self.mp = _NoMembrane()
        self.lost: list[str] = []
        # pt3d as NEURON stores it (float32): shifted by a cell position, the sum then rounds
        # as in jNeuroML's position() (x3d(i) + x, stored as float32) -- bit for bit
        self.secs = {name: Section(geom={"nseg": int(s["nseg"] or 1)},
                                   pt3d=np.asarray(s["pt3d"], np.float32).astype(np.float64),
                                   parent=s["parent"], parent_x=float(s["parent_x"]),
                                   child_x=0.0)
                     for name, s in self.morph.sections.items()}

    def group(self, gid: str | None) -> list[str]:
        gid = gid or "all"
        if gid not in self.morph.group_sections:
            raise FormatError(f"{self.where}: no segment group {gid!r}")
        return self.morph.section_lists.get(gid, self.morph.group_sections[gid])

    def each(self, gid: str | None, fn) -> None:
        for name in self.group(gid):
            fn(self.secs[name])

    # ------------------------------------------------------------ passive
    def passive(self) -> None:
        mp, ip = self.mp, self.ip
        for sc in mp.specific_capacitances:
            v = _nrn(sc.value, "specCap", f"{self.where}/specificCapacitance")
            self.each(sc.segment_groups, lambda s, v=v: s.geom.__setitem__("cm", v))
        for res in ip.resistivities if ip is not None else []:
            v = _nrn(res.value, "resistivity", f"{self.where}/resistivity")
            self.each(res.segment_groups, lambda s, v=v: s.geom.__setitem__("Ra", v))
        for imp in mp.init_memb_potentials:
            v = _nrn(imp.value, "voltage", f"{self.where}/initMembPotential")
            self.each(imp.segment_groups, lambda s, v=v: setattr(s, "vinit", v))

    # ------------------------------------------------------------ channels
    def channels(self) -> None:
        mp = self.mp
        self.densities = {cd.id: safe_name(cd.ion_channel) for cd in _densities(mp)}
        for cd in [*mp.channel_densities, *mp.channel_density_v_shifts]:
            w = f"{self.where}/channelDensity {cd.id!r}"
            params = {"gmax": _nrn(cd.cond_density, "condDens", w)}
            if getattr(cd, "v_shift", None) is not None:
                params["vShift"] = _nrn(cd.v_shift, "voltage", w)
            self.fixed_erev(cd, params, w)
        for cd in mp.channel_density_non_uniforms:
            self.non_uniform(cd, "gmax", "condDensity", "condDens")
            self.fixed_erev(cd, None, f"{self.where}/channelDensityNonUniform {cd.id!r}")
        for cd in mp.channel_density_nernsts:
            w = f"{self.where}/channelDensityNernst {cd.id!r}"
            self.insert(cd.segment_groups, safe_name(cd.ion_channel),
                        {"gmax": _nrn(cd.cond_density, "condDens", w)})
        for cd in getattr(mp, "channel_density_nernst_ca2s", None) or []:  # cell2CaPools
            w = f"{self.where}/channelDensityNernstCa2 {cd.id!r}"
            self.insert(cd.segment_groups, safe_name(cd.ion_channel),
                        {"gmax": _nrn(cd.cond_density, "condDens", w)})
        for cd in mp.channel_density_non_uniform_nernsts:
            self.non_uniform(cd, "gmax", "condDensity", "condDens")
        for cd in mp.channel_density_ghks:
            w = f"{self.where}/channelDensityGHK {cd.id!r}"
            self.insert(cd.segment_groups, safe_name(cd.ion_channel),
                        {"permeability": _nrn(cd.permeability, "permeability", w)})
        for cd in mp.channel_density_ghk2s:
            w = f"{self.where}/channelDensityGHK2 {cd.id!r}"
            self.insert(cd.segment_groups, safe_name(cd.ion_channel),
                        {"gmax": _nrn(cd.cond_density, "condDens", w)})
        for cd in mp.channel_density_non_uniform_ghks:
            self.non_uniform(cd, "permeability", "permeability", "permeability")
        if mp.channel_populations:
            self.lost.append(f"{self.where}: channelPopulation (jNeuroML's NEURON export "
                             "refuses models with them: CHANNEL_POPULATIONS_CELL_MODEL) "
                             f"({len(mp.channel_populations)})")

    def insert(self, gid: str | None, mech: str, params: dict[str, Any]) -> None:
        for name in self.group(gid):
            self.secs[name].mechs.setdefault(mech, {}).update(params)

    def fixed_erev(self, cd: Any, params: dict | None, where: str) -> None:
        erev = _nrn(cd.erev, "voltage", where)
        ion = cd.ion or "non_specific"
        groups = cd.segment_groups if params is not None else None
        if params is not None:
            if ion == "non_specific":
                params = {**params, "e": erev}
            self.insert(groups, safe_name(cd.ion_channel), params)
            names = self.group(groups)
        else:  # non-uniform: the sections of its variable parameter
            names = [n for vp in cd.variable_parameters for n in self.group(vp.segment_groups)]
            if ion == "non_specific":
                for n in names:
                    self.secs[n].mechs[safe_name(cd.ion_channel)]["e"] = erev
        if ion != "non_specific":
            for n in names:
                self.secs[n].ions.setdefault(ion, {})["e"] = erev

    def non_uniform(self, cd: Any, pname: str, nml_param: str, kind: str) -> None:
        where = f"{self.where}/{type(cd).__name__} {cd.id!r}"
        for vp in cd.variable_parameters:
            if vp.parameter != nml_param:
                continue
            # jNeuroML inserts the channel on the variableParameter's group, then sets the
            # value over the SubsetDomainIterator of the group defining the parameter
            self.insert(vp.segment_groups, safe_name(cd.ion_channel), {})
            owner, ihp = self._inhomogeneous(vp.inhomogeneous_value.inhomogeneous_parameters,
                                             where)
            names = self.group(owner)
            p = _path_values(names, self.secs, ihp)
            expr = compile_expr(vp.inhomogeneous_value.value, {ihp.variable: None}, where)
            factor = f32(_NRN[kind])  # jNeuroML prints it into the HOC expression
            for name in names:
                vals = factor * np.asarray(expr.evaluate({ihp.variable: p[name]},
                                                         n=len(p[name])), dtype=np.float64)
                mech = self.secs[name].mechs.setdefault(safe_name(cd.ion_channel), {})
                mech[pname] = vals.tolist()

    def _inhomogeneous(self, ihp_id: str, where: str) -> tuple[str, Any]:
        for grp in self.morph_src.segment_groups:
            for ihp in grp.inhomogeneous_parameters:
                if ihp.id == ihp_id:
                    if ihp.metric != "Path Length from root":
                        raise FormatError(f"{where}: metric {ihp.metric!r} is not supported "
                                          "(jNeuroML: only 'Path Length from root')")
                    return grp.id, ihp
        raise FormatError(f"{where}: no inhomogeneousParameter {ihp_id!r}")

    # ------------------------------------------------------------ species
    def species(self) -> None:
        for sp in self.ip.species if self.ip is not None else []:
            w = f"{self.where}/species {sp.id!r}"
            ci = _nrn(sp.initial_concentration, "concentration", w)
            co = _nrn(sp.initial_ext_concentration, "concentration", w)
            self.insert(sp.segment_groups, sp.concentration_model, {})
            for name in self.group(sp.segment_groups):
                self.secs[name].ions.setdefault(sp.ion, {}).update({"i": ci, "o": co})

    def threshold(self) -> float:
        st = list(self.mp.spike_threshes)
        if not st:
            return 0.0
        if (st[0].segment_groups or "all") != "all":
            raise FormatError(f"{self.where}: spikeThresh on segment group "
                              f"{st[0].segment_groups!r}; jNeuroML handles only 'all'")
        return _nrn(st[0].value, "voltage", f"{self.where}/spikeThresh")


def _either(bp: Any, kind: str) -> Any:
    """``bp.<kind>``, else (``biophysicalProperties2CaPools``) ``bp.<kind>2_ca_pools``."""
    if bp is None:
        return None
    found = getattr(bp, kind, None)
    return found if found is not None else getattr(bp, f"{kind}2_ca_pools", None)


def _densities(mp: Any) -> list[Any]:
    """Every channel density of membrane properties (for LEMS quantities naming them)."""
    kinds = ("channel_densities", "channel_density_v_shifts", "channel_density_non_uniforms",
             "channel_density_nernsts", "channel_density_non_uniform_nernsts",
             "channel_density_ghks", "channel_density_ghk2s",
             "channel_density_non_uniform_ghks", "channel_density_nernst_ca2s")
    return [cd for k in kinds for cd in getattr(mp, k, None) or []]


class _NoMembrane:
    def __getattr__(self, name: str) -> list:
        return []


def _by_id(doc: Any, kind: str, ident: str, where: str) -> Any:
    for item in getattr(doc, kind, None) or []:
        if item.id == ident:
            return item
    raise FormatError(f"{where}: no <{kind}> {ident!r} in the document")


def _path_values(names: list[str], secs: dict[str, Section], ihp: Any
                 ) -> dict[str, np.ndarray]:
    """NEURON's ``SubsetDomainIterator`` (path style 0): path length from the root's 0 end
    to each segment centre of ``names``, translated / normalised as the parameter asks."""
    length = {n: float(np.sum(np.linalg.norm(np.diff(s.pt3d[:, :3], axis=0), axis=1)))
              for n, s in secs.items()}
    start: dict[str, float] = {}
    for n, s in secs.items():  # parents come first
        if s.parent is None:
            start[n] = 0.0
        else:  # NEURON attaches a child to the parent's node (segment centre or end) at x
            px, pn = s.parent_x, int(secs[s.parent].geom.get("nseg", 1))
            node = px if px in (0.0, 1.0) else (min(int(px * pn), pn - 1) + 0.5) / pn
            start[n] = start[s.parent] + node * length[s.parent]
    vals, p0, p1 = {}, 1e9, 1.0
    for n in names:
        nseg = int(secs[n].geom.get("nseg", 1))
        xs = (np.arange(nseg) + 0.5) / nseg
        vals[n] = start[n] + xs * length[n]
        ends = np.array([start[n], start[n] + length[n], *vals[n]])
        p0, p1 = min(p0, float(ends.min())), max(p1, float(ends.max()))
    trans = ihp.proximal is not None and float(ihp.proximal.translation_start) == 0.0
    norm = ihp.distal is not None and float(ihp.distal.normalization_end) == 1.0
    if trans:
        vals = {n: v - p0 for n, v in vals.items()}
        p1 -= p0
    if norm:
        vals = {n: v / p1 for n, v in vals.items()}
    return vals


def detailed_cell(cell: Any, doc: Any) -> DetailedCell:
    """The canonical cell type of a NeuroML ``<cell>``, as jNeuroML's NEURON export builds it.

    Parameters
    ----------
    cell : neuroml.Cell
        The cell (libNeuroML).
    doc : neuroml.NeuroMLDocument
        The document it is in (for morphologies / biophysics referred to by id).

    Returns
    -------
    DetailedCell
        The ``CompartmentalCell`` (name = the cell id, mod files = its ion channels and
        concentration models), its section layout (segment -> (section, x)), and losses.
    """
    c = _Cell(cell, doc)
    c.passive()
    c.channels()
    c.species()
    thr = c.threshold()
    first = c.morph.seg_section[c.morph.first_segment]
    c.secs[first].threshold = thr
    mods = sorted({m for s in c.secs.values() for m in s.mechs})
    ct = CompartmentalCell(name=cell.id, sections=c.secs,
                           section_lists={k: list(v) for k, v in c.morph.section_lists.items()},
                           spike_source=(first, 0.5), threshold=thr,
                           mod_files=[f"{m}.mod" for m in mods],
                           tags={"nml.type": type(cell).__name__, "nml.segments": c.morph.to_tag(),
                                 "nml.densities": dict(sorted(c.densities.items()))})
    return DetailedCell(ct, c.morph, c.lost)
