"""The Playground page through Streamlit's AppTest: widgets -> figure, URL state, presets, bad links.

Each test gets a fresh AppTest (st.cache_data is process-wide, so repeated engine calls are cheap).
The main figure is the live figure keyed "pg.ui.chart"; ui.live_figure.sent_figure reads what a run sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from engine import simulate
from figures.playground import rounded
from optimizers import available_optimizers, get_optimizer
from optimizers.schedules import available_schedules, make_schedule
from surfaces import available_surfaces, get_surface, surface_class
from scene.config import effective_hparams, from_query, lesson_config, to_query

from ui.live_figure import sent_figure
from ui.plotly_figure import plain_arrays
from ui.shell import LOADER_KEY

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PRESETS = json.loads((ROOT / "assets" / "presets.json").read_text(encoding="utf-8"))
SCRIPT = "<script>alert(1)</script>"
LOOKAHEAD_ORDER_BUG = (
    "ui/config.py from_query (hparams loop, line ~119-123): the link the page writes for Lookahead over "
    "Momentum lists 'lookahead.dampening' before 'lookahead.inner'; on load dampening is checked against the "
    "default inner (Adam) and the page warns \"Lookahead has no hyperparameter 'dampening': ignored\""
)
EMPTY_OPT_BUG = (
    "ui/config.py from_query line ~112-116: opt=bogus (no valid key) selects no optimizer at all, so the page "
    "shows an empty chart instead of the surface's default optimizers"
)


def page_charts(at: AppTest) -> list:
    """The page's plotly charts, without the app shell's plotly.js loader (ui/shell.py)."""
    return [c for c in at.get("plotly_chart") if not c.proto.id.endswith(LOADER_KEY + "-chart")]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


# --- helpers ----------------------------------------------------------------------------------------


def new_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    return at


def ok(at: AppTest) -> AppTest:
    """Run and check the run was clean: no exception, no st.error."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def main_figure(at: AppTest) -> dict:
    return sent_figure(at, "pg.ui.chart")


def paths(fig: dict) -> dict[str, dict]:
    """Display name -> path trace (a head marker's name is the run's plain display name)."""
    groups = {
        t["legendgroup"]: t["name"]
        for t in fig["data"]
        if t.get("xaxis") == "x" and t.get("mode") == "markers" and "legendgroup" in t
    }
    return {
        groups[t["legendgroup"]]: t
        for t in fig["data"]
        if t.get("xaxis") == "x" and t.get("mode") == "lines" and "legendgroup" in t
    }


def names(keys) -> list[str]:
    return [get_optimizer(k).name for k in keys]


def xy(trace) -> list[tuple]:
    return list(zip(trace["x"], trace["y"]))


def start_marker(fig):
    t = next(t for t in fig["data"] if t.get("name") == "start")
    return t["x"][0], t["y"][0]


def query(at) -> dict:
    return {k: at.query_params[k] for k in at.query_params}


def warnings(at) -> list[str]:
    """Warning texts as the reader sees them: the page escapes every Markdown character of URL text
    (ui/text.plain), so the Markdown source has a backslash before each; drop those."""
    return [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]


