"""The sweep pages through Streamlit's AppTest: each runs clean with small sizes (reached through
app.py's navigation with switch_page), a control change changes its figure, the numbers on the
page are the engine's, links open the Playground, and a size beyond the memory budget is refused before any work.

Sizes are put into st.session_state before the page's first run (the widgets then start there), so
each page renders in well under a second here. Charts: plain_arrays(json.loads(el.proto.spec)).
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine import rollout
from engine import sweeps as S
from surfaces import get_surface
from scene.config import from_query

from ui.plotly_figure import plain_arrays
from ui.shell import LOADER_KEY

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def page_charts(at: AppTest) -> list:
    """The page's plotly charts, without the app shell's plotly.js loader (ui/shell.py)."""
    return [c for c in at.get("plotly_chart") if not c.proto.id.endswith(LOADER_KEY + "-chart")]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_page(name: str, state: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    for k, v in state.items():
        at.session_state[k] = v
    at.switch_page(f"pages/{name}.py")
    at.run()
    return clean(at)


def chart(at: AppTest, key: str) -> dict:
    found = [c for c in page_charts(at) if c.proto.id.endswith(key)]
    assert len(found) == 1, [c.proto.id for c in page_charts(at)]
    return plain_arrays(json.loads(found[0].proto.spec))


def named(fig: dict, name: str) -> dict:
    found = [t for t in fig["data"] if t.get("name") == name]
    assert found, [t.get("name") for t in fig["data"]]
    return found[0]


def link_queries(at: AppTest) -> dict[str, dict]:
    """{label: query} of the page's links to the Playground: "./?query", the app's root from any page."""
    links = at.get("link_button")
    assert all(ln.proto.url.startswith("./?") for ln in links), [ln.proto.url for ln in links]
    return {ln.proto.label: dict(urllib.parse.parse_qsl(ln.proto.url[3:])) for ln in links}


# --- hyperparameter map ---------------------------------------------------------------------------------

HM = {"hm.n": 8, "hm.steps": 100}


def test_hyperparameter_map_renders_and_links_the_best_cell_to_the_playground():
    at = open_page("hyperparameter_map", HM)
    fig = chart(at, "hm.chart")
    heat = named(fig, "outcome")
    assert len(heat["z"]) == 8 and len(heat["z"][0]) == 8
    # the same map straight from the engine: the page shows the engine's numbers
    vx, vy = S.hparam_grid("momentum", "lr", "momentum", 8, 8, {"lr": (1e-4, 0.01)})
    res = S.sweep_2d(
        "rosenbrock",
        "momentum",
        "lr",
        "momentum",
        vx,
        vy,
        100,
        tol=1e-6,
        base_hparams={"dampening": 0.0, "weight_decay": 0.0},
    )
    np.testing.assert_allclose(
        [[v if v is not None else np.nan for v in row] for row in heat["z"]],
        np.where(res.diverged, np.nan, np.log10(np.maximum(res.gap, 1e-16))),
        rtol=1e-3,
    )
    row, col = res.best()
    assert named(fig, "best cell")["x"] == [col] and named(fig, "best cell")["y"] == [row]
    query = link_queries(at)["Open the best cell in the Playground"]
    cfg, warnings = from_query(query)
    assert not warnings, warnings
    assert cfg.surface == "rosenbrock" and cfg.optimizers == ("momentum",) and cfg.steps == 100
    assert cfg.hparams["momentum"]["lr"] == pytest.approx(vx[col], rel=1e-9)
    assert cfg.hparams["momentum"]["momentum"] == pytest.approx(vy[row], rel=1e-9, abs=1e-12)
    lr_fig = chart(at, "hm.lr.chart")
    groups = {t["legendgroup"] for t in lr_fig["data"] if t.get("mode") == "lines+markers"}
    assert groups == {"momentum", "sgd", "adam"}


def test_hyperparameter_map_controls_change_the_figure():
    at = open_page("hyperparameter_map", HM)
    before = chart(at, "hm.chart")
    assert "log₁₀" in named(before, "outcome")["colorbar"]["title"]["text"]
    at.radio(key="hm.objective").set_value("steps_to_tol").run()
    clean(at)
    after = chart(at, "hm.chart")
    assert "steps to" in named(after, "outcome")["colorbar"]["title"]["text"]
    at.select_slider(key="hm.n").set_value(16).run()
    clean(at)
    assert len(named(chart(at, "hm.chart"), "outcome")["z"]) == 16
    at.selectbox(key="hm.opt").set_value("adam").run()
    clean(at)
    fig = chart(at, "hm.chart")
    assert fig["layout"]["yaxis"]["title"]["text"].startswith("β₁")


def test_hyperparameter_map_of_two_non_lr_parameters():
    at = open_page("hyperparameter_map", {**HM, "hm.opt": "adam", "hm.adam.x": "beta1", "hm.adam.y.beta1": "beta2"})
    fig = chart(at, "hm.chart")
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("β₁")
    assert fig["layout"]["yaxis"]["title"]["text"].startswith("β₂")
    query = link_queries(at)["Open the best cell in the Playground"]
    assert "adam.beta1" in query or "adam.beta2" in query


# --- fair comparison ---------------------------------------------------------------------------------------

FC = {"fc.steps": 100, "fc.n": 11, "fc.opt": ["sgd", "adam"], "fc.mode": "one"}  # the single-start comparison


def test_fair_comparison_shows_the_engines_tuned_lrs_and_overlays_the_runs():
    at = open_page("fair_comparison", FC)
    table = at.dataframe[0].value
    surface = get_surface("rosenbrock")
    for key, name in (("sgd", "SGD"), ("adam", "Adam")):
        want = S.tune_lr(surface, key, 100, objective="final_loss", lrs=S.lr_values(key, 11), device="cpu").best_lr()
        got = float(table.loc[table["optimizer"] == name, "tuned lr"].iloc[0])
        assert got == pytest.approx(want, rel=1e-12)
    fig = chart(at, "fc.chart")
    paths = [t for t in fig["data"] if t.get("xaxis") == "x" and t.get("mode") == "lines" and "legendgroup" in t]
    assert len(paths) == 2
    text = " ".join(m.value for m in at.markdown)
    assert "same budget of 100 steps" in text and "no gradient clipping" in text
    query = link_queries(at)["Open this comparison in the Playground"]
    cfg, warnings = from_query(query)
    assert not warnings and cfg.optimizers == ("sgd", "adam")


def test_fair_comparison_controls_change_the_figure():
    at = open_page("fair_comparison", FC)
    steps_axis = chart(at, "fc.chart")["layout"]["xaxis2"]["range"]
    at.select_slider(key="fc.steps").set_value(200).run()
    clean(at)
    assert chart(at, "fc.chart")["layout"]["xaxis2"]["range"] != steps_axis
    at.radio(key="fc.objective").set_value("steps_to_tol").run()
    clean(at)
    assert "fewest steps" in " ".join(m.value for m in at.markdown)


# --- basins ---------------------------------------------------------------------------------------------------

BS = {"bs.n": 16, "bs.steps": 50}


def heatmaps(fig):
    return [t for t in fig["data"] if t["type"] == "heatmap" and t.get("name") not in ("hover", "unlabelled")]


def test_basins_page_draws_one_panel_per_optimizer():
    at = open_page("basins", BS)
    fig = chart(at, "bs.chart")
    panels = heatmaps(fig)
    assert len(panels) == len(get_surface("himmelblau").lesson_optimizers)
    assert all(len(p["z"]) == 16 for p in panels)
    res = S.basins("himmelblau", "sgd", {"lr": 0.005}, 16, 50)  # SGD's lesson lr on Himmelblau
    from figures.maps import basin_codes

    assert panels[0]["z"] == basin_codes(res)[0].tolist()
    assert len(at.dataframe[0].value) == len(panels)


def test_basins_page_controls_change_the_figure():
    at = open_page("basins", BS)
    at.select_slider(key="bs.n").set_value(32).run()
    clean(at)
    assert len(heatmaps(chart(at, "bs.chart"))[0]["z"]) == 32
    at.radio(key="bs.color").set_value("steps").run()
    clean(at)
    assert "steps to converge" in heatmaps(chart(at, "bs.chart"))[0]["colorbar"]["title"]["text"]
    at.selectbox(key="bs.surface").set_value("rastrigin").run()
    clean(at)
    assert "integer point" in " ".join(c.value for c in at.caption)


def test_basins_page_refuses_a_size_over_the_budget_before_any_work(monkeypatch):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    monkeypatch.setattr(rollout, "memory_budget", lambda device: 1 << 20)

    def no_work(*a, **k):
        raise AssertionError("simulate was called: the size check must come first")

    monkeypatch.setattr(S, "simulate", no_work)
    at.session_state["bs.n"] = 256
    at.switch_page("pages/basins.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "too large" in at.error[0].value and "memory budget" in at.error[0].value
    assert not page_charts(at)


# --- noisy clouds -----------------------------------------------------------------------------------------------

NC = {"nc.n": 10, "nc.ravine.steps": 100}


def test_noisy_clouds_page_draws_faint_runs_and_medians():
    at = open_page("noisy_clouds", NC)
    fig = chart(at, "nc.chart")
    faint = named(fig, "SGD: 10 runs")
    median = named(fig, "SGD: median path")
    assert faint["opacity"] < 0.5 and median["line"]["width"] > faint["line"]["width"]
    cloud = S.noisy_cloud("ravine", "sgd", {"lr": 0.5, "weight_decay": 0.0}, 10, 100, 0.5, 0)
    np.testing.assert_allclose(median["x"], cloud.median[:, 0], rtol=1e-5, atol=1e-9)
    assert {t.get("type") for t in fig["data"]} == {"scatter"}
    query = link_queries(at)["Open one run of each (seed 0) in the Playground"]
    cfg, warnings = from_query(query)
    assert not warnings and cfg.noise == 0.5 and cfg.seed == 0


def test_noisy_clouds_controls_change_the_figure():
    at = open_page("noisy_clouds", NC)
    before = named(chart(at, "nc.chart"), "SGD: 10 runs")["x"]
    at.slider(key="nc.noise").set_value(1.5).run()
    clean(at)
    assert named(chart(at, "nc.chart"), "SGD: 10 runs")["x"] != before
    at.select_slider(key="nc.n").set_value(20).run()
    clean(at)
    assert named(chart(at, "nc.chart"), "SGD: 20 runs")
