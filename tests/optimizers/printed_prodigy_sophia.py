"""The printed rules of Prodigy and Sophia (their `latex`), written out per coordinate for test_theory.py:
one update computed symbol for symbol from the state before it equals the engine's update."""

from __future__ import annotations

import math


def _pair(d, name):
    v = d.state_before[name]
    return v if isinstance(v, tuple) else (v, v)


def prodigy(d, hp, t):
    b1, b2, eps, lam = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]
    dt = d.state_before["d"]
    d_eta = dt * hp["lr"]
    if hp["use_bias_correction"]:
        d_eta *= math.sqrt(1 - b2**t) / (1 - b1**t)
    w, w0 = d.position, _pair(d, "p0")
    g = d.grad if hp["decouple"] else [d.grad[i] + lam * w[i] for i in (0, 1)]
    m = [b1 * _pair(d, "m")[i] + dt * (1 - b1) * g[i] for i in (0, 1)]
    v = [b2 * _pair(d, "v")[i] + dt**2 * (1 - b2) * g[i] ** 2 for i in (0, 1)]
    beta3 = math.sqrt(b2)
    r = beta3 * d.state_before["d_numerator"] + dt / hp["d0"] * d_eta * sum(g[i] * (w0[i] - w[i]) for i in (0, 1))
    s = [beta3 * _pair(d, "s")[i] + dt / hp["d0"] * d_eta * g[i] for i in (0, 1)]
    d_next = max(dt, hp["d_coef"] * r / (abs(s[0]) + abs(s[1])))
    shrink = 1 - lam * d_eta if hp["decouple"] else 1.0
    return [shrink * w[i] - d_eta * m[i] / (math.sqrt(v[i]) + d_next * eps) for i in (0, 1)]


def sophia(d, hp, t):
    b1, b2, k = hp["beta1"], hp["beta2"], hp["update_period"]
    (hxx, _), (_, hyy) = d.extras["hessian"]
    h_hat = (hxx, hyy)
    out = []
    for i in (0, 1):
        m = b1 * _pair(d, "m")[i] + (1 - b1) * d.grad[i]
        h = _pair(d, "h")[i]
        if (t - 1) % k == 0:
            h = b2 * h + (1 - b2) * h_hat[i]
        ratio = m / max(hp["gamma"] * h, hp["eps"])
        out.append((1 - hp["lr"] * hp["weight_decay"]) * d.position[i] - hp["lr"] * max(-1.0, min(1.0, ratio)))
    return out


PRINTED = {"prodigy": prodigy, "sophia": sophia}
SETTINGS = {
    "prodigy": {"weight_decay": 0.1, "use_bias_correction": True, "d0": 1e-3, "beta1": 0.5},
    "sophia": {"weight_decay": 0.1, "update_period": 3, "gamma": 0.5, "lr": 0.1},
}
