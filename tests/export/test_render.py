"""export.render: every format is produced, opened and checked, for several scenes.

GIF (Pillow: frames, size, loop), MP4 (the ffmpeg inside imageio-ffmpeg reads it back: H.264,
frame count, duration), HTML (plotly.js inline, the data, no CDN), PNG/SVG (kaleido + Chromium:
size, the shaded background), CSV and JSON (columns, row counts, values equal to the trajectory).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from export import render
from figures.palette import color_for
from scene.config import effective_hparams, to_query

SCENES = [
    "Saddle: who escapes first",
    "Ravine: SGD vs momentum",
    "Warm-up delays Adam's burst",
    "Rosenbrock: Newton vs first order",
]
DIVERGING = "surface=ravine&opt=sgd,adam&sgd.lr=2.5&steps=60"
FORMULA = "surface=formula&s.expr=x**2%2B3*y**2&opt=sgd,adam&steps=40"


def _rgb(hex_color):
    h = hex_color.lstrip("#")
    return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))


def _colors(image: Image.Image) -> set:
    return {c for _, c in image.convert("RGB").getcolors(maxcolors=1 << 20)}


# ---- GIF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENES)
def test_gif_frames_size_loop(get_scene, name):
    data = get_scene(name)
    out = render.gif(data)
    im = Image.open(io.BytesIO(out))
    assert im.format == "GIF"
    expected = min(data.n_steps + 1, 200)
    assert im.n_frames == expected
    assert im.info.get("loop") == 0
    assert im.size[0] == 800 and im.size[1] % 2 == 0
    assert im.info.get("duration") == 50  # 20 fps
    # The last frame shows every path in its own colour; the first shows the heads only.
    im.seek(im.n_frames - 1)
    last = _colors(im)
    for i, run in enumerate(data.runs):
        assert _rgb(color_for(run.key, i)) in last, run.key


def test_gif_frames_width_fps_and_growth(get_scene):
    data = get_scene("Saddle: who escapes first")
    out = render.gif(data, frames=12, width=400, fps=10)
    im = Image.open(io.BytesIO(out))
    assert im.n_frames == 12 and im.size[0] == 400 and im.info["duration"] == 100
    first = np.asarray(im.convert("RGB")).copy()
    im.seek(11)
    last = np.asarray(im.convert("RGB"))
    assert first.shape == last.shape
    assert (first != last).any(axis=-1).sum() > 500  # the paths grew


def test_gif_frame_steps_are_spread(get_scene):
    data = get_scene("Ravine: SGD vs momentum")
    steps = render.animation_steps(data, 200)
    assert steps[0] == 0 and steps[-1] == data.n_steps and len(steps) == len(set(steps)) == 200
    assert render.frame_count(data, 5) == 5 and render.frame_count(data, 10_000) == 200


def test_gif_of_a_diverging_run_and_a_formula(get_scene):
    data = get_scene(DIVERGING)
    assert data.runs[0].diverged_at >= 0
    im = Image.open(io.BytesIO(render.gif(data)))
    assert im.n_frames == 61
    data = get_scene(FORMULA)
    assert data.surface.key == "formula"
    im = Image.open(io.BytesIO(render.gif(data, width=300)))
    assert im.n_frames == 41 and im.size[0] == 300


def test_gif_progress_and_bad_arguments(get_scene):
    data = get_scene("Saddle: who escapes first")
    seen = []
    render.gif(data, frames=5, width=200, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 5) for k in range(1, 6)]
    for kwargs in ({"fps": 0}, {"width": 10}, {"frames": 0}, {"fps": 2.5}):
        with pytest.raises(ValueError):
            render.gif(data, **kwargs)


# ---- MP4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENES[:2])
def test_mp4_is_h264_with_frames_and_duration(get_scene, tmp_path, name):
    import imageio_ffmpeg

    data = get_scene(name)
    out = render.mp4(data, fps=30, width=801)  # odd width: rounded down to even
    path = tmp_path / "scene.mp4"
    path.write_bytes(out)
    assert out[4:8] == b"ftyp"
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    expected = min(data.n_steps + 1, 200)
    assert frames == expected
    assert seconds > 0 and math.isclose(seconds, expected / 30, abs_tol=0.1)
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    reader.close()
    assert meta["codec"] == "h264" and meta["size"][0] == 800 and meta["size"][1] % 2 == 0


# ---- HTML -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENES[:3])
def test_html_standalone_offline(get_scene, name):
    data = get_scene(name)
    page = render.html(data)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "plotly.js v" in page and "Plotly.newPlot" in page  # the library itself, inline
    assert len(page) > 3_000_000
    assert "cdn.plot.ly" not in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)  # no external script at all
    assert not re.search(r"<link[^>]*https?://", page, re.I)
    assert "MathJax.js" not in page
    for run in data.runs:
        assert run.label in page
    # The data: the start of each path and the animation frames.
    assert json.dumps(data.figure["frames"][1]["name"]) in page
    assert data.layers["png"].replace("/", "\\u002f") in page  # plotly's JSON escapes '/'
    assert "click to start here" not in page  # the app-only click grid is left out
    assert "gradscape-query" in page and "<title>gradscape: " in page


# ---- PNG / SVG ------------------------------------------------------------------------------------


def _shade_pixels(img: Image.Image) -> int:
    """Pixels in the light blues of the shaded surface (figures.playground._SHADE)."""
    a = np.asarray(img.convert("RGB")).astype(int)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return int(((b >= 225) & (b - r >= 15) & (g > r) & (r >= 160)).sum())


@pytest.mark.parametrize("name", SCENES[:2])
def test_png_still_via_kaleido(get_scene, kaleido_session, name):
    data = get_scene(name)
    out = render.png(data, engine="kaleido")
    img = Image.open(io.BytesIO(out))
    assert img.format == "PNG" and img.size == (1200, 900)
    assert _shade_pixels(img) > 20_000  # the layout image (shaded surface) is in the picture
    small = Image.open(io.BytesIO(render.png(data, width=600, height=450, step=0, engine="kaleido")))
    assert small.size == (600, 450)


def test_png_step_changes_the_picture(get_scene, kaleido_session):
    data = get_scene("Saddle: who escapes first")
    early = np.asarray(Image.open(io.BytesIO(render.png(data, width=500, height=400, step=5, engine="kaleido"))))
    late = np.asarray(Image.open(io.BytesIO(render.png(data, width=500, height=400, engine="kaleido"))))
    assert (early != late).any()
    with pytest.raises(ValueError):
        render.png(data, step=data.n_steps + 1)


def test_still_figure_heads_paths_cursors(get_scene):
    data = get_scene("Saddle: who escapes first")
    fig = render.still_figure(data, step=50)
    assert "frames" not in fig and "sliders" not in fig["layout"] and "updatemenus" not in fig["layout"]
    heads = [
        t
        for t in fig["data"]
        if t.get("legendgroup", "").startswith("run") and t.get("mode") == "markers" and t.get("xaxis") == "x"
    ]
    assert len(heads) == len(data.runs)
    for t, run in zip(heads, data.runs):
        assert [t["x"][0], t["y"][0]] == run.xy[50].tolist()
    paths = [
        t
        for t in fig["data"]
        if t.get("legendgroup", "").startswith("run") and t.get("mode") == "lines" and t.get("xaxis") == "x"
    ]
    assert all(max(cd[0] for cd in t["customdata"]) <= 50 for t in paths)
    cursors = [t for t in fig["data"] if t.get("name") == "step"]
    assert cursors and all(t["x"] == [50, 50] for t in cursors)
    full = render.still_figure(data, step=50, full_paths=True)
    assert (
        max(
            len(t["x"])
            for t in full["data"]
            if t.get("mode") == "lines" and t.get("xaxis") == "x" and t.get("legendgroup", "").startswith("run")
        )
        > 51
    )


def test_svg_still_has_the_background_image(get_scene, kaleido_session):
    data = get_scene("Ravine: SGD vs momentum")
    out = render.svg(data, width=900, height=700)
    root = ET.fromstring(out)
    assert root.tag.endswith("svg")
    assert float(root.get("width")) == 900 and float(root.get("height")) == 700
    images = [el for el in root.iter() if el.tag.endswith("image")]
    assert images
    href = images[0].get("href") or images[0].get("{http://www.w3.org/1999/xlink}href")
    assert href.startswith("data:image/png;base64,")
    background = Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
    assert background.size == (160, 160)
    for run in data.runs:
        assert run.label in out


def test_png_pillow_fallback(get_scene):
    data = get_scene("Two wells: momentum rolls over")
    img = Image.open(io.BytesIO(render.png(data, width=640, height=480, engine="pillow")))
    assert img.size == (640, 480) and _shade_pixels(img) > 5_000
    for i, run in enumerate(data.runs):
        assert _rgb(color_for(run.key, i)) in _colors(img)


def test_png_falls_back_with_a_warning_when_kaleido_fails(get_scene, monkeypatch):
    data = get_scene("Two wells: momentum rolls over")

    def broken(*args, **kwargs):
        raise RuntimeError("no browser here")

    monkeypatch.setattr(render, "kaleido_image", broken)
    with pytest.warns(RuntimeWarning, match="Pillow"):
        out = render.png(data, width=400, height=300)
    assert Image.open(io.BytesIO(out)).size == (400, 300)
    with pytest.raises(RuntimeError):
        render.png(data, engine="kaleido")
    with pytest.raises(RuntimeError, match="kaleido"):
        render.svg(data)


# ---- CSV / JSON -----------------------------------------------------------------------------------


def _f(text):
    return None if text == "" else float(text)


@pytest.mark.parametrize("name", SCENES + [DIVERGING])
def test_csv_rows_and_values(get_scene, name):
    data = get_scene(name)
    rows = list(csv.DictReader(io.StringIO(render.csv(data))))
    assert tuple(rows[0].keys()) == render.CSV_COLUMNS
    assert len(rows) == sum(len(t.steps) for t in data.trajectories)
    offset = 0
    for run, traj in zip(data.runs, data.trajectories):
        n = len(traj.steps)
        mine = rows[offset : offset + n]
        offset += n
        assert {r["optimizer"] for r in mine} == {run.key}
        assert [int(r["step"]) for r in mine] == traj.steps.tolist()
        np.testing.assert_array_equal([[_f(r["x"]), _f(r["y"])] for r in mine], traj.xy[0].numpy())
        np.testing.assert_array_equal([_f(r["loss"]) for r in mine], traj.loss[0].numpy())
        np.testing.assert_array_equal([[_f(r["grad_x"]), _f(r["grad_y"])] for r in mine], traj.grad[0].numpy())
        np.testing.assert_allclose([_f(r["grad_norm"]) for r in mine], run.grad_norm, rtol=1e-15)
        np.testing.assert_array_equal([_f(r["lr"]) for r in mine[:-1]], traj.lr[0].numpy())
        np.testing.assert_array_equal(
            [[_f(r["effective_lr_x"]), _f(r["effective_lr_y"])] for r in mine[:-1]], traj.effective_lr[0].numpy()
        )
        assert mine[-1]["lr"] == mine[-1]["effective_lr_x"] == mine[-1]["effective_lr_y"] == ""
        assert {int(r["diverged_at"]) for r in mine} == {int(traj.diverged_at[0])}


@pytest.mark.parametrize("name", SCENES[:2] + [DIVERGING, FORMULA])
def test_json_config_and_arrays(get_scene, name):
    data = get_scene(name)
    doc = json.loads(render.json_export(data, data.cfg))
    cfg = data.cfg
    assert doc["config"]["query"] == to_query(cfg)
    assert doc["config"]["optimizers"] == list(cfg.optimizers)
    assert doc["config"]["steps"] == cfg.steps and doc["config"]["start"] == list(data.start)
    assert [r["key"] for r in doc["runs"]] == list(cfg.optimizers)
    for r, traj in zip(doc["runs"], data.trajectories):
        assert r["hparams"] == json.loads(json.dumps(effective_hparams(cfg, r["key"])))
        assert doc["config"]["hparams"][r["key"]] == r["hparams"]
        assert r["steps"] == traj.steps.tolist()
        assert r["x"] == traj.xy[0, :, 0].tolist() and r["y"] == traj.xy[0, :, 1].tolist()
        assert r["loss"] == traj.loss[0].tolist()
        assert len(r["lr"]) == len(r["effective_lr_x"]) == len(r["steps"]) - 1
        assert r["diverged_at"] == int(traj.diverged_at[0])
    if name == DIVERGING:
        assert doc["runs"][0]["diverged_at"] >= 0
    assert json.loads(render.json_export(data)) == doc  # cfg defaults to the scene's own
