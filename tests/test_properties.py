"""Property tests (hypothesis, derandomized): the engine, the Playground figure and the URL parser
never fail on anything a user can set.

1. Every optimizer × every surface (the formula surface with its default formula), with
   hyperparameters drawn from their declared slider ranges (log-uniform on log scales; Lookahead's
   inner optimizer from INNER_CHOICES with that optimizer's own hyperparameters), surface parameters
   from their ranges, a start anywhere in the view, 1..300 steps, gradient noise in [0, 2] and every
   learning-rate schedule with its defaults:
   - `simulate` never raises and every array it returns is finite;
   - `diverged_at` is -1 or a recorded step; every point from there on repeats the last valid point;
     the points before it are finite, lie within the view widened by FAR_SPANS spans, and their loss
     is the surface's value there (so no non-finite value went unflagged);
   - `run_view` + `playground_figure` accept the result, and the figure is strict JSON (no NaN/inf).
2. `scene.config.from_query` never raises on arbitrary text, and a parsed link survives
   to_query -> from_query unchanged and without warnings.

Each optimizer × surface pair is its own test (readable ids) with a few examples (570 in all; about 20 s
on a 2-core CPU). GRADSCAPE_PROPERTY_EXAMPLES=30 runs ten times as many for a deeper search.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import replace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import simulate
from engine.rollout import FAR_SPANS
from figures.playground import legend_label, playground_figure, run_view
from optimizers import available_optimizers, get_optimizer
from optimizers import INNER_CHOICES
from optimizers.schedules import available_schedules, make_schedule
from surfaces import available_surfaces, get_surface, surface_class
from scene.config import Config, effective_hparams, from_query, to_query

OPTIMIZERS = available_optimizers()
SURFACES = available_surfaces()
SCHEDULES = available_schedules()
MAX_STEPS = 300
MAX_NOISE = 2.0
EXAMPLES_PER_PAIR = int(os.environ.get("GRADSCAPE_PROPERTY_EXAMPLES", "3"))  # raise it for a deep search
FIGURE_GRID = 24  # points per side for the figure's background: cheap, and the figure code is the same

SIM_SETTINGS = settings(
    max_examples=EXAMPLES_PER_PAIR,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---- strategies ------------------------------------------------------------------------------


def param_value(p) -> st.SearchStrategy:
    """A value inside a Param's declared slider range (log-uniform on a log scale)."""
    if p.kind == "choice":
        return st.sampled_from(p.choices)
    if p.kind == "bool":
        return st.booleans()
    if p.kind == "int":
        return st.integers(int(p.low), int(p.high))
    lo, hi = float(p.low), float(p.high)
    if p.log:
        return st.floats(math.log(lo), math.log(hi)).map(lambda u: min(max(math.exp(u), lo), hi))
    return st.floats(lo, hi)


def params_of(specs) -> st.SearchStrategy:
    return st.fixed_dictionaries({p.name: param_value(p) for p in specs})


@st.composite
def hparams_for(draw, key: str) -> dict:
    spec = get_optimizer(key)
    if key == "lookahead":
        own = [p for p in spec.params if p.name != "inner"]
        inner = draw(st.sampled_from(INNER_CHOICES))
        return {"inner": inner, **draw(params_of(own)), **draw(params_of(get_optimizer(inner).params))}
    return draw(params_of(spec.params))


@functools.lru_cache(maxsize=None)
def default_surface(key: str):
    """Surfaces without parameters (and the formula with its default) are built once."""
    return get_surface(key)


@st.composite
def surfaces_of(draw, key: str):
    cls = surface_class(key)
    if key == "formula" or not cls.params:
        return default_surface(key)
    return get_surface(key, **draw(params_of(cls.params)))


@st.composite
def starts_in(draw, surface) -> tuple[float, float]:
    (x0, x1), (y0, y1) = surface.bounds
    return draw(st.floats(x0, x1)), draw(st.floats(y0, y1))


# ---- 1. simulate and the figure ----------------------------------------------------------------


