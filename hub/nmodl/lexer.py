"""Tokens of NMODL code (package-internal: :mod:`nethub.nmodl.blocks` and the analyses use it).

No NEURON import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import NethubError

__all__ = ["NmodlSyntaxError", "Tok", "TOKEN", "strip_comments", "tokens"]


class NmodlSyntaxError(NethubError, ValueError):
    """NMODL text the tokenizer or block parser cannot read (unexpected character, unbalanced
    braces)."""


TOKEN = re.compile(r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_]\w*'*)
  | (?P<op><->|<<|\+=|-=|\*=|/=|==|!=|<=|>=|&&|\|\||[-+*/^(){}\[\]<>=,!~@])
  | (?P<str>"[^"\n]*")
  | (?P<nl>\n)
  | (?P<ws>[ \t\r\f]+)
  | (?P<other>.)
""", re.VERBOSE)


def strip_comments(text: str, keep_strings: bool = False) -> tuple[str, bool]:
    """Text without COMMENT blocks, ``:``/``?`` comments and TITLE lines; VERBATIM blocks are
    removed too and reported by the flag. With ``keep_strings``, a ``:`` or ``?`` inside a
    ``"..."`` string does not start a comment (the linearity analysis keeps the stricter
    reading it always had)."""
    text = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
    text, n_verbatim = re.subn(r"(?ms)\bVERBATIM\b.*?\bENDVERBATIM\b", " ", text)
    text = re.sub(r"(?m)^\s*TITLE\b.*$", "", text)
    if keep_strings:
        text = re.sub(r'"[^"\n]*"|[:?][^\n]*', lambda m: m.group() if m.group()[0] == '"' else "",
                      text)
    else:
        text = re.sub(r"[:?][^\n]*", "", text)
    return text, n_verbatim > 0


@dataclass
class Tok:
    """One token: kind ('num', 'name', 'op', 'str', 'nl'), text, line and offset in the code."""

    kind: str
    text: str
    line: int
    pos: int = -1


def tokens(text: str, strict: bool = True) -> list[Tok]:
    """The tokens of comment-free ``text``; an unexpected character raises
    :class:`NmodlSyntaxError` (``strict``) or becomes a token of kind ``'other'``."""
    out, line = [], 1
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            out.append(Tok("nl", "\n", line, m.start()))
            line += 1
        elif kind == "other" and strict:
            raise NmodlSyntaxError(f"unexpected character {m.group()!r} on line {line}")
        elif kind != "ws":
            out.append(Tok(kind, m.group(), line, m.start()))
    return out
