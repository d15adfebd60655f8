"""The lecture pages' figures: small multiples (saddle, ravine), one update as arrows, the state as bars.

All are plain dicts handed to st.plotly_chart without validation (ui.plotly_figure.PrebuiltFigure):
`go.Figure(fig)` accepting them is what makes that safe.
"""

from __future__ import annotations

import functools
import json
import math
import re

import plotly.graph_objects as go
import pytest

from engine import simulate
from engine.anatomy import anatomy
from figures.anatomy import STATE_LABELS, state_bars, step_figure
from figures.animation import MAX_FRAMES
from figures.multiples import small_multiples
from figures.playground import legend_label, run_view, surface_layers
from optimizers import get_optimizer
from surfaces import get_surface


@functools.lru_cache(maxsize=None)
def layers_of(key: str):
    surface = get_surface(key)
    return surface_layers(surface, surface.grid(120))


def runs_on(key: str, optimizers, steps=150, start=None, **hp_over):
    surface = get_surface(key)
    runs = []
    for k in optimizers:
        hp = {**surface.lesson_hparams.get(k, {}), **hp_over.get(k, {})}
        traj = simulate(surface, k, start=start, steps=steps, hparams=hp, device="cpu")
        runs.append(run_view(traj, get_optimizer(k).name))
    return surface, runs


def valid(fig: dict) -> go.Figure:
    out = go.Figure(fig)  # raises on any property plotly does not know
    json.dumps(fig)  # and the dict itself is plain JSON
    return out


def panel_axes(fig):
    return sorted(k for k in fig["layout"] if k.startswith("xaxis"))


# ---- small multiples ----------------------------------------------------------------------------

SADDLE_SET = get_surface("saddle").lesson_optimizers


@pytest.mark.parametrize("n", [1, 2, 5, len(SADDLE_SET)])
def test_small_multiples_is_valid_with_one_panel_per_run(n):
    surface, runs = runs_on("saddle", SADDLE_SET[:n], start=(-0.1, 0.001))
    fig = small_multiples(surface, runs, layers_of("saddle"))
    valid(fig)
    assert len(panel_axes(fig)) == n
    images = fig["layout"]["images"]
    assert len(images) == n
    assert sorted(im["xref"] for im in images) == sorted({t["xaxis"] for t in fig["data"]})
    for im in images:
        assert im["source"] == layers_of("saddle")["png"] and im["layer"] == "below"


def test_small_multiples_heads_are_the_only_traces_the_frames_move():
    surface, runs = runs_on("saddle", SADDLE_SET, start=(-0.1, 0.001), steps=300)
    fig = small_multiples(surface, runs, layers_of("saddle"))
    frames = fig["frames"]
    assert 2 <= len(frames) <= MAX_FRAMES
    heads = frames[0]["traces"]
    assert len(heads) == len(runs)
    assert all(f["traces"] == heads for f in frames)
    for i, (h, run) in enumerate(zip(heads, runs)):
        trace = fig["data"][h]
        assert trace["mode"] == "markers" and trace["name"] == run.label
        assert trace["xaxis"] == ("x" if i == 0 else f"x{i + 1}")  # head i sits in panel i
        assert (trace["x"][0], trace["y"][0]) == pytest.approx(tuple(run.xy[0]))
    # the first frame shows the starts, the last the ends; every frame has one point per head
    for f in frames:
        assert len(f["data"]) == len(heads)
        assert all(set(d) == {"x", "y"} and len(d["x"]) == len(d["y"]) == 1 for d in f["data"])
    assert frames[0]["name"] == "0" and frames[-1]["name"] == "300"
    for d, run in zip(frames[-1]["data"], runs):
        assert (d["x"][0], d["y"][0]) == pytest.approx(tuple(run.xy[-1]))
    # scrubber steps name existing frames
    names = {f["name"] for f in frames}
    assert {s["args"][0][0] for s in fig["layout"]["sliders"][0]["steps"]} == names


