"""The shipped lecture "Adaptive learning rates" (assets/lectures/adaptive-learning-rates.json): its form,
and every claim its inline scenes' texts make, checked on the scenes' own runs.

Each scene's query is read by scene.config.from_query, as the Playground reads it, and its runs are
engine.lessons.scene_facts's (CPU, float64, the runs the "measured" line reports). A claim's test keeps a
margin that a false claim could not pass. The preset scenes' own claims are tested where the presets are
(tests/test_words.py); here only their place in the lecture is.

Measured on the scenes' runs when this was written (steps to a loss − f* below 1e-3 unless said):
  SGD zig-zags: η = 1.9, 63 steps; y changes sign at every step; |x| shrinks by 1 − η/κ = 0.962 a step.
  Nesterov: η = 0.8, γ = 0.9: momentum 41, Nesterov 16; far-wall swing y = −1.39 vs −0.156; peak loss
    1.07 vs 0.164.
  AdaGrad: SGD 240, AdaGrad 34; AdaGrad's effective lr in x ≥ 12.5× that in y at every step.
  AdaDelta: RMSprop 327, AdaDelta 749 (168 with ε 100× larger); first step 0.00316 per coordinate =
    √(ε/(1 − ρ)); steps until it gets there 0.62–1.34× the first.
  Adam: momentum 23, RMSprop 327, Adam 42; first steps (per coordinate) Adam 0.1 = η, RMSprop 0.1 = 10η;
    furthest x past the minimum: momentum 0.54, Adam 0.13, RMSprop never crosses.
  AMSGrad/AdamW/RAdam (plateau, η = 1, β₂ = 0.99): below, burst: Adam 35, 339; AdamW 34, 318; RAdam 63,
    382; AMSGrad 35, none (below for good from 58). Adam's effective lr 6.27 -> 47.5. RAdam's first five
    steps 0.004 long, Adam's first 1.41.
  Lookahead/Ranger (ravine, η = 1): below Adam 14, Lookahead 16, Ranger 68; for good from 63, 20, 109.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest
import torch

from engine import simulate
from engine.lessons import (
    TOL,
    measured_text,
    radam_first_rectified_step,
    radam_rho,
    scene_facts,
    template_fields,
)
from optimizers import get_optimizer
from optimizers.schedules import make_schedule
from scene.config import effective_hparams, from_query
from scene.lectures import get_lecture, lectures_dir
from scene.presets import find_preset

KEY = "adaptive-learning-rates"
LECTURE = get_lecture(KEY)
NAMES = [s.name for s in LECTURE.scenes]
RAW = json.loads((lectures_dir() / f"{KEY}.json").read_text(encoding="utf-8"))

# The lecture notes' order (the brief: SGD → momentum → Nesterov → AdaGrad → RMSprop → AdaDelta → Adam and its
# bias correction → AMSGrad/AdamW/RAdam → schedules and warm-up → Lookahead/Ranger → Newton). "schedule"
# stands for a scene whose lesson is its learning-rate schedule.
NOTES_ORDER = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "amsgrad",
    "adamw",
    "radam",
    "schedule",
    "lookahead",
    "ranger",
    "newton",
)
# What each scene teaches, in the lecture's order.
TOPICS = (
    ("SGD zig-zags across a ravine", ("sgd",)),
    ("Ravine: SGD vs momentum", ("momentum",)),
    ("Nesterov looks ahead", ("nesterov",)),
    ("AdaGrad scales each coordinate", ("adagrad",)),
    ("Plateau: AdaGrad stalls", ("rmsprop",)),
    ("AdaDelta: no learning rate, ε sets the pace", ("adadelta",)),
    ("Adam: momentum and RMSprop, bias-corrected", ("adam",)),
    ("AMSGrad, AdamW and RAdam: who bursts", ("amsgrad", "adamw", "radam")),
    ("Warm-up delays Adam's burst", ("schedule",)),
    ("Lookahead and Ranger", ("lookahead", "ranger")),
    ("Rosenbrock: Newton vs first order", ("newton",)),
)


def scene(name: str):
    return LECTURE.scenes[NAMES.index(name)]


def config(name: str):
    cfg, warnings = from_query(scene(name).query)
    assert not warnings, warnings
    return cfg


@lru_cache(maxsize=None)
def facts(name: str):
    return scene_facts(config(name))


def steps_to(f, field: str) -> float:
    """A <k>_below / <k>_settle fact as a number (math.inf for "more than N")."""
    value = f[field]
    return math.inf if value.startswith("more than") else int(value)


def burst(f, key: str) -> float:
    """<k>_burst as a number (math.inf for "none within N steps")."""
    value = f[f"{key}_burst"]
    return math.inf if value.startswith("none") else int(value)


def as_float(text: str) -> float:
    """A number as engine.lessons.number writes it ("6.27", "2.2 × 10⁻⁴", "−0.515")."""
    text = text.replace("−", "-")
    if "× 10" in text or text.startswith("10"):
        sup = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
        mantissa, _, power = text.partition("10")
        mantissa = mantissa.replace("×", "").strip() or "1"
        return float(mantissa) * 10.0 ** int(power.translate(sup))
    return float(text)


def step_lengths(traj) -> torch.Tensor:
    xy = traj.xy[0]
    return (xy[1:] - xy[:-1]).norm(dim=1)


def first_step(traj) -> torch.Tensor:
    return traj.xy[0, 1] - traj.xy[0, 0]


def sign_changes(values: torch.Tensor) -> int:
    return int((torch.sign(values[1:]) != torch.sign(values[:-1])).sum())


# ---- the lecture's form -------------------------------------------------------------------------------


def test_the_lecture_loads_with_its_scenes_in_the_notes_order():
    assert LECTURE.key == KEY and LECTURE.title == "Adaptive learning rates"
    assert NAMES == [name for name, _ in TOPICS]
    ranks = []
    for name, topics in TOPICS:
        cfg = config(name)
        for topic in topics:
            if topic == "schedule":
                assert cfg.schedule != "constant", name
            else:
                assert topic in cfg.optimizers, (name, topic, cfg.optimizers)
            ranks.append(NOTES_ORDER.index(topic))
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks), "each topic once, in the notes' order"
    assert set(NOTES_ORDER) == {t for _, topics in TOPICS for t in topics}, "every topic of the notes is taught"


def test_inline_scenes_use_only_what_has_been_taught():
    """A preset may show a method before its scene (the momentum preset runs Adam too); a scene written for
    this lecture uses only optimizers whose topic comes no later than its own."""
    for item, (name, topics) in zip(RAW["scenes"], TOPICS):
        if "preset" in item:
            continue
        last = max(NOTES_ORDER.index(t) for t in topics)
        for key in config(name).optimizers:
            assert key in NOTES_ORDER and NOTES_ORDER.index(key) <= last, (name, key)


def test_preset_scenes_are_the_presets_themselves():
    for item in RAW["scenes"]:
        if "preset" in item:
            preset = find_preset(item["preset"])
            assert preset is not None, item
            s = scene(preset["name"])
            assert (s.query, s.description, s.measured) == (preset["query"], preset["description"], preset["measured"])


@pytest.mark.parametrize("name", NAMES)
def test_each_scene_parses_without_warnings_and_runs_quickly(name):
    cfg, warnings = from_query(scene(name).query)
    assert warnings == []
    assert 1 <= len(cfg.optimizers) <= 4 and cfg.steps <= 1000
    listed = scene(name).query["opt"].split(",") if "opt" in scene(name).query else list(cfg.optimizers)
    assert len(listed) == len(set(listed)) == len(cfg.optimizers), "each optimizer at most once"


@pytest.mark.parametrize("number", range(1, len(NAMES) + 1))
def test_a_lecture_link_opens_the_scenes_own_settings(number):
    """?lecture=KEY&scene=K: the Playground opens scene K's settings, placed in the lecture."""
    cfg, warnings = from_query({"lecture": KEY, "scene": str(number)})
    assert warnings == []
    assert (cfg.lecture, cfg.scene) == (KEY, number)
    assert replace(cfg, lecture="", scene=0) == config(NAMES[number - 1])


