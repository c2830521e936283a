"""The plugin contract of an on-disk format, and the :class:`Document` that plugins exchange.

A format plugin is a subclass of :class:`Format` (one per module in ``formats/``, or in a
third-party package that advertises it in the ``nethub.formats`` entry point group)::

    class CsvFormat(Format):
        name = "csv"
        description = "tidy CSV tables of cells, connections and spikes"
        suffixes = (".csv",)
        can_read = can_write = True
        holds_results = True

        def sniff(self, path): ...
        def read(self, path, results=True, **opts): return Document(network=..., lost=[...])
        def write(self, doc, path, **opts): ...; return lost

Plugin modules must import their optional libraries inside the methods, never at module level,
so that the registry can list and sniff every format whether or not its extra is installed. The
built-in plugins also import the model, the store and the converters inside ``read``/``write``:
the registry loads every plugin to list or sniff formats (92-95 ms; 135-140 ms since the SONATA
plugin brings h5py), and importing those at module level would add ~200-270 ms (pandas, the store,
the converters) to every ``nethub formats``, ``info`` or format guess, measured 2026-12-07.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nethub.errors import MissingExtraError, NethubError

if TYPE_CHECKING:
    from nethub.network import Network
    from nethub.results import Results

__all__ = [
    "Format",
    "Document",
    "OptionError",
    "MissingDependencyError",
    "as_document",
    "select_run",
    "HDF5_MAGIC",
    "has_magic",
]

#: The 8-byte signature at the start of an HDF5 file (without a user block).
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class OptionError(NethubError, ValueError):
    """A read or write option is unknown to a format, or has an invalid value."""


class MissingDependencyError(MissingExtraError):
    """A third-party plugin's dependency is missing; it is no extra of nethub (``extra`` is
    None), so the message names the module to install."""

    def __init__(self, what: str, module: str):
        ImportError.__init__(self, f"{what} needs the optional dependency '{module}': "
                                   f"pip install {module}")
        self.extra = None  # type: ignore[assignment]
        self.module = module


@dataclass(eq=False)
class Document:
    """What a format plugin reads or writes: a network, simulation runs, and what was lost.

    Attributes
    ----------
    network : Network or None
        ``None`` when the file holds only results (e.g. a spike table).
    results : list of Results
        Simulation runs, oldest first.
    lost : list of str
        Human-readable notes of what could not be carried over while reading.
    """

    network: Network | None = None
    results: list[Results] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def as_document(obj: Any) -> Document:
    """Normalise what a user passes to ``nethub.save`` into a :class:`Document`.

    Parameters
    ----------
    obj : Document, Network, Results, or tuple (Network, Results or iterable of Results)

    Returns
    -------
    Document

    Raises
    ------
    TypeError
        ``obj`` is none of the accepted kinds.
    """
    from nethub.network import Network
    from nethub.results import Results

    if isinstance(obj, Document):
        return obj
    if isinstance(obj, Network):
        return Document(network=obj)
    if isinstance(obj, Results):
        return Document(results=[obj])
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], (Network, type(None))):
        runs = [obj[1]] if isinstance(obj[1], Results) else list(obj[1])
        if all(isinstance(r, Results) for r in runs):
            return Document(network=obj[0], results=runs)
    raise TypeError(
        f"cannot save a {type(obj).__name__}: expected a Network, Results, a Document or a "
        "tuple (Network, results)"
    )


def has_magic(path: str | os.PathLike, magic: bytes, offset: int = 0) -> bool:
    """Whether the file at ``path`` holds ``magic`` at byte ``offset`` (False for directories,
    missing or unreadable files)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(len(magic)) == magic
    except OSError:
        return False


