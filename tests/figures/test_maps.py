"""figures.maps: the sweep pages' plotly dicts, pure (no Streamlit).

Pages hand these dicts to st.plotly_chart unvalidated (ui.plotly_figure.PrebuiltFigure): each test
checks that `go.Figure(fig)` accepts the figure, then what it shows.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from engine import sweeps as S
from figures import maps as M
from figures.palette import color_for
from figures.playground import surface_layers
from surfaces import get_surface

PAYLOAD_LIMIT = 1.5e6


def valid(fig: dict) -> dict:
    go.Figure(fig)  # raises on anything plotly's schema refuses
    json.dumps(fig, allow_nan=False)  # no NaN/inf reaches the browser
    return fig


@pytest.fixture(scope="module")
def momentum_map():
    vx, vy = S.hparam_grid("momentum", "lr", "momentum", 12, 10, {"lr": (1e-4, 0.1)})
    return S.sweep_2d("rosenbrock", "momentum", "lr", "momentum", vx, vy, 200, tol=1e-2)


@pytest.fixture(scope="module")
def himmelblau():
    s = get_surface("himmelblau")
    return s, surface_layers(s, s.grid(80))


# --- hyperparameter heatmap -------------------------------------------------------------------------


def trace(fig, name):
    found = [t for t in fig["data"] if t.get("name") == name]
    assert found, [t.get("name") for t in fig["data"]]
    return found[0]


@pytest.mark.parametrize("objective", S.OBJECTIVES)
def test_hparam_heatmap_is_valid_and_marks_the_best_cell(momentum_map, objective):
    res = momentum_map
    assert res.diverged.any() and (~res.diverged).any()  # both kinds of cell are on this map
    fig = valid(
        M.hparam_heatmap(
            res, objective, x_param=S.find_param("momentum", "lr"), y_param=S.find_param("momentum", "momentum")
        )
    )
    heat = trace(fig, "outcome")
    assert heat["type"] == "heatmap" and len(heat["z"]) == 10 and len(heat["z"][0]) == 12
    # diverged cells are empty in the colour layer and painted by the grey overlay
    grey = trace(fig, "diverged")
    for r in range(10):
        for c in range(12):
            assert (heat["z"][r][c] is None) >= bool(res.diverged[r, c])
            assert (grey["z"][r][c] == 1) == bool(res.diverged[r, c])
    best = trace(fig, "best cell")
    row, col = res.best(objective)
    assert (best["x"], best["y"]) == ([col], [row])
    assert not res.diverged[row, col]


def test_hparam_heatmap_colour_is_log_gap_and_hover_gives_values_and_outcome(momentum_map):
    res = momentum_map
    fig = M.hparam_heatmap(res, "final_loss")
    heat = trace(fig, "outcome")
    r, c = np.argwhere(~res.diverged)[0]
    assert heat["z"][r][c] == pytest.approx(np.log10(max(res.gap[r, c], M.GAP_FLOOR)), abs=1e-3)
    assert "log₁₀" in heat["colorbar"]["title"]["text"]
    cells = trace(fig, M.CELL_TRACE_NAME)
    assert len(cells["x"]) == 120 and cells["marker"]["opacity"] == 0
    i = r * 12 + c
    assert cells["customdata"][i] == [c, r]
    assert M.fmt(res.values_x[c]) in cells["text"][i] and M.fmt(res.values_y[r]) in cells["text"][i]
    assert res.outcome(r, c) in cells["text"][i]
    d = np.argwhere(res.diverged)[0]
    assert "diverged at step" in cells["text"][d[0] * 12 + d[1]]
    assert any(t.get("name") == "diverged" and t["type"] == "scatter" for t in fig["data"])  # legend note


def test_hparam_heatmap_log_axis_ticks_sit_at_round_values(momentum_map):
    fig = M.hparam_heatmap(momentum_map)
    xa = fig["layout"]["xaxis"]
    assert "log scale" in xa["title"]["text"]
    assert xa["ticktext"][:2] == ["1e-4", "0.001"] and xa["tickvals"][0] == 0
    assert xa["tickvals"][-1] == pytest.approx(11)  # 0.1 is the last value, at index 11
    ya = fig["layout"]["yaxis"]
    assert "log" not in ya["title"]["text"]
    for v, t in zip(ya["tickvals"], ya["ticktext"]):
        assert 0 <= v <= 9 and float(t) == pytest.approx(momentum_map.values_y[0] + v / 9 * 0.99, abs=1e-4)


def test_steps_objective_paints_runs_that_never_reach_the_tolerance():
    res = S.sweep_2d("ravine", "sgd", "lr", "weight_decay", np.geomspace(1e-3, 1, 6), [0.0, 0.5], 100, tol=1e-3)
    assert ((res.steps_to_tol < 0) & ~res.diverged).any()
    fig = valid(M.hparam_heatmap(res, "steps_to_tol"))
    assert trace(fig, "never below tol")["type"] == "heatmap"
    assert "steps to" in trace(fig, "outcome")["colorbar"]["title"]["text"]


def test_index_ticks():
    vals, text = M.index_ticks(np.geomspace(1e-4, 10, 41), True)
    assert text == ["1e-4", "0.001", "0.01", "0.1", "1", "10"]
    np.testing.assert_allclose(vals, [0, 8, 16, 24, 32, 40], atol=1e-3)
    vals, text = M.index_ticks(np.linspace(0, 0.99, 34), False)
    assert text[0] == "0" and all(0 <= v <= 33 for v in vals)
    assert M.index_ticks(np.array([0.5]), False) == ([0], ["0.5"])


# --- lr curves --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("objective", S.OBJECTIVES)
def test_lr_curves_are_valid_with_each_best_lr_marked(objective):
    sweeps = S.sweep_lr("ravine", ["sgd", "adam"], steps=100, tol=1e-3)
    fig = valid(M.lr_curves(sweeps, objective, names={"sgd": "SGD", "adam": "Adam"}))
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert fig["layout"]["yaxis"]["type"] == ("log" if objective == "final_loss" else "linear")
    for key, sweep in sweeps.items():
        lines = [t for t in fig["data"] if t.get("legendgroup") == key and t["mode"] == "lines+markers"]
        assert len(lines) == 1 and lines[0]["line"]["color"] == color_for(key)
        star = [t for t in fig["data"] if t.get("name", "").endswith(": best") and t.get("legendgroup") == key]
        assert star and star[0]["x"] == [pytest.approx(sweep.best_lr(objective))]
        assert M.fmt(sweep.best_lr(objective)) in lines[0]["name"]
        if sweep.diverged.any():
            crosses = [t for t in fig["data"] if t.get("name") == f"{'SGD' if key == 'sgd' else 'Adam'}: diverged"]
            assert len(crosses[0]["x"]) == int(sweep.diverged.sum())


# --- basin maps ---------------------------------------------------------------------------------------------


def test_basin_map_one_panel_per_optimizer_coloured_by_basin(himmelblau):
    s, layers = himmelblau
    results = [
        S.basins(s, k, hp, 24, 150) for k, hp in (("sgd", {"lr": 0.005}), ("adam", {"lr": 0.1}), ("sgd", {"lr": 0.5}))
    ]
    assert (results[2].label == S.DIVERGED).all()
    fig = valid(M.basin_map(results, s, layers, titles=["SGD", "Adam", "SGD (too large a step)"]))
    heat = [t for t in fig["data"] if t["type"] == "heatmap" and t.get("name") != "hover"]
    assert len(heat) == 3 and {t["xaxis"] for t in heat} == {"x", "x2", "x3"}
    code, colours = M.basin_codes(results[0])
    assert heat[0]["z"] == code.tolist()
    assert colours[:2] == [M.DIVERGED_COLOR, M.NOT_CONVERGED_COLOR] and len(colours) == 6
    for r in range(24):  # colour code = label + 2 for labelled runs
        for c in range(24):
            lab = results[0].label[r, c]
            assert heat[0]["z"][r][c] == (lab + 2 if lab >= 0 else (0 if lab == -2 else 1))
    assert all(v == 0 for row in heat[2]["z"] for v in row)  # every run diverged: dark grey
    names = [t["name"] for t in fig["data"] if t["type"] == "scatter" and t.get("showlegend")]
    assert "not converged" in names and "diverged" in names and any(n.startswith("A (") for n in names)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["<b>SGD</b>", "<b>Adam</b>", "<b>SGD (too large a step)</b>"]


def test_basin_map_hover_gives_the_start_and_the_outcome(himmelblau):
    s, layers = himmelblau
    res = S.basins(s, "sgd", {"lr": 0.005}, 24, 150)
    fig = M.basin_map([res], s, layers)
    hover = trace(fig, "hover")
    assert (
        hover["x"] == pytest.approx(res.xs.tolist(), rel=1e-5)
        and "start (%{x:.2f}, %{y:.2f})" in hover["hovertemplate"]
    )
    r, c = 3, 17
    names = M.attractor_names(res)
    assert hover["text"][r][c].startswith(f"→ {names[res.label[r, c]]}")


def test_big_basin_maps_hover_on_a_subgrid_and_stay_small(himmelblau):
    s, layers = himmelblau
    results = [S.basins(s, "adam", {"lr": 0.1}, 200, 60) for _ in range(2)]
    fig = valid(M.basin_map(results, s, layers))
    hover = trace(fig, "hover")
    assert len(hover["x"]) <= M.HOVER_MAX and len(hover["text"]) == len(hover["y"])
    assert len(json.dumps(fig)) < 2.5 * PAYLOAD_LIMIT


def test_basin_map_steps_mode_and_lattice_surfaces():
    s = get_surface("rastrigin")
    res = S.basins(s, "sgd", {"lr": 0.001}, 30, 200)
    layers = surface_layers(s, s.grid(60))
    fig = valid(M.basin_map([res], s, layers))
    code, colours = M.basin_codes(res)
    assert len(colours) == 2 + M.LATTICE_COLORS
    # neighbouring lattice basins never share a colour
    for a, b in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        assert (a + 2 * b) % M.LATTICE_COLORS != 0
    stars = trace(fig, "minima")
    assert stars["x"] == [0.0] and stars["text"] == ["global"]
    steps_fig = valid(M.basin_map([res], s, layers, color_by="steps"))
    heat = [t for t in steps_fig["data"] if t["type"] == "heatmap" and t.get("name") not in ("hover", "unlabelled")][0]
    assert "steps to converge" in heat["colorbar"]["title"]["text"]


def test_basin_map_payload_for_the_default_page(himmelblau):
    s, layers = himmelblau
    results = [S.basins(s, "adam", {"lr": 0.1}, 128, 20) for _ in range(4)]
    assert len(json.dumps(M.basin_map(results, s, layers))) < PAYLOAD_LIMIT


# --- noisy clouds ---------------------------------------------------------------------------------------------


def test_cloud_figure_draws_faint_runs_and_a_bold_median_over_the_surface_image():
    s = get_surface("ravine")
    layers = surface_layers(s, s.grid(80))
    clouds = [
        S.noisy_cloud(s, "sgd", {"lr": 0.3}, 12, 80, 0.5, 0),
        S.noisy_cloud(s, "adam", {"lr": 0.1}, 12, 80, 0.5, 0),
    ]
    fig = valid(M.cloud_figure(s, clouds, layers, names={"sgd": "SGD", "adam": "Adam"}))
    assert {t["type"] for t in fig["data"]} == {"scatter"}  # no contour or heatmap traces
    assert fig["layout"]["images"][0]["source"].startswith("data:image/png;base64,")
    faint = trace(fig, "SGD: 12 runs")
    assert faint["opacity"] < 0.5 and faint["line"]["color"] == color_for("sgd")
    assert sum(v is None for v in faint["x"]) == 12  # one break after each run
    median = trace(fig, "SGD: median path")
    assert median["line"]["width"] > faint["line"]["width"]
    np.testing.assert_allclose(median["x"], clouds[0].median[:, 0], rtol=1e-5, atol=1e-9)
    loss = [t for t in fig["data"] if t.get("yaxis") == "y2"]
    assert len(loss) == 4 and fig["layout"]["yaxis2"]["type"] == "log"


def test_cloud_figure_cuts_diverged_runs():
    s = get_surface("ravine")
    layers = surface_layers(s, s.grid(60))
    cloud = S.noisy_cloud(s, "sgd", {"lr": 2.5}, 5, 60, 0.1, 0)
    assert (cloud.diverged_at >= 0).all()
    fig = valid(M.cloud_figure(s, [cloud], layers))
    faint = [t for t in fig["data"] if t.get("name", "").startswith("sgd: 5 runs")][0]
    assert "5 diverged" in faint["name"]
    assert len(faint["x"]) < 5 * len(cloud.steps)


def test_big_clouds_draw_a_sample_of_runs_and_stay_small():
    s = get_surface("ravine")
    layers = surface_layers(s, s.grid(60))
    clouds = [S.noisy_cloud(s, k, {}, 1000, 500, 0.5, 0) for k in ("sgd", "adam")]
    fig = valid(M.cloud_figure(s, clouds, layers))
    faint = [t for t in fig["data"] if t.get("name", "").startswith("sgd: 1000 runs")][0]
    assert f"({M.MAX_CLOUD_PATHS} drawn)" in faint["name"]
    assert sum(v is None for v in faint["x"]) == M.MAX_CLOUD_PATHS
    assert len(json.dumps(fig)) < 2 * PAYLOAD_LIMIT
