"""The theory page's rules are the code's: for each optimizer, one update computed from its LaTeX rule
exactly as the page prints it (written out here, symbol for symbol, per coordinate) equals the
engine's update, at every step of a run (first steps, bias corrections, Lookahead's syncs, Rprop's
flips), with default and non-default hyperparameters."""

from __future__ import annotations

import importlib
import math
import pkgutil
from pathlib import Path

import pytest

from engine.anatomy import anatomy
from optimizers import available_optimizers, get_optimizer


def sign(v):
    return (v > 0) - (v < 0)


def coords(d, name, state=None):
    s = d.state_before if state is None else state
    v = s[name]
    return v if isinstance(v, tuple) else (v, v)


def g_l2(d, hp, i):  # g_t = ∇f(w_t) + λ w_t
    return d.grad[i] + hp.get("weight_decay", 0.0) * d.position[i]


def sgd(d, hp, t):
    return [d.position[i] - hp["lr"] * g_l2(d, hp, i) for i in (0, 1)]


def momentum(d, hp, t):
    out = []
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        b = gt if t == 1 else hp["momentum"] * coords(d, "buf")[i] + (1 - hp["dampening"]) * gt
        out.append(d.position[i] - hp["lr"] * b)
    return out


def nesterov(d, hp, t):
    mu, u = hp["momentum"], coords(d, "buf")
    assert d.probe == pytest.approx([d.position[i] + mu * u[i] for i in (0, 1)], rel=1e-12, abs=1e-15)
    return [d.position[i] + (mu * u[i] - hp["lr"] * d.grad[i]) for i in (0, 1)]


def adagrad(d, hp, t):
    eta_t = hp["lr"] / (1 + (t - 1) * hp["lr_decay"])
    out = []
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        big_g = coords(d, "sum_sq")[i] + gt**2
        out.append(d.position[i] - eta_t / (math.sqrt(big_g) + hp["eps"]) * gt)
    return out


def rmsprop(d, hp, t):
    a, out = hp["alpha"], []
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        v = a * coords(d, "square_avg")[i] + (1 - a) * gt**2
        if hp["centered"]:
            gbar = a * coords(d, "grad_avg")[i] + (1 - a) * gt
            root = math.sqrt(v - gbar**2)
        else:
            root = math.sqrt(v)
        if hp["momentum"]:
            b = hp["momentum"] * coords(d, "buf")[i] + gt / (root + hp["eps"])
            out.append(d.position[i] - hp["lr"] * b)
        else:
            out.append(d.position[i] - hp["lr"] / (root + hp["eps"]) * gt)
    return out


def adadelta(d, hp, t):
    rho, eps, out = hp["rho"], hp["eps"], []
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        eg = rho * coords(d, "square_avg")[i] + (1 - rho) * gt**2
        delta = math.sqrt(coords(d, "acc_delta")[i] + eps) / math.sqrt(eg + eps) * gt
        out.append(d.position[i] - hp["lr"] * delta)
    return out


def _moments(d, hp, i, gt, state=None):
    b1, b2 = hp["beta1"], hp["beta2"]
    return b1 * coords(d, "m", state)[i] + (1 - b1) * gt, b2 * coords(d, "v", state)[i] + (1 - b2) * gt**2


def adam(d, hp, t, decoupled=False, amsgrad=False):
    b1, b2, out = hp["beta1"], hp["beta2"], []
    for i in (0, 1):
        gt = d.grad[i] if decoupled else g_l2(d, hp, i)
        m, v = _moments(d, hp, i, gt)
        m_hat = m / (1 - b1**t)
        if amsgrad:
            vmax = max(coords(d, "v_max")[i], v)
            den = math.sqrt(vmax / (1 - b2**t)) + hp["eps"]
        else:
            den = math.sqrt(v / (1 - b2**t)) + hp["eps"]
        w = (1 - hp["lr"] * hp["weight_decay"]) * d.position[i] if decoupled else d.position[i]
        out.append(w - hp["lr"] / den * m_hat)
    return out


