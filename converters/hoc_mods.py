"""Where a cell template's mechanisms come from, as NetPyNE users keep them: folders named
explicitly, a ``mod/`` (or ``mods/``) folder beside the template, the sources of mechanisms
compiled in the working directory (``nrnivmodl mod`` -> ``x86_64/``), or ``.mod`` files in the
template's own folder (the ModelDB layout)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..mechsource import find_mod_sources, read_mod_dir

__all__ = ["template_mechanisms"]

logger = logging.getLogger(__name__)


def template_mechanisms(path: str | os.PathLike, mod_dirs: Sequence[str | os.PathLike] = (),
                        cwd: str | os.PathLike | None = None) -> dict[str, str]:
    """The ``.mod`` sources (name -> text, with their INCLUDEs) for the template at ``path``.

    Parameters
    ----------
    path : path-like
        The template file (``.hoc``, ``.tem``, ``.py``) or the spec that imports it.
    mod_dirs : sequence of path-like
        Folders named explicitly; they win.
    cwd : path-like, optional
        The working directory (default: the current one), for compiled ``x86_64/``.

    Returns
    -------
    dict of str to str
        Empty when the template needs only NEURON's built-in mechanisms.
    """
    path = Path(path)
    src = find_mod_sources(path, list(mod_dirs), cwd=cwd)
    if src is not None:
        return dict(src.files)
    folder = path.resolve().parent
    if any(folder.glob("*.mod")):
        logger.info("mechanisms: the .mod files beside %s", path)
        return dict(read_mod_dir(folder))
    return {}
