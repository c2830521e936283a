"""Tidy CSV tables: a network and its runs as a folder (or a ``.zip``) of CSV files.

The files, how each kind of value is written so that reading gives back exactly what was
written, and the atomic-write rule: ``docs/formats.md`` ("CSV layout").
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from nethub.errors import FormatError
from nethub.limits import ResourceLimitError, loads_json
from nethub.version import __version__

from .base import Document, Format, OptionError

# nethub's model modules (table, network, store: numpy and pandas, ~0.3 s measured with
# ``python -X importtime``) are imported inside the functions that need them: listing and
# sniffing formats imports every plugin module and stays fast.

__all__ = ["CsvFormat", "FORMAT_NAME", "VERSION", "write_table", "read_table"]

logger = logging.getLogger(__name__)

FORMAT_NAME = "nethub-csv"
#: Newest container version: 2 adds embedded files (written only by networks that have some,
#: so other containers stay version 1, readable by older nethub).
VERSION = 2
FILES_DIR = "files"
MODEL_FILE = "model.json"
TABLES = ("cells", "connections", "pointer_conns", "stim_targets")
RUN_DOCS = ("sim_config", "seeds", "versions", "timing", "network_hash", "nranks", "meta")
CHUNK = 1 << 17  # rows formatted at once
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_MARKER = re.compile(rb'^\s*\{\s*"format"\s*:\s*"nethub-csv"')


# ----------------------------------------------------------------------------- containers
class _Folder:
    """Files of a CSV container: a folder or a zip archive (read or write)."""

    def __init__(self, root: Path, zip_file: zipfile.ZipFile | None = None) -> None:
        self.root, self.zip = root, zip_file

    @contextlib.contextmanager
    def open_write(self, name: str) -> Iterator[IO[str]]:
        if self.zip is not None:
            with self.zip.open(name, "w", force_zip64=True) as raw, \
                    io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
                yield fh
        else:
            with open(self.root / name, "w", encoding="utf-8", newline="") as fh:
                yield fh

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write a binary member (parent folders are made as needed)."""
        if self.zip is not None:
            self.zip.writestr(name, data)
            return
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def open_read(self, name: str) -> IO[bytes]:
        """Open a member; only files inside the folder or archive itself (no absolute paths,
        no ``..``, no symbolic links leading out), whatever ``model.json`` names."""
        _check_member(self.root, name)
        if self.zip is not None:
            if name not in self.zip.namelist():
                raise FormatError(f"{self.root}: the archive has no {name}")
            return self.zip.open(name)
        path = self.root / name
        if not path.is_file():
            raise FormatError(f"{self.root}: the folder has no {name}")
        real, root = path.resolve(), self.root.resolve()
        if root not in real.parents:
            raise FormatError(f"{self.root}: {name!r} is a link to {real}, outside the "
                              "container; not read")
        return open(path, "rb")


def _check_member(root: Path, name: Any) -> None:
    """FormatError unless ``name`` is a plain relative file name inside the container."""
    parts = re.split(r"[\\/]", name) if isinstance(name, str) else []
    if (not isinstance(name, str) or not name or name.startswith(("/", "\\"))
            or re.match(r"^[A-Za-z]:", name) or any(p in ("", ".", "..") for p in parts)
            or "\x00" in name):
        raise FormatError(f"{root}/{MODEL_FILE}: names the file {name!r}, which is not inside "
                          "the container (absolute path or '..'); not read")


def _is_container(path: Path) -> bool:
    """Whether ``path`` is a CSV container (folder or zip) written by nethub."""
    try:
        if path.is_dir():
            with open(path / MODEL_FILE, "rb") as fh:
                return bool(_MARKER.match(fh.read(256)))
        if path.is_file() and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf, zf.open(MODEL_FILE) as fh:
                return bool(_MARKER.match(fh.read(256)))
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return False


@contextlib.contextmanager
def _writing(path: Path, zipped: bool, level: int) -> Iterator[_Folder]:
    """A container under a temporary name beside ``path``, renamed to ``path`` on success."""
    from nethub.store import atomic_path, replace_dir

    if zipped:
        with atomic_path(path, suffix=".nhtmp.zip") as tmp, \
                zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
            yield _Folder(path, zf)
        return
    if path.exists() and not (path.is_dir() and (_is_container(path) or not any(path.iterdir()))):
        raise FormatError(f"{path}: exists and is not a nethub CSV folder; not replacing it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".nhtmp", dir=path.parent))
    try:
        yield _Folder(tmp)
        replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[_Folder]:
    if path.is_dir():
        yield _Folder(path)
        return
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"{path}: not a CSV folder or zip archive ({exc})") from exc
    with zf:
        yield _Folder(path, zf)


