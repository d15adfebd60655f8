"""Plain gradient descent, heavy-ball momentum and Nesterov's look-ahead."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_scaled, axpy, momentum_param, with_weight_decay
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, effective_gradient, finish, fmt
from optimizers.hparams import Param, lr_param, weight_decay_param


class Empty(NamedTuple):
    pass


class Buffer(NamedTuple):
    buf: Tensor


def sgd_rule(hp: dict) -> Rule:
    r"""Gradient descent: w ← w − η (g + λw).

    Matches torch.optim.SGD (momentum=0): param.add_(grad, alpha=-lr).
    """
    wd = hp["weight_decay"]

    def init(params):
        return Empty()

    def update(grad, state, params, lr, values):
        g = with_weight_decay(grad, params, wd)
        return add_scaled(params, g, -lr), state

    return Rule(init, update)


def momentum_rule(hp: dict) -> Rule:
    r"""Heavy-ball momentum in torch's form: b₁ = g, then b ← μb + (1 − τ)g;  w ← w − ηb.

    Matches torch.optim.SGD(momentum=μ, dampening=τ, nesterov=False). The lecture notes write
    u ← γu − ηg, w ← w + u; the two agree (u = −ηb) while η is constant, and differ under a schedule:
    torch's form rescales the whole velocity when η changes. gradscape follows torch.
    """
    mu, damp, wd = hp["momentum"], hp["dampening"], hp["weight_decay"]

    def init(params):
        return Buffer(torch.zeros_like(params))

    def per_step(lr, step):
        # torch starts the buffer at the first gradient itself, undamped: b₀ = 0 and a weight of 1
        # on the first g give exactly that (0·μ + 1·g = g).
        return (1.0 if step == 1 else 1 - damp,)

    def update(grad, state, params, lr, values):
        (g_weight,) = values
        g = with_weight_decay(grad, params, wd)
        buf = axpy(state.buf * mu, g, g_weight)
        return add_scaled(params, buf, -lr), Buffer(buf)

    return Rule(init, update, per_step=per_step)


def nesterov_rule(hp: dict) -> Rule:
    r"""Nesterov accelerated gradient, look-ahead form of the lecture notes:

    w̃ = w + μu,  u ← μu − η∇f(w̃),  w ← w + u   (the notes write γ for μ).

    The gradient is taken at the look-ahead point w̃ (the engine asks `probe`). torch.optim's
    SGD(nesterov=True) tracks w̃ itself as its parameter: with constant η, torch's parameter after
    t steps equals w_t + μu_t here (tested).
    """
    mu = hp["momentum"]

    def init(params):
        return Buffer(torch.zeros_like(params))

    def probe(params, state):
        return params + mu * state.buf

    def update(grad, state, params, lr, values):
        u = state.buf * mu - lr * grad
        return params + u, Buffer(u)

    return Rule(init, update, probe=probe)


def explain_sgd(v):
    e = begin(v)
    wd = v.hp["weight_decay"]
    effective_gradient(e, v, wd)
    used = "(g + λw)" if wd else "g"
    return finish(e, v, f"Step = −η·{used} = −{fmt(v.lr)}·{used} = {e.show('step', v.move)}.")


def explain_momentum(v):
    e = begin(v)
    mu, damp, wd = v.hp["momentum"], v.hp["dampening"], v.hp["weight_decay"]
    effective_gradient(e, v, wd)
    used = "(g + λw)" if wd else "g"
    (g_weight,) = v.values
    if v.step == 1:
        e.say(
            f"The first velocity is the gradient itself (torch starts b with {used}, undamped): "
            f"b = {e.show('state.buf', v.state_after.buf)}."
        )
    elif damp:
        e.say(
            f"Velocity decays ×{fmt(mu)} and adds (1 − τ)·{used} = {fmt(g_weight)}·{used}: "
            f"b = {e.show('state.buf', v.state_after.buf)}."
        )
    else:
        e.say(f"Velocity decays ×{fmt(mu)} and adds {used}: b = {e.show('state.buf', v.state_after.buf)}.")
    return finish(e, v, f"Step = −η·b = −{fmt(v.lr)}·b = {e.show('step', v.move)}.")


def explain_nesterov(v):
    e = begin(v)
    mu = v.hp["momentum"]
    e.say(
        f"Velocity u = μu − ηg = {fmt(mu)}·{e.show('state_before.buf', v.state_before.buf)} − {fmt(v.lr)}·g "
        f"= {e.show('state.buf', v.state_after.buf)}."
    )
    return finish(e, v, f"w moves by u: step = {e.show('step', v.move)}.")


_LR_HELP = "Step size η: how far each update moves along the negative gradient."

SGD = OptimizerSpec(
    key="sgd",
    name="SGD",
    family="first order",
    build=sgd_rule,
    torch_twin=TorchTwin("SGD", lambda hp: dict(lr=hp["lr"], weight_decay=hp["weight_decay"])),
    params=(lr_param(0.05, help=_LR_HELP), weight_decay_param()),
    latex=r"w_{t+1} = w_t - \eta\,(g_t + \lambda w_t)",
    explain=explain_sgd,
    color="#000000",
    reference="Robbins & Monro (1951); torch.optim.SGD",
    summary="Steps straight down the local slope; the step length is η times the gradient.",
)

MOMENTUM = OptimizerSpec(
    key="momentum",
    name="Momentum",
    family="first order",
    build=momentum_rule,
    torch_twin=TorchTwin(
        "SGD",
        lambda hp: dict(
            lr=hp["lr"], momentum=hp["momentum"], dampening=hp["dampening"], weight_decay=hp["weight_decay"]
        ),
    ),
    params=(
        lr_param(0.05, help=_LR_HELP),
        momentum_param(0.9),
        Param(
            "dampening",
            0.0,
            0.0,
            1.0,
            label="dampening",
            help="Scales down each new gradient added to the velocity (torch's τ).",
            latex=r"\tau",
        ),
        weight_decay_param(),
    ),
    latex=(
        r"\tilde g_t = g_t + \lambda w_t,\quad b_1 = \tilde g_1,\quad b_{t} = \mu\, b_{t-1} + (1-\tau)\, \tilde g_t,"
        r"\quad w_{t+1} = w_t - \eta\, b_t"
    ),
    explain=explain_momentum,
    color="#0072B2",
    reference="Polyak (1964), heavy ball; torch.optim.SGD(momentum=μ)",
    summary="Keeps a running velocity: consistent directions add up, oscillations cancel.",
)

NESTEROV = OptimizerSpec(
    key="nesterov",
    name="Nesterov",
    family="first order",
    build=nesterov_rule,
    params=(lr_param(0.05, help=_LR_HELP), momentum_param(0.9)),
    latex=(
        r"\tilde w_t = w_t + \mu u_t,\quad u_{t+1} = \mu u_t - \eta \nabla f(\tilde w_t),"
        r"\quad w_{t+1} = w_t + u_{t+1}"
    ),
    explain=explain_nesterov,
    color="#56B4E9",
    reference="Nesterov (1983); Sutskever et al. (2013); torch.optim.SGD(nesterov=True) tracks w̃",
    summary="Momentum that measures the gradient where the velocity is about to carry it.",
)
