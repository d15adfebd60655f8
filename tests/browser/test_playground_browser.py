"""The Playground in a real browser (Debian chromium through Playwright): what the DOM shows.

Run with `python -m pytest tests/browser -q -s`; screenshots go to test-artifacts/browser/.
The slider test prints `BROWSER_UPDATE_MS=<ms>`: key press to updated chart, measured in the page.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest

from optimizers import get_optimizer
from surfaces import surface_class

REPO = Path(__file__).resolve().parents[2]
CHART_TIMEOUT_MS = 60_000
MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"

# One JS function that reads the main plot: legend names, paths (lines with a legend entry on the
# surface axes), head markers, contour trace, background image.
READ_PLOT = f"""() => {{
  const gd = {MAIN};
  if (!gd || !gd._fullData) return null;
  const fd = gd._fullData;
  const onSurface = t => (t.xaxis || 'x') === 'x';
  const paths = fd.filter(t => onSurface(t) && t.mode === 'lines' && t.showlegend);
  const heads = fd.filter(t => onSurface(t) && t.mode === 'markers' && t.legendgroup && !t.showlegend);
  const contours = fd.find(t => t.name === 'contours');
  let contourD = 0;
  if (contours) {{
    for (const el of gd.querySelectorAll('.trace' + contours.uid + ' path.js-line'))
      contourD += (el.getAttribute('d') || '').length;
  }}
  const img = gd.querySelector('.layer-below image, image');
  return {{
    legend: [...gd.querySelectorAll('.legendtext')].map(e => e.textContent),
    nTraces: gd.querySelectorAll('.scatterlayer .trace').length,
    nImages: gd.querySelectorAll('image').length,
    imageHref: img ? (img.getAttribute('href') || img.getAttribute('xlink:href') || '').slice(0, 22) : null,
    contourD,
    fontSize: gd._fullLayout.font.size,
    paths: paths.map(t => ({{name: t.name, x: Array.from(t.x), y: Array.from(t.y)}})),
    heads: heads.map(t => [t.name, t.x[0], t.y[0]]),
  }};
}}"""


# ---- helpers ---------------------------------------------------------------------------------


def wait_for_main_chart(page, timeout: int = CHART_TIMEOUT_MS) -> None:
    """Until some .js-plotly-plot is taller than 500 px (the first may be a hidden small chart)."""
    page.wait_for_function(
        f"() => {{ const gd = {MAIN}; return !!(gd && gd._fullData && gd._fullData.length); }}", timeout=timeout
    )


def open_app(page, url: str) -> dict:
    page.goto(url)
    wait_for_main_chart(page)
    return read_plot(page)


def read_plot(page, timeout: int = 10_000) -> dict:
    """READ_PLOT's result, waiting out a moment when Streamlit is re-mounting the chart."""
    return page.wait_for_function(f"() => ({READ_PLOT})()", timeout=timeout, polling=20).json_value()


def wait_plot(page, predicate_js: str, timeout: int = 30_000):
    """Wait until `predicate_js` (a JS expression over `p`, the READ_PLOT result) is true."""
    return page.wait_for_function(
        f"() => {{ const p = ({READ_PLOT})(); return !!p && ({predicate_js}) && p; }}", timeout=timeout, polling=50
    ).json_value()


def declared_pages() -> list[str]:
    """The titles app.py hands to st.navigation, in order: app.py is run with st.Page and
    st.navigation replaced by recorders (wherever the page list is built, app.py or a shell)."""
    import runpy
    from unittest import mock

    import streamlit as st

    captured = []

    class RecordedPage:
        def __init__(self, page, *, title=None, icon=None, url_path=None, default=False, **_):
            self.title = title or Path(str(page)).stem.replace("_", " ")

        def run(self):
            return None

    def navigation(pages, **_):
        groups = pages.values() if isinstance(pages, dict) else [pages]
        captured.extend(p.title for group in groups for p in group)
        return RecordedPage("recorded")

    with (
        mock.patch.object(st, "Page", RecordedPage),
        mock.patch.object(st, "navigation", navigation),
        mock.patch.object(st, "set_page_config", lambda *a, **k: None),
    ):
        runpy.run_path(str(REPO / "app.py"), run_name="__main__")
    return captured


