"""Adan and AdEMAMix reproduce pytorch-optimizer's Adan and AdEMAMix bit for bit.

Both are element-wise (no norm over a parameter; Adan's global clipping stays off): one (B, 2)
parameter is B independent runs (tested against B (2,) parameters too). The surface's analytic
gradient is set as p.grad, so both sides see the same numbers. Hyperparameters are drawn from the
specs' slider ranges, the switches (decoupled decay, fixed decay) and AdEMAMix's warm-up T included.
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
from optimizers.ademamix import alpha_schedule, beta3_schedule
from optimizers.explain import fmt
from optimizers.schedules import make_schedule
from surfaces import get_surface
from tests.optimizers.printed_adan_ademamix import MORE_SETTINGS, PRINTED, SETTINGS

pytorch_optimizer = pytest.importorskip("pytorch_optimizer")

KEYS = ("adan", "ademamix")
STEPS = 150


# torch.optim and the reference packages keep scalar state in the default dtype (tests/optimizers/conftest.py).
pytestmark = pytest.mark.usefixtures("float64_default")


def make_reference(key: str, hp: dict, params: list, foreach: bool = False):
    twin = get_optimizer(key).torch_twin
    assert twin.module == "pytorch_optimizer"
    return getattr(pytorch_optimizer, twin.cls)(params, **twin.arguments(hp), foreach=foreach)


def reference_trajectory(surface, start, steps, key, hp, *, per_run=False, foreach=False, scheduler=None, record=None):
    """(B, steps + 1, 2): one (B, 2) parameter, or one (2,) parameter per run (per_run). record(opt, ps)
    is called after every step (to read the package's state)."""
    ps = [row.clone().requires_grad_(True) for row in start] if per_run else [start.clone().requires_grad_(True)]
    opt = make_reference(key, hp, ps, foreach)
    sched = scheduler(opt) if scheduler is not None else None

    def point():
        return torch.cat([p.detach().reshape(-1, 2) for p in ps]).clone()

    path = [point()]
    for _ in range(steps):
        with torch.no_grad():
            for p in ps:
                p.grad = surface.grad(p.detach().reshape(-1, 2)).reshape(p.shape)
        opt.step()
        if record is not None:
            record(opt, ps)
        if sched is not None:
            sched.step()
        path.append(point())
    return torch.stack(path, dim=1)


def starts_for(surface, batch: int, rng: random.Random) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    pts = [(rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8) for _ in range(batch - 1)]
    return torch.tensor([surface.start] + pts, dtype=torch.float64)


# Largest lr exponent per surface (gradients differ by 100× between them).
LR_TOP = {"ravine": -0.5, "saddle": -0.5, "rosenbrock": -1.5, "himmelblau": -1.0, "beale": -1.5}


def random_hparams(key: str, rng: random.Random, lr_top: float) -> dict:
    """Every hyperparameter inside its slider range (log-uniform for log ones), switches at random."""
    hp = {}
    for p in get_optimizer(key).params:
        if p.name == "lr":
            hp["lr"] = 10 ** rng.uniform(lr_top - 1.5, lr_top)
        elif p.kind == "bool":
            hp[p.name] = rng.random() < 0.5
        elif p.kind == "int":  # AdEMAMix's warm-up: off, or ending within the run, or after it
            hp[p.name] = rng.choice([0, rng.randint(1, STEPS), rng.randint(STEPS, int(p.high))])
        elif p.log:
            hp[p.name] = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
        else:
            hp[p.name] = rng.uniform(p.low, p.high)
    hp["weight_decay"] = rng.choice([0.0, hp["weight_decay"] * 0.1])
    if key == "ademamix" and rng.random() < 0.5:
        hp["beta3"] = rng.uniform(0.9, 0.99)  # a slow EMA that fills up within the run
    return hp


SURFACES = ("ravine", "rosenbrock", "saddle", "himmelblau", "beale")
CASES = [(key, surface, seed) for key in KEYS for surface in SURFACES for seed in range(3)]


@pytest.mark.parametrize("key,surface_key,seed", CASES, ids=[f"{k}-{s}-{i}" for k, s, i in CASES])
def test_matches_pytorch_optimizer_bit_for_bit(key, surface_key, seed):
    rng = random.Random(f"{key}/{surface_key}/{seed}")
    surface = get_surface(surface_key)
    hp = random_hparams(key, rng, LR_TOP[surface_key])
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    assert ours.meta["engine"] == "eager"
    theirs = reference_trajectory(surface, start, STEPS, key, ours.hparams)
    valid = ours.diverged_at < 0
    assert valid.any(), f"pick gentler hyperparameters: every run diverged ({hp})"
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=0, atol=0)


