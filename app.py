"""gradscape: watch optimizers move on 2D loss surfaces. Entry point: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="gradscape", page_icon="assets/icon.svg", layout="wide",
                   initial_sidebar_state="expanded")

# Explicit navigation (st.navigation): the pages/ folder is listed here, not auto-discovered.
PAGES = [
    st.Page("pages/playground.py", title="Playground", icon="🎯", default=True, url_path="playground"),
]
st.navigation(PAGES).run()
