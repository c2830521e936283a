"""SONATA ``nml:`` model templates, read as BMTK's bionet reads them.

BMTK 1.2 (``default_setters/cell_models.py`` ``NMLLoad``, ``nml_reader.py`` ``NMLTree``) does
not build a NeuroML cell: it loads the node's SWC morphology into ``Biophys1``, replaces the
axon by the perisomatic stub (two 30-µm sections of diameter 1 on ``soma[0](0.5)``), and uses
the ``.nml`` file (found in ``biophysical_neuron_models_dir``) only as a table of parameters
per section kind (``soma``, ``axon``, ``dend``, ``apic``; segment groups ``soma``/``somatic``,
``axon``/``axonal``, ``dend``/``basal``/``dendritic``, ``apic``/``apical``, ``all``):

* ``resistivity`` -> ``Ra``; ``specificCapacitance`` -> ``cm``;
* ``channelDensity`` of ``ionChannel="pas"`` -> ``pas`` with ``g_pas`` and ``e_pas``;
* other ``channelDensity`` / ``channelDensityNernst`` -> ``insert(ionChannel)`` (a mechanism
  of ``mechanisms_dir``) and the range variable *named by the element's id*
  (``gbar_NaTs``) := ``condDensity``; ``erev`` sets ``ena`` / ``ek`` for ions ``na`` / ``k``;
* ``concentrationModel`` (anywhere in the file) -> ``insert(id)``, ``gamma_<type>``,
  ``decay_<type>``.

Every element of a kind is keyed by its id (default: the tag name); a later one with the same
id replaces the earlier in its place (Python dict semantics, as BMTK). Numbers: BMTK takes the
number before the unit; nethub converts to NEURON's units (S/cm², µF/cm², Ω·cm, mV, ms) and
notes where that differs from BMTK's reading. What BMTK ignores (the file's morphology,
``ionChannel`` definitions, ``species`` concentrations, ``erev`` of other ions, other
concentration-model attributes, other elements) is ignored too, and named in the losses.

:func:`nml_operations` returns the per-kind operations the morphology child
(:func:`nethub.sim.morphread.nml_load`) applies.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import ConversionError
from .nml_cells import si_value

__all__ = ["nml_operations", "KINDS"]

NS = "{http://www.neuroml.org/schema/neuroml2}"
#: BMTK's section kinds (the first four letters of a Biophys1 section name).
KINDS = ("soma", "axon", "dend", "apic")
#: Segment group names BMTK's NMLTree accepts (lower-cased) -> kinds.
_GROUPS = {"soma": ("soma",), "somatic": ("soma",), "axon": ("axon",), "axonal": ("axon",),
           "dend": ("dend",), "basal": ("dend",), "dendritic": ("dend",),
           "apic": ("apic",), "apical": ("apic",), "all": ("soma", "axon", "apic", "dend")}
_TAGS = ("channelDensity", "channelDensityNernst", "resistivity", "specificCapacitance",
         "concentrationModel")
#: SI -> NEURON unit factor, and the unit whose number BMTK reads correctly.
_NRN = {"resistivity": (100.0, "ohm_cm"), "specificCapacitance": (100.0, "uF_per_cm2"),
        "condDensity": (1e-4, "S_per_cm2"), "erev": (1000.0, "mV")}
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
#: Elements BMTK reads nothing from but that carry no model meaning.
_QUIET = {"neuroml", "cell", "notes", "biophysicalProperties", "membraneProperties",
          "intracellularProperties", "annotation", "property"}


def _parse(path: Path) -> ET.Element:
    data = path.read_bytes()
    if _DTD.search(data):
        raise ConversionError(f"{path}: <!DOCTYPE/ENTITY ...> declarations are not allowed "
                              "in NeuroML files")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConversionError(f"{path}: not valid XML ({exc})") from None


def _value(elem: ET.Element, attr: str, path: Path, notes: list[str], what: str) -> float:
    """The attribute in NEURON's units (noting a unit BMTK would read differently)."""
    text = elem.attrib.get(attr)
    where = f"{path}: <{what} id={elem.attrib.get('id', what)!r}> {attr}"
    if text is None:
        raise ConversionError(f"{where} is missing")
    factor, unit = _NRN[attr if attr in _NRN else what]
    parts = str(text).split()
    if len(parts) == 2 and parts[1] == unit:
        try:
            return float(parts[0])  # BMTK's reading, bit for bit
        except ValueError:
            raise ConversionError(f"{where} = {text!r} is not a number") from None
    try:
        value = si_value(text, where) * factor
    except ValueError as exc:
        raise ConversionError(str(exc)) from None
    notes.append(f"{where} = {text!r}: used as {value:g} ({unit}); BMTK 1.2 reads the "
                 "number before the unit unconverted")
    return value


