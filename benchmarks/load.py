"""Load: a lecture hall on one server. N concurrent browser sessions on the local Streamlit server,
then the server's memory over many reruns of one session.

    python benchmarks/load.py                      # 30 sessions × 4 rounds, then 500 reruns (~10 min)
    python benchmarks/load.py --sessions 5 --rounds 2 --reruns 50     # a quick look
    python benchmarks/load.py --shared-link        # every session follows the very same link

Phase 1 (the hall): the app server is started like tests/browser/conftest.py does (`streamlit run
app.py`, headless, on a free port; stopped by its PID), and warmed by one session (the lecturer's: the
first script run imports torch). One Debian chromium (Playwright, async API) then opens N browser
contexts, i.e. N Streamlit sessions:
 (a) arrival: the sessions open the link at random moments within --arrive-s seconds, like students
     following a link; the time from `goto` to the drawn chart is recorded;
 (b) all at once: every session that came up plays --rounds rounds, each after a random pause of up to
     --jitter-s: change a slider (even rounds: Adam's learning rate, a key press on its select-slider,
     which recomputes one optimizer; odd rounds: the Steps select-slider, which recomputes all three),
     wait for the updated chart, press Play, let it play --play-s seconds, press Pause, and read the
     page's own "Server time" caption (the server's share of that rerun).
The time from a change to the updated chart is measured inside the page: from the keydown event to the
first moment (50 ms polling) the plotted paths differ from the ones before. Play is measured the same
way, from the click to the first moved head marker.

By default every session's link carries its own noise seed (noise=0.05&seed=i), so no session is served
from another's cache: the worst case for the server. With --shared-link all follow one link and share
the process-wide st.cache_data entries, as a real lecture hall would.

Errors: uncaught exceptions in the page, console errors, Streamlit exception boxes (stException), and
time-outs. plotly.js rejects the promise of an animation interrupted by Pause with no reason (the page
error "undefined"); that one is counted separately as known and harmless (see
tests/browser/test_playground_browser.py).

Phase 2 (memory): one session makes R changes of the "Noise seed" number input (ArrowUp; with noise
on, every change computes three new runs, so the run cache, max_entries=512, fills after ~170 reruns
and then evicts) and the server's resident memory (VmRSS from /proc/<pid>/status) is sampled every 25
reruns.

Note: the browsers and the server share this machine's CPU. On a 2-core machine, N chromium renderers
drawing and animating plotly charts compete with the one Python server process for the same two cores,
which a real lecture hall (one laptop per student) does not; the script prints the CPU seconds each side
used so that share is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _server import TICK, app_server, load_average, rss_mb  # benchmarks/_server.py

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1600, "height": 1100}
ACTION_TIMEOUT_MS = 60_000
TARGET_P95_MS = 2000
KNOWN_PAUSE_REJECTION = "undefined"

MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"
# A cheap signature of the plotted paths (name, length, middle and last point) and of the head markers.
PATHS_SIG = f"""() => {{
  const gd = {MAIN};
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  return gd._fullData.filter(t => (t.xaxis || 'x') === 'x' && t.mode === 'lines' && t.showlegend)
    .map(t => {{ const n = t.x.length;
      return [t.name, n, t.x[n >> 1], t.y[n >> 1], t.x[n - 1], t.y[n - 1]].join(':'); }})
    .join('|');
}}"""
HEADS_SIG = f"""() => {{
  const gd = {MAIN};
  if (!gd || !gd._fullData) return null;
  return gd._fullData.filter(t => (t.xaxis || 'x') === 'x' && t.mode === 'markers' && t.legendgroup && !t.showlegend)
    .map(t => t.x[0] + ',' + t.y[0]).join('|');
}}"""


# ---- the server and /proc -----------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone. The CPU seconds are its own user +
    system time plus that of its children that have exited and been waited for (chromium's renderers
    end when their browser context closes; their time then shows in their parent's)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(rest[1]), sum(int(v) for v in rest[11:15]) / TICK


def cpu_seconds(root: int, exclude: int) -> tuple[float, float]:
    """CPU seconds of the process `exclude` (the server), and of every other descendant of `root`
    (Playwright's driver and chromium): (server, browsers)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                table[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    server = table.get(exclude, (0, 0.0))[1]
    browsers, stack = 0.0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        if pid != exclude:
            browsers += table[pid][1]
            stack.extend(children.get(pid, []))
    return server, browsers


# ---- one session ----------------------------------------------------------------------------------


@dataclass
class SessionResult:
    index: int
    load_ms: float | None = None
    change_ms: list = field(default_factory=list)  # (kind, ms)
    play_ms: list = field(default_factory=list)
    server_ms: list = field(default_factory=list)  # (kind, ms) from the page's own caption
    errors: list = field(default_factory=list)  # (kind, text)
    known: list = field(default_factory=list)


def attach(page, res: SessionResult) -> None:
    def on_console(m):
        if m.type == "error":
            res.errors.append(("console", m.text[:300]))

    def on_pageerror(e):
        text = str(e)
        (res.known if text == KNOWN_PAUSE_REJECTION else res.errors).append(("pageerror", text[:300]))

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)