# ----------------------------------------------------------------------------- writing tables
def _quote(text: str) -> str:
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def _na_token(values: list[str]) -> str:
    """A missing-value marker equal to none of ``values`` ('' when possible)."""
    taken = set(values)
    token, i = "", 0
    while token in taken:
        token, i = f"<NA{i or ''}>", i + 1
    return token


def _column_meta(name: str, col: Any) -> dict[str, Any]:
    from nethub.table import Categorical, Ragged

    if isinstance(col, Categorical):
        meta = {"name": name, "kind": "category", "dtype": "str"}
        if np.any(col.codes < 0):
            used = np.unique(col.codes[col.codes >= 0])
            meta["na"] = _na_token([col.categories[i] for i in used])
        return meta
    if isinstance(col, Ragged):
        return {"name": name, "kind": "ragged", "dtype": col.values.dtype.name}
    return {"name": name, "kind": "array", "dtype": col.dtype.name}


def _format_chunk(col: Any, meta: dict[str, Any], a: int, b: int) -> list[str]:
    """The CSV fields of rows ``a:b`` of a column."""
    from nethub.table import Categorical, Ragged

    if isinstance(col, Categorical):
        lut = np.array([_quote(c) for c in col.categories] + [_quote(meta.get("na", ""))],
                       dtype=object)
        return lut[col.codes[a:b]].tolist()
    if isinstance(col, Ragged):
        rows = col.take(np.arange(a, b))
        return [_quote(json.dumps(rows.row(i).tolist())) for i in range(len(rows))]
    arr = col[a:b]
    if arr.dtype.kind == "b":
        return np.where(arr, "True", "False").tolist()
    if arr.dtype.kind == "f":
        wide = arr.dtype.itemsize > 8  # long double: numpy's shortest unique text
        out = list(map(str, arr)) if wide else list(map(repr, arr.astype(np.float64).tolist()))
        for i in np.flatnonzero(np.isnan(arr)).tolist():
            out[i] = ""
        return out
    return list(map(str, arr.tolist()))


def write_table(fh: IO[str], columns: Mapping[str, Any], n: int) -> list[dict[str, Any]]:
    """Write ``columns`` (name -> numpy array, Categorical or Ragged, all ``n`` long) as CSV.

    Returns the column descriptions (name, kind, dtype, missing-value token) that
    :func:`read_table` needs.
    """
    metas = [_column_meta(name, col) for name, col in columns.items()]
    fh.write(",".join(_quote(m["name"]) for m in metas) + "\n")
    cols = list(columns.values())
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        fields = [_format_chunk(c, m, a, b) for c, m in zip(cols, metas)]
        fh.write("\n".join(map(",".join, zip(*fields))))
        fh.write("\n")
    return metas


# ----------------------------------------------------------------------------- reading tables
def _pandas_dtype(meta: dict[str, Any]) -> Any:
    if meta["kind"] in ("category", "ragged"):
        return object  # pandas' "category" would turn 'TRUE' into True and '1.0' into 1.0
    dtype = np.dtype(meta["dtype"])
    if dtype.kind == "f":  # parsed as float64 (exact for float16/32), long double as text
        return np.float64 if dtype.itemsize <= 8 else object
    return dtype


def read_table(fh: IO[bytes], metas: list[dict[str, Any]], n: int, where: str
               ) -> dict[str, Any]:
    """Read a CSV written by :func:`write_table` back into columns of the recorded kinds.

    Raises
    ------
    FormatError
        The file does not match its description (naming ``where``).
    """
    import pandas as pd

    na = {}
    for i, m in enumerate(metas):
        if m["kind"] == "category" and "na" in m:
            na[i] = [m["na"]]
        elif m["kind"] == "array" and np.dtype(m["dtype"]).kind == "f":
            na[i] = [""]
    try:
        df = pd.read_csv(fh, header=0, names=list(range(len(metas))), keep_default_na=False,
                         na_values=na, dtype={i: _pandas_dtype(m) for i, m in enumerate(metas)},
                         skip_blank_lines=False, engine="c", encoding="utf-8",
                         float_precision="round_trip")  # exact under pandas 2 and 3
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise FormatError(f"{where}: cannot parse ({exc})") from exc
    if len(df) != n or len(df.columns) != len(metas):
        raise FormatError(f"{where}: has {len(df)} rows and {len(df.columns)} columns; "
                          f"model.json says {n} rows and {len(metas)} columns")
    return {m["name"]: _to_column(df[i], m, where) for i, m in enumerate(metas)}


