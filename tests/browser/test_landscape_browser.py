"""The Real network page in a real browser (Debian chromium through Playwright).

The page opens at its defaults (3 optimizers × 300 steps, 41 × 41), then is shrunk through its own
sidebar (steps and grid sent Home: 100 steps, 21 × 21) for the interactive check. The test reads the
chart plotly drew (`gd._fullData` and its SVG) and the table, and looks for page errors. A server of this
module's own runs with GRADSCAPE_BACKGROUND_COMPILE=0 (no background graph builds during tests).
Screenshots go to test-artifacts/browser/<test name>.png.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

TIMEOUT_MS = 120_000  # a fresh server imports torch, then trains and evaluates the defaults
PROBE_404 = "Failed to load resource: the server responded with a status of 404"  # sub-page host-config probe
CHART = ".st-key-ls-chart .js-plotly-plot"

READ_CHART = """(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  const drawn = {};
  for (const t of gd._fullData) {
    let d = 0;
    for (const el of gd.querySelectorAll('.trace' + t.uid + ' path.js-line')) d += (el.getAttribute('d') || '').length;
    drawn[t.index] = d;
  }
  return {
    traces: gd._fullData.map(t => ({type: t.type, name: t.name, mode: t.mode || null, xaxis: t.xaxis,
                                     showlegend: t.showlegend, n: t.x ? t.x.length : 0, drawn: drawn[t.index] || 0})),
    contourLines: gd.querySelectorAll('.contourlayer path.contourline, .contourlayer .contourlevel path').length,
    contourFill: gd.querySelectorAll('.contourlayer .heatmapcoloring image, .contourlayer image,'
                                     + ' .contourlayer path.contourfill, .contourlayer .contourbg path').length,
    legend: [...gd.querySelectorAll('.legendtext')].map(e => e.textContent),
    xtitle: (gd.querySelector('.g-xtitle') || {}).textContent || '',
  };
}"""


def _browser_conftest(config):
    want = Path(__file__).with_name("conftest.py").resolve()
    for plugin in config.pluginmanager.get_plugins():
        f = getattr(plugin, "__file__", None)
        if f and Path(f).resolve() == want:
            return plugin
    raise RuntimeError(f"{want} is not loaded as a conftest")


@pytest.fixture(scope="module")
def server(request):
    conftest = _browser_conftest(request.config)
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GRADSCAPE_BACKGROUND_COMPILE", "0")
            base = stack.enter_context(conftest.streamlit_server("server_landscape"))
        yield base


def wait_idle(page, predicate_js: str = "true") -> None:
    page.wait_for_function(
        f"""() => {{
        const app = document.querySelector('[data-test-script-state]');
        if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
        if (document.querySelector('[data-stale=true]')) return false;
        return !!({predicate_js});
    }}""",
        timeout=TIMEOUT_MS,
        polling=200,
    )


def chart_legend_has(text: str) -> str:
    return (
        f"(() => {{ const gd = document.querySelector({CHART!r}); if (!gd || !gd._fullData) return false; "
        f"return [...gd.querySelectorAll('.legendtext')].some(e => e.textContent === {text!r}); }})()"
    )


def assert_clean(page, page_errors) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, page.locator(
        "[data-testid=stException]"
    ).all_inner_texts()
    assert page.locator("[data-testid=stAlertContentError]").count() == 0
    console = [e for e in page_errors.console if PROBE_404 not in e]
    assert console == [], f"console errors: {console}"
    assert page_errors.page == [], f"page errors: {page_errors.page}"


def sidebar_slider(page, label: str):
    return page.locator("[data-testid=stSidebar] [data-testid=stSlider]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )


def slide_home(page, label: str, lowest: str) -> None:
    slider = sidebar_slider(page, label)
    slider.first.wait_for(timeout=15_000)  # under load the sidebar can be drawn after the script went idle
    assert slider.count() == 1, f"no single sidebar slider labelled {label!r}"
    slider.locator("input[type=range]").focus()
    page.keyboard.press("Home")
    exact = re.compile(rf"^\s*{re.escape(lowest)}\s*$")
    slider.locator("[data-testid=stSliderThumbValue]").filter(has_text=exact).wait_for()
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the sidebar selectbox labelled `label`: open it, type to filter, Enter (a click on
    the option can miss: the list is re-placed when the box sits low in the sidebar)."""
    from playwright.sync_api import expect  # here: without playwright the fixtures skip the tests

    box = page.locator("[data-testid=stSidebar] [data-testid=stSelectbox]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )
    assert box.count() == 1, f"no single sidebar selectbox labelled {label!r}"
    field = box.locator("input").first
    field.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).first.wait_for()
    page.keyboard.press("Enter")
    expect(field).to_have_value(option, timeout=TIMEOUT_MS)


