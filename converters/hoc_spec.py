"""NetPyNE's ``importCellParams`` / ``importCellParamsFromNet`` requests (recorded by
:class:`nethub.specs.NetParams`) performed with :func:`nethub.converters.hoc.read_cell_template`
-- in a separate process, without NetPyNE's side effects (no ``h.initnrn()``, no deleted
sections, no changed globals or working directory in the caller).

A spec file the user runs is their own program: the templates it imports are trusted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConversionError, SpecError
from .hoc import HocImport, read_cell_template

__all__ = ["import_request"]

logger = logging.getLogger(__name__)

_DONE: dict[str, HocImport] = {}  # identical requests in one process: read once


def import_request(request: Mapping[str, Any], mod_files: Mapping[str, str]) -> HocImport:
    """Perform one recorded import request.

    Parameters
    ----------
    request : mapping
        ``rule['_import']``: ``function``, ``fileName``, ``cellName``, ``cellArgs``,
        ``baseDir``, ... (see :meth:`nethub.specs.NetParams.importCellParams`).
    mod_files : mapping of str to str
        The spec's mechanisms (found beside it); when empty they are searched for beside the
        template and in the working directory.

    Returns
    -------
    HocImport
        With NetPyNE's section names (``dend_2``).

    Raises
    ------
    SpecError
        The file is missing or of a kind NetPyNE cannot import, or the import failed.
    """
    key = json.dumps([dict(request), sorted(mod_files)], sort_keys=True, default=str)
    if key in _DONE:
        return _DONE[key]
    path = Path(request["fileName"])
    if not path.is_absolute():
        path = Path(request.get("baseDir") or ".") / path
    what = f"{request['function']}({request['fileName']!r}, {request.get('cellName')!r})"
    suffix = path.suffix.lower()
    if suffix in (".swc", ".asc"):
        return _morphology(request, path, what, key)
    if suffix not in (".hoc", ".tem", ".py"):
        raise SpecError(f"{what}: the file must be .hoc, .tem, .py, .swc or .asc")
    instance = request["function"] == "importCellParamsFromNet"
    if instance and suffix != ".py":
        raise SpecError(f"{what}: importing cells from a HOC network is not supported (as "
                        "in NetPyNE); use a .py network file")
    if not path.is_file():
        raise SpecError(f"{what}: no such file {path}")
    try:
        imp = read_cell_template(
            path, str(request.get("cellName")), trusted=True,
            args=request.get("cellArgs") or [], mod_files=dict(mod_files) or None,
            names="netpyne", instance=instance or bool(request.get("cellInstance")))
    except ConversionError as exc:
        raise SpecError(f"{what}: {exc}") from exc
    _DONE[key] = imp
    return imp


def _morphology(request: Mapping[str, Any], path: Path, what: str, key: str) -> HocImport:
    """``importCellParams(label, 'cell.swc')``: the cell NetPyNE's morphology loader builds."""
    # imported here: the morphology reader pulls pandas (+0.2 s measured with -X importtime),
    # which template-only specs do not need
    from .morph_convert import netpyne_import

    if request["function"] == "importCellParamsFromNet":
        raise SpecError(f"{what}: a morphology file is not a network; use importCellParams")
    if not path.is_file():
        raise SpecError(f"{what}: no such file {path}")
    try:
        imp = netpyne_import(path, str(request.get("cellName") or path.stem))
    except ConversionError as exc:
        raise SpecError(f"{what}: {exc}") from exc
    _DONE[key] = imp
    return imp
