"""The lecture pages and the scene gallery through Streamlit's AppTest; every scene opened in the Playground.

Each test starts a fresh AppTest on app.py, runs it once (the Playground), then switches to the page.
st.cache_data is process-wide, so repeated engine calls across tests are cheap. A chart's figure is
plain_arrays(json.loads(el.proto.spec)); charts are found by the end of their element id (the widget key).
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import simulate
from engine.anatomy import anatomy
from engine.diagnostics import first_step_below_np, saddle_escape_step
from optimizers import OPTIMIZERS, get_optimizer
from surfaces import get_surface

from ui.live_figure import sent_figure
from ui.plotly_figure import plain_arrays
from ui.shell import LOADER_KEY

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PRESETS = json.loads((ROOT / "assets" / "presets.json").read_text(encoding="utf-8"))
LECTURE_PAGES = ("saddle", "ravine", "step_by_step", "bias_correction", "schedules", "theory", "gallery")


def page_charts(at: AppTest) -> list:
    """The page's plotly charts, without the app shell's plotly.js loader (ui/shell.py)."""
    return [c for c in at.get("plotly_chart") if not c.proto.id.endswith(LOADER_KEY + "-chart")]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# --- helpers ----------------------------------------------------------------------------------------


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    return clean(at)


def open_page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    run(at)
    at.switch_page(f"pages/{name}.py")
    return run(at)


def live_keys(at: AppTest) -> list[str]:
    """The keys of the page's live figures (ui/live_figure.py: the saddle and ravine pages' main figures)."""
    payloads = [json.loads(e.proto.json)[0] for e in at.get("bidi_component") if e.proto.json.startswith("[{")]
    return [p["id"] for p in payloads if isinstance(p, dict) and "data" in p and "id" in p]


def chart(at: AppTest, key: str) -> dict:
    """The figure of the chart `key`: a live figure as the browser assembles it, or a plotly chart's spec."""
    if key in live_keys(at):
        return sent_figure(at, key)
    found = [c for c in page_charts(at) if c.proto.id.endswith(key)]
    assert len(found) == 1, [c.proto.id for c in page_charts(at)]
    return plain_arrays(json.loads(found[0].proto.spec))


def chart_keys(at: AppTest) -> list[str]:
    """The page's figures by key, live figures first (the page draws its main figure first)."""
    return live_keys(at) + [c.proto.id.rsplit("-", 1)[-1] for c in page_charts(at)]


def panel_paths(fig: dict) -> dict[str, list]:
    """Small multiples: run label -> path points (the named line traces)."""
    return {
        t["name"]: list(zip(t["x"], t["y"]))
        for t in fig["data"]
        if t.get("mode") == "lines" and t.get("name") not in (None, "contours")
    }


def overlay_paths(fig: dict) -> dict[str, list]:
    """Playground-style figure: run label (its head marker's name) -> path points."""
    groups = {
        t["legendgroup"]: t["name"]
        for t in fig["data"]
        if t.get("xaxis") == "x" and t.get("mode") == "markers" and "legendgroup" in t
    }
    return {
        groups[t["legendgroup"]]: list(zip(t["x"], t["y"]))
        for t in fig["data"]
        if t.get("xaxis") == "x" and t.get("mode") == "lines" and "legendgroup" in t
    }


def names(keys) -> list[str]:
    return [get_optimizer(k).name for k in keys]


def bullets(at: AppTest) -> list[str]:
    return [m.value[2:] for m in at.markdown if m.value.startswith("- ")]


# --- every page ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LECTURE_PAGES)
def test_every_lecture_page_runs_clean(name):
    at = open_page(name)
    assert at.title and at.title[0].value
    assert not at.warning, [w.value for w in at.warning]


# --- saddle, side by side -----------------------------------------------------------------------------

SADDLE = get_surface("saddle")


def escape_table(at) -> list[dict]:
    assert [s.value for s in at.subheader] == ["Who escapes first"]
    return at.dataframe[0].value.to_dict("records")


