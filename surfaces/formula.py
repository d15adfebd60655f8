"""A loss surface typed as a formula f(x, y), parsed safely into torch operations.

    from surfaces import get_surface
    s = get_surface("formula", expr="(1 - x)**2 + 100*(y - x**2)**2", bounds=((-2, 2), (-1, 3)))

Safety: the text never reaches eval/exec/compile or Python's `ast` module. A hand-written tokenizer
accepts only the characters of the grammar below, and a recursive-descent parser builds a tree of
this module's own node classes, which is compiled once into nested closures over torch functions
from a fixed table. There is no attribute access, no subscript, no string and no name other than
x, y, the constants and the functions listed here, so there is nothing to reach Python through.

Grammar (precedence and associativity as in Python; `^` is a synonym for `**`):

    formula := sum
    sum     := product (('+' | '-') product)*
    product := unary (('*' | '/') unary)*
    unary   := ('+' | '-') unary | power                 -x**2 is -(x**2)
    power   := atom [('**' | '^') unary]                  right-associative: 2**3**2 is 2**9
    atom    := NUMBER | x | y | pi | e | FUNCTION '(' sum [',' sum] ')' | '(' sum ')'
    NUMBER  := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (or '.' digits ...)

Functions: sin cos tan exp log (natural; alias ln) log10 log2 sqrt abs tanh sinh cosh atan
(alias arctan), and min(a, b), max(a, b). Spaces, tabs and line breaks are ignored. The only
non-ASCII characters accepted are the typographic operators − (U+2212), × (U+00D7), · (U+00B7),
⋅ (U+22C5) and ÷ (U+00F7), read as - * * * /; every other one (Cyrillic or full-width look-alikes,
zero-width spaces, superscripts, π) is refused with its column.

Limits: at most 500 characters, 300 tree nodes and 30 levels of nesting (each pair of parentheses,
function call, unary sign and exponent is one level); numbers at most 1e6 in absolute value.
The exponent rule: the exponent of `**` must be a constant (numbers, pi, e and arithmetic on them,
no x or y) whose value lies in [-10, 10]; write exp(y*log(x)) for a variable power. All arithmetic
is float64 (or the input's float type) with O(1) cost per operation, so no input can make Python
compute a huge integer; overflow becomes inf, and a formula that is not finite on more than half of
a 64 × 64 grid over the view is refused.

Every refusal is a `FormulaError` (a ValueError) with a one-line message that starts with the
1-based column where the problem is ("column 7: unknown name 'os'; ...") wherever one applies.

Derivatives come from autograd (the Hessian by double backward); the minima are estimated
numerically (grid, then Newton) and the default start is chosen by a fixed rule: see
`_analyse`.
"""

from __future__ import annotations

import functools
import math
import numbers
import unicodedata
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from surfaces.base import Surface

MAX_LENGTH = 500
MAX_NODES = 300
MAX_DEPTH = 30
MAX_LITERAL = 1e6
MAX_EXPONENT = 10.0
MAX_BOUND = 1e4  # |xmin|, |xmax|, |ymin|, |ymax| and each span
MIN_SPAN = 1e-3
GRID = 64  # the view is sampled on GRID × GRID points
MAX_NON_FINITE = 0.5  # refuse when more than this fraction of the grid is inf or NaN
MAX_MINIMA = 8

DEFAULT_EXPR = "sin(3*x)*cos(2*y) + 0.1*(x**2 + y**2)"
DEFAULT_BOUNDS = ((-3.0, 3.0), (-3.0, 3.0))

VALID_PARAMS = ("expr", "bounds")


class FormulaError(ValueError):
    """A formula that was refused; `column` is the 1-based position of the problem, or None."""

    def __init__(self, message: str, column: int | None = None):
        self.column = column
        self.reason = message
        super().__init__(message if column is None else f"column {column}: {message}")


# ---- the whitelist ---------------------------------------------------------------------------


def _minimum(a, b):
    return torch.minimum(a, b)


def _maximum(a, b):
    return torch.maximum(a, b)


