"""The Surface type shared by every loss surface.

A surface is written once on components (`value_xy`, `grad_xy`, `hess_xy` take x and y tensors of
any matching shape); the (..., 2) forms of the public API are built on them here. The engine calls
the component forms directly, so it can keep x and y as separate contiguous rows.
"""

from __future__ import annotations


import torch
from torch import Tensor

from spec import Param, resolve_params


class Surface:
    """Base class: subclasses set the class attributes and implement the three *_xy methods."""

    key: str = ""
    name: str = ""
    latex: str = ""
    description: str = ""  # one line: what the surface teaches
    params: tuple[Param, ...] = ()

    def __init__(self, **values):
        self.values: dict = resolve_params(self.params, values, f"surface {self.key!r}")
        for p in self.params:  # a surface is only defined (and its minima right) inside its ranges
            v = self.values[p.name]
            if p.low is not None and not p.low <= v <= p.high:
                raise ValueError(f"surface {self.key!r}: {p.name} must be between {p.low:g} and {p.high:g}; got {v!r}")
        self.setup(**self.values)

    # --- to implement -----------------------------------------------------------------------
    def setup(self, **values) -> None:
        """Store derived constants (rotation matrix, minima, ...) from the parameter values."""

    def value_xy(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def grad_xy(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def hess_xy(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²)."""
        raise NotImplementedError

    # Whether the fused engine may compile this surface's derivatives, and if not, why (the page says it).
    compilable: bool = True
    not_compiled_reason: str = ""
    # What one gradient costs relative to a hand-written surface (the sweep pages' time guard, ui/compute.py).
    work_per_run_step: float = 1.0
    bounds: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 1.0), (-1.0, 1.0))
    minima: tuple[tuple[float, float], ...] = ()
    start: tuple[float, float] = (0.0, 0.0)
    # The scene that shows the lesson: optimizers drawn by default, the hyperparameters that
    # suit this surface's scale (others keep their spec defaults) and a step count.
    lesson_optimizers: tuple[str, ...] = ("sgd", "momentum", "adam")
    lesson_hparams: dict = {}
    lesson_steps: int = 300

    # --- the public (..., 2) API -------------------------------------------------------------
    def f(self, xy: Tensor) -> Tensor:
        return self.value_xy(xy[..., 0], xy[..., 1])

    def grad(self, xy: Tensor) -> Tensor:
        return torch.stack(self.grad_xy(xy[..., 0], xy[..., 1]), dim=-1)

    def hessian(self, xy: Tensor) -> Tensor:
        hxx, hxy, hyy = self.hess_xy(xy[..., 0], xy[..., 1])
        hxx, hxy, hyy = torch.broadcast_tensors(hxx, hxy, hyy)
        return torch.stack((torch.stack((hxx, hxy), -1), torch.stack((hxy, hyy), -1)), -2)

    def f_at(self, point) -> float:
        """f at one point, as a Python float (float64)."""
        x, y = (torch.tensor(float(v), dtype=torch.float64) for v in point)
        return float(self.value_xy(x, y))

    def grid(self, n: int = 160):
        """(xs, ys, z) as NumPy arrays over the view: z[i, j] = f(xs[j], ys[i]), for contour plots."""
        (x0, x1), (y0, y1) = self.bounds
        xs = torch.linspace(x0, x1, n, dtype=torch.float64)
        ys = torch.linspace(y0, y1, n, dtype=torch.float64)
        z = self.value_xy(xs.view(1, -1), ys.view(-1, 1))
        return xs.numpy(), ys.numpy(), z.numpy()

    def __call__(self, xy: Tensor) -> Tensor:
        return self.f(xy)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.values == other.values

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.values.items()))))

    @property
    def span(self) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.bounds
        return (x1 - x0, y1 - y0)


def refine_minimum(surface: Surface, guess: tuple[float, float], iterations: int = 50) -> tuple[float, float]:
    """Polish a minimum estimate with Newton's method in float64 (for minima with no closed form)."""
    p = torch.tensor(guess, dtype=torch.float64)
    for _ in range(iterations):
        g = surface.grad(p)
        h = surface.hessian(p)
        step = torch.linalg.solve(h, g)
        p = p - step
        if float(step.abs().max()) < 1e-16:
            break
    return (float(p[0]), float(p[1]))
