"""Sophia: momentum divided by a moving average of the Hessian's diagonal, clipped per coordinate."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import is_zero, lerp, select
from optimizers.base import OptimizerSpec, Rule
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class SophiaState(NamedTuple):
    m: Tensor  # the momentum (EMA of g)
    h: Tensor  # the EMA of the Hessian's diagonal, refreshed every k steps
    denom: Tensor  # max(γh, ε) of the step just taken
    ratio: Tensor  # m/max(γh, ε), before clipping
    update: Tensor  # clip(ratio, 1): the ratio clipped to [−1, 1], what η multiplies


def _step(w: Tensor, u: Tensor, lr) -> Tensor:
    """w − η·u as torch's w.add_(u, alpha=−η): one fused multiply-add (addcmul for a per-run η)."""
    if isinstance(lr, Tensor):
        return torch.addcmul(w, u, -lr)
    return torch.add(w, u, alpha=-lr)


def sophia_rule(hp: dict) -> Rule:
    r"""Sophia: m ← β₁m + (1 − β₁)g;  every k steps (t = 1, k + 1, 2k + 1, …) h ← β₂h + (1 − β₂)ĥ, with ĥ the
    surface's exact Hessian diagonal (∂²f/∂x², ∂²f/∂y²) at w;  w ← w − ηλw;
    w ← w − η·clip(m/max(γh, ε), 1), clip(z, 1) = max(−1, min(1, z)) per coordinate.

    Liu, Li, Hall, Liang & Ma (2023), Sophia: A Scalable Stochastic Second-order Optimizer for
    Language Model Pre-training, Algorithm 3, with h₁₋ₖ = 0 and m₀ = 0 (no bias correction) and the
    paper's defaults β₁ = 0.965, β₂ = 0.99, γ = 0.01, ε = 1e-12, k = 10. Differences:

    * the curvature estimate: the paper's estimators (Hutchinson's uᵀ∇²f·u with a random u, or
      Gauss-Newton-Bartlett from sampled labels) are unbiased but noisy estimates of the diagonal;
      here ĥ is the exact diagonal the surface provides (the noise-free limit of both). The
      off-diagonal ∂²f/∂x∂y is not used: Sophia is a diagonal method.
    * negative curvature: where γh < ε (h ≤ 0 on a saddle or a concave ridge, or h not yet
      refreshed, 0 before the first step) the denominator is ε = 1e-12, the ratio is enormous and
      the clip carries the step: that coordinate moves by −η·sign(m), a sign step along the
      momentum, where Newton's −g/h would go uphill. Where γh > 0 but |m| > γh the clip also
      binds: a sign step again, until h is large enough to trust.
    * pytorch-optimizer 4.1.0's SophiaH (Hutchinson) writes the clip with a threshold p instead of
      γ: w ← w − η'·clip(m/max(h, ε'), p). With the same h the two are equal for η' = η/γ, p = γ,
      ε' = ε/γ and decay λ' = λγ (identical, operation for operation, for γ = 1, p = 1; otherwise
      equal to rounding, within 2 ulp per step as measured): the tests feed SophiaH
      this exact diagonal through its step(hessian=...) every k steps (its update_period) and compare.
    * the authors' code (SophiaG) names γ ρ and multiplies it by the batch size; it divides |m| by
      ρ·bs·h + 1e-15 and clips only from above, so a negative h reverses the step: the paper's
      max(γh, ε), kept here, does not.
    * η = 0.05 by default, not the paper's language-model rates (~1e-4): a clipped coordinate
      moves by exactly η, which on these surfaces crosses a lesson in a few dozen steps.
    * weight decay is decoupled, w ← (1 − ηλ)w before the step (the paper and SophiaH), and the
      step number counts from 1: the Hessian is refreshed at steps 1, k + 1, 2k + 1, … (per_step
      carries that flag: the update never sees the step number).
    """
    b1, b2, gamma, eps, wd, k = (
        hp["beta1"],
        hp["beta2"],
        hp["gamma"],
        hp["eps"],
        hp["weight_decay"],
        hp["update_period"],
    )

    def init(params):
        zeros = torch.zeros_like(params)
        return SophiaState(zeros, zeros, zeros + eps, zeros, zeros)

    def per_step(lr, step):
        return (1.0 if (step - 1) % k == 0 else 0.0,)  # refresh h at t = 1, k + 1, 2k + 1, …

    def update(grad, state, params, lr, values, hess):
        (refresh,) = values
        w = params if is_zero(wd) else params * (1 - wd * lr)  # SophiaH: p.mul_(1 − λη)
        m = lerp(state.m, grad, 1 - b1)
        h_hat = torch.stack((hess[0][0], hess[1][1]))
        h = select(refresh, lerp(state.h, h_hat, 1 - b2), state.h)
        denom = torch.clamp(gamma * h, min=eps)  # max(γh, ε); SophiaH: hessian_moment.clamp(min=eps)
        ratio = m / denom
        u = torch.clamp(ratio, -1.0, 1.0)
        return _step(w, u, lr), SophiaState(m, h, denom, ratio, u)

    def effective_lr(state, lr):
        # η·clip(m/D, 1) = η·m/max(D, |m|): the factor on m is η/max(γh, ε, |m|).
        return lr / torch.maximum(state.denom, state.m.abs())

    return Rule(init, update, effective_lr=effective_lr, needs_hessian=True, per_step=per_step)


