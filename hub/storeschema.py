"""Schema-version specifics of the canonical store: embedded files and the v1 -> v2 migration.

Version 2 (``docs/store.md``) adds to version 1:

- ``/model/files/``: one ``uint8`` dataset per embedded file (``f0``, ``f1``, ... in order) with
  string attributes ``name``, ``role``, ``original_name`` and ``sha256`` (verified on read);
- optional ``tags``/``provenance`` in synaptic mechanisms and stimulation sources, a null
  population ``cell_type`` (mixed populations), empty ``syn_mech`` onto artificial cells;
- the cells columns ``rot_x``, ``rot_y``, ``rot_z`` (v1's ``rotation_y`` reads as ``rot_y``),
  ``param.<name>`` synapse parameters and namespaced per-format columns.

Everything a v1 file holds reads unchanged except the ``rotation_y`` rename (the migration rule
of ``docs/store.md`` §10).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from .columns import ROTATION_COLUMN, V1_ROTATION_COLUMN
from .embedded import EmbeddedFile, sha256_hex
from .errors import StoreError
from .h5table import STR_DTYPE, dataset_options
from .table import Table

__all__ = ["FILES_GROUP", "write_files", "read_files", "split_mod_files", "migrate_cells",
           "store_version", "describe_store"]

FILES_GROUP = "files"
_ATTRS = ("name", "role", "original_name", "sha256")


def store_version(f: h5py.File) -> int:
    """The root ``schema_version`` of an open store (checked by ``open_store``)."""
    return int(f.attrs["schema_version"])


def write_files(model: h5py.Group, files: dict[str, EmbeddedFile], compression: str) -> None:
    """``/model/files`` with one uint8 dataset per file, in order."""
    g = model.create_group(FILES_GROUP)
    for i, ef in enumerate(files.values()):
        arr = np.frombuffer(ef.data, dtype=np.uint8)
        ds = g.create_dataset(f"f{i}", data=arr, **dataset_options(len(arr), 1, compression))
        for key in _ATTRS:
            ds.attrs.create(key, getattr(ef, key), dtype=STR_DTYPE)


def _attr(ds: h5py.Dataset, key: str) -> str:
    val = ds.attrs.get(key)
    if isinstance(val, bytes):
        val = val.decode()
    if not isinstance(val, str):
        raise StoreError(f"{ds.file.filename}: {ds.name}: string attribute '{key}' is missing")
    return val


def _file_keys(g: h5py.Group) -> list[str]:
    """Member names in order (``f0``, ``f1``, ..., then any others by name)."""
    def order(k: str) -> tuple[int, int, str]:
        return (0, int(k[1:]), k) if k[:1] == "f" and k[1:].isdigit() else (1, 0, k)
    return sorted((k for k in g if not k.startswith(".")), key=order)


def read_files(model: h5py.Group, path: Path | str) -> dict[str, EmbeddedFile]:
    """The embedded files of a store (none in a v1 store), each checked against its sha256.

    Raises
    ------
    StoreError
        A member is malformed, a name repeats, or a file's content does not match its sha256.
    """
    g = model.get(FILES_GROUP)
    if g is None:
        return {}
    out: dict[str, EmbeddedFile] = {}
    for key in _file_keys(g):
        ds = g[key]
        where = f"{path}: /model/{FILES_GROUP}/{key}"
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.dtype != np.uint8:
            raise StoreError(f"{where}: an embedded file must be a 1-D uint8 dataset")
        meta = {k: _attr(ds, k) for k in _ATTRS}
        data = ds[()].tobytes()
        actual = sha256_hex(data)
        if actual != meta["sha256"]:
            raise StoreError(f"{where}: embedded file {meta['name']!r} is corrupt: its sha256 "
                             f"is {actual[:16]}..., the store recorded {meta['sha256'][:16]}...")
        if meta["name"] in out:
            raise StoreError(f"{where}: embedded file name {meta['name']!r} is used twice")
        try:
            out[meta["name"]] = EmbeddedFile(meta["name"], meta["role"], meta["original_name"],
                                             data, meta["sha256"])
        except ValueError as exc:
            raise StoreError(f"{where}: {exc}") from exc
    return out


def split_mod_files(files: dict[str, EmbeddedFile], mods: dict[str, str]
                    ) -> dict[str, EmbeddedFile]:
    """Embedded files of role ``mod`` (another writer may store NMODL there) join ``mods``
    (``/model/mod_files`` wins on a name clash); the other files are returned."""
    for name, ef in files.items():
        if ef.role == "mod":
            mods.setdefault(name, ef.data.decode("utf-8", errors="replace"))
    return {k: v for k, v in files.items() if v.role != "mod"}


def describe_store(path: str | Path) -> str | None:
    """``'store schema 2, embedded files: morphology 1, ...'`` for a store with embedded
    files (only attributes are read); None for other stores and files."""
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if (fmt.decode() if isinstance(fmt, bytes) else fmt) != "nethub-store":
                return None
            version = int(f.attrs.get("schema_version", 0))
            roles: dict[str, int] = {}
            g = f.get(f"model/{FILES_GROUP}")
            for key in (g if isinstance(g, h5py.Group) else []):
                role = g[key].attrs.get("role")
                role = role.decode() if isinstance(role, bytes) else str(role)
                roles[role] = roles.get(role, 0) + 1
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not roles:
        return None
    return f"store schema {version}, embedded files: " + ", ".join(
        f"{r} {n}" for r, n in roles.items())


def migrate_cells(cells: Table, version: int) -> Table:
    """Apply the v1 -> v2 migration to a cells table read from a store of ``version``:
    ``rotation_y`` becomes ``rot_y`` (same values, same position)."""
    if version >= 2 or V1_ROTATION_COLUMN not in cells or ROTATION_COLUMN in cells:
        return cells
    cells.columns = {(ROTATION_COLUMN if k == V1_ROTATION_COLUMN else k): v
                     for k, v in cells.columns.items()}
    return cells
