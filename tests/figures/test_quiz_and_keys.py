"""Predict-then-reveal views (figures/playground.quiz_figure, at_start) and the lecture keys script."""

from __future__ import annotations

import re

import plotly.graph_objects as go

from figures.keys import KEY_TABLE, key_help_markdown, keys_script
from figures.multiples import small_multiples
from figures.playground import at_start, playground_figure, quiz_figure, quiz_letters, surface_layers
from surfaces import get_surface
from tests.figures.test_playground_figure import make_runs

SURFACE = get_surface("ravine")
KEYS = ("sgd", "momentum", "adam")


def _runs():
    return make_runs(SURFACE, KEYS, steps=120)


def _full(runs):
    return playground_figure(SURFACE, runs, layers=surface_layers(SURFACE, SURFACE.grid(40)))


def test_the_quiz_figure_shows_the_surface_the_start_and_the_names_and_nothing_of_the_paths():
    runs = _runs()
    full = _full(runs)
    quiz = quiz_figure(full, runs)
    go.Figure(quiz)  # valid plotly
    assert quiz["frames"] == [] and "sliders" not in quiz["layout"] and "updatemenus" not in quiz["layout"]
    assert not any(k.startswith(("xaxis2", "yaxis2", "xaxis3", "xaxis4")) for k in quiz["layout"])
    assert quiz["layout"]["images"] == full["layout"]["images"]  # the same shaded surface
    start = next(t for t in quiz["data"] if t["name"] == "start")
    named = [t for t in quiz["data"] if t.get("showlegend", True) and t["name"] not in ("start",)]
    assert [t["name"] for t in named] == [r.label for r in runs]
    for trace in quiz["data"]:  # no trace goes anywhere but the start (the click grid aside)
        if trace["name"] in ("start here", "surface", "contours", "minimum"):
            continue
        assert list(trace["x"]) == list(start["x"]) and list(trace["y"]) == list(start["y"])
    assert quiz["data"][2]["name"] == "start here"  # click-to-start still finds its grid at index 2


def test_an_anonymous_quiz_names_letters_in_one_colour():
    runs = _runs()
    quiz = quiz_figure(_full(runs), runs, anonymous=True)
    text = repr(quiz)
    assert all(r.label not in text for r in runs)
    named = [t for t in quiz["data"] if t["name"].startswith("Optimizer ")]
    assert [t["name"] for t in named] == ["Optimizer A", "Optimizer B", "Optimizer C"]
    assert len({t["marker"]["color"] for t in named}) == 1
    assert quiz_letters(28)[-2:] == ["Optimizer 27", "Optimizer 28"]


def test_runs_cut_at_their_start_draw_panels_with_no_path():
    runs = _runs()
    cut = [at_start(r, n) for r, n in zip(runs, quiz_letters(len(runs)))]
    assert all(len(r.xy) == 1 and len(r.lr) == 0 and r.steps.tolist() == [0] for r in cut)
    assert [r.label for r in cut] == quiz_letters(3)
    fig = small_multiples(SURFACE, cut, surface_layers(SURFACE, SURFACE.grid(40)), titles=quiz_letters(3))
    go.Figure(fig)
    for trace in fig["data"]:
        if trace.get("mode") == "lines" and trace.get("name") in quiz_letters(3):
            assert len(trace["x"]) <= 1
    assert all(r.label not in repr(fig) for r in runs)


def test_the_keys_script_handles_every_key_it_documents():
    script = keys_script()
    assert "window.gradscapeKeys" in script and "install" in script
    handled = set(re.findall(r'^\s+"?([\w ?]+?)"?: "(\w+)",$', script, re.M))
    names = {key for key, _ in handled}
    for key in (" ", "ArrowRight", "ArrowLeft", "Home", "End", "PageDown", "PageUp", "r", "?"):
        assert key in names, key
    table = key_help_markdown()
    assert all(f"| {key} | {what} |" in table for key, what in KEY_TABLE)
    assert "http" not in script  # nothing fetched: the static pack uses it offline
