"""The simulator reads only the canonical model and a RunConfig: no module of hub/sim imports
the spec builder, the spec layer, formats, converters or the faces (issue 11, item 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import nethub

SIM = Path(nethub.__file__).parent / "sim"
FORBIDDEN = ("builder", "specs", "formats", "converters", "runner", "runcli", "cli", "api",
             "analysis", "plot")


def _imports(path: Path) -> set[str]:
    """nethub modules a hub/sim module imports (relative imports resolved), anywhere in it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 2:
            out.add((node.module or "").split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(("nethub.", "converters", "formats")):
                out.add(node.module.split(".")[1] if node.module.startswith("nethub.")
                        else node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("nethub."))
    return out


def test_sim_imports_no_builder_specs_formats_or_faces():
    bad = {p.name: sorted(_imports(p) & set(FORBIDDEN)) for p in sorted(SIM.glob("*.py"))}
    assert not {k: v for k, v in bad.items() if v}