@pytest.mark.parametrize("name", NAMES)
def test_descriptions_type_no_numbers(name):
    text = scene(name).description
    assert text and not re.search(r"\d", text), text
    assert "{" not in text and "}" not in text


def test_the_lectures_own_description_types_no_numbers():
    assert LECTURE.description and not re.search(r"\d", LECTURE.description)


@pytest.mark.parametrize("name", NAMES)
def test_every_measured_template_fills_and_types_no_digits_of_its_own(name):
    template = scene(name).measured
    assert template and template_fields(template), "each scene states at least one measured number"
    assert not re.search(r"\d", re.sub(r"\{[^}]*\}", "", template)), template
    text = measured_text(template, config(name))  # a field the scene cannot fill is a KeyError
    assert "{" not in text and "}" not in text and "nan" not in text.lower(), text


# ---- SGD zig-zags across a ravine ---------------------------------------------------------------------

SGD = "SGD zig-zags across a ravine"


def test_sgd_scene_the_gradient_points_almost_straight_across_the_ravine():
    """Says: "At the start the gradient points almost straight across the ravine, not along its floor." The floor is
    the x axis (the ravine is not turned)."""
    f = facts(SGD)
    assert f.cfg.surface == "ravine" and f.surface.values["angle"] == 0.0
    gx, gy = f.run("sgd").grad[0, 0].abs().tolist()
    assert gy > 10 * gx, (gx, gy)


