"""Safe, vectorised string expressions: NetPyNE's "functions as strings".

A spec may give a number as a Python expression (``'0.1*exp(-dist_3D/200)'``). nethub never runs
user text: :func:`compile_expr` parses it with ``ast``, accepts a small whitelist of constructs and
names, and builds a tree of numpy closures evaluated over whole arrays. Anything else, and any
non-finite result, raises :class:`~nethub.errors.SpecError` naming the spec's key path. The
accepted constructs, functions, NEURON's distribution parameterisations, the variable catalogues
and where nethub departs from NetPyNE: ``docs/design/expressions.md``.

Modules: :mod:`.functions` (names an expression may use), :mod:`.compiler` (:func:`compile_expr`,
:class:`Expr`), :mod:`.env` (contextual variables: :func:`cell_env`, :func:`conn_env`).
"""

from __future__ import annotations

from .compiler import Expr, compile_expr
from .env import border_correction, cell_env, conn_env
from .functions import (
    CELL_VARS,
    CONN_VARS,
    DENSITY_VARS,
    MATH_CONSTANTS,
    MATH_FUNCTIONS,
    RANDOM_FUNCTIONS,
    SEC_VARS,
    STIM_VARS,
    SYNMECH_VARS,
)

__all__ = [
    "CELL_VARS",
    "CONN_VARS",
    "DENSITY_VARS",
    "MATH_CONSTANTS",
    "MATH_FUNCTIONS",
    "RANDOM_FUNCTIONS",
    "SEC_VARS",
    "STIM_VARS",
    "SYNMECH_VARS",
    "Expr",
    "border_correction",
    "cell_env",
    "compile_expr",
    "conn_env",
]
