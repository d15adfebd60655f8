"""Muon reproduces torch.optim.Muon, and Schedule-Free SGD / AdamW the `schedulefree` package's
SGDScheduleFree / AdamWScheduleFree, bit for bit (float64, hyperparameters drawn from the specs'
slider ranges, several surfaces, several runs at once).

Muon takes matrices: one run's point is a (1, 2) parameter, one per run, all in one optimizer (which
treats its parameters separately). Schedule-Free is element-wise (its weight_sum and lr_max depend
on the lr and the step only): the runs are one (B, 2) parameter. gradscape draws Schedule-Free's
average x (what the package's eval() gives) and takes the gradient at y (its parameter in train
mode): both sequences, and z, are compared.
"""

from __future__ import annotations

import copy
import math
import random

import pytest
import torch

from engine import simulate
from engine.anatomy import anatomy
from engine.step import step as take_step
from optimizers import get_optimizer
from optimizers.explain import fmt
from optimizers.muon import NS_COEFFICIENTS, adjust_ratio, muon_input, newton_schulz_rows
from optimizers.schedules import make_schedule
from surfaces import get_surface

schedulefree = pytest.importorskip("schedulefree")

STEPS = 120
SURFACES = ("ravine", "rosenbrock", "himmelblau", "saddle", "beale")
# Largest lr exponent per surface for the gradient-scaled Schedule-Free SGD (gradients differ by 100×).
LR_TOP = {"ravine": -0.5, "saddle": -0.5, "rosenbrock": -3.0, "himmelblau": -2.3, "beale": -2.5}


# torch.optim and the reference packages keep scalar state in the default dtype (tests/optimizers/conftest.py).
pytestmark = pytest.mark.usefixtures("float64_default")


def starts_for(surface, batch: int, rng: random.Random) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    pts = [(rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8) for _ in range(batch - 1)]
    return torch.tensor([surface.start] + pts, dtype=torch.float64)


def drawn(key: str, rng: random.Random, lr_range: tuple[float, float] | None = None) -> dict:
    """Every hyperparameter inside its slider range: log-uniform for log floats, uniform otherwise,
    any choice, any whole number; weight decay off half the time."""
    hp = {}
    for p in get_optimizer(key).params:
        if p.kind == "bool":
            hp[p.name] = rng.random() < 0.5
        elif p.kind == "choice":
            hp[p.name] = rng.choice(p.choices)
        elif p.kind == "int":
            hp[p.name] = rng.randint(int(p.low), int(p.high))
        elif p.name == "lr" and lr_range is not None:
            hp["lr"] = 10 ** rng.uniform(*lr_range)
        elif p.log:
            hp[p.name] = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
        else:
            hp[p.name] = rng.uniform(p.low, p.high)
    hp["weight_decay"] = rng.choice([0.0, hp["weight_decay"]])
    return hp


def by_hand(surface, key, start, steps, hp, lrs=None):
    """engine.step.step by hand (simulate keeps no states): [(new point, state)] for every step."""
    spec = get_optimizer(key)
    resolved = spec.resolve(hp)
    rule = spec.build(resolved)
    params = start.T.contiguous()
    state = rule.init(params)
    out = []
    for t in range(steps):
        lr = resolved["lr"] if lrs is None else lrs[t]
        done = take_step(surface, rule, params, state, lr, rule.per_step(lr, t + 1))
        params, state = done.params, done.state
        out.append((params, state))
    return out


# ---- Muon vs torch.optim.Muon --------------------------------------------------------------------------


def torch_muon(surface, start, steps, hp, record=None, scheduler=None):
    """(B, steps + 1, 2): torch.optim.Muon with one (1, 2) parameter per run."""
    twin = get_optimizer("muon").torch_twin
    assert twin.shape == (1, 2) and twin.module == "torch.optim"
    ps = [row.clone().reshape(1, 2).requires_grad_(True) for row in start]
    opt = torch.optim.Muon(ps, **twin.arguments(hp))
    sched = scheduler(opt) if scheduler is not None else None
    path = [torch.stack([p.detach().reshape(2).clone() for p in ps])]
    for _ in range(steps):
        with torch.no_grad():
            for p in ps:
                p.grad = surface.grad(p.detach()).reshape(1, 2)
        opt.step()
        if record is not None:
            record(opt, ps)
        if sched is not None:
            sched.step()
        path.append(torch.stack([p.detach().reshape(2).clone() for p in ps]))
    return torch.stack(path, dim=1)


