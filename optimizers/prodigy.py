"""Prodigy: Adam whose step size d is estimated from the run itself (a parameter-free learner)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import is_zero, select
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, effective_gradient, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class ProdigyState(NamedTuple):
    m: Tensor  # prodigyopt's exp_avg: the EMA of d·g (2, B)
    v: Tensor  # exp_avg_sq: the EMA of d²·g² (2, B)
    s: Tensor  # the EMA of (d/d₀)·dη·g (2, B), whose ℓ₁ norm is the denominator of d̂
    p0: Tensor  # the start point w₀ (2, B)
    d: Tensor  # (B,): the step-size estimate d after this step (the next step's d)
    d_max: Tensor  # (B,): the largest d̂ so far (d₀ at first)
    d_numerator: Tensor  # (B,): r = β₃r + (d/d₀)·dη·⟨g, w₀ − w⟩, the numerator of d̂
    d_denom: Tensor  # (B,): ‖s‖₁, the denominator of d̂
    d_hat: Tensor  # (B,): d̂ = d_coef·r/‖s‖₁ of this step (0 before the first step)
    delta: Tensor  # (B,): (d/d₀)·dη·⟨g, w₀ − w⟩, what this step added to the numerator
    dlr: Tensor  # (B,): the step size d·η (times the bias correction) of the step just taken; 0 if skipped


def _plus(a: Tensor, b: Tensor, alpha) -> Tensor:
    """a + alpha·b as prodigyopt's a.add_(b, alpha=...) rounds it: one fused multiply-add, which
    addcmul with a per-run tensor alpha also is (measured equal for float64 on the CPU)."""
    if isinstance(alpha, Tensor):
        return torch.addcmul(a, b, alpha)
    return torch.add(a, b, alpha=alpha)


def _max(a: Tensor, b: Tensor) -> Tensor:
    """Python's max(a, b) per run: b only where b > a (a NaN b keeps a, as max does)."""
    return torch.where(b > a, b, a)


def _sqrt(x):
    return x.sqrt() if isinstance(x, Tensor) else math.sqrt(x)


