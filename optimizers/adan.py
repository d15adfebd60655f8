"""Adan: adaptive Nesterov momentum, estimated from gradient differences (no extra gradient)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_ratio, beta_param, ema_sq, is_zero, lerp, select
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class AdanState(NamedTuple):
    m: Tensor  # m_k, the average of gradients (pytorch-optimizer's exp_avg)
    v_diff: Tensor  # v_k, the average of gradient differences g_k − g_{k−1} (exp_avg_diff)
    n: Tensor  # n_k, the average of squared Nesterov-corrected gradients (exp_avg_sq)
    g_prev: Tensor  # the gradient of this step, the next step's g_{k−1} (the package keeps −g as previous_grad)
    denom: Tensor  # √n/√(1 − β₃ᵗ) + ε, the denominator of the step just taken


def debias(beta, step: int):
    """1 − βᵗ as pytorch-optimizer's BaseOptimizer.debias computes it (math.pow), β a float or a per-run tensor."""
    return 1.0 - math.pow(beta, step) if not isinstance(beta, Tensor) else 1.0 - beta**step


def root(x):
    return x.sqrt() if isinstance(x, Tensor) else math.sqrt(x)


def differences(grad: Tensor, g_prev: Tensor, first, beta2) -> tuple[Tensor, Tensor]:
    """(g − g_prev, g + β₂(g − g_prev)) in the package's operation order. At the first step (`first`
    set) there is no previous gradient: the package starts previous_grad from the gradient itself,
    so the difference is exactly 0 and the corrected gradient is g."""
    prev = select(first, grad, g_prev)
    diff = grad - prev  # the package: (−g_prev) + g, the same rounding
    return diff, diff * beta2 + grad  # grad_diff.mul_(β₂).add_(g)


def adan_rule(hp: dict) -> Rule:
    r"""Adan: with Δ_k = g_k − g_{k−1} (0 at the first step),
    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)Δ,  n ← β₃n + (1 − β₃)(g + β₂Δ)²,
    w ← w − η/(√n̂ + ε) ⊙ (m̂ + β₂v̂),  then w ← w/(1 + ηλ),
    with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), n̂ = n/(1 − β₃ᵗ).

    Xie, Zhou, Li, Lin & Yan (2022), Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing
    Deep Models (arXiv:2208.06677), Algorithm 1, with the paper's names: m the first moment, v the
    moment of gradient differences, n the second moment of the Nesterov-corrected gradient g + β₂Δ.
    Matches pytorch-optimizer 4.1.0's Adan (foreach=False; its foreach path too, tested) bit for bit;
    that code follows the authors' (sail-sg/Adan). Differences from the paper, all the code's:

    * the β's are decay rates: the paper's β₁, β₂, β₃ (0.02, 0.08, 0.01) are 1 minus these
      (0.98, 0.92, 0.99), so the paper's (1 − β₂)Δ term is β₂Δ here;
    * the averages start at 0 and are bias-corrected (m/(1 − β₁ᵗ), v/(1 − β₂ᵗ), and n inside the
      root: √n/√(1 − β₃ᵗ)); Algorithm 1 has no bias correction;
    * ε is added outside the root, η/(√n̂ + ε), where the paper writes η/√(n + ε);
    * at the first step there is no previous gradient: the code takes g₀ itself, so Δ = 0 (v stays
      0 and n takes g²). gradscape keeps g_{k−1} in its state and chooses g at step 1 with a
      per-step flag, so update never sees the step number;
    * weight decay: the paper's proximal form, w ← (w − step)/(1 + ηλ), is the package's default
      (weight_decouple=False; the package's docstring says "adding it to the gradient", but its code
      divides); weight_decouple=True shrinks w by (1 − ηλ) before the step (the authors' no_prox).

    The package's options for whole networks stay at their defaults and are not offered:
    max_grad_norm = 0 (a clip by the global gradient norm over every parameter, which would couple
    the independent runs of a batch), use_gc (gradient centralisation, for weight matrices), adanorm
    and its r (a running gradient-norm rescaling over a whole tensor), maximize.
    """
    b1, b2, b3, eps, wd = hp["beta1"], hp["beta2"], hp["beta3"], hp["eps"], hp["weight_decay"]
    decouple = hp["weight_decouple"]

    def init(params):
        zeros = torch.zeros_like(params)
        return AdanState(zeros, zeros, zeros, zeros, torch.ones_like(params))

    def per_step(lr, step):
        # The package's first step takes previous_grad from g itself (a flag here), and its bias
        # corrections: debias(β, t) = 1 − βᵗ, the third under the root.
        first = 1.0 if step == 1 else 0.0
        return first, debias(b1, step), debias(b2, step), root(debias(b3, step))

    def update(grad, state, params, lr, values):
        first, bias_correction1, bias_correction2, bias_correction3_sqrt = values
        diff, corrected = differences(grad, state.g_prev, first, b2)
        m = lerp(state.m, grad, 1 - b1)
        v = lerp(state.v_diff, diff, 1 - b2)
        n = ema_sq(state.n, corrected, b3)  # exp_avg_sq.mul_(β₃).addcmul_(c, c, value=1 − β₃)
        denom = n.sqrt() / bias_correction3_sqrt + eps
        if decouple and not is_zero(wd):
            params = params * (1.0 - lr * wd)
        new = add_ratio(params, m, denom, -lr / bias_correction1)
        new = add_ratio(new, v, denom, -lr * b2 / bias_correction2)
        if not decouple and not is_zero(wd):
            new = new / (1.0 + lr * wd)
        return new, AdanState(m, v, n, grad, denom)

    def effective_lr(state, lr):
        return lr * state.denom.reciprocal()

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