def test_url_text_in_a_warning_is_escaped_markdown():
    """A link or a script in a URL parameter must reach the page as literal text, not Markdown."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["surface"] = "[click](javascript:alert(1))"
    at.run()
    raw = [w.value for w in at.warning]
    assert raw and all("[click](" not in w for w in raw), raw
    assert any("\\[click\\]\\(javascript" in w for w in raw), raw


def state(at, key):
    return at.session_state[key]


# --- defaults, every surface, every optimizer ----------------------------------------------------------


def test_default_page_runs_clean_and_draws_one_path_per_optimizer():
    at = ok(new_app())
    assert not at.warning
    fig = main_figure(at)
    selected = state(at, "pg.optimizers")
    assert selected == list(lesson_config(state(at, "pg.surface")).optimizers)
    assert list(paths(fig)) == names(selected)
    assert at.title[0].value == "Playground"
    assert query(at) == {"surface": state(at, "pg.surface")}


@pytest.mark.parametrize("surface", available_surfaces())
def test_every_surface_opens_its_lesson(surface):
    at = ok(new_app())
    at.selectbox(key="pg.surface").set_value(surface)
    ok(at)
    lesson = surface_class(surface).lesson_optimizers
    assert state(at, "pg.optimizers") == list(lesson)
    fig = main_figure(at)
    assert list(paths(fig)) == names(lesson)
    assert fig["layout"]["xaxis"]["range"] == list(surface_class(surface).bounds[0])
    assert query(at)["surface"] == surface


@pytest.mark.parametrize("key", available_optimizers())
def test_every_optimizer_alone(key):
    at = ok(new_app({"steps": "100"}))
    at.multiselect(key="pg.optimizers").set_value([key])
    ok(at)
    fig = main_figure(at)
    assert list(paths(fig)) == [get_optimizer(key).name]
    (path,) = paths(fig).values()
    assert len(path["x"]) >= 1
    assert query(at)["opt"] == key


# --- controls change what they should --------------------------------------------------------------


def test_an_lr_slider_changes_only_its_optimizers_path():
    at = ok(new_app({"steps": "100"}))
    before = paths(main_figure(at))
    assert set(before) == {"SGD", "Momentum", "Adam"}
    slider = at.select_slider(key="pg.hp.adam.lr")
    new = next(v for v in (0.01, 0.02, 0.2) if v != slider.value)
    slider.set_value(new)
    ok(at)
    after = paths(main_figure(at))
    assert xy(after["SGD"]) == xy(before["SGD"])
    assert xy(after["Momentum"]) == xy(before["Momentum"])
    assert xy(after["Adam"]) != xy(before["Adam"])
    assert query(at)["adam.lr"] == f"{new:g}"


def test_steps_change_the_path_length():
    at = ok(new_app())
    for steps in (100, 500):
        at.select_slider(key="pg.steps").set_value(steps)
        ok(at)
        fig = main_figure(at)
        for name, trace in paths(fig).items():
            if "diverged" not in trace["name"]:
                assert len(trace["x"]) == steps + 1, name
        assert fig["frames"][-1]["name"] == str(steps)
        assert query(at)["steps"] == str(steps)


def test_a_surface_parameter_changes_the_background_and_the_paths():
    at = ok(new_app({"steps": "100"}))
    fig0 = main_figure(at)
    at.select_slider(key="pg.s.condition").set_value(200.0)
    ok(at)
    fig1 = main_figure(at)
    assert fig1["layout"]["images"][0]["source"] != fig0["layout"]["images"][0]["source"]
    assert xy(paths(fig1)["SGD"]) != xy(paths(fig0)["SGD"])
    at.slider(key="pg.s.angle").set_value(30.0)
    ok(at)
    fig2 = main_figure(at)
    assert fig2["layout"]["images"][0]["source"] != fig1["layout"]["images"][0]["source"]
    assert query(at)["s.condition"] == "200" and query(at)["s.angle"] == "30"


def test_noise_and_seed_change_the_paths():
    at = ok(new_app({"steps": "100"}))
    clean = paths(main_figure(at))
    at.slider(key="pg.noise").set_value(0.5)
    ok(at)
    noisy = paths(main_figure(at))
    assert all(xy(noisy[k]) != xy(clean[k]) for k in clean)
    assert all(xy(noisy[k])[0] == xy(clean[k])[0] for k in clean)  # same start
    at.number_input(key="pg.seed").set_value(7)
    ok(at)
    reseeded = paths(main_figure(at))
    assert all(xy(reseeded[k]) != xy(noisy[k]) for k in clean)
    assert query(at)["noise"] == "0.5" and query(at)["seed"] == "7"


def test_the_start_inputs_move_the_start_marker_and_every_path():
    at = ok(new_app({"steps": "100"}))
    assert start_marker(main_figure(at)) == pytest.approx(surface_class("ravine").start)
    at.number_input(key="pg.start.x").set_value(-2.0)
    at.number_input(key="pg.start.y").set_value(1.0)
    ok(at)
    fig = main_figure(at)
    assert start_marker(fig) == (-2.0, 1.0)
    for trace in paths(fig).values():
        assert xy(trace)[0] == (-2.0, 1.0)
    assert query(at)["start"] == "-2,1"


def test_presenter_mode_enlarges_the_text():
    at = ok(new_app({"steps": "100"}))
    small = main_figure(at)["layout"]["font"]["size"]
    at.toggle(key="pg.ui.presenter").set_value(True)
    ok(at)
    big = main_figure(at)["layout"]["font"]["size"]
    assert big > small
    assert query(at)["presenter"] == "1"
    # its stylesheet is the only unsafe-HTML markdown, and it is a constant
    assert [m.value for m in at.markdown if m.proto.allow_html] and all("<script" not in m.value for m in at.markdown)


def test_switching_surface_keeps_presenter_mode():
    at = ok(new_app({"presenter": "1", "steps": "100"}))
    at.selectbox(key="pg.surface").set_value("saddle")
    ok(at)
    assert state(at, "pg.ui.presenter") is True
    assert main_figure(at)["layout"]["font"]["size"] == 20


def test_the_main_figure_is_valid_plotly():
    """The page skips plotly's validation (PrebuiltFigure): check the dict it sends."""
    at = ok(new_app({"surface": "rosenbrock", "steps": "100", "presenter": "1"}))
    go.Figure(main_figure(at))


