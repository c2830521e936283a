"""Where a model's NMODL mechanisms come from, what they carry, and whether they may run.

Reading (:func:`read_mod_dir`, :func:`read_mod_files`): ``.mod`` files with the files they
INCLUDE (and ``#include`` in VERBATIM, when beside the ``.mod``), as more ``Network.mod_files``
entries. Finding (:func:`find_mod_sources`): ``--mod`` folders, the index's ``mod_folder``, a
``mod/`` or ``mods/`` folder beside the spec or one folder up, or what ``nrnivmodl`` compiled in
the working directory. Trust (:func:`require_trust`): sources with VERBATIM C code
(:func:`nethub.nmodl.has_verbatim`) are compiled only with ``--trust``/``trusted=True`` or when
they are the user's own code; trusted sources are remembered by sha256 in
:func:`trust_file`. No NEURON import; the text analysis is :mod:`nethub.nmodl`, compiling is
:mod:`nethub.nmodl.compile`. The full rules: ``docs/design/mechanisms.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import SpecError, UntrustedCodeError
from .nmodl.text import declared_mechanisms, has_verbatim, includes, strip_nmodl

__all__ = ["ModSource", "NativeCode", "MOD_FOLDER_NAMES", "read_mod_dir", "read_mod_files",
           "read_mod_dirs", "with_includes", "native_code", "require_trust", "is_trusted",
           "remember_trusted", "trust_file", "find_mod_sources", "compiled_in", "safe_relative",
           "bundled_sources", "store_mod_files", "mod_file_findings", "shadowed_by_cwd"]

logger = logging.getLogger(__name__)

#: folder names NetPyNE models keep their .mod files in
MOD_FOLDER_NAMES = ("mod", "mods")
#: folders ``nrnivmodl`` builds into, by machine
ARCH_DIRS = ("x86_64", "arm64", "aarch64", "i686", "powerpc64le")
_BUNDLED_DIR = Path(__file__).parent / "sim" / "mod"
_SESSION_TRUSTED: set[str] = set()  # sha256 of sources trusted in this process


@dataclass(frozen=True)
class ModSource:
    """Mechanism sources found for a model.

    Attributes
    ----------
    files : dict of str to str
        ``.mod`` files and the files they include, name (relative path) to text.
    folders : tuple of Path
        Where they were read from.
    own : bool
        Whether they are the user's own code (trusted): named explicitly, beside a ``.py`` spec,
        or compiled by the user in the working directory.
    how : str
        How they were found, for messages (e.g. ``"mod/ beside the spec"``).
    """

    files: dict[str, str]
    folders: tuple[Path, ...]
    own: bool
    how: str


@dataclass(frozen=True)
class NativeCode:
    """One ``.mod`` file whose mechanisms run native code."""

    file: str
    mechanisms: tuple[str, ...]
    reason: str
    sha256: tuple[str, ...]  # of the file and the files it includes

    def describe(self) -> str:
        names = ", ".join(self.mechanisms) or "no mechanism"
        return f"{names} ({self.file}: {self.reason})"


# ---------------------------------------------------------------------------- NMODL text
def safe_relative(name: str) -> PurePosixPath | None:
    """``name`` as a relative path that stays inside its folder, or None."""
    p = PurePosixPath(name.replace("\\", "/"))
    if not name or p.is_absolute() or any(part in ("..", "") for part in p.parts) or \
            not p.parts or p.parts[0] == ".":
        return None
    return p


# ---------------------------------------------------------------------------- reading
def read_mod_files(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """The given ``.mod`` files (keyed by file name) and the files they include (keyed by
    their path relative to the including file's folder; only files inside that folder)."""
    out: dict[str, str] = {}
    where: dict[str, Path] = {}
    for path in paths:
        path = Path(path)
        _add(out, where, path.name, path)
        _add_includes(out, where, path.parent, out[path.name], path)
    return out


def _add(out: dict[str, str], where: dict[str, Path], key: str, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read mechanism source ({exc.strerror or exc})") from exc
    if key in out and out[key] != text:
        raise SpecError(f"two different mechanism files named {key!r}: {where[key]} and {path}")
    out[key], where[key] = text, path


def _add_includes(out: dict[str, str], where: dict[str, Path], folder: Path, text: str,
                  origin: Path) -> None:
    code, _ = strip_nmodl(text)
    nmodl = set(re.findall(r'\bINCLUDE\s+"([^"\n]+)"', code))
    for name in includes(text):
        rel = safe_relative(name)
        path = folder / rel if rel is not None else None
        if path is None or not path.is_file():
            if name in nmodl:  # a C header may be NEURON's own; an NMODL include must exist
                logger.warning("%s INCLUDEs %r, which is not a file inside %s: not carried "
                               "(nrnivmodl will fail unless MODL_INCLUDE finds it)", origin,
                               name, folder)
            continue
        key = rel.as_posix()
        if key not in out:
            _add(out, where, key, path)
            _add_includes(out, where, folder, out[key], path)


def read_mod_dir(path: str | os.PathLike) -> dict[str, str]:
    """The ``.mod`` files of a folder with the files they include (see module docs).

    Raises
    ------
    SpecError
        The folder does not exist, or a file cannot be read.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise SpecError(f"{folder}: mod folder does not exist")
    return read_mod_files(sorted(folder.glob("*.mod")))


def read_mod_dirs(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """:func:`read_mod_dir` of several folders; one file name must not mean two texts."""
    out: dict[str, str] = {}
    for path in paths:
        for key, text in read_mod_dir(path).items():
            if key in out and out[key] != text:
                raise SpecError(f"two different mechanism files named {key!r} in the mod "
                                f"folders {', '.join(map(str, paths))}")
            out[key] = text
    return out


def with_includes(selected: Mapping[str, str], available: Mapping[str, str]) -> dict[str, str]:
    """``selected`` plus the entries of ``available`` they include, transitively."""
    out = dict(selected)
    todo = list(selected.values())
    while todo:
        for name in includes(todo.pop()):
            rel = safe_relative(name)
            key = rel.as_posix() if rel is not None else name
            if key in available and key not in out:
                out[key] = available[key]
                todo.append(available[key])
    return out


def store_mod_files(path: str | os.PathLike) -> dict[str, str]:
    """The ``/model/mod_files`` of a canonical store (name to text), read without the rest."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        group = f.get("model/mod_files")
        for ds in (group.values() if group is not None else []):
            name, text = ds.attrs.get("name"), ds[()]
            name = name.decode() if isinstance(name, bytes) else str(name)
            out[name] = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return out


# ---------------------------------------------------------------------------- native code
def bundled_sources() -> dict[str, str]:
    """nethub's bundled mechanism sources (``nethub/sim/mod``), name to text."""
    return {p.name: p.read_text() for p in sorted(_BUNDLED_DIR.glob("*.mod"))}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def native_code(files: Mapping[str, str]) -> list[NativeCode]:
    """The ``.mod`` files among ``files`` that run native code (a VERBATIM block in the file or
    in a file it includes); nethub's bundled sources are excepted."""
    bundled = {_sha(t) for t in bundled_sources().values()}
    out = []
    for name, text in sorted(files.items()):
        if not (name.endswith(".mod") or declared_mechanisms(text)) or _sha(text) in bundled:
            continue
        group = with_includes({name: text}, files)
        with_verbatim = [k for k, t in group.items() if has_verbatim(t)]
        if not with_verbatim:
            continue
        reason = ("contains VERBATIM (C code)" if name in with_verbatim else
                  f"INCLUDEs {with_verbatim[0]!r}, which contains VERBATIM (C code)")
        out.append(NativeCode(name, tuple(sorted(declared_mechanisms(text))), reason,
                              tuple(sorted(_sha(t) for t in group.values()))))
    return out


def mod_file_findings(files: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(file name, message)`` warnings about a model's mechanism sources: native code
    (running needs trust) and NMODL INCLUDEs of files not carried."""
    out = [(n.file, f"mechanism(s) {', '.join(n.mechanisms) or '(none declared)'} "
                    f"{n.reason}: nethub run compiles it only with --trust")
           for n in native_code(files)]
    for name, text in sorted(files.items()):
        code = strip_nmodl(text)[0]
        for inc in re.findall(r'\bINCLUDE\s+"([^"\n]+)"', code):
            rel = safe_relative(inc)
            if rel is None or rel.as_posix() not in files:
                out.append((name, f"INCLUDEs {inc!r}, which the model does not carry "
                                  "(nrnivmodl will fail: \"Couldn't open\")"))
    return out


def trust_file() -> Path:
    """The file remembering the sha256 of trusted sources."""
    root = os.environ.get("NETHUB_CACHE") or Path.home() / ".cache" / "nethub"
    return Path(root) / "trusted-code.sha256"


def _remembered() -> set[str]:
    try:
        return set(trust_file().read_text().split()) | _SESSION_TRUSTED
    except OSError:
        return set(_SESSION_TRUSTED)


def remember_trusted(files: Mapping[str, str], persist: bool = True) -> None:
    """Remember the native-code sources among ``files`` as trusted: in this process, and with
    ``persist`` in :func:`trust_file` for later ones (a cache folder that cannot be written
    only loses the later ones, logged)."""
    hashes = {h for n in native_code(files) for h in n.sha256}
    _SESSION_TRUSTED.update(hashes)
    new = sorted(hashes - _remembered_on_disk()) if persist else []
    if not new:
        return
    path = trust_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write("".join(f"{h}\n" for h in new))
    except OSError as exc:
        logger.warning("cannot remember trusted mechanism sources in %s (%s); a later run of "
                       "a store carrying them needs --trust", path, exc)


def _remembered_on_disk() -> set[str]:
    try:
        return set(trust_file().read_text().split())
    except OSError:
        return set()


def is_trusted(files: Mapping[str, str]) -> bool:
    """Whether every native-code source among ``files`` was trusted before."""
    known = _remembered()
    return all(set(n.sha256) <= known for n in native_code(files))


def require_trust(files: Mapping[str, str], trusted: bool = False, remember: bool = True
                  ) -> None:
    """Refuse native code the user has not trusted (before anything is compiled).

    Parameters
    ----------
    files : dict of str to str
        The sources about to be compiled (``.mod`` files and what they include).
    trusted : bool
        The user's explicit trust (``--trust``, ``trusted=True``): everything passes.
    remember : bool
        With ``trusted``, remember the sources as trusted (see :func:`remember_trusted`).

    Raises
    ------
    UntrustedCodeError
        Naming each mechanism, its file and why it is native code, and the flag.
    """
    if trusted:
        if remember:
            remember_trusted(files)
        return
    known = _remembered()
    refused = [n for n in native_code(files) if not set(n.sha256) <= known]
    if refused:
        raise UntrustedCodeError(
            "refusing to compile native code carried by the model: "
            + "; ".join(n.describe() for n in refused)
            + ". VERBATIM blocks are C code that runs unchecked inside NEURON. If you trust "
            "where the model comes from, run again with --trust (nethub run) or trusted=True "
            "(Python); nothing was compiled.")


# ---------------------------------------------------------------------------- finding
def find_mod_sources(spec: str | os.PathLike | None, mod_dirs: Sequence[str | os.PathLike] = (),
                     cwd: str | os.PathLike | None = None) -> ModSource | None:
    """The mechanism sources of a model run or built from ``spec``, found as NetPyNE users
    expect (see module docs); ``None`` when there are none. Logs at INFO where they came from.

    Parameters
    ----------
    spec : path-like or None
        The spec file (``.py``, ``.json``, ``.npjson``) or model folder the user runs.
    mod_dirs : sequence of path-like
        Folders named explicitly (``--mod``); they win.
    cwd : path-like, optional
        The working directory (default: the current one), for compiled ``x86_64/``.
    """
    if mod_dirs:
        folders = tuple(Path(d) for d in mod_dirs)
        src = ModSource(read_mod_dirs(folders), folders, True, "--mod")
    else:
        src = _discovered(Path(spec).resolve()) if spec is not None else None
        src = src or compiled_in(Path(cwd) if cwd is not None else Path.cwd())
    if src is None:
        return None
    logger.info("mechanisms: %d file(s) from %s (%s)", len(src.files),
                ", ".join(map(str, src.folders)), src.how)
    if src.own:
        remember_trusted(src.files)
    return src


def _discovered(spec: Path) -> ModSource | None:
    own = _is_program(spec)
    for folder, how in _candidates(spec):
        if folder.is_dir() and any(folder.glob("*.mod")):
            return ModSource(read_mod_dir(folder), (folder,), own, how)
    return None


def _is_program(spec: Path) -> bool:
    """A ``.py`` spec, or an index file whose netParams or simConfig is one."""
    if spec.suffix.lower() == ".py":
        return True
    index = _index_of(spec)
    if index is None:
        return False
    data = _read_index(index)
    return any(str(data.get(k, "")).lower().endswith(".py") for k in ("netParams", "simConfig"))


def _index_of(spec: Path) -> Path | None:
    if spec.is_dir():
        return spec / "index.npjson" if (spec / "index.npjson").is_file() else None
    return spec if spec.suffix.lower() == ".npjson" else None


def _read_index(index: Path) -> dict:
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{index}: not a readable NetPyNE index file ({exc})") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{index}: a NetPyNE index file must hold a JSON object")
    return data


def _candidates(spec: Path) -> list[tuple[Path, str]]:
    """Folders to look in, in order, each with how it was found."""
    out = []
    index = _index_of(spec)
    if index is not None:
        folder = _index_mod_folder(index)
        if folder is not None:
            out.append((folder, f"mod_folder of {index.name}"))
    base = spec if spec.is_dir() else spec.parent
    for folder, where in ((base, "beside the spec"), (base.parent, "at the model root")):
        idx = folder / "index.npjson"
        if idx.is_file() and idx != index:
            mod_folder = _index_mod_folder(idx)
            if mod_folder is not None:
                out.append((mod_folder, f"mod_folder of {idx}"))
        out += [(folder / name, f"{name}/ {where}") for name in MOD_FOLDER_NAMES]
    return out


def _index_mod_folder(index: Path) -> Path | None:
    value = _read_index(index).get("mod_folder")
    return index.parent / value if isinstance(value, str) and value else None


def compiled_in(cwd: Path, warn: bool = True) -> ModSource | None:
    """The sources of mechanisms ``nrnivmodl`` compiled in ``cwd`` (``x86_64/`` and its
    ``makemod2c_inc``, which names each ``.mod`` it translated), or None (with ``warn``, a
    warning when the library is there but its sources are not)."""
    for arch in ARCH_DIRS:
        folder = cwd / arch
        inc = folder / "makemod2c_inc"
        if not inc.is_file() or not _has_library(folder):
            continue
        rels = re.findall(r"^\S+\.c(?:pp)?:\s+(\S+\.mod)\b", inc.read_text(errors="replace"),
                          flags=re.MULTILINE)
        paths = [(folder / r).resolve() for r in dict.fromkeys(rels)]
        found = [p for p in paths if p.is_file()]
        if not found and not warn:
            return None
        if not found:
            logger.warning("%s holds compiled mechanisms but their .mod sources were not "
                           "found; NEURON loads them in this folder, but the store will not "
                           "carry them (give their folder with --mod)", folder)
            return None
        lib = _library(folder)
        newer = [p.name for p in found if lib is not None and
                 p.stat().st_mtime > lib.stat().st_mtime]
        if newer and warn:
            logger.warning("%s was compiled before %s last changed: NEURON loads that older "
                           "library in this folder (run nrnivmodl again)", folder,
                           ", ".join(newer))
        return ModSource(read_mod_files(found), tuple(dict.fromkeys(p.parent for p in found)),
                         True, f"compiled in {folder}")
    return None


def shadowed_by_cwd(mod_files: Mapping[str, str], cwd: Path | None = None) -> list[str]:
    """Mechanisms of ``mod_files`` that the library compiled in the working directory (which
    NEURON loads by itself there, before nethub loads anything) defines from another source:
    ``"Name (file.mod)"`` each."""
    src = compiled_in(cwd if cwd is not None else Path.cwd(), warn=False)
    if src is None:
        return []
    theirs = {name: text for text in src.files.values() for name in declared_mechanisms(text)}
    return [f"{name} ({fname})" for fname, text in sorted(mod_files.items())
            for name in sorted(declared_mechanisms(text)) if theirs.get(name, text) != text]


def _library(folder: Path) -> Path | None:
    for lib in (folder / ".libs" / "libnrnmech.so", folder / "libnrnmech.so"):
        if lib.exists():
            return lib
    return None


def _has_library(folder: Path) -> bool:
    return _library(folder) is not None
