"""Leaving nethub: a cell type as a HOC template or Python class file, a network as a runnable
plain-NEURON script (the faces of :mod:`nethub.converters.hoc_export`,
:mod:`nethub.converters.hoc_export_python` and the ``neuron-script`` format).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .api import load
from .builder import spec_dicts
from .celltypes import CompartmentalCell
from .converters.hoc_export import hoc_template
from .converters.hoc_export_python import python_class
from .errors import ConversionError
from .formats.base import Document
from .formats.neuron_script import NeuronScriptFormat
from .network import Network
from .runconfig import RunConfig
from .runner import store_run_config
from .specs.runmap import merged_simconfig, runconfig_from_netpyne
from .specs.values import check_run_config
from .store import atomic_path

__all__ = ["export_cell", "export_neuron_script", "run_config_of"]


def export_cell(model: Network | str | os.PathLike, cell_type: str,
                output: str | os.PathLike, *, name: str | None = None) -> Path:
    """Write one compartmental cell type as a HOC template (``.hoc``) or a Python class
    (``.py``) that builds the cell in plain NEURON.

    Parameters
    ----------
    model : Network or path
    cell_type : str
        Name of the cell type in the model.
    output : path
        ``*.hoc`` or ``*.py``; written atomically.
    name : str, optional
        Template / class name (default: the cell type's name).

    Returns
    -------
    Path
        ``output``.
    """
    net = model if isinstance(model, Network) else load(model)
    if cell_type not in net.cell_types:
        raise ConversionError(f"no cell type {cell_type!r} (valid: {', '.join(net.cell_types)})")
    ct = net.cell_types[cell_type]
    if not isinstance(ct, CompartmentalCell):
        raise ConversionError(f"cell type {cell_type!r} is an artificial cell "
                              f"({getattr(ct, 'model', '?')}): NEURON has it built in or as a "
                              "mod file; there is no template to write")
    threshold = float(net.params.get("defaultThreshold", 10))
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix == ".hoc":
        text = hoc_template(name or cell_type, ct, default_threshold=threshold)
    elif suffix == ".py":
        text = "from neuron import h\n\n\n" + python_class(name or cell_type, ct,
                                                            default_threshold=threshold)
    else:
        raise ConversionError(f"{output}: write a cell as .hoc (template) or .py (class)")
    with atomic_path(output) as tmp:
        tmp.write_text(text)
    return output


def run_config_of(model: Network | str | os.PathLike, sim_config: Any = None) -> RunConfig:
    """The RunConfig ``nethub run`` would use for ``model``: its stored simConfig with the
    ``sim_config`` overrides (a RunConfig is used as it is)."""
    if isinstance(sim_config, RunConfig):
        return sim_config
    if not isinstance(model, Network):
        return store_run_config(model, sim_config)
    overrides = spec_dicts({}, sim_config)[1] if sim_config is not None else {}
    cfg = merged_simconfig((model.spec or {}).get("simConfig"), overrides)
    check_run_config(cfg)
    return runconfig_from_netpyne(cfg)


def export_neuron_script(model: Network | str | os.PathLike, output: str | os.PathLike,
                         sim_config: Any = None, *, title: str | None = None) -> list[str]:
    """Write a network and its run as a plain-NEURON Python script (``NET.neuron.py``; its
    ``.mod`` files go in ``NET_mod/`` beside it).

    Parameters
    ----------
    model : Network or path
        A network or a store (any file nethub reads).
    output : path
    sim_config : RunConfig, SimConfig, dict or None
        The run: a RunConfig as it is, else simConfig overrides of the model's stored
        simConfig, as ``nethub run`` / :func:`nethub.simulate` take them.
    title : str, optional

    Returns
    -------
    list of str
        What the script does not carry over.
    """
    config = run_config_of(model, sim_config)
    net = model if isinstance(model, Network) else load(model)
    opts = {"run_config": config, **({"title": title} if title else {})}
    return NeuronScriptFormat().write(Document(network=net), output, **opts)
