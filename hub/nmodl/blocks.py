"""NMODL source as a list of blocks (``NEURON { ... }``, ``NET_RECEIVE(w) { ... }``, ...) with
their tokens, and small helpers over block bodies. Package-internal; no NEURON import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lexer import NmodlSyntaxError, Tok, strip_comments, tokens

__all__ = ["BLOCK_KEYWORDS", "Block", "Mod", "parse", "block_from_header", "drop_groups",
           "read_number", "assigned_names"]

BLOCK_KEYWORDS = frozenset({
    "NEURON", "UNITS", "PARAMETER", "ASSIGNED", "STATE", "INITIAL", "BREAKPOINT", "DERIVATIVE",
    "KINETIC", "NET_RECEIVE", "FUNCTION", "PROCEDURE", "CONSTANT", "INDEPENDENT", "LINEAR",
    "NONLINEAR", "CONSTRUCTOR", "DESTRUCTOR", "DISCRETE", "PARTIAL", "BEFORE", "AFTER",
})


@dataclass
class Block:
    kind: str  # e.g. 'NET_RECEIVE', 'DERIVATIVE', 'BEFORE BREAKPOINT'
    name: str | None
    args: list[str]
    body: list[Tok]


@dataclass
class Mod:
    blocks: list[Block]
    verbatim: bool
    includes: bool
    defines: set[str] = field(default_factory=set)
    code: str = ""  # the text the tokens were read from (Tok.pos indexes it)


def parse(text: str, lenient: bool = False) -> Mod:
    """The blocks of an NMODL source. ``lenient``: strings may hold ``:`` and ``?``, and
    characters the tokenizer does not know become ``'other'`` tokens instead of an error."""
    stripped, verbatim = strip_comments(text, keep_strings=lenient)
    toks = tokens(stripped, strict=not lenient)
    blocks: list[Block] = []
    header: list[Tok] = []
    includes, defines = False, set()
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.text != "{":
            if t.kind != "nl":
                header.append(t)
            i += 1
            continue
        depth, j = 1, i + 1
        while j < len(toks) and depth:
            depth += {"{": 1, "}": -1}.get(toks[j].text, 0)
            j += 1
        if depth:
            raise NmodlSyntaxError("unbalanced braces in the NMODL source")
        words = [h.text for h in header]
        includes |= "INCLUDE" in words
        defines |= {words[k + 1] for k, w in enumerate(words[:-1]) if w == "DEFINE"}
        blocks.append(block_from_header(header, toks[i + 1:j - 1]))
        header, i = [], j
    if any(h.text == "INCLUDE" for h in header):
        includes = True
    return Mod(blocks, verbatim, includes, defines, stripped)


def block_from_header(header: list[Tok], body: list[Tok]) -> Block:
    k = max((n for n, h in enumerate(header) if h.text in BLOCK_KEYWORDS), default=None)
    if k is None:
        return Block("?", None, [], body)
    kind = header[k].text
    if k > 0 and header[k - 1].text in ("BEFORE", "AFTER"):
        kind = f"{header[k - 1].text} {kind}"
    rest = header[k + 1:]
    name = rest[0].text if rest and rest[0].kind == "name" else None
    args: list[str] = []
    if "(" in [r.text for r in rest]:
        start = [r.text for r in rest].index("(")
        depth = 0
        for r in rest[start:]:
            depth += {"(": 1, ")": -1}.get(r.text, 0)
            if depth == 1 and r.kind == "name":
                args.append(r.text)
            if depth == 0:
                break
    if kind == "NET_RECEIVE":
        name = None
    return Block(kind, name, args, body)


def drop_groups(body: list[Tok]) -> list[Tok]:
    """Tokens without ``(units)``, ``<lo, hi>`` and ``[n]`` groups."""
    out: list[Tok] = []
    closing = {"(": ")", "<": ">", "[": "]"}
    stack: list[str] = []
    for t in body:
        if t.kind == "nl" and not stack:
            out.append(t)
            continue
        if t.text in closing:
            stack.append(closing[t.text])
        elif stack and t.text == stack[-1]:
            stack.pop()
        elif not stack:
            out.append(t)
    return [t for t in out if t.kind != "nl"]


def read_number(toks: list[Tok], k: int) -> tuple[int, float | None]:
    sign = 1.0
    if k < len(toks) and toks[k].text in ("-", "+"):
        sign = -1.0 if toks[k].text == "-" else 1.0
        k += 1
    if k < len(toks) and toks[k].kind == "num":
        return k + 1, sign * float(toks[k].text)
    return k, None


def assigned_names(body: list[Tok]) -> set[str]:
    """Names assigned anywhere in a block (``x = ...``, ``x += ...``), including derivatives."""
    toks = [t for t in body if t.kind != "nl"]
    out = set()
    for k, t in enumerate(toks[:-1]):
        if t.kind == "name" and toks[k + 1].text in ("=", "+=", "-=", "*=", "/="):
            prev = toks[k - 1].text if k else ""
            if prev not in ("<", "(", ","):  # not a keyword argument or unit
                out.add(t.text.rstrip("'"))
    return out
