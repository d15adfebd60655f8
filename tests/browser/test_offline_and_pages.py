"""The app offline (every request that is not to the local server is blocked), every page in a real
browser, and a real download from the export panel."""

from __future__ import annotations

import io
import json
from urllib.parse import urlparse

import pytest
from PIL import Image

MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 250)"
PAGES = ["", "gallery", "saddle", "ravine", "step_by_step", "bias_correction", "schedules", "theory"]


def block_the_internet(page) -> list[str]:
    """Abort every request whose host is not the local server; return the list of what was tried."""
    blocked: list[str] = []

    def route(r):
        host = urlparse(r.request.url).hostname
        if host in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def real_errors(page_errors) -> list:
    """Console errors, less one known Streamlit probe: on a sub-page address the frontend first asks
    /<page>/_stcore/host-config (and health) in case the app lives under that path, gets 404, then
    uses the root; it is harmless and not ours."""
    probe = "Failed to load resource: the server responded with a status of 404"
    return [e for e in page_errors.console if probe not in e] + list(page_errors.page)


@pytest.mark.parametrize("path", PAGES, ids=[p or "playground" for p in PAGES])
def test_every_page_works_offline(page, server_url, page_errors, path, shot):
    blocked = block_the_internet(page)
    page.goto(f"{server_url}/{path}")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=60_000)
    if path not in ("theory", "gallery"):
        page.wait_for_function(f"() => !!({MAIN})", timeout=60_000)
        assert page.evaluate(f"() => ({MAIN})._fullData.length") > 0
    page.wait_for_timeout(1500)
    shot(page, "offline")
    assert blocked == [], f"the page tried to reach the internet: {blocked}"
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("[role=dialog]:has-text('Page not found')").count() == 0
    assert real_errors(page_errors) == []


def test_every_format_downloads_from_the_export_panel(page, server_url):
    """The page's export buttons (deferred downloads) in a real browser, offline: each file opens."""
    block_the_internet(page)
    page.goto(f"{server_url}/?surface=saddle&opt=sgd,adam&steps=100")
    page.wait_for_function(f"() => !!({MAIN})", timeout=60_000)
    page.get_by_text("Export: animation, still, data, link, PyTorch code").click()
    files = {}
    for label, ext in (
        ("GIF", "gif"),
        ("MP4", "mp4"),
        ("HTML", "html"),
        ("PNG", "png"),
        ("SVG", "svg"),
        ("CSV", "csv"),
        ("JSON", "json"),
    ):
        with page.expect_download(timeout=90_000) as info:
            page.locator("[data-testid=stDownloadButton] button", has_text=label).first.click()
        assert info.value.suggested_filename.endswith("." + ext)
        files[ext] = open(info.value.path(), "rb").read()
    gif = Image.open(io.BytesIO(files["gif"]))
    assert gif.format == "GIF" and gif.n_frames > 10 and gif.size[0] == 800
    assert files["mp4"][4:8] == b"ftyp" and len(files["mp4"]) > 1000
    html = files["html"].decode()
    assert "Plotly.newPlot" in html and "Plotly.addFrames" in html  # plotly.js inside, with the animation
    assert "cdn.plot.ly" not in html
    png = Image.open(io.BytesIO(files["png"]))
    assert png.format == "PNG" and png.size[0] >= 800
    assert b"<svg" in files["svg"][:2000] and b"<image" in files["svg"]
    rows = files["csv"].decode().strip().splitlines()
    assert rows[0].startswith("optimizer,step,x,y,loss") and len(rows) == 1 + 2 * 101
    assert json.loads(files["json"])
