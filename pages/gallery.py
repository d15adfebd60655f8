"""Scenes: ready-made comparisons, one click each, each a link to the Playground."""

from __future__ import annotations

import urllib.parse

import streamlit as st

from engine.lessons import measured_text
from scene.config import from_query
from ui.session import presets
from ui.shell import page_setup, playground_link

page_setup()


@st.cache_data(show_spinner=False)
def measured(template: str, query: dict) -> str:
    """The scene's numbers, from its own runs (engine/lessons.py): computed once per server."""
    return measured_text(template, from_query(query)[0])


st.title("Scenes")
st.caption(
    "Each scene opens the Playground with everything set; the link can be copied into slides or notes. "
    "The numbers under each text are measured on the scene's own runs when this page opens."
)
items = presets()
if not items:
    st.warning("No scenes found (assets/presets.json is missing or unreadable).")
cols = st.columns(2)
pending = []  # every card is drawn first, its numbers filled in after: the links work at once
for i, preset in enumerate(items):
    with cols[i % 2].container(border=True):
        st.markdown(f"#### {preset['name']}")
        st.write(preset.get("description", ""))
        if preset.get("measured"):
            slot = st.empty()
            slot.caption("Measuring this scene's runs…")
            pending.append((slot, preset))
        playground_link("Open in the Playground", preset["query"], icon=":material/play_arrow:")
        st.code("?" + urllib.parse.urlencode(preset["query"]), language=None)
for slot, preset in pending:
    slot.caption(measured(preset["measured"], preset["query"]))
