"""ASGD and Adafactor reproduce torch.optim.ASGD and torch.optim.Adafactor bit for bit.

One run's parameter is the 2-vector (x, y): torch gets one (2,) tensor per run (a (B, 2) tensor
would be a matrix, which Adafactor factors and takes one RMS over), all in one optimizer, which
treats its parameters separately. The surface's analytic gradient is set as p.grad, so both sides
see the same numbers. Hyperparameters are drawn from the specs' slider ranges.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from engine import simulate
from engine.anatomy import anatomy
from engine.step import step as take_step
from optimizers import get_optimizer
from optimizers.explain import fmt
from optimizers.schedules import make_schedule
from surfaces import get_surface

KEYS = ("asgd", "adafactor")
STEPS = 120


# torch.optim and the reference packages keep scalar state in the default dtype (tests/optimizers/conftest.py).
pytestmark = pytest.mark.usefixtures("float64_default")


def make_torch(key: str, hp: dict, params: list) -> torch.optim.Optimizer:
    twin = get_optimizer(key).torch_twin
    return getattr(torch.optim, twin.cls)(params, **twin.arguments(hp), foreach=False)


def torch_trajectory(surface, start, steps, key, hp, scheduler=None, record=None):
    """(B, steps + 1, 2): one (2,) parameter per run, one optimizer. record(opt, params) is called
    after every step (to read torch's state)."""
    ps = [start[b].clone().requires_grad_(True) for b in range(start.shape[0])]
    opt = make_torch(key, hp, ps)
    sched = scheduler(opt) if scheduler is not None else None
    path = [torch.stack([p.detach().clone() for p in ps])]
    for _ in range(steps):
        with torch.no_grad():
            for p in ps:
                p.grad = surface.grad(p.detach().view(1, 2)).view(2)
        opt.step()
        if record is not None:
            record(opt, ps)
        if sched is not None:
            sched.step()
        path.append(torch.stack([p.detach().clone() for p in ps]))
    return torch.stack(path, dim=1)


def starts_for(surface, batch: int, rng: random.Random) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    pts = [(rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8) for _ in range(batch - 1)]
    return torch.tensor([surface.start] + pts, dtype=torch.float64)


# Largest lr exponent per surface (gradients differ by 100× between them).
LR_TOP = {"ravine": -0.5, "saddle": -0.5, "rosenbrock": -3.0}


def random_hparams(key: str, rng: random.Random, lr_top: float) -> dict:
    """Each float hyperparameter inside its slider range (log-uniform for log ones)."""
    hp = {}
    for p in get_optimizer(key).params:
        if p.name == "lr":
            hp["lr"] = 10 ** rng.uniform(lr_top - 1.5, lr_top)
        elif p.log:
            hp[p.name] = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
        else:
            hp[p.name] = rng.uniform(p.low, p.high)
    hp["weight_decay"] = rng.choice([0.0, hp["weight_decay"] * 0.1])
    if key == "asgd" and rng.random() < 0.5:
        hp["t0"] = float(rng.randint(0, 40))  # averaging starts within the run
    if key == "adafactor" and rng.random() < 0.5:
        hp["lr"] = 10 ** rng.uniform(-1.0, 0.0)  # ρ_t = 1/√t for a while (a relative step, fine anywhere)
    return hp


CASES = [(key, surface, seed) for key in KEYS for surface in ("ravine", "rosenbrock", "saddle") for seed in range(4)]


@pytest.mark.parametrize("key,surface_key,seed", CASES, ids=[f"{k}-{s}-{i}" for k, s, i in CASES])
def test_matches_torch_optim_bit_for_bit(key, surface_key, seed):
    rng = random.Random(f"{key}/{surface_key}/{seed}")
    surface = get_surface(surface_key)
    hp = random_hparams(key, rng, LR_TOP[surface_key])
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    assert ours.meta["engine"] == "eager"
    theirs = torch_trajectory(surface, start, STEPS, key, ours.hparams)
    valid = ours.diverged_at < 0
    assert valid.any(), f"pick gentler hyperparameters: every run diverged ({hp})"
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=0, atol=0)


