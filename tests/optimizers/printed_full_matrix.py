"""The printed rules of full-matrix AdaGrad and Shampoo (their LaTeX, written out entry by entry), for
test_theory.py.

The 2 × 2 matrix roots are written in closed form, independently of the code's eigen-solver: for a
symmetric positive definite A = [[a, b], [b, c]], √A = (A + sI)/t with s = √det A and t = √(tr A + 2s)
(Cayley–Hamilton: (A + sI)² = A² + 2sA + s²I = (tr A + 2s)·A when s² = det A).
"""

from __future__ import annotations

import math


def sqrt2(a, b, c):
    """√A for A = [[a, b], [b, c]] symmetric positive definite, as (a', b', c')."""
    s = math.sqrt(a * c - b * b)
    t = math.sqrt(a + c + 2 * s)
    return (a + s) / t, b / t, (c + s) / t


def inv2(a, b, c):
    det = a * c - b * b
    return c / det, -b / det, a / det


def apply2(m, g):
    a, b, c = m
    return a * g[0] + b * g[1], b * g[0] + c * g[1]


def full_adagrad(d, hp, t):
    """G_t = G_{t−1} + g gᵀ,  w ← w − η (G_t + δI)^(−1/2) g."""
    g, delta = d.grad, hp["eps"]
    gxx, gyy = d.state_before["diag"]
    gxy = d.state_before["off"]
    gxx, gxy, gyy = gxx + g[0] * g[0], gxy + g[0] * g[1], gyy + g[1] * g[1]
    root = inv2(*sqrt2(gxx + delta, gxy, gyy + delta))  # (G + δI)^(−1/2)
    step = apply2(root, g)
    return [d.position[i] - hp["lr"] * step[i] for i in (0, 1)]


def shampoo(d, hp, t):
    """L_t = L_{t−1} + G Gᵀ, R_t = R_{t−1} + Gᵀ G, W ← W − η L^(−1/4) G R^(−1/4), G = gᵀ (a 1 × 2 row)."""
    g = d.grad
    left = d.state_before["left"] + g[0] * g[0] + g[1] * g[1]  # G Gᵀ = ‖g‖²
    rxx, ryy = d.state_before["right_diag"]
    rxy = d.state_before["right_off"]
    rxx, rxy, ryy = rxx + g[0] * g[0], rxy + g[0] * g[1], ryy + g[1] * g[1]  # Gᵀ G = g gᵀ
    quarter = sqrt2(*inv2(*sqrt2(rxx, rxy, ryy)))  # R^(−1/4) = √(R^(−1/2))
    row = apply2(quarter, g)  # G R^(−1/4) as a vector (R^(−1/4) is symmetric)
    return [d.position[i] - hp["lr"] * left**-0.25 * row[i] for i in (0, 1)]


PRINTED = {"full_adagrad": full_adagrad, "shampoo": shampoo}
SETTINGS = {"full_adagrad": {"eps": 0.1, "lr": 0.2}, "shampoo": {"eps": 0.01, "lr": 2.0}}
