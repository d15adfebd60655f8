"""L-BFGS reproduces torch.optim.LBFGS (max_iter=1, max_eval=25: one iteration per step) bit for bit.

torch's LBFGS flattens all its parameters into one vector, so each run gets its own optimizer on
one (2,) parameter, stepped with a closure that sets the surface's analytic gradient (both sides
see the same numbers). Hyperparameters are drawn from the spec's slider ranges, with and without
the strong Wolfe line search, on several surfaces, B = 4 runs at once. Beside the path: the line
search's trial points (the step-by-step page's markers) are the points torch's closure was called
at, the explanation's numbers are the update's, the engine passes the closure and never compiles
the rule, and Lookahead hands the closure on.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from engine import fused, simulate
from engine.anatomy import anatomy
from engine.step import evaluator, step as take_step
from optimizers import INNER_CHOICES, get_optimizer
from optimizers.lbfgs import CONVERGED, MOVED, NO_DESCENT
from optimizers.schedules import CONSTANT, make_schedule
from surfaces import get_surface

STEPS = 60
SURFACES = ("ravine", "rosenbrock", "himmelblau", "beale", "saddle")


# torch.optim and the reference packages keep scalar state in the default dtype (tests/optimizers/conftest.py).
pytestmark = pytest.mark.usefixtures("float64_default")


def torch_lbfgs(surface, start, steps, hp, scheduler=None):
    """(path (B, steps + 1, 2), evaluations): one torch.optim.LBFGS per run; evaluations[b][k] lists
    the points run b's closure was called at in step k + 1 (its point first, then the trials)."""
    twin = get_optimizer("lbfgs").torch_twin
    paths, evaluations = [], []
    for row in start:
        p = row.clone().requires_grad_(True)
        opt = getattr(torch.optim, twin.cls)([p], **twin.arguments(hp))
        sched = scheduler(opt) if scheduler is not None else None
        calls: list = []

        def closure():
            with torch.no_grad():
                xy = p.detach().reshape(1, 2)
                calls.append(p.detach().clone())
                p.grad = surface.grad(xy).reshape(2)
                return 0.0 + surface.f(xy).sum()

        path, evals = [p.detach().clone()], []
        for _ in range(steps):
            calls.clear()
            opt.step(closure)
            if sched is not None:
                sched.step()
            evals.append(list(calls))
            path.append(p.detach().clone())
        paths.append(torch.stack(path))
        evaluations.append(evals)
    return torch.stack(paths), evaluations


def starts_for(surface, batch: int, rng: random.Random) -> torch.Tensor:
    (x0, x1), (y0, y1) = surface.bounds
    pts = [(rng.uniform(x0, x1) * 0.8, rng.uniform(y0, y1) * 0.8) for _ in range(batch - 1)]
    return torch.tensor([surface.start] + pts, dtype=torch.float64)


def random_hparams(rng: random.Random, line_search: str) -> dict:
    """Each hyperparameter inside its slider range (log-uniform on log scales); history sizes both
    small (the memory fills and shifts within the run) and large."""
    hp = {"line_search_fn": line_search}
    for p in get_optimizer("lbfgs").params:
        if p.kind == "float":
            hp[p.name] = 10 ** rng.uniform(math.log10(p.low), math.log10(p.high))
    hp["history_size"] = rng.choice([1, 2, 3, rng.randint(4, 100)])
    if rng.random() < 0.5:
        hp["tolerance_grad"] = 1e-12  # keep going to the end of the run
    return hp


def run_by_hand(surface, start, steps, hp, noise=None):
    """engine.step.step by hand: every state (simulate does not return them)."""
    spec = get_optimizer("lbfgs")
    resolved = spec.resolve(hp)
    rule = spec.build(resolved)
    params = start.T.contiguous()
    state = rule.init(params)
    states, points = [], [params]
    for t in range(steps):
        done = take_step(surface, rule, params, state, resolved["lr"], (), None if noise is None else noise[t])
        params, state = done.params, done.state
        states.append(state)
        points.append(params)
    return states, torch.stack(points)


