"""engine.simulate: shapes, batching, noise, schedules, divergence, validation, diagnostics, CUDA."""

from __future__ import annotations

import importlib
import math
import time
from types import SimpleNamespace

import pytest
import torch

import engine
from engine import MAX_STEPS, SimulationTooLarge, Trajectory, escape_step, estimate_bytes, first_step_below, simulate
from engine.noise import gaussian
from engine.rollout import FAR_SPANS, memory_budget
from optimizers import get_optimizer
from optimizers.schedules import make_schedule
from surfaces import get_surface

CPU = "cpu"
# The package re-exports the function `simulate`, which shadows the submodule's name as an attribute
# of `engine`: take the module itself from the import system.
sim = importlib.import_module("engine.rollout")


def run(surface, optimizer, **kw):
    """simulate on the CPU unless a test says otherwise."""
    kw.setdefault("device", CPU)
    return simulate(surface, optimizer, **kw)


def far_limits(surface):
    (x0, x1), (y0, y1) = surface.bounds
    wx, wy = FAR_SPANS * (x1 - x0), FAR_SPANS * (y1 - y0)
    return (x0 - wx, x1 + wx), (y0 - wy, y1 + wy)


def is_far(surface, x, y):
    (xl, xh), (yl, yh) = far_limits(surface)
    return x < xl or x > xh or y < yl or y > yh


FIELDS = ("xy", "loss", "grad", "lr", "effective_lr")


def assert_same_run(traj, b, single, row=0):
    """Row b of a batched trajectory equals row `row` of a single run, bit for bit."""
    for name in FIELDS:
        got, want = getattr(traj, name)[b], getattr(single, name)[row]
        assert torch.equal(got, want), f"{name} of run {b} differs from its single run"
    assert int(traj.diverged_at[b]) == int(single.diverged_at[row])


# ---- shapes and dtypes ------------------------------------------------------------------------


def _starts(batch):
    base = torch.tensor([[-3.5, 1.5], [2.0, -1.0], [0.5, 2.5]], dtype=torch.float64)
    return base[:batch]


@pytest.mark.parametrize("batch", [1, 3], ids=["B1", "B3"])
@pytest.mark.parametrize("every", [1, 7], ids=["every1", "every7"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_shapes_dtypes_and_steps(batch, every, optimizer):
    steps = 50
    traj = run("ravine", optimizer, start=_starts(batch), steps=steps, record_every=every)
    expected_steps = list(range(0, steps + 1, every))
    if expected_steps[-1] != steps:
        expected_steps.append(steps)  # the last step is always kept
    if every == 7:
        assert expected_steps == [0, 7, 14, 21, 28, 35, 42, 49, 50]
    n = len(expected_steps)
    assert traj.steps.tolist() == expected_steps
    assert traj.steps.dtype == torch.int64
    assert traj.xy.shape == (batch, n, 2)
    assert traj.loss.shape == (batch, n)
    assert traj.grad.shape == (batch, n, 2)
    assert traj.lr.shape == (batch, n - 1)
    assert traj.effective_lr.shape == (batch, n - 1, 2)
    assert traj.diverged_at.shape == (batch,)
    assert traj.diverged_at.dtype == torch.int64
    for name in FIELDS:
        t = getattr(traj, name)
        assert t.dtype == torch.float64, name
        assert t.device.type == "cpu", name
    assert traj.diverged_at.device.type == "cpu" and traj.steps.device.type == "cpu"
    assert traj.dtype == torch.float64
    assert traj.batch == batch and traj.total_steps == steps
    assert torch.equal(traj.final_loss, traj.loss[:, -1])
    assert torch.equal(traj.xy[:, 0], _starts(batch))


def test_record_every_subsamples_the_full_run():
    full = run("rosenbrock", "adam", steps=50, hparams={"lr": 0.05})
    thin = run("rosenbrock", "adam", steps=50, hparams={"lr": 0.05}, record_every=7)
    idx = thin.steps
    assert torch.equal(thin.xy[0], full.xy[0, idx])
    assert torch.equal(thin.loss[0], full.loss[0, idx])
    assert torch.equal(thin.grad[0], full.grad[0, idx])
    assert torch.equal(thin.lr[0], full.lr[0, idx[:-1]])
    assert torch.equal(thin.effective_lr[0], full.effective_lr[0, idx[:-1]])


def test_float32_option():
    traj = run("rosenbrock", "adam", start=_starts(3), steps=20, dtype=torch.float32)
    for name in FIELDS:
        assert getattr(traj, name).dtype == torch.float32, name
    assert traj.dtype == torch.float32
    ref = run("rosenbrock", "adam", start=_starts(3), steps=20)
    assert not torch.equal(traj.xy.double(), ref.xy)  # really computed in float32
    torch.testing.assert_close(traj.xy.double(), ref.xy, rtol=1e-4, atol=1e-4)


def test_zero_steps():
    traj = run("ravine", "adam", start=_starts(3), steps=0)
    assert traj.xy.shape == (3, 1, 2) and traj.lr.shape == (3, 0) and traj.effective_lr.shape == (3, 0, 2)
    assert traj.steps.tolist() == [0]


def test_loss_and_grad_are_the_surface_values():
    surface = get_surface("rosenbrock")
    traj = run(surface, "momentum", steps=30, hparams={"lr": 1e-3})
    torch.testing.assert_close(traj.loss, surface.f(traj.xy), rtol=1e-14, atol=0)
    torch.testing.assert_close(traj.grad, surface.grad(traj.xy), rtol=1e-14, atol=0)


# ---- batched equals one-by-one ------------------------------------------------------------------

BATCH_CASES = [
    ("rosenbrock", "sgd", {"lr": 1e-3}),
    ("rosenbrock", "momentum", {"lr": 1e-3}),
    ("rosenbrock", "nesterov", {"lr": 1e-3}),
    ("rosenbrock", "adam", {"lr": 0.05}),
    ("ravine", "newton", {"lr": 0.5, "damping": 0.1}),
    ("himmelblau", "newton", {"lr": 0.5}),
    ("rosenbrock", "lookahead", {"inner": "adam", "lr": 0.05}),
    ("plateau", "rmsprop", {"lr": 0.05}),
    ("saddle", "adagrad", {"lr": 0.1}),
]


def _spread_starts(surface, batch=4):
    offsets = torch.tensor([[0.0, 0.0], [0.1, -0.2], [-0.3, 0.05], [0.2, 0.2], [0.05, 0.3]], dtype=torch.float64)
    return torch.tensor(surface.start, dtype=torch.float64) + offsets[:batch]


@pytest.mark.parametrize("surface_key,optimizer,hp", BATCH_CASES, ids=[f"{s}-{o}" for s, o, _ in BATCH_CASES])
def test_batched_equals_one_by_one(surface_key, optimizer, hp):
    surface = get_surface(surface_key)
    starts = _spread_starts(surface)
    batched = run(surface, optimizer, start=starts, steps=120, hparams=hp)
    rows = {tuple(r) for r in batched.xy[:, -1].tolist()}
    assert len(rows) == len(starts)  # the runs really are different
    for b in range(len(starts)):
        single = run(surface, optimizer, start=tuple(starts[b].tolist()), steps=120, hparams=hp)
        assert_same_run(batched, b, single)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "newton", "nesterov", "lookahead"])