def test_sgd_scene_eta_is_just_below_the_walls_limit():
    """Says: "This η is just below the largest that the steep walls allow ... A larger η would make the zig-zag grow
    instead of dying out": gradient descent on a quadratic is stable for η < 2/λ_max."""
    f = facts(SGD)
    lr = float(f["sgd_lr"])
    lam = float(torch.linalg.eigvalsh(f.surface.hessian(torch.tensor([-3.5, 1.5], dtype=torch.float64))).max())
    assert lr < 2 / lam <= 1.1 * lr
    larger = simulate(f.surface, "sgd", steps=f.cfg.steps, hparams={"lr": 1.06 * lr}, device="cpu")
    y = larger.xy[0, :, 1].abs()
    assert float(y[-1]) > float(y[0]), "with a larger η the zig-zag grows"


def test_sgd_scene_zigzags_every_step_and_creeps_along_the_floor():
    """Says: "Every step overshoots the floor and SGD zig-zags from wall to wall, while along the shallow floor each
    step covers only a small share of the way to the minimum."""
    f = facts(SGD)
    xy = f.run("sgd").xy[0]
    assert sign_changes(xy[:, 1]) == f.cfg.steps, "y changes sign at every step"
    x = xy[:, 0]
    assert bool((x < 0).all()), "it never overshoots along the floor"
    assert float((x[1:] / x[:-1]).min()) > 0.95, "each step covers under 5% of the way along the floor"
    assert steps_to(f, "sgd_below") <= f.cfg.steps, "and it does get there (the measured line)"


def test_a_smaller_eta_calms_the_zigzag_but_slows_the_way_along_the_floor():
    """Says: "A smaller one calms it but makes the way along the floor even slower (next scene)."""
    this, nxt = facts(SGD), facts(NAMES[NAMES.index(SGD) + 1])
    assert float(nxt["sgd_lr"]) < float(this["sgd_lr"])
    assert sign_changes(nxt.run("sgd").xy[0, :, 1]) == 0, "no zig-zag at the smaller η"
    assert steps_to(nxt, "sgd_below") > 2 * steps_to(this, "sgd_below")


# ---- Nesterov looks ahead ----------------------------------------------------------------------------

NESTEROV = "Nesterov looks ahead"


def test_nesterov_scene_same_eta_and_gamma_eta_larger_than_before():
    f = facts(NESTEROV)
    assert f["momentum_lr"] == f["nesterov_lr"] and f["momentum_momentum"] == f["nesterov_momentum"]
    previous = facts(NAMES[NAMES.index(NESTEROV) - 1])
    assert float(f["momentum_lr"]) > float(previous["momentum_lr"]), "η larger than in the previous scene"


