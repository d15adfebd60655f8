"""Export speed: a 200-frame GIF of 6 paths (target: a few seconds on a 2-core CPU), and the other formats.

    python benchmarks/export.py [--repeats N] [--no-kaleido]

Times the renderers of export/render.py on one computed scene (the simulation is timed apart):
GIF and MP4 (Pillow frames; MP4 through the ffmpeg inside imageio-ffmpeg), standalone HTML, and
PNG/SVG through kaleido + Chromium (each call starts the browser unless an image_session is open).
Prints medians in seconds and the output sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export import render  # noqa: E402
from export.scene import compute, scene_from_query  # noqa: E402

# Six optimizers, 500 steps: 200 frames (the cap), every path moving for a good part of the run.
QUERY = "surface=saddle&opt=sgd,momentum,nesterov,adagrad,rmsprop,adam&steps=500"


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-kaleido", action="store_true", help="skip PNG/SVG (they need Chromium)")
    args = ap.parse_args()

    cfg, warnings = scene_from_query(QUERY)
    assert not warnings, warnings
    t_compute, data = timed(lambda: compute(cfg), args.repeats)
    frames = render.frame_count(data)
    print(f"scene: {QUERY}")
    print(f"compute (6 optimizers x 500 steps, CPU): {t_compute:.3f} s")

    rows = []
    t, gif = timed(lambda: render.gif(data, fps=20, width=800), args.repeats)
    rows.append((f"GIF  {frames} frames x {len(data.runs)} paths, 800 px", t, len(gif)))
    t, mp4 = timed(lambda: render.mp4(data, fps=30, width=800), args.repeats)
    rows.append((f"MP4  {frames} frames, 800 px, H.264", t, len(mp4)))
    t, page = timed(lambda: render.html(data), args.repeats)
    rows.append(("HTML standalone (plotly.js inline)", t, len(page.encode())))
    t, csv = timed(lambda: render.csv(data), args.repeats)
    rows.append(("CSV", t, len(csv.encode())))
    if not args.no_kaleido:
        t, png = timed(lambda: render.png(data, engine="kaleido"), args.repeats)
        rows.append(("PNG  1200x900 via kaleido (browser start included)", t, len(png)))
        with render.image_session():
            t, png = timed(lambda: render.png(data, engine="kaleido"), args.repeats)
            rows.append(("PNG  1200x900 via kaleido, browser kept open", t, len(png)))
            t, svg = timed(lambda: render.svg(data), args.repeats)
            rows.append(("SVG  1200x900 via kaleido, browser kept open", t, len(svg.encode())))
    t, png = timed(lambda: render.png(data, engine="pillow"), args.repeats)
    rows.append(("PNG  1200x900 Pillow still (fallback)", t, len(png)))

    width = max(len(r[0]) for r in rows)
    for name, seconds, size in rows:
        print(f"{name:<{width}}  {seconds:7.3f} s  {size / 1024:9.1f} KB")


if __name__ == "__main__":
    main()