def test_batched_with_noise_and_seed_tensor_equals_single_runs(optimizer):
    surface = get_surface("ravine", condition=20)
    starts = _spread_starts(surface)
    seeds = torch.tensor([11, 3, 2024, 7])
    hp = {"lr": 0.05}
    batched = run(surface, optimizer, start=starts, steps=80, hparams=hp, noise=0.3, seed=seeds)
    for b in range(len(starts)):
        single = run(surface, optimizer, start=starts[b], steps=80, hparams=hp, noise=0.3, seed=int(seeds[b]))
        assert_same_run(batched, b, single)


def test_seed_list_equals_seed_tensor():
    starts = _spread_starts(get_surface("ravine"), 3)
    a = run("ravine", "adam", start=starts, steps=40, noise=0.2, seed=[5, 6, 7])
    b = run("ravine", "adam", start=starts, steps=40, noise=0.2, seed=torch.tensor([5, 6, 7]))
    assert torch.equal(a.xy, b.xy)


def test_one_int_seed_gives_every_run_the_same_noise():
    start = torch.tensor([[-3.0, 1.0], [-3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    traj = run("ravine", "sgd", start=start, steps=60, noise=0.5, seed=42)
    assert torch.equal(traj.xy[0], traj.xy[1])
    assert torch.equal(traj.grad[0], traj.grad[1])
    # Same noise values in the third run too: grad − true grad is the noise itself.
    surface = get_surface("ravine")
    n0 = traj.grad[0] - surface.grad(traj.xy[0])
    n2 = traj.grad[2] - surface.grad(traj.xy[2])
    torch.testing.assert_close(n0, n2, rtol=0, atol=1e-12)
    # ... and it is that of a single run with the same seed.
    single = run("ravine", "sgd", start=(1.0, 2.0), steps=60, noise=0.5, seed=42)
    assert_same_run(traj, 2, single)


def test_lr_sweep_equals_single_runs():
    lrs = torch.tensor([0.01, 0.03, 0.1], dtype=torch.float64)
    batched = run("ravine", "adam", steps=100, hparams={"lr": lrs})
    for b, lr in enumerate(lrs.tolist()):
        single = run("ravine", "adam", steps=100, hparams={"lr": lr})
        torch.testing.assert_close(batched.xy[b], single.xy[0], rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(batched.lr[b], single.lr[0], rtol=0, atol=0)


# ---- noise --------------------------------------------------------------------------------------


def test_same_seed_same_trajectory_different_seed_differs():
    a = run("rosenbrock", "adam", steps=100, noise=0.5, seed=1)
    b = run("rosenbrock", "adam", steps=100, noise=0.5, seed=1)
    c = run("rosenbrock", "adam", steps=100, noise=0.5, seed=2)
    assert torch.equal(a.xy, b.xy) and torch.equal(a.grad, b.grad)
    assert not torch.equal(a.xy, c.xy)
    assert (a.xy[0, 1:] != c.xy[0, 1:]).all()


def test_zero_noise_equals_no_noise():
    plain = run("rosenbrock", "adam", steps=100)
    zero = run("rosenbrock", "adam", steps=100, noise=0.0, seed=123)
    assert torch.equal(plain.xy, zero.xy) and torch.equal(plain.grad, zero.grad)
    noisy = run("rosenbrock", "adam", steps=100, noise=1e-3, seed=123)
    assert not torch.equal(plain.xy, noisy.xy)


def test_gaussian_moments():
    seeds = torch.arange(1000, dtype=torch.int64)
    draws = gaussian(seeds, 0, 200, torch.float64)  # 400 000 values
    assert draws.shape == (200, 2, 1000)
    assert draws.dtype == torch.float64
    assert abs(float(draws.mean())) < 0.01
    assert abs(float(draws.std()) - 1.0) < 0.01
    # Roughly normal: about 68 % within one std, 95 % within two, nothing absurd.
    within1 = float((draws.abs() < 1).double().mean())
    within2 = float((draws.abs() < 2).double().mean())
    assert abs(within1 - 0.6827) < 0.01 and abs(within2 - 0.9545) < 0.01
    assert torch.isfinite(draws).all() and float(draws.abs().max()) < 8
    # x and y noise, neighbouring steps and neighbouring seeds are uncorrelated.
    x, y = draws[:, 0].flatten(), draws[:, 1].flatten()
    assert abs(float(torch.corrcoef(torch.stack((x, y)))[0, 1])) < 0.01
    a, b = draws[:-1].flatten(), draws[1:].flatten()
    assert abs(float(torch.corrcoef(torch.stack((a, b)))[0, 1])) < 0.01
    a, b = draws[..., :-1].flatten(), draws[..., 1:].flatten()
    assert abs(float(torch.corrcoef(torch.stack((a, b)))[0, 1])) < 0.01


def test_gaussian_does_not_depend_on_chunk_position_or_batch():
    seeds = torch.tensor([0, 1, 99, -5, 2**40], dtype=torch.int64)
    whole = gaussian(seeds, 0, 512, torch.float64)
    part = gaussian(seeds, t0=300, count=5, dtype=torch.float64)
    assert torch.equal(part, whole[300:305])
    # One seed alone gives the same values as inside a batch.
    alone = gaussian(seeds[2:3], 0, 512, torch.float64)
    assert torch.equal(alone[..., 0], whole[..., 2])
    # float32 draws are the float64 ones rounded.
    assert torch.equal(gaussian(seeds, 0, 512, torch.float32), whole.float())


def test_noise_enters_the_gradient_with_the_requested_std():
    surface = get_surface("ravine")
    for std in (0.1, 2.0):
        traj = run(surface, "sgd", steps=4000, hparams={"lr": 0.01}, noise=std, seed=3)
        assert int(traj.diverged_at) == -1
        residual = traj.grad - surface.grad(traj.xy)
        assert abs(float(residual.std()) / std - 1.0) < 0.05
        assert abs(float(residual.mean())) < 0.05 * std


def test_noise_long_runs_cross_chunk_boundaries_like_single_draws():
    """The engine's noise at step t is gaussian(seed, t) whatever the chunking (steps > 256)."""
    surface = get_surface("ravine")
    traj = run(surface, "sgd", steps=600, hparams={"lr": 0.01}, noise=0.7, seed=9)
    residual = traj.grad[0] - surface.grad(traj.xy[0])  # (601, 2)
    draws = gaussian(torch.tensor([9]), 0, 601, torch.float64)[:, :, 0] * 0.7
    torch.testing.assert_close(residual, draws, rtol=0, atol=1e-12)


# ---- schedules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,params",
    [
        ("step", {"step_size": 20, "gamma": 0.5}),
        ("cosine", {"T_max": 80}),
        ("warmup", {"inner": "exponential", "warmup_steps": 10, "r": 50.0}),
    ],
    ids=["step", "cosine", "warmup-exponential"],
)
def test_time_schedule_lr_is_recorded(key, params):
    schedule = make_schedule(key, **params)
    base = 0.05
    traj = run("ravine", "sgd", steps=100, hparams={"lr": base}, schedule=schedule)
    want = schedule.values(100, base)
    assert not torch.all(want == base)  # the schedule really moves
    torch.testing.assert_close(traj.lr[0], want, rtol=1e-15, atol=0)
    # For plain SGD the step taken is exactly lr_t · g_t.
    step = traj.xy[0, 1:] - traj.xy[0, :-1]
    torch.testing.assert_close(step, -traj.lr[0, :, None] * traj.grad[0, :-1], rtol=1e-12, atol=1e-15)


def test_time_schedule_with_lr_sweep():
    schedule = make_schedule("step", step_size=10, gamma=0.1)
    lrs = torch.tensor([0.01, 0.1], dtype=torch.float64)
    traj = run("ravine", "adam", steps=30, hparams={"lr": lrs}, schedule=schedule)
    for b in range(2):
        torch.testing.assert_close(traj.lr[b], schedule.values(30, float(lrs[b])), rtol=1e-15, atol=0)


def test_plateau_schedule_is_fed_the_loss_and_drops_when_progress_stalls():
    # On the plateau surface plain SGD barely moves: the relative loss improvement per update is
    # far below the 1e-4 threshold, so reduce-on-plateau must cut the lr after `patience` updates.
    schedule = make_schedule("plateau", factor=0.5, patience=5)
    plateau = get_surface("plateau", width=1.5)
    traj = run(plateau, "sgd", start=(-3.0, 2.5), steps=60, hparams={"lr": 0.05}, schedule=schedule)
    lr = traj.lr[0]
    assert float(lr[0]) == 0.05
    assert float(lr[-1]) < 0.05 / 4  # several drops
    assert bool((lr[1:] <= lr[:-1]).all())
    # It is exactly the schedule replayed on the recorded losses (the loss at x_t seen after update t).
    torch.testing.assert_close(lr, schedule.values(60, 0.05, losses=traj.loss[0]), rtol=0, atol=0)
    # Where the loss falls steadily (a well-conditioned bowl), the lr is never cut.
    steady = run("ravine", "sgd", start=(0.0, 2.0), steps=60, hparams={"lr": 0.1}, schedule=schedule)
    assert bool((steady.lr[0] == 0.1).all())


def test_schedule_changes_the_path():
    plain = run("ravine", "sgd", steps=100, hparams={"lr": 0.1})
    decayed = run("ravine", "sgd", steps=100, hparams={"lr": 0.1}, schedule=make_schedule("exponential", r=20.0))
    assert torch.equal(plain.xy[0, :2], decayed.xy[0, :2])  # first lr is the base lr
    assert not torch.equal(plain.xy, decayed.xy)
    assert float(decayed.loss[0, -1]) > float(plain.loss[0, -1])  # decayed lr: slower descent
    constant = run("ravine", "sgd", steps=100, hparams={"lr": 0.1}, schedule=make_schedule("constant"))
    assert torch.equal(plain.xy, constant.xy)


# ---- divergence ---------------------------------------------------------------------------------


def _sgd_first_bad_step(surface, start, lr, steps):
    """Plain-Python SGD: the first step whose point is non-finite or far outside the view."""
    x, y = start
    for t in range(steps + 1):
        if t:
            gx, gy = surface.grad(torch.tensor([x, y], dtype=torch.float64)).tolist()
            x, y = x - lr * gx, y - lr * gy
        xy = torch.tensor([x, y], dtype=torch.float64)
        finite = math.isfinite(x) and math.isfinite(y)
        if finite:
            with torch.no_grad():
                loss, g = surface.f(xy), surface.grad(xy)
            finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(g).all())
        if not finite or is_far(surface, x, y):
            return t
    return -1


def _all_finite(traj):
    return all(bool(torch.isfinite(getattr(traj, n)).all()) for n in FIELDS)


def test_sgd_diverges_on_rosenbrock():
    surface = get_surface("rosenbrock")
    traj = run(surface, "sgd", steps=100, hparams={"lr": 1.0})
    k = int(traj.diverged_at)
    assert k > 0
    assert k == _sgd_first_bad_step(surface, surface.start, 1.0, 100)
    assert _all_finite(traj)
    # After the divergence every array holds the last valid values.
    for name in ("xy", "loss", "grad"):
        arr = getattr(traj, name)[0]
        assert torch.equal(arr[k:], arr[k - 1 : k].expand_as(arr[k:])), name
    for name in ("effective_lr", "lr"):
        arr = getattr(traj, name)[0]
        assert torch.equal(arr[k:], arr[k - 1 : k].expand_as(arr[k:])), name
    # Before it, the path is the real one.
    x = traj.xy[0, k - 1]
    assert not is_far(surface, *x.tolist())
    ok = run(surface, "sgd", steps=k - 1, hparams={"lr": 1.0})
    assert torch.equal(ok.xy[0], traj.xy[0, :k])
    assert int(ok.diverged_at) == -1


def test_start_far_outside_the_view_diverges_at_step_zero():
    surface = get_surface("ravine", condition=10.0, angle=0.0)
    (_, x_high), _ = far_limits(surface)
    starts = torch.tensor([[x_high * 1.01, 0.0], [-3.5, 1.5]], dtype=torch.float64)
    traj = run(surface, "adam", start=starts, steps=20, hparams={"lr": 0.1})
    assert traj.diverged_at.tolist() == [0, -1]
    assert torch.equal(traj.xy[0], starts[0].expand(21, 2))  # held at the (finite) start
    assert _all_finite(traj)
    assert_same_run(traj, 1, run(surface, "adam", start=starts[1], steps=20, hparams={"lr": 0.1}))


def test_non_diverging_run_has_minus_one():
    traj = run(
        "rosenbrock", "adam", start=_spread_starts(get_surface("rosenbrock"), 3), steps=300, hparams={"lr": 0.02}
    )
    assert traj.diverged_at.tolist() == [-1, -1, -1]


def test_divergence_with_record_every_reports_a_recorded_step():
    surface = get_surface("rosenbrock")
    full = run(surface, "sgd", steps=100, hparams={"lr": 1.0})
    thin = run(surface, "sgd", steps=100, hparams={"lr": 1.0}, record_every=7)
    k = int(full.diverged_at)
    # The first recorded step at or after the true divergence.
    want = min(int(s) for s in thin.steps if int(s) >= k)
    assert int(thin.diverged_at) == want
    assert _all_finite(thin)


def test_divergence_in_a_batch_only_touches_the_diverging_runs():
    lrs = torch.tensor([1e-4, 1.0, 1e-3], dtype=torch.float64)
    batched = run("rosenbrock", "sgd", start=(-1.5, 2.0), steps=100, hparams={"lr": lrs})
    assert batched.diverged_at[0] == -1 and batched.diverged_at[2] == -1
    assert batched.diverged_at[1] > 0
    assert _all_finite(batched)
    for b in range(3):
        single = run("rosenbrock", "sgd", start=(-1.5, 2.0), steps=100, hparams={"lr": float(lrs[b])})
        assert int(single.diverged_at) == int(batched.diverged_at[b])
        torch.testing.assert_close(batched.xy[b], single.xy[0], rtol=1e-14, atol=0)

    # Same with different starts and one lr: bit for bit.
    starts = torch.tensor([[-1.5, 2.0], [1.9, -0.9], [0.5, 0.5]], dtype=torch.float64)
    batched = run("rosenbrock", "sgd", start=starts, steps=60, hparams={"lr": 0.0015})
    assert (batched.diverged_at >= 0).tolist() == [False, True, False]
    for b in range(3):
        assert_same_run(batched, b, run("rosenbrock", "sgd", start=starts[b], steps=60, hparams={"lr": 0.0015}))


def test_saddle_unbounded_escape_is_a_divergence_without_nan():
    surface = get_surface("saddle_unbounded")
    lr = 0.1
    traj = run(surface, "sgd", steps=400, hparams={"lr": lr})
    k = int(traj.diverged_at)
    # Closed form: x_t = x₀(1 − η)^t, y_t = y₀(1 + η)^t; the first t beyond the far limit.
    (_, _), (_, y_high) = far_limits(surface)
    y, t = surface.start[1], 0
    while y <= y_high:
        y, t = y + lr * y, t + 1
    assert k == t and 0 < k < 400
    assert math.isfinite(y)  # it was far out, but not NaN/inf, when it was flagged
    assert _all_finite(traj)
    assert torch.equal(traj.xy[0, -1], traj.xy[0, k - 1])
    assert not is_far(surface, *traj.xy[0, k - 1].tolist())
    # The bounded saddle keeps every run in the view.
    assert int(run("saddle", "sgd", steps=400, hparams={"lr": lr}).diverged_at) == -1


def test_newton_singular_hessian_is_a_divergence_not_an_exception():
    # On "saddle", ∂²f/∂y² = 3y² − 1 vanishes at y = 1/√3: with damping 0 the Newton system is
    # singular there (numerically: det ≈ 2e-16 or 0), so the step is huge or non-finite.
    start = (0.5, 1.0 / math.sqrt(3.0))
    traj = run("saddle", "newton", start=start, steps=20, hparams={"lr": 1.0, "damping": 0.0})
    assert int(traj.diverged_at) == 1
    assert _all_finite(traj)
    assert torch.equal(traj.xy[0, -1], traj.xy[0, 0])
    # Damping makes the same start harmless.
    damped = run("saddle", "newton", start=start, steps=20, hparams={"lr": 1.0, "damping": 0.5})
    assert int(damped.diverged_at) == -1


def test_singular_hessian_in_a_batch_only_stops_that_run():
    starts = torch.tensor([[0.5, 1.0 / math.sqrt(3.0)], [0.5, 1.5]], dtype=torch.float64)
    traj = run("saddle", "newton", start=starts, steps=20)
    assert traj.diverged_at.tolist()[0] == 1 and traj.diverged_at.tolist()[1] == -1
    torch.testing.assert_close(traj.xy[1, -1], torch.tensor([0.0, 1.0], dtype=torch.float64), rtol=0, atol=1e-12)


# ---- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [MAX_STEPS + 1, -1, 2.5, True], ids=["too-many", "negative", "float", "bool"])
def test_bad_steps(steps):
    with pytest.raises(ValueError, match="steps"):
        run("ravine", "sgd", steps=steps)


def test_max_steps_is_allowed():
    assert MAX_STEPS == sim.MAX_STEPS
    traj = run("ravine", "sgd", steps=MAX_STEPS, record_every=MAX_STEPS)
    assert traj.steps.tolist() == [0, MAX_STEPS]


@pytest.mark.parametrize("noise", [-0.1, float("nan"), float("inf"), "loud"], ids=["negative", "nan", "inf", "str"])
def test_bad_noise(noise):
    with pytest.raises(ValueError, match="noise"):
        run("ravine", "sgd", steps=5, noise=noise)


@pytest.mark.parametrize(
    "start",
    [(float("nan"), 0.0), (0.0, float("inf")), [[0.0, 0.0], [1.0, -float("inf")]]],
    ids=["nan", "inf", "batch-inf"],
)
def test_non_finite_start(start):
    with pytest.raises(ValueError, match="finite"):
        run("ravine", "sgd", start=start, steps=5)


@pytest.mark.parametrize(
    "start",
    [(1.0, 2.0, 3.0), torch.zeros(3, 3), torch.zeros(2, 2, 2), torch.zeros(0, 2), 5.0],
    ids=["three-coords", "Bx3", "3d", "empty", "scalar"],
)
def test_wrong_start_shape(start):
    with pytest.raises(ValueError, match="start"):
        run("ravine", "sgd", start=start, steps=5)


@pytest.mark.parametrize("start", ["origin", [1.0, None]], ids=["str", "none-coord"])
def test_non_numeric_start(start):
    with pytest.raises(ValueError, match="start"):
        run("ravine", "sgd", start=start, steps=5)


def test_mismatched_batch_sizes():
    with pytest.raises(ValueError, match="B = 3"):
        run("ravine", "sgd", start=torch.zeros(3, 2), steps=5, hparams={"lr": torch.tensor([0.1, 0.2])})
    with pytest.raises(ValueError, match="seed"):
        run("ravine", "sgd", start=torch.zeros(3, 2), steps=5, noise=0.1, seed=[1, 2])
    # B = 1 inputs broadcast against the others.
    traj = run("ravine", "sgd", start=(1.0, 1.0), steps=5, hparams={"lr": torch.tensor([0.1, 0.2])})
    assert traj.batch == 2


@pytest.mark.parametrize(
    "seed", [1.5, True, [[1, 2]], torch.tensor([0.5, 1.0])], ids=["float", "bool", "nested", "float-tensor"]
)
def test_bad_seed_type(seed):
    with pytest.raises(ValueError, match="seed"):
        run("ravine", "sgd", steps=5, noise=0.1, seed=seed)


@pytest.mark.parametrize("seed", ["7", None], ids=["str", "none"])
def test_bad_seed_object(seed):
    with pytest.raises(ValueError, match="seed"):
        run("ravine", "sgd", steps=5, noise=0.1, seed=seed)


def test_huge_batch_is_refused_before_any_work(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the roll-out started")

    monkeypatch.setattr(sim, "_roll_out", boom)
    steps = MAX_STEPS
    per_run = estimate_bytes(1, steps)
    batch = memory_budget(CPU) // per_run + 10
    assert estimate_bytes(batch, steps) > memory_budget(CPU)
    start = torch.zeros(1, 2, dtype=torch.float64).expand(batch, 2)  # no B×2 allocation
    began = time.perf_counter()
    with pytest.raises(SimulationTooLarge, match="GiB"):
        simulate("ravine", "adam", start=start, steps=steps, device=CPU)
    # The same through a swept lr, with a much larger batch.
    big = 10**7
    with pytest.raises(SimulationTooLarge):
        simulate("ravine", "adam", steps=steps, device=CPU, hparams={"lr": torch.full((big,), 0.1)})
    assert time.perf_counter() - began < 5.0
    assert issubclass(SimulationTooLarge, ValueError)


def test_estimate_bytes_grows_with_its_arguments():
    base = estimate_bytes(10, 100)
    assert estimate_bytes(20, 100) == 2 * base
    assert estimate_bytes(10, 1000) > base
    assert estimate_bytes(10, 1000, record_every=10) < estimate_bytes(10, 1000)
    assert estimate_bytes(10, 100, dtype=torch.float32) * 2 == base


def test_record_every_makes_a_too_large_batch_fit(monkeypatch):
    monkeypatch.setattr(sim, "memory_budget", lambda device: estimate_bytes(4, 1000, 1) - 1)
    with pytest.raises(SimulationTooLarge):
        simulate("ravine", "sgd", start=torch.zeros(4, 2), steps=1000, device=CPU)
    traj = simulate("ravine", "sgd", start=torch.zeros(4, 2), steps=1000, device=CPU, record_every=100)
    assert traj.xy.shape == (4, 11, 2)


def test_bad_record_every():
    for every in (0, -3, 1.5):
        with pytest.raises(ValueError, match="record_every"):
            run("ravine", "sgd", steps=5, record_every=every)


def test_unknown_keys():
    with pytest.raises(ValueError, match="ravine"):  # lists the valid keys
        run("no_such_surface", "sgd", steps=5)
    with pytest.raises(ValueError, match="adam"):
        run("ravine", "no_such_optimizer", steps=5)
    with pytest.raises(ValueError, match="lr"):  # unknown hyperparameter: names the valid ones
        run("ravine", "sgd", steps=5, hparams={"learning_rate": 0.1})


# ---- objects instead of keys; default start -----------------------------------------------------


def test_surface_and_spec_objects_and_default_start():
    surface = get_surface("ravine", condition=200, angle=30)
    spec = get_optimizer("adam")
    by_object = run(surface, spec, steps=30)
    assert by_object.surface is surface and by_object.optimizer is spec
    assert by_object.xy[0, 0].tolist() == list(surface.start)
    explicit = run(surface, "adam", start=surface.start, steps=30)
    assert torch.equal(by_object.xy, explicit.xy)
    # A key gives the default-parameter surface, which differs from this one.
    by_key = run("ravine", spec, steps=30)
    assert not torch.equal(by_key.xy, by_object.xy)
    assert by_key.xy[0, 0].tolist() == list(get_surface("ravine").start)
    # Missing hyperparameters take the spec defaults.
    assert by_object.hparams == spec.resolve({})
    defaults = run(surface, spec, steps=30, hparams=spec.defaults())
    assert torch.equal(defaults.xy, by_object.xy)


def test_start_forms_agree():
    a = run("ravine", "adam", start=(1.0, -2.0), steps=10)
    b = run("ravine", "adam", start=[[1.0, -2.0]], steps=10)
    c = run("ravine", "adam", start=torch.tensor([1.0, -2.0], dtype=torch.float64), steps=10)
    assert torch.equal(a.xy, b.xy) and torch.equal(a.xy, c.xy)


def test_start_tensor_is_not_modified():
    start = torch.tensor([[1.0, -2.0], [0.5, 0.5]], dtype=torch.float64)
    keep = start.clone()
    run("ravine", "momentum", start=start, steps=10)
    assert torch.equal(start, keep)


# ---- effective learning rate --------------------------------------------------------------------


def test_effective_lr_of_sgd_is_the_scheduled_lr():
    schedule = make_schedule("step", step_size=10, gamma=0.5)
    traj = run("ravine", "sgd", start=_starts(3), steps=40, hparams={"lr": 0.1}, schedule=schedule)
    assert torch.equal(traj.effective_lr, traj.lr[..., None].expand(-1, -1, 2))
    assert float(traj.lr[0, -1]) == 0.1 * 0.5**3


@pytest.mark.parametrize("surface_key", ["ravine", "rosenbrock", "plateau"])
def test_effective_lr_of_adagrad(surface_key):
    lr, eps = 0.3, 1e-10
    traj = run(surface_key, "adagrad", steps=200, hparams={"lr": lr, "eps": eps}, noise=0.05, seed=1)
    g = traj.grad[:, :-1]  # the gradient each update used
    want = lr / (torch.cumsum(g * g, dim=1).sqrt() + eps)
    torch.testing.assert_close(traj.effective_lr, want, rtol=1e-12, atol=0)
    # It never increases, coordinate by coordinate.
    assert bool((traj.effective_lr[:, 1:] <= traj.effective_lr[:, :-1]).all())
    # And it is what multiplies the gradient in the step.
    step = traj.xy[:, 1:] - traj.xy[:, :-1]
    torch.testing.assert_close(step, -traj.effective_lr * g, rtol=1e-12, atol=1e-15)


def test_effective_lr_of_adam_multiplies_the_bias_corrected_momentum():
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    traj = run("rosenbrock", "adam", steps=50, hparams={"lr": lr, "beta1": b1, "beta2": b2, "eps": eps})
    g = traj.grad[0, :-1]
    m = torch.zeros(2, dtype=torch.float64)
    v = torch.zeros(2, dtype=torch.float64)
    for t in range(50):
        m = b1 * m + (1 - b1) * g[t]
        v = b2 * v + (1 - b2) * g[t] ** 2
        k = t + 1
        eff = lr / ((v / (1 - b2**k)).sqrt() + eps)
        torch.testing.assert_close(traj.effective_lr[0, t], eff, rtol=1e-10, atol=0)
        step = traj.xy[0, k] - traj.xy[0, t]
        torch.testing.assert_close(step, -eff * m / (1 - b1**k), rtol=1e-9, atol=1e-15)


# ---- diagnostics --------------------------------------------------------------------------------


def _hand(loss=None, xy=None, steps=None, diverged_at=None):
    ref = loss if loss is not None else xy
    n = ref.shape[1]
    return SimpleNamespace(
        loss=loss,
        xy=xy,
        steps=torch.arange(n) if steps is None else torch.as_tensor(steps),
        diverged_at=torch.full((ref.shape[0],), -1) if diverged_at is None else torch.as_tensor(diverged_at),
    )


def test_first_step_below_by_hand():
    loss = torch.tensor(
        [[5.0, 3.0, 0.5, 0.1, 0.05], [5.0, 5.0, 5.0, 5.0, 5.0], [0.5, 2.0, 2.0, 2.0, 2.0], [5.0, 2.0, 2.0, 0.2, 0.2]],
        dtype=torch.float64,
    )
    traj = _hand(loss=loss)
    assert first_step_below(traj, 1.0).tolist() == [2, -1, 0, 3]
    assert first_step_below(traj, 0.09).tolist() == [4, -1, -1, -1]
    assert first_step_below(traj, 0.5).tolist() == [3, -1, -1, 3]  # strictly below
    # Recorded steps (record_every) are reported, not indices.
    traj = _hand(loss=loss, steps=[0, 7, 14, 21, 25])
    assert first_step_below(traj, 1.0).tolist() == [14, -1, 0, 21]
    # A diverged run holds its last point: what comes from the divergence on does not count.
    traj = _hand(loss=loss, diverged_at=[3, -1, -1, 3])
    assert first_step_below(traj, 1.0).tolist() == [2, -1, 0, -1]


def test_escape_step_by_hand():
    xy = torch.tensor(
        [
            [[0.1, 0.0], [0.2, 0.1], [0.6, 0.0], [1.0, 1.0]],
            [[0.0, 0.0], [0.0, 0.1], [0.1, 0.0], [0.0, 0.2]],
            [[0.0, 0.1], [0.0, 0.2], [0.0, 0.2], [0.0, 0.2]],
            [[2.0, 2.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
        ],
        dtype=torch.float64,
    )
    traj = _hand(xy=xy)
    assert escape_step(traj, (0.0, 0.0), 0.5).tolist() == [2, -1, -1, 0]
    assert escape_step(traj, (0.0, 0.0), 0.15).tolist() == [1, 3, 1, 0]
    assert escape_step(traj, (1.0, 1.0), 0.5).tolist() == [0, 0, 0, 0]
    # A diverged run escaped at its divergence step, even if its held point is inside.
    traj = _hand(xy=xy, diverged_at=[-1, -1, 10, -1], steps=[0, 5, 10, 12])
    assert escape_step(traj, (0.0, 0.0), 0.5).tolist() == [10, -1, 10, 0]


def test_diagnostics_on_real_trajectories():
    ravine = get_surface("ravine", condition=10.0, angle=0.0)
    traj = run(ravine, "sgd", start=_starts(3), steps=400, hparams={"lr": 0.1})
    got = first_step_below(traj, 1e-3)
    for b in range(3):
        below = torch.nonzero(traj.loss[b] < 1e-3).flatten()
        assert int(got[b]) == int(below[0]) > 0
        assert float(traj.loss[b, int(got[b]) - 1]) >= 1e-3
    thin = run(ravine, "sgd", start=_starts(3), steps=400, hparams={"lr": 0.1}, record_every=10)
    got_thin = first_step_below(thin, 1e-3)
    assert bool((got_thin >= got).all()) and bool((got_thin - got < 10).all())
    assert bool((got_thin % 10 == 0).all())

    saddle = run("saddle", "sgd", start=(0.0, 1e-3), steps=300, hparams={"lr": 0.1})
    k = int(escape_step(saddle, (0.0, 0.0), 0.5))
    r = saddle.xy[0].norm(dim=-1)
    assert k > 0 and float(r[k]) > 0.5 and bool((r[:k] <= 0.5).all())

    diverged = run("saddle_unbounded", "sgd", start=(0.0, 1e-3), steps=300, hparams={"lr": 0.1})
    d = int(diverged.diverged_at)
    assert d > 0
    assert int(escape_step(diverged, (0.0, 0.0), 1e6)) == d  # escaped by leaving the view
    assert int(first_step_below(diverged, -1e9)) == -1  # the held points don't count as converged


# ---- CUDA ---------------------------------------------------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
class TestCuda:
    @pytest.mark.parametrize(
        "optimizer,hp",
        [
            ("adam", {"lr": 0.05}),
            ("rmsprop", {"lr": 0.01}),
            ("newton", {"lr": 0.5, "damping": 0.1}),
            ("momentum", {"lr": 1e-3}),
        ],
        ids=["adam", "rmsprop", "newton", "momentum"],
    )
    def test_cuda_equals_cpu(self, optimizer, hp):
        batch = 64
        gen = torch.Generator().manual_seed(0)
        starts = torch.tensor([-1.5, 2.0], dtype=torch.float64) + 0.3 * torch.randn(
            batch, 2, generator=gen, dtype=torch.float64
        )
        seeds = torch.arange(batch) * 7 + 1
        kw = dict(start=starts, steps=200, hparams=hp, noise=0.2, seed=seeds, dtype=torch.float64)
        cpu = simulate("rosenbrock", optimizer, device="cpu", **kw)
        gpu = simulate("rosenbrock", optimizer, device="cuda", **kw)
        assert gpu.device.startswith("cuda")
        for name in FIELDS:
            t = getattr(gpu, name)
            assert t.device.type == "cpu", name
            torch.testing.assert_close(t, getattr(cpu, name), rtol=1e-10, atol=1e-12, msg=name)
        assert torch.equal(gpu.diverged_at, cpu.diverged_at)
        assert gpu.diverged_at.device.type == "cpu" and gpu.steps.device.type == "cpu"

    def test_cuda_noise_equals_cpu_noise(self):
        seeds = torch.tensor([0, 1, 99, 2**40])
        torch.testing.assert_close(
            gaussian(seeds.cuda(), 0, 300, torch.float64).cpu(),
            gaussian(seeds, 0, 300, torch.float64),
            rtol=1e-12,
            atol=1e-12,
        )

    def test_default_device_is_cuda(self):
        assert engine.default_device() == "cuda"
        traj = simulate("ravine", "adam", steps=10)
        assert traj.device.startswith("cuda")
        assert traj.xy.device.type == "cpu"

    def test_plateau_schedule_on_cuda(self):
        schedule = make_schedule("plateau", patience=5)
        kw = dict(steps=60, hparams={"lr": torch.tensor([0.05, 0.1], dtype=torch.float64)}, schedule=schedule)
        cpu = simulate("plateau", "sgd", device="cpu", **kw)
        gpu = simulate("plateau", "sgd", device="cuda", **kw)
        torch.testing.assert_close(gpu.lr, cpu.lr, rtol=1e-12, atol=0)
        torch.testing.assert_close(gpu.xy, cpu.xy, rtol=1e-10, atol=1e-12)


def test_trajectory_type_and_meta():
    traj = run("ravine", "adam", steps=5, noise=0.1, seed=4)
    assert isinstance(traj, Trajectory)
    assert traj.noise == 0.1 and traj.seed == 4 and traj.device == CPU


def test_gaussian_noise_in_blocks_is_the_same_bits_as_step_by_step(monkeypatch):
    """gaussian() computes its (steps, 2, B) draws in cache-sized blocks of steps; each draw is a hash
    of (seed, step, coordinate) alone, so any blocking gives the same bits as one step at a time."""
    from engine import noise

    seeds = torch.tensor([0, 1, -5, 2**62, 12345], dtype=torch.int64)
    whole = noise.gaussian(seeds, 3, 40, torch.float64)
    one_by_one = torch.cat([noise.gaussian(seeds, 3 + t, 1, torch.float64) for t in range(40)])
    monkeypatch.setattr(noise, "_BLOCK", 7)  # blocks of 1 step here (2 × 5 values > 7), then of several
    assert torch.equal(whole, one_by_one) and torch.equal(whole, noise.gaussian(seeds, 3, 40, torch.float64))
    monkeypatch.setattr(noise, "_BLOCK", 60)
    assert torch.equal(whole, noise.gaussian(seeds, 3, 40, torch.float64))
    assert whole.std().item() == pytest.approx(1.0, abs=0.15) and whole.mean().abs().item() < 0.15
