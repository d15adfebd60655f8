"""The formula surface: hostile input is refused (or safely handled), valid formulas equal the
hand-written surfaces to float64 rounding, and the numerical minima and start are sound.

The hostile corpus is a table of (id, formula, expected column): an int is the 1-based column the
refusal must name; WHOLE marks a refusal about the whole formula (non-finite over the view), with
no column; SAFE marks text that is a legitimate formula and must build a working surface. Every
case runs under a time limit, in an empty working directory, and must not import a module.
"""

from __future__ import annotations

import io
import math
import sys
import time
import tokenize
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import surfaces.formula as formula_module
from engine import simulate
from surfaces import available_surfaces, get_surface
from surfaces.formula import (
    DEFAULT_BOUNDS,
    DEFAULT_EXPR,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    FormulaError,
    FormulaSurface,
    parse_formula,
)

TIME_LIMIT = 1.0  # seconds, per formula
WHOLE = "whole formula"
SAFE = "safe"


def build(expr, **kw):
    return get_surface("formula", expr=expr, **kw)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Import and initialise everything a first surface needs, so later checks see no new modules.

    torch loads some backward formulas lazily (the double backward of abs, for one, goes through
    torch._refs and takes about a second the first time in a process): touch every function once.
    """
    build(DEFAULT_EXPR)
    build(
        "sin(x) + cos(y) + tan(x/4) + exp(y/4) + log(4 + x) + ln(4 + y) + log10(4 + x) + log2(5 + y)"
        " + sqrt(5 + x) + abs(x*y) + tanh(x) + sinh(y/2) + cosh(x/2) + atan(y) + arctan(x)"
        " + min(x, y) + max(x, y) + min(x, 1) + max(2, y) + x**2 + (1 + y**2)**-2 + abs(x)**0.5"
    )
    with pytest.raises(FormulaError):
        build("log(-1 - x**2)")


# ---- the hostile corpus --------------------------------------------------------------------------

HOSTILE = [
    # code injection through builtins and dunder attributes
    ("dunder-import-os-system", "__import__('os').system('touch pwned')", 1),
    ("class-bases-subclasses", "().__class__.__bases__[0].__subclasses__()", 3),
    ("attribute-on-x", "x.__class__", 2),
    ("exec-call", 'exec("1")', 1),
    ("eval-call", "eval('1')", 1),
    ("open-passwd", "open('/etc/passwd')", 1),
    ("lambda", "lambda: 1", 1),
    ("comprehension", "[x for x in y]", 1),
    ("conditional-expression", "x if y else 1", 3),
    ("string-double-quoted", '"abc"', 1),
    ("string-single-quoted", "'x'", 1),
    ("subscript", "x[0]", 2),
    ("two-statements", "x;y", 2),
    ("tuple", "x, y", 2),
    ("assignment", "x = 1", 3),
    ("import-statement", "import os", 1),
    ("globals-call", "globals()", 1),
    ("attribute-on-function", "sin.__doc__", 4),
    ("getattr-call", "getattr(x, 'real')", 1),
    ("walrus", "(x := 1)", 4),
    ("keyword-argument", "min(x, y=1)", 9),
    # huge powers and numbers
    ("power-999999", "x**999999", 4),
    ("tower-9-9-9", "9**9**9", 4),
    ("tower-10-10-10", "10**10**10", 5),
    ("caret-tower", "2^2^2^2^2", 5),
    ("variable-exponent", "x**y", 4),
    ("huge-literal", "1e999", 1),
    ("long-integer-literal", "1" * 400, 1),
    ("exp-overflow-constant", "e**1000*x", 4),
    ("exp-1000-times-x", "exp(1000)*x", WHOLE),
    # size limits
    ("nesting-too-deep", "(" * 40 + "x" + ")" * 40, MAX_DEPTH + 1),
    ("unary-minus-chain", "-" * 40 + "x", MAX_DEPTH + 1),
    ("ten-thousand-chars", "x+" * 5000, MAX_LENGTH + 1),
    ("too-many-nodes", "+".join(["x"] * 151), 300),
    ("empty", "", 1),
    ("whitespace-only", "  \t \n ", 1),
    # non-finite everywhere (NaN producers, division by zero)
    ("one-over-zero", "1/0", WHOLE),
    ("zero-over-zero", "0/0", WHOLE),
    ("x-over-zero", "x/0", WHOLE),
    ("log-of-negative", "log(-1-x**2)", WHOLE),
    ("sqrt-of-negative", "sqrt(-1-y**2)", WHOLE),
    ("inf-minus-inf", "exp(800) - exp(800) + x", WHOLE),
    # unicode look-alikes and invisible characters
    ("cyrillic-x", "\u0445**2 + y**2", 1),
    ("fullwidth-x", "\uff58 + y", 1),
    ("fullwidth-digit", "x + \uff12", 5),
    ("zero-width-space", "x\u200b+y", 2),
    ("right-to-left-override", "x\u202e+y", 2),
    ("non-breaking-space", "x\u00a0+y", 2),
    ("superscript-two", "x\u00b2", 2),
    ("greek-pi", "\u03c0*x", 1),
    ("nul-byte", "x\x00", 2),
    ("escape-char", "\x1b[31mx", 1),
    # operators that are not in the grammar
    ("matmul", "x @ y", 3),
    ("floor-division", "x // y", 3),
    ("modulo", "x % y", 3),
    ("bitwise-and", "x & y", 3),
    ("bitwise-not", "~x", 1),
    ("not-keyword", "not x", 1),
    ("and-keyword", "x and y", 3),
    ("comparison", "x < y", 3),
    ("nan-name", "nan", 1),
    ("inf-name", "inf", 1),
    ("dollar", "$x", 1),
    ("backtick", "`x`", 1),
    ("backslash-escape", "\\x41", 1),
    ("hash-comment", "x # y", 3),
    # broken syntax
    ("sin-no-args", "sin()", 5),
    ("sin-two-args", "sin(x, y)", 1),
    ("min-one-arg", "min(x)", 1),
    ("sin-without-parens", "sin x", 5),
    ("bare-function-name", "sin", 4),
    ("juxtaposed-names", "x y", 3),
    ("implicit-multiplication", "2x", 2),
    ("implicit-multiplication-paren", "2(x+1)", 2),
    ("reversed-parens", ")x(", 1),
    ("dangling-plus", "x +", 4),
    ("leading-star", "* x", 1),
    ("unclosed-paren", "(x + y", 7),
    ("unclosed-call", "sin(x", 6),
    ("empty-parens", "()", 2),
    ("unknown-function", "foo(x)", 1),
    ("capital-x", "X**2", 1),
    ("two-dots", "1.2.3", 4),
    ("triple-star", "x***2", 4),
    # legitimate formulas that look odd: handled safely
    ("unicode-minus", "x \u2212 y", SAFE),
    ("times-sign", "x \u00d7 y", SAFE),
    ("caret-power", "x^2 + y^2", SAFE),
    ("negative-exponent", "1/(1 + x**2) + y**-2", SAFE),
    ("mostly-overflowing-but-not-all", "exp(exp(exp(x)))", SAFE),
    ("half-nan-is-allowed", "sqrt(x) + y**2", SAFE),
    ("nested-exactly-at-limit", "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, SAFE),
    ("constant-formula", "3", SAFE),
    ("line-breaks", "x**2\n + y**2", SAFE),
]


def _one_line(message: str) -> bool:
    return "\n" not in message and "\r" not in message and message == message.strip() and message


@pytest.mark.parametrize("expr, expected", [(e, c) for _, e, c in HOSTILE], ids=[i for i, _, _ in HOSTILE])
def test_hostile_input_is_refused_or_handled_safely(expr, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    modules_before = set(sys.modules)
    t0 = time.perf_counter()
    try:
        surface = build(expr)
    except FormulaError as exc:
        elapsed = time.perf_counter() - t0
        assert expected != SAFE, f"a valid formula was refused: {exc}"
        message = str(exc)
        assert _one_line(message), repr(message)
        assert isinstance(exc, ValueError)
        if expected == WHOLE:
            assert exc.column is None and "not finite" in message
        else:
            assert exc.column == expected, message
            assert message.startswith(f"column {expected}: "), message
        assert len(message) < 400
    else:
        elapsed = time.perf_counter() - t0
        assert expected == SAFE, f"accepted: {expr!r}"
        xy = torch.tensor([[0.5, 0.25], [1.5, -2.0]], dtype=torch.float64)
        assert surface.f(xy).shape == (2,)
        assert surface.grad(xy).shape == (2, 2)
        assert surface.hessian(xy).shape == (2, 2, 2)
    assert elapsed < TIME_LIMIT, f"{elapsed:.2f} s"
    assert list(tmp_path.iterdir()) == []  # no file created (e.g. 'pwned')
    # Nothing imported (os-like or otherwise), torch's own lazily loaded submodules aside: which of those
    # are already loaded depends on the tests a worker process ran before this one.
    imported = {m for m in set(sys.modules) - modules_before if m.split(".")[0] != "torch"}
    assert imported == set()


def test_the_corpus_is_large_and_ids_are_unique():
    refused = [c for c in HOSTILE if c[2] != SAFE]
    assert len(refused) >= 40
    assert len({i for i, _, _ in HOSTILE}) == len(HOSTILE)


def test_the_module_never_names_eval_exec_compile_or_ast():
    """A static guard: no Python name that could run or parse user text as Python appears in the code."""
    source = Path(formula_module.__file__).read_text(encoding="utf-8")
    names = {tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.NAME}
    forbidden = {
        "eval",
        "exec",
        "compile",
        "ast",
        "literal_eval",
        "__import__",
        "getattr",
        "setattr",
        "globals",
        "locals",
        "importlib",
        "pickle",
        "subprocess",
        "os",
        "sys",
    }
    assert names & forbidden == set()


# ---- limits at their edges -------------------------------------------------------------------------


def test_length_limit_edge():
    ok = "x" + " " * (MAX_LENGTH - 1)
    assert len(ok) == MAX_LENGTH
    build(ok)
    with pytest.raises(FormulaError, match=f"column {MAX_LENGTH + 1}: formula too long"):
        build(ok + " ")


def test_depth_limit_edge():
    build("-(" * (MAX_DEPTH // 2) + "x" + ")" * (MAX_DEPTH // 2))
    with pytest.raises(FormulaError, match="nested too deeply"):
        build("-(" * (MAX_DEPTH // 2) + "-x" + ")" * (MAX_DEPTH // 2))


def test_node_limit_edge():
    n_terms = (MAX_NODES + 1) // 2  # n names and n - 1 additions
    build("+".join(["x"] * n_terms))
    with pytest.raises(FormulaError, match=f"more than {MAX_NODES}"):
        build("+".join(["x"] * (n_terms + 1)))


@pytest.mark.parametrize("exponent", ["10", "-10", "(2*5)", "(-2*5)", "0", "0.5", "pi", "(1/3)", "e", "(3**2)"])
def test_constant_exponents_within_ten_are_accepted(exponent):
    build(f"abs(x)**{exponent} + y**2", bounds=((0.5, 2.0), (-1.0, 1.0)))


@pytest.mark.parametrize("exponent", ["10.5", "-11", "(2*6)", "(3**3)", "(1/0)", "(0/0)", "x", "(y+1)", "sin(x)"])
def test_other_exponents_are_refused_with_the_rule(exponent):
    with pytest.raises(FormulaError, match=r"column 9: the exponent of \*\* or \^ must be a constant"):
        build(f"abs(x)**{exponent} + y**2")


def test_number_limit_edge():
    build("1000000*x")
    build("1e6*x + 1e-300*y")
    with pytest.raises(FormulaError, match="column 1: number 1000001 is too large"):
        build("1000001*x")


# ---- the grammar -----------------------------------------------------------------------------------


def values_of(expr, x, y):
    return parse_formula(expr)(torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64))


PRECEDENCE = [
    ("-x**2", lambda x, y: -(x**2)),
    ("2**3**2*x", lambda x, y: 512.0 * x),
    ("2^3^2*x", lambda x, y: 512.0 * x),
    ("x - y - 1", lambda x, y: (x - y) - 1),
    ("x / y / 2", lambda x, y: (x / y) / 2),
    ("x**-1", lambda x, y: 1 / x),
    ("-x*y", lambda x, y: -x * y),
    ("x*-y", lambda x, y: x * -y),
    ("+x - -y", lambda x, y: x + y),
    ("2*x**2 + 3*y", lambda x, y: 2 * x * x + 3 * y),
    ("(x + y)**2", lambda x, y: (x + y) ** 2),
    ("1.5e1*x + .5 + 5. + 2E-1", lambda x, y: 15 * x + 5.7),
    ("x \u2212 y \u00d7 2 \u00f7 4 + x\u00b7y + x\u22c5y", lambda x, y: x - y * 2 / 4 + 2 * x * y),
    ("min(x, y) + max(x, 1)", lambda x, y: torch.minimum(x, y) + torch.clamp(x, min=1)),
    ("max(2, y) - min(0.5, x)", lambda x, y: torch.clamp(y, min=2) - torch.clamp(x, max=0.5)),
    ("pi*e*x", lambda x, y: math.pi * math.e * x),
    (
        "ln(abs(x)) + log10(abs(y)) + log2(abs(x))",
        lambda x, y: torch.log(x.abs()) + torch.log10(y.abs()) + torch.log2(x.abs()),
    ),
    (
        "sinh(x) + cosh(y) + tanh(x) + atan(y) + arctan(x) + tan(y)",
        lambda x, y: torch.sinh(x) + torch.cosh(y) + torch.tanh(x) + torch.atan(y) + torch.atan(x) + torch.tan(y),
    ),
    ("sqrt(x**2 + y**2) + exp(-x)", lambda x, y: torch.sqrt(x * x + y * y) + torch.exp(-x)),
]


@pytest.mark.parametrize("expr, reference", PRECEDENCE, ids=[e for e, _ in PRECEDENCE])
def test_precedence_synonyms_and_functions(expr, reference):
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(200, generator=gen, dtype=torch.float64) * 4 - 2
    y = torch.rand(200, generator=gen, dtype=torch.float64) * 4 - 2
    torch.testing.assert_close(values_of(expr, x, y), reference(x, y), rtol=1e-14, atol=1e-14)


def test_text_rendering_reparses_to_the_same_function_and_is_stable():
    for expr, _ in PRECEDENCE:
        text = parse_formula(expr).text
        assert parse_formula(text).text == text
        x, y = torch.tensor([0.3, -1.2, 1.7], dtype=torch.float64), torch.tensor([0.9, 0.4, -1.1], dtype=torch.float64)
        torch.testing.assert_close(values_of(text, x, y), values_of(expr, x, y), rtol=0, atol=0, equal_nan=True)


def test_latex_rendering():
    s = build("(1 - x)^2 + 100*(y - x**2)**2", bounds=((-2, 2), (-1, 3)))
    assert s.latex == r"f(x, y) = {\left(1 - x\right)}^{2} + 100\,{\left(y - {x}^{2}\right)}^{2}"
    assert r"\sqrt{x}" in build("sqrt(x) + y**2").latex
    assert r"\frac{1}{2}" in build("1/2*x**2 + y**2").latex
    assert r"10^{-3}" in build("1e-3*x**2 + y**2").latex


def test_parse_is_cached_and_compiled_once():
    assert parse_formula("x**2 + y**2") is parse_formula("x**2 + y**2")


def test_formula_error_is_a_value_error_with_a_column():
    with pytest.raises(ValueError) as info:
        build("x + os")
    assert isinstance(info.value, FormulaError)
    assert info.value.column == 5
    assert str(info.value).startswith("column 5: unknown name 'os'; use x, y, pi, e or one of sin, cos")


@pytest.mark.parametrize("bad", [None, 3, 2.5, b"x", ["x"]], ids=repr)
def test_formula_must_be_text(bad):
    with pytest.raises(FormulaError, match="must be text"):
        build(bad)


# ---- random input never escapes as anything but a FormulaError -----------------------------------

JUNK_ALPHABET = (
    "xyzXe0123456789.+-*/^(),"
    "sincotaexplgqrbhmd_ \t\n"
    "@%&|~!<>=;:[]{}\"'`$#?\\"
    "\u0445\uff58\u2212\u00d7\u03c0\u00b2\u200b\u00a0"
)
TOKENS = [
    "x",
    "y",
    "pi",
    "e",
    "1",
    "2",
    "0",
    "10",
    "0.5",
    "1e3",
    "1e-3",
    "999999",
    "+",
    "-",
    "*",
    "/",
    "**",
    "^",
    "(",
    ")",
    ",",
    " ",
    "sin(",
    "exp(",
    "log(",
    "sqrt(",
    "min(",
    "max(",
    "abs(",
    "tanh(",
    "9**9",
    "x**",
    "/0",
    "(-1)",
    ".",
    "[",
    "'",
    "_",
]


def _check_random_text(text):
    t0 = time.perf_counter()
    try:
        s = build(text)
    except FormulaError as exc:
        assert _one_line(str(exc))
    else:
        xy = torch.tensor([0.5, -0.25], dtype=torch.float64)
        assert s.f(xy).shape == () and s.grad(xy).shape == (2,) and s.hessian(xy).shape == (2, 2)
        (x0, x1), (y0, y1) = s.bounds
        assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    assert time.perf_counter() - t0 < TIME_LIMIT


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=JUNK_ALPHABET, max_size=40))
def test_random_character_strings_only_raise_formula_errors(text):
    _check_random_text(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_random_token_strings_only_raise_formula_errors(text):
    _check_random_text(text)


# Formulas from the grammar itself (always parse, unless a limit or the exponent rule bites), so
# the compiler and the numerical analysis see many shapes: the surface they give must satisfy the
# contract (minima strict and inside, start inside and uphill of every minimum) or be refused.
_LEAVES = st.sampled_from(["x", "y", "pi", "e", "0", "1", "2", "0.5", "3.25", "1e-3", "100"])


def _extend(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    )
    power = st.tuples(children, st.sampled_from(["2", "3", "-1", "0.5", "4", "(1/3)"])).map(
        lambda t: f"({t[0]})^{t[1]}"
    )
    call = st.tuples(
        st.sampled_from(["sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "atan", "cosh"]), children
    ).map(lambda t: f"{t[0]}({t[1]})")
    call2 = st.tuples(st.sampled_from(["min", "max"]), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
    neg = children.map(lambda c: f"-{c}")
    return st.one_of(binary, power, call, call2, neg)


GRAMMAR = st.recursive(_LEAVES, _extend, max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GRAMMAR)
def test_random_grammatical_formulas_give_sound_surfaces_or_clear_refusals(text):
    t0 = time.perf_counter()
    try:
        s = build(text)
    except FormulaError as exc:
        assert _one_line(str(exc))
        assert "not finite" in str(exc) or "exponent" in str(exc) or "too" in str(exc), str(exc)
        return
    assert time.perf_counter() - t0 < TIME_LIMIT
    x = torch.linspace(-2.9, 2.9, 7, dtype=torch.float64)
    again = parse_formula(s.text)
    torch.testing.assert_close(again(x, x.flip(0)), s.value_xy(x, x.flip(0)), rtol=0, atol=0, equal_nan=True)
    (x0, x1), (y0, y1) = s.bounds
    assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1
    assert len(s.minima) <= 8
    for p in s.minima:
        at = torch.tensor(p, dtype=torch.float64)
        assert x0 <= p[0] <= x1 and y0 <= p[1] <= y1
        assert float(s.grad(at).norm()) < 1e-8
        assert bool((torch.linalg.eigvalsh(s.hessian(at)) > 0).all())
        assert math.dist(p, s.start) > 1e-3 * min(s.span)
    if s.minima and math.isfinite(s.f_at(s.start)):
        assert s.f_at(s.start) > max(s.f_at(p) for p in s.minima)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30))
def test_arbitrary_unicode_only_raises_formula_errors(text):
    _check_random_text(text)


# ---- valid formulas equal the hand-written surfaces ------------------------------------------------

EQUIVALENT = [
    ("rosenbrock", {}, "(1 - x)^2 + 100*(y - x**2)^2"),
    ("himmelblau", {}, "(x**2 + y - 11)**2 + (x + y**2 - 7)**2"),
    ("beale", {}, "(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y^3)**2"),
    ("rastrigin", {}, "20 + x**2 - 10*cos(2*pi*x) + y**2 - 10*cos(2*pi*y)"),
    ("two_wells", {"tilt": 0.5}, "(x**2 - 1)**2 + 0.5*x + y**2"),
    ("saddle", {}, "0.5\u00b7x^2 + y^4/4 \u2212 y^2/2"),
    ("plateau", {"width": 1.5}, "1 - exp(-(x**2 + y**2)/1.5**2)"),
    ("ravine", {"condition": 50.0, "angle": 0.0}, "0.5*(x**2/50 + y**2)"),
]
RTOL = 1e-12


def pair(key, params, expr):
    hand = get_surface(key, **params)
    return hand, build(expr, bounds=hand.bounds)


def points_in_view(surface, n=100, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = surface.bounds
    u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
    return (torch.tensor([x0, y0], dtype=torch.float64) + u * torch.tensor([x1 - x0, y1 - y0], dtype=torch.float64)).to(
        dtype
    )


def assert_close_to_scale(actual, expected, rtol, point_dims):
    """Equal up to rtol relative to the largest magnitude at each point (as in test_surfaces.py)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    dims = tuple(range(expected.dim() - point_dims, expected.dim()))
    scale = expected.abs().amax(dim=dims, keepdim=True) if dims else expected.abs()
    err = (actual - expected).abs()
    bad = err > rtol * scale.clamp(min=1.0) + rtol * expected.abs()
    assert not bool(bad.any()), f"{int(bad.sum())} entries differ; worst {float(err.max()):.3g}"


