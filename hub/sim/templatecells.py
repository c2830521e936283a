"""Template run mode: cells whose type has ``run_mode == "template"`` are built by
instantiating the imported HOC template or Python cell class itself (its ``init()``,
FInitializeHandlers, ``Vector.play``, per-instance random draws), not from the snapshot.

The template's source comes from the store (``Network.files``, the cell type's
``template['file']``), is written once per process into the nethub cache
(``<cache>/templates/<sha256>/<file>``) and loaded from there. Its sections are found by the
names recorded at import (``template['sections']``: cell-type name -> name in the template), so
synapses, stimuli and recordings address them as in snapshot mode. A template is code: it runs
only with trust (:func:`check_trust`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..celltypes import CompartmentalCell
from ..embedded import check_file_name, sha256_hex
from ..errors import SimulationError, UntrustedCodeError
from ..network import Network
from ..templatetrust import is_trusted_template
from . import rotation
from .templatenames import (
    instantiate,
    load_python,
    local_name,
    reachable_sections,
    resolve_path,
)

__all__ = ["check_trust", "build_cell", "template_types", "core_reasons"]

logger = logging.getLogger(__name__)

_FACTORIES: dict[tuple[str, str, int], tuple[Any, dict]] = {}  # loaded once per process


def template_types(net: Network) -> list[CompartmentalCell]:
    """The cell types of ``net`` that run their template."""
    return [ct for ct in net.cell_types.values()
            if isinstance(ct, CompartmentalCell) and ct.run_mode == "template"]


def core_reasons(net: Network) -> list[str]:
    """Why CoreNEURON may not run the model as NEURON would: a template instantiated at run
    time can schedule Python or HOC callbacks (``cvode.event``, FInitializeHandlers of later
    types) that CoreNEURON does not run."""
    names = [ct.name for ct in template_types(net)]
    if not names:
        return []
    return [f"cell type(s) {', '.join(names)} run their template (run_mode 'template'), whose "
            "run-time code CoreNEURON may not run"]


def check_trust(net: Network, trusted: bool) -> None:
    """Refuse to run templates the user has not trusted (before any NEURON object exists).

    Raises
    ------
    UntrustedCodeError
        Naming the cell types, their template files and ``--trust``.
    SimulationError
        A template-mode cell type whose template file the store does not carry.
    """
    refused = []
    for ct in template_types(net):
        ef = net.files.get(ct.template.get("file", ""))
        if ef is None:
            raise SimulationError(f"cell type '{ct.name}' runs its template "
                                  f"{ct.template.get('file')!r}, which the store does not carry")
        if not (trusted or is_trusted_template(ef.sha256)):
            refused.append(f"cell type '{ct.name}' ({ef.name}, template "
                           f"{ct.template.get('name')})")
    if refused:
        raise UntrustedCodeError(
            "the store runs cell templates, which are programs: " + "; ".join(refused) +
            "; run it with --trust (nethub run) or trusted=True, or import the templates "
            "again with trust")


def build_cell(eng, cell, ct: CompartmentalCell, pos, angle=None):
    """Instantiate the template of ``ct`` for ``cell`` (an engine ``_Cell``): sections by
    their cell-type names, point processes by label, pt3d moved to the cell position, spike
    source registered as in snapshot mode."""
    h = eng.h
    factory, req = _factory(eng, ct)
    obj = instantiate(req, factory)
    eng.keep.append(obj)
    cell.secs = _sections(h, obj, ct)
    rel = eng.config.pt3d_relative_to_cell
    off = (pos[0], -pos[1] if eng.config.invert_y else pos[1], pos[2]) if rel else (0, 0, 0)
    shift = ct.template.get("offset") or (0.0, 0.0, 0.0)  # somaAtOrigin of importCellParams
    rotate = angle is not None and any(angle)
    if any(off) or any(shift) or rotate:
        for sec in cell.secs.values():
            _move(h, sec, shift, angle if rotate else None, off)
    counts: dict[str, int] = {}
    for name in ct.sections:
        for seg in cell.secs[name]:
            for pp in seg.point_processes():
                mod = pp.hname().split("[")[0]
                label = f"{mod}_{counts.setdefault(mod, 0)}"
                counts[mod] += 1
                cell.pointps[label] = pp
    eng._spike_source(cell, ct)
    return cell


def _move(h, sec, shift, angle, off) -> None:
    """The section's 3-D points as a snapshot cell's: shifted as the imported rule was
    (``somaAtOrigin``), rotated (``rot_x/y/z``), then moved to the cell position ``off``."""
    n = int(sec.n3d())
    if not n:
        return
    pts = np.array([[sec.x3d(i), sec.y3d(i), sec.z3d(i), sec.diam3d(i)] for i in range(n)])
    pts[:, :3] += np.asarray(shift, dtype=np.float64)
    if angle is not None:
        pts = rotation.rotate_points(pts, angle)
    for i, (x, y, z, d) in enumerate(pts.tolist()):
        h.pt3dchange(i, x + off[0], y + off[1], z + off[2], d, sec=sec)


def _factory(eng, ct: CompartmentalCell) -> tuple[Any, dict]:
    """The template's class / HOC template (loaded once per process) and the instantiation
    request: its arguments, files among them replaced by their copies from the store."""
    tmpl = ct.template
    ef = eng.net.files[tmpl["file"]]
    key = (ef.sha256, ct.name, id(eng))  # per run: the files come from its store
    if key not in _FACTORIES:
        _FACTORIES[key] = (_load(eng, ct, ef), _request(eng, tmpl))
    return _FACTORIES[key]


def _request(eng, tmpl: dict) -> dict:
    req = {"args": list(tmpl.get("args") or []), "kwargs": dict(tmpl.get("kwargs") or {})}
    for key, name in (tmpl.get("arg_files") or {}).items():
        if name not in eng.net.files:
            continue  # the store does not carry it: the argument as recorded
        local = str(_cached_copy(eng.net.files[name]))
        if key.isdigit():
            req["args"][int(key)] = local
        else:
            req["kwargs"][key] = local
    return req


def _load(eng, ct: CompartmentalCell, ef):
    """Load the template from its copy (with the files it loads itself beside it, in their
    original layout; NEURON's working directory is that folder while it loads)."""
    tmpl = ct.template
    companions = {rel: eng.net.files[name] for rel, name in
                  (tmpl.get("companions") or {}).items() if name in eng.net.files}
    tag = sha256_hex("".join(sorted(f"{r}:{f.sha256}" for r, f in companions.items()))
                     .encode())[:12] if companions else ""
    path = _cached_copy(ef, tag=tag)
    for rel, cef in companions.items():
        try:
            check_file_name(rel)  # a relative path inside the template's folder
        except ValueError as exc:
            raise SimulationError(f"cell type '{ct.name}': {exc}") from exc
        _cached_copy(cef, path.parent / rel)
    h = eng.h
    if tmpl.get("kind") == "python":
        return resolve_path(load_python(str(path), f"nethub_template_{ef.sha256[:12]}{tag}"),
                            tmpl["name"])
    if not hasattr(h, tmpl["name"]):
        cwd = os.getcwd()
        os.chdir(path.parent)  # relative load_file() in the template, as at import
        try:
            ok = h.load_file(str(path))
        finally:
            os.chdir(cwd)
        if not ok:
            raise SimulationError(f"cell type '{ct.name}': NEURON could not load its "
                                  f"template {ef.name}")
    return getattr(h, tmpl["name"])


def _cached_copy(ef, path: Path | None = None, tag: str = "") -> Path:
    """The embedded file written once into the nethub cache (content-addressed folder)."""
    root = Path(os.environ.get("NETHUB_CACHE") or Path.home() / ".cache" / "nethub")
    if path is None:
        path = root / "templates" / (ef.sha256 + (f"-{tag}" if tag else "")) / \
            Path(ef.name).name
    if not path.is_file() or path.read_bytes() != ef.data:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_bytes(ef.data)
        os.replace(tmp, path)
    return path


def _sections(h, obj, ct: CompartmentalCell) -> dict[str, Any]:
    """``{cell-type name: section}`` of one instance."""
    raw = ct.template.get("sections") or {n: n for n in ct.sections}
    python = ct.template.get("kind") == "python"
    prefix = None if python else obj.hname() + "."
    found = {}
    for root in reachable_sections(obj)[:1]:
        for sec in root.wholetree():
            found[local_name(sec, prefix)] = sec
    missing = [r for r in raw.values() if r not in found]
    if missing and prefix is not None:  # sections not connected to a public one
        for sec in h.allsec():
            if sec.name().startswith(prefix):
                found.setdefault(local_name(sec, prefix), sec)
    out = {}
    for name, r in raw.items():
        if r not in found:
            raise SimulationError(f"cell type '{ct.name}': an instance of template "
                                  f"{ct.template.get('name')} has no section {r!r}")
        out[name] = found[r]
    return out
