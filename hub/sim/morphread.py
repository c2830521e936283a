"""Child process of :mod:`nethub.converters.sonata_bio` (and of plain morphology imports):
load one morphology (SWC / NeuroLucida ASC) with NEURON's own Import3d, apply BMTK's model
processing (``aibs_perisomatic`` / ``aibs_allactive``: axon replaced by a two-section stub,
passive and genome parameters, reversal potentials), set ``nseg`` from ``dL`` as BMTK's bionet
does, and write the cell as JSON: sections (via :mod:`nethub.sim.templateread`'s snapshot),
section lists and BMTK's per-segment table (section index, x, type, distance, length) that
synapse placement draws from.

Launched as ``python -m nethub.sim.morphread REQUEST.json OUT.json`` so that the caller's
NEURON state is untouched; it imports NEURON and nothing else of nethub but the snapshot
helpers. The steps follow ``bmtk/simulator/bionet`` (``Biophys1`` template,
``default_setters/cell_models.py``, ``morphology.py``), written anew here.

Request keys: ``morphology`` (path; ``.swc``, ``.asc``, or ``.h5`` through
:mod:`nethub.sim.morphh5`), ``template`` (``ctdb:Biophys1.hoc`` | ``hoc:NAME`` | ``nml:FILE``
with ``nml``, the operations :func:`nml_load` applies | ``""`` plain), ``hoc_files``
(files to load for ``hoc:``), ``processing`` (list of names),
``params`` (the dynamics_params JSON or null), ``dL`` (µm or null: keep Import3d's nseg),
``library`` (compiled mechanisms to load), ``names`` (``"netpyne"``: build the cell as NetPyNE's
``importCellParams`` does, :mod:`nethub.sim.morphnetpyne`; else BMTK's ``Biophys1`` shell).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from neuron import h

from nethub.sim import morphh5, morphnetpyne
from nethub.sim.templateread import _mech_names, _section, _section_lists, child_main

#: The shell a morphology is instantiated into: BMTK's ``Biophys1`` names (soma, dend, apic,
#: axon arrays; all, somatic, basal, apical, axonal lists), so that section names and the
#: order of ``all`` are those BMTK numbers ``afferent_section_id`` by.
_SHELL = """
begintemplate NethubMorphology
public soma, dend, apic, axon, all, somatic, basal, apical, axonal
objref all, somatic, basal, apical, axonal, this
create soma[1], dend[1], apic[1], axon[1]
proc init() {
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    forall delete_section()
}
endtemplate NethubMorphology
"""

#: BMTK's section-name prefixes -> SWC type codes (``Morphology.sec_type_swc``).
SWC_TYPE = {"soma": 1, "axon": 2, "dend": 3, "apic": 4}
_KEEP: list = []
_READERS = {".swc": "Import3d_SWC_read", ".asc": "Import3d_Neurolucida3"}
_KNOWN = (*_READERS, ".h5")


def _short(sec) -> str:
    """BMTK's section kind: the first four characters after the cell's name."""
    return sec.name().split(".")[-1][:4]


def readable_path(path: str | Path) -> Path:
    """``path`` itself, or for an HDF5 morphology the same tree as NeuroLucida / SWC text
    (:func:`nethub.sim.morphh5.h5_to_text`) in a file Import3d reads, in the child's
    working folder (a temporary folder of the parent)."""
    path = Path(path)
    if path.suffix.lower() != ".h5":
        return path
    suffix, text = morphh5.h5_to_text(path)
    out = Path(tempfile.mkdtemp(prefix="h5morph-", dir=Path.cwd())) / f"{path.stem}{suffix}"
    out.write_text(text)
    return out


def load_morphology(path: str):
    """A shell cell with the morphology instantiated by Import3d (BMTK's ``Biophys1``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _KNOWN:
        raise RuntimeError(f"{path}: morphology format {suffix or '(none)'} not supported "
                           f"(known: {', '.join(_KNOWN)})")
    if not hasattr(h, "NethubMorphology"):
        h(_SHELL)
    cell = h.NethubMorphology()
    path = readable_path(path)
    suffix = Path(path).suffix.lower()
    reader = getattr(h, _READERS[suffix])()
    reader.quiet = 1
    reader.input(str(path))
    gui = h.Import3d_GUI(reader, 0)
    gui.instantiate(cell)
    _KEEP.append((reader, gui))  # Import3d objects outlive the cell, as in Biophys1
    return cell


def _replace_axon(cell, diams: tuple[float, float], parent_x: float) -> None:
    """Delete the reconstructed axon, put two 30-µm sections in its place."""
    for sec in list(cell.axon):
        h.delete_section(sec=sec)
    h.execute("create axon[2]", cell)
    for sec, diam in zip(cell.axon, diams, strict=True):
        sec.L = 30
        sec.diam = diam
        cell.axonal.append(sec=sec)
        cell.all.append(sec=sec)
    cell.axon[0].connect(cell.soma[0], parent_x, 0)
    cell.axon[1].connect(cell.axon[0], 1, 0)
    h.define_shape()


def _by_kind(cell) -> dict[str, list]:
    out: dict[str, list] = {}
    for sec in cell.all:
        out.setdefault(_short(sec), []).append(sec)
    return out


def perisomatic(cell, params: dict | None) -> None:
    """BMTK's ``aibs_perisomatic``: stub axon (diameter 1, on soma(0.5)), passive values,
    genome, reversal potentials; nothing when there are no parameters."""
    if params is None:
        return
    _replace_axon(cell, (1.0, 1.0), 0.5)
    passive, conditions = params["passive"][0], params["conditions"][0]
    cm = {c["section"]: c["cm"] for c in passive["cm"]}
    for sec in cell.all:
        sec.Ra = passive["ra"]
        sec.cm = cm[_short(sec)]
        sec.insert("pas")
        for seg in sec:
            seg.pas.e = passive["e_pas"]
    for gene in params["genome"]:
        for sec in [s for s in cell.all if _short(s) == gene["section"]]:
            if gene["mechanism"] != "":
                sec.insert(gene["mechanism"])
            setattr(sec, gene["name"], gene["value"])
    for erev in conditions["erev"]:
        for sec in [s for s in cell.all if _short(s) == erev["section"]]:
            sec.ena = erev["ena"]
            sec.ek = erev["ek"]


def allactive(cell, params: dict) -> None:
    """BMTK's ``aibs_allactive``: stub axon keeping the first and last axon diameters (on
    soma(1)), then passive values, genome and reversal potentials where the ions exist."""
    diams = [cell.axon[0].diam, cell.axon[0].diam]
    for sec in cell.all:
        if _short(sec) == "axon":
            diams[1] = sec.diam
    _replace_axon(cell, (diams[0], diams[1]), 1.0)
    passive, conditions = params["passive"][0], params["conditions"][0]
    kinds = _by_kind(cell)
    for sec in cell.all:
        sec.insert("pas")
    for sec in cell.all:
        if "e_pas" in passive:
            for seg in sec:
                seg.pas.e = passive["e_pas"]
        if "ra" in passive:
            sec.Ra = passive["ra"]
    for c in passive.get("cm", []):
        for sec in kinds.get(c["section"], []):
            sec.cm = c["cm"]
    for gene in params["genome"]:
        if gene["section"] == "glob":
            continue
        for sec in kinds.get(gene["section"], []):
            if gene.get("mechanism", "") != "":
                sec.insert(gene["mechanism"])
            setattr(sec, gene["name"], float(gene["value"]))
    for erev in conditions["erev"]:
        for sec in kinds.get(erev["section"], []):
            if h.ismembrane("k_ion", sec=sec):
                sec.ek = erev["ek"]
            if h.ismembrane("na_ion", sec=sec):
                sec.ena = erev["ena"]


def extracellular(cell, params: dict) -> None:
    """BMTK's ``set_extracellular`` (registered as ``extracellular`` and ``set_extracellular``):
    NEURON's ``extracellular`` mechanism in every section of ``all``."""
    for sec in cell.all:
        sec.insert("extracellular")


PROCESSING = {"aibs_perisomatic": perisomatic, "aibs_allactive": allactive,
              "extracellular": extracellular, "set_extracellular": extracellular}


def _nml_op(sec, op: dict) -> None:
    kind = op["op"]
    if kind == "Ra":
        sec.Ra = op["value"]
    elif kind == "cm":
        sec.cm = op["value"]
    elif kind == "pas":
        sec.insert("pas")
        sec.g_pas = op["g"]
        for seg in sec:
            seg.pas.e = op["e"]
    elif kind == "density":
        sec.insert(op["mech"])
        setattr(sec, op["name"], op["value"])
        if op["ion"] in ("na", "k") and op["erev"] is not None:
            setattr(sec, "e" + op["ion"], op["erev"])
    elif kind == "conc":
        sec.insert(op["mech"])
        for name, value in op["set"].items():
            setattr(sec, name, value)
    else:
        raise RuntimeError(f"unknown nml operation {kind!r}")


def nml_load(cell, ops: dict[str, list[dict]]) -> None:
    """BMTK's ``NMLLoad`` after Import3d: the axon replaced by the perisomatic stub, then each
    section of ``all`` gets the operations of its kind (``soma``, ``axon``, ``dend``,
    ``apic``; :mod:`nethub.converters.sonata_bio_nml` reads them from the ``.nml`` file)."""
    _replace_axon(cell, (1.0, 1.0), 0.5)
    for sec in cell.all:
        for op in ops.get(_short(sec), []):
            try:
                _nml_op(sec, op)
            except (LookupError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
                what = op.get("name") or op.get("mech") or op["op"]
                mech = f" (mechanism {op['mech']!r})" if "mech" in op else ""
                raise RuntimeError(f"{sec.name().split('.')[-1]}: nml parameter {what!r}{mech}: "
                                   f"{exc}") from None


def set_nseg(cell, dl: float) -> None:
    """BMTK's ``Morphology.set_segment_dl``: ``nseg = 1 + 2 * int(L / (2 * dL))``."""
    for sec in cell.all:
        sec.nseg = 1 + 2 * int(sec.L / (2 * dl))


def segment_table(cell) -> dict[str, list]:
    """BMTK's ``_LazySegmentProps``: one row per segment of ``all``, in order."""
    h.distance(sec=cell.soma[0])
    out: dict[str, list] = {k: [] for k in ("sec_id", "x", "type", "dist", "length", "area")}
    for sec_id, sec in enumerate(cell.all):
        kind = SWC_TYPE.get(_short(sec), 0)
        for seg in sec:
            out["sec_id"].append(sec_id)
            out["x"].append(seg.x)
            out["type"].append(kind)
            out["dist"].append(h.distance(seg))
            out["length"].append(sec.L / sec.nseg)
            out["area"].append(h.area(seg.x, sec=sec))
    return out


def _hoc_cell(req: dict):
    for f in req.get("hoc_files", []):
        if not h.load_file(str(f)):
            raise RuntimeError(f"{f}: NEURON could not load the file")
    name = req["template"].split(":", 1)[1]
    if not hasattr(h, name):
        raise RuntimeError(f"no template named {name!r} in {req.get('hoc_files')}")
    params = req.get("params")
    if isinstance(params, dict) and "params" in params:  # BMTK's loadHOC argument rules
        args = params["params"]
        return getattr(h, name)(*(args if isinstance(args, list) else [args]))
    if req.get("morphology"):
        return getattr(h, name)(str(req["morphology"]))
    return getattr(h, name)()


def read(req: dict) -> dict:
    """Build the cell of ``req`` and describe it (sections, lists, segment table)."""
    if req.get("library"):
        h.nrn_load_dll(req["library"])
    h.load_file("stdrun.hoc")
    h.load_file("import3d.hoc")
    if req.get("names") == "netpyne":
        return _read_netpyne(req)
    templ = req.get("template", "")
    cell = _hoc_cell(req) if templ.startswith("hoc:") else load_morphology(req["morphology"])
    if templ.startswith("nml:"):
        nml_load(cell, req.get("nml") or {})
    for name in req.get("processing", []):
        if name not in PROCESSING:
            raise RuntimeError(f"model_processing {name!r} not known (known: "
                               f"{', '.join(PROCESSING)})")
        PROCESSING[name](cell, req.get("params"))
    if req.get("dL"):
        set_nseg(cell, float(req["dL"]))
    density, _ = _mech_names()
    prefix = cell.hname() + "."
    all_secs = list(cell.all) if hasattr(cell, "all") else \
        [s for s in h.allsec() if s.name().startswith(prefix)]
    # templateread._section names a parent by its HOC internal name (merge of h-templates)
    names = {sec.hoc_internal_name(): sec.name()[len(prefix):] for sec in all_secs}
    sections = {}
    for sec in all_secs:
        sections[names[sec.hoc_internal_name()]] = _section(sec, names, density)
    lists = _section_lists(cell, names)
    lists.setdefault("all", list(sections))
    return {"sections": sections, "section_lists": lists,
            "spike_source": {"sec": f"{_short(cell.soma[0])}[0]", "loc": 0.5},
            "segments": segment_table(cell)}


def _read_netpyne(req: dict) -> dict:
    """The cell as NetPyNE's ``importCellParams`` builds it (:mod:`nethub.sim.morphnetpyne`):
    top-level sections named ``soma_0``, ``dend_12``, ...; no segment table."""
    secs = morphnetpyne.build(str(readable_path(req["morphology"])))
    if req.get("dL"):
        for sec in secs:
            sec.nseg = 1 + 2 * int(sec.L / (2 * float(req["dL"])))
    density, _ = _mech_names()
    names = morphnetpyne.names_of(secs)
    sections = {names[s.hoc_internal_name()]: _section(s, names, density) for s in secs}
    soma = next((n for n in sections if n.startswith("soma")), next(iter(sections), ""))
    return {"sections": sections, "section_lists": morphnetpyne.section_lists(names),
            "spike_source": {"sec": soma, "loc": 0.5},
            "segments": {k: [] for k in ("sec_id", "x", "type", "dist", "length", "area")}}


def main(argv: list[str]) -> int:
    return child_main(argv, read, lambda exc: f"morphread error: {exc}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
