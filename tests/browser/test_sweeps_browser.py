"""The four sweep pages in a real browser (Debian chromium through Playwright).

Each test opens one sweep page, shrinks the sweep through the page's own sidebar widgets (the
smallest grid, the fewest runs and the fewest steps: a select-slider is focused and sent Home, as a
keyboard user would), waits for Streamlit's script run to finish, then reads the Plotly chart that
the browser drew (`gd.data` of the `.js-plotly-plot` inside the element's `st-key-…` container) and
checks it against the engine run here, in the test process, with the same settings. The pages have
no start button and read no sweep sizes from the URL: they compute on every run.

A server of this module's own is started with GRADSCAPE_BACKGROUND_COMPILE=0 (no background
graph builds during tests). Screenshots go to test-artifacts/browser/<test name>.png.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

SWEEP_TIMEOUT_MS = 90_000  # the first script run of a fresh server imports torch
# On a sub-page address the frontend first probes /<page>/_stcore/host-config (and health), gets 404,
# then uses the root: harmless and not ours (see test_offline_and_pages.real_errors).
PROBE_404 = "Failed to load resource: the server responded with a status of 404"


# ---- a server of our own, without the background builder ----------------------------------------


def _browser_conftest(config):
    """tests/browser/conftest.py as pytest loaded it (its module name is not unique to import)."""
    want = Path(__file__).with_name("conftest.py").resolve()
    for plugin in config.pluginmanager.get_plugins():
        f = getattr(plugin, "__file__", None)
        if f and Path(f).resolve() == want:
            return plugin
    raise RuntimeError(f"{want} is not loaded as a conftest")


@pytest.fixture(scope="module")
def sweep_server(request):
    """Base URL of a Streamlit server started for this module with GRADSCAPE_BACKGROUND_COMPILE=0."""
    conftest = _browser_conftest(request.config)
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:  # the variable is read when the process starts
            mp.setenv("GRADSCAPE_BACKGROUND_COMPILE", "0")
            base = stack.enter_context(conftest.streamlit_server("server_sweeps"))
        yield base


# ---- reading the page ---------------------------------------------------------------------------


def chart_sel(key: str) -> str:
    """The Plotly graph div of the st.plotly_chart with this Streamlit key ("hm.chart" -> st-key-hm-chart)."""
    return f".st-key-{key.replace('.', '-')} .js-plotly-plot"


# One chart as JSON: every trace of gd.data (arrays as plain lists, None for gaps; type, mode, axis and
# legend flag as plotly resolved them), how much of each
# scatter trace plotly actually drew (length of its SVG path), the images drawn (heatmaps, the
# surface picture), panel titles (annotations) and legend texts.
READ_CHART = """(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd.data || !gd._fullData || !gd._fullData.length) return null;
  const num = v => (typeof v === 'number' && isNaN(v)) ? null : v;  // a typed array's gap is NaN
  const arr = a => a == null ? null :
    Array.from(a, v => (v != null && typeof v === 'object' && v.length !== undefined) ? Array.from(v, num) : num(v));
  // A typed array ({dtype, bdata}) stays encoded in gd.data; plotly's decoded copy is in gd._fullData.
  const val = (t, f, k) => (t[k] != null && t[k].bdata !== undefined) ? f[k] : t[k];
  const drawn = {};
  for (const t of gd._fullData) {
    let d = 0;
    for (const el of gd.querySelectorAll('.trace' + t.uid + ' path.js-line')) d += (el.getAttribute('d') || '').length;
    drawn[t.index] = d;
  }
  return {
    traces: gd.data.map((t, i) => {
      const f = gd._fullData.find(ft => ft.index === i) || {};  // plotly's resolved attributes (defaults filled)
      return {type: f.type || t.type || 'scatter', name: t.name ?? null, mode: f.mode ?? t.mode ?? null,
              xaxis: f.xaxis || t.xaxis || 'x', showlegend: f.showlegend ?? t.showlegend ?? null,
              legendgroup: t.legendgroup ?? null, opacity: t.opacity ?? null,
              x: arr(val(t, f, 'x')), y: arr(val(t, f, 'y')), z: arr(val(t, f, 'z')), drawn: drawn[i] || 0};
    }),
    heatmapImages: gd.querySelectorAll('.heatmaplayer image').length,
    images: gd.querySelectorAll('image').length,
    titles: [...gd.querySelectorAll('.annotation-text')].map(e => e.textContent),
    legend: [...gd.querySelectorAll('.legendtext')].map(e => e.textContent),
  };
}"""

# The first st.dataframe as rows of {column: cell text}, from glide-data-grid's accessible table.
READ_TABLE = """() => {
  const t = document.querySelector('[data-testid=stMain] [data-testid=stDataFrame] table[role=grid]');
  if (!t) return null;
  const head = [...t.querySelectorAll('thead th')].map(e => e.textContent);
  return [...t.querySelectorAll('tbody tr')].map(tr =>
    Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [head[i], td.textContent])));
}"""


def wait_idle(page, predicate_js: str = "true", timeout: int = SWEEP_TIMEOUT_MS) -> None:
    """Until Streamlit's script run is over, nothing on the page is stale, and `predicate_js` holds.
    The predicate must only be true of the new run's output, so an old page cannot pass for it."""
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
    return f"document.querySelector('[data-testid=stMain]').innerText.includes({text!r})"


