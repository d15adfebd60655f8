"""Small helpers shared by the update rules. Hyperparameters are floats or per-run tensors."""

from __future__ import annotations

import torch
from torch import Tensor

from optimizers.hparams import Param


def is_zero(value) -> bool:
    """True for the float 0 (a swept tensor is never skipped, even if it holds zeros)."""
    return not isinstance(value, Tensor) and value == 0


# Eager torch.add(a, b, alpha=s), torch.addcmul and torch.lerp each round once where they multiply
# and add: ATen's CPU kernels are built to fuse that multiply-add (fma). The fused engine traces
# these rules with the hyperparameters as 0-dim tensors, and inductor's CPU lowerings of the same
# ops round twice; so when compiled (torch.export or torch.compile) they are spelt with inductor's
# fma primitive (std::fma / fmadd in the generated C++), as ATen computes them: the compiled
# roll-out then equals the eager one to the last bit wherever the two engines' square roots agree (see engine/fused.py).
def _fma(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """a·b + c, rounded once (only when compiled: engine/fused.py registers the primitive)."""
    return torch.ops.prims.fma(a, b, c)


def axpy(a: Tensor, b: Tensor, alpha) -> Tensor:
    """a + alpha·b, with torch's own fused op when alpha is a number (as torch.optim does)."""
    if isinstance(alpha, Tensor):
        if torch.compiler.is_compiling():
            return _fma(b, alpha.to(b.dtype), a)
        return a + alpha * b
    return torch.add(a, b, alpha=alpha)


def addcmul(a: Tensor, t1: Tensor, t2: Tensor, value) -> Tensor:
    """a + value·t1·t2 as ATen's torch.addcmul rounds it: fma(value·t1, t2, a)."""
    if torch.compiler.is_compiling():
        return _fma(value * t1, t2, a)
    if isinstance(value, Tensor):
        return a + value * t1 * t2
    return torch.addcmul(a, t1, t2, value=value)


def lerp(start: Tensor, end: Tensor, weight) -> Tensor:
    """torch.lerp (start + w·(end − start)), as ATen computes it also when compiled: for |w| < 0.5
    fma(w, end − start, start), else fma(w − 1, end − start, end)."""
    if isinstance(weight, Tensor) and torch.compiler.is_compiling():
        weight = weight.to(start.dtype)
        small = weight.abs() < 0.5
        return _fma(torch.where(small, weight, weight - 1), end - start, torch.where(small, start, end))
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
    return torch.clamp(x, torch.as_tensor(low, dtype=x.dtype, device=x.device),
                       torch.as_tensor(high, dtype=x.dtype, device=x.device))


def ema_sq(avg: Tensor, grad: Tensor, decay) -> Tensor:
    """decay·avg + (1 − decay)·grad², in torch.optim's operation order."""
    return addcmul(avg * decay, grad, grad, 1 - decay)


def with_weight_decay(grad: Tensor, params: Tensor, weight_decay) -> Tensor:
    """L2 penalty folded into the gradient: g + λw (torch.optim's coupled weight decay)."""
    return grad if is_zero(weight_decay) else axpy(grad, params, weight_decay)


def first_step(step: int) -> tuple[float]:
    """rule.scalars for a rule whose first step differs (torch's momentum buffer, Rprop's step size):
    a flag, so a graph compiled once serves every chunk (engine/fused.py)."""
    return (1.0 if step == 1 else 0.0,)


def pick_first(first, at_first, later) -> Tensor:
    """at_first() on the first step, later() after it. `first` is first_step's flag: a float in the
    eager engine (a plain branch, computing only what it returns), a tensor in the fused one."""
    if isinstance(first, Tensor):
        return torch.where(first > 0, at_first(), later())
    return at_first() if first else later()


def beta_param(name: str, default: float, label: str, help: str, latex: str, low=0.0, high=0.999) -> Param:
    return Param(name, default, low, high, label=label, help=help, latex=latex)


def momentum_param(default: float = 0.9) -> Param:
    return Param("momentum", default, 0.0, 0.99, label="momentum",
                 help="Fraction of the previous step kept in the next one.", latex=r"\mu")