async def wait_chart(page, timeout_ms: int = ACTION_TIMEOUT_MS) -> None:
    await page.wait_for_function(f"() => !!({PATHS_SIG})()", timeout=timeout_ms, polling=100)


async def timed_key(page, locator, key: str) -> float:
    """Focus a widget, press a key; ms from the keydown to the first changed paths (in the page)."""
    await locator.focus()
    await page.evaluate(f"""() => {{
        window.__sig = ({PATHS_SIG})(); window.__keyAt = null;
        document.addEventListener('keydown', () => {{ window.__keyAt = performance.now(); }},
                                  {{capture: true, once: true}});
    }}""")
    await page.keyboard.press(key)
    handle = await page.wait_for_function(
        f"""() => {{
        if (window.__keyAt === null) return false;
        const s = ({PATHS_SIG})();
        if (!s || s === window.__sig) return false;
        return performance.now() - window.__keyAt;
    }}""",
        timeout=ACTION_TIMEOUT_MS,
        polling=50,
    )
    return float(await handle.json_value())


async def timed_play(page, play_s: float) -> float:
    """Click Play; ms to the first moved head marker; let it play, then Pause."""
    await page.evaluate(f"() => {{ window.__heads = ({HEADS_SIG})(); window.__clickAt = performance.now(); }}")
    # .first: while Streamlit swaps in the updated chart, the old plot can still be in the DOM for a moment
    await page.locator(".updatemenu-button", has_text="Play").first.click()
    handle = await page.wait_for_function(
        f"""() => {{
        const s = ({HEADS_SIG})();
        return s && s !== window.__heads ? performance.now() - window.__clickAt : false;
    }}""",
        timeout=ACTION_TIMEOUT_MS,
        polling=50,
    )
    ms = float(await handle.json_value())
    await page.wait_for_timeout(play_s * 1000)
    await page.locator(".updatemenu-button", has_text="Pause").first.click()
    await page.wait_for_timeout(300)
    return ms


async def exceptions_shown(page) -> list[str]:
    return await page.locator("[data-testid=stException]").all_inner_texts()


async def open_session(
    i: int, browser, base: str, link: str, arrive_s: float, res: SessionResult, load_timeout_ms: int
):
    """Arrive after `arrive_s`, open the link, wait for the chart, open Adam's settings. Returns
    (context, page), or (context, None) if the page did not come up (recorded as an error)."""
    await asyncio.sleep(arrive_s)
    ctx = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await ctx.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        attach(page, res)
        t0 = time.perf_counter()
        await page.goto(base + link, timeout=load_timeout_ms)
        await wait_chart(page, load_timeout_ms)
        res.load_ms = (time.perf_counter() - t0) * 1000
        adam = page.locator("[data-testid=stExpander]", has_text="Adam settings")
        await adam.locator("summary").click()
        await adam.locator("[data-testid=stSlider] input[type=range]").first.wait_for(state="attached")
        return ctx, page
    except Exception as err:
        kind = "timeout" if "Timeout" in type(err).__name__ else "session"
        res.errors.append((kind, f"opening the link: {type(err).__name__}: {str(err).splitlines()[0]}"[:300]))
        return ctx, None


