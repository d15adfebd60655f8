"""What a user feels on the Playground: slider change -> updated chart in a real browser, and the bytes sent.

    python benchmarks/browser_slider.py [--changes 14] [--before /path/to/older/checkout]

Issue 16's method: headless Chromium (Debian's, through Playwright) on this machine, a fresh server per
checkout (GRADSCAPE_BACKGROUND_COMPILE=0: the eager engine, no background build competing for the CPU),
each change a value of Adam's learning rate not seen before (Home, then one notch right at a time over the
slider's whole range, leaving out the page's starting value: no cache can answer). Measured in the
page: from the key press (keydown, captured) to the frame in which plotly's decoded data of the Adam
path is a new object (polled every animation frame); and "every panel settled": to the last change of a
drawn line's shape (a figure that moves its paths in place ranges its loss and lr panels just after). Bytes: the
websocket frames the server sends between the key press and the update. Also the first chart after a
fresh server start, from the request to the chart drawn (empty Streamlit caches; the graph store is not
used with the background builder off). Scenes: the default (3 optimizers x 250 steps on the ravine) and
8 optimizers x 1,000 steps. With --before, an older checkout (a git worktree) is measured the same way
in the same run: both servers up at once, each scene loaded on both (the first row: each fresh server's
first chart), then the changes taken in turn, one on each checkout, so that both meet the machine in the
same state (its speed changed by a third within an hour in session 10).

Targets (issue 16, 2-core CPU): p95 <= 200 ms on the default scene, <= 300 ms at 8 x 1,000; bytes per
change <= 80 KB and <= 400 KB; first chart <= 4 s.
"""

from __future__ import annotations

import argparse
import contextlib
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


def timed_key(page, target, key: str, drawn_js: str) -> float:
    """Press `key` on `target`: ms from the keydown (captured) to the animation frame in which drawn_js()
    (plotly's data of the path watched) is a new object; returns once the app is idle again."""
    target.focus()
    page.evaluate(f"""() => {{
        window.__x = ({drawn_js})(); window.__keyAt = null; window.__lastMove = null;
        if (!window.__moveObs) {{ // the last time a drawn line took a new shape: every panel settled
            window.__moveObs = new MutationObserver((ms) => {{ for (const m of ms)
                if (m.target.classList.contains('js-line') && m.target.getAttribute('d') !== m.oldValue) {{
                    window.__lastMove = performance.now(); break; }} }});
            window.__moveObs.observe(document.body,
                {{attributes: true, subtree: true, attributeFilter: ['d'], attributeOldValue: true}}); }}
        document.addEventListener('keydown', () => {{ window.__keyAt = performance.now(); }},
                                  {{capture: true, once: true}}); }}""")
    page.keyboard.press(key)
    handle = page.wait_for_function(
        f"""() => {{ if (window.__keyAt === null) return false; const x = ({drawn_js})();
            return x && x !== window.__x ? performance.now() - window.__keyAt : false; }}""",
        polling="raf",
        timeout=60_000,
    )
    page.wait_for_function(IDLE, timeout=60_000, polling=50)
    return handle.json_value()


def settled_ms(page, quiet_ms: int = 300) -> float:
    """After timed_key: ms from its key press to the last change of a drawn line's shape (a figure may move
    its paths first and range its other panels after; a redraw that repeats a shape does not count)."""
    page.wait_for_timeout(quiet_ms)
    return page.evaluate("() => window.__lastMove - window.__keyAt")


def p95(values):
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


class Scene:
    """One checkout's page of one scene, loaded and ready for changes of Adam's lr."""

    def __init__(self, base: str, path: str, browser):
        self.page = page = browser.new_page(viewport={"width": 1600, "height": 1000})
        self.received: list[int] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: self.received.append(len(payload))))
        t0 = time.perf_counter()
        page.goto(base + path)
        page.wait_for_function(f"() => !!({ADAM_X})()", timeout=180_000, polling=50)
        self.first_s = time.perf_counter() - t0
        page.wait_for_function(IDLE, timeout=60_000, polling=50)
        adam = page.get_by_text("Adam settings", exact=True)  # not NAdam's or RAdam's
        expander = page.locator("[data-testid=stExpander]").filter(has=adam)
        expander.locator("summary").click()
        self.thumb = expander.locator("[data-testid=stSlider]").first.locator("input[type=range]")
        self.thumb.wait_for(state="attached")
        page.wait_for_function(IDLE, timeout=60_000, polling=50)
        self.value = expander.locator("[data-testid=stSlider]").first.locator("[data-testid=stSliderThumbValue]")
        self.seen = {self.value.inner_text()}
        self.keys = iter(["Home"] + ["ArrowRight"] * 30)
        self.ms: list[float] = []
        self.settled: list[float] = []
        self.sent: list[int] = []

    def change(self, label: str) -> None:
        """The next change to a value not seen before (a repeat of the starting value is not counted)."""
        page = self.page
        for key in self.keys:
            before = len(self.received)
            ms = timed_key(page, self.thumb, key, ADAM_X)
            settled = settled_ms(page)
            now = self.value.inner_text()
            if now in self.seen:  # the default again: a cached answer, not a change a user waits for
                continue
            self.seen.add(now)
            self.ms.append(ms)
            self.settled.append(settled)
            self.sent.append(sum(self.received[before:]))
            print(
                f"  {label}: lr {now}: {self.ms[-1]:.0f} ms (settled {settled:.0f}), {self.sent[-1] / 1e3:.0f} KB",
                file=sys.stderr,
                flush=True,
            )
            return

    def result(self) -> dict:
        self.page.close()
        ms = self.ms
        return dict(
            first_s=self.first_s,
            p50=statistics.median(ms),
            p95=p95(ms),
            worst=max(ms),
            settled_p50=statistics.median(self.settled),
            settled_p95=p95(self.settled),
            kb=statistics.median(self.sent) / 1e3,
        )


def measure(bases: dict[str, str], browser, changes: int) -> dict:
    """{checkout: {scene: figures}}: per scene, each checkout's page loaded (first chart), then the changes
    taken in turn, one on each checkout, so that both meet the machine in the same state."""
    out: dict[str, dict] = {label: {} for label in bases}
    for name, path in SCENES.items():
        scenes = {label: Scene(base, path, browser) for label, base in bases.items()}
        for _ in range(changes):
            for label, scene in scenes.items():
                scene.change(f"{label}, {name}")
        for label, scene in scenes.items():
            out[label][name] = scene.result()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=14)
    ap.add_argument("--before", type=Path, help="an older checkout to measure side by side, change by change")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    checkouts = ([("before", args.before)] if args.before else []) + [("now", ROOT)]
    env = {"GRADSCAPE_BACKGROUND_COMPILE": "0"}
    with sync_playwright() as pw, contextlib.ExitStack() as servers:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        bases = {
            label: servers.enter_context(app_server(f"browser_slider_{label}", env=env, root=root))[0]
            for label, root in checkouts
        }
        results = measure(bases, browser, args.changes)
        browser.close()
    print(f"{args.changes} changes of Adam's lr per scene, Chromium headless, medians of bytes\n")
    print(
        "| checkout | scene | load to chart (first row: fresh server) | p50 | p95 | worst "
        "| every panel settled: p50 / p95 | KB sent per change |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, scenes in results.items():
        for name, r in scenes.items():
            print(
                f"| {label} | {name} | {r['first_s']:.1f} s | {r['p50']:.0f} ms | {r['p95']:.0f} ms | "
                f"{r['worst']:.0f} ms | {r['settled_p50']:.0f} / {r['settled_p95']:.0f} ms | {r['kb']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
