"""The ground floor: the hyperparameter spec type that optimizers, surfaces, schedules and the UI share.

Imports nothing of gradscape's, so every layer above can use it without reaching up.
"""

from spec.params import Param, resolve_params

__all__ = ["Param", "resolve_params"]
