"""Small pure text helpers for labels and captions (no Streamlit, no torch).

- symbol_text: a Param's LaTeX symbol as plain Unicode (η, β₁, λ_wd), for places that show text
  rather than rendered LaTeX (widget labels, table cells).
- label_with_symbol: a label that shows its symbol exactly once.
- effective_lr_line: what the plots show as an optimizer's effective learning rate, never repeated.
- schedule_label: the name of the schedule that actually runs (a warm-up names what it warms up).
"""

from __future__ import annotations

import re

_GREEK = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ϵ",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "min": "min",
    "max": "max",
    "infty": "∞",
    "cdot": "·",
    "times": "×",
}
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_SUP = dict(zip("0123456789+-=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿ"))
_SUP["*"] = "*"
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_SCRIPT = re.compile(r"([_^])(\{[^{}]*\}|.)")

# What separates a symbol from the words around it in a label: "decay ρ", "η⁻ (shrink)", "(fraction of η₀)".
_BOUNDARY = set(" \t\n(),;:/[]")


def symbol_text(latex: str) -> str:
    r"""A LaTeX symbol as Unicode text: \eta → η, \beta_1 → β₁, \eta^- → η⁻, s_{\min} → sₘᵢₙ,
    \lambda_{wd} → λ_wd (no Unicode subscript w), \eta_{\min}/\eta_0 → ηₘᵢₙ/η₀. Never leaves a
    backslash or a brace in the text."""
    text = _COMMAND.sub(lambda m: _GREEK.get(m.group(1), m.group(1)), latex or "")

    def script(m):
        table = _SUB if m.group(1) == "_" else _SUP
        body = m.group(2)[1:-1] if m.group(2).startswith("{") else m.group(2)
        body = body.replace(" ", "")
        if body and all(c in table for c in body):
            return "".join(table[c] for c in body)
        return m.group(1) + body if m.group(1) == "_" else "^" + body

    text = _SCRIPT.sub(script, text)
    return text.replace("{", "").replace("}", "").replace("\\", "").replace("~", " ").strip()


def symbol_count(label: str, symbol: str) -> int:
    """How often `symbol` stands in `label` as a symbol of its own (not inside a longer word or
    symbol: "η" is not counted in "η⁻", "s" not in "step size")."""
    if not symbol:
        return 0
    count, start = 0, 0
    while True:
        i = label.find(symbol, start)
        if i < 0:
            return count
        before = label[i - 1] if i > 0 else " "
        j = i + len(symbol)
        after = label[j] if j < len(label) else " "
        if before in _BOUNDARY and after in _BOUNDARY:
            count += 1
        start = i + 1


def label_with_symbol(label: str, latex: str) -> str:
    """The label followed by its symbol, unless the label already shows that symbol."""
    symbol = symbol_text(latex)
    if not symbol or symbol_count(label, symbol):
        return label
    return f"{label} {symbol}" if label else symbol


EFFECTIVE_LR_KINDS = {
    "diagonal": "the per-coordinate factor",
    "step size": "the per-coordinate step length",
    "scheduled": "the scheduled η",
    "inner": "that of the inner optimizer",
}


def effective_lr_line(kind: str, note: str = "") -> str:
    """'<what is shown>: <the optimizer's note>', with nothing said twice: a note that already says
    what is shown (Rprop's "the per-coordinate step length s ...") stands alone."""
    what = EFFECTIVE_LR_KINDS[kind]
    note = (note or "").strip()
    if not note:
        return what
    bare = what.removeprefix("the ")
    if bare.casefold() in note.casefold() or note.casefold() in what.casefold():
        return note
    return f"{what}: {note}"


def schedule_label(schedule) -> str:
    """The schedule that runs, in words: "cosine annealing", "linear warm-up (100 steps) + cosine
    annealing", "linear warm-up (100 steps)" (a warm-up into a constant η)."""
    inner = getattr(schedule, "inner", None)
    if inner is None:
        return type(schedule).name
    warm = f"{type(schedule).name} ({schedule.warmup_steps} steps)"
    return warm if type(inner).key == "constant" else f"{warm} + {schedule_label(inner)}"
