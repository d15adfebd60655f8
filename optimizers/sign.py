"""Methods that step by the sign of the gradient: Rprop and Lion."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_scaled, addcmul, beta_param, clamp, is_zero, lerp
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, lr_param, weight_decay_param


class RpropState(NamedTuple):
    prev: Tensor
    step_size: Tensor


def rprop_rule(hp: dict) -> Rule:
    r"""Rprop: each coordinate keeps its own step size s, grown ×η⁺ while the gradient keeps its
    sign and shrunk ×η⁻ when it flips (that step is then skipped); w ← w − s·sign(g).

    Riedmiller & Braun (1993). Matches torch.optim.Rprop, which takes η only as the initial step
    size: a learning-rate schedule has no effect after the first step (as in torch).
    """
    eta_minus, eta_plus = hp["etaminus"], hp["etaplus"]
    s_min, s_max = hp["step_size_min"], hp["step_size_max"]

    def init(params):
        zeros = torch.zeros_like(params)
        return RpropState(zeros, zeros)

    def per_step(lr, step):
        # torch sets every step size to lr when its state is created (step 1) and never reads lr
        # again: the step sizes start at 0 and take lr once (0 + lr = lr exactly).
        return (lr if step == 1 else 0.0,)

    def update(grad, state, params, lr, values):
        (initial,) = values
        step_size = state.step_size + initial
        sign = (grad * state.prev).sign()
        one = torch.ones_like(grad)  # factors built in grad's dtype (a bare float would be float32)
        factor = torch.where(sign > 0, one * eta_plus, torch.where(sign < 0, one * eta_minus, one))
        step_size = clamp(step_size * factor, s_min, s_max)
        g = torch.where(factor == eta_minus, 0.0, grad)  # after a sign flip: no step, forget g
        return addcmul(params, g.sign(), step_size, -1), RpropState(g, step_size)

    def effective_lr(state, lr):
        return state.step_size

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


class LionState(NamedTuple):
    m: Tensor


def lion_rule(hp: dict) -> Rule:
    r"""Lion: c = β₁m + (1 − β₁)g,  w ← w − η(sign(c) + λw),  m ← β₂m + (1 − β₂)g.

    Chen et al. (2023), Symbolic discovery of optimization algorithms, Algorithm 2 (decoupled
    weight decay). Matches pytorch-optimizer's Lion (weight_decouple=True, the default).
    """
    b1, b2, wd = hp["beta1"], hp["beta2"], hp["weight_decay"]

    def init(params):
        return LionState(torch.zeros_like(params))

    def update(grad, state, params, lr, values):
        direction = lerp(state.m, grad, 1 - b1).sign()
        m = lerp(state.m, grad, 1 - b2)
        if not is_zero(wd):
            params = params * (1 - wd * lr)
        return add_scaled(params, direction, -lr), LionState(m)

    return Rule(init, update)


def explain_rprop(v):
    e = begin(v)
    a = v.state_after
    e.say(
        f"Each coordinate's step size, grown ×η⁺ while g keeps its sign and shrunk ×η⁻ when it flips: "
        f"s = {e.show('state.step_size', a.step_size)}."
    )
    flipped = [
        name
        for i, name in enumerate("xy")
        if float(v.grad[i].reshape(-1)[0] * v.state_before.prev[i].reshape(-1)[0]) < 0
    ]
    if flipped:
        which = " and ".join(flipped)
        e.say(
            f"The gradient's sign flipped in {which}: that step size shrank and the step there is skipped "
            "(its gradient is forgotten, so the next step cannot count it as a flip)."
        )
        return finish(e, v, f"Step = −s·sign(g) where the sign held, 0 where it flipped: {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −s·sign(g) = {e.show('step', v.move)}.")


def explain_lion(v):
    e = begin(v)
    b1, wd = v.hp["beta1"], v.hp["weight_decay"]
    c = lerp(v.state_before.m, v.grad, 1 - b1)
    e.say(
        f"Interpolated momentum c = {fmt(b1)}·m + {fmt(1 - b1)}·g = {e.show('c', c)}; its sign is "
        f"{e.show('sign_c', c.sign())}."
    )
    e.say(f"The momentum then updates with β₂: m = {e.show('state.m', v.state_after.m)}.")
    if wd:
        e.say(f"Decoupled weight decay: w shrinks by ηλ·w = {e.show('decay', -v.lr * wd * v.params)} as well.")
        return finish(e, v, f"Step = −η·(sign(c) + λw) = {e.show('step', v.move)}.")
    return finish(
        e,
        v,
        f"Lion moves every coordinate by exactly η = {fmt(v.lr)} in the sign of c: step = {e.show('step', v.move)}.",
    )


RPROP = OptimizerSpec(
    key="rprop",
    name="Rprop",
    family="sign",
    build=rprop_rule,
    torch_twin=TorchTwin(
        "Rprop",
        lambda hp: dict(
            lr=hp["lr"], etas=(hp["etaminus"], hp["etaplus"]), step_sizes=(hp["step_size_min"], hp["step_size_max"])
        ),
        note="Rprop uses lr only as its initial step size: the scheduler has no effect after step 1 (as in torch).",
    ),
    params=(
        lr_param(0.01, low=1e-4, high=1.0, help="Initial per-coordinate step size (a length, not a factor)."),
        Param(
            "etaminus", 0.5, 0.1, 0.99, label="η⁻ (shrink)", help="Step-size factor after a sign flip.", latex=r"\eta^-"
        ),
        Param(
            "etaplus", 1.2, 1.01, 2.0, label="η⁺ (grow)", help="Step-size factor while the sign holds.", latex=r"\eta^+"
        ),
        Param(
            "step_size_min", 1e-6, 1e-8, 1e-2, log=True, label="min step", help="Smallest step size.", latex=r"s_{\min}"
        ),
        Param(
            "step_size_max", 50.0, 0.01, 100.0, log=True, label="max step", help="Largest step size.", latex=r"s_{\max}"
        ),
    ),
    latex=(
        r"s_t = \operatorname{clip}(s_{t-1}\cdot\{\eta^+, \eta^-, 1\}),\quad"
        r" w_{t+1} = w_t - s_t \odot \operatorname{sign}(g_t)\ \text{(0 where the sign flipped; that } g_t"
        r"\text{ is then forgotten)}"
    ),
    explain=explain_rprop,
    reference="Riedmiller & Braun (1993), RPROP; torch.optim.Rprop",
    summary="Ignores the gradient's size: each coordinate's step grows while its sign holds and halves when it flips.",
    effective_lr_kind="step size",
    effective_lr_note="the per-coordinate step length s (in units of w)",
    color="#117733",
)

LION = OptimizerSpec(
    key="lion",
    name="Lion",
    family="sign",
    build=lion_rule,
    params=(
        lr_param(0.01, high=1.0),
        beta_param("beta1", 0.9, "β₁ (direction)", "Weight of the momentum in the sign's argument.", r"\beta_1"),
        beta_param("beta2", 0.99, "β₂ (momentum)", "Memory of the momentum.", r"\beta_2"),
        weight_decay_param(help="Decoupled decay: w shrinks by ηλ·w each step."),
    ),
    latex=(
        r"c_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ w_{t+1} = w_t - \eta(\operatorname{sign}(c_t) + \lambda w_t),"
        r"\ m_t = \beta_2 m_{t-1} + (1-\beta_2) g_t"
    ),
    reference="Chen et al. (2023), Symbolic discovery of optimization algorithms; pytorch-optimizer Lion",
    summary="Moves every coordinate by exactly η in the sign of an interpolated momentum.",
    explain=explain_lion,
    color="#332288",
)
