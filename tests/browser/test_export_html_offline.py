"""The standalone HTML export in a real browser with every network request blocked: the figure, its
shaded surface and its animation work from the file alone (Debian chromium through Playwright)."""

from __future__ import annotations

import pytest

from export import render
from export.scene import compute, resolve_scene


def test_html_export_works_offline(browser, tmp_path):
    """Uses the session's browser (tests/browser/conftest.py): one Playwright per test session."""
    cfg, warnings, title = resolve_scene("Saddle: who escapes first")
    data = compute(cfg, title=title, warnings=warnings)
    page_file = tmp_path / "saddle.html"
    page_file.write_text(render.html(data), encoding="utf-8")

    blocked, errors = [], []
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    try:
        page = context.new_page()

        def route(r):
            if r.request.url.startswith(("file://", "data:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        gd = "document.querySelector('.js-plotly-plot')"
        assert page.evaluate(f"{gd}._transitionData._frames.length") == len(data.figure["frames"])
        assert page.evaluate("document.querySelectorAll('.js-plotly-plot image').length") >= 1
        head = next(
            i
            for i, t in enumerate(data.figure["data"])
            if t.get("mode") == "markers" and t.get("legendgroup") == "run0"
        )
        last = data.figure["frames"][-1]["name"]
        page.evaluate(
            f"Plotly.animate({gd}, [{last!r}], {{frame: {{duration: 0, redraw: false}}, "
            "transition: {duration: 0}, mode: 'immediate'})"
        )
        page.wait_for_timeout(300)
        x = page.evaluate(f"{gd}.data[{head}].x[0]")
        assert x == pytest.approx(float(data.runs[0].xy[-1, 0]), rel=1e-5, abs=1e-9)
    finally:
        context.close()
    assert blocked == [] and errors == []