CASES = [(s, ls, seed) for s in SURFACES for ls in ("none", "strong_wolfe") for seed in range(3)]


@pytest.mark.parametrize("surface_key,line_search,seed", CASES, ids=[f"{s}-{ls}-{i}" for s, ls, i in CASES])
def test_matches_torch_lbfgs_bit_for_bit(surface_key, line_search, seed):
    rng = random.Random(f"lbfgs/{surface_key}/{line_search}/{seed}")
    surface = get_surface(surface_key)
    hp = random_hparams(rng, line_search)
    start = starts_for(surface, 4, rng)
    ours = simulate(surface, "lbfgs", start=start, steps=STEPS, hparams=hp, device="cpu")
    assert ours.meta["engine"] == "eager"
    theirs, evaluations = torch_lbfgs(surface, start, STEPS, ours.hparams)
    valid = ours.diverged_at < 0
    assert valid.any(), f"every run diverged ({hp})"
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=0, atol=0)
    # The trial points the state keeps (the page's markers) are the points torch evaluated.
    states, _ = run_by_hand(surface, start, STEPS, hp)
    for b in range(start.shape[0]):
        if not bool(valid[b]):
            continue
        for k, state in enumerate(states):
            trials = [state.trials[i, :, b] for i in range(int(state.n_trials[b]))]
            if line_search == "none":
                assert trials == []
            calls = evaluations[b][k][1:]  # the first call is at the point itself
            assert len(calls) == len(trials), f"run {b}, step {k + 1}"
            for got, want in zip(trials, calls):
                assert torch.equal(got, want), f"run {b}, step {k + 1}"


def test_the_random_cases_cover_every_branch():
    """Across the cases above: first steps, accepted and rejected pairs, a full memory that
    shifts, converged runs, line searches that zoom, and at least one no-descent stop."""
    seen = {"rejected": 0, "shifted": 0, "converged": 0, "zoomed": 0, "moved": 0}
    for surface_key, line_search, seed in CASES:
        rng = random.Random(f"lbfgs/{surface_key}/{line_search}/{seed}")
        surface = get_surface(surface_key)
        hp = random_hparams(rng, line_search)
        start = starts_for(surface, 4, rng)
        states, _ = run_by_hand(surface, start, STEPS, hp)
        for state in states:
            not_first = (state.n_iter > 1) & (state.status == MOVED)
            seen["rejected"] += int((not_first & (state.accepted == 0)).sum())
            seen["shifted"] += int(((state.memory == hp["history_size"]) & (state.accepted == 1)).sum())
            seen["converged"] += int((state.status == CONVERGED).sum())
            seen["zoomed"] += int((state.n_trials >= 3).sum())
            seen["moved"] += int((state.status == MOVED).sum())
    assert all(v > 0 for v in seen.values()), seen


def test_a_line_search_that_spends_every_evaluation_matches_torch():
    """On an unbounded saddle the bracketing phase extrapolates ×10 per trial and never brackets:
    after 24 more evaluations torch takes the bracket [0, t]. The runs leave the view (diverged),
    so the raw points are compared, not simulate's held ones."""
    surface = get_surface("saddle_unbounded")
    start = starts_for(surface, 3, random.Random(0))
    hp = {"line_search_fn": "strong_wolfe"}
    states, points = run_by_hand(surface, start, 3, hp)
    assert any(int(s.n_trials.max()) == 25 for s in states)
    theirs, _ = torch_lbfgs(surface, start, 3, get_optimizer("lbfgs").resolve(hp))
    assert torch.equal(points.permute(2, 0, 1), theirs)