def nadam(d, hp, t):
    b1, b2, psi, out = hp["beta1"], hp["beta2"], hp["momentum_decay"], []

    def mu(s):
        return b1 * (1 - 0.5 * 0.96 ** (s * psi))

    prod_t = coords(d, "mu_product")[0] * mu(t)
    prod_next = prod_t * mu(t + 1)
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        m, v = _moments(d, hp, i, gt)
        v_hat = v / (1 - b2**t)
        bracket = (1 - mu(t)) * gt / (1 - prod_t) + mu(t + 1) * m / (1 - prod_next)
        out.append(d.position[i] - hp["lr"] / (math.sqrt(v_hat) + hp["eps"]) * bracket)
    return out


def adamax(d, hp, t):
    b1, b2, out = hp["beta1"], hp["beta2"], []
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        m = b1 * coords(d, "m")[i] + (1 - b1) * gt
        u = max(b2 * coords(d, "u")[i], abs(gt) + hp["eps"])
        out.append(d.position[i] - hp["lr"] / (1 - b1**t) * m / u)
    return out


def radam(d, hp, t, state=None, position=None):
    b1, b2, out = hp["beta1"], hp["beta2"], []
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    position = d.position if position is None else position
    for i in (0, 1):
        gt = d.grad[i] + hp["weight_decay"] * position[i]
        m, v = _moments(d, hp, i, gt, state)
        m_hat = m / (1 - b1**t)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            out.append(position[i] - hp["lr"] * r * math.sqrt(1 - b2**t) / (math.sqrt(v) + hp["eps"]) * m_hat)
        else:
            out.append(position[i] - hp["lr"] * m_hat)
    return out


def asgd(d, hp, t):
    eta_t = hp["lr"] / (1 + hp["lambd"] * hp["lr"] * (t - 1)) ** hp["alpha"]
    return [(1 - hp["lambd"] * eta_t) * d.position[i] - eta_t * g_l2(d, hp, i) for i in (0, 1)]


def adafactor(d, hp, t):
    tau = hp["beta2_decay"]
    gt = d.grad  # weight decay is decoupled: w shrinks by (1 − ηλ)
    v_hat = [(1 - t**tau) * coords(d, "v")[i] + t**tau * gt[i] ** 2 for i in (0, 1)]
    u = [gt[i] / math.sqrt(v_hat[i]) for i in (0, 1)]
    rho = min(hp["lr"], 1 / math.sqrt(t))

    def rms(z):
        return math.sqrt((z[0] ** 2 + z[1] ** 2) / 2)

    alpha = max(hp["eps2"], rms(d.position)) * rho
    clip = max(1.0, rms(u) / hp["d"])
    shrink = 1 - hp["lr"] * hp["weight_decay"]
    return [shrink * d.position[i] - alpha * u[i] / clip for i in (0, 1)]


def rprop(d, hp, t):
    out = []
    for i in (0, 1):
        prev = coords(d, "prev")[i]
        s_prev = hp["lr"] if t == 1 else coords(d, "step_size")[i]
        flip = d.grad[i] * prev
        factor = hp["etaplus"] if flip > 0 else hp["etaminus"] if flip < 0 else 1.0
        s = min(max(s_prev * factor, hp["step_size_min"]), hp["step_size_max"])
        out.append(d.position[i] if flip < 0 else d.position[i] - s * sign(d.grad[i]))
    return out


def adabound(d, hp, t):
    b1, b2, out = hp["beta1"], hp["beta2"], []
    low, high = hp["final_lr"] * (1 - 1 / (hp["gamma"] * t + 1)), hp["final_lr"] * (1 + 1 / (hp["gamma"] * t))
    for i in (0, 1):
        gt = g_l2(d, hp, i)
        m, v = _moments(d, hp, i, gt)
        eta_hat = min(max(hp["lr"] * math.sqrt(1 - b2**t) / ((1 - b1**t) * (math.sqrt(v) + hp["eps"])), low), high)
        out.append(d.position[i] - eta_hat * m)
    return out


def lion(d, hp, t):
    b1, out = hp["beta1"], []
    for i in (0, 1):
        c = b1 * coords(d, "m")[i] + (1 - b1) * d.grad[i]
        out.append(d.position[i] - hp["lr"] * (sign(c) + hp["weight_decay"] * d.position[i]))
    return out