def test_the_random_cases_cover_the_branches():
    """The draws above include weight decay in each form and AdEMAMix warm-ups within and past the run."""

    def drawn(key):
        return [random_hparams(key, random.Random(f"{key}/{s}/{i}"), LR_TOP[s]) for s in SURFACES for i in range(3)]

    adan, mix = drawn("adan"), drawn("ademamix")
    for hps in (adan, mix):
        assert any(hp["weight_decay"] > 0 and hp["weight_decouple"] for hp in hps)
        assert any(hp["weight_decay"] > 0 and not hp["weight_decouple"] for hp in hps)
    assert any(hp["weight_decay"] > 0 and hp["weight_decouple"] and hp["fixed_decay"] for hp in mix)
    assert any(0 < hp["t_alpha_beta3"] < STEPS for hp in mix) and any(hp["t_alpha_beta3"] > STEPS for hp in mix)
    assert any(hp["t_alpha_beta3"] == 0 for hp in mix)


FOREACH = [
    ("adan", {"lr": 0.05, "weight_decay": 0.02}),
    ("adan", {"lr": 0.05, "weight_decay": 0.02, "weight_decouple": True, "beta2": 0.5}),
    ("ademamix", {"lr": 0.05, "t_alpha_beta3": 40, "beta3": 0.99, "weight_decay": 0.01}),
    ("ademamix", {"lr": 0.05, "weight_decay": 0.05, "weight_decouple": True, "fixed_decay": True}),
]


