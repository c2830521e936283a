"""Which synaptic mechanisms are linear (one instance may take many NetCons)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethub.nmodl import DECLARED, analyse_mod, find_mod_source, is_linear

REPO = Path(__file__).resolve().parents[2]
NEURON_MODS = REPO / ".venv/lib/python3.11/site-packages/neuron/.data/share/modfile"
TUTORIAL_MODS = sorted((REPO / "fixtures/specs/netpyne_tutorials").glob("*/mod/*.mod"))

needs_neuron_mods = pytest.mark.skipif(not NEURON_MODS.is_dir(),
                                       reason="NEURON wheel's modfile folder not found")

# A linear two-state synapse written in the style of the ExpSyn/Exp2Syn sources.
LINEAR = """
NEURON {
    POINT_PROCESS Lin2
    RANGE tau1, tau2, e, i, g
    NONSPECIFIC_CURRENT i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER { tau1 = 0.5 (ms) <1e-9,1e9>  tau2 = 5 (ms) e = 0 (mV) }
ASSIGNED { v (mV) i (nA) g (uS) factor }
STATE { A (uS) B (uS) }
INITIAL {
    LOCAL tp
    if (tau1/tau2 > 0.9999) { tau1 = 0.9999*tau2 }
    A = 0
    B = 0
    tp = (tau1*tau2)/(tau2 - tau1) * log(tau2/tau1)
    factor = 1/(-exp(-tp/tau1) + exp(-tp/tau2))
}
BREAKPOINT {
    SOLVE state METHOD cnexp
    g = B - A
    i = g*(v - e)
}
DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}
NET_RECEIVE(weight (uS)) {
    A = A + weight*factor
    B = B + weight*factor
}
"""


def variant(old: str, new: str, text: str = LINEAR) -> str:
    assert old in text, old
    return text.replace(old, new)


# ---------------------------------------------------------------- declared table and sources
def test_declared_builtins():
    assert is_linear("ExpSyn") == DECLARED["ExpSyn"]
    assert is_linear("ExpSyn")[0] and is_linear("Exp2Syn")[0]
    ok, reason = is_linear("AlphaSynapse")
    assert not ok and "NET_RECEIVE" in reason
    assert not is_linear("NetStim")[0]
    assert not is_linear("IntFire1")[0]


def test_unknown_mechanism_without_source_is_not_merged():
    ok, reason = is_linear("MySyn", None)
    assert not ok and "no NMODL source" in reason


def test_source_must_define_the_model():
    ok, reason = is_linear("Other", LINEAR)
    assert not ok and "defines 'Lin2'" in reason
    assert is_linear("Lin2", LINEAR)[0]


def test_find_mod_source():
    files = {"a.mod": LINEAR, "b.mod": "NEURON { SUFFIX foo }"}
    assert find_mod_source("Lin2", files) is LINEAR
    assert find_mod_source("foo", files) is None


@needs_neuron_mods
@pytest.mark.parametrize("name,model", [("expsyn.mod", "ExpSyn"), ("exp2syn.mod", "Exp2Syn")])
def test_neuron_sources_of_expsyn_exp2syn_are_linear(name, model):
    text = (NEURON_MODS / name).read_text()
    ok, reason = analyse_mod(text)
    assert ok, reason
    # the analysis of the source agrees with the declared table
    assert ok == DECLARED[model][0]


@needs_neuron_mods
@pytest.mark.parametrize("name,why", [
    ("hh.mod", "density mechanism"), ("passive.mod", "density mechanism"),
    ("netstim.mod", "artificial cell"), ("pattern.mod", "artificial cell"),
    ("stim.mod", "no NET_RECEIVE"), ("svclmp.mod", "no NET_RECEIVE"),
])
def test_other_neuron_sources_are_not_synapses(name, why):
    ok, reason = analyse_mod((NEURON_MODS / name).read_text())
    assert not ok and why in reason


@pytest.mark.parametrize("path", TUTORIAL_MODS, ids=lambda p: p.name)
def test_netpyne_tutorial_mods_are_not_merged(path):
    # Izhi2007a/b: point-process cells with self-events (VERBATIM, WATCH, net_send);
    # ElectSyn: a gap junction driven by a pointer, no NET_RECEIVE.
    ok, reason = analyse_mod(path.read_text())
    assert not ok
    assert ("VERBATIM" in reason or "NET_RECEIVE" in reason), reason


def test_linear_template_and_forms():
    assert analyse_mod(LINEAR)[0]
    # += and the state on the right, several statements on one line
    text = variant("""    A = A + weight*factor
    B = B + weight*factor""", "    A += weight*factor  B = weight*factor + B")
    assert analyse_mod(text)[0], analyse_mod(text)[1]
    # ion current written through USEION
    text = variant("NONSPECIFIC_CURRENT i", "USEION ca READ eca WRITE ica")
    text = text.replace("i = g*(v - e)", "ica = g*(v - eca)")
    assert analyse_mod(text)[0], analyse_mod(text)[1]


def test_neuroml_style_rates_procedure_is_inlined():
    text = variant("""    g = B - A
    i = g*(v - e)""", "").replace("""    A' = -A/tau1
    B' = -B/tau2""", """    rates()
    A' = rate_A
    B' = rate_B""").replace("ASSIGNED { v (mV) i (nA) g (uS) factor }",
                            "ASSIGNED { v (mV) i (nA) g (uS) factor rate_A rate_B }")
    text += """
PROCEDURE rates() {
    g = B - A
    i = -1 * g * (e - v)
    rate_A = -A/tau1
    rate_B = -B/tau2
}
"""
    ok, reason = analyse_mod(text)
    assert ok, reason