def _check_trajectory(traj, surface, steps: int) -> None:
    b = 0
    names = ("xy", "loss", "grad", "lr", "effective_lr")
    for name in names:
        a = getattr(traj, name)
        assert torch.isfinite(a).all(), f"{name} has non-finite values"
    n = traj.xy.shape[1]
    assert n == steps + 1 and traj.loss.shape == (1, n) and traj.lr.shape == (1, steps)
    assert traj.steps.tolist() == list(range(steps + 1))
    d = int(traj.diverged_at[b])
    assert d == -1 or 0 <= d <= steps, d
    k = n if d == -1 else d  # index of the first invalid point (steps are recorded 0, 1, ..., steps)
    if d >= 0:
        last = max(k - 1, 0)
        held = traj.xy[b, last]
        assert torch.equal(traj.xy[b, max(k, 1) :], held.expand_as(traj.xy[b, max(k, 1) :])), (
            f"points after diverged_at={d} do not repeat the last valid point"
        )
        assert torch.equal(traj.loss[b, max(k, 1) :], traj.loss[b, last].expand(n - max(k, 1)))
    before = traj.xy[b, :k]
    (x0, x1), (y0, y1) = surface.bounds
    wx, wy = FAR_SPANS * (x1 - x0), FAR_SPANS * (y1 - y0)
    assert torch.isfinite(before).all()
    assert (
        (before[:, 0] >= x0 - wx) & (before[:, 0] <= x1 + wx) & (before[:, 1] >= y0 - wy) & (before[:, 1] <= y1 + wy)
    ).all(), "a point far outside the view went unflagged"
    if k > 0:
        # Every loss before the divergence is the surface's (finite) value at that point: a non-finite value
        # anywhere on the way would have been flagged.
        truth = surface.f(before)
        assert torch.isfinite(truth).all(), "a non-finite loss before diverged_at"
        assert torch.allclose(traj.loss[b, :k], truth, rtol=1e-12, atol=0.0, equal_nan=False)


def _check_figure(surface, traj, label: str) -> None:
    view = run_view(traj, label)
    fig = playground_figure(surface, [view], grid=surface.grid(FIGURE_GRID))
    text = json.dumps(fig, allow_nan=False)  # raises on NaN or inf anywhere
    assert len(fig["data"]) > 5 and fig["frames"]
    names = [t.get("name") for t in fig["data"] if t.get("showlegend", True) and t.get("xaxis") == "x"]
    assert legend_label(label, view.diverged_at) in names
    if view.diverged_at >= 0:
        assert f"diverged at step {view.diverged_at}" in text


@pytest.mark.parametrize("surface_key", SURFACES)
@pytest.mark.parametrize("optimizer_key", OPTIMIZERS)
@SIM_SETTINGS
@given(data=st.data())
def test_simulate_and_figure_never_fail(optimizer_key, surface_key, data):
    surface = data.draw(surfaces_of(surface_key), label="surface")
    hp = data.draw(hparams_for(optimizer_key), label="hparams")
    start = data.draw(starts_in(surface), label="start")
    steps = data.draw(st.integers(1, MAX_STEPS), label="steps")
    noise = data.draw(st.floats(0.0, MAX_NOISE), label="noise")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    schedule = make_schedule(data.draw(st.sampled_from(SCHEDULES), label="schedule"))
    traj = simulate(
        surface,
        optimizer_key,
        start=start,
        steps=steps,
        hparams=hp,
        schedule=schedule,
        noise=noise,
        seed=seed,
        device="cpu",
        dtype=torch.float64,
    )
    _check_trajectory(traj, surface, steps)
    _check_figure(surface, traj, get_optimizer(optimizer_key).name)


@pytest.mark.parametrize("optimizer_key", OPTIMIZERS)
def test_lr_at_the_top_of_its_range_on_every_surface_is_flagged_not_raised(optimizer_key):
    """The extreme a student reaches first: the lr slider at its maximum, from every surface's start,
    with full noise. Deterministic companion of the property test above."""
    spec = get_optimizer(optimizer_key)
    if optimizer_key == "lookahead":
        lr_high = {"lr": get_optimizer("adam").params[0].high}
    else:
        lr_high = {p.name: p.high for p in spec.params if p.name == "lr"}
    for key in SURFACES:
        surface = default_surface(key)
        traj = simulate(surface, spec, steps=MAX_STEPS, hparams=lr_high, noise=MAX_NOISE, device="cpu")
        _check_trajectory(traj, surface, MAX_STEPS)
        _check_figure(surface, traj, spec.name)


