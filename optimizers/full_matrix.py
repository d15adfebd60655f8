"""Full-matrix preconditioning: full-matrix AdaGrad and Shampoo. A 2 × 2 preconditioner turns the step as well
as scaling it, so x and y are coupled, and both rules are rotation-invariant: on a rotated surface, started at
the rotated start, each draws the rotated path (diagonal AdaGrad, RMSprop and Adam do not)."""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from optimizers._common import add_scaled, addcmul
from optimizers.base import OptimizerSpec, Rule, TorchTwin
from optimizers.explain import begin, finish, fmt, pair
from optimizers.hparams import Param, lr_param


def factor_update(root_diag: Tensor, root_off: Tensor, grad: Tensor) -> tuple[Tensor, Tensor]:
    """The upper-triangular square-root factor C = [[c₁₁, c₁₂], [0, c₂₂]] of G = CᵀC after G ← G + g gᵀ.

    The QR update of the stacked gradients [C; gᵀ]: one Givens rotation zeroes g_x against c₁₁, a second the
    rest of g against c₂₂ (c₁₁, c₂₂ ≥ 0). Only hypotenuses, products and sums: no square of a gradient is ever
    formed, so the factor neither overflows nor loses the small direction of G to cancellation.
    root_diag is (c₁₁, c₂₂) (2, ...), root_off is c₁₂ (...), grad is (2, ...)."""
    c11, c22, c12 = root_diag[0], root_diag[1], root_off
    gx, gy = grad[0], grad[1]
    r = torch.hypot(c11, gx)
    moved = r > 0
    safe = torch.where(moved, r, torch.ones_like(r))
    cos = torch.where(moved, c11 / safe, torch.ones_like(r))  # r = 0: c₁₁ = g_x = 0, nothing to rotate
    sin = torch.where(moved, gx / safe, torch.zeros_like(r))
    new12 = cos * c12 + sin * gy
    rest = cos * gy - sin * c12  # what is left of g in the y column
    return torch.stack((r, torch.hypot(c22, rest))), new12


def factor_apply(root_diag: Tensor, root_off: Tensor, vec: Tensor, fn: Callable[[Tensor], Tensor]) -> tuple:
    """V·fn(Σ)·Vᵀ·v from the SVD C = UΣVᵀ of each run's square-root factor C (factor_update), and Σ.

    G = CᵀC = VΣ²Vᵀ: the rows of Vᵀ are the eigenvectors of G and σ² its eigenvalues, so a function of G
    applied to v is V·fn(Σ)·Vᵀv with fn a function of σ. torch.linalg.svd (LAPACK) finds the singular values of
    a 2 × 2 triangular matrix to high relative accuracy. Working on the factor rather than on G is the
    QR-versus-normal-equations choice: G's small eigenvalue is a difference of sums of products and carries a
    relative error of about 10⁻¹⁶·κ(G); σ² from C about 10⁻¹⁶·√κ(G). Coinciding eigenvalues need no care (V is
    then any orthonormal basis and fn(Σ) a multiple of I); fn must stay finite at σ = 0 (G has rank one at
    the first step). A run whose factor holds a non-finite number (a diverged run) gets NaN; the solver never
    sees it, so nothing raises.

    vec and root_diag are (2, ...), root_off is (...); fn maps σ, (runs, 2) descending, to the factors on the
    two eigenvectors (a per-run hyperparameter enters fn as a (runs, 1) column: _hypot). Returns (the result,
    shaped like vec; σ, descending, shaped like root_diag).
    """
    shape = vec.shape
    c11, c22, c12 = root_diag[0].reshape(-1), root_diag[1].reshape(-1), root_off.reshape(-1)
    mats = torch.stack((torch.stack((c11, c12), -1), torch.stack((torch.zeros_like(c12), c22), -1)), -2)
    finite = torch.isfinite(mats).flatten(1).all(1)  # (runs,)
    eye = torch.eye(2, dtype=mats.dtype, device=mats.device)
    _, sigma, vh = torch.linalg.svd(torch.where(finite[:, None, None], mats, eye))
    along = (vh @ vec.reshape(2, -1).T.unsqueeze(-1)).squeeze(-1)  # Vᵀv: (runs, 2)
    out = (vh.mT @ (fn(sigma) * along).unsqueeze(-1)).squeeze(-1)  # V·fn(Σ)·Vᵀv
    nan = torch.full_like(out, math.nan)
    out = torch.where(finite[:, None], out, nan)
    sigma = torch.where(finite[:, None], sigma, nan)
    return out.T.reshape(shape), sigma.T.reshape(root_diag.shape)


