"""Classic test functions of the optimisation literature."""

from __future__ import annotations

import math

import torch

from spec import Param
from surfaces.base import Surface, refine_minimum


def _const(like, value):
    return torch.full_like(like, value)


class Rosenbrock(Surface):
    """f = (a − x)² + b(y − x²)²: a curved, flat-bottomed valley with its minimum at (a, a²)."""

    key = "rosenbrock"
    name = "Rosenbrock"
    latex = r"f = (a - x)^2 + b\,(y - x^2)^2"
    description = (
        "A long curved banana valley: reaching it is easy, following its flat floor to the minimum is the hard part."
    )
    params = (
        Param("a", 1.0, 0.5, 1.5, label="a", help="The minimum sits at (a, a²).", latex="a"),
        Param("b", 100.0, 1.0, 1000.0, log=True, label="b", help="Steepness of the valley walls.", latex="b"),
    )
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    start = (-1.5, 2.0)
    lesson_optimizers = ("sgd", "momentum", "adam", "newton")
    lesson_hparams = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "adam": {"lr": 0.05}}
    lesson_steps = 1000

    def setup(self, a, b):
        self.a, self.b = a, b
        self.minima = ((a, a * a),)

    def value_xy(self, x, y):
        d = y - x * x
        return (self.a - x) ** 2 + self.b * d * d

    def grad_xy(self, x, y):
        d = y - x * x
        return -2.0 * (self.a - x) - 4.0 * self.b * x * d, 2.0 * self.b * d

    def hess_xy(self, x, y):
        b = self.b
        return 2.0 - 4.0 * b * y + 12.0 * b * x * x, -4.0 * b * x, _const(x, 2.0 * b)


class Himmelblau(Surface):
    """f = (x² + y − 11)² + (x + y² − 7)²: four minima of equal depth."""

    key = "himmelblau"
    name = "Himmelblau"
    latex = r"f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2"
    description = "Four equally deep minima: where a run ends depends on the method as much as on the start."
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    start = (-0.3, -0.9)  # next to the local maximum, so the methods fan out to different minima
    lesson_optimizers = ("sgd", "momentum", "rmsprop", "adam")
    lesson_hparams = {"sgd": {"lr": 0.005}, "momentum": {"lr": 0.002}, "rmsprop": {"lr": 0.05}, "adam": {"lr": 0.1}}

    def setup(self):
        guesses = ((3.0, 2.0), (-2.805, 3.131), (-3.779, -3.283), (3.584, -1.848))
        self.minima = tuple(refine_minimum(self, g) for g in guesses)

    def value_xy(self, x, y):
        p, q = x * x + y - 11.0, x + y * y - 7.0
        return p * p + q * q

    def grad_xy(self, x, y):
        p, q = x * x + y - 11.0, x + y * y - 7.0
        return 4.0 * x * p + 2.0 * q, 2.0 * p + 4.0 * y * q

    def hess_xy(self, x, y):
        return 12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 4.0 * x + 12.0 * y * y - 26.0


class Rastrigin(Surface):
    """f = 20 + Σ (xᵢ² − 10 cos 2πxᵢ): a bowl covered with regularly spaced local minima."""

    key = "rastrigin"
    name = "Rastrigin"
    latex = r"f = 20 + \sum_{i} \left(x_i^2 - 10\cos 2\pi x_i\right)"
    description = "An egg-box of local minima on a bowl: most runs stop in the nearest dimple."
    bounds = ((-5.12, 5.12), (-5.12, 5.12))
    minima = ((0.0, 0.0),)
    start = (3.2, -2.3)
    lesson_hparams = {"sgd": {"lr": 0.002}, "momentum": {"lr": 0.002}, "adam": {"lr": 0.1}}

    def value_xy(self, x, y):
        tau = 2.0 * math.pi
        return 20.0 + x * x - 10.0 * torch.cos(tau * x) + y * y - 10.0 * torch.cos(tau * y)

    def grad_xy(self, x, y):
        tau = 2.0 * math.pi
        return 2.0 * x + 10.0 * tau * torch.sin(tau * x), 2.0 * y + 10.0 * tau * torch.sin(tau * y)

    def hess_xy(self, x, y):
        tau = 2.0 * math.pi
        k = 10.0 * tau * tau
        return 2.0 + k * torch.cos(tau * x), _const(x, 0.0), 2.0 + k * torch.cos(tau * y)


class Beale(Surface):
    """f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², minimum at (3, 0.5)."""

    key = "beale"
    name = "Beale"
    latex = r"f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2"
    description = (
        "Flat regions next to walls that rise by orders of magnitude: step sizes that suit "
        "one part of the view explode in another."
    )
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    minima = ((3.0, 0.5),)
    start = (1.0, 1.5)
    lesson_optimizers = ("sgd", "momentum", "adagrad", "adam")
    lesson_hparams = {"sgd": {"lr": 1e-3}, "momentum": {"lr": 1e-3}, "adagrad": {"lr": 0.5}, "adam": {"lr": 0.05}}
    lesson_steps = 1000

    def _terms(self, x, y):
        y2 = y * y
        return 1.5 - x + x * y, 2.25 - x + x * y2, 2.625 - x + x * y2 * y

    def value_xy(self, x, y):
        a, b, c = self._terms(x, y)
        return a * a + b * b + c * c

    def grad_xy(self, x, y):
        a, b, c = self._terms(x, y)
        y2 = y * y
        gx = 2.0 * (a * (y - 1.0) + b * (y2 - 1.0) + c * (y2 * y - 1.0))
        gy = 2.0 * x * (a + 2.0 * b * y + 3.0 * c * y2)
        return gx, gy

    def hess_xy(self, x, y):
        a, b, c = self._terms(x, y)
        y2 = y * y
        hxx = 2.0 * ((y - 1.0) ** 2 + (y2 - 1.0) ** 2 + (y2 * y - 1.0) ** 2)
        hxy = 2.0 * (
            x * (y - 1.0) + a + 2.0 * x * y * (y2 - 1.0) + 2.0 * b * y + 3.0 * x * y2 * (y2 * y - 1.0) + 3.0 * c * y2
        )
        hyy = 2.0 * x * x + 8.0 * x * x * y2 + 4.0 * b * x + 18.0 * x * x * y2 * y2 + 12.0 * c * x * y
        return hxx, hxy, hyy
