"""Names and loading shared by the template reader (child process) and the template run
mode: sections' names inside their cell, NetPyNE's names, importing a Python cell module,
reading ``net.cells[0]``-style names without evaluating them. No NEURON import here
(``nethub.sim`` is imported before NEURON starts)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

HOC_ATTRS = {"baseattr", "hname", "hocobjptr", "same"}
_PATH_TOKEN = re.compile(r"\.?([A-Za-z_]\w*)|\[(-?\d+)\]|\[(['\"])([^'\"]*)\3\]")


def local_name(sec, prefix: str | None) -> str:
    """A section's name inside its cell: without ``Template[i].`` (HOC) or the Python cell's
    ``repr`` (``<...>.soma`` or ``Cell[0].soma``)."""
    name = sec.name()
    if prefix is not None:
        return name[len(prefix):] if name.startswith(prefix) else name
    if ">." in name:
        return name.split(">.", 1)[1]
    return name.split(".", 1)[1] if "." in name else name


def netpyne_name(name: str) -> str:
    """NetPyNE's ``getSecName``: ``dend[2]`` -> ``dend_2``."""
    m = re.fullmatch(r"(.*)\[(\d+)\]", name)
    return f"{m.group(1)}_{m.group(2)}" if m else name


def is_seclist(obj) -> bool:
    try:
        return obj.hname().startswith("SectionList[")
    except (AttributeError, RuntimeError, TypeError):
        return False


def is_section(obj) -> bool:
    return type(obj).__name__ == "Section" and hasattr(obj, "hoc_internal_name")


def resolve_path(root, path: str):
    """``root`` then the attributes / indices of ``path`` (``net.cells[0]``, ``cells['E']``);
    never evaluated as code."""
    obj, pos = root, 0
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise RuntimeError(f"cannot read the name {path!r} (attributes and [index] only)")
        if m.group(1):
            obj = getattr(obj, m.group(1))
        elif m.group(2) is not None:
            obj = obj[int(m.group(2))]
        else:
            obj = obj[m.group(4)]
        pos = m.end()
    return obj


def load_python(path: str, module_name: str):
    """Import a Python file as a module (its folder first on ``sys.path``, as NetPyNE does)."""
    folder = str(Path(path).parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"{path}: not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def instantiate(req: dict, factory):
    """A cell: ``factory(*args, **kwargs)``, or the object itself for ``instance``."""
    if req.get("instance"):
        return factory
    return factory(*req.get("args", []), **req.get("kwargs", {}))


def reachable_sections(cell) -> list:
    """Sections among the attributes of ``cell`` (sections, lists, SectionLists, dicts)."""
    found = []
    for attr in dir(cell):
        if attr.startswith("__") or attr in HOC_ATTRS:
            continue
        try:
            obj = getattr(cell, attr)
        except (LookupError, RuntimeError, TypeError, AttributeError, ValueError):
            continue
        values = obj.values() if isinstance(obj, dict) else (
            obj if isinstance(obj, (list, tuple)) or is_seclist(obj) else [obj])
        try:
            found += [s for s in values if is_section(s)]
        except TypeError:
            continue
    return found