def js_list(values) -> str:
    """A JS string literal equal to JSON.stringify(values)."""
    return json.dumps(json.dumps(values, separators=(",", ":")))


def nav_items(page) -> list[str]:
    """The page titles the sidebar (or top) navigation lists, after expanding a "View more"."""
    more = page.locator("[data-testid=stSidebarNavViewButton]")
    if more.count() and "more" in more.first.inner_text().lower():
        more.first.click()
        page.wait_for_timeout(300)
    return page.evaluate("""() => [...document.querySelectorAll(
        'a[data-testid=stSidebarNavLink], a[data-testid=stTopNavLink]')]
        .map(a => { const l = a.querySelector('span[label]');
                    return l ? l.getAttribute('label') : a.innerText.trim(); })""")


def names(keys) -> list[str]:
    return [get_optimizer(k).name for k in keys]


def exceptions(page) -> list[str]:
    return page.locator("[data-testid=stException]").all_inner_texts()


def surface_select_value(page) -> str:
    return page.locator("[data-testid=stSelectbox]", has_text="Surface").locator("input").first.input_value()


def head_positions(page) -> list:
    return read_plot(page)["heads"]


# ---- page load and navigation ----------------------------------------------------------------


def test_default_page_shows_chart(page, server_url, page_errors):
    plot = open_app(page, server_url + "/")
    lesson = names(surface_class("ravine").lesson_optimizers)
    assert lesson == ["SGD", "Momentum", "Adam"]
    assert plot["nTraces"] >= len(lesson), plot["nTraces"]
    assert plot["legend"] == lesson
    assert [p["name"] for p in plot["paths"]] == lesson
    assert all(len(p["x"]) > 10 for p in plot["paths"])
    assert plot["nImages"] >= 1 and plot["imageHref"].startswith("data:image/png")
    assert plot["contourD"] > 1000, "contour lines are not drawn"
    assert page.locator("h1", has_text="Playground").count() == 1
    assert exceptions(page) == []
    page_errors.assert_none()


def test_fresh_server_first_load_navigation(fresh_server, new_page, shot):
    """A new server process's first script run: the declared navigation, not pages/ auto-discovery."""
    declared = declared_pages()
    assert "Playground" in declared
    with fresh_server("server_first_load") as base:
        page = new_page()
        plot = open_app(page, base + "/")
        shot(page)
        assert page.locator("h1").first.inner_text().strip() == "Playground"
        items = nav_items(page)
        # st.navigation hides the menu when it holds a single page; otherwise it lists exactly the declared pages.
        if len(declared) == 1:
            assert items in ([], declared), f"sidebar lists {items}, app.py declares {declared}"
        else:
            assert items == declared, f"sidebar lists {items}, app.py declares {declared}"
        assert plot["legend"] == names(surface_class("ravine").lesson_optimizers)
        assert exceptions(page) == []


def test_fresh_server_deep_link(fresh_server, new_page, shot):
    with fresh_server("server_deep_link") as base:
        page = new_page()
        plot = open_app(page, base + "/?surface=saddle")  # the Playground is the default page: its address is /
        page.wait_for_timeout(1500)  # a "Page not found" dialog would come with the first run's page info
        assert page.locator(PAGE_NOT_FOUND).count() == 0, page.locator("[role=dialog]").all_inner_texts()
        shot(page)
        assert page.locator("h1").first.inner_text().strip() == "Playground"
        assert surface_select_value(page) == surface_class("saddle").name
        assert plot["legend"] == names(surface_class("saddle").lesson_optimizers)
        (x0, x1), (y0, y1) = surface_class("saddle").bounds
        xs = [x for p in plot["paths"] for x in p["x"][:1]]
        assert all(x0 <= x <= x1 for x in xs)
        assert "surface=saddle" in page.url
        items = nav_items(page)
        declared = declared_pages()
        if len(declared) == 1:
            assert items in ([], declared), f"sidebar lists {items}, app.py declares {declared}"
        else:
            assert items == declared, f"sidebar lists {items}, app.py declares {declared}"
        assert exceptions(page) == []


PAGE_NOT_FOUND = "[role=dialog]:has-text('Page not found')"