MUON_CASES = [(surface, seed) for surface in SURFACES for seed in range(3)]


@pytest.mark.parametrize("surface_key,seed", MUON_CASES, ids=[f"{s}-{i}" for s, i in MUON_CASES])
def test_muon_matches_torch_optim_muon_bit_for_bit(surface_key, seed):
    rng = random.Random(f"muon/{surface_key}/{seed}")
    surface = get_surface(surface_key)
    hp = drawn("muon", rng)
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, "muon", start=start, steps=STEPS, hparams=hp, device="cpu")
    assert ours.meta["engine"] == "eager"
    theirs = torch_muon(surface, start, STEPS, ours.hparams)
    valid = ours.diverged_at < 0
    assert valid.any(), f"every run diverged ({hp})"
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=0, atol=0)


def test_the_muon_draws_cover_every_branch():
    draws = [drawn("muon", random.Random(f"muon/{s}/{i}")) for s, i in MUON_CASES]
    for name in ("nesterov", "ns_coefficients", "adjust_lr_fn"):
        assert len({hp[name] for hp in draws}) == len(get_optimizer("muon").param(name).grid()), name
    assert len({hp["ns_steps"] % 2 for hp in draws}) == 2 and any(hp["weight_decay"] > 0 for hp in draws)


def test_muon_momentum_buffer_is_torchs():
    surface = get_surface("himmelblau")
    start = starts_for(surface, 3, random.Random("buffer"))
    hp = {"lr": 0.08, "momentum": 0.8, "weight_decay": 0.05}
    states = [s for _, s in by_hand(surface, "muon", start, 40, hp)]
    bufs = []
    torch_muon(
        surface,
        start,
        40,
        get_optimizer("muon").resolve(hp),
        record=lambda opt, ps: bufs.append(torch.stack([opt.state[p]["momentum_buffer"].reshape(2) for p in ps], 1)),
    )
    for t, state in enumerate(states):
        assert torch.equal(state.buf, bufs[t]), f"step {t + 1}"


def test_newton_schulz_equals_torchs_on_random_rows_and_edge_cases():
    """One Muon step from w = 0 with momentum 0, lr 1 and no decay is −NS(g): torch's own iteration,
    through its public API, on 4000 random rows of every scale, zeros, rows below ε, and rows whose
    float32 sum of squares overflows (torch then returns 0)."""
    gen = torch.Generator().manual_seed(7)
    g = torch.randn(2, 4000, generator=gen) * torch.exp(torch.randn(1, 4000, generator=gen) * 8)
    g[:, :3] = 0.0
    g[0, 3:6] = 0.0
    g[:, 6:20] *= 1e-9  # below ε = 1e-7: divided by ε, not normalised
    g[:, 20:30] = g[:, 20:30] / g[:, 20:30].norm(dim=0) * 1e20  # ‖g‖² overflows float32
    for name, coefficients in NS_COEFFICIENTS.items():
        for k in (1, 2, 5):
            ps = [torch.zeros(1, 2, requires_grad=True) for _ in range(g.shape[1])]
            for i, p in enumerate(ps):
                p.grad = g[:, i].reshape(1, 2).clone()
            torch.optim.Muon(
                ps, lr=1.0, momentum=0.0, nesterov=False, weight_decay=0.0, ns_coefficients=coefficients, ns_steps=k
            ).step()
            theirs = -torch.stack([p.detach().reshape(2) for p in ps], 1)
            ours = newton_schulz_rows(g, coefficients, k, 1e-7)
            assert torch.equal(ours, theirs), f"{name}, {k} steps"
    assert torch.equal(newton_schulz_rows(g[:, 20:30], NS_COEFFICIENTS["quintic"], 5, 1e-7), torch.zeros(2, 10))