def test_a_direction_that_does_not_descend_stops_the_step_as_in_torch():
    """tolerance_change at its largest: near a minimum gᵀd > −tolerance_change, and torch ends the
    iteration without moving (keeping d, t and the pair)."""
    surface = get_surface("ravine")
    start = starts_for(surface, 3, random.Random("descent"))
    hp = {"tolerance_change": 1e-3, "tolerance_grad": 1e-12, "lr": 0.5}
    states, points = run_by_hand(surface, start, 30, hp)
    stopped = [(k, b) for k, s in enumerate(states) for b in range(3) if float(s.status[b]) == NO_DESCENT]
    assert stopped, "no step stopped on gᵀd > −tolerance_change"
    for k, b in stopped:
        assert torch.equal(points[k + 1, :, b], points[k, :, b])
        assert float(states[k].gtd[b]) > -1e-3
    ours = simulate(surface, "lbfgs", start=start, steps=30, hparams=hp, device="cpu")
    theirs, _ = torch_lbfgs(surface, start, 30, ours.hparams)
    torch.testing.assert_close(ours.xy, theirs, rtol=0, atol=0)


def test_a_converged_run_stands_still_and_its_state_is_untouched():
    """max|g| ≤ tolerance_grad: torch returns before touching its state (n_iter does not grow)."""
    surface = get_surface("ravine")
    start = torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.float64)  # the first run starts at the minimum
    states, points = run_by_hand(surface, start, 5, {"line_search_fn": "strong_wolfe"})
    assert torch.equal(points[:, :, 0], points[:1, :, 0].expand(6, 2))
    assert [float(s.status[0]) for s in states] == [CONVERGED] * 5
    assert [float(s.n_iter[0]) for s in states] == [0.0] * 5
    assert float(states[0].n_iter[1]) == 1.0 and float(states[0].status[1]) == MOVED
    details = anatomy(surface, "lbfgs", start=(0.0, 0.0), steps=2)
    assert details[0].step_vector == (0.0, 0.0) and "tolerance_grad" in " ".join(details[0].sentences)


def test_first_step_length_is_min_1_over_l1_norm_of_g_times_lr():
    rule = get_optimizer("lbfgs").rule({"lr": 0.7})
    params = torch.tensor([[1.0, 0.1], [2.0, 0.2]], dtype=torch.float64)
    grad = torch.tensor([[3.0, 0.2], [-1.0, 0.1]], dtype=torch.float64)  # ‖g‖₁ = 4 and 0.3
    new, state = rule.update(grad, rule.init(params), params, 0.7, ())
    assert state.t0.tolist() == [0.25 * 0.7, 0.7]
    torch.testing.assert_close(new, params - state.t0 * grad, rtol=1e-15, atol=0)


def test_rejected_pairs_leave_the_memory_unchanged():
    """On the saddle sᵀy < 0 along the unstable direction: the pair is rejected, γ and the memory stay."""
    surface = get_surface("saddle")
    start = torch.tensor([[0.0, 0.3]], dtype=torch.float64)  # along y only: f = −y² there
    states, _ = run_by_hand(surface, start, 3, {"lr": 0.1})
    second = states[1]
    assert float(second.ys[0]) < 0 and float(second.accepted[0]) == 0.0
    assert float(second.memory[0]) == 0.0 and float(second.h_diag[0]) == 1.0


@pytest.mark.parametrize("line_search", ["none", "strong_wolfe"])
def test_matches_torch_under_a_schedule(line_search):
    """torch reads the group's lr at every step: the first step length and t = η follow the schedule."""
    surface = get_surface("rosenbrock")
    start = starts_for(surface, 3, random.Random("schedule"))
    hp = {"lr": 0.5, "line_search_fn": line_search, "history_size": 5}
    ours = simulate(
        surface, "lbfgs", start=start, steps=40, hparams=hp, schedule=make_schedule("step", step_size=10, gamma=0.5)
    )
    theirs, _ = torch_lbfgs(
        surface, start, 40, ours.hparams, scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 10, 0.5)
    )
    valid = ours.diverged_at < 0
    torch.testing.assert_close(ours.xy[valid], theirs[valid], rtol=0, atol=0)


