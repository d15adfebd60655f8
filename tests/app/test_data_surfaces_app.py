"""The data surfaces on the Playground (issue 18): their dataset/standardize controls, the minibatch
toggle and slider, and the URL that restores them. AppTest, like tests/app/test_playground_app.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine import simulate
from surfaces import get_surface

from ui.live_figure import sent_figure

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def ok(query: dict | None = None, at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def first_path(at: AppTest) -> np.ndarray:
    fig = sent_figure(at, "pg.ui.chart")
    trace = next(t for t in fig["data"] if t.get("mode") == "lines" and "legendgroup" in t and t.get("xaxis") == "x")
    return np.array([trace["x"], trace["y"]], dtype=float)


def query(at: AppTest) -> dict:
    return {k: at.query_params[k] for k in at.query_params}


def keys(at: AppTest) -> set:
    return {w.key for w in at.get("toggle")} | {w.key for w in at.get("slider")}


def test_a_cartoon_surface_has_no_minibatch_controls():
    at = ok({"surface": "ravine"})
    assert "pg.batch.on" not in keys(at)


def test_minibatches_change_the_paths_and_are_written_to_the_link():
    at = ok({"surface": "linear_regression", "opt": "sgd", "steps": "50"})
    full = first_path(at)
    assert "pg.batch.on" in keys(at) and "pg.batch" not in keys(at)
    at.toggle(key="pg.batch.on").set_value(True)
    ok(at=at)
    at.slider(key="pg.batch").set_value(4)
    ok(at=at)
    noisy = first_path(at)
    assert query(at)["batch"] == "4"
    assert not np.allclose(noisy, full)
    # the page draws exactly the engine's minibatch run
    want = simulate(get_surface("linear_regression"), "sgd", steps=50, hparams={"lr": 0.03}, batch_size=4, seed=0)
    np.testing.assert_allclose(noisy[:, -1], want.xy[0, -1].numpy(), rtol=1e-6)
    # a new seed draws other minibatches
    at.number_input(key="pg.seed").set_value(5)
    ok(at=at)
    assert not np.allclose(first_path(at), noisy)


def test_a_link_restores_dataset_standardize_and_batch():
    at = ok({"surface": "linear_regression", "s.dataset": "wine", "s.standardize": "1", "batch": "10", "seed": "3"})
    assert at.session_state["pg.s.dataset"] == "wine"
    assert at.session_state["pg.s.standardize"] is True
    assert at.session_state["pg.batch.on"] is True and at.session_state["pg.batch"] == 10
    q = query(at)
    assert (q["s.dataset"], q["s.standardize"], q["batch"], q["seed"]) == ("wine", "1", "10", "3")


def test_a_bad_batch_in_a_link_warns_and_runs_full_batch():
    at = ok({"surface": "logistic_regression", "batch": "5000"})
    assert any("batch" in w.value for w in at.warning)
    assert "batch" not in query(at)


def test_switching_to_a_smaller_data_set_keeps_the_batch_inside_it():
    at = ok({"surface": "linear_regression", "batch": "300"})
    at.selectbox(key="pg.s.dataset").set_value("iris")  # 150 examples
    ok(at=at)
    assert 1 <= int(query(at)["batch"]) < 150


def test_the_page_says_whether_the_chosen_data_have_a_minimum():
    separable = ok({"surface": "logistic_regression", "s.dataset": "iris_setosa"})
    assert any("no minimum" in c.value for c in separable.caption)
    overlap = ok({"surface": "logistic_regression", "s.dataset": "breast_cancer"})
    ((w1, w2),) = get_surface("logistic_regression", dataset="breast_cancer").minima
    assert any(f"one minimum, at ({w1:.3f}, {w2:.3f})" in c.value for c in overlap.caption)


def test_sweep_pages_refuse_more_work_than_a_page_can_do_on_a_data_surface_and_say_how_much_they_can():
    """A logistic-regression gradient sums over hundreds of examples: a 128 × 128 map × 2,000 steps would
    run for minutes. The page gets a message naming the runs it may have; small sweeps still run."""
    import time

    from ui.compute import PAGE_WORK, basin_map, freeze, hparam_map, noise_cloud

    params = freeze({"dataset": "breast_cancer"})
    t0 = time.perf_counter()
    res, err = hparam_map(
        "logistic_regression",
        params,
        "adam",
        "lr",
        "beta1",
        (1e-3, 1.0),
        (0.0, 0.99),
        128,
        128,
        2000,
        None,
        freeze({}),
        1e-3,
    )
    assert res is None and "at most" in err and "runs" in err
    res, err = basin_map("logistic_regression", params, "sgd", freeze({"lr": 0.1}), 512, 2000)
    assert res is None and "at most" in err
    assert time.perf_counter() - t0 < 5  # refused before any work
    surface = get_surface("logistic_regression", dataset="breast_cancer")
    most = int(PAGE_WORK / (50 * surface.work_per_run_step))
    res, err = noise_cloud("logistic_regression", params, "sgd", freeze({"lr": 0.5}), 20, 50, 0.1, 0, None)
    assert err is None and res is not None and 20 <= most
    # a hand-written surface keeps every size the pages offer (the largest basin map)
    ravine = get_surface("ravine")
    assert 512 * 512 * 2000 * ravine.work_per_run_step <= PAGE_WORK


def test_linear_regression_links_to_the_ravine_page():
    at = ok({"surface": "linear_regression"})
    (button,) = [b for b in at.get("link_button") if "Ravine" in b.proto.label]
    assert button.proto.url == "./ravine"
    assert not [b for b in ok({"surface": "logistic_regression"}).get("link_button") if "Ravine" in b.proto.label]
