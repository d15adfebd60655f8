"""Lecture mode on the Playground: where the scene sits in its lecture, predict-then-reveal, and the
projector view (Streamlit's own ?embed=true). The lecture itself is scene/lectures.py; the keys are
ui/keys.py over figures/keys.js.
"""

from __future__ import annotations

import functools
import itertools
import urllib.parse

import streamlit as st

from engine.lessons import measured_text
from scene.config import VIEW_PARAMS, Config, from_query, lecture_of, scene_query, to_query
from scene.lectures import Lecture
from ui import session

P = session.P
_tokens = itertools.count(1)


@st.cache_data(show_spinner=False, max_entries=64)
def measured(template: str, query: dict) -> str:
    """A scene's numbers, from its own runs (engine/lessons.py): computed once per server."""
    return measured_text(template, from_query(query)[0])


def current_lecture(cfg: Config) -> Lecture | None:
    lecture = lecture_of(cfg)
    return lecture if lecture is not None and 1 <= cfg.scene <= len(lecture) else None


def go_to_scene(number: int) -> None:
    """A callback: open scene `number` of the current lecture (its settings; display modes kept)."""
    cfg = session.read_config()
    lecture = current_lecture(cfg)
    if lecture is None or not 1 <= number <= len(lecture):
        return
    st.session_state[P + "ui.url_warnings"] = session.load_preset(scene_query(cfg, number))


def step_scene(delta: int) -> None:
    go_to_scene(int(st.session_state.get(P + "ui.scene", 0)) + delta)


def next_scene() -> None:
    step_scene(1)


def previous_scene() -> None:
    step_scene(-1)


# ---- predict, then reveal ---------------------------------------------------------------------


def _question(cfg: Config) -> str:
    """What a reveal answers: the runs' settings (a new scene or a moved slider asks anew)."""
    return repr(sorted((k, v) for k, v in to_query(cfg).items() if k not in VIEW_PARAMS))


def paths_hidden(cfg: Config) -> bool:
    return bool(cfg.quiz) and st.session_state.get(P + "ui.revealed") != _question(cfg)


def reveal() -> None:
    """A callback (the Reveal button, the key R): show this question's paths and play them."""
    cfg = session.read_config()
    st.session_state[P + "ui.revealed"] = _question(cfg)
    st.session_state[P + "ui.autoplay"] = f"reveal-{next(_tokens)}"


def take_autoplay() -> str:
    """The token of a reveal that has just happened ("" otherwise): the figure carries it in
    layout.meta.autoplay and the keys script plays it from the start once it is drawn."""
    return st.session_state.pop(P + "ui.autoplay", "")


# ---- the same on a lecture page (saddle, ravine): its own toggles, seeded once from ?quiz= ----------


def page_quiz(prefix: str, question: str) -> tuple[bool, bool, str]:
    """A lecture page's predict-then-reveal: the sidebar toggles, and (paths hidden, anonymous,
    the autoplay token of a reveal that has just happened). question: the page's settings that
    the runs depend on (a change asks anew)."""
    s = st.session_state
    if prefix + ".quiz" not in s:  # the page's first run in this session: ?quiz=1 or ?quiz=anon
        raw = st.query_params.get("quiz", "")
        s[prefix + ".quiz"], s[prefix + ".quiz_anon"] = raw in ("1", "true", "on", "anon"), raw == "anon"
    st.sidebar.toggle("Predict, then reveal", key=prefix + ".quiz", help="Hide the paths and the table until Reveal.")
    if s[prefix + ".quiz"]:
        st.sidebar.toggle("Anonymous optimizers", key=prefix + ".quiz_anon", help="Letters until the reveal.")
    s[prefix + ".question"] = question
    hidden = bool(s[prefix + ".quiz"]) and s.get(prefix + ".revealed") != question
    return hidden, bool(s.get(prefix + ".quiz_anon")), s.pop(prefix + ".autoplay", "")


def page_reveal(prefix: str) -> None:
    """A callback: reveal a lecture page's paths and play them."""
    s = st.session_state
    s[prefix + ".revealed"] = s.get(prefix + ".question")
    s[prefix + ".autoplay"] = f"reveal-{next(_tokens)}"


