"""NMODL for a NeuroML2 model: generated once by jNeuroML, cached, fixed for NEURON 9.

:func:`generate_nmodl` runs ``jnml LEMS.xml -neuron`` through pyNeuroML in a private temporary
directory (a copy of the model's files; never the user's working directory), keeps the
generated ``.mod`` files as ``{name: text}`` (ready for ``EmbeddedFile(role="mod")`` /
``Network.mod_files``) and caches them by a SHA-256 of the input files, so that a second
import of the same model does not start Java.

jNeuroML's random spike sources (spikeGeneratorPoisson, spikeGeneratorRefPoisson,
spikeGeneratorRandom, poissonFiringSynapse, transientPoissonFiringSynapse, PyNN
SpikeSourcePoisson) copy netstim.mod's old ``VERBATIM`` random-stream code, which NEURON 9
refuses (``ambiguating new declaration of 'void* nrn_random_arg(int)'``).
:func:`neuron9_random` rewrites them onto NEURON 9's ``RANDOM`` construct (a per-instance
Random123 stream, no VERBATIM): same names, parameters and draws (``random_float`` is still
``exp(-negexp)``), seeded per instance with :func:`random_ids` from (seed, gid, index) so that
spike times do not depend on the number of ranks or the order of creation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import nrn9fix
from ._common import NeuroMLError, atomic_write
from .skeleton import skeleton_h5

__all__ = ["NmodlResult", "generate_nmodl", "neuron9_random", "random_ids", "default_cache_dir",
           "needs_neuron9_fix", "CACHE_VERSION"]

logger = logging.getLogger(__name__)

#: Bump when the generation or the NEURON 9 rewrite changes (invalidates cached entries).
CACHE_VERSION = "nmlmech-2"  # the cache holds jnml output; rewrites apply on read


@dataclass
class NmodlResult:
    """Generated NMODL of one model.

    Attributes
    ----------
    mod_files : dict of str to str
        ``{"name.mod": text}``, random sources already rewritten for NEURON 9.
    key : str
        The cache key (SHA-256 of the inputs).
    cache_hit : bool
        True when read from the cache (jNeuroML did not run).
    rewritten : list of str
        Names of the files :func:`neuron9_random` rewrote.
    templates : dict of str to str
        ``{"cell.hoc": text}``: the HOC cell templates jNeuroML wrote for detailed cells
        (for comparison; nethub builds cells itself).
    """

    mod_files: dict[str, str]
    key: str
    cache_hit: bool
    rewritten: list[str] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)


def default_cache_dir() -> Path:
    """``$NETHUB_CACHE/nmlmech`` (the variable the compiled-mechanism cache uses; the older
    ``$NETHUB_CACHE_DIR`` is still read), else ``$XDG_CACHE_HOME/nethub/nmlmech`` (~/.cache)."""
    base = os.environ.get("NETHUB_CACHE") or os.environ.get("NETHUB_CACHE_DIR")
    if base:
        return Path(base) / "nmlmech"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "nethub" / "nmlmech"


def _common_root(files: list[Path]) -> Path:
    """The folder copied for jNeuroML: the files' common folder, widened to every folder an
    include's ``../`` walks through (PospischilEtAl2008's ``channels/Na/LEMS_Na.xml``
    includes ``../../channels/Na/Na.channel.nml``: jNeuroML resolves it lexically, so
    ``NeuroML2/`` must exist in the copy too)."""
    dirs = [str(f.parent) for f in files]
    for f in files:
        if f.suffix in (".h5", ".hdf5"):
            continue
        ups = [len(m) // 3 for m in _UPWARD.findall(f.read_text(errors="replace"))]
        if ups and max(ups) <= len(f.parent.parents):
            dirs.append(str(f.parents[max(ups)]))
    return Path(os.path.commonpath(dirs))


_UPWARD = re.compile(r"""(?:href|file)\s*=\s*["']((?:\.\./)+)""")