async def server_ms(page) -> float | None:
    """The page's own "Server time N ms" caption (script run, engine, figure, serialisation)."""
    text = " ".join(await page.locator("[data-testid=stCaptionContainer]", has_text="Server time").all_inner_texts())
    m = re.search(r"Server time (\d+) ms", text)
    return float(m.group(1)) if m else None


async def run_rounds(page, res: SessionResult, rounds: int, jitter_s: float, play_s: float, rng) -> None:
    """Rounds of: a slider change (timed to the updated chart), Play (timed to the first move), Pause."""
    adam = page.locator("[data-testid=stExpander]", has_text="Adam settings")
    lr = adam.locator("[data-testid=stSlider] input[type=range]").first
    steps = (
        page.locator("[data-testid=stSidebar] [data-testid=stSlider]")
        .filter(has=page.locator("[data-testid=stWidgetLabel]", has_text="Steps"))
        .locator("input[type=range]")
        .first
    )
    for r in range(rounds):
        await asyncio.sleep(rng.uniform(0, jitter_s))
        kind, loc, key = ("adam_lr", lr, "ArrowLeft") if r % 2 == 0 else ("steps", steps, "ArrowRight")
        try:
            res.change_ms.append((kind, await timed_key(page, loc, key)))
        except Exception as err:  # a time-out is an error of the run, not of the script
            res.errors.append(
                (
                    "timeout" if "Timeout" in type(err).__name__ else "action",
                    f"{kind}: {str(err).splitlines()[0]}"[:300],
                )
            )
            continue
        try:
            res.play_ms.append(await timed_play(page, play_s))
        except Exception as err:
            res.errors.append(
                ("timeout" if "Timeout" in type(err).__name__ else "action", f"play: {str(err).splitlines()[0]}"[:300])
            )
        ms = await server_ms(page)
        if ms is not None:
            res.server_ms.append((kind, ms))
    for text in await exceptions_shown(page):
        res.errors.append(("stException", text[:300]))


async def memory_session(browser, base: str, pid: int, reruns: int, every: int) -> tuple[list, SessionResult]:
    res = SessionResult(-1)
    samples = []
    ctx = await browser.new_context(viewport=VIEWPORT)
    try:
        page = await ctx.new_page()
        page.set_default_timeout(ACTION_TIMEOUT_MS)
        attach(page, res)
        await page.goto(base + "/?noise=0.05")
        await wait_chart(page)
        seed = page.locator("[data-testid=stNumberInput] input[aria-label='Noise seed']").first
        samples.append((0, rss_mb(pid)))
        t0 = time.perf_counter()
        for k in range(1, reruns + 1):
            try:
                res.change_ms.append(("seed", await timed_key(page, seed, "ArrowUp")))
            except Exception as err:
                res.errors.append(
                    ("timeout" if "Timeout" in type(err).__name__ else "action", f"seed {k}: {err}"[:300])
                )
            if k % every == 0 or k == reruns:
                samples.append((k, rss_mb(pid)))
                print(
                    f"  rerun {k:4d}: server RSS {samples[-1][1]:7.1f} MB  ({time.perf_counter() - t0:5.0f} s)",
                    flush=True,
                )
        value = await seed.input_value()
        if int(value) != reruns:
            res.errors.append(("state", f"the seed input shows {value} after {reruns} ArrowUp presses"))
        for text in await exceptions_shown(page):
            res.errors.append(("stException", text[:300]))
    finally:
        await ctx.close()
    return samples, res


