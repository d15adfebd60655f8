"""The lecture keys (figures/keys.js): one script that drives a page's animated Plotly figure from
the keyboard, used by the app (ui/keys.py) and by the static lecture pack (export/pack.py).

Keys: Space play/pause, ← → one frame, Home End first/last step, PageUp PageDown previous/next scene,
R reveal (quiz), ? the list of keys. They act only when the focus is not in a text field.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

KEYS_FILE = Path(__file__).with_name("keys.js")

KEY_TABLE = (
    ("Space", "play / pause"),
    ("← →", "one frame back / forward"),
    ("Home, End", "first / last step"),
    ("Page Up, Page Down", "previous / next scene"),
    ("R", "reveal the paths (quiz)"),
    ("?", "show the keys"),
)


@cache
def keys_script() -> str:
    """The script's text (it defines window.gradscapeKeys; installing it twice is harmless)."""
    return KEYS_FILE.read_text(encoding="utf-8")


def compact_js(text: str) -> str:
    """A script without its comment lines and indentation: a Streamlit component sends its script with
    every rerun (a third of keys.js is comments)."""
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def key_help_markdown() -> str:
    """The keys as a Markdown table (the app's "?")."""
    rows = "\n".join(f"| {key} | {what} |" for key, what in KEY_TABLE)
    return "| key | does |\n| --- | --- |\n" + rows
