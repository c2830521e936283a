"""Shrink the temporary copy of a ``.nml.h5`` network that jNeuroML reads to make NMODL.

jNeuroML builds a LEMS component for every connection and input before it writes any NEURON
code: a 100,000-connection ``.nml.h5`` exhausts the heap pyNeuroML gives it (``-Xmx400M``,
``java.lang.OutOfMemoryError``). The ``.mod`` files and cell templates it writes depend only on
the components the network uses, so the copy keeps every population and the first row of each
projection and input list. The original file, and the cache key made from it, are unchanged.
"""

from __future__ import annotations

import os

import h5py

__all__ = ["skeleton_h5"]

_ROWS = ("projection_", "electricalProjection_", "continuousProjection_", "inputList_",
         "input_list_")


def skeleton_h5(path: str | os.PathLike) -> int:
    """Keep only the first row of every projection / input list dataset of ``path`` (in place).

    Returns
    -------
    int
        The number of rows removed.
    """
    removed = 0
    with h5py.File(path, "r+") as f:
        root = f.get("neuroml")
        if not isinstance(root, h5py.Group):
            return 0
        for net_name, net in root.items():
            if not (isinstance(net, h5py.Group) and net_name.startswith("network")):
                continue
            for name, group in net.items():
                if isinstance(group, h5py.Group) and name.startswith(_ROWS):
                    removed += _first_rows(group)
    return removed


def _first_rows(group: h5py.Group) -> int:
    removed = 0
    for name in list(group):
        ds = group[name]
        if not isinstance(ds, h5py.Dataset) or ds.ndim == 0 or ds.shape[0] <= 1:
            continue
        data, attrs = ds[:1], dict(ds.attrs)
        removed += ds.shape[0] - 1
        del group[name]
        new = group.create_dataset(name, data=data)
        for key, value in attrs.items():
            new.attrs[key] = value
    return removed
