"""How each cell type of a store runs (issue 14): ``snapshot`` (sections and mechanisms as data)
or ``template`` (the imported template instantiated at run time, which is code and needs
``--trust``), for ``nethub info`` and ``nethub validate``.

Only ``/model/cell_types`` is read (no network tables).
"""

from __future__ import annotations

import json
import os
from typing import Any

import h5py

__all__ = ["store_run_modes", "trust_note"]


def store_run_modes(path: str | os.PathLike, imported_only: bool = False
                    ) -> dict[str, str] | None:
    """The run mode of each compartmental cell type of a store (``snapshot`` or ``template``).

    Parameters
    ----------
    path : path-like
        A nethub store.
    imported_only : bool
        Only the cell types imported from a template (those with a ``template`` record, for
        which the run mode is a choice); cell types built from specs always run as snapshots.

    Returns
    -------
    dict or None
        Cell type name -> run mode; None when ``path`` is not a readable store.
    """
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if (fmt.decode() if isinstance(fmt, bytes) else fmt) != "nethub-store":
                return None
            raw = f["model/cell_types"][()]
    except (OSError, KeyError, ValueError, TypeError):
        return None
    try:
        docs: dict[str, Any] = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return None  # validate reports the broken document itself
    return {name: str(d.get("run_mode", "snapshot")) for name, d in docs.items()
            if isinstance(d, dict) and d.get("kind") == "compartmental"
            and (d.get("template") or not imported_only)}


def trust_note(modes: dict[str, str] | None) -> str | None:
    """The note that running a store whose cell types run their template needs ``--trust``
    (None when no cell type runs its template)."""
    names = sorted(k for k, m in (modes or {}).items() if m == "template")
    if not names:
        return None
    return (f"cell type(s) {', '.join(names)} run in template mode: their embedded template "
            "code is instantiated at run time, so running this store needs --trust "
            "(nethub run/verify --trust; templates you imported yourself on this machine "
            "are trusted already; docs/safety.md)")
