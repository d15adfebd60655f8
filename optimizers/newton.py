"""Second-order methods: Newton's step with damping, and its diagonal approximation."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

import math

from optimizers.base import OptimizerSpec, Rule
from optimizers.explain import begin, finish, fmt, pair
from optimizers.hparams import Param, lr_param


class Empty(NamedTuple):
    pass


class DiagState(NamedTuple):
    scale: Tensor  # 1/(h + ε) of the last step


def newton_rule(hp: dict) -> Rule:
    r"""Damped Newton: w ← w − η (H + λI)⁻¹ g.

    The minimiser of the local quadratic model (lecture note 002); λ > 0 is Levenberg's damping,
    which shortens the step and, once λ exceeds −λ_min(H), turns it downhill. Undamped Newton
    jumps to the stationary point of the model, a saddle included: it is attracted by saddles.
    The 2×2 system is solved in closed form; a singular H + λI makes the step non-finite and the
    engine marks the run diverged. Reference: Nocedal & Wright (2006), Numerical Optimization, §3.3.
    """
    damping = hp["damping"]

    def init(params):
        return Empty()

    def update(grad, state, params, lr, values, hess):
        a = hess[0][0] + damping
        b = hess[0][1]
        d = hess[1][1] + damping
        det = a * d - b * b
        gx, gy = grad[0], grad[1]
        dx = (d * gx - b * gy) / det
        dy = (a * gy - b * gx) / det
        return params - lr * torch.stack((dx, dy)), state

    return Rule(init, update, needs_hessian=True, coupled=True)


def diag_newton_rule(hp: dict) -> Rule:
    r"""Diagonal Newton: wᵢ ← wᵢ − η gᵢ / (hᵢᵢ + ε).

    The diagonal approximation of the Hessian from lecture note 002 (Becker & LeCun, 1988).
    Where hᵢᵢ + ε < 0 (a concave direction) the step goes uphill, which the saddle shows.
    """
    eps = hp["eps"]

    def init(params):
        return DiagState(torch.ones_like(params))

    def update(grad, state, params, lr, values, hess):
        scale = 1.0 / (torch.stack((hess[0][0], hess[1][1])) + eps)
        return params - lr * grad * scale, DiagState(scale)

    def effective_lr(state, lr):
        return lr * state.scale

    return Rule(init, update, effective_lr=effective_lr, needs_hessian=True)


def _eigenvalues(a: float, b: float, c: float) -> tuple[float, float]:
    mean, diff = (a + c) / 2, math.hypot((a - c) / 2, b)
    return (mean - diff, mean + diff)


def explain_newton(v):
    e = begin(v)
    lam = float(v.hp["damping"])
    a, b, c = (
        float(v.hess[0][0].reshape(-1)[0]),
        float(v.hess[0][1].reshape(-1)[0]),
        float(v.hess[1][1].reshape(-1)[0]),
    )
    lo, hi = _eigenvalues(a, b, c)
    e.facts.update(hessian=((a, b), (b, c)), hessian_eigenvalues=(lo, hi), damped=lam != 0)
    e.say(f"Hessian H = [[{fmt(a)}, {fmt(b)}], [{fmt(b)}, {fmt(c)}]], eigenvalues {fmt(lo)} and {fmt(hi)}.")
    dlo, dhi = lo + lam, hi + lam  # the eigenvalues of H + λI
    gx, gy = pair(v.grad)
    ad, cd = a + lam, c + lam
    det = ad * cd - b * b
    what = "−(H + λI)⁻¹g" if lam else "−H⁻¹g"
    if det != 0 and math.isfinite(det):
        direction = (-(cd * gx - b * gy) / det, -(ad * gy - b * gx) / det)
        e.facts["newton_step"] = direction
        e.say(
            f"Newton direction {what} = {e.show('newton_direction', direction)}, against the gradient step "
            f"−g = {fmt((-gx, -gy))}."
        )
        e.arrow("−η(H+λI)⁻¹g" if lam else "−ηH⁻¹g", (v.lr * direction[0], v.lr * direction[1]))
    model = "H + λI" if lam else "H"
    if dlo > 0:
        if lo < 0:
            e.say(
                f"H has a negative eigenvalue, but the damping λ = {fmt(lam)} exceeds its size: H + λI is positive "
                "definite, so the step goes downhill, away from the saddle."
            )
        else:
            e.say(f"{model} is positive definite: the quadratic model has a minimum, and the step goes towards it.")
    elif dhi < 0:
        e.say(
            f"Both eigenvalues of {model} are negative: the quadratic model has a maximum, and Newton steps towards "
            "it (uphill)."
        )
    elif dlo < 0 < dhi:
        e.say(f"{model} has a negative eigenvalue: the quadratic model has a saddle, and Newton steps towards it.")
    else:
        e.say(f"{model} is singular: the quadratic model has no unique stationary point.")
    return finish(e, v, f"Step = η·({what}) = {fmt(v.lr)}·direction = {e.show('step', v.move)}.")


def explain_diag_newton(v):
    e = begin(v)
    h = (float(v.hess[0][0].reshape(-1)[0]), float(v.hess[1][1].reshape(-1)[0]))
    e.facts["hessian"] = ((h[0], float(v.hess[0][1].reshape(-1)[0])), (float(v.hess[0][1].reshape(-1)[0]), h[1]))
    e.say(
        f"Diagonal curvatures h = {e.show('h', h)}; the factor η/(h + ε) = "
        f"{e.show('effective_lr', v.lr * v.state_after.scale)}."
    )
    if min(h) + float(v.hp["eps"]) < 0:
        e.say("A negative h + ε turns that coordinate's step uphill.")
    return finish(e, v, f"Step = −η·g/(h + ε) = {e.show('step', v.move)}.")


NEWTON = OptimizerSpec(
    key="newton",
    name="Newton",
    family="second order",
    build=newton_rule,
    params=(
        lr_param(1.0, low=0.01, high=2.0, help="Fraction of the full Newton step taken."),
        Param(
            "damping",
            0.0,
            0.0,
            10.0,
            label="damping λ",
            help="Added to the Hessian's diagonal: shorter, safer steps.",
            latex=r"\lambda",
        ),
    ),
    latex=r"w_{t+1} = w_t - \eta\,(H_t + \lambda I)^{-1} g_t",
    reference="Newton's method with Levenberg damping; Nocedal & Wright (2006), §3.3; lecture note 002",
    summary="Jumps to the minimum of the local quadratic model: exact on a quadratic, drawn to saddles.",
    explain=explain_newton,
    color="#88CCEE",
)

DIAG_NEWTON = OptimizerSpec(
    key="diag_newton",
    name="Diagonal Newton",
    family="second order",
    build=diag_newton_rule,
    params=(
        lr_param(1.0, low=0.01, high=2.0, help="Fraction of the diagonal Newton step taken."),
        Param(
            "eps",
            1e-3,
            1e-8,
            10.0,
            log=True,
            label="epsilon",
            help="Added to each curvature hᵢᵢ so a flat direction does not divide by zero.",
            latex=r"\varepsilon",
        ),
    ),
    latex=r"w_{t+1,i} = w_{t,i} - \frac{\eta}{h_{ii} + \varepsilon}\, g_{t,i}",
    reference="Becker & LeCun (1988); the diagonal approximation of lecture note 002",
    summary="Newton with only the Hessian's diagonal: cheap, exact for an axis-aligned quadratic.",
    explain=explain_diag_newton,
    effective_lr_kind="diagonal",
    effective_lr_note="η / (hᵢᵢ + ε)",
    color="#DDCC77",
)