def _to_column(series: Any, meta: dict[str, Any], where: str) -> Any:
    from nethub.table import Categorical, Ragged

    if meta["kind"] == "category":
        import pandas as pd

        codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
        return Categorical(codes.astype(np.int32), [str(c) for c in uniques])
    if meta["kind"] == "ragged":
        try:
            rows = json.loads("[" + ",".join(series.tolist()) + "]")
        except (ValueError, TypeError) as exc:
            raise FormatError(f"{where}: column {meta['name']!r}: bad list ({exc})") from exc
        return Ragged.from_lists(rows, dtype=np.dtype(meta["dtype"]))
    dtype = np.dtype(meta["dtype"])
    if dtype.kind == "f" and dtype.itemsize > 8:
        return np.array([np.nan if isinstance(v, float) else dtype.type(v) for v in series],
                        dtype=dtype)
    return np.ascontiguousarray(series.to_numpy(dtype=dtype))


# ----------------------------------------------------------------------------- network
def _write_network(box: _Folder, net: Any) -> dict[str, Any]:
    tables = {}
    for tname in TABLES:
        table = getattr(net, tname)
        with box.open_write(f"{tname}.csv") as fh:
            metas = write_table(fh, table.columns, len(table))
        tables[tname] = {"file": f"{tname}.csv", "n_rows": len(table), "columns": metas}
    out = {"model": net.metadata(), "mod_files": dict(net.mod_files), "tables": tables}
    if net.files:
        out["embedded_files"] = _write_files(box, net)
    return out


def _write_files(box: _Folder, net: Any) -> list[dict[str, Any]]:
    """Embedded files as ``files/<name>`` members, described (manifest) in model.json."""
    manifest = []
    numbered = _clashing(list(net.files))
    for i, ef in enumerate(net.files.values()):
        member = f"{FILES_DIR}/{i}/{ef.name}" if numbered else f"{FILES_DIR}/{ef.name}"
        box.write_bytes(member, ef.data)
        manifest.append({**ef.meta(), "file": member, "size": ef.size})
    return manifest


def _clashing(names: list[str]) -> bool:
    """Whether some name is a folder of another (``a`` and ``a/b``), also ignoring case (as
    some file systems do): then each file goes into a numbered folder of its own."""
    folded = [n.casefold() for n in names]
    if len(set(folded)) != len(folded):
        return True
    taken = set(folded)
    return any("/".join(n.split("/")[:k]) in taken for n in folded
               for k in range(1, n.count("/") + 1))


def _read_files(box: _Folder, manifest: Any) -> dict[str, Any]:
    """The embedded files of the manifest, each checked against its size and sha256."""
    from nethub.embedded import EmbeddedFile, sha256_hex

    if not isinstance(manifest, list):
        raise FormatError(f"{box.root}/{MODEL_FILE}: 'embedded_files' must be a list")
    out = {}
    for i, entry in enumerate(manifest):
        where = f"{box.root}/{MODEL_FILE}: embedded_files[{i}]"
        if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) for k in ("name", "role", "original_name",
                                                        "sha256", "file")):
            raise FormatError(f"{where}: needs string name, role, original_name, sha256, file")
        with box.open_read(entry["file"]) as fh:
            data = fh.read()
        if sha256_hex(data) != entry["sha256"]:
            raise FormatError(f"{box.root}/{entry['file']}: embedded file {entry['name']!r} "
                              f"does not match its sha256 in {MODEL_FILE} (changed or damaged)")
        try:
            ef = EmbeddedFile(entry["name"], entry["role"], entry["original_name"], data)
        except ValueError as exc:
            raise FormatError(f"{where}: {exc}") from exc
        out[ef.name] = ef
    return out


