"""The static lecture pack: a folder of plain HTML that any static web host or course platform serves.

    DIR/index.html            the lecture's title and description; per scene its title, description,
                              measured numbers and a thumbnail, linked to its page
    DIR/01-<slug>.html ...    one interactive page per scene: the Playground figure with Play/Pause and
                              the scrubber, the lecture keys (figures/keys.js: Space, arrows, PgUp/PgDn
                              walk the scenes, ? lists them), Previous / Index / Next links
    DIR/plotly.min.js         ONE shared copy of the plotly.js that the plotly package ships
    DIR/thumbnails/*.jpg      the index's pictures (Pillow stills: no browser needed)

Nothing in it refers to another host: it works from the file system, offline, and from any static
host. A scene page is ~0.1-0.3 MB (rounded plain-JSON figure), plotly.js ~4.8 MB once.

    from export.pack import resolve_lecture, write_pack, pack_zip
    write_pack(resolve_lecture(["adaptive-learning-rates"]), "lecture/")

No Streamlit here: the Scenes page calls `pack_zip` for its download, the CLI `write_pack`.
"""

from __future__ import annotations

import html as _html
import io
import json
import re
import time
import zipfile
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

from scene.lectures import MAX_SCENES, Lecture, LectureError, LectureScene, available_lectures, get_lecture
from scene.lectures import parse_lecture, sequence
from scene.presets import find_preset, slug

PLOTLY_JS = "plotly.min.js"
THUMBNAILS = "thumbnails"
THUMB_SIZE = (480, 360)
THUMB_QUALITY = 82
DEFAULT_TITLE = "My sequence"
TOPOJSON_CDN = "https://cdn.plot.ly/un/"  # plotly.js's default for geographic maps (never used here)

Progress = Callable[[int, int, str], None]  # (scenes done, scenes in all, the scene's name)


# ---- what to pack -------------------------------------------------------------------------------


def resolve_lecture(items: Sequence[str], title: str | None = None) -> tuple[Lecture, list[str]]:
    """(the lecture to pack, warnings) from what a user names: each item is a shipped lecture's key,
    a lecture file (.json), a preset (name or slug), a surface key, or a copied Playground link or
    query string (a link with lecture= or seq= stands for that whole lecture). One lecture (key or
    file) alone keeps its title and description; anything else is a sequence titled `title`.
    A LectureError (ValueError) says which item is not usable and why."""
    items = [str(i).strip() for i in items]
    if not items or not any(items):
        raise LectureError("nothing to pack: give a lecture, a lecture file, or preset scenes")
    scenes: list[LectureScene] = []
    warnings: list[str] = []
    lectures: list[Lecture] = []
    for item in items:
        lecture, found, said = _item(item)
        if lecture is not None:
            lectures.append(lecture)
        scenes.extend(found)
        warnings.extend(said)
        if len(scenes) > MAX_SCENES:
            raise LectureError(f"a pack holds at most {MAX_SCENES} scenes")
    if len(items) == 1 and lectures:
        one = lectures[0]
        return replace(one, title=(title or "").strip() or one.title), warnings
    return Lecture("", (title or "").strip() or DEFAULT_TITLE, tuple(scenes)), warnings


def _item(item: str) -> tuple[Lecture | None, list[LectureScene], list[str]]:
    """(the lecture it names or None, its scenes, warnings) for one argument."""
    from export.scene import parse_query_string, resolve_scene
    from scene.config import to_query
    from surfaces import available_surfaces

    if not item:
        raise LectureError("an empty argument: give a lecture, a lecture file, or a preset scene")
    if item in available_lectures():
        lecture = get_lecture(item)
        return lecture, list(lecture.scenes), []
    path = Path(item)
    if item.lower().endswith(".json") or ("=" not in item and "/" in item.replace("\\", "/") and path.is_file()):
        if not path.is_file():
            raise LectureError(f"{item}: no such lecture file")
        try:
            raw = path.read_bytes()
        except OSError as err:
            raise LectureError(f"{item}: cannot read it ({err.strerror or err})") from None
        try:
            lecture = parse_lecture(raw, path.stem)
        except LectureError as err:
            raise LectureError(f"{item}: {err}") from None
        return lecture, list(lecture.scenes), []
    if find_preset(item) is not None:
        return None, list(sequence([item]).scenes), []
    if "=" in item:
        query = parse_query_string(item)
        if "lecture" in query:
            lecture = get_lecture(query["lecture"])
            return lecture, list(lecture.scenes), []
        if "seq" in query:
            lecture = sequence([s for s in query["seq"].split(",") if s])
            return lecture, list(lecture.scenes), []
    if "=" not in item and item not in available_surfaces():
        short = item if len(item) <= 60 else item[:60] + "..."
        raise LectureError(
            f"unknown lecture or scene {short!r}: not a lecture ({', '.join(available_lectures()) or 'none shipped'}), "
            "not a lecture file (NAME.json), not a preset scene (see `gradscape scenes`), "
            f"not a surface ({', '.join(available_surfaces())}) and not a copied link (key=value&...)"
        )
    try:
        cfg, warnings, name = resolve_scene(item)
    except ValueError as err:
        raise LectureError(str(err)) from None
    return None, [LectureScene(name, to_query(cfg))], [f"{name}: {w}" for w in warnings]


