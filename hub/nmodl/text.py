"""Line-level reading of NMODL text: code without comments, its VERBATIM (C) blocks, the
mechanisms it declares, the files it includes, and the body of a block. No NEURON import.
"""

from __future__ import annotations

import re

__all__ = ["strip_nmodl", "declared_mechanisms", "includes", "has_verbatim", "strip_comments_only",
           "block_body"]


def strip_nmodl(text: str) -> tuple[str, list[str]]:
    """NMODL code without comments (``COMMENT`` blocks, ``:``/``?`` to the end of a line,
    ``TITLE`` lines) and without ``VERBATIM`` blocks, and the list of those blocks' texts."""
    code: list[str] = []
    blocks: list[str] = []
    state, buf = None, []
    for line in text.splitlines():
        if state == "comment":
            state = None if re.match(r"\s*ENDCOMMENT\b", line) else state
            continue
        if state == "verbatim":
            end = re.search(r"\bENDVERBATIM\b", line)
            buf.append(line[:end.start()] if end else line)
            if end:
                blocks.append("\n".join(buf))
                state, buf = None, []
                code.append(line[end.end():])
            continue
        if re.match(r"\s*TITLE\b", line):
            continue
        if re.match(r"\s*COMMENT\b", line):
            state = "comment"
            continue
        line = re.split(r"[:?]", line, maxsplit=1)[0]
        start = re.search(r"\bVERBATIM\b", line)
        if start:
            code.append(line[:start.start()])
            rest = line[start.end():]
            end = re.search(r"\bENDVERBATIM\b", rest)
            if end:
                blocks.append(rest[:end.start()])
                code.append(rest[end.end():])
            else:
                state, buf = "verbatim", [rest]
            continue
        code.append(line)
    if state == "verbatim":  # unterminated: nocmodl copies to the end
        blocks.append("\n".join(buf))
    return "\n".join(code), blocks


def declared_mechanisms(text: str) -> set[str]:
    """Mechanism names an NMODL source declares (SUFFIX, POINT_PROCESS, ARTIFICIAL_CELL)."""
    code = strip_nmodl(text)[0]
    return set(re.findall(r"\b(?:SUFFIX|POINT_PROCESS|ARTIFICIAL_CELL)\s+([A-Za-z_]\w*)",
                          code))


def includes(text: str) -> list[str]:
    """File names a source includes: ``INCLUDE "x"`` in NMODL code and ``#include "x"`` in its
    VERBATIM blocks (quoted names only, in order, without repeats)."""
    code, blocks = strip_nmodl(text)
    names = re.findall(r'\bINCLUDE\s+"([^"\n]+)"', code)
    for block in blocks:
        names += re.findall(r'^\s*#\s*include\s+"([^"\n]+)"', block, flags=re.MULTILINE)
    return list(dict.fromkeys(names))


def has_verbatim(text: str) -> bool:
    """Whether a source has a ``VERBATIM`` block (C code, compiled and run unchecked: the trust
    check of :mod:`nethub.mechsource` refuses such code unless trusted)."""
    return bool(strip_nmodl(text)[1])


def strip_comments_only(text: str) -> str:
    """Text without ``COMMENT`` blocks and ``:`` comments (VERBATIM blocks kept)."""
    text = re.sub(r"(?ms)^\s*COMMENT\b.*?^\s*ENDCOMMENT\b", "", text)
    return re.sub(r":[^\n]*", "", text)


def block_body(code: str, keyword: str) -> str:
    """The body of the first ``keyword ... { ... }`` block of ``code`` (braces matched)."""
    m = re.search(rf"\b{keyword}\b[^{{]*\{{", code)
    if m is None:
        return ""
    depth, i = 1, m.end()
    while i < len(code) and depth:
        depth += {"{": 1, "}": -1}.get(code[i], 0)
        i += 1
    return code[m.end():i - 1]
