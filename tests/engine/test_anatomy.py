"""engine.anatomy (the step-by-step page's numbers) and engine.diagnostics' escape/convergence steps.

anatomy() re-runs one optimizer by hand, keeping every intermediate quantity. The checks here tie it
to the engine (same float64 positions as simulate), to the surface (gradient and Hessian at the
probe point), and to each rule's own construction (Nesterov's look-ahead, Newton's −H⁻¹g, Lookahead's
slow weights, AdaBound's band, Adam's bias corrections).
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine import first_step_below, simulate
from engine.anatomy import StepDetail, anatomy, bias_correction_table
from engine.diagnostics import NEVER_NEAR, escape_step, first_step_below_np, saddle_escape_step
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import make_schedule
from surfaces import get_surface

STEPS = 40  # more than Lookahead's k = 5 and Ranger's k = 6 several times over
# (id, surface key, surface params, start): a saddle start off the ridge (Newton does not jump onto
# the saddle at once), Rosenbrock's own start (some defaults diverge there), a rotated ravine (a
# Hessian with off-diagonal terms).
CASES = {
    "saddle": ("saddle", {}, (-1.0, 0.5)),
    "rosenbrock": ("rosenbrock", {}, None),
    "ravine30": ("ravine", {"condition": 20.0, "angle": 30.0}, (-3.0, 2.0)),
}
ALL = [(case, key) for case in CASES for key in available_optimizers()]
ALL_IDS = [f"{case}-{key}" for case, key in ALL]
ADAM_FAMILY = ("adam", "amsgrad", "adamw", "nadam", "radam", "adabound", "adamax", "ranger", "lookahead")


def surface_of(case):
    key, params, _ = CASES[case]
    return get_surface(key, **params)


def lesson_hp(surface, key):
    return dict(surface.lesson_hparams.get(key, {}))


@functools.lru_cache(maxsize=None)
def computed(case: str, key: str, hp_items: tuple = (), steps: int = STEPS):
    """(surface, hparams, start, details, trajectory) for one optimizer on one case, cached."""
    surface = surface_of(case)
    hp = {**lesson_hp(surface, key), **dict(hp_items)}
    start = CASES[case][2] or surface.start
    details = anatomy(surface, key, start=start, steps=steps, hparams=hp)
    traj = simulate(surface, key, start=start, steps=steps, hparams=hp, device="cpu")
    return surface, hp, start, details, traj


def valid_updates(details, traj):
    """Indices t whose new position simulate recorded as is (not held after a divergence)."""
    d_at = int(traj.diverged_at[0])
    return [t for t in range(len(details)) if d_at < 0 or t + 1 < d_at]


def xy_at(traj, i):
    return (float(traj.xy[0, i, 0]), float(traj.xy[0, i, 1]))


def flatten_state(state, prefix="") -> dict:
    """A rule's state as anatomy's state dicts should show it: {name: (x, y) or float}, nested
    states under 'outer.inner' names. Written independently of engine.anatomy._fields."""
    out = {}
    for name in getattr(state, "_fields", ()):
        value = getattr(state, name)
        if hasattr(value, "_fields"):
            out.update(flatten_state(value, f"{prefix}{name}."))
        elif isinstance(value, torch.Tensor):
            flat = value.reshape(-1).tolist()
            out[prefix + name] = (flat[0], flat[1]) if len(flat) > 1 else flat[0]
        else:
            out[prefix + name] = float(value)
    return out


def finite(pair) -> bool:
    return all(math.isfinite(v) for v in pair)


# ---- anatomy vs the engine ----------------------------------------------------------------------


@pytest.mark.parametrize("case,key", ALL, ids=ALL_IDS)
def test_positions_form_a_chain_from_the_start(case, key):
    _, _, start, details, _ = computed(case, key)
    assert details, "no update computed"
    assert all(isinstance(d, StepDetail) for d in details)
    assert [d.step for d in details] == list(range(1, len(details) + 1))
    assert details[0].position == (float(start[0]), float(start[1]))
    for prev, d in zip(details, details[1:]):
        assert d.position == prev.new_position, f"update {d.step} does not start where update {prev.step} ended"
    for prev, d in zip(details, details[1:]):
        assert d.state_before == prev.state_after, f"update {d.step}'s state_before is not the last state_after"


@pytest.mark.parametrize("case,key", ALL, ids=ALL_IDS)
def test_new_positions_equal_simulate_bit_for_bit(case, key):
    _, _, _, details, traj = computed(case, key)
    if int(traj.diverged_at[0]) < 0:
        assert len(details) == STEPS
    valid = valid_updates(details, traj)
    assert valid, "simulate diverged at once: pick another case"
    for t in valid:
        d = details[t]
        assert d.position == xy_at(traj, t)
        assert d.new_position == xy_at(traj, t + 1), f"update {d.step}"
        # the gradient simulate recorded is the one the update used (at the probe point)
        assert d.grad == (float(traj.grad[0, t, 0]), float(traj.grad[0, t, 1]))
        assert d.lr == pytest.approx(float(traj.lr[0, t]), rel=1e-15)
        assert d.loss == pytest.approx(float(traj.loss[0, t]), rel=1e-14, abs=1e-300)
        if d.effective_lr is not None:
            assert d.effective_lr == pytest.approx(tuple(traj.effective_lr[0, t].tolist()), rel=1e-14)


def _scheduled(key, sched_key, params, steps=STEPS):
    surface = get_surface("rosenbrock")
    hp = lesson_hp(surface, key)
    details = anatomy(surface, key, steps=steps, hparams=hp, schedule=make_schedule(sched_key, **params))
    traj = simulate(surface, key, steps=steps, hparams=hp, schedule=make_schedule(sched_key, **params), device="cpu")
    return details, traj


@pytest.mark.parametrize(
    "schedule",
    [
        ("cosine", {"T_max": 20}),
        ("plateau", {"patience": 2, "factor": 0.5}),
        ("warmup", {"warmup_steps": 10, "inner": "exponential"}),
    ],
    ids=lambda s: s[0],
)
@pytest.mark.parametrize("key", ["momentum", "adam", "adabound", "rprop"])
def test_scheduled_positions_equal_simulate(key, schedule):
    sched_key, params = schedule
    details, traj = _scheduled(key, sched_key, params)
    assert int(traj.diverged_at[0]) < 0
    got, want = [d.new_position for d in details], [xy_at(traj, t + 1) for t in range(STEPS)]
    assert got == want
    assert [d.lr for d in details] == pytest.approx(traj.lr[0].tolist(), rel=1e-15)
    if key == "adabound":  # the band follows the schedule and still holds the step sizes
        for d in details:
            lo, hi = d.extras["band"]
            for eta in d.state_after["eta"]:
                assert lo * (1 - 1e-12) <= eta <= hi * (1 + 1e-12)


def test_plateau_scheduled_positions_equal_simulate_bit_for_bit():
    """Regression: simulate once passed the plateau's (1,)-tensor lr to the rule, whose unfused branch
    differed from anatomy (and torch.optim + ReduceLROnPlateau) in the last bit from update 5 on."""
    details, traj = _scheduled("momentum", "plateau", {"patience": 2, "factor": 0.5})
    assert [d.new_position for d in details] == [xy_at(traj, t + 1) for t in range(STEPS)]


def test_adabound_band_after_a_warm_up_closes_on_final_lr():
    """Regression: AdaBound once took the lr of update 1 as η₀; under a warm-up (start factor 0.01) its
    band then closed on 100·final_lr: (9.76, 10.25) at update 400 instead of (0.0976, 0.1025)."""
    hp = {"lr": 0.05, "gamma": 0.1, "final_lr": 0.1}
    warm = anatomy("ravine", "adabound", steps=400, hparams=hp, schedule=make_schedule("warmup", warmup_steps=10))
    plain = anatomy("ravine", "adabound", steps=400, hparams=hp)
    assert warm[-1].lr == plain[-1].lr == 0.05  # the warm-up is long over
    assert warm[-1].extras["band"] == pytest.approx(plain[-1].extras["band"], rel=1e-12)


@pytest.mark.parametrize("case,key", ALL, ids=ALL_IDS)
def test_gradient_is_the_surface_gradient_at_the_probe(case, key):
    surface, hp, _, details, _ = computed(case, key)
    for d in details:
        if not finite(d.probe):
            continue
        want = surface.grad(torch.tensor(d.probe, dtype=torch.float64)).tolist()
        assert d.grad == pytest.approx(tuple(want), rel=1e-15, abs=0), f"update {d.step}"
        if get_optimizer(key).rule(hp).probe is None:  # Nesterov's look-ahead, Schedule-Free's y
            assert d.probe == d.position, "only a rule with a probe takes its gradient away from w"
        assert d.extras["gradient_step"] == pytest.approx((-d.lr * d.grad[0], -d.lr * d.grad[1]), rel=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_nesterov_probes_at_w_plus_gamma_u(case):
    _, hp, _, details, _ = computed(case, "nesterov")
    gamma = get_optimizer("nesterov").resolve(hp)["momentum"]
    for d in details[1:]:
        u = d.state_before["buf"]
        assert d.probe == pytest.approx((d.position[0] + gamma * u[0], d.position[1] + gamma * u[1]), rel=1e-15)
        assert d.probe != d.position
        assert d.sentences[0].startswith("Look-ahead")
        # w moves by the new velocity u = γu − ηg
        new_u = d.state_after["buf"]
        assert new_u == pytest.approx((gamma * u[0] - d.lr * d.grad[0], gamma * u[1] - d.lr * d.grad[1]), rel=1e-12)
        assert d.step_vector == pytest.approx(new_u, rel=1e-9, abs=1e-15)


def test_lookahead_over_nesterov_probes_at_the_inner_look_ahead_point():
    surface = get_surface("saddle")
    details = anatomy(
        surface, "lookahead", start=(-1.0, 0.5), steps=12, hparams={"inner": "nesterov", "k": 3, "lr": 0.05}
    )
    gamma = get_optimizer("nesterov").defaults()["momentum"]
    for d in details[1:]:
        u = d.state_before["inner.buf"]
        assert d.probe == pytest.approx((d.position[0] + gamma * u[0], d.position[1] + gamma * u[1]), rel=1e-15)
    assert [d.extras["synced"] for d in details] == [t % 3 == 0 for t in range(1, 13)]


@pytest.mark.parametrize("case", CASES)
def test_newton_step_is_minus_h_inverse_g(case):
    surface, hp, _, details, _ = computed(case, "newton")
    for d in details:
        if not finite(d.probe) or not finite(d.grad):
            continue
        H = surface.hessian(torch.tensor(d.probe, dtype=torch.float64))
        g = torch.tensor(d.grad, dtype=torch.float64)
        if abs(float(torch.linalg.det(H))) < 1e-12:
            continue
        lam = get_optimizer("newton").resolve(hp)["damping"]
        Hd = H + lam * torch.eye(2, dtype=torch.float64)
        if abs(float(torch.linalg.det(Hd))) < 1e-12:
            continue
        want = (-torch.linalg.solve(Hd, g)).tolist()  # the step the rule solves for: (H + λI) d = −g
        assert d.extras["newton_step"] == pytest.approx(tuple(want), rel=1e-9, abs=1e-14), f"update {d.step}"
        h = d.extras["hessian"]
        assert [h[0][0], h[0][1], h[1][0], h[1][1]] == pytest.approx(H.reshape(-1).tolist(), rel=1e-15)
        assert sorted(d.extras["hessian_eigenvalues"]) == pytest.approx(
            torch.linalg.eigvalsh(H).tolist(), rel=1e-9, abs=1e-12
        )
        # the step taken is η times that Newton step
        lr = get_optimizer("newton").resolve(hp)["lr"]
        assert d.step_vector == pytest.approx((lr * want[0], lr * want[1]), rel=1e-9, abs=1e-12)
    assert any("Hessian" in s for s in details[0].sentences)


def test_damped_newton_steps_by_minus_eta_h_plus_lambda_inverse_g():
    surface = surface_of("ravine30")
    lr, lam = 0.7, 0.5
    details = anatomy(surface, "newton", start=(-3.0, 2.0), steps=5, hparams={"lr": lr, "damping": lam})
    for d in details:
        H = surface.hessian(torch.tensor(d.probe, dtype=torch.float64))
        g = torch.tensor(d.grad, dtype=torch.float64)
        taken = (-lr * torch.linalg.solve(H + lam * torch.eye(2, dtype=torch.float64), g)).tolist()
        assert d.step_vector == pytest.approx(tuple(taken), rel=1e-9, abs=1e-14)
        # the extra is the damped Newton step −(H + λI)⁻¹g, the one the update scales by η
        assert d.extras["newton_step"] == pytest.approx(tuple(t / lr for t in taken), rel=1e-9)
        assert d.extras["damped"] and any("(H + λI)" in s for s in d.sentences)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("key", ["lookahead", "ranger"])
def test_lookahead_syncs_exactly_at_multiples_of_k(case, key):
    _, hp, start, details, _ = computed(case, key)
    k = get_optimizer(key).resolve(hp)["k"]
    assert len(details) >= 2 * k
    slow = (float(start[0]), float(start[1]))
    for d in details:
        assert d.extras["synced"] is (d.step % k == 0), f"update {d.step}, k = {k}"
        assert d.state_before["slow"] == slow
        if d.extras["synced"]:
            assert d.new_position == d.extras["slow"] == d.state_after["slow"], f"update {d.step}"
            assert any(f"multiple of k = {k}" in s for s in d.sentences)
            slow = d.state_after["slow"]
        else:
            assert d.state_after["slow"] == slow == d.extras["slow"]
            assert any(f"Fast step {d.step % k} of {k}" in s for s in d.sentences)


@pytest.mark.parametrize("case", CASES)
def test_adabound_band_contains_the_clipped_step_sizes(case):
    _, hp, _, details, _ = computed(case, "adabound")
    spec_hp = get_optimizer("adabound").resolve(hp)
    for d in details:
        lo, hi = d.extras["band"]
        t = d.step
        final = spec_hp["final_lr"]  # constant lr: η* = final_lr
        assert (lo, hi) == pytest.approx(
            (final * (1 - 1 / (spec_hp["gamma"] * t + 1)), final * (1 + 1 / (spec_hp["gamma"] * t))), rel=1e-12
        )
        assert lo < hi
        for eta in d.state_after["eta"]:
            assert lo * (1 - 1e-12) <= eta <= hi * (1 + 1e-12), f"update {t}: η̂ = {eta} outside [{lo}, {hi}]"
        assert d.effective_lr == d.state_after["eta"]


def test_adabound_band_clips_when_it_has_narrowed():
    """With a fast band (γ = 0.1) the band is narrow after a few steps: the step sizes sit on its edges."""
    details = anatomy(
        get_surface("saddle"),
        "adabound",
        start=(-1.0, 0.5),
        steps=40,
        hparams={"lr": 0.05, "gamma": 0.1, "final_lr": 0.1},
    )
    clipped = 0
    for d in details:
        lo, hi = d.extras["band"]
        for eta in d.state_after["eta"]:
            assert lo * (1 - 1e-12) <= eta <= hi * (1 + 1e-12)
            clipped += math.isclose(eta, lo, rel_tol=1e-12) or math.isclose(eta, hi, rel_tol=1e-12)
    assert clipped > 0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("key", ADAM_FAMILY)
def test_bias_corrections_are_one_minus_beta_to_the_t(case, key):
    _, hp, _, details, _ = computed(case, key)
    resolved = get_optimizer(key).resolve(hp)
    b1, b2 = resolved["beta1"], resolved["beta2"]
    for d in details:
        assert d.extras["bias_correction1"] == pytest.approx(1 - b1**d.step, rel=1e-15)
        assert d.extras["bias_correction2"] == pytest.approx(1 - b2**d.step, rel=1e-15)


@pytest.mark.parametrize("case,key", ALL, ids=ALL_IDS)
def test_every_update_has_sentences(case, key):
    _, _, _, details, _ = computed(case, key)
    for d in details:
        assert len(d.sentences) >= 2, (d.step, d.sentences)
        assert all(isinstance(s, str) and s.strip() for s in d.sentences)


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.9])
@pytest.mark.parametrize("key", ["adam", "amsgrad", "adamw", "nadam", "radam", "adabound", "ranger", "lookahead"])
def test_v_hat_sentences_carry_the_correction_factor(key, beta2):
    details = anatomy(get_surface("saddle"), key, start=(-1.0, 0.5), steps=25, hparams={"beta2": beta2})
    mentioned = 0
    uses_v = [d for d in details if d.extras.get("rho_t", 6.0) > 5]  # RAdam/Ranger before ρ_t > 5 ignore v
    for d in details:
        factor = f"{1 / (1 - beta2**d.step):.3g}"
        for s in d.sentences:
            if "v̂" in s:
                mentioned += 1
                assert factor in s, f"update {d.step}: {s!r} lacks 1/(1 − β₂ᵗ) = {factor}"
    assert mentioned >= len(uses_v)


def test_adam_sentences_spell_out_the_numbers():
    b1, b2, lr = 0.8, 0.99, 0.05
    details = anatomy(
        get_surface("saddle"), "adam", start=(-1.0, 0.5), steps=5, hparams={"lr": lr, "beta1": b1, "beta2": b2}
    )
    d = details[2]
    text = " ".join(d.sentences)
    assert f"×{b1:.3g}" in text
    assert f"m × {1 / (1 - b1**3):.3g}" in text and f"v × {1 / (1 - b2**3):.3g}" in text
    assert f"({d.step_vector[0]:.3g}, {d.step_vector[1]:.3g})" in text


@pytest.mark.parametrize("case,key", ALL, ids=ALL_IDS)
def test_state_after_matches_the_rules_state(case, key):
    """Re-run the rule itself (init/probe/update) and compare every state field with anatomy's."""
    surface, hp, start, details, _ = computed(case, key)
    spec = get_optimizer(key)
    rule = spec.build(spec.resolve(hp))
    params = torch.tensor([[float(start[0])], [float(start[1])]], dtype=torch.float64)
    state = rule.init(params)
    assert details[0].state_before == flatten_state(state)
    with torch.no_grad():
        for d in details:
            at = rule.probe(params, state) if rule.probe is not None else params
            g = torch.stack(surface.grad_xy(at[0], at[1]))
            extra = {}
            if rule.needs_hessian:
                hxx, hxy, hyy = surface.hess_xy(at[0], at[1])
                extra["hess"] = ((hxx, hxy), (hxy, hyy))
            params, state = rule.update(g, state, params, d.lr, rule.per_step(d.lr, d.step), **extra)
            want = flatten_state(state)
            assert set(d.state_after) == set(want)
            for name, value in want.items():
                got = d.state_after[name]
                if isinstance(value, tuple):
                    assert got == pytest.approx(value, rel=0, abs=0, nan_ok=True), f"update {d.step}: {name}"
                else:
                    assert got == value or (math.isnan(got) and math.isnan(value)), f"update {d.step}: {name}"


