"""The Scenes page's lectures and sequence builder through Streamlit's AppTest: each shipped lecture opens
at scene 1 and downloads as a pack; picked scenes, in the order picked, become a link, a lecture file and
a pack. The files are what the page hands to its download buttons (recorded from Streamlit's media file
manager); the packs are deferred: built only when the button is pressed, never when the page loads."""

from __future__ import annotations

import io
import json
import urllib.parse
import zipfile
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from export import pack
from scene.lectures import available_lectures, get_lecture, parse_lecture, sequence
from scene.presets import preset_names, slug

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PLATEAU, SADDLE, RAVINE = "Plateau: AdaGrad stalls", "Saddle: who escapes first", "Ravine: SGD vs momentum"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture
def downloads(monkeypatch):
    """{file name: (data or the deferred callable, mime type)} of every download button drawn."""
    seen: dict = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def record_add(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if is_for_static_download:
            seen[file_name] = (data, mimetype)
        return add(self, data, mimetype, coordinates, file_name, is_for_static_download)

    def record_deferred(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        seen[file_name] = (data_callable, mimetype)
        return add_deferred(self, data_callable, mimetype, coordinates, file_name, element_id=element_id)

    monkeypatch.setattr(MediaFileManager, "add", record_add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", record_deferred)
    return seen


def clean(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_gallery() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    clean(at.run())
    at.switch_page("pages/gallery.py")
    return clean(at.run())


def link_urls(at: AppTest) -> list[str]:
    return [link.proto.url for link in at.get("link_button")]


def buttons(at: AppTest) -> dict[str, object]:
    return {b.proto.label: b for b in at.get("download_button")}


def test_each_shipped_lecture_opens_at_scene_1_and_offers_its_pack(downloads, monkeypatch):
    built = []
    monkeypatch.setattr(pack, "build_pack", lambda *a, **k: built.append(a) or {"index.html": b"x"})
    at = open_gallery()
    keys = available_lectures()
    assert keys
    for key in keys:
        assert "./?" + urllib.parse.urlencode({"lecture": key, "scene": "1"}) in link_urls(at)
        assert get_lecture(key).title in [s.value for s in at.subheader]
        data, mime = downloads[f"{key}.zip"]
        assert callable(data) and mime == "application/zip"
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download the lecture pack (zip)"] * len(keys)  # no sequence picked yet
    assert built == []  # nothing was packed while the page loaded
    for b in at.get("download_button"):
        assert b.proto.deferred_file_id  # the file comes when the button is pressed


def test_the_lecture_pack_download_is_the_cli_pack_as_a_zip(downloads):
    open_gallery()
    key = available_lectures()[0]
    make, _ = downloads[f"{key}.zip"]
    data = make()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
    lecture = get_lecture(key)
    assert f"{key}/index.html" in names and f"{key}/plotly.min.js" in names
    pages = [pack.page_name(i, s.name) for i, s in enumerate(lecture.scenes, 1)]
    assert [n for n in names if n.endswith(".html") and not n.endswith("index.html")] == [f"{key}/{p}" for p in pages]


def test_no_sequence_until_scenes_are_picked():
    at = open_gallery()
    assert not [u for u in link_urls(at) if "seq=" in u]
    assert "Download as a lecture file" not in buttons(at)
    assert at.multiselect(key="gal.seq.scenes").options == preset_names()


def test_picked_scenes_in_order_become_a_link_a_file_and_a_pack(downloads):
    at = open_gallery()
    at.multiselect(key="gal.seq.scenes").set_value([PLATEAU, SADDLE, RAVINE])
    at.text_input(key="gal.seq.title").set_value("Week 3: <adaptive> steps")
    clean(at.run())
    order = [slug(PLATEAU), slug(SADDLE), slug(RAVINE)]
    query = {"seq": ",".join(order), "scene": "1"}
    # the Playground link opens scene 1 of the sequence; the copyable text is the same place
    assert "./?" + urllib.parse.urlencode(query) in link_urls(at)
    seq_codes = [c.value for c in at.code if "seq=" in c.value]
    assert len(seq_codes) == 1 and ",".join(order) in seq_codes[0]  # readable: the commas are not escaped
    copied = urllib.parse.parse_qs(seq_codes[0].split("?", 1)[1])
    assert copied == {"seq": [",".join(order)], "scene": ["1"]}
    # the lecture file: the documented format, the title, the scenes in the order picked
    text, mime = downloads["week-3-adaptive-steps.json"]
    assert mime == "application/json"
    lecture = parse_lecture(text)
    assert lecture.title == "Week 3: <adaptive> steps"
    assert [s.name for s in lecture.scenes] == [PLATEAU, SADDLE, RAVINE]
    assert lecture.scenes == sequence(order).scenes
    assert json.loads(text)["scenes"][0]["query"] == sequence([PLATEAU]).scenes[0].query
    # the pack of the sequence, on demand
    make, mime = downloads["week-3-adaptive-steps.zip"]
    assert callable(make) and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(make())) as zf:
        names = zf.namelist()
        index = zf.read("week-3-adaptive-steps/index.html").decode()
    assert [n.split("/", 1)[1] for n in names if n.endswith(".html")] == [
        "index.html",
        *(pack.page_name(i, name) for i, name in enumerate([PLATEAU, SADDLE, RAVINE], 1)),
    ]
    assert "Week 3: &lt;adaptive&gt; steps" in index


def test_reordering_the_picks_reorders_the_sequence(downloads):
    at = open_gallery()
    at.multiselect(key="gal.seq.scenes").set_value([RAVINE, SADDLE])
    clean(at.run())
    assert "./?" + urllib.parse.urlencode({"seq": f"{slug(RAVINE)},{slug(SADDLE)}", "scene": "1"}) in link_urls(at)
    at.multiselect(key="gal.seq.scenes").set_value([SADDLE, RAVINE])
    clean(at.run())
    urls = [u for u in link_urls(at) if "seq=" in u]
    assert urls == ["./?" + urllib.parse.urlencode({"seq": f"{slug(SADDLE)},{slug(RAVINE)}", "scene": "1"})]
    text, _ = downloads["my-sequence.json"]  # the default title
    assert [s.name for s in parse_lecture(text).scenes] == [SADDLE, RAVINE]
    assert parse_lecture(text).title == "My sequence"


def test_the_sequence_link_opens_its_first_scene_in_the_playground():
    at = open_gallery()
    at.multiselect(key="gal.seq.scenes").set_value([SADDLE, PLATEAU])
    clean(at.run())
    url = next(u for u in link_urls(at) if "seq=" in u)
    query = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))
    playground = AppTest.from_file(APP, default_timeout=120)
    playground.query_params.update(query)
    clean(playground.run())
    assert not playground.warning, [w.value for w in playground.warning]
    assert any(f"**{SADDLE}**" in m.value and "scene 1 of 2" in m.value for m in playground.markdown)
