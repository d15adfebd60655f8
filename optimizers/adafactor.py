"""Adafactor: a relative step size, scaled by the size of the parameter, with update clipping."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import addcmul, is_zero, lerp
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, lr_param, weight_decay_param


class AdafactorState(NamedTuple):
    v: Tensor  # the second moment V̂ (unfactored: one run's parameter is a 2-vector)
    alpha: Tensor  # (B,): α_t = max(ε₂, RMS(w))·ρ_t of the step just taken
    clip: Tensor  # (B,): max(1, RMS(U)/d), what the update was divided by
    rate: Tensor  # α_t/(clip·√max(V̂, ε₁²)): the factor on g in the step just taken


def _norm(t: Tensor) -> Tensor:
    """‖·‖₂ over the coordinates of each run of a (2, B) tensor: (B,). One run's parameter is a
    column here; the 2-norm of a contiguous row of two values is the very reduction torch runs on
    a (2,) parameter (the norm along the strided axis 0 rounds differently)."""
    return torch.linalg.vector_norm(t.transpose(0, -1).contiguous(), 2, dim=-1)


def rms(t: Tensor) -> Tensor:
    """RMS over the coordinates of each run, as torch.optim.Adafactor: ‖p‖₂.item() / √numel."""
    return _norm(t) / (t.shape[0] ** 0.5)


def clip_ratio(u: Tensor, d) -> Tensor:
    """RMS(U)/d per run, as torch computes it: ‖U‖₂.item() / (√numel·d)."""
    return _norm(u) / ((u.shape[0] ** 0.5) * d)


def _at_least(x: Tensor, low) -> Tensor:
    """max(low, x) as torch's Python max computes it, low a float or a per-run tensor."""
    if isinstance(low, Tensor):
        return torch.maximum(x, low.to(x.dtype))
    return torch.clamp(x, min=low)


def adafactor_rule(hp: dict) -> Rule:
    r"""Adafactor: V̂ ← β̂₂ₜV̂ + (1 − β̂₂ₜ)g² with 1 − β̂₂ₜ = t^τ,  U = g/√max(V̂, ε₁²),
    Û = U/max(1, RMS(U)/d),  ρ_t = min(η, 1/√t),  α_t = max(ε₂, RMS(w))·ρ_t,
    w ← (1 − ηλ)·w − α_t·Û.

    Shazeer & Stern (2018), Adafactor: adaptive learning rates with sublinear memory cost, with
    β₁ = 0 (no momentum). Matches torch.optim.Adafactor (foreach=False) bit for bit, and so differs
    from the paper as torch does:

    * the paper's relative step is ρ_t = min(10⁻², 1/√t); torch puts its lr in place of 10⁻², and
      uses the lr (not ρ_t) for decoupled weight decay, w ← (1 − ηλ)w, taken before the step;
    * ε₁ is applied as a floor on V̂ (√max(V̂, ε₁²)) instead of being added to g²; torch's default
      ε₁ = None means the machine epsilon of the parameter's dtype (2.2e-16 in float64), and
      gradscape always uses that default (the snippet passes eps=(None, ε₂)).

    The factored second moment of the paper is for matrices; one run's parameter here is the
    2-vector (x, y), so V̂ is kept per coordinate (torch does the same for a 1-D parameter), and
    RMS(w) and RMS(U) are over the two coordinates of each run: x and y are coupled through them.
    """
    decay, eps2, d, wd = hp["beta2_decay"], hp["eps2"], hp["d"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        row = zeros[0]
        return AdafactorState(zeros, row, row + 1, zeros)

    def per_step(lr, step):
        t = float(step)
        one_minus_beta2 = t**decay  # torch: step_float ** beta2_decay
        top = 1 / (t**0.5)
        rho = torch.clamp(lr, max=top) if isinstance(lr, Tensor) else min(lr, top)
        return one_minus_beta2, rho

    def update(grad, state, params, lr, values):
        one_minus_beta2, rho = values
        eps1 = torch.finfo(params.dtype).eps  # torch.optim.Adafactor's eps1=None
        alpha = _at_least(rms(params), eps2) * rho  # from w before the weight decay
        if not is_zero(wd):
            params = params * (1 - lr * wd)
        v = lerp(state.v, grad * grad, one_minus_beta2)
        r = torch.clamp(v, min=eps1 * eps1).rsqrt()
        u = r * grad
        clip = _at_least(clip_ratio(u, d), 1.0)
        step_size = alpha / clip
        # torch: param.add_(U, alpha=−α/clip) with a float; per run here, the same fused multiply-add.
        new = addcmul(params, u, step_size, -1)
        return new, AdafactorState(v, alpha, clip, step_size * r)

    def effective_lr(state, lr):
        return state.rate

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step, coupled=True)