def test_deep_link_to_playground_shows_no_page_not_found(page, server_url):
    """The Playground is st.navigation's default page, so its address is '/' (the sidebar links there);
    a link with a configuration opens without Streamlit's 'Page not found' dialog."""
    open_app(page, server_url + "/?surface=saddle")
    page.wait_for_timeout(1500)  # the dialog comes with the first script run's page info
    assert page.locator(PAGE_NOT_FOUND).count() == 0, page.locator("[role=dialog]").all_inner_texts()


# ---- animation -------------------------------------------------------------------------------


def test_play_moves_heads_and_pause_stops_them(page, server_url, page_errors, shot):
    plot = open_app(page, server_url + "/")
    before = plot["heads"]
    assert len(before) == 3
    page.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_timeout(1500)
    mid = read_plot(page)
    shot(page, "mid_animation")
    assert mid["heads"] != before, "the head markers did not move after Play"
    assert mid["nImages"] >= 1 and mid["imageHref"].startswith("data:image/png"), "the background vanished"
    assert mid["contourD"] > 1000, "the contour lines vanished while animating"
    assert [p["name"] for p in mid["paths"]] == [p["name"] for p in plot["paths"]]
    assert mid["nTraces"] == plot["nTraces"]
    assert page_errors.page == [] and page_errors.console == []
    page.locator(".updatemenu-button", has_text="Pause").click()
    page.wait_for_timeout(300)
    paused = head_positions(page)
    page.wait_for_timeout(800)
    assert head_positions(page) == paused, "the heads still move after Pause"
    assert paused != before
    assert exceptions(page) == []
    # plotly.js: Pause interrupts Play's Plotly.animate, whose promise the updatemenu never catches,
    # so the page logs an unhandled rejection with no reason ("undefined"). Harmless; reported.
    page_errors.page = [e for e in page_errors.page if e != "undefined"]
    page_errors.assert_none()


# ---- widgets ---------------------------------------------------------------------------------


def test_slider_change_updates_chart(page, server_url, page_errors, shot):
    plot = open_app(page, server_url + "/")
    adam_before = next(p for p in plot["paths"] if p["name"] == "Adam")
    sgd_before = next(p for p in plot["paths"] if p["name"] == "SGD")
    expander = page.locator("[data-testid=stExpander]", has_text="Adam settings")
    expander.locator("summary").click()
    slider = expander.locator("[data-testid=stSlider]").first
    thumb = slider.locator("input[type=range]")
    thumb.wait_for(state="attached")
    value_before = slider.locator("[data-testid=stSliderThumbValue]").inner_text()
    thumb.focus()
    # The "before" signature is taken in the page, so both sides of the comparison are JSON.stringify's.
    page.evaluate(f"""() => {{
        const a = ({READ_PLOT})().paths.find(t => t.name === 'Adam');
        window.__adamBefore = JSON.stringify([a.x, a.y]);
        window.__keyAt = null;
        document.addEventListener('keydown', () => {{ window.__keyAt = performance.now(); }},
                                  {{capture: true, once: true}});
    }}""")
    t0 = time.perf_counter()
    page.keyboard.press("ArrowLeft")
    handle = page.wait_for_function(
        f"""() => {{
            if (window.__keyAt === null) return false;
            const p = ({READ_PLOT})();
            const a = p && p.paths.find(t => t.name === 'Adam');
            if (!a || JSON.stringify([a.x, a.y]) === window.__adamBefore) return false;
            return performance.now() - window.__keyAt;
        }}""",
        polling=20,
        timeout=30_000,
    )
    browser_ms = handle.json_value()
    wall_ms = (time.perf_counter() - t0) * 1000
    print(f"\nBROWSER_UPDATE_MS={browser_ms:.0f}  (test-side wall time {wall_ms:.0f} ms)")
    value_after = slider.locator("[data-testid=stSliderThumbValue]").inner_text()
    assert value_after != value_before, (value_before, value_after)
    page.wait_for_timeout(300)
    after = read_plot(page)
    shot(page, "after_slider")
    adam_after = next(p for p in after["paths"] if p["name"] == "Adam")
    sgd_after = next(p for p in after["paths"] if p["name"] == "SGD")
    assert (adam_after["x"], adam_after["y"]) != (adam_before["x"], adam_before["y"])
    assert (sgd_after["x"], sgd_after["y"]) == (sgd_before["x"], sgd_before["y"]), "SGD changed with Adam's lr"
    assert adam_after["x"][0] == adam_before["x"][0] and adam_after["y"][0] == adam_before["y"][0]
    assert after["legend"] == plot["legend"]
    assert after["nImages"] >= 1 and after["contourD"] > 1000
    assert browser_ms < 5000, f"chart took {browser_ms:.0f} ms to update (target 1000 ms)"
    assert "adam.lr=" in page.url
    assert exceptions(page) == []
    page_errors.assert_none()