@pytest.mark.parametrize("key,hp", FOREACH, ids=[f"{k}-{i}" for i, (k, _) in enumerate(FOREACH)])
@pytest.mark.parametrize("surface_key", ["ravine", "himmelblau"])
def test_equals_the_packages_foreach_path_and_one_parameter_per_run(key, hp, surface_key):
    """The package's default (foreach, which it picks on the CPU too) and B separate (2,) parameters
    give the very same path: a (B, 2) parameter is B runs."""
    surface = get_surface(surface_key)
    start = starts_for(surface, 3, random.Random(key))
    ours = simulate(surface, key, start=start, steps=STEPS, hparams=hp, device="cpu")
    for per_run, foreach in ((True, False), (False, True), (True, True)):
        theirs = reference_trajectory(surface, start, STEPS, key, ours.hparams, per_run=per_run, foreach=foreach)
        torch.testing.assert_close(ours.xy, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("key", KEYS)
def test_defaults_equal_the_packages_and_every_hyperparameter_reaches_it(key):
    """At the spec's defaults the twin's arguments are the package's defaults (lr aside), and moving any
    hyperparameter changes them: AdEMAMix's int warm-up T too (test_contract moves floats and bools only)."""
    import inspect

    spec = get_optimizer(key)
    cls = getattr(pytorch_optimizer, spec.torch_twin.cls)
    assert issubclass(cls, torch.optim.Optimizer)
    signature = inspect.signature(cls.__init__).parameters
    at_defaults = spec.torch_twin.arguments(spec.defaults())
    for arg, value in at_defaults.items():
        if arg != "lr":
            assert value == signature[arg].default, f"{arg} = {value}, the package's default {signature[arg].default}"
    for p in spec.params:
        if p.name == "lr":
            continue
        moved = {"bool": (not p.default), "int": p.high}.get(p.kind, p.high if p.default != p.high else p.low)
        changed = spec.torch_twin.arguments(dict(spec.defaults(), **{p.name: moved}))
        assert changed != at_defaults, f"{key}.{p.name} does not reach the package"


# ---- state and per-step values ------------------------------------------------------------------


def run_by_hand(surface, key, start, steps, hp):
    """engine.step.step by hand, keeping every state and the per-step values."""
    spec = get_optimizer(key)
    resolved = spec.resolve(hp)
    rule = spec.build(resolved)
    params = start.T.contiguous()
    state = rule.init(params)
    out = []
    for t in range(1, steps + 1):
        values = rule.per_step(resolved["lr"], t)
        done = take_step(surface, rule, params, state, resolved["lr"], values)
        params, state = done.params, done.state
        out.append((values, state))
    return out


def test_adan_state_is_the_packages():
    """m, v, n equal exp_avg, exp_avg_diff, exp_avg_sq; the package keeps −g as previous_grad."""
    surface = get_surface("himmelblau")
    start = starts_for(surface, 3, random.Random("adan-state"))
    hp = {"lr": 0.03, "beta1": 0.9, "beta2": 0.7, "beta3": 0.95, "weight_decay": 0.01}
    ours = run_by_hand(surface, "adan", start, 40, hp)
    seen = []

    def record(opt, ps):
        s = opt.state[ps[0]]
        seen.append({k: s[k].T.clone() for k in ("exp_avg", "exp_avg_diff", "exp_avg_sq", "previous_grad")})

    reference_trajectory(surface, start, 40, "adan", get_optimizer("adan").resolve(hp), record=record)
    for t, ((_, state), theirs) in enumerate(zip(ours, seen)):
        assert torch.equal(state.m, theirs["exp_avg"]), f"step {t + 1}"
        assert torch.equal(state.v_diff, theirs["exp_avg_diff"]), f"step {t + 1}"
        assert torch.equal(state.n, theirs["exp_avg_sq"]), f"step {t + 1}"
        assert torch.equal(state.g_prev, -theirs["previous_grad"]), f"step {t + 1}"
    assert not ours[0][1].v_diff.any(), "the first difference is 0, so v starts at 0"
    assert ours[1][1].v_diff.all()


def test_ademamix_state_is_the_packages():
    surface = get_surface("ravine")
    start = starts_for(surface, 3, random.Random("mix-state"))
    hp = {"lr": 0.05, "beta3": 0.99, "t_alpha_beta3": 25, "weight_decay": 0.02}
    ours = run_by_hand(surface, "ademamix", start, 40, hp)
    seen = []

    def record(opt, ps):
        s = opt.state[ps[0]]
        seen.append({k: s[k].T.clone() for k in ("exp_avg", "exp_avg_sq", "exp_avg_slow")})

    reference_trajectory(surface, start, 40, "ademamix", get_optimizer("ademamix").resolve(hp), record=record)
    for t, ((_, state), theirs) in enumerate(zip(ours, seen)):
        assert torch.equal(state.m1, theirs["exp_avg"]), f"step {t + 1}"
        assert torch.equal(state.v, theirs["exp_avg_sq"]), f"step {t + 1}"
        assert torch.equal(state.m2, theirs["exp_avg_slow"]), f"step {t + 1}"


@pytest.mark.parametrize("t_warmup", [0, 1, 7, 100])
def test_ademamix_schedules_are_the_packages(t_warmup):
    cls = pytorch_optimizer.AdEMAMix
    rule = get_optimizer("ademamix").rule({"t_alpha_beta3": t_warmup, "beta1": 0.85, "beta3": 0.995, "alpha": 6.0})
    for step in range(1, 150):
        _, _, alpha_t, beta3_t = rule.per_step(0.05, step)
        assert alpha_t == cls.schedule_alpha(t_warmup or None, step, 6.0)
        assert beta3_t == cls.schedule_beta3(t_warmup or None, step, 0.85, 0.995)
    if t_warmup == 7:
        # α rises linearly to α at T; β₃,ₜ rises from near β₁ to β₃ at T and stays there.
        values = [rule.per_step(0.05, s) for s in range(1, 10)]
        assert [v[2] for v in values[:7]] == pytest.approx([6.0 * s / 7 for s in range(1, 8)], rel=1e-15)
        assert beta3_schedule(0.85, 0.995, 7, 0) == pytest.approx(0.85, rel=1e-15)  # t = 0: β₁
        assert all(a[3] < b[3] for a, b in zip(values[:6], values[1:7]))
        assert values[6][3] == pytest.approx(0.995, rel=1e-15) and values[8][3] == 0.995


def test_per_run_schedules_equal_the_float_ones():
    """β₁, β₃ and α swept as tensors: each run's α_t and β₃,ₜ equal its own float schedule."""
    b1 = torch.tensor([0.5, 0.9, 0.99])
    b3 = torch.tensor([0.9, 0.999, 0.9999])
    alpha = torch.tensor([0.0, 5.0, 20.0])
    for step in (1, 3, 10, 30, 31, 200):
        swept_alpha = alpha_schedule(alpha, 30, step)
        swept_beta3 = beta3_schedule(b1, b3, 30, step)
        for r in range(3):
            assert float(swept_alpha[r]) == pytest.approx(alpha_schedule(float(alpha[r]), 30, step), rel=1e-15)
            assert float(swept_beta3[r]) == pytest.approx(
                beta3_schedule(float(b1[r]), float(b3[r]), 30, step), rel=1e-14
            )
    mixed = beta3_schedule(0.9, b3, 30, 5)
    assert float(mixed[1]) == pytest.approx(beta3_schedule(0.9, 0.999, 30, 5), rel=1e-14)


# ---- element-wise: what the compiled path will call -----------------------------------------------


@pytest.mark.parametrize("key,hp", [("adan", {"weight_decay": 0.1}), ("ademamix", {"t_alpha_beta3": 10})])
def test_coordinates_update_on_their_own(key, hp):
    """coupled=False: updating the x row and the y row separately (the fused engine's split form)
    gives exactly the update of the whole (2, B) point, the first step included."""
    rule = get_optimizer(key).rule(hp)
    assert not rule.coupled and not rule.needs_hessian
    gen = torch.Generator().manual_seed(1)
    params = torch.randn(2, 4, generator=gen, dtype=torch.float64)
    state = rule.init(params)
    rows = [rule.init(params[i]) for i in (0, 1)]
    for step in range(1, 8):
        grad = torch.randn(2, 4, generator=gen, dtype=torch.float64)
        values = rule.per_step(0.05, step)
        new, state = rule.update(grad, state, params, 0.05, values)
        halves = [rule.update(grad[i], rows[i], params[i], 0.05, values) for i in (0, 1)]
        rows = [h[1] for h in halves]
        assert torch.equal(new, torch.stack([h[0] for h in halves])), f"step {step}"
        params = new


FUSED = [
    ("adan", {"weight_decay": 0.05}),
    ("adan", {"weight_decay": 0.05, "weight_decouple": True, "beta2": torch.tensor([0.5, 0.92, 0.99])}),
    ("ademamix", {"t_alpha_beta3": 9, "beta3": 0.99, "weight_decay": 0.05}),
    ("ademamix", {"t_alpha_beta3": 9, "beta3": torch.tensor([0.9, 0.99, 0.999]), "alpha": 8.0}),
    ("ademamix", {"weight_decay": 0.05, "weight_decouple": True, "fixed_decay": True}),
]


@pytest.mark.parametrize("key,hp", FUSED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(FUSED)])
def test_the_fused_engines_traced_function_equals_eager(key, hp, monkeypatch):
    """The function the compiled path would trace (per-coordinate rows, per-step values as tensor
    tables, hyperparameters as 0-dim tensors), run eagerly: the eager engine's numbers, to rounding.
    Chunks of 5 steps, so the warm-up and the first step's flag cross chunk boundaries."""
    from engine import fused, graph_build, graph_store

    monkeypatch.setattr(fused, "CHUNK", 5)
    monkeypatch.setattr(graph_store, "loaded_graph", lambda key: None)
    monkeypatch.setattr(graph_build, "build_graph", lambda job: job.advance())
    kw = dict(steps=23, start=[[-1.0, 1.5], [0.5, -0.3], [1.2, 1.1]], hparams=hp, device="cpu", dtype=torch.float64)
    kw["schedule"] = make_schedule("cosine", T_max=20)
    eager = simulate("rosenbrock", key, **kw)
    traced = simulate("rosenbrock", key, engine="fused", **kw)
    assert traced.meta["engine"] == "fused"
    for field in ("xy", "grad", "effective_lr"):
        torch.testing.assert_close(getattr(traced, field), getattr(eager, field), rtol=1e-13, atol=1e-15)