@pytest.mark.parametrize("schedule", [k for k in available_schedules() if k != "warmup"])
def test_every_schedule_with_and_without_warmup(schedule):
    at = ok(new_app({"steps": "100"}))
    assert not [c for c in page_charts(at) if c.proto.id.endswith("pg.ui.sched_preview")]  # closed: not built
    at.session_state["pg.ui.sched_open"] = True  # the user opens the preview
    at.selectbox(key="pg.sched").set_value(schedule)
    ok(at)
    previews = [c for c in page_charts(at) if c.proto.id.endswith("pg.ui.sched_preview")]
    needs_loss = make_schedule(schedule).needs_loss
    assert len(previews) == (0 if needs_loss else 1)
    for c in previews:
        go.Figure(plain_arrays(json.loads(c.proto.spec)))
    assert query(at).get("sched") == (None if schedule == "constant" else schedule)
    at.toggle(key="pg.warmup").set_value(True)
    ok(at)
    q = query(at)
    assert q["sched"] == "warmup" and q["sched.inner"] == schedule
    assert from_query(q)[1] == []


def test_the_3d_view():
    at = ok(new_app({"steps": "100"}))
    at.toggle(key="pg.ui.show3d").set_value(True)
    ok(at)
    charts = [c for c in page_charts(at) if c.proto.id.endswith("pg.ui.chart3d")]
    assert len(charts) == 1
    fig = plain_arrays(json.loads(charts[0].proto.spec))
    go.Figure(fig)
    assert [t["name"] for t in fig["data"][1:]] == names(lesson_config("ravine").optimizers)


def test_lookahead_and_its_inner_optimizer_in_the_page():
    at = ok(new_app({"steps": "100", "opt": "lookahead"}))
    assert list(paths(main_figure(at))) == ["Lookahead"]
    at.selectbox(key="pg.hp.lookahead.inner").set_value("momentum")
    ok(at)
    q = query(at)
    assert q["lookahead.inner"] == "momentum"
    assert at.slider(key="pg.hp.lookahead.momentum").value == 0.9


def test_a_lookahead_link_written_by_the_page_reloads_without_warnings():
    at = ok(new_app({"steps": "100", "opt": "lookahead"}))
    at.selectbox(key="pg.hp.lookahead.inner").set_value("momentum")
    ok(at)
    link = query(at)
    again = ok(new_app(link))
    assert warnings(again) == []
    assert query(again) == link


# --- URL state -----------------------------------------------------------------------------------------

URL = {
    "surface": "rosenbrock",
    "opt": "adam,newton",
    "adam.lr": "0.01",
    "steps": "500",
    "start": "-1,2",
    "sched": "cosine",
    "sched.T_max": "200",
}