def _plain(elem: ET.Element, attr: str, path: Path) -> float:
    text = elem.attrib.get(attr)
    try:
        return float(str(text).split()[0])
    except (IndexError, ValueError):
        raise ConversionError(f"{path}: <concentrationModel id={elem.attrib.get('id')!r}> "
                              f"{attr} = {text!r} is not a number") from None


def _operation(elem: ET.Element, tag: str, path: Path, notes: list[str]) -> dict:
    if tag in ("resistivity", "specificCapacitance"):
        op = "Ra" if tag == "resistivity" else "cm"
        return {"op": op, "value": _value(elem, "value", path, notes, tag)}
    if tag == "concentrationModel":
        ctype, ident = elem.attrib.get("type", ""), elem.attrib.get("id", tag)
        extra = sorted(set(elem.attrib) - {"id", "type", "segmentGroup", "gamma", "decay",
                                           "ion"})
        if extra:
            notes.append(f"{path}: concentrationModel {ident!r}: {', '.join(extra)} not set "
                         "(BMTK sets gamma and decay only; the mechanism's defaults apply)")
        return {"op": "conc", "mech": ident,
                "set": {f"gamma_{ctype}": _plain(elem, "gamma", path),
                        f"decay_{ctype}": _plain(elem, "decay", path)}}
    ident, chan = elem.attrib.get("id", tag), elem.attrib.get("ionChannel")
    ion = elem.attrib.get("ion", "")
    if chan is None:
        raise ConversionError(f"{path}: <{tag} id={ident!r}> has no ionChannel")
    g = _value(elem, "condDensity", path, notes, tag)
    erev = _value(elem, "erev", path, notes, tag) if "erev" in elem.attrib else None
    if tag == "channelDensity" and chan == "pas":
        if erev is None:
            raise ConversionError(f"{path}: <channelDensity id={ident!r}> (pas) has no erev")
        return {"op": "pas", "g": g, "e": erev}
    if erev is not None and ion not in ("na", "k"):
        notes.append(f"{path}: {ident!r}: erev of ion {ion!r} not set (BMTK sets ena/ek "
                     "only; the mechanism's own reversal applies)")
    if erev is None and ion in ("na", "k"):
        notes.append(f"{path}: {ident!r}: no erev for ion {ion!r}: e{ion} left as it is "
                     "(BMTK 1.2 fails here setting it to None)")
    return {"op": "density", "mech": chan, "name": ident, "value": g, "ion": ion,
            "erev": erev}


def _ignored(root: ET.Element, path: Path, notes: list[str]) -> None:
    skipped: dict[str, int] = {}
    for elem in root.iter():
        tag = elem.tag[len(NS):] if elem.tag.startswith(NS) else elem.tag
        if tag in _TAGS or tag in _QUIET or not elem.tag.startswith(NS):
            continue
        morph = ("segment", "segmentGroup", "proximal", "distal", "parent", "member", "path",
                 "from", "to") + (() if "href" in elem.attrib else ("include",))
        top = "morphology" if tag in morph else tag
        skipped[top] = skipped.get(top, 0) + 1
    for tag in sorted(skipped):
        notes.append(f"{path}: <{tag}> not used ({skipped[tag]} element(s)); BMTK's nml: "
                     "template reads only channel densities, resistivity, capacitance and "
                     "concentration models (the morphology is the node's, the ion channels "
                     "are mechanisms_dir's)")


def nml_operations(path: str | os.PathLike) -> tuple[dict[str, list[dict]], list[str]]:
    """The per-section-kind operations of a BMTK ``nml:`` parameter file.

    Parameters
    ----------
    path : path
        The ``.nml`` file (``biophysical_neuron_models_dir`` / the template's name).

    Returns
    -------
    ops : dict of str to list of dict
        ``soma``, ``axon``, ``dend``, ``apic`` -> operations in BMTK's order (``Ra``,
        ``cm``, ``pas``, ``density``, ``conc``), applied to every section of that kind.
    notes : list of str
        What is not carried or read differently from BMTK (for the losses).

    Raises
    ------
    ConversionError
        Unreadable file, an element without or with an unknown segment group, a bad quantity.
    """
    path = Path(path)
    root = _parse(path)
    notes: list[str] = []
    tables: dict[str, dict[str, dict]] = {k: {} for k in KINDS}
    for elem in root.iter():
        tag = elem.tag[len(NS):] if elem.tag.startswith(NS) else None
        if tag not in _TAGS:
            continue
        ident = elem.attrib.get("id", tag)
        group = elem.attrib.get("segmentGroup")
        if group is None or group.lower() not in _GROUPS:
            raise ConversionError(
                f"{path}: <{tag} id={ident!r}> segmentGroup {group!r}: BMTK's nml: templates "
                f"know {', '.join(_GROUPS)}")
        op = _operation(elem, tag, path, notes)
        for kind in _GROUPS[group.lower()]:
            tables[kind][ident] = op
    _ignored(root, path, notes)
    return {k: list(v.values()) for k, v in tables.items()}, notes
