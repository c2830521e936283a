"""NetPyNE-compatible model specs: ``NetParams``, ``SimConfig`` and their loader.

nethub speaks NetPyNE 1.1's ``netParams`` / ``simConfig`` format natively::

    from nethub.specs import NetParams, SimConfig, load_spec

    netParams = NetParams()
    netParams.popParams['E'] = {'cellType': 'PYR', 'numCells': 20}
    cfg = SimConfig()
    cfg.duration = 1000

    netParams, cfg = load_spec('model/netParams.py', cfg_path='model/cfg.py')

Keys are checked against the catalogue in :mod:`nethub.specs.schema`; problems raise
:class:`nethub.errors.SpecError` naming the key path.
"""

from __future__ import annotations

from .loader import LoadedSpec, SimCall, load_model, load_simconfig, load_spec
from .netparams import NetParams, RuleDict, SpecDict
from .schema import NETPARAMS_KEYS, RULE_FAMILIES, SIMCONFIG_KEYS
from .simconfig import SimConfig

__all__ = [
    "NetParams",
    "SimConfig",
    "SpecDict",
    "RuleDict",
    "load_spec",
    "load_model",
    "load_simconfig",
    "LoadedSpec",
    "SimCall",
    "NETPARAMS_KEYS",
    "SIMCONFIG_KEYS",
    "RULE_FAMILIES",
]
