"""Loss surfaces (pure torch) and their registry.

from surfaces import get_surface, available_surfaces
s = get_surface("ravine", condition=100, angle=30)
"""

from __future__ import annotations

from surfaces.base import Surface
from surfaces.classic import Beale, Himmelblau, Rastrigin, Rosenbrock
from surfaces.data import LinearRegression, LogisticRegression
from surfaces.formula import FormulaSurface
from surfaces.lessons import Plateau, Ravine, Saddle, SaddleUnbounded, TwoWells

# Display order. An explicit tuple: adding a surface is one line here.
SURFACES: tuple[type[Surface], ...] = (
    Ravine,
    Saddle,
    SaddleUnbounded,
    Rosenbrock,
    Plateau,
    Himmelblau,
    Rastrigin,
    Beale,
    TwoWells,
    LinearRegression,
    LogisticRegression,
    FormulaSurface,
)
_BY_KEY = {cls.key: cls for cls in SURFACES}


def available_surfaces() -> tuple[str, ...]:
    return tuple(_BY_KEY)


def surface_class(key: str) -> type[Surface]:
    try:
        return _BY_KEY[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown surface {key!r}; valid: {', '.join(_BY_KEY)}") from None


def get_surface(key: str, **params) -> Surface:
    """A surface by registry key, with its own parameters (unknown ones are a ValueError)."""
    return surface_class(key)(**params)


__all__ = ["Surface", "SURFACES", "available_surfaces", "get_surface", "surface_class"]
