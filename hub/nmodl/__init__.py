"""NMODL source analysis, in one place, for the simulator and the converters (model layer).

Imports no NEURON, no builder, no simulator. What a source declares (:func:`mechanism_info`),
which synapses are linear and may share one instance (:func:`is_linear`), the mechanisms and
files a source declares and includes, its VERBATIM (C) code (the trust check of
:mod:`nethub.mechsource`), a load-balancing weight (:func:`mod_weight`) and known CoreNEURON
blockers. Compiling sources into a cached library is :mod:`nethub.nmodl.compile` (not imported
here). Design notes: ``docs/design/mechanisms.md``.
"""

from __future__ import annotations

from .info import (
    DEFAULT_DENSITY,
    DEFAULT_POINT,
    IonUse,
    ModInfo,
    Parameter,
    coreneuron_blockers,
    find_mod_source,
    mechanism_info,
    mod_weight,
    net_receive_sets_v,
    point_process_name,
)
from .lexer import NmodlSyntaxError
from .linearity import DECLARED, analyse_mod, is_linear
from .text import declared_mechanisms, has_verbatim, includes, strip_nmodl

__all__ = ["ModInfo", "IonUse", "Parameter", "mechanism_info", "NmodlSyntaxError", "DECLARED",
           "is_linear", "analyse_mod", "point_process_name", "find_mod_source", "mod_weight",
           "DEFAULT_DENSITY", "DEFAULT_POINT", "coreneuron_blockers", "net_receive_sets_v",
           "declared_mechanisms", "includes", "has_verbatim", "strip_nmodl"]
