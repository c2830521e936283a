"""SONATA node/edge type CSVs: space-separated, double-quoted tables keyed by a type id.

BMTK writes them with ``pandas.to_csv(sep=' ', na_rep='NULL')`` and reads them with
``pandas.read_csv(sep=' ')``; older files separate columns with several spaces or tabs. The
reader accepts any run of blanks as one separator, double quotes around values with blanks, and
``NULL`` / ``NONE`` / ``None`` / empty as missing.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd

from nethub.errors import FormatError

__all__ = ["read_types_csv", "write_types_csv", "MISSING_TOKENS"]

#: Cell texts that mean "no value" in a type CSV.
MISSING_TOKENS = ("", "NULL", "NONE", "None", "null", "NaN", "nan")


def read_types_csv(path: str | os.PathLike[str], id_column: str) -> pd.DataFrame:
    """Read a node or edge types CSV.

    Parameters
    ----------
    path : path-like
        The CSV file.
    id_column : str
        ``"node_type_id"`` or ``"edge_type_id"``; it becomes the (int64, unique) index.

    Returns
    -------
    pandas.DataFrame
        One row per type, indexed by the type id; columns as in the file (numbers parsed,
        other values as str, missing values as NaN).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, sep=r"\s+", quotechar='"', keep_default_na=False,
                         na_values=list(MISSING_TOKENS), float_precision="round_trip")
    except FileNotFoundError as exc:
        raise FormatError(f"SONATA types file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise FormatError(f"{path}: not a readable SONATA types CSV ({exc})") from exc
    if id_column not in df.columns:
        raise FormatError(f"{path}: column '{id_column}' is missing "
                          f"(columns: {', '.join(map(str, df.columns))})")
    ids = pd.to_numeric(df[id_column], errors="coerce")
    if ids.isna().any() or (ids != np.floor(ids)).any():
        raise FormatError(f"{path}: column '{id_column}' must hold integers")
    if ids.duplicated().any():
        dup = sorted(set(ids[ids.duplicated()].astype(np.int64)))
        raise FormatError(f"{path}: {id_column} values {dup[:5]} occur more than once")
    df.index = pd.Index(ids.astype(np.int64).to_numpy(), name=id_column)
    return df.drop(columns=[id_column])


def write_types_csv(path: str | os.PathLike[str], types: pd.DataFrame, id_column: str) -> None:
    """Write a types table the way BMTK does (space-separated, ``NULL`` for missing, values
    with blanks quoted). ``types`` is indexed by the type id (as :func:`read_types_csv`
    returns it); the id becomes the first column ``id_column``."""
    df = types.copy()
    df.index = pd.Index(np.asarray(df.index, dtype=np.int64), name=id_column)
    df.reset_index().to_csv(path, sep=" ", index=False, na_rep="NULL",
                            quoting=csv.QUOTE_MINIMAL, quotechar='"')
