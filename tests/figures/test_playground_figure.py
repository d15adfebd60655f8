"""figures.playground / figures.small / figures.palette: the Playground's plotly dicts, pure (no Streamlit).

The page hands these dicts to st.plotly_chart through ui.plotly_figure.PrebuiltFigure, which skips
plotly's validation: the checks here that `go.Figure(fig)` accepts every figure are what make that safe.
"""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import simulate
from figures.palette import color_for
from figures.playground import MAX_FRAMES, playground_figure, rounded, run_view, step_values
from figures.small import schedule_preview, surface_3d
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import make_schedule
from surfaces import available_surfaces, get_surface

GRID_N = 160
EIGHT = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "newton", "lion")
PAYLOAD_LIMIT = 1.5e6
SUBNORMAL_BUG = (
    "figures/playground.py rounded: for |v| < ~1e-303 the scale 10**(digits-1-mag) overflows to inf, "
    "so v*inf/inf gives NaN (not the rounded value, not None); paths that converge to exactly 0 "
    "(e.g. the plateau/ravine/saddle lessons at 2,000 steps) then carry NaN into the figure dict"
)


# --- helpers ----------------------------------------------------------------------------------


def make_run(surface, key, steps=200, **kw):
    traj = simulate(surface, key, steps=steps, device="cpu", **kw)
    return run_view(traj, get_optimizer(key).name), traj


def make_runs(surface, keys, steps=200, **kw):
    return [make_run(surface, k, steps, **kw)[0] for k in keys]


def build(surface, runs, **kw):
    return playground_figure(surface, runs, surface.grid(GRID_N), **kw)


def path_traces(fig):
    """The path of each run: the main-axes line traces that belong to a run's legend group."""
    return [t for t in fig["data"] if t.get("xaxis") == "x" and t.get("mode") == "lines" and "legendgroup" in t]


def head_traces(fig):
    return [
        (i, t)
        for i, t in enumerate(fig["data"])
        if t.get("xaxis") == "x" and t.get("mode") == "markers" and "legendgroup" in t
    ]


def loss_traces(fig):
    return [t for t in fig["data"] if t.get("yaxis") == "y2" and t.get("name") != "step"]


def inside(bounds, x, y):
    (x0, x1), (y0, y1) = bounds
    return x0 <= x <= x1 and y0 <= y <= y1


@pytest.fixture(scope="module")
def rosenbrock_eight():
    """8 optimizers × 1,000 steps on Rosenbrock: the heaviest figure the payload test checks."""
    s = get_surface("rosenbrock")
    runs = make_runs(s, EIGHT, steps=1000)
    return s, runs, build(s, runs)


# --- plotly accepts every figure ----------------------------------------------------------------


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("surface_key", available_surfaces())
def test_figure_is_valid_plotly_for_lesson_runs(surface_key, presenter):
    s = get_surface(surface_key)
    runs = make_runs(s, s.lesson_optimizers, steps=150)
    fig = build(s, runs, presenter=presenter)
    go.Figure(fig)  # raises on any property plotly.js does not know
    assert len(path_traces(fig)) == len(runs)


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
@pytest.mark.parametrize("surface_key", ["ravine", "saddle_unbounded", "himmelblau"])
def test_figure_is_valid_plotly_with_no_runs(surface_key, presenter):
    s = get_surface(surface_key)
    fig = build(s, [], presenter=presenter)
    go.Figure(fig)
    assert path_traces(fig) == []
    assert [f["name"] for f in fig["frames"]] == ["0"]


def test_figure_is_valid_plotly_with_eight_runs(rosenbrock_eight):
    _, runs, fig = rosenbrock_eight
    go.Figure(fig)
    paths = path_traces(fig)
    assert len(paths) == 8
    assert all(t["name"].startswith(r.label) for r, t in zip(runs, paths))
    assert [r.label for r in runs] == [get_optimizer(k).name for k in EIGHT]