def test_orthogonalising_a_row_normalises_it_at_the_polynomials_length():
    """On a 1 × 2 matrix Newton–Schulz only rescales: O points along B̃ (to bfloat16's 2⁻⁸) and its
    length is p^k(1), not 1: 0.696 for the quintic with k = 5 (0.68–0.72 after bfloat16 rounding,
    depending on the direction), about 1.09 with k = 4; 1 for the cubic, whose fixed point it is."""
    gen = torch.Generator().manual_seed(3)
    m = torch.randn(2, 2000, generator=gen) * torch.exp(torch.randn(1, 2000, generator=gen) * 3)
    direction = m / m.norm(dim=0)

    def p_k(coefficients, k, s=1.0):
        a, b, c = coefficients
        for _ in range(k):
            s = a * s + b * s**3 + c * s**5
        return s

    assert p_k(NS_COEFFICIENTS["quintic"], 5) == pytest.approx(0.69644, abs=1e-5)
    for name, k, low, high in [("quintic", 5, 0.679, 0.72), ("quintic", 4, 1.05, 1.11), ("cubic", 5, 0.996, 1.003)]:
        o = newton_schulz_rows(m, NS_COEFFICIENTS[name], k, 1e-7)
        length = o.norm(dim=0)
        assert bool(((length >= low) & (length <= high)).all()), (name, k, length.min(), length.max())
        assert abs(float(length.mean()) - p_k(NS_COEFFICIENTS[name], k)) < 0.015
        cosine = (o * direction).sum(0) / length
        assert float(cosine.min()) > 1 - 1e-4  # the same direction, to bfloat16's precision (< 0.8°)


def test_muon_steps_have_a_fixed_length_whatever_the_gradient():
    """Far from the minimum (gradient norms from 10⁻³ to 10⁴ along the run) every step of Muon without
    weight decay is η·s·‖O‖ long, ‖O‖ in [0.679, 0.72]; match_rms_adamw scales it by 0.2√2."""
    surface = get_surface("beale")
    for fn, ratio in [("original", 1.0), ("match_rms_adamw", 0.2 * math.sqrt(2))]:
        assert adjust_ratio(fn) == pytest.approx(ratio, rel=1e-15)
        traj = simulate(surface, "muon", steps=60, hparams={"lr": 0.01, "weight_decay": 0.0, "adjust_lr_fn": fn})
        lengths = torch.diff(traj.xy[0], dim=0).norm(dim=-1) / (0.01 * ratio)
        assert float(lengths.min()) >= 0.679 and float(lengths.max()) <= 0.72
        eff = traj.effective_lr[0]  # η·s·|O| per coordinate: the step's length in each coordinate
        torch.testing.assert_close(eff, torch.diff(traj.xy[0], dim=0).abs(), rtol=1e-12, atol=1e-15)


def test_muon_is_coupled_and_couples_x_and_y():
    rule = get_optimizer("muon").rule({"lr": 0.1})
    assert rule.coupled
    params = torch.zeros(2, 2, dtype=torch.float64)
    grad = torch.tensor([[1.0, 1.0], [0.5, 3.0]], dtype=torch.float64)  # same x gradient, different y
    new, _ = rule.update(grad, rule.init(params), params, 0.1, rule.per_step(0.1, 1))
    assert new[0, 0] != new[0, 1]


def test_muon_matches_torch_under_a_cosine_schedule():
    surface = get_surface("ravine", condition=50.0, angle=20.0)
    start = torch.tensor([surface.start, (1.0, -2.0)], dtype=torch.float64)
    hp = {"lr": 0.1, "weight_decay": 0.2}
    steps = 50
    sched = make_schedule("cosine", T_max=steps)
    ours = simulate(surface, "muon", start=start, steps=steps, hparams=hp, device="cpu", schedule=sched)
    theirs = torch_muon(
        surface,
        start,
        steps,
        ours.hparams,
        scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps),
    )
    # torch's recursive cosine differs from the closed form by rounding only.
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-9, atol=1e-11)
    assert not torch.allclose(ours.xy, simulate(surface, "muon", start=start, steps=steps, hparams=hp).xy)


# ---- Schedule-Free vs the schedulefree package ---------------------------------------------------------


def beta_of(hp: dict) -> float:
    return hp["beta1"] if "beta1" in hp else hp["momentum"]


