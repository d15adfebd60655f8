"""What a user feels on the Playground: slider change -> updated chart in a real browser, and the bytes sent.

    python benchmarks/browser_slider.py [--changes 14] [--before /path/to/older/checkout]

Issue 16's method: headless Chromium (Debian's, through Playwright) on this machine, a fresh server per
checkout (GRADSCAPE_BACKGROUND_COMPILE=0: the eager engine, no background build competing for the CPU),
each change a value of Adam's learning rate not seen before (Home, then one notch right at a time over the
slider's whole range, leaving out the page's starting value: no cache can answer). Measured in the
page: from the key press (keydown, captured) to the frame in which plotly's decoded data of the Adam
path is a new object (polled every animation frame). Bytes: the
websocket frames the server sends between the key press and the update. Also the first chart after a
fresh server start, from the request to the chart drawn (empty Streamlit caches; the graph store is not
used with the background builder off). Scenes: the default (3 optimizers x 250 steps on the ravine) and
8 optimizers x 1,000 steps. With --before, an older checkout (a git worktree) is measured the same way
in the same run, first.

Targets (issue 16, 2-core CPU): p95 <= 200 ms on the default scene, <= 300 ms at 8 x 1,000; bytes per
change <= 80 KB and <= 400 KB; first chart <= 4 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import ROOT, app_server  # noqa: E402

SCENES = {
    "default (3 x 250)": "/",
    "8 x 1,000": "/?surface=ravine&opt=sgd,momentum,nesterov,adagrad,rmsprop,adam,nadam,radam&steps=1000",
}
MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"
ADAM_X = f"""() => {{ const gd = {MAIN}; if (!gd || !gd._fullData) return null;
  const t = gd._fullData.find(t => t.name.startsWith('Adam') && (t.xaxis || 'x') === 'x' && t.mode === 'lines');
  return t ? t.x : null; }}"""
IDLE = """() => { const app = document.querySelector('[data-test-script-state]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
      && !document.querySelector('[data-stale=true]'); }"""


def p95(values):
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def measure(base: str, browser, changes: int) -> dict:
    out = {}
    for name, path in SCENES.items():
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        received = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
        t0 = time.perf_counter()
        page.goto(base + path)
        page.wait_for_function(f"() => !!({ADAM_X})()", timeout=180_000, polling=50)
        first_s = time.perf_counter() - t0
        page.wait_for_function(IDLE, timeout=60_000, polling=50)
        adam = page.get_by_text("Adam settings", exact=True)  # not NAdam's or RAdam's
        expander = page.locator("[data-testid=stExpander]").filter(has=adam)
        expander.locator("summary").click()
        thumb = expander.locator("[data-testid=stSlider]").first.locator("input[type=range]")
        thumb.wait_for(state="attached")
        page.wait_for_function(IDLE, timeout=60_000, polling=50)
        slider = expander.locator("[data-testid=stSlider]").first
        value = slider.locator("[data-testid=stSliderThumbValue]")
        seen = {value.inner_text()}
        ms, sent = [], []
        for key in ["Home"] + ["ArrowRight"] * 30:
            if len(ms) == changes:
                break
            thumb.focus()
            page.evaluate(f"""() => {{
                window.__x = ({ADAM_X})(); window.__keyAt = null;
                document.addEventListener('keydown', () => {{ window.__keyAt = performance.now(); }},
                                          {{capture: true, once: true}}); }}""")
            before = len(received)
            page.keyboard.press(key)
            handle = page.wait_for_function(
                f"""() => {{ if (window.__keyAt === null) return false; const x = ({ADAM_X})();
                    return x && x !== window.__x ? performance.now() - window.__keyAt : false; }}""",
                polling="raf",
                timeout=60_000,
            )
            page.wait_for_function(IDLE, timeout=60_000, polling=50)
            now = value.inner_text()
            if now in seen:  # the default again: a cached answer, not a change a user waits for
                continue
            seen.add(now)
            ms.append(handle.json_value())
            sent.append(sum(received[before:]))
            print(f"  {name}: lr {now}: {ms[-1]:.0f} ms, {sent[-1] / 1e3:.0f} KB", file=sys.stderr, flush=True)
        page.close()
        out[name] = dict(
            first_s=first_s, p50=statistics.median(ms), p95=p95(ms), worst=max(ms), kb=statistics.median(sent) / 1e3
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=14)
    ap.add_argument("--before", type=Path, help="an older checkout to measure first, side by side")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    checkouts = ([("before", args.before)] if args.before else []) + [("now", ROOT)]
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for label, root in checkouts:
            with app_server(f"browser_slider_{label}", env={"GRADSCAPE_BACKGROUND_COMPILE": "0"}, root=root) as (
                base,
                _,
                _,
            ):
                results[label] = measure(base, browser, args.changes)
        browser.close()
    print(f"{args.changes} changes of Adam's lr per scene, Chromium headless, medians of bytes\n")
    print("| checkout | scene | load to chart (first row: fresh server) | p50 | p95 | worst | KB sent per change |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, scenes in results.items():
        for name, r in scenes.items():
            print(
                f"| {label} | {name} | {r['first_s']:.1f} s | {r['p50']:.0f} ms | {r['p95']:.0f} ms | "
                f"{r['worst']:.0f} ms | {r['kb']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
