"""The Playground's live figure in Chromium (ui/live_figure.py, ui/live_figure.js): a new learning rate
sends only the changed parts and the figure follows; a browser that lost its parts asks for them and
gets the whole figure; the figure survives leaving the page and coming back."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

MAIN = "[...document.querySelectorAll('.js-plotly-plot')].find(e => e.getBoundingClientRect().height > 500)"
ADAM_X = f"""(() => {{ const gd = {MAIN}; if (!gd || !gd._fullData) return null;
  const t = gd._fullData.find(t => t.name.startsWith('Adam') && (t.xaxis || 'x') === 'x' && t.mode === 'lines');
  return t ? Array.from(t.x) : null; }})()"""
FRAMES = f"(() => {{ const gd = {MAIN}; return gd && gd._transitionData ? gd._transitionData._frames.length : 0; }})()"
# the last frame's head of Adam on the surface: the frames name their traces; Adam's head is the marker trace
LAST_HEAD = f"""(() => {{ const gd = {MAIN}; const fr = gd._transitionData._frames; const last = fr[fr.length - 1];
  const i = gd.data.findIndex(t => t.name.startsWith('Adam') && t.mode === 'markers' && (t.xaxis || 'x') === 'x');
  const j = last.traces.indexOf(i); return j < 0 ? null : [last.data[j].x[0], last.data[j].y[0]]; }})()"""
SLIDER = f"(() => {{ const gd = {MAIN}; return gd && gd.layout.sliders ? gd.layout.sliders[0].steps.length : 0; }})()"


def adam_lr_thumb(page):
    adam = page.get_by_text("Adam settings", exact=True)
    expander = page.locator("[data-testid=stExpander]").filter(has=adam)
    expander.locator("summary").click()
    thumb = expander.locator("[data-testid=stSlider]").first.locator("input[type=range]")
    thumb.wait_for(state="attached")
    return thumb


def change_adam_lr(page, thumb, wait_idle) -> list:
    """One notch of Adam's lr; Adam's drawn path after the change (waits until it is a new one)."""
    before = page.evaluate(f"JSON.stringify({ADAM_X})")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(b) => {{ const x = {ADAM_X}; return !!x && JSON.stringify(x) !== b; }}", arg=before)
    wait_idle(page)
    return page.evaluate(ADAM_X)


def test_a_slider_change_sends_a_fraction_of_the_figure_and_the_figure_follows(new_page, quiet_server, wait_idle):
    page = new_page()
    received = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    page.goto(quiet_server + "/")
    wait_idle(page, f"{ADAM_X} && {FRAMES} > 100")
    first_load = sum(received)
    assert page.evaluate(SLIDER) == page.evaluate(FRAMES) > 100  # the slider's steps, rebuilt in the browser
    thumb = adam_lr_thumb(page)
    wait_idle(page)
    sizes = []
    paths = [page.evaluate(ADAM_X)]
    for _ in range(3):
        received.clear()
        paths.append(change_adam_lr(page, thumb, wait_idle))
        sizes.append(sum(received))
    assert len({str(p) for p in paths}) == 4, "every new lr drew a new Adam path"
    # the frames (put in after the draw, in a task of their own) follow: the last frame's head is the path's end
    page.wait_for_function(
        f"(x) => {{ const h = {LAST_HEAD}; return !!h && Math.abs(h[0] - x) < 1e-6; }}", arg=paths[-1][-1]
    )
    # the default scene's whole first load (page, sidebar, figure) is ~110 KB; a change ~55 KB, of which
    # the figure ~20 KB (st.plotly_chart resent ~140 KB per change)
    assert max(sizes) < 0.7 * first_load and max(sizes) < 90_000, (sizes, first_load)
    assert page.evaluate(FRAMES) == page.evaluate(SLIDER) > 100


def test_a_browser_that_lost_its_parts_asks_for_them_and_draws_the_whole_figure(new_page, quiet_server, wait_idle):
    page = new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(quiet_server + "/")
    wait_idle(page, ADAM_X)
    thumb = adam_lr_thumb(page)
    wait_idle(page)
    page.evaluate("() => window.__gradscapeLive.clear()")  # as a browser that never got them
    after = change_adam_lr(page, thumb, wait_idle)
    assert after
    held = page.evaluate("() => [...window.__gradscapeLive.values()].map(s => s.size)")
    assert held and held[0] > 20, held  # every part, sent again after the "missing" trigger
    assert page.evaluate(FRAMES) == page.evaluate(SLIDER) > 100
    assert errors == []


def test_the_figure_comes_back_after_leaving_the_page(new_page, quiet_server, wait_idle):
    page = new_page()
    page.goto(quiet_server + "/")
    wait_idle(page, ADAM_X)
    drawn = page.evaluate(ADAM_X)
    page.get_by_role("link", name="Theory").click()
    wait_idle(page, f"!{MAIN}")
    page.get_by_role("link", name="Playground").click()
    wait_idle(page, ADAM_X)
    assert page.evaluate(ADAM_X) == drawn
