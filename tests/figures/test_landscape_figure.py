"""figures.landscape: the Real network page's plotly dict, pure (no Streamlit).

Small landscapes (hidden 8, 60 steps, 17 × 17) keep these fast; the figure does not depend on the size.
Each figure is checked against plotly's schema (go.Figure) and for NaN-free JSON, then for what it shows.
"""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from engine.landscape import landscape
from figures.landscape import MAX_PATH_POINTS, landscape_figure, legend_name
from figures.palette import color_for
from optimizers import get_optimizer

KEYS = ("sgd", "momentum", "adam")
HP = {"sgd": {"lr": 0.5}, "momentum": {"lr": 0.1}, "adam": {"lr": 0.01}}


def valid(fig: dict) -> dict:
    go.Figure(fig)  # raises on anything plotly's schema refuses
    json.dumps(fig, allow_nan=False)
    return fig


def names(keys):
    return {k: get_optimizer(k).name for k in keys}


def colors(keys):
    return {k: color_for(k, i) for i, k in enumerate(keys)}


@pytest.fixture(scope="module")
def scape():
    return landscape(list(KEYS), steps=60, grid=17, hparams=HP, hidden=8)


@pytest.fixture(scope="module")
def fig(scape):
    return valid(landscape_figure(scape, names(KEYS), colors(KEYS)))


def by_name(fig, name):
    found = [t for t in fig["data"] if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in fig["data"]]
    return found[0]


def test_the_contour_is_the_engines_grid_in_log10_with_the_loss_in_the_hover(scape, fig):
    contour = by_name(fig, "training loss on the plane")
    assert contour["type"] == "contour"
    assert len(contour["x"]) == len(contour["y"]) == 17
    np.testing.assert_allclose(contour["x"], scape.a.numpy(), rtol=1e-5)
    np.testing.assert_allclose(contour["y"], scape.b.numpy(), rtol=1e-5)
    z = np.array(contour["z"], dtype=float)
    assert z.shape == (17, 17)  # z[i][j] at (a[j], b[i]), as the engine's loss
    np.testing.assert_allclose(10**z, scape.loss.numpy(), rtol=1e-4)
    np.testing.assert_allclose(np.array(contour["customdata"], dtype=float), scape.loss.numpy(), rtol=1e-3)
    # the colour bar speaks loss values, not logarithms
    bar = contour["colorbar"]
    assert bar["ticktext"] and all(float(t) > 0 for t in bar["ticktext"])
    np.testing.assert_allclose([10**v for v in bar["tickvals"]], [float(t) for t in bar["ticktext"]], rtol=1e-9)