def click_point(page, x: float, y: float) -> None:
    """Click the main plot at data coordinates (x, y) of the surface axes."""
    px, py = page.evaluate(
        f"""([x, y]) => {{
        const gd = {MAIN}; const r = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)];
    }}""",
        [x, y],
    )
    page.mouse.move(px, py)
    page.wait_for_timeout(150)
    page.mouse.click(px, py)


START_NEAR = """([tx, ty, tol]) => {
    const x = parseFloat(document.querySelector("input[aria-label='start x']").value);
    const y = parseFloat(document.querySelector("input[aria-label='start y']").value);
    return Math.abs(x - tx) <= tol && Math.abs(y - ty) <= tol;
}"""


def pixel(page) -> float:
    """One screen pixel in the surface's data units (the axes share one scale: scaleanchor)."""
    return page.evaluate(f"() => {{ const xa = ({MAIN})._fullLayout.xaxis; return Math.abs(xa.p2d(1) - xa.p2d(0)); }}")


def start_inputs(page) -> tuple[float, float]:
    sx = page.locator("[data-testid=stNumberInput] input[aria-label='start x']")
    sy = page.locator("[data-testid=stNumberInput] input[aria-label='start y']")
    return float(sx.input_value()), float(sy.input_value())


def test_click_on_surface_sets_start(page, server_url, page_errors, shot):
    """The live figure turns a click on the plot area into data coordinates (ui/live_figure.js): the
    start is the point clicked, to a pixel and the inputs' 3 decimals, not a grid point near it."""
    plot = open_app(page, server_url + "/")
    (x0, x1), (y0, y1) = surface_class("ravine").bounds
    target = (x0 + 0.83 * (x1 - x0), y0 + 0.17 * (y1 - y0))  # lower right, far from the default paths
    for p in plot["paths"]:
        assert min(abs(x - target[0]) + abs(y - target[1]) for x, y in zip(p["x"], p["y"])) > 1.0
    tol = pixel(page) + 1e-3
    click_point(page, *target)
    # Either the start inputs move to the clicked point, or the page shows an exception.
    page.wait_for_function(
        f"(a) => ({START_NEAR})(a) || !!document.querySelector('[data-testid=stException]')",
        arg=[target[0], target[1], tol],
        timeout=20_000,
    )
    page.wait_for_timeout(300)
    shot(page, "after_click")
    assert exceptions(page) == []
    start = start_inputs(page)
    assert start == pytest.approx(target, abs=tol)
    after = wait_plot(
        page,
        f"p.paths.length === {len(plot['paths'])} && p.paths.every(t => "
        f"Math.abs(t.x[0] - {start[0]}) < 1e-6 && Math.abs(t.y[0] - {start[1]}) < 1e-6)",
    )
    assert after["legend"] == plot["legend"]
    for name, hx, hy in after["heads"]:
        assert (hx, hy) == pytest.approx(start), name
    assert "start=" in page.url
    page_errors.assert_none()


