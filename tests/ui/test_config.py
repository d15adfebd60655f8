"""scene.config: the Playground's Config <-> URL query (pure Python, no Streamlit run).

Round trips: to_query then from_query gives the same Config with no warnings. Hostile input: every
malformed or unknown parameter falls back to its default with a warning that names it, and nothing
raises.
"""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import available_schedules, schedule_class
from surfaces import available_surfaces, surface_class
from scene.config import MAX_NOISE, SPEEDS, STEP_CHOICES, Config, effective_hparams, from_query, lesson_config, to_query

SCRIPT = "<script>alert(1)</script>"
LONG = "x" * 20_000
CYRILLIC_ADAM = "\u0430dam"  # 'аdam': Cyrillic a
CYRILLIC_RAVINE = "r\u0430vine"

LOOKAHEAD_ORDER_BUG = (
    "ui/config.py from_query (hparams loop, line ~119-123): a lookahead hyperparameter of the inner optimizer "
    "is checked against the inner optimizer known *so far*; to_query writes names sorted, so inner params that "
    "sort before 'inner' (momentum's 'dampening', rmsprop's 'alpha'/'centered', rprop's 'etaminus'/'etaplus', "
    "adagrad's 'initial_accumulator_value', newton's 'damping') are checked against the default inner (adam) "
    "and dropped with the warning \"Lookahead has no hyperparameter 'dampening': ignored\""
)
EMPTY_OPT_BUG = (
    "ui/config.py from_query line ~112-116: opt= with only unknown keys (opt=bogus, opt=\u0430dam) gives "
    "optimizers=() (an empty chart) instead of the surface's default (lesson) optimizers"
)
SILENT_SCHED_PARAM = (
    "ui/config.py from_query (sched.* loop): with no sched= (constant), an unknown sched.X parameter is dropped "
    "without a warning (`if schedule != 'constant'`), against the module's promise of a warning for every "
    "ignored parameter"
)


def scene(surface: str = "ravine", *, hparams: dict | None = None, **changes) -> Config:
    """A surface's lesson scene with changes; hparams are merged onto the lesson's (as from_query does)."""
    base = lesson_config(surface)
    merged = {k: dict(v) for k, v in base.hparams.items()}
    for key, values in (hparams or {}).items():
        merged.setdefault(key, {}).update(values)
    return replace(base, hparams=merged, **changes)


def assert_same_config(got: Config, want: Config) -> None:
    """Field by field (readable failures); hparams compared as what each selected optimizer runs with."""
    for f in fields(Config):
        if f.name == "hparams":
            continue
        assert getattr(got, f.name) == getattr(want, f.name), f.name
    assert got.optimizers == want.optimizers
    for key in want.optimizers:
        assert effective_hparams(got, key) == effective_hparams(want, key), key
        for name, value in effective_hparams(got, key).items():  # types survive (int stays int, bool bool)
            assert type(value) is type(effective_hparams(want, key)[name]), (key, name)
    assert got == want  # and the whole value


def roundtrip(cfg: Config):
    q = to_query(cfg)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items())
    return from_query(q)