def package_run(key, surface, start, steps, hp, foreach=False, lrs=None):
    """(y, x, z), each (B, steps + 1, 2): the package's parameter in train mode, what eval() gives
    (read from a copy: eval() and train() round y on the way back) and its state["z"]."""
    twin = get_optimizer(key).torch_twin
    assert twin.module == "schedulefree" and twin.calls == ("train",)
    p = start.clone().requires_grad_(True)
    opt = getattr(schedulefree, twin.cls)([p], **twin.arguments(hp), foreach=foreach)
    for call in twin.calls:
        getattr(opt, call)()

    def x_now():
        view = copy.deepcopy(opt)
        view.eval()
        return view.param_groups[0]["params"][0].detach().clone()

    ys, xs, zs = [p.detach().clone()], [x_now()], [p.detach().clone()]
    for t in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        with torch.no_grad():
            p.grad = surface.grad(p.detach())
        opt.step()
        ys.append(p.detach().clone())
        xs.append(x_now())
        zs.append(opt.state[p]["z"].clone())
    return tuple(torch.stack(s, dim=1) for s in (ys, xs, zs)), opt, p


SF_KEYS = ("schedulefree_sgd", "schedulefree_adamw")
SF_CASES = [(key, surface, seed) for key in SF_KEYS for surface in SURFACES for seed in range(2)]


def sf_hparams(key, surface_key, rng):
    top = LR_TOP[surface_key] if key == "schedulefree_sgd" else -0.5
    hp = drawn(key, rng, (top - 1.5, top))
    hp["warmup_steps"] = rng.choice([0, hp["warmup_steps"] % 60])  # some runs end their warm-up inside
    return hp


@pytest.mark.parametrize("key,surface_key,seed", SF_CASES, ids=[f"{k}-{s}-{i}" for k, s, i in SF_CASES])
def test_schedulefree_matches_the_package_bit_for_bit_in_x_y_and_z(key, surface_key, seed):
    rng = random.Random(f"{key}/{surface_key}/{seed}")
    surface = get_surface(surface_key)
    hp = sf_hparams(key, surface_key, rng)
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    valid = ours.diverged_at < 0
    assert valid.any(), f"every run diverged ({hp})"
    steps = by_hand(surface, key, start, STEPS, hp)
    y = torch.stack([start.T] + [s.y for _, s in steps]).permute(2, 0, 1)
    z = torch.stack([start.T] + [s.z for _, s in steps]).permute(2, 0, 1)
    for foreach in (False, True):
        (py, px, pz), _, _ = package_run(key, surface, start, STEPS, ours.hparams, foreach=foreach)
        torch.testing.assert_close(ours.xy[valid], px[valid], rtol=0, atol=0)  # the path drawn: x
        torch.testing.assert_close(y[valid], py[valid], rtol=0, atol=0)
        torch.testing.assert_close(z[valid], pz[valid], rtol=0, atol=0)
    # The gradient recorded along the path is the one taken at y.
    torch.testing.assert_close(ours.grad[valid, :-1], surface.grad(y[valid, :-1]), rtol=0, atol=0)


def test_the_schedulefree_draws_cover_the_warm_up_and_the_weights():
    draws = [sf_hparams(k, s, random.Random(f"{k}/{s}/{i}")) for k, s, i in SF_CASES]
    assert any(0 < hp["warmup_steps"] < STEPS for hp in draws) and any(hp["warmup_steps"] == 0 for hp in draws)
    assert any(hp["weight_decay"] > 0 for hp in draws) and any(hp["r"] > 1 for hp in draws)


@pytest.mark.parametrize("key", SF_KEYS)
def test_the_packages_own_eval_gives_the_last_x(key):
    surface = get_surface("himmelblau")
    start = starts_for(surface, 3, random.Random(key))
    hp = {"lr": 0.004 if key == "schedulefree_sgd" else 0.05, "warmup_steps": 10, "weight_decay": 0.01}
    ours = simulate(surface, key, start=start, steps=80, hparams=hp, device="cpu")
    _, opt, p = package_run(key, surface, start, 80, ours.hparams)
    opt.eval()
    assert torch.equal(ours.xy[:, -1], p.detach())
    assert not torch.equal(ours.xy[:, -1], by_hand(surface, key, start, 80, hp)[-1][1].y.T), "x is not y"


@pytest.mark.parametrize("key", SF_KEYS)
def test_schedulefree_follows_the_package_for_any_lr_per_step(key):
    """The rule keeps the package's behaviour for whatever lr it is handed each step (its running
    η_max and Σw live in the state): here an lr that rises, drops and rises again."""
    surface = get_surface("ravine", condition=30.0, angle=25.0)
    start = starts_for(surface, 3, random.Random("lrs"))
    hp = {"lr": 0.2, "warmup_steps": 8, "r": 0.7, "weight_lr_power": 1.5}
    lrs = [0.2 * (1 + math.sin(t / 7)) / 2 + 0.01 for t in range(60)]
    ours = by_hand(surface, key, start, 60, hp, lrs=lrs)
    (py, px, pz), _, _ = package_run(key, surface, start, 60, get_optimizer(key).resolve(hp), lrs=lrs)
    for t, (x, state) in enumerate(ours):
        assert torch.equal(x.T, px[:, t + 1]) and torch.equal(state.y.T, py[:, t + 1]), f"step {t + 1}"


