"""The optimizers' shared hyperparameter declarations (lr, eps, weight decay), on the ground-floor Param."""

from __future__ import annotations

from spec import Param, resolve_params

__all__ = ["Param", "resolve_params", "float_param", "lr_param", "eps_param", "weight_decay_param"]


def float_param(name, default, low, high, *, log=False, label="", help="", latex=""):
    return Param(name, default, low, high, log=log, label=label or name, help=help, latex=latex)


def lr_param(default, low=1e-4, high=10.0, *, help="Step size η: how far each update moves."):
    return Param("lr", default, low, high, log=True, label="learning rate", help=help, latex=r"\eta")


def eps_param(
    default,
    low=1e-10,
    high=1.0,
    *,
    help="Added to the denominator so it never divides by zero; "
    "large values make the method behave more like plain SGD.",
):
    return Param("eps", default, low, high, log=True, label="epsilon", help=help, latex=r"\varepsilon")


def weight_decay_param(default=0.0, *, help="L2 penalty added to the gradient (λw)."):
    return Param("weight_decay", default, 0.0, 1.0, label="weight decay", help=help, latex=r"\lambda")