def chart_has(key: str, js_over_data: str) -> str:
    """A JS predicate over `d` (gd._fullData of the keyed chart: its typed arrays decoded)."""
    return (
        f"(() => {{ const gd = document.querySelector({chart_sel(key)!r}); "
        f"const d = gd && gd._fullData && gd._fullData.length && gd._fullData; return !!d && ({js_over_data}); }})()"
    )


def read_chart(page, key: str) -> dict:
    data = page.evaluate(READ_CHART, chart_sel(key))
    assert data is not None, f"no rendered chart {key!r}"
    return data


def read_table(page, n_rows: int | None = None) -> list[dict]:
    """The table's rows. The grid is drawn on a canvas and its accessible table follows a frame or
    more behind (longer on a loaded machine, and only once the grid is in view): scroll it into view,
    then give it a few seconds to show `n_rows` rows (any rows when n_rows is None)."""
    frame = page.locator("[data-testid=stMain] [data-testid=stDataFrame]").first
    with contextlib.suppress(Exception):
        frame.scroll_into_view_if_needed(timeout=5_000)
    want = "r.length > 0" if n_rows is None else f"r.length === {n_rows}"
    with contextlib.suppress(Exception):
        page.wait_for_function(
            f"() => {{ const r = ({READ_TABLE})(); return r && {want}; }}", timeout=15_000, polling=100
        )
    rows = page.evaluate(READ_TABLE)
    assert rows is not None, "no st.dataframe on the page"
    return rows


def open_sweep_page(page, base: str, name: str, chart_key: str) -> None:
    page.goto(f"{base}/{name}")
    page.wait_for_selector("[data-testid=stMain] h1", timeout=SWEEP_TIMEOUT_MS)
    wait_idle(page, chart_has(chart_key, "d.length > 0"))  # the page's default sweep, drawn


def sidebar_slider(page, label: str):
    """The sidebar slider whose label reads exactly `label`."""
    return page.locator("[data-testid=stSidebar] [data-testid=stSlider]").filter(
        has=page.locator("[data-testid=stWidgetLabel]", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    )


def thumb_values(page, label: str) -> list[str]:
    thumbs = sidebar_slider(page, label).locator("[data-testid=stSliderThumbValue]")
    return [t.strip() for t in thumbs.all_inner_texts()]


def slide_to_lowest(page, label: str, lowest: str) -> None:
    """Focus the select-slider called `label` and press Home: its smallest option, `lowest`."""
    slider = sidebar_slider(page, label)
    slider.first.wait_for(timeout=15_000)  # under load the sidebar can be drawn after the script went idle
    assert slider.count() == 1, f"no single sidebar slider labelled {label!r}"
    thumb = slider.locator("input[type=range]")
    assert thumb_values(page, label) != [lowest], f"{label!r} already at {lowest}: the test would prove nothing"
    thumb.focus()
    page.keyboard.press("Home")
    exact = re.compile(rf"^\s*{re.escape(lowest)}\s*$")
    slider.locator("[data-testid=stSliderThumbValue]").filter(has_text=exact).wait_for()
    assert thumb.get_attribute("value") == thumb.get_attribute("min")


def assert_clean(page, page_errors) -> None:
    """No Streamlit exception or error box, no console or page error (less the known 404 probe)."""
    exceptions = page.locator("[data-testid=stException]")
    assert exceptions.count() == 0, exceptions.all_inner_texts()
    errors = page.locator("[data-testid=stAlertContentError]")
    assert errors.count() == 0, errors.all_inner_texts()
    console = [e for e in page_errors.console if PROBE_404 not in e]
    assert console == [], f"console errors: {console}"
    assert page_errors.page == [], f"page errors: {page_errors.page}"


def named(chart: dict, name: str) -> dict:
    found = [t for t in chart["traces"] if t["name"] == name]
    assert len(found) == 1, (name, [t["name"] for t in chart["traces"]])
    return found[0]


def as_float(rows: list) -> np.ndarray:
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows], dtype=np.float64)