def test_small_multiples_paths_and_titles():
    surface, runs = runs_on("saddle", SADDLE_SET[:4], start=(-0.1, 0.001))
    titles = [f"panel {i}" for i in range(4)]
    fig = small_multiples(surface, runs, layers_of("saddle"), titles=titles)
    valid(fig)
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert texts == [f"<b>{t}</b>" for t in titles]
    paths = [t for t in fig["data"] if t.get("mode") == "lines" and t.get("name") not in (None, "contours")]
    assert [p["name"] for p in paths] == [r.label for r in runs]
    for p, run in zip(paths, runs):
        assert len(p["x"]) == len(run.xy)
        assert p["x"][-1] == pytest.approx(float(run.xy[-1, 0]), rel=1e-5, abs=1e-12)
    # without titles: the run labels (with "diverged at step k" where it applies)
    fig = small_multiples(surface, runs, layers_of("saddle"))
    assert [a["text"] for a in fig["layout"]["annotations"]] == [
        f"<b>{legend_label(r.label, r.diverged_at)}</b>" for r in runs
    ]


def test_small_multiples_says_diverged_and_cuts_the_path():
    surface, runs = runs_on("ravine", ["sgd", "momentum"], steps=200, sgd={"lr": 2.5})
    assert runs[0].diverged_at >= 0 and runs[1].diverged_at < 0
    fig = small_multiples(surface, runs, layers_of("ravine"))
    valid(fig)
    assert f"diverged at step {runs[0].diverged_at}" in fig["layout"]["annotations"][0]["text"]
    path = next(t for t in fig["data"] if t.get("mode") == "lines" and t.get("name") == runs[0].label)
    assert len(path["x"]) < len(runs[0].xy)
    assert all(v is not None and math.isfinite(v) for v in path["x"] + path["y"])


def test_small_multiples_columns_and_presenter():
    surface, runs = runs_on("ravine", ["sgd", "momentum", "adam", "rmsprop", "adagrad"], steps=50)
    fig = small_multiples(surface, runs, layers_of("ravine"), cols=3)
    valid(fig)
    lay = fig["layout"]
    lefts = sorted({round(lay[a]["domain"][0], 6) for a in panel_axes(fig)})
    assert len(lefts) == 3  # three columns
    tops = sorted({round(lay["y" + a[1:]]["domain"][1], 6) for a in panel_axes(fig)})
    assert len(tops) == 2  # two rows
    for a in panel_axes(fig):  # panels do not overlap and keep the surface's view
        assert lay[a]["range"] == list(surface.bounds[0])
        assert lay["y" + a[1:]]["range"] == list(surface.bounds[1])
    big = small_multiples(surface, runs, layers_of("ravine"), cols=3, presenter=True)
    assert big["layout"]["font"]["size"] > lay["font"]["size"]


def test_small_multiples_with_no_runs_is_still_a_figure():
    surface = get_surface("saddle")
    fig = small_multiples(surface, [], layers_of("saddle"))
    valid(fig)
    assert fig["layout"]["images"] == []


# ---- one update as arrows -----------------------------------------------------------------------


def arrows(fig):
    """{label: (x0, y0, x1, y1)}: each arrow with the label drawn at its head."""
    notes = fig["layout"]["annotations"]
    out = {}
    for a in notes:
        if a.get("showarrow"):
            label = next(
                n["text"]
                for n in notes
                if not n.get("showarrow")
                and n["x"] == a["x"]
                and n["y"] == a["y"]
                and n["font"]["color"] == a["arrowcolor"]
            )
            out[label.replace("<b>", "").replace("</b>", "")] = (a["ax"], a["ay"], a["x"], a["y"])
    return out


def trace_named(fig, name):
    found = [t for t in fig["data"] if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in fig["data"]]
    return found[0]


@functools.lru_cache(maxsize=None)
def details_of(surface_key, key, start=None, steps=20, hp=()):
    return anatomy(get_surface(surface_key), key, start=start, steps=steps, hparams=dict(hp))