def test_anatomy_stops_without_raising_when_the_run_goes_non_finite():
    details = anatomy(get_surface("rosenbrock"), "sgd", steps=200, hparams={"lr": 1.0})
    assert 1 <= len(details) < 200
    assert not finite(details[-1].new_position)
    assert all(finite(d.new_position) for d in details[:-1])
    assert all(len(d.sentences) >= 2 for d in details)


@pytest.mark.parametrize("steps", [0, 2001, -3])
def test_anatomy_refuses_step_counts_out_of_range(steps):
    with pytest.raises(ValueError, match="steps"):
        anatomy("saddle", "adam", steps=steps)


def test_anatomy_refuses_unknown_names():
    with pytest.raises(ValueError, match="valid"):
        anatomy("saddle", "adam", steps=3, hparams={"lr": 0.1, "momentum": 0.9})
    with pytest.raises(ValueError, match="valid"):
        anatomy("saddle", "nonesuch", steps=3)


# ---- Adam's bias correction table ---------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99, 0.999])
@pytest.mark.parametrize("n", [1, 10, 30])
def test_bias_correction_table_matches_the_derivation(beta, n):
    rows = bias_correction_table(beta, n)
    assert [r["t"] for r in rows] == list(range(1, n + 1))
    for r in rows:
        t = r["t"]
        assert r["(1−β)Σβ^(t−i)"] == pytest.approx(r["1 − βᵗ"], abs=1e-12)
        assert r["1 − βᵗ"] == pytest.approx(1 - beta**t, rel=1e-15)
        assert r["correction 1/(1 − βᵗ)"] == pytest.approx(1 / (1 - beta**t), rel=1e-15)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.999])