def page_quiz_bar(prefix: str, hidden: bool, autoplay: str, question: str) -> None:
    """Reveal (while hidden) and the keys, under a lecture page's figure; question: what to ask the room."""
    from ui.keys import lecture_keys

    left, mid, right = st.columns([7, 1, 1], vertical_alignment="center")
    if hidden:
        left.caption(f"{question} Reveal (key R) draws the paths and plays them.")
        mid.button("Reveal", icon=":material/visibility:", key=prefix + ".reveal", on_click=page_reveal, args=(prefix,))
    with right:
        actions = {"reveal": functools.partial(page_reveal, prefix)} if hidden else {}
        lecture_keys(prefix + ".keys", actions, autoplay=autoplay)


# ---- what the page shows ------------------------------------------------------------------------


def scene_header(cfg: Config, lecture: Lecture, where=None, hidden: bool = False) -> None:
    """Scene k of n, the lecture's title, Previous/Next and the scene's name (not while an anonymous
    quiz hides the paths: a name like "SGD vs momentum" would give the answer away)."""
    where = where or st
    scene = lecture.scenes[cfg.scene - 1]
    left, prev, nxt = where.columns([4, 1, 1], vertical_alignment="center")
    name = "Which is which?" if hidden and cfg.quiz == "anon" else scene.name
    left.markdown(f"**{name}**  \n{lecture.title} · scene {cfg.scene} of {len(lecture)}")
    prev.button(
        "Previous",
        icon=":material/skip_previous:",
        key=P + "ui.prev_scene",
        disabled=cfg.scene <= 1,
        on_click=step_scene,
        args=(-1,),
        help="Previous scene (Page Up)",
        width="stretch",
    )
    nxt.button(
        "Next",
        icon=":material/skip_next:",
        key=P + "ui.next_scene",
        disabled=cfg.scene >= len(lecture),
        on_click=step_scene,
        args=(1,),
        help="Next scene (Page Down)",
        width="stretch",
    )


def scene_text(cfg: Config, lecture: Lecture, where=None):
    """The scene's description; returns a slot for its measured numbers (filled by fill_measured
    after the figure is drawn: measuring runs the scene again in float64)."""
    where = where or st
    scene = lecture.scenes[cfg.scene - 1]
    if scene.description:
        where.write(scene.description)
    if scene.measured:
        slot = where.empty()
        slot.caption("Measuring this scene's runs…")
        return slot
    return None


def fill_measured(slot, cfg: Config, lecture: Lecture) -> None:
    if slot is not None:
        scene = lecture.scenes[cfg.scene - 1]
        slot.caption(measured(scene.measured, scene.query))


def reveal_button(where=None) -> None:
    (where or st).button(
        "Reveal", icon=":material/visibility:", key=P + "ui.reveal", on_click=reveal, type="primary", help="Key R"
    )


def projector_link(cfg: Config) -> str:
    """This view in the projector layout: Streamlit's embed mode, every setting in the URL."""
    base = (st.context.url or "").split("?", 1)[0]
    return base + "?" + urllib.parse.urlencode({**to_query(cfg), "embed": "true"})


def projector_link_button(cfg: Config, where=None) -> None:
    with (where or st).popover("Copy projector link", icon=":material/present_to_all:"):
        st.caption("This view without the sidebar and the toolbar, for a projector. Copy it with the icon:")
        st.code(projector_link(cfg), language=None, wrap_lines=True)


# The projector view on a 1080p screen: the figure and the bar under it fit without scrolling.
PROJECTOR_HEIGHT = 880
PROJECTOR_CSS = "<style>[data-testid=stMainBlockContainer] {padding-top: 0.5rem;}</style>"  # constant, no user text
PRESENTER_CSS = (
    "<style>[data-testid=stMarkdownContainer] p, [data-testid=stMarkdownContainer] li, "
    "[data-testid=stWidgetLabel] p, [data-testid=stCaptionContainer] {font-size: 1.2rem;} "
    "h1 {font-size: 3rem;}</style>"
)  # a constant stylesheet, no user text
