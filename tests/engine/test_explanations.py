"""Every word of the step-by-step page is checked against the engine (issue: every word is true).

For every optimizer (and every inner optimizer of Lookahead) under several settings (dampening,
weight decay, damping, η ≠ 1, centered, momentum), over steps 1, 2, sync steps and sign flips:
- each vector a sentence prints is recorded under a name and equals the quantity the rule
  computed: "state.<f>" the new state's field f, "step" the real move, "g" the gradient, "g_eff"
  g + λw computed here, "probe" where the gradient was taken, "jump" Lookahead's sync jump;
- the printed text of each recorded vector appears in a sentence;
- the sub-steps add up to the real move (Lookahead: the fast step, then the jump back to φ).
"""

from __future__ import annotations

import math

import pytest

from engine.anatomy import anatomy
from optimizers import available_optimizers, get_optimizer
from optimizers.explain import fmt
from optimizers import INNER_CHOICES
from surfaces import get_surface

# Settings that change what a sentence must say: (surface, hyperparameters, start or None).
SETTINGS = {
    "sgd": [{}, {"weight_decay": 0.1, "lr": 0.02}],
    "momentum": [{}, {"dampening": 0.3}, {"weight_decay": 0.2, "dampening": 0.5}],
    "nesterov": [{}],
    "adagrad": [{}, {"lr_decay": 0.05, "weight_decay": 0.1}],
    "rmsprop": [{}, {"centered": True, "momentum": 0.5, "weight_decay": 0.05}],
    "adadelta": [{}, {"lr": 2.0}],
    "adam": [{}, {"weight_decay": 0.1}],
    "amsgrad": [{}],
    "adamw": [{}, {"weight_decay": 0.3}],
    "nadam": [{}],
    "adamax": [{}, {"weight_decay": 0.1}],
    "radam": [{}],
    "rprop": [{"lr": 0.5}],  # large first steps on the ravine: signs flip
    "adabound": [{}, {"final_lr": 0.01, "gamma": 0.1}],
    "lion": [{}, {"weight_decay": 0.5, "lr": 0.05}],
    "newton": [{"lr": 0.5}, {"damping": 3.0}],
    "diag_newton": [{"lr": 0.7}],
    "ranger": [{}],
}
SURFACES = [("ravine", None), ("saddle", (0.5, 0.05)), ("himmelblau", (0.0, 0.0))]


def cases():
    out = []
    for key in available_optimizers():
        if key == "lookahead":
            for inner in INNER_CHOICES:
                for hp in SETTINGS.get(inner, [{}]):
                    out.append((key, {"inner": inner, "k": 3, **hp}))
        else:
            for hp in SETTINGS.get(key, [{}]):
                out.append((key, hp))
    return out


CASES = [(s, start, key, hp) for s, start in SURFACES for key, hp in cases()]
IDS = [f"{s}-{key}-{'-'.join(f'{k}={v}' for k, v in hp.items()) or 'defaults'}" for s, _, key, hp in CASES]


def _close(a, b, rel=1e-12):
    return all(x == y or abs(x - y) <= rel * max(abs(x), abs(y), 1e-300) for x, y in zip(a, b))


@pytest.mark.parametrize("surface_key,start,key,hp", CASES, ids=IDS)
def test_every_printed_vector_is_the_engines_and_the_sub_steps_add_up(surface_key, start, key, hp):
    surface = get_surface(surface_key)
    details = anatomy(surface, key, start=start, steps=7, hparams=hp)
    resolved = get_optimizer(key).resolve(hp)
    for d in details:
        if not all(math.isfinite(v) for v in d.new_position):
            break
        ex = d.explanation
        text = " ".join(ex.sentences)
        assert ex.moves, "an explanation always has its sub-steps"
        total = (sum(m[0] for _, m in ex.moves), sum(m[1] for _, m in ex.moves))
        assert _close(total, d.step_vector, 1e-9) or max(abs(a - b) for a, b in zip(total, d.step_vector)) < 1e-15
        for name, value in ex.shown.items():
            assert fmt(value) in text, f"update {d.step}: {name} = {fmt(value)} is not in the sentences"
            if name.startswith("state."):
                field = name.removeprefix("state.")
                want = d.state_after.get(field, d.state_after.get(f"inner.{field}"))
                assert want is not None, f"{name} is not a state field"
                assert _close(value, want if isinstance(want, tuple) else (want, want)), f"update {d.step}: {name}"
            elif name == "step":
                # The inner optimizer's step inside Lookahead is the fast step (the first sub-step).
                assert _close(value, ex.moves[0][1]), f"update {d.step}: step"
            elif name == "g":
                assert value == d.grad
            elif name == "probe":
                assert value == d.probe
            elif name == "g_eff":
                wd = resolved["weight_decay"]
                assert _close(value, (d.grad[0] + wd * d.position[0], d.grad[1] + wd * d.position[1]))
            elif name == "jump":
                fast = (d.position[0] + ex.moves[0][1][0], d.position[1] + ex.moves[0][1][1])
                assert _close(value, (d.new_position[0] - fast[0], d.new_position[1] - fast[1]), 1e-9)
        synced = d.extras.get("synced")
        if synced is not None:
            assert len(ex.moves) == (2 if synced else 1)


