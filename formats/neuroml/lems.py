"""Read LEMS ``Simulation`` files (``LEMS_*.xml``): run settings, outputs and the NeuroML model.

Parsed with the standard library after refusing DOCTYPE/ENTITY declarations (no entity
expansion). ``<Include>`` files are resolved relative to the including file; the NeuroML2
core type files that jNeuroML ships (``Cells.xml``, ``Networks.xml``, ...) are recorded as
core includes. NeuroML2 elements written inline in the LEMS file (``<iafCell>``,
``<network>``, ...) become part of the returned NeuroML document, as jNeuroML reads them.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from . import synconn
from ._common import NeuroMLError, local_tag, parse_xml_bytes, to_ms
from .nmlread import NeuroMLModel, merge_into, parse_nml_bytes, read_neuroml
from .summary import summarize_network

__all__ = ["CORE_TYPE_FILES", "EventOutputFile", "EventSelection", "LemsModel",
           "LemsSimulation", "OutputColumn", "OutputFile", "read_lems"]

#: The ComponentType files of NeuroML2 that jNeuroML resolves from its own copy.
CORE_TYPE_FILES = frozenset({
    "Cells.xml", "Channels.xml", "Inputs.xml", "Networks.xml", "NeuroML2CoreTypes.xml",
    "NeuroMLCoreCompTypes.xml", "NeuroMLCoreDimensions.xml", "PyNN.xml", "Simulation.xml",
    "Synapses.xml"})
#: LEMS elements that are not NeuroML components.
_LEMS_TAGS = frozenset({"Target", "Include", "Simulation", "ComponentType", "Dimension", "Unit",
                        "Constant", "Assertion", "Component"})
_NML_NS = "http://www.neuroml.org/schema/neuroml2"
#: Event file formats jNeuroML writes.
EVENT_FORMATS = ("ID_TIME", "TIME_ID")


@dataclass(frozen=True)
class OutputColumn:
    """One column of an ``OutputFile``: ``quantity`` is a LEMS path such as ``pop[0]/v``."""

    id: str
    quantity: str


@dataclass(frozen=True)
class OutputFile:
    """``<OutputFile>``: time then one column per quantity, in SI units, as jNeuroML writes."""

    id: str
    file_name: str
    columns: tuple[OutputColumn, ...]


@dataclass(frozen=True)
class EventSelection:
    """One ``<EventSelection>``: events of ``select`` (e.g. ``pop[0]``) on ``event_port``."""

    id: str
    select: str
    event_port: str


@dataclass(frozen=True)
class EventOutputFile:
    """``<EventOutputFile>``; ``format`` is ``"ID_TIME"`` or ``"TIME_ID"``."""

    id: str
    file_name: str
    format: str
    selections: tuple[EventSelection, ...]


@dataclass(frozen=True)
class LemsSimulation:
    """A LEMS ``Simulation``: ``length_ms``, ``step_ms``, ``seed`` (None if unset), target."""

    id: str
    length_ms: float
    step_ms: float
    target: str
    seed: int | None = None
    output_files: tuple[OutputFile, ...] = ()
    event_output_files: tuple[EventOutputFile, ...] = ()


@dataclass
class LemsModel:
    """What :func:`read_lems` returns.

    Attributes
    ----------
    path : Path
        The LEMS file.
    simulation : LemsSimulation
        The simulation named by ``<Target component>`` (or the only one).
    neuroml : NeuroMLModel
        Every included NeuroML file and the inline NeuroML elements, merged; its
        ``networks`` holds the target network's summary.
    includes : list of Path
        Included files (resolved), in order; ``core_includes`` the core type files named.
    report_file, times_file : str or None
        ``<Target reportFile timesFile>``.
    """

    path: Path
    simulation: LemsSimulation
    neuroml: NeuroMLModel
    includes: list[Path] = field(default_factory=list)
    core_includes: list[str] = field(default_factory=list)
    report_file: str | None = None
    times_file: str | None = None

    @property
    def network(self):
        """Summary of the simulated network."""
        return self.neuroml.networks[self.simulation.target]

    @property
    def files(self) -> list[Path]:
        """The LEMS file and every NeuroML/LEMS file read for it (LEMS files of
        ComponentType definitions included)."""
        return list(dict.fromkeys([self.path, *self.neuroml.files, *self.includes]))


def _req(el: ET.Element, name: str, where: str) -> str:
    value = el.get(name)
    if value is None:
        raise NeuroMLError(f"{where}: <{local_tag(el)}> needs a {name!r} attribute")
    return value


def _strip_ns(el: ET.Element) -> ET.Element:
    out = ET.Element(local_tag(el), dict(el.attrib))
    out.text, out.tail = el.text, el.tail
    out.extend(_strip_ns(c) for c in el if isinstance(c.tag, str))
    return out


def _output_file(el: ET.Element, where: str) -> OutputFile:
    oid = _req(el, "id", where)
    w = f"{where}/OutputFile[@id={oid!r}]"
    cols = tuple(OutputColumn(_req(c, "id", w), _req(c, "quantity", w))
                 for c in el if local_tag(c) == "OutputColumn")
    return OutputFile(oid, _req(el, "fileName", w), cols)


def _event_file(el: ET.Element, where: str) -> EventOutputFile:
    oid = _req(el, "id", where)
    w = f"{where}/EventOutputFile[@id={oid!r}]"
    fmt = _req(el, "format", w)
    if fmt not in EVENT_FORMATS:
        raise NeuroMLError(f"{w}: format {fmt!r} (valid: {', '.join(EVENT_FORMATS)})")
    sels = tuple(EventSelection(_req(c, "id", w), _req(c, "select", w),
                                c.get("eventPort", "spike"))
                 for c in el if local_tag(c) == "EventSelection")
    return EventOutputFile(oid, _req(el, "fileName", w), fmt, sels)


def _simulation(el: ET.Element, where: str) -> LemsSimulation:
    sid = _req(el, "id", where)
    w = f"{where}/Simulation[@id={sid!r}]"
    seed = el.get("seed")
    try:
        seed_value = None if seed is None else int(seed)
    except ValueError as exc:
        raise NeuroMLError(f"{w}: seed {seed!r} is not an integer") from exc
    return LemsSimulation(
        sid, to_ms(_req(el, "length", w), f"{w}@length"), to_ms(_req(el, "step", w), f"{w}@step"),
        _req(el, "target", w), seed_value,
        tuple(_output_file(c, w) for c in el if local_tag(c) == "OutputFile"),
        tuple(_event_file(c, w) for c in el if local_tag(c) == "EventOutputFile"))


def _is_simulation(el: ET.Element) -> bool:
    tag = local_tag(el)
    return tag == "Simulation" or (tag == "Component" and el.get("type") == "Simulation")


class _Reader:
    """State of one LEMS read: files seen, simulations, includes, inline NeuroML."""

    def __init__(self) -> None:
        self.sims: list[LemsSimulation] = []
        self.target: ET.Element | None = None
        self.includes: list[Path] = []
        self.core: list[str] = []
        self.nml_files: list[Path] = []
        self.docs: list = []
        self.chain: tuple[Path, ...] = ()
        self.synaptic: dict[str, list[dict]] = {}  # inline synapticConnection(WD)s by network

    def read(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NeuroMLError(f"{path}: cannot read: {exc}") from exc
        root = parse_xml_bytes(data, path)
        if local_tag(root) == "neuroml":
            self._neuroml(path)
            return
        if local_tag(root) != "Lems":
            raise NeuroMLError(f"{path}: root element <{local_tag(root)}> is neither <Lems> "
                               "nor <neuroml>")
        self.chain = (*self.chain, path)
        inline = []
        for el in root:
            if not isinstance(el.tag, str):
                continue
            tag = local_tag(el)
            if tag == "Include":
                self._include(path, _req(el, "file", f"{path}: Lems"))
            elif _is_simulation(el):
                self.sims.append(_simulation(el, f"{path}: Lems"))
            elif tag == "Target" and self.target is None:
                self.target = el
            elif tag not in _LEMS_TAGS:
                inline.append(_strip_ns(el))
        if inline:
            self._inline(path, inline)
        self.chain = self.chain[:-1]

    def _include(self, path: Path, name: str) -> None:
        child = (path.parent / name).resolve()
        if child in self.chain:
            cycle = " -> ".join(str(p) for p in (*self.chain, child))
            raise NeuroMLError(f"{path}: <Include file={name!r}> makes a cycle: {cycle}")
        if child in self.includes or child in self.nml_files:
            return
        if not child.is_file():
            if Path(name).name in CORE_TYPE_FILES:
                self.core.append(Path(name).name)
                return
            raise NeuroMLError(f"{path}: <Include file={name!r}>: no file {child}")
        self.includes.append(child)
        if child.name.endswith((".h5", ".hdf5")):
            self._neuroml(child)
        else:
            self.read(child)

    def _neuroml(self, path: Path) -> None:
        model = read_neuroml(path)
        self.nml_files.extend(f for f in model.files if f not in self.nml_files)
        self.docs.append(model)

    def _inline(self, path: Path, elements: list[ET.Element]) -> None:
        root = ET.Element("neuroml", {"xmlns": _NML_NS, "id": "lems_inline"})
        for el in elements:
            if local_tag(el) == "network":
                found = synconn.take_synaptic_connections(el, str(path))
                if found:
                    self.synaptic.setdefault(el.get("id", ""), []).extend(found)
        root.extend(elements)
        doc = parse_nml_bytes(ET.tostring(root, encoding="utf-8"), f"{path} (inline NeuroML)")
        self.docs.append(NeuroMLModel(doc, path, [path], {}))


def _pick(reader: _Reader, path: Path) -> LemsSimulation:
    if not reader.sims:
        raise NeuroMLError(f"{path}: no <Simulation> element")
    wanted = reader.target.get("component") if reader.target is not None else None
    if wanted is None:
        if len(reader.sims) > 1:
            raise NeuroMLError(f"{path}: several simulations and no <Target component>")
        return reader.sims[0]
    for sim in reader.sims:
        if sim.id == wanted:
            return sim
    raise NeuroMLError(f"{path}: <Target component={wanted!r}>: no such Simulation "
                       f"(simulations: {', '.join(s.id for s in reader.sims)})")


def read_lems(path: str | os.PathLike) -> LemsModel:
    """Read a LEMS Simulation file and the NeuroML2 model it includes.

    Parameters
    ----------
    path : str or PathLike
        A LEMS file with a ``<Simulation>`` (or ``<Component type="Simulation">``).

    Returns
    -------
    LemsModel
        Run settings (length/step in ms, seed), OutputFile/EventOutputFile definitions, the
        merged NeuroML document and the target network's summary.

    Raises
    ------
    NeuroMLError
        Bad XML, missing include, include cycle, no simulation, unknown target network.
    """
    # libNeuroML is optional (extra "neuroml"): imported when a LEMS file is read.
    import neuroml

    root = Path(path).resolve()
    if not root.is_file():
        raise NeuroMLError(f"{path}: no such file")
    reader = _Reader()
    reader.read(root)
    sim = _pick(reader, root)
    doc = neuroml.NeuroMLDocument(id=Path(root.name).stem)
    networks = {}
    for model in reader.docs:
        merge_into(doc, model.document)
        networks.update(model.networks)
    by_id = {n.id: n for n in doc.networks}
    if sim.target not in by_id:
        raise NeuroMLError(f"{root}: Simulation {sim.id!r} targets network {sim.target!r}, "
                           f"which is not defined (networks: {', '.join(by_id) or 'none'})")
    if sim.target not in networks:
        networks[sim.target] = summarize_network(by_id[sim.target], str(root))
    synconn.add_to_summary(networks[sim.target], reader.synaptic.get(sim.target, []))
    model = NeuroMLModel(doc, root, [root, *reader.nml_files], networks)
    target = reader.target
    return LemsModel(root, sim, model, reader.includes, reader.core,
                     None if target is None else target.get("reportFile"),
                     None if target is None else target.get("timesFile"))