# ---- the engine: closure, noise, never compiled ----------------------------------------------------


def test_the_rule_needs_a_closure_and_is_never_fused():
    rule = get_optimizer("lbfgs").rule({"line_search_fn": "strong_wolfe"})
    assert rule.needs_closure and rule.coupled
    assert fused.unsupported_reason(get_surface("ravine"), rule, CONSTANT) is not None
    traj = simulate("ravine", "lbfgs", steps=5, engine="auto", device="cpu")
    assert traj.meta["engine"].startswith("eager")
    params = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="closure"):
        rule.update(torch.ones_like(params), rule.init(params), params, 1.0, ())


def test_evaluator_is_the_surfaces_noise_free_loss_and_gradient():
    surface = get_surface("himmelblau")
    point = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -3.0]], dtype=torch.float64)
    loss, grad = evaluator(surface)(point)
    assert torch.equal(loss, surface.value_xy(point[0], point[1]))
    assert torch.equal(grad, torch.stack(surface.grad_xy(point[0], point[1])))


def test_noise_enters_the_gradient_at_w_and_not_the_line_search():
    """With noise the update sees g + noise at w; its trials' losses are the surface's own."""
    surface = get_surface("ravine")
    start = starts_for(surface, 3, random.Random("noise"))
    noise = torch.randn(10, 2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.5
    states, points = run_by_hand(surface, start, 10, {"line_search_fn": "strong_wolfe"}, noise=noise)
    for k, state in enumerate(states):
        want = torch.stack(surface.grad_xy(points[k, 0], points[k, 1])) + noise[k]
        moved = state.status != CONVERGED
        torch.testing.assert_close(state.prev_grad[:, moved], want[:, moved], rtol=0, atol=0)
        for b in range(3):
            for i in range(int(state.n_trials[b])):
                p = state.trials[i, :, b]
                assert float(state.trial_f[i, b]) == float(surface.value_xy(p[0], p[1]))
    traj = simulate(surface, "lbfgs", start=start, steps=40, noise=2.0, seed=[1, 2, 3], device="cpu")
    assert torch.isfinite(traj.xy).all()


@pytest.mark.parametrize("name,values", [("lr", [0.2, 1.0, 1.7]), ("tolerance_change", [1e-9, 1e-3])])
def test_a_sweep_equals_separate_runs_with_a_line_search(name, values):
    base = {"line_search_fn": "strong_wolfe", "history_size": 4}
    swept = simulate("rosenbrock", "lbfgs", steps=40, hparams={**base, name: torch.tensor(values)}, device="cpu")
    for b, value in enumerate(values):
        single = simulate("rosenbrock", "lbfgs", steps=40, hparams={**base, name: value}, device="cpu")
        torch.testing.assert_close(swept.xy[b], single.xy[0], rtol=0, atol=0)


def test_lookahead_hands_the_closure_to_lbfgs():
    assert "lbfgs" in INNER_CHOICES
    hp = {"inner": "lbfgs", "line_search_fn": "strong_wolfe", "k": 3, "history_size": 5}
    assert get_optimizer("lookahead").rule(hp).needs_closure
    traj = simulate("himmelblau", "lookahead", steps=20, hparams=hp, device="cpu")
    details = anatomy("himmelblau", "lookahead", steps=20, hparams=hp)
    assert [d.new_position for d in details] == [tuple(traj.xy[0, t + 1].tolist()) for t in range(20)]
    assert any(d.explanation.markers for d in details)


def test_lookahead_over_lbfgs_matches_pytorch_optimizer():
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    surface = get_surface("rosenbrock")
    start = surface.start
    hp = {"inner": "lbfgs", "line_search_fn": "strong_wolfe", "k": 4, "slow_alpha": 0.6, "lr": 0.8}
    ours = simulate(surface, "lookahead", start=start, steps=30, hparams=hp, device="cpu")
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    inner = {k: v for k, v in ours.hparams.items() if k not in ("inner", "k", "slow_alpha")}
    opt = pytorch_optimizer.Lookahead(
        torch.optim.LBFGS([p], **get_optimizer("lbfgs").torch_twin.arguments(inner)), k=4, alpha=0.6
    )

    def closure():
        with torch.no_grad():
            p.grad = surface.grad(p.detach().view(1, 2)).view(2)
            return surface.f(p.detach().view(1, 2)).sum()

    path = [p.detach().clone()]
    for _ in range(30):
        opt.step(closure)
        path.append(p.detach().clone())
    torch.testing.assert_close(ours.xy[0], torch.stack(path), rtol=1e-10, atol=1e-12)


# ---- the step-by-step page --------------------------------------------------------------------------


@pytest.mark.parametrize("surface_key", ["rosenbrock", "himmelblau", "beale"])
def test_the_explanation_reads_the_updates_numbers(surface_key):
    hp = {"line_search_fn": "strong_wolfe", "history_size": 3}
    details = anatomy(surface_key, "lbfgs", steps=25, hparams=hp)
    resolved = get_optimizer("lbfgs").resolve(hp)
    surface = get_surface(surface_key)
    for d in details:
        ex, text = d.explanation, " ".join(d.sentences)
        status = d.extras["status"]
        if status != MOVED:  # converged, or no descent: no step
            assert d.step_vector == (0.0, 0.0)
            continue
        first = d.state_before["n_iter"] == 0.0
        # the direction arrow is the state's d; the step is t·d with the t the update kept
        assert ("d = −Hg", d.state_after["d"]) in ex.arrows or first
        t, direction = d.state_after["t"], d.state_after["d"]
        assert d.extras["t"] == t
        assert d.step_vector == pytest.approx((t * direction[0], t * direction[1]), rel=1e-12, abs=1e-15)
        if first:
            l1 = abs(d.grad[0]) + abs(d.grad[1])
            assert d.extras["t0"] == min(1.0, 1.0 / l1) * resolved["lr"]
            assert "min(1, 1/‖g‖₁)" in text
        else:
            s, y = d.state_after["s"], d.state_after["y"]
            assert s == pytest.approx(
                (d.state_before["t"] * d.state_before["d"][0], d.state_before["t"] * d.state_before["d"][1]), rel=1e-15
            )
            assert y == (d.grad[0] - d.state_before["prev_grad"][0], d.grad[1] - d.state_before["prev_grad"][1])
            accepted = s[0] * y[0] + s[1] * y[1] > 1e-10
            assert d.extras["accepted"] is accepted
            assert ("enters the memory" in text) is accepted and ("rejected" in text) is (not accepted)
            if accepted:
                assert d.extras["memory"][-1] == (s, y)
            assert len(d.extras["memory"]) <= 3
        # the markers are the trial points, with the surface's loss at each; the new point is one of them
        trials = [v for k, v in ex.shown.items() if k.startswith("trial_")]
        assert list(ex.markers.values()) == trials and len(trials) == d.state_after["n_trials"]
        for i, point in enumerate(trials, 1):
            assert d.extras[f"trial_f_{i}"] == float(surface.value_xy(torch.tensor(point[0]), torch.tensor(point[1])))
        if t != 0 and resolved["line_search_fn"] == "strong_wolfe":
            assert d.new_position in trials
    assert any(d.extras.get("accepted") for d in details)
    assert any(len(d.explanation.markers) >= 2 for d in details), "no step with several trial points"


def test_without_a_line_search_there_are_no_trial_markers_and_the_step_is_eta_d():
    details = anatomy("ravine", "lbfgs", steps=6, hparams={"lr": 0.6})
    for d in details[1:]:
        if d.extras["status"] != MOVED:
            continue
        assert not d.explanation.markers
        assert d.extras["t"] == 0.6
        assert ("−g", (-d.grad[0], -d.grad[1])) in d.explanation.arrows  # η ≠ 1: −g is drawn beside d
        assert any("No line search" in s for s in d.sentences)
