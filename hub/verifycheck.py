"""A run's integrity document, written with the run, and the check of a store against it.

When a run is written (:func:`nethub.store.append_run`, :func:`nethub.store.write_network`),
its group gets a JSON dataset ``integrity`` (``docs/store.md`` §6.1):

* ``model`` and ``network``: the :func:`~nethub.verifyhash.tree_digest` of ``/model`` and
  ``/network`` as they were when the run was written (computed once per network and cached
  as ``/network``'s ``integrity`` attribute, as ``content_hash`` is);
* ``results``: the digest of the run's own result datasets, and ``results_sha256``,
  ``model_sha256``, ``network_sha256`` (:func:`~nethub.verifyhash.tree_sha256`);
* ``environment``: Python, platform, compiler, installed versions (:mod:`nethub.verifyenv`).

:func:`integrity_findings` recomputes the digests and names each difference: which table,
column and row (with the connection's post gid or the cell's gid), which .mod file and line,
which embedded file and byte, which spike.
"""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from .verifyenv import environment
from .verifyhash import (
    INTEGRITY_VERSION,
    attrs_digest,
    dataset_digest,
    locate_change,
    results_digest,
    tree_digest,
    tree_sha256,
)

__all__ = ["network_trees", "run_integrity", "write_run_integrity", "read_integrity",
           "integrity_findings", "Difference", "compare_trees"]

INTEGRITY = "integrity"
#: largest cached tree document (bytes): HDF5 keeps attributes in a 64 KiB object header; a
#: network with more datasets (hundreds of embedded files) is hashed again for every run
MAX_CACHED = 48_000


def network_trees(f: h5py.File, cache: bool = True) -> dict[str, dict]:
    """``{"model": tree, "network": tree}`` of the store open as ``f``: the cached
    ``/network`` attribute when present (and ``cache``), else computed (and cached when the
    file is writable)."""
    net = f["network"]
    raw = net.attrs.get(INTEGRITY) if cache else None
    if raw is not None:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    trees = {"model": tree_digest(f["model"], "/model"),
             "network": tree_digest(net, "/network")}
    text = json.dumps(trees, separators=(",", ":"))
    if cache and f.mode == "r+" and len(text) <= MAX_CACHED:
        net.attrs[INTEGRITY] = text
    return trees


def run_integrity(f: h5py.File, run: h5py.Group) -> dict[str, Any]:
    """The integrity document of ``run`` (a run group of ``f``, its datasets written)."""
    trees = network_trees(f)
    res = results_digest(run)
    return {
        "integrity_version": INTEGRITY_VERSION,
        "model_sha256": tree_sha256(trees["model"]),
        "network_sha256": tree_sha256(trees["network"]),
        "results_sha256": tree_sha256(res),
        "model": trees["model"], "network": trees["network"], "results": res,
        "run": run_docs_digest(run),
        "environment": environment(),
    }


def run_docs_digest(run: h5py.Group) -> dict[str, dict[str, Any]]:
    """Digest of a run's JSON documents (sim_config, run_config, seeds, versions, ...) and of
    its attributes (``@attrs``: order, created, network_hash, nranks), keyed by name."""
    out = {name: dataset_digest(run[name]) for name in sorted(run)
           if isinstance(run[name], h5py.Dataset) and name != INTEGRITY}
    attrs = attrs_digest(run)
    if attrs is not None:
        out["@attrs"] = attrs
    return out


def write_run_integrity(f: h5py.File, run: h5py.Group) -> None:
    """Record the run's integrity document as its ``integrity`` JSON dataset."""
    text = json.dumps(run_integrity(f, run), separators=(",", ":"))
    run.create_dataset(INTEGRITY, data=text, dtype=h5py.string_dtype("utf-8"))


def read_integrity(run: h5py.Group) -> dict[str, Any] | None:
    """A run's integrity document, or None for a run written before nethub recorded one."""
    if INTEGRITY not in run:
        return None
    raw = run[INTEGRITY][()]
    return json.loads(raw.decode() if isinstance(raw, bytes) else raw)


# ----------------------------------------------------------------------------- comparing
class Difference(dict):
    """One located difference: ``where`` (HDF5 path), ``what`` (a sentence naming it)."""

    @property
    def where(self) -> str:
        return self["where"]

    @property
    def what(self) -> str:
        return self["what"]


