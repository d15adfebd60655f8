"""The live figure's wire format (ui/live_figure.py): a figure cut into parts named by digests, only the
parts the browser lacks sent, frames as columns, the slider's animate steps rebuilt from frame names.
`assemble` is the browser's reading in Python (ui/live_figure.js does the same in the page; the
browser tests check that side)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from engine import simulate
from figures.playground import playground_figure, run_view
from surfaces import get_surface
from ui.live_figure import assemble, clicked_point, encode
from ui.plotly_figure import plain_arrays, with_typed_arrays

CLICK = 2  # figures/playground.py: the click grid


def figure(lr: float = 0.01, keys=("sgd", "momentum", "adam"), steps: int = 120) -> dict:
    surface = get_surface("ravine")
    runs = []
    for key in keys:
        hp = {"lr": lr} if key == "adam" else {}
        traj = simulate(surface, key, steps=steps, hparams=hp, dtype=torch.float64)
        runs.append(run_view(traj, key))
    return playground_figure(surface, runs, grid=surface.grid(60))


def read(payload: dict, store: dict) -> dict:
    return plain_arrays(assemble(payload, store))


def expected(fig: dict, click: int | None = CLICK) -> dict:
    """What the browser should draw: the figure with typed arrays, read back, the click grid empty."""
    out = plain_arrays(json.loads(json.dumps(with_typed_arrays(fig))))
    if click is not None:
        grid = out["data"][click]
        out["data"][click] = {k: grid[k] for k in ("type", "name", "xaxis", "yaxis") if k in grid}
        out["data"][click].update(x=[], y=[], hoverinfo="skip", showlegend=False)
    return out


def test_a_first_payload_carries_every_part_and_reads_back_as_the_figure():
    fig = figure()
    payload, held = encode(fig, click_trace=CLICK)
    assert set(payload["parts"]) == set(held)
    assert read(payload, {}) == expected(fig)


def test_the_click_grid_is_neither_sent_nor_drawn():
    fig = figure()
    assert len(fig["data"][CLICK]["x"]) >= 600  # 25 x 25 invisible points
    payload, _ = encode(fig, click_trace=CLICK)
    grid = read(payload, {})["data"][CLICK]
    assert grid["x"] == [] and grid["y"] == [] and grid["name"] == "start here"
    assert read(encode(fig)[0], {})["data"][CLICK]["x"] == expected(fig, click=None)["data"][CLICK]["x"]


def test_a_new_learning_rate_sends_only_the_parts_it_changed():
    before, after = figure(lr=0.01), figure(lr=0.02)
    _, held = encode(before, click_trace=CLICK)
    payload, held_after = encode(after, held, click_trace=CLICK)
    assert read(payload, dict(held)) == expected(after)
    new = payload["parts"]
    assert new and set(new) <= set(held_after) and not set(new) & set(held)
    # The surface, SGD's and momentum's traces and the layout are not resent: only Adam's.
    adam_group = next(t["legendgroup"] for t in after["data"] if t.get("name") == "adam")
    changed = {i for i, h in enumerate(payload["data"]) if h in new}
    assert changed, "Adam's path changed"
    for i in changed:
        t = after["data"][i]
        assert t.get("legendgroup") == adam_group or t.get("name") == "step", (i, t.get("name"))
    assert payload["layout"] not in new
    assert sum(map(len, new.values())) < 0.35 * sum(map(len, held_after.values()))


def test_the_same_figure_again_sends_nothing():
    fig = figure()
    _, held = encode(fig, click_trace=CLICK)
    payload, _ = encode(fig, held, click_trace=CLICK)
    assert payload["parts"] == {}
    assert read(payload, dict(held)) == expected(fig)


def test_a_part_the_browser_lacks_is_named():
    fig = figure()
    _, held = encode(fig, click_trace=CLICK)
    payload, _ = encode(fig, held, click_trace=CLICK)
    lacking = dict(held)
    lost = payload["layout"]
    del lacking[lost]
    with pytest.raises(KeyError, match=lost):
        assemble(payload, lacking)


def test_frames_go_as_columns_and_the_slider_steps_are_rebuilt():
    fig = figure()
    payload, _ = encode(fig, click_trace=CLICK)
    assert payload["slider"] is not None and "columns" in payload["frames"]
    layout = json.loads(payload["parts"][payload["layout"]])
    assert "steps" not in layout["sliders"][0]  # 120 steps are not sent
    back = read(payload, {})
    assert back["layout"]["sliders"][0]["steps"] == fig["layout"]["sliders"][0]["steps"]
    assert [f["name"] for f in back["frames"]] == [f["name"] for f in fig["frames"]]
    # every head position in every frame, as the figure had it (float32 keeps its 6 digits)
    for got, want in zip(back["frames"], fig["frames"]):
        assert got["traces"] == want["traces"]
        for g, w in zip(got["data"], want["data"]):
            assert g.keys() == w.keys()
            for key in w:
                assert g[key] == pytest.approx(w[key], rel=1e-6)


def test_frames_of_another_shape_go_whole():
    fig = {
        "data": [{"type": "scatter", "x": [0, 1], "y": [0, 1]}],
        "layout": {"sliders": []},
        "frames": [{"name": "a", "data": [{"x": [0]}]}, {"name": "b", "data": [{"x": [0, 1]}], "traces": [0]}],
    }
    payload, _ = encode(fig)
    assert "raw" in payload["frames"] and payload["slider"] is None
    assert read(payload, {})["frames"] == fig["frames"]


def test_text_in_frames_goes_whole():
    frames = [{"name": str(i), "data": [{"x": [i], "text": ["t"]}], "traces": [0]} for i in range(20)]
    fig = {"data": [{"type": "scatter", "x": [0], "y": [0]}], "layout": {}, "frames": frames}
    payload, _ = encode(fig)
    assert "raw" in payload["frames"]
    assert read(payload, {})["frames"] == frames


def test_numpy_numbers_and_non_finite_values_become_valid_json():
    fig = {
        "data": [{"type": "scatter", "x": [np.float64(1.5), math.nan], "y": [np.int64(2), math.inf], "name": "n"}],
        "layout": {"title": {"text": "t"}, "meta": {"value": np.float32(0.25)}},
    }
    payload, _ = encode(fig)
    for text in payload["parts"].values():
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    back = read(payload, {})
    assert back["data"][0]["x"] == [1.5, None] and back["data"][0]["y"] == [2, None]
    assert back["layout"]["meta"]["value"] == 0.25


@pytest.mark.parametrize(
    "state, expected_point",
    [
        ({"k": {"click": {"x": 1.25, "y": -0.5}}}, (1.25, -0.5)),
        ({"k": {"click": {"x": "nan", "y": 0}}}, None),
        ({"k": {"click": {"x": 1}}}, None),
        ({"k": {"click": "here"}}, None),
        ({"k": {"missing": 3}}, None),
        ({}, None),
    ],
)
def test_a_click_is_read_only_when_it_is_two_finite_numbers(monkeypatch, state, expected_point):
    import ui.live_figure as live

    monkeypatch.setattr(live.st, "session_state", state)
    assert clicked_point("k") == expected_point
