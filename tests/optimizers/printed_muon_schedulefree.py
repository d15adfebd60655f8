"""The printed rules of Muon and Schedule-Free SGD / AdamW (their LaTeX, written out per coordinate),
for test_theory.py.

Muon's Newton–Schulz runs in bfloat16: its printed X₀ = bf16(B̃)/max(‖bf16(B̃)‖, ε) and
X ← (a + b‖X‖² + c‖X‖⁴)X are written here with the roundings the rule prints, each bfloat16 result
computed in float32 (numpy float32 scalars) and rounded once, as torch's kernels do. A bfloat16
direction that differed would show as a relative error of 2⁻⁸, far above test_theory's 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from optimizers.muon import NS_COEFFICIENTS, adjust_ratio


def _state(d, name):
    v = d.state_before[name]
    return v if isinstance(v, tuple) else (v, v)


def bf16(v) -> np.float32:
    """v rounded to bfloat16 (through float32, as torch converts), held as a float32."""
    return np.float32(torch.tensor(float(np.float32(v)), dtype=torch.float32).to(torch.bfloat16).item())


def muon(d, hp, t):
    mu, lr, wd = hp["momentum"], hp["lr"], hp["weight_decay"]
    a, b, c = (np.float32(v) for v in NS_COEFFICIENTS[hp["ns_coefficients"]])
    buf = [mu * _state(d, "buf")[i] + (1 - mu) * d.grad[i] for i in (0, 1)]  # B_t = μB + (1 − μ)g
    blend = [(1 - mu) * d.grad[i] + mu * buf[i] for i in (0, 1)] if hp["nesterov"] else buf
    x = [bf16(v) for v in blend]
    norm = bf16(np.sqrt(x[0] * x[0] + x[1] * x[1]))
    x = [bf16(v / max(norm, bf16(hp["eps"]))) for v in x]  # X₀
    for _ in range(hp["ns_steps"]):
        s = bf16(x[0] * x[0] + x[1] * x[1])  # ‖X‖²
        poly = bf16(b * s + c * (s * s))  # b‖X‖² + c‖X‖⁴
        x = [bf16(a * v + poly * v) for v in x]  # (a + b‖X‖² + c‖X‖⁴)X
    s_lr = adjust_ratio(hp["adjust_lr_fn"])
    return [(1 - lr * wd) * d.position[i] - lr * s_lr * float(x[i]) for i in (0, 1)]


def _schedulefree(d, hp, t, beta, adamw):
    lr, wd, warmup, r, p = hp["lr"], hp["weight_decay"], hp["warmup_steps"], hp["r"], hp["weight_lr_power"]
    z, x = _state(d, "z"), d.position

    def eta(i):  # η_i = η·min(1, i/W)
        return lr * min(1.0, i / warmup) if warmup else lr

    # y_t = (1 − β)z_t + βx_t: the point the gradient was taken at.
    y = [(1 - beta) * z[i] + beta * x[i] for i in (0, 1)]
    assert all(math.isclose(d.probe[i], y[i], rel_tol=1e-12, abs_tol=1e-13) for i in (0, 1))
    # w_i = i^r·η_max^p with η_max the largest η so far (a constant η: η_max = η_i).
    weights = [i**r * max(eta(j) for j in range(1, i + 1)) ** p for i in range(1, t + 1)]
    c = weights[-1] / sum(weights) if sum(weights) > 0 else 0.0
    out = []
    for i in (0, 1):
        g = d.grad[i]
        if adamw:
            v = hp["beta2"] * _state(d, "v")[i] + (1 - hp["beta2"]) * g * g
            g = g / (math.sqrt(v / (1 - hp["beta2"] ** t)) + hp["eps"])
        g = g + wd * y[i]
        z_next = z[i] - eta(t) * g
        out.append((1 - c) * x[i] + c * z_next)
    return out


def schedulefree_sgd(d, hp, t):
    return _schedulefree(d, hp, t, hp["momentum"], adamw=False)


def schedulefree_adamw(d, hp, t):
    return _schedulefree(d, hp, t, hp["beta1"], adamw=True)


PRINTED = {"muon": muon, "schedulefree_sgd": schedulefree_sgd, "schedulefree_adamw": schedulefree_adamw}
SETTINGS = {
    "muon": {
        "nesterov": False,
        "weight_decay": 0.3,
        "ns_coefficients": "cubic",
        "ns_steps": 4,
        "adjust_lr_fn": "match_rms_adamw",
        "momentum": 0.8,
    },
    "schedulefree_sgd": {"warmup_steps": 5, "r": 1.0, "weight_lr_power": 1.5, "weight_decay": 0.05},
    "schedulefree_adamw": {"warmup_steps": 5, "r": 0.5, "weight_lr_power": 3.0, "weight_decay": 0.1, "beta2": 0.9},
}