def test_an_ema_of_a_constant_gradient_is_biased_by_exactly_one_minus_beta_to_the_t(beta):
    """What the table claims: s_t = βs + (1 − β)g from s_0 = 0 gives (1 − βᵗ)g, and the correction undoes it."""
    g, s = 2.5, 0.0
    for r in bias_correction_table(beta, 20):
        s = beta * s + (1 - beta) * g
        assert s == pytest.approx(r["1 − βᵗ"] * g, rel=1e-12)
        assert s * r["correction 1/(1 − βᵗ)"] == pytest.approx(g, rel=1e-12)


# ---- diagnostics: saddle escape -----------------------------------------------------------------


def path(*points):
    xy = np.array(points, dtype=np.float64)
    return xy, np.arange(len(xy))


@pytest.mark.parametrize(
    "points,expected",
    [
        pytest.param([(0.1, 0.0), (0.2, 0.1), (0.6, 0.0), (0.9, 0.0)], 2, id="start-inside-then-leave"),
        pytest.param([(1.0, 0.0), (0.8, 0.0), (0.3, 0.0), (0.1, 0.1), (0.0, 0.7)], 4, id="come-near-then-leave"),
        pytest.param([(0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.0, 0.4)], -1, id="never-leaves"),
        pytest.param([(1.0, 1.0), (0.9, 0.9), (0.8, 0.8)], NEVER_NEAR, id="never-near"),
        pytest.param([(0.5, 0.0), (0.5000001, 0.0)], 1, id="on-the-circle-counts-as-within"),
        pytest.param([(0.0, 0.0)], -1, id="a-single-point-at-the-saddle"),
    ],
)
def test_saddle_escape_step_on_hand_made_paths(points, expected):
    xy, steps = path(*points)
    assert saddle_escape_step(xy, steps, (0.0, 0.0), 0.5) == expected