def test_figure_is_valid_plotly_with_schedule_noise_and_custom_start():
    s = get_surface("ravine", condition=200.0, angle=30.0)
    sched = make_schedule("warmup", inner=make_schedule("cosine", T_max=100), warmup_steps=20)
    runs = make_runs(
        s,
        ("sgd", "adam", "rprop", "diag_newton", "lookahead"),
        steps=120,
        schedule=sched,
        noise=0.2,
        seed=3,
        start=(2.0, -1.0),
    )
    fig = build(s, runs, start=(2.0, -1.0), presenter=True, frame_ms=15)
    go.Figure(fig)
    start = next(t for t in fig["data"] if t.get("name") == "start")
    assert (start["x"], start["y"]) == ([2.0], [-1.0])


# --- payload, frames, no contour traces -----------------------------------------------------------


def test_payload_of_eight_runs_of_1000_steps_is_small(rosenbrock_eight, record_property):
    _, _, fig = rosenbrock_eight
    size = len(json.dumps(fig))
    record_property("payload_bytes", size)
    print(f"\nplayground figure, 8 optimizers × 1,000 steps: {size:,} bytes of JSON")
    assert size < PAYLOAD_LIMIT


def test_frames_are_bounded_and_touch_only_heads_and_cursors(rosenbrock_eight):
    _, runs, fig = rosenbrock_eight
    frames = fig["frames"]
    assert 1 < len(frames) <= MAX_FRAMES
    data = fig["data"]
    protected = {id(t) for t in path_traces(fig)} | {id(t) for t in data if t.get("name") in ("contours", "surface")}
    heads = {i for i, _ in head_traces(fig)}
    assert len(heads) == len(runs)
    for frame in frames:
        assert len(frame["traces"]) == len(frame["data"])
        for index in frame["traces"]:
            trace = data[index]
            assert id(trace) not in protected
            is_head = index in heads and trace["mode"] == "markers" and len(trace["x"]) == 1 == len(trace["y"])
            is_cursor = (
                trace.get("name") == "step" and trace["mode"] == "lines" and trace["xaxis"] in ("x2", "x3", "x4")
            )
            assert is_head or is_cursor, (frame["name"], index, trace.get("name"), trace.get("mode"))
        # cursors move to the frame's step
        for index, d in zip(frame["traces"], frame["data"]):
            if data[index].get("name") == "step":
                assert d["x"] == [int(frame["name"])] * 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # see SUBNORMAL_BUG
@pytest.mark.parametrize("surface_key", available_surfaces())
def test_payload_of_eight_runs_of_1000_steps_on_every_surface(surface_key, record_property):
    s = get_surface(surface_key)
    fig = build(s, make_runs(s, EIGHT, steps=1000))
    size = len(json.dumps(fig))
    record_property("payload_bytes", size)
    assert size < PAYLOAD_LIMIT, f"{size:,} bytes"
    assert len(fig["frames"]) <= MAX_FRAMES


@pytest.mark.parametrize("surface_key", available_surfaces())
def test_no_contour_or_heatmap_traces_and_the_background_is_a_png_image(surface_key):
    s = get_surface(surface_key)
    fig = build(s, make_runs(s, ("sgd", "adam"), steps=50))
    types = {t.get("type") for t in fig["data"]}
    assert types.isdisjoint({"contour", "heatmap", "contourgl", "heatmapgl", "histogram2dcontour"}), types
    for frame in fig["frames"]:
        assert all(d.get("type", "scatter") == "scatter" for d in frame["data"])
    images = fig["layout"]["images"]
    assert len(images) == 1
    image = images[0]
    assert image["source"].startswith("data:image/png;base64,")
    assert image["layer"] == "below"
    (x0, x1), (y0, y1) = s.bounds
    assert (image["x"], image["y"], image["sizex"], image["sizey"]) == (x0, y1, x1 - x0, y1 - y0)


