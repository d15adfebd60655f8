"""A real network's loss landscape: a small MLP trained on real data by the registry's own rules, and
the loss over a plane through its weights with every optimizer's path projected onto it (issue 18).

The network: 64 pixels -> `hidden` tanh units -> 10 classes, softmax cross-entropy, on scikit-learn's
bundled handwritten digits (1,797 8 × 8 images, pixels scaled to [0, 1]), split once into training and
held-out examples by a seeded permutation. Every optimizer starts from ONE shared initialisation θ₀
(PyTorch's nn.Linear initialisation, seeded) and takes full-batch steps on the training loss; its
update is the rule of optimizers/ (the same `init`, `per_step` and `update` the 2-D engine calls),
applied to the flat weight vector. Only element-wise rules qualify: they update each weight on its
own, so one flat vector and torch.optim's per-tensor loop give the same numbers
(tests/engine/test_landscape.py shows it against torch.optim for SGD, momentum and Adam).

The plane (Li et al., 2018, "Visualizing the Loss Landscape of Neural Nets", section 7): origin θ₀,
first direction u₁ towards θ_A (the final weights of optimizer A), second direction u₂ the part of
θ_B − θ₀ orthogonal to u₁; so θ₀, θ_A and θ_B all lie on it exactly. A point θ projects to
(a, b) = ((θ − θ₀)·u₁, (θ − θ₀)·u₂); what is left, |θ − θ₀ − a u₁ − b u₂|, is how far it is off the
plane: a path far off it is not the path the contour suggests, and the page says so.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from engine.rollout import default_device
from engine.step import weights_step
from optimizers import available_optimizers, get_optimizer

INPUTS, CLASSES = 64, 10
HELD_OUT = 0.25  # share of the examples kept out of training
GRID_CHUNK = 128  # grid points per batched forward pass (bounded memory: ~2 MB per hidden layer)

# Learning rates that train this network well in a few hundred full-batch steps (measured: 300 steps, seed 0,
# hidden 32, held-out loss near its best and no blow-up); the page and `gradscape landscape` start from them.
# Other optimizers start from their spec's default.
TRAINS_WELL_LR = {
    "sgd": 0.5,
    "momentum": 0.1,
    "nesterov": 0.1,
    "adagrad": 0.1,
    "rmsprop": 0.005,
    "adadelta": 2.0,
    "adam": 0.01,
    "amsgrad": 0.01,
    "adamw": 0.01,
    "nadam": 0.01,
    "adamax": 0.02,
    "radam": 0.02,
    "lion": 0.002,
}


@functools.cache
def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    bunch = load_digits()
    return torch.as_tensor(bunch.data, dtype=torch.float64) / 16.0, torch.as_tensor(bunch.target, dtype=torch.int64)


def digits_split(seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(X_train, y_train, X_held_out, y_held_out): a seeded permutation, HELD_OUT of it held out."""
    x, y = _digits()
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = len(y) - int(round(HELD_OUT * len(y)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def n_weights(hidden: int) -> int:
    return hidden * INPUTS + hidden + CLASSES * hidden + CLASSES


def unflatten(theta: Tensor, hidden: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(W1, b1, W2, b2) views of flat weights theta (..., P): W1 (..., hidden, 64), W2 (..., 10, hidden)."""
    lead = theta.shape[:-1]
    sizes = (hidden * INPUTS, hidden, CLASSES * hidden, CLASSES)
    w1, b1, w2, b2 = torch.split(theta, sizes, dim=-1)
    return w1.reshape(*lead, hidden, INPUTS), b1, w2.reshape(*lead, CLASSES, hidden), b2


def initial_weights(hidden: int, seed: int = 0, dtype=torch.float64) -> Tensor:
    """θ₀ as nn.Linear initialises it: every weight and bias uniform in ±1/√fan_in (seeded)."""
    g = torch.Generator().manual_seed(seed)
    parts = []
    for count, fan_in in ((hidden * INPUTS, INPUTS), (hidden, INPUTS), (CLASSES * hidden, hidden), (CLASSES, hidden)):
        bound = 1.0 / math.sqrt(fan_in)
        parts.append((torch.rand(count, generator=g, dtype=torch.float64) * 2 - 1) * bound)
    return torch.cat(parts).to(dtype)


def losses(theta: Tensor, x: Tensor, y: Tensor, hidden: int) -> Tensor:
    """Mean cross-entropy of the network with weights theta (K, P) on (x, y): shape (K,). One batched
    pass for K weight vectors (the grid's points, or the optimizers trained side by side)."""
    w1, b1, w2, b2 = unflatten(theta, hidden)
    h = torch.tanh(torch.matmul(x, w1.transpose(-1, -2)) + b1.unsqueeze(-2))  # (K, N, hidden)
    logits = torch.matmul(h, w2.transpose(-1, -2)) + b2.unsqueeze(-2)  # (K, N, 10)
    return torch.nn.functional.cross_entropy(
        logits.transpose(-1, -2), y.expand(theta.shape[0], -1), reduction="none"
    ).mean(-1)


def accuracy(theta: Tensor, x: Tensor, y: Tensor, hidden: int) -> Tensor:
    """Share of the examples (x, y) that the network with weights theta (K, P) classifies right: (K,)."""
    w1, b1, w2, b2 = unflatten(theta, hidden)
    h = torch.tanh(torch.matmul(x, w1.transpose(-1, -2)) + b1.unsqueeze(-2))
    logits = torch.matmul(h, w2.transpose(-1, -2)) + b2.unsqueeze(-2)
    return (logits.argmax(-1) == y).to(torch.float64).mean(-1)


def elementwise_optimizers() -> tuple[str, ...]:
    """The registry's optimizers whose rule treats every weight on its own: the ones a network can take
    (a coupled rule, a Newton-type one or one with a line search sees the whole point)."""
    keys = []
    for key in available_optimizers():
        rule = get_optimizer(key).build(get_optimizer(key).resolve({}))
        if not (rule.coupled or rule.needs_hessian or rule.needs_closure):
            keys.append(key)
    return tuple(keys)


@dataclass
class Training:
    """Each optimizer's weights at every step (steps + 1, P) and its training and held-out losses."""

    weights: dict[str, Tensor]
    train_loss: dict[str, Tensor]
    held_out_loss: dict[str, Tensor]
    theta0: Tensor
    hidden: int
    hparams: dict[str, dict]
    seed: int = 0  # of θ₀ and of the split into training and held-out examples


def train(
    optimizers,
    steps: int = 300,
    hparams: dict | None = None,
    hidden: int = 32,
    seed: int = 0,
    dtype=torch.float32,
    device: str | None = None,
    progress=None,
) -> Training:
    """Train the MLP from one shared θ₀ with each optimizer (full batch, `steps` updates, constant lr),
    all K of them in one batched forward and backward pass per step. float32 by default (twice as fast
    on a CPU as float64, and a network's loss needs no more); float64 for the comparison with torch.optim.
    progress(fraction), if given, is called every 5% of the steps."""
    hparams = hparams or {}
    bad = [k for k in optimizers if k not in elementwise_optimizers()]
    if bad:
        raise ValueError(
            f"{', '.join(bad)}: only element-wise rules can train a network here; choose from "
            f"{', '.join(elementwise_optimizers())}"
        )
    if not optimizers:
        raise ValueError("choose at least one optimizer")
    device = default_device() if device is None else str(device)
    xt, yt, xh, yh = (v.to(device, dtype) if v.is_floating_point() else v.to(device) for v in digits_split(seed))
    theta0 = initial_weights(hidden, seed, dtype).to(device)
    specs = [get_optimizer(k) for k in optimizers]
    resolved = [spec.resolve(hparams.get(spec.key, {})) for spec in specs]
    rules = [spec.build(hp) for spec, hp in zip(specs, resolved)]
    params = [theta0.clone() for _ in specs]
    states = [rule.init(p) for rule, p in zip(rules, params)]
    lrs = [hp.get("lr", 1.0) for hp in resolved]
    history = [[p] for p in params]
    every = max(1, steps // 20)

    def gradient_of(at: Tensor) -> Tensor:  # every network's gradient in one batched backward pass
        at = at.detach().requires_grad_(True)
        return torch.autograd.grad(losses(at, xt, yt, hidden).sum(), at)[0]

    for t in range(1, steps + 1):
        if progress is not None and t % every == 0:
            progress(t / steps)
        params, states = weights_step(rules, params, states, lrs, t, gradient_of)
        for h, p in zip(history, params):
            h.append(p)
    weights = {k: torch.stack(h) for k, h in zip(optimizers, history)}
    with torch.no_grad():
        train_loss = {k: chunked_losses(w, xt, yt, hidden).cpu() for k, w in weights.items()}
        held = {k: chunked_losses(w, xh, yh, hidden).cpu() for k, w in weights.items()}
    weights = {k: w.cpu() for k, w in weights.items()}
    hparams = {k: hp for k, hp in zip(optimizers, resolved)}
    return Training(weights, train_loss, held, theta0.cpu(), hidden, hparams, seed)


def chunked_losses(theta: Tensor, x: Tensor, y: Tensor, hidden: int) -> Tensor:
    """losses() over many weight vectors (K, P), GRID_CHUNK of them per batched pass (bounded memory)."""
    return torch.cat([losses(theta[i : i + GRID_CHUNK], x, y, hidden) for i in range(0, len(theta), GRID_CHUNK)])


def plane(theta0: Tensor, theta_a: Tensor, theta_b: Tensor) -> tuple[Tensor, Tensor]:
    """(u₁, u₂): orthonormal directions of the plane through θ₀, θ_A and θ_B (Gram–Schmidt, twice for
    accuracy). ValueError if the three points do not span a plane."""
    da, db = theta_a - theta0, theta_b - theta0
    if float(da.norm()) == 0.0:
        raise ValueError("optimizer A did not move from the initialisation: no plane")
    u1 = da / da.norm()
    v = db - (db @ u1) * u1
    v = v - (v @ u1) * u1
    if float(v.norm()) <= 1e-12 * float(db.norm() + da.norm()):
        raise ValueError("the two optimizers' final weights lie on one line through the initialisation: no plane")
    return u1, v / v.norm()


def project(theta: Tensor, theta0: Tensor, u1: Tensor, u2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(a, b, off): coordinates on the plane of weights theta (..., P) and their distance from it."""
    d = theta - theta0
    a, b = d @ u1, d @ u2
    off = (d - a.unsqueeze(-1) * u1 - b.unsqueeze(-1) * u2).norm(dim=-1)
    return a, b, off


@dataclass
class PathOnPlane:
    steps: Tensor  # (n,) step numbers
    a: Tensor
    b: Tensor
    loss: Tensor  # the real training loss of the weights (not of their projection)
    held_out_loss: Tensor
    off_plane: Tensor  # distance of the weights from the plane
    off_share: float  # off-plane distance of the final weights over their distance from θ₀
    held_out_accuracy: float = math.nan  # share of the held-out examples the final weights classify right


@dataclass
class RandomSlice:
    """The loss around one optimizer's final weights along two filter-normalised random directions."""

    center_of: str  # the optimizer whose final weights are the centre
    a: Tensor  # (G,) steps along the first direction, in units of the direction (filter norms)
    b: Tensor
    loss: Tensor  # (G, G): loss[i, j] at centre + a[j] d₁ + b[i] d₂
    center_loss: float  # the real training loss at the centre
    path_share: float  # share of the optimizer's whole move θ_end − θ₀ that lies in the span of d₁, d₂
    seed: int


@dataclass
class Landscape:
    a: Tensor  # (G,) grid coordinates along u₁
    b: Tensor  # (G,) along u₂
    loss: Tensor  # (G, G): loss[i, j] at (a[j], b[i]), the training loss of θ₀ + a u₁ + b u₂
    paths: dict[str, PathOnPlane]
    plane: tuple[str, str]
    meta: dict = field(default_factory=dict)
    random: RandomSlice | None = None  # Li et al.'s filter-normalised slice, when asked for


def landscape(
    optimizers,
    steps: int = 300,
    grid: int = 41,
    plane_of: tuple[str, str] | None = None,
    hparams: dict | None = None,
    hidden: int = 32,
    seed: int = 0,
    margin: float = 0.15,
    progress=None,
    dtype=torch.float32,
    device: str | None = None,
    random_plane: bool = False,
) -> Landscape:
    """Train, pick the plane of `plane_of` (default: the first two optimizers), and evaluate the
    training loss on a grid × grid lattice covering every projected path with `margin` to spare.
    random_plane: also Li et al.'s filter-normalised random slice around plane_of[0]'s final weights
    (`Landscape.random`, directions drawn from `seed`). progress(fraction, text) is called as the work
    goes on."""
    optimizers = list(dict.fromkeys(optimizers))
    if plane_of is None:
        if len(optimizers) < 2:
            raise ValueError("a plane needs two optimizers: choose at least two")
        plane_of = (optimizers[0], optimizers[1])
    if plane_of[0] == plane_of[1] or any(k not in optimizers for k in plane_of):
        raise ValueError("the plane is set by two different optimizers among those trained")
    if not 3 <= int(grid) <= 201:
        raise ValueError(f"grid must be from 3 to 201 points a side; got {grid!r}")
    say = progress or (lambda fraction, text: None)
    say(0.0, "training")
    device = default_device() if device is None else str(device)
    trained = train(optimizers, steps, hparams, hidden, seed, dtype, device, lambda f: say(0.5 * f, "training"))
    # The plane's geometry in float64 whatever the training's dtype: its endpoints lie on it to 1e-15.
    theta0 = trained.theta0.double()
    weights = {k: w.double() for k, w in trained.weights.items()}
    u1, u2 = plane(theta0, weights[plane_of[0]][-1], weights[plane_of[1]][-1])
    xt, yt, xh, yh = digits_split(seed)
    xt, yt = xt.to(device, dtype), yt.to(device)
    paths = {}
    for key, w in weights.items():
        a, b, off = project(w, theta0, u1, u2)
        moved = float((w[-1] - theta0).norm())
        paths[key] = PathOnPlane(
            torch.arange(len(w)),
            a,
            b,
            trained.train_loss[key],
            trained.held_out_loss[key],
            off,
            float(off[-1]) / moved if moved > 0 else 0.0,
            float(accuracy(trained.weights[key][-1:], xh.to(dtype), yh, hidden)[0]),  # on the CPU: one forward
        )
    a_all = torch.cat([p.a for p in paths.values()])
    b_all = torch.cat([p.b for p in paths.values()])
    a_axis = _axis(a_all, grid, margin)
    b_axis = _axis(b_all, grid, margin)
    share = 0.25 if random_plane else 0.5  # of the progress bar the plane's grid takes
    loss = grid_losses(
        theta0, u1, u2, a_axis, b_axis, xt, yt, hidden, lambda f: say(0.5 + share * f, "evaluating the plane")
    )
    random = None
    if random_plane:
        say(0.75, "evaluating the random directions")
        random = random_slice(plane_of[0], trained, grid, seed=seed, device=device, dtype=dtype)
        say(1.0, "evaluating the random directions")
    meta = dict(
        dataset="digits", hidden=hidden, steps=steps, seed=seed, n_weights=theta0.numel(), hparams=trained.hparams
    )
    meta.update(n_train=len(yt), n_held_out=len(yh))
    return Landscape(a_axis, b_axis, loss, paths, tuple(plane_of), meta, random)


def grid_losses(center, u1, u2, a_axis, b_axis, x, y, hidden: int, progress=None) -> Tensor:
    """(G_b, G_a) training losses of center + a u₁ + b u₂ over the grid, loss[i, j] at (a[j], b[i]): one
    batched forward pass per GRID_CHUNK nodes (their weights made a chunk at a time: bounded memory), on
    x's device and in its dtype; the plane's geometry stays float64 until then. progress(fraction)."""
    n = len(a_axis) * len(b_axis)
    a_nodes, b_nodes = a_axis.repeat(len(b_axis)), b_axis.repeat_interleave(len(a_axis))
    values = []
    with torch.no_grad():
        for i in range(0, n, GRID_CHUNK):
            a, b = a_nodes[i : i + GRID_CHUNK, None], b_nodes[i : i + GRID_CHUNK, None]
            points = (center + a * u1 + b * u2).to(x.device, x.dtype)
            values.append(losses(points, x, y, hidden).double().cpu())
            if progress is not None:
                progress(min(1.0, (i + GRID_CHUNK) / n))
    return torch.cat(values).view(len(b_axis), len(a_axis))


def filter_normalized_direction(theta: Tensor, hidden: int, generator: torch.Generator) -> Tensor:
    """A random direction scaled filter by filter, as Li et al. (2018, "Visualizing the Loss Landscape of
    Neural Nets", section 4) do: Gaussian, then each filter (in a fully connected layer, the incoming
    weights of one unit: a row of W) rescaled to the norm of the same filter of theta, so that the
    picture does not depend on how each layer happens to be scaled. Biases are not moved (the direction
    is 0 there), as in the authors' code by default."""
    d = torch.randn(theta.shape, generator=generator, dtype=torch.float64).to(theta.dtype)
    dw1, db1, dw2, db2 = unflatten(d, hidden)
    w1, _, w2, _ = unflatten(theta, hidden)
    dw1 = dw1 * (w1.norm(dim=-1, keepdim=True) / dw1.norm(dim=-1, keepdim=True))
    dw2 = dw2 * (w2.norm(dim=-1, keepdim=True) / dw2.norm(dim=-1, keepdim=True))
    return torch.cat([dw1.reshape(-1), torch.zeros_like(db1), dw2.reshape(-1), torch.zeros_like(db2)])


def random_slice(
    center_of: str,
    trained: Training,
    grid: int = 41,
    span: float = 1.0,
    seed: int = 0,
    device=None,
    dtype=torch.float32,
) -> RandomSlice:
    """Li et al.'s picture around `center_of`'s final weights: a grid × grid lattice over [−span, span]² of
    two filter-normalised random directions (drawn from `seed`). Paths are not drawn on it: two random directions in
    thousands of dimensions hold almost none of a path's movement (path_share says how much)."""
    device = default_device() if device is None else str(device)
    center = trained.weights[center_of][-1].double()
    g = torch.Generator().manual_seed(int(seed))
    d1 = filter_normalized_direction(center, trained.hidden, g)
    d2 = filter_normalized_direction(center, trained.hidden, g)
    xt, yt, _, _ = digits_split(trained.seed)
    x = xt.to(device, dtype)
    # symmetric by construction: with an odd grid the middle node is exactly the centre (linspace gives 3e-17)
    half = (int(grid) - 1) / 2
    axis = (torch.arange(int(grid), dtype=torch.float64) - half) * (span / half)
    loss = grid_losses(center, d1, d2, axis, axis, x, yt.to(device), trained.hidden)
    u1, u2 = plane(torch.zeros_like(center), d1, d2)  # an orthonormal basis of the directions' span
    move = center - trained.theta0.double()
    inside = torch.stack([move @ u1, move @ u2]).norm()
    share = float(inside / move.norm()) if float(move.norm()) > 0 else 0.0
    center_loss = float(losses(center[None].to(x.dtype).to(device), x, yt.to(device), trained.hidden)[0])
    return RandomSlice(center_of, axis, axis.clone(), loss, center_loss, share, int(seed))


def _axis(values: Tensor, grid: int, margin: float) -> Tensor:
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, 1e-9)
    return torch.linspace(lo - margin * span, hi + margin * span, int(grid), dtype=torch.float64)
