"""The lecture keys in the app: figures/keys.js mounted as a Streamlit component (components v2
runs it in the page itself, where the Plotly figure is), plus a small "?" that lists the keys.

Keys that leave the figure (Page Down, Page Up, R) come back to Python as a trigger value; the
page passes what each one does. Everything that touches the figure stays in figures/keys.js.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from figures.keys import compact_js, key_help_markdown, keys_script

_JS = compact_js(
    keys_script()
    + """
export default function (component) {
  const { setTriggerValue, parentElement } = component;
  const data = Array.isArray(component.data) ? component.data[0] : null;
  const actions = (data && data.actions) || [];
  window.gradscapeKeys.install({
    onKey: actions.length ? (name) => { if (actions.includes(name)) setTriggerValue("key", name); } : null,
    autoplay: data && data.autoplay,
  });
  const button = parentElement.querySelector("button");
  if (button) button.onclick = () => window.gradscapeKeys.toggleHelp();
}
"""
)
_HTML = '<button type="button" title="Keyboard keys" aria-label="Keyboard keys">?</button>'
_CSS = """
button { font: 600 14px sans-serif; width: 1.8rem; height: 1.8rem; border-radius: 50%;
         border: 1px solid #999; background: #fff; color: #333; cursor: pointer; }
"""

_component = st.components.v2.component("gradscape_keys", html=_HTML, css=_CSS, js=_JS)


def lecture_keys(key: str, actions: dict[str, Callable[[], None]] | None = None, autoplay: str = "") -> None:
    """Mount the keys on this page. actions: what "next", "previous" and "reveal" do (callbacks,
    run before the page's script like a widget's on_change); autoplay: a token that plays the
    figure whose layout.meta.autoplay equals it from its first frame."""
    actions = actions or {}

    def on_key() -> None:
        result = st.session_state.get(key)
        name = getattr(result, "key", None) if result is not None else None
        if name is None and isinstance(result, dict):
            name = result.get("key")
        if name in actions:
            actions[name]()

    # data as a list: Streamlit checks each value of a dict for a dataframe, importing pandas (0.4 s) to do so
    _component(data=[{"actions": sorted(actions), "autoplay": autoplay}], key=key, on_key_change=on_key)


def key_help() -> None:
    """The keys as a popover (for pages that want the list in the open as well)."""
    with st.popover("Keys", icon=":material/keyboard:"):
        st.markdown(key_help_markdown())