def explain_sophia(v):
    e = begin(v)
    hp, a = v.hp, v.state_after
    gamma, eps, wd, k = float(hp["gamma"]), float(hp["eps"]), hp["weight_decay"], hp["update_period"]
    (refresh,) = v.values
    hxx, hxy, hyy = (float(v.hess[i][j].reshape(-1)[0]) for i, j in ((0, 0), (0, 1), (1, 1)))
    e.facts["hessian"] = ((hxx, hxy), (hxy, hyy))
    e.facts["refreshed"] = bool(refresh)
    if refresh:
        h_hat = (hxx, hyy)
        e.say(
            f"Curvature refresh (every k = {k} steps, from step 1): the Hessian's diagonal ĥ = "
            f"{e.show('h_hat', h_hat)}; h = β₂h + (1 − β₂)ĥ = {e.show('state.h', a.h)} "
            f"(β₂ = {fmt(float(hp['beta2']))}: h moves {fmt(1 - float(hp['beta2']))} of the way to ĥ"
            + (", from 0)." if v.step == 1 else ").")
        )
    else:
        nxt = v.step + (k - (v.step - 1) % k)
        e.say(
            f"No curvature refresh this step (every k = {k} steps; the next at step {nxt}): "
            f"h = {e.show('state.h', a.h)}."
        )
    e.say(f"Momentum m = β₁m + (1 − β₁)g = {e.show('state.m', a.m)} (β₁ = {fmt(float(hp['beta1']))}).")
    h = a.h.reshape(-1).tolist()
    floor = [i for i in (0, 1) if gamma * h[i] < eps]
    e.say(f"Denominator max(γh, ε) = {e.show('state.denom', a.denom)} (γ = {fmt(gamma)}, ε = {fmt(eps)}).")
    if floor:
        names = " and ".join("xy"[i] for i in floor)
        concave = all(h[i] <= 0 for i in floor)
        why = "h ≤ 0 (flat or negative curvature)" if concave else "γh is below ε"
        newton = "go uphill" if concave else "jump far"
        e.say(
            f"For {names}, {why}, so the denominator is ε: the ratio is enormous and the clip alone sets the step "
            f"to η·sign(m), a sign step along the momentum, where Newton's −g/h would {newton}."
        )
    ratio, update = a.ratio.reshape(-1).tolist(), a.update.reshape(-1).tolist()
    clipped = tuple(abs(r) > 1 for r in ratio)
    e.facts["clipped"] = clipped
    if clipped[0] == clipped[1]:
        which = "both coordinates are clipped" if clipped[0] else "neither coordinate is clipped"
    else:
        which = f"only {'xy'[clipped.index(True)]} is clipped"
    e.say(
        f"Ratio m/max(γh, ε) = {e.show('state.ratio', a.ratio)}; clipped to [−1, 1]: "
        f"{e.show('state.update', a.update)} ({which})."
    )
    e.arrow("−η·clip(m/max(γh, ε), 1)", (-v.lr * update[0], -v.lr * update[1]))
    if wd:
        e.say(f"Decoupled weight decay λ = {fmt(float(wd))}: w first shrinks ×(1 − ηλ) = ×{fmt(1 - v.lr * wd)}.")
        return finish(e, v, f"Step (the shrink included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −η·clip(m/max(γh, ε), 1) = −{fmt(v.lr)}·clip(…) = {e.show('step', v.move)}.")


SOPHIA = OptimizerSpec(
    key="sophia",
    name="Sophia",
    family="second order",
    build=sophia_rule,
    params=(
        lr_param(
            0.05,
            low=1e-4,
            high=1.0,
            help="η: the largest move per coordinate per step (a clipped step is exactly η·sign(m)).",
        ),
        Param("beta1", 0.965, 0.0, 0.999, label="momentum β₁", help="Decay of the momentum m.", latex=r"\beta_1"),
        Param(
            "beta2",
            0.99,
            0.0,
            0.999,
            label="curvature decay β₂",
            help="Decay of h, the moving average of the Hessian diagonal (one update every k steps).",
            latex=r"\beta_2",
        ),
        Param(
            "gamma",
            0.01,
            1e-4,
            1.0,
            log=True,
            label="curvature scale γ",
            help="The step is η·m/(γh) where unclipped: η/γ is the fraction of the diagonal Newton step.",
            latex=r"\gamma",
        ),
        eps_param(
            1e-12, low=1e-15, high=1e-3, help="Floor of the denominator γh: where γh < ε the clip sets the step."
        ),
        Param(
            "update_period",
            10,
            1,
            50,
            label="refresh every k",
            help="h takes a new Hessian diagonal every k steps (at steps 1, k + 1, 2k + 1, …).",
            latex="k",
            kind="int",
        ),
        weight_decay_param(help="Decoupled decay: w shrinks by (1 − ηλ) each step."),
    ),
    latex=(
        r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ "
        r"h_t = \beta_2 h_{t-k} + (1-\beta_2)\,\mathrm{diag}(\nabla^2 f(w_t)) \text{ if } (t-1) \bmod k = 0 "
        r"\text{ else } h_{t-1},\ "
        r"w_{t+1} = (1-\eta\lambda)\,w_t - \eta\,\mathrm{clip}\!\Big(\frac{m_t}{\max(\gamma h_t, \varepsilon)}, 1\Big)"
    ),
    reference="Liu et al. (2023), Sophia: A Scalable Stochastic Second-order Optimizer for Language Model "
    "Pre-training (Algorithm 3), with the exact Hessian diagonal; pytorch-optimizer's SophiaH, given the same h",
    summary="Momentum over a moving average of the Hessian's diagonal, clipped per coordinate: Newton-like "
    "where the curvature is positive and trusted, a sign step of length η elsewhere.",
    effective_lr_kind="diagonal",
    effective_lr_note="η/max(γh, ε, |m|) on m: η/(γh) inside the clip, η/|m| where it binds (a step of exactly η)",
    explain=explain_sophia,
    color="#A65628",
    state_labels={"m": "momentum m", "h": "Hessian diagonal h", "ratio": "m / max(γh, ε)", "update": "clipped ratio"},
)
