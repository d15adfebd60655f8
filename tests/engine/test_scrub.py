"""engine.sweeps.scrub and figures.scrub: many values of one hyperparameter in one batched call, and
the figure whose in-figure slider switches between them."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from engine import simulate
from engine.sweeps import scrub
from figures.playground import surface_layers
from figures.scrub import nearest_index, scrub_figure, value_label
from optimizers.schedules import make_schedule
from surfaces import get_surface

ROSENBROCK = get_surface("rosenbrock")
VALUES = np.geomspace(1e-4, 3.0, 25)


@pytest.mark.parametrize("key, name", [("adam", "lr"), ("momentum", "momentum"), ("rmsprop", "alpha")])
def test_every_value_equals_its_own_single_run(key, name):
    values = VALUES if name == "lr" else np.linspace(0.5, 0.99, 25)
    base = {"lr": 0.01} if name != "lr" else {}
    schedule = make_schedule("cosine", T_max=300)
    out = scrub(ROSENBROCK, key, name, values, 300, (-1.5, 2.0), base, schedule=schedule, noise=0.1, seed=3)
    assert out.xy.shape == (25, len(out.steps), 2) and out.steps[-1] == 300 and not out.constant
    for v in (0, 7, 24):
        one = simulate(
            ROSENBROCK,
            key,
            start=(-1.5, 2.0),
            steps=300,
            hparams={**base, name: float(values[v])},
            schedule=make_schedule("cosine", T_max=300),
            noise=0.1,
            seed=3,
            device="cpu",
            dtype=torch.float64,
        )
        np.testing.assert_allclose(out.xy[v], one.xy[0, out.steps].numpy(), rtol=1e-12, atol=1e-12)
        assert out.diverged_at[v] == int(one.diverged_at[0])  # exact: every step is computed and checked


def test_an_optimizer_without_the_hyperparameter_is_one_run_drawn_at_every_value():
    out = scrub(ROSENBROCK, "sgd", "beta1", np.linspace(0.5, 0.9, 25), 200)
    assert out.constant and out.xy.shape[0] == 25
    assert all(np.array_equal(out.xy[0], out.xy[v]) for v in range(25))


def test_paths_keep_about_the_asked_number_of_points():
    out = scrub(ROSENBROCK, "adam", "lr", VALUES, 1000, points=151)
    assert 140 <= len(out.steps) <= 152 and out.record_every == 7
    assert out.steps[0] == 0 and out.steps[-1] == 1000 and np.all(np.diff(out.steps[:-1]) == 7)


def test_the_figure_has_one_frame_per_value_and_a_slider_that_animates_without_redraw():
    out = [scrub(ROSENBROCK, k, "lr", VALUES, 300) for k in ("sgd", "adam")]
    layers = surface_layers(ROSENBROCK, ROSENBROCK.grid(40))
    fig = scrub_figure(ROSENBROCK, out, ["SGD", "Adam"], layers, current=0.01)
    go.Figure(fig)
    slider = fig["layout"]["sliders"][0]
    assert len(fig["frames"]) == len(slider["steps"]) == 25
    assert slider["active"] == nearest_index(VALUES, 0.01)
    assert all(s["args"][0] == [f["name"]] for s, f in zip(slider["steps"], fig["frames"]))
    assert all(s["args"][1]["frame"]["redraw"] is False for s in slider["steps"])
    assert fig["layout"]["meta"]["scrub"]["values"] == pytest.approx(list(VALUES))
    # frame v draws exactly the runs of value v (far-off points of a diverging path are gaps)
    for v in (0, 12, 24):
        frame = fig["frames"][v]
        adam_path = frame["data"][2]
        xs = np.array([np.nan if x is None else x for x in adam_path["x"]])
        keep = np.isfinite(xs)
        np.testing.assert_allclose(xs[keep], out[1].xy[v][keep, 0], rtol=1e-5)
    notes = [f["layout"]["annotations"][0]["text"] for f in fig["frames"]]
    diverged = [v for v in range(25) if out[0].diverged_at[v] >= 0]
    assert diverged and all("SGD" in notes[v] for v in diverged)  # a large lr sends SGD out of the view
    assert all("SGD" not in notes[v] for v in range(25) if v not in diverged)


def test_value_labels_and_nearest_index():
    assert [value_label(v) for v in (0.0, 3.2e-5, 0.0316, 12.0, 2e5)] == ["0", "3.2e-5", "0.0316", "12", "2e5"]
    assert nearest_index([0.001, 0.01, 0.1], 0.02) == 1  # log scale: 0.02 is nearer 0.01 than 0.1
    assert nearest_index([0.0, 0.5, 1.0], 0.7) == 1
    assert math.isclose(VALUES[nearest_index(VALUES, 1.0)], 1.0, rel_tol=0.3)