def compare_trees(f: h5py.File, old: dict, new: dict, base: str = "") -> list[Difference]:
    """What differs between two tree digests of ``f`` (``old``: recorded), each named."""
    out = []
    for path in sorted(set(old) | set(new)):
        a, b = old.get(path), new.get(path)
        if a is not None and b is not None and a["sha256"] == b["sha256"]:
            continue
        where = base + path
        if b is None:
            out.append(Difference(where=where, what=f"{_name(f, where)}: removed"))
        elif a is None:
            out.append(Difference(where=where, what=f"{_name(f, where)}: added"))
        elif path.endswith("@attrs"):
            out.append(Difference(where=where, what=f"{_name(f, where[:-6].rstrip('/'))}: "
                                  + _attrs_change(a.get("values"), b.get("values"))))
        else:
            out.append(Difference(where=where, what=_changed(f, where, a, b)))
    return out


def _attrs_change(old: dict | None, new: dict | None) -> str:
    """``attribute 'nranks' 1 -> 3`` for each attribute that differs (values shortened)."""
    if old is None or new is None:
        return "attributes changed"
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "; ".join(f"attribute {k!r} {_short(old.get(k))} -> {_short(new.get(k))}"
                     for k in keys) or "attributes changed"


def _short(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _changed(f: h5py.File, where: str, a: dict, b: dict) -> str:
    name = _name(f, where)
    if a["shape"] != b["shape"] or a["dtype"] != b["dtype"]:
        return (f"{name}: was {a['dtype']} {tuple(a['shape'])}, now {b['dtype']} "
                f"{tuple(b['shape'])}")
    pos = locate_change(a, b)
    if pos is None:
        return f"{name}: content changed (more than one element)"
    return f"{name}: {_element(f, where, pos, b)} changed"


def _attr(obj: h5py.HLObject, key: str) -> str | None:
    v = obj.attrs.get(key)
    return v.decode() if isinstance(v, bytes) else (str(v) if v is not None else None)


def _name(f: h5py.File, where: str) -> str:
    """A reader's name for an HDF5 path: table column, .mod file, embedded file, ..."""
    parts = where.strip("/").split("/")
    obj = f.get(where)
    if parts[0] == "model" and len(parts) == 3 and parts[1] in ("mod_files", "files") and obj:
        label = "mod file" if parts[1] == "mod_files" else "embedded file"
        role = _attr(obj, "role")
        return f"{label} {_attr(obj, 'name')!r}" + (f" ({role})" if role else "")
    col = _column_name(f, parts)
    if col is not None:
        return col
    if parts[0] == "model" and len(parts) == 2:
        return f"model document {parts[1]!r}"
    if parts[0] == "results" and len(parts) == 2:
        return f"run {parts[1]!r}"
    if parts[0] == "results" and len(parts) > 2:
        return f"run {parts[1]!r} {'/'.join(parts[2:]) or 'attributes'}"
    return where


def _column_name(f: h5py.File, parts: list[str]) -> str | None:
    """``table 'connections' column 'weight'`` for a path inside a table's ``c<i>``."""
    for i, part in enumerate(parts):
        if part[:1] == "c" and part[1:].isdigit() and i > 0:
            table = f.get("/" + "/".join(parts[:i]))
            cols = table.attrs.get("columns") if table is not None else None
            if cols is None:
                return None
            try:
                meta = json.loads(cols)[int(part[1:])]
            except (ValueError, IndexError, TypeError):
                return None
            tail = "/".join(parts[i + 1:])
            return (f"table {'/'.join(parts[:i])!r} column {meta['name']!r}"
                    + (f" ({tail})" if tail else ""))
    return None


def _element(f: h5py.File, where: str, pos: int, digest: dict) -> str:
    """``row 17 (post gid 3)``, ``line 12``, ``byte 40``, ``element (3, 5)`` of a dataset."""
    ds = f.get(where)
    shape = tuple(digest["shape"])
    if digest.get("text") and isinstance(ds, h5py.Dataset):
        raw = ds[()]
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        line = data[:pos].count(b"\n") + 1
        return f"byte {pos} (line {line}: {_line(data, pos)!r})"
    if len(shape) > 1:
        return f"element {tuple(int(i) for i in np.unravel_index(pos, shape))}"
    parts = where.strip("/").split("/")
    if parts[0] == "model" and parts[1:2] == ["files"]:
        data = ds[()].tobytes() if isinstance(ds, h5py.Dataset) else b""
        line = data[:pos].count(b"\n") + 1
        return f"byte {pos} (line {line})"
    return _row(f, parts, pos, ds)


def _line(data: bytes, pos: int) -> str:
    """The text around byte ``pos``: its line, cut to 40 bytes either side."""
    start = max(data.rfind(b"\n", 0, pos) + 1, pos - 40)
    end = data.find(b"\n", pos)
    end = min(end if end >= 0 else len(data), pos + 40)
    return data[start:end].decode("utf-8", "replace")


def _row(f: h5py.File, parts: list[str], pos: int, ds: Any) -> str:
    """Row ``pos`` of a table column or a results vector, with the gid it belongs to and its
    value now."""
    facts = []
    if "spikes" in parts:
        run = f["/" + "/".join(parts[:parts.index("spikes")])]
        if len(run["spikes/gid"]) > pos:
            facts.append(f"gid {int(run['spikes/gid'][pos])}")
        label = f"spike {pos}"
    elif parts[-1] in ("values", "offsets", "codes", "categories"):
        label = f"{parts[-1]}[{pos}]"
    else:
        label = f"row {pos}"
        if len(parts) >= 3 and parts[0] == "network":
            facts.append(_gid_of_row(f, f["/" + "/".join(parts[:2])], pos))
    if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and pos < len(ds):
        item = ds[pos]
        facts.append(f"now {item.item() if hasattr(item, 'item') else item!r}")
    facts = [x for x in facts if x]
    return label + (f" ({', '.join(facts)})" if facts else "")


def _gid_of_row(f: h5py.File, table: h5py.Group, pos: int) -> str:
    """`` of post gid 3`` for a CSR-indexed table, `` (gid 3)`` for cells."""
    try:
        if "post_offsets" in table:
            offsets = table["post_offsets"][()]
            cells = f["network/cells"]
            meta = [m["name"] for m in json.loads(cells.attrs["columns"])]
            gids = cells[f"c{meta.index('gid')}"][()]
            cell = int(np.searchsorted(offsets, pos, side="right")) - 1
            return f"post gid {int(gids[cell])}"
        meta = [m["name"] for m in json.loads(table.attrs["columns"])]
        if "gid" in meta:
            key = "c" + str(meta.index("gid"))
            gid = int(table[key][pos])
            return f"gid {gid}"
    except (KeyError, ValueError, IndexError, TypeError):
        pass
    return ""


# ----------------------------------------------------------------------------- the check
def integrity_findings(f: h5py.File, runs: list[str] | None = None,
                       current: dict | None = None) -> list[dict[str, Any]]:
    """Compare the store open as ``f`` with the integrity documents of its runs (all, or
    those named); ``current`` is :func:`network_trees` of ``f`` if already computed.

    Returns
    -------
    list of dict
        Each with ``level`` ('error', or 'note' for what cannot be checked), ``run``,
        ``where`` (HDF5 path) and ``what``. Empty when every recorded hash still matches.
    """
    res = f.get("results")
    names = runs if runs is not None else (
        [k for k in res if not k.startswith(".")] if isinstance(res, h5py.Group) else [])
    out: list[dict[str, Any]] = []
    for name in names:
        run = res[name]
        doc = read_integrity(run)
        if doc is None:
            out.append({"level": "note", "run": name, "where": f"/results/{name}",
                        "what": "written without integrity hashes (before nethub recorded "
                                "them): its results, model and embedded files cannot be "
                                "checked byte for byte; only the network's content hash can"})
            continue
        if current is None:
            current = network_trees(f, cache=False)
        diffs = compare_trees(f, doc["model"], current["model"])
        diffs += compare_trees(f, doc["network"], current["network"])
        diffs += compare_trees(f, doc["results"], results_digest(run), f"/results/{name}/")
        diffs += compare_trees(f, doc.get("run", {}), run_docs_digest(run), f"/results/{name}/")
        out += [{"level": "error", "run": name, **d} for d in diffs]
    return _dedupe(out)


def _dedupe(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A model or network change seen by several runs is said once (naming the runs)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for item in findings:
        key = (item["where"], item["what"])
        if key in seen and item["where"].startswith(("/model", "/network")):
            seen[key]["run"] += f", {item['run']}"
            continue
        seen[key] = dict(item)
    return list(seen.values())
