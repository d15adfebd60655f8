"""Averaged SGD: gradient descent with a slowly decaying step and a running average of the iterates."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import addcmul, select, with_weight_decay
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, lr_param, weight_decay_param


class ASGDState(NamedTuple):
    ax: Tensor  # the average ā of the iterates (torch's state["ax"])
    eta_t: Tensor  # η_t, the step size of the step just taken (the same for x and y)
    eta_next: Tensor  # η_{t+1}, computed at the end of this step from this step's lr, as torch does


def asgd_rule(hp: dict) -> Rule:
    r"""ASGD: w ← (1 − λη_t)·w − η_t·(g + λ_wd·w),  ā ← ā + μ_t(w − ā), with
    η_t = η/(1 + λη·(t − 1))^α  and  μ_t = 1/max(1, t − 1 − t₀)  (η₁ = η, μ₁ = 1).

    Averaged stochastic gradient descent: Polyak & Juditsky (1992), Acceleration of stochastic
    approximation by averaging; the step-size decay and the shrink (1 − λη_t), i.e. an L2 penalty
    λ/2·‖w‖², follow Bottou (2012), Stochastic gradient descent tricks. Matches torch.optim.ASGD
    (foreach=False) bit for bit. Differences from the paper, all torch's:

    * torch computes η and μ at the END of step t − 1, from that step's counter and that step's
      lr. Under a constant lr that is the formula above; under a learning-rate schedule η_t uses
      the lr of the previous step (one step behind the schedule). gradscape does the same: the
      state carries η_{t+1}.
    * the average is uniform over the iterates after steps t₀ + 2, …, t (not over all of them from
      the start, as Polyak–Juditsky): with the default t₀ = 10⁶ it never starts, and ā is simply
      the current point.
    * torch keeps η and μ as scalar tensors in torch's DEFAULT dtype, whatever the parameter's:
      under the usual float32 default it rounds η_t and μ_t to float32 even for float64
      parameters. gradscape keeps η in the parameters' dtype and μ as a float, so a float64 run
      equals torch under torch.set_default_dtype(torch.float64) (the reference tests run so).

    The path drawn is the iterate w (torch's parameter); ā is what the method would return.
    """
    lambd, alpha, t0, wd = hp["lambd"], hp["alpha"], hp["t0"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return ASGDState(zeros, zeros, zeros)

    def per_step(lr, step):
        # η₁ is the lr itself (torch's state starts at lr): added once to the zero η of the initial
        # state (0 + η = η exactly), 0.0 afterwards, when η_t comes from the previous step's state.
        first = lr if step == 1 else 0.0
        # torch, at the end of step `step`: η_{t+1} = lr/((1 + λ·lr·t)^α), μ_{t+1} = 1/max(1, t − t₀).
        eta_next = lr / ((1 + lambd * lr * step) ** alpha)
        if step == 1:
            mu = 1.0  # torch's initial μ
        elif isinstance(t0, Tensor):
            mu = 1 / torch.clamp((step - 1) - t0, min=1)
        else:
            mu = 1 / max(1, (step - 1) - t0)
        # torch copies the point when μ = 1 and averages otherwise: ā + (w − ā)·1 need not equal w.
        averaging = (mu != 1).to(mu.dtype) if isinstance(mu, Tensor) else (1.0 if mu != 1 else 0.0)
        return first, mu, averaging, eta_next

    def update(grad, state, params, lr, values):
        first, mu, averaging, eta_next = values
        eta = state.eta_next + first
        g = with_weight_decay(grad, params, wd)
        # torch: param.mul_(1 − λη); param.add_(g, alpha=−η). η is a tensor here (it comes from the
        # state), and addcmul(p, g, η, value=−1) is the same fused multiply-add as add(p, g, alpha=−η).
        new = addcmul(params * (1 - lambd * eta), g, eta, -1)
        ax = select(averaging, state.ax + (new - state.ax) * mu, new)
        return new, ASGDState(ax, eta, torch.zeros_like(params) + eta_next)

    def effective_lr(state, lr):
        return state.eta_t

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


def explain_asgd(v):
    e = begin(v)
    lambd, alpha, t0, wd = v.hp["lambd"], v.hp["alpha"], v.hp["t0"], v.hp["weight_decay"]
    a = v.state_after
    g = with_weight_decay(v.grad, v.params, wd)
    used = "g"
    if wd:
        e.say(
            f"Weight decay λ_wd = {fmt(float(wd))} adds λ_wd·w: the gradient used is g + λ_wd·w = {e.show('g_eff', g)}."
        )
        used = "(g + λ_wd·w)"
    eta = e.number("eta_t", a.eta_t.reshape(-1)[0])
    if v.step == 1:
        e.say(f"The first step size is the learning rate itself: η₁ = η = {eta}.")
    else:
        e.say(
            f"Step size η_t = η/(1 + λη·(t − 1))^α = {eta}, with λ = {fmt(float(lambd))}, α = {fmt(float(alpha))} "
            "(torch computes it at the end of the previous step, with that step's η)."
        )
    shrink = e.number("lambda_eta", lambd * a.eta_t.reshape(-1)[0])
    e.say(
        f"The point shrinks by the fraction λη_t = {shrink} of itself, w ← (1 − λη_t)w, and moves by −η_t·{used}: "
        f"the new point is {e.show('w_new', v.new_params)}."
    )
    _, mu, averaging, _ = v.values
    mu_text = e.number("mu_t", mu)
    if float(averaging):
        e.say(
            f"Averaging is on (t − 1 − t₀ > 1): μ_t = 1/(t − 1 − t₀) = {mu_text} and ā ← ā + μ_t(w − ā) = "
            f"{e.show('state.ax', a.ax)}; the path drawn is the iterate w, not ā."
        )
    else:
        why = "torch starts μ at 1" if v.step == 1 else f"t ≤ t₀ + 2 with t₀ = {fmt(float(t0))}"
        e.say(
            f"μ_t = {mu_text} ({why}): no averaging yet, so the average ā is the new point itself, "
            f"{e.show('state.ax', a.ax)}."
        )
    e.markers["average ā"] = e.shown["state.ax"]
    return finish(e, v, f"Step = {e.show('step', v.move)}.")


ASGD = OptimizerSpec(
    key="asgd",
    name="ASGD",
    family="first order",
    build=asgd_rule,
    torch_twin=TorchTwin(
        "ASGD",
        lambda hp: dict(
            lr=hp["lr"], lambd=hp["lambd"], alpha=hp["alpha"], t0=hp["t0"], weight_decay=hp["weight_decay"]
        ),
        note="ASGD computes η_t at the end of the previous step from that step's lr: under a "
        "scheduler its step size lags the schedule by one step (gradscape does the same).",
    ),
    params=(
        lr_param(0.2, help="Initial step size η; η_t decays as η/(1 + ληt)^α."),
        Param(
            "lambd",
            1e-4,
            1e-6,
            1.0,
            log=True,
            label="decay λ",
            help="Shrinks w by (1 − λη_t) each step (an L2 penalty) and sets how fast η_t decays.",
            latex=r"\lambda",
        ),
        Param(
            "alpha",
            0.75,
            0.0,
            1.0,
            label="decay power α",
            help="Power of the step-size decay η_t = η/(1 + ληt)^α.",
            latex=r"\alpha",
        ),
        Param(
            "t0",
            1e6,
            1.0,
            1e6,
            log=True,
            label="averaging start t₀",
            help="ā averages the points from step t₀ + 2 on (torch's default 10⁶: on this scale, never).",
            latex=r"t_0",
        ),
        dataclasses.replace(
            weight_decay_param(help="L2 penalty added to the gradient (λ_wd·w)."), latex=r"\lambda_{wd}"
        ),
    ),
    latex=(
        r"\eta_t = \frac{\eta}{(1 + \lambda\eta(t-1))^{\alpha}},\quad"
        r" w_{t+1} = (1 - \lambda\eta_t)\, w_t - \eta_t\, g_t,\quad"
        r" \bar a_{t+1} = \bar a_t + \mu_t (w_{t+1} - \bar a_t),\ \mu_t = \frac{1}{\max(1,\, t-1-t_0)}"
    ),
    reference="Polyak & Juditsky (1992), Acceleration of stochastic approximation by averaging; "
    "Bottou (2012), Stochastic gradient descent tricks; torch.optim.ASGD",
    summary="SGD with a slowly decaying step that also keeps the running average of its iterates.",
    effective_lr_kind="diagonal",
    effective_lr_note="η_t = η/(1 + λη(t−1))^α, the same for x and y",
    explain=explain_asgd,
    color="#661100",
)
