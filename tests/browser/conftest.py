"""Real-browser fixtures: a Streamlit server on a free port and Debian chromium through Playwright.

Every test in this folder is marked `browser`. Without /usr/bin/chromium or the playwright package
the tests are skipped with a reason (CI installs both). Each test gets a fresh browser context (a
fresh Streamlit session) with a 1600×1100 viewport; console errors and page errors are recorded, and
a screenshot of the whole app is saved to test-artifacts/browser/<test name>.png at teardown.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
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
HEALTH_TIMEOUT_S = 60
CHART_TIMEOUT_MS = 60_000  # the first script run of a server imports torch

# The main Playground chart: the first .js-plotly-plot may be a small chart in a collapsed expander.
MAIN_PLOT_JS = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server we started, by its PID: terminate, then kill."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def streamlit_server(log_name: str = "server"):
    """Start `streamlit run app.py` on a free port; yield its base URL; stop it by PID at the end."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = ARTIFACTS / f"{log_name}.log"
    log = open(log_path, "w", encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit not healthy after {HEALTH_TIMEOUT_S} s; see {log_path}")
            time.sleep(0.2)
        yield base
    finally:
        _stop(proc)
        log.close()


@pytest.fixture
def fresh_server():
    """A context manager for a server of one's own (for first-load checks of a new process)."""
    return streamlit_server


@pytest.fixture(scope="session")
def server_url():
    with streamlit_server("server") as base:
        yield base


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (install Debian's chromium package to run the browser tests)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright Python package is not installed (pip install playwright)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


class PageErrors:
    """Console messages of type error and uncaught page errors seen by one page."""

    def __init__(self):
        self.console: list[str] = []
        self.page: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.page.append(str(e)))

    def assert_none(self) -> None:
        assert not self.console, f"console errors: {self.console}"
        assert not self.page, f"page errors: {self.page}"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole app. Streamlit scrolls inside its main container, not the
    document, so a full-page shot alone would only show the viewport: grow the viewport to the
    content's height first, then put it back."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{_safe_name(name)}.png"
    size = page.viewport_size or VIEWPORT
    try:
        height = page.evaluate("""() => Math.max(document.body.scrollHeight,
            ...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent],'
                + ' [data-testid=stAppViewContainer], section')].map(e => e.scrollHeight))""")
        height = int(min(max(height, size["height"]), 6000))
        if height > size["height"]:
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(400)
        page.screenshot(path=str(path), full_page=True)
    finally:
        if page.viewport_size != size:
            page.set_viewport_size(size)
    return path


@pytest.fixture
def shot(request):
    """shot(page, suffix): save a screenshot named after the test (plus a suffix)."""
    return lambda p, suffix="": screenshot(p, request.node.name + (f"_{suffix}" if suffix else ""))


@pytest.fixture
def page_errors():
    return PageErrors()


@pytest.fixture
def new_page(browser):
    """A factory: each call opens a page in a NEW browser context (a fresh Streamlit session)."""
    contexts = []

    def make(errors: PageErrors | None = None):
        ctx = browser.new_context(viewport=VIEWPORT)
        contexts.append(ctx)
        p = ctx.new_page()
        p.set_default_timeout(30_000)
        if errors is not None:
            errors.attach(p)
        return p

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def page(request, new_page, page_errors):
    p = new_page(page_errors)
    yield p
    try:
        screenshot(p, request.node.name)
    except Exception as err:  # a screenshot is a by-product; never hide the test's own result
        print(f"screenshot failed for {request.node.name}: {err}")


# ---- shared by the modules that start a server of their own ----------------------------------------


@pytest.fixture(scope="module")
def quiet_server(request):
    """Base URL of a Streamlit server of the requesting test module's own, started with
    GRADSCAPE_BACKGROUND_COMPILE=0 (no background graph builds competing with the browser for the CPU);
    its log is test-artifacts/browser/server_<module>.log."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").removesuffix("_browser")
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:  # the variable is read when the process starts
            mp.setenv("GRADSCAPE_BACKGROUND_COMPILE", "0")
            base = stack.enter_context(streamlit_server(f"server_{name}"))
        yield base


def _wait_idle(page, predicate_js: str = "true", timeout: int = CHART_TIMEOUT_MS) -> None:
    """Until Streamlit's script run is over, nothing on the page is stale, and `predicate_js` (a JS
    expression) holds. The predicate must only be true of the new run's output, so that the page from
    before cannot pass for it."""
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


@pytest.fixture
def wait_idle():
    """wait_idle(page, predicate_js="true", timeout=...): see _wait_idle."""
    return _wait_idle
