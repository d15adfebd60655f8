"""Lecture mode on the Playground through AppTest: the scene's place (lecture=, seq=, scene=),
Previous/Next, predict-then-reveal (quiz=1|anon), and the projector view (st.context.is_embedded)."""

from __future__ import annotations

import pytest
import streamlit as st

from optimizers import get_optimizer

from scene.config import from_query, to_query
from scene.lectures import get_lecture
from scene.presets import preset_names, slug
from tests.app.test_playground_app import main_figure, new_app, ok, paths, query, warnings

SHIPPED = "adaptive-learning-rates"
LECTURE = get_lecture(SHIPPED)


def _texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def _button(at, key):
    return at.button(key=key)


def test_a_lecture_link_opens_its_scene_with_the_place_and_the_scenes_text():
    at = ok(new_app({"lecture": SHIPPED, "scene": "2"}))
    scene = LECTURE.scenes[1]
    text = _texts(at)
    assert f"{scene.name}" in text and f"scene 2 of {len(LECTURE)}" in text and LECTURE.title in text
    assert scene.description in text
    want, _ = from_query(scene.query)
    assert sorted(paths(main_figure(at))) == sorted(get_optimizer(k).name for k in want.optimizers)
    assert tuple(at.session_state["pg.optimizers"]) == want.optimizers
    q = query(at)
    assert (q["lecture"], q["scene"]) == (SHIPPED, "2")


def test_next_and_previous_walk_the_lecture_and_write_each_scene_to_the_url():
    at = ok(new_app({"lecture": SHIPPED, "scene": "1"}))
    assert _button(at, "pg.ui.prev_scene").disabled
    for number in range(2, len(LECTURE) + 1):
        _button(at, "pg.ui.next_scene").click()
        ok(at)
        q = query(at)
        assert q["scene"] == str(number)
        assert from_query(q)[0].optimizers == from_query(LECTURE.scenes[number - 1].query)[0].optimizers
        assert LECTURE.scenes[number - 1].name in _texts(at)
    assert _button(at, "pg.ui.next_scene").disabled
    _button(at, "pg.ui.prev_scene").click()
    assert query(ok(at))["scene"] == str(len(LECTURE) - 1)


def test_a_sequence_link_walks_its_presets():
    names = preset_names()[:3]
    at = ok(new_app({"seq": ",".join(slug(n) for n in names), "scene": "1"}))
    assert f"scene 1 of {len(names)}" in _texts(at)
    _button(at, "pg.ui.next_scene").click()
    ok(at)
    assert names[1] in _texts(at) and query(at)["scene"] == "2"
    assert query(at)["seq"] == ",".join(slug(n) for n in names)


@pytest.mark.parametrize(
    "params, warning",
    [
        ({"lecture": "nope", "scene": "2"}, "unknown lecture"),
        ({"lecture": SHIPPED, "scene": "99"}, "showing scene 1"),
        ({"seq": "not-a-preset"}, "no preset named"),
        ({"quiz": "sometimes"}, "quiz="),
    ],
)
def test_a_bad_lecture_link_falls_back_with_a_warning_and_a_working_page(params, warning):
    at = ok(new_app(params))
    assert any(warning in w for w in warnings(at)), warnings(at)
    assert main_figure(at)["data"]


def test_the_quiz_hides_the_paths_until_reveal_then_plays_them():
    at = ok(new_app({"lecture": SHIPPED, "scene": "2", "quiz": "1"}))
    fig = main_figure(at)
    assert not fig.get("frames") and "xaxis2" not in fig["layout"] and not paths(fig)
    expected = [n for n in ("SGD", "Momentum", "Adam")]
    assert [t["name"] for t in fig["data"] if t["name"] in expected] == expected
    assert LECTURE.scenes[1].description not in _texts(at)  # the text would give the answer away
    _button(at, "pg.ui.reveal").click()
    fig = main_figure(ok(at))
    assert sorted(paths(fig)) == sorted(expected) and fig["frames"]
    assert fig["layout"]["meta"]["autoplay"].startswith("reveal-")
    assert LECTURE.scenes[1].description in _texts(at)
    ok(at)  # a rerun keeps it revealed, and does not play it again
    fig = main_figure(at)
    assert paths(fig) and "autoplay" not in (fig["layout"].get("meta") or {})
    at.session_state["pg.steps"] = 100  # a new question: hidden again
    assert not paths(main_figure(ok(at)))


def test_an_anonymous_quiz_letters_the_legend_until_the_reveal():
    at = ok(new_app({"lecture": SHIPPED, "scene": "2", "quiz": "anon"}))
    fig = main_figure(at)
    legend = [t["name"] for t in fig["data"] if t.get("showlegend", True) and t["name"] != "start"]
    assert legend == ["Optimizer A", "Optimizer B", "Optimizer C"]
    assert not any(n in repr(fig) for n in ("SGD", "Momentum", "Adam"))
    assert query(at)["quiz"] == "anon"
    assert LECTURE.scenes[1].name not in _texts(at)  # "SGD vs momentum" would name the letters
    _button(at, "pg.ui.reveal").click()
    assert sorted(paths(main_figure(ok(at)))) == ["Adam", "Momentum", "SGD"]
    assert LECTURE.scenes[1].name in _texts(at)


def test_the_quiz_toggle_writes_quiz_to_the_url_and_survives_the_next_scene():
    at = ok(new_app({"lecture": SHIPPED, "scene": "1"}))
    at.toggle(key="pg.ui.quiz").set_value(True)
    assert query(ok(at))["quiz"] == "1"
    _button(at, "pg.ui.next_scene").click()
    ok(at)
    assert query(at)["quiz"] == "1" and not paths(main_figure(at))


@pytest.fixture
def embedded(monkeypatch):
    """The projector view: Streamlit's ?embed=true, as st.context reports it."""
    monkeypatch.setattr(type(st.context), "is_embedded", property(lambda self: True))


def test_the_projector_view_puts_the_scene_and_speed_under_the_figure_in_large_text(embedded):
    at = ok(new_app({"lecture": SHIPPED, "scene": "3"}))
    assert not at.title  # the figure comes first
    assert not [w for w in at.sidebar if getattr(w, "key", None) == "pg.ui.speed"]
    speed = at.select_slider(key="pg.ui.speed")
    speed.set_value("2×")
    fig = main_figure(ok(at))
    assert fig["layout"]["font"]["size"] == 20  # the presenter's size
    assert fig["layout"]["height"] <= 900  # with the bar under it, it fits a 1080p projector
    play = fig["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][1]["frame"]["duration"] == 30
    assert f"scene 3 of {len(LECTURE)}" in _texts(at)
    assert "font-size: 1.2rem" in "".join(m.value for m in at.markdown)
    _button(at, "pg.ui.next_scene").click()
    assert query(ok(at))["scene"] == "4"


def test_the_projector_link_has_embed_and_every_setting():
    at = ok(new_app({"lecture": SHIPPED, "scene": "3", "quiz": "1"}))
    links = [c.value for c in at.get("code") if "embed=true" in c.value]
    assert len(links) == 1
    from urllib.parse import parse_qsl, urlsplit

    params = dict(parse_qsl(urlsplit(links[0]).query))
    assert params.pop("embed") == "true"
    assert params == to_query(from_query(query(at))[0])