def _hypot(sigma: Tensor, value) -> Tensor:
    """√(σ² + value²) for (runs, 2) singular values and a hyperparameter (a float, or one value per run)."""
    value = value.reshape(-1, 1) if isinstance(value, Tensor) else value
    return torch.hypot(sigma, torch.as_tensor(value, dtype=sigma.dtype, device=sigma.device))


def angle_between(u: Tensor, w: Tensor) -> Tensor:
    """The angle (degrees, 0 to 180) between two (2, ...) vectors of each run: atan2(|u × w|, u·w)."""
    cross = u[0] * w[1] - u[1] * w[0]
    dot = u[0] * w[0] + u[1] * w[1]
    return torch.rad2deg(torch.atan2(cross.abs(), dot))


# ---- full-matrix AdaGrad ----------------------------------------------------------------------------------


class FullAdaGradState(NamedTuple):
    diag: Tensor  # (G_xx, G_yy): the diagonal of G = Σ g gᵀ
    off: Tensor  # (runs,): G_xy, the off-diagonal entry that couples x and y
    root_diag: Tensor  # (c₁₁, c₂₂) of the triangular factor C with CᵀC = G, which the root is computed from
    root_off: Tensor  # (runs,): c₁₂
    eigenvalues: Tensor  # (λ₁, λ₂) of G + δI, ascending (δ, δ before the first step)
    direction: Tensor  # d = (G + δI)^(−1/2) g of the step just taken: the step is −ηd


