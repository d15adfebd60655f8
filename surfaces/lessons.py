"""Surfaces built for one lesson each: the ravine, the saddles, the plateau, two wells."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from spec import Param
from surfaces.base import Surface, refine_minimum


def _const(like: Tensor, value: float) -> Tensor:
    return torch.full_like(like, value)


class Ravine(Surface):
    """f = ½(u²/κ + v²) with (u, v) the coordinates rotated by `angle`.

    The steepest curvature stays 1 whatever κ, so the stable step size of gradient descent
    (η < 2) does not move with the condition slider; only the shallow direction slows down.
    """

    key = "ravine"
    name = "Quadratic ravine"
    latex = r"f = \tfrac12\left(u^2/\kappa + v^2\right),\quad \binom{u}{v} = R_\theta \binom{x}{y}"
    description = (
        "An ill-conditioned bowl: gradient descent crawls along the shallow floor (it also zig-zags "
        "across the steep walls once η is above 1, and diverges above 2); rotate it and per-coordinate "
        "scaling stops helping."
    )
    params = (
        Param(
            "condition",
            50.0,
            1.0,
            1000.0,
            log=True,
            label="condition number κ",
            help="Ratio of the steep to the shallow curvature.",
            latex=r"\kappa",
        ),
        Param(
            "angle",
            0.0,
            -90.0,
            90.0,
            label="rotation (degrees)",
            help="Turns the ravine away from the axes; 0 keeps it axis-aligned.",
            latex=r"\theta",
        ),
    )
    bounds = ((-4.0, 4.0), (-3.0, 3.0))
    minima = ((0.0, 0.0),)
    start = (-3.5, 1.5)
    # Same η for SGD and momentum: SGD needs ~240 steps to 1e-3, momentum ~25.
    lesson_hparams = {"sgd": {"lr": 0.5}, "momentum": {"lr": 0.5}, "adam": {"lr": 0.1}}
    lesson_steps = 250

    def setup(self, condition, angle):
        theta = math.radians(angle)
        self.c, self.s, self.k = math.cos(theta), math.sin(theta), 1.0 / condition

    def _uv(self, x, y):
        return self.c * x + self.s * y, -self.s * x + self.c * y

    def from_ravine_coords(self, u: float, v: float) -> tuple[float, float]:
        """The point (x, y) whose ravine coordinates are (u along the floor, v across it): the same
        place relative to the ravine whatever its rotation (used to compare angles fairly)."""
        return (self.c * u - self.s * v, self.s * u + self.c * v)

    def to_ravine_coords(self, x: float, y: float) -> tuple[float, float]:
        """(u along the floor, v across it) of the point (x, y): the inverse of from_ravine_coords."""
        return self._uv(x, y)

    def value_xy(self, x, y):
        u, v = self._uv(x, y)
        return 0.5 * (self.k * u * u + v * v)

    def grad_xy(self, x, y):
        u, v = self._uv(x, y)
        ku = self.k * u
        return ku * self.c - v * self.s, ku * self.s + v * self.c

    def hess_xy(self, x, y):
        c, s, k = self.c, self.s, self.k
        return _const(x, k * c * c + s * s), _const(x, (k - 1.0) * c * s), _const(x, k * s * s + c * c)


class Saddle(Surface):
    """f = x²/2 + y⁴/4 − y²/2: a strict saddle at the origin with two minima at (0, ±1)."""

    key = "saddle"
    name = "Saddle point"
    latex = r"f = \tfrac12 x^2 + \tfrac14 y^4 - \tfrac12 y^2"
    description = (
        "A saddle at the origin: a start on the ridge line barely feels the downhill "
        "direction, and the question is who escapes to the valleys at y = ±1 first."
    )
    bounds = ((-2.0, 2.0), (-1.6, 1.6))
    minima = ((0.0, 1.0), (0.0, -1.0))
    start = (-1.8, 0.001)
    lesson_optimizers = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam")
    lesson_hparams = {
        "sgd": {"lr": 0.05},
        "momentum": {"lr": 0.05},
        "nesterov": {"lr": 0.05},
        "adagrad": {"lr": 0.2},
        "rmsprop": {"lr": 0.02},
        "adam": {"lr": 0.05},
    }

    def value_xy(self, x, y):
        y2 = y * y
        return 0.5 * x * x + 0.25 * y2 * y2 - 0.5 * y2

    def grad_xy(self, x, y):
        return x.clone(), y * y * y - y

    def hess_xy(self, x, y):
        return _const(x, 1.0), _const(x, 0.0), 3.0 * y * y - 1.0


class SaddleUnbounded(Surface):
    """f = ½(x² − y²): the textbook saddle with no minimum; escaping runs leave the view."""

    key = "saddle_unbounded"
    name = "Saddle point (unbounded)"
    latex = r"f = \tfrac12\left(x^2 - y^2\right)"
    description = (
        "The classic horse saddle: nothing stops a run that escapes along y, so it is "
        "marked diverged once it leaves the view far behind."
    )
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minima = ()
    start = (-1.8, 0.001)
    lesson_optimizers = ("sgd", "momentum", "rmsprop", "adam")
    lesson_hparams = {"sgd": {"lr": 0.05}, "momentum": {"lr": 0.05}, "rmsprop": {"lr": 0.02}, "adam": {"lr": 0.05}}

    def value_xy(self, x, y):
        return 0.5 * (x * x - y * y)

    def grad_xy(self, x, y):
        return x.clone(), -y

    def hess_xy(self, x, y):
        return _const(x, 1.0), _const(x, 0.0), _const(x, -1.0)


class Plateau(Surface):
    """f = 1 − exp(−(x² + y²)/w²): a narrow well in a wide, almost flat plain."""

    key = "plateau"
    name = "Plateau"
    latex = r"f = 1 - e^{-(x^2 + y^2)/w^2}"
    description = (
        "Far from the well the gradient is almost zero: plain gradient steps start tiny and grow only "
        "near the well's wall, while methods that divide by the gradient's size take full-size steps "
        "from the start."
    )
    params = (
        Param(
            "width",
            1.5,
            0.3,
            3.0,
            label="well width w",
            help="Radius of the well; the plain around it is flatter the narrower the well.",
            latex="w",
        ),
    )
    bounds = ((-4.0, 4.0), (-4.0, 4.0))
    minima = ((0.0, 0.0),)
    start = (-3.0, 2.5)
    lesson_optimizers = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
    lesson_hparams = {
        "sgd": {"lr": 0.5},
        "momentum": {"lr": 0.5},
        "adagrad": {"lr": 0.5},
        "rmsprop": {"lr": 0.05},
        "adam": {"lr": 0.1},
    }

    def setup(self, width):
        self.inv_w2 = 1.0 / (width * width)

    def value_xy(self, x, y):
        return 1.0 - torch.exp(-(x * x + y * y) * self.inv_w2)

    def grad_xy(self, x, y):
        e = torch.exp(-(x * x + y * y) * self.inv_w2) * (2.0 * self.inv_w2)
        return e * x, e * y

    def hess_xy(self, x, y):
        a = 2.0 * self.inv_w2
        e = torch.exp(-(x * x + y * y) * self.inv_w2) * a
        return e * (1.0 - a * x * x), -e * a * x * y, e * (1.0 - a * y * y)


class TwoWells(Surface):
    """f = (x² − 1)² + t·x + y²: a shallow local well at x ≈ 1 beside the deeper one at x ≈ −1."""

    key = "two_wells"
    name = "Two wells"
    latex = r"f = (x^2 - 1)^2 + t\,x + y^2"
    description = (
        "Two valleys of different depth: a start on the shallow side shows which "
        "methods settle in the nearby local minimum and which roll over the hump."
    )
    params = (
        Param(
            "tilt",
            0.5,
            0.0,
            1.0,
            label="tilt t",
            help="How much deeper the left well is than the right one.",
            latex="t",
        ),
    )
    bounds = ((-2.0, 2.0), (-1.5, 1.5))
    start = (1.8, 1.2)
    # SGD and Adam settle in the shallow right well; momentum rolls over into the deep one.
    lesson_hparams = {"sgd": {"lr": 0.02}, "momentum": {"lr": 0.02}, "adam": {"lr": 0.05}}

    def setup(self, tilt):
        self.tilt = tilt
        # Minima are the roots of 4x³ − 4x + t = 0 with positive curvature; global one first.
        roots = [r for r in _real_cubic_roots(4.0, 0.0, -4.0, tilt) if 12 * r * r - 4 > 0]
        points = [refine_minimum(self, (r, 0.0)) for r in roots]
        self.minima = tuple(sorted(points, key=lambda p: float(self.f(torch.tensor(p, dtype=torch.float64)))))

    def value_xy(self, x, y):
        w = x * x - 1.0
        return w * w + self.tilt * x + y * y

    def grad_xy(self, x, y):
        return 4.0 * x * (x * x - 1.0) + self.tilt, 2.0 * y

    def hess_xy(self, x, y):
        return 12.0 * x * x - 4.0, _const(x, 0.0), _const(x, 2.0)


def _real_cubic_roots(a, b, c, d):
    import numpy as np

    roots = np.roots([a, b, c, d])
    return sorted(float(r.real) for r in roots if abs(r.imag) < 1e-9)
