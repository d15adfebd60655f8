"""scene/lectures.py and the lecture place in a URL (scene/config.py): files, sequences, bad input."""

from __future__ import annotations

import json

import pytest

from scene.config import Config, from_query, lecture_of, scene_query, to_query
from scene.lectures import (
    MAX_SCENES,
    LectureError,
    available_lectures,
    get_lecture,
    lecture_json,
    parse_lecture,
    sequence,
    sequence_param,
)
from scene.presets import preset_names, slug

SHIPPED = "adaptive-learning-rates"


def test_the_shipped_lecture_is_listed_and_loads():
    assert SHIPPED in available_lectures()
    lecture = get_lecture(SHIPPED)
    assert lecture.title == "Adaptive learning rates"
    assert len(lecture) >= 10
    assert all(s.name and s.query for s in lecture.scenes)


def test_an_unknown_lecture_names_the_lectures_there_are():
    with pytest.raises(LectureError, match=SHIPPED):
        get_lecture("no-such-lecture")


def test_a_preset_scene_is_the_preset_itself():
    name = preset_names()[0]
    lecture = parse_lecture(json.dumps({"title": "T", "scenes": [{"preset": slug(name)}]}))
    assert lecture.scenes[0].name == name


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"scenes": [{"preset": "x"}]}', "no title"),
        ('{"title": "T"}', "non-empty list of scenes"),
        ('{"title": "T", "scenes": []}', "non-empty list of scenes"),
        ('{"title": "T", "scenes": [{"preset": "no such preset"}]}', "scene 1: no preset named"),
        ('{"title": "T", "scenes": [{"name": "A"}]}', "scene 1 needs a name and a query"),
        ('{"title": "T", "scenes": [{"name": "A", "query": {"opt": ["sgd"]}}]}', "text or numbers"),
        ('{"title": 3, "scenes": [{"preset": "x"}]}', "title must be text"),
        ('{"title": "T", "scenes": [7]}', "scene 1 must be an object"),
        ('{"title": "' + "x" * 500 + '", "scenes": [{"preset": "x"}]}', "longer than"),
    ],
)
def test_a_bad_lecture_file_says_what_is_wrong(text, message):
    with pytest.raises(LectureError, match=message):
        parse_lecture(text)


def test_too_many_scenes_and_too_large_files_are_refused():
    scene = {"name": "A", "query": {"surface": "ravine"}}
    with pytest.raises(LectureError, match=f"at most {MAX_SCENES}"):
        parse_lecture(json.dumps({"title": "T", "scenes": [scene] * (MAX_SCENES + 1)}))
    with pytest.raises(LectureError, match="under"):
        parse_lecture(b"{" + b" " * 300_000 + b"}")


def test_a_lecture_written_to_a_file_reads_back_the_same():
    lecture = get_lecture(SHIPPED)
    again = parse_lecture(lecture_json(lecture), SHIPPED)
    assert again == lecture


def test_a_sequence_of_presets_keeps_the_given_order_and_travels_as_slugs():
    names = preset_names()[:3][::-1]
    lecture = sequence(names, "Week 3")
    assert [s.name for s in lecture.scenes] == names
    assert sequence_param(lecture) == ",".join(slug(n) for n in names)
    assert sequence(sequence_param(lecture).split(","), "Week 3") == lecture
    with pytest.raises(LectureError, match="no preset named"):
        sequence([names[0], "not-a-preset"])
    with pytest.raises(LectureError, match="at least one"):
        sequence([])


# ---- the place in a URL -----------------------------------------------------------------------


def test_a_link_to_a_lecture_scene_opens_that_scenes_settings():
    lecture = get_lecture(SHIPPED)
    for number, scene in enumerate(lecture.scenes, 1):
        cfg, warnings = from_query({"lecture": SHIPPED, "scene": str(number)})
        assert warnings == []
        assert (cfg.lecture, cfg.scene) == (SHIPPED, number)
        alone, _ = from_query(scene.query)
        assert cfg == Config(**{**alone.__dict__, "lecture": SHIPPED, "scene": number})


def test_the_place_round_trips_through_the_url_with_the_settings():
    cfg, _ = from_query({"lecture": SHIPPED, "scene": "3", "quiz": "anon", "presenter": "1"})
    query = to_query(cfg)
    assert (query["lecture"], query["scene"], query["quiz"]) == (SHIPPED, "3", "anon")
    assert from_query(query) == (cfg, [])


def test_settings_in_the_url_win_over_the_scenes_own():
    cfg, warnings = from_query({"lecture": SHIPPED, "scene": "2", "surface": "saddle", "steps": "100"})
    assert warnings == [] and cfg.surface == "saddle" and cfg.steps == 100 and cfg.scene == 2


def test_scene_query_moves_to_another_scene_and_keeps_the_display():
    cfg, _ = from_query({"lecture": SHIPPED, "scene": "2", "quiz": "1", "presenter": "1", "speed": "2×"})
    q = scene_query(cfg, 5)
    assert q == {"lecture": SHIPPED, "scene": "5", "presenter": "1", "speed": "2×", "quiz": "1"}
    moved, warnings = from_query(q)
    assert warnings == [] and moved.scene == 5 and moved.quiz == "1" and moved.presenter
    assert moved.optimizers == from_query(get_lecture(SHIPPED).scenes[4].query)[0].optimizers


def test_a_sequence_link_places_the_view_in_it():
    slugs = [slug(n) for n in preset_names()[:2]]
    cfg, warnings = from_query({"seq": ",".join(slugs), "scene": "2"})
    assert warnings == [] and cfg.sequence == tuple(slugs) and cfg.scene == 2
    assert lecture_of(cfg).scenes[1].name == preset_names()[1]
    assert to_query(cfg)["seq"] == ",".join(slugs)


@pytest.mark.parametrize(
    "query, warning, place",
    [
        ({"lecture": "nope"}, "unknown lecture 'nope'", ("", 0)),
        ({"lecture": SHIPPED, "scene": "0"}, "from 1 to", (SHIPPED, 1)),
        ({"lecture": SHIPPED, "scene": "99"}, "from 1 to", (SHIPPED, 1)),
        ({"lecture": SHIPPED, "scene": "two"}, "from 1 to", (SHIPPED, 1)),
        ({"lecture": SHIPPED, "scene": "1.5"}, "from 1 to", (SHIPPED, 1)),
        ({"scene": "3"}, "needs lecture= or seq=", ("", 0)),
        ({"seq": "no-such-preset"}, "no preset named", ("", 0)),
    ],
)
def test_a_bad_place_falls_back_with_a_warning(query, warning, place):
    cfg, warnings = from_query(query)
    assert any(warning in w for w in warnings), warnings
    assert (cfg.lecture, cfg.scene) == place


@pytest.mark.parametrize("raw, mode", [("1", "1"), ("true", "1"), ("anon", "anon"), ("0", ""), ("off", "")])
def test_quiz_modes(raw, mode):
    cfg, warnings = from_query({"quiz": raw})
    assert warnings == [] and cfg.quiz == mode


def test_a_bad_quiz_value_shows_the_paths_with_a_warning():
    cfg, warnings = from_query({"quiz": "<b>maybe</b>"})
    assert cfg.quiz == "" and any("quiz=" in w for w in warnings)