@pytest.mark.parametrize("key, params, expr", EQUIVALENT, ids=[k for k, _, _ in EQUIVALENT])
def test_formula_matches_hand_written_surface(key, params, expr):
    hand, typed = pair(key, params, expr)
    xy = points_in_view(hand)
    assert_close_to_scale(typed.f(xy), hand.f(xy), RTOL, 0)
    assert_close_to_scale(typed.grad(xy), hand.grad(xy), RTOL, 1)
    assert_close_to_scale(typed.hessian(xy), hand.hessian(xy), RTOL, 2)


@pytest.mark.parametrize("key, params, expr", EQUIVALENT, ids=[k for k, _, _ in EQUIVALENT])
def test_formula_matches_hand_written_surface_in_float32(key, params, expr):
    hand, typed = pair(key, params, expr)
    xy = points_in_view(hand, dtype=torch.float32)
    for method, dims in (("f", 0), ("grad", 1), ("hessian", 2)):
        got, want = getattr(typed, method)(xy), getattr(hand, method)(xy)
        assert got.dtype == torch.float32
        assert_close_to_scale(got.double(), want.double(), 1e-4, dims)


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "newton"])
@pytest.mark.parametrize("key, params, expr", EQUIVALENT, ids=[k for k, _, _ in EQUIVALENT])
def test_simulate_gives_the_hand_written_trajectory(key, params, expr, optimizer):
    hand, typed = pair(key, params, expr)
    hp = {"lr": hand.lesson_hparams.get(optimizer, {}).get("lr", 0.01)} if optimizer != "newton" else {}
    a = simulate(typed, optimizer, start=hand.start, steps=50, hparams=hp, device="cpu")
    b = simulate(hand, optimizer, start=hand.start, steps=50, hparams=hp, device="cpu")
    assert torch.equal(a.diverged_at, b.diverged_at)
    torch.testing.assert_close(a.xy, b.xy, rtol=1e-9, atol=1e-9 * max(hand.span))
    torch.testing.assert_close(a.loss, b.loss, rtol=1e-9, atol=1e-12)