def full_adagrad_rule(hp: dict) -> Rule:
    r"""Full-matrix AdaGrad: G ← G + g gᵀ,  w ← w − η (G + δI)^(−1/2) g.

    Duchi, Hazan & Singer (2011), Adaptive subgradient methods for online learning and stochastic
    optimization, JMLR 12: the full-matrix update, G = Σ_s g_s g_sᵀ a 2 × 2 matrix per run. Along each
    eigenvector of G the component of g is divided by √(λ + δ): steep directions, where large gradients piled
    up in G, are shrunk, shallow ones stretched, so the step is turned as well as scaled (x and y are coupled)
    and, as G turns with the surface, the path does not depend on how the surface is rotated.

    Where δ goes. The paper writes H = δI + G^(1/2), δ added to the eigenvalues of the root; here δ is inside
    the root, (G + δI)^(−1/2), as if the sum started at G₀ = δI. The two differ only along an eigenvector whose
    eigenvalue λ is small (below about 100δ): there the paper's factor approaches 1/δ, this one 1/√δ. Reasons:
    (1) at the first step G = g gᵀ has rank one, and a rounding error along its null direction is multiplied by
    1/δ in the paper's form but by 1/√δ here; (2) it is then exactly Shampoo on an order-1 tensor (Gupta, Koren
    & Singer, 2018, whose εI initialisation is this δI), i.e. pytorch-optimizer's Shampoo on a (2,) parameter
    with momentum 0 and the preconditioner recomputed every step: its twin (matrix_eps = δ; the default
    δ = 10⁻⁶ is its default). There is no initial-accumulator hyperparameter: with δ inside the root it would
    only add to δ.

    How the root is computed. Not from G: G's small eigenvalue is a difference of sums of products and carries
    a relative error of about 10⁻¹⁶·κ(G). The rule keeps the triangular square-root factor C (CᵀC = G),
    updated by two Givens rotations per step (factor_update), and takes (G + δI)^(−1/2)·g = V·(Σ² + δ)^(−1/2)·Vᵀg
    from the SVD C = UΣVᵀ (factor_apply), which loses about √κ(G) instead. √(σ² + δ) is hypot(σ, √δ), so
    gradients up to about 10³⁰⁰ do not overflow it (G, kept as well for the step-by-step view, overflows above
    10¹⁵⁴). Measured on the rotated ravine (condition 480 and 704, 200 steps, small η: G nearly singular for
    long): the path agrees with a 50-digit computation of the formula to 5·10⁻¹³, where NumPy's eigh of
    G + δI is off by up to 1.7·10⁻⁹; and on the ravine turned by any angle from the turned start, the path is
    the turned path to 1.3·10⁻¹² (the root of G: about 4·10⁻¹⁰). pytorch-optimizer's Shampoo takes the root
    from an SVD of δI + G, so the two agree to rounding, not bit for bit (worst measured: 1.6·10⁻⁹ at
    δ = 10⁻¹⁰); at δ = 10⁻¹², below this slider's range, its SVD meets a zero singular value and raises, where
    this rule's factors stay at most 1/√δ.
    On one coordinate the rule is diagonal AdaGrad with δ inside the root, g/√(G + δ) (torch.optim.Adagrad
    puts its ε outside, g/(√G + ε)).
    """
    eps = hp["eps"]

    root_eps = eps**0.5

    def factor(sigma):  # 1/√(σ² + δ) on each eigenvector of G
        return _hypot(sigma, root_eps).reciprocal()

    def init(params):
        zeros = torch.zeros_like(params)
        return FullAdaGradState(zeros, zeros[0], zeros, zeros[0], zeros + eps, zeros)

    def update(grad, state, params, lr, values):
        diag = addcmul(state.diag, grad, grad, 1)
        off = addcmul(state.off, grad[0], grad[1], 1)
        root_diag, root_off = factor_update(state.root_diag, state.root_off, grad)
        direction, sigma = factor_apply(root_diag, root_off, grad, factor)
        new = add_scaled(params, direction, -lr)
        eigenvalues = (sigma * sigma).flip(0) + eps  # of G + δI, ascending
        return new, FullAdaGradState(diag, off, root_diag, root_off, eigenvalues, direction)

    return Rule(init, update, coupled=True)


# ---- Shampoo ----------------------------------------------------------------------------------------------


class ShampooState(NamedTuple):
    left: Tensor  # (runs,): L = ε + Σ G Gᵀ = ε + Σ ‖g‖² (the 1 × 1 left statistic)
    right_diag: Tensor  # (R_xx, R_yy): the diagonal of R = εI + Σ Gᵀ G = εI + Σ g gᵀ
    right_off: Tensor  # (runs,): R_xy
    root_diag: Tensor  # (c₁₁, c₂₂) of the triangular factor C with CᵀC = R − εI, which R^(−1/4) comes from
    root_off: Tensor  # (runs,): c₁₂
    eigenvalues: Tensor  # (λ₁, λ₂) of R, ascending (ε, ε before the first step)
    direction: Tensor  # d = L^(−1/4) G R^(−1/4) of the step just taken (as a 2-vector): the step is −ηd