# ---- the pages ----------------------------------------------------------------------------------


@dataclass
class PackScene:
    """One scene of a pack, computed: its page's file name, its thumbnail's, and what the index says."""

    number: int
    scene: LectureScene
    page: str
    thumbnail: str
    measured: str
    figure: dict
    query: str
    image: bytes


def page_name(number: int, name: str) -> str:
    return f"{number:02d}-{slug(name)[:60]}.html"


def plotly_js() -> str:
    """The plotly.js that the plotly package ships (never downloaded), its one CDN default made local."""
    text = (resources.files("plotly") / "package_data" / PLOTLY_JS).read_text(encoding="utf-8")
    return text.replace(TOPOJSON_CDN, "topojson/")


def _script_json(value) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' (they are escaped in strings)."""
    from export.render import json_ready

    text = json.dumps(json_ready(value), separators=(",", ":"), allow_nan=False, default=_plain)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _plain(value):
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _thumbnail(data) -> bytes:
    from PIL import Image

    from export.render import pillow_still

    png = pillow_still(data, width=THUMB_SIZE[0], height=THUMB_SIZE[1])
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


def compute_scene(number: int, scene: LectureScene, warn: Callable[[str], None] | None = None) -> PackScene:
    """Run one scene as the Playground does (export.scene.compute) and keep what the pack shows."""
    from urllib.parse import urlencode

    from engine.lessons import measured_text
    from export.render import _export_figure
    from export.scene import compute
    from scene.config import from_query, to_query

    cfg, warnings = from_query(scene.query)
    if warn is not None:
        for w in warnings:
            warn(f"scene {number} ({scene.name}): {w}")
    try:
        data = compute(cfg, title=scene.name, warnings=warnings)
        if warn is not None:
            for e in data.errors:
                warn(f"scene {number} ({scene.name}): {e}")
        measured = measured_text(scene.measured, cfg) if scene.measured else ""
    except (ValueError, KeyError, IndexError) as err:
        raise LectureError(f"scene {number} ({scene.name}): {err}") from None
    page = page_name(number, scene.name)
    return PackScene(
        number=number,
        scene=scene,
        page=page,
        thumbnail=f"{THUMBNAILS}/{page[:-5]}.jpg",
        measured=measured,
        figure=_export_figure(data),
        query=urlencode(to_query(cfg)),
        image=_thumbnail(data),
    )


_STYLE = """
:root { color-scheme: light; --ink: #222; --muted: #555; --line: #d6d9de; --accent: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #fff; }
a { color: var(--accent); }
header.bar { position: sticky; top: 0; z-index: 10; display: flex; flex-wrap: wrap; align-items: center;
             gap: 0.4rem 1.2rem; padding: 0.5rem 1.2rem; background: #f4f6f8; border-bottom: 1px solid var(--line); }
header.bar .lecture { font-weight: 600; text-decoration: none; color: var(--ink); }
header.bar .where { color: var(--muted); }
header.bar nav { margin-left: auto; display: flex; gap: 0.5rem; align-items: center; }
header.bar nav a, header.bar nav span, header.bar button { padding: 0.2rem 0.7rem; border: 1px solid var(--line);
       border-radius: 6px; background: #fff; text-decoration: none; font: inherit; color: var(--accent); }
header.bar nav span.off { color: #aaa; }
header.bar button { cursor: pointer; font-weight: 700; min-width: 2.2rem; }
main { max-width: 1500px; margin: 0 auto; padding: 0.6rem 1.2rem 2rem; }
h1 { font-size: 1.9rem; margin: 0.6rem 0 0.3rem; }
.description { margin: 0.2rem 0; max-width: 75ch; }
.measured { margin: 0.2rem 0; color: var(--muted); font-size: 0.95rem; }
.figure { width: 100%; min-height: 600px; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 1rem; }
footer code { font-size: 0.8rem; word-break: break-all; }
ol.scenes { list-style: none; padding: 0; display: grid; gap: 1.2rem;
            grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); }
ol.scenes li { border: 1px solid var(--line); border-radius: 10px; padding: 0.8rem; }
ol.scenes img { width: 100%; height: auto; display: block; border-radius: 6px; border: 1px solid #eee; }
ol.scenes h2 { font-size: 1.15rem; margin: 0.6rem 0 0.2rem; }
ol.scenes p { font-size: 0.95rem; }
kbd { border: 1px solid #bbb; border-bottom-width: 2px; border-radius: 4px; padding: 0 0.3rem; font-size: 0.85em; }
"""


