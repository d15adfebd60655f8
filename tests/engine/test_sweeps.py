"""engine.sweeps: hyperparameter maps, lr sweeps and tuning, basins, noisy clouds, memory refusal.

The central claim: a sweep is nothing but B independent runs in one batch, so each cell equals the
single run with that cell's settings (to float64 rounding: a (B,) hyperparameter tensor takes a
different but equivalent arithmetic path from a float one, see test_simulate's lr sweep).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine import SimulationTooLarge, simulate
from engine import rollout
from engine import sweeps as S
from engine.diagnostics import first_step_below
from optimizers import get_optimizer
from surfaces import get_surface

RTOL = 1e-12


def single(surface, key, hp, steps, start=None, **kw):
    return simulate(surface, key, start=start, steps=steps, hparams=hp, device="cpu", **kw)


def gap_of(traj, surface):
    return float(traj.final_loss[0]) - S.f_star(surface)


# --- grids -------------------------------------------------------------------------------------------


def test_hparam_grid_is_geometric_for_log_params_and_linear_otherwise():
    vx, vy = S.hparam_grid("momentum", "lr", "momentum", 9, 5)
    lr, mom = get_optimizer("momentum").param("lr"), get_optimizer("momentum").param("momentum")
    assert vx[0] == lr.low and vx[-1] == lr.high
    ratios = vx[1:] / vx[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    np.testing.assert_allclose(vy, np.linspace(mom.low, mom.high, 5), rtol=0, atol=1e-15)


def test_hparam_grid_ranges_are_clipped_to_the_slider_range():
    vx, vy = S.hparam_grid("adam", "beta1", "lr", 4, 3, ranges={"lr": (1e-6, 1e-2), "beta1": (0.5, 2.0)})
    assert vx[0] == 0.5 and vx[-1] == get_optimizer("adam").param("beta1").high
    assert vy[0] == get_optimizer("adam").param("lr").low and vy[-1] == 1e-2


def test_hparam_grid_refuses_non_float_and_equal_axes():
    with pytest.raises(ValueError, match="two different"):
        S.hparam_grid("adam", "lr", "lr", 3, 3)
    with pytest.raises(ValueError, match="not a float"):
        S.hparam_grid("rmsprop", "lr", "centered", 3, 3)
    with pytest.raises(ValueError, match="no hyperparameter"):
        S.hparam_grid("sgd", "lr", "beta1", 3, 3)


def test_sweepable_lists_float_params_including_lookaheads_inner():
    assert S.sweepable("sgd") == ("lr", "weight_decay")
    assert "centered" not in S.sweepable("rmsprop")
    names = S.sweepable("lookahead")
    assert "slow_alpha" in names and "beta1" in names and "k" not in names


@pytest.mark.parametrize("batch,steps", [(1, 500), (4096, 500), (16384, 300), (262144, 500), (10, 1)])
def test_record_every_for_keeps_records_under_the_budget(batch, steps):
    k = S.record_every_for(batch, steps)
    assert 1 <= k <= max(steps, 1)
    assert batch * rollout._count_records(steps, k) <= S.RECORD_BUDGET or k == steps
    if 1 < k < steps:  # a multiple of the fused chunk, and one chunk finer would not fit
        assert k % S.fused.CHUNK == 0
        if k > S.fused.CHUNK:
            assert batch * rollout._count_records(steps, k - S.fused.CHUNK) > S.RECORD_BUDGET
        else:  # every step would not fit
            assert batch * rollout._count_records(steps, 1) > S.RECORD_BUDGET


def test_lookahead_sweeps_record_at_multiples_of_its_own_chunk():
    # Lookahead's fused chunk is a multiple of its k (k = 3: 24 steps, not 25): records every 25
    # steps would cut every chunk and run it eagerly.
    assert S.chunk_for("lookahead", {"k": 3}) == 24 and S.chunk_for("adam") == S.fused.CHUNK
    m = S.basins("himmelblau", "lookahead", {"k": 3, "inner": "sgd", "lr": 0.01}, n=200, steps=100)
    assert m.record_every > 1 and m.record_every % 24 == 0


# --- 2-D maps equal single runs ------------------------------------------------------------------------

MAP_CASES = [
    ("rosenbrock", "momentum", "lr", "momentum", {"lr": (1e-4, 1e-2)}, 300),
    ("ravine", "adam", "beta1", "lr", {"lr": (1e-3, 1.0)}, 150),
    ("himmelblau", "rmsprop", "lr", "alpha", {"lr": (1e-3, 0.5)}, 200),
]


@pytest.mark.parametrize(
    "surface_key,key,nx_name,ny_name,ranges,steps", MAP_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}x{c[3]}" for c in MAP_CASES]
)
def test_sweep_2d_cells_equal_single_runs(surface_key, key, nx_name, ny_name, ranges, steps):
    surface = get_surface(surface_key)
    vx, vy = S.hparam_grid(key, nx_name, ny_name, 6, 5, ranges)
    res = S.sweep_2d(surface, key, nx_name, ny_name, vx, vy, steps, tol=1e-4, record_every=1)
    assert res.gap.shape == (5, 6) and res.steps_to_tol.shape == (5, 6) and res.diverged.shape == (5, 6)
    assert res.record_every == 1
    for row, col in [(0, 0), (4, 5), (2, 3), (1, 4), (3, 0)]:
        hp = res.hparams_at(row, col)
        assert hp[nx_name] == vx[col] and hp[ny_name] == vy[row]
        traj = single(surface, key, hp, steps)
        assert bool(res.diverged[row, col]) == bool(traj.diverged_at[0] >= 0)
        assert res.diverged_at[row, col] == int(traj.diverged_at[0])
        np.testing.assert_allclose(res.final_loss[row, col], float(traj.final_loss[0]), rtol=RTOL, atol=1e-300)
        np.testing.assert_allclose(res.final_xy[row, col], traj.xy[0, -1].numpy(), rtol=RTOL, atol=1e-14)
        want = int(first_step_below(traj, S.f_star(surface) + 1e-4)[0])
        assert res.steps_to_tol[row, col] == want


def test_sweep_2d_holds_the_base_hyperparameters():
    surface = get_surface("ravine")
    res = S.sweep_2d(surface, "adam", "lr", "beta1", [0.01, 0.1], [0.5, 0.9], 80, base_hparams={"beta2": 0.9})
    traj = single(surface, "adam", {"lr": 0.1, "beta1": 0.5, "beta2": 0.9}, 80)
    np.testing.assert_allclose(res.final_loss[0, 1], float(traj.final_loss[0]), rtol=RTOL)
    assert res.hparams_at(0, 1) == {"beta2": 0.9, "lr": 0.1, "beta1": 0.5}


def test_sweep_2d_marks_divergence_and_never_picks_a_diverged_best():
    res = S.sweep_2d("rosenbrock", "sgd", "lr", "weight_decay", [1e-3, 0.5], [0.0, 0.1], 200)
    assert res.diverged[:, 1].all() and not res.diverged[:, 0].any()
    assert (res.diverged_at[:, 1] >= 0).all()
    row, col = res.best()
    assert col == 0
    assert "diverged at step" in res.outcome(0, 1)


def test_thinned_steps_to_tol_is_read_on_the_recorded_grid():
    surface = get_surface("ravine")
    vx, vy = [0.05, 0.1, 0.3], [0.0, 0.5]
    exact = S.sweep_2d(surface, "momentum", "lr", "momentum", vx, vy, 300, tol=1e-3, record_every=1)
    thin = S.sweep_2d(surface, "momentum", "lr", "momentum", vx, vy, 300, tol=1e-3, record_every=7)
    assert thin.record_every == 7
    np.testing.assert_array_equal(thin.final_loss, exact.final_loss)  # the last step is always recorded
    reached = exact.steps_to_tol >= 0
    assert (thin.steps_to_tol[reached] >= exact.steps_to_tol[reached]).all()
    ok = thin.steps_to_tol[reached]
    assert ((ok % 7 == 0) | (ok == 300)).all()
    # these runs converge monotonically in loss (no overshoot at momentum 0), so the thinned step is
    # the first recorded step at or after the exact one
    mono = (exact.steps_to_tol >= 0) & (np.array(vy)[:, None] == 0.0)
    assert (thin.steps_to_tol[mono] - exact.steps_to_tol[mono] < 7).all()


# --- best cell, lr sweeps, tuning --------------------------------------------------------------------------


def test_best_index_ranks_by_the_stated_objective():
    gap = np.array([1e-3, 1e-20, 1e-14, 5.0, 1e-2])
    reach = np.array([50, 90, 40, -1, 10])
    div = np.array([False, False, False, False, True])
    assert S.best_index(gap, reach, div, "final_loss") == 2  # both below the floor: fewer steps wins
    assert S.best_index(gap, reach, div, "steps_to_tol") == 2  # 40 steps; index 4 (10 steps) diverged
    assert S.best_index(gap, np.array([-1] * 5), div, "steps_to_tol") == 1  # none reached: lowest gap
    assert S.best_index(gap, reach, np.ones(5, bool)) is None
    with pytest.raises(ValueError, match="objective"):
        S.best_index(gap, reach, div, "speed")


def _objective_by_hand(surface, key, lrs, steps, objective, tol):
    """Run every lr on its own and rank them the way the module docstring says."""
    fs = S.f_star(surface)
    scores = []
    for i, lr in enumerate(lrs):
        t = single(surface, key, {"lr": float(lr)}, steps)
        if t.diverged_at[0] >= 0:
            continue
        gap = float(t.final_loss[0]) - fs
        reach = int(first_step_below(t, fs + tol)[0])
        reach = math.inf if reach < 0 else reach
        if objective == "final_loss":
            scores.append(((max(gap, S.LOSS_FLOOR), reach, i), lr))
        else:
            scores.append(((reach, gap, i), lr))
    return min(scores)[1]


@pytest.mark.parametrize("objective", S.OBJECTIVES)
@pytest.mark.parametrize("key", ["sgd", "momentum", "adam"])
def test_tune_lr_picks_the_grids_best(key, objective):
    surface = get_surface("rosenbrock")
    lrs = np.geomspace(1e-4, 1.0, 13)
    tuned = S.tune_lr(surface, key, 200, objective=objective, lrs=lrs, tol=1e-2)
    assert tuned.best_lr() == _objective_by_hand(surface, key, lrs, 200, objective, 1e-2)
    assert tuned.objective == objective


def test_tune_lr_default_grid_is_the_specs_lr_range():
    tuned = S.tune_lr("ravine", "adadelta", 50)
    p = get_optimizer("adadelta").param("lr")
    assert len(tuned.lrs) == S.LR_POINTS and tuned.lrs[0] == p.low and tuned.lrs[-1] == p.high


def test_sweep_lr_runs_each_optimizer_over_its_range_and_matches_single_runs():
    surface = get_surface("ravine")
    res = S.sweep_lr(surface, ["sgd", "newton"], steps=60)
    assert list(res) == ["sgd", "newton"]
    for key, sweep in res.items():
        p = get_optimizer(key).param("lr")
        assert sweep.lrs[0] == p.low and sweep.lrs[-1] == p.high
        i = sweep.best()
        assert i is not None and sweep.best_lr() == sweep.lrs[i]
        t = single(surface, key, {"lr": float(sweep.lrs[i])}, 60)
        np.testing.assert_allclose(sweep.final_loss[i], float(t.final_loss[0]), rtol=RTOL, atol=1e-300)
    shared = S.sweep_lr(surface, ["sgd", "adam"], lrs=[0.3, 0.01, 0.1], steps=30)
    np.testing.assert_array_equal(shared["adam"].lrs, [0.01, 0.1, 0.3])  # sorted ascending


def test_sweep_lr_keeps_other_hyperparameters_per_optimizer():
    surface = get_surface("ravine")
    res = S.sweep_lr(surface, ["momentum"], lrs=[0.1], steps=40, base_hparams={"momentum": {"momentum": 0.5}})
    t = single(surface, "momentum", {"lr": 0.1, "momentum": 0.5}, 40)
    np.testing.assert_allclose(res["momentum"].final_loss[0], float(t.final_loss[0]), rtol=RTOL)


# --- basins --------------------------------------------------------------------------------------------------


def test_basin_starts_are_cell_centres_and_mirror_exactly():
    s = get_surface("two_wells", tilt=0.0)
    xs, ys = S.basin_starts(s, 8)
    np.testing.assert_array_equal(xs, -xs[::-1])
    np.testing.assert_array_equal(ys, -ys[::-1])
    assert xs[0] == pytest.approx(-2 + 0.25) and ys[-1] == pytest.approx(1.5 - 3 / 16)


@pytest.mark.parametrize(
    "surface_key,key,hp",
    [("himmelblau", "sgd", {"lr": 0.005}), ("two_wells", "sgd", {"lr": 0.02}), ("saddle", "adam", {"lr": 0.05})],
)
def test_a_start_next_to_a_minimum_stays_there(surface_key, key, hp):
    s = get_surface(surface_key)
    res = S.basins(s, key, hp, 48, 200)
    gx, gy = np.meshgrid(res.xs, res.ys)
    for j, (mx, my) in enumerate(s.minima):
        d = np.hypot(gx - mx, gy - my)
        near = d <= res.radius / 2
        if not near.any():  # the grid has a start within half a cell of every minimum
            near = d == d.min()
        assert (res.label[near] == j).all(), (j, res.label[near])
        starts_inside = near & (d <= res.radius)
        assert (res.steps_to_converge[starts_inside] == 0).all()


def test_two_wells_basins_split_at_the_hump():
    s = get_surface("two_wells")  # tilt 0.5: the left well is the deeper one (listed first)
    assert s.minima[0][0] < 0 < s.minima[1][0]
    res = S.basins(s, "sgd", {"lr": 0.02}, 32, 400)
    assert (res.label >= 0).all()
    gx = np.broadcast_to(res.xs, res.label.shape)
    assert (res.label[gx < -0.3] == 0).all()
    assert (res.label[gx > 0.3] == 1).all()
    # the boundary is the hump of (x² − 1)² + t x, independent of y for plain gradient descent
    assert (res.label == res.label[0]).all()


@pytest.mark.parametrize("key,hp", [("sgd", {"lr": 0.02}), ("momentum", {"lr": 0.02}), ("adam", {"lr": 0.05})])
def test_symmetric_two_wells_give_a_mirrored_map(key, hp):
    s = get_surface("two_wells", tilt=0.0)
    res = S.basins(s, key, hp, 24, 300)
    swapped = np.where(res.label >= 0, 1 - res.label, res.label)  # mirroring in x swaps the two wells
    np.testing.assert_array_equal(res.label[:, ::-1], swapped)
    np.testing.assert_array_equal(res.steps_to_converge[:, ::-1], res.steps_to_converge)
    np.testing.assert_array_equal(res.label[::-1, :], res.label)  # and y ↦ −y changes nothing


def test_saddle_map_is_symmetric_in_both_axes():
    s = get_surface("saddle")
    res = S.basins(s, "momentum", {"lr": 0.05}, 20, 300)
    swapped = np.where(res.label >= 0, 1 - res.label, res.label)  # y ↦ −y swaps (0, 1) and (0, −1)
    np.testing.assert_array_equal(res.label[::-1, :], swapped)
    np.testing.assert_array_equal(res.label[:, ::-1], res.label)
    top = res.label[np.asarray(res.ys) > 0.2]
    assert (top == 0).all()


def test_himmelblau_map_reaches_all_four_minima_nearby():
    s = get_surface("himmelblau")
    res = S.basins(s, "sgd", {"lr": 0.005}, 40, 300)
    frac = res.fractions()
    assert set(frac) <= {0, 1, 2, 3, -1, -2}
    assert all(frac.get(j, 0) > 0.15 for j in range(4))
    for j, (mx, my) in enumerate(s.minima):  # a 2×2 block of starts around each minimum ends there
        col = np.argsort(np.abs(res.xs - mx))[:2]
        row = np.argsort(np.abs(res.ys - my))[:2]
        assert (res.label[np.ix_(row, col)] == j).all()


def test_basin_labels_equal_single_runs():
    s = get_surface("himmelblau")
    res = S.basins(s, "adam", {"lr": 0.1}, 16, 200, record_every=1)
    for row, col in [(0, 0), (5, 11), (15, 15), (8, 3)]:
        t = single(s, "adam", {"lr": 0.1}, 200, start=(res.xs[col], res.ys[row]))
        end = t.xy[0, -1].numpy()
        np.testing.assert_allclose(res.final_xy[row, col], end, rtol=RTOL, atol=1e-13)
        d = np.hypot(*(np.array(s.minima) - end).T)
        want = int(d.argmin()) if d.min() <= res.radius else -1
        assert res.label[row, col] == want


def test_diverged_runs_are_labelled_minus_two():
    res = S.basins("himmelblau", "sgd", {"lr": 0.5}, 8, 50)
    assert (res.label == S.DIVERGED).all()
    assert (res.steps_to_converge == -1).all()
    assert res.fractions() == {S.DIVERGED: 1.0}


def test_rastrigin_is_labelled_by_the_nearest_lattice_point():
    s = get_surface("rastrigin")
    res = S.basins(s, "sgd", {"lr": 0.001}, 32, 300)
    assert res.kind == "lattice"
    assert tuple(res.attractors[0]) == (0.0, 0.0)  # the global minimum first
    dist = np.hypot(res.attractors[:, 0], res.attractors[:, 1])
    assert (np.diff(dist) >= 0).all()
    gx, gy = np.meshgrid(res.xs, res.ys)
    labelled = res.label >= 0
    assert labelled.mean() > 0.95
    # small steps stay in the dimple they start in: the lattice point nearest to the start
    pts = res.attractors[res.label[labelled]]
    near_start = np.column_stack([np.round(gx[labelled]), np.round(gy[labelled])])
    inner = (np.abs(gx[labelled] - np.round(gx[labelled])) < 0.3) & (
        np.abs(gy[labelled] - np.round(gy[labelled])) < 0.3
    )
    np.testing.assert_array_equal(pts[inner], near_start[inner])


# --- noisy clouds ------------------------------------------------------------------------------------------------


def test_noisy_cloud_runs_are_seeded_single_runs_and_the_median_is_coordinatewise():
    s = get_surface("ravine")
    cloud = S.noisy_cloud(s, "sgd", {"lr": 0.3}, n_runs=6, steps=40, noise=0.7, seed0=11)
    assert cloud.xy.shape == (6, 41, 2) and cloud.median.shape == (41, 2)
    for i in (0, 3, 5):
        t = single(s, "sgd", {"lr": 0.3}, 40, noise=0.7, seed=11 + i)
        np.testing.assert_allclose(cloud.xy[i], t.xy[0].numpy(), rtol=RTOL, atol=1e-14)
    np.testing.assert_array_equal(cloud.median, np.median(cloud.xy, axis=0))
    assert len({tuple(p) for p in cloud.xy[:, -1].tolist()}) == 6  # independent noise per run
    one = S.noisy_cloud(s, "sgd", {"lr": 0.3}, n_runs=1, steps=40, noise=0.7, seed0=11)
    np.testing.assert_array_equal(one.median, one.xy[0])


# --- memory: refused before any work ------------------------------------------------------------------------


@pytest.fixture
def tiny_budget(monkeypatch):
    """A 1 MB budget, and a simulate that fails the test if it is ever reached."""
    monkeypatch.setattr(rollout, "memory_budget", lambda device: 1 << 20)

    def no_work(*a, **k):
        raise AssertionError("simulate was called: the size check must come first")

    monkeypatch.setattr(S, "simulate", no_work)


@pytest.mark.parametrize(
    "call",
    [
        lambda: S.sweep_2d("ravine", "adam", "lr", "beta1", np.geomspace(1e-3, 1, 64), np.linspace(0, 0.99, 64), 500),
        lambda: S.sweep_lr("ravine", ["sgd", "adam"], lrs=np.geomspace(1e-3, 1, 1000), steps=2000),
        lambda: S.tune_lr("ravine", "adam", 2000, lrs=np.geomspace(1e-3, 1, 1000)),
        lambda: S.basins("himmelblau", "adam", {}, 128, 300),
        lambda: S.noisy_cloud("ravine", "sgd", {}, 1000, 1000, 0.5, 0),
        lambda: S.basin_size(256, 500),
    ],
    ids=["sweep_2d", "sweep_lr", "tune_lr", "basins", "noisy_cloud", "basin_size"],
)
def test_sizes_over_the_budget_are_refused_before_any_work(tiny_budget, call):
    with pytest.raises(SimulationTooLarge, match="memory budget"):
        call()


def test_grids_beyond_the_limits_are_refused():
    with pytest.raises(SimulationTooLarge, match="512"):
        S.basins("himmelblau", "sgd", {}, S.MAX_GRID + 1, 10)
    with pytest.raises(SimulationTooLarge, match="runs"):
        S.noisy_cloud("ravine", "sgd", {}, S.MAX_CLOUD + 1, 10)


def test_check_size_message_names_the_sizes():
    with pytest.raises(SimulationTooLarge) as err:
        S.check_size(262144, 20000, 1, budget=1 << 30, what="a test map")
    text = str(err.value)
    assert "a test map" in text and "262,144 runs" in text and "20,000 steps" in text and "GiB" in text
    assert S.check_size(16, 10, budget=1 << 30) > 0


def test_basin_sizes_up_to_512_fit_the_cpu_budget():
    assert S.basin_size(512, 500) < rollout.memory_budget("cpu")


# --- threads -------------------------------------------------------------------------------------------------


def test_cpu_sweeps_run_single_threaded_and_restore_the_setting(monkeypatch):
    monkeypatch.setattr(S, "SWEEP_THREADS", 1)  # the 2-core setting, whatever this machine has
    seen = []
    real = S.simulate

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return real(*a, **k)

    monkeypatch.setattr(S, "simulate", spy)
    before = torch.get_num_threads()
    S.sweep_2d("ravine", "sgd", "lr", "weight_decay", [0.1, 0.2], [0.0], 10)
    S.basins("himmelblau", "sgd", {"lr": 0.005}, 4, 10)
    S.noisy_cloud("ravine", "sgd", {}, 3, 10, 0.1, 0)
    assert seen == [1] * 3
    assert torch.get_num_threads() == before


# --- CUDA (the pages run sweeps there when a GPU is present) ----------------------------------------------


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_sweeps_agree_with_cpu():
    s = get_surface("himmelblau")
    vx, vy = S.hparam_grid("adam", "lr", "beta1", 16, 16, {"lr": (1e-3, 1.0)})
    cpu = S.sweep_2d(s, "adam", "lr", "beta1", vx, vy, 200, device="cpu")
    gpu = S.sweep_2d(s, "adam", "lr", "beta1", vx, vy, 200, device="cuda")
    np.testing.assert_array_equal(cpu.diverged, gpu.diverged)
    np.testing.assert_array_equal(cpu.steps_to_tol, gpu.steps_to_tol)
    assert cpu.best() == gpu.best()
    a = S.basins(s, "adam", {"lr": 0.1}, 64, 200, device="cpu")
    b = S.basins(s, "adam", {"lr": 0.1}, 64, 200, device="cuda")
    np.testing.assert_array_equal(a.label, b.label)