def test_adans_first_step_flag_takes_g_itself_as_the_previous_gradient():
    """The per-step flag (set at step 1 only) stands for "g_prev = g": with it, whatever the state
    holds, the update is the one a state holding g_prev = g gives without it."""
    rule = get_optimizer("adan").rule({"weight_decay": 0.1})
    params = torch.tensor([[1.0, 0.2], [-2.0, 0.7]])
    grad = torch.tensor([[0.3, -1.1], [0.1, 2.0]])
    state = rule.init(params)._replace(g_prev=torch.full_like(params, 5.0), m=torch.full_like(params, 0.4))
    later = rule.per_step(0.05, 9)
    assert rule.per_step(0.05, 1)[0] == 1.0 and later[0] == 0.0
    flagged, s1 = rule.update(grad, state, params, 0.05, (1.0, *later[1:]))
    plain, s2 = rule.update(grad, state._replace(g_prev=grad), params, 0.05, later)
    assert torch.equal(flagged, plain) and all(torch.equal(a, b) for a, b in zip(s1, s2))
    other, _ = rule.update(grad, state, params, 0.05, later)
    assert not torch.equal(other, plain)


# ---- sweeps: (B,) tensor hyperparameters equal B separate runs ------------------------------------

SWEEPS = [
    ("adan", "lr", [0.01, 0.05, 0.3], {}),
    ("adan", "beta1", [0.0, 0.5, 0.98], {}),
    ("adan", "beta2", [0.0, 0.92, 0.999], {}),
    ("adan", "beta3", [0.5, 0.99, 0.9999], {}),
    ("adan", "eps", [1e-8, 1e-2, 0.5], {}),
    ("adan", "weight_decay", [0.0, 0.1, 0.5], {}),
    ("adan", "weight_decay", [0.0, 0.1, 0.5], {"weight_decouple": True}),
    ("ademamix", "lr", [0.01, 0.05, 0.3], {}),
    ("ademamix", "beta1", [0.5, 0.9, 0.999], {"t_alpha_beta3": 30}),
    ("ademamix", "beta2", [0.5, 0.999, 0.9999], {}),
    ("ademamix", "beta3", [0.9, 0.99, 0.9999], {"t_alpha_beta3": 30}),
    ("ademamix", "alpha", [0.0, 5.0, 20.0], {"t_alpha_beta3": 30, "beta3": 0.99}),
    ("ademamix", "weight_decay", [0.0, 0.1], {}),
    ("ademamix", "weight_decay", [0.0, 0.1], {"weight_decouple": True}),
    ("ademamix", "weight_decay", [0.0, 0.1], {"weight_decouple": True, "fixed_decay": True}),
]


