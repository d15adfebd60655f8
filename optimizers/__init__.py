"""Update rules (pure torch), their specs and the registry.

    from optimizers import get_optimizer, available_optimizers
    spec = get_optimizer("adam")        # OptimizerSpec: name, params, latex, reference, build
"""

from __future__ import annotations

from optimizers.adam import ADABOUND, ADAM, ADAMAX, ADAMW, AMSGRAD, NADAM, RADAM
from optimizers.adaptive import ADADELTA, ADAGRAD, RMSPROP
from optimizers.base import OptimizerSpec, Rule
from optimizers.hparams import Param
from optimizers.lookahead import LOOKAHEAD, RANGER
from optimizers.newton import DIAG_NEWTON, NEWTON
from optimizers.sgd import MOMENTUM, NESTEROV, SGD
from optimizers.sign import LION, RPROP

# Display order. An explicit tuple: adding an optimizer is one line here.
OPTIMIZERS: tuple[OptimizerSpec, ...] = (
    SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADADELTA, ADAM, AMSGRAD, ADAMW, NADAM, ADAMAX, RADAM,
    RPROP, ADABOUND, LION, LOOKAHEAD, RANGER, NEWTON, DIAG_NEWTON,
)
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


__all__ = ["OPTIMIZERS", "OptimizerSpec", "Param", "Rule", "available_optimizers", "get_optimizer"]
