"""Step-by-step anatomy of an update: what each optimizer computed, with sentences from the numbers.

Runs one optimizer's rule by hand for a single start, keeping the state before and after every
update, the gradient (and where it was taken), and optimizer-specific extras (Newton's step beside
the gradient step, Lookahead's slow weights, AdaBound's clipping band, Adam's bias corrections).
The Step-by-step page draws these; nothing here imports Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from optimizers import get_optimizer
from surfaces import Surface, get_surface

Pair = tuple[float, float]


@dataclass
class StepDetail:
    step: int  # 1-based number of the update
    position: Pair  # w before the update
    probe: Pair  # where the gradient was taken (Nesterov's look-ahead; else = position)
    grad: Pair
    new_position: Pair
    lr: float
    loss: float
    state_before: dict = field(default_factory=dict)  # name -> Pair (per coordinate) or float
    state_after: dict = field(default_factory=dict)
    effective_lr: Pair | None = None
    extras: dict = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)

    @property
    def step_vector(self) -> Pair:
        return (self.new_position[0] - self.position[0], self.new_position[1] - self.position[1])


def anatomy(surface: Surface | str, optimizer: str, start=None, steps: int = 30, hparams: dict | None = None,
            schedule=None) -> list[StepDetail]:
    """The first `steps` updates of one run, in float64 on the CPU."""
    from optimizers.schedules import CONSTANT

    surface = get_surface(surface) if isinstance(surface, str) else surface
    spec = get_optimizer(optimizer)
    hp = spec.resolve(hparams)
    rule = spec.build(hp)
    schedule = schedule or CONSTANT
    if not 1 <= steps <= 2000:
        raise ValueError(f"steps must be from 1 to 2000 for the step-by-step view; got {steps}")
    start = surface.start if start is None else start
    params = torch.tensor([[float(start[0])], [float(start[1])]], dtype=torch.float64)
    state = rule.init(params)
    sched_state = schedule.start(hp.get("lr", 1.0))
    details = []
    with torch.no_grad():
        for t in range(steps):
            at = rule.probe(params, state) if rule.probe is not None else params
            g = torch.stack(surface.grad_xy(at[0], at[1]))
            lr = float(schedule.lr(sched_state, t))
            extra = {}
            hess = None
            if rule.needs_hessian:
                hxx, hxy, hyy = surface.hess_xy(at[0], at[1])
                hess = ((hxx, hxy), (hxy, hyy))
                extra["hess"] = hess
            loss = float(surface.value_xy(params[0], params[1]))
            new, new_state = rule.update(g, state, params, lr, t + 1, **extra)
            detail = StepDetail(
                step=t + 1, position=_pair(params), probe=_pair(at), grad=_pair(g), new_position=_pair(new),
                lr=lr, loss=loss, state_before=_fields(state), state_after=_fields(new_state),
                effective_lr=_pair(rule.effective_lr(new_state, lr, t + 1)) if rule.effective_lr else None,
            )
            detail.extras = _extras(spec.key, hp, detail, t + 1, hess, surface)
            detail.sentences = explain(spec.key, hp, detail)
            details.append(detail)
            if schedule.needs_loss:
                sched_state = schedule.observe(sched_state, surface.value_xy(params[0], params[1]))
            params, state = new, new_state
            if not all(math.isfinite(v) for v in detail.new_position):
                break
    return details


def _pair(t) -> Pair:
    t = torch.as_tensor(t, dtype=torch.float64).reshape(-1)
    if t.numel() == 1:
        return (float(t[0]), float(t[0]))
    return (float(t[0]), float(t[1]))


def _fields(state) -> dict:
    """A state NamedTuple as {name: Pair or float}, nested states flattened with a dot."""
    out = {}
    if not hasattr(state, "_fields"):
        return out
    for name in state._fields:
        value = getattr(state, name)
        if hasattr(value, "_fields"):
            out.update({f"{name}.{k}": v for k, v in _fields(value).items()})
        elif isinstance(value, torch.Tensor):
            out[name] = _pair(value) if value.numel() > 1 else float(value.reshape(-1)[0])
        elif isinstance(value, (int, float)):
            out[name] = float(value)
    return out


def _extras(key: str, hp: dict, d: StepDetail, t: int, hess, surface) -> dict:
    ex = {}
    gx, gy = d.grad
    ex["gradient_step"] = (-d.lr * gx, -d.lr * gy)
    if hess is not None:
        a, b, c = float(hess[0][0].reshape(-1)[0]), float(hess[0][1].reshape(-1)[0]), float(hess[1][1].reshape(-1)[0])
        ex["hessian"] = ((a, b), (b, c))
        ex["hessian_eigenvalues"] = _eig2(a, b, c)
        lam = float(hp.get("damping", 0.0)) if key == "newton" else 0.0  # the step solves (H + λI) d = −g
        ad, cd = a + lam, c + lam
        ex["damped"] = lam != 0
        det = ad * cd - b * b
        if det != 0:
            ex["newton_step"] = (-(cd * gx - b * gy) / det, -(ad * gy - b * gx) / det)
    b1, b2 = hp.get("beta1"), hp.get("beta2")
    if b1 is not None and b2 is not None and key in ("adam", "amsgrad", "adamw", "nadam", "radam", "adabound", "ranger",
                                                     "adamax", "lookahead"):
        ex["bias_correction1"] = 1 - b1 ** t
        ex["bias_correction2"] = 1 - b2 ** t
    if key == "radam" or key == "ranger":
        rho_inf = 2 / (1 - b2) - 1
        ex["rho_t"] = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
    if key == "adabound":
        final = hp["final_lr"] * d.lr / hp["lr"]
        ex["band"] = (final * (1 - 1 / (hp["gamma"] * t + 1)), final * (1 + 1 / (hp["gamma"] * t)))
    if key in ("lookahead", "ranger"):
        ex["synced"] = t % hp["k"] == 0
        ex["slow"] = d.state_after.get("slow")
    return ex


def _eig2(a, b, c) -> Pair:
    mean, diff = (a + c) / 2, math.hypot((a - c) / 2, b)
    return (mean - diff, mean + diff)


def _v(p, digits=3) -> str:
    if isinstance(p, tuple):
        return "(" + ", ".join(_v(v, digits) for v in p) + ")"
    return f"{p:.{digits}g}"


def explain(key: str, hp: dict, d: StepDetail) -> list[str]:
    """Short sentences for one update, computed from its real numbers."""
    s = []
    if d.probe != d.position:
        s.append(f"Look-ahead: the gradient is taken at w + γu = {_v(d.probe)}, not at w = {_v(d.position)}.")
    s.append(f"Gradient g = {_v(d.grad)} (loss {_v(d.loss, 4)}).")
    after, before, ex = d.state_after, d.state_before, d.extras
    inner = hp.get("inner", key) if key == "lookahead" else ("radam" if key == "ranger" else key)
    a = {k.split(".")[-1]: v for k, v in after.items()}
    b = {k.split(".")[-1]: v for k, v in before.items()}
    if inner == "sgd":
        s.append(f"Step = −η·g = −{_v(d.lr)}·g = {_v(d.step_vector)}.")
    elif inner == "momentum":
        s.append(f"Velocity decays ×{_v(hp['momentum'])} and adds g: b = {_v(a['buf'])}."
                 if d.step > 1 else f"The first velocity is the gradient itself: b = {_v(a['buf'])}.")
        s.append(f"Step = −η·b = {_v(d.step_vector)}.")
    elif inner == "nesterov":
        s.append(f"Velocity u = γu − ηg = {_v(hp['momentum'])}·{_v(b['buf'])} − {_v(d.lr)}·g = {_v(a['buf'])}; w moves by u.")
    elif inner == "adagrad":
        s.append(f"Σg² grows to {_v(a['sum_sq'])}; the effective step η/(√Σg² + ε) = {_v(d.effective_lr)} "
                 "can only shrink.")
    elif inner == "rmsprop":
        s.append(f"v = {_v(hp['alpha'])}·v + {_v(1 - hp['alpha'])}·g² = {_v(a['square_avg'])}; effective step "
                 f"η/(√v + ε) = {_v(d.effective_lr)} (it grows again when gradients shrink).")
    elif inner == "adadelta":
        s.append(f"E[g²] = {_v(a['square_avg'])}; unit-corrected factor √(E[Δ²]+ε)/√(E[g²]+ε) = {_v(a['scale'])}; "
                 f"E[Δ²] = {_v(a['acc_delta'])}.")
    elif inner in ("adam", "amsgrad", "adamw", "nadam", "radam", "adabound", "adamax"):
        b1, b2 = hp["beta1"], hp["beta2"]
        s.append(f"First moment m decays ×{_v(b1)} and takes {_v(1 - b1)}·g: m = {_v(a['m'])}.")
        if "v" in a:
            s.append(f"Second moment v = {_v(b2)}·v + {_v(1 - b2, 2)}·g² = {_v(a['v'])}.")
        if "u" in a:
            s.append(f"Adamax keeps u = max({_v(b2)}·u, |g| + ε) = {_v(a['u'])}.")
        bc1, bc2 = ex.get("bias_correction1"), ex.get("bias_correction2")
        if inner == "nadam":
            s.append(f"NAdam's momentum schedule, not 1/(1 − β₁ᵗ), weights m and g; v̂ = v/(1 − β₂ᵗ) = v × {_v(1 / bc2)}.")
        elif inner == "radam" and ex.get("rho_t", 0.0) <= 5:
            s.append(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = m × {_v(1 / bc1)} (v is not used yet).")
        elif bc1 is not None and "u" in a:
            s.append(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = m × {_v(1 / bc1)} (u needs none: a maximum is not biased to 0).")
        elif bc1 is not None:
            s.append(f"Bias correction: m̂ = m/(1 − β₁ᵗ) = m × {_v(1 / bc1)}; v̂ = v/(1 − β₂ᵗ) = v × {_v(1 / bc2)}.")
        if inner == "amsgrad":
            s.append(f"AMSGrad divides by the largest v so far: v_max = {_v(a['v_max'])}.")
        if inner == "radam":
            rho = ex.get("rho_t", 0.0)
            s.append(f"ρ_t = {rho:.2f} {'> 5: the adaptive factor is used, rectified' if rho > 5 else '≤ 5: a plain momentum step (no division by √v)'}.")
        if inner == "adabound":
            lo, hi = ex["band"]
            s.append(f"Per-coordinate step sizes are clipped into [{_v(lo)}, {_v(hi)}]: η̂ = {_v(a['eta'])}.")
        s.append(f"Step = {_v(d.step_vector)}.")
    elif inner == "rprop":
        s.append(f"Each coordinate's step size (sign-based): s = {_v(a['step_size'])}; step = −s·sign(g) = {_v(d.step_vector)}.")
    elif inner == "lion":
        s.append(f"Lion moves every coordinate by exactly η = {_v(d.lr)} in the sign of the interpolated momentum: "
                 f"step = {_v(d.step_vector)}.")
    elif inner in ("newton", "diag_newton"):
        h = ex.get("hessian")
        if inner == "newton" and h is not None:
            lo, hi = ex["hessian_eigenvalues"]
            s.append(f"Hessian H = [[{_v(h[0][0])}, {_v(h[0][1])}], [{_v(h[1][0])}, {_v(h[1][1])}]], eigenvalues "
                     f"{_v(lo)} and {_v(hi)}.")
            if "newton_step" in ex:
                lam = hp.get("damping", 0.0)
                what = "−(H + λI)⁻¹g" if lam else "−H⁻¹g"
                s.append(f"Newton step {what} = {_v(ex['newton_step'])}, against the gradient step −g = {_v((-d.grad[0], -d.grad[1]))}.")
            if lo < 0:
                s.append("H has a negative eigenvalue: the quadratic model has a saddle, and Newton steps towards it.")
        elif h is not None:
            s.append(f"Diagonal curvatures h = ({_v(h[0][0])}, {_v(h[1][1])}); step −g/(h + ε) = {_v(d.step_vector)}.")
    if key in ("lookahead", "ranger"):
        k = hp["k"]
        if ex.get("synced"):
            s.append(f"Step {d.step} is a multiple of k = {k}: the slow weights move {_v(hp.get('slow_alpha', hp.get('alpha')))} "
                     f"of the way to the fast ones, φ = {_v(ex['slow'])}, and the fast weights restart there.")
        else:
            s.append(f"Fast step {d.step % k} of {k}; slow weights stay at φ = {_v(ex['slow'])}.")
    return s


def bias_correction_table(beta: float, steps: int = 10) -> list[dict]:
    """The notes' derivation: for a constant gradient g, E[s_t] = (1 − βᵗ) g; the correction divides
    by exactly that factor. One row per step: t, weight of the sum, correction factor."""
    rows = []
    for t in range(1, steps + 1):
        total = (1 - beta) * sum(beta ** (t - i) for i in range(1, t + 1))
        rows.append({"t": t, "(1−β)Σβ^(t−i)": total, "1 − βᵗ": 1 - beta ** t, "correction 1/(1 − βᵗ)": 1 / (1 - beta ** t)})
    return rows