STEP_CASES = [
    ("saddle", "sgd", None),
    ("saddle", "adam", None),
    ("saddle", "momentum", (-1.0, 0.5)),
    ("rosenbrock", "adam", None),
    ("saddle", "nesterov", (-1.0, 0.5)),
    ("ravine", "nesterov", None),
    ("saddle", "newton", (-1.0, 0.5)),
    ("rosenbrock", "newton", None),
    ("saddle", "lookahead", None),
    ("ravine", "ranger", None),
    ("saddle", "adabound", None),
    ("saddle", "amsgrad", None),
    ("himmelblau", "rprop", None),
    ("ravine", "lion", None),
    ("saddle", "diag_newton", (-1.0, 0.5)),
]


@pytest.mark.parametrize("t", [1, 2, 6, 12])
@pytest.mark.parametrize("surface_key,key,start", STEP_CASES, ids=[f"{s}-{k}" for s, k, _ in STEP_CASES])
def test_step_figure_arrows(surface_key, key, start, t):
    surface = get_surface(surface_key)
    details = details_of(surface_key, key, start)
    d = details[t - 1]
    fig = step_figure(surface, layers_of(surface_key), details, t, key)
    valid(fig)
    a = arrows(fig)
    px, py = d.position
    # The move as the optimizer's sub-steps, head to tail: from w to the new point.
    chain = [a[label] for label, _ in d.explanation.moves]
    assert chain[0][:2] == pytest.approx((px, py), rel=1e-12, abs=1e-15)
    assert chain[-1][2:] == pytest.approx(d.new_position, rel=1e-12, abs=1e-15)
    assert all(prev[2:] == pytest.approx(nxt[:2], rel=1e-12, abs=1e-15) for prev, nxt in zip(chain, chain[1:]))
    if key not in ("lookahead", "ranger"):
        assert [label for label, _ in d.explanation.moves] == ["step"]
    gx, gy = d.grad
    (label,) = [k for k in a if k.startswith("−ηg")]
    factor = 1.0 if label == "−ηg" else float(re.fullmatch(r"−ηg \(drawn at (.+)× its length\)", label).group(1))
    want = (px, py, px - factor * d.lr * gx, py - factor * d.lr * gy)
    assert a[label] == pytest.approx(want, rel=1e-12 if factor == 1.0 else 5e-2, abs=1e-15), label
    assert ("−ηH⁻¹g" in a) == (key == "newton")
    if key == "newton":
        nx, ny = d.extras["newton_step"]
        assert a["−ηH⁻¹g"] == pytest.approx((px, py, px + d.lr * nx, py + d.lr * ny), rel=1e-12, abs=1e-15)
    # the current point, and the path so far ending at the new point
    current = trace_named(fig, f"w at step {t - 1}")
    assert (current["x"][0], current["y"][0]) == (px, py)
    path = trace_named(fig, "path")
    assert len(path["x"]) == t + 1
    assert (path["x"][-1], path["y"][-1]) == pytest.approx(d.new_position, rel=1e-5, abs=1e-12)
    assert (path["x"][0], path["y"][0]) == pytest.approx(details[0].position, rel=1e-5, abs=1e-12)
    # the surface image stays in place under the zoom
    (x0, x1), (y0, y1) = surface.bounds
    (image,) = fig["layout"]["images"]
    assert (image["x"], image["y"], image["sizex"], image["sizey"]) == (x0, y1, x1 - x0, y1 - y0)


@pytest.mark.parametrize("surface_key,start", [("saddle", (-1.0, 0.5)), ("ravine", None)])
def test_step_figure_nesterov_shows_the_look_ahead_point(surface_key, start):
    details = details_of(surface_key, "nesterov", start)
    for t in (2, 5, 10):
        d = details[t - 1]
        fig = step_figure(get_surface(surface_key), layers_of(surface_key), details, t, "nesterov")
        probe = trace_named(fig, "look-ahead point")
        assert (probe["x"][0], probe["y"][0]) == d.probe != d.position
    # at update 1 the velocity is 0: the look-ahead point is w itself and is not drawn
    fig = step_figure(get_surface(surface_key), layers_of(surface_key), details, 1, "nesterov")
    assert not [tr for tr in fig["data"] if tr.get("name") == "look-ahead point"]


