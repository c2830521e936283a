"""Manifests: a human-readable JSON sign-off of a store, deposited beside it.

A manifest says what the store holds (network counts and content hash, embedded files and
.mod sources with their SHA-256, the runs with their results hashes), who signed it off when,
with which tools, and carries the digests (:mod:`nethub.verifyhash`) that let
:func:`check_manifest` (``nethub verify --manifest``) name whatever changed since. The file's
own SHA-256 is recorded too; it alone may change without the content changing (nethub caches
hashes as attributes in place), so the content is what is compared.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import h5py

from .errors import FormatError
from .store import atomic_path, open_store, read_network
from .verifycheck import compare_trees, network_trees, read_integrity
from .verifyenv import environment
from .verifyhash import results_digest, tree_sha256
from .version import __version__

__all__ = ["make_manifest", "write_manifest", "check_manifest", "MANIFEST_FORMAT"]

MANIFEST_FORMAT = "nethub-manifest"
MANIFEST_VERSION = 1


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 23):
            h.update(block)
    return h.hexdigest()


def _attr(obj: h5py.HLObject, key: str, default: Any = None) -> Any:
    v = obj.attrs.get(key, default)
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if hasattr(v, "item") else v


def _runs(f: h5py.File) -> list[dict[str, Any]]:
    res = f.get("results")
    names = sorted((k for k in res if not k.startswith(".")),
                   key=lambda k: int(res[k].attrs.get("order", 0))) if res else []
    out = []
    for name in names:
        g = res[name]
        doc = read_integrity(g) or {}
        versions = json.loads(g["versions"][()]) if "versions" in g else {}
        out.append({
            "name": name, "created": _attr(g, "created"), "nranks": _attr(g, "nranks"),
            "network_hash": _attr(g, "network_hash"), "n_spikes": int(g["spikes/time"].shape[0]),
            "results_sha256": tree_sha256(results_digest(g)),
            "recorded_results_sha256": doc.get("results_sha256"),
            "versions": versions,
        })
    return out


def make_manifest(store: str | os.PathLike, author: str | None = None,
                  note: str | None = None) -> dict[str, Any]:
    """The manifest of ``store`` (a JSON-able dict; see the module docstring).

    Parameters
    ----------
    author : str, optional
        Who signs it off (default: the login name).
    note : str, optional
        Free text (a paper, a DOI, a dataset id).
    """
    path = Path(store)
    net = read_network(path)
    with open_store(path) as f:
        trees = network_trees(f, cache=False)
        header = {k: _attr(f, k) for k in ("format", "schema_version", "creator", "created")}
        runs = _runs(f)
    return {
        "manifest": MANIFEST_FORMAT, "manifest_version": MANIFEST_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "author": author or _login(), "note": note,
        "tool": {"name": "nethub", "version": __version__, "environment": environment()},
        "store": {"file": path.name, "bytes": path.stat().st_size,
                  "sha256": file_sha256(path), **header},
        "network": {"content_hash": net.content_hash(), "n_cells": net.n_cells,
                    "n_connections": net.n_connections,
                    "populations": {k: v.get("cells") if isinstance(v, dict) else v
                                    for k, v in net.summary().get("populations", {}).items()},
                    "model_sha256": tree_sha256(trees["model"]),
                    "network_sha256": tree_sha256(trees["network"])},
        "mod_files": [{"name": k, "sha256": hashlib.sha256(v.encode()).hexdigest()}
                      for k, v in net.mod_files.items()],
        "files": [{"name": e.name, "role": e.role, "bytes": len(e.data), "sha256": e.sha256}
                  for e in net.files.values()],
        "runs": runs,
        "digests": trees,
    }


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def write_manifest(store: str | os.PathLike, output: str | os.PathLike | None = None,
                   author: str | None = None, note: str | None = None) -> Path:
    """Write the manifest of ``store`` to ``output`` (default ``<store>.manifest.json``
    beside it), atomically; returns its path."""
    out = Path(output) if output is not None else Path(f"{store}.manifest.json")
    doc = make_manifest(store, author, note)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """A manifest file, checked to be one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: cannot read the manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("manifest") != MANIFEST_FORMAT:
        raise FormatError(f"{path}: not a nethub manifest (key 'manifest' must be "
                          f"{MANIFEST_FORMAT!r})")
    if int(doc.get("manifest_version", 0)) > MANIFEST_VERSION:
        raise FormatError(f"{path}: manifest version {doc['manifest_version']} is newer than "
                          f"this nethub reads ({MANIFEST_VERSION}): upgrade nethub")
    return doc


def check_manifest(manifest: str | os.PathLike, store: str | os.PathLike,
                   current: dict | None = None) -> list[dict[str, Any]]:
    """What differs between ``store`` and the ``manifest`` signed off for it (``current``:
    the store's :func:`~nethub.verifycheck.network_trees`, if already computed).

    Returns
    -------
    list of dict
        ``where`` and ``what`` per difference (network, .mod file, embedded file, table
        column and row, run); empty when the store holds what the manifest says.
    """
    doc = read_manifest(manifest)
    path = Path(store)
    out: list[dict[str, Any]] = []
    with open_store(path) as f:
        now = current if current is not None else network_trees(f, cache=False)
        old = doc.get("digests") or {}
        for key in ("model", "network"):
            out += [dict(d) for d in compare_trees(f, old.get(key, {}), now[key])]
        runs = {r["name"]: r for r in _runs(f)}
    signed = {r["name"]: r for r in doc.get("runs", [])}
    for name in sorted(set(signed) | set(runs)):
        a, b = signed.get(name), runs.get(name)
        where = f"/results/{name}"
        if b is None:
            out.append({"where": where, "what": f"run {name!r} is missing"})
        elif a is None:
            out.append({"where": where, "what": f"run {name!r} was added after the manifest"})
        elif a.get("results_sha256") != b["results_sha256"]:
            out.append({"where": where, "what": f"run {name!r}: results changed (results "
                        f"hash {b['results_sha256'][:16]}..., manifest "
                        f"{str(a.get('results_sha256'))[:16]}...)"})
    return out