def run(key, hparams, steps=60, surface="ravine"):
    return simulate(surface, key, steps=steps, hparams=hparams, device="cpu", dtype=torch.float64)


@pytest.mark.parametrize("key,name,values,base", SWEEPS, ids=[f"{k}.{n}-{i}" for i, (k, n, _, _) in enumerate(SWEEPS)])
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
    assert not torch.equal(swept.xy[0], swept.xy[-1]), "the swept runs differ"


# ---- schedules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_matches_the_package_under_a_cosine_schedule(key):
    """The package reads the group's lr at every step (the step sizes and the weight decay)."""
    surface = get_surface("ravine", condition=50.0, angle=20.0)
    start = torch.tensor([surface.start, (1.0, -2.0)], dtype=torch.float64)
    hp = {"lr": 0.1, "weight_decay": 0.02, "weight_decouple": True}
    steps = 50
    ours = simulate(
        surface, key, start=start, steps=steps, hparams=hp, device="cpu", schedule=make_schedule("cosine", T_max=steps)
    )
    theirs = reference_trajectory(
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


# ---- the printed rule, under every setting that changes its form -------------------------------------


SETTING_CASES = [(key, hp) for key in KEYS for hp in [{}, SETTINGS[key], *MORE_SETTINGS[key]]]


@pytest.mark.parametrize("key,hp", SETTING_CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SETTING_CASES)])
@pytest.mark.parametrize("surface_key", ["ravine", "himmelblau"])
def test_printed_rule_equals_the_code(key, hp, surface_key):
    resolved = get_optimizer(key).resolve(hp)
    details = anatomy(surface_key, key, steps=15, hparams=resolved)
    for d in details:
        want = PRINTED[key](d, resolved, d.step)
        assert d.new_position == pytest.approx(want, rel=1e-9, abs=1e-12), f"{key}, update {d.step}"


