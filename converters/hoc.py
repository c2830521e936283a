"""HOC cell templates (``begintemplate NAME ... endtemplate NAME``) -> canonical cell types.

The template runs in a separate NEURON process (``python -m nethub.sim.templateread``;
converters do not import the simulator), so the caller's NEURON state -- sections, globals,
working directory -- is untouched. A HOC file is a program: it is read only with the user's
explicit trust (``trusted=True`` / ``--trust``). Its ``.mod`` mechanisms are compiled with
:func:`nethub.nmodl.compiled_library` and loaded in the child. What comes back: sections with
their names (``dend[2]``), topology, geometry, pt3d, density mechanisms (per segment when not
uniform), ion reversal potentials, point processes, the template's public SectionLists, the
NEURON globals it changed and the spike detection site; the template
text and its mod files travel with the cell type.
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

from ..celltypes import CompartmentalCell, Section
from ..embedded import EmbeddedFile
from ..errors import ConversionError, UntrustedCodeError
from ..nmodl.compile import compiled_library

__all__ = ["HocImport", "read_hoc_template"]

logger = logging.getLogger(__name__)

CHILD = "nethub.sim.templateread"  # run as a module in the child, never imported here
_MPI_PREFIXES = ("OMPI_", "PMI", "PMIX_", "MPI_", "HYDRA_")


@dataclass
class HocImport:
    """What :func:`read_hoc_template` returns.

    Attributes
    ----------
    cell_type : CompartmentalCell
        The snapshot of the instantiated template.
    files : dict of str to EmbeddedFile
        The template source (role ``"template"``), keyed by name as ``Network.files``.
    mod_files : dict of str to str
        The NMODL sources the cell needs (for ``Network.mod_files``).
    globals_changed : dict
        NEURON globals (celsius, dt, tstop, v_init, secondorder) that loading and
        instantiating the template changed in the child, with their new values; also kept in
        ``cell_type.globals``.
    """

    cell_type: CompartmentalCell
    files: dict[str, EmbeddedFile] = field(default_factory=dict)
    mod_files: dict[str, str] = field(default_factory=dict)
    globals_changed: dict[str, float] = field(default_factory=dict)


def read_hoc_template(path: str | os.PathLike, template: str, *, trusted: bool = False,
                      mod_files: Mapping[str, str] | None = None, args: Sequence = (),
                      name: str | None = None, timeout: float = 60.0) -> HocImport:
    """Read a HOC cell template into a compartmental cell type, in a separate NEURON process.

    Parameters
    ----------
    path : path
        The ``.hoc`` file defining the template.
    template : str
        The template name (``begintemplate NAME``).
    trusted : bool
        The user's explicit trust: a HOC file is code and runs only with it.
    mod_files : dict of str to str, optional
        NMODL sources (file name -> text) of the mechanisms the template uses.
    args : sequence of numbers or str
        Arguments of the template's ``init``.
    name : str, optional
        Name of the cell type (default: the template name).
    timeout : float
        Seconds after which the child process is stopped.

    Returns
    -------
    HocImport

    Raises
    ------
    UntrustedCodeError
        Without ``trusted``; nothing was run.
    ConversionError
        The file cannot be read, loaded or instantiated (naming the file and, for HOC errors,
        the line), or the child timed out.
    """
    path = Path(path)
    if not trusted:
        raise UntrustedCodeError(
            f"{path}: a HOC template is a program and runs unchecked inside NEURON; nethub reads "
            "it only with --trust (nethub convert) or trusted=True (Python); nothing was run.")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: cannot read the HOC template ({exc})") from exc
    mods = dict(mod_files or {})
    library = str(compiled_library(mods, trusted=True)) if mods else ""
    req = {"path": str(path.resolve()), "template": template, "args": list(args),
           "library": library}
    out = _run_child(req, path, timeout)
    cell = _cell_type(out, name or template, sorted(mods))
    cell.provenance = {"format": "hoc", "file": path.name, "template": template,
                       "args": list(args)}
    ef = EmbeddedFile(f"templates/{path.name}", "template", str(path), text.encode())
    files = {ef.name: ef}
    changed = out["globals_changed"]
    if changed:
        cell.globals.update(changed)
        logger.info("%s: template %s sets NEURON globals %s", path, template, changed)
    return HocImport(cell, files, mods, changed)


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
