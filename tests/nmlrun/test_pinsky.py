"""nethub's consistent-units rewrite of jNeuroML's pinskyRinzelCA3Cell NMODL (text level; the
OMV run is in test_omv.py)."""

from __future__ import annotations

from nethub.formats.neuroml.nrn9fix import fix
from nethub.formats.neuroml.pinsky import MARKER, fix_pinsky_rinzel, is_pinsky_rinzel

#: the shape of jNeuroML's output (org.neuroml.export 1.11), shortened
JNML = """TITLE Mod file for component: Component(id=pr2A type=pinskyRinzelCA3Cell)
COMMENT
    generated
ENDCOMMENT
PARAMETER {
    iSoma = 7.5E-4 (nA / cm2)              : was: 0.0075 (currentDensity)
    gNa = 30000 (uS / cm2)                 : was: 300.0 (conductanceDensity)
    cm = 3.0E-8 (microfarads / um2)        : was: 0.03 (specificCapacitance)
    eNa = 60 (mV)                          : was: 0.06 (voltage)
    pp = 0.5                               : was: 0.5 (none)
}
ASSIGNED {
    ICad (nA / cm2)                         : derived variable
    Sisat                                   : conditional derived var...
}
STATE {
    Vs (mV)
    Sisat
}
BREAKPOINT {
    SOLVE states METHOD cnexp
}
"""


def test_parameters_in_the_models_units():
    out = fix_pinsky_rinzel(JNML)
    assert MARKER in out and not is_pinsky_rinzel(out)
    assert "iSoma = 0.75 (uA/cm2)" in out  # 0.0075 A/m2
    assert "gNa = 30.0 (mS/cm2)" in out  # 300 S/m2
    assert "cm = 3.0 (uF/cm2)" in out  # 0.03 F/m2
    assert "eNa = 60 (mV)" in out and "pp = 0.5 " in out  # other dimensions untouched
    assert "ICad (uA/cm2)" in out and "METHOD euler" in out and "cnexp" not in out


def test_idempotent_and_only_this_cell():
    once = fix(JNML)
    assert fix(once) == once
    assert "Sisat                                   : conditional" not in once  # nrn9 fix too
    other = JNML.replace("type=pinskyRinzelCA3Cell", "type=izhikevich2007Cell")
    assert fix_pinsky_rinzel(other) == other