FUNCTIONS_1: dict[str, Callable[[Tensor], Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "ln": torch.log,
    "log10": torch.log10,
    "log2": torch.log2,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "atan": torch.atan,
    "arctan": torch.atan,
}
FUNCTIONS_2: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"min": _minimum, "max": _maximum}
FUNCTIONS = (*FUNCTIONS_1, *FUNCTIONS_2)
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")
NAMES = frozenset((*VARIABLES, *CONSTANTS, *FUNCTIONS))
_NAME_LIST = "x, y, pi, e or one of " + ", ".join(FUNCTIONS)

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_SPACE = frozenset(" \t\r\n")
_SYNONYMS = {"\u2212": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u00f7": "/"}
_HINTS = {
    "%": "'%' (remainder) is not supported",
    "@": "'@' (matrix product) is not supported; use *",
    "&": "logical and bitwise operators are not supported",
    "|": "logical and bitwise operators are not supported; use abs(...) for an absolute value",
    "~": "logical and bitwise operators are not supported",
    "!": "'!' is not supported",
    "<": "comparisons are not supported",
    ">": "comparisons are not supported",
    "=": "assignments and comparisons are not supported; type only the right-hand side f(x, y)",
    "[": "brackets and subscripts are not supported; group with ( )",
    "]": "brackets and subscripts are not supported; group with ( )",
    "{": "braces are not supported; group with ( )",
    "}": "braces are not supported; group with ( )",
    '"': "quotes and strings are not supported",
    "'": "quotes and strings are not supported",
    "`": "quotes and strings are not supported",
    ";": "';' is not supported: type a single expression",
    ":": "':' is not supported",
    ".": "'.' may only appear inside a number (no attribute access)",
    "#": "comments are not supported",
    "\\": "backslashes are not supported",
    "$": "'$' is not supported: type the formula without LaTeX markup",
    "?": "'?' is not supported",
}


# ---- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    col: int
    value: float = 0.0

    def describe(self) -> str:
        return "the end of the formula" if self.kind == "end" else f"'{self.text}'"


def _char_problem(ch: str) -> str:
    if ch in _HINTS:
        return _HINTS[ch]
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    label = f"character {code} ({name})" if name else f"character {code}"
    if ord(ch) < 128:
        return f"{label} is not allowed"
    hint = "; only plain ASCII letters, digits, spaces and + - * / ^ ( ) , are accepted"
    if "SUPERSCRIPT" in name:
        hint = "; write powers as x**2 or x^2"
    elif name == "GREEK SMALL LETTER PI":
        hint = "; write pi"
    elif ch.isalpha() or ch.isdigit():
        hint = "; it may look like an ASCII letter or digit but is not one: retype it in plain ASCII"
    return label + " is not allowed" + hint


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = _SYNONYMS.get(text[i], text[i])
        col = i + 1
        if ch in _SPACE:
            i += 1
        elif ch in _DIGITS or (ch == "." and i + 1 < n and text[i + 1] in _DIGITS):
            j = i
            while j < n and text[j] in _DIGITS:
                j += 1
            if j < n and text[j] == ".":
                j += 1
                while j < n and text[j] in _DIGITS:
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k] in _DIGITS:
                    while k < n and text[k] in _DIGITS:
                        k += 1
                    j = k
            if j < n and text[j] == ".":
                raise FormulaError("a number cannot contain a second '.'", j + 1)
            literal = text[i:j]
            value = float(literal)  # ASCII digits, '.', 'e' and a sign only: always parses
            if not abs(value) <= MAX_LITERAL:
                raise FormulaError(
                    f"number {_short(literal)} is too large; numbers are limited to {MAX_LITERAL:g} in absolute value",
                    col,
                )
            tokens.append(_Token("num", literal, col, value))
            i = j
        elif ch in _LETTERS:
            j = i
            while j < n and (text[j] in _LETTERS or text[j] in _DIGITS):
                j += 1
            name = text[i:j]
            if name not in NAMES:
                k = j
                while k < n and text[k] in _SPACE:
                    k += 1
                what = "function" if k < n and text[k] == "(" else "name"
                hint = f" (did you mean '{name.lower()}'?)" if name.lower() in NAMES else ""
                raise FormulaError(f"unknown {what} '{_short(name)}'{hint}; use {_NAME_LIST}", col)
            tokens.append(_Token("name", name, col))
            i = j
        elif ch == "*" and i + 1 < n and _SYNONYMS.get(text[i + 1], text[i + 1]) == "*":
            tokens.append(_Token("op", "**", col))
            i += 2
        elif ch == "/" and i + 1 < n and _SYNONYMS.get(text[i + 1], text[i + 1]) == "/":
            raise FormulaError("'//' (floor division) is not supported; use /", col)
        elif ch == "^":
            tokens.append(_Token("op", "**", col))
            i += 1
        elif ch in "+-*/(),":
            tokens.append(_Token("op", ch, col))
            i += 1
        else:
            raise FormulaError(_char_problem(text[i]), col)
    tokens.append(_Token("end", "", n + 1))
    return tokens


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ---- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: float
    text: str
    col: int


@dataclass(frozen=True)
class Name:  # x, y, pi or e
    name: str
    col: int


@dataclass(frozen=True)
class Neg:
    operand: "Node"
    col: int


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: "Node"
    right: "Node"
    col: int


@dataclass(frozen=True)
class Pow:
    base: "Node"
    exponent: "Node"
    col: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    col: int


Node = Union[Num, Name, Neg, BinOp, Pow, Call]


