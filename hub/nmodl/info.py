"""What one NMODL source declares (:func:`mechanism_info`), and small per-source answers the
simulator and the converters share: the POINT_PROCESS name, a load-balancing weight, the known
CoreNEURON blockers. No NEURON import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .blocks import Block, parse, read_number
from .lexer import NmodlSyntaxError, Tok, strip_comments
from .text import block_body, has_verbatim, includes, strip_comments_only

__all__ = ["ModInfo", "IonUse", "Parameter", "mechanism_info", "point_process_name",
           "find_mod_source", "mod_weight", "coreneuron_blockers", "net_receive_sets_v",
           "DEFAULT_DENSITY", "DEFAULT_POINT"]

#: load-balancing weight of a mechanism without a table entry and without NMODL source
DEFAULT_DENSITY, DEFAULT_POINT = 1.5, 1.0

_KINDS = {"SUFFIX": "density", "POINT_PROCESS": "point_process",
          "ARTIFICIAL_CELL": "artificial_cell"}
#: NEURON-block keywords followed by a list of names
_LISTS = {"RANGE": "range", "GLOBAL": "global_", "POINTER": "pointer",
          "BBCOREPOINTER": "bbcorepointer", "RANDOM": "random", "EXTERNAL": "external",
          "NONSPECIFIC_CURRENT": "nonspecific_current", "ELECTRODE_CURRENT": "electrode_current"}
_SKIP_ONE = frozenset({"REPRESENTS", "CONDUCTANCE", "SECTION"})
_RANGE_WORDS = frozenset({"FROM", "TO", "START", "WITH"})


@dataclass(frozen=True)
class IonUse:
    """One ``USEION`` statement: the ion, the variables read and written, the valence."""

    ion: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    valence: float | None = None


@dataclass(frozen=True)
class Parameter:
    """A ``PARAMETER`` declaration: default value (None when not a number) and units text."""

    name: str
    default: float | None = None
    units: str | None = None


@dataclass(frozen=True)
class ModInfo:
    """What an NMODL source declares (see :func:`mechanism_info`).

    Attributes
    ----------
    name : str or None
        The SUFFIX / POINT_PROCESS / ARTIFICIAL_CELL name; None when the NEURON block declares
        none (nocmodl then names a density mechanism after the file).
    kind : str
        ``"density"`` (SUFFIX, or no declaration), ``"point_process"`` or ``"artificial_cell"``.
    range, global_, pointer, bbcorepointer, random, external : tuple of str
        Names declared with RANGE, GLOBAL, POINTER, BBCOREPOINTER, RANDOM, EXTERNAL.
    nonspecific_current, electrode_current : tuple of str
        The currents declared so.
    ions : tuple of IonUse
        The USEION statements, in order.
    parameters : dict of str to Parameter
        PARAMETER declarations with defaults and units, in order.
    states, assigned : tuple of str
        STATE and ASSIGNED names.
    functions, procedures : tuple of str
        Names of FUNCTION and PROCEDURE blocks.
    has_net_receive : bool
        A NET_RECEIVE block (a NetCon target).
    net_receive_args : tuple of str
        Its arguments (the first is the weight).
    net_receive_sets_v : bool
        NET_RECEIVE assigns the membrane potential ``v`` (reset cells; CoreNEURON ignores it).
    has_verbatim : bool
        A VERBATIM block (C code): compiling it needs trust (:mod:`nethub.mechsource`).
    includes : tuple of str
        Files included (``INCLUDE`` in NMODL, ``#include "..."`` in VERBATIM).
    threadsafe : bool
        Declared THREADSAFE.
    """

    name: str | None
    kind: str
    range: tuple[str, ...] = ()
    global_: tuple[str, ...] = ()
    pointer: tuple[str, ...] = ()
    bbcorepointer: tuple[str, ...] = ()
    random: tuple[str, ...] = ()
    external: tuple[str, ...] = ()
    nonspecific_current: tuple[str, ...] = ()
    electrode_current: tuple[str, ...] = ()
    ions: tuple[IonUse, ...] = ()
    parameters: dict[str, Parameter] = field(default_factory=dict)
    states: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    procedures: tuple[str, ...] = ()
    has_net_receive: bool = False
    net_receive_args: tuple[str, ...] = ()
    net_receive_sets_v: bool = False
    has_verbatim: bool = False
    includes: tuple[str, ...] = ()
    threadsafe: bool = False

    @property
    def is_point(self) -> bool:
        """A point process or an artificial cell (created as an object, not inserted)."""
        return self.kind != "density"


def mechanism_info(mod_text: str, source: str | None = None) -> ModInfo:
    """Read what an NMODL source declares.

    Parameters
    ----------
    mod_text : str
        The NMODL source.
    source : str, optional
        Its file name, to name in errors.

    Returns
    -------
    ModInfo

    Raises
    ------
    NmodlSyntaxError
        The text cannot be split into blocks (unbalanced braces).
    """
    try:
        mod = parse(mod_text, lenient=True)
    except NmodlSyntaxError as exc:
        raise NmodlSyntaxError(f"{source or 'NMODL source'}: {exc}") from None
    code = mod.code
    neuron = _neuron_block([b for b in mod.blocks if b.kind == "NEURON"])
    receive = next((b for b in mod.blocks if b.kind == "NET_RECEIVE"), None)
    return ModInfo(
        **neuron,
        parameters={p.name: p for p in _declarations(mod.blocks, "PARAMETER", code)},
        states=tuple(p.name for p in _declarations(mod.blocks, "STATE", code)),
        assigned=tuple(p.name for p in _declarations(mod.blocks, "ASSIGNED", code)),
        functions=tuple(b.name for b in mod.blocks if b.kind == "FUNCTION" and b.name),
        procedures=tuple(b.name for b in mod.blocks if b.kind == "PROCEDURE" and b.name),
        has_net_receive=receive is not None,
        net_receive_args=tuple(receive.args) if receive is not None else (),
        net_receive_sets_v=net_receive_sets_v(mod_text),
        has_verbatim=has_verbatim(mod_text),
        includes=tuple(includes(mod_text)),
    )


def _neuron_block(blocks: list[Block]) -> dict:
    """ModInfo fields read from the NEURON block(s)."""
    out: dict = {"name": None, "kind": "density", "threadsafe": False}
    lists: dict[str, list[str]] = {f: [] for f in _LISTS.values()}
    ions: list[dict] = []
    toks = [t for b in blocks for t in b.body if t.kind != "nl"]
    section: str | None = None
    k = 0
    while k < len(toks):
        w = toks[k].text
        k += 1
        if w in _KINDS:
            if k < len(toks) and toks[k].kind == "name" and out["name"] is None:
                out["name"], out["kind"] = toks[k].text, _KINDS[w]
            k, section = k + 1, None
        elif w in _LISTS or w in ("READ", "WRITE"):
            section = w
        elif w == "USEION" and k < len(toks):
            ions.append({"ion": toks[k].text, "read": [], "write": [], "valence": None})
            k, section = k + 1, None
        elif w == "VALENCE" and ions:
            k, ions[-1]["valence"] = read_number(toks, k)
            section = None
        elif w == "THREADSAFE":
            out["threadsafe"], section = True, None
        elif w in _SKIP_ONE:
            k, section = k + 1, None
        elif toks[k - 1].kind == "name" and section in _LISTS:
            lists[_LISTS[section]].append(w)
        elif toks[k - 1].kind == "name" and section in ("READ", "WRITE") and ions:
            ions[-1][section.lower()].append(w)
    out.update({f: tuple(v) for f, v in lists.items()})
    out["ions"] = tuple(IonUse(i["ion"], tuple(i["read"]), tuple(i["write"]), i["valence"])
                        for i in ions)
    return out


def _declarations(blocks: list[Block], kind: str, code: str) -> list[Parameter]:
    """Names declared in the ``kind`` blocks with their numeric defaults and units."""
    out: dict[str, Parameter] = {}
    for b in blocks:
        if b.kind != kind:
            continue
        toks = [t for t in b.body if t.kind != "nl"]
        k = 0
        while k < len(toks):
            t = toks[k]
            if t.text in _RANGE_WORDS:
                k, _ = read_number(toks, k + 1)
            elif t.kind == "name":
                k, p = _declaration(toks, k, code)
                out[p.name] = p
            else:
                k += 1
    return list(out.values())


def _declaration(toks: list[Tok], k: int, code: str) -> tuple[int, Parameter]:
    """One ``name[n] = value (units) <lo, hi>`` starting at ``toks[k]``."""
    name, default, units = toks[k].text, None, None
    k = _skip_group(toks, k + 1, "[", "]")
    if k < len(toks) and toks[k].text == "=":
        k, default = read_number(toks, k + 1)
    if k < len(toks) and toks[k].text == "(":
        end = _skip_group(toks, k, "(", ")")
        if toks[end - 1].pos >= 0 and toks[k].pos >= 0:
            units = code[toks[k].pos + 1:toks[end - 1].pos].strip() or None
        k = end
    k = _skip_group(toks, k, "<", ">")
    return k, Parameter(name, default, units)


def _skip_group(toks: list[Tok], k: int, open_: str, close: str) -> int:
    """The index after a ``open_ ... close`` group starting at ``toks[k]`` (``k`` if none)."""
    if k >= len(toks) or toks[k].text != open_:
        return k
    depth = 0
    for j in range(k, len(toks)):
        depth += {open_: 1, close: -1}.get(toks[j].text, 0)
        if depth == 0:
            return j + 1
    return len(toks)


# ---------------------------------------------------------------------------- small answers
def point_process_name(mod_text: str) -> str | None:
    """The POINT_PROCESS name an NMODL source declares, or None."""
    m = re.search(r"\bPOINT_PROCESS\s+([A-Za-z_]\w*)", strip_comments(mod_text)[0])
    return m.group(1) if m else None


def find_mod_source(model: str, mod_files: Mapping[str, str]) -> str | None:
    """The source among ``mod_files`` (file name → text) that declares POINT_PROCESS ``model``."""
    for text in mod_files.values():
        if point_process_name(text) == model:
            return text
    return None


_STATE = re.compile(r"\bSTATE\s*\{([^}]*)\}")
_COMMENT = re.compile(r":[^\n]*|\bCOMMENT\b.*?\bENDCOMMENT\b", re.S)


def mod_weight(mod_text: str | None, point: bool) -> float:
    """Weight of a mechanism from its NMODL source: ``a + b * number of STATE variables``
    (fits hh, pas, ExpSyn, Exp2Syn); the default when there is no source (load balancing,
    :mod:`nethub.sim.distribute`)."""
    if mod_text is None:
        return DEFAULT_POINT if point else DEFAULT_DENSITY
    m = _STATE.search(_COMMENT.sub("", mod_text))
    block = re.sub(r"\([^)]*\)|<[^>]*>", " ", m.group(1)) if m else ""  # units, tolerances
    states = [n for n in re.findall(r"\b[A-Za-z_]\w*\b", block) if n not in ("FROM", "TO")]
    return 0.5 + 0.25 * len(states) if point else 0.3 + 0.75 * len(states)


def net_receive_sets_v(mod_text: str) -> bool:
    """Whether NET_RECEIVE assigns the membrane potential ``v`` (``v = ...``)."""
    body = block_body(strip_comments_only(mod_text), "NET_RECEIVE")
    return re.search(r"(?<![\w.])v\s*=(?!=)", body) is not None


def coreneuron_blockers(mod_text: str) -> list[str]:
    """Known reasons an NMODL source cannot run on CoreNEURON (a probe run finds the rest)."""
    code = strip_comments_only(mod_text)
    neuron_block = re.search(r"\bNEURON\s*\{([^}]*)\}", code)
    out = []
    if neuron_block and re.search(r"\bPOINTER\b", neuron_block.group(1)):
        out.append("POINTER variables (CoreNEURON aborts: 'different MOD file'; use "
                   "pc.target_var with a RANGE variable, or BBCOREPOINTER)")
    verbatim = " ".join(re.findall(r"(?ms)\bVERBATIM\b(.*?)\bENDVERBATIM\b", code))
    if re.search(r"\b(nrn_random_pick|nrn_random_arg|hoc_Random|nrn_get_random_arg|"
                 r"random_pick)\b", verbatim):
        out.append("draws from a HOC Random object in VERBATIM (CoreNEURON needs Random123 "
                   "through RANDOM or nrnran123)")
    if net_receive_sets_v(mod_text):
        out.append("NET_RECEIVE sets the membrane potential v (CoreNEURON does not apply it: "
                   "652 instead of NEURON's 1,056 spikes measured on an Izhikevich-type cell)")
    outside = re.sub(r"(?ms)\bVERBATIM\b.*?\bENDVERBATIM\b", "", code)
    if re.search(r"\b(scop_random|exprand|normrand|unirand)\s*\(", outside):
        out.append("uses NEURON's scop random generator (CoreNEURON needs Random123)")
    return out