# ---- the step-by-step explanation ------------------------------------------------------------------

EXPLAINED = [
    ("adan", {}),
    ("adan", {"weight_decay": 0.1}),
    ("adan", {"weight_decay": 0.2, "weight_decouple": True, "beta2": 0.5}),
    ("ademamix", {}),
    ("ademamix", {"t_alpha_beta3": 4, "beta3": 0.99, "weight_decay": 0.1}),
    ("ademamix", {"weight_decay": 0.1, "weight_decouple": True}),
    ("ademamix", {"weight_decay": 0.1, "weight_decouple": True, "fixed_decay": True}),
]


def _close(a, b, rel=1e-12):
    return all(x == y or abs(x - y) <= rel * max(abs(x), abs(y), 1e-300) for x, y in zip(a, b))


def _pair(t):
    t = t.reshape(-1)
    return (float(t[0]), float(t[1]))


@pytest.mark.parametrize("key,hp", EXPLAINED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(EXPLAINED)])
@pytest.mark.parametrize("surface_key", ["ravine", "saddle"])
def test_every_printed_number_is_the_engines(key, hp, surface_key):
    spec = get_optimizer(key)
    resolved = spec.resolve(hp)
    rule = spec.build(resolved)
    details = anatomy(surface_key, key, steps=6, hparams=hp)
    wd = resolved["weight_decay"]
    b2 = resolved["beta2"]
    for d in details:
        ex = d.explanation
        text = " ".join(ex.sentences)
        values = rule.per_step(d.lr, d.step)
        for name, value in ex.shown.items():
            assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
            if name.startswith("state."):
                assert _close(value, d.state_after[name.removeprefix("state.")]), f"update {d.step}: {name}"
            elif name == "step":
                assert _close(value, d.step_vector), f"update {d.step}: step"
            elif name == "g":
                assert value == d.grad
            elif name == "g_eff":
                assert _close(value, (d.grad[0] + wd * d.position[0], d.grad[1] + wd * d.position[1]))
            elif name == "g_prev":
                assert value == d.state_before["g_prev"]
            elif name == "diff":
                prev = d.grad if d.step == 1 else d.state_before["g_prev"]
                assert value == (d.grad[0] - prev[0], d.grad[1] - prev[1])
            elif name == "g_nesterov":
                diff = ex.shown["diff"]
                assert value == (diff[0] * b2 + d.grad[0], diff[1] * b2 + d.grad[1])
            elif name == "effective_lr":
                assert _close(value, d.effective_lr)
            elif name == "mix":
                bc1, _, alpha_t, _ = values
                m1, m2 = d.state_after["m1"], d.state_after["m2"]
                assert _close(value, tuple(m1[i] / bc1 + alpha_t * m2[i] for i in (0, 1)))
            else:
                raise AssertionError(f"untested printed vector {name}")
        for name, value in ex.facts.items():
            digits = 6 if name == "beta3_t" else 3  # β₃,ₜ is printed to 6 digits (0.9999 is not 1)
            assert fmt(value, digits) in text, f"update {d.step}: {name} = {fmt(value, digits)} is not in the sentences"
        assert ("weight decay" in text.lower()) == bool(wd)
        if key == "adan":
            assert ex.facts["bias_correction1"] == values[1] and ex.facts["bias_correction3_sqrt"] == values[3]
        else:
            assert (ex.facts["alpha_t"], ex.facts["beta3_t"]) == (values[2], values[3])
        # the two arrows (the m̂ part and the other part) add up to the step without weight decay
        if not wd:
            total = tuple(sum(a[1][i] for a in ex.arrows) for i in (0, 1))
            assert _close(total, d.step_vector, 1e-9)


