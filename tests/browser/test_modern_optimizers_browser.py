"""The modern optimizers (L-BFGS, Muon, Schedule-Free, Prodigy, Sophia, Adan, AdEMAMix, full-matrix
AdaGrad, Shampoo) in a real browser (Debian chromium through Playwright): what the DOM shows.

1. The scene "L-BFGS on Rosenbrock", opened by the link the Scenes page gives it, draws the paths of
   L-BFGS, Adam and Newton in the Playground figure, L-BFGS reaching the minimum, with no error box.
2. The step-by-step page, driven through its sidebar widgets: L-BFGS with the strong-Wolfe line search
   on Rosenbrock, at an update whose line search tried several points, draws one marker per trial
   point (in view) and says so in its sentences; Schedule-Free AdamW draws its gradient point y.
3. The Playground with every new optimizer at once (opt=...) names each one in a readable legend.

What the browser shows is checked against the engine, run here with the page's settings.
Screenshots go to test-artifacts/browser/<test name>[_suffix].png.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest

from optimizers import get_optimizer
from surfaces import surface_class

REPO = Path(__file__).resolve().parents[2]
CHART_TIMEOUT_MS = 90_000  # the first script run of a server imports torch; the machine may be busy
RERUN_TIMEOUT_MS = 60_000
MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"
STEP_FIG = ".st-key-st-fig .js-plotly-plot"  # the step-by-step page's st.plotly_chart(key="st.fig")
SCENE = "L-BFGS on Rosenbrock"
PROBE_404 = "Failed to load resource: the server responded with a status of 404"
NEW_KEYS = (
    "lbfgs",
    "muon",
    "schedulefree_sgd",
    "schedulefree_adamw",
    "prodigy",
    "sophia",
    "adan",
    "ademamix",
    "full_adagrad",
    "shampoo",
)

# One chart as JSON: every trace (name, mode, axis, legend flag, points), the axis ranges of the first
# subplot, the legend's texts with their boxes on the page, and the figure's own box.
READ_CHART = """(gd) => {
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    traces: gd._fullData.map(t => ({name: t.name ?? null, mode: t.mode ?? null, xaxis: t.xaxis || 'x',
      showlegend: !!t.showlegend, x: t.x ? Array.from(t.x) : [], y: t.y ? Array.from(t.y) : []})),
    xrange: gd._fullLayout.xaxis.range.slice(), yrange: gd._fullLayout.yaxis.range.slice(),
    legend: [...gd.querySelectorAll('.legendtext')].map(e => [e.textContent, ...box(e)]),
    figure: box(gd),
  };
}"""


# ---- helpers ---------------------------------------------------------------------------------------


def wait_idle(page, predicate_js: str = "true", timeout: int = RERUN_TIMEOUT_MS) -> None:
    """Until Streamlit's script run is over, nothing on the page is stale, and `predicate_js` holds
    (a predicate true only of the new run's output, so the old page cannot pass for it)."""
    page.wait_for_function(
        f"""() => {{
        const app = document.querySelector('[data-test-script-state]');
        if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
        if (document.querySelector('[data-stale=true]')) return false;
        return !!({predicate_js});
    }}""",
        timeout=timeout,
        polling=100,
    )


def main_text_has(text: str) -> str:
    return f"document.querySelector('[data-testid=stMain]').innerText.includes({json.dumps(text)})"


def chart_ready(selector_js: str) -> str:
    return f"(() => {{ const gd = {selector_js}; return !!(gd && gd._fullData && gd._fullData.length); }})()"


def read_chart(page, selector_js: str) -> dict:
    data = page.evaluate(f"() => ({READ_CHART})({selector_js})")
    assert data is not None, f"no drawn chart at {selector_js}"
    return data


def main_chart(page) -> dict:
    return read_chart(page, MAIN)


def step_chart(page) -> dict:
    return read_chart(page, f"document.querySelector({STEP_FIG!r})")


def paths(chart: dict) -> list[dict]:
    """The Playground's paths: lines with a legend entry on the surface axes."""
    return [t for t in chart["traces"] if t["xaxis"] == "x" and t["mode"] == "lines" and t["showlegend"]]


def assert_no_error_box(page) -> None:
    """No st.exception, no st.error, no other alert in the main area (a URL warning) and no traceback text."""
    exceptions = page.locator("[data-testid=stException]")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    errors = page.locator("[data-testid=stAlertContentError]")
    assert errors.count() == 0, errors.all_inner_texts()
    alerts = page.locator("[data-testid=stMain] [data-testid=stAlert]")
    assert alerts.count() == 0, alerts.all_inner_texts()
    text = page.locator("[data-testid=stApp]").inner_text()
    assert "Traceback" not in text, text[:2000]


def assert_no_page_errors(page_errors) -> None:
    """No console or page error, less one known Streamlit probe: on a sub-page address (/gallery,
    /step_by_step) the frontend first asks /<page>/_stcore/host-config and health, gets 404, then uses
    the root (see test_offline_and_pages.real_errors)."""
    console = [e for e in page_errors.console if PROBE_404 not in e]
    assert console == [], f"console errors: {console}"
    assert page_errors.page == [], f"page errors: {page_errors.page}"


def choose(page, scope, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` inside `scope`: open it, type to filter, Enter."""
    from playwright.sync_api import expect  # here: without playwright the fixtures skip the tests

    box = scope.locator("[data-testid=stSelectbox]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )
    assert box.count() == 1, f"no single selectbox labelled {label!r}"
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    field = box.locator("input").first
    listed = page.get_by_role("option", name=option, exact=True).first
    for _ in range(3):  # under load the first click can land before the box is ready: open it again
        field.click()
        try:
            listed.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    page.keyboard.type(option)
    # The filtered list's first option is focused: Enter picks it. (A click can miss: the list is
    # re-placed when the box sits low in the sidebar.)
    listed.wait_for()
    page.keyboard.press("Enter")
    expect(field).to_have_value(option, timeout=RERUN_TIMEOUT_MS)


def open_sidebar_expander(page, title: str):
    expander = page.locator("[data-testid=stSidebar] [data-testid=stExpander]", has_text=title).first
    details = expander.locator("details")
    if details.count() and details.first.get_attribute("open") is None:
        expander.locator("summary").first.click()
    return expander


def in_range(value: float, bounds: list) -> bool:
    lo, hi = min(bounds), max(bounds)
    return lo <= value <= hi


def assert_legend_readable(chart: dict, expected: list[str]) -> None:
    """Every expected name is a legend text drawn inside the figure, and no two legend texts overlap."""
    legend = chart["legend"]
    texts = [entry[0] for entry in legend]
    assert sorted(texts) == sorted(expected), texts
    fl, ft, fr, fb = chart["figure"]
    for text, left, top, right, bottom in legend:
        assert right - left > 5 and bottom - top > 5, f"legend entry {text!r} has no size"
        assert fl - 1 <= left and right <= fr + 1 and ft - 1 <= top and bottom <= fb + 1, (
            f"legend entry {text!r} at {left:.0f}..{right:.0f} × {top:.0f}..{bottom:.0f} is outside the figure "
            f"{fl:.0f}..{fr:.0f} × {ft:.0f}..{fb:.0f}"
        )
    for i, a in enumerate(legend):
        for b in legend[i + 1 :]:
            overlap = a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
            assert not overlap, f"legend entries {a[0]!r} and {b[0]!r} overlap"


def page_hparams(surface_key: str, key: str, **overrides) -> dict:
    """The settings the step-by-step page's widgets start with: the spec's defaults, the surface's lesson."""
    return {**get_optimizer(key).defaults(), **surface_class(surface_key).lesson_hparams.get(key, {}), **overrides}


def scene(name: str) -> dict:
    presets = json.loads((REPO / "assets" / "presets.json").read_text(encoding="utf-8"))
    found = [p for p in presets if p["name"] == name]
    assert len(found) == 1, f"no single scene named {name!r} in assets/presets.json"
    return found[0]


# ---- 1. the scene, by its link ---------------------------------------------------------------------


def test_lbfgs_scene_link_draws_lbfgs_adam_and_newton(page, server_url, page_errors, shot):
    preset = scene(SCENE)
    # The Scenes page's link for this scene: the card's "Open in the Playground" button.
    page.goto(server_url + "/gallery")
    page.locator("[data-testid=stMain] h4", has_text=SCENE).wait_for(timeout=CHART_TIMEOUT_MS)
    # The page draws every card first and fills in each scene's measured numbers after: wait for the
    # whole run (thirteen scenes' runs; slow on a loaded machine) so no card is re-drawn under us.
    wait_idle(page, main_text_has(SCENE), timeout=4 * CHART_TIMEOUT_MS)
    # The innermost block holding the scene's title: its card (a `has` locator is relative to the block).
    card = page.locator("[data-testid=stMain] [data-testid=stVerticalBlock]").filter(
        has=page.locator("h4", has_text=SCENE)
    )
    card = card.last
    link = card.locator("a", has_text="Open in the Playground")
    link.first.wait_for(timeout=CHART_TIMEOUT_MS)
    assert link.count() == 1, card.inner_text()
    href = link.get_attribute("href")
    assert href == "./?" + urllib.parse.urlencode(preset["query"]), href

    page.goto(urllib.parse.urljoin(page.url, href))
    page.wait_for_function(chart_ready(MAIN), timeout=CHART_TIMEOUT_MS)
    wait_idle(page, chart_ready(MAIN), timeout=CHART_TIMEOUT_MS)
    chart = main_chart(page)
    shot(page, "scene")

    expected = ["L-BFGS", "Adam", "Newton"]
    assert [get_optimizer(k).name for k in preset["query"]["opt"].split(",")] == expected
    drawn = paths(chart)
    assert [t["name"] for t in drawn] == expected
    assert [e[0] for e in chart["legend"]] == expected
    start = surface_class("rosenbrock").start
    for t in drawn:
        assert len(t["x"]) > 1, f"{t['name']}: no path"
        assert (t["x"][0], t["y"][0]) == pytest.approx(start), f"{t['name']} does not start at the surface's start"
    lbfgs = drawn[0]
    # With the strong-Wolfe line search, L-BFGS follows the valley to the minimum (1, 1) within the 100 steps.
    assert (lbfgs["x"][-1], lbfgs["y"][-1]) == pytest.approx((1.0, 1.0), abs=1e-3), (lbfgs["x"][-1], lbfgs["y"][-1])
    assert "surface=rosenbrock" in page.url and "lbfgs.line_search_fn=strong_wolfe" in page.url, page.url
    line_search = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]", has_text="line search")
    assert line_search.first.locator("input").first.input_value() == "strong_wolfe"
    caption = page.locator("[data-testid=stMain] [data-testid=stCaptionContainer]").all_inner_texts()
    assert any("Rosenbrock" in c for c in caption), caption
    assert_no_error_box(page)
    assert_no_page_errors(page_errors)


# ---- 2. the step-by-step page ----------------------------------------------------------------------


def open_step_by_step(page, server_url: str, surface_key: str, key: str) -> None:
    """The step-by-step page with this surface and optimizer, chosen in its sidebar."""
    page.goto(server_url + "/step_by_step")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=CHART_TIMEOUT_MS)
    wait_idle(page, chart_ready(f"document.querySelector({STEP_FIG!r})"), timeout=CHART_TIMEOUT_MS)
    sidebar = page.locator("[data-testid=stSidebar]")
    cls = surface_class(surface_key)
    choose(page, sidebar, "Surface", cls.name)
    wait_idle(page, main_text_has(f"w: ({cls.start[0]:.5g}, {cls.start[1]:.5g}) →"))  # its start: the new run
    name = get_optimizer(key).name
    choose(page, sidebar, "Optimizer", name)
    wait_idle(page, main_text_has(f"Update 1 of {name},"))


def go_to_update(page, name: str, t: int) -> None:
    """Move the page's update slider to `t` with the keyboard (Home, then → t − 1 times)."""
    thumb = page.locator(".st-key-st-t input[type=range]")
    thumb.focus()
    page.keyboard.press("Home")
    for _ in range(t - 1):
        page.keyboard.press("ArrowRight")
    wait_idle(page, main_text_has(f"Update {t} of {name},"))


def bullets(page) -> list[str]:
    items = page.locator("[data-testid=stMain] [data-testid=stMarkdownContainer] li").all_inner_texts()
    return [" ".join(s.split()) for s in items]


def test_step_by_step_lbfgs_draws_its_line_search_trial_points(page, server_url, page_errors, shot):
    from engine.anatomy import anatomy

    hp = page_hparams("rosenbrock", "lbfgs", line_search_fn="strong_wolfe")
    details = anatomy("rosenbrock", "lbfgs", steps=50, hparams=hp)  # the page's default: 50 updates
    several = [i + 1 for i, d in enumerate(details) if len(d.explanation.markers) >= 2]
    assert several, "the engine's line search never tried several points"
    t = next(i for i in several if i > 1)  # an update past the first one, whose line search tried several points
    d = details[t - 1]

    open_step_by_step(page, server_url, "rosenbrock", "lbfgs")
    before = [tr["name"] or "" for tr in step_chart(page)["traces"]]
    assert not any(n.startswith("trial") for n in before), f"trial markers without a line search: {before}"
    assert not any("line search" in s.lower() and "evaluated" in s for s in bullets(page))
    settings = open_sidebar_expander(page, "L-BFGS settings")
    choose(page, settings, "line search", "strong_wolfe")
    wait_idle(page, main_text_has("Strong Wolfe line search"))
    go_to_update(page, "L-BFGS", t)
    shot(page, f"update_{t}")

    chart = step_chart(page)
    trials = [tr for tr in chart["traces"] if (tr["name"] or "").startswith("trial")]
    assert [tr["name"] for tr in trials] == list(d.explanation.markers), [tr["name"] for tr in chart["traces"]]
    assert len(trials) >= 2
    for tr, (mx, my) in zip(trials, d.explanation.markers.values()):
        assert tr["mode"] == "markers"
        assert (tr["x"][0], tr["y"][0]) == pytest.approx((mx, my), rel=1e-9, abs=1e-12), tr["name"]
        assert in_range(mx, chart["xrange"]) and in_range(my, chart["yrange"]), (
            f"{tr['name']} at ({mx:.4g}, {my:.4g}) is outside the view {chart['xrange']} × {chart['yrange']}"
        )
    said = bullets(page)
    line_search = [s for s in said if "line search" in s.lower()]
    assert line_search, said
    assert any(f"evaluated {len(trials)} trial points" in s for s in line_search), line_search
    engine_sentence = next(s for s in d.sentences if "line search" in s.lower())
    assert " ".join(engine_sentence.split()) in said, (engine_sentence, said)
    assert_no_error_box(page)
    assert_no_page_errors(page_errors)


def test_step_by_step_schedulefree_adamw_draws_its_gradient_point(page, server_url, page_errors, shot):
    from engine.anatomy import anatomy

    key, name = "schedulefree_adamw", get_optimizer("schedulefree_adamw").name
    details = anatomy("rosenbrock", key, steps=50, hparams=page_hparams("rosenbrock", key))
    t = next(i + 1 for i, d in enumerate(details) if i >= 2 and d.probe != d.position)
    d = details[t - 1]

    open_step_by_step(page, server_url, "rosenbrock", key)
    go_to_update(page, name, t)
    shot(page, f"update_{t}")
    chart = step_chart(page)
    names = [tr["name"] for tr in chart["traces"]]
    probe = [tr for tr in chart["traces"] if tr["name"] == "gradient point y"]
    assert len(probe) == 1, names
    assert (probe[0]["x"][0], probe[0]["y"][0]) == pytest.approx(d.probe, rel=1e-9, abs=1e-12)
    assert in_range(d.probe[0], chart["xrange"]) and in_range(d.probe[1], chart["yrange"])
    assert "look-ahead point" not in names, "the probe is named as Nesterov's"
    assert "sequence z" in names, names
    said = bullets(page)
    assert any("gradient is taken at y" in s for s in said), said
    assert_no_error_box(page)
    assert_no_page_errors(page_errors)


# ---- 3. every new optimizer at once ----------------------------------------------------------------


def test_playground_with_every_new_optimizer_names_each_in_the_legend(page, server_url, page_errors, shot):
    expected = [get_optimizer(k).name for k in NEW_KEYS]
    n = len(expected)
    page.goto(server_url + "/?" + urllib.parse.urlencode({"opt": ",".join(NEW_KEYS)}))
    page.wait_for_function(chart_ready(MAIN), timeout=CHART_TIMEOUT_MS)
    wait_idle(
        page,
        f"(() => {{ const gd = {MAIN}; return gd && gd.querySelectorAll('.legendtext').length === {n}; }})()",
        timeout=CHART_TIMEOUT_MS,
    )
    page.wait_for_timeout(500)
    chart = main_chart(page)
    shot(page, "all_new")
    assert [t["name"] for t in paths(chart)] == expected
    assert_legend_readable(chart, expected)
    selected = page.locator("[data-testid=stSidebar] [data-testid=stMultiSelect]").first.inner_text()
    for name in expected:
        assert name in selected, f"{name} is not among the selected optimizers: {selected}"
    start = surface_class("ravine").start
    for t in paths(chart):
        assert len(t["x"]) > 1 and (t["x"][0], t["y"][0]) == pytest.approx(start), t["name"]
    assert_no_error_box(page)
    assert_no_page_errors(page_errors)
