"""The printed rules of Adan and AdEMAMix (their LaTeX, written out per coordinate), for test_theory.py."""

from __future__ import annotations

import math


def _state(d, name):
    v = d.state_before[name]
    return v if isinstance(v, tuple) else (v, v)


def adan(d, hp, t):
    b1, b2, b3, lr, wd = hp["beta1"], hp["beta2"], hp["beta3"], hp["lr"], hp["weight_decay"]
    out = []
    for i in (0, 1):
        g = d.grad[i]
        delta = 0.0 if t == 1 else g - _state(d, "g_prev")[i]  # Δ₁ = 0
        m = b1 * _state(d, "m")[i] + (1 - b1) * g
        v = b2 * _state(d, "v_diff")[i] + (1 - b2) * delta
        n = b3 * _state(d, "n")[i] + (1 - b3) * (g + b2 * delta) ** 2
        step = lr / (math.sqrt(n / (1 - b3**t)) + hp["eps"]) * (m / (1 - b1**t) + b2 * v / (1 - b2**t))
        w = d.position[i]
        if hp["weight_decouple"]:
            out.append((1 - lr * wd) * w - step)
        else:
            out.append((w - step) / (1 + lr * wd))
    return out


def ademamix(d, hp, t):
    b1, b2, b3, lr, wd = hp["beta1"], hp["beta2"], hp["beta3"], hp["lr"], hp["weight_decay"]
    alpha, big_t = hp["alpha"], hp["t_alpha_beta3"]
    if big_t:
        alpha_t = min(t * alpha / big_t, alpha)
        s = t / big_t
        beta3_t = min(math.exp(math.log(b1) * math.log(b3) / ((1 - s) * math.log(b3) + s * math.log(b1))), b3)
    else:
        alpha_t, beta3_t = alpha, b3
    out = []
    for i in (0, 1):
        w = d.position[i]
        if hp["weight_decouple"]:
            g = d.grad[i]
            w = (1 - (wd if hp["fixed_decay"] else lr * wd)) * w
        else:
            g = d.grad[i] + wd * w
        m1 = b1 * _state(d, "m1")[i] + (1 - b1) * g
        m2 = beta3_t * _state(d, "m2")[i] + (1 - beta3_t) * g
        nu = b2 * _state(d, "v")[i] + (1 - b2) * g**2
        out.append(w - lr * (m1 / (1 - b1**t) + alpha_t * m2) / (math.sqrt(nu / (1 - b2**t)) + hp["eps"]))
    return out


PRINTED = {"adan": adan, "ademamix": ademamix}
SETTINGS = {
    "adan": {"weight_decay": 0.1, "beta2": 0.5},
    "ademamix": {"t_alpha_beta3": 5, "beta3": 0.99, "weight_decay": 0.05, "alpha": 8.0},
}
# Further settings that change the rule's form, checked by test_adan_ademamix.py.
MORE_SETTINGS = {
    "adan": [{"weight_decay": 0.2, "weight_decouple": True, "beta1": 0.7}],
    "ademamix": [
        {"weight_decay": 0.1, "weight_decouple": True, "t_alpha_beta3": 8},
        {"weight_decay": 0.05, "weight_decouple": True, "fixed_decay": True},
        {"alpha": 0.0},
    ],
}
