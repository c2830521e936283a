"""The canonical model, store, formats and converters import neither NEURON, MPI nor matplotlib.

Only ``nethub.sim*`` (and plotting modules) may; everything else must work on a machine without
them, and must not pay their import cost.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nethub
import nethub.converters
import nethub.formats

FORBIDDEN = ("neuron", "mpi4py", "matplotlib")
REPO = Path(__file__).resolve().parents[2]
CORE_FILES = ["errors", "table", "celltypes", "network", "results", "h5table", "store",
              "validate"]


def _allowed_to_use_neuron(name: str) -> bool:
    """nethub.sim*, plotting modules, and nethub.examples (example model files in NetPyNE's
    own format, which import netpyne and so NEURON; they are data, not library code)."""
    parts = name.split(".")
    return (len(parts) > 1 and (parts[1].startswith("sim") or parts[1] == "examples")) or any(
        "plot" in p for p in parts)


def model_modules() -> list[str]:
    """Every importable nethub module except those above and ``__main__``."""
    names = ["nethub", "nethub.formats", "nethub.converters"]
    for pkg in (nethub, nethub.formats, nethub.converters):
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".",
                                                        onerror=lambda _: None)]
    return sorted({n for n in names if not _allowed_to_use_neuron(n)
                   and not n.endswith("__main__")})


def test_module_list_covers_the_core():
    mods = model_modules()
    for core in CORE_FILES:
        assert f"nethub.{core}" in mods
    assert "nethub.formats" in mods and "nethub.converters" in mods


def test_importing_model_modules_loads_no_simulator():
    """Import every model module in a fresh interpreter; name the module that pulls one in."""
    mods = model_modules()
    code = (
        "import importlib, json, sys\n"
        f"forbidden = {FORBIDDEN!r}\n"
        "def loaded():\n"
        "    return {k for k in sys.modules if k.split('.')[0] in forbidden}\n"
        "culprits = {}\n"
        f"for m in {mods!r}:\n"
        "    before = loaded()\n"
        "    importlib.import_module(m)\n"
        "    new = sorted(k for k in loaded() - before if '.' not in k)\n"
        "    if new:\n"
        "        culprits[m] = new\n"
        "print(json.dumps(culprits))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    culprits = json.loads(out.stdout.strip().splitlines()[-1])
    assert culprits == {}, f"these imports load a simulator/plotting package: {culprits}"


def _top_level_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Imports that run at import time: anywhere except inside function bodies."""
    found = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.lineno, child.module))
            visit(child)

    visit(tree)
    return found


def _source_files() -> list[Path]:
    files = []
    for folder in ("hub", "formats", "converters"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder)
            if rel.parts[0].startswith("sim") or rel.parts[0] == "examples" or any(
                    "plot" in p for p in rel.parts):
                continue
            files.append(path)
    return files


@pytest.mark.parametrize("path", _source_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_top_level_simulator_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [(line, mod) for line, mod in _top_level_imports(tree)
           if mod.split(".")[0] in FORBIDDEN]
    assert bad == [], f"{path.relative_to(REPO)} imports {bad} at module level"


def test_scanner_sees_module_level_imports_only():
    src = (
        "import os\n"
        "try:\n    from matplotlib import pyplot\nexcept ImportError:\n    pass\n"
        "if True:\n    import neuron.hoc\n"
        "def f():\n    import mpi4py\n"
        "class C:\n    def m(self):\n        import neuron\n"
    )
    assert _top_level_imports(ast.parse(src)) == [(1, "os"), (3, "matplotlib"),
                                                  (7, "neuron.hoc")]


def test_import_nethub_loads_only_its_face():
    """``import nethub`` stays fast: no simulator, plotting, builder, spec or numeric stack."""
    code = (
        "import sys, json\n"
        "import nethub\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = FORBIDDEN + ("numpy", "scipy", "pandas", "h5py", "netpyne")
    assert not {m for m in loaded if m.split(".")[0] in heavy}
    ours = {m for m in loaded if m.split(".")[0] == "nethub"}
    assert ours <= {"nethub", "nethub.api", "nethub.errors", "nethub.version",
                    "nethub.specrules", "nethub.cellimport"}, sorted(ours)


def test_split_packages_are_model_modules():
    """The packages split out of single modules (random123, rng) stay NEURON-free."""
    mods = model_modules()
    for name in ("nethub.random123.stream", "nethub.random123.netpyne", "nethub.rng.keys",
                 "nethub.expr.compiler", "nethub.names", "nethub.version"):
        assert name in mods
