"""The files a cell template loads itself, found in its text: HOC ``load_file("x.hoc")`` /
``xopen("x.hoc")`` (also ``h.load_file(...)`` in Python) and Python imports of modules beside
it. Those inside the template's folder are embedded with it, so that template mode can run the
template from the store on another machine (:mod:`nethub.sim.templatecells` writes them back
in the same layout)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["companion_files"]

_HOC_LOAD = re.compile(r"""\b(?:load_file|xopen)\s*\(\s*(?:\d+\s*,\s*)?["']([^"'\n]+)["']""")
_PY_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
#: at most this many companion files, each at most this many bytes
_MAX_FILES, _MAX_BYTES = 200, 16 * 1024 * 1024


def companion_files(path: str | Path) -> dict[str, Path]:
    """``{path relative to the template's folder: file}`` of the files ``path`` loads
    (recursively), limited to its folder tree; the template itself is not included."""
    path = Path(path).resolve()
    root = path.parent
    found: dict[str, Path] = {}
    todo = [path]
    while todo and len(found) < _MAX_FILES:
        current = todo.pop()
        try:
            text = current.read_text(errors="replace")
        except OSError:
            continue
        for file in _named(current, text):
            try:
                rel = file.resolve().relative_to(root).as_posix()
            except ValueError:
                continue  # outside the template's folder (NEURON's library, absolute paths)
            if file.resolve() == path or rel in found or not file.is_file() or \
                    file.stat().st_size > _MAX_BYTES:
                continue
            found[rel] = file.resolve()
            todo.append(file)
    return found


def _named(current: Path, text: str) -> list[Path]:
    folder = current.parent
    out = [folder / m for m in _HOC_LOAD.findall(text) if not Path(m).is_absolute()]
    if current.suffix.lower() == ".py":
        out += [folder / f"{m}.py" for m in _PY_IMPORT.findall(text)]
    return out
