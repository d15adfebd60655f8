"""Lectures: ordered sequences of scenes with a title (no Streamlit).

A lecture is a JSON file in assets/lectures/ (its file name, without .json, is its key):

    {
      "title": "Adaptive learning rates",
      "description": "One paragraph for the index page (optional).",
      "scenes": [
        {"preset": "Ravine: SGD vs momentum"},
        {"name": "Nesterov looks ahead",
         "query": {"surface": "ravine", "opt": "momentum,nesterov"},
         "description": "What to watch.",
         "measured": "Steps to a loss below {tol}: ..."}
      ]
    }

Each scene is either a preset of assets/presets.json named by its name (or slug), or a scene of its
own with the preset's fields: name, query (the Playground's URL parameters), description and an
optional measured template (engine/lessons.py fills it from the scene's runs). A lecturer's own
sequence of presets (built on the Scenes page) travels in a URL as `seq=slug,slug,...`, or as a file
in the same format (`lecture_json`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from scene.presets import ASSETS, find_preset, slug

LECTURES_DIR = ASSETS / "lectures"
MAX_SCENES = 50
MAX_FILE_BYTES = 200_000
_TEXT_LIMITS = {"name": 120, "title": 120, "description": 2000, "measured": 2000}


class LectureError(ValueError):
    """A lecture file or sequence that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class LectureScene:
    name: str
    query: dict
    description: str = ""
    measured: str | None = None


@dataclass(frozen=True)
class Lecture:
    key: str  # the file's stem, or "" for a sequence that is not a shipped file
    title: str
    scenes: tuple[LectureScene, ...]
    description: str = ""

    def __len__(self) -> int:
        return len(self.scenes)


def lectures_dir() -> Path:
    """assets/lectures/ of the source tree (GRADSCAPE_LECTURES overrides it)."""
    return Path(os.environ.get("GRADSCAPE_LECTURES") or LECTURES_DIR)


def available_lectures() -> tuple[str, ...]:
    """The keys of the shipped lectures, sorted."""
    folder = lectures_dir()
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.glob("*.json")))


def get_lecture(key: str) -> Lecture:
    """The shipped lecture `key`; a ValueError (LectureError) names the lectures there are."""
    if key not in available_lectures():
        raise LectureError(f"unknown lecture {key!r}; lectures: {', '.join(available_lectures()) or 'none'}")
    path = lectures_dir() / f"{key}.json"
    return parse_lecture(path.read_bytes(), key)


def parse_lecture(text: str | bytes, key: str = "") -> Lecture:
    """A lecture from its JSON text; a LectureError says what is wrong (never another exception)."""
    if len(text) > MAX_FILE_BYTES:
        raise LectureError(f"a lecture file must be under {MAX_FILE_BYTES // 1000} kB")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise LectureError(f"not a lecture file: it is not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise LectureError("not a lecture file: it must be a JSON object with a title and scenes")
    title = _text(doc, "title", "the lecture")
    if not title:
        raise LectureError("the lecture has no title")
    raw_scenes = doc.get("scenes")
    if not isinstance(raw_scenes, list) or not raw_scenes:
        raise LectureError("the lecture needs a non-empty list of scenes")
    if len(raw_scenes) > MAX_SCENES:
        raise LectureError(f"a lecture holds at most {MAX_SCENES} scenes")
    scenes = tuple(_scene(item, i + 1) for i, item in enumerate(raw_scenes))
    return Lecture(key, title, scenes, _text(doc, "description", "the lecture"))


def _scene(item, number: int) -> LectureScene:
    where = f"scene {number}"
    if not isinstance(item, dict):
        raise LectureError(f"{where} must be an object with a preset or a name and a query")
    if "preset" in item:
        preset = find_preset(str(item["preset"]))
        if preset is None:
            raise LectureError(f"{where}: no preset named {str(item['preset'])[:80]!r}")
        return _preset_scene(preset)
    name = _text(item, "name", where)
    query = item.get("query")
    if not name or not isinstance(query, dict):
        raise LectureError(f"{where} needs a name and a query (the Playground's URL parameters)")
    if not all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in query.items()):
        raise LectureError(f"{where}: the query's keys and values must be text or numbers")
    query = {k: str(v) for k, v in query.items()}
    return LectureScene(name, query, _text(item, "description", where), _text(item, "measured", where) or None)


def _preset_scene(preset: dict) -> LectureScene:
    return LectureScene(preset["name"], dict(preset["query"]), preset.get("description", ""), preset.get("measured"))


def _text(doc: dict, field: str, where: str) -> str:
    value = doc.get(field, "")
    if not isinstance(value, str):
        raise LectureError(f"{where}: {field} must be text")
    if len(value) > _TEXT_LIMITS[field]:
        raise LectureError(f"{where}: {field} is longer than {_TEXT_LIMITS[field]} characters")
    return value.strip()


def sequence(names, title: str = "My sequence") -> Lecture:
    """A lecture made of presets, named by name or slug, in the given order (the Scenes page's own
    sequences); a LectureError names the first one that is not a preset."""
    scenes = []
    for name in names:
        preset = find_preset(name)
        if preset is None:
            raise LectureError(f"no preset named {str(name)[:80]!r}")
        scenes.append(_preset_scene(preset))
    if not scenes:
        raise LectureError("a sequence needs at least one scene")
    if len(scenes) > MAX_SCENES:
        raise LectureError(f"a sequence holds at most {MAX_SCENES} scenes")
    return Lecture("", title.strip() or "My sequence", tuple(scenes))


def sequence_param(lecture: Lecture) -> str:
    """The `seq=` URL value of a sequence of presets: their slugs, comma-separated."""
    return ",".join(slug(s.name) for s in lecture.scenes)


def lecture_json(lecture: Lecture) -> str:
    """The lecture as a file in the documented format (every scene written out in full)."""
    scenes = []
    for s in lecture.scenes:
        item = {"name": s.name, "query": dict(s.query), "description": s.description}
        if s.measured:
            item["measured"] = s.measured
        scenes.append(item)
    doc = {"title": lecture.title, "description": lecture.description, "scenes": scenes}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
