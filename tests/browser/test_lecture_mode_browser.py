"""Lecture mode in a real browser (Debian chromium through Playwright): the lecture keys of
figures/keys.js (mounted by ui/keys.py) on the Playground, Page Down / Page Up through a lecture,
predict-then-reveal (the key R and the Reveal button), the projector view (?embed=true) and its link,
and the saddle page's quiz.

The animation's frame is read through the keys script itself: window.gradscapeKeys.figure() is the
animated Plotly graph and window.gradscapeKeys.frameIndex() its current frame; the Plotly slider's own
active step (gd._fullLayout.sliders[0].active) is checked against it. One Streamlit server for the
module (conftest's quiet_server: GRADSCAPE_BACKGROUND_COMPILE=0). Screenshots go to
test-artifacts/browser/<test name>*.png.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

from figures.playground import quiz_letters
from optimizers import get_optimizer
from scene.lectures import get_lecture
from surfaces import surface_class

LECTURE = "adaptive-learning-rates"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
FIRST_LOAD_MS = 90_000  # the first script run of a fresh server imports torch
PROJECTOR = {"width": 1920, "height": 1080}

GK = "window.gradscapeKeys"
FIG = "window.gradscapeKeys.figure()"
# The Playground's chart by its Streamlit key (pg.ui.chart); before a reveal it has no slider, so
# gradscapeKeys.figure() (the animated graph) does not find it.
CHART = "document.querySelector('.st-key-pg-ui-chart .js-plotly-plot')"
SADDLE_CHART = "document.querySelector('.st-key-sd-chart .js-plotly-plot')"
# drawn, and its frames in (the live figure adds them in a task after the draw: a frame key pressed in between
# has no frame to go to; under the full suite's load that gap outlasted a test's first key press)
FIG_READY = (
    f"!!({GK} && {FIG} && {FIG}._fullData && {FIG}._fullData.length && {FIG}._transitionData"
    f" && {FIG}._transitionData._frames.length === {FIG}.layout.sliders[0].steps.length)"
)

# One chart as JSON: its traces (name, mode, axis, legend flag, number of points), the legend's texts,
# which axes its layout has, its sliders and layout.meta.
READ_CHART = """(gd) => {
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  return {
    traces: gd._fullData.map(t => ({name: t.name ?? null, mode: t.mode ?? null, xaxis: t.xaxis || 'x',
      showlegend: !!t.showlegend, n: t.x ? t.x.length : 0,
      x: t.x ? Array.from(t.x) : [], y: t.y ? Array.from(t.y) : []})),
    legend: [...gd.querySelectorAll('.legendtext')].map(e => e.textContent),
    layoutKeys: Object.keys(gd.layout),
    sliders: (gd.layout.sliders || []).length,
    meta: gd.layout.meta || null,
  };
}"""

# Where the page says the scene sits: {name, k, n, text} from the "**name**  \ntitle · scene k of n" block.
READ_SCENE = """() => {
  for (const e of document.querySelectorAll('[data-testid=stMain] [data-testid=stMarkdownContainer]')) {
    const m = e.innerText.match(/scene (\\d+) of (\\d+)/);
    const strong = e.querySelector('strong');
    if (m && strong) return {name: strong.textContent, k: +m[1], n: +m[2], text: e.innerText};
  }
  return null;
}"""

# Records every change of Streamlit's script state from now on: window.__states. Streamlit's own
# rerun (its "r" shortcut, the menu) goes through "rerunRequested"; a widget's or component's trigger
# goes straight to "running".
WATCH_RUNS = """() => {
  window.__states = [];
  const app = document.querySelector('[data-test-script-state]');
  new MutationObserver(() => window.__states.push(app.getAttribute('data-test-script-state')))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


# ---- helpers ---------------------------------------------------------------------------------------


def lecture_url(base: str, scene: int, **extra: str) -> str:
    return f"{base}/?" + urllib.parse.urlencode({"lecture": LECTURE, "scene": scene, **extra})


def open_animated(page, url: str, wait_idle) -> None:
    """Open a page whose animated figure the keys drive, and wait until it is drawn and idle."""
    page.goto(url)
    wait_idle(page, FIG_READY, timeout=FIRST_LOAD_MS)


def frame(page) -> int:
    return page.evaluate(f"{GK}.frameIndex()")


def slider_active(page) -> int:
    return page.evaluate(f"{FIG}._fullLayout.sliders[0].active")


def n_frames(page) -> int:
    return page.evaluate(f"{FIG}.layout.sliders[0].steps.length")


def press_to_frame(page, key: str, expected: int) -> None:
    """Press `key`; the keys' frame and the slider's active step both become `expected`, and stay."""
    page.keyboard.press(key)
    page.wait_for_function(
        f"(e) => {GK}.frameIndex() === e && {FIG}._fullLayout.sliders[0].active === e", arg=expected, timeout=5000
    )
    page.wait_for_timeout(200)  # and no further than that
    assert (frame(page), slider_active(page)) == (expected, expected), f"{key}: expected frame {expected}"


def read_chart(page, selector_js: str) -> dict:
    data = page.evaluate(f"() => ({READ_CHART})({selector_js})")
    assert data is not None, f"no drawn chart at {selector_js}"
    return data


def chart_has(selector_js: str, predicate_js: str) -> str:
    """A JS expression: the chart at selector_js is drawn and `predicate_js` (over `c`, READ_CHART's result) holds."""
    return f"(() => {{ const c = ({READ_CHART})({selector_js}); return !!c && ({predicate_js}); }})()"


def legend_is(names: list[str]) -> str:
    return f"JSON.stringify(c.legend) === {json.dumps(json.dumps(names, separators=(',', ':')))}"


def paths(chart: dict) -> dict[str, int]:
    """The optimizers' paths on the surface axes: lines with a legend entry, name -> number of points."""
    return {
        t["name"]: t["n"]
        for t in chart["traces"]
        if t["xaxis"] == "x" and t["mode"] == "lines" and t["showlegend"] and t["name"] != "contours"
    }


def scene_names(scene) -> list[str]:
    """The optimizer names a lecture scene shows: its opt= list, else its surface's lesson optimizers."""
    keys = (
        scene.query["opt"].split(",")
        if "opt" in scene.query
        else surface_class(scene.query["surface"]).lesson_optimizers
    )
    return [get_optimizer(k).name for k in keys]


def button(page, key: str):
    """The button of a Streamlit key ("pg.ui.reveal" -> .st-key-pg-ui-reveal). Streamlit draws a hidden
    copy of a button that has help text, to measure it: the visible one."""
    return page.locator(f".st-key-{key.replace('.', '-')} button").filter(visible=True)


def href_scene(page) -> str | None:
    """scene= of the address bar (page.url does not follow history.replaceState; location.href does)."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(page.evaluate("location.href")).query).get("scene", [None])[0]


def track_404(page) -> list[str]:
    """The addresses that answer 404, as they come."""
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.url) if r.status == 404 else None)
    return seen


def assert_no_errors(page, page_errors, probes_404: list[str] | None = None) -> None:
    """No exception on the page, no console error, no uncaught page error. One known-benign console
    error is let through, and only where probes_404 shows its cause: on a sub-page address (/saddle)
    Streamlit's frontend first asks /<page>/_stcore/health and /host-config in case the app is served
    under that path, gets 404, then uses the root (see test_offline_and_pages.real_errors)."""
    assert page.locator("[data-testid=stException]").all_inner_texts() == []
    console = list(page_errors.console)
    if probes_404 is not None:
        benign = [u for u in probes_404 if re.search(r"/[a-z_]+/_stcore/(health|host-config)$", u)]
        assert benign == probes_404, f"other addresses answered 404: {probes_404}"
        resource_404 = "Failed to load resource: the server responded with a status of 404 (Not Found)"
        for _ in benign:
            if resource_404 in console:
                console.remove(resource_404)
    assert console == [], f"console errors: {console}"
    assert page_errors.page == [], f"page errors: {page_errors.page}"


def viewport_shot(page, name: str) -> Path:
    """What a projector shows: the viewport only (conftest's screenshot grows the page to its content)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# ---- the keys on the Playground ------------------------------------------------------------------------


def test_keys_play_pause_step_and_help(page, quiet_server, wait_idle, page_errors, shot):
    open_animated(page, lecture_url(quiet_server, 2), wait_idle)
    n = n_frames(page)
    assert n > 50, n
    assert (frame(page), slider_active(page)) == (0, 0)

    # Space plays: the frame grows over a second, and keeps growing
    page.keyboard.press("Space")
    page.wait_for_function(f"{GK}.frameIndex() >= 3", timeout=3000)
    first = frame(page)
    page.wait_for_timeout(600)
    second = frame(page)
    assert second > first, f"the animation does not advance: frame {first}, then {second}"
    shot(page, "playing")
    # Space again pauses: the frame stops, and the slider's active step is the same frame
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    held = frame(page)
    page.wait_for_timeout(700)
    assert frame(page) == held, "the animation goes on after Space paused it"
    assert slider_active(page) == held
    assert 0 < held < n - 1, held

    # the arrows move exactly one frame; End and Home go to the ends, and the ends hold
    press_to_frame(page, "ArrowRight", held + 1)
    press_to_frame(page, "ArrowRight", held + 2)
    press_to_frame(page, "ArrowLeft", held + 1)
    press_to_frame(page, "End", n - 1)
    press_to_frame(page, "ArrowRight", n - 1)
    press_to_frame(page, "Home", 0)
    press_to_frame(page, "ArrowLeft", 0)

    # "?" shows the keys, Escape hides them; the "?" button under the figure shows them as well
    help_panel = page.locator("#gradscape-keys-help")
    page.keyboard.press("?")
    help_panel.wait_for(state="visible", timeout=3000)
    listed = help_panel.inner_text()
    for word in ("Space", "←", "→", "Home", "End", "PgUp", "PgDn", "R", "?", "play / pause", "previous / next scene"):
        assert word in listed, f"{word!r} not in the keys panel: {listed!r}"
    shot(page, "help")
    page.keyboard.press("Escape")
    help_panel.wait_for(state="detached", timeout=3000)
    page.locator(".st-key-pg-ui-keys button[aria-label='Keyboard keys']").filter(visible=True).click()
    help_panel.wait_for(state="visible", timeout=3000)
    page.keyboard.press("?")
    help_panel.wait_for(state="detached", timeout=3000)

    # keys do nothing while the focus is in a text field ...
    press_to_frame(page, "ArrowRight", 1)
    seed = page.locator("[data-testid=stSidebar] [data-testid=stNumberInput]", has_text="Noise seed").locator("input")
    seed.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label') || document.activeElement.type") in (
        "Noise seed",
        "number",
    )
    for key in ("End", "ArrowRight", "Home", "?"):
        page.keyboard.press(key)
    page.wait_for_timeout(500)
    assert (frame(page), slider_active(page)) == (1, 1), "a key moved the animation while typing in a number field"
    assert help_panel.count() == 0, "'?' typed into a number field opened the keys panel"
    # ... and act again once it has left
    page.evaluate("document.activeElement.blur()")
    press_to_frame(page, "End", n - 1)
    assert_no_errors(page, page_errors)


def test_page_down_walks_the_whole_lecture(page, quiet_server, wait_idle, page_errors):
    lecture = get_lecture(LECTURE)
    n = len(lecture)
    assert n >= 3
    open_animated(page, lecture_url(quiet_server, 1), wait_idle)

    def check_scene(k: int) -> None:
        wait_idle(
            page,
            f"(() => {{ const s = ({READ_SCENE})(); return s && s.k === {k} && s.n === {n}; }})() && "
            f"new URL(location.href).searchParams.get('scene') === '{k}' && {FIG_READY}",
        )
        where = page.evaluate(READ_SCENE)
        scene = lecture.scenes[k - 1]
        assert where["name"] == scene.name, (k, where)
        assert lecture.title in where["text"], where
        assert href_scene(page) == str(k)
        # the scene's own settings are loaded: its optimizers are the figure's legend
        page.wait_for_function(chart_has(FIG, legend_is(scene_names(scene))), timeout=10_000)
        assert button(page, "pg.ui.prev_scene").is_disabled() == (k == 1)
        assert button(page, "pg.ui.next_scene").is_disabled() == (k == n)

    check_scene(1)
    for k in range(2, n + 1):
        page.keyboard.press("PageDown")
        check_scene(k)
    # at the last scene Page Down stays there
    page.evaluate(WATCH_RUNS)
    page.keyboard.press("PageDown")
    page.wait_for_timeout(1500)
    wait_idle(page)
    assert href_scene(page) == str(n)
    assert page.evaluate(READ_SCENE)["k"] == n
    # Page Up goes back one
    page.keyboard.press("PageUp")
    check_scene(n - 1)
    assert_no_errors(page, page_errors)


def test_without_a_lecture_page_down_and_r_keep_their_meaning(page, quiet_server, wait_idle, page_errors):
    """On a plain Playground the frame keys work, Page Down leaves the address alone, and R is
    Streamlit's own rerun again (the control for the quiz test: that rerun is seen as rerunRequested)."""
    open_animated(page, quiet_server + "/", wait_idle)
    press_to_frame(page, "ArrowRight", 1)
    before = page.evaluate("location.href")
    assert "scene=" not in before and "lecture=" not in before
    assert page.evaluate(READ_SCENE) is None
    page.evaluate(WATCH_RUNS)
    page.keyboard.press("PageDown")
    page.wait_for_timeout(1000)
    assert page.evaluate("location.href") == before
    assert page.evaluate("window.__states") == [], "Page Down started a script run without a lecture"
    page.keyboard.press("r")
    page.wait_for_function("window.__states.includes('rerunRequested')", timeout=5000)
    wait_idle(page, FIG_READY)
    assert page.evaluate("location.href") == before
    assert_no_errors(page, page_errors)


# ---- predict, then reveal ----------------------------------------------------------------------------


def test_quiz_anon_key_r_reveals_and_plays(page, quiet_server, wait_idle, page_errors, shot):
    names = scene_names(get_lecture(LECTURE).scenes[1])
    assert names == ["SGD", "Momentum", "Adam"]
    page.goto(lecture_url(quiet_server, 2, quiz="anon"))
    reveal = button(page, "pg.ui.reveal")
    wait_idle(page, chart_has(CHART, "c.meta && c.meta.quiz"), timeout=FIRST_LOAD_MS)
    reveal.wait_for(state="visible")
    before = read_chart(page, CHART)
    shot(page, "before")
    trace_names = {t["name"] for t in before["traces"]}
    assert not trace_names & set(names), f"the quiz gives the optimizers away: {sorted(trace_names)}"
    assert before["legend"] == quiz_letters(len(names)) == ["Optimizer A", "Optimizer B", "Optimizer C"]
    assert paths(before) == {}, "a path is drawn before the reveal"
    assert "xaxis2" not in before["layoutKeys"], "the step panels are there before the reveal"
    assert before["sliders"] == 0
    assert page.evaluate(f"{GK}.figure()") is None  # nothing to animate yet

    page.evaluate(WATCH_RUNS)
    page.keyboard.press("r")
    wait_idle(page, chart_has(CHART, legend_is(names)))
    page.wait_for_timeout(1000)
    played = frame(page)
    # one script run, the component's: Streamlit's own "r" (rerun) did not fire as well
    states = page.evaluate("window.__states")
    assert "rerunRequested" not in states, f"Streamlit's own 'r' rerun fired: {states}"
    assert states.count("running") == 1, states
    after = read_chart(page, CHART)
    assert list(paths(after)) == names
    assert all(count > 10 for count in paths(after).values()), paths(after)
    assert "xaxis2" in after["layoutKeys"]
    assert str((after["meta"] or {}).get("autoplay", "")).startswith("reveal-"), after["meta"]
    assert page.locator(".st-key-pg-ui-reveal").count() == 0
    # it played by itself, from the start: a second later it is a few frames in
    assert 0 < played < n_frames(page) // 2, f"frame {played} of {n_frames(page)} a second after the reveal"
    page.wait_for_timeout(1000)  # and no later run hides the paths again
    assert read_chart(page, CHART)["legend"] == names
    assert frame(page) > played
    page.keyboard.press("Space")  # pause (a key on the revealed figure)
    page.wait_for_timeout(300)
    held = frame(page)
    page.wait_for_timeout(500)
    assert frame(page) == held
    shot(page, "revealed")
    assert_no_errors(page, page_errors)


def test_quiz_reveal_button_with_names(page, quiet_server, wait_idle, page_errors):
    names = scene_names(get_lecture(LECTURE).scenes[1])
    page.goto(lecture_url(quiet_server, 2, quiz="1"))
    wait_idle(page, chart_has(CHART, "c.meta && c.meta.quiz"), timeout=FIRST_LOAD_MS)
    before = read_chart(page, CHART)
    assert before["legend"] == names, "quiz=1 shows the optimizers' real names before the reveal"
    named = [t for t in before["traces"] if t["name"] in names]
    assert named and all(t["mode"] == "markers" and t["n"] == 1 for t in named), named
    assert paths(before) == {} and "xaxis2" not in before["layoutKeys"]
    button(page, "pg.ui.reveal").click()
    wait_idle(page, chart_has(CHART, f"c.layoutKeys.includes('xaxis2') && {legend_is(names)}"))
    assert list(paths(read_chart(page, CHART))) == names
    page.wait_for_function(f"{GK}.frameIndex() > 0", timeout=3000)
    assert page.locator(".st-key-pg-ui-reveal").count() == 0
    assert_no_errors(page, page_errors)


# ---- the projector view ------------------------------------------------------------------------------


def test_projector_view(page, quiet_server, wait_idle, page_errors, shot):
    page.set_viewport_size(PROJECTOR)
    open_animated(page, lecture_url(quiet_server, 2, embed="true"), wait_idle)
    wait_idle(page, f"(() => {{ const s = ({READ_SCENE})(); return s && s.k === 2; }})()")
    page.wait_for_timeout(500)  # the sidebar's folding transition
    viewport_shot(page, "test_projector_view_1080p")

    # no sidebar, no toolbar, no page title: the figure and the bar under it
    sidebar = page.locator("[data-testid=stSidebar]")
    assert sidebar.count() == 0 or not sidebar.is_visible(), "the sidebar is open in the projector view"
    box = sidebar.bounding_box() if sidebar.count() else None
    assert box is None or box["width"] == 0 or box["x"] + box["width"] <= 0, box
    for testid in ("stMainMenu", "stToolbarActions", "stAppDeployButton", "stStatusWidget"):
        assert page.locator(f"[data-testid={testid}]").filter(visible=True).count() == 0, testid
    header_buttons = page.locator("[data-testid=stHeader] button").filter(visible=True)
    assert header_buttons.evaluate_all("bs => bs.map(b => b.dataset.testid)") in ([], ["stExpandSidebarButton"])
    assert page.locator("h1", has_text="Playground").count() == 0
    width = page.evaluate(f"{FIG}.getBoundingClientRect().width")
    assert width >= 0.9 * PROJECTOR["width"], f"the figure is {width:.0f} px wide of {PROJECTOR['width']}"

    where = page.evaluate(READ_SCENE)
    assert where["k"] == 2 and where["n"] == len(get_lecture(LECTURE)), where
    fig_bottom = page.evaluate(f"{FIG}.getBoundingClientRect().bottom")
    for key in ("pg-ui-prev_scene", "pg-ui-next_scene", "pg-ui-speed"):
        el = page.locator(f"[data-testid=stMain] .st-key-{key}")
        assert el.count() == 1 and el.is_visible(), f"{key} is not in the bar under the figure"
        assert el.bounding_box()["y"] >= fig_bottom - 1, f"{key} is not under the figure"
    assert page.locator("[data-testid=stMain] .st-key-pg-ui-speed [data-testid=stSlider]").count() == 1

    # the keys work here too: a frame, then Page Down to the next scene, still in the projector view
    press_to_frame(page, "ArrowRight", 1)
    page.keyboard.press("PageDown")
    wait_idle(
        page,
        f"(() => {{ const s = ({READ_SCENE})(); return s && s.k === 3; }})() && "
        f"new URL(location.href).searchParams.get('scene') === '3' && {FIG_READY}",
    )
    assert href_scene(page) == "3"
    assert "embed=true" in page.evaluate("location.href")
    assert page.evaluate(READ_SCENE)["name"] == get_lecture(LECTURE).scenes[2].name
    assert page.evaluate(f"{FIG}.getBoundingClientRect().width") >= 0.9 * PROJECTOR["width"]
    assert sidebar.count() == 0 or not sidebar.is_visible()
    assert_no_errors(page, page_errors)


def test_projector_link_opens_the_same_scene(page, quiet_server, new_page, wait_idle, page_errors, shot):
    scene = get_lecture(LECTURE).scenes[2]
    open_animated(page, lecture_url(quiet_server, 3), wait_idle)
    wait_idle(page, chart_has(FIG, legend_is(scene_names(scene))))
    normal = read_chart(page, FIG)
    popover = page.locator("[data-testid=stSidebar] [data-testid=stPopover]", has_text="Copy projector link")
    popover.locator("button").first.click()
    code = page.locator("[data-testid=stPopoverBody] [data-testid=stCode] code")
    code.wait_for(state="visible")
    link = code.inner_text().strip()
    shot(page, "popover")
    parts = urllib.parse.urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == quiet_server, link
    query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
    assert query.get("embed") == "true", link
    assert query.get("lecture") == LECTURE and query.get("scene") == "3", link
    for k, v in scene.query.items():
        assert query.get(k) == v, f"the projector link lacks the scene's {k}={v}: {link}"

    projector = new_page(page_errors)
    projector.set_viewport_size(PROJECTOR)
    open_animated(projector, link, wait_idle)
    wait_idle(projector, chart_has(FIG, legend_is(scene_names(scene))))
    assert projector.evaluate(READ_SCENE)["name"] == scene.name
    assert projector.locator("[data-testid=stSidebar]").filter(visible=True).count() == 0
    shown = read_chart(projector, FIG)

    def path_points(chart):
        return {
            t["name"]: (t["x"], t["y"])
            for t in chart["traces"]
            if t["name"] in paths(chart) and t["mode"] == "lines" and t["xaxis"] == "x"
        }

    assert path_points(shown) == path_points(normal), "the projector link draws other paths"
    assert_no_errors(projector, page_errors)


# ---- the saddle page's quiz ---------------------------------------------------------------------------


def test_saddle_quiz_hides_paths_and_table_until_reveal(page, quiet_server, wait_idle, page_errors, shot):
    names = [get_optimizer(k).name for k in surface_class("saddle").lesson_optimizers]
    probes = track_404(page)
    page.goto(quiet_server + "/saddle?quiz=1")
    wait_idle(page, f"!!{GK} && " + chart_has(SADDLE_CHART, "true"), timeout=FIRST_LOAD_MS)
    table_title = page.locator("[data-testid=stMain] h3", has_text="Who escapes first")
    reveal = button(page, "sd.reveal")
    before = read_chart(page, SADDLE_CHART)
    per_name = {t["name"]: t["n"] for t in before["traces"] if t["name"] in names and t["mode"] == "lines"}
    assert sorted(per_name) == sorted(names), before["traces"]
    assert all(count <= 1 for count in per_name.values()), f"a path is drawn before the reveal: {per_name}"
    assert table_title.count() == 0 and page.locator("[data-testid=stDataFrame]").count() == 0
    assert reveal.is_visible()

    reveal.click()
    wait_idle(
        page,
        "[...document.querySelectorAll('[data-testid=stMain] h3')].some(h => /Who escapes first/.test(h.innerText))",
    )
    after = read_chart(page, SADDLE_CHART)
    per_name = {t["name"]: t["n"] for t in after["traces"] if t["name"] in names and t["mode"] == "lines"}
    assert sorted(per_name) == sorted(names) and all(count > 10 for count in per_name.values()), per_name
    assert page.locator(".st-key-sd-reveal").count() == 0
    page.wait_for_function(f"{GK}.frameIndex() > 0", timeout=20_000)  # it plays by itself
    # Pause: on this 2-core machine the seven-panel animation keeps the main thread so busy that
    # the table's grid (loaded lazily) only mounts once it stops.
    page.keyboard.press("Space")
    rows = page.locator("[data-testid=stDataFrame] table[role=grid] tbody tr")
    rows.first.wait_for(state="attached", timeout=60_000)
    page.locator("[data-testid=stDataFrame]").scroll_into_view_if_needed()
    cells = page.evaluate(
        "[...document.querySelectorAll('[data-testid=stDataFrame] table[role=grid] tbody tr')]"
        ".map(r => r.querySelector('td') && r.querySelector('td').textContent)"
    )
    assert sorted(cells) == sorted(names), cells
    shot(page, "revealed")
    assert_no_errors(page, page_errors, probes)