def cache_key(files: list[Path], root: Path, entry: Path, extra: str = "") -> str:
    """SHA-256 over the cache version, the entry file, ``extra`` (a generated LEMS wrapper)
    and each file's relative name + bytes."""
    h = hashlib.sha256(CACHE_VERSION.encode())
    h.update(str(entry.relative_to(root)).encode() + b"\0" + extra.encode() + b"\0")
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _run_jnml(lems: Path, root: Path, files: list[Path], wrapper: str = ""
              ) -> dict[str, dict[str, str]]:
    """Copy ``files`` into a temporary directory, run jnml -neuron there (on ``lems``, or on
    the LEMS text ``wrapper`` written next to it when ``lems`` is a NeuroML file).

    Returns ``{"mod": {name: text}, "hoc": {name: text}}`` of the generated files.
    """
    # pyNeuroML is optional and slow to import (~1 s): only when NMODL must be generated.
    from pyneuroml.runners import run_jneuroml

    with tempfile.TemporaryDirectory(prefix="nethub-jnml-") as tmp:
        work = Path(tmp)
        for f in files:
            dest = work / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
            if dest.name.endswith(".nml.h5"):  # jNeuroML needs the components, not the rows
                skeleton_h5(dest)
        entry = work / lems.relative_to(root)
        if wrapper:
            entry = entry.with_name(WRAPPER_NAME)
            entry.write_text(wrapper, encoding="utf-8")
        ok, out = run_jneuroml("", entry.name, "-neuron", exec_in_dir=str(entry.parent),
                               verbose=False, report_jnml_output=False, exit_on_fail=False,
                               return_string=True)
        if not ok:
            raise NeuroMLError(f"{lems}: jNeuroML could not generate NEURON code:\n"
                               f"{str(out)[-2000:]}")
        out = {kind: {p.name: p.read_text() for p in sorted(entry.parent.glob(f"*.{kind}"))}
               for kind in ("mod", "hoc")}
    if not out["mod"]:
        raise NeuroMLError(f"{lems}: jNeuroML generated no .mod files")
    return out


WRAPPER_NAME = "LEMS_nethub_nmodl.xml"
_WRAPPER = """<Lems>
<Target component="nethub_nmodl"/>
<Include file="Cells.xml"/>
<Include file="Networks.xml"/>
<Include file="Simulation.xml"/>
<Include file="{include}"/>
<Simulation id="nethub_nmodl" length="1ms" step="0.025ms" target="{network}"/>
</Lems>
"""


def _wrapper(nml: Path) -> tuple[str, list[Path]]:
    """A LEMS file simulating the first network of NeuroML file ``nml``, and its files."""
    from .nmlread import read_neuroml

    model = read_neuroml(nml)
    if not model.document.networks:
        raise NeuroMLError(f"{nml}: jNeuroML generates NEURON code for a network; this file "
                           "defines none (give a LEMS file, or a NeuroML file with a network)")
    network = model.document.networks[0].id
    return _WRAPPER.format(include=nml.name, network=network), model.files


def generate_nmodl(lems: str | os.PathLike, files: list[str | os.PathLike] | None = None,
                   cache_dir: str | os.PathLike | None = None, neuron9: bool = True
                   ) -> NmodlResult:
    """NMODL for the cells, channels, synapses and inputs of a NeuroML model.

    Parameters
    ----------
    lems : str or PathLike
        The LEMS Simulation file (``LEMS_*.xml``), or a NeuroML file (``.nml``) with a
        network: then a LEMS file simulating its first network is generated for jNeuroML.
    files : list of paths, optional
        Every file the model reads (default: what ``read_lems`` / ``read_neuroml`` read).
        They are copied, with their relative layout, into a temporary directory where
        jNeuroML runs.
    cache_dir : path, optional
        Where results are cached (default :func:`default_cache_dir`).
    neuron9 : bool
        Rewrite the random spike sources with :func:`neuron9_random` (default True).

    Returns
    -------
    NmodlResult
    """
    lems = Path(lems).resolve()
    wrapper = ""
    if lems.name.endswith((".nml", ".nml.h5")):
        wrapper, found = _wrapper(lems)
        files = found if files is None else files
    elif files is None:
        from .lems import read_lems

        files = read_lems(lems).files
    paths = sorted({Path(f).resolve() for f in [lems, *files]})
    root = _common_root(paths)
    key = cache_key(paths, root, lems, wrapper)
    entry = Path(cache_dir or default_cache_dir()) / f"{key}.json"
    if entry.is_file():
        try:
            generated = json.loads(entry.read_text(encoding="utf-8"))
            return _finish(generated, key, True, neuron9)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable NMODL cache entry %s: %s", entry, exc)
    generated = _run_jnml(lems, root, paths, wrapper)
    entry.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(entry, lambda tmp: Path(tmp).write_text(json.dumps(generated),
                                                         encoding="utf-8"))
    logger.info("generated %d .mod files for %s (cached as %s)", len(generated["mod"]), lems,
                entry)
    return _finish(generated, key, False, neuron9)


