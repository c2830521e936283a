"""Build the network of a spec *file* with the mechanisms a NetPyNE user keeps beside it.

``nethub run SPEC`` and ``nethub build SPEC`` both come here: the spec (``.py``, ``.json``,
NetPyNE's ``index.npjson`` or a folder holding one) is loaded, its ``.mod`` files are found
(:func:`nethub.mechsource.find_mod_sources`: ``--mod`` folders, the index's ``mod_folder``,
``mod/`` or ``mods/`` beside the spec or at the model root, or the sources of mechanisms
compiled in the working directory) and the network is built with them, so the store carries
them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..api import load
from ..formats import guess_format
from ..formats.sonata_format import is_sonata_config
from ..mechsource import ModSource, find_mod_sources
from ..network import Network
from ..specs import load_spec
from . import build, spec_dicts

__all__ = ["is_spec_file", "build_spec_file", "model_file_network"]

logger = logging.getLogger(__name__)

#: suffixes of spec files (anything else given to ``nethub run`` is read as a model file)
SPEC_SUFFIXES = (".py", ".json", ".npjson")


def is_spec_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a spec: a ``.py``/``.json``/``.npjson`` file (not a SONATA
    config) or a folder with a NetPyNE ``index.npjson``."""
    p = Path(path)
    if p.is_dir():
        return (p / "index.npjson").is_file()
    if p.suffix.lower() == ".json" and p.is_file() and is_sonata_config(p):
        return False  # a SONATA circuit/simulation config is imported, not built
    return p.suffix.lower() in SPEC_SUFFIXES


def build_spec_file(path: str | os.PathLike, cfg_path: str | os.PathLike | None = None,
                    mod_dirs: Sequence[str | os.PathLike] | None = None, progress: bool = False,
                    overrides: Any = None) -> tuple[Network, ModSource | None]:
    """Load a spec file, find its mechanisms and build the network that carries them.

    Parameters
    ----------
    path : path-like
        The spec file or model folder.
    cfg_path : path-like, optional
        A separate simConfig file.
    mod_dirs : sequence of path-like, optional
        Folders of ``.mod`` files (``--mod``); found beside the spec when not given.
    progress : bool
        Show a progress bar while connecting.
    overrides : SimConfig or dict, optional
        simConfig values that replace the spec's for the build too (seeds, ...), as the
        simConfig given to NetPyNE's ``createSimulateAnalyze(netParams, simConfig)`` does.

    Returns
    -------
    (Network, ModSource or None)
        The network and where its mechanisms came from.
    """
    net_params, cfg = load_spec(path, cfg_path)
    if overrides is not None:
        cfg = {**spec_dicts({}, cfg)[1], **spec_dicts({}, overrides)[1]} if cfg is not None \
            else overrides
    src = find_mod_sources(path, list(mod_dirs or ()))
    net = build(net_params, cfg, progress=progress, mod_files=_mod_files(src))
    return net, src


def _mod_files(src: ModSource | None) -> dict[str, Any]:
    return dict(src.files) if src is not None else {}


def model_file_network(path: str | os.PathLike,
                       mod_dirs: Sequence[str | os.PathLike] | None = None,
                       trusted: bool = False, cfg_path: str | os.PathLike | None = None,
                       overrides: Any = None) -> Network | None:
    """The network of a model file to run: a spec built (:func:`build_spec_file`), any other
    readable model file imported (a NetPyNE ``.pkl`` only when ``trusted``), with the ``.mod``
    files of ``mod_dirs`` added; ``None`` for a canonical store (it is run as it is).

    Parameters
    ----------
    path : path-like
    mod_dirs : sequence of path-like, optional
        Folders of ``.mod`` files (``--mod``).
    trusted : bool
        ``--trust``: lets a pickle be read (unpickling runs code from the file).
    cfg_path, overrides
        A spec's separate simConfig file (``--cfg``) and simConfig overrides, used for the
        build too (:func:`build_spec_file`).
    """
    if is_spec_file(path):
        return build_spec_file(path, cfg_path, mod_dirs=mod_dirs, overrides=overrides)[0]
    if not Path(path).is_file():
        return None  # reading it as a store says what is wrong

    fmt = guess_format(path, "read")
    if fmt.name == "store":
        if mod_dirs:
            logger.warning("%s: --mod is ignored for a store, which carries its own .mod "
                           "files (build it again from its spec with --mod)", path)
        return None
    opts = {"trusted": True} if trusted and "trusted" in (fmt.read_options or {}) else {}
    net = load(path, fmt.name, **opts)
    src = find_mod_sources(None, list(mod_dirs)) if mod_dirs else None
    if src is not None:
        net.mod_files.update(src.files)
    return net