def _read_network(box: _Folder, head: dict[str, Any]) -> Any:
    from nethub.celltypes import Population, StimSource, SynMech, cell_type_from_dict
    from nethub.network import TABLE_SCHEMAS, Network
    from nethub.table import Table

    model = head["model"]
    tables = {}
    for tname in TABLES:
        info = head["tables"][tname]
        where = f"{box.root}/{info['file']}"
        with box.open_read(info["file"]) as fh:
            cols = read_table(fh, info["columns"], int(info["n_rows"]), where)
        tables[tname] = Table(cols, TABLE_SCHEMAS[tname], n=int(info["n_rows"]))
    return Network(
        cell_types={k: cell_type_from_dict(v) for k, v in model["cell_types"].items()},
        syn_mechs={k: SynMech.from_dict(v) for k, v in model["syn_mechs"].items()},
        populations={k: Population.from_dict(v) for k, v in model["populations"].items()},
        stim_sources={k: StimSource.from_dict(v) for k, v in model["stim_sources"].items()},
        spec=model["spec"], params=model["params"], provenance=model["provenance"],
        rxd=model["rxd"], mod_files=dict(head["mod_files"]),
        files=_read_files(box, head["embedded_files"]) if "embedded_files" in head else {},
        **tables,
    )


# ----------------------------------------------------------------------------- results
def _run_names(runs: list[Any]) -> list[str]:
    names = [r.name or f"run_{i:04d}" for i, r in enumerate(runs)]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise FormatError(f"run names must be unique; repeated: {', '.join(map(repr, dup))}")
    return names


def _write_spikes(box: _Folder, runs: list[Any], names: list[str], files: dict[str, Any]
                  ) -> None:
    from nethub.table import Categorical

    codes = [np.full(len(r.spike_times), i, dtype=np.int32) for i, r in enumerate(runs)]
    cols = {
        "run": Categorical(np.concatenate(codes) if codes else np.zeros(0), names),
        "time": np.concatenate([r.spike_times for r in runs] or [np.zeros(0)]),
        "gid": np.concatenate([r.spike_gids for r in runs] or [np.zeros(0, np.int64)]),
    }
    with box.open_write("spikes.csv") as fh:
        n = len(cols["gid"])
        files["spikes.csv"] = {"n_rows": n, "columns": write_table(fh, cols, n)}


def _trace_signature(r: Any) -> str:
    return json.dumps([(k, _column_meta(k, c)["kind"], _column_meta(k, c)["dtype"])
                       for k, c in r.traces.index.columns.items()])


def _long_traces(r: Any, name: str) -> dict[str, Any]:
    """A run's traces in long format: the index rows repeated per sample."""
    from nethub.table import Categorical

    tr = r.traces
    n_tr, n_t = len(tr.index), len(tr.time)
    rows = np.repeat(np.arange(n_tr), max(n_t, 1))
    if n_t:
        time, value = np.tile(tr.time, n_tr), tr.data.reshape(-1)
    else:
        time = value = np.full(n_tr, np.nan)
    return {"run": Categorical.constant(name, len(rows)), "trace": rows.astype(np.int64),
            **tr.index.take(rows).columns, "time": time, "value": value}


def _write_traces(box: _Folder, runs: list[Any], names: list[str], files: dict[str, Any]
                  ) -> list[dict[str, Any]]:
    """Traces of every run, grouped into files by the columns of their trace index."""
    from nethub.table import Table

    groups: dict[str, list[int]] = {}
    for i, r in enumerate(runs):
        groups.setdefault(_trace_signature(r), []).append(i)
    out: list[dict[str, Any]] = [{} for _ in runs]
    for k, members in enumerate(groups.values()):
        fname = "traces.csv" if k == 0 else f"traces_{k + 1}.csv"
        table = Table.concat([Table(_long_traces(runs[i], names[i])) for i in members])
        with box.open_write(fname) as fh:
            files[fname] = {"n_rows": len(table),
                            "columns": write_table(fh, table.columns, len(table))}
        for i in members:
            tr = runs[i].traces
            out[i] = {"file": fname, "n_traces": len(tr.index), "n_times": len(tr.time)}
            if len(tr.index) == 0:
                out[i]["time"] = tr.time.tolist()
    return out