def shampoo_rule(hp: dict) -> Rule:
    r"""Shampoo: L ← L + G Gᵀ,  R ← R + Gᵀ G,  W ← W − η L^(−1/4) G R^(−1/4),  L₀ = εI, R₀ = εI.

    Gupta, Koren & Singer (2018), Shampoo: preconditioned stochastic tensor optimization (ICML), Algorithm 1
    (the matrix case), with the point treated as the 1 × 2 matrix W = (x y) and G = gᵀ (as torch.optim.Muon
    treats a matrix parameter): L = ε + Σ ‖g‖² is 1 × 1, R = εI + Σ g gᵀ is 2 × 2, and the step is
    −η L^(−1/4) R^(−1/4) g (R^(−1/4) is symmetric, so G R^(−1/4) is the row (R^(−1/4) g)ᵀ).

    Relation to full-matrix AdaGrad. For an order-1 tensor (the point as the vector (x, y)) Shampoo has one
    statistic, εI + Σ g gᵀ, with exponent −1/2: that IS full-matrix AdaGrad with δ = ε (key full_adagrad).
    As a 1 × 2 matrix each of the two statistics gets −1/4: R^(−1/4) undoes only half of the anisotropy (the
    ratio of its factors on the two eigenvectors of R is the square root of full-matrix AdaGrad's), and the
    scalar L^(−1/4) = (ε + Σ‖g‖²)^(−1/4) supplies the rest of the scale, the same in every direction. Both
    forms are rotation-invariant (L is a sum of norms; R turns with the surface). The 1 × 2 form is the one
    here because it is the one that differs from full-matrix AdaGrad: side by side the two show what the
    Kronecker factorisation costs when one side is trivial (a half-whitened step), where the order-1 form
    would draw the full_adagrad path twice. The first steps coincide: with one gradient, both are
    g/√(‖g‖² + ε).

    R^(−1/4)·g is computed as full-matrix AdaGrad's root is (see full_adagrad_rule): from the triangular
    square-root factor C of R − εI = Σ g gᵀ, updated by Givens rotations, as V·(Σ² + ε)^(−1/4)·Vᵀg from its
    SVD; L^(−1/4) is a power of the scalar L. R and L are kept as the paper writes them, for the step-by-step
    view. Matches pytorch-optimizer's Shampoo (4.1.0) on a (1, 2) parameter with momentum 0, weight_decay 0
    and preconditioning_compute_steps 1 (the paper's algorithm, with the same εI initialisation:
    matrix_eps = ε, default 10⁻⁶) to rounding, not bit for bit: it takes both inverse roots from SVDs of L
    and R (compute_power_svd: U·S^(−1/4)·Vᵀ) and multiplies L^(−1/4)·G before ·R^(−1/4). The paper's
    optional extras are left out: no momentum, no diagonal variant, no delayed preconditioner updates.
    """
    eps = hp["eps"]

    root_eps = eps**0.5

    def factor(sigma):  # (σ² + ε)^(−1/4) on each eigenvector of R − εI = CᵀC: R^(−1/4)
        return _hypot(sigma, root_eps).rsqrt()

    def init(params):
        zeros = torch.zeros_like(params)
        return ShampooState(zeros[0] + eps, zeros + eps, zeros[0], zeros, zeros[0], zeros + eps, zeros)

    def update(grad, state, params, lr, values):
        left = state.left + (grad[0] * grad[0] + grad[1] * grad[1])
        right_diag = addcmul(state.right_diag, grad, grad, 1)
        right_off = addcmul(state.right_off, grad[0], grad[1], 1)
        root_diag, root_off = factor_update(state.root_diag, state.root_off, grad)
        turned, sigma = factor_apply(root_diag, root_off, grad, factor)
        direction = left.pow(-0.25) * turned
        new = add_scaled(params, direction, -lr)
        eigenvalues = (sigma * sigma).flip(0) + eps  # of R, ascending
        return new, ShampooState(left, right_diag, right_off, root_diag, root_off, eigenvalues, direction)

    return Rule(init, update, coupled=True)


# ---- explanations -----------------------------------------------------------------------------------------


def _matrix(diag, off) -> str:
    a, c = pair(diag)
    b = float(off.reshape(-1)[0])
    return f"[[{fmt(a)}, {fmt(b)}], [{fmt(b)}, {fmt(c)}]]"