def test_nesterov_scene_momentum_swings_far_up_the_opposite_wall_nesterov_much_less():
    """Says: "Momentum swings far up the opposite wall and back; Nesterov's swings are much smaller." The start is
    on the y > 0 wall; the opposite wall is y < 0."""
    f = facts(NESTEROV)
    y0 = float(f.run("momentum").xy[0, 0, 1])
    assert y0 > 0
    far = {key: -float(f.run(key).xy[0, :, 1].min()) for key in ("momentum", "nesterov")}
    assert far["momentum"] > 0.5 * y0, "more than halfway up the opposite wall"
    assert far["nesterov"] < far["momentum"] / 4, far
    assert as_float(f["momentum_peakloss"]) > 4 * as_float(f["nesterov_peakloss"])


def test_nesterov_scene_reaches_the_tolerance_in_fewer_steps():
    f = facts(NESTEROV)
    assert 2 * steps_to(f, "nesterov_below") <= steps_to(f, "momentum_below") <= f.cfg.steps


# ---- AdaGrad scales each coordinate ------------------------------------------------------------------

ADAGRAD = "AdaGrad scales each coordinate"


def test_adagrad_scene_divides_by_the_root_of_the_sum_of_squared_gradients_plus_eps():
    """The rule as the description states it, against the run: effective lr = η/(√(Σ g²) + ε) per coordinate."""
    f = facts(ADAGRAD)
    hp = effective_hparams(f.cfg, "adagrad")
    assert hp["lr_decay"] == 0 and hp["initial_accumulator_value"] == 0 and hp["weight_decay"] == 0
    traj = f.run("adagrad")
    g = traj.grad[0, :-1]
    want = hp["lr"] / (torch.cumsum(g * g, dim=0).sqrt() + hp["eps"])
    torch.testing.assert_close(traj.effective_lr[0], want, rtol=1e-9, atol=0)


def test_adagrad_scene_the_steep_coordinate_gets_the_smaller_effective_learning_rate():
    f = facts(ADAGRAD)
    traj = f.run("adagrad")
    gx, gy = traj.grad[0, 0].abs().tolist()
    assert gy > gx, "y is the steep coordinate"
    eff = traj.effective_lr[0]
    assert bool((eff[:, 0] > 5 * eff[:, 1]).all()), "at every step"


def test_adagrad_scene_first_step_moves_both_coordinates_by_eta_sgds_goes_across():
    f = facts(ADAGRAD)
    lr = float(f["adagrad_lr"])
    assert f["sgd_lr"] == f["adagrad_lr"], "the same η"
    torch.testing.assert_close(first_step(f.run("adagrad")).abs(), torch.full((2,), lr, dtype=torch.float64))
    dx, dy = first_step(f.run("sgd")).abs().tolist()
    assert dy > 10 * dx, "SGD's first step goes almost straight across the ravine"


def test_adagrad_scene_effective_learning_rates_only_shrink():
    eff = facts(ADAGRAD).run("adagrad").effective_lr[0]
    assert bool((eff[1:] <= eff[:-1]).all())
    assert bool((eff[-1] < eff[0]).all())


# ---- AdaDelta -----------------------------------------------------------------------------------------

ADADELTA = "AdaDelta: no learning rate, ε sets the pace"


