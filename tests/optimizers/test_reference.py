"""Every optimizer torch.optim has reproduces torch.optim's trajectory to float64 rounding.

The torch loop gets the surface's analytic gradient (p.grad = surface.grad(p)) so both sides see
the same numbers; one (B, 2) parameter equals B independent runs for element-wise optimizers.
Hyperparameters are drawn at random from the specs' ranges, with eps both tiny and large.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import math
import random

import pytest
import torch

from engine import simulate
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import make_schedule
from surfaces import get_surface

STEPS = 120
RTOL, ATOL = 0.0, 0.0  # bit for bit: rules end with torch.optim's own fused operation


# torch.optim and the reference packages keep scalar state in the default dtype (tests/optimizers/conftest.py).
pytestmark = pytest.mark.usefixtures("float64_default")


def torch_kwargs(key: str, hp: dict) -> tuple[type, dict]:
    """The optimizer class (torch.optim's, or the reference package's) and arguments equal to
    gradscape's resolved hyperparameters: the twin each optimizer declares in its own file (the
    snippet export reads the same declaration)."""
    twin = get_optimizer(key).torch_twin
    cls = getattr(importlib.import_module(twin.module), twin.cls)
    kwargs = twin.arguments(hp)
    if "foreach" in inspect.signature(cls).parameters:
        kwargs["foreach"] = False
    return cls, kwargs


TORCH_KEYS = tuple(k for k in available_optimizers() if get_optimizer(k).torch_twin is not None)


def test_every_optimizer_torch_has_declares_its_twin():
    """The optimizers of torch.optim (Nesterov aside: torch's tracks the look-ahead point) declare a twin."""
    expected = {
        "sgd",
        "momentum",
        "adagrad",
        "rmsprop",
        "adadelta",
        "adam",
        "amsgrad",
        "adamw",
        "nadam",
        "adamax",
        "radam",
        "rprop",
        "asgd",
        "adafactor",
    }
    assert expected & set(available_optimizers()) <= set(TORCH_KEYS)
    assert len(TORCH_KEYS) >= 12


# Largest lr exponent per surface: gradient descent stays in view (gradients differ by 100×).
LR_TOP = {"ravine": -0.5, "saddle": -0.5, "rosenbrock": -3.0, "himmelblau": -2.3, "beale": -2.5}


def random_hparams(key: str, rng: random.Random, eps: float | None, lr_top: float = -1.3) -> dict:
    """Values drawn inside each spec's slider range (log-uniform for log params)."""
    spec = get_optimizer(key)
    hp = {}
    for p in spec.params:
        if p.kind == "bool":
            hp[p.name] = rng.random() < 0.5
        elif p.kind in ("int", "choice"):
            continue
        elif p.name == "lr":
            hp["lr"] = 10 ** rng.uniform(lr_top - 1.5, lr_top)
        elif p.name == "eps" and eps is not None:
            hp["eps"] = eps
        elif p.log:
            hp[p.name] = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
        else:
            hp[p.name] = rng.uniform(p.low, p.high)
    if "weight_decay" in hp:
        hp["weight_decay"] = rng.choice([0.0, hp["weight_decay"] * 0.1])
    return hp


def torch_trajectory(surface, start, steps, cls, kwargs, scheduler=None, wrap=None, coupled=False, twin=None):
    """The reference optimizer's path from `start` (B, 2): one (B, 2) parameter (B independent runs
    for an element-wise optimizer), or one parameter per run when the rule couples x and y
    (Adafactor's RMS is over a whole parameter, and torch would factor a (B, 2) one), shaped as the
    twin declares ((2,), or (1, 2) for Muon). A twin with `closure` steps with one (L-BFGS); `calls`
    are made before the first step (Schedule-Free's train())."""
    shape = twin.shape if twin is not None else (2,)
    one_per_run = coupled or (twin is not None and twin.closure)
    if one_per_run and len(start) > 1:
        # One optimizer per run: a scalar taken over all of an optimizer's parameters (Prodigy's d,
        # L-BFGS's flattened history) would otherwise couple the runs.
        rows = [start[b : b + 1] for b in range(len(start))]
        return torch.cat(
            [torch_trajectory(surface, row, steps, cls, kwargs, scheduler, wrap, coupled, twin) for row in rows]
        )
    if one_per_run:
        params = [row.clone().reshape(shape).requires_grad_(True) for row in start]
    else:
        params = [start.clone().requires_grad_(True)]
    opt = cls(params, **kwargs)
    for call in twin.calls if twin is not None else ():
        getattr(opt, call)()
    if wrap is not None:
        opt = wrap(opt)
    sched = scheduler(opt) if scheduler is not None else None

    def point():
        points = params
        if twin is not None and "train" in twin.calls:
            # Schedule-Free: the path drawn is x, the point eval() gives. Taken from a copy: eval() and
            # train() on the optimizer itself would round its y on the way back.
            view = copy.deepcopy(opt)
            view.eval()
            points = [p for group in view.param_groups for p in group["params"]]
        if one_per_run:
            return torch.stack([p.detach().reshape(2).clone() for p in points])
        return points[0].detach().clone()

    def set_grads():
        loss = 0.0
        with torch.no_grad():
            for p in params:
                xy = p.detach().reshape(-1, 2)
                p.grad = surface.grad(xy).reshape(p.shape)
                loss = loss + surface.f(xy).sum()
        return loss

    path = [point()]
    for _ in range(steps):
        if twin is not None and twin.closure:
            opt.step(set_grads)
        else:
            set_grads()
            opt.step()
        if sched is not None:
            sched.step()
        path.append(point())
    return torch.stack(path, dim=1)  # (B, steps + 1, 2)


def starts_for(surface, batch: int, rng: random.Random) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    pts = [(rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8) for _ in range(batch - 1)]
    return torch.tensor([surface.start] + pts, dtype=torch.float64)


SURFACES = ("ravine", "rosenbrock", "himmelblau", "saddle", "beale")
CASES = [
    (key, surf, eps)
    for key in TORCH_KEYS
    if not get_optimizer(key).torch_twin.inexact  # matched to rounding: bounded in the optimizer's own tests
    for surf in SURFACES
    for eps in ("tiny", "large")
]


@pytest.mark.parametrize("key,surface_key,eps_kind", CASES, ids=[f"{k}-{s}-eps_{e}" for k, s, e in CASES])
def test_matches_torch_optim(key, surface_key, eps_kind):
    rng = random.Random(f"{key}/{surface_key}/{eps_kind}")
    surface = get_surface(surface_key)
    eps = {"tiny": 1e-12, "large": 0.3}[eps_kind]
    hp = random_hparams(key, rng, eps, LR_TOP[surface_key])
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    cls, kwargs = torch_kwargs(key, ours.hparams)
    spec = get_optimizer(key)
    theirs = torch_trajectory(surface, start, STEPS, cls, kwargs, coupled=spec.rule().coupled, twin=spec.torch_twin)
    valid = ours.diverged_at < 0
    assert valid.any(), "pick gentler hyperparameters: every run diverged"
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("key", ["adam", "amsgrad", "adamw", "nadam", "radam", "momentum", "rmsprop", "adagrad"])
def test_matches_torch_foreach_implementation(key):
    rng = random.Random(key)
    surface = get_surface("rosenbrock")
    hp = random_hparams(key, rng, 1e-8, LR_TOP["rosenbrock"])
    start = starts_for(surface, 3, rng)
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    cls, kwargs = torch_kwargs(key, ours.hparams)
    theirs = torch_trajectory(
        surface, start, STEPS, cls, {**kwargs, "foreach": True}, coupled=get_optimizer(key).rule().coupled
    )
    # The multi-tensor kernels order some operations differently: equal to rounding, not bits.
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-10, atol=1e-12)