@pytest.mark.parametrize("key,surface_key", [("lookahead", "saddle"), ("ranger", "ravine")])
def test_step_figure_lookahead_shows_the_slow_weights(key, surface_key):
    details = details_of(surface_key, key)
    for t in (1, 3, 5, 6, 11, 12):
        d = details[t - 1]
        fig = step_figure(get_surface(surface_key), layers_of(surface_key), details, t, key)
        slow = trace_named(fig, "slow weights φ")
        assert (slow["x"][0], slow["y"][0]) == d.extras["slow"] == d.state_after["slow"]
    others = step_figure(get_surface("saddle"), layers_of("saddle"), details_of("saddle", "adam"), 3, "adam")
    assert not [tr for tr in others["data"] if tr.get("name") in ("slow weights φ", "look-ahead point")]


@pytest.mark.parametrize("surface_key,key,start", STEP_CASES, ids=[f"{s}-{k}" for s, k, _ in STEP_CASES])
def test_step_figure_zoom_centres_the_current_point(surface_key, key, start):
    surface = get_surface(surface_key)
    details = details_of(surface_key, key, start)
    for t in (1, 7):
        d = details[t - 1]
        fig = step_figure(surface, layers_of(surface_key), details, t, key, zoom=True)
        xr, yr = fig["layout"]["xaxis"]["range"], fig["layout"]["yaxis"]["range"]
        assert (xr[0] + xr[1]) / 2 == pytest.approx(d.position[0], abs=1e-12 * max(1.0, abs(xr[1] - xr[0])))
        assert (yr[0] + yr[1]) / 2 == pytest.approx(d.position[1], abs=1e-12 * max(1.0, abs(yr[1] - yr[0])))
        assert xr[1] > xr[0] and yr[1] > yr[0]
        # everything drawn for this update fits in the zoomed view
        for x0, y0, x1, y1 in arrows(fig).values():
            assert xr[0] <= min(x0, x1) and max(x0, x1) <= xr[1]
            assert yr[0] <= min(y0, y1) and max(y0, y1) <= yr[1]
        whole = step_figure(surface, layers_of(surface_key), details, t, key, zoom=False)
        assert whole["layout"]["xaxis"]["range"] == list(surface.bounds[0])
        assert whole["layout"]["yaxis"]["range"] == list(surface.bounds[1])


def test_step_figure_presenter_mode_is_larger():
    details = details_of("saddle", "adam")
    small = step_figure(get_surface("saddle"), layers_of("saddle"), details, 3, "adam")
    big = step_figure(get_surface("saddle"), layers_of("saddle"), details, 3, "adam", presenter=True)
    valid(big)
    assert big["layout"]["font"]["size"] > small["layout"]["font"]["size"]
    assert big["layout"]["height"] > small["layout"]["height"]


# ---- the state as bars --------------------------------------------------------------------------


def bar_titles(fig):
    return [a["text"] for a in fig["layout"]["annotations"]]


@pytest.mark.parametrize(
    "key,expected",
    [
        ("adam", ["first moment m", "second moment v"]),
        ("amsgrad", ["first moment m", "second moment v", "max v (AMSGrad)"]),
        ("momentum", ["velocity b / u"]),
        ("nesterov", ["velocity b / u"]),
        ("adagrad", ["Σ g² (AdaGrad)"]),
        ("rmsprop", ["E[g²] / v"]),
        ("adadelta", ["E[g²] / v", "E[Δ²]"]),
        ("adamax", ["first moment m", "max |g| (Adamax)"]),
        ("adabound", ["first moment m", "second moment v", "clipped step η̂"]),
        ("rprop", ["previous g (Rprop)", "Rprop step s"]),
        ("lookahead", ["first moment m", "second moment v"]),
        ("sgd", []),
        ("newton", []),
    ],
)
def test_state_bars_show_the_used_state(key, expected):
    details = details_of("saddle", key, (-1.0, 0.5))
    d = details[2]
    fig = state_bars(d)
    valid(fig)
    assert sorted(bar_titles(fig)) == sorted(expected)
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert len(bars) == len(expected)
    # each bar pair is the field's value after the update, x then y
    label_to_field = {v: k for k, v in STATE_LABELS.items()}
    for bar, title in zip(bars, bar_titles(fig)):
        name = next(n for n in d.state_after if n.split(".")[-1] == label_to_field[title])
        assert bar["x"] == ["x", "y"]
        assert bar["y"] == list(d.state_after[name])