def test_url_parameters_restore_the_state():
    at = ok(new_app(URL))
    assert not at.warning
    assert state(at, "pg.surface") == "rosenbrock"
    assert state(at, "pg.optimizers") == ["adam", "newton"]
    assert state(at, "pg.hp.adam.lr") == 0.01
    assert state(at, "pg.steps") == 500
    assert (state(at, "pg.start.x"), state(at, "pg.start.y")) == (-1.0, 2.0)
    assert state(at, "pg.sched") == "cosine" and state(at, "pg.sched.T_max") == 200
    assert state(at, "pg.warmup") is False
    fig = main_figure(at)
    p = paths(fig)
    assert list(p) == ["Adam", "Newton"]
    assert start_marker(fig) == (-1.0, 2.0)
    assert all(xy(t)[0] == (-1.0, 2.0) for t in p.values())
    assert fig["frames"][-1]["name"] == "500"
    # the drawn Adam path is the engine's run with exactly these settings
    s = get_surface("rosenbrock")
    cfg, _ = from_query(URL)
    traj = simulate(
        s,
        "adam",
        start=(-1.0, 2.0),
        steps=500,
        hparams=effective_hparams(cfg, "adam"),
        schedule=make_schedule("cosine", T_max=200),
        device="cpu",
    )
    assert int(traj.diverged_at[0]) == -1
    assert p["Adam"]["x"] == rounded(traj.xy[0, :, 0].numpy())
    assert p["Adam"]["y"] == rounded(traj.xy[0, :, 1].numpy())
    # the URL keeps what it was given
    assert {k: query(at).get(k) for k in URL} == URL


def test_a_widget_change_is_written_to_the_url():
    at = ok(new_app(URL))
    at.select_slider(key="pg.steps").set_value(200)
    ok(at)
    q = query(at)
    assert q["steps"] == "200"
    at.multiselect(key="pg.optimizers").set_value(["adam", "newton", "sgd"])
    ok(at)
    q = query(at)
    assert q["opt"] == "adam,newton,sgd"
    assert q["adam.lr"] == "0.01" and q["surface"] == "rosenbrock"
    at.select_slider(key="pg.steps").set_value(1000)  # the lesson's own value: dropped from the link
    ok(at)
    assert "steps" not in query(at)
    at.select_slider(key="pg.steps").set_value(200)
    ok(at)
    q = query(at)
    cfg, warns = from_query(q)  # the written link is itself clean
    assert warns == []
    assert cfg.optimizers == ("adam", "newton", "sgd") and cfg.steps == 200 and cfg.start == (-1.0, 2.0)


def test_a_warmup_link_restores_the_toggle_and_inner_schedule():
    q = {
        "surface": "beale",
        "opt": "adam",
        "sched": "warmup",
        "sched.inner": "cosine",
        "sched.T_max": "300",
        "sched.warmup_steps": "40",
        "steps": "250",
    }
    at = ok(new_app(q))
    assert not at.warning
    assert state(at, "pg.sched") == "cosine" and state(at, "pg.warmup") is True
    assert state(at, "pg.sched.T_max") == 300 and state(at, "pg.sched.warmup_steps") == 40
    url = query(at)
    assert url["sched"] == "warmup" and url["sched.inner"] == "cosine" and url["sched.warmup_steps"] == "40"


# --- bad links ---------------------------------------------------------------------------------------


def test_an_unknown_surface_warns_and_shows_the_default():
    at = ok(new_app({"surface": "nope", "steps": "100"}))
    assert any("surface" in w and "nope" in w for w in warnings(at)), warnings(at)
    assert state(at, "pg.surface") == "ravine"
    assert list(paths(main_figure(at))) == names(lesson_config("ravine").optimizers)
    assert query(at)["surface"] == "ravine"


def test_a_bad_lr_warns_and_keeps_the_default():
    at = ok(new_app({"adam.lr": "abc"}))
    assert any("adam.lr" in w for w in warnings(at)), warnings(at)
    assert state(at, "pg.hp.adam.lr") == effective_hparams(lesson_config("ravine"), "adam")["lr"]
    assert "adam.lr" not in query(at)


def test_an_unknown_optimizer_warns_and_never_raises():
    at = ok(new_app({"opt": "bogus"}))
    assert any("bogus" in w for w in warnings(at)), warnings(at)
    assert "bogus" not in json.dumps(query(at))


def test_an_unknown_optimizer_falls_back_to_the_default_optimizers():
    at = ok(new_app({"opt": "bogus"}))
    assert list(paths(main_figure(at))) == names(lesson_config("ravine").optimizers)


