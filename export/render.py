"""Renderers: a computed scene (export.scene.SceneData) to GIF, MP4, standalone HTML, PNG/SVG, CSV, JSON.

- gif / mp4: frames drawn with Pillow alone (no plotly, no browser): the static picture (shaded
  surface, contour lines, minima, start, legend) is drawn and quantised to a palette ONCE; each
  frame then copies a palette image on which the paths grow segment by segment, adds the heads and
  the step counter. MP4 pipes the same frames to the ffmpeg binary shipped inside the
  imageio-ffmpeg wheel (libx264, yuv420p); nothing is downloaded at run time.
- html: the Playground figure with plotly.js inlined (no CDN), works offline.
- png / svg: a still via plotly + kaleido 1.x driving the system Chromium (MathJax off, offline).
  PNG falls back to a Pillow still when kaleido or Chromium is missing (with a RuntimeWarning).
- csv / json_export: the raw trajectories, full float64 precision (repr round-trips).

No Streamlit here: the pages call these functions for their download buttons.
"""

from __future__ import annotations

import base64
import contextlib
import csv as _csv
import html as _html
import io
import json
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from figures.animation import frame_steps, position_at
from figures.palette import color_for
from figures.playground import visible_path, legend_label

MAX_FRAMES = 200
MIN_WIDTH, MAX_WIDTH = 160, 4096
MAX_FPS = 60
HOLD_LAST_MS = 1500  # a GIF lingers on its last frame before it loops

Progress = Callable[[int, int], None]

CSV_COLUMNS = (
    "optimizer",
    "step",
    "x",
    "y",
    "loss",
    "grad_x",
    "grad_y",
    "grad_norm",
    "lr",
    "effective_lr_x",
    "effective_lr_y",
    "diverged_at",
)


# ---- shared checks ------------------------------------------------------------------------------


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}; got {value!r}")
    return int(value)


def frame_count(data, frames: int | None = None) -> int:
    """min(frames or steps + 1, 200): how many frames an animation of `data` gets."""
    if frames is not None:
        _check_int("frames", frames, 1, 10**9)
    return min(frames or data.n_steps + 1, data.n_steps + 1, MAX_FRAMES)


def animation_steps(data, frames: int | None = None) -> list[int]:
    """The steps shown by the frames, evenly spread from 0 to the last step."""
    return frame_steps(data.n_steps, frame_count(data, frames))


# ---- the Pillow frame renderer ------------------------------------------------------------------


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _decode_png(uri: str) -> Image.Image:
    raw = base64.b64decode(uri.split(",", 1)[1])
    return Image.open(io.BytesIO(raw)).convert("RGB")


def _polylines(xs: list, ys: list) -> list[np.ndarray]:
    """Contour lines as separate (k, 2) arrays (the None entries break them)."""
    a = np.array([np.nan if v is None else v for v in xs], dtype=np.float64)
    b = np.array([np.nan if v is None else v for v in ys], dtype=np.float64)
    breaks = np.flatnonzero(np.isnan(a) | np.isnan(b))
    out, begin = [], 0
    for end in list(breaks) + [len(a)]:
        if end - begin > 1:
            out.append(np.column_stack([a[begin:end], b[begin:end]]))
        begin = end + 1
    return out


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.45
        ang = -math.pi / 2 + k * math.pi / 5
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return pts


@dataclass
class _Run:
    color: int  # palette index
    pts: np.ndarray  # (k, 2) pixel coordinates of the visible path, thinned to pixel moves
    pt_steps: np.ndarray  # (k,) the step of each kept point
    steps: np.ndarray  # the run's recorded steps
    xy: np.ndarray  # the run's points (for the heads)
    drawn: int = 0  # points of pts already on the trail canvas