def _sync(d, hp, t, fast, k, alpha):
    if t % k:
        return fast
    slow = coords(d, "slow")
    return [slow[i] + alpha * (fast[i] - slow[i]) for i in (0, 1)]


def lookahead(d, hp, t):  # inner SGD here (the inner rules are tested above)
    return _sync(d, hp, t, sgd(d, hp, t), hp["k"], hp["slow_alpha"])


def ranger(d, hp, t):
    inner = {k.removeprefix("inner."): v for k, v in d.state_before.items() if k.startswith("inner.")}
    return _sync(d, hp, t, radam(d, hp, t, state=inner), hp["k"], hp["alpha"])


def newton(d, hp, t):
    (a, b), (_, c) = d.extras["hessian"]
    lam = hp["damping"]
    a, c = a + lam, c + lam
    det = a * c - b * b
    gx, gy = d.grad
    return [d.position[0] - hp["lr"] * (c * gx - b * gy) / det, d.position[1] - hp["lr"] * (a * gy - b * gx) / det]


def diag_newton(d, hp, t):
    (a, _), (_, c) = d.extras["hessian"]
    h = (a, c)
    return [d.position[i] - hp["lr"] / (h[i] + hp["eps"]) * d.grad[i] for i in (0, 1)]


PRINTED = {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov, "adagrad": adagrad, "rmsprop": rmsprop,
    "adadelta": adadelta, "adam": adam, "amsgrad": lambda d, hp, t: adam(d, hp, t, amsgrad=True),
    "adamw": lambda d, hp, t: adam(d, hp, t, decoupled=True), "nadam": nadam, "adamax": adamax, "radam": radam,
    "asgd": asgd, "adafactor": adafactor, "rprop": rprop, "adabound": adabound, "lion": lion,
    "lookahead": lookahead, "ranger": ranger, "newton": newton, "diag_newton": diag_newton,
}  # fmt: skip
SETTINGS = {
    "momentum": {"dampening": 0.3, "weight_decay": 0.05},
    "adagrad": {"lr_decay": 0.05, "weight_decay": 0.1},
    "rmsprop": {"centered": True, "momentum": 0.5, "weight_decay": 0.05},
    "adam": {"weight_decay": 0.1},
    "adamw": {"weight_decay": 0.3},
    "sgd": {"weight_decay": 0.1},
    "lion": {"weight_decay": 0.2},
    "lookahead": {"inner": "sgd", "k": 3},
    "newton": {"damping": 0.7, "lr": 0.6},
    "rprop": {"lr": 0.5},
    "adafactor": {"weight_decay": 0.05},
    "asgd": {"lambd": 0.05, "t0": 3.0},
}

# Optimizers added since keep their printed rule beside their own tests, one module each:
# tests/optimizers/printed_<name>.py with PRINTED (and SETTINGS where a setting changes the rule's form).
for _module in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if _module.name.startswith("printed_"):
        _printed = importlib.import_module(f"tests.optimizers.{_module.name}")
        PRINTED.update(_printed.PRINTED)
        SETTINGS.update(getattr(_printed, "SETTINGS", {}))


def test_every_optimizer_has_its_printed_rule_here():
    assert set(PRINTED) == set(available_optimizers())


@pytest.mark.parametrize("surface", ["ravine", "himmelblau"])
@pytest.mark.parametrize("settings", ["defaults", "changed"])
@pytest.mark.parametrize("key", available_optimizers())
def test_one_step_of_the_printed_rule_equals_the_code(key, settings, surface):
    hp = get_optimizer(key).resolve({"inner": "sgd"} if key == "lookahead" else {})
    if settings == "changed":
        if key not in SETTINGS:
            pytest.skip("no other setting changes this rule's form")
        hp = get_optimizer(key).resolve(SETTINGS[key])
    details = anatomy(surface, key, steps=12, hparams=hp)
    for d in details:
        if not all(map(math.isfinite, d.new_position)):
            break
        want = PRINTED[key](d, hp, d.step)
        assert d.new_position == pytest.approx(want, rel=1e-9, abs=1e-12), f"{key}, update {d.step}"
