"""Per-coordinate step sizes from gradient history: AdaGrad, RMSprop, AdaDelta."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import (
    add_ratio,
    add_scaled,
    addcmul,
    beta_param,
    ema_sq,
    is_zero,
    lerp,
    momentum_param,
    with_weight_decay,
)
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, effective_gradient, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class AdaGradState(NamedTuple):
    sum_sq: Tensor
    rate: Tensor  # η_t / (√G + ε) of the last step: the effective learning rate


def adagrad_rule(hp: dict) -> Rule:
    r"""AdaGrad: G ← G + g²,  w ← w − η_t g / (√G + ε),  η_t = η / (1 + (t − 1)·decay).

    Matches torch.optim.Adagrad (ε outside the root, as torch; the notes also show √(G + ε)).
    """
    wd, decay, eps, acc0 = hp["weight_decay"], hp["lr_decay"], hp["eps"], hp["initial_accumulator_value"]

    def init(params):
        return AdaGradState(torch.zeros_like(params) + acc0, torch.ones_like(params))

    def per_step(lr, step):
        return (lr / (1 + (step - 1) * decay),)  # η_t, as torch.optim.Adagrad computes it

    def update(grad, state, params, lr, values):
        (clr,) = values
        g = with_weight_decay(grad, params, wd)
        sum_sq = addcmul(state.sum_sq, g, g, 1)
        std = sum_sq.sqrt() + eps
        return add_ratio(params, g, std, -clr), AdaGradState(sum_sq, clr * std.reciprocal())

    def effective_lr(state, lr):
        return state.rate

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


class RMSpropState(NamedTuple):
    square_avg: Tensor
    grad_avg: Tensor
    buf: Tensor
    avg: Tensor  # √v + ε of the last step


def rmsprop_rule(hp: dict) -> Rule:
    r"""RMSprop: v ← αv + (1 − α)g²,  w ← w − η g / (√v + ε).

    With `centered`, v is replaced by v − ḡ² (ḡ the running mean of g); with momentum μ,
    b ← μb + g/(√v + ε) and w ← w − ηb. Matches torch.optim.RMSprop, ε outside the root.
    """
    alpha, eps, wd, mu, centered = hp["alpha"], hp["eps"], hp["weight_decay"], hp["momentum"], hp["centered"]
    use_momentum = not is_zero(mu)

    def init(params):
        zeros = torch.zeros_like(params)
        return RMSpropState(zeros, zeros, zeros, torch.ones_like(params))

    def update(grad, state, params, lr, values):
        g = with_weight_decay(grad, params, wd)
        square_avg = ema_sq(state.square_avg, g, alpha)
        grad_avg = state.grad_avg
        if centered:
            grad_avg = lerp(grad_avg, g, 1 - alpha)
            avg = addcmul(square_avg, grad_avg, grad_avg, -1).sqrt()
        else:
            avg = square_avg.sqrt()
        avg = avg + eps
        buf = state.buf
        if use_momentum:
            buf = buf * mu + g / avg
            new = add_scaled(params, buf, -lr)
        else:
            new = add_ratio(params, g, avg, -lr)
        return new, RMSpropState(square_avg, grad_avg, buf, avg)

    def effective_lr(state, lr):
        return lr * state.avg.reciprocal()

    return Rule(init, update, effective_lr=effective_lr)


class AdaDeltaState(NamedTuple):
    square_avg: Tensor
    acc_delta: Tensor
    scale: Tensor  # √(E[Δ²] + ε) / √(E[g²] + ε) of the last step


def adadelta_rule(hp: dict) -> Rule:
    r"""AdaDelta: E[g²] ← ρE[g²] + (1 − ρ)g²,  Δ = √(E[Δ²] + ε)/√(E[g²] + ε) · g,
    E[Δ²] ← ρE[Δ²] + (1 − ρ)Δ²,  w ← w − ηΔ.

    Zeiler (2012), whose rule has no η; torch.optim.Adadelta adds the factor η (default 1) and is
    matched here. (The lecture note 003 writes θ_t² in the update average where Δθ_t² is meant.)
    """
    rho, eps, wd = hp["rho"], hp["eps"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return AdaDeltaState(zeros, zeros, torch.ones_like(params))

    def update(grad, state, params, lr, values):
        g = with_weight_decay(grad, params, wd)
        square_avg = ema_sq(state.square_avg, g, rho)
        std = (square_avg + eps).sqrt()
        scale = (state.acc_delta + eps).sqrt() / std
        delta = scale * g
        acc_delta = ema_sq(state.acc_delta, delta, rho)
        return add_scaled(params, delta, -lr), AdaDeltaState(square_avg, acc_delta, scale)

    def effective_lr(state, lr):
        return lr * state.scale

    return Rule(init, update, effective_lr=effective_lr)


def explain_adagrad(v):
    e = begin(v)
    effective_gradient(e, v, v.hp["weight_decay"])
    (lr_t,) = v.values
    if v.hp["lr_decay"]:
        e.say(f"Decayed learning rate η_t = η/(1 + (t − 1)·decay) = {e.number('lr_t', lr_t)}.")
    e.say(
        f"G = G + g² grows to {e.show('state.sum_sq', v.state_after.sum_sq)}; the effective step "
        f"η_t/(√G + ε) = {e.show('state.rate', v.state_after.rate)}. G only grows, so under a constant η_t this "
        "factor only shrinks."
    )
    return finish(e, v, f"Step = −η_t·g/(√G + ε) = {e.show('step', v.move)}.")


def explain_rmsprop(v):
    e = begin(v)
    alpha, mu = v.hp["alpha"], v.hp["momentum"]
    effective_gradient(e, v, v.hp["weight_decay"])
    a = v.state_after
    e.say(f"v = {fmt(alpha)}·v + {fmt(1 - alpha)}·g² = {e.show('state.square_avg', a.square_avg)}.")
    if v.hp["centered"]:
        e.say(
            f"Centered: the running mean of g is ḡ = {e.show('state.grad_avg', a.grad_avg)}, and the denominator is "
            f"√(v − ḡ²) + ε = {e.show('state.avg', a.avg)}."
        )
    else:
        e.say(f"The denominator √v + ε = {e.show('state.avg', a.avg)}.")
    e.say(
        f"Effective step η/denominator = {e.show('effective_lr', v.lr * a.avg.reciprocal())} (it grows again when "
        "gradients shrink)."
    )
    if mu:
        e.say(f"Momentum: b = {fmt(mu)}·b + g/denominator = {e.show('state.buf', a.buf)}.")
        return finish(e, v, f"Step = −η·b = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −η·g/denominator = {e.show('step', v.move)}.")


def explain_adadelta(v):
    e = begin(v)
    effective_gradient(e, v, v.hp["weight_decay"])
    a = v.state_after
    e.say(
        f"E[g²] = {e.show('state.square_avg', a.square_avg)}; unit-corrected factor √(E[Δ²] + ε)/√(E[g²] + ε) = "
        f"{e.show('state.scale', a.scale)}; then E[Δ²] = {e.show('state.acc_delta', a.acc_delta)}."
    )
    return finish(e, v, f"Step = −η·Δ = −{fmt(v.lr)}·factor·g = {e.show('step', v.move)}.")


_EPS_HELP = "Added to the root in the denominator so it never divides by zero."

ADAGRAD = OptimizerSpec(
    key="adagrad",
    name="AdaGrad",
    family="adaptive",
    build=adagrad_rule,
    torch_twin=TorchTwin(
        "Adagrad",
        lambda hp: dict(
            lr=hp["lr"],
            lr_decay=hp["lr_decay"],
            weight_decay=hp["weight_decay"],
            initial_accumulator_value=hp["initial_accumulator_value"],
            eps=hp["eps"],
        ),
    ),
    params=(
        lr_param(0.5),
        Param("lr_decay", 0.0, 0.0, 0.1, label="lr decay", help="η_t = η / (1 + (t − 1)·decay).", latex=r"\delta"),
        eps_param(1e-10, help=_EPS_HELP),
        Param(
            "initial_accumulator_value",
            0.0,
            0.0,
            1.0,
            label="initial accumulator",
            help="Starting value of the sum of squared gradients.",
            latex=r"G_0",
        ),
        weight_decay_param(),
    ),
    latex=(
        r"\eta_t = \frac{\eta}{1 + (t-1)\delta},\quad G_t = G_{t-1} + g_t^2,"
        r"\quad w_{t+1} = w_t - \frac{\eta_t}{\sqrt{G_t} + \varepsilon}\, g_t,\quad g_t = \nabla f(w_t) + \lambda w_t"
    ),
    explain=explain_adagrad,
    color="#009E73",
    reference="Duchi, Hazan & Singer (2011); torch.optim.Adagrad",
    summary="Divides each coordinate's step by the root of its summed squared gradients: steps only shrink.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√G + ε)",
)

RMSPROP = OptimizerSpec(
    key="rmsprop",
    name="RMSprop",
    family="adaptive",
    build=rmsprop_rule,
    torch_twin=TorchTwin(
        "RMSprop",
        lambda hp: dict(
            lr=hp["lr"],
            alpha=hp["alpha"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            momentum=hp["momentum"],
            centered=bool(hp["centered"]),
        ),
    ),
    params=(
        lr_param(0.01),
        beta_param("alpha", 0.99, "decay α", "Memory of the squared-gradient average.", r"\alpha", low=0.5, high=0.999),
        eps_param(1e-8, help=_EPS_HELP),
        momentum_param(0.0),
        Param(
            "centered",
            False,
            label="centered",
            kind="bool",
            help="Divide by the gradient's variance estimate instead of its raw second moment.",
        ),
        weight_decay_param(),
    ),
    latex=(
        r"v_t = \alpha v_{t-1} + (1-\alpha) g_t^2,\quad w_{t+1} = w_t - \frac{\eta}{\sqrt{v_t} + \varepsilon}\, g_t,"
        r"\quad g_t = \nabla f(w_t) + \lambda w_t;\ \text{centered: } \sqrt{v_t - \bar g_t^2},\ "
        r"\bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t;\ \text{momentum } \mu:\ "
        r"b_t = \mu b_{t-1} + \frac{g_t}{\sqrt{v_t} + \varepsilon},\ w_{t+1} = w_t - \eta b_t"
    ),
    explain=explain_rmsprop,
    color="#D55E00",
    reference="Tieleman & Hinton (2012), Coursera lecture 6.5; torch.optim.RMSprop",
    summary="AdaGrad with a moving average instead of a sum: steps grow again when gradients shrink.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√v + ε)",
)

ADADELTA = OptimizerSpec(
    key="adadelta",
    name="AdaDelta",
    family="adaptive",
    build=adadelta_rule,
    torch_twin=TorchTwin(
        "Adadelta", lambda hp: dict(lr=hp["lr"], rho=hp["rho"], eps=hp["eps"], weight_decay=hp["weight_decay"])
    ),
    params=(
        lr_param(1.0, low=0.01, high=100.0, help="Factor on the unit-corrected step (1 in Zeiler's paper)."),
        beta_param("rho", 0.9, "decay ρ", "Memory of both running averages.", r"\rho", low=0.5, high=0.999),
        eps_param(1e-6, help="Inside both roots; it also sets the size of the very first steps."),
        weight_decay_param(),
    ),
    latex=(
        r"E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2,\ "
        r"\Delta_t = \frac{\sqrt{E[\Delta^2]_{t-1} + \varepsilon}}{\sqrt{E[g^2]_t + \varepsilon}}\, g_t,\ "
        r"E[\Delta^2]_t = \rho E[\Delta^2]_{t-1} + (1-\rho) \Delta_t^2,"
        r"\quad w_{t+1} = w_t - \eta\, \Delta_t,\quad g_t = \nabla f(w_t) + \lambda w_t"
    ),
    explain=explain_adadelta,
    color="#CC79A7",
    reference="Zeiler (2012), ADADELTA; torch.optim.Adadelta",
    summary="RMSprop whose step carries the units of w: the ratio of two running RMS values.",
    effective_lr_kind="diagonal",
    effective_lr_note="η·√(E[Δ²] + ε) / √(E[g²] + ε)",
)