def test_saddle_escape_step_uses_the_recorded_step_numbers_and_the_point():
    xy = np.array([(2.1, 1.0), (2.0, 1.05), (2.0, 1.0), (3.0, 1.0)])
    steps = np.array([0, 7, 14, 20])
    assert saddle_escape_step(xy, steps, (2.0, 1.0), 0.2) == 20


def test_saddle_escape_step_after_a_divergence():
    # near the saddle, then diverged at step 3: the held points stay inside, the escape is the divergence
    xy, steps = path((0.1, 0.0), (0.2, 0.0), (0.3, 0.0), (0.3, 0.0), (0.3, 0.0))
    assert saddle_escape_step(xy, steps, (0.0, 0.0), 0.5, diverged_at=3) == 3
    # a genuine escape before the divergence counts, not the divergence
    xy, steps = path((0.1, 0.0), (0.9, 0.0), (5.0, 0.0), (5.0, 0.0))
    assert saddle_escape_step(xy, steps, (0.0, 0.0), 0.5, diverged_at=2) == 1
    # points after the divergence are held values, not visits: never near
    xy, steps = path((2.0, 0.0), (1.5, 0.0), (0.1, 0.0), (0.1, 0.0))
    assert saddle_escape_step(xy, steps, (0.0, 0.0), 0.5, diverged_at=2) == NEVER_NEAR