# ---- the report -----------------------------------------------------------------------------------


def pct(values, q: float) -> float:
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summary_line(name: str, values) -> str:
    if not values:
        return f"  {name:<34} (none)"
    return (
        f"  {name:<34} n={len(values):4d}  p50 {pct(values, 0.5):6.0f} ms  p95 {pct(values, 0.95):6.0f} ms  "
        f"max {max(values):6.0f} ms"
    )


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    print(
        f"load benchmark: {args.sessions} sessions × {args.rounds} rounds, then {args.reruns} reruns; "
        f"{os.cpu_count()} CPUs, load average {load_average()}; {platform.python_version()}",
        flush=True,
    )
    with app_server("server") as (base, proc, _log):
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # The lecturer's page first: the server's first script run imports torch.
                lecturer = SessionResult(-1)
                ctx, page = await open_session(-1, browser, base, "/", 0.0, lecturer, 240_000)
                await ctx.close()
                rss_start = rss_mb(proc.pid)
                print(
                    f"server up, warmed by one session (link -> chart {lecturer.load_ms or float('nan'):.0f} ms, "
                    f"errors {lecturer.errors}); RSS {rss_start:.1f} MB",
                    flush=True,
                )

                rng = random.Random(0)
                rss_peak = rss_start

                async def watch_rss():
                    nonlocal rss_peak
                    while True:
                        rss_peak = max(rss_peak, rss_mb(proc.pid))
                        await asyncio.sleep(0.5)

                if args.sessions:
                    watcher = asyncio.create_task(watch_rss())
                    results = [SessionResult(i) for i in range(args.sessions)]
                    links = [
                        "/?noise=0.05&seed=7" if args.shared_link else f"/?noise=0.05&seed={i + 1}"
                        for i in range(args.sessions)
                    ]
                    # (a) arrival: the students open the link within arrive_s seconds.
                    cpu0, wall0 = cpu_seconds(os.getpid(), proc.pid), time.perf_counter()
                    opened = await asyncio.gather(
                        *[
                            open_session(
                                i,
                                browser,
                                base,
                                links[i],
                                rng.uniform(0, args.arrive_s),
                                results[i],
                                args.load_timeout_s * 1000,
                            )
                            for i in range(args.sessions)
                        ]
                    )
                    cpu1, wall1 = cpu_seconds(os.getpid(), proc.pid), time.perf_counter()
                    # (b) all at once: every session changes sliders and plays, round after round.
                    await asyncio.gather(
                        *[
                            run_rounds(page, results[i], args.rounds, args.jitter_s, args.play_s, random.Random(i))
                            for i, (_, page) in enumerate(opened)
                            if page
                        ]
                    )
                    cpu2, wall2 = cpu_seconds(os.getpid(), proc.pid), time.perf_counter()
                    for ctx, _ in opened:
                        await ctx.close()
                    watcher.cancel()

                    changes = [ms for r in results for _, ms in r.change_ms]
                    by_kind = {
                        k: [ms for r in results for kk, ms in r.change_ms if kk == k] for k in ("adam_lr", "steps")
                    }
                    srv = {k: [ms for r in results for kk, ms in r.server_ms if kk == k] for k in ("adam_lr", "steps")}
                    loads = [r.load_ms for r in results if r.load_ms is not None]
                    plays = [ms for r in results for ms in r.play_ms]
                    errors = [(r.index, kind, text) for r in results for kind, text in r.errors]
                    known = sum(len(r.known) for r in results)
                    cores = os.cpu_count() or 1
                    print(
                        f"\nPhase 1: {args.sessions} sessions "
                        f"({'one shared link' if args.shared_link else 'a seed each: no shared cache'})"
                    )
                    print(
                        f" (a) arrival within {args.arrive_s:g} s: {wall1 - wall0:.0f} s wall; "
                        f"{len(loads)}/{args.sessions} pages up"
                    )
                    print(summary_line("open the link -> chart drawn", loads))
                    print(
                        f"     CPU seconds: server {cpu1[0] - cpu0[0]:.0f}, browsers (chromium + Playwright) "
                        f"{cpu1[1] - cpu0[1]:.0f}, of {cores * (wall1 - wall0):.0f} available"
                    )
                    print(f" (b) {args.rounds} rounds each, all sessions at once: {wall2 - wall1:.0f} s wall")
                    print(summary_line("change -> updated chart (all)", changes))
                    print(summary_line("  Adam lr (1 run recomputed)", by_kind["adam_lr"]))
                    print(summary_line("  Steps (3 runs recomputed)", by_kind["steps"]))
                    print(summary_line("  server's own time, Adam lr", srv["adam_lr"]))
                    print(summary_line("  server's own time, Steps", srv["steps"]))
                    print(summary_line("Play -> heads move", plays))
                    print(
                        f"     CPU seconds: server {cpu2[0] - cpu1[0]:.0f}, browsers (chromium + Playwright) "
                        f"{cpu2[1] - cpu1[1]:.0f}, of {cores * (wall2 - wall1):.0f} available"
                    )
                    print(f"  errors: {len(errors)}  (known plotly Pause rejections, not counted: {known})")
                    for e in errors[:20]:
                        print(f"    session {e[0]}: {e[1]}: {e[2]}")
                    print(
                        f"  server RSS: {rss_start:.1f} MB before, peak {rss_peak:.1f} MB, after {rss_mb(proc.pid):.1f} MB"  # noqa: E501
                    )
                    verdict = pct(changes, 0.95) < TARGET_P95_MS and not errors
                    print(
                        f"  target p95 < {TARGET_P95_MS} ms and no error: {'MET' if verdict else 'NOT MET'}", flush=True
                    )

                if args.reruns:
                    print(
                        f"\nPhase 2: one session, {args.reruns} reruns (Noise seed +1 each, 3 new runs per rerun)",
                        flush=True,
                    )
                    samples, mres = await memory_session(browser, base, proc.pid, args.reruns, 25)
                    at = dict(samples)
                    marks = [k for k in (0, 100, 250, 500, args.reruns) if k in at]
                    print("  server RSS: " + ", ".join(f"{k} reruns {at[k]:.1f} MB" for k in dict.fromkeys(marks)))
                    tail = [mb for k, mb in samples if k >= args.reruns // 2]
                    print(
                        f"  over the second half: min {min(tail):.1f}, max {max(tail):.1f} MB "
                        f"(growth {tail[-1] - tail[0]:+.1f} MB)"
                    )
                    print(summary_line("seed change -> updated chart", [ms for _, ms in mres.change_ms]))
                    print(f"  errors: {len(mres.errors)}")
                    for e in mres.errors[:10]:
                        print(f"    {e[0]}: {e[1]}")
                    print("  samples (reruns, MB): " + " ".join(f"{k}:{mb:.0f}" for k, mb in samples))
            finally:
                await browser.close()
    print(f"\nload average at the end: {load_average()}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=4, help="slider change + Play rounds per session (3-5)")
    ap.add_argument("--reruns", type=int, default=500, help="reruns of one session for the memory curve")
    ap.add_argument("--arrive-s", type=float, default=30.0, help="sessions arrive at random within this many seconds")
    ap.add_argument("--load-timeout-s", type=int, default=180, help="time allowed for a page to come up on arrival")
    ap.add_argument("--jitter-s", type=float, default=2.0, help="random pause before each round's change")
    ap.add_argument("--play-s", type=float, default=2.0, help="seconds to let the animation play before Pause")
    ap.add_argument("--shared-link", action="store_true", help="every session follows the same link (shared cache)")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found", file=sys.stderr)
        return 2
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