def test_adadelta_scene_runs_with_torchs_factor_at_one_and_the_first_step_is_set_by_eps_and_rho():
    """Says: "Multiplies by a running root-mean-square of its own past steps instead of a learning rate ... Both
    averages start at zero: its first step has the same length in both coordinates, set by ε and ρ and not by
    the gradient." With both averages at zero, Δ₁ = √ε / √((1 − ρ)g² + ε) · g ≈ √(ε/(1 − ρ)) sign(g)."""
    f = facts(ADADELTA)
    hp = effective_hparams(f.cfg, "adadelta")
    assert hp["lr"] == 1.0 and hp["weight_decay"] == 0, "torch's factor η is left at one: no learning rate"
    traj = f.run("adadelta")
    g = traj.grad[0, 0]
    eps, rho = hp["eps"], hp["rho"]
    torch.testing.assert_close(first_step(traj), -math.sqrt(eps) / ((1 - rho) * g * g + eps).sqrt() * g)
    gx, gy = g.abs().tolist()
    assert gy > 10 * gx, "the two gradients differ by more than tenfold"
    torch.testing.assert_close(
        first_step(traj).abs(), torch.full((2,), math.sqrt(eps / (1 - rho)), dtype=torch.float64), rtol=1e-2, atol=0
    )


def test_adadelta_scene_crawls_at_an_almost_constant_speed():
    """Says: "Its later steps stay about that small. Here it crawls along the ravine at an almost constant speed."""
    f = facts(ADADELTA)
    lengths = step_lengths(f.run("adadelta"))
    arrive = steps_to(f, "adadelta_below")
    assert arrive <= f.cfg.steps
    ratio = lengths[:arrive] / lengths[0]
    assert 0.5 < float(ratio.min()) and float(ratio.max()) < 2, (float(ratio.min()), float(ratio.max()))


def test_adadelta_scene_needs_far_more_steps_than_rmsprop_and_eps_sets_the_pace():
    """Says: "Needs far more steps than RMSprop: without a learning rate, ε sets the pace." The same scene with
    ε a hundred times larger gets there in under half the steps."""
    f = facts(ADADELTA)
    assert 2 * steps_to(f, "rmsprop_below") < steps_to(f, "adadelta_below") <= f.cfg.steps
    hp = effective_hparams(f.cfg, "adadelta")
    faster = scene_facts(replace(f.cfg, hparams={**f.cfg.hparams, "adadelta": {**hp, "eps": 100 * hp["eps"]}}))
    assert 2 * steps_to(faster, "adadelta_below") < steps_to(f, "adadelta_below")


# ---- Adam: momentum and RMSprop, bias-corrected -------------------------------------------------------

ADAM = "Adam: momentum and RMSprop, bias-corrected"


def test_adam_scene_first_step_moves_each_coordinate_by_eta():
    """Says: "With it, Adam's first step moves each coordinate by η, however different the two gradients are."""
    f = facts(ADAM)
    traj = f.run("adam")
    gx, gy = traj.grad[0, 0].abs().tolist()
    assert gy > 10 * gx
    lr = float(f["adam_lr"])
    torch.testing.assert_close(first_step(traj).abs(), torch.full((2,), lr, dtype=torch.float64), rtol=1e-3, atol=0)


def test_adam_scene_uncorrected_rmsprop_takes_a_first_step_far_longer_than_its_eta():
    """RMSprop has no bias correction: v₁ = (1 − α)g², so its first step is η/√(1 − α) per coordinate."""
    f = facts(ADAM)
    hp = effective_hparams(f.cfg, "rmsprop")
    assert hp["momentum"] == 0 and not hp["centered"]
    step = first_step(f.run("rmsprop")).abs()
    assert bool((step > 5 * hp["lr"]).all()), step
    want = torch.full((2,), hp["lr"] / math.sqrt(1 - hp["alpha"]), dtype=torch.float64)
    torch.testing.assert_close(step, want, rtol=1e-3, atol=0)


def test_adam_scene_like_momentum_adam_runs_past_the_minimum_rmsprop_comes_from_one_side():
    """Says: "Like momentum, Adam runs past the minimum along the floor and turns back; RMSprop approaches it from
    one side." The minimum is at x = 0 and the runs start at x < 0."""
    f = facts(ADAM)
    assert f.surface.minima == ((0.0, 0.0),)
    for key in ("momentum", "adam"):
        x = f.run(key).xy[0, :, 0]
        assert float(x[0]) < 0 and float(x.max()) > 0.05, key
        assert float(f.run(key).xy[0, -1].norm()) < 1e-6, f"{key} turns back and ends at the minimum"
    assert float(f.run("rmsprop").xy[0, :, 0].max()) < 0, "RMSprop never crosses x = 0"
    assert steps_to(f, "rmsprop_below") <= f.cfg.steps, "and it does get there"


