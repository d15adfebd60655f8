"""Live scrubbing in a real browser: the slider inside the scrub figure moves every path without a
single websocket message to the server, and Apply writes the value on show to the sidebar and the URL."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHART_TIMEOUT_MS

pytestmark = pytest.mark.browser

SCRUB = "[...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta && g.layout.meta.scrub)"


def _state(page) -> dict:
    """The scrub figure's slider position and each optimizer's drawn path end, from plotly's own data."""
    return page.evaluate(
        f"""() => {{
        const g = {SCRUB};
        const ends = {{}};
        for (const t of g._fullData) {{
            if (t.mode === 'lines' && t.showlegend !== false && t.name !== 'contours') {{
                const xs = Array.from(t.x).filter(v => v === v), ys = Array.from(t.y).filter(v => v === v);
                ends[t.name] = [xs.length, xs[xs.length - 1], ys[ys.length - 1]];
            }}
        }}
        return {{active: g._fullLayout.sliders[0].active, n: g.layout.sliders[0].steps.length, ends}};
    }}"""
    )


def test_the_scrub_slider_moves_every_path_in_the_browser_and_apply_writes_it_back(server_url, page, page_errors, shot):
    page.goto(f"{server_url}/?surface=rosenbrock&opt=sgd,momentum,adam")
    page.wait_for_selector(".js-plotly-plot", state="attached", timeout=CHART_TIMEOUT_MS)
    page.get_by_text("Scrub a hyperparameter").click()
    page.wait_for_function(f"() => {SCRUB} && {SCRUB}._fullLayout.sliders", timeout=CHART_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    before = _state(page)
    assert before["n"] >= 25
    assert set(before["ends"]) == {"SGD", "Momentum", "Adam"}

    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.evaluate(f"() => {SCRUB}.scrollIntoView()")
    rail = page.locator(".slider-rail-rect").last.bounding_box()
    y = rail["y"] + rail["height"] / 2
    page.mouse.move(rail["x"] + rail["width"] * 0.05, y)
    page.mouse.down()
    seen = set()
    for f in (0.15, 0.3, 0.45, 0.6, 0.75):
        page.mouse.move(rail["x"] + rail["width"] * f, y, steps=4)
        page.wait_for_timeout(150)
        seen.add(_state(page)["active"])
    page.mouse.up()
    page.wait_for_timeout(500)
    after = _state(page)
    assert len(seen) >= 4, seen  # the paths followed the drag, value after value
    assert after["active"] != before["active"]
    assert after["ends"]["Adam"] != before["ends"]["Adam"]  # the drawn path changed
    assert sent == [], f"{len(sent)} websocket messages went to the server while the slider moved"
    shot(page, "dragged")

    value = page.evaluate(f"() => {SCRUB}.layout.meta.scrub.values[{after['active']}]")
    page.get_by_role("button", name="Apply the value shown").click()
    page.wait_for_function(
        "v => new URLSearchParams(location.search).get('adam.lr') === String(v)", arg=value, timeout=30_000
    )
    query = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
    assert float(query["sgd.lr"]) == float(query["momentum.lr"]) == value
    page_errors.assert_none()
