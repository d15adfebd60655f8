"""The app shell: page config and navigation, shared by app.py and every page.

Why pages call `page_setup()` first: a folder named pages/ next to app.py makes a fresh Streamlit
server run its first script in legacy mode, and a first-load deep link (/playground) then runs
pages/playground.py directly, without app.py's set_page_config and st.navigation. page_setup()
notices that case and hands over to the app's own navigation, which runs this same page once,
properly configured. tests/browser checks a first-load deep link on a fresh server.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent


def _pages() -> list:
    return [
        st.Page(str(ROOT / "pages" / "playground.py"), title="Playground", icon="🎯", default=True,
                url_path="playground"),
    ]


def run_app() -> None:
    """app.py's whole body."""
    st.set_page_config(page_title="gradscape", page_icon=str(ROOT / "assets" / "icon.svg"), layout="wide",
                       initial_sidebar_state="expanded")
    st.navigation(_pages()).run()


def page_setup() -> None:
    """Call at the top of every page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:  # legacy first run: this page was run without app.py
        run_app()  # st.navigation switches the server to explicit pages and runs this page properly
        st.stop()  # the nested run drew the page; do not draw it twice