SCHEDULED = [
    ("adam", ("step", dict(step_size=25, gamma=0.5)), lambda o: torch.optim.lr_scheduler.StepLR(o, 25, 0.5)),
    (
        "momentum",
        ("exponential", dict(r=40.0)),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, math.exp(-1 / 40.0)),
    ),
    (
        "rmsprop",
        ("cosine", dict(T_max=STEPS, min_factor=0.0)),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS),
    ),
    (
        "nadam",
        ("warmup", dict(inner="step", warmup_steps=20, start_factor=0.1, step_size=30, gamma=0.5)),
        lambda o: torch.optim.lr_scheduler.ChainedScheduler(
            [
                torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=20),
                torch.optim.lr_scheduler.StepLR(o, 30, 0.5),
            ]
        ),
    ),
    (
        "adagrad",
        ("reciprocal", dict(r=10.0, c=1.0)),
        lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: (1 + t / 10.0) ** -1.0),
    ),
]


@pytest.mark.parametrize("key,sched,torch_sched", SCHEDULED, ids=[f"{k}-{s[0]}" for k, s, _ in SCHEDULED])
def test_matches_torch_with_lr_scheduler(key, sched, torch_sched):
    surface = get_surface("ravine", condition=50.0, angle=20.0)
    start = torch.tensor([surface.start, (1.0, -2.0)], dtype=torch.float64)
    hp = {"lr": 0.05}
    ours = simulate(
        surface, key, start=start, steps=STEPS, hparams=hp, schedule=make_schedule(sched[0], **sched[1]), device="cpu"
    )
    cls, kwargs = torch_kwargs(key, ours.hparams)
    theirs = torch_trajectory(
        surface, start, STEPS, cls, kwargs, scheduler=torch_sched, coupled=get_optimizer(key).rule().coupled
    )
    # Recursive torch schedules differ from the closed forms by rounding only.
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-9, atol=1e-11)