def test_the_random_cases_cover_the_branches():
    """The draws above include ASGD runs that average and Adafactor runs whose ρ_t is 1/√t."""

    def drawn(key):
        return [random_hparams(key, random.Random(f"{key}/{s}/{i}"), LR_TOP[s]) for s in LR_TOP for i in range(4)]

    asgd, ada = drawn("asgd"), drawn("adafactor")
    assert any(hp["t0"] < 40 for hp in asgd) and any(hp["weight_decay"] > 0 for hp in asgd)
    assert any(hp["lr"] > 1 / math.sqrt(STEPS) for hp in ada) and any(hp["weight_decay"] > 0 for hp in ada)


def run_by_hand(surface, key, start, steps, hp):
    """engine.step.step by hand, keeping every state (simulate does not return them)."""
    spec = get_optimizer(key)
    rule = spec.build(spec.resolve(hp))
    params = start.T.contiguous()
    state = rule.init(params)
    lr = spec.resolve(hp)["lr"]
    states = []
    for t in range(steps):
        done = take_step(surface, rule, params, state, lr, rule.per_step(lr, t + 1))
        params, state = done.params, done.state
        states.append(state)
    return states


def test_asgd_state_is_torchs_average_and_step_size():
    """ā equals torch's state["ax"] and η_t its state["eta"] (the η of the step just taken is the
    η torch held before it), bit for bit, through the switch to averaging."""
    surface = get_surface("ravine")
    start = starts_for(surface, 3, random.Random("ax"))
    hp = {"lr": 0.3, "t0": 7.0, "lambd": 0.05, "alpha": 0.6, "weight_decay": 0.01}
    states = run_by_hand(surface, "asgd", start, 40, hp)
    axs, etas = [], []

    def record(opt, ps):
        axs.append(torch.stack([opt.state[p]["ax"].clone() for p in ps], dim=1))
        etas.append(float(opt.state[ps[0]]["eta"]))

    torch_trajectory(surface, start, 40, "asgd", get_optimizer("asgd").resolve(hp), record=record)
    for t, state in enumerate(states):
        assert torch.equal(state.ax, axs[t]), f"step {t + 1}"
        assert bool((state.eta_next == etas[t]).all()), f"step {t + 1}"  # torch's η after step t
    assert not torch.equal(states[-1].ax, states[-1].ax * 0 + start.T), "ā moved"
    mus = [get_optimizer("asgd").rule(hp).per_step(0.3, t)[1] for t in range(1, 41)]
    assert mus[:9] == [1.0] * 9 and mus[9] == 0.5  # μ_t = 1/max(1, t − 1 − t₀): 1 until t = t₀ + 2


def test_adafactor_second_moment_is_torchs_variance():
    surface = get_surface("saddle")
    start = starts_for(surface, 3, random.Random("variance"))
    hp = {"lr": 0.2, "beta2_decay": -0.6, "eps2": 0.05, "d": 1.2, "weight_decay": 0.02}
    states = run_by_hand(surface, "adafactor", start, 30, hp)
    vs = []
    torch_trajectory(
        surface,
        start,
        30,
        "adafactor",
        get_optimizer("adafactor").resolve(hp),
        record=lambda opt, ps: vs.append(torch.stack([opt.state[p]["variance"].clone() for p in ps], 1)),
    )
    for t, state in enumerate(states):
        assert torch.equal(state.v, vs[t]), f"step {t + 1}"


def test_adafactor_clips_and_floors_the_scale():
    """The settings where the clipping and the ε₂ floor act are exercised (and still match torch)."""
    surface = get_surface("ravine")
    start = torch.tensor([(1e-4, -2e-4), (-3.5, 1.5)], dtype=torch.float64)  # the first run starts below ε₂
    hp = {"lr": 0.5, "eps2": 0.01, "d": 1.0, "beta2_decay": -0.3}
    states = run_by_hand(surface, "adafactor", start, 30, hp)
    assert any(bool((s.clip > 1).any()) for s in states), "no step was clipped"
    assert bool((states[0].alpha[0] == 0.01 * 0.5)), "the ε₂ floor sets the first step's scale"
    ours = simulate(surface, "adafactor", start=start, steps=30, hparams=hp, device="cpu")
    theirs = torch_trajectory(surface, start, 30, "adafactor", ours.hparams)
    torch.testing.assert_close(ours.xy, theirs, rtol=0, atol=0)