def test_saddle_defaults_one_panel_per_lesson_optimizer_and_the_engine_numbers():
    at = open_page("saddle")
    fig = chart(at, "sd.chart")
    keys = SADDLE.lesson_optimizers
    assert list(panel_paths(fig)) == names(keys)
    assert len(fig["layout"]["images"]) == len(keys)
    assert len(fig["frames"][0]["traces"]) == len(keys)
    rows = escape_table(at)
    assert len(rows) == len(keys)
    want = {}
    for k in keys:
        traj = simulate(
            SADDLE, k, start=(-0.1, 0.001), steps=300, hparams=SADDLE.lesson_hparams.get(k, {}), device="cpu"
        )
        want[get_optimizer(k).name] = saddle_escape_step(
            traj.xy[0].numpy(), traj.steps.numpy(), (0.0, 0.0), 0.5, int(traj.diverged_at[0])
        )
    assert {r["optimizer"]: int(r["steps to escape"]) for r in rows} == want
    # the panel titles say the same
    for a in fig["layout"]["annotations"]:
        label = a["text"].replace("<b>", "").split(":")[0]
        assert f"escaped at step {want[label]}" in a["text"]


def test_saddle_table_is_sorted_by_steps_with_the_stuck_last():
    at = open_page("saddle")
    at.sidebar.select_slider(key="sd.steps").set_value(100)
    run(at)
    rows = escape_table(at)
    steps = [r["steps to escape"] for r in rows]
    escaped = [s for s in steps if s is not None and not (isinstance(s, float) and math.isnan(s))]
    assert escaped == sorted(escaped)
    assert steps[: len(escaped)] == escaped, "runs that did not escape come last"
    assert len(escaped) < len(rows), "SGD does not escape within 100 steps"
    assert rows[-1]["optimizer"] == "SGD"
    assert escaped[0] <= 5  # AdaGrad and RMSprop leave almost at once


def test_saddle_noise_toggle_changes_the_paths():
    at = open_page("saddle")
    before = panel_paths(chart(at, "sd.chart"))
    at.sidebar.toggle(key="sd.noisy").set_value(True)
    run(at)
    after = panel_paths(chart(at, "sd.chart"))
    assert list(after) == list(before)
    assert all(after[k] != before[k] for k in before), "noise changes every path"
    assert at.sidebar.slider(key="sd.noise").value == pytest.approx(0.05)
    at.sidebar.number_input(key="sd.seed").set_value(3)
    run(at)
    assert panel_paths(chart(at, "sd.chart")) != after, "another seed, other paths"
    at.sidebar.toggle(key="sd.noisy").set_value(False)
    run(at)
    assert panel_paths(chart(at, "sd.chart")) == before


@pytest.mark.parametrize(
    "keys",
    [
        ["sgd", "adam"],
        ["adam"],
        ["sgd", "momentum", "nesterov", "rmsprop", "adam", "newton", "lion", "adabound", "lookahead"],
    ],
)
def test_saddle_optimizer_set_sets_the_panels(keys):
    at = open_page("saddle")
    at.sidebar.multiselect(key="sd.opt").set_value(keys)
    run(at)
    fig = chart(at, "sd.chart")
    assert list(panel_paths(fig)) == names(keys)
    assert len(fig["layout"]["images"]) == len(keys)
    assert len([k for k in fig["layout"] if k.startswith("xaxis")]) == len(keys)
    assert len(fig["frames"][0]["traces"]) == len(keys)
    assert len(escape_table(at)) == len(keys)


def test_saddle_no_optimizer_says_so():
    at = open_page("saddle")
    at.sidebar.multiselect(key="sd.opt").set_value([])
    run(at)
    assert not page_charts(at)
    assert at.info and "Choose optimizers" in at.info[0].value


def test_saddle_radius_and_3d_view():
    at = open_page("saddle")
    small = {r["optimizer"]: r["steps to escape"] for r in escape_table(at)}
    at.sidebar.slider(key="sd.r").set_value(0.8)
    run(at)
    large = {r["optimizer"]: r["steps to escape"] for r in escape_table(at)}
    assert all(large[k] >= small[k] for k in small), (small, large)  # a wider ball takes longer to leave
    assert large != small
    at.sidebar.slider(key="sd.r").set_value(1.2)  # wider than the valleys' distance: only overshooters leave
    run(at)
    rows = escape_table(at)
    stuck = [math.isnan(r["steps to escape"]) for r in rows]
    assert stuck == sorted(stuck), "the runs that never leave come last"
    assert {r["optimizer"] for r in rows if math.isnan(r["steps to escape"])} >= {"SGD", "Adam"}
    assert chart_keys(at) == ["sd.chart"]
    at.sidebar.toggle(key="sd.3d").set_value(True)
    run(at)
    assert chart_keys(at) == ["sd.chart", "sd.3dchart"]
    fig3d = chart(at, "sd.3dchart")
    assert [t["type"] for t in fig3d["data"]] == ["surface"] + ["scatter3d"] * len(SADDLE.lesson_optimizers)


