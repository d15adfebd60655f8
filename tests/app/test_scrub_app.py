"""The scrub control through AppTest: off costs nothing; on, one figure with a frame per value."""

from __future__ import annotations

import json

from figures.scrub import nearest_index
from tests.app.test_playground_app import new_app, ok
from ui.plotly_figure import plain_arrays
from ui.shell import LOADER_KEY


def page_charts(at) -> list:
    """The page's plotly charts, without the app shell's plotly.js loader (ui/shell.py)."""
    return [c for c in at.get("plotly_chart") if not c.proto.id.endswith(LOADER_KEY + "-chart")]


def _scrub_chart(at):
    charts = [c for c in page_charts(at) if c.proto.id.endswith("ui.scrub.chart")]
    return plain_arrays(json.loads(charts[0].proto.spec)) if charts else None


def test_scrubbing_is_off_until_asked_and_then_draws_every_value_of_the_learning_rate():
    at = ok(new_app({"surface": "rosenbrock", "opt": "sgd,adam", "adam.lr": "0.05"}))
    assert _scrub_chart(at) is None
    at.toggle(key="pg.ui.scrub").set_value(True)
    fig = _scrub_chart(ok(at))
    assert at.selectbox(key="pg.ui.scrub.name").value == "lr"
    assert at.selectbox(key="pg.ui.scrub.name").options[0] == "learning rate η"
    assert fig["layout"]["sliders"][0]["currentvalue"]["prefix"] == "learning rate η = "
    values = fig["layout"]["meta"]["scrub"]["values"]
    assert len(values) >= 25 and len(fig["frames"]) == len(values)
    assert fig["layout"]["sliders"][0]["active"] == nearest_index(values, 0.001)  # SGD's lr, the first optimizer's


def test_scrubbing_another_hyperparameter_leaves_the_optimizers_without_it_dotted():
    at = ok(new_app({"surface": "rosenbrock", "opt": "sgd,adam"}))
    at.toggle(key="pg.ui.scrub").set_value(True)
    ok(at)
    at.selectbox(key="pg.ui.scrub.name").set_value("beta1")
    fig = _scrub_chart(ok(at))
    label = fig["layout"]["sliders"][0]["currentvalue"]["prefix"][: -len(" = ")]
    assert "β₁" in label
    sgd = next(t for t in fig["data"] if t["name"].startswith("SGD"))
    assert sgd["name"] == f"SGD (no {label})" and sgd["line"]["dash"] == "dot"
    assert any(f"has no {label}" in c.value for c in at.caption)