def test_frame_names_are_increasing_steps_from_0_to_the_total(rosenbrock_eight):
    _, _, fig = rosenbrock_eight
    names = [f["name"] for f in fig["frames"]]
    steps = [int(n) for n in names]
    assert names == [str(s) for s in steps]
    assert names[0] == "0" and steps[-1] == 1000
    assert all(a < b for a, b in zip(steps, steps[1:]))
    # the scrubber offers exactly the frames
    slider = fig["layout"]["sliders"][0]
    assert [st["args"][0] for st in slider["steps"]] == [[n] for n in names]


@pytest.mark.parametrize("steps", [1, 7, 119, 120, 121, 333])
def test_frame_names_for_short_and_odd_step_counts(steps):
    s = get_surface("ravine")
    fig = build(s, make_runs(s, ("sgd",), steps=steps))
    got = [int(f["name"]) for f in fig["frames"]]
    assert got[0] == 0 and got[-1] == steps
    assert len(got) == min(steps + 1, MAX_FRAMES)
    assert got == sorted(set(got))


def test_head_markers_follow_each_run(rosenbrock_eight):
    _, runs, fig = rosenbrock_eight
    heads = [i for i, _ in head_traces(fig)]
    for frame in fig["frames"]:
        step = int(frame["name"])
        by_trace = dict(zip(frame["traces"], frame["data"]))
        for run, index in zip(runs, heads):
            d = by_trace[index]
            j = int(np.nonzero(run.steps == step)[0][0])
            # rounded to the figure's 6 significant digits, as the drawn path is
            assert d["x"] == pytest.approx([run.xy[j, 0]], rel=5e-6, abs=1e-12)
            assert d["y"] == pytest.approx([run.xy[j, 1]], rel=5e-6, abs=1e-12)
    # and the static head (before any frame plays) sits on the start
    for run, index in zip(runs, heads):
        t = fig["data"][index]
        assert (t["x"][0], t["y"][0]) == pytest.approx((run.xy[0, 0], run.xy[0, 1]))


def test_head_markers_of_a_run_shorter_than_the_animation_stay_at_its_end():
    s = get_surface("ravine")
    long_run, _ = make_run(s, "adam", steps=200)
    short_run, _ = make_run(s, "sgd", steps=50)
    fig = build(s, [long_run, short_run])
    head = head_traces(fig)[1][0]
    last = fig["frames"][-1]
    d = dict(zip(last["traces"], last["data"]))[head]
    assert (d["x"][0], d["y"][0]) == pytest.approx((short_run.xy[-1, 0], short_run.xy[-1, 1]), rel=5e-6)


# --- paths and divergence --------------------------------------------------------------------


def _python_sgd_divergence(surface, lr, start, steps):
    """First step at which plain-float SGD is non-finite or beyond the view widened by 10 spans."""
    from engine.rollout import FAR_SPANS

    (x0, x1), (y0, y1) = surface.bounds
    wx, wy = FAR_SPANS * (x1 - x0), FAR_SPANS * (y1 - y0)
    import torch

    x, y = start
    for t in range(steps + 1):
        if not (math.isfinite(x) and math.isfinite(y)) or not (x0 - wx <= x <= x1 + wx and y0 - wy <= y <= y1 + wy):
            return t
        g = surface.grad(torch.tensor([x, y], dtype=torch.float64))
        gx, gy = float(g[0]), float(g[1])
        if not (math.isfinite(gx) and math.isfinite(gy)):
            return t
        x, y = x - lr * gx, y - lr * gy
    return -1


DIVERGING = [
    ("rosenbrock", "sgd", 1.0),
    ("rosenbrock", "sgd", 0.01),
    ("rosenbrock", "sgd", 0.003),
    ("ravine", "sgd", 2.5),
    ("saddle_unbounded", "sgd", 0.5),
    ("himmelblau", "sgd", 0.1),
    ("two_wells", "sgd", 1.0),
]
# Runs that leave the view, come back, and only then leave for good.
REENTERING = [("two_wells", "momentum", 0.1), ("beale", "lion", 5.0), ("rastrigin", "newton", 5.0)]


