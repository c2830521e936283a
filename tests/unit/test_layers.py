"""The layer rules of DESIGN.md ("Layers"), checked on the import graph of the source.

Every module under ``hub/`` (``nethub``), ``formats/`` (``nethub.formats``) and ``converters/``
(``nethub.converters``) is parsed with :mod:`ast`; every import of a nethub module counts, at
module top, inside functions, under ``if TYPE_CHECKING:`` alike. Each module belongs to exactly
one layer (:data:`LAYERS`), and a layer imports only the layers :data:`MAY_IMPORT` allows:

* model -- the canonical network, tables, cell types, store, results, validation, run
  configuration, errors, and the NEURON-free services every layer shares (NetPyNE's Random123
  streams, nethub's keyed streams, NMODL analysis, mechanism sources, resource limits, the
  restricted unpickler, name matching): imports nothing but the model;
* builder -- the NetPyNE-style spec (``nethub.specs``) and the
  spec builder (``nethub.builder``): imports the model only;
* simulator -- ``nethub.sim``: imports the model only (a store and a run configuration);
* converters -- native objects <-> canonical network: the model only;
* formats -- bytes <-> native objects: converters and the model;
* faces -- the package root, API, command lines (including ``nethub build``/``run`` beside the
  builder and simulator), plotting, examples, the conformance kit: anything;
* analysis -- a face that reads results and the model: anything but the builder and simulator.

Violations that exist today in files other engineers are changing are listed, with their owner,
in :data:`PENDING`; the test fails on any new violation and on any PENDING entry that is gone
(so the list is emptied as the work lands).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = {"hub": "nethub", "formats": "nethub.formats", "converters": "nethub.converters"}

#: Layer of every module. ``"x"`` names one module; ``"x.*"`` names package ``x`` and everything
#: under it. The most specific entry wins (``nethub.builder.cli`` over ``nethub.builder.*``); two
#: entries of the same specificity in different layers are an error.
LAYERS: dict[str, tuple[str, ...]] = {
    "model": (
        "nethub.errors", "nethub.names", "nethub.version", "nethub.table", "nethub.h5table",
        "nethub.network", "nethub.celltypes", "nethub.columns", "nethub.store",
        "nethub.embedded", "nethub.schemachecks", "nethub.storeschema", "nethub.specrules",
        "nethub.storelock", "nethub.storemaint", "nethub.results", "nethub.validate",
        "nethub.runcheck", "nethub.selection", "nethub.runconfig", "nethub.ranges",
        "nethub.limits", "nethub.safepickle", "nethub.mechsource", "nethub.templatetrust",
        "nethub.cellimport", "nethub.runmodes",
        "nethub.random123.*",
        "nethub.runimport",
        "nethub.rng.*", "nethub.nmodl.*",
        "nethub.swaptables",
        # the safe expression language (ast-checked, vectorized): shared by the builder, the
        # simulator (run-time expressions) and converters
        "nethub.expr.*",
        # integrity hashes recorded with every run, and manifests (issue 17)
        "nethub.verifyhash", "nethub.verifyenv", "nethub.verifycheck", "nethub.manifest",
    ),
    "builder": ("nethub.builder.*", "nethub.specs.*"),
    "simulator": ("nethub.sim.*",),
    "converters": ("nethub.converters.*",),
    "formats": ("nethub.formats.*",),
    "faces": (
        "nethub", "nethub.__main__", "nethub.api", "nethub.cli", "nethub.plot",
        "nethub.examples.*", "nethub.testing.*",
        # the `nethub build` / `nethub run SPEC` faces, kept beside the layer they drive
        "nethub.builder.cli", "nethub.builder.fromfile", "nethub.runner", "nethub.runcli",
        "nethub.runoverlay", "nethub.sonatacli",
        "nethub.cellswap", "nethub.exporting",
        "nethub.verifyrun", "nethub.verifycompare", "nethub.verifyreport", "nethub.verifycli",
    ),
    "analysis": ("nethub.analysis.*",),
}

ALL = frozenset(LAYERS)
MAY_IMPORT: dict[str, frozenset[str]] = {
    "model": frozenset({"model"}),
    "builder": frozenset({"model", "builder"}),
    "simulator": frozenset({"model", "simulator"}),
    "converters": frozenset({"model", "converters"}),
    "formats": frozenset({"model", "converters", "formats"}),
    "faces": ALL,
    "analysis": ALL - {"builder", "simulator"},
}

#: Known violations, (importer, imported) -> owner: empty since issue 11 landed. Keep it empty:
#: fix an import against the rules instead of listing it here.
PENDING: dict[tuple[str, str], str] = {}


# ------------------------------------------------------------------------------- the scanner
def module_files() -> dict[str, Path]:
    """``{module name: file}`` of every module of the three source folders."""
    out = {}
    for folder, root in ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([root, *parts])] = path
    return out


def nethub_imports(tree: ast.AST, module: str, is_package: bool,
                   known: set[str]) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every nethub import anywhere in ``tree``.

    Relative imports are resolved against ``module``; ``from pkg import name`` counts as an
    import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.split(".")[0] == "nethub"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "nethub":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.append((node.lineno, sub if sub in known else source))
    return found


def layer_of(module: str) -> str:
    """The layer of ``module`` by the most specific entry of :data:`LAYERS`."""
    best: list[tuple[int, str]] = []
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if pattern.endswith(".*"):
                stem = pattern[:-2]
                if module == stem or module.startswith(stem + "."):
                    best.append((len(stem), layer))
            elif module == pattern:
                best.append((len(pattern) + 1, layer))  # an exact name beats its package
    if not best:
        raise LookupError(f"{module} is in no layer: add it to LAYERS in {Path(__file__).name}")
    top = max(score for score, _ in best)
    layers = {layer for score, layer in best if score == top}
    if len(layers) > 1:
        raise LookupError(f"{module} is in several layers: {sorted(layers)}")
    return layers.pop()


@functools.cache
def import_graph() -> dict[tuple[str, str], list[str]]:
    """``{(importer, imported): ["file:line", ...]}`` over all source modules (read once)."""
    files = module_files()
    known = set(files)
    graph: dict[tuple[str, str], list[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in nethub_imports(tree, module, path.name == "__init__.py", known):
            if target != module:
                where = f"{path.relative_to(REPO)}:{line}"
                graph.setdefault((module, target), []).append(where)
    return graph


def violations(graph: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], list[str]]:
    """The edges of ``graph`` that :data:`MAY_IMPORT` forbids."""
    return {edge: where for edge, where in graph.items()
            if layer_of(edge[1]) not in MAY_IMPORT[layer_of(edge[0])]}


def describe(bad: dict[tuple[str, str], list[str]]) -> str:
    lines = []
    for (src, dst), where in sorted(bad.items()):
        ls, ld = layer_of(src), layer_of(dst)
        allowed = ", ".join(sorted(MAY_IMPORT[ls]))
        lines += [f"  {w}: {src} ({ls}) imports {dst} ({ld}); {ls} may import: {allowed}"
                  for w in where]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- the tests
def test_every_module_is_in_exactly_one_layer():
    problems = []
    for module in module_files():
        try:
            layer_of(module)
        except LookupError as err:
            problems.append(str(err))
    assert not problems, "\n".join(problems)


def test_rules_cover_every_layer():
    assert set(MAY_IMPORT) == set(LAYERS)
    assert all(layer in MAY_IMPORT[layer] for layer in LAYERS)  # a layer may import itself
    for (src, dst), owner in PENDING.items():
        assert owner, (src, dst)
        assert layer_of(dst) not in MAY_IMPORT[layer_of(src)], f"{src} -> {dst} is allowed"


def test_layers_hold():
    bad = {edge: w for edge, w in violations(import_graph()).items() if edge not in PENDING}
    assert not bad, ("imports against the layer rules (DESIGN.md 'Layers'; "
                     f"tests/unit/{Path(__file__).name}):\n{describe(bad)}")


def test_pending_violations_still_exist():
    """A PENDING entry that no longer occurs is removed from the list, so it cannot come back."""
    gone = sorted(set(PENDING) - set(violations(import_graph())))
    assert not gone, "fixed, remove from PENDING: " + ", ".join(f"{s} -> {d}" for s, d in gone)


def test_the_model_never_imports_the_spec_layer():
    """Named on its own because it is the rule this file exists for (issue 11)."""
    graph = import_graph()
    bad = {e: w for e, w in graph.items()
           if layer_of(e[0]) == "model" and layer_of(e[1]) == "builder"}
    assert not bad, describe(bad)


# ------------------------------------------------------------------------------- the scanner
SAMPLE = '''
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import nethub.table
from .. import rng, __version__
from ..errors import SpecError
from ..sim import engine
if TYPE_CHECKING:
    from nethub.builder import build
def f():
    from ..specs.schema import NETPARAMS_KEYS
    from . import conns
'''


def test_scanner_finds_every_kind_of_import():
    known = {"nethub", "nethub.table", "nethub.rng", "nethub.errors", "nethub.sim",
             "nethub.sim.engine", "nethub.builder", "nethub.specs.schema",
             "nethub.builder.conns"}
    found = nethub_imports(ast.parse(SAMPLE), "nethub.builder.cells", False, known)
    assert sorted(found) == [
        (5, "nethub.table"), (6, "nethub"), (6, "nethub.rng"), (7, "nethub.errors"),
        (8, "nethub.sim.engine"), (10, "nethub.builder"), (12, "nethub.specs.schema"),
        (13, "nethub.builder.conns"),
    ]


def test_scanner_resolves_relative_imports_of_a_package():
    found = nethub_imports(ast.parse("from . import keys\nfrom .. import errors\n"),
                           "nethub.rng", True, {"nethub.rng.keys", "nethub.errors"})
    assert found == [(1, "nethub.rng.keys"), (2, "nethub.errors")]


@pytest.mark.parametrize("module, layer", [
    ("nethub.random123.stream", "model"), ("nethub.runcli", "faces"),
    ("nethub.sim.engine", "simulator"), ("nethub.builder.fromfile", "faces"),
    ("nethub.builder", "builder"), ("nethub", "faces"), ("nethub.analysis.spikes", "analysis"),
])
def test_layer_of(module, layer):
    assert layer_of(module) == layer


def test_failure_message_names_file_line_and_rule():
    msg = describe({("nethub.sim.engine", "nethub.specs"): ["hub/sim/engine.py:348"]})
    assert msg == ("  hub/sim/engine.py:348: nethub.sim.engine (simulator) imports nethub.specs "
                   "(builder); simulator may import: model, simulator")