def _doc(title: str, body: str, script: str) -> str:
    from figures.keys import keys_script

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
        '<meta name="generator" content="gradscape" />\n'
        f"<title>{_html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n"
        f"<script>\n{keys_script()}\n</script>\n<script>\n{script}\n</script>\n</body>\n</html>\n"
    )


_HELP_BUTTON = (
    '<button type="button" id="keys-help" title="Keyboard keys (?)" aria-label="Show the keyboard keys">?</button>'
)

_INSTALL = """(function () {
  "use strict";
  const prev = %s, next = %s;
  window.gradscapeKeys.install({
    onKey: function (name) {
      const to = name === "next" ? next : name === "previous" ? prev : null;
      if (to) window.location.href = to;
    },
  });
  document.getElementById("keys-help").addEventListener("click", function () {
    window.gradscapeKeys.toggleHelp();
  });
})();"""


def _nav_link(href: str | None, label: str, rel: str) -> str:
    if href is None:
        return f'<span class="off" aria-disabled="true">{label}</span>'
    return f'<a rel="{rel}" href="{_html.escape(href)}">{label}</a>'


def scene_page(lecture: Lecture, item: PackScene, prev: str | None, next_: str | None) -> str:
    """One scene's page: its figure drawn by ./plotly.min.js, the keys, Previous / Index / Next."""
    n = len(lecture)
    esc = _html.escape
    measured = f'<p class="measured">{esc(item.measured)}</p>' if item.measured else ""
    description = f'<p class="description">{esc(item.scene.description)}</p>' if item.scene.description else ""
    body = f"""<header class="bar">
<a class="lecture" href="index.html">{esc(lecture.title)}</a>
<span class="where">Scene {item.number} of {n}</span>
<nav>{_nav_link(prev, "&larr; Previous", "prev")} <a href="index.html">Index</a> \
{_nav_link(next_, "Next &rarr;", "next")} {_HELP_BUTTON}</nav>
</header>
<main>
<h1>{esc(item.scene.name)}</h1>
{description}
{measured}
<div id="figure" class="figure"></div>
<footer><kbd>Space</kbd> play / pause, <kbd>&larr;</kbd> <kbd>&rarr;</kbd> one frame, \
<kbd>PgUp</kbd> <kbd>PgDn</kbd> previous / next scene, <kbd>?</kbd> the keys.
The same scene in the gradscape app: append <code>?{esc(item.query)}</code> to its address.</footer>
</main>
<script src="./{PLOTLY_JS}"></script>"""
    config = {
        "displaylogo": False,
        "responsive": True,
        "topojsonURL": "topojson/",
        "toImageButtonOptions": {"filename": item.page[:-5]},
    }
    figure = dict(item.figure, config=config)
    draw = (
        "(function () {\n"
        f"  const figure = {_script_json(figure)};\n"
        '  const gd = document.getElementById("figure");\n'
        "  if (!window.Plotly) {\n"
        f'    gd.textContent = "The chart needs {PLOTLY_JS} next to this page.";\n'
        "    return;\n"
        "  }\n"
        "  window.Plotly.newPlot(gd, figure);\n"
        "})();\n"
    )
    install = _INSTALL % (json.dumps(prev), json.dumps(next_))
    return _doc(f"{item.scene.name} - {lecture.title}", body, draw + install)