def test_the_page_draws_the_contour_and_one_path_per_optimizer(server, page, page_errors, shot):
    page.goto(f"{server}/landscape")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=TIMEOUT_MS)
    wait_idle(page, chart_legend_has("SGD · θ_A: defines the plane"))
    assert page.locator("[data-testid=stMain] h1").first.inner_text().strip() == "Real network"
    chart = page.evaluate(READ_CHART, CHART)
    assert chart is not None, "no rendered chart"
    types = [t["type"] for t in chart["traces"]]
    assert types.count("contour") == 1
    assert chart["contourLines"] > 0, "the contour drew no lines"
    paths = [t for t in chart["traces"] if t["type"] == "scatter" and t["mode"] == "lines" and t["xaxis"] == "x"]
    assert [t["name"].split(" · ")[0] for t in paths] == ["SGD", "Momentum", "Adam"]
    assert all(t["drawn"] > 100 for t in paths), [(t["name"], t["drawn"]) for t in paths]
    curves = [t for t in chart["traces"] if t["type"] == "scatter" and t["xaxis"] == "x2"]
    assert len(curves) == 6 and all(t["drawn"] > 100 for t in curves)
    assert "SGD · θ_A: defines the plane" in chart["legend"]
    assert any(re.fullmatch(r"Adam · \d+% off the plane", s) for s in chart["legend"]), chart["legend"]
    assert "θ₀: start, shared" in chart["legend"]
    main = page.locator("[data-testid=stMain]").inner_text()
    assert "2,410 weights" in main and "1,348" in main and "449 held out" in main
    assert "its contour values are not the losses it met" in main
    page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first.scroll_into_view_if_needed()
    assert_clean(page, page_errors)
    shot(page, "defaults")


def test_choosing_another_plane_redraws_it(server, page, page_errors, shot):
    page.goto(f"{server}/landscape")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=TIMEOUT_MS)
    wait_idle(page, chart_legend_has("SGD · θ_A: defines the plane"))
    slide_home(page, "Steps", "100")
    slide_home(page, "Grid points a side", "21")
    choose(page, "and θ_B of", "Adam")
    wait_idle(page, chart_legend_has("Adam · θ_B: defines the plane"))
    chart = page.evaluate(READ_CHART, CHART)
    assert any(re.fullmatch(r"Momentum · \d+% off the plane", s) for s in chart["legend"]), chart["legend"]
    contour = next(t for t in chart["traces"] if t["type"] == "contour")
    assert contour["n"] == 21
    assert_clean(page, page_errors)
    shot(page, "adam_plane")


def test_random_directions_draw_a_second_contour(server, page, page_errors, shot):
    page.goto(f"{server}/landscape")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=TIMEOUT_MS)
    wait_idle(page, chart_legend_has("SGD · θ_A: defines the plane"))
    slide_home(page, "Steps", "100")
    slide_home(page, "Grid points a side", "21")
    page.locator("[data-testid=stSidebar] [data-testid=stCheckbox]", has_text="random directions").locator(
        "label"
    ).click()
    second = ".st-key-ls-random_chart .js-plotly-plot"
    wait_idle(page, f"!!document.querySelector({second!r})")
    chart = page.evaluate(READ_CHART, second)
    assert chart is not None and [t["type"] for t in chart["traces"]] == ["contour", "scatter"]
    assert chart["contourLines"] > 0
    assert chart["legend"] == ["SGD's final weights"]
    main = page.locator("[data-testid=stMain]").inner_text()
    assert re.search(r"these two directions hold \d+\.\d% of SGD's move", main), main[-800:]
    page.locator(second).scroll_into_view_if_needed()
    assert_clean(page, page_errors)
    shot(page, "random_directions")