def test_click_sets_start_after_the_animation_played_and_a_drag_does_not(page, server_url, page_errors):
    """Regression (st.plotly_chart days): after Play, a click-select threw in plotly.js and the start
    stopped following clicks. And a drag pans the view: it must not move the start."""
    open_app(page, server_url + "/")
    page.locator(".updatemenu-button", has_text="Play").click()
    page.wait_for_timeout(1000)
    page.locator(".updatemenu-button", has_text="Pause").click()
    page.wait_for_timeout(300)
    page_errors.page = [e for e in page_errors.page if e != "undefined"]  # the Pause rejection, see above
    before = start_inputs(page)
    (x0, x1), (y0, y1) = surface_class("ravine").bounds
    px, py = page.evaluate(
        f"""() => {{ const gd = {MAIN}; const r = gd.getBoundingClientRect();
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        return [r.left + xa._offset + 0.8 * xa._length, r.top + ya._offset + 0.8 * ya._length]; }}"""
    )
    page.mouse.move(px, py)
    page.mouse.down()
    page.mouse.move(px - 60, py - 40, steps=6)
    page.mouse.up()
    page.wait_for_timeout(1500)
    assert start_inputs(page) == before, "a drag moved the start"
    target = (x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0))
    tol = pixel(page) + 1e-3
    click_point(page, *target)
    page.wait_for_function(f"(a) => ({START_NEAR})(a)", arg=[target[0], target[1], tol], timeout=20_000)
    assert page_errors.page == [], page_errors.page


# ---- URL state -------------------------------------------------------------------------------


def test_copied_url_restores_configuration(page, server_url, new_page, page_errors, shot):
    open_app(page, server_url + "/")
    page.locator("[data-testid=stSelectbox]", has_text="Surface").locator("input").first.click()
    page.locator("[role=option]", has_text="Rosenbrock").first.click()
    lesson = names(surface_class("rosenbrock").lesson_optimizers)
    wait_plot(page, f"JSON.stringify(p.legend) === {js_list(lesson)}")
    page.locator("[data-testid=stMultiSelect] button[aria-label='Remove Momentum']").filter(visible=True).click()
    expected = [n for n in lesson if n != "Momentum"]
    plot = wait_plot(page, f"JSON.stringify(p.legend) === {js_list(expected)}")
    page.wait_for_function("() => location.search.includes('opt=') && location.search.includes('surface=rosenbrock')")
    url = page.url
    surface_text = surface_select_value(page)
    assert surface_text == "Rosenbrock"

    fresh = new_page(page_errors)  # a new browser context: a new Streamlit session
    try:
        restored = open_app(fresh, url)
        restored = wait_plot(fresh, f"p.paths.length === {len(expected)}")
        shot(fresh, "restored")
        assert restored["legend"] == plot["legend"] == expected
        assert surface_select_value(fresh) == surface_text
        assert [(p["x"][0], p["y"][0]) for p in restored["paths"]] == [(p["x"][0], p["y"][0]) for p in plot["paths"]]
        assert [(p["x"][-1], p["y"][-1]) for p in restored["paths"]] == [
            (p["x"][-1], p["y"][-1]) for p in plot["paths"]
        ]
        assert exceptions(fresh) == []
    finally:
        fresh.context.close()
    page_errors.assert_none()


def test_bad_url_parameters_warn(page, server_url, page_errors):
    dialogs = []

    def on_dialog(d):
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    query = "surface=nope&adam.lr=abc&x=" + urllib.parse.quote("<script>alert(1)</script>")
    open_app(page, server_url + "/?" + query)
    alerts = page.locator("[data-testid=stAlert]")
    alerts.first.wait_for()
    texts = alerts.all_inner_texts()
    joined = "\n".join(texts)
    assert "surface" in joined and "nope" in joined, texts
    assert "adam.lr" in joined and "abc" in joined, texts
    assert "'x'" in joined, texts
    assert page.locator("[data-testid=stAlert] script").count() == 0
    assert exceptions(page) == []
    page.wait_for_timeout(500)
    assert dialogs == [], f"a dialog fired: {dialogs}"
    assert surface_select_value(page) == surface_class("ravine").name
    page_errors.assert_none()


def test_bad_url_value_is_shown_as_text(page, server_url, page_errors, shot):
    """Values a warning quotes back appear as typed: not as HTML, not as Markdown or LaTeX."""
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    query = urllib.parse.urlencode(
        {
            "steps": "<script>alert(1)</script>",
            "noise": "<b>x</b>",
            "surface": "[click](javascript:alert(2)) **bold** $x^2$",
        }
    )
    open_app(page, server_url + "/?" + query)
    alerts = page.locator("[data-testid=stAlert]")
    alerts.first.wait_for()
    texts = alerts.all_inner_texts()
    shot(page, "warnings")
    assert any("<script>alert(1)</script>" in t for t in texts), texts
    assert any("<b>x</b>" in t for t in texts), texts
    assert any("[click](javascript:alert(2)) **bold** $x^2$" in t for t in texts), texts
    assert page.locator("[data-testid=stAlert] :is(script, b, strong, a, .katex)").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
    assert exceptions(page) == []
    page_errors.assert_none()


