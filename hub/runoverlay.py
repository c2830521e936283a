"""A model's own :class:`~nethub.runconfig.RunConfig` with a run's simConfig overrides on top,
and the files its source format writes after a run (:func:`write_format_outputs`).

A model imported from a format with its own run document (a SONATA simulation config, ...)
carries it as ``Network.run_config``. ``nethub run`` and :func:`nethub.simulate` still take
their options as NetPyNE simConfig overrides (``--cfg``, ``--duration``, ``--dt``,
``--engine``, ``--exact``): :func:`overlay_run_config` maps only the keys given through
:data:`nethub.specs.runmap.NETPYNE_RUN_TABLE` and replaces those fields, leaving the model's
others (its temperature, traces, seeds, ...) as they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from .results import Results
from .runconfig import RunConfig
from .specs.runmap import NETPYNE_RUN_TABLE, merged_simconfig, runconfig_from_netpyne

__all__ = ["overlay_run_config", "write_format_outputs"]

logger = logging.getLogger(__name__)

#: simConfig keys whose value decides a RunConfig field together with others
_ENGINE_KEYS = ("nethubCoreneuron", "coreneuron", "nethubExact", "nethubMergeSynapses")


def _fields_of(key: str) -> set[str]:
    """The RunConfig fields (top level) that simConfig key ``key`` sets."""
    out = set()
    for row in NETPYNE_RUN_TABLE:
        if row.key == key or row.key.startswith(key + "."):
            out.add(row.field.split(".")[0])
    return out


def overlay_run_config(base: RunConfig, overrides: Mapping[str, Any] | None) -> RunConfig:
    """``base`` with the fields that the simConfig ``overrides`` set replaced.

    Parameters
    ----------
    base : RunConfig
        The model's run configuration.
    overrides : mapping or None
        simConfig keys and values (NetPyNE names: ``duration``, ``dt``, ``hParams``, ``seeds``,
        ``recordStep``, ``nethubCoreneuron``, ...). ``hParams`` members replace only the
        globals they name; ``seeds`` members only the seeds they name.

    Returns
    -------
    RunConfig
        ``base`` itself when nothing is overridden.
    """
    overrides = dict(overrides or {})
    if not overrides:
        return base
    mapped = runconfig_from_netpyne(merged_simconfig(None, overrides)).to_dict()
    out = base.to_dict()
    for key in overrides:
        if key == "hParams":
            hp = dict(overrides[key] or {})
            if "celsius" in hp:
                out["temperature"] = mapped["temperature"]
            if "v_init" in hp:
                out["v_init"] = mapped["v_init"]
            out["neuron_globals"] = {**out["neuron_globals"], **{
                k: v for k, v in mapped["neuron_globals"].items() if k in hp}}
        elif key == "seeds":
            out["seeds"] = {**out["seeds"], **mapped["seeds"]}
        elif key in _ENGINE_KEYS:
            out.update({k: mapped[k] for k in ("engine", "exact", "merge_synapses")})
        else:
            out.update({k: mapped[k] for k in _fields_of(key)})
    given = {k: v for k, v in mapped["native"].items() if k in overrides}
    out["run_meta"] = {**out["run_meta"], "run_overrides": given}
    return RunConfig.from_dict(out)


def write_format_outputs(store: str | os.PathLike, results: Results, config: RunConfig
                         ) -> dict[str, Any]:
    """After a run: the output files the model's own run document asks for, besides the
    store. A SONATA simulation config's ``output`` (``extras['output_files']`` entries of
    format ``"sonata"``): the spikes file and reports where BMTK writes them
    (:func:`nethub.formats.sonata.results.write_run_outputs`).

    Returns
    -------
    dict
        What was written (name -> path); empty when the run document asks for nothing.
    """
    if not any(f.get("format") == "sonata" for f in (config.extras or {}).get("output_files")
               or []):
        return {}
    # imported here: h5py/pandas file writers are needed only by runs of SONATA models
    from .formats.sonata.results import write_run_outputs

    written = write_run_outputs(store, results.name if results.name else -1)
    for name, path in written.items():
        logger.info("SONATA output %s: %s", name, path)
    return written