def _finish(generated: dict[str, dict[str, str]], key: str, hit: bool, neuron9: bool
            ) -> NmodlResult:
    mods, hoc = generated["mod"], dict(generated["hoc"])
    if not neuron9:
        return NmodlResult(dict(mods), key, hit, [], hoc)
    out, rewritten = {}, []
    for name, text in mods.items():
        fixed = text
        if needs_neuron9_fix(fixed):
            fixed = neuron9_random(fixed, name)
        fixed = nrn9fix.fix(fixed)
        if fixed != text:
            rewritten.append(name)
        out[name] = fixed
    return NmodlResult(out, key, hit, rewritten, hoc)


def needs_neuron9_fix(text: str) -> bool:
    """True for jNeuroML's netstim-style random code that NEURON 9 cannot compile."""
    return "nrn_random_arg" in text and "noiseFromRandom" in text


_NETSTIM_BLOCK = re.compile(r"PROCEDURE seed\(x\) \{.*?PROCEDURE noiseFromRandom\(\) \{.*?"
                            r"ENDVERBATIM\s*\}\n", re.DOTALL)
_REPLACEMENT = """\
: nethub: NEURON 9 replacement of netstim.mod's C-code random stream (RANDOM construct).
: Each instance draws from its own Random123 stream; nethub sets its ids per cell with
: setRandomIds(seed, gid, index) (or rng.set_ids from Python), so that draws do not depend on
: the number of ranks.
PROCEDURE seed(x) {
    random_setids(rng, x, 0, 0)
    random_setseq(rng, 0)
}

PROCEDURE setRandomIds(id1, id2, id3) {
    random_setids(rng, id1, id2, id3)
    random_setseq(rng, 0)
}

FUNCTION erand() {
    erand = random_negexp(rng)
}
"""


def neuron9_random(text: str, name: str = "<mod>") -> str:
    """Rewrite a jNeuroML random spike source onto NEURON 9's ``RANDOM`` construct.

    ``POINTER donotuse`` becomes ``RANDOM rng``; netstim's ``seed``/``erand``/
    ``noiseFromRandom`` VERBATIM code becomes ``random_negexp(rng)`` plus ``seed(x)`` and
    ``setRandomIds(id1, id2, id3)`` (both also rewind the stream: NEURON 9's
    ``random_setids`` alone keeps the old position), and ``INITIAL`` rewinds the stream so
    that every run from ``finitialize`` draws the same numbers. Everything else is kept
    verbatim.

    Raises
    ------
    NeuroMLError
        If ``text`` does not have the expected jNeuroML structure.
    """
    if "POINTER donotuse" not in text or not _NETSTIM_BLOCK.search(text):
        raise NeuroMLError(f"{name}: not a jNeuroML random source in the expected form "
                           "(POINTER donotuse + netstim seed/erand/noiseFromRandom)")
    out = text.replace("POINTER donotuse", "RANDOM rng")
    out = re.sub(r"^[ \t]*donotuse[ \t]*\n", "", out, flags=re.MULTILINE)
    out = _NETSTIM_BLOCK.sub(_REPLACEMENT, out, count=1)
    out, n = re.subn(r"^INITIAL \{\n", "INITIAL {\n    random_setseq(rng, 0) : nethub: each run "
                     "restarts the instance's stream\n", out, count=1, flags=re.MULTILINE)
    if n != 1:
        raise NeuroMLError(f"{name}: no INITIAL block to restart the random stream in")
    out = out.replace("only true if every instance has its own distinct Random",
                      "each instance has its own RANDOM stream")
    if "VERBATIM" in out or "donotuse" in out:
        raise NeuroMLError(f"{name}: VERBATIM code left after the NEURON 9 rewrite")
    return out


def random_ids(seed: int, gid: int, index: int = 0) -> tuple[int, int, int]:
    """Random123 ids of the ``index``-th random source on cell ``gid`` under run ``seed``.

    Keyed by the cell, never by rank or creation order: any partition of the cells over
    ranks gives each source the same stream.
    """
    for v, what in ((seed, "seed"), (gid, "gid"), (index, "index")):
        if not 0 <= int(v) < 2**32:
            raise NeuroMLError(f"random source {what} {v} out of range 0..2**32-1")
    return int(seed), int(gid), int(index)