def _weight_decay_words(d) -> bool:
    return any("λw" in s for s in d.sentences)


@pytest.mark.parametrize("key", ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamax", "radam"])
def test_weight_decay_is_said_exactly_when_it_is_on(key):
    on = anatomy("ravine", key, steps=2, hparams={"weight_decay": 0.1})
    off = anatomy("ravine", key, steps=2)
    assert all(_weight_decay_words(d) for d in on) and not any(_weight_decay_words(d) for d in off)


def test_dampening_is_said_with_its_weight():
    d = anatomy("ravine", "momentum", steps=3, hparams={"dampening": 0.25})
    assert "undamped" in d[0].sentences[1]
    assert "(1 − τ)·g = 0.75·g" in " ".join(d[1].sentences)


def test_lookahead_with_adabound_inside_explains_its_band():  # was KeyError: 'band'
    d = anatomy("ravine", "lookahead", steps=6, hparams={"inner": "adabound"})
    lo, hi = d[4].extras["band"]
    assert lo < hi and any("clipped" in s for s in d[4].sentences)


def test_lookahead_with_radam_inside_says_the_real_rho():  # it always said ρ_t = 0.00
    d = anatomy("ravine", "lookahead", steps=10, hparams={"inner": "radam"})
    b2 = 0.999
    rho = 2 / (1 - b2) - 1 - 2 * 10 * b2**10 / (1 - b2**10)
    assert d[9].extras["rho_t"] == pytest.approx(rho, rel=1e-12) and rho > 5
    assert any("> 5: the adaptive factor is used" in s for s in d[9].sentences)
    assert not any("v is not used" in s for s in d[9].sentences)


def test_lookahead_sync_step_is_the_inner_step_then_the_jump():
    # inner SGD on the ravine, t = 10: the inner rule's step is −η·g, not the whole move.
    d = anatomy("ravine", "lookahead", steps=10, hparams={"inner": "sgd", "lr": 0.5})[9]
    (label1, fast), (label2, jump) = d.explanation.moves
    assert fast == pytest.approx((-0.5 * d.grad[0], -0.5 * d.grad[1]), rel=1e-12)
    assert label2.startswith("sync")
    assert any(f"Step = −η·g = −0.5·g = {fmt(fast)}" in s for s in d.sentences)


def test_no_moment_arrow_for_lion_inside_lookahead():
    d = anatomy("ravine", "lookahead", steps=3, hparams={"inner": "lion"})
    assert not any("m̂" in label for det in d for label, _ in det.explanation.arrows)


def test_newton_says_what_the_damped_model_is():
    saddle = get_surface("saddle")
    # At (0.5, 0.05) H = diag(1, 3y² − 1) has eigenvalues 1 and −0.9925.
    plain = anatomy(saddle, "newton", start=(0.5, 0.05), steps=1)[0]
    assert any("has a saddle, and Newton steps towards it" in s for s in plain.sentences)
    damped = anatomy(saddle, "newton", start=(0.5, 0.05), steps=1, hparams={"damping": 2.0})[0]
    assert any("positive definite, so the step goes downhill" in s for s in damped.sentences)
    assert not any("steps towards it" in s for s in damped.sentences)
    # A local maximum of the formula surface −x² − y²: both eigenvalues negative.
    peak = get_surface("formula", expr="-(x^2) - y^2")
    top = anatomy(peak, "newton", start=(0.3, 0.2), steps=1)[0]
    assert any("has a maximum" in s for s in top.sentences) and not any("saddle" in s for s in top.sentences)


def test_diag_newton_step_carries_eta():
    d = anatomy("ravine", "diag_newton", steps=1, hparams={"lr": 0.5})[0]
    assert any("−η·g/(h + ε)" in s for s in d.sentences)


def test_lookahead_over_damped_newton_shows_the_damped_step():
    d = anatomy("saddle", "lookahead", start=(0.5, 0.05), steps=1, hparams={"inner": "newton", "damping": 2.0})[0]
    assert any("−(H + λI)⁻¹g" in s for s in d.sentences)


def test_rprop_says_when_a_flipped_coordinate_is_skipped():
    details = anatomy("ravine", "rprop", steps=12, hparams={"lr": 0.5})
    flips = [d for d in details if any("flipped" in s for s in d.sentences)]
    assert flips, "the ravine with a large first step makes a sign flip"
    for d in flips:
        skipped = [i for i in (0, 1) if d.step_vector[i] == 0]
        assert skipped, "a flipped coordinate does not move"
        assert not any(s.startswith("Step = −s·sign(g) = ") for s in d.sentences)
