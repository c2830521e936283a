"""Which synaptic point processes are *linear*, so that one instance may take many NetCons.

N NetCons onto one point process are exactly N point processes with one NetCon each when
NET_RECEIVE only adds weight terms to STATE variables, the states decay by homogeneous linear
ODEs with run-constant rates and start at 0, and every current is linear and homogeneous in
the states (at most affine in v and read ion variables). Anything the analysis does not
understand makes a mechanism non-mergeable, with a reason. The full rules:
``docs/design/mechanisms.md``.

:func:`is_linear` answers from a declared table for NEURON's built-in point processes and by
reading the NMODL source otherwise. No NEURON import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .blocks import Block, Mod, assigned_names, drop_groups, parse, read_number
from .info import point_process_name
from .lexer import NmodlSyntaxError
from .statements import NotLinear, Parser

__all__ = ["DECLARED", "is_linear", "analyse_mod"]


#: NEURON's built-in point processes: name → (mergeable, reason).
DECLARED: dict[str, tuple[bool, str]] = {
    "ExpSyn": (True, "built-in ExpSyn: g' = -g/tau, NET_RECEIVE adds the weight to g"),
    "Exp2Syn": (True, "built-in Exp2Syn: A' = -A/tau1, B' = -B/tau2, NET_RECEIVE adds "
                      "weight*factor to both"),
    "NethubExp2Syn": (True, "nethub's Exp2Syn (hub/sim/mod/nethub_exp2syn.mod): as Exp2Syn, "
                            "its decay factors computed once"),
    "AlphaSynapse": (False, "built-in AlphaSynapse has no NET_RECEIVE (not a NetCon target)"),
    "IClamp": (False, "built-in IClamp has no NET_RECEIVE (not a NetCon target)"),
    "SEClamp": (False, "built-in SEClamp has no NET_RECEIVE (not a NetCon target)"),
    "VClamp": (False, "built-in VClamp has no NET_RECEIVE (not a NetCon target)"),
    "OClamp": (False, "built-in OClamp has no NET_RECEIVE (not a NetCon target)"),
    "APCount": (False, "built-in APCount has no NET_RECEIVE (not a NetCon target)"),
    "PointProcessMark": (False, "built-in PointProcessMark is not a synapse"),
    "NetStim": (False, "NetStim is an artificial cell, not a synapse"),
    "IntFire1": (False, "IntFire1 is an artificial cell, not a synapse"),
    "IntFire2": (False, "IntFire2 is an artificial cell, not a synapse"),
    "IntFire4": (False, "IntFire4 is an artificial cell, not a synapse"),
    "PatternStim": (False, "PatternStim is an artificial cell, not a synapse"),
    "VecStim": (False, "VecStim is an artificial cell, not a synapse"),
}

#: math functions whose value depends only on their arguments
_MATH = frozenset({"exp", "log", "log10", "sqrt", "fabs", "sin", "cos", "tan", "asin", "acos",
                   "atan", "atan2", "sinh", "cosh", "tanh", "pow", "floor", "ceil", "fmod",
                   "fmin", "fmax", "expm1", "log1p", "hypot"})
#: names NEURON provides that are constant during a run
_RUN_CONSTANTS = frozenset({"dt", "celsius", "area", "diam", "PI", "FARADAY", "R", "secondorder"})
_NEURON_KEYWORDS = frozenset({
    "SUFFIX", "POINT_PROCESS", "ARTIFICIAL_CELL", "RANGE", "GLOBAL", "NONSPECIFIC_CURRENT",
    "ELECTRODE_CURRENT", "USEION", "READ", "WRITE", "VALENCE", "POINTER", "BBCOREPOINTER",
    "EXTERNAL", "THREADSAFE", "REPRESENTS", "RANDOM", "SECTION", "CONDUCTANCE",
})


# ---------------------------------------------------------------------------- public API
def is_linear(model: str, mod_text: str | None = None) -> tuple[bool, str]:
    """Whether point process ``model`` is linear (mergeable), and why.

    Parameters
    ----------
    model : str
        The NEURON mechanism name (``SynMech.model``).
    mod_text : str or None
        Its NMODL source; ``None`` for a built-in or an unknown mechanism.

    Returns
    -------
    (bool, str)
        ``True`` and a description when N NetCons onto one instance are exactly equivalent to N
        instances; ``False`` and the reason otherwise (unknown mechanisms are never merged).
    """
    if model in DECLARED:
        return DECLARED[model]
    if mod_text is None:
        return False, f"no NMODL source for '{model}' (unknown mechanisms are not merged)"
    ok, reason = analyse_mod(mod_text)
    name = point_process_name(mod_text)
    if name is not None and name != model:
        return False, f"the NMODL source given for '{model}' defines '{name}'"
    return ok, reason


@lru_cache(maxsize=256)
def analyse_mod(mod_text: str) -> tuple[bool, str]:
    """Analyse one NMODL source; ``(True, summary)`` if linear, else ``(False, reason)``."""
    try:
        mod = parse(mod_text)
        summary = _Analysis(mod).run()
    except (NotLinear, NmodlSyntaxError) as exc:
        return False, str(exc)
    return True, summary


# ---------------------------------------------------------------------------- forms
@dataclass(frozen=True)
class _Form:
    """What an expression is, as a function of the states and of shared variables.

    ``deg``: 0 state-free, 1 linear homogeneous in the states; ``zero``: the literal 0;
    ``shared``: 'none', 'affine' (affine in v and read ion variables) or 'nonlinear'.
    """

    deg: int
    shared: str = "none"
    zero: bool = False


_ZERO = _Form(0, zero=True)
_CONST = _Form(0)
_ORDER = {"none": 0, "affine": 1, "nonlinear": 2}


def _worst(*kinds: str) -> str:
    return max(kinds, key=_ORDER.__getitem__)


class _Scope:
    """Resolves names to forms in one block."""

    def __init__(self, analysis: _Analysis, context: str, extra: dict[str, _Form] | None = None
                 ) -> None:
        self.a, self.context = analysis, context
        self.env: dict[str, _Form] = dict(extra or {})

    def name(self, n: str) -> _Form:
        a = self.a
        if n in self.env:
            return self.env[n]
        if n in a.states:
            return _Form(1)
        if n == "v" or n in a.ion_reads:
            return _Form(0, "affine")
        if n == "t":
            raise NotLinear(f"{self.context} depends on the time t")
        if n in a.constants:
            return _CONST
        if n in a.assigned_in_run:
            raise NotLinear(f"{self.context} uses '{n}', which changes during the run")
        raise NotLinear(f"{self.context} uses '{n}', which the analysis does not know")

    def form(self, e) -> _Form:
        kind = e[0]
        if kind == "num":
            return _ZERO if e[1] == 0 else _CONST
        if kind == "name":
            return self.name(e[1])
        if kind == "un":
            f = self.form(e[2])
            if e[1] == "!" and f.deg:
                raise NotLinear(f"{self.context} has a logical test on a state")
            return f
        if kind == "call":
            return self._call(e[1], [self.form(x) for x in e[2]])
        return self._binary(e[1], self.form(e[2]), self.form(e[3]))

    def _call(self, fname: str, args: list[_Form]) -> _Form:
        if fname not in _MATH:
            raise NotLinear(f"{self.context} calls '{fname}()' (user FUNCTIONs and random "
                            "numbers are not analysed)")
        if any(a.deg for a in args):
            raise NotLinear(f"{self.context} applies {fname}() to a state (nonlinear)")
        shared = "nonlinear" if any(a.shared != "none" for a in args) else "none"
        return _Form(0, shared)

    def _binary(self, op: str, a: _Form, b: _Form) -> _Form:
        if op in ("+", "-"):
            if a.zero:
                return b
            if b.zero:
                return a
            if a.deg != b.deg:
                raise NotLinear(f"{self.context} mixes state and state-free terms (not "
                                "homogeneous: a merged synapse would count the state-free "
                                "part once)")
            return _Form(a.deg, _worst(a.shared, b.shared))
        if op == "*":
            if a.zero or b.zero:
                return _ZERO
            if a.deg + b.deg > 1:
                raise NotLinear(f"{self.context} multiplies states (nonlinear)")
            both = a.shared != "none" and b.shared != "none"
            return _Form(a.deg + b.deg, "nonlinear" if both else _worst(a.shared, b.shared))
        if op == "/":
            if b.deg:
                raise NotLinear(f"{self.context} divides by a state (nonlinear)")
            if a.zero:
                return _ZERO
            return _Form(a.deg, _worst(a.shared, "nonlinear" if b.shared != "none" else "none"))
        if op == "^":
            if a.deg or b.deg:
                raise NotLinear(f"{self.context} raises a state to a power (nonlinear)")
            return _Form(0, "nonlinear" if "none" != _worst(a.shared, b.shared) else "none")
        if a.deg or b.deg:
            raise NotLinear(f"{self.context} compares or tests a state (nonlinear)")
        return _Form(0, "nonlinear" if "none" != _worst(a.shared, b.shared) else "none")


# ---------------------------------------------------------------------------- analysis
class _Analysis:
    def __init__(self, mod: Mod) -> None:
        self.mod = mod
        self.blocks: dict[str, list[Block]] = {}
        for b in mod.blocks:
            self.blocks.setdefault(b.kind, []).append(b)

    def one(self, kind: str) -> Block | None:
        found = self.blocks.get(kind, [])
        if len(found) > 1:
            raise NotLinear(f"more than one {kind} block")
        return found[0] if found else None

    def run(self) -> str:
        self.neuron_block()
        receive = self.one("NET_RECEIVE")
        if receive is None:
            raise NotLinear("has no NET_RECEIVE block (not a NetCon target)")
        if self.mod.verbatim:
            raise NotLinear("has VERBATIM C code (not analysed)")
        if self.mod.includes:
            raise NotLinear("INCLUDEs another file (not analysed)")
        if "?" in self.blocks:
            raise NotLinear("has a block the analysis does not recognise")
        for kind in ("BEFORE BREAKPOINT", "AFTER SOLVE", "BEFORE SOLVE", "AFTER BREAKPOINT",
                     "BEFORE INITIAL", "AFTER INITIAL", "BEFORE STEP", "CONSTRUCTOR",
                     "DESTRUCTOR", "DISCRETE", "PARTIAL"):
            if kind in self.blocks:
                raise NotLinear(f"has a {kind} block (not analysed)")
        self.declarations()
        self.procedures = {b.name: b for b in self.blocks.get("PROCEDURE", [])
                           if b.name and not b.args}
        self.find_run_constants()
        self.initial()
        solved = self.breakpoint()
        self.dynamics(solved)
        incremented = self.net_receive(receive)
        return ("linear: NET_RECEIVE adds weight terms to " + ", ".join(sorted(incremented))
                + "; states decay linearly; currents linear in the states")

    # -- declarations
    def neuron_block(self) -> None:
        nb = self.one("NEURON")
        if nb is None:
            raise NotLinear("has no NEURON block")
        words = [t.text for t in nb.body if t.kind == "name"]
        if "POINT_PROCESS" not in words:
            what = ("an artificial cell" if "ARTIFICIAL_CELL" in words else
                    "a density mechanism" if "SUFFIX" in words else "not a point process")
            raise NotLinear(f"is {what}, not a synapse")
        for bad, why in (("POINTER", "POINTER variables (per-instance links)"),
                         ("BBCOREPOINTER", "BBCOREPOINTER variables"),
                         ("RANDOM", "RANDOM streams (per-instance randomness)"),
                         ("EXTERNAL", "EXTERNAL variables (not analysed)")):
            if bad in words:
                raise NotLinear(f"declares {why}")
        self.currents: set[str] = set()
        self.ion_reads: set[str] = set()
        section = None
        ion = None
        for w in words:
            if w in _NEURON_KEYWORDS:
                section = w
                continue
            if section in ("NONSPECIFIC_CURRENT", "ELECTRODE_CURRENT"):
                self.currents.add(w)
            elif section == "USEION":
                ion, section = w, "ION"
            elif section == "READ":
                self.ion_reads.add(w)
            elif section == "WRITE":
                if ion is not None and w == "i" + ion:
                    self.currents.add(w)
                else:
                    raise NotLinear(f"writes the ion variable '{w}' (concentrations and "
                                    "reversal potentials are not merged)")

    def declarations(self) -> None:
        self.states = self._declared("STATE")
        self.params = self._declared("PARAMETER")
        self.assigned = self._declared("ASSIGNED")
        self.declared_constants = set(self._declared("CONSTANT")) | self.mod.defines
        units = self.blocks.get("UNITS", [])
        for b in units:
            toks = [t for t in b.body if t.kind != "nl"]
            for k, t in enumerate(toks[:-1]):
                if t.kind == "name" and toks[k + 1].text == "=":
                    self.declared_constants.add(t.text)
        if not self.states:
            raise NotLinear("has no STATE variables")

    def _declared(self, kind: str) -> dict[str, float | None]:
        """Names declared in PARAMETER/ASSIGNED/STATE/CONSTANT blocks with numeric defaults."""
        out: dict[str, float | None] = {}
        for b in self.blocks.get(kind, []):
            toks = drop_groups(b.body)
            k = 0
            while k < len(toks):
                t = toks[k]
                if t.kind == "name" and t.text not in ("FROM", "TO", "START", "WITH"):
                    value = None
                    if k + 1 < len(toks) and toks[k + 1].text == "=":
                        k, value = read_number(toks, k + 2)
                    else:
                        k += 1
                    out[t.text] = value
                elif t.text in ("FROM", "TO", "START", "WITH"):
                    k, _ = read_number(toks, k + 1)
                else:
                    k += 1
        return out

    def find_run_constants(self) -> None:
        """Constants during a run: parameters, constants, and ASSIGNED variables written only in
        INITIAL (in NET_RECEIVE's INITIAL they would be per connection)."""
        written: set[str] = set()
        for kind in ("BREAKPOINT", "DERIVATIVE", "KINETIC", "NET_RECEIVE", "PROCEDURE",
                     "FUNCTION", "LINEAR", "NONLINEAR"):
            for b in self.blocks.get(kind, []):
                written |= assigned_names(b.body)
        self.assigned_in_run = written
        names = set(self.params) | set(self.assigned) | self.declared_constants
        self.constants = (names - written - set(self.states) - {"v", "t"}
                          - self.currents - self.ion_reads) | _RUN_CONSTANTS

    # -- blocks
    def statements(self, block: Block, context: str, depth: int = 0) -> list:
        """The block's statements with calls of argument-free PROCEDUREs inlined."""
        out = []
        for st in Parser(block.body, context).statements():
            proc = self.procedures.get(st[1]) if st[0] == "call" and not st[2] else None
            if proc is None:
                out.append(st)
            elif depth > 8:
                raise NotLinear(f"{context}: procedures nested too deep (not analysed)")
            else:
                out += self.statements(proc, f"{context} (via {st[1]}())", depth + 1)
        return out

    def initial(self) -> None:
        block = self.one("INITIAL")
        body = self.statements(block, "INITIAL") if block else []
        set_states: set[str] = set()
        self._check_initial(body, set_states)
        for s in self.states:
            default = self.params.get(s + "0")
            if s not in set_states and default not in (None, 0.0):
                raise NotLinear(f"state '{s}' starts at {s}0 = {default:g}, not 0 (a merged "
                                "synapse would count the initial value once)")

    def _check_initial(self, body: list, set_states: set[str]) -> None:
        scope = _Scope(self, "INITIAL")
        for st in body:
            kind = st[0]
            if kind == "assign":
                target, op, e = st[1], st[2], st[3]
                if target in self.states:
                    if op != "=" or scope.form(e) != _ZERO:
                        raise NotLinear(f"INITIAL sets state '{target}' to a value other "
                                        "than 0 (a merged synapse would count it once)")
                    set_states.add(target)
                else:
                    _check_calls(e, "INITIAL")
            elif kind == "if":
                for cond, branch in st[1]:
                    _check_calls(cond, "INITIAL")
                    self._check_initial(branch, set_states)
                if st[2] is not None:
                    self._check_initial(st[2], set_states)
            elif kind == "call":
                raise NotLinear(f"INITIAL calls '{st[1]}()' (self-events, random numbers or "
                                "procedures with arguments are not analysed)")
            elif kind == "solve":
                raise NotLinear("INITIAL has a SOLVE (steady state is not analysed)")
            elif kind not in ("local", "nop"):
                raise NotLinear(f"INITIAL has '{kind}' (not analysed)")

    def _assign(self, scope: _Scope, st, context: str) -> None:
        """A plain assignment in BREAKPOINT or a rate block: remember the form of the value;
        currents must be linear and homogeneous in the states wherever they are computed."""
        target, op, e = st[1], st[2], st[3]
        if target in self.states:
            raise NotLinear(f"{context} assigns the state '{target}'")
        if op != "=":
            raise NotLinear(f"{context} updates '{target}' with '{op}'")
        f = scope.form(e)
        scope.env[target] = f
        if target not in self.currents or f.zero:
            return
        if f.deg != 1:
            raise NotLinear(f"current '{target}' does not depend on the states linearly and "
                            "homogeneously (a merged synapse would count a state-free part once)")
        if f.shared == "nonlinear":
            raise NotLinear(f"current '{target}' is a nonlinear function of v or ion variables "
                            "(an NMDA-like Mg block, say); such mechanisms keep one object per "
                            "connection")

    def breakpoint(self) -> list[str]:
        block = self.one("BREAKPOINT")
        if block is None:
            raise NotLinear("has no BREAKPOINT block")
        scope = _Scope(self, "BREAKPOINT")
        solved: list[str] = []
        for st in self.statements(block, "BREAKPOINT"):
            kind = st[0]
            if kind == "solve":
                solved.append(st[1])
            elif kind == "assign":
                self._assign(scope, st, "BREAKPOINT")
            elif kind == "if":
                raise NotLinear("BREAKPOINT has an if statement (not analysed)")
            elif kind == "call":
                raise NotLinear(f"BREAKPOINT calls '{st[1]}()' (not analysed)")
            elif kind not in ("local", "nop"):
                raise NotLinear(f"BREAKPOINT has '{kind}' (not analysed)")
        return solved

    def dynamics(self, solved: list[str]) -> None:
        for name in solved:
            block = next((b for kind in ("DERIVATIVE", "KINETIC") for b in self.blocks.get(kind, [])
                          if b.name == name), None)
            if block is None:
                raise NotLinear(f"SOLVE {name}: not a DERIVATIVE or KINETIC block (not analysed)")
            context = f"{block.kind} {name}"
            body = self.statements(block, context)
            scope = _Scope(self, context)
            for st in body:
                if st[0] in ("local", "nop"):
                    continue
                if st[0] == "assign" and st[1].endswith("'"):
                    self._derivative(scope, st)
                elif st[0] == "assign":
                    self._assign(scope, st, context)
                elif st[0] == "react":
                    self._reaction(scope, st)
                else:
                    word = st[1] if st[0] == "call" else st[0]
                    raise NotLinear(f"{context} has '{word}' (not analysed)")

    def _derivative(self, scope: _Scope, st) -> None:
        target, e = st[1], st[3]
        state = target.rstrip("'")
        if state not in self.states or target != state + "'" or st[2] != "=":
            raise NotLinear(f"{scope.context}: '{target}' is not the first derivative of a "
                            "state")
        f = scope.form(e)
        if not (f.zero or f.deg == 1):
            raise NotLinear(f"{state}' is not linear and homogeneous in the states (a merged "
                            "synapse would relax to one rest value, not N)")
        if f.shared != "none":
            raise NotLinear(f"{state}' has rates that depend on v or ion variables (not merged)")

    def _reaction(self, scope: _Scope, st) -> None:
        for side in (st[1], st[2]):
            if len(side) != 1 or side[0][0] not in ("", "1") or side[0][1] not in self.states:
                raise NotLinear(f"{scope.context}: reaction of "
                                f"{' + '.join(c + n for c, n in side)} is not first order "
                                "between single states")
        for rate in (st[3], st[4]):
            f = scope.form(rate)
            if f.deg or f.shared != "none":
                raise NotLinear(f"{scope.context}: a rate depends on states, v or ions")

    def net_receive(self, block: Block) -> set[str]:
        if not block.args:
            raise NotLinear("NET_RECEIVE has no weight argument")
        written = assigned_names(block.body)
        per_conn = [a for a in block.args if a in written]
        if per_conn:
            raise NotLinear(f"NET_RECEIVE argument(s) {', '.join(per_conn)} are assigned: "
                            "per-connection state (STDP/STP-like)")
        if "flag" in {t.text for t in block.body}:
            raise NotLinear("NET_RECEIVE reads flag (self-events)")
        body = Parser(block.body, "NET_RECEIVE").statements()
        args = {a: _CONST for a in block.args}
        scope = _Scope(self, "NET_RECEIVE", args)
        incremented: set[str] = set()
        for st in body:
            kind = st[0]
            if kind == "local":
                scope.env.update({n: _CONST for n in st[1]})
                continue
            if kind == "nop":
                continue
            if kind == "assign" and st[1] in self.states:
                incremented.add(self._increment(scope, st))
            elif kind == "assign" and st[1] in scope.env and st[1] not in block.args:
                f = scope.form(st[3])
                if f.deg or f.shared != "none":
                    raise NotLinear(f"NET_RECEIVE computes '{st[1]}' from states or v")
                scope.env[st[1]] = f
            elif kind == "assign":
                raise NotLinear(f"NET_RECEIVE assigns '{st[1]}', which is not a STATE")
            elif kind == "if":
                raise NotLinear("NET_RECEIVE has an if statement (flags, self-events or "
                                "conditions are not merged)")
            elif kind == "call":
                raise NotLinear(f"NET_RECEIVE calls '{st[1]}()' (net_send, net_event and "
                                "procedures are not merged)")
            else:
                raise NotLinear(f"NET_RECEIVE has '{kind}' (not merged)")
        return incremented

    def _increment(self, scope: _Scope, st) -> str:
        state, op, e = st[1], st[2], st[3]
        if op in ("+=", "-="):
            terms = [e]
        elif op == "=":
            terms = [term for sign, term in _sum_terms(e) if (sign, term) != (1, ("name", state))]
            if len(terms) != len(_sum_terms(e)) - 1:
                raise NotLinear(f"NET_RECEIVE sets '{state}' other than by adding to it "
                                f"('{state} = {state} + weight*...')")
        else:
            raise NotLinear(f"NET_RECEIVE updates '{state}' with '{op}' (not additive)")
        for term in terms:
            f = scope.form(term)
            if f.deg:
                raise NotLinear(f"NET_RECEIVE's increment of '{state}' depends on a state "
                                "(saturating or facilitating)")
            if f.shared != "none":
                raise NotLinear(f"NET_RECEIVE's increment of '{state}' depends on v or ions")
        return state


def _sum_terms(e, sign: int = 1) -> list:
    """The terms of a chain of + and - as (sign, term) pairs."""
    if e[0] == "bin" and e[1] in ("+", "-"):
        return _sum_terms(e[2], sign) + _sum_terms(e[3], sign if e[1] == "+" else -sign)
    return [(sign, e)]



def _check_calls(e, context: str) -> None:
    """Only math functions in per-instance constants (no random numbers, no user FUNCTIONs)."""
    if e[0] == "call":
        if e[1] not in _MATH:
            raise NotLinear(f"{context} calls '{e[1]}()' (random numbers or user FUNCTIONs "
                            "could differ per instance)")
        for x in e[2]:
            _check_calls(x, context)
    elif e[0] == "bin":
        _check_calls(e[2], context)
        _check_calls(e[3], context)
    elif e[0] == "un":
        _check_calls(e[2], context)
