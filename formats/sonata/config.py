"""SONATA circuit and simulation configs: JSON -> :class:`SonataConfig` (paths resolved).

Both dialects are read tolerantly:

* Allen/BMTK: a ``manifest`` of ``$VAR`` entries that may refer to each other; the old single
  ``config.json`` whose ``network`` and ``simulation`` members name the two other configs; a
  simulation config whose ``network`` names its circuit config.
* BBP/libsonata: ``populations`` blocks under each ``networks.nodes/edges`` entry, ``null`` type
  files, ``run.random_seed``, ``node_set``.

Substitution follows BMTK (``bmtk/utils/sonata/config/sonata_config.py``): ``$VAR`` and
``${VAR}`` in any string are replaced by the manifest value (manifest entries may use other
entries, in any order; a cycle or an unknown variable is an error naming the config file);
``configdir`` is predefined. Unlike BMTK (which leaves them relative to the working directory)
and like libsonata, relative paths of path-valued keys are resolved against the folder of the
config that holds them. ``output.spikes_file`` / ``log_file`` and a report's ``file_name`` stay
relative to ``output.output_dir`` (:meth:`SonataConfig.output_path`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nethub.errors import FormatError
from nethub.limits import loads_json

__all__ = ["SonataConfig", "NetworkFile", "load_config", "substitute", "PATH_KEYS"]

logger = logging.getLogger(__name__)

_VAR_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
#: Keys whose string values are paths (resolved against the config's folder) wherever they
#: occur; besides these, every key ending in ``_file`` or ``_dir`` is a path, except the
#: ones in :data:`_OUTPUT_RELATIVE`; so are the members of ``components`` and of a
#: population's ``alternate_morphologies``.
PATH_KEYS = frozenset({"network", "simulation", "morphologies_dir", "input_file",
                       "electrodes_file", "spike_file", "node_sets_file"})
#: Keys of ``output`` and ``reports`` that are relative to ``output.output_dir``, not to the
#: config's folder.
_OUTPUT_RELATIVE = frozenset({"spikes_file", "log_file", "file_name", "spikes_file_csv",
                              "spikes_file_nwb"})


@dataclass(frozen=True)
class NetworkFile:
    """One ``networks.nodes`` or ``networks.edges`` entry of a circuit config.

    Attributes
    ----------
    h5_file : Path
        ``nodes_file`` / ``edges_file``, absolute.
    types_file : Path or None
        ``node_types_file`` / ``edge_types_file``, absolute, or None when absent / ``null``.
    populations : dict
        The libsonata ``populations`` block: population name -> its (resolved) properties;
        empty when the config has none (then every population in the file is meant).
    """

    h5_file: Path
    types_file: Path | None
    populations: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SonataConfig:
    """A circuit and/or simulation config, with manifest variables substituted and paths made
    absolute.

    Attributes
    ----------
    path : Path
        The config file that was loaded (absolute).
    data : dict
        The merged, resolved document: a simulation config's ``network`` circuit config and an
        old ``config.json``'s two parts are merged in (the outer file's members win).
    sources : tuple of Path
        Every config file read, outer first.
    """

    path: Path
    data: dict[str, Any]
    sources: tuple[Path, ...]

    def section(self, name: str) -> dict[str, Any]:
        """The member ``name`` as a dict (empty if absent); FormatError if it is no object."""
        value = self.data.get(name, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise FormatError(f"{self.path}: '{name}' must be a JSON object, "
                              f"not {type(value).__name__}")
        return value

    @property
    def nodes(self) -> list[NetworkFile]:
        """The ``networks.nodes`` entries."""
        return self._network_files("nodes")

    @property
    def edges(self) -> list[NetworkFile]:
        """The ``networks.edges`` entries."""
        return self._network_files("edges")

    def _network_files(self, kind: str) -> list[NetworkFile]:
        entries = self.section("networks").get(kind, []) or []
        singular = kind[:-1]
        out = []
        for i, entry in enumerate(entries):
            where = f"{self.path}: networks.{kind}[{i}]"
            if not isinstance(entry, dict):
                raise FormatError(f"{where} must be a JSON object")
            h5 = entry.get(f"{singular}s_file")
            if not isinstance(h5, str):
                raise FormatError(f"{where}.{singular}s_file is missing (a path is required)")
            types = entry.get(f"{singular}_types_file")
            pops = entry.get("populations") or {}
            if not isinstance(pops, dict):
                raise FormatError(f"{where}.populations must be a JSON object")
            out.append(NetworkFile(Path(h5), Path(types) if isinstance(types, str) else None,
                                   {k: dict(v or {}) for k, v in pops.items()}))
        return out

    @property
    def components(self) -> dict[str, Any]:
        """The ``components`` block (paths resolved)."""
        return self.section("components")

    @property
    def node_sets_file(self) -> Path | None:
        """The ``node_sets_file``, absolute, or None."""
        value = self.data.get("node_sets_file")
        return Path(value) if isinstance(value, str) else None

    @property
    def node_set(self) -> str | None:
        """The simulation's top-level ``node_set`` (libsonata dialect), or None."""
        value = self.data.get("node_set")
        return value if isinstance(value, str) else None

    @property
    def run(self) -> dict[str, Any]:
        """The ``run`` block (tstop, dt, dL, spike_threshold, random_seed, ...)."""
        return self.section("run")

    @property
    def conditions(self) -> dict[str, Any]:
        """The ``conditions`` block (celsius, v_init, ...)."""
        return self.section("conditions")

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """The ``inputs`` block: input name -> its properties."""
        return self.section("inputs")

    @property
    def reports(self) -> dict[str, dict[str, Any]]:
        """The ``reports`` block: report name -> its properties."""
        return self.section("reports")

    @property
    def output(self) -> dict[str, Any]:
        """The ``output`` block."""
        return self.section("output")

    def output_path(self, key_or_name: str) -> Path:
        """An output file's absolute path: ``output[key]`` if that key exists (e.g.
        ``"spikes_file"``), else ``key_or_name`` itself, relative to ``output.output_dir``."""
        out = self.output
        name = out.get(key_or_name, key_or_name)
        base = Path(out.get("output_dir", self.path.parent / "output"))
        if not base.is_absolute():
            base = self.path.parent / base
        return Path(os.path.normpath(base / name))


