"""The ravine and saddle pages in a real browser: a sidebar slider change -> the main figure redrawn, and the
bytes the server sends per change.

    python benchmarks/browser_lecture_pages.py --before /path/to/older/checkout [--changes 10]

Method as benchmarks/browser_slider.py (Debian's Chromium, headless; fresh servers with the background
builder off; both checkouts' servers up at once and the changes taken in turn, one on each): on the ravine
page the rotation moves 5° a change, on the saddle page the start's x 0.05 a change, each a value not seen
before. Latency: key press -> the frame in which plotly's data of Adam's path is a new object.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ROOT, app_server  # noqa: E402
from browser_slider import IDLE, p95, timed_key  # noqa: E402

FIG = "[...document.querySelectorAll('.js-plotly-plot')].filter(e => e.getBoundingClientRect().height > 300)[0]"
ADAM = f"""() => {{ const gd = {FIG}; if (!gd || !gd._fullData) return null;
  const t = gd._fullData.find(t => (t.name || '').startsWith('Adam') && t.mode === 'lines' && t.x && t.x.length > 10);
  return t ? t.x : null; }}"""
PAGES = {"ravine (rotation)": ("/ravine", "Rotation"), "saddle (start x)": ("/saddle", "Start: x")}


class Page:
    def __init__(self, browser, base: str, path: str, slider_label: str):
        self.page = page = browser.new_page(viewport={"width": 1600, "height": 1000})
        self.received: list[int] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda p: self.received.append(len(p))))
        page.goto(base + path)
        page.wait_for_function(f"() => !!({ADAM})()", timeout=180_000, polling=100)
        page.wait_for_function(IDLE, timeout=60_000, polling=100)
        slider = page.locator("[data-testid=stSidebar] [data-testid=stSlider]").filter(has_text=slider_label).first
        self.thumb = slider.locator("input[type=range]").first
        self.ms: list[float] = []
        self.kb: list[float] = []

    def change(self, key: str) -> None:
        before = len(self.received)
        self.ms.append(timed_key(self.page, self.thumb, key, ADAM))
        self.kb.append(sum(self.received[before:]) / 1e3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="an older checkout, measured change by change")
    ap.add_argument("--changes", type=int, default=10)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    roots = {"before": args.before, "now": ROOT}
    env = {"GRADSCAPE_BACKGROUND_COMPILE": "0"}
    rows = []
    with sync_playwright() as pw, contextlib.ExitStack() as servers:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        bases = {
            k: servers.enter_context(app_server(f"lecture_pages_{k}", env=env, root=r))[0] for k, r in roots.items()
        }
        for name, (path, label) in PAGES.items():
            pages = {k: Page(browser, base, path, label) for k, base in bases.items()}
            for _ in range(args.changes):
                for p in pages.values():
                    p.change("ArrowLeft" if name.startswith("saddle") else "ArrowRight")
            for k, p in pages.items():
                rows.append((k, name, statistics.median(p.ms), p95(p.ms), statistics.median(p.kb)))
                p.page.close()
        browser.close()
    print(f"{args.changes} changes per page, Chromium headless\n")
    print("| checkout | page | p50 | p95 | KB sent per change (median) |\n| --- | --- | --- | --- | --- |")
    for k, name, p50, p95_, kb in rows:
        print(f"| {k} | {name} | {p50:.0f} ms | {p95_:.0f} ms | {kb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
