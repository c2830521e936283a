"""nethub's working version of jNeuroML's NMODL for ``pinskyRinzelCA3Cell``.

jNeuroML (org.neuroml.export 1.11) writes this cell with inconsistent units: conductance
densities in µS/cm² (right), current densities in nA/cm² but a millionth of their value
(``iSoma`` 0.0075 A/m² written as 7.5e-4 nA/cm² instead of 750), the capacitance in µF/µm², and
``Vs' = (g (V - E) + I) / cm`` with those numbers is 1e11 times too large: ``Vs`` diverges in the
first steps on any NEURON (OMV tests this model on jLEMS only).

:func:`fix_pinsky_rinzel` rewrites the ``PARAMETER`` block from the SI values jNeuroML writes
next to each one (``: was: 1.0 (conductanceDensity)``) into one consistent set, the model's own
(Pinsky & Rinzel 1994): conductance densities in mS/cm², current densities in µA/cm², the
capacitance in µF/cm², so that mS/cm² · mV = µA/cm² and µA/cm² / (µF/cm²) = mV/ms. The currents
it declares (``ICad``, ``Isyn``, ...) become µA/cm² (``UAMP_PER_CM2`` = 1 µA/cm² keeps
``Cad' = -0.13 ICad / UAMP_PER_CM2 ...`` as in the paper). The states are integrated with
``METHOD euler``: jLEMS's forward Euler at the LEMS step, the reference of the model's OMV
test. Names, parameters and exposures are unchanged.
"""

from __future__ import annotations

import re

__all__ = ["MARKER", "is_pinsky_rinzel", "fix_pinsky_rinzel"]

#: the comment the rewrite puts in the NMODL (and its test for "already fixed")
MARKER = "nethub: pinskyRinzelCA3Cell in consistent units"

#: SI dimension (jNeuroML's ``was:`` comment) -> (factor from SI, NMODL unit)
_UNITS = {"conductanceDensity": (0.1, "mS/cm2"),  # 1 S/m2 = 0.1 mS/cm2
          "currentDensity": (100.0, "uA/cm2"),  # 1 A/m2 = 100 uA/cm2
          "specificCapacitance": (100.0, "uF/cm2")}  # 1 F/m2 = 100 uF/cm2
_PARAM = re.compile(r"^(?P<ind>\s*)(?P<name>\w+)\s*=\s*\S+\s*\([^)]*\)(?P<pad>\s*): was: "
                    r"(?P<si>\S+) \((?P<dim>\w+)\)", re.MULTILINE)
_BLOCK = r"^{name}\s*\{{(?P<body>.*?)^\}}"
_TYPE = re.compile(r"^TITLE .*type=pinskyRinzelCA3Cell\)", re.MULTILINE)


def is_pinsky_rinzel(text: str) -> bool:
    """Whether ``text`` is jNeuroML's NMODL of a ``pinskyRinzelCA3Cell`` (not yet fixed)."""
    return bool(_TYPE.search(text)) and MARKER not in text


def _param(m: re.Match) -> str:
    dim = m.group("dim")
    if dim not in _UNITS:
        return m.group(0)
    factor, unit = _UNITS[dim]
    value = float(m.group("si")) * factor
    return (f"{m.group('ind')}{m.group('name')} = {value!r} ({unit}){m.group('pad')}: was: "
            f"{m.group('si')} ({dim})")


def _in_block(text: str, block: str, fn) -> str:
    m = re.search(_BLOCK.format(name=block), text, re.MULTILINE | re.DOTALL)
    if m is None:
        return text
    return text[:m.start("body")] + fn(m.group("body")) + text[m.end("body"):]


def fix_pinsky_rinzel(text: str) -> str:
    """The rewrite described in the module docstring; ``text`` unchanged if it is not
    jNeuroML's ``pinskyRinzelCA3Cell`` NMODL."""
    if not is_pinsky_rinzel(text):
        return text
    text = _in_block(text, "PARAMETER", lambda body: _PARAM.sub(_param, body))
    text = _in_block(text, "ASSIGNED", lambda body: body.replace("(nA / cm2)", "(uA/cm2)"))
    text = re.sub(r"SOLVE states METHOD cnexp", "SOLVE states METHOD euler", text)
    return text.replace("ENDCOMMENT", f"    {MARKER}\nENDCOMMENT", 1)