def test_reduce_on_plateau_matches_torch():
    """The performance-dependent schedule reads the loss at the point each update started from."""
    surface = get_surface("plateau")
    start = torch.tensor([surface.start, (2.0, 2.0)], dtype=torch.float64)
    sched = make_schedule("plateau", factor=0.5, patience=3, threshold=1e-3)
    ours = simulate(surface, "adam", start=start, steps=STEPS, hparams={"lr": 0.2}, schedule=sched, device="cpu")
    cls, kwargs = torch_kwargs("adam", ours.hparams)
    # torch's ReduceLROnPlateau takes one loss per optimizer: drive one optimizer per run.
    for b in range(2):
        p = start[b : b + 1].clone().requires_grad_(True)
        opt = cls([p], **kwargs)
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3, threshold=1e-3)
        path, lrs = [p.detach().clone()], []
        for _ in range(STEPS):
            with torch.no_grad():
                loss = surface.f(p.detach()).sum()
                p.grad = surface.grad(p.detach())
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            plateau.step(loss)
            path.append(p.detach().clone())
        torch.testing.assert_close(ours.xy[b], torch.cat(path), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(ours.lr[b], torch.tensor(lrs), rtol=1e-15, atol=0)
    assert float(ours.lr[:, -1].max()) < 0.2, "the plateau should have reduced the learning rate"


def test_nesterov_tracks_torch_lookahead_point():
    """torch's SGD(nesterov=True) parameter is the look-ahead point w + γu of the notes' form."""
    surface = get_surface("rosenbrock", b=20.0)
    start = torch.tensor([surface.start, (0.5, -0.5)], dtype=torch.float64)
    gamma, lr = 0.85, 2e-3
    ours = simulate(surface, "nesterov", start=start, steps=STEPS, hparams={"lr": lr, "momentum": gamma}, device="cpu")
    theirs = torch_trajectory(
        surface, start, STEPS, torch.optim.SGD, dict(lr=lr, momentum=gamma, nesterov=True, foreach=False)
    )
    u = torch.diff(ours.xy, dim=1)  # u_t = w_t − w_{t−1}
    lookahead_points = ours.xy[:, 1:] + gamma * u
    torch.testing.assert_close(lookahead_points, theirs[:, 1:], rtol=1e-9, atol=1e-11)
    assert not torch.allclose(ours.xy[:, 1:], theirs[:, 1:]), "the two parameterisations must differ"


# --- optimizers torch.optim lacks: pytorch-optimizer (test-only dependency) or the paper --------

pytorch_optimizer = pytest.importorskip("pytorch_optimizer")

EXTERNAL = [
    (
        "adabound",
        dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1, gamma=1e-3, weight_decay=0.0),
        lambda hp: (
            pytorch_optimizer.AdaBound,
            dict(
                lr=hp["lr"],
                final_lr=hp["final_lr"],
                betas=(hp["beta1"], hp["beta2"]),
                gamma=hp["gamma"],
                eps=hp["eps"],
                weight_decay=hp["weight_decay"],
                weight_decouple=False,
                foreach=False,
            ),
        ),
    ),
    (
        "adabound",
        dict(lr=0.03, beta1=0.8, beta2=0.99, eps=1e-3, final_lr=0.05, gamma=1e-2, weight_decay=0.01),
        lambda hp: (
            pytorch_optimizer.AdaBound,
            dict(
                lr=hp["lr"],
                final_lr=hp["final_lr"],
                betas=(hp["beta1"], hp["beta2"]),
                gamma=hp["gamma"],
                eps=hp["eps"],
                weight_decay=hp["weight_decay"],
                weight_decouple=False,
                foreach=False,
            ),
        ),
    ),
    (
        "lion",
        dict(lr=0.01, beta1=0.9, beta2=0.99, weight_decay=0.0),
        lambda hp: (
            pytorch_optimizer.Lion,
            dict(lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), weight_decay=hp["weight_decay"], foreach=False),
        ),
    ),
    (
        "lion",
        dict(lr=0.003, beta1=0.7, beta2=0.95, weight_decay=0.1),
        lambda hp: (
            pytorch_optimizer.Lion,
            dict(lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), weight_decay=hp["weight_decay"], foreach=False),
        ),
    ),
]