class _Parser:
    def __init__(self, tokens: list[_Token]):
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.nodes = 0

    # helpers
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == "op" and tok.text in ops

    def node(self, cls, *args):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FormulaError(f"formula too large: more than {MAX_NODES} numbers, names and operations", args[-1])
        return cls(*args)

    def enter(self, col: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(
                f"formula nested too deeply: more than {MAX_DEPTH} levels of parentheses, "
                "functions, signs and exponents",
                col,
            )

    def leave(self) -> None:
        self.depth -= 1

    # grammar
    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise FormulaError("the formula is empty; type an expression in x and y, such as x**2 + 3*y**2", 1)
        tree = self.sum()
        tok = self.peek()
        if tok.kind != "end":
            self.unexpected_after_value(tok)
        return tree

    def unexpected_after_value(self, tok: _Token):
        if tok.kind == "op" and tok.text == ")":
            raise FormulaError("')' has no matching '('", tok.col)
        if tok.kind == "op" and tok.text == ",":
            raise FormulaError("',' may only separate the two arguments of min(a, b) or max(a, b)", tok.col)
        prev, after = _short(self.tokens[self.i - 1].text), _short(tok.text)
        example = f"{prev}*{after}" + ("...)" if after == "(" else "")
        raise FormulaError(
            f"missing operator between '{prev}' and '{after}'; write {example} "
            "(implicit multiplication is not supported)",
            tok.col,
        )

    def sum(self) -> Node:
        left = self.product()
        while self.at("+", "-"):
            tok = self.take()
            left = self.node(BinOp, tok.text, left, self.product(), tok.col)
        return left

    def product(self) -> Node:
        left = self.unary()
        while self.at("*", "/"):
            tok = self.take()
            left = self.node(BinOp, tok.text, left, self.unary(), tok.col)
        return left

    def unary(self) -> Node:
        if self.at("+", "-"):
            tok = self.take()
            self.enter(tok.col)
            operand = self.unary()
            self.leave()
            return operand if tok.text == "+" else self.node(Neg, operand, tok.col)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.at("**"):
            tok = self.take()
            self.enter(tok.col)
            start = self.peek().col
            exponent = self.unary()
            self.leave()
            _check_exponent(exponent, start)
            return self.node(Pow, base, exponent, tok.col)
        return base

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return self.node(Num, tok.value, tok.text, tok.col)
        if tok.kind == "name":
            if tok.text in FUNCTIONS:
                return self.call(tok)
            return self.node(Name, tok.text, tok.col)
        if tok.kind == "op" and tok.text == "(":
            self.enter(tok.col)
            inner = self.sum()
            self.leave()
            close = self.take()
            if not (close.kind == "op" and close.text == ")"):
                if close.kind == "end":
                    raise FormulaError(f"missing ')' to close the '(' at column {tok.col}", close.col)
                self.i -= 1
                self.unexpected_after_value(close)
            return inner
        where = "at the end of the formula" if tok.kind == "end" else f"but found '{tok.text}'"
        raise FormulaError(f"expected a number, x, y, pi, e, a function call or '(' {where}", tok.col)

    def call(self, name: _Token) -> Node:
        arity = 1 if name.text in FUNCTIONS_1 else 2
        usage = f"{name.text}(a, b)" if arity == 2 else f"{name.text}(...)"
        opening = self.peek()
        if not (opening.kind == "op" and opening.text == "("):
            raise FormulaError(f"function '{name.text}' needs its argument in parentheses: {usage}", opening.col)
        self.take()
        self.enter(opening.col)
        args = []
        if self.at(")"):
            raise FormulaError(
                f"function '{name.text}' takes {_arguments(arity)}; found none: {usage}", self.peek().col
            )
        args.append(self.sum())
        while self.at(","):
            self.take()
            args.append(self.sum())
        self.leave()
        close = self.take()
        if not (close.kind == "op" and close.text == ")"):
            if close.kind == "end":
                raise FormulaError(f"missing ')' to close the call of '{name.text}' at column {name.col}", close.col)
            self.i -= 1
            self.unexpected_after_value(close)
        if len(args) != arity:
            raise FormulaError(f"function '{name.text}' takes {_arguments(arity)}; got {len(args)}: {usage}", name.col)
        return self.node(Call, name.text, tuple(args), name.col)


def _arguments(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"


def _has_variable(node: Node) -> bool:
    if isinstance(node, Name):
        return node.name in VARIABLES
    if isinstance(node, Num):
        return False
    if isinstance(node, Neg):
        return _has_variable(node.operand)
    if isinstance(node, BinOp):
        return _has_variable(node.left) or _has_variable(node.right)
    if isinstance(node, Pow):
        return _has_variable(node.base) or _has_variable(node.exponent)
    return any(_has_variable(a) for a in node.args)


def _check_exponent(exponent: Node, col: int) -> None:
    """The exponent rule: a constant (no x or y) with a finite value in [-10, 10]."""
    rule = f"the exponent of ** or ^ must be a constant between {-MAX_EXPONENT:g} and {MAX_EXPONENT:g}"
    if _has_variable(exponent):
        raise FormulaError(f"{rule}, without x or y; write exp(y*log(x)) for a variable power", col)
    value = _compile(exponent)
    if not (isinstance(value, float) and math.isfinite(value) and abs(value) <= MAX_EXPONENT):
        raise FormulaError(f"{rule}; this one is {value:.6g}", col)


# ---- compilation -------------------------------------------------------------------------------

Compiled = Union[float, Callable[[Tensor, Tensor], Tensor]]


def _fold(fn, *values: float) -> float:
    """Evaluate a constant part once, in float64 torch arithmetic (inf/NaN, never an exception)."""
    return float(fn(*(torch.tensor(v, dtype=torch.float64) for v in values)))


_BINARY = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}


def _compile(node: Node) -> Compiled:
    """A float for a constant part, else a closure (x, y) -> tensor built from torch functions."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        if node.name == "x":
            return lambda x, y: x
        if node.name == "y":
            return lambda x, y: y
        return CONSTANTS[node.name]
    if isinstance(node, Neg):
        a = _compile(node.operand)
        if isinstance(a, float):
            return _fold(torch.neg, a)
        return lambda x, y: torch.neg(a(x, y))
    if isinstance(node, BinOp):
        a, b = _compile(node.left), _compile(node.right)
        if isinstance(a, float) and isinstance(b, float):
            return _fold(_BINARY[node.op], a, b)
        return _binary(node.op, a, b)
    if isinstance(node, Pow):
        a, p = _compile(node.base), _compile(node.exponent)
        assert isinstance(p, float)  # the exponent rule, checked while parsing
        if isinstance(a, float):
            return _fold(torch.pow, a, p)
        return lambda x, y: torch.pow(a(x, y), p)
    # Call
    args = [_compile(arg) for arg in node.args]
    if node.func in FUNCTIONS_1:
        fn1 = FUNCTIONS_1[node.func]
        (a,) = args
        if isinstance(a, float):
            return _fold(fn1, a)
        return lambda x, y: fn1(a(x, y))
    fn2 = FUNCTIONS_2[node.func]
    a, b = args
    if isinstance(a, float) and isinstance(b, float):
        return _fold(fn2, a, b)
    if isinstance(a, float):
        a, b = b, a  # min and max are symmetric
    if isinstance(b, float):
        c = b
        if node.func == "min":
            return lambda x, y: torch.clamp(a(x, y), max=c)
        return lambda x, y: torch.clamp(a(x, y), min=c)
    return lambda x, y: fn2(a(x, y), b(x, y))


def _binary(op: str, a: Compiled, b: Compiled):
    if isinstance(a, float):
        c = a
        if op == "+":
            return lambda x, y: c + b(x, y)
        if op == "-":
            return lambda x, y: c - b(x, y)
        if op == "*":
            return lambda x, y: c * b(x, y)
        return lambda x, y: c / b(x, y)
    if isinstance(b, float):
        c = b
        if op == "+":
            return lambda x, y: a(x, y) + c
        if op == "-":
            return lambda x, y: a(x, y) - c
        if op == "*":
            return lambda x, y: a(x, y) * c
        return lambda x, y: a(x, y) / c
    if op == "+":
        return lambda x, y: a(x, y) + b(x, y)
    if op == "-":
        return lambda x, y: a(x, y) - b(x, y)
    if op == "*":
        return lambda x, y: a(x, y) * b(x, y)
    return lambda x, y: a(x, y) / b(x, y)


# ---- rendering (from the tree only: no user text passes through unchecked) -----------------------

_PREC_SUM, _PREC_PRODUCT, _PREC_UNARY, _PREC_POWER, _PREC_ATOM = 1, 2, 3, 4, 5


def _prec(node: Node) -> int:
    if isinstance(node, BinOp):
        return _PREC_SUM if node.op in "+-" else _PREC_PRODUCT
    if isinstance(node, Neg):
        return _PREC_UNARY
    if isinstance(node, Pow):
        return _PREC_POWER
    return _PREC_ATOM


def to_text(node: Node) -> str:
    """Plain one-line rendering with ^ for powers, parenthesised only where needed."""

    def wrap(child, min_prec):
        s = to_text(child)
        return f"({s})" if _prec(child) < min_prec else s

    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Neg):
        return "-" + wrap(node.operand, _PREC_POWER)
    if isinstance(node, BinOp):
        if node.op in "+-":
            return f"{wrap(node.left, _PREC_SUM)} {node.op} {wrap(node.right, _PREC_PRODUCT)}"
        return f"{wrap(node.left, _PREC_PRODUCT)}{node.op}{wrap(node.right, _PREC_POWER)}"
    if isinstance(node, Pow):
        return f"{wrap(node.base, _PREC_ATOM)}^{wrap(node.exponent, _PREC_ATOM)}"
    return f"{node.func}(" + ", ".join(to_text(a) for a in node.args) + ")"


_LATEX_FUNCS = {
    "sin": r"\sin",
    "cos": r"\cos",
    "tan": r"\tan",
    "exp": r"\exp",
    "log": r"\ln",
    "ln": r"\ln",
    "log10": r"\log_{10}",
    "log2": r"\log_{2}",
    "tanh": r"\tanh",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "atan": r"\arctan",
    "arctan": r"\arctan",
    "min": r"\min",
    "max": r"\max",
}


def _latex_number(text: str) -> str:
    low = text.lower()
    if "e" not in low:
        return text
    mantissa, exponent = low.split("e")
    power = f"10^{{{int(exponent)}}}"
    return power if float(mantissa) == 1.0 else rf"{mantissa} \times {power}"


def to_latex(node: Node) -> str:
    """LaTeX rendering of the tree (numbers, x, y and whitelisted names only)."""

    def wrap(child, min_prec):
        s = to_latex(child)
        return rf"\left({s}\right)" if _prec(child) < min_prec else s

    if isinstance(node, Num):
        return _latex_number(node.text)
    if isinstance(node, Name):
        return r"\pi" if node.name == "pi" else node.name
    if isinstance(node, Neg):
        return "-" + wrap(node.operand, _PREC_POWER)
    if isinstance(node, BinOp):
        if node.op in "+-":
            return f"{wrap(node.left, _PREC_SUM)} {node.op} {wrap(node.right, _PREC_PRODUCT)}"
        if node.op == "/":
            return rf"\frac{{{to_latex(node.left)}}}{{{to_latex(node.right)}}}"
        left, right = wrap(node.left, _PREC_PRODUCT), wrap(node.right, _PREC_POWER)
        juxtapose = isinstance(node.left, Num) and not isinstance(node.right, Num) and not right[0].isdigit()
        return f"{left}\\,{right}" if juxtapose else rf"{left} \cdot {right}"
    if isinstance(node, Pow):
        base = to_latex(node.base)
        if _prec(node.base) < _PREC_ATOM or isinstance(node.base, Call) or base.startswith("-"):
            base = rf"\left({base}\right)"
        return f"{{{base}}}^{{{to_latex(node.exponent)}}}"
    args = ", ".join(to_latex(a) for a in node.args)
    if node.func == "sqrt":
        return rf"\sqrt{{{args}}}"
    if node.func == "abs":
        return rf"\left|{args}\right|"
    return rf"{_LATEX_FUNCS[node.func]}\left({args}\right)"


# ---- the compiled formula, cached by its text ------------------------------------------------------


@dataclass(frozen=True)
class Formula:
    expr: str
    tree: Node
    fn: Compiled  # a float when the formula does not depend on x or y
    text: str
    latex: str
    size: int  # number of tree nodes

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        shape = torch.broadcast_shapes(x.shape, y.shape)
        if isinstance(self.fn, float):
            return torch.full(shape, self.fn, dtype=torch.promote_types(x.dtype, y.dtype), device=x.device)
        out = self.fn(x, y)
        if out.shape != shape:
            out = out.expand(shape).contiguous()
        if out is x or out is y:  # never hand back the caller's own tensor
            out = out.clone()
        return out


def parse_formula(expr) -> Formula:
    """Parse and compile a formula (cached by its text); a FormulaError when it is refused."""
    if not isinstance(expr, str):
        raise FormulaError(f"the formula must be text; got {type(expr).__name__}")
    if len(expr) > MAX_LENGTH:
        raise FormulaError(f"formula too long: {len(expr)} characters, at most {MAX_LENGTH}", MAX_LENGTH + 1)
    return _parse_cached(expr)


@functools.lru_cache(maxsize=512)
def _parse_cached(expr: str) -> Formula:
    parser = _Parser(_tokenize(expr))
    tree = parser.parse()
    return Formula(
        expr=expr,
        tree=tree,
        fn=_compile(tree),
        text=to_text(tree),
        latex="f(x, y) = " + to_latex(tree),
        size=parser.nodes,
    )


# ---- bounds ---------------------------------------------------------------------------------------


def _check_bounds(bounds) -> tuple[tuple[float, float], tuple[float, float]]:
    usage = "bounds must be ((xmin, xmax), (ymin, ymax)) or (xmin, xmax, ymin, ymax)"
    if not isinstance(bounds, (tuple, list)):
        raise ValueError(f"surface 'formula': {usage}; got {_short(repr(bounds), 60)}")
    if len(bounds) == 2 and all(isinstance(b, (tuple, list)) and len(b) == 2 for b in bounds):
        flat = [bounds[0][0], bounds[0][1], bounds[1][0], bounds[1][1]]
    elif len(bounds) == 4:
        flat = list(bounds)
    else:
        raise ValueError(f"surface 'formula': {usage}; got {_short(repr(bounds), 60)}")
    for v in flat:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"surface 'formula': {usage}, with finite numbers; got {_short(repr(v), 40)}")
        if abs(float(v)) > MAX_BOUND:
            raise ValueError(f"surface 'formula': bounds must lie within ±{MAX_BOUND:g}; got {float(v):g}")
    x0, x1, y0, y1 = (float(v) for v in flat)
    for axis, lo, hi in (("x", x0, x1), ("y", y0, y1)):
        if not lo < hi:
            raise ValueError(
                f"surface 'formula': the {axis} bounds must satisfy {axis}min < {axis}max; got ({lo:g}, {hi:g})"
            )
        if not MIN_SPAN <= hi - lo <= MAX_BOUND:
            raise ValueError(
                f"surface 'formula': the {axis} span must be between {MIN_SPAN:g} and {MAX_BOUND:g}; got {hi - lo:g}"
            )
    return ((x0, x1), (y0, y1))


# ---- derivatives by autograd -------------------------------------------------------------------------


def _fresh(t: Tensor | None, like: Tensor) -> Tensor:
    """A new buffer of `like`'s shape holding t (zeros for None): never aliases an input or another output.

    Copying also turns autograd's storage-less zero tensors (the second derivative of abs, say)
    into ordinary ones.
    """
    out = torch.empty(like.shape, dtype=like.dtype, device=like.device)
    if t is None:
        return out.zero_()
    return out.copy_(t.detach())


def _leaves(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    shape = torch.broadcast_shapes(x.shape, y.shape)
    xl = x.detach().expand(shape).clone().requires_grad_(True)
    yl = y.detach().expand(shape).clone().requires_grad_(True)
    return xl, yl


def _derivatives(formula: Formula, x: Tensor, y: Tensor, hessian: bool):
    """(gx, gy) or (gx, gy, hxx, hxy, hyy), evaluated with autograd even under no_grad/inference."""
    with torch.inference_mode(False), torch.enable_grad():
        xl, yl = _leaves(x, y)
        out = formula(xl, yl)
        if not out.requires_grad:  # constant formula
            zeros = [torch.zeros_like(xl).detach() for _ in range(5 if hessian else 2)]
            return tuple(zeros)
        gx, gy = torch.autograd.grad(out.sum(), (xl, yl), create_graph=hessian, allow_unused=True)
        if not hessian:
            return _fresh(gx, xl), _fresh(gy, xl)
        hxx, hxy = _second(gx, xl, yl, retain=True)
        _, hyy = _second(gy, xl, yl, retain=False)
        gx, gy, hxx, hxy, hyy = (_fresh(t, xl) for t in (gx, gy, hxx, hxy, hyy))
        return gx, gy, hxx, hxy, hyy


def _second(g: Tensor | None, xl: Tensor, yl: Tensor, retain: bool):
    if g is None or not g.requires_grad:
        return None, None
    return torch.autograd.grad(g.sum(), (xl, yl), retain_graph=retain, allow_unused=True)


# ---- numerical analysis of a formula over its view: checks, minima, start, lesson ------------------


@dataclass(frozen=True)
class _Analysis:
    minima: tuple
    start: tuple
    sgd_lr: float
    adam_lr: float


def _nice(value: float, low: float = 1e-4, high: float = 10.0) -> float:
    """The nearest value of the 1-2-5 series (in log scale), clamped to [low, high]."""
    if not (value > 0 and math.isfinite(value)):
        return min(max(0.01, low), high)
    best = min((float(f"{m}e{k}") for k in range(-6, 3) for m in (1, 2, 5)), key=lambda v: abs(math.log(v / value)))
    return min(max(best, low), high)


@functools.lru_cache(maxsize=256)
def _analyse(expr: str, bounds) -> _Analysis:
    """Check a formula over its view and derive what the surface shows (cached by expr and bounds).

    Refused when more than half of a 64 × 64 grid over the view is inf or NaN. Lesson learning
    rates: Adam's η ≈ 1 % of the mean span (Adam's steps are about η long whatever the gradient);
    SGD's and momentum's η such that η × (median |∇f| over the grid) ≈ 1 % of the mean span; each
    rounded to the nearest 1-2-5 value and kept in [1e-4, 10], the sliders' range.
    """
    formula = parse_formula(expr)
    (x0, x1), (y0, y1) = bounds
    dtype = torch.float64
    xs = torch.linspace(x0, x1, GRID, dtype=dtype)
    ys = torch.linspace(y0, y1, GRID, dtype=dtype)
    grid_x, grid_y = xs.view(1, -1).expand(GRID, GRID), ys.view(-1, 1).expand(GRID, GRID)
    try:
        z = formula(grid_x, grid_y)
    except (RuntimeError, ArithmeticError) as exc:  # not expected: every operation is elementwise
        raise FormulaError(f"the formula could not be evaluated: {_short(str(exc).splitlines()[0], 80)}") from None
    finite = torch.isfinite(z)
    bad = 1.0 - float(finite.double().mean())
    if bad > MAX_NON_FINITE:
        i = int((~finite).flatten().nonzero()[0])
        px, py = float(grid_x.flatten()[i]), float(grid_y.flatten()[i])
        raise FormulaError(
            f"the formula is not finite (inf or NaN) on {bad:.0%} of a {GRID}×{GRID} grid over the "
            f"view x in [{x0:g}, {x1:g}], y in [{y0:g}, {y1:g}] (for example at x = {px:.3g}, "
            f"y = {py:.3g}); change the formula or the bounds"
        )

    g = _derivatives(formula, grid_x, grid_y, hessian=False)
    gnorm = torch.hypot(*g)
    gnorm = gnorm[torch.isfinite(gnorm)]
    span = 0.5 * ((x1 - x0) + (y1 - y0))
    median_g = float(gnorm.median()) if gnorm.numel() else 0.0
    sgd_lr = _nice(0.01 * span / median_g) if median_g > 0 else _nice(0.01 * span)
    adam_lr = _nice(0.01 * span)

    minima = _estimate_minima(formula, z, xs, ys, bounds)
    start = _choose_start(formula, minima, bounds)
    return _Analysis(minima=minima, start=start, sgd_lr=sgd_lr, adam_lr=adam_lr)


def _estimate_minima(formula: Formula, z: Tensor, xs: Tensor, ys: Tensor, bounds) -> tuple:
    """Strict local minima: grid minima polished by damped Newton steps on the autograd Hessian.

    Candidates: grid points lower than their 8 neighbours (not on the border; of two equal
    neighbours one counts), the 64 lowest. Each takes up to 40 Newton steps (fewer for large
    formulas, see `_newton_steps`), with the Hessian shifted to positive definite where it is not
    and every step at most two grid cells long. Kept: finite, inside the bounds, |∇f| < 5e-9 and
    Hessian eigenvalues > 1e-9 × the view's typical curvature (so a degenerate minimum such as that
    of x**4 + y**4 is not marked). Duplicates closer than 1e-6 × the span are merged; sorted by f;
    at most 8.
    """
    (x0, x1), (y0, y1) = bounds
    zz = torch.where(torch.isfinite(z), z, torch.tensor(math.inf, dtype=z.dtype))
    centre = zz[1:-1, 1:-1]
    is_min = torch.isfinite(centre)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:  # ties (a symmetric formula on a symmetric grid) go to the later neighbour
                other = zz[1 + di : GRID - 1 + di, 1 + dj : GRID - 1 + dj]
                is_min &= (centre < other) if (di, dj) < (0, 0) else (centre <= other)
    rows, cols = is_min.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return ()
    order = centre[rows, cols].argsort()[:64]
    px, py = xs[cols[order] + 1].clone(), ys[rows[order] + 1].clone()

    cell = min(x1 - x0, y1 - y0) / (GRID - 1)
    max_step = 2.0 * cell
    for _ in range(_newton_steps(formula)):
        gx, gy, hxx, hxy, hyy = _derivatives(formula, px, py, hessian=True)
        lmin, lmax = _eigenvalues(hxx, hxy, hyy)
        shift = torch.where(
            lmin > 1e-12 * lmax.abs(),
            torch.zeros_like(lmin),
            -lmin + 0.1 * torch.maximum(lmax.abs(), lmin.abs()) + 1e-12,
        )
        a, c = hxx + shift, hyy + shift
        det = a * c - hxy * hxy
        dx = (c * gx - hxy * gy) / det
        dy = (a * gy - hxy * gx) / det
        length = torch.hypot(dx, dy)
        scale = torch.clamp(max_step / length, max=1.0)
        dx, dy = dx * scale, dy * scale
        px, py = px - dx, py - dy
        ok = torch.isfinite(px) & torch.isfinite(py)
        if not bool(ok.any()):
            return ()
        px, py = px[ok], py[ok]
        if float(torch.maximum(dx[ok].abs(), dy[ok].abs()).max()) <= 1e-15 * max(
            1.0, abs(x0), abs(x1), abs(y0), abs(y1)
        ):
            break

    f = formula(px, py)
    gx, gy, hxx, hxy, hyy = _derivatives(formula, px, py, hessian=True)
    lmin, lmax = _eigenvalues(hxx, hxy, hyy)
    # the typical curvature over the view, to tell a strict minimum from a degenerate one
    xs_c, ys_c = xs[::8], ys[::8]
    _, _, cxx, cxy, cyy = _derivatives(formula, xs_c.view(1, -1), ys_c.view(-1, 1), hessian=True)
    curv = torch.sqrt(cxx * cxx + 2 * cxy * cxy + cyy * cyy)
    curv = curv[torch.isfinite(curv)]
    typical = float(curv.median()) if curv.numel() else 1.0
    keep = (
        torch.isfinite(f)
        & (torch.hypot(gx, gy) < 5e-9)
        & (lmin > 0)
        & (lmin > 1e-9 * typical)
        & (px >= x0)
        & (px <= x1)
        & (py >= y0)
        & (py <= y1)
    )
    found = sorted(zip(f[keep].tolist(), px[keep].tolist(), py[keep].tolist()))
    tol = 1e-6 * max(x1 - x0, y1 - y0)
    minima: list[tuple[float, float]] = []
    for _, mx, my in found:
        if all(math.hypot(mx - ox, my - oy) > tol for ox, oy in minima):
            minima.append((mx, my))
        if len(minima) == MAX_MINIMA:
            break
    return tuple(minima)


def _newton_steps(formula: Formula) -> int:
    """40 Newton steps, fewer for large formulas (each step costs about one pass per tree node).

    Smooth minima converge in a handful of steps from a grid cell away; the cap bounds the time
    spent on points that never converge (kinks such as abs(...)): about 4000 node-passes in all.
    """
    return min(40, max(10, 4000 // max(formula.size, 1)))


def _eigenvalues(hxx: Tensor, hxy: Tensor, hyy: Tensor) -> tuple[Tensor, Tensor]:
    mean = 0.5 * (hxx + hyy)
    radius = torch.hypot(0.5 * (hxx - hyy), hxy)
    return mean - radius, mean + radius


def _choose_start(formula: Formula, minima: tuple, bounds) -> tuple[float, float]:
    """The default start: 80 % of the way from the centre to the top-left corner of the view.

    That is (xmin + 0.1·width, ymax − 0.1·height), a point well inside the view on the side where
    the classic pictures start. It is used when f and ∇f are finite there, ∇f ≠ 0 and f lies above
    every marked minimum (so a run has somewhere to go) and it is not on a minimum. Otherwise the
    start is the point with the highest finite f among 128 points around the same inner ring
    (the rectangle at 80 % of the half-spans) that meets those conditions; failing that, the
    top-left ring point anyway.
    """
    (x0, x1), (y0, y1) = bounds
    w, h = x1 - x0, y1 - y0
    a0, a1, b0, b1 = x0 + 0.1 * w, x1 - 0.1 * w, y0 + 0.1 * h, y1 - 0.1 * h
    t = torch.linspace(0.0, 1.0, 33, dtype=torch.float64)[:-1]
    ring_x = torch.cat([a0 + (a1 - a0) * t, torch.full_like(t, a1), a1 - (a1 - a0) * t, torch.full_like(t, a0)])
    ring_y = torch.cat([torch.full_like(t, b1), b1 - (b1 - b0) * t, torch.full_like(t, b0), b0 + (b1 - b0) * t])
    # ring_x[0], ring_y[0] is the top-left corner (a0, b1)
    f = formula(ring_x, ring_y)
    gx, gy = _derivatives(formula, ring_x, ring_y, hessian=False)
    ok = torch.isfinite(f) & torch.isfinite(gx) & torch.isfinite(gy) & (torch.hypot(gx, gy) > 0)
    if minima:
        mx = torch.tensor([m[0] for m in minima], dtype=torch.float64)
        my = torch.tensor([m[1] for m in minima], dtype=torch.float64)
        f_top = float(formula(mx, my).max())
        dist = torch.hypot(ring_x.view(-1, 1) - mx, ring_y.view(-1, 1) - my).min(1).values
        ok &= (f > f_top) & (dist > 1e-3 * min(w, h))
    if bool(ok[0]):
        i = 0
    elif bool(ok.any()):
        i = int(torch.where(ok, f, torch.tensor(-math.inf, dtype=torch.float64)).argmax())
    else:
        i = 0
    return (float(ring_x[i]), float(ring_y[i]))


# ---- the surface --------------------------------------------------------------------------------


class FormulaSurface(Surface):
    """f(x, y) typed by the user, parsed by a whitelisted grammar; derivatives from autograd.

    Parameters: `expr` (the formula text) and `bounds` (the view, ((xmin, xmax), (ymin, ymax)) or
    (xmin, xmax, ymin, ymax)). They are free text and a pair of intervals, not sliders, so `params`
    is empty and the class takes them as keywords; `values` holds them (bounds as a tuple of float
    tuples, so surfaces hash and compare by value).

    The class attributes describe the default formula (the UI reads some of them from the class);
    an instance carries its own minima, start, LaTeX, plain `text` and lesson learning rates.
    `grad_xy` and `hess_xy` run autograd inside (also under no_grad or inference mode) and return
    new, detached tensors of the broadcast shape of x and y.
    """

    key = "formula"
    name = "Custom formula"
    compilable = False  # autograd inside grad_xy: the fused engine (compiled ahead of time) runs it eagerly
    not_compiled_reason = "the surface's derivatives come from autograd"
    latex = r"f(x, y) = \sin\left(3\,x\right) \cdot \cos\left(2\,y\right) + 0.1\,\left({x}^{2} + {y}^{2}\right)"
    description = (
        "A surface you type yourself: any formula in x and y from a safe grammar, with its "
        "gradient and Hessian from autograd and its minima estimated numerically."
    )
    params = ()
    bounds = DEFAULT_BOUNDS
    # For the default formula (tests check that these equal what an instance computes).
    start = (-2.4, 2.4)
    minima = ()  # each instance estimates its own (the default formula has 8 marked)
    lesson_optimizers = ("sgd", "momentum", "adam")
    lesson_hparams = {"sgd": {"lr": 0.05}, "momentum": {"lr": 0.05}, "adam": {"lr": 0.05}}
    lesson_steps = 300

    def __init__(self, **values):
        unknown = sorted(set(values) - set(VALID_PARAMS))
        if unknown:
            raise ValueError(
                f"surface 'formula': unknown parameter(s) {', '.join(map(str, unknown))}; "
                f"valid: {', '.join(VALID_PARAMS)}"
            )
        expr = values.get("expr", DEFAULT_EXPR)
        parse_formula(expr)  # FormulaError first: the formula is the likelier mistake
        bounds = _check_bounds(values.get("bounds", DEFAULT_BOUNDS))
        self.values = {"expr": expr, "bounds": bounds}
        self.setup(**self.values)

    def setup(self, expr, bounds):
        self.formula = parse_formula(expr)
        analysis = _analyse(expr, bounds)
        self.bounds = bounds
        self.text = self.formula.text
        self.latex = self.formula.latex
        self.minima = analysis.minima
        self.start = analysis.start
        self.lesson_hparams = {
            "sgd": {"lr": analysis.sgd_lr},
            "momentum": {"lr": analysis.sgd_lr},
            "adam": {"lr": analysis.adam_lr},
        }

    def value_xy(self, x: Tensor, y: Tensor) -> Tensor:
        return self.formula(x, y)

    def grad_xy(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return _derivatives(self.formula, x, y, hessian=False)

    def hess_xy(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return _derivatives(self.formula, x, y, hessian=True)[2:]


__all__ = [
    "FormulaError",
    "FormulaSurface",
    "Formula",
    "parse_formula",
    "DEFAULT_EXPR",
    "DEFAULT_BOUNDS",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_DEPTH",
    "MAX_LITERAL",
    "MAX_EXPONENT",
]
