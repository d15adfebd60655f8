"""AdEMAMix: Adam whose step mixes a fast and a slow exponential moving average of the gradient."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_ratio, axpy, beta_param, ema_sq, is_zero, lerp, with_weight_decay
from optimizers.adan import debias, root
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, effective_gradient, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class AdEMAMixState(NamedTuple):
    m1: Tensor  # the fast EMA m₁ (β₁; pytorch-optimizer's exp_avg)
    v: Tensor  # the second moment ν (β₂; exp_avg_sq)
    m2: Tensor  # the slow EMA m₂ (β₃; exp_avg_slow), never bias-corrected
    denom: Tensor  # √ν/√(1 − β₂ᵗ) + ε, the denominator of the step just taken


def _as_tensor(x, like: Tensor) -> Tensor:
    return torch.as_tensor(x, dtype=like.dtype, device=like.device)


def alpha_schedule(alpha, t_warmup: int, step: int):
    """α_t = min(tα/T, α), or α without a warm-up (T = 0: the package's t_alpha_beta3=None)."""
    if not t_warmup:
        return alpha
    ramp = step * alpha / t_warmup
    return torch.minimum(ramp, alpha) if isinstance(alpha, Tensor) else min(ramp, alpha)


def beta3_schedule(beta1, beta3, t_warmup: int, step: int):
    """β₃,t = min(exp(ln β₁ ln β₃ / ((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃): from β₁ at t = 0 to β₃ at
    t = T, the half-life of the slow EMA growing linearly; β₃ without a warm-up. The package's
    schedule_beta3, in the same operation order (math.log/math.exp on floats)."""
    if not t_warmup:
        return beta3
    s = step / t_warmup
    if isinstance(beta1, Tensor) or isinstance(beta3, Tensor):
        like = beta1 if isinstance(beta1, Tensor) else beta3
        log1, log3 = torch.log(_as_tensor(beta1, like)), torch.log(_as_tensor(beta3, like))
        return torch.minimum(torch.exp(log1 * log3 / ((1.0 - s) * log3 + s * log1)), _as_tensor(beta3, like))
    log1, log3 = math.log(beta1), math.log(beta3)
    return min(math.exp(log1 * log3 / ((1.0 - s) * log3 + s * log1)), beta3)


def ademamix_rule(hp: dict) -> Rule:
    r"""AdEMAMix: m₁ ← β₁m₁ + (1 − β₁)g,  m₂ ← β₃,ₜm₂ + (1 − β₃,ₜ)g,  ν ← β₂ν + (1 − β₂)g²,
    w ← w − η (m̂₁ + α_t m₂)/(√ν̂ + ε), with m̂₁ = m₁/(1 − β₁ᵗ), ν̂ = ν/(1 − β₂ᵗ) and, over a
    warm-up of T steps, α_t = min(tα/T, α) and β₃,ₜ = min(exp(ln β₁ ln β₃/((1 − t/T) ln β₃ + (t/T) ln β₁)), β₃).

    Pagliardini, Ablin & Grangier (2024), The AdEMAMix Optimizer: Better, Faster, Older
    (arXiv:2409.03137), Algorithm 1: Adam's fast EMA m₁ keeps the step responsive, the slow EMA m₂
    (β₃ = 0.9999: a memory of about 10⁴ steps) keeps old gradients, weighted α. The slow EMA is not
    bias-corrected, as in the paper. Matches pytorch-optimizer 4.1.0's AdEMAMix (foreach=False; its
    foreach path too, tested) bit for bit. Differences from the paper:

    * weight decay: the paper decays decoupled, w ← w − η(… + λw) (the package's
      weight_decouple=True, which shrinks w by (1 − ηλ) before the step; with fixed_decay by
      (1 − λ)); the package's default, kept here, adds λw to the gradient (L2), so the moments see it;
    * the warm-ups: the paper's T_α and T_β₃ are one T here, as in the package (t_alpha_beta3); the
      paper sets it to the length of training. T = 0 means no warm-up (the package's None);
    * α_t and β₃,ₜ depend on the step number only: they are computed on the host in per_step,
      exactly as the package computes them (Python floats), so the rule stays element-wise.

    On a short 2-D run the default β₃ = 0.9999 keeps m₂ small (after t steps it holds a fraction
    1 − β₃ᵗ of the gradient: 2 % after 200 steps), so the path is close to Adam's; a smaller β₃ shows
    the slow momentum. The package's options for whole networks stay at their defaults and are not
    offered: cautious (masking by the sign of the gradient), stable_adamw (an RMS over a whole
    tensor), maximize.
    """
    b1, b2, b3, eps, wd = hp["beta1"], hp["beta2"], hp["beta3"], hp["eps"], hp["weight_decay"]
    alpha, t_warmup = hp["alpha"], hp["t_alpha_beta3"]
    decouple, fixed = hp["weight_decouple"], hp["fixed_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return AdEMAMixState(zeros, zeros, zeros, torch.ones_like(params))

    def per_step(lr, step):
        return (
            debias(b1, step),
            root(debias(b2, step)),
            alpha_schedule(alpha, t_warmup, step),
            beta3_schedule(b1, b3, t_warmup, step),
        )

    def update(grad, state, params, lr, values):
        bias_correction1, bias_correction2_sqrt, alpha_t, beta3_t = values
        g = grad
        if decouple and not is_zero(wd):
            params = params * (1.0 - wd * (1.0 if fixed else lr))
        elif not decouple:
            g = with_weight_decay(grad, params, wd)
        m1 = lerp(state.m1, g, 1.0 - b1)
        v = ema_sq(state.v, g, b2)
        m2 = lerp(state.m2, g, 1.0 - beta3_t)
        denom = v.sqrt() / bias_correction2_sqrt + eps
        mix = axpy(m1 / bias_correction1, m2, alpha_t)  # exp_avg.div(bc1).add_(exp_avg_slow, alpha=α_t)
        return add_ratio(params, mix, denom, -lr), AdEMAMixState(m1, v, m2, denom)

    def effective_lr(state, lr):
        return lr * state.denom.reciprocal()

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


def explain_ademamix(v):
    e = begin(v)
    b1, b2, wd = v.hp["beta1"], v.hp["beta2"], v.hp["weight_decay"]
    alpha, t_warmup = v.hp["alpha"], v.hp["t_alpha_beta3"]
    a = v.state_after
    bias_correction1, bias_correction2_sqrt, alpha_t, beta3_t = v.values
    if v.hp["weight_decouple"]:
        g_name = "g"
        if wd:
            shrink = 1 - wd if v.hp["fixed_decay"] else 1 - v.lr * wd
            form = "(1 − λ), fixed: without η" if v.hp["fixed_decay"] else "(1 − ηλ)"
            e.say(f"Decoupled weight decay: w first shrinks ×{form} = ×{fmt(shrink, 6)}; the averages see g alone.")
    else:
        effective_gradient(e, v, wd)
        g_name = "(g + λw)" if wd else "g"
    e.say(f"Fast EMA m₁ = {fmt(b1)}·m₁ + {fmt(1 - b1, 2)}·{g_name} = {e.show('state.m1', a.m1)}.")
    b3t = e.number("beta3_t", beta3_t, 6)
    if t_warmup:
        when = "on its" if v.step < t_warmup else "at the end of its" if v.step == t_warmup else "after its"
        e.say(
            f"Slow EMA with β₃,ₜ = {b3t}, {when} warm-up from β₁ to β₃ = {fmt(v.hp['beta3'], 6)} over "
            f"T = {t_warmup} steps: m₂ = β₃,ₜ·m₂ + (1 − β₃,ₜ)·{g_name} = {e.show('state.m2', a.m2)}."
        )
    else:
        e.say(f"Slow EMA with β₃ = {b3t}: m₂ = β₃·m₂ + (1 − β₃)·{g_name} = {e.show('state.m2', a.m2)}.")
    e.say(f"Second moment ν = {fmt(b2)}·ν + {fmt(1 - b2, 2)}·{g_name}² = {e.show('state.v', a.v)}.")
    bc1 = e.number("bias_correction1", bias_correction1)
    bc2 = e.number("bias_correction2_sqrt", bias_correction2_sqrt)
    at = e.number("alpha_t", alpha_t)
    if t_warmup:
        weight = f"α_t = min(tα/T, α) = {at} (α = {fmt(float(alpha))})"
    else:
        weight = f"α = {at}"
    m1_hat = a.m1 / bias_correction1
    mix = axpy(m1_hat, a.m2, alpha_t)
    e.say(
        f"Mixed momentum m̂₁ + α_t·m₂ = {e.show('mix', mix)}: m̂₁ = m₁/(1 − β₁ᵗ) with 1 − β₁ᵗ = {bc1}, "
        f"the slow EMA uncorrected, weighted {weight}."
    )
    e.say(
        f"Per-coordinate factor η/(√ν̂ + ε) = {e.show('effective_lr', v.lr * a.denom.reciprocal())}, "
        f"with √ν̂ = √ν/√(1 − β₂ᵗ) and √(1 − β₂ᵗ) = {bc2}."
    )
    e.arrow("−ηm̂₁/(√ν̂+ε)", -v.lr * m1_hat / a.denom)
    e.arrow("−ηα_t·m₂/(√ν̂+ε)", -v.lr * alpha_t * a.m2 / a.denom)
    if wd and v.hp["weight_decouple"]:
        return finish(e, v, f"Step (the weight decay included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −factor·(m̂₁ + α_t·m₂) = {e.show('step', v.move)}.")


def _twin_kwargs(hp: dict) -> dict:
    return dict(
        lr=hp["lr"],
        betas=(hp["beta1"], hp["beta2"], hp["beta3"]),
        weight_decay=hp["weight_decay"],
        weight_decouple=hp["weight_decouple"],
        fixed_decay=hp["fixed_decay"],
        alpha=hp["alpha"],
        t_alpha_beta3=hp["t_alpha_beta3"] or None,
        eps=hp["eps"],
    )


ADEMAMIX = OptimizerSpec(
    key="ademamix",
    name="AdEMAMix",
    family="adam",
    build=ademamix_rule,
    torch_twin=TorchTwin("AdEMAMix", _twin_kwargs, module="pytorch_optimizer"),
    params=(
        lr_param(0.05),
        beta_param(
            "beta1",
            0.9,
            "β₁ (fast EMA)",
            "Memory of the fast average m₁, Adam's momentum; the slow EMA's warm-up starts from it.",
            r"\beta_1",
            low=0.5,
        ),
        beta_param(
            "beta2",
            0.999,
            "β₂ (second moment)",
            "Memory of the squared-gradient average ν.",
            r"\beta_2",
            low=0.5,
            high=0.9999,
        ),
        beta_param(
            "beta3",
            0.9999,
            "β₃ (slow EMA)",
            "Memory of the slow average m₂: about 1/(1 − β₃) steps (10⁴ by default, more than a toy run).",
            r"\beta_3",
            low=0.9,
            high=0.9999,
        ),
        Param(
            "alpha",
            5.0,
            0.0,
            20.0,
            label="slow weight α",
            help="Weight of the slow EMA in the step (α = 0: Adam).",
            latex=r"\alpha",
        ),
        Param(
            "t_alpha_beta3",
            0,
            0,
            2000,
            kind="int",
            label="warm-up T",
            help="Steps over which α grows from 0 and β₃ from β₁ (0: no warm-up, the package's None).",
            latex="T",
        ),
        eps_param(1e-8, help="Added to √ν̂ in the denominator."),
        weight_decay_param(help="L2 penalty added to the gradient (λw), or decoupled (see below)."),
        Param(
            "weight_decouple",
            False,
            label="decoupled decay",
            kind="bool",
            help="Shrink w by (1 − ηλ) before the step (the paper's, AdamW's form) instead of adding λw to g.",
        ),
        Param(
            "fixed_decay",
            False,
            label="fixed decay",
            kind="bool",
            help="With decoupled decay: shrink by (1 − λ), not scaled by η.",
        ),
    ),
    latex=(
        r"m_{1,t} = \beta_1 m_{1,t-1} + (1-\beta_1) g_t,\ m_{2,t} = \beta_{3,t} m_{2,t-1} + (1-\beta_{3,t}) g_t,\ "
        r"\nu_t = \beta_2 \nu_{t-1} + (1-\beta_2) g_t^2,\ "
        r"w_{t+1} = w_t - \eta\,\frac{m_{1,t}/(1-\beta_1^t) + \alpha_t m_{2,t}}"
        r"{\sqrt{\nu_t/(1-\beta_2^t)} + \varepsilon},\ "
        r"g_t = \nabla f(w_t) + \lambda w_t;\ "
        r"\alpha_t = \min\!\left(\tfrac{t\alpha}{T}, \alpha\right),\ "
        r"\beta_{3,t} = \min\!\left(\exp\frac{\ln\beta_1 \ln\beta_3}"
        r"{(1-\frac{t}{T})\ln\beta_3 + \frac{t}{T}\ln\beta_1},"
        r"\ \beta_3\right)\ (T = 0:\ \alpha_t = \alpha,\ \beta_{3,t} = \beta_3);\ "
        r"\text{decoupled: } g_t = \nabla f(w_t),\ w_t \leftarrow (1-\eta\lambda) w_t\ \text{first}"
        r"\ (\text{fixed: } 1-\lambda)"
    ),
    reference="Pagliardini, Ablin & Grangier (2024), The AdEMAMix Optimizer: Better, Faster, Older; "
    "pytorch-optimizer AdEMAMix",
    summary="Adam plus a slowly decaying second momentum that remembers gradients from long ago.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√ν̂ + ε), the factor on m̂₁ + α_t m₂",
    explain=explain_ademamix,
    color="#999999",
    state_labels={"m1": "fast EMA m₁", "m2": "slow EMA m₂", "v": "second moment ν"},
)
