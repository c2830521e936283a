"""NEURON's built-in Exp2Syn run as nethub's NethubExp2Syn on CoreNEURON: same spikes, less work.

The built-in Exp2Syn recomputes ``exp(dt*(-1/tau))`` for both of its states at every step of
every instance (cnexp); on a biophysical SONATA circuit of 800 cells this is about a fifth of
CoreNEURON's run time (benchmarks/README.md, "SONATA biophysical"). ``hub/sim/mod/
nethub_exp2syn.mod`` computes the same expression once in INITIAL, so every state, current and
spike is the same double as with the built-in (written out in that file's comment;
tests/simulation/test_fastsyn.py checks it on NEURON and CoreNEURON).

It is used only where it costs nothing to have: a CoreNEURON run (fixed step, ``dt`` constant
after ``finitialize``) of a model that compiles a mechanism library anyway (its own .mod files or
the bundled VecStim), so a model of built-in mechanisms only never waits for a compile.
:func:`plan` decides (alike on every rank: it reads only what all ranks agree on) and
:func:`apply` renames the synMechs of this rank's copy of the model (the store is not changed).
"""

from __future__ import annotations

from pathlib import Path

from ..network import Network

__all__ = ["BUILTIN", "NAME", "FILE", "source", "plan", "apply"]

#: the built-in mechanism replaced, its replacement and the bundled file that declares it
BUILTIN, NAME, FILE = "Exp2Syn", "NethubExp2Syn", "nethub_exp2syn.mod"


def source() -> str:
    """The NMODL source of :data:`NAME` (``hub/sim/mod/nethub_exp2syn.mod``)."""
    return (Path(__file__).parent / "mod" / FILE).read_text()


def plan(used: set[str], mods: dict[str, str]) -> dict[str, str]:
    """The .mod sources to compile for CoreNEURON: ``mods`` plus :data:`FILE` when the model
    uses the built-in Exp2Syn (``used``: every rank's mechanisms) and ``mods`` is not empty
    (a library is compiled anyway) and the model has no mechanism of that name itself;
    otherwise ``mods`` unchanged."""
    if BUILTIN not in used or not mods or NAME in used or FILE in mods:
        return mods
    return {**mods, FILE: source()}


def apply(net: Network, mods: dict[str, str]) -> bool:
    """Rename the Exp2Syn synMechs of ``net`` (this rank's copy) to :data:`NAME` and add its
    source to ``net.mod_files`` when ``mods`` (from :func:`plan`) holds it; whether a synMech
    was renamed (Exp2Syn used only inside a cell type's point processes stays the built-in)."""
    if FILE not in mods:
        return False
    renamed = [m for m in net.syn_mechs.values() if m.model == BUILTIN]
    for mech in renamed:
        mech.model = NAME
    net.mod_files = {**net.mod_files, FILE: mods[FILE]}
    return bool(renamed)