def test_simulate_accepts_the_formula_with_its_own_defaults():
    s = build("(1 - x)**2 + 100*(y - x**2)**2", bounds=((-2, 2), (-1, 3)))
    for key in s.lesson_optimizers:
        traj = simulate(s, key, steps=s.lesson_steps, hparams=s.lesson_hparams.get(key), device="cpu")
        assert int(traj.diverged_at) == -1
        assert float(traj.loss[0, -1]) < float(traj.loss[0, 0])


# ---- estimated minima and start -------------------------------------------------------------------


def test_himmelblau_four_minima_are_found():
    hand, typed = pair("himmelblau", {}, "(x**2 + y - 11)**2 + (x + y**2 - 7)**2")
    assert len(typed.minima) == 4
    for p in hand.minima:
        assert min(math.dist(p, q) for q in typed.minima) < 1e-6


def test_rosenbrock_minimum_is_found():
    typed = build("(1 - x)**2 + 100*(y - x**2)**2", bounds=(-2, 2, -1, 3))
    assert len(typed.minima) == 1
    assert math.dist(typed.minima[0], (1.0, 1.0)) < 1e-6


@pytest.mark.parametrize("key, params, expr", EQUIVALENT, ids=[k for k, _, _ in EQUIVALENT])
def test_minima_are_strict_and_the_start_is_inside_and_not_a_minimum(key, params, expr):
    hand, typed = pair(key, params, expr)
    assert 0 < len(typed.minima) <= 8
    for p in typed.minima:
        at = torch.tensor(p, dtype=torch.float64)
        assert float(typed.grad(at).norm()) < 1e-8
        assert bool((torch.linalg.eigvalsh(typed.hessian(at)) > 0).all())
    values = [typed.f_at(p) for p in typed.minima]
    assert values == sorted(values)
    for p in hand.minima:  # every hand-listed minimum is found (all of them are among the 8 lowest)
        assert min(math.dist(p, q) for q in typed.minima) < 1e-6
    (x0, x1), (y0, y1) = typed.bounds
    sx, sy = typed.start
    assert x0 <= sx <= x1 and y0 <= sy <= y1
    assert all(math.dist(typed.start, p) > 1e-3 * min(typed.span) for p in typed.minima)
    assert typed.f_at(typed.start) > max(values)


