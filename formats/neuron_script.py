"""Format plugin ``neuron-script``: a network written as one runnable plain-NEURON Python script
(suffix ``.neuron.py``; plain ``.py`` stays NetPyNE's ``spec-py``).

``nethub convert STORE.h5 NET.neuron.py`` (or ``--to neuron-script``) writes the script and,
when the model has ``.mod`` files, a folder ``NET_mod/`` beside it. The run it reproduces is, in
order: the write option ``run_config`` (a :class:`~nethub.runconfig.RunConfig`, its dict, or
the path of its JSON file), the model's own ``run_config`` when it carries one, else the
latest run stored with the model (``nethub run`` first). The script's content is
:func:`nethub.converters.neuron_script.neuron_script`'s.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nethub.errors import FormatError

from .base import Document, Format

# nethub.runconfig, nethub.store and the converter are imported inside the functions: listing
# formats imports every plugin module, and they bring pandas and h5py (measured: 0.64 s -> 1.38 s
# for listing the formats)

__all__ = ["NeuronScriptFormat", "script_run_config"]

SUFFIX = ".neuron.py"


def script_run_config(doc: Document, given: Any = None) -> Any:
    """The :class:`~nethub.runconfig.RunConfig` a script of ``doc`` reproduces (see the module
    docstring).

    Raises
    ------
    FormatError
        No RunConfig was given and the document has neither its own nor a stored run.
    """
    from nethub.runconfig import RunConfig

    if isinstance(given, RunConfig):
        return given
    if isinstance(given, Mapping):
        return RunConfig.from_dict(given, "run_config")
    if isinstance(given, (str, os.PathLike)):
        path = Path(given)
        try:
            return RunConfig.from_json(path.read_text(), f"{path}: RunConfig")
        except OSError as exc:
            raise FormatError(f"{path}: cannot read the RunConfig ({exc.strerror})") from None
    own = getattr(doc.network, "run_config", None)
    if isinstance(own, RunConfig):
        return own
    runs = [r for r in doc.results if r.run_config]
    if runs:
        return RunConfig.from_dict(runs[-1].run_config, "stored run's run_config")
    raise FormatError("a neuron-script needs the run to reproduce: run the store first "
                      "(nethub run STORE), pass -w run_config=RUN.json (nethub convert) or "
                      "run_config=RunConfig(...) (Python), or use nethub.export_neuron_script")


class NeuronScriptFormat(Format):
    """A network and its run as one plain-NEURON Python script (write only)."""

    name = "neuron-script"
    description = "runnable plain-NEURON Python script of a network and its run (write only)"
    suffixes = (SUFFIX,)
    can_write = True
    holds_results = True  # the runs' configurations: the script recomputes the latest run
    write_options = {
        "run_config": "the run to reproduce: RunConfig, dict or JSON file (default: the "
                      "model's own, else its latest stored run)",
        "title": "name of the model in the script's docstring (default: the file name)",
    }

    def write(self, doc: Document, path: str | os.PathLike, **opts: Any) -> list[str]:
        from nethub.converters.neuron_script import neuron_script
        from nethub.store import atomic_path

        self.check_options("write", opts)
        if doc.network is None:
            raise FormatError(f"{path}: a neuron-script needs a network")
        path = Path(path)
        stem = path.name[:-len(SUFFIX)] if path.name.lower().endswith(SUFFIX) else path.stem
        config = script_run_config(doc, opts.get("run_config"))
        mod_dir = f"{stem}_mod"
        out = neuron_script(doc.network, config, mod_dir=mod_dir,
                            title=str(opts.get("title") or stem))
        if out.mod_files:
            _write_mod_dir(out.mod_files, path.parent / mod_dir)
        with atomic_path(path) as tmp:
            tmp.write_text(out.text)
        if doc.results:
            out.lost.append(f"{len(doc.results)} stored run(s): the script recomputes a run, "
                            "it does not hold the results")
        return out.lost


def _write_mod_dir(files: Mapping[str, str], target: Path) -> None:
    """The .mod files (and their INCLUDEs) in a complete new folder swapped in at once."""
    from nethub.store import replace_dir

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, text in files.items():
            dest = (tmp / name).resolve()
            if tmp.resolve() not in dest.parents:
                raise FormatError(f"mod file name {name!r} leaves the mod folder")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
        replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