def explain_adan(v):
    e = begin(v)
    b1, b2, b3, wd = v.hp["beta1"], v.hp["beta2"], v.hp["beta3"], v.hp["weight_decay"]
    a, before = v.state_after, v.state_before
    first, bias_correction1, bias_correction2, bias_correction3_sqrt = v.values
    diff, corrected = differences(v.grad, before.g_prev, first, b2)
    if float(first):
        e.say(
            "First step: there is no previous gradient, so (as in the authors' code) g itself stands in for it "
            f"and the difference Δ = g − g_prev is {e.show('diff', diff)}."
        )
    else:
        e.say(
            f"Gradient difference Δ = g − g_prev = {e.show('diff', diff)}, "
            f"with g_prev = {e.show('g_prev', before.g_prev)} from the previous step."
        )
    e.say(f"First moment m = {fmt(b1)}·m + {fmt(1 - b1, 2)}·g = {e.show('state.m', a.m)}.")
    e.say(f"Difference moment v = {fmt(b2)}·v + {fmt(1 - b2, 2)}·Δ = {e.show('state.v_diff', a.v_diff)}.")
    e.say(
        f"Nesterov-corrected gradient g + β₂Δ = {e.show('g_nesterov', corrected)} (β₂ = {fmt(b2)}); "
        f"second moment n = {fmt(b3)}·n + {fmt(1 - b3, 2)}·(g + β₂Δ)² = {e.show('state.n', a.n)}."
    )
    bc1 = e.number("bias_correction1", bias_correction1)
    bc2 = e.number("bias_correction2", bias_correction2)
    bc3 = e.number("bias_correction3_sqrt", bias_correction3_sqrt)
    e.say(
        f"Bias corrections: m̂ = m/(1 − β₁ᵗ) with 1 − β₁ᵗ = {bc1}, v̂ = v/(1 − β₂ᵗ) with 1 − β₂ᵗ = {bc2}, "
        f"and √n̂ = √n/√(1 − β₃ᵗ) with √(1 − β₃ᵗ) = {bc3}."
    )
    factor = v.lr * a.denom.reciprocal()
    e.say(f"Per-coordinate factor η/(√n̂ + ε) = {e.show('effective_lr', factor)}, on m̂ + β₂v̂.")
    e.arrow("−ηm̂/(√n̂+ε)", -v.lr / bias_correction1 * a.m / a.denom)
    e.arrow("−ηβ₂v̂/(√n̂+ε)", -v.lr * b2 / bias_correction2 * a.v_diff / a.denom)
    if wd and v.hp["weight_decouple"]:
        e.say(f"Decoupled weight decay: w first shrinks ×(1 − ηλ) = ×{fmt(1 - v.lr * wd, 6)}.")
    elif wd:
        e.say(
            f"Weight decay, proximal as in the paper: the point after the step is divided by "
            f"1 + ηλ = {fmt(1 + v.lr * wd, 6)}."
        )
    if wd:
        return finish(e, v, f"Step (the weight decay included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −factor·(m̂ + β₂v̂) = {e.show('step', v.move)}.")