@pytest.mark.parametrize(
    "surface_key, opt, lr", DIVERGING + REENTERING, ids=[f"{s}-{o}-lr{lr}" for s, o, lr in DIVERGING + REENTERING]
)
def test_a_diverged_run_says_so_and_its_path_stops_at_the_view(surface_key, opt, lr):
    s = get_surface(surface_key)
    steps = 300
    run, traj = make_run(s, opt, steps=steps, hparams={"lr": lr})
    k = int(traj.diverged_at[0])
    assert k >= 0, "the case must diverge"
    if opt == "sgd":  # an independent count of the step
        assert k == _python_sgd_divergence(s, lr, s.start, steps)
    fig = build(s, [run])
    (path,) = path_traces(fig)
    assert path["name"] == f"{get_optimizer(opt).name} (diverged at step {k})"
    xs, ys = path["x"], path["y"]
    assert len(xs) == len(ys) >= 1
    assert all(v is not None and math.isfinite(v) for v in xs + ys)
    # the drawn points are the run's first points, all before the divergence
    n = len(xs)
    assert n <= max(k, 1)  # no held point (step >= k) is drawn
    assert xs == pytest.approx(run.xy[:n, 0].tolist(), rel=1e-5, abs=1e-9)
    assert ys == pytest.approx(run.xy[:n, 1].tolist(), rel=1e-5, abs=1e-9)
    assert [c[0] for c in path["customdata"]] == list(range(n))
    # it stops at the first point outside the view after the run left it for good (plus nothing more)
    ins = [inside(s.bounds, *run.xy[j]) for j in range(k)]
    last_in = max((j for j in range(k) if ins[j]), default=None)
    assert n == (1 if last_in is None else min(last_in + 2, k))
    assert n == 1 or not inside(s.bounds, xs[-1], ys[-1]) or n == k
    outside = [j for j in range(k) if not ins[j]]
    if (surface_key, opt, lr) in DIVERGING:  # a run that never comes back: the first exit ends the path
        assert not outside or n <= outside[0] + 2
    else:  # excursions that come back are drawn
        assert outside and n > outside[0] + 2
    go.Figure(fig)


def test_a_run_that_does_not_diverge_draws_every_point_and_no_divergence_label():
    s = get_surface("ravine")
    run, traj = make_run(s, "momentum", steps=250, hparams={"lr": 0.5})
    assert int(traj.diverged_at[0]) == -1
    (path,) = path_traces(build(s, [run]))
    assert path["name"] == "Momentum"
    assert len(path["x"]) == 251
    assert "diverged" not in path["name"]


def test_each_selected_optimizer_has_one_path_named_by_its_display_name():
    s = get_surface("saddle")
    keys = s.lesson_optimizers
    fig = build(s, make_runs(s, keys, steps=100))
    assert [t["name"] for t in path_traces(fig)] == [get_optimizer(k).name for k in keys]


# --- the loss panel ------------------------------------------------------------------------------


@pytest.mark.parametrize("surface_key", [k for k in available_surfaces() if get_surface(k).minima])
def test_loss_panel_is_loss_minus_f_star_on_a_log_axis(surface_key):
    s = get_surface(surface_key)
    runs = make_runs(s, s.lesson_optimizers, steps=100)
    fig = build(s, runs)
    assert fig["layout"]["yaxis2"]["type"] == "log"
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert any("f*" in t and "log" in t for t in texts)
    f_star = min(s.f_at(m) for m in s.minima)
    traces = loss_traces(fig)
    assert len(traces) == len(runs)
    for run, t in zip(runs, traces):
        assert step_values(t) == run.steps.tolist()
        expected = np.maximum(run.loss - f_star, 1e-16)
        assert t["y"] == pytest.approx(expected.tolist(), rel=1e-5)
        assert all(v > 0 for v in t["y"])