# ---- AMSGrad, AdamW and RAdam -------------------------------------------------------------------------

BURSTS = "AMSGrad, AdamW and RAdam: who bursts"
RELATIVES = ("adam", "amsgrad", "adamw", "radam")


def test_bursts_scene_same_large_eta_and_short_memory_on_the_plateau():
    f = facts(BURSTS)
    assert f.cfg.surface == "plateau" and f.cfg.optimizers == RELATIVES
    for name in ("lr", "beta2", "beta1", "eps"):
        assert len({effective_hparams(f.cfg, key)[name] for key in RELATIVES}) == 1, name
    assert float(f["adam_lr"]) > get_optimizer("adam").defaults()["lr"], "a large η"
    assert float(f["adam_beta2"]) < get_optimizer("adam").defaults()["beta2"], "a short second-moment memory"


def test_bursts_scene_adam_settles_then_bursts_as_its_effective_lr_grows():
    """Says: "Adam settles in the well, then bursts out again: ... its effective learning rate grows." A burst is a
    climb back above the tolerance after at least 50 steps below it (engine.lessons)."""
    f = facts(BURSTS)
    assert steps_to(f, "adam_below") < burst(f, "adam") <= f.cfg.steps
    assert as_float(f["adam_effatburst"]) > 3 * as_float(f["adam_effatbelow"])
    assert as_float(f["adam_burstmax"]) > 100 * TOL, "the steps after the burst are long, not a jitter"


def test_bursts_scene_amsgrad_settles_and_stays():
    f = facts(BURSTS)
    assert burst(f, "amsgrad") == math.inf
    assert steps_to(f, "amsgrad_settle") < f.cfg.steps / 2
    assert float(f.run("amsgrad").loss[0, -1]) < TOL


def test_bursts_scene_adamw_decays_towards_the_origin_where_the_minimum_is_and_bursts_as_well():
    f = facts(BURSTS)
    assert f.surface.minima == ((0.0, 0.0),)
    assert effective_hparams(f.cfg, "adamw")["weight_decay"] > 0
    assert effective_hparams(f.cfg, "adam")["weight_decay"] == 0
    assert steps_to(f, "adamw_below") < burst(f, "adamw") <= f.cfg.steps


def test_bursts_scene_adamws_decay_bypasses_the_gradient_and_the_second_moment():
    """Says: "It shrinks the point towards the origin ... without going through the gradient, so its
    second-moment average is formed as Adam's is." From the same start, AdamW's first step is Adam's first step
    from the point shrunk by (1 − ηλ), and its effective learning rate is Adam's, to the last bit."""
    f = facts(BURSTS)
    adam, adamw = f.run("adam"), f.run("adamw")
    hp = effective_hparams(f.cfg, "adamw")
    start = adam.xy[0, 0]
    torch.testing.assert_close(adamw.xy[0, 0], start, rtol=0, atol=0)
    assert torch.equal(adamw.effective_lr[0, 0], adam.effective_lr[0, 0])
    torch.testing.assert_close(adamw.xy[0, 1], (1 - hp["lr"] * hp["weight_decay"]) * start + first_step(adam))
    assert float((adamw.xy[0, 1] - adam.xy[0, 1]).norm()) > 1e-3, "the decay does move it"


def test_bursts_scene_radam_starts_with_tiny_plain_momentum_steps_arrives_later_and_bursts_too():
    """Says: "RAdam takes plain momentum steps ... until its estimate of that moment can be trusted: on the flat
    outskirts those first steps are tiny, and it reaches the well later than Adam ... and bursts too." torch's
    RAdam switches to the adaptive step at the first t with ρ_t > 5."""
    f = facts(BURSTS)
    switch = radam_first_rectified_step(float(f["radam_beta2"]), 5.0, inclusive=False)
    assert switch > 2
    radam, adam = step_lengths(f.run("radam")), step_lengths(f.run("adam"))
    assert float(radam[: switch - 1].max()) < 0.01 * float(adam[0]), "tiny, next to Adam's first step"
    assert float(radam[switch - 1 : switch + 4].min()) > 10 * float(radam[: switch - 1].max()), "then it moves"
    assert steps_to(f, "adam_below") < steps_to(f, "radam_below") < burst(f, "radam") <= f.cfg.steps


