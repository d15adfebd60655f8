"""Adam and its relatives: AMSGrad, AdamW, NAdam, Adamax, RAdam, AdaBound."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_ratio, add_scaled, beta_param, clamp, ema_sq, is_zero, lerp, with_weight_decay
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, effective_gradient, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class Moments(NamedTuple):
    m: Tensor
    v: Tensor
    v_max: Tensor  # AMSGrad's running maximum of v (unused by plain Adam)
    denom: Tensor  # the per-coordinate denominator of the last step


def _moments(params):
    zeros = torch.zeros_like(params)
    return Moments(zeros, zeros, zeros, torch.ones_like(params))


def _sqrt(x):
    return x.sqrt() if isinstance(x, Tensor) else math.sqrt(x)


def adam_rule(hp: dict, amsgrad: bool = False, decoupled: bool = False, bias_correction: bool = True) -> Rule:
    r"""Adam: m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
    w ← w − η · m̂ / (√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ).

    Kingma & Ba (2015). Matches torch.optim.Adam, which computes the denominator as
    √v/√(1 − β₂ᵗ) + ε: ε sits outside the root (the notes 001/002 put it inside, √(v̂ + ε)).
    AMSGrad (Reddi et al., 2018) divides by the running maximum of v instead: torch's
    Adam(amsgrad=True). AdamW (Loshchilov & Hutter, 2019) shrinks w by (1 − ηλ) before the step
    instead of adding λw to the gradient: torch.optim.AdamW.
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]

    def per_step(lr, step):
        if not bias_correction:
            return lr, 1.0
        return lr / (1 - b1**step), (1 - b2**step) ** 0.5  # torch.optim: pow, not sqrt

    def update(grad, state, params, lr, values):
        step_size, bc2_sqrt = values
        g = grad if decoupled else with_weight_decay(grad, params, wd)
        m = lerp(state.m, g, 1 - b1)
        v = ema_sq(state.v, g, b2)
        v_max = torch.maximum(state.v_max, v) if amsgrad else state.v_max
        denom = (v_max if amsgrad else v).sqrt() / bc2_sqrt + eps
        if decoupled and not is_zero(wd):
            params = params * (1 - lr * wd)
        return add_ratio(params, m, denom, -step_size), Moments(m, v, v_max, denom)

    def effective_lr(state, lr):
        return lr * state.denom.reciprocal()

    return Rule(_moments, update, effective_lr=effective_lr, per_step=per_step)


def amsgrad_rule(hp: dict) -> Rule:
    r"""AMSGrad: Adam dividing by the running maximum of v, so no coordinate's step can grow:
    v_max ← max(v_max, v),  w ← w − η · m̂ / (√(v_max/(1 − β₂ᵗ)) + ε).

    Reddi, Kale & Kumar (2018), On the convergence of Adam and beyond. Matches
    torch.optim.Adam(amsgrad=True), which takes the maximum of the raw v (not of v̂).
    """
    return adam_rule(hp, amsgrad=True)


def adamw_rule(hp: dict) -> Rule:
    r"""AdamW: Adam with decoupled weight decay, w ← (1 − ηλ)w before the Adam step.

    Loshchilov & Hutter (2019), Decoupled weight decay regularization. Matches
    torch.optim.AdamW; plain Adam's weight_decay instead adds λw to the gradient.
    """
    return adam_rule(hp, decoupled=True)


def adam_uncorrected_rule(hp: dict) -> Rule:
    r"""Adam without bias correction, for teaching only: w ← w − η m/(√v + ε).

    Kingma & Ba (2015), §3 explains why the correction is needed: m and v start at 0, so early
    m is too small by (1 − β₁ᵗ) and v by (1 − β₂ᵗ). Not in the registry: the bias-correction
    page compares it with Adam.
    """
    return adam_rule(hp, bias_correction=False)


class NAdamState(NamedTuple):
    m: Tensor
    v: Tensor
    mu_product: float | Tensor  # a float unless β₁ is swept: float / tensor is not correctly rounded
    denom: Tensor