def load_config(path: str | os.PathLike[str], variables: Mapping[str, Any] | None = None
                ) -> SonataConfig:
    """Read a SONATA circuit config, simulation config or old-style ``config.json``.

    Parameters
    ----------
    path : path-like
        The JSON file.
    variables : mapping, optional
        Extra substitution variables (names without ``$``); they win over the manifest, as
        BMTK's keyword arguments do.

    Returns
    -------
    SonataConfig

    Raises
    ------
    FormatError
        Unreadable JSON, unresolvable manifest variables, malformed members, or configs that
        include each other; the message names the file and the key path.
    """
    path = Path(path).resolve()
    data, sources = _load_merged(path, dict(variables or {}), ())
    return SonataConfig(path, data, sources)


def read_json_object(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A JSON file holding one object (nesting bounded), or a FormatError naming ``path`` and
    ``what`` it should be (e.g. ``"SONATA config"``, ``"node sets file"``)."""
    try:
        with open(path, "rb") as fh:
            doc = loads_json(fh.read(), str(path))
    except FileNotFoundError as exc:
        raise FormatError(f"{what} {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: not a readable {what} ({exc})") from exc
    if not isinstance(doc, dict):
        raise FormatError(f"{path}: a {what} must be a JSON object")
    return doc


def _load_merged(path: Path, variables: dict[str, Any], seen: tuple[Path, ...]
                 ) -> tuple[dict[str, Any], tuple[Path, ...]]:
    if path in seen:
        raise FormatError(f"{path}: configs include each other ({' -> '.join(map(str, seen))})")
    doc = read_json_object(path, "SONATA config")
    manifest = resolve_manifest(doc.get("manifest") or {}, path, variables)
    body = {k: v for k, v in doc.items() if k != "manifest"}
    resolved = substitute(body, manifest, path)
    resolved = _resolve_paths(resolved, path.parent, ())
    resolved["manifest"] = manifest
    sources: tuple[Path, ...] = (path,)
    merged: dict[str, Any] = {}
    for child in ("network", "simulation"):
        target = resolved.get(child)
        if isinstance(target, str) and target.endswith(".json"):
            sub, sub_sources = _load_merged(Path(target), variables, seen + (path,))
            sub.pop("manifest", None)
            merged.update(sub)
            sources += sub_sources
    merged.update(resolved)
    return merged, sources


def resolve_manifest(manifest: Mapping[str, Any], path: Path,
                     variables: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve a ``manifest`` block whose entries may refer to each other.

    Returns the variables by name (without ``$``), including the predefined ``configdir``
    and the caller's ``variables``; a relative path value (``./x``, ``../x``, ``.``) is made
    absolute against the config's folder.
    """
    if not isinstance(manifest, Mapping):
        raise FormatError(f"{path}: 'manifest' must be a JSON object")
    known: dict[str, Any] = {"configdir": str(path.parent), **variables}
    pending = {str(k).lstrip("$"): v for k, v in manifest.items()}
    pending = {k: v for k, v in pending.items() if k not in variables}
    while pending:
        done = {}
        for key, value in pending.items():
            if isinstance(value, str) and _unresolved(value, pending):
                continue
            value = substitute(value, known, path, f"manifest.${key}")
            if isinstance(value, str) and _looks_relative(value):
                value = os.path.normpath(path.parent / value)
            done[key] = value
        if not done:
            raise FormatError(f"{path}: manifest variables {sorted(pending)} refer to each "
                              "other in a cycle or to themselves")
        known.update(done)
        pending = {k: v for k, v in pending.items() if k not in done}
    return known


def _unresolved(value: str, pending: Mapping[str, Any]) -> bool:
    names = {a or b for a, b in _VAR_RE.findall(value)}
    return bool(names & set(pending))


def _looks_relative(value: str) -> bool:
    return value in (".", "..") or value.startswith(("./", "../"))


def substitute(obj: Any, variables: Mapping[str, Any], path: Path, where: str = "") -> Any:
    """Replace ``$VAR`` / ``${VAR}`` in every string of ``obj`` (recursively).

    A string that is exactly one variable takes the variable's value as is (a number stays a
    number, as in BMTK). An unknown variable is a FormatError naming the file and key path.
    """
    if isinstance(obj, str):
        return _substitute_str(obj, variables, path, where)
    if isinstance(obj, list):
        return [substitute(v, variables, path, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return {k: substitute(v, variables, path, f"{where}.{k}" if where else str(k))
                for k, v in obj.items()}
    return obj


def _substitute_str(text: str, variables: Mapping[str, Any], path: Path, where: str) -> Any:
    whole = _VAR_RE.fullmatch(text)
    if whole:
        name = whole.group(1) or whole.group(2)
        if name not in variables:
            raise FormatError(f"{path}: {where or 'value'} uses ${name}, which the manifest "
                              f"does not define (defined: {', '.join(sorted(variables))})")
        return variables[name]

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise FormatError(f"{path}: {where or 'value'} uses ${name}, which the manifest "
                              f"does not define (defined: {', '.join(sorted(variables))})")
        return str(variables[name])

    return _VAR_RE.sub(repl, text)


def _is_path_key(key: str, parents: tuple[str, ...]) -> bool:
    if key in _OUTPUT_RELATIVE and parents and parents[0] in ("output", "reports"):
        return False
    if key == "network" and parents:
        return False
    if key == "file" and parents and parents[0] == "inputs":  # BMTK's clamp files
        return True
    return key in PATH_KEYS or key.endswith(("_file", "_dir")) or (
        bool(parents) and (parents[0] == "components" or parents[-1] == "alternate_morphologies"))


def _resolve_paths(obj: Any, base: Path, parents: tuple[str, ...]) -> Any:
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if isinstance(value, str) and _is_path_key(key, parents) and value:
                out[key] = value if os.path.isabs(value) else os.path.normpath(base / value)
            else:
                out[key] = _resolve_paths(value, base, parents + (key,))
        return out
    if isinstance(obj, list):
        return [_resolve_paths(v, base, parents) for v in obj]
    return obj
