"""Scenes: the shipped lectures, a lecturer's own sequence of scenes, and the ready-made comparisons, one
click each, each a link to the Playground. The lecture packs (static HTML, export/pack.py) are built only
when their download button is pressed."""

from __future__ import annotations

import functools
import urllib.parse

import streamlit as st

from engine.lessons import measured_text
from scene.config import from_query
from scene.lectures import MAX_SCENES, LectureError, available_lectures, get_lecture, lecture_json, sequence
from scene.lectures import sequence_param
from scene.presets import slug
from ui.session import presets
from ui.shell import page_setup, playground_link

page_setup()

K = "gal."


@st.cache_data(show_spinner=False)
def measured(template: str, query: dict) -> str:
    """The scene's numbers, from its own runs (engine/lessons.py): computed once per server."""
    return measured_text(template, from_query(query)[0])


def app_link(query: dict) -> str:
    """The whole address of the Playground with `query` (the app's root: this page's address less
    its last part); only the query when the address is unknown."""
    here = (st.context.url or "").split("?", 1)[0].split("#", 1)[0]
    root = here.rsplit("/", 1)[0] + "/" if "://" in here else ""
    return root + "?" + urllib.parse.urlencode(query, safe=",")


def pack_button(lecture, label: str, key: str) -> None:
    """The lecture's static pack as a zip, built by export/pack.py when the button is pressed."""
    from export.pack import pack_zip, zip_folder

    st.download_button(
        label,
        data=functools.partial(pack_zip, lecture),  # deferred: no pack is built when the page loads
        file_name=f"{zip_folder(lecture)}.zip",
        mime="application/zip",
        key=key,
        on_click="ignore",
        icon=":material/folder_zip:",
    )


st.title("Scenes")
st.caption(
    "Each scene opens the Playground with everything set; the link can be copied into slides or notes. "
    "The numbers under each text are measured on the scene's own runs when this page opens."
)

st.header("Lectures", divider="gray")
st.caption(
    "A lecture walks through its scenes in order (Previous / Next, or the keys Page Up / Page Down). Its pack "
    "is a folder of static web pages, one per scene with the animation, an index and one shared copy of plotly.js, "
    "that works offline: open index.html, or upload the zip to any web host or a course platform (Moodle, Canvas). "
    "From the command line: `gradscape pack LECTURE --out FOLDER`."
)
for key in available_lectures():
    with st.container(border=True):
        try:
            lecture = get_lecture(key)
        except LectureError as err:
            st.warning(f"The lecture {key!r} cannot be read: {err}")
            continue
        st.subheader(lecture.title, anchor=False)
        if lecture.description:
            st.write(lecture.description)
        st.caption(f"{len(lecture)} scenes: " + "; ".join(f"{i}. {s.name}" for i, s in enumerate(lecture.scenes, 1)))
        with st.container(horizontal=True):
            playground_link("Open in the Playground", {"lecture": key, "scene": "1"})
            pack_button(lecture, "Download the lecture pack (zip)", f"{K}pack.{key}")

st.header("Your own sequence", divider="gray")
st.caption(
    "Pick scenes in the order you want to show them. The link opens the first one in lecture mode; it carries "
    "the scenes and their order. The lecture file and the pack carry the title too (a lecture file packs from "
    "the command line: `gradscape pack FILE.json --out FOLDER`)."
)
items = presets()
picked = st.multiselect(
    "Scenes, in order",
    [p["name"] for p in items],
    key=f"{K}seq.scenes",
    max_selections=MAX_SCENES,
    placeholder="Choose scenes",
)
title = st.text_input("Title", value="My sequence", max_chars=120, key=f"{K}seq.title")
if picked:
    try:
        own = sequence(picked, title)
    except LectureError as err:
        st.warning(str(err))
    else:
        query = {"seq": sequence_param(own), "scene": "1"}
        st.markdown("**Link** (copy it with the icon):")
        st.code(app_link(query), language=None, wrap_lines=True)
        with st.container(horizontal=True):
            playground_link("Open in the Playground", query)
            st.download_button(
                "Download as a lecture file",
                data=lecture_json(own),
                file_name=f"{slug(own.title)}.json",
                mime="application/json",
                key=f"{K}seq.file",
                on_click="ignore",
                icon=":material/download:",
            )
            pack_button(own, "Download the pack (zip)", f"{K}seq.pack")

st.header("All scenes", divider="gray")
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