def prodigy_rule(hp: dict) -> Rule:
    r"""Prodigy: Adam with the step size d·η, where d estimates the distance to the solution.

    Each step, with the previous d (d₀ at first), dη = d·η (times √(1 − β₂ᵗ)/(1 − β₁ᵗ) with bias
    correction), β₃ = √β₂ and the start point w₀:
        m ← β₁m + d(1 − β₁)g,  v ← β₂v + d²(1 − β₂)g²,
        r ← β₃r + (d/d₀)·dη·⟨g, w₀ − w⟩,  s ← β₃s + (d/d₀)·dη·g,
        d̂ = d_coef·r/‖s‖₁,  d ← max(d, d̂),
        w ← w − dη·m/(√v + d·ε)   (the new d in the denominator, the old one in dη).
    With weight decay λ: g + λw (coupled), or w ← w − λ·dη·w before the step (decoupled).

    Mishchenko & Defazio (2023), Prodigy: An Expeditiously Adaptive Parameter-Free Learner
    (Algorithm 4, the Adam version). Matches prodigyopt 1.1.2 (`prodigyopt.Prodigy`, the authors'
    package) operation for operation, one optimizer per run (d is global over an optimizer's
    parameters: a run here is one (2,) parameter, and x and y are coupled through d). prodigyopt's
    scalars (d, r, ‖s‖₁, d̂) are Python floats in float64; here they are (B,) float64 tensors with the
    same operations in the same order, so a float64 run equals prodigyopt's to the last bit. What is
    fixed, and how prodigyopt differs from the paper:

    * the paper's r and s increments carry (1 − β₃)·λ_k·d_k²; prodigyopt's carry (d/d₀)·dη = d²η/d₀
      instead ("d/d₀ to avoid values that are too small"): both factors cancel in d̂ = r/‖s‖₁.
    * the denominator √v + d·ε uses the NEW d (prodigyopt); the paper's Algorithm 4 writes d_k·ε,
      the d the step started with. dη uses the step's own (old) d in both.
    * d ← max(d, d̂), as the paper writes it: prodigyopt keeps d_max = max(d_max, d̂), sets
      d = max(d, d̂) only while d = d₀, then d = min(d_max, d·growth_rate); with its default
      growth_rate = ∞ (kept here: a hyperparameter must be finite) that is d = d_max, the same.
    * β₃ = √β₂ (prodigyopt's beta3=None, the paper's choice); slice_p = 1 (every coordinate enters
      ⟨g, w₀ − w⟩ and ‖s‖₁: the exact method); fsdp_in_use does not apply.
    * weight decay: decoupled by default (w ← w − λ·dη·w, before the step), or coupled (g + λw).
    * safeguard_warmup drops η from s's increment ((d/d₀)·d·g): η < 1 early (a warm-up) then
      cannot inflate d̂.
    * when ‖s‖₁ = 0 (every gradient so far exactly 0) prodigyopt returns before the step: m, v, s
      are updated, nothing else (no move; d, r, its step counter unchanged). gradscape does the
      same per run, except for the step counter: bias correction uses the engine's step number,
      so a run whose first gradients were exactly 0 and later were not (possible only with
      gradient noise) would use a later t in √(1 − β₂ᵗ)/(1 − β₁ᵗ) than prodigyopt.
    * β₁ = 0: prodigyopt keeps no m and steps by −dη·d·g/(√v + dε) with the new d; so here.
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]
    d0, d_coef = hp["d0"], hp["d_coef"]
    decouple, bias_correction, safeguard = hp["decouple"], hp["use_bias_correction"], hp["safeguard_warmup"]
    beta3 = _sqrt(b2)

    def init(params):
        zeros = torch.zeros_like(params)
        row = zeros[0]
        d = row + d0
        return ProdigyState(zeros, zeros, zeros, params.clone(), d, d, row, row, row, row, row)

    def per_step(lr, step):
        # prodigyopt: ((1 − β₂^(k+1))^0.5)/(1 − β₁^(k+1)) with k the steps taken, else 1.
        if not bias_correction:
            return (1.0,)
        return (((1 - b2**step) ** 0.5) / (1 - b1**step),)

    def update(grad, state, params, lr, values):
        (bc,) = values
        d = state.d
        dlr = d * lr * bc
        numerator = state.d_numerator * beta3
        g = grad if decouple or is_zero(wd) else _plus(grad, params, wd)  # coupled decay: g + λw
        ratio = d / d0
        # torch.dot(g, p0 − p).item() is g₀(p0₀ − p₀) + g₁(p0₁ − p₁), as this sum over the coordinates.
        delta = 0.0 + ratio * dlr * (g * (state.p0 - params)).sum(0)
        m = _plus(state.m * b1, g, d * (1 - b1))
        v = torch.addcmul(state.v * b2, d * d * (1 - b2) * g, g)  # v.mul_(β₂).addcmul_(g, g, value=d²(1 − β₂))
        s = _plus(state.s * beta3, g, ratio * d if safeguard else ratio * dlr)
        d_denom = 0.0 + s.abs().sum(0)
        numerator = numerator + delta
        d_hat = d_coef * numerator / d_denom
        d_max = _max(state.d_max, d_hat)
        new_d = d_max  # max(d, d̂) while d = d₀, then min(d_max, d·∞) = d_max: always d_max
        denom = v.sqrt() + new_d * eps
        w = params
        if decouple and not is_zero(wd):
            w = _plus(w, w, -wd * dlr)  # p.add_(p, alpha=−λ·dη)
        if isinstance(b1, Tensor):
            new = torch.where(b1 > 0, w + (-dlr * m) / denom, w + (-dlr * new_d * g) / denom)
        elif b1 > 0:
            new = w + (-dlr * m) / denom  # p.addcdiv_(m, denom, value=−dη)
        else:
            new = w + (-dlr * new_d * g) / denom
        # ‖s‖₁ = 0: prodigyopt returns before the step; m, v and s are already updated.
        skip = d_denom == 0
        kept = ProdigyState(
            m,
            v,
            s,
            state.p0,
            select(skip, d, new_d),
            select(skip, state.d_max, d_max),
            select(skip, state.d_numerator, numerator),
            select(skip, state.d_denom, d_denom),
            select(skip, state.d_hat, d_hat),
            delta,
            select(skip, torch.zeros_like(dlr), dlr),
        )
        return select(skip, params, new), kept

    def effective_lr(state, lr):
        return state.dlr.expand(2, -1)

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step, coupled=True)


def explain_prodigy(v):
    e = begin(v)
    hp, b, a = v.hp, v.state_before, v.state_after
    b1, b2 = hp["beta1"], hp["beta2"]
    wd, decouple = hp["weight_decay"], hp["decouple"]
    if not decouple:
        effective_gradient(e, v, wd)
    d_old = e.number("d_used", b.d.reshape(-1)[0])
    dlr = float(a.dlr.reshape(-1)[0])
    skipped = float(a.d_denom.reshape(-1)[0]) == 0
    (bc,) = v.values
    first = " (d₀: Prodigy starts with a tiny step and lets d grow)" if v.step == 1 else ""
    if skipped:
        e.say(f"This step starts from the estimate d = {d_old}{first}; ‖s‖₁ turns out 0 (below): no step is taken.")
    elif hp["use_bias_correction"]:
        e.say(
            f"This step uses the current estimate d = {d_old}{first}: step size dη = d·η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) = "
            f"{d_old} × {fmt(v.lr)} × {e.number('bias_correction', bc)} = {e.number('dlr', dlr)} "
            "(the learning-rate panel draws dη)."
        )
    else:
        e.say(
            f"This step uses the current estimate d = {d_old}{first}: step size dη = d·η = {d_old} × {fmt(v.lr)} "
            f"= {e.number('dlr', dlr)} (the learning-rate panel draws dη)."
        )
    v_text = f"v = β₂v + d²(1 − β₂)g² = {e.show('state.v', a.v)}"
    if b1 > 0:
        e.say(f"Moments carry d: m = β₁m + d(1 − β₁)g = {e.show('state.m', a.m)} (β₁ = {fmt(float(b1))}), {v_text}.")
    else:
        e.say(f"β₁ = 0: no momentum, the step uses d·g itself; the second moment carries d², {v_text}.")
    beta3 = _sqrt(b2)
    delta = float(a.delta.reshape(-1)[0])
    if v.step == 1:
        why = " (w = w₀ at the first step: nothing is added)."
    elif delta > 0:
        why = ": ⟨g, w₀ − w⟩ > 0, −g still leads away from the start, which adds to r."
    elif delta < 0:
        why = ": ⟨g, w₀ − w⟩ < 0, −g leads back towards the start, which takes from r."
    else:
        why = ": ⟨g, w₀ − w⟩ = 0 adds nothing."
    e.say(
        f"Numerator of d̂ (β₃ = √β₂ = {e.number('beta3', beta3)}): r = β₃r + (d/d₀)·dη·⟨g, w₀ − w⟩ "
        f"= {e.number('numerator_before', b.d_numerator.reshape(-1)[0])}·β₃ + "
        f"{e.number('delta', delta)} = {e.number('d_numerator', a.d_numerator.reshape(-1)[0])}, "
        f"with w₀ = {e.show('state.p0', a.p0)} the start{why}"
    )
    e.say(
        f"Denominator: s = β₃s + (d/d₀)·{'d' if hp['safeguard_warmup'] else 'dη'}·g = {e.show('state.s', a.s)}, "
        f"‖s‖₁ = {e.number('d_denom', a.d_denom.reshape(-1)[0])}."
    )
    if skipped:
        e.say(
            "‖s‖₁ = 0 (every gradient so far exactly 0): prodigyopt returns before the step; w and d stay as they are."
        )
        return finish(e, v, f"Step = {e.show('step', v.move)}.")
    d_hat = e.number("d_hat", a.d_hat.reshape(-1)[0])
    d_new = e.number("d", a.d.reshape(-1)[0])
    grew = float(a.d.reshape(-1)[0]) > float(b.d.reshape(-1)[0])
    e.say(
        f"Estimate d̂ = d_coef·r/‖s‖₁ = {d_hat} (d_coef = {fmt(float(hp['d_coef']))}); d = max(d, d̂) = {d_new}: "
        + ("d grew, and the next step is longer." if grew else "d̂ ≤ d, so d stays.")
    )
    what = "−dη·m/(√v + d·ε)" if b1 > 0 else "−dη·d·g/(√v + d·ε)"
    e.say(f"The step is {what}, Adam's direction times dη; its denominator takes the new d = {d_new}.")
    if decouple and wd:
        e.say(f"Decoupled weight decay λ = {fmt(float(wd))}: w first shrinks by λ·dη·w (dη, not η).")
        return finish(e, v, f"Step (the shrink included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = {what} = {e.show('step', v.move)}.")


PRODIGY = OptimizerSpec(
    key="prodigy",
    name="Prodigy",
    family="adaptive",
    build=prodigy_rule,
    torch_twin=TorchTwin(
        "Prodigy",
        lambda hp: dict(
            lr=hp["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            decouple=hp["decouple"],
            use_bias_correction=hp["use_bias_correction"],
            safeguard_warmup=hp["safeguard_warmup"],
            d0=hp["d0"],
            d_coef=hp["d_coef"],
        ),
        note="The scheduled lr multiplies Prodigy's estimate d (step size d·lr_t); under a warm-up, "
        "safeguard_warmup=True keeps lr out of d's denominator.",
        module="prodigyopt",
    ),
    params=(
        lr_param(
            1.0,
            low=0.01,
            high=10.0,
            help="Multiplies the estimated step size d; the authors advise leaving it at 1 (schedules act on it).",
        ),
        Param(
            "beta1",
            0.9,
            0.0,
            0.999,
            label="momentum β₁",
            help="Decay of the moving average of d·g.",
            latex=r"\beta_1",
        ),
        Param(
            "beta2",
            0.999,
            0.5,
            0.9999,
            label="β₂",
            help="Decay of the moving average of d²·g²; β₃ = √β₂ is the decay of d's numerator and of s.",
            latex=r"\beta_2",
        ),
        eps_param(1e-8, help="Added to √v as d·ε, so it scales with d."),
        Param(
            "d0",
            1e-6,
            1e-8,
            1e-1,
            log=True,
            label="initial estimate d₀",
            help="The first d: the first steps are about d₀·η long, and d grows from there.",
            latex="d_0",
        ),
        Param(
            "d_coef",
            1.0,
            0.1,
            10.0,
            log=True,
            label="d coefficient",
            help="Multiplies the estimate d̂ (the preferred knob to tune, per the authors; 0.5–2 work too).",
            latex=r"d_{coef}",
        ),
        weight_decay_param(help="λ: decoupled (w shrinks by λ·dη·w) or, with decouple off, λw added to g."),
        Param(
            "decouple",
            True,
            label="decoupled weight decay",
            help="On: AdamW-style decay, w ← w − λ·dη·w. Off: λw is added to the gradient.",
            kind="bool",
        ),
        Param(
            "use_bias_correction",
            False,
            label="bias correction",
            help="Multiply dη by √(1 − β₂ᵗ)/(1 − β₁ᵗ), Adam's correction (off in prodigyopt by default).",
            kind="bool",
        ),
        Param(
            "safeguard_warmup",
            False,
            label="safeguard warm-up",
            help="Leave η out of s's increment, so a warm-up (η < 1 early) cannot inflate d.",
            kind="bool",
        ),
    ),
    latex=(
        r"d\eta_t = d_t\,\eta\ \big(\times \tfrac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}"
        r" \text{ with bias correction}\big),\ m_t = \beta_1 m_{t-1} + d_t(1-\beta_1)g_t,\ "
        r"v_t = \beta_2 v_{t-1} + d_t^2(1-\beta_2)g_t^2,\ "
        r"r_t = \sqrt{\beta_2}\,r_{t-1} + \tfrac{d_t}{d_0}\,d\eta_t\,\langle g_t, w_0 - w_t\rangle,\ "
        r"s_t = \sqrt{\beta_2}\,s_{t-1} + \tfrac{d_t}{d_0}\,d\eta_t\,g_t,\ "
        r"d_{t+1} = \max\!\Big(d_t, \frac{d_{coef}\,r_t}{\lVert s_t\rVert_1}\Big),\ "
        r"w_{t+1} = (1 - \lambda\,d\eta_t)\,w_t - d\eta_t\,\frac{m_t}{\sqrt{v_t} + d_{t+1}\varepsilon}"
        r"\ (\text{decoupled decay; coupled: } g_t + \lambda w_t \text{ in place of } g_t)"
    ),
    reference="Mishchenko & Defazio (2023), Prodigy: An Expeditiously Adaptive Parameter-Free Learner; "
    "prodigyopt 1.1.2 (prodigyopt.Prodigy)",
    summary="Adam whose step size d grows from a tiny d₀ to an estimate of the distance to the solution: "
    "no learning rate to tune (η = 1).",
    effective_lr_kind="diagonal",
    effective_lr_note="d·η, Prodigy's estimated step size (the same for x and y; times the bias correction when "
    "it is on), the factor on Adam's direction m/(√v + d·ε)",
    explain=explain_prodigy,
    color="#FF7F00",
    state_labels={"m": "m (EMA of d·g)", "v": "v (EMA of d²g²)", "s": "s (EMA of weighted steps)"},
)