def _turn_sentence(e, v, direction, name: str) -> None:
    """The preconditioned direction next to the gradient, with its angle; its arrow (the page draws −ηg
    beside it from the gradient step)."""
    # Rounded to 10⁻⁶°: the first step is along g, up to rounding (not "an angle of 3e-14°").
    turn = e.number("angle_to_minus_g", round(float(angle_between(direction, v.grad).reshape(-1)[0]), 6))
    e.say(
        f"The preconditioned direction d = {name} = {e.show('state.direction', direction)} makes an angle of "
        f"{turn}° with g: the step −ηd is turned by {turn}° from the steepest-descent step −ηg."
    )
    e.arrow(f"−η{name}", -v.lr * direction)


def _ratio_sentence(e, eigenvalues, power: str, ratio) -> str:
    lo, hi = pair(eigenvalues)
    return (
        f"the factors on its two eigenvectors differ by (λ₂/λ₁)^{power} = {e.number('factor_ratio', ratio)}, "
        f"λ = {e.show('state.eigenvalues', eigenvalues)}: the direction in which gradients were large is shrunk "
        "the most."
    )


def explain_full_adagrad(v):
    e = begin(v)
    a = v.state_after
    e.facts["G"] = (pair(a.diag), float(a.off.reshape(-1)[0]))
    e.say(
        f"G ← G + ggᵀ = {_matrix(a.diag, a.off)}: its diagonal {e.show('state.diag', a.diag)} is diagonal "
        f"AdaGrad's sum of g², and G_xy = Σ g_x·g_y = {e.number('state.off', a.off.reshape(-1)[0])} couples x "
        "and y."
    )
    lo, hi = a.eigenvalues[0], a.eigenvalues[1]
    e.say(
        f"(G + δI)^(−1/2), δ = {fmt(float(v.hp['eps']))}, divides the component of g along each eigenvector of "
        f"G + δI by √λ: {_ratio_sentence(e, a.eigenvalues, '½', (hi / lo).sqrt().reshape(-1)[0])}"
    )
    _turn_sentence(e, v, a.direction, "(G+δI)^(−½)g")
    return finish(e, v, f"Step = −η·d = −{fmt(v.lr)}·d = {e.show('step', v.move)}.")


def explain_shampoo(v):
    e = begin(v)
    a = v.state_after
    e.facts["R"] = (pair(a.right_diag), float(a.right_off.reshape(-1)[0]))
    e.say(
        f"With W = (x y) a 1 × 2 matrix and G = gᵀ: L ← L + GGᵀ = L + ‖g‖² = "
        f"{e.number('state.left', a.left.reshape(-1)[0])} and R ← R + GᵀG = R + ggᵀ = "
        f"{_matrix(a.right_diag, a.right_off)} (both started at ε = {fmt(float(v.hp['eps']))}): R's diagonal "
        f"{e.show('state.right_diag', a.right_diag)}, R_xy = {e.number('state.right_off', a.right_off.reshape(-1)[0])}."
    )
    lo, hi = a.eigenvalues[0], a.eigenvalues[1]
    e.say(
        f"L^(−1/4) = {e.number('left_factor', a.left.pow(-0.25).reshape(-1)[0])} scales every direction alike. "
        "R^(−1/4) divides the component of g along each eigenvector of R by the fourth root of its eigenvalue: "
        f"{_ratio_sentence(e, a.eigenvalues, '¼', (hi / lo).pow(0.25).reshape(-1)[0])} With the same statistics, "
        "full-matrix AdaGrad's factors would differ by the square of that ratio: Shampoo corrects half as much (in "
        "the exponent)."
    )
    _turn_sentence(e, v, a.direction, "L^(−¼)gR^(−¼)")
    return finish(e, v, f"Step = −η·d = −{fmt(v.lr)}·d = {e.show('step', v.move)}.")


# ---- specs ------------------------------------------------------------------------------------------------

_NOTE = (
    "the preconditioner is a full 2 × 2 matrix: it turns the step, so no per-coordinate factor exists; "
    "the panel shows η, and the step-by-step view the angle between the step and −g"
)

