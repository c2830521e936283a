"""The cell importer the spec builder uses for NetPyNE's ``importCellParams`` /
``importCellParamsFromNet``, provided by a face.

Importing a template needs the HOC converter; the builder imports only the model (DESIGN.md
"Layers"), so the package root installs the converter's importer here (:func:`install`,
:mod:`nethub.converters.hoc_spec`) and the builder calls :func:`cell_importer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import SpecError

__all__ = ["install", "cell_importer"]

Importer = Callable[[Mapping[str, Any], Mapping[str, str]], Any]
_factory: Callable[[], Importer] | None = None


def install(factory: Callable[[], Importer]) -> None:
    """Install the importer: ``factory()`` returns ``importer(request, mod_files)``, which
    returns a :class:`nethub.converters.hoc.HocImport`."""
    global _factory
    _factory = factory


def cell_importer() -> Importer:
    """The installed importer.

    Raises
    ------
    SpecError
        None is installed (``import nethub`` installs the HOC converter's).
    """
    if _factory is None:
        raise SpecError("importCellParams needs the HOC converter and no cell importer is "
                        "installed (import nethub installs it)")
    return _factory()
