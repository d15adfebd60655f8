"""Second-order methods: Newton's step with damping, and its diagonal approximation."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers.base import OptimizerSpec, Rule
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


NEWTON = OptimizerSpec(
    key="newton", name="Newton", family="second order", build=newton_rule,
    params=(lr_param(1.0, low=0.01, high=2.0, help="Fraction of the full Newton step taken."),
            Param("damping", 0.0, 0.0, 10.0, label="damping λ",
                  help="Added to the Hessian's diagonal: shorter, safer steps.", latex=r"\lambda")),
    latex=r"w_{t+1} = w_t - \eta\,(H_t + \lambda I)^{-1} g_t",
    reference="Newton's method with Levenberg damping; Nocedal & Wright (2006), §3.3; lecture note 002",
    summary="Jumps to the minimum of the local quadratic model: exact on a quadratic, drawn to saddles.",
)

DIAG_NEWTON = OptimizerSpec(
    key="diag_newton", name="Diagonal Newton", family="second order", build=diag_newton_rule,
    params=(lr_param(1.0, low=0.01, high=2.0, help="Fraction of the diagonal Newton step taken."),
            Param("eps", 1e-3, 1e-8, 10.0, log=True, label="epsilon",
                  help="Added to each curvature hᵢᵢ so a flat direction does not divide by zero.",
                  latex=r"\varepsilon")),
    latex=r"w_{t+1,i} = w_{t,i} - \frac{\eta}{h_{ii} + \varepsilon}\, g_{t,i}",
    reference="Becker & LeCun (1988); the diagonal approximation of lecture note 002",
    summary="Newton with only the Hessian's diagonal: cheap, exact for an axis-aligned quadratic.",
    effective_lr_kind="diagonal", effective_lr_note="η / (hᵢᵢ + ε)",
)