def test_adan_explanation_says_the_first_difference_is_zero():
    details = anatomy("ravine", "adan", steps=3)
    first, second = (" ".join(d.sentences) for d in details[:2])
    assert "no previous gradient" in first and details[0].explanation.shown["diff"] == (0.0, 0.0)
    assert "from the previous step" in second and "no previous gradient" not in second
    assert details[1].explanation.shown["g_prev"] == details[0].grad


def test_adan_explanation_names_the_weight_decay_form():
    proximal = " ".join(anatomy("ravine", "adan", steps=1, hparams={"weight_decay": 0.1})[0].sentences)
    decoupled = " ".join(
        anatomy("ravine", "adan", steps=1, hparams={"weight_decay": 0.1, "weight_decouple": True})[0].sentences
    )
    assert "divided by 1 + ηλ" in proximal and "shrinks" not in proximal
    assert "shrinks ×(1 − ηλ)" in decoupled and "divided" not in decoupled


def test_ademamix_explanation_follows_the_warm_up():
    off = anatomy("ravine", "ademamix", steps=2)
    assert all("warm-up" not in " ".join(d.sentences) for d in off)
    assert [d.explanation.facts["alpha_t"] for d in off] == [5.0, 5.0]
    on = anatomy("ravine", "ademamix", steps=6, hparams={"t_alpha_beta3": 4, "beta3": 0.99})
    assert all("warm-up" in " ".join(d.sentences) for d in on)
    assert [d.explanation.facts["alpha_t"] for d in on] == [1.25, 2.5, 3.75, 5.0, 5.0, 5.0]
    beta3 = [d.explanation.facts["beta3_t"] for d in on]
    assert beta3[0] < beta3[1] < beta3[2] < beta3[3] == pytest.approx(0.99, rel=1e-15)
    assert beta3[4:] == [0.99, 0.99]
    said = [" ".join(d.sentences) for d in on]
    assert "on its warm-up" in said[2] and "at the end of its warm-up" in said[3] and "after its warm-up" in said[4]


def test_ademamix_with_alpha_zero_is_adam():
    """α = 0 drops the slow EMA: the step is Adam's (same β₁, β₂, ε), to rounding."""
    surface = get_surface("himmelblau")
    mix = simulate(surface, "ademamix", steps=100, hparams={"alpha": 0.0}, device="cpu")
    adam = simulate(surface, "adam", steps=100, hparams={"lr": 0.05}, device="cpu")
    torch.testing.assert_close(mix.xy, adam.xy, rtol=1e-12, atol=1e-12)


def test_default_lr_is_sensible_on_the_lesson_surfaces():
    """The defaults reach the neighbourhood of a minimum in the lesson's number of steps, without diverging."""
    for surface_key, steps, below in (("ravine", 250, 0.01), ("himmelblau", 300, 1.0), ("beale", 1000, 0.1)):
        surface = get_surface(surface_key)
        for key in KEYS:
            traj = simulate(surface, key, steps=steps, device="cpu")
            assert int(traj.diverged_at[0]) == -1
            assert float(traj.loss[0, -1]) < below, (key, surface_key, float(traj.loss[0, -1]))
