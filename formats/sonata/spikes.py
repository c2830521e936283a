"""SONATA spike files, every layout, and a writer both libsonata and BMTK read.

Layouts read:

* current SONATA: ``/spikes/<population>/{node_ids,timestamps}``, ``sorting`` an HDF5 enum
  (libsonata: none=0, by_id=1, by_time=2) or a string (BMTK: ``"by_time"``, ``"time"``, ...),
  on the population group or (old BMTK files) on ``node_ids``;
* old BMTK: ``/spikes/gids`` + ``/spikes/timestamps`` without a population (it takes the
  caller's ``default_population``);
* CSV (BMTK's ``timestamps population node_ids`` with a header; headerless two columns
  ``timestamp node_id``; also ``gid``/``node_id``/``time``... headers), blank- or
  tab-separated.

The writer writes the current layout with uint64 ``node_ids``, float64 ``timestamps``
(``units="ms"``) and an enum ``sorting`` (libsonata 0.2.2 refuses a string one; BMTK reads an
unknown sorting and indexes the file itself).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from nethub.errors import FormatError
from nethub.store import atomic_path

from .groups import check_population_name
from .nodes import open_h5

__all__ = ["SpikePopulation", "read_spikes", "write_spikes", "spikes_frame",
           "SORTING_ENUM", "SORTING_DTYPE"]

#: libsonata's ``sorting`` enumeration.
SORTING_ENUM = {"none": 0, "by_id": 1, "by_time": 2}
SORTING_DTYPE = h5py.enum_dtype(SORTING_ENUM, basetype="u1")
_SORTING_ALIASES = {"none": "none", "by_id": "by_id", "id": "by_id", "by_gid": "by_id",
                    "gid": "by_id", "by_time": "by_time", "time": "by_time"}
_TIME_COLUMNS = ("timestamps", "timestamp", "time", "times", "t", "spike_times", "spike_time")
_ID_COLUMNS = ("node_ids", "node_id", "gids", "gid", "cell_id", "cell", "id")


@dataclass
class SpikePopulation:
    """The spikes of one population.

    Attributes
    ----------
    node_ids : ndarray of int64
    timestamps : ndarray of float64
        In ``units`` (ms unless the file says otherwise).
    sorting : str
        ``"none"``, ``"by_id"``, ``"by_time"`` or ``"unknown"`` as the file declares it.
    units : str
    """

    node_ids: np.ndarray
    timestamps: np.ndarray
    sorting: str = "unknown"
    units: str = "ms"

    def __len__(self) -> int:
        return len(self.node_ids)


def read_spikes(path: str | os.PathLike[str], default_population: str = "",
                sep: str | None = None) -> dict[str, SpikePopulation]:
    """Read a spike file of any layout (HDF5 by content, else CSV).

    Parameters
    ----------
    path : path-like
    default_population : str
        The population of spikes whose file names none (old ``/spikes/gids`` layout, CSV
        without a ``population`` column).
    sep : str, optional
        CSV separator; default any run of blanks or tabs.

    Returns
    -------
    dict
        Population -> :class:`SpikePopulation`.
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"spike file {path} does not exist")
    if h5py.is_hdf5(path):
        return _read_h5(path, default_population)
    return _read_csv(path, default_population, sep)


def _read_h5(path: Path, default_population: str) -> dict[str, SpikePopulation]:
    with open_h5(path) as f:
        root = f.get("spikes")
        if not isinstance(root, h5py.Group):
            raise FormatError(f"{path}: no /spikes group (not a SONATA spike file)")
        if "gids" in root or ("node_ids" in root and "timestamps" in root):
            ids_name = "gids" if "gids" in root else "node_ids"
            return {default_population: _read_group(root, ids_name, path)}
        out = {}
        for name, grp in root.items():
            if isinstance(grp, h5py.Group) and "timestamps" in grp:
                out[name] = _read_group(grp, "node_ids", path)
        return out


def _read_group(grp: h5py.Group, ids_name: str, path: Path) -> SpikePopulation:
    if ids_name not in grp or "timestamps" not in grp:
        raise FormatError(f"{path}: {grp.name} needs '{ids_name}' and 'timestamps'")
    ids = grp[ids_name][()]
    times = grp["timestamps"][()]
    if ids.shape != times.shape or ids.ndim != 1:
        raise FormatError(f"{path}: {grp.name}/{ids_name} and timestamps differ in shape "
                          f"({ids.shape} vs {times.shape})")
    sorting = grp.attrs.get("sorting", grp[ids_name].attrs.get("sorting"))
    units = grp["timestamps"].attrs.get("units", "ms")
    return SpikePopulation(ids.astype(np.int64), times.astype(np.float64),
                           _sorting_name(sorting), _text(units))


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return _text(value.item()) if value.size == 1 else str(value)
    return str(value)