SADDLE_START = (-0.1, 0.001)


def saddle_run(key, steps=300):
    s = get_surface("saddle")
    return simulate(s, key, start=SADDLE_START, steps=steps, hparams=lesson_hp(s, key), device="cpu")


def escape_of(traj, radius=0.5):
    return saddle_escape_step(traj.xy[0].numpy(), traj.steps.numpy(), (0.0, 0.0), radius, int(traj.diverged_at[0]))


def test_sgd_escapes_the_saddle_later_than_adam():
    sgd, adam = escape_of(saddle_run("sgd")), escape_of(saddle_run("adam"))
    assert 0 < adam < sgd, (adam, sgd)


@pytest.mark.parametrize("key", get_surface("saddle").lesson_optimizers)
def test_saddle_escape_agrees_with_the_engine_for_a_start_inside(key):
    traj = saddle_run(key)
    for radius in (0.2, 0.5, 0.9):
        assert escape_of(traj, radius) == int(escape_step(traj, (0.0, 0.0), radius)[0])


def test_saddle_start_outside_the_ball_is_never_near_when_the_run_avoids_it():
    traj = simulate("saddle", "sgd", start=(-1.8, 1.0), steps=100, device="cpu")  # in the valley already
    assert escape_of(traj, 0.5) == NEVER_NEAR