# ---- display ---------------------------------------------------------------------------------


def test_presenter_mode_enlarges_figure_font(page, server_url, page_errors, shot):
    plot = open_app(page, server_url + "/")
    size = plot["fontSize"]
    page.locator("[data-testid=stCheckbox]", has_text="Presenter mode").locator("label").first.click()
    after = wait_plot(page, f"p.fontSize > {size}")
    page.wait_for_function("() => location.search.includes('presenter=1')")
    page.wait_for_timeout(500)
    shot(page, "presenter")
    assert after["fontSize"] >= size * 1.3, (size, after["fontSize"])
    assert after["legend"] == plot["legend"]
    assert exceptions(page) == []
    page_errors.assert_none()


# The font size the title's text is drawn at (its text node's parent, not just the h1).
TEXT_PX = """(sel) => { const w = document.createTreeWalker(document.querySelector(sel), NodeFilter.SHOW_TEXT);
    let n; while ((n = w.nextNode()) && !n.textContent.trim()) {}
    return parseFloat(getComputedStyle(n.parentElement).fontSize); }"""


def test_presenter_mode_keeps_title_large(page, server_url, page_errors):
    open_app(page, server_url + "/")
    before = page.evaluate(TEXT_PX, "h1")
    page.locator("[data-testid=stCheckbox]", has_text="Presenter mode").locator("label").first.click()
    wait_plot(page, "p.fontSize > 13")
    page.wait_for_timeout(300)
    after = page.evaluate(TEXT_PX, "h1")
    assert after >= before, f"the page title shrank in presenter mode: {before} px -> {after} px"
    body = page.evaluate(TEXT_PX, "[data-testid=stCaptionContainer]")
    assert after > 1.5 * body, (after, body)


LAYOUT_BOXES = f"""() => {{
  const gd = {MAIN}; const g = gd.getBoundingClientRect();
  const box = e => {{ const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }};
  return {{
    figure: [g.left, g.top, g.right, g.bottom],
    titles: [...gd.querySelectorAll('.annotation')].map(a => [a.textContent, ...box(a.querySelector('text') || a)]),
    ticks: [...gd.querySelectorAll('.slider-tick-rect')].map(box).filter(b => b[3] - b[1] > 0.5 && b[2] - b[0] > 0.5),
  }};
}}"""


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="normal"),
        pytest.param("presenter=1", id="presenter"),
    ],
)
def test_step_panel_titles_inside_figure_and_clear_of_slider(page, server_url, query, shot):
    open_app(page, server_url + "/?" + query)
    page.wait_for_timeout(300)
    boxes = page.evaluate(LAYOUT_BOXES)
    fig = boxes["figure"]
    problems = []
    for text, *b in boxes["titles"]:
        if b[0] < fig[0] - 1 or b[2] > fig[2] + 1:
            problems.append(
                f"{text!r} runs past the figure ({b[0]:.0f}..{b[2]:.0f} px, figure {fig[0]:.0f}..{fig[2]:.0f})"
            )
        hits = [t for t in boxes["ticks"] if _overlaps(b, t)]
        if hits:
            problems.append(f"{text!r} is crossed by {len(hits)} slider tick marks")
    assert not problems, problems


def test_gradient_panel_keeps_a_readable_range(page, server_url):
    open_app(page, server_url + "/?surface=rosenbrock")
    decades = page.evaluate(f"() => {{ const r = ({MAIN})._fullLayout.yaxis3.range; return r[1] - r[0]; }}")
    loss_decades = page.evaluate(f"() => {{ const r = ({MAIN})._fullLayout.yaxis2.range; return r[1] - r[0]; }}")
    assert decades < 40, f"the gradient panel spans {decades:.0f} decades (loss panel: {loss_decades:.0f})"
