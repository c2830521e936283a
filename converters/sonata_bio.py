"""SONATA biophysical cells -> compartmental cell types, built as BMTK's bionet builds them.

A morphology (SWC / NeuroLucida ASC) is loaded with NEURON's own Import3d in a separate
process (``python -m nethub.sim.morphread``; converters do not import the simulator), the
model processing (``aibs_perisomatic`` / ``aibs_allactive``: axon stub, passive values,
genome, reversal potentials) and BMTK's ``dL`` rule (``nseg = 1 + 2 * int(L / (2 * dL))``) are
applied there, and the cell is snapshotted into a :class:`~nethub.celltypes.CompartmentalCell`.
One cell type per distinct (morphology, model_template, model_processing, dynamics_params);
the morphology and parameter files travel in the store (roles ``morphology`` / ``params``),
the ``mechanisms_dir`` ``.mod`` files as ``Network.mod_files``.

:func:`read_morphology` is also the plain "morphology file -> cell type" entry (issue 14).
The per-segment table BMTK draws synapse locations from (section index, x, type, distance
from the soma, length) comes back with the cell (:class:`MorphologyImport`) and is used by
:mod:`nethub.converters.sonata_bio_edges`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..celltypes import CompartmentalCell, PointCell, Section
from ..embedded import EmbeddedFile
from ..errors import ConversionError, UntrustedCodeError
from ..network import Network
from ..nmodl.compile import compiled_library
from .sonata_bio_nml import nml_operations

__all__ = ["MorphologyImport", "read_morphology", "biophysical_types", "SEGMENT_KEYS"]

logger = logging.getLogger(__name__)

CHILD = "nethub.sim.morphread"  # run as a module in the child, never imported here
_MPI_PREFIXES = ("OMPI_", "PMI", "PMIX_", "MPI_", "HYDRA_")
#: Columns of BMTK's segment table (``morphology._LazySegmentProps``).
SEGMENT_KEYS = ("sec_id", "x", "type", "dist", "length", "area")
#: Template spellings of BMTK's built-in Allen template.
_CTDB = ("ctdb:Biophys1.hoc", "ctdb:Biophys1")
#: Model processing functions the child knows (BMTK's built-ins of the same name).
PROCESSING = ("aibs_perisomatic", "aibs_allactive", "extracellular", "set_extracellular")
#: BMTK 1.2 built-in model processing nethub does not implement (reported as lost).
_BMTK_NOT_DONE = ("aibs_perisomatic_directed", "aibs_allactive_directed")


@dataclass
class MorphologyImport:
    """What :func:`read_morphology` returns.

    Attributes
    ----------
    cell_type : CompartmentalCell
    segments : dict of str to ndarray
        BMTK's segment table, one row per segment of the ``all`` section list in order:
        ``sec_id`` (index in ``section_lists['all']``), ``x``, ``type`` (SWC code: 1 soma,
        2 axon, 3 basal, 4 apical), ``dist`` (path distance from the soma, µm), ``length``,
        ``area``.
    files : dict of str to EmbeddedFile
        The morphology (role ``morphology``) and the dynamics_params file (``params``).
    """

    cell_type: CompartmentalCell
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    files: dict[str, EmbeddedFile] = field(default_factory=dict)


def read_morphology(path: str | os.PathLike | None, *, name: str | None = None,
                    template: str = "", processing: Sequence[str] = (),
                    params: Mapping[str, Any] | None = None, dL: float | None = None,
                    mod_files: Mapping[str, str] | None = None,
                    hoc_files: Sequence[str | os.PathLike] = (), trusted: bool = False,
                    timeout: float = 120.0, names: str = "bmtk",
                    nml: Mapping[str, list] | None = None) -> MorphologyImport:
    """Load a morphology with NEURON's Import3d (in a separate process) into a cell type.

    Parameters
    ----------
    path : path or None
        SWC (``.swc``), NeuroLucida (``.asc``) or HDF5 (``.h5``, BBP/MorphIO H5 v1: read as
        the NeuroLucida / SWC text it holds, :mod:`nethub.sim.morphh5`) file; None for a
        ``hoc:`` template without morphology.
    name : str, optional
        Cell type name (default: the file's stem).
    template : str
        ``""`` or ``ctdb:Biophys1.hoc`` (Import3d into BMTK's section names, the default), or
        ``hoc:NAME`` (a template from ``hoc_files``, called as BMTK's ``loadHOC`` does; needs
        ``trusted``), or ``nml:FILE`` (BMTK's ``NMLLoad``: Import3d, the perisomatic axon
        stub, then the ``nml`` operations).
    processing : sequence of str
        BMTK model processing names applied in order (:data:`PROCESSING`).
    params : dict, optional
        The dynamics_params JSON the processing uses.
    dL : float, optional
        Maximum segment length (µm): ``nseg = 1 + 2 * int(L / (2 * dL))`` on every section;
        None keeps Import3d's ``nseg``.
    mod_files : dict of str to str, optional
        NMODL sources of mechanisms the parameters insert.
    hoc_files : sequence of paths
        Files loaded before a ``hoc:`` template is instantiated.
    trusted : bool
        Needed for ``hoc:`` templates (HOC is code).
    timeout : float
        Seconds after which the child process is stopped.
    names : {"bmtk", "netpyne"}
        ``"bmtk"``: Import3d instantiates into BMTK's ``Biophys1`` shell (``soma[0]``,
        ``dend[3]``; lists ``all``, ``somatic``, ...). ``"netpyne"``: the cell NetPyNE's
        ``importCellParams`` builds (``soma_0``, ``dend_3``; NetPyNE's points and section
        lists; no segment table; ``template`` and ``processing`` must be empty).
    nml : dict, optional
        For an ``nml:`` template: the per-kind operations of
        :func:`nethub.converters.sonata_bio_nml.nml_operations`.

    Returns
    -------
    MorphologyImport

    Raises
    ------
    ConversionError
        The file cannot be read, Import3d or the processing fails (naming the file).
    UntrustedCodeError
        A ``hoc:`` template without ``trusted``.
    """
    unknown = [p for p in processing if p not in PROCESSING]
    if unknown:
        raise ConversionError(f"{path}: model_processing {unknown} not known (known: "
                              f"{', '.join(PROCESSING)})")
    if template.startswith("hoc:") and not trusted:
        raise UntrustedCodeError(f"{template}: a HOC template is a program; nethub runs it only "
                                 "with --trust / trusted=True; nothing was run.")
    if names not in ("bmtk", "netpyne"):
        raise ConversionError(f"{path}: names must be 'bmtk' or 'netpyne', not {names!r}")
    if names == "netpyne" and (template or processing or path is None):
        raise ConversionError(f"{path}: NetPyNE's names are for a plain morphology file "
                              "(no template, no processing)")
    morph = Path(path) if path is not None else None
    if morph is not None and not morph.is_file():
        raise ConversionError(f"{morph}: morphology file not found")
    mods = dict(mod_files or {})
    req = {"morphology": str(morph.resolve()) if morph else "", "template": template,
           "processing": list(processing), "params": dict(params) if params else None,
           "dL": dL, "hoc_files": [str(Path(f).resolve()) for f in hoc_files],
           "library": str(compiled_library(mods, trusted=trusted)) if mods else "",
           "names": names, "nml": dict(nml) if nml else None}
    where = morph or Path(template)
    out = _run_child(req, where, timeout)
    tname = name or (morph.stem if morph else template.split(":", 1)[-1])
    cell = _cell_type(out, tname, sorted(mods), where)
    cell.provenance = {"format": "hoc" if morph is None else morph.suffix.lstrip(".").lower(),
                       "file": morph.name if morph else None, "template": template or None,
                       "processing": list(processing), "dL": dL, "names": names}
    files = {}
    if morph is not None:
        ef = EmbeddedFile(f"morphologies/{morph.name}", "morphology", str(morph),
                          morph.read_bytes())
        files[ef.name] = ef
    segs = {k: np.asarray(out["segments"][k], dtype=np.int64 if k in ("sec_id", "type")
                          else np.float64) for k in SEGMENT_KEYS}
    return MorphologyImport(cell, segs, files)


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_MPI_PREFIXES)}
    env["PYTHONSAFEPATH"] = "1"
    env["PYTHONUNBUFFERED"] = "1"  # NEURON's messages reach the pipe even if the child crashes
    return env


def _run_child(req: dict, where: Path, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="nethub-morph-") as tmp:
        req_path, out_path = Path(tmp) / "req.json", Path(tmp) / "out.json"
        req_path.write_text(json.dumps(req))
        try:
            proc = subprocess.run([sys.executable, "-m", CHILD, str(req_path), str(out_path)],
                                  capture_output=True, text=True, timeout=timeout, cwd=tmp,
                                  env=_child_env(), stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"{where}: loading the cell took longer than {timeout:g} s; "
                                  "stopped") from exc
        if proc.returncode != 0 or not out_path.exists():
            lines = [s for s in (proc.stdout + proc.stderr).splitlines() if s.strip()]
            ours = [s[len("morphread error:"):] for s in lines
                    if s.startswith("morphread error:")]
            import3d = [s for s in lines if s.lower().startswith("error ")][:1]  # Import3d
            detail = (ours or import3d or lines or ["no output"])[-1].strip()
            raise ConversionError(f"{where}: NEURON could not build the cell: {detail}")
        return json.loads(out_path.read_text())


def _cell_type(out: dict, name: str, mod_names: list[str], where: Path) -> CompartmentalCell:
    sections = {k: Section.from_dict(v) for k, v in out["sections"].items()}
    if not sections:
        raise ConversionError(f"{where}: the morphology made no section")
    spike = out["spike_source"]
    return CompartmentalCell(name, sections=sections, section_lists=out["section_lists"],
                             spike_source=(spike["sec"], spike["loc"]), mod_files=mod_names)


# --- SONATA biophysical node types --------------------------------------------------------


def _segments_registry(circuit: Any) -> dict[str, dict[str, np.ndarray]]:
    """Cell type name -> segment table, kept on the circuit for the edge placement."""
    reg = getattr(circuit, "_bio_segments", None)
    if reg is None:
        reg = {}
        circuit._bio_segments = reg  # noqa: SLF001  (read by sonata_bio_edges in the same import)
    return reg


def segments_of(circuit: Any) -> dict[str, dict[str, np.ndarray]]:
    """The segment tables of the biophysical cell types made from ``circuit`` so far.

    Parameters
    ----------
    circuit : SonataCircuit

    Returns
    -------
    dict of str to dict
        Cell type name -> :attr:`MorphologyImport.segments`.
    """
    return _segments_registry(circuit)


def _mechanisms(circuit: Any, net: Network) -> dict[str, str]:
    """The ``mechanisms_dir`` ``.mod`` files (also added to ``net.mod_files``)."""
    folder = circuit.config.components.get("mechanisms_dir")
    mods: dict[str, str] = {}
    if folder and Path(folder).is_dir():
        # BMTK's layout compiles mechanisms_dir/modfiles: name the files relative to it
        base = Path(folder) / "modfiles" if (Path(folder) / "modfiles").is_dir() \
            else Path(folder)
        for p in sorted(base.rglob("*.mod")):
            mods[p.relative_to(base).as_posix()] = p.read_text()
    for k, v in mods.items():
        if k not in net.mod_files:
            net.add_file(k, v, "mod")
    return mods


def _params(fname: str, circuit: Any, where: str) -> tuple[dict | None, Path | None]:
    if not isinstance(fname, str) or not fname or fname == "NONE":
        return None, None
    folder = circuit.config.components.get("biophysical_neuron_models_dir", "")
    path = Path(folder or ".") / fname
    if not path.is_file():
        raise ConversionError(f"{where}: dynamics_params file {path} not found")
    try:
        return json.loads(path.read_text()), path
    except ValueError as exc:
        raise ConversionError(f"{path}: not valid JSON ({exc})") from None


def _morph_path(fname: Any, circuit: Any, where: str) -> Path | None:
    if not isinstance(fname, str) or not fname or fname == "NONE":
        return None
    folder = Path(circuit.config.components.get("morphologies_dir", "") or ".")
    path = folder / fname
    if not path.exists() and path.suffix.lower() not in (".swc", ".asc", ".h5"):
        # SONATA allows the name without .swc (BMTK adds it); .h5 / .asc as well here
        path = next((path.with_name(path.name + s) for s in (".swc", ".h5", ".asc")
                     if path.with_name(path.name + s).is_file()),
                    path.with_name(path.name + ".swc"))
    if not path.is_file():
        raise ConversionError(f"{where}: morphology {fname!r} not found in {folder}")
    return path


def _combo_name(morph: Path | None, templ: str, proc: str, params: str) -> str:
    parts = [morph.stem if morph else Path(templ.split(":", 1)[-1]).name.split(".")[0]]
    if isinstance(params, str) and params and params != "NONE":
        parts.append(Path(params).stem)
    if proc:
        parts.append(proc.replace(",", "+"))
    if templ not in _CTDB and templ:
        parts.append(templ.replace(":", "-").replace("/", "_"))
    return "bio." + ".".join(parts)


def biophysical_types(pop: str, tab: pd.DataFrame, idx: np.ndarray, circuit: Any,
                      net: Network, lost: list[str]) -> np.ndarray:
    """Cell type names of the biophysical nodes ``tab.iloc[idx]``, making the types.

    Parameters
    ----------
    pop : str
        Node population name (for messages).
    tab : DataFrame
        The population's node table (type CSV merged with the HDF5 attributes).
    idx : ndarray of int
        Rows of one node type.
    circuit : SonataCircuit
    net : Network
        Receives the cell types, embedded files and mechanisms.
    lost : list of str
        Receives what is not carried (``nml:`` templates, untrusted ``hoc:``).

    Returns
    -------
    ndarray of object
        The cell type name of each row of ``idx``.
    """
    sub = tab.iloc[idx]
    keys = ["morphology", "model_template", "model_processing", "dynamics_params"]
    combo = pd.DataFrame({k: sub[k].astype(object).where(sub[k].notna(), "")
                          if k in sub else "" for k in keys}, index=sub.index)
    out = np.empty(len(idx), dtype=object)
    run = circuit.config.section("run")
    dl = float(run.get("dL", 20.0))  # BMTK's default (sonata_config.py)
    # bionet's soma spike detector uses run.spike_threshold, default -15 mV (not nethub's 10)
    net.params.setdefault("defaultThreshold", float(run.get("spike_threshold", -15.0)))
    for vals, rows in combo.groupby(keys, sort=True).indices.items():
        out[rows] = _one_type(pop, dict(zip(keys, vals, strict=True)), len(rows), circuit,
                              net, lost, dl)
    return out


def _one_type(pop: str, combo: dict, n: int, circuit: Any, net: Network, lost: list[str],
              dl: float) -> str:
    where = f"{pop} (morphology {combo['morphology']!r}, template {combo['model_template']!r})"
    templ = str(combo["model_template"])
    if not (templ in _CTDB or templ.startswith(("hoc:", "nml:"))):
        name = _combo_name(None, templ, str(combo["model_processing"]), combo["dynamics_params"])
        if name not in net.cell_types:
            lost.append(f"{where}: model_type 'biophysical' not supported yet for "
                        f"model_template {templ!r} (nethub reads ctdb:Biophys1.hoc, hoc: and "
                        f"nml: templates); {n} cells kept as silent VecStim placeholders")
            net.cell_types[name] = PointCell(name=name, model="VecStim")
        return name
    missing = _nml_missing(templ, combo["morphology"], circuit)
    if missing:
        name = _combo_name(None, templ, str(combo["model_processing"]), combo["dynamics_params"])
        if name not in net.cell_types:
            lost.append(f"{where}: biophysical cells not built: {missing} (point the circuit "
                        f"config's components at the folders that hold them); {n} cells kept "
                        "as silent VecStim placeholders")
            net.cell_types[name] = PointCell(name=name, model="VecStim")
        return name
    morph = _morph_path(combo["morphology"], circuit, where)
    if morph is None and (templ in _CTDB or templ.startswith("nml:")):
        raise ConversionError(f"{where}: {templ} needs a morphology (node property "
                              "'morphology'; BMTK's nml: templates take the morphology from "
                              "the node, not from the .nml file)")
    name = _combo_name(morph, templ, str(combo["model_processing"]), combo["dynamics_params"])
    if name in net.cell_types:
        return name
    trusted = bool(getattr(circuit, "trusted", False))
    if templ.startswith("hoc:") and not trusted:
        lost.append(f"{where}: hoc: template needs trust (--trust); {n} cells kept as silent "
                    "VecStim placeholders")
        net.cell_types[name] = PointCell(name=name, model="VecStim")
        return name
    params, ppath = _params(combo["dynamics_params"], circuit, where)
    proc = _processing(str(combo["model_processing"]), f"{where}: {n} cells", lost)
    hoc_files = []
    if templ.startswith("hoc:"):
        tdir = circuit.config.components.get("templates_dir")
        hoc_files = sorted(Path(tdir).glob("*.hoc")) if tdir else []
    mods = _mechanisms(circuit, net)
    nml = _nml_template(templ, circuit, net, lost, where)
    try:
        imp = read_morphology(morph, name=name, template=templ, processing=proc,
                              params=params, dL=dl, mod_files=mods, hoc_files=hoc_files,
                              trusted=trusted, nml=nml)
    except ConversionError as exc:
        raise ConversionError(f"{where}: {exc}") from None
    imp.cell_type.provenance.update({"format": "sonata", "population": pop,
                                     "dynamics_params": combo["dynamics_params"] or None,
                                     "model_template": templ})
    for ef in imp.files.values():
        if ef.name not in net.files:
            net.add_file(ef.name, ef.data, ef.role, ef.original_name)
    if ppath is not None:
        pname = f"biophysical_neuron_models/{ppath.name}"
        if pname not in net.files:
            net.add_file(pname, ppath.read_bytes(), "params", str(ppath))
    for f in hoc_files:
        if f"templates/{f.name}" not in net.files:
            net.add_file(f"templates/{f.name}", f.read_bytes(), "template", str(f))
    net.cell_types[name] = imp.cell_type
    _segments_registry(circuit)[name] = imp.segments
    return name


def _processing(text: str, where: str, lost: list[str]) -> list[str]:
    """The model_processing steps nethub applies; the others reported in ``lost``."""
    proc = [p.strip() for p in text.split(",") if p.strip()]
    for p in proc:
        if p in _BMTK_NOT_DONE:
            lost.append(f"{where}: model_processing {p!r} (a BMTK built-in) is not "
                        "implemented in nethub; the cells are built without it")
        elif p not in PROCESSING:
            lost.append(f"{where}: model_processing {p!r} is not a BMTK built-in: BMTK "
                        f"runs a function {p}(hobj, cell, dynamics_params) registered with "
                        "@bionet.model_processing in the user's run script (user code nethub "
                        "does not run); the cells are built without it")
    return [p for p in proc if p in PROCESSING]


def _nml_dirs(circuit: Any) -> list[str]:
    # BMTK looks in biophysical_neuron_models_dir; templates_dir as a fallback
    comps = circuit.config.components
    return [d for d in (comps.get("biophysical_neuron_models_dir"), comps.get("templates_dir"))
            if d]


def _nml_path(templ: str, circuit: Any) -> Path | None:
    rel = templ.split(":", 1)[1]
    return next((Path(d) / rel for d in _nml_dirs(circuit) if (Path(d) / rel).is_file()), None)


def _nml_missing(templ: str, morphology: Any, circuit: Any) -> str:
    """Why an ``nml:`` node type cannot be built from the files at hand ("" when it can)."""
    if not templ.startswith("nml:"):
        return ""
    why = []
    if _nml_path(templ, circuit) is None:
        why.append(f"{templ.split(':', 1)[1]} not found in "
                   f"{' or '.join(map(str, _nml_dirs(circuit))) or '(no components folder)'}")
    if isinstance(morphology, str) and morphology not in ("", "NONE"):
        try:
            _morph_path(morphology, circuit, "")
        except ConversionError:
            folder = circuit.config.components.get("morphologies_dir", "") or "."
            why.append(f"morphology {morphology!r} not found in {folder}")
    return "; ".join(why)


def _nml_template(templ: str, circuit: Any, net: Network, lost: list[str],
                  where: str) -> dict | None:
    """The operations of an ``nml:`` template (None for other templates); the file is
    embedded (role ``params``) and what it holds that is not used goes to ``lost``."""
    if not templ.startswith("nml:"):
        return None
    rel = templ.split(":", 1)[1]
    path = _nml_path(templ, circuit)
    if path is None:
        raise ConversionError(f"{where}: {templ}: {rel} not found")
    ops, notes = nml_operations(path)
    name = f"biophysical_neuron_models/{Path(rel).as_posix()}"
    if name not in net.files:
        net.add_file(name, path.read_bytes(), "params", str(path))
        lost.extend(f"{where}: {m}" for m in notes)
    return ops
