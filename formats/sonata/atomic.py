"""Atomic folder writes: a folder appears complete under its name, or not at all (single files
go through :func:`nethub.store.atomic_path`; the swap is :func:`nethub.store.replace_dir`).

Everything is written under a hidden temporary name in the destination's own folder (same file
system) and renamed into place at the end; on any error the temporary is removed and nothing is
left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nethub.errors import FormatError
from nethub.store import replace_dir

__all__ = ["atomic_dir"]


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it becomes ``path``.

    An existing non-empty ``path`` is refused unless ``overwrite`` (then it is replaced only
    once the new folder is complete).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FormatError(f"{path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FormatError(f"{path} exists and is not empty (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