def test_adafactor_is_coupled_and_asgd_is_not():
    assert get_optimizer("adafactor").rule().coupled
    assert not get_optimizer("asgd").rule().coupled


def test_adafactor_couples_x_and_y():
    """The RMS over (x, y): changing y alone changes the step taken in x."""
    rule = get_optimizer("adafactor").rule({"lr": 0.5})
    params = torch.tensor([[1.0, 1.0], [0.5, 3.0]], dtype=torch.float64)
    grad = torch.tensor([[0.3, 0.3], [0.1, 0.1]], dtype=torch.float64)
    new, _ = rule.update(grad, rule.init(params), params, 0.5, rule.per_step(0.5, 1))
    assert new[0, 0] != new[0, 1]


# ---- sweeps: (B,) tensor hyperparameters equal B separate runs ------------------------------------

SWEEPS = [
    ("asgd", "lr", [0.05, 0.3, 0.9], {}),
    ("asgd", "lambd", [1e-6, 1e-2, 0.5], {"t0": 3.0}),
    ("asgd", "alpha", [0.0, 0.5, 1.0], {"lambd": 0.1}),
    ("asgd", "t0", [1.0, 10.0, 1e6], {}),
    ("asgd", "weight_decay", [0.0, 0.1], {"t0": 2.0}),
    ("adafactor", "lr", [0.01, 0.05, 0.8], {}),
    ("adafactor", "beta2_decay", [-1.0, -0.8, 0.0], {}),
    ("adafactor", "eps2", [1e-6, 1e-3, 0.5], {}),
    ("adafactor", "d", [1.0, 1.3, 10.0], {"lr": 0.5}),
    ("adafactor", "weight_decay", [0.0, 0.2], {}),
]


def run(key, hparams, steps=60, surface="ravine", start=None):
    return simulate(surface, key, start=start, steps=steps, hparams=hparams, device="cpu", dtype=torch.float64)


@pytest.mark.parametrize("key,name,values,base", SWEEPS, ids=[f"{k}.{n}" for k, n, _, _ in SWEEPS])
def test_swept_hyperparameter_equals_separate_runs(key, name, values, base):
    swept = run(key, {**base, name: torch.tensor(values, dtype=torch.float64)})
    assert swept.batch == len(values)
    for b, value in enumerate(values):
        single = run(key, {**base, name: float(value)})
        for field in ("xy", "loss", "grad", "lr", "effective_lr"):
            torch.testing.assert_close(
                getattr(swept, field)[b],
                getattr(single, field)[0],
                rtol=1e-12,
                atol=1e-14,
                msg=lambda m: f"{key} {name}={value}: {field} differs\n{m}",
            )


def test_swept_runs_differ():
    swept = run("adafactor", {"lr": torch.tensor([0.01, 0.8], dtype=torch.float64)})
    assert not torch.allclose(swept.xy[0], swept.xy[1])


# ---- schedules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_matches_torch_under_a_cosine_schedule(key):
    """torch reads the group's lr at every step: Adafactor for ρ_t = min(lr, 1/√t) and its weight
    decay, ASGD only at the end of a step, for the η of the next one (one step behind).
    T_max steps only: after T_max torch's cosine climbs back up, gradscape's stays at its minimum."""
    surface = get_surface("ravine", condition=50.0, angle=20.0)
    start = torch.tensor([surface.start, (1.0, -2.0)], dtype=torch.float64)
    hp = {"lr": 0.4, "weight_decay": 0.01} | ({"t0": 5.0, "lambd": 0.05} if key == "asgd" else {"lr": 0.6})
    steps = 50
    ours = simulate(
        surface, key, start=start, steps=steps, hparams=hp, device="cpu", schedule=make_schedule("cosine", T_max=steps)
    )
    theirs = torch_trajectory(
        surface,
        start,
        steps,
        key,
        ours.hparams,
        scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps),
    )
    # torch's recursive cosine differs from the closed form by rounding only.
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-9, atol=1e-11)
    plain = simulate(surface, key, start=start, steps=steps, hparams=hp, device="cpu")
    assert not torch.allclose(ours.xy, plain.xy), "the schedule must change the path"


