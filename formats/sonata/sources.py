"""The source documents of a store travel through a SONATA export and back.

A SONATA import embeds the files it read (configs, role ``sonata-config``; type CSVs,
``type-table``) verbatim; they take part in the content hash (docs/store.md §7). An export
regenerates its configs, so a re-import would embed different documents and change the hash.
Instead the export writes the store's source documents back verbatim under ``sources/`` with a
record (``sources/nethub_sources.json``) of the SHA-256 of every config and CSV it generated.
An import whose files read are exactly those generated ones (unchanged since the export, read
through one of the configs the record names) embeds the recorded documents: the documents the
network came from. Edit any of them and the import embeds what it read, as always.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from nethub.errors import FormatError

__all__ = ["RECORD", "write_sources", "recorded_documents"]

log = logging.getLogger(__name__)

#: The record, relative to the exported folder.
RECORD = "sources/nethub_sources.json"
_GENERATED = ("*.json", "network/*.csv")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sources(folder: Path, documents: Sequence[tuple[str, str, bytes]],
                  tops: Sequence[str]) -> None:
    """Write ``documents`` ((name, role, bytes), in the store's order) under ``sources/`` and
    the record; call after every config and type CSV of the export is written.

    ``tops`` are the exported configs through which the documents describe what is read
    (the simulation configs when the documents hold one, else the circuit config)."""
    if not documents:
        return
    generated = {p.relative_to(folder).as_posix(): _sha(p)
                 for pattern in _GENERATED for p in sorted(folder.glob(pattern))}
    entries = []
    for i, (name, role, data) in enumerate(documents):
        rel = f"sources/{i}/{Path(name).name}"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append({"name": name, "role": role, "file": rel,
                        "sha256": hashlib.sha256(data).hexdigest()})
    record = {"format": "nethub-sonata-sources", "version": 1, "tops": list(tops),
              "generated": generated, "documents": entries}
    (folder / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def recorded_documents(top: Path, read: Sequence[Path]
                       ) -> list[tuple[str, bytes, str]] | None:
    """The recorded source documents ((name, bytes, role)) when ``top`` (the config given to
    the import) is an unchanged nethub export and ``read`` (every config and type CSV the
    import read) are the files it generated; else None."""
    folder = top.parent
    path = folder / RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        generated, tops, entries = record["generated"], record["tops"], record["documents"]
    except (ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{path}: not a source documents record ({exc})") from None
    if top.name not in tops:
        return None
    for p in read:
        try:
            rel = p.resolve().relative_to(folder.resolve()).as_posix()
        except ValueError:
            return None
        if generated.get(rel) != _sha(p):
            log.info("%s: %s changed since the export; embedding the files read", path, rel)
            return None
    docs = []
    for e in entries:
        src = (folder / str(e["file"])).resolve()
        if folder.resolve() not in src.parents:
            raise FormatError(f"{path}: documents[{e['name']!r}]: {e['file']} is outside "
                              "the folder")
        data = src.read_bytes()
        if hashlib.sha256(data).hexdigest() != e["sha256"]:
            raise FormatError(f"{path}: documents[{e['name']!r}]: {e['file']} does not match "
                              "its recorded sha256")
        docs.append((e["name"], data, e["role"]))
    return docs
