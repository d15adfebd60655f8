"""The Playground on the fused engine: the page queues its lesson scene for the background
builder (a child process), answers eagerly meanwhile, and uses the graphs once built (AppTest).

Chunks of 5 steps keep the compile time of the three graphs (SGD, momentum, Adam) short.
"""

from __future__ import annotations

import pytest
import torch

from engine import builder, fused, graph_store, simulate
from tests.app.test_playground_app import main_figure, new_app, ok, paths, xy
from ui import compute
from scene.config import effective_hparams, lesson_config


@pytest.fixture
def background(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADSCAPE_BACKGROUND_COMPILE", "1")
    monkeypatch.setenv("GRADSCAPE_GRAPH_DIR", str(tmp_path))  # an empty store: the page starts eager
    monkeypatch.setattr(fused, "CHUNK", 5)
    compute.warm_up_playground.clear()  # other tests ran it with the compiler off
    calls = []
    real = fused.roll_out_fused

    def counting(*args, **kw):
        calls.append(args[1].key)
        return real(*args, **kw)

    monkeypatch.setattr(fused, "roll_out_fused", counting)
    yield calls
    compute.warm_up_playground.clear()


def test_the_page_compiles_in_the_background_then_runs_fused(background):
    at = ok(new_app({"steps": "50"}))
    assert set(paths(main_figure(at))) == {"SGD", "Momentum", "Adam"}
    assert background == []  # nothing built yet: the page ran eagerly
    assert any("eager reference engine" in c.value and "Adam" in c.value for c in at.caption)  # the page says so
    assert builder.wait_for_background(timeout=600)
    assert not graph_store.status()["failed"]
    assert background == []  # the builds ran in child processes
    # a page loads a graph only once the CPU probe has run in the background (15 s after the first page)
    assert builder._BUILDER.probe_done.wait(timeout=120)

    at.select_slider(key="pg.hp.adam.lr").set_value(0.02)  # a new run: not in the page's cache
    ok(at)
    assert background == ["adam"]  # the page's own run took the fused path
    note = next(c.value for c in at.caption if c.value.startswith("Drawn by"))
    assert "compiled engine" in note and "Adam" in note.split("eager")[0]  # and the page says which drew it

    cfg = lesson_config("ravine")
    hp = dict(effective_hparams(cfg, "adam"), lr=0.02)
    eager = simulate("ravine", "adam", steps=50, hparams=hp).xy[0]
    page = torch.tensor(xy(paths(main_figure(at))["Adam"]), dtype=torch.float64)
    assert page.shape == eager.shape
    assert torch.allclose(page, eager, rtol=1e-5, atol=1e-6)  # the page rounds to 6 digits
