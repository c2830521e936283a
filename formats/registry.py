"""The registry of format plugins: lookup by name, by content (sniffing) and by suffix.

Plugins come from three places, in this order of precedence:

1. the built-in formats of nethub (``BUILTINS``), registered without entry points so that a
   source checkout works;
2. ``register(cls)`` calls at run time (e.g. a third-party plugin registered by a script);
3. the ``nethub.formats`` entry point group of installed packages, loaded lazily: names are
   known at the first lookup, a plugin module is imported when it is needed.

An entry point whose name is already taken is ignored (the store entry point that nethub
itself declares duplicates the built-in one).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nethub.errors import NoFormatError

from .base import Format

__all__ = [
    "FormatRegistry",
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "default_registry",
    "register",
    "unregister",
    "get_format",
    "formats",
    "guess_format",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "nethub.formats"
#: Built-in plugins: name -> "module:class", imported on first use.
BUILTINS: dict[str, str] = {
    "store": "nethub.formats.store:StoreFormat",
    "netpyne-json": "nethub.formats.netpyne:NetpyneJsonFormat",
    "netpyne-pickle": "nethub.formats.netpyne:NetpynePickleFormat",
    "netpyne-mat": "nethub.formats.netpyne:NetpyneMatFormat",
    "csv": "nethub.formats.csv:CsvFormat",
    "spec-json": "nethub.formats.spec:SpecJsonFormat",
    "spec-py": "nethub.formats.spec:SpecPyFormat",
    "sonata": "nethub.formats.sonata_format:SonataFormat",
    "neuroml": "nethub.formats.neuroml.plugin:NeuroMLFormat",
    "neuron-script": "nethub.formats.neuron_script:NeuronScriptFormat",
    "nwb": "nethub.formats.nwb.plugin:NwbFormat",
}
MODES = ("read", "write")


def _import_string(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class FormatRegistry:
    """A set of format plugins keyed by name.

    Parameters
    ----------
    builtins : dict of str to str
        Plugins known from the start, as ``"module:Class"`` strings imported on first use.
    group : str or None
        Entry point group scanned at the first lookup; None disables entry points.
    """

    def __init__(self, builtins: dict[str, str] | None = None,
                 group: str | None = ENTRY_POINT_GROUP) -> None:
        self._formats: dict[str, Format] = {}
        self._pending: dict[str, Any] = dict(BUILTINS if builtins is None else builtins)
        self._group = group
        self._scanned = group is None

    # ------------------------------------------------------------------ loading
    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for ep in importlib.metadata.entry_points(group=self._group):
            if ep.name in self._formats or ep.name in self._pending:
                logger.debug("entry point %s = %s: name taken, ignored", ep.name, ep.value)
                continue
            self._pending[ep.name] = ep

    def _load(self, name: str) -> None:
        target = self._pending.pop(name)
        where = target if isinstance(target, str) else target.value
        try:
            cls = _import_string(target) if isinstance(target, str) else target.load()
            self.register(cls)
        except Exception as exc:  # a broken third-party plugin must not break nethub
            logger.warning("cannot load format plugin %r from %s: %s: %s", name, where,
                           type(exc).__name__, exc)
            return
        if cls.name != name:
            logger.warning("format plugin %s is registered as %r, not %r", where, cls.name, name)

    def _load_all(self) -> None:
        self._scan()
        for name in list(self._pending):
            if name in self._pending:
                self._load(name)

    # ------------------------------------------------------------------ public
    def register(self, cls: type[Format], *, replace: bool = False) -> type[Format]:
        """Add a plugin class; usable as a class decorator.

        Parameters
        ----------
        cls : subclass of Format
        replace : bool
            Allow replacing another class registered under the same name.

        Raises
        ------
        TypeError
            ``cls`` is not a :class:`Format` subclass.
        ValueError
            It has no name, or the name is taken by another class and ``replace`` is False.
        """
        if not (isinstance(cls, type) and issubclass(cls, Format)):
            raise TypeError(f"{cls!r} is not a subclass of nethub.formats.Format")
        if not cls.name or cls.name != cls.name.lower():
            raise ValueError(f"format plugin {cls.__name__} needs a lower-case 'name'")
        old = self._formats.get(cls.name)
        if old is not None and type(old) is not cls and not replace:
            raise ValueError(
                f"format name {cls.name!r} is taken by {type(old).__module__}."
                f"{type(old).__qualname__}; pass replace=True to replace it"
            )
        self._formats[cls.name] = cls()
        self._pending.pop(cls.name, None)
        return cls

    def unregister(self, name: str) -> None:
        """Forget the format ``name`` (no error if it is unknown)."""
        self._formats.pop(name, None)
        self._pending.pop(name, None)

    def names(self) -> list[str]:
        """Names of all known formats, without importing any plugin."""
        self._scan()
        return sorted({*self._formats, *self._pending})

    def get(self, name: str) -> Format:
        """The plugin registered as ``name``.

        Raises
        ------
        NoFormatError
            No format of that name; the message lists the valid names.
        """
        key = name.lower()
        if key not in self._formats:
            self._scan()
            if key in self._pending:
                self._load(key)
        if key not in self._formats:
            raise NoFormatError(f"unknown format {name!r} (valid: {', '.join(self.names())})")
        return self._formats[key]

    def formats(self) -> list[Format]:
        """All plugins (loading every entry point), in registration order."""
        self._load_all()
        return list(self._formats.values())

    def guess(self, path: str | os.PathLike, mode: str = "read",
              format: str | Format | None = None) -> Format:
        """The plugin to ``mode`` ('read' or 'write') ``path`` with.

        An explicit ``format`` wins; when reading an existing file, plugins are asked to sniff
        its content (those claiming its suffix first); otherwise, or when no plugin recognises
        the content, the longest matching suffix decides. Writing never sniffs: the existing
        file is about to be replaced, so its content says nothing about what is wanted.

        Raises
        ------
        NoFormatError
            ``format`` is unknown or cannot ``mode``, or nothing matches ``path``.
        MissingExtraError
            The matching format needs an optional dependency that is not installed.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be 'read' or 'write', not {mode!r}")
        if format is not None:
            return self._explicit(format, mode)
        capable = [f for f in self.formats() if _can(f, mode)]
        by_suffix = _longest_suffix_matches(capable, path, mode)
        sniffed = mode == "read" and os.path.exists(path)
        if sniffed:
            for fmt in by_suffix + [f for f in capable if f not in by_suffix]:
                if _sniff(fmt, path):
                    logger.debug("%s: content matches format %r", path, fmt.name)
                    fmt.check_available()
                    return fmt
        if by_suffix:
            ready = [f for f in by_suffix if f.available]
            fmt = ready[0] if ready else by_suffix[0]
            logger.debug("%s: suffix matches format %r", path, fmt.name)
            fmt.check_available()
            return fmt
        raise NoFormatError(_no_match_message(path, mode, capable, sniffed))

    def _explicit(self, format: str | Format, mode: str) -> Format:
        fmt = format if isinstance(format, Format) else self.get(format)
        if not _can(fmt, mode):
            able = [f.name for f in self.formats() if _can(f, mode)]
            raise NoFormatError(
                f"format '{fmt.name}' cannot {mode} (formats that can: {', '.join(able)})"
            )
        fmt.check_available()
        return fmt


