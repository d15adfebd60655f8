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


# What a fresh plotly.js draws from the figure as it stands: every line and axis range of the live figure
# must be what Plotly.newPlot of its own data and layout gives (autoranged axes ranged afresh).
AS_DRAWN_AFRESH = f"""async () => {{ const gd = {MAIN};
  const fresh = document.createElement('div');
  fresh.style.width = gd.clientWidth + 'px'; fresh.style.height = gd.clientHeight + 'px';
  document.body.appendChild(fresh);
  const layout = JSON.parse(JSON.stringify(gd.layout));
  for (const k of Object.keys(layout)) if (/^[xy]axis/.test(k) && layout[k].autorange === true) delete layout[k].range;
  await Plotly.newPlot(fresh, gd.data.map(t => Object.assign({{}}, t)), layout, {{displayModeBar: false}});
  await new Promise(r => setTimeout(r, 300)); // plotly's own redraws after the margins settle
  const read = (el) => ({{
    lines: [...el.querySelectorAll('.js-line')].map(e => e.getAttribute('d')),
    points: [...el.querySelectorAll('.point')].map(e => e.getAttribute('transform')),
    ranges: Object.keys(el._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k))
      .map(k => k + ':' + el._fullLayout[k].range.map(v => Number(v).toPrecision(12)).join()),
  }});
  const out = [read(gd), read(fresh)];
  Plotly.purge(fresh); fresh.remove();
  return out; }}"""
COUNT_DRAWS = """() => { window.__draws = []; const P = window.Plotly;
  for (const f of ['react', 'animate', 'relayout', 'addFrames']) { if (P['__' + f]) continue; P['__' + f] = P[f];
    P[f] = function (gd, ...a) {
      const what = f === 'addFrames' || (f === 'react' && a[0].frames) ? 'frames' : f;
      if (gd.classList.contains('gradscape-live')) window.__draws.push(what);
      return P['__' + f].call(P, gd, ...a); }; } }"""


def test_a_new_learning_rate_moves_the_points_in_place_as_a_full_draw_would(new_page, quiet_server, wait_idle):
    """A change that only moves points is drawn by moving the changed traces (Plotly.animate, no redraw of
    the four panels, slider and buttons) and ranging their autoranged axes again; the result is what a
    full draw gives, line for line. A change of the layout (a new surface) is drawn whole; a panel the
    user zoomed keeps its zoom."""
    page = new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(quiet_server + "/")
    wait_idle(page, f"{ADAM_X} && {FRAMES} > 100")
    thumb = adam_lr_thumb(page)
    wait_idle(page)
    page.evaluate(COUNT_DRAWS)
    for _ in range(2):
        page.evaluate("() => { window.__draws = []; }")
        change_adam_lr(page, thumb, wait_idle)
        page.wait_for_function("() => window.__draws.includes('frames')")  # the frames follow
        # moved in place; an axis is ranged again only where the data's extent changed
        assert page.evaluate("() => window.__draws") in (["animate", "relayout", "frames"], ["animate", "frames"])
        live, fresh = page.evaluate(AS_DRAWN_AFRESH)
        assert live["ranges"] == fresh["ranges"]
        assert len(live["lines"]) > 20 and live["lines"] == fresh["lines"]
        assert live["points"] == fresh["points"]
        end = page.evaluate(ADAM_X)[-1]
        page.wait_for_function(f"(x) => {{ const h = {LAST_HEAD}; return !!h && Math.abs(h[0] - x) < 1e-6; }}", arg=end)
        assert page.evaluate(FRAMES) == page.evaluate(SLIDER) > 100  # replaced in place, none added

    # the user zooms into the loss panel: a new lr moves the paths and leaves the zoom as it is
    zoom = page.evaluate(
        f"() => {{ const gd = {MAIN}; const r = gd._fullLayout.yaxis2.range; const z = [r[0] + 1, r[1] - 0.5];"
        " return Plotly.relayout(gd, {'yaxis2.range': z}).then(() => gd._fullLayout.yaxis2.range); }"
    )
    page.evaluate("() => { window.__draws = []; }")
    change_adam_lr(page, thumb, wait_idle)
    page.wait_for_function("() => window.__draws.includes('frames')")
    assert "react" not in page.evaluate("() => window.__draws")
    assert page.evaluate(f"() => {MAIN}._fullLayout.yaxis2.range") == zoom

    # a new surface changes the layout (its shaded image): the figure is drawn whole
    page.evaluate("() => { window.__draws = []; }")
    before = page.evaluate(f"() => {MAIN}.layout.images[0].source")
    kappa = page.locator("[data-testid=stSidebar] [data-testid=stSlider]").first.locator("input[type=range]")
    kappa.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(b) => {MAIN}.layout.images[0].source !== b", arg=before)
    wait_idle(page)
    assert page.evaluate("() => window.__draws")[0] == "react"
    live, fresh = page.evaluate(AS_DRAWN_AFRESH)
    assert live["lines"] == fresh["lines"] and live["ranges"][:2] == fresh["ranges"][:2]
    assert errors == []
