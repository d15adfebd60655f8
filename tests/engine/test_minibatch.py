"""Real minibatch noise on the data surfaces: simulate(..., batch_size=k) (issue 18).

Each step's gradient is the mean over k examples, drawn without replacement within an epoch, by
seed, per run (engine/noise.minibatches)."""

from __future__ import annotations

import math

import pytest
import torch

from engine import simulate
from engine.noise import minibatches
from surfaces import get_surface

DATA_SURFACES = [
    ("linear_regression", {"dataset": d, "standardize": s}) for d in ("diabetes", "iris") for s in (False, True)
] + [("logistic_regression", {"dataset": d}) for d in ("iris_setosa", "breast_cancer")]


def _surface(key, params):
    try:
        return get_surface(key, **params)
    except ValueError:  # a dataset renamed: the first of the surface's own
        surface = get_surface(key)
        return surface


@pytest.fixture(params=DATA_SURFACES, ids=lambda c: f"{c[0]}-{'-'.join(map(str, c[1].values()))}")
def surface(request):
    return _surface(*request.param)


def test_epochs_draw_every_example_once_per_epoch():
    seeds = torch.tensor([0, 7, 123])
    n, k = 23, 5
    per_epoch = n // k
    draws = minibatches(seeds, n, k, 0, 3 * per_epoch)  # (steps, B, k)
    for run in range(3):
        for epoch in range(3):
            taken = draws[epoch * per_epoch : (epoch + 1) * per_epoch, run].flatten()
            assert len(set(taken.tolist())) == per_epoch * k  # without replacement within the epoch
        # a new order each epoch
        assert not torch.equal(draws[:per_epoch, run], draws[per_epoch : 2 * per_epoch, run])
    assert not torch.equal(draws[:, 0], draws[:, 1])  # runs with different seeds draw differently


def test_minibatches_do_not_depend_on_the_batch_or_the_chunking():
    seeds = torch.tensor([3, 1, 4, 1, 5])
    whole = minibatches(seeds, 40, 6, 0, 30)
    for b in range(5):
        assert torch.equal(minibatches(seeds[b : b + 1], 40, 6, 0, 30)[:, 0], whole[:, b])
    assert torch.equal(torch.cat([minibatches(seeds, 40, 6, t, 10) for t in (0, 10, 20)]), whole)


def test_the_mean_of_first_minibatch_gradients_is_the_full_gradient(surface):
    """Unbiased: over S seeds the mean first-step gradient is within 5 standard errors of the full one
    (the standard error estimated from the same S samples; a 5σ miss has probability ~6e-7)."""
    k, seeds = 8, 4000
    start = torch.tensor(surface.start, dtype=torch.float64)
    traj = simulate(surface, "sgd", start=start, steps=1, hparams={"lr": 1e-3}, seed=list(range(seeds)), batch_size=k)
    first = traj.grad[:, 0]  # (S, 2): each seed's minibatch gradient at the start
    full = surface.grad(start)
    sem = first.std(0) / math.sqrt(seeds)
    assert torch.all(sem > 0)  # the batches really differ
    assert torch.all((first.mean(0) - full).abs() <= 5 * sem), (first.mean(0), full, sem)


def test_full_batch_is_the_noise_free_run(surface):
    plain = simulate(surface, "adam", steps=40, hparams={"lr": 0.05})
    for k in (None, surface.n_examples, surface.n_examples + 5):
        full = simulate(surface, "adam", steps=40, hparams={"lr": 0.05}, batch_size=k, seed=11)
        assert torch.equal(full.xy, plain.xy)
        assert full.meta["batch_size"] is None


def test_minibatch_runs_reproduce_by_seed_and_differ_between_seeds(surface):
    a = simulate(surface, "momentum", steps=30, hparams={"lr": 0.05}, batch_size=4, seed=5)
    b = simulate(surface, "momentum", steps=30, hparams={"lr": 0.05}, batch_size=4, seed=5)
    c = simulate(surface, "momentum", steps=30, hparams={"lr": 0.05}, batch_size=4, seed=6)
    assert torch.equal(a.xy, b.xy)
    assert not torch.equal(a.xy, c.xy)
    assert a.meta["batch_size"] == 4


def test_batched_runs_equal_runs_one_by_one(surface):
    seeds = [0, 1, 2, 3]
    starts = torch.tensor([surface.start] * 4, dtype=torch.float64) + torch.linspace(0, 0.3, 4).view(-1, 1)
    lrs = torch.tensor([0.01, 0.02, 0.05, 0.1], dtype=torch.float64)
    batched = simulate(surface, "adam", start=starts, steps=25, hparams={"lr": lrs}, seed=seeds, batch_size=3)
    for b in range(4):
        one = simulate(
            surface, "adam", start=starts[b], steps=25, hparams={"lr": float(lrs[b])}, seed=seeds[b], batch_size=3
        )
        torch.testing.assert_close(batched.xy[b], one.xy[0], rtol=1e-13, atol=1e-15)


def test_a_step_takes_its_gradient_on_its_examples(surface):
    """SGD's first step is −η times the gradient of exactly the drawn examples."""
    k, seed, lr = 5, 9, 0.1
    traj = simulate(surface, "sgd", steps=1, hparams={"lr": lr}, seed=seed, batch_size=k)
    idx = minibatches(torch.tensor([seed]), surface.n_examples, k, 0, 1)[0]  # (1, k)
    x0, y0 = (torch.tensor([v], dtype=torch.float64) for v in surface.start)
    gx, gy = surface.grad_xy_on(x0, y0, idx)
    torch.testing.assert_close(traj.grad[0, 0], torch.cat((gx, gy)), rtol=0, atol=0)
    torch.testing.assert_close(traj.xy[0, 1], torch.cat((x0 - lr * gx, y0 - lr * gy)), rtol=1e-15, atol=0)


def test_second_order_rules_see_the_minibatch(surface):
    """Newton's step uses the minibatch's Hessian and gradient; L-BFGS's line search its loss."""
    for key in ("newton", "lbfgs"):
        a = simulate(surface, key, steps=5, batch_size=6, seed=2)
        full = simulate(surface, key, steps=5)
        assert torch.isfinite(a.xy).all()
        assert not torch.equal(a.xy, full.xy)


def test_batch_size_needs_a_data_surface_and_a_whole_number():
    with pytest.raises(ValueError, match="data"):
        simulate("ravine", "sgd", steps=2, batch_size=4)
    surface = get_surface("linear_regression")
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(ValueError, match="batch_size"):
            simulate(surface, "sgd", steps=2, batch_size=bad)


def test_minibatch_runs_go_eagerly_and_say_why():
    surface = get_surface("linear_regression")
    traj = simulate(surface, "sgd", steps=3, batch_size=4, engine="auto")
    assert traj.meta["engine"].startswith("eager")