# ---- 2. URL parameters ----------------------------------------------------------------------------


def _known_keys() -> list[str]:
    keys = [
        "surface",
        "opt",
        "sched",
        "sched.inner",
        "steps",
        "noise",
        "seed",
        "start",
        "presenter",
        "speed",
        "s.expr",
        "s.bounds",
    ]
    for s in SURFACES:
        keys += [f"s.{p.name}" for p in surface_class(s).params]
    for k in OPTIMIZERS:
        keys += [f"{k}.{p.name}" for p in get_optimizer(k).params]
    for inner in INNER_CHOICES:
        keys += [f"lookahead.{p.name}" for p in get_optimizer(inner).params]
    for s in SCHEDULES:
        from optimizers.schedules import schedule_class

        keys += [f"sched.{p.name}" for p in schedule_class(s).params]
    return sorted(set(keys))


KNOWN_KEYS = _known_keys()
PLAUSIBLE_VALUES = (
    list(SURFACES)
    + list(OPTIMIZERS)
    + list(SCHEDULES)
    + list(INNER_CHOICES)
    + [
        "0",
        "1",
        "-1",
        "0.5",
        "1e-3",
        "10",
        "100",
        "300",
        "20000",
        "20001",
        "nan",
        "inf",
        "-inf",
        "1e309",
        "true",
        "false",
        "2×",
        "1×",
        "0.5×",
        "sgd,adam",
        "adam,adam",
        ",",
        "",
        "-3.5,1.5",
        "0,0",
        "1,2,3",
        "-2,2,-1,3",
        "-1e4,1e4,-1e4,1e4",
        "1,1,1,1",
        "x**2 + y**2",
        "x*y",
        "log(x)",
        "1/0",
        "(1-x)**2+100*(y-x**2)**2",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "__import__('os')",
        "\u0430dam",
        "x" * 600,
    ]
)
texts = st.text(max_size=40)
query_dicts = st.dictionaries(
    keys=st.one_of(st.sampled_from(KNOWN_KEYS), texts),
    values=st.one_of(
        st.sampled_from(PLAUSIBLE_VALUES),
        texts,
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.lists(st.sampled_from(list(OPTIMIZERS) + ["bogus", ""]), max_size=25).map(",".join),
    ),
    max_size=12,
)

QUERY_SETTINGS = settings(
    max_examples=1000, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@QUERY_SETTINGS
@given(query=query_dicts)
def test_from_query_never_raises_and_round_trips(query):
    cfg, warnings = from_query(query)
    assert all(isinstance(w, str) and w for w in warnings)
    q2 = to_query(cfg)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q2.items())
    cfg2, warnings2 = from_query(q2)
    assert warnings2 == [], (q2, warnings2)
    assert shown(cfg2) == shown(cfg), (query, q2)
    assert to_query(cfg2) == q2


def shown(cfg: Config) -> Config:
    """What a Config puts on the page: the hyperparameters each *selected* optimizer runs with. (A link may
    carry hyperparameters of optimizers it does not select; they are kept in Config.hparams but never shown,
    and to_query rightly leaves them out.)"""
    return replace(cfg, hparams={k: effective_hparams(cfg, k) for k in cfg.optimizers})


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(query=st.dictionaries(st.text(), st.text()))
def test_from_query_never_raises_on_any_text(query):
    cfg, warnings = from_query(query)
    assert cfg.surface in SURFACES
    if any(k not in KNOWN_KEYS for k in query):
        assert warnings


@pytest.mark.parametrize(
    "query", [{"start": "0.1234567890123,1"}, {"adam.lr": "0.012345678901"}], ids=["start", "hparam"]
)
def test_exact_float_round_trip(query):
    """Regression: to_query once wrote floats with 10 significant digits (ui/config.py _fmt), so a value that
    needed more came back from its own link changed (0.1234567890123 -> 0.123456789)."""
    cfg, warnings = from_query(query)
    assert warnings == []
    assert from_query(to_query(cfg))[0] == cfg