def explain_adafactor(v):
    e = begin(v)
    a = v.state_after
    decay, eps2, d, wd = v.hp["beta2_decay"], v.hp["eps2"], v.hp["d"], v.hp["weight_decay"]
    one_minus_beta2, rho = v.values
    if v.step == 1:
        e.say(f"The first step takes g² whole (1 − β̂₂₁ = 1^τ = 1): V̂ = {e.show('state.v', a.v)}.")
    else:
        e.say(
            f"V̂ = β̂₂ₜV̂ + (1 − β̂₂ₜ)g² with 1 − β̂₂ₜ = t^τ = {e.number('one_minus_beta2', one_minus_beta2)} "
            f"(τ = {fmt(float(decay))}): V̂ = {e.show('state.v', a.v)}."
        )
    u = torch.clamp(a.v, min=torch.finfo(a.v.dtype).eps ** 2).rsqrt() * v.grad
    e.say(f"Normalised update U = g/√V̂ = {e.show('U', u)}.")
    clip = float(a.clip.reshape(-1)[0])
    ratio = clip_ratio(u, d)
    if clip > 1.0:
        e.say(f"RMS(U)/d = {e.number('clip', clip)} > 1 (d = {fmt(float(d))}): U is clipped, divided by {fmt(clip)}.")
    else:
        e.say(f"RMS(U)/d = {e.number('rms_u_over_d', ratio.reshape(-1)[0])} ≤ 1 (d = {fmt(float(d))}): no clipping.")
    top = 1 / v.step**0.5
    which = "η" if v.lr <= top else "1/√t"  # min(η, 1/√t) is η unless 1/√t < η
    rho_text = e.number("rho_t", rho)
    size = float(rms(v.params).reshape(-1)[0])
    alpha = e.number("alpha_t", a.alpha.reshape(-1)[0])
    rms_text = e.number("rms_w", size)
    if size > eps2:
        scale, why = rms_text, f"RMS(w) = {rms_text} is above ε₂"
    else:
        scale, why = fmt(float(eps2)), f"RMS(w) = {rms_text} is at most ε₂ = {fmt(float(eps2))}, which sets the scale"
    e.say(
        f"Relative step ρ_t = min(η, 1/√t) = {which} = {rho_text}; the step is scaled by the size of w: "
        f"α_t = max(ε₂, RMS(w))·ρ_t = {scale} × {rho_text} = {alpha} ({why})."
    )
    e.say(f"Per-coordinate factor on g: α_t/(max(1, RMS(U)/d)·√V̂) = {e.show('state.rate', a.rate)}.")
    if wd:
        e.say(f"Decoupled weight decay: w first shrinks ×(1 − ηλ) = ×{fmt(1 - v.lr * wd)} (η, not ρ_t).")
        return finish(e, v, f"Step (the shrink included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −α_t·Û = {e.show('step', v.move)}.")


ADAFACTOR = OptimizerSpec(
    key="adafactor",
    name="Adafactor",
    family="adaptive",
    build=adafactor_rule,
    torch_twin=TorchTwin(
        "Adafactor",
        lambda hp: dict(
            lr=hp["lr"],
            beta2_decay=hp["beta2_decay"],
            eps=(None, hp["eps2"]),
            d=hp["d"],
            weight_decay=hp["weight_decay"],
        ),
    ),
    params=(
        lr_param(
            0.05,
            low=1e-4,
            high=1.0,
            help="The largest relative step: ρ_t = min(η, 1/√t) (the paper and torch use 0.01).",
        ),
        Param(
            "beta2_decay",
            -0.8,
            -1.0,
            0.0,
            label="β₂ decay τ",
            help="1 − β̂₂ₜ = t^τ: the weight of the newest g² in V̂ (τ = −1: a plain average; 0: no memory).",
            latex=r"\tau",
        ),
        Param(
            "eps2",
            1e-3,
            1e-6,
            1.0,
            log=True,
            label="scale floor ε₂",
            help="Smallest parameter scale: the step is max(ε₂, RMS(w))·ρ_t, so a point near 0 still moves.",
            latex=r"\varepsilon_2",
        ),
        Param(
            "d",
            1.0,
            1.0,
            10.0,
            label="clipping threshold d",
            help="The normalised update is scaled down when its RMS exceeds d.",
            latex="d",
        ),
        weight_decay_param(help="Decoupled decay: w shrinks by (1 − ηλ) each step."),
    ),
    latex=(
        r"\hat V_t = (1 - t^{\tau})\hat V_{t-1} + t^{\tau} g_t^2,\ U_t = \frac{g_t}{\sqrt{\hat V_t}},\ "
        r"\rho_t = \min(\eta, \tfrac{1}{\sqrt t}),\ "
        r"w_{t+1} = (1 - \eta\lambda)\, w_t - \max(\varepsilon_2, \mathrm{RMS}(w_t))\,\rho_t\,"
        r"\frac{U_t}{\max(1, \mathrm{RMS}(U_t)/d)}"
    ),
    reference="Shazeer & Stern (2018), Adafactor: adaptive learning rates with sublinear memory cost; "
    "torch.optim.Adafactor",
    summary="A step relative to the size of w, from a normalised gradient whose RMS is clipped; "
    "η only caps the relative step size.",
    effective_lr_kind="diagonal",
    effective_lr_note="α_t/(max(1, RMS(U)/d)·√V̂), with α_t = max(ε₂, RMS(w))·ρ_t",
    explain=explain_adafactor,
    color="#225555",
)
