"""Muon: momentum whose update matrix is orthogonalised by a Newton–Schulz iteration."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_scaled, is_zero, lerp, momentum_param
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt
from optimizers.hparams import Param, eps_param, lr_param, weight_decay_param

# Newton–Schulz polynomials p(σ) = aσ + bσ³ + cσ⁵ that the `ns_coefficients` choice offers.
NS_COEFFICIENTS = {
    # Keller Jordan's quintic (torch.optim.Muon's default): the steepest slope at 0 that still keeps
    # the singular values in a band around 1, not at 1 (see muon_rule's docstring).
    "quintic": (3.4445, -4.7750, 2.0315),
    # The classic cubic Newton–Schulz step X ← 1.5X − 0.5XXᵀX: converges to the orthogonal factor
    # itself (σ → 1), slowly for small σ; 1 is its fixed point, so a normalised row stays at length 1.
    "cubic": (1.5, -0.5, 0.0),
}


class MuonState(NamedTuple):
    buf: Tensor  # the momentum buffer B (torch's state["momentum_buffer"])
    direction: Tensor  # O = NS(B̃): the orthogonalised update of the step just taken (bfloat16 values)


def adjust_ratio(adjust_lr_fn: str, shape: tuple[int, int] = (1, 2)) -> float:
    """torch.optim.Muon's _adjust_lr factor for a parameter of `shape` (one run's point is 1 × 2):
    √max(1, A/B) = 1 ("original", Keller Jordan's), or 0.2·√max(A, B) = 0.2·√2 ("match_rms_adamw",
    Moonshot's, so that the update's RMS matches AdamW's)."""
    rows, cols = shape
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


def _bf16(t: Tensor) -> Tensor:
    """Round to bfloat16, held in float32 (the precision torch's bfloat16 kernels compute in)."""
    return t.to(torch.bfloat16).to(torch.float32)


def _f32(value, like: Tensor) -> Tensor:
    """A coefficient (a float, or a per-run (B,) tensor) as float32: torch's bfloat16 kernels take
    their float scalars (addmm's α and β) in float32."""
    return torch.as_tensor(value, dtype=torch.float32, device=like.device)


def newton_schulz_rows(m: Tensor, coefficients, steps: int, eps) -> Tensor:
    r"""torch.optim.Muon's _zeropower_via_newtonschulz, applied to each run's 1 × 2 matrix [mx, my]
    (a column of the (2, B) tensor m), for all runs at once; returned in m's dtype.

    torch casts the matrix to bfloat16 and runs the iteration there. Its CPU kernels compute each
    bfloat16 operation in float32 and round the result to bfloat16 once; for a 1 × 2 matrix X that is:

        X ← bf16(X);  X ← bf16(X / max(bf16(‖X‖), bf16(ε)))      (X.div_(X.norm().clamp(min=ε)))
        k times:  s = bf16(XXᵀ) = bf16(x² + y²)                      (the 1 × 1 Gram matrix)
                  u = bf16(b·s + c·s²)                               (addmm(s, s, s, beta=b, alpha=c))
                  X ← bf16(a·X + u·X)                                (addmm(X, u, X, beta=a))

    Every product of two bfloat16 numbers is exact in float32, so the order inside each rounding
    does not matter; this spelling equals torch's output bit for bit (tested on 10⁵ random vectors
    and along every reference trajectory). One row is never transposed (1 < 2).
    """
    a, b, c = (_f32(v, m) for v in coefficients)
    x = m.to(torch.bfloat16).to(torch.float32)
    norm = _bf16((x[0] * x[0] + x[1] * x[1]).sqrt())
    x = _bf16(x / torch.maximum(norm, _bf16(_f32(eps, m))))
    for _ in range(steps):
        gram = _bf16(x[0] * x[0] + x[1] * x[1])
        poly = _bf16(b * gram + c * (gram * gram))
        x = _bf16(a * x + poly * x)
    return x.to(m.dtype)


def muon_input(grad: Tensor, buf: Tensor, momentum, nesterov: bool) -> Tensor:
    """B̃, the matrix Newton–Schulz receives: g.lerp(B, μ) = (1 − μ)g + μB with Nesterov, else B."""
    return lerp(grad, buf, momentum) if nesterov else buf


def muon_rule(hp: dict) -> Rule:
    r"""Muon: B ← μB + (1 − μ)g,  B̃ = (1 − μ)g + μB (Nesterov; else B̃ = B),
    O = NS_k(B̃),  w ← (1 − ηλ)·w − η·s·O.

    Jordan et al. (2024), Muon: an optimizer for hidden layers in neural networks
    (kellerjordan.github.io/posts/muon); Liu et al. (2025), Muon is scalable for LLM training (the
    "match_rms_adamw" scale). Matches torch.optim.Muon (torch 2.13) bit for bit, one run's point
    being the 1 × 2 matrix [x y]; it therefore differs from the texts as torch does:

    * the momentum is an average, B ← B + (1 − μ)(g − B) (torch's buf.lerp_(g, 1 − μ)), not the
      sum B ← μB + g of torch's own docstring; the Nesterov blend is g.lerp(B, μ);
    * NS_k runs in bfloat16 (torch casts the matrix): X₀ = B̃/max(‖B̃‖, ε), then k times
      X ← aX + b(XXᵀ)X + c(XXᵀ)²X with (a, b, c) = (3.4445, −4.7750, 2.0315) by default; O keeps
      bfloat16's 8 significant bits (about 3 digits), and the step adds it to the float64 point;
    * weight decay is decoupled and uses the unscaled η: w ← (1 − ηλ)w, before the step;
    * s = √max(1, A/B) = 1 for a 1 × 2 matrix ("original"), or 0.2·√max(A, B) = 0.2·√2
      ("match_rms_adamw").

    What orthogonalising does. For an m × n update matrix G = UΣVᵀ, Newton–Schulz maps every singular
    value σ of G/‖G‖ through the same odd polynomial p(σ) = aσ + bσ³ + cσ⁵, k times, and leaves U and
    V alone: the result is close to UVᵀ, all singular values pushed towards 1, so the step moves
    every direction of the matrix by about the same amount however unequal the gradient's singular
    values were (rare directions are amplified, the dominant one is not allowed to dominate). One row
    [x y] has a single singular value, its length, and a single direction: orthogonalising it is
    normalising it. On a 2-D point Muon is normalised (Nesterov) momentum, O = ℓ·B̃/‖B̃‖: a step of
    fixed length ηℓ whatever the gradient's size, like a sign method but along the momentum itself.

    ℓ is not 1. The quintic was tuned for speed, not to converge: its fixed points are σ ≈ 0.868 and
    1.264, and from σ = 1 (a normalised row) it alternates between about 0.70 and 1.11. With the
    default k = 5: ℓ = p⁵(1) = 0.696 in exact arithmetic; in bfloat16, where the normalised row's
    length is itself only 1 ± 0.4% and every step rounds, ℓ = 0.68–0.72 depending on the row
    (median 0.686, over 2·10⁶ random rows): the step is about 0.69η long, some 31% short of η, and
    wobbles by a few per cent as the direction turns. With k = 4, ℓ = 1.06–1.11. The cubic
    1.5σ − 0.5σ³ has 1 as its fixed point: a normalised row keeps length 1 (0.997–1.003 after
    rounding). O's direction is B̃'s to within 0.8° (bfloat16's 8 bits).

    Rounding edge cases are torch's: below ‖B̃‖ = ε the row is divided by ε, not normalised (a tiny
    step); above ‖B̃‖ ≈ 1.8·10¹⁹ the float32 sum of squares overflows and O = 0.
    """
    mu, nesterov, wd = hp["momentum"], hp["nesterov"], hp["weight_decay"]
    coefficients, steps, eps = NS_COEFFICIENTS[hp["ns_coefficients"]], hp["ns_steps"], hp["eps"]
    ratio = adjust_ratio(hp["adjust_lr_fn"])

    def init(params):
        zeros = torch.zeros_like(params)
        return MuonState(zeros, zeros)

    def per_step(lr, step):
        return (lr * ratio,)  # torch's adjusted_lr = lr·adjusted_ratio

    def update(grad, state, params, lr, values):
        (adjusted_lr,) = values
        buf = lerp(state.buf, grad, 1 - mu)
        direction = newton_schulz_rows(muon_input(grad, buf, mu, nesterov), coefficients, steps, eps)
        if not is_zero(wd):
            params = params * (1 - lr * wd)
        return add_scaled(params, direction, -adjusted_lr), MuonState(buf, direction)

    def effective_lr(state, lr):
        return (lr * ratio) * state.direction.abs()

    return Rule(init, update, effective_lr=effective_lr, per_step=per_step, coupled=True)


def _length(t: Tensor) -> Tensor:
    return torch.linalg.vector_norm(t.to(torch.float64), dim=0).reshape(-1)[0]


def explain_muon(v):
    e = begin(v)
    mu, nesterov, wd = v.hp["momentum"], v.hp["nesterov"], v.hp["weight_decay"]
    k, poly, scaling = v.hp["ns_steps"], v.hp["ns_coefficients"], v.hp["adjust_lr_fn"]
    a = v.state_after
    e.say(f"Momentum, an average of the gradients: B = {fmt(mu)}·B + {fmt(1 - mu)}·g = {e.show('state.buf', a.buf)}.")
    blend = muon_input(v.grad, a.buf, mu, nesterov)
    norm = e.number("norm_B_tilde", _length(blend))
    if nesterov:
        e.say(
            f"Nesterov: Newton–Schulz receives the blend B̃ = {fmt(1 - mu)}·g + {fmt(mu)}·B = "
            f"{e.show('B_tilde', blend)}, of length ‖B̃‖ = {norm}."
        )
    else:
        e.say(f"Newton–Schulz receives B itself (no Nesterov blend), of length ‖B‖ = {norm}.")
    length = e.number("direction_length", _length(a.direction))
    e.say(
        f"Orthogonalising the 1 × 2 matrix [x y], in bfloat16: it is divided by its length, then {k} steps of "
        "X ← (a + b‖X‖² + c‖X‖⁴)X change only that length. A row has a single singular value, so the result is "
        f"B̃'s direction at a fixed length: O = {e.show('state.direction', a.direction)}, ‖O‖ = {length} rather "
        f"than 1 (the {poly} polynomial after {k} steps). A real matrix would have all its singular values "
        "pushed towards 1 this way, its directions equalised."
    )
    adjusted = e.number("adjusted_lr", v.values[0])
    if scaling == "match_rms_adamw":
        scale = f"s = 0.2·√max(1, 2) = {fmt(adjust_ratio(scaling))} (match_rms_adamw, AdamW's update size)"
    else:
        scale = "s = √max(1, 1/2) = 1 (a 1 × 2 matrix keeps η)"
    e.say(
        f"The step is −η·s·O with {scale}: η·s = {adjusted}, so it is η·s·‖O‖ = "
        f"{e.number('step_length', v.values[0] * _length(a.direction))} long whatever the gradient's size."
    )
    e.arrow("−η·s·O", -v.values[0] * a.direction)  # the orthogonalised step, beside the plain −ηg
    if not is_zero(wd):
        e.say(f"Decoupled weight decay: w first shrinks ×(1 − ηλ) = ×{fmt(1 - v.lr * wd)}.")
        return finish(e, v, f"Step (the shrink included) = {e.show('step', v.move)}.")
    return finish(e, v, f"Step = −η·s·O = {e.show('step', v.move)}.")


MUON = OptimizerSpec(
    key="muon",
    name="Muon",
    family="first order",
    build=muon_rule,
    torch_twin=TorchTwin(
        "Muon",
        lambda hp: dict(
            lr=hp["lr"],
            weight_decay=hp["weight_decay"],
            momentum=hp["momentum"],
            nesterov=hp["nesterov"],
            ns_coefficients=NS_COEFFICIENTS[hp["ns_coefficients"]],
            eps=hp["eps"],
            ns_steps=hp["ns_steps"],
            adjust_lr_fn=hp["adjust_lr_fn"],
        ),
        shape=(1, 2),
    ),
    params=(
        lr_param(
            0.05,
            low=1e-4,
            high=1.0,
            help="Length scale of each step: the step is about 0.69·η long (default Newton–Schulz), "
            "whatever the gradient's size.",
        ),
        momentum_param(0.95),
        Param(
            "nesterov",
            True,
            label="Nesterov",
            kind="bool",
            help="Orthogonalise (1 − μ)g + μB (a look-ahead blend) instead of the momentum B itself.",
        ),
        weight_decay_param(0.1, help="Decoupled decay: w shrinks by (1 − ηλ) each step (torch's default 0.1)."),
        Param(
            "ns_coefficients",
            "quintic",
            label="Newton–Schulz polynomial",
            kind="choice",
            choices=tuple(NS_COEFFICIENTS),
            help="quintic: (a, b, c) = (3.4445, −4.775, 2.0315), fast, leaves lengths near 0.7–1.1; "
            "cubic: (1.5, −0.5, 0), converges to length 1.",
        ),
        Param(
            "ns_steps",
            5,
            1,
            10,
            label="Newton–Schulz steps k",
            kind="int",
            help="Iterations of the polynomial: with the quintic an odd k leaves a row at length ≈ 0.69, "
            "an even k at ≈ 1.1.",
            latex="k",
        ),
        eps_param(1e-7, low=1e-10, high=1e-2, help="The row is divided by max(‖B̃‖, ε): below ε it is not normalised."),
        Param(
            "adjust_lr_fn",
            "original",
            label="lr scaling",
            kind="choice",
            choices=("original", "match_rms_adamw"),
            help="original: η·√max(1, rows/cols) = η for a 1 × 2 point; match_rms_adamw: 0.2·√max(rows, cols)·η.",
        ),
    ),
    latex=(
        r"B_t = \mu B_{t-1} + (1-\mu) g_t,\ \tilde B_t = (1-\mu) g_t + \mu B_t\ (\text{Nesterov; else } B_t),\ "
        r"X_0 = \frac{\mathrm{bf16}(\tilde B_t)}{\max(\lVert \mathrm{bf16}(\tilde B_t)\rVert, \varepsilon)},\ "
        r"X_{j+1} = \left(a + b\lVert X_j\rVert^2 + c\lVert X_j\rVert^4\right) X_j\ (j < k,\ \text{bfloat16}),\ "
        r"w_{t+1} = (1 - \eta\lambda)\, w_t - \eta\, s\, X_k,\ s = 1\ (\text{or } 0.2\sqrt{2})"
    ),
    reference="Jordan et al. (2024), Muon: an optimizer for hidden layers in neural networks; "
    "Liu et al. (2025), Muon is scalable for LLM training; torch.optim.Muon",
    summary="Orthogonalised momentum: on a 2-D point that normalises it, so every step has nearly the same "
    "length, a fixed fraction of η (the iteration stops short of length 1; the scene 'Muon on a vector' "
    "measures it); a matrix would get all its singular values pushed towards 1.",
    effective_lr_kind="step size",
    effective_lr_note="η·s·|O|, the length of the orthogonalised step in each coordinate",
    explain=explain_muon,
    color="#377EB8",
    state_labels={"buf": "momentum B", "direction": "orthogonalised O"},
)