@pytest.mark.parametrize("where", ["surface", "sgd.lr", "opt", "steps", SCRIPT])
def test_a_script_value_is_only_text(where):
    at = ok(new_app({where: SCRIPT, "steps": "100"} if where != "steps" else {"steps": SCRIPT}))
    ws = warnings(at)
    assert ws and any(SCRIPT in w for w in ws), ws
    for element in list(at.markdown) + list(at.caption) + list(at.title) + list(at.info):
        assert "<script" not in element.value
    for m in at.markdown:
        if m.proto.allow_html:
            assert "alert(" not in m.value
    assert "<script" not in json.dumps(query(at))
    assert "<script" not in json.dumps(main_figure(at))


def test_many_bad_parameters_at_once():
    q = {
        "surface": "nope",
        "adam.lr": "abc",
        "opt": "sgd,bogus",
        "steps": "0",
        "noise": "-1",
        "start": "1,2,3",
        "foo": SCRIPT,
    }
    at = ok(new_app(q))
    ws = " | ".join(warnings(at))
    for needle in ("surface", "adam.lr", "bogus", "steps", "noise", "start", "foo"):
        assert needle in ws, needle
    assert list(paths(main_figure(at))) == ["SGD"]
    assert state(at, "pg.steps") == lesson_config("ravine").steps
    assert state(at, "pg.noise") == 0.0


# --- presets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS, ids=[p["name"] for p in PRESETS])
def test_every_preset(preset):
    expected, warns = from_query(preset["query"])
    assert warns == [], "the preset's own query is clean"
    at = ok(new_app({"steps": "100"}))
    at.selectbox(key="pg.ui.preset").set_value(preset["name"])
    ok(at)
    assert not at.warning, warnings(at)
    assert state(at, "pg.surface") == expected.surface
    assert state(at, "pg.optimizers") == list(expected.optimizers)
    assert state(at, "pg.steps") == expected.steps
    assert state(at, "pg.noise") == expected.noise
    for key in expected.optimizers:
        for name, value in expected.hparams.get(key, {}).items():
            assert state(at, f"pg.hp.{key}.{name}") == value
    fig = main_figure(at)
    assert list(paths(fig)) == names(expected.optimizers)
    assert fig["frames"][-1]["name"] == str(expected.steps)
    # the URL now describes the preset
    url = query(at)
    for k, v in to_query(expected).items():
        assert url.get(k) == v, k
    restored, warns = from_query(url)
    assert warns == []
    assert (restored.surface, restored.optimizers, restored.steps, restored.noise, restored.start) == (
        expected.surface,
        expected.optimizers,
        expected.steps,
        expected.noise,
        expected.start,
    )
    for key in expected.optimizers:
        assert effective_hparams(restored, key) == effective_hparams(expected, key)
    assert make_schedule(restored.schedule, **restored.schedule_params) == make_schedule(
        expected.schedule, **expected.schedule_params
    )


def test_server_time_caption_counts_only_the_engine_work_of_this_run():
    """The engine's share is part of the server time: a rerun served from the cache says 0 ms of engine."""
    import re

    def times(at):
        caption = next(c.value for c in at.caption if c.value.startswith("Server time"))
        server, engine = map(int, re.match(r"Server time (\d+) ms \(engine (\d+) ms of it;", caption).groups())
        return server, engine

    at = ok(new_app({"s.condition": "77"}))  # a surface no other test computes: this first run computes
    server, engine = times(at)
    assert 0 < engine <= server
    ok(at)  # everything cached now
    server, engine = times(at)
    assert engine == 0, (server, engine)


def test_the_export_panel_is_built_only_when_open_and_keeps_its_settings_while_closed():
    at = ok(new_app({"steps": "100"}))
    assert not at.get("download_button")  # closed: its ~25 elements are not sent with every rerun
    at.session_state["pg.ui.export.open"] = True
    ok(at)
    assert {b.proto.label for b in at.get("download_button")} >= {"GIF", "MP4", "PNG", "CSV", "JSON"}
    assert any("torch.optim" in c.value for c in at.code)  # the PyTorch snippet
    at.select_slider(key="pg.ui.export.fps").set_value(10)
    ok(at)
    at.session_state["pg.ui.export.open"] = False
    ok(at)
    at.select_slider(key="pg.hp.adam.lr").set_value(0.05)  # other reruns while it is closed
    ok(at)
    assert not at.get("download_button")
    at.session_state["pg.ui.export.open"] = True
    ok(at)
    assert at.select_slider(key="pg.ui.export.fps").value == 10
