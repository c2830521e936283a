"""``nethub convert cell.hoc|cell.py OUT.h5 --template NAME [--args ...]``: one imported cell
template as a store (a network with the cell type, its template source and mechanisms, and no
cells yet), and the argument parsing of that command line."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..network import Network
from ..store import write_network
from .hoc import HocImport, read_cell_template

__all__ = ["template_network", "convert_template", "parse_args"]


def template_network(imp: HocImport, name: str | None = None) -> Network:
    """A network holding the imported cell type (as ``name``), its files and mechanisms."""
    ct = imp.cell_type
    if name:
        ct.name = name
    return Network(cell_types={ct.name: ct}, files=dict(imp.files),
                   mod_files=dict(imp.mod_files),
                   provenance={"creator": "nethub convert", "source": ct.provenance})


def parse_args(values: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """``--args`` values: ``KEY=VALUE`` are keywords, others positional; each value is read as
    JSON when it can be (``18.5``, ``[1, 2]``, ``true``), else kept as text."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for v in values:
        key, sep, rest = v.partition("=")
        if sep and key.isidentifier():
            kwargs[key] = _value(rest)
        else:
            args.append(_value(v))
    return args, kwargs


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def convert_template(path: str | os.PathLike, output: str | os.PathLike, template: str, *,
                     trusted: bool = False, args: Sequence[str] = (), mode: str = "auto",
                     mod_dirs: Sequence[str | os.PathLike] = ()) -> HocImport:
    """Import ``template`` of ``path`` and write it as a store at ``output`` (atomically).

    Returns
    -------
    HocImport
        What was imported (run mode, max |dV|, globals changed).
    """
    pos, kw = parse_args(args)
    imp = read_cell_template(Path(path), template, trusted=trusted, args=pos, kwargs=kw,
                             mode=mode, mod_dirs=mod_dirs)
    write_network(template_network(imp), output)
    return imp
