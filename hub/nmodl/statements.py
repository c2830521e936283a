"""Statements and expressions of an NMODL block body, as tuples, for
:mod:`nethub.nmodl.linearity`. Package-internal; no NEURON import.
"""

from __future__ import annotations

from .lexer import Tok

__all__ = ["NotLinear", "Parser", "STATEMENT_WORDS", "HINTS"]


class NotLinear(Exception):
    """Raised inside the analysis with the reason a mechanism cannot be merged."""


_BINARY = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 3, ">": 3, "<=": 3, ">=": 3,
           "+": 4, "-": 4, "*": 5, "/": 5, "^": 7}


class Parser:
    """Statements and expressions of one block body (newlines ignored)."""

    def __init__(self, toks: list[Tok], context: str) -> None:
        self.toks = [t for t in toks if t.kind != "nl"]
        self.i = 0
        self.context = context

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def take(self, text: str | None = None) -> Tok:
        t = self.peek()
        if t is None or (text is not None and t.text != text):
            where = f"line {t.line}" if t else "the end of a block"
            raise NotLinear(f"cannot parse NMODL near {where} (expected {text!r})")
        self.i += 1
        return t

    # expressions: tuples ('num', v) ('name', n) ('call', f, args) ('bin', op, a, b) ('un', op, a)
    def expr(self, min_prec: int = 1):
        left = self.unary()
        while True:
            t = self.peek()
            if t is None or t.text not in _BINARY or _BINARY[t.text] < min_prec:
                return left
            op = self.take().text
            prec = _BINARY[op]
            right = self.expr(prec if op == "^" else prec + 1)
            left = ("bin", op, left, right)

    def unary(self):
        t = self.peek()
        if t is not None and t.text in ("-", "+", "!"):
            self.take()
            return ("un", t.text, self.expr(6))
        return self.primary()

    def primary(self):
        t = self.take()
        if t.kind == "num":
            return ("num", float(t.text))
        if t.text == "(":
            e = self.expr()
            self.take(")")
            return e
        if t.kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt.text == "(":
                self.take("(")
                args = []
                while self.peek() is not None and self.peek().text != ")":
                    args.append(self.expr())
                    if self.peek() is not None and self.peek().text == ",":
                        self.take(",")
                self.take(")")
                return ("call", t.text, args)
            if nxt is not None and nxt.text == "[":
                raise NotLinear(f"array variable '{t.text}' (line {t.line}) is not analysed")
            return ("name", t.text)
        raise NotLinear(f"cannot parse NMODL expression near {t.text!r} (line {t.line})")

    # statements: ('assign', target, op, expr) ('local', names) ('solve', name, method)
    # ('if', [(cond, body), ...], else_body) ('call', f, args) ('react', lhs, rhs, kf, kb)
    # ('other', word, line)
    def statements(self) -> list:
        out = []
        while self.peek() is not None:
            out.append(self.statement())
        return out

    def statement(self):
        t = self.peek()
        if t.text == "LOCAL":
            self.take()
            names = [self.take().text]
            while self.peek() is not None and self.peek().text == ",":
                self.take(",")
                names.append(self.take().text)
            return ("local", names)
        if t.text == "SOLVE":
            self.take()
            name = self.take().text
            method = None
            if self.peek() is not None and self.peek().text in ("METHOD", "STEADYSTATE"):
                kw = self.take().text
                method = (kw, self.take().text)
            return ("solve", name, method)
        if t.text == "if":
            return self.if_statement()
        if t.text == "~":
            return self.reaction()
        if t.text in ("UNITSOFF", "UNITSON"):
            self.take()
            return ("nop",)
        if t.kind == "name":
            nxt = self.peek(1)
            if nxt is not None and nxt.text in ("=", "+=", "-=", "*=", "/="):
                self.i += 2
                return ("assign", t.text, nxt.text, self.expr())
            if nxt is not None and nxt.text == "(" and t.text not in STATEMENT_WORDS:
                e = self.primary()
                return ("call", e[1], e[2])
        word = t.text
        hint = HINTS.get(word, "is not analysed")
        raise NotLinear(f"{self.context}: '{word}' (line {t.line}) {hint}")

    def if_statement(self):
        branches, else_body = [], None
        self.take("if")
        while True:
            self.take("(")
            cond = self.expr()
            self.take(")")
            branches.append((cond, self.braced()))
            if self.peek() is not None and self.peek().text == "else":
                self.take("else")
                if self.peek() is not None and self.peek().text == "if":
                    self.take("if")
                    continue
                else_body = self.braced()
            return ("if", branches, else_body)

    def braced(self) -> list:
        self.take("{")
        depth, j = 1, self.i
        while j < len(self.toks) and depth:
            depth += {"{": 1, "}": -1}.get(self.toks[j].text, 0)
            j += 1
        inner = Parser(self.toks[self.i:j - 1], self.context).statements()
        self.i = j
        return inner

    def reaction(self):
        self.take("~")
        lhs = self.species()
        op = self.take().text
        if op != "<->":
            raise NotLinear(f"KINETIC reaction with '{op}' (only '<->' between single states "
                            "is linear)")
        rhs = self.species()
        self.take("(")
        kf = self.expr()
        self.take(",")
        kb = self.expr()
        self.take(")")
        return ("react", lhs, rhs, kf, kb)

    def species(self) -> list[tuple[str, str]]:
        """Terms of one side of a reaction: [(coefficient text, name), ...]."""
        out = []
        while True:
            coef = ""
            if self.peek() is not None and self.peek().kind == "num":
                coef = self.take().text
            out.append((coef, self.take().text))
            if self.peek() is None or self.peek().text != "+":
                return out
            self.take("+")


STATEMENT_WORDS = frozenset({"if", "else", "while", "FROM", "WATCH", "FOR_NETCONS", "INITIAL",
                              "CONSERVE", "COMPARTMENT", "TABLE", "VERBATIM", "LAG", "MATCH"})
HINTS = {
    "CONSERVE": "keeps a total constant (not homogeneous: a merged synapse would hold one "
                "total, not N)",
    "COMPARTMENT": "scales a kinetic scheme by volumes (not analysed)",
    "WATCH": "watches a condition (self-events are not merged)",
    "FOR_NETCONS": "loops over the NetCons (per-connection behaviour is not merged)",
    "INITIAL": "initialises per-connection state (not merged)",
    "while": "is a loop (not analysed)",
    "FROM": "is a loop (not analysed)",
}
