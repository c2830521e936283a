"""Per-segment conductance densities -> NeuroML ``channelDensityNonUniform`` (issue 13 item 4).

A section whose mechanism has one value per NEURON segment (``nseg`` values, e.g. NetPyNE's
``'gnabar': [...]``) is exported as a ``channelDensityNonUniform`` on the section's property
group, whose ``inhomogeneousValue`` is a step function of the path length ``p`` from the
section's start (an ``inhomogeneousParameter`` with ``proximal translationStart="0"`` on
that group):

    sum_r  E_r * (s(c_r) - s(c_{r+1})),   s(c) = (1 + (p - c) / abs(p - c)) / 2

with the breaks ``c`` at segment boundaries ``k L / nseg`` where the value changes (NEURON
evaluates ``p`` at the segment centres ``(k + 1/2) L / nseg``, so ``p`` never equals a break
and ``s`` is exactly 0 or 1). Every term but one is an exact zero, so the expression is
exactly ``E_r``. ``E_r`` is the value in S/m² chosen so that jNeuroML's ``1.0E-4 * (...)`` (and
nethub's import, which applies the same factor) gives back the original S/cm² double
bit for bit where such a double exists (else the nearest, 1 ulp off; counted as a loss).
``abs`` is in LEMS's, NEURON's HOC and nethub's expression languages.

Reversal potentials are attributes (one value per density): per-segment ``e`` values are
written as their mean and reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .neuroml_export_morph import group_of, num

__all__ = ["CONDUCTANCE_FACTOR", "inhomogeneous_parameter", "nonuniform_density",
           "parameter_id", "si_value", "step_expression"]

#: jNeuroML's S/m² -> S/cm² factor, printed into its HOC expression as ``1.0E-4``.
CONDUCTANCE_FACTOR = 1e-4
#: The path-length variable of the exported inhomogeneous parameters.
VARIABLE = "p"


def parameter_id(section: str) -> str:
    """Id of a section's ``inhomogeneousParameter``."""
    return f"{section}_path"


def inhomogeneous_parameter(section: str) -> str:
    """The ``inhomogeneousParameter`` element of a section's property group: path length from
    the root, translated to start at 0 at the section's start."""
    return (f'<inhomogeneousParameter id="{parameter_id(section)}" variable="{VARIABLE}" '
            'metric="Path Length from root"><proximal translationStart="0"/>'
            '</inhomogeneousParameter>')


def si_value(value: float) -> tuple[float, bool]:
    """The S/m² value ``E`` with ``1e-4 * E == value`` (as HOC and numpy compute it), and
    whether it is exact (else the closest of the neighbours tried)."""
    target = float(value)
    if target == 0.0:
        return 0.0, True
    guess = target / CONDUCTANCE_FACTOR
    best, err = guess, abs(CONDUCTANCE_FACTOR * guess - target)
    up = down = guess
    for _ in range(8):
        up, down = np.nextafter(up, np.inf), np.nextafter(down, -np.inf)
        for cand in (guess, float(up), float(down)):
            got = CONDUCTANCE_FACTOR * cand
            if got == target:
                return cand, True
            if abs(got - target) < err:
                best, err = cand, abs(got - target)
    return best, False


def _step(c: float) -> str:
    d = f"({VARIABLE}-{num(c)})"
    return f"(1+{d}/abs{d})/2"


def step_expression(values: Sequence[float], length: float) -> str:
    """The step-function expression of per-segment ``values`` over a section of ``length`` µm
    (``len(values)`` = nseg): exactly ``values[k]`` for ``p`` in segment ``k``."""
    vals = [float(v) for v in values]
    n = len(vals)
    runs: list[tuple[int, float]] = [(0, vals[0])]
    for k in range(1, n):
        if vals[k] != runs[-1][1]:
            runs.append((k, vals[k]))
    if len(runs) == 1:
        return num(vals[0])
    breaks = [k * float(length) / n for k, _ in runs[1:]]
    terms = []
    for r, (_k, v) in enumerate(runs):
        lo = "1" if r == 0 else _step(breaks[r - 1])
        hi = _step(breaks[r]) if r < len(breaks) else None
        ind = lo if hi is None else f"({lo}-{hi})"
        terms.append(f"{num(v)}*{ind}")
    return "+".join(terms)


def nonuniform_density(cid: str, chan: str, values_s_cm2: Sequence[float], erev: float,
                       ion: str, section: str, length: float) -> tuple[str, int]:
    """A ``channelDensityNonUniform`` of per-segment conductance densities (S/cm²) on a
    section, and the number of values not representable exactly (see :func:`si_value`)."""
    si = [si_value(v) for v in values_s_cm2]
    inexact = sum(1 for _v, ok in si if not ok)
    expr = step_expression([v for v, _ok in si], length)
    xml = (f'<channelDensityNonUniform id="{cid}" ionChannel="{chan}" erev="{num(erev)}mV" '
           f'ion="{ion}"><variableParameter parameter="condDensity" '
           f'segmentGroup="{group_of(section)}"><inhomogeneousValue '
           f'inhomogeneousParameter="{parameter_id(section)}" value="{expr}"/>'
           '</variableParameter></channelDensityNonUniform>')
    return xml, inexact