def segments(xs: list, ys: list) -> list[list[tuple]]:
    """A trace of several lines joined by None gaps, as its lines of (x, y) points."""
    out, cur = [], []
    for x, y in zip(xs, ys):
        if x is None or y is None:
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append((x, y))
    if cur:
        out.append(cur)
    return out


@pytest.fixture(scope="module")
def engine_device():
    from engine import default_device

    return default_device()  # what the pages' sweeps use (ui.compute._sweep_device)


# ---- hyperparameter map ---------------------------------------------------------------------------


def test_hyperparameter_map_runs_a_small_sweep_and_draws_its_heatmap(page, sweep_server, page_errors, engine_device):
    from engine import sweeps as S
    from figures.maps import GAP_FLOOR

    open_sweep_page(page, sweep_server, "hyperparameter_map", "hm.chart")
    slide_to_lowest(page, "Grid (cells a side)", "8")
    wait_idle(page, chart_has("hm.chart", "d.some(t => t.name === 'outcome' && t.z.length === 8)"))
    slide_to_lowest(page, "Steps", "50")
    wait_idle(page, main_text_has("8 × 8 = 64 runs of 50 steps"))

    chart = read_chart(page, "hm.chart")
    heat = named(chart, "outcome")
    assert heat["type"] == "heatmap"
    z = as_float(heat["z"])
    assert z.shape == (8, 8)
    assert np.isfinite(z).any(), "every cell of the map is empty"
    assert chart["heatmapImages"] >= 1, "plotly drew no heatmap image"
    # The same map from the engine: momentum on Rosenbrock, lr × momentum, from the default start.
    assert thumb_values(page, "learning rate η: range") == ["1e-4", "0.01"]
    vx, vy = S.hparam_grid("momentum", "lr", "momentum", 8, 8, {"lr": (1e-4, 0.01)})
    res = S.sweep_2d(
        "rosenbrock",
        "momentum",
        "lr",
        "momentum",
        vx,
        vy,
        50,
        tol=S.DEFAULT_TOL,
        base_hparams={"dampening": 0.0, "weight_decay": 0.0},
        device=engine_device,
    )
    want = np.where(res.diverged, np.nan, np.log10(np.maximum(res.gap, GAP_FLOOR)))
    np.testing.assert_allclose(z, want, rtol=1e-3, atol=1e-3)  # the page rounds to 4 significant digits
    row, col = res.best()
    best = named(chart, "best cell")
    assert (best["x"], best["y"]) == ([col], [row])
    cells = named(chart, "cells")
    assert len(cells["x"]) == 64
    assert page.get_by_text("Best cell", exact=False).count() >= 1
    link = page.get_by_role("link", name="Open the best cell in the Playground")
    assert link.count() == 1
    # It opens the Playground (the app's root) in a new tab; st.page_link's href resolved to this page.
    assert link.evaluate("a => a.href").startswith(f"{sweep_server}/?surface=rosenbrock&")
    assert link.get_attribute("target") == "_blank"

    # Below: final loss against lr, 41 lrs for each of momentum, SGD and Adam.
    wait_idle(page, chart_has("hm.lr.chart", "d.length > 0"))
    curves = [t for t in read_chart(page, "hm.lr.chart")["traces"] if t["mode"] == "lines+markers"]
    assert sorted(t["legendgroup"] for t in curves) == ["adam", "momentum", "sgd"]
    assert all(len(t["x"]) == 41 and t["drawn"] > 0 for t in curves)
    assert len(read_table(page)) == 3
    assert_clean(page, page_errors)


# ---- fair comparison ------------------------------------------------------------------------------