@pytest.mark.parametrize("key", SF_KEYS)
def test_schedulefree_replaces_the_schedule(key):
    spec = get_optimizer(key)
    assert spec.replaces_schedule and "schedule" in spec.summary and "average x" in spec.summary
    surface = get_surface("ravine")
    plain = simulate(surface, key, steps=40)
    scheduled = simulate(surface, key, steps=40, schedule=make_schedule("cosine", T_max=40))
    assert torch.equal(plain.xy, scheduled.xy) and scheduled.meta["schedule_ignored"]


def test_the_uniform_average_is_the_mean_of_the_z_after_each_step():
    """r = 0, a constant η, no warm-up: c_t = 1/t and x is the plain mean of z₂, …, z_{t+1} (the start
    is not part of it: the first step sets x = z), up to rounding."""
    surface = get_surface("rosenbrock")
    start = starts_for(surface, 2, random.Random("mean"))
    steps = by_hand(surface, "schedulefree_sgd", start, 50, {"lr": 5e-4})
    zs = torch.stack([s.z for _, s in steps])
    for t, (x, state) in enumerate(steps):
        assert float(state.c[0, 0]) == pytest.approx(1 / (t + 1), rel=1e-14)
        torch.testing.assert_close(x, zs[: t + 1].mean(0), rtol=1e-12, atol=1e-13)


def test_warm_up_with_p_two_makes_early_points_count_less():
    """With a warm-up, w_t = η_t² during it: the first average weights are far below 1/t."""
    surface = get_surface("ravine")
    start = starts_for(surface, 1, random.Random("w"))
    steps = by_hand(surface, "schedulefree_adamw", start, 20, {"lr": 0.1, "warmup_steps": 10})
    c = [float(s.c[0, 0]) for _, s in steps]
    # η_t = η·t/10: w_t ∝ t² until t = 10, so c_t = t²/Σi² (e.g. c_2 = 4/5), then c_t = 100/(385 + 100(t − 10)).
    assert c[1] == pytest.approx(4 / 5, rel=1e-14) and c[9] == pytest.approx(100 / 385, rel=1e-14)
    assert c[19] == pytest.approx(100 / 1385, rel=1e-14)


@pytest.mark.parametrize("key", SF_KEYS)
def test_lookahead_around_schedulefree_moves_x_and_y_follows(key):
    """Lookahead's sync pulls x (the point drawn) towards the slow weights; the next gradient is then
    taken at y = (1 − β)z + βx from the moved x, so the jump lasts (it is not undone by the state's y)."""
    k, beta = 3, 0.9
    wrapped = anatomy("ravine", "lookahead", steps=2 * k, hparams={"inner": key, "k": k, "slow_alpha": 0.5})
    plain = anatomy("ravine", key, steps=2 * k)
    start = wrapped[0].position
    after_sync = wrapped[k]  # the update right after the first sync
    halfway = tuple(0.5 * (s + x) for s, x in zip(start, plain[k - 1].new_position))
    assert after_sync.position == pytest.approx(halfway, rel=1e-12)
    z = after_sync.state_before["inner.z"]
    want = tuple((1 - beta) * z[i] + beta * after_sync.position[i] for i in (0, 1))
    assert after_sync.probe == pytest.approx(want, rel=1e-12)
    assert after_sync.probe != after_sync.state_before["inner.y"]
    for d in wrapped[:k]:  # before the sync: the plain rule's own y (its state), bit for bit
        assert d.probe == d.state_before["inner.y"]
    assert wrapped[-1].new_position != pytest.approx(plain[-1].new_position, rel=1e-3)