def test_asgd_step_size_lags_the_schedule_by_one_step():
    """η_t is computed from the previous step's lr: with a step schedule the drop shows one step late."""
    surface = get_surface("ravine")
    sched = make_schedule("step", step_size=10, gamma=0.1)
    hp = {"lr": 0.5, "lambd": 1e-6}
    ours = simulate(surface, "asgd", steps=15, hparams=hp, schedule=sched, device="cpu")
    eta = ours.effective_lr[0, :, 0]
    lr = ours.lr[0]
    assert float(lr[10]) == pytest.approx(0.05) and float(eta[10]) == pytest.approx(0.5, rel=1e-4)
    assert float(eta[11]) == pytest.approx(0.05, rel=1e-4)
    theirs = torch_trajectory(
        surface,
        ours.xy[:, 0],
        15,
        "asgd",
        ours.hparams,
        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 10, 0.1),
    )
    torch.testing.assert_close(ours.xy, theirs, rtol=1e-12, atol=1e-14)


# ---- the step-by-step explanation ------------------------------------------------------------------

EXPLAINED = [
    ("asgd", {}),
    ("asgd", {"t0": 1.0, "weight_decay": 0.1, "lambd": 0.05}),
    ("adafactor", {}),
    ("adafactor", {"lr": 0.9, "d": 1.0, "weight_decay": 0.1, "eps2": 0.5}),
]


def _close(a, b, rel=1e-12):
    return all(x == y or abs(x - y) <= rel * max(abs(x), abs(y), 1e-300) for x, y in zip(a, b))


@pytest.mark.parametrize("key,hp", EXPLAINED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(EXPLAINED)])
@pytest.mark.parametrize("surface_key", ["ravine", "saddle"])
def test_every_printed_vector_is_the_engines(key, hp, surface_key):
    assert get_optimizer(key).explain is not None
    details = anatomy(surface_key, key, steps=6, hparams=hp)
    wd = get_optimizer(key).resolve(hp)["weight_decay"]
    for d in details:
        ex = d.explanation
        text = " ".join(ex.sentences)
        assert ex.shown, "the explanation prints vectors"
        for name, value in ex.shown.items():
            assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
            if name.startswith("state."):
                want = d.state_after[name.removeprefix("state.")]
                assert _close(value, want if isinstance(want, tuple) else (want, want)), f"update {d.step}: {name}"
            elif name == "step":
                assert _close(value, d.step_vector), f"update {d.step}: step"
            elif name == "g":
                assert value == d.grad
            elif name == "g_eff":
                assert _close(value, (d.grad[0] + wd * d.position[0], d.grad[1] + wd * d.position[1]))
        for name, value in ex.facts.items():
            if isinstance(value, float):
                assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
        assert ("weight decay" in text.lower()) == bool(wd)


def test_asgd_explanation_says_when_averaging_is_on():
    off = anatomy("ravine", "asgd", steps=4)
    assert all("no averaging yet" in " ".join(d.sentences) for d in off)
    on = anatomy("ravine", "asgd", steps=6, hparams={"t0": 2.0})
    said = ["Averaging is on" in " ".join(d.sentences) for d in on]
    assert said == [False] * 4 + [True] * 2  # μ_t = 1/max(1, t − 1 − 2): below 1 from t = 5
    assert [d.explanation.facts["mu_t"] for d in on] == [1.0, 1.0, 1.0, 1.0, 1 / 2, 1 / 3]
    assert _close(on[0].effective_lr, (0.2, 0.2)), "η₁ = η"


def test_adafactor_explanation_names_the_branches():
    first = anatomy("ravine", "adafactor", steps=3, hparams={"lr": 0.9})
    assert "= 1/√t =" in " ".join(first[1].sentences)  # ρ₂ = min(0.9, 0.707)
    assert "= η =" in " ".join(anatomy("ravine", "adafactor", steps=1)[0].sentences)
    tiny = anatomy("ravine", "adafactor", start=(1e-4, 1e-4), steps=1)[0]
    assert "which sets the scale" in " ".join(tiny.sentences)
    details = anatomy("saddle", "adafactor", steps=12)
    clipped = [d for d in details if d.explanation.facts.get("clip")]
    assert clipped and all("U is clipped" in " ".join(d.sentences) for d in clipped)
    assert all("no clipping" in " ".join(d.sentences) for d in details if d not in clipped)
