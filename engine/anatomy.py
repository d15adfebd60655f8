"""Step-by-step anatomy of an update: what each optimizer computed, and its sentences.

Runs one optimizer for a single start with engine.step.step (the same step as every roll-out),
keeping the state before and after every update, and hands each update to the optimizer's own
`explain` (in its file, next to its rule): the sentences read the very values the step used.
The Step-by-step page draws these; nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from engine.step import evaluator, step as take_step
from optimizers import get_optimizer
from optimizers.explain import Explanation, StepView, generic, pair
from surfaces import Surface, get_surface

Pair = tuple[float, float]


@dataclass
class StepDetail:
    step: int  # 1-based number of the update
    position: Pair  # w before the update
    probe: Pair  # where the gradient was taken (Nesterov's look-ahead; else = position)
    grad: Pair
    new_position: Pair
    lr: float
    loss: float
    state_before: dict = field(default_factory=dict)  # name -> Pair (per coordinate) or float
    state_after: dict = field(default_factory=dict)
    effective_lr: Pair | None = None
    extras: dict = field(default_factory=dict)  # the explanation's facts, and the plain gradient step −ηg
    explanation: Explanation = field(default_factory=Explanation)

    @property
    def sentences(self) -> list[str]:
        return self.explanation.sentences

    @property
    def step_vector(self) -> Pair:
        return (self.new_position[0] - self.position[0], self.new_position[1] - self.position[1])


def anatomy(
    surface: Surface | str, optimizer: str, start=None, steps: int = 30, hparams: dict | None = None, schedule=None
) -> list[StepDetail]:
    """The first `steps` updates of one run, in float64 on the CPU."""
    from optimizers.schedules import CONSTANT

    surface = get_surface(surface) if isinstance(surface, str) else surface
    spec = get_optimizer(optimizer)
    hp = spec.resolve(hparams)
    rule = spec.build(hp)
    explain = spec.explain or generic
    schedule = CONSTANT if schedule is None or spec.replaces_schedule else schedule  # see engine.rollout
    if not 1 <= steps <= 2000:
        raise ValueError(f"steps must be from 1 to 2000 for the step-by-step view; got {steps}")
    start = surface.start if start is None else start
    params = torch.tensor([[float(start[0])], [float(start[1])]], dtype=torch.float64)
    state = rule.init(params)
    sched_state = schedule.start(hp.get("lr", 1.0))
    closure = evaluator(surface) if rule.needs_closure else None  # for a wrapper re-running its inner update
    details = []
    with torch.no_grad():
        for t in range(steps):
            lr = float(schedule.lr(sched_state, t))
            values = rule.per_step(lr, t + 1)
            done = take_step(surface, rule, params, state, lr, values)
            loss = float(surface.value_xy(params[0], params[1]))
            view = StepView(
                t + 1,
                lr,
                hp,
                values,
                params,
                done.at,
                done.grad,
                done.params,
                state,
                done.state,
                rule,
                done.hess,
                loss,
                closure,
            )
            explanation = explain(view)
            g = pair(done.grad)
            detail = StepDetail(
                step=t + 1,
                position=pair(params),
                probe=pair(done.at),
                grad=g,
                new_position=pair(done.params),
                lr=lr,
                loss=loss,
                state_before=_fields(state),
                state_after=_fields(done.state),
                effective_lr=pair(rule.effective_lr(done.state, lr)) if rule.effective_lr else None,
                extras={"gradient_step": (-lr * g[0], -lr * g[1]), **explanation.facts},
                explanation=explanation,
            )
            details.append(detail)
            if schedule.needs_loss:
                sched_state = schedule.observe(sched_state, surface.value_xy(params[0], params[1]))
            params, state = done.params, done.state
            if not all(math.isfinite(v) for v in detail.new_position):
                break
    return details


def _fields(state) -> dict:
    """A state NamedTuple as {name: Pair or float}, nested states flattened with a dot."""
    out = {}
    if not hasattr(state, "_fields"):
        return out
    for name in state._fields:
        value = getattr(state, name)
        if hasattr(value, "_fields"):
            out.update({f"{name}.{k}": v for k, v in _fields(value).items()})
        elif isinstance(value, torch.Tensor):
            out[name] = pair(value) if value.numel() > 1 else float(value.reshape(-1)[0])
        elif isinstance(value, (int, float)):
            out[name] = float(value)
    return out


def bias_correction_table(beta: float, steps: int = 10) -> list[dict]:
    """The notes' derivation: for a constant gradient g, E[s_t] = (1 − βᵗ) g; the correction divides
    by exactly that factor. One row per step: t, weight of the sum, correction factor."""
    rows = []
    for t in range(1, steps + 1):
        total = (1 - beta) * sum(beta ** (t - i) for i in range(1, t + 1))
        rows.append({"t": t, "(1−β)Σβ^(t−i)": total, "1 − βᵗ": 1 - beta**t, "correction 1/(1 − βᵗ)": 1 / (1 - beta**t)})
    return rows