FC_OPTIMIZERS = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}  # the page's default selection, in order


def test_fair_comparison_tunes_each_lr_and_plots_the_tuned_paths(page, sweep_server, page_errors, engine_device):
    from engine import sweeps as S
    from surfaces import get_surface
    from scene.config import effective_hparams, from_query

    open_sweep_page(page, sweep_server, "fair_comparison", "fc.race.chart")  # the race comes first
    page.locator("[data-testid=stSidebar]").get_by_text("one start", exact=True).click()
    wait_idle(page, chart_has("fc.chart", "d.length > 0"))
    slide_to_lowest(page, "Step budget (the same for all)", "50")
    wait_idle(page, main_text_has("same budget of 50 steps"))
    slide_to_lowest(page, "Learning rates tried per optimizer", "11")
    wait_idle(page, main_text_has("11 values spread evenly"))
    assert "The tuned runs, 50 steps each" in page.locator("[data-testid=stMain]").inner_text()

    surface = get_surface("rosenbrock")
    want = {
        k: S.tune_lr(surface, k, 50, objective="final_loss", lrs=S.lr_values(k, 11), device=engine_device).best_lr()
        for k in FC_OPTIMIZERS
    }
    assert all(v is not None for v in want.values()), want  # every optimizer has an lr that does not diverge

    # The tuned lrs, as the table on the page shows them.
    rows = read_table(page)
    assert [r["optimizer"] for r in rows] == list(FC_OPTIMIZERS.values())
    for k, name in FC_OPTIMIZERS.items():
        row = next(r for r in rows if r["optimizer"] == name)
        assert float(row["tuned lr"]) == pytest.approx(want[k], rel=1e-9), (name, row)
        assert row["lrs that diverged"].endswith("of 11")
    # ... and in the link that opens the comparison in the Playground.
    href = page.get_by_role("link", name="Open this comparison in the Playground").get_attribute("href")
    cfg, warnings = from_query(dict(urllib.parse.parse_qsl(urllib.parse.urlparse(href).query)))
    assert not warnings, warnings
    assert cfg.surface == "rosenbrock" and cfg.steps == 50 and cfg.optimizers == tuple(FC_OPTIMIZERS)
    for k in FC_OPTIMIZERS:  # an lr equal to the lesson's is left out of the URL: read it as the Playground would
        assert effective_hparams(cfg, k)["lr"] == pytest.approx(want[k], rel=1e-9), k

    # The tuned runs drawn over the surface: one legend path per optimizer, 51 points from the start.
    chart = read_chart(page, "fc.chart")
    paths = [t for t in chart["traces"] if t["xaxis"] == "x" and t["mode"] == "lines" and t["showlegend"]]
    assert [t["name"] for t in paths] == list(FC_OPTIMIZERS.values())
    for t in paths:
        assert t["type"] == "scatter" and len(t["x"]) == 51 and t["drawn"] > 0, t["name"]
        assert (t["x"][0], t["y"][0]) == pytest.approx(surface.start), t["name"]
        assert (t["x"][-1], t["y"][-1]) != pytest.approx(surface.start), f"{t['name']} did not move"
    assert chart["images"] >= 1, "no surface picture under the paths"
    assert_clean(page, page_errors)


# ---- basins of attraction ---------------------------------------------------------------------------


def basin_panels(chart: dict) -> list[dict]:
    return [t for t in chart["traces"] if t["type"] == "heatmap" and t["name"] not in ("hover", "unlabelled")]