# --- the ravine -----------------------------------------------------------------------------------------


def ravine_table(at) -> dict[str, list]:
    df = at.dataframe[0].value
    cols = list(df.columns)
    assert cols[0] == "optimizer" and cols[1] == "steps to loss < 1e-3, axis-aligned"
    return {
        r[cols[0]]: [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else int(v) for v in (r[cols[1]], r[cols[2]])
        ]
        for r in df.to_dict("records")
    }


def set_angle(at, angle):
    at.sidebar.slider(key="rv.angle").set_value(angle)
    return run(at)


def test_ravine_rotation_changes_the_adam_path():
    at = open_page("ravine")
    before = overlay_paths(chart(at, "rv.overlay"))
    assert list(before) == ["SGD", "Momentum", "Adam"]
    set_angle(at, 45.0)
    after = overlay_paths(chart(at, "rv.overlay"))
    assert after["Adam"] != before["Adam"]
    # The start turns with the ravine: the same place relative to it (pages/ravine.py START_UV).
    expected = get_surface("ravine", condition=50.0, angle=45.0).from_ravine_coords(-2.5, 1.2)
    assert after["Adam"][0] == pytest.approx(expected, abs=1e-5), "the start turns with the ravine"
    assert before["Adam"][0] == pytest.approx((-2.5, 1.2), abs=1e-5)


def test_ravine_table_at_angle_zero_repeats_itself():
    at = open_page("ravine")
    table = ravine_table(at)
    assert list(table) == ["SGD", "Momentum", "Adam"]
    for aligned, here in table.values():
        assert aligned == here
    assert 200 <= table["SGD"][0] <= 280 and table["Momentum"][0] < 40


def test_ravine_rotation_changes_adams_steps():
    at = set_angle(open_page("ravine"), 45.0)
    table = ravine_table(at)
    assert table["Adam"][0] != table["Adam"][1]


def test_ravine_table_sgd_and_momentum_do_not_care_about_the_rotation():
    """Regression: the page once ran every angle from the fixed start (-3.5, 1.5), so at 45° SGD took 150 steps
    against 240 axis-aligned (momentum 44 against 23) although its caption says they ignore the rotation."""
    at = set_angle(open_page("ravine"), 45.0)
    table = ravine_table(at)
    assert table["SGD"][0] == table["SGD"][1]
    assert table["Momentum"][0] == table["Momentum"][1]


