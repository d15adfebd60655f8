"""What one update did, in words: the step-by-step page's sentences, built from the step's own values.

engine/anatomy.py runs engine.step.step for one run and hands each optimizer's `explain` a
StepView: the point, where the gradient was taken, the gradient, the per-step values, the state
before and after, the new point. An explanation recomputes nothing beside the rule: it reads the
state the update returned and uses the rule's own helpers (with_weight_decay, ...) on the same
tensors. Every vector a sentence prints is recorded in `shown` under a name, and the move is split
into `moves` (labelled sub-steps that add up to it: Lookahead's inner step, then its sync jump), so
a test can check each printed number against the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

Pair = tuple[float, float]


def pair(t) -> Pair:
    """A (2, 1) or (2,) tensor (or a float for both coordinates) as two floats."""
    t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    if t.numel() == 1:
        return (float(t[0]), float(t[0]))
    return (float(t[0]), float(t[1]))


def fmt(p, digits: int = 3) -> str:
    """A number or a pair, as the page prints it."""
    if isinstance(p, tuple):
        return "(" + ", ".join(fmt(v, digits) for v in p) + ")"
    if not math.isfinite(p):
        return str(p)
    return f"{p:.{digits}g}"


@dataclass(frozen=True)
class StepView:
    """One update of one run, as the engine computed it. Tensors are (2, 1): x row, y row."""

    step: int  # 1-based
    lr: float
    hp: dict
    values: tuple  # rule.per_step(lr, step), exactly as handed to update
    params: Tensor  # w before the update
    at: Tensor  # where the gradient was taken
    grad: Tensor
    new_params: Tensor
    state_before: Any
    state_after: Any
    rule: Any  # the rule itself (a wrapper re-runs its inner update: pure, so the same numbers)
    hess: tuple | None = None
    loss: float = float("nan")
    # The surface's noise-free closure (engine.step.evaluator) for a rule with needs_closure: a wrapper
    # that re-runs its inner update passes it on (an explanation itself reads the state, never re-evaluates).
    closure: Any = None

    @property
    def move(self) -> Tensor:
        return self.new_params - self.params

    def inner(self, inner_rule, state_before, state_after, values: tuple, new_params: Tensor) -> "StepView":
        """The view of a wrapper's inner update (its own state, values and result)."""
        return StepView(
            self.step,
            self.lr,
            self.hp,
            values,
            self.params,
            self.at,
            self.grad,
            new_params,
            state_before,
            state_after,
            inner_rule,
            self.hess,
            self.loss,
            self.closure,
        )


@dataclass
class Explanation:
    sentences: list[str] = field(default_factory=list)
    shown: dict[str, Pair] = field(default_factory=dict)  # every vector a sentence prints, by name
    moves: list[tuple[str, Pair]] = field(default_factory=list)  # sub-steps that add up to the move
    arrows: list[tuple[str, Pair]] = field(default_factory=list)  # constructions drawn from w (−ηg, −ηm̂, ...)
    facts: dict[str, Any] = field(default_factory=dict)  # scalars and tuples the sentences print (ρ_t, a band)
    markers: dict[str, Pair] = field(default_factory=dict)  # points to mark (Lookahead's slow weights)

    def say(self, text: str) -> None:
        self.sentences.append(text)

    def show(self, name: str, value) -> str:
        """Record a vector under `name` and return it formatted for a sentence."""
        self.shown[name] = pair(value)
        return fmt(self.shown[name])

    def number(self, name: str, value, digits: int = 3) -> str:
        """Record a scalar (a float, or a one-element tensor) and return it formatted."""
        self.facts[name] = float(value)
        return fmt(self.facts[name], digits)

    def move(self, label: str, value) -> None:
        self.moves.append((label, pair(value)))

    def arrow(self, label: str, value) -> None:
        self.arrows.append((label, pair(value)))


def begin(view: StepView) -> Explanation:
    """The sentences every update starts with: where the gradient was taken, and its value."""
    e = Explanation()
    if not torch.equal(view.at, view.params):
        e.say(
            f"Look-ahead: the gradient is taken at {e.show('probe', view.at)}, not at w = {e.show('w', view.params)}."
        )
    e.say(f"Gradient g = {e.show('g', view.grad)} (loss {fmt(view.loss, 4)}).")
    return e


def finish(e: Explanation, view: StepView, sentence: str | None = None) -> Explanation:
    """The whole move as one sub-step (unless a wrapper split it) and, optionally, its sentence."""
    if sentence is not None:
        e.say(sentence)
    if not e.moves:
        e.move("step", view.move)
    return e


def effective_gradient(e: Explanation, view: StepView, weight_decay) -> Tensor:
    """g + λw, torch.optim's coupled weight decay, said only when it is on."""
    from optimizers._common import is_zero, with_weight_decay

    g = with_weight_decay(view.grad, view.params, weight_decay)
    if not is_zero(weight_decay):
        e.say(
            f"Weight decay λ = {fmt(float(weight_decay))} adds λw: the gradient used is g + λw = {e.show('g_eff', g)}."
        )
    return g


def generic(view: StepView) -> Explanation:
    """For an optimizer without its own explanation: the gradient and the move."""
    e = begin(view)
    return finish(e, view, f"Step = {e.show('step', view.move)}.")
