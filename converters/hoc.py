"""Cell templates -> canonical cell types: HOC templates (``begintemplate NAME ... endtemplate
NAME``) and Python cell classes, functions or objects.

The template runs in a separate NEURON process (``python -m nethub.sim.templateread``;
converters do not import the simulator), so the caller's NEURON state -- sections, globals,
working directory -- is untouched. A template file is a program: it is read only with the
user's explicit trust (``trusted=True`` / ``--trust``). Its ``.mod`` mechanisms (given, found
beside it as NetPyNE users keep them, or compiled in the working directory; see
:func:`nethub.converters.hoc_mods.template_mechanisms`) are compiled with
:func:`nethub.nmodl.compiled_library` and loaded in the child. What comes back: sections with
their names (``dend[2]``, or NetPyNE's ``dend_2``), topology, geometry, pt3d, density
mechanisms (per segment when not uniform), ions (reversal potentials and concentrations),
point processes, the template's SectionLists, the NEURON globals it changed and the spike
detection site; the template text and its mod files travel with the cell type.

The run mode (docs/hoc-templates.md): with ``mode="auto"`` both the template and the snapshot
are run on a current-clamp protocol at import (:mod:`nethub.sim.templateprobe`); when their
soma traces differ by more than ``tolerance`` the cell type runs the template itself
(``run_mode="template"``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell, Section
from ..embedded import EmbeddedFile, sha256_hex
from ..errors import ConversionError, UntrustedCodeError
from ..nmodl.compile import compiled_library
from ..templatetrust import remember_template
from .hoc_files import companion_files
from .hoc_mods import template_mechanisms

__all__ = ["HocImport", "read_hoc_template", "read_cell_template", "MODES", "TOLERANCE",
           "PROTOCOL"]

logger = logging.getLogger(__name__)

CHILD = "nethub.sim.templateread"  # run as a module in the child, never imported here
_MPI_PREFIXES = ("OMPI_", "PMI", "PMIX_", "MPI_", "HYDRA_")
MODES = ("auto", "snapshot", "template")
#: files named by a template's arguments are embedded up to this size (bytes)
_ARG_FILE_LIMIT = 64 * 1024 * 1024
_ARG_ROLES = {".swc": "morphology", ".asc": "morphology", ".h5": "morphology",
              ".json": "params", ".hoc": "template", ".tem": "template", ".py": "template"}
#: the current-clamp protocol of ``mode="auto"``: two steps [delay ms, duration ms, nA]
PROTOCOL: dict[str, Any] = {"tstop": 100.0, "dt": 0.025,
                            "steps": [[10.0, 30.0, 0.1], [50.0, 40.0, 0.4]]}
#: largest soma |dV| (mV) between snapshot and template under which the snapshot is enough
TOLERANCE = 1e-6


@dataclass
class HocImport:
    """What :func:`read_cell_template` returns.

    Attributes
    ----------
    cell_type : CompartmentalCell
        The snapshot of the instantiated template (``run_mode`` and ``template`` set).
    files : dict of str to EmbeddedFile
        The template source (role ``"template"``), keyed by name as ``Network.files``.
    mod_files : dict of str to str
        The NMODL sources the cell needs (for ``Network.mod_files``).
    globals_changed : dict
        NEURON globals (celsius, v_init, mechanism GLOBALs, ...) that loading and
        instantiating the template changed in the child, with their new values; also kept in
        ``cell_type.globals``.
    max_dv : float or None
        Max |V_snapshot - V_template| (mV) at the probe section under the current-clamp
        protocol; None when not compared.
    """

    cell_type: CompartmentalCell
    files: dict[str, EmbeddedFile] = field(default_factory=dict)
    mod_files: dict[str, str] = field(default_factory=dict)
    globals_changed: dict[str, float] = field(default_factory=dict)
    max_dv: float | None = None


def read_hoc_template(path: str | os.PathLike, template: str, *, trusted: bool = False,
                      mod_files: Mapping[str, str] | None = None, args: Sequence = (),
                      name: str | None = None, timeout: float = 60.0, mode: str = "auto",
                      **options: Any) -> HocImport:
    """Read a HOC cell template into a compartmental cell type (see :func:`read_cell_template`;
    here ``mod_files`` are exactly the mechanisms to load, none are searched for)."""
    return read_cell_template(path, template, trusted=trusted, mod_files=mod_files or {},
                              args=args, name=name, timeout=timeout, mode=mode, **options)


def read_cell_template(path: str | os.PathLike, template: str, *, trusted: bool = False,
                       args: Sequence | Mapping = (), kwargs: Mapping | None = None,
                       mod_files: Mapping[str, str] | None = None,
                       mod_dirs: Sequence[str | os.PathLike] = (), name: str | None = None,
                       mode: str = "auto", names: str = "neuron", instance: bool = False,
                       protocol: Mapping | None = None, tolerance: float = TOLERANCE,
                       timeout: float = 60.0) -> HocImport:
    """Read a HOC template or Python cell into a compartmental cell type, in a separate NEURON.

    Parameters
    ----------
    path : path
        The ``.hoc`` / ``.tem`` file defining the template, or a ``.py`` module.
    template : str
        The HOC template name; for Python the class or function (or, with ``instance``, the
        existing cell object: ``cells[0]``, ``net.pyr``) in the module.
    trusted : bool
        The user's explicit trust: a template is code and runs only with it.
    args, kwargs : sequence, mapping
        Arguments of the template (NetPyNE's ``cellArgs``: a dict is passed as keywords).
    mod_files : dict of str to str, optional
        NMODL sources (file name -> text) of the mechanisms; when None they are searched for
        (``mod_dirs``, ``mod/`` beside the file, compiled in the working directory, the
        template's folder).
    mod_dirs : sequence of path-like
        Folders of ``.mod`` files to use.
    name : str, optional
        Name of the cell type (default: the template name).
    mode : {"auto", "snapshot", "template"}
        The run mode; ``"auto"`` compares both on a current-clamp protocol.
    names : {"neuron", "netpyne"}
        Section names as NEURON gives them (``dend[2]``) or NetPyNE's (``dend_2``).
    instance : bool
        ``template`` names an existing cell object of the module (NetPyNE's
        ``importCellsFromNet``); snapshot mode only.
    protocol : mapping, optional
        ``tstop``, ``dt``, ``steps`` ([delay, duration, amplitude nA] each) of the comparison
        (:data:`PROTOCOL` by default).
    tolerance : float
        Largest max |dV| (mV) for which ``"auto"`` keeps the snapshot.
    timeout : float
        Seconds after which each child process is stopped.

    Returns
    -------
    HocImport

    Raises
    ------
    UntrustedCodeError
        Without ``trusted``; nothing was run.
    ConversionError
        The file cannot be read, loaded or instantiated (naming the file and, for HOC errors,
        the line), or a child timed out.
    """
    path = Path(path)
    if mode not in MODES:
        raise ConversionError(f"{path}: run mode {mode!r} is not one of {', '.join(MODES)}")
    if not trusted:
        raise UntrustedCodeError(
            f"{path}: a cell template is a program and runs unchecked inside NEURON; nethub "
            "reads it only with --trust (nethub convert) or trusted=True (Python); nothing "
            "was run.")
    try:
        data = path.read_bytes()
        data.decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: cannot read the cell template ({exc})") from exc
    kind = "python" if path.suffix.lower() == ".py" else "hoc"
    mods = dict(mod_files) if mod_files is not None else template_mechanisms(path, mod_dirs)
    library = str(compiled_library(mods, trusted=True)) if mods else ""
    pos_args, kw = _split_args(args, kwargs)
    compare = mode == "auto" and not instance
    proto = dict(protocol or PROTOCOL)
    req = {"op": "read", "path": str(path.resolve()), "template": template, "kind": kind,
           "args": pos_args, "kwargs": kw, "library": library, "names": names,
           "instance": bool(instance), "protocol": proto if compare else None,
           "module": f"nethub_template_{sha256_hex(data)[:12]}"}
    out = _run_child(req, path, timeout)
    cell = _cell_type(out, name or template, sorted(mods))
    changed = out["globals_changed"]
    if changed:
        cell.globals.update(changed)
        logger.info("%s: template %s sets NEURON globals %s", path, template, changed)
    max_dv = None
    if compare:
        snap = _run_child({"op": "snapshot-trace", "cell_type": cell.to_dict(),
                           "library": library, "globals": changed, "protocol": proto,
                           "probe": out["probe"]["section"]}, path, timeout)
        max_dv = _max_dv(out["probe"]["v"], snap["v"])
    run_mode = "template" if mode == "template" or (
        compare and (max_dv is None or max_dv > tolerance)) else "snapshot"
    ef = EmbeddedFile(f"templates/{path.name}", "template", str(path), data)
    files = {ef.name: ef}
    companions = {}
    for rel, file in companion_files(path).items():  # what the template loads itself
        name = f"templates/{path.stem}/{rel}"
        files[name] = EmbeddedFile(name, _ARG_ROLES.get(file.suffix.lower(), "source"),
                                   str(file), file.read_bytes())
        companions[rel] = name
    arg_files = _arg_files(path, pos_args, kw, files)
    cell.run_mode = run_mode
    cell.template = {"file": ef.name, "kind": kind, "name": template, "args": pos_args,
                     "kwargs": kw, "sections": out["raw_names"], "max_dv": max_dv,
                     "instance": bool(instance)}
    if arg_files:
        cell.template["arg_files"] = arg_files
    if companions:
        cell.template["companions"] = companions
    cell.provenance = {"format": kind, "file": path.name, "template": template,
                       "args": pos_args, **({"kwargs": kw} if kw else {})}
    remember_template(ef.sha256)  # the user trusted it: a run in this process needs no flag
    logger.info("%s: %s imported (%d sections), run mode %s (max |dV| %s mV)", path,
                template, len(cell.sections), run_mode, max_dv)
    return HocImport(cell, files, mods, changed, max_dv)


def _arg_files(path: Path, args: list, kwargs: dict, files: dict) -> dict[str, str]:
    """Embed the files the template's arguments name (an SWC, a parameter JSON, a HOC file
    to load), so that template mode can run them from the store: ``{argument index or
    keyword: embedded name}``."""
    out = {}
    for key, value in [*((str(i), v) for i, v in enumerate(args)), *kwargs.items()]:
        if not isinstance(value, str) or not value or len(value) > 4096:
            continue
        file = Path(value) if Path(value).is_absolute() else path.parent / value
        try:
            if not file.is_file() or file.stat().st_size > _ARG_FILE_LIMIT:
                continue
            data = file.read_bytes()
        except OSError:
            continue
        name = f"templates/{path.stem}/{file.name}"
        while name in files and files[name].data != data:
            name = f"templates/{path.stem}/{len(files)}_{file.name}"
        role = _ARG_ROLES.get(file.suffix.lower(), "source")
        files[name] = EmbeddedFile(name, role, str(file), data)
        out[key] = name
    return out


def _split_args(args: Sequence | Mapping, kwargs: Mapping | None) -> tuple[list, dict]:
    if isinstance(args, Mapping):  # NetPyNE: a dict of cellArgs is passed as keywords
        return [], {**dict(args), **dict(kwargs or {})}
    return list(args or ()), dict(kwargs or {})


def _max_dv(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if va.shape != vb.shape:
        return float("inf")
    diff = np.abs(va - vb)
    return float("inf") if np.isnan(diff).any() else float(diff.max(initial=0.0))


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_MPI_PREFIXES)}
    env["PYTHONSAFEPATH"] = "1"  # Python >= 3.11: the template's folder shadows no module
    return env


def _run_child(req: dict, path: Path, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="nethub-hoc-") as tmp:
        req_path, out_path = Path(tmp) / "req.json", Path(tmp) / "out.json"
        req_path.write_text(json.dumps(req))
        try:
            cmd = [sys.executable, "-m", CHILD, str(req_path), str(out_path)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  cwd=path.parent, env=_child_env(), stdin=subprocess.DEVNULL,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise ConversionError(f"{path}: instantiating the template took longer than "
                                  f"{timeout:g} s; stopped") from exc
        if proc.returncode != 0 or not out_path.exists():
            raise ConversionError(_child_error(path, proc.stdout + proc.stderr))
        return json.loads(out_path.read_text())


def _child_error(path: Path, output: str) -> str:
    line = re.search(r"near line (\d+)", output)
    where = f"{path}:{line.group(1)}" if line and int(line.group(1)) > 0 else str(path)
    lines = [s for s in output.strip().splitlines() if s.strip()]
    ours = [s[len("templateread error:"):] for s in lines if s.startswith("templateread error:")]
    detail = next((s for s in lines if "error" in s.lower()), lines[-1] if lines else "")
    if ours and not line:
        detail = ours[-1]
    return f"{where}: NEURON could not load or instantiate the template: {detail.strip()}"


def _cell_type(out: dict, name: str, mod_names: list[str]) -> CompartmentalCell:
    sections = {k: Section.from_dict(v) for k, v in out["sections"].items()}
    for sec_name, sec in sections.items():
        uneven = [k for k, v in sec.geom.items() if isinstance(v, list)]
        if uneven:  # the canonical Section has scalar geometry only; refuse rather than lose
            raise ConversionError(f"template {name}, section {sec_name}: per-segment "
                                  f"{', '.join(uneven)} cannot be represented yet")
    if not sections:
        raise ConversionError(f"template {name}: instantiating it created no section")
    spike = out.get("spike_source")
    spike_source = None
    if spike is not None:
        spike_source = (spike["sec"], spike["loc"])
        sections[spike["sec"]].threshold = spike["threshold"]
    return CompartmentalCell(name, sections=sections, spike_source=spike_source,
                             section_lists=out.get("section_lists", {}), mod_files=mod_names)