def test_loss_panel_is_raw_loss_on_a_linear_axis_without_minima():
    s = get_surface("saddle_unbounded")
    assert not s.minima
    runs = make_runs(s, s.lesson_optimizers, steps=100)
    fig = build(s, runs)
    assert fig["layout"]["yaxis2"]["type"] == "linear"
    texts = [a["text"] for a in fig["layout"]["annotations"]]
    assert any(t == "<b>loss</b>" for t in texts), texts
    for run, t in zip(runs, loss_traces(fig)):
        assert t["y"] == pytest.approx(run.loss.tolist(), rel=1e-5, abs=1e-12)
    assert any(v < 0 for t in loss_traces(fig) for v in t["y"])  # the escape goes below zero
    go.Figure(fig)


# --- colours ---------------------------------------------------------------------------------------


def test_every_registered_optimizer_has_its_own_colour():
    colours = [color_for(k, i) for i, k in enumerate(available_optimizers())]
    assert len(set(c.lower() for c in colours)) == len(colours), dict(zip(available_optimizers(), colours))
    # and it does not depend on the position
    for k in available_optimizers():
        assert color_for(k, 0) == color_for(k, 7)


def test_an_optimizer_keeps_its_colour_whatever_else_is_selected():
    s = get_surface("ravine")
    a = build(s, make_runs(s, ("sgd", "adam"), steps=30))
    b = build(s, make_runs(s, ("rmsprop", "lion", "adam", "newton", "sgd"), steps=30))
    col_a = {t["name"]: t["line"]["color"] for t in path_traces(a)}
    col_b = {t["name"]: t["line"]["color"] for t in path_traces(b)}
    assert col_a["Adam"] == col_b["Adam"] == color_for("adam")
    assert col_a["SGD"] == col_b["SGD"] == color_for("sgd")
    # the head markers and step-panel lines share the path's colour
    for fig in (a, b):
        for run_path, (_, head) in zip(path_traces(fig), head_traces(fig)):
            assert head["marker"]["color"] == run_path["line"]["color"]


# --- small figures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, params",
    [
        ("constant", {}),
        ("cosine", {"T_max": 100}),
        ("step", {"step_size": 30}),
        ("exponential", {"r": 50.0}),
        ("reciprocal", {}),
    ],
)
def test_schedule_preview_is_valid_plotly(key, params):
    values = make_schedule(key, **params).values(200).numpy()
    fig = schedule_preview(values)
    go.Figure(fig)
    assert len(fig["data"][0]["y"]) == 200


def test_schedule_preview_of_a_warmup_is_valid_plotly():
    sched = make_schedule("warmup", inner=make_schedule("cosine", T_max=150), warmup_steps=30)
    go.Figure(schedule_preview(sched.values(300).numpy()))


@pytest.mark.parametrize("presenter", [False, True])
@pytest.mark.parametrize("surface_key", ["ravine", "rosenbrock", "saddle_unbounded", "himmelblau"])
def test_surface_3d_is_valid_plotly(surface_key, presenter):
    s = get_surface(surface_key)
    runs = make_runs(s, ("sgd", "adam"), steps=80)
    runs.append(make_run(s, "sgd", steps=80, hparams={"lr": 5.0})[0])  # likely diverged
    fig = surface_3d(s, runs, s.grid(GRID_N), presenter=presenter)
    go.Figure(fig)
    assert fig["data"][0]["type"] == "surface"
    assert len(fig["data"]) == 1 + len(runs)
    for t in fig["data"][1:]:
        assert all(v is not None for v in t["x"] + t["y"] + t["z"])


def test_surface_3d_with_no_runs_is_valid_plotly():
    s = get_surface("beale")
    go.Figure(surface_3d(s, [], s.grid(GRID_N)))


# --- rounded ----------------------------------------------------------------------------------------------