def _other_value(p):
    """A valid value of a spec that differs from its default."""
    if p.kind == "choice":
        return next(c for c in p.choices if c != p.default)
    if p.kind == "bool":
        return not p.default
    if p.kind == "int":
        return int(p.low) + 1 if int(p.low) + 1 != p.default else int(p.low) + 2
    if p.log:
        grid = [v for v in p.grid() if v != p.default]
        return grid[len(grid) // 3]
    return round(p.low + (p.high - p.low) * 0.37, 6)


# --- round trips -----------------------------------------------------------------------------------

ROUNDTRIPS = {f"lesson-{s}": lesson_config(s) for s in available_surfaces()}
ROUNDTRIPS.update(
    {
        "custom-hparams": scene(
            "ravine", optimizers=("sgd", "adam"), hparams={"adam": {"lr": 0.01, "beta1": 0.8}, "sgd": {"lr": 0.2}}
        ),
        "other-order": scene("ravine", optimizers=("adam", "momentum", "sgd")),
        "no-optimizers": scene("saddle", optimizers=()),
        "all-optimizers": scene("rosenbrock", optimizers=available_optimizers()),
        "rmsprop-centered": scene(
            "plateau", optimizers=("rmsprop",), hparams={"rmsprop": {"centered": True, "alpha": 0.9}}
        ),
        "lookahead-k-and-inner-sgd": scene(
            "ravine", optimizers=("lookahead",), hparams={"lookahead": {"k": 7, "inner": "sgd", "lr": 0.2}}
        ),
        "lookahead-inner-adam-params": scene(
            "ravine", optimizers=("lookahead",), hparams={"lookahead": {"slow_alpha": 0.8, "lr": 0.02, "beta1": 0.5}}
        ),
        "newton-damping": scene(
            "rosenbrock",
            optimizers=("newton", "diag_newton"),
            hparams={"newton": {"lr": 0.5, "damping": 2.5}, "diag_newton": {"eps": 5.0}},
        ),
        "surface-params-ravine": scene("ravine", surface_params={"condition": 200.0, "angle": -30.0}),
        "surface-params-rosenbrock": scene("rosenbrock", surface_params={"a": 1.2, "b": 10.0}),
        "surface-params-plateau": scene("plateau", surface_params={"width": 0.5}),
        "surface-params-two-wells-zero": scene("two_wells", surface_params={"tilt": 0.0}),
        "data-surface-choice-and-bool": scene(
            "linear_regression", surface_params={"dataset": "iris", "standardize": True}
        ),
        "data-surface-minibatch": scene(
            "logistic_regression", surface_params={"dataset": "breast_cancer"}, batch_size=32, seed=4
        ),
        "data-surface-batch-of-one": scene("linear_regression", batch_size=1),
        "sched-step": scene(schedule="step", schedule_params={"step_size": 50, "gamma": 0.3}),
        "sched-multistep": scene(schedule="multistep", schedule_params={"gamma": 0.2}),
        "sched-exponential": scene(schedule="exponential", schedule_params={"r": 500.0}),
        "sched-reciprocal": scene(schedule="reciprocal", schedule_params={"r": 20.0, "c": 0.5}),
        "sched-cosine": scene(schedule="cosine", schedule_params={"T_max": 200, "min_factor": 0.1}),
        "sched-cosine-defaults": scene(schedule="cosine"),
        "sched-plateau": scene(
            schedule="plateau",
            schedule_params={"factor": 0.3, "patience": 5, "threshold": 0.001, "cooldown": 2, "min_factor": 0.05},
        ),
        "sched-warmup-over-cosine": scene(
            "beale",
            schedule="warmup",
            schedule_params={
                "inner": "cosine",
                "T_max": 200,
                "min_factor": 0.1,
                "warmup_steps": 20,
                "start_factor": 0.1,
            },
        ),
        "sched-warmup-over-constant": scene(
            schedule="warmup", schedule_params={"inner": "constant", "warmup_steps": 100}
        ),
        "sched-warmup-over-plateau": scene(schedule="warmup", schedule_params={"inner": "plateau", "patience": 3}),
        "start": scene("rosenbrock", start=(-1.0, 2.0)),
        "start-corner": scene("himmelblau", start=(5.0, -5.0)),
        "start-decimals": scene("ravine", start=(0.125, -2.75)),
        "noise-seed": scene(noise=0.3, seed=12345),
        "noise-max": scene(noise=MAX_NOISE, seed=2**31 - 1),
        "presenter": scene(presenter=True),
        "speeds": scene(speed="4×"),
        "steps-min": scene(steps=1),
        "steps-max": scene(steps=STEP_CHOICES[-1]),
        "everything": scene(
            "rosenbrock",
            surface_params={"b": 20.0},
            optimizers=("adam", "newton", "rprop"),
            hparams={"adam": {"lr": 0.01}, "rprop": {"etaplus": 1.5}},
            schedule="warmup",
            schedule_params={"inner": "cosine", "T_max": 200},
            steps=500,
            noise=0.1,
            seed=3,
            start=(-1.0, 2.0),
            presenter=True,
            speed="2×",
        ),
    }
)
ROUNDTRIPS.update({f"speed-{s}": scene(speed=s) for s in SPEEDS})
ROUNDTRIPS.update(
    {
        f"every-hparam-{key}": scene(
            "ravine",
            optimizers=(key,),
            hparams={key: {p.name: _other_value(p) for p in get_optimizer(key).params if p.kind != "choice"}},
        )
        for key in available_optimizers()
    }
)


@pytest.mark.parametrize("cfg", list(ROUNDTRIPS.values()), ids=list(ROUNDTRIPS))
def test_roundtrip(cfg):
    got, warnings = roundtrip(cfg)
    assert warnings == []
    assert_same_config(got, cfg)


@pytest.mark.parametrize("inner", ["momentum", "rmsprop", "rprop", "adagrad", "newton"])
def test_roundtrip_lookahead_over_an_inner_with_its_own_hyperparameters(inner):
    """What the page writes for Lookahead: every hyperparameter of the inner optimizer too."""
    values = {p.name: _other_value(p) for p in get_optimizer(inner).params}
    cfg = scene("ravine", optimizers=("lookahead",), hparams={"lookahead": {"inner": inner, **values}})
    got, warnings = roundtrip(cfg)
    assert warnings == []
    assert_same_config(got, cfg)


@pytest.mark.parametrize("inner", ["sgd", "adam", "nadam", "lion"])
def test_roundtrip_lookahead_over_an_inner_whose_names_sort_after_inner(inner):
    values = {p.name: _other_value(p) for p in get_optimizer(inner).params if p.name > "inner"}
    if inner != get_optimizer("lookahead").defaults()["inner"]:
        values["inner"] = inner
    cfg = scene("ravine", optimizers=("lookahead",), hparams={"lookahead": values})
    got, warnings = roundtrip(cfg)
    assert warnings == []
    assert_same_config(got, cfg)


@pytest.mark.parametrize("surface", available_surfaces())
def test_the_lesson_scene_is_just_the_surface(surface):
    assert to_query(lesson_config(surface)) == {"surface": surface}
    assert from_query({"surface": surface}) == (lesson_config(surface), [])


def test_an_empty_query_is_the_default_scene():
    cfg, warnings = from_query({})
    assert warnings == []
    assert cfg == lesson_config("ravine")
    assert cfg.surface == Config().surface


def test_only_changes_are_written():
    cfg = scene("ravine", hparams={"adam": {"lr": 0.01}})
    assert to_query(cfg) == {"surface": "ravine", "adam.lr": "0.01"}
    cfg = scene("ravine", start=(-1.0, 2.0), steps=500)
    assert to_query(cfg) == {"surface": "ravine", "steps": "500", "start": "-1,2"}


# --- malformed and hostile input -----------------------------------------------------------------

R = "ravine"
MALFORMED = [
    # id, query, expected config, a word each warning list must contain (the offending parameter)
    ("unknown-surface", {"surface": "nope"}, scene(R), "surface"),
    ("surface-cyrillic-lookalike", {"surface": CYRILLIC_RAVINE}, scene(R), "surface"),
    ("surface-script", {"surface": SCRIPT}, scene(R), "surface"),
    ("surface-very-long", {"surface": LONG}, scene(R), "surface"),
    ("surface-empty", {"surface": ""}, scene(R), "surface"),
    ("opt-some-unknown", {"opt": "sgd,bogus,adam"}, scene(R, optimizers=("sgd", "adam")), "bogus"),
    ("opt-cyrillic-adam", {"opt": f"sgd,{CYRILLIC_ADAM}"}, scene(R, optimizers=("sgd",)), CYRILLIC_ADAM),
    ("opt-script", {"opt": f"adam,{SCRIPT}"}, scene(R, optimizers=("adam",)), SCRIPT),
    ("lr-abc", {"adam.lr": "abc"}, scene(R), "adam.lr"),
    ("lr-1e999", {"adam.lr": "1e999"}, scene(R), "adam.lr"),
    ("lr-nan", {"adam.lr": "nan"}, scene(R), "adam.lr"),
    ("lr-inf", {"adam.lr": "-inf"}, scene(R), "adam.lr"),
    ("lr-below-slider", {"adam.lr": "1e-9"}, scene(R), "adam.lr"),
    ("lr-above-slider", {"newton.lr": "3"}, scene(R), "newton.lr"),
    ("lr-script", {"sgd.lr": SCRIPT}, scene(R), "sgd.lr"),
    ("lr-very-long", {"sgd.lr": "9" * 5000}, scene(R), "sgd.lr"),
    ("bool-2", {"rmsprop.centered": "2"}, scene(R), "rmsprop.centered"),
    ("int-3.5", {"lookahead.k": "3.5"}, scene(R), "lookahead.k"),
    ("int-below", {"lookahead.k": "0"}, scene(R), "lookahead.k"),
    ("choice-unknown", {"lookahead.inner": "lookahead"}, scene(R), "lookahead.inner"),
    ("unknown-hparam", {"adam.bogus": "1"}, scene(R), "bogus"),
    ("hparam-key-cyrillic", {f"{CYRILLIC_ADAM}.lr": "0.1"}, scene(R), CYRILLIC_ADAM),
    ("surface-param-unknown", {"s.bogus": "1"}, scene(R), "bogus"),
    ("surface-param-abc", {"s.condition": "abc"}, scene(R), "condition"),
    ("surface-param-out-of-range", {"s.condition": "1e6"}, scene(R), "condition"),
    ("surface-param-of-another-surface", {"surface": "saddle", "s.condition": "10"}, scene("saddle"), "condition"),
    ("start-outside", {"start": "100,100"}, scene(R), "start"),
    ("start-three", {"start": "1,2,3"}, scene(R), "start"),
    ("start-one", {"start": "1"}, scene(R), "start"),
    ("start-nan", {"start": "nan,0"}, scene(R), "start"),
    ("start-script", {"start": SCRIPT}, scene(R), "start"),
    ("steps-0", {"steps": "0"}, scene(R), "steps"),
    ("steps-999999", {"steps": "999999"}, scene(R), "steps"),
    ("steps-2.5", {"steps": "2.5"}, scene(R), "steps"),
    ("steps-empty", {"steps": ""}, scene(R), "steps"),
    ("noise-negative", {"noise": "-1"}, scene(R), "noise"),
    ("noise-huge", {"noise": "1e9"}, scene(R), "noise"),
    ("seed-negative", {"seed": "-5"}, scene(R), "seed"),
    ("seed-fraction", {"seed": "1.5"}, scene(R), "seed"),
    ("seed-huge", {"seed": "1e40"}, scene(R), "seed"),
    ("sched-nope", {"sched": "nope"}, scene(R), "sched"),
    ("sched-nope-with-param", {"sched": "nope", "sched.T_max": "200"}, scene(R), "sched"),
    ("sched-inner-warmup", {"sched": "warmup", "sched.inner": "warmup"}, scene(R, schedule="warmup"), "sched.inner"),
    ("sched-param-abc", {"sched": "cosine", "sched.T_max": "abc"}, scene(R, schedule="cosine"), "T_max"),
    ("sched-param-below", {"sched": "cosine", "sched.T_max": "5"}, scene(R, schedule="cosine"), "T_max"),
    ("sched-param-unknown", {"sched": "cosine", "sched.bogus": "1"}, scene(R, schedule="cosine"), "bogus"),
    (
        "sched-param-of-other-inner",
        {"sched": "warmup", "sched.inner": "constant", "sched.T_max": "100"},
        scene(R, schedule="warmup", schedule_params={"inner": "constant"}),
        "T_max",
    ),
    ("batch-on-a-cartoon", {"batch": "8"}, scene(R), "batch"),
    ("batch-zero", {"surface": "linear_regression", "batch": "0"}, scene("linear_regression"), "batch"),
    ("batch-all", {"surface": "linear_regression", "batch": "442"}, scene("linear_regression"), "batch"),
    ("batch-fraction", {"surface": "linear_regression", "batch": "2.5"}, scene("linear_regression"), "batch"),
    ("batch-script", {"surface": "linear_regression", "batch": SCRIPT}, scene("linear_regression"), "batch"),
    (
        "batch-too-big-for-this-data-set",
        {"surface": "logistic_regression", "batch": "200"},
        scene("logistic_regression"),
        "batch",
    ),
    (
        "surface-choice-unknown",
        {"surface": "linear_regression", "s.dataset": "mnist"},
        scene("linear_regression"),
        "dataset",
    ),
    (
        "surface-bool-2",
        {"surface": "linear_regression", "s.standardize": "2"},
        scene("linear_regression"),
        "standardize",
    ),
    ("presenter-2", {"presenter": "2"}, scene(R), "presenter"),
    ("speed-unknown", {"speed": "9×"}, scene(R), "speed"),
    ("unknown-key", {"foo": "1"}, scene(R), "foo"),
    ("script-key", {SCRIPT: "1"}, scene(R), SCRIPT),
    ("script-key-and-value", {SCRIPT: SCRIPT}, scene(R), SCRIPT),
    ("very-long-key", {LONG: "1"}, scene(R), LONG[:50]),
    ("dot-key", {".": "1"}, scene(R), "'.'"),
    ("optimizer-dot-key", {"adam.": "1"}, scene(R), "Adam"),
    ("mixed", {"surface": "rosenbrock", "adam.lr": "abc", "steps": "500"}, scene("rosenbrock", steps=500), "adam.lr"),
    pytest.param("opt-only-unknown", {"opt": "bogus"}, scene(R), "bogus"),
    pytest.param("opt-only-cyrillic", {"opt": CYRILLIC_ADAM}, scene(R), CYRILLIC_ADAM),
    pytest.param("sched-param-without-sched", {"sched.bogus": "1"}, scene(R), "bogus"),
]


def _case_id(case):
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize("case_id, query, expected, needle", MALFORMED, ids=[_case_id(c) for c in MALFORMED])
def test_malformed_input_falls_back_with_a_warning(case_id, query, expected, needle):
    cfg, warnings = from_query(query)
    assert warnings, "expected at least one warning"
    assert all(isinstance(w, str) and w for w in warnings)
    assert any(needle.lower() in w.lower() for w in warnings), warnings
    assert_same_config(cfg, expected)


def test_the_table_has_enough_cases():
    assert len(MALFORMED) >= 25


def test_one_warning_per_problem_and_valid_values_kept():
    q = {
        "surface": "rosenbrock",
        "opt": "adam,bogus",
        "adam.lr": "abc",
        "adam.beta1": "0.8",
        "steps": "0",
        "noise": "0.2",
        "start": "9,9",
        "seed": "7",
        "foo": "bar",
    }
    cfg, warnings = from_query(q)
    assert len(warnings) == 5, warnings
    assert cfg == scene("rosenbrock", optimizers=("adam",), hparams={"adam": {"beta1": 0.8}}, noise=0.2, seed=7)


def test_the_query_passed_in_is_not_changed():
    q = {"surface": "rosenbrock", "opt": "adam", "adam.lr": "0.01", "foo": "1"}
    copy = dict(q)
    from_query(q)
    assert q == copy


# --- nothing raises ---------------------------------------------------------------------------------

KEYS = (
    ["surface", "opt", "steps", "noise", "seed", "start", "presenter", "speed", "sched", "sched.inner"]
    + [f"s.{p.name}" for s in available_surfaces() for p in surface_class(s).params]
    + [f"sched.{p.name}" for k in available_schedules() for p in schedule_class(k).params]
    + [f"{k}.{p.name}" for k in available_optimizers() for p in get_optimizer(k).params]
)
VALUES = (
    list(available_surfaces())
    + list(available_optimizers())
    + list(available_schedules())
    + [
        "0",
        "1",
        "-1",
        "1e999",
        "nan",
        "inf",
        "",
        ",",
        "1,2",
        "0.5",
        "3.5",
        "1e-300",
        "true",
        SCRIPT,
        CYRILLIC_ADAM,
        "sgd,adam",
        "-0",
        "1_000",
        " 1 ",
        "0x10",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
        st.one_of(st.sampled_from(VALUES), st.text(max_size=20)),
        max_size=8,
    )
)
def test_from_query_never_raises_and_its_result_round_trips(query):
    cfg, warnings = from_query(query)
    assert isinstance(cfg, Config) and isinstance(warnings, list)
    assert cfg.surface in available_surfaces()
    assert set(cfg.optimizers) <= set(available_optimizers())
    assert 1 <= cfg.steps <= STEP_CHOICES[-1] and 0 <= cfg.noise <= MAX_NOISE and 0 <= cfg.seed < 2**31
    assert cfg.speed in SPEEDS and isinstance(cfg.presenter, bool)
    if cfg.start is not None:
        (x0, x1), (y0, y1) = surface_class(cfg.surface).bounds
        assert x0 <= cfg.start[0] <= x1 and y0 <= cfg.start[1] <= y1
    to_query(cfg)  # whatever was accepted can be written back
