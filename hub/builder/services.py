"""The spec builder's services for converters and formats: the provider of
:class:`nethub.specrules.SpecRules`.

Converters and formats do not import the builder (DESIGN.md "Layers"); the package root installs
this module as their spec provider (``nethub.specrules.install``), and they reach it
through ``spec_rules()``. Everything they use of the builder and of the spec classes is named
here, so that the builder can be rearranged without breaking them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..specs import NETPARAMS_KEYS, RULE_FAMILIES, NetParams, SimConfig, load_spec
from ..table import Table
from . import build, read_mod_dir
from .cellexpr import resolve_cell_expressions
from .cells import compartmental_from_rules, section_from_spec
from .context import BuildContext
from .pointcells import point_cell_params
from .pops import POP_STRUCTURAL_KEYS, PopBuild
from .synapses import section_labels

__all__ = ["build", "read_mod_dir", "load_spec", "NetParams", "SimConfig", "RULE_FAMILIES",
           "NETPARAMS_KEYS", "cell_type_from_rules", "section_from_spec",
           "section_labels", "POP_STRUCTURAL_KEYS", "evaluate_cell_expressions",
           "point_cell_columns"]

#: Stack cellParams rules ``[(label, rule), ...]`` (in order) into one compartmental cell type.
cell_type_from_rules = compartmental_from_rules


def evaluate_cell_expressions(net_params: Mapping[str, Any], sim_config: Mapping[str, Any],
                              cells: Table, cell_types: dict[str, Any]) -> None:
    """Evaluate the cellParams string expressions of ``cell_types`` per cell, on each cell's
    NetPyNE random stream, into ``param.secs.*`` columns of ``cells`` (types changed in place).

    Raises
    ------
    SpecError
        An expression or rule is invalid.
    """
    resolve_cell_expressions(BuildContext(dict(net_params), dict(sim_config)), cells, cell_types)


def point_cell_columns(net_params: Mapping[str, Any], sim_config: Mapping[str, Any],
                       cells: Table, runs: list[tuple[str, int, int]],
                       pop_params: Mapping[str, Any], cell_types: dict[str, Any]) -> None:
    """The point cells' per-cell ``params.*`` columns (random rates, VecStim spike trains,
    NetStim noise ids) made from popParams as the builder makes them.

    Parameters
    ----------
    runs : list of (population, start row, stop row)
        Each population's contiguous rows of ``cells``.
    pop_params : mapping
        popParams by population label.

    Raises
    ------
    SpecError
        A population's parameters are invalid.
    """
    blocks = [PopBuild(str(p), cells.take(np.arange(a, b)), dict(pop_params.get(p) or {}), None)
              for p, a, b in runs]
    ctx = BuildContext(dict(net_params), dict(sim_config))
    ctx.cells = cells
    point_cell_params(ctx, cells, blocks, cell_types)