def _write_lfp(box: _Folder, runs: list[Any], names: list[str], files: dict[str, Any]
               ) -> list[dict[str, Any] | None]:
    from nethub.table import Categorical

    out: list[dict[str, Any] | None] = []
    cols: dict[str, list] = {"run": [], "sample": [], "electrode": [], "value": []}
    for i, r in enumerate(runs):
        if r.lfp is None:
            out.append(None)
            continue
        lfp = np.asarray(r.lfp, dtype=np.float64)
        nt, ne = lfp.shape
        cols["run"].append(np.full(lfp.size, i, dtype=np.int32))
        cols["sample"].append(np.repeat(np.arange(nt, dtype=np.int64), ne))
        cols["electrode"].append(np.tile(np.arange(ne, dtype=np.int64), nt))
        cols["value"].append(lfp.reshape(-1))
        out.append({"shape": [nt, ne], "dtype": r.lfp.dtype.name,
                    "lfp_time": _jlist(r.lfp_time), "electrodes": _jlist(r.electrodes)})
    if any(o is not None for o in out):
        table = {k: np.concatenate(v) for k, v in cols.items()}
        table["run"] = Categorical(table["run"], names)
        with box.open_write("lfp.csv") as fh:
            n = len(table["value"])
            files["lfp.csv"] = {"n_rows": n, "columns": write_table(fh, table, n)}
    return out


def _jlist(arr: Any) -> Any:
    if arr is None:
        return None
    arr = np.asarray(arr)
    return {"dtype": arr.dtype.name, "shape": list(arr.shape), "values": arr.reshape(-1).tolist()}


def _from_jlist(d: Any) -> Any:
    if d is None:
        return None
    return np.asarray(d["values"], dtype=np.dtype(d["dtype"])).reshape(d["shape"])


def _write_runs(box: _Folder, runs: list[Any]) -> dict[str, Any]:
    names = _run_names(runs)
    files: dict[str, Any] = {}
    _write_spikes(box, runs, names, files)
    traces = _write_traces(box, runs, names, files)
    lfps = _write_lfp(box, runs, names, files)
    entries = []
    for name, r, tr, lfp in zip(names, runs, traces, lfps):
        entry = {"name": name, "named": r.name is not None,
                 **{k: getattr(r, k) for k in RUN_DOCS},
                 "n_spikes": len(r.spike_times), "traces": tr, "lfp": lfp}
        entries.append(entry)
    return {"runs": entries, "files": files}


def _read_file(box: _Folder, head: dict[str, Any], fname: str, cache: dict[str, Any]
               ) -> dict[str, Any]:
    if fname not in cache:
        info = head["files"][fname]
        with box.open_read(fname) as fh:
            cache[fname] = read_table(fh, info["columns"], int(info["n_rows"]),
                                      f"{box.root}/{fname}")
    return cache[fname]


def _take(col: Any, rows: np.ndarray) -> Any:
    return col[rows] if isinstance(col, np.ndarray) else col.take(rows)


def _read_traces(box: _Folder, head: dict[str, Any], entry: dict[str, Any], start: int,
                 cache: dict[str, Any]) -> Any:
    from nethub.results import TRACE_COLUMNS, Traces
    from nethub.table import Table

    n_tr, n_t = int(entry["n_traces"]), int(entry["n_times"])
    cols = _read_file(box, head, entry["file"], cache)
    names = list(cols)
    index_names = names[names.index("trace") + 1:names.index("time")]
    first = start + np.arange(n_tr) * max(n_t, 1)
    index = Table({k: _take(cols[k], first) for k in index_names}, TRACE_COLUMNS, n=n_tr)
    if n_tr == 0:
        time = np.asarray(entry.get("time", []), dtype=np.float64)
        data = np.zeros((0, len(time)))
    else:
        block = slice(start, start + n_tr * n_t)
        time = cols["time"][start:start + n_t] if n_t else np.zeros(0)
        data = cols["value"][block].reshape(n_tr, n_t)
    return Traces(index, time, data)


