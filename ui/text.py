"""Showing user text safely: Streamlit renders st.warning/st.error/st.markdown text as Markdown,
where user text could become a link, an image, LaTeX or a colour directive. `plain()` escapes every
Markdown-active character so the text shows exactly as typed (HTML is never enabled anywhere)."""

from __future__ import annotations

_ACTIVE = set("\\`*_{}[]()#+-.!|<>~$:=&\"'")


def plain(text: str) -> str:
    escaped = "".join("\\" + c if c in _ACTIVE else c for c in str(text))
    # Markdown also turns bare web addresses into links: a zero-width space breaks the pattern.
    return escaped.replace("\\:/", "\\:\u200b/").replace("www\\.", "www\u200b\\.")