SF_SWEEPS = [
    ("schedulefree_sgd", "lr", [0.01, 0.1, 0.4], {"warmup_steps": 10}),
    ("schedulefree_sgd", "weight_lr_power", [0.0, 2.0, 4.0], {"warmup_steps": 10}),
    ("schedulefree_sgd", "r", [0.0, 1.0, 3.0], {}),
    ("schedulefree_adamw", "lr", [0.01, 0.1, 0.4], {"warmup_steps": 10}),
    ("schedulefree_adamw", "beta1", [0.2, 0.9], {}),
    ("schedulefree_adamw", "weight_lr_power", [0.5, 3.0], {"warmup_steps": 10}),
]


@pytest.mark.parametrize("key,name,values,base", SF_SWEEPS, ids=[f"{k}.{n}" for k, n, _, _ in SF_SWEEPS])
def test_swept_hyperparameter_equals_separate_runs(key, name, values, base):
    def run(hp):
        return simulate("ravine", key, steps=40, hparams={**base, **hp}, device="cpu", dtype=torch.float64)

    swept = run({name: torch.tensor(values, dtype=torch.float64)})
    for b, value in enumerate(values):
        single = run({name: float(value)})
        for field in ("xy", "loss", "grad", "effective_lr"):
            torch.testing.assert_close(getattr(swept, field)[b], getattr(single, field)[0], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(swept.xy[0], swept.xy[-1])


# ---- the step-by-step explanations ---------------------------------------------------------------------

EXPLAINED = [
    ("muon", {}),
    ("muon", {"nesterov": False, "adjust_lr_fn": "match_rms_adamw", "weight_decay": 0.0, "ns_coefficients": "cubic"}),
    ("schedulefree_sgd", {}),
    ("schedulefree_sgd", {"warmup_steps": 3, "weight_decay": 0.1, "r": 1.0}),
    ("schedulefree_adamw", {}),
    ("schedulefree_adamw", {"warmup_steps": 4, "weight_decay": 0.05}),
]


def _close(a, b, rel=1e-12):
    return all(x == y or abs(x - y) <= rel * max(abs(x), abs(y), 1e-300) for x, y in zip(a, b))


@pytest.mark.parametrize("key,hp", EXPLAINED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(EXPLAINED)])
@pytest.mark.parametrize("surface_key", ["ravine", "himmelblau"])
def test_every_printed_number_is_the_engines(key, hp, surface_key):
    details = anatomy(surface_key, key, steps=6, hparams=hp)
    spec = get_optimizer(key)
    resolved = spec.resolve(hp)
    rule = spec.build(resolved)
    for d in details:
        ex = d.explanation
        text = " ".join(ex.sentences)
        for name, value in ex.shown.items():
            assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
            if name.startswith("state."):
                want = d.state_after[name.removeprefix("state.")]
                assert _close(value, want), f"update {d.step}: {name}"
            elif name.startswith("state_before."):
                assert _close(value, d.state_before[name.removeprefix("state_before.")])
        for name, value in ex.facts.items():
            assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
        assert _close(ex.shown["step"], d.step_vector)
        assert ("weight decay" in text.lower()) == bool(resolved["weight_decay"])
        if key == "muon":
            o = d.state_after["direction"]
            assert ex.facts["direction_length"] == pytest.approx(math.hypot(*o), rel=1e-15)
            assert ex.facts["adjusted_lr"] == pytest.approx(d.lr * adjust_ratio(resolved["adjust_lr_fn"]), rel=1e-15)
            g, buf = (torch.tensor([[v] for v in pair], dtype=torch.float64) for pair in (d.grad, d.state_after["buf"]))
            blend = muon_input(g, buf, resolved["momentum"], resolved["nesterov"])
            assert ex.facts["norm_B_tilde"] == pytest.approx(float(blend.norm()), rel=1e-15)
            assert ("Nesterov: " in text) == resolved["nesterov"]
            (label, arrow), *_ = ex.arrows
            assert label == "−η·s·O" and _close(arrow, tuple(-ex.facts["adjusted_lr"] * v for v in o))
            if not resolved["weight_decay"]:
                assert _close(arrow, d.step_vector, 1e-9)
        else:
            assert ex.shown["probe"] == d.probe and ex.shown["x"] == d.position
            assert ex.facts["c_t"] == d.state_after["c"][0]
            assert ex.facts["lr_t"] == pytest.approx(rule.per_step(d.lr, d.step)[0], rel=0)
            assert "gradient point y" not in ex.markers and ex.markers["sequence z"] == d.state_after["z"]
            assert ("Warm-up" in text) == (d.step <= resolved["warmup_steps"])