# How the rules compare with pytorch-optimizer's Shampoo (printed by the theory page).
INEXACT = (
    "to rounding (paths within 2e-9 in the tests): the root comes from a square-root factor of the "
    "accumulated matrix, pytorch-optimizer's from an SVD of it"
)


FULL_ADAGRAD = OptimizerSpec(
    key="full_adagrad",
    name="Full-matrix AdaGrad",
    family="adaptive",
    build=full_adagrad_rule,
    torch_twin=TorchTwin(
        "Shampoo",
        lambda hp: dict(
            lr=hp["lr"], momentum=0.0, weight_decay=0.0, preconditioning_compute_steps=1, matrix_eps=hp["eps"]
        ),
        module="pytorch_optimizer",
        inexact=INEXACT,
    ),
    params=(
        lr_param(0.5, low=1e-3, high=5.0, help="Step size η; the first step has length η·‖g‖/√(‖g‖² + δ) ≈ η."),
        Param(
            "eps",
            1e-6,
            1e-10,
            1.0,
            log=True,
            label="δ",
            help="The accumulator starts at δI: the root is of G + δI, so no direction is divided by less than √δ.",
            latex=r"\delta",
        ),
    ),
    latex=r"G_t = G_{t-1} + g_t g_t^{\top},\quad w_{t+1} = w_t - \eta\,(G_t + \delta I)^{-1/2}\, g_t,\quad G_0 = 0",
    reference="Duchi, Hazan & Singer (2011), Adaptive subgradient methods for online learning and stochastic "
    "optimization (full-matrix update, δ inside the root); pytorch-optimizer's Shampoo on a vector",
    summary="AdaGrad with the whole 2 × 2 matrix of summed ggᵀ: it turns the step towards the valley floor, "
    "whatever the valley's angle (rotation-invariant).",
    effective_lr_kind="scheduled",
    effective_lr_note=_NOTE,
    explain=explain_full_adagrad,
    color="#1B9E77",
    state_labels={"diag": "diagonal of G", "direction": "preconditioned d"},
)

SHAMPOO = OptimizerSpec(
    key="shampoo",
    name="Shampoo",
    family="adaptive",
    build=shampoo_rule,
    torch_twin=TorchTwin(
        "Shampoo",
        lambda hp: dict(
            lr=hp["lr"], momentum=0.0, weight_decay=0.0, preconditioning_compute_steps=1, matrix_eps=hp["eps"]
        ),
        module="pytorch_optimizer",
        shape=(1, 2),
        inexact=INEXACT,
    ),
    params=(
        lr_param(0.5, low=1e-3, high=5.0, help="Step size η; the first step has length η·‖g‖/√(‖g‖² + ε) ≈ η."),
        Param(
            "eps",
            1e-6,
            1e-10,
            1.0,
            log=True,
            label="epsilon",
            help="L and R start at εI (the paper's initialisation), so no root divides by less than ε^(1/4).",
            latex=r"\varepsilon",
        ),
    ),
    latex=(
        r"L_t = L_{t-1} + G_t G_t^{\top},\ R_t = R_{t-1} + G_t^{\top} G_t,\ "
        r"W_{t+1} = W_t - \eta\, L_t^{-1/4} G_t R_t^{-1/4},\quad L_0 = \varepsilon I,\ R_0 = \varepsilon I,"
        r"\ W = (x\ y),\ G_t = g_t^{\top}"
    ),
    reference="Gupta, Koren & Singer (2018), Shampoo: preconditioned stochastic tensor optimization; "
    "pytorch-optimizer's Shampoo on a 1 × 2 parameter",
    summary="Full-matrix preconditioning from Kronecker factors: the point as a 1 × 2 matrix, a 1 × 1 and a 2 × 2 "
    "statistic, each to the power −1/4: half of full-matrix AdaGrad's whitening, still rotation-invariant.",
    effective_lr_kind="scheduled",
    effective_lr_note=_NOTE,
    explain=explain_shampoo,
    color="#7570B3",
    state_labels={"right_diag": "diagonal of R", "direction": "preconditioned d"},
)