def test_basins_draws_one_heatmap_panel_per_selected_optimizer(page, sweep_server, page_errors, engine_device, shot):
    from engine import sweeps as S
    from figures.maps import basin_codes
    from optimizers import get_optimizer
    from surfaces import surface_class

    cls = surface_class("himmelblau")
    keys = list(cls.lesson_optimizers)
    names = [get_optimizer(k).name for k in keys]
    assert len(keys) >= 2

    open_sweep_page(page, sweep_server, "basins", "bs.chart")
    slide_to_lowest(page, "Starts per side", "16")
    wait_idle(page, main_text_has("16 × 16 grid over the view is run for 300 steps"))
    slide_to_lowest(page, "Steps", "50")
    wait_idle(page, main_text_has("16 × 16 grid over the view is run for 50 steps"))

    chart = read_chart(page, "bs.chart")
    panels = basin_panels(chart)
    assert [p["name"] for p in panels] == keys
    assert chart["titles"] == names  # one titled panel per optimizer
    assert chart["heatmapImages"] >= len(keys), "plotly drew fewer heatmap images than panels"
    for k, p in zip(keys, panels):
        z = np.array(p["z"])
        assert z.shape == (16, 16), (k, z.shape)
        res = S.basins(
            "himmelblau",
            k,
            {**get_optimizer(k).defaults(), **cls.lesson_hparams.get(k, {})},
            16,
            50,
            device=engine_device,
        )
        np.testing.assert_array_equal(z, basin_codes(res)[0], err_msg=k)
    assert [r["optimizer"] for r in read_table(page, len(keys))] == names
    shot(page, "all_panels")

    # One optimizer fewer: one panel fewer, the others unchanged.
    page.locator(f'.st-key-bs-himmelblau-opt button[aria-label="Remove {names[1]}"]').click()
    wait_idle(
        page,
        chart_has(
            "bs.chart",
            f"d.filter(t => t.type === 'heatmap' && t.name !== 'hover' "
            f"&& t.name !== 'unlabelled').length === {len(keys) - 1}",
        ),
    )
    after = read_chart(page, "bs.chart")
    kept = [k for i, k in enumerate(keys) if i != 1]
    assert [p["name"] for p in basin_panels(after)] == kept
    assert after["titles"] == [n for i, n in enumerate(names) if i != 1]
    assert basin_panels(after)[0]["z"] == panels[0]["z"]
    assert [r["optimizer"] for r in read_table(page, len(kept))] == [n for i, n in enumerate(names) if i != 1]
    assert_clean(page, page_errors)


# ---- noisy clouds -----------------------------------------------------------------------------------


def test_noisy_clouds_draws_one_faint_path_per_run(page, sweep_server, page_errors, engine_device):
    from engine import sweeps as S
    from figures.maps import _cut
    from optimizers import get_optimizer
    from surfaces import get_surface, surface_class

    cls = surface_class("ravine")
    surface = get_surface("ravine")
    keys = ["sgd", "adam"]  # the page's default selection

    open_sweep_page(page, sweep_server, "noisy_clouds", "nc.chart")
    slide_to_lowest(page, "Steps", "50")
    wait_idle(page, chart_has("nc.chart", "d.some(t => t.name === 'SGD: median path' && t.x.length === 51)"))
    slide_to_lowest(page, "Runs per optimizer (N)", "10")
    wait_idle(
        page,
        main_text_has("10 runs of each optimizer")
        + " && "
        + chart_has("nc.chart", "d.some(t => /^SGD: 10 runs/.test(t.name))"),
    )

    chart = read_chart(page, "nc.chart")
    assert {t["type"] for t in chart["traces"]} == {"scatter"}
    assert chart["images"] >= 1, "the shaded surface picture is missing"
    for k in keys:
        name = get_optimizer(k).name
        full = {**get_optimizer(k).defaults(), **cls.lesson_hparams.get(k, {})}
        cloud = S.noisy_cloud("ravine", k, full, 10, 50, 0.5, 0, device="cpu")  # the page runs clouds on the CPU
        n_div = int((cloud.diverged_at >= 0).sum())
        faint = named(chart, f"{name}: 10 runs" + (f", {n_div} diverged" if n_div else ""))
        runs = segments(faint["x"], faint["y"])
        assert len(runs) == 10, f"{name}: {len(runs)} faint paths drawn for 10 runs"
        assert [len(r) for r in runs] == [_cut(cloud, b) for b in range(10)]
        assert all(r[0] == pytest.approx(surface.start) for r in runs)
        assert len({r[-1] for r in runs}) == 10, f"{name}: the noisy runs do not spread"
        assert faint["opacity"] < 0.5 and faint["drawn"] > 0
        losses = named(chart, f"{name} runs")
        assert len(segments(losses["x"], losses["y"])) == 10
        median = named(chart, f"{name}: median path")
        assert len(median["x"]) == 51 and median["drawn"] > 0
        np.testing.assert_allclose(median["x"], cloud.median[:, 0], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(median["y"], cloud.median[:, 1], rtol=1e-5, atol=1e-9)
    assert [r["optimizer"] for r in read_table(page, len(keys))] == [get_optimizer(k).name for k in keys]
    assert_clean(page, page_errors)
