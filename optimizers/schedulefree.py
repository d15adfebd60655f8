"""Schedule-Free SGD and AdamW: averaging the iterates instead of decaying the learning rate."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_scaled, addcmul, beta_param, ema_sq, is_zero, lerp, with_weight_decay
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import Explanation, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param


class ScheduleFreeState(NamedTuple):
    y: Tensor  # where the gradient is taken (the package's parameter in train mode)
    x: Tensor  # the average this rule returned last (the point drawn; the package's eval() point)
    z: Tensor  # the plain SGD (or Adam-normalised) sequence (the package's state["z"])
    v: Tensor  # AdamW's second moment (the package's state["exp_avg_sq"]); zeros for SGD
    weight_sum: Tensor  # Σ of the averaging weights so far (the package's group["weight_sum"])
    lr_max_pow: Tensor  # η_max^p, η_max the largest η_t so far (the package's lr_max ** weight_lr_power)
    c: Tensor  # c_t = weight/weight_sum of the step just taken: the average moved the fraction c_t to z
    rate: Tensor  # the factor on g in z's step: η_t (SGD) or η_t/(√v̂ + ε) (AdamW)


def _warmed_up_lr(lr, step: int, warmup_steps: int):
    """η_t as the package computes it: lr·(k + 1)/W while k < W (k = step − 1), else lr."""
    k = step - 1
    return lr * ((k + 1) / warmup_steps) if k < warmup_steps else lr * 1.0


def _pow(base, exponent):
    """base ** exponent for floats (Python's pow, as the package) or per-run tensors."""
    if isinstance(base, Tensor) or isinstance(exponent, Tensor):
        return torch.pow(torch.as_tensor(base, dtype=torch.float64), exponent)
    return base**exponent


def _averaging_weights(state, values):
    """(weight_sum, lr_max_pow, c): the package's lr_max = max(η_t, lr_max), weight = (k + 1)^r·lr_max^p,
    weight_sum += weight, c = weight/weight_sum (0 while weight_sum is 0, the package's ZeroDivisionError)."""
    _, step_pow, lr_pow = values[:3]
    lr_max_pow = torch.maximum(state.lr_max_pow, torch.as_tensor(lr_pow, dtype=state.y.dtype, device=state.y.device))
    weight = step_pow * lr_max_pow
    weight_sum = state.weight_sum + weight
    c = torch.where(weight_sum > 0, weight / weight_sum, torch.zeros_like(weight_sum))
    return weight_sum, lr_max_pow, c


def schedulefree_per_step(hp: dict):
    """per_step(lr, step) -> (η_t, (k + 1)^r, η_t^p[, 1 − β₂^(k+1)]), every number that depends on
    the step or the lr, computed on the host exactly as the package computes it."""
    warmup, r, p = hp["warmup_steps"], hp["r"], hp["weight_lr_power"]
    beta2 = hp.get("beta2")

    def per_step(lr, step):
        lr_t = _warmed_up_lr(lr, step, warmup)
        out = (lr_t, _pow(float(step), r), _pow(lr_t, p))
        return out if beta2 is None else out + (1 - beta2**step,)

    return per_step


def gradient_point(params, state, momentum) -> Tensor:
    """y: the state's own y while params is the x this rule returned (every plain step), else
    (1 − β)z + βx from the x it was handed (a wrapper moved it: Lookahead's sync)."""
    return torch.where(params == state.x, state.y, lerp(state.z, params, momentum))


def _step_y_z(y, state, g, lr_t, momentum, c):
    """The package's y.lerp_(z, c); y.add_(g, alpha=η_t(β(1 − c) − 1)); z.sub_(g, alpha=η_t), and
    x = y.lerp(z, 1 − 1/β) (its eval())."""
    coefficient = lr_t * (momentum * (1 - c) - 1)
    y = addcmul(lerp(y, state.z, c), g, coefficient, 1.0)
    z = add_scaled(state.z, g, -lr_t)
    return y, z, lerp(y, z, 1 - 1 / momentum)


def schedulefree_sgd_rule(hp: dict) -> Rule:
    r"""Schedule-Free SGD: y_t = (1 − β)z_t + βx_t,  g_t = ∇f(y_t) + λy_t,
    z_{t+1} = z_t − η_t g_t,  x_{t+1} = (1 − c_{t+1})x_t + c_{t+1}z_{t+1},
    c_{t+1} = w_t/Σ_{i≤t} w_i,  w_t = t^r·η_max^p.

    Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), The road less scheduled (NeurIPS).
    Matches the `schedulefree` package's SGDScheduleFree (1.4.1) bit for bit, in both of its
    sequences: y (its parameter in train mode) and x (what its eval() gives). gradscape draws x, the
    average and the point the method returns; the gradient is taken at y (the rule's probe), between
    x and z. As the package:

    * y and z are the sequences kept: each step updates y in place (y ← lerp(y, z, c), then
      y ← y + η_t(β(1 − c) − 1)·g) and z ← z − η_t·g, and x = y + (1 − 1/β)(z − y) is read back
      from them as eval() does (the paper's x recursion gives the same point up to rounding);
    * η_t = η·t/W during a linear warm-up of W steps (t ≤ W), then η; the averaging weight is
      w_t = t^r·η_max^p with η_max the largest η_t so far, so with p = 2 the warm-up steps count
      little in the average (the paper's γ_t² weighting), and r > 0 favours late iterates;
    * c_{t+1} = w_t/Σ_{i≤t} w_i, as in the paper's Algorithm 1: the first step has c = 1 and sets
      x = z₂, so the average runs over z₂, …, z_{t+1} and leaves the start out (a uniform
      c_{t+1} = 1/(t+1) from x₁ = z₁ would keep it in);
    * weight decay is an L2 term taken at y (g + λy), not decoupled.

    The running sums (Σw, η_max) depend on the whole lr history, so they live in the state, as the
    package keeps them in its param group; everything else that depends on the step or the lr
    (η_t, t^r, η_t^p) comes from per_step. The method has no schedule of its own to replace: the
    averaging plays that part, so gradscape runs it at a constant η whatever the scene's schedule.

    The state also keeps the x it returned. While the point handed back to update is that x (every
    plain run), y is the state's own; a wrapper that moved the point (Lookahead's sync pulls x
    towards its slow weights) makes y = (1 − β)z + βx from the moved x, z unchanged. (Lookahead
    around the package itself would move its parameter, y, instead.)
    """
    momentum, wd = hp["momentum"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return ScheduleFreeState(params, params, params, zeros, zeros, zeros, zeros, zeros)

    def probe(params, state):
        return gradient_point(params, state, momentum)

    def update(grad, state, params, lr, values):
        lr_t = values[0]
        weight_sum, lr_max_pow, c = _averaging_weights(state, values)
        y = gradient_point(params, state, momentum)
        g = with_weight_decay(grad, y, wd)
        y, z, x = _step_y_z(y, state, g, lr_t, momentum, c)
        rate = torch.zeros_like(y) + lr_t
        return x, ScheduleFreeState(y, x, z, state.v, weight_sum, lr_max_pow, c, rate)

    def effective_lr(state, lr):
        return state.rate

    return Rule(init, update, probe=probe, effective_lr=effective_lr, per_step=schedulefree_per_step(hp))


def schedulefree_adamw_rule(hp: dict) -> Rule:
    r"""Schedule-Free AdamW: y_t = (1 − β₁)z_t + β₁x_t,  v ← β₂v + (1 − β₂)g²,
    ĝ = g/(√(v/(1 − β₂ᵗ)) + ε) + λy_t,  z_{t+1} = z_t − η_t ĝ,
    x_{t+1} = (1 − c_{t+1})x_t + c_{t+1}z_{t+1},  c_{t+1} = w_t/Σ_{i≤t} w_i,  w_t = t^r·η_max^p.

    Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky (2024), The road less scheduled (NeurIPS),
    Schedule-Free AdamW. Matches the `schedulefree` package's AdamWScheduleFree (1.4.1) bit for bit,
    in y (its parameter in train mode) and in x (what its eval() gives). gradscape draws x, the
    average; the gradient is taken at y (the rule's probe). As the package:

    * no first moment: β₁ is the interpolation y = (1 − β₁)z + β₁x (the momentum of the method);
      only v is kept, bias-corrected by 1 − β₂ᵗ, and ε is added after the root;
    * weight decay is taken at y and added to the normalised gradient, λy (AdamW-style: not
      divided by √v̂), and it moves z like the gradient does;
    * y and z are updated in place (y ← lerp(y, z, c) + η_t(β₁(1 − c) − 1)·ĝ, z ← z − η_t·ĝ), and
      x = y + (1 − 1/β₁)(z − y) is read back as eval() does; a point moved by a wrapper
      (Lookahead) gives y = (1 − β₁)z + β₁x, as for Schedule-Free SGD;
    * η_t = η·t/W during a linear warm-up of W steps, then η; the averaging weight is
      w_t = t^r·η_max^p (the package's weight_lr_power p and r), η_max the largest η_t so far.

    The paper's Algorithm 1 puts the bias correction into the step size, γ_t = η√(1 − β₂ᵗ)·min(1, t/W),
    and steps z by γ_t·g/(√v + ε) + γ_t·λy with weights c_{t+1} = γ_t²/Σγ_i². The package (and
    gradscape) divides v by 1 − β₂ᵗ inside the root instead, which differs from the paper by the
    scale of ε (ε versus ε/√(1 − β₂ᵗ)) and of the weight decay (η_t·λy versus γ_t·λy) during the
    first 1/(1 − β₂) steps or so, and weights the average by η_max^p, without the bias correction.
    The first step has c = 1 (x jumps to z₂: the start is not part of the average).

    The running sums (Σw, η_max) depend on the whole lr history and live in the state; η_t, t^r,
    η_t^p and 1 − β₂ᵗ come from per_step. No schedule is needed: the averaging replaces it, so
    gradscape runs it at a constant η whatever the scene's schedule.
    """
    b1, b2, eps, wd = hp["beta1"], hp["beta2"], hp["eps"], hp["weight_decay"]

    def init(params):
        zeros = torch.zeros_like(params)
        return ScheduleFreeState(params, params, params, zeros, zeros, zeros, zeros, zeros)

    def probe(params, state):
        return gradient_point(params, state, b1)

    def update(grad, state, params, lr, values):
        lr_t, bias_correction2 = values[0], values[3]
        weight_sum, lr_max_pow, c = _averaging_weights(state, values)
        y = gradient_point(params, state, b1)
        v = ema_sq(state.v, grad, b2)
        denom = (v / bias_correction2).sqrt() + eps
        g = with_weight_decay(grad / denom, y, wd)
        y, z, x = _step_y_z(y, state, g, lr_t, b1, c)
        return x, ScheduleFreeState(y, x, z, v, weight_sum, lr_max_pow, c, lr_t / denom)

    def effective_lr(state, lr):
        return state.rate

    return Rule(init, update, probe=probe, effective_lr=effective_lr, per_step=schedulefree_per_step(hp))


# ---- explanations -----------------------------------------------------------------------------------


def explain_schedulefree(v):
    adamw = "beta1" in v.hp
    beta = v.hp["beta1"] if adamw else v.hp["momentum"]
    wd, warmup = v.hp["weight_decay"], v.hp["warmup_steps"]
    b, a = v.state_before, v.state_after
    lr_t = v.values[0]
    sequence = "the Adam-normalised sequence z" if adamw else "the SGD sequence z"
    e = Explanation()
    e.say(
        f"The path is the average x = {e.show('x', v.params)}; the gradient is taken at "
        f"y = (1 − β)z + βx = {e.show('probe', v.at)}, between x and {sequence} = "
        f"{e.show('state_before.z', b.z)} (β = {fmt(beta)})."
    )
    e.say(f"Gradient at y: g = {e.show('g', v.grad)} (the loss {fmt(v.loss, 4)} is at x).")
    if warmup and v.step <= warmup:
        e.say(f"Warm-up: ηₜ = η·t/W = {fmt(v.lr)}·{v.step}/{warmup} = {e.number('lr_t', lr_t)}.")
    else:
        e.say(f"ηₜ = η = {e.number('lr_t', lr_t)}" + (" (the warm-up is over)." if warmup else " (no warm-up)."))
    used, normalised = "g", v.grad
    if adamw:
        bc2 = v.values[3]
        e.say(
            f"Second moment v = β₂v + (1 − β₂)g² = {e.show('state.v', a.v)}; bias-corrected v̂ = v × "
            f"{e.number('v_correction', 1 / bc2)} (1/(1 − β₂ᵗ))."
        )
        denom = (a.v / bc2).sqrt() + v.hp["eps"]
        normalised = v.grad / denom
        e.say(f"Normalised gradient ĝ = g/(√v̂ + ε) = {e.show('g_hat', normalised)}.")
        used = "ĝ"
    if not is_zero(wd):
        g = with_weight_decay(normalised, v.at, wd)
        e.say(
            f"Weight decay λ = {fmt(float(wd))} is taken at y: {used} + λy = {e.show('g_wd', g)} "
            "(it moves z like the gradient does)."
        )
        used = f"({used} + λy)"
    e.say(f"z takes a step with no averaging: z ← z − ηₜ·{used} = {e.show('state.z', a.z)}.")
    c = e.number("c_t", a.c.reshape(-1)[0])
    if float(a.weight_sum.reshape(-1)[0]) == 0:
        e.say(f"Averaging weight cₜ = {c}: every weight so far is 0 (η_maxᵖ = 0), so x does not move towards z.")
    elif v.step == 1:
        e.say(
            f"Averaging weight cₜ = wₜ/Σw = {c} at the first step: x jumps to the new z, so the start is not "
            "part of the average (the average is over the z after each step)."
        )
    else:
        e.say(
            f"Averaging weight cₜ = wₜ/Σw = {c} (wₜ = tʳ·η_maxᵖ; with equal weights cₜ = 1/t): the average x "
            f"moves the fraction {c} of the way to the new z."
        )
    e.say(f"The next gradient point: y = (1 − β)z + βx = {e.show('state.y', a.y)}.")
    e.markers["sequence z"] = e.shown["state.z"]
    return finish(e, v, f"x moves by {e.show('step', v.move)} (the path drawn).")


_SUMMARY = (
    "Averages the iterates instead of decaying η: the path is the average x, the gradient is taken at y "
    "between x and the {inner} sequence z; needs no lr schedule (a scene's schedule is ignored)."
)


def _schedulefree_params(lr_default, momentum_param, *extra):
    return (
        lr_param(lr_default, low=1e-4, high=10.0, help="Step size η of the z sequence (constant: no schedule)."),
        momentum_param,
        *extra,
        Param(
            "warmup_steps",
            0,
            0,
            200,
            kind="int",
            label="warm-up steps W",
            help="Linear warm-up η_t = η·t/W inside the method (the package's own warm-up).",
            latex="W",
        ),
        Param(
            "r",
            0.0,
            0.0,
            4.0,
            label="average weight power r",
            help="The average weights step t by t^r: 0 gives a uniform average, larger r favours late points.",
            latex="r",
        ),
        Param(
            "weight_lr_power",
            2.0,
            0.0,
            4.0,
            label="lr weight power p",
            help="The average weights step t by η_max^p as well: steps during the warm-up count less.",
            latex="p",
        ),
    )


_COMMON_LATEX = (
    r"z_{t+1} = z_t - \eta_t\, GRAD,\ x_{t+1} = (1 - c_{t+1})\, x_t + c_{t+1} z_{t+1},\ "
    r"c_{t+1} = \frac{w_t}{\sum_{i \le t} w_i},\ w_t = t^r \eta_{\max}^p,\ \eta_{\max} = \max_{i \le t} \eta_i,\ "
    r"\eta_t = \eta \min(1, t/W)"
)

SCHEDULEFREE_SGD = OptimizerSpec(
    key="schedulefree_sgd",
    name="Schedule-Free SGD",
    family="first order",
    build=schedulefree_sgd_rule,
    torch_twin=TorchTwin(
        "SGDScheduleFree",
        lambda hp: dict(
            lr=hp["lr"],
            momentum=hp["momentum"],
            weight_decay=hp["weight_decay"],
            warmup_steps=hp["warmup_steps"],
            r=hp["r"],
            weight_lr_power=hp["weight_lr_power"],
        ),
        module="schedulefree",
        calls=("train",),
    ),
    params=_schedulefree_params(
        0.1,
        Param(
            "momentum",
            0.9,
            0.1,
            0.99,
            label="interpolation β",
            help="y = (1 − β)z + βx: how close to the average x the gradient is taken (the method's momentum).",
            latex=r"\beta",
        ),
        weight_decay_param(help="L2 penalty taken at y: g + λy."),
    ),
    latex=(
        r"y_t = (1-\beta) z_t + \beta x_t,\ g_t = \nabla f(y_t) + \lambda y_t,\ " + _COMMON_LATEX.replace("GRAD", "g_t")
    ),
    reference="Defazio et al. (2024), The road less scheduled; schedulefree.SGDScheduleFree",
    summary=_SUMMARY.format(inner="SGD"),
    effective_lr_kind="diagonal",
    effective_lr_note="η_t, the factor on g in z's step (η after its warm-up)",
    explain=explain_schedulefree,
    color="#17BECF",
    state_labels={"y": "gradient point y", "z": "base sequence z"},
    probe_label="gradient point y",
    replaces_schedule=True,
)

SCHEDULEFREE_ADAMW = OptimizerSpec(
    key="schedulefree_adamw",
    name="Schedule-Free AdamW",
    family="adam",
    build=schedulefree_adamw_rule,
    torch_twin=TorchTwin(
        "AdamWScheduleFree",
        lambda hp: dict(
            lr=hp["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            warmup_steps=hp["warmup_steps"],
            r=hp["r"],
            weight_lr_power=hp["weight_lr_power"],
        ),
        module="schedulefree",
        calls=("train",),
    ),
    params=_schedulefree_params(
        0.1,
        beta_param(
            "beta1",
            0.9,
            "interpolation β₁",
            "y = (1 − β₁)z + β₁x: how close to the average x the gradient is taken (no first moment is kept).",
            r"\beta_1",
            low=0.1,
            high=0.99,
        ),
        beta_param("beta2", 0.999, "β₂ (second moment)", "Memory of the squared gradients v.", r"\beta_2"),
        eps_param(1e-8),
        weight_decay_param(help="Taken at y and added to the normalised gradient: ĝ + λy."),
    ),
    latex=(
        r"y_t = (1-\beta_1) z_t + \beta_1 x_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\ "
        r"\hat g_t = \frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \varepsilon} + \lambda y_t,\ "
        + _COMMON_LATEX.replace("GRAD", r"\hat g_t")
    ),
    reference="Defazio et al. (2024), The road less scheduled; schedulefree.AdamWScheduleFree",
    summary=_SUMMARY.format(inner="Adam-normalised"),
    effective_lr_kind="diagonal",
    effective_lr_note="η_t/(√v̂ + ε), the factor on g in z's step",
    explain=explain_schedulefree,
    color="#E7298A",
    state_labels={"y": "gradient point y", "z": "base sequence z", "v": "second moment v"},
    probe_label="gradient point y",
    replaces_schedule=True,
)