@pytest.fixture
def adabound_as_in_the_paper(monkeypatch):
    """pytorch-optimizer's AdaBound adds 1e-15 to v inside the root; the paper and its reference
    code do not. Removing that one constant must leave the two implementations equal."""
    original = pytorch_optimizer.AdaBound.apply_ams_bound

    def without_inner_eps(ams_bound, exp_avg_sq, max_exp_avg_sq, eps, exp_avg_sq_eps=1e-15):
        return original(ams_bound, exp_avg_sq, max_exp_avg_sq, eps, exp_avg_sq_eps=0.0)

    monkeypatch.setattr(pytorch_optimizer.AdaBound, "apply_ams_bound", staticmethod(without_inner_eps))


@pytest.mark.parametrize("key,hp,make", EXTERNAL, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(EXTERNAL)])
def test_matches_pytorch_optimizer(key, hp, make, adabound_as_in_the_paper):
    for surface_key in ("ravine", "rosenbrock", "himmelblau"):
        surface = get_surface(surface_key)
        start = starts_for(surface, 3, random.Random(surface_key))
        ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
        cls, kwargs = make(ours.hparams)
        theirs = torch_trajectory(surface, start, STEPS, cls, kwargs)
        torch.testing.assert_close(ours.xy, theirs, rtol=0, atol=0)


def test_adabound_differs_from_pytorch_optimizer_only_by_its_inner_eps():
    """Without the patch the 1e-15 shows once v is small: visible, but far below a pixel."""
    surface = get_surface("ravine")
    start = torch.tensor([surface.start], dtype=torch.float64)
    hp = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, final_lr=0.1, gamma=1e-3, weight_decay=0.0)
    ours = simulate(surface, "adabound", start=start, steps=STEPS, hparams=hp, device="cpu")
    cls, kwargs = EXTERNAL[0][2](ours.hparams)
    theirs = torch_trajectory(surface, start, STEPS, cls, kwargs)
    assert not torch.equal(ours.xy, theirs)
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("inner", ["adam", "sgd", "momentum", "rmsprop"])
def test_lookahead_matches_pytorch_optimizer(inner):
    surface = get_surface("rosenbrock", b=20.0)
    start = starts_for(surface, 3, random.Random(inner))
    hp = {"inner": inner, "k": 4, "slow_alpha": 0.6, "lr": 2e-3}
    ours = simulate(surface, "lookahead", start=start, steps=STEPS, hparams=hp, device="cpu")
    inner_hp = {k: v for k, v in ours.hparams.items() if k not in ("inner", "k", "slow_alpha")}
    cls, kwargs = torch_kwargs(inner, inner_hp)
    theirs = torch_trajectory(
        surface, start, STEPS, cls, kwargs, wrap=lambda o: pytorch_optimizer.Lookahead(o, k=4, alpha=0.6)
    )
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-10, atol=1e-12)
    plain = simulate(surface, inner, start=start, steps=STEPS, hparams=inner_hp, device="cpu")
    assert not torch.allclose(ours.xy[:, 8:], plain.xy[:, 8:]), "lookahead must change the path"


def test_ranger_is_lookahead_over_torch_radam():
    surface = get_surface("himmelblau")
    start = starts_for(surface, 3, random.Random("ranger"))
    ours = simulate(surface, "ranger", start=start, steps=STEPS, hparams={"lr": 0.01}, device="cpu")
    hp = ours.hparams
    radam = dict(
        lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"], weight_decay=hp["weight_decay"], foreach=False
    )
    theirs = torch_trajectory(
        surface,
        start,
        STEPS,
        torch.optim.RAdam,
        radam,
        wrap=lambda o: pytorch_optimizer.Lookahead(o, k=hp["k"], alpha=hp["alpha"]),
    )
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-10, atol=1e-12)


def test_ranger_matches_pytorch_optimizer_ranger_without_its_extras():
    """pytorch-optimizer's Ranger with gradient centralisation off and the SGD warm-up branch on."""
    surface = get_surface("himmelblau")
    start = starts_for(surface, 3, random.Random("ranger2"))
    ours = simulate(surface, "ranger", start=start, steps=STEPS, hparams={"lr": 0.01}, device="cpu")
    hp = ours.hparams
    kwargs = dict(
        lr=hp["lr"],
        betas=(hp["beta1"], hp["beta2"]),
        alpha=hp["alpha"],
        k=hp["k"],
        eps=hp["eps"],
        n_sma_threshold=5,
        degenerated_to_sgd=True,
        use_gc=False,
        weight_decay=0.0,
        foreach=False,
    )
    theirs = torch_trajectory(surface, start, STEPS, pytorch_optimizer.Ranger, kwargs)
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-9, atol=1e-11)