def _twin_kwargs(hp: dict) -> dict:
    return dict(
        lr=hp["lr"],
        betas=(hp["beta1"], hp["beta2"], hp["beta3"]),
        weight_decay=hp["weight_decay"],
        weight_decouple=hp["weight_decouple"],
        eps=hp["eps"],
    )


ADAN = OptimizerSpec(
    key="adan",
    name="Adan",
    family="adam",
    build=adan_rule,
    torch_twin=TorchTwin("Adan", _twin_kwargs, module="pytorch_optimizer"),
    params=(
        lr_param(0.05),
        beta_param(
            "beta1", 0.98, "β₁ (first moment)", "Memory of the gradient average m (the paper's 1 − β₁).", r"\beta_1"
        ),
        beta_param(
            "beta2",
            0.92,
            "β₂ (difference moment)",
            "Memory of the average v of gradient differences, and the weight of the Nesterov correction g + β₂Δ.",
            r"\beta_2",
        ),
        beta_param(
            "beta3",
            0.99,
            "β₃ (second moment)",
            "Memory of the average n of squared corrected gradients (the paper's 1 − β₃).",
            r"\beta_3",
            low=0.5,
            high=0.9999,
        ),
        eps_param(1e-8, help="Added to √n̂ in the denominator; large values turn the method into momentum SGD."),
        weight_decay_param(help="Proximal decay: after the step, w is divided by (1 + ηλ)."),
        Param(
            "weight_decouple",
            False,
            label="decoupled decay",
            kind="bool",
            help="Shrink w by (1 − ηλ) before the step (AdamW's form) instead of dividing by (1 + ηλ) after it.",
        ),
    ),
    latex=(
        r"\Delta_t = g_t - g_{t-1}\ (\Delta_1 = 0),\ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ "
        r"v_t = \beta_2 v_{t-1} + (1-\beta_2)\Delta_t,\ n_t = \beta_3 n_{t-1} + (1-\beta_3)(g_t + \beta_2\Delta_t)^2,\ "
        r"w_{t+1} = \frac{1}{1+\eta\lambda}\left(w_t - \frac{\eta}{\sqrt{n_t/(1-\beta_3^t)} + \varepsilon}"
        r"\left(\frac{m_t}{1-\beta_1^t} + \beta_2\frac{v_t}{1-\beta_2^t}\right)\right);\ "
        r"\text{decoupled: } w_{t+1} = (1-\eta\lambda) w_t - \frac{\eta}{\sqrt{n_t/(1-\beta_3^t)} + \varepsilon}"
        r"\left(\frac{m_t}{1-\beta_1^t} + \beta_2\frac{v_t}{1-\beta_2^t}\right)"
    ),
    reference="Xie, Zhou, Li, Lin & Yan (2022), Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing "
    "Deep Models; pytorch-optimizer Adan",
    summary="Adam-like steps on a Nesterov momentum estimated from the change of the gradient, "
    "without a gradient at a look-ahead point.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√n̂ + ε), the factor on m̂ + β₂v̂",
    explain=explain_adan,
    color="#F781BF",
    state_labels={"v_diff": "average of g − g_prev, v", "n": "second moment n", "g_prev": "previous g"},
)
