"""The static lecture pack (export/pack.py) and `gradscape pack`: the files it writes, their links and sizes,
nothing that refers to another host, and clear one-line errors for arguments it cannot use."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from engine.lessons import measured_text
from export import cli, pack
from scene.config import from_query
from scene.lectures import LectureError, available_lectures, get_lecture, lecture_json, sequence
from scene.presets import preset_names, slug

LECTURE = "adaptive-learning-rates"
PACK_LIMIT_10 = 8_000_000  # the budget: a 10-scene pack under 8 MB in all
_PACKS: dict = {}


def shipped_pack() -> dict[str, bytes]:
    """The shipped lecture's pack, built once for the module."""
    if "shipped" not in _PACKS:
        lecture, _ = pack.resolve_lecture([LECTURE])
        _PACKS["shipped"] = pack.build_pack(lecture)
    return _PACKS["shipped"]


class Page(HTMLParser):
    """Links, images, script sources and inline scripts of one HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.inline: list[str] = []
        self.ids: set[str] = set()
        self.h1: list[str] = []
        self._in_script = self._in_h1 = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a["src"])
        elif tag == "script":
            if "src" in a:
                self.scripts.append(a["src"])
            else:
                self._in_script = True
                self.inline.append("")
        elif tag == "h1":
            self._in_h1 = True
            self.h1.append("")

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data):
        if self._in_script:
            self.inline[-1] += data
        if self._in_h1:
            self.h1[-1] += data


def scene_pages(files: dict) -> list[str]:
    return sorted(n for n in files if re.fullmatch(r"\d\d-[a-z0-9-]+\.html", n))


def embedded_figure(page_text: str) -> dict:
    script = next(s for s in Page(page_text).inline if "const figure = " in s)
    start = script.index("const figure = ") + len("const figure = ")
    return json.JSONDecoder().raw_decode(script[start:])[0]


# ---- the shipped lecture's pack ----------------------------------------------------------------------


def test_pack_has_an_index_a_page_and_thumbnail_per_scene_and_one_plotly():
    files = shipped_pack()
    lecture = get_lecture(LECTURE)
    pages = scene_pages(files)
    assert len(pages) == len(lecture) >= 1
    assert pages == [pack.page_name(i, s.name) for i, s in enumerate(lecture.scenes, 1)]
    thumbs = sorted(n for n in files if n.startswith("thumbnails/"))
    assert len(thumbs) == len(lecture)
    for name in thumbs:
        im = Image.open(io.BytesIO(files[name]))
        assert im.format == "JPEG" and im.size == pack.THUMB_SIZE
    assert set(files) == {"index.html", "plotly.min.js", *pages, *thumbs}
    # the one copy of plotly.js is the plotly package's own (its CDN default for maps made local)
    shipped = (Path(__import__("plotly").__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    assert len(files["plotly.min.js"]) == pytest.approx(len(shipped), abs=100)
    assert b"cdn.plot.ly" not in files["plotly.min.js"]


def test_index_names_the_lecture_and_links_every_scene_with_its_text_and_thumbnail():
    files = shipped_pack()
    lecture = get_lecture(LECTURE)
    text = files["index.html"].decode("utf-8")
    index = Page(text)
    assert index.h1 == [lecture.title]
    assert f"<title>{lecture.title}</title>" in text
    pages = scene_pages(files)
    for page in pages:
        assert page in index.links
    assert index.images == sorted(n for n in files if n.startswith("thumbnails/"))
    for s in lecture.scenes:
        assert html.escape(s.name) in text
        assert html.escape(s.description) in text
        if s.measured:  # each scene's numbers, measured on its own runs
            assert html.escape(measured_text(s.measured, from_query(s.query)[0])) in text
    assert sum(bool(s.measured) for s in lecture.scenes) >= 5
    shown = re.sub(r"<(script|style)>.*?</\1>", "", text, flags=re.S)
    assert not re.search(r"\{[a-z_]+\}", shown)  # every measured template filled


def test_scene_pages_load_the_local_plotly_and_walk_the_lecture():
    files = shipped_pack()
    lecture = get_lecture(LECTURE)
    pages = scene_pages(files)
    for k, name in enumerate(pages):
        text = files[name].decode("utf-8")
        page = Page(text)
        assert page.scripts == ["./plotly.min.js"]
        assert page.h1 == [lecture.scenes[k].name]
        assert "index.html" in page.links
        assert ("keys-help" in page.ids) and "toggleHelp" in text and "gradscapeKeys.install" in text
        prev = pages[k - 1] if k else None
        nxt = pages[k + 1] if k + 1 < len(pages) else None
        assert (prev in page.links) == (prev is not None) and (nxt in page.links) == (nxt is not None)
        # PageUp / PageDown go where Previous / Next go
        assert f"const prev = {json.dumps(prev)}, next = {json.dumps(nxt)};" in text
        assert f"Scene {k + 1} of {len(pages)}" in text
        figure = embedded_figure(text)
        assert figure["layout"]["sliders"][0]["steps"] and figure["layout"]["updatemenus"][0]["buttons"]
        assert len(figure["frames"]) == len(figure["layout"]["sliders"][0]["steps"])
        assert figure["config"]["displaylogo"] is False


def test_nothing_in_the_pages_refers_to_another_host():
    files = shipped_pack()
    for name, content in files.items():
        if name.endswith(".html"):
            text = content.decode("utf-8")
            assert not re.search(r"https?://", text), name
            assert "//cdn" not in text and 'src="//' not in text and 'href="//' not in text
            assert all(not re.match(r"[a-z]+:", link) for link in Page(text).links), name


def test_the_pack_is_small():
    files = shipped_pack()
    total = pack.pack_size(files)
    n = len(scene_pages(files))
    plotly = len(files["plotly.min.js"])
    per_scene = (total - plotly - len(files["index.html"])) / n
    # 10 scenes of this lecture's average size, with plotly.js and the index, stay under 8 MB
    assert plotly + len(files["index.html"]) + 10 * per_scene < PACK_LIMIT_10
    assert total < PACK_LIMIT_10  # this lecture has 11 scenes and fits even so
    assert max(len(v) for k, v in files.items() if k in scene_pages(files)) < 500_000


def test_every_preset_scene_page_is_small_enough_for_a_ten_scene_pack():
    """The heaviest ten presets in one pack stay under the budget too."""
    lecture = sequence(preset_names())
    sizes = []
    for i, scene in enumerate(lecture.scenes, 1):
        item = pack.compute_scene(i, scene)
        sizes.append(len(pack.scene_page(lecture, item, None, None).encode()) + len(item.image))
    heaviest = sum(sorted(sizes)[-10:])
    assert len(pack.plotly_js().encode()) + 40_000 + heaviest < PACK_LIMIT_10, sizes


def test_zip_unpacks_to_one_folder_with_the_same_files(tmp_path):
    lecture = sequence(["Saddle: who escapes first", "ravine-sgd-vs-momentum"], "Week 3 <intro>")
    data = pack.pack_zip(lecture)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert all(n.startswith("week-3-intro/") for n in names)
        assert "week-3-intro/index.html" in names and "week-3-intro/plotly.min.js" in names
        index = zf.read("week-3-intro/index.html").decode()
        assert zf.testzip() is None
    # the title is escaped, never markup
    assert "Week 3 &lt;intro&gt;" in index and "<intro>" not in index
    assert len(data) < 3_000_000  # plotly.js compresses to about a third


def test_write_pack_replaces_an_earlier_packs_scene_pages_and_keeps_other_files(tmp_path):
    first = sequence(["saddle-who-escapes-first", "ravine-sgd-vs-momentum"], "A")
    pack.write_pack(first, tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    second = sequence(["ravine-sgd-vs-momentum"], "B")
    written = pack.write_pack(second, tmp_path)
    assert written[0] == tmp_path / "index.html"
    pages = sorted(p.name for p in tmp_path.glob("*.html"))
    assert pages == ["01-ravine-sgd-vs-momentum.html", "index.html"]
    assert sorted(p.name for p in (tmp_path / "thumbnails").iterdir()) == ["01-ravine-sgd-vs-momentum.jpg"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_hostile_lecture_text_is_escaped_everywhere():
    doc = {
        "title": "</script><script>alert(1)</script>",
        "description": "<img src=x onerror=alert(2)>",
        "scenes": [
            {
                "name": "</script><b>x</b>",
                "query": {"surface": "saddle", "opt": "sgd", "steps": "20"},
                "description": "<a href='https://evil.example/'>y</a>",
            }
        ],
    }
    from scene.lectures import parse_lecture

    files = pack.build_pack(parse_lecture(json.dumps(doc)))
    for name in ("index.html", scene_pages(files)[0]):
        text = files[name].decode()
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>x</b>" not in text
        assert "https://evil.example" not in Page(text).links
        assert text.count("</script>") == len(Page(text).inline) + len(Page(text).scripts)


# ---- what the arguments mean ------------------------------------------------------------------------


def test_resolve_a_lecture_key_a_file_presets_and_links(tmp_path):
    shipped = get_lecture(LECTURE)
    lecture, warnings = pack.resolve_lecture([LECTURE])
    assert lecture == shipped and warnings == []
    assert pack.resolve_lecture([LECTURE], "Week 5")[0].title == "Week 5"

    own = sequence(["Plateau: AdaGrad stalls", "saddle-who-escapes-first"], "Mine")
    path = tmp_path / "mine.json"
    path.write_text(lecture_json(own), encoding="utf-8")
    from_file, _ = pack.resolve_lecture([str(path)])
    assert from_file.title == "Mine" and [s.name for s in from_file.scenes] == [s.name for s in own.scenes]
    assert [s.query for s in from_file.scenes] == [s.query for s in own.scenes]

    several, _ = pack.resolve_lecture(["saddle-who-escapes-first", "Ravine: SGD vs momentum"], "Two")
    assert several.title == "Two" and [s.name for s in several.scenes] == [
        "Saddle: who escapes first",
        "Ravine: SGD vs momentum",
    ]
    assert several.scenes[0].description  # a preset keeps its text

    seq, _ = pack.resolve_lecture(
        ["http://localhost:8501/?seq=saddle-who-escapes-first,plateau-adagrad-stalls&scene=2"]
    )
    assert [slug(s.name) for s in seq.scenes] == ["saddle-who-escapes-first", "plateau-adagrad-stalls"]
    by_link, _ = pack.resolve_lecture([f"?lecture={LECTURE}&scene=3"])
    assert by_link.title == shipped.title and len(by_link) == len(shipped)

    query, warnings = pack.resolve_lecture(["surface=ravine&opt=sgd,bogus&steps=50"])
    assert len(query) == 1 and query.scenes[0].query["opt"] == "sgd" and query.scenes[0].query["steps"] == "50"
    assert any("bogus" in w for w in warnings)


@pytest.mark.parametrize(
    "items, message",
    [
        (["no-such-thing"], "unknown lecture or scene 'no-such-thing'"),
        (["missing.json"], "missing.json: no such lecture file"),
        (["?lecture=nope"], "unknown lecture 'nope'"),
        (["?seq=saddle-who-escapes-first,nope"], "no preset named 'nope'"),
        (["surface=ravine", "zzz=1"], "not a gradscape query"),
        ([""], "nothing to pack"),
        ([], "nothing to pack"),
    ],
    ids=["unknown", "missing-file", "unknown-lecture-link", "unknown-seq-slug", "foreign-query", "empty", "none"],
)
def test_unusable_arguments_are_clear_errors(items, message):
    with pytest.raises(LectureError, match=re.escape(message)):
        pack.resolve_lecture(items)


def test_a_corrupt_lecture_file_names_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "week.json"
    bad.write_text('{"title": "x", "scenes": [', encoding="utf-8")
    with pytest.raises(LectureError, match=r"week\.json: not a lecture file: it is not valid JSON"):
        pack.resolve_lecture([str(bad)])
    bad.write_text('{"title": "x", "scenes": [{"preset": "nope"}]}', encoding="utf-8")
    with pytest.raises(LectureError, match=r"week\.json: scene 1: no preset named 'nope'"):
        pack.resolve_lecture([str(bad)])


# ---- the command line --------------------------------------------------------------------------------


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and lines[0].startswith("gradscape: error: ")
    return lines[0]


def test_cli_packs_the_shipped_lecture(cli_process, tmp_path):
    out = tmp_path / "lecture"
    proc = cli_process("pack", LECTURE, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out / "index.html")]
    n = len(get_lecture(LECTURE))
    assert f"scene {n}/{n}" in proc.stderr and "wrote" in proc.stderr
    assert len(list(out.glob("??-*.html"))) == n and (out / "plotly.min.js").is_file()
    assert len(list((out / "thumbnails").glob("*.jpg"))) == n
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert total == pack.pack_size(shipped_pack())


def test_cli_packs_presets_to_a_zip_in_process(tmp_path, capsys):
    target = tmp_path / "week3.zip"
    code = cli.main(
        ["pack", "saddle-who-escapes-first", "Plateau: AdaGrad stalls", "--title", "Week 3", "-o", str(target)]
    )
    assert code == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(target)] and "packing 'Week 3': 2 scene(s)" in err
    with zipfile.ZipFile(target) as zf:
        assert "week-3/index.html" in zf.namelist() and len([n for n in zf.namelist() if n.endswith(".html")]) == 3
        assert "Week 3" in zf.read("week-3/index.html").decode()


@pytest.mark.parametrize(
    "args, message",
    [
        (["pack", "no-such-thing", "--out", "{tmp}/x"], "unknown lecture or scene 'no-such-thing'"),
        (["pack", "{tmp}/corrupt.json", "--out", "{tmp}/x"], "corrupt.json: not a lecture file"),
        (["pack", "{tmp}/absent.json", "--out", "{tmp}/x"], "absent.json: no such lecture file"),
        (["pack", LECTURE, "--out", "{tmp}/afile"], "is a file; give a folder"),
        (["pack", LECTURE], "the following arguments are required: -o/--out"),
        (["pack", "--out", "{tmp}/x"], "the following arguments are required: LECTURE_OR_SCENE"),
    ],
    ids=["unknown", "corrupt-file", "absent-file", "out-is-a-file", "no-out", "no-argument"],
)
def test_cli_bad_arguments_give_one_line_and_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "corrupt.json").write_bytes(b"\x00\xffnot json")
    (tmp_path / "afile").write_text("x")
    code = cli.main([a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert message in line
    assert not (tmp_path / "x").exists()


def test_cli_help_documents_pack(capsys):
    assert cli.main(["pack", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--out" in text and "--title" in text and "plotly.js" in text and "offline" in text
    assert cli.main(["--help"]) == 0
    assert "gradscape pack" in capsys.readouterr().out


def test_every_shipped_lecture_resolves():
    for key in available_lectures():
        lecture, warnings = pack.resolve_lecture([key])
        assert len(lecture) >= 1 and warnings == []