def test_extra_read_only_weights_are_linear():
    text = variant("""NET_RECEIVE(weight (uS)) {
    A = A + weight*factor
    B = B + weight*factor
}""", """NET_RECEIVE(wA (uS), wB (uS)) {
    A = A + wA
    B = B + wB*factor
}""")
    assert analyse_mod(text)[0]


def test_linear_kinetic_scheme():
    text = variant("""DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}""", """KINETIC state {
    ~ A <-> B (1/tau1, 0)
}""").replace("SOLVE state METHOD cnexp", "SOLVE state METHOD sparse")
    ok, reason = analyse_mod(text)
    assert ok, reason


# ---------------------------------------------------------------- not linear, with reasons
STDP = variant("""NET_RECEIVE(weight (uS)) {
    A = A + weight*factor
    B = B + weight*factor
}""", """NET_RECEIVE(w (uS), Apre, tlast (ms)) {
    INITIAL { Apre = 0  tlast = -1e9 }
    A = A + w*(1 + Apre)
    B = B + w*(1 + Apre)
    Apre = Apre*exp(-(t - tlast)/20) + 0.01
    tlast = t
}""")

NMDA_FUNCTION = variant("i = g*(v - e)", "i = g*mgblock(v)*(v - e)") + """
FUNCTION mgblock(v (mV)) {
    mgblock = 1 / (1 + exp(0.062 * -v) * (1 / 3.57))
}
"""
NMDA_INLINE = variant("i = g*(v - e)", "i = g*(v - e)/(1 + exp(0.062*-v)*(mg/3.57))").replace(
    "e = 0 (mV) }", "e = 0 (mV) mg = 1 }")

NET_SEND = variant("""    A = A + weight*factor
    B = B + weight*factor""", """    if (flag == 0) {
        net_send(1, 1)
    } else {
        A = A + weight*factor
        B = B + weight*factor
    }""")


