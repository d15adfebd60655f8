"""Hyperparameter specs: one declaration drives validation, sliders and the theory page.

Optimizers declare their hyperparameters with `Param`; surfaces reuse the same type for their own
parameters (condition number, rotation, ...), so the UI has one widget builder for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch


@dataclass(frozen=True)
class Param:
    """One tunable value: its default, its slider range and how to show it.

    kind: "float" (slider, log-scale select-slider when `log`), "int", "bool" or "choice".
    `low`/`high` bound the slider and the property tests; the API accepts any finite value of
    the right kind (a notebook may want lr = 20), the UI stays inside the range.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    label: str = ""
    help: str = ""
    latex: str = ""
    kind: str = "float"
    choices: tuple = field(default=())

    def grid(self) -> tuple:
        """Values offered by a select-slider: a 1-2-5 geometric series for log scales.

        The default is always one of the values, so a fresh slider sits exactly on it.
        """
        if self.kind == "choice":
            return tuple(self.choices)
        if self.kind == "bool":
            return (False, True)
        if self.kind == "int":
            return tuple(range(int(self.low), int(self.high) + 1))
        if not self.log:
            raise ValueError(f"{self.name}: a linear float parameter has no grid; use a slider")
        values = set()
        for exponent in range(math.floor(math.log10(self.low)) - 1, math.ceil(math.log10(self.high)) + 1):
            for mantissa in (1.0, 2.0, 5.0):
                v = float(f"{mantissa}e{exponent}")  # via text so 0.1 is 0.1, not 0.1000000001
                if self.low * (1 - 1e-12) <= v <= self.high * (1 + 1e-12):
                    values.add(v)
        values.add(float(self.default))
        return tuple(sorted(values))

    def coerce(self, value: Any, owner: str) -> Any:
        """Check one value and bring it to this param's type; a clear ValueError otherwise.

        float params also accept a 1-D tensor (a sweep over B runs).
        """
        where = f"{owner}: {self.name}"
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{where} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return value
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError(f"{where} must be true or false; got {value!r}")
        if isinstance(value, torch.Tensor):
            if self.kind == "int":
                raise ValueError(f"{where} is an integer and cannot be swept as a tensor")
            if value.dim() > 1:
                raise ValueError(f"{where}: a sweep tensor must be 1-D (B,); got shape {tuple(value.shape)}")
            if not torch.isfinite(value).all():
                raise ValueError(f"{where} must be finite")
            if value.dim() == 0:
                return float(value)
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where} must be a number; got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{where} must be finite; got {value!r}")
        if self.kind == "int":
            floor = int(self.low) if self.low is not None else 0
            if int(value) != value or value < floor:
                raise ValueError(f"{where} must be a whole number >= {floor}; got {value!r}")
            return int(value)
        return float(value)


def resolve_params(specs: Sequence[Param], given: Mapping[str, Any] | None, owner: str) -> dict:
    """Defaults for what is missing, coerced values for what is given; unknown names refused."""
    given = dict(given or {})
    by_name = {p.name: p for p in specs}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        valid = ", ".join(by_name) or "none"
        raise ValueError(f"{owner}: unknown parameter(s) {', '.join(unknown)}; valid: {valid}")
    return {name: spec.coerce(given.get(name, spec.default), owner) for name, spec in by_name.items()}