# ---- Lookahead and Ranger -----------------------------------------------------------------------------

LOOKAHEAD = "Lookahead and Ranger"


def test_lookahead_scene_wraps_the_same_adam_with_the_same_eta():
    f = facts(LOOKAHEAD)
    inner = effective_hparams(f.cfg, "lookahead")
    assert inner["inner"] == "adam"
    assert {k: inner[k] for k in effective_hparams(f.cfg, "adam")} == effective_hparams(f.cfg, "adam")
    assert f["adam_lr"] == f["lookahead_lr"] == f["ranger_lr"]
    assert float(f["adam_lr"]) >= 10 * get_optimizer("adam").defaults()["lr"], "a large η"


def test_lookahead_scene_settles_in_far_fewer_steps_than_adam_which_swings_around_the_minimum():
    """Says: "Lookahead settles at the minimum in far fewer steps than Adam alone, which swings around the minimum
    along the floor for a while." Adam dips below the tolerance early, then swings across x = 0."""
    f = facts(LOOKAHEAD)
    adam_below, adam_settle = steps_to(f, "adam_below"), steps_to(f, "adam_settle")
    assert 2 * steps_to(f, "lookahead_settle") < adam_settle <= f.cfg.steps
    assert adam_settle - adam_below >= 30
    x = f.run("adam").xy[0, adam_below : adam_settle + 1, 0]
    assert sign_changes(x) >= 5, "it swings across the minimum along the floor"


def test_lookahead_scene_rectification_makes_rangers_first_adaptive_steps_short_and_it_arrives_last():
    """Says: "RAdam's rectification makes its first adaptive steps short, and Ranger arrives last here." The factor
    r_t starts far below one; Ranger's steps between its switch and its next synchronisation are short."""
    f = facts(LOOKAHEAD)
    hp = effective_hparams(f.cfg, "ranger")
    beta2 = hp["beta2"]
    switch = radam_first_rectified_step(beta2, 5.0, inclusive=False)
    rho_inf = 2 / (1 - beta2) - 1
    rho = radam_rho(beta2, switch)
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    assert r < 0.1
    # Steps switch+1 … switch+4 (index t−1 is step t): no synchronisation among them.
    steps = np.arange(switch + 1, switch + 5)
    assert not any(t % hp["k"] == 0 for t in steps)
    ranger, adam = step_lengths(f.run("ranger")), step_lengths(f.run("adam"))
    assert float(ranger[steps - 1].max()) < 0.25 * float(adam[steps - 1].min())
    others = max(steps_to(f, "adam_below"), steps_to(f, "lookahead_below"))
    assert 2 * others < steps_to(f, "ranger_below") <= f.cfg.steps


def test_lookahead_scene_jumps_back_every_k_steps():
    """Says: "The fast weights restart from there, so the path jumps back every k steps": at a multiple of k the
    point is φ + α(θ − φ), between the last slow weights φ and the fast weights θ that the inner Adam reached."""
    f = facts(LOOKAHEAD)
    hp = effective_hparams(f.cfg, "lookahead")
    k, alpha = hp["k"], hp["slow_alpha"]
    adam = {name: hp[name] for name in effective_hparams(f.cfg, "adam")}
    xy = f.run("lookahead").xy[0]
    # The first k steps from the start are Adam's own; the k-th lands between the start and Adam's k-th point.
    plain = simulate(f.surface, "adam", steps=k, hparams=adam, schedule=make_schedule("constant"), device="cpu")
    torch.testing.assert_close(xy[:k], plain.xy[0, :k])
    torch.testing.assert_close(xy[k], xy[0] + alpha * (plain.xy[0, k] - xy[0]))
