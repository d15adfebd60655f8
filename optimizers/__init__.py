"""Update rules (pure torch), their specs and the registry.

from optimizers import get_optimizer, available_optimizers
spec = get_optimizer("adam")        # OptimizerSpec: name, params, latex, reference, build
"""

from __future__ import annotations

from optimizers.adam import ADABOUND, ADAM, ADAMAX, ADAMW, AMSGRAD, NADAM, RADAM
from optimizers.adafactor import ADAFACTOR
from optimizers.adan import ADAN
from optimizers.ademamix import ADEMAMIX
from optimizers.adaptive import ADADELTA, ADAGRAD, RMSPROP
from optimizers.asgd import ASGD
from optimizers.base import OptimizerSpec, Rule
from optimizers.full_matrix import FULL_ADAGRAD, SHAMPOO
from optimizers.hparams import Param
from optimizers.lbfgs import LBFGS
from optimizers.lookahead import RANGER, lookahead_spec
from optimizers.muon import MUON
from optimizers.newton import DIAG_NEWTON, NEWTON
from optimizers.schedulefree import SCHEDULEFREE_ADAMW, SCHEDULEFREE_SGD
from optimizers.prodigy import PRODIGY
from optimizers.sgd import MOMENTUM, NESTEROV, SGD
from optimizers.sign import LION, RPROP
from optimizers.sophia import SOPHIA

# Display order. Explicit tuples: adding an optimizer is one entry here. Lookahead wraps every
# plain one (first and second order), so its choices follow from these tuples.
FIRST_ORDER: tuple[OptimizerSpec, ...] = (
    SGD,
    MOMENTUM,
    NESTEROV,
    ADAGRAD,
    RMSPROP,
    ADADELTA,
    ADAM,
    AMSGRAD,
    ADAMW,
    NADAM,
    ADAMAX,
    RADAM,
    ASGD,
    ADAFACTOR,
    RPROP,
    ADABOUND,
    LION,
    FULL_ADAGRAD,
    SHAMPOO,
    ADAN,
    ADEMAMIX,
    MUON,
    PRODIGY,
    SCHEDULEFREE_SGD,
    SCHEDULEFREE_ADAMW,
)
SECOND_ORDER: tuple[OptimizerSpec, ...] = (NEWTON, DIAG_NEWTON, SOPHIA, LBFGS)
INNER_CHOICES: tuple[str, ...] = tuple(spec.key for spec in FIRST_ORDER + SECOND_ORDER)
LOOKAHEAD = lookahead_spec(INNER_CHOICES)
OPTIMIZERS: tuple[OptimizerSpec, ...] = FIRST_ORDER + (LOOKAHEAD, RANGER) + SECOND_ORDER
_BY_KEY = {spec.key: spec for spec in OPTIMIZERS}


def available_optimizers() -> tuple[str, ...]:
    return tuple(_BY_KEY)


def get_optimizer(key: str) -> OptimizerSpec:
    """The spec for a registry key; an unknown key is a ValueError listing the valid ones."""
    if isinstance(key, OptimizerSpec):
        return key
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {key!r}; valid: {', '.join(_BY_KEY)}") from None


__all__ = ["INNER_CHOICES", "OPTIMIZERS", "OptimizerSpec", "Param", "Rule", "available_optimizers", "get_optimizer"]
