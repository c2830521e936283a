"""Resource guards: refuse work that cannot fit before allocating it.

- **Memory**: :func:`check_memory` compares an estimate (bytes) with the limit, by default the
  machine's physical memory (``os.sysconf``); the environment variable ``NETHUB_MAX_MEMORY``
  (``"64G"``, ``"500M"``, a number of bytes, or ``"off"``) overrides it, and so does
  ``--max-memory`` on ``nethub build`` / ``nethub run``. The estimates are deliberately low
  (what the result itself needs, not the temporaries), so a refusal means "certainly too big".
- **Nesting and sharing** of data read from files (JSON, trusted pickles): :func:`check_tree`
  measures a loaded object's depth and its size *as a tree* (a list referenced 2**30 times
  counts 2**30 times, as every later walk over it would) in time proportional to the distinct
  objects, and refuses beyond :data:`MAX_DEPTH` / :data:`MAX_NODES` or on a cycle.
  :func:`loads_json` turns the decoder's RecursionError on very deep input into the same error.

No NEURON, mpi4py or matplotlib here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from .errors import NethubError

__all__ = ["ResourceLimitError", "MAX_DEPTH", "MAX_NODES", "MEMORY_ENV", "memory_limit",
           "set_memory_limit", "check_memory", "check_tree", "loads_json", "format_bytes",
           "parse_bytes"]

#: deepest nesting accepted in JSON/pickle data (NetPyNE specs and outputs nest < 15 levels)
MAX_DEPTH = 100
#: most nodes (containers and scalars, shared ones counted at each reference) in loaded data
MAX_NODES = 200_000_000
#: environment variable overriding the memory limit ("off" disables the check)
MEMORY_ENV = "NETHUB_MAX_MEMORY"

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class ResourceLimitError(NethubError, MemoryError):
    """A model or file would need more memory, nesting or nodes than nethub allows."""


def parse_bytes(text: str) -> int | None:
    """``"64G"`` -> bytes; ``"off"``/``"none"``/``"0"`` -> None (no limit)."""
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    if t in ("OFF", "NONE", "0", ""):
        return None
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:E[0-9]+)?)\s*([KMGT]?)", t)
    if not m:
        raise ValueError(f"{MEMORY_ENV}: cannot read {text!r} as a size (e.g. 64G, 500M, off)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_bytes(n: float) -> str:
    """``1.5 GiB``-style rendering."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} PiB"


def memory_limit() -> int | None:
    """The limit in bytes (``NETHUB_MAX_MEMORY``, else physical memory), None if off."""
    env = os.environ.get(MEMORY_ENV)
    if env is not None:
        return parse_bytes(env)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def set_memory_limit(size: str | None) -> None:
    """Apply ``--max-memory SIZE`` (checked, then exported as ``NETHUB_MAX_MEMORY`` so that
    MPI ranks started from here see it too); None leaves the limit as it is."""
    if size is None:
        return
    try:
        parse_bytes(size)
    except ValueError as exc:
        raise ResourceLimitError(f"--max-memory: {exc}") from None
    os.environ[MEMORY_ENV] = str(size)


def check_memory(nbytes: float, what: str) -> None:
    """Raise :class:`ResourceLimitError` if ``nbytes`` exceeds :func:`memory_limit`.

    ``what`` says what needs the memory, with its key path (``"popParams['E']: 1e9 cells"``).
    """
    limit = memory_limit()
    if limit is None or nbytes <= limit:
        return
    source = (f"{MEMORY_ENV}={os.environ[MEMORY_ENV]}" if MEMORY_ENV in os.environ
              else "this machine's memory")
    raise ResourceLimitError(
        f"{what} would need at least {format_bytes(nbytes)}, more than {source} "
        f"({format_bytes(limit)}); if that is intended, raise the limit with --max-memory SIZE "
        f"or {MEMORY_ENV}=SIZE (or 'off')")


def check_tree(obj: Any, where: str, max_depth: int = MAX_DEPTH,
               max_nodes: int = MAX_NODES) -> None:
    """Refuse data nested deeper than ``max_depth``, larger than ``max_nodes`` as a tree, or
    holding a reference cycle. Runs in time proportional to the distinct containers."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    keep: list[Any] = []  # keeps ids valid while walking
    stack: list[tuple[Any, bool]] = [(obj, False)]
    open_ids: set[int] = set()
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if children is None:
            continue
        i = id(node)
        if done:
            open_ids.discard(i)
            kids = [c for c in children if _children(c) is not None]
            n_leaves = len(children) - len(kids)
            size[i] = 1 + n_leaves + sum(size[id(c)] for c in kids)
            depth[i] = 1 + max((depth[id(c)] for c in kids), default=0)
            if depth[i] > max_depth:
                raise ResourceLimitError(f"{where}: data nested deeper than {max_depth} levels")
            if size[i] > max_nodes:
                raise ResourceLimitError(
                    f"{where}: data expands to more than {max_nodes:,} values (shared "
                    "references counted at each use); refusing to walk it")
            continue
        if i in size:
            continue
        if i in open_ids:
            raise ResourceLimitError(f"{where}: data refers to itself (a reference cycle)")
        if len(open_ids) >= max_depth:
            raise ResourceLimitError(f"{where}: data nested deeper than {max_depth} levels")
        open_ids.add(i)
        keep.append(node)
        stack.append((node, True))
        stack.extend((c, False) for c in children if _children(c) is not None)


def _children(node: Any) -> list | None:
    if isinstance(node, Mapping):
        return [*node.keys(), *node.values()]
    if isinstance(node, (list, tuple, set, frozenset)):
        return list(node)
    return None


def loads_json(text: str | bytes, where: str) -> Any:
    """``json.loads`` with the nesting bounded; JSON errors stay ``json.JSONDecodeError``."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise ResourceLimitError(f"{where}: JSON nested deeper than Python can read") from None
    check_tree(data, where)
    return data