@pytest.mark.parametrize("text,words", [
    (STDP, ["Apre", "tlast", "per-connection"]),
    (NMDA_FUNCTION, ["mgblock"]),
    (NMDA_INLINE, ["nonlinear function of v", "one object per connection"]),
    (NET_SEND, ["flag"]),
    (variant("A = A + weight*factor", "A = A + weight*(1 - A)"), ["NET_RECEIVE mixes state"]),
    (variant("A = A + weight*factor", "A = weight*factor"), ["other than by adding"]),
    (variant("A = A + weight*factor", "A = A + weight*A"), ["depends on a state"]),
    (variant("A = A + weight*factor", "A = A + weight*factor*v"), ["depends on v"]),
    (variant("A = A + weight*factor", "A = A + weight*exp(-t)"), ["time t"]),
    (variant("A' = -A/tau1", "A' = (1 - A)/tau1"), ["DERIVATIVE state mixes state"]),
    (variant("A' = -A/tau1", "A' = -A*B/tau1"), ["multiplies states"]),
    (variant("A' = -A/tau1", "A' = -exp(A)/tau1"), ["applies exp() to a state"]),
    (variant("A' = -A/tau1", "A' = -A/tau1*exp(v/10)"), ["depend on v"]),
    (variant("B' = -B/tau2", "B' = -B/tau2 + A*A"), ["multiplies states"]),
    (variant("    A = 0\n", "    A = 1\n"), ["other than 0"]),
    (variant("i = g*(v - e)", "i = g*(v - e) + 0.001*(v + 70)"), ["BREAKPOINT mixes state"]),
    (variant("i = g*(v - e)", "i = g*g*(v - e)"), ["multiplies states"]),
    (variant("i = g*(v - e)", "i = g*(v - e)*(v - e)"), ["nonlinear function of v"]),
    (variant("i = g*(v - e)", "i = g/A*(v - e)"), ["divides by a state"]),
    (variant("    g = B - A\n", "    if (B > A) { g = B - A } else { g = 0 }\n"),
     ["if statement"]),
    (variant("NONSPECIFIC_CURRENT i", "NONSPECIFIC_CURRENT i\n    POINTER pre"), ["POINTER"]),
    (variant("NONSPECIFIC_CURRENT i", "NONSPECIFIC_CURRENT i\n    RANDOM rng"), ["RANDOM"]),
    (variant("NONSPECIFIC_CURRENT i", "NONSPECIFIC_CURRENT i\n    USEION ca WRITE cai"),
     ["ion variable 'cai'"]),
    (variant("    factor = 1/", "    VERBATIM\n    /* C */\n    ENDVERBATIM\n    factor = 1/"),
     ["VERBATIM"]),
    (variant("    factor = 1/(", "    factor = normrand(1, 0.1)/("), ["normrand"]),
    (variant("    A = 0\n", "    A = 0\n    net_send(0, 1)\n"), ["net_send"]),
    (variant("NET_RECEIVE(weight (uS)) {", "NET_RECEIVE(weight (uS)) {\n    WATCH (v > 0) 2"),
     ["WATCH"]),
    (variant("POINT_PROCESS Lin2", "SUFFIX lin2"), ["density mechanism"]),
    (variant("""NET_RECEIVE(weight (uS)) {
    A = A + weight*factor
    B = B + weight*factor
}""", ""), ["no NET_RECEIVE"]),
    (variant("B = B + weight*factor", "B = B + weight*factor\n    g = 1"), ["not a STATE"]),
    (variant("B = B + weight*factor", "B = B + weight*factor\n    net_event(t)"),
     ["net_event"]),
])
def test_not_linear_with_reason(text, words):
    ok, reason = analyse_mod(text)
    assert not ok
    for w in words:
        assert w in reason, reason


def test_kinetic_with_conserve_is_not_linear():
    text = variant("""DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}""", """KINETIC state {
    ~ A <-> B (1/tau1, 1/tau2)
    CONSERVE A + B = 1
}""")
    ok, reason = analyse_mod(text)
    assert not ok and "CONSERVE" in reason


def test_second_order_reaction_is_not_linear():
    text = variant("""DERIVATIVE state {
    A' = -A/tau1
    B' = -B/tau2
}""", """KINETIC state {
    ~ A + B <-> B (1/tau1, 1/tau2)
}""")
    ok, reason = analyse_mod(text)
    assert not ok and "first order" in reason


def test_nonzero_initial_state_parameter():
    text = variant("PARAMETER { tau1", "PARAMETER { A0 = 0.5  tau1").replace("    A = 0\n", "")
    ok, reason = analyse_mod(text)
    assert not ok and "A0" in reason


def test_unparsable_source_is_not_linear():
    ok, reason = analyse_mod(variant("A = A + weight*factor", "A = A + weight*factor)"))
    assert not ok
    ok, reason = analyse_mod(LINEAR + "\nDERIVATIVE broken {")
    assert not ok and "braces" in reason
