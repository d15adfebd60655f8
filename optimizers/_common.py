"""Small helpers shared by the update rules. Hyperparameters are floats or per-run tensors.

Each helper spells one torch.optim operation out of place: with float hyperparameters it is the
very ATen call torch.optim makes (so the eager path is bit-exact), with per-run tensors an ATen
call that rounds the same way and broadcasts over runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spec import Param


def is_zero(value) -> bool:
    """True for the float 0 (a swept tensor is never skipped, even if it holds zeros)."""
    return not isinstance(value, Tensor) and value == 0


def axpy(a: Tensor, b: Tensor, alpha) -> Tensor:
    """a + alpha·b, with torch's own fused op when alpha is a number (as torch.optim does). A tensor
    alpha goes through addcmul, whose kernel rounds the same multiply-add once, as add's does."""
    if isinstance(alpha, Tensor):
        return torch.addcmul(a, alpha, b)
    return torch.add(a, b, alpha=alpha)


def addcmul(a: Tensor, t1: Tensor, t2: Tensor, value) -> Tensor:
    """a + value·t1·t2 as torch.addcmul rounds it, fma(value·t1, t2, a), also for a tensor value."""
    if isinstance(value, Tensor):
        return torch.addcmul(a, value * t1, t2)
    return torch.addcmul(a, t1, t2, value=value)


def lerp(start: Tensor, end: Tensor, weight) -> Tensor:
    """torch.lerp (start + w·(end − start)), as torch.optim's moving averages compute it."""
    return torch.lerp(start, end, weight)


def add_scaled(p: Tensor, t: Tensor, alpha) -> Tensor:
    """p + alpha·t: torch.optim's param.add_(t, alpha=...), out of place."""
    return axpy(p, t, alpha)


def add_ratio(p: Tensor, num: Tensor, den: Tensor, value) -> Tensor:
    """p + value·num/den: torch.optim's param.addcdiv_(num, den, value=...), out of place."""
    if isinstance(value, Tensor):
        return p + (value * num) / den
    return torch.addcdiv(p, num, den, value=value)


def clamp(x: Tensor, low, high) -> Tensor:
    """torch.clamp that also takes per-run tensor bounds mixed with float ones."""
    if not isinstance(low, Tensor) and not isinstance(high, Tensor):
        return torch.clamp(x, low, high)
    return torch.clamp(
        x, torch.as_tensor(low, dtype=x.dtype, device=x.device), torch.as_tensor(high, dtype=x.dtype, device=x.device)
    )


def ema_sq(avg: Tensor, grad: Tensor, decay) -> Tensor:
    """decay·avg + (1 − decay)·grad², in torch.optim's operation order."""
    return addcmul(avg * decay, grad, grad, 1 - decay)


def with_weight_decay(grad: Tensor, params: Tensor, weight_decay) -> Tensor:
    """L2 penalty folded into the gradient: g + λw (torch.optim's coupled weight decay)."""
    return grad if is_zero(weight_decay) else axpy(grad, params, weight_decay)


def select(flag, when_set: Tensor, otherwise: Tensor) -> Tensor:
    """when_set where flag (a per-step value: 1.0 or 0.0, a float or a tensor) is set, else otherwise.
    Both sides are computed; the result is exactly one of them."""
    return torch.where(torch.as_tensor(flag, device=otherwise.device) > 0, when_set, otherwise)


def beta_param(name: str, default: float, label: str, help: str, latex: str, low=0.0, high=0.999) -> Param:
    return Param(name, default, low, high, label=label, help=help, latex=latex)


def momentum_param(default: float = 0.9) -> Param:
    return Param(
        "momentum",
        default,
        0.0,
        0.99,
        label="momentum",
        help="Fraction of the previous step kept in the next one.",
        latex=r"\mu",
    )
