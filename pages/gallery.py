"""Scenes: ready-made comparisons, one click each, each a link to the Playground."""

from __future__ import annotations

import urllib.parse

import streamlit as st

from ui.session import presets
from ui.shell import page_setup, playground_link

page_setup()
st.title("Scenes")
st.caption("Each scene opens the Playground with everything set; the link can be copied into slides or notes.")
items = presets()
if not items:
    st.warning("No scenes found (assets/presets.json is missing or unreadable).")
cols = st.columns(2)
for i, preset in enumerate(items):
    with cols[i % 2].container(border=True):
        st.markdown(f"#### {preset['name']}")
        st.write(preset.get("description", ""))
        playground_link("Open in the Playground", preset["query"], icon=":material/play_arrow:")
        st.code("?" + urllib.parse.urlencode(preset["query"]), language=None)