def index_page(lecture: Lecture, items: list[PackScene]) -> str:
    """The pack's front page: the lecture, then a card per scene (thumbnail, title, text, numbers)."""
    esc = _html.escape
    cards = []
    for item in items:
        s = item.scene
        w, h = THUMB_SIZE
        cards.append(
            f"""<li>
<a href="{esc(item.page)}"><img src="{esc(item.thumbnail)}" width="{w}" height="{h}" alt="{esc(s.name)}" /></a>
<h2><a href="{esc(item.page)}">{item.number}. {esc(s.name)}</a></h2>
{f'<p class="description">{esc(s.description)}</p>' if s.description else ""}
{f'<p class="measured">{esc(item.measured)}</p>' if item.measured else ""}
</li>"""
        )
    first = items[0].page if items else None
    description = f'<p class="description">{esc(lecture.description)}</p>' if lecture.description else ""
    body = f"""<header class="bar">
<span class="lecture">{esc(lecture.title)}</span>
<span class="where">{len(items)} scene{"s" if len(items) != 1 else ""}</span>
<nav>{_nav_link(first, "Start &rarr;", "next")} {_HELP_BUTTON}</nav>
</header>
<main>
<h1>{esc(lecture.title)}</h1>
{description}
<p class="measured">Open a scene, press <kbd>Space</kbd> to play it and <kbd>PgDn</kbd> for the next one. \
Works offline: every file is in this folder.</p>
<ol class="scenes">
{chr(10).join(cards)}
</ol>
<footer>Made with gradscape. Charts drawn by plotly.js (MIT licence), in {PLOTLY_JS}.</footer>
</main>"""
    install = _INSTALL % ("null", json.dumps(first))
    return _doc(lecture.title, body, install)


def build_pack(
    lecture: Lecture, *, progress: Progress | None = None, warn: Callable[[str], None] | None = None
) -> dict[str, bytes]:
    """Every file of the pack: {relative path: content}, index.html first. A scene whose link has a
    problem is drawn as the Playground would draw it, with the problem passed to `warn`."""
    if not lecture.scenes:
        raise LectureError("the lecture has no scenes")
    items = []
    for i, scene in enumerate(lecture.scenes, start=1):
        items.append(compute_scene(i, scene, warn))
        if progress is not None:
            progress(i, len(lecture), scene.name)
    pages = [it.page for it in items]
    files = {"index.html": index_page(lecture, items).encode("utf-8")}
    for k, item in enumerate(items):
        prev = pages[k - 1] if k > 0 else None
        next_ = pages[k + 1] if k + 1 < len(pages) else None
        files[item.page] = scene_page(lecture, item, prev, next_).encode("utf-8")
        files[item.thumbnail] = item.image
    files[PLOTLY_JS] = plotly_js().encode("utf-8")
    return files


def write_files(files: dict[str, bytes], out: str | Path) -> list[Path]:
    """Write a pack's files into the folder `out` (created if missing; other files there are left alone)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LectureError(f"{out} is a file; give a folder for the pack")
    _remove_stale(out, files)
    written = []
    for name, content in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


_OWN_FILE = re.compile(r"^\d{2,}-[a-z0-9-]+\.(html|jpg)$")


def _remove_stale(out: Path, files: dict[str, bytes]) -> None:
    """Re-packing into an earlier pack's folder: its scene pages and thumbnails that the new pack
    does not have go (only in a folder whose index.html gradscape wrote, only files named as ours)."""
    try:
        if '<meta name="generator" content="gradscape"' not in (out / "index.html").read_text(encoding="utf-8"):
            return
    except (OSError, UnicodeDecodeError):
        return
    for folder in (out, out / THUMBNAILS):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            name = path.relative_to(out).as_posix()
            if path.is_file() and _OWN_FILE.match(path.name) and name not in files:
                path.unlink()


def write_pack(lecture: Lecture, out: str | Path, *, progress: Progress | None = None) -> list[Path]:
    """Build the pack and write it into the folder `out`; the paths written, index.html first."""
    return write_files(build_pack(lecture, progress=progress), out)


def zip_folder(lecture: Lecture) -> str:
    """The folder the zip unpacks to: the lecture's key, or its title as a slug."""
    return lecture.key or slug(lecture.title)


def zip_files(files: dict[str, bytes], folder: str) -> bytes:
    """A pack's files as a zip of one folder (index.html inside it)."""
    buf = io.BytesIO()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content, compresslevel=9)
    return buf.getvalue()


def pack_zip(lecture: Lecture, *, progress: Progress | None = None) -> bytes:
    """The pack as a zip of one folder, for a download or a course platform's file upload."""
    return zip_files(build_pack(lecture, progress=progress), zip_folder(lecture))


def pack_size(files: dict[str, bytes]) -> int:
    return sum(len(v) for v in files.values())