def test_plain_adam_has_no_v_max_bars_and_amsgrad_has():
    adam = state_bars(details_of("saddle", "adam", (-1.0, 0.5))[4])
    ams = state_bars(details_of("saddle", "amsgrad", (-1.0, 0.5))[4])
    assert "max v (AMSGrad)" not in bar_titles(adam)
    assert "max v (AMSGrad)" in bar_titles(ams)
    assert details_of("saddle", "adam", (-1.0, 0.5))[4].state_after["v_max"] == (0.0, 0.0)  # the unused slot


def test_state_bars_mark_the_value_before_the_update():
    d = details_of("saddle", "adagrad", (-1.0, 0.5))[3]
    fig = state_bars(d)
    marks = [t for t in fig["data"] if t["type"] == "scatter"]
    assert len(marks) == 1 and marks[0]["y"] == list(d.state_before["sum_sq"])
    assert [t["xaxis"] for t in fig["data"]] == ["x", "x"]


def test_state_bars_first_update_and_non_finite_values():
    d = details_of("saddle", "momentum", (-1.0, 0.5))[0]
    fig = state_bars(d)  # the buffer was 0 before: it is used now
    assert bar_titles(fig) == ["velocity b / u"]
    # a run that left the finite numbers: its bars hold None, not inf/NaN (JSON-safe)
    details = anatomy(get_surface("rosenbrock"), "momentum", steps=200, hparams={"lr": 1.0})
    last = details[-1]
    fig = state_bars(last)
    valid(fig)
    values = [v for t in fig["data"] for v in t["y"]]
    assert all(v is None or math.isfinite(v) for v in values)
    assert None in values
    json.dumps(fig, allow_nan=False)


def test_state_bars_panels_do_not_overlap():
    fig = state_bars(details_of("saddle", "adabound")[5])
    lay = fig["layout"]
    domains = sorted(lay[k]["domain"] for k in lay if k.startswith("xaxis"))
    assert len(domains) == 3
    for (a0, a1), (b0, b1) in zip(domains, domains[1:]):
        assert a0 < a1 <= b0 < b1


def test_a_gradient_step_that_dwarfs_the_step_is_drawn_shortened_and_says_so():
    """L-BFGS at η = 1 on Rosenbrock: −ηg is hundreds of times its first step; zoomed, the view fits the
    step (the surface does not shrink to a dot) and the shortened arrow says by how much."""
    from figures.anatomy import GRADIENT_REACH

    surface = get_surface("rosenbrock")
    details = details_of("rosenbrock", "lbfgs")
    d = details[0]
    fig = step_figure(surface, layers_of("rosenbrock"), details, 1, "lbfgs", zoom=True)
    (label,) = [k for k in arrows(fig) if k.startswith("−ηg")]
    assert label.startswith("−ηg (drawn at "), label
    step = math.hypot(*d.step_vector)
    xr = fig["layout"]["xaxis"]["range"]
    assert (xr[1] - xr[0]) / 2 <= 1.6 * GRADIENT_REACH * step * (1 + 1e-9)
    assert math.hypot(d.lr * d.grad[0], d.lr * d.grad[1]) > 50 * step
    whole = step_figure(surface, layers_of("rosenbrock"), details, 1, "lbfgs", zoom=False)
    assert "−ηg" in arrows(whole), "unzoomed, the arrow is drawn whole"


def test_the_before_dash_of_each_bar_is_black_as_the_caption_says():
    """Plotly draws an open symbol in the marker's colour, not its line's: the colour is set on both."""
    from figures.anatomy import state_bars

    d = details_of("ravine", "adam")[3]
    dashes = [t for t in state_bars(d)["data"] if t.get("type") == "scatter"]
    assert dashes and all(t["marker"]["color"] == "#000" == t["marker"]["line"]["color"] for t in dashes)