def test_r_keeps_the_shape_of_2d_arrays():
    a = np.arange(12, dtype=float).reshape(3, 4) / 7
    out = rounded(a)
    assert isinstance(out, list) and len(out) == 3 and all(isinstance(row, list) and len(row) == 4 for row in out)
    assert out[1][2] == pytest.approx(a[1, 2], rel=1e-5)


def test_r_keeps_1d_arrays_flat_and_accepts_lists():
    assert rounded([1.0, 2.0, 3.0]) == [1.0, 2.0, 3.0]
    assert rounded(np.array([0.5])) == [0.5]
    assert rounded([]) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        (123456789.0, 123457000.0),
        (1.23456789, 1.23457),
        (-1.23456789, -1.23457),
        (0.000123456789, 0.000123457),
        (1.23456789e-12, 1.23457e-12),
        (9.999996, 10.0),
        (0.0, 0.0),
        (-0.0, 0.0),
        (1e300, 1e300),
        (1e-300, 1e-300),
        (7, 7.0),
        pytest.param(1e-305, 1e-305, id="1e-305"),
        pytest.param(5e-324, 5e-324, id="5e-324"),
        pytest.param(-2.5e-310, -2.5e-310, id="-2.5e-310"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_r_rounds_to_six_significant_digits(value, expected):
    (got,) = rounded([value])
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert isinstance(got, float)


def test_r_matches_six_digit_formatting_on_random_values():
    rng = np.random.default_rng(0)
    values = rng.standard_normal(2000) * 10.0 ** rng.integers(-20, 20, 2000)
    got = rounded(values)
    exact = 0
    for v, g in zip(values, got):
        assert g == pytest.approx(float(f"{v:.5e}"), rel=2e-6)  # within one unit in the 6th digit
        exact += g == pytest.approx(float(f"{v:.5e}"), rel=1e-12)
    assert exact >= 0.99 * len(values)  # differs only on (binary) ties


def test_r_maps_nan_and_inf_to_none_in_1d_and_2d():
    assert rounded([1.0, float("nan"), float("inf"), -float("inf")]) == [1.0, None, None, None]
    assert rounded(np.array([[np.nan, 2.0], [3.0, np.inf]])) == [[None, 2.0], [3.0, None]]
    json.dumps(rounded([np.nan, np.inf]))  # None is JSON null; NaN would be invalid JSON


def test_figures_are_strict_json():
    """No NaN or Infinity in the payload: a browser's JSON.parse refuses them."""
    s = get_surface("rosenbrock")
    runs = make_runs(s, ("diag_newton", "sgd", "rprop"), steps=200)
    runs.append(make_run(s, "sgd", steps=200, hparams={"lr": 0.01})[0])
    fig = build(s, runs)
    json.dumps(fig, allow_nan=False)
    json.dumps(surface_3d(s, runs, s.grid(GRID_N)), allow_nan=False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_path_that_converges_to_exactly_zero_gives_no_nan():
    """Lesson scenes run for 2,000 steps (a Steps choice) converge to the origin through subnormals."""
    s = get_surface("plateau")
    runs = [make_run(s, k, steps=2000, hparams=dict(s.lesson_hparams.get(k, {})))[0] for k in s.lesson_optimizers]
    fig = build(s, runs)
    values = [v for t in fig["data"] for key in ("x", "y") for v in (t.get(key) or []) if isinstance(v, float)]
    assert not any(math.isnan(v) for v in values)
    json.dumps(fig, allow_nan=False)


# --- contour lines: simplified within a quarter pixel -----------------------------------------------


def _distance_to_polyline(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    a, b = line[:-1], line[1:]
    d = b - a
    t = np.clip(((points[:, None, :] - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-300), 0.0, 1.0)
    nearest = a + t[..., None] * d
    return np.linalg.norm(points[:, None, :] - nearest, axis=-1).min(axis=1)


def test_simplified_line_stays_within_the_tolerance_of_every_original_point():
    from figures.playground import simplified

    theta = np.linspace(0.0, 2 * np.pi, 2000)
    wobbly = np.column_stack([np.cos(theta) + 0.01 * np.sin(40 * theta), 0.5 * np.sin(theta)])
    line = simplified(wobbly, (1e-3, 1e-3))
    assert line[0].tolist() == wobbly[0].tolist() and line[-1].tolist() == wobbly[-1].tolist()
    assert 20 < len(line) < 1000
    assert _distance_to_polyline(wobbly, line).max() <= 1e-3 * 1.0000001
    straight = np.column_stack([np.linspace(0, 1, 500), np.linspace(0, 2, 500)])
    assert simplified(straight, (1e-9, 1e-9)).tolist() == [[0.0, 0.0], [1.0, 2.0]]


def test_contour_lines_of_a_smooth_surface_are_few_points_and_the_same_picture():
    import contourpy

    from figures.playground import ISOLINE_TOLERANCE, isolines, surface_background

    s = get_surface("ravine")
    xs, ys, z = s.grid(160)
    background = surface_background(xs, ys, z)
    lx, ly = isolines(xs, ys, background)
    assert sum(v is not None for v in lx) < 1500  # the marching squares give 6,571
    drawn = [np.array(part) for part in _split_on_none(lx, ly)]
    gen = contourpy.contour_generator(xs, ys, background, line_type=contourpy.LineType.Separate)
    levels = np.linspace(0.0, 1.0, 22)[1:-1]
    originals = [seg for level in levels for seg in gen.lines(level) if len(seg) > 1]
    assert len(drawn) == len(originals)
    span = np.array([xs[-1] - xs[0], ys[-1] - ys[0]])
    for seg, line in zip(originals, drawn):
        # within the tolerance plus the 4 significant digits the figure keeps
        assert (_distance_to_polyline(seg / span, line / span) <= ISOLINE_TOLERANCE * 1.5 + 1e-4).all()


def _split_on_none(xs, ys):
    part = []
    for x, y in zip(xs, ys):
        if x is None:
            yield part
            part = []
        else:
            part.append((x, y))


# --- the learning-rate panel: flat stretches sent as their two ends -----------------------------------


@pytest.mark.parametrize("schedule", [None, ("step", dict(step_size=40, gamma=0.5)), ("cosine", {})])
def test_lr_lines_drop_only_points_inside_flat_stretches(schedule):
    s = get_surface("ravine")
    sched = make_schedule(schedule[0], **schedule[1]) if schedule else None
    run, _ = make_run(s, "sgd", steps=200, schedule=sched)
    fig = build(s, [run])
    eta = next(t for t in fig["data"] if t.get("xaxis") == "x4" and t["line"].get("dash") == "dot")
    want = np.array(rounded(run.lr), dtype=float)
    # the drawn line, read back at every step, is the learning rate at every step
    np.testing.assert_array_equal(np.interp(run.steps[: len(run.lr)], step_values(eta), eta["y"]), want)
    flat = len(np.unique(want)) == 1
    assert (len(eta["y"]) == 2) == flat
    if schedule and schedule[0] == "step":
        assert len(eta["y"]) == 2 * len(np.unique(want))  # each stretch by its two ends
    if schedule and schedule[0] == "cosine":
        assert len(eta["y"]) > 150 and "x0" in eta  # nothing dropped: evenly spaced, sent as x0 and dx


def test_step_axis_sends_evenly_spaced_steps_as_x0_and_dx():
    from figures.playground import step_axis

    assert step_axis([0, 1, 2, 3]) == {"x0": 0, "dx": 1}
    assert step_axis([0, 5, 10]) == {"x0": 0, "dx": 5}
    assert step_axis([0, 1, 3]) == {"x": [0, 1, 3]}
    assert step_axis([0, 7]) == {"x": [0, 7]}  # two points: the list is as short
    for steps in ([0, 1, 2, 3], [0, 5, 10], [0, 1, 3]):
        assert step_values({**step_axis(steps), "y": [1.0] * len(steps)}) == steps
