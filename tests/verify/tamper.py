"""Change one byte of a store in place, as a disk error or a careless edit would."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np


def column_path(f: h5py.File, table: str, column: str) -> str:
    """The HDF5 path of a table column (``/network/connections/c4``)."""
    names = [m["name"] for m in json.loads(f[table].attrs["columns"])]
    return f"{table}/c{names.index(column)}"


def flip_element_byte(path: Path, where: str, index: int, byte: int = 0) -> None:
    """XOR 0x01 into byte ``byte`` of element ``index`` of a numeric dataset."""
    with h5py.File(path, "r+") as f:
        ds = f[where]
        data = ds[()]
        raw = data.reshape(-1).view(np.uint8)
        raw[index * data.dtype.itemsize + byte] ^= 1
        ds[...] = data


def flip_text_byte(path: Path, where: str, offset: int) -> None:
    """XOR 0x01 into byte ``offset`` of a scalar string dataset (its attributes kept)."""
    with h5py.File(path, "r+") as f:
        ds = f[where]
        raw = ds[()]
        data = bytearray(raw if isinstance(raw, bytes) else raw.encode())
        data[offset] ^= 1
        attrs = dict(ds.attrs)
        parent, name = ds.parent, ds.name.rsplit("/", 1)[1]
        del parent[name]
        new = parent.create_dataset(name, data=data.decode(), dtype=h5py.string_dtype())
        for k, v in attrs.items():
            new.attrs[k] = v


def mod_dataset(f: h5py.File, name: str) -> str:
    """The path of the .mod file ``name`` in ``/model/mod_files``."""
    for ds in f["model/mod_files"].values():
        if ds.attrs["name"] == name:
            return ds.name
    raise KeyError(name)
