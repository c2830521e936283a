"""nethub.nmodl: what an NMODL source declares (mechanism_info), the CoreNEURON checks on the
text, the cache key, the trust check before compiling, and that the package stays NEURON-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nethub.errors import NethubError, UntrustedCodeError
from nethub.mechsource import native_code
from nethub.nmodl import (
    IonUse,
    NmodlSyntaxError,
    Parameter,
    coreneuron_blockers,
    declared_mechanisms,
    has_verbatim,
    is_linear,
    mechanism_info,
    net_receive_sets_v,
)
from nethub.nmodl.compile import cache_dir, cache_key, compiled_library, neuron_version

ROOT = Path(__file__).resolve().parents[2]

RESET_CELL = '''TITLE a reset cell: v jumps in NET_RECEIVE
COMMENT
POINT_PROCESS NotMe (a comment, not a declaration)
ENDCOMMENT
NEURON {
    THREADSAFE
    POINT_PROCESS NhReset  : the mechanism
    RANGE vreset, tau, g
    GLOBAL gmax
    POINTER driver
    USEION ca READ cai, eca WRITE ica VALENCE 2
    NONSPECIFIC_CURRENT i
}
INCLUDE "helpers.inc"
UNITS { (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    vreset = -65 (mV)
    tau = 2.5 (ms) <1e-9, 1e9>
    gmax = 1e-3 (uS)
    flagged
    k = -.5 (/mV)
}
ASSIGNED { v (mV) i (nA) ica (nA) cai (mM) eca (mV) driver }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT { SOLVE states METHOD cnexp  i = g*(v - eca) }
DERIVATIVE states { g' = -g/tau }
FUNCTION half(x) { half = x/2 }
PROCEDURE report() {
    VERBATIM
    /* C code: a colon : here is not a comment */
    ENDVERBATIM
}
NET_RECEIVE(weight (uS), tsyn) {
    g = g + weight
    if (verbose) { printf("at t: %g\\n", t) }
    v = vreset
}
'''

HH_LIKE = '''NEURON {
    SUFFIX nhkdr
    USEION k READ ek WRITE ik
    RANGE gbar
}
PARAMETER { gbar = 0.036 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) }
STATE { n }
BREAKPOINT { SOLVE states METHOD cnexp  ik = gbar*n*n*n*n*(v - ek) }
DERIVATIVE states { n' = (1 - n)*0.1 - n*0.125 }
'''

ARTIFICIAL = '''NEURON { ARTIFICIAL_CELL NhTicker RANGE interval }
PARAMETER { interval = 10 (ms) }
NET_RECEIVE(w) { net_event(t) }
'''


def test_mechanism_info_point_process():
    info = mechanism_info(RESET_CELL, "reset.mod")
    assert (info.name, info.kind, info.is_point) == ("NhReset", "point_process", True)
    assert info.range == ("vreset", "tau", "g")
    assert info.global_ == ("gmax",) and info.pointer == ("driver",)
    assert info.ions == (IonUse("ca", ("cai", "eca"), ("ica",), 2.0),)
    assert info.nonspecific_current == ("i",)
    assert info.parameters == {
        "vreset": Parameter("vreset", -65.0, "mV"), "tau": Parameter("tau", 2.5, "ms"),
        "gmax": Parameter("gmax", 1e-3, "uS"), "flagged": Parameter("flagged"),
        "k": Parameter("k", -0.5, "/mV")}
    assert info.states == ("g",)
    assert info.assigned == ("v", "i", "ica", "cai", "eca", "driver")
    assert info.functions == ("half",) and info.procedures == ("report",)
    assert info.has_net_receive and info.net_receive_args == ("weight", "tsyn")
    assert info.net_receive_sets_v and info.has_verbatim and info.threadsafe
    assert info.includes == ("helpers.inc",)


def test_mechanism_info_density_and_artificial():
    hh = mechanism_info(HH_LIKE)
    assert (hh.name, hh.kind, hh.is_point) == ("nhkdr", "density", False)
    assert hh.ions == (IonUse("k", ("ek",), ("ik",), None),)
    assert hh.parameters["gbar"] == Parameter("gbar", 0.036, "S/cm2")
    assert hh.states == ("n",) and not hh.has_net_receive and not hh.has_verbatim
    assert not hh.threadsafe and hh.includes == ()
    art = mechanism_info(ARTIFICIAL)
    assert (art.name, art.kind) == ("NhTicker", "artificial_cell")
    assert art.net_receive_args == ("w",) and not art.net_receive_sets_v
    anonymous = mechanism_info("PARAMETER { a = 1 }\n")
    assert (anonymous.name, anonymous.kind) == (None, "density")


def test_mechanism_info_agrees_with_the_other_readers():
    """Every .mod file of the repository: the name is the one declared, VERBATIM is what the
    trust check sees, NET_RECEIVE setting v is what the CoreNEURON check reports."""
    files = sorted(ROOT.glob("fixtures/**/*.mod")) + sorted(ROOT.glob("hub/**/*.mod"))
    assert len(files) >= 5
    for path in files:
        text = path.read_text()
        info = mechanism_info(text, path.name)
        assert {info.name} == declared_mechanisms(text), path
        assert info.has_verbatim == has_verbatim(text), path
        if "hub/sim/mod" not in path.as_posix():  # bundled sources are trusted by content
            assert info.has_verbatim == bool(native_code({path.name: text})), path
        blocked = any("sets the membrane potential" in r for r in coreneuron_blockers(text))
        assert info.net_receive_sets_v == blocked == net_receive_sets_v(text), path
    izhi = (ROOT / "fixtures/specs/netpyne_tutorials/HybridTut/mod/izhi2007b.mod").read_text()
    assert mechanism_info(izhi).net_receive_sets_v


def test_syntax_error_names_the_source():
    with pytest.raises(NmodlSyntaxError, match=r"broken\.mod: unbalanced braces") as err:
        mechanism_info("NEURON { SUFFIX x\n", "broken.mod")
    assert isinstance(err.value, NethubError)
    # the linearity analysis reports the same problem as a reason, as before
    assert is_linear("X", "NEURON { POINT_PROCESS X\n") == (
        False, "unbalanced braces in the NMODL source")


def test_coreneuron_blockers():
    assert coreneuron_blockers(HH_LIKE) == []
    reasons = coreneuron_blockers(RESET_CELL)
    assert any("POINTER" in r for r in reasons)
    assert any("membrane potential v" in r for r in reasons)
    scop = HH_LIKE.replace("(1 - n)*0.1", "(1 - n)*0.1*normrand(0, 1)")
    assert any("scop random" in r for r in coreneuron_blockers(scop))


def test_cache_key():
    files = {"a.mod": HH_LIKE, "b.mod": ARTIFICIAL}
    assert cache_key(files) == cache_key(dict(reversed(list(files.items()))))
    assert cache_key(files) != cache_key({"a.mod": HH_LIKE})
    assert cache_key(files) != cache_key({"a.mod": HH_LIKE + " ", "b.mod": ARTIFICIAL})
    assert cache_key(files)[:32] != cache_key(files, "core")[:32]
    assert len(cache_key(files)) == 32 and cache_key(files, "core").endswith("-core")
    assert neuron_version() != "unknown"


def test_untrusted_native_code_is_not_compiled(tmp_path, monkeypatch):
    monkeypatch.setenv("NETHUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("nethub.mechsource._SESSION_TRUSTED", set())
    with pytest.raises(UntrustedCodeError, match="NhReset"):
        compiled_library({"reset.mod": RESET_CELL}, trusted=False)
    assert not cache_dir().exists()


def test_nmodl_imports_no_neuron():
    code = ("import sys, nethub.nmodl, nethub.nmodl.compile, nethub.mechsource\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('neuron', 'mpi4py', "
            "'matplotlib') or m.startswith(('nethub.sim', 'nethub.builder', "
            "'nethub.formats', 'nethub.converters'))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