def nadam_rule(hp: dict) -> Rule:
    r"""NAdam: Adam with Nesterov momentum and Dozat's momentum schedule
    μ_t = β₁(1 − ½·0.96^(tψ)):
    w ← w − η(1 − μ_t)/(1 − Πμ) · g/(√v̂ + ε) − η μ_{t+1}/(1 − Πμ·μ_{t+1}) · m/(√v̂ + ε).

    Dozat (2016), "Incorporating Nesterov momentum into Adam"; matches torch.optim.NAdam.
    """
    b1, b2, eps, wd, psi = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"], hp["momentum_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return NAdamState(zeros, zeros, 1.0, torch.ones_like(params))

    def per_step(lr, step):
        bias_correction2 = 1 - b2**step
        mu = b1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        return bias_correction2, mu, mu_next

    def update(grad, state, params, lr, values):
        bias_correction2, mu, mu_next = values
        g = with_weight_decay(grad, params, wd)
        mu_product = state.mu_product * mu
        m = lerp(state.m, g, 1 - b1)
        v = ema_sq(state.v, g, b2)
        denom = (v / bias_correction2).sqrt() + eps
        mu_product_next = mu_product * mu_next
        new = add_ratio(params, g, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        new = add_ratio(new, m, denom, (-lr * mu_next) / (1.0 - mu_product_next))
        return new, NAdamState(m, v, mu_product, denom)

    def effective_lr(state, lr):
        return lr * state.denom.reciprocal()

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


class AdamaxState(NamedTuple):
    m: Tensor
    u: Tensor


def adamax_rule(hp: dict) -> Rule:
    r"""Adamax: m ← β₁m + (1 − β₁)g,  u ← max(β₂u, |g| + ε),  w ← w − η/(1 − β₁ᵗ) · m/u.

    The infinity-norm variant of Kingma & Ba (2015), §7.1; matches torch.optim.Adamax
    (which adds ε to |g| inside the max).
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return AdamaxState(zeros, zeros)

    def per_step(lr, step):
        return (lr / (1 - b1**step),)

    def update(grad, state, params, lr, values):
        (clr,) = values
        g = with_weight_decay(grad, params, wd)
        m = lerp(state.m, g, 1 - b1)
        u = torch.maximum(state.u * b2, g.abs() + eps)
        return add_ratio(params, m, u, -clr), AdamaxState(m, u)

    def effective_lr(state, lr):
        return lr * state.u.reciprocal()

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


class RAdamState(NamedTuple):
    m: Tensor
    v: Tensor
    factor: Tensor  # what multiplies m̂ in the last step, over η


def radam_rule(hp: dict) -> Rule:
    r"""RAdam: Adam whose adaptive factor is switched on only once the variance of v̂ is tractable.

    ρ∞ = 2/(1 − β₂) − 1,  ρ_t = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ).  If ρ_t > 5:
    w ← w − η r_t m̂ √(1 − β₂ᵗ)/(√v + ε) with r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t));
    else w ← w − η m̂ (momentum SGD with bias correction).

    Liu et al. (2020), "On the variance of the adaptive learning rate and beyond". The paper's
    Algorithm 2 switches at ρ_t > 4; the authors' code (LiyuanLucasLiu/RAdam) at N_sma ≥ 5;
    torch.optim.RAdam, matched here, at ρ_t > 5.
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return RAdamState(zeros, zeros, torch.ones_like(params))

    def per_step(lr, step):
        bias_correction2 = 1 - b2**step
        rho_t = 2 / (1 - b2) - 1 - 2 * step * (b2**step) / bias_correction2
        return 1 - b1**step, bias_correction2, rho_t

    def update(grad, state, params, lr, values):
        bias_correction1, bias_correction2, rho_t = values
        g = with_weight_decay(grad, params, wd)
        m = lerp(state.m, g, 1 - b1)
        v = ema_sq(state.v, g, b2)
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - b2) - 1
        adaptive = (bias_correction2**0.5) / (v.sqrt() + eps)
        if isinstance(rho_t, Tensor):  # β₂ swept over runs: choose per run
            safe = torch.clamp(rho_t, min=5.0)
            rect = ((safe - 4) * (safe - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe)).sqrt()
            factor = torch.where(rho_t > 5.0, adaptive * rect, torch.ones_like(adaptive))
            new = params - m_hat * lr * factor
        elif rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            factor = adaptive * rect
            new = add_scaled(params, m_hat * lr * adaptive * rect, -1.0)
        else:
            factor = torch.ones_like(adaptive)
            new = add_scaled(params, m_hat * lr, -1.0)
        return new, RAdamState(m, v, factor)

    def effective_lr(state, lr):
        return lr * state.factor

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


class AdaBoundState(NamedTuple):
    m: Tensor
    v: Tensor
    eta: Tensor  # the clipped per-coordinate step size of the last step