def test_every_path_is_drawn_in_its_optimizers_colour_with_its_off_plane_share(scape, fig):
    for key in KEYS:
        name = get_optimizer(key).name
        path = by_name(fig, legend_name(name, key, scape.paths[key], scape.plane))
        assert path["line"]["color"] == color_for(key)
        np.testing.assert_allclose(path["x"], scape.paths[key].a.numpy(), rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(path["y"], scape.paths[key].b.numpy(), rtol=1e-5, atol=1e-9)
    adam = scape.paths["adam"]
    assert by_name(fig, f"Adam · {100 * adam.off_share:.0f}% off the plane")
    assert by_name(fig, "SGD · θ_A: defines the plane") and by_name(fig, "Momentum · θ_B: defines the plane")


def test_start_and_ends_are_marked_the_plane_ends_as_stars_on_the_plane(scape, fig):
    start = by_name(fig, "θ₀: start, shared")
    assert (start["x"], start["y"]) == ([0.0], [0.0])
    for key in KEYS:
        end = by_name(fig, f"{get_optimizer(key).name} end")
        p = scape.paths[key]
        assert end["x"][0] == pytest.approx(float(p.a[-1]), rel=1e-5)
        assert end["y"][0] == pytest.approx(float(p.b[-1]), rel=1e-5, abs=1e-9)
        assert end["marker"]["symbol"] == ("star" if key in scape.plane else "circle")
    assert by_name(fig, "SGD end")["text"] == ["θ_A"]
    assert by_name(fig, "Momentum end")["text"] == ["θ_B"]
    assert "on the plane" in by_name(fig, "SGD end")["hovertemplate"]


def test_loss_curves_training_solid_held_out_dashed_on_a_log_axis(scape, fig):
    for key in KEYS:
        name = get_optimizer(key).name
        train, held = by_name(fig, f"{name} training loss"), by_name(fig, f"{name} held-out loss")
        assert (train["xaxis"], held["xaxis"]) == ("x2", "x2")
        assert train["line"]["dash"] == "solid" and held["line"]["dash"] == "dash"
        assert train["line"]["color"] == held["line"]["color"] == color_for(key)
        assert train["x"] == list(range(61))
        np.testing.assert_allclose(train["y"], scape.paths[key].loss.numpy(), rtol=1e-4)
        np.testing.assert_allclose(held["y"], scape.paths[key].held_out_loss.numpy(), rtol=1e-4)
    layout = fig["layout"]
    assert layout["yaxis2"]["type"] == "log"
    assert "θ_A − θ₀" in layout["xaxis"]["title"]["text"] and "SGD" in layout["xaxis"]["title"]["text"]
    assert "θ_B" in layout["yaxis"]["title"]["text"] and "orthogonal" in layout["yaxis"]["title"]["text"]


def test_the_plane_swaps_when_another_pair_defines_it():
    scape = landscape(list(KEYS), steps=40, grid=15, hparams=HP, hidden=8, plane_of=("adam", "sgd"))
    fig = valid(landscape_figure(scape, names(KEYS), colors(KEYS)))
    assert by_name(fig, "Adam · θ_A: defines the plane")
    assert by_name(fig, "SGD · θ_B: defines the plane")
    assert "Adam" in fig["layout"]["xaxis"]["title"]["text"]
    assert by_name(fig, f"Momentum · {100 * scape.paths['momentum'].off_share:.0f}% off the plane")


def test_presenter_mode_has_larger_text_and_lines(scape, fig):
    big = valid(landscape_figure(scape, names(KEYS), colors(KEYS), presenter=True))
    assert big["layout"]["font"]["size"] > fig["layout"]["font"]["size"]
    assert big["layout"]["height"] > fig["layout"]["height"]


def test_default_size_figure_stays_small_and_paths_are_thinned():
    """41 × 41 and 4 optimizers × 1,000 steps: each path at most MAX_PATH_POINTS points, the figure
    well under 1 MB. Built from a synthetic landscape (the figure only reads the arrays)."""
    from engine.landscape import Landscape, PathOnPlane

    g = torch.Generator().manual_seed(0)
    grid, steps = 41, 1000
    keys = ("sgd", "momentum", "adam", "rmsprop")
    paths = {
        k: PathOnPlane(
            torch.arange(steps + 1),
            torch.cumsum(torch.rand(steps + 1, generator=g, dtype=torch.float64), 0),
            torch.randn(steps + 1, generator=g, dtype=torch.float64),
            torch.rand(steps + 1, generator=g) + 0.01,
            torch.rand(steps + 1, generator=g) + 0.01,
            torch.rand(steps + 1, generator=g, dtype=torch.float64),
            0.0 if k in ("sgd", "momentum") else 0.7,
            0.95,
        )
        for k in keys
    }
    loss = torch.rand(grid, grid, generator=g, dtype=torch.float64) * 3 + 0.01
    scape = Landscape(
        torch.linspace(0, 1000, grid, dtype=torch.float64),
        torch.linspace(-3, 3, grid, dtype=torch.float64),
        loss,
        paths,
        ("sgd", "momentum"),
    )
    fig = valid(landscape_figure(scape, names(keys), colors(keys)))
    for t in fig["data"]:
        if t["type"] == "scatter":
            assert len(t["x"]) <= MAX_PATH_POINTS
    rms = by_name(fig, "RMSprop · 70% off the plane")
    assert rms["customdata"][0][0] == 0 and rms["customdata"][-1][0] == steps  # first and last kept
    assert len(json.dumps(fig)) < 500_000


def test_a_non_finite_grid_value_becomes_a_gap_not_a_nan():
    from engine.landscape import Landscape, PathOnPlane

    n = 3
    path = PathOnPlane(
        torch.arange(n), torch.zeros(n), torch.zeros(n), torch.ones(n), torch.ones(n), torch.zeros(n), 0.0, math.nan
    )
    loss = torch.ones(5, 5, dtype=torch.float64)
    loss[2, 2] = math.inf
    scape = Landscape(
        torch.linspace(0, 1, 5), torch.linspace(0, 1, 5), loss, {"sgd": path, "adam": path}, ("sgd", "adam")
    )
    fig = valid(landscape_figure(scape, names(("sgd", "adam")), colors(("sgd", "adam"))))
    assert by_name(fig, "training loss on the plane")["z"][2][2] is None


def test_the_random_slice_figure_is_its_grid_with_the_centre_marked():
    from engine import landscape as L
    from figures.landscape import random_slice_figure

    trained = L.train(["sgd", "adam"], steps=10, hidden=8)
    rs = L.random_slice("adam", trained, grid=7, span=0.5, seed=1)
    fig = random_slice_figure(rs, "Adam")
    go.Figure(fig)  # valid plotly
    contour = next(t for t in fig["data"] if t["type"] == "contour")
    np.testing.assert_allclose(np.array(contour["customdata"], dtype=float), rs.loss.numpy(), rtol=1e-3)
    assert contour["x"] == pytest.approx([-0.5, -1 / 3, -1 / 6, 0.0, 1 / 6, 1 / 3, 0.5], rel=1e-5, abs=0)
    assert contour["x"][3] == 0.0  # the middle node is the centre itself
    star = fig["data"][1]
    assert (star["x"], star["y"], star["name"]) == ([0.0], [0.0], "Adam's final weights")
    assert [t["type"] for t in fig["data"]] == ["contour", "scatter"]  # no paths on random directions