class FrameRenderer:
    """Draws the animation frames of a scene as palette ("P") images of one shared palette.

    width is the image width; the map keeps the view's aspect ratio (clamped to 1:4 .. 3:2) and a
    legend strip with the step counter sits under it. Both dimensions are even (H.264 needs it).
    """

    def __init__(self, data, *, width: int = 800, frames: int | None = None):
        self.data = data
        width = _check_int("width", width, MIN_WIDTH, MAX_WIDTH)
        self.steps = animation_steps(data, frames)
        self.n_steps = data.n_steps
        (self.x0, self.x1), (self.y0, self.y1) = data.surface.bounds
        w = width
        aspect = (self.y1 - self.y0) / (self.x1 - self.x0)
        hm = int(round(w * min(max(aspect, 0.25), 1.5)))
        hm += hm % 2
        self.map_w, self.map_h = w, hm
        self.sx, self.sy = w / (self.x1 - self.x0), hm / (self.y1 - self.y0)
        scale = w / 800
        self.line_w = max(2, round(3 * scale))
        self.head_r = max(4, round(7 * scale))
        self.font = _font(max(10, round(15 * scale)))
        self.pad = max(4, round(8 * scale))
        self.row_h = max(14, round(24 * scale))
        self._layout_legend()
        self.width, self.height = w, hm + self.strip_h
        self._build_background()

    # -- geometry --
    def to_px(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.column_stack([(xy[:, 0] - self.x0) * self.sx, (self.y1 - xy[:, 1]) * self.sy])

    def _layout_legend(self):
        draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        total = self.n_steps
        self.step_text_w = int(draw.textlength(f"step {total} / {total}", font=self.font)) + 2 * self.pad
        swatch = round(self.row_h * 0.9)
        items, x, row = [], self.pad, 0
        right = self.map_w - self.step_text_w
        for i, run in enumerate(self.data.runs):
            label = legend_label(run.label, run.diverged_at)
            w_item = swatch + self.pad // 2 + int(draw.textlength(label, font=self.font)) + 2 * self.pad
            limit = right if row == 0 else self.map_w - self.pad
            if x + w_item > limit and x > self.pad:
                row, x = row + 1, self.pad
            items.append((i, label, x, row))
            x += w_item
        rows = max(1, row + 1)
        self.legend_items, self.swatch = items, swatch
        h = rows * self.row_h + 2 * self.pad
        self.strip_h = h + h % 2

    # -- the static picture, drawn once --
    def _build_background(self):
        data, w, hm = self.data, self.map_w, self.map_h
        bg = _decode_png(data.layers["png"]).resize((w, hm), Image.Resampling.BILINEAR).convert("RGBA")
        overlay = Image.new("RGBA", (w, hm), (0, 0, 0, 0))
        od = ImageDraw.Draw(overlay)
        for line in _polylines(data.layers["lines_x"], data.layers["lines_y"]):
            od.line([tuple(p) for p in self.to_px(line)], fill=(40, 60, 90, 95), width=1)
        bg = Image.alpha_composite(bg, overlay).convert("RGB")
        d = ImageDraw.Draw(bg)
        r = max(5, round(self.head_r * 1.1))
        for m in data.surface.minima:
            ((cx, cy),) = self.to_px(m)
            d.polygon(_star(cx, cy, r), fill=(255, 255, 255), outline=(0, 0, 0), width=max(1, r // 5))
        ((sx, sy),) = self.to_px(data.start)
        arm = max(4, round(self.head_r * 0.9))
        for dx in (-arm, arm):
            d.line([(sx - dx, sy - arm), (sx + dx, sy + arm)], fill=(51, 51, 51), width=max(2, self.line_w - 1))

        full = Image.new("RGB", (self.width, self.height), (255, 255, 255))
        full.paste(bg, (0, 0))
        fd = ImageDraw.Draw(full)
        fd.line([(0, hm), (w, hm)], fill=(170, 170, 170), width=1)
        for i, label, x, row in self.legend_items:
            y = hm + self.pad + row * self.row_h + self.row_h // 2
            fd.text((x + self.swatch + self.pad // 2, y), label, fill=(20, 20, 20), font=self.font, anchor="lm")

        # Palette: the picture quantised once, then exact entries for the optimizers' colours.
        colors = [color_for(run.key, i) for i, run in enumerate(data.runs)]
        reserved = list(dict.fromkeys([_rgb(c) for c in colors] + [(255, 255, 255), (0, 0, 0)]))
        # One more entry stays free: the GIF's transparent index (unchanged pixels of delta frames).
        base = full.quantize(colors=255 - len(reserved), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        pal = (base.getpalette() or [])[: 3 * (255 - len(reserved))]
        n_base = len(pal) // 3
        index = {rgb: n_base + k for k, rgb in enumerate(reserved)}
        pal += [v for rgb in reserved for v in rgb]
        self.transparent = len(pal) // 3
        pal += [255, 0, 255]  # never drawn: marks "unchanged" in GIF delta frames
        pal += [0] * (768 - len(pal))
        base.putpalette(pal)
        self.palette_image = Image.new("P", (1, 1))
        self.palette_image.putpalette(pal)
        self.white, self.black = index[(255, 255, 255)], index[(0, 0, 0)]
        self.full_rgb = full

        # Legend swatches in the exact colours.
        bd = ImageDraw.Draw(base)
        for (i, label, x, row), c in zip(self.legend_items, colors):
            y = hm + self.pad + row * self.row_h + self.row_h // 2
            bd.line([(x, y), (x + self.swatch, y)], fill=index[_rgb(c)], width=self.line_w)
        self.background = base

        self.runs: list[_Run] = []
        for i, (run, c) in enumerate(zip(data.runs, colors)):
            idx = visible_path(run, data.surface.bounds)
            px = self.to_px(run.xy[idx])
            # Thin to pixel moves: a point in the same pixel as the one before adds nothing.
            rounded = np.round(px)
            keep = np.ones(len(px), dtype=bool)
            if len(px) > 1:
                keep[1:] = np.any(rounded[1:] != rounded[:-1], axis=1)
                keep[-1] = True
            self.runs.append(_Run(index[_rgb(c)], px[keep], run.steps[idx][keep], run.steps, run.xy))
        self.step_box = (self.width - self.step_text_w, hm + self.pad, self.width, hm + self.pad + self.row_h)

    # -- frames --
    def _step_label(self, s: int) -> Image.Image:
        box = self.step_box
        crop = self.full_rgb.crop(box)
        d = ImageDraw.Draw(crop)
        d.text(
            (crop.width - self.pad, crop.height // 2),
            f"step {s} / {self.n_steps}",
            fill=(0, 0, 0),
            font=self.font,
            anchor="rm",
        )
        return crop.quantize(palette=self.palette_image, dither=Image.Dither.NONE)

    def frames(self, progress: Progress | None = None) -> Iterator[Image.Image]:
        """The frames in order (a fresh image each: safe to keep)."""
        for run in self.runs:
            run.drawn = 0
        trail = self.background.copy()
        td = ImageDraw.Draw(trail)
        legend_strip = self.background.crop((0, self.map_h, self.width, self.height))
        total = len(self.steps)
        for k, s in enumerate(self.steps):
            for run in self.runs:
                j = int(np.searchsorted(run.pt_steps, s, side="right"))
                if j > run.drawn:
                    seg = run.pts[max(run.drawn - 1, 0) : j]
                    if len(seg) > 1:
                        td.line([tuple(p) for p in seg], fill=run.color, width=self.line_w, joint="curve")
                    run.drawn = j
            frame = trail.copy()
            fd = ImageDraw.Draw(frame)
            r = self.head_r
            for run in self.runs:
                hx, hy = position_at(run.steps, run.xy, s)
                ((cx, cy),) = self.to_px((hx, hy))
                if -r <= cx <= self.map_w + r and -r <= cy <= self.map_h + r:
                    fd.ellipse(
                        (cx - r, cy - r, cx + r, cy + r), fill=run.color, outline=self.white, width=max(1, r // 3)
                    )
            frame.paste(legend_strip, (0, self.map_h))  # paths and heads never cover the legend
            frame.paste(self._step_label(s), self.step_box[:2])
            if progress is not None:
                progress(k + 1, total)
            yield frame


def _frame_ms(fps: int) -> int:
    return max(10, round(1000 / fps / 10) * 10)  # GIF delays are in hundredths of a second


def gif(data, *, fps: int = 20, width: int = 800, frames: int | None = None, progress: Progress | None = None) -> bytes:
    """An animated GIF (looping) of the scene: paths growing, heads, legend, step counter.

    Frames: min(frames or steps + 1, 200), evenly spread over the steps; the last frame is held
    for 1.5 s before the loop restarts."""
    fps = _check_int("fps", fps, 1, MAX_FPS)
    renderer = FrameRenderer(data, width=width, frames=frames)
    images = list(renderer.frames(progress))
    ms = _frame_ms(fps)
    durations = [ms] * len(images)
    durations[-1] = max(ms, HOLD_LAST_MS)
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
        optimize=True,
        disposal=1,
        transparency=renderer.transparent,
    )
    return buf.getvalue()


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped in the imageio-ffmpeg wheel (or IMAGEIO_FFMPEG_EXE)."""
    try:
        import imageio_ffmpeg
    except ImportError as err:  # pragma: no cover - a dependency
        raise RuntimeError("MP4 export needs the imageio-ffmpeg package (pip install imageio-ffmpeg)") from err
    return imageio_ffmpeg.get_ffmpeg_exe()


def mp4(data, *, fps: int = 30, width: int = 800, frames: int | None = None, progress: Progress | None = None) -> bytes:
    """The same frames as the GIF, encoded as H.264 MP4 (yuv420p, even width and height)."""
    fps = _check_int("fps", fps, 1, MAX_FPS)
    width = _check_int("width", width, MIN_WIDTH, MAX_WIDTH)
    renderer = FrameRenderer(data, width=width - width % 2, frames=frames)
    w, h = renderer.width, renderer.height
    with tempfile.TemporaryDirectory(prefix="gradscape-") as tmp:
        out = os.path.join(tmp, "out.mp4")
        cmd = [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            str(fps),
            "-i",
            "pipe:0",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "animation",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            out,
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for frame in renderer.frames(progress):
                proc.stdin.write(frame.convert("RGB").tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
        with open(out, "rb") as fh:
            return fh.read()


# ---- plotly: HTML and stills ----------------------------------------------------------------------

TOPOJSON_CDN = "https://cdn.plot.ly/un/"


def _export_figure(data) -> dict:
    """The page's figure, less what only makes sense in the app: the invisible click-to-start grid."""
    fig = dict(data.figure)
    fig["data"] = [
        dict(t, x=[], y=[], hoverinfo="skip", hovertemplate=None) if t.get("name") == "start here" else t
        for t in fig["data"]
    ]
    return fig


def figure_html(fig: dict, title: str, *, head_extra: str = "", **config) -> str:
    """A standalone HTML page of one plotly figure: plotly.js inside the file and nothing that refers to a
    CDN, so it works offline. (plotly.js's own default URL for geographic maps, never used by these
    figures, is rewritten to a relative path.) config: plotly.js config entries beside the defaults."""
    import plotly.io as pio

    page = pio.to_html(
        fig,
        config={"displaylogo": False, "responsive": True, "topojsonURL": "topojson/", **config},
        include_plotlyjs=True,
        include_mathjax=False,
        full_html=True,
        auto_play=False,
        validate=False,
    )
    page = page.replace(TOPOJSON_CDN, "topojson/")
    head = f'<head>\n    <title>{_html.escape(title)}</title>\n    <meta name="generator" content="gradscape" />'
    return page.replace("<head>", head + head_extra, 1)


def html(data) -> str:
    """A standalone HTML page with the interactive animation (play, scrub, zoom, hover), offline."""
    from urllib.parse import urlencode

    from scene.config import to_query

    query = _html.escape(urlencode(to_query(data.cfg)), quote=True)
    return figure_html(
        _export_figure(data),
        f"gradscape: {data.title}",
        head_extra=f'\n    <meta name="gradscape-query" content="{query}" />',
        toImageButtonOptions={"filename": _file_stem(data)},
    )


def _file_stem(data) -> str:
    from export.scene import slug

    return slug(data.title or data.cfg.surface)


def still_figure(data, step: int | None = None, *, full_paths: bool = False) -> dict:
    """The figure at one step, without animation controls: heads and step cursors at `step`
    (default: the last), the paths drawn up to that step (or whole with full_paths=True)."""
    n = data.n_steps
    step = n if step is None else _check_int("step", step, 0, max(n, 0))
    fig = _export_figure(data)
    fig.pop("frames", None)
    layout = dict(fig["layout"])
    layout.pop("sliders", None)
    layout.pop("updatemenus", None)
    layout["margin"] = dict(layout.get("margin", {}), b=50)
    layout["annotations"] = list(layout.get("annotations", [])) + [
        dict(
            text=f"step {step}",
            xref="x domain",
            yref="y domain",
            x=0.99,
            y=0.99,
            xanchor="right",
            yanchor="top",
            showarrow=False,
            bgcolor="rgba(255,255,255,0.85)",
            font=dict(size=layout.get("font", {}).get("size", 13)),
        )
    ]
    fig["layout"] = layout
    traces = []
    for t in fig["data"]:
        group = t.get("legendgroup", "")
        if group.startswith("run") and t.get("xaxis") == "x":
            run = data.runs[int(group[3:])]
            t = dict(t)
            if t.get("mode") == "markers":  # the head
                hx, hy = position_at(run.steps, run.xy, step)
                t["x"], t["y"] = [hx], [hy]
            elif not full_paths and t.get("customdata"):
                keep = [i for i, cd in enumerate(t["customdata"]) if cd[0] <= step]
                t["x"] = [t["x"][i] for i in keep]
                t["y"] = [t["y"][i] for i in keep]
                t["customdata"] = [t["customdata"][i] for i in keep]
        elif t.get("name") == "step" and t.get("mode") == "lines":  # the step cursors
            t = dict(t, x=[step, step])
        traces.append(t)
    fig["data"] = traces
    return fig


def _ensure_browser() -> None:
    """kaleido (choreographer) looks for Chrome/Chromium itself; if BROWSER_PATH is unset, point it
    at the system Chromium when there is one. Never downloads a browser."""
    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            os.environ["BROWSER_PATH"] = path
            return


def kaleido_image(fig: dict, fmt: str, width: int, height: int) -> bytes:
    import plotly.io as pio

    pio.defaults.mathjax = None  # offline: kaleido would otherwise load MathJax from a CDN
    _ensure_browser()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The kopts argument is ignored")  # inside image_session()
        return pio.to_image(fig, format=fmt, width=width, height=height, scale=1, validate=False)


@contextlib.contextmanager
def image_session():
    """Keep one kaleido browser open for several png()/svg() calls (each call otherwise starts
    Chromium, ~2 s). Does nothing harmful when kaleido is missing."""
    try:
        import kaleido
    except ImportError:
        yield
        return
    _ensure_browser()
    started = False
    try:
        kaleido.start_sync_server(silence_warnings=True)
        started = True
    except Exception:  # noqa: BLE001 - no browser: the calls fall back or report it themselves
        pass
    try:
        yield
    finally:
        if started:
            kaleido.stop_sync_server(silence_warnings=True)


def png(
    data,
    *,
    width: int = 1200,
    height: int = 900,
    step: int | None = None,
    full_paths: bool = False,
    engine: str = "auto",
) -> bytes:
    """A PNG still of the figure at `step` (default: the last) via plotly + kaleido.

    engine="auto" falls back to a Pillow still (the surface map as in the GIF, letterboxed to the
    size) with a RuntimeWarning when kaleido or Chromium cannot run; "kaleido" raises instead;
    "pillow" skips kaleido."""
    width = _check_int("width", width, MIN_WIDTH, MAX_WIDTH)
    height = _check_int("height", height, MIN_WIDTH // 2, MAX_WIDTH)
    if engine not in ("auto", "kaleido", "pillow"):
        raise ValueError(f"engine must be 'auto', 'kaleido' or 'pillow'; got {engine!r}")
    fig = still_figure(data, step, full_paths=full_paths)  # a bad step is a ValueError, not a fallback
    if engine != "pillow":
        try:
            return kaleido_image(fig, "png", width, height)
        except Exception as err:  # noqa: BLE001 - kaleido missing, no Chromium, browser crash
            if engine == "kaleido":
                raise RuntimeError(f"kaleido could not render the PNG: {err}") from err
            warnings.warn(
                f"kaleido could not render the PNG ({err}); drew a Pillow still instead", RuntimeWarning, stacklevel=2
            )
    return pillow_still(data, width=width, height=height, step=step)


def svg(data, *, width: int = 1200, height: int = 900, step: int | None = None, full_paths: bool = False) -> str:
    """An SVG still of the figure at `step` (default: the last) via plotly + kaleido; the shaded
    surface is an embedded <image> (PNG data URI). RuntimeError when kaleido cannot run."""
    width = _check_int("width", width, MIN_WIDTH, MAX_WIDTH)
    height = _check_int("height", height, MIN_WIDTH // 2, MAX_WIDTH)
    fig = still_figure(data, step, full_paths=full_paths)
    try:
        out = kaleido_image(fig, "svg", width, height)
    except Exception as err:  # noqa: BLE001
        raise RuntimeError(f"SVG export needs kaleido>=1 and Chrome/Chromium: {err}") from err
    return out.decode("utf-8") if isinstance(out, bytes) else out


def pillow_still(data, *, width: int = 1200, height: int = 900, step: int | None = None) -> bytes:
    """The GIF's frame at `step` (default: the last) as a PNG of exactly width × height."""
    n = data.n_steps
    step = n if step is None else _check_int("step", step, 0, max(n, 0))
    renderer = FrameRenderer(data, width=width, frames=1)
    renderer.steps = [step]
    frame = next(renderer.frames()).convert("RGB")
    if frame.height > height:
        frame = frame.resize((round(frame.width * height / frame.height), height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    canvas.paste(frame, ((width - frame.width) // 2, (height - frame.height) // 2))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


# ---- data ---------------------------------------------------------------------------------------


def _num(v) -> str:
    v = float(v)
    return repr(v) if math.isfinite(v) else ""


def csv(data) -> str:
    """One row per (optimizer, recorded step): optimizer,step,x,y,loss,grad_x,grad_y,grad_norm,lr,
    effective_lr_x,effective_lr_y,diverged_at. The lr columns belong to the update leaving the
    point, so they are empty on each run's last point. Full float64 precision."""
    buf = io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for run, traj in zip(data.runs, data.trajectories):
        steps = traj.steps.tolist()
        xy = traj.xy[0].tolist()
        loss = traj.loss[0].tolist()
        grad = traj.grad[0].tolist()
        lr = traj.lr[0].tolist()
        eff = traj.effective_lr[0].tolist()
        div = int(traj.diverged_at[0])
        for j, s in enumerate(steps):
            gx, gy = grad[j]
            row = [
                run.key,
                s,
                _num(xy[j][0]),
                _num(xy[j][1]),
                _num(loss[j]),
                _num(gx),
                _num(gy),
                _num(math.hypot(gx, gy)),
            ]
            if j < len(lr):
                row += [_num(lr[j]), _num(eff[j][0]), _num(eff[j][1])]
            else:
                row += ["", "", ""]
            w.writerow(row + [div])
    return buf.getvalue()


def _finite(values) -> list:
    return [v if isinstance(v, float) and math.isfinite(v) else (None if isinstance(v, float) else v) for v in values]


def json_ready(value):
    """Config values as JSON-ready data (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_export(data, cfg=None) -> str:
    """The configuration (its URL form and every resolved value, each optimizer's full
    hyperparameters) and, per optimizer, its arrays: steps, x, y, loss, grad_x, grad_y, grad_norm,
    lr, effective_lr_x, effective_lr_y (the last four one shorter: they belong to updates)."""
    from scene.config import effective_hparams, to_query

    cfg = data.cfg if cfg is None else cfg
    runs = []
    for run, traj in zip(data.runs, data.trajectories):
        grad = traj.grad[0]
        runs.append(
            {
                "key": run.key,
                "name": run.label,
                "color": color_for(run.key, len(runs)),
                "hparams": json_ready(effective_hparams(cfg, run.key)),
                "diverged_at": int(traj.diverged_at[0]),
                "effective_lr_kind": run.effective_kind,
                "steps": traj.steps.tolist(),
                "x": _finite(traj.xy[0, :, 0].tolist()),
                "y": _finite(traj.xy[0, :, 1].tolist()),
                "loss": _finite(traj.loss[0].tolist()),
                "grad_x": _finite(grad[:, 0].tolist()),
                "grad_y": _finite(grad[:, 1].tolist()),
                "grad_norm": _finite(grad.norm(dim=-1).tolist()),
                "lr": _finite(traj.lr[0].tolist()),
                "effective_lr_x": _finite(traj.effective_lr[0, :, 0].tolist()),
                "effective_lr_y": _finite(traj.effective_lr[0, :, 1].tolist()),
            }
        )
    surface = data.surface
    doc = {
        "generator": "gradscape",
        "title": data.title,
        "config": {
            "query": to_query(cfg),
            "surface": {
                "key": cfg.surface,
                "name": getattr(surface, "name", cfg.surface),
                "params": json_ready(dict(surface.values)),
                "bounds": json_ready(surface.bounds),
                "minima": json_ready(surface.minima),
            },
            "optimizers": list(cfg.optimizers),
            "hparams": {k: json_ready(effective_hparams(cfg, k)) for k in cfg.optimizers},
            "schedule": {"key": cfg.schedule, "params": json_ready(cfg.schedule_params)},
            "steps": cfg.steps,
            "noise": cfg.noise,
            "seed": cfg.seed,
            "batch_size": cfg.batch_size,
            "start": json_ready(data.start),
            "device": "cpu",
            "dtype": "float64",
        },
        "errors": list(data.errors),
        "runs": runs,
    }
    return json.dumps(doc, allow_nan=False, ensure_ascii=False)


FORMATS = ("gif", "mp4", "html", "png", "svg", "csv", "json")