def adabound_rule(hp: dict) -> Rule:
    r"""AdaBound: Adam whose per-coordinate step size is clipped into a band that closes on a
    final SGD learning rate η*:

    η̂_t = clip(η √(1 − β₂ᵗ)/(1 − β₁ᵗ) / (√v + ε),  η*(1 − 1/(γt + 1)),  η*(1 + 1/(γt))),
    w ← w − η̂_t ⊙ m,   with η* = final_lr · η_t/η_0 (the band follows a schedule).

    Luo et al. (2019), ICLR, and the authors' reference implementation (Luolc/AdaBound): the
    paper's algorithm has neither ε nor bias correction; √v + ε and the bias-corrected step size
    come from that code, whose weight decay is L2 (added to the gradient). pytorch-optimizer's
    AdaBound matches this with weight_decouple=False except for an extra 1e-15 inside the root (√(v + 1e-15) + ε), which
    changes late steps when v is tiny; gradscape keeps the reference code's √v + ε (tested both ways).
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]
    final_lr, gamma = hp["final_lr"], hp["gamma"]
    base = hp["lr"]

    def init(params):
        zeros = torch.zeros_like(params)
        return AdaBoundState(zeros, zeros, torch.ones_like(params))

    def per_step(lr, step):
        step_size = lr * _sqrt(1 - b2**step) / (1 - b1**step)
        final = final_lr * lr / base  # η₀ = the unscheduled lr, as the reference code's base_lrs
        return step_size, final * (1 - 1 / (gamma * step + 1)), final * (1 + 1 / (gamma * step))

    def update(grad, state, params, lr, values):
        step_size, lower, upper = values
        g = with_weight_decay(grad, params, wd)
        m = lerp(state.m, g, 1 - b1)
        v = ema_sq(state.v, g, b2)
        denom = v.sqrt() + eps
        # A float over a tensor is computed as float·(1/tensor) in torch; divide tensors instead.
        eta = clamp((step_size if isinstance(step_size, Tensor) else denom.new_tensor(step_size)) / denom, lower, upper)
        return params - eta * m, AdaBoundState(m, v, eta)

    def effective_lr(state, lr):
        return state.eta

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step)


def _moments_sentences(e, v, g_name: str) -> None:
    b1, b2 = v.hp["beta1"], v.hp["beta2"]
    a = v.state_after
    e.say(f"First moment m decays ×{fmt(b1)} and takes {fmt(1 - b1)}·{g_name}: m = {e.show('state.m', a.m)}.")
    if hasattr(a, "v"):
        e.say(f"Second moment v = {fmt(b2)}·v + {fmt(1 - b2, 2)}·{g_name}² = {e.show('state.v', a.v)}.")


def _gradient_used(e, v, decoupled: bool = False) -> str:
    wd = v.hp["weight_decay"]
    if decoupled:
        if wd:
            e.say(
                f"Decoupled weight decay: w first shrinks ×(1 − ηλ) = ×{fmt(1 - v.lr * wd)}; the moments see g alone."
            )
        return "g"
    effective_gradient(e, v, wd)
    return "(g + λw)" if wd else "g"


def explain_adam(v, amsgrad: bool = False, decoupled: bool = False):
    e = begin(v)
    g_name = _gradient_used(e, v, decoupled)
    _moments_sentences(e, v, g_name)
    # The corrections per_step folded into the step size (η/(1 − β₁ᵗ)) and the root (√(1 − β₂ᵗ)).
    bc1 = 1 - v.hp["beta1"] ** v.step
    bc2 = 1 - v.hp["beta2"] ** v.step
    e.facts.update(bias_correction1=bc1, bias_correction2=bc2)
    e.say(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = m × {fmt(1 / bc1)}; v̂ = v/(1 − β₂ᵗ) = v × {fmt(1 / bc2)}.")
    if amsgrad:
        e.say(
            f"AMSGrad divides by the largest v so far: v_max = {e.show('state.v_max', v.state_after.v_max)} "
            "(with the bias correction above, the factor η/(√(v_max/(1 − β₂ᵗ)) + ε) can still grow)."
        )
    eff = e.show("effective_lr", v.lr * v.state_after.denom.reciprocal())
    root = "√(v_max/(1 − β₂ᵗ))" if amsgrad else "√(v/(1 − β₂ᵗ))"
    e.say(f"Per-coordinate factor η/({root} + ε) = {eff}.")
    e.arrow("−ηm̂", -v.lr * v.state_after.m / (1 - v.hp["beta1"] ** v.step))
    return finish(e, v, f"Step = −factor·m̂ = {e.show('step', v.move)}.")


def explain_amsgrad(v):
    return explain_adam(v, amsgrad=True)


def explain_adamw(v):
    return explain_adam(v, decoupled=True)


def explain_nadam(v):
    e = begin(v)
    g_name = _gradient_used(e, v)
    _moments_sentences(e, v, g_name)
    bias_correction2, mu, mu_next = v.values
    e.facts.update(bias_correction1=1 - v.hp["beta1"] ** v.step, bias_correction2=bias_correction2)
    e.say(
        f"NAdam's momentum schedule μ_t = {e.number('mu_t', mu)}, μ_t+1 = {e.number('mu_next', mu_next)} "
        f"weights {g_name} and m (not 1/(1 − β₁ᵗ)); v̂ = v/(1 − β₂ᵗ) = v × {fmt(1 / bias_correction2)}."
    )
    e.say(
        f"Per-coordinate factor η/(√(v/(1 − β₂ᵗ)) + ε) = "
        f"{e.show('effective_lr', v.lr * v.state_after.denom.reciprocal())}."
    )
    return finish(e, v, f"Step = {e.show('step', v.move)}.")


def explain_adamax(v):
    e = begin(v)
    g_name = _gradient_used(e, v)
    b2 = v.hp["beta2"]
    _moments_sentences(e, v, g_name)
    e.say(f"Adamax keeps u = max({fmt(b2)}·u, |{g_name}| + ε) = {e.show('state.u', v.state_after.u)}.")
    (clr,) = v.values  # η/(1 − β₁ᵗ)
    bc1 = 1 - v.hp["beta1"] ** v.step
    e.facts.update(bias_correction1=bc1, bias_correction2=1 - b2**v.step)
    e.say(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = m × {fmt(1 / bc1)} (u needs none: a maximum is not biased to 0).")
    e.arrow("−ηm̂", -clr * v.state_after.m)
    return finish(e, v, f"Step = −η·m̂/u = {e.show('step', v.move)}.")


def explain_radam(v):
    e = begin(v)
    g_name = _gradient_used(e, v)
    _moments_sentences(e, v, g_name)
    bias_correction1, bias_correction2, rho_t = v.values
    e.facts.update(bias_correction1=bias_correction1, bias_correction2=bias_correction2)
    rho = e.number("rho_t", rho_t, 4)
    m_hat = v.state_after.m / bias_correction1
    e.say(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = {e.show('m_hat', m_hat)}.")
    if rho_t > 5.0:
        e.say(
            f"ρ_t = {rho} > 5: the adaptive factor is used, rectified: factor η·r_t·√(1 − β₂ᵗ)/(√v + ε) = "
            f"{e.show('effective_lr', v.lr * v.state_after.factor)} (about η·r_t/√v̂, v̂ = v/(1 − β₂ᵗ) = "
            f"v × {fmt(1 / bias_correction2)})."
        )
    else:
        e.say(
            f"ρ_t = {rho} ≤ 5: the variance of the adaptive factor is not yet tractable, so this is a momentum step with bias "  # noqa: E501
            "correction (v is updated but not used)."
        )
    e.arrow("−ηm̂", -v.lr * m_hat)
    return finish(e, v, f"Step = {e.show('step', v.move)}.")


def explain_adabound(v):
    e = begin(v)
    g_name = _gradient_used(e, v)
    _moments_sentences(e, v, g_name)
    step_size, lower, upper = v.values
    e.facts.update(
        band=(float(lower), float(upper)),
        bias_correction1=1 - v.hp["beta1"] ** v.step,
        bias_correction2=1 - v.hp["beta2"] ** v.step,
    )
    e.say(
        f"Adam's step size η√(1 − β₂ᵗ)/(1 − β₁ᵗ)/(√v + ε) (about η/((1 − β₁ᵗ)√v̂), v̂ = v/(1 − β₂ᵗ) = "
        f"v × {fmt(1 / (1 - v.hp['beta2'] ** v.step))}) is clipped per coordinate into "
        f"[{fmt(float(lower))}, {fmt(float(upper))}]: η̂ = {e.show('state.eta', v.state_after.eta)}."
    )
    return finish(e, v, f"Step = −η̂ ⊙ m = {e.show('step', v.move)}.")


_BETA1 = dict(label="β₁ (first moment)", help="Memory of the gradient average (momentum).", latex=r"\beta_1")
_BETA2 = dict(
    label="β₂ (second moment)", help="Memory of the squared-gradient average.", latex=r"\beta_2", low=0.5, high=0.9999
)
_EPS_HELP = "Added to √v̂ in the denominator; large values turn the method into momentum SGD."


def adam_params(lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, wd_help=None):
    wd = weight_decay_param(weight_decay, help=wd_help) if wd_help else weight_decay_param(weight_decay)
    return (
        lr_param(lr),
        beta_param("beta1", beta1, **_BETA1),
        beta_param("beta2", beta2, **_BETA2),
        eps_param(eps, help=_EPS_HELP),
        wd,
    )


def _adam_kwargs(hp: dict) -> dict:
    return dict(lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=hp["weight_decay"])


_MOMENTS_LATEX = r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2"
_HATS_LATEX = r"\hat m_t = \frac{m_t}{1-\beta_1^t},\ \hat v_t = \frac{v_t}{1-\beta_2^t}"
_L2_LATEX = r"g_t = \nabla f(w_t) + \lambda w_t"
_ADAM_LATEX = (
    _MOMENTS_LATEX + r",\ " + _HATS_LATEX + r",\ "
    r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\hat v_t} + \varepsilon}\, \hat m_t,\quad " + _L2_LATEX
)

ADAM = OptimizerSpec(
    key="adam",
    name="Adam",
    family="adam",
    build=adam_rule,
    torch_twin=TorchTwin("Adam", _adam_kwargs),
    params=adam_params(),
    latex=_ADAM_LATEX,
    reference="Kingma & Ba (2015), Adam: a method for stochastic optimization; torch.optim.Adam",
    summary="Momentum on the gradient, divided per coordinate by the root of its second moment.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√v̂ + ε), the factor on m̂",
    explain=explain_adam,
    color="#E69F00",
)

AMSGRAD = OptimizerSpec(
    key="amsgrad",
    name="AMSGrad",
    family="adam",
    build=amsgrad_rule,
    torch_twin=TorchTwin("Adam", lambda hp: dict(_adam_kwargs(hp), amsgrad=True)),
    params=adam_params(),
    latex=(
        _MOMENTS_LATEX + r",\ v^{\max}_t = \max(v^{\max}_{t-1}, v_t),\ \hat m_t = \frac{m_t}{1-\beta_1^t},\ "
        r"w_{t+1} = w_t - \frac{\eta}{\sqrt{v^{\max}_t/(1-\beta_2^t)} + \varepsilon}\, \hat m_t,\quad " + _L2_LATEX
    ),
    reference="Reddi, Kale & Kumar (2018), On the convergence of Adam and beyond; torch.optim.Adam(amsgrad=True)",
    summary="Adam dividing by the largest v seen so far: a coordinate's raw denominator never shrinks.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√(v_max/(1−β₂ᵗ)) + ε)",
    explain=explain_amsgrad,
    color="#882255",
)

ADAMW = OptimizerSpec(
    key="adamw",
    name="AdamW",
    family="adam",
    build=adamw_rule,
    torch_twin=TorchTwin("AdamW", _adam_kwargs),
    params=adam_params(weight_decay=0.01, wd_help="Decoupled decay: w shrinks by (1 − ηλ) each step."),
    latex=_ADAM_LATEX.replace(r"w_{t+1} = w_t", r"w_{t+1} = (1 - \eta\lambda) w_t"),
    reference="Loshchilov & Hutter (2019), Decoupled weight decay regularization; torch.optim.AdamW",
    summary="Adam with weight decay applied to w directly instead of through the gradient.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√v̂ + ε), the factor on m̂",
    explain=explain_adamw,
    color="#997700",
)

NADAM = OptimizerSpec(
    key="nadam",
    name="NAdam",
    family="adam",
    build=nadam_rule,
    torch_twin=TorchTwin("NAdam", lambda hp: dict(_adam_kwargs(hp), momentum_decay=hp["momentum_decay"])),
    params=adam_params()
    + (
        Param(
            "momentum_decay",
            4e-3,
            1e-4,
            1e-1,
            log=True,
            label="momentum decay ψ",
            help="Speed of Dozat's momentum warm-up μ_t.",
            latex=r"\psi",
        ),
    ),
    latex=(
        _MOMENTS_LATEX
        + r",\ \hat v_t = \frac{v_t}{1-\beta_2^t},\ \mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right),\ "
        r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\hat v_t} + \varepsilon}\left(\frac{(1-\mu_t) g_t}{1-\prod_{i\le t}\mu_i}"
        r" + \frac{\mu_{t+1} m_t}{1 - \prod_{i\le t+1}\mu_i}\right),\quad " + _L2_LATEX
    ),
    reference="Dozat (2016), Incorporating Nesterov momentum into Adam; torch.optim.NAdam",
    summary="Adam with Nesterov's look-ahead folded into the momentum term.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√v̂ + ε)",
    explain=explain_nadam,
    color="#AA4499",
)

ADAMAX = OptimizerSpec(
    key="adamax",
    name="Adamax",
    family="adam",
    build=adamax_rule,
    torch_twin=TorchTwin("Adamax", _adam_kwargs),
    params=adam_params(),
    latex=(
        r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ u_t = \max(\beta_2 u_{t-1}, |g_t| + \varepsilon),\ "
        r"w_{t+1} = w_t - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t},\quad " + _L2_LATEX
    ),
    reference="Kingma & Ba (2015), §7.1 AdaMax; torch.optim.Adamax",
    summary="Adam with the infinity norm: divides by a decaying maximum of |g| instead of an RMS.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / u, the factor on m̂",
    explain=explain_adamax,
    color="#6699CC",
)

RADAM = OptimizerSpec(
    key="radam",
    name="RAdam",
    family="adam",
    build=radam_rule,
    torch_twin=TorchTwin("RAdam", _adam_kwargs),
    params=adam_params(),
    latex=(
        _MOMENTS_LATEX + r",\ \hat m_t = \frac{m_t}{1-\beta_1^t},\ \rho_\infty = \frac{2}{1-\beta_2} - 1,\ "
        r"\rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t},\ "
        r"r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}};\ \rho_t > 5:\ "
        r"w_{t+1} = w_t - \eta\, r_t \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \varepsilon}\hat m_t,"
        r"\ \text{else } w_{t+1} = w_t - \eta\, \hat m_t;\quad " + _L2_LATEX
    ),
    reference="Liu et al. (2020), On the variance of the adaptive learning rate and beyond; torch.optim.RAdam",
    summary="Adam with a built-in warm-up: plain momentum until the second moment can be trusted.",
    effective_lr_kind="diagonal",
    effective_lr_note="η r_t √(1−β₂ᵗ)/(√v + ε) once rectified, η before",
    explain=explain_radam,
    color="#CC6677",
)

ADABOUND = OptimizerSpec(
    key="adabound",
    name="AdaBound",
    family="adam",
    build=adabound_rule,
    params=adam_params()
    + (
        Param(
            "final_lr",
            0.1,
            1e-3,
            1.0,
            log=True,
            label="final lr η*",
            help="The SGD learning rate the clipping band closes on.",
            latex=r"\eta^*",
        ),
        Param(
            "gamma",
            1e-3,
            1e-5,
            1e-1,
            log=True,
            label="band speed γ",
            help="How fast the band narrows: about 1/γ steps.",
            latex=r"\gamma",
        ),
    ),
    latex=(
        r"\hat\eta_t = \operatorname{clip}\!\left(\frac{\eta\sqrt{1-\beta_2^t}}{(1-\beta_1^t)(\sqrt{v_t}+\varepsilon)},"
        r"\ \eta^*\!\left(1-\tfrac{1}{\gamma t+1}\right),\ \eta^*\!\left(1+\tfrac{1}{\gamma t}\right)\right),"
        r"\quad w_{t+1} = w_t - \hat\eta_t \odot m_t,\quad " + _MOMENTS_LATEX + r",\ " + _L2_LATEX
    ),
    reference="Luo, Xiong, Liu & Sun (2019), Adaptive gradient methods with dynamic bound of learning rate; "
    "reference code Luolc/AdaBound",
    summary="Adam at first, SGD in the end: the per-coordinate step is clipped into a narrowing band.",
    effective_lr_kind="diagonal",
    effective_lr_note="the clipped step size η̂ (the factor on m)",
    explain=explain_adabound,
    color="#44AA99",
)

# A teaching variant, deliberately not registered (see optimizers/__init__.py): used by the page on
# Adam's bias correction.
ADAM_UNCORRECTED = OptimizerSpec(
    key="adam_uncorrected",
    name="Adam without bias correction",
    family="adam",
    build=adam_uncorrected_rule,
    params=adam_params(),
    latex=r"w_{t+1} = w_t - \frac{\eta}{\sqrt{v_t} + \varepsilon}\, m_t",
    reference="Kingma & Ba (2015), §3 (what the correction fixes)",
    summary="Adam with m and v used as they are: tiny first steps when β₂ is close to 1.",
    effective_lr_kind="diagonal",
    effective_lr_note="η / (√v + ε)",
    explain=explain_adam,
)
