"""nethub's fixes of jNeuroML NMODL that NEURON 9's translator refuses (besides the random
sources of :func:`nethub.formats.neuroml.neuron9_random`).

* A variable declared both in ``ASSIGNED`` and in ``STATE`` (jNeuroML declares a conditional
  derived variable that is also a state twice, e.g. ``Sisat`` of ``pinskyRinzelCA3Cell``):
  NEURON 9 stops with ``Multiple declaration of Sisat``. The ``ASSIGNED`` line is dropped; the
  state is what the generated code integrates and assigns.

``POINTER vpeer`` of gap junctions and graded synapses is kept: the NeuroML import marks their
connections ``live`` and the simulator sets ``vpeer`` with ``setpointer``, as jNeuroML's code
does (:mod:`nethub.sim.livepointers`). :func:`vpeer_as_range` (no longer applied by :func:`fix`)
turns it into ``RANGE vpeer``, which a ParallelContext ``target_var`` transfer needs on
NEURON 9 (it refuses an unset POINTER: ``Invalid pointer``).
"""

from __future__ import annotations

import re

from .pinsky import fix_pinsky_rinzel

__all__ = ["drop_double_declarations", "needs_fix", "vpeer_as_range", "fix"]

_BLOCK = r"^{name}\s*\{{(?P<body>.*?)^\}}"


def _names(text: str, block: str) -> tuple[re.Match | None, list[str]]:
    m = re.search(_BLOCK.format(name=block), text, re.MULTILINE | re.DOTALL)
    if m is None:
        return None, []
    names = [ln.split(":")[0].split("(")[0].split()[0]
             for ln in m.group("body").splitlines() if ln.split(":")[0].strip()]
    return m, names


def needs_fix(text: str) -> bool:
    """Whether a variable is declared both ASSIGNED and STATE."""
    return bool(set(_names(text, "ASSIGNED")[1]) & set(_names(text, "STATE")[1]))


def drop_double_declarations(text: str) -> str:
    """``text`` without the ASSIGNED declarations of variables that are also STATEs."""
    m, _ = _names(text, "ASSIGNED")
    states = set(_names(text, "STATE")[1])
    if m is None or not states:
        return text
    kept = [ln for ln in m.group("body").splitlines(keepends=True)
            if not (ln.split(":")[0].strip()
                    and ln.split(":")[0].split("(")[0].split()[0] in states)]
    return text[:m.start("body")] + "".join(kept) + text[m.end("body"):]


_POINTER = re.compile(r"^(\s*)POINTER vpeer\b", re.MULTILINE)


def vpeer_as_range(text: str) -> str:
    """``POINTER vpeer`` declared as ``RANGE vpeer`` (see the module docstring)."""
    return _POINTER.sub(r"\1RANGE vpeer", text)


def fix(text: str) -> str:
    """Every fix of this module that applies to ``text`` (and nethub's consistent-units
    ``pinskyRinzelCA3Cell``, :mod:`nethub.formats.neuroml.pinsky`)."""
    if needs_fix(text):
        text = drop_double_declarations(text)
    return fix_pinsky_rinzel(text)