class Format:
    """Base class of a format plugin (one on-disk format, read and/or written).

    Subclasses set the class attributes and override :meth:`sniff`, :meth:`read` and
    :meth:`write` as their ``can_read``/``can_write`` flags say. Instances are stateless; the
    registry creates one per class.

    Attributes
    ----------
    name : str
        Registry key, lower case (``'store'``, ``'neuroml'``, ``'sonata'``, ...).
    description : str
        One line for ``nethub formats``.
    suffixes : tuple of str
        File name endings, lower case with the dot (``'.h5'``, ``'.net.nml'``).
    can_read, can_write : bool
    extra : str or None
        The pip extra of nethub that installs ``requires`` (``'neuroml'`` for
        ``pip install 'nethub[neuroml]'``), or None when nothing optional is needed.
    requires : tuple of str
        Importable module names the plugin needs to read or write (not to sniff).
    holds_network, holds_results, holds_spec : bool
        What the format can hold: a network instance, simulation results, a high-level spec.
    lossless : bool
        ``read(write(x))`` reproduces ``x`` exactly (for what the format holds).
    read_options, write_options : dict of str to str or None
        Accepted options and a line of help each; ``None`` accepts anything unchecked.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: the suffixes that choose this format for writing, when they differ from ``suffixes``
    #: (None: the same); e.g. SONATA reads ``*.json`` configs but writes a folder, chosen by
    #: name only, so that writing ``x.json`` stays NetPyNE's JSON
    write_suffixes: ClassVar[tuple[str, ...] | None] = None
    can_read: ClassVar[bool] = False
    can_write: ClassVar[bool] = False
    extra: ClassVar[str | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    holds_network: ClassVar[bool] = True
    holds_results: ClassVar[bool] = False
    holds_spec: ClassVar[bool] = False
    lossless: ClassVar[bool] = False
    read_options: ClassVar[Mapping[str, str] | None] = None
    write_options: ClassVar[Mapping[str, str] | None] = None

    # ------------------------------------------------------------------ availability
    def missing_modules(self) -> list[str]:
        """The modules of ``requires`` that cannot be imported (found without importing)."""
        missing = []
        for mod in self.requires:
            try:
                found = importlib.util.find_spec(mod) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                missing.append(mod)
        return missing

    @property
    def available(self) -> bool:
        """Whether everything in ``requires`` is installed."""
        return not self.missing_modules()

    def check_available(self) -> None:
        """Raise :class:`~nethub.errors.MissingExtraError` if a required module is missing."""
        missing = self.missing_modules()
        if not missing:
            return
        what = f"the '{self.name}' format"
        if self.extra is not None:
            raise MissingExtraError(what, self.extra, missing[0])
        raise MissingDependencyError(what, missing[0])

    def check_options(self, mode: str, opts: Mapping[str, Any]) -> None:
        """Raise :class:`OptionError` for options ``mode`` ('read'/'write') does not accept."""
        valid = self.read_options if mode == "read" else self.write_options
        if valid is None:
            return
        unknown = sorted(set(opts) - set(valid))
        if unknown:
            choices = ", ".join(valid) or "none"
            raise OptionError(
                f"unknown {mode} option(s) {', '.join(unknown)} for format '{self.name}' "
                f"(valid: {choices})"
            )

    def matches_suffix(self, path: str | os.PathLike, mode: str = "read") -> str | None:
        """The longest of ``suffixes`` (``write_suffixes`` when ``mode`` is "write" and they
        are given) that the file name ends with, or None."""
        fname = Path(path).name.lower()
        own = self.write_suffixes if mode == "write" and self.write_suffixes is not None \
            else self.suffixes
        hits = [s for s in own if fname.endswith(s.lower())]
        return max(hits, key=len) if hits else None

    # ------------------------------------------------------------------ the contract
    def sniff(self, path: str | os.PathLike) -> bool:
        """Whether the existing file at ``path`` is in this format, judged cheaply from its
        content (magic bytes, root attributes), without the optional libraries.

        The default cannot tell and returns False; the registry then falls back to suffixes.
        """
        return False

    def read(self, path: str | os.PathLike, results: bool = True, **opts: Any) -> Document:
        """Read ``path`` into a :class:`Document`.

        Parameters
        ----------
        path : path-like
        results : bool
            Whether to read simulation results too; formats skip that work when False.
        **opts
            Format-specific options (see ``read_options``).
        """
        raise NotImplementedError(f"format '{self.name}' cannot read")

    def read_results(self, path: str | os.PathLike, run: int | str = -1, **opts: Any) -> Results:
        """Read one simulation run (by name or position; ``-1`` is the latest).

        The default reads the whole document; formats that can read one run alone override it.
        """
        doc = self.read(path, results=True, **opts)
        return select_run(doc.results, run, path)

    def write(self, doc: Document, path: str | os.PathLike, **opts: Any) -> list[str]:
        """Write ``doc`` to ``path``; returns notes of what the format could not hold.

        Writers should replace an existing file only once the new one is complete.
        """
        raise NotImplementedError(f"format '{self.name}' cannot write")

    def info(self, path: str | os.PathLike) -> dict[str, Any]:
        """A JSON-able summary of the file (what ``nethub info`` shows).

        The default reads the whole document and summarises it.
        """
        doc = self.read(path, results=True)
        out: dict[str, Any] = {"file": str(path), "file_size": _size(Path(path))}
        if doc.network is not None:
            out.update(doc.network.summary())
        out["runs"] = [
            {"name": r.name or f"run_{i:04d}", "n_spikes": int(len(r.spike_times)),
             "duration": r.duration, "nranks": int(r.nranks), "n_traces": len(r.traces)}
            for i, r in enumerate(doc.results)
        ]
        if doc.lost:
            out["lost"] = list(doc.lost)
        return out

    def validate(self, path: str | os.PathLike) -> list[Any]:
        """Located findings about ``path`` (objects with ``level``, ``path``, ``message``)."""
        raise NethubError(f"{path}: validating '{self.name}' files is not supported")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {', '.join(self.suffixes)}>"


def select_run(runs: Iterable[Results], run: int | str, path: str | os.PathLike) -> Results:
    """Pick one run from ``runs`` by name or position (:func:`nethub.results.select_run`)."""
    # imported here: ``import nethub.formats`` loads neither numpy nor pandas (registry listing)
    from nethub.results import select_run as select

    return select(runs, run, path)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