def _sorting_name(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, (int, np.integer)):
        names = {v: k for k, v in SORTING_ENUM.items()}
        return names.get(int(value), "unknown")
    return _SORTING_ALIASES.get(_text(value).strip().lower(), "unknown")


def _read_csv(path: Path, default_population: str, sep: str | None
              ) -> dict[str, SpikePopulation]:
    sep = sep or r"\s+"
    try:
        head = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str)
        has_header = not all(_is_number(v) for v in head.iloc[0])
        df = pd.read_csv(path, sep=sep, header=0 if has_header else None,
                         float_precision="round_trip")  # exact times under pandas 2 too
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise FormatError(f"{path}: not a readable spike CSV ({exc})") from exc
    if not has_header:
        names = ["timestamps", "node_ids"] if df.shape[1] == 2 else \
            ["timestamps", "population", "node_ids"]
        if df.shape[1] not in (2, 3):
            raise FormatError(f"{path}: a headerless spike CSV needs 2 columns (timestamp "
                              f"node_id) or 3 (timestamp population node_id), not {df.shape[1]}")
        df.columns = names
    t_col = _find_column(df, _TIME_COLUMNS, path, "timestamps")
    id_col = _find_column(df, _ID_COLUMNS, path, "node_ids")
    pops = df["population"].astype(str) if "population" in df.columns else \
        pd.Series(default_population, index=df.index)
    out = {}
    for pop, rows in df.groupby(pops, sort=False).groups.items():
        sub = df.loc[rows]
        out[str(pop)] = SpikePopulation(sub[id_col].to_numpy(np.int64),
                                        sub[t_col].to_numpy(np.float64))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _find_column(df: pd.DataFrame, names: tuple[str, ...], path: Path, what: str) -> str:
    lowered = {str(c).strip().lower(): c for c in df.columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise FormatError(f"{path}: no {what} column (expected one of {', '.join(names)}; "
                      f"found {', '.join(map(str, df.columns))})")


def spikes_frame(spikes: Mapping[str, SpikePopulation]) -> pd.DataFrame:
    """All spikes in one table: ``population`` (category), ``node_id``, ``timestamp``."""
    pops = list(spikes)
    counts = [len(spikes[p]) for p in pops]
    codes = np.repeat(np.arange(len(pops)), counts)
    return pd.DataFrame({
        "population": pd.Categorical.from_codes(codes, categories=pops) if pops else
        pd.Categorical([]),
        "node_id": np.concatenate([spikes[p].node_ids for p in pops]) if pops else
        np.zeros(0, np.int64),
        "timestamp": np.concatenate([spikes[p].timestamps for p in pops]) if pops else
        np.zeros(0),
    })


def write_spikes(path: str | os.PathLike[str],
                 spikes: Mapping[str, SpikePopulation | tuple[np.ndarray, np.ndarray]],
                 sorting: str = "by_time") -> None:
    """Write spikes as a SONATA HDF5 file (atomically) that libsonata and BMTK both read.

    Parameters
    ----------
    path : path-like
    spikes : mapping
        Population -> :class:`SpikePopulation` or ``(node_ids, timestamps)`` (ms).
    sorting : {"by_time", "by_id", "none"}
        How each population's spikes are ordered in the file (ties broken by the other key).
    """
    if sorting not in SORTING_ENUM:
        raise FormatError(f"unknown spike sorting {sorting!r} (valid: {', '.join(SORTING_ENUM)})")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], np.uint32)
        root = f.create_group("spikes")
        for name, pop in spikes.items():
            ids, times = (pop.node_ids, pop.timestamps) if isinstance(pop, SpikePopulation) \
                else pop
            _write_population(root, name, np.asarray(ids), np.asarray(times, float), sorting)


def _write_population(root: h5py.Group, name: str, ids: np.ndarray, times: np.ndarray,
                      sorting: str) -> None:
    if ids.shape != times.shape:
        raise FormatError(f"spikes of population {name!r}: {len(ids)} node ids but "
                          f"{len(times)} timestamps")
    if ids.size and ids.min() < 0:
        raise FormatError(f"spikes of population {name!r}: negative node ids")
    if sorting == "by_time":
        order = np.lexsort((ids, times))
    elif sorting == "by_id":
        order = np.lexsort((times, ids))
    else:
        order = np.arange(len(ids))
    grp = root.create_group(check_population_name(name, "spikes"))
    grp.attrs.create("sorting", SORTING_ENUM[sorting], dtype=SORTING_DTYPE)
    grp.create_dataset("node_ids", data=ids[order].astype(np.uint64))
    ds = grp.create_dataset("timestamps", data=times[order].astype(np.float64))
    ds.attrs["units"] = "ms"