def test_degenerate_and_missing_minima():
    assert build("x**4 + y**4").minima == ()  # not strict: the Hessian vanishes there
    assert build("x + y").minima == ()
    assert build("-(x**2 + y**2)").minima == ()
    assert len(build("sin(3*x)*cos(3*y)", bounds=((-5, 5), (-5, 5))).minima) == 8  # capped


def test_start_falls_back_to_the_highest_ring_point_when_the_corner_is_a_minimum():
    # the fixed start (80 % toward the top-left corner) sits on this bowl's minimum
    s = build("(x + 0.8)**2 + (y - 0.8)**2", bounds=((-1, 1), (-1, 1)))
    assert math.dist(s.minima[0], (-0.8, 0.8)) < 1e-9
    assert s.start == pytest.approx((0.8, -0.8), abs=1e-12)  # the ring point farthest uphill


# ---- the Surface API ------------------------------------------------------------------------------


@pytest.mark.parametrize("expr", ["x*0 + 3", "3", "x", "y", "pi", "x + y", "sin(x)", "x*y**2"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=["()", "(5,)", "(3,4)"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_component_forms_keep_shape_and_dtype(expr, shape, dtype):
    s = build(expr)
    x = torch.rand(shape, dtype=dtype)
    y = torch.rand(shape, dtype=dtype)
    x0, y0 = x.clone(), y.clone()
    parts = (s.value_xy(x, y), *s.grad_xy(x, y), *s.hess_xy(x, y))
    for part in parts:
        assert part.shape == shape and part.dtype == dtype
        assert part.data_ptr() != x.data_ptr() and part.data_ptr() != y.data_ptr()
        assert not part.requires_grad
    assert torch.equal(x, x0) and torch.equal(y, y0)
    gx, gy = s.grad_xy(x, y)
    if shape:
        assert gx.data_ptr() != gy.data_ptr()  # separate buffers: changing one never changes the other


def test_known_derivatives_of_simple_formulas():
    s = build("x*0 + 3")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert torch.equal(s.value_xy(x, x), torch.full((2,), 3.0, dtype=torch.float64))
    assert all(torch.equal(t, torch.zeros(2, dtype=torch.float64)) for t in (*s.grad_xy(x, x), *s.hess_xy(x, x)))
    s = build("x**3*y + 2*y")
    x, y = torch.tensor(2.0, dtype=torch.float64), torch.tensor(3.0, dtype=torch.float64)
    gx, gy = s.grad_xy(x, y)
    hxx, hxy, hyy = s.hess_xy(x, y)
    assert (float(gx), float(gy)) == (36.0, 10.0)
    assert (float(hxx), float(hxy), float(hyy)) == (36.0, 12.0, 0.0)


def test_broadcast_grid_like_base_grid():
    s = build("x**2 + 3*y")
    xs, ys, z = s.grid(20)
    assert z.shape == (20, 20)
    gx, gy = s.grad_xy(torch.tensor(xs).view(1, -1), torch.tensor(ys).view(-1, 1))
    assert gx.shape == gy.shape == (20, 20)
    assert torch.allclose(gy, torch.full((20, 20), 3.0, dtype=torch.float64))


@pytest.mark.parametrize("context", ["no_grad", "inference_mode", "enable_grad"])
def test_derivatives_work_inside_no_grad_and_inference_mode(context):
    s = build("(1 - x)**2 + 100*(y - x**2)**2", bounds=((-2, 2), (-1, 3)))
    hand = get_surface("rosenbrock")
    xy = points_in_view(hand, n=10)
    manager = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode, "enable_grad": torch.enable_grad}[
        context
    ]
    with manager():
        g, h = s.grad(xy), s.hessian(xy)
    assert_close_to_scale(g, hand.grad(xy), RTOL, 1)
    assert_close_to_scale(h, hand.hessian(xy), RTOL, 2)


def test_value_is_differentiable_for_callers_that_use_autograd():
    s = build("x**2*y")
    xy = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(s.f(xy), xy)
    assert g.tolist() == [12.0, 4.0]


def test_bounds_formats_and_values():
    nested = build("x**2 + y**2", bounds=((-2, 2), (-1, 3)))
    flat = build("x**2 + y**2", bounds=(-2, 2, -1, 3))
    listed = build("x**2 + y**2", bounds=[[-2.0, 2.0], [-1.0, 3.0]])
    assert nested.bounds == flat.bounds == listed.bounds == ((-2.0, 2.0), (-1.0, 3.0))
    assert nested == flat == listed and hash(nested) == hash(flat)
    assert nested.values == {"expr": "x**2 + y**2", "bounds": ((-2.0, 2.0), (-1.0, 3.0))}
    assert all(type(v) is float for pair_ in nested.bounds for v in pair_)
    assert nested != build("x**2 + y**2")
    assert "FormulaSurface(expr='x**2 + y**2'" in repr(nested)
    assert len({nested, flat, build("x**2 + y**2")}) == 2


BAD_BOUNDS = [
    ((2, -2), (-1, 1)),
    ((-1, 1), (1, 1)),
    (-1, 1, 1),
    ((-1, 1),),
    "(-1, 1, -1, 1)",
    None,
    ((-1, float("nan")), (-1, 1)),
    ((-1, float("inf")), (-1, 1)),
    ((-1e5, 1e5), (-1, 1)),
    ((-1, 1), (0, 1e-9)),
    ((True, 2), (-1, 1)),
    (("a", 2), (-1, 1)),
    ((-6000, 6000), (-1, 1)),
]


@pytest.mark.parametrize("bounds", BAD_BOUNDS, ids=repr)
def test_bad_bounds_are_value_errors(bounds):
    with pytest.raises(ValueError, match="surface 'formula'"):
        build("x**2 + y**2", bounds=bounds)


def test_unknown_keyword_names_the_valid_ones():
    with pytest.raises(ValueError) as info:
        get_surface("formula", expr="x", bogus=1)
    assert "bogus" in str(info.value) and "expr" in str(info.value) and "bounds" in str(info.value)


def test_formula_is_registered_last_and_defaults_are_consistent():
    assert available_surfaces()[-1] == "formula"
    s = get_surface("formula")
    assert s.values == {"expr": DEFAULT_EXPR, "bounds": DEFAULT_BOUNDS}
    assert FormulaSurface.params == ()
    # the class attributes (read by the UI before any instance exists) describe the default formula
    assert FormulaSurface.start == s.start
    assert FormulaSurface.bounds == s.bounds
    assert FormulaSurface.latex == s.latex
    assert FormulaSurface.lesson_hparams == s.lesson_hparams
    assert len(s.minima) == 8


def test_lesson_learning_rates_follow_the_gradient_scale():
    steep = build("100*(x**2 + y**2)")
    gentle = build("0.01*(x**2 + y**2)")
    assert steep.lesson_hparams["sgd"]["lr"] < gentle.lesson_hparams["sgd"]["lr"]
    assert steep.lesson_hparams["adam"] == gentle.lesson_hparams["adam"]  # Adam's step is scale-free
    for s in (steep, gentle):
        for hp in s.lesson_hparams.values():
            assert 1e-4 <= hp["lr"] <= 10