@pytest.mark.parametrize("angle", [30.0, 45.0, -60.0])
def test_sgd_and_momentum_are_rotation_invariant_when_the_start_turns_too(angle):
    """What the ravine lesson claims, at the engine: the rotated run from x₀ is the aligned run from R·x₀."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x0, y0 = get_surface("ravine").start
    for key in ("sgd", "momentum"):
        rot = simulate(get_surface("ravine", angle=angle), key, steps=300, hparams={"lr": 0.5}, device="cpu")
        aligned = simulate(
            "ravine", key, start=(c * x0 + s * y0, -s * x0 + c * y0), steps=300, hparams={"lr": 0.5}, device="cpu"
        )
        steps = [
            first_step_below_np(t.loss[0].numpy(), t.steps.numpy(), 1e-3, int(t.diverged_at[0])) for t in (rot, aligned)
        ]
        assert steps[0] == steps[1] > 0, (key, steps)


def test_ravine_side_by_side_and_condition():
    at = open_page("ravine")
    at.sidebar.radio(key="rv.view").set_value("Side by side")
    run(at)
    assert chart_keys(at) == ["rv.sbs"]
    fig = chart(at, "rv.sbs")
    assert list(panel_paths(fig)) == ["SGD", "Momentum", "Adam"]
    assert len(fig["layout"]["images"]) == 3
    before = panel_paths(fig)
    at.sidebar.select_slider(key="rv.kappa").set_value(10.0)
    run(at)
    assert panel_paths(chart(at, "rv.sbs"))["SGD"] != before["SGD"]
    assert ravine_table(at)["SGD"][0] < 100  # a rounder bowl: SGD is quick


# --- step by step ---------------------------------------------------------------------------------------


def update_number(at) -> int:
    heads = [m.value for m in at.markdown if m.value.startswith("**Update ")]
    assert len(heads) == 1, heads
    return int(re.match(r"\*\*Update (\d+)\*\*", heads[0]).group(1))


def test_step_by_step_next_and_back_move_the_update():
    at = open_page("step_by_step")
    assert update_number(at) == 1 and at.session_state["st.t"] == 1
    first = bullets(at)
    assert len(first) >= 2
    fig1 = chart(at, "st.fig")
    at.button(key="st.next").click()
    run(at)
    assert update_number(at) == 2 and at.session_state["st.t"] == 2
    second = bullets(at)
    assert second != first
    assert chart(at, "st.fig") != fig1
    at.button(key="st.next").click()
    run(at)
    assert update_number(at) == 3
    at.button(key="st.back").click()
    run(at)
    assert update_number(at) == 2 and bullets(at) == second
    at.button(key="st.back").click()
    run(at)
    at.button(key="st.back").click()
    run(at)
    assert update_number(at) == 1 and bullets(at) == first, "Back stops at update 1"


def test_step_by_step_sentences_are_anatomys():
    at = open_page("step_by_step")
    surface_key, key = at.session_state["st.surface"], at.session_state["st.opt"]
    assert key == "adam"
    at.slider(key="st.t").set_value(7)
    run(at)
    hp = get_surface(surface_key).lesson_hparams.get(key, {})
    details = anatomy(get_surface(surface_key), key, steps=50, hparams=hp)
    assert bullets(at) == details[6].sentences
    bc2 = f"{1 / (1 - 0.999**7):.3g}"
    assert any("v̂" in s and bc2 in s for s in bullets(at))
    assert chart_keys(at) == ["st.fig", "st.bars"]


def test_step_by_step_last_update_and_next_stops_there():
    at = open_page("step_by_step")
    at.sidebar.select_slider(key="st.n").set_value(10)
    run(at)
    at.slider(key="st.t").set_value(10)
    run(at)
    at.button(key="st.next").click()
    run(at)
    assert update_number(at) == 10


def test_step_by_step_newton_on_the_saddle_talks_about_the_hessian():
    at = open_page("step_by_step")
    at.sidebar.selectbox(key="st.surface").set_value("saddle")
    at.sidebar.selectbox(key="st.opt").set_value("newton")
    run(at)
    text = bullets(at)
    assert any("Hessian" in s for s in text), text
    assert any("negative eigenvalue" in s for s in text), text
    fig = chart(at, "st.fig")
    labels = [a["text"] for a in fig["layout"]["annotations"] if not a.get("showarrow")]
    assert "<b>−ηH⁻¹g</b>" in labels
    assert chart_keys(at) == ["st.fig"], "Newton keeps no state: no bars"


@pytest.mark.parametrize(
    "surface_key,key,marker", [("saddle", "nesterov", "look-ahead point"), ("ravine", "lookahead", "slow weights φ")]
)
def test_step_by_step_draws_the_optimizers_construction(surface_key, key, marker):
    at = open_page("step_by_step")
    at.sidebar.selectbox(key="st.surface").set_value(surface_key)
    at.sidebar.selectbox(key="st.opt").set_value(key)
    run(at)
    at.slider(key="st.t").set_value(4)
    run(at)
    assert marker in [t.get("name") for t in chart(at, "st.fig")["data"]]


def test_step_by_step_warns_when_the_run_leaves_the_finite_numbers():
    at = open_page("step_by_step")
    at.sidebar.selectbox(key="st.surface").set_value("rosenbrock")
    at.sidebar.selectbox(key="st.opt").set_value("sgd")
    run(at)
    at.sidebar.select_slider(key="st.rosenbrock.sgd.lr").set_value(1.0)
    run(at)
    assert at.warning and "left the finite numbers" in at.warning[0].value
    at.slider(key="st.t").set_value(at.slider(key="st.t").max)
    run(at)  # the last update (non-finite new point) still draws


# --- Adam's bias correction -----------------------------------------------------------------------------

FIRST_STEP = re.compile(r"corrected ([-+0-9.e]+) \(≈ η = ([-+0-9.e]+)[^)]*\), uncorrected ([-+0-9.e]*[0-9])")


def first_steps(at):
    found = [FIRST_STEP.search(c.value) for c in at.caption]
    found = [m for m in found if m]
    assert len(found) == 1, [c.value for c in at.caption]
    return tuple(float(v) for v in found[0].groups())


@pytest.mark.parametrize("rows", [5, 17, 30])
def test_bias_correction_table_has_the_rows_asked_for(rows):
    at = open_page("bias_correction")
    at.slider(key="bc.rows").set_value(rows)
    run(at)
    df = at.dataframe[0].value
    assert len(df) == rows
    assert df["t"].tolist() == list(range(1, rows + 1))
    assert df["1 − ρ₁ᵗ"].tolist() == pytest.approx([1 - 0.9**t for t in range(1, rows + 1)], rel=1e-12)
    assert df["v correction ×"].tolist() == pytest.approx([1 / (1 - 0.999**t) for t in range(1, rows + 1)], rel=1e-12)


def test_bias_correction_first_step_is_about_eta():
    at = open_page("bias_correction")
    corrected, lr, uncorrected = first_steps(at)
    assert lr == 0.05
    assert corrected == pytest.approx(lr, rel=1e-3)
    # without the correction: (1 − β₁)/√(1 − β₂) = 3.16 times larger with the defaults
    assert uncorrected == pytest.approx(lr * 0.1 / math.sqrt(0.001), rel=1e-3)
    assert chart_keys(at) == ["bc.fig"]
    assert sorted(overlay_paths(chart(at, "bc.fig"))) == ["Adam (corrected)", "Adam without correction"]


@pytest.mark.parametrize("surface_key,lr", [("rosenbrock", 0.2), ("plateau", 0.01), ("saddle", 0.5)])
def test_bias_correction_first_step_follows_the_learning_rate(surface_key, lr):
    at = open_page("bias_correction")
    at.selectbox(key="bc.surface").set_value(surface_key)
    at.select_slider(key="bc.lr").set_value(lr)
    run(at)
    corrected, shown_lr, _ = first_steps(at)
    assert shown_lr == lr
    assert corrected == pytest.approx(lr, rel=1e-3)


def test_bias_correction_betas_change_the_table():
    at = open_page("bias_correction")
    at.slider(key="bc.b1").set_value(0.5)
    at.select_slider(key="bc.b2").set_value(0.9)
    run(at)
    df = at.dataframe[0].value
    assert df["m correction ×"].tolist()[:3] == pytest.approx([2.0, 1 / 0.75, 1 / 0.875], rel=1e-12)
    ratio = df["uncorrected m/√v ÷ corrected"].tolist()[0]
    assert ratio == pytest.approx(0.5 / math.sqrt(0.1), rel=1e-12)  # (1 − β₁)/√(1 − β₂), not its inverse


# --- schedules ------------------------------------------------------------------------------------------


def test_schedules_page_draws_every_curve_and_the_run():
    at = open_page("schedules")
    keys = chart_keys(at)
    assert len(keys) == 7
    assert keys[-1] == "sc.fig"
    assert sorted(keys[:-1]) == sorted(
        f"sc.all.{k}" for k in ("step", "multistep", "exponential", "reciprocal", "cosine", "warmup")
    )
    for k in keys[:-1]:
        curve = chart(at, k)["data"][0]["y"]
        assert len(curve) == 500 and curve[0] == pytest.approx(0.01 if k == "sc.all.warmup" else 1.0)


def scheduled_paths(at):
    paths = overlay_paths(chart(at, "sc.fig"))
    assert len(paths) == 2
    (plain_label, plain), (sched_label, sched) = paths.items()
    assert plain_label.endswith("constant η")
    return plain, sched_label, sched


def test_schedules_warm_up_toggle_changes_the_scheduled_run():
    at = open_page("schedules")
    plain, label_on, with_warmup = scheduled_paths(at)
    assert label_on.endswith("linear warm-up (100 steps) + cosine annealing")  # the schedule that runs
    at.sidebar.toggle(key="sc.warm").set_value(False)
    run(at)
    plain_off, label_off, without = scheduled_paths(at)
    assert plain_off == plain, "the constant-η run does not depend on the schedule"
    assert label_off.endswith("cosine annealing")
    assert without != with_warmup


def test_schedules_other_schedule_and_optimizer():
    at = open_page("schedules")
    _, _, before = scheduled_paths(at)
    at.sidebar.selectbox(key="sc.sched").set_value("step")
    run(at)
    _, _, after = scheduled_paths(at)
    assert after != before
    at.sidebar.selectbox(key="sc.opt").set_value("momentum")
    at.sidebar.selectbox(key="sc.surface").set_value("ravine")
    at.sidebar.select_slider(key="sc.lr").set_value(0.1)
    run(at)
    plain, label, _ = scheduled_paths(at)
    assert label.startswith("Momentum")


# --- theory ---------------------------------------------------------------------------------------------


def test_theory_has_one_expander_per_optimizer_with_its_rule():
    at = open_page("theory")
    assert len(at.expander) == len(OPTIMIZERS)
    for exp, spec in zip(at.expander, OPTIMIZERS):
        assert spec.name in exp.label
        (latex,) = exp.get("latex")
        assert spec.latex in latex.value
        text = " ".join(m.value for m in exp.get("markdown"))
        assert spec.reference in text
        (params,) = exp.dataframe
        assert params.value["name"].tolist() == [p.name for p in spec.params]
        (code,) = exp.get("code")
        assert code.value == spec.doc.strip()


def test_theory_show_filter():
    at = open_page("theory")
    at.multiselect(key="th.show").set_value(["Adam", "Newton"])
    run(at)
    assert len(at.expander) == 2
    assert [e.label.split("**")[1] for e in at.expander] == ["Adam", "Newton"]
    assert get_optimizer("newton").latex in at.expander[1].get("latex")[0].value


# --- scenes ---------------------------------------------------------------------------------------------


def test_gallery_has_one_link_per_preset():
    at = open_page("gallery")
    # the scene cards' links; the lectures' links (lecture=, seq=) are tested in test_gallery_sequences.py
    links = [link for link in at.get("link_button") if "lecture=" not in link.proto.url]
    assert len(links) == len(PRESETS)
    # two columns: the element tree lists the left column's scenes first; "./?" is the app's root (the Playground)
    assert sorted(link.proto.url for link in links) == sorted(
        "./?" + urllib.parse.urlencode(p["query"]) for p in PRESETS
    )
    assert all(link.proto.label == "Open in the Playground" for link in links)
    assert sorted(m.value for m in at.markdown if m.value.startswith("#### ")) == sorted(
        f"#### {p['name']}" for p in PRESETS
    )
    assert sorted(c.value for c in at.code) == sorted("?" + urllib.parse.urlencode(p["query"]) for p in PRESETS)


@pytest.mark.parametrize("preset", PRESETS, ids=[p["name"] for p in PRESETS])
def test_every_preset_opens_clean_in_the_playground(preset):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(preset["query"])
    run(at)
    assert not at.warning, [w.value for w in at.warning]
    q = preset["query"]
    surface = get_surface(q["surface"])
    keys = q["opt"].split(",") if "opt" in q else list(surface.lesson_optimizers)
    assert at.session_state["pg.optimizers"] == keys
    assert list(overlay_paths(sent_figure(at, "pg.ui.chart"))) == names(keys)
    for name, raw in q.items():
        if "." in name and name.split(".", 1)[0] in keys:
            key, hp_name = name.split(".", 1)
            want = raw if get_optimizer(key).param(hp_name).kind == "choice" else float(raw)
            assert at.session_state[f"pg.hp.{name}"] == pytest.approx(want), name
    if "steps" in q:
        assert at.session_state["pg.steps"] == int(q["steps"])
    if "noise" in q:
        assert at.session_state["pg.noise"] == pytest.approx(float(q["noise"]))
    if q.get("sched") == "warmup":
        assert at.session_state["pg.warmup"] is True
