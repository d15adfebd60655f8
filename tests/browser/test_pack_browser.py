"""The static lecture pack in a real browser, opened from the file system with every request that is not
file:// blocked: the index links every scene, each scene page draws its chart from ./plotly.min.js, Play
advances the animation, PageDown walks to the next scene, and no page logs an error (Debian chromium
through Playwright; screenshots in test-artifacts/browser/)."""

from __future__ import annotations

import zipfile

import pytest

from export import pack
from scene.lectures import get_lecture

LECTURE = "adaptive-learning-rates"
GD = "document.getElementById('figure')"


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pack")
    lecture, _ = pack.resolve_lecture([LECTURE])
    pack.write_pack(lecture, out)
    return out


@pytest.fixture
def offline_page(browser):
    """A page in a fresh context whose every non-file request is aborted; yields (page, blocked, errors)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page: {e}"))
    yield page, blocked, errors
    context.close()


def _scene_links(page) -> list[str]:
    return page.evaluate(
        "[...new Set([...document.querySelectorAll('ol.scenes h2 a')].map(a => a.getAttribute('href')))]"
    )


def test_every_scene_of_the_pack_opens_offline_and_plays(pack_dir, offline_page, shot):
    page, blocked, errors = offline_page
    lecture = get_lecture(LECTURE)
    index = (pack_dir / "index.html").as_uri()
    page.goto(index)
    assert page.locator("h1").inner_text() == lecture.title
    links = _scene_links(page)
    assert len(links) == len(lecture)
    # the thumbnails load (a broken image has naturalWidth 0)
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert page.evaluate("[...document.images].map(i => i.naturalWidth)") == [pack.THUMB_SIZE[0]] * len(lecture)
    shot(page, "index")

    for k, href in enumerate(links):
        page.goto(index)
        page.locator(f"ol.scenes h2 a[href='{href}']").click()
        page.wait_for_url(f"**/{href}")
        page.wait_for_selector("#figure.js-plotly-plot .main-svg")
        assert page.locator("h1").inner_text() == lecture.scenes[k].name
        assert page.evaluate(f"{GD}._fullData.length") > 3  # surface, paths, heads, small charts
        assert page.evaluate(f"{GD}._transitionData._frames.length") > 1
        assert page.evaluate(f"{GD}._fullLayout.sliders[0].active") == 0
        page.locator(".updatemenu-button", has_text="Play").click()
        page.wait_for_function(f"{GD}._fullLayout.sliders[0].active > 0", timeout=15_000)
        if k == 1:
            page.wait_for_timeout(1500)
            shot(page, "scene_playing")
    assert blocked == [], f"the pack tried to reach the network: {blocked}"
    assert errors == []


def test_keys_walk_the_pack(pack_dir, offline_page, shot):
    page, blocked, errors = offline_page
    lecture = get_lecture(LECTURE)
    pages = [pack.page_name(i, s.name) for i, s in enumerate(lecture.scenes, 1)]
    page.goto((pack_dir / pages[0]).as_uri())
    page.wait_for_selector("#figure.js-plotly-plot .main-svg")
    # Space plays, Space again pauses: the step moves, then stays
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("Space")
    page.wait_for_function(f"{GD}._fullLayout.sliders[0].active > 0", timeout=15_000)
    page.keyboard.press("Space")
    page.wait_for_timeout(400)
    held = page.evaluate(f"{GD}._fullLayout.sliders[0].active")
    page.wait_for_timeout(600)
    assert page.evaluate(f"{GD}._fullLayout.sliders[0].active") == held
    page.keyboard.press("End")
    page.wait_for_function(f"{GD}._fullLayout.sliders[0].active === {GD}.layout.sliders[0].steps.length - 1")
    # the "?" button shows the keys, and hides them again
    page.locator("#keys-help").click()
    assert page.locator("#gradscape-keys-help").is_visible()
    shot(page, "keys")
    page.locator("#keys-help").click()
    assert page.locator("#gradscape-keys-help").count() == 0
    # PageDown on scene 1 opens scene 2, PageUp goes back; on scene 1 PageUp stays
    page.keyboard.press("PageDown")
    page.wait_for_url(f"**/{pages[1]}")
    page.wait_for_selector("#figure.js-plotly-plot .main-svg")
    assert page.locator("h1").inner_text() == lecture.scenes[1].name
    page.keyboard.press("PageUp")
    page.wait_for_url(f"**/{pages[0]}")
    page.wait_for_selector("#figure.js-plotly-plot .main-svg")
    page.keyboard.press("PageUp")
    page.wait_for_timeout(500)
    assert page.url.endswith(pages[0])
    # the links: Next, then Index
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url(f"**/{pages[1]}")
    page.get_by_role("link", name="Index").click()
    page.wait_for_url("**/index.html")
    # PageDown on the index starts the lecture
    page.keyboard.press("PageDown")
    page.wait_for_url(f"**/{pages[0]}")
    assert blocked == [] and errors == []


def test_scenes_page_downloads_the_lecture_pack(page, server_url, page_errors, shot, tmp_path):
    """The Scenes page's "Download the lecture pack (zip)" (a deferred download) in a real browser: the zip
    unpacks to the same pack, whose index opens offline."""
    lecture = get_lecture(LECTURE)
    page.goto(f"{server_url}/gallery")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=60_000)
    button = page.locator("[data-testid=stDownloadButton] button", has_text="Download the lecture pack (zip)")
    button.first.wait_for()
    shot(page, "scenes_page")
    with page.expect_download(timeout=120_000) as info:
        button.first.click()
    assert info.value.suggested_filename == f"{LECTURE}.zip"
    with zipfile.ZipFile(info.value.path()) as zf:
        zf.extractall(tmp_path)
    root = tmp_path / LECTURE
    assert len(list(root.glob("??-*.html"))) == len(lecture) and (root / "plotly.min.js").is_file()
    probe = "Failed to load resource: the server responded with a status of 404"  # Streamlit's sub-page probe
    assert [e for e in page_errors.console if probe not in e] == [] and page_errors.page == []
    # the unpacked index, from the file system, with the network cut
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    page.goto((root / "index.html").as_uri())
    assert page.locator("h1").inner_text() == lecture.title
    page.locator("ol.scenes h2 a").first.click()
    page.wait_for_selector("#figure.js-plotly-plot .main-svg")
