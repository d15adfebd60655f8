"""The app shell: page config and navigation, shared by app.py and every page.

Why pages call `page_setup()` first: a folder named pages/ next to app.py makes a fresh Streamlit
server run its first script in legacy mode, and a first-load deep link (/playground) then runs
pages/playground.py directly, without app.py's set_page_config and st.navigation. page_setup()
notices that case and hands over to the app's own navigation, which runs this same page once,
properly configured. tests/browser checks a first-load deep link on a fresh server.
"""

from __future__ import annotations

import gc
import sys
import urllib.parse
from pathlib import Path

import streamlit as st

from ui.plotly_figure import PrebuiltFigure

ROOT = Path(__file__).resolve().parent.parent


def _page(name: str, title: str, icon: str, **kw):
    return st.Page(str(ROOT / "pages" / f"{name}.py"), title=title, icon=icon, url_path=name, **kw)


def _pages() -> dict:
    # url_path equals the file name, so a first-load deep link resolves in both modes (see above).
    return {
        # Material icons ship with Streamlit (no emoji font needed on a lecture-hall machine).
        "Explore": [
            _page("playground", "Playground", ":material/explore:", default=True),
            _page("gallery", "Scenes", ":material/movie:"),
        ],
        "Lectures": [
            _page("saddle", "Saddle point, side by side", ":material/landscape:"),
            _page("ravine", "The ravine", ":material/water:"),
            _page("step_by_step", "Step by step", ":material/footprint:"),
            _page("bias_correction", "Adam's bias correction", ":material/balance:"),
            _page("schedules", "Schedules", ":material/trending_down:"),
            _page("theory", "Theory", ":material/menu_book:"),
        ],
        "Sweeps": [
            _page("hyperparameter_map", "Hyperparameter map", ":material/grid_on:"),
            _page("fair_comparison", "Fair comparison", ":material/leaderboard:"),
            _page("basins", "Basins of attraction", ":material/blur_on:"),
            _page("noisy_clouds", "Noisy clouds", ":material/cloud:"),
        ],
        "Real models": [
            _page("landscape", "Real network", ":material/hub:"),
        ],
    }


def run_app() -> None:
    """app.py's whole body."""
    st.set_page_config(
        page_title="gradscape",
        page_icon=str(ROOT / "assets" / "icon.svg"),
        layout="wide",
        # ?embed=true (the projector view) keeps Streamlit's sidebar: start it folded away there
        initial_sidebar_state="collapsed" if st.context.is_embedded else "expanded",
    )
    plotly_loader()  # before torch is imported: the browser loads plotly.js meanwhile
    frontend_preload()  # and the code of the widgets and of the live figure
    from engine import builder

    builder.note_activity()  # the CPU probe waits for a moment when no page runs
    builder.prepare_in_background()  # once per server: the first load of a fused graph is then ~3 ms
    try:
        st.navigation(_pages()).run()
    finally:
        freeze_after_imports()


_modules_when_frozen = 0


def freeze_after_imports() -> bool:
    """After a page run that imported modules, gc.freeze(): every object alive now (torch's, Streamlit's,
    plotly's: ~230,000) leaves the cyclic collector's view. Each full collection walked them all, ~200 ms
    with the GIL held, in one page run of ten or so (benchmarks/RESULTS.md, session 11); now ~40 ms.
    Only objects alive at that moment are frozen, and few runs import; True when it froze."""
    global _modules_when_frozen
    if len(sys.modules) == _modules_when_frozen:
        return False
    _modules_when_frozen = len(sys.modules)
    gc.freeze()
    return True


LOADER_KEY = "gs-plotly-loader"
_LOADER = {
    "data": [{"type": "scatter", "x": [0], "y": [0], "hoverinfo": "skip"}],
    # no axes, no margins: tick labels would push margins past 10 px and plotly.js would throw
    "layout": {
        "height": 10,
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "showlegend": False,
    },
}
# Out of sight; 400 px wide, as a 1-px box leaves plotly.js no room for the plot ("axis scaling").
_LOADER_CSS = (
    f"<style>.st-key-{LOADER_KEY}{{position:absolute;left:0;top:0;width:400px;height:10px;overflow:hidden;"
    "opacity:0;pointer-events:none;z-index:-1}</style>"
)


def plotly_loader() -> None:
    """Streamlit loads plotly.js (window.Plotly, which ui/live_figure.js draws with) only with its first
    chart: a 10-pixel chart out of sight, on every page before anything heavy runs, has the browser load
    and parse it (~1.3 s on a fresh page here) while the server imports torch and computes."""
    st.html(_LOADER_CSS)
    with st.container(key=LOADER_KEY):
        # prebuilt: a plain dict would be validated into a go.Figure and sent with plotly's 3 KB template
        st.plotly_chart(PrebuiltFigure(_LOADER), key=LOADER_KEY + "-chart", config={"displayModeBar": False})


PRELOAD_KEY = "gs-preload"
_PRELOADED = "_gs_preloaded"


def frontend_preload() -> None:
    """On a session's first run, before torch is imported: one hidden widget of each kind the Playground
    draws, and the live figure's component. Streamlit's frontend fetches a kind's code (~40 files in all)
    only when the first widget of that kind arrives, i.e. after the server has imported torch and computed
    the page; fetched now, it loads while the server imports torch (~1.5 s here)."""
    if st.session_state.get(_PRELOADED):
        return
    st.session_state[_PRELOADED] = True
    from ui import live_figure

    st.html(f"<style>.st-key-{PRELOAD_KEY}{{display:none}}</style>")
    with st.container(key=PRELOAD_KEY):
        k, hidden = PRELOAD_KEY + ".", "collapsed"
        st.selectbox("preload", [0], key=k + "selectbox", label_visibility=hidden)
        st.multiselect("preload", [0], key=k + "multiselect", label_visibility=hidden)
        st.select_slider("preload", [0, 1], key=k + "select_slider", label_visibility=hidden)
        st.slider("preload", 0.0, 1.0, key=k + "slider", label_visibility=hidden)
        st.toggle("preload", key=k + "toggle", label_visibility=hidden)
        st.number_input("preload", key=k + "number_input", label_visibility=hidden)
        live_figure.preload(k + "live")


def page_setup() -> None:
    """Call at the top of every page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:  # legacy first run: this page was run without app.py
        run_app()  # st.navigation switches the server to explicit pages and runs this page properly
        st.stop()  # the nested run drew the page; do not draw it twice


def playground_link(label: str, query: dict, icon: str = ":material/open_in_new:") -> None:
    """A button that opens the Playground with `query` (scene.config.to_query) in a new tab.

    Not st.page_link: for the default page (the Playground, served at the app's root) it renders
    href="?query", which a new tab, a middle click or a copied link resolves against the *current*
    page. "./?query" resolves to the app's root from any page, under a server.baseUrlPath too.
    """
    st.link_button(label, "./?" + urllib.parse.urlencode(query), icon=icon)