def _can(fmt: Format, mode: str) -> bool:
    return fmt.can_read if mode == "read" else fmt.can_write


def _longest_suffix_matches(fmts: Iterable[Format], path: str | os.PathLike,
                            mode: str = "read") -> list[Format]:
    hits = [(f, f.matches_suffix(path, mode)) for f in fmts]
    hits = [(f, s) for f, s in hits if s]
    if not hits:
        return []
    longest = max(len(s) for _, s in hits)
    return [f for f, s in hits if len(s) == longest]


def _sniff(fmt: Format, path: str | os.PathLike) -> bool:
    try:
        return bool(fmt.sniff(path))
    except Exception as exc:  # a sniffer must never stop the search
        logger.debug("sniffing %s as %r failed: %s", path, fmt.name, exc)
        return False


def _no_match_message(path: str | os.PathLike, mode: str, capable: list[Format],
                      sniffed: bool) -> str:
    suffix = Path(path).suffix or "(none)"
    known = "; ".join(f"{f.name}: {', '.join(f.suffixes)}" for f in capable if f.suffixes)
    content = " and its content matched no format" if sniffed else ""
    return (
        f"no format can {mode} '{path}': its suffix {suffix} is not known{content} "
        f"(known suffixes to {mode}: {known or 'none'}); name a format explicitly "
        f"(valid: {', '.join(f.name for f in capable)})"
    )


#: The registry the module-level functions use.
default_registry = FormatRegistry()


def register(cls: type[Format], *, replace: bool = False) -> type[Format]:
    """Register a format plugin class in the default registry (usable as a decorator).

    Parameters
    ----------
    cls : subclass of Format
    replace : bool
        Allow replacing another class registered under the same name.

    Returns
    -------
    type
        ``cls`` itself.
    """
    return default_registry.register(cls, replace=replace)


def unregister(name: str) -> None:
    """Remove the format ``name`` from the default registry."""
    default_registry.unregister(name)


def get_format(name: str) -> Format:
    """The format plugin registered as ``name``.

    Raises
    ------
    NoFormatError
        Unknown name; the message lists the valid ones.
    """
    return default_registry.get(name)


def formats() -> list[Format]:
    """All registered format plugins (built-in, registered and from entry points)."""
    return default_registry.formats()


def guess_format(path: str | os.PathLike, mode: str = "read",
                 format: str | Format | None = None) -> Format:
    """The format plugin to read or write ``path`` with.

    Parameters
    ----------
    path : path-like
    mode : {'read', 'write'}
    format : str or Format, optional
        An explicit choice, which wins over content and suffix.

    Returns
    -------
    Format

    Raises
    ------
    NoFormatError
        Unknown explicit name, or no format matches the file.
    MissingExtraError
        A format matches but its optional dependency is not installed.
    """
    return default_registry.guess(path, mode, format)