def _read_runs(box: _Folder, head: dict[str, Any]) -> list[Any]:
    from nethub.results import Results

    cache: dict[str, Any] = {}
    spikes = _read_file(box, head, "spikes.csv", cache)
    lfp_cols = _read_file(box, head, "lfp.csv", cache) if "lfp.csv" in head["files"] else None
    out, sp0, lfp0 = [], 0, 0
    starts: dict[str, int] = {}
    for entry in head["runs"]:
        n_sp = int(entry["n_spikes"])
        tr = entry["traces"]
        start = starts.get(tr["file"], 0)
        starts[tr["file"]] = start + int(tr["n_traces"]) * max(int(tr["n_times"]), 1)
        lfp = entry.get("lfp")
        kw: dict[str, Any] = {}
        if lfp is not None:
            nt, ne = lfp["shape"]
            kw["lfp"] = lfp_cols["value"][lfp0:lfp0 + nt * ne].reshape(nt, ne).astype(
                np.dtype(lfp["dtype"]))
            kw["lfp_time"], kw["electrodes"] = (_from_jlist(lfp["lfp_time"]),
                                                _from_jlist(lfp["electrodes"]))
            lfp0 += nt * ne
        out.append(Results(
            spike_times=spikes["time"][sp0:sp0 + n_sp], spike_gids=spikes["gid"][sp0:sp0 + n_sp],
            traces=_read_traces(box, head, tr, start, cache),
            name=entry["name"] if entry.get("named", True) else None,
            **{k: entry[k] for k in RUN_DOCS}, **kw))
        sp0 += n_sp
    return out


# ----------------------------------------------------------------------------- the plugin
def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


def _read_head(box: _Folder) -> dict[str, Any]:
    with box.open_read(MODEL_FILE) as fh:
        try:
            head = loads_json(fh.read().decode("utf-8"), f"{box.root}/{MODEL_FILE}")
        except ResourceLimitError as exc:
            raise FormatError(str(exc)) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatError(f"{box.root}/{MODEL_FILE}: not valid JSON ({exc})") from exc
    if not isinstance(head, dict) or head.get("format") != FORMAT_NAME:
        raise FormatError(f"{box.root}: {MODEL_FILE} is not a nethub CSV description")
    if int(head.get("version", 0)) > VERSION:
        raise FormatError(f"{box.root}: written by a newer nethub (CSV version "
                          f"{head.get('version')}; this one reads up to {VERSION}); upgrade nethub")
    return head


class CsvFormat(Format):
    """A folder (or ``.zip``) of tidy CSV tables plus ``model.json``; lossless."""

    name = "csv"
    description = "tidy CSV tables (cells, connections, stims, spikes, traces) + model.json; " \
                  "a folder or a .zip"
    suffixes = (".csv", ".csv.zip", ".zip")
    can_read = True
    can_write = True
    requires = ("pandas",)
    holds_network = True
    holds_results = True
    holds_spec = True
    lossless = True
    read_options: Mapping[str, str] = {}
    write_options = {
        "zip": "write a zip archive (default: when the name ends in .zip) or a folder",
        "compresslevel": "deflate level of the zip archive, 0-9 (default 1, fastest)",
    }

    def sniff(self, path: str | os.PathLike) -> bool:
        """A folder or zip archive whose ``model.json`` starts with the nethub-csv marker."""
        return _is_container(Path(path))

    def read(self, path: str | os.PathLike, results: bool = True) -> Document:
        """Read the network (if the container holds one) and, unless ``results`` is False,
        every run."""
        path = Path(path)
        with _reading(path) as box:
            head = _read_head(box)
            try:
                net = _read_network(box, head) if head.get("tables") else None
                runs = _read_runs(box, head) if results and head.get("runs") else []
            except (KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, FormatError):
                    raise
                raise FormatError(f"{path}: inconsistent CSV container "
                                  f"({type(exc).__name__}: {exc})") from exc
        return Document(network=net, results=runs)

    def write(self, doc: Document, path: str | os.PathLike, zip: bool | None = None,  # noqa: A002
              compresslevel: int = 1) -> list[str]:
        """Write ``doc`` atomically; nothing is lost."""
        path = Path(path)
        zipped = path.name.lower().endswith(".zip") if zip is None else bool(zip)
        if not isinstance(compresslevel, int) or not 0 <= compresslevel <= 9:
            raise OptionError(f"compresslevel must be an integer 0-9, got {compresslevel!r}")
        version = 2 if doc.network is not None and doc.network.files else 1
        head: dict[str, Any] = {"format": FORMAT_NAME, "version": version,
                                "creator": f"nethub {__version__}"}
        with _writing(path, zipped, compresslevel) as box:
            if doc.network is not None:
                head.update(_write_network(box, doc.network))
            head.update(_write_runs(box, list(doc.results)))
            with box.open_write(MODEL_FILE) as fh:
                fh.write(_dumps(head))
        logger.info("wrote %s (%s)", path, "zip" if zipped else "folder")
        return []