# ---- diagnostics: convergence step --------------------------------------------------------------

CONVERGING = [
    ("ravine", "sgd", {"lr": 0.5}, 1),
    ("ravine", "momentum", {"lr": 0.5}, 1),
    ("ravine", "adam", {"lr": 0.1}, 1),
    ("ravine", "sgd", {"lr": 0.5}, 7),
    ("ravine", "momentum", {"lr": 0.5}, 4),
    ("himmelblau", "adam", {"lr": 0.05}, 1),
    ("himmelblau", "momentum", {"lr": 0.002}, 3),
    ("ravine", "sgd", {"lr": 2.2}, 1),  # diverges
]


@pytest.mark.parametrize(
    "surface,key,hp,every", CONVERGING, ids=[f"{s}-{k}-{hp['lr']}-every{e}" for s, k, hp, e in CONVERGING]
)
def test_first_step_below_np_agrees_with_the_engine(surface, key, hp, every):
    traj = simulate(surface, key, steps=400, hparams=hp, device="cpu", record_every=every)
    loss, steps, d_at = traj.loss[0].numpy(), traj.steps.numpy(), int(traj.diverged_at[0])
    for tol in (10.0, 1.0, 1e-1, 1e-3, 1e-6, 1e-12):
        assert first_step_below_np(loss, steps, tol, d_at) == int(first_step_below(traj, tol)[0]), tol


def test_first_step_below_agree_on_a_run_that_converges_and_then_diverges():
    loss = torch.tensor([[5.0, 1.0, 1e-4, 1e-5, 1e-5, 1e-5]], dtype=torch.float64)
    steps = torch.arange(6) * 10
    for d_at, want in ((-1, 20), (30, 20), (20, -1), (10, -1)):
        traj = SimpleNamespace(loss=loss, steps=steps, diverged_at=torch.tensor([d_at]))
        assert int(first_step_below(traj, 1e-3)[0]) == want
        assert first_step_below_np(loss[0].numpy(), steps.numpy(), 1e-3, d_at) == want


def test_the_ravine_lesson_numbers():
    """The scene's description: at η = 0.5 on κ = 50, SGD needs ~240 steps to a loss of 1e-3, momentum ~25."""
    got = {}
    for key in ("sgd", "momentum"):
        traj = simulate("ravine", key, steps=300, hparams={"lr": 0.5}, device="cpu")
        got[key] = first_step_below_np(traj.loss[0].numpy(), traj.steps.numpy(), 1e-3, int(traj.diverged_at[0]))
    assert 200 <= got["sgd"] <= 280 and 15 <= got["momentum"] <= 35, got
